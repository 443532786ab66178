/* SPDX-License-Identifier: MIT */
/*
 * Nodes and the committed store: a map from absolute path to node, the
 * generation counter and the per-owner node counts used by the quota.
 *
 * Invariants (checked by xs_store_check): every node but "/" has its
 * parent in the store, listing it exactly once among its children; every
 * listed child exists; each domain's node count equals the nodes whose
 * first permission names it; generations are non-zero and not above the
 * counter.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xs_internal.h"

struct xs_node *xs_node_new(const char *path, const struct xs_perm *perms,
                            uint32_t nperms)
{
	struct xs_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->path = strdup(path);
	if (!n->path || xs_node_set_perms(n, perms, nperms) < 0) {
		xs_node_free(n);
		return NULL;
	}
	return n;
}

void xs_node_free(struct xs_node *n)
{
	if (!n)
		return;
	free(n->path);
	free(n->value);
	free(n->perms);
	free(n->children);
	free(n);
}

static void *memdup_or_null(const void *p, size_t len, bool *fail)
{
	void *q;

	if (!len)
		return NULL;
	q = malloc(len);
	if (!q) {
		*fail = true;
		return NULL;
	}
	memcpy(q, p, len);
	return q;
}

struct xs_node *xs_node_dup(const struct xs_node *n)
{
	struct xs_node *d = calloc(1, sizeof(*d));
	bool fail = false;

	if (!d)
		return NULL;
	*d = *n;
	d->path = strdup(n->path);
	d->value = memdup_or_null(n->value, n->vlen, &fail);
	d->perms = memdup_or_null(n->perms, n->nperms * sizeof(*n->perms), &fail);
	d->children = memdup_or_null(n->children, n->childlen, &fail);
	if (!d->path || fail) {
		xs_node_free(d);
		return NULL;
	}
	return d;
}

int xs_node_set_value(struct xs_node *n, const void *val, uint32_t len)
{
	bool fail = false;
	uint8_t *v = memdup_or_null(val, len, &fail);

	if (fail)
		return -ENOMEM;
	free(n->value);
	n->value = v;
	n->vlen = len;
	return 0;
}

int xs_node_set_perms(struct xs_node *n, const struct xs_perm *p, uint32_t num)
{
	bool fail = false;
	struct xs_perm *c = memdup_or_null(p, num * sizeof(*p), &fail);

	if (fail || !c)
		return -ENOMEM;
	free(n->perms);
	n->perms = c;
	n->nperms = num;
	return 0;
}

int xs_node_add_child(struct xs_node *n, const char *name)
{
	size_t len = strlen(name) + 1;
	char *c = realloc(n->children, n->childlen + len);

	if (!c)
		return -ENOMEM;
	memcpy(c + n->childlen, name, len);
	n->children = c;
	n->childlen += (uint32_t)len;
	return 0;
}

void xs_node_del_child(struct xs_node *n, const char *name)
{
	uint32_t off = 0;

	while (off < n->childlen) {
		uint32_t len = (uint32_t)strlen(n->children + off) + 1;

		if (strcmp(n->children + off, name) == 0) {
			memmove(n->children + off, n->children + off + len,
			        n->childlen - off - len);
			n->childlen -= len;
			return;
		}
		off += len;
	}
}

size_t xs_node_size(const struct xs_node *n)
{
	return XSS_NODE_HDR + (size_t)n->nperms * XSS_PERM_BYTES + n->vlen +
	       n->childlen;
}

/* ---- the committed store -------------------------------------------------- */

struct xs_node *xs_store_get(struct xss *s, const char *path)
{
	return xs_map_get(&s->nodes, path);
}

struct xs_node *xs_store_nearest(struct xss *s, const char *path,
                                 struct xs_node **parent)
{
	struct xs_prefixes px; /* about 9 KiB: deep paths, no allocation */
	struct xs_node *n = NULL;
	unsigned i;

	/* Deepest first: a miss costs a bucket probe, not a string compare,
	 * so a deep missing path and a deep existing one are both linear. */
	xs_prefixes(&px, path);
	for (i = px.n; i-- > 0;) {
		n = xs_map_get_n(&s->nodes, path, px.end[i], px.hash[i]);
		if (n)
			break;
	}
	if (!n) {
		i = 0;
		n = xs_store_get(s, "/");
	}
	if (parent)
		*parent = i ? xs_map_get_n(&s->nodes, path, px.end[i - 1],
		                           px.hash[i - 1]) : NULL;
	return n;
}

