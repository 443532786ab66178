/* SPDX-License-Identifier: MIT */
/*
 * The frontend role of the transport (docs/protocol.md §2-§7).
 *
 * Lifecycle, on the xenbus device object (each step one xenstore
 * transaction):
 *   setup     (backend at InitWait) read §2.1 once and validate it, choose
 *             features, mode, queues and sizes, create the area on the
 *             first session (kept afterwards: in-flight requests live in
 *             it), grant fresh zeroed rings, allocate unbound ports, write
 *             §2.2 in the transaction that writes Initialised;
 *   connect   (backend at Connected) start I/O after the commit: resubmit
 *             kept requests in order, then ops->connected;
 *   teardown  harvest the used ring once more, take back what is still in
 *             flight (kept for the next session), unbind, end the ring
 *             grants if the backend let go, else abandon them.
 *
 * A failed setup (the backend's values, or our own trouble) leaves the
 * device FAILED and Closed until the backend writes something new (see
 * arm_retry).  Discovery, the xenbus callbacks and the device objects
 * live here; requests and queues in xport_fio.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xport_front_impl.h"

/* ---- reading the backend's offer (§2.1, once per session) ---- */

struct offer {
	uint64_t features;
	uint32_t max_queues, max_qsize, max_pages;
};

static int check_pow2(const char *dir, const char *key, uint32_t v, struct xvio_err *err)
{
	if (v & (v - 1))
		return xvio_err_set(err, EINVAL, "%s/%s: \"%u\" is not a power of two", dir, key, v);
	return 0;
}

/* Is `mode` one of the space-separated words of `list`? */
static bool has_word(const char *list, const char *mode)
{
	size_t n = strlen(mode);

	for (const char *p = list; *p;) {
		const char *e = strchr(p, ' ');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && memcmp(p, mode, n) == 0)
			return true;
		p += len;
		if (*p)
			p++;
	}
	return false;
}

static const char *mode_name(enum xvio_xport_mode m)
{
	return m == XVIO_XPORT_GRANT ? "grant" : "data-area";
}

static int read_offer(struct xvio_xport_fdev *d, xs_transaction_t t, const char *be,
                      struct offer *o, struct xvio_err *err)
{
	struct xs_handle *xs = xvio_xport_ctx_xs(d->f->ctx);
	uint32_t id;
	char modes[128], q[160];
	int rc;

	rc = xvio_xs_read_u32(xs, t, be, "virtio-device", 0, UINT32_MAX, &id, err);
	if (rc == 0 && id != d->f->p.virtio_id)
		rc = xvio_err_set(err, ENODEV, "%s/virtio-device: \"%u\" is not device %u", be,
		                  id, d->f->p.virtio_id);
	if (rc == 0)
		rc = xvio_xs_read_u64(xs, t, be, "virtio-features", 0, 0, UINT64_MAX,
		                      &o->features, err);
	if (rc == 0 && !(o->features & XVIO_XPORT_F_VERSION_1))
		rc = xvio_err_set(err, EINVAL, "%s/virtio-features: \"%llu\" lacks VERSION_1 "
		                  "(bit 32)", be, (unsigned long long)o->features);
	if (rc == 0)
		rc = xvio_xs_read_u32(xs, t, be, "max-queues", 1, XVIO_XPORT_MAX_QUEUES,
		                      &o->max_queues, err);
	if (rc == 0)
		rc = xvio_xs_read_u32(xs, t, be, "max-queue-size", 2, XVIO_VQ_MAX_SIZE,
		                      &o->max_qsize, err);
	if (rc == 0)
		rc = check_pow2(be, "max-queue-size", o->max_qsize, err);
	if (rc == 0)
		rc = xvio_xs_read_u32(xs, t, be, "max-data-area-pages", 1,
		                      XVIO_XPORT_MAX_AREA_PAGES, &o->max_pages, err);
	if (rc == 0)
		rc = xvio_xs_read_str(xs, t, be, "buffer-modes", modes, sizeof(modes), err);
	if (rc >= 0 && !has_word(modes, mode_name(d->f->p.mode)))
		rc = xvio_err_set(err, EOPNOTSUPP, "%s/buffer-modes: \"%s\" does not offer %s",
		                  be, xvio_quote(q, sizeof(q), modes, strlen(modes)),
		                  mode_name(d->f->p.mode));
	return rc < 0 ? rc : 0;
}

