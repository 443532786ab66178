/* SPDX-License-Identifier: MIT */
/*
 * The hostile-peer harness: the test program plays one side of an xvio_test
 * device by hand and misbehaves on purpose, while the real other side (a
 * victim: xvio-testback in dom0, or xvio-testfront in a guest, both built
 * on the transport) must react as docs/protocol.md §10 says.
 *
 *   victims  the real programs, run as processes of a domain with their
 *            stderr captured in a memfd: a victim that dies (a crash, a
 *            guard-page SIGSEGV, a sanitizer abort), exits non-zero (a
 *            LeakSanitizer report) or writes a sanitizer report fails the
 *            test, and whatever it wrote is copied to the test's stderr.
 *   hf       a hostile frontend (this process, entered into a guest
 *            domain): it grants rings and a buffer area, allocates ports
 *            and writes its §2.2 keys by hand, then writes raw ring memory
 *            (descriptors, avail entries and indices) with no checks at all.
 *            It can also drive honest traffic and check every answer.
 *   hb       a hostile backend (this process, entered into dom0): it
 *            writes the §2.1 offer by hand, maps the frontend's rings and
 *            area, serves requests with the xvio_test transform
 *            (tests/xport/testdev.h), and can publish anything in the used
 *            ring at any time.
 *
 * Like simtest.h, every function fails the test (exit 1 with a message)
 * instead of returning an error, unless it says otherwise.  A process is
 * either an hf or an hb (each enters its domain with simtest_enter()).
 * Threads: only the TOCTOU flippers write ring memory from a second
 * thread; everything else runs on the test's main thread.
 */
#ifndef XVIO_TEST_HOSTILE_H
#define XVIO_TEST_HOSTILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "plat.h"
#include "testdev.h"
#include "vq.h"
#include "xenbus.h"
#include "xptest.h"

/* Timeouts: generous for sanitizer builds on a loaded machine. */
#define HX_WAIT_MS 15000

/* Feature bits as written in xenstore. */
#define HX_F_VERSION_1 (1ull << 32)
#define HX_F_INDIRECT (1ull << 28)
#define HX_F_EVENT_IDX (1ull << 29)
#define HX_F_ALL (HX_F_VERSION_1 | HX_F_INDIRECT | HX_F_EVENT_IDX)

/* virtio descriptor flags. */
#define HX_NEXT 1u
#define HX_WRITE 2u
#define HX_INDIRECT 4u

/* ======================================================================
 * Victims
 * ====================================================================== */

struct hx_victim {
	struct xp_proc p;
	char name[32];
	int errfd;        /* memfd holding its stderr */
	bool gone;        /* reaped */
};

/* Start tests/xport/<prog> (args NULL-ended) in domain `domid`; registers
 * the victim so that every hx_* wait checks it is still alive. */
void hx_victim_start(struct hx_victim *v, const struct simtest *st, int domid, const char *prog,
                     const char *const *args);
/* Fail the test if the victim died or wrote a sanitizer report. */
void hx_victim_check(struct hx_victim *v);
/* Every registered victim. */
void hx_victims_check(void);
/* The next stdout line starting with prefix (liveness checked). */
void hx_expect(struct hx_victim *v, const char *prefix, char *line, size_t size, int timeout_ms);
/* SIGTERM; it must exit 0 with a clean stderr. */
void hx_victim_stop(struct hx_victim *v);
/* Wait for it to exit by itself: status 0, clean stderr. */
void hx_victim_wait_exit(struct hx_victim *v, int timeout_s);

/* Wait until dir/key reads `want` (NULL: missing); victims checked. */
void hx_wait(struct xs_handle *xs, const char *dir, const char *key, const char *want,
             int timeout_ms);
/* Wait until dir/key reads one of the NULL-ended values; returns its index. */
int hx_wait_any(struct xs_handle *xs, const char *dir, const char *key,
                const char *const *want, int timeout_ms);

/* The error node of a device directory (backend or frontend), "" if none. */
bool hx_error_node(struct xs_handle *xs0, const char *dev_path, char *buf, size_t size);
/* It exists, "<errno> <message>" with errno == err (0: any) and `what`
 * in the message (alternatives separated by '|'). */
void hx_expect_error(struct xs_handle *xs0, const char *dev_path, int err, const char *what);

/* The domain's simulated hypervisor counters settle at these values. */
void hx_wait_counts(const struct simtest *st, int domid, int grants, int maps, int ports);

/* ======================================================================
 * Raw split rings (protocol §4), written and read without any checking
 * ====================================================================== */

struct hx_ring {
	uint8_t *mem;
	unsigned n;
	uint8_t *desc, *avail, *used;
};

