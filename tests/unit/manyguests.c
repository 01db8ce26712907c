/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manyguests: one host, many honest guests and a hostile peer in one
 * process, on three threads; see manyguests.h.
 */
#include "manyguests.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto/codec.h"
#include "proto/frame.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define MG_HAVE_VALGRIND_H 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define MG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MG_ASAN 1
#endif
#endif

#define MG_POLL_STEP_MS 50
#define MG_START_TIMEOUT_US (30u * 1000000u)
#define MG_RECLAIM_BYTES (4ull << 20)
#define MG_DRIP_US 100000u          /* slowloris: one byte per 100 ms */
#define MG_INVALID_GAP_US 5000u     /* invalid Reports: 200/s */
#define MG_RECONNECT_GAP_US 2000u   /* connect() failed: retry after */
#define MG_STUCK_US 5000000u        /* garbage the host never answered */
#define MG_FLOOD_COPIES 64

/* ---- small things ----------------------------------------------------------- */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* CPU time of the calling thread. */
static uint64_t cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_us(uint64_t us)
{
	struct timespec ts = { .tv_sec = (time_t)(us / 1000000u),
			       .tv_nsec = (long)(us % 1000000u) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int fail(char *err, size_t size, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t size, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && size) {
		va_start(ap, fmt);
		vsnprintf(err, size, fmt, ap);
		va_end(ap);
	}
	return r;
}

bool mg_under_valgrind(void)
{
#ifdef MG_HAVE_VALGRIND_H
	return RUNNING_ON_VALGRIND != 0;
#else
	const char *p = getenv("LD_PRELOAD");

	return p && strstr(p, "vgpreload") != NULL;
#endif
}

bool mg_heap_unknown(void)
{
#ifdef MG_ASAN
	return true;
#else
	return mg_under_valgrind();
#endif
}

static long long heap_in_use(void)
{
	struct mallinfo2 mi;

	if (mg_heap_unknown())
		return -1;
	mi = mallinfo2();
	return (long long)(mi.uordblks + mi.hblkhd);
}

static const char *const hostile_names[MG__COUNT] = {
	[MG_NONE] = "none", [MG_GARBAGE] = "garbage", [MG_SLOWLORIS] = "slowloris",
	[MG_FLOOD] = "flood", [MG_INVALID] = "invalid", [MG_NOHELLO] = "nohello",
	[MG_ALL] = "all",
};

const char *mg_hostile_name(enum mg_hostile mode)
{
	return (unsigned)mode < MG__COUNT ? hostile_names[mode] : "?";
}

int mg_hostile_parse(const char *name)
{
	for (int i = 0; name && i < MG__COUNT; i++)
		if (strcmp(name, hostile_names[i]) == 0)
			return i;
	return -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t mg_percentile(const uint64_t *samples, size_t n, double p)
{
	uint64_t *s, v;
	size_t i;

	if (!n)
		return 0;
	s = malloc(n * sizeof(*s));
	if (!s)
		return 0;
	memcpy(s, samples, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_u64);
	i = (size_t)((p / 100.0) * (double)(n - 1) + 0.5);
	v = s[i < n ? i : n - 1];
	free(s);
	return v;
}

struct samples {
	uint64_t *v;
	size_t n, cap;
};

static void samples_add(struct samples *s, uint64_t x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint64_t *nv = realloc(s->v, cap * sizeof(*nv));

		if (!nv)
			return;      /* a lost sample, not a crash */
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = x;
}

/* ---- the world ---------------------------------------------------------------- */

/* One honest guest as the host thread sees it. */
struct host_view {
	uint64_t id;                   /* 0: not ready */
	uint64_t reports_seen;
	uint64_t reclaims_issued, reclaims_refused, reclaims_replied, reclaims_failed;
	uint64_t gone;
	bool pending;
	uint64_t reclaim_t0;
	/* Filled at snapshots (ms_host_guest_info of the current connection
	 * plus those of connections that went away). */
	uint64_t rate_dropped, invalid;
};

/* One honest guest as the guests thread sees it. */
struct guest_slot {
	struct mg *w;
	unsigned idx;
	struct ms_ctx *ctx;
	struct ms_guest *g;
	uint64_t reports_sent, reclaims_done, connects, disconnects;
};

struct hostile;

struct mg {
	struct mg_config cfg;
	char dir[64];
	char sock[96];
	char endpoint[112];

	/* Host thread: everything below under host_lock. */
	pthread_mutex_t host_lock;
	pthread_t host_th;
	int host_ev;                   /* eventfd: wake the host thread */
	struct ms_ctx *hctx;
	struct ms_host *host;
	struct host_view *hv;          /* [nr_guests] */
	struct samples rep_rtt, rec_rtt, round_cpu;
	uint64_t outstanding;          /* reclaim requests out */
	uint64_t next_round_us;
	uint64_t reclaim_rounds;
	bool reclaim_on;
	uint64_t host_rounds, process_max_us, process_max_cpu_us;
	uint64_t log_lines, log_warnings;
	uint64_t hostile_ready, hostile_gone, hostile_reports;
	uint64_t conns_max, conns_now;
	atomic_int host_error;         /* ms_host_process failed */

	/* Guests thread: under guests_lock. */
	pthread_mutex_t guests_lock;
	pthread_t guests_th;
	int guests_ev;
	struct guest_slot *gs;         /* [nr_guests] */
	atomic_int guests_error;

	atomic_bool stop;
	bool host_started, guests_started;

	/* What the hostile peer sends, made once (read-only for its thread). */
	struct ms_hello evil_hello;
	uint8_t *report_frame;
	size_t report_frame_len;
	uint8_t *invalid_frames[4];
	size_t invalid_len[4];
	unsigned nr_invalid;
	uint64_t phase_seed;
};

unsigned mg_report_interval_ms(const struct mg *w)
{
	return w->cfg.report_interval_ms;
}

static void wake(int evfd)
{
	uint64_t one = 1;

	if (evfd >= 0 && write(evfd, &one, sizeof(one)) < 0) {
		/* the counter is full: the thread will wake anyway */
	}
}

static void drain_ev(int evfd)
{
	uint64_t v;

	if (read(evfd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing to drain */
	}
}

/* ---- sysroots ---------------------------------------------------------------- */

static int put_file(const char *root, const char *rel, const char *text)
{
	char path[PATH_MAX];
	size_t len = strlen(text);
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", root, rel) >= sizeof(path))
		return -ENAMETOOLONG;
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len) {
		int r = errno ? -errno : -EIO;

		close(fd);
		return r;
	}
	return close(fd) < 0 ? -errno : 0;
}

/*
 * A guest machine that is cheap to measure and to reclaim: the few /proc
 * files a Report reads (classic LRU from /proc/meminfo, no MGLRU: no aging),
 * and a cgroup v2 root whose memory.reclaim is a plain file (the write
 * succeeds, memory.stat does not change: status 0, 0 bytes freed), the way
 * tests/unit/test_reclaim.c and test_session.c fake a kernel.
 */
static int make_sysroot(const char *root)
{
	static const struct {
		const char *rel, *text;
	} files[] = {
		{ "proc/meminfo",
		  "MemTotal:        1048576 kB\n"
		  "MemFree:          524288 kB\n"
		  "MemAvailable:     786432 kB\n"
		  "Buffers:           16384 kB\n"
		  "Cached:           262144 kB\n"
		  "Active:           200000 kB\n"
		  "Inactive:         150000 kB\n"
		  "Active(anon):     100000 kB\n"
		  "Inactive(anon):    50000 kB\n"
		  "Active(file):     100000 kB\n"
		  "Inactive(file):   100000 kB\n"
		  "Unevictable:           0 kB\n"
		  "SwapTotal:             0 kB\n"
		  "SwapFree:              0 kB\n"
		  "Shmem:              1024 kB\n"
		  "SReclaimable:      20480 kB\n" },
		{ "proc/vmstat",
		  "nr_free_pages 131072\n"
		  "pgscan_kswapd 1000\n"
		  "pgscan_direct 0\n"
		  "pgsteal_kswapd 900\n"
		  "pgsteal_direct 0\n"
		  "workingset_refault_anon 0\n"
		  "workingset_refault_file 12\n"
		  "pswpin 0\n"
		  "pswpout 0\n" },
		{ "proc/pressure/memory",
		  "some avg10=0.00 avg60=0.00 avg300=0.00 total=1000\n"
		  "full avg10=0.00 avg60=0.00 avg300=0.00 total=500\n" },
		{ "proc/sys/kernel/random/boot_id", "0b5e6c1e-0000-4000-8000-000000000000\n" },
		{ "sys/fs/cgroup/memory.stat",
		  "anon 104857600\nfile 209715200\nslab_reclaimable 10485760\nslab 12582912\n" },
		{ "sys/fs/cgroup/memory.reclaim", "" },
	};

	if (mkdir(root, 0755) < 0 && errno != EEXIST)
		return -errno;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		int r = put_file(root, files[i].rel, files[i].text);

		if (r < 0)
			return r;
	}
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* ---- host thread --------------------------------------------------------------- */

static void host_log(enum ms_log_level level, const char *msg, void *userdata)
{
	struct mg *w = userdata;

	/* Called from the host thread with host_lock held. */
	w->log_lines++;
	if (level <= MS_LOG_WARNING)
		w->log_warnings++;
	if (w->cfg.verbose)
		fprintf(stderr, "host <%d> %s\n", level, msg);
}

static int honest_index(const struct mg *w, const char *name)
{
	char *end;
	unsigned long i;

	if (strncmp(name, "honest-", 7) != 0)
		return -1;
	i = strtoul(name + 7, &end, 10);
	return *end || i >= w->cfg.nr_guests ? -1 : (int)i;
}

static int find_honest(const struct mg *w, uint64_t id)
{
	for (unsigned i = 0; i < w->cfg.nr_guests; i++)
		if (w->hv[i].id == id)
			return (int)i;
	return -1;
}

/* Keep the counters of a connection that goes away. */
static void fold_info(struct mg *w, struct host_view *v)
{
	struct ms_guest_info info;

	if (v->id && ms_host_guest_info(w->host, v->id, &info) == 0) {
		v->rate_dropped += info.reports_rate_dropped;
		v->invalid += info.reports_invalid;
	}
}

static void round_done(struct mg *w)
{
	w->reclaim_rounds++;
	w->next_round_us = now_us() + (uint64_t)w->cfg.reclaim_gap_ms * 1000u;
}

/* The host's event callback: host thread, host_lock held. */
static void on_host_event(struct ms_host *h, const struct ms_host_event *ev, void *userdata)
{
	struct mg *w = userdata;
	uint64_t now = now_us();
	int i;

	(void)h;
	if (ev->type == MS_HOST_EVENT_GUEST_READY) {
		i = honest_index(w, ev->hello->guest_name);
		if (i < 0) {
			w->hostile_ready++;
			return;
		}
		w->hv[i].id = ev->guest_id;
		return;
	}
	i = find_honest(w, ev->guest_id);
	if (i < 0) {
		if (ev->type == MS_HOST_EVENT_GUEST_GONE)
			w->hostile_gone++;
		else if (ev->type == MS_HOST_EVENT_REPORT)
			w->hostile_reports++;
		return;
	}
	switch (ev->type) {
	case MS_HOST_EVENT_REPORT:
		w->hv[i].reports_seen++;
		samples_add(&w->rep_rtt,
			    now >= ev->report->mono_us ? now - ev->report->mono_us : 0);
		break;
	case MS_HOST_EVENT_RECLAIM_REPLY:
		if (!w->hv[i].pending)
			break;
		w->hv[i].pending = false;
		w->hv[i].reclaims_replied++;
		if (ev->reply->result.status != 0)
			w->hv[i].reclaims_failed++;
		samples_add(&w->rec_rtt, now - w->hv[i].reclaim_t0);
		if (--w->outstanding == 0)
			round_done(w);
		break;
	case MS_HOST_EVENT_GUEST_GONE:
		/* The record is still there: keep its counters. */
		fold_info(w, &w->hv[i]);
		w->hv[i].gone++;
		w->hv[i].id = 0;
		if (w->hv[i].pending) {
			w->hv[i].pending = false;
			if (--w->outstanding == 0)
				round_done(w);
		}
		break;
	default:
		break;
	}
}

/* A reclaim request to every honest guest (host thread, host_lock held). */
static void reclaim_round(struct mg *w)
{
	struct ms_reclaim_request req = { .bytes = MG_RECLAIM_BYTES, .kinds = MS_RECLAIM_FILE };

	for (unsigned i = 0; i < w->cfg.nr_guests; i++) {
		struct host_view *v = &w->hv[i];
		uint64_t t0;
		int r;

		if (!v->id || v->pending)
			continue;
		t0 = now_us();
		r = ms_host_reclaim(w->host, v->id, &req, NULL);
		if (r < 0) {
			v->reclaims_refused++;
			continue;
		}
		v->pending = true;
		v->reclaim_t0 = t0;
		v->reclaims_issued++;
		w->outstanding++;
	}
	if (!w->outstanding)
		round_done(w);
}

static uint64_t live_conns(const struct ms_host_stats *s)
{
	uint64_t dropped = 0;

	for (int i = 0; i < MS_DROP__COUNT; i++)
		dropped += s->dropped[i];
	return s->accepted >= dropped ? s->accepted - dropped : 0;
}

static void *host_main(void *arg)
{
	struct mg *w = arg;

	pthread_setname_np(pthread_self(), "mg-host");
	while (!atomic_load(&w->stop)) {
		struct pollfd p[2];
		struct ms_host_stats st;
		int64_t t, wait = MG_POLL_STEP_MS * 1000;
		uint64_t now, t0, c0, dt;
		int r;

		pthread_mutex_lock(&w->host_lock);
		t = ms_host_get_timeout_us(w->host);
		if (t >= 0 && t < wait)
			wait = t;
		now = now_us();
		if (w->reclaim_on && !w->outstanding) {
			int64_t d = w->next_round_us > now ? (int64_t)(w->next_round_us - now) : 0;

			if (d < wait)
				wait = d;
		}
		p[0] = (struct pollfd){ .fd = ms_host_get_fd(w->host), .events = POLLIN };
		pthread_mutex_unlock(&w->host_lock);
		p[1] = (struct pollfd){ .fd = w->host_ev, .events = POLLIN };
		if (poll(p, 2, (int)((wait + 999) / 1000)) < 0 && errno != EINTR) {
			w->host_error = -errno;
			break;
		}
		if (p[1].revents)
			drain_ev(w->host_ev);

		pthread_mutex_lock(&w->host_lock);
		t0 = now_us();
		c0 = cpu_us();
		r = ms_host_process(w->host);
		dt = now_us() - t0;
		w->host_rounds++;
		c0 = cpu_us() - c0;
		samples_add(&w->round_cpu, c0);
		if (dt > w->process_max_us) {
			w->process_max_us = dt;
			w->process_max_cpu_us = c0;
		}
		if (r < 0)
			w->host_error = r;
		if (w->reclaim_on && !w->outstanding && now_us() >= w->next_round_us)
			reclaim_round(w);
		if (ms_host_get_stats(w->host, &st) == 0) {
			w->conns_now = live_conns(&st);
			if (w->conns_now > w->conns_max)
				w->conns_max = w->conns_now;
		}
		pthread_mutex_unlock(&w->host_lock);
		if (r < 0)
			break;
	}
	return NULL;
}

/* ---- guests thread -------------------------------------------------------------- */

/* Guests thread, guests_lock held. */
static void on_guest_event(struct ms_guest *g, const struct ms_guest_event *ev, void *userdata)
{
	struct guest_slot *s = userdata;

	(void)g;
	switch (ev->type) {
	case MS_GUEST_EVENT_CONNECTED:
		s->connects++;
		break;
	case MS_GUEST_EVENT_REPORT_SENT:
		s->reports_sent++;
		break;
	case MS_GUEST_EVENT_RECLAIM_DONE:
		s->reclaims_done++;
		break;
	case MS_GUEST_EVENT_DISCONNECTED:
		s->disconnects++;
		if (s->w->cfg.verbose)
			fprintf(stderr, "honest-%02u disconnected: %s\n", s->idx, ev->reason);
		break;
	default:
		break;
	}
}

static void *guests_main(void *arg)
{
	struct mg *w = arg;
	unsigned n = w->cfg.nr_guests;
	struct pollfd *p = calloc(n + 1, sizeof(*p));
	int64_t *due = calloc(n, sizeof(*due));

	pthread_setname_np(pthread_self(), "mg-guests");
	if (!p || !due) {
		w->guests_error = -ENOMEM;
		free(p);
		free(due);
		return NULL;
	}
	while (!atomic_load(&w->stop)) {
		int64_t wait = MG_POLL_STEP_MS * 1000;

		pthread_mutex_lock(&w->guests_lock);
		for (unsigned i = 0; i < n; i++) {
			due[i] = ms_guest_get_timeout_us(w->gs[i].g);
			if (due[i] >= 0 && due[i] < wait)
				wait = due[i];
			p[i] = (struct pollfd){ .fd = ms_guest_get_fd(w->gs[i].g),
						.events = POLLIN };
		}
		pthread_mutex_unlock(&w->guests_lock);
		p[n] = (struct pollfd){ .fd = w->guests_ev, .events = POLLIN };
		if (poll(p, n + 1, (int)((wait + 999) / 1000)) < 0 && errno != EINTR) {
			w->guests_error = -errno;
			break;
		}
		if (p[n].revents)
			drain_ev(w->guests_ev);
		pthread_mutex_lock(&w->guests_lock);
		for (unsigned i = 0; i < n; i++) {
			int r;

			/* Only the guests with something to do. */
			if (!p[i].revents && ms_guest_get_timeout_us(w->gs[i].g) != 0)
				continue;
			r = ms_guest_process(w->gs[i].g);
			if (r < 0)
				w->guests_error = r;
		}
		pthread_mutex_unlock(&w->guests_lock);
	}
	free(p);
	free(due);
	return NULL;
}

/* ---- the hostile peer ------------------------------------------------------------ */

enum actor_kind {
	A_GARBAGE,
	A_SLOW_HELLO,      /* drips a Hello */
	A_SLOW_REPORT,     /* Hello at once, then drips a Report */
	A_FLOOD,
	A_INVALID,
	A_NOHELLO,
};

struct actor {
	enum actor_kind kind;
	unsigned nr;               /* which one of its kind */
	int fd;
	unsigned conns;            /* connections made */
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	size_t drip_at;            /* bytes from here go one per MG_DRIP_US */
	bool drip;
	uint64_t next_us;          /* reconnect, drip or pacing time */
	uint64_t since_us;         /* connected at */
	unsigned invalid_next;
};

struct hostile {
	struct mg *w;
	enum mg_hostile mode;
	struct actor *a;
	size_t n;
	pthread_t th;
	atomic_bool stop;
	int ev;
	uint64_t rng;
	uint8_t *garbage;          /* one max-size frame of random bytes */
	size_t garbage_len;
	uint8_t *flood;            /* MG_FLOOD_COPIES valid Reports */
	size_t flood_len;
	struct mg_hostile_counters c;
	int error;
};

static const char *const actor_names[] = {
	[A_GARBAGE] = "garbage", [A_SLOW_HELLO] = "slowhello", [A_SLOW_REPORT] = "slowreport",
	[A_FLOOD] = "flood", [A_INVALID] = "invalid", [A_NOHELLO] = "nohello",
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static int queue_bytes(struct actor *a, const void *data, size_t len)
{
	if (a->out_off == a->out_len)
		a->out_off = a->out_len = 0;
	if (a->out_len + len > a->out_cap) {
		size_t cap = a->out_cap ? a->out_cap : 4096;
		uint8_t *nb;

		while (cap < a->out_len + len)
			cap *= 2;
		nb = realloc(a->out, cap);
		if (!nb)
			return -ENOMEM;
		a->out = nb;
		a->out_cap = cap;
	}
	memcpy(a->out + a->out_len, data, len);
	a->out_len += len;
	return 0;
}

static int queue_hello(struct hostile *hs, struct actor *a)
{
	struct ms_msg m = { .type = MS_MSG_HELLO, .version = 1, .seq = 1 };
	uint8_t *frame;
	size_t len;
	int r;

	m.u.hello = hs->w->evil_hello;
	snprintf(m.u.hello.guest_name, sizeof(m.u.hello.guest_name), "evil-%s-%u-%u",
		 actor_names[a->kind], a->nr, a->conns);
	r = ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &frame, &len);
	if (r < 0)
		return r;
	r = queue_bytes(a, frame, len);
	free(frame);
	hs->c.frames++;
	return r;
}

static void actor_close(struct actor *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	a->out_len = a->out_off = 0;
	a->drip = false;
}

/* The host closed (or reset) the connection: at once again. */
static void actor_dropped(struct hostile *hs, struct actor *a)
{
	hs->c.closed_by_host++;
	actor_close(a);
	a->next_us = 0;
}

/* Send what may be sent now.  0, or -EPIPE if the host closed. */
static int actor_flush(struct hostile *hs, struct actor *a)
{
	while (a->out_off < a->out_len) {
		size_t limit = a->out_len;
		ssize_t n;

		if (a->drip) {
			if (a->out_off >= a->drip_at) {
				if (now_us() < a->next_us)
					return 0;
				a->next_us = now_us() + MG_DRIP_US;
				limit = a->out_off + 1;
			} else {
				limit = a->drip_at;
			}
		}
		n = send(a->fd, a->out + a->out_off, limit - a->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -EPIPE;
		}
		a->out_off += (size_t)n;
		hs->c.bytes += (uint64_t)n;
	}
	return 0;
}

static void actor_connect(struct hostile *hs, struct actor *a)
{
	struct mg *w = hs->w;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t now = now_us();
	int fd;

	memcpy(sa.sun_path, w->sock, strlen(w->sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		hs->c.connect_refused++;
		a->next_us = now + MG_RECONNECT_GAP_US;
		return;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		hs->c.connect_refused++;
		a->next_us = now + MG_RECONNECT_GAP_US;
		return;
	}
	hs->c.connects++;
	a->fd = fd;
	a->since_us = now;
	a->out_len = a->out_off = 0;
	a->drip = false;
	switch (a->kind) {
	case A_GARBAGE:
		/* In turn: an oversized header, a max-size frame of random
		 * bytes before Hello, and the same after Hello. */
		switch (a->conns % 3) {
		case 0: {
			static const uint8_t big[4] = { 0x00, 0x10, 0x00, 0x00 };   /* 1 MiB */

			queue_bytes(a, big, sizeof(big));
			queue_bytes(a, hs->garbage + 4, 4096);
			break;
		}
		case 2:
			queue_hello(hs, a);
			/* fall through */
		case 1:
			queue_bytes(a, hs->garbage, hs->garbage_len);
			hs->c.frames++;
			break;
		}
		break;
	case A_SLOW_HELLO:
		queue_hello(hs, a);
		a->drip = true;
		a->drip_at = 0;
		a->next_us = now;
		break;
	case A_SLOW_REPORT:
		queue_hello(hs, a);
		a->drip_at = a->out_len;
		queue_bytes(a, w->report_frame, w->report_frame_len);
		hs->c.frames++;
		a->drip = true;
		a->next_us = now;
		break;
	case A_FLOOD:
	case A_INVALID:
		queue_hello(hs, a);
		a->next_us = now;
		break;
	case A_NOHELLO:
		break;
	}
	a->conns++;
	if (actor_flush(hs, a) < 0)
		actor_dropped(hs, a);
}

/* Read and drop what the host sent; notice that it closed. */
static void actor_readable(struct hostile *hs, struct actor *a)
{
	uint8_t buf[16384];

	for (;;) {
		ssize_t n = recv(a->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0) {
			hs->c.bytes_in += (uint64_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			actor_dropped(hs, a);
		return;
	}
}

/* Timers and refills of a connected actor. */
static void actor_tick(struct hostile *hs, struct actor *a, uint64_t now)
{
	struct mg *w = hs->w;

	switch (a->kind) {
	case A_GARBAGE:
		if (now > a->since_us && now - a->since_us > MG_STUCK_US) {
			hs->c.gave_up++;
			actor_close(a);     /* the host never dropped it: try again */
			a->next_us = 0;
			return;
		}
		break;
	case A_FLOOD:
		/* Top up until the socket is full (a few times at most, so
		 * that the loop comes back to the others and to stop). */
		for (int k = 0; k < 4 && a->out_off == a->out_len; k++) {
			queue_bytes(a, hs->flood, hs->flood_len);
			hs->c.frames += MG_FLOOD_COPIES;
			if (actor_flush(hs, a) < 0) {
				actor_dropped(hs, a);
				return;
			}
		}
		break;
	case A_INVALID:
		if (now >= a->next_us && w->nr_invalid) {
			unsigned k = a->invalid_next++ % w->nr_invalid;

			queue_bytes(a, w->invalid_frames[k], w->invalid_len[k]);
			hs->c.frames++;
			a->next_us = now + MG_INVALID_GAP_US;
		}
		break;
	default:
		break;
	}
	if (a->fd >= 0 && actor_flush(hs, a) < 0)
		actor_dropped(hs, a);
}

static void *hostile_main(void *arg)
{
	struct hostile *hs = arg;
	struct pollfd *p = calloc(hs->n + 1, sizeof(*p));
	size_t *who = calloc(hs->n + 1, sizeof(*who));

	pthread_setname_np(pthread_self(), "mg-hostile");
	if (!p || !who) {
		hs->error = -ENOMEM;
		free(p);
		free(who);
		return NULL;
	}
	while (!atomic_load(&hs->stop)) {
		uint64_t now = now_us(), next = now + 20000;
		nfds_t np = 0;

		for (size_t i = 0; i < hs->n; i++) {
			struct actor *a = &hs->a[i];

			if (a->fd < 0) {
				if (now >= a->next_us)
					actor_connect(hs, a);
				if (a->fd < 0) {
					if (a->next_us < next)
						next = a->next_us;
					continue;
				}
			}
			actor_tick(hs, a, now);
			if (a->fd < 0) {
				next = now;
				continue;
			}
			p[np] = (struct pollfd){ .fd = a->fd, .events = POLLIN };
			if (a->out_off < a->out_len && !(a->drip && a->out_off >= a->drip_at))
				p[np].events |= POLLOUT;
			if ((a->drip || a->kind == A_INVALID) && a->next_us < next)
				next = a->next_us;
			/* A flood that the socket took whole: more at once. */
			if (a->kind == A_FLOOD && a->out_off == a->out_len)
				next = now;
			who[np++] = i;
		}
		p[np] = (struct pollfd){ .fd = hs->ev, .events = POLLIN };
		now = now_us();
		if (poll(p, np + 1, next > now ? (int)((next - now + 999) / 1000) : 0) < 0 &&
		    errno != EINTR) {
			hs->error = -errno;
			break;
		}
		for (nfds_t k = 0; k < np; k++) {
			struct actor *a = &hs->a[who[k]];

			if (a->fd < 0 || !p[k].revents)
				continue;
			if (p[k].revents & (POLLIN | POLLHUP | POLLERR))
				actor_readable(hs, a);
			if (a->fd >= 0 && (p[k].revents & POLLOUT) && actor_flush(hs, a) < 0)
				actor_dropped(hs, a);
		}
	}
	for (size_t i = 0; i < hs->n; i++) {
		actor_close(&hs->a[i]);
		free(hs->a[i].out);
	}
	free(p);
	free(who);
	return NULL;
}

static unsigned conns_of(const struct mg *w, enum mg_hostile mode, enum mg_hostile kind)
{
	unsigned n = w->cfg.hostile_conns[kind];

	if (mode == kind)
		return n;
	if (mode != MG_ALL)
		return 0;
	n /= 4;
	return n ? n : 1;
}

unsigned mg_hostile_actors(const struct mg *w, enum mg_hostile mode)
{
	unsigned n = 0;

	for (int k = MG_GARBAGE; k <= MG_NOHELLO; k++)
		n += conns_of(w, mode, (enum mg_hostile)k);
	if (mode == MG_ALL && conns_of(w, mode, MG_SLOWLORIS) < 2)
		n += 2 - conns_of(w, mode, MG_SLOWLORIS);
	return n;
}

static void hostile_free(struct hostile *hs)
{
	if (!hs)
		return;
	if (hs->ev >= 0)
		close(hs->ev);
	free(hs->a);
	free(hs->garbage);
	free(hs->flood);
	free(hs);
}

static int hostile_start(struct mg *w, enum mg_hostile mode, struct hostile **out)
{
	struct hostile *hs = calloc(1, sizeof(*hs));
	unsigned n_garbage, n_slow, n_flood, n_invalid, n_nohello;
	size_t k = 0;
	int r;

	if (!hs)
		return -ENOMEM;
	hs->ev = -1;
	hs->w = w;
	hs->mode = mode;
	hs->rng = w->phase_seed ? w->phase_seed : 0x9e3779b97f4a7c15ull;
	n_garbage = conns_of(w, mode, MG_GARBAGE);
	n_slow = conns_of(w, mode, MG_SLOWLORIS);
	n_flood = conns_of(w, mode, MG_FLOOD);
	n_invalid = conns_of(w, mode, MG_INVALID);
	n_nohello = conns_of(w, mode, MG_NOHELLO);
	if (mode == MG_ALL && n_slow < 2)
		n_slow = 2;
	hs->n = n_garbage + n_slow + n_flood + n_invalid + n_nohello;
	hs->a = calloc(hs->n ? hs->n : 1, sizeof(*hs->a));
	hs->ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!hs->a || hs->ev < 0) {
		hostile_free(hs);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n_garbage; i++)
		hs->a[k++] = (struct actor){ .kind = A_GARBAGE, .nr = i };
	for (unsigned i = 0; i < n_slow; i++)
		hs->a[k++] = (struct actor){ .kind = i % 2 ? A_SLOW_REPORT : A_SLOW_HELLO,
					     .nr = i };
	for (unsigned i = 0; i < n_flood; i++)
		hs->a[k++] = (struct actor){ .kind = A_FLOOD, .nr = i };
	for (unsigned i = 0; i < n_invalid; i++)
		hs->a[k++] = (struct actor){ .kind = A_INVALID, .nr = i };
	for (unsigned i = 0; i < n_nohello; i++)
		hs->a[k++] = (struct actor){ .kind = A_NOHELLO, .nr = i };
	for (size_t i = 0; i < hs->n; i++)
		hs->a[i].fd = -1;

	/* A max-size frame (header + payload = the host's 64 KiB limit) of
	 * random bytes. */
	hs->garbage_len = MS_FRAME_DEFAULT_MAX_BYTES;
	hs->garbage = malloc(hs->garbage_len);
	hs->flood_len = w->report_frame_len * MG_FLOOD_COPIES;
	hs->flood = malloc(hs->flood_len);
	if (!hs->garbage || !hs->flood) {
		hostile_free(hs);
		return -ENOMEM;
	}
	for (size_t i = 4; i < hs->garbage_len; i++)
		hs->garbage[i] = (uint8_t)xorshift(&hs->rng);
	{
		uint32_t plen = (uint32_t)hs->garbage_len - 4;

		hs->garbage[0] = (uint8_t)(plen >> 24);
		hs->garbage[1] = (uint8_t)(plen >> 16);
		hs->garbage[2] = (uint8_t)(plen >> 8);
		hs->garbage[3] = (uint8_t)plen;
	}
	for (unsigned i = 0; i < MG_FLOOD_COPIES; i++)
		memcpy(hs->flood + i * w->report_frame_len, w->report_frame, w->report_frame_len);
	r = pthread_create(&hs->th, NULL, hostile_main, hs);
	if (r) {
		hostile_free(hs);
		return -r;
	}
	*out = hs;
	return 0;
}

static void hostile_stop(struct hostile *hs, struct mg_hostile_counters *c)
{
	atomic_store(&hs->stop, true);
	wake(hs->ev);
	pthread_join(hs->th, NULL);
	*c = hs->c;
	hostile_free(hs);
}

/* The frames the hostile peer sends: a valid Report (as an honest guest's)
 * and Reports with values out of bounds. */
static int make_hostile_frames(struct mg *w, const char *sysroot)
{
	MS_OPTS(ms_ctx_opts, co, .sysroot = sysroot);
	struct ms_msg m = { .type = MS_MSG_REPORT, .version = 1, .seq = 2 };
	struct ms_report *rep = &m.u.report;
	struct ms_lru_summary *lru;
	struct ms_ctx *ctx;
	uint64_t total;
	int r;

	r = ms_ctx_new(&ctx, &co);
	if (r < 0)
		return r;
	w->evil_hello = (struct ms_hello){ .proto_min = 1, .proto_max = 1,
					   .page_size_bytes = ms_ctx_get_page_size(ctx) };
	snprintf(w->evil_hello.agent_version, sizeof(w->evil_hello.agent_version), "evil");
	r = ms_guest_build_report(ctx, NULL, rep);
	ms_ctx_free(ctx);
	if (r < 0)
		return r;
	total = rep->meminfo.total_bytes;
	w->evil_hello.mem_total_bytes = total;
	r = ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &w->report_frame, &w->report_frame_len);
	if (r < 0)
		goto out;
	/* Each passes the codec and fails the host's checks. */
	{
		struct ms_report keep = *rep;

		rep->meminfo.total_bytes = 0;                       /* MemTotal 0 */
		r = ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &w->invalid_frames[0],
				  &w->invalid_len[0]);
		*rep = keep;
		rep->meminfo.free_bytes = total * 2;                /* above MemTotal */
		if (!r)
			r = ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &w->invalid_frames[1],
					  &w->invalid_len[1]);
		*rep = keep;
		rep->meminfo.total_bytes = total * 100;             /* far above Hello's */
		if (!r)
			r = ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &w->invalid_frames[2],
					  &w->invalid_len[2]);
		*rep = keep;
		w->nr_invalid = 3;
		if (!r && rep->lru && rep->lru->nr_nodes && rep->lru->nodes[0].nr_bins) {
			lru = ms_lru_summary_dup(rep->lru);              /* more LRU than RAM */
			if (lru) {
				lru->nodes[0].bins[0].file_bytes = total * 3;
				rep->lru = lru;
				r = ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES,
						  &w->invalid_frames[3], &w->invalid_len[3]);
				ms_lru_summary_free(lru);
				if (!r)
					w->nr_invalid = 4;
			}
		}
		*rep = keep;
	}
