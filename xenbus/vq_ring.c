/* SPDX-License-Identifier: MIT */
/*
 * Split ring layout (docs/protocol.md §4): virtio's legacy contiguous
 * layout with the used ring on the next 4096-byte boundary, which is what
 * the backend maps from ring-ref0..R-1.
 */
#include <stddef.h>

#include "vq_impl.h"

/* The alignment of the used ring: one Xen page, whatever the host uses. */
#define XVIO_RING_ALIGN 4096u

int xvio_vring_size_ok(unsigned size)
{
	return size >= 2 && size <= XVIO_VQ_MAX_SIZE && (size & (size - 1)) == 0;
}

/* Descriptor table, then avail: flags, idx, ring[N], used_event. */
static size_t avail_end(unsigned size)
{
	return sizeof(struct vring_desc) * size + sizeof(uint16_t) * (3 + (size_t)size);
}

/* Used: flags, idx, ring[N] of {id, len}, avail_event. */
static size_t used_bytes(unsigned size)
{
	return sizeof(uint16_t) * 3 + sizeof(struct vring_used_elem) * (size_t)size;
}

size_t xvio_vring_used_offset(unsigned size)
{
	if (!xvio_vring_size_ok(size))
		return 0;
	return (avail_end(size) + XVIO_RING_ALIGN - 1) & ~(size_t)(XVIO_RING_ALIGN - 1);
}

size_t xvio_vring_bytes(unsigned size)
{
	if (!xvio_vring_size_ok(size))
		return 0;
	return xvio_vring_used_offset(size) + used_bytes(size);
}

unsigned xvio_vring_pages(unsigned size)
{
	return (unsigned)((xvio_vring_bytes(size) + XVIO_RING_ALIGN - 1) / XVIO_RING_ALIGN);
}

void xvio_vring_init(struct xvio_vring *r, void *mem, unsigned size)
{
	uint8_t *base = mem;

	r->num = size;
	r->mask = size - 1;
	r->desc = base;
	r->avail = base + sizeof(struct vring_desc) * (size_t)size;
	r->used = base + xvio_vring_used_offset(size);
}
