/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /proc/vmstat (mm/vmstat.c vmstat_show(): "name value" per line; page
 * counters are in pages).
 */
#include <stdlib.h>
#include <string.h>

#include <memshare/probe.h>

#include "../internal.h"
#include "../util/fileio.h"
#include "../util/parse.h"

enum {
	V_REFAULT, V_REFAULT_ANON, V_REFAULT_FILE,
	V_ACTIVATE, V_ACTIVATE_ANON, V_ACTIVATE_FILE,
	V_SCAN_KSWAPD, V_SCAN_DIRECT, V_SCAN_KHUGEPAGED, V_SCAN_ANON, V_SCAN_FILE,
	V_STEAL_KSWAPD, V_STEAL_DIRECT, V_STEAL_KHUGEPAGED, V_STEAL_ANON, V_STEAL_FILE,
	V_MAJFAULT, V_PSWPIN, V_PSWPOUT, V_OOM_KILL,
	V__COUNT
};

static const char *const vmstat_keys[V__COUNT] = {
	[V_REFAULT] = "workingset_refault",
	[V_REFAULT_ANON] = "workingset_refault_anon",
	[V_REFAULT_FILE] = "workingset_refault_file",
	[V_ACTIVATE] = "workingset_activate",
	[V_ACTIVATE_ANON] = "workingset_activate_anon",
	[V_ACTIVATE_FILE] = "workingset_activate_file",
	[V_SCAN_KSWAPD] = "pgscan_kswapd",
	[V_SCAN_DIRECT] = "pgscan_direct",
	[V_SCAN_KHUGEPAGED] = "pgscan_khugepaged",
	[V_SCAN_ANON] = "pgscan_anon",
	[V_SCAN_FILE] = "pgscan_file",
	[V_STEAL_KSWAPD] = "pgsteal_kswapd",
	[V_STEAL_DIRECT] = "pgsteal_direct",
	[V_STEAL_KHUGEPAGED] = "pgsteal_khugepaged",
	[V_STEAL_ANON] = "pgsteal_anon",
	[V_STEAL_FILE] = "pgsteal_file",
	[V_MAJFAULT] = "pgmajfault",
	[V_PSWPIN] = "pswpin",
	[V_PSWPOUT] = "pswpout",
	[V_OOM_KILL] = "oom_kill",
};

#define U MS_UNKNOWN

static bool have(const uint64_t *v, int i)
{
	return v[i] != U;
}

/* a + b (+ c when known); U unless both a and b are known. */
static uint64_t sum_pages(const uint64_t *v, int a, int b, int c)
{
	uint64_t s;

	if (!have(v, a) || !have(v, b))
		return U;
	s = v[a] + v[b];
	if (c >= 0 && have(v, c))
		s += v[c];
	return s;
}

static int to_bytes(uint64_t pages, uint64_t page_size, uint64_t *out)
{
	if (pages == U) {
		*out = U;
		return 0;
	}
	return ms_mul_u64(pages, page_size, out);
}

MS_EXPORT int ms_vmstat_parse(struct ms_ctx *ctx, const char *buf, size_t len,
			      struct ms_vmstat *out)
{
	uint64_t v[V__COUNT], ps;
	struct ms_vmstat vs;
	struct ms_lines it;
	const char *line;
	size_t llen;
	unsigned known = 0;
	char ex[96];
	int r;

