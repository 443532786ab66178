/* SPDX-License-Identifier: MIT */
/*
 * Private to xport_back.c (lifecycle) and xport_bio.c (requests): the
 * backend's device, queue and request objects.
 */
#ifndef XVIO_XPORT_BACK_IMPL_H
#define XVIO_XPORT_BACK_IMPL_H

#include "xport_impl.h"

/* iovecs a request holds without allocating. */
#define BREQ_INLINE 8u

struct bgrp;

/* Where a grant-mode iovec will point once its window is mapped. */
struct gpiece {
	uint32_t win;
	uint32_t ref;   /* of its first page */
	uint32_t off;
};

struct breq {
	struct xvio_xport_breq pub;
	struct bq *q;
	uint16_t head;
	bool held;            /* with the device */
	uint32_t len;         /* grant mode: completed, waiting for the group */
	struct bgrp *grp;
	struct breq *gnext;
	unsigned cap;         /* iov (and plan) capacity */
	struct iovec *heap;   /* when more than BREQ_INLINE */
	struct gpiece *plan;  /* grant mode, heap when more than BREQ_INLINE */
	struct iovec inl[BREQ_INLINE];
	struct gpiece inl_plan[BREQ_INLINE];
};

/* The data area as mapped: one mapping per 1024 pages (a map call's
 * limit), so a buffer may span two of them. */
struct barea {
	unsigned pages;
	unsigned nmaps;
	struct xvio_gnt_map *map[XPORT_MAX_CHUNKS];
	char *base[XPORT_MAX_CHUNKS];
};

struct bq {
	struct xport_q q;
	struct xvio_xport_bdev *d;
	unsigned idx, size;
	struct xvio_gnt_map *ring_map;
	void *ring;
	xvio_port_t port;
	struct xvio_vqdev *vq;
	struct xvio_vq_xlate xl;
	struct breq *slots;   /* by chain head */
	unsigned held;
	struct bgrp *groups;  /* grant mode: mapped, not finished */
	bool up;
	bool pushed;          /* used entries published since the last flush */
	struct xvio_chain chain;
	const void *hint;     /* data area: last chain's first readable byte */
};

struct xvio_xport_back {
	struct xvio_xport_ctx *ctx;
	struct xvio_xport_back_params p;
	char kind[64];
	struct xport_scan scan;
	int rel_watch;
	struct xvio_xport_bdev *devs;
};

struct xvio_xport_bdev {
	struct xvio_xport_back *b;
	struct xvio_xport_bdev *next;
	struct xvio_xb_dev *xb;
	char path[XPORT_PATH_MAX];
	unsigned devid;
	xvio_domid_t fe_id;
	void *priv;
	bool refused;         /* ops->add failed or the domain is dead */
	bool dead;            /* the frontend's domain is gone */

	/* the session */
	uint64_t offer;       /* device bits offered (params, narrowed by the driver) */
	uint64_t features;
	unsigned nq;
	enum xvio_xport_mode mode;
	struct barea area;
	struct bq *q[XVIO_XPORT_MAX_QUEUES];
	bool starting, running;

	struct xport_defer defer;
	bool fault, fault_local;
	int fault_err;
	char fault_msg[XVIO_ERR_MSG_MAX];
};

/* xport_bio.c */
int bq_create(struct xvio_xport_bdev *d, unsigned idx, unsigned size, void *ring,
              struct xvio_gnt_map *ring_map, struct bq **out);
void bq_start(struct bq *q);
/* Stop, drop what the device still holds (unmapping it), free. */
void bq_destroy(struct bq *q);
void bdev_note_fault(struct xvio_xport_bdev *d, bool local, int err, const char *msg);

#endif /* XVIO_XPORT_BACK_IMPL_H */