int xs_store_put(struct xss *s, struct xs_node *n)
{
	struct xs_node *old = xs_store_get(s, n->path);

	if (!old && xs_map_put(&s->nodes, n->path, n) < 0) {
		xs_node_free(n);
		return -ENOMEM;
	}
	if (old) {
		xs_dom_nodes_add(s, old->perms[0].id, -1);
		/* Same key, so this cannot allocate. */
		xs_map_put(&s->nodes, n->path, n);
		xs_node_free(old);
	}
	n->gen = ++s->gen;
	xs_dom_nodes_add(s, n->perms[0].id, 1);
	return 0;
}

void xs_store_del(struct xss *s, const char *path)
{
	struct xs_node *n = xs_map_del(&s->nodes, path);

	if (!n)
		return;
	xs_dom_nodes_add(s, n->perms[0].id, -1);
	xs_node_free(n);
}

static int add_initial(struct xss *s, const char *path, const char *children)
{
	static const struct xs_perm dom0_only = { .id = 0, .perm = XS_P_NONE };
	struct xs_node *n = xs_node_new(path, &dom0_only, 1);

	if (!n)
		return -ENOMEM;
	for (const char *c = children; c && *c; c += strlen(c) + 1) {
		if (xs_node_add_child(n, c) < 0) {
			xs_node_free(n);
			return -ENOMEM;
		}
	}
	return xs_store_put(s, n);
}

int xs_store_init(struct xss *s)
{
	xs_map_init(&s->nodes);
	s->gen = 0;
	if (add_initial(s, "/", "local\0tool\0") < 0 ||
	    add_initial(s, "/local", "domain\0") < 0 ||
	    add_initial(s, "/local/domain", NULL) < 0 ||
	    add_initial(s, "/tool", NULL) < 0)
		return -ENOMEM;
	return 0;
}

void xs_store_fini(struct xss *s)
{
	size_t pos = 0;
	struct xs_mapent *e = NULL;

	while (xs_map_next(&s->nodes, &pos, &e))
		xs_node_free(e->val);
	xs_map_fini(&s->nodes);
}

/* ---- consistency check ------------------------------------------------------ */

static int check_children(struct xss *s, const struct xs_node *n)
{
	uint32_t off = 0;
	int bad = 0;

	while (off < n->childlen) {
		const char *name = n->children + off;
		size_t len = strnlen(name, n->childlen - off);
		char *child;

		if (len == n->childlen - off) {
			xs_log("check: %s: unterminated child list", n->path);
			return -EIO;
		}
		if (asprintf(&child, "%s/%s", strcmp(n->path, "/") ? n->path : "",
		             name) < 0)
			return -ENOMEM;
		if (!xs_store_get(s, child)) {
			xs_log("check: %s lists missing child %s", n->path, name);
			bad = -EIO;
		}
		free(child);
		off += (uint32_t)len + 1;
	}
	return bad;
}

static bool lists_child_once(const struct xs_node *parent, const char *name)
{
	unsigned found = 0;

	for (uint32_t off = 0; off < parent->childlen;
	     off += (uint32_t)strlen(parent->children + off) + 1)
		if (strcmp(parent->children + off, name) == 0)
			found++;
	return found == 1;
}

static int check_node(struct xss *s, const struct xs_node *n)
{
	int bad = check_children(s, n);

	if (n->gen == 0 || n->gen > s->gen || n->nperms == 0) {
		xs_log("check: %s: bad generation or permissions", n->path);
		bad = -EIO;
	}
	if (strcmp(n->path, "/") != 0) {
		char *pp = xs_parent(n->path);
		const struct xs_node *parent = pp ? xs_store_get(s, pp) : NULL;

		if (!pp)
			return -ENOMEM;
		if (!parent || !lists_child_once(parent, xs_basename(n->path))) {
			xs_log("check: %s: not listed once by its parent", n->path);
			bad = -EIO;
		}
		free(pp);
	}
	return bad;
}

static int check_counts(struct xss *s)
{
	int bad = 0;

	for (struct xs_dom *d = s->doms; d; d = d->next) {
		unsigned count = 0;
		size_t pos = 0;
		struct xs_mapent *e = NULL;

		while (xs_map_next(&s->nodes, &pos, &e))
			if (((struct xs_node *)e->val)->perms[0].id == d->domid)
				count++;
		if (count != d->nodes) {
			xs_log("check: domain %u owns %u nodes, counted %u",
			       d->domid, count, d->nodes);
			bad = -EIO;
		}
	}
	return bad;
}

int xs_store_check(struct xss *s)
{
	size_t pos = 0;
	struct xs_mapent *e = NULL;
	int bad = 0;

	if (!xs_store_get(s, "/"))
		return -EIO;
	while (xs_map_next(&s->nodes, &pos, &e)) {
		int r = check_node(s, e->val);

		if (r < 0)
			bad = r;
	}
	if (check_counts(s) < 0)
		bad = -EIO;
	return bad;
}
