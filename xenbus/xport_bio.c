/* SPDX-License-Identifier: MIT */
/*
 * The backend's request path (docs/protocol.md §5, §6, §10): take chains
 * from a ring it must assume hostile (vq_device.c copies and checks them),
 * translate every bus address into local memory, hand the request to the
 * device, publish completions, notify.
 *
 * data-area  an address is an offset: a bounds check and an addition.
 *            The area is mapped in 4 MiB pieces (one per map call), so a
 *            descriptor crossing a piece becomes two iovecs.
 * grant      a batch of chains is mapped together: every readable page in
 *            read-only map calls, every writable page in writable ones (at
 *            most 1024 pages a call), each page once (small buffers share
 *            pages) and in ref order (so runs of pages map as one range).  A group of requests shares those
 *            mappings; when its last request completes the mappings are
 *            unmapped and only then are the used entries published (§5.2:
 *            the frontend may reuse the grants as soon as it sees them).
 *            Indirect tables are mapped one by one while vq copies them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xport_back_impl.h"

#define WIN_PAGES XVIO_PLAT_MAX_BATCH
/* Pages one grant-mode batch gathers before it is mapped. */
#define GRP_PAGES 1024u
/* Chains one grant-mode batch takes: more chains share each map call. */
#define GRP_CHAINS 256u

struct gwin {
	bool rw;
	unsigned n;
	void *base;
	struct xvio_gnt_map *map;
	xvio_gref_t refs[WIN_PAGES];
};

struct bgrp {
	struct bq *q;
	struct bgrp *next, *prev;   /* the queue's groups in flight */
	unsigned pending;           /* requests not completed (+1 while built) */
	unsigned pages;
	struct breq *reqs;
	unsigned nwin, capwin;
	struct gwin **win;
	int cur[2];                 /* window being filled, by rw; -1 none */
};

static struct xvio_plat *plat_of(const struct bq *q)
{
	return xvio_xport_ctx_plat(q->d->b->ctx);
}

void bdev_note_fault(struct xvio_xport_bdev *d, bool local, int err, const char *msg)
{
	if (!d->fault) {
		d->fault = true;
		d->fault_local = local;
		d->fault_err = err;
		snprintf(d->fault_msg, sizeof(d->fault_msg), "%s", msg);
	}
	xport_defer(d->b->ctx, &d->defer);
}

/* Our own trouble (out of memory) with a chain already taken: the
 * session cannot go on without losing it, so the device fails. */
static int out_of_memory(struct bq *q)
{
	char msg[64];

	q->up = false;
	snprintf(msg, sizeof(msg), "queue %u: out of memory", q->idx);
	bdev_note_fault(q->d, true, ENOMEM, msg);
	return -ENOMEM;
}

/* A violation found by us (not by vq): break the queue, fault later. */
static void violation(struct bq *q, const char *msg)
{
	xvio_vqdev_fail(q->vq, "queue %u: %s", q->idx, msg);
	q->up = false;
	bdev_note_fault(q->d, false, EPROTO, xvio_vqdev_error(q->vq));
}

/* ---- request slots ---- */

/* A chain longer than the inline arrays: heap arrays, kept for reuse. */
static __attribute__((noinline)) int breq_reserve_heap(struct breq *r, unsigned n)
{
	if (n > r->cap) {
		struct iovec *iov = malloc(n * sizeof(*iov));
		struct gpiece *plan = malloc(n * sizeof(*plan));

		if (!iov || !plan) {
			free(iov);
			free(plan);
			return -ENOMEM;
		}
		free(r->heap);
		if (r->plan != r->inl_plan)
			free(r->plan);
		r->heap = iov;
		r->plan = plan;
		r->cap = n;
	}
	r->pub.iov = r->heap;
	return 0;
}

static inline int breq_reserve(struct breq *r, unsigned n)
{
	if (n > BREQ_INLINE)
		return breq_reserve_heap(r, n);
	r->pub.iov = r->inl;
	r->plan = r->inl_plan;
	return 0;
}

