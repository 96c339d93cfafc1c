/*
 * fsal_zerofs/fs/fs_data.c - file contents. A file is 64 KiB chunks; a chunk
 * is a map ('m' ino chunk) of extents ('x' ino chunk id), each holding the
 * bytes one write put in that chunk (fs_records.h, struct zfs_map). A write
 * adds one extent per chunk it touches, with only the bytes written, and
 * cuts them out of the older extents it overwrites: a 4 KiB write stores
 * 4 KiB, not its chunk. An extent no entry uses any more is deleted in the
 * same batch. A map that would hold more than ZFS_MAP_FOLD extents is folded
 * by that write: the chunk's bytes, rewritten as one extent (bounded: one
 * chunk). Bytes no extent covers read as zeros. Chunk data is large, so the
 * engine keeps it out of line (lsm/vlog.h): the extent's bytes are uploaded
 * once, in the WAL, and compaction moves only pointers to them.
 *
 * Format 1 filesystems stored whole chunks ('k'); they are read where a
 * chunk has no map, and the first write to one turns it into a map.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_int.h"

/* A chunk as stored: its map, or (format 1) its bytes. */
struct chunk {
	struct zfs_map m;
	bool legacy;        /* a format 1 record: raw holds the bytes, m is empty */
	struct lsm_buf raw;
};

static int load_chunk(struct zfs *fs, uint64_t ino, uint64_t idx, struct chunk *c,
		      struct lsm_buf *scratch)
{
	uint8_t k[ZFS_KEY_EXTENT_LEN];
	int err;
	c->m.n = 0;
	c->m.next_id = 0;
	c->legacy = false;
	c->raw.len = 0;
	err = zfs_errno(lsm_get(fs->db, k, zfs_key_map(k, ino, idx), scratch));
	if (!err) {
		if (zfs_map_decode(scratch->data, scratch->len, &c->m))
			return zfs_damaged("inode %" PRIu64 " chunk %" PRIu64
					   ": malformed chunk map (%zu bytes)", ino, idx, scratch->len);
		return 0;
	}
	if (err != ENOENT || !fs->legacy_chunks)
		return err == ENOENT ? 0 : err;
	err = zfs_errno(lsm_get(fs->db, k, zfs_key_chunk(k, ino, idx), &c->raw));
	if (err == ENOENT) {
		c->raw.len = 0;
		return 0;
	}
	if (!err && c->raw.len > ZFS_CHUNK_SIZE)
		err = zfs_damaged("inode %" PRIu64 " chunk %" PRIu64 ": %zu bytes, more than a chunk",
				  ino, idx, c->raw.len);
	c->legacy = !err;
	return err;
}

static uint64_t chunk_bytes(const struct chunk *c)
{
	return c->legacy ? c->raw.len : zfs_map_bytes(&c->m);
}

/* The chunk's bytes [at, at + n) into dst: zeros where nothing is stored. */
static int read_chunk(struct zfs *fs, uint64_t ino, uint64_t idx, const struct chunk *c,
		      uint32_t at, uint32_t n, uint8_t *dst, struct lsm_buf *scratch)
{
	uint8_t k[ZFS_KEY_EXTENT_LEN];
	memset(dst, 0, n);
	if (c->legacy) {
		if (c->raw.len > at)
			memcpy(dst, c->raw.data + at, c->raw.len - at < n ? c->raw.len - at : n);
		return 0;
	}
	for (unsigned i = 0; i < c->m.n; i++) {
		const struct zfs_extent *e = &c->m.e[i];
		uint32_t lo = e->off > at ? e->off : at;
		uint32_t hi = e->off + e->len < at + n ? e->off + e->len : at + n;
		if (lo >= hi)
			continue;
		int err = zfs_errno(lsm_get(fs->db, k, zfs_key_extent(k, ino, idx, e->id), scratch));
		if (err == ENOENT)
			return zfs_damaged("inode %" PRIu64 " chunk %" PRIu64 ": extent %" PRIu64
					   " is missing", ino, idx, e->id);
		if (err)
			return err;
		if (scratch->len < (size_t)e->skip + e->len)
			return zfs_damaged("inode %" PRIu64 " chunk %" PRIu64 ": extent %" PRIu64
					   " holds %zu bytes, its map uses %" PRIu32, ino, idx, e->id,
					   scratch->len, e->skip + e->len);
		memcpy(dst + (lo - at), scratch->data + e->skip + (lo - e->off), hi - lo);
	}
	return 0;
}

