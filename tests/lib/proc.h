/* SPDX-License-Identifier: MIT */
/*
 * Programs under test as processes of a simulated domain: started with
 * their stdout on a pipe that the test reads line by line, stopped, and
 * measured (open fds, shared mappings, CPU time) to show leaks and busy
 * loops.  Every suite that runs real programs (tests/xport, tests/hostile,
 * tests/blkfront, ...) uses these, so there is one way to start, read and
 * reap a child.
 *
 * The xp_ names are the ones tests/xport gave them first: tests in every
 * suite call them, so they stayed.  Like simtest.h, every function fails
 * the test instead of returning an error, unless it says otherwise.
 * Not thread-safe: the test's main thread only.
 */
#ifndef XVIO_TEST_PROC_H
#define XVIO_TEST_PROC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "simtest.h"

/* Arguments a started program may have (its path included). */
#define XP_MAX_ARGS 40

/* A program started as a process of a domain. */
struct xp_proc {
	pid_t pid;
	int out;              /* its stdout */
	char buf[16384];
	size_t len;
	/* How failures and echoed lines name it: "pid <pid>" unless the
	 * starter renames it. */
	char name[32];
	/* Set by the starter (NULL: none): called while xp_expect waits
	 * (at least every 50 ms) and, with `ended`, when the stdout ends
	 * early; it fails the test if something it watches died, so a dead
	 * program fails at once instead of at the timeout. */
	void (*check)(struct xp_proc *p, bool ended);
};

/* $XVIO_TEST_BUILDDIR/<fmt...>: where meson built the test programs. */
const char *xp_build_path(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Copy NULL-ended arguments from ap into args (room for max entries, the
 * NULL included); returns how many.  For the varargs starters. */
unsigned xp_args(const char **args, unsigned max, va_list ap);

/* In a function whose arguments after `last` are NULL-ended strings:
 * copy them into `args` (an array of XP_MAX_ARGS). */
#define XP_VA_ARGS(args, last)                                                \
	do {                                                                  \
		va_list ap_;                                                  \
		va_start(ap_, last);                                          \
		xp_args(args, XP_MAX_ARGS, ap_);                              \
		va_end(ap_);                                                  \
	} while (0)

/*
 * Run `path` with args (NULL-ended, may be NULL) in domain `domid`: its
 * stdout on a pipe to p->out, its stderr on err_fd (< 0: ours), with
 * LD_PRELOAD=ld_preload when that is non-NULL and non-empty.  The child
 * dies with the test (PR_SET_PDEATHSIG).  A missing program fails here.
 */
void xp_spawn(struct xp_proc *p, const struct simtest *st, int domid, const char *path,
              const char *const *args, int err_fd, const char *ld_preload);

/* The next output line starting with `prefix` (others but "progress"
 * lines are echoed to stderr); fails after timeout_ms or if the process
 * ends first. */
void xp_expect(struct xp_proc *p, const char *prefix, char *line, size_t size, int timeout_ms);
/* SIGKILL and reap. */
void xp_kill(struct xp_proc *p);
/* SIGTERM, reap, return the exit status (fails on a signal death). */
int xp_term(struct xp_proc *p);
/* Wait for the exit; returns its status. */
int xp_wait_exit(struct xp_proc *p, int timeout_s);
/* The number after `key=` in a line (e.g. "dups=0"), fails if absent. */
unsigned long long xp_field(const char *line, const char *key);

/* A process's open fds, its shared mappings (grants and rings: malloc's
 * private mappings come and go), and its CPU time (user + system) in
 * milliseconds. */
int xp_fds(pid_t pid);
int xp_maps(pid_t pid);
long xp_cpu_ms(pid_t pid);

static inline long long xp_now_ms(void)
{
	return simtest_now_ms();
}

#endif
