/* SPDX-License-Identifier: MIT */
/*
 * The daemon out of file descriptors (its RLIMIT_NOFILE lowered with
 * prlimit) while a guest floods its hypervisor socket with connections:
 *
 *   shed   a few descriptors left: the connections that fit are served,
 *          the rest are accepted and closed at once (the client sees EOF),
 *          none is left pending;
 *   pause  none left at all, not even to shed: the connections wait, and
 *          are served once descriptors are back.
 *
 * Either way the event loop must not spin (the daemon's CPU time over the
 * flood stays small; before the fix it spun at 100%), the condition is
 * logged once per burst, and the daemon answers afterwards.
 */
#include <dirent.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hyptest.h"

#define FLOOD 40            /* fits the listener's backlog of 64 */
#define WINDOW_MS 2000
#define CPU_BOUND_MS 400    /* a spinning loop burns ~WINDOW_MS */
#define LOG_NEEDLE "hyp: dom"
#define LOG_EMFILE "out of file descriptors"

static struct simtest st;
static char logpath[64];
static int dom;
static rlim_t soft0;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One more than the daemon's highest open descriptor. */
static int daemon_fd_top(void)
{
	char path[64];
	struct dirent *e;
	int top = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)st.pid);
	d = opendir(path);
	CHECK(d != NULL);
	while ((e = readdir(d))) {
		if (e->d_name[0] != '.' && atoi(e->d_name) + 1 > top)
			top = atoi(e->d_name) + 1;
	}
	closedir(d);
	return top;
}

static void set_nofile(rlim_t soft)
{
	struct rlimit rl;

	CHECK(prlimit(st.pid, RLIMIT_NOFILE, NULL, &rl) == 0);
	rl.rlim_cur = soft;
	CHECK(prlimit(st.pid, RLIMIT_NOFILE, &rl, NULL) == 0);
}

/* Connect without waiting for the daemon and send a HELLO (unless the
 * daemon was quick to shed the connection already). */
static int flood_one(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct xvio_sim_req req = { .op = XVIO_SIM_OP_HELLO };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ssize_t n;

	CHECK(fd >= 0);
	ht_sock_path(&st, dom, &sa);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	n = send(fd, &req, sizeof(req), MSG_NOSIGNAL);
	if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
		return fd;
	CHECK_INT(n, ==, sizeof(req));
	return fd;
}

enum fate { PENDING, SERVED, SHED };

/* What became of a flood connection by now. */
static enum fate fate_of(int fd)
{
	struct {
		struct xvio_sim_rep rep;
		struct xvio_sim_hello hello;
	} m;
	ssize_t n = recv(fd, &m, sizeof(m), MSG_DONTWAIT);

	if (n < 0 && errno == EAGAIN)
		return PENDING;
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return SHED;
	CHECK_INT(n, ==, sizeof(m));
	CHECK_INT(m.rep.err, ==, 0);
	CHECK_INT(m.hello.domid, ==, dom);
	return SERVED;
}

/* Wait up to timeout_ms for no connection to be pending; count fates. */
static void settle(const int *fds, int n, int timeout_ms, int count[3])
{
	long long end = now_ms() + timeout_ms;

	for (;;) {
		memset(count, 0, 3 * sizeof(int));
		for (int i = 0; i < n; i++) {
			struct pollfd pfd = { .fd = fds[i], .events = POLLIN };

			/* Peek: a served reply is read only once, below. */
			if (poll(&pfd, 1, 0) == 1)
				continue;
			count[PENDING]++;
		}
		if (!count[PENDING] || now_ms() > end)
			break;
		usleep(10000);
	}
	memset(count, 0, 3 * sizeof(int));
	for (int i = 0; i < n; i++)
		count[fate_of(fds[i])]++;
}

/* The daemon's CPU time over WINDOW_MS of wall time, now. */
static long cpu_over_window(void)
{
	long before = ht_cpu_ms(st.pid);

	usleep(WINDOW_MS * 1000);
	return ht_cpu_ms(st.pid) - before;
}

/* A fresh connection is served within 10 s (the daemon may need a moment
 * to notice closed connections or restored limits). */
static void expect_served(void)
{
	struct xvio_sim_req req = { .op = XVIO_SIM_OP_HELLO };
	static struct ht_reply r;

	for (int i = 0; i < 1000; i++) {
		int fd = ht_raw_connect(&st, dom);
		int err = ht_raw_call(fd, &req, NULL, 0, &r);

		close(fd);
		if (err == 0)
			return;
		CHECK_RET(err, -ECONNRESET);
		usleep(10000);
	}
	CHECK_FAIL("the daemon does not serve new connections again");
}

/* A few descriptors left: the surplus is shed, nothing spins. */
static void shed(void)
{
	int fds[FLOOD], count[3];
	long cpu;

	set_nofile((rlim_t)daemon_fd_top() + 4);
	for (int i = 0; i < FLOOD; i++)
		fds[i] = flood_one();
	cpu = cpu_over_window();
	fprintf(stderr, "shed: daemon CPU %ld ms over %d ms\n", cpu, WINDOW_MS);
	CHECK_INT(cpu, <, CPU_BOUND_MS);
	settle(fds, FLOOD, 5000, count);
	fprintf(stderr, "shed: %d served, %d shed, %d pending\n", count[SERVED], count[SHED],
	        count[PENDING]);
	CHECK_INT(count[PENDING], ==, 0);
	CHECK_INT(count[SERVED], >=, 1);
	CHECK_INT(count[SHED], >=, 1);
	CHECK_INT(ht_log_count(logpath, LOG_EMFILE), ==, 1);
	/* Closing what it holds gives the daemon descriptors back. */
	for (int i = 0; i < FLOOD; i++)
		close(fds[i]);
	expect_served();
}

/* None left, not even to shed: the listener rests instead of spinning,
 * and the waiting connections are served once the limit is back. */
static void pause_and_resume(void)
{
	int fds[8], count[3];
	long cpu;

	set_nofile(3);
	for (int i = 0; i < 8; i++)
		fds[i] = flood_one();
	cpu = cpu_over_window();
	fprintf(stderr, "pause: daemon CPU %ld ms over %d ms\n", cpu, WINDOW_MS);
	CHECK_INT(cpu, <, CPU_BOUND_MS);
	set_nofile(soft0);
	settle(fds, 8, 10000, count);
	CHECK_INT(count[SERVED], ==, 8);
	/* A second burst, logged once more. */
	CHECK_INT(ht_log_count(logpath, LOG_EMFILE), ==, 2);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	expect_served();
}

int main(void)
{
	struct rlimit rl;

	ht_start_logged(&st, logpath, sizeof(logpath));
	dom = ht_domain(&st, 4, 0);
	CHECK(prlimit(st.pid, RLIMIT_NOFILE, NULL, &rl) == 0);
	soft0 = rl.rlim_cur;

	shed();
	pause_and_resume();
	/* No other complaint from the hypervisor about the flood. */
	CHECK_INT(ht_log_count(logpath, LOG_NEEDLE), ==, 2);
	simtest_check_alive(&st);
	simtest_stop(&st);
	ht_log_finish(logpath);
	return 0;
}
