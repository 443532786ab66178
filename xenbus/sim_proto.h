/* SPDX-License-Identifier: MIT */
/*
 * Wire protocol between a process and xvio-sim's simulated hypervisor.
 *
 * Transport: one AF_UNIX SOCK_SEQPACKET socket per domain,
 * DIR/dom<N>/hyp.sock (found through $XVIO_SIM_HYP).  A connection acts as
 * domain N for its whole life; domain 0 is privileged.  The daemon closes
 * the connection when the domain is destroyed.  A daemon out of file
 * descriptors accepts and closes new connections at once (the client sees
 * EOF or ECONNRESET) rather than leaving them pending.
 *
 * Exchange: strictly one request, then one reply, on a connection.  A
 * request is one datagram: struct xvio_sim_req followed by `count` payload
 * entries whose type depends on the op; its size must be exact.  A reply is
 * one datagram: struct xvio_sim_rep followed by an op-specific payload
 * (`count` page entries, or one fixed struct), with `nfds` file
 * descriptors attached as SCM_RIGHTS.  Error replies carry no payload and
 * no fds.  All integers are host-endian (the socket never leaves the host).
 *
 * Trust: the daemon treats every request as hostile.  A malformed datagram
 * (wrong size, truncated, oversized, non-zero padding, attached fds or
 * other ancillary data) closes the connection; an unknown op gets -ENOSYS;
 * a well-formed request with bad values (ids, refs, ports, counts) gets
 * -errno and changes nothing.  A client that sends a second request before
 * reading the first reply may be disconnected when its socket buffer
 * fills.  The client (plat_sim.c) checks replies as well: it refuses a
 * malformed one with -EPROTO and, if the header said the daemon made a
 * share, map or port, releases it (abandon, unmap, unbind) first.
 *
 * Objects: shares and maps are named by 64-bit handles the daemon issues;
 * a handle is valid only on the connection that created it.  Event-channel
 * ports are per domain (as on Xen) but each is owned by the connection
 * that allocated or bound it.  Closing a connection abandons its shares
 * (ended once no peer maps them), releases its maps and closes its ports.
 */
#ifndef XVIO_SIM_PROTO_H
#define XVIO_SIM_PROTO_H

#include <stdint.h>

#include "plat.h"

#define XVIO_SIM_PROTO_VERSION 2u

/* ---- limits (the daemon enforces them; the client relies on them) ---- */

/* Ports per domain.  Port 0 is never valid, as on Xen. */
#define XVIO_SIM_MAX_PORTS 1024u
/* Grant entries per domain (Xen's default of 64 v1 frames).  Refs below
 * XVIO_SIM_FIRST_REF are reserved for the toolstack, as on Xen. */
#define XVIO_SIM_MAX_GRANTS 32768u
#define XVIO_SIM_FIRST_REF 8u
/* Entries in one share, map, decrease or populate request. */
#define XVIO_SIM_MAX_BATCH XVIO_PLAT_MAX_BATCH
/* Distinct granting domains in one map request (one fd each). */
#define XVIO_SIM_MAX_MAP_DOMAINS 16u
/* Pages mapped through one connection at a time (Linux gntdev has such a
 * per-file limit too); -ENOMEM beyond. */
#define XVIO_SIM_MAX_CONN_MAPPED 65536u
/* Grant mappings held by all connections of one (mapping) domain at a
 * time, as Xen's maptrack table bounds them: Xen's default of 1024
 * maptrack frames x 512 entries.  Mapping the same grant twice takes two
 * entries.  -ENOMEM beyond, until some are unmapped. */
#define XVIO_SIM_MAX_MAPTRACK (1024u * 512u)
/* Connections accepted per guest domain (dom0, which runs the backends of
 * every guest, may have XVIO_SIM_MAX_CONNS_DOM0); more are closed at once. */
#define XVIO_SIM_MAX_CONNS 256u
#define XVIO_SIM_MAX_CONNS_DOM0 1024u
/* Largest gfn space of a domain, in pages (64 GiB). */
#define XVIO_SIM_MAX_DOM_PAGES (1u << 24)

/* ---- requests ---- */

enum xvio_sim_op {
	/* -> struct xvio_sim_hello.  No arguments. */
	XVIO_SIM_OP_HELLO = 1,

	/* domid = grantee, count = pages, flags = XVIO_SIM_F_WRITABLE.
	 * -> val = share handle, count x struct xvio_sim_page (ref, gfn),
	 *    1 fd: this domain's RAM, read-write. */
	XVIO_SIM_OP_GNT_SHARE = 2,
	/* arg = share handle.  -EBUSY while mapped by a peer. */
	XVIO_SIM_OP_GNT_SHARE_END = 3,
	/* arg = share handle.  Ends now, or once the peer unmaps. */
	XVIO_SIM_OP_GNT_SHARE_ABANDON = 4,

	/* count x struct xvio_sim_map_ent, flags = XVIO_SIM_F_WRITABLE.
	 * -> val = map handle, count x struct xvio_sim_page (fd, gfn),
	 *    nfds fds: the granting domains' RAM (read-only fds unless
	 *    writable). */
	XVIO_SIM_OP_GNT_MAP = 5,
	/* arg = map handle. */
	XVIO_SIM_OP_GNT_UNMAP = 6,

