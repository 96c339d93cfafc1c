/*
 * tests/fs/test_fs_fixture.c - a filesystem written by an old version of the
 * code must open and read, byte for byte, with today's.
 *
 *   test_fs_fixture make DIR    writes a fixture store into DIR (new or empty)
 *   test_fs_fixture check DIR   checks the fixture store in DIR
 *
 * One table (gen_ops) describes what the fixture holds: the operations that
 * made it, in order. `make` runs them against the filesystem core (on a local
 * store, with a tiny memtable and no background threads, so that some of it
 * lands in compacted runs, some in L0 SSTs, some pinned by a checkpoint and
 * some only in WAL objects, across a fence) and against an in-memory model
 * of what POSIX says they leave. `check` rebuilds the model from the same
 * table, so what it expects is derived, never stored, and compares the store
 * with it: every directory listing (names, types, cookies, in order), every
 * attribute the table sets, every byte of every file (holes included), the
 * data extents, symlink targets, hard links, the totals, and the core's check
 * (fs_check.h). It does that read-only, at the checkpoint, as the writer, then
 * after writing to old files through today's code (later_ops) and reopening.
 *
 * File contents are a function of (tag, offset): the tag is the file's name,
 * or names the write that overwrote those bytes. The committed fixture
 * (tests/fs/fixtures/store-v1, README.md there) is never regenerated: it
 * stands for every store format 1 wrote. `check` works on a copy, since
 * opening a store as its writer writes to it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "fs_check.h"
#include "lsm.h"
#include "store_env.h"
#include "testlib.h"

/* Format 1's sizes, as the fixture was written with them: the description
 * and the model must not move if the headers do. */
#define C 65536u          /* chunk size */
#define NAME_MAX1 255u    /* longest name */
#define TARGET_MAX1 4095u /* longest symlink target */
#define MIB (UINT64_C(1) << 20)

/* ---- contents: a function of (tag, offset) ---- */

enum style {
	TEXT,  /* 32-byte lines naming the tag and the offset: zstd compresses them */
	NOISE, /* pseudo-random bytes: stored blocks that do not compress */
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3u;
	return h;
}

static uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15u;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* The bytes [off, off + len) of content (tag, style). */
static void fill(uint8_t *dst, const char *tag, enum style style, uint64_t off, size_t len)
{
	uint64_t h = fnv1a(tag), line = UINT64_MAX;
	char text[64]; /* 32 bytes a line: 11 hex digits of offset suffice below 2^44 */

	for (size_t i = 0; i < len; i++) {
		uint64_t o = off + i;
		if (style == NOISE) {
			dst[i] = (uint8_t)(mix64(h + (o >> 3) * 0x9e3779b97f4a7c15u) >>
					   (8 * (o & 7)));
			continue;
		}
		if (o >> 5 != line) {
			line = o >> 5;
			snprintf(text, sizeof(text), "%-10.10s %08" PRIx32 " %011" PRIx64 "\n", tag,
				 (uint32_t)h, (line << 5) & ((UINT64_C(1) << 44) - 1));
		}
		dst[i] = (uint8_t)text[o & 31];
	}
}

/* ---- the description: what the fixture holds, as the operations that made it ---- */

enum opk {
	/* filesystem operations (model and store) */
	OP_MKDIR,
	OP_CREATE,        /* a regular file; with .times, atime and mtime given at create */
	OP_MKNOD,         /* .type, .major, .minor */
	OP_SYMLINK,       /* .arg: the target */
	OP_WRITE,         /* .off, .len, .arg: the content's tag, .style */
	OP_RANDOM_WRITES, /* .len writes from seed .off (random_write) */
	OP_TRUNCATE,      /* to .off */
	OP_LINK,          /* .arg: the new name */
	OP_RENAME,        /* to .arg (replacing what is there) */
	OP_REMOVE,
	OP_CHMOD,
	OP_CHOWN,
	OP_UTIMES, /* .atime, .mtime */
	/* store operations (no change to the model) */
	OP_MAINTAIN,   /* lsm_maintain: WAL upload, memtable flush, compaction when due */
	OP_COMPACT,    /* lsm_compact_all: everything into one sorted run */
	OP_CHECKPOINT, /* .arg: the name; the model as it is here is what it pins */
	OP_GC,         /* lsm_gc: drops the objects no manifest needs */
	OP_WAL_ONLY,   /* from here on no lsm_maintain: what follows stays in WAL objects */
	OP_COMMIT,     /* zfs_commit: what was written so far is one more WAL object */
	OP_REOPEN,     /* close and reopen as the writer: a fence in the log */
};

struct op {
	enum opk k;
	const char *path, *arg;
	uint64_t off, len;
	enum style style;
	uint32_t mode, uid, gid;
	enum zfs_type type;
	uint32_t major, minor;
	bool times;
	struct zfs_time atime, mtime;
};

// clang-format off
#define MKDIR(p, m, u, g) { .k = OP_MKDIR, .path = (p), .mode = (m), .uid = (u), .gid = (g) }
#define CREATE(p, m, u, g) { .k = OP_CREATE, .path = (p), .mode = (m), .uid = (u), .gid = (g) }
#define CREATE_T(p, m, as, an, ms, mn)                                                         \
	{ .k = OP_CREATE, .path = (p), .mode = (m), .times = true, .atime = { (as), (an) },     \
	  .mtime = { (ms), (mn) } }
#define MKNOD(p, t, m, ma, mi)                                                                 \
	{ .k = OP_MKNOD, .path = (p), .type = (t), .mode = (m), .major = (ma), .minor = (mi) }
#define SYMLINK(p, t) { .k = OP_SYMLINK, .path = (p), .arg = (t) }
#define WRITE(p, o, n, tag, s)                                                                 \
	{ .k = OP_WRITE, .path = (p), .off = (o), .len = (n), .arg = (tag), .style = (s) }
#define RANDOM_WRITES(p, n, seed) { .k = OP_RANDOM_WRITES, .path = (p), .len = (n), .off = (seed) }
#define TRUNCATE(p, n) { .k = OP_TRUNCATE, .path = (p), .off = (n) }
#define LINK(p, to) { .k = OP_LINK, .path = (p), .arg = (to) }
#define RENAME(p, to) { .k = OP_RENAME, .path = (p), .arg = (to) }
#define REMOVE(p) { .k = OP_REMOVE, .path = (p) }
#define CHMOD(p, m) { .k = OP_CHMOD, .path = (p), .mode = (m) }
#define CHOWN(p, u, g) { .k = OP_CHOWN, .path = (p), .uid = (u), .gid = (g) }
#define UTIMES(p, as, an, ms, mn)                                                              \
	{ .k = OP_UTIMES, .path = (p), .atime = { (as), (an) }, .mtime = { (ms), (mn) } }
#define STORE(kind) { .k = (kind) }
#define CHECKPOINT(name) { .k = OP_CHECKPOINT, .arg = (name) }
/* a file of c/ with its contents */
#define CFILE(n, size) CREATE("/c/f" #n, 0644, 0, 0), WRITE("/c/f" #n, 0, (size), "c/f" #n, TEXT)

/* "/c/ünïcödé ☃" in UTF-8 */
#define UNICODE_PATH "/c/\xc3\xbc" "n\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9" " \xe2\x98\x83"
#define CHECKPOINT_NAME "phase-a"
#define SPARSE_FAR (5 * MIB + 10)
// clang-format on

/* filled in by init_names(): a 255-byte name and a 4095-byte target */
static char long_path[3 + NAME_MAX1 + 1];
static char long_target[TARGET_MAX1 + 1];

static void init_names(void)
{
	memcpy(long_path, "/c/", 3);
	for (unsigned i = 0; i < NAME_MAX1; i++)
		long_path[3 + i] = "long-name_0123456789"[i % 20];
	long_path[3 + NAME_MAX1] = '\0';
	for (unsigned i = 0; i < TARGET_MAX1; i++)
		long_target[i] = i % 10 == 9 ? '/' : (char)('a' + i % 26);
	long_target[TARGET_MAX1] = '\0';
}

