/* SPDX-License-Identifier: MIT */
/*
 * The driver (frontend) side of a split virtqueue (docs/protocol.md §4, §6,
 * §10).
 *
 * The device may write anywhere in the ring pages (they are granted
 * writable), so nothing the driver needs to stay correct lives there: the
 * free list, the chain links, which ids are in flight, the bytes each
 * chain may receive and the submission order are all kept in a private
 * shadow indexed by descriptor id.  The ring is only ever written (our
 * descriptors, avail entries, flags) or read for the device's answers
 * (used entries, used.idx, suppression fields), and every answer is
 * checked against the shadow before it is believed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stamp.h"
#include "vq_impl.h"

#define NONE 0xffffu

enum slot_state {
	SLOT_FREE,
	SLOT_BODY,   /* a non-head descriptor of a direct chain */
	SLOT_ADDED,  /* a chain head added but not yet published */
	SLOT_HEAD,   /* a chain head the device may complete */
};

/* Private shadow of one descriptor id. */
struct vqd_slot {
	void *cookie;       /* head: returned with the completion */
	uint32_t in_bytes;  /* head: writable bytes posted */
	uint16_t next;      /* chain link, then free-list link once freed */
	uint16_t ndesc;     /* head: ring descriptors the chain holds */
	uint16_t older;     /* head: in-flight list, submission order */
	uint16_t newer;
	uint16_t head;      /* body: the chain it belongs to (for messages) */
	uint64_t pub_seen;  /* head: used entries seen when it was published */
	uint8_t state;
};

struct xvio_vqd {
	struct xvio_vring r;
	void *mem;
	bool event_idx;
	bool indirect;
	bool cb_disabled;
	bool broken;
	uint16_t free_head;
	unsigned num_free;
	unsigned in_flight;
	uint16_t avail_idx;   /* next avail entry we fill */
	uint16_t avail_pub;   /* avail.idx as we last published it */
	uint64_t used_taken;  /* used entries taken this session (never wraps) */
	uint16_t used_seen;   /* validated copy of used.idx */
	uint16_t avail_flags; /* what we wrote to avail.flags */
	uint16_t used_event;  /* what we wrote to used_event */
	uint16_t oldest;      /* in-flight list ends, NONE when empty */
	uint16_t newest;
	char err[XVIO_VQ_ERR_MAX];
	struct vqd_slot slot[];
};

/* used.ring index of the next entry to take (the count, as the ring wraps). */
static inline uint16_t last_used(const struct xvio_vqd *q)
{
	return (uint16_t)q->used_taken;
}

static int vqd_fail(struct xvio_vqd *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Mark the queue broken; the first message wins. */
static int vqd_fail(struct xvio_vqd *q, const char *fmt, ...)
{
	va_list ap;

	if (!q->broken) {
		va_start(ap, fmt);
		vsnprintf(q->err, sizeof(q->err), fmt, ap);
		va_end(ap);
		q->broken = true;
	}
	return -EPROTO;
}

/* An empty queue: every descriptor free, indices at 0, interrupts on. */
static void vqd_init_state(struct xvio_vqd *q)
{
	unsigned n = q->r.num;

	for (unsigned i = 0; i < n; i++) {
		q->slot[i] = (struct vqd_slot){ .next = (uint16_t)(i + 1), .older = NONE,
		                                .newer = NONE, .state = SLOT_FREE };
	}
	q->slot[n - 1].next = NONE;
	q->free_head = 0;
	q->num_free = n;
	q->in_flight = 0;
	q->avail_idx = q->avail_pub = 0;
	q->used_taken = 0;
	q->used_seen = 0;
	q->avail_flags = 0;
	/* Not what the ring holds, so the first fetch writes it. */
	q->used_event = 0xffff;
	q->cb_disabled = false;
	q->oldest = q->newest = NONE;
	q->broken = false;
	q->err[0] = '\0';
}

int xvio_vqd_new(void *ring, unsigned size, uint64_t features, struct xvio_vqd **out)
{
	struct xvio_vqd *q;

	/* Aligned so that every ring field is a single, untorn access. */
	if (!ring || ((uintptr_t)ring & 15) || !out || !xvio_vring_size_ok(size))
		return -EINVAL;
	q = calloc(1, sizeof(*q) + sizeof(q->slot[0]) * size);
	if (!q)
		return -ENOMEM;
	xvio_vring_init(&q->r, ring, size);
	q->mem = ring;
	q->event_idx = (features & XVIO_F_EVENT_IDX) != 0;
	q->indirect = (features & XVIO_F_INDIRECT) != 0;
	vqd_init_state(q);
	*out = q;
	return 0;
}

void xvio_vqd_free(struct xvio_vqd *q)
{
	free(q);
}

/* ---- adding chains ---- */

/* The rules of protocol §4/§9 a chain must follow; *in_bytes on success. */
static int check_segs(const struct xvio_seg *segs, unsigned n, uint32_t *in_bytes)
{
	uint64_t total = 0, in = 0;
	bool writing = false;

	if (!segs || n == 0 || n > XVIO_VQ_MAX_CHAIN)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (segs[i].len == 0 || segs[i].len > XVIO_VQ_MAX_SEG)
			return -EINVAL;
		if (writing && !segs[i].write)
			return -EINVAL;
		writing = segs[i].write;
		total += segs[i].len;
		if (segs[i].write)
			in += segs[i].len;
	}
	if (total > XVIO_VQ_MAX_CHAIN_BYTES)
		return -EINVAL;
	*in_bytes = (uint32_t)in;
	return 0;
}

