/*
 * lsm/object_cache.c - see object_cache.h.
 *
 * Files are named after the object with '/' turned into '%' ("sst/0001.sst"
 * is "sst%0001.sst"); temp files start with '#'. The index is a sorted array
 * (bsearch by name): objects are few (an SST is tens of MiB) and inserts rare,
 * while reads are frequent and need only a lookup and a counter bump.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lsm.h"
#include "object_cache.h"

struct entry {
	char *file; /* file name in the directory */
	uint64_t size;
	uint64_t used; /* LRU clock value of the last access */
};

struct lsm_object_cache {
	char *dir;
	uint64_t max_bytes;
	pthread_mutex_t lock;
	struct entry *entries; /* sorted by file name */
	size_t count, cap;
	uint64_t bytes, clock;
	uint64_t hits, misses, inserts, evictions;
};

lsm_status lsm_parse_cache_size_gb(const char *name, const char *value, uint64_t *bytes)
{
	char *end;
	double gb;
	if (!value || !*value)
		return lsm_fail(LSM_EINVAL, "%s is not set: give a cache size in GiB (e.g. 10)", name);
	errno = 0;
	gb = strtod(value, &end);
	while (*end == ' ')
		end++;
	if (errno || *end || end == value || !isfinite(gb) || gb <= 0 || gb > 1e6)
		return lsm_fail(LSM_EINVAL,
				"%s='%s' is not a positive number of GiB (e.g. 10 or 0.5)", name, value);
	*bytes = (uint64_t)(gb * 1024.0 * 1024.0 * 1024.0);
	if (*bytes < 1024 * 1024)
		return lsm_fail(LSM_EINVAL, "%s='%s' is below the 1 MiB minimum", name, value);
	return LSM_OK;
}

static void file_name(const char *object, char *out, size_t cap)
{
	snprintf(out, cap, "%s", object);
	for (char *p = out; *p; p++)
		if (*p == '/')
			*p = '%';
}

static int cmp_file(const void *key, const void *e)
{
	return strcmp(key, ((const struct entry *)e)->file);
}

static struct entry *find(struct lsm_object_cache *c, const char *file)
{
	return c->count ? bsearch(file, c->entries, c->count, sizeof(struct entry), cmp_file) : NULL;
}

/* Adds an entry in order; the caller holds the lock. */
static lsm_status add_entry(struct lsm_object_cache *c, const char *file, uint64_t size,
			    uint64_t used)
{
	size_t lo = 0, hi = c->count;
	char *copy;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(c->entries[mid].file, file) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct entry *e = realloc(c->entries, cap * sizeof(*e));
		if (!e)
			return lsm_fail(LSM_ENOMEM, "out of memory in the object cache");
		c->entries = e;
		c->cap = cap;
	}
	if (!(copy = strdup(file)))
		return lsm_fail(LSM_ENOMEM, "out of memory in the object cache");
	memmove(&c->entries[lo + 1], &c->entries[lo], (c->count - lo) * sizeof(struct entry));
	c->entries[lo] = (struct entry){ copy, size, used };
	c->count++;
	c->bytes += size;
	return LSM_OK;
}

/* Removes entry e and its file; the caller holds the lock. */
static void drop_entry(struct lsm_object_cache *c, struct entry *e)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", c->dir, e->file);
	unlink(path);
	c->bytes -= e->size;
	free(e->file);
	size_t i = (size_t)(e - c->entries);
	memmove(e, e + 1, (c->count - i - 1) * sizeof(struct entry));
	c->count--;
}

static void evict_to(struct lsm_object_cache *c, uint64_t limit)
{
	while (c->bytes > limit && c->count) {
		struct entry *oldest = &c->entries[0];
		for (size_t i = 1; i < c->count; i++)
			if (c->entries[i].used < oldest->used)
				oldest = &c->entries[i];
		drop_entry(c, oldest);
		c->evictions++;
	}
}

struct scanned {
	char *file;
	uint64_t size;
	int64_t atime_ns;
};

static int cmp_atime(const void *a, const void *b)
{
	int64_t x = ((const struct scanned *)a)->atime_ns, y = ((const struct scanned *)b)->atime_ns;
	return x < y ? -1 : x > y;
}