/* The fixture, as made: never change this table (nor what it calls: fill,
 * random_write), since `check` derives from it what the committed store
 * must hold. */
// clang-format off
static const struct op gen_ops[] = {
	/* phase A: the namespace and small files, pinned by a checkpoint */
	MKDIR("/a", 0755, 0, 0),
	MKDIR("/a/b", 0750, 1000, 1000),
	MKDIR("/a/b/deep", 0700, 1000, 1000),
	MKDIR("/c", 0755, 0, 0),
	CREATE("/empty", 0644, 0, 0),
	CREATE("/hundred", 0644, 1000, 100),
	WRITE("/hundred", 0, 100, "hundred", NOISE),
	CREATE("/seventy", 0644, 1000, 100),
	WRITE("/seventy", 0, 70000, "seventy", NOISE), /* a partial second chunk */
	SYMLINK("/link-to-mib", "mib"),
	SYMLINK("/a/b/up", "../../c/f03"),
	SYMLINK("/a/long-link", long_target),
	MKNOD("/dev-null", ZFS_CHR, 0666, 1, 3),
	MKNOD("/disk", ZFS_BLK, 0660, 8, 1),
	MKNOD("/a/fifo", ZFS_FIFO, 0600, 0, 0),
	MKNOD("/a/sock", ZFS_SOCK, 0755, 0, 0),
	MKDIR("/a/gone", 0755, 0, 0),
	CREATE("/a/x", 0640, 7, 8),
	WRITE("/a/x", 0, 1234, "a/x", TEXT),
	CFILE(00, 0), CFILE(01, 1), CFILE(02, 517), CFILE(03, 1000), CFILE(04, 4096),
	CFILE(05, 4097), CFILE(06, 9999), CFILE(07, 12345), CFILE(08, 20000), CFILE(09, 30001),
	CFILE(10, 40000), CFILE(11, 50000), CFILE(12, 65535), CFILE(13, 65536),
	CFILE(14, 65537), CFILE(15, 80000),
	MKDIR("/c/sub1", 0755, 0, 0),
	MKDIR("/c/sub2", 0711, 5, 6),
	CREATE("/c/sub2/inner", 0644, 5, 6),
	WRITE("/c/sub2/inner", 0, 333, "c/sub2/inner", TEXT),
	CREATE("/c/name with spaces", 0644, 0, 0),
	WRITE("/c/name with spaces", 0, 333, "spaces", TEXT),
	CREATE(UNICODE_PATH, 0644, 0, 0),
	WRITE(UNICODE_PATH, 0, 10, "unicode", NOISE),
	CREATE(long_path, 0644, 0, 0),
	CREATE("/c/old-name", 0644, 0, 0),
	WRITE("/c/old-name", 0, 7000, "old-name", TEXT),
	CREATE("/c/victim", 0644, 0, 0),
	WRITE("/c/victim", 0, 3000, "victim", TEXT),
	CREATE_T("/c/verifier", 0600, 0x12345678, 0x9abcdef, 0x7edcba98, 0x1234567),
	LINK("/hundred", "/a/hard"),
	STORE(OP_MAINTAIN),
	CHECKPOINT(CHECKPOINT_NAME),

	/* phase B: large files, flushed into L0 SSTs, compacted when due */
	CREATE("/mib", 0644, 0, 0),
	WRITE("/mib", 0, MIB, "mib", TEXT),
	CREATE("/sparse", 0644, 0, 0),
	WRITE("/sparse", 0, 1, "sparse", TEXT),
	WRITE("/sparse", SPARSE_FAR, 1, "sparse", TEXT),
	CREATE("/rewritten", 0644, 0, 0),
	WRITE("/rewritten", 0, 256 * 1024, "rewritten", TEXT),
	CREATE("/doomed", 0644, 0, 0),
	WRITE("/doomed", 0, 200000, "doomed", TEXT),
	CREATE("/shrunk", 0644, 0, 0),
	WRITE("/shrunk", 0, 100000, "shrunk", TEXT),
	STORE(OP_COMPACT),

	/* phase C: changes to what is in SSTs, then one sorted run */
	RANDOM_WRITES("/rewritten", 200, 0x5eed2024),
	WRITE("/rewritten", 5 * C + 4464, 1000, "rw-gap", TEXT), /* past the end, a gap */
	TRUNCATE("/shrunk", 30000),
	TRUNCATE("/shrunk", 200000),
	WRITE("/shrunk", 150000, 10, "shrunk-2", TEXT),
	REMOVE("/doomed"),
	REMOVE("/c/f07"),
	RENAME("/c/old-name", "/a/b/renamed"),
	RENAME("/c/f12", "/c/victim"), /* replaces it */
	RENAME("/c/sub1", "/a/b/deep/sub1-moved"), /* a directory: its ".." moves */
	REMOVE("/a/gone"),
	CHMOD("/hundred", 0600),
	CHMOD("/c", 01777),
	CHMOD("/c/f01", 04755),
	CHOWN("/seventy", 1234, 5678),
	CHOWN("/a", 4000000000u, 4000000001u),
	UTIMES("/a/b/renamed", -1000000, 999999999, -86400 * 365, 5),
	STORE(OP_COMPACT),
	/* four L0 SSTs (each write fills the 64 KiB memtable) compacted into a
	 * second, newer run (too small to merge with the first) */
	WRITE("/mib", 600000, 70000, "mib-2", TEXT),
	WRITE("/c/f15", 10000, 65536, "c/f15-2", TEXT),
	WRITE("/mib", 800000, 70000, "mib-3", TEXT),
	WRITE("/rewritten", 0, 70000, "rw-late", TEXT),
	/* then L0 SSTs over the runs */
	WRITE("/mib", 900000, 70000, "mib-4", TEXT),
	WRITE("/c/f13", 0, 30000, "c/f13-2", NOISE),
	STORE(OP_GC),

	/* phase D: only in WAL objects, before and after a fence */
	STORE(OP_WAL_ONLY),
	WRITE("/mib", 300000, 5000, "mib-tail", TEXT),
	UTIMES("/mib", 1600000000, 1, 1700000000, 123456789),
	CREATE("/c/late", 0644, 0, 0),
	WRITE("/c/late", 0, 3000, "c/late", TEXT),
	STORE(OP_COMMIT),
	RENAME("/a/x", "/a/y"),
	REMOVE("/c/f11"),
	STORE(OP_REOPEN),
	CHMOD("/seventy", 0640),
	UTIMES("/empty", 5000000000, 0, 5000000000, 0),
	MKDIR("/a/b/late-dir", 0755, 0, 0),
	UTIMES("/a/b", 1, 2, 3, 4),
	TRUNCATE("/c/f14", 65536 + 100),
	WRITE("/c/f13", 65536, 20, "c/f13-tail", NOISE),
};

/* What `check` does to the old store with today's code: may grow. */
static const struct op later_ops[] = {
	WRITE("/mib", 3 * C + 100, 5000, "v2-overwrite", TEXT), /* inside an old chunk */
	WRITE("/seventy", 70000, 100000, "v2-append", NOISE),   /* an append to an old tail */
	WRITE("/sparse", 2 * MIB + 7, 3, "v2-in-hole", TEXT),
	CREATE("/c/v2-new", 0644, 42, 43),
	WRITE("/c/v2-new", 0, 150000, "v2-new", TEXT),
	MKDIR("/a/v2-dir", 0755, 0, 0),
	RENAME("/c/f06", "/a/v2-dir/f06-moved"),
	REMOVE("/c/f05"),
	REMOVE("/a/hard"),
	TRUNCATE("/rewritten", 100000),
	UTIMES("/c/v2-new", 11, 12, 13, 14),
};
// clang-format on

#define N_OPS(a) (sizeof(a) / sizeof((a)[0]))

/* One write of OP_RANDOM_WRITES: 4 KiB aligned ones, odd-sized ones at odd
 * offsets (some across chunk boundaries, some past the end), a few tiny. */
struct write_desc {
	uint64_t off, len;
	enum style style;
	char tag[24];
};

