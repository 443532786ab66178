/* SPDX-License-Identifier: MIT */
/*
 * Integration: a hostile frontend writes bad ring contents (protocol §4,
 * §5, §9, §10) and the real backend (xvio-testback, built on the
 * transport) must mark the queue broken, write an error node naming the
 * problem, go to Closing and unmap every page of the guest, without
 * crashing (a sanitizer build turns any stray access into a failure; the
 * simulator's guard pages turn an overrun into a SIGSEGV) and while
 * serving another guest's device.  Odd but valid input ("benign") must be
 * served correctly instead.  Afterwards the device must serve an honest
 * session again (hostile.h, hx_scene_*).
 *
 * Case NAME attacks right after the handshake; NAME-mid after 37 honest
 * requests, so that indices, free descriptors and the backend's loop
 * stamps are all in mid-stream state.  One behaviour per case; the table
 * below says what each writes and what the backend must say.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

#define MIB (1u << 20)

static struct hx_scene sc;

/* Buffers of an attack: a readable one at 0, a writable one at 4096. */
#define RD 0u
#define WR 4096u

static struct hf_q *q0(struct hf *h)
{
	return &h->q[0];
}

/* Make `head` available and kick. */
static void post(struct hf *h, uint16_t head)
{
	hx_avail_ent(&q0(h)->r, q0(h)->avail++, head);
	hf_publish(h, 0);
	hf_kick(h, 0);
}

static void desc(struct hf *h, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                 uint16_t next)
{
	hx_desc(&q0(h)->r, i, addr, len, flags, next);
}

/* ---- indices ---- */

static void avail_jump(struct hf *h)
{
	desc(h, 0, hf_addr(h, RD), 64, 0, 0);
	hx_avail_ent(&q0(h)->r, q0(h)->avail, 0);
	hx_avail_idx(&q0(h)->r, (uint16_t)(q0(h)->avail + q0(h)->r.n + 1));
	hf_kick(h, 0);
}

static void avail_back(struct hf *h)
{
	hx_avail_idx(&q0(h)->r, (uint16_t)(q0(h)->avail - 1));
	hf_kick(h, 0);
}

static void head_range(struct hf *h)
{
	post(h, (uint16_t)q0(h)->r.n);
}

static void head_max(struct hf *h)
{
	post(h, 0xffff);
}

/* ---- chains ---- */

static void next_range(struct hf *h)
{
	desc(h, 3, hf_addr(h, RD), 64, HX_NEXT, (uint16_t)q0(h)->r.n);
	post(h, 3);
}

static void loop_self(struct hf *h)
{
	desc(h, 2, hf_addr(h, RD), 64, HX_NEXT, 2);
	post(h, 2);
}

static void loop_two(struct hf *h)
{
	desc(h, 4, hf_addr(h, RD), 64, HX_NEXT, 7);
	desc(h, 7, hf_addr(h, RD), 64, HX_NEXT, 4);
	post(h, 4);
}

/* Every descriptor of the ring in one cycle, entered at 5. */
static void loop_long(struct hf *h)
{
	unsigned n = q0(h)->r.n;

	for (unsigned i = 0; i < n; i++)
		desc(h, i, hf_addr(h, RD), 64, HX_NEXT, (uint16_t)((i + 1) % n));
	post(h, 5);
}

/* 257 distinct descriptors (queue of 512): over the 256 limit. */
static void chain_long(struct hf *h)
{
	for (unsigned i = 0; i < 257; i++)
		desc(h, i, hf_addr(h, RD), 64, i < 256 ? HX_NEXT : 0, (uint16_t)(i + 1));
	post(h, 0);
}

/* 17 descriptors of 4 MiB: over the 64 MiB chain limit. */
static void chain_bytes(struct hf *h)
{
	for (unsigned i = 0; i < 17; i++)
		desc(h, i, hf_addr(h, RD), 4 * MIB, i < 16 ? HX_NEXT : 0, (uint16_t)(i + 1));
	post(h, 0);
}

static void read_after_write(struct hf *h)
{
	desc(h, 0, hf_addr(h, WR), 64, HX_WRITE | HX_NEXT, 1);
	desc(h, 1, hf_addr(h, RD), 64, 0, 0);
	post(h, 0);
}

