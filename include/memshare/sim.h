/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sim: replay recorded guests (a trace, memshare/trace.h) against a policy
 * (memshare/policy.h) with a simple guest-response model, and measure what
 * the policy achieved.  memshare-sim is a command-line front end.
 *
 * The model (docs/policy.md, "Simulator"), per guest, each step:
 *  - the trace's Report says what the unconstrained guest used: MemTotal
 *    minus MemFree, of which `cold` bytes idle >= cold_age_ms (reclaimable
 *    file, and anon with swap) and SReclaimable slab could be dropped;
 *  - a reclaim action evicts up to the requested bytes of the guest's
 *    remaining cold memory; evicted bytes that the trace later shows in use
 *    again (its cold bytes falling below what was evicted) are refaults;
 *  - a balloon action sets the guest's size (clamped to [floor, MemTotal]);
 *    if what the guest must keep resident exceeds its size, its kernel
 *    drops cold memory and slab first (free of stalls), then thrashes: the
 *    missing working set S refaults every second and the guest stalls
 *    S / working set of the time (PSI some);
 *  - with free page reporting (default on) the guest's free memory is
 *    returned to the host as well as what the balloon holds.
 * The policy sees the modelled guest (available, cold, stall and refault
 * rates) and the modelled host (MemTotal = host_total_bytes, available =
 * total minus what the guests keep resident).
 */
#ifndef MEMSHARE_SIM_H
#define MEMSHARE_SIM_H

#include <memshare/policy.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ms_sim_opts {
	size_t sz;
	/* One recording, or several (trace_paths[nr_traces]) replayed side by
	 * side as guests of one host, each starting at time 0. */
	const char *trace_path;
	const char *const *trace_paths;
	size_t nr_traces;
	const struct ms_policy_ops *policy;     /* NULL: "memshare" */
	const struct ms_policy_params *params;  /* NULL: defaults */
	/* Host memory; 0 = 0.75 x the guests' summed MemTotal (overcommitted,
	 * so that host pressure happens and policies differ). */
	uint64_t host_total_bytes;
	/* Guests return their free memory to the host (virtio-balloon free
	 * page reporting); default true. */
	int free_page_reporting;                /* -1 off, 0 default, 1 on */
	size_t :0;
};

struct ms_sim_result {
	char policy[32];
	uint32_t guests;
	double duration_s;                      /* trace time simulated: one
						 * second per 1 s step, first to
						 * last Report inclusive */
	/* Memory the host had back (balloon + reported free pages), summed
	 * over guests, integrated over time: GiB x s; and its mean, GiB. */
	double returned_gib_s;
	double returned_mean_gib;
	/* Guest stall the policy caused (model), seconds summed over guests. */
	double stall_s;
	/* Refaults of memory the policy evicted, per minute, as % of the mean
	 * working set (Google's target: <= 0.2). */
	double refault_pct_ws_per_min;
	uint64_t refault_bytes;
	/* Host time below host_critical_ratio available, s. */
	double host_critical_s;
	uint64_t actions;
	uint64_t reclaim_actions;
	uint64_t balloon_actions;
};

/*
 * ms_sim_run - replay @opts->trace_path against @opts->policy.  A trace
 * whose last record is cut short (ms_trace_next() -ENODATA) is replayed up
 * to the cut, silently: read it with ms_trace_next() first to warn.
 * Returns 0, the errors of ms_trace_open(), -EBADMSG (a corrupt trace),
 * -EIO (a read error), -ENODATA (no guest reports in it), -EINVAL, -ENOMEM.
 */
int ms_sim_run(const struct ms_sim_opts *opts, struct ms_sim_result *out);

#ifdef __cplusplus
}
#endif
#endif
