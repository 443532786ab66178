/* SPDX-License-Identifier: MIT */
/*
 * Integration: an idle backend daemon whose xenstore goes away exits
 * non-zero (so that systemd's Restart= can start it again) instead of
 * sleeping forever, and says why on stderr.
 *
 * testback   xvio-testback (the transport's own run loop)
 * blkback    xvio-blkback with no disk (its own poll loop over the
 *            transport's fds and timeout)
 *
 * Each daemon runs in dom0 of a private simulator with no device: once it
 * printed "ready", the simulator is stopped (its xenstored socket closes)
 * and the daemon must be gone within EXIT_DEADLINE_S with status 1 and a
 * line naming the lost connection (strerror(ENOTCONN)).  libxenstore does
 * not wake a sleeping loop on such a loss; the transport looks every
 * XVIO_WATCH_CHECK_MS, so the deadline leaves room for that and for a
 * loaded, sanitized run.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "simtest.h"
#include "xenbus.h"

#define READY_TIMEOUT_MS 20000
#define EXIT_DEADLINE_S 15

_Static_assert(XVIO_WATCH_CHECK_MS * 2 <= EXIT_DEADLINE_S * 1000,
               "the deadline must leave room for the check interval");

static struct simtest st;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

struct daemon {
	pid_t pid;
	int out, err;   /* its stdout and stderr */
	char errbuf[8192];
	size_t errlen;
};

static void spawn(struct daemon *d, const char *rel)
{
	const char *dir = getenv("XVIO_TEST_BUILDDIR");
	char path[4096];
	int out[2], err[2];

	if (!dir)
		CHECK_FAIL("XVIO_TEST_BUILDDIR is not set (run through meson test)");
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	CHECK(access(path, X_OK) == 0);
	CHECK(pipe2(out, O_CLOEXEC) == 0);
	CHECK(pipe2(err, O_CLOEXEC) == 0);
	fflush(NULL);
	d->pid = fork();
	CHECK(d->pid >= 0);
	if (d->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		simtest_enter(&st, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	d->out = out[0];
	d->err = err[0];
}

/* Read stdout until a line "ready" (the devices present were taken over). */
static void wait_ready(struct daemon *d)
{
	char buf[4096];
	size_t len = 0;
	long long end = now_ms() + READY_TIMEOUT_MS;

	for (;;) {
		struct pollfd p = { .fd = d->out, .events = POLLIN };
		long long left = end - now_ms();
		ssize_t n;

		if (left <= 0)
			CHECK_FAIL("no \"ready\" within %d ms", READY_TIMEOUT_MS);
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = read(d->out, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			CHECK_FAIL("daemon ended before \"ready\"");
		len += (size_t)n;
		buf[len] = '\0';
		if (strncmp(buf, "ready\n", 6) == 0 || strstr(buf, "\nready\n"))
			return;
		if (len == sizeof(buf) - 1)
			CHECK_FAIL("no \"ready\" in %zu bytes of output", len);
	}
}

/* Wait for the exit within deadline_s (kill and fail after), collecting
 * stderr; returns the wait status. */
static int wait_exit(struct daemon *d, int deadline_s)
{
	long long end = now_ms() + deadline_s * 1000LL;
	bool err_open = true;
	int status;

	for (;;) {
		pid_t p = waitpid(d->pid, &status, WNOHANG);

		CHECK(p >= 0);
		if (p == d->pid)
			break;
		if (now_ms() > end) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &status, 0);
			CHECK_FAIL("the daemon still ran %d s after xenstore went away",
			           deadline_s);
		}
		/* Drain stderr meanwhile (a sanitizer report may be long). */
		if (err_open) {
			struct pollfd pf = { .fd = d->err, .events = POLLIN };

			if (poll(&pf, 1, 50) > 0) {
				char sink[4096];
				char *dst = d->errlen + 1 < sizeof(d->errbuf) ?
				            d->errbuf + d->errlen : sink;
				size_t room = dst == sink ? sizeof(sink) :
				              sizeof(d->errbuf) - 1 - d->errlen;
				ssize_t n = read(d->err, dst, room);

				if (n <= 0)
					err_open = false;
				else if (dst != sink)
					d->errlen += (size_t)n;
			}
		} else {
			usleep(50000);
		}
	}
	/* The rest of stderr: the daemon is gone, so this ends. */
	while (err_open && d->errlen + 1 < sizeof(d->errbuf)) {
		ssize_t n = read(d->err, d->errbuf + d->errlen, sizeof(d->errbuf) - 1 - d->errlen);

		if (n <= 0)
			break;
		d->errlen += (size_t)n;
	}
	d->errbuf[d->errlen] = '\0';
	close(d->out);
	close(d->err);
	return status;
}

static void lose_xenstore(const char *rel, const char *name)
{
	struct daemon d = { 0 };
	char want[256];
	long long t0;
	int status;

	simtest_start(&st, NULL);
	spawn(&d, rel);
	wait_ready(&d);
	/* Idle now: asleep in poll, no device, nothing to do. */
	usleep(200000);
	CHECK_INT(waitpid(d.pid, &status, WNOHANG), ==, 0);
	t0 = now_ms();
	simtest_stop(&st);
	status = wait_exit(&d, EXIT_DEADLINE_S);
	fprintf(stderr, "%s exited %lld ms after the simulator stopped; its stderr:\n%s", name,
	        now_ms() - t0, d.errbuf);
	if (WIFSIGNALED(status))
		CHECK_FAIL("%s killed by signal %d", name, WTERMSIG(status));
	CHECK_INT(WEXITSTATUS(status), ==, 1);
	/* One line naming the cause: the loop's error is the lost connection. */
	snprintf(want, sizeof(want), "%s: event loop: %s\n", name, strerror(ENOTCONN));
	if (!strstr(d.errbuf, want))
		CHECK_FAIL("stderr lacks \"%s\"", want);
}

static void test_testback(void)
{
	lose_xenstore("xport/xvio-testback", "xvio-testback");
}

static void test_blkback(void)
{
	lose_xenstore("../back/xvio-blkback", "xvio-blkback");
}

int main(int argc, char **argv)
{
	static const struct check_case cases[] = {
		{ "testback", test_testback },
		{ "blkback", test_blkback },
	};

	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
