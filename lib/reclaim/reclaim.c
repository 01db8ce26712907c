/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest-side reclaim executors, measured by the kernel's own counters:
 *  - cgroup v2 memory.reclaim (Documentation/admin-guide/cgroup-v2.rst,
 *    5.19+; "swappiness=" argument in newer kernels), measured by the
 *    cgroup's memory.stat file/anon/slab_reclaimable;
 *  - /proc/sys/vm/drop_caches = 2 (Documentation/admin-guide/sysctl/vm.rst),
 *    measured by /proc/meminfo SReclaimable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <memshare/probe.h>
#include <memshare/reclaim.h>

#include "../internal.h"
#include "../util/fileio.h"
#include "../util/parse.h"

#define CHUNK_MIN_BYTES (4ull << 20)

MS_EXPORT const char *ms_reclaim_method_name(enum ms_reclaim_method method)
{
	switch (method) {
	case MS_RECLAIM_METHOD_NONE:
		return "none";
	case MS_RECLAIM_METHOD_MEMCG:
		return "memory.reclaim";
	case MS_RECLAIM_METHOD_DROP_SLAB:
		return "drop_caches";
	}
	return "unknown";
}

MS_EXPORT int ms_reclaim_kinds_parse(const char *text)
{
	const char *p = text;
	int kinds = 0;

	if (!text || !*text)
		return -EINVAL;
	while (*p) {
		size_t n = strcspn(p, ",");

		if (ms_token_eq(p, n, "file"))
			kinds |= MS_RECLAIM_FILE;
		else if (ms_token_eq(p, n, "anon"))
			kinds |= MS_RECLAIM_ANON;
		else if (ms_token_eq(p, n, "slab"))
			kinds |= MS_RECLAIM_SLAB;
		else if (ms_token_eq(p, n, "all"))
			kinds |= MS_RECLAIM_ALL_KINDS;
		else
			return -EINVAL;
		p += n;
		/* A trailing comma is an empty item, like ",file" or "a,,b". */
		if (*p == ',' && !*++p)
			return -EINVAL;
	}
	return kinds;
}

static uint64_t drop(uint64_t before, uint64_t after)
{
	if (before == MS_UNKNOWN || after == MS_UNKNOWN || after >= before)
		return 0;
	return before - after;
}

struct memcg_counters {
	uint64_t file, anon, slab;
};

static int read_memcg_counters(struct ms_ctx *ctx, const char *memcg, struct memcg_counters *c)
{
	char path[600], *buf;
	size_t len;
	int r;

	r = ms_cgroup_path(path, sizeof(path), memcg, "memory.stat");
	if (r < 0)
		return r;
	r = ms_read_file(ctx, path, &buf, &len, 1 << 20);
	if (r < 0) {
		ms_err(ctx, "%s/%s: %s", ctx->log_root, path, strerror(-r));
		return r;
	}
	c->file = c->anon = c->slab = MS_UNKNOWN;
	if (ms_flat_keyed_get(buf, len, "file", &c->file) == -EBADMSG ||
	    ms_flat_keyed_get(buf, len, "anon", &c->anon) == -EBADMSG ||
	    ms_flat_keyed_get(buf, len, "slab_reclaimable", &c->slab) == -EBADMSG) {
		ms_err(ctx, "%s: malformed", path);
		r = -EBADMSG;
	}
	free(buf);
	return r;
}

static void result_init(struct ms_reclaim_result *res, uint64_t bytes)
{
	memset(res, 0, sizeof(*res));
	res->requested_bytes = bytes;
}

static void result_sum(struct ms_reclaim_result *res)
{
	res->freed_bytes = res->freed_file_bytes + res->freed_anon_bytes + res->freed_slab_bytes;
}

/* One memory.reclaim write; EINVAL on the swappiness argument retried as
 * described in reclaim.h. */