out:
	ms_report_clear(rep);
	return r;
}

/* ---- start, phases, stop ------------------------------------------------------------ */

static void apply_defaults(struct mg_config *c)
{
	static const unsigned conns[MG__COUNT] = {
		[MG_GARBAGE] = 4, [MG_SLOWLORIS] = 8, [MG_FLOOD] = 2, [MG_INVALID] = 4,
		[MG_NOHELLO] = 100,
	};

	if (!c->nr_guests)
		c->nr_guests = 50;
	if (!c->report_interval_ms)
		c->report_interval_ms = 100;
	if (!c->reclaim_gap_ms)
		c->reclaim_gap_ms = 200;
	if (!c->max_reports_per_s)
		c->max_reports_per_s = 30;
	if (!c->hello_timeout_ms)
		c->hello_timeout_ms = 1000;
	if (!c->frame_timeout_ms)
		c->frame_timeout_ms = 1500;
	if (!c->reclaim_timeout_ms)
		c->reclaim_timeout_ms = 5000;
	for (int i = 0; i < MG__COUNT; i++)
		if (!c->hostile_conns[i])
			c->hostile_conns[i] = conns[i];
}

static bool all_ready(struct mg *w)
{
	bool ok = true;

	pthread_mutex_lock(&w->host_lock);
	for (unsigned i = 0; i < w->cfg.nr_guests && ok; i++)
		ok = w->hv[i].id && w->hv[i].reports_seen > 0;
	pthread_mutex_unlock(&w->host_lock);
	return ok;
}

