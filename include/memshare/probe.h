/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * probe: memory pressure (PSI), /proc/meminfo, /proc/vmstat, per-NUMA-node
 * counters, PSI triggers and rates between two samples.
 *
 * All reads go through the context's sysroot.  Figures in pages are
 * converted to bytes with ms_ctx_get_page_size(); figures in kB to bytes
 * (x1024).  Fields the kernel did not provide are MS_UNKNOWN.
 */
#ifndef MEMSHARE_PROBE_H
#define MEMSHARE_PROBE_H

#include <stdbool.h>
#include <memshare/ctx.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- PSI ---------------------------------------------------------------- */

/* One PSI line ("some" or "full"). */
struct ms_psi_stat {
	/* Share of wall time stalled, in percent (0.00-100.00), averaged over
	 * the last 10, 60 and 300 s: the avg10/avg60/avg300 fields. */
	double avg10;
	double avg60;
	double avg300;
	/* Cumulative stall time in microseconds: the total= field. */
	uint64_t total_us;
};

#define MS_PSI_SOME (1u << 0)
#define MS_PSI_FULL (1u << 1)

struct ms_psi {
	/* MS_PSI_SOME / MS_PSI_FULL: which lines the kernel printed ("full"
	 * is absent from cpu pressure before 5.13; memory always has both). */
	uint32_t present;
	struct ms_psi_stat some;
	struct ms_psi_stat full;
};

/*
 * ms_psi_read - read memory pressure.
 * @cgroup: NULL for the whole system (/proc/pressure/memory), or a cgroup v2
 *          path relative to /sys/fs/cgroup ("" or "/" for the root cgroup,
 *          "machine.slice/vm1") whose memory.pressure is read.
 * @out:    filled on success.
 *
 * Returns 0, or
 *  -EOPNOTSUPP  the kernel has no PSI (CONFIG_PSI off, or booted psi=0), or
 *               the cgroup has no memory.pressure (cgroup v1);
 *  -ENOENT      the cgroup does not exist;
 *  -EBADMSG     the file is malformed (the log says which line);
 *  -EINVAL      bad arguments; other negative errnos from open/read.
 */
int ms_psi_read(struct ms_ctx *ctx, const char *cgroup, struct ms_psi *out);

/* Parse the text of a pressure file (as ms_psi_read).  -EBADMSG if malformed. */
int ms_psi_parse(struct ms_ctx *ctx, const char *buf, size_t len, struct ms_psi *out);

enum ms_psi_kind {
	MS_PSI_KIND_SOME = 0,
	MS_PSI_KIND_FULL = 1,
};

/*
 * ms_psi_trigger_open - open a PSI trigger on memory pressure.
 * @cgroup:    as in ms_psi_read().
 * @kind:      stall kind the threshold applies to.
 * @stall_us:  threshold: stall time in microseconds within @window_us.
 * @window_us: tracking window in microseconds, 500000..10000000.  Without
 *             CAP_SYS_RESOURCE the kernel (6.5+) only accepts multiples of
 *             2 s (2000000).
 *
 * Returns a non-blocking, close-on-exec file descriptor (caller closes it):
 * poll(2) it for POLLPRI; POLLERR means the cgroup went away.  The kernel
 * clears the event in poll itself (psi_trigger_poll()): whoever polls first
 * takes it.  Do not put the fd in an epoll set that is itself polled (the
 * outer poll takes the event and epoll_wait() then reports nothing); open
 * a second trigger for that, as the guest session does.  Errors:
 *  -EINVAL      window out of range, stall_us > window_us, or the kernel
 *               refused the trigger (the log explains the 2 s rule when it
 *               applies);
 *  -EOPNOTSUPP  no PSI, or the file is not on procfs/cgroup2 (a sysroot
 *               holding a capture);  -ENOENT no such cgroup;  -EACCES/-EPERM.
 */
int ms_psi_trigger_open(struct ms_ctx *ctx, const char *cgroup, enum ms_psi_kind kind,
			uint64_t stall_us, uint64_t window_us);

/* ---- /proc/meminfo and per-node meminfo -------------------------------- */

/*
 * Each field is the /proc/meminfo line in brackets, in bytes; MS_UNKNOWN if
 * the line is absent (older kernel, or a per-node file that lacks it).
 */
