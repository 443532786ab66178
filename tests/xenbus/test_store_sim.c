/* SPDX-License-Identifier: MIT */
/*
 * Integration: typed xenstore reads and writes against a real xvio-sim,
 * with the guest writing the values dom0 reads (the hostile direction).
 *
 * typed:    well-formed values of every type read back right
 * hostile:  junk, out-of-range, embedded NUL, over-long values: the right
 *           errno and a message naming the node and quoting the value
 * errors:   missing nodes, permission denied, path too long
 * writes:   write/printf/rm, relative paths resolve to the own home
 * switch:   xvio_xb_switch_state writes only changes, never recreates a
 *           removed directory, overwrites junk; xvio_xb_read_state
 * errnode:  the Xen error node from an absolute dom0 path and a guest's
 *           relative path, and clearing it
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "simtest.h"
#include "xbtest.h"
#include "xenbus.h"

#define DIR "/local/domain/1/data/t"

static struct simtest st;
static struct xs_handle *xs0, *xs1;

static void setup(void)
{
	simtest_start(&st, NULL);
	CHECK_INT(simtest_create(&st, "name = \"g\"\nmemory = 64\n"), ==, 1);
	xs0 = xb_open_as(&st, 0);
	xs1 = xb_open_as(&st, 1);
}

static void teardown_sim(void)
{
	xs_close(xs1);
	xs_close(xs0);
	simtest_stop(&st);
}

/* The guest writes its own data/t/<key>, raw bytes. */
static void guest_put(const char *key, const char *val, size_t len)
{
	char path[256];

	snprintf(path, sizeof(path), DIR "/%s", key);
	if (!xs_write(xs1, XBT_NULL, path, val, (unsigned)len))
		CHECK_FAIL("guest write %s: %s", path, strerror(errno));
}

static void test_typed(void)
{
	static const struct xvio_enum modes[] = { { "r", 0 }, { "w", 1 }, { NULL, 0 } };
	char buf[64], *dup = NULL;
	uint64_t u = 0;
	int64_t i = 0;
	uint32_t u32 = 0;
	bool b = false;
	int e = -1;

	guest_put("ring-ref", "4096", 4);
	guest_put("offset", "-12", 3);
	guest_put("feature-x", "1", 1);
	guest_put("mode", "w", 1);
	guest_put("name", "xvdb", 4);
	guest_put("empty", "", 0);

	CHECK_INT(xvio_xs_read_u64(xs0, XBT_NULL, DIR, "ring-ref", 0, 0, UINT64_MAX, &u, NULL), ==, 0);
	CHECK_INT(u, ==, 4096);
	CHECK_INT(xvio_xs_read_u32(xs0, XBT_NULL, DIR, "ring-ref", 1, 8192, &u32, NULL), ==, 0);
	CHECK_INT(u32, ==, 4096);
	CHECK_INT(xvio_xs_read_i64(xs0, XBT_NULL, DIR, "offset", 0, -100, 100, &i, NULL), ==, 0);
	CHECK_INT(i, ==, -12);
	CHECK_INT(xvio_xs_read_bool(xs0, XBT_NULL, DIR, "feature-x", &b, NULL), ==, 0);
	CHECK(b);
	CHECK_INT(xvio_xs_read_enum(xs0, XBT_NULL, DIR, "mode", modes, &e, NULL), ==, 0);
	CHECK_INT(e, ==, 1);
	CHECK_INT(xvio_xs_read_str(xs0, XBT_NULL, DIR, "name", buf, sizeof(buf), NULL), ==, 4);
	CHECK_STR(buf, "xvdb");
	CHECK_INT(xvio_xs_read_str(xs0, XBT_NULL, DIR, "empty", buf, sizeof(buf), NULL), ==, 0);
	CHECK_STR(buf, "");
	CHECK_INT(xvio_xs_read_strdup(xs0, XBT_NULL, DIR, "name", 16, &dup, NULL), ==, 4);
	CHECK_STR(dup, "xvdb");
	free(dup);
	/* key NULL: dir is the node. */
	CHECK_INT(xvio_xs_read_u64(xs0, XBT_NULL, DIR "/ring-ref", NULL, 0, 0, 5000, &u, NULL),
	          ==, 0);
	CHECK_INT(xvio_xs_exists(xs0, XBT_NULL, DIR, "name"), ==, 1);
	CHECK_INT(xvio_xs_exists(xs0, XBT_NULL, DIR, "nope"), ==, 0);
}

