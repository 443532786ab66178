/* SPDX-License-Identifier: MIT */
/*
 * The backend role of the transport (docs/protocol.md §2-§7, §10):
 * discovery, the §2.1 offer, validation of the frontend's §2.2 keys,
 * mapping, binding, teardown and the death of frontend domains.
 *
 * Lifecycle, on the xenbus device object (each step one transaction):
 *   setup     write the offer and ops->setup's config keys in the
 *             transaction that writes InitWait;
 *   connect   read every §2.2 key once, in the transaction that writes
 *             Connected, validate all of them before mapping anything, then
 *             map rings (writable), the directory (read-only: copy the refs,
 *             unmap) and the data pages, and bind the ports.  Requests are
 *             served only after the commit (the pass may be replayed);
 *   teardown  ops->disconnect, drop what the device still holds, unmap
 *             everything, unbind, all before the state switch that follows
 *             in the same pass (§7: unmap before Closed).
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xport_back_impl.h"

#include <xen/xen.h>

/* Highest event-channel port we accept (Xen's FIFO ABI: 2^17). */
#define MAX_PORT ((1u << 17) - 1)

/* ---- the frontend's keys (§2.2), as read and checked ---- */

struct fkeys {
	uint64_t features;
	uint32_t nq;
	int mode;
	uint32_t pages, ndir;
	uint32_t dir_refs[XPORT_MAX_DIR_PAGES];
	uint32_t qsize[XVIO_XPORT_MAX_QUEUES];
	uint32_t ring_refs[XVIO_XPORT_MAX_QUEUES][XPORT_MAX_RING_PAGES];
	uint32_t port[XVIO_XPORT_MAX_QUEUES];
};

static const struct xvio_enum mode_enum[] = {
	{ "data-area", XVIO_XPORT_DATA_AREA },
	{ "grant", XVIO_XPORT_GRANT },
	{ NULL, 0 },
};

static uint64_t offered(const struct xvio_xport_bdev *d)
{
	return (d->offer & XVIO_XPORT_F_DEVICE_MASK) | XVIO_XPORT_F_VERSION_1 |
	       XVIO_XPORT_F_INDIRECT | XVIO_XPORT_F_EVENT_IDX;
}

static int read_features(struct xvio_xport_bdev *d, xs_transaction_t t, const char *fe,
                         struct fkeys *k, struct xvio_err *err)
{
	struct xs_handle *xs = xvio_xport_ctx_xs(d->b->ctx);
	uint64_t extra;
	int rc;

	rc = xvio_xs_read_u64(xs, t, fe, "virtio-features", 0, 0, UINT64_MAX, &k->features, err);
	if (rc < 0)
		return rc;
	if (!(k->features & XVIO_XPORT_F_VERSION_1))
		return xvio_err_set(err, EINVAL, "%s/virtio-features: \"%llu\" lacks VERSION_1 "
		                    "(bit 32)", fe, (unsigned long long)k->features);
	extra = k->features & ~offered(d);
	if (extra)
		return xvio_err_set(err, EINVAL, "%s/virtio-features: \"%llu\" accepts bits "
		                    "0x%llx that were not offered", fe,
		                    (unsigned long long)k->features, (unsigned long long)extra);
	return 0;
}

static int read_area_keys(struct xvio_xport_bdev *d, xs_transaction_t t, const char *fe,
                          struct fkeys *k, struct xvio_err *err)
{
	struct xs_handle *xs = xvio_xport_ctx_xs(d->b->ctx);
	char key[40];
	int rc;