static void random_write(const struct op *o, unsigned k, struct write_desc *w)
{
	uint64_t s = o->off + k * UINT64_C(0x10001);
	uint64_t r1 = mix64(s), r2 = mix64(s ^ UINT64_C(0xa5a5a5a5a5a5a5a5));

	switch (k % 3) {
	case 0:
		w->off = (r1 % 64) * 4096;
		w->len = 4096;
		break;
	case 1:
		w->off = r1 % (256 * 1024 + 8192);
		w->len = 1 + r2 % 9000;
		break;
	default:
		w->off = r1 % (256 * 1024);
		w->len = 1 + r2 % 17;
		break;
	}
	w->style = k % 5 == 0 ? NOISE : TEXT;
	snprintf(w->tag, sizeof(w->tag), "rw#%u", k);
}

/* ---- the model: what the operations leave, by POSIX and the core's rules ---- */

struct mentry {
	char *name;
	size_t node;
	uint64_t cookie;
};

struct mnode {
	bool live;
	enum zfs_type type;
	uint32_t mode, uid, gid, major, minor;
	char *target;
	/* regular files: bytes [0, size) in data (zero past size), which of
	 * them are stored (st, one flag per byte) as fs_data.c keeps them, and
	 * which chunks are format 1 records (leg) */
	uint8_t *data, *st;
	uint64_t size, cap;
	bool *leg;
	size_t nchunks;
	/* times set explicitly and not changed since */
	bool has_atime, has_mtime;
	struct zfs_time atime, mtime;
	/* directories */
	struct mentry *ents;
	size_t nents, ents_cap;
	uint64_t next_cookie;
	size_t parent;
};

struct model {
	struct mnode *n;
	size_t count;
};

static int model_fail(const struct op *o, const char *why)
{
	fprintf(stderr, "model: op %d on %s: %s\n", (int)o->k, o->path ? o->path : "-", why);
	return -1;
}

static size_t model_new(struct model *m, enum zfs_type type)
{
	m->n = realloc(m->n, (m->count + 1) * sizeof(*m->n));
	if (!m->n)
		abort();
	memset(&m->n[m->count], 0, sizeof(*m->n));
	m->n[m->count].live = true;
	m->n[m->count].type = type;
	m->n[m->count].next_cookie = 3; /* NFS reserves 0-2 */
	return m->count++;
}

static void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	size_t r = model_new(m, ZFS_DIR);
	m->n[r].mode = 0755;
	m->n[r].parent = r;
}

static void model_free(struct model *m)
{
	for (size_t i = 0; i < m->count; i++) {
		struct mnode *n = &m->n[i];
		for (size_t j = 0; j < n->nents; j++)
			free(n->ents[j].name);
		free(n->ents);
		free(n->data);
		free(n->st);
		free(n->leg);
		free(n->target);
	}
	free(m->n);
	memset(m, 0, sizeof(*m));
}

static struct mentry *model_entry(struct model *m, size_t dir, const char *name)
{
	struct mnode *d = &m->n[dir];
	for (size_t i = 0; i < d->nents; i++)
		if (!strcmp(d->ents[i].name, name))
			return &d->ents[i];
	return NULL;
}

/* The directory holding path's last component, and that component. */
static bool model_parent(struct model *m, const char *path, size_t *dir, const char **leaf)
{
	char part[NAME_MAX1 + 1];
	const char *p = path;
	size_t cur = 0;

	if (*p != '/')
		return false;
	for (;;) {
		p++;
		const char *slash = strchr(p, '/');
		if (!slash) {
			*dir = cur;
			*leaf = p;
			return *p != '\0';
		}
		size_t n = (size_t)(slash - p);
		if (n == 0 || n > NAME_MAX1)
			return false;
		memcpy(part, p, n);
		part[n] = '\0';
		struct mentry *e = model_entry(m, cur, part);
		if (!e || m->n[e->node].type != ZFS_DIR)
			return false;
		cur = e->node;
		p = slash;
	}
}

static bool model_lookup(struct model *m, const char *path, size_t *node)
{
	size_t dir;
	const char *leaf;
	struct mentry *e;
	if (!model_parent(m, path, &dir, &leaf) || !(e = model_entry(m, dir, leaf)))
		return false;
	*node = e->node;
	return true;
}

static void model_add_entry(struct model *m, size_t dir, const char *name, size_t node)
{
	struct mnode *d = &m->n[dir];
	if (d->nents == d->ents_cap) {
		d->ents_cap = d->ents_cap ? 2 * d->ents_cap : 8;
		d->ents = realloc(d->ents, d->ents_cap * sizeof(*d->ents));
		if (!d->ents)
			abort();
	}
	d->ents[d->nents++] = (struct mentry){ strdup(name), node, d->next_cookie++ };
	d->has_mtime = false;
	if (m->n[node].type == ZFS_DIR)
		m->n[node].parent = dir;
}

static size_t model_links(const struct model *m, size_t node);

static void model_del_entry(struct model *m, size_t dir, const char *name)
{
	struct mnode *d = &m->n[dir];
	for (size_t i = 0; i < d->nents; i++)
		if (!strcmp(d->ents[i].name, name)) {
			size_t node = d->ents[i].node;
			free(d->ents[i].name);
			memmove(&d->ents[i], &d->ents[i + 1],
				(d->nents - i - 1) * sizeof(*d->ents));
			d->nents--;
			d->has_mtime = false;
			if (model_links(m, node) == 0)
				m->n[node].live = false;
			return;
		}
}

/* Entries naming node; for a directory, its nlink is 2 + its subdirectories. */
static size_t model_links(const struct model *m, size_t node)
{
	size_t n = 0;
	for (size_t i = 0; i < m->count; i++)
		if (m->n[i].live && m->n[i].type == ZFS_DIR)
			for (size_t j = 0; j < m->n[i].nents; j++)
				n += m->n[i].ents[j].node == node;
	return n;
}

static uint32_t model_nlink(const struct model *m, size_t node)
{
	const struct mnode *n = &m->n[node];
	if (n->type != ZFS_DIR)
		return (uint32_t)model_links(m, node);
	uint32_t subdirs = 0;
	for (size_t j = 0; j < n->nents; j++)
		subdirs += m->n[n->ents[j].node].type == ZFS_DIR;
	return 2 + subdirs;
}

/* Writes by the code that made the fixture (format 1: a chunk stores the
 * bytes from its start to the last one written) until `check` applies its
 * own (format 2: a write stores its bytes; the first write to a format 1
 * chunk stores it from its start to the end of both). */
static bool model_v2;

static uint64_t model_used(const struct mnode *n)
{
	uint64_t used = 0;
	for (uint64_t i = 0; i < n->cap; i++)
		used += n->st[i];
	return used;
}

static bool model_chunk_stored(const struct mnode *n, size_t idx)
{
	for (uint64_t i = (uint64_t)idx * C; i < (uint64_t)(idx + 1) * C && i < n->cap; i++)
		if (n->st[i])
			return true;
	return false;
}

static void model_reserve(struct mnode *n, uint64_t size)
{
	if (size > n->cap) {
		uint64_t cap = n->cap ? n->cap : 4096;
		while (cap < size)
			cap *= 2;
		n->data = realloc(n->data, cap);
		n->st = realloc(n->st, cap);
		if (!n->data || !n->st)
			abort();
		memset(n->data + n->cap, 0, cap - n->cap);
		memset(n->st + n->cap, 0, cap - n->cap);
		n->cap = cap;
	}
	size_t chunks = (size_t)((size + C - 1) / C);
	if (chunks > n->nchunks) {
		n->leg = realloc(n->leg, chunks * sizeof(*n->leg));
		if (!n->leg)
			abort();
		memset(n->leg + n->nchunks, 0, (chunks - n->nchunks) * sizeof(*n->leg));
		n->nchunks = chunks;
	}
}

