/*
 * tests/nfs/nfs4_wire.h - a small NFSv4.0/v4.1 client that speaks raw
 * COMPOUNDs over one TCP connection, for the state tests (test_v4_state.c).
 *
 * libnfs 4.0 only speaks NFSv4.0, only opens with deny NONE, and keeps its
 * own (partly wrong) seqid and lock state, so the tests that drive share
 * reservations, special stateids and lock sequences build their requests
 * here, op by op, exactly as a conformance suite would. The XDR is written by
 * hand from RFC 7530 / RFC 8881 for the ops below, and nothing else: a reply
 * holding an op this file cannot decode fails the call.
 *
 * One nfs4_conn is one client: NFSv4.0 (SETCLIENTID + SETCLIENTID_CONFIRM,
 * seqids per owner) or NFSv4.1 (EXCHANGE_ID + CREATE_SESSION, a SEQUENCE op
 * leads every compound, one slot). Not thread-safe: one caller per conn.
 */
#ifndef ZEROFS_TEST_NFS4_WIRE_H
#define ZEROFS_TEST_NFS4_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* NFSv4 status codes the tests look at (RFC 7530 13, RFC 8881 15) */
enum {
	N4_OK = 0,
	N4ERR_PERM = 1,
	N4ERR_NOENT = 2,
	N4ERR_IO = 5,
	N4ERR_ACCESS = 13,
	N4ERR_EXIST = 17,
	N4ERR_INVAL = 22,
	N4ERR_DELAY = 10008,
	N4ERR_DENIED = 10010,
	N4ERR_EXPIRED = 10011,
	N4ERR_LOCKED = 10012,
	N4ERR_GRACE = 10013,
	N4ERR_SHARE_DENIED = 10015,
	N4ERR_STALE_STATEID = 10023,
	N4ERR_OLD_STATEID = 10024,
	N4ERR_BAD_STATEID = 10025,
	N4ERR_BAD_SEQID = 10026,
	N4ERR_LOCK_RANGE = 10028,
	N4ERR_LOCKS_HELD = 10037,
	N4ERR_OPENMODE = 10038,
	N4ERR_SERVERFAULT = 10006,
};

/* share_access / share_deny bits of OPEN and OPEN_DOWNGRADE */
enum { N4_ACCESS_READ = 1, N4_ACCESS_WRITE = 2, N4_ACCESS_BOTH = 3 };
enum { N4_DENY_NONE = 0, N4_DENY_READ = 1, N4_DENY_WRITE = 2, N4_DENY_BOTH = 3 };
/* nfs_lock_type4 */
enum { N4_READ_LT = 1, N4_WRITE_LT = 2 };

struct nfs4_stateid {
	uint32_t seqid;
	uint8_t other[12];
};

/* The special stateids of RFC 7530 9.1.4.3: anonymous (all zeros) and
 * READ bypass (all ones). */
extern const struct nfs4_stateid nfs4_anon_stateid, nfs4_bypass_stateid;

struct nfs4_fh {
	uint32_t len;
	uint8_t val[128];
};

struct nfs4_conn {
	int fd;
	int minor;		/* 0 or 1 */
	uint32_t xid;
	uint64_t clientid;
	uint8_t sessionid[16];	/* v4.1 */
	uint32_t slot_seqid;	/* v4.1: slot 0's next sequenceid */
	char name[96];		/* the client's owner id */
	char error[256];	/* what went wrong on the wire, if anything */
};

/* An open-owner or lock-owner: its name and (v4.0) its next seqid. */
struct nfs4_owner {
	char name[48];
	uint32_t seqid;
};

/* Connects to 127.0.0.1:port and establishes a client named name (unique
 * per test run) with minor version 0 or 1: SETCLIENTID(+CONFIRM), or
 * EXCHANGE_ID + CREATE_SESSION + RECLAIM_COMPLETE. false (reason in
 * c->error) on failure. */
bool nfs4_connect(struct nfs4_conn *c, int port, int minor, const char *name);

/* Ends the session and client (v4.1) and closes the connection. The
 * server reclaims anything left (opens, locks) with the client. */
void nfs4_disconnect(struct nfs4_conn *c);

/* Each call below sends one COMPOUND (SEQUENCE first on v4.1) and returns
 * the status of its last op, or -1 if no well-formed reply came (c->error
 * says why). v4.0 seqids advance as RFC 7530 9.1.7 says (not on
 * BAD_SEQID, BAD_STATEID, STALE_STATEID, STALE_CLIENTID, BADXDR, RESOURCE,
 * NOFILEHANDLE). */

