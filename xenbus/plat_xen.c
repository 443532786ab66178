/* SPDX-License-Identifier: MIT */
/*
 * The `xen` platform: plat.h over Xen's own libraries.
 *
 *   event channels  libxenevtchn (/dev/xen/evtchn)
 *   grant mapping   libxengnttab's xengnttab_* (/dev/xen/gntdev)
 *   grant sharing   libxengnttab's xengntshr_* (/dev/xen/gntalloc)
 *   domains, status libxenctrl (/dev/xen/privcmd, hypercalls)
 *   own domid       libxenstore, "domid" under our home
 *
 * Each library is opened on first use, so an unprivileged domU without
 * privcmd can still use event channels and grants; only the calls that
 * need libxenctrl fail there (with the errno of opening it).  All
 * libraries get a logger that discards everything: libraries never log.
 *
 * Where Xen cannot give exactly what plat.h promises (the sim platform
 * can), the function's comment says what happens instead:
 *   - xvio_gnt_share_end never returns -EBUSY (gntalloc cannot tell);
 *   - xvio_gnt_map's -EACCES/-ESRCH are reconstructed after the kernel's
 *     single -EINVAL;
 *   - xvio_evtchn_status needs privcmd, and a peer closing a port does not
 *     raise the pending flag on Xen;
 *   - decrease/populate are made all-or-nothing by rolling back, Xen does
 *     not refuse to decrease a granted page, and the frame numbers are
 *     gfns only for auto-translated (HVM/PVH) guests.
 *
 * Fork: as with the underlying libraries, a child must not use a handle
 * (or its mappings) inherited from its parent; it opens its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * Xen's tools headers need GNU C (they refuse __STRICT_ANSI__), so this
 * one file is built with -std=gnu11 (xenbus/meson.build).  xenctrl.h must
 * come before the other Xen headers: it defines __XEN_TOOLS__, without
 * which xen/xen.h (pulled in by xenevtchn.h) leaves out the tools-only
 * types xenctrl.h needs.
 */
#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "plat_impl.h"
#include "xenbus.h"

/* ---- a logger that logs nothing ---- */

static void quiet_vmessage(struct xentoollog_logger *logger, xentoollog_level level,
                           int errnoval, const char *context, const char *format,
                           va_list al)
{
}

static void quiet_progress(struct xentoollog_logger *logger, const char *context,
                           const char *doing_what, int percent, unsigned long done,
                           unsigned long total)
{
}

static void quiet_destroy(struct xentoollog_logger *logger)
{
}

/* Stateless, so one instance serves every handle and thread. */
static struct xentoollog_logger quiet_logger = {
	.vmessage = quiet_vmessage,
	.progress = quiet_progress,
	.destroy = quiet_destroy,
};

/* ---- objects ---- */

struct xen_share;
struct xen_map;

struct xen_plat {
	struct xvio_plat base;
	xengnttab_handle *gnttab; /* opened on first map */
	xengntshr_handle *gntshr; /* opened on first share */
	xc_interface *xc;         /* opened on first use */
	bool have_domid;
	xvio_domid_t domid;
	/* Live shares and maps, released by close. */
	struct xen_share *shares;
	struct xen_map *maps;
};

struct xen_share {
	struct xvio_gnt_share base;
	struct xen_plat *p;
	void *addr;
	unsigned count;
	struct xen_share *prev, *next;
};

struct xen_map {
	struct xvio_gnt_map base;
	struct xen_plat *p;
	void *addr;
	unsigned count;
	struct xen_map *prev, *next;
};

struct xen_evtchn {
	struct xvio_evtchn base;
	struct xen_plat *p;
	xenevtchn_handle *xce;
	/* Ports bound through this handle: the kernel driver only checks
	 * some calls, and status must not describe someone else's port. */
	xvio_port_t *ports;
	size_t nports, cap;
};

static struct xen_plat *to_plat(struct xvio_plat *p)
{
	return (struct xen_plat *)p;
}

static int neg_errno(void)
{
	return errno ? -errno : -EIO;
}