/* Deletes, in tx, the extents of `old` that `now` no longer uses. */
static void drop_unused(struct zfs_tx *tx, uint64_t ino, uint64_t idx, const struct zfs_map *old,
			const struct zfs_map *now)
{
	uint8_t k[ZFS_KEY_EXTENT_LEN];
	for (unsigned i = 0; i < old->n; i++) {
		uint64_t id = old->e[i].id;
		bool seen = false;
		for (unsigned j = 0; j < i && !seen; j++)
			seen = old->e[j].id == id;
		if (!seen && !zfs_map_uses(now, id))
			zfs_tx_del_raw(tx, k, zfs_key_extent(k, ino, idx, id));
	}
}

/* Puts m as chunk idx's map (deletes it if empty), and drops a format 1
 * record the chunk had. */
static void put_map(struct zfs_tx *tx, uint64_t ino, uint64_t idx, const struct chunk *old,
		    const struct zfs_map *m)
{
	uint8_t k[ZFS_KEY_EXTENT_LEN];
	if (old->legacy)
		zfs_tx_del_raw(tx, k, zfs_key_chunk(k, ino, idx));
	drop_unused(tx, ino, idx, &old->m, m);
	if (m->n == 0) {
		zfs_tx_del_raw(tx, k, zfs_key_map(k, ino, idx));
		return;
	}
	if (!tx->err)
		tx->err = zfs_map_encode(m, &tx->scratch);
	if (!tx->err)
		zfs_tx_put_raw(tx, k, zfs_key_map(k, ino, idx), tx->scratch.data, tx->scratch.len);
}

int zfs_tx_del_chunks(struct zfs_tx *tx, uint64_t ino, uint64_t from, uint64_t *freed)
{
	uint8_t start[ZFS_KEY_EXTENT_LEN];
	struct lsm_db_iter *it;
	lsm_status st;
	int err;

	*freed = 0;
	/* only the chunks that exist: a sparse file's holes cost nothing */
	if ((err = zfs_iter_from(tx->fs, start, zfs_key_map(start, ino, from), &it)))
		return err;
	for (; lsm_db_iter_valid(it) && !tx->err; lsm_db_iter_next(it)) {
		size_t kl, vl;
		const uint8_t *k = lsm_db_iter_key(it, &kl), *v = lsm_db_iter_value(it, &vl);
		struct chunk c = { 0 };
		static const struct zfs_map none = { 0 };
		if (!lsm_db_iter_valid(it))
			break; /* the value could not be read: status says why */
		if (kl != ZFS_KEY_MAP_LEN || zfs_map_decode(v, vl, &c.m)) {
			tx->err = zfs_damaged("inode %" PRIu64 ": malformed chunk map record", ino);
			break;
		}
		*freed += zfs_map_bytes(&c.m);
		drop_unused(tx, ino, zfs_be64(k + ZFS_KEY_PREFIX_LEN), &c.m, &none);
		zfs_tx_del_raw(tx, k, kl);
	}
	st = lsm_db_iter_status(it);
	lsm_db_iter_free(it);
	if (tx->err || st || !tx->fs->legacy_chunks)
		return tx->err ? tx->err : zfs_errno(st);
	if ((err = zfs_iter_from(tx->fs, start, zfs_key_chunk(start, ino, from), &it)))
		return err;
	for (; lsm_db_iter_valid(it) && !tx->err; lsm_db_iter_next(it)) {
		size_t kl, vl;
		const uint8_t *k = lsm_db_iter_key(it, &kl);
		lsm_db_iter_value(it, &vl);
		if (!lsm_db_iter_valid(it))
			break;
		*freed += vl;
		zfs_tx_del_raw(tx, k, kl);
	}
	st = lsm_db_iter_status(it);
	lsm_db_iter_free(it);
	return tx->err ? tx->err : zfs_errno(st);
}

