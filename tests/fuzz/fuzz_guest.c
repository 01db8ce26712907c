/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-guest: a real struct ms_guest (lib/session/guest.c), set up as
 * memshare-guestd sets it up, whose host sends the input.
 *
 * The guest measures and reclaims through a sysroot this harness makes
 * once (LLVMFuzzerInitialize) in a temporary directory (in /dev/shm if
 * there is one): the capture's proc and sys files
 * (tests/fixtures/linux-6.1-guest) and plain files standing in for the
 * root cgroup's memory.reclaim and memory.stat and for
 * /proc/sys/vm/drop_caches.  Reclaim requests are executed for real, into
 * those files: never against this machine.
 *
 * Per input, [flags FG_* and FH_CUT_*][seed][stream]:
 *   - a new guest, reaching its host through a unix socket this harness
 *     listens on and accepts (opts.connect "unix:"), or with FG_LISTEN
 *     listening itself (opts.listen "unix:") for the harness to connect
 *     (and then a second host, which it must refuse), or with FG_SERIAL on a virtio-serial port: a pty whose master end is
 *     the host's (sync markers, stale bytes, session restarts);
 *   - the stream is written in pieces (FH_CUT_*), and after each piece the
 *     guest runs (ms_guest_process) until it has nothing left to do, while
 *     everything it sends is read, decoded and checked;
 *   - FG_WELCOME: the harness answers every Hello with a valid Welcome at
 *     the next frame boundary (its in_reply_to must be the Hello's seq on
 *     a serial port, which an input cannot always know);
 *   - FG_RECONNECT: a guest that dropped the connection comes back (1 ms
 *     backoff) and the stream goes on, from its next frame, on the new
 *     connection (at most FUZZ_MAX_RECONNECTS times);
 *   - FG_STRANGER: the guest trusts another uid than the harness's: unix
 *     connections are refused before Hello;
 *   - then the host hangs up (the guest must notice) or, with FG_FREE, the
 *     guest is freed with the link up (it must say Goodbye if connected).
 *
 * Checks, besides the sanitizers: every frame the guest sends decodes, is
 * a guest's message, in sequence (seq 1, 2, ... on each connection; only
 * growing on a serial port), Hello first on each connection (after a
 * marker on a serial port); a Pong, a ReclaimResult and an Error answer a
 * Ping, a ReclaimRequest, a Config or unknown message the host sent (by
 * its seq), each at most once; every REPORT_SENT and RECLAIM_DONE event
 * has its frame on the wire, in order, and every Report and ReclaimResult
 * on the wire its event (frames queued when a connection broke may be
 * lost); events come only in the states the header promises (CONNECTED
 * after a Hello, on a version the Hello offered and a report interval a
 * Config could set), and
 * ms_guest_is_connected() and ms_guest_get_timeout_us() agree with them; a reclaim result is what the
 * executors must give on this sysroot (nothing freed, the floor's cap,
 * the methods of the kinds asked); the guest closes the connection when
 * it reports a disconnect, notices a host that hangs up, and holds no
 * file descriptor after ms_guest_free().  Timers that take seconds never
 * fire; report intervals and keepalives the host sets may.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdbool.h>
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

#include "fuzz.h"

#ifndef FUZZ_FIXTURE_DIR
#error "FUZZ_FIXTURE_DIR: the guest capture the sysroot is made of"
#endif

/* ms_guest_process() rounds before the guest must be idle. */
#define FUZZ_MAX_ROUNDS 10000
/* FG_RECONNECT: new connections an input may cause. */
#define FUZZ_MAX_RECONNECTS 4
/* How long a guest may take to come back (its backoff is 1 ms). */
#define FUZZ_RECONNECT_WAIT_US 2000000u
/* The shortest report interval a Config may set. */
#define FUZZ_MIN_INTERVAL_MS 10
/* The guest's reclaim floor, and the page cache its memory.stat shows:
 * a file-only request may take 64 MiB. */
#define FUZZ_FLOOR_BYTES (32ull << 20)
#define FUZZ_MEMCG_FILE_BYTES (96ull << 20)

static struct ms_ctx *ctx;
static uint64_t guest_caps;
static char tmp_dir[64];                /* sysroot/ and the sockets */
static char sysroot[96];
static char host_path[96];              /* the harness listens (connect mode) */
static char host_endpoint[112];
static char guest_path[96];             /* the guest listens (FG_LISTEN) */
static char guest_endpoint[112];
static int host_lfd = -1;
static bool verbose;

/* A message of the stream, as the harness frames it. */
struct sent {
	enum ms_msg_type type;
	uint64_t seq;
	uint64_t key;        /* Ping: nonce; ReclaimRequest: id */
	uint64_t bytes;      /* ReclaimRequest */
	bool answerable;     /* Ping, ReclaimRequest, unknown message, Config with a
			      * PSI trigger (an Error if it cannot be armed) */
	bool answered;
};

/* An answer the registry did not explain, found in the raw input. */
struct extra {
	enum ms_msg_type type;
	uint64_t seq, key, bytes;
	unsigned count;
};

