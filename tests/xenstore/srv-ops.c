/* SPDX-License-Identifier: MIT */
/*
 * Every store operation through the real libxenstore, as domain 0, against
 * a private xenstore server.  One case per argv[1].
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "xstest.h"

static struct xstest T;
static struct xs_handle *H;

static void write_str(const char *path, const char *val)
{
	CHECK(xs_write(H, XBT_NULL, path, val, (unsigned)strlen(val)));
}

static void expect_value(const char *path, const char *val)
{
	unsigned len;
	char *v = xs_read(H, XBT_NULL, path, &len);

	CHECK(v != NULL);
	CHECK_INT(len, ==, strlen(val));
	CHECK_STR(v, val);
	free(v);
}

static void expect_children(const char *path, const char *const *names,
                            unsigned n)
{
	unsigned num;
	char **l = xs_directory(H, XBT_NULL, path, &num);

	CHECK(l != NULL);
	CHECK_INT(num, ==, n);
	for (unsigned i = 0; i < n; i++)
		CHECK_STR(l[i], names[i]);
	free(l);
}

static void case_initial_tree(void)
{
	static const char *const root[] = { "local", "tool" };
	static const char *const local[] = { "domain" };

	expect_children("/", root, 2);
	expect_children("/local", local, 1);
	expect_children("/local/domain", NULL, 0);
	expect_value("/tool", "");
}

static void case_read_write(void)
{
	write_str("/a", "hello");
	expect_value("/a", "hello");
	write_str("/a", "");
	expect_value("/a", "");
	/* WRITE creates missing parents with empty values. */
	write_str("/p/q/r", "deep");
	expect_value("/p/q/r", "deep");
	expect_value("/p/q", "");
	CHECK_ERRNO(xs_read(H, XBT_NULL, "/missing", NULL), ENOENT);
}

static void case_binary_value(void)
{
	const char val[] = { 'a', 0, 'b', 0, 0, (char)0xff };
	unsigned len;
	char *v;

	CHECK(xs_write(H, XBT_NULL, "/bin", val, sizeof(val)));
	v = xs_read(H, XBT_NULL, "/bin", &len);
	CHECK(v != NULL);
	CHECK_INT(len, ==, sizeof(val));
	CHECK(memcmp(v, val, sizeof(val)) == 0);
	free(v);
}

static void case_largest_value(void)
{
	/* The payload is path + NUL + value: 4096 bytes at most. */
	size_t max = XENSTORE_PAYLOAD_MAX - sizeof("/big");
	char *val = malloc(max + 1);
	unsigned len;
	char *v;

	CHECK(val);
	memset(val, 'v', max + 1);
	CHECK(xs_write(H, XBT_NULL, "/big", val, (unsigned)max));
	v = xs_read(H, XBT_NULL, "/big", &len);
	CHECK(v && len == max);
	free(v);
	/* libxenstore refuses a bigger message itself (E2BIG). */
	CHECK_ERRNO(xs_write(H, XBT_NULL, "/big", val, (unsigned)max + 1), E2BIG);
	free(val);
}

static void case_mkdir(void)
{
	write_str("/m", "keep");
	CHECK(xs_mkdir(H, XBT_NULL, "/m"));
	expect_value("/m", "keep"); /* existing value untouched */
	CHECK(xs_mkdir(H, XBT_NULL, "/m/x/y"));
	expect_value("/m/x/y", "");
	expect_value("/m/x", "");
}

static void case_rm(void)
{
	static const char *const left[] = { "b" };

	write_str("/r/a/1", "x");
	write_str("/r/a/2", "y");
	write_str("/r/b", "z");
	CHECK(xs_rm(H, XBT_NULL, "/r/a"));
	CHECK_ERRNO(xs_read(H, XBT_NULL, "/r/a/1", NULL), ENOENT);
	CHECK_ERRNO(xs_read(H, XBT_NULL, "/r/a", NULL), ENOENT);
	expect_children("/r", left, 1);
	/* Missing node, existing parent: fine. */
	CHECK(xs_rm(H, XBT_NULL, "/r/nothing"));
	/* Missing parent too: ENOENT. */
	CHECK_ERRNO(xs_rm(H, XBT_NULL, "/r/no/thing"), ENOENT);
	/* The root cannot go. */
	CHECK_ERRNO(xs_rm(H, XBT_NULL, "/"), EINVAL);
}