static int get_xc(struct xen_plat *p)
{
	if (!p->xc) {
		errno = 0;
		p->xc = xc_interface_open(&quiet_logger, &quiet_logger, 0);
		if (!p->xc)
			return neg_errno();
	}
	return 0;
}

static int get_gnttab(struct xen_plat *p)
{
	if (!p->gnttab) {
		errno = 0;
		p->gnttab = xengnttab_open(&quiet_logger, 0);
		if (!p->gnttab)
			return neg_errno();
	}
	return 0;
}

static int get_gntshr(struct xen_plat *p)
{
	if (!p->gntshr) {
		errno = 0;
		p->gntshr = xengntshr_open(&quiet_logger, 0);
		if (!p->gntshr)
			return neg_errno();
	}
	return 0;
}

/* ---- opening ---- */

/*
 * Opens nothing yet; only checks that this is a Xen domain at all, so a
 * wrong default fails here and not at the first grant.
 */
static int xen_open(struct xvio_plat **out)
{
	struct xen_plat *p;

	if (access("/dev/xen", F_OK) != 0)
		return neg_errno();
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->base.ops = &xvio_plat_xen_ops;
	*out = &p->base;
	return 0;
}

static void share_release(struct xen_share *s);
static void map_release(struct xen_map *m);

static void xen_close(struct xvio_plat *base)
{
	struct xen_plat *p = to_plat(base);

	while (p->shares)
		share_release(p->shares);
	while (p->maps)
		map_release(p->maps);
	if (p->gntshr)
		xengntshr_close(p->gntshr);
	if (p->gnttab)
		xengnttab_close(p->gnttab);
	if (p->xc)
		xc_interface_close(p->xc);
	free(p);
}

/* The toolstack writes "domid" into every domain's home (dom0's by
 * xen-init-dom0); a relative read resolves against our own home. */
static int xen_self_domid(struct xvio_plat *base, xvio_domid_t *out)
{
	struct xen_plat *p = to_plat(base);
	struct xs_handle *xs;
	uint64_t id;
	int rc;

	if (!p->have_domid) {
		errno = 0;
		xs = xs_open(0);
		if (!xs)
			return neg_errno();
		rc = xvio_xs_read_u64(xs, XBT_NULL, "domid", NULL, 0, 0,
		                      DOMID_FIRST_RESERVED - 1, &id, NULL);
		xs_close(xs);
		if (rc < 0)
			return rc;
		p->domid = (xvio_domid_t)id;
		p->have_domid = true;
	}
	*out = p->domid;
	return 0;
}

/* ---- event channels ---- */

static struct xen_evtchn *to_evtchn(struct xvio_evtchn *e)
{
	return (struct xen_evtchn *)e;
}

static ssize_t port_index(const struct xen_evtchn *e, xvio_port_t port)
{
	for (size_t i = 0; i < e->nports; i++)
		if (e->ports[i] == port)
			return (ssize_t)i;
	return -1;
}

static int port_add(struct xen_evtchn *e, xvio_port_t port)
{
	if (e->nports == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		xvio_port_t *n = realloc(e->ports, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		e->ports = n;
		e->cap = cap;
	}
	e->ports[e->nports++] = port;
	return 0;
}

static void port_del(struct xen_evtchn *e, size_t i)
{
	e->ports[i] = e->ports[--e->nports];
}

static int xen_evtchn_open(struct xvio_plat *base, struct xvio_evtchn **out)
{
	struct xen_evtchn *e;
	int fd, fl;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->base.ops = &xvio_plat_xen_ops;
	e->p = to_plat(base);
	errno = 0;
	e->xce = xenevtchn_open(&quiet_logger, 0);
	if (!e->xce) {
		int rc = neg_errno();

		free(e);
		return rc;
	}
	/* plat.h: pending never blocks.  The device reads block by default. */
	fd = xenevtchn_fd(e->xce);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int rc = neg_errno();

		xenevtchn_close(e->xce);
		free(e);
		return rc;
	}
	*out = &e->base;
	return 0;
}

