/* SPDX-License-Identifier: MIT */
/*
 * Reconnect (protocol §7): the driver takes back what is still in flight,
 * oldest first, on a re-zeroed ring, and a new device session sees the
 * resubmitted chains in their original order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vqtest.h"

static struct xvio_chain chain;

/* Request k: k+1 segments (2 readable at most), addresses tagged by k. */
static void add_req(struct vqt *t, uintptr_t k, bool ind)
{
	struct xvio_seg s[4];
	unsigned n = (unsigned)(k % 4) + 1;
	struct xvio_vq_indirect tab = {
		.table = t->area.mem + k * 4096, .addr = k * 4096, .n = 4,
	};

	for (unsigned i = 0; i < n; i++)
		s[i] = (struct xvio_seg){ .addr = k << 8 | i, .len = 100, .write = i >= 2 };
	CHECK_INT(xvio_vqd_add(t->d, s, n, (void *)k, ind ? &tab : NULL), ==, 0);
}

static uint16_t pop_req(struct vqt *t, uintptr_t k)
{
	CHECK_INT(xvio_vqdev_pop(t->v, &t->xl, &chain), ==, 1);
	CHECK_INT(chain.n, ==, k % 4 + 1);
	for (unsigned i = 0; i < chain.n; i++)
		CHECK_INT(chain.seg[i].addr, ==, k << 8 | i);
	return chain.head;
}

static void check_zero(const struct vqt *t)
{
	for (size_t i = 0; i < t->bytes; i++)
		if (t->ring[i])
			CHECK_FAIL("ring byte %zu is %#x after reset", i, t->ring[i]);
}

/* After reset: a new device (backend restart) on the same ring. */
static void new_session(struct vqt *t)
{
	xvio_vqdev_free(t->v);
	CHECK_INT(xvio_vqdev_new(t->ring, t->size, t->feat, &t->v), ==, 0);
	CHECK_INT(xvio_vqd_free_descs(t->d), ==, t->size);
	CHECK_INT(xvio_vqd_in_flight(t->d), ==, 0);
	CHECK(!xvio_vqd_broken(t->d));
	CHECK_STR(xvio_vqd_error(t->d), "");
}

/* Resubmit cookies[0..n) and run them to completion, in order. */
static void resubmit(struct vqt *t, void **cookies, unsigned n)
{
	uint16_t heads[16];
	void *c;
	uint32_t len;

	for (unsigned i = 0; i < n; i++)
		add_req(t, (uintptr_t)cookies[i], i % 2);
	CHECK(xvio_vqd_kick_prepare(t->d));
	for (unsigned i = 0; i < n; i++)
		heads[i] = pop_req(t, (uintptr_t)cookies[i]);
	for (unsigned i = 0; i < n; i++)
		CHECK_INT(xvio_vqdev_push(t->v, heads[i], 0), ==, 0);
	for (unsigned i = 0; i < n; i++) {
		CHECK_INT(xvio_vqd_get_used(t->d, &c, &len), ==, 1);
		CHECK(c == cookies[i]);
	}
	CHECK_INT(xvio_vqd_get_used(t->d, &c, &len), ==, 0);
}

static void t_in_flight(void)
{
	void *cookies[16], *c;
	uint16_t heads[6];
	uint32_t len;
	struct vqt t;

	vqt_open(&t, 16, F_INDIRECT | F_EVENT_IDX);
	for (uintptr_t k = 1; k <= 6; k++)
		add_req(&t, k, k % 2);
	CHECK(xvio_vqd_kick_prepare(t.d));
	for (uintptr_t k = 1; k <= 4; k++)
		heads[k] = pop_req(&t, k);
	/* The device completes 3 then 1, out of order, and dies. */
	CHECK_INT(xvio_vqdev_push(t.v, heads[3], 0), ==, 0);
	CHECK_INT(xvio_vqdev_push(t.v, heads[1], 0), ==, 0);
	CHECK_INT(xvio_vqd_get_used(t.d, &c, &len), ==, 1);
	CHECK(c == (void *)3);
	CHECK_INT(xvio_vqd_get_used(t.d, &c, &len), ==, 1);
	CHECK(c == (void *)1);
	CHECK_INT(xvio_vqd_get_used(t.d, &c, &len), ==, 0);
	CHECK_INT(xvio_vqd_in_flight(t.d), ==, 4);
	CHECK_INT(xvio_vqd_reset(t.d, cookies, 16), ==, 4);
	CHECK(cookies[0] == (void *)2 && cookies[1] == (void *)4);
	CHECK(cookies[2] == (void *)5 && cookies[3] == (void *)6);
	check_zero(&t);
	new_session(&t);
	resubmit(&t, cookies, 4);
	vqt_close(&t);
}

/* Order is submission order, not descriptor order: freed low ids are
 * reused by later requests. */
