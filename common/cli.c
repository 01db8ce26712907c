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

int cli_parse_bytes(const char *s, uint64_t *out)
{
	unsigned long long v;
	uint64_t mult = 1, frac_num = 0, frac_den = 1;
	const char *p;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	/* An optional fraction, meaningful with a unit: "1.5G". */
	if (*end == '.') {
		for (p = end + 1; *p >= '0' && *p <= '9'; p++) {
			if (frac_den < 1000000000ull) {
				frac_num = frac_num * 10 + (uint64_t)(*p - '0');
				frac_den *= 10;
			}
		}
		if (p == end + 1)
			return -EINVAL;
		end = (char *)p;
	}
	if (*end) {
		switch (*end) {
		case 'k': case 'K':
			mult = 1ull << 10;
			break;
		case 'm': case 'M':
			mult = 1ull << 20;
			break;
		case 'g': case 'G':
			mult = 1ull << 30;
			break;
		case 't': case 'T':
			mult = 1ull << 40;
			break;
		default:
			return -EINVAL;
		}
		end++;
		/* Accept "M", "MB", "MiB". */
		if (*end == 'i')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end)
			return -EINVAL;
	}
	if (__builtin_mul_overflow((uint64_t)v, mult, out) ||
	    __builtin_add_overflow(*out, frac_num * mult / frac_den, out))
		return -ERANGE;
	return 0;
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