static void put_desc(uint8_t *d, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	vr_set64(d + VR_DESC_ADDR, addr);
	vr_set32(d + VR_DESC_LEN, len);
	vr_set16(d + VR_DESC_FLAGS, flags);
	vr_set16(d + VR_DESC_NEXT, next);
}

/* Take n descriptors off the free list (n <= num_free) into a chain. */
static uint16_t post_direct(struct xvio_vqd *q, const struct xvio_seg *segs, unsigned n)
{
	uint16_t head = q->free_head, i = head;

	for (unsigned k = 0; k < n; k++) {
		struct vqd_slot *s = &q->slot[i];
		bool more = k + 1 < n;
		uint16_t flags = (uint16_t)((segs[k].write ? VRING_DESC_F_WRITE : 0) |
		                            (more ? VRING_DESC_F_NEXT : 0));

		/* The free-list link doubles as the chain link; the last
		 * descriptor's next is 0 so the ring shows no free-list state. */
		put_desc(vr_desc(&q->r, i), segs[k].addr, segs[k].len, flags,
		         more ? s->next : 0);
		s->state = k == 0 ? SLOT_ADDED : SLOT_BODY;
		s->head = head;
		i = s->next;
	}
	q->free_head = i;
	q->num_free -= n;
	q->slot[head].ndesc = (uint16_t)n;
	return head;
}

/*
 * Write the chain into the caller's table; one ring descriptor points at
 * it.  The table may sit at any alignment in the data area, so each entry
 * is built here and copied; the device reads it only after the release
 * store of avail.idx in kick_prepare, and copies it whole before use.
 */
static uint16_t post_indirect(struct xvio_vqd *q, const struct xvio_seg *segs, unsigned n,
                              const struct xvio_vq_indirect *ind)
{
	uint8_t *t = ind->table;
	uint16_t head = q->free_head;

	for (unsigned k = 0; k < n; k++) {
		bool more = k + 1 < n;
		struct vring_desc d = {
			.addr = htole64(segs[k].addr),
			.len = htole32(segs[k].len),
			.flags = htole16((uint16_t)((segs[k].write ? VRING_DESC_F_WRITE : 0) |
			                            (more ? VRING_DESC_F_NEXT : 0))),
			.next = htole16(more ? (uint16_t)(k + 1) : 0),
		};

		memcpy(t + (size_t)k * sizeof(d), &d, sizeof(d));
	}
	put_desc(vr_desc(&q->r, head), ind->addr, (uint32_t)(n * sizeof(struct vring_desc)),
	         VRING_DESC_F_INDIRECT, 0);
	q->slot[head].state = SLOT_ADDED;
	q->slot[head].head = head;
	q->free_head = q->slot[head].next;
	q->num_free--;
	q->slot[head].ndesc = 1;
	return head;
}

