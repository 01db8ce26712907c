/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-host: a real struct ms_host (lib/session/host.c) talking to a guest
 * whose bytes are the input.
 *
 * One host lives for the whole run (LLVMFuzzerInitialize), logging at debug
 * level into a sink.  Per input, [flags FH_*][seed][stream]:
 *   - a guest connection: a socketpair whose one end the host adopts as if
 *     a unix listener had accepted it (ms_host_adopt_fd), or with
 *     FH_SERIAL a serial link: ms_host_connect("serial:PATH") to a socket
 *     this harness listens on (sync markers, session restarts);
 *   - the stream is written in pieces (FH_CUT_*), and after each piece the
 *     host runs (ms_host_process) until it has nothing left to do, while
 *     everything it answers is read, decoded and checked;
 *   - FH_RECLAIM: the host asks for a reclaim when the guest is ready;
 *     FH_ANSWER: the harness answers it with a valid ReclaimResult at the
 *     next frame boundary (the host's request ids grow over the run, so
 *     the input cannot carry a matching one itself);
 *   - then the guest closes (FH_HALF_CLOSE: first only its writing side)
 *     or the host says Goodbye (FH_HOST_BYE), and the host must have let
 *     the guest go: no guest, no deadline, its fd closed, every connection
 *     dropped exactly once, every GUEST_READY followed by one GUEST_GONE.
 *
 * Events are checked against the API's promises: ids, pointers, a
 * pending reclaim per reply, and accepted Reports within the bounds the
 * host enforces (figures within MemTotal).  Timers never fire here: an
 * input takes far less than any host timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <memshare/memshare.h>

#include "proto/codec.h"
#include "proto/frame.h"
#include "session/host-internal.h"

#include "fuzz.h"

/* Reports per second and guest.  Over HOST_MAX_INVALID_REPORTS (100), so
 * that both the rejects limit and the rate limit are reachable. */
#define FUZZ_REPORTS_PER_S 101
/* ms_host_process() rounds before the host must be idle. */
#define FUZZ_MAX_ROUNDS 10000

static struct ms_ctx *ctx;
static struct ms_host *host;
static char sock_dir[64];
static char serial_path[96];
static char serial_endpoint[160];
static int serial_lfd = -1;

/* What this input's events said. */
static struct {
	uint64_t ready_id;       /* the ready guest, 0 if none */
	unsigned ready, gone, restarts;
	bool want_reclaim;
	bool reclaim_pending;
	uint64_t reclaim_id;
	struct ms_frame_decoder answers; /* the host's bytes to the guest */
} st;

/* The host's log goes nowhere (FUZZ_VERBOSE=1: to stderr). */
static bool verbose;

static void log_sink(enum ms_log_level level, const char *msg, void *userdata)
{
	(void)userdata;
	FUZZ_CHECK(strlen(msg) < 512 && !strchr(msg, '\n'), "log line: %s", msg);
	if (verbose)
		fprintf(stderr, "host <%d> %s\n", (int)level, msg);
}

/* The host's own check of a Report (report_invalid in host.c), as a
 * property of every Report it accepts. */
static void check_report(const struct ms_report *rep)
{
	const struct ms_meminfo *mi = &rep->meminfo;
	const uint64_t *f = (const uint64_t *)mi;
	uint64_t total = mi->total_bytes;
	unsigned __int128 lru = 0;

	FUZZ_CHECK(total != 0 && total != MS_UNKNOWN, "MemTotal %llu", (unsigned long long)total);
	for (size_t i = 0; i < sizeof(*mi) / sizeof(uint64_t); i++) {
		size_t off = i * sizeof(uint64_t);

		if (off == offsetof(struct ms_meminfo, swap_total_bytes) ||
		    off == offsetof(struct ms_meminfo, swap_free_bytes))
			continue;
		FUZZ_CHECK(f[i] == MS_UNKNOWN || f[i] <= total, "meminfo field %zu over MemTotal", i);
	}
	if (!rep->lru)
		return;
	FUZZ_CHECK(rep->lru->nr_nodes <= MS_MAX_NODES, "%u nodes", rep->lru->nr_nodes);
	for (uint32_t i = 0; i < rep->lru->nr_nodes; i++) {
		const struct ms_lru_node *n = &rep->lru->nodes[i];

		FUZZ_CHECK(n->nr_bins <= MS_LRU_MAX_BINS, "%u bins", n->nr_bins);
		for (uint32_t j = 0; j < n->nr_bins; j++) {
			if (n->bins[j].anon_bytes != MS_UNKNOWN)
				lru += n->bins[j].anon_bytes;
			if (n->bins[j].file_bytes != MS_UNKNOWN)
				lru += n->bins[j].file_bytes;
		}
		FUZZ_CHECK((n->slab_reclaimable_bytes == MS_UNKNOWN || n->slab_reclaimable_bytes <= total) &&
			   (n->shmem_bytes == MS_UNKNOWN || n->shmem_bytes <= total) &&
			   (n->unevictable_bytes == MS_UNKNOWN || n->unevictable_bytes <= total),
			   "a node figure over MemTotal");
	}
	FUZZ_CHECK(lru <= total, "a Report with more LRU memory (%.0f) than MemTotal (%llu) accepted",
		   (double)lru, (unsigned long long)total);
	FUZZ_CHECK(ms_lru_summary_bytes_older_than(rep->lru, 0, MS_LRU_ANON | MS_LRU_FILE) <= total,
		   "bytes older than 0 over MemTotal");
}

