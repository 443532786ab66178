/* SPDX-License-Identifier: MIT */
/*
 * Request handlers for the store, and the dispatcher (watch and
 * transaction requests are in xs_session.c).  Semantics and error codes
 * follow C xenstored 4.17:
 *
 *  - payload syntax errors (missing NUL, wrong number of strings, bad
 *    numbers or permission strings, invalid paths) answer EINVAL and keep
 *    the connection;
 *  - unknown or reply-only types answer ENOSYS; privileged-only types from
 *    another domain answer EACCES; an unknown tx_id answers ENOENT;
 *  - a node that exists but may not be accessed answers EACCES; a missing
 *    node answers ENOENT only if the nearest existing ancestor grants the
 *    same access, EACCES otherwise (so existence does not leak);
 *  - quotas (unprivileged domains only): too many nodes, a node too big,
 *    too many permissions, too many transactions or too many nodes touched
 *    by one transaction answer ENOSPC; too many watches E2BIG.
 *
 * Paths can be 1500 levels deep: nothing here walks a path level by level
 * allocating or hashing each prefix; xs_prefixes hashes it once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xs_internal.h"

static const char ok_reply[] = "OK";

const char *xs_req_onearg(const struct xs_req *r)
{
	/* Exactly one string: non-empty payload whose only NUL ends it. */
	if (!r->len || memchr(r->p, '\0', r->len) != r->p + r->len - 1)
		return NULL;
	return r->p;
}

/* Reply with `buf`, which the request now owns and frees after sending. */
static int reply_take(struct xs_req *r, char *buf, size_t len)
{
	r->reply_alloc = buf;
	r->reply = buf;
	r->replylen = len;
	return 0;
}

/* Reply with a copy of `buf`: the store may change before the reply is
 * queued. */
static int reply_copy(struct xs_req *r, const void *buf, size_t len)
{
	char *out = malloc(len ? len : 1);

	if (!out)
		return -ENOMEM;
	if (len)
		memcpy(out, buf, len);
	return reply_take(r, out, len);
}

int xs_req_reply_str(struct xs_req *r, const char *str)
{
	return reply_copy(r, str, strlen(str) + 1);
}

static bool unpriv(const struct xs_req *r)
{
	return !xs_view_priv(&r->v);
}

static unsigned perm_for(const struct xs_view *v, const struct xs_node *n)
{
	return xs_perm_for(n->perms, n->nperms, v->domid, v->target);
}

/* Nearest node strictly above `path` in the view (root at worst);
 * linear in the path's length however deep it is. */
static const struct xs_node *nearest_above(struct xs_view *v, const char *path)
{
	struct xs_prefixes px; /* about 9 KiB */
	unsigned at;

	xs_prefixes(&px, path);
	if (px.n < 2)
		return xs_view_peek(v, "/");
	return xs_view_nearest(v, path, &px, px.n - 2, &at);
}

/* Get a node needing `need` rights; see the header comment for errors. */
static int lookup(struct xs_view *v, const char *path, unsigned need,
                  const struct xs_node **out)
{
	const struct xs_node *anc;
	int r = xs_view_get(v, path, out);

	if (r == 0 && (perm_for(v, *out) & need) == need)
		return 0;
	if (r == 0)
		r = -EACCES;
	if (r != -ENOENT && r != -EACCES)
		return r;
	anc = nearest_above(v, path);
	if (!anc || !(perm_for(v, anc) & need))
		return -EACCES;
	return r;
}

/* *path is NULL on failure, so the caller may always free it. */
static int canon_arg(struct xs_req *r, const char *arg, char **path)
{
	int err = -EINVAL;

	*path = arg ? xs_canon(r->v.domid, arg, &err) : NULL;
	return err;
}

/* The node a request names, needing `need` rights.  *path is for the
 * caller to free in every case; -ENOENT always comes from the lookup. */
