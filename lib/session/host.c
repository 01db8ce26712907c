/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host session: listeners, connections the host makes itself (virtio-serial
 * chardevs, hybrid vsock), one record per guest connection, the Hello /
 * Welcome / Config handshake, Reports, reclaim round trips, keepalive.  The
 * guest is untrusted: bounded frames and queues, timeouts for every wait,
 * rate limits, validated values.  A guest that breaks the protocol loses its
 * connection with a logged, counted reason; the host and the other guests go
 * on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <memshare/host.h>

#include "../internal.h"
#include "../transport/endpoint.h"
#include "conn.h"
#include "host-internal.h"

#define HOST_MAX_LISTENERS 8
#define HOST_MAX_LINKS 256
#define HOST_EVENTS_PER_ROUND 64
/*
 * Fairness: what one ms_host_process() round does for one connection and
 * for connections that have not said Hello yet.  A round's length is what
 * a ready guest's message may wait behind, so no peer may make it long:
 *   - messages taken from one connection per round (the rest stay in its
 *     decoder or socket for the next rounds: a flood costs the host a few
 *     decodes per round and fills its own socket, not the host's time);
 *   - connections accepted per listener per round;
 *   - connections before Hello served per round (each may bring a whole
 *     max-size frame to read and decode); ready guests are served first.
 */
#define HOST_MSGS_PER_ROUND 8
#define HOST_ACCEPTS_PER_ROUND 16
#define HOST_UNREADY_PER_ROUND 16
/* A guest whose Reports are dropped over its rate more than this many
 * times in one second (HOST_FLOOD_FACTOR times its allowance, at least
 * HOST_FLOOD_MIN) floods: it is not read for the rest of that second, so
 * the flood waits in its own socket instead of costing the host a decode
 * per Report (and a CPU). */
#define HOST_FLOOD_FACTOR 10
#define HOST_FLOOD_MIN 100
/* Messages about what guests do (dropped, rejected reports, Errors, ready,
 * gone) are rate limited: a peer that reconnects or misbehaves as fast as
 * it can would otherwise write thousands of lines a second to the host's
 * log (stderr: a journal that cannot keep up blocks the host).  The
 * counters (ms_host_get_stats) still count every one. */
#define HOST_PEER_LOG_BURST 50
#define HOST_PEER_LOG_PER_S 10
/* Bytes read per round from a connection before Hello (a Hello is a few
 * hundred bytes; a peer that sends a maximal frame of garbage instead is
 * read over several rounds, a little per round). */
#define HOST_UNREADY_READ_BYTES (4u * 1024u)
/* How long a listener rests when the process is out of file descriptors. */
#define LISTENER_PAUSE_US 1000000u
/* Invalid reports tolerated from one connection before it is dropped. */
#define HOST_MAX_INVALID_REPORTS 100
/* The largest age a guest may report (ms): a century. */
#define HOST_MAX_AGE_MS (100ull * 365 * 24 * 3600 * 1000)
#define LINK_BACKOFF_MIN_MS 100u
#define LINK_BACKOFF_MAX_MS 30000u
/* Accepted connections waiting for their Hello, at most. */
#define HOST_MAX_PENDING 64
/* Guest identities remembered to count reconnects. */
#define HOST_MAX_IDENTS 4096

enum guest_state {
	GUEST_CONNECTING,              /* host-made: connect in progress */
	GUEST_HANDSHAKE,               /* host-made hvsock: waiting for "OK n" */
	GUEST_AWAIT_HELLO,
	GUEST_READY,
	GUEST_DEAD,
};

struct host_link;

struct host_guest {
	struct host_guest *next;
	struct ms_conn conn;
	uint64_t id;
	enum guest_state state;
	struct host_link *link;        /* made by ms_host_connect(), or NULL */
	struct ms_hello hello;
	struct ms_report report;       /* latest; report.lru owned */
	bool has_report;
	uint64_t connected_us;
	uint64_t hello_deadline_us;
	uint64_t reports;
	uint64_t last_report_us;
	double tokens;                 /* report rate limit (token bucket) */
	uint64_t tokens_us;
	uint64_t ping_sent_us;         /* keepalive: a Ping is out since */
	uint64_t reports_rate_dropped;
	uint64_t reports_invalid;
	uint64_t reports_rejected[MS_REJECT__COUNT];
	uint64_t unknown_messages;
	uint64_t reconnects;
	bool reclaim_pending;
	uint64_t reclaim_id;
	uint64_t reclaim_requested_bytes;
	uint64_t reclaim_deadline_us;  /* when the host gives up waiting */
	uint64_t expired_reclaim_id;   /* timed out: a late answer is dropped */
	bool backlog;                  /* complete frames left over for the next round */
	uint64_t flood_window_us;      /* the second flood_drops counts in */
	uint32_t flood_drops;          /* Reports over the rate in it */
	uint64_t read_paused_until_us; /* flooding: not read until then; 0: reading */
	uint64_t served_round;         /* the round that last served it */
	bool resync_asked;             /* serial: garbage seen, marker sent to the guest */
	char handshake[64];            /* hvsock reply being read */
	size_t handshake_len;
	char gone_reason[160];
	int gone_err;
};

struct host_listener {
	struct ms_watch watch;
	int fd;
	struct ms_endpoint ep;
	uint64_t paused_until_us;      /* out of fds: not watched until then */
	uint64_t refused;              /* connections refused (max_guests) */
};

/* An endpoint the host connects to and keeps connected. */
struct host_link {
	char endpoint[160];
	struct ms_endpoint ep;
	struct host_guest *guest;      /* the connection now, or NULL */
	uint32_t backoff_ms;
	uint64_t next_try_us;
	bool removed;
};

/* A guest seen before: its identity and how often it connected. */
struct host_ident {
	char key[192];                 /* "cid:N", "link:LEN:endpoint", "name:NAME" */
	uint64_t connects;
	uint64_t last_us;
};

