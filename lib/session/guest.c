/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest session: connect (and reconnect with exponential backoff and
 * jitter), Hello, periodic Reports built from probe/ and lru/, reclaim
 * requests executed by reclaim/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <memshare/guest.h>

#include "../internal.h"
#include "../lru/lru-internal.h"
#include "../transport/endpoint.h"
#include "../util/fileio.h"
#include "conn.h"

/* A host that reads nothing for this long is given up on (and retried). */
#define GUEST_WRITE_TIMEOUT_US (30u * 1000000u)

enum guest_conn_state {
	G_DISCONNECTED,
	G_CONNECTING,       /* non-blocking connect in progress */
	G_HELLO_SENT,
	G_READY,
};

struct ms_guest {
	struct ms_ctx *ctx;
	struct ms_endpoint ep;
	char endpoint[128];
	int epfd;
	struct ms_conn conn;
	enum guest_conn_state state;
	struct ms_hello hello;
	uint32_t own_interval_ms;
	uint32_t interval_ms;           /* effective */
	uint64_t bin_edges_ms[MS_LRU_MAX_BINS - 1];
	uint32_t nr_bin_edges;          /* 0: library default */
	enum ms_lru_source lru_source;
	char *reclaim_memcg;
	uint32_t reconnect_min_ms;
	uint32_t reconnect_max_ms;
	uint32_t backoff_ms;
	uint64_t next_connect_us;
	uint64_t welcome_deadline_us;
	uint32_t welcome_timeout_ms;
	uint32_t aging_ms;              /* 0: no aging */
	uint64_t next_aging_us;
	uint64_t next_report_us;
	uint32_t max_frame;
	uint64_t rng;
	uint64_t reports_skipped;       /* host not reading fast enough */
	uint32_t connect_failures;      /* since the last Welcome */
	ms_guest_event_fn event_fn;
	void *userdata;
};

static void emit(struct ms_guest *g, struct ms_guest_event *ev)
{
	if (g->event_fn)
		g->event_fn(g, ev, g->userdata);
}

/* xorshift64*: jitter only, not security. */
static uint64_t rnd(struct ms_guest *g)
{
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 2685821657736338717ull;
}

static void schedule_reconnect(struct ms_guest *g)
{
	uint64_t delay_ms = g->backoff_ms;

	/* Up to +25% jitter so a restarted host is not hit by every guest
	 * at the same instant. */
	delay_ms += rnd(g) % (delay_ms / 4 + 1);
	g->next_connect_us = ms_now_us() + delay_ms * 1000u;
	g->backoff_ms = (uint32_t)MS_MIN((uint64_t)g->backoff_ms * 2, (uint64_t)g->reconnect_max_ms);
}

static void disconnect(struct ms_guest *g, int err, const char *reason)
{
	struct ms_guest_event ev = { .type = MS_GUEST_EVENT_DISCONNECTED, .reason = reason,
				     .err = err };
	bool was_ready = g->state == G_READY || g->state == G_HELLO_SENT;

	ms_conn_close(&g->conn);
	g->state = G_DISCONNECTED;
	schedule_reconnect(g);
	if (was_ready) {
		ms_warn(g->ctx, "disconnected from %s: %s", g->endpoint, reason);
		emit(g, &ev);
	} else if (g->connect_failures++ == 0 || g->backoff_ms == g->reconnect_max_ms) {
		/* The first failure, and then once per longest backoff. */
		ms_log(g->ctx, MS_LOG_NOTICE, "cannot connect to %s: %s; retrying (backoff up to "
		       "%u ms)", g->endpoint, reason, g->reconnect_max_ms);
	} else {
		ms_dbg(g->ctx, "connect to %s: %s; retry in %llu ms", g->endpoint, reason,
		       (unsigned long long)((g->next_connect_us - ms_now_us()) / 1000u));
	}
}