static unsigned pow2_floor(unsigned v)
{
	unsigned p = 1;

	while (p * 2 <= v)
		p *= 2;
	return p;
}

/* Our choices within the backend's limits. */
static void negotiate(struct xvio_xport_fdev *d, const struct offer *o)
{
	const struct xvio_xport_front_params *p = &d->f->p;
	uint64_t mask = XVIO_XPORT_F_DEVICE_MASK | XVIO_XPORT_F_INDIRECT | XVIO_XPORT_F_EVENT_IDX;
	unsigned nq = p->num_queues ? p->num_queues : 1;
	unsigned qs = p->queue_size ? pow2_floor(p->queue_size) : 256;

	d->features = (p->features & o->features & mask) | XVIO_XPORT_F_VERSION_1;
	d->nq = nq < o->max_queues ? nq : o->max_queues;
	qs = qs < 2 ? 2 : qs;
	d->qsize = qs < o->max_qsize ? qs : o->max_qsize;
}

static unsigned wanted_pages(const struct xvio_xport_fdev *d, const struct offer *o)
{
	unsigned pages = d->f->p.area_pages ? d->f->p.area_pages : 1024;

	if (pages > XVIO_XPORT_MAX_AREA_PAGES)
		pages = XVIO_XPORT_MAX_AREA_PAGES;
	if (!grant_mode(d) && pages > o->max_pages)
		pages = o->max_pages;
	return pages;
}

/* ---- writing our keys (§2.2) ---- */

/* Remove what an earlier session wrote, so no stale queue or directory
 * key survives into this one (same transaction: nobody sees the gap). */
static int clear_keys(struct xs_handle *xs, xs_transaction_t t, const char *dir,
                      struct xvio_err *err)
{
	unsigned n = 0;
	char **names = xs_directory(xs, t, dir, &n);
	int rc = 0;

	if (!names)
		return errno == ENOENT ? 0 : -(errno ? errno : EIO);
	for (unsigned i = 0; i < n && rc == 0; i++) {
		if (strncmp(names[i], "queue-", 6) == 0 || strncmp(names[i], "data-area-", 10) == 0)
			rc = xvio_xs_rm(xs, t, dir, names[i], err);
	}
	free(names);
	return rc;
}

static int write_queue_keys(struct xs_handle *xs, xs_transaction_t t, const char *dir,
                            const struct fq *q, struct xvio_err *err)
{
	char key[64];
	int rc;

	snprintf(key, sizeof(key), "queue-%u/size", q->idx);
	rc = xvio_xs_printf(xs, t, dir, key, err, "%u", q->size);
	for (unsigned k = 0; rc == 0 && k < q->npages; k++) {
		snprintf(key, sizeof(key), "queue-%u/ring-ref%u", q->idx, k);
		rc = xvio_xs_printf(xs, t, dir, key, err, "%u", q->refs[k]);
	}
	if (rc == 0) {
		snprintf(key, sizeof(key), "queue-%u/event-channel", q->idx);
		rc = xvio_xs_printf(xs, t, dir, key, err, "%u", q->port);
	}
	return rc;
}

static int write_keys(struct xvio_xport_fdev *d, xs_transaction_t t, struct xvio_err *err)
{
	struct xs_handle *xs = xvio_xport_ctx_xs(d->f->ctx);
	int rc = clear_keys(xs, t, d->path, err);

	if (rc == 0)
		rc = xvio_xs_printf(xs, t, d->path, "virtio-features", err, "%llu",
		                    (unsigned long long)d->features);
	if (rc == 0)
		rc = xvio_xs_printf(xs, t, d->path, "num-queues", err, "%u", d->nq);
	if (rc == 0)
		rc = xvio_xs_write(xs, t, d->path, "buffer-mode", mode_name(d->f->p.mode), err);
	if (rc == 0 && !grant_mode(d)) {
		rc = xvio_xs_printf(xs, t, d->path, "data-area-pages", err, "%u", d->area.pages);
		for (unsigned k = 0; rc == 0 && k < d->area.ndir; k++) {
			char key[32];

			snprintf(key, sizeof(key), "data-area-dir-ref%u", k);
			rc = xvio_xs_printf(xs, t, d->path, key, err, "%u", d->area.dir_refs[k]);
		}
	}
	for (unsigned i = 0; rc == 0 && i < d->nq; i++)
		rc = write_queue_keys(xs, t, d->path, d->q[i], err);
	return rc;
}

