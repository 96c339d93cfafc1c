/*
 * tests/nfs/test_v4_state.c - NFSv4 open, share and lock state through the
 * plugin, driven by raw COMPOUNDs (nfs4_wire.h) over NFSv4.0 and v4.1, as a
 * conformance suite drives them: share reservations (the whole access x deny
 * matrix, from a second open-owner of the same client and from a second
 * client), OPEN_DOWNGRADE, replayed and new OPENs, LOCK/LOCKU/LOCKT after
 * the other opens are closed, the special stateids (all zeros, all ones) for
 * READ, WRITE and SETATTR(size) while other clients hold the file open, and
 * clients racing LOCK/LOCKU/CLOSE on one file. Each case must be answered
 * and the server must stay up: the plugin once dereferenced the NULL
 * temporary fd ganesha's fsal_find_fd() hands to open_func on some of these
 * paths (issue 10).
 *
 * Every case runs against the ZEROFS export and, in the same ganesha,
 * against an FSAL_VFS export of a local directory. Where the RFCs fix the
 * answer (share conflicts, open modes) the test asserts it for both; where
 * they leave a choice to the server (the special stateids), ZEROFS must
 * answer what ganesha's own FSAL_VFS answers.
 *
 *   test_v4_state SRC_DIR PLUGIN_DIR WORK_DIR [name-filter]
 *
 * Needs root (ganesha with a private rpcbind), ganesha, nfs-ganesha-vfs.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "nfs4_wire.h"
#include "testlib.h"

/* Debian's FSAL directory: FSAL_VFS, the reference */
#define SYSTEM_FSAL_DIR "/usr/lib/x86_64-linux-gnu/ganesha"

static const char *const exports[] = { "/zerofs", "/vfs" };

/* One test's context: the protocol, the export and its root's handle. */
struct env {
	int minor;
	const char *export;
	struct nfs4_fh root;
	char tag[24]; /* "v4.1/zerofs" */
};

static unsigned name_seq;

/* A name no earlier case used. */
static void fresh_name(char *buf, size_t cap, const char *what)
{
	snprintf(buf, cap, "%s-%llx-%u", what, seed & 0xffffff, ++name_seq);
}

/* A new client of the export's server (unique name). */
static bool conn(struct env *e, struct nfs4_conn *c, const char *who)
{
	char name[96];

	snprintf(name, sizeof(name), "zerofs-v4state-%s-%s-%llx-%u", who, e->tag, seed, ++name_seq);
	for (char *p = name; *p; p++)
		if (*p == '/')
			*p = '_';
	if (nfs4_connect(c, nfs_port, e->minor, name))
		return true;
	fprintf(stderr, "  %s: connect: %s\n", who, c->error);
	return false;
}

static void owner(struct nfs4_owner *o, const char *name)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s-%u", name, ++name_seq);
}

/* Creates name in the export's root with len bytes of content (open,
 * FILE_SYNC write, close); its handle in *fh. */
static bool make_file(struct env *e, struct nfs4_conn *c, const char *name, const void *data,
		      uint32_t len, struct nfs4_fh *fh)
{
	struct nfs4_owner o;
	struct nfs4_stateid sid;
	int st;

	owner(&o, "creator");
	st = nfs4_open(c, &o, &e->root, name, true, N4_ACCESS_BOTH, N4_DENY_NONE, &sid, fh);
	if (st != N4_OK) {
		fprintf(stderr, "  create %s: %s %s\n", name, nfs4_status_name(st), c->error);
		return false;
	}
	if (len && (st = nfs4_write(c, fh, &sid, 0, data, len)) != N4_OK)
		fprintf(stderr, "  write %s: %s %s\n", name, nfs4_status_name(st), c->error);
	int cst = nfs4_close(c, &o, fh, &sid);
	return st == N4_OK && cst == N4_OK;
}

/* The server still answers: a new client looks up the export's root. */
static bool server_alive(struct env *e)
{
	struct nfs4_conn c;
	struct nfs4_fh fh;
	bool ok;

	if (!conn(e, &c, "alive"))
		return false;
	ok = nfs4_lookup(&c, e->export, &fh) == N4_OK;
	nfs4_disconnect(&c);
	return ok;
}

#define EXPECT_ST(got, want, ...)                                                          \
	do {                                                                               \
		int got_ = (got), want_ = (want);                                          \
		if (got_ != want_) {                                                       \
			tl_failures++;                                                     \
			fprintf(stderr, "  FAIL %s:%d: [%s] ", __FILE__, __LINE__, e->tag); \
			fprintf(stderr, __VA_ARGS__);                                      \
			fprintf(stderr, ": %s, want %s\n", nfs4_status_name(got_),          \
				nfs4_status_name(want_));                                  \
		}                                                                          \
	} while (0)

static const char *access_name(uint32_t a)
{
	static const char *const n[] = { "-", "READ", "WRITE", "BOTH" };
	return n[a & 3];
}

static const char *deny_name(uint32_t d)
{
	static const char *const n[] = { "NONE", "READ", "WRITE", "BOTH" };
	return n[d & 3];
}

/* ---- share reservations ----------------------------------------------------------- */

/* The matrix: a holder opens with (access, deny); a second open (another
 * owner of the same client, or another client) asks for (access, deny). It
 * must get SHARE_DENIED exactly when its access meets the holder's deny or
 * its deny meets the holder's access (RFC 7530 9.9, RFC 8881 9.7). With
 * creates, each case has a new file that the holder's OPEN creates. */