void hx_ring_init(struct hx_ring *r, void *mem, unsigned n);
void hx_desc(const struct hx_ring *r, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
             uint16_t next);
void hx_desc_get(const struct hx_ring *r, unsigned i, uint64_t *addr, uint32_t *len,
                 uint16_t *flags, uint16_t *next);
/* An entry of an indirect table at `table` (any memory). */
void hx_table_ent(void *table, unsigned j, uint64_t addr, uint32_t len, uint16_t flags,
                  uint16_t next);
void hx_avail_ent(const struct hx_ring *r, unsigned pos, uint16_t head);
uint16_t hx_avail_ent_get(const struct hx_ring *r, unsigned pos);
void hx_avail_idx(const struct hx_ring *r, uint16_t idx);   /* release store */
uint16_t hx_avail_idx_get(const struct hx_ring *r);         /* acquire load */
void hx_avail_flags(const struct hx_ring *r, uint16_t v);
void hx_used_event(const struct hx_ring *r, uint16_t v);
void hx_used_ent(const struct hx_ring *r, unsigned pos, uint32_t id, uint32_t len);
void hx_used_ent_get(const struct hx_ring *r, unsigned pos, uint32_t *id, uint32_t *len);
void hx_used_idx(const struct hx_ring *r, uint16_t idx);    /* release store */
uint16_t hx_used_idx_get(const struct hx_ring *r);          /* acquire load */
void hx_used_flags(const struct hx_ring *r, uint16_t v);
void hx_avail_event(const struct hx_ring *r, uint16_t v);

/* ======================================================================
 * hf: a hostile frontend (tests against the backend)
 * ====================================================================== */

#define HF_MAX_Q 4u

struct hf;

struct hf_opts {
	bool grant;           /* buffer-mode grant (else data-area) */
	unsigned qsize;       /* 0: 16 */
	unsigned nq;          /* 0: 1 */
	unsigned pages;       /* area or pool pages, 0: 16 */
	uint64_t features;    /* 0: HX_F_ALL */
	bool ring_ro;         /* grant the rings read-only */
	bool area_ro;         /* grant the data pages read-only */
	/* In the Initialised transaction, after the good keys: change them
	 * (hf_put / hf_rm); may also scribble on shared memory. */
	void (*mutate)(struct hf *h, xs_transaction_t t, void *arg);
	void *arg;
};

struct hf_q {
	struct xvio_gnt_share *share;
	xvio_gref_t refs[8];
	unsigned npages;
	int port;
	struct hx_ring r;
	uint16_t avail;   /* next avail index we publish */
	uint16_t used;    /* used entries taken */
};

struct hf {
	const struct simtest *st;
	struct xp_dev dev;
	struct xs_handle *xs0;  /* dom0, for checks */
	struct xs_handle *xs;   /* as the guest */
	struct xvio_plat *p;
	struct xvio_evtchn *ev;
	struct hf_opts o;
	bool shared;
	struct hf_q q[HF_MAX_Q];
	/* the area (data-area mode) or the pool (grant mode) */
	unsigned nchunks;
	struct xvio_gnt_share *chunk[4];
	uint8_t *base[4];
	xvio_gref_t *refs;
	unsigned ndir;
	struct xvio_gnt_share *dir;
	uint8_t *dir_mem;
	xvio_gref_t dir_refs[4];
	uint32_t seed;
	uint64_t seq;
};

/* Enter the device's frontend domain and open xenstore, the platform and
 * an event-channel handle as that domain. */
void hf_open(struct hf *h, const struct simtest *st, const struct xp_dev *dev);
void hf_free(struct hf *h);
/* Grant rings, area, directory; allocate ports (opts copied). */
void hf_share(struct hf *h, const struct hf_opts *o);
/* Write the keys (and o->mutate's changes) and Initialised in one
 * transaction. */
void hf_initialise(struct hf *h);
/* share + initialise, wait for the backend's Connected, write Connected. */
void hf_connect(struct hf *h, const struct hf_opts *o);
/* Closed; wait for the backend's InitWait and its error node to go, then
 * end every grant, which must succeed: the backend unmapped all of them. */
void hf_close(struct hf *h);

/* Inside mutate: set or remove one of our keys (relative to our dir). */
void hf_put(struct hf *h, xs_transaction_t t, const char *key, const char *val, size_t len);
void hf_rm(struct hf *h, xs_transaction_t t, const char *key);

/* Area: local pointer of byte offset `off`, and its bus address (§5). */
uint8_t *hf_ptr(const struct hf *h, uint32_t off);
uint64_t hf_addr(const struct hf *h, uint32_t off);
uint32_t hf_area_bytes(const struct hf *h);