static void model_write(struct mnode *n, uint64_t off, uint64_t len, const char *tag,
			enum style style)
{
	model_reserve(n, off + len);
	fill(n->data + off, tag, style, off, len);
	for (uint64_t pos = off; pos < off + len;) {
		uint64_t idx = pos / C, at = pos % C, k = C - at;
		if (k > off + len - pos)
			k = off + len - pos;
		uint64_t from = pos; /* format 2: the bytes written */
		if (!model_v2 || n->leg[idx]) {
			from = idx * C; /* format 1, or a format 1 chunk's first write */
			for (uint64_t i = idx * C + at + k; i < (idx + 1) * C && i < n->cap; i++)
				if (n->st[i])
					memset(n->st + idx * C + at + k, 1, i + 1 - (idx * C + at + k));
			n->leg[idx] = !model_v2;
		}
		memset(n->st + from, 1, pos + k - from);
		pos += k;
	}
	if (off + len > n->size)
		n->size = off + len;
	n->has_mtime = false;
}

static void model_truncate(struct mnode *n, uint64_t size)
{
	if (size == n->size)
		return; /* no change, times included */
	if (size < n->size) {
		memset(n->data + size, 0, n->size - size);
		memset(n->st + size, 0, n->cap - size);
		uint64_t keep = (size + C - 1) / C;
		for (size_t i = keep; i < n->nchunks; i++)
			n->leg[i] = false;
		if (model_v2 && size % C && n->leg[size / C] &&
		    model_chunk_stored(n, (size_t)(size / C)))
			n->leg[size / C] = false; /* the cut format 1 chunk becomes a map */
	} else {
		model_reserve(n, size);
	}
	n->size = size;
	n->has_mtime = false;
}

static int model_apply(struct model *m, const struct op *o)
{
	size_t dir, node;
	const char *leaf;
	struct mnode *n;

	switch (o->k) {
	case OP_MKDIR:
	case OP_CREATE:
	case OP_MKNOD:
	case OP_SYMLINK: {
		if (!model_parent(m, o->path, &dir, &leaf) || model_entry(m, dir, leaf))
			return model_fail(o, "no such directory, or the name exists");
		enum zfs_type t = o->k == OP_MKDIR     ? ZFS_DIR
				  : o->k == OP_CREATE  ? ZFS_REG
				  : o->k == OP_SYMLINK ? ZFS_LNK
						       : o->type;
		node = model_new(m, t);
		n = &m->n[node];
		n->mode = o->k == OP_SYMLINK ? 0777 : o->mode;
		n->uid = o->uid;
		n->gid = o->gid;
		n->major = o->major;
		n->minor = o->minor;
		if (o->k == OP_SYMLINK) {
			n->target = strdup(o->arg);
			n->size = strlen(o->arg);
		}
		if (o->times) {
			n->has_atime = n->has_mtime = true;
			n->atime = o->atime;
			n->mtime = o->mtime;
		}
		model_add_entry(m, dir, leaf, node);
		return 0;
	}
	case OP_LINK: {
		size_t ddir;
		const char *dleaf;
		if (!model_lookup(m, o->path, &node) || m->n[node].type == ZFS_DIR ||
		    !model_parent(m, o->arg, &ddir, &dleaf) || model_entry(m, ddir, dleaf))
			return model_fail(o, "cannot link");
		model_add_entry(m, ddir, dleaf, node);
		return 0;
	}
	case OP_RENAME: {
		size_t ddir;
		const char *dleaf;
		struct mentry *old;
		if (!model_parent(m, o->path, &dir, &leaf) || !model_lookup(m, o->path, &node) ||
		    !model_parent(m, o->arg, &ddir, &dleaf))
			return model_fail(o, "cannot rename");
		if ((old = model_entry(m, ddir, dleaf))) {
			if (m->n[old->node].type == ZFS_DIR || m->n[node].type == ZFS_DIR)
				return model_fail(o, "the model renames over files only");
		}
		/* as zfs_rename: the source entry goes, then the target's, and
		 * the name comes back under the target directory's next cookie */
		m->n[node].live = true;
		struct mentry *se = model_entry(m, dir, leaf);
		free(se->name);
		memmove(se, se + 1,
			(size_t)(&m->n[dir].ents[m->n[dir].nents] - (se + 1)) * sizeof(*se));
		m->n[dir].nents--;
		m->n[dir].has_mtime = false;
		if (old)
			model_del_entry(m, ddir, dleaf);
		model_add_entry(m, ddir, dleaf, node);
		return 0;
	}
	case OP_REMOVE:
		if (!model_parent(m, o->path, &dir, &leaf) || !model_lookup(m, o->path, &node) ||
		    (m->n[node].type == ZFS_DIR && m->n[node].nents))
			return model_fail(o, "cannot remove");
		model_del_entry(m, dir, leaf);
		return 0;
	default: break;
	}
	if (o->k >= OP_MAINTAIN)
		return 0;
	if (!model_lookup(m, o->path, &node))
		return model_fail(o, "no such file");
	n = &m->n[node];
	switch (o->k) {
	case OP_WRITE: model_write(n, o->off, o->len, o->arg, o->style); break;
	case OP_RANDOM_WRITES:
		for (unsigned k = 0; k < o->len; k++) {
			struct write_desc w;
			random_write(o, k, &w);
			model_write(n, w.off, w.len, w.tag, w.style);
		}
		break;
	case OP_TRUNCATE: model_truncate(n, o->off); break;
	case OP_CHMOD: n->mode = o->mode; break;
	case OP_CHOWN:
		n->uid = o->uid;
		n->gid = o->gid;
		break;
	case OP_UTIMES:
		n->has_atime = n->has_mtime = true;
		n->atime = o->atime;
		n->mtime = o->mtime;
		break;
	default: return model_fail(o, "unknown operation");
	}
	if (n->type != ZFS_REG &&
	    (o->k == OP_WRITE || o->k == OP_RANDOM_WRITES || o->k == OP_TRUNCATE))
		return model_fail(o, "not a regular file");
	return 0;
}

/* The model of gen_ops (up to the checkpoint named stop, if not NULL), then
 * of later_ops[0, n_later). */
static void model_build(struct model *m, const char *stop, size_t n_later)
{
	model_init(m);
	model_v2 = false;
	for (size_t i = 0; i < N_OPS(gen_ops); i++) {
		if (stop && gen_ops[i].k == OP_CHECKPOINT && !strcmp(gen_ops[i].arg, stop))
			return;
		if (model_apply(m, &gen_ops[i]))
			abort(); /* the table contradicts itself */
	}
	model_v2 = true; /* today's code writes format 2 */
	for (size_t i = 0; i < n_later; i++)
		if (model_apply(m, &later_ops[i]))
			abort();
}

/* ---- the store ---- */

struct live {
	char *dir;
	struct zs3_store *store;
	struct lsm_db *db;
	struct zfs *fs;
	struct lsm_options lo;
	bool maintain; /* lsm_maintain after every change (make, before OP_WAL_ONLY) */
};

static int live_open(struct live *l, bool read_only, const char *checkpoint)
{
	lsm_status st;
	int e;

	l->lo.store = l->store;
	l->lo.read_only = read_only;
	l->lo.checkpoint = checkpoint;
	if ((st = lsm_open(&l->lo, &l->db))) {
		fprintf(stderr, "  lsm_open of %s%s: %s (%s)\n", l->dir,
			read_only ? " (read-only)" : "", lsm_strstatus(st), lsm_last_error());
		l->db = NULL;
		return -1;
	}
	if ((e = zfs_open(l->db, &l->fs))) {
		fprintf(stderr, "  zfs_open of %s: %s (%s)\n", l->dir, strerror(e),
			e == EIO ? zfs_error_detail() : lsm_last_error());
		(void)lsm_close(l->db);
		l->db = NULL;
		l->fs = NULL;
		return -1;
	}
	return 0;
}

static int live_close(struct live *l)
{
	lsm_status st = LSM_OK;
	if (l->fs)
		zfs_close(l->fs);
	if (l->db)
		st = lsm_close(l->db);
	l->fs = NULL;
	l->db = NULL;
	if (st)
		fprintf(stderr, "  lsm_close: %s (%s)\n", lsm_strstatus(st), lsm_last_error());
	return st ? -1 : 0;
}

