/* SPDX-License-Identifier: MIT */
/*
 * Quotas of unprivileged domains and the errors they give: small quotas
 * set through struct xss_quota, and the defaults (C xenstored 4.17's).
 * Domain 0 is never limited.  One case per argv[1].
 */
#include <errno.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "xstest.h"

static struct xstest T;
static struct xs_handle *D0, *G;

static const struct xss_quota small = {
	.nodes = 10, .node_size = 200, .watches = 4, .transactions = 2,
	.outstanding = 3, .perms = 3,
};

static bool put(struct xs_handle *h, const char *path, const char *val)
{
	return xs_write(h, XBT_NULL, path, val, (unsigned)strlen(val));
}

static unsigned owned_nodes(void);
static unsigned usage(const char *what);

static bool put_tx(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	return xs_write(h, t, path, "x", 1);
}

static void make_home(void)
{
	struct xs_permissions own = { .id = 5, .perms = XS_PERM_NONE };

	CHECK(xs_mkdir(D0, XBT_NULL, "/local/domain/5"));
	CHECK(xs_set_permissions(D0, XBT_NULL, "/local/domain/5", &own, 1));
}

static void start(const struct xss_quota *q)
{
	static const unsigned doms[] = { 5, 6 };

	xstest_start(&T, q, doms, 2);
	D0 = xstest_open(&T, 0);
	G = xstest_open(&T, 5);
	make_home();
}

static void stop(void)
{
	char *r = xs_control_command(D0, "check", NULL, 0);

	CHECK_STR(r, "OK");
	free(r);
	xs_close(G);
	xs_close(D0);
	xstest_stop(&T);
}

static void case_nodes(void)
{
	char path[32];

	start(&small);
	/* The home directory counts: 9 more nodes fit. */
	for (int i = 0; i < 9; i++) {
		snprintf(path, sizeof(path), "n%d", i);
		CHECK(put(G, path, "x"));
	}
	CHECK_ERRNO(put(G, "one-more", "x"), ENOSPC);
	CHECK_ERRNO(xs_mkdir(G, XBT_NULL, "one-more"), ENOSPC);
	/* Overwriting existing nodes is fine. */
	CHECK(put(G, "n0", "y"));
	/* Free two, then a write needing two new nodes fits, three not. */
	CHECK(xs_rm(G, XBT_NULL, "n0"));
	CHECK(xs_rm(G, XBT_NULL, "n1"));
	CHECK_ERRNO(put(G, "a/b/c", "x"), ENOSPC);
	CHECK_ERRNO(xs_read(G, XBT_NULL, "a", NULL), ENOENT); /* nothing left */
	CHECK(put(G, "a/b", "x"));
	/* Domain 0 is not limited, even creating nodes the guest owns. */
	for (int i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "/local/domain/5/d%d", i);
		CHECK(put(D0, path, "x"));
	}
	stop();
}

static void case_nodes_in_transaction(void)
{
	xs_transaction_t t;
	char path[32];

	start(&small);
	t = xs_transaction_start(G);
	CHECK(t != XBT_NULL);
	for (int i = 0; i < 9; i++) {
		snprintf(path, sizeof(path), "n%d", i);
		CHECK(xs_write(G, t, path, "x", 1));
	}
	CHECK_ERRNO(xs_write(G, t, "more", "x", 1), ENOSPC);
	CHECK(xs_transaction_end(G, t, false));
	CHECK_ERRNO(put(G, "more", "x"), ENOSPC);
	stop();
}

static void case_node_size(void)
{
	/* Size as C xenstored counts it: 24-byte record header, 8 bytes per
	 * permission, the value and the child names; limit "node-size". */
	char val[256];

	start(&small);
	memset(val, 'v', sizeof(val));
	CHECK(xs_write(G, XBT_NULL, "v", val, 200 - 24 - 8 - 1));
	CHECK_ERRNO(xs_write(G, XBT_NULL, "v", val, 200 - 24 - 8), ENOSPC);
	CHECK_ERRNO(xs_write(G, XBT_NULL, "w", val, 200), ENOSPC);
	/* Domain 0 writes what it likes. */
	CHECK(xs_write(D0, XBT_NULL, "/local/domain/5/v", val, sizeof(val)));
	/* More permissions make the node bigger. */
	CHECK(xs_write(G, XBT_NULL, "p", val, 200 - 24 - 8 - 1));
	{
		struct xs_permissions p[2] = { { .id = 5 }, { .id = 0 } };

		CHECK_ERRNO(xs_set_permissions(G, XBT_NULL, "p", p, 2), ENOSPC);
	}
	stop();
}