/* ---- xenbus callbacks ---- */

/* The area is kept across sessions; a new backend must accept it. */
static int ensure_area(struct xvio_xport_fdev *d, const struct offer *o, struct xvio_err *err)
{
	unsigned pages = wanted_pages(d, o);

	if (d->area.pages) {
		if (!grant_mode(d) && d->area.pages > o->max_pages)
			return xvio_err_set(err, ERANGE, "%s/max-data-area-pages: %u is below the "
			                    "%u pages of the area in use", xvio_xb_dev_peer_path(d->xb),
			                    o->max_pages, d->area.pages);
		return 0;
	}
	return xport_area_create(&d->area, xvio_xport_ctx_plat(d->f->ctx),
	                         xvio_xb_dev_peer_id(d->xb), pages, !grant_mode(d), err);
}

static int setup_session(struct xvio_xport_fdev *d, xs_transaction_t t, struct xvio_err *err)
{
	const char *be = xvio_xb_dev_peer_path(d->xb);
	struct offer o;
	int rc;

	rc = read_offer(d, t, be, &o, err);
	if (rc < 0)
		return rc;
	negotiate(d, &o);
	rc = ensure_area(d, &o, err);
	for (unsigned i = 0; rc == 0 && i < d->nq; i++)
		rc = fq_create(d, i, &d->q[i], err);
	if (rc == 0)
		rc = write_keys(d, t, err);
	if (rc == 0 && d->f->p.ops->setup)
		rc = d->f->p.ops->setup(d, t, be, err);
	return rc;
}

/* ---- retrying after a failed setup ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t hash_node(struct xs_handle *xs, uint64_t h, const char *dir, const char *key)
{
	char path[XPORT_PATH_MAX];
	unsigned int len = 0;
	char *v;

	if (xvio_xs_path(path, sizeof(path), dir, key) < 0)
		return h;
	v = xs_read(xs, XBT_NULL, path, &len);
	h = fnv(h, path, strlen(path) + 1);
	h = v ? fnv(h, v, len) : fnv(h, "\xff", 1);
	free(v);
	return h;
}

/* What the backend offers, state and config included, as one number. */
static uint64_t backend_fingerprint(struct xvio_xport_fdev *d)
{
	static const char *const keys[] = {
		"state", "virtio-device", "virtio-features", "max-queues", "max-queue-size",
		"buffer-modes", "max-data-area-pages", "config-generation", NULL,
	};
	struct xs_handle *xs = xvio_xport_ctx_xs(d->f->ctx);
	const char *be = xvio_xb_dev_peer_path(d->xb);
	char config[XPORT_PATH_MAX];
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned n = 0;
	char **names;

	for (const char *const *k = keys; *k; k++)
		h = hash_node(xs, h, be, *k);
	if (xvio_xs_path(config, sizeof(config), be, "config") < 0)
		return h;
	names = xs_directory(xs, XBT_NULL, config, &n);
	for (unsigned i = 0; names && i < n; i++)
		h = hash_node(xs, h, config, names[i]);
	free(names);
	return h;
}

static void stop_retry_watch(struct xvio_xport_fdev *d)
{
	if (d->retry_watch > 0)
		xvio_watch_remove(xvio_xport_ctx_watcher(d->f->ctx), d->retry_watch);
	d->retry_watch = 0;
}

static void dev_remove(struct xvio_xport_fdev *d);

/* The backend wrote something: if its offer changed, try again. */
static void on_backend_change(struct xvio_watcher *w, int id, const char *path, void *arg)
{
	struct xvio_xport_fdev *d = arg;

	if (backend_fingerprint(d) == d->refused_fp)
		return;
	stop_retry_watch(d);
	if (xvio_xb_dev_retry(d->xb) == XVIO_XB_RELEASED)
		dev_remove(d);
}

/*
 * A setup failed (bad backend values, or our own trouble): the device is
 * FAILED, which keeps it closed.  Retrying at once would loop as long as
 * the backend sits in InitWait with the same values, so we retry when the
 * backend writes something different: a peer that makes us fail pays
 * with its own writes.  Watching after taking the fingerprint catches a
 * change in between (the registration event compares too).
 */
static void arm_retry(struct xvio_xport_fdev *d)
{
	int rc;

	if (d->retry_watch > 0)
		return;
	d->refused_fp = backend_fingerprint(d);
	rc = xvio_watch_add(xvio_xport_ctx_watcher(d->f->ctx), xvio_xb_dev_peer_path(d->xb),
	                    on_backend_change, d, NULL);
	d->retry_watch = rc > 0 ? rc : 0;
}

