/*
 * tests/nfs/nfs4_wire.c - raw NFSv4.0/v4.1 COMPOUNDs over TCP (see
 * nfs4_wire.h). ONC RPC (RFC 5531) with AUTH_SYS as root and record marking;
 * the XDR of each op by hand, from RFC 7530 (v4.0) and RFC 8881 (v4.1).
 */
#include "nfs4_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const struct nfs4_stateid nfs4_anon_stateid = { 0, { 0 } };
const struct nfs4_stateid nfs4_bypass_stateid = {
	0xffffffffu, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }
};

/* How long one call may wait for its reply: generous, since a loaded
 * machine (or ganesha under valgrind) can be slow; a server that died
 * closes the connection and ends the wait at once. */
#define REPLY_WAIT_MS (180 * 1000)

enum {
	OP_CLOSE = 4, OP_GETATTR = 9, OP_GETFH = 10, OP_LOCK = 12, OP_LOCKT = 13, OP_LOCKU = 14,
	OP_LOOKUP = 15, OP_OPEN = 18, OP_OPEN_CONFIRM = 20, OP_OPEN_DOWNGRADE = 21, OP_PUTFH = 22,
	OP_PUTROOTFH = 24, OP_READ = 25, OP_REMOVE = 28, OP_SETATTR = 34, OP_SETCLIENTID = 35,
	OP_SETCLIENTID_CONFIRM = 36, OP_WRITE = 38, OP_RELEASE_LOCKOWNER = 39,
	OP_EXCHANGE_ID = 42, OP_CREATE_SESSION = 43, OP_DESTROY_SESSION = 44,
	OP_FREE_STATEID = 45, OP_SEQUENCE = 53, OP_DESTROY_CLIENTID = 57,
	OP_RECLAIM_COMPLETE = 58,
};

#define FATTR4_SIZE 4
#define OPEN4_RESULT_CONFIRM 2
#define EXCHGID4_FLAG_USE_NON_PNFS 0x00010000u

/* ---- XDR encoding into a growing buffer ----------------------------------- */

