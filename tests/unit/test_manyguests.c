/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One hostile peer never harms the honest guests.  50 honest guests and a
 * host (tests/unit/manyguests.c: separate threads, unix socket), first
 * without and then with the hostile mix (garbage frames, slowloris,
 * report flood, invalid reports, connections without Hello, all at once).
 * Correctness only, no latencies (bench/hostile_guests.c measures those):
 * every honest guest stays connected, loses no report, reports at its
 * interval (within a wide margin), gets every reclaim answered; every kind
 * of hostile connection is dropped or throttled for its own reason; the
 * host's connections and heap stay bounded.
 *
 * MS_TEST_VERBOSE=1 prints the phases' figures.  Under valgrind the
 * guests cannot keep up with 10 reports/s each: the interval is longer
 * there (the expected rate follows it).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memshare/memshare.h>

#include "manyguests.h"
#include "testutil.h"

#define PHASE_MS 5000
#define KIB 1024ll
#define MIB (1024ll * 1024ll)

static struct mg *W;
static struct mg_phase_result R;

static bool verbose(void)
{
	return getenv("MS_TEST_VERBOSE") != NULL;
}

static void setup(void)
{
	W = NULL;
	memset(&R, 0, sizeof(R));
}

static void teardown(void)
{
	mg_phase_result_free(&R);
	mg_stop(W);
	W = NULL;
}

static void print_phase(const struct mg_phase_result *r)
{
	uint64_t sent = 0, seen = 0, rec = 0;

	if (!verbose())
		return;
	for (unsigned i = 0; i < r->nr_guests; i++) {
		sent += r->guests[i].reports_sent;
		seen += r->guests[i].reports_seen;
		rec += r->guests[i].reclaims_replied;
	}
	fprintf(stderr, "phase %-8s %.1f s: reports sent %llu seen %llu, reclaims %llu in %llu "
		"rounds; host: accepted %llu, rate-dropped %llu, invalid %llu, dropped",
		mg_hostile_name(r->mode), r->seconds, (unsigned long long)sent,
		(unsigned long long)seen, (unsigned long long)rec,
		(unsigned long long)r->reclaim_rounds, (unsigned long long)r->stats.accepted,
		(unsigned long long)r->stats.reports_rate_dropped,
		(unsigned long long)r->stats.reports_invalid);
	for (int i = 0; i < MS_DROP__COUNT; i++)
		if (r->stats.dropped[i])
			fprintf(stderr, " %s %llu", ms_host_drop_name(i),
				(unsigned long long)r->stats.dropped[i]);
	fprintf(stderr, "; conns max %llu end %llu; heap %lld -> max %lld -> %lld KiB; "
		"hostile connects %llu, closed by host %llu\n",
		(unsigned long long)r->host_conns_max, (unsigned long long)r->host_conns_end,
		r->heap_start / KIB, r->heap_max / KIB, r->heap_end / KIB,
		(unsigned long long)r->hostile.connects,
		(unsigned long long)r->hostile.closed_by_host);
}

/*
 * What every phase owes the honest guests, hostile peer or not.
 * @interval_ms: their report interval; @slack: how many intervals may
 * pass per report that arrives.  Wide: the guests' own thread shares two
 * CPUs with the host's, the hostile peer's and whatever else runs (3: a
 * third of the nominal rate); wider under ASan and valgrind (5), whose
 * one-thread-at-a-time scheduling starves the guests' thread.  What the
 * host owes is checked exactly: every report sent arrives, none dropped.
 */
