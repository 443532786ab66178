/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the xenstore server's pure helpers: path syntax and
 * resolution, permission strings and rights, numbers, string splitting,
 * error names and the hash map.  One case per argv[1].
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "xs_internal.h"

static void case_path_valid(void)
{
	static const char *const good[] = {
		"/", "/a", "/local/domain/0", "/a-b_c@d/E9", "/tool/xenstored",
	};
	static const char *const bad[] = {
		"", "a", "a/b", "/a/", "//", "/a//b", "/a b", "/a.b", "/a\n",
		"/é", "/a/b/", "/a:b",
	};
	char *big = malloc(XENSTORE_ABS_PATH_MAX + 2);

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!xs_path_valid(good[i]))
			CHECK_FAIL("\"%s\" should be valid", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (xs_path_valid(bad[i]))
			CHECK_FAIL("\"%s\" should be invalid", bad[i]);
	CHECK(big);
	/* Exactly 3072 bytes is allowed, 3073 is not. */
	big[0] = '/';
	memset(big + 1, 'x', XENSTORE_ABS_PATH_MAX - 1);
	big[XENSTORE_ABS_PATH_MAX] = '\0';
	CHECK(xs_path_valid(big));
	big[XENSTORE_ABS_PATH_MAX] = 'x';
	big[XENSTORE_ABS_PATH_MAX + 1] = '\0';
	CHECK(!xs_path_valid(big));
	free(big);
}

static void case_canon(void)
{
	char *rel = malloc(XENSTORE_REL_PATH_MAX + 2);
	char *p;
	int err;

	p = xs_canon(7, "device/vbd", &err);
	CHECK_INT(err, ==, 0);
	CHECK_STR(p, "/local/domain/7/device/vbd");
	free(p);
	p = xs_canon(7, "/abs/path", &err);
	CHECK_STR(p, "/abs/path");
	free(p);
	CHECK(xs_canon(7, "", &err) == NULL && err == -EINVAL);
	CHECK(xs_canon(7, "a/", &err) == NULL && err == -EINVAL);
	CHECK(xs_canon(7, "a//b", &err) == NULL && err == -EINVAL);
	/* Special names are not node paths. */
	CHECK(xs_canon(7, "@releaseDomain", &err) == NULL && err == -EINVAL);
	/* Relative limit 2048 applies to the relative form. */
	CHECK(rel);
	memset(rel, 'r', XENSTORE_REL_PATH_MAX);
	rel[XENSTORE_REL_PATH_MAX] = '\0';
	p = xs_canon(1, rel, &err);
	CHECK(p && err == 0);
	free(p);
	rel[XENSTORE_REL_PATH_MAX] = 'r';
	rel[XENSTORE_REL_PATH_MAX + 1] = '\0';
	CHECK(xs_canon(1, rel, &err) == NULL && err == -EINVAL);
	free(rel);
}

static void case_tree(void)
{
	char *p;

	CHECK(xs_is_child("/a/b", "/a"));
	CHECK(xs_is_child("/a", "/a"));
	CHECK(!xs_is_child("/ab", "/a"));
	CHECK(xs_is_child("/x", "/"));
	CHECK(!xs_is_child("/a", "/a/b"));
	CHECK_INT(xs_depth_below("/a", "/a"), ==, 0);
	CHECK_INT(xs_depth_below("/a/b/c", "/a"), ==, 2);
	CHECK_INT(xs_depth_below("/a", "/"), ==, 1);
	CHECK_INT(xs_depth_below("/", "/"), ==, 0);
	p = xs_parent("/a/b");
	CHECK_STR(p, "/a");
	free(p);
	p = xs_parent("/a");
	CHECK_STR(p, "/");
	free(p);
	CHECK_STR(xs_basename("/a/bc"), "bc");
}

static void case_numbers(void)
{
	unsigned long v;

	CHECK(xs_parse_uint("0", 10, &v) == 0 && v == 0);
	CHECK(xs_parse_uint("65535", 65535, &v) == 0 && v == 65535);
	CHECK(xs_parse_uint("65536", 65535, &v) == -EINVAL);
	CHECK(xs_parse_uint("", 10, &v) == -EINVAL);
	CHECK(xs_parse_uint("-1", 10, &v) == -EINVAL);
	CHECK(xs_parse_uint("1x", 10, &v) == -EINVAL);
	CHECK(xs_parse_uint(" 1", 10, &v) == -EINVAL);
	CHECK(xs_parse_uint("0x10", 100, &v) == -EINVAL);
	CHECK(xs_parse_uint("99999999999999999999999", UINT32_MAX, &v) == -EINVAL);
}

