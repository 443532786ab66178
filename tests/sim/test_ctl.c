/* SPDX-License-Identifier: MIT */
/*
 * xvio-sim's control socket under hostile or careless clients, one case
 * per run:  test-sim-ctl CASE
 *   exec-foreign-pid  a client may enrol only itself for killing on destroy
 *   malformed         garbage, NULs, oversized and unknown requests get errors
 *   many-clients      clients beyond the limit are refused, the rest served
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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
	};

	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), setup, teardown);
}
