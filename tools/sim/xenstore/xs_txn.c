/* SPDX-License-Identifier: MIT */
/*
 * Transactions and views.
 *
 * A transaction is an overlay of the committed store: for every path it
 * touched it keeps the generation the store had at the first touch (0 for
 * absent) and, if the transaction changed the node, its private copy (or
 * "deleted").  Untouched nodes are read from the store as it is now, like
 * C xenstored since 4.9 (no snapshot at start).
 *
 * Conflicts: commit compares every recorded generation with the store's
 * current one.  A node's generation changes whenever its value, its
 * permissions or its list of children change, so a transaction fails with
 * EAGAIN exactly when a node it read or wrote - including a directory
 * listing, or the absence of a node - was changed by someone else since.
 * Paths only consulted to choose between ENOENT and EACCES are not
 * recorded.
 *
 * Every request runs in a transaction; requests outside an explicit one get
 * an implicit transaction committed right after the handler, which cannot
 * conflict (single thread).  Watch events are queued in the transaction
 * and fire at commit only; one event per (kind, path), found through a
 * map, so repeating a request does not grow the queue.
 *
 * Quotas: a request checks the node quota against the committed count
 * plus its own transaction's changes.  Parallel transactions of a domain
 * cannot see each other, so commit checks again for limited transactions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xs_internal.h"

struct txent {
	char *path;
	uint64_t orig_gen;
	bool modified;
	struct xs_node *node; /* private copy if modified; NULL = deleted */
};

struct xs_tx *xs_tx_new(bool limited)
{
	struct xs_tx *tx = calloc(1, sizeof(*tx));

	if (!tx)
		return NULL;
	tx->limited = limited;
	xs_map_init(&tx->ents);
	xs_map_init(&tx->evmap[XS_EV_CHANGE]);
	xs_map_init(&tx->evmap[XS_EV_REMOVE]);
	return tx;
}

static void free_events(struct xs_event *ev)
{
	while (ev) {
		struct xs_event *next = ev->next;

		free(ev->path);
		free(ev->oldperms);
		free(ev);
		ev = next;
	}
}

void xs_tx_free(struct xs_tx *tx)
{
	size_t pos = 0;
	struct xs_mapent *e = NULL;

	if (!tx)
		return;
	while (xs_map_next(&tx->ents, &pos, &e)) {
		struct txent *t = e->val;

		xs_node_free(t->node);
		free(t->path);
		free(t);
	}
	xs_map_fini(&tx->ents);
	xs_map_fini(&tx->evmap[XS_EV_CHANGE]);
	xs_map_fini(&tx->evmap[XS_EV_REMOVE]);
	free_events(tx->events);
	free(tx->deltas);
	free(tx);
}

static struct txent *find_ent(struct xs_view *v, const char *path)
{
	return xs_map_get(&v->tx->ents, path);
}

/* The node the view sees at `path`, given its entry (may be NULL). */
static struct xs_node *seen(struct xs_view *v, struct txent *t, const char *path)
{
	if (t && t->modified)
		return t->node;
	return xs_store_get(v->s, path);
}

const struct xs_node *xs_view_peek(struct xs_view *v, const char *path)
{
	return seen(v, find_ent(v, path), path);
}

bool xs_view_touched(struct xs_view *v, const char *path)
{
	return find_ent(v, path) != NULL;
}

bool xs_view_touched_n(struct xs_view *v, const char *path, size_t len,
                       uint32_t hash)
{
	return xs_map_get_n(&v->tx->ents, path, len, hash) != NULL;
}

const struct xs_node *xs_view_nearest(struct xs_view *v, const char *path,
                                      const struct xs_prefixes *px,
                                      unsigned from, unsigned *at)
{
	/* Deepest first, as xs_store_nearest, and through the overlay: the
	 * answer is the node this view shows, even where a conflicting
	 * commit made the view inconsistent (that transaction will fail). */
	for (unsigned i = from + 1; i-- > 0;) {
		size_t len = px->end[i];
		struct txent *t = xs_map_get_n(&v->tx->ents, path, len, px->hash[i]);
		const struct xs_node *n = t && t->modified ? t->node :
		        xs_map_get_n(&v->s->nodes, path, len, px->hash[i]);

		if (n) {
			*at = i;
			return n;
		}
	}
	*at = 0;
	return xs_store_get(v->s, "/");
}

