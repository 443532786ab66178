/* SPDX-License-Identifier: MIT */
/*
 * The state machine bound to xenstore: a device object that reads its own
 * and its peer's state, runs xvio_xb_step() to a fixed point and performs
 * the actions through the driver's callbacks; plus the Xen error-node
 * convention.
 *
 * Every pass re-reads both states instead of trusting a watch event or a
 * cached value: events may be spurious or coalesced, and the toolstack
 * writes our own state too (removal sets Closing).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenbus.h"

#include <xen/xen.h>

#define PATH_BUF (XENSTORE_ABS_PATH_MAX + 1)
#define DOMAIN_PREFIX "/local/domain/"

struct xvio_xb_dev {
	struct xs_handle *xs;
	enum xvio_xb_role role;
	char *path;
	char *peer_path;
	xvio_domid_t peer_id;
	const struct xvio_xb_ops *ops;
	void *arg;

	unsigned flags;      /* all XVIO_XB_* but ONLINE, which refresh computes */
	bool want_online;    /* the driver's wish; ANDed with "online" for backends */
	enum xenbus_state own, peer;
	bool in_process;
	bool unpublished;    /* this pass set up or connected, not yet committed */
	int outcome;         /* of the last pass attempt */
	bool released, release_notified;
	struct xvio_err err;

	struct xvio_watcher *watcher;
	int watch_ids[3];
	unsigned nwatch;
};

/* ---- error nodes ---- */

/*
 * Split an absolute /local/domain/<n>/<rel> path: returns the length of
 * the "/local/domain/<n>" prefix, or -EINVAL.
 */
static int domain_prefix_len(const char *path)
{
	size_t p = strlen(DOMAIN_PREFIX), d = p;

	if (strncmp(path, DOMAIN_PREFIX, p) != 0)
		return -EINVAL;
	while (path[d] >= '0' && path[d] <= '9')
		d++;
	if (d == p || d - p > 5 || path[d] != '/' || path[d + 1] == '\0')
		return -EINVAL;
	return (int)d;
}

int xvio_xs_error_dir(char *buf, size_t size, const char *dev_path)
{
	int n, pre;

	if (!buf || !dev_path || !*dev_path)
		return -EINVAL;
	if (dev_path[0] == '/') {
		pre = domain_prefix_len(dev_path);
		if (pre < 0)
			return pre;
		n = snprintf(buf, size, "%.*s/error%s", pre, dev_path, dev_path + pre);
	} else {
		n = snprintf(buf, size, "error/%s", dev_path);
	}
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size || n > XENSTORE_ABS_PATH_MAX - 6)
		return -ENAMETOOLONG;
	return n;
}

int xvio_xs_report_error(struct xs_handle *h, xs_transaction_t t, const char *dev_path,
                         int errnum, const char *msg, struct xvio_err *err)
{
	char dir[PATH_BUF];
	int rc = xvio_xs_error_dir(dir, sizeof(dir), dev_path);

	if (rc < 0)
		return xvio_err_set(err, -rc, "%s: no error path for this device",
		                    dev_path ? dev_path : "(null)");
	return xvio_xs_printf(h, t, dir, "error", err, "%d %s", errnum,
	                      msg ? msg : "");
}

int xvio_xs_clear_error(struct xs_handle *h, xs_transaction_t t, const char *dev_path,
                        struct xvio_err *err)
{
	char dir[PATH_BUF];
	int rc = xvio_xs_error_dir(dir, sizeof(dir), dev_path);

	if (rc < 0)
		return xvio_err_set(err, -rc, "%s: no error path for this device",
		                    dev_path ? dev_path : "(null)");
	return xvio_xs_rm(h, t, dir, NULL, err);
}

/* ---- state nodes ---- */

int xvio_xb_read_state(struct xs_handle *h, xs_transaction_t t, const char *dir,
                       enum xenbus_state *out, struct xvio_err *err)
{
	char path[PATH_BUF];
	unsigned int len = 0;
	char *v;
	int rc, e;

	rc = xvio_xs_path(path, sizeof(path), dir, "state");
	if (rc < 0)
		return xvio_err_set(err, -rc, "state path too long");
	errno = 0;
	v = xs_read(h, t, path, &len);
	if (!v) {
		e = errno ? errno : EIO;
		if (e == ENOENT)
			return xvio_err_set(err, ENOENT, "%s: missing", path);
		return xvio_err_set(err, e, "%s: read failed: %s", path, strerror(e));
	}
	rc = xvio_xb_parse_state(path, v, len, out, err);
	free(v);
	return rc;
}