int mg_start(struct mg **out, const struct mg_config *cfg, char *err, size_t err_size)
{
	char tmpl[] = "/tmp/ms-many-XXXXXX", root[PATH_MAX];
	struct mg *w;
	uint64_t t0;
	int r;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return fail(err, err_size, -ENOMEM, "out of memory");
	if (cfg)
		w->cfg = *cfg;
	apply_defaults(&w->cfg);
	pthread_mutex_init(&w->host_lock, NULL);
	pthread_mutex_init(&w->guests_lock, NULL);
	w->host_ev = w->guests_ev = -1;
	w->hv = calloc(w->cfg.nr_guests, sizeof(*w->hv));
	w->gs = calloc(w->cfg.nr_guests, sizeof(*w->gs));
	if (!w->hv || !w->gs) {
		mg_stop(w);
		return fail(err, err_size, -ENOMEM, "out of memory");
	}
	if (!mkdtemp(tmpl)) {
		r = -errno;
		mg_stop(w);
		return fail(err, err_size, r, "mkdtemp: %s", strerror(-r));
	}
	snprintf(w->dir, sizeof(w->dir), "%s", tmpl);
	snprintf(w->sock, sizeof(w->sock), "%s/host.sock", w->dir);
	snprintf(w->endpoint, sizeof(w->endpoint), "unix:%s", w->sock);
	w->host_ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->guests_ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->host_ev < 0 || w->guests_ev < 0) {
		r = -errno;
		mg_stop(w);
		return fail(err, err_size, r, "eventfd: %s", strerror(-r));
	}

	/* The host. */
	{
		MS_OPTS(ms_ctx_opts, co, .log_fn = host_log, .log_userdata = w,
			.log_level = MS_LOG_INFO);
		MS_OPTS(ms_host_opts, ho, .listen = w->endpoint,
			.report_interval_ms = w->cfg.report_interval_ms,
			.hello_timeout_ms = w->cfg.hello_timeout_ms,
			.frame_timeout_ms = w->cfg.frame_timeout_ms,
			.max_reports_per_s = w->cfg.max_reports_per_s,
			.reclaim_timeout_ms = w->cfg.reclaim_timeout_ms,
			.event_fn = on_host_event, .userdata = w);

		r = ms_ctx_new(&w->hctx, &co);
		if (r < 0) {
			mg_stop(w);
			return fail(err, err_size, r, "host ctx: %s", strerror(-r));
		}
		ho.ctx = w->hctx;
		r = ms_host_new(&w->host, &ho);
		if (r < 0) {
			mg_stop(w);
			return fail(err, err_size, r, "ms_host_new(%s): %s", w->endpoint,
				    strerror(-r));
		}
	}

	/* The guests, each on its own sysroot. */
	for (unsigned i = 0; i < w->cfg.nr_guests; i++) {
		struct guest_slot *s = &w->gs[i];
		char name[32];

		snprintf(root, sizeof(root), "%s/g%02u", w->dir, i);
		r = make_sysroot(root);
		if (r < 0) {
			mg_stop(w);
			return fail(err, err_size, r, "sysroot %s: %s", root, strerror(-r));
		}
		{
			MS_OPTS(ms_ctx_opts, co, .sysroot = root);

			r = ms_ctx_new(&s->ctx, &co);
		}
		if (r < 0) {
			mg_stop(w);
			return fail(err, err_size, r, "ctx %s: %s", root, strerror(-r));
		}
		s->w = w;
		s->idx = i;
		snprintf(name, sizeof(name), "honest-%02u", i);
		{
			MS_OPTS(ms_guest_opts, go, .ctx = s->ctx, .connect = w->endpoint,
				.name = name,
				.report_interval_ms = w->cfg.report_interval_ms,
				.reconnect_min_ms = 50, .reconnect_max_ms = 500,
				.mglru_aging_ms = MS_GUEST_NO_AGING,
				.event_fn = on_guest_event, .userdata = s);

			r = ms_guest_new(&s->g, &go);
		}
		if (r < 0) {
			mg_stop(w);
			return fail(err, err_size, r, "ms_guest_new: %s", strerror(-r));
		}
	}
	snprintf(root, sizeof(root), "%s/g00", w->dir);
	r = make_hostile_frames(w, root);
	if (r < 0) {
		mg_stop(w);
		return fail(err, err_size, r, "hostile frames: %s", strerror(-r));
	}

	r = pthread_create(&w->host_th, NULL, host_main, w);
	if (r) {
		mg_stop(w);
		return fail(err, err_size, -r, "pthread_create: %s", strerror(r));
	}
	w->host_started = true;
	r = pthread_create(&w->guests_th, NULL, guests_main, w);
	if (r) {
		mg_stop(w);
		return fail(err, err_size, -r, "pthread_create: %s", strerror(r));
	}
	w->guests_started = true;

	t0 = now_us();
	while (!all_ready(w)) {
		if (now_us() - t0 > MG_START_TIMEOUT_US || w->host_error || w->guests_error) {
			unsigned ready = 0;

			pthread_mutex_lock(&w->host_lock);
			for (unsigned i = 0; i < w->cfg.nr_guests; i++)
				ready += w->hv[i].id && w->hv[i].reports_seen;
			pthread_mutex_unlock(&w->host_lock);
			r = w->host_error ? w->host_error : w->guests_error ? w->guests_error
									 : -ETIMEDOUT;
			mg_stop(w);
			return fail(err, err_size, r, "only %u of %u guests ready and reporting: "
				    "%s", ready, cfg && cfg->nr_guests ? cfg->nr_guests : 50,
				    strerror(-r));
		}
		sleep_us(20000);
	}
	*out = w;
	return 0;
}

