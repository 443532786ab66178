/* SPDX-License-Identifier: MIT */
/* vdev names <-> devids (libxl's xvd numbering), both directions. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "blkfront.h"
#include "check.h"

static void both(const char *name, unsigned devid)
{
	char buf[32];
	unsigned got = 0;

	CHECK_INT(xvio_blk_vdev_parse(name, &got), ==, 0);
	CHECK_INT(got, ==, devid);
	CHECK_INT(xvio_blk_vdev_name(devid, buf, sizeof(buf)), ==, (int)strlen(name));
	CHECK_STR(buf, name);
}

static void t_known(void)
{
	both("xvda", 51712);
	both("xvdb", 51728);
	both("xvdp", 51712 + 15 * 16);
	both("xvda1", 51713);
	both("xvdb15", 51743);
	both("xvdq", 1u << 28 | 16u << 8);        /* disk 16: extended */
	both("xvdz", 1u << 28 | 25u << 8);
	both("xvdaa", 1u << 28 | 26u << 8);
	both("xvdzz", 1u << 28 | 701u << 8);
	both("xvdaaa", 1u << 28 | 702u << 8);
	both("xvda16", 1u << 28 | 0u << 8 | 16);  /* partition 16: extended */
	both("xvdq255", 1u << 28 | 16u << 8 | 255);
}

static void t_roundtrip(void)
{
	char buf[32];
	unsigned got;

	for (unsigned disk = 0; disk < 5000; disk++) {
		for (unsigned part = 0; part < 256; part += 17) {
			unsigned id = disk < 16 && part < 16 ? 51712 + disk * 16 + part
			              : 1u << 28 | disk << 8 | part;

			CHECK(xvio_blk_vdev_name(id, buf, sizeof(buf)) > 0);
			CHECK_INT(xvio_blk_vdev_parse(buf, &got), ==, 0);
			CHECK_INT(got, ==, id);
		}
	}
}

static void t_bad(void)
{
	static const char *const names[] = {
		"", "xvd", "xvdA", "xvda0", "xvda01", "xvda256", "xvdb-1", "hda", "sda",
		"xvda1x", "xvd1", "disk5", "xvda 1",
	};
	static const unsigned ids[] = { 0, 768, 51711, 51712 + 256, 2u << 28,
	                                1u << 28 | 3u << 8 /* disk 3 must be compact */ };
	char buf[32];
	unsigned got;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (xvio_blk_vdev_parse(names[i], &got) != -EINVAL)
			CHECK_FAIL("\"%s\" accepted as %u", names[i], got);
	}
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		CHECK_INT(xvio_blk_vdev_name(ids[i], buf, sizeof(buf)), ==, -EINVAL);
	CHECK_INT(xvio_blk_vdev_name(51728, buf, 4), ==, -ENAMETOOLONG);
}

static const struct check_case cases[] = {
	{ "known", t_known }, { "roundtrip", t_roundtrip }, { "bad", t_bad },
};

int main(int argc, char **argv)
{
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
