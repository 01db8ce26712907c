/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Strict little parsers for kernel text files. */
#ifndef MS_PARSE_H
#define MS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Iterate over the lines of a buffer (the last may lack '\n'). */
struct ms_lines {
	const char *p;
	const char *end;
	unsigned lineno;       /* 1-based number of the line last returned */
};

void ms_lines_init(struct ms_lines *it, const char *buf, size_t len);
/* Next line (without '\n') into *line and *len; false at the end. */
bool ms_lines_next(struct ms_lines *it, const char **line, size_t *len);

/*
 * Parse an unsigned decimal at *s (no sign, no leading spaces), advancing
 * *s past the digits.  0, -EBADMSG (no digit) or -ERANGE (overflow).
 */
int ms_parse_u64(const char **s, const char *end, uint64_t *out);

/* Parse a non-negative decimal with an optional fraction ("40.11").  */
int ms_parse_udouble(const char **s, const char *end, double *out);

/* Skip spaces and tabs. */
const char *ms_skip_blanks(const char *s, const char *end);

/* a * b, or -ERANGE on overflow. */
int ms_mul_u64(uint64_t a, uint64_t b, uint64_t *out);

/* Compare a token [s, s+len) with a NUL-terminated keyword. */
bool ms_token_eq(const char *s, size_t len, const char *kw);

/* Print a line safely for a log message (at most 80 chars, no control
 * characters) into buf. */
const char *ms_line_excerpt(char *buf, size_t size, const char *line, size_t len);



/*
 * Value of @key in a flat keyed file ("key value" per line: memory.stat,
 * vmstat).  0 and *out set; -ENOENT if the key is absent; -EBADMSG if its
 * line is malformed; -ERANGE.
 */
int ms_flat_keyed_get(const char *buf, size_t len, const char *key, uint64_t *out);
#endif
