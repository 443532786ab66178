/* SPDX-License-Identifier: MIT */
/* xvio-bench internals: one file per subcommand, shared helpers here. */
#ifndef XVIO_BENCH_H
#define XVIO_BENCH_H

#include <limits.h>
#include <stddef.h>
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

/* Baselines (baseline.c): round trips per second between two processes. */
double baseline_eventfd(void);
double baseline_socket(void);
/* Seconds per round trip of a busy-polled shared-memory ping-pong. */
double baseline_shm_rtt(void);
/* Requests per second through busy-polled shared-memory request and
 * completion rings with `depth` requests in flight. */
double baseline_shm_ring(unsigned depth);

int bench_xenstore(void);
int bench_evtchn(void);

#endif
