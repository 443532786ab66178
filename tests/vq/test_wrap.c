/* SPDX-License-Identifier: MIT */
/*
 * The 16-bit ring indices wrap: run more than 65536 requests through
 * small rings and check every completion, the raw indices, and that the
 * notification decisions stay right across the wrap (vring_need_event's
 * modular arithmetic).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vqtest.h"

#define ROUNDS 70000u   /* > 65536: both indices wrap at least once */

/* Two segments: two descriptors, or one and a table (one per slot). */
static void add_one(struct vqt *t, uintptr_t cookie, uint32_t in, unsigned slot)
{
	struct xvio_seg s[2] = {
		{ .addr = cookie, .len = 16, .write = false },
		{ .addr = cookie + 16, .len = in, .write = true },
	};
	struct xvio_vq_indirect tab = {
		.table = t->area.mem + (size_t)slot * 32, .addr = (uint64_t)slot * 32, .n = 2,
	};

	CHECK_INT(xvio_vqd_add(t->d, s, 2, (void *)cookie, &tab), ==, 0);
}

static void pop_one(struct vqt *t, uintptr_t cookie, uint16_t *head)
{
	static struct xvio_chain c;

	CHECK_INT(xvio_vqdev_pop(t->v, &t->xl, &c), ==, 1);
	CHECK_INT(c.n, ==, 2);
	CHECK_INT(c.seg[0].addr, ==, cookie);
	CHECK_INT(c.seg[1].addr, ==, cookie + 16);
	*head = c.head;
}

static void get_one(struct vqt *t, uintptr_t cookie, uint32_t len)
{
	void *got;
	uint32_t n;

	CHECK_INT(xvio_vqd_get_used(t->d, &got, &n), ==, 1);
	CHECK(got == (void *)cookie);
	CHECK_INT(n, ==, len);
}

/*
 * One request at a time, each side sleeping between requests: every
 * publication crosses the peer's event (or flags allow it), so every kick
 * and every interrupt must be asked for, before and after the wrap.
 */
static void lockstep(unsigned size, uint64_t feat)
{
	static struct xvio_chain c;
	struct vqt t;
	void *got;
	uint32_t n;

	vqt_open(&t, size, feat);
	for (uintptr_t i = 1; i <= ROUNDS; i++) {
		uint16_t head;

		add_one(&t, i * 64, 100, 0);
		CHECK(xvio_vqd_kick_prepare(t.d));
		pop_one(&t, i * 64, &head);
		CHECK_INT(xvio_vqdev_pop(t.v, &t.xl, &c), ==, 0);
		CHECK_INT(xvio_vqdev_push(t.v, head, (uint32_t)(i % 101)), ==, 0);
		CHECK(xvio_vqdev_need_notify(t.v));
		get_one(&t, i * 64, (uint32_t)(i % 101));
		CHECK_INT(xvio_vqd_get_used(t.d, &got, &n), ==, 0);
		if (feat & F_EVENT_IDX) {
			CHECK_INT(vqt_avail_event(&t), ==, i & 0xffff);
			CHECK_INT(vqt_used_event(&t), ==, i & 0xffff);
		}
	}
	CHECK_INT(vqt_avail_idx(&t), ==, ROUNDS & 0xffff);
	CHECK_INT(vqt_used_idx(&t), ==, ROUNDS & 0xffff);
	CHECK_INT(xvio_vqd_free_descs(t.d), ==, size);
	vqt_close(&t);
}

static void t_lockstep(void)
{
	lockstep(2, 0);
}

static void t_lockstep_event_idx(void)
{
	lockstep(2, F_EVENT_IDX);
}

static void t_lockstep_indirect(void)
{
	lockstep(4, F_EVENT_IDX | F_INDIRECT);
}

/*
 * A full ring in flight, completed in reverse: ids are reused out of order
 * while the indices wrap.  With EVENT_IDX and both sides busy, a second
 * publication before the peer drained must not notify.
 */
