/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Transports and host hardening on real sockets, all in one thread: a host
 * and a guest driven through get_fd/get_timeout_us/process by a poll loop,
 * plus "actors" the loop steps between rounds:
 *
 *   a fake Firecracker VMM  a unix socket that takes "CONNECT <port>\n",
 *                           answers (or not) and bridges to a guest agent
 *                           listening on a unix socket (hybrid vsock);
 *   a fake QEMU             a pty standing in for the guest's virtio-serial
 *                           port, bridged to a unix socket (the chardev) the
 *                           host connects to; bytes the guest writes while
 *                           no host is connected stay in the pty;
 *   raw peers               testraw.h: hostile or minimal guests, and fake
 *                           hosts for the guest's side.
 *
 * AF_VSOCK is never opened here: only unix sockets and a pty.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
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
/* The loop's longest sleep; with actors, their I/O is polled this often. */
#define PUMP_STEP_MS 10
#define ACTOR_STEP_MS 2
/* Slack on timings for slow runs (valgrind). */
#define SLACK_MS 150

/* ---- the world ------------------------------------------------------------- */

typedef void (*actor_fn)(void *arg);

struct world {
	char dir[64];
	struct ms_ctx *hctx;
	struct ms_ctx *gctx;
	struct ms_host *host;
	struct ms_guest *guest;
	struct tu_log hlog;
	struct tu_log glog;

	/* Host events (reset with each host). */
	unsigned h_ready, h_reports, h_replies, h_errors, h_gone;
	uint64_t last_ready_id, last_report_id, last_gone_id;
	char last_ready_name[MS_NAME_MAX];
	int last_gone_err;
	char last_gone_reason[160];
	struct ms_reclaim_reply last_reply;
	struct ms_error last_error;

	/* Guest events (reset with each guest). */
	unsigned g_connected, g_disconnected, g_reports_sent, g_reclaims;
	char g_disc_reason[320];
	int g_disc_err;
	struct ms_reclaim_reply g_last_reply;

	/* Stepped by the loop. */
	actor_fn actors[4];
	void *actor_args[4];
	unsigned nr_actors;

	/* Closed by teardown. */
	struct tu_raw *raws[8];
	unsigned nr_raws;
	int fds[16];
	unsigned nr_fds;
};

static struct world W;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

static void on_host_event(struct ms_host *h, const struct ms_host_event *ev, void *userdata)
{
	struct world *w = userdata;

	ck_assert_ptr_eq(h, w->host);
	ck_assert_ptr_nonnull(ev->hello);
	switch (ev->type) {
	case MS_HOST_EVENT_GUEST_READY:
		w->h_ready++;
		w->last_ready_id = ev->guest_id;
		snprintf(w->last_ready_name, sizeof(w->last_ready_name), "%s",
			 ev->hello->guest_name);
		break;
	case MS_HOST_EVENT_REPORT:
		ck_assert_ptr_nonnull(ev->report);
		w->h_reports++;
		w->last_report_id = ev->guest_id;
		break;
	case MS_HOST_EVENT_RECLAIM_REPLY:
		w->h_replies++;
		w->last_reply = *ev->reply;
		break;
	case MS_HOST_EVENT_GUEST_ERROR:
		w->h_errors++;
		w->last_error = *ev->error;
		break;
	case MS_HOST_EVENT_GUEST_GONE:
		w->h_gone++;
		w->last_gone_id = ev->guest_id;
		w->last_gone_err = ev->err;
		snprintf(w->last_gone_reason, sizeof(w->last_gone_reason), "%s", ev->reason);
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
		w->g_connected++;
		break;
	case MS_GUEST_EVENT_REPORT_SENT:
		w->g_reports_sent++;
		break;
	case MS_GUEST_EVENT_RECLAIM_DONE:
		w->g_reclaims++;
		w->g_last_reply = *ev->reply;
		break;
	case MS_GUEST_EVENT_HOST_ERROR:
		break;
	case MS_GUEST_EVENT_DISCONNECTED:
		w->g_disconnected++;
		w->g_disc_err = ev->err;
		snprintf(w->g_disc_reason, sizeof(w->g_disc_reason), "%s", ev->reason);
		break;
	default:
		ck_abort_msg("unknown guest event %d", ev->type);
	}
}

/* ---- the loop ------------------------------------------------------------- */

typedef bool (*cond_fn)(void *arg);

static void step_actors(void)
{
	for (unsigned i = 0; i < W.nr_actors; i++)
		W.actors[i](W.actor_args[i]);
}

static void step_actors_cb(void *unused)
{
	(void)unused;
	step_actors();
}

/*
 * Run the host, the guest (whichever exist) and the actors until @cond
 * holds or @timeout_ms passed.  Returns whether @cond held; with no @cond,
 * runs for the whole time and returns true.
 */
static bool pump_until(unsigned timeout_ms, cond_fn cond, void *arg)
{
	uint64_t step = (W.nr_actors ? ACTOR_STEP_MS : PUMP_STEP_MS) * 1000u;

	return tu_pump_until(W.host, W.guest, timeout_ms, step, step_actors_cb, NULL, cond, arg);
}

static void pump_for(unsigned ms)
{
	pump_until(ms, NULL, NULL);
}

struct ge {
	const void *v;
	bool wide;
	uint64_t want;
};

static bool cond_ge(void *arg)
{
	const struct ge *g = arg;
	uint64_t v = g->wide ? *(const uint64_t *)g->v : *(const unsigned *)g->v;

	return v >= g->want;
}

#define WAIT_GE(var, want, ms)                                                           \
	do {                                                                             \
		struct ge ge_ = { &(var), sizeof(var) == 8, (want) };                    \
		ck_assert_msg(pump_until((ms), cond_ge, &ge_),                            \
			      "timeout: " #var " >= %llu never held (is %llu)",           \
			      (unsigned long long)(want), (unsigned long long)(var));     \
	} while (0)

static bool cond_log(void *arg)
{
	const char **what = arg;

	return contains(what[0], what[1]);
}

/* Pump until the log text @all contains @needle. */
static void wait_log(const char *all, const char *needle, unsigned ms)
{
	const char *what[2] = { all, needle };

	ck_assert_msg(pump_until(ms, cond_log, what), "never logged '%s'; log:\n%s", needle, all);
}

static void add_actor(actor_fn fn, void *arg)
{
	ck_assert_uint_lt(W.nr_actors, sizeof(W.actors) / sizeof(W.actors[0]));
	W.actors[W.nr_actors] = fn;
	W.actor_args[W.nr_actors++] = arg;
}

/* An fd teardown closes (unless the test set its slot to -1 first). */
static int *keep_fd(int fd)
{
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(W.nr_fds, sizeof(W.fds) / sizeof(W.fds[0]));
	W.fds[W.nr_fds] = fd;
	return &W.fds[W.nr_fds++];
}

/* ---- setup ----------------------------------------------------------------- */

static void setup(void)
{
	memset(&W, 0, sizeof(W));
	W.hlog.name = "host";
	W.glog.name = "guest";
	ck_assert_uint_lt((size_t)snprintf(W.dir, sizeof(W.dir), "%s", tu_tmp_root("transport")),
			  sizeof(W.dir));
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
	for (unsigned i = 0; i < W.nr_fds; i++)
		if (W.fds[i] >= 0)
			close(W.fds[i]);
	ms_ctx_free(W.gctx);
	ms_ctx_free(W.hctx);
	tu_tmp_cleanup();
	memset(&W, 0, sizeof(W));
}

/* W.dir/@name into @buf. */
static const char *path_in(char *buf, size_t size, const char *name)
{
	ck_assert_uint_lt((size_t)snprintf(buf, size, "%s/%s", W.dir, name), size);
	return buf;
}

static void reset_host_events(void)
{
	W.h_ready = W.h_reports = W.h_replies = W.h_errors = W.h_gone = 0;
	W.last_ready_id = W.last_report_id = W.last_gone_id = 0;
	W.last_ready_name[0] = W.last_gone_reason[0] = '\0';
}

static void reset_guest_events(void)
{
	W.g_connected = W.g_disconnected = W.g_reports_sent = W.g_reclaims = 0;
	W.g_disc_reason[0] = '\0';
	W.g_disc_err = 0;
}

/* The host with @o (ctx, event_fn and userdata filled in here). */
static void start_host_with(struct ms_host_opts *o)
{
	ck_assert_ptr_null(W.host);
	o->ctx = W.hctx;
	o->event_fn = on_host_event;
	o->userdata = &W;
	reset_host_events();
	ck_assert_int_eq(ms_host_new(&W.host, o), 0);
}

/* A host without listeners (for ms_host_connect). */
static void start_host_plain(void)
{
	MS_OPTS(ms_host_opts, o);

	start_host_with(&o);
}

/* A host listening on unix:W.dir/h.sock; its socket path in @sock. */
static void start_host_unix(struct ms_host_opts *o, char *sock, size_t size)
{
	char ep[160];

	path_in(sock, size, "h.sock");
	snprintf(ep, sizeof(ep), "unix:%s", sock);
	o->listen = ep;
	start_host_with(o);
	o->listen = NULL;
}

static void start_guest_with(struct ms_guest_opts *o)
{
	ck_assert_ptr_null(W.guest);
	if (!o->ctx)
		o->ctx = W.gctx;
	o->event_fn = on_guest_event;
	o->userdata = &W;
	if (!o->reconnect_min_ms)
		o->reconnect_min_ms = 50;
	if (!o->reconnect_max_ms)
		o->reconnect_max_ms = 200;
	if (!o->report_interval_ms)
		o->report_interval_ms = 5000;
	reset_guest_events();
	ck_assert_int_eq(ms_guest_new(&W.guest, o), 0);
}

static void free_guest(void)
{
	ms_guest_free(W.guest);
	W.guest = NULL;
}

static void free_host(void)
{
	ms_host_free(W.host);
	W.host = NULL;
}

static struct ms_host_stats host_stats(void)
{
	struct ms_host_stats st;

	ck_assert_int_eq(ms_host_get_stats(W.host, &st), 0);
	return st;
}

static struct ms_guest_info guest_info(uint64_t id)
{
	struct ms_guest_info info;

	ck_assert_int_eq(ms_host_guest_info(W.host, id, &info), 0);
	return info;
}

struct dropped_want {
	enum ms_host_drop why;
	uint64_t want;
};

static bool cond_dropped(void *arg)
{
	const struct dropped_want *d = arg;

	return W.host && host_stats().dropped[d->why] >= d->want;
}

struct info_want {
	uint64_t id;
	size_t off;               /* of a uint64_t in struct ms_guest_info */
	uint64_t want;
};

static bool cond_info(void *arg)
{
	const struct info_want *w = arg;
	struct ms_guest_info info;

	return ms_host_guest_info(W.host, w->id, &info) == 0 &&
	       *(const uint64_t *)((const char *)&info + w->off) >= w->want;
}

/* Pump until guest @id's ms_guest_info @field reaches @want. */
#define WAIT_INFO(id, field, want, ms)                                                  \
	do {                                                                            \
		struct info_want iw_ = { (id), offsetof(struct ms_guest_info, field), (want) }; \
		ck_assert_msg(pump_until((ms), cond_info, &iw_),                         \
			      "timeout: guest %llu " #field " >= %llu never held",          \
			      (unsigned long long)(id), (unsigned long long)(want));      \
	} while (0)

/* Pump until the host counted @want drops for @why. */
static void wait_dropped(enum ms_host_drop why, uint64_t want, unsigned ms)
{
	struct dropped_want d = { why, want };

	ck_assert_msg(pump_until(ms, cond_dropped, &d), "never %llu drops (%s)",
		      (unsigned long long)want, ms_host_drop_name(why));
}

/* Copy the guest capture to W.dir/root, with a plain-file drop_caches and a
 * plain-file memory.reclaim in cgroup vm-a, and use it as the guest's
 * sysroot; its path in @root. */