static int lookup_arg(struct xs_req *r, const char *arg, unsigned need,
                      char **path, const struct xs_node **n)
{
	int ret = canon_arg(r, arg, path);

	return ret < 0 ? ret : lookup(&r->v, *path, need, n);
}

static int lookup_read(struct xs_req *r, const char *arg, const struct xs_node **n)
{
	char *path;
	int ret = lookup_arg(r, arg, XS_P_READ, &path, n);

	free(path);
	return ret;
}

static bool too_big(const struct xs_req *r, size_t size)
{
	return unpriv(r) && r->v.s->quota.node_size &&
	       size >= r->v.s->quota.node_size;
}

/* ---- creating nodes ------------------------------------------------------- */

/* What creating a path needs: its prefixes; the deepest one the view
 * has (`anc`, at index `at`); the number of nodes to create (k, the
 * prefixes below `at`) and how many of them the transaction has not
 * recorded yet. */
struct creation {
	struct xs_prefixes px;
	const struct xs_node *anc;
	unsigned at, k, untouched;
};

static int plan_create(struct xs_view *v, const char *path, struct creation *cr)
{
	const struct xs_node *anc;
	int r;

	xs_prefixes(&cr->px, path);
	if (cr->px.n < 2)
		return -EEXIST;
	xs_view_nearest(v, path, &cr->px, cr->px.n - 1, &cr->at);
	if (cr->at == cr->px.n - 1)
		return -EEXIST; /* cannot happen: lookup said ENOENT */
	cr->k = cr->px.n - 1 - cr->at;
	cr->untouched = 0;
	for (unsigned i = cr->at + 1; i < cr->px.n; i++)
		cr->untouched += !xs_view_touched_n(v, path, cr->px.end[i],
		                                    cr->px.hash[i]);
	/* Record the ancestor (it gains a child); the new paths are
	 * recorded as they are created. */
	{
		char *ap = strndup(path, cr->px.end[cr->at]);

		if (!ap)
			return -ENOMEM;
		r = xs_view_get(v, ap, &anc);
		free(ap);
	}
	if (r < 0)
		return r;
	cr->anc = anc;
	/* Checked up front: creation must not stop half-way. */
	return xs_view_room(v) < cr->untouched ? -ENOSPC : 0;
}

/* Length of the last component of prefix i (i >= 1). */
static size_t comp_len(const struct xs_prefixes *px, unsigned i)
{
	return (size_t)(px->end[i] - (i > 1 ? px->end[i - 1] : 0)) - 1;
}

static int check_create(struct xs_req *r, const struct creation *cr,
                        uint32_t vlen)
{
	struct xss *s = r->v.s;
	const struct xs_node *anc = cr->anc;
	size_t permbytes = (size_t)anc->nperms * XSS_PERM_BYTES;

	if (!unpriv(r))
		return 0;
	if (s->quota.nodes &&
	    xs_view_owned(&r->v, r->v.domid) + cr->k > s->quota.nodes)
		return -ENOSPC;
	if (too_big(r, xs_node_size(anc) + comp_len(&cr->px, cr->at + 1) + 1))
		return -ENOSPC;
	for (unsigned i = cr->at + 1; i + 1 < cr->px.n; i++)
		if (too_big(r, XSS_NODE_HDR + permbytes +
		                   comp_len(&cr->px, i + 1) + 1))
			return -ENOSPC;
	if (too_big(r, XSS_NODE_HDR + permbytes + vlen))
		return -ENOSPC;
	return 0;
}

/* Build the missing nodes top down; each inherits the permissions of the
 * nearest existing ancestor, owned by the creator unless that is dom0. */
