/* SPDX-License-Identifier: MIT */
/*
 * Test harness: every integration test starts its own xvio-sim in a fresh
 * state directory, so tests run in parallel and never share a store.
 *
 * All functions fail the test (exit 1 with a message) instead of returning
 * errors; what they return is always valid.  Not thread-safe; call them
 * from the test's main thread (children made by simtest_spawn may call
 * simtest_enter only).
 *
 * The simulator binary is $XVIO_SIM (set by meson for every test).
 */
#ifndef XVIO_TEST_SIMTEST_H
#define XVIO_TEST_SIMTEST_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

struct simtest {
	char dir[200];        /* the simulator's state directory */
	pid_t pid;            /* the simulator (foreground, our child) */
};

/* Start `xvio-sim start --foreground --state-dir <new temp dir>` and wait
 * until it serves.  Extra arguments for `start` may be given (NULL-ended). */
void simtest_start(struct simtest *st, ...);

/* `xvio-sim stop`; checks the daemon exited with status 0 (it did not
 * crash, sanitizers found nothing) and removes the state directory. */
void simtest_stop(struct simtest *st);

/* Did the simulator die?  Fails the test if so (call after hostile input). */
void simtest_check_alive(struct simtest *st);

/* `xvio-sim create` with `cfg` written to a temporary xl config file.
 * Returns the new domid. */
int simtest_create(struct simtest *st, const char *cfg);

void simtest_destroy(struct simtest *st, int domid);

/* Point this process's environment at domain `domid` of the simulator:
 * XENSTORED_PATH, XVIO_SIM_HYP, XVIO_PLATFORM=sim, XVIO_SIM_DIR.  Use in a
 * child before opening libxenstore or the platform. */
void simtest_enter(const struct simtest *st, int domid);

/* Path of domain `domid`'s xenstore socket (dom0 is privileged). */
const char *simtest_xs_path(const struct simtest *st, int domid, char *buf, size_t len);

/* Fork a child that enters domain `domid` and exits with fn(arg). */
pid_t simtest_spawn(const struct simtest *st, int domid, int (*fn)(void *), void *arg);

/* Wait for a child; returns its exit status, fails the test if it was
 * killed by a signal.  timeout_s > 0 kills it and fails after that long. */
int simtest_wait(pid_t pid, int timeout_s);

/* CLOCK_MONOTONIC in milliseconds, for the tests' deadlines. */
long long simtest_now_ms(void);

/* Run `sh -c cmd` as a process of domain `domid` (through `xvio-sim
 * exec`), capture stdout (NUL-terminated, truncated to outlen) and return
 * its exit status.  out may be NULL. */
int simtest_sh(const struct simtest *st, int domid, char *out, size_t outlen,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
