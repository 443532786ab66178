/* SPDX-License-Identifier: MIT */
/*
 * Unit: model-check the frontend and backend rules of xvio_xb_step()
 * against each other.
 *
 * The model has the two state nodes in xenstore and, per side, what its
 * process holds (PREPARED, CONNECTED, PEER_FAULT) plus a state write that
 * was decided but not yet made (the binding performs the actions, then
 * writes).  Each move is one side doing one step on the current pair of
 * states, so every interleaving and every coalescing of watch events is
 * covered: a side may skip any number of the peer's intermediate states.
 * The environment may restart either process (it loses its flags and
 * pending write; a frontend's rings die with it), make the backend READY,
 * and, in the removal model, write online=0 and state=Closing as libxl
 * does.
 *
 * The frontend's keys are "live" when they name the rings of the frontend
 * process that currently holds them.  A backend CONNECT on keys that are
 * not live may fail (mapping dead grants: PEER_FAULT) or succeed on dead
 * rings; both are explored.
 *
 * Checked from every start pair of states (fresh processes meeting any
 * leftover states) with up to MAX_RESTARTS restarts:
 *   - no reachable state is stuck: if neither side nor the environment
 *     can move, the goal has been reached;
 *   - the goal stays reachable from every reachable state without
 *     further restarts;
 *   - protocol moves alone never cycle outside the goal: whatever the
 *     scheduling, the handshake terminates.
 * Goal: both Connected, both connected, the backend on the live rings
 * (normal model); both released, nothing held (removal model, where
 * libxl removes both directories once the backend is Closed).
 *
 * Each protocol move of a side is one pass of the binding, which is one
 * xenstore transaction (read both states, decide, act, write): the
 * decision and the write form two moves, and the write is dropped (the
 * commit fails with EAGAIN) if the other side or the toolstack wrote a
 * node the pass read in between -- even the same value.  A frontend's
 * keys are published by the commit that writes Initialised.  Without that
 * atomicity this model finds a backend serving dead rings while both sides
 * rest Connected (a 3 -> 6 -> 3 cycle it never saw).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "xenbus.h"

#define MAX_RESTARTS 2
#define NONE 15 /* no pending write */

#define PREP XVIO_XB_PREPARED
#define CONN XVIO_XB_CONNECTED
#define PF XVIO_XB_PEER_FAULT

struct st {
	uint8_t bs, fs;     /* xenstore */
	uint8_t bfl, ffl;   /* PREP | CONN | PF */
	uint8_t bpend, fpend;
	/* A pass is one xenstore transaction: a write to either state node
	 * (or "online") after it read them makes its commit fail. */
	bool bconf, fconf;
	bool fpub;          /* the frontend's pending commit publishes keys */
	bool bsc, fsc;      /* the pending pass did SETUP or CONNECT */
	bool keys_live;     /* frontend keys name its current rings */
	bool b_ok;          /* backend serves the current rings */
	uint8_t restarts;
	bool ready;         /* backend READY */
	bool online;        /* backend "online" node */
	bool brel, frel;    /* released */
};

static uint64_t pack(const struct st *s)
{
	uint64_t k = 0;

	k = k << 4 | s->bs;
	k = k << 4 | s->fs;
	k = k << 6 | s->bfl;
	k = k << 6 | s->ffl;
	k = k << 4 | s->bpend;
	k = k << 4 | s->fpend;
	k = k << 1 | s->bconf;
	k = k << 1 | s->fconf;
	k = k << 1 | s->fpub;
	k = k << 1 | s->bsc;
	k = k << 1 | s->fsc;
	k = k << 1 | s->keys_live;
	k = k << 1 | s->b_ok;
	k = k << 2 | s->restarts;
	k = k << 1 | s->ready;
	k = k << 1 | s->online;
	k = k << 1 | s->brel;
	k = k << 1 | s->frel;
	return k;
}

static struct st unpack(uint64_t k)
{
	struct st s;