static int fe_setup(struct xvio_xb_dev *xb, xs_transaction_t t, void *arg, struct xvio_err *err)
{
	struct xvio_xport_fdev *d = arg;
	int rc = setup_session(d, t, err);

	if (rc < 0) {
		fdev_destroy_queues(d);
		arm_retry(d);
	}
	return rc;
}

static int fe_connect(struct xvio_xb_dev *xb, xs_transaction_t t, void *arg,
                      struct xvio_err *err)
{
	struct xvio_xport_fdev *d = arg;

	if (d->nq == 0 || !d->q[0])
		return xvio_err_set(err, EPROTO, "%s: Connected without a session", d->path);
	/* Start only after the commit (the pass may be replayed). */
	d->starting = true;
	xport_defer(d->f->ctx, &d->defer);
	return 0;
}

static void fe_teardown(struct xvio_xb_dev *xb, void *arg)
{
	struct xvio_xport_fdev *d = arg;

	d->starting = false;
	fdev_destroy_queues(d);
	if (d->running) {
		d->running = false;
		d->tell_down = true;
		xport_defer(d->f->ctx, &d->defer);
	}
}

static void fe_released(struct xvio_xb_dev *xb, void *arg)
{
	dev_remove(arg);
}

static const struct xvio_xb_ops fe_xb_ops = {
	.setup = fe_setup,
	.connect = fe_connect,
	.teardown = fe_teardown,
	.released = fe_released,
};

/* ---- deferred work: start I/O, faults, hand-backs ---- */

static void fe_deferred(struct xport_defer *df)
{
	struct xvio_xport_fdev *d = XPORT_CONTAINER(df, struct xvio_xport_fdev, defer);
	struct xvio_xport_freq *r;

	if (d->fault) {
		d->fault = false;
		/* Tears the session down (its in-flight requests are kept). */
		if (xvio_xb_dev_peer_fault(d->xb, EPROTO, "%s", d->fault_msg) ==
		    XVIO_XB_RELEASED) {
			dev_remove(d);
			return;
		}
	}
	while ((r = rl_pop(&d->done)))
		d->f->p.ops->complete(d, r);
	if (d->tell_down) {
		d->tell_down = false;
		if (d->f->p.ops->disconnected)
			d->f->p.ops->disconnected(d);
	}
	if (d->starting && (xvio_xb_dev_flags(d->xb) & XVIO_XB_CONNECTED)) {
		d->starting = false;
		fdev_start_io(d);
	}
}

/* ---- devices ---- */

static void dev_unlink(struct xvio_xport_fdev *d)
{
	struct xvio_xport_fdev **pp = &d->f->devs;

	while (*pp && *pp != d)
		pp = &(*pp)->next;
	if (*pp)
		*pp = d->next;
}

/* The device is finished: hand everything back, release the area, then
 * tell the driver (its buffers are gone by then). */
static void dev_remove(struct xvio_xport_fdev *d)
{
	bool may_end = true;

	d->removed = true;
	stop_retry_watch(d);
	if (d->xb) {
		fe_teardown(d->xb, d); /* no-op if the machine already did it */
		may_end = fdev_backend_let_go(d);
		fdev_cancel_all(d);
	}
	xport_area_destroy(&d->area, may_end);
	if (d->xb) {
		if (d->f->p.ops->remove)
			d->f->p.ops->remove(d);
		xvio_xb_dev_close(d->xb);
	}
	xport_defer_cancel(d->f->ctx, &d->defer);
	dev_unlink(d);
	free(d);
}

static struct xvio_xport_fdev *dev_find(struct xvio_xport_front *f, const char *path)
{
	for (struct xvio_xport_fdev *d = f->devs; d; d = d->next) {
		if (strcmp(d->path, path) == 0)
			return d;
	}
	return NULL;
}

static int dev_start(struct xvio_xport_fdev *d)
{
	struct xvio_xport_ctx *c = d->f->ctx;
	struct xvio_err err = { 0 };
	int rc;

	rc = xvio_xb_dev_open(xvio_xport_ctx_xs(c), XVIO_XB_FRONTEND, d->path, &fe_xb_ops, d,
	                      &d->xb, &err);
	if (rc < 0)
		return rc;
	if (d->f->p.ops->add && d->f->p.ops->add(d, &d->priv, &err) < 0) {
		xvio_xb_dev_close(d->xb);
		d->xb = NULL;
		d->refused = true;
		return 0;
	}
	return xport_dev_watch(d->xb, c, &err);
}

