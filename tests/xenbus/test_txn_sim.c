/* SPDX-License-Identifier: MIT */
/*
 * Integration: xvio_xs_transaction against a real xvio-sim.
 *
 * retry-once:  another connection writes a node the transaction read;
 *              the commit fails with EAGAIN, the function runs again and
 *              the second commit persists the right value
 * give-up:     a writer that always interferes: -EAGAIN after exactly
 *              XVIO_XS_TXN_TRIES runs, nothing of the transaction persists
 * fn-error:    the function's error aborts (no retry, nothing persists)
 * concurrent:  a dom0 process and a guest process increment one counter
 *              in transactions; no increment is lost
 * same-value:  rewriting a read node with the value it already had still
 *              conflicts (xenbus/device.c relies on it: a peer cycling
 *              3 -> 6 -> 3 during one pass must not go unnoticed)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "simtest.h"
#include "xbtest.h"
#include "xenbus.h"

#define COUNTER "/local/domain/1/data/counter"
#define MARKER "/local/domain/1/data/marker"

static struct simtest st;

struct incr {
	struct xs_handle *other; /* interferes through a second connection */
	int interfere_runs;      /* how many runs interfere */
	int runs;
};

/* Read the counter, maybe let the other connection bump it, write +1. */
static int incr_fn(struct xs_handle *h, xs_transaction_t t, void *arg,
                   struct xvio_err *err)
{
	struct incr *a = arg;
	uint64_t v;
	int rc;

	a->runs++;
	rc = xvio_xs_read_u64(h, t, COUNTER, NULL, 0, 0, UINT32_MAX, &v, err);
	if (rc < 0)
		return rc;
	if (a->runs <= a->interfere_runs) {
		char val[32];
		snprintf(val, sizeof(val), "%d", 1000 * a->runs);
		xb_write(a->other, COUNTER, val);
	}
	rc = xvio_xs_printf(h, t, MARKER, NULL, err, "run %d", a->runs);
	if (rc < 0)
		return rc;
	rc = xvio_xs_printf(h, t, COUNTER, NULL, err, "%llu", (unsigned long long)v + 1);
	return rc < 0 ? rc : (int)v + 1;
}

static void test_retry_once(struct xs_handle *xs0, struct xs_handle *xs1)
{
	struct incr a = { .other = xs1, .interfere_runs = 1 };
	struct xvio_err err = { 0 };
	char buf[32];

	xb_write(xs0, COUNTER, "5");
	CHECK_INT(xvio_xs_transaction(xs0, incr_fn, &a, &err), ==, 1001);
	CHECK_INT(a.runs, ==, 2);
	CHECK_INT(err.err, ==, 0);
	xb_read(xs0, COUNTER, buf, sizeof(buf));
	CHECK_STR(buf, "1001");
	xb_read(xs0, MARKER, buf, sizeof(buf));
	CHECK_STR(buf, "run 2");
}

static void test_give_up(struct xs_handle *xs0, struct xs_handle *xs1)
{
	struct incr a = { .other = xs1, .interfere_runs = 1000 };
	struct xvio_err err = { 0 };
	char buf[32];

	xb_write(xs0, COUNTER, "5");
	CHECK_INT(xvio_xs_transaction(xs0, incr_fn, &a, &err), ==, -EAGAIN);
	CHECK_INT(a.runs, ==, XVIO_XS_TXN_TRIES);
	CHECK_INT(err.err, ==, EAGAIN);
	CHECK(strstr(err.msg, "still conflicting"));
	/* Only the interfering writes landed. */
	xb_read(xs0, COUNTER, buf, sizeof(buf));
	CHECK_INT(atoi(buf), ==, 1000 * XVIO_XS_TXN_TRIES);
	CHECK(!xb_read(xs0, MARKER, buf, sizeof(buf)));
}

static int fail_fn(struct xs_handle *h, xs_transaction_t t, void *arg, struct xvio_err *err)
{
	int *runs = arg;

	(*runs)++;
	if (xvio_xs_write(h, t, MARKER, NULL, "x", err) < 0)
		return -EIO;
	return xvio_err_set(err, EINVAL, "refused on purpose");
}

