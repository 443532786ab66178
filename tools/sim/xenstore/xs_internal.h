/* SPDX-License-Identifier: MIT */
/*
 * Internals of the simulator's xenstore server (see xs_server.h).
 *
 * Files and roles:
 *   xs_util.c   pure helpers: path syntax, permission strings, numbers,
 *               error names, a string-keyed hash map (unit-tested alone)
 *   xs_store.c  the committed node table, generations, ownership counts
 *   xs_txn.c    transactions: a per-transaction overlay of the store, the
 *               "view" every request works on, conflict checks, commit
 *   xs_watch.c  watches, event matching and permissions, special watches
 *   xs_conn.c   listening sockets, connections, framing, output queues,
 *               flow control
 *   xs_ops.c    one handler per store request type, the dispatcher
 *   xs_session.c  watch and transaction requests
 *   xs_server.c xss_* entry points, the domain table, domain lifecycle
 *
 * Model.  The store is a hash map from absolute path to node, as in C
 * xenstored's TDB: a node holds its value, its permissions and the names of
 * its children (NUL-separated, in creation order).  Every change of a node
 * gives it a fresh generation from one 64-bit counter; generation 0 means
 * "absent".  Every request runs on a transaction: an explicit one
 * (TRANSACTION_START) or an implicit one committed at the end of the
 * request.  A transaction records, for each path it touched, the generation
 * the committed store had at first touch; commit fails with EAGAIN if any of
 * them changed meanwhile.
 *
 * Lifetime: everything hangs off struct xss and is freed by xss_free().
 * Threading: single-threaded, called from the simulator's event loop.
 */
#ifndef SIM_XS_INTERNAL_H
#define SIM_XS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/io/xs_wire.h>

#include "xs_server.h"

/* ---- limits the simulator chooses (docs: architecture.md) -------------- */

/* Accessed nodes per transaction of an unprivileged domain (C xenstored's
 * "transaction-nodes" quota); more fails the request with ENOSPC. */
#define XSS_TXN_NODES 1024u
/* Watch events queued unread on one connection; more are dropped. */
#define XSS_EVENT_QUEUE_MAX 1024u
/* Replies queued unread on one connection whose quota does not apply
 * (domain 0, or quota 0): reading stops there, so memory stays bounded. */
#define XSS_PRIV_OUTSTANDING 256u
/* Connections over all domains; more are accepted and closed at once.  The
 * limit is lowered to half the descriptor limit (RLIMIT_NOFILE) if that is
 * smaller, so running out of descriptors is not what stops a flood. */
#define XSS_MAX_CONNS 4096u
/* Of those, kept for domain 0 alone: guests together get the rest, so the
 * toolstack can always connect. */
#define XSS_DOM0_CONNS 64u
/* Watch events queued by one transaction of an unprivileged domain
 * (ENOSPC beyond).  Events are merged per (kind, path), and a transaction
 * touches at most XSS_TXN_NODES paths, so this is a backstop. */
#define XSS_TXN_EVENTS (2u * XSS_TXN_NODES)
/* Per domain and kind, at most one log line per interval (counts kept). */
#define XSS_LOG_INTERVAL_MS 10000u
/* Requests handled per readiness callback, for fairness between clients. */
#define XSS_BATCH 32u
/* C xenstored's node record header (generation, 3 lengths), counted in the
 * node-size quota so a guest hits it where it would on Xen. */
#define XSS_NODE_HDR 24u
/* Bytes of one permission entry in that record. */
#define XSS_PERM_BYTES 8u

#define XSS_DOMID_MAX 0xffffu

/* ---- xs_util.c ---------------------------------------------------------- */

#define XS_P_NONE 0u
#define XS_P_READ 1u
#define XS_P_WRITE 2u
#define XS_P_OWNER 4u /* computed only, never stored */

struct xs_perm {
	uint16_t id;
	uint8_t perm; /* XS_P_READ | XS_P_WRITE */
};

