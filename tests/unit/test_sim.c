/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sim: small synthetic recordings (written with the internal trace writer,
 * then re-timed) replayed against the four policies, with the results
 * derived from the model of include/memshare/sim.h and the rules of
 * docs/policy.md.
 *
 * Every guest here has 4 GiB and reports once a second from t = 0 to
 * t = 400 s: 401 one-second steps, so the simulated duration is 401 s.
 * Policy rounds are at t = 0, 10, ..., 400; the actions of a round take
 * effect from the next step.  The LRU summary uses the default bins
 * [0,5s) [5s,30s) [30s,120s) [120s,600s) [600s,inf): "cold" is file memory
 * in the last two (no swap).
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memshare/memshare.h>

#include "proto/codec.h"
#include "proto/frame.h"
#include "trace/trace-writer.h"

#include "testutil.h"

#define MIB (1024ull * 1024ull)
#define GIB (1024ull * 1024ull * 1024ull)
#define GUEST_SIZE (4 * GIB)
#define LAST_S 400

static char dir[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_tmp_root("sim"));
}

static void teardown(void)
{
	tu_tmp_cleanup();
}

static const char *tpath(const char *name)
{
	static char buf[4][256];
	static int slot;
	char *p = buf[slot++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}

/* ---- writing recordings at chosen times ------------------------------------
 * The writer stamps records with the clock; the synthesiser notes the time
 * each record should have and rewrites the t_us fields after closing.
 */

struct synth {
	struct ms_trace_writer *w;
	char path[256];
	uint64_t *t_us;
	size_t n, cap;
};

static void synth_open(struct synth *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s", tpath(name));
	ck_assert_int_eq(ms_trace_writer_open(&s->w, s->path), 0);
}

static void synth_raw(struct synth *s, uint64_t t_ms, uint64_t guest, enum ms_trace_dir d,
		      const void *data, size_t len)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 512;
		s->t_us = realloc(s->t_us, s->cap * sizeof(*s->t_us));
		ck_assert_ptr_nonnull(s->t_us);
	}
	s->t_us[s->n++] = t_ms * 1000;
	ck_assert_int_eq(ms_trace_writer_add(s->w, guest, d, data, len), 0);
}

static void synth_msg(struct synth *s, uint64_t t_ms, uint64_t guest, enum ms_trace_dir d,
		      struct ms_msg *m)
{
	uint8_t *frame;
	size_t len;

	m->version = 1;
	ck_assert_int_eq(ms_msg_encode(m, MS_FRAME_HARD_MAX_BYTES, &frame, &len), 0);
	synth_raw(s, t_ms, guest, d, frame + MS_FRAME_HEADER_BYTES, len - MS_FRAME_HEADER_BYTES);
	free(frame);
}

static void synth_hello(struct synth *s, uint64_t t_ms, uint64_t guest, uint64_t caps)
{
	struct ms_msg m;

	memset(&m, 0, sizeof(m));
	m.type = MS_MSG_HELLO;
	m.u.hello.proto_min = m.u.hello.proto_max = 1;
	m.u.hello.capabilities = caps;
	snprintf(m.u.hello.guest_name, sizeof(m.u.hello.guest_name), "vm-%llu",
		 (unsigned long long)guest);
	m.u.hello.mem_total_bytes = GUEST_SIZE;
	m.u.hello.page_size_bytes = 4096;
	synth_msg(s, t_ms, guest, MS_TRACE_FROM_GUEST, &m);
}

/* What one Report says. */
struct gmem {
	uint64_t total, free, avail, slab;
	uint64_t anon[5], file[5];       /* per default bin */
	uint64_t refault;                /* vmstat refault bytes, cumulative */
	bool psi;
	uint64_t psi_total_us;           /* cumulative some stall */
};

static void synth_report(struct synth *s, uint64_t t_ms, uint64_t guest, const struct gmem *gm)
{
	static const uint64_t lo[5] = { 0, 5000, 30000, 120000, 600000 };
	static const uint64_t hi[5] = { 5000, 30000, 120000, 600000, MS_AGE_INFINITE };
	struct ms_msg m;
	struct ms_report *r = &m.u.report;

	memset(&m, 0, sizeof(m));
	m.type = MS_MSG_REPORT;
	memset(&r->meminfo, 0xff, sizeof(r->meminfo));
	memset(&r->vmstat, 0xff, sizeof(r->vmstat));
	r->mono_us = 1000000 + t_ms * 1000;       /* guest uptime */
	r->meminfo.total_bytes = gm->total;
	r->meminfo.free_bytes = gm->free;
	r->meminfo.available_bytes = gm->avail;
	r->meminfo.sreclaimable_bytes = gm->slab;
	r->meminfo.swap_total_bytes = 0;
	r->vmstat.refault_bytes = gm->refault;
	if (gm->psi) {
		r->has_psi = true;
		r->psi.present = MS_PSI_SOME;
		r->psi.some.total_us = gm->psi_total_us;
	}
	r->lru = calloc(1, sizeof(*r->lru) + sizeof(struct ms_lru_node));
	ck_assert_ptr_nonnull(r->lru);
	r->lru->source = MS_LRU_SOURCE_MGLRU;
	r->lru->nr_nodes = 1;
	r->lru->nodes[0].nr_bins = 5;
	r->lru->nodes[0].slab_reclaimable_bytes = gm->slab;
	r->lru->nodes[0].shmem_bytes = 0;
	r->lru->nodes[0].unevictable_bytes = 0;
	for (int i = 0; i < 5; i++) {
		r->lru->nodes[0].bins[i].min_age_ms = lo[i];
		r->lru->nodes[0].bins[i].max_age_ms = hi[i];
		r->lru->nodes[0].bins[i].anon_bytes = gm->anon[i];
		r->lru->nodes[0].bins[i].file_bytes = gm->file[i];
	}
	synth_msg(s, t_ms, guest, MS_TRACE_FROM_GUEST, &m);
	ms_msg_clear(&m);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Close the writer and give every record its time. */
static void synth_close(struct synth *s)
{
	FILE *f;
	long off = 24;

	ms_trace_writer_close(s->w);
	f = fopen(s->path, "r+be");
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < s->n; i++) {
		uint8_t h[24];

		ck_assert_int_eq(fseek(f, off, SEEK_SET), 0);
		ck_assert_uint_eq(fread(h, 1, 24, f), 24);
		put_be64(h, s->t_us[i]);
		ck_assert_int_eq(fseek(f, off, SEEK_SET), 0);
		ck_assert_uint_eq(fwrite(h, 1, 24, f), 24);
		off += 24 + (long)((uint32_t)h[20] << 24 | (uint32_t)h[21] << 16 |
				   (uint32_t)h[22] << 8 | h[23]);
	}
	ck_assert_int_eq(fclose(f), 0);
	free(s->t_us);
	s->t_us = NULL;
}

