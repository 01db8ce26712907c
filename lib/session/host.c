/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host session: listeners, one record per guest connection, the Hello /
 * Welcome handshake, Reports, reclaim round trips.  A guest that breaks the
 * protocol loses its connection with a logged reason; the host goes on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <memshare/host.h>

#include "../internal.h"
#include "../transport/endpoint.h"
#include "conn.h"

#define HOST_MAX_LISTENERS 8
#define HOST_EVENTS_PER_ROUND 64

enum guest_state {
	GUEST_AWAIT_HELLO,
	GUEST_READY,
	GUEST_DEAD,
};

struct host_guest {
	struct host_guest *next;
	struct ms_conn conn;
	uint64_t id;
	enum guest_state state;
	struct ms_hello hello;
	struct ms_report report;       /* latest; report.lru owned */
	bool has_report;
	uint64_t connected_us;
	uint64_t hello_deadline_us;
	uint64_t reports;
	uint64_t last_report_us;
	bool reclaim_pending;
	uint64_t reclaim_id;
	uint64_t reclaim_requested_bytes;
	uint64_t reclaim_deadline_us;  /* when the host gives up waiting */
	uint64_t expired_reclaim_id;   /* timed out: a late answer is dropped */
	char gone_reason[160];
	int gone_err;
};

struct host_listener {
	struct ms_watch watch;
	int fd;
	struct ms_endpoint ep;
	uint64_t paused_until_us;    /* out of fds: not watched until then */
	uint64_t refused;            /* connections refused (max_guests) */
};

/* How long a listener rests when the process is out of file descriptors. */
#define LISTENER_PAUSE_US 1000000u

struct ms_host {
	struct ms_ctx *ctx;
	int epfd;
	struct host_listener listeners[HOST_MAX_LISTENERS];
	size_t nr_listeners;
	struct host_guest *guests;     /* oldest first */
	size_t nr_guests;
	uint64_t next_guest_id;
	uint64_t next_reclaim_id;
	uint32_t report_interval_ms;
	uint64_t bin_edges_ms[MS_LRU_MAX_BINS - 1];
	uint32_t nr_bin_edges;
	uint32_t max_frame;
	uint32_t hello_timeout_ms;
	uint32_t max_guests;
	uint32_t reclaim_timeout_ms;
	ms_host_event_fn event_fn;
	void *userdata;
	struct ms_trace_writer *recorder;
};

static void emit(struct ms_host *h, struct host_guest *g, struct ms_host_event *ev)
{
	ev->guest_id = g->id;
	ev->hello = &g->hello;
	if (h->event_fn)
		h->event_fn(h, ev, h->userdata);
}

