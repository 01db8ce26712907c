/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LRU age summary: options, bins, source selection, per-node extras. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/fileio.h"
#include "../util/parse.h"
#include "../probe/probe-internal.h"
#include "lru-internal.h"

MS_EXPORT const uint64_t ms_lru_default_bin_edges_ms[4] = { 5000, 30000, 120000, 600000 };

MS_EXPORT const char *ms_lru_source_name(enum ms_lru_source source)
{
	switch (source) {
	case MS_LRU_SOURCE_AUTO:
		return "auto";
	case MS_LRU_SOURCE_MGLRU:
		return "mglru";
	case MS_LRU_SOURCE_CLASSIC:
		return "classic";
	}
	return "unknown";
}

int lru_builder_init(struct lru_builder *b, struct ms_ctx *ctx, const struct ms_lru_opts *opts,
		     char *memcg_buf, size_t memcg_size)
{
	const uint64_t *edges = MS_OPTS_GET(opts, ms_lru_opts, bin_edges_ms, NULL);
	size_t n = MS_OPTS_GET(opts, ms_lru_opts, nr_bin_edges, 0);
	const char *memcg = MS_OPTS_GET(opts, ms_lru_opts, memcg, NULL);

	memset(b, 0, sizeof(*b));
	b->ctx = ctx;
	if (!edges) {
		edges = ms_lru_default_bin_edges_ms;
		n = MS_LRU_DEFAULT_NR_BIN_EDGES;
	}
	if (n > MS_LRU_MAX_BINS - 1) {
		ms_err(ctx, "LRU summary: %zu bin edges given, at most %d", n, MS_LRU_MAX_BINS - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (edges[i] == 0 || edges[i] == MS_AGE_INFINITE || (i && edges[i] <= edges[i - 1])) {
			ms_err(ctx, "LRU summary: bin edges must be ascending, non-zero and "
			       "finite (edge %zu is %llu)", i, (unsigned long long)edges[i]);
			return -EINVAL;
		}
		b->edges[i] = edges[i];
	}
	b->nr_edges = n;

	/* Normalise the memcg filter to "/a/b" (NULL: everything).  Only plain
	 * components: lru_gen prints canonical paths, so "." or ".." or "//"
	 * could never match and are refused. */
	if (memcg) {
		size_t len;

		while (*memcg == '/')
			memcg++;
		len = strlen(memcg);
		while (len && memcg[len - 1] == '/')
			len--;
		if (len) {
			if (len + 2 > memcg_size)
				return -ENAMETOOLONG;
			memcg_buf[0] = '/';
			memcpy(memcg_buf + 1, memcg, len);
			memcg_buf[len + 1] = '\0';
			for (const char *c = memcg_buf + 1; *c;) {
				size_t cl = strcspn(c, "/");

				if (cl == 0 || (cl == 1 && c[0] == '.') ||
				    (cl == 2 && c[0] == '.' && c[1] == '.')) {
					ms_err(ctx, "memcg '%s': empty, '.' or '..' component",
					       memcg_buf);
					return -EINVAL;
				}
				c += cl;
				if (*c)
					c++;
			}
			b->memcg = memcg_buf;
		}
	}
	return 0;
}

void lru_builder_release(struct lru_builder *b)
{
	free(b->nodes);
	b->nodes = NULL;
	b->nr_nodes = b->cap = 0;
}

size_t lru_bin_index(const struct lru_builder *b, uint64_t age_ms)
{
	size_t i = 0;

	while (i < b->nr_edges && age_ms >= b->edges[i])
		i++;
	return i;
}

static void node_init(struct lru_builder *b, struct ms_lru_node *n, int node, bool classic)
{
	memset(n, 0, sizeof(*n));
	n->node = node;
	n->slab_reclaimable_bytes = MS_UNKNOWN;
	n->shmem_bytes = MS_UNKNOWN;
	n->unevictable_bytes = MS_UNKNOWN;
	if (classic) {
		n->nr_bins = 2;
		for (int i = 0; i < 2; i++)
			n->bins[i].min_age_ms = n->bins[i].max_age_ms = MS_UNKNOWN;
		return;
	}
	n->nr_bins = (uint32_t)b->nr_edges + 1;
	for (size_t i = 0; i < n->nr_bins; i++) {
		n->bins[i].min_age_ms = i ? b->edges[i - 1] : 0;
		n->bins[i].max_age_ms = i < b->nr_edges ? b->edges[i] : MS_AGE_INFINITE;
	}
}

struct ms_lru_node *lru_builder_node(struct lru_builder *b, int node, bool classic)
{
	size_t i;

	for (i = 0; i < b->nr_nodes; i++) {
		if (b->nodes[i].node == node)
			return &b->nodes[i];
		if (b->nodes[i].node > node)
			break;
	}
	if (b->nr_nodes == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4;
		struct ms_lru_node *nn = realloc(b->nodes, cap * sizeof(*nn));

		if (!nn)
			return NULL;
		b->nodes = nn;
		b->cap = cap;
	}
	memmove(&b->nodes[i + 1], &b->nodes[i], (b->nr_nodes - i) * sizeof(*b->nodes));
	b->nr_nodes++;
	node_init(b, &b->nodes[i], node, classic);
	return &b->nodes[i];
}

/* Slab, shmem, unevictable per node: node meminfo, or the memcg's numa_stat. */
static void fill_extras(struct lru_builder *b)
{
	struct ms_ctx *ctx = b->ctx;

	if (b->memcg) {
		char path[512], *buf;
		size_t len;

		if (ms_cgroup_path(path, sizeof(path), b->memcg, "memory.numa_stat") < 0 ||
		    ms_read_file(ctx, path, &buf, &len, 1 << 20) < 0)
			return;
		for (size_t i = 0; i < b->nr_nodes; i++) {
			struct ms_lru_node *n = &b->nodes[i];

			lru_numa_stat_get(ctx, buf, len, "slab_reclaimable", n->node,
					  &n->slab_reclaimable_bytes);
			lru_numa_stat_get(ctx, buf, len, "shmem", n->node, &n->shmem_bytes);
			lru_numa_stat_get(ctx, buf, len, "unevictable", n->node,
					  &n->unevictable_bytes);
		}
		free(buf);
		return;
	}
	for (size_t i = 0; i < b->nr_nodes; i++) {
		struct ms_lru_node *n = &b->nodes[i];
		struct ms_meminfo mi;

		char path[96];

		/* Without NUMA sysfs the whole machine is node 0. */
		snprintf(path, sizeof(path), "sys/devices/system/node/node%d/meminfo", n->node);
		if (ms_path_exists(ctx, path) ? ms_node_meminfo_read(ctx, n->node, &mi) < 0
					      : n->node != 0 || ms_meminfo_read(ctx, &mi) < 0)
			continue;
		n->slab_reclaimable_bytes = mi.sreclaimable_bytes;
		n->shmem_bytes = mi.shmem_bytes;
		n->unevictable_bytes = mi.unevictable_bytes;
	}
}

int lru_builder_finish(struct lru_builder *b, enum ms_lru_source source,
		       struct ms_lru_summary **out)
{
	struct ms_lru_summary *s;

	if (!b->extras_done)
		fill_extras(b);
	s = malloc(sizeof(*s) + b->nr_nodes * sizeof(s->nodes[0]));
	if (!s) {
		lru_builder_release(b);
		return -ENOMEM;
	}
	s->source = source;
	s->nr_nodes = (uint32_t)b->nr_nodes;
	if (b->nr_nodes)
		memcpy(s->nodes, b->nodes, b->nr_nodes * sizeof(s->nodes[0]));
	lru_builder_release(b);
	*out = s;
	return 0;
}

MS_EXPORT int ms_lru_parse_mglru(struct ms_ctx *ctx, const char *buf, size_t len,
				 const struct ms_lru_opts *opts, struct ms_lru_summary **out)
{
	struct lru_builder b;
	char memcg[512];
	int r;

	if (!ctx || !buf || !out || !MS_OPTS_VALID(opts, ms_lru_opts))
		return -EINVAL;
	r = lru_builder_init(&b, ctx, opts, memcg, sizeof(memcg));
	if (r < 0)
		return r;
	r = lru_mglru_parse(&b, buf, len);
	if (r < 0) {
		lru_builder_release(&b);
		return r;
	}
	return lru_builder_finish(&b, MS_LRU_SOURCE_MGLRU, out);
}

static int read_mglru(struct lru_builder *b)
{
	char *buf;
	size_t len;
	int r;

	r = ms_read_file(b->ctx, "sys/kernel/debug/lru_gen", &buf, &len, MS_FILE_MAX_BYTES);
	if (r < 0) {
		ms_err(b->ctx, "%s/sys/kernel/debug/lru_gen: %s", b->ctx->log_root, strerror(-r));
		return r == -ENOENT ? -EOPNOTSUPP : r;
	}
	r = lru_mglru_parse(b, buf, len);
	free(buf);
	return r;
}

MS_EXPORT int ms_lru_summary_read(struct ms_ctx *ctx, const struct ms_lru_opts *opts,
				  struct ms_lru_summary **out)
{
	enum ms_lru_source src = MS_OPTS_GET(opts, ms_lru_opts, source, MS_LRU_SOURCE_AUTO);
	struct lru_builder b;
	char memcg[512];
	int r;

	if (!ctx || !out || !MS_OPTS_VALID(opts, ms_lru_opts) || src > MS_LRU_SOURCE_CLASSIC)
		return -EINVAL;
	r = lru_builder_init(&b, ctx, opts, memcg, sizeof(memcg));
	if (r < 0)
		return r;
	if (b.memcg) {
		char path[600];

		r = ms_cgroup_path(path, sizeof(path), b.memcg, "");
		if (r < 0)
			return r;
		if (!ms_path_exists(ctx, path)) {
			ms_err(ctx, "memcg %s: no such cgroup under %s/sys/fs/cgroup", b.memcg,
			       ctx->log_root);
			return -ENOENT;
		}
	}

	if (src == MS_LRU_SOURCE_AUTO) {
		src = lru_mglru_available(ctx, false) == 0 ? MS_LRU_SOURCE_MGLRU
							   : MS_LRU_SOURCE_CLASSIC;
		r = src == MS_LRU_SOURCE_MGLRU ? read_mglru(&b) : lru_classic_read(&b);
	} else if (src == MS_LRU_SOURCE_MGLRU) {
		r = lru_mglru_available(ctx, true);
		if (r == 0)
			r = read_mglru(&b);
	} else {
		r = lru_classic_read(&b);
	}
	if (r < 0) {
		lru_builder_release(&b);
		return r;
	}
	return lru_builder_finish(&b, src, out);
}

MS_EXPORT void ms_lru_summary_free(struct ms_lru_summary *summary)
{
	free(summary);
}

MS_EXPORT struct ms_lru_summary *ms_lru_summary_dup(const struct ms_lru_summary *s)
{
	struct ms_lru_summary *d;
	size_t sz;

	if (!s)
		return NULL;
	sz = sizeof(*s) + s->nr_nodes * sizeof(s->nodes[0]);
	d = malloc(sz);
	if (d)
		memcpy(d, s, sz);
	return d;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX - 1 : a + b;
}

MS_EXPORT uint64_t ms_lru_summary_bytes_older_than(const struct ms_lru_summary *s,
						   uint64_t min_age_ms, unsigned kinds)
{
	uint64_t sum = 0;

	if (!s)
		return 0;
	for (uint32_t i = 0; i < s->nr_nodes; i++) {
		const struct ms_lru_node *n = &s->nodes[i];

		for (uint32_t j = 0; j < n->nr_bins && j < MS_LRU_MAX_BINS; j++) {
			const struct ms_lru_bin *bin = &n->bins[j];
			bool old;

			if (s->source == MS_LRU_SOURCE_CLASSIC)
				old = j == 1 || min_age_ms == 0;
			else
				old = bin->min_age_ms >= min_age_ms;
			if (!old)
				continue;
			if ((kinds & MS_LRU_ANON) && bin->anon_bytes != MS_UNKNOWN)
				sum = sat_add(sum, bin->anon_bytes);
			if ((kinds & MS_LRU_FILE) && bin->file_bytes != MS_UNKNOWN)
				sum = sat_add(sum, bin->file_bytes);
		}
	}
	return sum;
}