static void zero_len(struct hf *h)
{
	desc(h, 0, hf_addr(h, RD), 0, 0, 0);
	post(h, 0);
}

static void over_len(struct hf *h)
{
	desc(h, 0, hf_addr(h, RD), 4 * MIB + 1, 0, 0);
	post(h, 0);
}

/* ---- addresses (data-area mode) ---- */

static void addr_outside(struct hf *h)
{
	desc(h, 0, hf_area_bytes(h), 64, 0, 0);
	post(h, 0);
}

static void addr_straddle(struct hf *h)
{
	desc(h, 0, hf_area_bytes(h) - 32, 64, 0, 0);
	post(h, 0);
}

/* The writable one runs off the end: what the device would write. */
static void write_straddle(struct hf *h)
{
	desc(h, 0, hf_addr(h, RD), 64, HX_NEXT, 1);
	desc(h, 1, hf_area_bytes(h) - 16, 64, HX_WRITE, 0);
	post(h, 0);
}

static void addr_bit63(struct hf *h)
{
	desc(h, 0, XVIO_ADDR_GRANT | RD, 64, 0, 0);
	post(h, 0);
}

/* addr + len fits in 64 bits but is nowhere near the area. */
static void addr_huge(struct hf *h)
{
	desc(h, 0, 0x7fffffffffffffc0ull, 0x80, 0, 0);
	post(h, 0);
}

/* ---- addresses (grant mode) ---- */

static xvio_gref_t extra_page(struct hf *h, xvio_domid_t to, bool writable)
{
	struct xvio_gnt_share *s;
	xvio_gref_t ref;
	void *mem;

	/* Left to hf_free (plat close): it is never mapped successfully. */
	CHECK_INT(xvio_gnt_share(h->p, to, 1, writable, &ref, &mem, &s), ==, 0);
	return ref;
}

static uint64_t gaddr(uint64_t ref, uint32_t off)
{
	return XVIO_ADDR_GRANT | ref << 12 | off;
}

static void g_never(struct hf *h)
{
	desc(h, 0, gaddr(30000, 0), 64, 0, 0);
	post(h, 0);
}

static void g_readonly(struct hf *h)
{
	desc(h, 0, hf_addr(h, RD), 64, HX_NEXT, 1);
	desc(h, 1, gaddr(extra_page(h, 0, false), 0), 64, HX_WRITE, 0);
	post(h, 0);
}

static void g_other_dom(struct hf *h)
{
	desc(h, 0, gaddr(extra_page(h, (xvio_domid_t)sc.domb, true), 0), 64, 0, 0);
	post(h, 0);
}

static void g_plain(struct hf *h)
{
	desc(h, 0, RD, 64, 0, 0);
	post(h, 0);
}

static void g_ref_big(struct hf *h)
{
	desc(h, 0, gaddr(1ull << 32, 0), 64, 0, 0);
	post(h, 0);
}

/* Ref 0xffffffff plus a second page: the second ref does not exist. */
static void g_ref_wrap(struct hf *h)
{
	desc(h, 0, gaddr(0xffffffffu, 4000), 200, 0, 0);
	post(h, 0);
}

/* The same head twice in one batch: the backend maps a batch before it
 * hands any chain to the device, so the second is still in use. */
static void g_head_twice(struct hf *h)
{
	desc(h, 0, hf_addr(h, RD), 64, 0, 0);
	hx_avail_ent(&q0(h)->r, q0(h)->avail++, 0);
	post(h, 0);
}

/* ---- indirect tables ---- */

#define TAB 8192u

static void ind(struct hf *h, uint64_t addr, uint32_t len, uint16_t flags)
{
	desc(h, 0, addr, len, HX_INDIRECT | flags, 0);
	post(h, 0);
}

static void *tab(struct hf *h)
{
	return hf_ptr(h, TAB);
}

static void ind_not_negotiated(struct hf *h)
{
	hx_table_ent(tab(h), 0, hf_addr(h, RD), 64, 0, 0);
	ind(h, hf_addr(h, TAB), 16, 0);
}

static void ind_nested(struct hf *h)
{
	hx_table_ent(tab(h), 0, hf_addr(h, RD), 64, HX_NEXT, 1);
	hx_table_ent(tab(h), 1, hf_addr(h, TAB), 32, HX_INDIRECT, 0);
	ind(h, hf_addr(h, TAB), 32, 0);
}

