/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session/: a host and a guest in one thread, driven through their
 * get_fd/get_timeout_us/process by a small poll loop, over a unix socket
 * in a temporary directory.  The guest measures the linux-6.1-guest
 * capture, so every Report figure is known.  Hostile peers speak raw bytes
 * to the host while an honest guest goes on reporting.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <memshare/memshare.h>

#include "proto/codec.h"
#include "proto/frame.h"
#include "transport/endpoint.h"

#include "testraw.h"
#include "testutil.h"

#define GUEST_FIXTURE MS_FIXTURES_DIR "/linux-6.1-guest"
#define KIB 1024ull
#define MIB (1024ull * 1024ull)
#define MAX_IDS 128
/* Poll at least this often, so raw peers' conditions are re-checked. */
#define PUMP_STEP_MS 10

/* ---- the world: one host, one guest, raw peers, and what they saw ------ */

struct host_guest_seen {
	bool ready;
	bool gone;
	unsigned reports;
	int gone_err;
	char gone_reason[160];
};

struct world {
	char dir[64];
	char sock[96];
	char endpoint[112];
	struct ms_ctx *hctx;
	struct ms_ctx *gctx;
	struct ms_host *host;
	struct ms_guest *guest;

	/* Host events. */
	unsigned h_ready, h_reports, h_replies, h_errors, h_gone;
	uint64_t last_ready_id;
	char last_ready_name[MS_NAME_MAX];
	struct host_guest_seen seen[MAX_IDS];
	struct ms_report last_report;          /* lru: our own copy */
	uint64_t last_report_id;
	struct ms_reclaim_reply last_reply;
	uint64_t last_reply_guest;
	uint64_t last_gone_id;

	/* Guest events. */
	unsigned g_connected, g_disconnected, g_reports_sent, g_reclaims, g_host_errors;
	unsigned g_report_reasons[3];
	struct ms_welcome last_welcome;
	char g_disc_reason[320];
	int g_disc_err;
	struct ms_reclaim_reply g_last_reply;

	/* Raw peers, closed by teardown whatever happened. */
	struct tu_raw *raws[80];
	unsigned nr_raws;

	/* What the contexts logged: hlog.all tells why a peer was dropped. */
	struct tu_log hlog;
	struct tu_log glog;
};

static struct world W;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void on_host_event(struct ms_host *h, const struct ms_host_event *ev, void *userdata)
{
	struct world *w = userdata;
	struct host_guest_seen *s;

	ck_assert_ptr_eq(h, w->host);
	ck_assert_ptr_nonnull(ev->hello);
	ck_assert_uint_gt(ev->guest_id, 0);
	ck_assert_uint_lt(ev->guest_id, MAX_IDS);
	s = &w->seen[ev->guest_id];
	switch (ev->type) {
	case MS_HOST_EVENT_GUEST_READY:
		ck_assert(!s->ready);
		s->ready = true;
		w->h_ready++;
		w->last_ready_id = ev->guest_id;
		snprintf(w->last_ready_name, sizeof(w->last_ready_name), "%s",
			 ev->hello->guest_name);
		break;
	case MS_HOST_EVENT_REPORT:
		ck_assert(s->ready && !s->gone);
		ck_assert_ptr_nonnull(ev->report);
		w->h_reports++;
		s->reports++;
		ms_report_clear(&w->last_report);
		w->last_report = *ev->report;
		w->last_report.lru = ms_lru_summary_dup(ev->report->lru);
		if (ev->report->lru)
			ck_assert_ptr_nonnull(w->last_report.lru);
		w->last_report_id = ev->guest_id;
		break;
	case MS_HOST_EVENT_RECLAIM_REPLY:
		ck_assert_ptr_nonnull(ev->reply);
		w->h_replies++;
		w->last_reply = *ev->reply;
		w->last_reply_guest = ev->guest_id;
		break;
	case MS_HOST_EVENT_GUEST_ERROR:
		ck_assert_ptr_nonnull(ev->error);
		w->h_errors++;
		break;
	case MS_HOST_EVENT_GUEST_GONE:
		ck_assert(s->ready && !s->gone);
		ck_assert_ptr_nonnull(ev->reason);
		s->gone = true;
		s->gone_err = ev->err;
		snprintf(s->gone_reason, sizeof(s->gone_reason), "%s", ev->reason);
		w->h_gone++;
		w->last_gone_id = ev->guest_id;
		break;
	default:
		ck_abort_msg("unknown host event %d", ev->type);
	}
}

static void on_guest_event(struct ms_guest *g, const struct ms_guest_event *ev, void *userdata)
{
	struct world *w = userdata;

	ck_assert_ptr_eq(g, w->guest);
	switch (ev->type) {
	case MS_GUEST_EVENT_CONNECTED:
		ck_assert_ptr_nonnull(ev->welcome);
		w->g_connected++;
		w->last_welcome = *ev->welcome;
		break;
	case MS_GUEST_EVENT_REPORT_SENT:
		ck_assert_ptr_nonnull(ev->report);
		ck_assert_uint_le(ev->report->reason, MS_REPORT_AFTER_RECLAIM);
		w->g_reports_sent++;
		w->g_report_reasons[ev->report->reason]++;
		break;
	case MS_GUEST_EVENT_RECLAIM_DONE:
		ck_assert_ptr_nonnull(ev->request);
		ck_assert_ptr_nonnull(ev->reply);
		ck_assert_uint_eq(ev->request->id, ev->reply->id);
		w->g_reclaims++;
		w->g_last_reply = *ev->reply;
		break;
	case MS_GUEST_EVENT_HOST_ERROR:
		ck_assert_ptr_nonnull(ev->error);
		w->g_host_errors++;
		break;
	case MS_GUEST_EVENT_DISCONNECTED:
		ck_assert_ptr_nonnull(ev->reason);
		w->g_disconnected++;
		w->g_disc_err = ev->err;
		snprintf(w->g_disc_reason, sizeof(w->g_disc_reason), "%s", ev->reason);
		break;
	default:
		ck_abort_msg("unknown guest event %d", ev->type);
	}
}

/* ---- the loop ------------------------------------------------------------ */

typedef bool (*cond_fn)(void *arg);

/*
 * Run the host and the guest (whichever exist) until @cond holds or
 * @timeout_ms passed.  Returns whether @cond held; with no @cond, runs for
 * the whole time and returns true.
 */
static bool pump_until(unsigned timeout_ms, cond_fn cond, void *arg)
{
	return tu_pump_until(W.host, W.guest, timeout_ms, PUMP_STEP_MS * 1000u, NULL, NULL,
			     cond, arg);
}

static void pump_for(unsigned ms)
{
	pump_until(ms, NULL, NULL);
}

struct ge {
	const unsigned *v;
	unsigned want;
};

static bool cond_ge(void *arg)
{
	const struct ge *g = arg;

	return *g->v >= g->want;
}

#define WAIT_GE(var, want, ms)                                                          \
	do {                                                                            \
		struct ge ge_ = { &(var), (want) };                                     \
		ck_assert_msg(pump_until((ms), cond_ge, &ge_),                           \
			      "timeout: " #var " >= %u never held (is %u)", (unsigned)(want), \
			      (unsigned)(var));                                         \
	} while (0)

/* ---- setup --------------------------------------------------------------- */

static void setup(void)
{
	memset(&W, 0, sizeof(W));
	W.hlog.name = "host";
	W.glog.name = "guest";
	ck_assert_uint_lt((size_t)snprintf(W.dir, sizeof(W.dir), "%s", tu_tmp_root("session")),
			  sizeof(W.dir));
	snprintf(W.sock, sizeof(W.sock), "%.64s/host.sock", W.dir);
	snprintf(W.endpoint, sizeof(W.endpoint), "unix:%.96s", W.sock);
	W.hctx = tu_new_ctx_log(NULL, &W.hlog);
	W.gctx = tu_new_ctx_log(GUEST_FIXTURE, &W.glog);
}

static void teardown(void)
{
	ms_guest_free(W.guest);
	ms_host_free(W.host);
	W.guest = NULL;
	W.host = NULL;
	for (unsigned i = 0; i < W.nr_raws; i++) {
		tu_raw_close(W.raws[i]);
		free(W.raws[i]);
	}
	ms_report_clear(&W.last_report);
	ms_ctx_free(W.gctx);
	ms_ctx_free(W.hctx);
	tu_tmp_cleanup();
	memset(&W, 0, sizeof(W));
}

/* Per-host counters start again with each host (guest ids do too). */
static void reset_host_seen(void)
{
	W.h_ready = W.h_reports = W.h_replies = W.h_errors = W.h_gone = 0;
	W.last_ready_id = W.last_report_id = W.last_reply_guest = W.last_gone_id = 0;
	memset(W.seen, 0, sizeof(W.seen));
}

static void start_host_opts(uint32_t interval_ms, const uint64_t *edges, size_t nr_edges,
			    uint32_t hello_timeout_ms)
{
	MS_OPTS(ms_host_opts, o, .ctx = W.hctx, .listen = W.endpoint,
		.report_interval_ms = interval_ms, .bin_edges_ms = edges,
		.nr_bin_edges = nr_edges, .hello_timeout_ms = hello_timeout_ms,
		.event_fn = on_host_event, .userdata = &W);

	ck_assert_ptr_null(W.host);
	reset_host_seen();
	ck_assert_int_eq(ms_host_new(&W.host, &o), 0);
	ck_assert_int_ge(ms_host_get_fd(W.host), 0);
	/* Nobody connected: no deadline. */
	ck_assert_int_eq(ms_host_get_timeout_us(W.host), -1);
}

static void start_host(uint32_t interval_ms)
{
	start_host_opts(interval_ms, NULL, 0, 0);
}

static void start_guest(const char *name, uint32_t interval_ms)
{
	MS_OPTS(ms_guest_opts, o, .ctx = W.gctx, .connect = W.endpoint, .name = name,
		.report_interval_ms = interval_ms, .reconnect_min_ms = 50,
		.reconnect_max_ms = 200, .event_fn = on_guest_event, .userdata = &W);

	ck_assert_ptr_null(W.guest);
	ck_assert_int_eq(ms_guest_new(&W.guest, &o), 0);
	ck_assert_int_ge(ms_guest_get_fd(W.guest), 0);
	/* The first connect attempt is due at once. */
	ck_assert_int_eq(ms_guest_get_timeout_us(W.guest), 0);
	ck_assert(!ms_guest_is_connected(W.guest));
}