static void share_matrix(struct env *e, bool other_client, bool creates)
{
	struct nfs4_conn a, b0, *b = &a;
	struct nfs4_fh fh;
	char name[64];
	int cases = 0;

	REQUIRE(conn(e, &a, "holder"));
	if (other_client) {
		if (!conn(e, &b0, "second")) {
			nfs4_disconnect(&a);
			REQUIRE(0);
		}
		b = &b0;
	}
	fresh_name(name, sizeof(name), "matrix");
	if (!make_file(e, &a, name, "x", 1, &fh))
		goto out;

	/* holder (BOTH, deny D) against a second open (access A, deny NONE),
	 * then holder (access X, deny NONE) against a second open (READ or
	 * WRITE as needed so it has some access, deny D) */
	for (int dir = 0; dir < 2; dir++) {
		for (uint32_t d = 0; d <= 3; d++) {
			for (uint32_t x = 1; x <= 3; x++) {
				uint32_t h_acc = dir == 0 ? N4_ACCESS_BOTH : x;
				uint32_t h_deny = dir == 0 ? d : N4_DENY_NONE;
				uint32_t r_acc = dir == 0 ? x : N4_ACCESS_READ;
				uint32_t r_deny = dir == 0 ? N4_DENY_NONE : d;
				bool conflict = (r_acc & h_deny) || (r_deny & h_acc);
				struct nfs4_owner ho, ro;
				struct nfs4_stateid hs, rs;
				int st;

				if (dir == 1 && x != 1 && d == 0)
					continue; /* the same as dir 0 */
				owner(&ho, "holder");
				owner(&ro, "other");
				if (creates)
					fresh_name(name, sizeof(name), "matrix-created");
				st = nfs4_open(&a, &ho, &e->root, name, creates, h_acc, h_deny, &hs,
					       &fh);
				EXPECT_ST(st, N4_OK, "holder OPEN %s deny %s", access_name(h_acc),
					  deny_name(h_deny));
				if (st != N4_OK)
					continue;
				st = nfs4_open(b, &ro, &e->root, name, false, r_acc, r_deny, &rs, NULL);
				EXPECT_ST(st, conflict ? N4ERR_SHARE_DENIED : N4_OK,
					  "%s OPEN %s deny %s against a holder's %s deny %s",
					  other_client ? "another client's" : "another owner's",
					  access_name(r_acc), deny_name(r_deny), access_name(h_acc),
					  deny_name(h_deny));
				if (st == N4_OK)
					EXPECT_ST(nfs4_close(b, &ro, &fh, &rs), N4_OK, "second CLOSE");
				EXPECT_ST(nfs4_close(&a, &ho, &fh, &hs), N4_OK, "holder CLOSE");
				cases++;
			}
		}
	}
	/* with every open closed, anything goes again */
	{
		struct nfs4_owner o;
		struct nfs4_stateid s;
		owner(&o, "after");
		EXPECT_ST(nfs4_open(b, &o, &e->root, name, false, N4_ACCESS_BOTH, N4_DENY_BOTH, &s,
				    NULL),
			  N4_OK, "OPEN BOTH deny BOTH after every close");
		EXPECT_ST(nfs4_close(b, &o, &fh, &s), N4_OK, "CLOSE");
	}
	CHECK_MSG(cases == 22, "ran %d share cases", cases);
out:
	if (other_client)
		nfs4_disconnect(&b0);
	nfs4_disconnect(&a);
	CHECK_MSG(server_alive(e), "[%s] server down", e->tag);
}

static void t_share_same_client(void *ctx)
{
	share_matrix(ctx, false, false);
}

static void t_share_other_client(void *ctx)
{
	share_matrix(ctx, true, false);
}

static void t_share_created_same_client(void *ctx)
{
	share_matrix(ctx, false, true);
}

static void t_share_created_other_client(void *ctx)
{
	share_matrix(ctx, true, true);
}

/* OPEN_DOWNGRADE narrows an open's access and deny, and the others' opens
 * follow. The holder's open is an upgrade (READ deny NONE, then WRITE deny
 * WRITE by the same owner: BOTH deny WRITE), so that READ deny WRITE and
 * READ deny NONE are modes it has held, as a downgrade requires (RFC 7530
 * 16.19.4); one to a mode it never held is INVAL. Not run on FSAL_VFS:
 * its reopen2 checks an upgrade or downgrade against the open's own share
 * reservation too, so there the downgrade to READ deny WRITE fails
 * (SERVERFAULT), as ganesha 4.3 ships it. */