struct xw {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void xw_need(struct xw *w, size_t n)
{
	if (w->oom || w->len + n <= w->cap)
		return;
	size_t cap = w->cap ? w->cap * 2 : 1024;
	while (cap < w->len + n)
		cap *= 2;
	uint8_t *p = realloc(w->p, cap);
	if (!p) {
		w->oom = true;
		return;
	}
	w->p = p;
	w->cap = cap;
}

static void xw_u32(struct xw *w, uint32_t v)
{
	xw_need(w, 4);
	if (w->oom)
		return;
	uint32_t be = htonl(v);
	memcpy(w->p + w->len, &be, 4);
	w->len += 4;
}

static void xw_u64(struct xw *w, uint64_t v)
{
	xw_u32(w, (uint32_t)(v >> 32));
	xw_u32(w, (uint32_t)v);
}

/* fixed-length opaque: n bytes, padded to 4 */
static void xw_fixed(struct xw *w, const void *data, size_t n)
{
	size_t pad = (4 - n % 4) % 4;
	xw_need(w, n + pad);
	if (w->oom)
		return;
	memcpy(w->p + w->len, data, n);
	memset(w->p + w->len + n, 0, pad);
	w->len += n + pad;
}

static void xw_opaque(struct xw *w, const void *data, size_t n)
{
	xw_u32(w, (uint32_t)n);
	xw_fixed(w, data, n);
}

static void xw_str(struct xw *w, const char *s)
{
	xw_opaque(w, s, strlen(s));
}

static void xw_stateid(struct xw *w, const struct nfs4_stateid *s)
{
	xw_u32(w, s->seqid);
	xw_fixed(w, s->other, 12);
}

/* ---- XDR decoding ----------------------------------------------------------- */

struct xr {
	const uint8_t *p;
	size_t len, pos;
	bool bad;
};

static uint32_t xr_u32(struct xr *r)
{
	uint32_t be;
	if (r->bad || r->len - r->pos < 4) {
		r->bad = true;
		return 0;
	}
	memcpy(&be, r->p + r->pos, 4);
	r->pos += 4;
	return ntohl(be);
}

static uint64_t xr_u64(struct xr *r)
{
	uint64_t hi = xr_u32(r);
	return hi << 32 | xr_u32(r);
}

/* n bytes (padded to 4); a pointer into the reply, NULL if short */
static const uint8_t *xr_fixed(struct xr *r, size_t n)
{
	size_t padded = n + (4 - n % 4) % 4;
	if (r->bad || padded < n || r->len - r->pos < padded) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->pos;
	r->pos += padded;
	return p;
}

static const uint8_t *xr_opaque(struct xr *r, uint32_t *n)
{
	*n = xr_u32(r);
	return xr_fixed(r, *n);
}

static void xr_skip_opaque(struct xr *r)
{
	uint32_t n;
	(void)xr_opaque(r, &n);
}

static void xr_stateid(struct xr *r, struct nfs4_stateid *s)
{
	s->seqid = xr_u32(r);
	const uint8_t *o = xr_fixed(r, 12);
	if (o)
		memcpy(s->other, o, 12);
}

static void xr_skip_bitmap(struct xr *r)
{
	uint32_t n = xr_u32(r);
	if (n > 64)
		r->bad = true;
	for (uint32_t i = 0; i < n && !r->bad; i++)
		(void)xr_u32(r);
}

/* ---- one COMPOUND ------------------------------------------------------------ */

struct req {
	struct xw w;
	size_t nops_at; /* where the op count goes */
	uint32_t nops;
};

/* What a reply carried, op by op (the last op's values win). */
struct res {
	int status;     /* the COMPOUND's status */
	uint32_t nres;  /* ops answered */
	uint32_t op_status[16];
	struct nfs4_stateid stateid;
	uint32_t rflags;
	struct nfs4_fh fh;
	uint64_t clientid;
	uint8_t verifier[8];
	uint32_t eir_seq;
	uint8_t sessionid[16];
	const uint8_t *data; /* READ: into buf */
	uint32_t data_len;
	bool eof;
	uint64_t size;
	uint8_t *buf; /* the reply (owned) */
};

static void set_error(struct nfs4_conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
}

static void req_begin(struct nfs4_conn *c, struct req *q)
{
	memset(q, 0, sizeof(*q));
	xw_u32(&q->w, 0);	   /* record mark, set in req_send */
	xw_u32(&q->w, ++c->xid);
	xw_u32(&q->w, 0);	   /* CALL */
	xw_u32(&q->w, 2);	   /* RPC version */
	xw_u32(&q->w, 100003);	   /* NFS */
	xw_u32(&q->w, 4);
	xw_u32(&q->w, 1);	   /* COMPOUND */
	/* AUTH_SYS, root */
	struct xw cred = { 0 };
	xw_u32(&cred, (uint32_t)time(NULL));
	xw_str(&cred, "zerofs-test");
	xw_u32(&cred, 0);
	xw_u32(&cred, 0);
	xw_u32(&cred, 0);
	xw_u32(&q->w, 1);
	xw_opaque(&q->w, cred.p, cred.len);
	if (cred.oom)
		q->w.oom = true;
	free(cred.p);
	xw_u32(&q->w, 0); /* verifier: AUTH_NONE */
	xw_u32(&q->w, 0);
	/* COMPOUND4args */
	xw_str(&q->w, "");
	xw_u32(&q->w, (uint32_t)c->minor);
	q->nops_at = q->w.len;
	xw_u32(&q->w, 0);
	if (c->minor == 1 && memcmp(c->sessionid, (uint8_t[16]){ 0 }, 16) != 0) {
		xw_u32(&q->w, OP_SEQUENCE);
		xw_fixed(&q->w, c->sessionid, 16);
		xw_u32(&q->w, c->slot_seqid);
		xw_u32(&q->w, 0); /* slot */
		xw_u32(&q->w, 0); /* highest slot */
		xw_u32(&q->w, 0); /* cachethis */
		q->nops++;
	}
}

static void op(struct req *q, uint32_t code)
{
	xw_u32(&q->w, code);
	q->nops++;
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

static bool read_all(int fd, uint8_t *p, size_t n)
{
	while (n) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int r = poll(&pf, 1, REPLY_WAIT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		ssize_t k = read(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

/* Reads one RPC reply (all its fragments) into a malloc'd buffer. */
static uint8_t *read_record(struct nfs4_conn *c, size_t *len)
{
	uint8_t *buf = NULL;
	size_t have = 0;
	bool last = false;

	while (!last) {
		uint32_t mark;
		if (!read_all(c->fd, (uint8_t *)&mark, 4)) {
			set_error(c, "no reply (connection closed or timed out)");
			free(buf);
			return NULL;
		}
		mark = ntohl(mark);
		last = (mark & 0x80000000u) != 0;
		size_t n = mark & 0x7fffffffu;
		if (n > (64u << 20) || have + n > (64u << 20)) {
			set_error(c, "reply fragment of %zu bytes", n);
			free(buf);
			return NULL;
		}
		uint8_t *nb = realloc(buf, have + n + 1);
		if (!nb) {
			free(buf);
			return NULL;
		}
		buf = nb;
		if (!read_all(c->fd, buf + have, n)) {
			set_error(c, "reply cut short");
			free(buf);
			return NULL;
		}
		have += n;
	}
	*len = have;
	return buf;
}

static bool skip_delegation(struct xr *r)
{
	uint32_t type = xr_u32(r);
	switch (type) {
	case 0: /* NONE */
		return true;
	case 1: /* READ: stateid, recall, ace */
	case 2: /* WRITE: stateid, recall, space limit, ace */
		(void)xr_fixed(r, 16);
		(void)xr_u32(r);
		if (type == 2) {
			uint32_t limitby = xr_u32(r);
			if (limitby == 1)
				(void)xr_u64(r);
			else
				(void)xr_fixed(r, 8);
		}
		(void)xr_fixed(r, 12);
		xr_skip_opaque(r);
		return !r->bad;
	case 3: { /* NONE_EXT (v4.1) */
		uint32_t why = xr_u32(r);
		if (why == 1 || why == 2) /* CONTENTION, RESOURCE */
			(void)xr_u32(r);
		return !r->bad;
	}
	default:
		return false;
	}
}

/* Decodes one op's result body (status already read). */
static bool decode_op(struct xr *r, uint32_t code, uint32_t st, struct res *s)
{
	if (code == OP_SETATTR) { /* attrsset comes whatever the status */
		xr_skip_bitmap(r);
		return !r->bad;
	}
	if ((code == OP_LOCK || code == OP_LOCKT) && st == N4ERR_DENIED) {
		(void)xr_u64(r);
		(void)xr_u64(r);
		(void)xr_u32(r);
		(void)xr_u64(r);
		xr_skip_opaque(r);
		return !r->bad;
	}
	if (code == OP_SETCLIENTID && st == 10017) { /* CLID_INUSE: client address */
		xr_skip_opaque(r);
		xr_skip_opaque(r);
		return !r->bad;
	}
	if (st != N4_OK)
		return true;
	switch (code) {
	case OP_SEQUENCE:
		(void)xr_fixed(r, 16);
		for (int i = 0; i < 5; i++)
			(void)xr_u32(r);
		break;
	case OP_PUTFH: case OP_PUTROOTFH: case OP_LOOKUP: case OP_LOCKT:
	case OP_SETCLIENTID_CONFIRM: case OP_RELEASE_LOCKOWNER: case OP_DESTROY_SESSION:
	case OP_FREE_STATEID: case OP_DESTROY_CLIENTID: case OP_RECLAIM_COMPLETE:
		break;
	case OP_GETFH: {
		uint32_t n;
		const uint8_t *p = xr_opaque(r, &n);
		if (!p || n > sizeof(s->fh.val))
			return false;
		s->fh.len = n;
		memcpy(s->fh.val, p, n);
		break;
	}
	case OP_OPEN:
		xr_stateid(r, &s->stateid);
		(void)xr_fixed(r, 20); /* change_info4 */
		s->rflags = xr_u32(r);
		xr_skip_bitmap(r);
		if (!skip_delegation(r))
			return false;
		break;
	case OP_OPEN_CONFIRM: case OP_OPEN_DOWNGRADE: case OP_CLOSE: case OP_LOCK: case OP_LOCKU:
		xr_stateid(r, &s->stateid);
		break;
	case OP_READ: {
		s->eof = xr_u32(r) != 0;
		s->data = xr_opaque(r, &s->data_len);
		break;
	}
	case OP_WRITE:
		(void)xr_u32(r);
		(void)xr_u32(r);
		(void)xr_fixed(r, 8);
		break;
	case OP_REMOVE:
		(void)xr_fixed(r, 20);
		break;
	case OP_GETATTR: {
		uint32_t nw = xr_u32(r), w0 = 0, n;
		for (uint32_t i = 0; i < nw && !r->bad; i++) {
			uint32_t v = xr_u32(r);
			if (i == 0)
				w0 = v;
		}
		const uint8_t *p = xr_opaque(r, &n);
		if (p && (w0 & (1u << FATTR4_SIZE)) && n >= 8) {
			struct xr a = { .p = p, .len = n };
			s->size = xr_u64(&a);
		}
		break;
	}
	case OP_SETCLIENTID: {
		s->clientid = xr_u64(r);
		const uint8_t *v = xr_fixed(r, 8);
		if (v)
			memcpy(s->verifier, v, 8);
		break;
	}
	case OP_EXCHANGE_ID: {
		s->clientid = xr_u64(r);
		s->eir_seq = xr_u32(r);
		(void)xr_u32(r);		/* flags */
		if (xr_u32(r) != 0)		/* state protection: we asked for none */
			return false;
		(void)xr_u64(r);		/* server owner */
		xr_skip_opaque(r);
		xr_skip_opaque(r);		/* server scope */
		uint32_t n = xr_u32(r);		/* impl id <1> */
		if (n > 1)
			return false;
		if (n == 1) {
			xr_skip_opaque(r);
			xr_skip_opaque(r);
			(void)xr_u64(r);
			(void)xr_u32(r);
		}
		break;
	}
	case OP_CREATE_SESSION: {
		const uint8_t *sid = xr_fixed(r, 16);
		if (sid)
			memcpy(s->sessionid, sid, 16);
		(void)xr_u32(r);
		(void)xr_u32(r);
		for (int ch = 0; ch < 2; ch++) {
			for (int i = 0; i < 6; i++)
				(void)xr_u32(r);
			uint32_t n = xr_u32(r);
			if (n > 1)
				return false;
			if (n)
				(void)xr_u32(r);
		}
		break;
	}
	default:
		return false;
	}
	return !r->bad;
}

/* Sends q, reads and decodes the reply into *s (s->buf to be freed by
 * res_free). The COMPOUND's status, or -1. */
static int req_send(struct nfs4_conn *c, struct req *q, struct res *s)
{
	size_t len = 0;

	memset(s, 0, sizeof(*s));
	s->status = -1;
	if (q->w.oom || q->nops > 16) {
		set_error(c, "request too large");
		free(q->w.p);
		return -1;
	}
	uint32_t be = htonl(q->nops);
	memcpy(q->w.p + q->nops_at, &be, 4);
	be = htonl(0x80000000u | (uint32_t)(q->w.len - 4));
	memcpy(q->w.p, &be, 4);
	bool ok = write_all(c->fd, q->w.p, q->w.len);
	free(q->w.p);
	q->w.p = NULL;
	if (!ok) {
		set_error(c, "send failed: %s", strerror(errno));
		return -1;
	}

	for (;;) {
		s->buf = read_record(c, &len);
		if (!s->buf)
			return -1;
		struct xr r = { .p = s->buf, .len = len };
		uint32_t xid = xr_u32(&r);
		if (xid != c->xid) { /* a stale reply (an earlier call timed out) */
			free(s->buf);
			continue;
		}
		if (xr_u32(&r) != 1 || xr_u32(&r) != 0) {
			set_error(c, "RPC reply denied");
			return -1;
		}
		(void)xr_u32(&r); /* verifier */
		xr_skip_opaque(&r);
		uint32_t accept = xr_u32(&r);
		if (r.bad || accept != 0) {
			set_error(c, "RPC call not accepted (%u)", accept);
			return -1;
		}
		s->status = (int)xr_u32(&r);
		xr_skip_opaque(&r); /* tag */
		s->nres = xr_u32(&r);
		if (r.bad || s->nres > q->nops) {
			set_error(c, "bad COMPOUND reply header");
			return s->status = -1;
		}
		for (uint32_t i = 0; i < s->nres; i++) {
			uint32_t code = xr_u32(&r), st = xr_u32(&r);
			s->op_status[i] = st;
			if (r.bad || !decode_op(&r, code, st, s)) {
				set_error(c, "cannot decode the reply of op %u (status %u)", code, st);
				return s->status = -1;
			}
			if (code == OP_SEQUENCE && st == N4_OK)
				c->slot_seqid++;
		}
		return s->status;
	}
}

static void res_free(struct res *s)
{
	free(s->buf);
	s->buf = NULL;
}

/* ---- connection ---------------------------------------------------------------- */

static int one_call(struct nfs4_conn *c, struct req *q)
{
	struct res s;
	int st = req_send(c, q, &s);
	res_free(&s);
	return st;
}

static bool connect_tcp(struct nfs4_conn *c, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return false;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* a privileged source port, as the kernel client uses (ganesha does
	 * not require one, but this keeps the test independent of it) */
	for (int p = 1023; p >= 600; p--) {
		struct sockaddr_in b = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p) };
		b.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(c->fd, (struct sockaddr *)&b, sizeof(b)) == 0)
			break;
	}
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		set_error(c, "connect to port %d: %s", port, strerror(errno));
		close(c->fd);
		c->fd = -1;
		return false;
	}
	return true;
}

static bool setup_v40(struct nfs4_conn *c)
{
	struct req q;
	struct res s;
	uint8_t verf[8];
	uint64_t now = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;

	memcpy(verf, &now, 8);
	req_begin(c, &q);
	op(&q, OP_SETCLIENTID);
	xw_fixed(&q.w, verf, 8);
	xw_str(&q.w, c->name);
	xw_u32(&q.w, 0x40000000); /* callback program (never answered) */
	xw_str(&q.w, "tcp");
	xw_str(&q.w, "127.0.0.1.0.0");
	xw_u32(&q.w, 1); /* callback_ident */
	if (req_send(c, &q, &s) != N4_OK) {
		if (s.status > 0)
			set_error(c, "SETCLIENTID: %s", nfs4_status_name(s.status));
		res_free(&s);
		return false;
	}
	c->clientid = s.clientid;
	memcpy(verf, s.verifier, 8);
	res_free(&s);
	req_begin(c, &q);
	op(&q, OP_SETCLIENTID_CONFIRM);
	xw_u64(&q.w, c->clientid);
	xw_fixed(&q.w, verf, 8);
	int st = one_call(c, &q);
	if (st != N4_OK && st > 0)
		set_error(c, "SETCLIENTID_CONFIRM: %s", nfs4_status_name(st));
	return st == N4_OK;
}

static void channel_attrs(struct xw *w, uint32_t maxreq, uint32_t maxresp, uint32_t cached,
			  uint32_t maxops)
{
	xw_u32(w, 0); /* header pad */
	xw_u32(w, maxreq);
	xw_u32(w, maxresp);
	xw_u32(w, cached);
	xw_u32(w, maxops);
	xw_u32(w, 1); /* one slot */
	xw_u32(w, 0); /* no RDMA */
}

static bool setup_v41(struct nfs4_conn *c)
{
	struct req q;
	struct res s;
	uint64_t now = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	uint8_t verf[8];
	int st;

	memcpy(verf, &now, 8);
	req_begin(c, &q);
	op(&q, OP_EXCHANGE_ID);
	xw_fixed(&q.w, verf, 8);
	xw_str(&q.w, c->name);
	xw_u32(&q.w, EXCHGID4_FLAG_USE_NON_PNFS);
	xw_u32(&q.w, 0); /* SP4_NONE */
	xw_u32(&q.w, 0); /* no implementation id */
	if (req_send(c, &q, &s) != N4_OK) {
		if (s.status > 0)
			set_error(c, "EXCHANGE_ID: %s", nfs4_status_name(s.status));
		res_free(&s);
		return false;
	}
	c->clientid = s.clientid;
	uint32_t seq = s.eir_seq;
	res_free(&s);

	req_begin(c, &q);
	op(&q, OP_CREATE_SESSION);
	xw_u64(&q.w, c->clientid);
	xw_u32(&q.w, seq);
	xw_u32(&q.w, 0); /* no persist, no back channel on this connection */
	channel_attrs(&q.w, 1u << 20, 1u << 20, 16384, 16);
	channel_attrs(&q.w, 4096, 4096, 0, 2);
	xw_u32(&q.w, 0x40000000);
	xw_u32(&q.w, 1); /* one callback security flavour: */
	xw_u32(&q.w, 0); /* AUTH_NONE */
	if (req_send(c, &q, &s) != N4_OK) {
		if (s.status > 0)
			set_error(c, "CREATE_SESSION: %s", nfs4_status_name(s.status));
		res_free(&s);
		return false;
	}
	memcpy(c->sessionid, s.sessionid, 16);
	c->slot_seqid = 1;
	res_free(&s);

	req_begin(c, &q);
	op(&q, OP_RECLAIM_COMPLETE);
	xw_u32(&q.w, 0); /* for the whole client */
	st = one_call(c, &q);
	if (st != N4_OK && st > 0)
		set_error(c, "RECLAIM_COMPLETE: %s", nfs4_status_name(st));
	return st == N4_OK;
}

bool nfs4_connect(struct nfs4_conn *c, int port, int minor, const char *name)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->minor = minor;
	c->xid = (uint32_t)time(NULL) * 7919u;
	snprintf(c->name, sizeof(c->name), "%s", name);
	if (!connect_tcp(c, port))
		return false;
	if (minor == 0 ? setup_v40(c) : setup_v41(c))
		return true;
	close(c->fd);
	c->fd = -1;
	return false;
}

