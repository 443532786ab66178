/* SPDX-License-Identifier: MIT */
/*
 * A hostile driver: one case per protocol violation the device side must
 * catch (protocol §9, §10).  The test writes the ring by hand; each case
 * expects pop() to fail with -EPROTO, the queue to stay broken, and the
 * message to name the descriptor or index at fault.  ASan checks nothing
 * is read outside the ring or the data area.  Every case leaves the queue
 * to teardown(), which also checks that no table mapping leaked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vqtest.h"

#define NEXT VRING_DESC_F_NEXT
#define WRITE VRING_DESC_F_WRITE
#define INDIRECT VRING_DESC_F_INDIRECT

static struct vqt t;
static struct xvio_chain chain;

static int pop(void)
{
	return xvio_vqdev_pop(t.v, &t.xl, &chain);
}

static void expect(const char *want)
{
	vqt_expect_dev_broken(&t, pop(), want);
}

/* Entry j of an indirect table at area offset off. */
static void tab(size_t off, unsigned j, uint32_t len, uint16_t flags, uint16_t next)
{
	vqt_put_desc(t.area.mem + off + 16 * (size_t)j, 0x100 * j, len, flags, next);
}

static void t_avail_jump(void)
{
	vqt_open(&t, 8, 0);
	vqt_set_avail_idx(&t, 9);
	expect("avail.idx jumped from 0 to 9 (queue size 8)");
}

/* A good chain first, so the jump is measured from a moved index. */
static void t_avail_jump_later(void)
{
	vqt_open(&t, 8, F_EVENT_IDX);
	vqt_desc(&t, 0, 0, 10, 0, 0);
	vqt_post(&t, 0);
	CHECK_INT(pop(), ==, 1);
	vqt_set_avail_idx(&t, 0);       /* backwards: 65535 ahead */
	expect("avail.idx jumped from 1 to 0 (queue size 8)");
}

static void t_head_range(void)
{
	vqt_open(&t, 8, 0);
	vqt_post(&t, 8);
	expect("avail.ring[0]: head 8 out of range (queue size 8)");
}

static void t_head_in_use(void)
{
	vqt_open(&t, 8, 0);
	vqt_desc(&t, 3, 0, 10, 0, 0);
	vqt_post(&t, 3);
	vqt_post(&t, 3);
	CHECK_INT(pop(), ==, 1);
	expect("avail.ring[1]: head 3 is already in use");
}

static void t_next_range(void)
{
	vqt_open(&t, 8, 0);
	vqt_desc(&t, 2, 0, 10, NEXT, 8);
	vqt_post(&t, 2);
	expect("descriptor 2: next 8 out of range (queue size 8)");
}

static void t_loop_self(void)
{
	vqt_open(&t, 8, 0);
	vqt_desc(&t, 5, 0, 10, NEXT, 5);
	vqt_post(&t, 5);
	expect("descriptor 5 loops back to 5");
}

static void t_loop_two(void)
{
	vqt_open(&t, 8, 0);
	vqt_desc(&t, 1, 0, 10, NEXT, 6);
	vqt_desc(&t, 6, 0, 10, NEXT, 4);
	vqt_desc(&t, 4, 0, 10, NEXT, 6);
	vqt_post(&t, 1);
	expect("descriptor 4 loops back to 6");
}

/* Loop detection must not carry over: the same descriptors in the next
 * chain are fine. */
static void t_loop_stamps(void)
{
	vqt_open(&t, 4, 0);
	for (unsigned i = 0; i < 4; i++)
		vqt_desc(&t, i, 0, 10, i < 3 ? NEXT : 0, (uint16_t)(i + 1));
	for (int k = 0; k < 100; k++) {
		vqt_post(&t, 0);
		CHECK_INT(pop(), ==, 1);
		CHECK_INT(chain.n, ==, 4);
		CHECK_INT(xvio_vqdev_push(t.v, 0, 0), ==, 0);
	}
	vqt_desc(&t, 3, 0, 10, NEXT, 1);
	vqt_post(&t, 0);
	expect("descriptor 3 loops back to 1");
}

/*
 * The loop stamps are 16-bit generations: after 65535 pops they wrap and
 * must be cleared, or a descriptor last walked 65535 pops ago would look
 * visited.  Pop 1 walks 4 -> 5, pops 2..65535 walk 0, pop 65536 (the
 * first of the new epoch, generation 1 again) walks 4 -> 5 once more.
 */