static int resolve(struct zfs *fs, const char *path, bool parent_only, uint64_t *ino,
		   const char **leaf)
{
	char part[NAME_MAX1 + 1];
	struct zfs_attr a;
	const char *p = path;
	uint64_t cur = ZFS_ROOT_INO;
	int e;

	for (;;) {
		p++;
		const char *slash = strchr(p, '/');
		if (!slash && parent_only) {
			*ino = cur;
			*leaf = p;
			return 0;
		}
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n > NAME_MAX1)
			return ENAMETOOLONG;
		memcpy(part, p, n);
		part[n] = '\0';
		if ((e = zfs_lookup(fs, cur, part, &a)))
			return e;
		cur = a.ino;
		if (!slash) {
			*ino = cur;
			return 0;
		}
		p = slash;
	}
}

static int maintain(struct live *l)
{
	lsm_status st;
	if (!l->maintain)
		return 0;
	if ((st = lsm_maintain(l->db))) {
		fprintf(stderr, "  lsm_maintain: %s (%s)\n", lsm_strstatus(st), lsm_last_error());
		return EIO;
	}
	return 0;
}

/* Writes in pieces of at most 100000 bytes (not chunk-aligned: partial
 * chunks are read, modified and written back). */
static int live_write(struct live *l, uint64_t ino, uint64_t off, uint64_t len, const char *tag,
		      enum style style)
{
	uint8_t *buf = malloc(len ? len : 1);
	struct zfs_attr a;
	int e = 0;

	if (!buf)
		return ENOMEM;
	fill(buf, tag, style, off, len);
	for (uint64_t done = 0; done < len && !e;) {
		uint64_t n = len - done > 100000 ? 100000 : len - done;
		if (!(e = zfs_write(l->fs, ino, off + done, n, buf + done, false, &a)))
			e = maintain(l);
		done += n;
	}
	free(buf);
	return e;
}

static int live_apply(struct live *l, const struct op *o)
{
	struct zfs_attr a = { 0 }, out;
	uint64_t dir, ino, ddir;
	const char *leaf, *dleaf;
	lsm_status st = LSM_OK;
	int e = 0;

	switch (o->k) {
	case OP_MKDIR:
	case OP_CREATE:
	case OP_MKNOD:
	case OP_SYMLINK: {
		struct zfs_create_args ca = {
			.type = o->k == OP_MKDIR     ? ZFS_DIR
				: o->k == OP_CREATE  ? ZFS_REG
				: o->k == OP_SYMLINK ? ZFS_LNK
						     : o->type,
			.mode = o->k == OP_SYMLINK ? 0777 : o->mode,
			.uid = o->uid,
			.gid = o->gid,
			.rdev_major = o->major,
			.rdev_minor = o->minor,
			.target = o->arg,
			.atime = o->times ? &o->atime : NULL,
			.mtime = o->times ? &o->mtime : NULL,
		};
		if (!(e = resolve(l->fs, o->path, true, &dir, &leaf)))
			e = zfs_create(l->fs, dir, leaf, &ca, false, &a);
		break;
	}
	case OP_WRITE:
		if (!(e = resolve(l->fs, o->path, false, &ino, NULL)))
			return live_write(l, ino, o->off, o->len, o->arg, o->style);
		break;
	case OP_RANDOM_WRITES:
		if ((e = resolve(l->fs, o->path, false, &ino, NULL)))
			break;
		for (unsigned k = 0; k < o->len && !e; k++) {
			struct write_desc w;
			random_write(o, k, &w);
			e = live_write(l, ino, w.off, w.len, w.tag, w.style);
		}
		return e;
	case OP_TRUNCATE:
	case OP_CHMOD:
	case OP_CHOWN:
	case OP_UTIMES: {
		unsigned mask = o->k == OP_TRUNCATE ? ZFS_SET_SIZE
				: o->k == OP_CHMOD  ? ZFS_SET_MODE
				: o->k == OP_CHOWN  ? ZFS_SET_UID | ZFS_SET_GID
						    : ZFS_SET_ATIME | ZFS_SET_MTIME;
		a.size = o->off;
		a.mode = o->mode;
		a.uid = o->uid;
		a.gid = o->gid;
		a.atime = o->atime;
		a.mtime = o->mtime;
		if (!(e = resolve(l->fs, o->path, false, &ino, NULL)))
			e = zfs_setattr(l->fs, ino, mask, &a, false, &out);
		break;
	}
	case OP_LINK:
		if (!(e = resolve(l->fs, o->path, false, &ino, NULL)) &&
		    !(e = resolve(l->fs, o->arg, true, &ddir, &dleaf)))
			e = zfs_link(l->fs, ino, ddir, dleaf, false, &a);
		break;
	case OP_RENAME:
		if (!(e = resolve(l->fs, o->path, true, &dir, &leaf)) &&
		    !(e = resolve(l->fs, o->arg, true, &ddir, &dleaf)))
			e = zfs_rename(l->fs, dir, leaf, ddir, dleaf, false);
		break;
	case OP_REMOVE:
		if (!(e = resolve(l->fs, o->path, true, &dir, &leaf)))
			e = zfs_remove(l->fs, dir, leaf, false);
		break;
	case OP_MAINTAIN: st = lsm_maintain(l->db); break;
	case OP_COMPACT: st = lsm_compact_all(l->db); break;
	case OP_CHECKPOINT: st = lsm_checkpoint_create(l->db, o->arg); break;
	case OP_GC: {
		uint64_t deleted = 0;
		usleep(20000); /* older than gc_min_age_ms */
		st = lsm_gc(l->db, &deleted);
		printf("  gc: %" PRIu64 " objects deleted\n", deleted);
		break;
	}
	case OP_WAL_ONLY: l->maintain = false; return 0;
	case OP_COMMIT: e = zfs_commit(l->fs); break;
	case OP_REOPEN:
		if (live_close(l) || live_open(l, false, NULL))
			e = EIO;
		break;
	}
	if (st) {
		fprintf(stderr, "  store op %d: %s (%s)\n", (int)o->k, lsm_strstatus(st),
			lsm_last_error());
		return EIO;
	}
	return e ? e : o->k < OP_MAINTAIN ? maintain(l) : 0;
}

/* ---- comparing the store with the model ---- */

/* An error of the core, with what an EIO was about. */
static const char *why(int e)
{
	static char buf[512];
	snprintf(buf, sizeof(buf), "%s%s%s", strerror(e), e == EIO ? ": " : "",
		 e == EIO ? zfs_error_detail() : "");
	return buf;
}

static const char *type_name(enum zfs_type t)
{
	static const char *const names[] = {
		"?", "reg", "dir", "lnk", "chr", "blk", "fifo", "sock"
	};
	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

struct listed {
	char *name;
	struct zfs_attr a;
	uint64_t cookie;
};

struct listing {
	struct listed *e;
	size_t n, cap;
};

static bool on_entry(void *ctx, const char *name, const struct zfs_attr *attr, uint64_t cookie)
{
	struct listing *l = ctx;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->e = realloc(l->e, l->cap * sizeof(*l->e));
		if (!l->e)
			abort();
	}
	l->e[l->n].name = strdup(name);
	l->e[l->n].a = *attr;
	l->e[l->n].cookie = cookie;
	l->n++;
	return true;
}

static void listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
	memset(l, 0, sizeof(*l));
}

struct cmp {
	struct zfs *fs;
	const struct model *m;
	const char *when;
	uint64_t *ino_of; /* model node -> ino, 0 = not seen yet */
	uint64_t entries, files, used, chunks;
	uint64_t fs_id;
	bool check_gen;
};

static bool same_time(struct zfs_time a, struct zfs_time b)
{
	return a.sec == b.sec && a.nsec == b.nsec;
}

