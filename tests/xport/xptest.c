/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "xptest.h"

int xp_guest(struct simtest *st)
{
	static int n;
	char cfg[128];

	snprintf(cfg, sizeof(cfg), XP_GUEST_CFG, ++n);
	return simtest_create(st, cfg);
}

struct xs_handle *xp_xs(const struct simtest *st, int domid)
{
	return xsdev_open(st, domid);
}

/* ---- xenstore ---- */

void xp_make_device(struct xs_handle *xs0, int domid, unsigned devid, struct xp_dev *d)
{
	d->domid = domid;
	d->devid = devid;
	snprintf(d->be, sizeof(d->be), "/local/domain/0/backend/xvio_test/%d/%u", domid, devid);
	snprintf(d->fe, sizeof(d->fe), "/local/domain/%d/device/xvio_test/%u", domid, devid);
	xsdev_create(xs0, domid, d->be, d->fe, NULL, NULL);
}

/* virtio_disk's own keys, after xsdev_create's common ones. */
static void disk_keys(struct xs_handle *xs0, xs_transaction_t t, const void *arg)
{
	const struct xp_disk *d = arg;
	const char *type = d->device_type ? d->device_type : "disk";
	char v[32];

	snprintf(v, sizeof(v), "%u", d->devid);
	xsdev_put(xs0, t, d->fe, "virtual-device", v);
	xsdev_put(xs0, t, d->fe, "device-type", type);
	xsdev_put(xs0, t, d->fe, "trusted", "1");
	xsdev_put(xs0, t, d->be, "params", d->params);
	xsdev_put(xs0, t, d->be, "removable", "0");
	xsdev_put(xs0, t, d->be, "bootable", "1");
	/* libxl writes the vdev as given; the xvd name for the compact form. */
	if (d->devid >= 51712 && d->devid < 51712 + 26 * 16 && d->devid % 16 == 0)
		snprintf(v, sizeof(v), "xvd%c", 'a' + (d->devid - 51712) / 16);
	else
		snprintf(v, sizeof(v), "%u", d->devid);
	xsdev_put(xs0, t, d->be, "dev", v);
	xsdev_put(xs0, t, d->be, "type", "standalone");
	xsdev_put(xs0, t, d->be, "mode", d->mode ? d->mode : "w");
	xsdev_put(xs0, t, d->be, "device-type", type);
	if (d->discard >= 0)
		xsdev_put(xs0, t, d->be, "discard-enable", d->discard ? "1" : "0");
	if (d->direct)
		xsdev_put(xs0, t, d->be, "direct-io-safe", "1");
	xsdev_put(xs0, t, d->be, "specification", "virtio");
	xsdev_put(xs0, t, d->be, "transport", "mmio");
	xsdev_put(xs0, t, d->be, "base", "0");
	xsdev_put(xs0, t, d->be, "irq", "0");
}

void xp_make_disk(struct xs_handle *xs0, struct xp_disk *d)
{
	snprintf(d->be, sizeof(d->be), "/local/domain/0/backend/virtio_disk/%d/%u", d->domid,
	         d->devid);
	snprintf(d->fe, sizeof(d->fe), "/local/domain/%d/device/virtio_disk/%u", d->domid,
	         d->devid);
	xsdev_create(xs0, d->domid, d->be, d->fe, disk_keys, d);
}

void xp_remove_device(struct xs_handle *xs0, const struct xp_dev *d)
{
	for (;;) {
		xs_transaction_t t = xs_transaction_start(xs0);

		CHECK(t != XBT_NULL);
		xsdev_put(xs0, t, d->be, "online", "0");
		xsdev_put(xs0, t, d->be, "state", "5");
		if (xs_transaction_end(xs0, t, false))
			return;
		CHECK(errno == EAGAIN);
	}
}

bool xp_read(struct xs_handle *xs, const char *dir, const char *key, char *buf, size_t size)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return xsdev_get(xs, path, buf, size) == 0;
}

void xp_write(struct xs_handle *xs, const char *dir, const char *key, const char *val)
{
	xsdev_put(xs, XBT_NULL, dir, key, val);
}

void xp_wait(struct xs_handle *xs, const char *dir, const char *key, const char *want)
{
	long long end = xp_now_ms() + XP_TIMEOUT_MS;
	char buf[1024];

	for (;;) {
		bool have = xp_read(xs, dir, key, buf, sizeof(buf));

		if (want ? have && strcmp(buf, want) == 0 : !have)
			return;
		if (xp_now_ms() > end)
			CHECK_FAIL("%s/%s: waited for %s, have \"%s\"", dir, key,
			           want ? want : "removal", have ? buf : "(missing)");
		usleep(2000);
	}
}

void xp_wait_connected(struct xs_handle *xs0, const struct xp_dev *d)
{
	xp_wait(xs0, d->be, "state", "4");
	xp_wait(xs0, d->fe, "state", "4");
}

/* ---- processes ---- */

void xp_startv(struct xp_proc *p, const struct simtest *st, int domid, const char *prog,
               const char *const *args)
{
	char path[PATH_MAX];

	xp_spawn(p, st, domid, xp_build_path(path, sizeof(path), "xport/%s", prog), args, -1,
	         NULL);
}

void xp_start(struct xp_proc *p, const struct simtest *st, int domid, const char *prog, ...)
{
	const char *args[XP_MAX_ARGS];

	XP_VA_ARGS(args, prog);
	xp_startv(p, st, domid, prog, args);
}

/* ---- the usual scene ---- */

void xp_scene_start(struct xp_scene *s, unsigned devid, ...)
{
	const char *args[XP_MAX_ARGS];

	XP_VA_ARGS(args, devid);
	memset(s, 0, sizeof(*s));
	simtest_start(&s->st, NULL);
	s->dom = xp_guest(&s->st);
	s->xs0 = xp_xs(&s->st, 0);
	xp_make_device(s->xs0, s->dom, devid, &s->d);
	xp_startv(&s->be, &s->st, 0, "xvio-testback", args);
	xp_expect(&s->be, "ready", NULL, 0, XP_TIMEOUT_MS);
}

void xp_scene_stop(struct xp_scene *s)
{
	CHECK_INT(xp_term(&s->be), ==, 0);
	xs_close(s->xs0);
	simtest_stop(&s->st);
}

/* ---- counters ---- */

int xp_dominfo(const struct simtest *st, int domid, struct xvio_sim_dominfo *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct xvio_sim_req req = { .op = XVIO_SIM_OP_DOM_INFO, .domid = (uint16_t)domid };
	struct {
		struct xvio_sim_rep rep;
		struct xvio_sim_dominfo info;
	} msg;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ssize_t n;

	CHECK(fd >= 0);
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%.*s/dom0/hyp.sock",
	                     (int)(sizeof(sa.sun_path) - 16), st->dir) >= sizeof(sa.sun_path))
		CHECK_FAIL("state directory path too long");
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(send(fd, &req, sizeof(req), 0) == (ssize_t)sizeof(req));
	n = recv(fd, &msg, sizeof(msg), 0);
	close(fd);
	CHECK(n >= (ssize_t)sizeof(msg.rep));
	if (msg.rep.err < 0)
		return msg.rep.err;
	CHECK(n == (ssize_t)sizeof(msg));
	*out = msg.info;
	return 0;
}
