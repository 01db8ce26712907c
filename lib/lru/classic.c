/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Classic LRU fallback: Active/Inactive(anon|file) per node from
 * /sys/devices/system/node/nodeN/meminfo (or /proc/meminfo without NUMA
 * sysfs), or per memcg from memory.numa_stat (active_anon N0=bytes ...).
 * Two bins: [0] active, [1] inactive; ages unknown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/fileio.h"
#include "../util/parse.h"
#include "../probe/probe-internal.h"
#include "lru-internal.h"

/* memory.numa_stat line "key N0=123 N1=456". */
int lru_numa_stat_get(struct ms_ctx *ctx, const char *buf, size_t len, const char *key,
		      int node, uint64_t *out)
{
	struct ms_lines it;
	const char *line;
	size_t llen, kl = strlen(key);

	*out = MS_UNKNOWN;
	ms_lines_init(&it, buf, len);
	while (ms_lines_next(&it, &line, &llen)) {
		const char *p, *end = line + llen;

		if (llen <= kl || memcmp(line, key, kl) != 0 || line[kl] != ' ')
			continue;
		p = line + kl;
		while (p < end) {
			uint64_t id, v;

			p = ms_skip_blanks(p, end);
			if (p >= end)
				break;
			if (*p != 'N')
				goto bad;
			p++;
			if (ms_parse_u64(&p, end, &id) < 0 || p >= end || *p != '=')
				goto bad;
			p++;
			if (ms_parse_u64(&p, end, &v) < 0)
				goto bad;
			if (id == (uint64_t)node) {
				*out = v;
				return 0;
			}
		}
		return 0;
bad:
		{
			char ex[96];

			ms_err(ctx, "memory.numa_stat: line %u is malformed: '%s'", it.lineno,
			       ms_line_excerpt(ex, sizeof(ex), line, llen));
		}
		return -EBADMSG;
	}
	return 0;
}

/* Nodes named on the first line of memory.numa_stat. */
int lru_numa_stat_nodes(const char *buf, size_t len, int *nodes, size_t max, size_t *nr)
{
	const char *p = buf, *end = memchr(buf, '\n', len);

	if (!end)
		end = buf + len;
	*nr = 0;
	while ((p = memchr(p, 'N', (size_t)(end - p)))) {
		uint64_t id;

		p++;
		if (ms_parse_u64(&p, end, &id) == 0 && p < end && *p == '=' && *nr < max &&
		    id <= 65535)
			nodes[(*nr)++] = (int)id;
	}
	return *nr ? 0 : -EBADMSG;
}

static void classic_from_meminfo(struct ms_lru_node *n, const struct ms_meminfo *mi)
{
	n->bins[0].anon_bytes = mi->active_anon_bytes;
	n->bins[0].file_bytes = mi->active_file_bytes;
	n->bins[1].anon_bytes = mi->inactive_anon_bytes;
	n->bins[1].file_bytes = mi->inactive_file_bytes;
	n->slab_reclaimable_bytes = mi->sreclaimable_bytes;
	n->shmem_bytes = mi->shmem_bytes;
	n->unevictable_bytes = mi->unevictable_bytes;
}

static int classic_memcg(struct lru_builder *b)
{
	struct ms_ctx *ctx = b->ctx;
	int nodes[256];
	char path[600], *buf;
	size_t len, nr;
	int r;

	r = ms_cgroup_path(path, sizeof(path), b->memcg, "memory.numa_stat");
	if (r < 0)
		return r;
	r = ms_read_file(ctx, path, &buf, &len, 1 << 20);
	if (r < 0) {
		ms_err(ctx, "%s/%s: %s (cgroup v2 memory controller needed)", ctx->log_root, path,
		       strerror(-r));
		return r == -ENOENT ? -EOPNOTSUPP : r;
	}
	r = lru_numa_stat_nodes(buf, len, nodes, MS_ARRAY_SIZE(nodes), &nr);
	if (r < 0)
		ms_err(ctx, "%s: no node columns", path);
	for (size_t i = 0; r == 0 && i < nr; i++) {
		struct ms_lru_node *n = lru_builder_node(b, nodes[i], true);
		static const char *const keys[] = { "active_anon", "active_file",
						    "inactive_anon", "inactive_file",
						    "slab_reclaimable", "shmem", "unevictable" };
		uint64_t v[7];

		if (!n) {
			r = -ENOMEM;
			break;
		}
		for (size_t k = 0; r == 0 && k < MS_ARRAY_SIZE(keys); k++)
			r = lru_numa_stat_get(ctx, buf, len, keys[k], nodes[i], &v[k]);
		if (r < 0)
			break;
		n->bins[0].anon_bytes = v[0];
		n->bins[0].file_bytes = v[1];
		n->bins[1].anon_bytes = v[2];
		n->bins[1].file_bytes = v[3];
		n->slab_reclaimable_bytes = v[4];
		n->shmem_bytes = v[5];
		n->unevictable_bytes = v[6];
	}
	free(buf);
	b->extras_done = true;
	return r;
}

int lru_classic_read(struct lru_builder *b)
{
	struct ms_ctx *ctx = b->ctx;
	int *nodes, r;
	size_t nr;

	if (b->memcg)
		return classic_memcg(b);
	b->extras_done = true;
	r = ms_sysfs_nodes(ctx, &nodes, &nr);
	if (r == -ENOENT) {
		struct ms_meminfo mi;
		struct ms_lru_node *n;

		r = ms_meminfo_read(ctx, &mi);
		if (r < 0)
			return r;
		n = lru_builder_node(b, 0, true);
		if (!n)
			return -ENOMEM;
		classic_from_meminfo(n, &mi);
		return 0;
	}
	if (r < 0)
		return r;
	for (size_t i = 0; i < nr; i++) {
		struct ms_meminfo mi;
		struct ms_lru_node *n;

		r = ms_node_meminfo_read(ctx, nodes[i], &mi);
		if (r < 0)
			break;
		n = lru_builder_node(b, nodes[i], true);
		if (!n) {
			r = -ENOMEM;
			break;
		}
		classic_from_meminfo(n, &mi);
	}
	free(nodes);
	return r;
}
