/* SPDX-License-Identifier: MIT */
/*
 * Cost of one request through a virtqueue, both roles in one thread:
 * add + kick_prepare + pop + push + need_notify + get_used, for a few chain
 * shapes and batch sizes.  Not a test: it prints figures.  Each figure is
 * also given as a ratio to a baseline measured in the same run (a bare
 * single-producer ring of one 64-bit word per request, with the same
 * index ordering), since the machines are shared and noisy.
 *
 * Usage: vq-bench [requests]   (default 2000000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <linux/virtio_ring.h>

#include "barrier.h"
#include "vq.h"

#define F_INDIRECT (1ull << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT_IDX (1ull << VIRTIO_RING_F_EVENT_IDX)
#define SIZE 256u

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The least any shared ring costs: write, publish, read the index, read. */
static double bare_ring(unsigned long n)
{
	static volatile uint64_t slots[SIZE];
	static uint16_t prod_idx, cons_idx;
	uint16_t shared_idx = 0;
	uint64_t sum = 0;
	double t0 = now_ns();

	for (unsigned long i = 0; i < n; i++) {
		slots[prod_idx % SIZE] = i;
		xvio_store_release16(&shared_idx, ++prod_idx);
		if (xvio_load_acquire16(&shared_idx) != cons_idx)
			sum += slots[cons_idx++ % SIZE];
	}
	if (sum != (uint64_t)n * (n - 1) / 2)
		abort();
	return (now_ns() - t0) / (double)n;
}

/* One xvio_mb(), the price of each notification decision. */
static double fence(unsigned long n)
{
	double t0 = now_ns();

	for (unsigned long i = 0; i < n; i++)
		xvio_mb();
	return (now_ns() - t0) / (double)n;
}

struct shape {
	const char *name;
	unsigned nseg;
	bool indirect;
	uint64_t feat;
	unsigned batch;
};

static void round_trip(struct xvio_vqd *d, struct xvio_vqdev *v, const struct xvio_seg *s,
                       const struct shape *sh, struct xvio_vq_indirect *tabs,
                       struct xvio_vq_xlate *xl)
{
	static struct xvio_chain c;
	uint16_t heads[64];
	void *cookie;
	uint32_t len;

	for (unsigned k = 0; k < sh->batch; k++)
		if (xvio_vqd_add(d, s, sh->nseg, NULL, sh->indirect ? &tabs[k] : NULL) != 0)
			abort();
	(void)xvio_vqd_kick_prepare(d);
	for (unsigned k = 0; k < sh->batch; k++) {
		if (xvio_vqdev_pop(v, xl, &c) != 1)
			abort();
		heads[k] = c.head;
	}
	for (unsigned k = 0; k < sh->batch; k++)
		if (xvio_vqdev_push(v, heads[k], c.in_bytes) != 0)
			abort();
	(void)xvio_vqdev_need_notify(v);
	for (unsigned k = 0; k < sh->batch; k++)
		if (xvio_vqd_get_used(d, &cookie, &len) != 1)
			abort();
}

static int tab_map(void *ctx, uint64_t addr, uint32_t len, bool write, void **ptr,
                   void **token)
{
	*ptr = (uint8_t *)ctx + addr;
	*token = NULL;
	return 0;
}

static void tab_unmap(void *ctx, void *token)
{
}

static double run_shape(const struct shape *sh, unsigned long n)
{
	static uint8_t area[64 * 4096];
	struct xvio_vq_indirect tabs[64];
	struct xvio_vq_xlate xl = { .map = tab_map, .unmap = tab_unmap, .ctx = area };
	struct xvio_seg s[8];
	void *ring = calloc(1, xvio_vring_bytes(SIZE));
	struct xvio_vqd *d;
	struct xvio_vqdev *v;
	double t0;

	if (!ring || xvio_vqd_new(ring, SIZE, sh->feat, &d) || xvio_vqdev_new(ring, SIZE, sh->feat, &v))
		abort();
	for (unsigned i = 0; i < 64; i++)
		tabs[i] = (struct xvio_vq_indirect){ .table = area + i * 4096, .addr = i * 4096u,
		                                     .n = 8 };
	for (unsigned i = 0; i < sh->nseg; i++)
		s[i] = (struct xvio_seg){ .addr = i * 512u, .len = 512, .write = i + 1 == sh->nseg };
	t0 = now_ns();
	for (unsigned long i = 0; i < n / sh->batch; i++)
		round_trip(d, v, s, sh, tabs, &xl);
	t0 = (now_ns() - t0) / (double)(n / sh->batch * sh->batch);
	xvio_vqd_free(d);
	xvio_vqdev_free(v);
	free(ring);
	return t0;
}

int main(int argc, char **argv)
{
	static const struct shape shapes[] = {
		{ "1 seg, batch 1", 1, false, 0, 1 },
		{ "1 seg, batch 1, EVENT_IDX", 1, false, F_EVENT_IDX, 1 },
		{ "3 segs, batch 1, EVENT_IDX", 3, false, F_EVENT_IDX, 1 },
		{ "3 segs indirect, batch 1, EVENT_IDX", 3, true, F_EVENT_IDX | F_INDIRECT, 1 },
		{ "1 seg, batch 16, EVENT_IDX", 1, false, F_EVENT_IDX, 16 },
		{ "3 segs, batch 16, EVENT_IDX", 3, false, F_EVENT_IDX, 16 },
		{ "3 segs indirect, batch 16, EVENT_IDX", 3, true, F_EVENT_IDX | F_INDIRECT, 16 },
	};
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 2000000;
	double base, mb;

	if (n < 64)
		n = 64;
	base = bare_ring(n);
	printf("baseline (bare ring, 1 word per request): %.1f ns/request\n", base);
	mb = fence(n);
	printf("one full fence (xvio_mb): %.1f ns (%.1fx baseline)\n", mb, mb / base);
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		double ns = run_shape(&shapes[i], n);

		printf("%-40s %7.1f ns/request  %6.1fx baseline\n", shapes[i].name, ns, ns / base);
	}
	return 0;
}
