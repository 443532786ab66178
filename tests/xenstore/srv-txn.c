/* SPDX-License-Identifier: MIT */
/*
 * Transactions through libxenstore: isolation, commit, abort, and which
 * concurrent changes make a commit fail with EAGAIN.  One case per argv[1].
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "xstest.h"

static struct xstest T;
static struct xs_handle *A, *B;

static void put(struct xs_handle *h, xs_transaction_t t, const char *path,
                const char *val)
{
	CHECK(xs_write(h, t, path, val, (unsigned)strlen(val)));
}

static void expect(struct xs_handle *h, xs_transaction_t t, const char *path,
                   const char *val)
{
	char *v = xs_read(h, t, path, NULL);

	if (!val) {
		CHECK(v == NULL && errno == ENOENT);
		return;
	}
	CHECK_STR(v, val);
	free(v);
}

static xs_transaction_t start(struct xs_handle *h)
{
	xs_transaction_t t = xs_transaction_start(h);

	CHECK(t != XBT_NULL);
	return t;
}

static void case_isolation_commit(void)
{
	xs_transaction_t t = start(A);

	put(A, t, "/t/x", "1");
	expect(A, t, "/t/x", "1");
	expect(B, XBT_NULL, "/t/x", NULL);
	expect(A, XBT_NULL, "/t/x", NULL);
	CHECK(xs_transaction_end(A, t, false));
	expect(B, XBT_NULL, "/t/x", "1");
}

static void case_abort(void)
{
	xs_transaction_t t = start(A);

	put(A, t, "/t/x", "1");
	CHECK(xs_rm(A, t, "/tool"));
	CHECK(xs_transaction_end(A, t, true));
	expect(B, XBT_NULL, "/t/x", NULL);
	expect(B, XBT_NULL, "/tool", "");
}

static void case_conflict_write(void)
{
	xs_transaction_t t;

	put(B, XBT_NULL, "/c", "0");
	t = start(A);
	expect(A, t, "/c", "0");
	put(B, XBT_NULL, "/c", "other");
	put(A, t, "/c", "mine");
	CHECK_ERRNO(xs_transaction_end(A, t, false), EAGAIN);
	expect(B, XBT_NULL, "/c", "other");
	/* The failed transaction is gone. */
	CHECK_ERRNO(xs_transaction_end(A, t, false), ENOENT);
}

static void case_conflict_read(void)
{
	/* Only read, write elsewhere: still a conflict. */
	xs_transaction_t t;

	put(B, XBT_NULL, "/c", "0");
	t = start(A);
	expect(A, t, "/c", "0");
	put(B, XBT_NULL, "/c", "1");
	put(A, t, "/elsewhere", "x");
	CHECK_ERRNO(xs_transaction_end(A, t, false), EAGAIN);
	expect(B, XBT_NULL, "/elsewhere", NULL);
}

static void case_conflict_directory(void)
{
	xs_transaction_t t;
	unsigned n;
	char **l;

	put(B, XBT_NULL, "/d/a", "");
	t = start(A);
	l = xs_directory(A, t, "/d", &n);
	CHECK(l && n == 1);
	free(l);
	put(B, XBT_NULL, "/d/b", ""); /* the listing changed */
	put(A, t, "/d/count", "1");
	CHECK_ERRNO(xs_transaction_end(A, t, false), EAGAIN);
}

static void case_conflict_absence(void)
{
	xs_transaction_t t = start(A);

	expect(A, t, "/maybe", NULL);
	put(B, XBT_NULL, "/maybe", "now");
	put(A, t, "/other", "x");
	CHECK_ERRNO(xs_transaction_end(A, t, false), EAGAIN);
}

static void case_conflict_removed(void)
{
	xs_transaction_t t;

	put(B, XBT_NULL, "/gone/x", "1");
	t = start(A);
	expect(A, t, "/gone/x", "1");
	CHECK(xs_rm(B, XBT_NULL, "/gone"));
	put(A, t, "/unrelated", "x");
	CHECK_ERRNO(xs_transaction_end(A, t, false), EAGAIN);
}

