/* SPDX-License-Identifier: MIT */
/*
 * Unit: the typed parsers reject every class of malformed input with the
 * right errno and a message naming the node and quoting the value.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "xenbus.h"

#define W "backend/virtio_disk/1/51712/ring-ref"

static int u64(const char *s, size_t len, unsigned flags, uint64_t min, uint64_t max,
               uint64_t *out, struct xvio_err *e)
{
	return xvio_parse_u64(W, s, len, flags, min, max, out, e);
}

/* Parse a C string as u64 with flags over the full range. */
static int u(const char *s, unsigned flags, uint64_t *out)
{
	return u64(s, strlen(s), flags, 0, UINT64_MAX, out, NULL);
}

static int i(const char *s, unsigned flags, int64_t *out)
{
	return xvio_parse_i64(W, s, strlen(s), flags, INT64_MIN, INT64_MAX, out, NULL);
}

static void test_unsigned_ok(void)
{
	uint64_t v = 0;

	CHECK_INT(u("0", 0, &v), ==, 0);
	CHECK_INT(v, ==, 0);
	CHECK_INT(u("12", 0, &v), ==, 0);
	CHECK_INT(v, ==, 12);
	CHECK_INT(u("18446744073709551615", 0, &v), ==, 0);
	CHECK(v == UINT64_MAX);
	/* Relaxations only with their flag. */
	CHECK_INT(u("+5", XVIO_NUM_PLUS, &v), ==, 0);
	CHECK_INT(v, ==, 5);
	CHECK_INT(u("007", XVIO_NUM_ZEROS, &v), ==, 0);
	CHECK_INT(v, ==, 7);
	CHECK_INT(u(" 42\n", XVIO_NUM_SPACE, &v), ==, 0);
	CHECK_INT(v, ==, 42);
}

static void test_unsigned_junk(void)
{
	static const char *const junk[] = {
		"", "12x", "x12", " 12", "12 ", "12\n", "+5", "-5", "007", "00",
		"0x10", "1e3", "1.0", "1,000", "٣", "\xff", "--1", "+", "-",
		"18446744073709551616x", /* overflow, then junk: still junk */
	};
	uint64_t v = 99;

	for (size_t k = 0; k < sizeof(junk) / sizeof(junk[0]); k++) {
		struct xvio_err e = { 0 };

		if (u64(junk[k], strlen(junk[k]), 0, 0, UINT64_MAX, &v, &e) != -EINVAL)
			CHECK_FAIL("\"%s\" accepted or wrong errno", junk[k]);
		CHECK_INT(e.err, ==, EINVAL);
		CHECK(strstr(e.msg, W ": \"") == e.msg);
		CHECK(strstr(e.msg, "is not a number"));
	}
	CHECK_INT(v, ==, 99); /* untouched on failure */
	/* Flags do not open everything: blanks inside stay junk. */
	CHECK_INT(u("1 2", XVIO_NUM_SPACE, &v), ==, -EINVAL);
	CHECK_INT(u("   ", XVIO_NUM_SPACE, &v), ==, -EINVAL);
	CHECK_INT(u("++5", XVIO_NUM_PLUS, &v), ==, -EINVAL);
}

static void test_unsigned_range(void)
{
	struct xvio_err e = { 0 };
	uint64_t v = 99;

	CHECK_INT(u("18446744073709551616", 0, &v), ==, -ERANGE);
	CHECK_INT(u("99999999999999999999999", 0, &v), ==, -ERANGE);
	CHECK_INT(u64("9", 1, 0, 10, 20, &v, &e), ==, -ERANGE);
	CHECK_STR(e.msg, W ": \"9\" is out of range [10, 20]");
	CHECK_INT(u64("21", 2, 0, 10, 20, &v, NULL), ==, -ERANGE);
	CHECK_INT(u64("10", 2, 0, 10, 20, &v, NULL), ==, 0);
	CHECK_INT(u64("20", 2, 0, 10, 20, &v, NULL), ==, 0);
	CHECK_INT(v, ==, 20);
}

