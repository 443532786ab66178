/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the driver side of a virtqueue: a model driver posts chains while
 * the input plays a hostile device writing the used ring (honest
 * completions, arbitrary entries, arbitrary indices, stray words).  The
 * driver must hand back only chains it has in flight, each once, with a
 * length within what it posted, or break the queue with a message; its
 * counters must match the model; it must never write the device's part of
 * the ring; reset must return exactly the model's in-flight chains, oldest
 * first.
 *
 * Input:
 *   u8   queue size = 2 << (code % 10)                      (2..1024)
 *   u8   bit 0 EVENT_IDX, bit 1 INDIRECT_DESC
 *   operations, one byte each plus arguments (see run_op)
 * Missing bytes read as zero.
 */
#include <errno.h>
#include <stdbool.h>

#include <linux/virtio_ring.h>

#include "fuzz.h"
#include "vq.h"

#define MAX_OPS 2048
#define MAX_RESETS 8
#define MAX_SEGS 16
#define TABLE_BYTES (MAX_SEGS * 16)

enum { R_IDLE, R_ADDED, R_PUBLISHED };

struct rec {
	int state;
	uint64_t seq;           /* submission order */
	uint32_t in_bytes;
	unsigned ndesc;
	uint16_t head;
};

struct fz {
	unsigned size;
	uint64_t feat;
	uint8_t *ring;
	size_t bytes, used_off;
	uint8_t *dev_copy;      /* the device's part [used_off, bytes) as written */
	struct xvio_vqd *d;
	struct rec rec[XVIO_VQ_MAX_SIZE];
	uint64_t seq;
	unsigned added_list[XVIO_VQ_MAX_SIZE];  /* added, not yet published */
	unsigned nadded;
	uint16_t added;         /* avail entries the model added */
	uint16_t dev_used;      /* next used slot the "device" fills */
	unsigned resets;        /* bounded: each one rewrites the whole ring */
	unsigned desc_in_use;
	unsigned in_flight;
};

static uint8_t tables[XVIO_VQ_MAX_SIZE][TABLE_BYTES];

static void dev_write(struct fz *z, size_t off, const void *p, size_t n)
{
	memcpy(z->ring + off, p, n);
	memcpy(z->dev_copy + (off - z->used_off), p, n);
}

static void set_used_idx(struct fz *z, uint16_t idx)
{
	dev_write(z, z->used_off + 2, &idx, 2);
}

/* Counters match the model (a broken queue keeps them frozen), and the
 * driver never wrote into the device's part of the ring (checked at every
 * step on small rings, at the end on all: it is the costly part). */
static void check_books(const struct fz *z, bool last)
{
	FUZZ_CHECK(xvio_vqd_in_flight(z->d) == z->in_flight);
	FUZZ_CHECK(xvio_vqd_free_descs(z->d) == z->size - z->desc_in_use);
	if (last || z->size <= 64)
		FUZZ_CHECK(memcmp(z->ring + z->used_off, z->dev_copy, z->bytes - z->used_off) == 0);
}

static int find_idle(struct fz *z, unsigned start)
{
	for (unsigned k = 0; k < z->size; k++) {
		unsigned i = (start + k) % z->size;

		if (z->rec[i].state == R_IDLE)
			return (int)i;
	}
	return -1;
}

static void do_add(struct fz *z, struct fin *f)
{
	struct xvio_seg s[MAX_SEGS];
	unsigned n = fin_u8(f) % MAX_SEGS + 1, nread = fin_u8(f) % (n + 1);
	bool ind = fin_u8(f) & 1;
	int k = find_idle(z, fin_u8(f));
	struct xvio_vq_indirect tab;
	uint32_t in = 0;
	unsigned need;
	int rc;

	if (k < 0)
		return;
	tab = (struct xvio_vq_indirect){ .table = tables[k], .addr = (uint64_t)k << 12,
	                                 .n = MAX_SEGS };
	for (unsigned i = 0; i < n; i++) {
		s[i] = (struct xvio_seg){ .addr = i, .len = fin_u8(f) + 1u, .write = i >= nread };
		if (s[i].write)
			in += s[i].len;
	}
	need = ind && (z->feat & (1ull << VIRTIO_RING_F_INDIRECT_DESC)) ? 1 : n;
	rc = xvio_vqd_add(z->d, s, n, &z->rec[k], ind ? &tab : NULL);
	if (xvio_vqd_broken(z->d)) {
		FUZZ_CHECK(rc == -EPROTO);
		return;
	}
	if (n > z->size && need == n) {
		FUZZ_CHECK(rc == -EINVAL);
		return;
	}
	if (z->size - z->desc_in_use < need) {
		FUZZ_CHECK(rc == -ENOSPC);
		return;
	}
	FUZZ_CHECK(rc == 0);
	/* The head it chose, from what it wrote in the avail ring. */
	memcpy(&z->rec[k].head, z->ring + 16 * (size_t)z->size + 4 +
	       2 * (size_t)(z->added & (z->size - 1)), 2);
	z->rec[k] = (struct rec){ .state = R_ADDED, .seq = z->seq++, .in_bytes = in,
	                          .ndesc = need, .head = z->rec[k].head };
	z->added_list[z->nadded++] = (unsigned)k;
	z->added++;
	z->desc_in_use += need;
	z->in_flight++;
}

static void do_kick(struct fz *z)
{
	(void)xvio_vqd_kick_prepare(z->d);
	if (xvio_vqd_broken(z->d))
		return;
	for (unsigned i = 0; i < z->nadded; i++)
		z->rec[z->added_list[i]].state = R_PUBLISHED;
	z->nadded = 0;
}

