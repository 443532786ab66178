/* SPDX-License-Identifier: MIT */
/*
 * hb, the hostile backend (hostile.h): the §2.1 offer, the mapping of the
 * frontend's rings and area, and a request path that can serve honestly
 * (the xvio_test transform) or publish anything.  The frontend under test
 * is honest about its own ring, so parsing is simple, but every value is
 * still bounded before use: a surprise fails the test, never this process.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

#define CHUNK_PAGES 1024u
#define CHUNK_SHIFT 22

void hb_open(struct hb *b, const struct simtest *st, const struct xp_dev *dev)
{
	memset(b, 0, sizeof(*b));
	b->st = st;
	b->dev = *dev;
	b->lport = -1;
	simtest_enter(st, 0);
	b->xs = xp_xs(st, 0);
	CHECK_INT(xvio_plat_open(NULL, &b->p), ==, 0);
	CHECK_INT(xvio_evtchn_open(b->p, &b->ev), ==, 0);
}

void hb_free(struct hb *b)
{
	if (b->up)
		hb_disconnect(b);
	xvio_evtchn_close(b->ev);
	xvio_plat_close(b->p);
	xs_close(b->xs);
	memset(b, 0, sizeof(*b));
}

void hb_state(struct hb *b, const char *state)
{
	xp_write(b->xs, b->dev.be, "state", state);
}

static void put(struct hb *b, xs_transaction_t t, const char *key, const char *val)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", b->dev.be, key);
	if (!xs_write(b->xs, t, path, val, (unsigned)strlen(val)))
		CHECK_FAIL("write %s: %s", path, strerror(errno));
}

void hb_offer(struct hb *b)
{
	char seed[16];

	b->seed = xt_seed((unsigned)b->dev.domid, b->dev.devid);
	snprintf(seed, sizeof(seed), "%u", b->seed);
	for (;;) {
		xs_transaction_t t = xs_transaction_start(b->xs);

		CHECK(t != XBT_NULL);
		put(b, t, "virtio-device", "65520");
		put(b, t, "virtio-features", "5100273664");
		put(b, t, "max-queues", "4");
		put(b, t, "max-queue-size", "1024");
		put(b, t, "buffer-modes", "data-area grant");
		put(b, t, "max-data-area-pages", "4096");
		put(b, t, "config/seed", seed);
		put(b, t, "state", "2");
		if (xs_transaction_end(b->xs, t, false))
			return;
		CHECK(errno == EAGAIN);
	}
}

/* ---- connecting ---- */

static uint64_t read_num(struct hb *b, const char *key)
{
	char buf[64], *end;
	unsigned long long v;

	if (!xp_read(b->xs, b->dev.fe, key, buf, sizeof(buf)))
		CHECK_FAIL("frontend key %s missing", key);
	v = strtoull(buf, &end, 10);
	CHECK(*buf && !*end);
	return v;
}

static void map_area(struct hb *b)
{
	xvio_gref_t dir_refs[4], *refs;
	unsigned ndir;
	struct xvio_gnt_map *m;
	void *addr;
	char key[32];

	b->pages = (unsigned)read_num(b, "data-area-pages");
	CHECK(b->pages >= 1 && b->pages <= 4096);
	ndir = (b->pages + CHUNK_PAGES - 1) / CHUNK_PAGES;
	for (unsigned k = 0; k < ndir; k++) {
		snprintf(key, sizeof(key), "data-area-dir-ref%u", k);
		dir_refs[k] = (xvio_gref_t)read_num(b, key);
	}
	CHECK_INT(xvio_gnt_map_domain(b->p, (xvio_domid_t)b->dev.domid, ndir, dir_refs, false,
	                              &addr, &m), ==, 0);
	refs = malloc(b->pages * sizeof(*refs));
	CHECK(refs != NULL);
	for (unsigned i = 0; i < b->pages; i++) {
		uint32_t le;

		memcpy(&le, (uint8_t *)addr + 4u * i, 4);
		refs[i] = le32toh(le);
	}
	CHECK_INT(xvio_gnt_unmap(m), ==, 0);
	for (unsigned done = 0; done < b->pages; b->nmaps++) {
		unsigned n = b->pages - done < CHUNK_PAGES ? b->pages - done : CHUNK_PAGES;

		CHECK_INT(xvio_gnt_map_domain(b->p, (xvio_domid_t)b->dev.domid, n, refs + done,
		                              true, &addr, &b->amap[b->nmaps]), ==, 0);
		b->abase[b->nmaps] = addr;
		done += n;
	}
	free(refs);
}