/* Host and guest up, Hello/Welcome done, first Report in; the guest's id. */
static uint64_t start_pair(uint32_t host_interval_ms, const char *name, uint32_t guest_interval_ms)
{
	uint64_t id;

	start_host(host_interval_ms);
	start_guest(name, guest_interval_ms);
	WAIT_GE(W.h_ready, 1, 3000);
	WAIT_GE(W.g_connected, 1, 3000);
	id = W.last_ready_id;
	WAIT_GE(W.seen[id].reports, 1, 3000);
	return id;
}

static bool contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

/* ---- raw peers ----------------------------------------------------------- */

/* A raw peer (testraw.h) that teardown will close. */
static struct tu_raw *raw_new(void)
{
	struct tu_raw *r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	ck_assert_uint_lt(W.nr_raws, sizeof(W.raws) / sizeof(W.raws[0]));
	r->fd = -1;
	W.raws[W.nr_raws++] = r;
	return r;
}

/* Connect @r to the host's socket. */
static void raw_open(struct tu_raw *r)
{
	tu_raw_open(r, W.sock);
}

/* Wait for the host's next frame to this peer; returns its type. */
static enum ms_msg_type raw_recv(struct tu_raw *r, unsigned timeout_ms)
{
	ck_assert_msg(pump_until(timeout_ms, tu_raw_cond_msg, r), "no frame from the host");
	return r->msg.type;
}

static void raw_wait_closed(struct tu_raw *r, unsigned timeout_ms)
{
	ck_assert_msg(pump_until(timeout_ms, tu_raw_cond_closed, r),
		      "the host did not close the connection");
}

/* A raw peer that said Hello and got Welcome; returns its guest id. */
static uint64_t raw_ready(struct tu_raw *r, const char *name)
{
	unsigned ready = W.h_ready;

	raw_open(r);
	tu_raw_send_hello(r, name);
	ck_assert_int_eq(raw_recv(r, 2000), MS_MSG_WELCOME);
	ck_assert_uint_eq(r->msg.in_reply_to, 1);
	ck_assert_uint_eq(r->msg.u.welcome.proto_version, 1);
	/* The host's settings follow the Welcome at once. */
	ck_assert_int_eq(raw_recv(r, 2000), MS_MSG_CONFIG);
	ck_assert_uint_eq(r->msg.u.config.keepalive_ms, 15000);
	ck_assert(!r->msg.u.config.has_psi_trigger);
	ck_assert_uint_eq(W.h_ready, ready + 1);
	if (*name)
		ck_assert_str_eq(W.last_ready_name, name);
	return W.last_ready_id;
}

/* The honest guest @id is still there and two more Reports arrive. */
static void honest_keeps_going(uint64_t id)
{
	unsigned before = W.seen[id].reports;
	struct ms_guest_info info;

	WAIT_GE(W.seen[id].reports, before + 2, 3000);
	ck_assert(!W.seen[id].gone);
	ck_assert_int_eq(ms_host_guest_info(W.host, id, &info), 0);
	ck_assert(ms_guest_is_connected(W.guest));
	ck_assert_uint_eq(W.g_disconnected, 0);
}

/* ---- tests: handshake ------------------------------------------------------ */

START_TEST(hello_ready)
{
	struct ms_guest_info info;
	uint64_t ids[4] = { 0 }, id;
	char pid[32];

	start_host(0);
	start_guest("vm-test", 5000);
	WAIT_GE(W.h_ready, 1, 3000);
	WAIT_GE(W.g_connected, 1, 3000);
	id = W.last_ready_id;
	ck_assert_uint_eq(id, 1);
	ck_assert_str_eq(W.last_ready_name, "vm-test");
	ck_assert(ms_guest_is_connected(W.guest));

	/* Welcome as the host sent it: no interval, no edges of its own. */
	ck_assert_uint_eq(W.last_welcome.proto_version, 1);
	ck_assert_uint_eq(W.last_welcome.report_interval_ms, 0);
	ck_assert_uint_eq(W.last_welcome.nr_bin_edges, 0);

	ck_assert_uint_eq(ms_host_list_guests(W.host, ids, 4), 1);
	ck_assert_uint_eq(ids[0], id);
	ck_assert_uint_eq(ms_host_list_guests(W.host, NULL, 0), 1);
	ck_assert_uint_eq(ms_host_find_guest(W.host, "vm-test"), id);
	ck_assert_uint_eq(ms_host_find_guest(W.host, "vm-tes"), 0);
	ck_assert_uint_eq(ms_host_find_guest(W.host, "nope"), 0);
	ck_assert_uint_eq(ms_host_find_guest(W.host, NULL), 0);

	ck_assert_int_eq(ms_host_guest_info(W.host, id, &info), 0);
	ck_assert_uint_eq(info.guest_id, id);
	ck_assert_str_eq(info.hello.guest_name, "vm-test");
	ck_assert_str_eq(info.hello.agent_version, ms_version());
	ck_assert_uint_eq(info.hello.proto_min, MS_PROTO_VERSION_MIN);
	ck_assert_uint_eq(info.hello.proto_max, MS_PROTO_VERSION_MAX);
	ck_assert_uint_eq(info.hello.mem_total_bytes, 481268 * KIB);
	ck_assert_uint_eq(info.hello.page_size_bytes, ms_ctx_get_page_size(W.gctx));
	/* The capture: PSI and MGLRU; no memory.reclaim, no drop_caches, one node. */
	ck_assert(info.hello.capabilities & MS_CAP_PSI);
	ck_assert(info.hello.capabilities & MS_CAP_MGLRU);
	ck_assert(info.hello.capabilities & MS_CAP_CLASSIC_LRU);
	ck_assert(!(info.hello.capabilities & MS_CAP_MEMCG_RECLAIM));
	ck_assert(!(info.hello.capabilities & MS_CAP_SLAB_RECLAIM));
	ck_assert(!(info.hello.capabilities & MS_CAP_NUMA));
	snprintf(pid, sizeof(pid), "pid=%d,", (int)getpid());
	ck_assert_msg(strncmp(info.peer, "unix:", 5) == 0 && contains(info.peer, pid),
		      "peer '%s'", info.peer);
	ck_assert_uint_gt(info.connected_mono_us, 0);
	ck_assert_uint_le(info.connected_mono_us, now_us());
	ck_assert(!info.reclaim_pending);

	/* The first Report follows Welcome at once. */
	WAIT_GE(W.seen[id].reports, 1, 3000);
	ck_assert_int_eq(ms_host_guest_info(W.host, id, &info), 0);
	ck_assert_uint_eq(info.reports, 1);
	ck_assert_uint_ge(info.last_report_mono_us, info.connected_mono_us);
	ck_assert_ptr_nonnull(ms_host_guest_report(W.host, id));

	ck_assert_int_eq(ms_host_guest_info(W.host, id + 1, &info), -ENOENT);
	ck_assert_int_eq(ms_host_guest_info(W.host, 0, &info), -ENOENT);
	ck_assert_ptr_null(ms_host_guest_report(W.host, id + 1));
	ck_assert_int_eq(ms_host_guest_info(W.host, id, NULL), -EINVAL);
	ck_assert_uint_eq(W.h_gone, 0);
	ck_assert_uint_eq(W.g_disconnected, 0);
}
END_TEST

/* Page counts from tests/fixtures/linux-6.1-guest/sys/kernel/debug/lru_gen
 * (memcgs 1, 2, 3 on node 0), as (gen age_ms anon file):
 *   /     1 35332 0 23 | 2 35332 203 1 | 3 35332 668 0   | 4 24192 11 0
 *   vm-a  1 32864 0 25603 | 2 32864 0 0 | 3 32864 2 0    | 4 24172 13 0
 *   vm-b  1 32856 0 0 | 2 32856 2 0 | 3 32856 20492 0    | 4 24148 0 0
 * Default edges 5 s, 30 s, 120 s, 600 s: the gen-4 lines (ages 24148-24192)
 * fall in [5 s, 30 s): anon 11 + 13 + 0 = 24 pages, file 0; all the others
 * (ages 32856-35332) in [30 s, 120 s): anon 203 + 668 + 2 + 2 + 20492 = 21367,
 * file 23 + 1 + 25603 = 25627. */
static void check_lru_default(const struct ms_lru_summary *lru, uint64_t ps)
{
	static const uint64_t lo[5] = { 0, 5000, 30000, 120000, 600000 };
	static const uint64_t hi[5] = { 5000, 30000, 120000, 600000, MS_AGE_INFINITE };
	static const uint64_t anon[5] = { 0, 24, 21367, 0, 0 };
	static const uint64_t file[5] = { 0, 0, 25627, 0, 0 };
	const struct ms_lru_node *n;

	ck_assert_ptr_nonnull(lru);
	ck_assert_int_eq(lru->source, MS_LRU_SOURCE_MGLRU);
	ck_assert_uint_eq(lru->nr_nodes, 1);
	n = &lru->nodes[0];
	ck_assert_int_eq(n->node, 0);
	ck_assert_uint_eq(n->nr_bins, 5);
	for (int i = 0; i < 5; i++) {
		ck_assert_uint_eq(n->bins[i].min_age_ms, lo[i]);
		ck_assert_uint_eq(n->bins[i].max_age_ms, hi[i]);
		ck_assert_uint_eq(n->bins[i].anon_bytes, anon[i] * ps);
		ck_assert_uint_eq(n->bins[i].file_bytes, file[i] * ps);
	}
	/* node0/meminfo: SReclaimable 19992 kB, Shmem 3208 kB, Unevictable 0. */
	ck_assert_uint_eq(n->slab_reclaimable_bytes, 19992 * KIB);
	ck_assert_uint_eq(n->shmem_bytes, 3208 * KIB);
	ck_assert_uint_eq(n->unevictable_bytes, 0);
}

