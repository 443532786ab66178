/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the device side of a virtqueue: the input is what a hostile driver
 * put in the ring (and in the data area that serves indirect tables), plus
 * a script of device operations interleaved with further writes of the
 * driver.  The device must take only chains that satisfy protocol §9/§10,
 * or break the queue with a message; never crash, never read outside the
 * ring or the area (ASan), never write into the driver's part of the ring.
 *
 * Input:
 *   u8   queue size = 2 << (code % 10)                      (2..1024)
 *   u8   bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 the xlate callback
 *        refuses every table, bit 3 no xlate callback at all
 *   u16  data area bytes (little-endian)
 *   ring contents: descriptor table (16 N), avail ring (6 + 2 N), used
 *        ring (6 + 8 N), i.e. the ring without its alignment gap
 *   data area contents
 *   operations, one byte each plus arguments (see run_op)
 * Missing bytes read as zero.
 */
#include <errno.h>
#include <stdbool.h>

#include <linux/virtio_ring.h>

#include "fuzz.h"
#include "vq.h"

#define MAX_OPS 2048

struct fz {
	unsigned size;
	uint64_t feat;
	uint8_t *ring;
	size_t bytes, used_off;
	uint8_t *drv_copy;      /* the driver's part [0, used_off) as it wrote it */
	uint8_t *area;
	size_t area_len;
	int refuse;
	unsigned maps, unmaps;
	struct xvio_vq_xlate xl;
	bool no_xl;
	struct xvio_vqdev *v;
	uint16_t held[XVIO_VQ_MAX_SIZE];
	uint32_t held_in[XVIO_VQ_MAX_SIZE];
	unsigned nheld;
	bool busy[XVIO_VQ_MAX_SIZE];
};

static int area_map(void *ctx, uint64_t addr, uint32_t len, bool write, void **ptr,
                    void **token)
{
	struct fz *z = ctx;

	FUZZ_CHECK(!write);
	if (z->refuse)
		return -EACCES;
	if (addr > z->area_len || len > z->area_len - addr)
		return -EFAULT;
	*ptr = z->area + addr;
	*token = z;
	z->maps++;
	return 0;
}

static void area_unmap(void *ctx, void *token)
{
	struct fz *z = ctx;

	FUZZ_CHECK(token == z);
	z->unmaps++;
}

/* Lay the packed image out at the real offsets (protocol §4). */
static void load_ring(struct fz *z, struct fin *f)
{
	size_t avail_end = 16 * (size_t)z->size + 6 + 2 * (size_t)z->size;

	fin_take(f, z->ring, avail_end);
	fin_take(f, z->ring + z->used_off, z->bytes - z->used_off);
	memcpy(z->drv_copy, z->ring, z->used_off);
}

static int setup(struct fz *z, struct fin *f)
{
	uint8_t flags;

	z->size = 2u << (fin_u8(f) % 10);
	flags = fin_u8(f);
	z->feat = (flags & 1 ? 1ull << VIRTIO_RING_F_EVENT_IDX : 0) |
	          (flags & 2 ? 1ull << VIRTIO_RING_F_INDIRECT_DESC : 0);
	z->refuse = flags & 4;
	z->no_xl = flags & 8;
	z->area_len = fin_u16(f);
	z->bytes = xvio_vring_bytes(z->size);
	z->used_off = xvio_vring_used_offset(z->size);
	z->ring = calloc(1, z->bytes);
	z->drv_copy = malloc(z->used_off);
	z->area = malloc(z->area_len ? z->area_len : 1);
	if (!z->ring || !z->drv_copy || !z->area)
		return -1;
	load_ring(z, f);
	fin_take(f, z->area, z->area_len);
	z->xl = (struct xvio_vq_xlate){ .map = area_map, .unmap = area_unmap, .ctx = z };
	FUZZ_CHECK(xvio_vqdev_new(z->ring, z->size, z->feat, &z->v) == 0);
	return 0;
}

static void check_chain(struct fz *z, const struct xvio_chain *c)
{
	uint64_t out = 0, in = 0;
	bool writing = false;

	FUZZ_CHECK(c->head < z->size);
	FUZZ_CHECK(!z->busy[c->head]);
	FUZZ_CHECK(c->n >= 1 && c->n <= XVIO_VQ_MAX_CHAIN);
	if (!(z->feat & (1ull << VIRTIO_RING_F_INDIRECT_DESC)))
		FUZZ_CHECK(c->n <= z->size);
	for (unsigned i = 0; i < c->n; i++) {
		const struct xvio_seg *s = &c->seg[i];

		FUZZ_CHECK(s->len >= 1 && s->len <= XVIO_VQ_MAX_SEG);
		FUZZ_CHECK(!writing || s->write);
		writing = s->write;
		if (s->write)
			in += s->len;
		else
			out += s->len;
	}
	FUZZ_CHECK(out == c->out_bytes && in == c->in_bytes);
	FUZZ_CHECK(out + in <= XVIO_VQ_MAX_CHAIN_BYTES);
}

