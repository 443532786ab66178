/* SPDX-License-Identifier: MIT */
/*
 * Watches: registration, matching committed changes against them, and the
 * special watches @introduceDomain / @releaseDomain.
 *
 * Matching (xenstore.txt):
 *  - a change of node P fires every watch W with P at or below W (and, if
 *    W has a depth d, at most d levels below), with event path P;
 *  - removing node N fires those watches with event path N, and also every
 *    watch below N with its own path as event path (whether or not that
 *    path existed: "removal of a parent reports the watched path").
 *    C xenstored 4.17 reports only watched paths that existed; a spurious
 *    event is allowed, a missed one is not.
 *  - a watch set with a relative path gets relative event paths.
 * Permissions (as C xenstored): domain 0 sees every event; another domain
 * sees an event if it can read the changed or removed node or that node's
 * parent (for a path that does not exist, the deepest existing node above
 * it), or could read it before a SET_PERMS.  The decision is about the
 * event's node, not the watch, so it is made once per connection and
 * event (a removal reported to watches below the removed node included),
 * and the nodes it needs are looked up once per event: the cost of firing
 * is linear in the watches' and the event's path lengths.  Special events
 * go to domain 0 and to domains given read access to the special node
 * with SET_PERMS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xs_internal.h"

static const char special_intro[] = "@introduceDomain";
static const char special_release[] = "@releaseDomain";

int xs_watch_add(struct xs_conn *c, const char *path, const char *token,
                 bool relative, int depth, struct xs_watch **out)
{
	struct xss *s = c->s;
	struct xs_watch **pp, *w;
	struct xs_dom *d;

	if (path[0] == '@') {
		/* Only depth 1 means something for special events. */
		if (depth > 1)
			return -EINVAL;
		if (depth == 0)
			depth = -1;
	}
	for (pp = &c->watches; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->path, path) == 0 &&
		    strcmp((*pp)->token, token) == 0)
			return -EEXIST;
	d = xs_dom_get(s, c->domid);
	if (!d)
		return -ENOMEM;
	if (c->domid != 0 && s->quota.watches && d->watches >= s->quota.watches)
		return -E2BIG;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->path = strdup(path);
	w->token = strdup(token);
	if (!w->path || !w->token) {
		free(w->path);
		free(w->token);
		free(w);
		return -ENOMEM;
	}
	w->relative = relative;
	w->depth = depth;
	*pp = w; /* appended: events go out in registration order */
	d->watches++;
	*out = w;
	return 0;
}

static void watch_free(struct xss *s, struct xs_conn *c, struct xs_watch *w)
{
	struct xs_dom *d = xs_dom_find(s, c->domid);

	if (d && d->watches)
		d->watches--;
	free(w->path);
	free(w->token);
	free(w);
}

int xs_watch_del(struct xs_conn *c, const char *path, const char *token)
{
	for (struct xs_watch **pp = &c->watches; *pp; pp = &(*pp)->next) {
		struct xs_watch *w = *pp;

		if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0) {
			*pp = w->next;
			watch_free(c->s, c, w);
			return 0;
		}
	}
	return -ENOENT;
}

void xs_watch_del_all(struct xs_conn *c)
{
	while (c->watches) {
		struct xs_watch *w = c->watches;

		c->watches = w->next;
		watch_free(c->s, c, w);
	}
}

/* The path as the watcher sees it. */
static const char *watcher_path(const struct xs_conn *c,
                                const struct xs_watch *w, const char *path)
{
	char base[32];
	size_t n;

	if (!w->relative)
		return path;
	xs_domain_path(c->domid, base, sizeof(base));
	n = strlen(base);
	if (strncmp(path, base, n) == 0 && path[n] == '/')
		return path + n + 1;
	return path;
}

static void send_event(struct xs_conn *c, const struct xs_watch *w,
                       const char *path)
{
	xs_conn_event(c, watcher_path(c, w, path), w->token);
}

void xs_watch_fire_initial(struct xs_conn *c, const struct xs_watch *w)
{
	send_event(c, w, w->path);
}

static int target_of(struct xss *s, uint16_t domid)
{
	struct xs_dom *d = xs_dom_find(s, domid);

	return d ? d->target : -1;
}

static bool can_read(struct xss *s, uint16_t domid, const struct xs_perm *p,
                     uint32_t n)
{
	return xs_perm_for(p, n, domid, target_of(s, domid)) & XS_P_READ;
}

/* The nodes a permission decision about one event needs. */
struct ev_nodes {
	bool looked;
	const struct xs_node *node, *parent;
};

