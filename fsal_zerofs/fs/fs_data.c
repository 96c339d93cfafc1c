/*
 * fsal_zerofs/fs/fs_data.c - file contents: 64 KiB chunks keyed by (ino, index).
 * A chunk holds the bytes from its start to the last byte ever written in it
 * (so the tail chunk of a file is usually short); an absent chunk, and the
 * part of a chunk past its stored length, read as zeros. A write touches only
 * the chunks it covers, and reads back only the partial ones (read-modify-
 * write); truncation deletes whole chunks and trims the one it cuts.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "fs_int.h"

int zfs_tx_del_chunks(struct zfs_tx *tx, uint64_t ino, uint64_t from, uint64_t *freed)
{
	uint8_t start[ZFS_KEY_CHUNK_LEN];
	struct lsm_db_iter *it;
	lsm_status st;
	int err;

	*freed = 0;
	if ((err = zfs_iter_from(tx->fs, start, zfs_key_chunk(start, ino, from), &it)))
		return err;
	/* only the chunks that exist: a sparse file's holes cost nothing */
	for (; lsm_db_iter_valid(it) && !tx->err; lsm_db_iter_next(it)) {
		size_t kl, vl;
		const uint8_t *k = lsm_db_iter_key(it, &kl);
		lsm_db_iter_value(it, &vl);
		*freed += vl;
		zfs_tx_del_raw(tx, k, kl);
	}
	st = lsm_db_iter_status(it);
	lsm_db_iter_free(it);
	return tx->err ? tx->err : zfs_errno(st);
}

static int load_chunk(struct zfs *fs, uint64_t ino, uint64_t idx, struct lsm_buf *out)
{
	uint8_t k[ZFS_KEY_CHUNK_LEN];
	int err = zfs_errno(lsm_get(fs->db, k, zfs_key_chunk(k, ino, idx), out));
	if (err == ENOENT) {
		out->len = 0;
		return 0;
	}
	if (!err && out->len > ZFS_CHUNK_SIZE)
		err = zfs_damaged("inode %" PRIu64 " chunk %" PRIu64 ": %zu bytes, more than a chunk",
				  ino, idx, out->len);
	return err;
}

int zfs_read(struct zfs *fs, uint64_t ino, uint64_t off, size_t len, void *buf, size_t *got,
	     bool *eof)
{
	struct zfs_attr a;
	struct lsm_buf chunk = { 0 };
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
		if ((err = load_chunk(fs, ino, idx, &chunk)))
			break;
		size_t have = chunk.len > in ? chunk.len - in : 0;
		if (have > n)
			have = n;
		if (have)
			memcpy(dst + *got, chunk.data + in, have);
		memset(dst + *got + have, 0, n - have); /* a hole, or past the stored tail */
		*got += n;
	}
	lsm_buf_free(&chunk);
	*eof = off + *got >= a.size;
	return err;
}