static void print_listings(const char *path, const struct mnode *d, const struct model *m,
			   const struct listing *got)
{
	fprintf(stderr, "    %s: expected %zu entries:\n", path, d->nents);
	for (size_t i = 0; i < d->nents; i++)
		fprintf(stderr, "      %-12" PRIu64 " %-4s %.60s\n", d->ents[i].cookie,
			type_name(m->n[d->ents[i].node].type), d->ents[i].name);
	fprintf(stderr, "    found %zu:\n", got->n);
	for (size_t i = 0; i < got->n; i++)
		fprintf(stderr, "      %-12" PRIu64 " %-4s %.60s\n", got->e[i].cookie,
			type_name(got->e[i].a.type), got->e[i].name);
}

/* The data extents of a file: where SEEK_DATA and SEEK_HOLE say they are. */
static void check_extents(struct cmp *c, const char *path, uint64_t ino, const struct mnode *n)
{
	uint64_t want[256][2], got[256][2];
	size_t nw = 0, ng = 0;

	for (uint64_t i = 0; i < n->size && nw < 256; i++) {
		if (!n->st[i])
			continue;
		if (nw && want[nw - 1][1] == i)
			want[nw - 1][1] = i + 1;
		else {
			want[nw][0] = i;
			want[nw++][1] = i + 1;
		}
	}
	for (uint64_t pos = 0; pos < n->size && ng < 256;) {
		uint64_t d, h;
		int e = zfs_seek(c->fs, ino, pos, SEEK_DATA, &d);
		if (e == ENXIO)
			break;
		if (e || (e = zfs_seek(c->fs, ino, d, SEEK_HOLE, &h))) {
			CHECK_MSG(false, "%s: %s: seek from %" PRIu64 ": %s", c->when, path, pos,
				  why(e));
			return;
		}
		got[ng][0] = d;
		got[ng++][1] = h;
		if (h <= pos)
			break;
		pos = h;
	}
	bool same = nw == ng;
	for (size_t i = 0; same && i < nw; i++)
		same = want[i][0] == got[i][0] && want[i][1] == got[i][1];
	CHECK_MSG(same, "%s: %s: data extents differ", c->when, path);
	if (!same) {
		for (size_t i = 0; i < nw; i++)
			fprintf(stderr, "    expected [%" PRIu64 ", %" PRIu64 ")\n", want[i][0],
				want[i][1]);
		for (size_t i = 0; i < ng; i++)
			fprintf(stderr, "    found    [%" PRIu64 ", %" PRIu64 ")\n", got[i][0],
				got[i][1]);
	}
}

/* Every byte, in reads of 100003 bytes (across chunk boundaries), and one read past the end. */
static void check_data(struct cmp *c, const char *path, uint64_t ino, const struct mnode *n)
{
	const size_t step = 100003;
	uint8_t *buf = malloc(step);
	uint64_t off = 0, bad = 0, first_bad = UINT64_MAX;
	size_t got;
	bool eof = false;
	int e = 0;

	if (!buf)
		abort();
	while (off < n->size) {
		if ((e = zfs_read(c->fs, ino, off, step, buf, &got, &eof)))
			break;
		if (got == 0)
			break;
		for (size_t i = 0; i < got && off + i < n->size; i++)
			if (buf[i] != n->data[off + i]) {
				if (first_bad == UINT64_MAX)
					first_bad = off + i;
				bad++;
			}
		off += got;
	}
	CHECK_MSG(!e, "%s: %s: read at %" PRIu64 ": %s", c->when, path, off, why(e));
	CHECK_MSG(e || off == n->size, "%s: %s: read %" PRIu64 " bytes of %" PRIu64, c->when, path,
		  off, n->size);
	CHECK_MSG(e || eof || n->size == 0, "%s: %s: no eof at the end", c->when, path);
	if (bad) {
		CHECK_MSG(false, "%s: %s: %" PRIu64 " bytes differ, the first at offset %" PRIu64,
			  c->when, path, bad, first_bad);
		uint64_t from = first_bad & ~(uint64_t)15;
		size_t len = 0;
		if (!zfs_read(c->fs, ino, from, 32, buf, &got, &eof))
			len = got;
		fprintf(stderr, "    at %-8" PRIu64 " expected:", from);
		for (uint64_t i = from; i < from + 32 && i < n->size; i++)
			fprintf(stderr, " %02x", n->data[i]);
		fprintf(stderr, "\n    at %-8" PRIu64 " found:   ", from);
		for (size_t i = 0; i < len; i++)
			fprintf(stderr, " %02x", buf[i]);
		fputc('\n', stderr);
	}
	if (!e && !zfs_read(c->fs, ino, n->size, 10, buf, &got, &eof))
		CHECK_MSG(got == 0 && eof, "%s: %s: a read at the end got %zu bytes", c->when, path,
			  got);
	free(buf);
}

static void check_node(struct cmp *c, const char *path, size_t node, const struct zfs_attr *a)
{
	const struct mnode *n = &c->m->n[node];

	CHECK_MSG(a->type == n->type, "%s: %s: type %s, expected %s", c->when, path,
		  type_name(a->type), type_name(n->type));
	if (a->type != n->type)
		return;
	CHECK_MSG(a->mode == n->mode, "%s: %s: mode %04o, expected %04o", c->when, path, a->mode,
		  n->mode);
	CHECK_MSG(a->uid == n->uid && a->gid == n->gid, "%s: %s: owner %u:%u, expected %u:%u",
		  c->when, path, a->uid, a->gid, n->uid, n->gid);
	CHECK_MSG(a->nlink == model_nlink(c->m, node), "%s: %s: nlink %u, expected %u", c->when,
		  path, a->nlink, model_nlink(c->m, node));
	if (n->type == ZFS_REG || n->type == ZFS_LNK)
		CHECK_MSG(a->size == n->size, "%s: %s: size %" PRIu64 ", expected %" PRIu64,
			  c->when, path, a->size, n->size);
	if (n->type == ZFS_CHR || n->type == ZFS_BLK)
		CHECK_MSG(a->rdev_major == n->major && a->rdev_minor == n->minor,
			  "%s: %s: device %u,%u, expected %u,%u", c->when, path, a->rdev_major,
			  a->rdev_minor, n->major, n->minor);
	if (n->has_atime)
		CHECK_MSG(same_time(a->atime, n->atime),
			  "%s: %s: atime %" PRId64 ".%09u, expected %" PRId64 ".%09u", c->when,
			  path, a->atime.sec, a->atime.nsec, n->atime.sec, n->atime.nsec);
	if (n->has_mtime)
		CHECK_MSG(same_time(a->mtime, n->mtime),
			  "%s: %s: mtime %" PRId64 ".%09u, expected %" PRId64 ".%09u", c->when,
			  path, a->mtime.sec, a->mtime.nsec, n->mtime.sec, n->mtime.nsec);
	if (c->check_gen)
		CHECK_MSG(a->gen == c->fs_id,
			  "%s: %s: generation %" PRIx64 ", the filesystem's id is %" PRIx64,
			  c->when, path, a->gen, c->fs_id);

	/* hard links: one inode for one model node, and never one for two */
	if (c->ino_of[node]) {
		CHECK_MSG(c->ino_of[node] == a->ino,
			  "%s: %s: inode %" PRIu64 ", another name has %" PRIu64, c->when, path,
			  a->ino, c->ino_of[node]);
		return; /* its contents were checked under its first name */
	}
	for (size_t i = 0; i < c->m->count; i++)
		CHECK_MSG(c->ino_of[i] != a->ino, "%s: %s: inode %" PRIu64 " is another file's too",
			  c->when, path, a->ino);
	c->ino_of[node] = a->ino;
	c->files++;

	if (n->type == ZFS_LNK) {
		char buf[TARGET_MAX1 + 1];
		size_t len = 0;
		int e = zfs_readlink(c->fs, a->ino, buf, sizeof(buf), &len);
		CHECK_MSG(!e && len == strlen(n->target) && !memcmp(buf, n->target, len),
			  "%s: %s: readlink: %s, %zu bytes \"%.40s\", expected %zu \"%.40s\"",
			  c->when, path, why(e), len, e ? "" : buf, strlen(n->target), n->target);
	}
	if (n->type == ZFS_REG) {
		uint64_t used = model_used(n);
		CHECK_MSG(a->used == used, "%s: %s: used %" PRIu64 ", expected %" PRIu64, c->when,
			  path, a->used, used);
		c->used += used;
		for (size_t i = 0; i < n->nchunks; i++)
			c->chunks += model_chunk_stored(n, i);
		check_data(c, path, a->ino, n);
		check_extents(c, path, a->ino, n);
	}
}

