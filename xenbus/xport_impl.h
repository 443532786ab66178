/* SPDX-License-Identifier: MIT */
/*
 * Private to xport_*.c: the pieces the context shares with the two roles.
 *
 *   queues    a queue registers with the context so that its event-channel
 *             port is routed to it and the context can spin on it (adaptive
 *             polling) and flush its notifications at the end of dispatch;
 *   deferral  work that must not run inside a xenstore pass or a ring loop
 *             (starting I/O after a Connected commit, faults found in a
 *             ring, completions harvested during teardown) runs at the end
 *             of dispatch;
 *   scanning  discovery of device directories under a kind's directory;
 *   devices   the steps of a device object's life both roles take alike
 *             (xport_dev.c);
 *   areas     the frontend's device-visible memory and its allocator.
 */
#ifndef XVIO_XPORT_IMPL_H
#define XVIO_XPORT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "xport.h"

#define XPORT_PATH_MAX (XENSTORE_ABS_PATH_MAX + 1)

#define XPORT_CONTAINER(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Chains or completions one queue handles per dispatch (bounded work). */
#define XPORT_BUDGET 64u

/* Pages per mapping or share call, and so per area chunk (4 MiB). */
#define XPORT_CHUNK_PAGES XVIO_PLAT_MAX_BATCH
#define XPORT_CHUNK_SHIFT 22
#define XPORT_CHUNK_BYTES (1u << XPORT_CHUNK_SHIFT)
#define XPORT_MAX_CHUNKS (XVIO_XPORT_MAX_AREA_PAGES / XPORT_CHUNK_PAGES)
/* Directory page k lists data pages 1024k .. 1024k + 1023 (§5.1). */
#define XPORT_REFS_PER_DIR (XVIO_PAGE_SIZE / 4u)
#define XPORT_MAX_DIR_PAGES (XVIO_XPORT_MAX_AREA_PAGES / XPORT_REFS_PER_DIR)
/* Ring pages of the largest queue: N = 1024 needs 8 (§4's formula:
 * A = 20480, A + 6 + 8192 = 28678 bytes; the "7" in §4 and §9 is wrong). */
#define XPORT_MAX_RING_PAGES 8u

/* ---- queues, as the context sees them ---- */

struct xport_q;

struct xport_q_ops {
	/* Handle up to XPORT_BUDGET items; returns how many (0: none). */
	unsigned (*service)(struct xport_q *q);
	/* Ask the peer not to notify (we are polling). */
	void (*quiet)(struct xport_q *q);
	/* Ask the peer to notify again, with a full barrier and a last look:
	 * false if work arrived meanwhile (keep polling). */
	bool (*arm)(struct xport_q *q);
	/* Publish what was produced and notify the peer if it asked. */
	void (*flush)(struct xport_q *q);
};

struct xport_q {
	struct xvio_xport_ctx *ctx;
	const struct xport_q_ops *ops;
	xvio_port_t port;         /* routed local port, 0 = none */
	bool active;              /* polling: on the active list */
	bool flushing;            /* on the flush list */
	bool fresh;               /* activated or found work: restart the
	                           * window at the next look at the clock */
	uint64_t deadline_ns;     /* stop polling after this without work */
	struct xport_q *anext, *aprev;
	struct xport_q *fnext;
};

void xport_q_init(struct xport_q *q, struct xvio_xport_ctx *c, const struct xport_q_ops *ops);
/* Route `port` (bound through xport_ctx_evtchn()) to q. */
int xport_q_route(struct xport_q *q, xvio_port_t port);
/* Forget q: unroute, leave the active and flush lists.  Idempotent. */
void xport_q_detach(struct xport_q *q);
void xport_q_join_active(struct xport_q *q);
void xport_q_join_flush(struct xport_q *q);

/* Start polling q now (after an event or a submission).  Inline: once per
 * request on both sides, and q is nearly always polling already. */
static inline void xport_q_activate(struct xport_q *q)
{
	/* The window restarts at the next look at the clock: a submission
	 * costs no clock read. */
	q->fresh = true;
	if (!q->active)
		xport_q_join_active(q);
}

/* Flush q at the end of dispatch, or now outside dispatch.  The flush
 * list is empty outside dispatch and batches, so a queue on it waits for
 * that flush either way. */
static inline void xport_q_want_flush(struct xport_q *q)
{
	if (!q->flushing)
		xport_q_join_flush(q);
}

struct xvio_evtchn *xport_ctx_evtchn(struct xvio_xport_ctx *c);
bool xport_ctx_in_dispatch(const struct xvio_xport_ctx *c);

/* ---- deferred work ---- */

struct xport_defer {
	void (*fn)(struct xport_defer *df);
	bool queued;
	struct xport_defer *next, *prev;
};

