/* SPDX-License-Identifier: MIT */
/*
 * Raw baselines, measured in the same run as every xvio figure: what two
 * processes on this machine can do with no xvio code in between.
 */
#include <errno.h>
#include <stdalign.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "barrier.h"
#include "bench.h"
#include "bench_breakdown.h"
#include "stamp.h"
#include "../../tests/xport/testdev.h"

/* ---- baselines: two processes ping-ponging ---- */

/* Round trips per second over a pair of eventfds, each side blocking in poll. */
double baseline_eventfd(void)
{
	int a = eventfd(0, EFD_CLOEXEC), b = eventfd(0, EFD_CLOEXEC);
	uint64_t v = 1;
	long n = 0;
	double t0, t;
	pid_t pid;

	if (a < 0 || b < 0)
		die("eventfd", errno);
	pid = fork();
	if (pid == 0) {
		bench_pin(1);
		for (;;) {
			struct pollfd p = { .fd = a, .events = POLLIN };

			poll(&p, 1, -1);
			if (read(a, &v, 8) != 8 || v == UINT64_MAX - 1)
				_exit(0);
			v = 1;
			if (write(b, &v, 8) != 8)
				_exit(1);
		}
	}
	bench_pin(0);
	t0 = now();
	do {
		struct pollfd p = { .fd = b, .events = POLLIN };

		v = 1;
		if (write(a, &v, 8) != 8)
			die("write", errno);
		poll(&p, 1, -1);
		if (read(b, &v, 8) != 8)
			die("read", errno);
		n++;
	} while ((t = now() - t0) < g_seconds);
	v = UINT64_MAX - 1;
	if (write(a, &v, 8) != 8)
		die("write", errno);
	waitpid(pid, NULL, 0);
	bench_unpin();
	close(a);
	close(b);
	return (double)n / t;
}

/* Request/response round trips per second over a unix socket pair: the
 * same shape as a xenstore request without any xenstore work. */
double baseline_socket(void)
{
	int sv[2];
	char buf[64] = "ping";
	long n = 0;
	double t0, t;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair", errno);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		while (read(sv[1], buf, 16 + 20) > 0)
			if (write(sv[1], buf, 16 + 8) < 0)
				break;
		_exit(0);
	}
	close(sv[1]);
	t0 = now();
	do {
		if (write(sv[0], buf, 16 + 20) < 0 || read(sv[0], buf, 16 + 8) <= 0)
			die("socket", errno);
		n++;
	} while ((t = now() - t0) < g_seconds);
	close(sv[0]);
	waitpid(pid, NULL, 0);
	return (double)n / t;
}


/* ---- shared memory, busy polling: the floor for a spinning transport ---- */


/* A cache line per word so the two sides do not false-share. */
struct shm_pingpong {
	alignas(64) uint64_t ping;
	alignas(64) uint64_t pong;
};

static void *shared_pages(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap", errno);
	return p;
}

/* Seconds per round trip: one side writes a sequence number, the other
 * spins until it sees it and echoes it back. */
double baseline_shm_rtt(void)
{
	struct shm_pingpong *s = shared_pages(4096);
	uint64_t seq = 0;
	double t0, t;
	pid_t pid = fork();

	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		bench_pin(1);
		for (uint64_t last = 0;;) {
			uint64_t v;

			/* pairs with the parent's release store of ping */
			while ((v = __atomic_load_n(&s->ping, __ATOMIC_ACQUIRE)) == last)
				xvio_cpu_relax();
			if (v == UINT64_MAX)
				_exit(0);
			last = v;
			__atomic_store_n(&s->pong, v, __ATOMIC_RELEASE);
		}
	}
	bench_pin(0);
	t0 = now();
	do {
		seq++;
		__atomic_store_n(&s->ping, seq, __ATOMIC_RELEASE);
		/* pairs with the child's release store of pong */
		while (__atomic_load_n(&s->pong, __ATOMIC_ACQUIRE) != seq)
			xvio_cpu_relax();
		/* The clock every 64 round trips: it costs as much as a tenth
		 * of one here. */
	} while ((seq & 63) != 0 || (t = now() - t0) < g_seconds);
	__atomic_store_n(&s->ping, UINT64_MAX, __ATOMIC_RELEASE);
	waitpid(pid, NULL, 0);
	bench_unpin();
	munmap(s, 4096);
	return t / (double)seq;
}

#define SHM_RING 256u
/* The bench device's seed for the raw rings (any value: the work is the
 * same transform the xvio_test backend does). */
#define SHM_SEED 0x5eedu

/* One request or response: a cache line, like the transport's 64 bytes. */
struct shm_msg {
	alignas(64) uint8_t b[BENCH_REQ_BYTES];
};

/*
 * Two single-producer single-consumer rings: requests and completions.
 * Slot i of `cpl` answers slot i of `req`; a completion entry is only the
 * index, so a request's 64 bytes go one way and its 64-byte answer the
 * other, as in the transport.
 */