START_TEST(report_content)
{
	const uint64_t ps = ms_ctx_get_page_size(W.gctx);
	const struct ms_report *r;
	struct ms_report local;
	uint64_t id;

	id = start_pair(0, "vm-report", 5000);
	ck_assert_uint_eq(W.last_report_id, id);
	r = ms_host_guest_report(W.host, id);
	ck_assert_ptr_nonnull(r);
	for (int k = 0; k < 2; k++) {
		/* Both the host's copy and what the event carried. */
		const struct ms_report *rep = k ? &W.last_report : r;

		ck_assert_uint_eq(rep->reason, MS_REPORT_PERIODIC);
		ck_assert_uint_gt(rep->mono_us, 0);
		ck_assert_uint_eq(rep->meminfo.total_bytes, 481268 * KIB);
		ck_assert_uint_eq(rep->meminfo.free_bytes, 254880 * KIB);
		ck_assert_uint_eq(rep->meminfo.available_bytes, 364660 * KIB);
		ck_assert_uint_eq(rep->meminfo.swap_total_bytes, 0);
		ck_assert(rep->has_psi);
		ck_assert_uint_eq(rep->psi.present, MS_PSI_SOME | MS_PSI_FULL);
		ck_assert_uint_eq(rep->psi.some.total_us, 6035076);
		ck_assert_uint_eq(rep->psi.full.total_us, 5962034);
		ck_assert_double_eq_tol(rep->psi.some.avg10, 40.11, 1e-9);
		ck_assert_double_eq_tol(rep->psi.full.avg300, 2.17, 1e-9);
		check_lru_default(rep->lru, ps);
	}

	/* What the guest would build locally is what the host got. */
	ck_assert_int_eq(ms_guest_build_report(W.gctx, NULL, &local), 0);
	ck_assert_mem_eq(&local.meminfo, &r->meminfo, sizeof(local.meminfo));
	ck_assert_mem_eq(&local.vmstat, &r->vmstat, sizeof(local.vmstat));
	ck_assert_uint_eq(local.psi.some.total_us, r->psi.some.total_us);
	check_lru_default(local.lru, ps);
	ms_report_clear(&local);
	ck_assert_ptr_null(local.lru);
	ms_report_clear(NULL);
}
END_TEST

/* The host's interval (Welcome) beats the guest's own; 0 keeps the guest's. */
START_TEST(report_interval_override)
{
	unsigned c0, n;
	uint64_t id;

	id = start_pair(200, "vm-fast", 5000);
	ck_assert_uint_eq(W.last_welcome.report_interval_ms, 200);
	c0 = W.seen[id].reports;
	pump_for(1000);
	n = W.seen[id].reports - c0;
	/* 5 expected; slack for slow runs (valgrind).  5 s would give 0. */
	ck_assert_msg(n >= 3 && n <= 6, "%u reports in 1 s at 200 ms", n);
	/* Sent but maybe not yet read by the host. */
	ck_assert_uint_le(W.g_reports_sent - W.seen[id].reports, 1);
	ck_assert_uint_eq(W.g_report_reasons[MS_REPORT_PERIODIC], W.g_reports_sent);

	/* The guest's timeout tracks the next report. */
	{
		int64_t t = ms_guest_get_timeout_us(W.guest);

		ck_assert_int_ge(t, 0);
		ck_assert_int_le(t, 200000);
	}

	ms_guest_free(W.guest);
	W.guest = NULL;
	ms_host_free(W.host);
	W.host = NULL;

	/* Host says 0: the guest's own 5 s stands, one Report (at connect). */
	id = start_pair(0, "vm-slow", 5000);
	ck_assert_uint_eq(W.last_welcome.report_interval_ms, 0);
	pump_for(600);
	ck_assert_uint_eq(W.seen[id].reports, 1);
	{
		int64_t t = ms_guest_get_timeout_us(W.guest);

		ck_assert_int_gt(t, 4000000);
		ck_assert_int_le(t, 5000000);
	}
}
END_TEST

/* Bin edges from the host's Welcome shape the guest's LRU summary.
 * Edges 25 s, 33 s: [0, 25 s) holds the gen-4 lines (anon 24 pages);
 * [25 s, 33 s) vm-a's and vm-b's gens 1-3 (ages 32856/32864: anon
 * 2 + 2 + 20492 = 20496, file 25603); [33 s, inf) the root's gens 1-3
 * (age 35332: anon 203 + 668 = 871, file 23 + 1 = 24). */
START_TEST(bin_edges_from_host)
{
	static const uint64_t edges[2] = { 25000, 33000 };
	static const uint64_t lo[3] = { 0, 25000, 33000 };
	static const uint64_t hi[3] = { 25000, 33000, MS_AGE_INFINITE };
	static const uint64_t anon[3] = { 24, 20496, 871 };
	static const uint64_t file[3] = { 0, 25603, 24 };
	const uint64_t ps = ms_ctx_get_page_size(W.gctx);
	const struct ms_lru_node *n;
	const struct ms_report *r;
	uint64_t id;

	start_host_opts(0, edges, 2, 0);
	start_guest("vm-edges", 5000);
	WAIT_GE(W.h_ready, 1, 3000);
	id = W.last_ready_id;
	WAIT_GE(W.seen[id].reports, 1, 3000);
	ck_assert_uint_eq(W.last_welcome.nr_bin_edges, 2);
	ck_assert_uint_eq(W.last_welcome.bin_edges_ms[0], 25000);
	ck_assert_uint_eq(W.last_welcome.bin_edges_ms[1], 33000);

	r = ms_host_guest_report(W.host, id);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(r->lru);
	ck_assert_int_eq(r->lru->source, MS_LRU_SOURCE_MGLRU);
	ck_assert_uint_eq(r->lru->nr_nodes, 1);
	n = &r->lru->nodes[0];
	ck_assert_uint_eq(n->nr_bins, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(n->bins[i].min_age_ms, lo[i]);
		ck_assert_uint_eq(n->bins[i].max_age_ms, hi[i]);
		ck_assert_uint_eq(n->bins[i].anon_bytes, anon[i] * ps);
		ck_assert_uint_eq(n->bins[i].file_bytes, file[i] * ps);
	}
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(r->lru, 33000, MS_LRU_FILE), 24 * ps);
}
END_TEST

START_TEST(host_bad_options)
{
	static const uint64_t desc[2] = { 33000, 25000 };
	static const uint64_t zero[2] = { 0, 25000 };
	uint64_t many[MS_LRU_MAX_BINS];
	struct ms_host *h = NULL;

	for (int i = 0; i < MS_LRU_MAX_BINS; i++)
		many[i] = 1000u * (uint64_t)(i + 1);
	{
		MS_OPTS(ms_host_opts, o, .bin_edges_ms = desc, .nr_bin_edges = 2);

		ck_assert_int_eq(ms_host_new(&h, &o), -EINVAL);
	}
	{
		MS_OPTS(ms_host_opts, o, .bin_edges_ms = zero, .nr_bin_edges = 2);

		ck_assert_int_eq(ms_host_new(&h, &o), -EINVAL);
	}
	{
		MS_OPTS(ms_host_opts, o, .bin_edges_ms = many, .nr_bin_edges = MS_LRU_MAX_BINS);

		ck_assert_int_eq(ms_host_new(&h, &o), -EINVAL);
	}
	{
		MS_OPTS(ms_host_opts, o, .listen = "tcp:1.2.3.4:5");

		ck_assert_int_eq(ms_host_new(&h, &o), -EINVAL);
	}
	{
		/* Asking for reports faster than the rate limit takes them:
		 * 99 ms is 10.1 a second against the default 10. */
		MS_OPTS(ms_host_opts, o, .report_interval_ms = 99);

		ck_assert_int_eq(ms_host_new(&h, &o), -EINVAL);
		o.max_reports_per_s = 11;
		ck_assert_int_eq(ms_host_new(&h, &o), 0);
		ms_host_free(h);
		h = NULL;
		o.report_interval_ms = 100;
		o.max_reports_per_s = 0;
		ck_assert_int_eq(ms_host_new(&h, &o), 0);
		ms_host_free(h);
		h = NULL;
		/* What guests refuse in Welcome and Config (found by
		 * fuzz-guest): an interval under 10 ms, a keepalive under
		 * 100 ms, whatever the rate limit. */
		o.report_interval_ms = 9;
		o.max_reports_per_s = 1000;
		ck_assert_int_eq(ms_host_new(&h, &o), -EINVAL);
		o.report_interval_ms = 10;
		o.keepalive_ms = 99;
		ck_assert_int_eq(ms_host_new(&h, &o), -EINVAL);
		o.keepalive_ms = 100;
		ck_assert_int_eq(ms_host_new(&h, &o), 0);
		ms_host_free(h);
		h = NULL;
	}
	{
		MS_OPTS(ms_host_opts, o, .listen = "unix:/nonexistent-dir/x/y.sock");

		ck_assert_int_eq(ms_host_new(&h, &o), -ENOENT);
	}
	ck_assert_ptr_null(h);
	ck_assert_int_eq(ms_host_new(NULL, NULL), -EINVAL);

	/* A second host on a path in use. */
	start_host(0);
	{
		MS_OPTS(ms_host_opts, o, .listen = W.endpoint);

		ck_assert_int_eq(ms_host_new(&h, &o), -EADDRINUSE);
	}
	ck_assert_int_eq(ms_host_listen(W.host, "bogus"), -EINVAL);

	/* Guest options. */
	{
		struct ms_guest *g = NULL;
		MS_OPTS(ms_guest_opts, o, .ctx = W.gctx, .connect = "tcp:x");

		ck_assert_int_eq(ms_guest_new(&g, &o), -EINVAL);
		o.connect = NULL;
		ck_assert_int_eq(ms_guest_new(&g, &o), -EINVAL);
		o.connect = W.endpoint;
		o.ctx = NULL;
		ck_assert_int_eq(ms_guest_new(&g, &o), -EINVAL);
		ck_assert_ptr_null(g);
	}
	ms_host_free(NULL);
	ms_guest_free(NULL);
}
END_TEST

/* ---- tests: reclaim -------------------------------------------------------- */

/* Copy the guest capture to W.dir/root and use it as the guest's sysroot.
 * The capture has no proc/sys/vm/drop_caches: add it as a plain file. */