static void t_stamp_wrap(void)
{
	vqt_open(&t, 8, 0);
	vqt_desc(&t, 0, 0, 10, 0, 0);
	vqt_desc(&t, 4, 0, 10, NEXT, 5);
	vqt_desc(&t, 5, 0, 10, 0, 0);
	for (unsigned k = 1; k <= 65536; k++) {
		uint16_t head = k == 1 || k == 65536 ? 4 : 0;

		vqt_post(&t, head);
		CHECK_INT(pop(), ==, 1);
		CHECK_INT(chain.n, ==, head == 4 ? 2 : 1);
		CHECK_INT(xvio_vqdev_push(t.v, head, 0), ==, 0);
	}
	vqt_desc(&t, 5, 0, 10, NEXT, 4);
	vqt_post(&t, 4);
	expect("descriptor 5 loops back to 4");
}

/* 257 distinct descriptors in a 512 ring: over the 256 limit, no loop. */
static void t_chain_too_long(void)
{
	vqt_open(&t, 512, 0);
	for (unsigned i = 0; i < 300; i++)
		vqt_desc(&t, i, 0, 1, NEXT, (uint16_t)(i + 1));
	vqt_post(&t, 0);
	expect("chain at head 0: more than 256 descriptors");
}

/* Exactly 256 is fine. */
static void t_chain_max(void)
{
	vqt_open(&t, 512, 0);
	for (unsigned i = 0; i < 256; i++)
		vqt_desc(&t, i + 10, 0, 1, i < 255 ? NEXT : 0, (uint16_t)(i + 11));
	vqt_post(&t, 10);
	CHECK_INT(pop(), ==, 1);
	CHECK_INT(chain.n, ==, 256);
}

static void t_read_after_write(void)
{
	vqt_open(&t, 8, 0);
	vqt_desc(&t, 0, 0, 10, NEXT, 1);
	vqt_desc(&t, 1, 0, 10, NEXT | WRITE, 2);
	vqt_desc(&t, 2, 0, 10, 0, 0);
	vqt_post(&t, 0);
	expect("descriptor 2: readable after a writable descriptor");
}

static void t_zero_len(void)
{
	vqt_open(&t, 8, 0);
	vqt_desc(&t, 0, 0, 10, NEXT, 7);
	vqt_desc(&t, 7, 0, 0, WRITE, 0);
	vqt_post(&t, 0);
	expect("descriptor 7: zero length");
}

static void t_seg_too_big(void)
{
	vqt_open(&t, 8, 0);
	vqt_desc(&t, 4, 0, XVIO_VQ_MAX_SEG + 1, WRITE, 0);
	vqt_post(&t, 4);
	expect("descriptor 4: length 4194305 over the 4194304-byte limit");
}

/* 17 segments of 4 MiB: 68 MiB > 64 MiB, caught at the 17th. */
static void t_chain_too_big(void)
{
	vqt_open(&t, 32, 0);
	for (unsigned i = 0; i < 17; i++)
		vqt_desc(&t, i, 0, XVIO_VQ_MAX_SEG, i < 16 ? NEXT : 0, (uint16_t)(i + 1));
	vqt_post(&t, 0);
	expect("chain at head 0: over 67108864 bytes at descriptor 16");
}

static void t_indirect_not_negotiated(void)
{
	vqt_open(&t, 8, F_EVENT_IDX);
	tab(0, 0, 10, 0, 0);
	vqt_desc(&t, 3, 0, 16, INDIRECT, 0);
	vqt_post(&t, 3);
	expect("descriptor 3: INDIRECT but VIRTIO_RING_F_INDIRECT_DESC was not negotiated");
}

static void t_indirect_not_head(void)
{
	vqt_open(&t, 8, F_INDIRECT);
	tab(0, 0, 10, 0, 0);
	vqt_desc(&t, 0, 0, 10, NEXT, 1);
	vqt_desc(&t, 1, 0, 16, INDIRECT, 0);
	vqt_post(&t, 0);
	expect("descriptor 1: INDIRECT not at the head of the chain at 0");
}

static void t_indirect_next(void)
{
	vqt_open(&t, 8, F_INDIRECT);
	tab(0, 0, 10, 0, 0);
	vqt_desc(&t, 2, 0, 16, INDIRECT | NEXT, 3);
	vqt_post(&t, 2);
	expect("descriptor 2: INDIRECT together with NEXT");
}