static void test_embedded_nul(void)
{
	struct xvio_err e = { 0 };
	uint64_t v;
	bool b;
	int x;
	static const struct xvio_enum t[] = { { "rw", 1 }, { NULL, 0 } };

	/* "12\0" and "1\0002": a peer hiding bytes after a NUL. */
	CHECK_INT(u64("12\0", 3, 0, 0, 100, &v, &e), ==, -EINVAL);
	CHECK(strstr(e.msg, "contains a NUL byte"));
	CHECK(strstr(e.msg, "\"12\\x00\""));
	CHECK_INT(u64("1\0002", 3, 0, 0, 100, &v, NULL), ==, -EINVAL);
	CHECK_INT(xvio_parse_bool(W, "1\0", 2, &b, NULL), ==, -EINVAL);
	CHECK_INT(xvio_parse_enum(W, "rw\0", 3, t, &x, NULL), ==, -EINVAL);
	CHECK_INT(xvio_check_str(W, "ab\0cd", 5, 100, NULL), ==, -EINVAL);
	CHECK_INT(xvio_parse_i64(W, "-1\0", 3, 0, -5, 5, &(int64_t){ 0 }, NULL), ==,
	          -EINVAL);
}

static void test_signed(void)
{
	struct xvio_err e = { 0 };
	int64_t v = 0;

	CHECK_INT(i("-9223372036854775808", 0, &v), ==, 0);
	CHECK(v == INT64_MIN);
	CHECK_INT(i("9223372036854775807", 0, &v), ==, 0);
	CHECK(v == INT64_MAX);
	CHECK_INT(i("-9223372036854775809", 0, &v), ==, -ERANGE);
	CHECK_INT(i("9223372036854775808", 0, &v), ==, -ERANGE);
	CHECK_INT(i("-0", 0, &v), ==, 0);
	CHECK_INT(v, ==, 0);
	CHECK_INT(i("-", 0, &v), ==, -EINVAL);
	CHECK_INT(i("--1", 0, &v), ==, -EINVAL);
	CHECK_INT(i("+1", 0, &v), ==, -EINVAL);
	CHECK_INT(i("+1", XVIO_NUM_PLUS, &v), ==, 0);
	CHECK_INT(i("-01", 0, &v), ==, -EINVAL);
	CHECK_INT(i("-1x", 0, &v), ==, -EINVAL);
	CHECK_INT(xvio_parse_i64(W, "-6", 2, 0, -5, 5, &v, &e), ==, -ERANGE);
	CHECK_STR(e.msg, W ": \"-6\" is out of range [-5, 5]");
}

static void test_bool(void)
{
	static const char *const bad[] = { "", "2", "01", "true", "yes", " 1", "1\n", "10" };
	struct xvio_err e = { 0 };
	bool b = false;

	CHECK_INT(xvio_parse_bool(W, "1", 1, &b, NULL), ==, 0);
	CHECK(b);
	CHECK_INT(xvio_parse_bool(W, "0", 1, &b, NULL), ==, 0);
	CHECK(!b);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		if (xvio_parse_bool(W, bad[k], strlen(bad[k]), &b, &e) != -EINVAL)
			CHECK_FAIL("bool \"%s\" accepted", bad[k]);
	CHECK_STR(e.msg, W ": \"10\" is not a boolean (0 or 1)");
}

static void test_enum(void)
{
	static const struct xvio_enum modes[] = {
		{ "r", 0 }, { "w", 1 }, { NULL, 0 },
	};
	struct xvio_err e = { 0 };
	int v = -1;

	CHECK_INT(xvio_parse_enum(W, "w", 1, modes, &v, NULL), ==, 0);
	CHECK_INT(v, ==, 1);
	CHECK_INT(xvio_parse_enum(W, "r", 1, modes, &v, NULL), ==, 0);
	CHECK_INT(v, ==, 0);
	/* Prefixes, case and extra bytes do not match. */
	CHECK_INT(xvio_parse_enum(W, "rw", 2, modes, &v, NULL), ==, -EINVAL);
	CHECK_INT(xvio_parse_enum(W, "W", 1, modes, &v, NULL), ==, -EINVAL);
	CHECK_INT(xvio_parse_enum(W, "", 0, modes, &v, NULL), ==, -EINVAL);
	CHECK_INT(xvio_parse_enum(W, "x", 1, modes, &v, &e), ==, -EINVAL);
	CHECK_STR(e.msg, W ": \"x\" is not one of r, w");
}

static void test_str(void)
{
	struct xvio_err e = { 0 };

	CHECK_INT(xvio_check_str(W, "abc", 3, 3, NULL), ==, 3);
	CHECK_INT(xvio_check_str(W, "", 0, 3, NULL), ==, 0);
	CHECK_INT(xvio_check_str(W, "abcd", 4, 3, &e), ==, -E2BIG);
	CHECK_STR(e.msg, W ": value is 4 bytes, longer than 3");
}

