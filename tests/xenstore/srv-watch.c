/* SPDX-License-Identifier: MIT */
/*
 * Watches through libxenstore and raw sockets: the first event, subtrees,
 * removals, depth, relative paths, tokens, special watches and the
 * permission filter.  One case per argv[1].
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "xstest.h"

static struct xstest T;
static struct xs_handle *D0, *W;

static void put(struct xs_handle *h, const char *path, const char *val)
{
	CHECK(xs_write(h, XBT_NULL, path, val, (unsigned)strlen(val)));
}

static void expect_event(struct xs_handle *h, const char *path, const char *token)
{
	char p[512], t[128];

	if (!xstest_event(h, 5000, p, sizeof(p), t, sizeof(t)))
		CHECK_FAIL("no event (expected %s %s)", path, token);
	if (strcmp(p, path) != 0 || strcmp(t, token) != 0)
		CHECK_FAIL("event %s %s, expected %s %s", p, t, path, token);
}

static void watch(struct xs_handle *h, const char *path, const char *token)
{
	CHECK(xs_watch(h, path, token));
	expect_event(h, path, token); /* fired once at registration */
}

static void set_perms(struct xs_handle *h, const char *path,
                      struct xs_permissions *p, unsigned n)
{
	CHECK(xs_set_permissions(h, XBT_NULL, path, p, n));
}

/* Raw watch with a depth; returns the socket, initial event consumed. */
static int raw_watch(unsigned domid, const char *path, const char *token,
                     const char *depth)
{
	int fd = xstest_raw(&T, domid);
	char req[256], buf[256];
	size_t len = (size_t)snprintf(req, sizeof(req), "%s%c%s%c%s", path, 0,
	                              token, 0, depth) + 1;

	xstest_send(fd, XS_WATCH, 1, 0, req, len);
	CHECK_INT(xstest_recv(fd, NULL, buf, sizeof(buf), NULL, 5000), ==, XS_WATCH);
	CHECK_INT(xstest_recv(fd, NULL, buf, sizeof(buf), NULL, 5000), ==,
	          XS_WATCH_EVENT);
	CHECK_STR(buf, path);
	return fd;
}

static void raw_expect(int fd, const char *path)
{
	char buf[256];

	if (xstest_recv(fd, NULL, buf, sizeof(buf), NULL, 5000) != XS_WATCH_EVENT)
		CHECK_FAIL("no raw event (expected %s)", path);
	CHECK_STR(buf, path);
}

static void raw_none(int fd)
{
	char buf[256];

	if (xstest_recv(fd, NULL, buf, sizeof(buf), NULL, 200) != -1)
		CHECK_FAIL("unexpected raw event %s", buf);
}

static void case_first_event(void)
{
	CHECK(xs_watch(W, "/nonexistent/path", "tok1"));
	expect_event(W, "/nonexistent/path", "tok1");
	CHECK(xstest_no_event(W, 200));
}

static void case_subtree(void)
{
	watch(W, "/w", "t");
	put(D0, "/w/a/b", "1");
	expect_event(W, "/w/a/b", "t");
	put(D0, "/w", "v");
	expect_event(W, "/w", "t");
	CHECK(xs_mkdir(D0, XBT_NULL, "/w/m"));
	expect_event(W, "/w/m", "t");
	put(D0, "/wx", "not below /w");
	put(D0, "/x", "elsewhere");
	CHECK(xstest_no_event(W, 200));
	/* MKDIR of an existing node changes nothing: no event. */
	CHECK(xs_mkdir(D0, XBT_NULL, "/w/m"));
	CHECK(xstest_no_event(W, 200));
}

static void case_above_does_not_fire(void)
{
	watch(W, "/w/a", "t");
	put(D0, "/w", "x");
	put(D0, "/w/b", "x");
	CHECK(xstest_no_event(W, 200));
}

static void case_remove_parent(void)
{
	put(D0, "/w/a/b", "1");
	watch(W, "/w/a/b", "exists");
	watch(W, "/w/a/never", "missing");
	watch(W, "/w", "top");
	watch(W, "/", "root");
	CHECK(xs_rm(D0, XBT_NULL, "/w/a"));
	/* Watches at or above the removed node see its path; watches below
	 * see their own path. */
	{
		bool seen[4] = { false };
		char p[256], t[64];

		for (int i = 0; i < 4; i++) {
			CHECK(xstest_event(W, 5000, p, sizeof(p), t, sizeof(t)));
			if (!strcmp(t, "exists") && !strcmp(p, "/w/a/b"))
				seen[0] = true;
			else if (!strcmp(t, "missing") && !strcmp(p, "/w/a/never"))
				seen[1] = true;
			else if (!strcmp(t, "top") && !strcmp(p, "/w/a"))
				seen[2] = true;
			else if (!strcmp(t, "root") && !strcmp(p, "/w/a"))
				seen[3] = true;
			else
				CHECK_FAIL("unexpected event %s %s", p, t);
		}
		CHECK(seen[0] && seen[1] && seen[2] && seen[3]);
	}
	CHECK(xstest_no_event(W, 200));
}

