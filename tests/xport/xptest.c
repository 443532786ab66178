/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xptest.h"

long long xp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int xp_guest(struct simtest *st)
{
	static int n;
	char cfg[128];

	snprintf(cfg, sizeof(cfg), XP_GUEST_CFG, ++n);
	return simtest_create(st, cfg);
}

struct xs_handle *xp_xs(const struct simtest *st, int domid)
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

/* ---- xenstore ---- */

static void put(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *key,
                const char *val)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	if (!xs_write(xs, t, path, val, (unsigned)strlen(val)))
		CHECK_FAIL("write %s: %s", path, strerror(errno));
}

static bool make_txn(struct xs_handle *xs0, const struct xp_dev *d)
{
	struct xs_permissions fe_perms[2] = {
		{ .id = (unsigned)d->domid, .perms = XS_PERM_NONE },
		{ .id = 0, .perms = XS_PERM_READ },
	};
	struct xs_permissions be_perms[2] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = (unsigned)d->domid, .perms = XS_PERM_READ },
	};
	xs_transaction_t t = xs_transaction_start(xs0);
	char id[16];

	CHECK(t != XBT_NULL);
	/* Children inherit the directory's permissions when created. */
	CHECK(xs_mkdir(xs0, t, d->fe));
	CHECK(xs_set_permissions(xs0, t, d->fe, fe_perms, 2));
	put(xs0, t, d->fe, "backend", d->be);
	put(xs0, t, d->fe, "backend-id", "0");
	put(xs0, t, d->fe, "state", "1");
	CHECK(xs_mkdir(xs0, t, d->be));
	CHECK(xs_set_permissions(xs0, t, d->be, be_perms, 2));
	put(xs0, t, d->be, "frontend", d->fe);
	snprintf(id, sizeof(id), "%d", d->domid);
	put(xs0, t, d->be, "frontend-id", id);
	put(xs0, t, d->be, "online", "1");
	put(xs0, t, d->be, "state", "1");
	if (xs_transaction_end(xs0, t, false))
		return true;
	if (errno != EAGAIN)
		CHECK_FAIL("device transaction: %s", strerror(errno));
	return false;
}

void xp_make_device(struct xs_handle *xs0, int domid, unsigned devid, struct xp_dev *d)
{
	d->domid = domid;
	d->devid = devid;
	snprintf(d->be, sizeof(d->be), "/local/domain/0/backend/xvio_test/%d/%u", domid, devid);
	snprintf(d->fe, sizeof(d->fe), "/local/domain/%d/device/xvio_test/%u", domid, devid);
	while (!make_txn(xs0, d))
		;
}

static bool disk_txn(struct xs_handle *xs0, const struct xp_disk *d)
{
	struct xs_permissions fe_perms[2] = {
		{ .id = (unsigned)d->domid, .perms = XS_PERM_NONE },
		{ .id = 0, .perms = XS_PERM_READ },
	};
	struct xs_permissions be_perms[2] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = (unsigned)d->domid, .perms = XS_PERM_READ },
	};
	const char *type = d->device_type ? d->device_type : "disk";
	xs_transaction_t t = xs_transaction_start(xs0);
	char v[32];

	CHECK(t != XBT_NULL);
	CHECK(xs_mkdir(xs0, t, d->fe));
	CHECK(xs_set_permissions(xs0, t, d->fe, fe_perms, 2));
	put(xs0, t, d->fe, "backend", d->be);
	put(xs0, t, d->fe, "backend-id", "0");
	put(xs0, t, d->fe, "state", "1");
	snprintf(v, sizeof(v), "%u", d->devid);
	put(xs0, t, d->fe, "virtual-device", v);
	put(xs0, t, d->fe, "device-type", type);
	put(xs0, t, d->fe, "trusted", "1");
	CHECK(xs_mkdir(xs0, t, d->be));
	CHECK(xs_set_permissions(xs0, t, d->be, be_perms, 2));
	put(xs0, t, d->be, "frontend", d->fe);
	snprintf(v, sizeof(v), "%d", d->domid);
	put(xs0, t, d->be, "frontend-id", v);
	put(xs0, t, d->be, "params", d->params);
	put(xs0, t, d->be, "online", "1");
	put(xs0, t, d->be, "removable", "0");
	put(xs0, t, d->be, "bootable", "1");
	put(xs0, t, d->be, "state", "1");
	/* libxl writes the vdev as given; the xvd name for the compact form. */
	if (d->devid >= 51712 && d->devid < 51712 + 26 * 16 && d->devid % 16 == 0)
		snprintf(v, sizeof(v), "xvd%c", 'a' + (d->devid - 51712) / 16);
	else
		snprintf(v, sizeof(v), "%u", d->devid);
	put(xs0, t, d->be, "dev", v);
	put(xs0, t, d->be, "type", "standalone");
	put(xs0, t, d->be, "mode", d->mode ? d->mode : "w");
	put(xs0, t, d->be, "device-type", type);
	if (d->discard >= 0)
		put(xs0, t, d->be, "discard-enable", d->discard ? "1" : "0");
	if (d->direct)
		put(xs0, t, d->be, "direct-io-safe", "1");
	put(xs0, t, d->be, "specification", "virtio");
	put(xs0, t, d->be, "transport", "mmio");
	put(xs0, t, d->be, "base", "0");
	put(xs0, t, d->be, "irq", "0");
	if (xs_transaction_end(xs0, t, false))
		return true;
	if (errno != EAGAIN)
		CHECK_FAIL("disk transaction: %s", strerror(errno));
	return false;
}