static int send_msg(struct ms_guest *g, struct ms_msg *m)
{
	int r = ms_conn_send(&g->conn, m, g->max_frame);

	if (r < 0) {
		char why[96];

		snprintf(why, sizeof(why), "send %s: %s", ms_msg_type_name(m->type), strerror(-r));
		disconnect(g, r, why);
	}
	return r;
}

static void on_connected(struct ms_guest *g)
{
	struct ms_msg m = { .type = MS_MSG_HELLO };

	m.u.hello = g->hello;
	if (send_msg(g, &m) == 0)
		g->state = G_HELLO_SENT;
}

static void try_connect(struct ms_guest *g)
{
	bool in_progress;
	int fd, r;

	g->welcome_deadline_us = ms_now_us() + (uint64_t)g->welcome_timeout_ms * 1000u;
	fd = ms_endpoint_connect(&g->ep, &in_progress);
	if (fd < 0) {
		disconnect(g, fd, strerror(-fd));
		return;
	}
	r = ms_conn_open(&g->conn, fd, g->epfd, g->max_frame, g, in_progress);
	if (r < 0) {
		disconnect(g, r, strerror(-r));
		return;
	}
	g->state = G_CONNECTING;
	if (!in_progress)
		on_connected(g);
}

MS_EXPORT int ms_guest_build_report(struct ms_ctx *ctx, const struct ms_lru_opts *lru_opts,
				    struct ms_report *out)
{
	struct ms_report rep;
	int r;

	if (!ctx || !out)
		return -EINVAL;
	memset(&rep, 0, sizeof(rep));
	r = ms_psi_read(ctx, NULL, &rep.psi);
	if (r == 0)
		rep.has_psi = true;
	else if (r != -EOPNOTSUPP)
		return r;
	r = ms_meminfo_read(ctx, &rep.meminfo);
	if (r < 0)
		return r;
	r = ms_vmstat_read(ctx, &rep.vmstat);
	if (r < 0)
		return r;
	r = ms_lru_summary_read(ctx, lru_opts, &rep.lru);
	if (r < 0) {
		ms_dbg(ctx, "report without LRU summary: %s", strerror(-r));
		rep.lru = NULL;
	}
	rep.mono_us = ms_now_us();
	*out = rep;
	return 0;
}

MS_EXPORT void ms_report_clear(struct ms_report *rep)
{
	if (!rep)
		return;
	ms_lru_summary_free(rep->lru);
	rep->lru = NULL;
}

static void send_report(struct ms_guest *g, enum ms_report_reason reason)
{
	MS_OPTS(ms_lru_opts, lo,
		.bin_edges_ms = g->nr_bin_edges ? g->bin_edges_ms : NULL,
		.nr_bin_edges = g->nr_bin_edges,
		.source = g->lru_source);
	struct ms_guest_event ev = { .type = MS_GUEST_EVENT_REPORT_SENT };
	struct ms_msg m = { .type = MS_MSG_REPORT };
	int r;

	g->next_report_us = ms_now_us() + (uint64_t)g->interval_ms * 1000u;
	/* The host has not taken the last one yet: a newer report replaces a
	 * stale one, so skip this one rather than queue it. */
	if (reason == MS_REPORT_PERIODIC && ms_conn_pending_out(&g->conn)) {
		g->reports_skipped++;
		return;
	}
	r = ms_guest_build_report(g->ctx, &lo, &m.u.report);
	if (r < 0) {
		ms_err(g->ctx, "cannot build a report: %s", strerror(-r));
		return;
	}
	m.u.report.reason = reason;
	if (send_msg(g, &m) == 0) {
		ev.report = &m.u.report;
		emit(g, &ev);
	}
	ms_report_clear(&m.u.report);
}

