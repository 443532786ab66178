/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the hypervisor tests (tests/hyp): domains made through the
 * harness, a message pipe between the test's processes, the daemon's
 * counters seen through dom0, raw protocol access for hostile clients,
 * and fd/mapping counts of the calling process.
 *
 * Like simtest.h, every function fails the test instead of returning an
 * error, except the ht_raw_* calls, which return what the daemon said.
 */
#ifndef XVIO_TEST_HYPTEST_H
#define XVIO_TEST_HYPTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "check.h"
#include "plat.h"
#include "sim_proto.h"
#include "simtest.h"

/* Assert that an int-returning platform call returns exactly `want`. */
#define CHECK_RET(call, want) CHECK_INT((call), ==, (want))

/* Create a domain with `mem_mib` MiB (maxmem the same unless > 0). */
int ht_domain(struct simtest *st, unsigned mem_mib, unsigned maxmem_mib);

/* Open the platform as the current process's domain (after simtest_enter). */
struct xvio_plat *ht_open(void);

/*
 * A bidirectional message pipe between the test's processes (a
 * SOCK_SEQPACKET socketpair made before forking).  ht_put sends one
 * message; ht_get receives one of exactly `len` bytes, failing the test
 * after 20 s.  Each side uses its own end: end 0 in the parent's first
 * child, end 1 in the other (see ht_pipe_side).
 */
struct ht_pipe {
	int fd[2];
};
void ht_pipe_init(struct ht_pipe *p);
/* In a child: keep end `side`, close the other.  Returns the fd to use. */
int ht_pipe_side(struct ht_pipe *p, int side);
void ht_pipe_close(struct ht_pipe *p);
void ht_put(int fd, const void *buf, size_t len);
void ht_get(int fd, void *buf, size_t len);
/* Convenience: a single int. */
void ht_put_int(int fd, int v);
int ht_get_int(int fd);

/* ---- raw protocol (tests/hyp only: bypasses xenbus/plat_sim.c) ---- */

/* Fill sa->sun_path with domain `domid`'s hypervisor socket path. */
struct sockaddr_un;
void ht_sock_path(const struct simtest *st, int domid, struct sockaddr_un *sa);

/* Connect to domain `domid`'s hypervisor socket; returns the fd. */
int ht_raw_connect(const struct simtest *st, int domid);

struct ht_reply {
	struct xvio_sim_rep rep;
	unsigned char payload[XVIO_SIM_MAX_MSG];
	size_t len;                  /* payload bytes */
	int fds[XVIO_SIM_MAX_MAP_DOMAINS];
	unsigned nfds;
};

/* Send one request (header + payload) and read the reply.  Returns the
 * reply's err, or -ECONNRESET if the daemon closed the connection.  The
 * caller closes r->fds (ht_reply_close). */
int ht_raw_call(int fd, const struct xvio_sim_req *req, const void *payload, size_t plen,
                struct ht_reply *r);
void ht_reply_close(struct ht_reply *r);

/* The daemon's counters for a domain, asked as dom0.  Returns -ESRCH if
 * the domain is gone. */
int ht_info(const struct simtest *st, int domid, struct xvio_sim_dominfo *out);

/* Poll ht_info until cond(info) holds or 10 s pass (the daemon handles a
 * closed connection asynchronously).  Returns whether it held. */
bool ht_wait_info(const struct simtest *st, int domid,
                  bool (*cond)(int err, const struct xvio_sim_dominfo *i, long arg), long arg);

/* ---- the daemon as a process ---- */

/*
 * simtest_start with the daemon's stderr (its log) going to a fresh file,
 * whose path is put in `log`; the test's own stderr is left as it was.
 */
void ht_start_logged(struct simtest *st, char *log, size_t len);

/* Lines of the log containing `needle` (every line if NULL). */
int ht_log_count(const char *log, const char *needle);

/* Copy the log to our stderr (for the test's output), then remove it. */
void ht_log_finish(const char *log);

/* CPU time (user + system) the daemon has used so far, in milliseconds. */
long ht_cpu_ms(pid_t pid);

/* ---- this process ---- */

int ht_count_fds(void);
int ht_count_maps(void);

/*
 * Run fn(arg) in a forked child and report how it ended: the signal that
 * killed it, or 0 if it exited (with status *status).  For checking that a
 * write faults.  Core dumps are disabled in the child.
 */
int ht_run_for_signal(void (*fn)(void *), void *arg, int *status);

/* Read `len` bytes of this process's memory at addr without faulting;
 * false if any of it is not readable (process_vm_readv on ourselves). */
bool ht_readable(const void *addr, size_t len);

#endif