static void breq_release_mem(struct breq *r)
{
	if (!r->heap && r->plan == r->inl_plan)
		return; /* the inline arrays: nothing to give back */
	if (r->plan != r->inl_plan)
		free(r->plan);
	free(r->heap);
	r->heap = NULL;
	r->plan = r->inl_plan;
	r->cap = 0;
}

static void breq_init(struct bq *q, struct breq *r, const struct xvio_chain *c)
{
	r->q = q;
	r->head = c->head;
	r->grp = NULL;
	r->gnext = NULL;
	r->len = 0;
	r->pub.queue = q->idx;
	r->pub.niov = 0;
	r->pub.nout = 0;
	r->pub.out_bytes = c->out_bytes;
	r->pub.in_bytes = c->in_bytes;
}

/* ---- data-area translation ---- */

static const char *range_ok(const struct barea *a, uint64_t addr, uint32_t len)
{
	uint64_t size = (uint64_t)a->pages * XVIO_PAGE_SIZE;

	if (addr & XVIO_ADDR_GRANT)
		return "a grant address in data-area mode";
	if (addr > size || len > size - addr)
		return "outside the data area";
	return NULL;
}

/* Split [addr, addr+len), len > 0, at mapping boundaries into iov; returns
 * the count. */
static unsigned area_iov(const struct barea *a, uint64_t addr, uint32_t len, struct iovec *iov)
{
	uint32_t first = XPORT_CHUNK_BYTES - (uint32_t)(addr & (XPORT_CHUNK_BYTES - 1));
	unsigned n = 0;

	if (len <= first) { /* within one mapping: nearly always */
		iov[0] = (struct iovec){ a->base[addr >> XPORT_CHUNK_SHIFT] +
		                         (addr & (XPORT_CHUNK_BYTES - 1)), len };
		return 1;
	}

	while (len > 0) {
		unsigned m = (unsigned)(addr >> XPORT_CHUNK_SHIFT);
		uint32_t off = (uint32_t)(addr & (XPORT_CHUNK_BYTES - 1));
		uint32_t k = XPORT_CHUNK_BYTES - off < len ? XPORT_CHUNK_BYTES - off : len;

		iov[n++] = (struct iovec){ a->base[m] + off, k };
		addr += k;
		len -= k;
	}
	return n;
}

/* Out of line: the per-request path keeps no message buffer. */
static __attribute__((noinline, cold)) int area_violation(struct bq *q,
                                                          const struct xvio_chain *c,
                                                          unsigned i, const char *why)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "descriptor %u of chain %u: 0x%llx+%u is %s", i, c->head,
	         (unsigned long long)c->seg[i].addr, c->seg[i].len, why);
	violation(q, msg);
	return -EPROTO;
}

static int xlate_area(struct bq *q, struct breq *r, const struct xvio_chain *c)
{
	const struct barea *a = &q->d->area;
	/* Locals: the iovec stores could alias the chain and the area. */
	unsigned nseg = c->n, n = 0, nout = 0;
	struct iovec *iov;

	if (breq_reserve(r, 2 * nseg) < 0)
		return out_of_memory(q);
	iov = r->pub.iov;
	for (unsigned i = 0; i < nseg; i++) {
		const struct xvio_seg s = c->seg[i];
		const char *why = range_ok(a, s.addr, s.len);

		if (why)
			return area_violation(q, c, i, why);
		n += area_iov(a, s.addr, s.len, iov + n);
		if (!s.write)
			nout = n;
	}
	r->pub.nout = nout;
	r->pub.niov = n;
	return 0;
}

/* Indirect tables in the area: in place, or copied when split. */
static int ind_map_area(void *ctx, uint64_t addr, uint32_t len, bool write, void **ptr,
                        void **token)
{
	struct bq *q = ctx;
	const struct barea *a = &q->d->area;
	struct iovec iov[2];
	unsigned n;
	char *copy;

	if (write || range_ok(a, addr, len))
		return -EFAULT;
	n = area_iov(a, addr, len, iov);
	*token = NULL;
	if (n == 1) {
		*ptr = iov[0].iov_base;
		return 0;
	}
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, iov[0].iov_base, iov[0].iov_len);
	memcpy(copy + iov[0].iov_len, iov[1].iov_base, iov[1].iov_len);
	*ptr = copy;
	*token = copy;
	return 0;
}

