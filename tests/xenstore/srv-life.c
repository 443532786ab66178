/* SPDX-License-Identifier: MIT */
/*
 * Domain lifecycle as the daemon drives it (xss_domain_introduce,
 * _shutdown, _destroyed, xss_write) and the RELEASE request.  One case per
 * argv[1].
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "xstest.h"

static struct xstest T;
static struct xs_handle *D0;

static void put(struct xs_handle *h, const char *path, const char *val)
{
	CHECK(xs_write(h, XBT_NULL, path, val, (unsigned)strlen(val)));
}

static void set_perms(const char *path, unsigned owner, int reader)
{
	struct xs_permissions p[2] = {
		{ .id = owner, .perms = XS_PERM_NONE },
		{ .id = reader < 0 ? 0 : (unsigned)reader, .perms = XS_PERM_READ },
	};

	CHECK(xs_set_permissions(D0, XBT_NULL, path, p, reader < 0 ? 1 : 2));
}

static bool exists(const char *path)
{
	char *v = xs_read(D0, XBT_NULL, path, NULL);

	free(v);
	return v != NULL;
}

static void check_store(void)
{
	char *r = xs_control_command(D0, "check", NULL, 0);

	CHECK_STR(r, "OK");
	free(r);
}

/* The toolstack's part: a home directory owned by the domain. */
static void make_domain(unsigned domid)
{
	char path[64];

	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	CHECK(xs_mkdir(D0, XBT_NULL, path));
	set_perms(path, domid, -1);
	CHECK(xs_introduce_domain(D0, domid, 1, 1));
}

static void case_destroy_removes_owned(void)
{
	struct xs_permissions *p;
	unsigned n;

	make_domain(5);
	put(D0, "/local/domain/5/device/vbd/768/state", "4");
	put(D0, "/vm/guest5/owned", "x");
	set_perms("/vm/guest5", 5, -1);
	put(D0, "/vm/guest5/owned/by0", "x"); /* inherits owner 5 */
	put(D0, "/shared", "x");
	set_perms("/shared", 0, 5);
	CHECK(xs_watch(D0, "/local/domain/5", "home"));
	CHECK(xstest_event(D0, 5000, NULL, 0, NULL, 0));
	CHECK_INT(xstest_cmd(&T, "destroy 5"), ==, 0);
	CHECK(!exists("/local/domain/5"));
	CHECK(!exists("/vm/guest5"));
	CHECK(exists("/vm"));
	CHECK(!xs_is_domain_introduced(D0, 5));
	/* Its permission entries elsewhere are gone (a reused domid must not
	 * inherit them). */
	p = xs_get_permissions(D0, XBT_NULL, "/shared", &n);
	CHECK(p && n == 1 && p[0].id == 0);
	free(p);
	{
		char path[64];

		CHECK(xstest_event(D0, 5000, path, sizeof(path), NULL, 0));
		CHECK_STR(path, "/local/domain/5");
	}
	check_store();
}

static void case_destroy_closes(void)
{
	struct xs_handle *g;
	struct stat st;
	char sock[4096], buf[16];
	int raw;

	make_domain(5);
	g = xstest_open(&T, 5);
	CHECK(xs_watch(g, "/local/domain/5", "w"));
	CHECK(xs_transaction_start(g) != XBT_NULL);
	raw = xstest_raw(&T, 5);
	CHECK_INT(xstest_cmd(&T, "destroy 5"), ==, 0);
	/* The connection is closed: EOF. */
	{
		struct pollfd pf = { .fd = raw, .events = POLLIN };

		CHECK(poll(&pf, 1, 5000) == 1);
		CHECK_INT(recv(raw, buf, sizeof(buf), 0), ==, 0);
	}
	close(raw);
	CHECK(xs_read(g, XBT_NULL, "/local/domain/5", NULL) == NULL);
	xs_close(g);
	/* The listening socket is gone. */
	xstest_sock(&T, 5, sock, sizeof(sock));
	CHECK(stat(sock, &st) < 0 && errno == ENOENT);
	/* Its watch and transaction were dropped with it. */
	check_store();
	{
		char *q = xs_control_command(D0, "quota", "5", 2);

		CHECK(q == NULL && errno == ENOENT); /* domain forgotten */
	}
}

static void case_domid_reuse(void)
{
	struct xs_handle *g;

	put(D0, "/granted", "secret");
	set_perms("/granted", 0, 5);
	CHECK_INT(xstest_cmd(&T, "destroy 5"), ==, 0);
	CHECK_INT(xstest_cmd(&T, "create 5"), ==, 0);
	g = xstest_open(&T, 5);
	CHECK_ERRNO(xs_read(g, XBT_NULL, "/granted", NULL), EACCES);
	xs_close(g);
}

static void case_release(void)
{
	struct xs_handle *g;
	struct xs_handle *again;
	char *v;

	make_domain(5);
	g = xstest_open(&T, 5);
	put(g, "data", "1");
	CHECK(xs_release_domain(D0, 5));
	CHECK(!xs_is_domain_introduced(D0, 5));
	/* Owned nodes removed, connections closed (as C xenstored). */
	CHECK(!exists("/local/domain/5"));
	CHECK(xs_read(g, XBT_NULL, "data", NULL) == NULL);
	xs_close(g);
	/* In the simulator the domain may connect again. */
	again = xstest_open(&T, 5);
	v = xs_get_domain_path(again, 5);
	CHECK_STR(v, "/local/domain/5");
	free(v);
	xs_close(again);
	check_store();
}

static void case_introduce_hook(void)
{
	CHECK(!xs_is_domain_introduced(D0, 7));
	CHECK_INT(xstest_cmd(&T, "introduce 7"), ==, 0);
	CHECK(xs_is_domain_introduced(D0, 7));
}

static void case_xss_write(void)
{
	char *v;

	CHECK(xs_watch(D0, "/from", "w"));
	CHECK(xstest_event(D0, 5000, NULL, 0, NULL, 0));
	CHECK_INT(xstest_cmd(&T, "write /from/daemon hello"), ==, 0);
	v = xs_read(D0, XBT_NULL, "/from/daemon", NULL);
	CHECK_STR(v, "hello");
	free(v);
	{
		char path[64];

		CHECK(xstest_event(D0, 5000, path, sizeof(path), NULL, 0));
		CHECK_STR(path, "/from/daemon");
	}
	CHECK_INT(xstest_cmd(&T, "write relative x"), ==, -EINVAL);
	CHECK_INT(xstest_cmd(&T, "write /bad//path x"), ==, -EINVAL);
}

static const struct check_case cases[] = {
	{ "destroy-removes-owned", case_destroy_removes_owned },
	{ "destroy-closes", case_destroy_closes },
	{ "domid-reuse", case_domid_reuse },
	{ "release", case_release },
	{ "introduce-hook", case_introduce_hook },
	{ "xss-write", case_xss_write },
};

int main(int argc, char **argv)
{
	static const unsigned doms[] = { 5, 7 };
	static const struct xstest_conn conns[] = { { 0, &D0 } };
	static const struct xstest_fixture f = { &T, doms, 2, conns, 1 };

	return xstest_run_case(argc, argv, cases, CHECK_NCASES(cases), &f);
}