static void use_fixture_copy(char *root, size_t size)
{
	char path[PATH_MAX];

	ck_assert_uint_le(strlen(W.dir) + 5, 96);
	snprintf(root, size, "%s/root", W.dir);
	tu_copy_fixture_tree(W.dir, "root", "linux-6.1-guest");
	snprintf(path, sizeof(path), "%s/proc/sys", root);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	tu_put_str(root, "proc/sys/vm/drop_caches", "");

	ms_ctx_free(W.gctx);
	W.gctx = tu_new_ctx_log(root, &W.glog);
}

START_TEST(reclaim_round_trip)
{
	struct ms_reclaim_request req = { .id = 999, .bytes = 0, .kinds = MS_RECLAIM_SLAB };
	char root[128], dc[160];
	struct ms_guest_info info;
	uint64_t id, rid = 0, rid2 = 0;

	use_fixture_copy(root, sizeof(root));
	snprintf(dc, sizeof(dc), "%s/proc/sys/vm/drop_caches", root);
	id = start_pair(0, "vm-reclaim", 5000);
	ck_assert_int_eq(ms_host_guest_info(W.host, id, &info), 0);
	ck_assert(info.hello.capabilities & MS_CAP_SLAB_RECLAIM);
	ck_assert(!(info.hello.capabilities & MS_CAP_MEMCG_RECLAIM));

	/* Bad requests never reach the guest. */
	{
		struct ms_reclaim_request bad = req;

		bad.kinds = 0;
		ck_assert_int_eq(ms_host_reclaim(W.host, id, &bad, NULL), -EINVAL);
		bad.kinds = MS_RECLAIM_FILE;           /* FILE needs bytes */
		ck_assert_int_eq(ms_host_reclaim(W.host, id, &bad, NULL), -EINVAL);
		bad.kinds = 1u << 5;
		bad.bytes = MIB;
		ck_assert_int_eq(ms_host_reclaim(W.host, id, &bad, NULL), -EINVAL);
		ck_assert_int_eq(ms_host_reclaim(W.host, id, NULL, NULL), -EINVAL);
		ck_assert_int_eq(ms_host_reclaim(NULL, id, &req, NULL), -EINVAL);
	}
	ck_assert_int_eq(ms_host_reclaim(W.host, id + 7, &req, NULL), -ENOENT);
	ck_assert_int_eq(ms_host_reclaim(W.host, 0, &req, NULL), -ENOENT);

	/* SLAB: drop_caches (a plain file here) gets "2"; nothing measurably
	 * freed since the captured meminfo does not change. */
	ck_assert_int_eq(ms_host_reclaim(W.host, id, &req, &rid), 0);
	ck_assert_uint_gt(rid, 0);
	ck_assert_uint_ne(rid, 999);
	ck_assert_int_eq(ms_host_guest_info(W.host, id, &info), 0);
	ck_assert(info.reclaim_pending);
	/* One at a time. */
	ck_assert_int_eq(ms_host_reclaim(W.host, id, &req, &rid2), -EBUSY);
	ck_assert_uint_eq(rid2, 0);

	WAIT_GE(W.h_replies, 1, 3000);
	ck_assert_uint_eq(W.last_reply_guest, id);
	ck_assert_uint_eq(W.last_reply.id, rid);
	ck_assert_int_eq(W.last_reply.result.status, 0);
	ck_assert_uint_eq(W.last_reply.result.method, 1u << MS_RECLAIM_METHOD_DROP_SLAB);
	ck_assert_uint_eq(W.last_reply.result.freed_bytes, 0);
	ck_assert_uint_eq(W.last_reply.result.freed_slab_bytes, 0);
	ck_assert_str_eq(tu_read_text(root, "proc/sys/vm/drop_caches"), "2");
	ck_assert_uint_eq(W.g_reclaims, 1);
	ck_assert_uint_eq(W.g_last_reply.id, rid);
	ck_assert_int_eq(ms_host_guest_info(W.host, id, &info), 0);
	ck_assert(!info.reclaim_pending);
	/* The guest follows up with a Report showing the effect. */
	WAIT_GE(W.g_report_reasons[MS_REPORT_AFTER_RECLAIM], 1, 3000);
	WAIT_GE(W.seen[id].reports, 2, 3000);
	ck_assert_uint_eq(W.last_report.reason, MS_REPORT_AFTER_RECLAIM);

	/* FILE: the capture has no memory.reclaim. */
	req.kinds = MS_RECLAIM_FILE;
	req.bytes = 8 * MIB;
	ck_assert_int_eq(ms_host_reclaim(W.host, id, &req, &rid2), 0);
	ck_assert_uint_gt(rid2, rid);
	WAIT_GE(W.h_replies, 2, 3000);
	ck_assert_uint_eq(W.last_reply.id, rid2);
	ck_assert_int_eq(W.last_reply.result.status, -EOPNOTSUPP);
	ck_assert_uint_eq(W.last_reply.result.method, 0);
	ck_assert_uint_eq(W.last_reply.result.requested_bytes, 8 * MIB);
	ck_assert_uint_eq(W.last_reply.result.freed_bytes, 0);

	/* SLAB + FILE: the slab part works, the whole is still -EOPNOTSUPP. */
	ck_assert_int_eq(truncate(dc, 0), 0);
	req.kinds = MS_RECLAIM_FILE | MS_RECLAIM_SLAB;
	ck_assert_int_eq(ms_host_reclaim(W.host, id, &req, &rid), 0);
	WAIT_GE(W.h_replies, 3, 3000);
	ck_assert_uint_eq(W.last_reply.id, rid);
	ck_assert_int_eq(W.last_reply.result.status, -EOPNOTSUPP);
	ck_assert_uint_eq(W.last_reply.result.method, 1u << MS_RECLAIM_METHOD_DROP_SLAB);
	ck_assert_str_eq(tu_read_text(root, "proc/sys/vm/drop_caches"), "2");

	ck_assert_uint_eq(W.h_gone, 0);
	ck_assert_uint_eq(W.g_disconnected, 0);
	ck_assert_uint_eq(W.g_reclaims, 3);
}
END_TEST

/* A guest that goes away with a request pending gives GUEST_GONE. */
START_TEST(reclaim_guest_gone)
{
	struct ms_reclaim_request req = { .kinds = MS_RECLAIM_SLAB };
	uint64_t id, rid;

	id = start_pair(0, "vm-leaving", 5000);
	ck_assert_int_eq(ms_host_reclaim(W.host, id, &req, &rid), 0);
	ms_guest_free(W.guest);   /* before it read the request */
	W.guest = NULL;
	WAIT_GE(W.h_gone, 1, 3000);
	ck_assert(W.seen[id].gone);
	ck_assert_uint_eq(W.h_replies, 0);
	ck_assert_int_eq(ms_host_reclaim(W.host, id, &req, &rid), -ENOENT);
	ck_assert_uint_eq(ms_host_list_guests(W.host, NULL, 0), 0);
}
END_TEST

/* ---- tests: connection life ------------------------------------------------ */

START_TEST(guest_reconnects)
{
	uint64_t id;

	id = start_pair(0, "vm-phoenix", 5000);
	ck_assert_uint_eq(id, 1);

	/* The host goes away (saying Goodbye). */
	ms_host_free(W.host);
	W.host = NULL;
	WAIT_GE(W.g_disconnected, 1, 3000);
	ck_assert_msg(contains(W.g_disc_reason, "Goodbye") &&
		      contains(W.g_disc_reason, "host shutting down"),
		      "reason '%s'", W.g_disc_reason);
	ck_assert(!ms_guest_is_connected(W.guest));
	/* Failed attempts while nobody listens are not events. */
	pump_for(400);
	ck_assert_uint_eq(W.g_disconnected, 1);
	ck_assert_uint_eq(W.g_connected, 1);
	{
		/* Reconnect backoff is bounded by reconnect_max_ms (+25%). */
		int64_t t = ms_guest_get_timeout_us(W.guest);

		ck_assert_int_ge(t, 0);
		ck_assert_int_le(t, 250000);
	}

	/* A new host on the same path. */
	start_host(0);
	WAIT_GE(W.g_connected, 2, 3000);
	WAIT_GE(W.h_ready, 1, 3000);
	ck_assert_str_eq(W.last_ready_name, "vm-phoenix");
	ck_assert(ms_guest_is_connected(W.guest));
	id = W.last_ready_id;
	WAIT_GE(W.seen[id].reports, 1, 3000);
	ck_assert_uint_eq(W.g_disconnected, 1);
}
END_TEST

START_TEST(host_disconnect)
{
	struct ms_guest_info info;
	uint64_t id, id2;

	id = start_pair(0, "vm-kicked", 5000);
	ck_assert_int_eq(ms_host_disconnect(W.host, id, "maintenance"), 0);
	/* GUEST_GONE at once, err 0: a clean goodbye. */
	ck_assert_uint_eq(W.h_gone, 1);
	ck_assert(W.seen[id].gone);
	ck_assert_int_eq(W.seen[id].gone_err, 0);
	ck_assert_msg(contains(W.seen[id].gone_reason, "maintenance"), "reason '%s'",
		      W.seen[id].gone_reason);
	ck_assert_int_eq(ms_host_disconnect(W.host, id, "again"), -ENOENT);
	ck_assert_int_eq(ms_host_disconnect(W.host, 4242, NULL), -ENOENT);
	ck_assert_int_eq(ms_host_guest_info(W.host, id, &info), -ENOENT);
	ck_assert_uint_eq(ms_host_list_guests(W.host, NULL, 0), 0);

	WAIT_GE(W.g_disconnected, 1, 3000);
	ck_assert_msg(contains(W.g_disc_reason, "Goodbye: maintenance"), "reason '%s'",
		      W.g_disc_reason);
	ck_assert_int_eq(W.g_disc_err, 0);

	/* The guest comes back as a new guest id. */
	WAIT_GE(W.h_ready, 2, 3000);
	id2 = W.last_ready_id;
	ck_assert_uint_ne(id2, id);
	ck_assert_uint_eq(ms_host_find_guest(W.host, "vm-kicked"), id2);
	ck_assert_uint_eq(ms_host_list_guests(W.host, NULL, 0), 1);
	WAIT_GE(W.g_connected, 2, 3000);

	/* The guest's own Goodbye. */
	ms_guest_free(W.guest);
	W.guest = NULL;
	WAIT_GE(W.h_gone, 2, 3000);
	ck_assert_int_eq(W.seen[id2].gone_err, 0);
	ck_assert_msg(contains(W.seen[id2].gone_reason, "guest agent stopping"), "reason '%s'",
		      W.seen[id2].gone_reason);
	ck_assert_uint_eq(ms_host_list_guests(W.host, NULL, 0), 0);
}
END_TEST

