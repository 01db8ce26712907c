/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small helpers for the command-line programs (agents, memsharectl). */
#ifndef MS_CLI_H
#define MS_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <memshare/ctx.h>

/* Log callback printing "<prog>: <level>: msg" to stderr. */
void cli_log_stderr(enum ms_log_level level, const char *msg, void *userdata);

/*
 * cli_parse_bytes - a size in bytes: decimal digits, then optionally a unit
 * K, M, G or T (any case; powers of 1024) written alone or as "KB" or "KiB",
 * or a plain "B": "1048576", "512B", "256M", "2GiB".  With a unit, a
 * fraction is allowed and rounded down to whole bytes ("1.5G" = 1610612736,
 * "0.3K" = 307); without one it is refused (no fractional bytes).
 * Returns 0 (*@out set), -EINVAL (empty, negative, "+", spaces, a fraction
 * without a unit, another suffix) or -ERANGE (more than UINT64_MAX bytes);
 * *@out is left alone on error.
 */
int cli_parse_bytes(const char *s, uint64_t *out);

/* Why cli_parse_bytes() returned @err, for "--opt 'x': <this>" messages. */
const char *cli_bytes_error(int err);

/* Parse a decimal unsigned 32-bit number; -EINVAL if not one. */
int cli_parse_u32(const char *s, uint32_t *out);

/* Largest bin edge accepted on a command line: one year, in ms. */
#define CLI_MAX_EDGE_MS 31536000000ull

/* Parse "5000,30000,120000" into ascending edges (1..CLI_MAX_EDGE_MS);
 * returns the count or -EINVAL. */
int cli_parse_edges(const char *s, uint64_t *edges, size_t max);

/* "356.1 MiB"-style rendering of a byte count into buf. */
const char *cli_fmt_bytes(uint64_t bytes, char *buf, size_t size);

/* Block SIGINT/SIGTERM/SIGHUP and return a signalfd for them (or -errno). */
int cli_signalfd(void);

/* Log level from -v count: 0 = notice, 1 = info, 2+ = debug. */
enum ms_log_level cli_log_level(int verbose);

#endif