static void case_node_size_children(void)
{
	/* A directory's child list counts toward its size. */
	char name[64];
	int i;

	start(&(struct xss_quota){ .nodes = 1000, .node_size = 200 });
	CHECK(xs_mkdir(G, XBT_NULL, "dir"));
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "dir/child-%02d", i);
		if (!put(G, name, ""))
			break;
	}
	CHECK_INT(errno, ==, ENOSPC);
	/* 24 + 8 + n * strlen("child-NN\0") < 200 */
	CHECK_INT(i, ==, (200 - 24 - 8 - 1) / 9);
	stop();
}

static void case_watches(void)
{
	struct xs_handle *g2;
	char tok[16];

	start(&small);
	g2 = xstest_open(&T, 5);
	for (int i = 0; i < 3; i++) {
		snprintf(tok, sizeof(tok), "t%d", i);
		CHECK(xs_watch(G, "/x", tok));
	}
	/* Counted per domain, over its connections. */
	CHECK(xs_watch(g2, "/x", "other"));
	CHECK_ERRNO(xs_watch(G, "/x", "t9"), E2BIG);
	CHECK_ERRNO(xs_watch(g2, "/x", "t9"), E2BIG);
	CHECK(xs_unwatch(G, "/x", "t0"));
	CHECK(xs_watch(g2, "/x", "t9"));
	/* A closed connection gives its watches back. */
	xs_close(g2);
	CHECK(xs_watch(G, "/x", "a"));
	/* Domain 0: no limit. */
	for (int i = 0; i < 300; i++) {
		snprintf(tok, sizeof(tok), "d%d", i);
		CHECK(xs_watch(D0, "/x", tok));
	}
	stop();
}

static void case_transactions(void)
{
	struct xs_handle *g2;
	xs_transaction_t t1, t2;

	start(&small);
	t1 = xs_transaction_start(G);
	t2 = xs_transaction_start(G);
	CHECK(t1 != XBT_NULL && t2 != XBT_NULL);
	CHECK_ERRNO(xs_transaction_start(G) != XBT_NULL, ENOSPC);
	/* Per connection. */
	g2 = xstest_open(&T, 5);
	CHECK(xs_transaction_start(g2) != XBT_NULL);
	xs_close(g2);
	CHECK(xs_transaction_end(G, t1, true));
	CHECK(xs_transaction_start(G) != XBT_NULL);
	for (int i = 0; i < 20; i++)
		CHECK(xs_transaction_start(D0) != XBT_NULL);
	stop();
}

static void case_perms(void)
{
	struct xs_permissions p[6] = {
		{ .id = 5 }, { .id = 0, .perms = XS_PERM_READ }, { .id = 1 },
		{ .id = 2 }, { .id = 3 }, { .id = 4 },
	};

	start(&small);
	CHECK(put(G, "node", ""));
	CHECK(xs_set_permissions(G, XBT_NULL, "node", p, 3));
	CHECK_ERRNO(xs_set_permissions(G, XBT_NULL, "node", p, 4), ENOSPC);
	CHECK(xs_set_permissions(D0, XBT_NULL, "/local/domain/5/node", p, 6));
	stop();
}

/* A number from CONTROL "quota 5" (domain 5's usage). */
static unsigned usage(const char *what)
{
	char *r = xs_control_command(D0, "quota", "5", 2);
	char key[64];
	const char *o;
	unsigned n;

	CHECK(r != NULL);
	snprintf(key, sizeof(key), "%s ", what);
	o = strstr(r, key);
	CHECK(o && sscanf(o + strlen(key), "%u", &n) == 1);
	free(r);
	return n;
}

static unsigned outstanding(void)
{
	return usage("outstanding");
}

static unsigned owned_nodes(void)
{
	return usage("nodes");
}

static void case_outstanding(void)
{
	/* A guest that sends but never reads: the server stops reading it
	 * once "outstanding" replies are queued; nobody else is affected;
	 * nothing is lost once the guest reads again. */
	int fd;
	const unsigned n = 400;
	char buf[64];
	uint32_t id;
	unsigned got;

	start(&small);
	fd = xstest_raw(&T, 5);
	/* One send: the server stops reading, so many small sends would
	 * block this process on its own socket buffer. */
	{
		const size_t one = sizeof(struct xsd_sockmsg) + 2;
		char *reqs = calloc(n, one);

		CHECK(reqs);
		for (unsigned i = 0; i < n; i++) {
			struct xsd_sockmsg h = {
				.type = XS_GET_DOMAIN_PATH, .req_id = i, .len = 2,
			};

			memcpy(reqs + i * one, &h, sizeof(h));
			memcpy(reqs + i * one + sizeof(h), "5", 2);
		}
		CHECK(send(fd, reqs, n * one, 0) == (ssize_t)(n * one));
		free(reqs);
	}
	for (int tries = 0; outstanding() < small.outstanding && tries < 500; tries++)
		usleep(10000);
	CHECK_INT(outstanding(), ==, small.outstanding);
	usleep(100000);
	CHECK_INT(outstanding(), ==, small.outstanding); /* and no more */
	CHECK(put(D0, "/still/served", "yes"));
	for (got = 0; got < n; got++) {
		CHECK_INT(xstest_recv(fd, &id, buf, sizeof(buf), NULL, 5000), ==,
		          XS_GET_DOMAIN_PATH);
		CHECK_INT(id, ==, got);
		CHECK_STR(buf, "/local/domain/5");
	}
	close(fd);
	stop();
}

