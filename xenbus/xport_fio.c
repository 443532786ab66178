/* SPDX-License-Identifier: MIT */
/*
 * The frontend's request path (docs/protocol.md §4-§7, §10): per-queue
 * backlogs, posting chains built from transport buffers in either
 * addressing mode, completions checked by vq_driver.c, and what happens to
 * in-flight requests when a session ends.
 *
 * A request goes to the ring at once when the session is up and nothing
 * waits before it; otherwise it waits in a per-queue backlog (submission
 * order) until the ring has room and a session is up.  Once posted it is
 * on the vq's in-flight list (posting order).  At teardown the used ring
 * is harvested once more and what is still in flight goes back to the
 * head of the backlog, so the next session resubmits those requests in
 * their original order and every request is handed back exactly once:
 * through a used entry, or with -ECANCELED when the device goes away.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xport_front_impl.h"

static void put_ind(struct xvio_xport_fdev *d, struct xvio_xport_freq *r)
{
	if (r->ind.ptr)
		xport_area_free(&d->area, &r->ind);
}

/* Hand r back (status already set) from deferred work. */
static void finish_later(struct xvio_xport_fdev *d, struct xvio_xport_freq *r)
{
	put_ind(d, r);
	rl_append(&d->done, r);
	xport_defer(d->f->ctx, &d->defer);
}

/* ---- posting ---- */

/* Bus address of area offset `off` (§5). */
static uint64_t bus_addr(const struct xvio_xport_fdev *d, uint32_t off)
{
	if (!grant_mode(d))
		return off;
	return XVIO_ADDR_GRANT | (uint64_t)d->area.refs[off >> XVIO_PAGE_SHIFT] << 12 |
	       (off & (XVIO_PAGE_SIZE - 1));
}

/*
 * Grant mode: one descriptor per run of pages with consecutive refs
 * (§5.2 addresses n pages as gref, gref+1, ...).  Returns the descriptors
 * used or -E2BIG.
 */
static int grant_segs(const struct xvio_xport_fdev *d, uint32_t off, uint32_t len, bool write,
                      struct xvio_seg *segs, unsigned n)
{
	const xvio_gref_t *refs = d->area.refs;

	while (len > 0) {
		uint32_t page = off >> XVIO_PAGE_SHIFT;
		uint32_t run = XVIO_PAGE_SIZE - (off & (XVIO_PAGE_SIZE - 1));

		while (run < len && refs[page + 1] == refs[page] + 1) {
			page++;
			run += XVIO_PAGE_SIZE;
		}
		if (run > len)
			run = len;
		if (n >= XVIO_VQ_MAX_CHAIN)
			return -E2BIG;
		segs[n++] = (struct xvio_seg){ bus_addr(d, off), run, write };
		off += run;
		len -= run;
	}
	return (int)n;
}

/* The chain of a checked request; *in_bytes its writable bytes. */
static int build_segs(const struct xvio_xport_fdev *d, const struct xvio_xport_freq *r,
                      struct xvio_seg *segs, uint32_t *in_bytes)
{
	/* Copies: the segment stores below could alias the request. */
	unsigned nout = r->nout, total = nout + r->nin;
	uint32_t in = 0; /* check_req() bounded the sum */
	int n = 0;

	if (!grant_mode(d)) {
		/* One descriptor per sg entry; check_req() bounded the count. */
		for (unsigned i = 0; i < total; i++) {
			const struct xvio_xport_sg *sg = &r->sg[i];

			segs[i] = (struct xvio_seg){ sg->buf->off + sg->off, sg->len, i >= nout };
			in += i >= nout ? sg->len : 0;
		}
		*in_bytes = in;
		return (int)total;
	}
	for (unsigned i = 0; i < total; i++) {
		const struct xvio_xport_sg *sg = &r->sg[i];

		n = grant_segs(d, sg->buf->off + sg->off, sg->len, i >= nout, segs, (unsigned)n);
		if (n < 0)
			return n;
		in += i >= nout ? sg->len : 0;
	}
	*in_bytes = in;
	return n;
}

/* Post one request: 0, -ENOSPC/-ENOMEM (wait for completions), or a
 * permanent -errno for this request. */