static void test_hostile(void)
{
	static const struct xvio_enum modes[] = { { "r", 0 }, { "w", 1 }, { NULL, 0 } };
	struct xvio_err err = { 0 };
	char buf[64], *dup = (char *)"untouched", *big;
	uint64_t u = 77;
	uint32_t u32 = 77;
	bool b;
	int e;

	guest_put("ring-ref", "12x", 3);
	CHECK_INT(xvio_xs_read_u64(xs0, XBT_NULL, DIR, "ring-ref", 0, 0, UINT64_MAX, &u, &err),
	          ==, -EINVAL);
	CHECK_INT(err.err, ==, EINVAL);
	CHECK_STR(err.msg, DIR "/ring-ref: \"12x\" is not a number");
	CHECK_INT(u, ==, 77);

	guest_put("big", "4294967296", 10);
	CHECK_INT(xvio_xs_read_u32(xs0, XBT_NULL, DIR, "big", 0, UINT32_MAX, &u32, &err), ==,
	          -ERANGE);
	CHECK_STR(err.msg, DIR "/big: \"4294967296\" is out of range [0, 4294967295]");
	CHECK_INT(u32, ==, 77);

	/* A NUL hiding a suffix: "7\0junk". */
	guest_put("nul", "7\0junk", 6);
	CHECK_INT(xvio_xs_read_u64(xs0, XBT_NULL, DIR, "nul", 0, 0, 100, &u, &err), ==, -EINVAL);
	CHECK_STR(err.msg, DIR "/nul: \"7\\x00junk\" contains a NUL byte");
	CHECK_INT(xvio_xs_read_str(xs0, XBT_NULL, DIR, "nul", buf, sizeof(buf), &err), ==,
	          -EINVAL);
	CHECK_INT(xvio_xs_read_strdup(xs0, XBT_NULL, DIR, "nul", 100, &dup, &err), ==, -EINVAL);
	CHECK_STR(dup, "untouched");

	guest_put("bool", "true", 4);
	CHECK_INT(xvio_xs_read_bool(xs0, XBT_NULL, DIR, "bool", &b, &err), ==, -EINVAL);
	CHECK_STR(err.msg, DIR "/bool: \"true\" is not a boolean (0 or 1)");

	guest_put("mode", "rw", 2);
	CHECK_INT(xvio_xs_read_enum(xs0, XBT_NULL, DIR, "mode", modes, &e, &err), ==, -EINVAL);
	CHECK_STR(err.msg, DIR "/mode: \"rw\" is not one of r, w");

	/* Control bytes and quotes are escaped in messages. */
	guest_put("ctl", "\"\x1b[2J", 5);
	CHECK_INT(xvio_xs_read_u64(xs0, XBT_NULL, DIR, "ctl", 0, 0, 1, &u, &err), ==, -EINVAL);
	CHECK_STR(err.msg, DIR "/ctl: \"\\x22\\x1b[2J\" is not a number");

	/* Longer than the caller's limit: the length is the reply's, checked first. */
	guest_put("long", "0123456789012345678901234567890123456789", 40);
	CHECK_INT(xvio_xs_read_str(xs0, XBT_NULL, DIR, "long", buf, 16, &err), ==, -E2BIG);
	CHECK_STR(err.msg, DIR "/long: value is 40 bytes, longer than 15");
	CHECK_INT(xvio_xs_read_strdup(xs0, XBT_NULL, DIR, "long", 39, &dup, &err), ==, -E2BIG);
	/* The largest value dom0 can store reads back whole when allowed. */
	big = malloc(4000);
	CHECK(big);
	memset(big, 'a', 4000);
	CHECK(xs_write(xs0, XBT_NULL, DIR "/huge", big, 4000));
	CHECK_INT(xvio_xs_read_strdup(xs0, XBT_NULL, DIR, "huge", 4096, &dup, NULL), ==, 4000);
	CHECK(memcmp(dup, big, 4000) == 0 && dup[4000] == '\0');
	free(dup);
	/* A message quoting it stays bounded. */
	CHECK_INT(xvio_xs_read_u64(xs0, XBT_NULL, DIR, "huge", 0, 0, 1, &u, &err), ==, -EINVAL);
	CHECK(strlen(err.msg) < 120);
	free(big);
}

