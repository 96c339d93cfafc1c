/*
 * s3/store_local.c - the local-directory store, ZeroFS's embedded default.
 *
 * Layout (docs/FORMAT.md, "Local object store"): a key's '/'-separated
 * segments become nested directories. Each segment is percent-encoded
 * (bytes outside [A-Za-z0-9._~-] become %XX; an all-dots segment has its dots
 * encoded; an empty segment is "="), directories get an '@' suffix and
 * object files none, so the keys "a" and "a/b" can coexist ("a" and "a@/b").
 * Names starting with '#' never come out of the encoder and are ours:
 * "#lock" and "#tmp.*" in the root.
 *
 * An object file is a 32-byte header (magic "ZSOB", version, size, MD5 of the
 * bytes) followed by the bytes: a torn or truncated file is detected, and the
 * MD5 is the object's ETag, as S3's.
 *
 * Atomicity: every put writes a temp file, fsyncs it, then link()s it into
 * place (create-only) or rename()s it (others), then fsyncs the directory.
 * Replacing and deleting run under a store-wide lock (a mutex for threads,
 * flock for other processes) so that compare-and-swap is atomic against them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"

#define HDR_SIZE 32
#define HDR_MAGIC "ZSOB"
#define HDR_VERSION 1

struct local_store {
	struct zs3_store base;
	char *root;
	int lock_fd;
	pthread_mutex_t lock;
	atomic_uint_fast64_t tmp_seq;
};

static zs3_status errno_status(int err, const char *what, const char *key)
{
	zs3_status st;
	switch (err) {
	case ENOENT: st = ZS3_ENOTFOUND; break;
	case EACCES: case EPERM: st = ZS3_EAUTH; break;
	case ENOMEM: st = ZS3_ENOMEM; break;
	case EMFILE: case ENFILE: case EINTR: case EAGAIN: st = ZS3_ETRANSIENT; break;
	case ENAMETOOLONG: st = ZS3_EINVAL; break;
	default: st = ZS3_EIO; break;
	}
	return zs3_fail(st, "local store: %s of '%s': %s", what, key, strerror(err));
}

/* ---- key <-> path ---- */

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '~' || c == '-';
}

/* Appends the encoding of seg[0..n) to out at *pos; false if it overflows. */
static bool encode_segment(const char *seg, size_t n, bool is_dir, char *out, size_t cap,
			   size_t *pos)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t start = *pos, dots = 0;
	for (size_t i = 0; i < n; i++)
		dots += seg[i] == '.';
	if (n == 0) {
		if (*pos + 1 >= cap)
			return false;
		out[(*pos)++] = '=';
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)seg[i];
		if (unreserved(c) && !(c == '.' && dots == n)) {
			if (*pos + 1 >= cap)
				return false;
			out[(*pos)++] = (char)c;
		} else {
			if (*pos + 3 >= cap)
				return false;
			out[(*pos)++] = '%';
			out[(*pos)++] = hex[c >> 4];
			out[(*pos)++] = hex[c & 15];
		}
	}
	if (is_dir) {
		if (*pos + 1 >= cap)
			return false;
		out[(*pos)++] = '@';
	}
	if (*pos - start > NAME_MAX)
		return false;
	out[*pos] = '\0';
	return true;
}

