/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the transport tests: device nodes made as a toolstack makes
 * them, the xvio_test programs as processes of a domain with their output
 * read line by line, and the counters that show leaks (the simulated
 * hypervisor's per-domain counters, a process's fds and mappings).
 *
 * Like simtest.h, every function fails the test instead of returning an
 * error, unless it says otherwise.
 */
#ifndef XVIO_TEST_XPTEST_H
#define XVIO_TEST_XPTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <xenstore.h>

#include "check.h"
#include "sim_proto.h"
#include "simtest.h"

#define XP_TIMEOUT_MS 20000
#define XP_GUEST_CFG "name = \"guest%d\"\nmemory = 256\n"

/* A guest domain for the tests (256 MiB). */
int xp_guest(struct simtest *st);

/* libxenstore as domain `domid` (dom0 is privileged). */
struct xs_handle *xp_xs(const struct simtest *st, int domid);

struct xp_dev {
	int domid;
	unsigned devid;
	char be[256]; /* /local/domain/0/backend/xvio_test/<domid>/<devid> */
	char fe[256]; /* /local/domain/<domid>/device/xvio_test/<devid> */
};

/*
 * Create an xvio_test device as libxl creates a device, in one
 * transaction: the frontend directory owned by the guest and readable by
 * dom0, the backend directory owned by dom0 and readable by the guest,
 * cross links, online=1, both states 1.
 */
void xp_make_device(struct xs_handle *xs0, int domid, unsigned devid, struct xp_dev *d);
/* libxl's removal: online=0 and backend state 5 in one transaction. */
void xp_remove_device(struct xs_handle *xs0, const struct xp_dev *d);

/*
 * A virtio_disk as libxl 4.17's device_disk_add writes it for
 * `backendtype=standalone, specification=virtio` (docs/protocol.md §1), in
 * one transaction with libxl's permissions.  Fills be and fe.
 */
struct xp_disk {
	int domid;
	unsigned devid;
	const char *params;
	const char *mode;          /* "w" when NULL */
	const char *device_type;   /* "disk" when NULL */
	int discard;               /* discard-enable; -1: key absent */
	bool direct;               /* direct-io-safe = 1 */
	char be[256], fe[256];
};
void xp_make_disk(struct xs_handle *xs0, struct xp_disk *d);

/* Read dir/key ("" and false when missing). */
bool xp_read(struct xs_handle *xs, const char *dir, const char *key, char *buf, size_t size);
void xp_write(struct xs_handle *xs, const char *dir, const char *key, const char *val);
/* Wait until dir/key reads `want` (NULL: is missing). */
void xp_wait(struct xs_handle *xs, const char *dir, const char *key, const char *want);
/* Both states Connected. */
void xp_wait_connected(struct xs_handle *xs0, const struct xp_dev *d);

/* A test program (tests/xport/<prog>) run as a process of a domain. */
struct xp_proc {
	pid_t pid;
	int out;              /* its stdout */
	char buf[16384];
	size_t len;
};

/* Start prog with arguments (NULL-ended) in domain `domid`. */
void xp_start(struct xp_proc *p, const struct simtest *st, int domid, const char *prog, ...);
void xp_startv(struct xp_proc *p, const struct simtest *st, int domid, const char *prog,
               const char *const *args);
/* The next output line starting with `prefix` (others are echoed to
 * stderr); fails after timeout_ms or if the process ends first. */
void xp_expect(struct xp_proc *p, const char *prefix, char *line, size_t size, int timeout_ms);
/* SIGKILL and reap. */
void xp_kill(struct xp_proc *p);
/* SIGTERM, reap, return the exit status (fails on a signal death). */
int xp_term(struct xp_proc *p);
/* Wait for the exit; returns its status. */
int xp_wait_exit(struct xp_proc *p, int timeout_s);
/* The number after `key=` in a line (e.g. "dups=0"), fails if absent. */
unsigned long long xp_field(const char *line, const char *key);

/* The simulated hypervisor's counters for a domain, asked as dom0.
 * Returns 0 or -ESRCH when the domain no longer exists. */
int xp_dominfo(const struct simtest *st, int domid, struct xvio_sim_dominfo *out);

/* A process's open fds, its shared mappings (grants and rings: malloc's
 * private mappings come and go), and its CPU time (user + system) in
 * milliseconds. */
int xp_fds(pid_t pid);
int xp_maps(pid_t pid);
long xp_cpu_ms(pid_t pid);

long long xp_now_ms(void);

#endif
