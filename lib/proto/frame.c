/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

void ms_frame_decoder_init(struct ms_frame_decoder *d, uint32_t max_frame)
{
	memset(d, 0, sizeof(*d));
	d->max_frame = max_frame < MS_FRAME_HEADER_BYTES + 1 ? MS_FRAME_HEADER_BYTES + 1 : max_frame;
}

void ms_frame_decoder_release(struct ms_frame_decoder *d)
{
	free(d->buf);
	memset(d, 0, sizeof(*d));
}

/* Never hold more than one maximal frame plus a read's worth. */
static size_t hold_max(const struct ms_frame_decoder *d)
{
	return (size_t)d->max_frame + 4096;
}

/* Move unconsumed bytes to the front. */
static void compact(struct ms_frame_decoder *d)
{
	if (!d->off)
		return;
	memmove(d->buf, d->buf + d->off, d->len - d->off);
	d->len -= d->off;
	d->off = 0;
}

uint8_t *ms_frame_decoder_space(struct ms_frame_decoder *d, size_t *room)
{
	size_t want = hold_max(d);

	compact(d);
	if (d->cap < want && d->cap - d->len < 4096) {
		size_t cap = d->cap ? d->cap * 2 : 4096;
		uint8_t *nb;

		if (cap > want)
			cap = want;
		nb = realloc(d->buf, cap);
		if (!nb)
			return NULL;
		d->buf = nb;
		d->cap = cap;
	}
	*room = d->cap - d->len;
	return *room ? d->buf + d->len : NULL;
}

void ms_frame_decoder_commit(struct ms_frame_decoder *d, size_t n)
{
	d->len += n;
}

int ms_frame_decoder_push(struct ms_frame_decoder *d, const void *data, size_t n)
{
	const uint8_t *p = data;

	while (n) {
		size_t room, k;
		uint8_t *dst;

		/* Full (the buffer cannot grow further): let the caller drain
		 * before pushing beyond one frame. */
		if (d->len - d->off >= hold_max(d))
			return -ENOBUFS;
		dst = ms_frame_decoder_space(d, &room);
		if (!dst)
			return -ENOMEM;
		k = n < room ? n : room;
		memcpy(dst, p, k);
		ms_frame_decoder_commit(d, k);
		p += k;
		n -= k;
	}
	return 0;
}

void ms_frame_decoder_set_sync(struct ms_frame_decoder *d, bool on)
{
	d->sync_mode = on;
	if (!on)
		d->hunting = false;
}

void ms_frame_decoder_hunt(struct ms_frame_decoder *d)
{
	if (d->sync_mode)
		d->hunting = true;
}

/* Hunting: drop bytes up to the next marker.  true if one was consumed. */
static bool hunt(struct ms_frame_decoder *d)
{
	while (d->len - d->off >= MS_SYNC_MARKER_BYTES) {
		const uint8_t *p = d->buf + d->off;
		const uint8_t *m = memchr(p, 0xff, d->len - d->off);

		if (!m) {
			d->discarded += d->len - d->off;
			d->off = d->len;
			return false;
		}
		d->discarded += (size_t)(m - p);
		d->off += (size_t)(m - p);
		if (d->len - d->off < MS_SYNC_MARKER_BYTES)
			return false;
		if (memcmp(d->buf + d->off, MS_SYNC_MARKER, MS_SYNC_MARKER_BYTES) == 0) {
			d->off += MS_SYNC_MARKER_BYTES;
			d->hunting = false;
			return true;
		}
		d->off++;
		d->discarded++;
	}
	return false;
}

int ms_frame_decoder_next(struct ms_frame_decoder *d, const uint8_t **payload, size_t *len)
{
	size_t avail;
	const uint8_t *h;
	uint32_t plen;

	if (d->hunting)
		return hunt(d) ? MS_FRAME_SYNC : 0;
	avail = d->len - d->off;
	if (avail < 1)
		return 0;
	h = d->buf + d->off;    /* not before: buf is NULL until the first push */
	if (d->sync_mode && h[0] == 0xff) {
		if (avail < MS_SYNC_MARKER_BYTES)
			return 0;
		if (memcmp(h, MS_SYNC_MARKER, MS_SYNC_MARKER_BYTES) == 0) {
			d->off += MS_SYNC_MARKER_BYTES;
			return MS_FRAME_SYNC;
		}
		d->hunting = true;
		return hunt(d) ? MS_FRAME_SYNC : 0;
	}
	if (avail < MS_FRAME_HEADER_BYTES)
		return 0;
	plen = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	if ((uint64_t)plen + MS_FRAME_HEADER_BYTES > d->max_frame) {
		if (!d->sync_mode)
			return -EMSGSIZE;
		d->hunting = true;
		return hunt(d) ? MS_FRAME_SYNC : 0;
	}
	if (avail < (size_t)plen + MS_FRAME_HEADER_BYTES)
		return 0;
	*payload = h + MS_FRAME_HEADER_BYTES;
	*len = plen;
	d->off += (size_t)plen + MS_FRAME_HEADER_BYTES;
	return 1;
}

size_t ms_frame_decoder_pending(const struct ms_frame_decoder *d)
{
	return d->len - d->off;
}
