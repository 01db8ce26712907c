/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest session: reach the host (connect, reconnect with exponential
 * backoff and jitter; or listen and wait for it; or a virtio-serial port),
 * Hello, Config, periodic Reports built from probe/ and lru/ (and at once
 * when a PSI trigger fires), reclaim requests executed by reclaim/,
 * keepalive, MGLRU aging.  Only the host may command: peers are checked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include <memshare/guest.h>

#include "../internal.h"
#include "../lru/lru-internal.h"
#include "../transport/endpoint.h"
#include "../util/fileio.h"
#include "../util/text.h"
#include "conn.h"

/* A host that reads nothing for this long is given up on (and retried). */
#define GUEST_WRITE_TIMEOUT_US (30u * 1000000u)
/* At most one PSI-triggered report per second. */
#define GUEST_TRIGGER_MIN_GAP_US 1000000u
/* How often a serial port is checked for the host while it is away. */
#define GUEST_SERIAL_POLL_MAX_MS 1000u

enum guest_conn_state {
	G_DISCONNECTED,     /* waiting to connect, or listening */
	G_CONNECTING,       /* non-blocking connect in progress */
	G_HELLO_SENT,
	G_READY,
};

/* What the epoll set's entries are. */

struct ms_guest {
	struct ms_ctx *ctx;
	struct ms_endpoint ep;
	char endpoint[160];
	bool listening;                 /* wait for the host (opts.listen) */
	int lfd;                        /* the listening socket */
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
	uint64_t reclaim_floor;
	uint32_t reconnect_min_ms;
	uint32_t reconnect_max_ms;
	uint32_t backoff_ms;
	uint64_t next_connect_us;
	uint64_t welcome_deadline_us;
	uint32_t welcome_timeout_ms;
	uint32_t aging_ms;              /* 0: no aging */
	uint64_t next_aging_us;
	uint64_t next_report_us;
	uint32_t keepalive_ms;          /* from Config; 0: none */
	uint64_t ping_sent_us;
	/* The PSI trigger from Config, armed twice (-1: none).  The kernel
	 * clears a trigger's event in its poll() (psi_trigger_poll()), and an
	 * application polling our epoll fd polls the trigger through it: the
	 * event is gone before epoll_wait() below could see it (measured: 5
	 * wakeups, 0 events).  So @trigger_fd, in the epoll, only wakes the
	 * application up, and @trigger_check_fd, polled by no one else, says
	 * whether it fired. */
	int trigger_fd;
	int trigger_check_fd;
	uint64_t last_trigger_report_us;
	uint32_t max_frame;
	uint32_t host_cid;
	enum ms_unix_peer host_unix_peer;
	uint32_t host_unix_uid;
	uint64_t rng;
	uint64_t reports_skipped;       /* host not reading fast enough */
	uint64_t hello_seq;             /* seq of the Hello awaiting Welcome */
	uint32_t connect_failures;      /* since the last Welcome */
	ms_guest_event_fn event_fn;
	void *userdata;
	/* Tags for the epoll set (data.ptr). */
	struct ms_watch w_listen, w_trigger;
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
	uint32_t max = g->reconnect_max_ms;

	/* A serial port is local: look for the host often, it costs nothing. */
	if (g->ep.kind == MS_ENDPOINT_SERIAL)
		max = MS_MIN(max, GUEST_SERIAL_POLL_MAX_MS);
	/* Up to +25% jitter so a restarted host is not hit by every guest
	 * at the same instant. */
	delay_ms += rnd(g) % (delay_ms / 4 + 1);
	g->next_connect_us = ms_now_us() + delay_ms * 1000u;
	g->backoff_ms = (uint32_t)MS_MIN((uint64_t)g->backoff_ms * 2, (uint64_t)max);
}

static void trigger_close(struct ms_guest *g)
{
	if (g->trigger_fd >= 0) {
		epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->trigger_fd, NULL);
		close(g->trigger_fd);
	}
	if (g->trigger_check_fd >= 0)
		close(g->trigger_check_fd);
	g->trigger_fd = g->trigger_check_fd = -1;
}

