/*
 * fsal_zerofs/fs/fs_extents.c - editing chunk maps (fs_records.h, struct
 * zfs_map): cutting a byte range out of a chunk's extents and putting a new
 * extent in its place. Pure: fs_data.c reads and writes the records.
 */
#include <string.h>

#include "fs_int.h"

bool zfs_map_cut(struct zfs_map *m, uint32_t lo, uint32_t hi)
{
	struct zfs_extent out[ZFS_MAP_MAX];
	unsigned n = 0;
	for (unsigned i = 0; i < m->n; i++) {
		struct zfs_extent e = m->e[i];
		uint32_t end = e.off + e.len;
		if (end <= lo || e.off >= hi) { /* untouched */
			if (n == ZFS_MAP_MAX)
				return false;
			out[n++] = e;
			continue;
		}
		if (e.off < lo) { /* its head survives */
			if (n == ZFS_MAP_MAX)
				return false;
			out[n++] = (struct zfs_extent){ e.off, lo - e.off, e.id, e.skip };
		}
		if (end > hi) { /* its tail survives */
			if (n == ZFS_MAP_MAX)
				return false;
			out[n++] = (struct zfs_extent){ hi, end - hi, e.id, e.skip + (hi - e.off) };
		}
	}
	memcpy(m->e, out, n * sizeof(out[0]));
	m->n = n;
	return true;
}

bool zfs_map_insert(struct zfs_map *m, uint32_t off, uint32_t len, uint64_t id)
{
	unsigned i = 0;
	if (m->n == ZFS_MAP_MAX)
		return false;
	while (i < m->n && m->e[i].off < off)
		i++;
	memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof(m->e[0]));
	m->e[i] = (struct zfs_extent){ off, len, id, 0 };
	m->n++;
	if (id >= m->next_id)
		m->next_id = id + 1;
	return true;
}

uint64_t zfs_map_bytes(const struct zfs_map *m)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < m->n; i++)
		sum += m->e[i].len;
	return sum;
}

uint32_t zfs_map_end(const struct zfs_map *m)
{
	return m->n ? m->e[m->n - 1].off + m->e[m->n - 1].len : 0;
}

bool zfs_map_uses(const struct zfs_map *m, uint64_t id)
{
	for (unsigned i = 0; i < m->n; i++)
		if (m->e[i].id == id)
			return true;
	return false;
}