static int post_one(struct fq *q, struct xvio_xport_freq *r)
{
	struct xvio_xport_fdev *d = q->d;
	struct xvio_vq_indirect ind, *pind = NULL;
	uint32_t in_bytes;
	int n = build_segs(d, r, q->segs, &in_bytes), rc;

	if (n < 0)
		return n;
	if ((d->features & XVIO_XPORT_F_INDIRECT) && !(r->flags & XVIO_XPORT_REQ_DIRECT) &&
	    n > 1) {
		rc = xport_area_alloc(&d->area, (uint32_t)n * 16u, &r->ind);
		if (rc == 0) {
			ind = (struct xvio_vq_indirect){ r->ind.ptr, bus_addr(d, r->ind.off),
			                                 (unsigned)n };
			pind = &ind;
		} else if ((unsigned)n > xvio_vqd_free_descs(q->vq)) {
			return -ENOMEM; /* neither fits now */
		}
	}
	if (pind) {
		rc = xvio_vqd_add(q->vq, q->segs, (unsigned)n, r, pind);
		if (rc < 0)
			put_ind(d, r);
		return rc;
	}
	if ((unsigned)n > q->size)
		return -E2BIG;
	return xvio_vqd_add_checked(q->vq, q->segs, (unsigned)n, in_bytes, r);
}

/* Does post_one()'s result say wait (keep the request, try later)? */
static bool post_must_wait(int rc)
{
	return rc == -ENOSPC || rc == -ENOMEM || rc == -EPROTO; /* EPROTO: broken */
}

/* r left the backlog (or never joined it) with post_one()'s result. */
static void post_done(struct fq *q, struct xvio_xport_freq *r, int rc)
{
	struct xvio_xport_fdev *d = q->d;

	if (rc < 0) {
		r->status = rc;
		d->pending--;
		finish_later(d, r);
	}
	/* else in flight: the vq keeps it, in posting order */
}

/* Something was posted: publish it with the next flush, poll for it. */
static void posted(struct fq *q)
{
	q->kick = true;
	xport_q_want_flush(&q->q);
	xport_q_activate(&q->q);
}

/* Move requests from the backlog to the ring while it has room. */
static void fq_post(struct fq *q)
{
	struct rlist *bl = &q->d->backlog[q->idx];
	bool any = false;

	while (q->up && bl->head) {
		int rc = post_one(q, bl->head);

		if (post_must_wait(rc))
			break;
		post_done(q, rl_pop(bl), rc);
		any |= rc == 0;
	}
	if (any)
		posted(q);
}

/* ---- queue callbacks for the context ---- */

/* Completions between publications of avail.idx within one pass. */
#define PUBLISH_BATCH 16u

static void fq_flush(struct xport_q *xq);

static void note_fault(struct xvio_xport_fdev *d, const char *msg)
{
	if (!d->fault) {
		d->fault = true;
		snprintf(d->fault_msg, sizeof(d->fault_msg), "%s", msg);
	}
	xport_defer(d->f->ctx, &d->defer);
}

/*
 * A polling pass that found nothing: ask for the line the oldest request's
 * answer lands in.  The device writes it before it publishes the used
 * entry, so a pass in between brings it here while the entry is still on
 * its way.  The window is short (a backend publishes right after its
 * device answers): measured 2-4% off a depth-1 round trip, not the whole
 * miss (docs/performance.md).  A prefetch never faults; the buffer is the
 * caller's, held until the completion.
 */
static void prefetch_answer(const struct fq *q)
{
	const struct xvio_xport_freq *r = xvio_vqd_oldest(q->vq);

	if (r && r->nin > 0) {
		const struct xvio_xport_sg *sg = &r->sg[r->nout];

		__builtin_prefetch((const char *)sg->buf->ptr + sg->off, 0, 3);
	}
}

static unsigned fq_service(struct xport_q *xq)
{
	struct fq *q = XPORT_CONTAINER(xq, struct fq, q);
	struct xvio_xport_fdev *d = q->d;
	unsigned n = 0;

	while (n < XPORT_BUDGET && q->up) {
		void *cookie;
		uint32_t len;
		int rc = xvio_vqd_get_used(q->vq, &cookie, &len);

		if (rc == 0) {
			if (n == 0)
				prefetch_answer(q);
			break;
		}
		if (rc < 0) {
			char msg[XVIO_ERR_MSG_MAX];

			q->up = false; /* broken: nothing more until teardown */
			snprintf(msg, sizeof(msg), "queue %u: %s", q->idx, xvio_vqd_error(q->vq));
			note_fault(d, msg);
			break;
		}
		struct xvio_xport_freq *r = cookie;
		put_ind(d, r);
		r->status = 0;
		r->len = len;
		d->pending--;
		n++;
		d->f->p.ops->complete(d, r);
		/* What the callbacks submitted goes out every PUBLISH_BATCH
		 * completions, and once the completions seen are taken, not
		 * at the end of the dispatch: the backend starts on it while
		 * we look for more (one request in flight: at once). */
		if (n % PUBLISH_BATCH == 0 || !xvio_vqd_used_seen(q->vq))
			fq_flush(&q->q);
	}
	if (n > 0)
		fq_post(q);
	return n;
}