/* Record the chain in the shadow, newest in the in-flight list. */
static void track(struct xvio_vqd *q, uint16_t head, uint32_t in_bytes, void *cookie)
{
	struct vqd_slot *s = &q->slot[head];

	s->cookie = cookie;
	s->in_bytes = in_bytes;
	s->older = q->newest;
	s->newer = NONE;
	if (q->newest != NONE)
		q->slot[q->newest].newer = head;
	else
		q->oldest = head;
	q->newest = head;
	q->in_flight++;
}

/* A checked chain into the ring (ind: as one indirect descriptor). */
static inline int add_chain(struct xvio_vqd *q, const struct xvio_seg *segs, unsigned n,
                            uint32_t in_bytes, void *cookie, const struct xvio_vq_indirect *ind)
{
	uint16_t head;

	if (q->num_free < (ind ? 1 : n))
		return -ENOSPC;
	head = ind ? post_indirect(q, segs, n, ind) : post_direct(q, segs, n);
	track(q, head, in_bytes, cookie);
	/* Visible to the device only with kick_prepare's release store. */
	vr_set16(vr_avail_ring(&q->r, q->avail_idx & q->r.mask), head);
	q->avail_idx++;
	return 0;
}

int xvio_vqd_add(struct xvio_vqd *q, const struct xvio_seg *segs, unsigned n, void *cookie,
                 const struct xvio_vq_indirect *ind)
{
	bool use_ind = ind && q->indirect;
	uint32_t in_bytes;
	int rc;

	if (q->broken)
		return -EPROTO;
	rc = check_segs(segs, n, &in_bytes);
	if (rc < 0)
		return rc;
	if (use_ind && (!ind->table || ind->n < n || n > XVIO_VQ_MAX_INDIRECT))
		return -EINVAL;
	if (!use_ind && n > q->r.num)
		return -EINVAL;
	return add_chain(q, segs, n, in_bytes, cookie, use_ind ? ind : NULL);
}

int xvio_vqd_add_checked(struct xvio_vqd *q, const struct xvio_seg *segs, unsigned n,
                         uint32_t in_bytes, void *cookie)
{
	if (q->broken)
		return -EPROTO;
	/* n - 1 wraps for n == 0: one test for both ends. */
	if (n - 1u >= q->r.num)
		return -EINVAL;
	return add_chain(q, segs, n, in_bytes, cookie, NULL);
}

/* ---- publishing and kicking ---- */

/*
 * The newest chains, added since the last publication, become completable,
 * but only by entries past the used.idx we have seen: those below it were
 * written before this publication, so none can be for a chain that reuses
 * an id they name (a device repeating an id in one batch, while we
 * re-posted that id in between).  Counted without wrapping: a chain may
 * stay in flight over any number of other completions.
 */
static void mark_published(struct xvio_vqd *q)
{
	uint64_t seen = q->used_taken + (uint16_t)(q->used_seen - last_used(q));

	for (uint16_t h = q->newest; h != NONE && q->slot[h].state == SLOT_ADDED;
	     h = q->slot[h].older) {
		q->slot[h].state = SLOT_HEAD;
		q->slot[h].pub_seen = seen;
	}
}

/* Should the device hear about entries [old, new)?  Reads its hint once. */
static bool kick_needed(struct xvio_vqd *q, uint16_t old, uint16_t new_idx)
{
	if (q->event_idx)
		return xvio_need_event(vr_get16(vr_avail_event(&q->r)), new_idx, old);
	return !(vr_get16(vr_used_flags(&q->r)) & VRING_USED_F_NO_NOTIFY);
}

