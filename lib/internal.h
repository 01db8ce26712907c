/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private definitions shared by the library's modules. Never installed. */
#ifndef MS_INTERNAL_H
#define MS_INTERNAL_H

#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memshare/ctx.h>

#define MS_EXPORT __attribute__((visibility("default")))

#define MS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MS_MAX(a, b) ((a) > (b) ? (a) : (b))
#define ms_offsetofend(TYPE, FIELD) (offsetof(TYPE, FIELD) + sizeof(((TYPE *)0)->FIELD))

struct ms_ctx {
	int rootfd;              /* O_PATH|O_DIRECTORY fd of the sysroot */
	char *sysroot;           /* as given, "/" by default */
	const char *log_root;    /* prefix for paths in messages: "" for "/" */
	bool is_live;            /* sysroot is the running system's "/" */
	ms_log_fn log_fn;
	void *log_userdata;
	int log_level;
	uint64_t page_size;
};

void ms_log(struct ms_ctx *ctx, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ms_logv(struct ms_ctx *ctx, int level, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#define ms_err(ctx, ...) ms_log(ctx, MS_LOG_ERR, __VA_ARGS__)
#define ms_warn(ctx, ...) ms_log(ctx, MS_LOG_WARNING, __VA_ARGS__)
#define ms_info(ctx, ...) ms_log(ctx, MS_LOG_INFO, __VA_ARGS__)
#define ms_dbg(ctx, ...) ms_log(ctx, MS_LOG_DEBUG, __VA_ARGS__)

/*
 * Options structs (libbpf style): valid when @sz covers at least the `sz`
 * field and any bytes beyond what this build knows are zero.
 */
bool ms_opts_valid(const void *opts, size_t known_sz);
#define MS_OPTS_VALID(opts, TYPE) \
	(!(opts) || ms_opts_valid((opts), sizeof(struct TYPE)))
#define MS_OPTS_HAS(opts, TYPE, FIELD) \
	((opts) && (opts)->sz >= ms_offsetofend(struct TYPE, FIELD))
#define MS_OPTS_GET(opts, TYPE, FIELD, FALLBACK) \
	(MS_OPTS_HAS(opts, TYPE, FIELD) ? (opts)->FIELD : (FALLBACK))

/* CLOCK_MONOTONIC in microseconds. */
uint64_t ms_now_us(void);

/* Copy a NUL-terminated string into a fixed buffer, always terminating. */
void ms_strlcpy(char *dst, const char *src, size_t size);

#endif