static void t_downgrade(void *ctx)
{
	struct env *e = ctx;
	struct nfs4_conn a, b;
	struct nfs4_owner ho, ro, po;
	struct nfs4_stateid hs, rs, ps;
	struct nfs4_fh fh;
	char name[64];

	REQUIRE(conn(e, &a, "holder"));
	if (!conn(e, &b, "second")) {
		nfs4_disconnect(&a);
		REQUIRE(0);
	}
	fresh_name(name, sizeof(name), "downgrade");
	if (!make_file(e, &a, name, "y", 1, &fh))
		goto out;
	owner(&ho, "holder");
	owner(&ro, "other");
	EXPECT_ST(nfs4_open(&a, &ho, &e->root, name, false, N4_ACCESS_READ, N4_DENY_NONE, &hs, NULL),
		  N4_OK, "OPEN READ deny NONE");
	EXPECT_ST(nfs4_open(&a, &ho, &e->root, name, false, N4_ACCESS_WRITE, N4_DENY_WRITE, &hs, NULL),
		  N4_OK, "OPEN upgrade WRITE deny WRITE");
	if (nfs4_open(&b, &ro, &e->root, name, false, N4_ACCESS_READ, N4_DENY_NONE, &rs, NULL) ==
	    N4_OK)
		EXPECT_ST(nfs4_close(&b, &ro, &fh, &rs), N4_OK, "CLOSE");
	else
		CHECK_MSG(0, "[%s] READ refused against deny WRITE", e->tag);
	EXPECT_ST(nfs4_open(&b, &ro, &e->root, name, false, N4_ACCESS_WRITE, N4_DENY_NONE, &rs, NULL),
		  N4ERR_SHARE_DENIED, "WRITE against deny WRITE");
	EXPECT_ST(nfs4_open(&b, &ro, &e->root, name, false, N4_ACCESS_READ, N4_DENY_READ, &rs, NULL),
		  N4ERR_SHARE_DENIED, "deny READ against a reader and writer");
	/* deny WRITE is refused while the holder may write, granted once it
	 * has downgraded to READ */
	EXPECT_ST(nfs4_open(&b, &ro, &e->root, name, false, N4_ACCESS_READ, N4_DENY_WRITE, &rs, NULL),
		  N4ERR_SHARE_DENIED, "deny WRITE against a writer");
	EXPECT_ST(nfs4_open_downgrade(&a, &ho, &fh, &hs, N4_ACCESS_READ, N4_DENY_WRITE), N4_OK,
		  "OPEN_DOWNGRADE to READ deny WRITE");
	if (nfs4_open(&b, &ro, &e->root, name, false, N4_ACCESS_READ, N4_DENY_WRITE, &rs, NULL) ==
	    N4_OK)
		EXPECT_ST(nfs4_close(&b, &ro, &fh, &rs), N4_OK, "CLOSE");
	else
		CHECK_MSG(0, "[%s] deny WRITE refused after the holder's downgrade to READ", e->tag);
	EXPECT_ST(nfs4_open(&b, &ro, &e->root, name, false, N4_ACCESS_WRITE, N4_DENY_NONE, &rs, NULL),
		  N4ERR_SHARE_DENIED, "WRITE against deny WRITE after the downgrade");
	/* the holder reads only now. (The RFCs want OPENMODE; ganesha 4.3's
	 * OPEN_DOWNGRADE leaves the open's access in its state layer as it
	 * was, so the refusal comes from the share check: LOCKED.) */
	{
		int st = nfs4_write(&a, &fh, &hs, 0, "z", 1);
		CHECK_MSG(st == N4ERR_OPENMODE || st == N4ERR_LOCKED,
			  "[%s] WRITE with an open downgraded to READ deny WRITE: %s", e->tag,
			  nfs4_status_name(st));
	}
	EXPECT_ST(nfs4_open_downgrade(&a, &ho, &fh, &hs, N4_ACCESS_READ, N4_DENY_NONE), N4_OK,
		  "OPEN_DOWNGRADE to READ deny NONE");
	if (nfs4_open(&b, &ro, &e->root, name, false, N4_ACCESS_WRITE, N4_DENY_NONE, &rs, NULL) ==
	    N4_OK)
		EXPECT_ST(nfs4_close(&b, &ro, &fh, &rs), N4_OK, "CLOSE");
	else
		CHECK_MSG(0, "[%s] WRITE refused after the downgrade to deny NONE", e->tag);
	EXPECT_ST(nfs4_close(&a, &ho, &fh, &hs), N4_OK, "holder CLOSE");
	/* a downgrade must be a subset of what the open holds. Last, from an
	 * owner of its own: ganesha 4.3 does not step a v4.0 seqid on this
	 * error (RFC 7530 9.1.7 says it should), so the owner is not used
	 * again; its open goes with the client. */
	owner(&po, "probe");
	EXPECT_ST(nfs4_open(&a, &po, &e->root, name, false, N4_ACCESS_READ, N4_DENY_NONE, &ps, NULL),
		  N4_OK, "OPEN READ");
	EXPECT_ST(nfs4_open_downgrade(&a, &po, &fh, &ps, N4_ACCESS_WRITE, N4_DENY_NONE), N4ERR_INVAL,
		  "OPEN_DOWNGRADE to WRITE from READ");
out:
	nfs4_disconnect(&b);
	nfs4_disconnect(&a);
	CHECK_MSG(server_alive(e), "[%s] server down", e->tag);
}

/* NFSv4.0: a replayed OPEN (same owner, same seqid) gets the first answer
 * again; a new OPEN (next seqid) is judged afresh, and one that conflicts
 * with a deny held by another owner is SHARE_DENIED. */
static void t_open_replay(void *ctx)
{
	struct env *e = ctx;
	struct nfs4_conn a, b;
	struct nfs4_owner ho, ro;
	struct nfs4_stateid hs, rs, rs2;
	struct nfs4_fh fh;
	char name[64], warm[64];

	REQUIRE(conn(e, &a, "holder"));
	if (!conn(e, &b, "second")) {
		nfs4_disconnect(&a);
		REQUIRE(0);
	}
	fresh_name(name, sizeof(name), "replay");
	fresh_name(warm, sizeof(warm), "replay-warm");
	struct nfs4_fh wfh;
	if (!make_file(e, &a, name, "r", 1, &fh) || !make_file(e, &a, warm, "w", 1, &wfh))
		goto out;
	owner(&ho, "holder");
	owner(&ro, "other");
	/* the second owner is confirmed first (on another file), so that its
	 * OPENs below are single ops that can be replayed */
	EXPECT_ST(nfs4_open(&b, &ro, &e->root, warm, false, N4_ACCESS_READ, N4_DENY_NONE, &rs, NULL),
		  N4_OK, "warm-up OPEN");

	/* a successful OPEN, replayed: the same stateid */
	EXPECT_ST(nfs4_open(&b, &ro, &e->root, name, false, N4_ACCESS_READ, N4_DENY_NONE, &rs, NULL),
		  N4_OK, "OPEN READ");
	EXPECT_ST(nfs4_open_replay(&b, &ro, &e->root, name, N4_ACCESS_READ, N4_DENY_NONE, &rs2),
		  N4_OK, "replayed OPEN READ");
	CHECK_MSG(memcmp(rs.other, rs2.other, 12) == 0 && rs.seqid == rs2.seqid,
		  "[%s] a replayed OPEN returned another stateid", e->tag);
	/* the holder cannot deny READ now */
	EXPECT_ST(nfs4_open(&a, &ho, &e->root, name, false, N4_ACCESS_WRITE, N4_DENY_READ, &hs, NULL),
		  N4ERR_SHARE_DENIED, "OPEN deny READ against a reader");
	EXPECT_ST(nfs4_close(&b, &ro, &fh, &rs), N4_OK, "CLOSE");
	EXPECT_ST(nfs4_open(&a, &ho, &e->root, name, false, N4_ACCESS_WRITE, N4_DENY_READ, &hs, NULL),
		  N4_OK, "OPEN deny READ once the reader closed");

	/* a denied OPEN, replayed, then a new one: denied each time */
	EXPECT_ST(nfs4_open(&b, &ro, &e->root, name, false, N4_ACCESS_READ, N4_DENY_NONE, &rs, NULL),
		  N4ERR_SHARE_DENIED, "OPEN READ against deny READ");
	EXPECT_ST(nfs4_open_replay(&b, &ro, &e->root, name, N4_ACCESS_READ, N4_DENY_NONE, &rs),
		  N4ERR_SHARE_DENIED, "replayed OPEN READ against deny READ");
	EXPECT_ST(nfs4_open(&b, &ro, &e->root, name, false, N4_ACCESS_READ, N4_DENY_NONE, &rs, NULL),
		  N4ERR_SHARE_DENIED, "new OPEN READ against deny READ");
	EXPECT_ST(nfs4_open(&b, &ro, &e->root, name, false, N4_ACCESS_BOTH, N4_DENY_NONE, &rs, NULL),
		  N4ERR_SHARE_DENIED, "new OPEN BOTH against deny READ");
	EXPECT_ST(nfs4_close(&a, &ho, &fh, &hs), N4_OK, "holder CLOSE");
out:
	nfs4_disconnect(&b);
	nfs4_disconnect(&a);
	CHECK_MSG(server_alive(e), "[%s] server down", e->tag);
}