/* The guest starts before any host exists. */
START_TEST(guest_before_host)
{
	start_guest("vm-early", 5000);
	pump_for(300);
	ck_assert_uint_eq(W.g_connected, 0);
	ck_assert_uint_eq(W.g_disconnected, 0);
	ck_assert(!ms_guest_is_connected(W.guest));
	start_host(0);
	WAIT_GE(W.g_connected, 1, 3000);
	WAIT_GE(W.h_ready, 1, 3000);
	ck_assert_str_eq(W.last_ready_name, "vm-early");
}
END_TEST

/* ---- tests: hostile peers -------------------------------------------------- */

/* Honest guest reporting every 200 ms; its id. */
static uint64_t hostile_setup(uint32_t hello_timeout_ms)
{
	uint64_t id;

	start_host_opts(200, NULL, 0, hello_timeout_ms);
	start_guest("honest", 5000);
	WAIT_GE(W.h_ready, 1, 3000);
	id = W.last_ready_id;
	WAIT_GE(W.seen[id].reports, 1, 3000);
	return id;
}

START_TEST(hostile_garbage)
{
	static const uint8_t junk[] = { 0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const char text[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct tu_raw *a = raw_new();
	struct tu_raw *b = raw_new();
	struct tu_raw *c = raw_new();
	uint64_t honest, evil;

	honest = hostile_setup(0);

	/* A well-sized frame that is not protobuf. */
	raw_open(a);
	tu_raw_send(a, junk, sizeof(junk));
	raw_wait_closed(a, 2000);
	tu_raw_close(a);
	ck_assert_msg(contains(W.hlog.all, "not a valid protobuf"), "log: %s", W.hlog.all);

	/* Text: "GET " read as a length is ~1.2 GB. */
	raw_open(b);
	tu_raw_send(b, text, sizeof(text) - 1);
	raw_wait_closed(b, 2000);
	tu_raw_close(b);

	/* The same garbage from a guest that completed Hello. */
	evil = raw_ready(c, "evil-garbage");
	tu_raw_send(c, junk, sizeof(junk));
	raw_wait_closed(c, 2000);
	tu_raw_close(c);
	ck_assert(W.seen[evil].gone);
	ck_assert_int_eq(W.seen[evil].gone_err, -EPROTO);
	ck_assert_uint_eq(ms_host_find_guest(W.host, "evil-garbage"), 0);

	ck_assert_uint_eq(W.h_gone, 1);   /* only the one that was ready */
	honest_keeps_going(honest);
	ck_assert_uint_eq(ms_host_list_guests(W.host, NULL, 0), 1);
}
END_TEST

START_TEST(hostile_oversized)
{
	static const uint8_t big[] = { 0x00, 0x01, 0x00, 0x01, 1, 2, 3, 4 };   /* 65537 */
	static const uint8_t limit[] = { 0x00, 0x00, 0xff, 0xfc };             /* 65532 */
	static const uint8_t part[] = { 0x00, 0x00, 0x00, 0x64, 0x08, 0x01 };  /* 100 */
	struct tu_raw *a = raw_new();
	struct tu_raw *b = raw_new();
	struct tu_raw *c = raw_new();
	struct tu_raw *d = raw_new();
	uint64_t honest, evil, cut;

	honest = hostile_setup(0);

	/* Before Hello. */
	raw_open(a);
	tu_raw_send(a, big, sizeof(big));
	raw_wait_closed(a, 2000);
	tu_raw_close(a);
	ck_assert_msg(contains(W.hlog.all, "larger than the 65536-byte limit"), "log: %s",
		      W.hlog.all);

	/* After Hello: GUEST_GONE with -EMSGSIZE. */
	evil = raw_ready(b, "evil-big");
	tu_raw_send(b, big, 4);
	raw_wait_closed(b, 2000);
	tu_raw_close(b);
	ck_assert(W.seen[evil].gone);
	ck_assert_int_eq(W.seen[evil].gone_err, -EMSGSIZE);

	/* Exactly at the limit (4 + 65532 = 64 KiB) is allowed: the host waits
	 * for the rest. */
	raw_open(c);
	tu_raw_send(c, limit, sizeof(limit));
	pump_for(200);
	tu_raw_drain(c);
	ck_assert(!c->closed);
	tu_raw_close(c);

	/* A ready guest that hangs up inside a frame. */
	cut = raw_ready(d, "evil-cut");
	tu_raw_send(d, part, sizeof(part));
	pump_for(50);
	ck_assert(!W.seen[cut].gone);
	tu_raw_close(d);
	WAIT_GE(W.h_gone, 2, 2000);
	ck_assert_int_eq(W.seen[cut].gone_err, -EPROTO);
	ck_assert_msg(contains(W.seen[cut].gone_reason, "inside a frame"), "reason '%s'",
		      W.seen[cut].gone_reason);

	honest_keeps_going(honest);
}
END_TEST

START_TEST(hostile_report_before_hello)
{
	struct ms_msg m = { .type = MS_MSG_REPORT };
	/* Envelope { version: 1, seq: 1, field 99 (a newer body): {} } */
	static const uint8_t unknown[] = {
		0x00, 0x00, 0x00, 0x07,
		0x08, 0x01,             /* version = 1 */
		0x10, 0x01,             /* seq = 1 */
		0x9a, 0x06, 0x00,       /* field 99, length-delimited, empty */
	};
	struct tu_raw *a = raw_new();
	struct tu_raw *b = raw_new();
	uint64_t honest;

	honest = hostile_setup(0);

	/* A perfectly valid Report, but before Hello. */
	ck_assert_int_eq(ms_guest_build_report(W.gctx, NULL, &m.u.report), 0);
	raw_open(a);
	tu_raw_send_msg(a, &m);
	ms_report_clear(&m.u.report);
	raw_wait_closed(a, 2000);
	tu_raw_close(a);
	ck_assert_msg(contains(W.hlog.all, "expected Hello, got Report"), "log: %s", W.hlog.all);

	/* An unknown message type before Hello is not a Hello either. */
	raw_open(b);
	tu_raw_send(b, unknown, sizeof(unknown));
	raw_wait_closed(b, 2000);
	tu_raw_close(b);

	ck_assert_uint_eq(W.h_ready, 1);
	ck_assert_uint_eq(W.h_gone, 0);
	honest_keeps_going(honest);
}
END_TEST

START_TEST(hostile_second_hello)
{
	struct tu_raw *a = raw_new();
	struct tu_raw *b = raw_new();
	uint64_t honest, evil, evil2;

	honest = hostile_setup(0);

	evil = raw_ready(a, "evil-twice");
	ck_assert_uint_eq(ms_host_find_guest(W.host, "evil-twice"), evil);
	ck_assert_uint_eq(ms_host_list_guests(W.host, NULL, 0), 2);
	tu_raw_send_hello(a, "evil-twice");
	raw_wait_closed(a, 2000);
	tu_raw_close(a);
	ck_assert(W.seen[evil].gone);
	ck_assert_int_eq(W.seen[evil].gone_err, -EPROTO);
	ck_assert_msg(contains(W.seen[evil].gone_reason, "second Hello"), "reason '%s'",
		      W.seen[evil].gone_reason);
	ck_assert_uint_eq(ms_host_find_guest(W.host, "evil-twice"), 0);

	/* A ReclaimResult nobody asked for. */
	evil2 = raw_ready(b, "evil-result");
	{
		struct ms_msg m = { .type = MS_MSG_RECLAIM_RESULT };

		m.u.reclaim_result.id = 77;
		tu_raw_send_msg(b, &m);
	}
	raw_wait_closed(b, 2000);
	tu_raw_close(b);
	ck_assert(W.seen[evil2].gone);
	ck_assert_int_eq(W.seen[evil2].gone_err, -EPROTO);
	ck_assert_uint_eq(W.h_replies, 0);

	ck_assert_uint_eq(W.h_gone, 2);
	honest_keeps_going(honest);
	ck_assert_uint_eq(ms_host_list_guests(W.host, NULL, 0), 1);
}
END_TEST

struct slowloris {
	struct tu_raw *quiet;        /* sends nothing */
	struct tu_raw *drip;         /* one byte of a Hello every 50 ms */
	uint8_t *hello;
	size_t hello_len, sent;
	uint64_t next_drip_us;
	uint64_t quiet_closed_us, drip_closed_us;
};

static bool slowloris_cond(void *arg)
{
	struct slowloris *s = arg;
	uint64_t now = now_us();

	/* Drain first: a drip to a connection the host has just closed would
	 * fail (EPIPE). */
	tu_raw_drain(s->quiet);
	tu_raw_drain(s->drip);
	if (!s->drip->closed && now >= s->next_drip_us && s->sent < s->hello_len) {
		tu_raw_send(s->drip, s->hello + s->sent, 1);
		s->sent++;
		s->next_drip_us = now + 50000;
	}
	if (s->quiet->closed && !s->quiet_closed_us)
		s->quiet_closed_us = now;
	if (s->drip->closed && !s->drip_closed_us)
		s->drip_closed_us = now;
	return s->quiet->closed && s->drip->closed;
}

START_TEST(hostile_slowloris)
{
	struct ms_msg m = { .type = MS_MSG_HELLO };
	struct slowloris s = { 0 };
	struct tu_raw *a = raw_new();
	struct tu_raw *b = raw_new();
	uint64_t honest, t0;

	honest = hostile_setup(300);
	/* The honest guest said Hello at once: the timeout is not for it. */
	m.u.hello.proto_min = m.u.hello.proto_max = 1;
	snprintf(m.u.hello.guest_name, sizeof(m.u.hello.guest_name), "%s",
		 "a-rather-long-guest-name-that-takes-a-while-to-drip");
	m.version = 1;
	m.seq = 1;
	ck_assert_int_eq(ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &s.hello, &s.hello_len), 0);
	ck_assert_uint_gt(s.hello_len, 20);   /* more than 300 ms of dripping */

	raw_open(a);
	raw_open(b);
	s.quiet = a;
	s.drip = b;
	t0 = now_us();
	/* The host now has a deadline to keep. */
	pump_for(20);
	{
		int64_t t = ms_host_get_timeout_us(W.host);

		ck_assert_int_ge(t, 0);
		ck_assert_int_le(t, 300000);
	}
	ck_assert_msg(pump_until(3000, slowloris_cond, &s), "slow peers not dropped");
	free(s.hello);
	ck_assert_uint_lt(s.sent, s.hello_len);
	ck_assert_uint_ge(s.quiet_closed_us - t0, 280000);
	ck_assert_uint_ge(s.drip_closed_us - t0, 280000);
	ck_assert_uint_lt(s.quiet_closed_us - t0, 1500000);
	ck_assert_uint_lt(s.drip_closed_us - t0, 1500000);
	tu_raw_close(a);
	tu_raw_close(b);
	ck_assert_msg(contains(W.hlog.all, "no Hello within 300 ms"), "log: %s", W.hlog.all);
	ck_assert_uint_eq(W.h_ready, 1);
	ck_assert_uint_eq(W.h_gone, 0);
	/* Only the honest guest's keepalive (15 s) is left to wait for. */
	ck_assert_int_gt(ms_host_get_timeout_us(W.host), 10000000);
	honest_keeps_going(honest);
}
END_TEST

START_TEST(unknown_message_type)
{
	/* Envelope { version: 1, seq: 2, field 99 (a newer body): { 1: 1 } } */
	static const uint8_t newer[] = {
		0x00, 0x00, 0x00, 0x09,
		0x08, 0x01,             /* version = 1 */
		0x10, 0x02,             /* seq = 2 */
		0x9a, 0x06, 0x02,       /* field 99, wire type 2, 2 bytes */
		0x08, 0x01,             /*   { field 1 = 1 } */
	};
	/* Envelope { version: 1, seq: 3 } with no body at all. */
	static const uint8_t empty[] = { 0x00, 0x00, 0x00, 0x04, 0x08, 0x01, 0x10, 0x03 };
	struct tu_raw *a = raw_new();
	uint64_t honest, id;

	honest = hostile_setup(0);
	id = raw_ready(a, "newer-guest");
	a->seq = 1;

	tu_raw_send(a, newer, sizeof(newer));
	a->seq++;
	ck_assert_int_eq(raw_recv(a, 2000), MS_MSG_ERROR);
	ck_assert_uint_eq(a->msg.in_reply_to, 2);
	ck_assert_int_eq(a->msg.u.error.code, EPROTONOSUPPORT);
	ck_assert_msg(contains(a->msg.u.error.message, "unknown"), "'%s'", a->msg.u.error.message);

	tu_raw_send(a, empty, sizeof(empty));
	a->seq++;
	ck_assert_int_eq(raw_recv(a, 2000), MS_MSG_ERROR);
	ck_assert_uint_eq(a->msg.in_reply_to, 3);

	/* Still connected: Ping gets Pong. */
	{
		struct ms_msg m = { .type = MS_MSG_PING };

		m.u.nonce = 0x1234567890ull;
		tu_raw_send_msg(a, &m);
		ck_assert_uint_eq(a->seq, 4);
	}
	ck_assert_int_eq(raw_recv(a, 2000), MS_MSG_PONG);
	ck_assert_uint_eq(a->msg.u.nonce, 0x1234567890ull);
	ck_assert_uint_eq(a->msg.in_reply_to, 4);
	ck_assert(!W.seen[id].gone);
	ck_assert_uint_eq(ms_host_find_guest(W.host, "newer-guest"), id);

	/* The peer's own Error is an event, not a disconnect. */
	{
		struct ms_msg m = { .type = MS_MSG_ERROR };

		m.u.error.code = EIO;
		snprintf(m.u.error.message, sizeof(m.u.error.message), "disk on fire");
		tu_raw_send_msg(a, &m);
	}
	WAIT_GE(W.h_errors, 1, 2000);
	ck_assert(!W.seen[id].gone);

	/* A Goodbye ends it cleanly. */
	{
		struct ms_msg m = { .type = MS_MSG_GOODBYE };

		snprintf(m.u.reason, sizeof(m.u.reason), "bye");
		tu_raw_send_msg(a, &m);
	}
	raw_wait_closed(a, 2000);
	tu_raw_close(a);
	ck_assert(W.seen[id].gone);
	ck_assert_int_eq(W.seen[id].gone_err, 0);
	ck_assert_msg(contains(W.seen[id].gone_reason, "bye"), "'%s'", W.seen[id].gone_reason);
	honest_keeps_going(honest);
}
END_TEST

/* The guest answers an unknown message from the host with Error, too. */
START_TEST(guest_unknown_from_host)
{
	static const uint8_t newer[] = {
		0x00, 0x00, 0x00, 0x09,
		0x08, 0x01, 0x10, 0x02, 0x9a, 0x06, 0x02, 0x08, 0x01,
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ms_frame_decoder dec;
	uint8_t buf[65536];
	struct ms_msg m;
	int lfd, cfd = -1;
	char why[160];
	bool got_error = false;

	/* A fake host: a plain listening socket. */
	memcpy(sa.sun_path, W.sock, sizeof(W.sock));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ms_frame_decoder_init(&dec, MS_FRAME_HARD_MAX_BYTES);

	start_guest("vm-old", 5000);
	for (int i = 0; i < 300 && !got_error; i++) {
		const uint8_t *payload;
		size_t len;
		ssize_t n;

		pump_for(10);
		if (cfd < 0) {
			cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			continue;
		}
		n = recv(cfd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			ck_assert_int_eq(ms_frame_decoder_push(&dec, buf, (size_t)n), 0);
		while (ms_frame_decoder_next(&dec, &payload, &len) == 1) {
			ck_assert_int_eq(ms_msg_decode(payload, len, &m, why, sizeof(why)), 0);
			if (m.type == MS_MSG_HELLO) {
				struct ms_msg w = { .type = MS_MSG_WELCOME, .version = 1, .seq = 1,
						    .in_reply_to = m.seq };
				uint8_t *frame;
				size_t flen;

				w.u.welcome.proto_version = 1;
				ck_assert_int_eq(ms_msg_encode(&w, 65536, &frame, &flen), 0);
				ck_assert_int_eq(send(cfd, frame, flen, MSG_NOSIGNAL), (ssize_t)flen);
				free(frame);
				ck_assert_int_eq(send(cfd, newer, sizeof(newer), MSG_NOSIGNAL),
						 (ssize_t)sizeof(newer));
			} else if (m.type == MS_MSG_ERROR) {
				ck_assert_int_eq(m.u.error.code, EPROTONOSUPPORT);
				ck_assert_uint_eq(m.in_reply_to, 2);
				got_error = true;
			}
			ms_msg_clear(&m);
		}
	}
	ck_assert(got_error);
	ck_assert(ms_guest_is_connected(W.guest));
	ck_assert_uint_eq(W.g_disconnected, 0);
	ms_frame_decoder_release(&dec);
	if (cfd >= 0)
		close(cfd);
	close(lfd);
}
END_TEST

/* A host that accepts but never says Welcome: the guest gives up after
 * welcome_timeout_ms and tries again, instead of waiting forever. */
START_TEST(guest_welcome_timeout)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	MS_OPTS(ms_guest_opts, o, .ctx = W.gctx, .connect = W.endpoint, .name = "vm-patient",
		.reconnect_min_ms = 50, .reconnect_max_ms = 50, .welcome_timeout_ms = 300,
		.event_fn = on_guest_event, .userdata = &W);
	int lfd, accepted = 0, fds[8];
	uint64_t start;

	memcpy(sa.sun_path, W.sock, sizeof(W.sock));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 8), 0);
	ck_assert_int_eq(ms_guest_new(&W.guest, &o), 0);
	start = now_us();
	while (now_us() - start < 1000000 && accepted < 8) {
		int fd;

		pump_for(10);
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0)
			fds[accepted++] = fd;
		/* While waiting for Welcome the guest has a deadline. */
		if (!ms_guest_is_connected(W.guest))
			ck_assert_int_ge(ms_guest_get_timeout_us(W.guest), 0);
	}
	/* ~1 s / (300 ms + 50 ms backoff): two or three attempts. */
	ck_assert_int_ge(accepted, 2);
	ck_assert_int_le(accepted, 4);
	ck_assert_uint_ge(W.g_disconnected, 1);
	ck_assert_str_eq(W.g_disc_reason, "no Welcome within 300 ms");
	ck_assert_int_eq(W.g_disc_err, -ETIMEDOUT);
	ck_assert_uint_eq(W.g_connected, 0);
	for (int i = 0; i < accepted; i++)
		close(fds[i]);
	close(lfd);
}
END_TEST