static int memcg_write(struct ms_ctx *ctx, const char *path, uint64_t bytes, uint32_t kinds,
		       bool *swappiness_ok)
{
	char arg[64];
	int r;

	if (*swappiness_ok && kinds == MS_RECLAIM_FILE)
		snprintf(arg, sizeof(arg), "%llu swappiness=0", (unsigned long long)bytes);
	else if (*swappiness_ok && kinds == MS_RECLAIM_ANON)
		snprintf(arg, sizeof(arg), "%llu swappiness=200", (unsigned long long)bytes);
	else
		snprintf(arg, sizeof(arg), "%llu", (unsigned long long)bytes);
	r = ms_write_file(ctx, path, arg);
	if (r == -EINVAL && *swappiness_ok && strchr(arg, '=')) {
		struct ms_meminfo mi;

		*swappiness_ok = false;
		if (kinds == MS_RECLAIM_ANON) {
			ms_err(ctx, "%s: this kernel does not accept 'swappiness=' (added in "
			       "Linux 6.10): anon-only reclaim is not possible", path);
			return -EOPNOTSUPP;
		}
		if (ms_meminfo_read(ctx, &mi) < 0 || mi.swap_total_bytes == MS_UNKNOWN ||
		    mi.swap_total_bytes != 0) {
			ms_err(ctx, "%s: this kernel does not accept 'swappiness=' and swap is "
			       "on: file-only reclaim is not possible", path);
			return -EOPNOTSUPP;
		}
		ms_dbg(ctx, "%s: no 'swappiness=' support; no swap, so plain reclaim is "
		       "file-only", path);
		snprintf(arg, sizeof(arg), "%llu", (unsigned long long)bytes);
		r = ms_write_file(ctx, path, arg);
	}
	return r;
}

MS_EXPORT int ms_reclaim_memcg(struct ms_ctx *ctx, const struct ms_reclaim_opts *opts,
			       struct ms_reclaim_result *res)
{
	uint64_t bytes, done = 0, chunk, start, deadline_us, floor;
	struct memcg_counters before, after;
	const char *memcg;
	uint32_t kinds;
	char dir[600], path[600];
	bool swappiness_ok = true;
	int r, status = 0;

	if (!ctx || !res || !opts || !MS_OPTS_VALID(opts, ms_reclaim_opts))
		return -EINVAL;
	bytes = MS_OPTS_GET(opts, ms_reclaim_opts, bytes, 0);
	kinds = MS_OPTS_GET(opts, ms_reclaim_opts, kinds, 0);
	memcg = MS_OPTS_GET(opts, ms_reclaim_opts, memcg, NULL);
	deadline_us = (uint64_t)MS_OPTS_GET(opts, ms_reclaim_opts, deadline_ms, 0) * 1000u;
	floor = MS_OPTS_GET(opts, ms_reclaim_opts, floor_bytes, 0);
	result_init(res, bytes);
	if (kinds == 0)
		kinds = MS_RECLAIM_FILE;
	if (bytes == 0 || (kinds & ~MS_RECLAIM_ALL_KINDS) || !(kinds & (MS_RECLAIM_FILE | MS_RECLAIM_ANON))) {
		ms_err(ctx, "memory.reclaim: need bytes > 0 and kind file and/or anon");
		res->status = -EINVAL;
		return -EINVAL;
	}
	if ((r = ms_cgroup_path(dir, sizeof(dir), memcg, "")) < 0 ||
	    (r = ms_cgroup_path(path, sizeof(path), memcg, "memory.reclaim")) < 0)
		goto fail;
	if (!ms_path_exists(ctx, dir)) {
		ms_err(ctx, "memory.reclaim: no cgroup %s under %s/sys/fs/cgroup",
		       memcg ? memcg : "/", ctx->log_root);
		r = -ENOENT;
		goto fail;
	}
	if (!ms_path_exists(ctx, path)) {
		ms_err(ctx, "memory.reclaim: %s/%s is missing (needs cgroup v2 with the memory "
		       "controller, Linux 5.19+)", ctx->log_root, path);
		r = -EOPNOTSUPP;
		goto fail;
	}
	r = read_memcg_counters(ctx, memcg, &before);
	if (r < 0)
		goto fail;