/* path = root "/" encoded key; *dir_end = length of the parent directory part. */
static zs3_status key_path(struct local_store *ls, const char *key, char *path, size_t cap,
			   size_t *dir_end)
{
	size_t pos = (size_t)snprintf(path, cap, "%s/", ls->root);
	const char *seg = key;
	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
		if (!slash && dir_end)
			*dir_end = pos - 1;
		if (!encode_segment(seg, n, slash != NULL, path, cap, &pos))
			return zs3_fail(ZS3_EINVAL,
					"local store: key '%.64s...' has a segment too long to store", key);
		if (!slash)
			return ZS3_OK;
		path[pos++] = '/';
		path[pos] = '\0';
		seg = slash + 1;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

/* Decodes a directory entry name (without '@') onto out; false if not ours. */
static bool decode_segment(const char *name, size_t n, char *out, size_t cap, size_t *pos)
{
	if (n == 1 && name[0] == '=')
		return true;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return false;
			hi = hexval(name[i + 1]);
			lo = hexval(name[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (!unreserved((unsigned char)c)) {
			return false;
		}
		if (*pos + 1 >= cap)
			return false;
		out[(*pos)++] = c;
	}
	return true;
}

/* ---- file helpers ---- */

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_at(int fd, void *p, size_t n, off_t off)
{
	char *c = p;
	while (n) {
		ssize_t r = pread(fd, c, n, off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EPIPE; /* shorter than its header says */
			return -1;
		}
		c += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* mkdir -p for the directories of path[0..dir_end), fsyncing each parent
 * that gained an entry so the new directory survives a crash. */
static int make_parents(struct local_store *ls, char *path, size_t dir_end)
{
	size_t root_len = strlen(ls->root);
	for (size_t i = root_len + 1; i <= dir_end; i++) {
		if (path[i] != '/' && i != dir_end)
			continue;
		char saved = path[i];
		path[i] = '\0';
		if (mkdir(path, 0755) == 0) {
			char *slash = strrchr(path, '/');
			*slash = '\0';
			int rc = fsync_dir(path);
			*slash = '/';
			if (rc != 0) {
				path[i] = saved;
				return -1;
			}
		} else if (errno != EEXIST) {
			path[i] = saved;
			return -1;
		}
		path[i] = saved;
	}
	return 0;
}

struct header {
	uint64_t size;
	unsigned char md5[16];
};

static void encode_header(unsigned char h[HDR_SIZE], uint64_t size, const unsigned char md5[16])
{
	memset(h, 0, HDR_SIZE);
	memcpy(h, HDR_MAGIC, 4);
	h[4] = HDR_VERSION;
	for (int i = 0; i < 8; i++)
		h[8 + i] = (unsigned char)(size >> (8 * i));
	memcpy(h + 16, md5, 16);
}

static void md5_to_hex(const unsigned char md5[16], char out[33])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[md5[i] >> 4];
		out[2 * i + 1] = hex[md5[i] & 15];
	}
	out[32] = '\0';
}

/* Reads and validates the header of an open object file. */
static zs3_status read_header(int fd, const char *key, struct header *h, struct zs3_meta *meta)
{
	unsigned char raw[HDR_SIZE];
	struct stat st;
	if (fstat(fd, &st) != 0)
		return errno_status(errno, "stat", key);
	if (st.st_size < HDR_SIZE || read_at(fd, raw, HDR_SIZE, 0) != 0)
		return zs3_fail(ZS3_ECORRUPT, "local store: object '%s' is truncated (%lld bytes)",
				key, (long long)st.st_size);
	if (memcmp(raw, HDR_MAGIC, 4) != 0 || raw[4] != HDR_VERSION)
		return zs3_fail(ZS3_ECORRUPT, "local store: object '%s' has a bad header", key);
	h->size = 0;
	for (int i = 0; i < 8; i++)
		h->size |= (uint64_t)raw[8 + i] << (8 * i);
	memcpy(h->md5, raw + 16, 16);
	if (h->size != (uint64_t)st.st_size - HDR_SIZE)
		return zs3_fail(ZS3_ECORRUPT,
				"local store: object '%s' is torn: header says %llu bytes, file has %llu",
				key, (unsigned long long)h->size,
				(unsigned long long)(st.st_size - HDR_SIZE));
	if (meta) {
		meta->size = h->size;
		md5_to_hex(h->md5, meta->etag);
		meta->mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	}
	return ZS3_OK;
}

static zs3_status lock_store(struct local_store *ls)
{
	pthread_mutex_lock(&ls->lock);
	while (flock(ls->lock_fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int err = errno;
			pthread_mutex_unlock(&ls->lock);
			return errno_status(err, "lock", ls->root);
		}
	}
	return ZS3_OK;
}

static void unlock_store(struct local_store *ls)
{
	flock(ls->lock_fd, LOCK_UN);
	pthread_mutex_unlock(&ls->lock);
}

/* ---- operations ---- */

static zs3_status local_put(struct zs3_store *s, const char *key, const void *data, size_t len,
			    enum zs3_put_cond cond, const char *etag, struct zs3_meta *out)
{
	struct local_store *ls = (struct local_store *)s;
	char path[PATH_MAX], tmp[PATH_MAX];
	unsigned char hdr[HDR_SIZE], md5[16];
	size_t dir_end;
	zs3_status st;
	int fd, err;

	if ((st = key_path(ls, key, path, sizeof(path), &dir_end)))
		goto done;
	zs3_md5_raw(data, len, md5);
	encode_header(hdr, len, md5);
	snprintf(tmp, sizeof(tmp), "%s/#tmp.%d.%llu", ls->root, (int)getpid(),
		 (unsigned long long)atomic_fetch_add(&ls->tmp_seq, 1));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		st = errno_status(errno, "create temp file for", key);
		goto done;
	}
	if (write_all(fd, hdr, HDR_SIZE) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		err = errno;
		close(fd);
		unlink(tmp);
		st = errno_status(err, "write", key);
		goto done;
	}
	close(fd);
	if (make_parents(ls, path, dir_end) != 0) {
		err = errno;
		unlink(tmp);
		st = errno_status(err, "create directories for", key);
		goto done;
	}

	if (cond == ZS3_PUT_IF_ABSENT) {
		/* link() fails if the name exists: create-only without a lock. */
		err = link(tmp, path) == 0 ? 0 : errno;
		unlink(tmp);
		if (err == EEXIST) {
			st = zs3_fail(ZS3_EPRECONDITION, "local store: '%s' already exists", key);
			goto done;
		}
		if (err) {
			st = errno_status(err, "link", key);
			goto done;
		}
	} else {
		if ((st = lock_store(ls))) {
			unlink(tmp);
			goto done;
		}
		if (cond == ZS3_PUT_IF_MATCH) {
			struct header h;
			char cur[33];
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				err = errno;
				unlock_store(ls);
				unlink(tmp);
				st = err == ENOENT ? zs3_fail(ZS3_EPRECONDITION,
							      "local store: '%s' does not exist", key)
						   : errno_status(err, "open", key);
				goto done;
			}
			st = read_header(fd, key, &h, NULL);
			close(fd);
			if (st == ZS3_OK) {
				md5_to_hex(h.md5, cur);
				if (strcmp(cur, etag) != 0)
					st = zs3_fail(ZS3_EPRECONDITION,
						      "local store: '%s' has ETag %s, not %s", key, cur, etag);
			}
			if (st) {
				unlock_store(ls);
				unlink(tmp);
				goto done;
			}
		}
		err = rename(tmp, path) == 0 ? 0 : errno;
		unlock_store(ls);
		if (err) {
			unlink(tmp);
			st = errno_status(err, "rename", key);
			goto done;
		}
	}
	path[dir_end] = '\0';
	if (fsync_dir(path) != 0) {
		st = errno_status(errno, "fsync directory of", key);
		goto done;
	}
	out->size = len;
	md5_to_hex(md5, out->etag);
	out->mtime_ms = 0;
	st = ZS3_OK;
done:
	zs3_count(s, ZS3_OP_PUT, st, st == ZS3_OK ? len : 0, 0);
	return st;
}