/* Absolute node name syntax (xenstore.txt): starts with '/', no "//", no
 * trailing '/' except "/", only [A-Za-z0-9-/_@], at most 3072 bytes. */
bool xs_path_valid(const char *path);

/*
 * Resolve a request path for domain `domid`: absolute paths are checked,
 * relative ones (at most 2048 bytes) are put under /local/domain/<domid>/.
 * Returns a malloc'ed absolute path, or NULL with *err = -EINVAL/-ENOMEM.
 */
char *xs_canon(uint16_t domid, const char *path, int *err);

/* "/local/domain/<domid>" into buf (at least 24 bytes). */
void xs_domain_path(uint16_t domid, char *buf, size_t len);

/* Is `child` equal to `parent` or below it?  ("/" is above everything.) */
bool xs_is_child(const char *child, const char *parent);
/* Levels of `child` below `parent` (0 if equal); child must be a child. */
unsigned xs_depth_below(const char *child, const char *parent);
/* Parent of an absolute path other than "/", malloc'ed; NULL on ENOMEM. */
char *xs_parent(const char *path);
/* Last component of an absolute path other than "/". */
const char *xs_basename(const char *path);

/* Strict decimal: digits only, no sign, value <= max.  0 or -EINVAL. */
int xs_parse_uint(const char *s, unsigned long max, unsigned long *out);

/* One permission string ("r5", "w0", "b7", "n12").  0 or -EINVAL. */
int xs_perm_parse(const char *s, struct xs_perm *out);
/* Format as above; buf of at least 8 bytes.  Returns the length. */
int xs_perm_format(const struct xs_perm *p, char *buf, size_t len);

/* Rights of domain `domid` (with optional target domain, -1 for none) on
 * a node with these permissions: XS_P_READ|WRITE|OWNER bits. */
unsigned xs_perm_for(const struct xs_perm *p, unsigned n, uint16_t domid,
                     int target);

/* Name of an errno value as sent on the wire ("EINVAL" for unknown). */
const char *xs_errname(int err);

/* Count the NUL-terminated strings in buf[0..len) and store up to `max`
 * pointers to them; bytes after the last NUL are not a string. */
unsigned xs_strings(const char *buf, size_t len, const char **vec, unsigned max);

/*
 * Keyed hash of path bytes: a random basis per process (so colliding keys
 * cannot be prepared offline), fed incrementally.  start -> more* -> end.
 */
uint64_t xs_hash_start(void);
uint64_t xs_hash_more(uint64_t st, const char *s, size_t n);
uint32_t xs_hash_end(uint64_t st);
/* Key bytes hashed or compared by the maps since start: a cost counter
 * (CONTROL stats), so tests can check that work stays linear. */
unsigned long long xs_key_bytes(void);

/* Every prefix of a valid absolute path ("/", "/a", "/a/b", ...) with its
 * hash, computed in one pass: finding the deepest existing ancestor costs
 * one hash of the path plus one bucket probe per level.  Prefix i is
 * path[0..end[i]); the last is the path itself. */
#define XS_MAX_PREFIXES (XENSTORE_ABS_PATH_MAX / 2 + 1)
struct xs_prefixes {
	unsigned n;
	uint16_t end[XS_MAX_PREFIXES];
	uint32_t hash[XS_MAX_PREFIXES];
};
void xs_prefixes(struct xs_prefixes *px, const char *path);

/* At most one log line per XSS_LOG_INTERVAL_MS; the rest are counted. */
struct xs_ratelog {
	unsigned long long last_ms;
	unsigned long held; /* not logged since the last line */
	bool used;
};
/* true: log now, *held = occurrences not logged since the last line. */
bool xs_ratelog_allow(struct xs_ratelog *rl, unsigned long *held);
/* Take the count not logged yet (for a final summary). */
unsigned long xs_ratelog_take(struct xs_ratelog *rl);
/* Occurrences are held and a line would be allowed now: take the count
 * (for a summary once the trouble is over).  false: nothing to say. */