static void case_depth(void)
{
	int d0 = raw_watch(0, "/w", "t0", "0");
	int d1 = raw_watch(0, "/w", "t1", "1");

	put(D0, "/w/a/b", "x");   /* 2 levels below */
	raw_none(d0);
	raw_none(d1);
	put(D0, "/w/a", "x");     /* 1 level below */
	raw_expect(d1, "/w/a");
	raw_none(d0);
	put(D0, "/w", "x");
	raw_expect(d0, "/w");
	raw_expect(d1, "/w");
	close(d0);
	close(d1);
}

static void case_relative(void)
{
	struct xs_handle *g = xstest_open(&T, 5);
	struct xs_permissions own = { .id = 5, .perms = XS_PERM_NONE };

	CHECK(xs_mkdir(D0, XBT_NULL, "/local/domain/5"));
	set_perms(D0, "/local/domain/5", &own, 1);
	watch(g, "data", "rel");
	watch(g, "/local/domain/5/data", "abs");
	put(g, "data/x", "1");
	{
		bool rel = false, abs = false;
		char p[256], t[64];

		for (int i = 0; i < 2; i++) {
			CHECK(xstest_event(g, 5000, p, sizeof(p), t, sizeof(t)));
			if (!strcmp(t, "rel") && !strcmp(p, "data/x"))
				rel = true;
			else if (!strcmp(t, "abs") && !strcmp(p, "/local/domain/5/data/x"))
				abs = true;
			else
				CHECK_FAIL("unexpected event %s %s", p, t);
		}
		CHECK(rel && abs);
	}
	CHECK(xs_unwatch(g, "/local/domain/5/data", "abs"));
	/* Removal of the parent reports the watched path, relative. */
	CHECK(xs_rm(D0, XBT_NULL, "/local/domain/5"));
	expect_event(g, "data", "rel");
	/* Unwatch accepts the relative form too. */
	CHECK(xs_unwatch(g, "data", "rel"));
	xs_close(g);
}

static void case_tokens(void)
{
	watch(W, "/w", "one");
	watch(W, "/w", "two");
	CHECK_ERRNO(xs_watch(W, "/w", "one"), EEXIST);
	put(D0, "/w", "x");
	{
		bool one = false, two = false;
		char t[64];

		for (int i = 0; i < 2; i++) {
			CHECK(xstest_event(W, 5000, NULL, 0, t, sizeof(t)));
			one |= !strcmp(t, "one");
			two |= !strcmp(t, "two");
		}
		CHECK(one && two);
	}
	CHECK(xs_unwatch(W, "/w", "one"));
	CHECK_ERRNO(xs_unwatch(W, "/w", "one"), ENOENT);
	put(D0, "/w", "y");
	expect_event(W, "/w", "two");
	CHECK(xstest_no_event(W, 200));
}

static void case_invalid_watch(void)
{
	CHECK_ERRNO(xs_watch(W, "/bad//path", "t"), EINVAL);
	CHECK_ERRNO(xs_watch(W, "/bad/", "t"), EINVAL);
	{
		/* Depth other than 0/1 on a special watch is not supported. */
		int fd = xstest_raw(&T, 0);
		char buf[64];

		xstest_send(fd, XS_WATCH, 1, 0, "@releaseDomain\0t\0002", 19);
		CHECK_INT(xstest_recv(fd, NULL, buf, sizeof(buf), NULL, 5000), ==,
		          XS_ERROR);
		CHECK_STR(buf, "EINVAL");
		close(fd);
	}
}

static void case_special(void)
{
	watch(W, "@introduceDomain", "in");
	watch(W, "@releaseDomain", "out");
	CHECK(xs_introduce_domain(D0, 5, 1, 1));
	expect_event(W, "@introduceDomain", "in");
	/* A second introduction is no news. */
	CHECK(xs_introduce_domain(D0, 5, 1, 1));
	CHECK(xstest_no_event(W, 200));
	/* Shutdown fires once until RESUME. */
	CHECK_INT(xstest_cmd(&T, "shutdown 5"), ==, 0);
	expect_event(W, "@releaseDomain", "out");
	CHECK_INT(xstest_cmd(&T, "shutdown 5"), ==, 0);
	CHECK(xstest_no_event(W, 200));
	CHECK(xs_resume_domain(D0, 5));
	CHECK_INT(xstest_cmd(&T, "shutdown 5"), ==, 0);
	expect_event(W, "@releaseDomain", "out");
	/* Destruction and RELEASE fire too. */
	CHECK_INT(xstest_cmd(&T, "destroy 5"), ==, 0);
	expect_event(W, "@releaseDomain", "out");
	CHECK_INT(xstest_cmd(&T, "introduce 7"), ==, 0);
	expect_event(W, "@introduceDomain", "in");
	CHECK(xs_release_domain(D0, 7));
	expect_event(W, "@releaseDomain", "out");
}