/* An event whose frame the harness has not read yet. */
struct expect {
	enum ms_guest_event_type type;
	unsigned epoch;      /* st.epoch when it came: frames of ended epochs may be lost */
	uint64_t a, b, c;    /* REPORT: mono_us, reason, MemTotal; RECLAIM: id, status, capped */
};

/* This input. */
static struct {
	uint8_t flags;
	bool serial;
	const uint8_t *data;            /* the stream */
	size_t size;
	struct ms_guest *guest;
	int link;                       /* the host's end: a socket or the pty master; -1 */
	int keeper;                     /* serial: our fd of the port (keeps it, flushes it) */
	char port[64];
	char endpoint[128];
	struct ms_frame_decoder answers;/* what the guest sent on the link */
	uint64_t last_seq;              /* of the guest's last frame on this link */
	bool after_marker;              /* serial: the last thing read was a marker */
	unsigned frames_on_link;
	unsigned reconnects;
	/* The guest's side, as its frames and events tell it. */
	bool session;                   /* a Hello read, no DISCONNECTED since */
	bool ready;                     /* CONNECTED, no DISCONNECTED since */
	bool disc_on_link;              /* a DISCONNECTED since this link came up */
	bool freed;                     /* ms_guest_free() called */
	bool goodbye;                   /* the last frame read is a Goodbye */
	unsigned hellos, connected, disconnected;
	unsigned epoch;
	bool hello_pending;             /* FG_WELCOME: a Hello to answer */
	uint64_t hello_seq;
	uint64_t welcome_seq;           /* the harness's own frames */
	struct sent *sent;
	size_t nr_sent, cap_sent;
	struct extra *extra;
	size_t nr_extra, cap_extra;
	struct expect *exp;
	size_t exp_head, nr_exp, cap_exp;
} st;

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 16;
	p = realloc(p, *cap * size);
	FUZZ_CHECK(p, "out of memory");
	return p;
}

/* The guest's log goes nowhere (FUZZ_VERBOSE=1: to stderr). */
static void log_sink(enum ms_log_level level, const char *msg, void *userdata)
{
	(void)userdata;
	FUZZ_CHECK(strlen(msg) < 512 && !strchr(msg, '\n'), "log line: %s", msg);
	if (verbose)
		fprintf(stderr, "guest <%d> %s\n", (int)level, msg);
}

/* ---- the sysroot ----------------------------------------------------------- */

static void put_file(const char *rel, const void *data, size_t len)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", sysroot, rel);
	for (char *s = strchr(path + strlen(sysroot) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		FUZZ_CHECK(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path,
			   strerror(errno));
		*s = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FUZZ_CHECK(fd >= 0 && write(fd, data, len) == (ssize_t)len && close(fd) == 0,
		   "%s: %s", path, strerror(errno));
}

static void put_str(const char *rel, const char *text)
{
	put_file(rel, text, strlen(text));
}

static void copy_fixture(const char *rel)
{
	char path[512], buf[65536];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", FUZZ_FIXTURE_DIR, rel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	FUZZ_CHECK(fd >= 0, "%s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf));
	FUZZ_CHECK(n >= 0 && (size_t)n < sizeof(buf), "%s: read", path);
	close(fd);
	put_file(rel, buf, (size_t)n);
}