/* ---- the guests ------------------------------------------------------------ */

#define CAPS (MS_CAP_PSI | MS_CAP_MGLRU | MS_CAP_MEMCG_RECLAIM)

/* Fill what the guest reports at @t_s; false: it sends no Report then. */
typedef bool (*guest_fn)(uint64_t t_s, struct gmem *gm);

/*
 * "cold": 1 GiB free, 2.5 GiB available, 2 GiB of hot anon, 1 GiB of page
 * cache that is young until t = 120 s; from then on 128 MiB of it is cold.
 * Working set (MemTotal - MemFree - cold - slab): 3 GiB, then 2944 MiB.
 */
static bool g_cold(uint64_t t, struct gmem *gm)
{
	memset(gm, 0, sizeof(*gm));
	gm->total = GUEST_SIZE;
	gm->free = GIB;
	gm->avail = 5 * GIB / 2;
	gm->anon[0] = 2 * GIB;
	if (t < 120) {
		gm->file[2] = GIB;
	} else {
		gm->file[2] = 896 * MIB;
		gm->file[3] = 128 * MIB;
	}
	return true;
}

/* "reread": "cold", but at t = 200 s the cold 128 MiB are read again
 * (young from then on). */
static bool g_reread(uint64_t t, struct gmem *gm)
{
	g_cold(t, gm);
	if (t >= 200) {
		gm->file[2] = 0;
		gm->file[3] = 0;
		gm->file[0] = GIB;
	}
	return true;
}

/*
 * "grow": 2 GiB free and 3 GiB available, 1 GiB of hot anon, 256 MiB of
 * cold page cache (and 768 MiB young); at t = 200 s its working set grows
 * by 1.5 GiB of anon: 0.5 GiB free, 1.5 GiB available.  Working set
 * 1.75 GiB, then 3.25 GiB.
 */
static bool g_grow(uint64_t t, struct gmem *gm)
{
	memset(gm, 0, sizeof(*gm));
	gm->total = GUEST_SIZE;
	gm->anon[0] = t < 200 ? GIB : 5 * GIB / 2;
	gm->file[0] = 768 * MIB;
	gm->file[3] = 256 * MIB;
	gm->free = t < 200 ? 2 * GIB : GIB / 2;
	gm->avail = t < 200 ? 3 * GIB : 3 * GIB / 2;
	return true;
}

/* "cold", stalling 1500 us/s by its PSI "some" total (above stall_target,
 * below stall_backoff). */
static bool g_cold_psi1500(uint64_t t, struct gmem *gm)
{
	g_cold(t, gm);
	gm->psi = true;
	gm->psi_total_us = 1000000 + t * 1500;
	return true;
}

/* "cold", stalling 2500 us/s: hot. */
static bool g_cold_psi2500(uint64_t t, struct gmem *gm)
{
	g_cold(t, gm);
	gm->psi = true;
	gm->psi_total_us = t * 2500;
	return true;
}

/* "cold", refaulting 1 MiB/s by its own vmstat counters: 60 MiB a minute,
 * above 0.2% of its working set (about 6 MiB): hot. */
static bool g_cold_refaulting(uint64_t t, struct gmem *gm)
{
	g_cold(t, gm);
	gm->refault = 5 * GIB + t * MIB;
	return true;
}

/* "cold", but reporting only from t = 100 s to t = 300 s. */
static bool g_cold_late(uint64_t t, struct gmem *gm)
{
	g_cold(t, gm);
	return t >= 100 && t <= 300;
}

/* Write @name with guests @fns[i] as guest ids 1, 2, ... (Hello with
 * @caps at t = 0, then their Reports); its path (a fresh string: the tests
 * free it). */
static char *write_trace_caps(const char *name, const guest_fn *fns, size_t nfn, uint64_t caps)
{
	struct synth s;
	char *path;

	synth_open(&s, name);
	for (size_t i = 0; i < nfn; i++)
		synth_hello(&s, 0, i + 1, caps);
	for (uint64_t t = 0; t <= LAST_S; t++) {
		for (size_t i = 0; i < nfn; i++) {
			struct gmem gm;

			if (fns[i](t, &gm))
				synth_report(&s, t * 1000, i + 1, &gm);
		}
	}
	synth_close(&s);
	path = strdup(s.path);
	ck_assert_ptr_nonnull(path);
	return path;
}

static char *write_trace(const char *name, const guest_fn *fns, size_t nfn)
{
	return write_trace_caps(name, fns, nfn, CAPS);
}

static char *write1(const char *name, guest_fn fn)
{
	return write_trace(name, &fn, 1);
}

/* ---- running --------------------------------------------------------------- */

