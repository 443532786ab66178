/* SPDX-License-Identifier: MIT */
/*
 * The platform layer: the only code in xvio that reaches the hypervisor.
 *
 * It covers what split drivers need from Xen besides xenstore: event
 * channels, grant tables (both the granting and the mapping side) and a few
 * domain operations.  Two implementations sit behind this header and are
 * chosen at run time by xvio_plat_open():
 *
 *   xen  over libxenevtchn, libxengnttab/gntshr and libxenctrl;
 *   sim  a client of xvio-sim (tools/sim), reached through $XVIO_SIM_HYP.
 *
 * Nothing above this header knows which one runs.  xenstore is deliberately
 * not part of it: every layer uses the real libxenstore, which reaches the
 * simulator's xenstore server through $XENSTORED_PATH.
 *
 * Error convention (see docs/architecture.md): every function returning int
 * returns a non-negative value on success and -errno on failure.  Functions
 * never log and never abort on bad arguments from callers.
 *
 * Threading: a handle (struct xvio_plat, struct xvio_evtchn) and the objects
 * made from it may be used by one thread at a time; callers serialise.
 * Different handles are independent.  Notification (xvio_evtchn_notify) is
 * the only call designed for a hot path; it makes no round trip to a daemon
 * on either platform.
 */
#ifndef XVIO_PLAT_H
#define XVIO_PLAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XVIO_PAGE_SHIFT 12
#define XVIO_PAGE_SIZE (1u << XVIO_PAGE_SHIFT)

/* Largest batch accepted by one share or map call. */
#define XVIO_PLAT_MAX_BATCH 1024u

typedef uint16_t xvio_domid_t;
typedef uint32_t xvio_gref_t;
typedef uint32_t xvio_port_t;

struct xvio_plat;
struct xvio_evtchn;
struct xvio_gnt_share;
struct xvio_gnt_map;

/* ---- opening the platform ---------------------------------------------- */

/*
 * Open the platform.  `which` is "xen", "sim", or NULL for the default:
 * $XVIO_PLATFORM if set, else "xen" when /dev/xen exists, else "sim".
 * Returns 0 and a handle in *out, or -errno (-ENOENT when the simulator's
 * socket cannot be found, -EINVAL for an unknown name).
 *
 * Lifetime: the handle owns every share and mapping made through it that
 * was not released; xvio_plat_close() releases them (ending a share that is
 * still mapped by a peer is left to the platform, as Linux's gntalloc
 * defers it).  Event-channel handles are separate and must be closed first.
 */
int xvio_plat_open(const char *which, struct xvio_plat **out);
void xvio_plat_close(struct xvio_plat *p);

/* "xen" or "sim". */
const char *xvio_plat_name(const struct xvio_plat *p);

/* The domain this process runs in. */
int xvio_plat_self_domid(struct xvio_plat *p, xvio_domid_t *out);

/* ---- event channels (libxenevtchn semantics) --------------------------- */

/*
 * One handle multiplexes any number of local ports behind one pollable fd.
 * A port that fired is reported once by xvio_evtchn_pending() and is then
 * masked until xvio_evtchn_unmask(); notifications that arrive meanwhile are
 * latched and reported after the unmask, never lost.
 */
int xvio_evtchn_open(struct xvio_plat *p, struct xvio_evtchn **out);

/* Unbinds every port still bound through the handle. */
void xvio_evtchn_close(struct xvio_evtchn *e);

/* Readable (POLLIN) while a port is pending.  Owned by the handle. */
int xvio_evtchn_fd(struct xvio_evtchn *e);

/* Allocate a port that `remote` may bind to.  Returns the local port. */
int xvio_evtchn_alloc_unbound(struct xvio_evtchn *e, xvio_domid_t remote);

/*
 * Bind to `remote_port` of domain `remote`, which must be an unbound port
 * allocated for this domain.  Returns the local port, -EINVAL if the remote
 * port is not unbound or not offered to us, -ESRCH if `remote` is gone.
 */
int xvio_evtchn_bind_interdomain(struct xvio_evtchn *e, xvio_domid_t remote,
                                 xvio_port_t remote_port);

/*
 * Signal the other end of `port`.  -EINVAL if the port is not bound through
 * this handle.  As on Xen, a notify on a port whose peer has closed is
 * silently dropped (check xvio_evtchn_status() to tell).
 */
int xvio_evtchn_notify(struct xvio_evtchn *e, xvio_port_t port);

/* Close a local port.  The peer's port becomes unbound (see status). */
int xvio_evtchn_unbind(struct xvio_evtchn *e, xvio_port_t port);

