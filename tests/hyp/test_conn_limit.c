/* SPDX-License-Identifier: MIT */
/*
 * Connections per domain: a guest gets XVIO_SIM_MAX_CONNS at a time, the
 * next one is closed at once, and closing one makes room again; dom0,
 * which hosts every guest's backends, may have more.
 */
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hyptest.h"

#define DOM0_EXTRA 64

static struct simtest st;
static struct ht_reply r;
static int fds[XVIO_SIM_MAX_CONNS + DOM0_EXTRA];

static int hello(int fd)
{
	struct xvio_sim_req req = { .op = XVIO_SIM_OP_HELLO };

	return ht_raw_call(fd, &req, NULL, 0, &r);
}

int main(void)
{
	struct rlimit rl;
	int dom, extra;

	/* Room for our side of the connections. */
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rl.rlim_cur = rl.rlim_max;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHECK(rl.rlim_cur > XVIO_SIM_MAX_CONNS + DOM0_EXTRA + 64);

	simtest_start(&st, NULL);
	dom = ht_domain(&st, 4, 0);

	for (unsigned i = 0; i < XVIO_SIM_MAX_CONNS; i++) {
		fds[i] = ht_raw_connect(&st, dom);
		CHECK_RET(hello(fds[i]), 0);
	}
	extra = ht_raw_connect(&st, dom);
	CHECK_RET(hello(extra), -ECONNRESET);
	close(extra);
	/* One fewer, and a new one is served (once the daemon saw the close). */
	close(fds[0]);
	for (int i = 0;; i++) {
		int err;

		fds[0] = ht_raw_connect(&st, dom);
		err = hello(fds[0]);
		if (err == 0)
			break;
		CHECK_RET(err, -ECONNRESET);
		close(fds[0]);
		CHECK_INT(i, <, 1000);
		usleep(10000);
	}
	for (unsigned i = 0; i < XVIO_SIM_MAX_CONNS; i++)
		close(fds[i]);

	/* dom0 is not held to the guests' limit. */
	_Static_assert(XVIO_SIM_MAX_CONNS + DOM0_EXTRA <= XVIO_SIM_MAX_CONNS_DOM0, "dom0 more");
	for (unsigned i = 0; i < XVIO_SIM_MAX_CONNS + DOM0_EXTRA; i++) {
		fds[i] = ht_raw_connect(&st, 0);
		CHECK_RET(hello(fds[i]), 0);
	}
	for (unsigned i = 0; i < XVIO_SIM_MAX_CONNS + DOM0_EXTRA; i++)
		close(fds[i]);

	simtest_check_alive(&st);
	simtest_stop(&st);
	return 0;
}