/* ---- locks ------------------------------------------------------------------------------ */

/* LOCK from one open, the other open CLOSEd, then LOCKU, LOCK again and
 * LOCKT from elsewhere; then CLOSE with the lock held and LOCKU after it. */
static void t_lock_after_close(void *ctx)
{
	struct env *e = ctx;
	struct nfs4_conn a, b;
	struct nfs4_owner oa, ob, la, lb;
	struct nfs4_stateid sa, sb, ls, lsb;
	struct nfs4_fh fh;
	char name[64];
	int st;

	REQUIRE(conn(e, &a, "locker"));
	if (!conn(e, &b, "tester")) {
		nfs4_disconnect(&a);
		REQUIRE(0);
	}
	fresh_name(name, sizeof(name), "locks");
	if (!make_file(e, &a, name, "0123456789", 10, &fh))
		goto out;
	owner(&oa, "open-a");
	owner(&ob, "open-b");
	owner(&la, "lock-a");
	owner(&lb, "lock-b");

	/* LOCKT on a file nobody has open */
	EXPECT_ST(nfs4_lockt(&b, "probe", &fh, N4_WRITE_LT, 0, 100), N4_OK, "LOCKT, no opens");

	EXPECT_ST(nfs4_open(&a, &oa, &e->root, name, false, N4_ACCESS_BOTH, N4_DENY_NONE, &sa, NULL),
		  N4_OK, "OPEN a");
	EXPECT_ST(nfs4_open(&a, &ob, &e->root, name, false, N4_ACCESS_BOTH, N4_DENY_NONE, &sb, NULL),
		  N4_OK, "OPEN b");
	st = nfs4_lock_new(&a, &ob, &sb, &la, &fh, N4_WRITE_LT, 0, 100, &ls);
	EXPECT_ST(st, N4_OK, "LOCK from open b");
	EXPECT_ST(nfs4_close(&a, &oa, &fh, &sa), N4_OK, "CLOSE of the other open");
	EXPECT_ST(nfs4_lockt(&b, "probe", &fh, N4_READ_LT, 50, 10), N4ERR_DENIED,
		  "LOCKT against the held lock");
	if (st == N4_OK) {
		EXPECT_ST(nfs4_locku(&a, &la, &fh, N4_WRITE_LT, 0, 100, &ls), N4_OK,
			  "LOCKU after the other open's CLOSE");
		EXPECT_ST(nfs4_locku(&a, &la, &fh, N4_WRITE_LT, 0, 100, &ls), N4_OK,
			  "LOCKU of a range no longer locked");
		EXPECT_ST(nfs4_lock_exist(&a, &la, &fh, N4_READ_LT, 10, 10, &ls), N4_OK,
			  "LOCK again with the lock stateid");
	}
	EXPECT_ST(nfs4_lockt(&b, "probe", &fh, N4_READ_LT, 0, 100), N4_OK,
		  "LOCKT READ against a READ lock");
	EXPECT_ST(nfs4_lockt(&b, "probe", &fh, N4_WRITE_LT, 0, 100), N4ERR_DENIED,
		  "LOCKT WRITE against a READ lock");

	/* a second client's lock on the range is refused, on another granted */
	{
		struct nfs4_owner ob2, lb2;
		struct nfs4_stateid s2, l2;
		owner(&ob2, "open-b2");
		owner(&lb2, "lock-b2");
		EXPECT_ST(nfs4_open(&b, &ob2, &e->root, name, false, N4_ACCESS_BOTH, N4_DENY_NONE, &s2,
				    NULL),
			  N4_OK, "second client OPEN");
		EXPECT_ST(nfs4_lock_new(&b, &ob2, &s2, &lb2, &fh, N4_WRITE_LT, 15, 1, &l2),
			  N4ERR_DENIED, "conflicting LOCK of another client");
		EXPECT_ST(nfs4_lock_new(&b, &ob2, &s2, &lb2, &fh, N4_WRITE_LT, 200, 1, &l2), N4_OK,
			  "LOCK of another range by another client");
		lsb = l2;
		EXPECT_ST(nfs4_locku(&b, &lb2, &fh, N4_WRITE_LT, 200, 1, &lsb), N4_OK, "its LOCKU");
		/* a lock-owner without locks is released: v4.0 by name, v4.1 by
		 * its stateid, before the open goes */
		if (e->minor == 0)
			EXPECT_ST(nfs4_release_lockowner(&b, lb2.name), N4_OK, "RELEASE_LOCKOWNER");
		else
			EXPECT_ST(nfs4_free_stateid(&b, &lsb), N4_OK, "FREE_STATEID");
		EXPECT_ST(nfs4_close(&b, &ob2, &fh, &s2), N4_OK, "its CLOSE");
	}

	/* CLOSE with the lock still held: v4.0 servers refuse (LOCKS_HELD) or
	 * release the locks; either way LOCKU must be answered after it */
	st = nfs4_close(&a, &ob, &fh, &sb);
	CHECK_MSG(st == N4_OK || st == N4ERR_LOCKS_HELD, "[%s] CLOSE with a lock held: %s", e->tag,
		  nfs4_status_name(st));
	int u = nfs4_locku(&a, &la, &fh, N4_READ_LT, 10, 10, &ls);
	CHECK_MSG(u == N4_OK || u == N4ERR_BAD_STATEID || u == N4ERR_OLD_STATEID, "[%s] LOCKU: %s",
		  e->tag, nfs4_status_name(u));
	if (st == N4ERR_LOCKS_HELD)
		EXPECT_ST(nfs4_close(&a, &ob, &fh, &sb), N4_OK, "CLOSE once unlocked");
	EXPECT_ST(nfs4_lockt(&b, "probe", &fh, N4_WRITE_LT, 0, 1000), N4_OK, "LOCKT, all released");
	(void)lb;
out:
	nfs4_disconnect(&b);
	nfs4_disconnect(&a);
	CHECK_MSG(server_alive(e), "[%s] server down", e->tag);
}

