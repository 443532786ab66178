/* SPDX-License-Identifier: MIT */
/*
 * The xvio transport (docs/protocol.md): device lifecycle, buffer
 * addressing, notifications and reconnect for both roles, on top of the
 * xenbus device object (xenbus.h), the platform layer (plat.h) and split
 * virtqueues (vq.h).  Device drivers (blkfront/blkback, netfront/netback,
 * the xvio_test device) use only this header for their data path.
 *
 *   context   one per event loop: the libxenstore handle, its watcher, the
 *             platform handle and one event-channel handle whose ports are
 *             routed to queues.  The caller polls its fds and calls
 *             dispatch, or calls the simple run loop.
 *   backend   serves every device of one kind in backend/<kind>: reaches
 *             InitWait at once (rescans on start, watches for new devices),
 *             validates the frontend's keys, maps rings and buffers, hands
 *             requests to the driver as iovecs, completes them.
 *   frontend  drives every device of one kind in device/<kind> of its own
 *             domain: negotiates, grants rings and a buffer area, submits
 *             requests built from transport buffers (either addressing mode
 *             behind one API), and keeps and resubmits in-flight requests
 *             across backend restarts.
 *
 * Error convention (docs/architecture.md §3): int functions return >= 0 on
 * success and -errno on failure; functions that take a `struct xvio_err *`
 * (may be NULL) also fill it with the errno and a one-line message.  The
 * library never logs.  A device's fatal problem goes to its xenstore error
 * node (protocol §2.3) and the device closes; other devices go on.
 *
 * Threading: a context, and every backend, frontend, device, request and
 * buffer made through it, belong to one thread at a time: the one that
 * calls xvio_xport_ctx_dispatch().  Callbacks run on that thread, from
 * dispatch (or from the call that created the kind).  They may submit and
 * complete requests, allocate and free buffers and report failures; they
 * must not free a backend, frontend or the context.  Different contexts
 * are independent; a process may run one per thread.
 *
 * Idle cost: nothing runs without an event.  A queue that found work keeps
 * polling its ring for `spin_us` microseconds with notifications off
 * (xvio_xport_ctx_timeout() returns 0 meanwhile), then re-enables them,
 * checks once more, and sleeps on the event-channel fd.
 */
#ifndef XVIO_XPORT_H
#define XVIO_XPORT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "plat.h"
#include "vq.h"
#include "xenbus.h"

/* Feature bits (virtio): the transport handles the ring ones itself. */
#define XVIO_XPORT_F_VERSION_1 (1ull << 32)
#define XVIO_XPORT_F_INDIRECT (1ull << 28)
#define XVIO_XPORT_F_EVENT_IDX (1ull << 29)
/* Bits a device may define (virtio: 0..23). */
#define XVIO_XPORT_F_DEVICE_MASK ((1ull << 24) - 1)

/* Protocol limits (§2.1, §9). */
#define XVIO_XPORT_MAX_QUEUES 16u
#define XVIO_XPORT_MAX_AREA_PAGES 4096u
/* Largest transport buffer: one buddy block of the area (4 MiB). */
#define XVIO_XPORT_MAX_BUF XVIO_VQ_MAX_SEG

/* Default spin window (µs) when a context is made without parameters. */
#define XVIO_XPORT_SPIN_DEFAULT 20u

/* ======================================================================
 * Context
 * ====================================================================== */

struct xvio_xport_ctx;

struct xvio_xport_ctx_params {
	const char *platform; /* xvio_plat_open(): NULL for the default */
	unsigned spin_us;     /* adaptive polling window, 0 = never spin */
};

/*
 * Open libxenstore, a watcher, the platform and an event-channel handle.
 * `p` may be NULL (defaults).  Lifetime: free the backends and frontends
 * made on the context first, then xvio_xport_ctx_free(), which closes
 * everything it opened.
 */