static void on_reclaim(struct ms_guest *g, const struct ms_msg *m)
{
	const struct ms_reclaim_request *req = &m->u.reclaim_request;
	MS_OPTS(ms_reclaim_opts, ro,
		.bytes = req->bytes,
		.kinds = req->kinds,
		.memcg = g->reclaim_memcg,
		.deadline_ms = req->deadline_ms);
	struct ms_msg reply = { .type = MS_MSG_RECLAIM_RESULT, .in_reply_to = m->seq };
	struct ms_guest_event ev = { .type = MS_GUEST_EVENT_RECLAIM_DONE };

	ms_info(g->ctx, "reclaim request %llu: %llu bytes, kinds 0x%x",
		(unsigned long long)req->id, (unsigned long long)req->bytes, req->kinds);
	reply.u.reclaim_result.id = req->id;
	ms_reclaim_run(g->ctx, &ro, &reply.u.reclaim_result.result);
	ms_info(g->ctx, "reclaim request %llu: status %d, freed %llu bytes in %llu us",
		(unsigned long long)req->id, reply.u.reclaim_result.result.status,
		(unsigned long long)reply.u.reclaim_result.result.freed_bytes,
		(unsigned long long)reply.u.reclaim_result.result.duration_us);
	if (send_msg(g, &reply) < 0)
		return;
	ev.request = req;
	ev.reply = &reply.u.reclaim_result;
	emit(g, &ev);
	/* Let the host see the effect at once. */
	send_report(g, MS_REPORT_AFTER_RECLAIM);
}

static void on_message(struct ms_guest *g, struct ms_msg *m)
{
	if (g->state == G_HELLO_SENT) {
		struct ms_guest_event ev = { .type = MS_GUEST_EVENT_CONNECTED };

		if (m->type == MS_MSG_ERROR) {
			char why[MS_ERROR_MESSAGE_MAX + 32];

			snprintf(why, sizeof(why), "host refused Hello: %s", m->u.error.message);
			disconnect(g, -(m->u.error.code ? m->u.error.code : EPROTO), why);
			return;
		}
		if (m->type != MS_MSG_WELCOME) {
			disconnect(g, -EPROTO, "expected Welcome");
			return;
		}
		g->state = G_READY;
		g->backoff_ms = g->reconnect_min_ms;
		g->connect_failures = 0;
		g->interval_ms = m->u.welcome.report_interval_ms ? m->u.welcome.report_interval_ms
								 : g->own_interval_ms;
		g->nr_bin_edges = m->u.welcome.nr_bin_edges;
		memcpy(g->bin_edges_ms, m->u.welcome.bin_edges_ms, sizeof(g->bin_edges_ms));
		ms_log(g->ctx, MS_LOG_NOTICE, "connected to %s (protocol %u, report every %u ms)",
		       g->endpoint, m->u.welcome.proto_version, g->interval_ms);
		ev.welcome = &m->u.welcome;
		emit(g, &ev);
		send_report(g, MS_REPORT_PERIODIC);
		return;
	}
	switch (m->type) {
	case MS_MSG_RECLAIM_REQUEST:
		on_reclaim(g, m);
		return;
	case MS_MSG_PING: {
		struct ms_msg pong = { .type = MS_MSG_PONG, .in_reply_to = m->seq };

		pong.u.nonce = m->u.nonce;
		send_msg(g, &pong);
		return;
	}
	case MS_MSG_PONG:
		return;
	case MS_MSG_ERROR: {
		struct ms_guest_event ev = { .type = MS_GUEST_EVENT_HOST_ERROR,
					     .error = &m->u.error };

		ms_warn(g->ctx, "host sent Error %d: %s", m->u.error.code, m->u.error.message);
		emit(g, &ev);
		return;
	}
	case MS_MSG_GOODBYE: {
		char why[MS_ERROR_MESSAGE_MAX + 32];

		snprintf(why, sizeof(why), "host said Goodbye: %s", m->u.reason);
		disconnect(g, 0, why);
		return;
	}
	case MS_MSG_UNKNOWN: {
		struct ms_msg e = { .type = MS_MSG_ERROR, .in_reply_to = m->seq };

		e.u.error.code = EPROTONOSUPPORT;
		ms_strlcpy(e.u.error.message, "unknown message type", sizeof(e.u.error.message));
		send_msg(g, &e);
		return;
	}
	default: {
		char why[96];

		snprintf(why, sizeof(why), "unexpected %s from the host", ms_msg_type_name(m->type));
		disconnect(g, -EPROTO, why);
		return;
	}
	}
}