static struct ms_policy_params PP;

static int run_opts(const char *policy, const char *path, uint64_t host_total, int fpr,
		    struct ms_sim_result *res)
{
	MS_OPTS(ms_sim_opts, o, .trace_path = path, .policy = ms_policy_find(policy),
		.params = &PP, .host_total_bytes = host_total, .free_page_reporting = fpr);

	ck_assert_ptr_nonnull(o.policy);
	memset(res, 0x5a, sizeof(*res));
	return ms_sim_run(&o, res);
}

static struct ms_sim_result run(const char *policy, const char *path, uint64_t host_total,
				int fpr)
{
	struct ms_sim_result res;

	ck_assert_int_eq(run_opts(policy, path, host_total, fpr, &res), 0);
	ck_assert_str_eq(res.policy, policy);
	ck_assert_uint_eq(res.actions, res.reclaim_actions + res.balloon_actions);
	if (getenv("MS_TEST_VERBOSE"))
		fprintf(stderr,
			"%-18s guests %u dur %.17g ret %.17g mean %.17g stall %.17g rf %llu pct %.17g crit %.17g act %llu/%llu/%llu\n",
			res.policy, res.guests, res.duration_s, res.returned_gib_s,
			res.returned_mean_gib, res.stall_s, (unsigned long long)res.refault_bytes,
			res.refault_pct_ws_per_min, res.host_critical_s,
			(unsigned long long)res.actions, (unsigned long long)res.reclaim_actions,
			(unsigned long long)res.balloon_actions);
	return res;
}


static void sim_setup(void)
{
	setup();
	ms_policy_params_init(&PP);
}

/* Within a byte-second of the expected GiB·s. */
#define TOL (1.0 / (double)GIB)

static void check_res(const struct ms_sim_result *r, uint32_t guests, double returned,
		      double stall, uint64_t refault, double critical, uint64_t reclaims,
		      uint64_t balloons)
{
	ck_assert_uint_eq(r->guests, guests);
	ck_assert_double_eq(r->duration_s, LAST_S + 1);
	ck_assert_double_eq_tol(r->returned_gib_s, returned, TOL);
	ck_assert_double_eq_tol(r->returned_mean_gib, returned / (LAST_S + 1), TOL);
	ck_assert_double_eq_tol(r->stall_s, stall, 1e-9);
	ck_assert_uint_eq(r->refault_bytes, refault);
	if (!refault)
		ck_assert_double_eq(r->refault_pct_ws_per_min, 0);
	ck_assert_double_eq(r->host_critical_s, critical);
	ck_assert_uint_eq(r->reclaim_actions, reclaims);
	ck_assert_uint_eq(r->balloon_actions, balloons);
	ck_assert_uint_eq(r->actions, reclaims + balloons);
}

/*
 * memshare on "cold" with the host fine (proactive, 2% steps, one guest a
 * round, rounds every 10 s):
 *  t = 120: 128 MiB cold; asks min(128 MiB, 2% of 4 GiB = 85 899 345.92)
 *           = R1 = 85 899 345; the model evicts it at once (status 0);
 *  t = 130: takes it with the balloon: 4 209 067 951;
 *  t = 140: asks min(cold left 48 318 383, 2% of the new size) = R2 =
 *           48 318 383 (-EAGAIN would be less than asked: not here);
 *  t = 150: balloon 4 160 749 568 = 4 GiB - 128 MiB; nothing cold is left.
 * Evicted bytes are no longer resident: R1 from t = 121, 128 MiB from 141.
 */
#define R1 85899345ull
#define R2 48318383ull

START_TEST(sim_cold_host_fine)
{
	char *cold = write1("cold.trace", g_cold);
	struct ms_sim_result r;

	ck_assert_uint_eq(R1 + R2, 128 * MIB);
	/* With free page reporting a guest returns its 1 GiB free: 401 GiB·s.
	 * MoM grows, BalanceAvailable deflates: both are at the maximum
	 * already; static never acts. */
	r = run("static", cold, 16 * GIB, 0);
	check_res(&r, 1, 401, 0, 0, 0, 0, 0);
	r = run("mom", cold, 16 * GIB, 0);
	check_res(&r, 1, 401, 0, 0, 0, 0, 0);
	r = run("balance-available", cold, 16 * GIB, 0);
	check_res(&r, 1, 401, 0, 0, 0, 0, 0);
	/* memshare adds what it evicted: R1 for 20 s, 128 MiB for 260 s. */
	r = run("memshare", cold, 16 * GIB, 0);
	check_res(&r, 1, 401 + 20.0 * R1 / GIB + 260 * 0.125, 0, 0, 0, 2, 2);
	/* free_page_reporting = 1 is the default. */
	{
		struct ms_sim_result r1 = run("memshare", cold, 16 * GIB, 1);

		ck_assert_mem_eq(&r1, &r, sizeof(r));
	}
	/* Without free page reporting only the balloon returns memory: 0 for
	 * the baselines; memshare's balloon holds R1 from t = 131 and 128 MiB
	 * from t = 151. */
	r = run("static", cold, 16 * GIB, -1);
	check_res(&r, 1, 0, 0, 0, 0, 0, 0);
	r = run("mom", cold, 16 * GIB, -1);
	check_res(&r, 1, 0, 0, 0, 0, 0, 0);
	r = run("balance-available", cold, 16 * GIB, -1);
	check_res(&r, 1, 0, 0, 0, 0, 0, 0);
	r = run("memshare", cold, 16 * GIB, -1);
	check_res(&r, 1, 20.0 * R1 / GIB + 250 * 0.125, 0, 0, 0, 2, 2);
	free(cold);
}
END_TEST

