/*
 * tests/nfs/kclient_tool.c - checks the guest's busybox cannot make, run
 * INSIDE the qemu guest of scripts/kernel-client.sh on the NFS mount (built
 * static, copied in with --add; called by tests/nfs/kclient-smoke.sh):
 *
 *   kclient_tool excl DIR     O_CREAT|O_EXCL create (NFSv4.1+: EXCLUSIVE4_1,
 *                             which also sets the mode), a second one EEXIST
 *   kclient_tool seek DIR V   SEEK_DATA / SEEK_HOLE over a sparse file; with
 *                             V = 4.2 the client asks the server (SEEK), so
 *                             the answers follow what our chunks store
 *   kclient_tool locks DIR    POSIX byte-range locks between two processes
 *                             (two lock owners): conflicts refused, F_GETLK
 *                             names the holder, unlock and close release,
 *                             a blocked F_SETLKW is granted on release
 *
 * Prints "kclient_tool: FAIL <what>" and exits 1 at the first failure.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

static const char *step = "";

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;

	printf("kclient_tool: FAIL [%s] ", step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (errno %d: %s)\n", errno, strerror(errno));
	fflush(stdout);
	exit(1);
}

static void path_in(char *buf, size_t cap, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, cap, "%s/%s", dir, name) >= cap)
		fail("path too long");
}

/* ---- exclusive create -------------------------------------------------- */

static void excl(const char *dir)
{
	char p[4096];
	struct stat st;
	int fd;

	step = "excl";
	umask(0);
	path_in(p, sizeof(p), dir, "excl-file");
	if ((fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0640)) < 0)
		fail("O_EXCL create of %s", p);
	if (write(fd, "x", 1) != 1 || close(fd) != 0)
		fail("write/close");
	errno = 0;
	if (open(p, O_CREAT | O_EXCL | O_WRONLY, 0640) >= 0 || errno != EEXIST)
		fail("second O_EXCL create did not fail with EEXIST");
	if (stat(p, &st) != 0)
		fail("stat");
	if ((st.st_mode & 07777) != 0640)
		fail("mode %o after an exclusive create, want 640", st.st_mode & 07777);
	if (st.st_size != 1)
		fail("size %lld, want 1", (long long)st.st_size);
	/* the verifier the client sent lives in the times until the first
	 * setattr: they must be real times now */
	if (llabs((long long)(st.st_mtime - time(NULL))) > 3600)
		fail("mtime %lld is not the time of the create", (long long)st.st_mtime);
	if (unlink(p) != 0)
		fail("unlink");
	printf("kclient_tool: ok excl\n");
}

/* ---- SEEK_DATA / SEEK_HOLE --------------------------------------------- */

static off_t seek_or_enxio(int fd, off_t off, int whence)
{
	off_t r = lseek(fd, off, whence);

	if (r < 0 && errno != ENXIO)
		fail("lseek(%lld, %s)", (long long)off, whence == SEEK_DATA ? "SEEK_DATA" : "SEEK_HOLE");
	return r;
}

static void expect_seek(int fd, off_t off, int whence, off_t want)
{
	off_t got = seek_or_enxio(fd, off, whence);

	if (got != want)
		fail("lseek(%lld, %s) = %lld, want %lld", (long long)off,
		     whence == SEEK_DATA ? "SEEK_DATA" : "SEEK_HOLE", (long long)got, (long long)want);
}

static void seek(const char *dir, const char *vers)
{
	char p[4096], buf[4096];
	const off_t size = 2 * 1024 * 1024, second = 1024 * 1024;
	int fd;

	step = "seek";
	path_in(p, sizeof(p), dir, "sparse-file");
	memset(buf, 'd', sizeof(buf));
	if ((fd = open(p, O_CREAT | O_TRUNC | O_RDWR, 0644)) < 0)
		fail("create %s", p);
	/* data in chunk 0 and in chunk 16 (1 MiB), the rest holes, 2 MiB long */
	if (pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) ||
	    pwrite(fd, buf, sizeof(buf), second) != (ssize_t)sizeof(buf) || ftruncate(fd, size) != 0 ||
	    fsync(fd) != 0)
		fail("write the sparse file");
	if (!strcmp(vers, "4.2")) {
		/* the server answers: data is what was stored (each written
		 * chunk up to its last written byte), holes the rest */
		const off_t w = sizeof(buf);

		expect_seek(fd, 0, SEEK_DATA, 0);
		expect_seek(fd, 0, SEEK_HOLE, w);
		expect_seek(fd, w, SEEK_DATA, second);
		expect_seek(fd, CHUNK, SEEK_DATA, second);
		expect_seek(fd, second + 100, SEEK_DATA, second + 100);
		expect_seek(fd, second, SEEK_HOLE, second + w);
		expect_seek(fd, second + w, SEEK_DATA, -1); /* ENXIO: no data after */
		expect_seek(fd, second + w, SEEK_HOLE, second + w);
		expect_seek(fd, size, SEEK_DATA, -1);
	} else {
		/* no SEEK before NFSv4.2: the client's generic answer (all data) */
		expect_seek(fd, 0, SEEK_DATA, 0);
		expect_seek(fd, 0, SEEK_HOLE, size);
	}
	if (close(fd) != 0 || unlink(p) != 0)
		fail("close/unlink");
	printf("kclient_tool: ok seek (NFS %s)\n", vers);
}

