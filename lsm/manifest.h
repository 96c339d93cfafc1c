/*
 * lsm/manifest.h - the manifest: which objects make up the tree, and who may
 * write it. Manifests are immutable objects numbered 1, 2, 3...
 * (`manifest/<id, 20 digits>`); a new version is written with a create-only
 * PUT of the next number, which makes the update a compare-and-swap: of two
 * writers racing for id N+1, exactly one succeeds.
 *
 * Fencing: a writer bumps writer_epoch when it opens. A writer that finds a
 * manifest with a higher epoch than its own has been replaced and must stop
 * (LSM_EFENCED).
 */
#ifndef ZEROFS_LSM_MANIFEST_H
#define ZEROFS_LSM_MANIFEST_H

#include <stdint.h>

#include "coding.h"
#include "status.h"
#include "store.h"

/* How many bytes of values an SST points to in one WAL object (vlog.h). */
struct lsm_vref {
	uint64_t obj;   /* the WAL object's id */
	uint64_t bytes; /* value bytes the SST's pointers into it cover */
};

/* An SST object as the manifest records it. */
struct lsm_sst_info {
	uint64_t id;   /* object sst/<id, 20 digits>.sst */
	uint64_t size; /* object bytes */
	uint64_t entries;
	uint64_t min_seq, max_seq;
	uint8_t *smallest, *largest; /* user keys, malloc'd */
	size_t smallest_len, largest_len;
	struct lsm_vref *vrefs; /* objects its value pointers name, by obj; malloc'd */
	size_t n_vrefs;
};

/* A sorted run: SSTs with disjoint, increasing key ranges. */
struct lsm_run {
	uint64_t id; /* newer runs have higher ids */
	struct lsm_sst_info *ssts;
	size_t count;
};

struct lsm_checkpoint {
	char *name;
	uint64_t manifest_id; /* the manifest version it pins */
	int64_t created_ms;   /* wall clock */
};

struct lsm_manifest {
	uint64_t id;           /* this version's number; must match the object name */
	uint64_t writer_epoch; /* bumped by every writer that opens the tree */
	uint64_t wal_flushed;  /* WAL objects below this are wholly in SSTs; this one
				* may also hold newer batches (replay it, skipping
				* seqs <= last_seq) */
	uint64_t last_seq;     /* highest sequence number in SSTs */
	uint64_t next_sst_id;  /* SST ids are allocated from here (epoch in the high bits) */
	struct lsm_sst_info *l0; /* newest first */
	size_t l0_count;
	struct lsm_run *runs; /* newest first */
	size_t run_count;
	struct lsm_checkpoint *checkpoints;
	size_t checkpoint_count;
};

void lsm_manifest_init(struct lsm_manifest *m);
void lsm_manifest_free(struct lsm_manifest *m);
/* Deep copy (dst is overwritten, not freed first). */
lsm_status lsm_manifest_copy(struct lsm_manifest *dst, const struct lsm_manifest *src);
lsm_status lsm_sst_info_copy(struct lsm_sst_info *dst, const struct lsm_sst_info *src);
void lsm_sst_info_free(struct lsm_sst_info *s);

/* Byte encoding (docs/FORMAT.md, "Manifest objects"). */
lsm_status lsm_manifest_encode(const struct lsm_manifest *m, struct lsm_buf *out);
/* `id` is the number in the object's name; a mismatch is corruption. */
lsm_status lsm_manifest_decode(const uint8_t *p, size_t n, uint64_t id, struct lsm_manifest *m);

/* Object names. `out` must hold 64 bytes. */
void lsm_manifest_key(uint64_t id, char *out);
void lsm_wal_key(uint64_t id, char *out);
void lsm_sst_key(uint64_t id, char *out);

/* The highest manifest id in the store (0 if none), by listing. */
lsm_status lsm_manifest_latest_id(struct zs3_store *s, uint64_t *id);
/* Reads and decodes manifest `id`. LSM_ENOTFOUND if it does not exist. */
lsm_status lsm_manifest_load(struct zs3_store *s, uint64_t id, struct lsm_manifest *m);
/* Writes m as version m->id, create-only. LSM_EFENCED if that id exists
 * (someone else wrote it first: reload and decide). */
lsm_status lsm_manifest_store(struct zs3_store *s, const struct lsm_manifest *m);

/* Maps an object-store status to the engine's (keeping zs3's detail). */
lsm_status lsm_from_zs3(zs3_status st);

#endif