struct ms_host {
	struct ms_ctx *ctx;
	int epfd;
	struct host_listener listeners[HOST_MAX_LISTENERS];
	size_t nr_listeners;
	struct host_link *links[HOST_MAX_LINKS];
	size_t nr_links;
	struct host_guest *guests;     /* oldest first */
	size_t nr_guests;
	size_t nr_dead;                /* of nr_guests: closed, freed at the round's end */
	uint64_t next_guest_id;
	uint64_t next_reclaim_id;
	uint64_t round;                /* ms_host_process() calls */
	bool backlog;                  /* some guest has frames left over */
	double log_tokens;             /* peer messages that may be logged now */
	uint64_t log_tokens_us;
	uint64_t log_suppressed;       /* ... and those that were not */
	uint32_t report_interval_ms;
	uint64_t bin_edges_ms[MS_LRU_MAX_BINS - 1];
	uint32_t nr_bin_edges;
	uint32_t max_frame;
	uint32_t hello_timeout_ms;
	uint32_t max_guests;
	uint32_t reclaim_timeout_ms;
	uint32_t max_reports_per_s;
	uint32_t frame_timeout_ms;
	uint32_t keepalive_ms;
	bool has_psi_trigger;
	struct ms_psi_trigger_spec psi_trigger;
	enum ms_unix_peer unix_peer;
	uint32_t unix_peer_uid;
	struct ms_host_stats stats;
	uint64_t rng;
	ms_host_event_fn event_fn;
	void *userdata;
	struct ms_trace_writer *recorder;
	struct host_ident *idents;     /* HOST_MAX_IDENTS, allocated on first use */
	size_t nr_idents;
};

MS_EXPORT const char *ms_host_drop_name(enum ms_host_drop reason)
{
	static const char *const names[MS_DROP__COUNT] = {
		[MS_DROP_CLOSED] = "closed",
		[MS_DROP_PROTOCOL] = "protocol",
		[MS_DROP_OVERSIZE] = "oversize",
		[MS_DROP_HELLO_TIMEOUT] = "hello_timeout",
		[MS_DROP_FRAME_TIMEOUT] = "frame_timeout",
		[MS_DROP_SILENT] = "silent",
		[MS_DROP_NOT_READING] = "not_reading",
		[MS_DROP_VERSION] = "version",
		[MS_DROP_REJECTS] = "rejects",
		[MS_DROP_HOST] = "host",
		[MS_DROP_IO] = "io",
	};

	return (unsigned)reason < MS_DROP__COUNT ? names[reason] : "unknown";
}

MS_EXPORT const char *ms_report_reject_name(enum ms_report_reject reason)
{
	static const char *const names[MS_REJECT__COUNT] = {
		[MS_REJECT_MEMTOTAL] = "memtotal",
		[MS_REJECT_MEMINFO] = "meminfo",
		[MS_REJECT_TIME] = "time",
		[MS_REJECT_BINS] = "bins",
		[MS_REJECT_AGE] = "age",
		[MS_REJECT_LRU_BYTES] = "lru_bytes",
		[MS_REJECT_NODE] = "node",
	};

	return (unsigned)reason < MS_REJECT__COUNT ? names[reason] : "unknown";
}

static void emit(struct ms_host *h, struct host_guest *g, struct ms_host_event *ev)
{
	ev->guest_id = g->id;
	ev->hello = &g->hello;
	if (h->event_fn)
		h->event_fn(h, ev, h->userdata);
}

static uint64_t rnd(struct ms_host *h)
{
	h->rng ^= h->rng >> 12;
	h->rng ^= h->rng << 25;
	h->rng ^= h->rng >> 27;
	return h->rng * 2685821657736338717ull;
}

/* A host-made connection is gone: try again after the backoff. */
static void link_schedule(struct ms_host *h, struct host_link *l)
{
	uint64_t delay = l->backoff_ms + rnd(h) % (l->backoff_ms / 4 + 1);

	l->guest = NULL;
	l->next_try_us = ms_now_us() + delay * 1000u;
	l->backoff_ms = (uint32_t)MS_MIN((uint64_t)l->backoff_ms * 2, LINK_BACKOFF_MAX_MS);
}

/* Say how many peer messages were not logged, if the bucket allows. */
static void peer_log_note(struct ms_host *h)
{
	if (!h->log_suppressed || h->log_tokens < 1.0)
		return;
	h->log_tokens -= 1.0;
	ms_warn(h->ctx, "%llu messages about guests not logged (more than %d a second); the "
		"host's counters have them all", (unsigned long long)h->log_suppressed,
		HOST_PEER_LOG_PER_S);
	h->log_suppressed = 0;
}

/* May a message about a guest be logged now?  (Token bucket.) */
static bool peer_log_ok(struct ms_host *h)
{
	uint64_t now = ms_now_us();

	h->log_tokens = MS_MIN((double)HOST_PEER_LOG_BURST,
			       h->log_tokens + (double)(now - h->log_tokens_us) / 1e6 *
						       HOST_PEER_LOG_PER_S);
	h->log_tokens_us = now;
	peer_log_note(h);
	if (h->log_tokens < 1.0) {
		h->log_suppressed++;
		return false;
	}
	h->log_tokens -= 1.0;
	return true;
}

