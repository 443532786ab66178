/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "simtest.h"

static const char *sim_bin(void)
{
	const char *b = getenv("XVIO_SIM");

	if (!b || !*b)
		CHECK_FAIL("XVIO_SIM is not set (run the tests through meson test)");
	return b;
}

long long simtest_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool control_up(const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool up;

	CHECK(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock", dir);
	up = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return up;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw);

/*
 * A test that fails exits through CHECK_FAIL -> exit(1): take its simulator
 * down and remove its state directory then, so nothing outlives the test
 * (a leftover daemon would also hold meson's output pipe open).  Only the
 * process that started the simulator does this, not forked children.
 */
static struct simtest *g_running[8];
static pid_t g_owner;

static void cleanup_at_exit(void)
{
	if (getpid() != g_owner)
		return;
	for (size_t i = 0; i < sizeof(g_running) / sizeof(g_running[0]); i++) {
		struct simtest *st = g_running[i];

		if (!st || st->pid <= 0)
			continue;
		kill(st->pid, SIGTERM);
		waitpid(st->pid, NULL, 0);
		nftw(st->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		g_running[i] = NULL;
	}
}

static void track(struct simtest *st, bool on)
{
	static bool registered;

	if (!registered) {
		g_owner = getpid();
		atexit(cleanup_at_exit);
		registered = true;
	}
	for (size_t i = 0; i < sizeof(g_running) / sizeof(g_running[0]); i++) {
		if (on && !g_running[i]) {
			g_running[i] = st;
			return;
		}
		if (!on && g_running[i] == st) {
			g_running[i] = NULL;
			return;
		}
	}
	if (on)
		CHECK_FAIL("too many simulators in one test");
}

void simtest_start(struct simtest *st, ...)
{
	const char *argv[32];
	int argc = 0;
	va_list ap;

	memset(st, 0, sizeof(*st));
	snprintf(st->dir, sizeof(st->dir), "/tmp/xvio-test-XXXXXX");
	CHECK(mkdtemp(st->dir) != NULL);
	argv[argc++] = sim_bin();
	argv[argc++] = "start";
	argv[argc++] = "--foreground";
	argv[argc++] = "--state-dir";
	argv[argc++] = st->dir;
	va_start(ap, st);
	for (const char *a = va_arg(ap, const char *); a && argc < 31; a = va_arg(ap, const char *))
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	fflush(NULL);
	st->pid = fork();
	CHECK(st->pid >= 0);
	if (st->pid == 0) {
		/* If the test dies without cleaning up, the simulator follows. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	track(st, true);
	for (long long end = simtest_now_ms() + 20000; !control_up(st->dir);) {
		int status;

		if (waitpid(st->pid, &status, WNOHANG) == st->pid)
			CHECK_FAIL("xvio-sim exited during start (status 0x%x)", status);
		if (simtest_now_ms() > end)
			CHECK_FAIL("xvio-sim did not come up within 20 s");
		usleep(5000);
	}
}

void simtest_check_alive(struct simtest *st)
{
	int status;

	if (waitpid(st->pid, &status, WNOHANG) == st->pid)
		CHECK_FAIL("xvio-sim died (status 0x%x)", status);
	if (!control_up(st->dir))
		CHECK_FAIL("xvio-sim no longer answers on its control socket");
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static int run_sim(const struct simtest *st, const char *const *args, char *out, size_t outlen);

void simtest_stop(struct simtest *st)
{
	const char *args[] = { "stop", NULL };
	int rc, status = 0;
	long long end;

	rc = run_sim(st, args, NULL, 0);
	if (rc != 0)
		CHECK_FAIL("xvio-sim stop failed with status %d", rc);
	for (end = simtest_now_ms() + 30000;; usleep(5000)) {
		pid_t p = waitpid(st->pid, &status, WNOHANG);

		CHECK(p >= 0);
		if (p == st->pid)
			break;
		if (simtest_now_ms() > end) {
			kill(st->pid, SIGKILL);
			CHECK_FAIL("xvio-sim did not exit within 30 s of stop");
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		CHECK_FAIL("xvio-sim ended badly (status 0x%x): crash or sanitizer report", status);
	st->pid = 0;
	track(st, false);
	nftw(st->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Run xvio-sim with args, capturing stdout; returns the exit status. */
static int run_sim(const struct simtest *st, const char *const *args, char *out, size_t outlen)
{
	const char *argv[64];
	int argc = 0, pfd[2];
	pid_t pid;

	argv[argc++] = sim_bin();
	argv[argc++] = "--state-dir";
	argv[argc++] = st->dir;
	for (; *args && argc < 63; args++)
		argv[argc++] = *args;
	argv[argc] = NULL;
	CHECK(pipe2(pfd, O_CLOEXEC) == 0);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/*
		 * The toolstack runs in dom0's host environment, never as a
		 * domain's process: a test that entered a guest (simtest_enter)
		 * must not hand that identity to `xvio-sim destroy`, which kills
		 * every process carrying the guest's XVIO_SIM_HYP.
		 */
		unsetenv("XVIO_SIM_HYP");
		unsetenv("XENSTORED_PATH");
		unsetenv("XVIO_DOMID");
		unsetenv("XVIO_PLATFORM");
		dup2(pfd[1], 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	{
		size_t used = 0;
		char sink[4096];

		for (;;) {
			char *dst = out && used + 1 < outlen ? out + used : sink;
			size_t room = out && used + 1 < outlen ? outlen - 1 - used : sizeof(sink);
			ssize_t n = read(pfd[0], dst, room);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			if (dst != sink)
				used += (size_t)n;
		}
		if (out && outlen)
			out[used] = '\0';
	}
	close(pfd[0]);
	return simtest_wait(pid, 120);
}

int simtest_create(struct simtest *st, const char *cfg)
{
	char path[PATH_MAX], out[1024];
	const char *args[] = { "create", path, NULL };
	const char *p;
	FILE *f;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/cfg-XXXXXX", st->dir);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	f = fdopen(fd, "w");
	CHECK(f != NULL);
	fputs(cfg, f);
	CHECK(fclose(f) == 0);
	rc = run_sim(st, args, out, sizeof(out));
	unlink(path);
	if (rc != 0)
		CHECK_FAIL("xvio-sim create failed (status %d) for config:\n%s", rc, cfg);
	p = strstr(out, "(id ");
	if (!p)
		CHECK_FAIL("xvio-sim create printed no domid: %s", out);
	return atoi(p + 4);
}

void simtest_destroy(struct simtest *st, int domid)
{
	char id[16];
	const char *args[] = { "destroy", id, NULL };
	int rc;

	snprintf(id, sizeof(id), "%d", domid);
	rc = run_sim(st, args, NULL, 0);
	if (rc != 0)
		CHECK_FAIL("xvio-sim destroy %d failed (status %d)", domid, rc);
}

const char *simtest_xs_path(const struct simtest *st, int domid, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/dom%d/xenstored.sock", st->dir, domid) >= len)
		CHECK_FAIL("path too long");
	return buf;
}

void simtest_enter(const struct simtest *st, int domid)
{
	char buf[PATH_MAX];

	CHECK(setenv("XENSTORED_PATH", simtest_xs_path(st, domid, buf, sizeof(buf)), 1) == 0);
	snprintf(buf, sizeof(buf), "%s/dom%d/hyp.sock", st->dir, domid);
	CHECK(setenv("XVIO_SIM_HYP", buf, 1) == 0);
	snprintf(buf, sizeof(buf), "%d", domid);
	CHECK(setenv("XVIO_DOMID", buf, 1) == 0);
	CHECK(setenv("XVIO_PLATFORM", "sim", 1) == 0);
	CHECK(setenv("XVIO_SIM_DIR", st->dir, 1) == 0);
}

pid_t simtest_spawn(const struct simtest *st, int domid, int (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		simtest_enter(st, domid);
		exit(fn(arg));
	}
	return pid;
}

int simtest_wait(pid_t pid, int timeout_s)
{
	long long end = timeout_s > 0 ? simtest_now_ms() + timeout_s * 1000ll : 0;
	int status;

	for (;;) {
		pid_t p = waitpid(pid, &status, end ? WNOHANG : 0);

		if (p < 0 && errno == EINTR)
			continue;
		CHECK(p >= 0);
		if (p == pid)
			break;
		if (simtest_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			CHECK_FAIL("process %d did not finish within %d s", (int)pid, timeout_s);
		}
		usleep(2000);
	}
	if (WIFSIGNALED(status))
		CHECK_FAIL("process %d killed by signal %d", (int)pid, WTERMSIG(status));
	return WEXITSTATUS(status);
}

int simtest_sh(const struct simtest *st, int domid, char *out, size_t outlen,
               const char *fmt, ...)
{
	char cmd[8192], id[16];
	const char *args[] = { "exec", id, "--", "sh", "-c", cmd, NULL };
	va_list ap;

	va_start(ap, fmt);
	if ((size_t)vsnprintf(cmd, sizeof(cmd), fmt, ap) >= sizeof(cmd))
		CHECK_FAIL("command too long");
	va_end(ap);
	snprintf(id, sizeof(id), "%d", domid);
	return run_sim(st, args, out, outlen);
}