static void test_errors(void)
{
	struct xvio_err err = { 0 };
	char buf[64];
	uint64_t u;
	static char longdir[XENSTORE_ABS_PATH_MAX + 8];

	CHECK_INT(xvio_xs_read_u64(xs0, XBT_NULL, DIR, "absent", 0, 0, 1, &u, &err), ==, -ENOENT);
	CHECK_STR(err.msg, DIR "/absent: missing");
	/* The guest may not read dom0's private nodes. */
	CHECK(xs_write(xs0, XBT_NULL, "/local/domain/0/data/secret", "42", 2));
	CHECK_INT(xvio_xs_read_str(xs1, XBT_NULL, "/local/domain/0/data/secret", NULL, buf,
	                           sizeof(buf), &err), ==, -EACCES);
	CHECK(strstr(err.msg, "/local/domain/0/data/secret: read failed: "));
	/* Nor write them. */
	CHECK_INT(xvio_xs_write(xs1, XBT_NULL, "/local/domain/0/data", "secret", "1", &err), ==,
	          -EACCES);
	CHECK(strstr(err.msg, "/local/domain/0/data/secret: write failed: "));
	memset(longdir, 'd', sizeof(longdir) - 1);
	CHECK_INT(xvio_xs_read_u64(xs0, XBT_NULL, longdir, "k", 0, 0, 1, &u, &err), ==,
	          -ENAMETOOLONG);
	CHECK(strstr(err.msg, "path too long"));
}

static void test_writes(void)
{
	struct xvio_err err = { 0 };
	uint64_t u = 0;
	char buf[64];

	CHECK_INT(xvio_xs_printf(xs1, XBT_NULL, DIR, "counter", &err, "%u", 4242u), ==, 0);
	CHECK_INT(xvio_xs_read_u64(xs0, XBT_NULL, DIR, "counter", 0, 0, 10000, &u, NULL), ==, 0);
	CHECK_INT(u, ==, 4242);
	/* Relative paths resolve against the writer's home. */
	CHECK_INT(xvio_xs_write(xs1, XBT_NULL, "data/t", "rel", "yes", &err), ==, 0);
	CHECK_INT(xvio_xs_read_str(xs0, XBT_NULL, DIR, "rel", buf, sizeof(buf), NULL), ==, 3);
	CHECK_STR(buf, "yes");
	CHECK_INT(xvio_xs_rm(xs1, XBT_NULL, DIR, "rel", &err), ==, 0);
	CHECK_INT(xvio_xs_exists(xs0, XBT_NULL, DIR, "rel"), ==, 0);
	/* Removing what is not there is fine. */
	CHECK_INT(xvio_xs_rm(xs1, XBT_NULL, DIR, "rel", &err), ==, 0);
}

