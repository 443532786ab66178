/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

struct loop_src {
	int fd;
	loop_cb *cb;
	void *arg;
	bool dead;
	struct loop_src *next_dead;
};

struct loop_timer {
	struct loop *l;
	loop_timer_cb *cb;
	void *arg;
	uint64_t due;             /* CLOCK_MONOTONIC, ns */
	bool armed;
	struct loop_timer *next;  /* in l->timers while armed */
};

struct loop {
	int epfd;
	bool stop;
	struct loop_src *dead;
	int tfd;                  /* expires at the first armed timer's due time */
	struct loop_src *tsrc;
	struct loop_timer *timers; /* armed, soonest first */
};

static void timers_fire(void *arg, uint32_t events);

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->tfd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	l->tsrc = l->tfd >= 0 ? loop_add(l, l->tfd, EPOLLIN, timers_fire, l) : NULL;
	if (!l->tsrc) {
		int err = errno;

		loop_free(l);
		errno = err;
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
	loop_del(l, l->tsrc);
	reap(l);
	if (l->tfd >= 0)
		close(l->tfd);
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

/* ---- timers ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Point the timerfd at the soonest timer, or disarm it.  Cannot fail: the
 * timerfd is valid and the time well formed. */
static void timers_program(struct loop *l)
{
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	if (l->timers) {
		/* An all-zero it_value would disarm instead of firing at once. */
		uint64_t due = l->timers->due ? l->timers->due : 1;

		its.it_value.tv_sec = (time_t)(due / 1000000000u);
		its.it_value.tv_nsec = (long)(due % 1000000000u);
	}
	timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void timer_unlink(struct loop_timer *t)
{
	struct loop_timer **pp = &t->l->timers;

	while (*pp != t)
		pp = &(*pp)->next;
	*pp = t->next;
	t->next = NULL;
	t->armed = false;
}

/*
 * Run the timers that are due, one at a time from the list head: a
 * callback that disarms or frees another due timer has unlinked it, so it
 * is not called, and its memory is not touched again.  A timer re-armed
 * by its callback is due later than `now`, so this ends.
 */
static void timers_fire(void *arg, uint32_t events)
{
	struct loop *l = arg;
	uint64_t ticks, now = now_ns();

	(void)events;
	if (read(l->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	while (l->timers && l->timers->due <= now) {
		struct loop_timer *t = l->timers;

		timer_unlink(t);
		t->cb(t->arg);
	}
	timers_program(l);
}

struct loop_timer *loop_timer_new(struct loop *l, loop_timer_cb *cb, void *arg)
{
	struct loop_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->l = l;
	t->cb = cb;
	t->arg = arg;
	return t;
}

void loop_timer_arm(struct loop_timer *t, unsigned ms)
{
	struct loop_timer **pp;

	if (t->armed)
		loop_timer_disarm(t);
	t->due = now_ns() + (uint64_t)ms * 1000000u;
	/* After those due at the same time: first armed, first run. */
	for (pp = &t->l->timers; *pp && (*pp)->due <= t->due; pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
	t->armed = true;
	if (t->l->timers == t)
		timers_program(t->l);
}

void loop_timer_disarm(struct loop_timer *t)
{
	bool first;

	if (!t || !t->armed)
		return;
	first = t->l->timers == t;
	timer_unlink(t);
	/* Only to save a wakeup: a stale expiry would find nothing due. */
	if (first)
		timers_program(t->l);
}

void loop_timer_free(struct loop_timer *t)
{
	loop_timer_disarm(t);
	free(t);
}

/* ---- dispatch ---- */

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