static void on_found(struct xport_scan *s, const char *path)
{
	struct xvio_xport_front *f = XPORT_CONTAINER(s, struct xvio_xport_front, scan);
	struct xs_handle *xs = xvio_xport_ctx_xs(f->ctx);
	struct xvio_xport_fdev *d = dev_find(f, path);
	unsigned id;

	if (d) {
		/* A refused device is forgotten once its directory goes. */
		if (d->refused && xvio_xs_exists(xs, XBT_NULL, path, NULL) == 0)
			dev_remove(d);
		return;
	}
	if (!xport_dev_wanted(f->ctx, path, &id))
		return;
	d = calloc(1, sizeof(*d));
	if (!d)
		return;
	d->f = f;
	d->devid = id;
	snprintf(d->path, sizeof(d->path), "%s", path);
	d->defer.fn = fe_deferred;
	d->next = f->devs;
	f->devs = d;
	if (dev_start(d) < 0) {
		/* Half-written or gone: the next event under it retries. */
		if (d->xb) {
			dev_remove(d);
		} else {
			dev_unlink(d);
			free(d);
		}
	}
}

int xvio_xport_front_new(struct xvio_xport_ctx *c, const struct xvio_xport_front_params *p,
                         struct xvio_xport_front **out, struct xvio_err *err)
{
	struct xvio_xport_front *f;
	int rc;

	if (!c || !p || !p->kind || !p->ops || !p->ops->complete || !out ||
	    (p->mode != XVIO_XPORT_DATA_AREA && p->mode != XVIO_XPORT_GRANT) ||
	    strlen(p->kind) >= sizeof(f->kind) || p->num_queues > XVIO_XPORT_MAX_QUEUES)
		return xvio_err_set(err, EINVAL, "frontend: invalid parameters");
	f = calloc(1, sizeof(*f));
	if (!f)
		return xvio_err_set(err, ENOMEM, "frontend: out of memory");
	f->ctx = c;
	f->p = *p;
	snprintf(f->kind, sizeof(f->kind), "%s", p->kind);
	f->p.kind = f->kind;
	xport_scan_init(&f->scan, c, XVIO_XB_FRONTEND, f->kind, on_found);
	rc = xport_scan_start(&f->scan, err);
	if (rc < 0) {
		xvio_xport_front_free(f);
		return rc;
	}
	if (!xport_ctx_in_dispatch(c))
		xport_ctx_run_deferred(c);
	*out = f;
	return 0;
}

void xvio_xport_front_free(struct xvio_xport_front *f)
{
	if (!f)
		return;
	xport_scan_stop(&f->scan);
	while (f->devs)
		dev_remove(f->devs);
	free(f);
}

void *xvio_xport_fdev_arg(const struct xvio_xport_fdev *d)
{
	return d->f->p.arg;
}

void *xvio_xport_fdev_priv(const struct xvio_xport_fdev *d)
{
	return d->priv;
}

struct xvio_xport_ctx *xvio_xport_fdev_ctx(const struct xvio_xport_fdev *d)
{
	return d->f->ctx;
}

const char *xvio_xport_fdev_path(const struct xvio_xport_fdev *d)
{
	return d->path;
}

const char *xvio_xport_fdev_backend_path(const struct xvio_xport_fdev *d)
{
	return d->xb ? xvio_xb_dev_peer_path(d->xb) : "";
}

unsigned xvio_xport_fdev_devid(const struct xvio_xport_fdev *d)
{
	return d->devid;
}

bool xvio_xport_fdev_connected(const struct xvio_xport_fdev *d)
{
	return d->running;
}

uint64_t xvio_xport_fdev_features(const struct xvio_xport_fdev *d)
{
	return d->features;
}

unsigned xvio_xport_fdev_num_queues(const struct xvio_xport_fdev *d)
{
	return d->nq;
}

unsigned xvio_xport_fdev_queue_size(const struct xvio_xport_fdev *d)
{
	return d->qsize;
}

unsigned xvio_xport_fdev_pending(const struct xvio_xport_fdev *d)
{
	return d->pending;
}

unsigned xvio_xport_fdev_sessions(const struct xvio_xport_fdev *d)
{
	return d->sessions;
}
