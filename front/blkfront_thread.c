/* SPDX-License-Identifier: MIT */
/*
 * blkfront, threaded layer (blkfront.h, xvio_blkt_*): one private thread
 * owns the xport context and the blkfront; other threads hand it commands
 * through a mutex-protected FIFO and sleep on a condition variable of
 * their own command until it completes.
 *
 * Hand-off costs, per command, kept low for small requests:
 *   - the eventfd is written only when the private thread sleeps (or is
 *     about to): while its context spins it looks at the FIFO on every
 *     pass and makes no system call for it;
 *   - with a spin window (spin_us), one caller at a time polls its
 *     command's `done` for up to that long before sleeping, and the
 *     private thread signals the condition variable only for a caller
 *     that sleeps.
 *
 * The private thread also keeps a table of the disks (devid, connected,
 * info) under the same mutex, so callers list and wait for disks without
 * touching the context.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "blkfront.h"

struct tdisk {
	unsigned devid;
	bool connected;
	struct xvio_blk_info info;
};

struct xvio_blkt {
	struct xvio_blkt_params p;
	pthread_t thr;
	pthread_mutex_t lock;
	pthread_cond_t changed;        /* disk table, startup, death */
	struct cmd *qhead, *qtail;     /* waiting for the private thread */
	atomic_bool queued;            /* qhead != NULL, read without the lock */
	atomic_uint spinners;          /* callers polling their command */
	int efd;
	bool sleeping;                 /* the private thread may block: wake it */
	bool stop, dead, started;
	int start_rc;
	struct xvio_err start_err;
	struct tdisk *disks;
	unsigned ndisks, cap;
	/* private thread only */
	struct xvio_xport_ctx *ctx;
	struct xvio_blkfront *f;
};

/* ---- the disk table ---- */

static struct tdisk *td_find(struct xvio_blkt *t, unsigned devid)
{
	for (unsigned i = 0; i < t->ndisks; i++) {
		if (t->disks[i].devid == devid)
			return &t->disks[i];
	}
	return NULL;
}

static void td_set(struct xvio_blk *b, bool present)
{
	struct xvio_blkt *t = xvio_blkfront_arg(xvio_blk_front(b));
	unsigned devid = xvio_blk_devid(b);
	struct tdisk *d;

	pthread_mutex_lock(&t->lock);
	d = td_find(t, devid);
	if (!present) {
		if (d)
			*d = t->disks[--t->ndisks];
	} else {
		if (!d && t->ndisks == t->cap) {
			unsigned cap = t->cap ? t->cap * 2 : 8;
			struct tdisk *nd = realloc(t->disks, cap * sizeof(*nd));

			if (nd) {
				t->disks = nd;
				t->cap = cap;
			}
		}
		if (!d && t->ndisks < t->cap) {
			d = &t->disks[t->ndisks++];
			memset(d, 0, sizeof(*d));
			d->devid = devid;
		}
		if (d) {
			d->connected = xvio_blk_connected(b);
			xvio_blk_info(b, &d->info);
		}
	}
	pthread_cond_broadcast(&t->changed);
	pthread_mutex_unlock(&t->lock);
}

static void on_added(struct xvio_blk *b)
{
	td_set(b, true);
}

static void on_removed(struct xvio_blk *b)
{
	td_set(b, false);
}

static const struct xvio_blkfront_ops t_ops = {
	.added = on_added,
	.connected = on_added,
	.disconnected = on_added,
	.removed = on_removed,
};

/* ---- commands ---- */

struct cmd {
	struct xvio_blk_req req;
	struct xvio_blkt *t;
	unsigned devid;
	atomic_bool done;              /* set last, under the lock */
	bool sleeping;                 /* the caller waits on cv */
	pthread_cond_t cv;
	struct cmd *next;
};

/* Callers polling for their result at once (the rest sleep at once): on
 * few CPUs more pollers only take time from the threads they wait for. */
#define MAX_SPINNERS 1u

/* Publish a result (on the private thread, lock not held).  `done` is
 * the last write to c: a polling caller may free c as soon as it sees
 * it (after taking the lock once, which orders it after this). */
static void complete_cmd(struct cmd *c, int status)
{
	struct xvio_blkt *t = c->t;

	pthread_mutex_lock(&t->lock);
	c->req.status = status;
	if (c->sleeping)
		pthread_cond_signal(&c->cv);
	atomic_store_explicit(&c->done, true, memory_order_release);
	pthread_mutex_unlock(&t->lock);
}

static void cmd_done(struct xvio_blk_req *r)
{
	complete_cmd(r->cookie, r->status);
}