static int build_nodes(struct xs_req *r, const char *path,
                       const struct creation *cr, const void *val,
                       uint32_t vlen)
{
	const struct xs_node *anc = cr->anc;
	struct xs_node *parent;
	struct xs_perm *perms = malloc(anc->nperms * sizeof(*perms));
	uint32_t nperms = anc->nperms;
	int ret;

	if (!perms)
		return -ENOMEM;
	memcpy(perms, anc->perms, nperms * sizeof(*perms));
	if (unpriv(r))
		perms[0].id = r->v.domid;
	ret = xs_view_modify(&r->v, anc->path, &parent);
	for (unsigned i = cr->at + 1; i < cr->px.n && ret == 0; i++) {
		char *name = strndup(path, cr->px.end[i]);
		struct xs_node *n = name ? xs_node_new(name, perms, nperms) : NULL;

		free(name);
		ret = n ? xs_node_add_child(parent, xs_basename(n->path)) : -ENOMEM;
		if (ret == 0 && i + 1 == cr->px.n)
			ret = xs_node_set_value(n, val, vlen);
		if (ret < 0) {
			xs_node_free(n);
			break;
		}
		/* The node stays valid in the transaction after this. */
		ret = xs_view_create(&r->v, n);
		parent = n;
	}
	free(perms);
	return ret;
}

static int create(struct xs_req *r, const char *path, const void *val,
                  uint32_t vlen)
{
	struct creation *cr = malloc(sizeof(*cr));
	int ret = cr ? plan_create(&r->v, path, cr) : -ENOMEM;

	if (ret == 0)
		ret = check_create(r, cr, vlen);
	/* Queued first: nothing is changed if the queue is full. */
	if (ret == 0)
		ret = xs_view_event(&r->v, XS_EV_CHANGE, path, NULL, 0);
	if (ret == 0)
		ret = build_nodes(r, path, cr, val, vlen);
	free(cr);
	return ret;
}

/* ---- store requests --------------------------------------------------------- */

static int write_value(struct xs_req *r, const char *path, const void *val,
                       uint32_t vlen)
{
	const struct xs_node *cur;
	struct xs_node *n;
	int ret = lookup(&r->v, path, XS_P_WRITE, &cur);

	if (ret == -ENOENT)
		return create(r, path, val, vlen);
	if (ret < 0)
		return ret;
	if (too_big(r, xs_node_size(cur) - cur->vlen + vlen))
		return -ENOSPC;
	ret = xs_view_event(&r->v, XS_EV_CHANGE, path, NULL, 0);
	if (ret == 0)
		ret = xs_view_modify(&r->v, path, &n);
	if (ret == 0)
		ret = xs_node_set_value(n, val, vlen);
	return ret;
}

static int op_write(struct xs_req *r)
{
	const char *vec[1];
	char *path;
	size_t off;
	int ret;

	if (xs_strings(r->p, r->len, vec, 1) < 1)
		return -EINVAL;
	ret = canon_arg(r, vec[0], &path);
	if (ret < 0)
		return ret;
	off = strlen(vec[0]) + 1;
	ret = write_value(r, path, r->p + off, (uint32_t)(r->len - off));
	free(path);
	return ret;
}

static int op_mkdir(struct xs_req *r)
{
	const struct xs_node *cur;
	char *path;
	int ret = lookup_arg(r, xs_req_onearg(r), XS_P_WRITE, &path, &cur);

	if (ret == -ENOENT)
		ret = create(r, path, NULL, 0);
	free(path);
	return ret;
}

static char *child_path(const char *parent, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", strcmp(parent, "/") ? parent : "", name) < 0)
		return NULL;
	return p;
}

/* Nodes of the subtree at `path` the transaction has not touched yet. */
static unsigned count_tree(struct xs_view *v, const char *path)
{
	const struct xs_node *n = xs_view_peek(v, path);
	unsigned count = xs_view_touched(v, path) ? 0 : 1;

	if (!n)
		return 0;
	for (uint32_t off = 0; off < n->childlen;
	     off += (uint32_t)strlen(n->children + off) + 1) {
		char *c = child_path(path, n->children + off);

		if (c)
			count += count_tree(v, c);
		free(c);
	}
	return count;
}

