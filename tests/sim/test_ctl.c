/* SPDX-License-Identifier: MIT */
/*
 * xvio-sim's control socket under hostile or careless clients, one case
 * per run:  test-sim-ctl CASE
 *   exec-foreign-pid  a client may enrol only itself for killing on destroy
 *   malformed         garbage, NULs, oversized and unknown requests get errors
 *   many-clients      clients beyond the limit are refused, the rest served
 *   out-of-fds        a flood with no descriptor left rests, then is served
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "simtest.h"

static struct simtest st;

static int ctl_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock", st.dir) >=
	    sizeof(sa.sun_path))
		CHECK_FAIL("state directory path too long");
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	return fd;
}

/* Send `len` bytes as one request; return the reply (static buffer). */
static const char *ask(int fd, const void *req, size_t len)
{
	static char rep[8192];
	ssize_t n;

	CHECK(send(fd, req, len, MSG_NOSIGNAL) == (ssize_t)len);
	n = recv(fd, rep, sizeof(rep) - 1, 0);
	CHECK(n > 0);
	rep[n] = '\0';
	return rep;
}

static void expect_err(const char *rep, int err)
{
	char want[32];

	snprintf(want, sizeof(want), "err %d ", err);
	if (strncmp(rep, want, strlen(want)) != 0)
		CHECK_FAIL("reply \"%s\", expected \"%s...\"", rep, want);
}

static void case_exec_foreign_pid(void)
{
	int id = simtest_create(&st, "name = \"g\"\n");
	int fd = ctl_connect();
	char req[64];

	/* pid 1 would be killed when the domain is destroyed */
	snprintf(req, sizeof(req), "exec %d 1", id);
	expect_err(ask(fd, req, strlen(req)), EPERM);
	snprintf(req, sizeof(req), "exec %d %d", id, (int)getppid());
	expect_err(ask(fd, req, strlen(req)), EPERM);
	close(fd);
	/* Enrolling oneself is allowed (in a child: stop destroys the domain
	 * and kills what is enrolled in it). */
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		fd = ctl_connect();
		snprintf(req, sizeof(req), "exec %d %d", id, (int)getpid());
		CHECK_STR(ask(fd, req, strlen(req)), "ok");
		_exit(0);
	}
	CHECK_INT(simtest_wait(pid, 20), ==, 0);
}

static void case_malformed(void)
{
	static const char nul[] = "ping\0junk";
	static char big[5000];
	int fd = ctl_connect();

	expect_err(ask(fd, "frobnicate", 10), EINVAL);
	expect_err(ask(fd, nul, sizeof(nul) - 1), EINVAL);
	expect_err(ask(fd, "create 0 x 1", 12), EINVAL);
	expect_err(ask(fd, "create 99999 1024 1024", 22), EINVAL);
	expect_err(ask(fd, "destroy 0", 9), ESRCH);
	expect_err(ask(fd, "info 77", 7), ESRCH);
	expect_err(ask(fd, "list -1", 7), EINVAL);
	CHECK_STR(ask(fd, "ping", 4), "ok");
	close(fd);
	/* a request longer than the limit is cut and refused, not overflowed */
	memset(big, 'a', sizeof(big));
	fd = ctl_connect();
	expect_err(ask(fd, big, sizeof(big)), EINVAL);
	close(fd);
	simtest_check_alive(&st);
}

static void case_many_clients(void)
{
	int fds[80], refused = 0, fd;

	for (int i = 0; i < 80; i++)
		fds[i] = ctl_connect();
	/* each gets an answer, or EOF when beyond the limit */
	for (int i = 0; i < 80; i++) {
		char rep[64];
		ssize_t n;

		if (send(fds[i], "ping", 4, MSG_NOSIGNAL) < 0) {
			refused++;
			continue;
		}
		n = recv(fds[i], rep, sizeof(rep), 0);
		if (n <= 0)
			refused++;
		else
			CHECK(n == 2 && memcmp(rep, "ok", 2) == 0);
	}
	CHECK_INT(refused, >=, 80 - 64);
	CHECK_INT(refused, <, 80);
	for (int i = 0; i < 80; i++)
		close(fds[i]);
	/* once they are gone a new client is served again */
	usleep(100000);
	fd = ctl_connect();
	CHECK_STR(ask(fd, "ping", 4), "ok");
	close(fd);
}

/* The daemon's CPU time in ms (the first field of schedstat is ns run). */
static long daemon_cpu_ms(void)
{
	char path[64];
	unsigned long long ns;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)st.pid);
	f = fopen(path, "r");
	CHECK(f != NULL);
	CHECK(fscanf(f, "%llu", &ns) == 1);
	fclose(f);
	return (long)(ns / 1000000u);
}

static void set_nofile(rlim_t soft)
{
	struct rlimit rl;

	CHECK(prlimit(st.pid, RLIMIT_NOFILE, NULL, &rl) == 0);
	rl.rlim_cur = soft;
	CHECK(prlimit(st.pid, RLIMIT_NOFILE, &rl, NULL) == 0);
}

/* The reply to a request already sent, within timeout_ms. */
static void expect_ok_within(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char rep[64];
	ssize_t n;

	CHECK(poll(&p, 1, timeout_ms) == 1);
	n = recv(fd, rep, sizeof(rep), MSG_DONTWAIT);
	CHECK(n == 2 && memcmp(rep, "ok", 2) == 0);
}

static void case_out_of_fds(void)
{
	/* Its limit at 3, the daemon has not even a slot to shed a
	 * connection with: the listener must rest (SIM_LISTENER_PAUSE_MS at
	 * a time) rather than spin on a connection it cannot accept, which
	 * burnt ~100% CPU; once the limit is back the waiting clients are
	 * served.  40 fits the control socket's backlog (64). */
	enum { FLOOD = 40, WINDOW_MS = 2000, CPU_BOUND_MS = 400 };
	int early = ctl_connect(), fds[FLOOD], fd;
	struct rlimit rl;
	long cpu;

	/* Answered, so accepted before the limit drops. */
	CHECK_STR(ask(early, "ping", 4), "ok");
	CHECK(prlimit(st.pid, RLIMIT_NOFILE, NULL, &rl) == 0);
	set_nofile(3);
	for (int i = 0; i < FLOOD; i++) {
		fds[i] = ctl_connect();
		CHECK(send(fds[i], "ping", 4, MSG_NOSIGNAL) == 4);
	}
	cpu = daemon_cpu_ms();
	usleep(WINDOW_MS * 1000);
	cpu = daemon_cpu_ms() - cpu;
	fprintf(stderr, "daemon CPU %ld ms over %d ms\n", cpu, WINDOW_MS);
	CHECK_INT(cpu, <, CPU_BOUND_MS);
	/* A client connected before keeps being served meanwhile. */
	CHECK_STR(ask(early, "ping", 4), "ok");
	set_nofile(rl.rlim_cur);
	for (int i = 0; i < FLOOD; i++) {
		expect_ok_within(fds[i], 10000);
		close(fds[i]);
	}
	fd = ctl_connect();
	CHECK_STR(ask(fd, "ping", 4), "ok");
	close(fd);
	close(early);
	simtest_check_alive(&st);
}

static void setup(void)
{
	simtest_start(&st, NULL);
}

static void teardown(void)
{
	simtest_stop(&st);
}

int main(int argc, char **argv)
{
	static const struct check_case cases[] = {
		{ "exec-foreign-pid", case_exec_foreign_pid },
		{ "malformed", case_malformed },
		{ "many-clients", case_many_clients },
		{ "out-of-fds", case_out_of_fds },
	};

	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), setup, teardown);
}