void nfs4_disconnect(struct nfs4_conn *c)
{
	struct req q;

	if (c->fd < 0)
		return;
	if (c->minor == 1) {
		req_begin(c, &q);
		op(&q, OP_DESTROY_SESSION);
		xw_fixed(&q.w, c->sessionid, 16);
		(void)one_call(c, &q);
		memset(c->sessionid, 0, 16);
		req_begin(c, &q);
		op(&q, OP_DESTROY_CLIENTID);
		xw_u64(&q.w, c->clientid);
		(void)one_call(c, &q);
	}
	close(c->fd);
	c->fd = -1;
}

/* ---- ops ------------------------------------------------------------------------- */

static void putfh(struct req *q, const struct nfs4_fh *fh)
{
	op(q, OP_PUTFH);
	xw_opaque(&q->w, fh->val, fh->len);
}

/* Whether a v4.0 seqid-bearing op that returned st consumed its seqid
 * (RFC 7530 9.1.7). */
static bool seqid_consumed(int st)
{
	switch (st) {
	case 10022: /* STALE_CLIENTID */
	case N4ERR_STALE_STATEID:
	case N4ERR_BAD_STATEID:
	case N4ERR_BAD_SEQID:
	case 10036: /* BADXDR */
	case 10018: /* RESOURCE */
	case 10020: /* NOFILEHANDLE */
	case 10019: /* MOVED */
		return false;
	default:
		return st >= 0;
	}
}

