/* SPDX-License-Identifier: MIT */
/*
 * The xenbus core: what every split driver needs on top of libxenstore.
 *
 *   store.c   typed, range-checked reads and writes, transactions with retry;
 *   watch.c   watch registration and bounded, non-blocking dispatch;
 *   state.c   the XenbusState machine as a pure transition function;
 *   device.c  a device object binding that function to xenstore, and the
 *             Xen error-node convention.
 *
 * xenstore is never abstracted: every function takes the caller's real
 * libxenstore handle (struct xs_handle from xs_open()), which reaches
 * xenstored on Xen or xvio-sim's server through $XENSTORED_PATH.
 *
 * Error convention: functions returning int return >= 0 on success and
 * -errno on failure; they never log.  Most take an optional
 * `struct xvio_err *` (may be NULL) that receives the same errno and a
 * one-line message naming the xenstore path and the offending value, e.g.
 *   backend/virtio_disk/1/51712/ring-ref: "12x" is not a number
 * The message is meant for humans and for the error node
 * (xvio_xs_report_error); code must branch on the errno only.
 *
 * Errnos used by the typed readers:
 *   ENOENT  the node does not exist
 *   EINVAL  malformed value (not a number, embedded NUL, not 0/1, not in
 *           the enumeration)
 *   ERANGE  a number outside [min, max]
 *   E2BIG   a string longer than the caller's limit
 *   ENAMETOOLONG  dir + "/" + key longer than XENSTORE_ABS_PATH_MAX
 *   anything else: from libxenstore (EACCES, EAGAIN in a transaction, EIO..)
 * A peer state that is not a XenbusState is EPROTO.
 *
 * Trust: every value read here may have been written by a hostile peer.
 * Lengths come from the wire reply and are checked against the caller's
 * limits, embedded NULs are rejected, numbers are parsed strictly, and the
 * value is quoted in messages with non-printable bytes escaped.
 *
 * Threading: libxenstore handles are thread-safe, so the stateless
 * functions (store.c, state.c) may be called from any thread.  A watcher
 * and a device object are single-threaded objects: all calls on one of
 * them, and the callbacks it makes, happen on one thread at a time (the
 * caller's event loop).  Different objects are independent.
 */
#ifndef XVIO_XENBUS_H
#define XVIO_XENBUS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xenstore.h>
#include <xen/io/xenbus.h>

#include "plat.h"

/* ---- error detail ------------------------------------------------------- */

#define XVIO_ERR_MSG_MAX 256

struct xvio_err {
	int err;                    /* positive errno, 0 when no error */
	char msg[XVIO_ERR_MSG_MAX]; /* NUL-terminated, possibly truncated */
};