static int delete_tree(struct xs_view *v, const char *path)
{
	const struct xs_node *n;
	int ret = xs_view_get(v, path, &n);

	if (ret == -ENOENT)
		return 0;
	/* Children first: the node's child list stays valid until the node
	 * itself is deleted. */
	for (uint32_t off = 0; ret == 0 && off < n->childlen;
	     off += (uint32_t)strlen(n->children + off) + 1) {
		char *c = child_path(path, n->children + off);

		ret = c ? delete_tree(v, c) : -ENOMEM;
		free(c);
	}
	return ret < 0 ? ret : xs_view_delete(v, path);
}

/* Remove `path` and its subtree; no permission checks. */
static int remove_tree(struct xs_view *v, const char *path)
{
	struct xs_node *parent;
	char *pp = xs_parent(path);
	int ret;

	if (!pp)
		return -ENOMEM;
	/* Checked first: a removal cannot stop half-way. */
	if (xs_view_room(v) < count_tree(v, path) + !xs_view_touched(v, pp))
		ret = -ENOSPC;
	else
		ret = xs_view_event(v, XS_EV_REMOVE, path, NULL, 0);
	if (ret == 0)
		ret = delete_tree(v, path);
	if (ret == 0)
		ret = xs_view_modify(v, pp, &parent);
	if (ret == 0)
		xs_node_del_child(parent, xs_basename(path));
	free(pp);
	return ret;
}

static int op_rm(struct xs_req *r)
{
	const struct xs_node *cur;
	char *path;
	int ret = lookup_arg(r, xs_req_onearg(r), XS_P_WRITE, &path, &cur);

	if (ret == -ENOENT) {
		/* Removing what is not there is fine if the parent is. */
		char *pp = xs_parent(path);

		ret = pp ? xs_view_get(&r->v, pp, &cur) : -ENOMEM;
		free(pp);
	} else if (ret == 0) {
		ret = strcmp(path, "/") ? remove_tree(&r->v, path) : -EINVAL;
	}
	free(path);
	return ret;
}

static int op_read(struct xs_req *r)
{
	const struct xs_node *n;
	int ret = lookup_read(r, xs_req_onearg(r), &n);

	return ret < 0 ? ret : reply_copy(r, n->value, n->vlen);
}

static int op_directory(struct xs_req *r)
{
	const struct xs_node *n;
	int ret = lookup_read(r, xs_req_onearg(r), &n);

	return ret < 0 ? ret : reply_copy(r, n->children, n->childlen);
}

/* "<gen>\0" then whole child names from byte `off` on, as many as fit; an
 * extra "\0" marks the end of the list (C xenstored's format). */
static int directory_part(struct xs_req *r, const struct xs_node *n,
                          unsigned long off)
{
	char gen[24];
	size_t genlen = (size_t)snprintf(gen, sizeof(gen), "%llu",
	                                 (unsigned long long)n->gen) + 1;
	size_t maxlen = XENSTORE_PAYLOAD_MAX - genlen - 1, len = 0;
	bool end = true;
	char *out;

	if (off < n->childlen) {
		const char *child = n->children + off;

		while (off + len < n->childlen && len + strlen(child) < maxlen) {
			len += strlen(child) + 1;
			child = n->children + off + len;
		}
		end = off + len == n->childlen;
	}
	out = malloc(genlen + len + 1);
	if (!out)
		return -ENOMEM;
	memcpy(out, gen, genlen);
	if (len)
		memcpy(out + genlen, n->children + off, len);
	out[genlen + len] = '\0';
	return reply_take(r, out, genlen + len + (end ? 1 : 0));
}

static int op_directory_part(struct xs_req *r)
{
	const struct xs_node *n;
	const char *vec[2];
	unsigned long off;
	int ret;

	if (xs_strings(r->p, r->len, vec, 2) != 2 ||
	    xs_parse_uint(vec[1], UINT32_MAX, &off) < 0)
		return -EINVAL;
	ret = lookup_read(r, vec[0], &n);
	return ret < 0 ? ret : directory_part(r, n, off);
}