/* The status of the op at index i of the reply (the seqid-bearing op), or
 * -1 if the compound stopped before it. */
static int status_at(const struct res *s, uint32_t i)
{
	return s->status >= 0 && i < s->nres ? (int)s->op_status[i] : -1;
}

static uint32_t first_op_index(const struct nfs4_conn *c)
{
	return c->minor == 1 ? 1 : 0;
}

static uint32_t seqid_of(const struct nfs4_conn *c, const struct nfs4_owner *o)
{
	return c->minor == 0 ? o->seqid : 0;
}

static void owner4(struct req *q, const struct nfs4_conn *c, const char *name)
{
	xw_u64(&q->w, c->clientid);
	xw_str(&q->w, name);
}

int nfs4_lookup(struct nfs4_conn *c, const char *path, struct nfs4_fh *fh)
{
	struct req q;
	struct res s;
	char buf[512], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	req_begin(c, &q);
	op(&q, OP_PUTROOTFH);
	for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		op(&q, OP_LOOKUP);
		xw_str(&q.w, t);
	}
	op(&q, OP_GETFH);
	int st = req_send(c, &q, &s);
	if (st == N4_OK)
		*fh = s.fh;
	res_free(&s);
	return st;
}

static int open_confirm(struct nfs4_conn *c, struct nfs4_owner *oo, const struct nfs4_fh *fh,
			struct nfs4_stateid *sid)
{
	struct req q;
	struct res s;

