/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues over shared memory, both roles (docs/protocol.md §4-6,
 * §10).  Device-type agnostic: a chain is a list of segments addressed by
 * *bus addresses* (a data-area offset or a grant address, protocol §5);
 * what they mean is the transport's business (xport.h).
 *
 *   driver side (frontend, struct xvio_vqd): posts chains, decides when to
 *     kick, takes back completions after checking them;
 *   device side (backend, struct xvio_vqdev): takes chains from a ring it
 *     must assume hostile, copying every descriptor once before checking
 *     it, and publishes completions.
 *
 * Ring memory is the caller's: the frontend's granted pages or the
 * backend's mapping of them.  Every field read from it goes through
 * barrier.h; nothing read from shared memory is trusted or read twice.
 *
 * Errors: -errno.  A protocol violation by the peer returns -EPROTO and
 * marks the queue broken (sticky: every later call fails with -EPROTO
 * until the queue is freed, or for the driver side reset); xvio_vq*_error()
 * then says what happened in one line for the error node, naming the
 * descriptor or ring slot ("descriptor 17 loops back to 3", "used.ring[5]:
 * id 9 is not in flight").  A queue does not know its own number: the
 * transport prefixes it ("queue-0: ...").
 *
 * Notifications (protocol §6): a side that drains until get_used()/pop()
 * returns 0 may then sleep on its event channel without calling
 * enable_cb()/enable_kick(), as long as it had not disabled them: with
 * EVENT_IDX the call that returns 0 has re-armed the event and re-checked
 * the index after a full barrier, and without EVENT_IDX the flags stay
 * enabled.  The enable/disable pairs are for callers that poll.
 *
 * Threading: a queue object is used by one thread at a time.  The two
 * roles run in different processes (domains); nothing here blocks.
 */
#ifndef XVIO_VQ_H
#define XVIO_VQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Protocol limits (docs/protocol.md §9). */
#define XVIO_VQ_MAX_SIZE 1024u      /* queue size: power of two, 2..1024 */
#define XVIO_VQ_MAX_CHAIN 256u      /* descriptors per chain, indirect included */
#define XVIO_VQ_MAX_INDIRECT 256u   /* descriptors in one indirect table */
#define XVIO_VQ_MAX_SEG (4u << 20)  /* bytes in one descriptor */
#define XVIO_VQ_MAX_CHAIN_BYTES (64u << 20)

/* Bit 63 of a bus address: a grant address (protocol §5.2). */
#define XVIO_ADDR_GRANT (1ull << 63)

/* ---- ring layout (protocol §4) ---- */

/* Bytes and pages of a ring of `size` entries; 0 if size is invalid. */
size_t xvio_vring_bytes(unsigned size);
unsigned xvio_vring_pages(unsigned size);
/* Offset of the used ring: 16·N + 6 + 2·N rounded up to 4096. */
size_t xvio_vring_used_offset(unsigned size);

/* One buffer of a chain, by bus address. */
struct xvio_seg {
	uint64_t addr;
	uint32_t len;
	bool write;      /* device-writable (VRING_DESC_F_WRITE) */
};

/* ---- driver side (frontend) ---------------------------------------------- */

struct xvio_vqd;

/*
 * An indirect table for one chain: `n` free descriptors of device-visible
 * memory at local `table` (any alignment), bus address `addr`.  Owned by
 * the caller, who must not reuse it before the chain completes (or is
 * taken back).
 */
struct xvio_vq_indirect {
	void *table;
	uint64_t addr;
	unsigned n;
};

/*
 * Set up the driver side of a queue of `size` entries on zeroed ring
 * memory of xvio_vring_bytes(size) bytes, 16-byte aligned (page-aligned in
 * practice; -EINVAL otherwise).  `features` is the negotiated set
 * (EVENT_IDX, INDIRECT_DESC matter here).
 */
int xvio_vqd_new(void *ring, unsigned size, uint64_t features, struct xvio_vqd **out);
void xvio_vqd_free(struct xvio_vqd *q);

/*
 * Post a chain of `n` segments, readable ones first; `cookie` comes back
 * with the completion.  With `ind` (and INDIRECT_DESC negotiated) the chain
 * takes one ring descriptor and its table is written to ind->table; without
 * the feature `ind` is ignored and the chain is posted direct (n ring
 * descriptors).  Returns 0, -ENOSPC when the ring has too few free
 * descriptors (nothing posted), -EINVAL for a chain the protocol forbids
 * (empty, over XVIO_VQ_MAX_CHAIN or, direct, over the queue size, readable
 * after writable, a zero or over-4-MiB length, over 64 MiB in all) or a
 * table with fewer than n entries, -EPROTO if broken.  The chain becomes
 * visible to the device only at the next xvio_vqd_kick_prepare().
 */
int xvio_vqd_add(struct xvio_vqd *q, const struct xvio_seg *segs, unsigned n, void *cookie,
                 const struct xvio_vq_indirect *ind);

/*
 * xvio_vqd_add() without the chain checks, for a caller whose chains keep
 * add()'s rules by construction (the transport checks each request once,
 * on submit): `n` > 0 segments, readable ones first, each 1 byte to 4 MiB,
 * 64 MiB in all, `in_bytes` the sum of the writable ones.  Always direct.
 * Returns 0, -ENOSPC, -EINVAL for n == 0 or over the queue size, -EPROTO
 * if broken.
 */
int xvio_vqd_add_checked(struct xvio_vqd *q, const struct xvio_seg *segs, unsigned n,
                         uint32_t in_bytes, void *cookie);

/* Publish what was added; true if the device must be notified now. */
bool xvio_vqd_kick_prepare(struct xvio_vqd *q);

/*
 * Take the next completion: returns 1 with *cookie and *len (bytes the
 * device wrote, checked against what was posted), 0 when none is pending,
 * -EPROTO when the device violated the protocol (an id out of range, not
 * in flight, not a chain head or not yet published by kick_prepare, a
 * length beyond the writable bytes, the used index moving by more than the
 * queue size).  Completions come in the device's order, not submission
 * order.
 */
int xvio_vqd_get_used(struct xvio_vqd *q, void **cookie, uint32_t *len);

/*
 * Completion interrupts, for callers that poll.  disable asks the device
 * not to notify; enable asks again and returns false if completions
 * arrived in between, or the queue is broken (poll once more before
 * sleeping: the poll reports either).
 */
void xvio_vqd_disable_cb(struct xvio_vqd *q);
bool xvio_vqd_enable_cb(struct xvio_vqd *q);

/*
 * For a new session (protocol §7): call xvio_vqd_get_used() until it
 * returns 0 first, then take back every chain still in flight (published
 * or not), oldest submission first, into cookies[] (at most max; returns
 * how many: pass max >= xvio_vqd_in_flight(), chains beyond max are
 * forgotten), and reset the queue to empty: the ring memory is zeroed
 * with plain stores (the backend has unmapped it by then, §7) and
 * completion interrupts are enabled again.  The caller resubmits them.
 * Clears the broken state.
 */
unsigned xvio_vqd_reset(struct xvio_vqd *q, void **cookies, unsigned max);

unsigned xvio_vqd_in_flight(const struct xvio_vqd *q);
/* The cookies of the chains in flight (published or not), oldest
 * submission first, changing nothing: for a caller that keeps them when a
 * queue goes away without a reset.  fn must not call into q. */
void xvio_vqd_for_each(const struct xvio_vqd *q, void (*fn)(void *cookie, void *arg),
                       void *arg);
/* The cookie of the oldest chain in flight, NULL if none. */
void *xvio_vqd_oldest(const struct xvio_vqd *q);
unsigned xvio_vqd_free_descs(const struct xvio_vqd *q);
/* Completions counted by the last read of used.idx and not yet taken:
 * xvio_vqd_get_used() returns them without reading the ring's index. */
bool xvio_vqd_used_seen(const struct xvio_vqd *q);
bool xvio_vqd_broken(const struct xvio_vqd *q);
const char *xvio_vqd_error(const struct xvio_vqd *q);

/* ---- device side (backend) ----------------------------------------------- */

struct xvio_vqdev;

/*
 * How the device side reads an indirect table: translate `len` bytes at
 * bus address `addr` to local memory, valid until unmap().  Returns 0, or
 * -errno for an address the frontend did not make available (a protocol
 * violation).  For a data area this is a bounds check and an addition;
 * for grant addresses it maps the grants.
 */
struct xvio_vq_xlate {
	int (*map)(void *ctx, uint64_t addr, uint32_t len, bool write, void **ptr, void **token);
	void (*unmap)(void *ctx, void *token);
	void *ctx;
};

/* A chain copied out of the ring and checked (protocol §10). */
struct xvio_chain {
	uint16_t head;          /* id to complete it with */
	unsigned n;             /* segments, readable first */
	uint32_t out_bytes;     /* readable bytes (driver -> device) */
	uint32_t in_bytes;      /* writable bytes (device -> driver) */
	struct xvio_seg seg[XVIO_VQ_MAX_CHAIN];
};

/* The device side on the mapped ring (same size and alignment rules as
 * xvio_vqd_new); creating it writes nothing to the ring. */
int xvio_vqdev_new(void *ring, unsigned size, uint64_t features, struct xvio_vqdev **out);
void xvio_vqdev_free(struct xvio_vqdev *q);

/*
 * Take the next available chain into *c: returns 1, 0 when the ring is
 * empty, or -EPROTO (queue broken) for a bad available index, a head or
 * next index out of range, a head already popped and not pushed, a loop
 * or over-long chain, a readable descriptor after a writable one, a bad or
 * nested indirect table (or INDIRECT anywhere but alone at the head), a
 * zero or over-long length, or an indirect table xl refuses.  xl is only
 * used for indirect tables and may be NULL when INDIRECT_DESC was not
 * negotiated (an indirect chain is then a violation anyway).  xl->map is
 * called with write = false and xl->unmap before pop returns.  Segment
 * addresses are NOT checked here (the transport maps them and reports a
 * bad one through xvio_vqdev_fail()).  Only c->n segments of c->seg are
 * written.
 */
int xvio_vqdev_pop(struct xvio_vqdev *q, const struct xvio_vq_xlate *xl, struct xvio_chain *c);

/*
 * Complete chain `head` (popped and not yet completed) with `len` bytes
 * written from its first writable byte (at most its in_bytes); the entry
 * is visible to the driver when this returns.  -EINVAL for an unknown head
 * or a bad length (a bug in the caller, not the peer), -EPROTO if broken.
 */
int xvio_vqdev_push(struct xvio_vqdev *q, uint16_t head, uint32_t len);

/*
 * Batched completion: the same checks and entry as push, but used.idx is
 * stored only for every 16th deferred entry, or when the batch cannot
 * grow (no other chain popped and not completed, none seen waiting in the
 * ring); the others become visible at the next xvio_vqdev_publish(),
 * xvio_vqdev_need_notify() or xvio_vqdev_push().  One index store (one
 * cache-line transfer to a polling driver) per batch instead of one per
 * chain, so a polling driver takes a batch per pass instead of one chain
 * at a time, while batches of at most 16 keep both sides busy at once.
 * A caller must publish (or need_notify) before it stops, or the driver
 * never sees the rest.
 */
int xvio_vqdev_push_defer(struct xvio_vqdev *q, uint16_t head, uint32_t len);
/* Make every entry pushed so far visible (a no-op when nothing waits). */
void xvio_vqdev_publish(struct xvio_vqdev *q);

/* After pushes: publish them (as xvio_vqdev_publish()), then true if the
 * driver must be notified now. */
bool xvio_vqdev_need_notify(struct xvio_vqdev *q);

/* Kick suppression for polling (the mirror of the driver's cb calls):
 * enable returns false if chains arrived meanwhile or the queue is broken. */
void xvio_vqdev_disable_kick(struct xvio_vqdev *q);
bool xvio_vqdev_enable_kick(struct xvio_vqdev *q);

/* Mark the queue broken for a violation found by the caller (e.g. a
 * segment address outside the data area); fmt describes it. */
void xvio_vqdev_fail(struct xvio_vqdev *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

unsigned xvio_vqdev_in_flight(const struct xvio_vqdev *q);
bool xvio_vqdev_broken(const struct xvio_vqdev *q);
const char *xvio_vqdev_error(const struct xvio_vqdev *q);

#endif /* XVIO_VQ_H */