int xvio_xport_ctx_new(const struct xvio_xport_ctx_params *p, struct xvio_xport_ctx **out,
                       struct xvio_err *err);
void xvio_xport_ctx_free(struct xvio_xport_ctx *c);

/* The handles, owned by the context (do not close them; do not read watch
 * events from the xs handle yourself: the watcher owns them). */
struct xs_handle *xvio_xport_ctx_xs(struct xvio_xport_ctx *c);
struct xvio_watcher *xvio_xport_ctx_watcher(struct xvio_xport_ctx *c);
struct xvio_plat *xvio_xport_ctx_plat(struct xvio_xport_ctx *c);
xvio_domid_t xvio_xport_ctx_domid(const struct xvio_xport_ctx *c);

/*
 * Event-loop integration: poll the XVIO_XPORT_CTX_NFDS fds for POLLIN
 * with the timeout from xvio_xport_ctx_timeout() (milliseconds: 0 while a
 * queue spins or deferred work is pending, else XVIO_WATCH_CHECK_MS; never
 * infinite, because libxenstore does not wake the loop when it loses
 * xenstore), then call xvio_xport_ctx_dispatch() (whether or not an fd is
 * readable: dispatch never blocks).  Dispatch returns 0, or -errno when the
 * xenstore connection failed (-ENOTCONN: it was lost; the context is then
 * unusable).  While a queue spins,
 * dispatch looks at the context's two fds itself, every 20 µs: a caller
 * with no fds of its own may call it without polling while the timeout is
 * 0 (xvio_xport_ctx_run() does), so that a spinning pass makes no system
 * call.
 */
#define XVIO_XPORT_CTX_NFDS 2
int xvio_xport_ctx_fds(struct xvio_xport_ctx *c, int fds[XVIO_XPORT_CTX_NFDS]);
int xvio_xport_ctx_timeout(const struct xvio_xport_ctx *c);
int xvio_xport_ctx_dispatch(struct xvio_xport_ctx *c);

/*
 * The whole loop, for programs with nothing else to do: poll and dispatch
 * until xvio_xport_ctx_stop() or a failure.  Returns 0 after stop, -errno
 * on failure.  `wait_mask` (may be NULL) is the signal mask while waiting
 * (ppoll), as with pselect: block SIGTERM, install a handler that calls
 * xvio_xport_ctx_stop(), pass a mask without SIGTERM, and the signal can
 * only arrive during the wait, so it is never missed.
 *
 * xvio_xport_ctx_stop() may be called from callbacks and from signal
 * handlers (it stores one flag).
 */
int xvio_xport_ctx_run(struct xvio_xport_ctx *c, const sigset_t *wait_mask);
void xvio_xport_ctx_stop(struct xvio_xport_ctx *c);

/*
 * Outside xvio_xport_ctx_dispatch(), each completion (backend) and each
 * submission (frontend) publishes its ring index and decides on a
 * notification at once: a fence per request, and a polling peer sees one
 * request per pass.  A program that completes or submits many at a time
 * outside dispatch (an I/O completion loop, a queue of requests from other
 * threads) brackets them with batch_begin / batch_end: they are published
 * together at batch_end (or by a dispatch in between), as within a
 * dispatch pass.  Not nested; the dispatching thread only.
 */
void xvio_xport_ctx_batch_begin(struct xvio_xport_ctx *c);
void xvio_xport_ctx_batch_end(struct xvio_xport_ctx *c);

/* ======================================================================
 * Backend
 * ====================================================================== */

struct xvio_xport_back;
struct xvio_xport_bdev;

/*
 * A request handed to the device.  Buffers are local iovecs (a data-area
 * slice or mapped grants); readable ones (driver -> device) first.  A
 * descriptor may appear as several iovecs (it crossed a mapping), never
 * the other way round.  Valid from ops->request until
 * xvio_xport_breq_complete() or the end of ops->disconnect, whichever
 * comes first; the device must not touch the memory afterwards.
 */