static void case_no_conflict_disjoint(void)
{
	xs_transaction_t t;

	put(B, XBT_NULL, "/d/a", "a");
	put(B, XBT_NULL, "/d/b", "b");
	t = start(A);
	expect(A, t, "/d/a", "a");
	put(A, t, "/d/a", "A");
	/* A sibling's value is not part of anything A read. */
	put(B, XBT_NULL, "/d/b", "B");
	put(B, XBT_NULL, "/elsewhere/new", "n");
	CHECK(xs_transaction_end(A, t, false));
	expect(B, XBT_NULL, "/d/a", "A");
	expect(B, XBT_NULL, "/d/b", "B");
}

static void case_no_conflict_sees_new(void)
{
	/* Nodes not yet touched are read as they are now (no snapshot). */
	xs_transaction_t t = start(A);

	put(B, XBT_NULL, "/late", "v");
	expect(A, t, "/late", "v");
	CHECK(xs_transaction_end(A, t, false));
}

static void case_two_transactions(void)
{
	/* Two transactions of one connection on disjoint nodes both commit;
	 * a third that read what the first wrote fails.  (Creating nodes
	 * under one parent would conflict: the parent's list changes.) */
	xs_transaction_t t1, t2, t3;

	put(B, XBT_NULL, "/one", "0");
	put(B, XBT_NULL, "/two", "0");
	put(B, XBT_NULL, "/three", "0");
	t1 = start(A);
	t2 = start(A);
	t3 = start(B);
	put(A, t1, "/one", "1");
	put(A, t2, "/two", "2");
	expect(B, t3, "/one", "0");
	put(B, t3, "/three", "3");
	CHECK(xs_transaction_end(A, t1, false));
	CHECK(xs_transaction_end(A, t2, false));
	CHECK_ERRNO(xs_transaction_end(B, t3, false), EAGAIN);
	expect(B, XBT_NULL, "/one", "1");
	expect(B, XBT_NULL, "/two", "2");
	expect(B, XBT_NULL, "/three", "0");
}

static void case_tree_ops(void)
{
	/* mkdir, rm, directory and permissions inside a transaction. */
	xs_transaction_t t;
	struct xs_permissions p = { .id = 0, .perms = XS_PERM_READ };
	struct xs_permissions *got;
	unsigned n;
	char **l;

	put(B, XBT_NULL, "/tree/old/leaf", "x");
	t = start(A);
	CHECK(xs_mkdir(A, t, "/tree/new/sub"));
	CHECK(xs_rm(A, t, "/tree/old"));
	CHECK(xs_set_permissions(A, t, "/tree/new", &p, 1));
	l = xs_directory(A, t, "/tree", &n);
	CHECK(l && n == 1 && strcmp(l[0], "new") == 0);
	free(l);
	got = xs_get_permissions(A, t, "/tree/new", &n);
	CHECK(got && n == 1 && got[0].perms == XS_PERM_READ);
	free(got);
	/* Outside, nothing changed yet. */
	expect(B, XBT_NULL, "/tree/old/leaf", "x");
	CHECK(xs_transaction_end(A, t, false));
	expect(B, XBT_NULL, "/tree/old/leaf", NULL);
	expect(B, XBT_NULL, "/tree/new/sub", "");
	{
		char *r = xs_control_command(B, "check", NULL, 0);

		CHECK_STR(r, "OK");
		free(r);
	}
}

static void case_watch_on_commit(void)
{
	xs_transaction_t t;
	char path[64];

	CHECK(xs_watch(B, "/w", "tok"));
	CHECK(xstest_event(B, 5000, path, sizeof(path), NULL, 0)); /* initial */
	t = start(A);
	put(A, t, "/w/x", "1");
	CHECK(xstest_no_event(B, 200));
	CHECK(xs_transaction_end(A, t, false));
	CHECK(xstest_event(B, 5000, path, sizeof(path), NULL, 0));
	CHECK_STR(path, "/w/x");
	/* An aborted transaction fires nothing. */
	t = start(A);
	put(A, t, "/w/y", "1");
	CHECK(xs_transaction_end(A, t, true));
	CHECK(xstest_no_event(B, 200));
	/* Neither does a failed one. */
	t = start(A);
	expect(A, t, "/w/x", "1");
	put(B, XBT_NULL, "/w/x", "2");
	CHECK(xstest_event(B, 5000, path, sizeof(path), NULL, 0));
	put(A, t, "/w/z", "1");
	CHECK_ERRNO(xs_transaction_end(A, t, false), EAGAIN);
	CHECK(xstest_no_event(B, 200));
}