static void conn_readable(struct ms_guest *g)
{
	char why[160];
	int rr, r;

	rr = ms_conn_read(&g->conn);
	if (rr < 0 && rr != -ECONNRESET) {
		disconnect(g, rr, strerror(-rr));
		return;
	}
	while (g->state >= G_HELLO_SENT) {
		struct ms_msg m;

		r = ms_conn_next(&g->conn, &m, why, sizeof(why));
		if (r == 0)
			break;
		if (r < 0) {
			disconnect(g, r, why);
			return;
		}
		on_message(g, &m);
		ms_msg_clear(&m);
	}
	if (g->state >= G_CONNECTING && (rr == -ECONNRESET || g->conn.eof))
		disconnect(g, -ECONNRESET, "connection closed by the host");
}

MS_EXPORT uint64_t ms_guest_capabilities(struct ms_ctx *ctx)
{
	struct ms_numa_node *nodes;
	struct ms_psi psi;
	size_t nr;
	uint64_t caps = MS_CAP_CLASSIC_LRU;

	if (!ctx)
		return 0;
	if (ms_psi_read(ctx, NULL, &psi) == 0)
		caps |= MS_CAP_PSI | MS_CAP_PSI_TRIGGER;
	if (lru_mglru_available(ctx, false) == 0)
		caps |= MS_CAP_MGLRU;
	if (ms_path_exists(ctx, "sys/fs/cgroup/memory.reclaim"))
		caps |= MS_CAP_MEMCG_RECLAIM;
	if (ms_path_exists(ctx, "proc/sys/vm/drop_caches"))
		caps |= MS_CAP_SLAB_RECLAIM;
	if (ms_numa_read(ctx, &nodes, &nr) == 0) {
		if (nr > 1)
			caps |= MS_CAP_NUMA;
		free(nodes);
	}
	return caps;
}

static void read_boot_id(struct ms_ctx *ctx, char *buf, size_t size)
{
	char *txt;
	size_t len;

	buf[0] = '\0';
	if (ms_read_file(ctx, "proc/sys/kernel/random/boot_id", &txt, &len, 256) < 0)
		return;
	while (len && (txt[len - 1] == '\n' || txt[len - 1] == ' '))
		txt[--len] = '\0';
	ms_strlcpy(buf, txt, size);
	free(txt);
}