struct shm_rings {
	alignas(64) uint32_t req_prod;
	alignas(64) uint32_t cpl_prod;
	alignas(64) uint32_t stop;
	struct shm_msg req[SHM_RING];
	struct shm_msg cpl[SHM_RING];
};

/* The 64-byte request `seq` (what the xvio bench's frontend writes). */
void bench_fill_req(void *buf, uint64_t seq)
{
	uint64_t w[BENCH_REQ_BYTES / 8];

	w[0] = seq;
	for (unsigned i = 1; i < BENCH_REQ_BYTES / 8; i++)
		w[i] = seq * 0x100000001b3ull + i;
	memcpy(buf, w, sizeof(w));
}

/* Is the 64-byte answer `out` right for request `in` (the device's
 * transform, testdev.h, checked in full)? */
bool bench_check_resp(uint32_t seed, void *in, void *out)
{
	struct iovec iov[2] = { { in, BENCH_REQ_BYTES }, { out, BENCH_REQ_BYTES } };

	return xt_xform(seed, iov, 1, 2, BENCH_REQ_BYTES, true) < 0;
}

/*
 * The echo: the xvio_test device's work on each request, in place.  In
 * the counted mode (mark != NULL) mark() toggles counting on before
 * request `from` and off after request `to` - 1, and off and on again
 * around each wait for requests within the window: the count is the work,
 * not the waiting, like the transport's no-spin rows, which sleep.
 */
static void shm_echo(struct shm_rings *r, uint32_t from, uint32_t to, void (*mark)(void))
{
	uint32_t cons = 0;
	bool counting = false, waiting = false;

	for (;;) {
		/* pairs with the producer's release store of req_prod */
		uint32_t prod = __atomic_load_n(&r->req_prod, __ATOMIC_ACQUIRE);

		if (prod == cons) {
			if (__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE))
				_exit(0);
			if (counting && !waiting) {
				mark();
				waiting = true;
			}
			xvio_cpu_relax();
			continue;
		}
		if (waiting) {
			mark();
			waiting = false;
		}
		for (; cons != prod; cons++) {
			struct iovec iov[2] = {
				{ r->req[cons % SHM_RING].b, BENCH_REQ_BYTES },
				{ r->cpl[cons % SHM_RING].b, BENCH_REQ_BYTES },
			};

			if (mark && cons == from) {
				mark();
				counting = true;
			}
			xt_xform(SHM_SEED, iov, 1, 2, BENCH_REQ_BYTES, false);
			if (mark && cons + 1 == to) {
				mark();
				counting = false;
			}
		}
		/* answers before index; pairs with the requester's acquire load */
		__atomic_store_n(&r->cpl_prod, prod, __ATOMIC_RELEASE);
	}
}

/*
 * Keep `depth` requests in flight: write each request into its slot,
 * publish, wait for completions, check every answer in full.  Timed
 * (n == 0: for g_seconds, returns requests per second) or counted
 * (`warm` requests, then `n` between two calls of mark() on each side:
 * the requester after completions, the echo before echoing).
 */
static double shm_ring_run(unsigned depth, uint32_t warm, uint32_t n, void (*mark)(void))
{
	struct shm_rings *r = shared_pages(sizeof(*r));
	uint32_t prod = 0, cons = 0, end = warm + n;
	bool counted = n > 0, counting = false;
	double t0, t = 0;
	pid_t pid = fork();

	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		bench_pin(1);
		shm_echo(r, warm, end, counted ? mark : NULL);
	}
	bench_pin(0);
	t0 = now();
	for (;;) {
		uint32_t cp;

		if (counted) {
			if (cons == end)
				break;
			if (!counting && cons == warm) {
				mark();
				counting = true;
			}
		} else if ((cons & 255) < depth && (t = now() - t0) >= g_seconds) {
			break;
		}
		/* Up to `warm` first, so that a counted window starts there. */
		while (prod - cons < depth && (!counted || prod != (counting ? end : warm))) {
			bench_fill_req(r->req[prod % SHM_RING].b, prod + 1);
			prod++;
		}
		/* requests before index; pairs with the echo's acquire load */
		__atomic_store_n(&r->req_prod, prod, __ATOMIC_RELEASE);
		/* pairs with the echo's release store of cpl_prod */
		if ((cp = __atomic_load_n(&r->cpl_prod, __ATOMIC_ACQUIRE)) == cons) {
			if (counting)
				mark(); /* the wait is not counted */
			while ((cp = __atomic_load_n(&r->cpl_prod, __ATOMIC_ACQUIRE)) == cons)
				xvio_cpu_relax();
			if (counting)
				mark();
		}
		for (; cons != cp; cons++)
			if (!bench_check_resp(SHM_SEED, r->req[cons % SHM_RING].b,
			                      r->cpl[cons % SHM_RING].b))
				die("shm ring echo", EPROTO);
	}
	if (counted)
		mark();
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	waitpid(pid, NULL, 0);
	bench_unpin();
	munmap(r, sizeof(*r));
	return counted ? 0 : (double)cons / t;
}

