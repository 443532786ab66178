/* SPDX-License-Identifier: MIT */
/*
 * The transport context: one event loop's handles, the routing of
 * event-channel ports to queues, adaptive polling, deferred work and the
 * discovery of device directories.
 *
 * Adaptive polling: a queue becomes active when its port fires or when
 * the frontend posts to it.  While active, notifications from the peer
 * are off and every dispatch services the queue; once it found nothing for
 * spin_us, the queue re-enables notifications (arm: enable, full barrier,
 * one more look) and leaves the active list.  With no active queue the
 * loop sleeps in poll() on the two fds, for at most XVIO_WATCH_CHECK_MS
 * (5 s): libxenstore does not wake it when xenstore goes away (watch.c),
 * so each timeout makes dispatch look (an uncontended lock, no request),
 * which returns -ENOTCONN once the connection is lost.  An idle process
 * costs a few system calls every 5 s.
 *
 * A polling pass makes no system call: it reads the rings, and the clock
 * (vDSO, still ~40 ns on a VM) every CLOCK_PASSES passes.  The
 * event-channel fd and the watch queue are read at most every FD_CHECK_NS
 * while a queue polls (the polled queues' peers do not notify meanwhile,
 * and events latch, so other ports and watches wait at most that long),
 * and xvio_xport_ctx_run() skips its ppoll() then too.  Only when polling
 * has found nothing for YIELD_NS does a pass yield the CPU (see
 * poll_active).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>

#include "xport_impl.h"

/* Watch events and port events taken per dispatch (bounded work). */
#define WATCH_BUDGET 64u
#define EVENT_BUDGET 256u
#define DEFER_BUDGET 1024u

/* While a queue polls: the longest wait before the event-channel fd (and,
 * in the run loop, the watch fd and signals) are looked at. */
#define FD_CHECK_NS 20000u
/* Polling passes between looks at the clock (an empty pass is ~50 ns). */
#define CLOCK_PASSES 8u
/* Polling that found nothing for this long yields the CPU at each pass. */
#define YIELD_NS 2000u

struct xvio_xport_ctx {
	struct xs_handle *xs;
	struct xvio_watcher *w;
	struct xvio_plat *plat;
	struct xvio_evtchn *ev;
	xvio_domid_t domid;
	uint64_t spin_ns;

	struct xport_q **route;   /* by local port */
	unsigned nroute;
	unsigned nrouted;         /* ports with a queue */
	uint64_t clock_ns;        /* the last clock reading (polling, waking) */
	uint64_t fd_checked_ns;   /* the event fd was last read */
	uint64_t work_ns;         /* polling last found work (as of clock_ns) */
	bool worked;              /* work since the last clock reading */
	unsigned passes;
	struct xport_q *ahead, *atail;
	struct xport_q *fhead;
	struct xport_defer *dhead, *dtail;
	bool in_dispatch;
	bool batching;            /* between batch_begin and batch_end */
	volatile sig_atomic_t stop; /* set by signal handlers too */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- lifetime ---- */

static void ctx_close(struct xvio_xport_ctx *c)
{
	if (c->ev)
		xvio_evtchn_close(c->ev);
	if (c->plat)
		xvio_plat_close(c->plat);
	xvio_watcher_free(c->w);
	if (c->xs)
		xs_close(c->xs);
	free(c->route);
	free(c);
}

int xvio_xport_ctx_new(const struct xvio_xport_ctx_params *p, struct xvio_xport_ctx **out,
                       struct xvio_err *err)
{
	struct xvio_xport_ctx *c;
	int rc;