static void ind_len_zero(struct hf *h)
{
	ind(h, hf_addr(h, TAB), 0, 0);
}

static void ind_len_odd(struct hf *h)
{
	hx_table_ent(tab(h), 0, hf_addr(h, RD), 64, 0, 0);
	ind(h, hf_addr(h, TAB), 24, 0);
}

static void ind_len_big(struct hf *h)
{
	for (unsigned j = 0; j < 257; j++)
		hx_table_ent(tab(h), j, hf_addr(h, RD), 64, j < 256 ? HX_NEXT : 0, (uint16_t)(j + 1));
	ind(h, hf_addr(h, TAB), 257 * 16, 0);
}

static void ind_outside(struct hf *h)
{
	ind(h, hf_area_bytes(h) - 8, 16, 0);
}

static void ind_with_next(struct hf *h)
{
	hx_table_ent(tab(h), 0, hf_addr(h, RD), 64, 0, 0);
	desc(h, 1, hf_addr(h, WR), 64, HX_WRITE, 0);
	ind(h, hf_addr(h, TAB), 16, HX_NEXT);
}

static void ind_not_head(struct hf *h)
{
	hx_table_ent(tab(h), 0, hf_addr(h, RD), 64, 0, 0);
	desc(h, 0, hf_addr(h, RD), 64, HX_NEXT, 1);
	desc(h, 1, hf_addr(h, TAB), 16, HX_INDIRECT, 0);
	post(h, 0);
}

static void ind_loop(struct hf *h)
{
	hx_table_ent(tab(h), 0, hf_addr(h, RD), 64, HX_NEXT, 1);
	hx_table_ent(tab(h), 1, hf_addr(h, RD), 64, HX_NEXT, 2);
	hx_table_ent(tab(h), 2, hf_addr(h, RD), 64, HX_NEXT, 1);
	ind(h, hf_addr(h, TAB), 48, 0);
}

static void ind_next_range(struct hf *h)
{
	hx_table_ent(tab(h), 0, hf_addr(h, RD), 64, HX_NEXT, 5);
	hx_table_ent(tab(h), 1, hf_addr(h, RD), 64, 0, 0);
	ind(h, hf_addr(h, TAB), 32, 0);
}

static void ind_rw(struct hf *h)
{
	hx_table_ent(tab(h), 0, hf_addr(h, WR), 64, HX_WRITE | HX_NEXT, 1);
	hx_table_ent(tab(h), 1, hf_addr(h, RD), 64, 0, 0);
	ind(h, hf_addr(h, TAB), 32, 0);
}

static void ind_zero(struct hf *h)
{
	hx_table_ent(tab(h), 0, hf_addr(h, RD), 64, HX_NEXT, 1);
	hx_table_ent(tab(h), 1, hf_addr(h, WR), 0, HX_WRITE, 0);
	ind(h, hf_addr(h, TAB), 32, 0);
}

static void ind_entry_outside(struct hf *h)
{
	hx_table_ent(tab(h), 0, hf_addr(h, RD), 64, HX_NEXT, 1);
	hx_table_ent(tab(h), 1, hf_area_bytes(h) - 8, 64, HX_WRITE, 0);
	ind(h, hf_addr(h, TAB), 32, 0);
}

static void g_ind_never(struct hf *h)
{
	ind(h, gaddr(30000, 0), 16, 0);
}

/* A table running from a granted page into the next ref, never granted. */
static void g_ind_straddle(struct hf *h)
{
	xvio_gref_t ref = extra_page(h, 0, true);

	ind(h, gaddr(ref, 4096 - 16), 32, 0);
}

/* ---- benign: odd but valid, served correctly ---- */

/* Wait for and check `n` answers: ids, lengths, bytes (iov per answer). */
static void expect_answers(struct hf *h, unsigned n, const uint16_t *ids, uint32_t w,
                           const struct iovec *iov, unsigned nout, unsigned niov)
{
	if (!hf_wait_used(h, 0, n, HX_WAIT_MS))
		CHECK_FAIL("the backend did not answer");
	for (unsigned k = 0; k < n; k++) {
		uint32_t id, len;

		hx_used_ent_get(&q0(h)->r, q0(h)->used++, &id, &len);
		CHECK_INT(id, ==, ids[k]);
		CHECK_INT(len, ==, w);
		CHECK_INT(xt_xform(h->seed, iov, nout, niov, w, true), ==, -1);
	}
}

