/* SPDX-License-Identifier: MIT */
/*
 * Grant tables.
 *
 * Granting side: a share is `count` fresh pages of the caller's domain,
 * each behind one grant entry (ref -> gfn, grantee, ro/rw).  The process
 * maps them itself from the domain's memfd.  Ending a share fails with
 * -EBUSY while any entry is mapped; abandoning it (explicitly, or by
 * closing the connection) ends it at the last unmap instead.
 *
 * Mapping side: a map names (domid, ref) pairs; only the grantee may map
 * an entry, and only read-only if the grant is.  The reply carries the
 * granting domains' memfds, read-only ones unless the map is writable, so
 * the kernel refuses a writable mapping of a read-only grant from that fd
 * (a process could still reopen it read-write through /proc: a model of
 * Xen's rule, not a barrier, as all domains run as one uid).  The
 * daemon counts mappings per entry, per share and per domain: that count
 * is what keeps a share from ending and a dying domain from being freed.
 * The mapping side is bounded per connection and, like Xen's maptrack
 * table, per mapping domain (sim_proto.h): mapping one page many times
 * costs the daemon memory per mapping, not per page.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hyp_impl.h"

struct hyp_share {
	struct hyp_dom *dom;
	struct hyp_conn *conn;    /* NULL once abandoned */
	uint32_t count, maps;     /* maps: live mappings over all entries */
	uint32_t refs[];
};

struct hyp_map_ent {
	struct hyp_dom *dom;      /* kept alive (dying) while we map it */
	uint32_t ref;
};

struct hyp_map {
	uint32_t count;
	struct hyp_map_ent ents[];
};

/* ---- handle tables ---- */

int hyp_slots_put(struct hyp_slots *s, void *obj, uint64_t *id)
{
	uint32_t i;

	if (s->used == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 16;
		void **o = realloc(s->obj, cap * sizeof(*o));
		uint32_t *g;

		if (!o)
			return -ENOMEM;
		s->obj = o;
		g = realloc(s->gen, cap * sizeof(*g));
		if (!g)
			return -ENOMEM;
		s->gen = g;
		memset(o + s->cap, 0, (cap - s->cap) * sizeof(*o));
		memset(g + s->cap, 0, (cap - s->cap) * sizeof(*g));
		s->hint = s->cap;
		s->cap = cap;
	}
	for (i = s->hint; s->obj[i]; i = (i + 1) % s->cap)
		;
	s->obj[i] = obj;
	s->gen[i]++;    /* a stale id of this slot no longer matches */
	s->used++;
	s->hint = (i + 1) % s->cap;
	*id = (uint64_t)s->gen[i] << 32 | i;
	return 0;
}

void *hyp_slots_get(const struct hyp_slots *s, uint64_t id)
{
	uint32_t i = (uint32_t)id;

	if (i >= s->cap || !s->obj[i] || s->gen[i] != (uint32_t)(id >> 32))
		return NULL;
	return s->obj[i];
}

void hyp_slots_del(struct hyp_slots *s, uint64_t id)
{
	uint32_t i = (uint32_t)id;

	s->obj[i] = NULL;
	s->used--;
}

void hyp_slots_fini(struct hyp_slots *s)
{
	free(s->obj);
	free(s->gen);
	memset(s, 0, sizeof(*s));
}

/* ---- grant entries ---- */

/* Make room for `count` more entries (the caller checked the limit). */
static int gnt_reserve(struct hyp_dom *d, uint32_t count)
{
	uint32_t cap = d->gnt_cap;
	struct hyp_gnt *g;

	while (cap < XVIO_SIM_FIRST_REF + d->gnt_used + count)
		cap = cap ? cap * 2 : 256;
	if (cap > XVIO_SIM_MAX_GRANTS)
		cap = XVIO_SIM_MAX_GRANTS;
	if (cap == d->gnt_cap)
		return 0;
	g = realloc(d->gnt, cap * sizeof(*g));
	if (!g)
		return -ENOMEM;
	memset(g + d->gnt_cap, 0, (cap - d->gnt_cap) * sizeof(*g));
	if (d->gnt_cap == 0)
		d->gnt_cursor = XVIO_SIM_FIRST_REF;
	d->gnt = g;
	d->gnt_cap = cap;
	return 0;
}

/* Next free ref after the last one handed out: refs are reused as late
 * as possible, so a stale ref is more likely to be caught as invalid. */