/* LOCK and LOCKU with the special stateids: no lock state can be named by
 * them, so the server must refuse (BAD_STATEID) and stay up. */
static void t_lock_special_stateids(void *ctx)
{
	struct env *e = ctx;
	struct nfs4_conn a;
	struct nfs4_owner oa, la;
	struct nfs4_stateid sa, sid;
	struct nfs4_fh fh;
	char name[64];

	REQUIRE(conn(e, &a, "locker"));
	fresh_name(name, sizeof(name), "lock-special");
	if (!make_file(e, &a, name, "s", 1, &fh))
		goto out;
	owner(&oa, "open");
	owner(&la, "lock");
	EXPECT_ST(nfs4_open(&a, &oa, &e->root, name, false, N4_ACCESS_BOTH, N4_DENY_NONE, &sa, NULL),
		  N4_OK, "OPEN");
	const struct nfs4_stateid *specials[] = { &nfs4_anon_stateid, &nfs4_bypass_stateid };
	for (int i = 0; i < 2; i++) {
		const char *what = i ? "all-ones" : "all-zeros";
		int st;
		sid = *specials[i];
		st = nfs4_lock_exist(&a, &la, &fh, N4_WRITE_LT, 0, 10, &sid);
		CHECK_MSG(st == N4ERR_BAD_STATEID || st == N4ERR_STALE_STATEID, "[%s] LOCK with the %s stateid: %s",
			  e->tag, what, nfs4_status_name(st));
		sid = *specials[i];
		st = nfs4_locku(&a, &la, &fh, N4_WRITE_LT, 0, 10, &sid);
		CHECK_MSG(st == N4ERR_BAD_STATEID || st == N4ERR_STALE_STATEID, "[%s] LOCKU with the %s stateid: %s",
			  e->tag, what, nfs4_status_name(st));
		/* and as the open stateid of a new lock-owner */
		st = nfs4_lock_new(&a, &oa, specials[i], &la, &fh, N4_WRITE_LT, 0, 10, &sid);
		CHECK_MSG(st == N4ERR_BAD_STATEID || st == N4ERR_STALE_STATEID,
			  "[%s] LOCK from the %s open stateid: %s", e->tag, what, nfs4_status_name(st));
	}
	/* the open still works */
	struct nfs4_stateid ls;
	EXPECT_ST(nfs4_lock_new(&a, &oa, &sa, &la, &fh, N4_WRITE_LT, 0, 10, &ls), N4_OK, "real LOCK");
	EXPECT_ST(nfs4_locku(&a, &la, &fh, N4_WRITE_LT, 0, 10, &ls), N4_OK, "real LOCKU");
	EXPECT_ST(nfs4_close(&a, &oa, &fh, &sa), N4_OK, "CLOSE");
out:
	nfs4_disconnect(&a);
	CHECK_MSG(server_alive(e), "[%s] server down", e->tag);
}

/* ---- special stateids for I/O ------------------------------------------------------------------ */

struct io_answers {
	int read_anon, read_bypass, write_anon, write_bypass, trunc_anon, trunc_bypass;
};

/* READ, WRITE and SETATTR(size) with the special stateids while another
 * client holds the file open with (access, deny); the answers in *ans, the
 * file's content checked where a write or truncate was allowed. */