bool xs_ratelog_due(struct xs_ratelog *rl, unsigned long *held);

/* A string-keyed hash map; keys are owned by the caller (usually the value
 * holds them) and must stay valid while in the map. */
struct xs_mapent {
	struct xs_mapent *next;
	uint32_t hash;
	const char *key;
	void *val;
};

struct xs_map {
	struct xs_mapent **b;
	size_t nb, n;
};

void xs_map_init(struct xs_map *m);
/* Frees the map's own memory, not keys or values. */
void xs_map_fini(struct xs_map *m);
void *xs_map_get(const struct xs_map *m, const char *key);
/* Look up key[0..len) whose hash (as xs_prefixes computes it) is known. */
void *xs_map_get_n(const struct xs_map *m, const char *key, size_t len,
                   uint32_t hash);
/* Insert or replace; returns 0 or -ENOMEM. */
int xs_map_put(struct xs_map *m, const char *key, void *val);
/* Remove; returns the value or NULL. */
void *xs_map_del(struct xs_map *m, const char *key);
/* Iterate: start with *pos = 0 and *e = NULL; returns false at the end.
 * The map must not change during an iteration. */
bool xs_map_next(const struct xs_map *m, size_t *pos, struct xs_mapent **e);

/* ---- nodes (xs_store.c) ------------------------------------------------- */

struct xs_node {
	char *path;
	uint8_t *value;
	uint32_t vlen;
	uint32_t nperms; /* >= 1; perms[0] is the owner and the default */
	struct xs_perm *perms;
	char *children;  /* names, each NUL-terminated, creation order */
	uint32_t childlen;
	uint64_t gen;
};

struct xs_node *xs_node_new(const char *path, const struct xs_perm *perms,
                            uint32_t nperms);
struct xs_node *xs_node_dup(const struct xs_node *n);
void xs_node_free(struct xs_node *n);
int xs_node_set_value(struct xs_node *n, const void *val, uint32_t len);
int xs_node_set_perms(struct xs_node *n, const struct xs_perm *p, uint32_t num);
int xs_node_add_child(struct xs_node *n, const char *name);
/* Removes a child name if present. */
void xs_node_del_child(struct xs_node *n, const char *name);
/* The size C xenstored checks against the node-size quota. */
size_t xs_node_size(const struct xs_node *n);

struct xss;
struct xs_conn;
struct xs_tx;

/* The committed store. */
int xs_store_init(struct xss *s);
void xs_store_fini(struct xss *s);
struct xs_node *xs_store_get(struct xss *s, const char *path);
/* Nearest existing node at or above `path` (the root always exists), and
 * in *parent (if not NULL) the node above that one (NULL for the root).
 * Linear in the length of the path. */
struct xs_node *xs_store_nearest(struct xss *s, const char *path,
                                 struct xs_node **parent);
/* Install `n` (replacing and freeing any node at its path), giving it a new
 * generation and keeping ownership counts.  0 or -ENOMEM (n then freed). */
int xs_store_put(struct xss *s, struct xs_node *n);
/* Remove and free the node at `path` if any (not its children). */
void xs_store_del(struct xss *s, const char *path);
/* Consistency check for CONTROL "check": 0 or -EIO (details on stderr). */
int xs_store_check(struct xss *s);

/* ---- domains (xs_server.c) ---------------------------------------------- */

/* Log lines a domain can cause over and over: rate-limited per domain. */
enum xs_logkind {
	XS_LOG_CLOSED,  /* a connection closed for what its client did */
	XS_LOG_REFUSED, /* a connection refused (connection limits) */
	XS_LOG_DROPPED, /* watch events dropped on an unread connection */
	XS_LOG_KINDS
};