static zs3_status local_get(struct zs3_store *s, const char *key, struct zs3_range range,
			    struct zs3_buf *buf, struct zs3_meta *meta)
{
	struct local_store *ls = (struct local_store *)s;
	char path[PATH_MAX];
	struct header h;
	uint64_t off = 0, n;
	zs3_status st;
	int fd = -1;

	if ((st = key_path(ls, key, path, sizeof(path), NULL)))
		goto done;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		st = errno_status(errno, "open", key);
		goto done;
	}
	if ((st = read_header(fd, key, &h, meta)))
		goto done;
	n = h.size;
	if (range.kind == ZS3_RANGE_FROM) {
		if (range.offset >= h.size) {
			st = zs3_fail(ZS3_ERANGE, "local store: offset %llu is past the end of '%s' (%llu bytes)",
				      (unsigned long long)range.offset, key, (unsigned long long)h.size);
			goto done;
		}
		off = range.offset;
		n = h.size - off < range.length ? h.size - off : range.length;
	} else if (range.kind == ZS3_RANGE_SUFFIX) {
		if (h.size == 0) {
			st = zs3_fail(ZS3_ERANGE, "local store: suffix range of empty object '%s'", key);
			goto done;
		}
		n = range.length < h.size ? range.length : h.size;
		off = h.size - n;
	}
	if ((st = zs3_buf_reserve(buf, n ? n : 1)))
		goto done;
	if (n && read_at(fd, buf->data, n, (off_t)(HDR_SIZE + off)) != 0) {
		st = errno == EPIPE ? zs3_fail(ZS3_ECORRUPT, "local store: '%s' shrank while read", key)
				    : errno_status(errno, "read", key);
		goto done;
	}
	buf->len = n;
	if (range.kind == ZS3_RANGE_ALL) {
		unsigned char md5[16];
		zs3_md5_raw(buf->data, n, md5);
		if (memcmp(md5, h.md5, 16) != 0) {
			buf->len = 0;
			st = zs3_fail(ZS3_ECORRUPT, "local store: '%s' fails its MD5 check", key);
			goto done;
		}
	}
