/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How long does a guest take to build and encode one Report?  The report
 * path runs every interval in every guest, so this is its cost.
 *
 * Baseline, measured in the same run: reading the same kernel files raw
 * (open/read/close of /proc/pressure/memory, /proc/meminfo, /proc/vmstat and
 * the LRU source's files) without parsing.  Ratio = build / baseline shows
 * what parsing and binning add over the unavoidable kernel reads.
 *
 *   bench-report-build [SYSROOT] [ITERATIONS]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <memshare/memshare.h>

#include "proto/codec.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t slurp(const char *root, const char *rel)
{
	static char buf[1 << 20];
	char path[4096];
	size_t total = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	close(fd);
	return total;
}

int main(int argc, char **argv)
{
	const char *root = argc > 1 ? argv[1] : "/";
	long iters = argc > 2 ? strtol(argv[2], NULL, 10) : 2000;
	MS_OPTS(ms_ctx_opts, co, .sysroot = root);
	struct ms_ctx *ctx;
	struct ms_report rep;
	double t0, t_base, t_build, t_encode;
	size_t frame_len = 0, sink = 0;
	const char *lru_files[3];
	int nlru = 0, r;

	if (iters < 1)
		iters = 1;
	r = ms_ctx_new(&ctx, &co);
	if (r < 0) {
		fprintf(stderr, "ms_ctx_new(%s): %s\n", root, strerror(-r));
		return 1;
	}
	r = ms_guest_build_report(ctx, NULL, &rep);
	if (r < 0) {
		fprintf(stderr, "build report: %s\n", strerror(-r));
		return 1;
	}
	if (rep.lru && rep.lru->source == MS_LRU_SOURCE_MGLRU) {
		lru_files[nlru++] = "sys/kernel/mm/lru_gen/enabled";
		lru_files[nlru++] = "sys/kernel/debug/lru_gen";
	}
	lru_files[nlru++] = "sys/devices/system/node/node0/meminfo";
	printf("sysroot %s, LRU source %s, %ld iterations\n", root,
	       rep.lru ? ms_lru_source_name(rep.lru->source) : "none", iters);
	ms_report_clear(&rep);

	t0 = now_s();
	for (long i = 0; i < iters; i++) {
		sink += slurp(root, "proc/pressure/memory");
		sink += slurp(root, "proc/meminfo");
		sink += slurp(root, "proc/vmstat");
		for (int j = 0; j < nlru; j++)
			sink += slurp(root, lru_files[j]);
	}
	t_base = (now_s() - t0) / (double)iters;

	t0 = now_s();
	for (long i = 0; i < iters; i++) {
		r = ms_guest_build_report(ctx, NULL, &rep);
		if (r < 0) {
			fprintf(stderr, "build report: %s\n", strerror(-r));
			return 1;
		}
		ms_report_clear(&rep);
	}
	t_build = (now_s() - t0) / (double)iters;

	ms_guest_build_report(ctx, NULL, &rep);
	t0 = now_s();
	for (long i = 0; i < iters; i++) {
		struct ms_msg m = { .type = MS_MSG_REPORT, .version = 1, .seq = (uint64_t)i + 1 };
		uint8_t *frame;

		m.u.report = rep;
		if (ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &frame, &frame_len) < 0)
			return 1;
		free(frame);
	}
	t_encode = (now_s() - t0) / (double)iters;
	ms_report_clear(&rep);

	printf("raw read of the same files (baseline): %8.1f us/report\n", t_base * 1e6);
	printf("ms_guest_build_report:                 %8.1f us/report  (%.2fx baseline)\n",
	       t_build * 1e6, t_build / t_base);
	printf("encode + frame (%zu bytes):            %8.1f us/report  (%.2fx baseline)\n",
	       frame_len, t_encode * 1e6, t_encode / t_base);
	printf("total per report:                      %8.1f us = %.4f%% of one CPU at 1 report/s\n",
	       (t_build + t_encode) * 1e6, (t_build + t_encode) * 100.0);
	ms_ctx_free(ctx);
	return sink == 0;
}
