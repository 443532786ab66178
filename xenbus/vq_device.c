/* SPDX-License-Identifier: MIT */
/*
 * The device (backend) side of a split virtqueue (docs/protocol.md §4, §6,
 * §9, §10).
 *
 * The driver owns the ring and may rewrite any of it at any moment, so a
 * chain is taken in one pass: avail.idx is read once per pop and checked
 * against what we consumed, every descriptor is copied field by field into
 * locals exactly once and only the copy is checked, and an indirect table
 * is copied whole into private memory before any of it is looked at.
 * Chains are bounded (protocol §9); a revisit is caught with a per-pop
 * generation stamp per descriptor, so a loop costs one compare per hop.
 * Nothing allocates or blocks after xvio_vqdev_new().
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stamp.h"
#include "vq_impl.h"

#define DESC_SIZE sizeof(struct vring_desc)
#define MAX_TABLE_BYTES (XVIO_VQ_MAX_INDIRECT * DESC_SIZE)
/* Deferred used entries published together at most (push_defer). */
#define PUBLISH_BATCH 16u

/* Private state of one descriptor id. */
struct vqdev_slot {
	uint32_t in_bytes;  /* head popped: writable bytes of its chain */
	uint16_t visit;     /* generation of the last pop that walked it */
	bool popped;        /* head popped and not yet pushed */
};

/* One descriptor, copied out of shared memory. */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct xvio_vqdev {
	struct xvio_vring r;
	bool event_idx;
	bool indirect;
	bool kick_disabled;
	bool broken;
	uint16_t last_avail;   /* avail entries taken */
	uint16_t avail_seen;   /* validated copy of avail.idx */
	uint16_t used_idx;     /* used entries written */
	uint16_t used_pub;     /* used.idx as we last stored it */
	uint16_t notified;     /* used_idx at the last need_notify */
	uint16_t used_flags;   /* what we wrote to used.flags */
	uint16_t avail_event;  /* what we wrote to avail_event */
	unsigned in_flight;
	uint16_t gen;          /* current pop, for the visit stamps */
	char err[XVIO_VQ_ERR_MAX];
	uint16_t tab_visit[XVIO_VQ_MAX_INDIRECT];
	uint8_t table[MAX_TABLE_BYTES];   /* private copy of an indirect table */
	struct vqdev_slot slot[];
};

