/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "unixsock.h"

#define CONTROL_LINE_MAX (64u * 1024u)
#define CONTROL_OUT_MAX (16u << 20)
#define CONTROL_MAX_CLIENTS 64

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct client {
	struct client *next;
	uint64_t id;
	int fd;
	char *in;
	size_t in_len;
	char *out;
	size_t out_len;
	unsigned awaiting;          /* requests taken, not answered yet */
	uint64_t active_ms;         /* accepted, or last byte either way */
	bool want_out;
	bool dead;
};

struct control {
	int epfd;
	int lfd;
	uid_t uid;                  /* hostd's effective uid */
	uint64_t refused, evicted;  /* counters, for rate-limited logs */
	uint64_t log_ms;            /* last refusal/eviction log line */
	char *endpoint;
	uint64_t accept_paused_until_ms;
	struct client *clients;
	size_t nr_clients;          /* in the list, dead ones included */
	size_t nr_live;
	uint64_t next_id;
	control_request_fn fn;
	void *userdata;
};

int control_new(struct control **out, const char *endpoint, control_request_fn fn,
		void *userdata)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct control *ctl;
	int r;

	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->fn = fn;
	ctl->userdata = userdata;
	ctl->uid = geteuid();
	ctl->endpoint = strdup(endpoint ? endpoint : "");
	ctl->epfd = epoll_create1(EPOLL_CLOEXEC);
	ctl->lfd = unixsock_listen(endpoint, 16);
	if (!ctl->endpoint || ctl->epfd < 0 || ctl->lfd < 0) {
		r = !ctl->endpoint ? -ENOMEM : ctl->epfd < 0 ? -errno : ctl->lfd;
		goto fail;
	}
	ev.data.ptr = NULL;
	if (epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, ctl->lfd, &ev) < 0) {
		r = -errno;
		unixsock_unlink(endpoint);
		goto fail;
	}
	*out = ctl;
	return 0;
fail:
	if (ctl->lfd >= 0)
		close(ctl->lfd);
	if (ctl->epfd >= 0)
		close(ctl->epfd);
	free(ctl->endpoint);
	free(ctl);
	return r;
}

static void client_free(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

void control_free(struct control *ctl)
{
	if (!ctl)
		return;
	while (ctl->clients) {
		struct client *c = ctl->clients;

		ctl->clients = c->next;
		client_free(c);
	}
	close(ctl->lfd);
	unixsock_unlink(ctl->endpoint);
	close(ctl->epfd);
	free(ctl->endpoint);
	free(ctl);
}

int control_get_fd(struct control *ctl)
{
	return ctl->epfd;
}

static void client_kill(struct control *ctl, struct client *c)
{
	if (c->dead)
		return;
	epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->dead = true;
	ctl->nr_live--;
}

static void set_out(struct control *ctl, struct client *c, bool want)
{
	struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };

	if (c->want_out != want && epoll_ctl(ctl->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->want_out = want;
}

static void client_flush(struct control *ctl, struct client *c)
{
	while (c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			client_kill(ctl, c);
			return;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
		c->active_ms = now_ms();
	}
	set_out(ctl, c, c->out_len > 0);
}

static struct client *find_client(struct control *ctl, uint64_t id)
{
	for (struct client *c = ctl->clients; c; c = c->next)
		if (c->id == id && !c->dead)
			return c;
	return NULL;
}

int control_reply(struct control *ctl, uint64_t client_id, json_object *resp)
{
	struct client *c = find_client(ctl, client_id);
	const char *txt;
	size_t len;
	char *nb;

	if (!c) {
		json_object_put(resp);
		return -ENOENT;
	}
	txt = json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN);
	len = strlen(txt);
	if (c->awaiting)
		c->awaiting--;
	c->active_ms = now_ms();
	if (len + 1 > CONTROL_OUT_MAX) {
		/* Say so rather than vanish (a status with very many guests). */
		fprintf(stderr, "memshare-hostd: control: a reply of %zu bytes is over the %u-byte "
			"limit: answering with an error\n", len + 1, CONTROL_OUT_MAX);
		json_object_put(resp);
		c->awaiting++;
		return control_reply_error(ctl, client_id, EMSGSIZE, "reply of %zu bytes over the "
					   "%u-byte limit", len + 1, CONTROL_OUT_MAX);
	}
	if (c->out_len + len + 1 > CONTROL_OUT_MAX) {
		fprintf(stderr, "memshare-hostd: control: client %llu does not read its replies "
			"(%zu bytes waiting): dropped\n", (unsigned long long)c->id, c->out_len);
		json_object_put(resp);
		client_kill(ctl, c);
		return -ENOBUFS;
	}
	nb = realloc(c->out, c->out_len + len + 1);
	if (!nb) {
		json_object_put(resp);
		return -ENOMEM;
	}
	c->out = nb;
	memcpy(c->out + c->out_len, txt, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	json_object_put(resp);
	client_flush(ctl, c);
	return 0;
}

int control_reply_error(struct control *ctl, uint64_t client_id, int err, const char *fmt, ...)
{
	json_object *o = json_object_new_object();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(o, "errno", json_object_new_int(err < 0 ? -err : err));
	return control_reply(ctl, client_id, o);
}

static void handle_line(struct control *ctl, struct client *c, const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *req;

	if (!tok)
		return;
	req = json_tokener_parse_ex(tok, line, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success || tok->char_offset != (int)len) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		control_reply_error(ctl, c->id, EINVAL, "request is not valid JSON: %s",
				    e == json_tokener_continue ? "incomplete" :
				    e == json_tokener_success ? "trailing bytes after the object"
							      : json_tokener_error_desc(e));
	} else if (!json_object_is_type(req, json_type_object)) {
		control_reply_error(ctl, c->id, EINVAL, "request must be a JSON object, "
				    "e.g. {\"cmd\": \"status\"}");
	} else {
		ctl->fn(ctl, c->id, req, ctl->userdata);
	}
	json_object_put(req);
	json_tokener_free(tok);
}

static void client_read(struct control *ctl, struct client *c)
{
	char buf[4096];

	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		char *nb, *nl;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				client_kill(ctl, c);
			return;
		}
		if (n == 0) {
			client_kill(ctl, c);
			return;
		}
		if (c->in_len + (size_t)n > CONTROL_LINE_MAX) {
			control_reply_error(ctl, c->id, EMSGSIZE, "request longer than %u bytes",
					    CONTROL_LINE_MAX);
			client_kill(ctl, c);
			return;
		}
		nb = realloc(c->in, c->in_len + (size_t)n);
		if (!nb) {
			client_kill(ctl, c);
			return;
		}
		c->in = nb;
		memcpy(c->in + c->in_len, buf, (size_t)n);
		c->in_len += (size_t)n;
		c->active_ms = now_ms();
		while (!c->dead && (nl = memchr(c->in, '\n', c->in_len))) {
			size_t ll = (size_t)(nl - c->in);

			if (ll) {
				c->awaiting++;
				handle_line(ctl, c, c->in, ll);
			}
			memmove(c->in, nl + 1, c->in_len - ll - 1);
			c->in_len -= ll + 1;
		}
		if (c->dead)
			return;
	}
}

