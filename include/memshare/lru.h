/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lru: how old is this machine's memory?  A per-NUMA-node histogram of
 * anonymous and file-backed bytes by age, from MGLRU generations
 * (/sys/kernel/debug/lru_gen) or, as a fallback, the classic
 * active/inactive lists.
 */
#ifndef MEMSHARE_LRU_H
#define MEMSHARE_LRU_H

#include <memshare/ctx.h>

#ifdef __cplusplus
extern "C" {
#endif

/* At most this many age bins (the virtio-balloon working-set limit). */
#define MS_LRU_MAX_BINS 16
/* Upper bound of the last, open-ended bin. */
#define MS_AGE_INFINITE UINT64_MAX

enum ms_lru_source {
	MS_LRU_SOURCE_AUTO = 0,     /* as an option: best available */
	MS_LRU_SOURCE_MGLRU = 1,    /* /sys/kernel/debug/lru_gen generations */
	MS_LRU_SOURCE_CLASSIC = 2,  /* Active/Inactive(anon|file) lists */
};

/* "mglru", "classic", "auto", or "unknown". */
const char *ms_lru_source_name(enum ms_lru_source source);

/*
 * One age bin: memory last used between min_age_ms (inclusive) and
 * max_age_ms (exclusive; MS_AGE_INFINITE for the last bin) ago.
 *
 * With the classic source ages are not known: bins[0] is the active lists
 * (recently used) and bins[1] the inactive lists (reclaim candidates), and
 * both carry min_age_ms = max_age_ms = MS_UNKNOWN.
 */
struct ms_lru_bin {
	uint64_t min_age_ms;
	uint64_t max_age_ms;
	uint64_t anon_bytes;
	uint64_t file_bytes;
};

struct ms_lru_node {
	int32_t node;                    /* NUMA node number */
	uint32_t nr_bins;
	struct ms_lru_bin bins[MS_LRU_MAX_BINS];
	/* From the node's meminfo (SReclaimable, Shmem, Unevictable), bytes;
	 * MS_UNKNOWN if absent.  With a memcg filter: that cgroup's
	 * memory.numa_stat/memory.stat equivalents (whole cgroup on node 0
	 * when per-node figures are missing). */
	uint64_t slab_reclaimable_bytes;
	uint64_t shmem_bytes;
	uint64_t unevictable_bytes;
};

struct ms_lru_summary {
	enum ms_lru_source source;       /* MGLRU or CLASSIC, never AUTO */
	uint32_t nr_nodes;
	struct ms_lru_node nodes[];      /* sorted by node number */
};

struct ms_lru_opts {
	size_t sz;
	/*
	 * Ascending bin edges in ms; n edges make n + 1 bins, the last one
	 * open-ended: [0, e0), [e0, e1), ..., [e(n-1), inf).  NULL uses
	 * ms_lru_default_bin_edges_ms.  At most MS_LRU_MAX_BINS - 1 edges.
	 */
	const uint64_t *bin_edges_ms;
	size_t nr_bin_edges;
	/* Source to use; AUTO picks MGLRU when lru_gen is enabled and readable,
	 * else CLASSIC. */
	enum ms_lru_source source;
	/*
	 * Restrict to one cgroup v2 subtree ("vm-a", "machine.slice"), path
	 * relative to /sys/fs/cgroup as in /sys/kernel/debug/lru_gen; NULL or
	 * "/" for the whole machine.
	 */
	const char *memcg;
	size_t :0;
};

/* Default bin edges: 5 s, 30 s, 120 s (the default cold age), 600 s. */
extern const uint64_t ms_lru_default_bin_edges_ms[4];
#define MS_LRU_DEFAULT_NR_BIN_EDGES 4

/*
 * ms_lru_summary_read - build the LRU age summary.
 * @out: receives a malloc'd summary; free with ms_lru_summary_free().
 *
 * MGLRU: every "memcg ID PATH / node N / GEN AGE_MS NR_ANON NR_FILE" line of
 * lru_gen is added, in bytes (pages x page size), to the bin holding
 * AGE_MS, per node, over all memcgs (or the @memcg subtree).  AGE_MS is
 * the time since the generation was created (its birth timestamp); a
 * generation is counted whole in one bin, never split.  Classic: Active/Inactive(anon|file) from the node's
 * meminfo (or the memcg's memory.stat).  Slab, shmem and unevictable bytes
 * from the node's meminfo.
 *
 * Returns 0, or
 *  -EINVAL      bad edges (not ascending, too many) or options;
 *  -EOPNOTSUPP  MGLRU requested but lru_gen is off or debugfs is not
 *               mounted (the log says which), or a memcg filter on a
 *               system without cgroup v2 memory;
 *  -ENOENT      the memcg does not exist;
 *  -EBADMSG     malformed lru_gen or meminfo;  -ENOMEM.
 */
int ms_lru_summary_read(struct ms_ctx *ctx, const struct ms_lru_opts *opts,
			struct ms_lru_summary **out);

/*
 * ms_lru_parse_mglru - aggregate lru_gen text (the debugfs file's content)
 * as ms_lru_summary_read() does.  Same errors.
 */
int ms_lru_parse_mglru(struct ms_ctx *ctx, const char *buf, size_t len,
		       const struct ms_lru_opts *opts, struct ms_lru_summary **out);

/* ms_lru_summary_free - NULL is a no-op. */
void ms_lru_summary_free(struct ms_lru_summary *summary);

/* ms_lru_summary_dup - deep copy; NULL on ENOMEM (or NULL input). */
struct ms_lru_summary *ms_lru_summary_dup(const struct ms_lru_summary *summary);

/*
 * ms_lru_mglru_age - run one MGLRU aging pass: for every memcg (or the
 * @memcg subtree) and node in /sys/kernel/debug/lru_gen, write
 * "+ memcg_id node_id max_gen_nr" there (Documentation/admin-guide/mm/
 * multigen_lru.rst), which creates a new youngest generation holding the
 * pages found accessed since the last pass.
 *
 * Why: the kernel creates generations only when it reclaims, so in a guest
 * that is not under pressure every page reports the time since boot; ages
 * mean "idle for" only with regular passes.  A pass every A ms gives ages
 * with a resolution of about 2A: to tell memory idle for 120 s, age every
 * 40-60 s.  Only accesses through page tables (mappings) make a page young;
 * page cache used only with read(2) keeps looking idle.
 *
 * Returns the number of lruvecs aged (0 if none matched), or -EOPNOTSUPP
 * (no MGLRU: the log says why), -EACCES/-EPERM (needs root and debugfs),
 * -EBADMSG (malformed lru_gen).  A generation that moved between the read
 * and the write (EINVAL from the kernel) is skipped, not an error.
 */
int ms_lru_mglru_age(struct ms_ctx *ctx, const char *memcg);

#define MS_LRU_ANON (1u << 0)
#define MS_LRU_FILE (1u << 1)

/*
 * ms_lru_summary_bytes_older_than - bytes of the @kinds (MS_LRU_ANON |
 * MS_LRU_FILE) whose bin starts at or above @min_age_ms, over all nodes:
 * a lower bound of the memory idle for at least @min_age_ms.  With the
 * classic source, the inactive lists count as old for any @min_age_ms > 0.
 */
uint64_t ms_lru_summary_bytes_older_than(const struct ms_lru_summary *summary,
					 uint64_t min_age_ms, unsigned kinds);

#ifdef __cplusplus
}
#endif
#endif
