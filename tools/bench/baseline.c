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

#include "barrier.h"
#include "bench.h"

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
	t0 = now();
	do {
		seq++;
		__atomic_store_n(&s->ping, seq, __ATOMIC_RELEASE);
		/* pairs with the child's release store of pong */
		while (__atomic_load_n(&s->pong, __ATOMIC_ACQUIRE) != seq)
			xvio_cpu_relax();
	} while ((t = now() - t0) < g_seconds);
	__atomic_store_n(&s->ping, UINT64_MAX, __ATOMIC_RELEASE);
	waitpid(pid, NULL, 0);
	munmap(s, 4096);
	return t / (double)seq;
}

#define SHM_RING 256u

/* Two single-producer single-consumer rings: requests and completions. */
struct shm_rings {
	alignas(64) uint32_t req_prod;
	alignas(64) uint32_t req_cons;
	alignas(64) uint32_t cpl_prod;
	alignas(64) uint32_t cpl_cons;
	alignas(64) uint32_t req[SHM_RING];
	alignas(64) uint32_t cpl[SHM_RING];
	uint32_t stop;
};

static void shm_echo(struct shm_rings *r)
{
	uint32_t cons = 0;

	for (;;) {
		/* pairs with the producer's release store of req_prod */
		uint32_t prod = __atomic_load_n(&r->req_prod, __ATOMIC_ACQUIRE);

		if (prod == cons) {
			if (__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE))
				_exit(0);
			xvio_cpu_relax();
			continue;
		}
		for (; cons != prod; cons++)
			r->cpl[cons % SHM_RING] = r->req[cons % SHM_RING];
		/* entries before index; pairs with the producer's acquire load */
		__atomic_store_n(&r->cpl_prod, prod, __ATOMIC_RELEASE);
	}
}

/* Requests per second with `depth` requests kept in flight. */
double baseline_shm_ring(unsigned depth)
{
	struct shm_rings *r = shared_pages(sizeof(*r));
	uint32_t prod = 0, cons = 0;
	double t0, t;
	pid_t pid = fork();

	if (pid < 0)
		die("fork", errno);
	if (pid == 0)
		shm_echo(r);
	t0 = now();
	do {
		uint32_t cp;

		while (prod - cons < depth) {
			r->req[prod % SHM_RING] = prod;
			prod++;
		}
		/* entries before index; pairs with the echo's acquire load */
		__atomic_store_n(&r->req_prod, prod, __ATOMIC_RELEASE);
		/* pairs with the echo's release store of cpl_prod */
		while ((cp = __atomic_load_n(&r->cpl_prod, __ATOMIC_ACQUIRE)) == cons)
			xvio_cpu_relax();
		for (; cons != cp; cons++)
			if (r->cpl[cons % SHM_RING] != cons)
				die("shm ring echo", EPROTO);
	} while ((t = now() - t0) < g_seconds);
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	waitpid(pid, NULL, 0);
	munmap(r, sizeof(*r));
	return (double)cons / t;
}
