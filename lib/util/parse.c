/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "parse.h"

void ms_lines_init(struct ms_lines *it, const char *buf, size_t len)
{
	it->p = buf;
	it->end = buf + len;
	it->lineno = 0;
}

bool ms_lines_next(struct ms_lines *it, const char **line, size_t *len)
{
	const char *nl;

	if (it->p >= it->end)
		return false;
	nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
	*line = it->p;
	*len = (size_t)((nl ? nl : it->end) - it->p);
	it->p = nl ? nl + 1 : it->end;
	it->lineno++;
	return true;
}

int ms_parse_u64(const char **s, const char *end, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;

	if (p >= end || *p < '0' || *p > '9')
		return -EBADMSG;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*s = p;
	*out = v;
	return 0;
}

int ms_parse_udouble(const char **s, const char *end, double *out)
{
	const char *p = *s;
	uint64_t ip, fp = 0;
	double scale = 1.0;
	int r;

	r = ms_parse_u64(&p, end, &ip);
	if (r < 0)
		return r;
	if (p < end && *p == '.') {
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return -EBADMSG;
		/* Keep at most 9 fractional digits; PSI prints 2. */
		for (int n = 0; p < end && *p >= '0' && *p <= '9'; p++, n++) {
			if (n < 9) {
				fp = fp * 10 + (uint64_t)(*p - '0');
				scale *= 10.0;
			}
		}
	}
	*out = (double)ip + (double)fp / scale;
	*s = p;
	return 0;
}

const char *ms_skip_blanks(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

int ms_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	if (__builtin_mul_overflow(a, b, out))
		return -ERANGE;
	return 0;
}

bool ms_token_eq(const char *s, size_t len, const char *kw)
{
	return strlen(kw) == len && memcmp(s, kw, len) == 0;
}

const char *ms_line_excerpt(char *buf, size_t size, const char *line, size_t len)
{
	size_t n = 0;

	if (!size)
		return "";
	for (size_t i = 0; i < len && n + 1 < size && i < 80; i++)
		buf[n++] = (line[i] >= 0x20 && line[i] < 0x7f) ? line[i] : '?';
	buf[n] = '\0';
	return buf;
}

int ms_flat_keyed_get(const char *buf, size_t len, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);
	struct ms_lines it;
	const char *line;
	size_t llen;

	ms_lines_init(&it, buf, len);
	while (ms_lines_next(&it, &line, &llen)) {
		const char *p;
		int r;

		if (llen <= kl || memcmp(line, key, kl) != 0 || line[kl] != ' ')
			continue;
		p = line + kl + 1;
		r = ms_parse_u64(&p, line + llen, out);
		if (r < 0)
			return r;
		return p == line + llen ? 0 : -EBADMSG;
	}
	return -ENOENT;
}
