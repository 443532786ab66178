/* SPDX-License-Identifier: MIT */
/*
 * Integration: time-of-check to time-of-use (protocol §10, XSA-155).  A
 * second thread of the hostile frontend rewrites ring fields in a tight
 * loop, mostly between valid values and now and then to a dangerous one
 * (an address far outside the area, a length that runs past it, a loop, a
 * readable-after-writable), while the main thread posts the same chain
 * again and again.  The backend copies every field once and checks the
 * copy, so each round must end in a valid completion (id and length one
 * of the valid shapes) or in a violation naming one of the dangerous
 * values; acting on a value it did not check would touch memory outside
 * the area (a guard page: SIGSEGV; a sanitizer report) and fail the test.
 *
 * Cases: desc (a direct chain's descriptors), indirect (the entries of an
 * indirect table and the table's length), avail-ring (the head in the
 * available ring), avail-idx (the available index), grant (grant-mode
 * addresses flipping to refs never granted or granted read-only).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

#define RD 0u
#define WR 4096u
#define TAB 8192u
#define ROUNDS 3000u
#define BUDGET_MS 1500

static struct hx_scene sc;

struct flipper {
	struct hf *h;
	atomic_bool stop;
	atomic_uint target;     /* avail-idx: the index the main thread wants */
	void (*step)(struct flipper *f, unsigned k);
	uint64_t ro_ref, never_ref, rd_ref, wr_ref;
};

/* Mostly valid values; a dangerous one every `rare`th step, for one store. */
static bool rare(unsigned k, unsigned every)
{
	return k % every == every - 1;
}

static void step_desc(struct flipper *f, unsigned k)
{
	const struct hx_ring *r = &f->h->q[0].r;
	uint32_t far = 0x7ff00000u;

	hx_desc(r, 0, rare(k, 1999) ? far : (k & 1) ? RD : RD + 512,
	        rare(k, 2999) ? 4u << 20 : (k & 2) ? 64 : 128, HX_NEXT,
	        rare(k, 4001) ? 0 : 1);
	hx_desc(r, 1, WR, rare(k, 6007) ? 0 : (k & 4) ? 64 : 100,
	        rare(k, 8009) ? HX_WRITE | HX_NEXT : HX_WRITE, 1);
}

static void step_indirect(struct flipper *f, unsigned k)
{
	struct hf *h = f->h;
	uint8_t *t = hf_ptr(h, TAB);

	hx_table_ent(t, 0, rare(k, 1999) ? 0x7ff00000u : (k & 1) ? RD : RD + 512,
	             rare(k, 2999) ? 4u << 20 : (k & 2) ? 64 : 128, HX_NEXT,
	             rare(k, 4001) ? 0 : 1);
	hx_table_ent(t, 1, WR, rare(k, 6007) ? 0 : (k & 4) ? 64 : 100,
	             rare(k, 8009) ? HX_INDIRECT : HX_WRITE, 0);
	hx_desc(&h->q[0].r, 0, hf_addr(h, TAB), rare(k, 10007) ? 24 : 32, HX_INDIRECT, 0);
}

/* The flipper owns every avail.ring slot: head 0, now and then 0x7fff. */
static void step_avail_ring(struct flipper *f, unsigned k)
{
	const struct hx_ring *r = &f->h->q[0].r;

	for (unsigned i = 0; i < r->n; i++)
		hx_avail_ent(r, i, rare(k + i, 6007) ? 0x7fff : 0);
}

/* The flipper owns avail.idx: the main thread's target, or a jump. */
static void step_avail_idx(struct flipper *f, unsigned k)
{
	unsigned t = atomic_load(&f->target);

	hx_avail_idx(&f->h->q[0].r, (uint16_t)(rare(k, 2003) ? t + 300 : t));
}

static void step_grant(struct flipper *f, unsigned k)
{
	const struct hx_ring *r = &f->h->q[0].r;

	hx_desc(r, 0, rare(k, 1999) ? f->never_ref : f->rd_ref, (k & 2) ? 64 : 128, HX_NEXT, 1);
	hx_desc(r, 1, rare(k, 2999) ? f->ro_ref : f->wr_ref, (k & 4) ? 64 : 100, HX_WRITE, 0);
}

static void *flip(void *arg)
{
	struct flipper *f = arg;

	for (unsigned k = 0; !atomic_load_explicit(&f->stop, memory_order_relaxed); k++)
		f->step(f, k);
	return NULL;
}

/* What the backend may answer: lengths of the valid shapes. */
static bool valid_len(uint32_t len)
{
	return len == 64 || len == 100;
}

