/* SPDX-License-Identifier: MIT */
/*
 * Randomized differential test: both roles on one ring, driven by random
 * operations against a model that knows what every request should look
 * like at every step.  Thousands of chains of random shapes (direct and
 * indirect, up to 256 segments, readable/writable splits, lengths up to
 * 4 MiB), completed out of order with random lengths; after every
 * operation all bookkeeping is compared with the model: in-flight counts
 * of both sides, free descriptors, both ring indices, mappings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vqtest.h"

#define POOL 256          /* requests; one 4 KiB table each in the area */
#define FIFO 4096         /* > any number of requests in one stage */

enum req_state { R_IDLE, R_ADDED, R_POPPED, R_PUSHED };

struct req {
	struct xvio_seg seg[XVIO_VQ_MAX_CHAIN];
	unsigned n;
	unsigned ndesc;       /* ring descriptors it holds */
	uint32_t in_bytes, out_bytes;
	uint16_t head;        /* known once popped */
	uint32_t len;         /* written by the device */
	enum req_state st;
};

struct model {
	struct vqt t;
	uint64_t rng;
	struct req req[POOL];
	unsigned fifo_add[FIFO];    /* by add sequence: pop order */
	unsigned fifo_push[FIFO];   /* by push sequence: get_used order */
	uint64_t added, published, popped, pushed, got;
	unsigned desc_in_use;
	unsigned popped_list[POOL]; /* popped, not pushed: any order */
	unsigned npopped;
	bool head_busy[XVIO_VQ_MAX_SIZE];
	uint64_t chains_ind, chains_direct, segs;
};

static struct model m;

/* Mostly short chains, sometimes up to max. */
static unsigned pick_n(unsigned max)
{
	uint64_t r = vqt_rand(&m.rng) % 100;

	if (r < 60)
		return (unsigned)vqt_range(&m.rng, 1, max < 4 ? max : 4);
	if (r < 95)
		return (unsigned)vqt_range(&m.rng, 1, max < 16 ? max : 16);
	return (unsigned)vqt_range(&m.rng, 1, max);
}

/* Random segments; readable first; total within the 64 MiB limit. */
static void make_chain(struct req *r, unsigned n)
{
	unsigned nread = (unsigned)vqt_range(&m.rng, 0, n);
	uint32_t maxlen = n <= 16 ? XVIO_VQ_MAX_SEG : 65536;

	r->n = n;
	r->in_bytes = r->out_bytes = 0;
	for (unsigned i = 0; i < n; i++) {
		struct xvio_seg *s = &r->seg[i];

		s->addr = vqt_rand(&m.rng);
		s->len = vqt_rand(&m.rng) % 4 ? (uint32_t)vqt_range(&m.rng, 1, 4096)
		                               : (uint32_t)vqt_range(&m.rng, 1, maxlen);
		s->write = i >= nread;
		if (s->write)
			r->in_bytes += s->len;
		else
			r->out_bytes += s->len;
	}
}

static void check_books(void)
{
	CHECK(!xvio_vqd_broken(m.t.d));
	CHECK(!xvio_vqdev_broken(m.t.v));
	CHECK_INT(xvio_vqd_in_flight(m.t.d), ==, m.added - m.got);
	CHECK_INT(xvio_vqdev_in_flight(m.t.v), ==, m.popped - m.pushed);
	CHECK_INT(xvio_vqd_free_descs(m.t.d), ==, m.t.size - m.desc_in_use);
	CHECK_INT(vqt_avail_idx(&m.t), ==, m.published & 0xffff);
	CHECK_INT(vqt_used_idx(&m.t), ==, m.pushed & 0xffff);
	CHECK_INT(m.t.area.maps, ==, m.t.area.unmaps);
}