unsigned xs_view_room(struct xs_view *v)
{
	if (!v->tx->limited)
		return UINT32_MAX;
	return v->tx->ents.n >= XSS_TXN_NODES ?
	       0 : XSS_TXN_NODES - (unsigned)v->tx->ents.n;
}

/* Find or add the entry of `path`, recording the store's generation. */
static int record(struct xs_view *v, const char *path, struct txent **out)
{
	struct txent *t = find_ent(v, path);
	struct xs_node *cur;

	if (t) {
		*out = t;
		return 0;
	}
	if (xs_view_room(v) == 0)
		return -ENOSPC;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->path = strdup(path);
	if (!t->path || xs_map_put(&v->tx->ents, t->path, t) < 0) {
		free(t->path);
		free(t);
		return -ENOMEM;
	}
	cur = xs_store_get(v->s, path);
	t->orig_gen = cur ? cur->gen : 0;
	*out = t;
	return 0;
}

/* Give the transaction its own version of t's node (NULL: removed). */
static void set_ent(struct txent *t, struct xs_node *n)
{
	xs_node_free(t->node);
	t->node = n;
	t->modified = true;
}

/* Record `path` and find the node the view sees there (*n NULL: none). */
static int record_seen(struct xs_view *v, const char *path, struct txent **t,
                       struct xs_node **n)
{
	int r = record(v, path, t);

	if (r == 0)
		*n = seen(v, *t, path);
	return r;
}

int xs_view_get(struct xs_view *v, const char *path, const struct xs_node **out)
{
	struct txent *t;
	struct xs_node *n;
	int r = record_seen(v, path, &t, &n);

	if (r < 0)
		return r;
	*out = n;
	return n ? 0 : -ENOENT;
}

int xs_view_modify(struct xs_view *v, const char *path, struct xs_node **out)
{
	struct txent *t;
	struct xs_node *n;
	int r = record_seen(v, path, &t, &n);

	if (r < 0)
		return r;
	if (!n)
		return -ENOENT;
	if (!t->modified) {
		n = xs_node_dup(n);
		if (!n)
			return -ENOMEM;
		set_ent(t, n);
	}
	/* A fresh generation for each change, so DIRECTORY_PART inside the
	 * transaction notices its own changes too. */
	n->gen = ++v->s->gen;
	*out = n;
	return 0;
}

int xs_view_create(struct xs_view *v, struct xs_node *n)
{
	struct txent *t;
	struct xs_node *cur;
	int r = record_seen(v, n->path, &t, &cur);

	if (r == 0 && cur)
		r = -EEXIST;
	if (r == 0)
		r = xs_view_account(v, n->perms[0].id, 1);
	if (r < 0) {
		xs_node_free(n);
		return r;
	}
	set_ent(t, n);
	n->gen = ++v->s->gen;
	return 0;
}

int xs_view_delete(struct xs_view *v, const char *path)
{
	struct txent *t;
	struct xs_node *n;
	int r = record_seen(v, path, &t, &n);

	if (r < 0 || !n)
		return r;
	r = xs_view_account(v, n->perms[0].id, -1);
	if (r < 0)
		return r;
	set_ent(t, NULL);
	return 0;
}

int xs_view_account(struct xs_view *v, uint16_t domid, int delta)
{
	struct xs_tx *tx = v->tx;
	struct xs_txdelta *d;

	for (unsigned i = 0; i < tx->ndeltas; i++) {
		if (tx->deltas[i].domid == domid) {
			tx->deltas[i].delta += delta;
			return 0;
		}
	}
	d = realloc(tx->deltas, (tx->ndeltas + 1) * sizeof(*d));
	if (!d)
		return -ENOMEM;
	tx->deltas = d;
	d[tx->ndeltas].domid = domid;
	d[tx->ndeltas].delta = delta;
	tx->ndeltas++;
	return 0;
}

unsigned xs_view_owned(struct xs_view *v, uint16_t domid)
{
	struct xs_dom *d = xs_dom_find(v->s, domid);
	long count = d ? (long)d->nodes : 0;

	for (unsigned i = 0; i < v->tx->ndeltas; i++)
		if (v->tx->deltas[i].domid == domid)
			count += v->tx->deltas[i].delta;
	return count < 0 ? 0 : (unsigned)count;
}