static bool permitted(struct xss *s, const struct xs_conn *c,
                      const struct xs_event *ev, struct ev_nodes *en)
{
	if (c->domid == 0)
		return true;
	if (ev->oldperms && can_read(s, c->domid, ev->oldperms, ev->noldperms))
		return true;
	if (!en->looked) {
		struct xs_node *parent;

		en->node = xs_store_nearest(s, ev->path, &parent);
		en->parent = parent;
		en->looked = true;
	}
	if (can_read(s, c->domid, en->node->perms, en->node->nperms))
		return true;
	return en->parent &&
	       can_read(s, c->domid, en->parent->perms, en->parent->nperms);
}

static bool depth_ok(const struct xs_watch *w, const char *path)
{
	return w->depth < 0 || xs_depth_below(path, w->path) <= (unsigned)w->depth;
}

/* Event path for watch w, or NULL if w does not match. */
static const char *match(const struct xs_watch *w, const struct xs_event *ev)
{
	if (w->path[0] == '@')
		return NULL;
	if (xs_is_child(ev->path, w->path))
		return depth_ok(w, ev->path) ? ev->path : NULL;
	if (ev->kind == XS_EV_REMOVE && xs_is_child(w->path, ev->path))
		return w->path;
	return NULL;
}

void xs_watch_fire(struct xss *s, const struct xs_event *ev)
{
	struct ev_nodes en = { .looked = false };

	for (struct xs_conn *c = s->conns; c; c = c->next) {
		int allowed = -1; /* not decided yet */

		if (c->closing)
			continue;
		for (const struct xs_watch *w = c->watches; w; w = w->next) {
			const char *path = match(w, ev);

			if (!path)
				continue;
			if (allowed < 0)
				allowed = permitted(s, c, ev, &en);
			if (allowed)
				send_event(c, w, path);
		}
	}
}

/* ---- special watches ------------------------------------------------------ */

static int special_slot(struct xss *s, const char *name, struct xs_perm ***p,
                        uint32_t **n)
{
	if (strcmp(name, special_intro) == 0) {
		*p = &s->intro_perms;
		*n = &s->n_intro_perms;
	} else if (strcmp(name, special_release) == 0) {
		*p = &s->release_perms;
		*n = &s->n_release_perms;
	} else {
		return -ENOENT;
	}
	return 0;
}

int xs_special_get(struct xss *s, const char *name, const struct xs_perm **p,
                   uint32_t *n)
{
	struct xs_perm **pp;
	uint32_t *pn;
	int r = special_slot(s, name, &pp, &pn);

	if (r < 0)
		return r;
	*p = *pp;
	*n = *pn;
	return 0;
}

int xs_special_set(struct xss *s, const char *name, const struct xs_perm *p,
                   uint32_t n)
{
	struct xs_perm **pp, *copy;
	uint32_t *pn;
	int r = special_slot(s, name, &pp, &pn);

	if (r < 0)
		return r;
	copy = malloc(n * sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, p, n * sizeof(*copy));
	free(*pp);
	*pp = copy;
	*pn = n;
	return 0;
}

static void forget_in(struct xs_perm *p, uint32_t *n, uint16_t domid)
{
	uint32_t out = 1;

	if (p[0].id == domid)
		p[0].id = 0;
	for (uint32_t i = 1; i < *n; i++)
		if (p[i].id != domid)
			p[out++] = p[i];
	*n = out;
}

void xs_special_forget(struct xss *s, uint16_t domid)
{
	forget_in(s->intro_perms, &s->n_intro_perms, domid);
	forget_in(s->release_perms, &s->n_release_perms, domid);
}

void xs_watch_fire_special(struct xss *s, const char *name, uint16_t domid)
{
	const struct xs_perm *p;
	uint32_t n;
	char withdom[48];

	if (xs_special_get(s, name, &p, &n) < 0)
		return;
	snprintf(withdom, sizeof(withdom), "%s/%u", name, (unsigned)domid);
	for (struct xs_conn *c = s->conns; c; c = c->next) {
		if (c->closing || (c->domid != 0 && !can_read(s, c->domid, p, n)))
			continue;
		for (const struct xs_watch *w = c->watches; w; w = w->next) {
			if (strcmp(w->path, name) == 0)
				xs_conn_event(c, w->depth == 1 ? withdom : name,
				              w->token);
			else if (strcmp(w->path, withdom) == 0)
				xs_conn_event(c, withdom, w->token);
		}
	}
}