static int reply_perms(struct xs_req *r, const struct xs_perm *p, uint32_t n)
{
	char *out = malloc((size_t)n * 8);
	size_t len = 0;

	if (!out)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		len += (size_t)xs_perm_format(&p[i], out + len, 8) + 1;
	return reply_take(r, out, len);
}

static int op_get_perms(struct xs_req *r)
{
	const char *arg = xs_req_onearg(r);
	const struct xs_perm *p;
	const struct xs_node *n;
	uint32_t np;
	int ret;

	if (arg && arg[0] == '@') {
		ret = xs_special_get(r->v.s, arg, &p, &np);
		return ret < 0 ? ret : reply_perms(r, p, np);
	}
	ret = lookup_read(r, arg, &n);
	return ret < 0 ? ret : reply_perms(r, n->perms, n->nperms);
}

static int parse_perms(struct xs_req *r, const char *first, unsigned num,
                       struct xs_perm **out)
{
	struct xs_perm *p = malloc(num * sizeof(*p));
	const char *s = first;

	if (!p)
		return -ENOMEM;
	for (unsigned i = 0; i < num; i++, s += strlen(s) + 1) {
		if (xs_perm_parse(s, &p[i]) < 0) {
			free(p);
			return -EINVAL;
		}
	}
	/* Like C xenstored, the owner must be a domain that exists. */
	if (!xs_dom_exists(r->v.s, p[0].id)) {
		free(p);
		return -ENOENT;
	}
	*out = p;
	return 0;
}

static int set_special_perms(struct xs_req *r, const char *name,
                             const struct xs_perm *p, unsigned num)
{
	const struct xs_perm *cur;
	uint32_t ncur;
	const unsigned need = XS_P_WRITE | XS_P_OWNER;
	int ret = xs_special_get(r->v.s, name, &cur, &ncur);

	if (ret < 0)
		return ret;
	if ((xs_perm_for(cur, ncur, r->v.domid, r->v.target) & need) != need)
		return -EACCES;
	return xs_special_set(r->v.s, name, p, num);
}

static int set_node_perms(struct xs_req *r, const char *arg,
                          const struct xs_perm *p, unsigned num)
{
	const struct xs_node *cur;
	struct xs_node *n;
	uint16_t old_owner = 0;
	char *path;
	int ret = lookup_arg(r, arg, XS_P_WRITE | XS_P_OWNER, &path, &cur);

	if (ret == 0 && unpriv(r) && p[0].id != cur->perms[0].id)
		ret = -EPERM;
	if (ret == 0 && too_big(r, xs_node_size(cur) -
	                               cur->nperms * XSS_PERM_BYTES +
	                               num * XSS_PERM_BYTES))
		ret = -ENOSPC;
	/* Queued before the change (nothing changes if the queue is full),
	 * with the permissions the node has now: who could read it before
	 * hears of it too. */
	if (ret == 0)
		ret = xs_view_event(&r->v, XS_EV_CHANGE, path, cur->perms,
		                    cur->nperms);
	if (ret == 0) {
		old_owner = cur->perms[0].id;
		ret = xs_view_modify(&r->v, path, &n);
	}
	if (ret == 0)
		ret = xs_node_set_perms(n, p, num);
	if (ret == 0)
		ret = xs_view_account(&r->v, old_owner, -1);
	if (ret == 0)
		ret = xs_view_account(&r->v, p[0].id, 1);
	free(path);
	return ret;
}

