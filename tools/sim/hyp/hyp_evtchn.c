/* SPDX-License-Identifier: MIT */
/*
 * Event channels.
 *
 * Ports are per domain (1 .. XVIO_SIM_MAX_PORTS-1, lowest free first, as
 * on Xen) and owned by the connection that allocated or bound them.  Each
 * port has a receive eventfd (rx) and a transmit eventfd (tx), both handed
 * to its owner; a notify is a write to tx that the peer's process sees on
 * its rx, with no daemon in the path.  The pair is fixed for the port's
 * life: binding port L to unbound port R makes L.rx = R.tx and L.tx = R.rx.
 * When R's peer closes, R keeps its tx, so a later binder gets the same
 * eventfd and R's owner keeps notifying the right file without being told.
 *
 * Each eventfd has a line (sim_proto.h): the pending bit and the
 * receiver's mask, in a page both ends map, so that the ends report and
 * unmask ports without a call.  The daemon raises a port the way a sender
 * does: set pending, write the eventfd unless the receiver has it masked.
 * The pages are sealed at their size: a process can write the words but
 * cannot shrink the file under another's mapping.
 *
 * What Xen does and we copy: binding raises the binder's port (an event
 * sent to the unbound port may have been lost); closing one end turns the
 * other UNBOUND, still offered to the closer's domain.  What we add (see
 * plat.h): that other end is raised once so a sleeping owner wakes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "barrier.h"
#include "hyp_impl.h"

static void efd_free(struct hyp_efd *e)
{
	if (e->line)
		munmap(e->line, XVIO_PAGE_SIZE);
	if (e->memfd >= 0)
		close(e->memfd);
	if (e->fd >= 0)
		close(e->fd);
	free(e);
}

static int line_page(struct hyp_efd *e)
{
	void *p;

	e->memfd = memfd_create("xvio-evtchn", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (e->memfd < 0)
		return -1;
	if (ftruncate(e->memfd, XVIO_PAGE_SIZE) < 0 ||
	    fcntl(e->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -1;
	p = mmap(NULL, XVIO_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, e->memfd, 0);
	if (p == MAP_FAILED)
		return -1;
	e->line = p;
	return 0;
}

static struct hyp_efd *efd_new(void)
{
	struct hyp_efd *e = malloc(sizeof(*e));

	if (!e)
		return NULL;
	e->memfd = -1;
	e->line = NULL;
	e->refs = 1;
	e->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->fd < 0 || line_page(e) < 0) {
		int err = errno;

		efd_free(e);
		errno = err;
		return NULL;
	}
	return e;
}

static struct hyp_efd *efd_get(struct hyp_efd *e)
{
	e->refs++;
	return e;
}

static void efd_put(struct hyp_efd *e)
{
	if (--e->refs == 0)
		efd_free(e);
}

static void efd_write(struct hyp_efd *e)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is saturated: already pending. */
	if (write(e->fd, &one, sizeof(one)) < 0)
		return;
}

/* Raise the port that receives on `e`, as a sender's notify does. */
static void efd_kick(struct hyp_efd *e)
{
	/* The exchange pairs with the receiver's fence between its mask store
	 * and its pending load (unmask): one of us sees the other. */
	if (xvio_xchg32(&e->line->pending, 1) == 0 && xvio_load32(&e->line->masked) == 0)
		efd_write(e);
}

static int port_free_slot(const struct hyp_dom *d)
{
	for (uint32_t p = 1; p < XVIO_SIM_MAX_PORTS; p++) {
		if (d->ports[p].state == XVIO_EVTCHN_CLOSED)
			return (int)p;
	}
	return -ENOSPC;
}

static uint16_t resolve(const struct hyp_conn *c, uint16_t domid)
{
	return domid == DOMID_SELF ? c->dom->domid : domid;
}

static void reply_port(struct hyp_msg *m, uint32_t port, const struct hyp_port *p)
{
	m->rep->val = port;
	m->fds[0] = p->rx->fd;
	m->fds[1] = p->tx->fd;
	m->fds[2] = p->rx->memfd;
	m->fds[3] = p->tx->memfd;
	m->nfds = 4;
}