/* At most one line a second about refused or evicted clients. */
static void log_limited(struct control *ctl, const char *what, uint64_t count)
{
	uint64_t now = now_ms();

	if (now - ctl->log_ms < 1000)
		return;
	ctl->log_ms = now;
	fprintf(stderr, "memshare-hostd: control: %s (%llu so far)\n", what,
		(unsigned long long)count);
}

/*
 * Only root and hostd's own user may command hostd.  A socket file's mode
 * says so for a path, but an abstract socket (unix:@name) has no mode: the
 * peer's credentials (SO_PEERCRED) decide for both.
 */
static bool peer_allowed(struct control *ctl, int fd, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	*uid = cred.uid;
	return cred.uid == 0 || cred.uid == ctl->uid;
}

/*
 * Full: make room by dropping the client idle longest, one waiting for
 * nothing (no request being answered, nothing left to send): a peer that
 * only holds connections open cannot lock memsharectl out.  False if all
 * are busy.
 */
static bool evict_idle(struct control *ctl)
{
	struct client *oldest = NULL;

	for (struct client *c = ctl->clients; c; c = c->next)
		if (!c->dead && !c->awaiting && !c->out_len &&
		    (!oldest || c->active_ms < oldest->active_ms ||
		     (c->active_ms == oldest->active_ms && c->id < oldest->id)))
			oldest = c;
	if (!oldest)
		return false;
	client_kill(ctl, oldest);    /* freed by control_process()'s sweep */
	ctl->evicted++;
	log_limited(ctl, "full: dropped the client idle longest", ctl->evicted);
	return true;
}

static void accept_clients(struct control *ctl)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct client *c;
		uid_t uid = (uid_t)-1;
		int fd = accept4(ctl->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			/* Out of descriptors: stop watching the listener for a
			 * second instead of spinning on it. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, ctl->lfd, NULL);
				ctl->accept_paused_until_ms = now_ms() + 1000;
				fprintf(stderr, "memshare-hostd: control: accept: %s: pausing 1 s\n",
					strerror(errno));
			}
			return;
		}
		if (!peer_allowed(ctl, fd, &uid)) {
			char what[96];

			ctl->refused++;
			snprintf(what, sizeof(what), "refused a client of uid %u (only root and "
				 "uid %u may command hostd)", (unsigned)uid, (unsigned)ctl->uid);
			log_limited(ctl, what, ctl->refused);
			close(fd);
			continue;
		}
		if (ctl->nr_live >= CONTROL_MAX_CLIENTS && !evict_idle(ctl)) {
			ctl->refused++;
			log_limited(ctl, "full of clients waiting for answers: refused one",
				    ctl->refused);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->id = ++ctl->next_id;
		c->active_ms = now_ms();
		ev.data.ptr = c;
		if (epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			client_free(c);
			continue;
		}
		c->next = ctl->clients;
		ctl->clients = c;
		ctl->nr_clients++;
		ctl->nr_live++;
	}
}

int control_get_timeout_ms(struct control *ctl)
{
	uint64_t now;

	if (!ctl->accept_paused_until_ms)
		return -1;
	now = now_ms();
	return now >= ctl->accept_paused_until_ms ? 0 : (int)(ctl->accept_paused_until_ms - now);
}

int control_process(struct control *ctl)
{
	struct epoll_event evs[16];
	struct client **pp;
	int n;

	if (ctl->accept_paused_until_ms && now_ms() >= ctl->accept_paused_until_ms) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

		if (epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, ctl->lfd, &ev) == 0)
			ctl->accept_paused_until_ms = 0;
	}

	n = epoll_wait(ctl->epfd, evs, 16, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct client *c = evs[i].data.ptr;

		if (!c) {
			accept_clients(ctl);
			continue;
		}
		if (c->dead)
			continue;
		if (evs[i].events & EPOLLOUT)
			client_flush(ctl, c);
		if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
			client_read(ctl, c);
	}
	for (pp = &ctl->clients; *pp;) {
		struct client *c = *pp;

		if (c->dead) {
			*pp = c->next;
			ctl->nr_clients--;
			client_free(c);
		} else {
			pp = &c->next;
		}
	}
	return 0;
}