static void on_event(struct ms_host *h, const struct ms_host_event *ev, void *userdata)
{
	struct ms_guest_info info;
	uint64_t id = 0;
	int r;

	(void)userdata;
	if (verbose)
		fprintf(stderr, "event %d guest %llu\n", (int)ev->type, (unsigned long long)ev->guest_id);
	FUZZ_CHECK(h == host && ev->hello, "event without host or hello");
	FUZZ_CHECK(memchr(ev->hello->guest_name, 0, sizeof(ev->hello->guest_name)) &&
		   ev->hello->guest_name[0], "guest name not a string");
	switch (ev->type) {
	case MS_HOST_EVENT_GUEST_READY:
		FUZZ_CHECK(st.ready_id == 0, "READY for %llu while %llu is ready",
			   (unsigned long long)ev->guest_id, (unsigned long long)st.ready_id);
		st.ready_id = ev->guest_id;
		st.ready++;
		FUZZ_CHECK(ms_host_list_guests(h, &id, 1) == 1 && id == ev->guest_id, "guest list");
		FUZZ_CHECK(ms_host_guest_info(h, id, &info) == 0 && info.guest_id == id, "guest info");
		FUZZ_CHECK(ms_host_find_guest(h, ev->hello->guest_name) == id, "find by name");
		if (st.want_reclaim) {
			struct ms_reclaim_request req = {
				.bytes = 64u << 20, .kinds = MS_RECLAIM_FILE | MS_RECLAIM_SLAB,
				.min_age_ms = 120000, .deadline_ms = 1000,
			};

			r = ms_host_reclaim(h, id, &req, &st.reclaim_id);
			FUZZ_CHECK(r == 0 || r == -ENOBUFS || r == -ENOTCONN, "reclaim: %d", r);
			st.reclaim_pending = r == 0;
			if (r == 0)
				FUZZ_CHECK(ms_host_reclaim(h, id, &req, NULL) == -EBUSY, "two reclaims");
		}
		break;
	case MS_HOST_EVENT_REPORT:
		FUZZ_CHECK(ev->guest_id == st.ready_id && ev->report, "REPORT");
		FUZZ_CHECK(ms_host_guest_report(h, ev->guest_id) == ev->report, "guest_report");
		check_report(ev->report);
		break;
	case MS_HOST_EVENT_RECLAIM_REPLY:
		FUZZ_CHECK(ev->guest_id == st.ready_id && ev->reply, "RECLAIM_REPLY");
		FUZZ_CHECK(st.reclaim_pending && ev->reply->id == st.reclaim_id,
			   "a reply to reclaim %llu, not pending", (unsigned long long)ev->reply->id);
		st.reclaim_pending = false;
		break;
	case MS_HOST_EVENT_GUEST_ERROR:
		FUZZ_CHECK(ev->guest_id == st.ready_id && ev->error, "GUEST_ERROR");
		FUZZ_CHECK(memchr(ev->error->message, 0, sizeof(ev->error->message)), "error message");
		break;
	case MS_HOST_EVENT_GUEST_GONE:
		FUZZ_CHECK(ev->guest_id == st.ready_id && ev->reason, "GONE for %llu, ready %llu",
			   (unsigned long long)ev->guest_id, (unsigned long long)st.ready_id);
		if (strcmp(ev->reason, "guest agent restarted its session") == 0)
			st.restarts++;
		st.gone++;
		st.ready_id = 0;
		st.reclaim_pending = false;
		break;
	default:
		FUZZ_CHECK(0, "event type %d", (int)ev->type);
	}
}