struct xvio_xport_breq {
	unsigned queue;
	unsigned niov;       /* iovecs in all */
	unsigned nout;       /* the first nout are readable */
	uint32_t out_bytes;  /* readable bytes */
	uint32_t in_bytes;   /* writable bytes */
	struct iovec *iov;
};

struct xvio_xport_back_ops {
	/* Optional: a device directory was found.  Set up per-device state
	 * (*priv).  Failing refuses the device (it is not retried until its
	 * directory goes away and comes back). */
	int (*add)(struct xvio_xport_bdev *d, void **priv, struct xvio_err *err);
	/* Optional: the start of each session, in the InitWait transaction:
	 * write config/<field> keys through `t`, and narrow this device's
	 * offer with xvio_xport_bdev_set_features() (e.g. a read-only disk).
	 * Failing makes the device FAILED (error node, Closing, sticky). */
	int (*setup)(struct xvio_xport_bdev *d, xs_transaction_t t, struct xvio_err *err);
	/* Optional: the frontend's keys were accepted; the session is up (after
	 * the Connected commit).  Requests arrive afterwards. */
	void (*connect)(struct xvio_xport_bdev *d);
	/* Required: a request.  Complete it now or later. */
	void (*request)(struct xvio_xport_bdev *d, struct xvio_xport_breq *r);
	/* Optional: the session ends (frontend gone, closed, fault).  Finish
	 * or abandon every request you hold before returning: afterwards the
	 * transport unmaps their buffers and forgets them. */
	void (*disconnect)(struct xvio_xport_bdev *d);
	/* Optional: the device is gone; free *priv. */
	void (*remove)(struct xvio_xport_bdev *d);
};

struct xvio_xport_back_params {
	const char *kind;        /* backend/<kind> */
	uint32_t virtio_id;      /* virtio-device */
	uint64_t features;       /* device bits (XVIO_XPORT_F_DEVICE_MASK) offered */
	unsigned max_queues;     /* 1..16; 0 = 1 */
	unsigned max_queue_size; /* power of two 2..1024; 0 = 256 */
	unsigned max_area_pages; /* max-data-area-pages 1..4096; 0 = 4096 */
	const struct xvio_xport_back_ops *ops;
	void *arg;               /* for the driver: xvio_xport_bdev_arg() */
};

/*
 * Serve every device of a kind: rescan backend/<kind>/ now (each device
 * found goes to InitWait before this returns), then watch it for new
 * devices, and @releaseDomain for frontend domains that die.  VERSION_1,
 * INDIRECT_DESC and EVENT_IDX are always offered; buffer-modes is
 * "data-area grant".  Free with xvio_xport_back_free(): devices are
 * closed (sessions torn down: unmapped, unbound) but xenstore is left as
 * it is, so a restarted process takes over.
 */
int xvio_xport_back_new(struct xvio_xport_ctx *c, const struct xvio_xport_back_params *p,
                        struct xvio_xport_back **out, struct xvio_err *err);
void xvio_xport_back_free(struct xvio_xport_back *b);

/*
 * Complete a request with `len` bytes written from the first writable
 * byte (at most in_bytes; larger is clamped).  In grant mode the
 * request's grants are unmapped before its used entry is published.
 */
void xvio_xport_breq_complete(struct xvio_xport_breq *r, uint32_t len);

/*
 * Report a fatal device problem (e.g. the disk failed): error node,
 * FAILED (sticky), Closing.  Takes effect at the end of the current
 * dispatch; returns 0.
 */
