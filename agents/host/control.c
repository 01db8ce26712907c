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
	bool want_out;
	bool dead;
};

struct control {
	int epfd;
	int lfd;
	char *endpoint;
	uint64_t accept_paused_until_ms;
	struct client *clients;
	size_t nr_clients;
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
	if (c->out_len + len + 1 > CONTROL_OUT_MAX) {
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
		while (!c->dead && (nl = memchr(c->in, '\n', c->in_len))) {
			size_t ll = (size_t)(nl - c->in);

			if (ll)
				handle_line(ctl, c, c->in, ll);
			memmove(c->in, nl + 1, c->in_len - ll - 1);
			c->in_len -= ll + 1;
		}
		if (c->dead)
			return;
	}
}

static void accept_clients(struct control *ctl)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct client *c;
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
		if (ctl->nr_clients >= CONTROL_MAX_CLIENTS) {
			fprintf(stderr, "memshare-hostd: control: %d clients, refusing one\n",
				CONTROL_MAX_CLIENTS);
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
		ev.data.ptr = c;
		if (epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			client_free(c);
			continue;
		}
		c->next = ctl->clients;
		ctl->clients = c;
		ctl->nr_clients++;
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
