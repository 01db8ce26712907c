/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manyguests: one host and many honest guests in one process, with or
 * without a hostile peer, measured from the honest guests' side.  Shared by
 * the unit test (tests/unit/test_manyguests.c: correctness only) and the
 * benchmark (bench/hostile_guests.c: latencies).
 *
 *   host thread    one struct ms_host listening on unix:DIR/host.sock, its
 *                  own poll loop (get_fd / get_timeout_us / process), and
 *                  the reclaim rounds (ms_host_reclaim to every honest guest,
 *                  next round once all answered);
 *   guests thread  N struct ms_guest, each with its own ctx on its own tiny
 *                  sysroot (proc/meminfo, vmstat, pressure; a cgroup v2 root
 *                  whose memory.reclaim is a plain file), one poll loop;
 *   hostile thread the hostile peer of the phase (raw AF_UNIX sockets).
 *
 * Report round trip: the Report's mono_us (the guest stamps it as it builds
 * the Report, right before sending it) to the host's REPORT event.  Reclaim
 * round trip: ms_host_reclaim() to the host's RECLAIM_REPLY event.  Both on
 * CLOCK_MONOTONIC in this one process.
 *
 * Nothing here asserts: every function returns 0 or a negative errno (and
 * says why in @err), so the benchmark can use it without Check.
 */
#ifndef MS_MANYGUESTS_H
#define MS_MANYGUESTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memshare/memshare.h>

/* What the hostile peer does during a phase. */
enum mg_hostile {
	MG_NONE = 0,
	MG_GARBAGE,      /* max-size garbage frames and oversized headers, reconnecting */
	MG_SLOWLORIS,    /* one byte per 100 ms of a Hello (before Hello) or a Report (after) */
	MG_FLOOD,        /* valid Reports as fast as the socket takes them */
	MG_INVALID,      /* Reports with values out of bounds */
	MG_NOHELLO,      /* many connections that never say Hello */
	MG_ALL,          /* a few of each at once */
	MG__COUNT
};

/* "none", "garbage", "slowloris", "flood", "invalid", "nohello", "all". */
const char *mg_hostile_name(enum mg_hostile mode);

/* The mode named @name, or -1. */
int mg_hostile_parse(const char *name);

struct mg_config {
	unsigned nr_guests;            /* honest guests; 0 = 50 */
	unsigned report_interval_ms;   /* honest guests' (and the host's Welcome); 0 = 100 */
	unsigned reclaim_gap_ms;       /* pause between reclaim rounds; 0 = 200 */
	/* Host options; 0 = the value in brackets (short timeouts, not the
	 * library's defaults: drops happen within a few seconds). */
	unsigned max_reports_per_s;    /* [30]: the invalid peer reaches the rejects
					* limit (100) within a few seconds */
	unsigned hello_timeout_ms;     /* [1000] */
	unsigned frame_timeout_ms;     /* [1500] */
	unsigned reclaim_timeout_ms;   /* [5000] */
	/* Hostile connections per kind when the phase is that kind alone; a
	 * quarter (at least one) of each in MG_ALL.  0 = the defaults:
	 * garbage 4, slowloris 8 (half before Hello, half after), flood 2,
	 * invalid 4, nohello 100. */
	unsigned hostile_conns[MG__COUNT];
	bool verbose;                  /* host log and progress on stderr */
};

/* One honest guest over one phase. */
struct mg_guest_phase {
	uint64_t reports_sent;         /* guest side: REPORT_SENT events */
	uint64_t reports_seen;         /* host side: REPORT events */
	uint64_t rate_dropped;         /* ms_guest_info.reports_rate_dropped, delta */
	uint64_t invalid;              /* ms_guest_info.reports_invalid, delta */
	uint64_t reclaims_issued;      /* ms_host_reclaim() returned 0 */
	uint64_t reclaims_refused;     /* ms_host_reclaim() failed */
	uint64_t reclaims_replied;     /* RECLAIM_REPLY events */
	uint64_t reclaims_failed;      /* ... with a status other than 0 */
	uint64_t reclaims_done;        /* guest side: RECLAIM_DONE events */
	uint64_t host_gone;            /* host side: GUEST_GONE events */
	uint64_t guest_connects;       /* guest side: CONNECTED events */
	uint64_t guest_disconnects;    /* guest side: DISCONNECTED events */
	bool ready_end;                /* the host lists it at the end */
	bool connected_end;            /* ms_guest_is_connected() at the end */
};

