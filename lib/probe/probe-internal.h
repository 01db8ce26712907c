/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MS_PROBE_INTERNAL_H
#define MS_PROBE_INTERNAL_H

#include <memshare/probe.h>

/* Set every field to MS_UNKNOWN. */
void ms_meminfo_init(struct ms_meminfo *mi);

/* Read /sys/devices/system/node/node<node>/meminfo. */
int ms_node_meminfo_read(struct ms_ctx *ctx, int node, struct ms_meminfo *out);

/* Node numbers under the sysroot (the nodeN directories of
 * sys/devices/system/node, memoryless nodes included), ascending,
 * malloc'd.  -ENOENT if the kernel has no node sysfs. */
int ms_sysfs_nodes(struct ms_ctx *ctx, int **nodes, size_t *nr);

#endif
