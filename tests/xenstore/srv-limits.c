/* SPDX-License-Identifier: MIT */
/*
 * Connection limits and what a flood of connections or bad messages
 * costs: the per-domain connection quota, the room kept for domain 0,
 * running out of descriptors, and rate-limited log lines.  The server's
 * log is captured (xstest_opts.capture_log).  One case per argv[1].
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "xstest.h"

static struct xstest T;
static struct xs_handle *D0;

static void start(const struct xstest_opts *o)
{
	static const unsigned doms[] = { 5, 6, 7 };

	xstest_start_opts(&T, o, doms, 3);
	D0 = xstest_open(&T, 0);
}

static void stop(void)
{
	char *r = xs_control_command(D0, "check", NULL, 0);

	CHECK_STR(r, "OK");
	free(r);
	xs_close(D0);
	xstest_stop(&T);
}

/* Does the server answer on fd (true), or close it (false)? */
static bool served(int fd)
{
	struct xsd_sockmsg h = { .type = XS_GET_DOMAIN_PATH, .req_id = 1, .len = 2 };
	char buf[64], msg[sizeof(h) + 2];

	/* A refused connection may already be closed when we send: EPIPE or
	 * ECONNRESET then mean "not served", like the EOF below. */
	memcpy(msg, &h, sizeof(h));
	memcpy(msg + sizeof(h), "0", 2);
	if (send(fd, msg, sizeof(msg), MSG_NOSIGNAL) != (ssize_t)sizeof(msg)) {
		CHECK(errno == EPIPE || errno == ECONNRESET);
		return false;
	}
	switch (xstest_recv(fd, NULL, buf, sizeof(buf), NULL, 5000)) {
	case XS_GET_DOMAIN_PATH:
		CHECK_STR(buf, "/local/domain/0");
		return true;
	case -1:
		return false; /* EOF (or nothing within 5 s: also a failure) */
	default:
		CHECK_FAIL("unexpected reply");
	}
}

/* The server closed fd: EOF, without any reply. */
static void expect_eof(int fd)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	char c;

	CHECK_INT(poll(&pf, 1, 5000), ==, 1);
	CHECK(recv(fd, &c, 1, 0) <= 0);
}

static unsigned long long quota_of(unsigned domid, const char *what)
{
	char id[16];

	snprintf(id, sizeof(id), "%u", domid);
	return xstest_control_num(D0, "quota", id, what);
}

/* Wait until the server has seen `n` connections in all (closing is
 * asynchronous: the server learns of it when it reads the EOF). */
static void wait_conns(unsigned long long n)
{
	for (int tries = 0; tries < 500; tries++) {
		if (xstest_control_num(D0, "stats", NULL, "connections") == n)
			return;
		usleep(10000);
	}
	CHECK_INT(xstest_control_num(D0, "stats", NULL, "connections"), ==, n);
}

/* Read a value as domain 0 on a fresh connection. */
static void dom0_reads(void)
{
	struct xs_handle *h = xstest_open(&T, 0);
	char *v = xs_read(h, XBT_NULL, "/local/domain/0/probe", NULL);

	CHECK_STR(v, "here");
	free(v);
	xs_close(h);
}

static void case_guest_cap(void)
{
	/* The default quota: 64 connections per guest; the 65th is closed
	 * at once; domain 0 is exempt; closing one makes room. */
	const struct xstest_opts o = { .capture_log = true };
	int fds[64 + 20], d0[100];

	start(&o);
	CHECK_INT(xstest_control_num(D0, "quota", NULL, "connections"), ==, 64);
	for (int i = 0; i < 64; i++) {
		fds[i] = xstest_raw(&T, 5);
		CHECK(served(fds[i]));
	}
	CHECK_INT(quota_of(5, "connections"), ==, 64);
	for (int i = 64; i < 84; i++) {
		fds[i] = xstest_raw(&T, 5);
		expect_eof(fds[i]);
		close(fds[i]);
	}
	CHECK_INT(quota_of(5, "connections-refused"), ==, 20);
	/* Another guest has its own quota. */
	fds[64] = xstest_raw(&T, 6);
	CHECK(served(fds[64]));
	close(fds[64]);
	/* Domain 0 is not limited. */
	for (int i = 0; i < 100; i++) {
		d0[i] = xstest_raw(&T, 0);
		CHECK(served(d0[i]));
	}
	for (int i = 0; i < 100; i++)
		close(d0[i]);
	close(fds[0]);
	wait_conns(1 + 63);
	fds[0] = xstest_raw(&T, 5);
	CHECK(served(fds[0]));
	for (int i = 0; i < 64; i++)
		close(fds[i]);
	/* 20 refusals, one log line (the rest counted for later). */
	CHECK_INT(xstest_log_count(&T, "refused a connection"), ==, 1);
	stop();
}

