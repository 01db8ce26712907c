/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MS_LRU_INTERNAL_H
#define MS_LRU_INTERNAL_H

#include <memshare/lru.h>
#include "../internal.h"

/* Collects per-node bins while a source is read. */
struct lru_builder {
	struct ms_ctx *ctx;
	uint64_t edges[MS_LRU_MAX_BINS - 1];
	size_t nr_edges;
	const char *memcg;           /* normalised: "/x/y", or NULL for all */
	struct ms_lru_node *nodes;
	size_t nr_nodes;
	size_t cap;
	bool extras_done;            /* the source filled slab/shmem/unevictable */
};

int lru_builder_init(struct lru_builder *b, struct ms_ctx *ctx, const struct ms_lru_opts *opts,
		     char *memcg_buf, size_t memcg_size);
void lru_builder_release(struct lru_builder *b);
/* The node's entry, created (with empty bins) if new; NULL on ENOMEM. */
struct ms_lru_node *lru_builder_node(struct lru_builder *b, int node, bool classic);
/* Index of the bin that holds @age_ms. */
size_t lru_bin_index(const struct lru_builder *b, uint64_t age_ms);
/* Fill slab/shmem/unevictable and hand over the nodes.  Consumes @b. */
int lru_builder_finish(struct lru_builder *b, enum ms_lru_source source,
		       struct ms_lru_summary **out);

/* Sources. */
int lru_mglru_available(struct ms_ctx *ctx, bool log);
/* Is lru_gen the kernel's (debugfs), not a file in a captured tree? */
bool lru_mglru_is_kernel(struct ms_ctx *ctx);
int lru_mglru_parse(struct lru_builder *b, const char *buf, size_t len);
int lru_classic_read(struct lru_builder *b);

/* memory.numa_stat of a cgroup: value of @key on @node, bytes, or
 * MS_UNKNOWN; the whole buffer is parsed each time (small file). */
int lru_numa_stat_get(struct ms_ctx *ctx, const char *buf, size_t len, const char *key,
		      int node, uint64_t *out);
int lru_numa_stat_nodes(const char *buf, size_t len, int *nodes, size_t max, size_t *nr);

#endif