	req_begin(c, &q);
	putfh(&q, fh);
	op(&q, OP_OPEN_CONFIRM);
	xw_stateid(&q.w, sid);
	xw_u32(&q.w, oo->seqid);
	int st = req_send(c, &q, &s);
	if (seqid_consumed(status_at(&s, 1)))
		oo->seqid++;
	if (st == N4_OK)
		*sid = s.stateid;
	res_free(&s);
	return st;
}

static int open_common(struct nfs4_conn *c, struct nfs4_owner *oo, const struct nfs4_fh *dir,
		       const char *name, bool create, uint32_t access, uint32_t deny,
		       struct nfs4_stateid *sid, struct nfs4_fh *fh, bool confirm)
{
	struct req q;
	struct res s;
	uint32_t at = first_op_index(c) + 1;

	req_begin(c, &q);
	putfh(&q, dir);
	op(&q, OP_OPEN);
	xw_u32(&q.w, seqid_of(c, oo));
	xw_u32(&q.w, access);
	xw_u32(&q.w, deny);
	owner4(&q, c, oo->name);
	if (create) {
		xw_u32(&q.w, 1); /* OPEN4_CREATE */
		xw_u32(&q.w, 0); /* UNCHECKED4 */
		xw_u32(&q.w, 2); /* fattr4: bitmap of 2 words, mode = attr 33 */
		xw_u32(&q.w, 0);
		xw_u32(&q.w, 1u << (33 - 32));
		xw_u32(&q.w, 4);
		xw_u32(&q.w, 0644);
	} else {
		xw_u32(&q.w, 0); /* OPEN4_NOCREATE */
	}
	xw_u32(&q.w, 0); /* CLAIM_NULL */
	xw_str(&q.w, name);
	op(&q, OP_GETFH);
	int st = req_send(c, &q, &s);
	if (c->minor == 0 && seqid_consumed(status_at(&s, at)))
		oo->seqid++;
	if (status_at(&s, at) == N4_OK) {
		*sid = s.stateid;
		if (fh)
			*fh = s.fh;
	}
	struct nfs4_fh got = s.fh;
	bool need_confirm = status_at(&s, at) == N4_OK && (s.rflags & OPEN4_RESULT_CONFIRM);
	res_free(&s);
	if (st == N4_OK && need_confirm && confirm)
		st = open_confirm(c, oo, &got, sid);
	return st;
}