void hf_kick(struct hf *h, unsigned qi);
/* Publish avail up to q->avail. */
void hf_publish(struct hf *h, unsigned qi);
/* Wait until `n` used entries are pending beyond q->used; false on
 * timeout.  Checks nothing. */
bool hf_wait_used(struct hf *h, unsigned qi, unsigned n, int timeout_ms);

/*
 * Honest traffic: `count` requests of 1..3 segments (readable first; a
 * writable one in most), each checked: id, length, every written byte.
 * `batch` requests are published per kick (1..n/4).  Descriptors,
 * buffers and tables come from fixed places, so the ring is left in a
 * known state: every descriptor free, avail == used.
 */
void hf_traffic(struct hf *h, unsigned qi, unsigned count, unsigned batch);

/* ======================================================================
 * hb: a hostile backend (tests against the frontend)
 * ====================================================================== */

#define HB_MAX_SEGS 64u

struct hb_req {
	uint16_t head;
	unsigned ndesc;          /* ring descriptors (1 for an indirect chain) */
	uint16_t ids[HB_MAX_SEGS];
	unsigned niov, nout;
	struct iovec iov[HB_MAX_SEGS];
	uint32_t in_bytes;
	struct xvio_gnt_map *gm[HB_MAX_SEGS]; /* grant mode */
	unsigned ngm;
};

struct hb {
	const struct simtest *st;
	struct xp_dev dev;
	struct xs_handle *xs;   /* dom0 */
	struct xvio_plat *p;
	struct xvio_evtchn *ev;
	bool up;
	bool grant;
	uint64_t features;
	unsigned qsize;
	struct xvio_gnt_map *rmap;
	struct hx_ring r;
	int lport;
	unsigned pages, nmaps;
	struct xvio_gnt_map *amap[4];
	uint8_t *abase[4];
	uint16_t last_avail;
	uint16_t used_idx;
	uint32_t seed;
	xvio_gref_t ring_refs[8];
};

/* Enter dom0 and open xenstore, the platform and event channels. */
void hb_open(struct hb *b, const struct simtest *st, const struct xp_dev *dev);
void hb_free(struct hb *b);
/* The good §2.1 offer, config/seed and InitWait. */
void hb_offer(struct hb *b);
/* Wait for the frontend's Initialised, read its keys, map, bind,
 * Connected; then wait for the frontend's Connected. */
void hb_connect(struct hb *b);
/* Unbind and unmap everything of the session (no state change). */
void hb_disconnect(struct hb *b);
void hb_state(struct hb *b, const char *state);

/* Take the next available chain: 1, or 0 after timeout_ms (0: look once). */
int hb_pop(struct hb *b, struct hb_req *r, int timeout_ms);
/* Write the device's answer into the chain (testdev.h). */
void hb_answer(struct hb *b, struct hb_req *r);
/* Unmap a grant-mode request's buffers. */
void hb_release(struct hb *b, struct hb_req *r);
/* Write used.ring[used_idx] = {id, len}, used_idx++ (not published). */
void hb_used(struct hb *b, uint32_t id, uint32_t len);
/* Publish used_idx and notify. */
void hb_publish(struct hb *b);
/* Pop, answer, complete `n` requests. */
void hb_serve(struct hb *b, unsigned n);
/* Pop up to n requests without completing them; returns how many
 * (stops after `quiet_ms` without a new one). */
unsigned hb_hold(struct hb *b, struct hb_req *reqs, unsigned n, int quiet_ms);
/* Answer and complete a held request. */
void hb_complete(struct hb *b, struct hb_req *r);

/* ======================================================================
 * A scene against the backend: xvio-testback in dom0 serving device A
 * (attacked by an hf in guest A) and device B (a real xvio-testfront
 * streaming in guest B, the proof that the backend still serves others)
 * ====================================================================== */

struct hx_scene {
	struct simtest st;
	int doma, domb;
	struct xs_handle *xs0;
	struct xp_dev a, b;
	struct hx_victim be, healthy;
	struct hf h;
	unsigned long be_fds;   /* the backend's fds before the attack */
};

/* Start everything; A's backend is in InitWait, h is open (not shared). */
void hx_scene_start(struct hx_scene *s);
/* The backend found a violation: A's backend goes Closing (or Closed) with an error
 * node (errno err, naming `what`) and holds no mapping of guest A. */
void hx_scene_violation(struct hx_scene *s, int err, const char *what);
/* Odd but allowed: the backend still serves A correctly, no error. */
void hx_scene_benign(struct hx_scene *s);
/* B still streams; A closes (every grant of A must end: nothing stays
 * mapped), then a fresh, honest session on A works; the backend exits
 * cleanly on SIGTERM with as many fds as before the attack. */
void hx_scene_end(struct hx_scene *s);

#endif