static void run_cmds(struct xvio_blkt *t, struct cmd *c)
{
	while (c) {
		struct cmd *next = c->next;
		struct xvio_blk *b = xvio_blkfront_find(t->f, c->devid);
		int rc = b ? xvio_blk_submit(b, &c->req) : -ENODEV;

		if (rc < 0)
			complete_cmd(c, rc);
		c = next;
	}
}

/* ---- the private thread ---- */

static int open_all(struct xvio_blkt *t, struct xvio_err *err)
{
	struct xvio_xport_ctx_params cp = { .platform = t->p.platform, .spin_us = t->p.spin_us };
	struct xvio_blkfront_params fp = t->p.front;
	int rc;

	fp.ops = &t_ops;
	fp.arg = t;
	rc = xvio_xport_ctx_new(&cp, &t->ctx, err);
	if (rc < 0)
		return rc;
	rc = xvio_blkfront_new(t->ctx, &fp, &t->f, err);
	if (rc < 0) {
		xvio_xport_ctx_free(t->ctx);
		t->ctx = NULL;
	}
	return rc;
}

static void loop(struct xvio_blkt *t)
{
	struct pollfd pfd[XVIO_XPORT_CTX_NFDS + 1];
	int fds[XVIO_XPORT_CTX_NFDS];

	xvio_xport_ctx_fds(t->ctx, fds);
	for (int i = 0; i < XVIO_XPORT_CTX_NFDS; i++)
		pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	pfd[XVIO_XPORT_CTX_NFDS] = (struct pollfd){ .fd = t->efd, .events = POLLIN };
	for (;;) {
		int timeout = xvio_xport_ctx_timeout(t->ctx);
		struct cmd *c = NULL;
		uint64_t v;
		bool stop;

		/* While the context spins, no poll(2): dispatch watches its own
		 * fds, and callers queue without writing the eventfd. */
		if (timeout != 0) {
			pthread_mutex_lock(&t->lock);
			t->sleeping = !t->qhead && !t->stop;
			if (!t->sleeping)
				timeout = 0;
			pthread_mutex_unlock(&t->lock);
		}
		if (timeout != 0) {
			int rc = poll(pfd, XVIO_XPORT_CTX_NFDS + 1, timeout);

			if (rc < 0 && errno != EINTR)
				return;
			if (rc > 0 && pfd[XVIO_XPORT_CTX_NFDS].revents &&
			    read(t->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				return;
		}
		stop = false;
		if (timeout != 0 || atomic_load_explicit(&t->queued, memory_order_acquire)) {
			pthread_mutex_lock(&t->lock);
			t->sleeping = false;
			c = t->qhead;
			t->qhead = t->qtail = NULL;
			atomic_store_explicit(&t->queued, false, memory_order_relaxed);
			stop = t->stop;
			pthread_mutex_unlock(&t->lock);
		}
		/* The callers' requests go out together. */
		xvio_xport_ctx_batch_begin(t->ctx);
		run_cmds(t, c);
		xvio_xport_ctx_batch_end(t->ctx);
		if (stop || xvio_xport_ctx_dispatch(t->ctx) < 0)
			return;
	}
}

static void *thread_main(void *arg)
{
	struct xvio_blkt *t = arg;
	struct xvio_err err = { 0 };
	int rc = open_all(t, &err);
	struct cmd *c;

	pthread_mutex_lock(&t->lock);
	t->started = true;
	t->start_rc = rc;
	t->start_err = err;
	pthread_cond_broadcast(&t->changed);
	pthread_mutex_unlock(&t->lock);
	if (rc < 0)
		return NULL;
	loop(t);
	/* Requests held complete with -ECANCELED, disks leave the table. */
	xvio_blkfront_free(t->f);
	xvio_xport_ctx_free(t->ctx);
	pthread_mutex_lock(&t->lock);
	t->dead = true;
	c = t->qhead;
	t->qhead = t->qtail = NULL;
	for (; c; c = c->next) {
		c->req.status = -ECANCELED;
		c->done = true;
		pthread_cond_signal(&c->cv);
	}
	pthread_cond_broadcast(&t->changed);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* ---- the callers' API ---- */

int xvio_blkt_start(const struct xvio_blkt_params *p, struct xvio_blkt **out,
                    struct xvio_err *err)
{
	struct xvio_blkt *t = calloc(1, sizeof(*t));
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	if (!t)
		return xvio_err_set(err, ENOMEM, "out of memory");
	if (p)
		t->p = *p;
	t->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->efd < 0) {
		rc = xvio_err_set(err, errno, "eventfd: %s", strerror(errno));
		free(t);
		return rc;
	}
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->changed, &ca);
	pthread_condattr_destroy(&ca);
	/* The private thread takes no signals: the host program's threads
	 * handle them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&t->thr, NULL, thread_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0) {
		pthread_mutex_lock(&t->lock);
		while (!t->started)
			pthread_cond_wait(&t->changed, &t->lock);
		rc = t->start_rc;
		pthread_mutex_unlock(&t->lock);
		if (rc < 0) {
			if (err)
				*err = t->start_err;
			pthread_join(t->thr, NULL);
		}
	} else {
		xvio_err_set(err, -rc, "pthread_create: %s", strerror(-rc));
	}
	if (rc < 0) {
		pthread_cond_destroy(&t->changed);
		pthread_mutex_destroy(&t->lock);
		close(t->efd);
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

static void wake(struct xvio_blkt *t)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is saturated, the thread will wake anyway. */
	if (write(t->efd, &one, sizeof(one)) < 0) {
	}
}

void xvio_blkt_stop(struct xvio_blkt *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	atomic_store(&t->queued, true);
	pthread_mutex_unlock(&t->lock);
	wake(t);
	pthread_join(t->thr, NULL);
	pthread_cond_destroy(&t->changed);
	pthread_mutex_destroy(&t->lock);
	close(t->efd);
	free(t->disks);
	free(t);
}

static int cmp_u(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

int xvio_blkt_list(struct xvio_blkt *t, unsigned *devids, unsigned max)
{
	unsigned *all;
	int n;

	pthread_mutex_lock(&t->lock);
	n = (int)t->ndisks;
	all = malloc((t->ndisks + 1) * sizeof(*all));
	if (all) {
		for (unsigned i = 0; i < t->ndisks; i++)
			all[i] = t->disks[i].devid;
	}
	pthread_mutex_unlock(&t->lock);
	if (!all)
		return -ENOMEM;
	qsort(all, (size_t)n, sizeof(*all), cmp_u);
	memcpy(devids, all, (size_t)((unsigned)n < max ? (unsigned)n : max) * sizeof(*all));
	free(all);
	return n;
}

int xvio_blkt_wait(struct xvio_blkt *t, unsigned devid, int timeout_ms,
                   struct xvio_blk_info *info)
{
	struct timespec end;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&t->lock);
	for (;;) {
		struct tdisk *d = td_find(t, devid);

		if (d && d->connected) {
			*info = d->info;
			rc = 0;
			break;
		}
		/* The first scan is done before start returns: an absent disk
		 * is not coming (devices exist before the guest uses them). */
		if (t->dead || !d) {
			rc = -ENODEV;
			break;
		}
		if (pthread_cond_timedwait(&t->changed, &t->lock, &end) == ETIMEDOUT) {
			d = td_find(t, devid);
			rc = d && d->connected ? (*info = d->info, 0) : d ? -ETIMEDOUT : -ENODEV;
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Poll c->done for up to the spin window, if no other caller does. */
static void spin_for(struct xvio_blkt *t, struct cmd *c)
{
	uint64_t end;

	if (t->p.spin_us == 0)
		return;
	if (atomic_fetch_add(&t->spinners, 1) < MAX_SPINNERS) {
		end = now_ns() + (uint64_t)t->p.spin_us * 1000u;
		for (unsigned i = 0; !atomic_load_explicit(&c->done, memory_order_acquire); i++) {
			if (i % 64 == 63 && now_ns() >= end)
				break;
		}
	}
	atomic_fetch_sub(&t->spinners, 1);
}

int xvio_blkt_io(struct xvio_blkt *t, unsigned devid, enum xvio_blk_op op, unsigned flags,
                 void *data, uint64_t len, uint64_t offset)
{
	struct cmd c = {
		.req = { .op = op, .flags = flags, .offset = offset, .len = len, .data = data,
		         .done = cmd_done, .cookie = &c },
		.t = t, .devid = devid,
	};
	bool need_wake;
	int rc;

	pthread_cond_init(&c.cv, NULL);
	pthread_mutex_lock(&t->lock);
	if (t->dead) {
		pthread_mutex_unlock(&t->lock);
		pthread_cond_destroy(&c.cv);
		return -ENODEV;
	}
	if (t->qtail)
		t->qtail->next = &c;
	else
		t->qhead = &c;
	t->qtail = &c;
	atomic_store_explicit(&t->queued, true, memory_order_release);
	/* One wake-up per sleep of the private thread is enough. */
	need_wake = t->sleeping;
	t->sleeping = false;
	pthread_mutex_unlock(&t->lock);
	if (need_wake)
		wake(t);
	spin_for(t, &c);
	pthread_mutex_lock(&t->lock);
	while (!atomic_load_explicit(&c.done, memory_order_acquire)) {
		c.sleeping = true;
		pthread_cond_wait(&c.cv, &t->lock);
	}
	rc = c.req.status;
	pthread_mutex_unlock(&t->lock);
	pthread_cond_destroy(&c.cv);
	return rc;
}
