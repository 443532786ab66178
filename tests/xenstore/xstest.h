/* SPDX-License-Identifier: MIT */
/*
 * A private xenstore server (tools/sim/xenstore alone, no hypervisor) in a
 * child process, for tests that need their own quotas, domains that exist
 * without a hypervisor, or the server's domain lifecycle calls.
 *
 * Layout as xvio-sim's: DIR/dom<N>/xenstored.sock per listed domain.  A
 * domain "exists" (INTRODUCE, SET_PERMS owner) once listed or created with
 * xstest_cmd("create N").
 *
 * Like simtest.h, every function fails the test instead of returning an
 * error.  Not thread-safe.
 */
#ifndef XVIO_TEST_XSTEST_H
#define XVIO_TEST_XSTEST_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <xenstore.h>

#include "check.h"
#include "xs_server.h"

struct xstest {
	char dir[PATH_MAX];
	pid_t pid;
	int ctl; /* commands to the server child */
};

/* Start a server listening for domain 0 and each of domids[0..n).
 * quota NULL: the defaults. */
void xstest_start(struct xstest *t, const struct xss_quota *quota,
                  const unsigned *domids, unsigned n);

/* More ways to start the server. */
struct xstest_opts {
	const struct xss_quota *quota; /* NULL: the defaults */
	unsigned nofile;  /* the server's RLIMIT_NOFILE (soft); 0: inherited */
	bool capture_log; /* the server's stderr goes to a file (xstest_log) */
};

void xstest_start_opts(struct xstest *t, const struct xstest_opts *o,
                       const unsigned *domids, unsigned n);

/* With capture_log: the server's log so far (malloc'ed, NUL-terminated),
 * and the number of its lines containing `needle`. */
char *xstest_log(const struct xstest *t);
unsigned xstest_log_count(const struct xstest *t, const char *needle);

/* A number from CONTROL output ("key value" lines): `what` of
 * xs_control_command(h, cmd, arg). */
unsigned long long xstest_control_num(struct xs_handle *h, const char *cmd,
                                      const char *arg, const char *what);

/* Stop the server; it must exit with status 0 (no crash, no leak). */
void xstest_stop(struct xstest *t);

/* Fails the test if the server died. */
void xstest_check_alive(struct xstest *t);

/*
 * Run a lifecycle command in the server and return its result (0 or
 * -errno):  "create N" (exists + listen), "introduce N", "shutdown N",
 * "destroy N" (xss_domain_destroyed), "write PATH VALUE" (xss_write);
 * and to starve the server of descriptors: "eat-fds 0" (open /dev/null
 * until EMFILE; returns how many), "eat-fds 1" (the same after closing
 * the server's spare descriptor), "free-fds 0" (close them again).
 */
int xstest_cmd(struct xstest *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

const char *xstest_sock(const struct xstest *t, unsigned domid, char *buf,
                        size_t len);

/* Set XENSTORED_PATH to domain `domid`'s socket (for children/commands). */
void xstest_enter(const struct xstest *t, unsigned domid);

/* xs_open() as domain `domid`. */
struct xs_handle *xstest_open(const struct xstest *t, unsigned domid);

/* A raw connected socket to domain `domid`'s xenstore socket. */
int xstest_raw(const struct xstest *t, unsigned domid);

/* Raw protocol helpers: send one message, read one message (payload
 * NUL-terminated into buf, at most len-1 bytes kept).  xstest_recv
 * returns the header type, or -1 on EOF/timeout (timeout_ms). */
void xstest_send(int fd, uint32_t type, uint32_t req_id, uint32_t tx_id,
                 const void *payload, size_t len);
int xstest_recv(int fd, uint32_t *req_id, char *buf, size_t len,
                size_t *plen, int timeout_ms);

/* Read one watch event from h (waiting up to timeout_ms); returns false
 * on timeout.  path/token are copied (truncated) into the buffers. */
bool xstest_event(struct xs_handle *h, int timeout_ms, char *path,
                  size_t plen, char *token, size_t tlen);
/* No event arrives within timeout_ms. */
bool xstest_no_event(struct xs_handle *h, int timeout_ms);

/* Wait for a child and require exit status 0. */
void xstest_wait_ok(pid_t pid);

/* What every case of a test program starts with: a server with default
 * quotas listening for domain 0 and domids[0..ndoms), and for each conn
 * *h = xstest_open(t, domid). */
struct xstest_conn {
	unsigned domid;
	struct xs_handle **h;
};

struct xstest_fixture {
	struct xstest *t;
	const unsigned *domids;
	unsigned ndoms;
	const struct xstest_conn *conns;
	size_t nconns;
};

/* main() of such a program: check_run_case() with the fixture set up
 * before the case and torn down (connections closed, server stopped)
 * after it. */
int xstest_run_case(int argc, char **argv, const struct check_case *cases,
                    size_t ncases, const struct xstest_fixture *f);

#endif