static void t_indirect_nested(void)
{
	vqt_open(&t, 8, F_INDIRECT);
	tab(4096, 0, 10, NEXT, 1);
	tab(4096, 1, 16, INDIRECT, 0);
	vqt_desc(&t, 5, 4096, 32, INDIRECT, 0);
	vqt_post(&t, 5);
	expect("descriptor 5 indirect entry 1: nested INDIRECT");
}

static void indirect_len(uint32_t len, const char *want)
{
	vqt_open(&t, 8, F_INDIRECT);
	vqt_desc(&t, 6, 0, len, INDIRECT, 0);
	vqt_post(&t, 6);
	expect(want);
	CHECK_INT(t.area.maps, ==, 0);   /* rejected before mapping */
}

static void t_indirect_len_zero(void)
{
	indirect_len(0, "descriptor 6: indirect table length 0");
}

static void t_indirect_len_odd(void)
{
	indirect_len(24, "descriptor 6: indirect table length 24");
}

static void t_indirect_len_big(void)
{
	indirect_len(4096 + 16, "descriptor 6: indirect table length 4112");
}

/* The largest table is fine: 256 entries. */
static void t_indirect_max(void)
{
	vqt_open(&t, 2, F_INDIRECT);
	for (unsigned j = 0; j < 256; j++)
		tab(8192, j, 1, j < 255 ? NEXT : 0, (uint16_t)(j + 1));
	vqt_desc(&t, 1, 8192, 4096, INDIRECT, 0);
	vqt_post(&t, 1);
	CHECK_INT(pop(), ==, 1);
	CHECK_INT(chain.n, ==, 256);
	CHECK_INT(t.area.maps, ==, 1);
}

static void t_indirect_refused(void)
{
	vqt_open(&t, 8, F_INDIRECT);
	t.area.refuse = EACCES;
	vqt_desc(&t, 1, 0x1000, 32, INDIRECT, 0);
	vqt_post(&t, 1);
	expect("descriptor 1: indirect table at 0x1000+32 refused");
}

/* Outside the area: the xlate callback says no, nothing is read. */
/* INDIRECT negotiated but the caller gave no way to read tables. */
static void t_indirect_no_xlate(void)
{
	vqt_open(&t, 8, F_INDIRECT);
	vqt_desc(&t, 1, 0x40, 32, INDIRECT, 0);
	vqt_post(&t, 1);
	vqt_expect_dev_broken(&t, xvio_vqdev_pop(t.v, NULL, &chain),
	                      "descriptor 1: indirect table at 0x40: no way to read it");
}

static void t_indirect_outside(void)
{
	vqt_open(&t, 8, F_INDIRECT);
	vqt_desc(&t, 1, VQT_AREA_BYTES - 16, 32, INDIRECT, 0);
	vqt_post(&t, 1);
	expect("descriptor 1: indirect table at 0xffff0+32 refused");
}

static void t_indirect_next_range(void)
{
	vqt_open(&t, 8, F_INDIRECT);
	tab(0, 0, 10, NEXT, 1);
	tab(0, 1, 10, NEXT, 2);   /* a third entry exists in memory, not in the table */
	tab(0, 2, 10, 0, 0);
	vqt_desc(&t, 0, 0, 32, INDIRECT, 0);
	vqt_post(&t, 0);
	expect("descriptor 0 indirect entry 1: next 2 out of range (2 entries)");
}

static void t_indirect_loop(void)
{
	vqt_open(&t, 8, F_INDIRECT);
	tab(0, 0, 10, NEXT, 2);
	tab(0, 1, 10, WRITE, 0);
	tab(0, 2, 10, NEXT, 0);
	vqt_desc(&t, 4, 0, 48, INDIRECT, 0);
	vqt_post(&t, 4);
	expect("descriptor 4 indirect entry 2 loops back to 0");
}

static void t_indirect_zero_len(void)
{
	vqt_open(&t, 8, F_INDIRECT);
	tab(0, 0, 10, NEXT, 1);
	tab(0, 1, 0, WRITE, 0);
	vqt_desc(&t, 4, 0, 32, INDIRECT, 0);
	vqt_post(&t, 4);
	expect("descriptor 4 indirect entry 1: zero length");
}

static void t_indirect_read_after_write(void)
{
	vqt_open(&t, 8, F_INDIRECT);
	tab(0, 0, 10, WRITE | NEXT, 1);
	tab(0, 1, 10, 0, 0);
	vqt_desc(&t, 4, 0, 32, INDIRECT, 0);
	vqt_post(&t, 4);
	expect("descriptor 4 indirect entry 1: readable after a writable descriptor");
}