static int op_set_perms(struct xs_req *r)
{
	const char *vec[1];
	unsigned n = xs_strings(r->p, r->len, vec, 1);
	struct xs_perm *p;
	int ret;

	if (n < 2)
		return -EINVAL;
	n--;
	if (unpriv(r) && r->v.s->quota.perms && n > r->v.s->quota.perms)
		return -ENOSPC;
	ret = parse_perms(r, vec[0] + strlen(vec[0]) + 1, n, &p);
	if (ret < 0)
		return ret;
	if (vec[0][0] == '@')
		ret = set_special_perms(r, vec[0], p, n);
	else
		ret = set_node_perms(r, vec[0], p, n);
	free(p);
	return ret;
}

/* ---- dispatch ------------------------------------------------------------------------ */

#define F_PRIV 1u  /* domain 0 only */
#define F_NOTID 2u /* tx_id ignored */
#define F_STORE 4u /* runs in a transaction */

static const struct {
	int (*fn)(struct xs_req *r);
	unsigned flags;
} ops[XS_TYPE_COUNT] = {
	[XS_CONTROL] = { xs_op_control, F_PRIV },
	[XS_DIRECTORY] = { op_directory, F_STORE },
	[XS_READ] = { op_read, F_STORE },
	[XS_GET_PERMS] = { op_get_perms, F_STORE },
	[XS_WATCH] = { xs_op_watch, F_NOTID },
	[XS_UNWATCH] = { xs_op_unwatch, F_NOTID },
	[XS_TRANSACTION_START] = { xs_op_tx_start, 0 },
	[XS_TRANSACTION_END] = { xs_op_tx_end, 0 },
	[XS_INTRODUCE] = { xs_op_introduce, F_PRIV },
	[XS_RELEASE] = { xs_op_release, F_PRIV },
	[XS_GET_DOMAIN_PATH] = { xs_op_get_domain_path, 0 },
	[XS_WRITE] = { op_write, F_STORE },
	[XS_MKDIR] = { op_mkdir, F_STORE },
	[XS_RM] = { op_rm, F_STORE },
	[XS_SET_PERMS] = { op_set_perms, F_STORE },
	[XS_IS_DOMAIN_INTRODUCED] = { xs_op_is_introduced, F_PRIV },
	[XS_RESUME] = { xs_op_resume, F_PRIV },
	[XS_SET_TARGET] = { xs_op_set_target, F_PRIV },
	[XS_RESET_WATCHES] = { xs_op_reset_watches, F_NOTID },
	[XS_DIRECTORY_PART] = { op_directory_part, F_STORE },
};

/* Run a store request in its transaction (explicit or implicit). */
static int run_store(struct xs_req *r, int (*fn)(struct xs_req *r),
                     struct xs_tx *explicit_tx)
{
	int ret;

	if (explicit_tx) {
		r->v.tx = explicit_tx;
		ret = fn(r);
		/* Half-done changes cannot be undone in a transaction. */
		if (ret == -ENOMEM)
			explicit_tx->failed = true;
		return ret;
	}
	r->v.tx = xs_tx_new(false);
	if (!r->v.tx)
		return -ENOMEM;
	ret = fn(r);
	if (ret < 0) {
		xs_tx_free(r->v.tx);
		return ret;
	}
	return xs_tx_commit(r->v.s, r->v.tx);
}

static int dispatch(struct xs_req *r)
{
	uint32_t type = r->hdr->type;
	struct xs_tx *tx = NULL;

	if (type >= XS_TYPE_COUNT || !ops[type].fn)
		return -ENOSYS;
	if ((ops[type].flags & F_PRIV) && r->c->domid != 0)
		return -EACCES;
	if (!(ops[type].flags & F_NOTID) && r->hdr->tx_id) {
		tx = xs_tx_find(r->c, r->hdr->tx_id);
		if (!tx)
			return -ENOENT;
	}
	if (ops[type].flags & F_STORE)
		return run_store(r, ops[type].fn, tx);
	return ops[type].fn(r);
}