static void op_add(void)
{
	unsigned k = (unsigned)vqt_range(&m.rng, 0, POOL - 1);
	struct req *r = &m.req[k];
	bool want_ind = vqt_rand(&m.rng) % 2;
	bool ind = want_ind && (m.t.feat & F_INDIRECT);
	/* Tables at odd offsets too: the data area gives no alignment. */
	size_t skew = k & 7;
	struct xvio_vq_indirect tab = {
		.table = m.t.area.mem + (size_t)k * 4096 + skew,
		.addr = (uint64_t)k * 4096 + skew,
		.n = skew ? XVIO_VQ_MAX_INDIRECT - 1 : XVIO_VQ_MAX_INDIRECT,
	};
	unsigned need, free_before = xvio_vqd_free_descs(m.t.d);
	int rc;

	if (r->st != R_IDLE)
		return;
	/* Without the feature the table is offered anyway: the driver must
	 * fall back to a direct chain. */
	make_chain(r, pick_n(ind ? tab.n : m.t.size));
	need = ind ? 1 : r->n;
	rc = xvio_vqd_add(m.t.d, r->seg, r->n, r, want_ind ? &tab : NULL);
	if (free_before < need) {
		CHECK_INT(rc, ==, -ENOSPC);
		CHECK_INT(xvio_vqd_free_descs(m.t.d), ==, free_before);
		return;
	}
	CHECK_INT(rc, ==, 0);
	r->ndesc = need;
	r->st = R_ADDED;
	m.desc_in_use += need;
	m.fifo_add[m.added++ % FIFO] = k;
	m.segs += r->n;
	if (ind)
		m.chains_ind++;
	else
		m.chains_direct++;
}

static void op_kick(void)
{
	(void)xvio_vqd_kick_prepare(m.t.d);
	m.published = m.added;
}

static void check_chain(const struct req *r, const struct xvio_chain *c)
{
	CHECK_INT(c->n, ==, r->n);
	CHECK_INT(c->in_bytes, ==, r->in_bytes);
	CHECK_INT(c->out_bytes, ==, r->out_bytes);
	CHECK_INT(c->head, <, m.t.size);
	CHECK(!m.head_busy[c->head]);
	for (unsigned i = 0; i < r->n; i++) {
		CHECK_INT(c->seg[i].addr, ==, r->seg[i].addr);
		CHECK_INT(c->seg[i].len, ==, r->seg[i].len);
		CHECK_INT(c->seg[i].write, ==, r->seg[i].write);
	}
}

static void op_pop(void)
{
	static struct xvio_chain c;
	int rc = xvio_vqdev_pop(m.t.v, &m.t.xl, &c);
	struct req *r;
	unsigned k;

	if (m.popped == m.published) {
		CHECK_INT(rc, ==, 0);
		return;
	}
	CHECK_INT(rc, ==, 1);
	k = m.fifo_add[m.popped++ % FIFO];
	r = &m.req[k];
	CHECK_INT(r->st, ==, R_ADDED);
	check_chain(r, &c);
	r->head = c.head;
	r->st = R_POPPED;
	m.head_busy[c.head] = true;
	m.popped_list[m.npopped++] = k;
}

static void op_push(void)
{
	unsigned i, k;
	struct req *r;
	uint32_t len;

	if (m.npopped == 0)
		return;
	i = (unsigned)vqt_range(&m.rng, 0, m.npopped - 1);
	k = m.popped_list[i];
	m.popped_list[i] = m.popped_list[--m.npopped];
	r = &m.req[k];
	len = vqt_rand(&m.rng) % 3 ? (uint32_t)vqt_range(&m.rng, 0, r->in_bytes) : r->in_bytes;
	CHECK_INT(xvio_vqdev_push(m.t.v, r->head, len), ==, 0);
	/* The same head again is the caller's bug, caught. */
	CHECK_INT(xvio_vqdev_push(m.t.v, r->head, 0), ==, -EINVAL);
	r->len = len;
	r->st = R_PUSHED;
	m.head_busy[r->head] = false;
	m.fifo_push[m.pushed++ % FIFO] = k;
}