static void case_dom0_reserve(void)
{
	/* Descriptor limit 400: at most 200 connections, 64 of them kept for
	 * domain 0.  Guests 5 and 6 take 64 each, guest 7 gets the 8 left
	 * of the guests' 136; domain 0 still connects and is answered. */
	const struct xstest_opts o = { .nofile = 400 };
	int fds[3][64], n7 = 0, extra;
	const unsigned doms[3] = { 5, 6, 7 };
	char *v;

	start(&o);
	CHECK(xs_write(D0, XBT_NULL, "/local/domain/0/probe", "here", 4));
	CHECK_INT(xstest_control_num(D0, "quota", NULL, "connections-total"), ==, 200);
	CHECK_INT(xstest_control_num(D0, "quota", NULL, "connections-dom0"), ==, 64);
	for (int d = 0; d < 3; d++) {
		for (int i = 0; i < 64; i++) {
			fds[d][i] = xstest_raw(&T, doms[d]);
			if (!served(fds[d][i])) {
				close(fds[d][i]);
				fds[d][i] = -1;
				CHECK_INT(d, ==, 2);
				break;
			}
			n7 += d == 2;
		}
	}
	CHECK_INT(n7, ==, 200 - 64 - 2 * 64);
	CHECK_INT(quota_of(7, "connections-refused"), ==, 1);
	/* Domain 0 (already holding D0) can open 63 more... */
	dom0_reads();
	wait_conns(1 + 136);
	{
		int d0[63];

		for (int i = 0; i < 63; i++) {
			d0[i] = xstest_raw(&T, 0);
			CHECK(served(d0[i]));
		}
		/* ...and then the global limit applies to it too. */
		extra = xstest_raw(&T, 0);
		expect_eof(extra);
		close(extra);
		v = xs_read(D0, XBT_NULL, "/local/domain/0/probe", NULL);
		CHECK_STR(v, "here");
		free(v);
		for (int i = 0; i < 63; i++)
			close(d0[i]);
	}
	wait_conns(1 + 136);
	dom0_reads();
	for (int d = 0; d < 3; d++)
		for (int i = 0; i < 64 && (d < 2 || i < n7); i++)
			close(fds[d][i]);
	stop();
}

/* Connect without waiting for the server to accept. */
static int connect_dom0(void)
{
	return xstest_raw(&T, 0);
}

static void case_out_of_fds(void)
{
	/* No descriptor left: pending connections are accepted on the spare
	 * descriptor and dropped, one log line for all of them; clients
	 * already connected are served; afterwards all is normal. */
	const struct xstest_opts o = { .nofile = 64, .capture_log = true };
	int fds[50];

	start(&o);
	CHECK(xs_write(D0, XBT_NULL, "/local/domain/0/probe", "here", 4));
	CHECK(xstest_cmd(&T, "eat-fds 0") > 0);
	for (int i = 0; i < 50; i++)
		fds[i] = connect_dom0();
	for (int i = 0; i < 50; i++) {
		expect_eof(fds[i]);
		close(fds[i]);
	}
	CHECK_INT(xstest_control_num(D0, "stats", NULL, "connections-shed"), ==, 50);
	CHECK_INT(xstest_log_count(&T, "out of file descriptors"), ==, 1);
	{
		char *v = xs_read(D0, XBT_NULL, "/local/domain/0/probe", NULL);

		CHECK_STR(v, "here");
		free(v);
	}
	CHECK_INT(xstest_cmd(&T, "free-fds 0"), ==, 0);
	dom0_reads();
	stop();
}