int nfs4_open(struct nfs4_conn *c, struct nfs4_owner *oo, const struct nfs4_fh *dir,
	      const char *name, bool create, uint32_t access, uint32_t deny,
	      struct nfs4_stateid *sid, struct nfs4_fh *fh)
{
	return open_common(c, oo, dir, name, create, access, deny, sid, fh, true);
}

int nfs4_open_replay(struct nfs4_conn *c, struct nfs4_owner *oo, const struct nfs4_fh *dir,
		     const char *name, uint32_t access, uint32_t deny, struct nfs4_stateid *sid)
{
	oo->seqid--;
	return open_common(c, oo, dir, name, false, access, deny, sid, NULL, false);
}

/* Sends q (PUTFH, then one op bearing owner o's seqid); steps o's seqid
 * as the reply says and, on success, takes *sid from it. */
static int stateful_op(struct nfs4_conn *c, struct nfs4_owner *o, struct req *q,
		       struct nfs4_stateid *sid)
{
	struct res s;
	int st = req_send(c, q, &s);
	uint32_t at = first_op_index(c) + 1;

	if (c->minor == 0 && o && seqid_consumed(status_at(&s, at)))
		o->seqid++;
	if (st == N4_OK && sid)
		*sid = s.stateid;
	res_free(&s);
	return st;
}

