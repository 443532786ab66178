/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "xbtest.h"

long long xb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct xs_handle *xb_open_as(const struct simtest *st, int domid)
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

static void write_in(struct xs_handle *xs, xs_transaction_t t, const char *dir,
                     const char *key, const char *val)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	if (!xs_write(xs, t, path, val, (unsigned)strlen(val)))
		CHECK_FAIL("write %s: %s", path, strerror(errno));
}

void xb_make_device(struct xs_handle *xs0, int domid, struct xb_dev_paths *p)
{
	struct xs_permissions fe_perms[2] = {
		{ .id = (unsigned)domid, .perms = XS_PERM_NONE },
		{ .id = 0, .perms = XS_PERM_READ },
	};
	struct xs_permissions be_perms[2] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = (unsigned)domid, .perms = XS_PERM_READ },
	};
	char id[16];

	snprintf(p->be, sizeof(p->be), "/local/domain/0/backend/%s/%d/%d", XB_KIND, domid,
	         XB_DEVID);
	snprintf(p->fe, sizeof(p->fe), "/local/domain/%d/device/%s/%d", domid, XB_KIND,
	         XB_DEVID);
	for (;;) {
		xs_transaction_t t = xs_transaction_start(xs0);

		CHECK(t != XBT_NULL);
		CHECK(xs_mkdir(xs0, t, p->fe));
		CHECK(xs_set_permissions(xs0, t, p->fe, fe_perms, 2));
		write_in(xs0, t, p->fe, "backend", p->be);
		write_in(xs0, t, p->fe, "backend-id", "0");
		write_in(xs0, t, p->fe, "state", "1");
		CHECK(xs_mkdir(xs0, t, p->be));
		CHECK(xs_set_permissions(xs0, t, p->be, be_perms, 2));
		write_in(xs0, t, p->be, "frontend", p->fe);
		snprintf(id, sizeof(id), "%d", domid);
		write_in(xs0, t, p->be, "frontend-id", id);
		write_in(xs0, t, p->be, "online", "1");
		write_in(xs0, t, p->be, "state", "1");
		if (xs_transaction_end(xs0, t, false))
			return;
		if (errno != EAGAIN)
			CHECK_FAIL("device transaction: %s", strerror(errno));
	}
}

bool xb_read(struct xs_handle *xs, const char *path, char *buf, size_t size)
{
	unsigned int len;
	char *v = xs_read(xs, XBT_NULL, path, &len);

	if (!v) {
		if (errno != ENOENT)
			CHECK_FAIL("read %s: %s", path, strerror(errno));
		buf[0] = '\0';
		return false;
	}
	snprintf(buf, size, "%.*s", (int)len, v);
	free(v);
	return true;
}

void xb_write(struct xs_handle *xs, const char *path, const char *val)
{
	if (!xs_write(xs, XBT_NULL, path, val, (unsigned)strlen(val)))
		CHECK_FAIL("write %s: %s", path, strerror(errno));
}

void xb_wait_value(struct xs_handle *xs, const char *path, const char *want,
                   int timeout_ms)
{
	long long end = xb_now_ms() + timeout_ms;
	char buf[4200];

	for (;;) {
		bool have = xb_read(xs, path, buf, sizeof(buf));

		if (want ? (have && strcmp(buf, want) == 0) : !have)
			return;
		if (xb_now_ms() > end)
			CHECK_FAIL("%s: waited %d ms for %s%s%s, have %s%s%s", path, timeout_ms,
			           want ? "\"" : "", want ? want : "removal", want ? "\"" : "",
			           have ? "\"" : "", have ? buf : "nothing", have ? "\"" : "");
		usleep(2000);
	}
}
