/* SPDX-License-Identifier: MIT */
/*
 * The simulated hypervisor: domains with memfd RAM, grant tables and event
 * channels, served to processes through one socket per domain (the protocol
 * in xenbus/sim_proto.h; the client is xenbus/plat_sim.c).  A connection
 * accepted on a domain's socket acts as that domain; domain 0 is
 * privileged.
 *
 * Threading: single-threaded, driven by the simulator's event loop.
 */
#ifndef SIM_HYP_H
#define SIM_HYP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct hyp;

struct hyp_hooks {
	void *arg;
	/*
	 * A destroyed domain's last mapping went away and its record was
	 * freed: the domid may be reused from now on.
	 */
	void (*domain_freed)(void *arg, uint16_t domid);
};

struct hyp *hyp_new(struct loop *l, const struct hyp_hooks *hooks);
void hyp_free(struct hyp *h);

/* Listen on `path` for processes of domain `domid` (must exist). */
int hyp_listen(struct hyp *h, uint16_t domid, const char *path);

/* Domain 0 exists from hyp_new(), with no RAM of its own to grant from
 * until hyp_domain_create(h, 0, ...) gives it some. */
int hyp_domain_create(struct hyp *h, uint16_t domid, uint64_t mem_kib, uint64_t maxmem_kib);

/*
 * Destroy: close the domain's socket and connections (its processes are
 * the caller's business), end its event channels (peers see them unbound),
 * and free its RAM once no other domain maps any of its pages; until then
 * the domain is reported dying.  -ESRCH if unknown, -EBUSY if already dying.
 */
int hyp_domain_destroy(struct hyp *h, uint16_t domid);

/* Mark shut down with a reason (SHUTDOWN_* of xen/sched.h). */
int hyp_domain_shutdown(struct hyp *h, uint16_t domid, unsigned reason);

struct hyp_dominfo {
	uint16_t domid;
	bool dying, shutdown;
	unsigned shutdown_reason;
	uint64_t tot_pages, max_pages;
	unsigned grants_active;  /* grant entries in use */
	unsigned maps_active;    /* pages of this domain mapped by others */
	unsigned ports_bound;
};

/* 0 and *info, or -ESRCH. */
int hyp_domain_info(struct hyp *h, uint16_t domid, struct hyp_dominfo *info);

/* Iterate: the first domid > `after` (use -1 to start), or -ESRCH at the end. */
int hyp_domain_next(struct hyp *h, int after);

#endif