static void check_dir(struct cmp *c, const char *path, size_t node, uint64_t ino)
{
	const struct mnode *d = &c->m->n[node];
	struct listing got = { 0 };
	bool eof = false;
	int e = zfs_readdir(c->fs, ino, 0, on_entry, &got, &eof);
	char *sub;

	CHECK_MSG(!e && eof, "%s: readdir %s: %s", c->when, path, why(e));
	bool same = got.n == d->nents;
	for (size_t i = 0; same && i < got.n; i++)
		same = !strcmp(got.e[i].name, d->ents[i].name) &&
		       got.e[i].a.type == c->m->n[d->ents[i].node].type &&
		       got.e[i].cookie == d->ents[i].cookie;
	CHECK_MSG(same, "%s: directory %s lists differently (names, types, cookies, in order)",
		  c->when, path);
	if (!same)
		print_listings(path, d, c->m, &got);
	c->entries += d->nents;

	/* "..": the parent */
	struct zfs_attr a;
	e = zfs_lookup(c->fs, ino, "..", &a);
	CHECK_MSG(!e && a.ino == (node == 0 ? ino : c->ino_of[d->parent]),
		  "%s: %s/..: %s, inode %" PRIu64, c->when, path, why(e), e ? 0 : a.ino);

	/* a listing resumed from the middle: the entries after that cookie */
	if (same && got.n > 2) {
		struct listing rest = { 0 };
		size_t mid = got.n / 2;
		e = zfs_readdir(c->fs, ino, got.e[mid].cookie, on_entry, &rest, &eof);
		bool ok = !e && eof && rest.n == got.n - mid - 1;
		for (size_t i = 0; ok && i < rest.n; i++)
			ok = !strcmp(rest.e[i].name, d->ents[mid + 1 + i].name);
		CHECK_MSG(ok,
			  "%s: %s: readdir from cookie %" PRIu64 ": %s, %zu entries, expected %zu",
			  c->when, path, got.e[mid].cookie, why(e), rest.n, got.n - mid - 1);
		listing_free(&rest);
	}

	for (size_t i = 0; i < d->nents; i++) {
		const struct mentry *me = &d->ents[i];
		if (asprintf(&sub, "%s/%s", node == 0 ? "" : path, me->name) < 0)
			abort();
		/* by name too, not only as listed */
		e = zfs_lookup(c->fs, ino, me->name, &a);
		CHECK_MSG(!e, "%s: lookup %s: %s", c->when, sub, why(e));
		if (!e) {
			check_node(c, sub, me->node, &a);
			if (c->m->n[me->node].type == ZFS_DIR && a.type == ZFS_DIR)
				check_dir(c, sub, me->node, a.ino);
		}
		free(sub);
	}
	listing_free(&got);
}

/* The store as the model says, through fs (and db, for the core's check). */
static void compare(struct zfs *fs, struct lsm_db *db, const struct model *m, const char *when)
{
	struct cmp c = { .fs = fs, .m = m, .when = when };
	struct zfs_info info;
	struct zfs_attr root;
	struct zfs_statfs sf;
	struct zfs_check *chk;
	int e;

	c.ino_of = calloc(m->count, sizeof(*c.ino_of));
	if (!c.ino_of)
		abort();
	e = zfs_read_info(db, &info);
	CHECK_MSG(!e, "%s: zfs_read_info: %s", when, why(e));
	c.fs_id = info.fs_id;
	c.check_gen = !e;
	e = zfs_getattr(fs, ZFS_ROOT_INO, &root);
	CHECK_MSG(!e, "%s: the root: %s", when, why(e));
	if (!e) {
		check_node(&c, "/", 0, &root);
		check_dir(&c, "/", 0, ZFS_ROOT_INO);
	}
	uint64_t live = 0;
	for (size_t i = 0; i < m->count; i++)
		live += m->n[i].live;
	CHECK_MSG(c.files == live, "%s: %" PRIu64 " objects reached, the model has %" PRIu64, when,
		  c.files, live);
	e = zfs_statfs(fs, &sf);
	CHECK_MSG(!e && sf.files == live && sf.bytes_used == c.used,
		  "%s: statfs: %s, %" PRIu64 " files and %" PRIu64 " bytes, expected %" PRIu64
		  " and %" PRIu64,
		  when, why(e), sf.files, sf.bytes_used, live, c.used);

	e = zfs_check_scan(db, NULL, NULL, &chk);
	CHECK_MSG(!e, "%s: zfs_check_scan: %s (%s)", when, strerror(e), lsm_last_error());
	if (!e) {
		char line[512];
		const struct zfs_check_totals *t = zfs_check_totals(chk);
		for (size_t i = 0; i < zfs_check_count(chk); i++) {
			zfs_check_describe(chk, i, line, sizeof(line));
			CHECK_MSG(false, "%s: the check found: %s", when, line);
		}
		CHECK_MSG(t->inodes == live && t->entries == c.entries && t->chunks == c.chunks &&
				  t->chunk_bytes == c.used,
			  "%s: the check counted %" PRIu64 " inodes, %" PRIu64 " entries, %" PRIu64
			  " chunks of %" PRIu64 " bytes; expected %" PRIu64 ", %" PRIu64
			  ", %" PRIu64 ", %" PRIu64,
			  when, t->inodes, t->entries, t->chunks, t->chunk_bytes, live, c.entries,
			  c.chunks, c.used);
		zfs_check_free(chk);
	}
	printf("  %s: %" PRIu64 " objects, %" PRIu64 " entries, %" PRIu64 " chunks, %" PRIu64
	       " bytes compared with the model\n",
	       when, c.files, c.entries, c.chunks, c.used);
	free(c.ino_of);
}

/* ---- make ---- */

static void describe(struct lsm_db *db, struct lsm_description *d)
{
	memset(d, 0, sizeof(*d));
	if (lsm_describe(db, d)) {
		fprintf(stderr, "  lsm_describe: %s\n", lsm_last_error());
		return;
	}
	printf("  manifest %" PRIu64 ", epoch %" PRIu64 ", WAL flushed below %" PRIu64
	       ", replayed %" PRIu64 " objects (%" PRIu64 " bytes), %zu levels:",
	       d->manifest_id, d->writer_epoch, d->wal_flushed, d->wal_replayed_objects,
	       d->wal_replayed_bytes, d->level_count);
	for (size_t i = 0; i < d->level_count; i++)
		printf(" %s%" PRIu64 " SSTs", i ? "run " : "L0 ", d->levels[i].ssts);
	printf(", %zu checkpoints\n", d->checkpoint_count);
}

/* What the fixture must hold to test what it is for: L0 SSTs, sorted runs,
 * a WAL backlog across a fence, the checkpoint. */
static void check_shape(struct lsm_db *db)
{
	struct lsm_description d;
	describe(db, &d);
	uint64_t runs = 0, most = 0;
	for (size_t i = 1; i < d.level_count; i++) {
		runs++;
		most = d.levels[i].ssts > most ? d.levels[i].ssts : most;
	}
	CHECK_MSG(d.level_count > 0 && d.levels[0].ssts > 0, "no L0 SST");
	CHECK_MSG(runs >= 2 && most >= 2,
		  "%" PRIu64 " sorted runs, the largest of %" PRIu64
		  " SSTs: expected two runs, one of several SSTs",
		  runs, most);
	CHECK_MSG(d.wal_replayed_objects >= 3,
		  "%" PRIu64 " WAL objects replayed, expected 3 or more", d.wal_replayed_objects);
	CHECK_MSG(d.checkpoint_count == 1 && !strcmp(d.checkpoints[0].name, CHECKPOINT_NAME),
		  "%zu checkpoints", d.checkpoint_count);
	lsm_description_free(&d);
}

