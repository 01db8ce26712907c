/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PSI: /proc/pressure/memory and cgroup v2 memory.pressure.
 *
 *   some avg10=0.00 avg60=0.00 avg300=0.00 total=0
 *   full avg10=0.00 avg60=0.00 avg300=0.00 total=0
 *
 * (Documentation/accounting/psi.rst; kernel/sched/psi.c psi_show()).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include <memshare/probe.h>

#include "../internal.h"
#include "../util/fileio.h"
#include "../util/parse.h"

static int psi_parse_line(struct ms_ctx *ctx, unsigned lineno, const char *line, size_t len,
			  struct ms_psi_stat *st)
{
	const char *p = line, *end = line + len;
	unsigned seen = 0;
	char ex[96];

	/* Skip the "some"/"full" word. */
	while (p < end && *p != ' ')
		p++;
	while (p < end) {
		const char *key, *eq;
		int r = 0;

		p = ms_skip_blanks(p, end);
		if (p >= end)
			break;
		key = p;
		eq = memchr(p, '=', (size_t)(end - p));
		if (!eq)
			goto bad;
		p = eq + 1;
		if (ms_token_eq(key, (size_t)(eq - key), "avg10")) {
			r = ms_parse_udouble(&p, end, &st->avg10);
			seen |= 1;
		} else if (ms_token_eq(key, (size_t)(eq - key), "avg60")) {
			r = ms_parse_udouble(&p, end, &st->avg60);
			seen |= 2;
		} else if (ms_token_eq(key, (size_t)(eq - key), "avg300")) {
			r = ms_parse_udouble(&p, end, &st->avg300);
			seen |= 4;
		} else if (ms_token_eq(key, (size_t)(eq - key), "total")) {
			r = ms_parse_u64(&p, end, &st->total_us);
			seen |= 8;
		} else {
			/* A key a newer kernel added: skip its value. */
			while (p < end && *p != ' ')
				p++;
			continue;
		}
		if (r < 0)
			goto bad;
		if (p < end && *p != ' ' && *p != '\t')
			goto bad;
	}
	if (seen != 15) {
		ms_err(ctx, "pressure: line %u lacks avg10/avg60/avg300/total: '%s'", lineno,
		       ms_line_excerpt(ex, sizeof(ex), line, len));
		return -EBADMSG;
	}
	if (st->avg10 > 100.0 || st->avg60 > 100.0 || st->avg300 > 100.0)
		goto bad;
	return 0;
bad:
	ms_err(ctx, "pressure: line %u is malformed: '%s'", lineno,
	       ms_line_excerpt(ex, sizeof(ex), line, len));
	return -EBADMSG;
}

MS_EXPORT int ms_psi_parse(struct ms_ctx *ctx, const char *buf, size_t len, struct ms_psi *out)
{
	struct ms_lines it;
	const char *line;
	size_t llen;
	struct ms_psi psi = { 0 };

	if (!buf || !out)
		return -EINVAL;
	ms_lines_init(&it, buf, len);
	while (ms_lines_next(&it, &line, &llen)) {
		struct ms_psi_stat *st;
		uint32_t bit;
		int r;

		if (llen == 0)
			continue;
		if (llen > 5 && memcmp(line, "some ", 5) == 0) {
			st = &psi.some;
			bit = MS_PSI_SOME;
		} else if (llen > 5 && memcmp(line, "full ", 5) == 0) {
			st = &psi.full;
			bit = MS_PSI_FULL;
		} else {
			char ex[96];

			ms_err(ctx, "pressure: line %u is neither 'some' nor 'full': '%s'",
			       it.lineno, ms_line_excerpt(ex, sizeof(ex), line, llen));
			return -EBADMSG;
		}
		if (psi.present & bit) {
			ms_err(ctx, "pressure: line %u repeats a line", it.lineno);
			return -EBADMSG;
		}
		r = psi_parse_line(ctx, it.lineno, line, llen, st);
		if (r < 0)
			return r;
		psi.present |= bit;
	}
	if (!(psi.present & MS_PSI_SOME)) {
		ms_err(ctx, "pressure: no 'some' line");
		return -EBADMSG;
	}
	*out = psi;
	return 0;
}