void hb_connect(struct hb *b)
{
	char mode[32], key[32];
	unsigned npages;
	void *ring;
	int port;

	CHECK(!b->up);
	hx_wait(b->xs, b->dev.fe, "state", "3", HX_WAIT_MS);
	b->features = read_num(b, "virtio-features");
	CHECK_INT(read_num(b, "num-queues"), ==, 1);
	CHECK(xp_read(b->xs, b->dev.fe, "buffer-mode", mode, sizeof(mode)));
	b->grant = strcmp(mode, "grant") == 0;
	if (!b->grant)
		map_area(b);
	b->qsize = (unsigned)read_num(b, "queue-0/size");
	npages = xvio_vring_pages(b->qsize);
	CHECK(npages > 0 && npages <= 8);
	for (unsigned k = 0; k < npages; k++) {
		snprintf(key, sizeof(key), "queue-0/ring-ref%u", k);
		b->ring_refs[k] = (xvio_gref_t)read_num(b, key);
	}
	CHECK_INT(xvio_gnt_map_domain(b->p, (xvio_domid_t)b->dev.domid, npages, b->ring_refs,
	                              true, &ring, &b->rmap), ==, 0);
	hx_ring_init(&b->r, ring, b->qsize);
	port = xvio_evtchn_bind_interdomain(b->ev, (xvio_domid_t)b->dev.domid,
	                                    (xvio_port_t)read_num(b, "queue-0/event-channel"));
	CHECK(port > 0);
	b->lport = port;
	b->last_avail = b->used_idx = 0;
	b->up = true;
	hb_state(b, "4");
	hx_wait(b->xs, b->dev.fe, "state", "4", HX_WAIT_MS);
}

void hb_disconnect(struct hb *b)
{
	if (!b->up)
		return;
	CHECK_INT(xvio_evtchn_unbind(b->ev, (xvio_port_t)b->lport), ==, 0);
	CHECK_INT(xvio_gnt_unmap(b->rmap), ==, 0);
	for (unsigned i = 0; i < b->nmaps; i++)
		CHECK_INT(xvio_gnt_unmap(b->amap[i]), ==, 0);
	b->nmaps = 0;
	b->rmap = NULL;
	b->lport = -1;
	b->up = false;
}

/* ---- requests ---- */

/* Local memory of [addr, addr + len) in the data area. */
static void *area_ptr(struct hb *b, uint64_t addr, uint32_t len)
{
	uint64_t end = addr + len;

	CHECK(len > 0 && addr < (uint64_t)b->pages * 4096 && end <= (uint64_t)b->pages * 4096);
	/* The frontend's buddy blocks never cross a 4 MiB chunk. */
	CHECK(addr >> CHUNK_SHIFT == (end - 1) >> CHUNK_SHIFT);
	return b->abase[addr >> CHUNK_SHIFT] + (addr & ((1u << CHUNK_SHIFT) - 1));
}

/* Map a grant-addressed buffer (§5.2) for the request. */
static void *grant_ptr(struct hb *b, struct hb_req *r, uint64_t addr, uint32_t len, bool write)
{
	uint32_t off = (uint32_t)(addr & 4095u), ref = (uint32_t)((addr & ~XVIO_ADDR_GRANT) >> 12);
	unsigned pages = (off + len + 4095u) / 4096u;
	xvio_gref_t refs[XVIO_PLAT_MAX_BATCH];
	void *base;

	CHECK(addr & XVIO_ADDR_GRANT);
	CHECK(pages <= XVIO_PLAT_MAX_BATCH && r->ngm < HB_MAX_SEGS);
	for (unsigned i = 0; i < pages; i++)
		refs[i] = ref + i;
	CHECK_INT(xvio_gnt_map_domain(b->p, (xvio_domid_t)b->dev.domid, pages, refs, write, &base,
	                              &r->gm[r->ngm]), ==, 0);
	r->ngm++;
	return (uint8_t *)base + off;
}

static void add_seg(struct hb *b, struct hb_req *r, uint64_t addr, uint32_t len, uint16_t flags)
{
	bool write = flags & HX_WRITE;

	CHECK(r->niov < HB_MAX_SEGS);
	CHECK(write || r->in_bytes == 0);
	r->iov[r->niov].iov_base = b->grant ? grant_ptr(b, r, addr, len, write)
	                                    : area_ptr(b, addr, len);
	r->iov[r->niov].iov_len = len;
	r->niov++;
	if (write)
		r->in_bytes += len;
	else
		r->nout = r->niov;
}