static const char *const dangers[] = {
	"outside the data area", "over the", "zero length", "loops back", "readable after",
	"nested INDIRECT", "indirect table length", "out of range", "avail.idx jumped",
	"cannot be mapped", "writable grants", NULL,
};

/* Rounds until a violation or the budget; returns completions. */
static unsigned rounds(struct flipper *f, bool *violated)
{
	struct hf *h = f->h;
	struct hf_q *q = &h->q[0];
	long long end = xp_now_ms() + BUDGET_MS;
	unsigned done = 0;
	char state[16];

	*violated = false;
	while (done < ROUNDS && xp_now_ms() < end) {
		long long give_up = xp_now_ms() + HX_WAIT_MS;
		uint32_t id, len;

		/* The avail-ring flipper writes the heads itself. */
		if (f->step != step_avail_ring)
			hx_avail_ent(&q->r, q->avail, 0);
		q->avail++;
		if (f->step == step_avail_idx)
			atomic_store(&f->target, q->avail);
		else
			hf_publish(h, 0);
		hf_kick(h, 0);
		while (!hf_wait_used(h, 0, 1, 5)) {
			CHECK(xp_read(sc.xs0, sc.a.be, "state", state, sizeof(state)));
			if (strcmp(state, "5") == 0) {
				*violated = true;
				return done;
			}
			if (xp_now_ms() > give_up)
				CHECK_FAIL("round %u: neither an answer nor a violation", done);
			hx_victims_check();
			hf_kick(h, 0);
		}
		hx_used_ent_get(&q->r, q->used++, &id, &len);
		CHECK_INT(id, ==, 0);
		if (!valid_len(len))
			CHECK_FAIL("round %u: used len %u is no valid shape's", done, len);
		done++;
	}
	return done;
}

static void run(void (*step)(struct flipper *f, unsigned k), const struct hf_opts *o)
{
	struct flipper f = { .step = step };
	struct hf *h = &sc.h;
	char msg[512];
	pthread_t th;
	unsigned done;
	bool violated;

	hx_scene_start(&sc);
	hf_connect(h, o);
	hf_traffic(h, 0, 11, 3);
	f.h = h;
	if (o && o->grant) {
		struct xvio_gnt_share *s;
		xvio_gref_t ref;
		void *mem;

		CHECK_INT(xvio_gnt_share(h->p, 0, 1, false, &ref, &mem, &s), ==, 0);
		f.ro_ref = XVIO_ADDR_GRANT | (uint64_t)ref << 12;
		f.never_ref = XVIO_ADDR_GRANT | 30000ull << 12;
	}
	f.rd_ref = hf_addr(h, RD);
	f.wr_ref = hf_addr(h, WR);
	memset(hf_ptr(h, RD), 0x33, 1024);
	/* The chain the avail flippers post; the others rewrite it. */
	hx_desc(&h->q[0].r, 0, hf_addr(h, RD), 64, HX_NEXT, 1);
	hx_desc(&h->q[0].r, 1, hf_addr(h, WR), 64, HX_WRITE, 0);
	atomic_store(&f.target, h->q[0].avail);
	step(&f, 0);
	CHECK(pthread_create(&th, NULL, flip, &f) == 0);
	done = rounds(&f, &violated);
	atomic_store(&f.stop, true);
	CHECK(pthread_join(th, NULL) == 0);
	fprintf(stderr, "%u valid completions, then %s\n", done,
	        violated ? "a violation" : "the end of the budget");
	if (violated) {
		bool named = false;

		hx_scene_violation(&sc, EPROTO, NULL);
		CHECK(hx_error_node(sc.xs0, sc.a.be, msg, sizeof(msg)));
		for (const char *const *d = dangers; *d; d++)
			named |= strstr(msg, *d) != NULL;
		if (!named)
			CHECK_FAIL("the violation \"%s\" names none of the values written", msg);
	} else {
		/* The flipper stopped on some value: put the index back. */
		hf_publish(h, 0);
		hx_scene_benign(&sc);
	}
	hx_scene_end(&sc);
}

static void test_desc(void)
{
	run(step_desc, NULL);
}

static void test_indirect(void)
{
	run(step_indirect, NULL);
}

static void test_avail_ring(void)
{
	run(step_avail_ring, NULL);
}

static void test_avail_idx(void)
{
	run(step_avail_idx, NULL);
}

static void test_grant(void)
{
	static const struct hf_opts o = { .grant = true };

	run(step_grant, &o);
}

int main(int argc, char **argv)
{
	static const struct check_case cases[] = {
		{ "desc", test_desc },
		{ "indirect", test_indirect },
		{ "avail-ring", test_avail_ring },
		{ "avail-idx", test_avail_idx },
		{ "grant", test_grant },
	};

	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
