/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemshare: common definitions shared by every public header.
 *
 * Conventions (see DESIGN.md section 3):
 *  - functions return 0 (or a positive count) on success and a negative
 *    errno on failure; they never exit() and never print;
 *  - options structs start with `size_t sz`, filled in by MS_OPTS(), so
 *    they can grow without breaking the ABI;
 *  - counters the kernel did not provide are MS_UNKNOWN, never 0;
 *  - handles are not thread-safe: use one per thread or lock outside.
 */
#ifndef MEMSHARE_COMMON_H
#define MEMSHARE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MS_VERSION_MAJOR 0
#define MS_VERSION_MINOR 1
#define MS_VERSION_PATCH 0

/* Value of a uint64_t figure the kernel (or the peer) did not provide. */
#define MS_UNKNOWN UINT64_MAX

/*
 * Declare and initialise an options struct:
 *   MS_OPTS(ms_ctx_opts, opts, .sysroot = "/tmp/capture");
 * declares `struct ms_ctx_opts opts` with .sz set and all other fields 0.
 */
#define MS_OPTS(TYPE, NAME, ...)                                   \
	struct TYPE NAME = ({                                      \
		memset(&NAME, 0, sizeof(struct TYPE));             \
		(struct TYPE){ .sz = sizeof(struct TYPE), __VA_ARGS__ }; \
	})

/*
 * ms_version - the library's version string, e.g. "0.1.0".
 * Never NULL; static storage.
 */
const char *ms_version(void);

#ifdef __cplusplus
}
#endif
#endif
