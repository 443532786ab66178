/* SPDX-License-Identifier: MIT */
/*
 * A hostile device: one case per protocol violation the driver side must
 * catch in the used ring (protocol §10), plus the chains the driver API
 * itself refuses.  The test writes used entries by hand; each case
 * expects get_used() to fail with -EPROTO, the queue to stay broken, and
 * the message to name the used slot and the id.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vqtest.h"

static struct vqt t;

static int get(void **cookie, uint32_t *len)
{
	return xvio_vqd_get_used(t.d, cookie, len);
}

static void expect(const char *want)
{
	void *c;
	uint32_t len;

	vqt_expect_drv_broken(&t, get(&c, &len), want);
}

/* Three chains: ids 0 (1 desc, 100 writable), 1-2 (2 descs, 50
 * writable), 3 (1 desc, readable only); published. */
static void setup_three(uint64_t feat)
{
	struct xvio_seg a = { .addr = 1, .len = 100, .write = true };
	struct xvio_seg b[2] = { { .addr = 2, .len = 10 }, { .addr = 3, .len = 50, .write = true } };
	struct xvio_seg c = { .addr = 4, .len = 10 };

	vqt_open(&t, 8, feat);
	CHECK_INT(xvio_vqd_add(t.d, &a, 1, (void *)1, NULL), ==, 0);
	CHECK_INT(xvio_vqd_add(t.d, b, 2, (void *)2, NULL), ==, 0);
	CHECK_INT(xvio_vqd_add(t.d, &c, 1, (void *)3, NULL), ==, 0);
	CHECK(xvio_vqd_kick_prepare(t.d));
	CHECK_INT(vqt_avail_head(&t, 0), ==, 0);
	CHECK_INT(vqt_avail_head(&t, 1), ==, 1);
	CHECK_INT(vqt_avail_head(&t, 2), ==, 3);
}

/* Complete as the device would: entry at slot pos, then the index. */
static void used(uint16_t pos, uint32_t id, uint32_t len)
{
	vqt_used(&t, pos, id, len);
	vqt_set_used_idx(&t, (uint16_t)(pos + 1));
}

static void t_good(void)
{
	void *c;
	uint32_t len;

	setup_three(0);
	used(0, 1, 50);
	used(1, 3, 0);
	used(2, 0, 7);
	CHECK_INT(get(&c, &len), ==, 1);
	CHECK(c == (void *)2 && len == 50);
	CHECK_INT(get(&c, &len), ==, 1);
	CHECK(c == (void *)3 && len == 0);
	CHECK_INT(get(&c, &len), ==, 1);
	CHECK(c == (void *)1 && len == 7);
	CHECK_INT(get(&c, &len), ==, 0);
	CHECK_INT(xvio_vqd_free_descs(t.d), ==, 8);
}

static void t_id_range(void)
{
	setup_three(0);
	used(0, 8, 0);
	expect("used.ring[0]: id 8 out of range (queue size 8)");
}

static void t_id_huge(void)
{
	setup_three(F_EVENT_IDX);
	used(0, 0xffffffffu, 0);
	expect("used.ring[0]: id 4294967295 out of range (queue size 8)");
}

static void t_not_in_flight(void)
{
	setup_three(0);
	used(0, 5, 0);
	expect("used.ring[0]: id 5 is not in flight");
}

/* The same id twice: the second time it is no longer in flight. */
static void t_twice(void)
{
	void *c;
	uint32_t len;

	setup_three(0);
	used(0, 0, 1);
	used(1, 0, 1);
	CHECK_INT(get(&c, &len), ==, 1);
	expect("used.ring[1]: id 0 is not in flight");
}

static void t_not_head(void)
{
	setup_three(0);
	used(0, 2, 0);
	expect("used.ring[0]: id 2 is not a chain head (it is inside the chain at 1)");
}

static void t_len(void)
{
	setup_three(0);
	used(0, 1, 51);
	expect("used.ring[0]: id 1: length 51 exceeds the 50 writable bytes posted");
}

static void t_len_readonly(void)
{
	setup_three(0);
	used(0, 3, 1);
	expect("used.ring[0]: id 3: length 1 exceeds the 0 writable bytes posted");
}

static void t_idx_jump(void)
{
	setup_three(0);
	vqt_set_used_idx(&t, 9);
	expect("used.idx jumped from 0 to 9 (queue size 8)");
}

static void t_idx_backwards(void)
{
	void *c;
	uint32_t len;

	setup_three(F_EVENT_IDX);
	used(0, 0, 0);
	CHECK_INT(get(&c, &len), ==, 1);
	vqt_set_used_idx(&t, 0);
	expect("used.idx jumped from 1 to 0 (queue size 8)");
}

/* An id the driver added but did not publish yet. */
static void t_unpublished(void)
{
	struct xvio_seg s = { .addr = 9, .len = 10, .write = true };

	setup_three(0);
	CHECK_INT(xvio_vqd_add(t.d, &s, 1, (void *)9, NULL), ==, 0);
	CHECK_INT(vqt_avail_head(&t, 3), ==, 4);
	used(0, 4, 0);
	expect("used.ring[0]: id 4 was not made available yet");
}

