/* SPDX-License-Identifier: MIT */
/*
 * Raw split-ring access for the hostile peers (hostile.h): single
 * little-endian loads and stores at the offsets of protocol §4, with the
 * release/acquire pairing of the indices, and no checking of any kind.
 */
#include <endian.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "barrier.h"
#include "hostile.h"

void hx_ring_init(struct hx_ring *r, void *mem, unsigned n)
{
	r->mem = mem;
	r->n = n;
	r->desc = mem;
	r->avail = r->desc + 16u * n;
	r->used = r->desc + xvio_vring_used_offset(n);
}

static uint8_t *desc_at(const struct hx_ring *r, unsigned i)
{
	return r->desc + 16u * (i % r->n);
}

void hx_desc(const struct hx_ring *r, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
             uint16_t next)
{
	uint8_t *d = desc_at(r, i);

	xvio_store64(d + offsetof(struct vring_desc, addr), htole64(addr));
	xvio_store32(d + offsetof(struct vring_desc, len), htole32(len));
	xvio_store16(d + offsetof(struct vring_desc, flags), htole16(flags));
	xvio_store16(d + offsetof(struct vring_desc, next), htole16(next));
}

void hx_desc_get(const struct hx_ring *r, unsigned i, uint64_t *addr, uint32_t *len,
                 uint16_t *flags, uint16_t *next)
{
	const uint8_t *d = desc_at(r, i);

	*addr = le64toh(xvio_load64(d + offsetof(struct vring_desc, addr)));
	*len = le32toh(xvio_load32(d + offsetof(struct vring_desc, len)));
	*flags = le16toh(xvio_load16(d + offsetof(struct vring_desc, flags)));
	*next = le16toh(xvio_load16(d + offsetof(struct vring_desc, next)));
}

void hx_table_ent(void *table, unsigned j, uint64_t addr, uint32_t len, uint16_t flags,
                  uint16_t next)
{
	struct vring_desc d = {
		.addr = htole64(addr), .len = htole32(len),
		.flags = htole16(flags), .next = htole16(next),
	};

	/* Tables may sit at any alignment in the area. */
	memcpy((uint8_t *)table + 16u * j, &d, sizeof(d));
}

static uint8_t *avail_ring(const struct hx_ring *r, unsigned pos)
{
	return r->avail + 4 + 2u * (pos % r->n);
}

void hx_avail_ent(const struct hx_ring *r, unsigned pos, uint16_t head)
{
	xvio_store16(avail_ring(r, pos), htole16(head));
}

uint16_t hx_avail_ent_get(const struct hx_ring *r, unsigned pos)
{
	return le16toh(xvio_load16(avail_ring(r, pos)));
}

void hx_avail_idx(const struct hx_ring *r, uint16_t idx)
{
	xvio_store_release16(r->avail + 2, htole16(idx));
}

uint16_t hx_avail_idx_get(const struct hx_ring *r)
{
	return le16toh(xvio_load_acquire16(r->avail + 2));
}

void hx_avail_flags(const struct hx_ring *r, uint16_t v)
{
	xvio_store16(r->avail, htole16(v));
}

void hx_used_event(const struct hx_ring *r, uint16_t v)
{
	xvio_store16(r->avail + 4 + 2u * r->n, htole16(v));
}

static uint8_t *used_elem(const struct hx_ring *r, unsigned pos)
{
	return r->used + 4 + 8u * (pos % r->n);
}

void hx_used_ent(const struct hx_ring *r, unsigned pos, uint32_t id, uint32_t len)
{
	xvio_store32(used_elem(r, pos), htole32(id));
	xvio_store32(used_elem(r, pos) + 4, htole32(len));
}

void hx_used_ent_get(const struct hx_ring *r, unsigned pos, uint32_t *id, uint32_t *len)
{
	*id = le32toh(xvio_load32(used_elem(r, pos)));
	*len = le32toh(xvio_load32(used_elem(r, pos) + 4));
}

void hx_used_idx(const struct hx_ring *r, uint16_t idx)
{
	xvio_store_release16(r->used + 2, htole16(idx));
}

uint16_t hx_used_idx_get(const struct hx_ring *r)
{
	return le16toh(xvio_load_acquire16(r->used + 2));
}

void hx_used_flags(const struct hx_ring *r, uint16_t v)
{
	xvio_store16(r->used, htole16(v));
}

void hx_avail_event(const struct hx_ring *r, uint16_t v)
{
	xvio_store16(r->used + 4 + 8u * r->n, htole16(v));
}