	if (!ctx || !buf || !out)
		return -EINVAL;
	ps = ctx->page_size;
	for (int i = 0; i < V__COUNT; i++)
		v[i] = U;
	ms_lines_init(&it, buf, len);
	while (ms_lines_next(&it, &line, &llen)) {
		const char *end = line + llen, *sp, *q;
		uint64_t val;

		if (llen == 0)
			continue;
		sp = memchr(line, ' ', llen);
		if (!sp || sp == line)
			goto bad;
		q = sp + 1;
		r = ms_parse_u64(&q, end, &val);
		if (r == -ERANGE)
			goto range;
		if (r < 0 || q != end)
			goto bad;
		for (int i = 0; i < V__COUNT; i++) {
			if (ms_token_eq(line, (size_t)(sp - line), vmstat_keys[i])) {
				v[i] = val;
				known++;
				break;
			}
		}
		continue;
bad:
		ms_err(ctx, "vmstat: line %u is malformed: '%s'", it.lineno,
		       ms_line_excerpt(ex, sizeof(ex), line, llen));
		return -EBADMSG;
range:
		ms_err(ctx, "vmstat: line %u: value out of range: '%s'", it.lineno,
		       ms_line_excerpt(ex, sizeof(ex), line, llen));
		return -ERANGE;
	}
	if (!known) {
		ms_err(ctx, "vmstat: none of the expected counters (pgmajfault, "
		       "workingset_refault*, pgscan_*) is present");
		return -EBADMSG;
	}

	r = 0;
	r |= to_bytes(v[V_REFAULT_ANON], ps, &vs.refault_anon_bytes);
	r |= to_bytes(v[V_REFAULT_FILE], ps, &vs.refault_file_bytes);
	/* 5.9+ split workingset_refault into _anon and _file. */
	r |= to_bytes(have(v, V_REFAULT_ANON) ? sum_pages(v, V_REFAULT_ANON, V_REFAULT_FILE, -1)
					      : v[V_REFAULT], ps, &vs.refault_bytes);
	r |= to_bytes(have(v, V_ACTIVATE_ANON) ? sum_pages(v, V_ACTIVATE_ANON, V_ACTIVATE_FILE, -1)
					       : v[V_ACTIVATE], ps, &vs.activate_bytes);
	r |= to_bytes(v[V_SCAN_KSWAPD], ps, &vs.pgscan_kswapd_bytes);
	r |= to_bytes(v[V_SCAN_DIRECT], ps, &vs.pgscan_direct_bytes);
	r |= to_bytes(v[V_STEAL_KSWAPD], ps, &vs.pgsteal_kswapd_bytes);
	r |= to_bytes(v[V_STEAL_DIRECT], ps, &vs.pgsteal_direct_bytes);
	/* pgscan_anon/_file count every reclaim path, memory.reclaim included. */
	r |= to_bytes(have(v, V_SCAN_ANON) ? sum_pages(v, V_SCAN_ANON, V_SCAN_FILE, -1)
					   : sum_pages(v, V_SCAN_KSWAPD, V_SCAN_DIRECT, V_SCAN_KHUGEPAGED),
		      ps, &vs.pgscan_bytes);
	r |= to_bytes(have(v, V_STEAL_ANON) ? sum_pages(v, V_STEAL_ANON, V_STEAL_FILE, -1)
					    : sum_pages(v, V_STEAL_KSWAPD, V_STEAL_DIRECT, V_STEAL_KHUGEPAGED),
		      ps, &vs.pgsteal_bytes);
	vs.pgmajfault = v[V_MAJFAULT];
	r |= to_bytes(v[V_PSWPIN], ps, &vs.pswpin_bytes);
	r |= to_bytes(v[V_PSWPOUT], ps, &vs.pswpout_bytes);
	vs.oom_kill = v[V_OOM_KILL];
	if (r) {
		ms_err(ctx, "vmstat: a page counter overflows 64 bits in bytes");
		return -ERANGE;
	}
	*out = vs;
	return 0;
}

MS_EXPORT int ms_vmstat_read(struct ms_ctx *ctx, struct ms_vmstat *out)
{
	char *buf;
	size_t len;
	int r;

	if (!ctx || !out)
		return -EINVAL;
	r = ms_read_file(ctx, "proc/vmstat", &buf, &len, 1 << 20);
	if (r < 0) {
		ms_err(ctx, "%s/proc/vmstat: %s", ctx->log_root, strerror(-r));
		return r;
	}
	r = ms_vmstat_parse(ctx, buf, len, out);
	free(buf);
	return r;
}