static void port_close(struct hyp_dom *d, uint32_t port)
{
	struct hyp_port *l = &d->ports[port];

	if (l->state == XVIO_EVTCHN_INTERDOMAIN) {
		/* The peer is live: a dying domain has no ports left. */
		struct hyp_port *r = &d->h->doms[l->remote_dom]->ports[l->remote_port];

		r->state = XVIO_EVTCHN_UNBOUND;
		r->remote_port = 0;
		efd_kick(r->rx);
	}
	efd_put(l->rx);
	efd_put(l->tx);
	memset(l, 0, sizeof(*l));
	d->ports_bound--;
}

int hyp_op_evtchn_alloc_unbound(struct hyp_conn *c, struct hyp_msg *m)
{
	struct hyp_dom *d = c->dom;
	uint16_t remote = resolve(c, m->req->domid);
	struct hyp_port *l;
	int port;

	if (!hyp_dom_get(d->h, remote))
		return -ESRCH;
	port = port_free_slot(d);
	if (port < 0)
		return port;
	l = &d->ports[port];
	l->rx = efd_new();
	l->tx = l->rx ? efd_new() : NULL;
	if (!l->tx) {
		int err = errno ? -errno : -ENOMEM;

		if (l->rx)
			efd_put(l->rx);
		l->rx = NULL;
		return err;
	}
	l->state = XVIO_EVTCHN_UNBOUND;
	l->remote_dom = remote;
	l->remote_port = 0;
	l->owner = c;
	d->ports_bound++;
	reply_port(m, (uint32_t)port, l);
	return 0;
}

int hyp_op_evtchn_bind(struct hyp_conn *c, struct hyp_msg *m)
{
	struct hyp_dom *d = c->dom, *rd;
	uint64_t rport = m->req->arg;
	struct hyp_port *l, *r;
	int port;

	rd = hyp_dom_get(d->h, resolve(c, m->req->domid));
	if (!rd)
		return -ESRCH;
	if (rport == 0 || rport >= XVIO_SIM_MAX_PORTS)
		return -EINVAL;
	r = &rd->ports[rport];
	if (r->state != XVIO_EVTCHN_UNBOUND || r->remote_dom != d->domid)
		return -EINVAL;
	port = port_free_slot(d);
	if (port < 0)
		return port;
	l = &d->ports[port];
	l->rx = efd_get(r->tx);
	l->tx = efd_get(r->rx);
	l->state = XVIO_EVTCHN_INTERDOMAIN;
	l->remote_dom = rd->domid;
	l->remote_port = (uint32_t)rport;
	l->owner = c;
	r->state = XVIO_EVTCHN_INTERDOMAIN;
	r->remote_port = (uint32_t)port;
	d->ports_bound++;
	/* The line may keep the mask and the bit of an earlier binder that
	 * left: the new owner starts unmasked, and, as on Xen (what was sent
	 * to the unbound port may be lost), raised whatever the bit was. */
	xvio_store32(&l->rx->line->masked, 0);
	xvio_xchg32(&l->rx->line->pending, 1);
	efd_write(l->rx);
	reply_port(m, (uint32_t)port, l);
	return 0;
}

int hyp_op_evtchn_unbind(struct hyp_conn *c, struct hyp_msg *m)
{
	uint64_t port = m->req->arg;

	if (port == 0 || port >= XVIO_SIM_MAX_PORTS || c->dom->ports[port].owner != c)
		return -EINVAL;
	port_close(c->dom, (uint32_t)port);
	return 0;
}

int hyp_op_evtchn_status(struct hyp_conn *c, struct hyp_msg *m)
{
	struct xvio_sim_evtchn_status *o = m->out;
	uint64_t port = m->req->arg;

	memset(o, 0, sizeof(*o));
	if (port > 0 && port < XVIO_SIM_MAX_PORTS) {
		const struct hyp_port *p = &c->dom->ports[port];

		o->state = p->state;
		o->remote_domid = p->remote_dom;
		o->remote_port = p->remote_port;
	}
	m->outlen = sizeof(*o);
	return 0;
}

void hyp_evtchn_conn_close(struct hyp_conn *c)
{
	struct hyp_dom *d = c->dom;

	for (uint32_t p = 1; p < XVIO_SIM_MAX_PORTS && d->ports_bound; p++) {
		if (d->ports[p].owner == c)
			port_close(d, p);
	}
}