/* A guest that never answers a reclaim request: the host completes it with
 * -ETIMEDOUT after deadline_ms + reclaim_timeout_ms, drops the late answer
 * without dropping the guest, and takes the next request. */
START_TEST(reclaim_timeout)
{
	MS_OPTS(ms_host_opts, o, .ctx = W.hctx, .listen = W.endpoint, .reclaim_timeout_ms = 200,
		.event_fn = on_host_event, .userdata = &W);
	struct ms_reclaim_request req = { .kinds = MS_RECLAIM_FILE, .bytes = 8 * MIB,
					  .deadline_ms = 100 };
	struct ms_msg res = { .type = MS_MSG_RECLAIM_RESULT };
	struct tu_raw *r = raw_new();
	uint64_t id, rid, rid2, t0;
	int64_t t;

	reset_host_seen();
	ck_assert_int_eq(ms_host_new(&W.host, &o), 0);
	id = raw_ready(r, "vm-mute");
	t0 = now_us();
	ck_assert_int_eq(ms_host_reclaim(W.host, id, &req, &rid), 0);
	ck_assert_int_eq(raw_recv(r, 1000), MS_MSG_RECLAIM_REQUEST);
	ck_assert_uint_eq(r->msg.u.reclaim_request.id, rid);
	t = ms_host_get_timeout_us(W.host);
	ck_assert_int_gt(t, 0);
	ck_assert_int_le(t, 300000);
	WAIT_GE(W.h_replies, 1, 2000);
	ck_assert_uint_ge(now_us() - t0, 300000);
	ck_assert_uint_eq(W.last_reply.id, rid);
	ck_assert_int_eq(W.last_reply.result.status, -ETIMEDOUT);
	ck_assert_uint_eq(W.last_reply.result.requested_bytes, 8 * MIB);
	ck_assert_uint_eq(W.last_reply.result.freed_bytes, 0);
	ck_assert(contains(W.hlog.all, "no answer to reclaim request"));

	/* The late answer is dropped, the guest stays. */
	res.u.reclaim_result.id = rid;
	res.u.reclaim_result.result.status = 0;
	tu_raw_send_msg(r, &res);
	pump_for(100);
	ck_assert(!W.seen[id].gone);
	ck_assert_uint_eq(W.h_replies, 1);
	ck_assert(contains(W.hlog.all, "came after the host gave up"));

	/* The next request goes through and its answer is taken. */
	ck_assert_int_eq(ms_host_reclaim(W.host, id, &req, &rid2), 0);
	ck_assert_uint_gt(rid2, rid);
	ck_assert_int_eq(raw_recv(r, 1000), MS_MSG_RECLAIM_REQUEST);
	res.u.reclaim_result.id = rid2;
	tu_raw_send_msg(r, &res);
	WAIT_GE(W.h_replies, 2, 1000);
	ck_assert_int_eq(W.last_reply.result.status, 0);
	ck_assert_uint_eq(W.last_reply.id, rid2);

	/* 0 bytes of file: refused before anything is sent. */
	req.bytes = 0;
	ck_assert_int_eq(ms_host_reclaim(W.host, id, &req, &rid2), -EINVAL);
	req.kinds = MS_RECLAIM_SLAB | MS_RECLAIM_FILE;
	ck_assert_int_eq(ms_host_reclaim(W.host, id, &req, &rid2), -EINVAL);
}
END_TEST

