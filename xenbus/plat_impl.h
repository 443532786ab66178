/* SPDX-License-Identifier: MIT */
/*
 * Private contract between the platform core (plat.c) and one file per
 * platform (plat_xen.c, plat_sim.c).  Nothing outside those files includes
 * this header.
 *
 * Each implementation allocates its own objects, which begin with the base
 * structs below, and fills in one ops table.  The core only dispatches and
 * checks arguments that do not depend on the platform (NULL handles, batch
 * sizes), so an implementation may assume count is in 1..XVIO_PLAT_MAX_BATCH
 * and pointers are non-NULL.
 */
#ifndef XVIO_PLAT_IMPL_H
#define XVIO_PLAT_IMPL_H

#include "plat.h"

struct xvio_plat_ops;

struct xvio_plat {
	const struct xvio_plat_ops *ops;
};

struct xvio_evtchn {
	const struct xvio_plat_ops *ops;
};

struct xvio_gnt_share {
	const struct xvio_plat_ops *ops;
};

struct xvio_gnt_map {
	const struct xvio_plat_ops *ops;
};

struct xvio_plat_ops {
	const char *name;

	int (*open)(struct xvio_plat **out);
	void (*close)(struct xvio_plat *p);
	int (*self_domid)(struct xvio_plat *p, xvio_domid_t *out);

	int (*evtchn_open)(struct xvio_plat *p, struct xvio_evtchn **out);
	void (*evtchn_close)(struct xvio_evtchn *e);
	int (*evtchn_fd)(struct xvio_evtchn *e);
	int (*evtchn_alloc_unbound)(struct xvio_evtchn *e, xvio_domid_t remote);
	int (*evtchn_bind_interdomain)(struct xvio_evtchn *e, xvio_domid_t remote,
	                               xvio_port_t remote_port);
	int (*evtchn_notify)(struct xvio_evtchn *e, xvio_port_t port);
	int (*evtchn_unbind)(struct xvio_evtchn *e, xvio_port_t port);
	int (*evtchn_pending)(struct xvio_evtchn *e);
	int (*evtchn_unmask)(struct xvio_evtchn *e, xvio_port_t port);
	int (*evtchn_status)(struct xvio_evtchn *e, xvio_port_t port);

	int (*gnt_share)(struct xvio_plat *p, xvio_domid_t grantee, unsigned count,
	                 bool writable, xvio_gref_t *refs, void **addr,
	                 struct xvio_gnt_share **out);
	int (*gnt_share_end)(struct xvio_gnt_share *s);
	void (*gnt_share_abandon)(struct xvio_gnt_share *s);

	int (*gnt_map)(struct xvio_plat *p, unsigned count, const xvio_domid_t *domids,
	               const xvio_gref_t *refs, bool writable, void **addr,
	               struct xvio_gnt_map **out);
	int (*gnt_unmap)(struct xvio_gnt_map *m);

	int (*dom_info)(struct xvio_plat *p, xvio_domid_t domid, struct xvio_dominfo *info);
	int (*dom_decrease_reservation)(struct xvio_plat *p, xvio_domid_t domid,
	                                unsigned count, const uint64_t *gfns);
	int (*dom_populate_physmap)(struct xvio_plat *p, xvio_domid_t domid,
	                            unsigned count, const uint64_t *gfns);
	int (*dom_set_maxmem)(struct xvio_plat *p, xvio_domid_t domid, uint64_t max_kib);
};

extern const struct xvio_plat_ops xvio_plat_xen_ops;
extern const struct xvio_plat_ops xvio_plat_sim_ops;

#endif /* XVIO_PLAT_IMPL_H */
