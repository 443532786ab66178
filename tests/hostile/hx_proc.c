/* SPDX-License-Identifier: MIT */
/*
 * Victims (hostile.h): the real xvio_test programs under attack, their
 * liveness, their stderr, and waits that notice a dead victim at once
 * instead of timing out.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostile.h"

#define MAX_VICTIMS 8

static struct hx_victim *victims[MAX_VICTIMS];
static pid_t owner;

/* What a victim wrote to stderr so far (NUL-terminated, truncated). */
static size_t read_err(const struct hx_victim *v, char *buf, size_t size)
{
	ssize_t n = pread(v->errfd, buf, size - 1, 0);

	n = n < 0 ? 0 : n;
	buf[n] = '\0';
	return (size_t)n;
}

/* At exit (a failed check included): show what every victim said. */
static void dump_all(void)
{
	static char buf[1 << 16];

	if (getpid() != owner)
		return;
	for (unsigned i = 0; i < MAX_VICTIMS; i++) {
		struct hx_victim *v = victims[i];

		if (!v)
			continue;
		if (read_err(v, buf, sizeof(buf)) > 0)
			fprintf(stderr, "---- stderr of %s (pid %d) ----\n%s---- end of %s ----\n",
			        v->name, (int)v->p.pid, buf, v->name);
		if (!v->gone && v->p.pid > 0) {
			kill(v->p.pid, SIGKILL);
			waitpid(v->p.pid, NULL, 0);
		}
		victims[i] = NULL;
	}
}

static void enrol(struct hx_victim *v)
{
	static bool registered;

	if (!registered) {
		owner = getpid();
		atexit(dump_all);
		registered = true;
	}
	for (unsigned i = 0; i < MAX_VICTIMS; i++) {
		if (!victims[i] || victims[i] == v) {
			victims[i] = v;
			return;
		}
	}
	CHECK_FAIL("too many victims");
}