/* Local iovecs of area bytes [off, off + len): two when they cross the
 * 4 MiB boundary between two of our mappings.  Returns the count. */
static unsigned area_iov(struct hf *h, uint32_t off, uint32_t len, struct iovec *iov)
{
	uint32_t edge = (off / (4 * MIB) + 1) * 4 * MIB;

	if (off + len <= edge) {
		iov[0] = (struct iovec){ hf_ptr(h, off), len };
		return 1;
	}
	iov[0] = (struct iovec){ hf_ptr(h, off), edge - off };
	iov[1] = (struct iovec){ hf_ptr(h, edge), off + len - edge };
	return 2;
}

/* One readable buffer and one writable one, at the given offsets,
 * direct (descriptors 0, 1) or through a table at `table`. */
static void one_request(struct hf *h, uint32_t rd, uint32_t rlen, uint32_t wr, uint32_t wlen,
                        long table)
{
	struct iovec iov[4];
	unsigned nout, niov;
	uint16_t id = 0;

	for (uint32_t i = 0; i < rlen; i++)
		*hf_ptr(h, rd + i) = (uint8_t)(i * 7 + 3);
	for (uint32_t i = 0; i < wlen; i++)
		*hf_ptr(h, wr + i) = 0;
	nout = area_iov(h, rd, rlen, iov);
	niov = nout + area_iov(h, wr, wlen, iov + nout);
	if (table >= 0) {
		/* The table may straddle a chunk: write it byte by byte. */
		uint8_t ent[32];

		hx_table_ent(ent, 0, hf_addr(h, rd), rlen, HX_NEXT, 1);
		hx_table_ent(ent, 1, hf_addr(h, wr), wlen, HX_WRITE, 0);
		for (unsigned b = 0; b < 32; b++)
			*hf_ptr(h, (uint32_t)table + b) = ent[b];
		desc(h, 0, hf_addr(h, (uint32_t)table), 32, HX_INDIRECT, 0);
	} else {
		desc(h, 0, hf_addr(h, rd), rlen, HX_NEXT, 1);
		desc(h, 1, hf_addr(h, wr), wlen, HX_WRITE, 0);
	}
	post(h, 0);
	expect_answers(h, 1, &id, wlen, iov, nout, niov);
}

/* Data-area mode: the backend completes a chain before it takes the
 * next, so the same head twice in one batch is two requests. */
static void head_twice(struct hf *h)
{
	struct iovec iov[2] = { { hf_ptr(h, RD), 64 }, { hf_ptr(h, WR), 100 } };
	static const uint16_t ids[2] = { 0, 0 };

	memset(hf_ptr(h, RD), 0x5a, 64);
	desc(h, 0, hf_addr(h, RD), 64, HX_NEXT, 1);
	desc(h, 1, hf_addr(h, WR), 100, HX_WRITE, 0);
	hx_avail_ent(&q0(h)->r, q0(h)->avail++, 0);
	post(h, 0);
	expect_answers(h, 2, ids, 100, iov, 1, 2);
}

/* Buffers crossing the 4 MiB boundary between two area mappings. */
static void chunk_straddle(struct hf *h)
{
	one_request(h, 4 * MIB - 100, 200, 8192, 300, -1);
	one_request(h, 0, 64, 4 * MIB - 150, 300, -1);
}

static void ind_chunk_straddle(struct hf *h)
{
	one_request(h, 0, 64, 8192, 300, 4 * MIB - 24);
}

/* The longest chains allowed: 256 ring descriptors, and an indirect
 * table of 256 entries. */