struct ms_meminfo {
	uint64_t total_bytes;          /* MemTotal */
	uint64_t free_bytes;           /* MemFree */
	uint64_t available_bytes;      /* MemAvailable (3.14+; not per node) */
	uint64_t used_bytes;           /* MemUsed (per node only) */
	uint64_t buffers_bytes;        /* Buffers (not per node) */
	uint64_t cached_bytes;         /* Cached (not per node) */
	uint64_t file_pages_bytes;     /* FilePages (per node only) */
	uint64_t swap_cached_bytes;    /* SwapCached */
	uint64_t active_anon_bytes;    /* Active(anon) */
	uint64_t inactive_anon_bytes;  /* Inactive(anon) */
	uint64_t active_file_bytes;    /* Active(file) */
	uint64_t inactive_file_bytes;  /* Inactive(file) */
	uint64_t unevictable_bytes;    /* Unevictable */
	uint64_t mlocked_bytes;        /* Mlocked */
	uint64_t swap_total_bytes;     /* SwapTotal (not per node) */
	uint64_t swap_free_bytes;      /* SwapFree (not per node) */
	uint64_t dirty_bytes;          /* Dirty */
	uint64_t writeback_bytes;      /* Writeback */
	uint64_t anon_pages_bytes;     /* AnonPages */
	uint64_t mapped_bytes;         /* Mapped */
	uint64_t shmem_bytes;          /* Shmem */
	uint64_t kreclaimable_bytes;   /* KReclaimable (4.20+) */
	uint64_t slab_bytes;           /* Slab */
	uint64_t sreclaimable_bytes;   /* SReclaimable */
	uint64_t sunreclaim_bytes;     /* SUnreclaim */
	uint64_t page_tables_bytes;    /* PageTables */
};

/*
 * ms_meminfo_read - read /proc/meminfo.
 * Returns 0; -ENOENT (no /proc/meminfo under the sysroot); -EBADMSG
 * (malformed line, a known key twice, or MemTotal missing); -ERANGE (a
 * value overflows 64 bits in bytes); other negative errnos from open/read.
 */
int ms_meminfo_read(struct ms_ctx *ctx, struct ms_meminfo *out);

/*
 * ms_meminfo_parse - parse meminfo text.  Lines may carry a "Node N "
 * prefix (per-node meminfo); @node is then the expected node number, or -1
 * for /proc/meminfo (no prefix).  Errors as ms_meminfo_read().
 */
int ms_meminfo_parse(struct ms_ctx *ctx, const char *buf, size_t len, int node,
		     struct ms_meminfo *out);

/* ---- /proc/vmstat ------------------------------------------------------ */

/*
 * Cumulative counters since boot from /proc/vmstat.  Page counts are in
 * bytes; event counts (pgmajfault, oom_kill) are plain counts.  MS_UNKNOWN
 * where this kernel has no such counter.
 */
struct ms_vmstat {
	/* workingset_refault_anon/_file (5.9+). */
	uint64_t refault_anon_bytes;
	uint64_t refault_file_bytes;
	/* Sum of the two above on 5.9+, or workingset_refault before 5.9. */
	uint64_t refault_bytes;
	/* workingset_activate_anon + _file (5.9+) or workingset_activate. */
	uint64_t activate_bytes;
	uint64_t pgscan_kswapd_bytes;  /* pgscan_kswapd */
	uint64_t pgscan_direct_bytes;  /* pgscan_direct */
	uint64_t pgsteal_kswapd_bytes; /* pgsteal_kswapd */
	uint64_t pgsteal_direct_bytes; /* pgsteal_direct */
	/* All scanning/stealing whatever the path: pgscan_anon + pgscan_file
	 * where the kernel has them (5.8+; they also count memory.reclaim,
	 * which pgscan_kswapd/direct do not), else kswapd + direct
	 * (+ khugepaged). */
	uint64_t pgscan_bytes;
	uint64_t pgsteal_bytes;
	uint64_t pgmajfault;           /* pgmajfault, events */
	uint64_t pswpin_bytes;         /* pswpin */
	uint64_t pswpout_bytes;        /* pswpout */
	uint64_t oom_kill;             /* oom_kill (4.13+), events */
};

/*
 * ms_vmstat_read - read /proc/vmstat.
 * Returns 0; -ENOENT; -EBADMSG (malformed line or no known counter at
 * all); -ERANGE; other negative errnos from open/read.
 */
