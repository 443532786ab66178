/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listener.h"
#include "loop.h"
#include "unixsock.h"

/* Connections accepted per wakeup: a burst of connects cannot keep one
 * listener in its callback forever. */
#define ACCEPT_BATCH 64

struct sim_acceptor {
	struct loop *loop;
	const struct sim_acceptor_ops *ops;
	struct sim_listener *listeners;
	struct loop_timer *pause_end;
	bool paused;              /* listeners not polled until pause_end */
	bool refusing;            /* `refusing` told, no accept since */
	struct sim_acceptor_stats stats;
};

struct sim_listener {
	struct sim_listener *next, **pprev; /* pprev: what points to us */
	struct sim_acceptor *a;
	int fd;
	char *path;
	struct loop_src *src;
	void *arg;
};

/* One spare for the whole process: running out of descriptors is a state
 * of the process, and one connection shed at a time is enough to drain
 * every listener.  Held while any acceptor exists. */
static int spare = -1;
static unsigned spare_users;

static void spare_open(void)
{
	if (spare < 0)
		spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void sim_listener_drop_spare(void)
{
	if (spare >= 0)
		close(spare);
	spare = -1;
}

/* ---- out of descriptors ---- */

/* Accept one pending connection in the spare's slot and close it.
 * 1: shed one (or it went away by itself); 0: none was pending after
 * all; -1: cannot (no spare, or even its slot is not enough). */
static int shed(struct sim_listener *ls)
{
	int fd, err;

	if (spare < 0)
		return -1;
	close(spare);
	spare = -1;
	fd = accept4(ls->fd, NULL, NULL, SOCK_CLOEXEC);
	err = errno;
	if (fd >= 0)
		close(fd);
	spare_open();
	if (fd >= 0) {
		ls->a->stats.shed++;
		return 1;
	}
	if (err == EAGAIN || err == EWOULDBLOCK)
		return 0;
	return err == EINTR || err == ECONNABORTED ? 1 : -1;
}

static void set_polling(struct sim_acceptor *a, bool on)
{
	for (struct sim_listener *ls = a->listeners; ls; ls = ls->next) {
		/* Cannot fail for a registered fd short of kernel memory; a
		 * listener left off then is retried at the next pause end. */
		if (loop_mod(a->loop, ls->src, on ? EPOLLIN : 0) < 0 && on)
			a->paused = true;
	}
}

static void pause_listeners(struct sim_acceptor *a)
{
	if (a->paused)
		return;
	a->stats.pauses++;
	a->paused = true;
	set_polling(a, false);
	loop_timer_arm(a->pause_end, SIM_LISTENER_PAUSE_MS);
}

/* The pause is over: take the spare back if descriptors allow, and poll
 * again.  Still out of them, the next accept pauses again: a few system
 * calls ten times a second, not a spin. */
static void pause_over(void *arg)
{
	struct sim_acceptor *a = arg;

	spare_open();
	a->paused = false;
	set_polling(a, true);
	if (a->paused)
		loop_timer_arm(a->pause_end, SIM_LISTENER_PAUSE_MS);
}

/* accept4 failed with err (not "none pending"): shed or pause.  Returns
 * true if the listener may go on accepting. */
static bool refuse(struct sim_listener *ls, int err)
{
	struct sim_acceptor *a = ls->a;
	int r = -1;

	a->stats.failures++;
	if (err == EMFILE || err == ENFILE)
		r = shed(ls);
	if (r == 0)
		return false;
	if (!a->refusing) {
		a->refusing = true;
		if (a->ops->refusing)
			a->ops->refusing(ls->arg, err);
	}
	if (r < 0) {
		pause_listeners(a);
		return false;
	}
	return true;
}

static void accept_cb(void *arg, uint32_t events)
{
	struct sim_listener *ls = arg;
	struct sim_acceptor *a = ls->a;

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(ls->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK || !refuse(ls, errno))
				return;
			continue;
		}
		a->refusing = false;
		a->ops->accepted(ls->arg, fd);
	}
}

/* ---- acceptors and listeners ---- */

struct sim_acceptor *sim_acceptor_new(struct loop *l, const struct sim_acceptor_ops *ops)
{
	struct sim_acceptor *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->loop = l;
	a->ops = ops;
	a->pause_end = loop_timer_new(l, pause_over, a);
	if (!a->pause_end) {
		free(a);
		return NULL;
	}
	/* Not fatal if it fails: shedding needs it, pausing does not, and
	 * every pause end tries again. */
	spare_users++;
	spare_open();
	return a;
}

void sim_acceptor_free(struct sim_acceptor *a)
{
	if (!a)
		return;
	while (a->listeners)
		sim_listener_close(a->listeners);
	loop_timer_free(a->pause_end);
	if (--spare_users == 0)
		sim_listener_drop_spare();
	free(a);
}

const struct sim_acceptor_stats *sim_acceptor_stats(const struct sim_acceptor *a)
{
	return &a->stats;
}

struct sim_listener *sim_listener_open(struct sim_acceptor *a, const char *path, int type,
                                       int backlog, void *arg)
{
	struct sim_listener *ls = calloc(1, sizeof(*ls));
	int err;

	if (!ls)
		return NULL;
	ls->a = a;
	ls->arg = arg;
	ls->fd = sim_listen_unix(path, type, backlog);
	if (ls->fd < 0) {
		err = -ls->fd;
		goto fail;
	}
	ls->path = strdup(path);
	/* Opened during a pause, it waits for the pause end like the rest. */
	ls->src = ls->path ? loop_add(a->loop, ls->fd, a->paused ? 0 : EPOLLIN, accept_cb, ls)
	                   : NULL;
	if (!ls->src) {
		err = ls->path ? errno : ENOMEM;
		close(ls->fd);
		unlink(path);
		goto fail;
	}
	ls->next = a->listeners;
	if (ls->next)
		ls->next->pprev = &ls->next;
	a->listeners = ls;
	ls->pprev = &a->listeners;
	return ls;
fail:
	free(ls->path);
	free(ls);
	errno = err;
	return NULL;
}

void sim_listener_close(struct sim_listener *ls)
{
	if (!ls)
		return;
	*ls->pprev = ls->next;
	if (ls->next)
		ls->next->pprev = ls->pprev;
	loop_del(ls->a->loop, ls->src);
	close(ls->fd);
	unlink(ls->path);
	free(ls->path);
	free(ls);
}