double baseline_shm_ring(unsigned depth)
{
	return shm_ring_run(depth, 0, 0, NULL);
}

void baseline_shm_ring_counted(unsigned depth, uint32_t warm, uint32_t n, void (*mark)(void))
{
	shm_ring_run(depth, warm, n, mark);
}

/* ---- the same rings at depth 1, stamped (ring --breakdown) ---- */

/*
 * The echo with the stamps the transport's backend takes (bench_breakdown.h),
 * while the requester asks for them: the request's index seen, the work
 * done, the answer's index stored.  Nothing runs between seeing a request
 * and working on it, so the row's callback stamp is the seen one.  One
 * request per pass: at depth 1 there is never more.
 */
static void shm_echo_stamped(struct shm_rings *r, struct bd_area *a)
{
	bd_prefault(a->back, sizeof(a->back));
	for (uint32_t cons = 0;;) {
		struct shm_msg *req = &r->req[cons % SHM_RING];
		struct iovec iov[2] = {
			{ req->b, BENCH_REQ_BYTES },
			{ r->cpl[cons % SHM_RING].b, BENCH_REQ_BYTES },
		};
		struct bd_back_row row = { 0 };
		bool stamp;
		uint64_t seq;
		size_t i;

		/* pairs with the requester's release store of req_prod */
		if (__atomic_load_n(&r->req_prod, __ATOMIC_ACQUIRE) == cons) {
			if (__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE))
				_exit(0);
			xvio_cpu_relax();
			continue;
		}
		stamp = __atomic_load_n(&a->stamping, __ATOMIC_RELAXED) != 0;
		if (stamp)
			row.seen = row.req = xvio_stamp_now();
		memcpy(&seq, req->b, sizeof(seq));
		xt_xform(SHM_SEED, iov, 1, 2, BENCH_REQ_BYTES, false);
		if (stamp)
			row.done = xvio_stamp_now();
		/* answer before index; pairs with the requester's acquire load */
		__atomic_store_n(&r->cpl_prod, ++cons, __ATOMIC_RELEASE);
		if (stamp) {
			row.pub = xvio_stamp_now();
			if ((i = bd_index(a, seq)) < BD_ROWS)
				bd_put_back(a, i, &row);
		}
	}
}

/* One request after request `seq`, stamped where the transport's
 * frontend is if `stamp`; there is no completion callback, so the row's
 * callback stamp is the seen one. */
static void shm_req_one(struct shm_rings *r, struct bd_area *a, uint32_t seq, bool stamp)
{
	struct shm_msg *req = &r->req[seq % SHM_RING], *cpl = &r->cpl[seq % SHM_RING];
	struct bd_front_row row = { 0 };
	size_t i;

	if (stamp)
		row.issue = xvio_stamp_now();
	bench_fill_req(req->b, ++seq);
	if (stamp)
		row.pub = xvio_stamp_now();
	/* request before index; pairs with the echo's acquire load */
	__atomic_store_n(&r->req_prod, seq, __ATOMIC_RELEASE);
	/* pairs with the echo's release store of cpl_prod */
	while (__atomic_load_n(&r->cpl_prod, __ATOMIC_ACQUIRE) != seq)
		xvio_cpu_relax();
	if (stamp) {
		row.seen = row.done = xvio_stamp_now();
		if ((i = bd_index(a, seq)) < BD_ROWS)
			bd_put_front(a, i, &row);
	}
	if (!bench_check_resp(SHM_SEED, req->b, cpl->b))
		die("stamped shm ring echo", EPROTO);
}

struct shm_stamped {
	struct shm_rings *r;
	struct bd_area *a;
	uint32_t seq;   /* the last request's */
};

/* A chunk for bd_alternate(); the echo follows the switch at once. */
static void shm_chunk(void *arg, bool stamp)
{
	struct shm_stamped *st = arg;

	__atomic_store_n(&st->a->stamping, stamp, __ATOMIC_RELAXED);
	for (unsigned k = 0; k < BD_CHUNK; k++)
		shm_req_one(st->r, st->a, st->seq++, stamp);
}

void baseline_shm_ring_stamped(struct bd_area *a)
{
	struct shm_stamped st = { shared_pages(sizeof(*st.r)), a, 0 };
	double until;
	pid_t pid;

	a->first = 0;
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		bench_pin(1);
		shm_echo_stamped(st.r, a);
	}
	bench_pin(0);
	bd_prefault(a->front, sizeof(a->front));
	for (until = now() + bench_warm_seconds(); now() < until;)
		shm_chunk(&st, true);
	/* Seen by the echo before the next request: the release store of
	 * req_prod orders it. */
	__atomic_store_n(&a->first, (uint64_t)st.seq + 1, __ATOMIC_RELAXED);
	bd_alternate(a, shm_chunk, &st);
	__atomic_store_n(&st.r->stop, 1, __ATOMIC_RELEASE);
	waitpid(pid, NULL, 0);
	bench_unpin();
	munmap(st.r, sizeof(*st.r));
}