	/* The floor: never ask for page cache below floor_bytes. */
	if (floor && (kinds & MS_RECLAIM_FILE) && !(kinds & MS_RECLAIM_ANON)) {
		uint64_t file = before.file == MS_UNKNOWN ? 0 : before.file;
		uint64_t allowed = file > floor ? file - floor : 0;

		if (bytes > allowed) {
			res->capped_bytes = bytes - allowed;
			ms_info(ctx, "memory.reclaim: %llu of %llu bytes capped: page cache %llu, "
				"floor %llu", (unsigned long long)res->capped_bytes,
				(unsigned long long)bytes, (unsigned long long)file,
				(unsigned long long)floor);
			bytes = allowed;
		}
		if (!bytes) {
			res->status = 0;
			return 0;
		}
	}

	res->method = 1u << MS_RECLAIM_METHOD_MEMCG;
	chunk = MS_MAX(bytes / 4, CHUNK_MIN_BYTES);
	start = ms_now_us();
	while (done < bytes) {
		uint64_t n = MS_MIN(chunk, bytes - done);

		if (deadline_us && ms_now_us() - start >= deadline_us) {
			status = -ETIMEDOUT;
			break;
		}
		r = memcg_write(ctx, path, n, kinds & (MS_RECLAIM_FILE | MS_RECLAIM_ANON),
				&swappiness_ok);
		if (r == -EAGAIN) {
			status = -EAGAIN;  /* the kernel found less to take */
			break;
		}
		if (r < 0) {
			if (r != -EOPNOTSUPP)
				ms_err(ctx, "%s/%s: %s", ctx->log_root, path, strerror(-r));
			res->duration_us = ms_now_us() - start;
			goto fail;
		}
		done += n;
	}
	res->duration_us = ms_now_us() - start;
	r = read_memcg_counters(ctx, memcg, &after);
	if (r < 0)
		goto fail;
	res->freed_file_bytes = drop(before.file, after.file);
	res->freed_anon_bytes = drop(before.anon, after.anon);
	res->freed_slab_bytes = drop(before.slab, after.slab);
	result_sum(res);
	res->status = status;
	return 0;
fail:
	res->status = r;
	return r;
}

/*
 * /proc/meminfo sums the global counters without the per-CPU deltas, which
 * are folded in only every vm.stat_interval (1 s).  Writing
 * /proc/sys/vm/stat_refresh (4.4+, root) folds them now.  Best effort: it
 * is absent in captured trees and old kernels.
 */
static void vmstat_refresh(struct ms_ctx *ctx)
{
	int r = ms_write_file(ctx, "proc/sys/vm/stat_refresh", "1");

	if (r < 0 && r != -ENOENT)
		ms_dbg(ctx, "%s/proc/sys/vm/stat_refresh: %s", ctx->log_root, strerror(-r));
}

/*
 * Dentries and inodes are freed after an RCU grace period (call_rcu), so
 * SReclaimable falls only some ms after drop_caches returns (5-20 ms on an
 * idle 2-CPU VM running 6.18; read at once it has not moved).  On the
 * running system, sample it every SLAB_SETTLE_STEP_US until it has not
 * fallen for SLAB_SETTLE_STABLE samples, for at most SLAB_SETTLE_MAX_US,
 * and keep the lowest.
 */
#define SLAB_SETTLE_STEP_US 5000u
#define SLAB_SETTLE_STABLE 4
#define SLAB_SETTLE_MAX_US 200000u

static int read_sreclaimable_settled(struct ms_ctx *ctx, uint64_t *out)
{
	struct ms_meminfo mi;
	uint64_t start = ms_now_us(), low;
	int r, stable = 0;

	vmstat_refresh(ctx);
	r = ms_meminfo_read(ctx, &mi);
	if (r < 0)
		return r;
	low = mi.sreclaimable_bytes;
	while (ctx->is_live && low != MS_UNKNOWN && stable < SLAB_SETTLE_STABLE &&
	       ms_now_us() - start < SLAB_SETTLE_MAX_US) {
		struct timespec ts = { .tv_nsec = SLAB_SETTLE_STEP_US * 1000l };

		nanosleep(&ts, NULL);
		vmstat_refresh(ctx);
		r = ms_meminfo_read(ctx, &mi);
		if (r < 0)
			return r;
		if (mi.sreclaimable_bytes < low) {
			low = mi.sreclaimable_bytes;
			stable = 0;
		} else {
			stable++;
		}
	}
	*out = low;
	return 0;
}