/* The table is copied once: rewriting it after pop changes nothing. */
static void t_indirect_copied(void)
{
	vqt_open(&t, 8, F_INDIRECT);
	tab(0, 0, 10, NEXT, 1);
	tab(0, 1, 20, WRITE, 0);
	vqt_desc(&t, 4, 0, 32, INDIRECT, 0);
	vqt_post(&t, 4);
	CHECK_INT(pop(), ==, 1);
	CHECK_INT(t.area.maps, ==, 1);
	CHECK_INT(t.area.unmaps, ==, 1);
	tab(0, 1, 0, INDIRECT, 7);
	CHECK_INT(chain.n, ==, 2);
	CHECK_INT(chain.out_bytes, ==, 10);
	CHECK_INT(chain.in_bytes, ==, 20);
	CHECK(chain.seg[1].write);
	CHECK_INT(xvio_vqdev_push(t.v, 4, 20), ==, 0);
}

/* A violation the transport finds (a bad segment address). */
static void t_caller_fail(void)
{
	vqt_open(&t, 8, 0);
	vqt_desc(&t, 0, 0, 10, 0, 0);
	vqt_post(&t, 0);
	CHECK_INT(pop(), ==, 1);
	xvio_vqdev_fail(t.v, "descriptor %u: address %#x outside the data area", 0, 0x99);
	vqt_expect_dev_broken(&t, pop(), "descriptor 0: address 0x99 outside the data area");
}

/* Bugs of the caller, not the peer: -EINVAL, the queue stays usable. */
static void t_push_invalid(void)
{
	vqt_open(&t, 8, 0);
	vqt_desc(&t, 0, 0, 10, NEXT, 1);
	vqt_desc(&t, 1, 0, 30, WRITE, 0);
	vqt_post(&t, 0);
	CHECK_INT(xvio_vqdev_push(t.v, 0, 0), ==, -EINVAL);    /* not popped */
	CHECK_INT(pop(), ==, 1);
	CHECK_INT(xvio_vqdev_push(t.v, 8, 0), ==, -EINVAL);    /* out of range */
	CHECK_INT(xvio_vqdev_push(t.v, 1, 0), ==, -EINVAL);    /* not a head */
	CHECK_INT(xvio_vqdev_push(t.v, 0, 31), ==, -EINVAL);   /* over in_bytes */
	CHECK(!xvio_vqdev_broken(t.v));
	CHECK_INT(xvio_vqdev_push(t.v, 0, 30), ==, 0);
	CHECK_INT(xvio_vqdev_push(t.v, 0, 0), ==, -EINVAL);    /* twice */
	CHECK_INT(vqt_used_idx(&t), ==, 1);
}

static const struct check_case cases[] = {
	{ "avail-jump", t_avail_jump },
	{ "avail-jump-later", t_avail_jump_later },
	{ "head-range", t_head_range },
	{ "head-in-use", t_head_in_use },
	{ "next-range", t_next_range },
	{ "loop-self", t_loop_self },
	{ "loop-two", t_loop_two },
	{ "loop-stamps", t_loop_stamps },
	{ "stamp-wrap", t_stamp_wrap },
	{ "chain-too-long", t_chain_too_long },
	{ "chain-max", t_chain_max },
	{ "read-after-write", t_read_after_write },
	{ "zero-len", t_zero_len },
	{ "seg-too-big", t_seg_too_big },
	{ "chain-too-big", t_chain_too_big },
	{ "indirect-not-negotiated", t_indirect_not_negotiated },
	{ "indirect-not-head", t_indirect_not_head },
	{ "indirect-next", t_indirect_next },
	{ "indirect-nested", t_indirect_nested },
	{ "indirect-len-zero", t_indirect_len_zero },
	{ "indirect-len-odd", t_indirect_len_odd },
	{ "indirect-len-big", t_indirect_len_big },
	{ "indirect-max", t_indirect_max },
	{ "indirect-refused", t_indirect_refused },
	{ "indirect-no-xlate", t_indirect_no_xlate },
	{ "indirect-outside", t_indirect_outside },
	{ "indirect-next-range", t_indirect_next_range },
	{ "indirect-loop", t_indirect_loop },
	{ "indirect-zero-len", t_indirect_zero_len },
	{ "indirect-read-after-write", t_indirect_read_after_write },
	{ "indirect-copied", t_indirect_copied },
	{ "caller-fail", t_caller_fail },
	{ "push-invalid", t_push_invalid },
};

static void teardown(void)
{
	vqt_close(&t);
}

int main(int argc, char **argv)
{
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, teardown);
}