/* No common protocol version: Error, then the connection is closed. */
START_TEST(hostile_version_mismatch)
{
	struct ms_msg m = { .type = MS_MSG_HELLO };
	struct tu_raw *a = raw_new();
	struct tu_raw *b = raw_new();
	uint64_t honest, id;

	honest = hostile_setup(0);
	m.u.hello.proto_min = MS_PROTO_VERSION_MAX + 1;
	m.u.hello.proto_max = MS_PROTO_VERSION_MAX + 5;
	snprintf(m.u.hello.guest_name, sizeof(m.u.hello.guest_name), "future");
	raw_open(a);
	tu_raw_send_msg(a, &m);
	ck_assert_int_eq(raw_recv(a, 2000), MS_MSG_ERROR);
	ck_assert_int_eq(a->msg.u.error.code, EPROTONOSUPPORT);
	ck_assert_uint_eq(a->msg.in_reply_to, 1);
	raw_wait_closed(a, 2000);
	tu_raw_close(a);
	ck_assert_uint_eq(W.h_ready, 1);

	/* An empty name gets one from the host. */
	id = raw_ready(b, "");
	{
		char want[32];

		snprintf(want, sizeof(want), "guest-%llu", (unsigned long long)id);
		ck_assert_str_eq(W.last_ready_name, want);
		ck_assert_uint_eq(ms_host_find_guest(W.host, want), id);
	}
	tu_raw_close(b);
	WAIT_GE(W.h_gone, 1, 2000);
	ck_assert_int_eq(W.seen[id].gone_err, 0);
	honest_keeps_going(honest);
}
END_TEST

/* A guest that floods requests and never reads the answers is dropped
 * once its output queue is full; the honest one is not held up. */
struct flood {
	struct tu_raw *r;
	uint64_t id;
	size_t frames;
};

static bool flood_cond(void *arg)
{
	/* Envelope { version: 1, field 99: {} }: answered by an Error each. */
	static const uint8_t unknown[] = { 0, 0, 0, 5, 0x08, 0x01, 0x9a, 0x06, 0x00 };
	struct flood *f = arg;
	uint8_t batch[sizeof(unknown) * 512];

	if (W.seen[f->id].gone)
		return true;
	for (size_t i = 0; i < 512; i++)
		memcpy(batch + i * sizeof(unknown), unknown, sizeof(unknown));
	for (int k = 0; k < 8; k++) {
		ssize_t n = send(f->r->fd, batch, sizeof(batch), MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			ck_assert_msg(errno == EAGAIN || errno == EPIPE || errno == ECONNRESET,
				      "flood send: %m");
			break;
		}
		/* A partial frame at the end is fine: more follows. */
		f->frames += (size_t)n / sizeof(unknown);
		if ((size_t)n < sizeof(batch))
			break;
	}
	return false;
}

START_TEST(hostile_does_not_read)
{
	struct flood f = { 0 };
	struct tu_raw *a = raw_new();
	uint64_t honest;

	honest = hostile_setup(0);
	f.id = raw_ready(a, "deaf");
	f.r = a;
	ck_assert_msg(pump_until(10000, flood_cond, &f), "deaf guest never dropped");
	ck_assert_int_eq(W.seen[f.id].gone_err, -ENOBUFS);
	ck_assert_msg(contains(W.seen[f.id].gone_reason, "does not read"), "'%s'",
		      W.seen[f.id].gone_reason);
	if (getenv("MS_TEST_VERBOSE"))
		fprintf(stderr, "deaf guest dropped after ~%zu frames\n", f.frames);
	tu_raw_close(a);
	honest_keeps_going(honest);
}
END_TEST

START_TEST(max_guests)
{
	MS_OPTS(ms_host_opts, o, .ctx = W.hctx, .listen = W.endpoint, .report_interval_ms = 200,
		.max_guests = 2, .event_fn = on_host_event, .userdata = &W);
	struct tu_raw *a = raw_new();
	struct tu_raw *b = raw_new();
	struct tu_raw *c = raw_new();
	struct ms_host_stats st;
	uint64_t honest;

	ck_assert_int_eq(ms_host_new(&W.host, &o), 0);
	start_guest("honest", 5000);
	WAIT_GE(W.h_ready, 1, 3000);
	honest = W.last_ready_id;
	raw_open(a);                      /* counts, even before Hello */
	pump_for(50);
	/* Full: the silent connection gives way to the new one. */
	raw_ready(b, "second");
	raw_wait_closed(a, 2000);
	tu_raw_close(a);
	ck_assert_msg(contains(W.hlog.all, "no Hello after"), "log: %s", W.hlog.all);
	ck_assert_int_eq(ms_host_get_stats(W.host, &st), 0);
	ck_assert_uint_eq(st.dropped[MS_DROP_HELLO_TIMEOUT], 1);
	ck_assert_uint_eq(st.refused_full, 0);
	/* Two ready guests and nobody waiting for Hello: refused. */
	raw_open(c);
	raw_wait_closed(c, 2000);
	tu_raw_close(c);
	ck_assert_msg(contains(W.hlog.all, "max_guests"), "log: %s", W.hlog.all);
	ck_assert_int_eq(ms_host_get_stats(W.host, &st), 0);
	ck_assert_uint_eq(st.refused_full, 1);
	tu_raw_drain(b);
	ck_assert(!b->closed);
	tu_raw_close(b);
	pump_for(50);
	/* Room again. */
	raw_ready(c, "third");
	tu_raw_close(c);
	honest_keeps_going(honest);
}
END_TEST

/* A peer that opens connections and never says Hello cannot lock honest
 * guests out: at most 64 wait for their Hello, the oldest gives way. */
START_TEST(silent_flood)
{
	struct tu_raw *r[70];
	struct tu_raw *late = raw_new();
	struct ms_host_stats st;
	uint64_t honest;
	size_t closed = 0;

	honest = hostile_setup(0);
	for (size_t i = 0; i < 70; i++) {
		r[i] = raw_new();
		raw_open(r[i]);
		pump_for(2);
	}
	pump_for(100);
	for (size_t i = 0; i < 70; i++) {
		tu_raw_drain(r[i]);
		closed += r[i]->closed;
		/* The first ones went, in order. */
		if (i < 70 - 64)
			ck_assert_msg(r[i]->closed, "connection %zu still open", i);
	}
	ck_assert_uint_eq(closed, 70 - 64);
	ck_assert_int_eq(ms_host_get_stats(W.host, &st), 0);
	ck_assert_uint_eq(st.dropped[MS_DROP_HELLO_TIMEOUT], 70 - 64);
	raw_ready(late, "late");
	tu_raw_close(late);
	for (size_t i = 0; i < 70; i++)
		tu_raw_close(r[i]);
	honest_keeps_going(honest);
}
END_TEST

/* ---- tests: transport ------------------------------------------------------ */

