/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NUMA nodes: enumeration via libnuma (running system) or the nodeN
 * directories of /sys/devices/system/node; per-node counters from
 * /sys/devices/system/node/nodeN/meminfo (drivers/base/node.c).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <memshare/probe.h>

#include "../internal.h"

#if MS_HAVE_LIBNUMA
#include <numa.h>
#endif
#include "../util/fileio.h"
#include "../util/parse.h"
#include "probe-internal.h"

int ms_node_meminfo_read(struct ms_ctx *ctx, int node, struct ms_meminfo *out)
{
	char path[128], *buf;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "sys/devices/system/node/node%d/meminfo", node);
	r = ms_read_file(ctx, path, &buf, &len, 1 << 20);
	if (r < 0) {
		ms_err(ctx, "%s/%s: %s", ctx->log_root, path, strerror(-r));
		return r;
	}
	r = ms_meminfo_parse(ctx, buf, len, node, out);
	free(buf);
	return r;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

int ms_sysfs_nodes(struct ms_ctx *ctx, int **nodes, size_t *nr)
{
	struct dirent *de;
	size_t n = 0, cap = 8;
	int *v, fd;
	DIR *d;

	fd = ms_openat(ctx, "sys/devices/system/node", O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	v = malloc(cap * sizeof(*v));
	if (!v) {
		closedir(d);
		return -ENOMEM;
	}
	while ((de = readdir(d))) {
		const char *p = de->d_name + 4, *end;
		uint64_t id;

		if (strncmp(de->d_name, "node", 4) != 0)
			continue;
		end = p + strlen(p);
		if (ms_parse_u64(&p, end, &id) < 0 || p != end || id > 65535)
			continue;
		if (n == cap) {
			int *nv = realloc(v, 2 * cap * sizeof(*v));

			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
			cap *= 2;
		}
		v[n++] = (int)id;
	}
	closedir(d);
	if (!n) {
		free(v);
		return -ENOENT;
	}
	qsort(v, n, sizeof(*v), cmp_int);
	*nodes = v;
	*nr = n;
	return 0;
}

#if MS_HAVE_LIBNUMA
/* Memory nodes of the running system according to libnuma. */
static int libnuma_nodes(int **nodes, size_t *nr)
{
	int max, *v;
	size_t n = 0;

	if (numa_available() < 0)
		return -EOPNOTSUPP;
	max = numa_max_node();
	v = malloc(((size_t)max + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (int i = 0; i <= max; i++) {
		if (!numa_bitmask_isbitset(numa_nodes_ptr, (unsigned)i))
			continue;
		if (numa_node_size64(i, NULL) <= 0)
			continue;       /* CPU-only node */
		v[n++] = i;
	}
	if (!n) {
		free(v);
		return -ENOENT;
	}
	*nodes = v;
	*nr = n;
	return 0;
}
#endif

MS_EXPORT int ms_numa_read(struct ms_ctx *ctx, struct ms_numa_node **out, size_t *nr_out)
{
	struct ms_numa_node *res;
	int *nodes = NULL, r = -EOPNOTSUPP;
	size_t nr = 0;

	if (!ctx || !out || !nr_out)
		return -EINVAL;
#if MS_HAVE_LIBNUMA
	if (ctx->is_live)
		r = libnuma_nodes(&nodes, &nr);
#endif
	if (r < 0)
		r = ms_sysfs_nodes(ctx, &nodes, &nr);
	if (r == -ENOENT) {
		/* No NUMA sysfs at all: the whole machine is node 0. */
		res = calloc(1, sizeof(*res));
		if (!res)
			return -ENOMEM;
		r = ms_meminfo_read(ctx, &res->meminfo);
		if (r < 0) {
			free(res);
			return r;
		}
		*out = res;
		*nr_out = 1;
		return 0;
	}
	if (r < 0)
		return r;

	res = calloc(nr, sizeof(*res));
	if (!res) {
		free(nodes);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr; i++) {
		res[i].node = nodes[i];
		r = ms_node_meminfo_read(ctx, nodes[i], &res[i].meminfo);
		if (r < 0) {
			free(nodes);
			free(res);
			return r;
		}
#if MS_HAVE_LIBNUMA
		if (ctx->is_live) {
			long long freeb = 0, total = numa_node_size64(nodes[i], &freeb);

			if (total > 0) {
				res[i].meminfo.total_bytes = (uint64_t)total;
				res[i].meminfo.free_bytes = (uint64_t)freeb;
			}
		}
#endif
	}
	free(nodes);
	*out = res;
	*nr_out = nr;
	return 0;
}
