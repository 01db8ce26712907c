/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

MS_EXPORT const char *ms_version(void)
{
	return MS_PACKAGE_VERSION;
}

bool ms_opts_valid(const void *opts, size_t known_sz)
{
	size_t sz;

	memcpy(&sz, opts, sizeof(sz));
	if (sz < sizeof(size_t))
		return false;
	/* A newer caller may pass a bigger struct: fine if the fields this
	 * build does not know about are all zero. */
	for (size_t i = known_sz; i < sz; i++)
		if (((const unsigned char *)opts)[i] != 0)
			return false;
	return true;
}

uint64_t ms_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void ms_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n;

	if (!size)
		return;
	n = src ? strnlen(src, size - 1) : 0;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

void ms_logv(struct ms_ctx *ctx, int level, const char *fmt, va_list ap)
{
	char msg[512];

	if (!ctx || !ctx->log_fn || level > ctx->log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	ctx->log_fn((enum ms_log_level)level, msg, ctx->log_userdata);
}

void ms_log(struct ms_ctx *ctx, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ms_logv(ctx, level, fmt, ap);
	va_end(ap);
}

MS_EXPORT void ms_ctx_log(struct ms_ctx *ctx, enum ms_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ms_logv(ctx, (int)level, fmt, ap);
	va_end(ap);
}

MS_EXPORT int ms_ctx_new(struct ms_ctx **out, const struct ms_ctx_opts *opts)
{
	const char *root;
	struct ms_ctx *ctx;
	long ps;

	if (!out || !MS_OPTS_VALID(opts, ms_ctx_opts))
		return -EINVAL;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->log_fn = MS_OPTS_GET(opts, ms_ctx_opts, log_fn, NULL);
	ctx->log_userdata = MS_OPTS_GET(opts, ms_ctx_opts, log_userdata, NULL);
	ctx->log_level = MS_OPTS_GET(opts, ms_ctx_opts, log_level, 0);
	if (ctx->log_level == 0)
		ctx->log_level = MS_LOG_INFO;

	root = MS_OPTS_GET(opts, ms_ctx_opts, sysroot, NULL);
	if (!root || !*root)
		root = "/";
	ctx->sysroot = strdup(root);
	if (!ctx->sysroot) {
		free(ctx);
		return -ENOMEM;
	}
	ctx->rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ctx->rootfd < 0) {
		int err = -errno;

		ms_err(ctx, "sysroot %s: %s", root, strerror(-err));
		free(ctx->sysroot);
		free(ctx);
		return err;
	}
	ctx->is_live = strcmp(root, "/") == 0;
	ctx->log_root = ctx->is_live ? "" : ctx->sysroot;

	ctx->page_size = MS_OPTS_GET(opts, ms_ctx_opts, page_size_bytes, 0);
	if (ctx->page_size == 0) {
		ps = sysconf(_SC_PAGESIZE);
		ctx->page_size = ps > 0 ? (uint64_t)ps : 4096;
	} else if (ctx->page_size & (ctx->page_size - 1)) {
		ms_err(ctx, "page_size_bytes %llu is not a power of two",
		       (unsigned long long)ctx->page_size);
		close(ctx->rootfd);
		free(ctx->sysroot);
		free(ctx);
		return -EINVAL;
	}
	*out = ctx;
	return 0;
}

MS_EXPORT void ms_ctx_free(struct ms_ctx *ctx)
{
	if (!ctx)
		return;
	if (ctx->rootfd >= 0)
		close(ctx->rootfd);
	free(ctx->sysroot);
	free(ctx);
}

MS_EXPORT const char *ms_ctx_get_sysroot(const struct ms_ctx *ctx)
{
	return ctx ? ctx->sysroot : "/";
}

MS_EXPORT uint64_t ms_ctx_get_page_size(const struct ms_ctx *ctx)
{
	return ctx ? ctx->page_size : 4096;
}