int zfs_read(struct zfs *fs, uint64_t ino, uint64_t off, size_t len, void *buf, size_t *got,
	     bool *eof)
{
	struct zfs_attr a;
	struct chunk c = { 0 };
	struct lsm_buf scratch = { 0 };
	uint8_t *dst = buf;
	int err;

	*got = 0;
	if ((err = zfs_getattr(fs, ino, &a)))
		return err;
	if (a.type == ZFS_DIR)
		return EISDIR;
	if (a.type != ZFS_REG)
		return EINVAL;
	if (off >= a.size) {
		*eof = true;
		return 0;
	}
	if (len > a.size - off)
		len = (size_t)(a.size - off);
	while (*got < len) {
		uint64_t pos = off + *got, idx = pos / ZFS_CHUNK_SIZE;
		size_t in = (size_t)(pos % ZFS_CHUNK_SIZE), n = ZFS_CHUNK_SIZE - in;
		if (n > len - *got)
			n = len - *got;
		if ((err = load_chunk(fs, ino, idx, &c, &scratch)) ||
		    (err = read_chunk(fs, ino, idx, &c, (uint32_t)in, (uint32_t)n, dst + *got,
				      &scratch)))
			break;
		*got += n;
	}
	lsm_buf_free(&c.raw);
	lsm_buf_free(&scratch);
	*eof = off + *got >= a.size;
	return err;
}

/* Writes src as chunk idx's bytes [at, at + n) in tx; *dused += the change
 * in bytes stored. */
static int write_piece(struct zfs_tx *tx, uint64_t ino, uint64_t idx, uint32_t at, uint32_t n,
		       const uint8_t *src, struct chunk *c, struct lsm_buf *scratch,
		       int64_t *dused)
{
	struct zfs *fs = tx->fs;
	uint8_t k[ZFS_KEY_EXTENT_LEN];
	struct zfs_map m;
	int err;

	if ((err = load_chunk(fs, ino, idx, c, scratch)))
		return err;
	if (!c->legacy) {
		m = c->m;
		uint64_t id = m.next_id;
		if (zfs_map_cut(&m, at, at + n) && zfs_map_insert(&m, at, n, id) &&
		    m.n <= ZFS_MAP_FOLD) {
			zfs_tx_put_raw(tx, k, zfs_key_extent(k, ino, idx, id), src, n);
			put_map(tx, ino, idx, c, &m);
			*dused += (int64_t)zfs_map_bytes(&m) - (int64_t)chunk_bytes(c);
			return 0;
		}
	}
	/* Fold: the chunk's bytes with this write applied, as one extent (and
	 * a format 1 chunk becomes a map the same way). */
	uint32_t lo = at, hi = at + n;
	if (c->legacy && c->raw.len) {
		lo = 0;
		hi = hi > c->raw.len ? hi : (uint32_t)c->raw.len;
	} else if (c->m.n) {
		lo = lo < c->m.e[0].off ? lo : c->m.e[0].off;
		hi = hi > zfs_map_end(&c->m) ? hi : zfs_map_end(&c->m);
	}
	uint8_t *buf = malloc(hi - lo);
	if (!buf)
		return ENOMEM;
	if ((err = read_chunk(fs, ino, idx, c, lo, hi - lo, buf, scratch))) {
		free(buf);
		return err;
	}
	memcpy(buf + (at - lo), src, n);
	uint64_t id = c->m.next_id;
	m = (struct zfs_map){ .next_id = id + 1, .n = 1 };
	m.e[0] = (struct zfs_extent){ lo, hi - lo, id, 0 };
	zfs_tx_put_raw(tx, k, zfs_key_extent(k, ino, idx, id), buf, hi - lo);
	free(buf);
	put_map(tx, ino, idx, c, &m);
	*dused += (int64_t)zfs_map_bytes(&m) - (int64_t)chunk_bytes(c);
	atomic_fetch_add(&fs->folds, 1);
	atomic_fetch_add(&fs->fold_bytes, hi - lo);
	return 0;
}