	s.frel = k & 1, k >>= 1;
	s.brel = k & 1, k >>= 1;
	s.online = k & 1, k >>= 1;
	s.ready = k & 1, k >>= 1;
	s.restarts = k & 3, k >>= 2;
	s.b_ok = k & 1, k >>= 1;
	s.keys_live = k & 1, k >>= 1;
	s.fsc = k & 1, k >>= 1;
	s.bsc = k & 1, k >>= 1;
	s.fpub = k & 1, k >>= 1;
	s.fconf = k & 1, k >>= 1;
	s.bconf = k & 1, k >>= 1;
	s.fpend = k & 15, k >>= 4;
	s.bpend = k & 15, k >>= 4;
	s.ffl = k & 63, k >>= 6;
	s.bfl = k & 63, k >>= 6;
	s.fs = k & 15, k >>= 4;
	s.bs = k & 15;
	return s;
}

/* ---- a growable hash set of states, numbered in insertion order ---- */

struct set {
	uint64_t *keys; /* slot -> key+1 (0 = empty) */
	uint32_t *idx;  /* slot -> state number */
	size_t cap, n;
	uint64_t *list; /* state number -> key */
	size_t lcap;
};

static size_t slot_of(const struct set *s, uint64_t key)
{
	uint64_t h = key * 0x9E3779B97F4A7C15ull;
	size_t i = (size_t)(h >> 20) & (s->cap - 1);

	while (s->keys[i] && s->keys[i] != key + 1)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static void set_grow(struct set *s)
{
	struct set n = { 0 };

	n.cap = s->cap ? s->cap * 2 : 1 << 16;
	n.keys = calloc(n.cap, sizeof(*n.keys));
	n.idx = calloc(n.cap, sizeof(*n.idx));
	CHECK(n.keys && n.idx);
	for (size_t i = 0; i < s->cap; i++) {
		if (s->keys[i]) {
			size_t j = slot_of(&n, s->keys[i] - 1);
			n.keys[j] = s->keys[i];
			n.idx[j] = s->idx[i];
		}
	}
	free(s->keys);
	free(s->idx);
	s->keys = n.keys;
	s->idx = n.idx;
	s->cap = n.cap;
}

/* Returns the state's number; *added tells whether it is new. */
static uint32_t set_add(struct set *s, uint64_t key, bool *added)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap)
		set_grow(s);
	i = slot_of(s, key);
	*added = !s->keys[i];
	if (*added) {
		if (s->n == s->lcap) {
			s->lcap = s->lcap ? s->lcap * 2 : 1 << 16;
			s->list = realloc(s->list, s->lcap * sizeof(*s->list));
			CHECK(s->list);
		}
		s->keys[i] = key + 1;
		s->idx[i] = (uint32_t)s->n;
		s->list[s->n++] = key;
	}
	return s->idx[i];
}

/* ---- moves ---- */

enum kind { PROTO, ENV, RESTART };

struct move {
	struct st to;
	enum kind kind;
};

static unsigned flags_of(const struct st *s, bool backend)
{
	if (backend)
		return (s->online ? XVIO_XB_ONLINE : 0) | (s->ready ? XVIO_XB_READY : 0) | s->bfl;
	return XVIO_XB_ONLINE | s->ffl;
}

static void add(struct move *m, int *n, const struct st *to, enum kind k)
{
	m[*n].to = *to;
	m[*n].kind = k;
	(*n)++;
}

static void backend_moves(const struct st *s, struct move *m, int *n)
{
	struct xvio_xb_step st;
	struct st t = *s;

	if (s->brel)
		return;
	if (s->bpend != NONE) {
		/* Commit, or EAGAIN: nothing written, what the pass set up is
		 * torn down (its writes are lost), and the next pass re-plans. */
		if (!s->bconf) {
			t.bs = s->bpend;
			if (s->fpend != NONE)
				t.fconf = true;
		} else if (s->bsc) {
			t.bfl &= ~(PREP | CONN);
			t.b_ok = false;
		}
		t.bpend = NONE;
		t.bconf = false;
		t.bsc = false;
		add(m, n, &t, PROTO);
		return;
	}
	CHECK_INT(xvio_xb_step(XVIO_XB_BACKEND, s->bs, s->fs, flags_of(s, true), &st), ==, 0);
	if (!st.actions)
		return;
	if (st.actions & XVIO_XB_ACT_TEARDOWN) {
		t.bfl &= ~(PREP | CONN);
		t.b_ok = false;
	}
	if (st.actions & XVIO_XB_ACT_SETUP)
		t.bfl = (t.bfl | PREP) & ~PF;
	if (st.actions & XVIO_XB_ACT_CONNECT) {
		if (!s->keys_live) {
			/* Mapping dead grants fails: the session is broken. */
			struct st f = t;
			f.bfl |= PF;
			add(m, n, &f, PROTO);
		}
		t.bfl |= CONN;
		t.b_ok = s->keys_live;
	}
	if (st.actions & XVIO_XB_ACT_SWITCH) {
		t.bpend = (uint8_t)st.next;
		t.bsc = (st.actions & (XVIO_XB_ACT_SETUP | XVIO_XB_ACT_CONNECT)) != 0;
	}
	if (st.actions & XVIO_XB_ACT_RELEASE)
		t.brel = true;
	add(m, n, &t, PROTO);
}