static void make_sysroot(void)
{
	static const char *const captured[] = {
		"proc/meminfo", "proc/vmstat", "proc/pressure/memory",
		"sys/kernel/mm/lru_gen/enabled", "sys/kernel/debug/lru_gen",
		"sys/devices/system/node/node0/meminfo", "sys/devices/system/node/node0/vmstat",
	};
	char stat[256];

	FUZZ_CHECK(mkdir(sysroot, 0755) == 0, "mkdir %s: %s", sysroot, strerror(errno));
	for (size_t i = 0; i < sizeof(captured) / sizeof(captured[0]); i++)
		copy_fixture(captured[i]);
	put_str("proc/sys/kernel/osrelease", "6.1.0-fuzz\n");
	put_str("proc/sys/kernel/random/boot_id", "0a9c3b1e-5d2f-4e6a-8b7c-9d0e1f2a3b4c\n");
	/* What the executors write into (and measure: it never changes, so
	 * nothing is ever freed). */
	put_str("proc/sys/vm/drop_caches", "");
	put_str("sys/fs/cgroup/memory.reclaim", "");
	snprintf(stat, sizeof(stat), "anon 41943040\nfile %llu\nkernel 16777216\n"
		 "slab_reclaimable 8388608\nslab_unreclaimable 4194304\n",
		 (unsigned long long)FUZZ_MEMCG_FILE_BYTES);
	put_str("sys/fs/cgroup/memory.stat", stat);
}

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void cleanup(void)
{
	ms_ctx_free(ctx);
	if (host_lfd >= 0)
		close(host_lfd);
	if (tmp_dir[0])
		nftw(tmp_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int r;

	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_VERBOSE") && strcmp(getenv("FUZZ_VERBOSE"), "0") != 0;
	/* tmpfs if there is one: the executors truncate and rewrite their
	 * files, which costs a millisecond a write on ext4 (auto_da_alloc). */
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/memshare-fuzz-guest-XXXXXX",
		 access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp");
	FUZZ_CHECK(mkdtemp(tmp_dir), "mkdtemp: %s", strerror(errno));
	atexit(cleanup);
	snprintf(sysroot, sizeof(sysroot), "%s/root", tmp_dir);
	make_sysroot();
	{
		MS_OPTS(ms_ctx_opts, copts, .sysroot = sysroot, .log_fn = log_sink,
			.log_level = MS_LOG_DEBUG);

		r = ms_ctx_new(&ctx, &copts);
		FUZZ_CHECK(r == 0, "ms_ctx_new: %d", r);
	}
	/* Never the machine's own /proc and /sys. */
	FUZZ_CHECK(strcmp(ms_ctx_get_sysroot(ctx), sysroot) == 0, "sysroot %s",
		   ms_ctx_get_sysroot(ctx));
	guest_caps = ms_guest_capabilities(ctx);
	FUZZ_CHECK((guest_caps & (MS_CAP_MEMCG_RECLAIM | MS_CAP_SLAB_RECLAIM)) ==
		   (MS_CAP_MEMCG_RECLAIM | MS_CAP_SLAB_RECLAIM), "capabilities %#llx",
		   (unsigned long long)guest_caps);

	snprintf(host_path, sizeof(host_path), "%s/host.sock", tmp_dir);
	snprintf(host_endpoint, sizeof(host_endpoint), "unix:%s", host_path);
	snprintf(guest_path, sizeof(guest_path), "%s/guest.sock", tmp_dir);
	snprintf(guest_endpoint, sizeof(guest_endpoint), "unix:%s", guest_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", host_path);
	host_lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(host_lfd >= 0 && bind(host_lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		   listen(host_lfd, 16) == 0, "host listener: %s", strerror(errno));
	return 0;
}

/* ---- what the host sent ---------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Whether @m is a message an answer of type @answer (seq @seq, @key,
 * @bytes) may answer. */
static bool answers(const struct ms_msg *m, enum ms_msg_type answer, uint64_t seq, uint64_t key,
		    uint64_t bytes)
{
	if (m->seq != seq)
		return false;
	switch (answer) {
	case MS_MSG_PONG:
		return m->type == MS_MSG_PING && m->u.nonce == key;
	case MS_MSG_RECLAIM_RESULT:
		return m->type == MS_MSG_RECLAIM_REQUEST && m->u.reclaim_request.id == key &&
		       m->u.reclaim_request.bytes == bytes;
	case MS_MSG_ERROR:
		return m->type == MS_MSG_UNKNOWN ||
		       (m->type == MS_MSG_CONFIG && m->u.config.has_psi_trigger);
	default:
		return false;
	}
}

static void register_msg(const struct ms_msg *m)
{
	struct sent *s;

	st.sent = grow(st.sent, &st.cap_sent, st.nr_sent, sizeof(*st.sent));
	s = &st.sent[st.nr_sent++];
	memset(s, 0, sizeof(*s));
	s->type = m->type;
	s->seq = m->seq;
	if (m->type == MS_MSG_PING) {
		s->key = m->u.nonce;
	} else if (m->type == MS_MSG_RECLAIM_REQUEST) {
		s->key = m->u.reclaim_request.id;
		s->bytes = m->u.reclaim_request.bytes;
	}
	/* The key of an Error's question is 0: only its seq counts. */
	s->answerable = m->type == MS_MSG_PING || m->type == MS_MSG_RECLAIM_REQUEST ||
			m->type == MS_MSG_UNKNOWN ||
			(m->type == MS_MSG_CONFIG && m->u.config.has_psi_trigger);
}

/* The stream's frames, as the guest reads them when nothing goes wrong. */
static void register_stream(void)
{
	for (size_t off = 0; off < st.size;) {
		size_t end = fuzz_frame_end(st.data, st.size, off);
		char why[256];
		struct ms_msg m;

		if (end - off > MS_FRAME_HEADER_BYTES && st.data[off] != 0xff &&
		    be32(st.data + off) == end - off - MS_FRAME_HEADER_BYTES &&
		    ms_msg_decode(st.data + off + MS_FRAME_HEADER_BYTES, end - off -
				  MS_FRAME_HEADER_BYTES, &m, why, sizeof(why)) == 0) {
			register_msg(&m);
			ms_msg_clear(&m);
		}
		if (end == st.size)
			break;
		off = end;
	}
}

/* Messages that an answer may answer anywhere in the input (a guest that
 * hunts for markers may find frames the registry did not). */
static unsigned count_anywhere(enum ms_msg_type answer, uint64_t seq, uint64_t key,
			       uint64_t bytes)
{
	unsigned n = 0;

	for (size_t off = 0; off + MS_FRAME_HEADER_BYTES <= st.size; off++) {
		size_t len = be32(st.data + off);
		char why[256];
		struct ms_msg m;

		if (len > st.size - off - MS_FRAME_HEADER_BYTES ||
		    ms_msg_decode(st.data + off + MS_FRAME_HEADER_BYTES, len, &m, why,
				  sizeof(why)) < 0)
			continue;
		n += answers(&m, answer, seq, key, bytes);
		ms_msg_clear(&m);
	}
	return n;
}

/* An answer from the guest: it must answer something the host sent, and
 * each message at most once. */
static void answered(enum ms_msg_type answer, uint64_t seq, uint64_t key, uint64_t bytes)
{
	unsigned in_registry = 0, total;
	struct extra *x = NULL;

	for (size_t i = 0; i < st.nr_sent; i++) {
		struct sent *s = &st.sent[i];

		if (!s->answerable || s->seq != seq || s->key != key || s->bytes != bytes ||
		    s->type != (answer == MS_MSG_PONG ? MS_MSG_PING :
				answer == MS_MSG_RECLAIM_RESULT ? MS_MSG_RECLAIM_REQUEST :
				s->type == MS_MSG_UNKNOWN ? MS_MSG_UNKNOWN : MS_MSG_CONFIG))
			continue;
		if (!s->answered) {
			s->answered = true;
			return;
		}
		in_registry++;
	}
	for (size_t i = 0; i < st.nr_extra; i++) {
		if (st.extra[i].type == answer && st.extra[i].seq == seq &&
		    st.extra[i].key == key && st.extra[i].bytes == bytes)
			x = &st.extra[i];
	}
	if (!x) {
		st.extra = grow(st.extra, &st.cap_extra, st.nr_extra, sizeof(*st.extra));
		x = &st.extra[st.nr_extra++];
		*x = (struct extra){ .type = answer, .seq = seq, .key = key, .bytes = bytes };
	}
	total = count_anywhere(answer, seq, key, bytes);
	FUZZ_CHECK(in_registry + x->count < total,
		   "the guest sent %s in reply to %llu (key %llu), which %s",
		   ms_msg_type_name(answer), (unsigned long long)seq, (unsigned long long)key,
		   total ? "it had answered already" : "the host never sent");
	x->count++;
}

/* ---- events ---------------------------------------------------------------- */

static void read_answers(void);

static void expect(enum ms_guest_event_type type, uint64_t a, uint64_t b, uint64_t c)
{
	st.exp = grow(st.exp, &st.cap_exp, st.nr_exp, sizeof(*st.exp));
	st.exp[st.nr_exp++] = (struct expect){ .type = type, .epoch = st.epoch, .a = a, .b = b,
					       .c = c };
}

/* A Report or ReclaimResult read: the next event not lost must be its. */
static void expected(enum ms_guest_event_type type, uint64_t a, uint64_t b, uint64_t c)
{
	for (;;) {
		struct expect *e;

		FUZZ_CHECK(st.exp_head < st.nr_exp, "a %s on the wire without its event",
			   type == MS_GUEST_EVENT_REPORT_SENT ? "Report" : "ReclaimResult");
		e = &st.exp[st.exp_head++];
		if (e->type == type && e->a == a && e->b == b && e->c == c)
			return;
		/* Queued when the connection broke: lost with it. */
		FUZZ_CHECK(e->epoch < st.epoch, "event %d (%llu) has no frame; the wire has %d (%llu)",
			   (int)e->type, (unsigned long long)e->a, (int)type, (unsigned long long)a);
	}
}

/* Every event of the current connection has had its frame. */
static void check_expected_all(void)
{
	for (size_t i = st.exp_head; i < st.nr_exp; i++)
		FUZZ_CHECK(st.exp[i].epoch < st.epoch, "event %d (%llu) never reached the host",
			   (int)st.exp[i].type, (unsigned long long)st.exp[i].a);
}

/* What the executors must answer on the harness's sysroot. */
static void check_reclaim(const struct ms_reclaim_request *req, const struct ms_reclaim_reply *rep)
{
	const struct ms_reclaim_result *r = &rep->result;
	uint32_t memcg_kinds = req->kinds & (MS_RECLAIM_FILE | MS_RECLAIM_ANON);
	uint64_t capped = 0;
	bool memcg = memcg_kinds && req->bytes;

	FUZZ_CHECK(rep->id == req->id && r->requested_bytes == req->bytes,
		   "reply %llu for %llu bytes to request %llu for %llu bytes",
		   (unsigned long long)rep->id, (unsigned long long)r->requested_bytes,
		   (unsigned long long)req->id, (unsigned long long)req->bytes);
	FUZZ_CHECK(r->freed_bytes == 0 && r->freed_file_bytes == 0 && r->freed_anon_bytes == 0 &&
		   r->freed_slab_bytes == 0, "freed %llu bytes of a sysroot",
		   (unsigned long long)r->freed_bytes);
	if (memcg_kinds == MS_RECLAIM_FILE && req->bytes) {
		uint64_t allowed = FUZZ_MEMCG_FILE_BYTES - FUZZ_FLOOR_BYTES;

		capped = req->bytes > allowed ? req->bytes - allowed : 0;
		memcg = req->bytes > capped;
	}
	FUZZ_CHECK(r->capped_bytes == capped, "capped %llu of %llu bytes, kinds %#x",
		   (unsigned long long)r->capped_bytes, (unsigned long long)req->bytes, req->kinds);
	FUZZ_CHECK(r->method == ((req->kinds & MS_RECLAIM_SLAB ? 1u << MS_RECLAIM_METHOD_DROP_SLAB : 0) |
				 (memcg ? 1u << MS_RECLAIM_METHOD_MEMCG : 0)),
		   "methods %#x for kinds %#x, %llu bytes", r->method, req->kinds,
		   (unsigned long long)req->bytes);
	if (memcg_kinds && !req->bytes)
		FUZZ_CHECK(r->status == -EINVAL, "status %d for 0 bytes", r->status);
	else
		FUZZ_CHECK(r->status == 0 || (r->status == -ETIMEDOUT && req->deadline_ms),
			   "status %d", r->status);
}

static void on_event(struct ms_guest *g, const struct ms_guest_event *ev, void *userdata)
{
	bool connected = ms_guest_is_connected(g);

	(void)userdata;
	if (verbose)
		fprintf(stderr, "event %d\n", (int)ev->type);
	FUZZ_CHECK(g == st.guest && !st.freed, "an event from no guest or a freed one");
	/* What the guest sent before (on a serial port it may say Hello and
	 * hear a stale answer in one ms_guest_process() call). */
	if (ev->type == MS_GUEST_EVENT_CONNECTED || ev->type == MS_GUEST_EVENT_DISCONNECTED)
		read_answers();
	switch (ev->type) {
	case MS_GUEST_EVENT_CONNECTED:
		FUZZ_CHECK(connected && ev->welcome, "CONNECTED");
		FUZZ_CHECK(st.session, "CONNECTED without a Hello");
		FUZZ_CHECK(ev->welcome->proto_version >= MS_PROTO_VERSION_MIN &&
			   ev->welcome->proto_version <= MS_PROTO_VERSION_MAX,
			   "connected with protocol version %u", ev->welcome->proto_version);
		FUZZ_CHECK(ev->welcome->nr_bin_edges < MS_LRU_MAX_BINS, "%u bin edges",
			   ev->welcome->nr_bin_edges);
		/* No more than a Config may ask (lib/proto/codec.c): a host
		 * cannot make the guest measure and report every millisecond. */
		FUZZ_CHECK(ev->welcome->report_interval_ms == 0 ||
			   ev->welcome->report_interval_ms >= FUZZ_MIN_INTERVAL_MS,
			   "connected with a report interval of %u ms",
			   ev->welcome->report_interval_ms);
		st.ready = true;
		st.connected++;
		break;
	case MS_GUEST_EVENT_REPORT_SENT:
		FUZZ_CHECK(connected && st.ready && ev->report, "REPORT_SENT");
		FUZZ_CHECK(ev->report->reason == MS_REPORT_PERIODIC ||
			   ev->report->reason == MS_REPORT_AFTER_RECLAIM,
			   "report reason %u (no PSI trigger can be armed)", ev->report->reason);
		expect(ev->type, ev->report->mono_us, ev->report->reason,
		       ev->report->meminfo.total_bytes);
		break;
	case MS_GUEST_EVENT_RECLAIM_DONE:
		FUZZ_CHECK(connected && st.ready && ev->request && ev->reply, "RECLAIM_DONE");
		check_reclaim(ev->request, ev->reply);
		expect(ev->type, ev->reply->id, (uint64_t)(int64_t)ev->reply->result.status,
		       ev->reply->result.capped_bytes);
		break;
	case MS_GUEST_EVENT_HOST_ERROR:
		FUZZ_CHECK(connected && st.ready && ev->error, "HOST_ERROR");
		FUZZ_CHECK(memchr(ev->error->message, 0, sizeof(ev->error->message)),
			   "error message");
		break;
	case MS_GUEST_EVENT_DISCONNECTED:
		FUZZ_CHECK(!connected && ev->reason && ev->err <= 0, "DISCONNECTED (err %d)", ev->err);
		FUZZ_CHECK(st.session, "DISCONNECTED without a session");
		FUZZ_CHECK(strlen(ev->reason) < 512, "reason");
		st.session = st.ready = false;
		st.disc_on_link = true;
		st.disconnected++;
		st.epoch++;
		break;
	default:
		FUZZ_CHECK(0, "event type %d", (int)ev->type);
	}
}

/* ---- what the guest sent ----------------------------------------------------- */

/* poll(), again when a signal (libFuzzer's SIGALRM) interrupts it. */
static int poll_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r;
}

static void on_frame(const struct ms_msg *m)
{
	if (verbose)
		fprintf(stderr, "guest sent %s seq %llu\n", ms_msg_type_name(m->type),
			(unsigned long long)m->seq);
	FUZZ_CHECK(!st.goodbye, "%s after Goodbye", ms_msg_type_name(m->type));
	FUZZ_CHECK(m->version == MS_PROTO_VERSION_MAX, "version %u", m->version);
	if (st.serial)
		FUZZ_CHECK(m->seq > st.last_seq, "seq %llu after %llu", (unsigned long long)m->seq,
			   (unsigned long long)st.last_seq);
	else
		FUZZ_CHECK(m->seq == st.last_seq + 1, "seq %llu after %llu",
			   (unsigned long long)m->seq, (unsigned long long)st.last_seq);
	st.last_seq = m->seq;
	FUZZ_CHECK(st.serial || (m->type == MS_MSG_HELLO) == (st.frames_on_link == 0),
		   "%s as frame %u of a connection", ms_msg_type_name(m->type), st.frames_on_link);
	st.frames_on_link++;
	switch (m->type) {
	case MS_MSG_HELLO:
		FUZZ_CHECK(!st.serial || st.after_marker, "a Hello without a marker");
		FUZZ_CHECK(m->u.hello.proto_min == MS_PROTO_VERSION_MIN &&
			   m->u.hello.proto_max == MS_PROTO_VERSION_MAX &&
			   m->u.hello.capabilities == guest_caps &&
			   strcmp(m->u.hello.guest_name, "fuzz-guest") == 0, "Hello");
		st.hellos++;
		st.session = true;
		st.hello_pending = true;
		st.hello_seq = m->seq;
		break;
	case MS_MSG_REPORT:
		expected(MS_GUEST_EVENT_REPORT_SENT, m->u.report.mono_us, m->u.report.reason,
			 m->u.report.meminfo.total_bytes);
		break;
	case MS_MSG_RECLAIM_RESULT:
		expected(MS_GUEST_EVENT_RECLAIM_DONE, m->u.reclaim_result.id,
			 (uint64_t)(int64_t)m->u.reclaim_result.result.status,
			 m->u.reclaim_result.result.capped_bytes);
		answered(MS_MSG_RECLAIM_RESULT, m->in_reply_to, m->u.reclaim_result.id,
			 m->u.reclaim_result.result.requested_bytes);
		break;
	case MS_MSG_PONG:
		answered(MS_MSG_PONG, m->in_reply_to, m->u.nonce, 0);
		break;
	case MS_MSG_ERROR:
		FUZZ_CHECK(m->u.error.code > 0, "Error code %d", m->u.error.code);
		answered(MS_MSG_ERROR, m->in_reply_to, 0, 0);
		break;
	case MS_MSG_PING:
		break;                  /* keepalive: the host set one */
	case MS_MSG_GOODBYE:
		FUZZ_CHECK(st.freed, "Goodbye from a guest that goes on");
		st.goodbye = true;
		break;
	default:
		FUZZ_CHECK(0, "the guest sent %s", ms_msg_type_name(m->type));
	}
	st.after_marker = false;
}

/* The link's end: what is left of the connection goes. */
static void link_close(void)
{
	if (st.link >= 0)
		close(st.link);
	st.link = -1;
}

/* Read and check everything the guest sent on the link. */
static void read_answers(void)
{
	uint8_t buf[16384];
	ssize_t n;

	while (st.link >= 0) {
		n = st.serial ? read(st.link, buf, sizeof(buf))
			      : recv(st.link, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;       /* libFuzzer's SIGALRM, every second */
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* The guest closed the connection. */
			FUZZ_CHECK(!st.serial, "the port failed: %s", strerror(errno));
			link_close();
			break;
		}
		FUZZ_CHECK(ms_frame_decoder_push(&st.answers, buf, (size_t)n) == 0, "answers");
		for (;;) {
			const uint8_t *payload;
			struct ms_msg m;
			char why[256];
			size_t len;
			int r = ms_frame_decoder_next(&st.answers, &payload, &len);

			if (r == 0)
				break;
			if (r == MS_FRAME_SYNC) {
				st.after_marker = true;
				continue;
			}
			FUZZ_CHECK(r == 1, "the guest sent a broken frame: %d", r);
			r = ms_msg_decode(payload, len, &m, why, sizeof(why));
			FUZZ_CHECK(r == 0, "the guest sent an undecodable message: %s", why);
			on_frame(&m);
			ms_msg_clear(&m);
		}
	}
}

/* The guest's state as the API shows it, against its events. */
static void check_state(void)
{
	int64_t t = ms_guest_get_timeout_us(st.guest);
	bool connected = ms_guest_is_connected(st.guest);

	FUZZ_CHECK(t >= 0 || (t == -1 && (st.flags & FG_LISTEN) && !st.serial),
		   "timeout %lld", (long long)t);
	/* A serial session restart leaves READY without an event. */
	FUZZ_CHECK(connected == st.ready || (st.serial && !connected),
		   "is_connected %d, events say %d", connected, st.ready);
}

/* Run the guest until it has nothing to do; read what it sends meanwhile. */
static void pump(void)
{
	for (int i = 0;; i++) {
		/* Poll the port: the tty moves what the host wrote to the
		 * guest's side now, not in a moment. */
		if (st.keeper >= 0)
			poll_fd(st.keeper, POLLIN, 0);
		read_answers();
		if (poll_fd(ms_guest_get_fd(st.guest), POLLIN, 0) <= 0 &&
		    ms_guest_get_timeout_us(st.guest) != 0)
			break;
		FUZZ_CHECK(i < FUZZ_MAX_ROUNDS, "the guest does not settle");
		FUZZ_CHECK(ms_guest_process(st.guest) == 0, "ms_guest_process failed");
		check_state();
	}
	read_answers();
	/* A guest that says it disconnected has closed the connection. */
	FUZZ_CHECK(st.serial || !st.disc_on_link || st.link < 0,
		   "DISCONNECTED, and the connection is still open");
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Sleep until the guest has something to do (at most 10 ms). */
static void sleep_until_due(void)
{
	int64_t t = ms_guest_get_timeout_us(st.guest);
	int ms = t < 0 || t > 10000 ? 10 : (int)((t + 999) / 1000);

	poll_fd(ms_guest_get_fd(st.guest), POLLIN, ms);
}

/* A new connection: the decoder and the sequence start anew. */
static void link_reset(void)
{
	ms_frame_decoder_release(&st.answers);
	ms_frame_decoder_init(&st.answers, MS_FRAME_DEFAULT_MAX_BYTES);
	st.last_seq = 0;
	st.frames_on_link = 0;
	st.disc_on_link = false;
}

/* FG_LISTEN: a host's connection to the listening guest. */
static int connect_to_guest(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", guest_path);
	FUZZ_CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
		   "connect to the guest: %s", strerror(errno));
	return fd;
}

/* Bring the link up (again): the guest's first connection, or its next
 * after a drop (its backoff is 1 ms then). */
static void link_start(void)
{
	uint64_t start = now_us();

	if (st.serial) {
		/* The port stays; the guest reopens it and says Hello. */
		while (!st.session) {
			FUZZ_CHECK(now_us() - start < FUZZ_RECONNECT_WAIT_US,
				   "the guest does not come back to the port");
			sleep_until_due();
			pump();
		}
		return;
	}
	link_reset();
	if (st.flags & FG_LISTEN) {
		/* The host connects to the listening guest; then a second
		 * host, which the guest must refuse: one host at a time. */
		int second;

		st.link = connect_to_guest();
		pump();
		second = connect_to_guest();
		pump();
		FUZZ_CHECK(recv(second, &(char){ 0 }, 1, MSG_DONTWAIT) == 0,
			   "the guest did not refuse a second host");
		close(second);
		return;
	}
	/* The guest connects to the host. */
	for (;;) {
		pump();
		st.link = accept4(host_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (st.link >= 0)
			break;
		FUZZ_CHECK(now_us() - start < FUZZ_RECONNECT_WAIT_US, "the guest does not connect");
		sleep_until_due();
	}
	pump();
}

/* The host can write: the link is up, and (serial) the guest is there. */
static bool link_usable(void)
{
	return st.serial ? st.session || !st.disc_on_link : st.link >= 0;
}

/* Write all of @p (less if the guest closed the connection). */
static void write_all(const uint8_t *p, size_t n)
{
	int stalls = 0;

	while (n && link_usable()) {
		ssize_t w = st.serial ? write(st.link, p, n)
				      : send(st.link, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			FUZZ_CHECK(++stalls < 1000, "the guest does not read");
			pump();
			continue;
		}
		if (w < 0) {
			FUZZ_CHECK(!st.serial, "writing to the port: %s", strerror(errno));
			pump();         /* EPIPE, ECONNRESET: read what is left */
			if (st.link >= 0) {
				/* Its EOF is yet to come. */
				link_close();
			}
			return;
		}
		if (verbose)
			fprintf(stderr, "host wrote %zd bytes\n", w);
		p += w;
		n -= (size_t)w;
	}
}

/* FG_WELCOME: answer the guest's Hello. */
static void welcome(void)
{
	struct ms_msg m = { .type = MS_MSG_WELCOME, .version = 1, .seq = ++st.welcome_seq,
			    .in_reply_to = st.hello_seq };
	uint8_t *frame;
	size_t len;

	st.hello_pending = false;
	m.u.welcome.proto_version = MS_PROTO_VERSION_MAX;
	FUZZ_CHECK(ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &frame, &len) == 0, "encode");
	if (st.serial)
		write_all((const uint8_t *)MS_SYNC_MARKER, MS_SYNC_MARKER_BYTES);
	write_all(frame, len);
	free(frame);
	pump();
}

/* FG_SERIAL: a pty for the port; raw, so that no byte is changed. */
static void open_port(void)
{
	struct termios t;
	const char *name;
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

	FUZZ_CHECK(m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0 && (name = ptsname(m)),
		   "pty: %s", strerror(errno));
	snprintf(st.port, sizeof(st.port), "%s", name);
	st.keeper = open(st.port, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	FUZZ_CHECK(st.keeper >= 0 && tcgetattr(st.keeper, &t) == 0, "%s: %s", st.port,
		   strerror(errno));
	cfmakeraw(&t);
	FUZZ_CHECK(tcsetattr(st.keeper, TCSANOW, &t) == 0, "raw: %s", strerror(errno));
	st.link = m;
	snprintf(st.endpoint, sizeof(st.endpoint), "serial:%s", st.port);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	FUZZ_CHECK(d, "/proc/self/fd: %s", strerror(errno));
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The guest's connections the harness has not taken: refuse them. */
static void drain_backlog(void)
{
	int fd;

	while ((fd = accept4(host_lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0 || errno == EINTR)
		if (fd >= 0)
			close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t rng;
	size_t off, end;
	bool at_start;
	int fds_before, r;

	if (size < FUZZ_HEADER_BYTES)
		return -1;
	memset(&st, 0, sizeof(st));
	st.flags = data[0];
	st.serial = st.flags & FG_SERIAL;
	rng = data[1] * 0x01000193u + 1;
	st.data = data + FUZZ_HEADER_BYTES;
	st.size = size - FUZZ_HEADER_BYTES;
	st.link = st.keeper = -1;
	fds_before = count_fds();
	ms_frame_decoder_init(&st.answers, MS_FRAME_DEFAULT_MAX_BYTES);
	ms_frame_decoder_set_sync(&st.answers, st.serial);
	register_stream();

	if (st.serial) {
		open_port();
	} else if (st.flags & FG_LISTEN) {
		snprintf(st.endpoint, sizeof(st.endpoint), "%s", guest_endpoint);
	} else {
		snprintf(st.endpoint, sizeof(st.endpoint), "%s", host_endpoint);
	}
	{
		bool reconnect = st.flags & FG_RECONNECT;
		bool listen = (st.flags & FG_LISTEN) && !st.serial;
		MS_OPTS(ms_guest_opts, o, .ctx = ctx, .name = "fuzz-guest",
			.connect = listen ? NULL : st.endpoint, .listen = listen ? st.endpoint : NULL,
			.reconnect_min_ms = reconnect ? 1 : 60000,
			.reconnect_max_ms = reconnect ? 1 : 60000,
			.mglru_aging_ms = MS_GUEST_NO_AGING, .event_fn = on_event,
			.reclaim_floor_bytes = FUZZ_FLOOR_BYTES,
			.host_unix_peer = st.flags & FG_STRANGER ? MS_UNIX_PEER_UID
								 : MS_UNIX_PEER_SAME_UID,
			.host_unix_uid = geteuid() + 1);

		r = ms_guest_new(&st.guest, &o);
		FUZZ_CHECK(r == 0, "ms_guest_new: %d", r);
	}
	FUZZ_CHECK(!ms_guest_is_connected(st.guest), "connected before it started");
	pump();
	link_start();

	/* @end: where the frame being written ends; @at_start: @off is where
	 * a frame starts (or the stream ends), a place to inject a frame. */
	end = fuzz_frame_end(st.data, st.size, 0);
	for (off = 0, at_start = true;;) {
		size_t n;

		if ((st.flags & FG_WELCOME) && st.hello_pending && at_start && link_usable())
			welcome();
		if (off == st.size)
			break;
		if (!link_usable()) {
			/* The guest dropped the connection: the rest of the
			 * stream goes, or (FG_RECONNECT) it goes on from its
			 * next frame on the next connection. */
			if (!(st.flags & FG_RECONNECT) || st.reconnects++ >= FUZZ_MAX_RECONNECTS)
				break;
			if (!at_start) {
				off = end;
				at_start = true;
				if (off == st.size)
					break;
				end = fuzz_frame_end(st.data, st.size, off);
			}
			link_start();
			continue;
		}
		switch (st.flags & FH_CUT_MASK) {
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
			n = st.size - off;
			break;
		}
		n = n < st.size - off ? n : st.size - off;
		write_all(st.data + off, n);
		off += n;
		while (end < off)
			end = fuzz_frame_end(st.data, st.size, end);
		at_start = end == off;
		if (at_start && off < st.size)
			end = fuzz_frame_end(st.data, st.size, off);
		pump();
	}

	/* Everything the guest told of has reached the host. */
	pump();
	check_expected_all();
	if (st.flags & FG_FREE) {
		/* Goodbye, if connected, as the last frame. */
		bool connected = ms_guest_is_connected(st.guest);

		st.freed = true;
		ms_guest_free(st.guest);
		st.guest = NULL;
		if (st.keeper >= 0)
			poll_fd(st.keeper, POLLIN, 0);
		read_answers();
		FUZZ_CHECK(st.goodbye == connected, "a connected guest left without Goodbye");
		FUZZ_CHECK(st.serial || st.link < 0, "the freed guest kept its connection");
	} else {
		/* The host hangs up (a pty: the port goes): the guest must
		 * notice. */
		bool had_session = st.session;
		unsigned disconnected = st.disconnected;

		link_close();
		if (st.keeper >= 0)
			close(st.keeper);
		st.keeper = -1;
		pump();
		FUZZ_CHECK(!ms_guest_is_connected(st.guest) &&
			   (!had_session || st.disconnected > disconnected),
			   "the guest did not notice that the host hung up");
		st.freed = true;
		ms_guest_free(st.guest);
		st.guest = NULL;
	}
	link_close();
	if (st.keeper >= 0)
		close(st.keeper);
	drain_backlog();
	FUZZ_CHECK(st.connected <= st.hellos && st.disconnected <= st.hellos,
		   "%u Hellos, %u CONNECTED, %u DISCONNECTED", st.hellos, st.connected,
		   st.disconnected);
	FUZZ_CHECK(count_fds() == fds_before, "%d file descriptors before the input, %d after",
		   fds_before, count_fds());
	ms_frame_decoder_release(&st.answers);
	free(st.sent);
	free(st.extra);
	free(st.exp);
	return 0;
}