int zfs_write(struct zfs *fs, uint64_t ino, uint64_t off, size_t len, const void *buf,
	      bool durable, struct zfs_attr *attr)
{
	struct zfs_inode in;
	struct chunk c = { 0 };
	struct lsm_buf scratch = { 0 };
	const uint8_t *src = buf;
	struct zfs_locks l = { 0 };
	struct zfs_tx tx;
	int err;

	if (off > ZFS_MAX_FILE_SIZE || len > ZFS_MAX_FILE_SIZE - off)
		return EFBIG;
	zfs_op_begin();
	/* The maps of the chunks at either end are read under the lock (and,
	 * for a map about to be folded, its extents): read them first, so a
	 * cold one comes from the store into the caches now, with no lock
	 * held (a concurrent write only makes it warmer). */
	if (len > 0) {
		uint64_t ends[2] = { off / ZFS_CHUNK_SIZE, (off + len - 1) / ZFS_CHUNK_SIZE };
		for (int i = 0; i < (ends[1] != ends[0] ? 2 : 1); i++) {
			if ((err = load_chunk(fs, ino, ends[i], &c, &scratch)))
				goto out_free;
			if (c.legacy || c.m.n >= ZFS_MAP_FOLD) {
				uint8_t *tmp = malloc(ZFS_CHUNK_SIZE);
				err = tmp ? read_chunk(fs, ino, ends[i], &c, 0, ZFS_CHUNK_SIZE, tmp,
						       &scratch) : ENOMEM;
				free(tmp);
				if (err)
					goto out_free;
			}
		}
	}
	zfs_lock(fs, &l, &ino, 1);
	if ((err = zfs_load_inode(fs, ino, &in)))
		goto out;
	if (in.a.type != ZFS_REG) {
		err = in.a.type == ZFS_DIR ? EISDIR : EINVAL;
		goto out_inode;
	}
	if ((err = zfs_tx_begin(fs, &tx, &l)))
		goto out_inode;
	int64_t dused = 0;
	for (size_t done = 0; done < len && !err;) {
		uint64_t pos = off + done, idx = pos / ZFS_CHUNK_SIZE;
		size_t at = (size_t)(pos % ZFS_CHUNK_SIZE), n = ZFS_CHUNK_SIZE - at;
		if (n > len - done)
			n = len - done;
		err = write_piece(&tx, ino, idx, (uint32_t)at, (uint32_t)n, src + done, &c, &scratch,
				  &dused);
		done += n;
	}
	if (err || (err = tx.err)) {
		zfs_tx_abort(&tx);
		goto out_inode;
	}
	if (dused < 0 && (uint64_t)-dused > in.a.used)
		dused = -(int64_t)in.a.used;
	tx.dbytes += dused;
	in.a.used = (uint64_t)((int64_t)in.a.used + dused);
	if (off + len > in.a.size)
		in.a.size = off + len;
	zfs_now(&in.a.mtime);
	in.a.ctime = in.a.mtime;
	in.a.change++;
	zfs_tx_put_inode(&tx, &in);
	if (!(err = zfs_tx_commit(&tx, false)))
		*attr = in.a;
out_inode:
	zfs_inode_free(&in);
out:
	zfs_unlock(fs, &l);
out_free:
	lsm_buf_free(&c.raw);
	lsm_buf_free(&scratch);
	if (!err && durable)
		err = zfs_commit_mine(fs);
	return err;
}

/* Truncation inside tx: drops chunks past new_size and cuts the one it
 * ends in. */