static void test_quote(void)
{
	char q[256], big[300];

	CHECK_STR(xvio_quote(q, sizeof(q), "a\"b\\c\n\x01", 7), "a\\x22b\\x5cc\\x0a\\x01");
	/* Long values are cut, and the cut is marked. */
	memset(big, 'z', sizeof(big));
	xvio_quote(q, sizeof(q), big, sizeof(big));
	CHECK(strlen(q) < 60);
	CHECK(strcmp(q + strlen(q) - 3, "...") == 0);
	/* A tiny buffer still terminates. */
	xvio_quote(q, 8, big, sizeof(big));
	CHECK(strlen(q) < 8);
	/* Messages never overflow: a 3000-byte name is truncated. */
	struct xvio_err e = { 0 };
	static char name[3000];
	memset(name, 'n', sizeof(name) - 1);
	CHECK_INT(xvio_parse_bool(name, "x", 1, &(bool){ false }, &e), ==, -EINVAL);
	CHECK_INT(strlen(e.msg), ==, XVIO_ERR_MSG_MAX - 1);
}

static void test_state_values(void)
{
	enum xenbus_state s;
	struct xvio_err e = { 0 };

	for (int k = 0; k <= 8; k++) {
		char b[4];
		snprintf(b, sizeof(b), "%d", k);
		CHECK_INT(xvio_xb_parse_state("x/state", b, strlen(b), &s, NULL), ==, 0);
		CHECK_INT(s, ==, k);
	}
	/* Unknown numbers and junk are protocol errors. */
	CHECK_INT(xvio_xb_parse_state("x/state", "9", 1, &s, &e), ==, -EPROTO);
	CHECK_STR(e.msg, "x/state: \"9\" is not a XenbusState");
	CHECK_INT(xvio_xb_parse_state("x/state", "-1", 2, &s, NULL), ==, -EPROTO);
	CHECK_INT(xvio_xb_parse_state("x/state", "04", 2, &s, NULL), ==, -EPROTO);
	CHECK_INT(xvio_xb_parse_state("x/state", "4\n", 2, &s, NULL), ==, -EPROTO);
	CHECK_INT(xvio_xb_parse_state("x/state", "", 0, &s, NULL), ==, -EPROTO);
	CHECK_INT(xvio_xb_parse_state("x/state", "4\0", 2, &s, NULL), ==, -EPROTO);
}

static void test_paths(void)
{
	char buf[XENSTORE_ABS_PATH_MAX + 1];
	static char longdir[XENSTORE_ABS_PATH_MAX + 10];

	CHECK_INT(xvio_xs_path(buf, sizeof(buf), "a/b", "c"), ==, 5);
	CHECK_STR(buf, "a/b/c");
	CHECK_INT(xvio_xs_path(buf, sizeof(buf), "a/b", NULL), ==, 3);
	CHECK_STR(buf, "a/b");
	memset(longdir, 'd', sizeof(longdir) - 1);
	CHECK_INT(xvio_xs_path(buf, sizeof(buf), longdir, "k"), ==, -ENAMETOOLONG);
	CHECK_INT(xvio_xs_path(buf, 4, "a/b", "c"), ==, -ENAMETOOLONG);

	/* The Xen error-node convention. */
	CHECK_INT(xvio_xs_error_dir(buf, sizeof(buf),
	                            "/local/domain/0/backend/virtio_disk/1/51712"), >, 0);
	CHECK_STR(buf, "/local/domain/0/error/backend/virtio_disk/1/51712");
	CHECK_INT(xvio_xs_error_dir(buf, sizeof(buf), "device/virtio_disk/51712"), >, 0);
	CHECK_STR(buf, "error/device/virtio_disk/51712");
	CHECK_INT(xvio_xs_error_dir(buf, sizeof(buf), "/vm/1234"), ==, -EINVAL);
	CHECK_INT(xvio_xs_error_dir(buf, sizeof(buf), "/local/domain/x/a"), ==, -EINVAL);
	CHECK_INT(xvio_xs_error_dir(buf, sizeof(buf), "/local/domain/1"), ==, -EINVAL);
	CHECK_INT(xvio_xs_error_dir(buf, sizeof(buf), "/local/domain/1/"), ==, -EINVAL);
	CHECK_INT(xvio_xs_error_dir(buf, sizeof(buf), ""), ==, -EINVAL);
}

int main(void)
{
	test_unsigned_ok();
	test_unsigned_junk();
	test_unsigned_range();
	test_embedded_nul();
	test_signed();
	test_bool();
	test_enum();
	test_str();
	test_quote();
	test_state_values();
	test_paths();
	return 0;
}
