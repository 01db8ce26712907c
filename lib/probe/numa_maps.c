/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /proc/PID/numa_maps (fs/proc/task_mmu.c show_numa_map()): one line per
 * mapping, "ADDR POLICY [file=...] [anon=N] [dirty=N] ... N0=pages N1=pages
 * kernelpagesize_kB=4".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memshare/probe.h>

#include "../internal.h"
#include "../util/fileio.h"
#include "../util/parse.h"

MS_EXPORT int ms_numa_maps_parse(struct ms_ctx *ctx, const char *buf, size_t len, uint64_t *bytes,
				 size_t max_nodes)
{
	struct ms_lines it;
	const char *line;
	size_t llen;
	int filled = 0;

	if (!buf || !bytes || !max_nodes)
		return -EINVAL;
	memset(bytes, 0, max_nodes * sizeof(*bytes));
	ms_lines_init(&it, buf, len);
	while (ms_lines_next(&it, &line, &llen)) {
		const char *p = line, *end = line + llen;
		uint64_t pages[64], page_kb = 0;
		size_t nodes = 0;
		int seen = 0;

		if (!llen)
			continue;
		/* Address and policy come first; then key=value words. */
		while (p < end) {
			const char *w = ms_skip_blanks(p, end), *we = w;

			while (we < end && *we != ' ')
				we++;
			p = we;
			if (we == w)
				break;
			if (*w == 'N' && w + 1 < we && w[1] >= '0' && w[1] <= '9') {
				const char *q = w + 1;
				uint64_t node, n;

				if (ms_parse_u64(&q, we, &node) < 0 || q >= we || *q != '=')
					goto bad;
				q++;
				if (ms_parse_u64(&q, we, &n) < 0 || q != we)
					goto bad;
				if (node < MS_ARRAY_SIZE(pages) && node < max_nodes) {
					while (nodes <= node)
						pages[nodes++] = 0;
					pages[node] += n;
				}
				seen = 1;
			} else if (we - w > 18 && memcmp(w, "kernelpagesize_kB=", 18) == 0) {
				const char *q = w + 18;

				if (ms_parse_u64(&q, we, &page_kb) < 0 || q != we)
					goto bad;
			}
		}
		if (!seen)
			continue;
		if (!page_kb) {
			char ex[96];

			ms_err(ctx, "numa_maps: line %u has pages but no kernelpagesize_kB: '%s'",
			       it.lineno, ms_line_excerpt(ex, sizeof(ex), line, llen));
			return -EBADMSG;
		}
		for (size_t i = 0; i < nodes; i++) {
			uint64_t b;

			if (ms_mul_u64(pages[i], page_kb * 1024, &b) < 0 ||
			    __builtin_add_overflow(bytes[i], b, &bytes[i]))
				return -ERANGE;
		}
		if ((int)nodes > filled)
			filled = (int)nodes;
		continue;
bad:
		{
			char ex[96];

			ms_err(ctx, "numa_maps: line %u is malformed: '%s'", it.lineno,
			       ms_line_excerpt(ex, sizeof(ex), line, llen));
		}
		return -EBADMSG;
	}
	return filled;
}

MS_EXPORT int ms_numa_maps_read(struct ms_ctx *ctx, int pid, uint64_t *bytes, size_t max_nodes)
{
	char path[64], *buf;
	size_t len;
	int r;

	if (!ctx || pid <= 0 || !bytes || !max_nodes)
		return -EINVAL;
	snprintf(path, sizeof(path), "proc/%d/numa_maps", pid);
	r = ms_read_file(ctx, path, &buf, &len, MS_FILE_MAX_BYTES);
	if (r < 0) {
		ms_err(ctx, "%s/%s: %s", ctx->log_root, path, strerror(-r));
		return r;
	}
	r = ms_numa_maps_parse(ctx, buf, len, bytes, max_nodes);
	free(buf);
	return r;
}