static void fq_quiet(struct xport_q *xq)
{
	struct fq *q = XPORT_CONTAINER(xq, struct fq, q);

	if (q->vq)
		xvio_vqd_disable_cb(q->vq);
}

static bool fq_arm(struct xport_q *xq)
{
	struct fq *q = XPORT_CONTAINER(xq, struct fq, q);

	return !q->vq || xvio_vqd_enable_cb(q->vq);
}

static void fq_flush(struct xport_q *xq)
{
	struct fq *q = XPORT_CONTAINER(xq, struct fq, q);

	if (!q->kick || !q->vq)
		return;
	q->kick = false;
	if (xvio_vqd_kick_prepare(q->vq))
		xvio_evtchn_notify(xport_ctx_evtchn(q->d->f->ctx), q->port);
}

static const struct xport_q_ops fq_ops = {
	.service = fq_service,
	.quiet = fq_quiet,
	.arm = fq_arm,
	.flush = fq_flush,
};

/* ---- session resources ---- */

/* May the grants of this session be ended: did the backend let go? (§7) */
bool fdev_backend_let_go(const struct xvio_xport_fdev *d)
{
	switch (xvio_xb_dev_peer_state(d->xb)) {
	case XenbusStateUnknown:
	case XenbusStateInitialising:
	case XenbusStateInitWait:
	case XenbusStateClosed:
		return true;
	default:
		return false;
	}
}

int fq_create(struct xvio_xport_fdev *d, unsigned idx, struct fq **out, struct xvio_err *err)
{
	struct xvio_xport_ctx *c = d->f->ctx;
	xvio_domid_t be = xvio_xb_dev_peer_id(d->xb);
	struct fq *q = calloc(1, sizeof(*q));
	int rc;

	if (!q)
		return xvio_err_set(err, ENOMEM, "%s: out of memory", d->path);
	xport_q_init(&q->q, c, &fq_ops);
	q->d = d;
	q->idx = idx;
	q->size = d->qsize;
	q->npages = xvio_vring_pages(q->size);
	if (q->npages == 0 || q->npages > XPORT_MAX_RING_PAGES) {
		rc = xvio_err_set(err, EINVAL, "queue %u: bad size %u", idx, q->size);
		free(q);
		return rc;
	}
	/* Fresh pages come zeroed (§4). */
	rc = xvio_gnt_share(xvio_xport_ctx_plat(c), be, q->npages, true, q->refs, &q->ring,
	                    &q->ring_share);
	if (rc < 0) {
		xvio_err_set(err, -rc, "queue %u: cannot grant %u ring pages: %s", idx, q->npages,
		             strerror(-rc));
		goto fail;
	}
	rc = xvio_vqd_new(q->ring, q->size, d->features, &q->vq);
	if (rc < 0) {
		xvio_err_set(err, -rc, "queue %u: %s", idx, strerror(-rc));
		goto fail;
	}
	rc = xvio_evtchn_alloc_unbound(xport_ctx_evtchn(c), be);
	if (rc < 0) {
		xvio_err_set(err, -rc, "queue %u: cannot allocate an event channel: %s", idx,
		             strerror(-rc));
		goto fail;
	}
	q->port = (xvio_port_t)rc;
	rc = xport_q_route(&q->q, q->port);
	if (rc < 0) {
		xvio_err_set(err, -rc, "queue %u: %s", idx, strerror(-rc));
		goto fail;
	}
	*out = q;
	return 0;
fail:
	if (q->port)
		xvio_evtchn_unbind(xport_ctx_evtchn(c), q->port);
	xvio_vqd_free(q->vq);
	xport_share_release(q->ring_share, true); /* never published */
	free(q);
	return rc;
}

/* The requests still in flight at teardown, collected in posting order. */
struct keep {
	struct xvio_xport_fdev *d;
	struct rlist list;
};

static void keep_one(void *cookie, void *arg)
{
	struct keep *k = arg;
	struct xvio_xport_freq *r = cookie;

	put_ind(k->d, r);
	rl_append(&k->list, r);
}

/*
 * End a queue's session: harvest completions the backend published
 * (validated like any other), keep the rest for the next session in their
 * original order, release ring, port.
 */