bool xvio_vqd_kick_prepare(struct xvio_vqd *q)
{
	uint16_t old = q->avail_pub, new_idx = q->avail_idx;

	if (q->broken || old == new_idx)
		return false;
	mark_published(q);
	XVIO_STAMP(driver_pub);
	/* Descriptors and avail entries written by add() become visible no
	 * later than the index: pairs with the acquire load of avail.idx in
	 * the device's pop (vq_device.c fetch_avail_idx). */
	vr_put16_release(vr_avail_idx(&q->r), new_idx);
	q->avail_pub = new_idx;
	/* The index store must be visible before we read the device's
	 * suppression field, or both sides could decide to sleep: pairs with
	 * the xvio_mb() the device issues after re-enabling kicks and before
	 * re-reading avail.idx (vq_device.c fetch_avail_idx and
	 * xvio_vqdev_enable_kick). */
	xvio_mb();
	return kick_needed(q, old, new_idx);
}

/* ---- completions ---- */

/* Is used.ring[pos] = {id, len} a completion of a chain we published? */
static int check_used(struct xvio_vqd *q, unsigned pos, uint32_t id, uint32_t len)
{
	const struct vqd_slot *s;

	if (id >= q->r.num)
		return vqd_fail(q, "used.ring[%u]: id %u out of range (queue size %u)", pos, id,
		                q->r.num);
	s = &q->slot[id];
	switch (s->state) {
	case SLOT_FREE:
		return vqd_fail(q, "used.ring[%u]: id %u is not in flight", pos, id);
	case SLOT_BODY:
		return vqd_fail(q, "used.ring[%u]: id %u is not a chain head (it is inside "
		                "the chain at %u)", pos, id, s->head);
	case SLOT_ADDED:
		return vqd_fail(q, "used.ring[%u]: id %u was not made available yet", pos, id);
	default:
		break;
	}
	if (q->used_taken < s->pub_seen)
		return vqd_fail(q, "used.ring[%u]: id %u was not made available yet when this "
		                "entry was published (it was, once used.idx was %u)", pos, id,
		                (uint16_t)s->pub_seen);
	if (len > s->in_bytes)
		return vqd_fail(q, "used.ring[%u]: id %u: length %u exceeds the %u writable "
		                "bytes posted", pos, id, len, s->in_bytes);
	return 0;
}

/* Give a completed chain's descriptors back and drop it from the list. */
static void release_chain(struct xvio_vqd *q, uint16_t head)
{
	struct vqd_slot *h = &q->slot[head];
	uint16_t i = head, last = head;

	for (unsigned k = 0; k < h->ndesc; k++) {
		q->slot[i].state = SLOT_FREE;
		last = i;
		i = q->slot[i].next;
	}
	q->slot[last].next = q->free_head;
	q->free_head = head;
	q->num_free += h->ndesc;
	if (h->older != NONE)
		q->slot[h->older].newer = h->newer;
	else
		q->oldest = h->newer;
	if (h->newer != NONE)
		q->slot[h->newer].older = h->older;
	else
		q->newest = h->older;
	h->cookie = NULL;
	h->older = h->newer = NONE;
	q->in_flight--;
}

static void set_used_event(struct xvio_vqd *q, uint16_t v)
{
	q->used_event = v;
	vr_put16(vr_used_event(&q->r), v);
}

/*
 * Read used.idx once and keep the checked copy.  Returns 1 if entries are
 * pending, 0 if none, -EPROTO if the index jumped.
 */
static int fetch_used_idx(struct xvio_vqd *q)
{
	uint16_t idx;

	if (q->event_idx && !q->cb_disabled && q->used_event != last_used(q)) {
		/* Ask to be interrupted for the next completion, and make the
		 * request visible before we look at used.idx: pairs with the
		 * xvio_mb() between the device's used.idx store and its
		 * used_event load (vq_device.c xvio_vqdev_need_notify).  An
		 * event already armed at this value was fenced when it was
		 * written, so a poll of an empty ring costs no barrier. */
		set_used_event(q, last_used(q));
		xvio_mb();
	}
	/* Pairs with the release store of used.idx in the device's push:
	 * the entries below it are visible once the index is. */
	idx = vr_get16_acquire(vr_used_idx(&q->r));
	if ((uint16_t)(idx - last_used(q)) > q->r.num)
		return vqd_fail(q, "used.idx jumped from %u to %u (queue size %u)",
		                last_used(q), idx, q->r.num);
	q->used_seen = idx;
	XVIO_STAMP_IF(idx != last_used(q), driver_seen);
	return idx != last_used(q);
}

