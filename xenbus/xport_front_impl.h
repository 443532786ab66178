/* SPDX-License-Identifier: MIT */
/*
 * Private to xport_front.c (lifecycle, negotiation) and xport_fio.c
 * (requests and queues): the frontend's objects.
 */
#ifndef XVIO_XPORT_FRONT_IMPL_H
#define XVIO_XPORT_FRONT_IMPL_H

#include "xport_impl.h"

/* A FIFO of requests, linked through their private next/prev. */
struct rlist {
	struct xvio_xport_freq *head, *tail;
};

struct fq {
	struct xport_q q;
	struct xvio_xport_fdev *d;
	unsigned idx, size;
	struct xvio_gnt_share *ring_share;
	void *ring;
	xvio_gref_t refs[XPORT_MAX_RING_PAGES];
	unsigned npages;
	xvio_port_t port;
	struct xvio_vqd *vq;
	bool up;           /* connected: posting allowed */
	bool kick;         /* chains added since the last publication */
	struct xvio_seg segs[XVIO_VQ_MAX_CHAIN];
};

struct xvio_xport_front {
	struct xvio_xport_ctx *ctx;
	struct xvio_xport_front_params p;
	char kind[64];
	struct xport_scan scan;
	struct xvio_xport_fdev *devs;
};

struct xvio_xport_fdev {
	struct xvio_xport_front *f;
	struct xvio_xport_fdev *next;
	struct xvio_xb_dev *xb;
	char path[XPORT_PATH_MAX];
	unsigned devid;
	void *priv;
	bool refused;      /* ops->add failed: ignored until the directory goes */
	bool removed;

	/* negotiated for the current (or last) session */
	uint64_t features;
	unsigned nq, qsize;
	struct fq *q[XVIO_XPORT_MAX_QUEUES];
	bool starting;     /* Connected committed, I/O not started yet */
	bool running;
	bool tell_down;    /* ops->disconnected pending */
	unsigned sessions;

	struct xport_area area;
	struct rlist backlog[XVIO_XPORT_MAX_QUEUES];
	struct rlist done; /* to hand back from deferred work */
	unsigned pending;
	struct xport_defer defer;
	int retry_watch;     /* watching the backend after a failed setup */
	uint64_t refused_fp; /* fingerprint of the backend's values then */
	bool fault;
	char fault_msg[XVIO_ERR_MSG_MAX];
};

/* ---- request lists ---- */

static inline void rl_append(struct rlist *l, struct xvio_xport_freq *r)
{
	r->next = NULL;
	r->prev = l->tail;
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
}

static inline struct xvio_xport_freq *rl_pop(struct rlist *l)
{
	struct xvio_xport_freq *r = l->head;

	if (r) {
		l->head = r->next;
		if (l->head)
			l->head->prev = NULL;
		else
			l->tail = NULL;
		r->next = NULL;
	}
	return r;
}

/* Put `front` (in order) before everything in l. */
static inline void rl_prepend(struct rlist *l, struct rlist *front)
{
	if (!front->head)
		return;
	front->tail->next = l->head;
	if (l->head)
		l->head->prev = front->tail;
	else
		l->tail = front->tail;
	l->head = front->head;
	front->head = front->tail = NULL;
}

static inline bool grant_mode(const struct xvio_xport_fdev *d)
{
	return d->f->p.mode == XVIO_XPORT_GRANT;
}

/* xport_fio.c */
int fq_create(struct xvio_xport_fdev *d, unsigned idx, struct fq **out, struct xvio_err *err);
/* End every queue's session, keeping in-flight requests (§7). */
void fdev_destroy_queues(struct xvio_xport_fdev *d);
/* May the grants of this session be ended: did the backend let go? */
bool fdev_backend_let_go(const struct xvio_xport_fdev *d);
/* Connected and committed: resubmit kept requests, then ops->connected. */
void fdev_start_io(struct xvio_xport_fdev *d);
/* Hand back everything still held (-ECANCELED), the device is going. */
void fdev_cancel_all(struct xvio_xport_fdev *d);

#endif /* XVIO_XPORT_FRONT_IMPL_H */