MS_EXPORT int ms_reclaim_slab(struct ms_ctx *ctx, struct ms_reclaim_result *res)
{
	struct ms_meminfo before;
	uint64_t start, after;
	int r;

	if (!ctx || !res)
		return -EINVAL;
	result_init(res, 0);
	vmstat_refresh(ctx);
	r = ms_meminfo_read(ctx, &before);
	if (r < 0)
		goto out;
	start = ms_now_us();
	r = ms_write_file(ctx, "proc/sys/vm/drop_caches", "2");
	res->duration_us = ms_now_us() - start;
	if (r < 0) {
		ms_err(ctx, "%s/proc/sys/vm/drop_caches: %s%s", ctx->log_root, strerror(-r),
		       r == -EACCES || r == -EPERM ? " (needs CAP_SYS_ADMIN)" :
		       r == -ENOENT ? ": slab reclaim is not possible here (no sysctl)" : "");
		/* No drop_caches: this machine cannot reclaim slab. */
		if (r == -ENOENT)
			r = -EOPNOTSUPP;
		goto out;
	}
	res->method = 1u << MS_RECLAIM_METHOD_DROP_SLAB;
	r = read_sreclaimable_settled(ctx, &after);
	if (r < 0)
		goto out;
	res->freed_slab_bytes = drop(before.sreclaimable_bytes, after);
	result_sum(res);
out:
	res->status = r;
	return r;
}

/* The first real failure wins over -EAGAIN ("less than asked"). */
static int merge_status(int a, int b)
{
	if (a && a != -EAGAIN)
		return a;
	if (b && b != -EAGAIN)
		return b;
	return a ? a : b;
}

MS_EXPORT int ms_reclaim_run(struct ms_ctx *ctx, const struct ms_reclaim_opts *opts,
			     struct ms_reclaim_result *res)
{
	struct ms_reclaim_result part;
	uint32_t kinds;
	uint64_t bytes;
	int status = 0;

	if (!ctx || !res || !opts || !MS_OPTS_VALID(opts, ms_reclaim_opts)) {
		if (res) {
			memset(res, 0, sizeof(*res));
			res->status = -EINVAL;
		}
		return -EINVAL;
	}
	kinds = MS_OPTS_GET(opts, ms_reclaim_opts, kinds, 0);
	bytes = MS_OPTS_GET(opts, ms_reclaim_opts, bytes, 0);
	if (kinds == 0)
		kinds = MS_RECLAIM_FILE | MS_RECLAIM_SLAB;
	result_init(res, bytes);
	if (kinds & ~MS_RECLAIM_ALL_KINDS) {
		res->status = -EINVAL;
		return -EINVAL;
	}
	if (kinds & MS_RECLAIM_SLAB) {
		ms_reclaim_slab(ctx, &part);
		status = part.status;
		res->method |= part.method;
		res->freed_slab_bytes += part.freed_slab_bytes;
		res->duration_us += part.duration_us;
	}
	if (kinds & (MS_RECLAIM_FILE | MS_RECLAIM_ANON)) {
		MS_OPTS(ms_reclaim_opts, mo,
			.bytes = bytes,
			.kinds = kinds & (MS_RECLAIM_FILE | MS_RECLAIM_ANON),
			.memcg = MS_OPTS_GET(opts, ms_reclaim_opts, memcg, NULL),
			.deadline_ms = MS_OPTS_GET(opts, ms_reclaim_opts, deadline_ms, 0),
			.floor_bytes = MS_OPTS_GET(opts, ms_reclaim_opts, floor_bytes, 0));

		ms_reclaim_memcg(ctx, &mo, &part);
		status = merge_status(status, part.status);
		res->method |= part.method;
		res->freed_file_bytes += part.freed_file_bytes;
		res->freed_anon_bytes += part.freed_anon_bytes;
		res->freed_slab_bytes += part.freed_slab_bytes;
		res->duration_us += part.duration_us;
		res->capped_bytes = part.capped_bytes;
	}
	result_sum(res);
	res->status = status;
	return status;
}