static void pipelined(unsigned size, uint64_t feat)
{
	static struct xvio_chain c;
	uint16_t heads[XVIO_VQ_MAX_SIZE];
	/* Chains per batch: as many as the descriptors allow. */
	unsigned batch = feat & F_INDIRECT ? size : size / 2;
	uintptr_t next = 1;
	struct vqt t;
	void *got;
	uint32_t n;

	vqt_open(&t, size, feat);
	while (next <= ROUNDS) {
		for (unsigned k = 0; k < batch; k++)
			add_one(&t, (next + k) * 64, 64, k);
		CHECK_INT(xvio_vqd_add(t.d, &(struct xvio_seg){ .len = 1 }, 1, NULL, NULL), ==,
		          -ENOSPC);
		CHECK(xvio_vqd_kick_prepare(t.d));
		for (unsigned k = 0; k < batch; k++)
			pop_one(&t, (next + k) * 64, &heads[k]);
		CHECK_INT(xvio_vqdev_pop(t.v, &t.xl, &c), ==, 0);
		for (unsigned k = batch; k-- > 0;) {
			CHECK_INT(xvio_vqdev_push(t.v, heads[k], 64), ==, 0);
			/* With EVENT_IDX only the first completion of the
			 * batch crosses the driver's event. */
			if (feat & F_EVENT_IDX)
				CHECK_INT(xvio_vqdev_need_notify(t.v), ==, k == batch - 1);
		}
		if (!(feat & F_EVENT_IDX))
			CHECK(xvio_vqdev_need_notify(t.v));
		for (unsigned k = batch; k-- > 0;)
			get_one(&t, (next + k) * 64, 64);
		CHECK_INT(xvio_vqd_get_used(t.d, &got, &n), ==, 0);
		next += batch;
	}
	CHECK_INT(vqt_avail_idx(&t), ==, (next - 1) & 0xffff);
	CHECK_INT(xvio_vqd_free_descs(t.d), ==, size);
	vqt_close(&t);
}

static void t_pipelined(void)
{
	pipelined(4, 0);
}

static void t_pipelined_event_idx(void)
{
	pipelined(8, F_EVENT_IDX | F_INDIRECT);
}

/*
 * The index check at the wrap: a ring whose indices start just below
 * 65536 (as after a long session) accepts an advance of exactly size
 * across the wrap and rejects size + 1.
 */
static void t_jump_at_wrap(void)
{
	static struct xvio_chain c;
	struct vqt t;

	vqt_open(&t, 4, 0);
	/* Walk both sides to index 65534 one request at a time. */
	for (uintptr_t i = 0; i < 65534; i++) {
		uint16_t head;

		add_one(&t, 64, 1, 0);
		(void)xvio_vqd_kick_prepare(t.d);
		pop_one(&t, 64, &head);
		CHECK_INT(xvio_vqdev_push(t.v, head, 1), ==, 0);
		get_one(&t, 64, 1);
	}
	CHECK_INT(vqt_avail_idx(&t), ==, 65534);
	/* 65534 + 4 wraps to 2: allowed (4 chains of descriptor 0..3). */
	for (unsigned k = 0; k < 4; k++) {
		vqt_desc(&t, k, 0, 8, 0, 0);
		t.raw_avail = (uint16_t)(65534 + k);
		vqt_post(&t, (uint16_t)k);
	}
	CHECK_INT(vqt_avail_idx(&t), ==, 2);
	for (unsigned k = 0; k < 4; k++) {
		CHECK_INT(xvio_vqdev_pop(t.v, &t.xl, &c), ==, 1);
		CHECK_INT(c.head, ==, k);
	}
	CHECK_INT(xvio_vqdev_pop(t.v, &t.xl, &c), ==, 0);
	/* From 2, a jump to 7 (5 > size 4) is a violation. */
	vqt_set_avail_idx(&t, 7);
	vqt_expect_dev_broken(&t, xvio_vqdev_pop(t.v, &t.xl, &c),
	                      "avail.idx jumped from 2 to 7 (queue size 4)");
	vqt_close(&t);
}

static const struct check_case cases[] = {
	{ "lockstep", t_lockstep },
	{ "lockstep-event-idx", t_lockstep_event_idx },
	{ "lockstep-indirect", t_lockstep_indirect },
	{ "pipelined", t_pipelined },
	{ "pipelined-event-idx", t_pipelined_event_idx },
	{ "jump-at-wrap", t_jump_at_wrap },
};

int main(int argc, char **argv)
{
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