/* PUTROOTFH, LOOKUP of each component of path ("/a/b"), GETFH. */
int nfs4_lookup(struct nfs4_conn *c, const char *path, struct nfs4_fh *fh);

/* OPEN name in dir (PUTFH dir; OPEN CLAIM_NULL; GETFH), creating it
 * (UNCHECKED, mode 0644) if create; a v4.0 first open of an owner is
 * confirmed (OPEN_CONFIRM). The open's stateid in *sid, its handle in *fh
 * (may be NULL). */
int nfs4_open(struct nfs4_conn *c, struct nfs4_owner *oo, const struct nfs4_fh *dir,
	      const char *name, bool create, uint32_t access, uint32_t deny,
	      struct nfs4_stateid *sid, struct nfs4_fh *fh);

/* The same OPEN again with the seqid it used (v4.0 replay): the owner's
 * seqid is stepped back by one first. Only meaningful right after an
 * nfs4_open of the same owner, name and bits that did not need a confirm. */
int nfs4_open_replay(struct nfs4_conn *c, struct nfs4_owner *oo, const struct nfs4_fh *dir,
		     const char *name, uint32_t access, uint32_t deny, struct nfs4_stateid *sid);

int nfs4_open_downgrade(struct nfs4_conn *c, struct nfs4_owner *oo, const struct nfs4_fh *fh,
			struct nfs4_stateid *sid, uint32_t access, uint32_t deny);
int nfs4_close(struct nfs4_conn *c, struct nfs4_owner *oo, const struct nfs4_fh *fh,
	       struct nfs4_stateid *sid);

/* LOCK with a new lock-owner lo, from the open (oo, open_sid): the lock's
 * stateid in *lock_sid. */
int nfs4_lock_new(struct nfs4_conn *c, struct nfs4_owner *oo, const struct nfs4_stateid *open_sid,
		  struct nfs4_owner *lo, const struct nfs4_fh *fh, int type, uint64_t off,
		  uint64_t len, struct nfs4_stateid *lock_sid);
/* LOCK with an existing lock stateid (any stateid may be passed: the tests
 * send special ones too); *lock_sid is updated on success. */
int nfs4_lock_exist(struct nfs4_conn *c, struct nfs4_owner *lo, const struct nfs4_fh *fh,
		    int type, uint64_t off, uint64_t len, struct nfs4_stateid *lock_sid);
int nfs4_locku(struct nfs4_conn *c, struct nfs4_owner *lo, const struct nfs4_fh *fh, int type,
	       uint64_t off, uint64_t len, struct nfs4_stateid *lock_sid);
/* LOCKT for lock-owner name owner of this client. */
int nfs4_lockt(struct nfs4_conn *c, const char *owner, const struct nfs4_fh *fh, int type,
	       uint64_t off, uint64_t len);

/* READ count bytes at off with sid; the bytes in buf (cap bytes), their
 * number in *got. */
int nfs4_read(struct nfs4_conn *c, const struct nfs4_fh *fh, const struct nfs4_stateid *sid,
	      uint64_t off, uint32_t count, void *buf, size_t cap, uint32_t *got);
/* WRITE len bytes FILE_SYNC at off with sid. */
int nfs4_write(struct nfs4_conn *c, const struct nfs4_fh *fh, const struct nfs4_stateid *sid,
	       uint64_t off, const void *data, uint32_t len);
/* SETATTR size with sid. */
int nfs4_setattr_size(struct nfs4_conn *c, const struct nfs4_fh *fh,
		      const struct nfs4_stateid *sid, uint64_t size);
/* GETATTR size. */
int nfs4_getattr_size(struct nfs4_conn *c, const struct nfs4_fh *fh, uint64_t *size);
/* REMOVE name from dir. */
int nfs4_remove(struct nfs4_conn *c, const struct nfs4_fh *dir, const char *name);
/* v4.0 RELEASE_LOCKOWNER / v4.1 FREE_STATEID. */
int nfs4_release_lockowner(struct nfs4_conn *c, const char *owner);
int nfs4_free_stateid(struct nfs4_conn *c, const struct nfs4_stateid *sid);

/* A name for a status ("NFS4ERR_SHARE_DENIED", or the number). */
const char *nfs4_status_name(int st);

#endif
