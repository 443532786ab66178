/* SPDX-License-Identifier: MIT */
/*
 * Unit: the frontend's area allocator (xenbus/xport_area.c) over plain
 * memory, no simulator.
 *
 * random     a million random allocations and frees of 1 byte .. 4 MiB in
 *            a 16 MiB area: blocks never overlap, are aligned to their
 *            size, never cross a 4 MiB chunk (one share) nor, up to a
 *            page, a page; the pointer matches the offset; a full area
 *            says -ENOMEM; once all is freed the area merges back into
 *            whole 4 MiB blocks
 * odd-size   an area of 1027 pages (not a power of two) is used whole
 * args       -EINVAL for 0 and oversized lengths, -ENOTCONN before init
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "xport_impl.h"

#define PAGES 4096u
#define SLOTS 512u

static struct xport_area area;
static uint8_t *owner; /* per 64-byte unit: slot + 1 of the block using it */

static uint64_t rs = 88172645463325252ull;

static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static void setup_area(unsigned pages)
{
	size_t bytes = (size_t)pages * XVIO_PAGE_SIZE;
	char *mem = malloc(bytes);

	CHECK(mem != NULL);
	memset(&area, 0, sizeof(area));
	area.pages = pages;
	for (unsigned c = 0; c * XPORT_CHUNK_BYTES < bytes; c++)
		area.base[c] = mem + (size_t)c * XPORT_CHUNK_BYTES;
	CHECK_INT(xport_buddy_init(&area, (uint32_t)bytes), ==, 0);
	owner = calloc(bytes / 64, 1);
	CHECK(owner != NULL);
}

static void teardown_area(void)
{
	free(area.base[0]);
	xport_buddy_fini(&area);
	free(owner);
}

static uint32_t pick_len(void)
{
	uint64_t r = rnd();

	switch (r % 4) {
	case 0: return 1 + (uint32_t)((r >> 8) % 64);
	case 1: return 1 + (uint32_t)((r >> 8) % 4096);
	case 2: return 1 + (uint32_t)((r >> 8) % 65536);
	default: return 1 + (uint32_t)((r >> 8) % ((r >> 40) % 7 ? 262144 : XVIO_XPORT_MAX_BUF));
	}
}

static void check_block(const struct xvio_xport_buf *b, unsigned slot, bool mark)
{
	uint32_t size = 1u << b->order;

	CHECK(size >= b->len && size >= 64 && (size == 64 || size / 2 < b->len));
	CHECK_INT(b->off % size, ==, 0);
	CHECK_INT(b->off / XPORT_CHUNK_BYTES, ==, (b->off + size - 1) / XPORT_CHUNK_BYTES);
	if (size <= XVIO_PAGE_SIZE)
		CHECK_INT(b->off / XVIO_PAGE_SIZE, ==, (b->off + size - 1) / XVIO_PAGE_SIZE);
	CHECK(b->ptr == xport_area_ptr(&area, b->off));
	CHECK((uint64_t)b->off + size <= (uint64_t)area.pages * XVIO_PAGE_SIZE);
	for (uint32_t u = b->off / 64; u < (b->off + size) / 64; u++) {
		if (mark) {
			CHECK_INT(owner[u], ==, 0); /* overlap */
			owner[u] = (uint8_t)(slot % 255 + 1);
		} else {
			owner[u] = 0;
		}
	}
}

static void test_random(void)
{
	static struct xvio_xport_buf bufs[SLOTS];
	unsigned full = 0;

	setup_area(PAGES);
	for (unsigned i = 0; i < 1000000; i++) {
		unsigned s = (unsigned)(rnd() % SLOTS);

		if (bufs[s].ptr) {
			check_block(&bufs[s], s, false);
			xport_area_free(&area, &bufs[s]);
			CHECK(bufs[s].ptr == NULL);
			continue;
		}
		int rc = xport_area_alloc(&area, pick_len(), &bufs[s]);

		if (rc == -ENOMEM) {
			full++;
			continue;
		}
		CHECK_INT(rc, ==, 0);
		check_block(&bufs[s], s, true);
	}
	CHECK(full > 0); /* the area did fill up now and then */
	for (unsigned s = 0; s < SLOTS; s++) {
		if (bufs[s].ptr)
			xport_area_free(&area, &bufs[s]);
	}
	CHECK_INT(area.used_bytes, ==, 0);
	/* Everything merged back: four whole 4 MiB blocks, then full. */
	for (unsigned i = 0; i < PAGES / XPORT_CHUNK_PAGES; i++)
		CHECK_INT(xport_area_alloc(&area, XVIO_XPORT_MAX_BUF, &bufs[i]), ==, 0);
	CHECK_INT(xport_area_alloc(&area, 1, &bufs[SLOTS - 1]), ==, -ENOMEM);
	teardown_area();
}

static void test_odd_size(void)
{
	struct xvio_xport_buf b;
	unsigned n = 0;

	setup_area(1027);
	while (xport_area_alloc(&area, XVIO_PAGE_SIZE, &b) == 0) {
		check_block(&b, 1, true);
		n++;
	}
	CHECK_INT(n, ==, 1027);
	CHECK_INT(area.used_bytes, ==, 1027u * XVIO_PAGE_SIZE);
	teardown_area();
}

static void test_args(void)
{
	struct xvio_xport_buf b;

	memset(&area, 0, sizeof(area));
	CHECK_INT(xport_area_alloc(&area, 64, &b), ==, -ENOTCONN);
	setup_area(16);
	CHECK_INT(xport_area_alloc(&area, 0, &b), ==, -EINVAL);
	CHECK_INT(xport_area_alloc(&area, XVIO_XPORT_MAX_BUF + 1, &b), ==, -EINVAL);
	CHECK_INT(xport_area_alloc(&area, 16 * XVIO_PAGE_SIZE + 1, &b), ==, -ENOMEM);
	CHECK_INT(xport_area_alloc(&area, 8 * XVIO_PAGE_SIZE, &b), ==, 0);
	teardown_area();
}

int main(int argc, char **argv)
{
	static const struct check_case cases[] = {
		{ "random", test_random },
		{ "odd-size", test_odd_size },
		{ "args", test_args },
	};

	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