struct switch_arg {
	const char *dir;
	enum xenbus_state state;
};

static int switch_txn(struct xs_handle *h, xs_transaction_t t, void *arg,
                      struct xvio_err *err)
{
	const struct switch_arg *a = arg;
	enum xenbus_state cur;
	int rc;

	rc = xvio_xb_read_state(h, t, a->dir, &cur, err);
	if (rc == -ENOENT)
		return rc; /* never recreate a removed device directory */
	if (rc == 0 && cur == a->state)
		return 0;
	/* A junk value (-EPROTO) is simply overwritten. */
	if (rc < 0 && rc != -EPROTO)
		return rc;
	rc = xvio_xs_printf(h, t, a->dir, "state", err, "%d", (int)a->state);
	return rc < 0 ? rc : 1;
}

int xvio_xb_switch_state(struct xs_handle *h, const char *dir, enum xenbus_state state,
                         struct xvio_err *err)
{
	struct switch_arg a = { dir, state };

	if ((unsigned)state > XVIO_XB_STATE_MAX)
		return xvio_err_set(err, EINVAL, "%s: invalid state %d", dir, (int)state);
	return xvio_xs_transaction(h, switch_txn, &a, err);
}

/* ---- device objects ---- */

static bool path_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '@' || c == '/';
}

/* A toolstack-written peer path: /local/domain/<peer_id>/<rel>, clean. */
static int check_peer_path(const char *what, const char *p, xvio_domid_t peer_id,
                           struct xvio_err *err)
{
	char want[32], q[200];
	size_t n = strlen(p);

	snprintf(want, sizeof(want), DOMAIN_PREFIX "%u/", (unsigned)peer_id);
	xvio_quote(q, sizeof(q), p, n);
	if (strncmp(p, want, strlen(want)) != 0 || n == strlen(want))
		return xvio_err_set(err, EPROTO, "%s: \"%s\" is not below %s", what, q, want);
	for (size_t i = 0; i < n; i++) {
		if (!path_char_ok(p[i]) || (p[i] == '/' && (p[i + 1] == '/' || p[i + 1] == '\0')))
			return xvio_err_set(err, EPROTO, "%s: \"%s\" is not a clean path",
			                    what, q);
	}
	return 0;
}

static int read_peer(struct xvio_xb_dev *d, struct xvio_err *err)
{
	bool be = d->role == XVIO_XB_BACKEND;
	const char *key = be ? "frontend" : "backend";
	const char *id_key = be ? "frontend-id" : "backend-id";
	char what[PATH_BUF];
	uint64_t id;
	int rc;

	rc = xvio_xs_read_u64(d->xs, XBT_NULL, d->path, id_key, 0, 0,
	                      DOMID_FIRST_RESERVED - 1, &id, err);
	if (rc < 0)
		return rc;
	d->peer_id = (xvio_domid_t)id;
	rc = xvio_xs_read_strdup(d->xs, XBT_NULL, d->path, key, XENSTORE_ABS_PATH_MAX - 16,
	                         &d->peer_path, err);
	if (rc < 0)
		return rc;
	xvio_xs_path(what, sizeof(what), d->path, key);
	return check_peer_path(what, d->peer_path, d->peer_id, err);
}

static int check_own_path(const char *path, struct xvio_err *err)
{
	size_t n = path ? strlen(path) : 0;

	if (n == 0 || n > XENSTORE_ABS_PATH_MAX - 32)
		return xvio_err_set(err, EINVAL, "device path empty or too long");
	if (path[0] == '/' && domain_prefix_len(path) < 0)
		return xvio_err_set(err, EINVAL, "%s: not below /local/domain/<id>/", path);
	if (path[n - 1] == '/')
		return xvio_err_set(err, EINVAL, "%s: trailing '/'", path);
	return 0;
}

int xvio_xb_dev_open(struct xs_handle *h, enum xvio_xb_role role, const char *path,
                     const struct xvio_xb_ops *ops, void *arg,
                     struct xvio_xb_dev **out, struct xvio_err *err)
{
	struct xvio_xb_dev *d;
	int rc;