static void ind_unmap_area(void *ctx, void *token)
{
	free(token);
}

/* ---- grant translation ---- */

/* Decode a grant address (§5.2): first ref and page count. */
static const char *grant_decode(uint64_t addr, uint32_t len, uint32_t *ref, uint32_t *off,
                                uint32_t *pages)
{
	uint64_t g = (addr & ~XVIO_ADDR_GRANT) >> 12;

	if (!(addr & XVIO_ADDR_GRANT))
		return "not a grant address (bit 63 clear)";
	*off = (uint32_t)(addr & (XVIO_PAGE_SIZE - 1));
	*pages = (uint32_t)(((uint64_t)*off + len + XVIO_PAGE_SIZE - 1) >> XVIO_PAGE_SHIFT);
	if (g > UINT32_MAX || g + *pages - 1 > UINT32_MAX)
		return "a grant reference beyond 32 bits";
	*ref = (uint32_t)g;
	return NULL;
}

static int ind_map_grant(void *ctx, uint64_t addr, uint32_t len, bool write, void **ptr,
                         void **token)
{
	struct bq *q = ctx;
	xvio_gref_t refs[2];
	uint32_t ref, off, pages;
	void *base;
	int rc;

	/* A table is at most 4096 bytes: one or two pages. */
	if (write || grant_decode(addr, len, &ref, &off, &pages) || pages > 2)
		return -EFAULT;
	refs[0] = ref;
	refs[1] = ref + 1;
	rc = xvio_gnt_map_domain(plat_of(q), q->d->fe_id, pages, refs, false, &base,
	                         (struct xvio_gnt_map **)token);
	if (rc < 0)
		return rc;
	*ptr = (char *)base + off;
	return 0;
}

static void ind_unmap_grant(void *ctx, void *token)
{
	xvio_gnt_unmap(token);
}

static struct gwin *grp_new_win(struct bgrp *g, bool rw)
{
	struct gwin *w;

	if (g->nwin == g->capwin) {
		unsigned cap = g->capwin ? 2 * g->capwin : 4;
		struct gwin **v = realloc(g->win, cap * sizeof(*v));

		if (!v)
			return NULL;
		g->win = v;
		g->capwin = cap;
	}
	w = malloc(sizeof(*w));
	if (!w)
		return NULL;
	w->rw = rw;
	w->n = 0;
	w->base = NULL;
	w->map = NULL;
	g->win[g->nwin] = w;
	g->cur[rw] = (int)g->nwin++;
	return w;
}

/*
 * Plan one descriptor's pages into the group's windows.  A descriptor of
 * up to 1024 pages stays in one window (one iovec); a 1025-page one is
 * split.  Its pages have consecutive refs, so they stay adjacent once the
 * window is sorted and deduplicated.  Returns the iovecs used or -ENOMEM.
 */
static int plan_seg(struct bgrp *g, struct breq *r, unsigned n, uint32_t ref, uint32_t off,
                    uint32_t len, uint32_t pages, bool rw)
{
	struct gwin *w = g->cur[rw] >= 0 ? g->win[g->cur[rw]] : NULL;

	if (!w || (pages <= WIN_PAGES && w->n + pages > WIN_PAGES))
		w = grp_new_win(g, rw);
	while (pages > 0) {
		uint32_t k, bytes;

		if (!w || w->n == WIN_PAGES)
			w = grp_new_win(g, rw);
		if (!w)
			return -ENOMEM;
		k = WIN_PAGES - w->n < pages ? WIN_PAGES - w->n : pages;
		bytes = k * XVIO_PAGE_SIZE - off < len ? k * XVIO_PAGE_SIZE - off : len;
		r->plan[n] = (struct gpiece){ (uint32_t)g->cur[rw], ref, off };
		r->pub.iov[n++].iov_len = bytes;
		for (uint32_t i = 0; i < k; i++)
			w->refs[w->n++] = ref + i;
		ref += k;
		pages -= k;
		len -= bytes;
		off = 0;
	}
	return (int)n;
}