MS_EXPORT int ms_guest_new(struct ms_guest **out, const struct ms_guest_opts *opts)
{
	const char *endpoint, *name, *memcg;
	struct ms_meminfo mi;
	struct ms_guest *g;
	uint64_t caps;

	if (!out || !opts || !MS_OPTS_VALID(opts, ms_guest_opts))
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->conn.fd = -1;
	g->epfd = -1;
	g->ctx = MS_OPTS_GET(opts, ms_guest_opts, ctx, NULL);
	endpoint = MS_OPTS_GET(opts, ms_guest_opts, connect, NULL);
	if (!g->ctx || !endpoint || ms_endpoint_parse(endpoint, &g->ep) < 0) {
		if (g->ctx)
			ms_err(g->ctx, "guest: bad or missing endpoint '%s' (want unix:/path or "
			       "vsock:CID:PORT)", endpoint ? endpoint : "");
		free(g);
		return -EINVAL;
	}
	ms_endpoint_format(&g->ep, g->endpoint, sizeof(g->endpoint));
	g->own_interval_ms = MS_OPTS_GET(opts, ms_guest_opts, report_interval_ms, 0);
	if (!g->own_interval_ms)
		g->own_interval_ms = 1000;
	g->interval_ms = g->own_interval_ms;
	g->lru_source = MS_OPTS_GET(opts, ms_guest_opts, lru_source, MS_LRU_SOURCE_AUTO);
	g->reconnect_min_ms = MS_OPTS_GET(opts, ms_guest_opts, reconnect_min_ms, 0);
	if (!g->reconnect_min_ms)
		g->reconnect_min_ms = 100;
	g->reconnect_max_ms = MS_OPTS_GET(opts, ms_guest_opts, reconnect_max_ms, 0);
	if (!g->reconnect_max_ms)
		g->reconnect_max_ms = 30000;
	if (g->reconnect_max_ms < g->reconnect_min_ms)
		g->reconnect_max_ms = g->reconnect_min_ms;
	g->backoff_ms = g->reconnect_min_ms;
	g->max_frame = MS_OPTS_GET(opts, ms_guest_opts, max_frame_bytes, 0);
	if (!g->max_frame)
		g->max_frame = MS_FRAME_DEFAULT_MAX_BYTES;
	g->aging_ms = MS_OPTS_GET(opts, ms_guest_opts, mglru_aging_ms, 0);
	if (!g->aging_ms)
		g->aging_ms = 40000;
	else if (g->aging_ms == MS_GUEST_NO_AGING)
		g->aging_ms = 0;
	g->welcome_timeout_ms = MS_OPTS_GET(opts, ms_guest_opts, welcome_timeout_ms, 0);
	if (!g->welcome_timeout_ms)
		g->welcome_timeout_ms = 5000;
	g->event_fn = MS_OPTS_GET(opts, ms_guest_opts, event_fn, NULL);
	g->userdata = MS_OPTS_GET(opts, ms_guest_opts, userdata, NULL);
	memcg = MS_OPTS_GET(opts, ms_guest_opts, reclaim_memcg, NULL);
	if (memcg && !(g->reclaim_memcg = strdup(memcg))) {
		free(g);
		return -ENOMEM;
	}
	g->rng = ms_now_us() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)g;
	if (!g->rng)
		g->rng = 1;

	/* Aging only makes sense where the ages come from MGLRU, and only on
	 * the kernel's own lru_gen (a sysroot holding a capture is left as
	 * it is). */
	caps = ms_guest_capabilities(g->ctx);
	if (!(caps & MS_CAP_MGLRU) || g->lru_source == MS_LRU_SOURCE_CLASSIC ||
	    !lru_mglru_is_kernel(g->ctx))
		g->aging_ms = 0;
	g->next_aging_us = 0;           /* a first pass at once */

	g->hello.proto_min = MS_PROTO_VERSION_MIN;
	g->hello.proto_max = MS_PROTO_VERSION_MAX;
	g->hello.capabilities = caps;
	ms_strlcpy(g->hello.agent_version, MS_PACKAGE_VERSION, sizeof(g->hello.agent_version));
	name = MS_OPTS_GET(opts, ms_guest_opts, name, NULL);
	if (name)
		ms_strlcpy(g->hello.guest_name, name, sizeof(g->hello.guest_name));
	else if (gethostname(g->hello.guest_name, sizeof(g->hello.guest_name) - 1) < 0)
		ms_strlcpy(g->hello.guest_name, "guest", sizeof(g->hello.guest_name));
	read_boot_id(g->ctx, g->hello.boot_id, sizeof(g->hello.boot_id));
	g->hello.page_size_bytes = g->ctx->page_size;
	g->hello.mem_total_bytes = ms_meminfo_read(g->ctx, &mi) == 0 ? mi.total_bytes : MS_UNKNOWN;

	g->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (g->epfd < 0) {
		int err = -errno;

		free(g->reclaim_memcg);
		free(g);
		return err;
	}
	g->state = G_DISCONNECTED;
	g->next_connect_us = 0;     /* first attempt at the first process() */
	*out = g;
	return 0;
}