	if (!h || !ops || !ops->setup || !ops->connect || !ops->teardown || !out ||
	    (role != XVIO_XB_FRONTEND && role != XVIO_XB_BACKEND))
		return xvio_err_set(err, EINVAL, "device open: invalid argument");
	rc = check_own_path(path, err);
	if (rc < 0)
		return rc;
	d = calloc(1, sizeof(*d));
	if (!d)
		return xvio_err_set(err, ENOMEM, "%s: out of memory", path);
	d->xs = h;
	d->role = role;
	d->ops = ops;
	d->arg = arg;
	d->flags = XVIO_XB_READY;
	d->want_online = true;
	d->path = strdup(path);
	if (!d->path) {
		free(d);
		return xvio_err_set(err, ENOMEM, "%s: out of memory", path);
	}
	rc = read_peer(d, err);
	if (rc < 0) {
		free(d->peer_path);
		free(d->path);
		free(d);
		return rc;
	}
	*out = d;
	return 0;
}

static void teardown(struct xvio_xb_dev *d)
{
	if (d->flags & (XVIO_XB_PREPARED | XVIO_XB_CONNECTED))
		d->ops->teardown(d, d->arg);
	d->flags &= ~(XVIO_XB_PREPARED | XVIO_XB_CONNECTED);
}

void xvio_xb_dev_close(struct xvio_xb_dev *d)
{
	if (!d)
		return;
	teardown(d);
	for (unsigned i = 0; i < d->nwatch; i++)
		xvio_watch_remove(d->watcher, d->watch_ids[i]);
	free(d->peer_path);
	free(d->path);
	free(d);
}

#define FAULTS (XVIO_XB_FAILED | XVIO_XB_PEER_FAULT)

/*
 * Latch the first failure of a session (kind FAILED or PEER_FAULT) and
 * write it to the error node.
 */
static void record_fail(struct xvio_xb_dev *d, unsigned kind, int errnum, const char *msg)
{
	if (d->flags & FAULTS)
		return;
	d->flags |= kind;
	xvio_err_set(&d->err, errnum, "%s", msg);
	/* Nothing more to do if even the report fails: we close anyway. */
	xvio_xs_report_error(d->xs, XBT_NULL, d->path, errnum, msg, NULL);
}

static int xs_failure(struct xvio_xb_dev *d, int rc, const struct xvio_err *e)
{
	xvio_err_set(&d->err, -rc, "%s", e->err ? e->msg : strerror(-rc));
	return rc;
}

/*
 * Read own state, peer state and (backend) "online" into d, in the pass's
 * transaction.  Bad values are faults, not errors: the pass goes on.
 */
static int refresh(struct xvio_xb_dev *d, xs_transaction_t t)
{
	struct xvio_err e = { 0 };
	bool online = true;
	int rc;

	/*
	 * Missing, or unreadable (EACCES: xenstore hides whether a node
	 * exists below a directory we may not read, which is what a removed
	 * device looks like from a guest): no such node for us, Unknown.
	 */
	rc = xvio_xb_read_state(d->xs, t, d->path, &d->own, &e);
	if (rc == -ENOENT || rc == -EACCES) {
		d->own = XenbusStateUnknown;
	} else if (rc == -EPROTO) {
		record_fail(d, XVIO_XB_FAILED, EPROTO, e.msg);
		/* Stand-in for "not one of ours", from which a failed device
		 * writes Closing at once, replacing the junk. */
		d->own = XenbusStateReconfiguring;
	} else if (rc < 0) {
		return rc;
	}

	rc = xvio_xb_read_state(d->xs, t, d->peer_path, &d->peer, &e);
	if (rc == -ENOENT || rc == -EACCES) {
		d->peer = XenbusStateUnknown;
	} else if (rc == -EPROTO) {
		/* A peer writing garbage is a protocol violation. */
		record_fail(d, XVIO_XB_PEER_FAULT, EPROTO, e.msg);
		d->peer = XenbusStateUnknown;
	} else if (rc < 0) {
		return rc;
	}

	if (d->role == XVIO_XB_BACKEND) {
		/* Written by the toolstack; absent means online (libxl writes 1). */
		rc = xvio_xs_read_bool(d->xs, t, d->path, "online", &online, &e);
		if (rc == -ENOENT) {
			online = true;
		} else if (rc == -EINVAL) {
			record_fail(d, XVIO_XB_FAILED, EPROTO, e.msg);
			online = false;
		} else if (rc < 0) {
			return rc;
		}
	}
	if (online && d->want_online)
		d->flags |= XVIO_XB_ONLINE;
	else
		d->flags &= ~XVIO_XB_ONLINE;
	return 0;
}