static void cleanup(void)
{
	ms_host_free(host);
	ms_ctx_free(ctx);
	if (serial_lfd >= 0)
		close(serial_lfd);
	if (serial_path[0])
		unlink(serial_path);
	if (sock_dir[0])
		rmdir(sock_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	MS_OPTS(ms_ctx_opts, copts, .log_fn = log_sink, .log_level = MS_LOG_DEBUG);
	struct ms_psi_trigger_spec trig = { .kind = MS_PSI_KIND_SOME, .stall_us = 150000,
					    .window_us = 1000000 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int r;

	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_VERBOSE") && strcmp(getenv("FUZZ_VERBOSE"), "0") != 0;
	r = ms_ctx_new(&ctx, &copts);
	FUZZ_CHECK(r == 0, "ms_ctx_new: %d", r);
	{
		MS_OPTS(ms_host_opts, hopts, .ctx = ctx, .event_fn = on_event,
			.max_reports_per_s = FUZZ_REPORTS_PER_S, .psi_trigger = &trig,
			.report_interval_ms = 5000);

		r = ms_host_new(&host, &hopts);
		FUZZ_CHECK(r == 0, "ms_host_new: %d", r);
	}
	/* The "QEMU chardev" serial links connect to. */
	snprintf(sock_dir, sizeof(sock_dir), "/tmp/memshare-fuzz-XXXXXX");
	FUZZ_CHECK(mkdtemp(sock_dir), "mkdtemp: %s", strerror(errno));
	snprintf(serial_path, sizeof(serial_path), "%s/serial.sock", sock_dir);
	snprintf(serial_endpoint, sizeof(serial_endpoint), "serial:%s", serial_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", serial_path);
	serial_lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(serial_lfd >= 0 && bind(serial_lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		   listen(serial_lfd, 8) == 0, "serial listener: %s", strerror(errno));
	atexit(cleanup);
	return 0;
}

/* Read and check everything the host sent to the guest. */
static void read_answers(int fd)
{
	uint8_t buf[16384];
	ssize_t n;

	while (fd >= 0 && (n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		FUZZ_CHECK(ms_frame_decoder_push(&st.answers, buf, (size_t)n) == 0, "answers");
		for (;;) {
			const uint8_t *payload;
			struct ms_msg m;
			char why[256];
			size_t len;
			int r = ms_frame_decoder_next(&st.answers, &payload, &len);

			if (r == 0)
				break;
			if (r == MS_FRAME_SYNC)
				continue;
			FUZZ_CHECK(r == 1, "the host sent a broken frame: %d", r);
			r = ms_msg_decode(payload, len, &m, why, sizeof(why));
			FUZZ_CHECK(r == 0, "the host sent an undecodable message: %s", why);
			FUZZ_CHECK(m.type == MS_MSG_WELCOME || m.type == MS_MSG_CONFIG ||
				   m.type == MS_MSG_ERROR || m.type == MS_MSG_PING ||
				   m.type == MS_MSG_PONG || m.type == MS_MSG_RECLAIM_REQUEST ||
				   m.type == MS_MSG_GOODBYE, "the host sent %s", ms_msg_type_name(m.type));
			ms_msg_clear(&m);
		}
	}
}

/* Run the host until it has nothing to do; read its answers meanwhile. */
static void pump(int fd)
{
	for (int i = 0;; i++) {
		struct pollfd p = { .fd = ms_host_get_fd(host), .events = POLLIN };

		read_answers(fd);
		if (poll(&p, 1, 0) <= 0 && ms_host_get_timeout_us(host) != 0)
			break;
		FUZZ_CHECK(i < FUZZ_MAX_ROUNDS, "the host does not settle");
		FUZZ_CHECK(ms_host_process(host) == 0, "ms_host_process failed");
	}
	read_answers(fd);
}

/* Write all of @p (less if the host closed the connection). */
static void write_all(int fd, const uint8_t *p, size_t n)
{
	int stalls = 0;

	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			FUZZ_CHECK(++stalls < 1000, "the host does not read");
			pump(fd);
			continue;
		}
		if (w < 0)
			return;         /* EPIPE, ECONNRESET: the host dropped us */
		p += w;
		n -= (size_t)w;
	}
}

/* FH_ANSWER: the guest's answer to the host's reclaim request. */
static void answer_reclaim(int fd)
{
	struct ms_msg m = { .type = MS_MSG_RECLAIM_RESULT, .version = 1, .seq = 1000 };
	uint8_t *frame;
	size_t len;

	m.u.reclaim_result.id = st.reclaim_id;
	m.u.reclaim_result.result.requested_bytes = 64u << 20;
	m.u.reclaim_result.result.freed_file_bytes = 40u << 20;
	m.u.reclaim_result.result.freed_slab_bytes = 8u << 20;
	m.u.reclaim_result.result.freed_bytes = 48u << 20;
	m.u.reclaim_result.result.method = 1u << MS_RECLAIM_METHOD_MEMCG;
	m.u.reclaim_result.result.duration_us = 2500;
	FUZZ_CHECK(ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &frame, &len) == 0, "encode");
	write_all(fd, frame, len);
	free(frame);
}

/* A serial link to the harness's listener: the guest's end of it. */
static int open_serial(void)
{
	int fd = -1, r = ms_host_connect(host, serial_endpoint);

	FUZZ_CHECK(r == 0, "ms_host_connect: %d", r);
	for (int i = 0; fd < 0; i++) {
		FUZZ_CHECK(i < 100, "the host does not connect");
		FUZZ_CHECK(ms_host_process(host) == 0, "ms_host_process failed");
		fd = accept4(serial_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	}
	return fd;
}

static uint64_t sum_dropped(const struct ms_host_stats *s)
{
	uint64_t n = 0;

	for (int i = 0; i < MS_DROP__COUNT; i++)
		n += s->dropped[i];
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_host_stats before, after;
	uint8_t flags;
	uint32_t rng;
	size_t off, end;
	bool answered = false, at_start;
	int fd, host_fd = -1, r;

	if (size < FUZZ_HEADER_BYTES)
		return -1;
	flags = data[0];
	rng = data[1] * 0x01000193u + 1;
	data += FUZZ_HEADER_BYTES;
	size -= FUZZ_HEADER_BYTES;

	memset(&st, 0, sizeof(st));
	st.want_reclaim = flags & FH_RECLAIM;
	ms_frame_decoder_init(&st.answers, MS_FRAME_DEFAULT_MAX_BYTES);
	ms_frame_decoder_set_sync(&st.answers, flags & FH_SERIAL);
	ms_host_get_stats(host, &before);
	if (flags & FH_SERIAL) {
		fd = open_serial();
	} else {
		int sv[2];

		FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0,
			   "socketpair: %s", strerror(errno));
		fd = sv[0];
		host_fd = sv[1];
		r = ms_host_adopt_fd(host, host_fd);
		FUZZ_CHECK(r == 0, "ms_host_adopt_fd: %d", r);
	}
	pump(fd);

	/* @end: where the frame being written ends; @at_start: @off is where
	 * a frame starts (or the stream ends), a place to inject a frame. */
	end = fuzz_frame_end(data, size, 0);
	for (off = 0, at_start = true;;) {
		size_t n;

		if ((flags & FH_ANSWER) && st.reclaim_pending && !answered && at_start) {
			answer_reclaim(fd);
			answered = true;
			pump(fd);
		}
		if (off == size)
			break;
		switch (flags & FH_CUT_MASK) {
		case FH_CUT_FRAMES:
			n = end - off;
			break;
		case FH_CUT_SPLIT:
			n = 1 + fuzz_rng(&rng) % (end - off);
			break;
		case FH_CUT_RANDOM:
			n = 1 + fuzz_rng(&rng) % (rng & 1 ? 16 : 512);
			break;
		default:
			n = size - off;
			break;
		}
		n = n < size - off ? n : size - off;
		write_all(fd, data + off, n);
		off += n;
		while (end < off)
			end = fuzz_frame_end(data, size, end);
		at_start = end == off;
		if (at_start && off < size)
			end = fuzz_frame_end(data, size, off);
		pump(fd);
	}

	if ((flags & FH_HOST_BYE) && st.ready_id) {
		r = ms_host_disconnect(host, st.ready_id, "fuzz: host says goodbye");
		FUZZ_CHECK(r == 0, "ms_host_disconnect: %d", r);
		pump(fd);
	}
	if (flags & FH_HALF_CLOSE) {
		shutdown(fd, SHUT_WR);
		pump(fd);
	}
	close(fd);
	pump(-1);
	if (flags & FH_SERIAL) {
		FUZZ_CHECK(ms_host_unconnect(host, serial_endpoint) == 0, "unconnect");
		pump(-1);
		/* Reconnections the host made meanwhile (backoff elapsed). */
		while ((fd = accept4(serial_lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
			close(fd);
	}

	/* The guest is gone, and gone once. */
	ms_host_get_stats(host, &after);
	FUZZ_CHECK(ms_host_list_guests(host, NULL, 0) == 0, "a guest is still listed");
	FUZZ_CHECK(ms_host_get_timeout_us(host) == -1, "the host still waits for something");
	FUZZ_CHECK(st.ready == st.gone && st.ready_id == 0, "%u READY, %u GONE", st.ready, st.gone);
	FUZZ_CHECK(sum_dropped(&after) - sum_dropped(&before) ==
		   after.accepted - before.accepted + st.restarts,
		   "%llu connections, %llu drops, %u restarts",
		   (unsigned long long)(after.accepted - before.accepted),
		   (unsigned long long)(sum_dropped(&after) - sum_dropped(&before)), st.restarts);
	if (host_fd >= 0)
		FUZZ_CHECK(fcntl(host_fd, F_GETFD) < 0 && errno == EBADF, "the host kept fd %d",
			   host_fd);
	ms_frame_decoder_release(&st.answers);
	return 0;
}
