/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * common/cli.c: the command-line helpers of the agents, memsharectl and
 * memshare-sim.  Sizes (cli_parse_bytes: units, exact fractions, overflow,
 * junk), numbers and bin edges.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cli.h"
#include "testutil.h"

#define KIB 1024ull
#define MIB (1024ull * 1024ull)
#define GIB (1024ull * 1024ull * 1024ull)
#define TIB (1024ull * 1024ull * 1024ull * 1024ull)

/* cli_parse_bytes(@s) must give @want. */
static void bytes_ok(const char *s, uint64_t want)
{
	uint64_t v = 12345;
	int r = cli_parse_bytes(s, &v);

	ck_assert_msg(r == 0, "'%s': %d", s, r);
	ck_assert_msg(v == want, "'%s': %llu, want %llu", s, (unsigned long long)v,
		      (unsigned long long)want);
}

/* cli_parse_bytes(@s) must fail with @err, leaving the output alone. */
static void bytes_bad(const char *s, int err)
{
	uint64_t v = 12345;
	int r = cli_parse_bytes(s, &v);

	ck_assert_msg(r == err, "'%s': %d, want %d", s, r, err);
	ck_assert_msg(v == 12345, "'%s': output set on error", s);
}

START_TEST(bytes_units)
{
	bytes_ok("0", 0);
	bytes_ok("1048576", 1048576);
	bytes_ok("512B", 512);
	bytes_ok("512b", 512);
	bytes_ok("0B", 0);
	bytes_ok("512K", 512 * KIB);
	bytes_ok("512k", 512 * KIB);
	bytes_ok("512KB", 512 * KIB);
	bytes_ok("512KiB", 512 * KIB);
	bytes_ok("512Ki", 512 * KIB);
	bytes_ok("256M", 256 * MIB);
	bytes_ok("256MB", 256 * MIB);
	bytes_ok("256mb", 256 * MIB);
	bytes_ok("2GiB", 2 * GIB);
	bytes_ok("2g", 2 * GIB);
	bytes_ok("3T", 3 * TIB);
	bytes_ok("3TiB", 3 * TIB);
	bytes_ok("007M", 7 * MIB);
}
END_TEST

START_TEST(bytes_fractions)
{
	bytes_ok("1.5G", GIB + GIB / 2);
	bytes_ok("1.5KiB", 1536);
	bytes_ok("0.5M", MIB / 2);
	bytes_ok("2.0G", 2 * GIB);
	bytes_ok("0.25T", TIB / 4);
	/* Rounded down to whole bytes. */
	bytes_ok("0.3K", 307);                  /* 307.2 */
	bytes_ok("0.001K", 1);                  /* 1.024 */
	bytes_ok("0.0009K", 0);                 /* 0.9216 */
	bytes_ok("1.1M", 1153433);              /* 1153433.6 */
	/* Many digits: exact, no overflow of the fraction. */
	bytes_ok("1.99999999T", 2 * TIB - 10996);        /* 2 TiB - 10995.1 */
	bytes_ok("1.9999999999999999999999999999T", 2 * TIB - 1);
	bytes_ok("0.99999999999999999999999K", 1023);
	bytes_ok("0.50000000000000000000000000001K", 512);
	/* The largest sizes. */
	bytes_ok("18446744073709551615", UINT64_MAX);
	bytes_ok("18446744073709551615B", UINT64_MAX);
	bytes_ok("16777215.999999999999T", UINT64_MAX - 1);       /* - 1.0995 */
	/* (A fraction never overflows: it adds less than one unit to a
	 * multiple of the unit, and 2^64 is one too.) */
	bytes_ok("16777215.99999999999999999999T", UINT64_MAX);
	bytes_ok("17592186044415.9999999999M", UINT64_MAX);
}
END_TEST

START_TEST(bytes_refused)
{
	/* No fractional bytes. */
	bytes_bad("1.5", -EINVAL);
	bytes_bad("1.0", -EINVAL);
	bytes_bad("1.5B", -EINVAL);
	/* Not a number, or not only one. */
	bytes_bad("", -EINVAL);
	bytes_bad("-1", -EINVAL);
	bytes_bad("-1K", -EINVAL);
	bytes_bad("+1", -EINVAL);
	bytes_bad(" 1", -EINVAL);
	bytes_bad("1 ", -EINVAL);
	bytes_bad("1 K", -EINVAL);
	bytes_bad("K", -EINVAL);
	bytes_bad("B", -EINVAL);
	bytes_bad(".5K", -EINVAL);
	bytes_bad("1.K", -EINVAL);
	bytes_bad("1.", -EINVAL);
	bytes_bad("1..5K", -EINVAL);
	bytes_bad("1.5.K", -EINVAL);
	bytes_bad("0x10", -EINVAL);
	bytes_bad("1e3", -EINVAL);
	bytes_bad("1P", -EINVAL);
	bytes_bad("1KK", -EINVAL);
	bytes_bad("1KBB", -EINVAL);
	bytes_bad("1iB", -EINVAL);
	bytes_bad("1KIB", -EINVAL);
	bytes_bad("1Kx", -EINVAL);
	bytes_bad("12abc", -EINVAL);
	bytes_bad("nan", -EINVAL);
	bytes_bad("inf", -EINVAL);
	/* Syntax first: junk after too many digits is junk. */
	bytes_bad("99999999999999999999x", -EINVAL);
	bytes_bad(NULL, -EINVAL);
	ck_assert_int_eq(cli_parse_bytes("1", NULL), -EINVAL);
}
END_TEST

START_TEST(bytes_range)
{
	bytes_bad("18446744073709551616", -ERANGE);
	bytes_bad("18446744073709551616B", -ERANGE);
	bytes_bad("99999999999999999999", -ERANGE);
	bytes_bad("99999999999999999999999999999999999999K", -ERANGE);
	bytes_bad("16777216T", -ERANGE);
	bytes_bad("17179869184G", -ERANGE);
	bytes_bad("18014398509481984K", -ERANGE);
}
END_TEST

START_TEST(bytes_messages)
{
	ck_assert_ptr_nonnull(strstr(cli_bytes_error(-ERANGE), "too large"));
	ck_assert_ptr_nonnull(strstr(cli_bytes_error(-EINVAL), "not a size"));
}
END_TEST

START_TEST(u32_and_edges)
{
	uint64_t edges[4];
	uint32_t v = 7;

	ck_assert_int_eq(cli_parse_u32("4294967295", &v), 0);
	ck_assert_uint_eq(v, UINT32_MAX);
	ck_assert_int_eq(cli_parse_u32("4294967296", &v), -EINVAL);
	ck_assert_int_eq(cli_parse_u32("-1", &v), -EINVAL);
	ck_assert_int_eq(cli_parse_u32("", &v), -EINVAL);
	ck_assert_int_eq(cli_parse_edges("5000,30000", edges, 4), 2);
	ck_assert_uint_eq(edges[1], 30000);
	ck_assert_int_eq(cli_parse_edges("5000,5000", edges, 4), -EINVAL);
	ck_assert_int_eq(cli_parse_edges("1,2,3,4,5", edges, 4), -EINVAL);
}
END_TEST

static Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, bytes_units);
	tcase_add_test(tc, bytes_fractions);
	tcase_add_test(tc, bytes_refused);
	tcase_add_test(tc, bytes_range);
	tcase_add_test(tc, bytes_messages);
	tcase_add_test(tc, u32_and_edges);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(cli_suite());
}