static void frontend_moves(const struct st *s, struct move *m, int *n)
{
	struct xvio_xb_step st;
	struct st t = *s;

	if (s->frel)
		return;
	if (s->fpend != NONE) {
		if (!s->fconf) {
			t.fs = s->fpend;
			if (s->fpub)
				t.keys_live = true; /* keys and state in one commit */
			if (s->bpend != NONE)
				t.bconf = true;
		} else if (s->fsc) {
			t.ffl &= ~(PREP | CONN);
			t.b_ok = false;
		}
		t.fpend = NONE;
		t.fconf = false;
		t.fpub = false;
		t.fsc = false;
		add(m, n, &t, PROTO);
		return;
	}
	CHECK_INT(xvio_xb_step(XVIO_XB_FRONTEND, s->fs, s->bs, flags_of(s, false), &st), ==, 0);
	if (!st.actions)
		return;
	if (st.actions & XVIO_XB_ACT_TEARDOWN) {
		t.ffl &= ~(PREP | CONN);
		t.keys_live = false; /* grants ended */
		t.b_ok = false;
	}
	if (st.actions & XVIO_XB_ACT_SETUP) {
		/* Fresh rings; their keys become visible when the pass commits. */
		t.ffl = (t.ffl | PREP) & ~PF;
		t.keys_live = false;
		t.b_ok = false;
		t.fpub = true;
	}
	if (st.actions & XVIO_XB_ACT_CONNECT)
		t.ffl |= CONN;
	if (st.actions & XVIO_XB_ACT_SWITCH) {
		t.fpend = (uint8_t)st.next;
		t.fsc = (st.actions & (XVIO_XB_ACT_SETUP | XVIO_XB_ACT_CONNECT)) != 0;
	}
	if (st.actions & XVIO_XB_ACT_RELEASE)
		t.frel = true;
	add(m, n, &t, PROTO);
}

static int moves(const struct st *s, bool removal, struct move *m)
{
	int n = 0;
	struct st t;

	backend_moves(s, m, &n);
	frontend_moves(s, m, &n);
	if (!s->ready) {
		t = *s;
		t.ready = true;
		add(m, &n, &t, ENV);
	}
	if (removal && s->online) {
		/* libxl: online=0 and state=Closing in one transaction. */
		t = *s;
		t.online = false;
		t.bs = XenbusStateClosing;
		t.bconf = s->bpend != NONE;
		t.fconf = s->fpend != NONE;
		add(m, &n, &t, ENV);
	}
	if (removal && !s->online && s->bs == XenbusStateClosed && s->fs != 0) {
		/* libxl saw Closed: it removes both device directories. */
		t = *s;
		t.bs = t.fs = XenbusStateUnknown;
		t.bconf = s->bpend != NONE;
		t.fconf = s->fpend != NONE;
		add(m, &n, &t, ENV);
	}
	if (s->restarts < MAX_RESTARTS) {
		if (!s->brel) {
			t = *s;
			t.restarts++;
			t.bfl = 0;
			t.bpend = NONE;
			t.bconf = false;
			t.bsc = false;
			t.b_ok = false;
			add(m, &n, &t, RESTART);
		}
		if (!s->frel) {
			t = *s;
			t.restarts++;
			t.ffl = 0;
			t.fpend = NONE;
			t.fconf = false;
			t.fpub = false;
			t.fsc = false;
			t.keys_live = false;
			t.b_ok = false;
			add(m, &n, &t, RESTART);
		}
	}
	return n;
}

static bool goal(const struct st *s, bool removal)
{
	if (removal)
		return s->brel && s->frel && !(s->ffl & (PREP | CONN)) &&
		       !(s->bfl & (PREP | CONN));
	return s->bs == XenbusStateConnected && s->fs == XenbusStateConnected &&
	       (s->bfl & CONN) && (s->ffl & CONN) && s->b_ok && s->bpend == NONE &&
	       s->fpend == NONE;
}