/* What the hostile peer did (its own count). */
struct mg_hostile_counters {
	uint64_t connects;             /* connections made */
	uint64_t connect_refused;      /* connect() failed (backlog full...) */
	uint64_t closed_by_host;       /* EOF or reset seen */
	uint64_t gave_up;              /* garbage the host had not dropped after 5 s */
	uint64_t frames;               /* whole frames sent (garbage counts as frames) */
	uint64_t bytes;                /* bytes sent */
	uint64_t bytes_in;             /* bytes the host sent back */
};

struct mg_phase_result {
	enum mg_hostile mode;
	double seconds;                /* measured, start to end of the phase */
	unsigned nr_guests;
	struct mg_guest_phase *guests; /* [nr_guests] */
	/* Samples, in the order taken; us. */
	uint64_t *report_rtt_us;
	size_t nr_report_rtt;
	uint64_t *reclaim_rtt_us;
	size_t nr_reclaim_rtt;
	uint64_t *round_cpu_us;        /* CPU time of each ms_host_process() */
	size_t nr_round_cpu;
	uint64_t reclaim_rounds;       /* rounds completed */
	bool reclaims_drained;         /* every request of the phase answered */
	/* The host's counters over the phase (differences). */
	struct ms_host_stats stats;
	uint64_t hostile_ready;        /* GUEST_READY of hostile peers */
	uint64_t hostile_gone;         /* GUEST_GONE of hostile peers */
	uint64_t hostile_reports;      /* REPORT events of hostile peers */
	struct mg_hostile_counters hostile;
	/* The host thread. */
	uint64_t host_rounds;          /* ms_host_process() calls */
	uint64_t host_process_max_us;  /* longest ms_host_process() */
	uint64_t host_process_max_cpu_us; /* ... of which on the CPU (the rest: preempted) */
	uint64_t host_log_lines;       /* messages the host logged */
	uint64_t host_log_warnings;    /* ... at MS_LOG_WARNING or worse */
	uint64_t host_conns_max;       /* most connections the host held */
	uint64_t host_conns_end;
	/* Heap in use (mallinfo2 uordblks + hblkhd) in bytes, or -1 where the
	 * allocator is not glibc's (ASan, valgrind). */
	long long heap_start, heap_max, heap_end;
};

struct mg;

/*
 * mg_start - make the sysroots, start the host and the guests and wait
 * (up to 30 s) until every honest guest is ready and reported once.
 * 0, or a negative errno with the reason in @err.
 */
int mg_start(struct mg **out, const struct mg_config *cfg, char *err, size_t err_size);

/*
 * mg_phase - run @duration_ms with the hostile peer @mode, then stop it,
 * stop issuing reclaim rounds, and wait (up to reclaim_timeout_ms + 2 s)
 * for the requests still out.  The hostile peer's connections the host
 * has not dropped yet are closed by the peer before the phase ends; they
 * count in the next phase if the host notices then.  Free @out with
 * mg_phase_result_free().  0 or a negative errno (with @err).
 */
int mg_phase(struct mg *w, enum mg_hostile mode, unsigned duration_ms,
	     struct mg_phase_result *out, char *err, size_t err_size);

void mg_phase_result_free(struct mg_phase_result *r);

/* Let the host and the guests run @ms without measuring (nothing hostile). */
void mg_idle(struct mg *w, unsigned ms);

/* mg_stop - stop the threads, free everything, remove the directory.
 * NULL is a no-op. */
void mg_stop(struct mg *w);

/* Connections the hostile peer keeps open at once in @mode. */
unsigned mg_hostile_actors(const struct mg *w, enum mg_hostile mode);

/* The honest guests' report interval in force. */
unsigned mg_report_interval_ms(const struct mg *w);

/* Percentile @p (0..100) of @n samples (a sorted copy; 0 if none). */
uint64_t mg_percentile(const uint64_t *samples, size_t n, double p);

/* True when running under valgrind (slow: scale durations). */
bool mg_under_valgrind(void);

/* True when the allocator is ASan's or valgrind's (heap figures unknown). */
bool mg_heap_unknown(void);

#endif /* MS_MANYGUESTS_H */
