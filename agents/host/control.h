/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memshare-hostd's control socket: newline-delimited JSON requests and
 * replies over a unix socket (docs/memshare-hostd.8.md lists the commands).
 */
#ifndef MS_CONTROL_H
#define MS_CONTROL_H

#include <stdint.h>
#include <json-c/json.h>

struct control;

/* A complete request line arrived.  @req is borrowed; answer (now or later)
 * with control_reply(). */
typedef void (*control_request_fn)(struct control *ctl, uint64_t client_id, json_object *req,
				   void *userdata);

/* Listen on @endpoint ("unix:/absolute/path" or "unix:@abstract").
 * 0, -EINVAL (syntax), -EADDRINUSE (a live hostd there), -EEXIST (a file
 * that is not a socket), or another -errno. */
int control_new(struct control **out, const char *endpoint, control_request_fn fn,
		void *userdata);
void control_free(struct control *ctl);

/* One pollable fd (an epoll set) for the listener and all clients. */
int control_get_fd(struct control *ctl);

/* ms until control_process() must run although no fd is ready (accept
 * paused after EMFILE), or -1. */
int control_get_timeout_ms(struct control *ctl);

/* Accept, read, dispatch complete lines, write replies.  Never blocks. */
int control_process(struct control *ctl);

/* Send @resp (reference taken over) as one line to a client.  -ENOENT if
 * the client has gone. */
int control_reply(struct control *ctl, uint64_t client_id, json_object *resp);

/* Reply {"ok": false, "error": msg, "errno": code}. */
int control_reply_error(struct control *ctl, uint64_t client_id, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
