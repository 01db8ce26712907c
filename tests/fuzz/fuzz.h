/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the fuzz targets (fuzz_frame.c, fuzz_host.c, fuzz_guest.c), their
 * replay driver (replay.c) and the corpus generator (gen_corpus.c) share.
 */
#ifndef MS_FUZZ_H
#define MS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* fuzz-guest flags; the low two bits are how the stream is cut (FH_CUT_*). */
#define FG_SERIAL     0x04   /* a virtio-serial port (a pty), not a unix socket */
#define FG_WELCOME    0x08   /* the harness answers each Hello with a Welcome
			      * (in reply to its seq) at the next frame boundary */
#define FG_RECONNECT  0x10   /* a guest that dropped the connection comes back
			      * (1 ms backoff); the stream goes on from its
			      * next frame on the new connection */
#define FG_LISTEN     0x20   /* unix: the guest listens, the harness connects */
#define FG_FREE       0x40   /* ms_guest_free() with the link up, rather than
			      * the host hanging up */
#define FG_STRANGER   0x80   /* unix: the guest trusts another uid than ours */

/*
 * Where the frame (or sync marker) at @off of the stream @p[0..@n) ends, as
 * a peer's decoder reads it: after the marker, after the length prefix and
 * its payload, or at @n when the rest is shorter than that.  Needs
 * MS_SYNC_MARKER and MS_FRAME_HEADER_BYTES (proto/frame.h) included first.
 */
#ifdef MS_FRAME_HEADER_BYTES
static inline size_t fuzz_frame_end(const uint8_t *p, size_t n, size_t off)
{
	size_t plen;

	if (n - off >= MS_SYNC_MARKER_BYTES &&
	    memcmp(p + off, MS_SYNC_MARKER, MS_SYNC_MARKER_BYTES) == 0)
		return off + MS_SYNC_MARKER_BYTES;
	if (n - off < MS_FRAME_HEADER_BYTES)
		return n;
	plen = (size_t)p[off] << 24 | (size_t)p[off + 1] << 16 | (size_t)p[off + 2] << 8 | p[off + 3];
	return plen > n - off - MS_FRAME_HEADER_BYTES ? n : off + MS_FRAME_HEADER_BYTES + plen;
}
#endif

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
