/* SPDX-License-Identifier: MIT */
#include <dirent.h>
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

#include <linux/capability.h>

#include "bt.h"

void bt_make_disk(struct xs_handle *xs0, struct bt_disk *d)
{
	struct xp_disk x = {
		.domid = d->domid, .devid = d->devid, .params = d->params, .mode = d->mode,
		.device_type = d->device_type, .discard = d->discard, .direct = d->direct,
	};

	xp_make_disk(xs0, &x);
	memcpy(d->be, x.be, sizeof(d->be));
	memcpy(d->fe, x.fe, sizeof(d->fe));
}

void bt_error_node(struct xs_handle *xs0, const struct bt_disk *d, char *buf, size_t size)
{
	char dir[300];

	snprintf(dir, sizeof(dir), "/local/domain/0/error/backend/virtio_disk/%d/%u", d->domid,
	         d->devid);
	xp_read(xs0, dir, "error", buf, size);
}

void bt_mkdir(char *dir, size_t size)
{
	/* $XVIO_BLKTEST_DIR: run the cases on another file system (tmpfs
	 * refuses FALLOC_FL_ZERO_RANGE: the fallbacks then run). */
	const char *base = getenv("XVIO_BLKTEST_DIR");

	snprintf(dir, size, "%s/xvio-blkback-XXXXXX", base && *base ? base : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
}

void bt_rmdir(const char *dir)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

void bt_image(const char *path, uint64_t sectors, unsigned extra)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	uint8_t s[BT_SECTOR];

	CHECK(fd >= 0);
	for (uint64_t i = 0; i < sectors; i++) {
		bt_pattern(i, 0, s);
		CHECK(write(fd, s, sizeof(s)) == (ssize_t)sizeof(s));
	}
	if (extra) {
		bt_pattern(sectors, 0, s);
		CHECK(write(fd, s, extra) == (ssize_t)extra);
	}
	CHECK(fsync(fd) == 0);
	close(fd);
}

bool bt_sector_is(int fd, uint64_t s, uint32_t gen)
{
	uint8_t have[BT_SECTOR], want[BT_SECTOR];

	CHECK(pread(fd, have, sizeof(have), (off_t)(s * BT_SECTOR)) == (ssize_t)sizeof(have));
	bt_pattern(s, gen, want);
	return memcmp(have, want, sizeof(have)) == 0;
}

/* ---- processes ---- */

static void drop_dac_caps(void)
{
	/* Root keeps its uid; without these two capabilities file modes
	 * apply to it as to anyone (how a hardened service may run). */
	if (prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) < 0 ||
	    prctl(PR_CAPBSET_DROP, CAP_DAC_READ_SEARCH, 0, 0, 0) < 0) {
		if (errno != EPERM) /* not root: modes apply anyway */
			_exit(126);
	}
}

static void spawn(struct bt_proc *b, const struct simtest *st, int domid, const char *rel,
                  const char *const *args, bool drop_dac)
{
	const char *argv[XP_MAX_ARGS + 1];
	char path[PATH_MAX];
	int out[2], in[2], argc = 0;

	argv[argc++] = xp_build_path(path, sizeof(path), "%s", rel);
	for (; args && *args && argc < XP_MAX_ARGS; args++)
		argv[argc++] = *args;
	argv[argc] = NULL;
	CHECK(pipe2(out, O_CLOEXEC) == 0);
	CHECK(pipe2(in, O_CLOEXEC) == 0);
	fflush(NULL);
	memset(b, 0, sizeof(*b));
	b->p.pid = fork();
	CHECK(b->p.pid >= 0);
	if (b->p.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (drop_dac)
			drop_dac_caps();
		simtest_enter(st, domid);
		dup2(out[1], 1);
		dup2(in[0], 0);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(in[0]);
	b->p.out = out[0];
	b->in = in[1];
}

void bt_start_back(struct bt_proc *b, const struct simtest *st, bool drop_dac, ...)
{
	const char *args[XP_MAX_ARGS];

	XP_VA_ARGS(args, drop_dac);
	spawn(b, st, 0, "../back/xvio-blkback", args, drop_dac);
	xp_expect(&b->p, "ready", NULL, 0, XP_TIMEOUT_MS);
}

void bt_start_front(struct bt_proc *f, const struct simtest *st, int domid, ...)
{
	const char *args[XP_MAX_ARGS];

	XP_VA_ARGS(args, domid);
	spawn(f, st, domid, "blkback/blktest-front", args, false);
}

void bt_connected(struct bt_proc *f, char *line, size_t size)
{
	xp_expect(&f->p, "connected", line, size, XP_TIMEOUT_MS);
}

static void expect(struct bt_proc *f, const char *prefix, char *line, size_t size)
{
	char tmp[4096];

	for (;;) {
		xp_expect(&f->p, "", tmp, sizeof(tmp), XP_TIMEOUT_MS);
		if (strncmp(tmp, prefix, strlen(prefix)) == 0)
			break;
		if (strncmp(tmp, "error", 5) == 0)
			CHECK_FAIL("pid %d: %s", (int)f->p.pid, tmp);
		if (strncmp(tmp, "progress", 8) != 0)
			fprintf(stderr, "[pid %d] %s\n", (int)f->p.pid, tmp);
	}
	if (line)
		snprintf(line, size, "%s", tmp);
}

static void vsend(struct bt_proc *f, const char *fmt, va_list ap)
{
	char cmd[8192];
	int n = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);

	CHECK(n > 0 && (size_t)n < sizeof(cmd) - 1);
	cmd[n++] = '\n';
	CHECK(write(f->in, cmd, (size_t)n) == n);
}

void bt_cmd(struct bt_proc *f, const char *prefix, char *line, size_t size, const char *fmt,
            ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsend(f, fmt, ap);
	va_end(ap);
	expect(f, prefix, line, size);
}

int bt_status(struct bt_proc *f, const char *fmt, ...)
{
	char line[4096];
	va_list ap;

	va_start(ap, fmt);
	vsend(f, fmt, ap);
	va_end(ap);
	expect(f, "status=", line, sizeof(line));
	if (strncmp(line, "status=cancelled", 16) == 0)
		return -1;
	return atoi(line + 7);
}

void bt_quit(struct bt_proc *f)
{
	close(f->in);
	CHECK_INT(xp_wait_exit(&f->p, 30), ==, 0);
}

void bt_term(struct bt_proc *b)
{
	close(b->in);
	CHECK_INT(xp_term(&b->p), ==, 0);
}

long bt_fd_flags(pid_t pid, const char *path)
{
	char dir[64], link[PATH_MAX], p[PATH_MAX + 64], line[256];
	struct dirent *e;
	unsigned long fl;
	long flags = -1;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	CHECK(d != NULL);
	while (flags < 0 && (e = readdir(d))) {
		ssize_t n;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		n = readlink(p, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, path) != 0)
			continue;
		snprintf(p, sizeof(p), "/proc/%d/fdinfo/%s", (int)pid, e->d_name);
		f = fopen(p, "r");
		CHECK(f != NULL);
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "flags: %lo", &fl) == 1) {
				flags = (long)fl;
				break;
			}
		}
		fclose(f);
	}
	closedir(d);
	return flags;
}