/* Closing the device unbinds every port bound through it. */
static void xen_evtchn_close(struct xvio_evtchn *base)
{
	struct xen_evtchn *e = to_evtchn(base);

	xenevtchn_close(e->xce);
	free(e->ports);
	free(e);
}

static int xen_evtchn_fd(struct xvio_evtchn *base)
{
	return xenevtchn_fd(to_evtchn(base)->xce);
}

static int bound(struct xen_evtchn *e, xenevtchn_port_or_error_t port)
{
	int rc;

	if (port < 0)
		return neg_errno();
	rc = port_add(e, (xvio_port_t)port);
	if (rc < 0) {
		xenevtchn_unbind(e->xce, (evtchn_port_t)port);
		return rc;
	}
	return port;
}

static int xen_evtchn_alloc_unbound(struct xvio_evtchn *base, xvio_domid_t remote)
{
	struct xen_evtchn *e = to_evtchn(base);

	errno = 0;
	return bound(e, xenevtchn_bind_unbound_port(e->xce, remote));
}

/* Xen itself answers -EINVAL (port not unbound / not offered to us) and
 * -ESRCH (no such domain); the driver passes them through. */
static int xen_evtchn_bind_interdomain(struct xvio_evtchn *base, xvio_domid_t remote,
                                       xvio_port_t remote_port)
{
	struct xen_evtchn *e = to_evtchn(base);

	errno = 0;
	return bound(e, xenevtchn_bind_interdomain(e->xce, remote, remote_port));
}

/* Linux answers -ENOTCONN for a foreign port; plat.h says -EINVAL. */
static int xen_evtchn_notify(struct xvio_evtchn *base, xvio_port_t port)
{
	struct xen_evtchn *e = to_evtchn(base);

	if (port_index(e, port) < 0)
		return -EINVAL;
	errno = 0;
	return xenevtchn_notify(e->xce, port) < 0 ? neg_errno() : 0;
}

static int xen_evtchn_unbind(struct xvio_evtchn *base, xvio_port_t port)
{
	struct xen_evtchn *e = to_evtchn(base);
	ssize_t i = port_index(e, port);

	if (i < 0)
		return -EINVAL;
	errno = 0;
	if (xenevtchn_unbind(e->xce, port) < 0)
		return neg_errno();
	port_del(e, (size_t)i);
	return 0;
}

static int xen_evtchn_pending(struct xvio_evtchn *base)
{
	struct xen_evtchn *e = to_evtchn(base);
	xenevtchn_port_or_error_t port;

	errno = 0;
	port = xenevtchn_pending(e->xce);
	if (port < 0)
		return neg_errno(); /* -EAGAIN when nothing is pending */
	return port;
}

static int xen_evtchn_unmask(struct xvio_evtchn *base, xvio_port_t port)
{
	struct xen_evtchn *e = to_evtchn(base);

	/* The driver silently ignores foreign ports; be explicit. */
	if (port_index(e, port) < 0)
		return -EINVAL;
	errno = 0;
	return xenevtchn_unmask(e->xce, port) < 0 ? neg_errno() : 0;
}

/*
 * EVTCHNOP_status on DOMID_SELF through libxenctrl: allowed to any domain
 * by Xen, but the hypercall goes through privcmd, so without
 * /dev/xen/privcmd this fails with the errno of opening it.  A port not
 * bound through this handle is reported CLOSED without asking Xen (it may
 * be someone else's port by now).
 *
 * Unlike the sim, Xen does not raise the local port's pending flag when
 * the peer closes an interdomain channel: the port just turns UNBOUND.  A
 * driver that must notice a dead peer promptly also watches xenstore (the
 * peer's state) and the peer domain (xvio_dom_info).
 */