/* Mark a guest for removal; the record is freed at the end of process(). */
static void guest_kill(struct ms_host *h, struct host_guest *g, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void guest_kill(struct ms_host *h, struct host_guest *g, int err, const char *fmt, ...)
{
	va_list ap;

	if (g->state == GUEST_DEAD)
		return;
	va_start(ap, fmt);
	vsnprintf(g->gone_reason, sizeof(g->gone_reason), fmt, ap);
	va_end(ap);
	g->gone_err = err;
	if (err)
		ms_warn(h->ctx, "guest %llu (%s, %s): dropped: %s",
			(unsigned long long)g->id, g->hello.guest_name[0] ? g->hello.guest_name : "?",
			g->conn.peer, g->gone_reason);
	else
		ms_info(h->ctx, "guest %llu (%s): gone: %s", (unsigned long long)g->id,
			g->hello.guest_name[0] ? g->hello.guest_name : "?", g->gone_reason);
	if (g->state == GUEST_READY) {
		struct ms_host_event ev = { .type = MS_HOST_EVENT_GUEST_GONE,
					    .reason = g->gone_reason, .err = err };

		g->state = GUEST_DEAD;
		emit(h, g, &ev);
	}
	g->state = GUEST_DEAD;
	ms_conn_record_gone(&g->conn, g->gone_reason);
	ms_conn_close(&g->conn);
}

static void guest_free(struct host_guest *g)
{
	ms_conn_close(&g->conn);
	free(g->report.lru);
	free(g);
}

static void reap(struct ms_host *h)
{
	struct host_guest **pp = &h->guests;

	while (*pp) {
		struct host_guest *g = *pp;

		if (g->state == GUEST_DEAD) {
			*pp = g->next;
			h->nr_guests--;
			guest_free(g);
		} else {
			pp = &g->next;
		}
	}
}

static int send_msg(struct ms_host *h, struct host_guest *g, struct ms_msg *m)
{
	int r = ms_conn_send(&g->conn, m, h->max_frame);

	if (r == -ENOBUFS)
		guest_kill(h, g, r, "guest does not read: output queue over %u bytes",
			   MS_CONN_OUT_MAX_BYTES);
	else if (r < 0)
		guest_kill(h, g, r, "send %s: %s", ms_msg_type_name(m->type), strerror(-r));
	return r;
}

static void send_error(struct ms_host *h, struct host_guest *g, uint64_t in_reply_to, int code,
		       const char *msg)
{
	struct ms_msg m = { .type = MS_MSG_ERROR, .in_reply_to = in_reply_to };

	m.u.error.code = code;
	ms_strlcpy(m.u.error.message, msg, sizeof(m.u.error.message));
	send_msg(h, g, &m);
}

static void on_hello(struct ms_host *h, struct host_guest *g, struct ms_msg *m)
{
	const struct ms_hello *hello = &m->u.hello;
	struct ms_msg w = { .type = MS_MSG_WELCOME, .in_reply_to = m->seq };
	struct ms_host_event ev = { .type = MS_HOST_EVENT_GUEST_READY };
	uint32_t version;

	if (hello->proto_min > MS_PROTO_VERSION_MAX || hello->proto_max < MS_PROTO_VERSION_MIN) {
		char msg[128];

		snprintf(msg, sizeof(msg), "no common protocol version: guest %u..%u, host %u..%u",
			 hello->proto_min, hello->proto_max, MS_PROTO_VERSION_MIN,
			 MS_PROTO_VERSION_MAX);
		send_error(h, g, m->seq, EPROTONOSUPPORT, msg);
		guest_kill(h, g, -EPROTONOSUPPORT, "%s", msg);
		return;
	}
	version = MS_MIN(hello->proto_max, (uint32_t)MS_PROTO_VERSION_MAX);
	g->hello = *hello;
	if (!g->hello.guest_name[0])
		snprintf(g->hello.guest_name, sizeof(g->hello.guest_name), "guest-%llu",
			 (unsigned long long)g->id);
	w.u.welcome.proto_version = version;
	w.u.welcome.capabilities = 0;
	w.u.welcome.report_interval_ms = h->report_interval_ms;
	w.u.welcome.nr_bin_edges = h->nr_bin_edges;
	memcpy(w.u.welcome.bin_edges_ms, h->bin_edges_ms, sizeof(h->bin_edges_ms));
	if (send_msg(h, g, &w) < 0)
		return;
	g->state = GUEST_READY;
	ms_info(h->ctx, "guest %llu '%s' ready (%s, agent %s, protocol %u)",
		(unsigned long long)g->id, g->hello.guest_name, g->conn.peer,
		g->hello.agent_version, version);
	emit(h, g, &ev);
}

static void on_message(struct ms_host *h, struct host_guest *g, struct ms_msg *m)
{
	if (g->state == GUEST_AWAIT_HELLO) {
		if (m->type != MS_MSG_HELLO) {
			guest_kill(h, g, -EPROTO, "expected Hello, got %s", ms_msg_type_name(m->type));
			return;
		}
		on_hello(h, g, m);
		return;
	}
	switch (m->type) {
	case MS_MSG_HELLO:
		guest_kill(h, g, -EPROTO, "second Hello on one connection");
		return;
	case MS_MSG_REPORT: {
		struct ms_host_event ev = { .type = MS_HOST_EVENT_REPORT };

		free(g->report.lru);
		g->report = m->u.report;
		m->u.report.lru = NULL;       /* now owned by the record */
		g->has_report = true;
		g->reports++;
		g->last_report_us = ms_now_us();
		ev.report = &g->report;
		emit(h, g, &ev);
		return;
	}
	case MS_MSG_RECLAIM_RESULT: {
		struct ms_host_event ev = { .type = MS_HOST_EVENT_RECLAIM_REPLY };

		if (!g->reclaim_pending && g->expired_reclaim_id &&
		    m->u.reclaim_result.id == g->expired_reclaim_id) {
			ms_info(h->ctx, "guest %llu '%s': answer to reclaim request %llu came after "
				"the host gave up; dropped", (unsigned long long)g->id,
				g->hello.guest_name, (unsigned long long)g->expired_reclaim_id);
			g->expired_reclaim_id = 0;
			return;
		}
		if (!g->reclaim_pending || m->u.reclaim_result.id != g->reclaim_id) {
			guest_kill(h, g, -EPROTO, "ReclaimResult for request %llu that is not pending",
				   (unsigned long long)m->u.reclaim_result.id);
			return;
		}
		g->reclaim_pending = false;
		ev.reply = &m->u.reclaim_result;
		emit(h, g, &ev);
		return;
	}
	case MS_MSG_ERROR: {
		struct ms_host_event ev = { .type = MS_HOST_EVENT_GUEST_ERROR };

		ms_warn(h->ctx, "guest %llu '%s' sent Error %d: %s", (unsigned long long)g->id,
			g->hello.guest_name, m->u.error.code, m->u.error.message);
		ev.error = &m->u.error;
		emit(h, g, &ev);
		return;
	}
	case MS_MSG_PING: {
		struct ms_msg pong = { .type = MS_MSG_PONG, .in_reply_to = m->seq };

		pong.u.nonce = m->u.nonce;
		send_msg(h, g, &pong);
		return;
	}
	case MS_MSG_PONG:
		return;
	case MS_MSG_GOODBYE:
		guest_kill(h, g, 0, "Goodbye: %s", m->u.reason[0] ? m->u.reason : "no reason");
		return;
	case MS_MSG_UNKNOWN:
		/* A newer guest: say so, keep the connection. */
		send_error(h, g, m->seq, EPROTONOSUPPORT, "unknown message type");
		return;
	default:
		guest_kill(h, g, -EPROTO, "%s is not a guest-to-host message",
			   ms_msg_type_name(m->type));
		return;
	}
}

static void guest_readable(struct ms_host *h, struct host_guest *g)
{
	char why[160];
	int rr, r;

	rr = ms_conn_read(&g->conn);
	if (rr < 0 && rr != -ECONNRESET) {
		guest_kill(h, g, rr, "read: %s", strerror(-rr));
		return;
	}
	for (;;) {
		struct ms_msg m;

		r = ms_conn_next(&g->conn, &m, why, sizeof(why));
		if (r == 0)
			break;
		if (r < 0) {
			guest_kill(h, g, r, "%s", why);
			return;
		}
		on_message(h, g, &m);
		ms_msg_clear(&m);
		if (g->state == GUEST_DEAD)
			return;
	}
	if (rr == -ECONNRESET || g->conn.eof) {
		if (ms_frame_decoder_pending(&g->conn.dec))
			guest_kill(h, g, -EPROTO, "connection closed inside a frame");
		else
			guest_kill(h, g, 0, "connection closed by the guest");
	}
}

/* Stop watching a listener for a while (EMFILE: accepting again at once
 * would spin); ms_host_process() resumes it. */
static void listener_pause(struct ms_host *h, struct host_listener *l, int err)
{
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, l->fd, NULL);
	l->paused_until_us = ms_now_us() + LISTENER_PAUSE_US;
	ms_warn(h->ctx, "accept: %s: not accepting guests for %u ms", strerror(-err),
		LISTENER_PAUSE_US / 1000u);
}