int xvio_vqd_get_used(struct xvio_vqd *q, void **cookie, uint32_t *len)
{
	unsigned pos;
	uint32_t id, n;
	uint8_t *e;
	int rc;

	if (q->broken)
		return -EPROTO;
	if (last_used(q) == q->used_seen) {
		rc = fetch_used_idx(q);
		if (rc <= 0)
			return rc;
	}
	pos = last_used(q) & q->r.mask;
	e = vr_used_elem(&q->r, pos);
	/* Covered by the acquire load of used.idx in fetch_used_idx(). */
	id = vr_get32(e + VR_USED_ID);
	n = vr_get32(e + VR_USED_LEN);
	rc = check_used(q, pos, id, n);
	if (rc < 0)
		return rc;
	q->used_taken++;
	*cookie = q->slot[id].cookie;
	*len = n;
	release_chain(q, (uint16_t)id);
	return 1;
}

/* ---- interrupt suppression ---- */

void xvio_vqd_disable_cb(struct xvio_vqd *q)
{
	q->cb_disabled = true;
	/* Best effort, no barrier: an interrupt that slips through is merely
	 * spurious.  With EVENT_IDX, an event just behind everything the
	 * device can still publish is never crossed before we re-enable. */
	if (q->event_idx) {
		set_used_event(q, (uint16_t)(last_used(q) - 1));
	} else {
		q->avail_flags |= VRING_AVAIL_F_NO_INTERRUPT;
		vr_put16(vr_avail_flags(&q->r), q->avail_flags);
	}
}

bool xvio_vqd_enable_cb(struct xvio_vqd *q)
{
	q->cb_disabled = false;
	if (q->event_idx) {
		set_used_event(q, last_used(q));
	} else {
		q->avail_flags &= (uint16_t)~VRING_AVAIL_F_NO_INTERRUPT;
		vr_put16(vr_avail_flags(&q->r), q->avail_flags);
	}
	/* The request must be visible before we re-check used.idx, else a
	 * completion published in between goes unnoticed by both sides:
	 * pairs with the xvio_mb() in the device's need_notify. */
	xvio_mb();
	if (q->broken || q->used_seen != last_used(q))
		return false;
	/* A hint only: get_used() reads and checks the index itself. */
	return vr_get16(vr_used_idx(&q->r)) == last_used(q);
}

/* ---- reconnect ---- */

unsigned xvio_vqd_reset(struct xvio_vqd *q, void **cookies, unsigned max)
{
	unsigned k = 0;

	for (uint16_t h = q->oldest; h != NONE && k < max; h = q->slot[h].newer)
		cookies[k++] = q->slot[h].cookie;
	/* A new session starts on zeroed rings (protocol §4); the old
	 * backend unmapped them before it closed (§7), so plain stores do. */
	memset(q->mem, 0, xvio_vring_bytes(q->r.num));
	vqd_init_state(q);
	return k;
}

/* ---- state ---- */

unsigned xvio_vqd_in_flight(const struct xvio_vqd *q)
{
	return q->in_flight;
}

void xvio_vqd_for_each(const struct xvio_vqd *q, void (*fn)(void *cookie, void *arg),
                       void *arg)
{
	for (uint16_t h = q->oldest; h != NONE; h = q->slot[h].newer)
		fn(q->slot[h].cookie, arg);
}

void *xvio_vqd_oldest(const struct xvio_vqd *q)
{
	return q->oldest != NONE ? q->slot[q->oldest].cookie : NULL;
}

unsigned xvio_vqd_free_descs(const struct xvio_vqd *q)
{
	return q->num_free;
}

bool xvio_vqd_used_seen(const struct xvio_vqd *q)
{
	return !q->broken && q->used_seen != last_used(q);
}

bool xvio_vqd_broken(const struct xvio_vqd *q)
{
	return q->broken;
}

const char *xvio_vqd_error(const struct xvio_vqd *q)
{
	return q->broken ? q->err : "";
}