/* Mark a guest for removal; the record is freed at the end of process(). */
static void guest_kill(struct ms_host *h, struct host_guest *g, enum ms_host_drop why, int err,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void guest_kill(struct ms_host *h, struct host_guest *g, enum ms_host_drop why, int err,
		       const char *fmt, ...)
{
	va_list ap;

	if (g->state == GUEST_DEAD)
		return;
	va_start(ap, fmt);
	vsnprintf(g->gone_reason, sizeof(g->gone_reason), fmt, ap);
	va_end(ap);
	g->gone_err = err;
	h->stats.dropped[why]++;
	h->nr_dead++;
	if (peer_log_ok(h)) {
		if (err)
			ms_warn(h->ctx, "guest %llu (%s, %s): dropped (%s): %s",
				(unsigned long long)g->id,
				g->hello.guest_name[0] ? g->hello.guest_name : "?", g->conn.peer,
				ms_host_drop_name(why), g->gone_reason);
		else
			ms_info(h->ctx, "guest %llu (%s): gone: %s", (unsigned long long)g->id,
				g->hello.guest_name[0] ? g->hello.guest_name : "?", g->gone_reason);
	}
	if (g->state == GUEST_READY) {
		struct ms_host_event ev = { .type = MS_HOST_EVENT_GUEST_GONE,
					    .reason = g->gone_reason, .err = err };

		g->state = GUEST_DEAD;
		emit(h, g, &ev);
	}
	g->state = GUEST_DEAD;
	ms_conn_record_gone(&g->conn, g->gone_reason);
	ms_conn_close(&g->conn);
	if (g->link) {
		if (!g->link->removed)
			link_schedule(h, g->link);
		g->link = NULL;
	}
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
			h->nr_dead--;
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
		guest_kill(h, g, MS_DROP_NOT_READING, r,
			   "guest does not read: output queue over %u bytes", MS_CONN_OUT_MAX_BYTES);
	else if (r < 0)
		guest_kill(h, g, MS_DROP_IO, r, "send %s: %s", ms_msg_type_name(m->type),
			   strerror(-r));
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

static void send_config(struct ms_host *h, struct host_guest *g)
{
	struct ms_msg c = { .type = MS_MSG_CONFIG };

	c.u.config.report_interval_ms = h->report_interval_ms;
	c.u.config.nr_bin_edges = h->nr_bin_edges;
	memcpy(c.u.config.bin_edges_ms, h->bin_edges_ms, sizeof(h->bin_edges_ms));
	c.u.config.has_psi_trigger = h->has_psi_trigger;
	c.u.config.psi_trigger = h->psi_trigger;
	c.u.config.keepalive_ms = h->keepalive_ms;
	send_msg(h, g, &c);
}

/*
 * Count a connection of @g's identity: its vsock CID (the kernel's word),
 * the endpoint the host connected to, or else its Hello name.  Returns how
 * many times it connected before.  The table is bounded: the identity
 * seen longest ago makes room.
 */
static uint64_t ident_seen(struct ms_host *h, struct host_guest *g)
{
	uint32_t cid = g->conn.is_socket ? ms_socket_peer_cid(g->conn.fd) : 0;
	struct host_ident *slot = NULL;
	char key[sizeof(h->idents[0].key)];

	if (cid)
		snprintf(key, sizeof(key), "cid:%u", cid);
	else if (g->link)
		snprintf(key, sizeof(key), "link:%zu:%s", strlen(g->link->endpoint),
			 g->link->endpoint);
	else
		snprintf(key, sizeof(key), "name:%s", g->hello.guest_name);
	if (!h->idents) {
		h->idents = calloc(HOST_MAX_IDENTS, sizeof(*h->idents));
		if (!h->idents)
			return 0;
	}
	for (size_t i = 0; i < h->nr_idents; i++) {
		if (strcmp(h->idents[i].key, key) == 0) {
			h->idents[i].connects++;
			h->idents[i].last_us = ms_now_us();
			return h->idents[i].connects - 1;
		}
		if (!slot || h->idents[i].last_us < slot->last_us)
			slot = &h->idents[i];
	}
	if (h->nr_idents < HOST_MAX_IDENTS)
		slot = &h->idents[h->nr_idents++];
	ms_strlcpy(slot->key, key, sizeof(slot->key));
	slot->connects = 1;
	slot->last_us = ms_now_us();
	return 0;
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
		guest_kill(h, g, MS_DROP_VERSION, -EPROTONOSUPPORT, "%s", msg);
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
	send_config(h, g);
	if (g->state == GUEST_DEAD)
		return;
	g->state = GUEST_READY;
	g->reconnects = ident_seen(h, g);
	g->tokens = MS_MAX(2.0, (double)h->max_reports_per_s);
	g->tokens_us = ms_now_us();
	if (g->link)
		g->link->backoff_ms = LINK_BACKOFF_MIN_MS;
	if (peer_log_ok(h))
		ms_info(h->ctx, "guest %llu '%s' ready (%s, agent %s, protocol %u)",
			(unsigned long long)g->id, g->hello.guest_name, g->conn.peer,
			g->hello.agent_version, version);
	emit(h, g, &ev);
}

/* Token bucket: max_reports_per_s, bursts up to as many. */
static bool report_allowed(struct ms_host *h, struct host_guest *g)
{
	double cap = MS_MAX(2.0, (double)h->max_reports_per_s);
	uint64_t now = ms_now_us();

	g->tokens = MS_MIN(cap, g->tokens + (double)(now - g->tokens_us) / 1e6 *
					    (double)h->max_reports_per_s);
	g->tokens_us = now;
	if (g->tokens < 1.0)
		return false;
	g->tokens -= 1.0;
	return true;
}

/*
 * What a Report may claim: figures within the guest's MemTotal, LRU bins
 * exactly as configured, ages under a century, time not going backwards.
 * The codec already checked the structure.  NULL or why it is invalid.
 */
static const char *report_invalid(struct ms_host *h, struct host_guest *g,
				  const struct ms_report *rep, enum ms_report_reject *reason)
{
	const struct ms_meminfo *mi = &rep->meminfo;
	const uint64_t *f = (const uint64_t *)mi;
	uint64_t total = mi->total_bytes, lru = 0;

	if (total == 0 || (g->hello.mem_total_bytes != MS_UNKNOWN &&
			   total / 2 > g->hello.mem_total_bytes))
		return *reason = MS_REJECT_MEMTOTAL, "MemTotal of 0, or far above the guest's own (Hello)";
	for (size_t i = 0; i < sizeof(*mi) / sizeof(uint64_t); i++) {
		size_t off = i * sizeof(uint64_t);

		if (off == offsetof(struct ms_meminfo, swap_total_bytes) ||
		    off == offsetof(struct ms_meminfo, swap_free_bytes))
			continue;
		if (f[i] != MS_UNKNOWN && f[i] > total)
			return *reason = MS_REJECT_MEMINFO, "a meminfo figure above MemTotal";
	}
	if (g->has_report && rep->mono_us < g->report.mono_us)
		return *reason = MS_REJECT_TIME, "report time went backwards";
	if (rep->lru) {
		const struct ms_lru_summary *s = rep->lru;
		const uint64_t *edges = h->nr_bin_edges ? h->bin_edges_ms : ms_lru_default_bin_edges_ms;
		uint32_t ne = h->nr_bin_edges ? h->nr_bin_edges : MS_LRU_DEFAULT_NR_BIN_EDGES;

		for (uint32_t i = 0; i < s->nr_nodes; i++) {
			const struct ms_lru_node *n = &s->nodes[i];

			if (s->source == MS_LRU_SOURCE_MGLRU) {
				if (n->nr_bins != ne + 1)
					return *reason = MS_REJECT_BINS, "LRU bins other than the configured edges";
				for (uint32_t j = 0; j < ne; j++)
					if (n->bins[j].max_age_ms != edges[j])
						return *reason = MS_REJECT_BINS, "LRU bins other than the configured edges";
			}
			for (uint32_t j = 0; j < n->nr_bins; j++) {
				const struct ms_lru_bin *b = &n->bins[j];

				if (b->max_age_ms != MS_UNKNOWN && b->max_age_ms != MS_AGE_INFINITE &&
				    b->max_age_ms > HOST_MAX_AGE_MS)
					return *reason = MS_REJECT_AGE, "an LRU age over a century";
				/* An overflowing sum is over any MemTotal too. */
				if ((b->anon_bytes != MS_UNKNOWN &&
				     __builtin_add_overflow(lru, b->anon_bytes, &lru)) ||
				    (b->file_bytes != MS_UNKNOWN &&
				     __builtin_add_overflow(lru, b->file_bytes, &lru)) ||
				    lru > total)
					return *reason = MS_REJECT_LRU_BYTES, "more LRU memory than MemTotal";
			}
			if ((n->slab_reclaimable_bytes != MS_UNKNOWN && n->slab_reclaimable_bytes > total) ||
			    (n->shmem_bytes != MS_UNKNOWN && n->shmem_bytes > total) ||
			    (n->unevictable_bytes != MS_UNKNOWN && n->unevictable_bytes > total))
				return *reason = MS_REJECT_NODE, "a node figure above MemTotal";
		}
	}
	return NULL;
}

/* A Report was over the guest's rate: past the flood line, stop reading it
 * until its second is over (flood_resume()). */
static void flood_check(struct ms_host *h, struct host_guest *g)
{
	uint64_t limit = MS_MAX((uint64_t)HOST_FLOOD_MIN,
				(uint64_t)HOST_FLOOD_FACTOR * h->max_reports_per_s);
	uint64_t now = ms_now_us();

	if (now - g->flood_window_us >= 1000000u) {
		g->flood_window_us = now;
		g->flood_drops = 0;
	}
	if (++g->flood_drops < limit || g->read_paused_until_us ||
	    ms_conn_pause_read(&g->conn, true) < 0)
		return;
	g->read_paused_until_us = g->flood_window_us + 1000000u;
	if (peer_log_ok(h))
		ms_info(h->ctx, "guest %llu '%s': %llu Reports over its rate within a second: not "
			"read for the rest of it", (unsigned long long)g->id, g->hello.guest_name,
			(unsigned long long)limit);
}

static void flood_resume(struct ms_host *h, struct host_guest *g)
{
	int r;

	g->read_paused_until_us = 0;
	/* Time spent paused is not the peer dripping a frame. */
	g->conn.partial_since_us = 0;
	r = ms_conn_pause_read(&g->conn, false);
	if (r < 0) {
		guest_kill(h, g, MS_DROP_IO, r, "epoll: %s", strerror(-r));
		return;
	}
	if (ms_frame_decoder_pending(&g->conn.dec)) {
		g->backlog = true;
		h->backlog = true;
	}
}

static void on_report(struct ms_host *h, struct host_guest *g, struct ms_msg *m)
{
	struct ms_host_event ev = { .type = MS_HOST_EVENT_REPORT };
	enum ms_report_reject reason = MS_REJECT_MEMTOTAL;
	const char *why;

	if (!report_allowed(h, g)) {
		/* Dropped, not answered: a flood gets no traffic back. */
		g->reports_rate_dropped++;
		h->stats.reports_rate_dropped++;
		flood_check(h, g);
		return;
	}
	why = report_invalid(h, g, &m->u.report, &reason);
	if (why) {
		g->reports_invalid++;
		g->reports_rejected[reason]++;
		h->stats.reports_invalid++;
		h->stats.reports_rejected[reason]++;
		if (g->reports_invalid > HOST_MAX_INVALID_REPORTS) {
			guest_kill(h, g, MS_DROP_REJECTS, -EINVAL, "more than %d invalid reports "
				   "(last: %s)", HOST_MAX_INVALID_REPORTS, why);
			return;
		}
		if (peer_log_ok(h))
			ms_warn(h->ctx, "guest %llu '%s': report rejected: %s",
				(unsigned long long)g->id, g->hello.guest_name, why);
		send_error(h, g, m->seq, EINVAL, why);
		return;
	}
	free(g->report.lru);
	g->report = m->u.report;
	m->u.report.lru = NULL;       /* now owned by the record */
	g->has_report = true;
	g->reports++;
	h->stats.reports++;
	g->last_report_us = ms_now_us();
	ev.report = &g->report;
	emit(h, g, &ev);
}

/* A guest on a serial port sent a sync marker while ready: its agent
 * restarted.  The old session ends; the same connection starts anew. */
static void session_restart(struct ms_host *h, struct host_guest *g)
{
	struct ms_host_event ev = { .type = MS_HOST_EVENT_GUEST_GONE,
				    .reason = "guest agent restarted its session", .err = 0 };

	if (g->state == GUEST_READY)
		emit(h, g, &ev);
	h->stats.dropped[MS_DROP_CLOSED]++;
	free(g->report.lru);
	memset(&g->report, 0, sizeof(g->report));
	memset(&g->hello, 0, sizeof(g->hello));
	g->has_report = false;
	g->reclaim_pending = false;
	g->reports = g->reports_invalid = 0;
	memset(g->reports_rejected, 0, sizeof(g->reports_rejected));
	g->unknown_messages = g->reports_rate_dropped = 0;
	g->expired_reclaim_id = 0;
	g->ping_sent_us = 0;
	g->id = ++h->next_guest_id;
	g->conn.record_id = g->id;
	g->state = GUEST_AWAIT_HELLO;
	g->connected_us = ms_now_us();
	g->hello_deadline_us = g->connected_us + (uint64_t)h->hello_timeout_ms * 1000u;
	g->resync_asked = false;
	/* Our side of the new session starts here too.  The guest drops what
	 * it reads up to a marker (the rest of the old session), so without
	 * one it would never see the Welcome. */
	if (ms_conn_send_sync(&g->conn) < 0)
		guest_kill(h, g, MS_DROP_IO, -EIO, "cannot write a sync marker");
}

static void on_message(struct ms_host *h, struct host_guest *g, struct ms_msg *m)
{
	if (g->state == GUEST_AWAIT_HELLO) {
		if (m->type != MS_MSG_HELLO) {
			guest_kill(h, g, MS_DROP_PROTOCOL, -EPROTO, "expected Hello, got %s",
				   ms_msg_type_name(m->type));
			return;
		}
		on_hello(h, g, m);
		return;
	}
	g->ping_sent_us = 0;
	switch (m->type) {
	case MS_MSG_HELLO:
		guest_kill(h, g, MS_DROP_PROTOCOL, -EPROTO, "second Hello on one connection");
		return;
	case MS_MSG_REPORT:
		on_report(h, g, m);
		return;
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
			guest_kill(h, g, MS_DROP_PROTOCOL, -EPROTO,
				   "ReclaimResult for request %llu that is not pending",
				   (unsigned long long)m->u.reclaim_result.id);
			return;
		}
		g->reclaim_pending = false;
		/* The Report that follows (AFTER_RECLAIM) is one the host asked
		 * for: it does not count against the guest's report rate. */
		g->tokens = MS_MIN(g->tokens + 1.0,
				   MS_MAX(2.0, (double)h->max_reports_per_s) + 1.0);
		ev.reply = &m->u.reclaim_result;
		emit(h, g, &ev);
		return;
	}
	case MS_MSG_ERROR: {
		struct ms_host_event ev = { .type = MS_HOST_EVENT_GUEST_ERROR };

		if (peer_log_ok(h))
			ms_warn(h->ctx, "guest %llu '%s' sent Error %d: %s",
				(unsigned long long)g->id, g->hello.guest_name, m->u.error.code,
				m->u.error.message);
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
		guest_kill(h, g, MS_DROP_CLOSED, 0, "Goodbye: %s",
			   m->u.reason[0] ? m->u.reason : "no reason");
		return;
	case MS_MSG_UNKNOWN:
		/* A newer guest: say so, keep the connection. */
		g->unknown_messages++;
		send_error(h, g, m->seq, EPROTONOSUPPORT, "unknown message type");
		return;
	default:
		guest_kill(h, g, MS_DROP_PROTOCOL, -EPROTO, "%s is not a guest-to-host message",
			   ms_msg_type_name(m->type));
		return;
	}
}

/*
 * Serve one connection for this round: the messages already read, and when
 * the decoder needs more, what the socket holds (up to the read budget); at
 * most HOST_MSGS_PER_ROUND messages.  What is left waits for the next round:
 * in the socket (epoll reports it again) or, whole frames already read, in
 * the decoder (g->backlog: ms_host_process() comes back to it).
 */
static void guest_readable(struct ms_host *h, struct host_guest *g)
{
	bool did_read = false;
	unsigned msgs = 0;
	char why[160];
	int r;

	g->served_round = h->round;
	g->backlog = false;
	for (;;) {
		struct ms_msg m;

		r = ms_conn_next(&g->conn, &m, why, sizeof(why));
		if (r == 0) {
			int rr;

			if (did_read || g->conn.eof)
				break;
			did_read = true;
			rr = ms_conn_read_max(&g->conn, g->state == GUEST_READY
							      ? MS_CONN_READ_BUDGET
							      : HOST_UNREADY_READ_BYTES);
			if (rr == -ECONNRESET) {
				/* EOF or reset: the frames read still count. */
				g->conn.eof = true;
			} else if (rr < 0) {
				guest_kill(h, g, MS_DROP_IO, rr, "read: %s", strerror(-rr));
				return;
			}
			continue;
		}
		if (r == MS_FRAME_SYNC) {
			/* Serial: the guest (re)starts its session here. */
			if (g->state == GUEST_READY)
				session_restart(h, g);
			if (g->state == GUEST_DEAD)
				return;
		} else if (r < 0) {
			if (!(g->conn.dec.sync_mode && r == -EPROTO)) {
				guest_kill(h, g, r == -EMSGSIZE ? MS_DROP_OVERSIZE
								 : MS_DROP_PROTOCOL, r, "%s", why);
				return;
			}
			/* Stale bytes or garbage on a serial port: the decoder
			 * hunts for the next marker. */
		} else {
			on_message(h, g, &m);
			ms_msg_clear(&m);
			if (g->state == GUEST_DEAD || g->read_paused_until_us)
				return;         /* paused: flood_resume() comes back */
		}
		if (++msgs >= HOST_MSGS_PER_ROUND) {
			/* Its turn is over; the rest (and EOF) next round. */
			if (ms_frame_decoder_pending(&g->conn.dec)) {
				g->backlog = true;
				h->backlog = true;
			}
			return;
		}
	}
	/* Serial: a ready guest's stream lost its frame boundaries (line
	 * noise, a frame cut short).  Only a marker ends the hunt, and the
	 * guest sends one when it starts a session: ask it to. */
	if (g->state == GUEST_READY && g->conn.dec.sync_mode && g->conn.dec.hunting &&
	    !g->resync_asked) {
		ms_warn(h->ctx, "guest %llu '%s': garbage on the serial line; asking for a new "
			"session", (unsigned long long)g->id, g->hello.guest_name);
		g->resync_asked = true;
		if (ms_conn_send_sync(&g->conn) < 0) {
			guest_kill(h, g, MS_DROP_IO, -EIO, "cannot write a sync marker");
			return;
		}
	}
	if (g->conn.eof) {
		if (ms_frame_decoder_pending(&g->conn.dec) && !g->conn.dec.hunting)
			guest_kill(h, g, MS_DROP_PROTOCOL, -EPROTO, "connection closed inside a frame");
		else
			guest_kill(h, g, MS_DROP_CLOSED, 0, "connection closed by the guest");
	}
}

static struct host_guest *guest_add(struct ms_host *h, int fd, bool connecting)
{
	struct host_guest *g, **tail;
	int r;

	g = calloc(1, sizeof(*g));
	if (!g) {
		close(fd);
		return NULL;
	}
	g->id = ++h->next_guest_id;
	g->connected_us = ms_now_us();
	g->hello_deadline_us = g->connected_us + (uint64_t)h->hello_timeout_ms * 1000u;
	r = ms_conn_open(&g->conn, fd, h->epfd, h->max_frame, g, connecting);
	if (r < 0) {
		ms_warn(h->ctx, "guest connection: epoll: %s", strerror(-r));
		free(g);
		return NULL;
	}
	g->conn.recorder = &h->recorder;
	g->conn.record_id = g->id;
	g->state = connecting ? GUEST_CONNECTING : GUEST_AWAIT_HELLO;
	for (tail = &h->guests; *tail; tail = &(*tail)->next)
		;
	*tail = g;
	h->nr_guests++;
	h->stats.accepted++;
	return g;
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

/* May this unix peer be a guest? */
static bool unix_peer_ok(struct ms_host *h, int fd, uint32_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (h->unix_peer == MS_UNIX_PEER_ANY)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	*uid = cred.uid;
	if (h->unix_peer == MS_UNIX_PEER_UID)
		return cred.uid == h->unix_peer_uid;
	return cred.uid == geteuid();
}

/*
 * A connection accepted on @l, or handed in by ms_host_adopt_fd() (@l NULL:
 * treated as one accepted on a unix listener): check the peer and the
 * guest limit, then add it.  0, -EPERM (peer not allowed), -EUSERS
 * (max_guests reached) or -ENOMEM (logged); @fd is closed unless added.
 */
/*
 * Connections that have not said Hello are capped at HOST_MAX_PENDING, and
 * give way when max_guests is reached: a peer that opens connections and
 * stays silent would otherwise lock honest guests out until the Hello
 * timeouts.  An honest agent says Hello at once, so the oldest silent one
 * makes room.
 */
static void evict_pending(struct ms_host *h)
{
	struct host_guest *oldest = NULL;
	size_t pending = 0;

	for (struct host_guest *g = h->guests; g; g = g->next) {
		if (g->link || g->state != GUEST_AWAIT_HELLO)
			continue;
		if (!oldest)
			oldest = g;
		pending++;
	}
	if (pending >= HOST_MAX_PENDING ||
	    (pending && h->nr_guests - h->nr_dead >= h->max_guests))
		guest_kill(h, oldest, MS_DROP_HELLO_TIMEOUT, -ETIMEDOUT,
			   "no Hello after %llu ms while %zu newer connections wait",
			   (unsigned long long)((ms_now_us() - oldest->connected_us) / 1000u),
			   pending - 1);
}

static int guest_accept(struct ms_host *h, struct host_listener *l, int fd)
{
	enum ms_endpoint_kind kind = l ? l->ep.kind : MS_ENDPOINT_UNIX;
	struct host_guest *g;
	uint32_t uid = 0;

	if (kind != MS_ENDPOINT_VSOCK && !unix_peer_ok(h, fd, &uid)) {
		if (h->stats.refused_peer++ % 1000 == 0)
			ms_warn(h->ctx, "refusing a unix peer with uid %u (allowed: %s); %llu "
				"refused so far", uid,
				h->unix_peer == MS_UNIX_PEER_UID ? "unix_peer_uid" : "this uid",
				(unsigned long long)h->stats.refused_peer);
		close(fd);
		return -EPERM;
	}
	evict_pending(h);
	if (h->nr_guests - h->nr_dead >= h->max_guests) {
		uint64_t *refused = l ? &l->refused : &h->stats.refused_full;

		/* Log the first refusal and then every 1000th. */
		if ((*refused)++ % 1000 == 0)
			ms_warn(h->ctx, "refusing connections: %u guests connected "
				"(max_guests); %llu refused so far", h->max_guests,
				(unsigned long long)*refused);
		if (l)
			h->stats.refused_full++;
		close(fd);
		return -EUSERS;
	}
	g = guest_add(h, fd, false);
	if (!g)
		return -ENOMEM;
	if (kind == MS_ENDPOINT_HVSOCK)
		ms_endpoint_format(&l->ep, g->conn.peer, sizeof(g->conn.peer));
	ms_dbg(h->ctx, "guest %llu connected (%s)", (unsigned long long)g->id, g->conn.peer);
	return 0;
}

static void accept_all(struct ms_host *h, struct host_listener *l)
{
	for (int i = 0; i < HOST_ACCEPTS_PER_ROUND; i++) {
		int fd = ms_endpoint_accept(l->fd);

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
		guest_accept(h, l, fd);
	}
}

int ms_host_adopt_fd(struct ms_host *h, int fd)
{
	if (!h || fd < 0)
		return -EINVAL;
	return guest_accept(h, NULL, fd);
}

/* ---- connections the host makes ---------------------------------------- */

static void link_connect(struct ms_host *h, struct host_link *l)
{
	struct host_guest *g;
	bool in_progress;
	int fd;

	fd = ms_endpoint_connect_host(&l->ep, &in_progress);
	if (fd < 0) {
		ms_dbg(h->ctx, "connect to %s: %s", l->endpoint, strerror(-fd));
		link_schedule(h, l);
		return;
	}
	g = guest_add(h, fd, true);
	if (!g) {
		link_schedule(h, l);
		return;
	}
	g->link = l;
	l->guest = g;
	ms_strlcpy(g->conn.peer, l->endpoint, sizeof(g->conn.peer));
	if (l->ep.kind == MS_ENDPOINT_SERIAL) {
		/* Stale bytes may sit in the port: hunt for the guest's marker. */
		ms_frame_decoder_set_sync(&g->conn.dec, true);
		ms_frame_decoder_hunt(&g->conn.dec);
	}
	/* Unix sockets connect at once; the rest finish on EPOLLOUT. */
	(void)in_progress;
}

/* The connect finished (EPOLLOUT): on to the handshake or to Hello. */
static void link_connected(struct ms_host *h, struct host_guest *g)
{
	int r = ms_conn_connect_result(&g->conn);

	ms_strlcpy(g->conn.peer, g->link ? g->link->endpoint : g->conn.peer, sizeof(g->conn.peer));
	if (r < 0) {
		guest_kill(h, g, MS_DROP_IO, r, "connect: %s", strerror(-r));
		return;
	}
	if (g->link && g->link->ep.kind == MS_ENDPOINT_HVSOCK) {
		r = ms_hvsock_send_connect(g->conn.fd, g->link->ep.port);
		if (r < 0) {
			guest_kill(h, g, MS_DROP_IO, r, "CONNECT %u: %s", g->link->ep.port,
				   strerror(-r));
			return;
		}
		g->state = GUEST_HANDSHAKE;
		return;
	}
	g->state = GUEST_AWAIT_HELLO;
	if (g->link && g->link->ep.kind == MS_ENDPOINT_SERIAL) {
		/* Ask the guest to (re)start its session: it answers with its
		 * own marker and a Hello. */
		r = ms_conn_send_sync(&g->conn);
		if (r < 0)
			guest_kill(h, g, MS_DROP_IO, r, "sync: %s", strerror(-r));
	}
}

static void link_handshake(struct ms_host *h, struct host_guest *g)
{
	int r = ms_hvsock_read_reply(g->conn.fd, g->handshake, sizeof(g->handshake),
				     &g->handshake_len);

	if (r == 0)
		return;
	if (r < 0) {
		guest_kill(h, g, MS_DROP_IO, r, "hybrid vsock: %s%s%s",
			   r == -ECONNREFUSED ? "refused" : "malformed answer",
			   g->handshake_len ? ": " : "", g->handshake_len ? g->handshake : "");
		return;
	}
	ms_dbg(h->ctx, "%s: %s", g->link->endpoint, g->handshake);
	g->state = GUEST_AWAIT_HELLO;
	/* Bytes after the reply line (the guest's Hello) are read normally. */
	guest_readable(h, g);
}

static struct host_link *link_find(struct ms_host *h, const char *endpoint)
{
	for (size_t i = 0; i < h->nr_links; i++)
		if (strcmp(h->links[i]->endpoint, endpoint) == 0)
			return h->links[i];
	return NULL;
}

MS_EXPORT int ms_host_connect(struct ms_host *h, const char *endpoint)
{
	struct host_link *l;

	if (!h || !endpoint || strlen(endpoint) >= sizeof(l->endpoint))
		return -EINVAL;
	if (link_find(h, endpoint))
		return -EEXIST;
	if (h->nr_links == HOST_MAX_LINKS)
		return -ENOSPC;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	if (ms_endpoint_parse(endpoint, &l->ep) < 0) {
		ms_err(h->ctx, "connect: bad endpoint '%s' (want serial:/path, "
		       "hvsock:/path:PORT, unix:/path or vsock:CID:PORT)", endpoint);
		free(l);
		return -EINVAL;
	}
	ms_strlcpy(l->endpoint, endpoint, sizeof(l->endpoint));
	l->backoff_ms = LINK_BACKOFF_MIN_MS;
	l->next_try_us = 0;          /* at the next process() */
	h->links[h->nr_links++] = l;
	h->stats.links = (uint32_t)h->nr_links;
	ms_info(h->ctx, "will keep a connection to %s", endpoint);
	return 0;
}

MS_EXPORT int ms_host_unconnect(struct ms_host *h, const char *endpoint)
{
	struct host_link *l;

	if (!h || !endpoint)
		return -EINVAL;
	l = link_find(h, endpoint);
	if (!l)
		return -ENOENT;
	l->removed = true;
	if (l->guest) {
		struct host_guest *g = l->guest;

		/* On purpose, like ms_host_disconnect(): say so. */
		if (g->state == GUEST_READY) {
			struct ms_msg m = { .type = MS_MSG_GOODBYE };

			snprintf(m.u.reason, sizeof(m.u.reason), "the host no longer connects to %s",
				 endpoint);
			ms_conn_send(&g->conn, &m, h->max_frame);
		}
		guest_kill(h, g, MS_DROP_HOST, 0, "the host no longer connects to %s", endpoint);
	}
	for (size_t i = 0; i < h->nr_links; i++) {
		if (h->links[i] == l) {
			h->links[i] = h->links[--h->nr_links];
			break;
		}
	}
	free(l);
	h->stats.links = (uint32_t)h->nr_links;
	return 0;
}

/* ---- the handle ------------------------------------------------------------ */

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
	memset(l, 0, sizeof(*l));
	if (ms_endpoint_parse(endpoint, &l->ep) < 0 || l->ep.kind == MS_ENDPOINT_SERIAL) {
		ms_err(h->ctx, "listen: bad endpoint '%s' (want unix:/path, vsock:CID:PORT or "
		       "hvsock:/path:PORT; a serial port is connected to, with ms_host_connect)",
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
	const struct ms_psi_trigger_spec *trig;
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
	h->epfd = -1;
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
	h->max_reports_per_s = MS_OPTS_GET(opts, ms_host_opts, max_reports_per_s, 0);
	if (!h->max_reports_per_s)
		h->max_reports_per_s = 10;
	h->frame_timeout_ms = MS_OPTS_GET(opts, ms_host_opts, frame_timeout_ms, 0);
	if (!h->frame_timeout_ms)
		h->frame_timeout_ms = 10000;
	h->keepalive_ms = MS_OPTS_GET(opts, ms_host_opts, keepalive_ms, 0);
	if (!h->keepalive_ms)
		h->keepalive_ms = 15000;
	h->unix_peer = MS_OPTS_GET(opts, ms_host_opts, unix_peer, MS_UNIX_PEER_SAME_UID);
	h->unix_peer_uid = MS_OPTS_GET(opts, ms_host_opts, unix_peer_uid, 0);
	h->event_fn = MS_OPTS_GET(opts, ms_host_opts, event_fn, NULL);
	h->userdata = MS_OPTS_GET(opts, ms_host_opts, userdata, NULL);
	h->rng = ms_now_us() ^ (uintptr_t)h;
	h->log_tokens = HOST_PEER_LOG_BURST;
	h->log_tokens_us = ms_now_us();
	if (!h->rng)
		h->rng = 1;
	trig = MS_OPTS_GET(opts, ms_host_opts, psi_trigger, NULL);
	edges = MS_OPTS_GET(opts, ms_host_opts, bin_edges_ms, NULL);
	nedges = MS_OPTS_GET(opts, ms_host_opts, nr_bin_edges, 0);
	if (h->max_frame < 64 || h->max_frame > MS_FRAME_HARD_MAX_BYTES ||
	    (h->report_interval_ms &&
	     (h->report_interval_ms < MS_REPORT_INTERVAL_MIN_MS ||
	      (uint64_t)h->report_interval_ms * h->max_reports_per_s < 1000)) ||
	    h->keepalive_ms < MS_KEEPALIVE_MIN_MS ||
	    (edges && nedges > MS_LRU_MAX_BINS - 1) || h->unix_peer > MS_UNIX_PEER_UID ||
	    (trig && (trig->kind > MS_PSI_KIND_FULL || trig->window_us < 500000 ||
		      trig->window_us > 10000000 || !trig->stall_us ||
		      trig->stall_us > trig->window_us))) {
		free(h);
		return -EINVAL;
	}
	if (trig) {
		h->has_psi_trigger = true;
		h->psi_trigger = *trig;
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
	for (size_t i = 0; i < h->nr_links; i++)
		free(h->links[i]);
	for (size_t i = 0; i < h->nr_listeners; i++) {
		struct sockaddr_un sa;
		socklen_t len = sizeof(sa);

		/* Remove the socket file we made (hvsock: "<uds>_<port>"). */
		if (getsockname(h->listeners[i].fd, (struct sockaddr *)&sa, &len) == 0 &&
		    sa.sun_family == AF_UNIX && sa.sun_path[0] == '/')
			unlink(sa.sun_path);
		close(h->listeners[i].fd);
	}
	if (h->epfd >= 0)
		close(h->epfd);
	ms_trace_writer_close(h->recorder);
	free(h->idents);
	free(h);
}

MS_EXPORT int ms_host_get_fd(struct ms_host *h)
{
	return h ? h->epfd : -EINVAL;
}

static void keep_min(uint64_t *best, uint64_t t)
{
	if (t && t < *best)
		*best = t;
}

MS_EXPORT int64_t ms_host_get_timeout_us(struct ms_host *h)
{
	uint64_t now = ms_now_us(), best = UINT64_MAX, ka;

	if (!h)
		return -1;
	ka = (uint64_t)h->keepalive_ms * 1000u;
	for (size_t i = 0; i < h->nr_listeners; i++)
		keep_min(&best, h->listeners[i].paused_until_us);
	for (size_t i = 0; i < h->nr_links; i++)
		if (!h->links[i]->guest)
			keep_min(&best, MS_MAX(h->links[i]->next_try_us, 1));
	for (struct host_guest *g = h->guests; g; g = g->next) {
		if (g->state == GUEST_DEAD)
			continue;
		if (g->state != GUEST_READY)
			keep_min(&best, g->hello_deadline_us);
		if (g->conn.partial_since_us)
			keep_min(&best, g->conn.partial_since_us + (uint64_t)h->frame_timeout_ms * 1000u);
		if (g->read_paused_until_us)
			keep_min(&best, g->read_paused_until_us);
		else if (g->backlog)
			keep_min(&best, 1);     /* frames already read wait: now */
		if (g->state == GUEST_READY) {
			if (g->reclaim_pending)
				keep_min(&best, g->reclaim_deadline_us);
			keep_min(&best, g->conn.last_rx_us + (g->ping_sent_us ? 3 * ka : ka));
		}
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

/* Deadlines: Hello, slow frames, keepalive, reclaim answers. */
static void check_timers(struct ms_host *h, struct host_guest *g, uint64_t now)
{
	uint64_t ka = (uint64_t)h->keepalive_ms * 1000u;

	if (g->state == GUEST_DEAD)
		return;
	if (g->read_paused_until_us && now >= g->read_paused_until_us) {
		flood_resume(h, g);
		if (g->state == GUEST_DEAD)
			return;
	}
	if (g->state != GUEST_READY && now >= g->hello_deadline_us) {
		guest_kill(h, g, MS_DROP_HELLO_TIMEOUT, -ETIMEDOUT, "%s within %u ms",
			   g->state == GUEST_CONNECTING ? "not connected" :
			   g->state == GUEST_HANDSHAKE ? "no answer to CONNECT" : "no Hello",
			   h->hello_timeout_ms);
		return;
	}
	if (g->conn.partial_since_us &&
	    now - g->conn.partial_since_us >= (uint64_t)h->frame_timeout_ms * 1000u) {
		guest_kill(h, g, MS_DROP_FRAME_TIMEOUT, -ETIMEDOUT,
			   "a frame begun %u ms ago is still not complete", h->frame_timeout_ms);
		return;
	}
	if (g->state != GUEST_READY)
		return;
	if (g->reclaim_pending && now >= g->reclaim_deadline_us)
		reclaim_expire(h, g);
	if (now - g->conn.last_rx_us >= 3 * ka) {
		guest_kill(h, g, MS_DROP_SILENT, -ETIMEDOUT, "silent for %llu ms",
			   (unsigned long long)((now - g->conn.last_rx_us) / 1000u));
	} else if (now - g->conn.last_rx_us >= ka && !g->ping_sent_us) {
		struct ms_msg ping = { .type = MS_MSG_PING };

		ping.u.nonce = now;
		if (send_msg(h, g, &ping) == 0)
			g->ping_sent_us = now;
	}
}

/* One epoll event of a guest connection. */
static void guest_event(struct ms_host *h, struct host_guest *g, uint32_t events)
{
	if (g->state == GUEST_DEAD)
		return;
	if (g->state == GUEST_CONNECTING) {
		link_connected(h, g);
		return;
	}
	if (g->state == GUEST_HANDSHAKE) {
		link_handshake(h, g);
		return;
	}
	if (events & EPOLLOUT) {
		int r = ms_conn_flush(&g->conn);

		if (r < 0) {
			guest_kill(h, g, MS_DROP_IO, r, "write: %s", strerror(-r));
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (g->read_paused_until_us) {
		if (!(events & (EPOLLHUP | EPOLLERR)))
			return;
		flood_resume(h, g);     /* it hung up: take what it left, then EOF */
		if (g->state == GUEST_DEAD)
			return;
	}
	guest_readable(h, g);
}

MS_EXPORT int ms_host_process(struct ms_host *h)
{
	struct epoll_event evs[HOST_EVENTS_PER_ROUND];
	unsigned unready = 0;
	uint64_t now;
	int n;

	if (!h)
		return -EINVAL;
	h->round++;
	n = epoll_wait(h->epfd, evs, HOST_EVENTS_PER_ROUND, 0);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return -errno;
	}
	/* Ready guests first: their messages never wait behind new
	 * connections or connections that have not said Hello. */
	for (int i = 0; i < n; i++) {
		struct ms_watch *w = evs[i].data.ptr;
		struct host_guest *g = w->owner;

		if (w->kind != MS_WATCH_CONN || g->state != GUEST_READY)
			continue;
		guest_event(h, g, evs[i].events);
		evs[i].events = 0;
	}
	/* Then the others, a bounded number of them: those left over are
	 * reported again next round (level-triggered). */
	for (int i = 0; i < n; i++) {
		struct ms_watch *w = evs[i].data.ptr;
		struct host_guest *g = w->owner;

		if (!evs[i].events)
			continue;
		if (w->kind == MS_WATCH_LISTENER) {
			accept_all(h, w->owner);
			continue;
		}
		if (g->state == GUEST_DEAD || unready++ >= HOST_UNREADY_PER_ROUND)
			continue;
		guest_event(h, g, evs[i].events);
	}
	/* Whole frames left over by the message budget of guests that epoll
	 * did not report this round (their sockets are empty). */
	if (h->backlog)
		for (struct host_guest *g = h->guests; g; g = g->next)
			if (g->backlog && g->state != GUEST_DEAD && !g->read_paused_until_us &&
			    g->served_round != h->round)
				guest_readable(h, g);
	now = ms_now_us();
	for (size_t i = 0; i < h->nr_listeners; i++)
		if (h->listeners[i].paused_until_us && now >= h->listeners[i].paused_until_us)
			listener_resume(h, &h->listeners[i]);
	peer_log_note(h);
	h->backlog = false;
	for (struct host_guest *g = h->guests; g; g = g->next) {
		check_timers(h, g, now);
		if (g->backlog && g->state != GUEST_DEAD && !g->read_paused_until_us)
			h->backlog = true;
	}
	for (size_t i = 0; i < h->nr_links; i++)
		if (!h->links[i]->guest && now >= h->links[i]->next_try_us)
			link_connect(h, h->links[i]);
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
	out->vsock_cid = g->conn.is_socket ? ms_socket_peer_cid(g->conn.fd) : 0;
	out->connected_mono_us = g->connected_us;
	out->reports = g->reports;
	out->last_report_mono_us = g->last_report_us;
	out->reclaim_pending = g->reclaim_pending;
	out->frames_in = g->conn.frames_in;
	out->bytes_in = g->conn.bytes_in;
	out->frames_out = g->conn.frames_out;
	out->bytes_out = g->conn.bytes_out;
	out->reports_rate_dropped = g->reports_rate_dropped;
	out->reports_invalid = g->reports_invalid;
	memcpy(out->reports_rejected, g->reports_rejected, sizeof(out->reports_rejected));
	out->unknown_messages = g->unknown_messages;
	out->sync_bytes_dropped = g->conn.dec.discarded;
	out->reconnects = g->reconnects;
	return 0;
}

MS_EXPORT int ms_host_get_stats(struct ms_host *h, struct ms_host_stats *out)
{
	if (!h || !out)
		return -EINVAL;
	*out = h->stats;
	out->links = (uint32_t)h->nr_links;
	out->links_up = 0;
	for (size_t i = 0; i < h->nr_links; i++)
		if (h->links[i]->guest && h->links[i]->guest->state == GUEST_READY)
			out->links_up++;
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
	guest_kill(h, g, MS_DROP_HOST, 0, "disconnected by the host: %s", m.u.reason);
	return 0;
}