/* Cumulative counters at one instant. */
struct snap {
	struct host_view *hv;
	struct guest_slot *gs;
	bool *ready, *connected;
	struct ms_host_stats stats;
	uint64_t reclaim_rounds, host_rounds;
	uint64_t log_lines, log_warnings;
	uint64_t hostile_ready, hostile_gone, hostile_reports;
	uint64_t conns_max, conns_now;
	uint64_t process_max_us, process_max_cpu_us;
	struct samples rep, rec, rounds;
	uint64_t t_us;
};

static void snap_free(struct snap *s)
{
	free(s->hv);
	free(s->gs);
	free(s->ready);
	free(s->connected);
	free(s->rep.v);
	free(s->rec.v);
	free(s->rounds.v);
	memset(s, 0, sizeof(*s));
}

/* Copy the counters; take the samples and reset the per-phase maxima. */
static int snap_take(struct mg *w, struct snap *s)
{
	unsigned n = w->cfg.nr_guests;

	memset(s, 0, sizeof(*s));
	s->hv = calloc(n, sizeof(*s->hv));
	s->gs = calloc(n, sizeof(*s->gs));
	s->ready = calloc(n, sizeof(*s->ready));
	s->connected = calloc(n, sizeof(*s->connected));
	if (!s->hv || !s->gs || !s->ready || !s->connected) {
		snap_free(s);
		return -ENOMEM;
	}
	pthread_mutex_lock(&w->host_lock);
	s->t_us = now_us();
	memcpy(s->hv, w->hv, n * sizeof(*s->hv));
	for (unsigned i = 0; i < n; i++) {
		struct ms_guest_info info;

		s->ready[i] = w->hv[i].id && ms_host_guest_info(w->host, w->hv[i].id, &info) == 0;
		if (s->ready[i]) {
			s->hv[i].rate_dropped += info.reports_rate_dropped;
			s->hv[i].invalid += info.reports_invalid;
		}
	}
	ms_host_get_stats(w->host, &s->stats);
	s->reclaim_rounds = w->reclaim_rounds;
	s->host_rounds = w->host_rounds;
	s->log_lines = w->log_lines;
	s->log_warnings = w->log_warnings;
	s->hostile_ready = w->hostile_ready;
	s->hostile_gone = w->hostile_gone;
	s->hostile_reports = w->hostile_reports;
	s->conns_max = w->conns_max;
	s->conns_now = w->conns_now;
	s->process_max_us = w->process_max_us;
	s->process_max_cpu_us = w->process_max_cpu_us;
	s->rep = w->rep_rtt;
	s->rec = w->rec_rtt;
	s->rounds = w->round_cpu;
	memset(&w->rep_rtt, 0, sizeof(w->rep_rtt));
	memset(&w->rec_rtt, 0, sizeof(w->rec_rtt));
	memset(&w->round_cpu, 0, sizeof(w->round_cpu));
	w->conns_max = w->conns_now;
	w->process_max_us = w->process_max_cpu_us = 0;
	pthread_mutex_unlock(&w->host_lock);

	pthread_mutex_lock(&w->guests_lock);
	memcpy(s->gs, w->gs, n * sizeof(*s->gs));
	for (unsigned i = 0; i < n; i++)
		s->connected[i] = ms_guest_is_connected(w->gs[i].g);
	pthread_mutex_unlock(&w->guests_lock);
	return 0;
}