static void use_fixture_copy(char *root, size_t size)
{
	path_in(root, size, "root");
	tu_copy_fixture_tree(W.dir, "root", "linux-6.1-guest");
	tu_put_str(root, "proc/sys/vm/drop_caches", "");
	tu_put_str(root, "sys/fs/cgroup/vm-a/memory.reclaim", "");
	ms_ctx_free(W.gctx);
	W.gctx = tu_new_ctx_log(root, &W.glog);
}

/* ---- raw peers ------------------------------------------------------------- */

static struct tu_raw *raw_new(void)
{
	struct tu_raw *r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	ck_assert_uint_lt(W.nr_raws, sizeof(W.raws) / sizeof(W.raws[0]));
	r->fd = -1;
	W.raws[W.nr_raws++] = r;
	return r;
}

static enum ms_msg_type raw_recv(struct tu_raw *r, unsigned timeout_ms)
{
	ck_assert_msg(pump_until(timeout_ms, tu_raw_cond_msg, r), "no frame from the peer");
	return r->msg.type;
}

static void raw_wait_closed(struct tu_raw *r, unsigned timeout_ms)
{
	ck_assert_msg(pump_until(timeout_ms, tu_raw_cond_closed, r),
		      "the peer did not close the connection");
}

/* Connect @r to @sock, say Hello, take Welcome and Config; the guest id. */
static uint64_t raw_ready(struct tu_raw *r, const char *sock, const char *name)
{
	unsigned ready = W.h_ready;

	tu_raw_open(r, sock);
	tu_raw_send_hello(r, name);
	ck_assert_int_eq(raw_recv(r, 2000), MS_MSG_WELCOME);
	ck_assert_uint_eq(r->msg.in_reply_to, 1);
	ck_assert_int_eq(raw_recv(r, 2000), MS_MSG_CONFIG);
	ck_assert_uint_eq(W.h_ready, ready + 1);
	ck_assert_str_eq(W.last_ready_name, name);
	return W.last_ready_id;
}

/* A small valid Report for a raw guest (Hello said MemTotal 1 GiB). */
static void small_report(struct ms_report *rep, uint64_t mono_us)
{
	uint64_t *mi = (uint64_t *)&rep->meminfo, *vm = (uint64_t *)&rep->vmstat;

	memset(rep, 0, sizeof(*rep));
	for (size_t i = 0; i < sizeof(rep->meminfo) / sizeof(uint64_t); i++)
		mi[i] = MS_UNKNOWN;
	for (size_t i = 0; i < sizeof(rep->vmstat) / sizeof(uint64_t); i++)
		vm[i] = MS_UNKNOWN;
	rep->mono_us = mono_us;
	rep->meminfo.total_bytes = 512 * MIB;
	rep->meminfo.free_bytes = 256 * MIB;
}

/* Send Report @rep from @r (which keeps ownership of nothing). */
static void raw_send_report(struct tu_raw *r, const struct ms_report *rep)
{
	struct ms_msg m = { .type = MS_MSG_REPORT };

	m.u.report = *rep;
	tu_raw_send_msg(r, &m);
}

/* An LRU summary of one node with @nr bins. */
static struct ms_lru_summary *lru_new(enum ms_lru_source source, uint32_t nr)
{
	struct ms_lru_summary *s = calloc(1, sizeof(*s) + sizeof(s->nodes[0]));

	ck_assert_ptr_nonnull(s);
	s->source = source;
	s->nr_nodes = 1;
	s->nodes[0].nr_bins = nr;
	s->nodes[0].slab_reclaimable_bytes = MS_UNKNOWN;
	s->nodes[0].shmem_bytes = MS_UNKNOWN;
	s->nodes[0].unevictable_bytes = MS_UNKNOWN;
	return s;
}

/* MGLRU bins tiling [0, inf) at @edges (@nr of them), 1 MiB each. */
static struct ms_lru_summary *lru_mglru(const uint64_t *edges, uint32_t nr)
{
	struct ms_lru_summary *s = lru_new(MS_LRU_SOURCE_MGLRU, nr + 1);

	for (uint32_t i = 0; i <= nr; i++) {
		struct ms_lru_bin *b = &s->nodes[0].bins[i];

		b->min_age_ms = i ? edges[i - 1] : 0;
		b->max_age_ms = i < nr ? edges[i] : MS_AGE_INFINITE;
		b->anon_bytes = MIB;
		b->file_bytes = MIB;
	}
	return s;
}

/* ---- a fake Firecracker VMM (hybrid vsock) ----------------------------------- */

enum vmm_mode {
	VMM_OK,        /* "OK 1073741824\n", then bridge to the guest */
	VMM_CLOSE,     /* close at once: nobody listens on that vsock port */
	VMM_SILENT,    /* read the line, never answer */
	VMM_TEXT,      /* answer vmm.text; bridge if a guest is set, else wait */
	VMM_GLUED,     /* "OK 123\n" and the guest's first bytes in one write */
	VMM_SPLIT,     /* "OK 12", then "3\n" and the guest's first bytes */
};

enum vmm_state { V_IDLE, V_LINE, V_HELD, V_GLUE, V_BRIDGE };

struct vmm {
	int *lfd;
	char path[128];            /* the VMM's unix socket */
	char guest[128];           /* where the guest "listens on the vsock port"; "" none */
	enum vmm_mode mode;
	const char *text;
	enum vmm_state state;
	int cfd, gfd;              /* the host's connection, ours to the guest */
	char line[128];
	size_t line_len;
	unsigned conns;            /* connections accepted */
	uint64_t conn_us[32];
	char lines[32][128];       /* what each connection said first */
};

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	ck_assert_int_ge(fl, 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/* Write all of @buf to the non-blocking @fd (waiting for room). */
static void write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
			continue;
		}
		ck_assert_msg(n > 0, "write: %m");
		p += n;
		len -= (size_t)n;
	}
}

/* Copy what @from has to @to.  false once @from reached EOF (or broke). */
static bool copy_some(int from, int to)
{
	uint8_t buf[16384];

	for (;;) {
		ssize_t n = read(from, buf, sizeof(buf));

		if (n > 0) {
			write_all(to, buf, (size_t)n);
			continue;
		}
		if (n == 0)
			return false;
		if (errno == EAGAIN || errno == EINTR)
			return true;
		return false;          /* ECONNRESET, or EIO on a pty */
	}
}

static int unix_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path));
	ck_assert_msg(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind %s: %m", path);
	ck_assert_int_eq(listen(fd, 8), 0);
	return fd;
}