static void case_perm_strings(void)
{
	static const char *const good[] = { "n0", "r5", "w65535", "b12" };
	static const char *const bad[] = { "", "x1", "r", "r-1", "r65536", "b1 ",
	                                   "R1", "r0x1" };
	struct xs_perm p;
	char buf[8];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK_INT(xs_perm_parse(good[i], &p), ==, 0);
		xs_perm_format(&p, buf, sizeof(buf));
		CHECK_STR(buf, good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (xs_perm_parse(bad[i], &p) != -EINVAL)
			CHECK_FAIL("\"%s\" should not parse", bad[i]);
	CHECK(xs_perm_parse("b7", &p) == 0 && p.id == 7 &&
	      p.perm == (XS_P_READ | XS_P_WRITE));
}

static void case_perm_rights(void)
{
	/* Owner 5, others read, domain 7 nothing, domain 9 write only. */
	const struct xs_perm p[] = {
		{ 5, XS_P_READ }, { 7, XS_P_NONE }, { 9, XS_P_WRITE },
	};
	const unsigned all = XS_P_READ | XS_P_WRITE | XS_P_OWNER;

	CHECK_INT(xs_perm_for(p, 3, 0, -1), ==, all);  /* dom0 */
	CHECK_INT(xs_perm_for(p, 3, 5, -1), ==, all);  /* owner */
	CHECK_INT(xs_perm_for(p, 3, 6, -1), ==, XS_P_READ); /* default */
	CHECK_INT(xs_perm_for(p, 3, 7, -1), ==, XS_P_NONE);
	CHECK_INT(xs_perm_for(p, 3, 9, -1), ==, XS_P_WRITE);
	/* A domain targeting the owner acts as the owner. */
	CHECK_INT(xs_perm_for(p, 3, 7, 5), ==, all);
	/* The first entry naming the domain or its target wins. */
	CHECK_INT(xs_perm_for(p, 3, 9, 7), ==, XS_P_NONE);
}

static void case_strings(void)
{
	const char buf[] = "a\0bc\0\0tail"; /* 3 strings, then no NUL */
	const char *vec[4];

	CHECK_INT(xs_strings(buf, sizeof(buf) - 1, vec, 4), ==, 3);
	CHECK_STR(vec[0], "a");
	CHECK_STR(vec[1], "bc");
	CHECK_STR(vec[2], "");
	CHECK_INT(xs_strings(buf, 0, vec, 4), ==, 0);
	CHECK_INT(xs_strings("x", 1, vec, 4), ==, 0);
	CHECK_INT(xs_strings(buf, sizeof(buf) - 1, vec, 1), ==, 3);
}

static void case_errnames(void)
{
	CHECK_STR(xs_errname(EACCES), "EACCES");
	CHECK_STR(xs_errname(EAGAIN), "EAGAIN");
	CHECK_STR(xs_errname(E2BIG), "E2BIG");
	CHECK_STR(xs_errname(ENOSPC), "ENOSPC");
	CHECK_STR(xs_errname(EPERM), "EPERM");
	/* Not in xs_wire.h's table: sent as EINVAL, as C xenstored does. */
	CHECK_STR(xs_errname(ETIMEDOUT), "EINVAL");
}

static void case_map(void)
{
	struct xs_map m;
	char keys[3000][8];
	size_t pos = 0, seen = 0;
	struct xs_mapent *e = NULL;

	xs_map_init(&m);
	CHECK(xs_map_get(&m, "x") == NULL);
	for (int i = 0; i < 3000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		CHECK_INT(xs_map_put(&m, keys[i], keys[i]), ==, 0);
	}
	CHECK_INT(m.n, ==, 3000);
	CHECK(xs_map_get(&m, "k1234") == keys[1234]);
	CHECK_INT(xs_map_put(&m, keys[5], (void *)keys[6]), ==, 0);
	CHECK(xs_map_get(&m, "k5") == keys[6]);
	CHECK(xs_map_del(&m, "k7") == keys[7]);
	CHECK(xs_map_get(&m, "k7") == NULL);
	CHECK(xs_map_del(&m, "k7") == NULL);
	while (xs_map_next(&m, &pos, &e))
		seen++;
	CHECK_INT(seen, ==, 2999);
	xs_map_fini(&m);
}

static const struct check_case cases[] = {
	{ "path-valid", case_path_valid },
	{ "canon", case_canon },
	{ "tree", case_tree },
	{ "numbers", case_numbers },
	{ "perm-strings", case_perm_strings },
	{ "perm-rights", case_perm_rights },
	{ "strings", case_strings },
	{ "errnames", case_errnames },
	{ "map", case_map },
};

int main(int argc, char **argv)
{
	/* No argument: every case, for a quick run by hand. */
	if (argc == 1) {
		for (size_t i = 0; i < CHECK_NCASES(cases); i++)
			cases[i].fn();
		return 0;
	}
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