int ms_vmstat_read(struct ms_ctx *ctx, struct ms_vmstat *out);
int ms_vmstat_parse(struct ms_ctx *ctx, const char *buf, size_t len, struct ms_vmstat *out);

/* ---- NUMA nodes -------------------------------------------------------- */

struct ms_numa_node {
	int32_t node;               /* node number */
	/* /sys/devices/system/node/nodeN/meminfo (fields not kept per node
	 * are MS_UNKNOWN).  total_bytes and free_bytes come from libnuma's
	 * numa_node_size64() when reading the running system with libnuma. */
	struct ms_meminfo meminfo;
};

/*
 * ms_numa_read - enumerate the memory NUMA nodes and their counters.
 * @out: receives a malloc'd array sorted by node number; free with free(3).
 * @nr:  receives the number of entries (>= 1).
 *
 * Node enumeration uses libnuma on the running system (when built with
 * it), else the nodeN directories under sys/devices/system/node of the
 * sysroot.  Per-node totals need not add up to /proc/meminfo's (e.g.
 * deferred struct page init).  A kernel without NUMA sysfs gives one node
 * 0 built from /proc/meminfo.
 *
 * Returns 0; -ENOENT (no meminfo at all); -EBADMSG; -ENOMEM.
 */
int ms_numa_read(struct ms_ctx *ctx, struct ms_numa_node **out, size_t *nr);

/*
 * ms_numa_maps_read - where a process's memory sits: bytes per NUMA node,
 * summed over the mappings of /proc/PID/numa_maps (each "N<node>=<pages>"
 * times that mapping's kernelpagesize_kB).  For a VM, the QEMU process: a
 * domain without <numatune> still has its memory somewhere.
 * @bytes: receives bytes for nodes 0..@max_nodes-1 (zeroed first).
 * Returns the number of node slots filled (highest node seen + 1, capped
 * at @max_nodes; 0 if the process maps nothing), or -ENOENT (no such
 * process, or a kernel without NUMA), -EBADMSG (malformed), -EINVAL.
 */
int ms_numa_maps_read(struct ms_ctx *ctx, int pid, uint64_t *bytes, size_t max_nodes);

/* Parse the text of a numa_maps file (as ms_numa_maps_read). */
int ms_numa_maps_parse(struct ms_ctx *ctx, const char *buf, size_t len, uint64_t *bytes,
		       size_t max_nodes);

/* ---- Samples and rates -------------------------------------------------- */

struct ms_sample {
	uint64_t mono_us;        /* CLOCK_MONOTONIC when taken, us */
	bool has_psi;            /* false if the kernel has no PSI */
	struct ms_psi psi;       /* /proc/pressure/memory */
	struct ms_vmstat vmstat; /* /proc/vmstat */
};

/*
 * ms_sample_take - read PSI (if present) and vmstat, stamped with
 * CLOCK_MONOTONIC.  Errors as ms_vmstat_read(); missing PSI is not an
 * error (has_psi = false).
 */
int ms_sample_take(struct ms_ctx *ctx, struct ms_sample *out);

/*
 * Rates between two samples, per second of elapsed monotonic time.  NAN
 * where either sample lacks the counter.  A counter that went backwards
 * (reset, e.g. a guest reboot) counts from zero: its rate is the new value
 * over the interval, and `resets` is incremented.
 */
struct ms_rates {
	double interval_s;
	double some_stall_us_per_s;   /* PSI some total delta / s */
	double full_stall_us_per_s;   /* PSI full total delta / s */
	double refault_bytes_per_s;
	double refault_anon_bytes_per_s;
	double refault_file_bytes_per_s;
	double pgscan_bytes_per_s;
	double pgsteal_bytes_per_s;
	double pgmajfault_per_s;
	double pswpin_bytes_per_s;
	double pswpout_bytes_per_s;
	uint32_t resets;
};

/*
 * ms_rates_compute - rates from @prev to @cur.
 * Returns 0, or -EINVAL if a pointer is NULL or @cur is not later than @prev.
 */
int ms_rates_compute(const struct ms_sample *prev, const struct ms_sample *cur,
		     struct ms_rates *out);

#ifdef __cplusplus
}
#endif
#endif