	/* domid = remote.  -> val = local port, 4 fds: [0] the port's
	 * receive eventfd, [1] the eventfd that notifies the peer, [2] and
	 * [3] their lines (struct xvio_sim_evtchn_line), one page each. */
	XVIO_SIM_OP_EVTCHN_ALLOC_UNBOUND = 7,
	/* domid = remote, arg = remote port.  -> as ALLOC_UNBOUND. */
	XVIO_SIM_OP_EVTCHN_BIND = 8,
	/* arg = local port (owned by this connection). */
	XVIO_SIM_OP_EVTCHN_UNBIND = 9,
	/* arg = port of this domain.  -> struct xvio_sim_evtchn_status. */
	XVIO_SIM_OP_EVTCHN_STATUS = 10,

	/* domid.  -> struct xvio_sim_dominfo. */
	XVIO_SIM_OP_DOM_INFO = 11,
	/* domid, count x uint64_t gfn. */
	XVIO_SIM_OP_DOM_DECREASE = 12,
	XVIO_SIM_OP_DOM_POPULATE = 13,
	/* domid, arg = KiB. */
	XVIO_SIM_OP_DOM_SET_MAXMEM = 14,
};

#define XVIO_SIM_F_WRITABLE 1u

/*
 * The state of one direction of a channel, at offset 0 of a page both
 * ends map (a memfd the daemon seals against shrinking, so neither end
 * can make the other's mapping fault).  Xen keeps this in the hypervisor;
 * here the ends keep it themselves, so that a wake-up costs what an
 * eventfd wake-up costs: no call to find the port and none to unmask it.
 *
 *   pending  set (exchanged to 1) by the sender, or by the daemon when it
 *            raises the port; cleared (exchanged to 0) by the receiver
 *            when it reports the port.  Only the 0 -> 1 edge writes the
 *            eventfd, and only while `masked` is 0.
 *   masked   the receiver's mask, mirrored here for the sender.  A
 *            receiver that unmasks looks at `pending` after the store and
 *            raises itself if it is set, so an event a sender held back
 *            is never lost.
 *
 * Both words are written by both processes: each end trusts only its own
 * copy of its mask and treats the words as hints (a peer that scribbles
 * on them can only silence or flood its own channel).
 */
struct xvio_sim_evtchn_line {
	uint32_t pending;
	uint32_t masked;
};

struct xvio_sim_req {
	uint32_t op;
	uint32_t count;   /* payload entries */
	uint32_t flags;
	uint16_t domid;
	uint16_t pad;     /* must be 0 */
	uint64_t arg;
};

struct xvio_sim_map_ent {
	uint16_t domid;
	uint16_t pad;     /* must be 0 */
	uint32_t ref;
};

/* ---- replies ---- */

struct xvio_sim_rep {
	int32_t err;      /* 0 or -errno */
	uint32_t count;   /* page entries in the payload */
	uint32_t nfds;    /* fds attached */
	uint32_t pad;
	uint64_t val;     /* handle or port */
};

struct xvio_sim_page {
	uint32_t ref;     /* share: the grant ref; map: as requested */
	uint32_t fd;      /* map: index into the attached fds */
	uint64_t gfn;     /* page offset in that fd */
};

struct xvio_sim_hello {
	uint32_t version;
	uint16_t domid;
	uint8_t privileged;
	uint8_t pad;
	uint32_t max_ports, max_grants, max_batch, pad2;
};

struct xvio_sim_evtchn_status {
	uint32_t state;        /* enum xvio_evtchn_state */
	uint16_t remote_domid; /* UNBOUND: who may bind; INTERDOMAIN: peer */
	uint16_t pad;
	uint32_t remote_port;  /* INTERDOMAIN only */
	uint32_t pad2;
};

struct xvio_sim_dominfo {
	uint16_t domid;
	uint8_t dying, shutdown;
	uint32_t shutdown_reason;
	uint64_t tot_pages, max_pages;
	/* Filled for privileged callers and a domain asking about itself. */
	uint32_t grants_active; /* grant entries in use */
	uint32_t maps_active;   /* pages of this domain mapped by anyone */
	uint32_t ports_bound;   /* ports not closed */
	uint32_t pad;
};

/* Largest datagram either side sends. */
#define XVIO_SIM_MAX_MSG \
	(sizeof(struct xvio_sim_rep) + XVIO_SIM_MAX_BATCH * sizeof(struct xvio_sim_page))

_Static_assert(sizeof(struct xvio_sim_req) == 24, "req layout");
_Static_assert(sizeof(struct xvio_sim_rep) == 24, "rep layout");
_Static_assert(sizeof(struct xvio_sim_map_ent) == 8, "map_ent layout");
_Static_assert(sizeof(struct xvio_sim_page) == 16, "page layout");
_Static_assert(sizeof(struct xvio_sim_hello) == 24, "hello layout");
_Static_assert(sizeof(struct xvio_sim_evtchn_status) == 16, "status layout");
_Static_assert(sizeof(struct xvio_sim_dominfo) == 40, "dominfo layout");
_Static_assert(sizeof(struct xvio_sim_req) + XVIO_SIM_MAX_BATCH * sizeof(uint64_t)
               <= XVIO_SIM_MAX_MSG, "requests fit");

#endif /* XVIO_SIM_PROTO_H */
