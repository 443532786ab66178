/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "xbtest.h"
#include "xsdev.h"

long long xb_now_ms(void)
{
	return simtest_now_ms();
}

struct xs_handle *xb_open_as(const struct simtest *st, int domid)
{
	return xsdev_open(st, domid);
}

void xb_make_device(struct xs_handle *xs0, int domid, struct xb_dev_paths *p)
{
	snprintf(p->be, sizeof(p->be), "/local/domain/0/backend/%s/%d/%d", XB_KIND, domid,
	         XB_DEVID);
	snprintf(p->fe, sizeof(p->fe), "/local/domain/%d/device/%s/%d", domid, XB_KIND,
	         XB_DEVID);
	xsdev_create(xs0, domid, p->be, p->fe, NULL, NULL);
}

bool xb_read(struct xs_handle *xs, const char *path, char *buf, size_t size)
{
	int rc = xsdev_get(xs, path, buf, size);

	/* Unlike xp_read, a denied read fails: these tests read as the node's
	 * owner or dom0, so EACCES means the permissions are wrong. */
	if (rc == -EACCES)
		CHECK_FAIL("read %s: %s", path, strerror(EACCES));
	return rc == 0;
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