void xp_make_disk(struct xs_handle *xs0, struct xp_disk *d)
{
	snprintf(d->be, sizeof(d->be), "/local/domain/0/backend/virtio_disk/%d/%u", d->domid,
	         d->devid);
	snprintf(d->fe, sizeof(d->fe), "/local/domain/%d/device/virtio_disk/%u", d->domid,
	         d->devid);
	while (!disk_txn(xs0, d))
		;
}

void xp_remove_device(struct xs_handle *xs0, const struct xp_dev *d)
{
	for (;;) {
		xs_transaction_t t = xs_transaction_start(xs0);

		CHECK(t != XBT_NULL);
		put(xs0, t, d->be, "online", "0");
		put(xs0, t, d->be, "state", "5");
		if (xs_transaction_end(xs0, t, false))
			return;
		CHECK(errno == EAGAIN);
	}
}

bool xp_read(struct xs_handle *xs, const char *dir, const char *key, char *buf, size_t size)
{
	char path[512];
	unsigned int len;
	char *v;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	v = xs_read(xs, XBT_NULL, path, &len);
	if (!v) {
		if (errno != ENOENT && errno != EACCES)
			CHECK_FAIL("read %s: %s", path, strerror(errno));
		buf[0] = '\0';
		return false;
	}
	snprintf(buf, size, "%.*s", (int)len, v);
	free(v);
	return true;
}

