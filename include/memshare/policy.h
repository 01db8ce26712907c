/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy: host-side balancing decisions as pure functions.  No I/O: the
 * caller gathers the host's and each guest's state, keeps one
 * struct ms_policy_state per guest between rounds, runs a policy, and
 * carries out the actions (reclaim requests through struct ms_host, balloon
 * targets through libvirt or its own VMM).  docs/policy.md explains each
 * rule, where its default comes from, and its config key.
 *
 * Built-in policies:
 *   "memshare"           cold memory first: guest reclaim sized to the cold
 *                        bytes, then the balloon takes what was freed;
 *                        Senpai-style back-off on stall or refaults.
 *   "mom"                oVirt MoM's default balloon rules.
 *   "balance-available"  ChromeOS concierge's BalanceAvailable.
 *   "static"             never acts (the baseline).
 */
#ifndef MEMSHARE_POLICY_H
#define MEMSHARE_POLICY_H

#include <stdbool.h>
#include <memshare/message.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MS_POLICY_MAX_NODES 64

/* Tunables; ms_policy_params_init() sets the documented defaults. */
struct ms_policy_params {
	uint32_t interval_ms;             /* interval_ms = 10000 (MoM) */
	/* Host pressure levels: MemAvailable below these shares of MemTotal. */
	double host_pressure_ratio;       /* host_pressure_ratio = 0.20 (MoM) */
	double host_critical_ratio;       /* host_critical_ratio = 0.05 (MoM) */
	/* Host PSI memory some avg10 (%) that also means "pressure". */
	double host_psi_pressure_pct;     /* host_psi_pressure = 1.0 */
	/* Guests keep this share of their memory available. */
	double guest_min_free_ratio;      /* guest_min_free_ratio = 0.20 (MoM) */
	/* MoM: balloon step, and changes too small to make. */
	double mom_step_ratio;            /* mom_step_ratio = 0.05 */
	double mom_min_change_ratio;      /* mom_min_change_ratio = 0.0025 */
	/* BalanceAvailable: the margin its delta is clamped with
	 * (MAX_CRITICAL_DELTA), its dead band, the guest's critical margin. */
	uint64_t ba_step_max_bytes;       /* ba_step_max = 10M (ChromeOS) */
	double ba_dead_band_ratio;        /* ba_dead_band_ratio = 0.01 */
	double ba_guest_critical_ratio;   /* ba_guest_critical_ratio = 0.05 */
	/* memshare: memory idle this long is cold (Google far memory). */
	uint64_t cold_age_ms;             /* cold_age_ms = 120000 */
	/* Senpai-style stall control on the guest's PSI some total rate. */
	double stall_target_us_per_s;     /* stall_target = 1000 (0.1%) */
	double stall_backoff_us_per_s;    /* stall_backoff = 2000 (0.2%) */
	/* Refaults per minute above this share of the working set back off. */
	double refault_limit_ratio_per_min; /* refault_limit = 0.002 (Google) */
	/* Idle memory tax for ranking guests (VMware ESX). */
	double idle_tax;                  /* idle_tax = 0.75 */
	/* Reclaim step (share of the guest's memory) by host level. */
	double reclaim_step_ratio;        /* reclaim_step_ratio = 0.02 (ok) */
	double reclaim_step_pressure_ratio; /* = 0.05 */
	double reclaim_step_critical_ratio; /* = 0.10 */
	uint64_t reclaim_min_bytes;       /* reclaim_min = 4M */
	/* Reclaim cold memory even when the host is not under pressure. */
	bool proactive;                   /* proactive = true */
	/* Guests asked to reclaim per round when the host is fine. */
	uint32_t proactive_guests_per_round; /* = 1 */
	/* Deflate a hot guest by at least this share of its maximum (more if
	 * it lacks more to reach guest_min_free_ratio). */
	double deflate_step_ratio;        /* deflate_step_ratio = 0.10 */
	/* Balloon changes smaller than this share of the guest are skipped. */
	double dead_band_ratio;           /* dead_band_ratio = 0.0025 */
	/* At most one taking action per guest per this many ms. */
	uint64_t min_take_interval_ms;    /* min_take_interval = 10000 */
	/* After backing off a guest, leave it alone this long (doubling on
	 * repeated back-offs, up to 16x; reset once it stayed calm this long
	 * after the last one ended). */
	uint64_t backoff_ms;              /* backoff = 60000 */
	/* Reports older than this are not trusted for taking. */
	uint64_t report_max_age_ms;       /* report_max_age = 10000 */
	/* memshare: a guest with less than this share of its memory
	 * available is short (hot), even without stalls. */
	double guest_short_ratio;         /* guest_short_ratio = 0.05 */
};

/* What the policy knows about the host this round. */
struct ms_policy_host {
	uint64_t now_ms;                  /* any monotonic clock, ms */
	uint64_t total_bytes;             /* MemTotal */
	uint64_t available_bytes;         /* MemAvailable */
	double psi_some_avg10;            /* %, NAN if unknown */
	uint32_t nr_nodes;                /* 0: no per-node figures */
	struct {
		int32_t node;
		uint64_t total_bytes;
		uint64_t free_bytes;
	} nodes[MS_POLICY_MAX_NODES];
};