static void test_fn_error(struct xs_handle *xs0)
{
	struct xvio_err err = { 0 };
	char buf[8];
	int runs = 0;

	CHECK_INT(xvio_xs_transaction(xs0, fail_fn, &runs, &err), ==, -EINVAL);
	CHECK_INT(runs, ==, 1);
	CHECK_STR(err.msg, "refused on purpose");
	CHECK(!xb_read(xs0, MARKER, buf, sizeof(buf)));
}

#define N_INCR 150

static int add_fn(struct xs_handle *h, xs_transaction_t t, void *arg, struct xvio_err *err)
{
	uint64_t v;
	int rc = xvio_xs_read_u64(h, t, COUNTER, NULL, 0, 0, UINT32_MAX, &v, err);

	(*(int *)arg)++;
	if (rc < 0)
		return rc;
	return xvio_xs_printf(h, t, COUNTER, NULL, err, "%llu", (unsigned long long)v + 1);
}

/* Runs in a process of its domain. */
static int incrementer(void *arg)
{
	struct xs_handle *xs = xs_open(0);
	int runs = 0;

	(void)arg;
	CHECK(xs);
	for (int i = 0; i < N_INCR; i++) {
		struct xvio_err err = { 0 };
		int rc = xvio_xs_transaction(xs, add_fn, &runs, &err);

		if (rc == -EAGAIN) { /* lost every race of one call: call again */
			i--;
			continue;
		}
		if (rc < 0)
			CHECK_FAIL("increment: %s", err.msg);
	}
	xs_close(xs);
	return 0;
}

static void test_concurrent(struct xs_handle *xs0)
{
	char buf[32];
	pid_t a, b;

	xb_write(xs0, COUNTER, "0");
	a = simtest_spawn(&st, 0, incrementer, NULL);
	b = simtest_spawn(&st, 1, incrementer, NULL);
	CHECK_INT(simtest_wait(a, 50), ==, 0);
	CHECK_INT(simtest_wait(b, 50), ==, 0);
	xb_read(xs0, COUNTER, buf, sizeof(buf));
	CHECK_INT(atoi(buf), ==, 2 * N_INCR);
}

struct same {
	struct xs_handle *other;
	int runs;
};

static int same_fn(struct xs_handle *h, xs_transaction_t t, void *arg, struct xvio_err *err)
{
	struct same *a = arg;
	uint64_t v;
	int rc = xvio_xs_read_u64(h, t, COUNTER, NULL, 0, 0, 100, &v, err);

	if (rc < 0)
		return rc;
	if (++a->runs == 1) {
		xb_write(a->other, COUNTER, "6");
		xb_write(a->other, COUNTER, "3"); /* back to what we read */
	}
	return xvio_xs_write(h, t, MARKER, NULL, "seen", err);
}

static void test_same_value(struct xs_handle *xs0, struct xs_handle *xs1)
{
	struct same a = { .other = xs1 };

	xb_write(xs0, COUNTER, "3");
	CHECK_INT(xvio_xs_transaction(xs0, same_fn, &a, NULL), ==, 0);
	CHECK_INT(a.runs, ==, 2);
}

int main(int argc, char **argv)
{
	struct xs_handle *xs0, *xs1;

	if (argc != 2)
		CHECK_FAIL("usage: %s retry-once|give-up|fn-error|concurrent|same-value", argv[0]);
	simtest_start(&st, NULL);
	CHECK_INT(simtest_create(&st, "name = \"g\"\nmemory = 64\n"), ==, 1);
	xs0 = xb_open_as(&st, 0);
	xs1 = xb_open_as(&st, 1);
	if (strcmp(argv[1], "retry-once") == 0)
		test_retry_once(xs0, xs1);
	else if (strcmp(argv[1], "give-up") == 0)
		test_give_up(xs0, xs1);
	else if (strcmp(argv[1], "fn-error") == 0)
		test_fn_error(xs0);
	else if (strcmp(argv[1], "concurrent") == 0)
		test_concurrent(xs0);
	else if (strcmp(argv[1], "same-value") == 0)
		test_same_value(xs0, xs1);
	else
		CHECK_FAIL("unknown case %s", argv[1]);
	xs_close(xs1);
	xs_close(xs0);
	simtest_stop(&st);
	return 0;
}
