/* SPDX-License-Identifier: MIT */
/* Ring layout (protocol §4) and argument checks of the constructors. */
#include <errno.h>
#include <stdlib.h>

#include "vqtest.h"

/* Every valid size against the formula; the table's examples literally. */
static void t_layout(void)
{
	for (unsigned n = 2; n <= 1024; n *= 2) {
		size_t a = 16 * (size_t)n + 6 + 2 * (size_t)n;
		size_t off = (a + 4095) / 4096 * 4096;
		size_t bytes = off + 6 + 8 * (size_t)n;

		CHECK_INT(xvio_vring_used_offset(n), ==, off);
		CHECK_INT(xvio_vring_bytes(n), ==, bytes);
		CHECK_INT(xvio_vring_pages(n), ==, (bytes + 4095) / 4096);
		CHECK_INT(xvio_vring_pages(n), <=, 8);
	}
	CHECK_INT(xvio_vring_pages(256), ==, 3);
	/* 20480 + 6 + 8192 = 28678 bytes: the formula gives 8 pages (the
	 * "7" in protocol.md's examples was an arithmetic slip). */
	CHECK_INT(xvio_vring_pages(1024), ==, 8);
	CHECK_INT(xvio_vring_bytes(1024), ==, 28678);
	CHECK_INT(xvio_vring_used_offset(256), ==, 8192);
	CHECK_INT(xvio_vring_bytes(2), ==, 4096 + 6 + 16);
}

static void t_bad_sizes(void)
{
	static const unsigned bad[] = { 0, 1, 3, 6, 100, 1023, 2048, 4096, 65536, ~0u };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(xvio_vring_bytes(bad[i]), ==, 0);
		CHECK_INT(xvio_vring_pages(bad[i]), ==, 0);
		CHECK_INT(xvio_vring_used_offset(bad[i]), ==, 0);
	}
}

static void t_new_args(void)
{
	static const unsigned bad[] = { 0, 1, 3, 2048 };
	void *ring = calloc(1, xvio_vring_bytes(1024));
	struct xvio_vqd *d = NULL;
	struct xvio_vqdev *v = NULL;

	CHECK(ring);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(xvio_vqd_new(ring, bad[i], 0, &d), ==, -EINVAL);
		CHECK_INT(xvio_vqdev_new(ring, bad[i], 0, &v), ==, -EINVAL);
	}
	CHECK_INT(xvio_vqd_new((char *)ring + 8, 8, 0, &d), ==, -EINVAL);
	CHECK_INT(xvio_vqdev_new((char *)ring + 2, 8, 0, &v), ==, -EINVAL);
	CHECK_INT(xvio_vqd_new(NULL, 8, 0, &d), ==, -EINVAL);
	CHECK_INT(xvio_vqdev_new(NULL, 8, 0, &v), ==, -EINVAL);
	CHECK(d == NULL && v == NULL);
	CHECK_INT(xvio_vqd_new(ring, 1024, F_INDIRECT | F_EVENT_IDX, &d), ==, 0);
	CHECK_INT(xvio_vqdev_new(ring, 1024, F_INDIRECT | F_EVENT_IDX, &v), ==, 0);
	CHECK_INT(xvio_vqd_free_descs(d), ==, 1024);
	CHECK_INT(xvio_vqd_in_flight(d), ==, 0);
	CHECK_INT(xvio_vqdev_in_flight(v), ==, 0);
	CHECK(!xvio_vqd_broken(d) && !xvio_vqdev_broken(v));
	CHECK_STR(xvio_vqd_error(d), "");
	CHECK_STR(xvio_vqdev_error(v), "");
	xvio_vqd_free(d);
	xvio_vqdev_free(v);
	xvio_vqd_free(NULL);
	xvio_vqdev_free(NULL);
	free(ring);
}

static const struct check_case cases[] = {
	{ "layout", t_layout },
	{ "bad-sizes", t_bad_sizes },
	{ "new-args", t_new_args },
};

int main(int argc, char **argv)
{
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
