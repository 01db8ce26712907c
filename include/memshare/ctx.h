/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The measuring context: where /proc and /sys are, and where diagnostics go.
 */
#ifndef MEMSHARE_CTX_H
#define MEMSHARE_CTX_H

#include <memshare/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Log levels: the syslog(3) priorities of the same names. */
enum ms_log_level {
	MS_LOG_ERR = 3,
	MS_LOG_WARNING = 4,
	MS_LOG_NOTICE = 5,
	MS_LOG_INFO = 6,
	MS_LOG_DEBUG = 7,
};

/*
 * Log callback.  @msg is one line without a trailing newline, valid only
 * for the duration of the call.  The library never prints on its own; with
 * no callback, diagnostics are dropped.
 */
typedef void (*ms_log_fn)(enum ms_log_level level, const char *msg, void *userdata);

struct ms_ctx_opts {
	size_t sz;
	/*
	 * Filesystem root every /proc and /sys read (and write) goes through.
	 * NULL or "/" is the running system; a directory holding a captured
	 * tree (proc/meminfo, sys/devices/system/node/...) makes every probe
	 * read that capture instead.
	 */
	const char *sysroot;
	/* Diagnostics sink; NULL drops them. */
	ms_log_fn log_fn;
	void *log_userdata;
	/* Most verbose level passed to log_fn; 0 means MS_LOG_INFO. */
	enum ms_log_level log_level;
	/* Page size of the kernel whose files are read, in bytes, to convert
	 * page counts (vmstat, lru_gen); 0 = this machine's.  Set it when a
	 * sysroot holds a capture from a machine with another page size. */
	uint64_t page_size_bytes;
	size_t :0;
};

struct ms_ctx;

/*
 * ms_ctx_new - create a measuring context.
 * @out:  receives the new context; set only on success.
 * @opts: may be NULL for the defaults (running system, no logging).
 *
 * Opens @opts->sysroot as a directory; all later reads are relative to it.
 *
 * Returns 0, or -EINVAL (@out NULL, @opts with unknown non-zero trailing
 * fields, or a page size that is not a power of two), -ENOENT / -ENOTDIR /
 * -EACCES (sysroot not usable), -ENOMEM.
 */
int ms_ctx_new(struct ms_ctx **out, const struct ms_ctx_opts *opts);

/* ms_ctx_free - release a context.  NULL is a no-op. */
void ms_ctx_free(struct ms_ctx *ctx);

/* ms_ctx_get_sysroot - the root directory this context reads ("/" if none). */
const char *ms_ctx_get_sysroot(const struct ms_ctx *ctx);

/*
 * ms_ctx_get_page_size - the page size in bytes used to convert kernel page
 * counts: the page_size_bytes option, else sysconf(_SC_PAGESIZE).
 */
uint64_t ms_ctx_get_page_size(const struct ms_ctx *ctx);

/*
 * ms_ctx_log - pass a message to the context's log callback (if its level
 * is enabled).  For code built on libmemshare (libmemshare-libvirt, agents)
 * that logs through the same sink.  NULL @ctx is a no-op.
 */
void ms_ctx_log(struct ms_ctx *ctx, enum ms_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif
