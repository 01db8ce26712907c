/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * reclaim: guest-side executors.  Each one asks the kernel to free memory
 * and reports the bytes actually freed, measured from the kernel's own
 * counters before and after, never assumed from what was asked.
 */
#ifndef MEMSHARE_RECLAIM_H
#define MEMSHARE_RECLAIM_H

#include <memshare/ctx.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Kinds of memory a request may take. */
#define MS_RECLAIM_FILE (1u << 0)  /* page cache */
#define MS_RECLAIM_ANON (1u << 1)  /* anonymous memory (needs swap/zswap) */
#define MS_RECLAIM_SLAB (1u << 2)  /* reclaimable slab: dentries, inodes */
#define MS_RECLAIM_ALL_KINDS (MS_RECLAIM_FILE | MS_RECLAIM_ANON | MS_RECLAIM_SLAB)

enum ms_reclaim_method {
	MS_RECLAIM_METHOD_NONE = 0,
	MS_RECLAIM_METHOD_MEMCG = 1,       /* cgroup v2 memory.reclaim */
	MS_RECLAIM_METHOD_DROP_SLAB = 2,   /* /proc/sys/vm/drop_caches = 2 */
};

/* "memory.reclaim", "drop_caches", "none". */
const char *ms_reclaim_method_name(enum ms_reclaim_method method);

/* Parse "file", "anon", "slab" (comma-separated list allowed) into
 * MS_RECLAIM_* bits.  Returns the bits (> 0) or -EINVAL. */
int ms_reclaim_kinds_parse(const char *text);

struct ms_reclaim_result {
	/* 0 if the kernel freed everything asked; -EAGAIN if it freed less
	 * (memory.reclaim's own answer); -EOPNOTSUPP if this machine cannot
	 * reclaim the requested kind; other negative errnos on failure. */
	int32_t status;
	uint32_t method;               /* bitmask of 1 << enum ms_reclaim_method */
	uint64_t requested_bytes;
	/* Bytes freed, measured: the drop of the kernel's counters over the
	 * call.  file/anon from the cgroup's memory.stat "file"/"anon";
	 * slab from /proc/meminfo SReclaimable (drop_caches) or the cgroup's
	 * memory.stat "slab_reclaimable" (memory.reclaim).  freed_bytes is
	 * their sum.  A counter that grew counts as 0 freed. */
	uint64_t freed_bytes;
	uint64_t freed_file_bytes;
	uint64_t freed_anon_bytes;
	uint64_t freed_slab_bytes;
	uint64_t duration_us;          /* wall time of the kernel calls */
	/* Bytes of the request not attempted because the guest keeps a floor
	 * (ms_reclaim_opts.floor_bytes); 0 if none. */
	uint64_t capped_bytes;
};

struct ms_reclaim_opts {
	size_t sz;
	/* Bytes to reclaim (memory.reclaim).  Slab reclaim via drop_caches
	 * cannot be sized: it frees whatever reclaimable slab is unused. */
	uint64_t bytes;
	/* MS_RECLAIM_* kinds; 0 means FILE | SLAB. */
	uint32_t kinds;
	/* cgroup v2 path relative to /sys/fs/cgroup; NULL or "/" = root. */
	const char *memcg;
	/* Stop between memory.reclaim chunks once this many ms have passed
	 * (status -ETIMEDOUT if less than asked was freed); 0 = no deadline.
	 * memory.reclaim is written in chunks of max(bytes / 4, 4 MiB). */
	uint32_t deadline_ms;
	/* Page cache to keep: FILE-only reclaim is capped at the cgroup's
	 * file bytes (memory.stat "file") minus this; the cap is reported in
	 * ms_reclaim_result.capped_bytes.  A request with ANON too is not
	 * capped: the kernel picks the split between file and anon, so no cap
	 * could hold the floor.  0: no floor. */
	uint64_t floor_bytes;
	size_t :0;
};

/*
 * ms_reclaim_memcg - proactive reclaim through cgroup v2 memory.reclaim.
 * @opts->kinds: FILE and/or ANON (and SLAB: memory.reclaim shrinks the
 * cgroup's slab too; it is measured).  FILE alone writes "N swappiness=0";
 * kernels before the swappiness argument reject it (EINVAL), and when this
 * machine has no swap the plain write is file-only anyway, so it is retried
 * without the argument; with swap, file-only reclaim is -EOPNOTSUPP.  ANON
 * alone writes "N swappiness=200" (-EOPNOTSUPP where not accepted).
 *
 * Returns 0 (result->status says how it went: 0, -EAGAIN, -ETIMEDOUT), or
 *  -EOPNOTSUPP  no memory.reclaim (cgroup v1, kernel < 5.19) - the log says
 *               which file is missing; result->status is the same;
 *  -ENOENT      no such cgroup;  -EINVAL  bad options;  -EACCES/-EPERM.
 */
int ms_reclaim_memcg(struct ms_ctx *ctx, const struct ms_reclaim_opts *opts,
		     struct ms_reclaim_result *result);

/*
 * ms_reclaim_slab - write 2 to /proc/sys/vm/drop_caches: free unused
 * dentries and inodes (reclaimable slab) system-wide.  Page cache is not
 * touched.  Measured by /proc/meminfo SReclaimable before and after, each
 * read after writing /proc/sys/vm/stat_refresh (per-CPU counter deltas
 * are otherwise folded in only every second).  Dentries and inodes are
 * freed after an RCU grace period, so on the running system the "after"
 * figure is sampled every 5 ms until it stops falling (at most 200 ms more
 * than the drop itself, which duration_us measures).
 *
 * Returns 0, or -EACCES/-EPERM (needs CAP_SYS_ADMIN), -EOPNOTSUPP (no
 * drop_caches sysctl), or an ms_meminfo_read() error.  result->status
 * mirrors it.
 */
int ms_reclaim_slab(struct ms_ctx *ctx, struct ms_reclaim_result *result);

/*
 * ms_reclaim_run - run the executors for @opts->kinds: SLAB via
 * drop_caches, FILE/ANON via memory.reclaim, results merged (bytes summed,
 * duration summed, methods OR-ed; status is the first failure, else -EAGAIN
 * if any executor freed less than asked, else 0).  A kind this machine
 * cannot reclaim gives status -EOPNOTSUPP even if another kind succeeded,
 * so the caller never mistakes a partial answer for success.
 *
 * Returns result->status.
 */
int ms_reclaim_run(struct ms_ctx *ctx, const struct ms_reclaim_opts *opts,
		   struct ms_reclaim_result *result);

#ifdef __cplusplus
}
#endif
#endif
