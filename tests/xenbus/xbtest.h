/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the xenbus integration tests.  Like simtest.h they
 * fail the test instead of returning errors.
 */
#ifndef XVIO_TEST_XBTEST_H
#define XVIO_TEST_XBTEST_H

#include <stdbool.h>
#include <stddef.h>

#include <xenstore.h>

#include "simtest.h"

/* The device kind the tests use, so nothing real reacts to it. */
#define XB_KIND "xvio_test"
#define XB_DEVID 51712

/* A libxenstore connection as domain `domid` (dom0 is privileged). */
struct xs_handle *xb_open_as(const struct simtest *st, int domid);

struct xb_dev_paths {
	char be[256]; /* /local/domain/0/backend/<kind>/<domid>/<devid> */
	char fe[256]; /* /local/domain/<domid>/device/<kind>/<devid> */
};

/*
 * Create a device's two directories as libxl does, in one transaction:
 * frontend owned by the guest and readable by dom0, backend owned by dom0
 * and readable by the guest, both in state 1, backend online=1.
 */
void xb_make_device(struct xs_handle *xs0, int domid, struct xb_dev_paths *p);

/* Read a node into buf ("" and false if missing). */
bool xb_read(struct xs_handle *xs, const char *path, char *buf, size_t size);
void xb_write(struct xs_handle *xs, const char *path, const char *val);

/* Wait until path reads `want` (NULL: until it is missing), or fail. */
void xb_wait_value(struct xs_handle *xs, const char *path, const char *want,
                   int timeout_ms);

long long xb_now_ms(void);

#endif