static void case_transaction_nodes(void)
{
	/* One transaction of a guest may touch 1024 nodes. */
	struct xs_permissions pub = { .id = 0, .perms = XS_PERM_READ };
	xs_transaction_t t;
	char path[32];
	int i;

	start(NULL);
	CHECK(xs_mkdir(D0, XBT_NULL, "/pub"));
	CHECK(xs_set_permissions(D0, XBT_NULL, "/pub", &pub, 1));
	for (i = 0; i < 1100; i++) {
		snprintf(path, sizeof(path), "/pub/%d", i);
		CHECK(put(D0, path, "x"));
	}
	t = xs_transaction_start(G);
	CHECK(t != XBT_NULL);
	for (i = 0; i < 1100; i++) {
		char *v;

		snprintf(path, sizeof(path), "/pub/%d", i);
		v = xs_read(G, t, path, NULL);
		if (!v)
			break;
		free(v);
	}
	CHECK_INT(errno, ==, ENOSPC);
	CHECK_INT(i, ==, 1024);
	CHECK(xs_transaction_end(G, t, true));
	/* Writes count every node they touch: the parent that gains a child
	 * and each node created. */
	t = xs_transaction_start(G);
	CHECK(t != XBT_NULL);
	for (i = 0; i < 1020; i++) {
		char *v;

		snprintf(path, sizeof(path), "/pub/%d", i);
		v = xs_read(G, t, path, NULL);
		CHECK(v != NULL);
		free(v);
	}
	CHECK(xs_write(G, t, "a/b/c", "x", 1));  /* 1020 + 4 = 1024 */
	CHECK_ERRNO(xs_write(G, t, "d", "x", 1), ENOSPC);
	CHECK(xs_write(G, t, "a/b/c", "y", 1));  /* already touched */
	CHECK(xs_transaction_end(G, t, false));
	stop();
}

static void case_defaults(void)
{
	/* C xenstored 4.17's numbers. */
	struct xs_permissions p[6] = { { .id = 5 } };
	char path[32], val[2048];
	int i;

	start(NULL);
	/* nodes 1000 (the home directory is one of them); spread over
	 * directories so no child list reaches the node-size quota. */
	for (i = 0; i < 2000; i++) {
		snprintf(path, sizeof(path), "d%d/n%d", i / 30, i % 30);
		if (!put(G, path, ""))
			break;
	}
	CHECK_INT(errno, ==, ENOSPC);
	/* The last write may have needed two nodes: fill up one by one. */
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "d0/extra%d", i);
		if (!put(G, path, ""))
			break;
	}
	CHECK_INT(errno, ==, ENOSPC);
	CHECK_INT(owned_nodes(), ==, 1000);
	for (i = 0; i < 40; i++) {
		snprintf(path, sizeof(path), "d%d", i);
		CHECK(xs_rm(G, XBT_NULL, path));
	}
	CHECK_INT(owned_nodes(), ==, 1);
	/* node-size 2048: 24 + 8 + 2015 < 2048 */
	memset(val, 'v', sizeof(val));
	CHECK(xs_write(G, XBT_NULL, "v", val, 2015));
	CHECK_ERRNO(xs_write(G, XBT_NULL, "v", val, 2016), ENOSPC);
	/* permissions 5 */
	CHECK(xs_write(G, XBT_NULL, "small", "x", 1));
	CHECK(xs_set_permissions(G, XBT_NULL, "small", p, 5));
	CHECK_ERRNO(xs_set_permissions(G, XBT_NULL, "small", p, 6), ENOSPC);
	/* watches 128 */
	for (i = 0; i < 129; i++) {
		snprintf(path, sizeof(path), "w%d", i);
		if (!xs_watch(G, "/x", path))
			break;
	}
	CHECK_INT(errno, ==, E2BIG);
	CHECK_INT(i, ==, 128);
	/* transactions 10 */
	for (i = 0; i < 11; i++)
		if (xs_transaction_start(G) == XBT_NULL)
			break;
	CHECK_INT(errno, ==, ENOSPC);
	CHECK_INT(i, ==, 10);
	stop();
}