static void special_io(struct env *e, uint32_t access, uint32_t deny, struct io_answers *ans)
{
	struct nfs4_conn a, b;
	struct nfs4_owner oa;
	struct nfs4_stateid sa;
	struct nfs4_fh fh;
	char name[64], buf[64];
	uint32_t got;
	uint64_t size = 0;

	memset(ans, 0xff, sizeof(*ans));
	if (!conn(e, &a, "holder"))
		return;
	if (!conn(e, &b, "anon")) {
		nfs4_disconnect(&a);
		return;
	}
	fresh_name(name, sizeof(name), "special-io");
	if (!make_file(e, &a, name, "abcdefgh", 8, &fh))
		goto out;
	owner(&oa, "holder");
	EXPECT_ST(nfs4_open(&a, &oa, &e->root, name, false, access, deny, &sa, NULL), N4_OK,
		  "holder OPEN %s deny %s", access_name(access), deny_name(deny));

	ans->read_anon = nfs4_read(&b, &fh, &nfs4_anon_stateid, 0, 8, buf, sizeof(buf), &got);
	if (ans->read_anon == N4_OK)
		CHECK_MSG(got == 8 && !memcmp(buf, "abcdefgh", 8), "[%s] anonymous READ data", e->tag);
	ans->read_bypass = nfs4_read(&b, &fh, &nfs4_bypass_stateid, 0, 8, buf, sizeof(buf), &got);
	if (ans->read_bypass == N4_OK)
		CHECK_MSG(got == 8 && !memcmp(buf, "abcdefgh", 8), "[%s] bypass READ data", e->tag);
	ans->write_anon = nfs4_write(&b, &fh, &nfs4_anon_stateid, 8, "IJ", 2);
	ans->write_bypass = nfs4_write(&b, &fh, &nfs4_bypass_stateid, 10, "KL", 2);
	uint64_t want = 8 + (ans->write_anon == N4_OK || ans->write_bypass == N4_OK ? 2 : 0) +
			(ans->write_bypass == N4_OK ? 2 : 0);
	EXPECT_ST(nfs4_getattr_size(&b, &fh, &size), N4_OK, "GETATTR");
	CHECK_MSG(size == want, "[%s] size %" PRIu64 " after the special writes, want %" PRIu64,
		  e->tag, size, want);
	ans->trunc_anon = nfs4_setattr_size(&b, &fh, &nfs4_anon_stateid, 4);
	ans->trunc_bypass = nfs4_setattr_size(&b, &fh, &nfs4_bypass_stateid, 3);
	want = ans->trunc_bypass == N4_OK ? 3 : ans->trunc_anon == N4_OK ? 4 : want;
	EXPECT_ST(nfs4_getattr_size(&b, &fh, &size), N4_OK, "GETATTR");
	CHECK_MSG(size == want, "[%s] size %" PRIu64 " after the special truncates, want %" PRIu64,
		  e->tag, size, want);
	EXPECT_ST(nfs4_close(&a, &oa, &fh, &sa), N4_OK, "holder CLOSE");
out:
	nfs4_disconnect(&b);
	nfs4_disconnect(&a);
}

static void t_special_stateids_io(void *ctx)
{
	struct env *e = ctx;
	static const struct {
		uint32_t access, deny;
		struct io_answers want; /* -2: whatever FSAL_VFS answers */
	} cases[] = {
		/* nothing denied: all of it works */
		{ N4_ACCESS_BOTH, N4_DENY_NONE, { N4_OK, N4_OK, N4_OK, N4_OK, N4_OK, N4_OK } },
		{ N4_ACCESS_READ, N4_DENY_NONE, { N4_OK, N4_OK, N4_OK, N4_OK, N4_OK, N4_OK } },
		/* deny WRITE: reads work, writes and truncates are refused */
		{ N4_ACCESS_READ, N4_DENY_WRITE, { N4_OK, N4_OK, -2, -2, -2, -2 } },
		/* deny READ: the bypass stateid may read anyway */
		{ N4_ACCESS_BOTH, N4_DENY_READ, { -2, N4_OK, N4_OK, N4_OK, N4_OK, N4_OK } },
		{ N4_ACCESS_BOTH, N4_DENY_BOTH, { -2, N4_OK, -2, -2, -2, -2 } },
	};
	static struct io_answers vfs[5]; /* the reference's answers (run first) */
	static bool have_vfs[2];
	bool is_vfs = !strcmp(e->export, "/vfs");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct io_answers got;
		special_io(e, cases[i].access, cases[i].deny, &got);
		const int *g = &got.read_anon, *w = &cases[i].want.read_anon, *v = &vfs[i].read_anon;
		static const char *const what[] = { "READ anon", "READ bypass", "WRITE anon",
						    "WRITE bypass", "SETATTR size anon",
						    "SETATTR size bypass" };
		for (int k = 0; k < 6; k++) {
			int want = w[k];
			if (want == -2 && is_vfs)
				continue;
			if (want == -2 && !have_vfs[e->minor])
				continue; /* the reference did not run (filtered) */
			if (want == -2)
				want = v[k];
			CHECK_MSG(g[k] == want, "[%s] %s while held %s deny %s: %s, want %s", e->tag,
				  what[k], access_name(cases[i].access), deny_name(cases[i].deny),
				  nfs4_status_name(g[k]), nfs4_status_name(want));
			/* a refusal is an NFS answer, never a dead server */
			CHECK_MSG(g[k] >= 0, "[%s] %s: no answer", e->tag, what[k]);
		}
		if (is_vfs)
			vfs[i] = got;
	}
	if (is_vfs)
		have_vfs[e->minor] = true;
	CHECK_MSG(server_alive(e), "[%s] server down", e->tag);
}

/* SETATTR(size) with an open stateid: allowed with write access, OPENMODE
 * with a read-only open; and without a stateid while nothing is open. */