enum outcome { IDLE, ACTED, RELEASED };

/*
 * One pass, run as one xenstore transaction: read both states, step,
 * perform the actions (callbacks read and write keys through t) and write
 * the new own state.  If the peer or the toolstack writes a node we read
 * before the commit, the commit fails with EAGAIN and xvio_xs_transaction
 * runs the pass again on fresh values.  That atomicity is what the model
 * check (tests/xenbus/test_state_model.c) relies on: without it a side can
 * miss a whole session of the peer (3 -> 6 -> 3 looks like 3).
 */
static int pass_txn(struct xs_handle *h, xs_transaction_t t, void *arg,
                    struct xvio_err *err)
{
	struct xvio_xb_dev *d = arg;
	struct xvio_xb_step st;
	unsigned faults_before;
	struct xvio_err e = { 0 };
	int rc;

	/* A retried pass: what the lost attempt set up was never published. */
	if (d->unpublished) {
		teardown(d);
		d->unpublished = false;
	}
	rc = refresh(d, t);
	if (rc < 0)
		return rc;
	rc = xvio_xb_step(d->role, d->own, d->peer, d->flags, &st);
	if (rc < 0)
		return rc;
	d->outcome = st.actions ? ACTED : IDLE;
	faults_before = d->flags & FAULTS;

	if (st.actions & XVIO_XB_ACT_TEARDOWN)
		teardown(d);
	if (st.actions & XVIO_XB_ACT_SETUP) {
		/* A new session: the previous one's error no longer applies. */
		d->flags &= ~XVIO_XB_PEER_FAULT;
		faults_before = d->flags & FAULTS;
		xvio_xs_clear_error(d->xs, t, d->path, NULL);
		xvio_err_clear(&d->err);
		rc = d->ops->setup(d, t, d->arg, &e);
		if (rc < 0) {
			record_fail(d, XVIO_XB_FAILED, -rc, e.err ? e.msg : strerror(-rc));
			return 0;
		}
		d->flags |= XVIO_XB_PREPARED;
		d->unpublished = true;
	}
	if (st.actions & XVIO_XB_ACT_CONNECT) {
		rc = d->ops->connect(d, t, d->arg, &e);
		if (rc < 0) {
			record_fail(d, XVIO_XB_PEER_FAULT, -rc, e.err ? e.msg : strerror(-rc));
			return 0;
		}
		d->flags |= XVIO_XB_CONNECTED;
		d->unpublished = true;
	}
	/* A callback failed the device itself: re-plan instead of switching. */
	if ((d->flags & FAULTS) != faults_before)
		return 0;
	/* The own node exists: it was read in this transaction. */
	if (st.actions & XVIO_XB_ACT_SWITCH) {
		rc = xvio_xs_printf(h, t, d->path, "state", err, "%d", (int)st.next);
		if (rc < 0)
			return rc;
	}
	if (st.actions & XVIO_XB_ACT_RELEASE)
		d->outcome = RELEASED;
	return 0;
}

/*
 * Enough passes for the machine's fixed point plus a failure on the way;
 * a peer that keeps changing meanwhile is handled by its next watch event.
 */
#define MAX_PASSES (2 * XVIO_XB_MAX_STEPS + 2)

static int run(struct xvio_xb_dev *d)
{
	for (int i = 0; i < MAX_PASSES; i++) {
		struct xvio_err e = { 0 };
		int rc;

		d->outcome = IDLE;
		rc = xvio_xs_transaction(d->xs, pass_txn, d, &e);
		if (d->unpublished) {
			/* Committed: published.  Failed for good: undo. */
			if (rc < 0)
				teardown(d);
			d->unpublished = false;
		}
		if (rc < 0)
			return xs_failure(d, rc, &e);
		if (d->outcome == IDLE)
			return 0;
		if (d->outcome == RELEASED) {
			d->released = true;
			return XVIO_XB_RELEASED;
		}
	}
	return 0;
}

int xvio_xb_dev_process(struct xvio_xb_dev *d)
{
	int rc;

	if (!d)
		return -EINVAL;
	if (d->released)
		return XVIO_XB_RELEASED;
	/* Called from a callback: the running pass re-reads everything anyway. */
	if (d->in_process)
		return 0;
	d->in_process = true;
	rc = run(d);
	d->in_process = false;
	return rc;
}

