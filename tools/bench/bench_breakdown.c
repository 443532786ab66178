/* SPDX-License-Identifier: MIT */
/*
 * xvio-bench ring --breakdown: where one depth-1 round trip goes, segment
 * by segment, for the raw shm ring and for the transport spinning, in the
 * same run.
 *
 * The end-to-end ratio of the two swings with where the scheduler puts
 * the vCPUs, because most of a round trip is two cache-line transfers
 * whose cost depends on that.  Stamped at the same eight points on both,
 * the segments separate the transfers (2 and 6 below) from each side's
 * CPU work, which is what the transport can change:
 *
 *   1 front: issue -> avail published   fill, submit, until the index store
 *   2 transfer+detect -> back            the index store -> the backend sees it
 *   3 back: seen -> device callback      pop, translate, request set-up
 *   4 back: device work                  the transform
 *   5 back: work done -> used published  completion, until the index store
 *   6 transfer+detect -> front           the index store -> the frontend sees it
 *   7 front: seen -> completion callback
 *   8 front: callback -> next issue      the answer's check
 *
 * Segments 2 and 6 subtract stamps taken on two CPUs: they need time stamp
 * counters that run at one rate and agree across CPUs.  A run whose rows
 * are not in order across the two sides in at least 99% of requests is
 * refused rather than printed.  Each stamp is an lfence and an rdtsc
 * (xenbus/stamp.h), so a stamped round trip is longer than a plain one;
 * the run measures both.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenstore.h>

#include "bench.h"
#include "bench_breakdown.h"
#include "bench_ring.h"
#include "stamp.h"

/* Rows whose stamps must be in order for the run to be believed. */
#define BD_ORDERED_MIN 0.99
/* Histogram bins, one stamp unit each: 32 us at 2 GHz; longer segments
 * (preemption) count in the last bin. */
#define BD_HIST (1u << 16)

struct bd_area *bd_area;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bd_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bd_prefault(void *rows, size_t len)
{
	/* Best effort: without it the first write to each page faults, a
	 * microsecond in one row of every 128. */
	(void)madvise(rows, len, MADV_POPULATE_WRITE);
}

void bd_alternate(struct bd_area *a, void (*run)(void *arg, bool stamp), void *arg)
{
	static double per[2][BD_MAX_CHUNKS / 2];
	double t0 = now(), until = t0 + g_seconds, t;
	unsigned c = 0;

	/* Pairs of chunks, stamped first, so both kinds get as many. */
	do {
		bool stamp = c % 2 == 0;

		run(arg, stamp);
		t = now();
		per[stamp][c / 2] = (t - t0) / BD_CHUNK;
		t0 = t;
		c++;
	} while (c % 2 != 0 || (t < until && c + 2 <= BD_MAX_CHUNKS));
	a->last = a->first + (uint64_t)c * BD_CHUNK - 1;
	a->lat_on = bd_median(per[1], c / 2);
	a->lat_off = bd_median(per[0], c / 2);
}

/* ---- the hooks ---- */

/* The frontend's last request issued and when (its own process). */
static uint64_t bd_front_seq, bd_front_issued;

void bd_front_issue(uint64_t seq)
{
	bd_front_issued = xvio_stamp_now();
	bd_front_seq = seq;
}

void bd_front_complete(uint64_t seq)
{
	struct bd_front_row row = { .done = xvio_stamp_now() };
	size_t i = bd_index(bd_area, seq);

	/* One request in flight: the latest stamps are this request's. */
	if (i < BD_ROWS && seq == bd_front_seq) {
		row.issue = bd_front_issued;
		row.pub = xvio_stamps.driver_pub;
		row.seen = xvio_stamps.driver_seen;
		bd_put_front(bd_area, i, &row);
	}
}

/* The backend's request in flight (its own process). */
static struct {
	struct bd_back_row row;
	size_t i;
} bd_back;

struct bd_back_row *bd_back_enter(const void *req, size_t len)
{
	static bool prefaulted;
	bool was = xvio_stamp_on, on = __atomic_load_n(&bd_area->stamping, __ATOMIC_RELAXED) != 0;
	uint64_t t, seq;