static int plan_grant(struct bq *q, struct bgrp *g, struct breq *r, const struct xvio_chain *c)
{
	char msg[96];
	int n = 0;

	if (breq_reserve(r, 2 * c->n) < 0)
		return out_of_memory(q);
	for (unsigned i = 0; i < c->n; i++) {
		uint32_t ref, off, pages;
		const char *why = grant_decode(c->seg[i].addr, c->seg[i].len, &ref, &off, &pages);

		if (why) {
			snprintf(msg, sizeof(msg), "descriptor %u of chain %u: 0x%llx is %s", i,
			         c->head, (unsigned long long)c->seg[i].addr, why);
			violation(q, msg);
			return -EPROTO;
		}
		n = plan_seg(g, r, (unsigned)n, ref, off, c->seg[i].len, pages, c->seg[i].write);
		if (n < 0)
			return out_of_memory(q);
		g->pages += pages;
		if (!c->seg[i].write)
			r->pub.nout = (unsigned)n;
	}
	r->pub.niov = (unsigned)n;
	return 0;
}

static void grp_unmap(struct bgrp *g)
{
	for (unsigned i = 0; i < g->nwin; i++) {
		if (g->win[i]->map)
			xvio_gnt_unmap(g->win[i]->map);
		free(g->win[i]);
	}
	free(g->win);
	g->win = NULL;
	g->nwin = 0;
}