static void max_chains(struct hf *h)
{
	struct iovec iov[256];
	uint16_t id = 0;
	uint32_t w = 0;

	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < 256; i++) {
			uint32_t off = 4096u * (i / 16) + 256u * (i % 16);
			bool write = i >= 128;
			uint16_t flags = (uint16_t)((write ? HX_WRITE : 0) | (i < 255 ? HX_NEXT : 0));

			iov[i] = (struct iovec){ hf_ptr(h, off), write ? 40u : 64u };
			if (!write)
				memset(hf_ptr(h, off), (int)i, 64);
			if (pass == 0)
				desc(h, i, hf_addr(h, off), (uint32_t)iov[i].iov_len, flags,
				     (uint16_t)(i + 1));
			else
				hx_table_ent(hf_ptr(h, 16u * 4096), i, hf_addr(h, off),
				             (uint32_t)iov[i].iov_len, flags, (uint16_t)(i + 1));
		}
		w = 128 * 40;
		if (pass == 1)
			desc(h, 0, hf_addr(h, 16u * 4096), 4096, HX_INDIRECT, 0);
		post(h, 0);
		expect_answers(h, 1, &id, w, iov, 128, 256);
	}
}

/* The used ring is the backend's: junk there (index, entries, flags,
 * avail_event) must not change how it serves. */
static void used_garbage(struct hf *h)
{
	struct hf_q *q = q0(h);

	for (unsigned round = 0; round < 8; round++) {
		for (unsigned i = 0; i < q->r.n; i++)
			hx_used_ent(&q->r, i, 0xdead0000u + i * 977 + round, 0xfffffff0u - i);
		hx_used_flags(&q->r, 0xffff);
		hx_avail_event(&q->r, (uint16_t)(0x1234 + round * 4321));
		/* Far from ours, so our own reader ignores it until the
		 * backend writes its index again. */
		hx_used_idx(&q->r, (uint16_t)(q->used + 0x8000));
		hf_traffic(h, 0, 3, 3);
	}
}

/* Suppression fields the backend reads, full of junk: it may skip
 * notifications (we poll) but must serve. */
static void avail_flags_garbage(struct hf *h)
{
	hx_avail_flags(&q0(h)->r, 0xffff);
	hx_used_event(&q0(h)->r, 0xabcd);
	hf_traffic(h, 0, 10, 3);
}

/* Tens of thousands of kicks with nothing posted. */
static void kick_flood(struct hf *h)
{
	for (unsigned i = 0; i < 30000; i++)
		hf_kick(h, 0);
}

/* ---- the table ---- */

struct rcase {
	const char *name;
	void (*attack)(struct hf *h);
	const char *expect;        /* in the error node; NULL: benign */
	struct hf_opts o;
	unsigned pre;              /* honest requests before (the -wrap case) */
	unsigned pre_batch;
};

#define GRANT { .grant = true }
#define NOIND { .features = HX_F_VERSION_1 | HX_F_EVENT_IDX }
#define BIG { .pages = 1040 }