	/* The first request after the switch was seen unstamped: no row. */
	xvio_stamp_on = on;
	if (!on || !was || len < sizeof(seq))
		return NULL;
	if (!prefaulted) {
		/* in the warm-up: no row is recorded yet */
		bd_prefault(bd_area->back, sizeof(bd_area->back));
		prefaulted = true;
	}
	t = xvio_stamp_now();
	memcpy(&seq, req, sizeof(seq));
	bd_back.i = bd_index(bd_area, seq);
	if (bd_back.i >= BD_ROWS)
		return NULL;
	bd_back.row.seen = xvio_stamps.device_seen;
	bd_back.row.req = t;
	return &bd_back.row;
}

void bd_back_done(struct bd_back_row *row)
{
	row->done = xvio_stamp_now();
}

void bd_back_pub(struct bd_back_row *row)
{
	/* At depth 1 the device publishes inside the completion; if it did
	 * not, this is an older request's stamp and the parent drops the
	 * row (pub before seen). */
	row->pub = xvio_stamps.device_pub;
	bd_put_back(bd_area, bd_back.i, row);
}

/* ---- one xvio run ---- */

/* Both sides stamp or neither: the backend follows at its next request. */
static void bd_stamping(bool on)
{
	xvio_stamp_on = on;
	__atomic_store_n(&bd_area->stamping, on, __ATOMIC_RELAXED);
}

/* A chunk for bd_alternate(): BD_CHUNK requests, one in flight. */
static void bd_front_chunk(void *pfd, bool stamp)
{
	static const struct phase ph = { 1, BD_CHUNK, 0 };

	bd_stamping(stamp);
	rf_phase(pfd, &ph);
}

/* The frontend (forked, in the guest): a stamped warm-up, then the
 * measured chunks. */
static int bd_front(unsigned spin_us, unsigned devid)
{
	struct pollfd pfd[XVIO_XPORT_CTX_NFDS];
	struct xvio_xport_front *f;
	struct phase ph = { 1, 0, bench_warm_seconds() };

	rf_init(spin_us, devid, pfd, &f);
	bd_prefault(bd_area->front, sizeof(bd_area->front));
	bd_stamping(true);
	rf_phase(pfd, &ph);
	/* Seen by the backend before the next request: the ring's release
	 * and acquire of avail.idx order it. */
	__atomic_store_n(&bd_area->first, bd_front_seq + 1, __ATOMIC_RELAXED);
	bd_alternate(bd_area, bd_front_chunk, pfd);
	return rf_fini(f, "breakdown frontend");
}

static void bd_run_xvio(struct sim *s, struct xs_handle *xs, int guest, unsigned devid,
                        unsigned spin_us)
{
	pid_t back, front;

	make_device(xs, guest, devid);
	back = start_back(NULL, spin_us, NULL);
	front = fork_side(0);
	if (front == 0) {
		sim_enter(s, guest);
		_exit(bd_front(spin_us, devid));
	}
	bench_wait_ok(front, "breakdown frontend");
	stop_back(back);
	remove_device(xs, guest, devid);
}

/* ---- reading the rows ---- */

enum { BD_NSEG = 8, BD_RTT = BD_NSEG, BD_NFIG };
enum { Q_MED, Q_P10, Q_P90, Q_N };

static const char *const bd_names[BD_NFIG] = {
	"1 front: issue -> avail published",
	"2 transfer+detect -> back",
	"3 back: seen -> device callback",
	"4 back: device work (transform)",
	"5 back: work done -> used published",
	"6 transfer+detect -> front",
	"7 front: seen -> completion callback",
	"8 front: callback -> next issue",
	"round trip (issue -> next issue)",
};

/* One run's figures, in stamp units. */
struct bd_fig {
	double q[BD_NFIG][Q_N];
	double on, off;       /* seconds per round trip, stamped and not */
	uint64_t kept;        /* rows in the figures */
	uint64_t dropped;     /* no backend row of their own (none, or published later) */
	uint64_t unordered;   /* stamps out of order across the sides */
};

static uint32_t bd_hist[BD_NFIG][BD_HIST];

static void hist_add(uint32_t *h, uint64_t v)
{
	h[v < BD_HIST ? v : BD_HIST - 1]++;
}