/* Returns false once the queue is broken (nothing more to exercise). */
static bool do_pop(struct fz *z)
{
	static struct xvio_chain c;
	unsigned before = xvio_vqdev_in_flight(z->v);
	int rc = xvio_vqdev_pop(z->v, z->no_xl ? NULL : &z->xl, &c);

	FUZZ_CHECK(z->maps == z->unmaps);
	if (rc == -EPROTO) {
		FUZZ_CHECK(xvio_vqdev_broken(z->v));
		FUZZ_CHECK(xvio_vqdev_error(z->v)[0] != '\0');
		if (fuzz_verbose())
			fprintf(stderr, "broken: %s\n", xvio_vqdev_error(z->v));
		FUZZ_CHECK(xvio_vqdev_pop(z->v, &z->xl, &c) == -EPROTO);
		return false;
	}
	FUZZ_CHECK(rc == 0 || rc == 1);
	if (rc == 0)
		return true;
	check_chain(z, &c);
	if (fuzz_verbose())
		fprintf(stderr, "chain at %u: %u segments\n", c.head, c.n);
	FUZZ_CHECK(xvio_vqdev_in_flight(z->v) == before + 1);
	z->busy[c.head] = true;
	z->held[z->nheld] = c.head;
	z->held_in[z->nheld++] = c.in_bytes;
	return true;
}

static void do_push(struct fz *z, unsigned which, uint8_t frac)
{
	unsigned i;
	uint32_t len;

	if (z->nheld == 0)
		return;
	i = which % z->nheld;
	len = (uint32_t)((uint64_t)z->held_in[i] * frac / 255);
	FUZZ_CHECK(xvio_vqdev_push(z->v, z->held[i], len) == 0);
	FUZZ_CHECK(xvio_vqdev_push(z->v, z->held[i], 0) == -EINVAL);
	z->busy[z->held[i]] = false;
	z->held[i] = z->held[z->nheld - 1];
	z->held_in[i] = z->held_in[--z->nheld];
}

/* The driver rewrites a 16-bit word of its own part of the ring. */
static void do_poke(struct fz *z, uint16_t off, uint16_t val)
{
	size_t o = ((size_t)off * 2) % z->used_off;

	memcpy(z->ring + o, &val, 2);
	memcpy(z->drv_copy + o, &val, 2);
}

static bool run_op(struct fz *z, struct fin *f)
{
	uint8_t op = fin_u8(f);

	switch (op % 8) {
	case 0:
	case 1:
		return do_pop(z);
	case 2: {
		uint8_t which = fin_u8(f);

		do_push(z, which, fin_u8(f));
		break;
	}
	case 3: {
		uint16_t off = fin_u16(f);

		do_poke(z, off, fin_u16(f));
		break;
	}
	case 4:
		(void)xvio_vqdev_need_notify(z->v);
		break;
	case 5:
		xvio_vqdev_disable_kick(z->v);
		break;
	case 6:
		(void)xvio_vqdev_enable_kick(z->v);
		break;
	default:
		while (z->nheld)
			do_push(z, 0, 255);
		break;
	}
	return true;
}

/* Pop what is left, completing as we go; bounded by the ring. */
static void drain(struct fz *z)
{
	for (unsigned k = 0; k < 2 * z->size + 2 && !xvio_vqdev_broken(z->v); k++) {
		unsigned n = z->nheld;

		if (!do_pop(z) || z->nheld == n)
			break;
		do_push(z, n, 255);
	}
	while (z->nheld && !xvio_vqdev_broken(z->v))
		do_push(z, 0, 128);
	(void)xvio_vqdev_need_notify(z->v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin f = { .p = data, .n = size };
	static struct fz z;
	bool alive = true;

	memset(&z, 0, sizeof(z));
	if (setup(&z, &f) == 0) {
		for (unsigned k = 0; k < MAX_OPS && f.n > 0 && alive; k++) {
			alive = run_op(&z, &f);
			/* The device writes only its own part of the ring
			 * (checked per step on small rings, at the end on all). */
			if (z.used_off <= 4096)
				FUZZ_CHECK(memcmp(z.ring, z.drv_copy, z.used_off) == 0);
		}
		if (alive)
			drain(&z);
		FUZZ_CHECK(memcmp(z.ring, z.drv_copy, z.used_off) == 0);
		FUZZ_CHECK(z.maps == z.unmaps);
	}
	xvio_vqdev_free(z.v);
	free(z.ring);
	free(z.drv_copy);
	free(z.area);
	return 0;
}
