/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Streaming frame decoder: bytes in (any split, partial reads), complete
 * frames out.  Frame = 4-byte big-endian payload length + payload.
 */
#ifndef MS_FRAME_H
#define MS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS_FRAME_HEADER_BYTES 4

/*
 * Streams without connection boundaries (virtio-serial) resynchronise on a
 * marker.  It starts with 0xff, which no frame header can (frames are under
 * 16 MiB: their first byte is 0x00 or 0x01), so at a frame boundary it is
 * unambiguous; elsewhere the decoder hunts for it and drops what precedes.
 */
#define MS_SYNC_MARKER "\xffMSSYNC\x01"
#define MS_SYNC_MARKER_BYTES 8

/* ms_frame_decoder_next(): a sync marker was read (sync mode only). */
#define MS_FRAME_SYNC 2

struct ms_frame_decoder {
	uint8_t *buf;
	size_t len;        /* bytes held */
	size_t off;        /* start of the first unconsumed byte */
	size_t cap;
	uint32_t max_frame;/* largest frame (header + payload) accepted */
	bool sync_mode;    /* markers may appear between frames */
	bool hunting;      /* dropping bytes until the next marker */
	uint64_t discarded;/* bytes dropped while hunting */
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
 * In sync mode: MS_FRAME_SYNC when a marker was read (the peer restarted
 * its session), and an oversized or 0xff-led header that is not a marker
 * makes the decoder hunt for the next marker instead of failing.
 */
int ms_frame_decoder_next(struct ms_frame_decoder *d, const uint8_t **payload, size_t *len);

/* Sync mode on or off (off by default). */
void ms_frame_decoder_set_sync(struct ms_frame_decoder *d, bool on);

/* Drop everything up to the next marker (sync mode: after garbage). */
void ms_frame_decoder_hunt(struct ms_frame_decoder *d);

/* Bytes held that do not yet form a frame. */
size_t ms_frame_decoder_pending(const struct ms_frame_decoder *d);

#endif