/*
 * "cold" on a 5 GiB host without free page reporting: the host holds the
 * guest's whole balloon size, 4 GiB, so 1 GiB = 20% is available: not
 * under pressure (MoM grows, at the max already), memshare as on a big host.
 * BalanceAvailable (host critical 5% = 256 MiB, guest critical 5% of its
 * size; guest available = 2.5 GiB - what the balloon holds):
 *  t = 0:  guest_above 2.5 GiB - 214 748 364.8 = 2 469 606 195.2,
 *          host_above 1 GiB - 256 MiB = 805 306 368: delta 832 149 913.6:
 *          balloon 4 GiB - 832 149 913 = 3 462 817 383;
 *  t = 10: guest_above 1 852 204 647 - 173 140 869.15, host_above
 *          1 637 456 281: delta 20 803 748.4 > 1% of 1 637 456 281:
 *          balloon 3 442 013 635;
 *  t = 20: delta 520 094: inside the 1% dead band, done.
 */
START_TEST(sim_cold_ba_converges)
{
	char *cold = write1("cold.trace", g_cold);
	struct ms_sim_result r;

	r = run("static", cold, 5 * GIB, -1);
	check_res(&r, 1, 0, 0, 0, 0, 0, 0);
	r = run("mom", cold, 5 * GIB, -1);
	check_res(&r, 1, 0, 0, 0, 0, 0, 0);
	r = run("balance-available", cold, 5 * GIB, -1);
	check_res(&r, 1, (10.0 * 832149913 + 390.0 * (4 * GIB - 3442013635ull)) / GIB, 0, 0, 0, 0,
		  2);
	r = run("memshare", cold, 5 * GIB, -1);
	check_res(&r, 1, 20.0 * R1 / GIB + 250 * 0.125, 0, 0, 0, 2, 2);
	free(cold);
}
END_TEST

/*
 * "reread": at t = 200 the 128 MiB memshare evicted are used again.  The
 * model counts them as refaults, and the guest's refault rate that round
 * (128 MiB/s, far above 0.2% of its 3 GiB working set a minute) makes it
 * hot: deflated by 10% of its max, capped at the max (4 GiB), and left
 * alone (there is nothing cold any more anyway).  Resident again from
 * t = 200: memshare returned 1 GiB + R1 for 20 s, 1.125 GiB for 59 s.
 * Refaults per minute as % of the mean working set: 128 MiB / (401 / 60)
 * over (321 x 3 GiB + 80 x 2944 MiB) / 401, = 768000 / 1221632 %.
 */
START_TEST(sim_reread)
{
	char *reread = write1("reread.trace", g_reread);
	struct ms_sim_result r;
	const char *base[] = { "static", "mom", "balance-available" };

	for (int i = 0; i < 3; i++) {
		r = run(base[i], reread, 16 * GIB, 0);
		check_res(&r, 1, 401, 0, 0, 0, 0, 0);
	}
	r = run("memshare", reread, 16 * GIB, 0);
	check_res(&r, 1, 401 + 20.0 * R1 / GIB + 59 * 0.125, 0, 128 * MIB, 0, 2, 3);
	ck_assert_double_eq_tol(r.refault_pct_ws_per_min, 768000.0 / 1221632.0, 1e-12);
	/* The balloon: R1 for t = 131..150, 128 MiB for t = 151..200, then
	 * nothing (deflated at t = 200). */
	r = run("memshare", reread, 16 * GIB, -1);
	check_res(&r, 1, 20.0 * R1 / GIB + 50 * 0.125, 0, 128 * MIB, 0, 2, 3);
	free(reread);
}
END_TEST

/*
 * "grow" on the default host: 0.75 x 4 GiB = 3 GiB, critical below 5%
 * (resident above 3 221 225 472 - 161 061 273 = 3 060 164 199).  Its need
 * (MemTotal - MemFree) is 2 GiB, then 3.5 GiB from t = 200: the host is
 * fine, then overcommitted.
 */
#define GROW_WS1 (7 * GIB / 4)        /* working set before t = 200 */
#define GROW_WS2 (13 * GIB / 4)       /* after */
#define NEED2 (7 * GIB / 2)           /* need after t = 200 */
#define COLD_G (256 * MIB)

/* refault_pct_ws_per_min for @rf refaulted bytes on "grow". */
static double grow_pct(uint64_t rf)
{
	double ws_mean = (200.0 * GROW_WS1 + 201.0 * GROW_WS2) / 401;

	return (double)rf / (401 / 60.0) / ws_mean * 100;
}

START_TEST(sim_grow_static)
{
	char *grow = write1("grow.trace", g_grow);
	struct ms_sim_result r;

	/* Free memory returned: 2 GiB for 200 s, 0.5 GiB for 201 s; critical
	 * from t = 200 (3.5 GiB resident). */
	r = run("static", grow, 0, 0);
	check_res(&r, 1, 400 + 100.5, 0, 0, 201, 0, 0);
	/* host_total_bytes: 16 GiB is never critical... */
	r = run("static", grow, 16 * GIB, 0);
	check_res(&r, 1, 400 + 100.5, 0, 0, 0, 0, 0);
	/* ...and without free page reporting the 3 GiB host holds all 4 GiB. */
	r = run("static", grow, 0, -1);
	check_res(&r, 1, 0, 0, 0, 401, 0, 0);
	free(grow);
}
END_TEST