/* The q-quantile of `total` values (the nearest rank below). */
static double hist_q(const uint32_t *h, uint64_t total, double q)
{
	uint64_t rank = (uint64_t)(q * (double)(total - 1)), seen = 0;

	for (unsigned k = 0; k < BD_HIST; k++) {
		seen += h[k];
		if (seen > rank)
			return k;
	}
	return BD_HIST - 1;
}

/* Row i's nine stamps in the order they happen, the next request's issue
 * last (both stamped: t[0] and t[8] not 0); false if the backend has no
 * row of its own for it. */
static bool bd_stamps(const struct bd_area *a, size_t i, uint64_t *t)
{
	const struct bd_front_row *f = &a->front[i];
	const struct bd_back_row *b = &a->back[i];

	t[0] = f->issue;
	t[1] = f->pub;
	t[2] = b->seen;
	t[3] = b->req;
	t[4] = b->done;
	t[5] = b->pub;
	t[6] = f->seen;
	t[7] = f->done;
	t[8] = a->front[i + 1].issue;
	return b->req != 0 && b->pub >= b->seen;
}

static void bd_count(const struct bd_area *a, size_t n, struct bd_fig *fig)
{
	memset(bd_hist, 0, sizeof(bd_hist));
	for (size_t i = 0; i + 1 < n; i++) {
		uint64_t t[BD_NSEG + 1];
		bool ordered = true, own = bd_stamps(a, i, t);

		if (t[0] == 0 || t[BD_NSEG] == 0)
			continue; /* in or next to an unstamped chunk */
		if (!own) {
			fig->dropped++;
			continue;
		}
		for (unsigned k = 0; k < BD_NSEG; k++)
			ordered = ordered && t[k] <= t[k + 1];
		if (!ordered) {
			fig->unordered++;
			continue;
		}
		fig->kept++;
		for (unsigned k = 0; k < BD_NSEG; k++)
			hist_add(bd_hist[k], t[k + 1] - t[k]);
		hist_add(bd_hist[BD_RTT], t[BD_NSEG] - t[0]);
	}
}

/* The figures of the run just done; false (with a message) if its stamps
 * cannot be compared across the sides. */
static bool bd_analyse(const struct bd_area *a, const char *what, struct bd_fig *fig)
{
	size_t n = a->first && a->last >= a->first ? (size_t)(a->last - a->first + 1) : 0;
	double ordered;

	memset(fig, 0, sizeof(*fig));
	bd_count(a, n, fig);
	if (fig->kept == 0) {
		fprintf(stderr, "xvio-bench: breakdown: %s: no complete rows (%zu recorded)\n",
		        what, n);
		return false;
	}
	ordered = (double)fig->kept / (double)(fig->kept + fig->unordered);
	if (ordered < BD_ORDERED_MIN) {
		fprintf(stderr, "xvio-bench: breakdown: %s: the two sides' stamps are in order in "
		        "only %.2f%% of %llu requests (need %.0f%%): the CPUs' time stamp "
		        "counters are not comparable here\n", what, ordered * 100,
		        (unsigned long long)(fig->kept + fig->unordered), BD_ORDERED_MIN * 100);
		return false;
	}
	for (unsigned k = 0; k < BD_NFIG; k++) {
		fig->q[k][Q_MED] = hist_q(bd_hist[k], fig->kept, 0.5);
		fig->q[k][Q_P10] = hist_q(bd_hist[k], fig->kept, 0.1);
		fig->q[k][Q_P90] = hist_q(bd_hist[k], fig->kept, 0.9);
	}
	fig->on = a->lat_on;
	fig->off = a->lat_off;
	return true;
}

/* Forget the last run's rows: a row the next run misses must read as
 * missing, not as the old one. */
static void bd_reset(struct bd_area *a)
{
	size_t n = a->first && a->last >= a->first ? (size_t)(a->last - a->first + 1) : 0;

	memset(a->front, 0, n * sizeof(a->front[0]));
	memset(a->back, 0, n * sizeof(a->back[0]));
	a->first = a->last = 0;
	a->stamping = 0;
	a->lat_on = a->lat_off = 0;
}

/* ---- the rounds ---- */

/* Seconds one stamp takes back to back with the next, the best of three
 * tries: about what each stamp adds to the segment it falls in. */
