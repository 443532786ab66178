/* SPDX-License-Identifier: MIT */
/*
 * xenstore as the tests play the toolstack: a libxenstore connection as a
 * given domain, and device directories made the way libxl makes them.
 * Shared by the xenbus, xport, hostile and blkfront tests so that every
 * suite's devices look alike to the code under test.
 *
 * Like simtest.h, every function fails the test instead of returning an
 * error.
 */
#ifndef XVIO_TEST_XSDEV_H
#define XVIO_TEST_XSDEV_H

#include <xenstore.h>

#include "simtest.h"

/* libxenstore as domain `domid` (dom0 is privileged). */
struct xs_handle *xsdev_open(const struct simtest *st, int domid);

/* Read path into buf (NUL-terminated, truncated to size): 0, or -ENOENT or
 * -EACCES with buf "" (callers decide whether a denied read is a
 * failure); any other error fails the test. */
int xsdev_get(struct xs_handle *xs, const char *path, char *buf, size_t size);

/* Write dir/key = val (in transaction t, or XBT_NULL). */
void xsdev_put(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *key,
               const char *val);

/*
 * Create a device as libxl creates one, in one transaction (retried while
 * it ends with EAGAIN): the frontend directory `fe` owned by guest `domid`
 * and readable by dom0, the backend directory `be` owned by dom0 and
 * readable by the guest, cross links, online=1, both states 1.  `more`
 * (may be NULL) adds the device kind's own keys in the same transaction.
 */
void xsdev_create(struct xs_handle *xs0, int domid, const char *be, const char *fe,
                  void (*more)(struct xs_handle *xs0, xs_transaction_t t, const void *arg),
                  const void *arg);

#endif