/* Run df->fn at the end of the current (or next) dispatch; once per
 * queueing.  xport_defer_cancel() before freeing df. */
void xport_defer(struct xvio_xport_ctx *c, struct xport_defer *df);
void xport_defer_cancel(struct xvio_xport_ctx *c, struct xport_defer *df);
/* Run what is queued now (outside dispatch, e.g. after creating a kind). */
void xport_ctx_run_deferred(struct xvio_xport_ctx *c);

/* ---- discovery of device directories ---- */

/*
 * Devices live at <base>/<a>/<b> (backend: <domid>/<devid>, depth 2) or
 * <base>/<id> (frontend, depth 1).  `found` gets every device path seen by
 * a full scan or named by a watch event below base; it must ignore paths
 * it already knows and check that the directory exists.
 */
struct xport_scan {
	struct xvio_xport_ctx *ctx;
	char base[XPORT_PATH_MAX];
	unsigned depth;
	int watch_id;
	void (*found)(struct xport_scan *s, const char *path);
};

/* Fill s for `role`'s devices of `kind` below our own domain's directory
 * (xport_dev.c); xport_scan_start() then scans and watches. */
void xport_scan_init(struct xport_scan *s, struct xvio_xport_ctx *c, enum xvio_xb_role role,
                     const char *kind, void (*found)(struct xport_scan *s, const char *path));
int xport_scan_start(struct xport_scan *s, struct xvio_err *err);
void xport_scan_stop(struct xport_scan *s);
/* The numeric last component of a device path, or -EINVAL. */
int xport_path_id(const char *path, unsigned max, unsigned *out);

/* ---- device objects, the steps both roles share (xport_dev.c) ---- */

/* Does `found` make an object for path: its last component is a device id
 * (stored in *id) and it has a state node? */
bool xport_dev_wanted(struct xvio_xport_ctx *c, const char *path, unsigned *id);
/* Start an accepted device: watch its nodes and run its first pass.
 * -ENODEV when that pass already finished it (the caller removes it). */
int xport_dev_watch(struct xvio_xb_dev *xb, struct xvio_xport_ctx *c, struct xvio_err *err);

/* ---- areas (xport_area.c) ---- */

/*
 * A frontend's device-visible memory: P pages granted to the backend in
 * chunks of up to 1024 pages (one share each, so one local mapping each),
 * plus, in data-area mode, the read-only directory pages (§5.1).  A buddy
 * allocator hands out naturally aligned power-of-two blocks of 64 bytes to
 * 4 MiB, so no block crosses a chunk (or, up to a page, a page).  Its
 * bookkeeping is private memory: the backend can write the area, so
 * nothing about the allocator may live in it.
 */
struct xport_area {
	unsigned pages;
	unsigned nchunks;
	struct xvio_gnt_share *share[XPORT_MAX_CHUNKS];
	char *base[XPORT_MAX_CHUNKS];
	xvio_gref_t *refs;                 /* per page */
	unsigned ndir;                     /* directory pages (data-area) */
	struct xvio_gnt_share *dir_share;
	xvio_gref_t dir_refs[XPORT_MAX_DIR_PAGES];
	/* buddy allocator over 64-byte units */
	uint32_t units;
	uint8_t *tag;                      /* unit: order + 1 if a free block starts here */
	uint32_t *fnext, *fprev;           /* free-list links of free block heads */
	uint32_t head[32];                 /* per order: first free block, or NONE */
	uint32_t used_bytes;
};

/* Share `pages` pages with `be` (and the directory when `dir`). */
int xport_area_create(struct xport_area *a, struct xvio_plat *p, xvio_domid_t be,
                      unsigned pages, bool dir, struct xvio_err *err);
/* End the grants if `may_end` (the backend let go) and they are not
 * mapped, else abandon them.  Leaves *a zeroed. */
void xport_area_destroy(struct xport_area *a, bool may_end);
int xport_area_alloc(struct xport_area *a, uint32_t len, struct xvio_xport_buf *b);
/* The allocator alone, over `bytes` (a multiple of 64) whose memory the
 * caller put in a->base[] (create does it; unit tests use it directly). */
int xport_buddy_init(struct xport_area *a, uint32_t bytes);
void xport_buddy_fini(struct xport_area *a);
void xport_area_free(struct xport_area *a, struct xvio_xport_buf *b);
static inline void *xport_area_ptr(const struct xport_area *a, uint32_t off)
{
	return a->base[off >> XPORT_CHUNK_SHIFT] + (off & (XPORT_CHUNK_BYTES - 1));
}

/* End a share if allowed and possible, else abandon it. */
void xport_share_release(struct xvio_gnt_share *s, bool may_end);

#endif /* XVIO_XPORT_IMPL_H */
