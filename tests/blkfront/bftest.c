/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bftest.h"

uint8_t bf_pattern(uint64_t i)
{
	return (uint8_t)(i * 7 + i / 4096);
}

void bf_image(const struct simtest *st, const char *name, uint64_t size, char *path,
              size_t len)
{
	static uint8_t buf[1 << 16];
	int fd;

	snprintf(path, len, "%s/%s", st->dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	for (uint64_t off = 0; off < size;) {
		size_t n = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = bf_pattern(off + i);
		CHECK(write(fd, buf, n) == (ssize_t)n);
		off += n;
	}
	CHECK(close(fd) == 0);
}

long long bf_check_pattern(const char *path, uint64_t size)
{
	static uint8_t buf[1 << 16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t off = 0;

	CHECK(fd >= 0);
	while (off < size) {
		ssize_t n = read(fd, buf, size - off < sizeof(buf) ? (size_t)(size - off)
		                                                   : sizeof(buf));
		CHECK(n > 0);
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != bf_pattern(off + (uint64_t)i)) {
				close(fd);
				return (long long)(off + (uint64_t)i);
			}
		}
		off += (uint64_t)n;
	}
	close(fd);
	return -1;
}

/* ---- the device, as libxl writes it ---- */

void bf_disk(struct xs_handle *xs0, int domid, unsigned devid, const char *image,
             const char *mode, bool discard, struct bf_disk *d)
{
	struct xp_disk x = {
		.domid = domid, .devid = devid, .params = image, .mode = mode,
		.discard = discard,
	};

	memset(d, 0, sizeof(*d));
	d->domid = domid;
	d->devid = devid;
	snprintf(d->image, sizeof(d->image), "%s", image);
	xp_make_disk(xs0, &x);
	memcpy(d->be, x.be, sizeof(d->be));
	memcpy(d->fe, x.fe, sizeof(d->fe));
}

/* ---- processes ---- */

/* stderr of the last nbdkit started: shown if the test fails (a passing
 * test removes it with the state directory). */
static char g_errlog[PATH_MAX];

static void show_errlog(void)
{
	char buf[4096];
	FILE *f = g_errlog[0] ? fopen(g_errlog, "r") : NULL;

	if (!f)
		return;
	fprintf(stderr, "---- %s ----\n", g_errlog);
	while (fgets(buf, sizeof(buf), f))
		fputs(buf, stderr);
	fclose(f);
}

/*
 * nbdkit --foreground serving DIR/dom<N>/nbd.sock with the plugin and
 * `args`, its stderr appended to g_errlog; returns once it wrote its pid
 * file (it listens by then).
 */