static void case_directory_order(void)
{
	/* Children are listed in creation order (as C xenstored). */
	static const char *const order[] = { "zeta", "alpha", "mid" };

	write_str("/d/zeta", "");
	write_str("/d/alpha", "");
	write_str("/d/gone", "");
	write_str("/d/mid", "");
	CHECK(xs_rm(H, XBT_NULL, "/d/gone"));
	expect_children("/d", order, 3);
}

static void case_directory_part(void)
{
	/* More names than fit one reply: DIRECTORY answers E2BIG and
	 * libxenstore falls back to DIRECTORY_PART. */
	unsigned n = 400, num;
	char path[64], **l;

	for (unsigned i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/big/child-with-a-long-name-%04u", i);
		write_str(path, "");
	}
	l = xs_directory(H, XBT_NULL, "/big", &num);
	CHECK(l != NULL);
	CHECK_INT(num, ==, n);
	for (unsigned i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "child-with-a-long-name-%04u", i);
		CHECK_STR(l[i], path);
	}
	free(l);
}

static void case_directory_part_raw(void)
{
	/* The reply format: "<gen>\0" then names, "\0" marks the end. */
	int fd = xstest_raw(&T, 0);
	char buf[256], req[64];
	size_t len;
	int n;

	write_str("/dp/one", "");
	write_str("/dp/two", "");
	n = snprintf(req, sizeof(req), "/dp%c0", 0) + 1;
	xstest_send(fd, XS_DIRECTORY_PART, 1, 0, req, (size_t)n);
	CHECK_INT(xstest_recv(fd, NULL, buf, sizeof(buf), &len, 5000), ==,
	          XS_DIRECTORY_PART);
	CHECK(strlen(buf) > 0);
	CHECK_INT(len, ==, strlen(buf) + 1 + sizeof("one") + sizeof("two") + 1);
	CHECK(memcmp(buf + strlen(buf) + 1, "one\0two\0\0", 9) == 0);
	/* Offset past the end: generation and an empty string. */
	n = snprintf(req, sizeof(req), "/dp%c99", 0) + 1;
	xstest_send(fd, XS_DIRECTORY_PART, 2, 0, req, (size_t)n);
	CHECK_INT(xstest_recv(fd, NULL, buf, sizeof(buf), &len, 5000), ==,
	          XS_DIRECTORY_PART);
	CHECK_INT(len, ==, strlen(buf) + 2);
	close(fd);
}

static void case_generation_changes(void)
{
	/* The generation DIRECTORY_PART reports changes with the list. */
	int fd = xstest_raw(&T, 0);
	char g1[64], g2[64], g3[64], req[64];
	int n = snprintf(req, sizeof(req), "/gen%c0", 0) + 1;

	write_str("/gen/a", "");
	xstest_send(fd, XS_DIRECTORY_PART, 1, 0, req, (size_t)n);
	CHECK(xstest_recv(fd, NULL, g1, sizeof(g1), NULL, 5000) == XS_DIRECTORY_PART);
	xstest_send(fd, XS_DIRECTORY_PART, 2, 0, req, (size_t)n);
	CHECK(xstest_recv(fd, NULL, g2, sizeof(g2), NULL, 5000) == XS_DIRECTORY_PART);
	CHECK_STR(g1, g2);
	write_str("/gen/b", "");
	xstest_send(fd, XS_DIRECTORY_PART, 3, 0, req, (size_t)n);
	CHECK(xstest_recv(fd, NULL, g3, sizeof(g3), NULL, 5000) == XS_DIRECTORY_PART);
	CHECK(strcmp(g1, g3) != 0);
	close(fd);
}

static void case_perms_roundtrip(void)
{
	struct xs_permissions set[] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = 3, .perms = XS_PERM_READ },
		{ .id = 4, .perms = XS_PERM_READ | XS_PERM_WRITE },
		{ .id = 5, .perms = XS_PERM_WRITE },
	};
	struct xs_permissions *got;
	unsigned num;

	write_str("/perm", "x");
	got = xs_get_permissions(H, XBT_NULL, "/perm", &num);
	CHECK(got && num == 1 && got[0].id == 0 && got[0].perms == XS_PERM_NONE);
	free(got);
	CHECK(xs_set_permissions(H, XBT_NULL, "/perm", set, 4));
	got = xs_get_permissions(H, XBT_NULL, "/perm", &num);
	CHECK(got && num == 4);
	for (unsigned i = 0; i < 4; i++)
		CHECK(got[i].id == set[i].id && got[i].perms == set[i].perms);
	free(got);
	/* Children created later inherit the parent's permissions. */
	write_str("/perm/child", "");
	got = xs_get_permissions(H, XBT_NULL, "/perm/child", &num);
	CHECK(got && num == 4 && got[1].id == 3);
	free(got);
}