int nfs4_open_downgrade(struct nfs4_conn *c, struct nfs4_owner *oo, const struct nfs4_fh *fh,
			struct nfs4_stateid *sid, uint32_t access, uint32_t deny)
{
	struct req q;

	req_begin(c, &q);
	putfh(&q, fh);
	op(&q, OP_OPEN_DOWNGRADE);
	xw_stateid(&q.w, sid);
	xw_u32(&q.w, seqid_of(c, oo));
	xw_u32(&q.w, access);
	xw_u32(&q.w, deny);
	return stateful_op(c, oo, &q, sid);
}

int nfs4_close(struct nfs4_conn *c, struct nfs4_owner *oo, const struct nfs4_fh *fh,
	       struct nfs4_stateid *sid)
{
	struct req q;

	req_begin(c, &q);
	putfh(&q, fh);
	op(&q, OP_CLOSE);
	xw_u32(&q.w, seqid_of(c, oo));
	xw_stateid(&q.w, sid);
	return stateful_op(c, oo, &q, sid);
}

static void lock_head(struct req *q, int type, uint64_t off, uint64_t len)
{
	op(q, OP_LOCK);
	xw_u32(&q->w, (uint32_t)type);
	xw_u32(&q->w, 0); /* not a reclaim */
	xw_u64(&q->w, off);
	xw_u64(&q->w, len);
}

int nfs4_lock_new(struct nfs4_conn *c, struct nfs4_owner *oo, const struct nfs4_stateid *open_sid,
		  struct nfs4_owner *lo, const struct nfs4_fh *fh, int type, uint64_t off,
		  uint64_t len, struct nfs4_stateid *lock_sid)
{
	struct req q;
	struct res s;
	uint32_t at = first_op_index(c) + 1;

	req_begin(c, &q);
	putfh(&q, fh);
	lock_head(&q, type, off, len);
	xw_u32(&q.w, 1); /* new lock-owner */
	xw_u32(&q.w, seqid_of(c, oo));
	xw_stateid(&q.w, open_sid);
	xw_u32(&q.w, seqid_of(c, lo));
	owner4(&q, c, lo->name);
	int st = req_send(c, &q, &s);
	if (c->minor == 0 && seqid_consumed(status_at(&s, at))) {
		oo->seqid++;
		if (st == N4_OK)
			lo->seqid++;
	}
	if (st == N4_OK)
		*lock_sid = s.stateid;
	res_free(&s);
	return st;
}

int nfs4_lock_exist(struct nfs4_conn *c, struct nfs4_owner *lo, const struct nfs4_fh *fh,
		    int type, uint64_t off, uint64_t len, struct nfs4_stateid *lock_sid)
{
	struct req q;

	req_begin(c, &q);
	putfh(&q, fh);
	lock_head(&q, type, off, len);
	xw_u32(&q.w, 0); /* existing lock-owner */
	xw_stateid(&q.w, lock_sid);
	xw_u32(&q.w, seqid_of(c, lo));
	return stateful_op(c, lo, &q, lock_sid);
}

int nfs4_locku(struct nfs4_conn *c, struct nfs4_owner *lo, const struct nfs4_fh *fh, int type,
	       uint64_t off, uint64_t len, struct nfs4_stateid *lock_sid)
{
	struct req q;

	req_begin(c, &q);
	putfh(&q, fh);
	op(&q, OP_LOCKU);
	xw_u32(&q.w, (uint32_t)type);
	xw_u32(&q.w, seqid_of(c, lo));
	xw_stateid(&q.w, lock_sid);
	xw_u64(&q.w, off);
	xw_u64(&q.w, len);
	return stateful_op(c, lo, &q, lock_sid);
}

int nfs4_lockt(struct nfs4_conn *c, const char *owner, const struct nfs4_fh *fh, int type,
	       uint64_t off, uint64_t len)
{
	struct req q;

	req_begin(c, &q);
	putfh(&q, fh);
	op(&q, OP_LOCKT);
	xw_u32(&q.w, (uint32_t)type);
	xw_u64(&q.w, off);
	xw_u64(&q.w, len);
	owner4(&q, c, owner);
	return one_call(c, &q);
}

