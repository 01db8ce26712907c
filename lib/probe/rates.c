/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Samples (PSI + vmstat with a monotonic timestamp) and rates between two. */
#include <math.h>
#include <string.h>

#include <memshare/probe.h>

#include "../internal.h"

MS_EXPORT int ms_sample_take(struct ms_ctx *ctx, struct ms_sample *out)
{
	struct ms_sample s;
	int r;

	if (!ctx || !out)
		return -EINVAL;
	memset(&s, 0, sizeof(s));
	r = ms_psi_read(ctx, NULL, &s.psi);
	if (r == 0)
		s.has_psi = true;
	else if (r != -EOPNOTSUPP)
		return r;
	r = ms_vmstat_read(ctx, &s.vmstat);
	if (r < 0)
		return r;
	s.mono_us = ms_now_us();
	*out = s;
	return 0;
}

/* Per-second rate of a cumulative counter; a reset counts from zero. */
static double rate(uint64_t a, uint64_t b, double secs, uint32_t *resets)
{
	if (a == MS_UNKNOWN || b == MS_UNKNOWN)
		return NAN;
	if (b < a) {
		(*resets)++;
		return (double)b / secs;
	}
	return (double)(b - a) / secs;
}

MS_EXPORT int ms_rates_compute(const struct ms_sample *prev, const struct ms_sample *cur,
			       struct ms_rates *out)
{
	const struct ms_vmstat *a, *b;
	struct ms_rates r;
	double secs;

	if (!prev || !cur || !out || cur->mono_us <= prev->mono_us)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	secs = (double)(cur->mono_us - prev->mono_us) / 1e6;
	r.interval_s = secs;
	a = &prev->vmstat;
	b = &cur->vmstat;
	if (prev->has_psi && cur->has_psi) {
		r.some_stall_us_per_s = rate(prev->psi.some.total_us, cur->psi.some.total_us, secs,
					     &r.resets);
		r.full_stall_us_per_s = (prev->psi.present & cur->psi.present & MS_PSI_FULL)
			? rate(prev->psi.full.total_us, cur->psi.full.total_us, secs, &r.resets)
			: NAN;
	} else {
		r.some_stall_us_per_s = NAN;
		r.full_stall_us_per_s = NAN;
	}
	r.refault_bytes_per_s = rate(a->refault_bytes, b->refault_bytes, secs, &r.resets);
	r.refault_anon_bytes_per_s = rate(a->refault_anon_bytes, b->refault_anon_bytes, secs, &r.resets);
	r.refault_file_bytes_per_s = rate(a->refault_file_bytes, b->refault_file_bytes, secs, &r.resets);
	r.pgscan_bytes_per_s = rate(a->pgscan_bytes, b->pgscan_bytes, secs, &r.resets);
	r.pgsteal_bytes_per_s = rate(a->pgsteal_bytes, b->pgsteal_bytes, secs, &r.resets);
	r.pgmajfault_per_s = rate(a->pgmajfault, b->pgmajfault, secs, &r.resets);
	r.pswpin_bytes_per_s = rate(a->pswpin_bytes, b->pswpin_bytes, secs, &r.resets);
	r.pswpout_bytes_per_s = rate(a->pswpout_bytes, b->pswpout_bytes, secs, &r.resets);
	*out = r;
	return 0;
}