static void listener_resume(struct ms_host *h, struct host_listener *l)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &l->watch };

	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, l->fd, &ev) == 0)
		l->paused_until_us = 0;
	else
		l->paused_until_us = ms_now_us() + LISTENER_PAUSE_US;
}

static void accept_all(struct ms_host *h, struct host_listener *l)
{
	for (int i = 0; i < 32; i++) {
		struct host_guest *g, **tail;
		int fd = ms_endpoint_accept(l->fd), r;

		if (fd == -EAGAIN || fd == -EWOULDBLOCK)
			return;
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
			listener_pause(h, l, fd);
			return;
		}
		if (fd < 0) {
			ms_warn(h->ctx, "accept: %s", strerror(-fd));
			return;
		}
		if (h->nr_guests >= h->max_guests) {
			/* Log the first refusal and then every 1000th. */
			if (l->refused++ % 1000 == 0)
				ms_warn(h->ctx, "refusing connections: %u guests connected "
					"(max_guests); %llu refused so far", h->max_guests,
					(unsigned long long)l->refused);
			close(fd);
			continue;
		}
		g = calloc(1, sizeof(*g));
		if (!g) {
			close(fd);
			return;
		}
		g->id = ++h->next_guest_id;
		g->connected_us = ms_now_us();
		g->hello_deadline_us = g->connected_us + (uint64_t)h->hello_timeout_ms * 1000u;
		r = ms_conn_open(&g->conn, fd, h->epfd, h->max_frame, g, false);
		if (r < 0) {
			ms_warn(h->ctx, "accept: epoll: %s", strerror(-r));
			free(g);
			continue;
		}
		g->conn.recorder = &h->recorder;
		g->conn.record_id = g->id;
		for (tail = &h->guests; *tail; tail = &(*tail)->next)
			;
		*tail = g;
		h->nr_guests++;
		ms_dbg(h->ctx, "guest %llu connected (%s)", (unsigned long long)g->id, g->conn.peer);
	}
}

