/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Codec: public message structs <-> protobuf-c Envelope, with framing and
 * validation of everything a peer sends.  Private to the library.
 */
#ifndef MS_CODEC_H
#define MS_CODEC_H

#include <memshare/message.h>

enum ms_msg_type {
	MS_MSG_NONE = 0,
	MS_MSG_HELLO,
	MS_MSG_WELCOME,
	MS_MSG_REPORT,
	MS_MSG_RECLAIM_REQUEST,
	MS_MSG_RECLAIM_RESULT,
	MS_MSG_ERROR,
	MS_MSG_PING,
	MS_MSG_PONG,
	MS_MSG_GOODBYE,
	MS_MSG_UNKNOWN,          /* a body this version does not know */
	MS_MSG_CONFIG,
};

const char *ms_msg_type_name(enum ms_msg_type type);

/* Limits applied when decoding what a peer sent. */
#define MS_MAX_NODES 1024

struct ms_msg {
	enum ms_msg_type type;
	uint32_t version;
	uint64_t seq;
	uint64_t in_reply_to;
	union {
		struct ms_hello hello;
		struct ms_welcome welcome;
		struct ms_config config;
		struct ms_report report;          /* owns report.lru */
		struct ms_reclaim_request reclaim_request;
		struct ms_reclaim_reply reclaim_result;
		struct ms_error error;
		uint64_t nonce;                   /* PING, PONG */
		char reason[MS_ERROR_MESSAGE_MAX];/* GOODBYE */
	} u;
};

/*
 * Encode @msg as one frame (4-byte big-endian length + Envelope) into a
 * malloc'd buffer.  0, -EINVAL (bad type), -EMSGSIZE (over @max_frame
 * bytes), -ENOMEM.
 */
int ms_msg_encode(const struct ms_msg *msg, uint32_t max_frame, uint8_t **out, size_t *len);

/*
 * Decode one Envelope (the frame's payload, without the length prefix)
 * and validate it.  On success the type may be MS_MSG_UNKNOWN (a newer
 * peer's message).  On failure returns -EPROTO and writes a one-line
 * reason into @why.  Free with ms_msg_clear().
 */
int ms_msg_decode(const uint8_t *payload, size_t len, struct ms_msg *out, char *why,
		  size_t why_size);

/* Release what @msg owns (a Report's LRU summary); @msg stays valid. */
void ms_msg_clear(struct ms_msg *msg);

#endif