static int xen_evtchn_status(struct xvio_evtchn *base, xvio_port_t port)
{
	struct xen_evtchn *e = to_evtchn(base);
	xc_evtchn_status_t st;
	int rc;

	if (port_index(e, port) < 0)
		return XVIO_EVTCHN_CLOSED;
	rc = get_xc(e->p);
	if (rc < 0)
		return rc;
	memset(&st, 0, sizeof(st));
	st.dom = DOMID_SELF;
	st.port = port;
	errno = 0;
	if (xc_evtchn_status(e->p->xc, &st) < 0)
		return neg_errno();
	switch (st.status) {
	case EVTCHNSTAT_closed:
		return XVIO_EVTCHN_CLOSED;
	case EVTCHNSTAT_unbound:
		return XVIO_EVTCHN_UNBOUND;
	case EVTCHNSTAT_interdomain:
		return XVIO_EVTCHN_INTERDOMAIN;
	default:
		return -EIO; /* pirq/virq/ipi: cannot be one of ours */
	}
}

/* ---- grants, granting side ---- */

static void list_add_share(struct xen_plat *p, struct xen_share *s)
{
	s->prev = NULL;
	s->next = p->shares;
	if (p->shares)
		p->shares->prev = s;
	p->shares = s;
}

static void share_release(struct xen_share *s)
{
	struct xen_plat *p = s->p;

	if (s->prev)
		s->prev->next = s->next;
	else
		p->shares = s->next;
	if (s->next)
		s->next->prev = s->prev;
	/* munmap; gntalloc ends the grants, deferred while the peer maps them. */
	xengntshr_unshare(p->gntshr, s->addr, s->count);
	free(s);
}

/* gntalloc hands out zeroed pages, granted in page order. */
static int xen_gnt_share(struct xvio_plat *base, xvio_domid_t grantee, unsigned count,
                         bool writable, xvio_gref_t *refs, void **addr,
                         struct xvio_gnt_share **out)
{
	struct xen_plat *p = to_plat(base);
	struct xen_share *s;
	int rc;

	rc = get_gntshr(p);
	if (rc < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	errno = 0;
	s->addr = xengntshr_share_pages(p->gntshr, grantee, (int)count, refs, writable);
	if (!s->addr) {
		rc = neg_errno();
		free(s);
		return rc;
	}
	s->base.ops = &xvio_plat_xen_ops;
	s->p = p;
	s->count = count;
	list_add_share(p, s);
	*addr = s->addr;
	*out = &s->base;
	return 0;
}

/*
 * Not exactly plat.h: gntalloc cannot tell whether the grantee still maps
 * a page, so this never fails with -EBUSY.  It behaves like abandon: the
 * local mapping goes away at once, and the kernel ends each grant and
 * frees its page only once the peer has unmapped it (Linux's deferred
 * gnttab_end_foreign_access), so the page is never reused while the peer
 * can still see it.  Callers' retry-on-EBUSY paths are simply not taken.
 */
static int xen_gnt_share_end(struct xvio_gnt_share *base)
{
	share_release((struct xen_share *)base);
	return 0;
}

static void xen_gnt_share_abandon(struct xvio_gnt_share *base)
{
	share_release((struct xen_share *)base);
}

/* ---- grants, mapping side ---- */

static void map_release(struct xen_map *m)
{
	struct xen_plat *p = m->p;

	if (m->prev)
		m->prev->next = m->next;
	else
		p->maps = m->next;
	if (m->next)
		m->next->prev = m->prev;
	xengnttab_unmap(p->gnttab, m->addr, m->count);
	free(m);
}

/* -ESRCH if a domain of the batch is gone or dying, else 0.  Needs
 * libxenctrl; without it (a domU) nothing can be said. */
static int any_domain_gone(struct xen_plat *p, unsigned count, const uint32_t *domids)
{
	if (get_xc(p) < 0)
		return 0;
	for (unsigned i = 0; i < count; i++) {
		xc_domaininfo_t info;
		int n;

		if (i > 0 && domids[i] == domids[i - 1])
			continue;
		n = xc_domain_getinfolist(p->xc, domids[i], 1, &info);
		if (n < 0)
			return 0;
		if (n == 0 || info.domain != domids[i] || (info.flags & XEN_DOMINF_dying))
			return -ESRCH;
	}
	return 0;
}

/*
 * gntdev folds every failed map op into -EINVAL.  To keep plat.h's finer
 * errors, a failure is diagnosed afterwards: a gone or dying domain gives
 * -ESRCH (only where libxenctrl works, i.e. dom0), and a writable map that
 * succeeds read-only gives -EACCES (the trial mapping is dropped at once).
 */
static int diagnose_map(struct xen_plat *p, unsigned count, uint32_t *domids,
                        uint32_t *refs, bool writable, int rc)
{
	void *a;

	if (rc != -EINVAL)
		return rc;
	if (any_domain_gone(p, count, domids) < 0)
		return -ESRCH;
	if (!writable)
		return rc;
	a = xengnttab_map_grant_refs(p->gnttab, count, domids, refs, PROT_READ);
	if (!a)
		return rc;
	xengnttab_unmap(p->gnttab, a, count);
	return -EACCES;
}

static int xen_gnt_map(struct xvio_plat *base, unsigned count, const xvio_domid_t *domids,
                       const xvio_gref_t *refs, bool writable, void **addr,
                       struct xvio_gnt_map **out)
{
	struct xen_plat *p = to_plat(base);
	uint32_t *d32, *r32;
	struct xen_map *m;
	int rc;