	rc = xvio_xs_read_u32(xs, t, fe, "data-area-pages", 1, d->b->p.max_area_pages,
	                      &k->pages, err);
	if (rc < 0)
		return rc;
	k->ndir = (k->pages + XPORT_REFS_PER_DIR - 1) / XPORT_REFS_PER_DIR;
	for (unsigned i = 0; i < k->ndir; i++) {
		snprintf(key, sizeof(key), "data-area-dir-ref%u", i);
		rc = xvio_xs_read_u32(xs, t, fe, key, 0, UINT32_MAX, &k->dir_refs[i], err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The number after `prefix` in a key name, strictly; -1 if not one. */
static long key_index(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	uint64_t v;

	if (strncmp(name, prefix, n) != 0 ||
	    xvio_parse_u64(name, name + n, strlen(name + n), 0, 0, UINT32_MAX, &v, NULL) < 0)
		return -1;
	return (long)v;
}

/*
 * §2.2: a backend MUST reject data-area-dir-ref<k> with k >= ceil(P/1024)
 * and queue-<i> with i >= num-queues: such keys are an earlier session's
 * that the frontend failed to remove, so its view of the session is not
 * ours.  (Found by tests/hostile: only dir-ref<ndir> was checked, and no
 * queue at all.)  Other names are not the protocol's and are ignored.
 */
static int check_stray_keys(struct xvio_xport_bdev *d, xs_transaction_t t, const char *fe,
                            const struct fkeys *k, struct xvio_err *err)
{
	struct xs_handle *xs = xvio_xport_ctx_xs(d->b->ctx);
	unsigned n = 0;
	char **names = xs_directory(xs, t, fe, &n);
	int rc = 0;

	if (!names)
		return xvio_err_set(err, errno ? errno : EIO, "%s: cannot list: %s", fe,
		                    strerror(errno ? errno : EIO));
	for (unsigned i = 0; i < n && rc == 0; i++) {
		long q = key_index(names[i], "queue-");
		long r = key_index(names[i], "data-area-dir-ref");

		if (q >= (long)k->nq)
			rc = xvio_err_set(err, EINVAL, "%s/%s: present, but num-queues is %u", fe,
			                  names[i], k->nq);
		else if (k->mode == XVIO_XPORT_DATA_AREA && r >= (long)k->ndir)
			rc = xvio_err_set(err, EINVAL, "%s/%s: present, but %u pages need %u "
			                  "directory pages", fe, names[i], k->pages, k->ndir);
	}
	free(names);
	return rc;
}

static int read_queue_keys(struct xvio_xport_bdev *d, xs_transaction_t t, const char *fe,
                           unsigned i, struct fkeys *k, struct xvio_err *err)
{
	struct xs_handle *xs = xvio_xport_ctx_xs(d->b->ctx);
	char key[48];
	int rc;

	snprintf(key, sizeof(key), "queue-%u/size", i);
	rc = xvio_xs_read_u32(xs, t, fe, key, 2, d->b->p.max_queue_size, &k->qsize[i], err);
	if (rc < 0)
		return rc;
	if (k->qsize[i] & (k->qsize[i] - 1))
		return xvio_err_set(err, EINVAL, "%s/%s: \"%u\" is not a power of two", fe, key,
		                    k->qsize[i]);
	if (xvio_vring_pages(k->qsize[i]) > XPORT_MAX_RING_PAGES) /* cannot be: size checked */
		return xvio_err_set(err, EINVAL, "%s/%s: unsupported", fe, key);
	for (unsigned p = 0; p < xvio_vring_pages(k->qsize[i]); p++) {
		snprintf(key, sizeof(key), "queue-%u/ring-ref%u", i, p);
		rc = xvio_xs_read_u32(xs, t, fe, key, 0, UINT32_MAX, &k->ring_refs[i][p], err);
		if (rc < 0)
			return rc;
	}
	snprintf(key, sizeof(key), "queue-%u/event-channel", i);
	return xvio_xs_read_u32(xs, t, fe, key, 1, MAX_PORT, &k->port[i], err);
}

/* Every key once, every value checked, before anything is mapped. */
static int read_keys(struct xvio_xport_bdev *d, xs_transaction_t t, struct fkeys *k,
                     struct xvio_err *err)
{
	struct xs_handle *xs = xvio_xport_ctx_xs(d->b->ctx);
	const char *fe = xvio_xb_dev_peer_path(d->xb);
	int rc;

	rc = read_features(d, t, fe, k, err);
	if (rc == 0)
		rc = xvio_xs_read_u32(xs, t, fe, "num-queues", 1, d->b->p.max_queues, &k->nq, err);
	if (rc == 0)
		rc = xvio_xs_read_enum(xs, t, fe, "buffer-mode", mode_enum, &k->mode, err);
	if (rc == 0 && k->mode == XVIO_XPORT_DATA_AREA)
		rc = read_area_keys(d, t, fe, k, err);
	for (unsigned i = 0; rc == 0 && i < k->nq; i++)
		rc = read_queue_keys(d, t, fe, i, k, err);
	if (rc == 0)
		rc = check_stray_keys(d, t, fe, k, err);
	return rc;
}

/* ---- mapping ---- */

static void area_unmap(struct barea *a)
{
	for (unsigned i = 0; i < a->nmaps; i++)
		xvio_gnt_unmap(a->map[i]);
	memset(a, 0, sizeof(*a));
}

/* Map the directory read-only, copy the refs out, unmap (§5.1). */
static int read_dir(struct xvio_xport_bdev *d, const struct fkeys *k, uint32_t *refs,
                    struct xvio_err *err)
{
	struct xvio_plat *p = xvio_xport_ctx_plat(d->b->ctx);
	struct xvio_gnt_map *m;
	void *addr;
	int rc;

	rc = xvio_gnt_map_domain(p, d->fe_id, k->ndir, k->dir_refs, false, &addr, &m);
	if (rc < 0)
		return xvio_err_set(err, -rc, "%s/data-area-dir-ref0..%u: cannot map the "
		                    "directory: %s", xvio_xb_dev_peer_path(d->xb), k->ndir - 1,
		                    strerror(-rc));
	for (unsigned i = 0; i < k->pages; i++) {
		uint32_t le;

		memcpy(&le, (char *)addr + (size_t)i * 4, 4);
		refs[i] = le32toh(le);
	}
	xvio_gnt_unmap(m);
	return 0;
}

static int map_area(struct xvio_xport_bdev *d, const struct fkeys *k, struct xvio_err *err)
{
	struct xvio_plat *p = xvio_xport_ctx_plat(d->b->ctx);
	uint32_t *refs = malloc(k->pages * sizeof(*refs));
	int rc;

	if (!refs)
		return xvio_err_set(err, ENOMEM, "%s: out of memory", d->path);
	rc = read_dir(d, k, refs, err);
	d->area.pages = k->pages;
	for (unsigned done = 0; rc == 0 && done < k->pages; d->area.nmaps++) {
		unsigned n = k->pages - done < XPORT_CHUNK_PAGES ? k->pages - done
		                                                : XPORT_CHUNK_PAGES;
		void *addr;

		rc = xvio_gnt_map_domain(p, d->fe_id, n, refs + done, true, &addr,
		                         &d->area.map[d->area.nmaps]);
		if (rc < 0) {
			xvio_err_set(err, -rc, "%s/data-area-dir-ref%u: data pages %u..%u cannot "
			             "be mapped: %s", xvio_xb_dev_peer_path(d->xb),
			             done / XPORT_REFS_PER_DIR, done, done + n - 1, strerror(-rc));
			break;
		}
		d->area.base[d->area.nmaps] = addr;
		done += n;
	}
	free(refs);
	return rc;
}

static int map_queue(struct xvio_xport_bdev *d, const struct fkeys *k, unsigned i,
                     struct xvio_err *err)
{
	struct xvio_xport_ctx *c = d->b->ctx;
	const char *fe = xvio_xb_dev_peer_path(d->xb);
	unsigned pages = xvio_vring_pages(k->qsize[i]);
	struct xvio_gnt_map *m;
	struct bq *q;
	void *ring;
	int rc;

	rc = xvio_gnt_map_domain(xvio_xport_ctx_plat(c), d->fe_id, pages, k->ring_refs[i], true,
	                         &ring, &m);
	if (rc < 0)
		return xvio_err_set(err, -rc, "%s/queue-%u/ring-ref0..%u: cannot map the ring: "
		                    "%s", fe, i, pages - 1, strerror(-rc));
	rc = bq_create(d, i, k->qsize[i], ring, m, &q);
	if (rc < 0) {
		xvio_gnt_unmap(m);
		return xvio_err_set(err, -rc, "%s: queue %u: %s", d->path, i, strerror(-rc));
	}
	d->q[i] = q;
	rc = xvio_evtchn_bind_interdomain(xport_ctx_evtchn(c), d->fe_id, k->port[i]);
	if (rc < 0)
		return xvio_err_set(err, -rc, "%s/queue-%u/event-channel: cannot bind port %u: %s",
		                    fe, i, k->port[i], strerror(-rc));
	q->port = (xvio_port_t)rc;
	rc = xport_q_route(&q->q, q->port);
	if (rc < 0)
		return xvio_err_set(err, -rc, "%s: queue %u: %s", d->path, i, strerror(-rc));
	return 0;
}

/* Undo connect: §7's order, everything before the Closed that follows. */
static void end_session(struct xvio_xport_bdev *d)
{
	d->starting = false;
	if (d->running) {
		d->running = false;
		for (unsigned i = 0; i < d->nq; i++) {
			if (d->q[i]) {
				d->q[i]->up = false;
				xport_q_detach(&d->q[i]->q);
			}
		}
		if (d->b->p.ops->disconnect)
			d->b->p.ops->disconnect(d);
	}
	for (unsigned i = 0; i < XVIO_XPORT_MAX_QUEUES; i++) {
		if (d->q[i])
			bq_destroy(d->q[i]);
		d->q[i] = NULL;
	}
	area_unmap(&d->area);
	d->features = 0;
	d->nq = 0;
}

/* ---- xenbus callbacks ---- */

static int be_setup(struct xvio_xb_dev *xb, xs_transaction_t t, void *arg, struct xvio_err *err)
{
	struct xvio_xport_bdev *d = arg;
	const struct xvio_xport_back_params *p = &d->b->p;
	struct xs_handle *xs = xvio_xport_ctx_xs(d->b->ctx);
	int rc = 0;

	/* The driver's setup first: it may narrow this session's offer
	 * (xvio_xport_bdev_set_features); the peer sees one transaction. */
	d->offer = p->features;
	if (p->ops->setup)
		rc = p->ops->setup(d, t, err);
	if (rc == 0)
		rc = xvio_xs_printf(xs, t, d->path, "virtio-device", err, "%u", p->virtio_id);
	if (rc == 0)
		rc = xvio_xs_printf(xs, t, d->path, "virtio-features", err, "%llu",
		                    (unsigned long long)offered(d));
	if (rc == 0)
		rc = xvio_xs_printf(xs, t, d->path, "max-queues", err, "%u", p->max_queues);
	if (rc == 0)
		rc = xvio_xs_printf(xs, t, d->path, "max-queue-size", err, "%u",
		                    p->max_queue_size);
	if (rc == 0)
		rc = xvio_xs_write(xs, t, d->path, "buffer-modes", "data-area grant", err);
	if (rc == 0)
		rc = xvio_xs_printf(xs, t, d->path, "max-data-area-pages", err, "%u",
		                    p->max_area_pages);
	return rc;
}

static int be_connect(struct xvio_xb_dev *xb, xs_transaction_t t, void *arg,
                      struct xvio_err *err)
{
	struct xvio_xport_bdev *d = arg;
	struct fkeys *k = calloc(1, sizeof(*k));
	int rc;

	if (!k)
		return xvio_err_set(err, ENOMEM, "%s: out of memory", d->path);
	rc = read_keys(d, t, k, err);
	if (rc == 0) {
		d->features = k->features;
		d->mode = (enum xvio_xport_mode)k->mode;
		d->nq = k->nq;
		if (d->mode == XVIO_XPORT_DATA_AREA)
			rc = map_area(d, k, err);
	}
	for (unsigned i = 0; rc == 0 && i < k->nq; i++)
		rc = map_queue(d, k, i, err);
	free(k);
	if (rc < 0) {
		end_session(d); /* undo our partial work; the failure closes */
		return rc;
	}
	d->starting = true;
	xport_defer(d->b->ctx, &d->defer);
	return 0;
}

static void be_teardown(struct xvio_xb_dev *xb, void *arg)
{
	end_session(arg);
}

static void dev_remove(struct xvio_xport_bdev *d);

static void be_released(struct xvio_xb_dev *xb, void *arg)
{
	dev_remove(arg);
}

static const struct xvio_xb_ops be_xb_ops = {
	.setup = be_setup,
	.connect = be_connect,
	.teardown = be_teardown,
	.released = be_released,
};

/* ---- deferred work ---- */

static void be_deferred(struct xport_defer *df)
{
	struct xvio_xport_bdev *d = XPORT_CONTAINER(df, struct xvio_xport_bdev, defer);
	int rc = 0;

	if (d->fault) {
		d->fault = false;
		if (d->fault_local)
			rc = xvio_xb_dev_fail(d->xb, d->fault_err, "%s", d->fault_msg);
		else
			rc = xvio_xb_dev_peer_fault(d->xb, d->fault_err, "%s", d->fault_msg);
		if (rc == XVIO_XB_RELEASED) {
			dev_remove(d);
			return;
		}
	}
	if (d->starting && (xvio_xb_dev_flags(d->xb) & XVIO_XB_CONNECTED)) {
		d->starting = false;
		d->running = true;
		if (d->b->p.ops->connect)
			d->b->p.ops->connect(d);
		for (unsigned i = 0; i < d->nq; i++)
			bq_start(d->q[i]);
	}
}

int xvio_xport_bdev_fail(struct xvio_xport_bdev *d, int errnum, const char *fmt, ...)
{
	char msg[XVIO_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	bdev_note_fault(d, true, errnum > 0 ? errnum : EIO, msg);
	return 0;
}

/* ---- devices ---- */

static void dev_unlink(struct xvio_xport_bdev *d)
{
	struct xvio_xport_bdev **pp = &d->b->devs;

	while (*pp && *pp != d)
		pp = &(*pp)->next;
	if (*pp)
		*pp = d->next;
}

static void dev_remove(struct xvio_xport_bdev *d)
{
	if (d->xb) {
		end_session(d);
		if (d->b->p.ops->remove && !d->refused)
			d->b->p.ops->remove(d);
		xvio_xb_dev_close(d->xb);
	}
	xport_defer_cancel(d->b->ctx, &d->defer);
	dev_unlink(d);
	free(d);
}

/* Is the frontend's domain gone (destroyed, or dying with pages held)? */
static bool domain_dead(struct xvio_xport_bdev *d)
{
	struct xvio_dominfo info;
	int rc = xvio_dom_info(xvio_xport_ctx_plat(d->b->ctx), d->fe_id, &info);

	return rc == -ESRCH || (rc == 0 && info.dying);
}

static int dev_start(struct xvio_xport_bdev *d)
{
	struct xvio_xport_ctx *c = d->b->ctx;
	struct xvio_err err = { 0 };
	int rc;

	rc = xvio_xb_dev_open(xvio_xport_ctx_xs(c), XVIO_XB_BACKEND, d->path, &be_xb_ops, d,
	                      &d->xb, &err);
	if (rc < 0)
		return rc;
	d->fe_id = xvio_xb_dev_peer_id(d->xb);
	/* A leftover of a dead domain: nothing to serve, wait for removal. */
	d->dead = domain_dead(d);
	if (d->dead || (d->b->p.ops->add && d->b->p.ops->add(d, &d->priv, &err) < 0)) {
		d->refused = true;
		xvio_xb_dev_close(d->xb);
		d->xb = NULL;
		return 0;
	}
	return xport_dev_watch(d->xb, c, &err);
}

static struct xvio_xport_bdev *dev_find(struct xvio_xport_back *b, const char *path)
{
	for (struct xvio_xport_bdev *d = b->devs; d; d = d->next) {
		if (strcmp(d->path, path) == 0)
			return d;
	}
	return NULL;
}

static void on_found(struct xport_scan *s, const char *path)
{
	struct xvio_xport_back *b = XPORT_CONTAINER(s, struct xvio_xport_back, scan);
	struct xs_handle *xs = xvio_xport_ctx_xs(b->ctx);
	struct xvio_xport_bdev *d = dev_find(b, path);
	unsigned id;

	if (d) {
		/*
		 * A device of a dead frontend whose directory is back with a live
		 * domain: the domid was reused (at once in the simulator, after a
		 * wrap on Xen) and the removal and re-creation reached us as one
		 * event.  The old object would hide the new device for good.
		 */
		bool reborn = d->dead && !domain_dead(d);

		if (!reborn) {
			if (d->refused && xvio_xs_exists(xs, XBT_NULL, path, NULL) == 0)
				dev_remove(d);
			return;
		}
		dev_remove(d);
	}
	if (!xport_dev_wanted(b->ctx, path, &id))
		return;
	d = calloc(1, sizeof(*d));
	if (!d)
		return;
	d->b = b;
	d->devid = id;
	snprintf(d->path, sizeof(d->path), "%s", path);
	d->defer.fn = be_deferred;
	d->next = b->devs;
	b->devs = d;
	if (dev_start(d) < 0)
		dev_remove(d); /* half-written or gone: the next event retries */
}

/*
 * A domain died: close the devices of dead frontends (their mappings stay
 * valid until we unmap them, so teardown is safe) and stop serving them.
 */
static void on_release_domain(struct xvio_watcher *w, int id, const char *path, void *arg)
{
	struct xvio_xport_back *b = arg;
	struct xvio_xport_bdev *d, *next;

	for (d = b->devs; d; d = next) {
		next = d->next;
		if (!d->xb || d->dead || !domain_dead(d))
			continue;
		d->dead = true;
		if (xvio_xb_dev_set_online(d->xb, false) == XVIO_XB_RELEASED)
			dev_remove(d);
	}
}

static int check_params(const struct xvio_xport_back_params *p, struct xvio_xport_back_params *o)
{
	*o = *p;
	o->max_queues = p->max_queues ? p->max_queues : 1;
	o->max_queue_size = p->max_queue_size ? p->max_queue_size : 256;
	o->max_area_pages = p->max_area_pages ? p->max_area_pages : XVIO_XPORT_MAX_AREA_PAGES;
	if (!p->kind || !p->ops || !p->ops->request || o->max_queues > XVIO_XPORT_MAX_QUEUES ||
	    o->max_queue_size < 2 || o->max_queue_size > XVIO_VQ_MAX_SIZE ||
	    (o->max_queue_size & (o->max_queue_size - 1)) ||
	    o->max_area_pages > XVIO_XPORT_MAX_AREA_PAGES || (p->features & ~XVIO_XPORT_F_DEVICE_MASK))
		return -EINVAL;
	return 0;
}

int xvio_xport_back_new(struct xvio_xport_ctx *c, const struct xvio_xport_back_params *p,
                        struct xvio_xport_back **out, struct xvio_err *err)
{
	struct xvio_xport_back *b;
	int rc;

	if (!c || !p || !out)
		return xvio_err_set(err, EINVAL, "backend: invalid parameters");
	b = calloc(1, sizeof(*b));
	if (!b)
		return xvio_err_set(err, ENOMEM, "backend: out of memory");
	b->ctx = c;
	if (check_params(p, &b->p) < 0 || strlen(p->kind) >= sizeof(b->kind)) {
		free(b);
		return xvio_err_set(err, EINVAL, "backend: invalid parameters");
	}
	snprintf(b->kind, sizeof(b->kind), "%s", p->kind);
	b->p.kind = b->kind;
	xport_scan_init(&b->scan, c, XVIO_XB_BACKEND, b->kind, on_found);
	rc = xvio_watch_add(xvio_xport_ctx_watcher(c), "@releaseDomain", on_release_domain, b,
	                    err);
	if (rc > 0) {
		b->rel_watch = rc;
		rc = xport_scan_start(&b->scan, err);
	}
	if (rc < 0) {
		xvio_xport_back_free(b);
		return rc;
	}
	if (!xport_ctx_in_dispatch(c))
		xport_ctx_run_deferred(c);
	*out = b;
	return 0;
}

void xvio_xport_back_free(struct xvio_xport_back *b)
{
	if (!b)
		return;
	xport_scan_stop(&b->scan);
	if (b->rel_watch > 0)
		xvio_watch_remove(xvio_xport_ctx_watcher(b->ctx), b->rel_watch);
	while (b->devs)
		dev_remove(b->devs);
	free(b);
}

/* ---- accessors ---- */

void *xvio_xport_bdev_arg(const struct xvio_xport_bdev *d)
{
	return d->b->p.arg;
}

void *xvio_xport_bdev_priv(const struct xvio_xport_bdev *d)
{
	return d->priv;
}

struct xvio_xport_ctx *xvio_xport_bdev_ctx(const struct xvio_xport_bdev *d)
{
	return d->b->ctx;
}

const char *xvio_xport_bdev_path(const struct xvio_xport_bdev *d)
{
	return d->path;
}

const char *xvio_xport_bdev_frontend_path(const struct xvio_xport_bdev *d)
{
	return d->xb ? xvio_xb_dev_peer_path(d->xb) : "";
}

xvio_domid_t xvio_xport_bdev_frontend_id(const struct xvio_xport_bdev *d)
{
	return d->fe_id;
}

unsigned xvio_xport_bdev_devid(const struct xvio_xport_bdev *d)
{
	return d->devid;
}

void xvio_xport_bdev_set_features(struct xvio_xport_bdev *d, uint64_t features)
{
	d->offer = features & d->b->p.features;
}

uint64_t xvio_xport_bdev_features(const struct xvio_xport_bdev *d)
{
	return d->features;
}

unsigned xvio_xport_bdev_num_queues(const struct xvio_xport_bdev *d)
{
	return d->nq;
}
