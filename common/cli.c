/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>

#include "cli.h"

void cli_log_stderr(enum ms_log_level level, const char *msg, void *userdata)
{
	static const char *const names[] = {
		[MS_LOG_ERR] = "error", [MS_LOG_WARNING] = "warning", [MS_LOG_NOTICE] = "notice",
		[MS_LOG_INFO] = "info", [MS_LOG_DEBUG] = "debug",
	};
	const char *prog = userdata ? userdata : program_invocation_short_name;

	fprintf(stderr, "%s: %s: %s\n", prog,
		level >= MS_LOG_ERR && level <= MS_LOG_DEBUG ? names[level] : "log", msg);
}

/* Unit letter @c as a shift: K 10, M 20, G 30, T 40; 0 if @c is no unit. */
static unsigned unit_shift(char c)
{
	switch (c) {
	case 'k': case 'K':
		return 10;
	case 'm': case 'M':
		return 20;
	case 'g': case 'G':
		return 30;
	case 't': case 'T':
		return 40;
	default:
		return 0;
	}
}

/*
 * The decimal digits at *@s into *@v, and *@s past them: 0, -EINVAL (no
 * digit) or -ERANGE (more than UINT64_MAX; *@s is still moved past them, so
 * that the caller can check what follows first).
 */
static int parse_digits(const char **s, uint64_t *v)
{
	const char *p = *s;
	bool over = false;

	*v = 0;
	for (; *p >= '0' && *p <= '9'; p++)
		over = over || __builtin_mul_overflow(*v, 10u, v) ||
		       __builtin_add_overflow(*v, (uint64_t)(*p - '0'), v);
	if (p == *s)
		return -EINVAL;
	*s = p;
	return over ? -ERANGE : 0;
}

/*
 * floor(0.DIGITS x @mult) for the @n fraction digits at @digits, exactly:
 * multiply the decimal fraction by @mult from its last digit up, carrying
 * each position's tens into the one before (every partial sum stays below
 * 10 x @mult, so any number of digits is fine for @mult <= 2^40).
 */
static uint64_t fraction_bytes(const char *digits, size_t n, uint64_t mult)
{
	uint64_t carry = 0;

	while (n--)
		carry = ((uint64_t)(digits[n] - '0') * mult + carry) / 10;
	return carry;
}

int cli_parse_bytes(const char *s, uint64_t *out)
{
	const char *p = s, *frac = NULL;
	uint64_t v, mult = 1;
	size_t nfrac = 0;
	unsigned shift;
	int r;

	if (!s || !out)
		return -EINVAL;
	r = parse_digits(&p, &v);           /* -ERANGE: said once the syntax is known good */
	if (r == -EINVAL)
		return r;
	if (*p == '.') {
		frac = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		nfrac = (size_t)(p - frac);
		if (!nfrac)
			return -EINVAL;             /* "1." */
	}
	shift = unit_shift(*p);
	if (shift) {
		mult = 1ull << shift;
		p++;
		if (*p == 'i')                      /* "Ki", "KiB" */
			p++;
	} else if (frac) {
		return -EINVAL;                     /* "1.5", "1.5B": no fractional bytes */
	}
	if (*p == 'B' || *p == 'b')
		p++;
	if (*p)
		return -EINVAL;
	if (r < 0 || __builtin_mul_overflow(v, mult, &v) ||
	    __builtin_add_overflow(v, frac ? fraction_bytes(frac, nfrac, mult) : 0, &v))
		return -ERANGE;
	*out = v;
	return 0;
}

const char *cli_bytes_error(int err)
{
	return err == -ERANGE ? "too large (more than 18446744073709551615 bytes)"
			      : "not a size (e.g. 4096, 512B, 64K, 1.5G, 2GiB)";
}

int cli_parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int cli_parse_edges(const char *s, uint64_t *edges, size_t max)
{
	size_t n = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	for (;;) {
		unsigned long long v;
		char *end;

		if (*p < '0' || *p > '9' || n == max)
			return -EINVAL;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno || v == 0 || v > CLI_MAX_EDGE_MS || (n && v <= edges[n - 1]))
			return -EINVAL;
		edges[n++] = v;
		if (*end == '\0')
			break;
		if (*end != ',')
			return -EINVAL;
		p = end + 1;        /* "1," and "1,,2" are refused by the digit check */
	}
	return (int)n;
}

const char *cli_fmt_bytes(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = 0;

	if (bytes == MS_UNKNOWN) {
		snprintf(buf, size, "-");
		return buf;
	}
	while (v >= 1024.0 && u < 4) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, size, "%.1f %s", v, units[u]);
	return buf;
}

int cli_signalfd(void)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

enum ms_log_level cli_log_level(int verbose)
{
	return verbose <= 0 ? MS_LOG_NOTICE : verbose == 1 ? MS_LOG_INFO : MS_LOG_DEBUG;
}