static void check_honest(const struct mg_phase_result *r, unsigned interval_ms, unsigned slack)
{
	const uint64_t expected = (uint64_t)(r->seconds * 1000.0) / interval_ms;

	ck_assert_msg(r->reclaims_drained, "%s: reclaim requests still unanswered",
		      mg_hostile_name(r->mode));
	ck_assert_uint_ge(r->reclaim_rounds, 1);
	for (unsigned i = 0; i < r->nr_guests; i++) {
		const struct mg_guest_phase *g = &r->guests[i];

		/* Connected throughout: never dropped, never reconnected. */
		ck_assert_msg(g->host_gone == 0 && g->guest_disconnects == 0 &&
			      g->guest_connects == 0 && g->ready_end && g->connected_end,
			      "%s: honest-%02u dropped (gone %llu, disconnects %llu, connects "
			      "%llu)",
			      mg_hostile_name(r->mode), i, (unsigned long long)g->host_gone,
			      (unsigned long long)g->guest_disconnects,
			      (unsigned long long)g->guest_connects);
		/* Not one report throttled or refused... */
		ck_assert_msg(g->rate_dropped == 0 && g->invalid == 0,
			      "%s: honest-%02u: %llu reports rate-dropped, %llu rejected",
			      mg_hostile_name(r->mode), i, (unsigned long long)g->rate_dropped,
			      (unsigned long long)g->invalid);
		/* ...or lost: what was sent arrived (one may be in flight at
		 * either end of the phase). */
		ck_assert_msg(g->reports_seen + 2 >= g->reports_sent &&
			      g->reports_seen <= g->reports_sent + 2,
			      "%s: honest-%02u sent %llu reports, the host saw %llu",
			      mg_hostile_name(r->mode), i, (unsigned long long)g->reports_sent,
			      (unsigned long long)g->reports_seen);
		/* At the interval: at least one per @slack intervals; at most
		 * one per interval plus those that follow each reclaim. */
		ck_assert_msg(g->reports_seen >= expected / slack,
			      "%s: honest-%02u: %llu reports in %.1f s at %u ms (want >= %llu)",
			      mg_hostile_name(r->mode), i, (unsigned long long)g->reports_seen,
			      r->seconds, interval_ms, (unsigned long long)(expected / slack));
		ck_assert_msg(g->reports_seen <= expected + g->reclaims_replied + 3,
			      "%s: honest-%02u: %llu reports in %.1f s at %u ms",
			      mg_hostile_name(r->mode), i, (unsigned long long)g->reports_seen,
			      r->seconds, interval_ms);
		/* Every reclaim round trip completed, and succeeded. */
		ck_assert_msg(g->reclaims_issued >= 1 && g->reclaims_refused == 0 &&
			      g->reclaims_replied == g->reclaims_issued &&
			      g->reclaims_failed == 0 &&
			      g->reclaims_done == g->reclaims_replied,
			      "%s: honest-%02u reclaims: issued %llu refused %llu replied %llu "
			      "failed %llu done %llu", mg_hostile_name(r->mode), i,
			      (unsigned long long)g->reclaims_issued,
			      (unsigned long long)g->reclaims_refused,
			      (unsigned long long)g->reclaims_replied,
			      (unsigned long long)g->reclaims_failed,
			      (unsigned long long)g->reclaims_done);
	}
}