static int tx_truncate(struct zfs_tx *tx, struct zfs_inode *in, uint64_t new_size)
{
	struct chunk c = { 0 };
	struct lsm_buf scratch = { 0 };
	uint64_t freed = 0, keep = (new_size + ZFS_CHUNK_SIZE - 1) / ZFS_CHUNK_SIZE;
	int err;
	if (new_size >= in->a.size)
		return 0; /* growing is sparse: nothing to write */
	if ((err = zfs_tx_del_chunks(tx, in->a.ino, keep, &freed)))
		return err;
	if (new_size % ZFS_CHUNK_SIZE) {
		uint64_t idx = new_size / ZFS_CHUNK_SIZE;
		uint32_t cut = (uint32_t)(new_size % ZFS_CHUNK_SIZE);
		uint8_t k[ZFS_KEY_EXTENT_LEN];
		if ((err = load_chunk(tx->fs, in->a.ino, idx, &c, &scratch)) == 0) {
			if (c.legacy && c.raw.len > cut) {
				/* a format 1 chunk becomes a map of its kept bytes */
				struct zfs_map m = { .next_id = 1, .n = 1 };
				m.e[0] = (struct zfs_extent){ 0, cut, 0, 0 };
				zfs_tx_put_raw(tx, k, zfs_key_extent(k, in->a.ino, idx, 0), c.raw.data, cut);
				put_map(tx, in->a.ino, idx, &c, &m);
				freed += c.raw.len - cut;
			} else if (!c.legacy && zfs_map_end(&c.m) > cut) {
				struct zfs_map m = c.m;
				if (!zfs_map_cut(&m, cut, ZFS_CHUNK_SIZE))
					err = EIO; /* cutting a tail never adds extents */
				else {
					put_map(tx, in->a.ino, idx, &c, &m);
					freed += zfs_map_bytes(&c.m) - zfs_map_bytes(&m);
				}
			}
		}
	}
	lsm_buf_free(&c.raw);
	lsm_buf_free(&scratch);
	if (err)
		return err;
	freed = freed < in->a.used ? freed : in->a.used;
	in->a.used -= freed;
	tx->dbytes -= (int64_t)freed;
	return tx->err;
}

int zfs_setattr(struct zfs *fs, uint64_t ino, unsigned mask, const struct zfs_attr *a,
		bool durable, struct zfs_attr *out)
{
	struct zfs_inode in;
	struct zfs_locks l = { 0 };
	struct zfs_tx tx;
	struct zfs_time now;
	int err;

	if ((mask & ZFS_SET_SIZE) && a->size > ZFS_MAX_FILE_SIZE)
		return EFBIG;
	zfs_op_begin();
	zfs_lock(fs, &l, &ino, 1);
	if ((err = zfs_load_inode(fs, ino, &in)))
		goto out;
	if ((mask & ZFS_SET_SIZE) && in.a.type != ZFS_REG) {
		err = in.a.type == ZFS_DIR ? EISDIR : EINVAL;
		goto out_inode;
	}
	if (mask == ZFS_SET_SIZE && a->size == in.a.size) {
		/* A truncate to the size the file has changes nothing, times
		 * included (POSIX marks them only "if the file size is
		 * changed"): no batch, so a Sync export's commit after it has
		 * nothing to upload. Clients send it on open(O_TRUNC) of a file
		 * they just created. */
		*out = in.a;
		goto out_inode;
	}
	if ((err = zfs_tx_begin(fs, &tx, &l)))
		goto out_inode;
	zfs_now(&now);
	if (mask & ZFS_SET_MODE)
		in.a.mode = a->mode & 07777;
	if (mask & ZFS_SET_UID)
		in.a.uid = a->uid;
	if (mask & ZFS_SET_GID)
		in.a.gid = a->gid;
	if (mask & ZFS_SET_ATIME)
		in.a.atime = a->atime;
	if (mask & ZFS_SET_ATIME_NOW)
		in.a.atime = now;
	if (mask & ZFS_SET_MTIME)
		in.a.mtime = a->mtime;
	if (mask & ZFS_SET_MTIME_NOW)
		in.a.mtime = now;
	if (mask & ZFS_SET_SIZE) {
		if ((err = tx_truncate(&tx, &in, a->size))) {
			zfs_tx_abort(&tx);
			goto out_inode;
		}
		if (a->size != in.a.size && !(mask & (ZFS_SET_MTIME | ZFS_SET_MTIME_NOW)))
			in.a.mtime = now;
		in.a.size = a->size;
	}
	in.a.ctime = now;
	in.a.change++;
	zfs_tx_put_inode(&tx, &in);
	if (!(err = zfs_tx_commit(&tx, false)))
		*out = in.a;
out_inode:
	zfs_inode_free(&in);
out:
	zfs_unlock(fs, &l);
	if (!err && durable)
		err = zfs_commit_mine(fs);
	return err;
}

/* Walks the stored byte ranges of a file's chunks from chunk `from` on, in
 * order: maps' extents and (format 1) whole chunks. */
struct span_walk {
	struct lsm_db_iter *maps, *legacy;
};

/* The next chunk's stored ranges, as absolute offsets into spans (at most
 * ZFS_MAP_MAX); *n = 0 at the end. */