static void take_table(struct hb *b, struct hb_req *r, uint64_t addr, uint32_t len)
{
	uint8_t table[HB_MAX_SEGS * 16];
	struct hb_req tmp = { .ngm = 0 };
	unsigned n = len / 16;

	CHECK(len % 16 == 0 && n >= 1 && n <= HB_MAX_SEGS);
	/* Copy it out once, through a read-only view. */
	memcpy(table, b->grant ? grant_ptr(b, &tmp, addr, len, false) : area_ptr(b, addr, len),
	       len);
	if (tmp.ngm)
		CHECK_INT(xvio_gnt_unmap(tmp.gm[0]), ==, 0);
	for (unsigned j = 0;; j++) {
		uint64_t a;
		uint32_t l;
		uint16_t f, nx;

		CHECK(j < n);
		memcpy(&a, table + 16 * j, 8);
		memcpy(&l, table + 16 * j + 8, 4);
		memcpy(&f, table + 16 * j + 12, 2);
		memcpy(&nx, table + 16 * j + 14, 2);
		f = le16toh(f);
		add_seg(b, r, le64toh(a), le32toh(l), f);
		if (!(f & HX_NEXT))
			return;
		CHECK(le16toh(nx) == j + 1);
	}
}

static void take_chain(struct hb *b, struct hb_req *r, uint16_t head)
{
	unsigned i = head;

	r->head = head;
	r->ndesc = 0;
	r->niov = r->nout = r->ngm = 0;
	r->in_bytes = 0;
	for (;;) {
		uint64_t addr;
		uint32_t len;
		uint16_t flags, next;

		CHECK(i < b->qsize && r->ndesc < HB_MAX_SEGS);
		r->ids[r->ndesc++] = (uint16_t)i;
		hx_desc_get(&b->r, i, &addr, &len, &flags, &next);
		if (flags & HX_INDIRECT) {
			CHECK(r->ndesc == 1 && !(flags & HX_NEXT));
			take_table(b, r, addr, len);
			return;
		}
		add_seg(b, r, addr, len, flags);
		if (!(flags & HX_NEXT))
			return;
		i = next;
	}
}

static void wait_event(struct hb *b, int ms)
{
	struct pollfd pfd = { .fd = xvio_evtchn_fd(b->ev), .events = POLLIN };
	int port;

	poll(&pfd, 1, ms);
	while ((port = xvio_evtchn_pending(b->ev)) >= 0)
		xvio_evtchn_unmask(b->ev, (xvio_port_t)port);
}

int hb_pop(struct hb *b, struct hb_req *r, int timeout_ms)
{
	long long end = xp_now_ms() + timeout_ms;

	CHECK(b->up);
	for (;;) {
		uint16_t n = (uint16_t)(hx_avail_idx_get(&b->r) - b->last_avail);

		/* More than a ring's worth: someone scribbled on it (a test
		 * may do that to its own ring); wait for the driver to
		 * publish again. */
		if (n > 0 && n <= b->qsize)
			break;
		/* Ask for a kick at the next chain (EVENT_IDX). */
		hx_avail_event(&b->r, b->last_avail);
		if (xp_now_ms() >= end)
			return 0;
		wait_event(b, 1);
	}
	take_chain(b, r, hx_avail_ent_get(&b->r, b->last_avail));
	b->last_avail++;
	return 1;
}

void hb_answer(struct hb *b, struct hb_req *r)
{
	xt_xform(b->seed, r->iov, r->nout, r->niov, r->in_bytes, false);
}

void hb_release(struct hb *b, struct hb_req *r)
{
	for (unsigned i = 0; i < r->ngm; i++)
		CHECK_INT(xvio_gnt_unmap(r->gm[i]), ==, 0);
	r->ngm = 0;
}

void hb_used(struct hb *b, uint32_t id, uint32_t len)
{
	hx_used_ent(&b->r, b->used_idx, id, len);
	b->used_idx++;
}

void hb_publish(struct hb *b)
{
	hx_used_idx(&b->r, b->used_idx);
	CHECK_INT(xvio_evtchn_notify(b->ev, (xvio_port_t)b->lport), ==, 0);
}

void hb_complete(struct hb *b, struct hb_req *r)
{
	hb_answer(b, r);
	hb_release(b, r);
	hb_used(b, r->head, r->in_bytes);
	hb_publish(b);
}

void hb_serve(struct hb *b, unsigned n)
{
	struct hb_req r;

	for (unsigned i = 0; i < n; i++) {
		if (!hb_pop(b, &r, HX_WAIT_MS)) {
			hx_victims_check();
			CHECK_FAIL("the frontend posted no request within %d ms (%u of %u served)",
			           HX_WAIT_MS, i, n);
		}
		hb_complete(b, &r);
	}
}

unsigned hb_hold(struct hb *b, struct hb_req *reqs, unsigned n, int quiet_ms)
{
	unsigned k = 0;

	while (k < n && hb_pop(b, &reqs[k], quiet_ms))
		k++;
	return k;
}
