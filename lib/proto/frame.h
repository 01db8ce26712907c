/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Streaming frame decoder: bytes in (any split, partial reads), complete
 * frames out.  Frame = 4-byte big-endian payload length + payload.
 */
#ifndef MS_FRAME_H
#define MS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define MS_FRAME_HEADER_BYTES 4

struct ms_frame_decoder {
	uint8_t *buf;
	size_t len;        /* bytes held */
	size_t off;        /* start of the first unconsumed byte */
	size_t cap;
	uint32_t max_frame;/* largest frame (header + payload) accepted */
};

void ms_frame_decoder_init(struct ms_frame_decoder *d, uint32_t max_frame);
void ms_frame_decoder_release(struct ms_frame_decoder *d);

/*
 * Room to read into: returns a pointer and sets *room (> 0) to how many
 * bytes may be written there; then call ms_frame_decoder_commit().
 * NULL on ENOMEM.
 */
uint8_t *ms_frame_decoder_space(struct ms_frame_decoder *d, size_t *room);
void ms_frame_decoder_commit(struct ms_frame_decoder *d, size_t n);

/*
 * Copy @n bytes in (for tests and fuzzing).  0, -ENOMEM, or -ENOBUFS when
 * the decoder already holds one maximal frame plus 4 KiB: the bytes that
 * fitted were taken, drain frames with ms_frame_decoder_next() first.
 */
int ms_frame_decoder_push(struct ms_frame_decoder *d, const void *data, size_t n);

/*
 * Next complete frame: 1 and *payload and *len (valid until the next call on
 * @d), 0 if more bytes are needed, -EMSGSIZE if the announced frame is
 * larger than max_frame (the stream cannot be resynchronised: drop it).
 */
int ms_frame_decoder_next(struct ms_frame_decoder *d, const uint8_t **payload, size_t *len);

/* Bytes held that do not yet form a frame. */
size_t ms_frame_decoder_pending(const struct ms_frame_decoder *d);

#endif