/*
 * MoM on "grow": the host is fine until t = 200 (MoM grows: nothing to
 * grow).  From t = 200 nothing is available (host_free 0 <= 0.05,
 * critical: guest_free -0.05, min = used - 0.05 cur below the 5% step), so
 * it shrinks 5% a round:
 *   t = 200: 4 080 218 931   210: 3 876 207 984   220: 3 682 397 584
 *   t = 230: 3 498 277 704   240: 3 323 363 818   250: 3 157 195 627
 * The guest evicts its 256 MiB of cold cache (75 698 800 at t = 221,
 * 184 119 880 at t = 231, the last 8 616 776 at t = 241), then its working
 * set (3.25 GiB) no longer fits.  t = 260: the balloon holds it at
 * 3 157 195 627 resident, host_free = 64 029 845 / 3 GiB = 0.0199, so
 * guest_free = -0.0301 and min = 0.9699 cur = 3 062 092 938; t = 270:
 * host_free 0.0494, the change is under 0.25%: it stays.  Missing working
 * set: 166 297 110 (t = 241..250), 332 465 301 (251..260) and 427 567 990
 * (261..400); each second it refaults and stalls missing / 3.25 GiB.
 */
START_TEST(sim_grow_mom)
{
	char *grow = write1("grow.trace", g_grow);
	struct ms_sim_result r;
	const double thrash = 10.0 * 166297110 + 10.0 * 332465301 + 140.0 * 427567990;
	/* Returned: 2 GiB free before t = 200, 0.5 GiB while the need fits
	 * (t = 200..220), then max - balloon. */
	const double ret = 400 + 21 * 0.5 +
		(10.0 * (4 * GIB - 3682397584ull) + 10.0 * (4 * GIB - 3498277704ull) +
		 10.0 * (4 * GIB - 3323363818ull) + 10.0 * (4 * GIB - 3157195627ull) +
		 140.0 * (4 * GIB - 3062092938ull)) / GIB;

	ck_assert_double_eq(thrash, 64847142710.0);
	r = run("mom", grow, 0, 0);
	check_res(&r, 1, ret, thrash / GROW_WS2, 64847142710ull, 201, 0, 7);
	ck_assert_double_eq_tol(r.refault_pct_ws_per_min, grow_pct(64847142710ull), 1e-9);

	/*
	 * Without free page reporting the host holds the balloon: 4 GiB on a
	 * 3 GiB host is critical from t = 0: 5% shrinks down to 2 999 335 845
	 * (t = 60; no longer critical from t = 61), then the scaled rule
	 * (t = 70: 2 849 369 052, 80: 2 706 900 599, 90: min = 2 GiB + 0.1597
	 * cur = 2 579 687 577), then min above cur: done.  From t = 200 the
	 * need (3.5 GiB - 256 MiB cold) misses 909 973 351 bytes for 201 s.
	 */
	r = run("mom", grow, 0, -1);
	{
		static const uint64_t sz[] = { 4080218931ull, 3876207984ull, 3682397584ull,
					       3498277704ull, 3323363818ull, 3157195627ull,
					       2999335845ull, 2849369052ull, 2706900599ull };
		double held = 0;

		for (size_t i = 0; i < sizeof(sz) / sizeof(sz[0]); i++)
			held += 10.0 * (double)(4 * GIB - sz[i]);
		held += 310.0 * (double)(4 * GIB - 2579687577ull);
		check_res(&r, 1, held / GIB, 201.0 * 909973351 / GROW_WS2, 201ull * 909973351, 61,
			  0, 10);
	}
	free(grow);
}
END_TEST

/*
 * BalanceAvailable on "grow": at t = 0 guest_above 3 GiB - 214 748 364.8,
 * host_above 1 GiB - 161 061 273.6: delta 1 046 898 278.4, balloon
 * 3 248 069 018; it converges to about the guest's need by t = 60.  When
 * the working set grows it deflates a round at a time, and once the guest
 * fits the host is below critical, so it inflates again: it swings with a
 * 40 s period until the end (28 actions).  The figures were checked with an
 * independent model of sim.h and the BalanceAvailable rule.
 */
START_TEST(sim_grow_ba)
{
	char *grow = write1("grow.trace", g_grow);
	struct ms_sim_result r;

	r = run("balance-available", grow, 0, 0);
	check_res(&r, 1, 599.4350430816412, 13.870765732171428, 48404269217ull, 180, 0, 28);
	ck_assert_double_eq_tol(r.refault_pct_ws_per_min, grow_pct(48404269217ull), 1e-9);
	r = run("balance-available", grow, 0, -1);
	check_res(&r, 1, 590.2758716139942, 13.871098439280793, 48405430252ull, 181, 0, 24);
	free(grow);
}
END_TEST

/*
 * memshare on "grow": 256 MiB cold from the start, host fine: 2% steps,
 *   t = 0 ask 85 899 345, 20: 84 181 359, 40: 82 497 731, 60: the last
 *   15 857 021; each taken by the balloon 10 s later (down to 3840 MiB).
 * The working set that arrives at t = 200 fits in 3840 MiB (3.5 GiB -
 * 256 MiB evicted): no stall, and nothing left to take; the host is
 * critical from t = 200 as with static (3.25 GiB resident).
 * Returned: free + evicted: 2 GiB + E for t < 200, 0.75 GiB after, with E
 * = 85 899 345 (t = 1..20), 170 080 704 (21..40), 252 578 435 (41..60),
 * 256 MiB (61..).
 */
START_TEST(sim_grow_memshare)
{
	char *grow = write1("grow.trace", g_grow);
	struct ms_sim_result r;

	r = run("memshare", grow, 0, 0);
	check_res(&r, 1,
		  400 + 201 * 0.75 +
			  (20.0 * 85899345 + 20.0 * 170080704 + 20.0 * 252578435 +
			   139.0 * COLD_G) / GIB,
		  0, 0, 201, 4, 4);
	/* Without free page reporting the 4 GiB balloon makes the 3 GiB host
	 * critical from the start: the 10% step takes all 256 MiB at t = 0, the
	 * balloon at t = 10; 256 MiB returned for 390 s. */
	r = run("memshare", grow, 0, -1);
	check_res(&r, 1, 390 * 0.25, 0, 0, 401, 1, 1);
	free(grow);
}
END_TEST

