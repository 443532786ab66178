/* SPDX-License-Identifier: MIT */
/*
 * Private to vq_*.c: where each field of a split ring lives in the shared
 * memory (docs/protocol.md §4, structures of <linux/virtio_ring.h>), and
 * little-endian accessors built on barrier.h.
 *
 * The accessors do single, untorn loads and stores with no ordering of
 * their own; each caller places the barrier the protocol needs and says
 * what it pairs with.  Nothing here keeps a pointer into shared memory
 * beyond the ring's own base addresses, which are ours (the caller mapped
 * them), never derived from a value the peer wrote.
 */
#ifndef XVIO_VQ_IMPL_H
#define XVIO_VQ_IMPL_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#include "barrier.h"
#include "vq.h"

/* Feature bits as masks of the negotiated u64. */
#define XVIO_F_INDIRECT (1ull << VIRTIO_RING_F_INDIRECT_DESC)
#define XVIO_F_EVENT_IDX (1ull << VIRTIO_RING_F_EVENT_IDX)

/* Longest message of a broken queue (fits an error node comfortably). */
#define XVIO_VQ_ERR_MAX 160

/* Base addresses of the three parts of one ring. */
struct xvio_vring {
	unsigned num;      /* entries: a power of two */
	unsigned mask;     /* num - 1 */
	uint8_t *desc;     /* struct vring_desc[num] */
	uint8_t *avail;    /* struct vring_avail + ring[num] + used_event */
	uint8_t *used;     /* struct vring_used + ring[num] + avail_event */
};

/* 1 if size is a power of two in 2..XVIO_VQ_MAX_SIZE. */
int xvio_vring_size_ok(unsigned size);

/* Fill *r for ring memory `mem` of `size` entries (size already checked). */
void xvio_vring_init(struct xvio_vring *r, void *mem, unsigned size);

/* ---- field addresses ---- */

static inline uint8_t *vr_desc(const struct xvio_vring *r, unsigned i)
{
	return r->desc + (size_t)i * sizeof(struct vring_desc);
}

static inline uint8_t *vr_avail_flags(const struct xvio_vring *r)
{
	return r->avail + offsetof(struct vring_avail, flags);
}

static inline uint8_t *vr_avail_idx(const struct xvio_vring *r)
{
	return r->avail + offsetof(struct vring_avail, idx);
}

/* avail.ring[i], i < num; i == num is used_event (EVENT_IDX). */
static inline uint8_t *vr_avail_ring(const struct xvio_vring *r, unsigned i)
{
	return r->avail + offsetof(struct vring_avail, ring) + (size_t)i * 2;
}

static inline uint8_t *vr_used_event(const struct xvio_vring *r)
{
	return vr_avail_ring(r, r->num);
}

static inline uint8_t *vr_used_flags(const struct xvio_vring *r)
{
	return r->used + offsetof(struct vring_used, flags);
}

static inline uint8_t *vr_used_idx(const struct xvio_vring *r)
{
	return r->used + offsetof(struct vring_used, idx);
}

/* used.ring[i] (struct vring_used_elem), i < num. */
static inline uint8_t *vr_used_elem(const struct xvio_vring *r, unsigned i)
{
	return r->used + offsetof(struct vring_used, ring) +
	       (size_t)i * sizeof(struct vring_used_elem);
}

/* avail_event sits right after used.ring[num - 1]. */
static inline uint8_t *vr_avail_event(const struct xvio_vring *r)
{
	return vr_used_elem(r, r->num);
}

/* ---- little-endian single accesses (ordering: see each caller) ---- */

static inline uint16_t vr_get16(const uint8_t *p)
{
	return le16toh(xvio_load16(p));
}

static inline uint32_t vr_get32(const uint8_t *p)
{
	return le32toh(xvio_load32(p));
}

static inline uint64_t vr_get64(const uint8_t *p)
{
	return le64toh(xvio_load64(p));
}

static inline void vr_put16(uint8_t *p, uint16_t v)
{
	xvio_store16(p, htole16(v));
}

static inline void vr_put32(uint8_t *p, uint32_t v)
{
	xvio_store32(p, htole32(v));
}

static inline void vr_put64(uint8_t *p, uint64_t v)
{
	xvio_store64(p, htole64(v));
}

/*
 * Stores into ring lines the peer reads: skipped when the value is there
 * already.  A store takes the line from the peer's cache and the peer's
 * next read of it is a cross-CPU miss (~200 ns here); with buffers reused
 * in the same order (a driver resubmitting from its completion handler)
 * most descriptors, avail entries and used entries come round unchanged.
 * The load is a hit: the line was ours or shared.  Whether a peer wrote
 * the slot meanwhile does not matter: the value it holds afterwards is
 * ours either way, and a peer may rewrite it after a store just as well.
 */
static inline void vr_set16(uint8_t *p, uint16_t v)
{
	if (vr_get16(p) != v)
		vr_put16(p, v);
}

static inline void vr_set32(uint8_t *p, uint32_t v)
{
	if (vr_get32(p) != v)
		vr_put32(p, v);
}

static inline void vr_set64(uint8_t *p, uint64_t v)
{
	if (vr_get64(p) != v)
		vr_put64(p, v);
}

/* Index publication and pick-up: see barrier.h for the pairing. */
static inline void vr_put16_release(uint8_t *p, uint16_t v)
{
	xvio_store_release16(p, htole16(v));
}

static inline uint16_t vr_get16_acquire(const uint8_t *p)
{
	return le16toh(xvio_load_acquire16(p));
}

/* Offsets inside one struct vring_desc. */
#define VR_DESC_ADDR offsetof(struct vring_desc, addr)
#define VR_DESC_LEN offsetof(struct vring_desc, len)
#define VR_DESC_FLAGS offsetof(struct vring_desc, flags)
#define VR_DESC_NEXT offsetof(struct vring_desc, next)

/* Offsets inside one struct vring_used_elem. */
#define VR_USED_ID offsetof(struct vring_used_elem, id)
#define VR_USED_LEN offsetof(struct vring_used_elem, len)

/*
 * virtio's event test (vring_need_event): true if `event` lies in
 * [old, new) modulo 2^16, i.e. the peer asked to hear about one of the
 * entries just published.  All arithmetic is 16-bit, so it survives the
 * indices wrapping.
 */
static inline int xvio_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

#endif /* XVIO_VQ_IMPL_H */