static void set_reclaim(struct mg *w, bool on)
{
	pthread_mutex_lock(&w->host_lock);
	w->reclaim_on = on;
	if (on)
		w->next_round_us = 0;
	pthread_mutex_unlock(&w->host_lock);
	wake(w->host_ev);
}

static uint64_t outstanding(struct mg *w)
{
	uint64_t n;

	pthread_mutex_lock(&w->host_lock);
	n = w->outstanding;
	pthread_mutex_unlock(&w->host_lock);
	return n;
}

#define D(field) (b->field - a->field)

int mg_phase(struct mg *w, enum mg_hostile mode, unsigned duration_ms,
	     struct mg_phase_result *out, char *err, size_t err_size)
{
	struct hostile *hs = NULL;
	struct snap sa, sb, *a = &sa, *b = &sb;
	uint64_t t_end, drain_until;
	long long heap;
	int r;

	memset(out, 0, sizeof(*out));
	if ((unsigned)mode >= MG__COUNT)
		return fail(err, err_size, -EINVAL, "bad hostile mode %d", mode);
	out->mode = mode;
	out->nr_guests = w->cfg.nr_guests;
	r = snap_take(w, a);
	if (r < 0)
		return fail(err, err_size, r, "out of memory");
	out->heap_start = out->heap_max = heap_in_use();
	set_reclaim(w, true);
	w->phase_seed = xorshift(&(uint64_t){ a->t_us | 1 });
	if (mode != MG_NONE) {
		r = hostile_start(w, mode, &hs);
		if (r < 0) {
			set_reclaim(w, false);
			snap_free(a);
			return fail(err, err_size, r, "hostile peer: %s", strerror(-r));
		}
	}
	t_end = a->t_us + (uint64_t)duration_ms * 1000u;
	while (now_us() < t_end) {
		uint64_t left = t_end - now_us();

		sleep_us(left < 50000 ? left : 50000);
		heap = heap_in_use();
		if (heap > out->heap_max)
			out->heap_max = heap;
	}
	if (hs) {
		hostile_stop(hs, &out->hostile);
		if (out->hostile.connects == 0)
			r = fail(err, err_size, -ECONNREFUSED, "the hostile peer never connected");
	}
	/* No new rounds; the requests out are answered (or time out). */
	set_reclaim(w, false);
	drain_until = now_us() + ((uint64_t)w->cfg.reclaim_timeout_ms + 2000u) * 1000u;
	while (outstanding(w) && now_us() < drain_until)
		sleep_us(10000);
	out->reclaims_drained = outstanding(w) == 0;
	if (snap_take(w, b) < 0) {
		snap_free(a);
		return fail(err, err_size, -ENOMEM, "out of memory");
	}
	out->heap_end = heap_in_use();
	if (out->heap_end > out->heap_max)
		out->heap_max = out->heap_end;