static void case_out_of_fds_no_spare(void)
{
	/* Not even the spare descriptor: the listeners pause instead of
	 * spinning on a connection they cannot take, and the connection is
	 * served once descriptors are back. */
	const struct xstest_opts o = { .nofile = 64, .capture_log = true };
	unsigned long long before, after;
	int fd;

	start(&o);
	CHECK(xs_write(D0, XBT_NULL, "/local/domain/0/probe", "here", 4));
	before = xstest_control_num(D0, "stats", NULL, "accept-pauses");
	CHECK(xstest_cmd(&T, "eat-fds 1") > 0);
	fd = connect_dom0();
	/* One pause per SIM_LISTENER_PAUSE_MS (100 ms) at most: in 500 ms a
	 * handful, where a spinning listener would fail thousands of
	 * accepts. */
	usleep(500000);
	after = xstest_control_num(D0, "stats", NULL, "accept-pauses");
	CHECK(after > before);
	CHECK(after - before <= 20);
	CHECK_INT(xstest_control_num(D0, "stats", NULL, "accept-failures"), <=,
	          2 * (after - before) + 2);
	CHECK_INT(xstest_log_count(&T, "out of file descriptors"), ==, 1);
	CHECK_INT(xstest_cmd(&T, "free-fds 0"), ==, 0);
	CHECK(served(fd)); /* waited, then accepted */
	close(fd);
	dom0_reads();
	stop();
}

static void case_bad_message_log(void)
{
	/* 1000 connections closed for an oversized header: one log line,
	 * the rest counted and summed up when the domain goes. */
	const struct xstest_opts o = { .capture_log = true };
	struct xsd_sockmsg h = { .type = XS_READ, .len = XENSTORE_PAYLOAD_MAX + 1 };
	unsigned long long total = 0;
	char *log, *p;

	start(&o);
	for (int i = 0; i < 1000; i++) {
		int fd = xstest_raw(&T, 5);

		CHECK(send(fd, &h, sizeof(h), MSG_NOSIGNAL) == (ssize_t)sizeof(h));
		expect_eof(fd);
		close(fd);
	}
	CHECK_INT(xstest_cmd(&T, "destroy 5"), ==, 0);
	/* At most one line per 10 s, and the summary: a few lines even on a
	 * slow machine; together they account for all 1000. */
	CHECK_INT(xstest_log_count(&T, "closing connection"), >=, 1);
	CHECK_INT(xstest_log_count(&T, "connections closed not logged"), <=, 4);
	log = xstest_log(&T);
	for (p = log; (p = strstr(p, "domain 5: ")) != NULL; p++) {
		unsigned long n;
		const char *more;
		char *eol = strchr(p, '\n');

		if (eol)
			*eol = '\0';
		if (strstr(p, "closing connection"))
			total++;
		more = strstr(p, "more connections closed not logged");
		if (more) {
			while (more > p && more[-1] == ' ')
				more--;
			while (more > p && more[-1] >= '0' && more[-1] <= '9')
				more--;
			CHECK(sscanf(more, "%lu", &n) == 1);
			total += n;
		}
		if (eol)
			*eol = '\n';
	}
	free(log);
	CHECK_INT(total, ==, 1000);
	CHECK_INT(xstest_log_count(&T, "domain 5:"), <=, 6);
	stop();
}

static const struct check_case cases[] = {
	{ "guest-cap", case_guest_cap },
	{ "dom0-reserve", case_dom0_reserve },
	{ "out-of-fds", case_out_of_fds },
	{ "out-of-fds-no-spare", case_out_of_fds_no_spare },
	{ "bad-message-log", case_bad_message_log },
};

int main(int argc, char **argv)
{
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