static double bd_stamp_cost(void)
{
	enum { N = 1 << 20 };
	double best = HUGE_VAL;

	for (int k = 0; k < 3; k++) {
		double t0 = now(), t;
		uint64_t sum = 0;

		for (unsigned i = 0; i < N; i++)
			sum += xvio_stamp_now();
		t = (now() - t0) / N;
		/* the sum keeps the loop from being optimised away */
		if (t < best && sum != 0)
			best = t;
	}
	return best;
}

struct bd_round {
	struct bd_fig ring, xvio;
	double pp;      /* seconds per ping-pong round trip */
	double stamp;   /* seconds per stamp */
};

static bool bd_round(struct sim *s, struct xs_handle *xs, int guest, unsigned k,
                     unsigned spin_us, struct bd_round *r)
{
	struct bd_area *a = bd_area;

	/* Interleaved like ring's timed figures, so that a change in the
	 * machine's speed shows in all of them. */
	r->stamp = bd_stamp_cost();
	r->pp = baseline_shm_rtt();
	bd_reset(a);
	baseline_shm_ring_stamped(a);
	if (!bd_analyse(a, "shm ring", &r->ring))
		return false;
	bd_reset(a);
	bd_run_xvio(s, xs, guest, 1 + k, spin_us);
	return bd_analyse(a, "xvio", &r->xvio);
}

/* Median over the rounds of one figure, given by an accessor. */
static double bd_med(const struct bd_round *r, unsigned n, double (*get)(const struct bd_round *,
                     unsigned, unsigned), unsigned x, unsigned y)
{
	double v[BENCH_MAX_ROUNDS];

	for (unsigned k = 0; k < n; k++)
		v[k] = get(&r[k], x, y);
	return bench_median(v, n);
}

static double get_ring(const struct bd_round *r, unsigned fig, unsigned q)
{
	return r->ring.q[fig][q];
}

static double get_xvio(const struct bd_round *r, unsigned fig, unsigned q)
{
	return r->xvio.q[fig][q];
}

static double get_diff(const struct bd_round *r, unsigned fig, unsigned q)
{
	return r->xvio.q[fig][q] - r->ring.q[fig][q];
}

static double get_ratio(const struct bd_round *r, unsigned fig, unsigned q)
{
	return r->xvio.q[fig][q] / r->ring.q[fig][q];
}

/* Seconds per round trip of the ring (0) or xvio (1), stamped or not. */
static double get_lat(const struct bd_round *r, unsigned xvio, unsigned stamped)
{
	const struct bd_fig *f = xvio ? &r->xvio : &r->ring;

	return stamped ? f->on : f->off;
}

/* Seconds: 0 a ping-pong round trip, 1 one stamp. */
static double get_sec(const struct bd_round *r, unsigned which, unsigned unused)
{
	return which ? r->stamp : r->pp;
}

static void bd_print_table(const struct bd_round *r, unsigned n, double ns)
{
	printf("%-38s %26s   %26s  %8s\n", "", "------- shm ring -------",
	       "--------- xvio ---------", "xvio");
	printf("%-38s %8s %8s %8s   %8s %8s %8s  %8s\n", "segment (ns)", "median", "p10",
	       "p90", "median", "p10", "p90", "- ring");
	for (unsigned k = 0; k < BD_NFIG; k++)
		printf("%-38s %8.0f %8.0f %8.0f   %8.0f %8.0f %8.0f  %+8.0f\n", bd_names[k],
		       bd_med(r, n, get_ring, k, Q_MED) * ns, bd_med(r, n, get_ring, k, Q_P10) * ns,
		       bd_med(r, n, get_ring, k, Q_P90) * ns, bd_med(r, n, get_xvio, k, Q_MED) * ns,
		       bd_med(r, n, get_xvio, k, Q_P10) * ns, bd_med(r, n, get_xvio, k, Q_P90) * ns,
		       bd_med(r, n, get_diff, k, Q_MED) * ns);
}

/* How many rows each side kept, and in how many the stamps were in
 * order (bd_analyse refused the run if too few). */