	out->seconds = (double)(b->t_us - a->t_us) / 1e6;
	out->guests = calloc(w->cfg.nr_guests, sizeof(*out->guests));
	if (!out->guests) {
		snap_free(a);
		snap_free(b);
		return fail(err, err_size, -ENOMEM, "out of memory");
	}
	for (unsigned i = 0; i < w->cfg.nr_guests; i++) {
		struct mg_guest_phase *g = &out->guests[i];
		const struct host_view *ha = &a->hv[i], *hb = &b->hv[i];
		const struct guest_slot *ga = &a->gs[i], *gb = &b->gs[i];

		g->reports_sent = gb->reports_sent - ga->reports_sent;
		g->reports_seen = hb->reports_seen - ha->reports_seen;
		g->rate_dropped = hb->rate_dropped - ha->rate_dropped;
		g->invalid = hb->invalid - ha->invalid;
		g->reclaims_issued = hb->reclaims_issued - ha->reclaims_issued;
		g->reclaims_refused = hb->reclaims_refused - ha->reclaims_refused;
		g->reclaims_replied = hb->reclaims_replied - ha->reclaims_replied;
		g->reclaims_failed = hb->reclaims_failed - ha->reclaims_failed;
		g->reclaims_done = gb->reclaims_done - ga->reclaims_done;
		g->host_gone = hb->gone - ha->gone;
		g->guest_connects = gb->connects - ga->connects;
		g->guest_disconnects = gb->disconnects - ga->disconnects;
		g->ready_end = b->ready[i];
		g->connected_end = b->connected[i];
	}
	/* The samples taken during the phase are those b took over. */
	out->report_rtt_us = b->rep.v;
	out->nr_report_rtt = b->rep.n;
	out->reclaim_rtt_us = b->rec.v;
	out->nr_reclaim_rtt = b->rec.n;
	out->round_cpu_us = b->rounds.v;
	out->nr_round_cpu = b->rounds.n;
	b->rep.v = b->rec.v = b->rounds.v = NULL;
	out->reclaim_rounds = D(reclaim_rounds);
	out->stats.accepted = D(stats.accepted);
	out->stats.refused_full = D(stats.refused_full);
	out->stats.refused_peer = D(stats.refused_peer);
	for (int i = 0; i < MS_DROP__COUNT; i++)
		out->stats.dropped[i] = D(stats.dropped[i]);
	out->stats.reports = D(stats.reports);
	out->stats.reports_rate_dropped = D(stats.reports_rate_dropped);
	out->stats.reports_invalid = D(stats.reports_invalid);
	out->stats.links = b->stats.links;
	out->stats.links_up = b->stats.links_up;
	out->hostile_ready = D(hostile_ready);
	out->hostile_gone = D(hostile_gone);
	out->hostile_reports = D(hostile_reports);
	out->host_rounds = D(host_rounds);
	out->host_process_max_us = b->process_max_us;
	out->host_process_max_cpu_us = b->process_max_cpu_us;
	out->host_log_lines = D(log_lines);
	out->host_log_warnings = D(log_warnings);
	out->host_conns_max = b->conns_max;
	out->host_conns_end = b->conns_now;
	snap_free(a);
	snap_free(b);
	if (w->host_error || w->guests_error)
		r = fail(err, err_size, w->host_error ? w->host_error : w->guests_error,
			 "%s loop failed: %s", w->host_error ? "host" : "guests",
			 strerror(-(w->host_error ? w->host_error : w->guests_error)));
	return r;
}