struct xs_dom {
	struct xs_dom *next;
	uint16_t domid;
	bool introduced;
	bool shutdown;  /* @releaseDomain sent for a shutdown, until RESUME */
	int target;     /* SET_TARGET: acts with this domain's rights, or -1 */
	unsigned nodes; /* committed nodes owned */
	unsigned watches;
	unsigned conns; /* open connections acting as the domain */
	unsigned long refused; /* connections refused by the limits */
	struct xs_ratelog log[XS_LOG_KINDS];
};

struct xs_dom *xs_dom_find(struct xss *s, uint16_t domid);
/* Find or create; NULL on ENOMEM. */
struct xs_dom *xs_dom_get(struct xss *s, uint16_t domid);
void xs_dom_nodes_add(struct xss *s, uint16_t domid, int delta);
bool xs_dom_exists(struct xss *s, uint16_t domid);
/* "domain N: <message>", at most once per XSS_LOG_INTERVAL_MS per domain
 * and kind; the next line says how many were left out. */
void xs_dom_log(struct xss *s, uint16_t domid, enum xs_logkind kind,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Log what xs_dom_log left out for the domain (it is going away). */
void xs_dom_log_flush(struct xs_dom *d);

/* ---- the server ---------------------------------------------------------- */

struct xs_listener;
struct sim_acceptor;

struct xss {
	struct loop *loop;
	struct xss_hooks hooks;
	struct xss_quota quota;
	struct xs_map nodes;
	uint64_t gen;
	struct xs_dom *doms;
	struct xs_listener *listeners;
	struct xs_conn *conns; /* doubly linked */
	unsigned nconns;
	unsigned nconns_dom0;
	struct sim_acceptor *acc; /* every listener; sheds, pauses, counts */
	struct xs_ratelog fd_log; /* "out of file descriptors" */
	struct xs_perm *intro_perms, *release_perms;
	uint32_t n_intro_perms, n_release_perms;
	unsigned long events_dropped;
};

/* ---- views and transactions (xs_txn.c) ----------------------------------- */

/* Who is asking, and in which transaction. */
struct xs_view {
	struct xss *s;
	struct xs_tx *tx;
	uint16_t domid;
	int target; /* -1 if none */
};

static inline bool xs_view_priv(const struct xs_view *v)
{
	return v->domid == 0;
}

enum xs_ev_kind {
	XS_EV_CHANGE, /* node written, created or its permissions changed */
	XS_EV_REMOVE, /* node removed with its subtree */
};

struct xs_event {
	struct xs_event *next;
	enum xs_ev_kind kind; /* at most one event per kind and path */
	char *path;
	struct xs_perm *oldperms; /* SET_PERMS: who could read it before */
	uint32_t noldperms;
};

struct xs_tx {
	struct xs_tx *next;
	uint32_t id;
	bool limited;          /* XSS_TXN_NODES applies */
	bool failed;           /* a request died half-way: commit fails */
	struct xs_map ents;
	struct xs_txdelta {
		uint16_t domid;
		int delta;
	} *deltas;
	unsigned ndeltas;
	struct xs_event *events, *events_tail; /* in order of first queuing */
	struct xs_map evmap[2]; /* per kind: path -> event */
	unsigned nevents;
};

struct xs_tx *xs_tx_new(bool limited);
void xs_tx_free(struct xs_tx *tx);
/* Commit: 0, or -EAGAIN on conflict, -ENOSPC if a limited transaction
 * would take a domain over its node quota (nothing applied in both
 * cases), -ENOMEM.  Fires the queued watches.  Frees tx in every case. */
int xs_tx_commit(struct xss *s, struct xs_tx *tx);

/* Read a node without recording the access (permission decisions). */
const struct xs_node *xs_view_peek(struct xs_view *v, const char *path);
/* Deepest node the view sees at prefix index <= `from` of px (prefixes of
 * `path`), without recording; *at gets its index.  The root always
 * exists.  One bucket probe per level, no allocation. */
const struct xs_node *xs_view_nearest(struct xs_view *v, const char *path,
                                      const struct xs_prefixes *px,
                                      unsigned from, unsigned *at);
/* Has the transaction recorded path[0..len)?  (hash as in xs_prefixes) */
bool xs_view_touched_n(struct xs_view *v, const char *path, size_t len,
                       uint32_t hash);
/* Read and record: 0 with *out set, -ENOENT (recorded as absent), -ENOSPC
 * (transaction node limit), -ENOMEM. */
int xs_view_get(struct xs_view *v, const char *path, const struct xs_node **out);
/* Writable copy of an existing node (recorded). */
int xs_view_modify(struct xs_view *v, const char *path, struct xs_node **out);
/* Add a node that does not exist in the view; takes ownership of n. */
int xs_view_create(struct xs_view *v, struct xs_node *n);
/* Remove one node (not its children) from the view. */
int xs_view_delete(struct xs_view *v, const char *path);
/* Nodes owned by `domid` as the view sees them. */
unsigned xs_view_owned(struct xs_view *v, uint16_t domid);
/* Record that owner counts change (for quota checks inside a view). */
int xs_view_account(struct xs_view *v, uint16_t domid, int delta);
/* Has the transaction recorded `path` already? */
bool xs_view_touched(struct xs_view *v, const char *path);
/* How many more nodes the transaction may touch (UINT32_MAX: unlimited). */
unsigned xs_view_room(struct xs_view *v);
/* Queue a watch event for commit; oldperms may be NULL.  Repeats of a
 * (kind, path) are merged, keeping the first oldperms given; ENOSPC past
 * XSS_TXN_EVENTS in a limited transaction. */
int xs_view_event(struct xs_view *v, enum xs_ev_kind kind, const char *path,
                  const struct xs_perm *oldperms, uint32_t noldperms);

/* ---- watches (xs_watch.c) ------------------------------------------------ */

struct xs_watch {
	struct xs_watch *next;
	char *path;   /* absolute, or "@..." */
	char *token;
	bool relative;
	int depth;    /* -1: unlimited */
};

/* WATCH: path already canonical.  0, -EEXIST, -E2BIG (quota), -EINVAL,
 * -ENOMEM.  Sends the initial event on success (after the caller's reply). */
int xs_watch_add(struct xs_conn *c, const char *path, const char *token,
                 bool relative, int depth, struct xs_watch **out);
void xs_watch_fire_initial(struct xs_conn *c, const struct xs_watch *w);
int xs_watch_del(struct xs_conn *c, const char *path, const char *token);
void xs_watch_del_all(struct xs_conn *c);
/* Events of a committed transaction: removals against the store before
 * the commit is applied, changes after. */
void xs_watch_fire(struct xss *s, const struct xs_event *ev);
/* @introduceDomain / @releaseDomain for `domid`. */
void xs_watch_fire_special(struct xss *s, const char *name, uint16_t domid);
/* Special node permissions ("@introduceDomain", "@releaseDomain"). */
int xs_special_get(struct xss *s, const char *name, const struct xs_perm **p,
                   uint32_t *n);
int xs_special_set(struct xss *s, const char *name, const struct xs_perm *p,
                   uint32_t n);
/* Forget a destroyed domain in the special permissions. */
void xs_special_forget(struct xss *s, uint16_t domid);

/* ---- connections (xs_conn.c) --------------------------------------------- */

struct xs_out;

struct xs_conn {
	struct xs_conn *next, *prev;
	struct xss *s;
	int fd;
	struct loop_src *src;
	uint32_t evmask;
	uint16_t domid;
	bool closing;
	bool doomed;   /* a reply could not be queued: close after this request */
	/* Input: one message at a time, header then payload (bounded). */
	size_t in_have;
	struct xsd_sockmsg in_hdr;
	char in_buf[XENSTORE_PAYLOAD_MAX + 1];
	/* Output queue. */
	struct xs_out *out_head, *out_tail;
	size_t out_off;
	unsigned n_replies, n_events;
	unsigned long dropped;
	bool drop_logged;
	struct xs_watch *watches;
	struct xs_tx *txs;
	unsigned ntx;
	uint32_t next_txid;
};

/* The acceptor the listeners are opened with (xss_new/xss_free). */
int xs_conn_init(struct xss *s);
void xs_conn_fini(struct xss *s);
/* Connections over all domains: XSS_MAX_CONNS, or half the descriptor
 * limit if smaller. */
unsigned xs_conn_limit(const struct xss *s);
int xs_listen_add(struct xss *s, uint16_t domid, const char *path);
/* Close (and unlink) every listener of `domid`. */
void xs_listen_close_dom(struct xss *s, uint16_t domid);
void xs_listen_close_all(struct xss *s);
void xs_conn_close(struct xs_conn *c, const char *why);
/* Close every connection acting as `domid`. */
void xs_conn_close_dom(struct xss *s, uint16_t domid);
void xs_conn_close_all(struct xss *s);

/* Queue a reply to the request `req` (type, req_id, tx_id). */
void xs_conn_reply(struct xs_conn *c, const struct xsd_sockmsg *req,
                   uint32_t type, const void *data, size_t len);
/* Error reply with the errno name (err > 0). */
void xs_conn_error(struct xs_conn *c, const struct xsd_sockmsg *req, int err);
/* Queue a watch event "path\0token\0"; dropped if the queue is full. */
void xs_conn_event(struct xs_conn *c, const char *path, const char *token);
/* Outstanding-replies limit for this connection. */
unsigned xs_conn_reply_limit(const struct xs_conn *c);

/* ---- requests (xs_ops.c, domain and control requests in xs_server.c) ---- */

/* One request being handled.  A handler returns 0 after setting the reply
 * (default "OK"), or -errno for an error reply. */
struct xs_req {
	struct xs_conn *c;
	const struct xsd_sockmsg *hdr;
	const char *p;          /* payload, NUL after it */
	size_t len;
	struct xs_view v;       /* v.tx is set for store requests only */
	const void *reply;
	size_t replylen;
	char *reply_alloc;      /* freed after sending */
	struct xs_watch *new_watch; /* WATCH: initial event after the reply */
};

/* The single string of a one-argument request, or NULL (EINVAL). */
const char *xs_req_onearg(const struct xs_req *r);
/* Reply with a copy of a NUL-terminated string (NUL included). */
int xs_req_reply_str(struct xs_req *r, const char *str);

int xs_op_introduce(struct xs_req *r);
int xs_op_release(struct xs_req *r);
int xs_op_resume(struct xs_req *r);
int xs_op_is_introduced(struct xs_req *r);
int xs_op_get_domain_path(struct xs_req *r);
int xs_op_set_target(struct xs_req *r);
int xs_op_control(struct xs_req *r);
/* Watches and transactions of the connection (xs_session.c). */
int xs_op_watch(struct xs_req *r);
int xs_op_unwatch(struct xs_req *r);
int xs_op_reset_watches(struct xs_req *r);
int xs_op_tx_start(struct xs_req *r);
int xs_op_tx_end(struct xs_req *r);
/* The connection's open transaction `id`, or NULL. */
struct xs_tx *xs_tx_find(struct xs_conn *c, uint32_t id);

/* Handle one complete request; the payload is c->in_buf[0..hdr->len) with
 * a NUL after it.  Always answers (reply or error). */
void xs_ops_handle(struct xs_conn *c, const struct xsd_sockmsg *hdr);

/* Write as domain 0 outside a transaction (xss_write). */
int xs_ops_write(struct xss *s, const char *path, const void *val, size_t len);
/* Remove the nodes owned by `domid` with their subtrees, and its entries
 * in other nodes' permissions (domain gone). */
void xs_ops_forget_domain(struct xss *s, uint16_t domid);
/* Domain lifecycle shared by requests and xss_* (xs_server.c). */
void xs_dom_release(struct xss *s, uint16_t domid, bool destroyed);

/* ---- logging --------------------------------------------------------------- */

void xs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