	rc = get_gnttab(p);
	if (rc < 0)
		return rc;
	/* libxengnttab wants mutable uint32_t arrays; work on copies. */
	d32 = calloc(count, sizeof(*d32));
	r32 = calloc(count, sizeof(*r32));
	m = calloc(1, sizeof(*m));
	if (!d32 || !r32 || !m) {
		rc = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < count; i++) {
		d32[i] = domids[i];
		r32[i] = refs[i];
	}
	errno = 0;
	m->addr = xengnttab_map_grant_refs(p->gnttab, count, d32, r32,
	                                   PROT_READ | (writable ? PROT_WRITE : 0));
	if (!m->addr) {
		rc = diagnose_map(p, count, d32, r32, writable, neg_errno());
		goto out;
	}
	m->base.ops = &xvio_plat_xen_ops;
	m->p = p;
	m->count = count;
	m->prev = NULL;
	m->next = p->maps;
	if (p->maps)
		p->maps->prev = m;
	p->maps = m;
	*addr = m->addr;
	*out = &m->base;
	m = NULL;
	rc = 0;
out:
	free(m);
	free(r32);
	free(d32);
	return rc;
}

static int xen_gnt_unmap(struct xvio_gnt_map *base)
{
	map_release((struct xen_map *)base);
	return 0;
}

/* ---- domains ---- */

/* Privileged (a domctl): a domU gets the error of opening privcmd or -EPERM. */
static int xen_dom_info(struct xvio_plat *base, xvio_domid_t domid,
                        struct xvio_dominfo *info)
{
	struct xen_plat *p = to_plat(base);
	xc_domaininfo_t di;
	int rc, n;

