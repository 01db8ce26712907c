/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-frame: the streaming frame decoder (lib/proto/frame.c) and the
 * message decoder (lib/proto/codec.c) on any byte stream.
 *
 * Input: [flags FF_*][seed][stream].  The stream goes into one decoder in
 * writes of sizes drawn from @seed (as reads from a socket would come),
 * through ms_frame_decoder_space()/commit() as the connections do, or
 * ms_frame_decoder_push().  Every complete frame is decoded; every message
 * that decodes must encode again, and decoding that must give the same
 * message (encode(decode(encode(m))) == encode(m), byte for byte).  In sync
 * mode a payload that does not decode makes the decoder hunt, as
 * ms_conn_next() does.  The decoder must never stall: after its frames are
 * taken it always has room for more bytes.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/frame.h"

#include "fuzz.h"

/* decode(encode(m)) encodes to the same bytes as m. */
static void check_roundtrip(const struct ms_msg *m)
{
	uint8_t *f1 = NULL, *f2 = NULL;
	size_t l1 = 0, l2 = 0;
	struct ms_msg m2;
	char why[256] = "";
	int r;

	r = ms_msg_encode(m, MS_FRAME_HARD_MAX_BYTES, &f1, &l1);
	FUZZ_CHECK(r == 0, "a decoded %s does not encode: %d", ms_msg_type_name(m->type), r);
	r = ms_msg_decode(f1 + MS_FRAME_HEADER_BYTES, l1 - MS_FRAME_HEADER_BYTES, &m2, why,
			  sizeof(why));
	FUZZ_CHECK(r == 0, "a re-encoded %s does not decode: %s", ms_msg_type_name(m->type), why);
	FUZZ_CHECK(m2.type == m->type, "%s came back as %s", ms_msg_type_name(m->type),
		   ms_msg_type_name(m2.type));
	r = ms_msg_encode(&m2, MS_FRAME_HARD_MAX_BYTES, &f2, &l2);
	FUZZ_CHECK(r == 0, "a re-decoded %s does not encode: %d", ms_msg_type_name(m->type), r);
	FUZZ_CHECK(l1 == l2 && memcmp(f1, f2, l1) == 0, "%s changes in a round trip (%zu, %zu bytes)",
		   ms_msg_type_name(m->type), l1, l2);
	ms_msg_clear(&m2);
	free(f1);
	free(f2);
}

/* One frame's payload; false if it did not decode. */
static bool decode_one(const uint8_t *payload, size_t len)
{
	struct ms_msg m;
	char why[256] = "";
	int r;

	r = ms_msg_decode(payload, len, &m, why, sizeof(why));
	if (r < 0) {
		FUZZ_CHECK(r == -EPROTO, "ms_msg_decode returned %d", r);
		FUZZ_CHECK(why[0] && !strchr(why, '\n'), "no one-line reason: '%s'", why);
		return false;
	}
	FUZZ_CHECK(m.type > MS_MSG_NONE && m.type <= MS_MSG_CONFIG, "type %d", (int)m.type);
	FUZZ_CHECK(m.version != 0, "version 0 accepted");
	if (m.type != MS_MSG_UNKNOWN)
		check_roundtrip(&m);
	ms_msg_clear(&m);
	return true;
}

/* Take every complete frame.  false once the stream is dead (-EMSGSIZE). */
static bool drain(struct ms_frame_decoder *d)
{
	for (;;) {
		const uint8_t *payload;
		size_t len;
		int r = ms_frame_decoder_next(d, &payload, &len);

		if (r == 0)
			return true;
		if (r == -EMSGSIZE) {
			FUZZ_CHECK(!d->sync_mode, "-EMSGSIZE in sync mode");
			return false;
		}
		if (r == MS_FRAME_SYNC) {
			FUZZ_CHECK(d->sync_mode, "a sync marker outside sync mode");
			continue;
		}
		FUZZ_CHECK(r == 1, "ms_frame_decoder_next returned %d", r);
		FUZZ_CHECK(len + MS_FRAME_HEADER_BYTES <= d->max_frame, "a %zu-byte payload", len);
		if (!decode_one(payload, len))
			ms_frame_decoder_hunt(d);    /* sync mode; a no-op otherwise */
	}
}

/* The next write's size. */
static size_t chunk_size(uint32_t *rng)
{
	uint32_t r = fuzz_rng(rng);

	switch (r & 7) {
	case 0:
		return 1;
	case 1: case 2: case 3:
		return 1 + (r >> 3) % 16;
	case 4: case 5: case 6:
		return 1 + (r >> 3) % 512;
	default:
		return SIZE_MAX;        /* all that is left */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_frame_decoder d;
	uint8_t flags;
	uint32_t rng;
	size_t off;

	if (size < FUZZ_HEADER_BYTES)
		return -1;              /* not worth adding to the corpus */
	flags = data[0];
	rng = data[1] * 0x01000193u + 1;
	ms_frame_decoder_init(&d, flags & FF_SMALL ? 128 : MS_FRAME_DEFAULT_MAX_BYTES);
	ms_frame_decoder_set_sync(&d, flags & FF_SYNC);
	if (flags & FF_HUNT)
		ms_frame_decoder_hunt(&d);
	data += FUZZ_HEADER_BYTES;
	size -= FUZZ_HEADER_BYTES;
	for (off = 0; off < size;) {
		size_t n = chunk_size(&rng), room, held = ms_frame_decoder_pending(&d);

		n = n < size - off ? n : size - off;
		if (flags & FF_PUSH) {
			int r = ms_frame_decoder_push(&d, data + off, n);

			FUZZ_CHECK(r == 0 || r == -ENOBUFS, "push returned %d", r);
			/* On -ENOBUFS only what fitted was taken. */
			n = ms_frame_decoder_pending(&d) - held;
		} else {
			uint8_t *dst = ms_frame_decoder_space(&d, &room);

			FUZZ_CHECK(dst && room > 0, "no room with %zu bytes held", held);
			n = n < room ? n : room;
			memcpy(dst, data + off, n);
			ms_frame_decoder_commit(&d, n);
		}
		off += n;
		if (!drain(&d))
			break;
		FUZZ_CHECK(n > 0 || ms_frame_decoder_pending(&d) < held,
			   "the decoder is stuck with %zu bytes", held);
	}
	ms_frame_decoder_release(&d);
	return 0;
}