void hx_victim_start(struct hx_victim *v, const struct simtest *st, int domid, const char *prog,
                     const char *const *args)
{
	const char *dir = getenv("XVIO_TEST_BUILDDIR");
	const char *argv[40];
	char path[PATH_MAX];
	int argc = 0, pfd[2];

	if (!dir)
		CHECK_FAIL("XVIO_TEST_BUILDDIR is not set (run through meson test)");
	snprintf(path, sizeof(path), "%s/xport/%s", dir, prog);
	argv[argc++] = path;
	for (; args && *args && argc < 39; args++)
		argv[argc++] = *args;
	argv[argc] = NULL;
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", prog);
	v->errfd = memfd_create("victim-stderr", MFD_CLOEXEC);
	CHECK(v->errfd >= 0);
	CHECK(pipe2(pfd, O_CLOEXEC) == 0);
	fflush(NULL);
	v->p.pid = fork();
	CHECK(v->p.pid >= 0);
	if (v->p.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		simtest_enter(st, domid);
		dup2(pfd[1], 1);
		dup2(v->errfd, 2);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	v->p.out = pfd[0];
	enrol(v);
}

/* A sanitizer report (ASan, LSan, UBSan) anywhere in its stderr. */
static void check_stderr(struct hx_victim *v)
{
	static char buf[1 << 16];

	read_err(v, buf, sizeof(buf));
	if (strstr(buf, "Sanitizer") || strstr(buf, "runtime error"))
		CHECK_FAIL("%s (pid %d) wrote a sanitizer report", v->name, (int)v->p.pid);
}

void hx_victim_check(struct hx_victim *v)
{
	int status;

	if (v->gone)
		CHECK_FAIL("%s is no longer running", v->name);
	if (waitpid(v->p.pid, &status, WNOHANG) == v->p.pid) {
		v->gone = true;
		if (WIFSIGNALED(status))
			CHECK_FAIL("%s (pid %d) was killed by signal %d (%s)", v->name,
			           (int)v->p.pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
		CHECK_FAIL("%s (pid %d) exited with status %d while under attack", v->name,
		           (int)v->p.pid, WEXITSTATUS(status));
	}
	check_stderr(v);
}

void hx_victims_check(void)
{
	for (unsigned i = 0; i < MAX_VICTIMS; i++) {
		if (victims[i] && !victims[i]->gone)
			hx_victim_check(victims[i]);
	}
}

/* Take one complete line out of the victim's buffer, if any. */
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

void hx_expect(struct hx_victim *v, const char *prefix, char *line, size_t size, int timeout_ms)
{
	long long end = xp_now_ms() + timeout_ms;
	char tmp[4096];

	for (;;) {
		struct pollfd pfd = { .fd = v->p.out, .events = POLLIN };
		ssize_t n;

		while (take_line(&v->p, tmp, sizeof(tmp))) {
			if (strncmp(tmp, prefix, strlen(prefix)) == 0) {
				if (line)
					snprintf(line, size, "%s", tmp);
				return;
			}
			if (strncmp(tmp, "progress", 8) != 0)
				fprintf(stderr, "[%s] %s\n", v->name, tmp);
		}
		/* Short slices: a victim that dies meanwhile fails the test
		 * now, not at the timeout. */
		hx_victims_check();
		if (xp_now_ms() > end)
			CHECK_FAIL("%s: no \"%s\" line within %d ms", v->name, prefix, timeout_ms);
		if (poll(&pfd, 1, 50) < 0 && errno != EINTR)
			CHECK_FAIL("poll: %s", strerror(errno));
		if (!pfd.revents)
			continue;
		if (v->p.len == sizeof(v->p.buf))
			v->p.len = 0; /* an overlong line: drop it */
		n = read(v->p.out, v->p.buf + v->p.len, sizeof(v->p.buf) - v->p.len);
		if (n == 0) {
			hx_victim_check(v); /* says how it ended */
			CHECK_FAIL("%s ended before printing \"%s\"", v->name, prefix);
		}
		if (n > 0)
			v->p.len += (size_t)n;
	}
}

static void finish(struct hx_victim *v, int status)
{
	v->gone = true;
	close(v->p.out);
	check_stderr(v);
	if (status != 0)
		CHECK_FAIL("%s (pid %d) exited with status %d (a sanitizer finding, a leak or a "
		           "failed check)", v->name, (int)v->p.pid, status);
}

void hx_victim_stop(struct hx_victim *v)
{
	hx_victim_check(v);
	CHECK(kill(v->p.pid, SIGTERM) == 0);
	finish(v, simtest_wait(v->p.pid, 60));
}

void hx_victim_wait_exit(struct hx_victim *v, int timeout_s)
{
	finish(v, simtest_wait(v->p.pid, timeout_s));
}

/* ---- waits ---- */

int hx_wait_any(struct xs_handle *xs, const char *dir, const char *key,
                const char *const *want, int timeout_ms)
{
	long long end = xp_now_ms() + timeout_ms;
	char buf[1024];

	for (;;) {
		bool have = xp_read(xs, dir, key, buf, sizeof(buf));

		for (int i = 0; want[i]; i++) {
			if (have && strcmp(buf, want[i]) == 0)
				return i;
		}
		hx_victims_check();
		if (xp_now_ms() > end)
			CHECK_FAIL("%s/%s: waited %d ms for %s..., have \"%s\"", dir, key, timeout_ms,
			           want[0], have ? buf : "(missing)");
		usleep(1000);
	}
}

void hx_wait(struct xs_handle *xs, const char *dir, const char *key, const char *want,
             int timeout_ms)
{
	long long end = xp_now_ms() + timeout_ms;
	char buf[1024];

	if (want) {
		const char *const one[] = { want, NULL };

		hx_wait_any(xs, dir, key, one, timeout_ms);
		return;
	}
	while (xp_read(xs, dir, key, buf, sizeof(buf))) {
		hx_victims_check();
		if (xp_now_ms() > end)
			CHECK_FAIL("%s/%s: still \"%s\" after %d ms", dir, key, buf, timeout_ms);
		usleep(1000);
	}
}

bool hx_error_node(struct xs_handle *xs0, const char *dev_path, char *buf, size_t size)
{
	char dir[512];

	CHECK(xvio_xs_error_dir(dir, sizeof(dir), dev_path) > 0);
	return xp_read(xs0, dir, "error", buf, size);
}

/* Does msg contain one of the '|'-separated alternatives of what? */
static bool names_one(const char *msg, const char *what)
{
	char alt[256];

	for (const char *p = what; *p;) {
		size_t n = strcspn(p, "|");

		snprintf(alt, sizeof(alt), "%.*s", (int)n, p);
		if (strstr(msg, alt))
			return true;
		p += n + (p[n] == '|');
	}
	return false;
}

void hx_expect_error(struct xs_handle *xs0, const char *dev_path, int err, const char *what)
{
	char msg[1024], *end;
	long e;

	if (!hx_error_node(xs0, dev_path, msg, sizeof(msg)))
		CHECK_FAIL("%s: no error node", dev_path);
	fprintf(stderr, "error node: %s\n", msg);
	e = strtol(msg, &end, 10);
	if (e <= 0 || *end != ' ')
		CHECK_FAIL("error node \"%s\" does not start with an errno", msg);
	if (err && e != err)
		CHECK_FAIL("error node \"%s\": errno %ld, want %d (%s)", msg, e, err, strerror(err));
	if (what && !names_one(msg, what))
		CHECK_FAIL("error node \"%s\" does not name \"%s\"", msg, what);
}

void hx_wait_counts(const struct simtest *st, int domid, int grants, int maps, int ports)
{
	struct xvio_sim_dominfo i;

	for (long long end = xp_now_ms() + HX_WAIT_MS;; usleep(2000)) {
		CHECK_INT(xp_dominfo(st, domid, &i), ==, 0);
		if ((grants < 0 || i.grants_active == (unsigned)grants) &&
		    (maps < 0 || i.maps_active == (unsigned)maps) &&
		    (ports < 0 || i.ports_bound == (unsigned)ports))
			return;
		hx_victims_check();
		if (xp_now_ms() > end)
			CHECK_FAIL("dom%d: grants %u maps %u ports %u, want %d %d %d", domid,
			           i.grants_active, i.maps_active, i.ports_bound, grants, maps, ports);
	}
}