static void t_order(void)
{
	void *cookies[8], *c;
	uint32_t len;
	struct vqt t;
	uint16_t h;

	vqt_open(&t, 8, 0);
	add_req(&t, 4, false);   /* 1 descriptor: id 0 */
	add_req(&t, 5, false);   /* 2 descriptors: ids 1, 2 */
	add_req(&t, 6, false);
	(void)xvio_vqd_kick_prepare(t.d);
	h = pop_req(&t, 4);
	CHECK_INT(h, ==, 0);
	CHECK_INT(xvio_vqdev_push(t.v, h, 0), ==, 0);
	CHECK_INT(xvio_vqd_get_used(t.d, &c, &len), ==, 1);
	add_req(&t, 8, false);   /* reuses id 0 */
	(void)xvio_vqd_kick_prepare(t.d);
	CHECK_INT(xvio_vqd_reset(t.d, cookies, 8), ==, 3);
	CHECK(cookies[0] == (void *)5 && cookies[1] == (void *)6 && cookies[2] == (void *)8);
	check_zero(&t);
	new_session(&t);
	resubmit(&t, cookies, 3);
	vqt_close(&t);
}

static void collect(void *cookie, void *arg)
{
	void ***at = arg;

	*(*at)++ = cookie;
}

/* Listing what is in flight (a queue torn down without a reset) changes
 * nothing: same chains and order as reset, ring untouched. */
static void t_list(void)
{
	void *seen[8], **at = seen, *c;
	uint16_t h;
	uint32_t len;
	struct vqt t;
	uint8_t *before;

	vqt_open(&t, 8, 0);
	CHECK(xvio_vqd_oldest(t.d) == NULL);
	add_req(&t, 4, false);   /* id 0 */
	add_req(&t, 5, false);   /* ids 1, 2 */
	add_req(&t, 6, false);
	(void)xvio_vqd_kick_prepare(t.d);
	CHECK(xvio_vqd_oldest(t.d) == (void *)4);
	h = pop_req(&t, 4);
	CHECK_INT(xvio_vqdev_push(t.v, h, 0), ==, 0);
	CHECK_INT(xvio_vqd_get_used(t.d, &c, &len), ==, 1);
	add_req(&t, 8, false);   /* reuses id 0, newest */
	CHECK(xvio_vqd_oldest(t.d) == (void *)5);
	before = malloc(t.bytes);
	CHECK(before != NULL);
	memcpy(before, t.ring, t.bytes);
	xvio_vqd_for_each(t.d, collect, &at);
	CHECK_INT(at - seen, ==, 3);
	CHECK(seen[0] == (void *)5 && seen[1] == (void *)6 && seen[2] == (void *)8);
	CHECK(memcmp(before, t.ring, t.bytes) == 0);
	CHECK_INT(xvio_vqd_in_flight(t.d), ==, 3);
	free(before);
	vqt_close(&t);
}

/* Chains added but never published are in flight for the caller too. */
static void t_unpublished(void)
{
	void *cookies[4];
	struct vqt t;

	vqt_open(&t, 4, 0);
	add_req(&t, 1, false);
	add_req(&t, 4, false);
	CHECK_INT(xvio_vqd_free_descs(t.d), ==, 1);
	CHECK_INT(xvio_vqd_reset(t.d, cookies, 4), ==, 2);
	CHECK(cookies[0] == (void *)1 && cookies[1] == (void *)4);
	check_zero(&t);
	new_session(&t);
	resubmit(&t, cookies, 2);
	vqt_close(&t);
}

/* A broken queue is usable again after reset; its chains come back. */
static void t_broken(void)
{
	void *cookies[8], *c;
	uint32_t len;
	struct vqt t;

	vqt_open(&t, 8, F_EVENT_IDX);
	add_req(&t, 1, false);
	add_req(&t, 2, false);
	(void)xvio_vqd_kick_prepare(t.d);
	vqt_used(&t, 0, 7, 0);
	vqt_set_used_idx(&t, 1);
	vqt_expect_drv_broken(&t, xvio_vqd_get_used(t.d, &c, &len), "id 7 is not in flight");
	CHECK_INT(xvio_vqd_reset(t.d, cookies, 8), ==, 2);
	CHECK(cookies[0] == (void *)1 && cookies[1] == (void *)2);
	check_zero(&t);
	new_session(&t);
	resubmit(&t, cookies, 2);
	vqt_close(&t);
}

/* At most `max` cookies are written (ASan: a 2-slot array). */
static void t_max(void)
{
	void **cookies = calloc(2, sizeof(void *));
	struct vqt t;

	CHECK(cookies);
	vqt_open(&t, 8, 0);
	for (uintptr_t k = 4; k < 9; k += 4)
		add_req(&t, k, false);
	add_req(&t, 12, false);
	CHECK_INT(xvio_vqd_reset(t.d, cookies, 2), ==, 2);
	CHECK(cookies[0] == (void *)4 && cookies[1] == (void *)8);
	CHECK_INT(xvio_vqd_in_flight(t.d), ==, 0);
	CHECK_INT(xvio_vqd_reset(t.d, NULL, 0), ==, 0);
	free(cookies);
	vqt_close(&t);
}

static const struct check_case cases[] = {
	{ "in-flight", t_in_flight },
	{ "order", t_order },
	{ "list", t_list },
	{ "unpublished", t_unpublished },
	{ "broken", t_broken },
	{ "max", t_max },
};

int main(int argc, char **argv)
{
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
