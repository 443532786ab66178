/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

static const char *builddir(void)
{
	const char *dir = getenv("XVIO_TEST_BUILDDIR");

	if (!dir)
		CHECK_FAIL("XVIO_TEST_BUILDDIR is not set (run through meson test)");
	return dir;
}

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

static void start_log(struct xp_proc *p, const struct simtest *st, int domid,
                      const char *const *argv, const char *errlog)
{
	int pfd[2];

	if (access(argv[0], X_OK) != 0)
		CHECK_FAIL("%s: %s", argv[0], strerror(errno));
	CHECK(pipe2(pfd, O_CLOEXEC) == 0);
	fflush(NULL);
	memset(p, 0, sizeof(*p));
	p->pid = fork();
	CHECK(p->pid >= 0);
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		simtest_enter(st, domid);
		dup2(pfd[1], 1);
		/* An ASan build's plugin needs the runtime loaded first in the
		 * (unsanitised) nbdkit: meson passes it in BF_NBDKIT_PRELOAD. */
		if (errlog && getenv("BF_NBDKIT_PRELOAD") && *getenv("BF_NBDKIT_PRELOAD"))
			setenv("LD_PRELOAD", getenv("BF_NBDKIT_PRELOAD"), 1);
		if (errlog) {
			int fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

			if (fd >= 0)
				dup2(fd, 2);
		}
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	p->out = pfd[0];
}

static void start_abs(struct xp_proc *p, const struct simtest *st, int domid,
                      const char *const *argv)
{
	start_log(p, st, domid, argv, NULL);
}

static void start_nbdkit(struct xp_proc *p, const struct simtest *st, int domid,
                         const char *const *argv)
{
	static bool registered;

	if (!registered) {
		atexit(show_errlog);
		registered = true;
	}
	snprintf(g_errlog, sizeof(g_errlog), "%s/dom%d/nbdkit.log", st->dir, domid);
	start_log(p, st, domid, argv, g_errlog);
}

const char *bf_nbdkit_log(void)
{
	return g_errlog;
}

static unsigned collect(const char **argv, unsigned n, unsigned max, va_list ap)
{
	for (const char *a = va_arg(ap, const char *); a && n < max - 1; a = va_arg(ap, const char *))
		argv[n++] = a;
	argv[n] = NULL;
	return n;
}

void bf_blkback(struct xp_proc *p, const struct simtest *st, ...)
{
	char path[PATH_MAX];
	const char *argv[40];
	va_list ap;

	snprintf(path, sizeof(path), "%s/../back/xvio-blkback", builddir());
	argv[0] = path;
	va_start(ap, st);
	collect(argv, 1, 40, ap);
	va_end(ap);
	start_abs(p, st, 0, argv);
}

void bf_blkcheck(struct xp_proc *p, const struct simtest *st, int domid, ...)
{
	char path[PATH_MAX];
	const char *argv[40];
	va_list ap;

	snprintf(path, sizeof(path), "%s/blkfront/xvio-blkcheck", builddir());
	argv[0] = path;
	va_start(ap, domid);
	collect(argv, 1, 40, ap);
	va_end(ap);
	start_abs(p, st, domid, argv);
}

void bf_blkcheckv(struct xp_proc *p, const struct simtest *st, int domid,
                  const char *const *args)
{
	char path[PATH_MAX];
	const char *argv[40];
	unsigned n = 0;

	snprintf(path, sizeof(path), "%s/blkfront/xvio-blkcheck", builddir());
	argv[n++] = path;
	for (; args && *args && n < 39; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	start_abs(p, st, domid, argv);
}

void bf_nbdkit(struct xp_proc *p, const struct simtest *st, int domid, ...)
{
	char plugin[PATH_MAX], sock[PATH_MAX], pidf[PATH_MAX];
	const char *argv[40];
	unsigned n = 0;
	va_list ap;

	snprintf(plugin, sizeof(plugin), "%s/../front/nbdkit-xvioblk-plugin.so", builddir());
	snprintf(sock, sizeof(sock), "%s/dom%d/nbd.sock", st->dir, domid);
	snprintf(pidf, sizeof(pidf), "%s/dom%d/nbdkit.pid", st->dir, domid);
	unlink(sock);
	argv[n++] = "/usr/bin/nbdkit";
	argv[n++] = "--foreground";
	argv[n++] = "--unix";
	argv[n++] = sock;
	argv[n++] = "--pidfile";
	argv[n++] = pidf;
	argv[n++] = plugin;
	va_start(ap, domid);
	collect(argv, n, 40, ap);
	va_end(ap);
	start_nbdkit(p, st, domid, argv);
	for (long long end = xp_now_ms() + XP_TIMEOUT_MS; access(pidf, F_OK) != 0;) {
		if (xp_now_ms() > end)
			CHECK_FAIL("nbdkit did not write %s", pidf);
		usleep(5000);
	}
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
	const char *argv[40];
	char path[PATH_MAX], plugin[PATH_MAX], sock[PATH_MAX], pidf[PATH_MAX], img[512];
	unsigned n = 0;

	memset(s, 0, sizeof(*s));
	simtest_start(&s->st, NULL);
	s->xs0 = xp_xs(&s->st, 0);
	s->domid = xp_guest(&s->st);
	bf_image(&s->st, "disk.img", size, img, sizeof(img));
	snprintf(path, sizeof(path), "%s/../back/xvio-blkback", builddir());
	argv[n++] = path;
	for (; back_args && *back_args && n < 39; back_args++)
		argv[n++] = *back_args;
	argv[n] = NULL;
	start_abs(&s->back, &s->st, 0, argv);
	bf_disk(s->xs0, s->domid, BF_XVDB, img, mode, discard, &s->disk);
	xp_wait(s->xs0, s->disk.be, "state", "2");
	n = 0;
	snprintf(plugin, sizeof(plugin), "%s/../front/nbdkit-xvioblk-plugin.so", builddir());
	snprintf(sock, sizeof(sock), "%s/dom%d/nbd.sock", s->st.dir, s->domid);
	snprintf(pidf, sizeof(pidf), "%s/dom%d/nbdkit.pid", s->st.dir, s->domid);
	argv[n++] = "/usr/bin/nbdkit";
	argv[n++] = "--foreground";
	argv[n++] = "--unix";
	argv[n++] = sock;
	argv[n++] = "--pidfile";
	argv[n++] = pidf;
	argv[n++] = plugin;
	for (; plugin_args && *plugin_args && n < 39; plugin_args++)
		argv[n++] = *plugin_args;
	argv[n] = NULL;
	start_nbdkit(&s->front, &s->st, s->domid, argv);
	for (long long end = xp_now_ms() + XP_TIMEOUT_MS; access(pidf, F_OK) != 0;) {
		if (xp_now_ms() > end)
			CHECK_FAIL("nbdkit did not write %s", pidf);
		usleep(5000);
	}
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