/* The device completes id with len at its next used slot. */
static void complete(struct fz *z, uint32_t id, uint32_t len)
{
	size_t off = z->used_off + 4 + 8 * (size_t)(z->dev_used & (z->size - 1));

	dev_write(z, off, &id, 4);
	dev_write(z, off + 4, &len, 4);
	z->dev_used++;
	set_used_idx(z, z->dev_used);
}

/* An honest completion of a published chain, maybe with a bad length. */
static void do_complete_honest(struct fz *z, uint8_t which, uint8_t lenb)
{
	for (unsigned k = 0; k < z->size; k++) {
		struct rec *r = &z->rec[(which + k) % z->size];

		if (r->state != R_PUBLISHED)
			continue;
		complete(z, r->head, lenb == 255 ? r->in_bytes + 1
		                                 : (uint32_t)((uint64_t)r->in_bytes * lenb / 254));
		return;
	}
}

/* Take up to `max` completions (one at a time lets the input re-post an
 * id between two entries the driver has already seen). */
static void do_get(struct fz *z, unsigned max)
{
	for (unsigned k = 0; k < max; k++) {
		void *cookie = NULL;
		uint32_t len = 0;
		int rc = xvio_vqd_get_used(z->d, &cookie, &len);
		struct rec *r = cookie;

		if (rc == -EPROTO) {
			FUZZ_CHECK(xvio_vqd_broken(z->d));
			FUZZ_CHECK(xvio_vqd_error(z->d)[0] != '\0');
			if (fuzz_verbose())
				fprintf(stderr, "broken: %s\n", xvio_vqd_error(z->d));
			return;
		}
		FUZZ_CHECK(rc == 0 || rc == 1);
		if (rc == 0)
			return;
		FUZZ_CHECK(r >= z->rec && r < z->rec + z->size);
		FUZZ_CHECK(r->state == R_PUBLISHED);
		FUZZ_CHECK(len <= r->in_bytes);
		if (fuzz_verbose())
			fprintf(stderr, "completed record %td, %u bytes\n", r - z->rec, len);
		r->state = R_IDLE;
		z->desc_in_use -= r->ndesc;
		z->in_flight--;
	}
}

/* Reset must give back the model's in-flight records, oldest first. */
static void do_reset(struct fz *z)
{
	static void *cookies[XVIO_VQ_MAX_SIZE];
	unsigned n = xvio_vqd_reset(z->d, cookies, XVIO_VQ_MAX_SIZE);
	uint64_t last = 0;

	FUZZ_CHECK(n == z->in_flight);
	for (unsigned i = 0; i < n; i++) {
		struct rec *r = cookies[i];

		FUZZ_CHECK(r >= z->rec && r < z->rec + z->size);
		FUZZ_CHECK(r->state != R_IDLE);
		FUZZ_CHECK(i == 0 || r->seq > last);
		last = r->seq;
		r->state = R_IDLE;
	}
	/* All zero: the first byte is, and every byte equals the next. */
	FUZZ_CHECK(z->ring[0] == 0 && memcmp(z->ring, z->ring + 1, z->bytes - 1) == 0);
	memset(z->dev_copy, 0, z->bytes - z->used_off);
	z->added = z->dev_used = 0;
	z->nadded = 0;
	z->desc_in_use = z->in_flight = 0;
	FUZZ_CHECK(!xvio_vqd_broken(z->d));
}

static void run_op(struct fz *z, struct fin *f)
{
	uint8_t op = fin_u8(f);

	switch ((op & 0x7f) % 10) {
	case 0:
	case 1:
		do_add(z, f);
		break;
	case 2:
		do_kick(z);
		break;
	case 3: {
		uint8_t which = fin_u8(f);

		do_complete_honest(z, which, fin_u8(f));
		break;
	}
	case 4: {
		uint32_t id = fin_u16(f);

		if (op & 0x80)
			id |= (uint32_t)fin_u16(f) << 16;
		complete(z, id, fin_u16(f));
		break;
	}
	case 5: {
		uint16_t idx = fin_u16(f);

		set_used_idx(z, idx);
		break;
	}
	case 6:
		do_get(z, op & 0x80 ? 1 : 2 * z->size + 2);
		break;
	case 7:
		if (op & 0x80)
			xvio_vqd_disable_cb(z->d);
		else
			(void)xvio_vqd_enable_cb(z->d);
		break;
	case 8: {
		uint16_t off = fin_u16(f), val = fin_u16(f);

		dev_write(z, z->used_off + (size_t)off % ((z->bytes - z->used_off) / 2) * 2,
		          &val, 2);
		break;
	}
	default:
		if (z->resets++ < MAX_RESETS)
			do_reset(z);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin f = { .p = data, .n = size };
	static struct fz z;
	uint8_t flags;

	memset(&z, 0, sizeof(z));
	z.size = 2u << (fin_u8(&f) % 10);
	flags = fin_u8(&f);
	z.feat = (flags & 1 ? 1ull << VIRTIO_RING_F_EVENT_IDX : 0) |
	         (flags & 2 ? 1ull << VIRTIO_RING_F_INDIRECT_DESC : 0);
	z.bytes = xvio_vring_bytes(z.size);
	z.used_off = xvio_vring_used_offset(z.size);
	z.ring = calloc(1, z.bytes);
	z.dev_copy = calloc(1, z.bytes - z.used_off);
	if (z.ring && z.dev_copy) {
		FUZZ_CHECK(xvio_vqd_new(z.ring, z.size, z.feat, &z.d) == 0);
		for (unsigned k = 0; k < MAX_OPS && f.n > 0; k++) {
			run_op(&z, &f);
			check_books(&z, false);
		}
		check_books(&z, true);
		do_get(&z, 2 * z.size + 2);
		do_reset(&z);
		xvio_vqd_free(z.d);
	}
	free(z.ring);
	free(z.dev_copy);
	return 0;
}