static const struct rcase cases[] = {
	{ "avail-jump", avail_jump, "avail.idx jumped", { 0 }, 0, 0 },
	{ "avail-back", avail_back, "avail.idx jumped", { 0 }, 0, 0 },
	{ "avail-jump-wrap", avail_jump, "avail.idx jumped", { .qsize = 256, .pages = 64 },
	  65600, 64 },
	{ "head-range", head_range, "head 16 out of range", { 0 }, 0, 0 },
	{ "head-max", head_max, "head 65535 out of range", { 0 }, 0, 0 },
	{ "next-range", next_range, "next 16 out of range", { 0 }, 0, 0 },
	{ "loop-self", loop_self, "descriptor 2 loops back to 2", { 0 }, 0, 0 },
	{ "loop-two", loop_two, "descriptor 7 loops back to 4", { 0 }, 0, 0 },
	{ "loop-long", loop_long, "descriptor 4 loops back to 5", { 0 }, 0, 0 },
	{ "chain-long", chain_long, "more than 256 descriptors", { .qsize = 512 }, 0, 0 },
	{ "chain-bytes", chain_bytes, "over 67108864 bytes", { .qsize = 32 }, 0, 0 },
	{ "read-after-write", read_after_write, "readable after a writable", { 0 }, 0, 0 },
	{ "zero-len", zero_len, "zero length", { 0 }, 0, 0 },
	{ "over-len", over_len, "over the 4194304-byte limit", { 0 }, 0, 0 },
	{ "addr-outside", addr_outside, "outside the data area", { 0 }, 0, 0 },
	{ "addr-straddle", addr_straddle, "outside the data area", { 0 }, 0, 0 },
	{ "write-straddle", write_straddle, "outside the data area", { 0 }, 0, 0 },
	{ "addr-bit63", addr_bit63, "a grant address in data-area mode", { 0 }, 0, 0 },
	{ "addr-huge", addr_huge, "outside the data area", { 0 }, 0, 0 },
	{ "g-never", g_never, "cannot be mapped", GRANT, 0, 0 },
	{ "g-readonly", g_readonly, "writable grants", GRANT, 0, 0 },
	{ "g-other-dom", g_other_dom, "cannot be mapped", GRANT, 0, 0 },
	{ "g-plain", g_plain, "not a grant address", GRANT, 0, 0 },
	{ "g-ref-big", g_ref_big, "beyond 32 bits", GRANT, 0, 0 },
	{ "g-ref-wrap", g_ref_wrap, "beyond 32 bits", GRANT, 0, 0 },
	{ "g-head-twice", g_head_twice, "head 0 is already in use", GRANT, 0, 0 },
	{ "ind-not-negotiated", ind_not_negotiated, "was not negotiated", NOIND, 0, 0 },
	{ "ind-nested", ind_nested, "nested INDIRECT", { 0 }, 0, 0 },
	{ "ind-len-zero", ind_len_zero, "indirect table length 0", { 0 }, 0, 0 },
	{ "ind-len-odd", ind_len_odd, "indirect table length 24", { 0 }, 0, 0 },
	{ "ind-len-big", ind_len_big, "indirect table length 4112", { 0 }, 0, 0 },
	{ "ind-outside", ind_outside, "refused", { 0 }, 0, 0 },
	{ "ind-with-next", ind_with_next, "INDIRECT together with NEXT", { 0 }, 0, 0 },
	{ "ind-not-head", ind_not_head, "INDIRECT not at the head", { 0 }, 0, 0 },
	{ "ind-loop", ind_loop, "indirect entry 2 loops back to 1", { 0 }, 0, 0 },
	{ "ind-next-range", ind_next_range, "next 5 out of range", { 0 }, 0, 0 },
	{ "ind-rw", ind_rw, "readable after a writable", { 0 }, 0, 0 },
	{ "ind-zero", ind_zero, "zero length", { 0 }, 0, 0 },
	{ "ind-entry-outside", ind_entry_outside, "outside the data area", { 0 }, 0, 0 },
	{ "g-ind-never", g_ind_never, "refused", GRANT, 0, 0 },
	{ "g-ind-straddle", g_ind_straddle, "refused", GRANT, 0, 0 },
	{ "head-twice", head_twice, NULL, { 0 }, 0, 0 },
	{ "chunk-straddle", chunk_straddle, NULL, BIG, 0, 0 },
	{ "ind-chunk-straddle", ind_chunk_straddle, NULL, BIG, 0, 0 },
	{ "max-chains", max_chains, NULL, { .qsize = 256, .pages = 32 }, 0, 0 },
	{ "used-garbage", used_garbage, NULL, { 0 }, 0, 0 },
	{ "avail-flags-garbage", avail_flags_garbage, NULL, { 0 }, 0, 0 },
	{ "kick-flood", kick_flood, NULL, { 0 }, 0, 0 },
};

static void run(const struct rcase *c, bool mid)
{
	hx_scene_start(&sc);
	hf_connect(&sc.h, &c->o);
	if (c->pre)
		hf_traffic(&sc.h, 0, c->pre, c->pre_batch);
	if (mid)
		hf_traffic(&sc.h, 0, 37, 3);
	c->attack(&sc.h);
	if (c->expect)
		hx_scene_violation(&sc, EPROTO, c->expect);
	else
		hx_scene_benign(&sc);
	hx_scene_end(&sc);
}

int main(int argc, char **argv)
{
	size_t n = sizeof(cases) / sizeof(cases[0]);

	if (argc != 2)
		CHECK_FAIL("usage: %s CASE[-mid]", argv[0]);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(cases[i].name);

		if (strcmp(argv[1], cases[i].name) == 0) {
			run(&cases[i], false);
			return 0;
		}
		if (strncmp(argv[1], cases[i].name, len) == 0 && strcmp(argv[1] + len, "-mid") == 0) {
			run(&cases[i], true);
			return 0;
		}
	}
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "known case: %s (and %s-mid)\n", cases[i].name, cases[i].name);
	CHECK_FAIL("unknown case %s", argv[1]);
}