static void describe(const char *what, const struct st *s)
{
	fprintf(stderr,
	        "%s: be=%s fl=%#x pend=%d | fe=%s fl=%#x pend=%d | keys_live=%d b_ok=%d "
	        "restarts=%d ready=%d online=%d brel=%d frel=%d\n",
	        what, xvio_xb_state_name(s->bs), s->bfl, s->bpend == NONE ? -1 : s->bpend,
	        xvio_xb_state_name(s->fs), s->ffl, s->fpend == NONE ? -1 : s->fpend,
	        s->keys_live, s->b_ok, s->restarts, s->ready, s->online, s->brel, s->frel);
}

/* ---- exploration ---- */

struct graph {
	struct set set;
	uint32_t *parent; /* first predecessor found, for traces */
	size_t pcap;
	/* Edges without restarts, as (from, to) with a kind. */
	uint32_t *from, *to;
	uint8_t *kind;
	size_t ne, cap;
};

static void edge(struct graph *g, uint32_t a, uint32_t b, enum kind k)
{
	if (g->ne == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 1 << 16;
		g->from = realloc(g->from, g->cap * sizeof(*g->from));
		g->to = realloc(g->to, g->cap * sizeof(*g->to));
		g->kind = realloc(g->kind, g->cap);
		CHECK(g->from && g->to && g->kind);
	}
	g->from[g->ne] = a;
	g->to[g->ne] = b;
	g->kind[g->ne] = (uint8_t)k;
	g->ne++;
}

static void set_parent(struct graph *g, uint32_t child, uint32_t parent)
{
	if (child >= g->pcap) {
		size_t cap = g->pcap ? g->pcap * 2 : 1 << 16;
		while (cap <= child)
			cap *= 2;
		g->parent = realloc(g->parent, cap * sizeof(*g->parent));
		CHECK(g->parent);
		g->pcap = cap;
	}
	g->parent[child] = parent;
}

/* Print how the exploration reached state i, from its start state. */
static void trace(struct graph *g, uint32_t i)
{
	uint32_t path[256];
	int n = 0;

	while (n < 256) {
		path[n++] = i;
		if (g->parent[i] == i)
			break;
		i = g->parent[i];
	}
	while (n--) {
		struct st s = unpack(g->set.list[path[n]]);
		describe("  trace", &s);
	}
}

static void explore(struct graph *g, bool removal)
{
	struct move m[8];
	bool added;

	for (int bs = 1; bs <= XVIO_XB_STATE_MAX; bs++)
		for (int fs = 1; fs <= XVIO_XB_STATE_MAX; fs++) {
			struct st s = { 0 };
			s.bs = (uint8_t)bs;
			s.fs = (uint8_t)fs;
			s.bpend = s.fpend = NONE;
			s.online = true;
			for (int ready = 0; ready < 2; ready++) {
				s.ready = ready;
				uint32_t i = set_add(&g->set, pack(&s), &added);
				if (added)
					set_parent(g, i, i);
			}
		}
	/* BFS: the set's insertion order is the queue. */
	for (size_t i = 0; i < g->set.n; i++) {
		struct st s = unpack(g->set.list[i]);
		int n = moves(&s, removal, m);
		bool progress = false;

		for (int k = 0; k < n; k++) {
			uint32_t j = set_add(&g->set, pack(&m[k].to), &added);

			if (added)
				set_parent(g, j, (uint32_t)i);

			if (m[k].kind != RESTART) {
				edge(g, (uint32_t)i, j, m[k].kind);
				progress = true;
			}
		}
		if (!progress && !goal(&s, removal)) {
			trace(g, (uint32_t)i);
			describe("stuck", &s);
			CHECK_FAIL("%s model: a state no move leaves is not the goal",
			           removal ? "removal" : "normal");
		}
	}
}