static void case_bad_ids(void)
{
	int fd = xstest_raw(&T, 0);
	char buf[64], id[16];
	uint32_t tx;

	/* Unknown transaction id: ENOENT. */
	xstest_send(fd, XS_READ, 1, 4242, "/tool", 6);
	CHECK_INT(xstest_recv(fd, NULL, buf, sizeof(buf), NULL, 5000), ==, XS_ERROR);
	CHECK_STR(buf, "ENOENT");
	/* Start, then start again inside it: EBUSY (no nesting). */
	xstest_send(fd, XS_TRANSACTION_START, 2, 0, "", 1);
	CHECK_INT(xstest_recv(fd, NULL, id, sizeof(id), NULL, 5000), ==,
	          XS_TRANSACTION_START);
	tx = (uint32_t)strtoul(id, NULL, 10);
	CHECK(tx != 0);
	xstest_send(fd, XS_TRANSACTION_START, 3, tx, "", 1);
	CHECK_INT(xstest_recv(fd, NULL, buf, sizeof(buf), NULL, 5000), ==, XS_ERROR);
	CHECK_STR(buf, "EBUSY");
	/* Ending with tx_id 0: ENOENT. */
	xstest_send(fd, XS_TRANSACTION_END, 4, 0, "T", 2);
	CHECK_INT(xstest_recv(fd, NULL, buf, sizeof(buf), NULL, 5000), ==, XS_ERROR);
	CHECK_STR(buf, "ENOENT");
	/* Transactions belong to their connection. */
	{
		int other = xstest_raw(&T, 0);

		xstest_send(other, XS_READ, 5, tx, "/tool", 6);
		CHECK_INT(xstest_recv(other, NULL, buf, sizeof(buf), NULL, 5000), ==,
		          XS_ERROR);
		CHECK_STR(buf, "ENOENT");
		close(other);
	}
	xstest_send(fd, XS_TRANSACTION_END, 6, tx, "F", 2);
	CHECK_INT(xstest_recv(fd, NULL, buf, sizeof(buf), NULL, 5000), ==,
	          XS_TRANSACTION_END);
	CHECK_STR(buf, "OK");
	close(fd);
}

static void case_closed_with_open_tx(void)
{
	/* A client leaving with an open transaction: nothing is applied. */
	struct xs_handle *h = xstest_open(&T, 0);
	xs_transaction_t t = start(h);

	put(h, t, "/left", "x");
	xs_close(h);
	expect(B, XBT_NULL, "/left", NULL);
}

static const struct check_case cases[] = {
	{ "isolation-commit", case_isolation_commit },
	{ "abort", case_abort },
	{ "conflict-write", case_conflict_write },
	{ "conflict-read", case_conflict_read },
	{ "conflict-directory", case_conflict_directory },
	{ "conflict-absence", case_conflict_absence },
	{ "conflict-removed", case_conflict_removed },
	{ "no-conflict-disjoint", case_no_conflict_disjoint },
	{ "no-conflict-sees-new", case_no_conflict_sees_new },
	{ "two-transactions", case_two_transactions },
	{ "tree-ops", case_tree_ops },
	{ "watch-on-commit", case_watch_on_commit },
	{ "bad-ids", case_bad_ids },
	{ "closed-with-open-tx", case_closed_with_open_tx },
};

int main(int argc, char **argv)
{
	static const struct xstest_conn conns[] = { { 0, &A }, { 0, &B } };
	static const struct xstest_fixture f = { &T, NULL, 0, conns, 2 };

	return xstest_run_case(argc, argv, cases, CHECK_NCASES(cases), &f);
}