static uint32_t gnt_take(struct hyp_dom *d)
{
	uint32_t r = d->gnt_cursor;

	while (d->gnt[r].share) {
		if (++r >= d->gnt_cap)
			r = XVIO_SIM_FIRST_REF;
	}
	d->gnt_cursor = r + 1 >= d->gnt_cap ? XVIO_SIM_FIRST_REF : r + 1;
	return r;
}

static void share_end_now(struct hyp_share *s)
{
	static uint64_t gfns[XVIO_SIM_MAX_BATCH];
	struct hyp_dom *d = s->dom;

	for (uint32_t i = 0; i < s->count; i++) {
		struct hyp_gnt *g = &d->gnt[s->refs[i]];

		gfns[i] = g->gfn;
		memset(g, 0, sizeof(*g));
	}
	d->gnt_used -= s->count;
	hyp_dom_free_pages(d, s->count, gfns);
	free(s);
}

/* ---- granting side ---- */

int hyp_op_gnt_share(struct hyp_conn *c, struct hyp_msg *m)
{
	static uint64_t gfns[XVIO_SIM_MAX_BATCH];
	struct xvio_sim_page *out = m->out;
	struct hyp_dom *d = c->dom;
	uint32_t count = m->req->count;
	uint16_t grantee = m->req->domid;
	struct hyp_share *s;
	uint64_t id;
	int err;

	if (grantee >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	if (d->gnt_used + count > XVIO_SIM_MAX_GRANTS - XVIO_SIM_FIRST_REF)
		return -ENOSPC;
	if (d->nfree < count)
		return -ENOMEM;
	err = gnt_reserve(d, count);
	if (err < 0)
		return err;
	s = calloc(1, sizeof(*s) + count * sizeof(s->refs[0]));
	if (!s)
		return -ENOMEM;
	err = hyp_slots_put(&c->shares, s, &id);
	if (err < 0) {
		free(s);
		return err;
	}
	err = hyp_dom_alloc_pages(d, count, gfns);
	if (err < 0) {
		hyp_slots_del(&c->shares, id);
		free(s);
		return err;
	}
	s->dom = d;
	s->conn = c;
	s->count = count;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t ref = gnt_take(d);
		struct hyp_gnt *g = &d->gnt[ref];

		g->share = s;
		g->gfn = gfns[i];
		g->grantee = grantee;
		g->ro = !(m->req->flags & XVIO_SIM_F_WRITABLE);
		s->refs[i] = ref;
		out[i] = (struct xvio_sim_page){ .ref = ref, .fd = 0, .gfn = gfns[i] };
	}
	d->gnt_used += count;
	m->rep->val = id;
	m->rep->count = count;
	m->outlen = count * sizeof(*out);
	m->fds[0] = d->memfd;
	m->nfds = 1;
	return 0;
}

int hyp_op_gnt_share_end(struct hyp_conn *c, struct hyp_msg *m)
{
	struct hyp_share *s = hyp_slots_get(&c->shares, m->req->arg);

	if (!s)
		return -EINVAL;
	if (s->maps)
		return -EBUSY;
	hyp_slots_del(&c->shares, m->req->arg);
	share_end_now(s);
	return 0;
}

static void share_abandon(struct hyp_share *s)
{
	s->conn = NULL;
	if (!s->maps)
		share_end_now(s);
}

int hyp_op_gnt_share_abandon(struct hyp_conn *c, struct hyp_msg *m)
{
	struct hyp_share *s = hyp_slots_get(&c->shares, m->req->arg);

	if (!s)
		return -EINVAL;
	hyp_slots_del(&c->shares, m->req->arg);
	share_abandon(s);
	return 0;
}

/* ---- mapping side ---- */

/* Check one (domid, ref) for connection c; the granting domain in *out. */
static int map_check(struct hyp_conn *c, const struct xvio_sim_map_ent *e, bool writable,
                     struct hyp_dom **out)
{
	struct hyp_dom *gd;
	struct hyp_gnt *g;

	if (e->pad)
		return -EINVAL;
	gd = hyp_dom_get(c->dom->h, e->domid);
	if (!gd)
		return -ESRCH;
	if (e->ref < XVIO_SIM_FIRST_REF || e->ref >= gd->gnt_cap)
		return -EINVAL;
	g = &gd->gnt[e->ref];
	/* An abandoned share is being ended: no new mappings. */
	if (!g->share || !g->share->conn || g->grantee != c->dom->domid)
		return -EINVAL;
	if (writable && g->ro)
		return -EACCES;
	*out = gd;
	return 0;
}

