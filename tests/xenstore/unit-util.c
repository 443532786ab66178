/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the xenstore server's pure helpers: path syntax and
 * resolution, permission strings and rights, numbers, string splitting,
 * error names, the hash map and its keyed hash, path prefixes and the log
 * rate limiter.  One case per argv[1].
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void case_prefixes(void)
{
	static const char *const paths[] = {
		"/", "/a", "/local/domain/5", "/a/bb/ccc/d",
	};
	static const unsigned counts[] = { 1, 2, 4, 5 };
	struct xs_prefixes *px = malloc(sizeof(*px));
	struct xs_map m;

	CHECK(px != NULL);
	for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++) {
		const char *path = paths[k];
		char *keys[8];

		xs_prefixes(px, path);
		CHECK_INT(px->n, ==, counts[k]);
		CHECK_INT(px->end[0], ==, 1);
		CHECK_INT(px->end[px->n - 1], ==, strlen(path));
		/* Each prefix's hash is the one the map computes for it. */
		xs_map_init(&m);
		for (unsigned i = 0; i < px->n; i++) {
			keys[i] = strndup(path, px->end[i]);
			CHECK(keys[i] != NULL);
			CHECK(i == 0 || keys[i][px->end[i] - 1] != '/');
			CHECK_INT(xs_map_put(&m, keys[i], keys[i]), ==, 0);
		}
		for (unsigned i = 0; i < px->n; i++)
			CHECK(xs_map_get_n(&m, path, px->end[i], px->hash[i]) == keys[i]);
		/* A prefix of a key is not the key. */
		if (px->n > 1)
			CHECK(xs_map_get_n(&m, path, px->end[1] - 1,
			                   px->hash[1]) == NULL);
		for (unsigned i = 0; i < px->n; i++)
			free(keys[i]);
		xs_map_fini(&m);
	}
	/* The deepest path there is: 1536 components. */
	{
		char *deep = malloc(XENSTORE_ABS_PATH_MAX + 1);

		CHECK(deep != NULL);
		for (int i = 0; i < XENSTORE_ABS_PATH_MAX / 2; i++)
			memcpy(deep + 2 * i, "/x", 2);
		deep[XENSTORE_ABS_PATH_MAX] = '\0';
		CHECK(xs_path_valid(deep));
		xs_prefixes(px, deep);
		CHECK_INT(px->n, ==, XS_MAX_PREFIXES);
		CHECK_INT(px->end[px->n - 1], ==, XENSTORE_ABS_PATH_MAX);
		free(deep);
	}
	free(px);
}

/* Not a test: prints a key's hash, for hash-seed. */
static void case_hash_print(void)
{
	printf("%08x\n", xs_hash_end(xs_hash_more(xs_hash_start(), "/local", 6)));
}

static unsigned hash_in_new_process(void)
{
	char self[4096], cmd[4200];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	FILE *f;
	unsigned h;

	CHECK(n > 0);
	self[n] = '\0';
	snprintf(cmd, sizeof(cmd), "'%s' hash-print", self);
	f = popen(cmd, "r");
	CHECK(f != NULL);
	CHECK(fscanf(f, "%x", &h) == 1);
	CHECK_INT(pclose(f), ==, 0);
	return h;
}

static void case_hash_seed(void)
{
	/* Keyed per process: the same path hashes differently in another
	 * run (two equal 32-bit values by chance: 1 in 2^32, twice). */
	unsigned a = hash_in_new_process(), b = hash_in_new_process(),
	         c = hash_in_new_process();

	CHECK(a != b || b != c);
	/* And stays the same within a process. */
	CHECK_INT(xs_hash_end(xs_hash_more(xs_hash_start(), "/local", 6)), ==,
	          xs_hash_end(xs_hash_more(xs_hash_more(xs_hash_start(), "/lo", 3),
	                                   "cal", 3)));
}

static void case_ratelog(void)
{
	struct xs_ratelog rl = { 0 };
	unsigned long held = 99;

	CHECK(xs_ratelog_allow(&rl, &held));
	CHECK_INT(held, ==, 0);
	for (int i = 0; i < 1000; i++)
		CHECK(!xs_ratelog_allow(&rl, &held));
	CHECK_INT(xs_ratelog_take(&rl), ==, 1000);
	CHECK_INT(xs_ratelog_take(&rl), ==, 0);
	/* After the interval, a line again, with the count. */
	CHECK(!xs_ratelog_allow(&rl, &held));
	CHECK(!xs_ratelog_due(&rl, &held));
	rl.last_ms -= XSS_LOG_INTERVAL_MS;
	CHECK(xs_ratelog_allow(&rl, &held));
	CHECK_INT(held, ==, 1);
	/* A summary is due once the interval is over and something is held. */
	CHECK(!xs_ratelog_allow(&rl, &held));
	CHECK(!xs_ratelog_due(&rl, &held));
	rl.last_ms -= XSS_LOG_INTERVAL_MS;
	CHECK(xs_ratelog_due(&rl, &held));
	CHECK_INT(held, ==, 1);
	rl.last_ms -= XSS_LOG_INTERVAL_MS;
	CHECK(!xs_ratelog_due(&rl, &held)); /* nothing held */
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
	{ "prefixes", case_prefixes },
	{ "hash-seed", case_hash_seed },
	{ "ratelog", case_ratelog },
};

/* Helpers for cases, not cases. */
static const struct check_case helpers[] = {
	{ "hash-print", case_hash_print },
};

int main(int argc, char **argv)
{
	/* No argument: every case, for a quick run by hand. */
	if (argc == 1) {
		for (size_t i = 0; i < CHECK_NCASES(cases); i++)
			cases[i].fn();
		return 0;
	}
	if (strcmp(argv[1], helpers[0].name) == 0)
		return check_run_case(argc, argv, helpers, CHECK_NCASES(helpers),
		                      NULL, NULL);
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