static int cmp_ref(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort and deduplicate a window's refs. */
static void win_compact(struct gwin *w)
{
	unsigned m = 0;

	qsort(w->refs, w->n, sizeof(w->refs[0]), cmp_ref);
	for (unsigned i = 0; i < w->n; i++) {
		if (m == 0 || w->refs[i] != w->refs[m - 1])
			w->refs[m++] = w->refs[i];
	}
	w->n = m;
}

/* Where page `ref` of window w was mapped. */
static char *win_page(const struct gwin *w, uint32_t ref)
{
	const uint32_t *p = bsearch(&ref, w->refs, w->n, sizeof(w->refs[0]), cmp_ref);

	return (char *)w->base + (size_t)(p - w->refs) * XVIO_PAGE_SIZE;
}

static int grp_map(struct bq *q, struct bgrp *g)
{
	for (unsigned i = 0; i < g->nwin; i++) {
		struct gwin *w = g->win[i];
		int rc;

		win_compact(w);
		rc = xvio_gnt_map_domain(plat_of(q), q->d->fe_id, w->n, w->refs, w->rw, &w->base,
		                         &w->map);
		if (rc < 0) {
			char msg[128];

			w->map = NULL;
			snprintf(msg, sizeof(msg), "%s grants %u..%u (%u pages) cannot be mapped: %s",
			         w->rw ? "writable" : "readable", w->refs[0], w->refs[w->n - 1],
			         w->n, strerror(-rc));
			violation(q, msg);
			return rc;
		}
	}
	for (struct breq *r = g->reqs; r; r = r->gnext) {
		for (unsigned k = 0; k < r->pub.niov; k++) {
			const struct gpiece *p = &r->plan[k];

			r->pub.iov[k].iov_base = win_page(g->win[p->win], p->ref) + p->off;
		}
	}
	return 0;
}

static void grp_link(struct bq *q, struct bgrp *g)
{
	g->prev = NULL;
	g->next = q->groups;
	if (q->groups)
		q->groups->prev = g;
	q->groups = g;
}

static void grp_free(struct bgrp *g)
{
	struct bq *q = g->q;

	if (g->prev)
		g->prev->next = g->next;
	else if (q->groups == g)
		q->groups = g->next;
	if (g->next)
		g->next->prev = g->prev;
	grp_unmap(g);
	free(g);
}

/* ---- completion ---- */

/* The entry is published in batches of 16 (vq.h push_defer) and the rest
 * by bq_flush() at the end of the dispatch (at once outside dispatch): a
 * polling frontend then takes a batch per pass instead of one request
 * per pass. */
static void push(struct bq *q, struct breq *r, uint32_t len)
{
	xvio_vqdev_push_defer(q->vq, r->head, len);
	breq_release_mem(r);
	q->pushed = true;
	xport_q_want_flush(&q->q);
}

/* The group's last request completed: unmap, then publish (§5.2). */
static void grp_finish(struct bgrp *g)
{
	struct bq *q = g->q;
	struct breq *r = g->reqs, *next;

	grp_unmap(g);
	for (; r; r = next) {
		next = r->gnext;
		r->grp = NULL;
		r->gnext = NULL;
		push(q, r, r->len);
	}
	g->reqs = NULL;
	grp_free(g);
}

static void grp_put(struct bgrp *g)
{
	if (--g->pending == 0)
		grp_finish(g);
}

void xvio_xport_breq_complete(struct xvio_xport_breq *pub, uint32_t len)
{
	struct breq *r = XPORT_CONTAINER(pub, struct breq, pub);
	struct bq *q = r->q;

	if (!r->held)
		return; /* completed twice: the device's bug, ignored */
	r->held = false;
	q->held--;
	if (len > r->pub.in_bytes)
		len = r->pub.in_bytes;
	if (r->grp) {
		r->len = len;
		grp_put(r->grp);
	} else {
		push(q, r, len);
	}
}

static void hand_over(struct bq *q, struct breq *r)
{
	r->held = true;
	q->held++;
	q->d->b->p.ops->request(q->d, &r->pub);
}

/* ---- servicing a queue ---- */

/* Pop one chain: 1, 0 (empty) or < 0 (broken). */
static int pop(struct bq *q)
{
	int rc = xvio_vqdev_pop(q->vq, &q->xl, &q->chain);

	if (rc < 0) {
		char msg[XVIO_ERR_MSG_MAX];

		q->up = false;
		snprintf(msg, sizeof(msg), "queue %u: %s", q->idx, xvio_vqdev_error(q->vq));
		bdev_note_fault(q->d, false, EPROTO, msg);
	}
	return rc;
}

static unsigned service_area(struct bq *q)
{
	unsigned n = 0;

	while (n < XPORT_BUDGET && q->up && pop(q) > 0) {
		struct breq *r = &q->slots[q->chain.head];

		breq_init(q, r, &q->chain);
		if (xlate_area(q, r, &q->chain) < 0)
			break;
		n++;
		q->hint = r->pub.nout > 0 ? r->pub.iov[0].iov_base : NULL;
		hand_over(q, r);
	}
	/*
	 * Nothing new: ask for the line the last request read first.  A
	 * frontend that reuses its buffers (a request slot resubmitted from
	 * its completion) writes the next request there before it publishes
	 * it, so a pass in between brings the data here while the index is
	 * still on its way.  A prefetch never faults, and the area stays
	 * mapped for the session.
	 */
	if (n == 0 && q->hint)
		__builtin_prefetch(q->hint, 0, 3);
	return n;
}

static unsigned service_grant(struct bq *q)
{
	struct bgrp *g = calloc(1, sizeof(*g));
	struct breq **tail;
	unsigned n = 0;

	if (!g)
		return 0; /* try again on the next pass */
	g->q = q;
	g->cur[0] = g->cur[1] = -1;
	tail = &g->reqs;
	while (n < GRP_CHAINS && g->pages < GRP_PAGES && q->up && pop(q) > 0) {
		struct breq *r = &q->slots[q->chain.head];

		breq_init(q, r, &q->chain);
		if (plan_grant(q, g, r, &q->chain) < 0)
			break;
		r->grp = g;
		*tail = r;
		tail = &r->gnext;
		n++;
	}
	if (n == 0 || !q->up || grp_map(q, g) < 0) {
		/* Nothing, or the queue broke: the session ends, drop the batch. */
		for (struct breq *r = g->reqs; r; r = r->gnext)
			breq_release_mem(r);
		grp_unmap(g);
		free(g);
		return n;
	}
	grp_link(q, g);
	g->pending = n + 1; /* the +1 keeps g alive while we hand out */
	for (struct breq *r = g->reqs, *next; r; r = next) {
		next = r->gnext;
		hand_over(q, r);
	}
	grp_put(g);
	return n;
}

static unsigned bq_service(struct xport_q *xq)
{
	struct bq *q = XPORT_CONTAINER(xq, struct bq, q);

	if (!q->up)
		return 0;
	return q->d->mode == XVIO_XPORT_GRANT ? service_grant(q) : service_area(q);
}

static void bq_quiet(struct xport_q *xq)
{
	struct bq *q = XPORT_CONTAINER(xq, struct bq, q);

	xvio_vqdev_disable_kick(q->vq);
}

static bool bq_arm(struct xport_q *xq)
{
	struct bq *q = XPORT_CONTAINER(xq, struct bq, q);

	return !q->up || xvio_vqdev_enable_kick(q->vq);
}

static void bq_flush(struct xport_q *xq)
{
	struct bq *q = XPORT_CONTAINER(xq, struct bq, q);

	if (!q->pushed)
		return;
	q->pushed = false;
	if (xvio_vqdev_need_notify(q->vq))
		xvio_evtchn_notify(xport_ctx_evtchn(q->d->b->ctx), q->port);
}

static const struct xport_q_ops bq_ops = {
	.service = bq_service,
	.quiet = bq_quiet,
	.arm = bq_arm,
	.flush = bq_flush,
};

/* ---- lifetime ---- */

int bq_create(struct xvio_xport_bdev *d, unsigned idx, unsigned size, void *ring,
              struct xvio_gnt_map *ring_map, struct bq **out)
{
	struct bq *q = calloc(1, sizeof(*q));
	int rc;

	if (!q)
		return -ENOMEM;
	q->slots = calloc(size, sizeof(*q->slots));
	if (!q->slots) {
		free(q);
		return -ENOMEM;
	}
	rc = xvio_vqdev_new(ring, size, d->features, &q->vq);
	if (rc < 0) {
		free(q->slots);
		free(q);
		return rc;
	}
	for (unsigned i = 0; i < size; i++)
		q->slots[i].plan = q->slots[i].inl_plan;
	xport_q_init(&q->q, d->b->ctx, &bq_ops);
	q->d = d;
	q->idx = idx;
	q->size = size;
	q->ring = ring;
	q->ring_map = ring_map;
	q->xl.ctx = q;
	q->xl.map = d->mode == XVIO_XPORT_GRANT ? ind_map_grant : ind_map_area;
	q->xl.unmap = d->mode == XVIO_XPORT_GRANT ? ind_unmap_grant : ind_unmap_area;
	*out = q;
	return 0;
}

/* Serve: look at the ring once (the frontend may have posted already). */
void bq_start(struct bq *q)
{
	q->up = true;
	xport_q_activate(&q->q);
}

void bq_destroy(struct bq *q)
{
	struct xvio_evtchn *ev = xport_ctx_evtchn(q->d->b->ctx);

	q->up = false;
	xport_q_detach(&q->q);
	/* Completions since the last flush (e.g. from ops->disconnect) are
	 * published, as they would have been: the frontend harvests them. */
	xvio_vqdev_publish(q->vq);
	/* Whatever the device did not complete is dropped: unmap it. */
	while (q->groups) {
		for (struct breq *r = q->groups->reqs; r; r = r->gnext)
			r->grp = NULL;
		grp_free(q->groups);
	}
	for (unsigned i = 0; i < q->size; i++)
		breq_release_mem(&q->slots[i]);
	xvio_vqdev_free(q->vq);
	if (q->ring_map)
		xvio_gnt_unmap(q->ring_map);
	if (q->port)
		xvio_evtchn_unbind(ev, q->port);
	free(q->slots);
	free(q);
}