/* What the policy knows about one guest this round. */
struct ms_policy_guest {
	uint64_t id;
	/* Balloon, from the VMM (libvirt).  Without one the policy can only
	 * ask the guest to reclaim. */
	bool has_balloon;
	uint64_t max_bytes;               /* most memory the guest may have */
	uint64_t current_bytes;           /* memory it has now (balloon size) */
	uint64_t floor_bytes;             /* never below (min_guarantee); 0 */
	double shares;                    /* relative weight; 0 means 1 */
	uint64_t numa_nodeset;            /* host nodes it uses; 0 = any */
	/* From the guest agent; has_report false: no agent, or a report
	 * older than report_max_age_ms (then only giving back is done). */
	bool has_report;
	uint64_t report_age_ms;
	uint32_t reclaim_kinds;           /* MS_RECLAIM_* the guest can do */
	uint64_t total_bytes;             /* guest MemTotal */
	uint64_t free_bytes;              /* guest MemFree (libvirt "unused") */
	uint64_t available_bytes;         /* guest MemAvailable */
	uint64_t cold_bytes;              /* reclaimable, idle >= cold_age_ms */
	uint64_t working_set_bytes;       /* see ms_policy_guest_from_report() */
	double psi_some_avg10;            /* %, NAN unknown */
	double stall_us_per_s;            /* PSI some total rate, NAN unknown */
	double refault_bytes_per_s;       /* NAN unknown */
};

/* Per-guest memory of the policy between rounds.  Zero it for a new guest;
 * the policy updates it; the caller tells it about reclaim outcomes. */
struct ms_policy_state {
	uint64_t last_take_ms;            /* last reclaim or inflate */
	uint64_t backoff_until_ms;
	uint32_t backoffs;                /* consecutive back-offs */
	bool reclaim_pending;
	uint64_t reclaimed_unreturned_bytes; /* freed in the guest, not yet ballooned */
};

enum ms_policy_action_type {
	MS_POLICY_RECLAIM = 1,            /* ask the guest to reclaim */
	MS_POLICY_BALLOON = 2,            /* set the balloon target */
};

struct ms_policy_action {
	enum ms_policy_action_type type;
	uint64_t guest_id;
	/* RECLAIM */
	uint64_t bytes;
	uint32_t kinds;
	uint64_t min_age_ms;
	/* BALLOON */
	uint64_t target_bytes;
	/* Why, for logs: static string. */
	const char *reason;
};

typedef size_t (*ms_policy_fn)(const struct ms_policy_params *params,
			       const struct ms_policy_host *host,
			       const struct ms_policy_guest *guests,
			       struct ms_policy_state *states, size_t nr_guests,
			       struct ms_policy_action *actions, size_t max_actions);

struct ms_policy_ops {
	const char *name;
	const char *description;
	ms_policy_fn decide;
};

/* Defaults (docs/policy.md gives the source of each). */
void ms_policy_params_init(struct ms_policy_params *params);

/*
 * ms_policy_params_set - set one tunable from its config key and text
 * value ("cold_age_ms", "120000"; sizes take K/M/G suffixes; booleans
 * true/false/yes/no/on/off/1/0).  Returns 0, -ENOENT (unknown key), -EINVAL (bad
 * value or out of range).
 */
int ms_policy_params_set(struct ms_policy_params *params, const char *key, const char *value);

/* ms_policy_find - a built-in policy by name, or NULL. */
const struct ms_policy_ops *ms_policy_find(const char *name);

/* ms_policy_list - the built-in policies, NULL-terminated. */
const struct ms_policy_ops *const *ms_policy_list(void);

/*
 * ms_policy_decide - run one round.  @guests and @states are parallel
 * arrays of @nr_guests.  Writes at most @max_actions actions and returns
 * how many; @states is updated as if all were carried out (a reclaim is
 * then pending until ms_policy_note_reclaim()).  Pure: same inputs, same
 * outputs.
 */
size_t ms_policy_decide(const struct ms_policy_ops *policy, const struct ms_policy_params *params,
			const struct ms_policy_host *host, const struct ms_policy_guest *guests,
			struct ms_policy_state *states, size_t nr_guests,
			struct ms_policy_action *actions, size_t max_actions);

/*
 * ms_policy_note_reclaim - a guest answered a reclaim request (or the host
 * gave up waiting: -ETIMEDOUT).  With status 0 or -EAGAIN (less than
 * asked), @freed_bytes (measured by the guest, capped here at what was
 * asked) become available for the balloon to take back.  Any other status
 * leaves the guest alone for backoff_ms.
 */
void ms_policy_note_reclaim(struct ms_policy_state *state, const struct ms_policy_params *params,
			    uint64_t now_ms, int status, uint64_t requested_bytes,
			    uint64_t freed_bytes);

/*
 * ms_policy_guest_from_report - fill the report-derived fields of @g from a
 * guest's Report and the rates between its last two reports (@rates may be
 * NULL): total/available from meminfo; cold_bytes = file bytes in LRU bins
 * starting at or above cold_age_ms, plus anon there if the guest has swap
 * (SwapTotal > 0), over all nodes (classic source: the inactive lists);
 * working_set_bytes = MemTotal - MemFree - cold - SReclaimable (what the
 * guest uses that is neither idle nor a cache it can drop), clamped to
 * [0, MemTotal]; PSI some avg10; stall and refault rates.  Every figure is
 * clamped so that a guest's report cannot claim more than its MemTotal.
 * free_bytes is MemFree.
 */
void ms_policy_guest_from_report(struct ms_policy_guest *g, const struct ms_policy_params *params,
				 const struct ms_report *report, const struct ms_rates *rates,
				 uint64_t capabilities);

#ifdef __cplusplus
}
#endif
#endif