int hyp_op_gnt_map(struct hyp_conn *c, struct hyp_msg *m)
{
	static struct hyp_dom *gds[XVIO_SIM_MAX_BATCH];
	struct hyp_dom *uniq[XVIO_SIM_MAX_MAP_DOMAINS];
	const struct xvio_sim_map_ent *ents = m->payload;
	struct xvio_sim_page *out = m->out;
	bool writable = m->req->flags & XVIO_SIM_F_WRITABLE;
	uint32_t count = m->req->count;
	struct hyp_map *mp;
	uint64_t id;
	int err;

	if (c->mapped + count > XVIO_SIM_MAX_CONN_MAPPED ||
	    c->dom->maptrack + count > XVIO_SIM_MAX_MAPTRACK)
		return -ENOMEM;
	m->nfds = 0;
	for (uint32_t i = 0; i < count; i++) {
		struct xvio_sim_map_ent e;
		unsigned fi;

		memcpy(&e, &ents[i], sizeof(e));
		err = map_check(c, &e, writable, &gds[i]);
		if (err < 0)
			return err;
		for (fi = 0; fi < m->nfds && uniq[fi] != gds[i]; fi++)
			;
		if (fi == m->nfds) {
			if (m->nfds == XVIO_SIM_MAX_MAP_DOMAINS)
				return -E2BIG;
			uniq[fi] = gds[i];
			m->fds[m->nfds++] = writable ? gds[i]->memfd : gds[i]->rofd;
		}
		out[i] = (struct xvio_sim_page){ .ref = e.ref, .fd = fi,
		                                 .gfn = gds[i]->gnt[e.ref].gfn };
	}
	mp = malloc(sizeof(*mp) + count * sizeof(mp->ents[0]));
	if (!mp)
		return -ENOMEM;
	err = hyp_slots_put(&c->maps, mp, &id);
	if (err < 0) {
		free(mp);
		return err;
	}
	mp->count = count;
	for (uint32_t i = 0; i < count; i++) {
		struct hyp_gnt *g = &gds[i]->gnt[out[i].ref];

		g->maps++;
		g->share->maps++;
		gds[i]->maps_active++;
		mp->ents[i] = (struct hyp_map_ent){ .dom = gds[i], .ref = out[i].ref };
	}
	c->mapped += count;
	c->dom->maptrack += count;
	m->rep->val = id;
	m->rep->count = count;
	m->outlen = count * sizeof(*out);
	return 0;
}

static void map_release(struct hyp_conn *c, struct hyp_map *mp)
{
	c->mapped -= mp->count;
	c->dom->maptrack -= mp->count;
	for (uint32_t i = 0; i < mp->count; i++) {
		struct hyp_dom *gd = mp->ents[i].dom;
		struct hyp_gnt *g = &gd->gnt[mp->ents[i].ref];
		struct hyp_share *s = g->share;

		g->maps--;
		s->maps--;
		gd->maps_active--;
		if (!s->conn && !s->maps)
			share_end_now(s);
		/* Frees gd if this was its last mapping; no later entry
		 * refers to it then. */
		hyp_dom_maybe_free(gd);
	}
	free(mp);
}

int hyp_op_gnt_unmap(struct hyp_conn *c, struct hyp_msg *m)
{
	struct hyp_map *mp = hyp_slots_get(&c->maps, m->req->arg);

	if (!mp)
		return -EINVAL;
	hyp_slots_del(&c->maps, m->req->arg);
	map_release(c, mp);
	return 0;
}

/* ---- teardown ---- */

void hyp_grant_conn_close(struct hyp_conn *c)
{
	for (uint32_t i = 0; i < c->maps.cap; i++) {
		if (c->maps.obj[i])
			map_release(c, c->maps.obj[i]);
	}
	hyp_slots_fini(&c->maps);
	for (uint32_t i = 0; i < c->shares.cap; i++) {
		if (c->shares.obj[i])
			share_abandon(c->shares.obj[i]);
	}
	hyp_slots_fini(&c->shares);
}

/* Forget whatever grants remain (only when the whole hypervisor goes). */
void hyp_grant_dom_fini(struct hyp_dom *d)
{
	for (uint32_t r = 0; r < d->gnt_cap; r++) {
		struct hyp_share *s = d->gnt[r].share;

		if (!s)
			continue;
		for (uint32_t i = 0; i < s->count; i++)
			d->gnt[s->refs[i]].share = NULL;
		free(s);
	}
	free(d->gnt);
	d->gnt = NULL;
	d->gnt_cap = d->gnt_used = 0;
}