/*
 * "cold" and "grow" side by side (two recordings, or one with both):
 * 8 GiB of guests on a 6 GiB host (critical above 6 120 328 397 resident).
 * static: 401 + 500.5 GiB·s; 6.5 GiB resident from t = 200: critical.
 * memshare: at t = 0 the host has 1 GiB available (16.7%, pressure): the 5%
 * step takes 214 748 364 of "grow"'s 256 MiB (t = 0), the rest at t = 20
 * (with 20.000000% - 0.8 byte available it is still pressure); at t = 120
 * the host is fine and "cold" goes as alone (2% steps).
 */
START_TEST(sim_multi)
{
	char *cold = write1("cold.trace", g_cold);
	char *grow = write1("grow.trace", g_grow);
	const guest_fn both_fn[2] = { g_cold, g_grow };
	char *both = write_trace("both.trace", both_fn, 2);
	const char *paths[2] = { cold, grow };
	const char *pol[] = { "static", "mom", "balance-available", "memshare" };
	const double memshare_ret =
		/* "cold" */ 401 + 20.0 * R1 / GIB + 260 * 0.125 +
		/* "grow" */ 400 + 201 * 0.5 + (20.0 * 214748364 + 380.0 * COLD_G) / GIB;

	for (int i = 0; i < 4; i++) {
		MS_OPTS(ms_sim_opts, o, .trace_paths = paths, .nr_traces = 2,
			.policy = ms_policy_find(pol[i]));
		struct ms_sim_result a, b;

		memset(&a, 0, sizeof(a));
		ck_assert_int_eq(ms_sim_run(&o, &a), 0);
		ck_assert_str_eq(a.policy, pol[i]);
		ck_assert_uint_eq(a.guests, 2);
		/* One recording with both guests: the same. */
		b = run(pol[i], both, 0, 0);
		ck_assert_mem_eq(&a, &b, sizeof(a));
		if (i == 0)
			check_res(&a, 2, 401 + 500.5, 0, 0, 201, 0, 0);
		if (i == 3)
			check_res(&a, 2, memshare_ret, 0, 0, 201, 4, 4);
		/* trace_paths wins over trace_path. */
		o.trace_path = "/nonexistent";
		ck_assert_int_eq(ms_sim_run(&o, &b), 0);
		ck_assert_mem_eq(&a, &b, sizeof(a));
	}
	free(cold);
	free(grow);
	free(both);
}
END_TEST

/*
 * A guest present only from its first Report to 5 s after its last one:
 * "cold" all along, and "cold" reporting t = 100..300 (present
 * t = 100..305, 206 s).  Host 0.75 x 8 GiB = 6 GiB: both together are
 * critical.  memshare, critical, asks every eligible guest 10%: both at
 * t = 120 (all 128 MiB each), ballooned at t = 130.
 */
START_TEST(sim_presence)
{
	const guest_fn fns[2] = { g_cold, g_cold_late };
	char *path = write_trace("late.trace", fns, 2);
	struct ms_sim_result r;

	r = run("static", path, 0, 0);
	check_res(&r, 2, 401 + 206, 0, 0, 206, 0, 0);
	r = run("memshare", path, 0, 0);
	check_res(&r, 2, 401 + 280 * 0.125 + 206 + 185 * 0.125, 0, 0, 206, 2, 2);
	free(path);
}
END_TEST

/* What the trace says about stalls and refaults reaches the policy. */
START_TEST(sim_trace_rates)
{
	static const guest_fn fns[] = { g_cold_psi1500, g_cold_psi2500, g_cold_refaulting };
	struct ms_sim_result r;

	/* Stalling above stall_target: never asked; above stall_backoff, or
	 * refaulting: hot (at its max: only backing off).  Nothing happens. */
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		char name[32];
		char *path;

		snprintf(name, sizeof(name), "rates%zu.trace", i);
		path = write1(name, fns[i]);
		r = run("memshare", path, 16 * GIB, 0);
		check_res(&r, 1, 401, 0, 0, 0, 0, 0);
		free(path);
	}
	/* A guest without memory.reclaim is never asked. */
	{
		const guest_fn f = g_cold;
		char *path = write_trace_caps("nocaps.trace", &f, 1, MS_CAP_PSI | MS_CAP_MGLRU);

		r = run("memshare", path, 16 * GIB, 0);
		check_res(&r, 1, 401, 0, 0, 0, 0, 0);
		free(path);
	}
	/* The parameters decide what is cold: at 600 s nothing is. */
	{
		char *path = write1("cold.trace", g_cold);

		PP.cold_age_ms = 600000;
		r = run("memshare", path, 16 * GIB, 0);
		check_res(&r, 1, 401, 0, 0, 0, 0, 0);
		free(path);
	}
}
END_TEST

START_TEST(sim_defaults)
{
	char *cold = write1("cold.trace", g_cold);
	struct ms_sim_result a, b;

	/* No policy: memshare; no parameters: the defaults. */
	{
		MS_OPTS(ms_sim_opts, o, .trace_path = cold, .host_total_bytes = 16 * GIB);

		ck_assert_int_eq(ms_sim_run(&o, &a), 0);
	}
	b = run("memshare", cold, 16 * GIB, 0);
	ck_assert_str_eq(a.policy, "memshare");
	ck_assert_mem_eq(&a, &b, sizeof(a));
	free(cold);
}
END_TEST