int xvio_xport_bdev_fail(struct xvio_xport_bdev *d, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

void *xvio_xport_bdev_arg(const struct xvio_xport_bdev *d);
void *xvio_xport_bdev_priv(const struct xvio_xport_bdev *d);
struct xvio_xport_ctx *xvio_xport_bdev_ctx(const struct xvio_xport_bdev *d);
const char *xvio_xport_bdev_path(const struct xvio_xport_bdev *d);
const char *xvio_xport_bdev_frontend_path(const struct xvio_xport_bdev *d);
xvio_domid_t xvio_xport_bdev_frontend_id(const struct xvio_xport_bdev *d);
unsigned xvio_xport_bdev_devid(const struct xvio_xport_bdev *d);
/* Of the current session (0 when none). */
uint64_t xvio_xport_bdev_features(const struct xvio_xport_bdev *d);
/* From ops->setup only: offer `features & params.features` (device bits)
 * in this session instead of params.features.  The frontend's accepted
 * set is checked against it. */
void xvio_xport_bdev_set_features(struct xvio_xport_bdev *d, uint64_t features);
unsigned xvio_xport_bdev_num_queues(const struct xvio_xport_bdev *d);

/* ======================================================================
 * Frontend
 * ====================================================================== */

struct xvio_xport_front;
struct xvio_xport_fdev;

enum xvio_xport_mode {
	XVIO_XPORT_DATA_AREA = 0, /* §5.1: persistent area, offsets */
	XVIO_XPORT_GRANT = 1,     /* §5.2: grant addresses into a granted pool */
};

/*
 * A buffer of device-visible memory, from the device's area (data-area
 * mode) or its pool of pages granted to the backend (grant mode).  `ptr`
 * and `len` are the caller's; the rest is private.  The area survives
 * reconnects: a buffer stays valid from alloc to free, across sessions,
 * until the device is removed.
 */
struct xvio_xport_buf {
	void *ptr;
	uint32_t len;
	/* private */
	uint32_t off;   /* byte offset in the area */
	uint8_t order;  /* buddy block: 2^order bytes */
};

/* One segment of a request: `len` bytes at `off` in `buf`. */
struct xvio_xport_sg {
	const struct xvio_xport_buf *buf;
	uint32_t off, len;
};

/* Request flags. */
#define XVIO_XPORT_REQ_DIRECT (1u << 0) /* never use an indirect table */

/*
 * A request, owned by the caller (embed it in your own request struct).
 * Fill sg/nout/nin/flags/cookie and submit.  sg[0..nout) are readable by
 * the device, sg[nout..nout+nin) writable.  sg, the buffers and the
 * request must stay valid until ops->complete hands it back; the transport
 * re-reads sg when it resubmits after a reconnect.
 */
struct xvio_xport_freq {
	const struct xvio_xport_sg *sg;
	unsigned nout, nin;
	unsigned flags;
	void *cookie;
	/* results, valid in ops->complete */
	int status;     /* 0, or -ECANCELED: device removed, never completed */
	uint32_t len;   /* bytes the device wrote */
	/* private */
	struct xvio_xport_freq *next, *prev;
	struct xvio_xport_buf ind;   /* indirect table, when used */
	unsigned queue;
};

struct xvio_xport_front_ops {
	/* Optional: a device directory was found (per-device *priv). */
	int (*add)(struct xvio_xport_fdev *d, void **priv, struct xvio_err *err);
	/* Optional: read the backend's config/<field> keys once per session,
	 * in the transaction that publishes Initialised (`be` is the backend
	 * directory).  Failing (bad values) closes the device with an error
	 * node; it reconnects when the backend starts a new session. */
	int (*setup)(struct xvio_xport_fdev *d, xs_transaction_t t, const char *be,
	             struct xvio_err *err);
	/* Optional: the session is up and kept requests were resubmitted. */
	void (*connected)(struct xvio_xport_fdev *d);
	/* Required: a request is done (r->status, r->len). */
	void (*complete)(struct xvio_xport_fdev *d, struct xvio_xport_freq *r);
	/* Optional: the session went down; submitted requests are kept. */
	void (*disconnected)(struct xvio_xport_fdev *d);
	/* Optional: the device is gone: every request was handed back (status
	 * -ECANCELED) and buffers are invalid; free *priv. */
	void (*remove)(struct xvio_xport_fdev *d);
};

struct xvio_xport_front_params {
	const char *kind;        /* device/<kind> */
	uint32_t virtio_id;      /* the backend's virtio-device must match */
	/* Wanted features: device bits and INDIRECT_DESC / EVENT_IDX; the
	 * accepted set is wanted & offered, plus VERSION_1. */
	uint64_t features;
	enum xvio_xport_mode mode;
	unsigned num_queues;     /* wanted; clamped to max-queues.  0 = 1 */
	unsigned queue_size;     /* wanted power of two; clamped.  0 = 256 */
	/* Area pages: data-area-pages (clamped to max-data-area-pages) or
	 * the grant pool.  0 = 1024. */
	unsigned area_pages;
	const struct xvio_xport_front_ops *ops;
	void *arg;
};

/*
 * Drive every device of a kind in this domain: scan device/<kind>/ now and
 * watch it.  Free with xvio_xport_front_free(): sessions are torn down,
 * requests handed back (-ECANCELED), grants ended or abandoned, but
 * xenstore is left as it is.
 */
int xvio_xport_front_new(struct xvio_xport_ctx *c, const struct xvio_xport_front_params *p,
                         struct xvio_xport_front **out, struct xvio_err *err);
void xvio_xport_front_free(struct xvio_xport_front *f);

/*
 * Buffers: alloc rounds len up to a power of two (>= 64 bytes), never
 * crosses a 4 MiB boundary of the area and keeps blocks up to a page
 * inside one page.  -ENOTCONN before the first session created the area
 * (wait for ops->connected), -ENOMEM when the area is full (wait for
 * completions), -EINVAL for len 0 or > XVIO_XPORT_MAX_BUF.
 */
int xvio_xport_buf_alloc(struct xvio_xport_fdev *d, uint32_t len, struct xvio_xport_buf *b);
void xvio_xport_buf_free(struct xvio_xport_fdev *d, struct xvio_xport_buf *b);

/*
 * Submit a request on `queue` (< xvio_xport_fdev_num_queues(), or 0 before
 * the first session).  It is posted when the ring has room (in submission
 * order) and while connected; otherwise it waits.  Returns 0, or -EINVAL
 * for a malformed request (no segment, empty segment, a segment outside
 * its buffer or over 4 MiB, more than 256 descriptors or 64 MiB in all,
 * queue out of range) or -ENODEV
 * after the device was removed.  Kicks are batched: they go out at the end
 * of the current dispatch, or at once when called outside dispatch.
 */
int xvio_xport_submit(struct xvio_xport_fdev *d, unsigned queue, struct xvio_xport_freq *r);

void *xvio_xport_fdev_arg(const struct xvio_xport_fdev *d);
void *xvio_xport_fdev_priv(const struct xvio_xport_fdev *d);
struct xvio_xport_ctx *xvio_xport_fdev_ctx(const struct xvio_xport_fdev *d);
const char *xvio_xport_fdev_path(const struct xvio_xport_fdev *d);
const char *xvio_xport_fdev_backend_path(const struct xvio_xport_fdev *d);
unsigned xvio_xport_fdev_devid(const struct xvio_xport_fdev *d);
bool xvio_xport_fdev_connected(const struct xvio_xport_fdev *d);
/* Of the current (or last) session. */
uint64_t xvio_xport_fdev_features(const struct xvio_xport_fdev *d);
unsigned xvio_xport_fdev_num_queues(const struct xvio_xport_fdev *d);
unsigned xvio_xport_fdev_queue_size(const struct xvio_xport_fdev *d);
/* Requests submitted and not yet handed back. */
unsigned xvio_xport_fdev_pending(const struct xvio_xport_fdev *d);
/* Sessions that reached Connected so far. */
unsigned xvio_xport_fdev_sessions(const struct xvio_xport_fdev *d);

#endif /* XVIO_XPORT_H */