static int copy_perms(struct xs_event *ev, const struct xs_perm *p, uint32_t n)
{
	ev->oldperms = malloc(n * sizeof(*p));
	if (!ev->oldperms)
		return -ENOMEM;
	memcpy(ev->oldperms, p, n * sizeof(*p));
	ev->noldperms = n;
	return 0;
}

int xs_view_event(struct xs_view *v, enum xs_ev_kind kind, const char *path,
                  const struct xs_perm *oldperms, uint32_t noldperms)
{
	struct xs_tx *tx = v->tx;
	struct xs_event *ev = xs_map_get(&tx->evmap[kind], path);

	if (ev) {
		/* The first SET_PERMS saw the permissions the node had
		 * before this transaction: they decide who hears of it. */
		if (oldperms && !ev->oldperms)
			return copy_perms(ev, oldperms, noldperms);
		return 0;
	}
	if (tx->limited && tx->nevents >= XSS_TXN_EVENTS)
		return -ENOSPC;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	ev->kind = kind;
	ev->path = strdup(path);
	if (!ev->path || (oldperms && copy_perms(ev, oldperms, noldperms) < 0) ||
	    xs_map_put(&tx->evmap[kind], ev->path, ev) < 0) {
		free_events(ev);
		return -ENOMEM;
	}
	if (tx->events_tail)
		tx->events_tail->next = ev;
	else
		tx->events = ev;
	tx->events_tail = ev;
	tx->nevents++;
	return 0;
}

static bool conflicts(struct xss *s, struct xs_tx *tx)
{
	size_t pos = 0;
	struct xs_mapent *e = NULL;

	while (xs_map_next(&tx->ents, &pos, &e)) {
		struct txent *t = e->val;
		struct xs_node *cur = xs_store_get(s, t->path);

		if ((cur ? cur->gen : 0) != t->orig_gen)
			return true;
	}
	return false;
}

/* Would committing take a domain over its node quota?  The requests of a
 * limited (guest) transaction checked the quota against their own view;
 * another transaction of the domain may have committed since. */
static bool over_quota(struct xss *s, const struct xs_tx *tx)
{
	if (!tx->limited || !s->quota.nodes)
		return false;
	for (unsigned i = 0; i < tx->ndeltas; i++) {
		const struct xs_txdelta *d = &tx->deltas[i];
		const struct xs_dom *dom = xs_dom_find(s, d->domid);
		long now = dom ? (long)dom->nodes : 0;

		if (d->domid != 0 && d->delta > 0 &&
		    now + d->delta > (long)s->quota.nodes)
			return true;
	}
	return false;
}

static void fire_kind(struct xss *s, struct xs_tx *tx, enum xs_ev_kind kind)
{
	for (struct xs_event *ev = tx->events; ev; ev = ev->next)
		if (ev->kind == kind)
			xs_watch_fire(s, ev);
}

int xs_tx_commit(struct xss *s, struct xs_tx *tx)
{
	size_t pos = 0;
	struct xs_mapent *e = NULL;
	int ret = 0;

	if (conflicts(s, tx)) {
		xs_tx_free(tx);
		return -EAGAIN;
	}
	if (over_quota(s, tx)) {
		xs_tx_free(tx);
		return -ENOSPC;
	}
	/* Removal events need the permissions of what is about to go. */
	fire_kind(s, tx, XS_EV_REMOVE);
	/* Each node carries its own child list, so the order of applying
	 * does not matter: the transaction's view was consistent and no
	 * recorded node changed meanwhile. */
	while (xs_map_next(&tx->ents, &pos, &e)) {
		struct txent *t = e->val;
		struct xs_node *n = t->node;

		if (!t->modified)
			continue;
		t->node = NULL;
		if (n) {
			if (xs_store_put(s, n) < 0)
				ret = -ENOMEM;
		} else {
			xs_store_del(s, t->path);
		}
	}
	if (ret < 0)
		xs_log("out of memory committing a transaction; store may be inconsistent");
	fire_kind(s, tx, XS_EV_CHANGE);
	xs_tx_free(tx);
	return ret;
}