void xs_ops_handle(struct xs_conn *c, const struct xsd_sockmsg *hdr)
{
	struct xs_dom *d = xs_dom_find(c->s, c->domid);
	struct xs_req r = {
		.c = c,
		.hdr = hdr,
		.p = c->in_buf,
		.len = hdr->len,
		.v = { .s = c->s, .domid = c->domid, .target = d ? d->target : -1 },
		.reply = ok_reply,
		.replylen = sizeof(ok_reply),
	};
	int ret = dispatch(&r);

	if (ret < 0)
		xs_conn_error(c, hdr, -ret);
	else
		xs_conn_reply(c, hdr, hdr->type, r.reply, r.replylen);
	if (ret == 0 && r.new_watch)
		xs_watch_fire_initial(c, r.new_watch);
	free(r.reply_alloc);
}

/* ---- server-internal writers ----------------------------------------------------- */

static int run_internal(struct xss *s, int (*fn)(struct xs_req *r, const void *a),
                        const void *arg)
{
	struct xs_req r = { .v = { .s = s, .domid = 0, .target = -1 } };
	int ret;

	r.v.tx = xs_tx_new(false);
	if (!r.v.tx)
		return -ENOMEM;
	ret = fn(&r, arg);
	if (ret < 0) {
		xs_tx_free(r.v.tx);
		return ret;
	}
	return xs_tx_commit(s, r.v.tx);
}

struct write_args {
	const char *path;
	const void *val;
	size_t len;
};

static int internal_write(struct xs_req *r, const void *arg)
{
	const struct write_args *a = arg;

	return write_value(r, a->path, a->val, (uint32_t)a->len);
}

int xs_ops_write(struct xss *s, const char *path, const void *val, size_t len)
{
	struct write_args a = { path, val, len };

	if (!xs_path_valid(path) || len > XENSTORE_PAYLOAD_MAX)
		return -EINVAL;
	return run_internal(s, internal_write, &a);
}

static int internal_rm(struct xs_req *r, const void *arg)
{
	return remove_tree(&r->v, arg);
}

static int by_length(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return la < lb ? -1 : la > lb;
}

/* Paths of the nodes owned by `domid`, shortest first, so a subtree is
 * removed from its top and its members are then already gone. */
static char **owned_paths(struct xss *s, uint16_t domid, size_t *count)
{
	size_t pos = 0, n = 0;
	struct xs_mapent *e = NULL;
	char **list = malloc((s->nodes.n + 1) * sizeof(*list));

	if (!list)
		return NULL;
	while (xs_map_next(&s->nodes, &pos, &e)) {
		const struct xs_node *node = e->val;

		if (node->perms[0].id == domid && strcmp(node->path, "/") != 0)
			list[n++] = node->path;
	}
	qsort(list, n, sizeof(*list), by_length);
	*count = n;
	return list;
}

static void strip_perms(struct xss *s, uint16_t domid)
{
	size_t pos = 0;
	struct xs_mapent *e = NULL;

	/* In place, keeping generations: only entries that can no longer
	 * match anybody go away (so a reused domid gets nothing). */
	while (xs_map_next(&s->nodes, &pos, &e)) {
		struct xs_node *n = e->val;
		uint32_t out = 1;

		for (uint32_t i = 1; i < n->nperms; i++)
			if (n->perms[i].id != domid)
				n->perms[out++] = n->perms[i];
		n->nperms = out;
	}
}

void xs_ops_forget_domain(struct xss *s, uint16_t domid)
{
	size_t n;
	char **paths = owned_paths(s, domid, &n);

	if (paths) {
		char **copies = calloc(n ? n : 1, sizeof(*copies));

		/* Copied: each removal frees nodes, and their paths. */
		for (size_t i = 0; copies && i < n; i++)
			copies[i] = strdup(paths[i]);
		free(paths);
		for (size_t i = 0; copies && i < n; i++) {
			if (copies[i] && xs_store_get(s, copies[i]))
				run_internal(s, internal_rm, copies[i]);
			free(copies[i]);
		}
		free(copies);
	}
	strip_perms(s, domid);
}