static void case_special_depth(void)
{
	int any = raw_watch(0, "@releaseDomain", "d1", "1");
	int only7 = raw_watch(0, "@releaseDomain/7", "only7", "");
	int intro = raw_watch(0, "@introduceDomain", "i1", "1");

	CHECK_INT(xstest_cmd(&T, "introduce 5"), ==, 0);
	raw_expect(intro, "@introduceDomain/5");
	CHECK_INT(xstest_cmd(&T, "destroy 5"), ==, 0);
	raw_expect(any, "@releaseDomain/5");
	raw_none(only7);
	CHECK_INT(xstest_cmd(&T, "destroy 7"), ==, 0);
	raw_expect(any, "@releaseDomain/7");
	raw_expect(only7, "@releaseDomain/7");
	close(any);
	close(only7);
	close(intro);
}

static void case_special_guest(void)
{
	struct xs_handle *g = xstest_open(&T, 5);
	struct xs_permissions p[2] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = 5, .perms = XS_PERM_READ },
	};

	watch(g, "@releaseDomain", "g");
	CHECK_INT(xstest_cmd(&T, "destroy 7"), ==, 0);
	CHECK(xstest_no_event(g, 200));
	set_perms(D0, "@releaseDomain", p, 2);
	CHECK_INT(xstest_cmd(&T, "destroy 3"), ==, 0);
	expect_event(g, "@releaseDomain", "g");
	xs_close(g);
}

static void case_permission_filter(void)
{
	struct xs_handle *g = xstest_open(&T, 5);
	struct xs_permissions none = { .id = 0, .perms = XS_PERM_NONE };
	struct xs_permissions rd[2] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = 5, .perms = XS_PERM_READ },
	};

	put(D0, "/priv/x", "1");
	watch(g, "/priv", "p"); /* the first event is always sent */
	put(D0, "/priv/x", "2");
	CHECK(xstest_no_event(g, 200));
	/* Made readable: the change of permissions itself is reported. */
	set_perms(D0, "/priv/x", rd, 2);
	expect_event(g, "/priv/x", "p");
	put(D0, "/priv/x", "3");
	expect_event(g, "/priv/x", "p");
	/* Losing access is reported too (old permissions count). */
	set_perms(D0, "/priv/x", &none, 1);
	expect_event(g, "/priv/x", "p");
	put(D0, "/priv/x", "4");
	CHECK(xstest_no_event(g, 200));
	xs_close(g);
}

static void case_reset_watches(void)
{
	int fd = raw_watch(0, "/w", "t", "");
	char buf[64];

	xstest_send(fd, XS_RESET_WATCHES, 2, 0, "", 1);
	CHECK_INT(xstest_recv(fd, NULL, buf, sizeof(buf), NULL, 5000), ==,
	          XS_RESET_WATCHES);
	put(D0, "/w", "x");
	raw_none(fd);
	close(fd);
}

static void case_watch_ignores_tx(void)
{
	/* The tx_id of WATCH is ignored, even if it names nothing. */
	int fd = xstest_raw(&T, 0);
	char buf[64];

	xstest_send(fd, XS_WATCH, 1, 999, "/w\0t", 5);
	CHECK_INT(xstest_recv(fd, NULL, buf, sizeof(buf), NULL, 5000), ==, XS_WATCH);
	CHECK_INT(xstest_recv(fd, NULL, buf, sizeof(buf), NULL, 5000), ==,
	          XS_WATCH_EVENT);
	close(fd);
}

static void case_own_write(void)
{
	/* A client sees the events of its own writes. */
	watch(W, "/own", "t");
	put(W, "/own/x", "1");
	expect_event(W, "/own/x", "t");
}

static const struct check_case cases[] = {
	{ "first-event", case_first_event },
	{ "subtree", case_subtree },
	{ "above-does-not-fire", case_above_does_not_fire },
	{ "remove-parent", case_remove_parent },
	{ "depth", case_depth },
	{ "relative", case_relative },
	{ "tokens", case_tokens },
	{ "invalid-watch", case_invalid_watch },
	{ "special", case_special },
	{ "special-depth", case_special_depth },
	{ "special-guest", case_special_guest },
	{ "permission-filter", case_permission_filter },
	{ "reset-watches", case_reset_watches },
	{ "watch-ignores-tx", case_watch_ignores_tx },
	{ "own-write", case_own_write },
};

int main(int argc, char **argv)
{
	static const unsigned doms[] = { 3, 5, 7 };
	static const struct xstest_conn conns[] = { { 0, &D0 }, { 0, &W } };
	static const struct xstest_fixture f = { &T, doms, 3, conns, 2 };

	return xstest_run_case(argc, argv, cases, CHECK_NCASES(cases), &f);
}