static void case_nodes_parallel_transactions(void)
{
	/* Each transaction fits the quota alone, not together: the commit
	 * that would take the domain over fails with ENOSPC, applying
	 * nothing. */
	xs_transaction_t t1, t2, t3;
	char path[32], **dir;
	unsigned n;

	start(&(struct xss_quota){ .nodes = 100 });
	CHECK(xs_mkdir(G, XBT_NULL, "a"));
	CHECK(xs_mkdir(G, XBT_NULL, "b"));
	CHECK_INT(owned_nodes(), ==, 3);
	t1 = xs_transaction_start(G);
	t2 = xs_transaction_start(G);
	CHECK(t1 != XBT_NULL && t2 != XBT_NULL);
	for (int i = 0; i < 60; i++) {
		snprintf(path, sizeof(path), "a/%d", i);
		CHECK(put_tx(G, t1, path));
		snprintf(path, sizeof(path), "b/%d", i);
		CHECK(put_tx(G, t2, path));
	}
	CHECK(xs_transaction_end(G, t1, false));
	CHECK_INT(owned_nodes(), ==, 63);
	CHECK_ERRNO(xs_transaction_end(G, t2, false), ENOSPC);
	CHECK_INT(owned_nodes(), ==, 63);
	dir = xs_directory(D0, XBT_NULL, "/local/domain/5/b", &n);
	CHECK(dir != NULL);
	CHECK_INT(n, ==, 0);
	free(dir);
	CHECK_ERRNO(xs_read(D0, XBT_NULL, "/local/domain/5/b/0", NULL) != NULL,
	            ENOENT);
	/* What still fits commits. */
	t3 = xs_transaction_start(G);
	CHECK(t3 != XBT_NULL);
	for (int i = 0; i < 37; i++) {
		snprintf(path, sizeof(path), "b/%d", i);
		CHECK(put_tx(G, t3, path));
	}
	CHECK(xs_transaction_end(G, t3, false));
	CHECK_INT(owned_nodes(), ==, 100);
	stop();
}

static void case_transaction_events_merged(void)
{
	/* 10000 SET_PERMS of one node in one transaction queue one event
	 * (CONTROL "quota 5": transaction-events), and the commit sends
	 * each watcher exactly one.  The event carries the permissions the
	 * node had before the transaction, so guest 6, which could read the
	 * node then and cannot now, hears of it. */
	struct xs_permissions readable[2] = {
		{ .id = 5, .perms = XS_PERM_NONE }, { .id = 6, .perms = XS_PERM_READ },
	};
	struct xs_permissions closed = { .id = 5, .perms = XS_PERM_NONE };
	const char *node = "/local/domain/5/node";
	struct xs_handle *g6;
	xs_transaction_t t;
	char ev[256];

	start(NULL);
	g6 = xstest_open(&T, 6);
	CHECK(put(G, "node", "v"));
	CHECK(xs_set_permissions(G, XBT_NULL, "node", readable, 2));
	CHECK(xs_watch(D0, node, "d0"));
	CHECK(xstest_event(D0, 5000, NULL, 0, NULL, 0));
	CHECK(xs_watch(g6, node, "g6"));
	CHECK(xstest_event(g6, 5000, NULL, 0, NULL, 0));
	t = xs_transaction_start(G);
	CHECK(t != XBT_NULL);
	CHECK(xs_write(G, t, "node", "w", 1)); /* an event without perms */
	for (int i = 0; i < 10000; i++)
		CHECK(xs_set_permissions(G, t, "node", &closed, 1));
	CHECK_INT(usage("transaction-events"), ==, 1);
	CHECK(xstest_no_event(D0, 50));
	CHECK(xs_transaction_end(G, t, false));
	CHECK(xstest_event(D0, 5000, ev, sizeof(ev), NULL, 0));
	CHECK_STR(ev, node);
	CHECK(xstest_event(g6, 5000, ev, sizeof(ev), NULL, 0));
	CHECK_STR(ev, node);
	CHECK(xstest_no_event(D0, 100));
	CHECK(xstest_no_event(g6, 100));
	/* Without the transaction's first permissions guest 6 would not
	 * have heard: it cannot read the node any more. */
	CHECK_ERRNO(xs_read(g6, XBT_NULL, node, NULL) != NULL, EACCES);
	CHECK_INT(usage("transaction-events"), ==, 0);
	xs_close(g6);
	stop();
}

static const struct check_case cases[] = {
	{ "nodes", case_nodes },
	{ "nodes-in-transaction", case_nodes_in_transaction },
	{ "node-size", case_node_size },
	{ "node-size-children", case_node_size_children },
	{ "watches", case_watches },
	{ "transactions", case_transactions },
	{ "perms", case_perms },
	{ "outstanding", case_outstanding },
	{ "transaction-nodes", case_transaction_nodes },
	{ "defaults", case_defaults },
	{ "nodes-parallel-transactions", case_nodes_parallel_transactions },
	{ "transaction-events-merged", case_transaction_events_merged },
};

int main(int argc, char **argv)
{
	/* Each case starts its own server: the quotas differ. */
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