/* Path of the pressure file: /proc/pressure/memory or the cgroup's. */
static int psi_path(struct ms_ctx *ctx, const char *cgroup, char *buf, size_t size)
{
	int r;

	if (!cgroup) {
		ms_strlcpy(buf, "proc/pressure/memory", size);
		return 0;
	}
	r = ms_cgroup_path(buf, size, cgroup, "");
	if (r < 0)
		return r;
	if (!ms_path_exists(ctx, buf)) {
		ms_err(ctx, "cgroup %s: no such cgroup under %s/sys/fs/cgroup", cgroup,
		       ctx->log_root);
		return -ENOENT;
	}
	return ms_cgroup_path(buf, size, cgroup, "memory.pressure");
}

static int psi_missing(struct ms_ctx *ctx, const char *path, int err)
{
	if (err == -ENOENT || err == -EOPNOTSUPP) {
		if (strncmp(path, "proc/", 5) == 0)
			ms_err(ctx, "%s/%s: %s: PSI is not available (kernel without CONFIG_PSI, "
			       "or booted with psi=0)", ctx->log_root, path, strerror(-err));
		else
			ms_err(ctx, "%s/%s: %s: this cgroup has no memory pressure file (cgroup "
			       "v1, or the memory controller is not enabled for it)",
			       ctx->log_root, path, strerror(-err));
		return -EOPNOTSUPP;
	}
	return err;
}

MS_EXPORT int ms_psi_read(struct ms_ctx *ctx, const char *cgroup, struct ms_psi *out)
{
	char path[512], *buf;
	size_t len;
	int r;

	if (!ctx || !out)
		return -EINVAL;
	r = psi_path(ctx, cgroup, path, sizeof(path));
	if (r < 0)
		return r;
	r = ms_read_file(ctx, path, &buf, &len, 4096);
	if (r < 0)
		return psi_missing(ctx, path, r);
	r = ms_psi_parse(ctx, buf, len, out);
	free(buf);
	return r;
}

MS_EXPORT int ms_psi_trigger_open(struct ms_ctx *ctx, const char *cgroup, enum ms_psi_kind kind,
				  uint64_t stall_us, uint64_t window_us)
{
	char path[512], trig[64];
	ssize_t n;
	int fd, r, len;

	if (!ctx || (kind != MS_PSI_KIND_SOME && kind != MS_PSI_KIND_FULL))
		return -EINVAL;
	/* Kernel limits (psi_trigger_create): 500 ms <= window <= 10 s,
	 * 0 < threshold <= window. */
	if (window_us < 500000 || window_us > 10000000 || stall_us == 0 || stall_us > window_us) {
		ms_err(ctx, "PSI trigger: window must be 500000..10000000 us and the stall "
		       "threshold 1..window (got stall %llu us, window %llu us)",
		       (unsigned long long)stall_us, (unsigned long long)window_us);
		return -EINVAL;
	}
	r = psi_path(ctx, cgroup, path, sizeof(path));
	if (r < 0)
		return r;
	fd = ms_openat(ctx, path, O_RDWR | O_NONBLOCK);
	if (fd < 0)
		return psi_missing(ctx, path, fd);
	/* A trigger needs the kernel's file, not a copy in a captured tree. */
	{
		struct statfs sfs;

		if (fstatfs(fd, &sfs) < 0 || (sfs.f_type != PROC_SUPER_MAGIC &&
					      sfs.f_type != CGROUP2_SUPER_MAGIC)) {
			ms_err(ctx, "%s/%s: not procfs or cgroup2: PSI triggers need the live "
			       "kernel's pressure file", ctx->log_root, path);
			close(fd);
			return -EOPNOTSUPP;
		}
	}
	len = snprintf(trig, sizeof(trig), "%s %llu %llu", kind == MS_PSI_KIND_SOME ? "some" : "full",
		       (unsigned long long)stall_us, (unsigned long long)window_us);
	/* The kernel wants the terminating NUL too. */
	n = write(fd, trig, (size_t)len + 1);
	if (n < 0) {
		int err = -errno;

		close(fd);
		if (err == -EINVAL && window_us % 2000000 != 0)
			ms_err(ctx, "%s: the kernel refused trigger '%s': without "
			       "CAP_SYS_RESOURCE the window must be a multiple of 2 s "
			       "(Linux 6.5+)", path, trig);
		else if (err == -EOPNOTSUPP)
			return psi_missing(ctx, path, err);
		else
			ms_err(ctx, "%s: trigger '%s': %s", path, trig, strerror(-err));
		return err;
	}
	return fd;
}
