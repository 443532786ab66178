/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the transport tests: device nodes made as a toolstack makes
 * them (on tests/lib/xsdev.h), the xvio_test programs as processes of a
 * domain with their output read line by line (tests/lib/proc.h, included
 * here), and the simulated hypervisor's per-domain counters that show
 * leaks.
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
#include "proc.h"
#include "sim_proto.h"
#include "simtest.h"
#include "xsdev.h"

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

/* Start tests/xport/<prog> with arguments (NULL-ended) in domain
 * `domid` (tests/lib/proc.h reads, stops and measures it). */
void xp_start(struct xp_proc *p, const struct simtest *st, int domid, const char *prog, ...);
void xp_startv(struct xp_proc *p, const struct simtest *st, int domid, const char *prog,
               const char *const *args);

/*
 * The usual start of a transport test: the simulator, one guest, dom0's
 * xenstore, the guest's xvio_test device `devid`, and xvio-testback in
 * dom0 (arguments NULL-ended) started after the device, so it finds it in
 * its first scan, and ready.
 */
struct xp_scene {
	struct simtest st;
	int dom;
	struct xs_handle *xs0;
	struct xp_dev d;
	struct xp_proc be;
};
void xp_scene_start(struct xp_scene *s, unsigned devid, ...);
/* The backend must exit 0 on SIGTERM; then xenstore and the simulator go. */
void xp_scene_stop(struct xp_scene *s);

/* The simulated hypervisor's counters for a domain, asked as dom0.
 * Returns 0 or -ESRCH when the domain no longer exists. */
int xp_dominfo(const struct simtest *st, int domid, struct xvio_sim_dominfo *out);

#endif