#undef D

void mg_phase_result_free(struct mg_phase_result *r)
{
	if (!r)
		return;
	free(r->guests);
	free(r->report_rtt_us);
	free(r->reclaim_rtt_us);
	free(r->round_cpu_us);
	memset(r, 0, sizeof(*r));
}

void mg_idle(struct mg *w, unsigned ms)
{
	(void)w;
	sleep_us((uint64_t)ms * 1000u);
}

void mg_stop(struct mg *w)
{
	if (!w)
		return;
	atomic_store(&w->stop, true);
	wake(w->host_ev);
	wake(w->guests_ev);
	if (w->guests_started)
		pthread_join(w->guests_th, NULL);
	if (w->host_started)
		pthread_join(w->host_th, NULL);
	for (unsigned i = 0; w->gs && i < w->cfg.nr_guests; i++) {
		ms_guest_free(w->gs[i].g);
		ms_ctx_free(w->gs[i].ctx);
	}
	ms_host_free(w->host);
	ms_ctx_free(w->hctx);
	free(w->rep_rtt.v);
	free(w->rec_rtt.v);
	free(w->round_cpu.v);
	free(w->report_frame);
	for (unsigned i = 0; i < 4; i++)
		free(w->invalid_frames[i]);
	if (w->host_ev >= 0)
		close(w->host_ev);
	if (w->guests_ev >= 0)
		close(w->guests_ev);
	if (w->dir[0])
		nftw(w->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(w->hv);
	free(w->gs);
	pthread_mutex_destroy(&w->host_lock);
	pthread_mutex_destroy(&w->guests_lock);
	free(w);
}
