/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the fuzz targets (fuzz_frame.c, fuzz_host.c), their replay driver
 * (replay.c) and the corpus generator (gen_corpus.c) share.
 */
#ifndef MS_FUZZ_H
#define MS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer's entry points.  Initialize is optional: libFuzzer and
 * replay.c call it once, before the first input, if it is defined. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* A property the code under test must keep: report and crash. */
#define FUZZ_CHECK(cond, ...)                                                   \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__,  \
				__LINE__, #cond);                               \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
			abort();                                                \
		}                                                               \
	} while (0)

/*
 * Every input starts with two control bytes, then the byte stream:
 *   [flags][seed][stream ...]
 * @seed drives the sizes of the writes the stream is cut into.
 */
#define FUZZ_HEADER_BYTES 2

/* fuzz-frame flags. */
#define FF_SYNC  0x01   /* decoder in sync mode (serial ports) */
#define FF_HUNT  0x02   /* ... and hunting for a marker from the start */
#define FF_SMALL 0x04   /* max_frame 128 rather than the 64 KiB default */
#define FF_PUSH  0x08   /* ms_frame_decoder_push() rather than space/commit */

/* fuzz-host flags; the low two bits are how the stream is cut. */
#define FH_CUT_MASK   0x03
#define FH_CUT_FRAMES 0x00   /* one write per frame (or sync marker) */
#define FH_CUT_SPLIT  0x01   /* each frame cut at random places */
#define FH_CUT_RANDOM 0x02   /* writes of random sizes */
#define FH_CUT_NONE   0x03   /* the whole stream in one write */
#define FH_SERIAL     0x04   /* a serial link (ms_host_connect "serial:"),
			      * not an accepted unix connection */
#define FH_RECLAIM    0x08   /* the host asks for a reclaim once ready */
#define FH_ANSWER     0x10   /* the harness answers it (a valid
			      * ReclaimResult) at the next frame boundary */
#define FH_HOST_BYE   0x20   /* ms_host_disconnect() after the stream */
#define FH_HALF_CLOSE 0x40   /* shutdown(SHUT_WR), read the answers, close */

/* xorshift32: the write sizes, from @seed. */
static inline uint32_t fuzz_rng(uint32_t *s)
{
	uint32_t x = *s ? *s : 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

#endif