/* Fill *e (if non-NULL) and return -err.  err is a positive errno. */
int xvio_err_set(struct xvio_err *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void xvio_err_clear(struct xvio_err *e);

/*
 * Quote an untrusted value for a message: printable ASCII is kept, '"'
 * and '\\' and other bytes become \xNN, and long values are cut with "...".
 * Always NUL-terminates `out` (size >= 8).  Returns out.
 */
char *xvio_quote(char *out, size_t size, const char *val, size_t len);

/* ---- pure parsers (no xenstore; exposed for tests and other sources) ---- */

/*
 * Numbers are strict decimal by default: digits only, no sign, no leading
 * zeros ("0" itself is fine), no blanks, nothing after the digits.  These
 * flags relax that for values written by sloppy tools:
 */
#define XVIO_NUM_PLUS  (1u << 0) /* accept one leading '+' */
#define XVIO_NUM_ZEROS (1u << 1) /* accept leading zeros ("007" is 7) */
#define XVIO_NUM_SPACE (1u << 2) /* accept leading/trailing blanks, '\n' */

/* An enumeration table: ends with an entry whose name is NULL. */
struct xvio_enum {
	const char *name;
	int value;
};

/*
 * `what` names the value in messages (usually its xenstore path).  `val`
 * has `len` bytes and need not be NUL-terminated; a NUL inside the first
 * len bytes is an error.
 */
int xvio_parse_u64(const char *what, const char *val, size_t len, unsigned flags,
                   uint64_t min, uint64_t max, uint64_t *out, struct xvio_err *err);
/* Signed: a leading '-' is always accepted. */
int xvio_parse_i64(const char *what, const char *val, size_t len, unsigned flags,
                   int64_t min, int64_t max, int64_t *out, struct xvio_err *err);
/* Exactly "0" or "1". */
int xvio_parse_bool(const char *what, const char *val, size_t len, bool *out,
                    struct xvio_err *err);
/* Exact, case-sensitive match of a table name; *out is its value. */
int xvio_parse_enum(const char *what, const char *val, size_t len,
                    const struct xvio_enum *table, int *out, struct xvio_err *err);
/* A string: no embedded NUL and at most max bytes.  Returns len. */
int xvio_check_str(const char *what, const char *val, size_t len, size_t max,
                   struct xvio_err *err);

/* ---- typed xenstore access (store.c) ------------------------------------ */

/*
 * Every accessor names its node as `dir` plus an optional `key`: the node is
 * "dir/key", or just `dir` when key is NULL.  Paths may be absolute or
 * relative to the caller's own domain home (/local/domain/<self>).  `t` is
 * a transaction or XBT_NULL.
 */

/* Join dir and key into buf.  Returns the length or -ENAMETOOLONG. */
int xvio_xs_path(char *buf, size_t size, const char *dir, const char *key);

/* Read a string into buf (size >= 1); returns its length (< size). */
int xvio_xs_read_str(struct xs_handle *h, xs_transaction_t t, const char *dir,
                     const char *key, char *buf, size_t size, struct xvio_err *err);
/* Same into a malloc'ed string of at most max bytes; caller frees *out. */
int xvio_xs_read_strdup(struct xs_handle *h, xs_transaction_t t, const char *dir,
                        const char *key, size_t max, char **out, struct xvio_err *err);

int xvio_xs_read_u64(struct xs_handle *h, xs_transaction_t t, const char *dir,
                     const char *key, unsigned flags, uint64_t min, uint64_t max,
                     uint64_t *out, struct xvio_err *err);
int xvio_xs_read_i64(struct xs_handle *h, xs_transaction_t t, const char *dir,
                     const char *key, unsigned flags, int64_t min, int64_t max,
                     int64_t *out, struct xvio_err *err);
/* Strict (flags 0) unsigned 32-bit shorthand. */
int xvio_xs_read_u32(struct xs_handle *h, xs_transaction_t t, const char *dir,
                     const char *key, uint32_t min, uint32_t max, uint32_t *out,
                     struct xvio_err *err);
int xvio_xs_read_bool(struct xs_handle *h, xs_transaction_t t, const char *dir,
                      const char *key, bool *out, struct xvio_err *err);
int xvio_xs_read_enum(struct xs_handle *h, xs_transaction_t t, const char *dir,
                      const char *key, const struct xvio_enum *table, int *out,
                      struct xvio_err *err);

/* 1 if the node exists, 0 if not, -errno on other failures. */
int xvio_xs_exists(struct xs_handle *h, xs_transaction_t t, const char *dir,
                   const char *key);

int xvio_xs_write(struct xs_handle *h, xs_transaction_t t, const char *dir,
                  const char *key, const char *val, struct xvio_err *err);
int xvio_xs_printf(struct xs_handle *h, xs_transaction_t t, const char *dir,
                   const char *key, struct xvio_err *err, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
int xvio_xs_vprintf(struct xs_handle *h, xs_transaction_t t, const char *dir,
                    const char *key, struct xvio_err *err, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));
/* Remove a node and its children; a missing node is not an error. */
int xvio_xs_rm(struct xs_handle *h, xs_transaction_t t, const char *dir,
               const char *key, struct xvio_err *err);

/*
 * Run fn(h, t, arg, err) in a fresh transaction and commit, until the
 * commit succeeds or fails with something other than EAGAIN.  fn returning
 * < 0 aborts the transaction; -EAGAIN from fn (a read that met a conflict)
 * retries too.  fn must be repeatable: it may run several times and only
 * the last run's writes persist.  Gives up with -EAGAIN after
 * XVIO_XS_TXN_TRIES runs.  Returns fn's last (non-negative) result.
 */
#define XVIO_XS_TXN_TRIES 16
typedef int (*xvio_xs_txn_fn)(struct xs_handle *h, xs_transaction_t t, void *arg,
                              struct xvio_err *err);
int xvio_xs_transaction(struct xs_handle *h, xvio_xs_txn_fn fn, void *arg,
                        struct xvio_err *err);

/* ---- watches (watch.c) -------------------------------------------------- */

/*
 * A watcher owns the watch events of one xs_handle: do not call xs_watch,
 * xs_read_watch or xs_check_watch on that handle yourself, and make at most
 * one watcher per handle (events are consumed from the handle's queue).
 *
 * Tokens on the wire are "xvio-<id>" with a private registration id; an
 * event is delivered only if its token parses strictly and names a live
 * registration, so a stale event of a removed watch is dropped.  Ids are
 * never reused within a watcher.
 *
 * Callbacks must tolerate spurious and coalesced events: xenstore fires
 * once at registration, fires for any change below the path (including
 * removal), and dispatch folds identical (registration, path) events of one
 * batch into one call.  A callback therefore re-reads what it cares about.
 * Callbacks may add and remove watches (including their own) but must not
 * free the watcher.
 */
struct xvio_watcher;

typedef void (*xvio_watch_fn)(struct xvio_watcher *w, int id, const char *path,
                              void *arg);

/* Most events handled by one dispatch call (XSA-349: bounded work). */
#define XVIO_WATCH_BATCH_MAX 256

int xvio_watcher_new(struct xs_handle *h, struct xvio_watcher **out);
/* Removes every registration.  NULL is fine. */
void xvio_watcher_free(struct xvio_watcher *w);

/*
 * Readable while events are queued (libxenstore's xs_fileno).  It does NOT
 * become readable when libxenstore loses the connection (xenstored exited
 * or closed the socket): a loop that sleeps on it must wake at least every
 * XVIO_WATCH_CHECK_MS and call xvio_watcher_dispatch() anyway, which
 * returns -ENOTCONN from then on.  The check costs no system call, only an
 * uncontended lock.  Loss can only be seen once a watch was added (the
 * first xs_watch starts libxenstore's reader thread, which notices it);
 * before that, the next xenstore request fails instead.
 */
int xvio_watcher_fd(struct xvio_watcher *w);

/* How long an event loop may sleep on xvio_watcher_fd() alone before
 * calling xvio_watcher_dispatch() to learn of a lost connection: an idle
 * daemon wakes this often (two system calls each time, ~no CPU) and
 * learns of the loss at most this long after xenstore went away. */
#define XVIO_WATCH_CHECK_MS 5000

/* Watch `path` (and below).  Returns the registration id (> 0). */
int xvio_watch_add(struct xvio_watcher *w, const char *path, xvio_watch_fn fn,
                   void *arg, struct xvio_err *err);
/* -ENOENT if id is not registered. */
int xvio_watch_remove(struct xvio_watcher *w, int id);

/*
 * Take at most `budget` (1..XVIO_WATCH_BATCH_MAX) queued events without
 * blocking and run their callbacks.  Returns the number of events taken;
 * when it equals budget more may be queued (the fd stays readable), so an
 * event loop simply calls again on its next turn.  Once the xenstore
 * connection is lost, the events queued before are still delivered, then
 * every call returns -ENOTCONN (the watcher and its handle are then only
 * good for freeing).  Other -errno: libxenstore failed (e.g. -ENOMEM).
 */
int xvio_watcher_dispatch(struct xvio_watcher *w, unsigned budget);

struct xvio_watch_stats {
	uint64_t events;    /* taken from the handle */
	uint64_t delivered; /* callbacks run */
	uint64_t coalesced; /* folded into an identical event of the batch */
	uint64_t dropped;   /* unknown or malformed token, or removed watch */
};
void xvio_watcher_stats(const struct xvio_watcher *w, struct xvio_watch_stats *out);

/* ---- the XenbusState machine, pure (state.c) ---------------------------- */

enum xvio_xb_role {
	XVIO_XB_FRONTEND,
	XVIO_XB_BACKEND,
};

/* Highest XenbusState value (Reconfigured). */
#define XVIO_XB_STATE_MAX XenbusStateReconfigured

/* Local facts, input of xvio_xb_step(). */
#define XVIO_XB_ONLINE     (1u << 0) /* the device should be up */
#define XVIO_XB_FAILED     (1u << 1) /* local fatal error: sticky until retry */
#define XVIO_XB_READY      (1u << 2) /* backend: may connect (e.g. hotplug done) */
#define XVIO_XB_PREPARED   (1u << 3) /* SETUP done by this process, not torn down */
#define XVIO_XB_CONNECTED  (1u << 4) /* CONNECT done by this process, not torn down */
#define XVIO_XB_PEER_FAULT (1u << 5) /* the peer broke this session */
#define XVIO_XB_FLAGS_ALL  0x3fu

/*
 * FAILED and PEER_FAULT both close the device (Closing, then Closed).  They
 * differ in what happens next: FAILED (our own trouble: cannot open the
 * disk, out of grants) keeps the device Closed until xvio_xb_dev_retry(),
 * so a persistent local error cannot spin through sessions; PEER_FAULT
 * (the peer's values were bad, or its rings could not be mapped) only ends
 * the session: once the peer has closed too, a new session may start, and
 * its SETUP clears PEER_FAULT.  Each such retry needs the peer to cycle
 * its own state, so a hostile peer only pays with its own writes.
 */

/*
 * Actions, to be performed in this order (bit order):
 *   TEARDOWN  undo CONNECT and SETUP (only emitted when PREPARED|CONNECTED)
 *   SETUP     a new session (clears PEER_FAULT).  Frontend: allocate rings,
 *             grant, write its keys; backend: prepare the device, write its
 *             features
 *   CONNECT   frontend: read the backend's connect-time keys, start I/O;
 *             backend: read the frontend's keys, map, bind, serve
 *   SWITCH    write `next` as the own state
 *   RELEASE   the device is finished; stop tracking it
 */
#define XVIO_XB_ACT_TEARDOWN (1u << 0)
#define XVIO_XB_ACT_SETUP    (1u << 1)
#define XVIO_XB_ACT_CONNECT  (1u << 2)
#define XVIO_XB_ACT_SWITCH   (1u << 3)
#define XVIO_XB_ACT_RELEASE  (1u << 4)

struct xvio_xb_step {
	unsigned actions;
	enum xenbus_state next; /* the own state after the step */
};

/*
 * One transition.  `own` is the own state node as read now (Unknown when
 * missing), `peer` the peer's (Unknown when missing), flags the local
 * facts.  The result depends on nothing else, so a caller applies it,
 * updates flags (SETUP sets PREPARED, CONNECT sets CONNECTED, TEARDOWN
 * clears both), re-reads and steps again until no action is left; the
 * rules reach that fixed point within XVIO_XB_MAX_STEPS steps.
 * -EINVAL for a role, state or flag out of range.
 *
 * The protocol (docs/protocol.md has the prose): the backend prepares and
 * waits in InitWait; the frontend sets up and announces Initialised (or
 * Connected); the backend connects on either, the frontend on the
 * backend's Connected.  Stale states left by a previous process (own state
 * Connected but nothing connected here) go through Closed so the peer
 * acknowledges the teardown before a new session; a backend returns to
 * InitWait once the frontend is Closed or Initialising again, and a Closed
 * frontend starts over when the backend is in InitWait.  FAILED,
 * PEER_FAULT or not ONLINE devices go to Closing, then Closed once the peer
 * let go.
 */
#define XVIO_XB_MAX_STEPS 4
int xvio_xb_step(enum xvio_xb_role role, enum xenbus_state own,
                 enum xenbus_state peer, unsigned flags, struct xvio_xb_step *out);

/* "Initialising", "InitWait", ...; "invalid" out of range. */
const char *xvio_xb_state_name(enum xenbus_state s);

/* A state value: decimal 0..8, else -EPROTO with a message. */
int xvio_xb_parse_state(const char *what, const char *val, size_t len,
                        enum xenbus_state *out, struct xvio_err *err);

/* ---- xenstore side of the state machine (device.c) ---------------------- */

/*
 * Read "<dir>/state".  -ENOENT when missing, -EPROTO when not a state.
 */
int xvio_xb_read_state(struct xs_handle *h, xs_transaction_t t, const char *dir,
                       enum xenbus_state *out, struct xvio_err *err);

/*
 * Set "<dir>/state" to `state` if it differs, in a transaction that first
 * checks the node exists (never recreates a removed device directory).
 * Returns 1 if written, 0 if it already had that value, -ENOENT if the
 * node is gone.
 */
int xvio_xb_switch_state(struct xs_handle *h, const char *dir,
                         enum xenbus_state state, struct xvio_err *err);

/*
 * The Xen error convention.  `dev_path` is the writer's own device
 * directory, either absolute under its domain (/local/domain/N/<rel>) or
 * relative to it (<rel>).  report writes "<domain>/error/<rel>/error" =
 * "<errno> <message>" (errno positive, as Linux's xenbus_dev_error);
 * clear removes "<domain>/error/<rel>".
 */
int xvio_xs_report_error(struct xs_handle *h, xs_transaction_t t, const char *dev_path,
                         int errnum, const char *msg, struct xvio_err *err);
int xvio_xs_clear_error(struct xs_handle *h, xs_transaction_t t, const char *dev_path,
                        struct xvio_err *err);
/* The error directory of dev_path ("<domain>/error/<rel>") into buf. */
int xvio_xs_error_dir(char *buf, size_t size, const char *dev_path);

/*
 * A device: one end of a split device, bound to its xenstore directory.
 *
 * Lifetime: made by xvio_xb_dev_open(), freed by xvio_xb_dev_close() (which
 * runs the teardown callback if the data path is up and removes its
 * watches, but leaves xenstore as it is so a restarted process can take
 * over).  The xs_handle and the watcher must outlive the device.
 * Single-threaded: see the header comment.
 */
struct xvio_xb_dev;

struct xvio_xb_ops {
	/*
	 * SETUP and CONNECT.  `t` is the pass's transaction: read the peer's
	 * keys and write your own through it, so they are published in the
	 * same commit as the state switch (a frontend's ring keys appear
	 * together with Initialised).  If the commit fails because someone
	 * wrote meanwhile, teardown is called and the pass is planned again,
	 * so the callbacks may run several times.  Return < 0 (with *err
	 * filled) on failure, after undoing their own partial work; the
	 * failure becomes the device's error node and the device closes (see
	 * xvio_xb_dev_fail for how setup and connect failures differ).
	 */
	int (*setup)(struct xvio_xb_dev *d, xs_transaction_t t, void *arg,
	             struct xvio_err *err);
	int (*connect)(struct xvio_xb_dev *d, xs_transaction_t t, void *arg,
	               struct xvio_err *err);
	/* Undo connect and setup; must not fail.  Called only if either ran. */
	void (*teardown)(struct xvio_xb_dev *d, void *arg);
	/*
	 * Optional: the device reached RELEASE while processing a watch event.
	 * The callback may close the device (it is the last use of d).
	 */
	void (*released)(struct xvio_xb_dev *d, void *arg);
};

/*
 * Open the device whose own directory is `path` (absolute
 * /local/domain/N/..., or relative to the caller's domain home).  The peer
 * is named by the own directory's "frontend"/"frontend-id" (backend role)
 * or "backend"/"backend-id" (frontend role); the peer path must lie under
 * /local/domain/<peer-id>/ and be a clean path (checked: the toolstack
 * wrote it, but a wrong value would point us at someone else's nodes).
 * READY starts set and the driver's online wish true; ONLINE itself is
 * computed by each pass from that wish and, for a backend, the toolstack's
 * "online" node (absent counts as 1).  Nothing is written; call
 * xvio_xb_dev_process() or xvio_xb_dev_watch() to start.
 */
int xvio_xb_dev_open(struct xs_handle *h, enum xvio_xb_role role, const char *path,
                     const struct xvio_xb_ops *ops, void *arg,
                     struct xvio_xb_dev **out, struct xvio_err *err);
void xvio_xb_dev_close(struct xvio_xb_dev *d);

/*
 * Watch the own state (and "online" for a backend) and the peer state;
 * every event runs xvio_xb_dev_process().  Watches fire once at once.
 */
int xvio_xb_dev_watch(struct xvio_xb_dev *d, struct xvio_watcher *w,
                      struct xvio_err *err);

/*
 * Re-read both states and run the machine to its fixed point, one xenstore
 * transaction per step (a step that races with a write of the peer or the
 * toolstack is retried on fresh values).  A state node that is missing or
 * that we may not read (EACCES: how a removed device looks from a guest,
 * since xenstore hides what lies below directories it may not read) counts
 * as Unknown: an own Unknown state releases the device.  Returns 0,
 * XVIO_XB_RELEASED when the device is finished (close it), or -errno when
 * xenstore itself failed (the detail is in xvio_xb_dev_last_error()).
 * A peer state that is not a XenbusState is a peer fault (EPROTO).
 */
#define XVIO_XB_RELEASED 1
int xvio_xb_dev_process(struct xvio_xb_dev *d);

/*
 * Report a fatal error: write the error node (the first error of a session
 * wins), mark the device FAILED (dev_fail: ours, sticky) or PEER_FAULT
 * (dev_peer_fault: the peer broke the protocol, e.g. a bad ring index), and
 * process, which tears the data path down and switches to Closing; from
 * inside a callback the running process picks it up instead.  The caller
 * must not touch the data path afterwards.  Returns
 * xvio_xb_dev_process()'s result (or 0 inside a callback).
 *
 * Failures of the setup/connect callbacks are classified the same way:
 * setup failing is FAILED, connect failing is PEER_FAULT (what it reads and
 * maps comes from the peer).  A peer state that is not a XenbusState is
 * PEER_FAULT; an own state that is not one is FAILED.
 */
int xvio_xb_dev_fail(struct xvio_xb_dev *d, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int xvio_xb_dev_peer_fault(struct xvio_xb_dev *d, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Clear FAILED and PEER_FAULT and process: the device may set up again. */
int xvio_xb_dev_retry(struct xvio_xb_dev *d);

/* Set the online wish / READY and process. */
int xvio_xb_dev_set_online(struct xvio_xb_dev *d, bool online);
int xvio_xb_dev_set_ready(struct xvio_xb_dev *d, bool ready);

struct xs_handle *xvio_xb_dev_xs(const struct xvio_xb_dev *d);
enum xvio_xb_role xvio_xb_dev_role(const struct xvio_xb_dev *d);
const char *xvio_xb_dev_path(const struct xvio_xb_dev *d);
const char *xvio_xb_dev_peer_path(const struct xvio_xb_dev *d);
xvio_domid_t xvio_xb_dev_peer_id(const struct xvio_xb_dev *d);
/* As last read by process. */
enum xenbus_state xvio_xb_dev_state(const struct xvio_xb_dev *d);
enum xenbus_state xvio_xb_dev_peer_state(const struct xvio_xb_dev *d);
unsigned xvio_xb_dev_flags(const struct xvio_xb_dev *d);
/*
 * The device's last error: the failure reported this session (the first
 * one wins) or, after process returned -errno, the xenstore failure.
 * err is 0 if none.
 */
const struct xvio_err *xvio_xb_dev_last_error(const struct xvio_xb_dev *d);

#endif /* XVIO_XENBUS_H */
