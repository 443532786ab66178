/* SPDX-License-Identifier: MIT */
/*
 * Internals of the simulated hypervisor, shared by its files:
 *
 *   hyp.c         sockets, connections, request validation and dispatch
 *   hyp_dom.c     domains, their RAM (a memfd) and page accounting
 *   hyp_grant.c   grant tables: shares (granting side) and maps
 *   hyp_evtchn.c  event channels
 *
 * Ownership: struct hyp owns every domain; a domain owns its connections,
 * grant table and ports; a connection owns the shares and maps it made
 * (through handle tables) and the ports it allocated or bound.  A share
 * whose connection went away is "abandoned": it lives on, reachable only
 * from its grant entries, until its last mapping goes.  A destroyed domain
 * stays (dying) until no page of it is mapped.
 *
 * Single-threaded: everything runs from the simulator's event loop.
 */
#ifndef SIM_HYP_IMPL_H
#define SIM_HYP_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>

#include "hyp.h"
#include "sim_proto.h"

#define HYP_NDOMS DOMID_FIRST_RESERVED

struct loop_src;
struct sim_acceptor;
struct sim_listener;
struct hyp_conn;
struct hyp_share;

/* Handle table: 64-bit ids (generation << 32 | slot) naming objects of
 * one connection, so a peer's id is never turned into a pointer. */
struct hyp_slots {
	void **obj;
	uint32_t *gen;
	uint32_t cap, used, hint;
};

/* One direction of a channel: an eventfd and its line page (sim_proto.h),
 * shared by the two ends (rx of one port is tx of its peer), refcounted
 * because either end may close first. */
struct hyp_efd {
	int fd;
	int memfd;                              /* the line's page, sealed */
	struct xvio_sim_evtchn_line *line;      /* our mapping of it */
	unsigned refs;
};

struct hyp_port {
	uint8_t state;            /* enum xvio_evtchn_state */
	uint16_t remote_dom;      /* UNBOUND: who may bind; else the peer */
	uint32_t remote_port;     /* INTERDOMAIN only */
	struct hyp_conn *owner;   /* NULL iff CLOSED */
	struct hyp_efd *rx, *tx;
};

struct hyp_gnt {
	struct hyp_share *share;  /* NULL: entry free */
	uint64_t gfn;
	uint32_t maps;            /* live mappings of this entry */
	uint16_t grantee;
	bool ro;
};

enum { PG_UNPOP = 0, PG_FREE, PG_USED, PG_MARK };

struct hyp_dom {
	struct hyp *h;
	uint16_t domid;
	bool dying, shutdown;
	unsigned shutdown_reason;

	/* RAM: gfn g is page g of memfd; rofd is a read-only reopen. */
	int memfd, rofd;
	uint8_t *pages;           /* PG_* per gfn */
	uint64_t npages, tot_pages, max_pages, nfree, alloc_hint;

	/* Grant table, grown on demand up to XVIO_SIM_MAX_GRANTS. */
	struct hyp_gnt *gnt;
	uint32_t gnt_cap, gnt_used, gnt_cursor;
	uint32_t maps_active;     /* mappings of this domain's grants */

	struct hyp_port ports[XVIO_SIM_MAX_PORTS];
	uint32_t ports_bound;

	/* Processes: the listening socket and its connections. */
	struct sim_listener *ls;
	struct hyp_conn *conns;
	unsigned nconns;
	uint32_t maptrack;        /* grant mappings held by its connections */

	/* Rate limit for "dropping client" lines: the last one logged, and
	 * how many drops were not logged since. */
	bool drop_logged;
	uint64_t drop_log_ms;
	uint32_t drops_quiet;
};

struct hyp_conn {
	struct hyp_dom *dom;
	int fd;
	struct loop_src *src;
	struct hyp_conn *next, *prev;
	struct hyp_slots shares, maps;
	uint32_t mapped;          /* pages mapped through this connection */
};

struct hyp {
	struct loop *loop;
	struct hyp_hooks hooks;
	struct hyp_dom *doms[HYP_NDOMS];

	/* Every domain's listener; sheds or pauses out of descriptors. */
	struct sim_acceptor *acc;
};

/* One request being served.  Handlers fill rep, the payload in out
 * (outlen bytes) and fds to attach (owned by the daemon, not closed). */
struct hyp_msg {
	const struct xvio_sim_req *req;
	const void *payload;
	struct xvio_sim_rep *rep;
	void *out;
	size_t outlen;
	int fds[XVIO_SIM_MAX_MAP_DOMAINS];
	unsigned nfds;
};

/* hyp.c */
void hyp_conn_close(struct hyp_conn *c);
void hyp_dom_unlisten(struct hyp_dom *d);
static inline bool hyp_privileged(const struct hyp_conn *c)
{
	return c->dom->domid == 0;
}

/* hyp_dom.c */
struct hyp_dom *hyp_dom_get(struct hyp *h, uint32_t domid);   /* live only */
struct hyp_dom *hyp_dom_alloc(struct hyp *h, uint16_t domid);
void hyp_dom_free(struct hyp_dom *d);
void hyp_dom_maybe_free(struct hyp_dom *d);
int hyp_dom_alloc_pages(struct hyp_dom *d, unsigned count, uint64_t *gfns);
void hyp_dom_free_pages(struct hyp_dom *d, unsigned count, const uint64_t *gfns);
int hyp_op_dom_info(struct hyp_conn *c, struct hyp_msg *m);
int hyp_op_dom_decrease(struct hyp_conn *c, struct hyp_msg *m);
int hyp_op_dom_populate(struct hyp_conn *c, struct hyp_msg *m);
int hyp_op_dom_set_maxmem(struct hyp_conn *c, struct hyp_msg *m);

/* hyp_grant.c */
int hyp_slots_put(struct hyp_slots *s, void *obj, uint64_t *id);
void *hyp_slots_get(const struct hyp_slots *s, uint64_t id);
void hyp_slots_del(struct hyp_slots *s, uint64_t id);
void hyp_slots_fini(struct hyp_slots *s);
void hyp_grant_conn_close(struct hyp_conn *c);
void hyp_grant_dom_fini(struct hyp_dom *d);
int hyp_op_gnt_share(struct hyp_conn *c, struct hyp_msg *m);
int hyp_op_gnt_share_end(struct hyp_conn *c, struct hyp_msg *m);
int hyp_op_gnt_share_abandon(struct hyp_conn *c, struct hyp_msg *m);
int hyp_op_gnt_map(struct hyp_conn *c, struct hyp_msg *m);
int hyp_op_gnt_unmap(struct hyp_conn *c, struct hyp_msg *m);

/* hyp_evtchn.c */
void hyp_evtchn_conn_close(struct hyp_conn *c);
int hyp_op_evtchn_alloc_unbound(struct hyp_conn *c, struct hyp_msg *m);
int hyp_op_evtchn_bind(struct hyp_conn *c, struct hyp_msg *m);
int hyp_op_evtchn_unbind(struct hyp_conn *c, struct hyp_msg *m);
int hyp_op_evtchn_status(struct hyp_conn *c, struct hyp_msg *m);

#endif
