/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the virtqueue unit tests: both roles on one ring in one
 * process, a fake data area that serves indirect tables, and raw writers
 * that let a test play a hostile peer by poking the ring directly.
 *
 * The ring is malloc'ed with exactly xvio_vring_bytes() bytes and the data
 * area with exactly its size, so ASan catches any access outside them.
 * The layout used by the raw writers is computed here from the protocol's
 * formula, independently of vq_ring.c.
 */
#ifndef XVIO_VQTEST_H
#define XVIO_VQTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#include "check.h"
#include "vq.h"

#define F_INDIRECT (1ull << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT_IDX (1ull << VIRTIO_RING_F_EVENT_IDX)

/* The fake data area: bus address = offset; tables live here. */
#define VQT_AREA_BYTES (1u << 20)

struct vqt_area {
	uint8_t *mem;
	size_t len;
	int refuse;          /* map() fails with -refuse when set */
	unsigned maps;
	unsigned unmaps;
};

struct vqt {
	unsigned size;
	uint64_t feat;
	uint8_t *ring;
	size_t bytes;
	size_t used_off;     /* computed here, not by the library */
	struct xvio_vqd *d;
	struct xvio_vqdev *v;
	struct vqt_area area;
	struct xvio_vq_xlate xl;
	uint16_t raw_avail;  /* next avail index the raw writers publish */
};

/* Ring + both roles (zeroed ring, as a frontend grants it). */
void vqt_open(struct vqt *t, unsigned size, uint64_t feat);
void vqt_close(struct vqt *t);

/* Deterministic PRNG; the seed comes from $VQT_SEED when set. */
uint64_t vqt_seed(uint64_t dflt);
uint64_t vqt_rand(uint64_t *s);
/* Uniform in [lo, hi]. */
uint64_t vqt_range(uint64_t *s, uint64_t lo, uint64_t hi);

/* ---- raw ring access: a hostile peer's view ---- */

void vqt_put_desc(uint8_t *p, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);
/* Ring descriptor i. */
void vqt_desc(struct vqt *t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
              uint16_t next);
/* Put head in the next avail slot and publish avail.idx (+1). */
void vqt_post(struct vqt *t, uint16_t head);
void vqt_set_avail_idx(struct vqt *t, uint16_t idx);
uint16_t vqt_avail_idx(const struct vqt *t);
uint16_t vqt_avail_flags(const struct vqt *t);
uint16_t vqt_used_event(const struct vqt *t);
/* used.ring[pos & mask] = {id, len}. */
void vqt_used(struct vqt *t, uint16_t pos, uint32_t id, uint32_t len);
void vqt_set_used_idx(struct vqt *t, uint16_t idx);
uint16_t vqt_used_idx(const struct vqt *t);
uint16_t vqt_used_flags(const struct vqt *t);
uint16_t vqt_avail_event(const struct vqt *t);
/* The head the driver put in avail.ring[pos & mask]. */
uint16_t vqt_avail_head(const struct vqt *t, uint16_t pos);

/*
 * Expect the device (resp. driver) side to have just failed with rc: -EPROTO,
 * broken, a message containing `want`, and sticky (later calls fail too,
 * the message stays).  The area must have no mapping left.
 */
void vqt_expect_dev_broken(struct vqt *t, int rc, const char *want);
void vqt_expect_drv_broken(struct vqt *t, int rc, const char *want);

#endif