START_TEST(sim_no_data)
{
	struct ms_sim_result r;
	struct synth s;
	struct gmem gm;

	/* A Hello and nothing else. */
	synth_open(&s, "hello.trace");
	synth_hello(&s, 0, 1, CAPS);
	synth_close(&s);
	ck_assert_int_eq(run_opts("memshare", s.path, 0, 0, &r), -ENODATA);
	/* Reports without a size are dropped. */
	synth_open(&s, "zero.trace");
	synth_hello(&s, 0, 1, CAPS);
	g_cold(0, &gm);
	gm.total = 0;
	synth_report(&s, 1000, 1, &gm);
	synth_report(&s, 2000, 1, &gm);
	synth_close(&s);
	ck_assert_int_eq(run_opts("memshare", s.path, 0, 0, &r), -ENODATA);
	/* Only Reports sent to the guest (not a guest's), and a guest gone. */
	synth_open(&s, "to.trace");
	g_cold(0, &gm);
	{
		struct ms_msg m;
		struct ms_report *rep = &m.u.report;

		memset(&m, 0, sizeof(m));
		m.type = MS_MSG_REPORT;
		memset(&rep->meminfo, 0xff, sizeof(rep->meminfo));
		rep->mono_us = 5;
		rep->meminfo.total_bytes = GIB;
		synth_msg(&s, 1000, 1, MS_TRACE_TO_GUEST, &m);
	}
	synth_raw(&s, 2000, 1, MS_TRACE_GUEST_GONE, "bye", 3);
	synth_close(&s);
	ck_assert_int_eq(run_opts("memshare", s.path, 0, 0, &r), -ENODATA);
	/* An empty recording. */
	synth_open(&s, "empty.trace");
	synth_close(&s);
	ck_assert_int_eq(run_opts("static", s.path, 0, 0, &r), -ENODATA);
	/* One Report: a one-second simulation. */
	synth_open(&s, "one.trace");
	g_cold(0, &gm);
	synth_report(&s, 7000, 1, &gm);
	synth_close(&s);
	ck_assert_int_eq(run_opts("static", s.path, 0, 0, &r), 0);
	ck_assert_uint_eq(r.guests, 1);
	ck_assert_double_eq(r.duration_s, 1);
	ck_assert_double_eq(r.returned_gib_s, 1);
	ck_assert_double_eq(r.returned_mean_gib, 1);
}
END_TEST

START_TEST(sim_bad_args)
{
	char *cold = write1("cold.trace", g_cold);
	struct ms_sim_result r, untouched;
	const char *with_null[2] = { cold, NULL };
	const char *with_missing[2] = { cold, tpath("missing.trace") };

	memset(&untouched, 0x5a, sizeof(untouched));
	ck_assert_int_eq(ms_sim_run(NULL, &r), -EINVAL);
	{
		MS_OPTS(ms_sim_opts, o, .trace_path = cold);

		ck_assert_int_eq(ms_sim_run(&o, NULL), -EINVAL);
		/* sz must cover at least itself... */
		o.sz = 0;
		memcpy(&r, &untouched, sizeof(r));
		ck_assert_int_eq(ms_sim_run(&o, &r), -EINVAL);
		ck_assert_mem_eq(&r, &untouched, sizeof(r));
		/* ...and an sz covering only itself has no trace path. */
		o.sz = sizeof(size_t);
		ck_assert_int_eq(ms_sim_run(&o, &r), -EINVAL);
	}
	{
		/* A newer caller's bigger struct: fine if the rest is zero. */
		struct {
			struct ms_sim_opts o;
			uint64_t more;
		} big;

		memset(&big, 0, sizeof(big));
		big.o.sz = sizeof(big);
		big.o.trace_path = cold;
		big.o.policy = ms_policy_find("static");
		ck_assert_int_eq(ms_sim_run(&big.o, &r), 0);
		big.more = 1;
		ck_assert_int_eq(ms_sim_run(&big.o, &r), -EINVAL);
	}
	{
		MS_OPTS(ms_sim_opts, o, .policy = ms_policy_find("static"));

		/* No recording at all. */
		ck_assert_int_eq(ms_sim_run(&o, &r), -EINVAL);
		/* nr_traces 0: trace_paths ignored. */
		o.trace_paths = with_null;
		ck_assert_int_eq(ms_sim_run(&o, &r), -EINVAL);
		o.nr_traces = 2;
		ck_assert_int_eq(ms_sim_run(&o, &r), -EINVAL);
		o.trace_paths = with_missing;
		ck_assert_int_eq(ms_sim_run(&o, &r), -ENOENT);
		o.nr_traces = 1;
		ck_assert_int_eq(ms_sim_run(&o, &r), 0);
	}
	/* Missing, not a trace, corrupt. */
	ck_assert_int_eq(run_opts("static", tpath("missing.trace"), 0, 0, &r), -ENOENT);
	tu_put_str(dir, "text.trace", "this is not a memshare trace, just some text\n");
	ck_assert_int_eq(run_opts("static", tpath("text.trace"), 0, 0, &r), -EBADMSG);
	{
		struct ms_sim_result whole = run("static", cold, 0, 0);
		size_t len;
		char *buf = tu_read_file(NULL, cold, &len);

		/* Cut in its last record (a recorder killed mid-write): replayed
		 * up to the cut. */
		tu_put_file(dir, "cut.trace", buf, len - 7);
		ck_assert_int_eq(run_opts("static", tpath("cut.trace"), 0, 0, &r), 0);
		ck_assert_uint_eq(r.guests, whole.guests);
		ck_assert(r.duration_s > 0 && r.duration_s <= whole.duration_s);
		/* Corrupt in the middle (the direction of the record after the
		 * header's): not replayed. */
		buf[24 + 16] = 9;
		tu_put_file(dir, "corrupt.trace", buf, len);
		free(buf);
		memcpy(&r, &untouched, sizeof(r));
		ck_assert_int_eq(run_opts("static", tpath("corrupt.trace"), 0, 0, &r), -EBADMSG);
		ck_assert_mem_eq(&r, &untouched, sizeof(r));
	}
	free(cold);
}
END_TEST

