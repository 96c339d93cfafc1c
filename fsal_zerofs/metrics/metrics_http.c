// SPDX-License-Identifier: LGPL-3.0-or-later
/*
 * fsal_zerofs/metrics/metrics_http.c - the metrics endpoint: libmicrohttpd on one
 * internal thread, on a socket we bind ourselves to exactly the configured
 * address (so that a bind error is ours to report, and IPv6 stays IPv6
 * only). GET (or HEAD) /metrics renders; anything else is 404 or 405.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#define ZM_MAX_CONNECTIONS 8
#define ZM_IDLE_TIMEOUT_S 10
#define ZM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static int fail(char *why, size_t why_len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t why_len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return err;
}

/* ---- the address -------------------------------------------------------------- */

int zm_parse_address(const char *s, struct sockaddr_storage *out, socklen_t *len, char *why,
		     size_t why_len)
{
	char host[64];
	const char *port_s;
	size_t hl;

	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':')
			return fail(why, why_len, EINVAL, "an IPv6 address is written [address]:port");
		hl = (size_t)(end - s - 1);
		if (hl == 0 || hl >= sizeof(host))
			return fail(why, why_len, EINVAL, "not an IPv6 address");
		memcpy(host, s + 1, hl);
		port_s = end + 2;
	} else {
		const char *colon = strrchr(s, ':');
		if (!colon)
			return fail(why, why_len, EINVAL, "the port is missing (host:port)");
		hl = (size_t)(colon - s);
		if (hl == 0 || hl >= sizeof(host) || memchr(s, ':', hl))
			return fail(why, why_len, EINVAL,
				    "not an IPv4 address (IPv6 is written [address]:port)");
		memcpy(host, s, hl);
		port_s = colon + 1;
	}
	host[hl] = '\0';

	unsigned long port = 0;
	const char *p = port_s;
	for (; *p >= '0' && *p <= '9' && port <= 65535; p++)
		port = port * 10 + (unsigned long)(*p - '0');
	if (p == port_s || *p || port < 1 || port > 65535)
		return fail(why, why_len, EINVAL, "the port must be a number from 1 to 65535");

	if (s[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return fail(why, why_len, EINVAL, "\"%s\" is not a numeric IPv6 address", host);
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)out;
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return fail(why, why_len, EINVAL, "\"%s\" is not a numeric IPv4 address", host);
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
	}
	return 0;
}

/* ---- the server ----------------------------------------------------------------- */

struct zm_server {
	struct MHD_Daemon *daemon;
	zm_render_fn render;
	void *render_arg;
	zm_log_fn log;
	void *log_arg;
	unsigned port;
};

static void mhd_log(void *arg, const char *fmt, va_list ap)
{
	struct zm_server *s = arg;
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	if (s->log)
		s->log(s->log_arg, msg);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *text)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct zm_server *s = cls;
	struct zm_text t = { 0 };
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics is served\n");
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, "not found: metrics are at /metrics\n");
	if (!s->render(s->render_arg, &t) || t.oom) {
		zm_text_free(&t);
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "could not render the metrics\n");
	}
	/* MHD frees the buffer with free() once sent */
	r = MHD_create_response_from_buffer(t.len, t.buf, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		zm_text_free(&t);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ZM_CONTENT_TYPE);
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

int zm_server_start(const struct sockaddr *addr, socklen_t addr_len, zm_render_fn render,
		    void *render_arg, zm_log_fn log, void *log_arg, struct zm_server **out,
		    char *why, size_t why_len)
{
	struct zm_server *s;
	struct sockaddr_storage bound;
	socklen_t bl = sizeof(bound);
	int fd, one = 1, e;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	*out = NULL;
	if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)
		return fail(why, why_len, EAFNOSUPPORT, "not an IPv4 or IPv6 address");
	if (!(s = calloc(1, sizeof(*s))))
		return fail(why, why_len, ENOMEM, "out of memory");
	s->render = render;
	s->render_arg = render_arg;
	s->log = log;
	s->log_arg = log_arg;

	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		free(s);
		return fail(why, why_len, e, "socket: %s", strerror(e));
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->sa_family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		flags |= MHD_USE_IPv6;
	}
	if (bind(fd, addr, addr_len) != 0 || listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &bl) != 0) {
		e = errno;
		close(fd);
		free(s);
		return fail(why, why_len, e, "cannot listen: %s", strerror(e));
	}
	s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						    : ((struct sockaddr_in *)&bound)->sin_port);
	/* The logger first, so that start-up messages go through it too;
	 * MHD owns fd from here (MHD_stop_daemon closes it). Its thread is
	 * started with every signal blocked: signals are the host process's
	 * (ganesha waits for them on a thread of its own). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
				     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
				     MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned)ZM_MAX_CONNECTIONS,
				     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)ZM_MAX_CONNECTIONS,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ZM_IDLE_TIMEOUT_S,
				     MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!s->daemon) {
		/* Not closed here: libmicrohttpd 0.9.75 closes a listen socket
		 * it was given on most of its failure paths, and a second
		 * close could hit a descriptor another thread just opened. */
		free(s);
		return fail(why, why_len, EIO, "libmicrohttpd could not start");
	}
	*out = s;
	return 0;
}

unsigned zm_server_port(const struct zm_server *s)
{
	return s->port;
}

void zm_server_stop(struct zm_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon); /* joins its thread, closes the listen socket */
	free(s);
}