void xp_write(struct xs_handle *xs, const char *dir, const char *key, const char *val)
{
	put(xs, XBT_NULL, dir, key, val);
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

static const char *prog_path(const char *prog, char *buf, size_t size)
{
	const char *dir = getenv("XVIO_TEST_BUILDDIR");

	if (!dir)
		CHECK_FAIL("XVIO_TEST_BUILDDIR is not set (run through meson test)");
	snprintf(buf, size, "%s/xport/%s", dir, prog);
	return buf;
}

void xp_startv(struct xp_proc *p, const struct simtest *st, int domid, const char *prog,
               const char *const *args)
{
	const char *argv[40];
	char path[PATH_MAX];
	int argc = 0, pfd[2];

	argv[argc++] = prog_path(prog, path, sizeof(path));
	for (; args && *args && argc < 39; args++)
		argv[argc++] = *args;
	argv[argc] = NULL;
	CHECK(pipe2(pfd, O_CLOEXEC) == 0);
	fflush(NULL);
	memset(p, 0, sizeof(*p));
	p->pid = fork();
	CHECK(p->pid >= 0);
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		simtest_enter(st, domid);
		dup2(pfd[1], 1);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	p->out = pfd[0];
}

void xp_start(struct xp_proc *p, const struct simtest *st, int domid, const char *prog, ...)
{
	const char *args[40];
	unsigned n = 0;
	va_list ap;

	va_start(ap, prog);
	for (const char *a = va_arg(ap, const char *); a && n < 39; a = va_arg(ap, const char *))
		args[n++] = a;
	va_end(ap);
	args[n] = NULL;
	xp_startv(p, st, domid, prog, args);
}

/* Take one complete line out of p->buf, if any. */
static bool take_line(struct xp_proc *p, char *line, size_t size)
{
	char *nl = memchr(p->buf, '\n', p->len);
	size_t n;

	if (!nl)
		return false;
	n = (size_t)(nl - p->buf);
	snprintf(line, size, "%.*s", (int)n, p->buf);
	memmove(p->buf, nl + 1, p->len - n - 1);
	p->len -= n + 1;
	return true;
}

void xp_expect(struct xp_proc *p, const char *prefix, char *line, size_t size, int timeout_ms)
{
	long long end = xp_now_ms() + timeout_ms;
	char tmp[4096];

	for (;;) {
		struct pollfd pfd = { .fd = p->out, .events = POLLIN };
		long long left = end - xp_now_ms();
		ssize_t n;

		while (take_line(p, tmp, sizeof(tmp))) {
			if (strncmp(tmp, prefix, strlen(prefix)) == 0) {
				if (line)
					snprintf(line, size, "%s", tmp);
				return;
			}
			if (strncmp(tmp, "progress", 8) != 0)
				fprintf(stderr, "[pid %d] %s\n", (int)p->pid, tmp);
		}
		if (left <= 0)
			CHECK_FAIL("pid %d: no \"%s\" line within %d ms", (int)p->pid, prefix,
			           timeout_ms);
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			CHECK_FAIL("poll: %s", strerror(errno));
		if (!pfd.revents)
			continue;
		if (p->len == sizeof(p->buf))
			p->len = 0; /* an overlong line: drop it */
		n = read(p->out, p->buf + p->len, sizeof(p->buf) - p->len);
		if (n == 0)
			CHECK_FAIL("pid %d ended before printing \"%s\"", (int)p->pid, prefix);
		if (n > 0)
			p->len += (size_t)n;
	}
}

void xp_kill(struct xp_proc *p)
{
	int status;

	CHECK(kill(p->pid, SIGKILL) == 0);
	CHECK(waitpid(p->pid, &status, 0) == p->pid);
	close(p->out);
	p->pid = 0;
}

int xp_wait_exit(struct xp_proc *p, int timeout_s)
{
	int rc = simtest_wait(p->pid, timeout_s);

	/* Show what it printed last (a failing program says why). */
	while (p->len < sizeof(p->buf)) {
		ssize_t n = read(p->out, p->buf + p->len, sizeof(p->buf) - p->len);

		if (n <= 0)
			break;
		p->len += (size_t)n;
	}
	if (rc != 0 && p->len)
		fprintf(stderr, "[pid %d] %.*s", (int)p->pid, (int)p->len, p->buf);
	close(p->out);
	p->pid = 0;
	return rc;
}

int xp_term(struct xp_proc *p)
{
	CHECK(kill(p->pid, SIGTERM) == 0);
	return xp_wait_exit(p, 30);
}

unsigned long long xp_field(const char *line, const char *key)
{
	char pat[64];
	const char *s;

	snprintf(pat, sizeof(pat), " %s=", key);
	s = strstr(line, pat);
	if (!s)
		CHECK_FAIL("no %s= in \"%s\"", key, line);
	return strtoull(s + strlen(pat), NULL, 10);
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

int xp_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	CHECK(d != NULL);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int xp_maps(pid_t pid)
{
	char path[64], line[512], perms[8];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %7s", perms) == 1 && perms[3] == 's')
			n++;
	}
	fclose(f);
	return n;
}

long xp_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	CHECK(f != NULL);
	CHECK(fgets(buf, sizeof(buf), f) != NULL);
	fclose(f);
	/* Fields 14 and 15, counted after the command's closing parenthesis. */
	p = strrchr(buf, ')');
	CHECK(p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
	                  &st) == 2);
	return (long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}