/* Adopts the files already in the directory, oldest access first. */
static lsm_status scan(struct lsm_object_cache *c)
{
	DIR *d = opendir(c->dir);
	struct dirent *de;
	struct scanned *list = NULL;
	size_t n = 0, cap = 0;
	lsm_status st = LSM_OK;
	if (!d)
		return lsm_fail(LSM_EIO, "object cache: cannot read '%s': %s", c->dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX];
		struct stat sb;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", c->dir, de->d_name);
		if (de->d_name[0] == '#') { /* a temp file from an interrupted insert */
			unlink(path);
			continue;
		}
		if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct scanned *l = realloc(list, cap * sizeof(*l));
			if (!l) {
				st = lsm_fail(LSM_ENOMEM, "out of memory scanning the object cache");
				break;
			}
			list = l;
		}
		if (!(list[n].file = strdup(de->d_name))) {
			st = lsm_fail(LSM_ENOMEM, "out of memory scanning the object cache");
			break;
		}
		list[n].size = (uint64_t)sb.st_size;
		list[n].atime_ns = (int64_t)sb.st_atim.tv_sec * 1000000000 + sb.st_atim.tv_nsec;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(list, n, sizeof(*list), cmp_atime);
	for (size_t i = 0; i < n; i++) {
		if (st == LSM_OK)
			st = add_entry(c, list[i].file, list[i].size, ++c->clock);
		free(list[i].file);
	}
	free(list);
	if (st == LSM_OK)
		evict_to(c, c->max_bytes); /* the limit may have shrunk since last time */
	return st;
}

lsm_status lsm_object_cache_open(const char *dir, uint64_t max_bytes,
				 struct lsm_object_cache **out)
{
	struct lsm_object_cache *c;
	lsm_status st;
	*out = NULL;
	if (!dir || !*dir)
		return lsm_fail(LSM_EINVAL, "object cache: no directory given");
	if (max_bytes == 0)
		return lsm_fail(LSM_EINVAL, "object cache: size limit must be positive");
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return lsm_fail(LSM_EIO, "object cache: cannot create '%s': %s", dir, strerror(errno));
	c = calloc(1, sizeof(*c));
	if (!c || !(c->dir = strdup(dir))) {
		free(c);
		return lsm_fail(LSM_ENOMEM, "out of memory");
	}
	c->max_bytes = max_bytes;
	pthread_mutex_init(&c->lock, NULL);
	if ((st = scan(c))) {
		lsm_object_cache_close(c);
		return st;
	}
	*out = c;
	return LSM_OK;
}

void lsm_object_cache_close(struct lsm_object_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->count; i++)
		free(c->entries[i].file);
	free(c->entries);
	pthread_mutex_destroy(&c->lock);
	free(c->dir);
	free(c);
}

lsm_status lsm_object_cache_read(struct lsm_object_cache *c, const char *name, uint64_t off,
				 uint64_t len, struct lsm_buf *out)
{
	char file[NAME_MAX + 1], path[PATH_MAX];
	struct entry *e;
	lsm_status st;
	ssize_t got = 0;
	int fd;

	file_name(name, file, sizeof(file));
	pthread_mutex_lock(&c->lock);
	e = find(c, file);
	if (!e || off + len > e->size || off + len < off) {
		/* Callers know an object's size: asking past the end of a cached
		 * file means the file is short (damaged), so forget it. */
		if (e)
			drop_entry(c, e);
		c->misses++;
		pthread_mutex_unlock(&c->lock);
		return LSM_ENOTFOUND;
	}
	e->used = ++c->clock;
	c->hits++;
	pthread_mutex_unlock(&c->lock);

	out->len = 0;
	if ((st = lsm_buf_reserve(out, len)))
		return st;
	snprintf(path, sizeof(path), "%s/%s", c->dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		while ((uint64_t)got < len) {
			ssize_t r = pread(fd, out->data + got, len - (uint64_t)got, (off_t)(off + (uint64_t)got));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += r;
		}
		close(fd);
	}
	if ((uint64_t)got != len) {
		/* evicted meanwhile, or damaged on disk: forget it; the store has it */
		pthread_mutex_lock(&c->lock);
		if ((e = find(c, file)) != NULL)
			drop_entry(c, e);
		pthread_mutex_unlock(&c->lock);
		return LSM_ENOTFOUND;
	}
	out->len = len;
	return LSM_OK;
}

/* An object being written into the cache: a temp file, renamed into place
 * by commit. */
struct lsm_object_cache_writer {
	struct lsm_object_cache *c;
	int fd;
	uint64_t len;
	char file[NAME_MAX + 1], tmp[PATH_MAX];
};

