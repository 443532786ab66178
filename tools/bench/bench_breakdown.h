/* SPDX-License-Identifier: MIT */
/*
 * xvio-bench ring --breakdown (bench_breakdown.c): one row of time stamps
 * per request from each side of a depth-1 run, written into a shared
 * mapping the parent reads after the run.  The hooks below are called by
 * the ring's sides (bench_ring.c) and by the stamped raw ring
 * (baseline.c); outside --breakdown bd_area is NULL and they are not
 * called.
 *
 * A run alternates chunks of BD_CHUNK requests with and without stamps,
 * so that the stamps' own cost is measured under the same conditions as
 * the stamped figures.  Rows are indexed by the request's sequence number
 * (bench_fill_req: the first 8 bytes of the request, so the responder
 * finds it in the data) from `first` on, until the mapping is full; rows
 * of unstamped requests stay zero.  Stamps are xvio_stamp_now() units
 * (xenbus/stamp.h).
 */
#ifndef XVIO_BENCH_BREAKDOWN_H
#define XVIO_BENCH_BREAKDOWN_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Rows per side: a few seconds of depth-1 round trips. */
#define BD_ROWS (1u << 22)
/* Requests per chunk: the clock is read and stamping switched between
 * chunks only.  Each kind's round trip is the median of its chunks'
 * means, which a side preempted now and then moves less than a mean. */
#define BD_CHUNK 256u
#define BD_MAX_CHUNKS (BD_ROWS / BD_CHUNK)

/* The requester's stamps of one request. */
struct bd_front_row {
	uint64_t issue;  /* before the request is written */
	uint64_t pub;    /* before the index store that publishes it */
	uint64_t seen;   /* the completion's index seen */
	uint64_t done;   /* the completion callback entered */
};

/* The responder's stamps of one request. */
struct bd_back_row {
	uint64_t seen;   /* the request's index seen */
	uint64_t req;    /* the device's callback entered */
	uint64_t done;   /* the device's work done */
	uint64_t pub;    /* after the index store that publishes the answer */
};

struct bd_area {
	/* Written by the requester between requests, read by the responder
	 * once the next request is visible (the ring's own release and
	 * acquire order them). */
	alignas(64) uint64_t first;  /* sequence number of row 0; 0: none */
	uint32_t stamping;           /* the responder follows at its next request */
	/* Results, written by the requester for the parent. */
	alignas(64) uint64_t last;   /* the last row's sequence number */
	double lat_on, lat_off;      /* seconds per round trip, stamped and not */
	alignas(64) struct bd_front_row front[BD_ROWS];
	struct bd_back_row back[BD_ROWS];
};

/* The mapping, set by --breakdown before it forks any side. */
extern struct bd_area *bd_area;

/* Row of request `seq`, or BD_ROWS if it is not recorded. */
static inline size_t bd_index(const struct bd_area *a, uint64_t seq)
{
	uint64_t first = __atomic_load_n(&a->first, __ATOMIC_RELAXED);

	return first && seq >= first && seq - first < BD_ROWS ? (size_t)(seq - first) : BD_ROWS;
}

/*
 * Each side keeps the row of its request in flight (there is one) and
 * writes it whole once done with the request, then fetches the row
 * BD_AHEAD further while it waits for the peer: a row store that missed
 * would hold back the side's next index store behind it (x86 makes
 * stores visible in order).
 */
#define BD_AHEAD 8u

static inline void bd_put_front(struct bd_area *a, size_t i, const struct bd_front_row *row)
{
	a->front[i] = *row;
	if (i + BD_AHEAD < BD_ROWS)
		__builtin_prefetch(&a->front[i + BD_AHEAD], 1, 3);
}

static inline void bd_put_back(struct bd_area *a, size_t i, const struct bd_back_row *row)
{
	a->back[i] = *row;
	if (i + BD_AHEAD < BD_ROWS)
		__builtin_prefetch(&a->back[i + BD_AHEAD], 1, 3);
}

/* Map the calling process's page tables for rows it will write, so a
 * first touch does not land in a segment (best effort). */
void bd_prefault(void *rows, size_t len);

/*
 * The measured part of a run, after a stamped warm-up and a->first set:
 * chunks (run(arg, stamp) does BD_CHUNK requests), stamped and not in
 * turn, for g_seconds or until the rows are full.  Sets a->last, lat_on
 * and lat_off.
 */
void bd_alternate(struct bd_area *a, void (*run)(void *arg, bool stamp), void *arg);

/* xvio frontend (bench_ring.c rf_issue and rf_complete), called only
 * while xvio_stamp_on: request `seq` is about to be written / its
 * completion callback was entered (which writes its row). */
void bd_front_issue(uint64_t seq);
void bd_front_complete(uint64_t seq);
/* xvio backend (bench_ring.c rb_request): the device's callback entered
 * with request bytes `req`; follows the frontend's stamping switch and
 * returns the request's row in the making, or NULL if it is not
 * recorded.  Then bd_back_done() before the completion and bd_back_pub()
 * after it (which writes the row). */
struct bd_back_row *bd_back_enter(const void *req, size_t len);
void bd_back_done(struct bd_back_row *row);
void bd_back_pub(struct bd_back_row *row);

/* The median of v[0..n) (sorts v; n > 0), for many values. */
double bd_median(double *v, size_t n);

/* The raw shm ring at depth 1 with the same stamps (baseline.c): warm
 * up stamped, then bd_alternate(). */
void baseline_shm_ring_stamped(struct bd_area *a);

/* ring --breakdown. */
int bench_breakdown(unsigned spin_us, unsigned rounds);

#endif