/* ---- byte-range locks between two processes ----------------------------- */

static int setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	return fcntl(fd, cmd, &fl);
}

static void refused(int fd, short type, off_t start, off_t len, const char *what)
{
	errno = 0;
	if (setlk(fd, F_SETLK, type, start, len) == 0)
		fail("%s granted", what);
	if (errno != EAGAIN && errno != EACCES)
		fail("%s refused with the wrong error", what);
}

/* One byte over a pipe: the two processes take turns. */
static void say(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		fail("pipe write");
}

static void hear(int fd, char want)
{
	char c;

	if (read(fd, &c, 1) != 1 || c != want)
		fail("pipe read (wanted '%c')", want);
}

static void locks(const char *dir)
{
	char p[4096];
	int to_child[2], to_parent[2], fd, status;
	pid_t child;
	struct flock fl;

	step = "locks";
	path_in(p, sizeof(p), dir, "locked-file");
	if ((fd = open(p, O_CREAT | O_TRUNC | O_RDWR, 0644)) < 0 || write(fd, "0123456789", 10) != 10)
		fail("create %s", p);
	if (pipe(to_child) != 0 || pipe(to_parent) != 0)
		fail("pipe");
	if (setlk(fd, F_SETLK, F_WRLCK, 0, 100) != 0)
		fail("parent: write lock [0,100)");
	fflush(stdout);
	if ((child = fork()) < 0)
		fail("fork");
	if (child == 0) {
		int cfd = open(p, O_RDWR);

		step = "locks (child)";
		if (cfd < 0)
			fail("open");
		refused(cfd, F_WRLCK, 50, 100, "overlapping write lock");
		refused(cfd, F_RDLCK, 99, 1, "read lock inside another's write lock");
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = 10;
		fl.l_len = 1;
		if (fcntl(cfd, F_GETLK, &fl) != 0)
			fail("F_GETLK");
		if (fl.l_type != F_WRLCK || fl.l_start != 0 || fl.l_len != 100)
			fail("F_GETLK reported type %d [%lld,+%lld), want the write lock [0,100)",
			     fl.l_type, (long long)fl.l_start, (long long)fl.l_len);
		if (setlk(cfd, F_SETLK, F_WRLCK, 100, 50) != 0)
			fail("adjacent write lock [100,150) refused");
		say(to_parent[1], 'a');
		hear(to_child[0], 'b'); /* the parent unlocked [0,100) */
		if (setlk(cfd, F_SETLK, F_WRLCK, 50, 50) != 0)
			fail("write lock refused after the holder unlocked");
		if (setlk(cfd, F_SETLK, F_UNLCK, 0, 0) != 0)
			fail("unlock");
		say(to_parent[1], 'c');
		hear(to_child[0], 'd'); /* the parent holds [0,10) and will close */
		/* blocks until the parent's close releases the lock */
		if (setlk(cfd, F_SETLKW, F_WRLCK, 0, 10) != 0)
			fail("F_SETLKW after the holder closed");
		if (setlk(cfd, F_SETLK, F_UNLCK, 0, 0) != 0)
			fail("unlock");
		/* read locks share */
		if (setlk(cfd, F_SETLK, F_RDLCK, 0, 10) != 0)
			fail("read lock");
		say(to_parent[1], 'e');
		hear(to_child[0], 'f');
		close(cfd);
		_exit(0);
	}
	hear(to_parent[0], 'a');
	if (setlk(fd, F_SETLK, F_UNLCK, 0, 100) != 0)
		fail("parent: unlock");
	say(to_child[1], 'b');
	hear(to_parent[0], 'c');
	if (setlk(fd, F_SETLK, F_WRLCK, 0, 10) != 0)
		fail("parent: write lock [0,10)");
	say(to_child[1], 'd');
	usleep(300000); /* let the child block in F_SETLKW */
	if (close(fd) != 0)
		fail("parent: close");
	hear(to_parent[0], 'e');
	if ((fd = open(p, O_RDWR)) < 0)
		fail("parent: reopen");
	if (setlk(fd, F_SETLK, F_RDLCK, 5, 10) != 0)
		fail("parent: shared read lock refused");
	refused(fd, F_WRLCK, 0, 10, "write lock over another's read lock");
	say(to_child[1], 'f');
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail("the child failed");
	if (close(fd) != 0 || unlink(p) != 0)
		fail("close/unlink");
	printf("kclient_tool: ok locks\n");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "excl"))
		excl(argv[2]);
	else if (argc == 4 && !strcmp(argv[1], "seek"))
		seek(argv[2], argv[3]);
	else if (argc == 3 && !strcmp(argv[1], "locks"))
		locks(argv[2]);
	else {
		fprintf(stderr, "usage: kclient_tool excl DIR | seek DIR NFS_VERS | locks DIR\n");
		return 2;
	}
	return 0;
}