int zfs_write(struct zfs *fs, uint64_t ino, uint64_t off, size_t len, const void *buf,
	      bool durable, struct zfs_attr *attr)
{
	struct zfs_inode in;
	struct lsm_buf chunk = { 0 };
	const uint8_t *src = buf;
	struct zfs_locks l = { 0 };
	struct zfs_tx tx;
	int err;

	if (off > ZFS_MAX_FILE_SIZE || len > ZFS_MAX_FILE_SIZE - off)
		return EFBIG;
	zfs_op_begin();
	/* The partial chunks at either end are read back under the lock:
	 * read them first, so a cold one comes from the store into the caches
	 * now, with no lock held (a concurrent write only makes it warmer). */
	if (len > 0) {
		uint64_t first = off / ZFS_CHUNK_SIZE, last = (off + len - 1) / ZFS_CHUNK_SIZE;
		bool first_partial = off % ZFS_CHUNK_SIZE || (off + len) < (first + 1) * ZFS_CHUNK_SIZE;
		bool last_partial = last != first && (off + len) % ZFS_CHUNK_SIZE;
		if ((first_partial && (err = load_chunk(fs, ino, first, &chunk))) ||
		    (last_partial && (err = load_chunk(fs, ino, last, &chunk)))) {
			lsm_buf_free(&chunk);
			return err;
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
	uint64_t used = in.a.used;
	for (size_t done = 0; done < len && !err;) {
		uint64_t pos = off + done, idx = pos / ZFS_CHUNK_SIZE;
		size_t at = (size_t)(pos % ZFS_CHUNK_SIZE), n = ZFS_CHUNK_SIZE - at;
		uint8_t k[ZFS_KEY_CHUNK_LEN];
		if (n > len - done)
			n = len - done;
		if ((err = load_chunk(fs, ino, idx, &chunk)))
			break;
		size_t old_len = chunk.len, new_len = at + n > old_len ? at + n : old_len;
		if (n == ZFS_CHUNK_SIZE) { /* a whole chunk: no need to read it */
			zfs_tx_put_raw(&tx, k, zfs_key_chunk(k, ino, idx), src + done, n);
		} else {
			if (lsm_buf_reserve(&chunk, new_len - chunk.len) != LSM_OK) {
				err = ENOMEM;
				break;
			}
			if (at > chunk.len) /* a gap inside the chunk reads as zeros */
				memset(chunk.data + chunk.len, 0, at - chunk.len);
			memcpy(chunk.data + at, src + done, n);
			chunk.len = new_len;
			zfs_tx_put_raw(&tx, k, zfs_key_chunk(k, ino, idx), chunk.data, chunk.len);
		}
		used += (n == ZFS_CHUNK_SIZE ? ZFS_CHUNK_SIZE : new_len) - old_len;
		done += n;
	}
	if (err) {
		zfs_tx_abort(&tx);
		goto out_inode;
	}
	tx.dbytes += (int64_t)(used - in.a.used);
	in.a.used = used;
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
	lsm_buf_free(&chunk);
	zfs_unlock(fs, &l);
	if (!err && durable)
		err = zfs_commit_mine(fs);
	return err;
}

/* Truncation inside tx: drops chunks past new_size and trims the cut one. */
static int tx_truncate(struct zfs_tx *tx, struct zfs_inode *in, uint64_t new_size)
{
	struct lsm_buf chunk = { 0 };
	uint64_t freed = 0, keep = (new_size + ZFS_CHUNK_SIZE - 1) / ZFS_CHUNK_SIZE;
	int err;
	if (new_size >= in->a.size)
		return 0; /* growing is sparse: nothing to write */
	if ((err = zfs_tx_del_chunks(tx, in->a.ino, keep, &freed)))
		return err;
	if (new_size % ZFS_CHUNK_SIZE) {
		uint64_t idx = new_size / ZFS_CHUNK_SIZE;
		size_t cut = (size_t)(new_size % ZFS_CHUNK_SIZE);
		uint8_t k[ZFS_KEY_CHUNK_LEN];
		if ((err = load_chunk(tx->fs, in->a.ino, idx, &chunk)) == 0 && chunk.len > cut) {
			freed += chunk.len - cut;
			zfs_tx_put_raw(tx, k, zfs_key_chunk(k, in->a.ino, idx), chunk.data, cut);
		}
	}
	lsm_buf_free(&chunk);
	if (err)
		return err;
	freed = freed < in->a.used ? freed : in->a.used;
	in->a.used -= freed;
	tx->dbytes -= (int64_t)freed;
	return 0;
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

int zfs_seek(struct zfs *fs, uint64_t ino, uint64_t off, int what, uint64_t *result)
{
	uint8_t start[ZFS_KEY_CHUNK_LEN];
	struct lsm_db_iter *it;
	struct zfs_attr a;
	lsm_status st;
	int err;

	if ((err = zfs_getattr(fs, ino, &a)))
		return err;
	if (a.type != ZFS_REG)
		return EINVAL;
	if (what != SEEK_DATA && what != SEEK_HOLE)
		return EINVAL;
	if (off >= a.size)
		return ENXIO;
	if ((err = zfs_iter_from(fs, start, zfs_key_chunk(start, ino, off / ZFS_CHUNK_SIZE), &it)))
		return err;
	/* walk the stored chunks from off's chunk on: data is where they are */
	uint64_t pos = off;
	bool found = false;
	for (; lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		size_t kl, vl;
		const uint8_t *k = lsm_db_iter_key(it, &kl);
		lsm_db_iter_value(it, &vl);
		uint64_t cstart = zfs_be64(k + ZFS_KEY_PREFIX_LEN) * ZFS_CHUNK_SIZE, cend = cstart + vl;
		if (cend > a.size)
			cend = a.size;
		if (what == SEEK_DATA) { /* the first stored byte at or after off */
			if (cend > pos && vl > 0) {
				*result = cstart > pos ? cstart : pos;
				found = true;
				break;
			}
		} else { /* SEEK_HOLE: the first byte not covered by stored chunks */
			if (cstart > pos)
				break; /* a gap before this chunk */
			if (cend >= pos)
				pos = cend;
			if (cend - cstart < ZFS_CHUNK_SIZE && cend < a.size)
				break; /* a short chunk: a hole follows it */
		}
	}
	st = lsm_db_iter_status(it);
	lsm_db_iter_free(it);
	if (st)
		return zfs_errno(st);
	if (what == SEEK_DATA)
		return found ? 0 : ENXIO;
	*result = pos < a.size ? pos : a.size; /* the end of file is a hole too */
	return 0;
}