done:
	if (fd >= 0)
		close(fd);
	zs3_count(s, ZS3_OP_GET, st, 0, st == ZS3_OK ? buf->len : 0);
	return st;
}

static zs3_status local_head(struct zs3_store *s, const char *key, struct zs3_meta *meta)
{
	struct local_store *ls = (struct local_store *)s;
	char path[PATH_MAX];
	struct header h;
	zs3_status st;
	int fd;

	if ((st = key_path(ls, key, path, sizeof(path), NULL)) == ZS3_OK) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			st = errno_status(errno, "open", key);
		} else {
			st = read_header(fd, key, &h, meta);
			close(fd);
		}
	}
	zs3_count(s, ZS3_OP_HEAD, st, 0, 0);
	return st;
}

static zs3_status local_del(struct zs3_store *s, const char *key)
{
	struct local_store *ls = (struct local_store *)s;
	char path[PATH_MAX];
	size_t dir_end;
	zs3_status st;
	int err;

	if ((st = key_path(ls, key, path, sizeof(path), &dir_end)) == ZS3_OK &&
	    (st = lock_store(ls)) == ZS3_OK) {
		err = unlink(path) == 0 ? 0 : errno;
		unlock_store(ls);
		if (err == 0) {
			path[dir_end] = '\0';
			if (fsync_dir(path) != 0)
				st = errno_status(errno, "fsync directory of", key);
		} else if (err != ENOENT && err != ENOTDIR) {
			st = errno_status(err, "delete", key);
		}
	}
	zs3_count(s, ZS3_OP_DELETE, st, 0, 0);
	return st;
}

/* Listing: walk the directory that the prefix's complete segments name,
 * collect matching keys, sort, and cut one page. */
struct walk {
	const char *prefix;
	size_t prefix_len;
	const char *start_after;
	struct zs3_list all;
	size_t cap;
};

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct zs3_entry *)a)->key, ((const struct zs3_entry *)b)->key);
}