static int dev_fail(struct xvio_vqdev *q, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Mark the queue broken; the first message wins. */
static int dev_fail(struct xvio_vqdev *q, const char *fmt, va_list ap)
{
	if (!q->broken) {
		vsnprintf(q->err, sizeof(q->err), fmt, ap);
		q->broken = true;
	}
	return -EPROTO;
}

static int violation(struct xvio_vqdev *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int violation(struct xvio_vqdev *q, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = dev_fail(q, fmt, ap);
	va_end(ap);
	return rc;
}

void xvio_vqdev_fail(struct xvio_vqdev *q, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dev_fail(q, fmt, ap);
	va_end(ap);
}

int xvio_vqdev_new(void *ring, unsigned size, uint64_t features, struct xvio_vqdev **out)
{
	struct xvio_vqdev *q;

	/* Aligned so that every ring field is a single, untorn access. */
	if (!ring || ((uintptr_t)ring & 15) || !out || !xvio_vring_size_ok(size))
		return -EINVAL;
	q = calloc(1, sizeof(*q) + sizeof(q->slot[0]) * size);
	if (!q)
		return -ENOMEM;
	xvio_vring_init(&q->r, ring, size);
	q->event_idx = (features & XVIO_F_EVENT_IDX) != 0;
	q->indirect = (features & XVIO_F_INDIRECT) != 0;
	/* Stamps start at 0: next_gen() makes the first generation 1. */
	q->gen = 0;
	/* Not the value we will ask for first, so the first fetch writes it
	 * whatever the ring held. */
	q->avail_event = 0xffff;
	*out = q;
	return 0;
}

void xvio_vqdev_free(struct xvio_vqdev *q)
{
	free(q);
}

/* ---- taking chains ---- */

/*
 * A fresh generation; on wrap-around clear the stamps so none is stale.
 * 16 bits keep the stamps small and make the wrap (every 65536 pops, for
 * O(size) work) common enough to be tested.
 */
static uint16_t next_gen(struct xvio_vqdev *q)
{
	if (++q->gen == 0) {
		for (unsigned i = 0; i < q->r.num; i++)
			q->slot[i].visit = 0;
		memset(q->tab_visit, 0, sizeof(q->tab_visit));
		q->gen = 1;
	}
	return q->gen;
}

/* Copy ring descriptor i: each field read exactly once. */
static struct desc read_ring_desc(const struct xvio_vqdev *q, unsigned i)
{
	const uint8_t *p = vr_desc(&q->r, i);

	/* Covered by the acquire load of avail.idx (fetch_avail_idx): the
	 * driver wrote the chain before publishing the index. */
	return (struct desc){
		.addr = vr_get64(p + VR_DESC_ADDR),
		.len = vr_get32(p + VR_DESC_LEN),
		.flags = vr_get16(p + VR_DESC_FLAGS),
		.next = vr_get16(p + VR_DESC_NEXT),
	};
}

/* Decode entry j of the private table copy (no shared memory involved). */
static struct desc read_table_desc(const struct xvio_vqdev *q, unsigned j)
{
	struct vring_desc raw;

	memcpy(&raw, q->table + (size_t)j * DESC_SIZE, sizeof(raw));
	return (struct desc){
		.addr = le64toh(raw.addr),
		.len = le32toh(raw.len),
		.flags = le16toh(raw.flags),
		.next = le16toh(raw.next),
	};
}

/* Where a descriptor sits, for messages: ring index, or table entry. */
struct where {
	unsigned desc;     /* ring descriptor (the indirect one for a table) */
	int entry;         /* index in the indirect table, -1 for a ring one */
};

static const char *where_str(char *buf, size_t size, struct where w)
{
	if (w.entry < 0)
		snprintf(buf, size, "descriptor %u", w.desc);
	else
		snprintf(buf, size, "descriptor %u indirect entry %d", w.desc, w.entry);
	return buf;
}

/* Why d cannot join the chain (one of add_seg's tests failed), out of
 * line so that the per-descriptor path stays short. */
static __attribute__((noinline, cold)) int seg_violation(struct xvio_vqdev *q,
                                                         const struct xvio_chain *c,
                                                         struct where w, const struct desc *d)
{
	bool write = (d->flags & VRING_DESC_F_WRITE) != 0;
	char at[48];

	if (d->len == 0)
		return violation(q, "%s: zero length", where_str(at, sizeof(at), w));
	if (d->len > XVIO_VQ_MAX_SEG)
		return violation(q, "%s: length %u over the %u-byte limit",
		                 where_str(at, sizeof(at), w), d->len, XVIO_VQ_MAX_SEG);
	if (!write && c->in_bytes > 0)
		return violation(q, "%s: readable after a writable descriptor",
		                 where_str(at, sizeof(at), w));
	return violation(q, "chain at head %u: over %u bytes at %s", c->head,
	                 XVIO_VQ_MAX_CHAIN_BYTES, where_str(at, sizeof(at), w));
}

/* Append one checked segment to the chain (protocol §4, §9). */
static inline int add_seg(struct xvio_vqdev *q, struct xvio_chain *c, struct where w,
                          const struct desc *d)
{
	bool write = (d->flags & VRING_DESC_F_WRITE) != 0;
	uint64_t total = (uint64_t)c->out_bytes + c->in_bytes + d->len;

	if (d->len == 0 || d->len > XVIO_VQ_MAX_SEG || (!write && c->in_bytes > 0) ||
	    total > XVIO_VQ_MAX_CHAIN_BYTES)
		return seg_violation(q, c, w, d);
	/* Holds by construction: a direct walk stops after min(size, 256)
	 * hops and a table has at most 256 entries. */
	assert(c->n < XVIO_VQ_MAX_CHAIN);
	c->seg[c->n++] = (struct xvio_seg){ .addr = d->addr, .len = d->len, .write = write };
	if (write)
		c->in_bytes += d->len;
	else
		c->out_bytes += d->len;
	return 0;
}

/* Copy the table out through xl, then forget where it came from. */
static int fetch_table(struct xvio_vqdev *q, const struct xvio_vq_xlate *xl, unsigned d,
                       const struct desc *ind)
{
	void *ptr, *token = NULL;
	int rc;

	if (ind->len == 0 || ind->len % DESC_SIZE || ind->len > MAX_TABLE_BYTES)
		return violation(q, "descriptor %u: indirect table length %u (must be a "
		                 "multiple of %zu, at most %zu)", d, ind->len, DESC_SIZE,
		                 MAX_TABLE_BYTES);
	if (!xl || !xl->map)
		return violation(q, "descriptor %u: indirect table at %#llx: no way to "
		                 "read it", d, (unsigned long long)ind->addr);
	rc = xl->map(xl->ctx, ind->addr, ind->len, false, &ptr, &token);
	if (rc < 0)
		return violation(q, "descriptor %u: indirect table at %#llx+%u refused "
		                 "(%s)", d, (unsigned long long)ind->addr, ind->len,
		                 strerror(-rc));
	/* One bulk copy out of the driver's memory (memcpy copes with any
	 * alignment); everything after reads the private copy only. */
	memcpy(q->table, ptr, ind->len);
	if (xl->unmap)
		xl->unmap(xl->ctx, token);
	return 0;
}

/* Walk the copied table from entry 0 (protocol §4: no nesting, no loops). */
static int walk_table(struct xvio_vqdev *q, struct xvio_chain *c, unsigned d,
                      unsigned entries, uint16_t gen)
{
	unsigned j = 0, prev = 0;

	for (unsigned hops = 0;; hops++) {
		struct where w = { .desc = d, .entry = (int)j };
		struct desc e;
		int rc;

		if (q->tab_visit[j] == gen)
			return violation(q, "descriptor %u indirect entry %u loops back to %u",
			                 d, prev, j);
		q->tab_visit[j] = gen;
		e = read_table_desc(q, j);
		if (e.flags & VRING_DESC_F_INDIRECT)
			return violation(q, "descriptor %u indirect entry %u: nested INDIRECT",
			                 d, j);
		rc = add_seg(q, c, w, &e);
		if (rc < 0 || !(e.flags & VRING_DESC_F_NEXT))
			return rc;
		if (e.next >= entries)
			return violation(q, "descriptor %u indirect entry %u: next %u out of "
			                 "range (%u entries)", d, j, e.next, entries);
		prev = j;
		j = e.next;
	}
}

/* The head descriptor d is INDIRECT: check it, copy its table, walk it. */
static int take_indirect(struct xvio_vqdev *q, const struct xvio_vq_xlate *xl,
                         struct xvio_chain *c, unsigned d, const struct desc *ind,
                         unsigned hops, uint16_t gen)
{
	int rc;

	if (!q->indirect)
		return violation(q, "descriptor %u: INDIRECT but VIRTIO_RING_F_INDIRECT_DESC "
		                 "was not negotiated", d);
	if (hops > 0)
		return violation(q, "descriptor %u: INDIRECT not at the head of the chain "
		                 "at %u", d, c->head);
	if (ind->flags & VRING_DESC_F_NEXT)
		return violation(q, "descriptor %u: INDIRECT together with NEXT", d);
	rc = fetch_table(q, xl, d, ind);
	if (rc < 0)
		return rc;
	return walk_table(q, c, d, ind->len / DESC_SIZE, gen);
}

/* Follow the chain at head through the ring, into c. */
static int walk_chain(struct xvio_vqdev *q, const struct xvio_vq_xlate *xl,
                      struct xvio_chain *c)
{
	unsigned limit = q->r.num < XVIO_VQ_MAX_CHAIN ? q->r.num : XVIO_VQ_MAX_CHAIN;
	uint16_t gen = next_gen(q);
	unsigned i = c->head, prev = i;

	for (unsigned hops = 0;; hops++) {
		struct where w = { .desc = i, .entry = -1 };
		struct desc d;
		int rc;

		if (q->slot[i].visit == gen)
			return violation(q, "descriptor %u loops back to %u", prev, i);
		if (hops == limit)
			return violation(q, "chain at head %u: more than %u descriptors", c->head,
			                 limit);
		q->slot[i].visit = gen;
		d = read_ring_desc(q, i);
		if (d.flags & VRING_DESC_F_INDIRECT)
			return take_indirect(q, xl, c, i, &d, hops, gen);
		rc = add_seg(q, c, w, &d);
		if (rc < 0 || !(d.flags & VRING_DESC_F_NEXT))
			return rc;
		if (d.next >= q->r.num)
			return violation(q, "descriptor %u: next %u out of range (queue size %u)",
			                 i, d.next, q->r.num);
		prev = i;
		i = d.next;
	}
}

static void set_avail_event(struct xvio_vqdev *q, uint16_t v)
{
	q->avail_event = v;
	vr_put16(vr_avail_event(&q->r), v);
}

/*
 * Read avail.idx once and keep the checked copy.  Returns 1 if chains are
 * pending, 0 if none, -EPROTO if the index jumped.
 */
static int fetch_avail_idx(struct xvio_vqdev *q)
{
	uint16_t idx;

	if (q->event_idx && !q->kick_disabled && q->avail_event != q->last_avail) {
		/* Ask for a kick at the next chain and make that visible
		 * before we look at avail.idx: pairs with the xvio_mb()
		 * between the driver's avail.idx store and its avail_event
		 * load (vq_driver.c xvio_vqd_kick_prepare).  An event already
		 * armed at this value was fenced when it was written, so a
		 * poll of an empty ring costs no barrier. */
		set_avail_event(q, q->last_avail);
		xvio_mb();
	}
	/* Pairs with the release store of avail.idx in the driver's
	 * kick_prepare: descriptors and entries below it are visible. */
	idx = vr_get16_acquire(vr_avail_idx(&q->r));
	if ((uint16_t)(idx - q->last_avail) > q->r.num)
		return violation(q, "avail.idx jumped from %u to %u (queue size %u)",
		                 q->last_avail, idx, q->r.num);
	q->avail_seen = idx;
	XVIO_STAMP_IF(idx != q->last_avail, device_seen);
	return idx != q->last_avail;
}

int xvio_vqdev_pop(struct xvio_vqdev *q, const struct xvio_vq_xlate *xl, struct xvio_chain *c)
{
	unsigned pos;
	uint16_t head;
	int rc;

	if (q->broken)
		return -EPROTO;
	if (q->last_avail == q->avail_seen) {
		rc = fetch_avail_idx(q);
		if (rc <= 0)
			return rc;
	}
	pos = q->last_avail & q->r.mask;
	/* Covered by the acquire load of avail.idx in fetch_avail_idx(). */
	head = vr_get16(vr_avail_ring(&q->r, pos));
	if (head >= q->r.num)
		return violation(q, "avail.ring[%u]: head %u out of range (queue size %u)", pos,
		                 head, q->r.num);
	if (q->slot[head].popped)
		return violation(q, "avail.ring[%u]: head %u is already in use", pos, head);
	/* Field by field: zeroing the whole segment array would cost 4 KiB
	 * of stores per pop. */
	c->head = head;
	c->n = 0;
	c->out_bytes = c->in_bytes = 0;
	rc = walk_chain(q, xl, c);
	if (rc < 0)
		return rc;
	q->last_avail++;
	q->slot[head].popped = true;
	q->slot[head].in_bytes = c->in_bytes;
	q->in_flight++;
	return 1;
}

/* ---- completing chains ---- */

/* Write the used entry for `head`; used.idx is the caller's business. */
static int put_used(struct xvio_vqdev *q, uint16_t head, uint32_t len)
{
	uint8_t *e;

	if (q->broken)
		return -EPROTO;
	if (head >= q->r.num || !q->slot[head].popped || len > q->slot[head].in_bytes)
		return -EINVAL;
	e = vr_used_elem(&q->r, q->used_idx & q->r.mask);
	vr_set32(e + VR_USED_ID, head);
	vr_set32(e + VR_USED_LEN, len);
	q->used_idx++;
	q->slot[head].popped = false;
	q->in_flight--;
	return 0;
}

void xvio_vqdev_publish(struct xvio_vqdev *q)
{
	if (q->broken || q->used_pub == q->used_idx)
		return;
	/* The entries are visible no later than the index: pairs with the
	 * acquire load of used.idx in the driver (vq_driver.c
	 * fetch_used_idx). */
	vr_put16_release(vr_used_idx(&q->r), q->used_idx);
	XVIO_STAMP(device_pub);
	q->used_pub = q->used_idx;
}

int xvio_vqdev_push_defer(struct xvio_vqdev *q, uint16_t head, uint32_t len)
{
	int rc = put_used(q, head, len);

	if (rc < 0)
		return rc;
	/* Not a whole pass at once either: while the driver works on the
	 * first part, the rest is being served (both sides busy).  And
	 * nothing is held back for a batch that cannot grow: with no chain
	 * popped and none seen waiting, the next entry needs the driver to
	 * act first, and a driver waiting on this one (one request in
	 * flight) would otherwise wait for the caller's flush. */
	if ((uint16_t)(q->used_idx - q->used_pub) >= PUBLISH_BATCH ||
	    (q->in_flight == 0 && q->last_avail == q->avail_seen))
		xvio_vqdev_publish(q);
	return 0;
}

int xvio_vqdev_push(struct xvio_vqdev *q, uint16_t head, uint32_t len)
{
	int rc = put_used(q, head, len);

	if (rc == 0)
		xvio_vqdev_publish(q);
	return rc;
}

bool xvio_vqdev_need_notify(struct xvio_vqdev *q)
{
	uint16_t old = q->notified, new_idx = q->used_idx;

	if (q->broken || old == new_idx)
		return false;
	xvio_vqdev_publish(q);
	q->notified = new_idx;
	/* Our used.idx store must be visible before we read the driver's
	 * suppression field: pairs with the xvio_mb() the driver issues after
	 * asking for interrupts and before re-reading used.idx (vq_driver.c
	 * fetch_used_idx, xvio_vqd_enable_cb). */
	xvio_mb();
	if (q->event_idx)
		return xvio_need_event(vr_get16(vr_used_event(&q->r)), new_idx, old);
	return !(vr_get16(vr_avail_flags(&q->r)) & VRING_AVAIL_F_NO_INTERRUPT);
}

/* ---- kick suppression ---- */

void xvio_vqdev_disable_kick(struct xvio_vqdev *q)
{
	q->kick_disabled = true;
	/* Best effort, no barrier: a kick that slips through is spurious.
	 * With EVENT_IDX, an event just behind everything the driver can
	 * still publish is never crossed before we re-enable. */
	if (q->event_idx) {
		set_avail_event(q, (uint16_t)(q->last_avail - 1));
	} else {
		q->used_flags |= VRING_USED_F_NO_NOTIFY;
		vr_put16(vr_used_flags(&q->r), q->used_flags);
	}
}

bool xvio_vqdev_enable_kick(struct xvio_vqdev *q)
{
	q->kick_disabled = false;
	if (q->event_idx) {
		set_avail_event(q, q->last_avail);
	} else {
		q->used_flags &= (uint16_t)~VRING_USED_F_NO_NOTIFY;
		vr_put16(vr_used_flags(&q->r), q->used_flags);
	}
	/* The request must be visible before we re-check avail.idx, else a
	 * chain published in between goes unnoticed by both sides: pairs with
	 * the xvio_mb() in the driver's kick_prepare. */
	xvio_mb();
	if (q->broken || q->avail_seen != q->last_avail)
		return false;
	/* A hint only: pop() reads and checks the index itself. */
	return vr_get16(vr_avail_idx(&q->r)) == q->last_avail;
}

/* ---- state ---- */

unsigned xvio_vqdev_in_flight(const struct xvio_vqdev *q)
{
	return q->in_flight;
}

bool xvio_vqdev_broken(const struct xvio_vqdev *q)
{
	return q->broken;
}

const char *xvio_vqdev_error(const struct xvio_vqdev *q)
{
	return q->broken ? q->err : "";
}