static void case_set_perms_errors(void)
{
	struct xs_permissions p = { .id = 99, .perms = XS_PERM_READ };

	write_str("/sp", "");
	/* The owner must be a domain that exists (as C xenstored). */
	CHECK_ERRNO(xs_set_permissions(H, XBT_NULL, "/sp", &p, 1), ENOENT);
	p.id = 0;
	CHECK_ERRNO(xs_set_permissions(H, XBT_NULL, "/nonexistent", &p, 1), ENOENT);
	CHECK_ERRNO(xs_get_permissions(H, XBT_NULL, "/nonexistent", NULL), ENOENT);
}

static void case_invalid_paths(void)
{
	static const char *const bad[] = {
		"/a/", "//a", "/a b", "/a.b", "/a//b",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_ERRNO(xs_write(H, XBT_NULL, bad[i], "x", 1), EINVAL);
		CHECK_ERRNO(xs_read(H, XBT_NULL, bad[i], NULL), EINVAL);
	}
	CHECK_ERRNO(xs_read(H, XBT_NULL, "@introduceDomain", NULL), EINVAL);
}

static void case_relative_dom0(void)
{
	/* Relative paths of domain 0 live under /local/domain/0. */
	CHECK(xs_write(H, XBT_NULL, "rel/x", "1", 1));
	expect_value("/local/domain/0/rel/x", "1");
}

static void case_domain_path(void)
{
	char *p = xs_get_domain_path(H, 42);

	CHECK_STR(p, "/local/domain/42");
	free(p);
}

static void case_introduce(void)
{
	/* Domain 5 exists (the harness says so), 6 does not. */
	CHECK(!xs_is_domain_introduced(H, 5));
	CHECK(xs_is_domain_introduced(H, 0));
	CHECK(xs_introduce_domain(H, 5, 0x1234, 3));
	CHECK(xs_is_domain_introduced(H, 5));
	CHECK_ERRNO(xs_introduce_domain(H, 6, 0x1234, 3), ENOENT);
	/* The event channel must be a real port. */
	CHECK_ERRNO(xs_introduce_domain(H, 5, 0x1234, 0), EINVAL);
	CHECK(xs_resume_domain(H, 5));
	CHECK(xs_release_domain(H, 5));
	CHECK(!xs_is_domain_introduced(H, 5));
	CHECK_ERRNO(xs_release_domain(H, 5), ENOENT);
	CHECK_ERRNO(xs_release_domain(H, 0), EINVAL);
}

static void case_set_target(void)
{
	CHECK(xs_introduce_domain(H, 5, 1, 1));
	CHECK(xs_introduce_domain(H, 7, 1, 1));
	CHECK(xs_set_target(H, 5, 7));
	CHECK_ERRNO(xs_set_target(H, 5, 8), ENOENT);
}

static void case_control(void)
{
	char *r = xs_control_command(H, "check", NULL, 0);

	CHECK_STR(r, "OK");
	free(r);
	r = xs_control_command(H, "help", NULL, 0);
	CHECK(r && strstr(r, "check") && strstr(r, "help"));
	free(r);
	r = xs_control_command(H, "quota", NULL, 0);
	CHECK(r && strstr(r, "nodes 1000") && strstr(r, "watches 128"));
	free(r);
	r = xs_control_command(H, "quota", "0", 2);
	CHECK(r && strstr(r, "nodes "));
	free(r);
	CHECK_ERRNO(xs_control_command(H, "live-update", NULL, 0), ENOSYS);
	CHECK_ERRNO(xs_control_command(H, "no-such-command", NULL, 0), EINVAL);
}