/* Next pending port (now masked), or -EAGAIN if none.  Never blocks. */
int xvio_evtchn_pending(struct xvio_evtchn *e);

int xvio_evtchn_unmask(struct xvio_evtchn *e, xvio_port_t port);

enum xvio_evtchn_state {
	XVIO_EVTCHN_CLOSED = 0,      /* no such port (or it was closed) */
	XVIO_EVTCHN_UNBOUND = 1,     /* waiting for, or lost, its peer */
	XVIO_EVTCHN_INTERDOMAIN = 2, /* connected to a peer port */
};

/*
 * State of a local port.  When the peer of an interdomain port closes, the
 * local port turns UNBOUND and its pending flag is raised once so that a
 * sleeping owner wakes up and looks.
 */
int xvio_evtchn_status(struct xvio_evtchn *e, xvio_port_t port);

/* ---- grants, granting side (frontend) ---------------------------------- */

/*
 * Allocate `count` fresh zeroed pages of this domain and grant each to
 * domain `grantee`, read-only unless `writable`.  On success *addr is the
 * local mapping (count contiguous pages), refs[0..count) the grant
 * references in page order.
 */
int xvio_gnt_share(struct xvio_plat *p, xvio_domid_t grantee, unsigned count,
                   bool writable, xvio_gref_t *refs, void **addr,
                   struct xvio_gnt_share **out);

/*
 * End the grants and free the pages.  Fails with -EBUSY, changing nothing,
 * while the grantee still maps any of the pages (as ending a grant in use
 * fails on Xen); the caller retries after the peer unmapped, or gives the
 * share up with xvio_gnt_share_abandon().
 */
int xvio_gnt_share_end(struct xvio_gnt_share *s);

/*
 * Unmap locally and leave the grants to be ended by the platform once the
 * peer lets go (Linux's deferred gnttab_end_foreign_access).  Never fails;
 * use it on teardown paths where the peer may be hostile or dead.
 */
void xvio_gnt_share_abandon(struct xvio_gnt_share *s);

/* ---- grants, mapping side (backend) ------------------------------------ */

/*
 * Map `count` grants, ref refs[i] of domain domids[i], into one contiguous
 * range at *addr (page i at *addr + i * XVIO_PAGE_SIZE).  All or nothing:
 * -EINVAL if any ref was never granted to this domain or was ended,
 * -EACCES if `writable` but a grant is read-only, -ESRCH if a domain is
 * gone.  A read-only mapping faults on write.
 *
 * Lifetime: the mapping stays valid until xvio_gnt_unmap(), even if the
 * granting domain dies meanwhile (as on Xen).
 */
int xvio_gnt_map(struct xvio_plat *p, unsigned count, const xvio_domid_t *domids,
                 const xvio_gref_t *refs, bool writable, void **addr,
                 struct xvio_gnt_map **out);

/* Same, with every ref from one domain. */
int xvio_gnt_map_domain(struct xvio_plat *p, xvio_domid_t domid, unsigned count,
                        const xvio_gref_t *refs, bool writable, void **addr,
                        struct xvio_gnt_map **out);

int xvio_gnt_unmap(struct xvio_gnt_map *m);

/* ---- domains ------------------------------------------------------------ */

struct xvio_dominfo {
	xvio_domid_t domid;
	bool dying;          /* destroyed; pages still held by mappings */
	bool shutdown;       /* shut down (see shutdown_reason) */
	unsigned shutdown_reason;
	uint64_t tot_pages;  /* pages currently populated */
	uint64_t max_pages;  /* ceiling set by set_maxmem */
};

/* 0 and *info, -ESRCH when the domain does not exist (any more), -EPERM
 * when an unprivileged domain asks about another domain. */
int xvio_dom_info(struct xvio_plat *p, xvio_domid_t domid, struct xvio_dominfo *info);

/*
 * Balloon operations: give pages back to the hypervisor by gfn and
 * populate gfns again (privileged, or on the caller's own domain), and set
 * the domain's page ceiling (privileged only: a domctl on Xen).  decrease
 * fails with -EINVAL, changing nothing, if a gfn is not populated or is
 * granted; populate fails with -ENOMEM beyond max_pages.  -EPERM when not
 * allowed.
 */
int xvio_dom_decrease_reservation(struct xvio_plat *p, xvio_domid_t domid,
                                  unsigned count, const uint64_t *gfns);
int xvio_dom_populate_physmap(struct xvio_plat *p, xvio_domid_t domid,
                              unsigned count, const uint64_t *gfns);
int xvio_dom_set_maxmem(struct xvio_plat *p, xvio_domid_t domid, uint64_t max_kib);

#endif /* XVIO_PLAT_H */