	rc = get_xc(p);
	if (rc < 0)
		return rc;
	errno = 0;
	n = xc_domain_getinfolist(p->xc, domid, 1, &di);
	if (n < 0)
		return neg_errno();
	/* getinfolist returns the next domain >= domid: check it is ours. */
	if (n == 0 || di.domain != domid)
		return -ESRCH;
	memset(info, 0, sizeof(*info));
	info->domid = domid;
	info->dying = di.flags & XEN_DOMINF_dying;
	info->shutdown = di.flags & XEN_DOMINF_shutdown;
	info->shutdown_reason = (di.flags >> XEN_DOMINF_shutdownshift) &
	                        XEN_DOMINF_shutdownmask;
	info->tot_pages = di.tot_pages;
	info->max_pages = di.max_pages;
	return 0;
}

static xen_pfn_t *copy_gfns(unsigned count, const uint64_t *gfns)
{
	xen_pfn_t *a = calloc(count, sizeof(*a));

	if (a)
		for (unsigned i = 0; i < count; i++)
			a[i] = (xen_pfn_t)gfns[i];
	return a;
}

/*
 * XENMEM_decrease_reservation stops at the first gfn it cannot release
 * and keeps the ones before.  plat.h promises all or nothing, so those
 * are populated again (fresh zeroed pages: their old contents are lost,
 * which a balloon driver giving them away does not mind).
 *
 * Differences from the sim that callers must know: Xen does not refuse to
 * decrease a granted page (the page lives on until the grant mapping is
 * dropped), so the balloon driver must never pick granted pages itself.
 * And for a PV (not auto-translated) guest Xen reads these numbers as
 * machine frames, not gfns: use these calls on HVM/PVH guests only.
 */
static int xen_dom_decrease_reservation(struct xvio_plat *base, xvio_domid_t domid,
                                        unsigned count, const uint64_t *gfns)
{
	struct xen_plat *p = to_plat(base);
	xen_pfn_t *a;
	int rc, done;

	rc = get_xc(p);
	if (rc < 0)
		return rc;
	a = copy_gfns(count, gfns);
	if (!a)
		return -ENOMEM;
	errno = 0;
	done = xc_domain_decrease_reservation(p->xc, domid, count, 0, a);
	if (done < 0) {
		rc = neg_errno();
	} else if ((unsigned)done < count) {
		free(a);
		a = copy_gfns((unsigned)done, gfns);
		if (a && done > 0)
			xc_domain_populate_physmap(p->xc, domid, (unsigned)done, 0, 0, a);
		rc = -EINVAL;
	} else {
		rc = 0;
	}
	free(a);
	return rc;
}

/* Same shape: populate stops at the first failure (max_pages reached, or
 * the host out of memory); the populated prefix is released again. */
static int xen_dom_populate_physmap(struct xvio_plat *base, xvio_domid_t domid,
                                    unsigned count, const uint64_t *gfns)
{
	struct xen_plat *p = to_plat(base);
	xen_pfn_t *a;
	int rc, done;

	rc = get_xc(p);
	if (rc < 0)
		return rc;
	a = copy_gfns(count, gfns);
	if (!a)
		return -ENOMEM;
	errno = 0;
	done = xc_domain_populate_physmap(p->xc, domid, count, 0, 0, a);
	if (done < 0) {
		rc = neg_errno();
	} else if ((unsigned)done < count) {
		free(a);
		a = copy_gfns((unsigned)done, gfns);
		if (a && done > 0)
			xc_domain_decrease_reservation(p->xc, domid, (unsigned)done, 0, a);
		rc = -ENOMEM;
	} else {
		rc = 0;
	}
	free(a);
	return rc;
}

static int xen_dom_set_maxmem(struct xvio_plat *base, xvio_domid_t domid,
                              uint64_t max_kib)
{
	struct xen_plat *p = to_plat(base);
	int rc = get_xc(p);

	if (rc < 0)
		return rc;
	errno = 0;
	return xc_domain_setmaxmem(p->xc, domid, max_kib) < 0 ? neg_errno() : 0;
}

const struct xvio_plat_ops xvio_plat_xen_ops = {
	.name = "xen",
	.open = xen_open,
	.close = xen_close,
	.self_domid = xen_self_domid,
	.evtchn_open = xen_evtchn_open,
	.evtchn_close = xen_evtchn_close,
	.evtchn_fd = xen_evtchn_fd,
	.evtchn_alloc_unbound = xen_evtchn_alloc_unbound,
	.evtchn_bind_interdomain = xen_evtchn_bind_interdomain,
	.evtchn_notify = xen_evtchn_notify,
	.evtchn_unbind = xen_evtchn_unbind,
	.evtchn_pending = xen_evtchn_pending,
	.evtchn_unmask = xen_evtchn_unmask,
	.evtchn_status = xen_evtchn_status,
	.gnt_share = xen_gnt_share,
	.gnt_share_end = xen_gnt_share_end,
	.gnt_share_abandon = xen_gnt_share_abandon,
	.gnt_map = xen_gnt_map,
	.gnt_unmap = xen_gnt_unmap,
	.dom_info = xen_dom_info,
	.dom_decrease_reservation = xen_dom_decrease_reservation,
	.dom_populate_physmap = xen_dom_populate_physmap,
	.dom_set_maxmem = xen_dom_set_maxmem,
};
