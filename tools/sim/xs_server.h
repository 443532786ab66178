/* SPDX-License-Identifier: MIT */
/*
 * The simulator's xenstore server: the Xen wire protocol (<xen/io/xs_wire.h>)
 * on unix sockets, for unmodified libxenstore and xenstore-utils clients.
 *
 * One listening socket per domain; a connection accepted on a domain's
 * socket acts as that domain for every request (domain 0 is privileged).
 * Semantics follow docs/misc/xenstore.txt; where the simulator picks a
 * behaviour (quotas, limits, errors) docs/architecture.md says which.
 *
 * Threading: single-threaded, driven by the simulator's event loop.
 */
#ifndef SIM_XS_SERVER_H
#define SIM_XS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct xss;

struct xss_hooks {
	void *arg;
	/* Does the hypervisor know domain `domid`?  (INTRODUCE, SET_TARGET) */
	bool (*domain_exists)(void *arg, uint16_t domid);
};

/* Per-domain quotas; 0 disables a check.  Domain 0 is never limited.
 * Defaults in parentheses (used when xss_new gets NULL). */
struct xss_quota {
	unsigned nodes;        /* nodes owned by the domain (1000) */
	unsigned node_size;    /* bytes of one node as C xenstored counts them:
	                        * 24 + 8 per perm + value + child names (2048) */
	unsigned watches;      /* watches per domain (128) */
	unsigned transactions; /* open transactions per connection (10) */
	unsigned outstanding;  /* requests queued per connection (20) */
	unsigned perms;        /* permission entries per node (5) */
	unsigned connections;  /* open connections per domain; more are
	                        * accepted and closed at once (64) */
};

/* The store starts with "/", "/local", "/local/domain" and "/tool". */
struct xss *xss_new(struct loop *l, const struct xss_hooks *hooks,
                    const struct xss_quota *quota /* NULL: defaults */);
void xss_free(struct xss *s);

/* Listen on `path` (created, replacing a stale socket) for domain `domid`. */
int xss_listen(struct xss *s, uint16_t domid, const char *path);

/*
 * The domain was introduced by the toolstack (also reachable by a dom0
 * INTRODUCE request): IS_DOMAIN_INTRODUCED answers T, @introduceDomain fires.
 */
void xss_domain_introduce(struct xss *s, uint16_t domid);

/* The domain shut down (still exists): @releaseDomain fires. */
void xss_domain_shutdown(struct xss *s, uint16_t domid);

/*
 * The domain is gone: close its listening socket (unlinking the path) and
 * every connection acting as it, drop its watches and transactions, remove
 * every node it owns together with their children, forget it as
 * introduced, and fire @releaseDomain.
 */
void xss_domain_destroyed(struct xss *s, uint16_t domid);

/* Write as domain 0 outside any transaction; watches fire.  0 or -errno. */
int xss_write(struct xss *s, const char *path, const char *value);

#endif