MS_EXPORT int ms_host_listen(struct ms_host *h, const char *endpoint)
{
	struct host_listener *l;
	struct epoll_event ev;
	int fd;

	if (!h || !endpoint)
		return -EINVAL;
	if (h->nr_listeners == HOST_MAX_LISTENERS)
		return -ENOSPC;
	l = &h->listeners[h->nr_listeners];
	if (ms_endpoint_parse(endpoint, &l->ep) < 0) {
		ms_err(h->ctx, "listen: bad endpoint '%s' (want unix:/path or vsock:CID:PORT)",
		       endpoint);
		return -EINVAL;
	}
	fd = ms_endpoint_listen(&l->ep, 128);
	if (fd < 0) {
		ms_err(h->ctx, "listen on %s: %s", endpoint, strerror(-fd));
		return fd;
	}
	l->fd = fd;
	l->watch.kind = MS_WATCH_LISTENER;
	l->watch.owner = l;
	ev.events = EPOLLIN;
	ev.data.ptr = &l->watch;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	h->nr_listeners++;
	ms_info(h->ctx, "listening on %s", endpoint);
	return 0;
}

MS_EXPORT int ms_host_new(struct ms_host **out, const struct ms_host_opts *opts)
{
	const uint64_t *edges;
	struct ms_host *h;
	size_t nedges;
	const char *listen, *record;
	int r;

	if (!out || !MS_OPTS_VALID(opts, ms_host_opts))
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->ctx = MS_OPTS_GET(opts, ms_host_opts, ctx, NULL);
	h->report_interval_ms = MS_OPTS_GET(opts, ms_host_opts, report_interval_ms, 0);
	h->max_frame = MS_OPTS_GET(opts, ms_host_opts, max_frame_bytes, 0);
	if (!h->max_frame)
		h->max_frame = MS_FRAME_DEFAULT_MAX_BYTES;
	h->hello_timeout_ms = MS_OPTS_GET(opts, ms_host_opts, hello_timeout_ms, 0);
	if (!h->hello_timeout_ms)
		h->hello_timeout_ms = 5000;
	h->max_guests = MS_OPTS_GET(opts, ms_host_opts, max_guests, 0);
	if (!h->max_guests)
		h->max_guests = 1024;
	h->reclaim_timeout_ms = MS_OPTS_GET(opts, ms_host_opts, reclaim_timeout_ms, 0);
	if (!h->reclaim_timeout_ms)
		h->reclaim_timeout_ms = 60000;
	h->event_fn = MS_OPTS_GET(opts, ms_host_opts, event_fn, NULL);
	h->userdata = MS_OPTS_GET(opts, ms_host_opts, userdata, NULL);
	edges = MS_OPTS_GET(opts, ms_host_opts, bin_edges_ms, NULL);
	nedges = MS_OPTS_GET(opts, ms_host_opts, nr_bin_edges, 0);
	if (h->max_frame < 64 || h->max_frame > MS_FRAME_HARD_MAX_BYTES ||
	    (edges && nedges > MS_LRU_MAX_BINS - 1)) {
		free(h);
		return -EINVAL;
	}
	for (size_t i = 0; edges && i < nedges; i++) {
		if (!edges[i] || edges[i] == MS_AGE_INFINITE || (i && edges[i] <= edges[i - 1])) {
			free(h);
			return -EINVAL;
		}
		h->bin_edges_ms[i] = edges[i];
	}
	h->nr_bin_edges = edges ? (uint32_t)nedges : 0;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0) {
		r = -errno;
		free(h);
		return r;
	}
	record = MS_OPTS_GET(opts, ms_host_opts, record_path, NULL);
	if (record) {
		r = ms_trace_writer_open(&h->recorder, record);
		if (r < 0) {
			ms_err(h->ctx, "record to %s: %s", record, strerror(-r));
			ms_host_free(h);
			return r;
		}
		ms_info(h->ctx, "recording guest traffic to %s", record);
	}
	listen = MS_OPTS_GET(opts, ms_host_opts, listen, NULL);
	if (listen) {
		r = ms_host_listen(h, listen);
		if (r < 0) {
			ms_host_free(h);
			return r;
		}
	}
	*out = h;
	return 0;
}