/* Connect to @path (non-blocking afterwards); -errno on failure. */
static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	memcpy(sa.sun_path, path, strlen(path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	set_nonblock(fd);
	return fd;
}

static void vmm_reset(struct vmm *v)
{
	if (v->cfd >= 0)
		close(v->cfd);
	if (v->gfd >= 0)
		close(v->gfd);
	v->cfd = v->gfd = -1;
	v->state = V_IDLE;
}

/* Connect to the guest agent: false (and the host's connection closed, as
 * Firecracker does) if nobody listens there. */
static bool vmm_reach_guest(struct vmm *v)
{
	if (!v->guest[0]) {
		v->state = V_HELD;
		return false;
	}
	v->gfd = unix_connect(v->guest);
	if (v->gfd < 0) {
		vmm_reset(v);
		return false;
	}
	return true;
}

static void vmm_step(void *arg)
{
	struct vmm *v = arg;

	if (v->state == V_IDLE) {
		int fd = accept4(*v->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		ck_assert_uint_lt(v->conns, 32);
		v->conn_us[v->conns++] = now_us();
		v->cfd = fd;
		v->line_len = 0;
		v->state = V_LINE;
	}
	if (v->state == V_LINE) {
		ssize_t n;
		char c;

		while ((n = recv(v->cfd, &c, 1, MSG_DONTWAIT)) == 1) {
			if (v->line_len < sizeof(v->line) - 1)
				v->line[v->line_len++] = c;
			if (c == '\n')
				break;
		}
		if (n == 0) {
			vmm_reset(v);
			return;
		}
		if (!v->line_len || v->line[v->line_len - 1] != '\n')
			return;
		v->line[v->line_len] = '\0';
		memcpy(v->lines[v->conns - 1], v->line, v->line_len + 1);
		switch (v->mode) {
		case VMM_CLOSE:
			vmm_reset(v);
			return;
		case VMM_SILENT:
			v->state = V_HELD;
			return;
		case VMM_TEXT:
			write_all(v->cfd, v->text, strlen(v->text));
			if (vmm_reach_guest(v))
				v->state = V_BRIDGE;
			return;
		case VMM_OK:
			if (!vmm_reach_guest(v))
				return;
			write_all(v->cfd, "OK 1073741824\n", 14);
			v->state = V_BRIDGE;
			return;
		case VMM_GLUED:
		case VMM_SPLIT:
			if (!vmm_reach_guest(v))
				return;
			if (v->mode == VMM_SPLIT)
				write_all(v->cfd, "OK 12", 5);
			v->state = V_GLUE;
			return;
		}
	}
	if (v->state == V_HELD) {
		char buf[64];
		ssize_t n = recv(v->cfd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN))
			vmm_reset(v);
		return;
	}
	if (v->state == V_GLUE) {
		/* Wait for the guest's first bytes (its Hello), then send the
		 * rest of the answer and them in one write. */
		uint8_t buf[4096];
		ssize_t n = read(v->gfd, buf + 16, sizeof(buf) - 16);
		const char *head = v->mode == VMM_SPLIT ? "3\n" : "OK 123\n";
		size_t hl = strlen(head);

		if (n <= 0)
			return;
		memcpy(buf + 16 - hl, head, hl);
		ck_assert_int_eq(send(v->cfd, buf + 16 - hl, hl + (size_t)n, MSG_NOSIGNAL),
				 (ssize_t)(hl + (size_t)n));
		v->state = V_BRIDGE;
	}
	if (v->state == V_BRIDGE) {
		if (!copy_some(v->cfd, v->gfd) || !copy_some(v->gfd, v->cfd))
			vmm_reset(v);
	}
}

static struct vmm *vmm_start(enum vmm_mode mode, const char *guest_sock)
{
	static struct vmm v;

	memset(&v, 0, sizeof(v));
	v.cfd = v.gfd = -1;
	v.mode = mode;
	path_in(v.path, sizeof(v.path), "v.sock");
	if (guest_sock)
		snprintf(v.guest, sizeof(v.guest), "%s", guest_sock);
	v.lfd = keep_fd(unix_listen(v.path));
	add_actor(vmm_step, &v);
	return &v;
}

/* ---- a fake QEMU: virtio-serial port = pty, chardev = unix socket ------------ */

struct qemu {
	int master;
	int slave;                /* ours: keeps the tty, writes "from the guest" */
	char port[64];            /* the pty slave: the guest's port */
	char path[128];           /* the chardev socket the host connects to */
	int *lfd;
	int cfd;                  /* the host's connection, or -1 */
	bool drop_guest;          /* discard what the guest writes (it crashed) */
	uint64_t dropped;         /* bytes discarded so */
	unsigned conns;
};

static void qemu_step(void *arg)
{
	struct qemu *q = arg;

	if (q->cfd < 0) {
		int fd = accept4(*q->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			q->cfd = fd;
			q->conns++;
		}
	}
	if (q->drop_guest) {
		uint8_t buf[4096];
		ssize_t n;

		while ((n = read(q->master, buf, sizeof(buf))) > 0)
			q->dropped += (uint64_t)n;
	}
	if (q->cfd < 0)
		return;        /* what the guest writes waits in the pty */
	if (!copy_some(q->cfd, q->master)) {
		close(q->cfd);
		q->cfd = -1;
		return;
	}
	if (!q->drop_guest)
		copy_some(q->master, q->cfd);
}

static struct qemu *qemu_start(void)
{
	static struct qemu q;
	const char *name;

	memset(&q, 0, sizeof(q));
	q.cfd = -1;
	q.master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	ck_assert_int_ge(q.master, 0);
	keep_fd(q.master);
	ck_assert_int_eq(grantpt(q.master), 0);
	ck_assert_int_eq(unlockpt(q.master), 0);
	name = ptsname(q.master);
	ck_assert_ptr_nonnull(name);
	snprintf(q.port, sizeof(q.port), "%s", name);
	q.slave = open(q.port, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	ck_assert_int_ge(q.slave, 0);
	keep_fd(q.slave);
	set_nonblock(q.master);
	path_in(q.path, sizeof(q.path), "chardev.sock");
	q.lfd = keep_fd(unix_listen(q.path));
	add_actor(qemu_step, &q);
	return &q;
}

/* Bytes on the line from the guest's side (as if the guest wrote them). */
static void qemu_from_guest(struct qemu *q, const void *buf, size_t len)
{
	write_all(q->slave, buf, len);
}

/* Bytes on the line from the host's side. */
static void qemu_from_host(struct qemu *q, const void *buf, size_t len)
{
	write_all(q->master, buf, len);
}

/* ============================================================================ */
/* ---- hybrid vsock, host to guest ------------------------------------------- */

/* A guest agent listening on W.dir/g.sock (its "vsock port"). */
static void start_listening_guest(const char *name, char *gsock, size_t size)
{
	char ep[160];
	MS_OPTS(ms_guest_opts, o, .name = name);

	path_in(gsock, size, "g.sock");
	snprintf(ep, sizeof(ep), "unix:%s", gsock);
	o.listen = ep;
	start_guest_with(&o);
}

START_TEST(hvsock_host_to_guest)
{
	struct ms_reclaim_request req = { .kinds = MS_RECLAIM_SLAB };
	char root[128], gsock[128], ep[160];
	struct ms_guest_info info;
	struct ms_host_stats st;
	struct vmm *v;
	uint64_t id, rid;

	use_fixture_copy(root, sizeof(root));
	start_listening_guest("fc-guest", gsock, sizeof(gsock));
	v = vmm_start(VMM_OK, gsock);
	start_host_plain();
	snprintf(ep, sizeof(ep), "hvsock:%s:5000", v->path);
	ck_assert_int_eq(ms_host_connect(W.host, ep), 0);
	ck_assert_int_eq(ms_host_connect(W.host, ep), -EEXIST);
	st = host_stats();
	ck_assert_uint_eq(st.links, 1);
	ck_assert_uint_eq(st.links_up, 0);
	/* The first attempt is due at once. */
	ck_assert_int_eq(ms_host_get_timeout_us(W.host), 0);

	WAIT_GE(W.h_ready, 1, 3000);
	WAIT_GE(W.g_connected, 1, 3000);
	WAIT_GE(W.h_reports, 1, 3000);
	id = W.last_ready_id;
	ck_assert_uint_eq(v->conns, 1);
	ck_assert_str_eq(v->lines[0], "CONNECT 5000\n");
	info = guest_info(id);
	ck_assert_str_eq(info.hello.guest_name, "fc-guest");
	ck_assert_str_eq(info.peer, ep);
	ck_assert_uint_eq(info.vsock_cid, 0);
	ck_assert_uint_eq(info.reconnects, 0);
	ck_assert_uint_eq(info.sync_bytes_dropped, 0);
	st = host_stats();
	ck_assert_uint_eq(st.links_up, 1);
	ck_assert_uint_eq(st.accepted, 1);

	/* A reclaim round trip through the VMM's socket. */
	ck_assert_int_eq(ms_host_reclaim(W.host, id, &req, &rid), 0);
	WAIT_GE(W.h_replies, 1, 3000);
	ck_assert_uint_eq(W.last_reply.id, rid);
	ck_assert_int_eq(W.last_reply.result.status, 0);
	ck_assert_uint_eq(W.last_reply.result.method, 1u << MS_RECLAIM_METHOD_DROP_SLAB);
	ck_assert_str_eq(tu_read_text(root, "proc/sys/vm/drop_caches"), "2");
	ck_assert_uint_eq(W.g_reclaims, 1);
	WAIT_GE(W.h_reports, 2, 3000);          /* the Report after the reclaim */
	info = guest_info(id);
	/* In: Hello, Report, ReclaimResult, Report.  Out: Welcome, Config,
	 * ReclaimRequest.  Not one byte of the guest's stream was lost. */
	ck_assert_uint_eq(info.frames_in, 4);
	ck_assert_uint_eq(info.frames_out, 3);
	ck_assert_uint_eq(info.reports, 2);

	/* Stop keeping the link: the guest is told Goodbye and waits again. */
	ck_assert_int_eq(ms_host_unconnect(W.host, ep), 0);
	ck_assert_int_eq(ms_host_unconnect(W.host, ep), -ENOENT);
	ck_assert_uint_eq(W.h_gone, 1);
	st = host_stats();
	ck_assert_uint_eq(st.links, 0);
	ck_assert_uint_eq(st.links_up, 0);
	ck_assert_uint_eq(st.dropped[MS_DROP_HOST], 1);
	WAIT_GE(W.g_disconnected, 1, 2000);
	ck_assert_msg(contains(W.g_disc_reason, "Goodbye"), "'%s'", W.g_disc_reason);
	ck_assert_int_eq(W.g_disc_err, 0);
	pump_for(300);
	ck_assert_uint_eq(v->conns, 1);         /* no retry once unconnected */
	ck_assert_int_eq(ms_host_get_stats(NULL, &st), -EINVAL);
	ck_assert_int_eq(ms_host_get_stats(W.host, NULL), -EINVAL);
}
END_TEST

/* Nobody listens on the guest's port: the VMM closes without a word.  The
 * host counts it and retries at 100, 200, 400 ms (+ up to 25% jitter); once
 * the agent is up the next attempt gets through, and a session resets the
 * backoff. */
START_TEST(hvsock_refused_backoff)
{
	char gsock[128], ep[160];
	struct ms_host_stats st;
	struct vmm *v;
	uint64_t d[3], t;

	path_in(gsock, sizeof(gsock), "g.sock");
	v = vmm_start(VMM_OK, gsock);            /* nobody at gsock yet */
	start_host_plain();
	snprintf(ep, sizeof(ep), "hvsock:%s:5000", v->path);
	ck_assert_int_eq(ms_host_connect(W.host, ep), 0);
	WAIT_GE(v->conns, 4, 3000);
	for (int i = 0; i < 3; i++) {
		d[i] = (v->conn_us[i + 1] - v->conn_us[i]) / 1000u;
		ck_assert_str_eq(v->lines[i], "CONNECT 5000\n");
	}
	ck_assert_msg(d[0] >= 100 && d[0] <= 125 + SLACK_MS / 3, "retry 1 after %llu ms",
		      (unsigned long long)d[0]);
	ck_assert_msg(d[1] >= 200 && d[1] <= 250 + SLACK_MS / 3, "retry 2 after %llu ms",
		      (unsigned long long)d[1]);
	ck_assert_msg(d[2] >= 400 && d[2] <= 500 + SLACK_MS / 3, "retry 3 after %llu ms",
		      (unsigned long long)d[2]);
	/* The 4th refused too before the agent comes up. */
	wait_dropped(MS_DROP_IO, 4, 1000);
	st = host_stats();
	ck_assert_uint_eq(st.dropped[MS_DROP_IO], 4);
	ck_assert_uint_eq(st.accepted, 4);
	ck_assert_uint_eq(v->conns, 4);
	ck_assert_uint_eq(st.links_up, 0);
	ck_assert_uint_eq(W.h_ready, 0);
	ck_assert_msg(contains(W.hlog.all, "hybrid vsock: refused"), "log: %s", W.hlog.all);
	/* The next attempt is 800 ms (+25%) away, and the host says so. */
	t = (uint64_t)ms_host_get_timeout_us(W.host);
	ck_assert_uint_gt(t, 0);
	ck_assert_uint_le(t, 1000000);

	/* The agent comes up: the next retry gets through. */
	start_listening_guest("late", gsock, sizeof(gsock));
	WAIT_GE(W.h_ready, 1, 2000);
	ck_assert_uint_eq(v->conns, 5);
	ck_assert_uint_eq(host_stats().links_up, 1);

	/* The agent stops (Goodbye): the backoff starts over at 100 ms. */
	free_guest();
	WAIT_GE(W.h_gone, 1, 2000);
	t = now_us();
	WAIT_GE(v->conns, 6, 2000);
	ck_assert_msg(v->conn_us[5] - t <= (125 + SLACK_MS / 3) * 1000u, "retry after %llu us",
		      (unsigned long long)(v->conn_us[5] - t));
	ck_assert_uint_eq(host_stats().dropped[MS_DROP_CLOSED], 1);
}
END_TEST

/* What the host takes as the VMM's answer: "OK <decimal>" in any case,
 * one space, an optional \r; anything else is a refusal. */
START_TEST(hvsock_answers)
{
	static const struct {
		const char *text;
		bool ok;
		const char *log;      /* the host's reason */
	} cases[] = {
		{ "ok 1073741824\n", true, NULL },
		{ "Ok 7\r\n", true, NULL },
		{ "OK  123\n", false, "hybrid vsock: malformed answer: OK  123" },
		{ "OK 123 \n", false, "hybrid vsock: malformed answer: OK 123 " },
		{ "OK 12a\n", false, "hybrid vsock: malformed answer: OK 12a" },
		{ "OK \n", false, "hybrid vsock: malformed answer: OK " },
		{ "OK\n", false, "hybrid vsock: refused: OK" },
		{ "NO\n", false, "hybrid vsock: refused: NO" },
		{ "FAILURE connecting\n", false, "hybrid vsock: refused: FAILURE connecting" },
		/* A line that never ends: 100 bytes, no newline. */
		{ NULL, false, NULL },
	};
	char gsock[128], ep[160], longline[101], longlog[128];
	unsigned drops = 0, ready = 0;
	struct vmm *v;

	/* The last case: 100 bytes and no newline; the host reads at most 63
	 * (its 64-byte buffer) and gives up. */
	memset(longline, 'A', 100);
	longline[100] = '\0';
	snprintf(longlog, sizeof(longlog), "hybrid vsock: malformed answer: %.63s\n", longline);
	start_listening_guest("answers", gsock, sizeof(gsock));
	v = vmm_start(VMM_TEXT, NULL);
	start_host_plain();
	snprintf(ep, sizeof(ep), "hvsock:%s:5000", v->path);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned conns = v->conns;
		const char *log = cases[i].text ? cases[i].log : longlog;

		v->text = cases[i].text ? cases[i].text : longline;
		snprintf(v->guest, sizeof(v->guest), "%s", cases[i].ok ? gsock : "");
		tu_log_reset(&W.hlog);
		ck_assert_int_eq(ms_host_connect(W.host, ep), 0);
		if (cases[i].ok) {
			WAIT_GE(W.h_ready, ready + 1, 2000);
			ready++;
			ck_assert_str_eq(W.last_ready_name, "answers");
		} else {
			wait_dropped(MS_DROP_IO, drops + 1, 2000);
			wait_log(W.hlog.all, log, 1000);
			drops++;
			ck_assert_uint_eq(host_stats().dropped[MS_DROP_IO], drops);
			ck_assert_uint_eq(W.h_ready, ready);
		}
		ck_assert_uint_eq(v->conns, conns + 1);
		ck_assert_int_eq(ms_host_unconnect(W.host, ep), 0);
	}
	ck_assert_uint_eq(ready, 2);
	ck_assert_uint_eq(drops, 8);
	ck_assert_uint_eq(W.h_gone, 2);
}
END_TEST

/* A VMM that never answers CONNECT: the handshake times out with the
 * Hello deadline (hello_timeout_ms), counted as such, and is retried. */
START_TEST(hvsock_no_answer)
{
	MS_OPTS(ms_host_opts, o, .hello_timeout_ms = 300);
	char ep[160];
	struct vmm *v;
	uint64_t t;

	v = vmm_start(VMM_SILENT, NULL);
	start_host_with(&o);
	snprintf(ep, sizeof(ep), "hvsock:%s:5000", v->path);
	t = now_us();                /* the host connects after this */
	ck_assert_int_eq(ms_host_connect(W.host, ep), 0);
	/* The host sent CONNECT: waiting for the answer is a deadline of its
	 * own. */
	wait_log(v->lines[0], "CONNECT 5000\n", 1000);
	{
		int64_t to = ms_host_get_timeout_us(W.host);

		ck_assert_int_gt(to, 0);
		ck_assert_int_le(to, 300000);
	}
	wait_dropped(MS_DROP_HELLO_TIMEOUT, 1, 2000);
	t = now_us() - t;
	ck_assert_uint_eq(host_stats().dropped[MS_DROP_HELLO_TIMEOUT], 1);
	ck_assert_uint_eq(host_stats().dropped[MS_DROP_IO], 0);
	ck_assert_uint_ge(t, 300000);
	ck_assert_uint_lt(t, (300 + SLACK_MS) * 1000u);
	ck_assert_msg(contains(W.hlog.all, "within 300 ms"), "log: %s", W.hlog.all);
	/* Retried like a refusal. */
	wait_log(v->lines[1], "CONNECT 5000\n", 1000);
}
END_TEST

/* "OK 123\n" and the guest's first bytes in one write (and an answer split
 * across two reads): the host reads the line byte by byte and hands the
 * rest to the frame decoder, so the Hello arrives intact. */
START_TEST(hvsock_payload_after_ok)
{
	char gsock[128], ep[160];
	struct vmm *v;

	start_listening_guest("glued", gsock, sizeof(gsock));
	v = vmm_start(VMM_GLUED, gsock);
	start_host_plain();
	snprintf(ep, sizeof(ep), "hvsock:%s:5000", v->path);
	ck_assert_int_eq(ms_host_connect(W.host, ep), 0);
	WAIT_GE(W.h_ready, 1, 2000);
	WAIT_GE(W.h_reports, 1, 2000);
	ck_assert_str_eq(W.last_ready_name, "glued");
	ck_assert_uint_eq(guest_info(W.last_ready_id).frames_in, 2);
	ck_assert_uint_eq(host_stats().dropped[MS_DROP_PROTOCOL], 0);
	ck_assert_int_eq(ms_host_unconnect(W.host, ep), 0);
	WAIT_GE(W.g_disconnected, 1, 2000);

	v->mode = VMM_SPLIT;
	ck_assert_int_eq(ms_host_connect(W.host, ep), 0);
	WAIT_GE(W.h_ready, 2, 2000);
	WAIT_GE(W.h_reports, 2, 2000);
	ck_assert_uint_eq(v->conns, 2);
	ck_assert_uint_eq(guest_info(W.last_ready_id).frames_in, 2);
}
END_TEST

/* ---- hybrid vsock, guest to host ------------------------------------------- */

/* The host listens on "<uds>_<port>", where the VMM forwards a guest's
 * connection to host port PORT. */
START_TEST(hvsock_guest_to_host)
{
	char uds[128], real[160], ep[192], gep[192];
	struct stat st;

	path_in(uds, sizeof(uds), "v.sock");
	snprintf(real, sizeof(real), "%s_5000", uds);
	snprintf(ep, sizeof(ep), "hvsock:%s:5000", uds);
	{
		MS_OPTS(ms_host_opts, o, .listen = ep);

		start_host_with(&o);
	}
	ck_assert_int_eq(stat(real, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(stat(uds, &st), -1);    /* the VMM's own socket is not ours */
	snprintf(gep, sizeof(gep), "unix:%s", real);
	{
		MS_OPTS(ms_guest_opts, o, .connect = gep, .name = "outbound");

		start_guest_with(&o);
	}
	WAIT_GE(W.h_ready, 1, 2000);
	WAIT_GE(W.g_connected, 1, 2000);
	ck_assert_str_eq(W.last_ready_name, "outbound");
	/* The peer is the VMM's forwarding socket: named after the endpoint. */
	ck_assert_str_eq(guest_info(W.last_ready_id).peer, ep);
	ck_assert_uint_eq(host_stats().accepted, 1);
	/* Twice the same: in use. */
	ck_assert_int_eq(ms_host_listen(W.host, ep), -EADDRINUSE);
	free_guest();
	free_host();
	ck_assert_int_eq(stat(real, &st), -1);   /* removed with the host */
}
END_TEST

START_TEST(endpoint_hvsock_serial_parse)
{
	struct ms_endpoint ep;
	char buf[200], text[200];

	ck_assert_int_eq(ms_endpoint_parse("hvsock:/run/fc/v.sock:5000", &ep), 0);
	ck_assert_int_eq(ep.kind, MS_ENDPOINT_HVSOCK);
	ck_assert_str_eq(ep.path, "/run/fc/v.sock");
	ck_assert_uint_eq(ep.port, 5000);
	ms_endpoint_format(&ep, buf, sizeof(buf));
	ck_assert_str_eq(buf, "hvsock:/run/fc/v.sock:5000");
	/* The last colon separates the port. */
	ck_assert_int_eq(ms_endpoint_parse("hvsock:/a:b/v:1", &ep), 0);
	ck_assert_str_eq(ep.path, "/a:b/v");
	ck_assert_uint_eq(ep.port, 1);
	ck_assert_int_eq(ms_endpoint_parse("serial:/dev/virtio-ports/org.memshare.0", &ep), 0);
	ck_assert_int_eq(ep.kind, MS_ENDPOINT_SERIAL);
	ck_assert_str_eq(ep.path, "/dev/virtio-ports/org.memshare.0");
	ms_endpoint_format(&ep, buf, sizeof(buf));
	ck_assert_str_eq(buf, "serial:/dev/virtio-ports/org.memshare.0");
	{
		static const char *const bad[] = {
			"hvsock:", "hvsock:/v.sock", "hvsock:/v.sock:", "hvsock:rel:5",
			"hvsock::5", "hvsock:/v.sock:x", "hvsock:/v.sock:-1",
			"hvsock:/v.sock:4294967295", "hvsock:/v.sock:4294967296",
			"hvsock:@abstract:5", "serial:", "serial:/", "serial:dev/ttyS0",
			"SERIAL:/dev/x", "hvsock:/v.sock:5 ",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			ck_assert_msg(ms_endpoint_parse(bad[i], &ep) == -EINVAL, "'%s' accepted",
				      bad[i]);
	}
	/* hvsock leaves room for "_<port>" in sun_path: 95 path bytes. */
	strcpy(text, "hvsock:/");
	memset(text + 8, 'a', 94);
	strcpy(text + 102, ":4294967294");
	ck_assert_int_eq(ms_endpoint_parse(text, &ep), 0);
	ck_assert_uint_eq(strlen(ep.path), 95);
	memmove(text + 103, text + 102, strlen(text + 102) + 1);
	text[102] = 'a';
	ck_assert_int_eq(ms_endpoint_parse(text, &ep), -EINVAL);

	/* Who may use which. */
	start_host_plain();
	ck_assert_int_eq(ms_host_listen(W.host, "serial:/dev/ttyS0"), -EINVAL);
	ck_assert_int_eq(ms_host_listen(W.host, "hvsock:rel:5"), -EINVAL);
	ck_assert_int_eq(ms_host_connect(W.host, "serial:rel"), -EINVAL);
	ck_assert_int_eq(ms_host_connect(W.host, NULL), -EINVAL);
	ck_assert_int_eq(ms_host_connect(NULL, "serial:/x"), -EINVAL);
	ck_assert_int_eq(ms_host_unconnect(W.host, "serial:/x"), -ENOENT);
	ck_assert_int_eq(ms_host_connect(W.host, "serial:/nonexistent/chardev.sock"), 0);
	ck_assert_int_eq(ms_host_connect(W.host, "serial:/nonexistent/chardev.sock"), -EEXIST);
	ck_assert_int_eq(ms_host_unconnect(W.host, "serial:/nonexistent/chardev.sock"), 0);
	{
		struct ms_guest *g = NULL;
		MS_OPTS(ms_guest_opts, o, .ctx = W.gctx);

		o.listen = "serial:/dev/ttyS0";       /* a port is opened, not listened on */
		ck_assert_int_eq(ms_guest_new(&g, &o), -EINVAL);
		o.listen = "hvsock:/run/v.sock:5";    /* the guest's side is vsock */
		ck_assert_int_eq(ms_guest_new(&g, &o), -EINVAL);
		o.listen = NULL;
		o.connect = "hvsock:/run/v.sock:5";   /* likewise */
		ck_assert_int_eq(ms_guest_new(&g, &o), -EINVAL);
		o.connect = "serial:/dev/virtio-ports/x";
		o.listen = "unix:/run/x.sock";        /* both */
		ck_assert_int_eq(ms_guest_new(&g, &o), -EINVAL);
		ck_assert_ptr_null(g);
	}
}
END_TEST

/* ---- virtio-serial ----------------------------------------------------------- */

/* A guest that opens the port of @q. */
static void serial_guest(struct qemu *q, const char *name, uint32_t welcome_timeout_ms)
{
	char ep[192];
	MS_OPTS(ms_guest_opts, o, .name = name, .welcome_timeout_ms = welcome_timeout_ms);

	snprintf(ep, sizeof(ep), "serial:%s", q->port);
	o.connect = ep;
	start_guest_with(&o);
}

/* A host that connects to the chardev of @q. */
static void serial_host(struct qemu *q)
{
	char ep[192];

	start_host_plain();
	snprintf(ep, sizeof(ep), "serial:%s", q->path);
	ck_assert_int_eq(ms_host_connect(W.host, ep), 0);
}

static void serial_pair(struct qemu *q, const char *name)
{
	serial_guest(q, name, 0);
	serial_host(q);
}

static uint64_t serial_ready(unsigned ready, unsigned connected)
{
	WAIT_GE(W.h_ready, ready, 3000);
	WAIT_GE(W.g_connected, connected, 3000);
	return W.last_ready_id;
}

START_TEST(serial_handshake)
{
	struct ms_reclaim_request req = { .kinds = MS_RECLAIM_SLAB };
	struct ms_guest_info info;
	struct termios t;
	char root[128], ep[192];
	struct qemu *q;
	uint64_t id, rid;

	use_fixture_copy(root, sizeof(root));
	q = qemu_start();
	serial_pair(q, "serial-vm");
	id = serial_ready(1, 1);
	WAIT_GE(W.h_reports, 1, 3000);
	snprintf(ep, sizeof(ep), "serial:%s", q->path);
	info = guest_info(id);
	ck_assert_str_eq(info.peer, ep);
	ck_assert_str_eq(info.hello.guest_name, "serial-vm");
	ck_assert_uint_eq(info.sync_bytes_dropped, 0);
	ck_assert_uint_eq(info.vsock_cid, 0);
	ck_assert_uint_eq(q->conns, 1);
	/* The guest made its tty a raw byte pipe: no echo, no CR/LF games,
	 * no line buffering (a real virtio-serial port is not a tty). */
	ck_assert_int_eq(tcgetattr(q->slave, &t), 0);
	ck_assert(!(t.c_lflag & (ICANON | ECHO | ISIG | IEXTEN)));
	ck_assert(!(t.c_oflag & OPOST));
	ck_assert(!(t.c_iflag & (ICRNL | IXON)));

	ck_assert_int_eq(ms_host_reclaim(W.host, id, &req, &rid), 0);
	WAIT_GE(W.h_replies, 1, 3000);
	ck_assert_int_eq(W.last_reply.result.status, 0);
	ck_assert_str_eq(tu_read_text(root, "proc/sys/vm/drop_caches"), "2");
	WAIT_GE(W.h_reports, 2, 3000);
	ck_assert_uint_eq(W.h_gone, 0);
	ck_assert_uint_eq(W.g_disconnected, 0);
	ck_assert_uint_eq(host_stats().links_up, 1);
}
END_TEST

/* The host restarts while the guest's port stays open: the Goodbye sends
 * the guest back to a new session; what sits in the port in between is
 * dropped by the new host until the guest's marker. */
START_TEST(serial_host_restart)
{
	/* Half a frame: announces 256 bytes, 8 follow; no 0xff in it. */
	static const uint8_t stale[12] = { 0, 0, 1, 0, 's', 't', 'a', 'l', 'e', '!', '!', '!' };
	struct ms_guest_info info;
	struct qemu *q;
	uint64_t id;

	q = qemu_start();
	serial_pair(q, "serial-vm");
	serial_ready(1, 1);
	WAIT_GE(W.h_reports, 1, 3000);

	free_host();
	WAIT_GE(W.g_disconnected, 1, 2000);
	ck_assert_msg(contains(W.g_disc_reason, "Goodbye: host shutting down"), "'%s'",
		      W.g_disc_reason);
	/* Before the guest reopens its port (backoff 50 ms): stale bytes. */
	qemu_from_guest(q, stale, sizeof(stale));

	serial_host(q);
	id = serial_ready(1, 2);
	WAIT_GE(W.h_reports, 1, 3000);
	ck_assert_uint_eq(id, 1);            /* a new host numbers from 1 */
	info = guest_info(id);
	ck_assert_str_eq(info.hello.guest_name, "serial-vm");
	ck_assert_uint_eq(info.sync_bytes_dropped, sizeof(stale));
	ck_assert_uint_eq(info.reports_invalid, 0);
	ck_assert_uint_eq(W.g_disconnected, 1);
	ck_assert_uint_eq(q->conns, 2);
}
END_TEST

/* The guest agent dies without a Goodbye (OOM-killed) and a new one opens
 * the port while the host stays connected: the host ends the old session
 * at the new agent's marker, and the new agent, which drops everything up
 * to a marker from the host, must get one before its Welcome. */
START_TEST(serial_guest_restart)
{
	MS_OPTS(ms_guest_opts, o, .name = "reborn", .welcome_timeout_ms = 1000);
	char ep[192];
	struct qemu *q;
	uint64_t id1, id2;

	q = qemu_start();
	serial_pair(q, "first");
	id1 = serial_ready(1, 1);
	WAIT_GE(W.h_reports, 1, 3000);

	q->drop_guest = true;                /* its last words (Goodbye) are lost */
	free_guest();
	WAIT_GE(q->dropped, 1, 1000);
	q->drop_guest = false;
	ck_assert_uint_eq(W.h_gone, 0);      /* the host knows nothing yet */

	snprintf(ep, sizeof(ep), "serial:%s", q->port);
	o.connect = ep;
	start_guest_with(&o);
	WAIT_GE(W.h_gone, 1, 2000);
	ck_assert_uint_eq(W.last_gone_id, id1);
	ck_assert_int_eq(W.last_gone_err, 0);
	ck_assert_msg(contains(W.last_gone_reason, "restarted"), "'%s'", W.last_gone_reason);
	WAIT_GE(W.g_connected, 1, 2000);
	id2 = serial_ready(2, 1);
	ck_assert_uint_ne(id2, id1);
	ck_assert_str_eq(W.last_ready_name, "reborn");
	WAIT_GE(W.h_reports, 2, 2000);
	ck_assert_uint_eq(W.g_disconnected, 0);
	ck_assert_uint_eq(q->conns, 1);      /* the same chardev connection all along */
	ck_assert_uint_eq(ms_host_list_guests(W.host, NULL, 0), 1);
}
END_TEST

/* Garbage on the line from the guest's side between frames: the host
 * drops it up to a marker and asks the guest for one; the session starts
 * over on the same connection.  An undecodable frame is handled alike. */
START_TEST(serial_garbage_from_guest)
{
	static const char noise[8] = "GARBAGE!";                /* length 0x47415242 */
	static const uint8_t junk[7] = { 0, 0, 0, 3, 'a', 'b', 'c' }; /* not protobuf */
	struct ms_host_stats st;
	struct qemu *q;
	uint64_t id1, id2, id3;

	q = qemu_start();
	serial_pair(q, "noisy");
	id1 = serial_ready(1, 1);
	WAIT_GE(W.h_reports, 1, 3000);

	qemu_from_guest(q, noise, sizeof(noise));
	WAIT_GE(W.h_ready, 2, 2000);
	id2 = W.last_ready_id;
	ck_assert_uint_ne(id2, id1);
	ck_assert_uint_eq(W.h_gone, 1);
	ck_assert_uint_eq(W.last_gone_id, id1);
	WAIT_GE(W.g_connected, 2, 2000);
	WAIT_GE(W.h_reports, 2, 2000);
	ck_assert_uint_eq(guest_info(id2).sync_bytes_dropped, sizeof(noise));
	ck_assert_uint_eq(guest_info(id2).reconnects, 1);   /* same link, second session */
	ck_assert_msg(contains(W.glog.all, "the host restarted the session"), "log: %s",
		      W.glog.all);

	qemu_from_guest(q, junk, sizeof(junk));
	WAIT_GE(W.h_ready, 3, 2000);
	id3 = W.last_ready_id;
	WAIT_GE(W.g_connected, 3, 2000);
	WAIT_GE(W.h_reports, 3, 2000);
	ck_assert_uint_ne(id3, id2);
	/* A whole (bad) frame is not "dropped while hunting". */
	ck_assert_uint_eq(guest_info(id3).sync_bytes_dropped, sizeof(noise));

	st = host_stats();
	ck_assert_uint_eq(st.dropped[MS_DROP_PROTOCOL], 0);
	ck_assert_uint_eq(st.links_up, 1);
	ck_assert_uint_eq(W.g_disconnected, 0);  /* the port never closed */
	ck_assert_uint_eq(q->conns, 1);
	ck_assert_uint_eq(ms_host_list_guests(W.host, NULL, 0), 1);
}
END_TEST

/* Garbage from the host's side: the guest drops it, and since it cannot
 * know what it missed, starts a new session itself. */
START_TEST(serial_garbage_from_host)
{
	static const char noise[8] = "GARBAGE!";
	struct qemu *q;
	uint64_t id1;

	q = qemu_start();
	serial_pair(q, "deafened");
	id1 = serial_ready(1, 1);
	WAIT_GE(W.h_reports, 1, 3000);

	qemu_from_host(q, noise, sizeof(noise));
	WAIT_GE(W.h_ready, 2, 2000);
	WAIT_GE(W.g_connected, 2, 2000);
	ck_assert_uint_ne(W.last_ready_id, id1);
	WAIT_GE(W.h_reports, 2, 2000);
	ck_assert_uint_eq(W.g_disconnected, 0);
	ck_assert_uint_eq(W.h_gone, 1);
	ck_assert_msg(contains(W.glog.all, "garbage from the host"), "log: %s", W.glog.all);
	ck_assert_uint_eq(q->conns, 1);
}
END_TEST

/* The guest opens its port long before any host connects and gives up on
 * Welcome a few times: each try's marker + Hello waits in the port.  When
 * the host comes it answers them all; the guest takes only the answer to
 * its latest Hello, and the two settle on one session. */
START_TEST(serial_stale_hellos)
{
	struct qemu *q;
	unsigned ready;

	q = qemu_start();
	serial_guest(q, "early", 150);
	WAIT_GE(W.g_disconnected, 3, 3000);  /* three Hellos went unanswered */
	ck_assert_msg(contains(W.g_disc_reason, "no Welcome within 150 ms"), "'%s'",
		      W.g_disc_reason);
	serial_host(q);
	WAIT_GE(W.g_connected, 1, 3000);
	WAIT_GE(W.h_ready, 1, 3000);
	/* Settled: one session, no more restarts. */
	pump_for(500);
	ready = W.h_ready;
	ck_assert_uint_eq(W.g_connected, 1);
	pump_for(500);
	ck_assert_uint_eq(W.h_ready, ready);
	ck_assert_uint_eq(W.h_ready - W.h_gone, 1);
	ck_assert_uint_eq(W.g_connected, 1);
	ck_assert(ms_guest_is_connected(W.guest));
	ck_assert_uint_eq(ms_host_list_guests(W.host, NULL, 0), 1);
	ck_assert_uint_ge(W.h_reports, 1);
}
END_TEST

/* ---- unix peer credentials ------------------------------------------------- */

START_TEST(host_unix_peer_uid)
{
	MS_OPTS(ms_host_opts, o, .unix_peer = MS_UNIX_PEER_UID, .unix_peer_uid = getuid() + 1);
	struct tu_raw *a = raw_new(), *b = raw_new();
	struct ms_host_stats st;
	char sock[128], msg[96];

	start_host_unix(&o, sock, sizeof(sock));
	tu_raw_open(a, sock);
	tu_raw_send_hello(a, "not-allowed");
	raw_wait_closed(a, 2000);
	tu_raw_close(a);
	st = host_stats();
	ck_assert_uint_eq(st.refused_peer, 1);
	ck_assert_uint_eq(st.accepted, 0);
	ck_assert_uint_eq(W.h_ready, 0);
	snprintf(msg, sizeof(msg), "refusing a unix peer with uid %u (allowed: unix_peer_uid)",
		 (unsigned)getuid());
	ck_assert_msg(contains(W.hlog.all, msg), "log: %s", W.hlog.all);
	free_host();

	/* Our own uid, named. */
	o.unix_peer_uid = getuid();
	start_host_unix(&o, sock, sizeof(sock));
	raw_ready(b, sock, "allowed");
	st = host_stats();
	ck_assert_uint_eq(st.refused_peer, 0);
	ck_assert_uint_eq(st.accepted, 1);
	tu_raw_close(b);
	free_host();

	/* Anyone; and the default, this uid. */
	o.unix_peer = MS_UNIX_PEER_ANY;
	o.unix_peer_uid = getuid() + 1;
	start_host_unix(&o, sock, sizeof(sock));
	raw_ready(b, sock, "anyone");
	tu_raw_close(b);
	free_host();
	o.unix_peer = MS_UNIX_PEER_SAME_UID;
	start_host_unix(&o, sock, sizeof(sock));
	raw_ready(b, sock, "same-uid");
	tu_raw_close(b);
	free_host();

	o.unix_peer = (enum ms_unix_peer)(MS_UNIX_PEER_UID + 1);
	o.listen = NULL;
	ck_assert_int_eq(ms_host_new(&W.host, &o), -EINVAL);
	ck_assert_ptr_null(W.host);
}
END_TEST

/* A listening guest takes commands only from the host: a connection from
 * another uid is refused (the host retries with backoff), one from the
 * right uid is served, and a second connection meanwhile is refused. */
START_TEST(guest_listen_peer_uid)
{
	char gsock[128], ep[160], msg[256];
	struct tu_raw *r = raw_new();
	struct ms_host_stats st;

	path_in(gsock, sizeof(gsock), "g.sock");
	snprintf(ep, sizeof(ep), "unix:%s", gsock);
	{
		MS_OPTS(ms_guest_opts, o, .listen = ep, .name = "picky",
			.host_unix_peer = MS_UNIX_PEER_UID, .host_unix_uid = getuid() + 1);

		start_guest_with(&o);
	}
	start_host_plain();
	ck_assert_int_eq(ms_host_connect(W.host, ep), 0);
	snprintf(msg, sizeof(msg), "refusing a connection on %s: unix peer uid %u is not the "
		 "host's", ep, (unsigned)getuid());
	wait_log(W.glog.all, msg, 2000);
	wait_dropped(MS_DROP_CLOSED, 1, 1000);
	st = host_stats();
	ck_assert_uint_ge(st.dropped[MS_DROP_CLOSED], 1);
	ck_assert_uint_eq(st.links_up, 0);
	ck_assert_uint_eq(W.h_ready, 0);
	ck_assert_uint_eq(W.g_connected, 0);
	ck_assert(!ms_guest_is_connected(W.guest));
	free_guest();

	/* The right uid. */
	{
		MS_OPTS(ms_guest_opts, o, .listen = ep, .name = "picky",
			.host_unix_peer = MS_UNIX_PEER_UID, .host_unix_uid = getuid());

		start_guest_with(&o);
	}
	WAIT_GE(W.h_ready, 1, 3000);
	WAIT_GE(W.g_connected, 1, 3000);
	ck_assert_str_eq(W.last_ready_name, "picky");

	/* One host at a time. */
	tu_raw_open(r, gsock);
	raw_wait_closed(r, 2000);
	ck_assert_msg(contains(W.glog.all, "refusing a second host connection"), "log: %s",
		      W.glog.all);
	ck_assert(ms_guest_is_connected(W.guest));
	ck_assert_uint_eq(W.g_disconnected, 0);
}
END_TEST

/* ---- per-guest limits --------------------------------------------------------- */

struct burst {
	uint8_t *buf;
	size_t len;
};

/* @n valid Reports from @r in one buffer (seq numbers taken). */
static struct burst report_burst(struct tu_raw *r, unsigned n)
{
	static uint64_t mono_us = 1000000;     /* never backwards */
	struct burst b = { 0 };
	struct ms_msg m = { .type = MS_MSG_REPORT };

	for (unsigned i = 0; i < n; i++) {
		uint8_t *frame;
		size_t len;

		small_report(&m.u.report, mono_us++);
		m.version = MS_PROTO_VERSION_MAX;
		m.seq = ++r->seq;
		ck_assert_int_eq(ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &frame, &len), 0);
		b.buf = realloc(b.buf, b.len + len);
		ck_assert_ptr_nonnull(b.buf);
		memcpy(b.buf + b.len, frame, len);
		b.len += len;
		free(frame);
	}
	return b;
}

/* Send a Ping and wait for its Pong: every frame before it was handled. */
static void raw_ping(struct tu_raw *r)
{
	struct ms_msg m = { .type = MS_MSG_PING };

	m.u.nonce = 4242;
	tu_raw_send_msg(r, &m);
	ck_assert_msg(raw_recv(r, 2000) == MS_MSG_PONG, "%s instead of Pong (%s)",
		      ms_msg_type_name(r->msg.type), r->msg.type == MS_MSG_ERROR ?
		      r->msg.u.error.message : "");
	ck_assert_uint_eq(r->msg.u.nonce, 4242);
	ck_assert_uint_eq(r->msg.in_reply_to, r->seq);
}

/* max_reports_per_s = 10: a token bucket holding 10 (the burst), refilled
 * at 10 per second.  100 Reports at once: 10 taken, 90 dropped unanswered,
 * the connection stays.  After a second the bucket is full again (10, not
 * more).  A rate of 1 still allows bursts of 2. */
START_TEST(rate_limit)
{
	MS_OPTS(ms_host_opts, o, .max_reports_per_s = 10);
	struct tu_raw *r = raw_new(), *s = raw_new();
	struct ms_guest_info info;
	struct ms_host_stats st;
	struct burst b;
	char sock[128];
	uint64_t id;

	start_host_unix(&o, sock, sizeof(sock));
	id = raw_ready(r, sock, "flood");
	b = report_burst(r, 100);
	ck_assert_uint_lt(b.len, 64 * KIB);     /* one read */
	tu_raw_send(r, b.buf, b.len);
	free(b.buf);
	raw_ping(r);                            /* nothing but the Pong came back */
	info = guest_info(id);
	ck_assert_uint_eq(info.reports, 10);
	ck_assert_uint_eq(info.reports_rate_dropped, 90);
	ck_assert_uint_eq(info.reports_invalid, 0);
	ck_assert_uint_eq(info.frames_in, 1 + 100 + 1);
	ck_assert_uint_eq(W.h_reports, 10);
	st = host_stats();
	ck_assert_uint_eq(st.reports, 10);
	ck_assert_uint_eq(st.reports_rate_dropped, 90);

	pump_for(1050);
	b = report_burst(r, 15);
	tu_raw_send(r, b.buf, b.len);
	free(b.buf);
	raw_ping(r);
	info = guest_info(id);
	ck_assert_uint_eq(info.reports, 20);
	ck_assert_uint_eq(info.reports_rate_dropped, 95);
	ck_assert(!r->closed);
	free_host();

	o.max_reports_per_s = 1;
	start_host_unix(&o, sock, sizeof(sock));
	id = raw_ready(s, sock, "slow");
	b = report_burst(s, 20);
	tu_raw_send(s, b.buf, b.len);
	free(b.buf);
	raw_ping(s);
	info = guest_info(id);
	ck_assert_uint_eq(info.reports, 2);
	ck_assert_uint_eq(info.reports_rate_dropped, 18);
}
END_TEST

/* Expect the host's Error for the Report @r just sent. */
static void expect_reject(struct tu_raw *r, const char *why)
{
	ck_assert_int_eq(raw_recv(r, 2000), MS_MSG_ERROR);
	ck_assert_int_eq(r->msg.u.error.code, EINVAL);
	ck_assert_uint_eq(r->msg.in_reply_to, r->seq);
	ck_assert_msg(contains(r->msg.u.error.message, why), "'%s', want '%s'",
		      r->msg.u.error.message, why);
}

/* Reports whose values cannot be true: an Error each, counted by reason,
 * not kept; the 101st invalid one drops the guest. */
START_TEST(report_validation)
{
	static const uint64_t other[4] = { 5000, 30000, 120000, 700000 };
	MS_OPTS(ms_host_opts, o, .max_reports_per_s = 1000);
	struct tu_raw *r = raw_new(), *s = raw_new();
	struct ms_report rep;
	struct ms_guest_info info;
	struct ms_host_stats st;
	char sock[128];
	uint64_t id, id2;
	unsigned errors = 0;

	start_host_unix(&o, sock, sizeof(sock));
	id = raw_ready(r, sock, "liar");

	/* A valid one first. */
	small_report(&rep, 5000000);
	rep.lru = lru_mglru(ms_lru_default_bin_edges_ms, 4);
	raw_send_report(r, &rep);
	raw_ping(r);
	ck_assert_uint_eq(W.h_reports, 1);

	/* meminfo: a figure above MemTotal; MemTotal 0; MemTotal over twice
	 * the Hello's 1 GiB. */
	rep.meminfo.free_bytes = 600 * MIB;
	raw_send_report(r, &rep);
	expect_reject(r, "a meminfo figure above MemTotal");
	rep.meminfo.free_bytes = 256 * MIB;
	rep.meminfo.total_bytes = 0;
	raw_send_report(r, &rep);
	expect_reject(r, "MemTotal of 0");
	rep.meminfo.total_bytes = 3ull << 30;
	raw_send_report(r, &rep);
	expect_reject(r, "MemTotal of 0, or far above");
	rep.meminfo.total_bytes = 512 * MIB;
	/* Time going backwards. */
	rep.mono_us = 4999999;
	raw_send_report(r, &rep);
	expect_reject(r, "report time went backwards");
	rep.mono_us = 5000000;
	/* Bins: wrong number (3 instead of the 5 of the default edges), and
	 * the right number at other edges. */
	ms_lru_summary_free(rep.lru);
	rep.lru = lru_mglru(ms_lru_default_bin_edges_ms, 2);
	raw_send_report(r, &rep);
	expect_reject(r, "LRU bins other than the configured edges");
	ms_lru_summary_free(rep.lru);
	rep.lru = lru_mglru(other, 4);
	raw_send_report(r, &rep);
	expect_reject(r, "LRU bins other than the configured edges");
	/* Absurd ages: a classic LRU bin (no tiling rule) over a century. */
	ms_lru_summary_free(rep.lru);
	rep.lru = lru_new(MS_LRU_SOURCE_CLASSIC, 2);
	rep.lru->nodes[0].bins[0] = (struct ms_lru_bin){ 0, 200ull * 365 * 24 * 3600 * 1000,
							 MIB, MIB };
	rep.lru->nodes[0].bins[1] = (struct ms_lru_bin){ MS_UNKNOWN, MS_UNKNOWN, MIB, MIB };
	raw_send_report(r, &rep);
	expect_reject(r, "an LRU age over a century");
	/* More LRU memory than MemTotal. */
	rep.lru->nodes[0].bins[0].max_age_ms = MS_UNKNOWN;
	rep.lru->nodes[0].bins[1].file_bytes = 600 * MIB;
	raw_send_report(r, &rep);
	expect_reject(r, "more LRU memory than MemTotal");
	/* A node figure above MemTotal. */
	rep.lru->nodes[0].bins[1].file_bytes = MIB;
	rep.lru->nodes[0].slab_reclaimable_bytes = 513 * MIB;
	raw_send_report(r, &rep);
	expect_reject(r, "a node figure above MemTotal");
	errors = 9;

	info = guest_info(id);
	ck_assert_uint_eq(info.reports, 1);
	ck_assert_uint_eq(info.reports_invalid, errors);
	ck_assert_uint_eq(info.reports_rejected[MS_REJECT_MEMINFO], 1);
	ck_assert_uint_eq(info.reports_rejected[MS_REJECT_MEMTOTAL], 2);
	ck_assert_uint_eq(info.reports_rejected[MS_REJECT_TIME], 1);
	ck_assert_uint_eq(info.reports_rejected[MS_REJECT_BINS], 2);
	ck_assert_uint_eq(info.reports_rejected[MS_REJECT_AGE], 1);
	ck_assert_uint_eq(info.reports_rejected[MS_REJECT_LRU_BYTES], 1);
	ck_assert_uint_eq(info.reports_rejected[MS_REJECT_NODE], 1);
	st = host_stats();
	ck_assert_uint_eq(st.reports_invalid, errors);
	ck_assert_uint_eq(st.reports_rejected[MS_REJECT_BINS], 2);
	ck_assert_uint_eq(st.reports_rejected[MS_REJECT_MEMTOTAL], 2);
	ck_assert_str_eq(ms_report_reject_name(MS_REJECT_LRU_BYTES), "lru_bytes");
	ck_assert_str_eq(ms_report_reject_name(MS_REJECT__COUNT), "unknown");
	ck_assert_uint_eq(W.h_reports, 1);       /* none of them was kept */

	/* Up to 100 invalid reports are answered; the 101st ends it. */
	rep.lru->nodes[0].slab_reclaimable_bytes = MS_UNKNOWN;
	rep.meminfo.free_bytes = 600 * MIB;
	while (errors < 100) {
		raw_send_report(r, &rep);
		expect_reject(r, "a meminfo figure above MemTotal");
		errors++;
	}
	ck_assert_uint_eq(guest_info(id).reports_invalid, 100);
	ck_assert(!r->closed);
	raw_send_report(r, &rep);
	raw_wait_closed(r, 2000);
	ck_assert_uint_eq(W.h_gone, 1);
	ck_assert_uint_eq(W.last_gone_id, id);
	ck_assert_int_eq(W.last_gone_err, -EINVAL);
	ck_assert_msg(contains(W.last_gone_reason, "more than 100 invalid reports (last: a meminfo "
			       "figure above MemTotal)"), "'%s'", W.last_gone_reason);
	st = host_stats();
	ck_assert_uint_eq(st.dropped[MS_DROP_REJECTS], 1);
	ck_assert_uint_eq(st.reports_invalid, 101);
	ck_assert_uint_eq(st.reports_rejected[MS_REJECT_MEMINFO], 93);   /* the 101st too */
	ck_assert_str_eq(ms_host_drop_name(MS_DROP_REJECTS), "rejects");

	/* MGLRU bins out of order break the structure (docs/protocol.md): the
	 * frame is undecodable and the guest is dropped, not answered. */
	id2 = raw_ready(s, sock, "disorder");
	rep.meminfo.free_bytes = 256 * MIB;
	ms_lru_summary_free(rep.lru);
	rep.lru = lru_mglru(ms_lru_default_bin_edges_ms, 4);
	{
		struct ms_lru_bin tmp = rep.lru->nodes[0].bins[1];

		rep.lru->nodes[0].bins[1] = rep.lru->nodes[0].bins[2];
		rep.lru->nodes[0].bins[2] = tmp;
	}
	raw_send_report(s, &rep);
	raw_wait_closed(s, 2000);
	ck_assert_uint_eq(W.last_gone_id, id2);
	ck_assert_int_eq(W.last_gone_err, -EPROTO);
	ck_assert_msg(contains(W.last_gone_reason, "out of order"), "'%s'", W.last_gone_reason);
	st = host_stats();
	ck_assert_uint_eq(st.dropped[MS_DROP_PROTOCOL], 1);
	ck_assert_uint_eq(st.reports_invalid, 101);
	ms_report_clear(&rep);
}
END_TEST

struct keepalive {
	struct tu_raw *deaf, *live;
	uint64_t t0, deaf_ping_us, deaf_closed_us;
	unsigned live_pings;
};

static bool keepalive_cond(void *arg)
{
	struct keepalive *k = arg;
	uint64_t now = now_us();

	if (!k->deaf->closed) {
		if (tu_raw_cond_msg(k->deaf)) {
			ck_assert_int_eq(k->deaf->msg.type, MS_MSG_PING);
			ck_assert(!k->deaf_ping_us);
			k->deaf_ping_us = now;
		}
		if (k->deaf->closed)
			k->deaf_closed_us = now;
	}
	while (tu_raw_cond_msg(k->live)) {
		struct ms_msg pong = { .type = MS_MSG_PONG };

		ck_assert_int_eq(k->live->msg.type, MS_MSG_PING);
		pong.in_reply_to = k->live->msg.seq;
		pong.u.nonce = k->live->msg.u.nonce;
		tu_raw_send_msg(k->live, &pong);
		k->live_pings++;
	}
	ck_assert(!k->live->closed);
	return now - k->t0 >= 1000000;
}

/* keepalive_ms = 200: Ping after 200 ms of silence, dropped after 600 ms
 * of it; a peer that answers stays. */
START_TEST(keepalive_host)
{
	MS_OPTS(ms_host_opts, o, .keepalive_ms = 200);
	struct keepalive k = { .deaf = raw_new(), .live = raw_new() };
	struct ms_host_stats st;
	char sock[128];
	uint64_t deaf, live;

	start_host_unix(&o, sock, sizeof(sock));
	/* Before the Hello: the host hears the deaf peer last after t0. */
	k.t0 = now_us();
	deaf = raw_ready(k.deaf, sock, "deaf");
	ck_assert_uint_eq(k.deaf->msg.u.config.keepalive_ms, 200);
	live = raw_ready(k.live, sock, "live");
	ck_assert(pump_until(3000, keepalive_cond, &k));
	ck_assert_msg(k.deaf_ping_us, "no Ping to the silent peer");
	ck_assert_uint_ge(k.deaf_ping_us - k.t0, 200000);
	ck_assert_uint_le(k.deaf_ping_us - k.t0, (200 + SLACK_MS) * 1000u);
	ck_assert_msg(k.deaf_closed_us, "the silent peer was not dropped");
	ck_assert_uint_ge(k.deaf_closed_us - k.t0, 600000);
	ck_assert_uint_le(k.deaf_closed_us - k.t0, (600 + SLACK_MS) * 1000u);
	/* About every 200 ms (+ the round trip). */
	ck_assert_uint_ge(k.live_pings, 3);
	ck_assert_uint_le(k.live_pings, 5);
	ck_assert_uint_eq(W.h_gone, 1);
	ck_assert_uint_eq(W.last_gone_id, deaf);
	ck_assert_int_eq(W.last_gone_err, -ETIMEDOUT);
	ck_assert_msg(contains(W.last_gone_reason, "silent for"), "'%s'", W.last_gone_reason);
	st = host_stats();
	ck_assert_uint_eq(st.dropped[MS_DROP_SILENT], 1);
	ck_assert_uint_eq(ms_host_list_guests(W.host, NULL, 0), 1);
	WAIT_INFO(live, frames_in, 1 + k.live_pings, 1000);    /* the last Pong in */
	ck_assert_uint_eq(guest_info(live).frames_in, 1 + k.live_pings);
}
END_TEST

/* frame_timeout_ms = 200: a frame begun must be complete within 200 ms. */
START_TEST(frame_timeout)
{
	static const uint8_t part[] = { 0x00, 0x00, 0x00, 0x64, 0x08, 0x01 };  /* 100 */
	MS_OPTS(ms_host_opts, o, .frame_timeout_ms = 200);
	struct tu_raw *a = raw_new(), *b = raw_new();
	char sock[128];
	uint64_t cut, slow, t0, bytes;
	uint8_t *frame;
	size_t len;

	start_host_unix(&o, sock, sizeof(sock));
	cut = raw_ready(a, sock, "cut");
	slow = raw_ready(b, sock, "slow-but-fine");
	bytes = guest_info(cut).bytes_in;
	tu_raw_send(a, part, sizeof(part));
	t0 = now_us();
	WAIT_INFO(cut, bytes_in, bytes + sizeof(part), 1000);
	ck_assert_int_le(ms_host_get_timeout_us(W.host), 200000);
	/* b: each Ping in two halves, 100 ms apart: every frame completes. */
	for (int i = 0; i < 4; i++) {
		struct ms_msg m = { .type = MS_MSG_PING, .version = 1 };

		m.seq = ++b->seq;
		m.u.nonce = (uint64_t)i + 1;
		ck_assert_int_eq(ms_msg_encode(&m, 4096, &frame, &len), 0);
		tu_raw_send(b, frame, 3);
		pump_for(100);
		tu_raw_send(b, frame + 3, len - 3);
		free(frame);
		ck_assert_int_eq(raw_recv(b, 1000), MS_MSG_PONG);
		if (i == 1)
			ck_assert(W.h_gone == 1);   /* a is gone by now */
	}
	tu_raw_drain(a);
	ck_assert(a->closed);
	ck_assert_uint_eq(W.h_gone, 1);
	ck_assert_uint_eq(W.last_gone_id, cut);
	ck_assert_int_eq(W.last_gone_err, -ETIMEDOUT);
	ck_assert_msg(contains(W.last_gone_reason, "a frame begun 200 ms ago is still not "
			       "complete"), "'%s'", W.last_gone_reason);
	ck_assert_uint_eq(host_stats().dropped[MS_DROP_FRAME_TIMEOUT], 1);
	ck_assert_uint_ge(now_us() - t0, 400000);
	ck_assert_uint_eq(ms_host_find_guest(W.host, "slow-but-fine"), slow);
}
END_TEST

/* ---- Config ------------------------------------------------------------------ */

/* What the host puts in Welcome and Config. */
START_TEST(host_sends_config)
{
	static const uint64_t edges[2] = { 25000, 33000 };
	static const struct ms_psi_trigger_spec trig = { MS_PSI_KIND_FULL, 100000, 2000000 };
	MS_OPTS(ms_host_opts, o, .report_interval_ms = 250, .bin_edges_ms = edges,
		.nr_bin_edges = 2, .keepalive_ms = 1234, .psi_trigger = &trig);
	struct tu_raw *r = raw_new();
	struct ms_host *h = NULL;
	char sock[128];

	start_host_unix(&o, sock, sizeof(sock));
	tu_raw_open(r, sock);
	tu_raw_send_hello(r, "configured");
	ck_assert_int_eq(raw_recv(r, 2000), MS_MSG_WELCOME);
	ck_assert_uint_eq(r->msg.seq, 1);
	ck_assert_uint_eq(r->msg.u.welcome.report_interval_ms, 250);
	ck_assert_uint_eq(r->msg.u.welcome.nr_bin_edges, 2);
	ck_assert_int_eq(raw_recv(r, 2000), MS_MSG_CONFIG);
	ck_assert_uint_eq(r->msg.seq, 2);
	ck_assert_uint_eq(r->msg.in_reply_to, 0);
	ck_assert_uint_eq(r->msg.u.config.report_interval_ms, 250);
	ck_assert_uint_eq(r->msg.u.config.nr_bin_edges, 2);
	ck_assert_uint_eq(r->msg.u.config.bin_edges_ms[0], 25000);
	ck_assert_uint_eq(r->msg.u.config.bin_edges_ms[1], 33000);
	ck_assert_uint_eq(r->msg.u.config.keepalive_ms, 1234);
	ck_assert(r->msg.u.config.has_psi_trigger);
	ck_assert_uint_eq(r->msg.u.config.psi_trigger.kind, MS_PSI_KIND_FULL);
	ck_assert_uint_eq(r->msg.u.config.psi_trigger.stall_us, 100000);
	ck_assert_uint_eq(r->msg.u.config.psi_trigger.window_us, 2000000);

	/* Triggers the kernel would refuse are refused here already. */
	{
		struct ms_psi_trigger_spec bad[] = {
			{ MS_PSI_KIND_SOME, 100000, 400000 },      /* window < 500 ms */
			{ MS_PSI_KIND_SOME, 100000, 11000000 },    /* window > 10 s */
			{ MS_PSI_KIND_SOME, 0, 2000000 },          /* no stall */
			{ MS_PSI_KIND_SOME, 3000000, 2000000 },    /* stall > window */
			{ 2, 100000, 2000000 },                    /* no such kind */
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			MS_OPTS(ms_host_opts, b, .psi_trigger = &bad[i]);

			ck_assert_int_eq(ms_host_new(&h, &b), -EINVAL);
		}
		ck_assert_ptr_null(h);
	}
}
END_TEST

/* A fake host for the guest: listens on W.dir/h.sock; the guest's
 * connection becomes the raw peer @r, whose Hello is taken. */
static void fake_host_accept(int lfd, struct tu_raw *r)
{
	int fd = -1;
	uint64_t t0 = now_us();

	while (fd < 0 && now_us() - t0 < 2000000) {
		pump_for(5);
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	}
	ck_assert_msg(fd >= 0, "the guest never connected");
	tu_raw_adopt(r, fd);
	ck_assert_int_eq(raw_recv(r, 2000), MS_MSG_HELLO);
}

static void fake_welcome(struct tu_raw *r)
{
	struct ms_msg w = { .type = MS_MSG_WELCOME, .in_reply_to = r->msg.seq };

	w.u.welcome.proto_version = 1;
	tu_raw_send_msg(r, &w);
}

/*
 * A raw host @r on a fresh unix socket, and a guest (@o) connected to it
 * and welcomed; its first Report is next on @r.  Returns the listening fd
 * (kept until the test ends), for the guest's later connections.
 */
static int *fake_host_with_guest(struct ms_guest_opts *o, struct tu_raw *r)
{
	static char ep[160];
	char sock[128];
	int *lfd;

	path_in(sock, sizeof(sock), "h.sock");
	lfd = keep_fd(unix_listen(sock));
	snprintf(ep, sizeof(ep), "unix:%s", sock);
	o->connect = ep;
	start_guest_with(o);
	fake_host_accept(*lfd, r);
	fake_welcome(r);
	return lfd;
}

/* The guest follows Config: report interval, bin edges, keepalive. */
START_TEST(guest_applies_config)
{
	MS_OPTS(ms_guest_opts, o, .name = "obedient");
	struct ms_msg c = { .type = MS_MSG_CONFIG };
	struct tu_raw *r = raw_new();
	const struct ms_lru_node *n;
	uint64_t ps = ms_ctx_get_page_size(W.gctx), t_cfg, t_ping = 0, t_first = 0;
	unsigned reports = 0;

	fake_host_with_guest(&o, r);
	/* The first Report, at once, with the default bins. */
	ck_assert_int_eq(raw_recv(r, 2000), MS_MSG_REPORT);
	ck_assert_ptr_nonnull(r->msg.u.report.lru);
	ck_assert_uint_eq(r->msg.u.report.lru->nodes[0].nr_bins, 5);

	c.u.config.report_interval_ms = 100;
	c.u.config.nr_bin_edges = 2;
	c.u.config.bin_edges_ms[0] = 25000;
	c.u.config.bin_edges_ms[1] = 33000;
	c.u.config.keepalive_ms = 300;
	tu_raw_send_msg(r, &c);
	t_cfg = now_us();
	/* Reports every 100 ms with the new bins; a Ping once the host has
	 * been silent for 300 ms; gone after 900 ms of silence. */
	while (!r->closed && now_us() - t_cfg < 2000000) {
		if (!pump_until(50, tu_raw_cond_msg, r))
			continue;
		if (r->msg.type == MS_MSG_PING) {
			ck_assert_uint_eq(t_ping, 0);
			t_ping = now_us();
			continue;
		}
		ck_assert_int_eq(r->msg.type, MS_MSG_REPORT);
		if (!t_first)
			t_first = now_us();
		reports++;
		n = &r->msg.u.report.lru->nodes[0];
		/* Page counts of tests/fixtures/linux-6.1-guest (see test_session's
		 * bin_edges_from_host). */
		ck_assert_uint_eq(n->nr_bins, 3);
		ck_assert_uint_eq(n->bins[0].max_age_ms, 25000);
		ck_assert_uint_eq(n->bins[1].max_age_ms, 33000);
		ck_assert_uint_eq(n->bins[2].max_age_ms, MS_AGE_INFINITE);
		ck_assert_uint_eq(n->bins[0].anon_bytes, 24 * ps);
		ck_assert_uint_eq(n->bins[1].anon_bytes, 20496 * ps);
		ck_assert_uint_eq(n->bins[1].file_bytes, 25603 * ps);
		ck_assert_uint_eq(n->bins[2].anon_bytes, 871 * ps);
	}
	ck_assert(r->closed);
	ck_assert_uint_le(t_first - t_cfg, (100 + SLACK_MS) * 1000u);
	/* 900 ms at one per 100 ms. */
	ck_assert_msg(reports >= 6 && reports <= 10, "%u reports", reports);
	ck_assert_msg(t_ping, "no Ping from the guest");
	ck_assert_uint_ge(t_ping - t_cfg, 295000);
	ck_assert_uint_le(t_ping - t_cfg, (300 + SLACK_MS) * 1000u);
	WAIT_GE(W.g_disconnected, 1, 1000);
	ck_assert_uint_ge(now_us() - t_cfg, 895000);
	ck_assert_str_eq(W.g_disc_reason, "the host is silent");
	ck_assert_int_eq(W.g_disc_err, -ETIMEDOUT);
}
END_TEST

/* Open a PSI trigger on this machine's kernel ourselves: 0 or -errno. */
static int probe_psi_trigger(uint64_t stall_us, uint64_t window_us)
{
	char trig[64];
	int fd = open("/proc/pressure/memory", O_RDWR | O_NONBLOCK | O_CLOEXEC), len, r = 0;

	if (fd < 0)
		return -errno;
	len = snprintf(trig, sizeof(trig), "some %llu %llu", (unsigned long long)stall_us,
		       (unsigned long long)window_us);
	if (write(fd, trig, (size_t)len + 1) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Send Config with a PSI trigger and see what the guest makes of it. */
static void config_trigger(struct tu_raw *r, uint64_t window_us)
{
	struct ms_msg c = { .type = MS_MSG_CONFIG };
	int probe = probe_psi_trigger(150000, window_us);
	char want[160];

	/* No PSI in this kernel: the library says -EOPNOTSUPP. */
	if (probe == -ENOENT || probe == -EOPNOTSUPP)
		probe = -EOPNOTSUPP;
	c.u.config.has_psi_trigger = true;
	c.u.config.psi_trigger = (struct ms_psi_trigger_spec){ MS_PSI_KIND_SOME, 150000, window_us };
	tu_log_reset(&W.glog);
	tu_raw_send_msg(r, &c);
	if (probe == 0) {
		/* The kernel takes it: armed, nothing to complain about. */
		wait_log(W.glog.all, "PSI trigger armed", 2000);
		ck_assert(!contains(W.glog.all, "the host's PSI trigger"));
		return;
	}
	/* It does not: the guest says why, in its log and to the host. */
	snprintf(want, sizeof(want), "PSI trigger (some 150000 us per %llu us): %s",
		 (unsigned long long)window_us, strerror(-probe));
	wait_log(W.glog.all, want, 2000);
	wait_log(W.glog.all, "PSI trigger none", 2000);
	if (probe == -EINVAL && window_us % 2000000)
		ck_assert_msg(contains(W.glog.all, "without CAP_SYS_RESOURCE the window must be a "
				       "multiple of 2 s"), "log: %s", W.glog.all);
	ck_assert_int_eq(raw_recv(r, 2000), MS_MSG_ERROR);
	ck_assert_int_eq(r->msg.u.error.code, -probe);
	ck_assert_uint_eq(r->msg.in_reply_to, r->seq);
	ck_assert_msg(contains(r->msg.u.error.message, want), "'%s'", r->msg.u.error.message);
}

/* A PSI trigger from Config, against this machine's kernel (the guest
 * measures the live system here).  Without CAP_SYS_RESOURCE a kernel since
 * 6.5 wants windows that are multiples of 2 s: a 2 s window is armed, a
 * 1 s one refused with that explanation.  Whatever this kernel does, the
 * test probes it first and expects exactly that. */
START_TEST(guest_psi_trigger)
{
	MS_OPTS(ms_guest_opts, o, .name = "pressured", .mglru_aging_ms = MS_GUEST_NO_AGING);
	struct tu_raw *r = raw_new(), *f = raw_new();
	struct ms_msg none = { .type = MS_MSG_CONFIG };
	int *lfd;

	ck_assert_msg(access("/proc/pressure/memory", R_OK) == 0 || errno == ENOENT,
		      "/proc/pressure/memory: %m");
	ms_ctx_free(W.gctx);
	W.gctx = tu_new_ctx_log(NULL, &W.glog);      /* the live system */
	lfd = fake_host_with_guest(&o, r);
	ck_assert_int_eq(raw_recv(r, 2000), MS_MSG_REPORT);

	config_trigger(r, 2000000);
	config_trigger(r, 1000000);
	config_trigger(r, 2000000);
	/* Config without a trigger closes it. */
	tu_log_reset(&W.glog);
	tu_raw_send_msg(r, &none);
	wait_log(W.glog.all, "PSI trigger none", 2000);
	ck_assert(ms_guest_is_connected(W.guest));
	free_guest();

	/* A captured tree is no kernel: a trigger there is -EOPNOTSUPP. */
	{
		char root[128];

		use_fixture_copy(root, sizeof(root));
	}
	o.ctx = W.gctx;
	start_guest_with(&o);
	fake_host_accept(*lfd, f);
	fake_welcome(f);
	ck_assert_int_eq(raw_recv(f, 2000), MS_MSG_REPORT);
	{
		struct ms_msg c = { .type = MS_MSG_CONFIG };

		c.u.config.has_psi_trigger = true;
		c.u.config.psi_trigger = (struct ms_psi_trigger_spec){ MS_PSI_KIND_FULL, 100000,
								      2000000 };
		tu_raw_send_msg(f, &c);
	}
	ck_assert_int_eq(raw_recv(f, 2000), MS_MSG_ERROR);
	ck_assert_int_eq(f->msg.u.error.code, EOPNOTSUPP);
	ck_assert_msg(contains(f->msg.u.error.message, "PSI trigger (full 100000 us per 2000000 us)"),
		      "'%s'", f->msg.u.error.message);
	ck_assert_msg(contains(W.glog.all, "not procfs or cgroup2"), "log: %s", W.glog.all);
	ck_assert(ms_guest_is_connected(W.guest));
}
END_TEST

/* ---- reclaim floor ------------------------------------------------------------ */

/* tests/fixtures/linux-6.1-guest vm-a/memory.stat: file 104873984.  With a
 * floor of 100 MiB (104857600) only 16384 bytes of page cache may go: a
 * 64 MiB request is cut to that and says how much it left out. */
START_TEST(reclaim_floor)
{
	MS_OPTS(ms_guest_opts, o, .name = "floored", .reclaim_memcg = "vm-a",
		.reclaim_floor_bytes = 100 * MIB);
	MS_OPTS(ms_host_opts, ho);
	struct ms_reclaim_request req = { .kinds = MS_RECLAIM_FILE, .bytes = 64 * MIB };
	char root[128], sock[128], ep[160];
	uint64_t id, rid;

	use_fixture_copy(root, sizeof(root));
	start_host_unix(&ho, sock, sizeof(sock));
	snprintf(ep, sizeof(ep), "unix:%s", sock);
	o.connect = ep;
	start_guest_with(&o);
	WAIT_GE(W.h_ready, 1, 3000);
	id = W.last_ready_id;

	ck_assert_int_eq(ms_host_reclaim(W.host, id, &req, &rid), 0);
	WAIT_GE(W.h_replies, 1, 3000);
	ck_assert_uint_eq(W.last_reply.id, rid);
	ck_assert_int_eq(W.last_reply.result.status, 0);
	ck_assert_uint_eq(W.last_reply.result.method, 1u << MS_RECLAIM_METHOD_MEMCG);
	ck_assert_uint_eq(W.last_reply.result.requested_bytes, 64 * MIB);
	ck_assert_uint_eq(W.last_reply.result.capped_bytes, 64 * MIB - 16384);
	ck_assert_uint_eq(W.last_reply.result.freed_bytes, 0);   /* a captured tree */
	ck_assert_str_eq(tu_read_text(root, "sys/fs/cgroup/vm-a/memory.reclaim"),
			 "16384 swappiness=0");
	ck_assert_uint_eq(W.g_last_reply.result.capped_bytes, 64 * MIB - 16384);
	ck_assert_msg(contains(W.glog.all, "capped by the floor"), "log: %s", W.glog.all);

	/* Within what the floor allows: not capped. */
	req.bytes = 8192;
	ck_assert_int_eq(ms_host_reclaim(W.host, id, &req, &rid), 0);
	WAIT_GE(W.h_replies, 2, 3000);
	ck_assert_int_eq(W.last_reply.result.status, 0);
	ck_assert_uint_eq(W.last_reply.result.capped_bytes, 0);
	ck_assert_uint_eq(W.last_reply.result.requested_bytes, 8192);
	ck_assert_str_eq(tu_read_text(root, "sys/fs/cgroup/vm-a/memory.reclaim"),
			 "8192 swappiness=0");
	free_guest();

	/* A floor above the page cache: nothing may go, nothing is written. */
	tu_put_str(root, "sys/fs/cgroup/vm-a/memory.reclaim", "");
	o.reclaim_floor_bytes = 200 * MIB;
	start_guest_with(&o);
	WAIT_GE(W.h_ready, 2, 3000);
	req.bytes = 4 * MIB;
	ck_assert_int_eq(ms_host_reclaim(W.host, W.last_ready_id, &req, &rid), 0);
	WAIT_GE(W.h_replies, 3, 3000);
	ck_assert_int_eq(W.last_reply.result.status, 0);
	ck_assert_uint_eq(W.last_reply.result.capped_bytes, 4 * MIB);
	ck_assert_uint_eq(W.last_reply.result.requested_bytes, 4 * MIB);
	ck_assert_uint_eq(W.last_reply.result.freed_bytes, 0);
	ck_assert_str_eq(tu_read_text(root, "sys/fs/cgroup/vm-a/memory.reclaim"), "");
}
END_TEST

static Suite *transport_suite(void)
{
	Suite *s = suite_create("transport");
	TCase *tc;

	tc = tcase_create("hvsock");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, hvsock_host_to_guest);
	tcase_add_test(tc, hvsock_refused_backoff);
	tcase_add_test(tc, hvsock_answers);
	tcase_add_test(tc, hvsock_no_answer);
	tcase_add_test(tc, hvsock_payload_after_ok);
	tcase_add_test(tc, hvsock_guest_to_host);
	tcase_add_test(tc, endpoint_hvsock_serial_parse);
	suite_add_tcase(s, tc);

	tc = tcase_create("serial");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, serial_handshake);
	tcase_add_test(tc, serial_host_restart);
	tcase_add_test(tc, serial_guest_restart);
	tcase_add_test(tc, serial_garbage_from_guest);
	tcase_add_test(tc, serial_garbage_from_host);
	tcase_add_test(tc, serial_stale_hellos);
	suite_add_tcase(s, tc);

	tc = tcase_create("peers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, host_unix_peer_uid);
	tcase_add_test(tc, guest_listen_peer_uid);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, rate_limit);
	tcase_add_test(tc, report_validation);
	tcase_add_test(tc, keepalive_host);
	tcase_add_test(tc, frame_timeout);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, host_sends_config);
	tcase_add_test(tc, guest_applies_config);
	tcase_add_test(tc, guest_psi_trigger);
	tcase_add_test(tc, reclaim_floor);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(transport_suite());
}
