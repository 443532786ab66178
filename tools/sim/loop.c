/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"

struct loop_src {
	int fd;
	loop_cb *cb;
	void *arg;
	bool dead;
	struct loop_src *next_dead;
};

struct loop {
	int epfd;
	bool stop;
	struct loop_src *dead;
};

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

static void reap(struct loop *l)
{
	while (l->dead) {
		struct loop_src *s = l->dead;

		l->dead = s->next_dead;
		free(s);
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	reap(l);
	close(l->epfd);
	free(l);
}

struct loop_src *loop_add(struct loop *l, int fd, uint32_t events, loop_cb *cb, void *arg)
{
	struct loop_src *s = calloc(1, sizeof(*s));
	struct epoll_event ev = { .events = events };

	if (!s)
		return NULL;
	s->fd = fd;
	s->cb = cb;
	s->arg = arg;
	ev.data.ptr = s;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;

		free(s);
		errno = err;
		return NULL;
	}
	return s;
}

int loop_mod(struct loop *l, struct loop_src *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = s };

	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, s->fd, &ev) < 0 ? -errno : 0;
}

void loop_del(struct loop *l, struct loop_src *s)
{
	if (!s || s->dead)
		return;
	/* The fd may already be closed by the owner; ENOENT/EBADF are fine. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	s->dead = true;
	s->next_dead = l->dead;
	l->dead = s;
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[64];

	l->stop = false;
	while (!l->stop) {
		int n = epoll_wait(l->epfd, evs, 64, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct loop_src *s = evs[i].data.ptr;

			if (!s->dead)
				s->cb(s->arg, evs[i].events);
		}
		reap(l);
	}
	return 0;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}
