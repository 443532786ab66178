/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "proc.h"

/* How long xp_expect sleeps between looks when nothing arrives. */
#define SLICE_MS 50

const char *xp_build_path(char *buf, size_t size, const char *fmt, ...)
{
	const char *dir = getenv("XVIO_TEST_BUILDDIR");
	char rel[PATH_MAX];
	va_list ap;

	if (!dir)
		CHECK_FAIL("XVIO_TEST_BUILDDIR is not set (run through meson test)");
	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if ((size_t)snprintf(buf, size, "%s/%s", dir, rel) >= size)
		CHECK_FAIL("path too long: %s/%s", dir, rel);
	return buf;
}

unsigned xp_args(const char **args, unsigned max, va_list ap)
{
	unsigned n = 0;

	for (const char *a = va_arg(ap, const char *); a && n < max - 1; a = va_arg(ap, const char *))
		args[n++] = a;
	args[n] = NULL;
	return n;
}

void xp_spawn(struct xp_proc *p, const struct simtest *st, int domid, const char *path,
              const char *const *args, int err_fd, const char *ld_preload)
{
	const char *argv[XP_MAX_ARGS];
	int argc = 0, pfd[2];

	/* Say which program is missing, not just that a child exited 127. */
	if (access(path, X_OK) != 0)
		CHECK_FAIL("%s: %s", path, strerror(errno));
	argv[argc++] = path;
	for (; args && *args && argc < XP_MAX_ARGS - 1; args++)
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
		if (ld_preload && *ld_preload)
			setenv("LD_PRELOAD", ld_preload, 1);
		if (err_fd >= 0)
			dup2(err_fd, 2);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	p->out = pfd[0];
	snprintf(p->name, sizeof(p->name), "pid %d", (int)p->pid);
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
		long long left;
		ssize_t n;

		while (take_line(p, tmp, sizeof(tmp))) {
			if (strncmp(tmp, prefix, strlen(prefix)) == 0) {
				if (line)
					snprintf(line, size, "%s", tmp);
				return;
			}
			if (strncmp(tmp, "progress", 8) != 0)
				fprintf(stderr, "[%s] %s\n", p->name, tmp);
		}
		if (p->check)
			p->check(p, false);
		left = end - xp_now_ms();
		if (left <= 0)
			CHECK_FAIL("%s: no \"%s\" line within %d ms", p->name, prefix, timeout_ms);
		/* Short slices: p->check runs often enough to notice a death. */
		if (poll(&pfd, 1, left < SLICE_MS ? (int)left : SLICE_MS) < 0 && errno != EINTR)
			CHECK_FAIL("poll: %s", strerror(errno));
		if (!pfd.revents)
			continue;
		if (p->len == sizeof(p->buf))
			p->len = 0; /* an overlong line: drop it */
		n = read(p->out, p->buf + p->len, sizeof(p->buf) - p->len);
		if (n == 0) {
			if (p->check)
				p->check(p, true); /* says how it ended */
			CHECK_FAIL("%s ended before printing \"%s\"", p->name, prefix);
		}
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
		fprintf(stderr, "[%s] %.*s", p->name, (int)p->len, p->buf);
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