lsm_status lsm_object_cache_begin(struct lsm_object_cache *c, const char *name,
				  struct lsm_object_cache_writer **out)
{
	static _Atomic unsigned long seq;
	struct lsm_object_cache_writer *w;
	*out = NULL;
	if (!(w = calloc(1, sizeof(*w))))
		return lsm_fail(LSM_ENOMEM, "out of memory");
	w->c = c;
	file_name(name, w->file, sizeof(w->file));
	snprintf(w->tmp, sizeof(w->tmp), "%s/#%d.%lu", c->dir, (int)getpid(), ++seq);
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		lsm_status st = lsm_fail(LSM_EIO, "object cache: cannot create a file in '%s': %s",
					 c->dir, strerror(errno));
		free(w);
		return st;
	}
	*out = w;
	return LSM_OK;
}

lsm_status lsm_object_cache_append(struct lsm_object_cache_writer *w, const void *data, size_t len)
{
	const char *p = data;
	size_t left = len;
	while (left) {
		ssize_t n = write(w->fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return lsm_fail(LSM_EIO, "object cache: write failed: %s", strerror(errno));
		p += n;
		left -= (size_t)n;
	}
	w->len += len;
	return LSM_OK;
}

void lsm_object_cache_abort(struct lsm_object_cache_writer *w)
{
	if (!w)
		return;
	close(w->fd);
	unlink(w->tmp);
	free(w);
}

lsm_status lsm_object_cache_commit(struct lsm_object_cache_writer *w)
{
	return lsm_object_cache_commit_sync(w, true);
}

lsm_status lsm_object_cache_commit_sync(struct lsm_object_cache_writer *w, bool sync)
{
	struct lsm_object_cache *c = w->c;
	char path[PATH_MAX];
	lsm_status st = LSM_OK;

	if (w->len > c->max_bytes / 4) { /* would flush most of the cache for one object */
		lsm_object_cache_abort(w);
		return LSM_OK;
	}
	/* fsync: after a crash a renamed file must not be shorter than its object */
	if (sync && fsync(w->fd) != 0)
		st = lsm_fail(LSM_EIO, "object cache: fsync failed: %s", strerror(errno));
	close(w->fd);
	w->fd = -1;
	snprintf(path, sizeof(path), "%s/%s", c->dir, w->file);
	if (st == LSM_OK && rename(w->tmp, path) != 0)
		st = lsm_fail(LSM_EIO, "object cache: rename failed: %s", strerror(errno));
	if (st) {
		unlink(w->tmp);
		free(w);
		return st;
	}
	pthread_mutex_lock(&c->lock);
	if (!find(c, w->file)) {
		evict_to(c, c->max_bytes - w->len);
		st = add_entry(c, w->file, w->len, ++c->clock);
		c->inserts++;
	}
	pthread_mutex_unlock(&c->lock);
	free(w);
	return st;
}

lsm_status lsm_object_cache_insert(struct lsm_object_cache *c, const char *name,
				   const void *data, size_t len)
{
	return lsm_object_cache_insert_sync(c, name, data, len, true);
}

lsm_status lsm_object_cache_insert_sync(struct lsm_object_cache *c, const char *name,
					const void *data, size_t len, bool sync)
{
	struct lsm_object_cache_writer *w;
	char file[NAME_MAX + 1];
	lsm_status st;

	if (len > c->max_bytes / 4)
		return LSM_OK; /* would flush most of the cache for one object */
	file_name(name, file, sizeof(file));
	pthread_mutex_lock(&c->lock);
	bool present = find(c, file) != NULL;
	pthread_mutex_unlock(&c->lock);
	if (present)
		return LSM_OK;
	if ((st = lsm_object_cache_begin(c, name, &w)))
		return st;
	if ((st = lsm_object_cache_append(w, data, len))) {
		lsm_object_cache_abort(w);
		return st;
	}
	return lsm_object_cache_commit_sync(w, sync);
}

void lsm_object_cache_drop(struct lsm_object_cache *c, const char *name)
{
	char file[NAME_MAX + 1];
	struct entry *e;
	file_name(name, file, sizeof(file));
	pthread_mutex_lock(&c->lock);
	if ((e = find(c, file)) != NULL)
		drop_entry(c, e);
	pthread_mutex_unlock(&c->lock);
}

bool lsm_object_cache_has(struct lsm_object_cache *c, const char *name)
{
	char file[NAME_MAX + 1];
	file_name(name, file, sizeof(file));
	pthread_mutex_lock(&c->lock);
	bool present = find(c, file) != NULL;
	pthread_mutex_unlock(&c->lock);
	return present;
}

void lsm_object_cache_stats(struct lsm_object_cache *c, struct lsm_object_cache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = (struct lsm_object_cache_stats){ c->hits, c->misses, c->inserts, c->evictions,
						c->bytes, c->count };
	pthread_mutex_unlock(&c->lock);
}