MS_EXPORT void ms_host_free(struct ms_host *h)
{
	if (!h)
		return;
	for (struct host_guest *g = h->guests; g; g = g->next) {
		if (g->state == GUEST_READY) {
			struct ms_msg m = { .type = MS_MSG_GOODBYE };

			ms_strlcpy(m.u.reason, "host shutting down", sizeof(m.u.reason));
			ms_conn_send(&g->conn, &m, h->max_frame);
			ms_conn_record_gone(&g->conn, "host shutting down");
		}
	}
	while (h->guests) {
		struct host_guest *g = h->guests;

		h->guests = g->next;
		guest_free(g);
	}
	for (size_t i = 0; i < h->nr_listeners; i++) {
		close(h->listeners[i].fd);
		if (h->listeners[i].ep.kind == MS_ENDPOINT_UNIX && h->listeners[i].ep.path[0] == '/')
			unlink(h->listeners[i].ep.path);
	}
	if (h->epfd >= 0)
		close(h->epfd);
	ms_trace_writer_close(h->recorder);
	free(h);
}

MS_EXPORT int ms_host_get_fd(struct ms_host *h)
{
	return h ? h->epfd : -EINVAL;
}

MS_EXPORT int64_t ms_host_get_timeout_us(struct ms_host *h)
{
	uint64_t now = ms_now_us(), best = UINT64_MAX;

	if (!h)
		return -1;
	for (size_t i = 0; i < h->nr_listeners; i++)
		if (h->listeners[i].paused_until_us && h->listeners[i].paused_until_us < best)
			best = h->listeners[i].paused_until_us;
	for (struct host_guest *g = h->guests; g; g = g->next) {
		if (g->state == GUEST_AWAIT_HELLO && g->hello_deadline_us < best)
			best = g->hello_deadline_us;
		if (g->state == GUEST_READY && g->reclaim_pending && g->reclaim_deadline_us < best)
			best = g->reclaim_deadline_us;
	}
	if (best == UINT64_MAX)
		return -1;
	return best <= now ? 0 : (int64_t)(best - now);
}

/* The guest did not answer in time: complete the request with -ETIMEDOUT. */
static void reclaim_expire(struct ms_host *h, struct host_guest *g)
{
	struct ms_host_event ev = { .type = MS_HOST_EVENT_RECLAIM_REPLY };
	struct ms_reclaim_reply reply = { .id = g->reclaim_id };

	ms_warn(h->ctx, "guest %llu '%s': no answer to reclaim request %llu in time",
		(unsigned long long)g->id, g->hello.guest_name, (unsigned long long)g->reclaim_id);
	reply.result.status = -ETIMEDOUT;
	reply.result.requested_bytes = g->reclaim_requested_bytes;
	g->reclaim_pending = false;
	g->expired_reclaim_id = g->reclaim_id;
	ev.reply = &reply;
	emit(h, g, &ev);
}

MS_EXPORT int ms_host_process(struct ms_host *h)
{
	struct epoll_event evs[HOST_EVENTS_PER_ROUND];
	uint64_t now;
	int n;

	if (!h)
		return -EINVAL;
	n = epoll_wait(h->epfd, evs, HOST_EVENTS_PER_ROUND, 0);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		struct ms_watch *w = evs[i].data.ptr;

		if (w->kind == MS_WATCH_LISTENER) {
			accept_all(h, w->owner);
			continue;
		}
		{
			struct host_guest *g = w->owner;

			if (g->state == GUEST_DEAD)
				continue;
			if (evs[i].events & EPOLLOUT) {
				int r = ms_conn_flush(&g->conn);

				if (r < 0) {
					guest_kill(h, g, r, "write: %s", strerror(-r));
					continue;
				}
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				guest_readable(h, g);
		}
	}
	now = ms_now_us();
	for (size_t i = 0; i < h->nr_listeners; i++)
		if (h->listeners[i].paused_until_us && now >= h->listeners[i].paused_until_us)
			listener_resume(h, &h->listeners[i]);
	for (struct host_guest *g = h->guests; g; g = g->next) {
		if (g->state == GUEST_AWAIT_HELLO && now >= g->hello_deadline_us)
			guest_kill(h, g, -ETIMEDOUT, "no Hello within %u ms", h->hello_timeout_ms);
		if (g->state == GUEST_READY && g->reclaim_pending && now >= g->reclaim_deadline_us)
			reclaim_expire(h, g);
	}
	reap(h);
	return 0;
}