static void t_setattr_size(void *ctx)
{
	struct env *e = ctx;
	struct nfs4_conn a;
	struct nfs4_owner oa, ob;
	struct nfs4_stateid sa, sb;
	struct nfs4_fh fh;
	char name[64];
	uint64_t size = 0;

	REQUIRE(conn(e, &a, "setattr"));
	fresh_name(name, sizeof(name), "setattr");
	if (!make_file(e, &a, name, "0123456789", 10, &fh))
		goto out;
	EXPECT_ST(nfs4_setattr_size(&a, &fh, &nfs4_anon_stateid, 7), N4_OK,
		  "SETATTR size, no open");
	owner(&oa, "writer");
	owner(&ob, "reader");
	EXPECT_ST(nfs4_open(&a, &oa, &e->root, name, false, N4_ACCESS_BOTH, N4_DENY_NONE, &sa, NULL),
		  N4_OK, "OPEN BOTH");
	EXPECT_ST(nfs4_setattr_size(&a, &fh, &sa, 5), N4_OK, "SETATTR size with a BOTH open");
	EXPECT_ST(nfs4_open(&a, &ob, &e->root, name, false, N4_ACCESS_READ, N4_DENY_NONE, &sb, NULL),
		  N4_OK, "OPEN READ");
	EXPECT_ST(nfs4_setattr_size(&a, &fh, &sb, 2), N4ERR_OPENMODE,
		  "SETATTR size with a READ open");
	EXPECT_ST(nfs4_getattr_size(&a, &fh, &size), N4_OK, "GETATTR");
	CHECK_MSG(size == 5, "[%s] size %" PRIu64 ", want 5", e->tag, size);
	EXPECT_ST(nfs4_setattr_size(&a, &fh, &sa, 100000), N4_OK, "SETATTR size grows the file");
	EXPECT_ST(nfs4_getattr_size(&a, &fh, &size), N4_OK, "GETATTR");
	CHECK_MSG(size == 100000, "[%s] size %" PRIu64 ", want 100000", e->tag, size);
	EXPECT_ST(nfs4_close(&a, &ob, &fh, &sb), N4_OK, "CLOSE READ");
	EXPECT_ST(nfs4_close(&a, &oa, &fh, &sa), N4_OK, "CLOSE BOTH");
	/* a closed open's stateid names nothing */
	{
		int st = nfs4_setattr_size(&a, &fh, &sa, 1);
		CHECK_MSG(st == N4ERR_BAD_STATEID || st == N4ERR_OLD_STATEID ||
				  st == N4ERR_STALE_STATEID,
			  "[%s] SETATTR with a closed open's stateid: %s", e->tag,
			  nfs4_status_name(st));
	}
out:
	nfs4_disconnect(&a);
	CHECK_MSG(server_alive(e), "[%s] server down", e->tag);
}

/* ---- races ------------------------------------------------------------------------------------ */

struct racer {
	struct env *e;
	const char *name;
	int id, rounds;
	int answered, lost; /* replies; calls with no reply */
	int unexpected;
	char first_bad[160];
	struct nfs4_conn c;
};

static void note(struct racer *r, const char *what, int st, bool ok)
{
	if (st < 0)
		r->lost++;
	else
		r->answered++;
	if (!ok && !r->unexpected++)
		snprintf(r->first_bad, sizeof(r->first_bad), "%s: %s", what, nfs4_status_name(st));
}

/* One client's loop: OPEN, LOCK (a range the others also lock), anonymous
 * READ and LOCKT, LOCKU, CLOSE, each racing the other clients. */
static void *race(void *arg)
{
	struct racer *r = arg;
	struct env *e = r->e;
	struct nfs4_fh fh;
	char path[160], buf[16];
	uint32_t got;

	snprintf(path, sizeof(path), "%s/%s", e->export, r->name);
	if (nfs4_lookup(&r->c, path, &fh) != N4_OK) {
		note(r, "LOOKUP", -1, false);
		return NULL;
	}
	for (int i = 0; i < r->rounds; i++) {
		struct nfs4_owner oo, lo;
		struct nfs4_stateid os, ls;
		int st;

		owner(&oo, "race-open");
		owner(&lo, "race-lock");
		st = nfs4_open(&r->c, &oo, &e->root, r->name, false, N4_ACCESS_BOTH, N4_DENY_NONE, &os,
			       NULL);
		note(r, "OPEN", st, st == N4_OK);
		if (st != N4_OK)
			continue;
		uint64_t off = (uint64_t)(i % 3) * 10;
		st = nfs4_lock_new(&r->c, &oo, &os, &lo, &fh, (i & 1) ? N4_READ_LT : N4_WRITE_LT, off,
				   15, &ls);
		note(r, "LOCK", st, st == N4_OK || st == N4ERR_DENIED);
		bool locked = st == N4_OK;
		st = nfs4_read(&r->c, &fh, &nfs4_anon_stateid, 0, 8, buf, sizeof(buf), &got);
		note(r, "READ anon", st, st == N4_OK || st == N4ERR_LOCKED);
		st = nfs4_lockt(&r->c, "race-probe", &fh, N4_WRITE_LT, 0, 40);
		note(r, "LOCKT", st, st == N4_OK || st == N4ERR_DENIED);
		if (locked) {
			st = nfs4_locku(&r->c, &lo, &fh, N4_WRITE_LT, off, 15, &ls);
			note(r, "LOCKU", st, st == N4_OK);
		}
		st = nfs4_close(&r->c, &oo, &fh, &os);
		note(r, "CLOSE", st, st == N4_OK);
		if (locked && r->c.minor == 0) {
			st = nfs4_release_lockowner(&r->c, lo.name);
			note(r, "RELEASE_LOCKOWNER", st, st == N4_OK);
		}
	}
	return NULL;
}

static void t_race(void *ctx)
{
	struct env *e = ctx;
	struct racer r[3];
	pthread_t t[3];
	char name[64];
	int started = 0;

	struct nfs4_conn setup;
	struct nfs4_fh fh;
	REQUIRE(conn(e, &setup, "race-setup"));
	fresh_name(name, sizeof(name), "race");
	bool made = make_file(e, &setup, name, "racedata0123456789", 18, &fh);
	nfs4_disconnect(&setup);
	REQUIRE(made);

	memset(r, 0, sizeof(r));
	for (int i = 0; i < 3; i++) {
		r[i].e = e;
		r[i].name = name;
		r[i].id = i;
		r[i].rounds = 40;
		if (!conn(e, &r[i].c, "racer"))
			break;
		started++;
	}
	for (int i = 0; i < started; i++)
		if (pthread_create(&t[i], NULL, race, &r[i]) != 0)
			r[i].c.fd = -1;
	for (int i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		CHECK_MSG(r[i].lost == 0, "[%s] racer %d: %d calls got no reply (%s)", e->tag, i,
			  r[i].lost, r[i].c.error);
		CHECK_MSG(r[i].unexpected == 0, "[%s] racer %d: %d unexpected answers, first %s",
			  e->tag, i, r[i].unexpected, r[i].first_bad);
		CHECK_MSG(r[i].answered >= r[i].rounds * 4, "[%s] racer %d: %d answers", e->tag, i,
			  r[i].answered);
		nfs4_disconnect(&r[i].c);
	}
	CHECK(started == 3);
	CHECK_MSG(server_alive(e), "[%s] server down", e->tag);
}