static void fq_destroy(struct fq *q, bool may_end)
{
	struct xvio_xport_fdev *d = q->d;
	struct xvio_evtchn *ev = xport_ctx_evtchn(d->f->ctx);

	xport_q_detach(&q->q);
	for (;;) {
		void *cookie;
		uint32_t len;

		if (xvio_vqd_get_used(q->vq, &cookie, &len) <= 0)
			break;
		struct xvio_xport_freq *r = cookie;
		r->status = 0;
		r->len = len;
		d->pending--;
		finish_later(d, r);
	}
	/*
	 * The rest go back to the head of the backlog, in posting order.  The
	 * ring itself is left alone (no reset): if the backend still maps it
	 * (we are closing under a live backend) it must not see it change;
	 * the pages are abandoned then, and never reused either way.
	 */
	struct keep k = { d, { NULL, NULL } };

	xvio_vqd_for_each(q->vq, keep_one, &k);
	rl_prepend(&d->backlog[q->idx], &k.list);
	xvio_vqd_free(q->vq);
	if (q->port)
		xvio_evtchn_unbind(ev, q->port);
	xport_share_release(q->ring_share, may_end);
	free(q);
}

void fdev_destroy_queues(struct xvio_xport_fdev *d)
{
	bool may_end = fdev_backend_let_go(d);

	for (unsigned i = 0; i < XVIO_XPORT_MAX_QUEUES; i++) {
		if (d->q[i])
			fq_destroy(d->q[i], may_end);
		d->q[i] = NULL;
	}
}

void fdev_cancel_all(struct xvio_xport_fdev *d)
{
	struct xvio_xport_freq *r;

	while ((r = rl_pop(&d->done)))
		d->f->p.ops->complete(d, r);
	for (unsigned i = 0; i < XVIO_XPORT_MAX_QUEUES; i++) {
		while ((r = rl_pop(&d->backlog[i]))) {
			put_ind(d, r);
			r->status = -ECANCELED;
			d->pending--;
			d->f->p.ops->complete(d, r);
		}
	}
}

void fdev_start_io(struct xvio_xport_fdev *d)
{
	/* Requests for queues this session does not have cannot run. */
	for (unsigned i = d->nq; i < XVIO_XPORT_MAX_QUEUES; i++) {
		struct xvio_xport_freq *r;

		while ((r = rl_pop(&d->backlog[i]))) {
			r->status = -ECANCELED;
			d->pending--;
			finish_later(d, r);
		}
	}
	d->running = true;
	d->sessions++;
	for (unsigned i = 0; i < d->nq; i++) {
		d->q[i]->up = true;
		fq_post(d->q[i]); /* kept requests first, in order */
		xport_q_activate(&d->q[i]->q);
	}
	if (d->f->p.ops->connected)
		d->f->p.ops->connected(d);
}

/* ---- the caller's API ---- */

int xvio_xport_buf_alloc(struct xvio_xport_fdev *d, uint32_t len, struct xvio_xport_buf *b)
{
	if (d->removed)
		return -ENODEV;
	return xport_area_alloc(&d->area, len, b);
}

void xvio_xport_buf_free(struct xvio_xport_fdev *d, struct xvio_xport_buf *b)
{
	xport_area_free(&d->area, b);
}

/*
 * The one check of a request: its chain then keeps every rule of
 * xvio_vqd_add() by construction (readable entries come first, and a
 * grant-mode split only shortens segments), so posting it does not
 * check again (xvio_vqd_add_checked).
 */
static int check_req(const struct xvio_xport_fdev *d, unsigned queue,
                     const struct xvio_xport_freq *r)
{
	unsigned n = r->nout + r->nin;
	uint64_t total = 0;

	if (queue >= (d->nq ? d->nq : 1) || !r->sg || n == 0 || n > XVIO_VQ_MAX_CHAIN)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		const struct xvio_xport_sg *sg = &r->sg[i];

		if (!sg->buf || !sg->buf->ptr || sg->len == 0 || sg->len > XVIO_VQ_MAX_SEG ||
		    sg->off > sg->buf->len || sg->len > sg->buf->len - sg->off)
			return -EINVAL;
		total += sg->len;
	}
	return total > XVIO_VQ_MAX_CHAIN_BYTES ? -EINVAL : 0;
}

int xvio_xport_submit(struct xvio_xport_fdev *d, unsigned queue, struct xvio_xport_freq *r)
{
	struct fq *q;
	int rc;

	if (d->removed)
		return -ENODEV;
	rc = check_req(d, queue, r);
	if (rc < 0)
		return rc;
	r->queue = queue;
	r->status = 0;
	r->len = 0;
	r->ind.ptr = NULL;
	d->pending++;
	q = d->q[queue];
	if (!q || !q->up || d->backlog[queue].head) {
		/* No session, or others wait before it: in order, via the backlog. */
		rl_append(&d->backlog[queue], r);
		if (q && q->up)
			fq_post(q);
		return 0;
	}
	rc = post_one(q, r);
	if (post_must_wait(rc)) {
		rl_append(&d->backlog[queue], r);
		return 0;
	}
	post_done(q, r, rc);
	if (rc == 0)
		posted(q);
	return 0;
}