static struct host_guest *find_ready(struct ms_host *h, uint64_t id)
{
	for (struct host_guest *g = h->guests; g; g = g->next)
		if (g->id == id && g->state == GUEST_READY)
			return g;
	return NULL;
}

MS_EXPORT size_t ms_host_list_guests(struct ms_host *h, uint64_t *ids, size_t max)
{
	size_t n = 0;

	if (!h)
		return 0;
	for (struct host_guest *g = h->guests; g; g = g->next) {
		if (g->state != GUEST_READY)
			continue;
		if (ids && n < max)
			ids[n] = g->id;
		n++;
	}
	return n;
}

MS_EXPORT int ms_host_guest_info(struct ms_host *h, uint64_t id, struct ms_guest_info *out)
{
	struct host_guest *g;

	if (!h || !out)
		return -EINVAL;
	g = find_ready(h, id);
	if (!g)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->guest_id = g->id;
	out->hello = g->hello;
	ms_strlcpy(out->peer, g->conn.peer, sizeof(out->peer));
	out->vsock_cid = ms_socket_peer_cid(g->conn.fd);
	out->connected_mono_us = g->connected_us;
	out->reports = g->reports;
	out->last_report_mono_us = g->last_report_us;
	out->reclaim_pending = g->reclaim_pending;
	return 0;
}

MS_EXPORT const struct ms_report *ms_host_guest_report(struct ms_host *h, uint64_t id)
{
	struct host_guest *g = h ? find_ready(h, id) : NULL;

	return g && g->has_report ? &g->report : NULL;
}

MS_EXPORT uint64_t ms_host_find_guest(struct ms_host *h, const char *name)
{
	uint64_t found = 0;

	if (!h || !name)
		return 0;
	for (struct host_guest *g = h->guests; g; g = g->next)
		if (g->state == GUEST_READY && strcmp(g->hello.guest_name, name) == 0)
			found = g->id;
	return found;
}

MS_EXPORT int ms_host_reclaim(struct ms_host *h, uint64_t id, const struct ms_reclaim_request *req,
			      uint64_t *id_out)
{
	struct ms_msg m = { .type = MS_MSG_RECLAIM_REQUEST };
	struct host_guest *g;
	int r;

	if (!h || !req)
		return -EINVAL;
	if (!req->kinds || (req->kinds & ~MS_RECLAIM_ALL_KINDS) ||
	    (req->bytes == 0 && (req->kinds & (MS_RECLAIM_FILE | MS_RECLAIM_ANON))))
		return -EINVAL;
	g = find_ready(h, id);
	if (!g)
		return -ENOENT;
	if (g->reclaim_pending)
		return -EBUSY;
	m.u.reclaim_request = *req;
	m.u.reclaim_request.id = ++h->next_reclaim_id;
	r = send_msg(h, g, &m);
	if (r < 0)
		return r == -ENOBUFS ? r : -ENOTCONN;
	g->reclaim_pending = true;
	g->reclaim_id = m.u.reclaim_request.id;
	g->reclaim_requested_bytes = req->bytes;
	g->reclaim_deadline_us = ms_now_us() +
		((uint64_t)req->deadline_ms + h->reclaim_timeout_ms) * 1000u;
	if (id_out)
		*id_out = g->reclaim_id;
	return 0;
}

MS_EXPORT int ms_host_disconnect(struct ms_host *h, uint64_t id, const char *reason)
{
	struct ms_msg m = { .type = MS_MSG_GOODBYE };
	struct host_guest *g;

	if (!h)
		return -EINVAL;
	g = find_ready(h, id);
	if (!g)
		return -ENOENT;
	ms_strlcpy(m.u.reason, reason ? reason : "disconnected by the host", sizeof(m.u.reason));
	ms_conn_send(&g->conn, &m, h->max_frame);
	guest_kill(h, g, 0, "disconnected by the host: %s", m.u.reason);
	return 0;
}
