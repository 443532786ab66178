/* SPDX-License-Identifier: MIT */
/*
 * A guest sending malformed datagrams in a loop must not be able to fill
 * the daemon's log: 1000 of them add at most a few lines (one logged, the
 * rest counted and summed up every few seconds), the count comes out
 * exactly when the domain is destroyed, and the rate limit is per domain
 * (another domain's first drop is still logged at once).
 */
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hyptest.h"

#define ROUNDS 1000
#define LOG_INTERVAL_S 5     /* the daemon's summary interval */

static struct simtest st;
static char logpath[64];

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One malformed datagram (of a few kinds) on a fresh connection; waits
 * until the daemon closed it. */
static void garbage(int dom, int i)
{
	static const unsigned char trunc[] = { 1, 0 };
	struct xvio_sim_req bad_pad = { .op = XVIO_SIM_OP_HELLO, .pad = 1 };
	struct xvio_sim_req bad_count = { .op = XVIO_SIM_OP_GNT_SHARE };
	struct pollfd pfd = { .events = POLLIN };
	int fd = ht_raw_connect(&st, dom);
	char buf[64];

	switch (i % 3) {
	case 0:
		CHECK_INT(send(fd, trunc, sizeof(trunc), MSG_NOSIGNAL), ==, sizeof(trunc));
		break;
	case 1:
		CHECK_INT(send(fd, &bad_pad, sizeof(bad_pad), MSG_NOSIGNAL), ==, sizeof(bad_pad));
		break;
	default:
		CHECK_INT(send(fd, &bad_count, sizeof(bad_count), MSG_NOSIGNAL), ==,
		          sizeof(bad_count));
		break;
	}
	pfd.fd = fd;
	CHECK_INT(poll(&pfd, 1, 10000), ==, 1);
	CHECK_INT(recv(fd, buf, sizeof(buf), 0), ==, 0);
	close(fd);
}

/* Drops of domain `dom` the log accounts for: one per logged drop plus
 * the counts of the summaries. */
static long drops_logged(int dom)
{
	char one[64], more[64], line[4096];
	FILE *f = fopen(logpath, "r");
	long n = 0;

	CHECK(f != NULL);
	snprintf(one, sizeof(one), "hyp: dom%d: dropping client", dom);
	snprintf(more, sizeof(more), "hyp: dom%d: dropped ", dom);
	while (fgets(line, sizeof(line), f)) {
		const char *p;

		if (strstr(line, one))
			n++;
		else if ((p = strstr(line, more)))
			n += atol(p + strlen(more));
	}
	fclose(f);
	return n;
}

int main(void)
{
	struct xvio_sim_req req = { .op = XVIO_SIM_OP_HELLO };
	static struct ht_reply r;
	int dom_a, dom_b, lines0, added, fd;
	long long t0, elapsed;

	ht_start_logged(&st, logpath, sizeof(logpath));
	dom_a = ht_domain(&st, 4, 0);
	dom_b = ht_domain(&st, 4, 0);

	lines0 = ht_log_count(logpath, NULL);
	t0 = now_ms();
	for (int i = 0; i < ROUNDS; i++)
		garbage(dom_a, i);
	elapsed = now_ms() - t0;
	added = ht_log_count(logpath, NULL) - lines0;
	fprintf(stderr, "%d malformed datagrams in %lld ms: %d log lines\n", ROUNDS, elapsed,
	        added);
	/* The first drop and, per interval that passed, one more and a sum. */
	CHECK_INT(added, >=, 1);
	CHECK_INT(added, <=, 1 + 2 * (elapsed / 1000 / LOG_INTERVAL_S + 1));

	/* Per domain: B's first drop is logged even though A's are quiet. */
	garbage(dom_b, 0);
	CHECK_INT(drops_logged(dom_b), ==, 1);

	/* The daemon serves A as before. */
	fd = ht_raw_connect(&st, dom_a);
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), 0);
	close(fd);

	/* Destroying A sums up what was not logged: all drops accounted. */
	simtest_destroy(&st, dom_a);
	CHECK_INT(drops_logged(dom_a), ==, ROUNDS);

	simtest_check_alive(&st);
	simtest_stop(&st);
	ht_log_finish(logpath);
	return 0;
}