START_TEST(hostile_mix_spares_honest_guests)
{
	const bool vg = mg_under_valgrind();
	struct mg_config cfg = {
		.nr_guests = 50,
		/* Valgrind runs one thread at a time, ~50x slower. */
		.report_interval_ms = vg ? 500 : 100,
	};
	const unsigned slack = mg_heap_unknown() ? 5 : 3;
	unsigned interval, actors;
	char err[256] = "";
	long long heap_base;
	int r;

	r = mg_start(&W, &cfg, err, sizeof(err));
	ck_assert_msg(r == 0, "mg_start: %s", err);
	interval = mg_report_interval_ms(W);
	ck_assert_uint_eq(interval, cfg.report_interval_ms);

	/* ---- without the hostile peer -------------------------------------- */
	r = mg_phase(W, MG_NONE, PHASE_MS, &R, err, sizeof(err));
	ck_assert_msg(r == 0, "phase none: %s", err);
	print_phase(&R);
	check_honest(&R, interval, slack);
	ck_assert_uint_eq(R.stats.accepted, 0);
	for (int i = 0; i < MS_DROP__COUNT; i++)
		ck_assert_uint_eq(R.stats.dropped[i], 0);
	ck_assert_uint_eq(R.stats.reports_rate_dropped, 0);
	ck_assert_uint_eq(R.stats.reports_invalid, 0);
	ck_assert_uint_eq(R.host_conns_max, 50);
	ck_assert_uint_eq(R.hostile.connects, 0);
	heap_base = R.heap_end;
	mg_phase_result_free(&R);

	/* ---- with every kind of hostile connection at once ----------------- */
	actors = mg_hostile_actors(W, MG_ALL);
	ck_assert_uint_ge(actors, 6);
	r = mg_phase(W, MG_ALL, PHASE_MS, &R, err, sizeof(err));
	ck_assert_msg(r == 0, "phase all: %s", err);
	print_phase(&R);
	check_honest(&R, interval, slack);

	/* The hostile peer got in, was answered, and was thrown out. */
	ck_assert_uint_ge(R.hostile.connects, actors);
	ck_assert_uint_gt(R.hostile.closed_by_host, 0);
	ck_assert_uint_gt(R.hostile_ready, 0);
	ck_assert_uint_gt(R.hostile_gone, 0);
	/* Each kind for its own reason. */
	ck_assert_msg(R.stats.dropped[MS_DROP_PROTOCOL] > 0, "garbage frames not dropped");
	ck_assert_msg(R.stats.dropped[MS_DROP_OVERSIZE] > 0, "oversized frames not dropped");
	ck_assert_msg(R.stats.dropped[MS_DROP_HELLO_TIMEOUT] > 0,
		      "connections without Hello (and dripped Hellos) not dropped");
	ck_assert_msg(R.stats.dropped[MS_DROP_FRAME_TIMEOUT] > 0, "dripped frames not dropped");
	ck_assert_msg(R.stats.dropped[MS_DROP_REJECTS] > 0, "invalid reports: sender not dropped");
	ck_assert_msg(R.stats.reports_rate_dropped > 0, "report flood not throttled");
	ck_assert_msg(R.stats.reports_invalid > 0, "invalid reports not rejected");
	/* No reason that would mean the host itself went wrong. */
	ck_assert_uint_eq(R.stats.dropped[MS_DROP_NOT_READING], 0);
	ck_assert_uint_eq(R.stats.dropped[MS_DROP_SILENT], 0);
	ck_assert_uint_eq(R.stats.dropped[MS_DROP_HOST], 0);
	ck_assert_uint_eq(R.stats.refused_full, 0);
	/* The throttled flood: the host took at most its limit (30/s) plus
	 * the first burst. */
	ck_assert_msg((double)R.hostile_reports <= (R.seconds + 1.0) * 30.0 *
			      (double)(actors ? actors : 1),
		      "%llu hostile reports accepted in %.1f s",
		      (unsigned long long)R.hostile_reports, R.seconds);

	/* Bounded: at most one connection per hostile actor besides the
	 * honest guests, plus those closed but not yet reaped... */
	ck_assert_msg(R.host_conns_max <= 50 + 2 * actors + 32,
		      "the host held %llu connections (%u honest, %u hostile actors)",
		      (unsigned long long)R.host_conns_max, 50, actors);
	/* ...and the heap (glibc's allocator only): each connection holds at
	 * most a frame (64 KiB) in and a bounded queue out. */
	if (R.heap_start >= 0) {
		ck_assert_msg(R.heap_max - R.heap_start < 32 * MIB,
			      "heap grew by %lld KiB under the hostile peer",
			      (R.heap_max - R.heap_start) / KIB);
		ck_assert_msg(R.heap_end - heap_base < 4 * MIB,
			      "heap %lld KiB above the quiet phase's once the peer left",
			      (R.heap_end - heap_base) / KIB);
	}
	mg_phase_result_free(&R);
}
END_TEST

/*
 * Honest guests at exactly the host's report limit (max_reports_per_s =
 * 1000 / interval) while they answer reclaim rounds: the Report each sends
 * after a reclaim (AFTER_RECLAIM) is one the host asked for and must not
 * push them over the limit (it did: the host dropped those Reports).
 */
START_TEST(reports_at_the_limit_with_reclaims)
{
	/* 10 a second: the bucket holds a second's worth (10), room for the
	 * jitter of a slow run (valgrind) too. */
	struct mg_config cfg = {
		.nr_guests = 10,
		.report_interval_ms = 100,
	};
	char err[256] = "";
	int r;

	cfg.max_reports_per_s = 1000 / cfg.report_interval_ms;
	r = mg_start(&W, &cfg, err, sizeof(err));
	ck_assert_msg(r == 0, "mg_start: %s", err);
	r = mg_phase(W, MG_NONE, 3000, &R, err, sizeof(err));
	ck_assert_msg(r == 0, "phase: %s", err);
	print_phase(&R);
	check_honest(&R, cfg.report_interval_ms, mg_heap_unknown() ? 5 : 3);
	/* Reclaims did happen, several per guest, each with its Report. */
	ck_assert_uint_ge(R.reclaim_rounds, 2);
	ck_assert_uint_eq(R.stats.reports_rate_dropped, 0);
	mg_phase_result_free(&R);
}
END_TEST

static Suite *manyguests_suite(void)
{
	Suite *s = suite_create("manyguests");
	TCase *tc = tcase_create("hostile");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 110);
	tcase_add_test(tc, hostile_mix_spares_honest_guests);
	tcase_add_test(tc, reports_at_the_limit_with_reclaims);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(manyguests_suite());
}
