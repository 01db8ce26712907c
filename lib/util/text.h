/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Text from peers (names, versions, reasons): what may be kept, logged
 * and put into JSON.  Never installed.
 */
#ifndef MS_UTIL_TEXT_H
#define MS_UTIL_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Whether @s[0..@len) is valid UTF-8 (shortest forms only, no surrogates,
 * nothing above U+10FFFF) holding no control character: C0 (below 0x20),
 * DEL, or C1 (U+0080..U+009F, which 8-bit terminals take as escapes).
 */
bool ms_text_valid(const char *s, size_t len);

/* Replace in @s (NUL-terminated), byte by byte, whatever ms_text_valid()
 * would refuse with '?', keeping the valid characters around it. */
void ms_text_sanitize(char *s);

#endif