/* ---- the server --------------------------------------------------------------------------- */

static bool start_server(void)
{
	char plugins[DIR_MAX + 16], snippet[DIR_MAX + 32], vfs_dir[DIR_MAX + 16], conf[4096],
		zfs[2048], st[1024], cmd[6 * DIR_MAX], args[4 * DIR_MAX];

	snprintf(plugins, sizeof(plugins), "%s/plugins", work_dir);
	snprintf(vfs_dir, sizeof(vfs_dir), "%s/vfs-export", work_dir);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p '%s' '%s' && ln -sf '%s/libfsalzerofs.so' '%s/' && "
		 "ln -sf '%s/libfsalvfs.so' '%s/'",
		 plugins, vfs_dir, plugin_dir, plugins, SYSTEM_FSAL_DIR, plugins);
	if (system(cmd) != 0)
		return false;
	store_lines(st, sizeof(st), "v4state", "store");
	export_block(zfs, sizeof(zfs), 1, "/zerofs", st);
	snprintf(conf, sizeof(conf),
		 "%sEXPORT {\n\tExport_Id = 2;\n\tPath = %s;\n\tPseudo = /vfs;\n"
		 "\tAccess_Type = RW;\n\tSquash = No_Root_Squash;\n\tProtocols = 4;\n"
		 "\tSecType = sys;\n\tFSAL { Name = VFS; }\n}\n",
		 zfs, vfs_dir);
	snprintf(snippet, sizeof(snippet), "%s/exports.conf", work_dir);
	if (!write_file(snippet, conf))
		return false;
	snprintf(args, sizeof(args), "--fsal-dir '%s' --export-snippet '%s'", plugins, snippet);
	return ganesha("start", gdir, args) && read_env();
}

static void t_server_stops(void *ctx)
{
	(void)ctx;
	CHECK_MSG(ganesha("status", gdir, ">/dev/null 2>&1"), "ganesha is not running");
	CHECK_MSG(ganesha("stop", gdir, NULL), "ganesha did not stop cleanly");
}

static void run_for(int minor)
{
	static const struct {
		const char *name;
		tl_fn fn;
		bool v40_only;
		bool not_vfs; /* FSAL_VFS 4.3 fails it (see the test) */
	} tests[] = {
		{ "share_matrix_same_client", t_share_same_client, false, false },
		{ "share_matrix_other_client", t_share_other_client, false, false },
		{ "share_matrix_created_same_client", t_share_created_same_client, false, false },
		{ "share_matrix_created_other_client", t_share_created_other_client, false, false },
		{ "open_downgrade", t_downgrade, false, true },
		{ "open_replay", t_open_replay, true, false },
		{ "lock_locku_after_close", t_lock_after_close, false, false },
		{ "lock_special_stateids", t_lock_special_stateids, false, false },
		{ "special_stateids_io", t_special_stateids_io, false, false },
		{ "setattr_size", t_setattr_size, false, false },
		{ "race_lock_locku_close", t_race, false, false },
	};

	/* VFS first: its answers are the reference for the cases the RFCs
	 * leave to the server */
	for (int x = 1; x >= 0; x--) {
		struct env e = { .minor = minor, .export = exports[x] };
		struct nfs4_conn c;
		char name[128];

		snprintf(e.tag, sizeof(e.tag), "v4.%d%s", minor, exports[x]);
		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
			if ((tests[i].v40_only && minor != 0) || (tests[i].not_vfs && x == 1))
				continue;
			snprintf(name, sizeof(name), "%s/%s", e.tag, tests[i].name);
			if (!tl_selected(name))
				continue;
			if (!conn(&e, &c, "root") || nfs4_lookup(&c, e.export, &e.root) != N4_OK) {
				tl_fail_setup(name, "cannot reach the export %s: %s", e.export,
					      c.error);
				continue;
			}
			nfs4_disconnect(&c);
			tl_run(name, tests[i].fn, &e);
		}
	}
}

static int run_all(void)
{
	char cmd[4 * DIR_MAX];

	snprintf(gdir, sizeof(gdir), "%s/ganesha", work_dir);
	if (!ganesha("stop", gdir, ">/dev/null 2>&1")) { /* a leftover of an earlier run */
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", work_dir, work_dir);
	if (system(cmd) != 0)
		return 1;
	if (!start_server()) {
		tl_fail_setup("start_ganesha", "could not start ganesha (see %s)", gdir);
		return tl_finish();
	}
	printf("ganesha: NFS 127.0.0.1:%d, work dir %s\n", nfs_port, work_dir);
	run_for(0);
	run_for(1);
	/* the server must have survived all of it, and stop cleanly (under
	 * valgrind, the clean exit is what writes the leak summary) */
	tl_run("server_stops_cleanly", t_server_stops, NULL);
	return tl_finish();
}

static void stop_all(void)
{
	if (!ganesha_stop_if_set_up(gdir))
		fprintf(stderr, "stopping ganesha in %s failed\n", gdir);
}

int main(int argc, char **argv)
{
	return hn_main(argc, argv, "test_v4_state", run_all, stop_all);
}