/* Whether the PSI trigger fired since the last look (see trigger_fd). */
static bool trigger_fired(struct ms_guest *g)
{
	struct pollfd p = { .fd = g->trigger_check_fd, .events = POLLPRI };

	return g->trigger_check_fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLPRI);
}

static void disconnect(struct ms_guest *g, int err, const char *reason)
{
	struct ms_guest_event ev = { .type = MS_GUEST_EVENT_DISCONNECTED, .reason = reason,
				     .err = err };
	bool was_ready = g->state == G_READY || g->state == G_HELLO_SENT;

	ms_conn_close(&g->conn);
	trigger_close(g);
	g->state = G_DISCONNECTED;
	g->keepalive_ms = 0;
	g->ping_sent_us = 0;
	if (!g->listening)
		schedule_reconnect(g);
	if (was_ready) {
		ms_warn(g->ctx, "disconnected from %s: %s", g->endpoint, reason);
		emit(g, &ev);
	} else if (g->listening) {
		ms_info(g->ctx, "host connection on %s ended: %s", g->endpoint, reason);
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

/* Only the host may command this guest. */
static bool peer_is_host(struct ms_guest *g, int fd, char *why, size_t size)
{
	struct sockaddr_vm vm;
	socklen_t len = sizeof(vm);
	struct ucred cred;

	if (getpeername(fd, (struct sockaddr *)&vm, &len) == 0 && vm.svm_family == AF_VSOCK) {
		uint32_t want = g->host_cid ? g->host_cid : VMADDR_CID_HOST;

		if (!g->listening || vm.svm_cid == want)
			return true;
		snprintf(why, size, "vsock peer CID %u is not the host (CID %u)", vm.svm_cid, want);
		return false;
	}
	len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return true;                  /* not a unix socket: a serial port */
	if (g->host_unix_peer == MS_UNIX_PEER_ANY ||
	    (g->host_unix_peer == MS_UNIX_PEER_UID && cred.uid == g->host_unix_uid) ||
	    (g->host_unix_peer == MS_UNIX_PEER_SAME_UID && cred.uid == geteuid()))
		return true;
	snprintf(why, size, "unix peer uid %u is not the host's", (unsigned)cred.uid);
	return false;
}

/* Say Hello (on a serial port after a sync marker: "a session starts"). */
static void start_session(struct ms_guest *g)
{
	struct ms_msg m = { .type = MS_MSG_HELLO };
	char why[96];

	if (g->conn.is_socket && !peer_is_host(g, g->conn.fd, why, sizeof(why))) {
		disconnect(g, -EPERM, why);
		return;
	}
	if (g->ep.kind == MS_ENDPOINT_SERIAL && ms_conn_send_sync(&g->conn) < 0) {
		disconnect(g, -EIO, "cannot write to the port");
		return;
	}
	g->welcome_deadline_us = ms_now_us() + (uint64_t)g->welcome_timeout_ms * 1000u;
	m.u.hello = g->hello;
	if (send_msg(g, &m) == 0) {
		g->state = G_HELLO_SENT;
		g->hello_seq = g->conn.seq_out;
	}
}

/* Open a virtio-serial port; it is usable only while the host side is
 * connected (no POLLHUP). */
static void serial_open(struct ms_guest *g)
{
	/* The port may still hold the host's answers to our Hellos from before
	 * a reopen: sequence numbers go on, so that a Welcome's in_reply_to
	 * tells which Hello it answers. */
	uint64_t seq_out = g->conn.seq_out;
	bool in_progress;
	struct pollfd p;
	int fd, r;

	fd = ms_endpoint_connect(&g->ep, &in_progress);
	if (fd < 0) {
		disconnect(g, fd, strerror(-fd));
		return;
	}
	p.fd = fd;
	p.events = POLLOUT;
	p.revents = 0;
	if (poll(&p, 1, 0) < 0 || (p.revents & (POLLHUP | POLLERR))) {
		close(fd);
		ms_dbg(g->ctx, "%s: the host side is not connected", g->endpoint);
		g->state = G_DISCONNECTED;
		schedule_reconnect(g);
		return;
	}
	r = ms_conn_open(&g->conn, fd, g->epfd, g->max_frame, g, false);
	if (r < 0) {
		disconnect(g, r, strerror(-r));
		return;
	}
	ms_strlcpy(g->conn.peer, g->endpoint, sizeof(g->conn.peer));
	g->conn.seq_out = seq_out;
	ms_frame_decoder_set_sync(&g->conn.dec, true);
	/* Whatever sits in the port from before is stale. */
	ms_frame_decoder_hunt(&g->conn.dec);
	g->state = G_CONNECTING;
	start_session(g);
}

static void try_connect(struct ms_guest *g)
{
	bool in_progress;
	int fd, r;

	g->welcome_deadline_us = ms_now_us() + (uint64_t)g->welcome_timeout_ms * 1000u;
	if (g->ep.kind == MS_ENDPOINT_SERIAL) {
		serial_open(g);
		return;
	}
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
		start_session(g);
}

/* Listening: the host connected. */
static void accept_host(struct ms_guest *g)
{
	char why[96];
	int fd = ms_endpoint_accept(g->lfd), r;

	if (fd < 0)
		return;
	if (g->state != G_DISCONNECTED) {
		ms_warn(g->ctx, "refusing a second host connection on %s", g->endpoint);
		close(fd);
		return;
	}
	if (!peer_is_host(g, fd, why, sizeof(why))) {
		ms_warn(g->ctx, "refusing a connection on %s: %s", g->endpoint, why);
		close(fd);
		return;
	}
	r = ms_conn_open(&g->conn, fd, g->epfd, g->max_frame, g, false);
	if (r < 0) {
		ms_warn(g->ctx, "accept on %s: %s", g->endpoint, strerror(-r));
		return;
	}
	g->state = G_CONNECTING;
	start_session(g);
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

	if (reason == MS_REPORT_PERIODIC)
		g->next_report_us = ms_now_us() + (uint64_t)g->interval_ms * 1000u;
	/* The host has not taken the last one yet: a newer report replaces a
	 * stale one, so skip this one rather than queue it. */
	if (reason != MS_REPORT_AFTER_RECLAIM && ms_conn_pending_out(&g->conn)) {
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
		.deadline_ms = req->deadline_ms,
		.floor_bytes = g->reclaim_floor);
	struct ms_msg reply = { .type = MS_MSG_RECLAIM_RESULT, .in_reply_to = m->seq };
	struct ms_guest_event ev = { .type = MS_GUEST_EVENT_RECLAIM_DONE };

	ms_info(g->ctx, "reclaim request %llu: %llu bytes, kinds 0x%x",
		(unsigned long long)req->id, (unsigned long long)req->bytes, req->kinds);
	reply.u.reclaim_result.id = req->id;
	ms_reclaim_run(g->ctx, &ro, &reply.u.reclaim_result.result);
	ms_info(g->ctx, "reclaim request %llu: status %d, freed %llu bytes in %llu us%s",
		(unsigned long long)req->id, reply.u.reclaim_result.result.status,
		(unsigned long long)reply.u.reclaim_result.result.freed_bytes,
		(unsigned long long)reply.u.reclaim_result.result.duration_us,
		reply.u.reclaim_result.result.capped_bytes ? " (capped by the floor)" : "");
	if (send_msg(g, &reply) < 0)
		return;
	ev.request = req;
	ev.reply = &reply.u.reclaim_result;
	emit(g, &ev);
	/* Let the host see the effect at once. */
	send_report(g, MS_REPORT_AFTER_RECLAIM);
}

/* Config from the host: interval, bins, keepalive, PSI trigger. */
static void on_config(struct ms_guest *g, const struct ms_config *c, uint64_t seq)
{
	uint32_t interval = c->report_interval_ms ? c->report_interval_ms : g->own_interval_ms;

	if (interval != g->interval_ms) {
		g->interval_ms = interval;
		g->next_report_us = MS_MIN(g->next_report_us,
					   ms_now_us() + (uint64_t)interval * 1000u);
	}
	g->nr_bin_edges = c->nr_bin_edges;
	memcpy(g->bin_edges_ms, c->bin_edges_ms, sizeof(g->bin_edges_ms));
	g->keepalive_ms = c->keepalive_ms;
	trigger_close(g);
	if (c->has_psi_trigger) {
		int fd = ms_psi_trigger_open(g->ctx, NULL, (enum ms_psi_kind)c->psi_trigger.kind,
					     c->psi_trigger.stall_us, c->psi_trigger.window_us);
		int check = fd < 0 ? -1 : ms_psi_trigger_open(g->ctx, NULL,
					     (enum ms_psi_kind)c->psi_trigger.kind,
					     c->psi_trigger.stall_us, c->psi_trigger.window_us);
		struct epoll_event ev = { .events = EPOLLPRI, .data.ptr = &g->w_trigger };

		if (fd >= 0 && check < 0) {
			close(fd);
			fd = check;
		}
		if (fd < 0) {
			/* Tell the host: it keeps polling this guest's reports. */
			struct ms_msg e = { .type = MS_MSG_ERROR, .in_reply_to = seq };

			snprintf(e.u.error.message, sizeof(e.u.error.message),
				 "PSI trigger (%s %llu us per %llu us): %s",
				 c->psi_trigger.kind ? "full" : "some",
				 (unsigned long long)c->psi_trigger.stall_us,
				 (unsigned long long)c->psi_trigger.window_us, strerror(-fd));
			e.u.error.code = (uint32_t)-fd;
			ms_warn(g->ctx, "the host's %s", e.u.error.message);
			send_msg(g, &e);
		} else if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			close(check);
		} else {
			g->trigger_fd = fd;
			g->trigger_check_fd = check;
		}
	}
	ms_info(g->ctx, "config: report every %u ms, %u bin edges, keepalive %u ms, PSI "
		"trigger %s", g->interval_ms, g->nr_bin_edges, g->keepalive_ms,
		g->trigger_fd >= 0 ? "armed" : "none");
}

static void on_message(struct ms_guest *g, struct ms_msg *m)
{
	g->ping_sent_us = 0;
	if (g->state == G_HELLO_SENT) {
		struct ms_guest_event ev = { .type = MS_GUEST_EVENT_CONNECTED };

		/* A serial port may still carry the host's answers to earlier
		 * Hellos (ours before a reopen or a restart, or a previous
		 * agent's) and what followed them: only the answer to this
		 * Hello counts. */
		if (g->conn.dec.sync_mode &&
		    ((m->type != MS_MSG_WELCOME && m->type != MS_MSG_ERROR) ||
		     m->in_reply_to != g->hello_seq)) {
			ms_dbg(g->ctx, "%s: dropped a stale %s (in reply to %llu, our Hello is %llu)",
			       g->endpoint, ms_msg_type_name(m->type),
			       (unsigned long long)m->in_reply_to, (unsigned long long)g->hello_seq);
			return;
		}
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
		/* The host must choose one of the versions our Hello offered. */
		if (m->u.welcome.proto_version < MS_PROTO_VERSION_MIN ||
		    m->u.welcome.proto_version > MS_PROTO_VERSION_MAX) {
			char why[96];

			snprintf(why, sizeof(why), "host chose protocol version %u (we speak %u..%u)",
				 m->u.welcome.proto_version, MS_PROTO_VERSION_MIN,
				 MS_PROTO_VERSION_MAX);
			disconnect(g, -EPROTONOSUPPORT, why);
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
	case MS_MSG_CONFIG:
		on_config(g, &m->u.config, m->seq);
		return;
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

static void conn_readable(struct ms_guest *g, uint32_t events)
{
	char why[160];
	int rr, r;

	rr = ms_conn_read(&g->conn);
	if (rr < 0 && rr != -ECONNRESET && rr != -EAGAIN) {
		disconnect(g, rr, strerror(-rr));
		return;
	}
	while (g->state >= G_HELLO_SENT) {
		struct ms_msg m;

		r = ms_conn_next(&g->conn, &m, why, sizeof(why));
		if (r == 0)
			break;
		if (r == MS_FRAME_SYNC) {
			/* Serial: the host (re)connected and asks for a new
			 * session; unless we just started one ourselves. */
			if (g->state == G_READY) {
				ms_info(g->ctx, "%s: the host restarted the session", g->endpoint);
				trigger_close(g);
				start_session(g);
			}
			continue;
		}
		if (r < 0) {
			if (g->conn.dec.sync_mode && r == -EPROTO)
				continue;       /* garbage on the port: hunting */
			disconnect(g, r, why);
			return;
		}
		on_message(g, &m);
		ms_msg_clear(&m);
	}
	/* Serial: bytes from the host that are neither frames nor markers
	 * (line noise, a frame cut short): what was lost cannot be known, so
	 * start a new session; the host answers it after a marker, where the
	 * decoder picks up again. */
	if (g->state == G_READY && g->conn.dec.sync_mode && g->conn.dec.hunting) {
		ms_warn(g->ctx, "%s: garbage from the host; starting a new session", g->endpoint);
		trigger_close(g);
		start_session(g);
	}
	/* A serial port's host side went away: POLLHUP, not EOF. */
	if (g->state >= G_CONNECTING &&
	    (rr == -ECONNRESET || g->conn.eof || (!g->conn.is_socket && (events & EPOLLHUP))))
		disconnect(g, -ECONNRESET, "connection closed by the host");
}

/* Kernel release >= @major.@minor, from proc/sys/kernel/osrelease. */
static bool kernel_at_least(struct ms_ctx *ctx, unsigned major, unsigned minor)
{
	unsigned ma = 0, mi = 0;
	size_t len;
	char *txt;
	bool r;

	if (ms_read_file(ctx, "proc/sys/kernel/osrelease", &txt, &len, 256) < 0)
		return false;
	r = sscanf(txt, "%u.%u", &ma, &mi) == 2 && (ma > major || (ma == major && mi >= minor));
	free(txt);
	return r;
}

/*
 * Free page reporting is on when a virtio balloon (virtio device id 5) has
 * negotiated VIRTIO_BALLOON_F_REPORTING (feature bit 5): sysfs
 * sys/bus/virtio/devices/virtioN/device is "0x0005" and its "features" is
 * one '0'/'1' character per feature bit, bit 0 first.
 */
static bool free_page_reporting(struct ms_ctx *ctx)
{
	struct dirent *de;
	bool on = false;
	int fd;
	DIR *d;

	fd = ms_openat(ctx, "sys/bus/virtio/devices", O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return false;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return false;
	}
	while (!on && (de = readdir(d))) {
		char path[300], *txt;
		size_t len;
		bool balloon;

		if (strncmp(de->d_name, "virtio", 6) != 0)
			continue;
		snprintf(path, sizeof(path), "sys/bus/virtio/devices/%s/device", de->d_name);
		if (ms_read_file(ctx, path, &txt, &len, 64) < 0)
			continue;
		balloon = strtoul(txt, NULL, 16) == 5;
		free(txt);
		if (!balloon)
			continue;
		snprintf(path, sizeof(path), "sys/bus/virtio/devices/%s/features", de->d_name);
		if (ms_read_file(ctx, path, &txt, &len, 256) < 0)
			continue;
		on = len > 5 && txt[5] == '1';
		free(txt);
	}
	closedir(d);
	return on;
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
	if (ms_path_exists(ctx, "sys/fs/cgroup/memory.reclaim")) {
		caps |= MS_CAP_MEMCG_RECLAIM;
		/* "swappiness=" in memory.reclaim: Linux 6.10. */
		if (kernel_at_least(ctx, 6, 10))
			caps |= MS_CAP_MEMCG_RECLAIM_SWAPPINESS;
	}
	if (free_page_reporting(ctx))
		caps |= MS_CAP_FREE_PAGE_REPORTING;
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

static int listen_start(struct ms_guest *g)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &g->w_listen };
	int fd;

	if (g->ep.kind != MS_ENDPOINT_UNIX && g->ep.kind != MS_ENDPOINT_VSOCK) {
		ms_err(g->ctx, "guest: listen on %s: want unix:/path or vsock:-1:PORT", g->endpoint);
		return -EINVAL;
	}
	fd = ms_endpoint_listen(&g->ep, 4);
	if (fd < 0) {
		ms_err(g->ctx, "guest: listen on %s: %s", g->endpoint, strerror(-fd));
		return fd;
	}
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	g->lfd = fd;
	ms_info(g->ctx, "waiting for the host on %s", g->endpoint);
	return 0;
}

MS_EXPORT int ms_guest_new(struct ms_guest **out, const struct ms_guest_opts *opts)
{
	const char *endpoint, *listen, *name, *memcg;
	struct ms_meminfo mi;
	struct ms_guest *g;
	uint64_t caps;
	int r;

	if (!out || !opts || !MS_OPTS_VALID(opts, ms_guest_opts))
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->conn.fd = -1;
	g->epfd = g->lfd = g->trigger_fd = g->trigger_check_fd = -1;
	g->w_listen.kind = MS_WATCH_GUEST_LISTEN;
	g->w_trigger.kind = MS_WATCH_PSI_TRIGGER;
	g->ctx = MS_OPTS_GET(opts, ms_guest_opts, ctx, NULL);
	endpoint = MS_OPTS_GET(opts, ms_guest_opts, connect, NULL);
	listen = MS_OPTS_GET(opts, ms_guest_opts, listen, NULL);
	if (!g->ctx || !endpoint == !listen ||
	    ms_endpoint_parse(endpoint ? endpoint : listen, &g->ep) < 0 ||
	    (listen && g->ep.kind == MS_ENDPOINT_SERIAL) || g->ep.kind == MS_ENDPOINT_HVSOCK) {
		if (g->ctx)
			ms_err(g->ctx, "guest: bad or missing endpoint '%s' (want one of connect "
			       "unix:/path, vsock:2:PORT, serial:/dev/virtio-ports/NAME, or listen "
			       "unix:/path, vsock:-1:PORT)", endpoint ? endpoint : listen ? listen : "");
		free(g);
		return -EINVAL;
	}
	name = MS_OPTS_GET(opts, ms_guest_opts, name, NULL);
	if (name && (!*name || strlen(name) >= sizeof(g->hello.guest_name) ||
		     !ms_text_valid(name, strlen(name)))) {
		/* The host would refuse the Hello (or two names would meet
		 * once cut): say so now, once. */
		char shown[81];

		ms_strlcpy(shown, name, sizeof(shown));
		ms_text_sanitize(shown);
		ms_err(g->ctx, "guest: name '%s%s' must be 1..%zu bytes of UTF-8 text without "
		       "control characters", shown, strlen(name) >= sizeof(shown) ? "..." : "",
		       sizeof(g->hello.guest_name) - 1);
		free(g);
		return -EINVAL;
	}
	g->listening = listen != NULL;
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
	g->host_cid = MS_OPTS_GET(opts, ms_guest_opts, host_cid, 0);
	g->host_unix_peer = MS_OPTS_GET(opts, ms_guest_opts, host_unix_peer, MS_UNIX_PEER_SAME_UID);
	g->host_unix_uid = MS_OPTS_GET(opts, ms_guest_opts, host_unix_uid, 0);
	g->reclaim_floor = MS_OPTS_GET(opts, ms_guest_opts, reclaim_floor_bytes, 0);
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
	if (name)
		ms_strlcpy(g->hello.guest_name, name, sizeof(g->hello.guest_name));
	else if (gethostname(g->hello.guest_name, sizeof(g->hello.guest_name) - 1) < 0)
		ms_strlcpy(g->hello.guest_name, "guest", sizeof(g->hello.guest_name));
	else
		ms_text_sanitize(g->hello.guest_name);
	read_boot_id(g->ctx, g->hello.boot_id, sizeof(g->hello.boot_id));
	g->hello.page_size_bytes = g->ctx->page_size;
	g->hello.mem_total_bytes = ms_meminfo_read(g->ctx, &mi) == 0 ? mi.total_bytes : MS_UNKNOWN;

	g->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (g->epfd < 0) {
		r = -errno;
		free(g->reclaim_memcg);
		free(g);
		return r;
	}
	if (g->listening) {
		r = listen_start(g);
		if (r < 0) {
			close(g->epfd);
			free(g->reclaim_memcg);
			free(g);
			return r;
		}
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
	trigger_close(g);
	if (g->lfd >= 0) {
		if (g->ep.kind == MS_ENDPOINT_UNIX && g->ep.path[0] == '/')
			unlink(g->ep.path);
		close(g->lfd);
	}
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
	uint64_t now = ms_now_us(), due = UINT64_MAX;

	if (!g)
		return -1;
	if (g->state == G_DISCONNECTED) {
		if (!g->listening)
			due = g->next_connect_us;
	} else if (g->state == G_READY) {
		due = g->next_report_us;
		if (ms_conn_pending_out(&g->conn))
			due = MS_MIN(due, g->conn.out_since_us + GUEST_WRITE_TIMEOUT_US);
		if (g->keepalive_ms)
			due = MS_MIN(due, g->conn.last_rx_us + (uint64_t)g->keepalive_ms * 1000u *
				     (g->ping_sent_us ? 3 : 1));
	} else {
		due = g->welcome_deadline_us;   /* CONNECTING, HELLO_SENT */
	}
	if (g->aging_ms && g->next_aging_us < due)
		due = g->next_aging_us;
	if (due == UINT64_MAX)
		return -1;
	return due <= now ? 0 : (int64_t)(due - now);
}

MS_EXPORT bool ms_guest_is_connected(struct ms_guest *g)
{
	return g && g->state == G_READY;
}

static void keepalive(struct ms_guest *g, uint64_t now)
{
	uint64_t ka = (uint64_t)g->keepalive_ms * 1000u;

	if (g->state != G_READY || !ka)
		return;
	if (now - g->conn.last_rx_us >= 3 * ka) {
		disconnect(g, -ETIMEDOUT, "the host is silent");
	} else if (now - g->conn.last_rx_us >= ka && !g->ping_sent_us) {
		struct ms_msg ping = { .type = MS_MSG_PING };

		ping.u.nonce = now;
		if (send_msg(g, &ping) == 0)
			g->ping_sent_us = now;
	}
}

MS_EXPORT int ms_guest_process(struct ms_guest *g)
{
	struct epoll_event evs[8];
	uint64_t now;
	int n;

	if (!g)
		return -EINVAL;
	if (g->state == G_DISCONNECTED && !g->listening && ms_now_us() >= g->next_connect_us)
		try_connect(g);
	n = epoll_wait(g->epfd, evs, MS_ARRAY_SIZE(evs), 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct ms_watch *w = evs[i].data.ptr;

		if (w->kind == MS_WATCH_GUEST_LISTEN) {
			accept_host(g);
			continue;
		}
		if (w->kind == MS_WATCH_PSI_TRIGGER)
			continue;       /* a wakeup: trigger_fired() below says */
		if (g->state == G_DISCONNECTED)
			continue;
		if (g->state == G_CONNECTING) {
			int r = ms_conn_connect_result(&g->conn);

			if (r < 0) {
				disconnect(g, r, strerror(-r));
				continue;
			}
			start_session(g);
			continue;
		}
		if (evs[i].events & EPOLLOUT) {
			int r = ms_conn_flush(&g->conn);

			if (r < 0) {
				disconnect(g, r, strerror(-r));
				continue;
			}
		}
		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			conn_readable(g, evs[i].events);
	}
	now = ms_now_us();
	if (trigger_fired(g) && g->state == G_READY &&
	    now - g->last_trigger_report_us >= GUEST_TRIGGER_MIN_GAP_US) {
		g->last_trigger_report_us = now;
		send_report(g, MS_REPORT_PSI_TRIGGER);
	}
	if (g->aging_ms && now >= g->next_aging_us) {
		int r = ms_lru_mglru_age(g->ctx, NULL);

		g->next_aging_us = ms_now_us() + (uint64_t)g->aging_ms * 1000u;
		if (r < 0) {
			ms_warn(g->ctx, "MGLRU aging: %s; ages will read as time since boot "
				"in an unpressured guest (aging off)", strerror(-r));
			g->aging_ms = 0;
		}
	}
	if ((g->state == G_CONNECTING || g->state == G_HELLO_SENT) && now >= g->welcome_deadline_us) {
		char why[64];

		snprintf(why, sizeof(why), "no Welcome within %u ms", g->welcome_timeout_ms);
		disconnect(g, -ETIMEDOUT, why);
	}
	if (g->state == G_READY && ms_conn_pending_out(&g->conn) &&
	    now - g->conn.out_since_us > GUEST_WRITE_TIMEOUT_US) {
		disconnect(g, -ETIMEDOUT, "the host has not read for 30 s");
		return 0;
	}
	keepalive(g, now);
	if (g->state == G_READY && now >= g->next_report_us)
		send_report(g, MS_REPORT_PERIODIC);
	return 0;
}