/*
 * The recordings shipped in tests/fixtures/traces (a real 6.1 guest under
 * QEMU, NOTES.md there): the table bench/policy_table prints, pinned.
 * Returned memory to 3 decimals of GiB*s; stalls, refaults and action
 * counts exactly.  A change of policy or model shows up here first.
 */
struct shipped {
	const char *trace;        /* NULL: all three on one host */
	const char *policy;
	double returned_gib_s, stall_s, host_critical_s;
	uint64_t refault_bytes, actions, reclaims, balloons;
};

static const struct shipped shipped[] = {
	{ "anon-burst", "memshare", 70.461, 0.0, 64.0, 0, 6, 3, 3 },
	{ "anon-burst", "mom", 65.066, 0.244, 103.0, 88418504, 23, 0, 23 },
	{ "anon-burst", "balance-available", 71.533, 4.309, 30.0, 1501835538, 22, 0, 22 },
	{ "anon-burst", "static", 60.570, 0.0, 128.0, 0, 0, 0, 0 },
	{ "cache-cold", "memshare", 74.641, 0.0, 0.0, 0, 18, 9, 9 },
	{ "cache-cold", "mom", 67.202, 0.0, 0.0, 0, 0, 0, 0 },
	{ "cache-cold", "balance-available", 76.892, 3.083, 0.0, 731458616, 14, 0, 14 },
	{ "cache-cold", "static", 67.202, 0.0, 0.0, 0, 0, 0, 0 },
	{ "cache-reuse", "memshare", 83.898, 0.0, 0.0, 55719256, 12, 6, 6 },
	{ "cache-reuse", "mom", 80.934, 0.0, 0.0, 0, 0, 0, 0 },
	{ "cache-reuse", "balance-available", 80.934, 0.0, 0.0, 0, 8, 0, 8 },
	{ "cache-reuse", "static", 80.934, 0.0, 0.0, 0, 0, 0, 0 },
	{ NULL, "memshare", 220.012, 0.0, 0.0, 46828540, 35, 18, 17 },
	{ NULL, "mom", 208.828, 0.0, 0.0, 0, 0, 0, 0 },
	{ NULL, "balance-available", 231.789, 8.477, 0.0, 2073813419, 81, 0, 81 },
	{ NULL, "static", 208.828, 0.0, 0.0, 0, 0, 0, 0 },
};

START_TEST(sim_shipped_traces)
{
	static const char *const all[] = {
		MS_FIXTURES_DIR "/traces/anon-burst.mstrace",
		MS_FIXTURES_DIR "/traces/cache-cold.mstrace",
		MS_FIXTURES_DIR "/traces/cache-reuse.mstrace",
	};
	const struct shipped *w = &shipped[_i];
	char path[4096];
	struct ms_sim_result r;

	snprintf(path, sizeof(path), "%s/traces/%s.mstrace", MS_FIXTURES_DIR,
		 w->trace ? w->trace : "");
	{
		MS_OPTS(ms_sim_opts, o, .trace_path = path, .policy = ms_policy_find(w->policy),
			.trace_paths = w->trace ? NULL : all, .nr_traces = w->trace ? 0 : 3);

		ck_assert_int_eq(ms_sim_run(&o, &r), 0);
	}
	ck_assert_msg(fabs(r.returned_gib_s - w->returned_gib_s) < 0.0005, "%s %s: %.4f GiB*s",
		      w->trace ? w->trace : "all", w->policy, r.returned_gib_s);
	ck_assert_msg(fabs(r.stall_s - w->stall_s) < 0.0005, "stall %.4f", r.stall_s);
	ck_assert_msg(fabs(r.host_critical_s - w->host_critical_s) < 0.0005, "critical %.1f",
		      r.host_critical_s);
	ck_assert_uint_eq(r.refault_bytes, w->refault_bytes);
	ck_assert_uint_eq(r.actions, w->actions);
	ck_assert_uint_eq(r.reclaim_actions, w->reclaims);
	ck_assert_uint_eq(r.balloon_actions, w->balloons);
	ck_assert_uint_eq(r.guests, w->trace ? 1 : 3);
	/* What the comparison is about: memshare returns more than the
	 * do-nothing baseline and MoM, with no stall. */
	if (strcmp(w->policy, "memshare") == 0) {
		const struct shipped *st = &shipped[_i + 3];

		ck_assert(r.returned_gib_s > st->returned_gib_s);
		ck_assert(r.returned_gib_s > shipped[_i + 1].returned_gib_s);
		ck_assert(r.stall_s == 0.0);
	}
}
END_TEST

static Suite *sim_suite(void)
{
	Suite *s = suite_create("sim");
	TCase *tc;

	tc = tcase_create("policies");
	tcase_add_checked_fixture(tc, sim_setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sim_cold_host_fine);
	tcase_add_test(tc, sim_cold_ba_converges);
	tcase_add_test(tc, sim_reread);
	tcase_add_test(tc, sim_grow_static);
	tcase_add_test(tc, sim_grow_mom);
	tcase_add_test(tc, sim_grow_ba);
	tcase_add_test(tc, sim_grow_memshare);
	suite_add_tcase(s, tc);

	tc = tcase_create("replay");
	tcase_add_checked_fixture(tc, sim_setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sim_multi);
	tcase_add_test(tc, sim_presence);
	tcase_add_test(tc, sim_trace_rates);
	tcase_add_test(tc, sim_defaults);
	tcase_add_test(tc, sim_no_data);
	tcase_add_test(tc, sim_bad_args);
	tcase_add_loop_test(tc, sim_shipped_traces, 0, (int)(sizeof(shipped) / sizeof(shipped[0])));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(sim_suite());
}
