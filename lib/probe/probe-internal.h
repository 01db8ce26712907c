/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MS_PROBE_INTERNAL_H
#define MS_PROBE_INTERNAL_H

#include <memshare/probe.h>

/* Set every field to MS_UNKNOWN. */
void ms_meminfo_init(struct ms_meminfo *mi);

/* Read /sys/devices/system/node/node<node>/meminfo. */
int ms_node_meminfo_read(struct ms_ctx *ctx, int node, struct ms_meminfo *out);

/* Node numbers with memory under the sysroot (sys/devices/system/node),
 * ascending, malloc'd.  -ENOENT if the kernel has no node sysfs. */
int ms_sysfs_nodes(struct ms_ctx *ctx, int **nodes, size_t *nr);

#endif