int nfs4_read(struct nfs4_conn *c, const struct nfs4_fh *fh, const struct nfs4_stateid *sid,
	      uint64_t off, uint32_t count, void *buf, size_t cap, uint32_t *got)
{
	struct req q;
	struct res s;

	req_begin(c, &q);
	putfh(&q, fh);
	op(&q, OP_READ);
	xw_stateid(&q.w, sid);
	xw_u64(&q.w, off);
	xw_u32(&q.w, count);
	int st = req_send(c, &q, &s);
	*got = 0;
	if (st == N4_OK && s.data) {
		*got = s.data_len < cap ? s.data_len : (uint32_t)cap;
		memcpy(buf, s.data, *got);
	}
	res_free(&s);
	return st;
}

int nfs4_write(struct nfs4_conn *c, const struct nfs4_fh *fh, const struct nfs4_stateid *sid,
	       uint64_t off, const void *data, uint32_t len)
{
	struct req q;

	req_begin(c, &q);
	putfh(&q, fh);
	op(&q, OP_WRITE);
	xw_stateid(&q.w, sid);
	xw_u64(&q.w, off);
	xw_u32(&q.w, 2); /* FILE_SYNC4 */
	xw_opaque(&q.w, data, len);
	return one_call(c, &q);
}

int nfs4_setattr_size(struct nfs4_conn *c, const struct nfs4_fh *fh,
		      const struct nfs4_stateid *sid, uint64_t size)
{
	struct req q;

	req_begin(c, &q);
	putfh(&q, fh);
	op(&q, OP_SETATTR);
	xw_stateid(&q.w, sid);
	xw_u32(&q.w, 1);
	xw_u32(&q.w, 1u << FATTR4_SIZE);
	xw_u32(&q.w, 8);
	xw_u64(&q.w, size);
	return one_call(c, &q);
}

int nfs4_getattr_size(struct nfs4_conn *c, const struct nfs4_fh *fh, uint64_t *size)
{
	struct req q;
	struct res s;

	req_begin(c, &q);
	putfh(&q, fh);
	op(&q, OP_GETATTR);
	xw_u32(&q.w, 1);
	xw_u32(&q.w, 1u << FATTR4_SIZE);
	int st = req_send(c, &q, &s);
	if (st == N4_OK)
		*size = s.size;
	res_free(&s);
	return st;
}

int nfs4_remove(struct nfs4_conn *c, const struct nfs4_fh *dir, const char *name)
{
	struct req q;

	req_begin(c, &q);
	putfh(&q, dir);
	op(&q, OP_REMOVE);
	xw_str(&q.w, name);
	return one_call(c, &q);
}

int nfs4_release_lockowner(struct nfs4_conn *c, const char *owner)
{
	struct req q;

	req_begin(c, &q);
	op(&q, OP_RELEASE_LOCKOWNER);
	owner4(&q, c, owner);
	return one_call(c, &q);
}

int nfs4_free_stateid(struct nfs4_conn *c, const struct nfs4_stateid *sid)
{
	struct req q;

	req_begin(c, &q);
	op(&q, OP_FREE_STATEID);
	xw_stateid(&q.w, sid);
	return one_call(c, &q);
}

const char *nfs4_status_name(int st)
{
	static __thread char buf[32];

	switch (st) {
	case -1: return "no reply";
	case N4_OK: return "NFS4_OK";
	case N4ERR_PERM: return "NFS4ERR_PERM";
	case N4ERR_NOENT: return "NFS4ERR_NOENT";
	case N4ERR_IO: return "NFS4ERR_IO";
	case N4ERR_ACCESS: return "NFS4ERR_ACCESS";
	case N4ERR_EXIST: return "NFS4ERR_EXIST";
	case N4ERR_INVAL: return "NFS4ERR_INVAL";
	case N4ERR_DELAY: return "NFS4ERR_DELAY";
	case N4ERR_DENIED: return "NFS4ERR_DENIED";
	case N4ERR_EXPIRED: return "NFS4ERR_EXPIRED";
	case N4ERR_LOCKED: return "NFS4ERR_LOCKED";
	case N4ERR_GRACE: return "NFS4ERR_GRACE";
	case N4ERR_SHARE_DENIED: return "NFS4ERR_SHARE_DENIED";
	case N4ERR_STALE_STATEID: return "NFS4ERR_STALE_STATEID";
	case N4ERR_OLD_STATEID: return "NFS4ERR_OLD_STATEID";
	case N4ERR_BAD_STATEID: return "NFS4ERR_BAD_STATEID";
	case N4ERR_BAD_SEQID: return "NFS4ERR_BAD_SEQID";
	case N4ERR_LOCK_RANGE: return "NFS4ERR_LOCK_RANGE";
	case N4ERR_LOCKS_HELD: return "NFS4ERR_LOCKS_HELD";
	case N4ERR_OPENMODE: return "NFS4ERR_OPENMODE";
	case N4ERR_SERVERFAULT: return "NFS4ERR_SERVERFAULT";
	default:
		snprintf(buf, sizeof(buf), "status %d", st);
		return buf;
	}
}