static void case_unknown_type(void)
{
	/* Unknown and reply-only types get ENOSYS; the connection lives. */
	int fd = xstest_raw(&T, 0);
	static const uint32_t types[] = { XS_TYPE_COUNT, 9999, XS_WATCH_EVENT,
	                                  XS_ERROR, XS_INVALID };
	char buf[64];
	uint32_t id;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		xstest_send(fd, types[i], 100 + (uint32_t)i, 0, "x", 2);
		CHECK_INT(xstest_recv(fd, &id, buf, sizeof(buf), NULL, 5000), ==,
		          XS_ERROR);
		CHECK_INT(id, ==, 100 + i);
		CHECK_STR(buf, "ENOSYS");
	}
	xstest_send(fd, XS_READ, 7, 0, "/tool", 6);
	CHECK_INT(xstest_recv(fd, &id, buf, sizeof(buf), NULL, 5000), ==, XS_READ);
	CHECK_INT(id, ==, 7);
	close(fd);
}

static void case_syntax_errors(void)
{
	/* Payload syntax errors answer EINVAL and keep the connection. */
	static const struct {
		uint32_t type;
		const char *p;
		size_t len;
	} reqs[] = {
		{ XS_READ, "/tool", 5 },              /* no NUL */
		{ XS_READ, "/tool\0/x", 9 },          /* two strings */
		{ XS_READ, "", 0 },                   /* empty */
		{ XS_WRITE, "/tool", 5 },             /* no path terminator */
		{ XS_SET_PERMS, "/tool", 6 },         /* no permissions */
		{ XS_SET_PERMS, "/tool\0q0", 9 },     /* bad permission */
		{ XS_WATCH, "/tool", 6 },             /* no token */
		{ XS_WATCH, "/tool\0t\0x", 10 },      /* bad depth */
		{ XS_DIRECTORY_PART, "/tool", 6 },    /* no offset */
		{ XS_DIRECTORY_PART, "/tool\0x", 8 }, /* bad offset */
		{ XS_TRANSACTION_END, "X", 2 },
		{ XS_GET_DOMAIN_PATH, "abc", 4 },
		{ XS_INTRODUCE, "1\0002", 4 },
		{ XS_CONTROL, "", 0 },
	};
	int fd = xstest_raw(&T, 0);
	char buf[64];
	uint32_t id;

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		xstest_send(fd, reqs[i].type, (uint32_t)i, 0, reqs[i].p, reqs[i].len);
		if (xstest_recv(fd, &id, buf, sizeof(buf), NULL, 5000) != XS_ERROR ||
		    strcmp(buf, "EINVAL") != 0 || id != i)
			CHECK_FAIL("request %zu (type %u): got \"%s\"", i,
			           reqs[i].type, buf);
	}
	close(fd);
}

static void case_reply_ids(void)
{
	/* Pipelined requests: each reply echoes req_id and tx_id. */
	int fd = xstest_raw(&T, 0);
	char buf[64];
	uint32_t id;

	for (uint32_t i = 0; i < 10; i++)
		xstest_send(fd, XS_READ, 1000 + i, 0, "/tool", 6);
	for (uint32_t i = 0; i < 10; i++) {
		CHECK_INT(xstest_recv(fd, &id, buf, sizeof(buf), NULL, 5000), ==,
		          XS_READ);
		CHECK_INT(id, ==, 1000 + i);
	}
	close(fd);
}

static const struct check_case cases[] = {
	{ "initial-tree", case_initial_tree },
	{ "read-write", case_read_write },
	{ "binary-value", case_binary_value },
	{ "largest-value", case_largest_value },
	{ "mkdir", case_mkdir },
	{ "rm", case_rm },
	{ "directory-order", case_directory_order },
	{ "directory-part", case_directory_part },
	{ "directory-part-raw", case_directory_part_raw },
	{ "generation-changes", case_generation_changes },
	{ "perms-roundtrip", case_perms_roundtrip },
	{ "set-perms-errors", case_set_perms_errors },
	{ "invalid-paths", case_invalid_paths },
	{ "relative-dom0", case_relative_dom0 },
	{ "domain-path", case_domain_path },
	{ "introduce", case_introduce },
	{ "set-target", case_set_target },
	{ "control", case_control },
	{ "unknown-type", case_unknown_type },
	{ "syntax-errors", case_syntax_errors },
	{ "reply-ids", case_reply_ids },
};

int main(int argc, char **argv)
{
	static const unsigned doms[] = { 3, 4, 5, 7 };
	static const struct xstest_conn conns[] = { { 0, &H } };
	static const struct xstest_fixture f = { &T, doms, 4, conns, 1 };

	return xstest_run_case(argc, argv, cases, CHECK_NCASES(cases), &f);
}