	if (!out)
		return xvio_err_set(err, EINVAL, "transport context: no result pointer");
	c = calloc(1, sizeof(*c));
	if (!c)
		return xvio_err_set(err, ENOMEM, "transport context: out of memory");
	c->spin_ns = (uint64_t)(p ? p->spin_us : XVIO_XPORT_SPIN_DEFAULT) * 1000u;
	c->xs = xs_open(0);
	if (!c->xs) {
		rc = xvio_err_set(err, errno ? errno : EIO, "xenstore: cannot connect: %s",
		                  strerror(errno ? errno : EIO));
		goto fail;
	}
	rc = xvio_watcher_new(c->xs, &c->w);
	if (rc < 0) {
		xvio_err_set(err, -rc, "xenstore watcher: %s", strerror(-rc));
		goto fail;
	}
	rc = xvio_plat_open(p ? p->platform : NULL, &c->plat);
	if (rc == 0)
		rc = xvio_plat_self_domid(c->plat, &c->domid);
	if (rc == 0)
		rc = xvio_evtchn_open(c->plat, &c->ev);
	if (rc < 0) {
		xvio_err_set(err, -rc, "platform: %s", strerror(-rc));
		goto fail;
	}
	*out = c;
	return 0;
fail:
	ctx_close(c);
	return rc;
}

void xvio_xport_ctx_free(struct xvio_xport_ctx *c)
{
	if (c)
		ctx_close(c);
}

struct xs_handle *xvio_xport_ctx_xs(struct xvio_xport_ctx *c)
{
	return c->xs;
}

struct xvio_watcher *xvio_xport_ctx_watcher(struct xvio_xport_ctx *c)
{
	return c->w;
}

struct xvio_plat *xvio_xport_ctx_plat(struct xvio_xport_ctx *c)
{
	return c->plat;
}

xvio_domid_t xvio_xport_ctx_domid(const struct xvio_xport_ctx *c)
{
	return c->domid;
}

struct xvio_evtchn *xport_ctx_evtchn(struct xvio_xport_ctx *c)
{
	return c->ev;
}

bool xport_ctx_in_dispatch(const struct xvio_xport_ctx *c)
{
	return c->in_dispatch;
}

/* ---- queues ---- */

void xport_q_init(struct xport_q *q, struct xvio_xport_ctx *c, const struct xport_q_ops *ops)
{
	memset(q, 0, sizeof(*q));
	q->ctx = c;
	q->ops = ops;
}

int xport_q_route(struct xport_q *q, xvio_port_t port)
{
	struct xvio_xport_ctx *c = q->ctx;

	if (port == 0 || port > (1u << 20))
		return -EINVAL;
	if (port >= c->nroute) {
		unsigned n = c->nroute ? c->nroute : 64;
		struct xport_q **r;

		while (n <= port)
			n *= 2;
		r = realloc(c->route, n * sizeof(*r));
		if (!r)
			return -ENOMEM;
		memset(r + c->nroute, 0, (n - c->nroute) * sizeof(*r));
		c->route = r;
		c->nroute = n;
	}
	if (!c->route[port])
		c->nrouted++;
	c->route[port] = q;
	q->port = port;
	return 0;
}

static void active_unlink(struct xport_q *q)
{
	struct xvio_xport_ctx *c = q->ctx;

	if (!q->active)
		return;
	if (q->aprev)
		q->aprev->anext = q->anext;
	else
		c->ahead = q->anext;
	if (q->anext)
		q->anext->aprev = q->aprev;
	else
		c->atail = q->aprev;
	q->anext = q->aprev = NULL;
	q->active = false;
}

void xport_q_detach(struct xport_q *q)
{
	struct xvio_xport_ctx *c = q->ctx;

	if (!c)
		return;
	if (q->port && q->port < c->nroute && c->route[q->port] == q) {
		c->route[q->port] = NULL;
		c->nrouted--;
	}
	q->port = 0;
	active_unlink(q);
	if (q->flushing) {
		struct xport_q **pp = &c->fhead;

		while (*pp && *pp != q)
			pp = &(*pp)->fnext;
		if (*pp)
			*pp = q->fnext;
		q->flushing = false;
		q->fnext = NULL;
	}
}

/* The slow half of xport_q_activate(): q was not polling. */
void xport_q_join_active(struct xport_q *q)
{
	struct xvio_xport_ctx *c = q->ctx;

	c->worked = true; /* no yield before the peer had a chance */
	q->ops->quiet(q);
	q->active = true;
	q->anext = NULL;
	q->aprev = c->atail;
	if (c->atail)
		c->atail->anext = q;
	else
		c->ahead = q;
	c->atail = q;
}

/* The slow half of xport_q_want_flush(): q is not on the flush list. */
void xport_q_join_flush(struct xport_q *q)
{
	struct xvio_xport_ctx *c = q->ctx;

	if (!c->in_dispatch && !c->batching) {
		q->ops->flush(q);
		return;
	}
	q->flushing = true;
	q->fnext = c->fhead;
	c->fhead = q;
}

static void flush_all(struct xvio_xport_ctx *c)
{
	while (c->fhead) {
		struct xport_q *q = c->fhead;

		c->fhead = q->fnext;
		q->fnext = NULL;
		q->flushing = false;
		q->ops->flush(q);
	}
}

/*
 * Ports that fired: unmask at once (later events latch while we look at
 * the ring) and poll their queues.  Once every routed port was reported
 * the loop stops without the call that would find the set empty (a
 * system call): anything left is latched and makes the fd readable.
 */
static void take_events(struct xvio_xport_ctx *c)
{
	unsigned routed = 0;

	for (unsigned i = 0; i < EVENT_BUDGET; i++) {
		int port = xvio_evtchn_pending(c->ev);
		struct xport_q *q;

		if (port < 0)
			break;
		xvio_evtchn_unmask(c->ev, (xvio_port_t)port);
		q = (unsigned)port < c->nroute ? c->route[port] : NULL;
		if (q) {
			xport_q_activate(q);
			if (++routed >= c->nrouted)
				break;
		}
	}
}

/* Is it time to read the fds: always when no queue polls (we were woken,
 * or the caller has no other reason to call), else every FD_CHECK_NS. */
static bool fds_due(struct xvio_xport_ctx *c)
{
	if (!c->ahead)
		c->clock_ns = now_ns();
	else if (c->clock_ns - c->fd_checked_ns < FD_CHECK_NS)
		return false;
	c->fd_checked_ns = c->clock_ns;
	return true;
}

/* No spin window: a queue that found nothing re-arms at once. */
static void rearm_idle(struct xport_q *head)
{
	struct xport_q *q, *next;

	for (q = head; q; q = next) {
		next = q->anext;
		if (q->fresh)
			q->fresh = false;
		else if (q->ops->arm(q))
			active_unlink(q);
		else
			q->ops->quiet(q); /* work arrived: one more pass */
	}
}

/*
 * One look at every active queue.  Services never free queues (faults and
 * teardown are deferred), so the next pointer taken before the call stays
 * valid; queues activated meanwhile join at the tail.  Windows are kept
 * in a second walk, every CLOCK_PASSES passes, after one clock read: a
 * queue that found work meanwhile (fresh) starts a new window then.
 */
static void poll_active(struct xvio_xport_ctx *c)
{
	struct xport_q *q, *next;
	uint64_t now;

	if (!c->ahead)
		return;
	for (q = c->ahead; q; q = next) {
		unsigned n = q->ops->service(q);

		next = q->anext;
		if (n > 0 && q->active) {
			q->fresh = true;
			c->worked = true;
		}
	}
	if (++c->passes % CLOCK_PASSES == 0)
		c->clock_ns = now_ns(); /* fds_due() runs on it, busy or not */
	if (c->spin_ns == 0) {
		rearm_idle(c->ahead);
		return;
	}
	if (c->passes % CLOCK_PASSES != 0)
		return;
	now = c->clock_ns;
	if (c->worked) {
		c->worked = false;
		c->work_ns = now;
	}
	for (q = c->ahead; q; q = next) {
		next = q->anext;
		if (q->fresh) {
			q->fresh = false;
			q->deadline_ns = now + c->spin_ns;
		} else if (now >= q->deadline_ns) {
			if (q->ops->arm(q))
				active_unlink(q);
			else
				q->ops->quiet(q); /* work arrived: keep polling */
		}
	}
	/*
	 * Polling found nothing for a while: give the CPU to whoever else
	 * wants it.  On a machine with fewer free CPUs than pollers (the
	 * peer, the simulator) a pure busy loop would hold the CPU the peer
	 * needs to produce what we wait for; measured with one request in
	 * flight on 2 shared cores, yielding made spinning 7x faster.  Not
	 * at once: sched_yield() is a system call (~0.4 us here), as long as
	 * a whole busy-polled round trip, and a peer with its own CPU
	 * answers sooner than that.
	 */
	if (c->ahead && now - c->work_ns >= YIELD_NS)
		sched_yield();
}

/* ---- deferred work ---- */

void xport_defer(struct xvio_xport_ctx *c, struct xport_defer *df)
{
	if (df->queued)
		return;
	df->queued = true;
	df->next = NULL;
	df->prev = c->dtail;
	if (c->dtail)
		c->dtail->next = df;
	else
		c->dhead = df;
	c->dtail = df;
}

void xport_defer_cancel(struct xvio_xport_ctx *c, struct xport_defer *df)
{
	if (!df->queued)
		return;
	if (df->prev)
		df->prev->next = df->next;
	else
		c->dhead = df->next;
	if (df->next)
		df->next->prev = df->prev;
	else
		c->dtail = df->prev;
	df->next = df->prev = NULL;
	df->queued = false;
}

void xport_ctx_run_deferred(struct xvio_xport_ctx *c)
{
	for (unsigned i = 0; i < DEFER_BUDGET && c->dhead; i++) {
		struct xport_defer *df = c->dhead;

		xport_defer_cancel(c, df);
		df->fn(df);
	}
}

/* ---- the loop ---- */

int xvio_xport_ctx_fds(struct xvio_xport_ctx *c, int fds[XVIO_XPORT_CTX_NFDS])
{
	fds[0] = xvio_watcher_fd(c->w);
	fds[1] = xvio_evtchn_fd(c->ev);
	return XVIO_XPORT_CTX_NFDS;
}

int xvio_xport_ctx_timeout(const struct xvio_xport_ctx *c)
{
	/* Never infinite: the watcher must be looked at now and then. */
	return c->ahead || c->dhead || c->fhead ? 0 : XVIO_WATCH_CHECK_MS;
}

int xvio_xport_ctx_dispatch(struct xvio_xport_ctx *c)
{
	bool fds = fds_due(c);
	int rc;

	c->in_dispatch = true;
	/* Watch events wait in libxenstore's queue (no system call to look,
	 * but a lock and ~150 instructions): like the event fd, looked at
	 * every FD_CHECK_NS while queues poll. */
	rc = fds ? xvio_watcher_dispatch(c->w, WATCH_BUDGET) : 0;
	if (rc >= 0) {
		if (fds)
			take_events(c);
		poll_active(c);
		flush_all(c);
		xport_ctx_run_deferred(c);
		flush_all(c);
	}
	c->in_dispatch = false;
	return rc < 0 ? rc : 0;
}

int xvio_xport_ctx_run(struct xvio_xport_ctx *c, const sigset_t *wait_mask)
{
	struct pollfd pfd[XVIO_XPORT_CTX_NFDS];
	int fds[XVIO_XPORT_CTX_NFDS];

	xvio_xport_ctx_fds(c, fds);
	for (unsigned i = 0; i < XVIO_XPORT_CTX_NFDS; i++)
		pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	while (!c->stop) {
		static const struct timespec zero = { 0, 0 };
		static const struct timespec idle = {
			XVIO_WATCH_CHECK_MS / 1000, XVIO_WATCH_CHECK_MS % 1000 * 1000000L
		};
		int rc = 0;

		/* While queues poll, dispatch looks at the fds itself (every
		 * FD_CHECK_NS); signals wait for those looks too. */
		if (!c->ahead || c->dhead || c->fhead ||
		    c->clock_ns - c->fd_checked_ns >= FD_CHECK_NS)
			rc = ppoll(pfd, XVIO_XPORT_CTX_NFDS,
			           xvio_xport_ctx_timeout(c) == 0 ? &zero : &idle, wait_mask);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (c->stop)
			break;
		rc = xvio_xport_ctx_dispatch(c);
		if (rc < 0)
			return rc;
	}
	c->stop = 0;
	return 0;
}

void xvio_xport_ctx_batch_begin(struct xvio_xport_ctx *c)
{
	c->batching = true;
}

void xvio_xport_ctx_batch_end(struct xvio_xport_ctx *c)
{
	c->batching = false;
	flush_all(c);
}

void xvio_xport_ctx_stop(struct xvio_xport_ctx *c)
{
	c->stop = 1;
}

/* ---- discovery ---- */

int xport_path_id(const char *path, unsigned max, unsigned *out)
{
	const char *s = strrchr(path, '/');
	uint64_t v;
	int rc;

	s = s ? s + 1 : path;
	rc = xvio_parse_u64(path, s, strlen(s), 0, 0, max, &v, NULL);
	if (rc < 0)
		return rc;
	*out = (unsigned)v;
	return 0;
}

/* Report every directory `levels` below `dir`. */
static void scan_dir(struct xport_scan *s, const char *dir, unsigned levels)
{
	unsigned n = 0;
	char **names = xs_directory(s->ctx->xs, XBT_NULL, dir, &n);

	if (!names)
		return;
	for (unsigned i = 0; i < n; i++) {
		char child[XPORT_PATH_MAX];

		if (xvio_xs_path(child, sizeof(child), dir, names[i]) < 0)
			continue;
		if (levels == 1)
			s->found(s, child);
		else
			scan_dir(s, child, levels - 1);
	}
	free(names);
}

/*
 * A watch event below base names the device it touched in its first
 * `depth` components; shallower events (the registration's, a new
 * domain's directory) rescan what lies below them.
 */
static void on_scan_event(struct xvio_watcher *w, int id, const char *path, void *arg)
{
	struct xport_scan *s = arg;
	size_t bl = strlen(s->base);
	char dev[XPORT_PATH_MAX];
	const char *p;
	unsigned levels = 0;

	if (strncmp(path, s->base, bl) != 0 || (path[bl] != '/' && path[bl] != '\0')) {
		scan_dir(s, s->base, s->depth);
		return;
	}
	p = path + bl;
	while (*p == '/' && levels < s->depth) {
		const char *e = strchr(p + 1, '/');

		p = e ? e : p + strlen(p);
		levels++;
	}
	if ((size_t)(p - path) >= sizeof(dev))
		return;
	memcpy(dev, path, (size_t)(p - path));
	dev[p - path] = '\0';
	if (levels == s->depth)
		s->found(s, dev);
	else
		scan_dir(s, dev, s->depth - levels);
}

int xport_scan_start(struct xport_scan *s, struct xvio_err *err)
{
	int rc;

	scan_dir(s, s->base, s->depth);
	rc = xvio_watch_add(s->ctx->w, s->base, on_scan_event, s, err);
	if (rc < 0)
		return rc;
	s->watch_id = rc;
	return 0;
}

void xport_scan_stop(struct xport_scan *s)
{
	if (s->watch_id > 0)
		xvio_watch_remove(s->ctx->w, s->watch_id);
	s->watch_id = 0;
}