/* Every state reaches the goal over non-restart edges. */
static void check_goal_reachable(struct graph *g, bool removal)
{
	size_t n = g->set.n;
	uint32_t *cnt = calloc(n + 1, sizeof(*cnt)), *adj = malloc(g->ne * sizeof(*adj));
	uint32_t *queue = malloc(n * sizeof(*queue));
	bool *ok = calloc(n, sizeof(*ok));
	size_t qh = 0, qt = 0;

	CHECK(cnt && adj && queue && ok);
	/* Reverse adjacency in CSR form. */
	for (size_t e = 0; e < g->ne; e++)
		cnt[g->to[e] + 1]++;
	for (size_t i = 0; i < n; i++)
		cnt[i + 1] += cnt[i];
	uint32_t *fill = calloc(n, sizeof(*fill));
	CHECK(fill);
	for (size_t e = 0; e < g->ne; e++)
		adj[cnt[g->to[e]] + fill[g->to[e]]++] = g->from[e];
	for (size_t i = 0; i < n; i++) {
		struct st s = unpack(g->set.list[i]);
		if (goal(&s, removal)) {
			ok[i] = true;
			queue[qt++] = (uint32_t)i;
		}
	}
	while (qh < qt) {
		uint32_t v = queue[qh++];
		for (uint32_t e = cnt[v]; e < cnt[v + 1]; e++)
			if (!ok[adj[e]]) {
				ok[adj[e]] = true;
				queue[qt++] = adj[e];
			}
	}
	for (size_t i = 0; i < n; i++) {
		if (!ok[i]) {
			struct st s = unpack(g->set.list[i]);
			trace(g, (uint32_t)i);
			describe("cannot reach the goal", &s);
			CHECK_FAIL("%s model: goal unreachable", removal ? "removal" : "normal");
		}
	}
	free(fill);
	free(ok);
	free(queue);
	free(adj);
	free(cnt);
}

/* No cycle of protocol moves through non-goal states (iterative DFS). */
static void check_terminates(struct graph *g, bool removal)
{
	size_t n = g->set.n;
	uint32_t *cnt = calloc(n + 1, sizeof(*cnt)), *adj = malloc(g->ne * sizeof(*adj));
	uint8_t *color = calloc(n, 1); /* 0 new, 1 on stack, 2 done */
	uint32_t *stack = malloc(n * sizeof(*stack)), *pos = malloc(n * sizeof(*pos));

	CHECK(cnt && adj && color && stack && pos);
	for (size_t e = 0; e < g->ne; e++)
		if (g->kind[e] == PROTO)
			cnt[g->from[e] + 1]++;
	for (size_t i = 0; i < n; i++)
		cnt[i + 1] += cnt[i];
	uint32_t *fill = calloc(n, sizeof(*fill));
	CHECK(fill);
	for (size_t e = 0; e < g->ne; e++)
		if (g->kind[e] == PROTO)
			adj[cnt[g->from[e]] + fill[g->from[e]]++] = g->to[e];
	for (size_t root = 0; root < n; root++) {
		size_t sp = 0;

		if (color[root])
			continue;
		stack[sp] = (uint32_t)root;
		pos[sp++] = cnt[root];
		color[root] = 1;
		while (sp) {
			uint32_t v = stack[sp - 1];

			if (pos[sp - 1] == cnt[v + 1]) {
				color[v] = 2;
				sp--;
				continue;
			}
			uint32_t w = adj[pos[sp - 1]++];
			if (color[w] == 1) {
				struct st s = unpack(g->set.list[w]);
				if (!goal(&s, removal)) {
					trace(g, w);
					describe("on a cycle", &s);
					CHECK_FAIL("%s model: protocol moves can cycle forever",
					           removal ? "removal" : "normal");
				}
			} else if (color[w] == 0) {
				color[w] = 1;
				stack[sp] = w;
				pos[sp++] = cnt[w];
			}
		}
	}
	free(fill);
	free(pos);
	free(stack);
	free(color);
	free(adj);
	free(cnt);
}

static void run_model(bool removal)
{
	struct graph g = { 0 };

	explore(&g, removal);
	check_goal_reachable(&g, removal);
	check_terminates(&g, removal);
	printf("%s model: %zu states, %zu edges\n", removal ? "removal" : "normal",
	       g.set.n, g.ne);
	/* Sanity: the model is not trivially small. */
	CHECK_INT(g.set.n, >, 1000);
	free(g.set.keys);
	free(g.set.idx);
	free(g.set.list);
	free(g.from);
	free(g.to);
	free(g.kind);
	free(g.parent);
}

int main(void)
{
	run_model(false);
	run_model(true);
	return 0;
}