START_TEST(endpoint_parse)
{
	struct ms_endpoint ep;
	char buf[160];

	ck_assert_int_eq(ms_endpoint_parse("unix:/run/x.sock", &ep), 0);
	ck_assert_int_eq(ep.kind, MS_ENDPOINT_UNIX);
	ck_assert_str_eq(ep.path, "/run/x.sock");
	ms_endpoint_format(&ep, buf, sizeof(buf));
	ck_assert_str_eq(buf, "unix:/run/x.sock");
	ck_assert_int_eq(ms_endpoint_parse("unix:@abstract", &ep), 0);
	ck_assert_str_eq(ep.path, "@abstract");
	ck_assert_int_eq(ms_endpoint_parse("unix:./rel.sock", &ep), 0);

	/* Parsing only: no vsock socket is ever opened here. */
	ck_assert_int_eq(ms_endpoint_parse("vsock:2:5252", &ep), 0);
	ck_assert_int_eq(ep.kind, MS_ENDPOINT_VSOCK);
	ck_assert_uint_eq(ep.cid, 2);
	ck_assert_uint_eq(ep.port, 5252);
	ms_endpoint_format(&ep, buf, sizeof(buf));
	ck_assert_str_eq(buf, "vsock:2:5252");
	ck_assert_int_eq(ms_endpoint_parse("vsock:-1:1", &ep), 0);
	ck_assert_uint_eq(ep.cid, UINT32_MAX);
	ms_endpoint_format(&ep, buf, sizeof(buf));
	ck_assert_str_eq(buf, "vsock:-1:1");
	ck_assert_int_eq(ms_endpoint_parse("vsock:any:7", &ep), 0);
	ck_assert_uint_eq(ep.cid, UINT32_MAX);
	ck_assert_int_eq(ms_endpoint_parse("vsock:4294967294:4294967294", &ep), 0);
	ck_assert_uint_eq(ep.cid, 4294967294u);
	ck_assert_uint_eq(ep.port, 4294967294u);

	{
		static const char *const bad[] = {
			"", "unix:", "unix:rel.sock", "vsock:", "vsock:2", "vsock:2:",
			"vsock::5", "vsock:2:x", "vsock:x:5", "vsock:2:5:6", "vsock:2:-1",
			"vsock:2:4294967295", "vsock:4294967296:5", "vsock:+2:5", "vsock: 2:5",
			"tcp:1.2.3.4:5", "UNIX:/x", "vsock:2:5 ",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			ck_assert_msg(ms_endpoint_parse(bad[i], &ep) == -EINVAL, "'%s' accepted",
				      bad[i]);
		ck_assert_int_eq(ms_endpoint_parse(NULL, &ep), -EINVAL);
	}
	{
		/* sun_path holds 107 characters and the NUL. */
		char text[200] = "unix:/";

		memset(text + 6, 'a', 106);
		text[112] = '\0';
		ck_assert_int_eq(ms_endpoint_parse(text, &ep), 0);
		ck_assert_uint_eq(strlen(ep.path), 107);
		text[112] = 'a';
		text[113] = '\0';
		ck_assert_int_eq(ms_endpoint_parse(text, &ep), -EINVAL);
	}
}
END_TEST

/* A stale socket file is replaced; anything else at the path is kept. */
START_TEST(endpoint_stale_socket)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	memcpy(sa.sun_path, W.sock, sizeof(W.sock));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);                         /* a crashed host's leftover */
	ck_assert_int_eq(stat(W.sock, &st), 0);
	start_host(0);
	start_guest("vm-stale", 5000);
	WAIT_GE(W.h_ready, 1, 3000);
	ms_guest_free(W.guest);
	W.guest = NULL;
	ms_host_free(W.host);
	W.host = NULL;
	/* ms_host_free removes its socket file. */
	ck_assert_int_eq(stat(W.sock, &st), -1);

	/* A regular file is not ours to delete, and is reported as such. */
	fd = open(W.sock, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	{
		struct ms_host *h = NULL;
		MS_OPTS(ms_host_opts, o, .listen = W.endpoint);

		ck_assert_int_eq(ms_host_new(&h, &o), -EEXIST);
		ck_assert_ptr_null(h);
	}
	ck_assert_int_eq(stat(W.sock, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
}
END_TEST

static void on_alarm(int sig)
{
	(void)sig;
}

/* A live listener whose backlog is full (a hung host) is "in use": the
 * probe for a stale socket must not block on it. */
START_TEST(endpoint_busy_listener)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sigaction act = { .sa_handler = on_alarm }, old;
	struct ms_host *h = NULL;
	MS_OPTS(ms_host_opts, o, .listen = W.endpoint);
	int lfd, fds[4], nfds = 0;
	uint64_t t0;
	int r;

	memcpy(sa.sun_path, W.sock, sizeof(W.sock));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 0), 0);
	for (int i = 0; i < 4; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		ck_assert_int_ge(fd, 0);
		fds[nfds++] = fd;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			ck_assert_int_eq(errno, EAGAIN);
			break;
		}
	}
	/* Without a fix this blocked forever; the alarm breaks it after 2 s. */
	sigemptyset(&act.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &act, &old), 0);
	alarm(2);
	t0 = now_us();
	r = ms_host_new(&h, &o);
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	ck_assert_int_eq(r, -EADDRINUSE);
	ck_assert_ptr_null(h);
	ck_assert_uint_lt(now_us() - t0, 1000000);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	close(lfd);
}
END_TEST

START_TEST(endpoint_abstract)
{
	char ep[96];

	snprintf(ep, sizeof(ep), "unix:@memshare-test-%d-%llu", (int)getpid(),
		 (unsigned long long)now_us());
	snprintf(W.endpoint, sizeof(W.endpoint), "%s", ep);
	start_host(0);
	start_guest("vm-abstract", 5000);
	WAIT_GE(W.h_ready, 1, 3000);
	WAIT_GE(W.g_connected, 1, 3000);
	ck_assert_str_eq(W.last_ready_name, "vm-abstract");
}
END_TEST

/*
 * Capability bits from the machine: the 6.1 capture has PSI and MGLRU but
 * no memory.reclaim nor drop_caches; a made-up tree adds memory.reclaim on
 * 6.12 (swappiness=, Linux 6.10+) and a virtio balloon with free page
 * reporting negotiated (feature bit 5), then takes them away one by one.
 */
START_TEST(guest_capabilities)
{
	static const char fpr_on[] = "0000010000000000000000000000000010100000000000000000000000000000\n";
	static const char fpr_off[] = "1110000000000000000000000000000010100000000000000000000000000000\n";
	struct ms_ctx *ctx = tu_new_ctx(GUEST_FIXTURE);
	char root[300];

	ck_assert_uint_eq(ms_guest_capabilities(ctx), MS_CAP_PSI | MS_CAP_PSI_TRIGGER |
			  MS_CAP_MGLRU | MS_CAP_CLASSIC_LRU);
	ms_ctx_free(ctx);

	snprintf(root, sizeof(root), "%s/caps", W.dir);
	tu_mkdirs(W.dir, "caps");
	tu_copy_fixture(root, "proc/pressure/memory", "linux-6.1-guest/proc/pressure/memory");
	tu_put_str(root, "sys/fs/cgroup/memory.reclaim", "");
	tu_put_str(root, "proc/sys/vm/drop_caches", "");
	tu_put_str(root, "proc/sys/kernel/osrelease", "6.12.9+deb13-amd64\n");
	/* A virtio-net device with bit 5 set does not count: only a balloon. */
	tu_put_str(root, "sys/bus/virtio/devices/virtio0/device", "0x0001\n");
	tu_put_str(root, "sys/bus/virtio/devices/virtio0/features", fpr_on);
	tu_put_str(root, "sys/bus/virtio/devices/virtio3/device", "0x0005\n");
	tu_put_str(root, "sys/bus/virtio/devices/virtio3/features", fpr_on);
	ctx = tu_new_ctx(root);
	ck_assert_uint_eq(ms_guest_capabilities(ctx),
			  MS_CAP_PSI | MS_CAP_PSI_TRIGGER | MS_CAP_CLASSIC_LRU |
			  MS_CAP_MEMCG_RECLAIM | MS_CAP_MEMCG_RECLAIM_SWAPPINESS |
			  MS_CAP_SLAB_RECLAIM | MS_CAP_FREE_PAGE_REPORTING);
	tu_put_str(root, "sys/bus/virtio/devices/virtio3/features", fpr_off);
	tu_put_str(root, "proc/sys/kernel/osrelease", "6.9.12\n");
	ck_assert_uint_eq(ms_guest_capabilities(ctx),
			  MS_CAP_PSI | MS_CAP_PSI_TRIGGER | MS_CAP_CLASSIC_LRU |
			  MS_CAP_MEMCG_RECLAIM | MS_CAP_SLAB_RECLAIM);
	tu_put_str(root, "proc/sys/kernel/osrelease", "7.0.1\n");
	tu_put_str(root, "sys/bus/virtio/devices/virtio3/features", "00001");   /* short */
	ck_assert_uint_eq(ms_guest_capabilities(ctx) &
			  (MS_CAP_MEMCG_RECLAIM_SWAPPINESS | MS_CAP_FREE_PAGE_REPORTING),
			  MS_CAP_MEMCG_RECLAIM_SWAPPINESS);
	tu_put_str(root, "proc/sys/kernel/osrelease", "garbage\n");
	ck_assert_uint_eq(ms_guest_capabilities(ctx) & MS_CAP_MEMCG_RECLAIM_SWAPPINESS, 0);
	ms_ctx_free(ctx);
}
END_TEST

static Suite *session_suite(void)
{
	Suite *s = suite_create("session");
	TCase *tc;

	tc = tcase_create("handshake");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, hello_ready);
	tcase_add_test(tc, report_content);
	tcase_add_test(tc, report_interval_override);
	tcase_add_test(tc, bin_edges_from_host);
	tcase_add_test(tc, host_bad_options);
	tcase_add_test(tc, guest_capabilities);
	suite_add_tcase(s, tc);

	tc = tcase_create("reclaim");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, reclaim_round_trip);
	tcase_add_test(tc, reclaim_guest_gone);
	suite_add_tcase(s, tc);

	tc = tcase_create("life");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, guest_reconnects);
	tcase_add_test(tc, host_disconnect);
	tcase_add_test(tc, guest_before_host);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, hostile_garbage);
	tcase_add_test(tc, hostile_oversized);
	tcase_add_test(tc, hostile_report_before_hello);
	tcase_add_test(tc, hostile_second_hello);
	tcase_add_test(tc, hostile_slowloris);
	tcase_add_test(tc, unknown_message_type);
	tcase_add_test(tc, guest_unknown_from_host);
	tcase_add_test(tc, hostile_version_mismatch);
	tcase_add_test(tc, guest_welcome_timeout);
	tcase_add_test(tc, reclaim_timeout);
	tcase_add_test(tc, hostile_does_not_read);
	tcase_add_test(tc, max_guests);
	tcase_add_test(tc, silent_flood);
	suite_add_tcase(s, tc);

	tc = tcase_create("transport");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, endpoint_parse);
	tcase_add_test(tc, endpoint_stale_socket);
	tcase_add_test(tc, endpoint_busy_listener);
	tcase_add_test(tc, endpoint_abstract);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(session_suite());
}