MS_EXPORT void ms_guest_free(struct ms_guest *g)
{
	if (!g)
		return;
	if (g->state == G_READY) {
		struct ms_msg m = { .type = MS_MSG_GOODBYE };

		ms_strlcpy(m.u.reason, "guest agent stopping", sizeof(m.u.reason));
		ms_conn_send(&g->conn, &m, g->max_frame);
	}
	ms_conn_close(&g->conn);
	if (g->epfd >= 0)
		close(g->epfd);
	free(g->reclaim_memcg);
	free(g);
}

MS_EXPORT int ms_guest_get_fd(struct ms_guest *g)
{
	return g ? g->epfd : -EINVAL;
}

MS_EXPORT int64_t ms_guest_get_timeout_us(struct ms_guest *g)
{
	uint64_t now = ms_now_us(), due;

	if (!g)
		return -1;
	if (g->state == G_DISCONNECTED)
		due = g->next_connect_us;
	else if (g->state == G_READY)
		due = ms_conn_pending_out(&g->conn)
			? MS_MIN(g->next_report_us, g->conn.out_since_us + GUEST_WRITE_TIMEOUT_US)
			: g->next_report_us;
	else
		due = g->welcome_deadline_us;   /* CONNECTING, HELLO_SENT */
	if (g->aging_ms && g->next_aging_us < due)
		due = g->next_aging_us;
	return due <= now ? 0 : (int64_t)(due - now);
}

MS_EXPORT bool ms_guest_is_connected(struct ms_guest *g)
{
	return g && g->state == G_READY;
}

MS_EXPORT int ms_guest_process(struct ms_guest *g)
{
	struct epoll_event evs[4];
	int n;

	if (!g)
		return -EINVAL;
	if (g->state == G_DISCONNECTED && ms_now_us() >= g->next_connect_us)
		try_connect(g);
	n = epoll_wait(g->epfd, evs, MS_ARRAY_SIZE(evs), 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n && g->state != G_DISCONNECTED; i++) {
		if (g->state == G_CONNECTING) {
			int r = ms_conn_connect_result(&g->conn);

			if (r < 0) {
				disconnect(g, r, strerror(-r));
				break;
			}
			on_connected(g);
			continue;
		}
		if (evs[i].events & EPOLLOUT) {
			int r = ms_conn_flush(&g->conn);

			if (r < 0) {
				disconnect(g, r, strerror(-r));
				break;
			}
		}
		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			conn_readable(g);
	}
	if (g->aging_ms && ms_now_us() >= g->next_aging_us) {
		int r = ms_lru_mglru_age(g->ctx, NULL);

		g->next_aging_us = ms_now_us() + (uint64_t)g->aging_ms * 1000u;
		if (r < 0) {
			ms_warn(g->ctx, "MGLRU aging: %s; ages will read as time since boot "
				"in an unpressured guest (aging off)", strerror(-r));
			g->aging_ms = 0;
		}
	}
	if ((g->state == G_CONNECTING || g->state == G_HELLO_SENT) &&
	    ms_now_us() >= g->welcome_deadline_us) {
		char why[64];

		snprintf(why, sizeof(why), "no Welcome within %u ms", g->welcome_timeout_ms);
		disconnect(g, -ETIMEDOUT, why);
	}
	if (g->state == G_READY && ms_conn_pending_out(&g->conn) &&
	    ms_now_us() - g->conn.out_since_us > GUEST_WRITE_TIMEOUT_US) {
		disconnect(g, -ETIMEDOUT, "the host has not read for 30 s");
		return 0;
	}
	if (g->state == G_READY && ms_now_us() >= g->next_report_us)
		send_report(g, MS_REPORT_PERIODIC);
	return 0;
}
