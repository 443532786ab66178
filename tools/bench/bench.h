/* SPDX-License-Identifier: MIT */
/* xvio-bench internals: one file per subcommand, shared helpers here. */
#ifndef XVIO_BENCH_H
#define XVIO_BENCH_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Seconds each figure is measured for (-s). */
extern double g_seconds;

double now(void);
void die(const char *what, int err) __attribute__((noreturn));

/* A private simulator in a temporary state directory. */
struct sim {
	char dir[128];
	char bin[PATH_MAX];
	pid_t pid;
};

void sim_start(struct sim *s);
/* Create a domain called `name`; returns its domid. */
int sim_create(struct sim *s, const char *name);
/* Point this process at domain `domid` (environment for libxenstore and
 * the platform layer). */
void sim_enter(const struct sim *s, int domid);
void sim_stop(struct sim *s);
/* Wait for a child; exit(1) with a message unless it exited 0. */
void bench_wait_ok(pid_t pid, const char *what);
/*
 * Pin the calling process to one CPU of the two sides of a measurement
 * (side 0: the requester, 1: the responder), each on a CPU of its own:
 * left to the scheduler, two busy pollers on a 2-CPU machine are now and
 * then stacked on one CPU, which turns a sub-microsecond round trip into
 * time slices.  Baselines and transport runs are placed alike.  No-op
 * with fewer than two usable CPUs.  bench_unpin() restores the set the
 * program started with.
 */
void bench_pin(unsigned side);
void bench_unpin(void);
bool bench_pinned(void);

/* A decimal command-line number; exits 2 with a message otherwise. */
unsigned long long bench_arg_num(const char *s);
/* Warm-up before each timed figure: min(-s / 8, 0.25 s). */
double bench_warm_seconds(void);
/* --rounds limit of the subcommands that repeat and take medians. */
#define BENCH_MAX_ROUNDS 16u

/*
 * CPU time the hypervisor took from this VM so far, in seconds summed over
 * its CPUs (the steal column of /proc/stat; 0 where the kernel does not
 * account it, -1 if unreadable).  Busy-polled figures taken while it grows
 * measure the host's scheduler, not the code: the timed modes print it.
 */
double bench_steal_seconds(void);
/* Steal as a share of all online CPUs' time since bench_steal_mark(). */
struct bench_steal {
	double steal, t;
};
void bench_steal_mark(struct bench_steal *m);
double bench_steal_share(const struct bench_steal *m);

/* The median of v[0..n) (sorts v; n > 0). */
double bench_median(double *v, unsigned n);

/* The ring benchmark's request: 64 readable bytes, answered with 64
 * writable bytes by the xvio_test transform (tests/xport/testdev.h). */
#define BENCH_REQ_BYTES 64u
/* Write request number `seq` (64 bytes) into buf. */
void bench_fill_req(void *buf, uint64_t seq);
/* Check a 64-byte answer in full against its request. */
bool bench_check_resp(uint32_t seed, void *req, void *resp);

/* Baselines (baseline.c): round trips per second between two processes. */
double baseline_eventfd(void);
double baseline_socket(void);
/* Seconds per round trip of a busy-polled shared-memory ping-pong. */
double baseline_shm_rtt(void);
/* Requests per second through busy-polled shared-memory request and
 * completion rings with `depth` requests in flight, each request 64 bytes
 * written into its ring slot, answered in place by the xvio_test
 * transform into a 64-byte completion slot, checked in full. */
double baseline_shm_ring(unsigned depth);
/* The same rings for `warm` + `n` requests, calling mark() on both sides
 * when the `n` counted requests start and end (for instruction counts). */
void baseline_shm_ring_counted(unsigned depth, uint32_t warm, uint32_t n, void (*mark)(void));

int bench_xenstore(void);
int bench_evtchn(void);
/* argv[0] is "ring" (options follow) / the side's role for ring-side. */
int bench_ring(int argc, char **argv);
int bench_ring_side(int argc, char **argv);
/* argv[0] is "blk" (options follow) / the side's role for blk-side. */
int bench_blk(int argc, char **argv);
int bench_blk_side(int argc, char **argv);

#endif
