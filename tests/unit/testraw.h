/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Raw peers for the session tests: a plain AF_UNIX stream socket that
 * speaks the wire format by hand (the library's own codec and frame
 * decoder), to play a hostile or minimal guest against a host, or a fake
 * host against a guest.
 *
 * Part of the testutil library but in its own object file: it needs the
 * library's private codec, which the tests that link only the public
 * shared libraries (test_libvirt) do not have.  Every helper asserts with
 * ck_assert*, so it may only be called from a test or a checked fixture.
 */
#ifndef MS_TESTRAW_H
#define MS_TESTRAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/codec.h"
#include "proto/frame.h"

struct tu_raw {
	int fd;                   /* -1: closed */
	bool closed;              /* the other side closed (EOF or reset seen) */
	uint64_t seq;             /* seq of the last message sent */
	struct ms_frame_decoder dec;
	struct ms_msg msg;        /* the last frame taken by tu_raw_cond_msg() */
	bool have_msg;
};

/* Connect @r (zeroed first) to the unix socket @path; non-blocking after. */
void tu_raw_open(struct tu_raw *r, const char *path);

/* Make @r (zeroed first) speak on the connected stream socket @fd, which
 * it then owns (set non-blocking). */
void tu_raw_adopt(struct tu_raw *r, int fd);

/* Close the socket (if open) and free what @r holds; @r may be reopened. */
void tu_raw_close(struct tu_raw *r);

/* Write all of @buf (asserts that the peer takes it). */
void tu_raw_send(struct tu_raw *r, const void *buf, size_t len);

/* Encode @m as the next message of @r (version, seq stamped) and send it. */
void tu_raw_send_msg(struct tu_raw *r, struct ms_msg *m);

/* A Hello from guest @name: protocol 1, MemTotal 1 GiB, page size 4096. */
void tu_raw_send_hello(struct tu_raw *r, const char *name);

/* Read what is there into the decoder; notice EOF or reset. */
void tu_raw_drain(struct tu_raw *r);

/* Conditions for a test's event loop (argument: the struct tu_raw).
 * closed: the other side closed.  msg: the next frame arrived and was
 * decoded into r->msg (asserts that it decodes). */
bool tu_raw_cond_closed(void *arg);
bool tu_raw_cond_msg(void *arg);

/*
 * Run @host and @guest (either may be NULL) until @cond(@arg) holds or
 * @timeout_ms passed, polling at most @step_us at a time and calling
 * @before(@before_arg) (if set) before each step: a test's event loop.
 * Returns whether @cond held; with no @cond, runs for the whole time and
 * returns true.  Asserts that the sessions' process() calls succeed.
 */
struct ms_host;
struct ms_guest;
bool tu_pump_until(struct ms_host *host, struct ms_guest *guest, unsigned timeout_ms,
		   uint64_t step_us, void (*before)(void *), void *before_arg,
		   bool (*cond)(void *), void *arg);

#endif /* MS_TESTRAW_H */
