/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /proc/meminfo and /sys/devices/system/node/nodeN/meminfo
 * (fs/proc/meminfo.c meminfo_proc_show(), drivers/base/node.c
 * node_read_meminfo()):
 *
 *   MemTotal:         481268 kB
 *   Node 0 MemTotal:         481268 kB
 *   HugePages_Total:       0
 */
#include <stdlib.h>
#include <string.h>

#include <memshare/probe.h>

#include "../internal.h"
#include "../util/fileio.h"
#include "../util/parse.h"
#include "probe-internal.h"

static const struct {
	const char *key;
	size_t off;
} meminfo_keys[] = {
#define F(k, f) { k, offsetof(struct ms_meminfo, f) }
	F("MemTotal", total_bytes),
	F("MemFree", free_bytes),
	F("MemAvailable", available_bytes),
	F("MemUsed", used_bytes),
	F("Buffers", buffers_bytes),
	F("Cached", cached_bytes),
	F("FilePages", file_pages_bytes),
	F("SwapCached", swap_cached_bytes),
	F("Active(anon)", active_anon_bytes),
	F("Inactive(anon)", inactive_anon_bytes),
	F("Active(file)", active_file_bytes),
	F("Inactive(file)", inactive_file_bytes),
	F("Unevictable", unevictable_bytes),
	F("Mlocked", mlocked_bytes),
	F("SwapTotal", swap_total_bytes),
	F("SwapFree", swap_free_bytes),
	F("Dirty", dirty_bytes),
	F("Writeback", writeback_bytes),
	F("AnonPages", anon_pages_bytes),
	F("Mapped", mapped_bytes),
	F("Shmem", shmem_bytes),
	F("KReclaimable", kreclaimable_bytes),
	F("Slab", slab_bytes),
	F("SReclaimable", sreclaimable_bytes),
	F("SUnreclaim", sunreclaim_bytes),
	F("PageTables", page_tables_bytes),
#undef F
};

void ms_meminfo_init(struct ms_meminfo *mi)
{
	uint64_t *f = (uint64_t *)mi;

	for (size_t i = 0; i < sizeof(*mi) / sizeof(uint64_t); i++)
		f[i] = MS_UNKNOWN;
}

/* Strip and check a "Node N " prefix. */
static int strip_node(const char **p, const char *end, int node)
{
	uint64_t n;
	int r;

	if (end - *p < 5 || memcmp(*p, "Node ", 5) != 0)
		return -EBADMSG;
	*p += 5;
	r = ms_parse_u64(p, end, &n);
	if (r < 0 || n != (uint64_t)node || *p >= end || **p != ' ')
		return -EBADMSG;
	*p = ms_skip_blanks(*p, end);
	return 0;
}

MS_EXPORT int ms_meminfo_parse(struct ms_ctx *ctx, const char *buf, size_t len, int node,
			       struct ms_meminfo *out)
{
	struct ms_meminfo mi;
	struct ms_lines it;
	const char *line;
	size_t llen;
	char ex[96];

	if (!buf || !out)
		return -EINVAL;
	ms_meminfo_init(&mi);
	ms_lines_init(&it, buf, len);
	while (ms_lines_next(&it, &line, &llen)) {
		const char *p = line, *end = line + llen, *colon;
		uint64_t v, mult = 1;
		int r;

		if (llen == 0)
			continue;
		if (node >= 0 && strip_node(&p, end, node) < 0)
			goto bad;
		colon = memchr(p, ':', (size_t)(end - p));
		if (!colon || colon == p)
			goto bad;
		{
			const char *q = ms_skip_blanks(colon + 1, end);

			r = ms_parse_u64(&q, end, &v);
			if (r == -ERANGE)
				goto range;
			if (r < 0)
				goto bad;
			if (q < end) {
				q = ms_skip_blanks(q, end);
				if (end - q == 2 && memcmp(q, "kB", 2) == 0)
					mult = 1024;
				else if (q != end)
					goto bad;
			}
		}
		for (size_t i = 0; i < MS_ARRAY_SIZE(meminfo_keys); i++) {
			uint64_t *field = (uint64_t *)((char *)&mi + meminfo_keys[i].off);

			if (!ms_token_eq(p, (size_t)(colon - p), meminfo_keys[i].key))
				continue;
			/* The kernel writes each key once: a second one means
			 * a damaged file, not a value to pick from. */
			if (*field != MS_UNKNOWN) {
				ms_err(ctx, "meminfo: line %u: %s a second time", it.lineno,
				       meminfo_keys[i].key);
				return -EBADMSG;
			}
			if (ms_mul_u64(v, mult, field) < 0)
				goto range;
			break;
		}
		continue;
bad:
		ms_err(ctx, "meminfo: line %u is malformed: '%s'", it.lineno,
		       ms_line_excerpt(ex, sizeof(ex), line, llen));
		return -EBADMSG;
range:
		ms_err(ctx, "meminfo: line %u: value out of range: '%s'", it.lineno,
		       ms_line_excerpt(ex, sizeof(ex), line, llen));
		return -ERANGE;
	}
	if (mi.total_bytes == MS_UNKNOWN) {
		ms_err(ctx, "meminfo: no MemTotal line");
		return -EBADMSG;
	}
	*out = mi;
	return 0;
}

MS_EXPORT int ms_meminfo_read(struct ms_ctx *ctx, struct ms_meminfo *out)
{
	char *buf;
	size_t len;
	int r;

	if (!ctx || !out)
		return -EINVAL;
	r = ms_read_file(ctx, "proc/meminfo", &buf, &len, 1 << 20);
	if (r < 0) {
		ms_err(ctx, "%s/proc/meminfo: %s", ctx->log_root, strerror(-r));
		return r;
	}
	r = ms_meminfo_parse(ctx, buf, len, -1, out);
	free(buf);
	return r;
}
