/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "xsdev.h"

struct xs_handle *xsdev_open(const struct simtest *st, int domid)
{
	char path[PATH_MAX];
	struct xs_handle *xs;

	/* libxenstore reads XENSTORED_PATH when opening. */
	CHECK(setenv("XENSTORED_PATH", simtest_xs_path(st, domid, path, sizeof(path)), 1) == 0);
	xs = xs_open(0);
	if (!xs)
		CHECK_FAIL("xs_open as dom%d: %s", domid, strerror(errno));
	return xs;
}

int xsdev_get(struct xs_handle *xs, const char *path, char *buf, size_t size)
{
	unsigned int len;
	char *v = xs_read(xs, XBT_NULL, path, &len);

	if (!v) {
		int err = errno;

		if (err != ENOENT && err != EACCES)
			CHECK_FAIL("read %s: %s", path, strerror(err));
		buf[0] = '\0';
		return -err;
	}
	snprintf(buf, size, "%.*s", (int)len, v);
	free(v);
	return 0;
}

void xsdev_put(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *key,
               const char *val)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	if (!xs_write(xs, t, path, val, (unsigned)strlen(val)))
		CHECK_FAIL("write %s: %s", path, strerror(errno));
}

static bool create_txn(struct xs_handle *xs0, int domid, const char *be, const char *fe,
                       void (*more)(struct xs_handle *xs0, xs_transaction_t t, const void *arg),
                       const void *arg)
{
	struct xs_permissions fe_perms[2] = {
		{ .id = (unsigned)domid, .perms = XS_PERM_NONE },
		{ .id = 0, .perms = XS_PERM_READ },
	};
	struct xs_permissions be_perms[2] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = (unsigned)domid, .perms = XS_PERM_READ },
	};
	xs_transaction_t t = xs_transaction_start(xs0);
	char id[16];

	CHECK(t != XBT_NULL);
	/* Children inherit the directory's permissions when created. */
	CHECK(xs_mkdir(xs0, t, fe));
	CHECK(xs_set_permissions(xs0, t, fe, fe_perms, 2));
	xsdev_put(xs0, t, fe, "backend", be);
	xsdev_put(xs0, t, fe, "backend-id", "0");
	xsdev_put(xs0, t, fe, "state", "1");
	CHECK(xs_mkdir(xs0, t, be));
	CHECK(xs_set_permissions(xs0, t, be, be_perms, 2));
	xsdev_put(xs0, t, be, "frontend", fe);
	snprintf(id, sizeof(id), "%d", domid);
	xsdev_put(xs0, t, be, "frontend-id", id);
	xsdev_put(xs0, t, be, "online", "1");
	xsdev_put(xs0, t, be, "state", "1");
	if (more)
		more(xs0, t, arg);
	if (xs_transaction_end(xs0, t, false))
		return true;
	if (errno != EAGAIN)
		CHECK_FAIL("device transaction: %s", strerror(errno));
	return false;
}

void xsdev_create(struct xs_handle *xs0, int domid, const char *be, const char *fe,
                  void (*more)(struct xs_handle *xs0, xs_transaction_t t, const void *arg),
                  const void *arg)
{
	while (!create_txn(xs0, domid, be, fe, more, arg))
		;
}