static void start_nbdkit(struct xp_proc *p, const struct simtest *st, int domid,
                         const char *const *args)
{
	char plugin[PATH_MAX], sock[PATH_MAX], pidf[PATH_MAX];
	const char *argv[XP_MAX_ARGS];
	static bool registered;
	unsigned n = 0;
	int fd;

	if (!registered) {
		atexit(show_errlog);
		registered = true;
	}
	xp_build_path(plugin, sizeof(plugin), "../front/nbdkit-xvioblk-plugin.so");
	snprintf(sock, sizeof(sock), "%s/dom%d/nbd.sock", st->dir, domid);
	snprintf(pidf, sizeof(pidf), "%s/dom%d/nbdkit.pid", st->dir, domid);
	unlink(sock);
	argv[n++] = "--foreground";
	argv[n++] = "--unix";
	argv[n++] = sock;
	argv[n++] = "--pidfile";
	argv[n++] = pidf;
	argv[n++] = plugin;
	for (; args && *args && n < XP_MAX_ARGS - 2; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	snprintf(g_errlog, sizeof(g_errlog), "%s/dom%d/nbdkit.log", st->dir, domid);
	fd = open(g_errlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	/* An ASan build's plugin needs the runtime loaded first in the
	 * (unsanitised) nbdkit: meson passes it in BF_NBDKIT_PRELOAD. */
	xp_spawn(p, st, domid, "/usr/bin/nbdkit", argv, fd, getenv("BF_NBDKIT_PRELOAD"));
	close(fd);
	for (long long end = xp_now_ms() + XP_TIMEOUT_MS; access(pidf, F_OK) != 0;) {
		if (xp_now_ms() > end)
			CHECK_FAIL("nbdkit did not write %s", pidf);
		usleep(5000);
	}
}

const char *bf_nbdkit_log(void)
{
	return g_errlog;
}

static void start_blkback(struct xp_proc *p, const struct simtest *st, const char *const *args)
{
	char path[PATH_MAX];

	xp_spawn(p, st, 0, xp_build_path(path, sizeof(path), "../back/xvio-blkback"), args, -1,
	         NULL);
}

void bf_blkback(struct xp_proc *p, const struct simtest *st, ...)
{
	const char *args[XP_MAX_ARGS];

	XP_VA_ARGS(args, st);
	start_blkback(p, st, args);
}

void bf_blkcheck(struct xp_proc *p, const struct simtest *st, int domid, ...)
{
	const char *args[XP_MAX_ARGS];

	XP_VA_ARGS(args, domid);
	bf_blkcheckv(p, st, domid, args);
}

void bf_blkcheckv(struct xp_proc *p, const struct simtest *st, int domid,
                  const char *const *args)
{
	char path[PATH_MAX];

	xp_spawn(p, st, domid, xp_build_path(path, sizeof(path), "blkfront/xvio-blkcheck"), args,
	         -1, NULL);
}

void bf_nbdkit(struct xp_proc *p, const struct simtest *st, int domid, ...)
{
	const char *args[XP_MAX_ARGS];

	XP_VA_ARGS(args, domid);
	start_nbdkit(p, st, domid, args);
}

const char *bf_uri(const struct simtest *st, int domid, const char *export_name, char *buf,
                   size_t len)
{
	snprintf(buf, len, "nbd+unix:///%s?socket=%s/dom%d/nbd.sock", export_name, st->dir,
	         domid);
	return buf;
}

void bf_sh(const struct simtest *st, int domid, int want, char *out, size_t outlen,
           const char *fmt, ...)
{
	char cmd[8192], buf[16384];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = simtest_sh(st, domid, out ? out : buf, out ? outlen : sizeof(buf), "%s", cmd);
	if (rc != want)
		CHECK_FAIL("`%s` exited %d, want %d; output:\n%s", cmd, rc, want, out ? out : buf);
}

/* ---- the common scene ---- */

void bf_scene_start(struct bf_scene *s, uint64_t size, const char *mode, bool discard,
                    const char *const *back_args, const char *const *plugin_args)
{
	char img[512];

	memset(s, 0, sizeof(*s));
	simtest_start(&s->st, NULL);
	s->xs0 = xp_xs(&s->st, 0);
	s->domid = xp_guest(&s->st);
	bf_image(&s->st, "disk.img", size, img, sizeof(img));
	start_blkback(&s->back, &s->st, back_args);
	bf_disk(s->xs0, s->domid, BF_XVDB, img, mode, discard, &s->disk);
	xp_wait(s->xs0, s->disk.be, "state", "2");
	start_nbdkit(&s->front, &s->st, s->domid, plugin_args);
	xp_wait(s->xs0, s->disk.be, "state", "4");
	xp_wait(s->xs0, s->disk.fe, "state", "4");
	bf_uri(&s->st, s->domid, "xvdb", s->uri, sizeof(s->uri));
}

void bf_scene_stop(struct bf_scene *s)
{
	if (s->front.pid)
		CHECK(xp_term(&s->front) == 0);
	if (s->back.pid)
		CHECK(xp_term(&s->back) == 0);
	xs_close(s->xs0);
	simtest_stop(&s->st);
}