static void op_get(void)
{
	void *cookie = NULL;
	uint32_t len = ~0u;
	int rc = xvio_vqd_get_used(m.t.d, &cookie, &len);
	struct req *r;

	if (m.got == m.pushed) {
		CHECK_INT(rc, ==, 0);
		return;
	}
	CHECK_INT(rc, ==, 1);
	r = &m.req[m.fifo_push[m.got++ % FIFO]];
	CHECK(cookie == r);
	CHECK_INT(len, ==, r->len);
	CHECK_INT(r->st, ==, R_PUSHED);
	r->st = R_IDLE;
	m.desc_in_use -= r->ndesc;
}

/* Suppression toggles must never change what flows through the ring. */
static void op_toggle(void)
{
	switch (vqt_rand(&m.rng) % 4) {
	case 0: xvio_vqd_disable_cb(m.t.d); break;
	case 1: (void)xvio_vqd_enable_cb(m.t.d); break;
	case 2: xvio_vqdev_disable_kick(m.t.v); break;
	default: (void)xvio_vqdev_enable_kick(m.t.v); break;
	}
	(void)xvio_vqdev_need_notify(m.t.v);
}

static void step(void)
{
	uint64_t r = vqt_rand(&m.rng) % 100;

	if (r < 30)
		op_add();
	else if (r < 42)
		op_kick();
	else if (r < 62)
		op_pop();
	else if (r < 80)
		op_push();
	else if (r < 95)
		op_get();
	else
		op_toggle();
	check_books();
}

/* Everything out: the queue ends empty with every descriptor free. */
static void drain(void)
{
	op_kick();
	while (m.popped < m.published)
		op_pop();
	while (m.npopped)
		op_push();
	while (m.got < m.pushed)
		op_get();
	op_get();
	check_books();
	CHECK_INT(xvio_vqd_free_descs(m.t.d), ==, m.t.size);
	CHECK_INT(xvio_vqd_in_flight(m.t.d), ==, 0);
}

static void run(unsigned size, uint64_t feat, unsigned steps, uint64_t seed)
{
	memset(&m, 0, sizeof(m));
	m.rng = seed;
	vqt_open(&m.t, size, feat);
	for (unsigned i = 0; i < steps; i++)
		step();
	drain();
	fprintf(stderr, "size %u features %#llx: %llu chains (%llu indirect), %llu segments\n",
	        size, (unsigned long long)feat,
	        (unsigned long long)(m.chains_direct + m.chains_ind),
	        (unsigned long long)m.chains_ind, (unsigned long long)m.segs);
	/* The run did what it claims: many chains, indirect ones included. */
	CHECK_INT(m.chains_direct + m.chains_ind, >, steps / 25);
	if (feat & F_INDIRECT)
		CHECK_INT(m.chains_ind, >, steps / 100);
	vqt_close(&m.t);
}

static void t_direct(void)
{
	run(8, 0, 200000, vqt_seed(1));
}

static void t_direct_big(void)
{
	run(256, 0, 200000, vqt_seed(2));
}

static void t_indirect(void)
{
	run(16, F_INDIRECT, 200000, vqt_seed(3));
}

static void t_event_idx(void)
{
	run(32, F_EVENT_IDX, 200000, vqt_seed(4));
}

static void t_all(void)
{
	run(64, F_EVENT_IDX | F_INDIRECT, 200000, vqt_seed(5));
}

/* Every queue size with every feature combination, shorter runs. */
static void t_sizes(void)
{
	uint64_t seed = vqt_seed(6);

	for (unsigned size = 2; size <= 256; size *= 2)
		for (unsigned f = 0; f < 4; f++)
			run(size, (f & 1 ? F_INDIRECT : 0) | (f & 2 ? F_EVENT_IDX : 0), 8000,
			    seed + size * 4 + f);
}

static const struct check_case cases[] = {
	{ "direct", t_direct },
	{ "direct-big", t_direct_big },
	{ "indirect", t_indirect },
	{ "event-idx", t_event_idx },
	{ "all", t_all },
	{ "sizes", t_sizes },
};

int main(int argc, char **argv)
{
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
