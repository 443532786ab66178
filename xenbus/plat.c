/* SPDX-License-Identifier: MIT */
/*
 * Platform core: picks an implementation and dispatches to it.  Argument
 * checks that do not depend on the platform live here, once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plat_impl.h"

static const struct xvio_plat_ops *const platforms[] = {
	&xvio_plat_xen_ops,
	&xvio_plat_sim_ops,
};

static const char *default_platform(void)
{
	const char *env = getenv("XVIO_PLATFORM");

	if (env && *env)
		return env;
	/* /dev/xen holds evtchn, gntdev and gntalloc when running on Xen. */
	return access("/dev/xen", F_OK) == 0 ? "xen" : "sim";
}

int xvio_plat_open(const char *which, struct xvio_plat **out)
{
	if (!out)
		return -EINVAL;
	if (!which)
		which = default_platform();
	for (size_t i = 0; i < sizeof(platforms) / sizeof(platforms[0]); i++) {
		if (strcmp(platforms[i]->name, which) == 0)
			return platforms[i]->open(out);
	}
	return -EINVAL;
}

void xvio_plat_close(struct xvio_plat *p)
{
	if (p)
		p->ops->close(p);
}

const char *xvio_plat_name(const struct xvio_plat *p)
{
	return p->ops->name;
}

int xvio_plat_self_domid(struct xvio_plat *p, xvio_domid_t *out)
{
	if (!p || !out)
		return -EINVAL;
	return p->ops->self_domid(p, out);
}

/* ---- event channels ---- */

int xvio_evtchn_open(struct xvio_plat *p, struct xvio_evtchn **out)
{
	if (!p || !out)
		return -EINVAL;
	return p->ops->evtchn_open(p, out);
}

void xvio_evtchn_close(struct xvio_evtchn *e)
{
	if (e)
		e->ops->evtchn_close(e);
}

int xvio_evtchn_fd(struct xvio_evtchn *e)
{
	return e ? e->ops->evtchn_fd(e) : -EINVAL;
}

int xvio_evtchn_alloc_unbound(struct xvio_evtchn *e, xvio_domid_t remote)
{
	return e ? e->ops->evtchn_alloc_unbound(e, remote) : -EINVAL;
}

int xvio_evtchn_bind_interdomain(struct xvio_evtchn *e, xvio_domid_t remote,
                                 xvio_port_t remote_port)
{
	return e ? e->ops->evtchn_bind_interdomain(e, remote, remote_port) : -EINVAL;
}

int xvio_evtchn_notify(struct xvio_evtchn *e, xvio_port_t port)
{
	return e ? e->ops->evtchn_notify(e, port) : -EINVAL;
}

int xvio_evtchn_unbind(struct xvio_evtchn *e, xvio_port_t port)
{
	return e ? e->ops->evtchn_unbind(e, port) : -EINVAL;
}

int xvio_evtchn_pending(struct xvio_evtchn *e)
{
	return e ? e->ops->evtchn_pending(e) : -EINVAL;
}

int xvio_evtchn_unmask(struct xvio_evtchn *e, xvio_port_t port)
{
	return e ? e->ops->evtchn_unmask(e, port) : -EINVAL;
}

int xvio_evtchn_status(struct xvio_evtchn *e, xvio_port_t port)
{
	return e ? e->ops->evtchn_status(e, port) : -EINVAL;
}

/* ---- grants ---- */

static bool batch_ok(unsigned count)
{
	return count >= 1 && count <= XVIO_PLAT_MAX_BATCH;
}

int xvio_gnt_share(struct xvio_plat *p, xvio_domid_t grantee, unsigned count,
                   bool writable, xvio_gref_t *refs, void **addr,
                   struct xvio_gnt_share **out)
{
	if (!p || !refs || !addr || !out || !batch_ok(count))
		return -EINVAL;
	return p->ops->gnt_share(p, grantee, count, writable, refs, addr, out);
}

int xvio_gnt_share_end(struct xvio_gnt_share *s)
{
	return s ? s->ops->gnt_share_end(s) : -EINVAL;
}

void xvio_gnt_share_abandon(struct xvio_gnt_share *s)
{
	if (s)
		s->ops->gnt_share_abandon(s);
}

int xvio_gnt_map(struct xvio_plat *p, unsigned count, const xvio_domid_t *domids,
                 const xvio_gref_t *refs, bool writable, void **addr,
                 struct xvio_gnt_map **out)
{
	if (!p || !domids || !refs || !addr || !out || !batch_ok(count))
		return -EINVAL;
	return p->ops->gnt_map(p, count, domids, refs, writable, addr, out);
}

int xvio_gnt_map_domain(struct xvio_plat *p, xvio_domid_t domid, unsigned count,
                        const xvio_gref_t *refs, bool writable, void **addr,
                        struct xvio_gnt_map **out)
{
	xvio_domid_t domids[XVIO_PLAT_MAX_BATCH];

	if (!batch_ok(count))
		return -EINVAL;
	for (unsigned i = 0; i < count; i++)
		domids[i] = domid;
	return xvio_gnt_map(p, count, domids, refs, writable, addr, out);
}

int xvio_gnt_unmap(struct xvio_gnt_map *m)
{
	return m ? m->ops->gnt_unmap(m) : -EINVAL;
}

/* ---- domains ---- */

int xvio_dom_info(struct xvio_plat *p, xvio_domid_t domid, struct xvio_dominfo *info)
{
	if (!p || !info)
		return -EINVAL;
	return p->ops->dom_info(p, domid, info);
}

int xvio_dom_decrease_reservation(struct xvio_plat *p, xvio_domid_t domid,
                                  unsigned count, const uint64_t *gfns)
{
	if (!p || !gfns || !batch_ok(count))
		return -EINVAL;
	return p->ops->dom_decrease_reservation(p, domid, count, gfns);
}

int xvio_dom_populate_physmap(struct xvio_plat *p, xvio_domid_t domid,
                              unsigned count, const uint64_t *gfns)
{
	if (!p || !gfns || !batch_ok(count))
		return -EINVAL;
	return p->ops->dom_populate_physmap(p, domid, count, gfns);
}

int xvio_dom_set_maxmem(struct xvio_plat *p, xvio_domid_t domid, uint64_t max_kib)
{
	return p ? p->ops->dom_set_maxmem(p, domid, max_kib) : -EINVAL;
}