static int fail(struct xvio_xb_dev *d, unsigned kind, int errnum, const char *fmt,
                va_list ap) __attribute__((format(printf, 4, 0)));

static int fail(struct xvio_xb_dev *d, unsigned kind, int errnum, const char *fmt,
                va_list ap)
{
	char msg[XVIO_ERR_MSG_MAX];

	if (!d)
		return -EINVAL;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	record_fail(d, kind, errnum > 0 ? errnum : EIO, msg);
	return xvio_xb_dev_process(d);
}

int xvio_xb_dev_fail(struct xvio_xb_dev *d, int errnum, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = fail(d, XVIO_XB_FAILED, errnum, fmt, ap);
	va_end(ap);
	return rc;
}

int xvio_xb_dev_peer_fault(struct xvio_xb_dev *d, int errnum, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = fail(d, XVIO_XB_PEER_FAULT, errnum, fmt, ap);
	va_end(ap);
	return rc;
}

int xvio_xb_dev_retry(struct xvio_xb_dev *d)
{
	if (!d)
		return -EINVAL;
	d->flags &= ~FAULTS;
	return xvio_xb_dev_process(d);
}

int xvio_xb_dev_set_online(struct xvio_xb_dev *d, bool online)
{
	if (!d)
		return -EINVAL;
	d->want_online = online;
	return xvio_xb_dev_process(d);
}

int xvio_xb_dev_set_ready(struct xvio_xb_dev *d, bool ready)
{
	if (!d)
		return -EINVAL;
	if (ready)
		d->flags |= XVIO_XB_READY;
	else
		d->flags &= ~XVIO_XB_READY;
	return xvio_xb_dev_process(d);
}

/* ---- watches ---- */

static void on_watch(struct xvio_watcher *w, int id, const char *path, void *arg)
{
	struct xvio_xb_dev *d = arg;

	if (xvio_xb_dev_process(d) == XVIO_XB_RELEASED && !d->release_notified) {
		d->release_notified = true;
		if (d->ops->released)
			d->ops->released(d, d->arg); /* may free d: last use */
	}
}

int xvio_xb_dev_watch(struct xvio_xb_dev *d, struct xvio_watcher *w, struct xvio_err *err)
{
	char paths[3][PATH_BUF];
	unsigned n = 0;
	int rc;

	if (!d || !w || d->watcher)
		return xvio_err_set(err, EINVAL, "device watch: invalid argument");
	xvio_xs_path(paths[n++], PATH_BUF, d->path, "state");
	xvio_xs_path(paths[n++], PATH_BUF, d->peer_path, "state");
	if (d->role == XVIO_XB_BACKEND)
		xvio_xs_path(paths[n++], PATH_BUF, d->path, "online");
	d->watcher = w;
	for (unsigned i = 0; i < n; i++) {
		rc = xvio_watch_add(w, paths[i], on_watch, d, err);
		if (rc < 0) {
			while (d->nwatch)
				xvio_watch_remove(w, d->watch_ids[--d->nwatch]);
			d->watcher = NULL;
			return rc;
		}
		d->watch_ids[d->nwatch++] = rc;
	}
	return 0;
}

/* ---- accessors ---- */

struct xs_handle *xvio_xb_dev_xs(const struct xvio_xb_dev *d)
{
	return d->xs;
}

enum xvio_xb_role xvio_xb_dev_role(const struct xvio_xb_dev *d)
{
	return d->role;
}

const char *xvio_xb_dev_path(const struct xvio_xb_dev *d)
{
	return d->path;
}

const char *xvio_xb_dev_peer_path(const struct xvio_xb_dev *d)
{
	return d->peer_path;
}

xvio_domid_t xvio_xb_dev_peer_id(const struct xvio_xb_dev *d)
{
	return d->peer_id;
}

enum xenbus_state xvio_xb_dev_state(const struct xvio_xb_dev *d)
{
	return d->own;
}

enum xenbus_state xvio_xb_dev_peer_state(const struct xvio_xb_dev *d)
{
	return d->peer;
}

unsigned xvio_xb_dev_flags(const struct xvio_xb_dev *d)
{
	return d->flags;
}

const struct xvio_err *xvio_xb_dev_last_error(const struct xvio_xb_dev *d)
{
	return &d->err;
}
