/* SPDX-License-Identifier: MIT */
/*
 * Victims (hostile.h): the real xvio_test programs under attack, their
 * liveness, their stderr, and waits that notice a dead victim at once
 * instead of timing out.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostile.h"

#define MAX_VICTIMS 8

/* The victim whose process `proc` is. */
#define VICTIM_OF(proc) \
	((struct hx_victim *)(void *)((char *)(proc) - offsetof(struct hx_victim, p)))

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

/* xp_expect's check: a dying victim fails the test at once, and when a
 * victim's stdout ends, its own death says how. */
static void watch_victims(struct xp_proc *p, bool ended)
{
	if (ended)
		hx_victim_check(VICTIM_OF(p));
	else
		hx_victims_check();
}

void hx_victim_start(struct hx_victim *v, const struct simtest *st, int domid, const char *prog,
                     const char *const *args)
{
	char path[PATH_MAX];
	int errfd = memfd_create("victim-stderr", MFD_CLOEXEC);

	CHECK(errfd >= 0);
	memset(v, 0, sizeof(*v));
	xp_spawn(&v->p, st, domid, xp_build_path(path, sizeof(path), "xport/%s", prog), args,
	         errfd, NULL);
	v->errfd = errfd;
	snprintf(v->name, sizeof(v->name), "%s", prog);
	snprintf(v->p.name, sizeof(v->p.name), "%s", prog);
	v->p.check = watch_victims;
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

void hx_expect(struct hx_victim *v, const char *prefix, char *line, size_t size, int timeout_ms)
{
	xp_expect(&v->p, prefix, line, size, timeout_ms);
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