/* Take the completion of id 0 (cookie 1, length 1), then post a chain
 * (cookie 9, 100 writable bytes) that reuses id 0 and publish it. */
static void take_and_repost(void)
{
	struct xvio_seg s = { .addr = 9, .len = 100, .write = true };
	void *c;
	uint32_t len;

	CHECK_INT(get(&c, &len), ==, 1);
	CHECK(c == (void *)1 && len == 1);
	CHECK_INT(xvio_vqd_add(t.d, &s, 1, (void *)9, NULL), ==, 0);
	CHECK_INT(vqt_avail_head(&t, 3), ==, 0);
	CHECK(xvio_vqd_kick_prepare(t.d));
}

/*
 * The same id twice in one batch, with the driver re-posting and
 * publishing that id between taking the two entries (as a frontend's
 * completion callback does, and as its mid-batch publication then
 * exposes).  The second entry was written before the re-post was
 * published - the driver saw it then - so it cannot complete it.
 */
static void t_repeat_reposted(void)
{
	setup_three(0);
	used(0, 0, 1);
	used(1, 0, 1);
	take_and_repost();
	expect("used.ring[1]: id 0 was not made available yet when this entry was "
	       "published (it was, once used.idx was 2)");
}

/* A re-posted id completed after the index the driver saw when it
 * published it: a good completion. */
static void t_reposted_good(void)
{
	void *c;
	uint32_t len;

	setup_three(0);
	used(0, 0, 1);
	take_and_repost();
	used(1, 0, 2);
	CHECK_INT(get(&c, &len), ==, 1);
	CHECK(c == (void *)9 && len == 2);
	CHECK(!xvio_vqd_broken(t.d));
}

/* A chain in flight over 40000 other completions (past half the 16-bit
 * index space, where a wrapped comparison would call it early) is still
 * completable. */
static void t_held_over_wrap(void)
{
	struct xvio_seg s = { .addr = 9, .len = 100, .write = true };
	uint16_t pos = 0;
	void *c;
	uint32_t len;

	vqt_open(&t, 8, F_EVENT_IDX);
	CHECK_INT(xvio_vqd_add(t.d, &s, 1, (void *)1, NULL), ==, 0);
	CHECK(xvio_vqd_kick_prepare(t.d));
	for (unsigned i = 0; i < 40000; i++, pos++) {
		CHECK_INT(xvio_vqd_add(t.d, &s, 1, (void *)2, NULL), ==, 0);
		xvio_vqd_kick_prepare(t.d);
		used(pos, 1, 0);
		CHECK_INT(get(&c, &len), ==, 1);
		CHECK(c == (void *)2);
	}
	used(pos, 0, 3);
	CHECK_INT(get(&c, &len), ==, 1);
	CHECK(c == (void *)1 && len == 3);
	CHECK(!xvio_vqd_broken(t.d));
}

/* An indirect chain is one id; its table entries are not ids. */
static void t_indirect_len(void)
{
	struct xvio_seg s[3] = {
		{ .addr = 1, .len = 10 },
		{ .addr = 2, .len = 20, .write = true },
		{ .addr = 3, .len = 30, .write = true },
	};
	struct xvio_vq_indirect tab = { .table = NULL, .addr = 0, .n = 3 };

	vqt_open(&t, 4, F_INDIRECT);
	tab.table = t.area.mem;
	CHECK_INT(xvio_vqd_add(t.d, s, 3, (void *)1, &tab), ==, 0);
	CHECK_INT(xvio_vqd_free_descs(t.d), ==, 3);
	CHECK(xvio_vqd_kick_prepare(t.d));
	used(0, 0, 51);
	expect("used.ring[0]: id 0: length 51 exceeds the 50 writable bytes posted");
}