static int next_spans(struct span_walk *w, uint64_t ino, uint64_t (*spans)[2], unsigned *n)
{
	*n = 0;
	bool m = w->maps && lsm_db_iter_valid(w->maps);
	bool k = w->legacy && lsm_db_iter_valid(w->legacy);
	size_t kl, vl;
	if (!m && !k)
		return 0;
	uint64_t mi = m ? zfs_be64(lsm_db_iter_key(w->maps, &kl) + ZFS_KEY_PREFIX_LEN) : UINT64_MAX;
	uint64_t ki = k ? zfs_be64(lsm_db_iter_key(w->legacy, &kl) + ZFS_KEY_PREFIX_LEN) : UINT64_MAX;
	if (mi <= ki) {
		struct zfs_map map;
		const uint8_t *v = lsm_db_iter_value(w->maps, &vl);
		if (!lsm_db_iter_valid(w->maps))
			return zfs_errno(lsm_db_iter_status(w->maps));
		if (zfs_map_decode(v, vl, &map))
			return zfs_damaged("inode %" PRIu64 " chunk %" PRIu64 ": malformed chunk map",
					   ino, mi);
		for (unsigned i = 0; i < map.n; i++) {
			spans[i][0] = mi * ZFS_CHUNK_SIZE + map.e[i].off;
			spans[i][1] = spans[i][0] + map.e[i].len;
		}
		*n = map.n;
		lsm_db_iter_next(w->maps);
		return 0;
	}
	lsm_db_iter_value(w->legacy, &vl);
	if (!lsm_db_iter_valid(w->legacy))
		return zfs_errno(lsm_db_iter_status(w->legacy));
	spans[0][0] = ki * ZFS_CHUNK_SIZE;
	spans[0][1] = spans[0][0] + vl;
	*n = vl ? 1 : 0;
	lsm_db_iter_next(w->legacy);
	if (!*n) /* an empty chunk: look further */
		return next_spans(w, ino, spans, n);
	return 0;
}

int zfs_seek(struct zfs *fs, uint64_t ino, uint64_t off, int what, uint64_t *result)
{
	uint8_t start[ZFS_KEY_EXTENT_LEN];
	struct span_walk w = { 0 };
	uint64_t spans[ZFS_MAP_MAX][2];
	struct zfs_attr a;
	unsigned n;
	int err;

	if ((err = zfs_getattr(fs, ino, &a)))
		return err;
	if (a.type != ZFS_REG)
		return EINVAL;
	if (what != SEEK_DATA && what != SEEK_HOLE)
		return EINVAL;
	if (off >= a.size)
		return ENXIO;
	uint64_t from = off / ZFS_CHUNK_SIZE;
	if ((err = zfs_iter_from(fs, start, zfs_key_map(start, ino, from), &w.maps)) ||
	    (fs->legacy_chunks &&
	     (err = zfs_iter_from(fs, start, zfs_key_chunk(start, ino, from), &w.legacy))))
		goto out;
	/* data is where stored ranges are; the end of file is a hole too */
	uint64_t pos = off;
	bool found = false, done = false;
	while (!done && !(err = next_spans(&w, ino, spans, &n)) && n) {
		for (unsigned i = 0; i < n && !done; i++) {
			uint64_t s = spans[i][0], e = spans[i][1] < a.size ? spans[i][1] : a.size;
			if (what == SEEK_DATA) {
				if (e > pos) {
					*result = s > pos ? s : pos;
					found = done = true;
				}
			} else if (s > pos) {
				done = true; /* a gap before this range */
			} else if (e > pos) {
				pos = e;
			}
		}
	}
	if (!err && w.maps && lsm_db_iter_status(w.maps))
		err = zfs_errno(lsm_db_iter_status(w.maps));
	if (!err && w.legacy && lsm_db_iter_status(w.legacy))
		err = zfs_errno(lsm_db_iter_status(w.legacy));
out:
	lsm_db_iter_free(w.maps);
	lsm_db_iter_free(w.legacy);
	if (err)
		return err;
	if (what == SEEK_DATA)
		return found ? 0 : ENXIO;
	*result = pos < a.size ? pos : a.size;
	return 0;
}