static zs3_status walk_dir(struct walk *w, char *path, size_t path_len, char *key, size_t key_len)
{
	DIR *d = opendir(path);
	struct dirent *de;
	zs3_status st = ZS3_OK;

	if (!d)
		return errno == ENOENT ? ZS3_OK : errno_status(errno, "list", path);
	while (st == ZS3_OK && (de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		size_t n = strlen(name), klen = key_len, plen;
		bool is_dir = n > 0 && name[n - 1] == '@';
		if (name[0] == '#' || name[0] == '\0' || !strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (!decode_segment(name, is_dir ? n - 1 : n, key, PATH_MAX, &klen))
			continue; /* not one of ours */
		key[klen] = '\0';
		plen = path_len + 1 + n;
		if (plen + 1 >= PATH_MAX)
			continue;
		path[path_len] = '/';
		memcpy(path + path_len + 1, name, n + 1);
		if (is_dir) {
			size_t cmp = klen + 1 < w->prefix_len ? klen + 1 : w->prefix_len;
			key[klen] = '/';
			if (memcmp(key, w->prefix, cmp) == 0)
				st = walk_dir(w, path, plen, key, klen + 1);
		} else if (klen >= w->prefix_len && memcmp(key, w->prefix, w->prefix_len) == 0 &&
			   (!w->start_after || strcmp(key, w->start_after) > 0)) {
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			struct header h;
			struct zs3_meta m;
			if (fd < 0)
				continue; /* deleted since readdir */
			if (read_header(fd, key, &h, &m) != ZS3_OK) {
				/* List a damaged object so it can be found and repaired. */
				struct stat sb;
				memset(&m, 0, sizeof(m));
				if (fstat(fd, &sb) == 0)
					m.size = sb.st_size > HDR_SIZE ? (uint64_t)sb.st_size - HDR_SIZE : 0;
			}
			close(fd);
			st = zs3_list_push(&w->all, &w->cap, key, klen, m.size, m.etag, m.mtime_ms);
		}
		path[path_len] = '\0';
	}
	closedir(d);
	return st;
}

static zs3_status local_list(struct zs3_store *s, const char *prefix, const char *start_after,
			     unsigned max_keys, struct zs3_list *out)
{
	struct local_store *ls = (struct local_store *)s;
	struct walk w = { .prefix = prefix, .prefix_len = strlen(prefix), .start_after = start_after };
	char *path = malloc(PATH_MAX), *key = malloc(PATH_MAX);
	const char *last_slash = strrchr(prefix, '/');
	size_t path_len, key_len = 0, i;
	zs3_status st = ZS3_OK;

	if (!path || !key) {
		st = zs3_fail(ZS3_ENOMEM, "out of memory listing");
		goto done;
	}
	if (last_slash) {
		/* Start from the directory of the prefix's complete segments. */
		key_len = (size_t)(last_slash - prefix) + 1;
		memcpy(key, prefix, key_len);
		key[key_len] = '\0';
		/* "a/b/" maps to ".../a@/b@/=": its parent is the directory. */
		size_t dir_end;
		if ((st = key_path(ls, key, path, PATH_MAX, &dir_end)))
			goto done;
		path[dir_end] = '\0';
		path_len = dir_end;
	} else {
		path_len = (size_t)snprintf(path, PATH_MAX, "%s", ls->root);
	}
	if ((st = walk_dir(&w, path, path_len, key, key_len)))
		goto done;
	if (w.all.count > 1)
		qsort(w.all.entries, w.all.count, sizeof(struct zs3_entry), cmp_entry);
	*out = w.all;
	if (out->count > max_keys) {
		for (i = max_keys; i < out->count; i++)
			free(out->entries[i].key);
		out->count = max_keys;
		out->truncated = true;
	}
	w.all.entries = NULL;
	w.all.count = 0;
done:
	zs3_list_free(&w.all);
	free(path);
	free(key);
	zs3_count(s, ZS3_OP_LIST, st, 0, 0);
	return st;
}

static void local_close(struct zs3_store *s)
{
	struct local_store *ls = (struct local_store *)s;
	close(ls->lock_fd);
	pthread_mutex_destroy(&ls->lock);
	free(ls->root);
	free(ls);
}

static const struct zs3_store_ops local_ops = {
	.put = local_put,
	.get = local_get,
	.head = local_head,
	.del = local_del,
	.list = local_list,
	.close = local_close,
};

zs3_status zs3_open_local(const char *dir, bool create, struct zs3_store **out)
{
	struct local_store *ls;
	char lock_path[PATH_MAX];
	struct stat sb;

	*out = NULL;
	if (!dir || !*dir)
		return zs3_fail(ZS3_EINVAL, "local store: no directory given");
	if (strlen(dir) > PATH_MAX / 4)
		return zs3_fail(ZS3_EINVAL, "local store: directory path too long");
	if (create && mkdir(dir, 0755) != 0 && errno != EEXIST)
		return errno_status(errno, "create directory", dir);
	if (stat(dir, &sb) != 0)
		return errno == ENOENT
			       ? zs3_fail(ZS3_ENOBUCKET, "local store: directory '%s' does not exist", dir)
			       : errno_status(errno, "stat", dir);
	if (!S_ISDIR(sb.st_mode))
		return zs3_fail(ZS3_EINVAL, "local store: '%s' is not a directory", dir);

	ls = calloc(1, sizeof(*ls));
	if (!ls || !(ls->root = realpath(dir, NULL))) {
		free(ls);
		return zs3_fail(ZS3_ENOMEM, "local store: out of memory");
	}
	snprintf(lock_path, sizeof(lock_path), "%s/#lock", ls->root);
	ls->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (ls->lock_fd < 0) {
		zs3_status st = errno_status(errno, "open lock file in", dir);
		free(ls->root);
		free(ls);
		return st;
	}
	pthread_mutex_init(&ls->lock, NULL);
	zs3_store_init(&ls->base, &local_ops, NULL);
	snprintf(ls->base.desc, sizeof(ls->base.desc), "local directory %s", ls->root);
	*out = &ls->base;
	return ZS3_OK;
}