static bool dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool empty = true;
	if (!d)
		return errno == ENOENT;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

static int do_make(const char *dir)
{
	struct live l = { .dir = (char *)dir, .maintain = true };
	struct model m;
	int rc = 1;

	if (!dir_is_empty(dir)) {
		fprintf(stderr, "%s is not empty: a fixture is never regenerated over an old one\n",
			dir);
		return 1;
	}
	if (zs3_open_local(dir, true, &l.store) != ZS3_OK) {
		fprintf(stderr, "cannot open a local store in %s: %s\n", dir, zs3_last_error());
		return 1;
	}
	l.lo.memtable_bytes = 64 * 1024;
	l.lo.l0_compaction_trigger = 4;
	l.lo.sst_target_bytes = 64 * 1024; /* runs of several SSTs */
	l.lo.no_background = true;
	l.lo.gc_min_age_ms = 1;
	if (live_open(&l, false, NULL))
		goto out;
	model_init(&m);
	for (size_t i = 0; i < N_OPS(gen_ops); i++) {
		int e = live_apply(&l, &gen_ops[i]);
		if (e) {
			fprintf(stderr, "op %zu (kind %d, %s): %s\n", i, (int)gen_ops[i].k,
				gen_ops[i].path ? gen_ops[i].path : "-", strerror(e));
			model_free(&m);
			goto out;
		}
		if (model_apply(&m, &gen_ops[i]))
			abort();
	}
	compare(l.fs, l.db, &m, "as made");
	if (live_close(&l))
		goto out_model;
	/* read-only: writes nothing */
	if (live_open(&l, true, NULL))
		goto out_model;
	check_shape(l.db);
	compare(l.fs, l.db, &m, "reopened read-only");
	rc = live_close(&l) || tl_failures ? 1 : 0;
out_model:
	model_free(&m);
out:
	zs3_close(l.store);
	return rc;
}

/* ---- check ---- */

static int copy_tree(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return -1;
	while (!rc && (de = readdir(d))) {
		char *src, *dst;
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (asprintf(&src, "%s/%s", from, de->d_name) < 0 ||
		    asprintf(&dst, "%s/%s", to, de->d_name) < 0)
			abort();
		if (lstat(src, &st))
			rc = -1;
		else if (S_ISDIR(st.st_mode))
			rc = mkdir(dst, 0755) || copy_tree(src, dst);
		else if (S_ISREG(st.st_mode)) {
			int in = open(src, O_RDONLY),
			    out = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0644);
			char buf[65536];
			ssize_t n;
			rc = in < 0 || out < 0;
			while (!rc && (n = read(in, buf, sizeof(buf))) != 0)
				rc = n < 0 || write(out, buf, (size_t)n) != n;
			if (in >= 0)
				close(in);
			if (out >= 0 && close(out))
				rc = -1;
		}
		free(src);
		free(dst);
	}
	closedir(d);
	return rc;
}

static const char *fixture;
static struct live cl;

static void on_verify(void *ctx, const struct lsm_verify_report *r)
{
	(void)ctx;
	if (r->status != LSM_OK)
		fprintf(stderr, "    %s: %s: %s\n", r->key, lsm_strstatus(r->status),
			r->detail ? r->detail : "");
}

/* Every object intact (lsm_verify_store: checksums, formats), before any open. */
static void t_objects(void *ctx)
{
	(void)ctx;
	struct lsm_verify_summary s;
	lsm_status st = lsm_verify_store(cl.store, on_verify, NULL, &s);
	CHECK_MSG(st == LSM_OK, "lsm_verify_store: %s (%s)", lsm_strstatus(st), lsm_last_error());
	CHECK_MSG(s.damaged == 0, "%" PRIu64 " damaged objects", s.damaged);
	printf("  %" PRIu64 " manifests, %" PRIu64 " SSTs, %" PRIu64 " WAL objects, %" PRIu64
	       " bytes, %" PRIu64 " entries, %" PRIu64 " WAL records\n",
	       s.manifests, s.ssts, s.wals, s.bytes, s.entries, s.wal_records);
}

/* Opened read-only (as `zerofs cat` does): nothing is written. */
static void t_read_only(void *ctx)
{
	(void)ctx;
	struct model m;
	struct zfs_attr a;
	uint64_t ino;
	const char *leaf;

	REQUIRE(live_open(&cl, true, NULL) == 0);
	check_shape(cl.db);
	model_build(&m, NULL, 0);
	compare(cl.fs, cl.db, &m, "read-only");
	/* a change is refused and changes nothing */
	if (resolve(cl.fs, "/hundred", false, &ino, &leaf) == 0) {
		int e = zfs_write(cl.fs, ino, 0, 3, "xyz", false, &a);
		CHECK_MSG(e == EROFS, "a write to a read-only open: %s", strerror(e));
	}
	model_free(&m);
	CHECK(live_close(&cl) == 0);
}

/* The checkpoint: the tree as it was after phase A. */
static void t_checkpoint(void *ctx)
{
	(void)ctx;
	struct model m;
	REQUIRE(live_open(&cl, true, CHECKPOINT_NAME) == 0);
	model_build(&m, CHECKPOINT_NAME, 0);
	compare(cl.fs, cl.db, &m, "at the checkpoint");
	model_free(&m);
	CHECK(live_close(&cl) == 0);
}

/* As the writer (a server's options): the same; then today's code changes
 * old files, and everything survives a reopen. */
static void t_writer(void *ctx)
{
	(void)ctx;
	struct model m;

	REQUIRE(live_open(&cl, false, NULL) == 0);
	model_build(&m, NULL, 0);
	compare(cl.fs, cl.db, &m, "opened as the writer");
	model_v2 = true; /* today's code writes format 2 */
	for (size_t i = 0; i < N_OPS(later_ops); i++) {
		int e = live_apply(&cl, &later_ops[i]);
		CHECK_MSG(!e, "later op %zu (kind %d, %s): %s", i, (int)later_ops[i].k,
			  later_ops[i].path, strerror(e));
		if (model_apply(&m, &later_ops[i]))
			abort();
	}
	compare(cl.fs, cl.db, &m, "after today's writes");
	CHECK(live_close(&cl) == 0);
	REQUIRE(live_open(&cl, false, NULL) == 0);
	compare(cl.fs, cl.db, &m, "reopened after today's writes");
	CHECK(live_close(&cl) == 0);
	REQUIRE(live_open(&cl, true, NULL) == 0);
	compare(cl.fs, cl.db, &m, "read-only after today's writes");
	CHECK(live_close(&cl) == 0);
	model_free(&m);
}

static int do_check(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: no fixture there\n", dir);
		return 1;
	}
	fixture = dir;
	cl.dir = make_temp_dir("fixture");
	if (!cl.dir || copy_tree(fixture, cl.dir)) {
		fprintf(stderr, "cannot copy %s to %s\n", fixture, cl.dir ? cl.dir : "a temp dir");
		return 1;
	}
	if (zs3_open_local(cl.dir, false, &cl.store) != ZS3_OK) {
		fprintf(stderr, "cannot open the copy %s: %s\n", cl.dir, zs3_last_error());
		return 1;
	}
	printf("  %s, copied to %s\n", fixture, cl.dir);
	tl_run("objects_intact", t_objects, NULL);
	tl_run("read_only", t_read_only, NULL);
	tl_run("checkpoint", t_checkpoint, NULL);
	tl_run("writer_and_todays_writes", t_writer, NULL);
	zs3_close(cl.store);
	rm_rf(cl.dir);
	free(cl.dir);
	return tl_finish();
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0); /* in order with the failures on stderr */
	init_names();
	if (argc == 3 && !strcmp(argv[1], "make"))
		return do_make(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "check"))
		return do_check(argv[2]);
	fprintf(stderr, "usage: %s make DIR | check DIR\n", argv[0]);
	return 2;
}