static void bd_print_rows(const struct bd_round *r, unsigned n)
{
	uint64_t kept[2] = { 0, 0 }, dropped[2] = { 0, 0 }, unordered[2] = { 0, 0 };

	for (unsigned k = 0; k < n; k++) {
		const struct bd_fig *f[2] = { &r[k].ring, &r[k].xvio };

		for (int j = 0; j < 2; j++) {
			kept[j] += f[j]->kept;
			dropped[j] += f[j]->dropped;
			unordered[j] += f[j]->unordered;
		}
	}
	printf("rows kept: shm ring %llu, xvio %llu; dropped for want of a backend row of their "
	       "own\n  (xvio: the first of each stamped chunk, seen before the backend "
	       "switched): %llu, %llu\n", (unsigned long long)kept[0], (unsigned long long)kept[1],
	       (unsigned long long)dropped[0], (unsigned long long)dropped[1]);
	printf("stamps in order across the two sides: shm ring %.3f%%, xvio %.3f%% of rows "
	       "(need %.0f%%): ok\n", 100.0 * (double)kept[0] / (double)(kept[0] + unordered[0]),
	       100.0 * (double)kept[1] / (double)(kept[1] + unordered[1]), BD_ORDERED_MIN * 100);
}

static void bd_print(const struct bd_round *r, unsigned n, unsigned spin_us, double ns)
{
	printf("One depth-1 round trip segment by segment: the shm ring (raw busy-polled rings,\n"
	       "`ring`'s baseline; avail/used are its request and completion indexes) and xvio\n"
	       "spinning (spin window %u us, `ring`'s device and requests).  Every request is\n"
	       "stamped on both sides (lfence + rdtsc, %.3f ns per tick); %u round%s of %.1f s,\n"
	       "figures are medians over the rounds of each round's median, 10th and 90th\n"
	       "percentile.  Segment medians need not add up to the round trip's.\n",
	       spin_us, ns, n, n > 1 ? "s" : "", g_seconds);
	bd_print_table(r, n, ns);
	printf("median round trip, xvio / shm ring: %.2f\n",
	       bd_med(r, n, get_ratio, BD_RTT, Q_MED));
	if (n > 1) {
		printf("each round, median round trip shm ring / xvio (ns):");
		for (unsigned k = 0; k < n; k++)
			printf("  %.0f / %.0f", r[k].ring.q[BD_RTT][Q_MED] * ns,
			       r[k].xvio.q[BD_RTT][Q_MED] * ns);
		printf("\n");
	}
	printf("round trip, median of %u-request means, chunks stamped / not stamped in turn:\n"
	       "  shm ring %.0f / %.0f ns, xvio %.0f / %.0f ns\n", BD_CHUNK,
	       bd_med(r, n, get_lat, 0, 1) * 1e9, bd_med(r, n, get_lat, 0, 0) * 1e9,
	       bd_med(r, n, get_lat, 1, 1) * 1e9, bd_med(r, n, get_lat, 1, 0) * 1e9);
	printf("one stamp, back to back: %.1f ns (the shm ring takes 6 per round trip, xvio 8;\n"
	       "  each segment holds about one, but the shm ring's 3 and 7)\n",
	       bd_med(r, n, get_sec, 1, 0) * 1e9);
	printf("baseline: shm ping-pong %.0f ns\n", bd_med(r, n, get_sec, 0, 0) * 1e9);
	bd_print_rows(r, n);
}

int bench_breakdown(unsigned spin_us, unsigned rounds)
{
	static struct bd_round r[BENCH_MAX_ROUNDS];
	double t0 = now(), ns;
	uint64_t c0 = xvio_stamp_now(), c1;
	struct ring_scene rs;
	unsigned k;

	bd_area = mmap(NULL, sizeof(*bd_area), PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (bd_area == MAP_FAILED)
		die("breakdown rows: mmap", errno);
	ring_scene_start(&rs);
	for (k = 0; k < rounds && bd_round(&rs.sim, rs.xs, rs.guest, k, spin_us, &r[k]); k++)
		;
	ring_scene_stop(&rs);
	c1 = xvio_stamp_now();
	/* Stamp units against CLOCK_MONOTONIC, over the whole run: the
	 * counter runs at one rate (x86: constant_tsc; elsewhere it is
	 * CLOCK_MONOTONIC itself). */
	ns = (now() - t0) * 1e9 / (double)(c1 - c0);
	if (k < rounds)
		return 1;
	bd_print(r, rounds, spin_us, ns);
	munmap(bd_area, sizeof(*bd_area));
	return 0;
}