static void test_switch(void)
{
	struct xvio_err err = { 0 };
	enum xenbus_state s;
	char buf[16];

	guest_put("dev/state", "1", 1);
	CHECK_INT(xvio_xb_switch_state(xs1, DIR "/dev", XenbusStateInitWait, &err), ==, 1);
	CHECK_INT(xvio_xb_read_state(xs0, XBT_NULL, DIR "/dev", &s, NULL), ==, 0);
	CHECK_INT(s, ==, XenbusStateInitWait);
	/* Same value: nothing written (idempotent). */
	CHECK_INT(xvio_xb_switch_state(xs1, DIR "/dev", XenbusStateInitWait, &err), ==, 0);
	/* Junk is a protocol error to readers, and simply overwritten. */
	guest_put("dev/state", "banana", 6);
	CHECK_INT(xvio_xb_read_state(xs0, XBT_NULL, DIR "/dev", &s, &err), ==, -EPROTO);
	CHECK_STR(err.msg, DIR "/dev/state: \"banana\" is not a XenbusState");
	CHECK_INT(xvio_xb_switch_state(xs1, DIR "/dev", XenbusStateClosing, &err), ==, 1);
	CHECK(xb_read(xs0, DIR "/dev/state", buf, sizeof(buf)));
	CHECK_STR(buf, "5");
	/* A removed device stays removed. */
	CHECK(xs_rm(xs0, XBT_NULL, DIR "/dev"));
	CHECK_INT(xvio_xb_switch_state(xs1, DIR "/dev", XenbusStateClosed, &err), ==, -ENOENT);
	CHECK(!xb_read(xs0, DIR "/dev", buf, sizeof(buf)));
	CHECK_INT(xvio_xb_read_state(xs0, XBT_NULL, DIR "/dev", &s, NULL), ==, -ENOENT);
	CHECK_INT(xvio_xb_switch_state(xs1, DIR "/dev", (enum xenbus_state)9, &err), ==,
	          -EINVAL);
}

static void test_errnode(void)
{
	char buf[128];

	/* dom0's backend: absolute path, error under /local/domain/0. */
	CHECK_INT(xvio_xs_report_error(xs0, XBT_NULL, "/local/domain/0/backend/vbd/1/51712",
	                               EINVAL, "bad ring-ref", NULL), ==, 0);
	CHECK(xb_read(xs0, "/local/domain/0/error/backend/vbd/1/51712/error", buf, sizeof(buf)));
	CHECK_STR(buf, "22 bad ring-ref");
	/* A guest's frontend: relative path, under its own home. */
	CHECK_INT(xvio_xs_report_error(xs1, XBT_NULL, "device/vbd/51712", ENODEV, "no backend",
	                               NULL), ==, 0);
	CHECK(xb_read(xs0, "/local/domain/1/error/device/vbd/51712/error", buf, sizeof(buf)));
	CHECK_STR(buf, "19 no backend");
	/* A guest cannot file errors into dom0's home. */
	CHECK_INT(xvio_xs_report_error(xs1, XBT_NULL, "/local/domain/0/backend/vbd/1/51712",
	                               EIO, "spoof", NULL), ==, -EACCES);
	/* Clearing removes the device's error directory; twice is fine. */
	CHECK_INT(xvio_xs_clear_error(xs1, XBT_NULL, "device/vbd/51712", NULL), ==, 0);
	CHECK(!xb_read(xs0, "/local/domain/1/error/device/vbd/51712", buf, sizeof(buf)));
	CHECK_INT(xvio_xs_clear_error(xs1, XBT_NULL, "device/vbd/51712", NULL), ==, 0);
	CHECK_INT(xvio_xs_clear_error(xs0, XBT_NULL, "/local/domain/0/backend/vbd/1/51712",
	                              NULL), ==, 0);
	CHECK(!xb_read(xs0, "/local/domain/0/error/backend/vbd/1/51712/error", buf, sizeof(buf)));
	CHECK_INT(xvio_xs_report_error(xs0, XBT_NULL, "/vm/x", EIO, "x", NULL), ==, -EINVAL);
}

static const struct check_case cases[] = {
	{ "typed", test_typed },
	{ "hostile", test_hostile },
	{ "errors", test_errors },
	{ "writes", test_writes },
	{ "switch", test_switch },
	{ "errnode", test_errnode },
};

int main(int argc, char **argv)
{
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), setup, teardown_sim);
}