/* Chains the driver API refuses: -EINVAL or -ENOSPC, nothing posted. */
static void t_add_invalid(void)
{
	struct xvio_seg s[300];
	struct xvio_vq_indirect tab = { .table = NULL, .addr = 0, .n = 2 };

	vqt_open(&t, 8, F_INDIRECT);
	tab.table = t.area.mem;
	for (unsigned i = 0; i < 300; i++)
		s[i] = (struct xvio_seg){ .addr = i, .len = 1, .write = i >= 150 };
	CHECK_INT(xvio_vqd_add(t.d, s, 0, NULL, NULL), ==, -EINVAL);        /* empty */
	CHECK_INT(xvio_vqd_add(t.d, NULL, 1, NULL, NULL), ==, -EINVAL);
	CHECK_INT(xvio_vqd_add(t.d, s, 9, NULL, NULL), ==, -EINVAL);        /* > size */
	CHECK_INT(xvio_vqd_add(t.d, s, 3, NULL, &tab), ==, -EINVAL);        /* table too small */
	tab.n = 300;
	CHECK_INT(xvio_vqd_add(t.d, s, 257, NULL, &tab), ==, -EINVAL);      /* > 256 */
	s[151].write = false;
	CHECK_INT(xvio_vqd_add(t.d, &s[150], 2, NULL, NULL), ==, -EINVAL);  /* read after write */
	s[151].write = true;
	s[1].len = 0;
	CHECK_INT(xvio_vqd_add(t.d, s, 2, NULL, NULL), ==, -EINVAL);        /* zero length */
	s[1].len = XVIO_VQ_MAX_SEG + 1;
	CHECK_INT(xvio_vqd_add(t.d, s, 2, NULL, NULL), ==, -EINVAL);        /* segment > 4 MiB */
	for (unsigned i = 0; i < 17; i++)
		s[i].len = XVIO_VQ_MAX_SEG;
	CHECK_INT(xvio_vqd_add(t.d, s, 17, NULL, &tab), ==, -EINVAL);       /* > 64 MiB */
	CHECK_INT(xvio_vqd_add(t.d, s, 16, NULL, &tab), ==, 0);             /* = 64 MiB */
	for (unsigned i = 0; i < 7; i++)
		CHECK_INT(xvio_vqd_add(t.d, s, 1, NULL, NULL), ==, 0);
	CHECK_INT(xvio_vqd_add(t.d, s, 1, NULL, NULL), ==, -ENOSPC);
	CHECK_INT(xvio_vqd_free_descs(t.d), ==, 0);
	CHECK_INT(xvio_vqd_in_flight(t.d), ==, 8);
	CHECK(!xvio_vqd_broken(t.d));
	CHECK_INT(vqt_avail_idx(&t), ==, 0);                                 /* not kicked */
}

/* add_checked() trusts the chain but not the ring's state. */
static void t_add_checked_invalid(void)
{
	struct xvio_seg s[9];

	vqt_open(&t, 8, 0);
	for (unsigned i = 0; i < 9; i++)
		s[i] = (struct xvio_seg){ .addr = i, .len = 1, .write = i >= 4 };
	CHECK_INT(xvio_vqd_add_checked(t.d, s, 0, 0, NULL), ==, -EINVAL);   /* empty */
	CHECK_INT(xvio_vqd_add_checked(t.d, s, 9, 5, NULL), ==, -EINVAL);   /* > size */
	CHECK_INT(xvio_vqd_add_checked(t.d, s, 8, 4, NULL), ==, 0);
	CHECK_INT(xvio_vqd_add_checked(t.d, s, 1, 0, NULL), ==, -ENOSPC);
	CHECK_INT(xvio_vqd_in_flight(t.d), ==, 1);
	CHECK(xvio_vqd_kick_prepare(t.d));
	used(0, 5, 0); /* inside the chain at 0 */
	expect("used.ring[0]: id 5 is not a chain head (it is inside the chain at 0)");
	CHECK_INT(xvio_vqd_add_checked(t.d, s, 1, 0, NULL), ==, -EPROTO);
}

/* The writable bytes the caller states are the limit completions meet. */
static void t_add_checked_len(void)
{
	struct xvio_seg b[2] = { { .addr = 2, .len = 10 }, { .addr = 3, .len = 50, .write = true } };
	void *c;
	uint32_t len;

	vqt_open(&t, 8, 0);
	CHECK_INT(xvio_vqd_add_checked(t.d, b, 2, 50, (void *)7), ==, 0);
	CHECK_INT(xvio_vqd_add_checked(t.d, b, 2, 50, (void *)8), ==, 0);
	CHECK(xvio_vqd_kick_prepare(t.d));
	CHECK_INT(vqt_avail_head(&t, 0), ==, 0);
	CHECK_INT(vqt_avail_head(&t, 1), ==, 2);
	used(0, 0, 50);
	CHECK_INT(get(&c, &len), ==, 1);
	CHECK(c == (void *)7 && len == 50);
	used(1, 2, 51);
	expect("used.ring[1]: id 2: length 51 exceeds the 50 writable bytes posted");
}

static const struct check_case cases[] = {
	{ "good", t_good },
	{ "id-range", t_id_range },
	{ "id-huge", t_id_huge },
	{ "not-in-flight", t_not_in_flight },
	{ "twice", t_twice },
	{ "not-head", t_not_head },
	{ "len", t_len },
	{ "len-readonly", t_len_readonly },
	{ "idx-jump", t_idx_jump },
	{ "idx-backwards", t_idx_backwards },
	{ "unpublished", t_unpublished },
	{ "repeat-reposted", t_repeat_reposted },
	{ "reposted-good", t_reposted_good },
	{ "held-over-wrap", t_held_over_wrap },
	{ "indirect-len", t_indirect_len },
	{ "add-invalid", t_add_invalid },
	{ "add-checked-invalid", t_add_checked_invalid },
	{ "add-checked-len", t_add_checked_len },
};

static void teardown(void)
{
	vqt_close(&t);
}

int main(int argc, char **argv)
{
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, teardown);
}
