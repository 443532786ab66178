/* SPDX-License-Identifier: MIT */
/*
 * Many clients at once: 50 processes (domain 0 and guests) doing
 * conflicting transactions and watching each other; the final state is
 * verified.  One case per argv[1].
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "xstest.h"

#define PROCS 50
#define ROUNDS 8

static struct xstest T;

static long read_long(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	char *v = xs_read(h, t, path, NULL);
	long n;

	if (!v)
		return -1;
	n = strtol(v, NULL, 10);
	free(v);
	return n;
}

/* One worker: ROUNDS increments of the shared counter, each with a write
 * of its own key in the same transaction; a watch on everyone's keys. */
static int worker(unsigned idx, unsigned domid)
{
	struct xs_handle *h = xstest_open(&T, domid);
	char mine[64], val[24];
	unsigned events = 0;

	snprintf(mine, sizeof(mine), "/stress/own/%u", idx);
	if (!xs_watch(h, "/stress/own", "w"))
		return 10;
	for (int r = 0; r < ROUNDS; r++) {
		for (;;) {
			xs_transaction_t t = xs_transaction_start(h);
			long n;

			if (t == XBT_NULL)
				return 11;
			n = read_long(h, t, "/stress/counter");
			if (n < 0)
				return 12;
			snprintf(val, sizeof(val), "%ld", n + 1);
			if (!xs_write(h, t, "/stress/counter", val, (unsigned)strlen(val)))
				return 13;
			snprintf(val, sizeof(val), "%d", r);
			if (!xs_write(h, t, mine, val, (unsigned)strlen(val)))
				return 14;
			if (xs_transaction_end(h, t, false))
				break;
			if (errno != EAGAIN)
				return 15;
		}
		while (xstest_event(h, 0, NULL, 0, NULL, 0))
			events++;
	}
	/* At least the first event and one of our own commits. */
	while (events < 2 && xstest_event(h, 5000, NULL, 0, NULL, 0))
		events++;
	xs_close(h);
	return events >= 2 ? 0 : 16;
}

static void case_transactions_and_watches(void)
{
	static const unsigned doms[] = { 5 };
	struct xs_permissions all[2] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = 5, .perms = XS_PERM_READ | XS_PERM_WRITE },
	};
	struct xs_handle *d0;
	pid_t pids[PROCS];
	char path[64];

	xstest_start(&T, NULL, doms, 1);
	d0 = xstest_open(&T, 0);
	CHECK(xs_write(d0, XBT_NULL, "/stress/counter", "0", 1));
	/* Keys exist up front: creating them in parallel would make every
	 * transaction conflict on the parent's child list. */
	for (unsigned i = 0; i < PROCS; i++) {
		snprintf(path, sizeof(path), "/stress/own/%u", i);
		CHECK(xs_write(d0, XBT_NULL, path, "-", 1));
	}
	/* Domain 5 may read and write it too. */
	CHECK(xs_set_permissions(d0, XBT_NULL, "/stress", all, 2));
	CHECK(xs_set_permissions(d0, XBT_NULL, "/stress/counter", all, 2));
	CHECK(xs_set_permissions(d0, XBT_NULL, "/stress/own", all, 2));
	for (unsigned i = 0; i < PROCS; i++) {
		snprintf(path, sizeof(path), "/stress/own/%u", i);
		CHECK(xs_set_permissions(d0, XBT_NULL, path, all, 2));
	}
	fflush(NULL);
	for (unsigned i = 0; i < PROCS; i++) {
		pids[i] = fork();
		CHECK(pids[i] >= 0);
		if (pids[i] == 0)
			_exit(worker(i, i % 3 == 0 ? 5 : 0));
	}
	for (unsigned i = 0; i < PROCS; i++)
		xstest_wait_ok(pids[i]);
	CHECK_INT(read_long(d0, XBT_NULL, "/stress/counter"), ==, PROCS * ROUNDS);
	for (unsigned i = 0; i < PROCS; i++) {
		snprintf(path, sizeof(path), "/stress/own/%u", i);
		CHECK_INT(read_long(d0, XBT_NULL, path), ==, ROUNDS - 1);
	}
	{
		char *r = xs_control_command(d0, "check", NULL, 0);

		CHECK_STR(r, "OK");
		free(r);
	}
	xs_close(d0);
	xstest_stop(&T);
}

static void case_connection_churn(void)
{
	/* Processes connecting, watching, writing and leaving abruptly. */
	pid_t pids[PROCS];
	struct xs_handle *d0;

	xstest_start(&T, NULL, NULL, 0);
	fflush(NULL);
	for (unsigned i = 0; i < PROCS; i++) {
		pids[i] = fork();
		CHECK(pids[i] >= 0);
		if (pids[i] == 0) {
			for (int r = 0; r < 10; r++) {
				struct xs_handle *h = xstest_open(&T, 0);
				char path[64];

				snprintf(path, sizeof(path), "/churn/%u/%d", i, r);
				if (!xs_watch(h, "/churn", "c") ||
				    !xs_write(h, XBT_NULL, path, "x", 1))
					_exit(1);
				if (xs_transaction_start(h) == XBT_NULL)
					_exit(2);
				xs_close(h); /* with a watch and a transaction open */
			}
			_exit(0);
		}
	}
	for (unsigned i = 0; i < PROCS; i++)
		xstest_wait_ok(pids[i]);
	d0 = xstest_open(&T, 0);
	{
		unsigned n;
		char **l = xs_directory(d0, XBT_NULL, "/churn", &n);
		char *r = xs_control_command(d0, "check", NULL, 0);

		CHECK(l && n == PROCS);
		free(l);
		CHECK_STR(r, "OK");
		free(r);
	}
	xs_close(d0);
	xstest_stop(&T);
}

static const struct check_case cases[] = {
	{ "transactions-and-watches", case_transactions_and_watches },
	{ "connection-churn", case_connection_churn },
};

int main(int argc, char **argv)
{
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
