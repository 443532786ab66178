/* SPDX-License-Identifier: MIT */
/*
 * What one request costs the server, counted rather than timed: CONTROL
 * "stats" reports key-bytes, the bytes of path the store's maps hashed or
 * compared.  Requests about deep paths must cost about the length of the
 * paths involved, not the square of their depth: a request hashes or
 * compares its path a few times (LINEAR bounds it), where a walk up a
 * 1500-level path hashing every prefix costs about 750 times the path.
 * One case per argv[1].
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "xstest.h"

static struct xstest T;
static struct xs_handle *D0, *G, *G6;

/* Levels of "/x" below a prefix: the longest valid path is 3072 bytes. */
#define DEEP 1500
/* Passes over its path one request may make. */
#define LINEAR 16

static void start(void)
{
	static const unsigned doms[] = { 5, 6 };
	struct xs_permissions own = { .id = 5, .perms = XS_PERM_NONE };

	xstest_start(&T, NULL, doms, 2);
	D0 = xstest_open(&T, 0);
	G = xstest_open(&T, 5);
	G6 = xstest_open(&T, 6);
	CHECK(xs_mkdir(D0, XBT_NULL, "/local/domain/5"));
	CHECK(xs_set_permissions(D0, XBT_NULL, "/local/domain/5", &own, 1));
}

static void stop(void)
{
	char *r = xs_control_command(D0, "check", NULL, 0);

	CHECK_STR(r, "OK");
	free(r);
	xs_close(G6);
	xs_close(G);
	xs_close(D0);
	xstest_stop(&T);
}

static unsigned long long key_bytes(void)
{
	return xstest_control_num(D0, "stats", NULL, "key-bytes");
}

/* prefix + "/x" * levels + suffix, malloc'ed. */
static char *deep_path(const char *prefix, unsigned levels, const char *suffix)
{
	size_t lp = strlen(prefix), ls = strlen(suffix);
	char *p = malloc(lp + 2 * levels + ls + 1);

	CHECK(p != NULL);
	memcpy(p, prefix, lp);
	for (unsigned i = 0; i < levels; i++)
		memcpy(p + lp + 2 * i, "/x", 2);
	memcpy(p + lp + 2 * levels, suffix, ls + 1);
	return p;
}

static void case_remove_under_deep_watches(void)
{
	/* 128 watches (the quota) 1500 levels below data/a: removing
	 * data/a reports each watched path, and deciding whether the guest
	 * may see it is about data/a, not about each watched path. */
	char *paths[128], tok[16], ev[4096];
	unsigned long long sum = 0, before, cost;

	start();
	for (int i = 0; i < 128; i++) {
		char suffix[16];

		snprintf(suffix, sizeof(suffix), "/w%d", i);
		paths[i] = deep_path("/local/domain/5/data/a", DEEP - 4, suffix);
		CHECK(strlen(paths[i]) <= XENSTORE_ABS_PATH_MAX);
		sum += strlen(paths[i]);
		snprintf(tok, sizeof(tok), "t%d", i);
		CHECK(xs_watch(G, paths[i], tok));
		CHECK(xstest_event(G, 5000, ev, sizeof(ev), NULL, 0));
	}
	for (int round = 0; round < 3; round++) {
		CHECK(xs_write(G, XBT_NULL, "data/a", "", 0));
		before = key_bytes();
		CHECK(xs_rm(G, XBT_NULL, "data/a"));
		cost = key_bytes() - before;
		/* Linear: a fraction of the bytes the watches hold (the old
		 * check walked every watched path up, level by level: about
		 * 128 * 1500 * 1500 bytes). */
		if (cost > sum / 4)
			CHECK_FAIL("removal hashed %llu bytes (watches hold %llu)",
			           cost, sum);
		/* Each watch still fires, once, with its own path (the
		 * write above them fired none). */
		for (int i = 0; i < 128; i++) {
			CHECK(xstest_event(G, 5000, ev, sizeof(ev), NULL, 0));
			CHECK_STR(ev, paths[i]);
		}
		CHECK(xstest_no_event(G, 100));
	}
	for (int i = 0; i < 128; i++)
		free(paths[i]);
	stop();
}

/* The cost of one READ of `path` by h, which must fail with `err`. */
static unsigned long long read_cost(struct xs_handle *h, const char *path,
                                    int err)
{
	unsigned long long before = key_bytes();

	CHECK_ERRNO(xs_read(h, XBT_NULL, path, NULL) != NULL, err);
	return key_bytes() - before;
}

static void case_read_deep_missing(void)
{
	/* A guest reading a missing path 1500 levels deep: the search for
	 * the nearest existing ancestor hashes the path once. */
	char *own = deep_path("/local/domain/5", DEEP, "");
	char *other = deep_path("/local/domain/0", DEEP, "");
	unsigned long long c1, c2, c3;

	start();
	c1 = read_cost(G, own, ENOENT);      /* its home: readable */
	c2 = read_cost(G, other, EACCES);    /* domain 0's: not readable */
	c3 = read_cost(G, "/local/domain/5/short", ENOENT);
	if (c1 > LINEAR * strlen(own) || c2 > LINEAR * strlen(other))
		CHECK_FAIL("deep reads hashed %llu and %llu bytes (path %zu)",
		           c1, c2, strlen(own));
	/* And about as much per byte as a short read. */
	CHECK(c3 > 0);
	CHECK(c1 / strlen(own) <= 2 * (c3 / strlen("/local/domain/5/short") + 1));
	free(own);
	free(other);
	stop();
}

static void case_read_deep_existing(void)
{
	/* A chain of 900 nodes exists (the guest's own, within its quota);
	 * another guest reading below it gets EACCES, and finding the
	 * nearest existing ancestor is still linear. */
	char *chain = deep_path("/local/domain/5", 900, "");
	char *below = deep_path("/local/domain/5", 900, "/y/z");
	unsigned long long c;

	start();
	CHECK(xs_write(G, XBT_NULL, chain, "v", 1));
	c = read_cost(G6, below, EACCES);
	if (c > LINEAR * strlen(below))
		CHECK_FAIL("read below a deep chain hashed %llu bytes (path %zu)",
		           c, strlen(below));
	c = read_cost(G6, chain, EACCES);
	if (c > LINEAR * strlen(chain))
		CHECK_FAIL("read of a deep node hashed %llu bytes (path %zu)", c,
		           strlen(chain));
	free(chain);
	free(below);
	stop();
}

static void case_write_deep_over_quota(void)
{
	/* A write needing more nodes than the quota allows fails before
	 * the server builds the list of nodes to create. */
	char *p = deep_path("/local/domain/5", DEEP, "");
	unsigned long long before;

	start();
	before = key_bytes();
	CHECK_ERRNO(xs_write(G, XBT_NULL, p, "v", 1), ENOSPC);
	if (key_bytes() - before > LINEAR * strlen(p))
		CHECK_FAIL("refused deep write hashed %llu bytes (path %zu)",
		           key_bytes() - before, strlen(p));
	free(p);
	stop();
}

static const struct check_case cases[] = {
	{ "remove-under-deep-watches", case_remove_under_deep_watches },
	{ "read-deep-missing", case_read_deep_missing },
	{ "read-deep-existing", case_read_deep_existing },
	{ "write-deep-over-quota", case_write_deep_over_quota },
};

int main(int argc, char **argv)
{
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
