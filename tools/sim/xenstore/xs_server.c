/* SPDX-License-Identifier: MIT */
/*
 * The xss_* entry points, the domain table and the requests about domains
 * (INTRODUCE, RELEASE, RESUME, IS_DOMAIN_INTRODUCED, GET_DOMAIN_PATH,
 * SET_TARGET) and CONTROL.
 *
 * Domain life in the store:
 *  - introduced (INTRODUCE or xss_domain_introduce): IS_DOMAIN_INTRODUCED
 *    answers T; @introduceDomain fires on the first introduction only;
 *  - shut down (xss_domain_shutdown): @releaseDomain fires once, again only
 *    after RESUME (C xenstored's rule);
 *  - released (RELEASE) or destroyed (xss_domain_destroyed): its
 *    connections are closed (watches and transactions dropped), the nodes
 *    it owns are removed with their subtrees, its entries in other nodes'
 *    permissions are dropped, and @releaseDomain fires.  Destruction also
 *    closes and unlinks its listening sockets; after RELEASE a process of
 *    the domain may still connect (on Xen it could not).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listener.h"
#include "xs_internal.h"

static const struct xss_quota default_quota = {
	.nodes = 1000,
	.node_size = 2048,
	.watches = 128,
	.transactions = 10,
	.outstanding = 20,
	.perms = 5,
	.connections = 64,
};

/* ---- domain table ------------------------------------------------------------ */

struct xs_dom *xs_dom_find(struct xss *s, uint16_t domid)
{
	for (struct xs_dom *d = s->doms; d; d = d->next)
		if (d->domid == domid)
			return d;
	return NULL;
}

struct xs_dom *xs_dom_get(struct xss *s, uint16_t domid)
{
	struct xs_dom *d = xs_dom_find(s, domid);

	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->domid = domid;
	d->target = -1;
	d->next = s->doms;
	s->doms = d;
	return d;
}

void xs_dom_nodes_add(struct xss *s, uint16_t domid, int delta)
{
	struct xs_dom *d = xs_dom_get(s, domid);

	/* Without a record the count is lost; only "check" would notice. */
	if (d)
		d->nodes = (unsigned)((int)d->nodes + delta);
}

bool xs_dom_exists(struct xss *s, uint16_t domid)
{
	if (domid == 0 || !s->hooks.domain_exists)
		return true;
	return s->hooks.domain_exists(s->hooks.arg, domid);
}

static const char *const log_summary[XS_LOG_KINDS] = {
	[XS_LOG_CLOSED] = "connections closed",
	[XS_LOG_REFUSED] = "connections refused",
	[XS_LOG_DROPPED] = "connections dropping watch events",
};

void xs_dom_log(struct xss *s, uint16_t domid, enum xs_logkind kind,
                const char *fmt, ...)
{
	struct xs_dom *d = xs_dom_get(s, domid);
	unsigned long held = 0;
	char msg[256];
	va_list ap;

	if (d && !xs_ratelog_allow(&d->log[kind], &held))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (held)
		xs_log("domain %u: %s (%lu more %s not logged)", (unsigned)domid,
		       msg, held, log_summary[kind]);
	else
		xs_log("domain %u: %s", (unsigned)domid, msg);
}

void xs_dom_log_flush(struct xs_dom *d)
{
	for (unsigned k = 0; k < XS_LOG_KINDS; k++) {
		unsigned long held = xs_ratelog_take(&d->log[k]);

		if (held)
			xs_log("domain %u: %lu more %s not logged", (unsigned)d->domid,
			       held, log_summary[k]);
	}
}

static void dom_drop_record(struct xss *s, uint16_t domid)
{
	for (struct xs_dom **pp = &s->doms; *pp; pp = &(*pp)->next) {
		struct xs_dom *d = *pp;

		if (d->domid == domid && !d->nodes && !d->watches && !d->conns) {
			*pp = d->next;
			free(d);
			return;
		}
	}
}

void xs_dom_release(struct xss *s, uint16_t domid, bool destroyed)
{
	struct xs_dom *d = xs_dom_find(s, domid);

	xs_conn_close_dom(s, domid);
	if (destroyed)
		xs_listen_close_dom(s, domid);
	if (d)
		xs_dom_log_flush(d);
	xs_ops_forget_domain(s, domid);
	xs_special_forget(s, domid);
	for (struct xs_dom *o = s->doms; o; o = o->next)
		if (o->target == domid)
			o->target = -1;
	if (d) {
		d->introduced = false;
		d->shutdown = false;
		d->target = -1;
	}
	xs_watch_fire_special(s, "@releaseDomain", domid);
	if (destroyed)
		dom_drop_record(s, domid);
}

/* ---- entry points ---------------------------------------------------------------- */

struct xss *xss_new(struct loop *l, const struct xss_hooks *hooks,
                    const struct xss_quota *quota)
{
	static const struct xs_perm dom0_only = { .id = 0, .perm = XS_P_NONE };
	struct xss *s = calloc(1, sizeof(*s));
	struct xs_dom *d0;
	int err;

	if (!s)
		return NULL;
	s->loop = l;
	if (hooks)
		s->hooks = *hooks;
	s->quota = quota ? *quota : default_quota;
	err = xs_conn_init(s);
	if (err < 0) {
		xss_free(s);
		errno = -err;
		return NULL;
	}
	d0 = xs_dom_get(s, 0);
	if (!d0 || xs_store_init(s) < 0 ||
	    xs_special_set(s, "@introduceDomain", &dom0_only, 1) < 0 ||
	    xs_special_set(s, "@releaseDomain", &dom0_only, 1) < 0) {
		xss_free(s);
		errno = ENOMEM;
		return NULL;
	}
	d0->introduced = true;
	return s;
}

void xss_free(struct xss *s)
{
	if (!s)
		return;
	xs_conn_close_all(s);
	xs_listen_close_all(s);
	xs_store_fini(s);
	while (s->doms) {
		struct xs_dom *d = s->doms;

		s->doms = d->next;
		free(d);
	}
	free(s->intro_perms);
	free(s->release_perms);
	xs_conn_fini(s);
	free(s);
}

int xss_listen(struct xss *s, uint16_t domid, const char *path)
{
	return xs_listen_add(s, domid, path);
}

void xss_domain_introduce(struct xss *s, uint16_t domid)
{
	struct xs_dom *d = xs_dom_get(s, domid);

	if (!d || d->introduced)
		return;
	d->introduced = true;
	d->shutdown = false;
	xs_watch_fire_special(s, "@introduceDomain", domid);
}

void xss_domain_shutdown(struct xss *s, uint16_t domid)
{
	struct xs_dom *d = xs_dom_get(s, domid);

	if (!d || d->shutdown)
		return;
	d->shutdown = true;
	xs_watch_fire_special(s, "@releaseDomain", domid);
}

void xss_domain_destroyed(struct xss *s, uint16_t domid)
{
	/* Domain 0 goes only when the simulator stops: its sockets close,
	 * the store stays as it is until xss_free(). */
	if (domid == 0) {
		xs_conn_close_dom(s, 0);
		xs_listen_close_dom(s, 0);
		return;
	}
	xs_dom_release(s, domid, true);
}

int xss_write(struct xss *s, const char *path, const char *value)
{
	return xs_ops_write(s, path, value, strlen(value));
}

/* ---- domain requests ------------------------------------------------------------------ */

/* The domid of a one-argument request. */
static int onearg_domid(struct xs_req *r, uint16_t *domid)
{
	const char *arg = xs_req_onearg(r);
	unsigned long v;

	if (!arg || xs_parse_uint(arg, XSS_DOMID_MAX, &v) < 0)
		return -EINVAL;
	*domid = (uint16_t)v;
	return 0;
}

/* A domain other than 0 that is introduced (RELEASE, RESUME, SET_TARGET). */
static int introduced_dom(struct xss *s, uint16_t domid, struct xs_dom **out)
{
	struct xs_dom *d;

	if (domid == 0)
		return -EINVAL;
	d = xs_dom_find(s, domid);
	if (!d || !d->introduced)
		return -ENOENT;
	*out = d;
	return 0;
}

int xs_op_introduce(struct xs_req *r)
{
	const char *vec[3];
	unsigned long domid, port;

	if (xs_strings(r->p, r->len, vec, 3) < 3 ||
	    xs_parse_uint(vec[0], XSS_DOMID_MAX, &domid) < 0 ||
	    xs_parse_uint(vec[2], UINT32_MAX, &port) < 0 || port == 0)
		return -EINVAL;
	/* The gfn (vec[1]) means nothing here: no ring page to map. */
	if (domid >= 0x7ff0) /* DOMID_FIRST_RESERVED */
		return -EINVAL;
	if (domid == 0)
		return 0;
	if (!xs_dom_exists(r->v.s, (uint16_t)domid))
		return -ENOENT;
	xss_domain_introduce(r->v.s, (uint16_t)domid);
	return xs_dom_find(r->v.s, (uint16_t)domid) ? 0 : -ENOMEM;
}

/* The introduced domain a one-argument request names. */
static int onearg_introduced(struct xs_req *r, struct xs_dom **d)
{
	uint16_t domid;
	int ret = onearg_domid(r, &domid);

	return ret < 0 ? ret : introduced_dom(r->v.s, domid, d);
}

int xs_op_release(struct xs_req *r)
{
	struct xs_dom *d;
	int ret = onearg_introduced(r, &d);

	if (ret == 0)
		xs_dom_release(r->v.s, d->domid, false);
	return ret;
}

int xs_op_resume(struct xs_req *r)
{
	struct xs_dom *d;
	int ret = onearg_introduced(r, &d);

	if (ret == 0)
		d->shutdown = false;
	return ret;
}

int xs_op_is_introduced(struct xs_req *r)
{
	struct xs_dom *d;
	uint16_t domid;
	int ret = onearg_domid(r, &domid);

	if (ret < 0)
		return ret;
	d = xs_dom_find(r->v.s, domid);
	return xs_req_reply_str(r, d && d->introduced ? "T" : "F");
}

int xs_op_get_domain_path(struct xs_req *r)
{
	char path[32];
	uint16_t domid;
	int ret = onearg_domid(r, &domid);

	if (ret < 0)
		return ret;
	xs_domain_path(domid, path, sizeof(path));
	return xs_req_reply_str(r, path);
}

int xs_op_set_target(struct xs_req *r)
{
	const char *vec[2];
	unsigned long domid, tdomid;
	struct xs_dom *d, *t;
	int ret;

	if (xs_strings(r->p, r->len, vec, 2) < 2 ||
	    xs_parse_uint(vec[0], XSS_DOMID_MAX, &domid) < 0 ||
	    xs_parse_uint(vec[1], XSS_DOMID_MAX, &tdomid) < 0)
		return -EINVAL;
	ret = introduced_dom(r->v.s, (uint16_t)domid, &d);
	if (ret == 0)
		ret = introduced_dom(r->v.s, (uint16_t)tdomid, &t);
	if (ret == 0)
		d->target = (int)tdomid;
	return ret;
}

/* ---- CONTROL --------------------------------------------------------------------------- */

static const char control_help[] =
	"check\n"
	"help\n"
	"print <string>\n"
	"quota [<domid>]\n"
	"stats\n";

/* Watch and connection counts must match the connections. */
static int check_watches(struct xss *s)
{
	int bad = 0;

	for (struct xs_dom *d = s->doms; d; d = d->next) {
		unsigned n = 0, nc = 0;

		for (struct xs_conn *c = s->conns; c; c = c->next) {
			nc += c->domid == d->domid;
			for (struct xs_watch *w = c->watches; w; w = w->next)
				n += c->domid == d->domid;
		}
		if (n != d->watches || nc != d->conns) {
			xs_log("check: domain %u has %u watches and %u connections, "
			       "counted %u and %u", d->domid, n, nc, d->watches,
			       d->conns);
			bad = -EIO;
		}
	}
	return bad;
}

static int control_quota_all(struct xs_req *r)
{
	const struct xss_quota *q = &r->v.s->quota;
	char buf[512];

	snprintf(buf, sizeof(buf),
	         "nodes %u\nnode-size %u\nwatches %u\ntransactions %u\n"
	         "outstanding %u\npermissions %u\nconnections %u\n"
	         "transaction-nodes %u\ntransaction-events %u\n"
	         "watch-events %u\nconnections-total %u\n"
	         "connections-dom0 %u\n",
	         q->nodes, q->node_size, q->watches, q->transactions,
	         q->outstanding, q->perms, q->connections, XSS_TXN_NODES,
	         XSS_TXN_EVENTS, XSS_EVENT_QUEUE_MAX, xs_conn_limit(r->v.s),
	         XSS_DOM0_CONNS);
	return xs_req_reply_str(r, buf);
}

static int control_quota(struct xs_req *r, const char *arg)
{
	struct xss *s = r->v.s;
	unsigned long domid;
	unsigned ntx = 0, outst = 0, nev = 0;
	unsigned long dropped = 0;
	struct xs_dom *d;
	char buf[512];

	if (!arg)
		return control_quota_all(r);
	if (xs_parse_uint(arg, XSS_DOMID_MAX, &domid) < 0)
		return -EINVAL;
	d = xs_dom_find(s, (uint16_t)domid);
	if (!d)
		return -ENOENT;
	for (struct xs_conn *c = s->conns; c; c = c->next) {
		if (c->domid != domid)
			continue;
		ntx += c->ntx;
		outst += c->n_replies;
		dropped += c->dropped;
		for (const struct xs_tx *tx = c->txs; tx; tx = tx->next)
			nev += tx->nevents;
	}
	snprintf(buf, sizeof(buf),
	         "nodes %u\nwatches %u\ntransactions %u\noutstanding %u\n"
	         "watch-events-dropped %lu\nconnections %u\n"
	         "connections-refused %lu\ntransaction-events %u\n",
	         d->nodes, d->watches, ntx, outst, dropped, d->conns,
	         d->refused, nev);
	return xs_req_reply_str(r, buf);
}

/* Server-wide counters; key-bytes is the work done hashing and comparing
 * paths in the maps (tests use it to check that costs stay linear). */
static int control_stats(struct xs_req *r)
{
	struct xss *s = r->v.s;
	const struct sim_acceptor_stats *as = sim_acceptor_stats(s->acc);
	char buf[512];

	snprintf(buf, sizeof(buf),
	         "connections %u\nconnections-shed %lu\naccept-failures %lu\n"
	         "accept-pauses %lu\nkey-bytes %llu\nwatch-events-dropped %lu\n",
	         s->nconns, as->shed, as->failures, as->pauses,
	         xs_key_bytes(), s->events_dropped);
	return xs_req_reply_str(r, buf);
}

/*
 * CONTROL: "check" verifies the store and the accounting (OK, or EIO with
 * details on stderr); "help" lists the commands; "print" logs its argument;
 * "quota" prints the quotas, "quota <domid>" a domain's usage, "stats"
 * server-wide counters (not in C xenstored).  C
 * xenstored's other commands (log, logfile, memreport, live-update,
 * quota-soft) answer ENOSYS; unknown commands EINVAL, as in C xenstored.
 */
int xs_op_control(struct xs_req *r)
{
	static const char *const unsupported[] = {
		"log", "logfile", "memreport", "live-update", "quota-soft",
	};
	const char *vec[2];
	unsigned n = xs_strings(r->p, r->len, vec, 2);

	if (n < 1)
		return -EINVAL;
	if (strcmp(vec[0], "check") == 0) {
		int bad = xs_store_check(r->v.s);

		if (check_watches(r->v.s) < 0)
			bad = -EIO;
		return bad;
	}
	if (strcmp(vec[0], "help") == 0)
		return xs_req_reply_str(r, control_help);
	if (strcmp(vec[0], "print") == 0) {
		if (n < 2)
			return -EINVAL;
		xs_log("print: %.200s", vec[1]);
		return 0;
	}
	if (strcmp(vec[0], "quota") == 0)
		return control_quota(r, n >= 2 ? vec[1] : NULL);
	if (strcmp(vec[0], "stats") == 0)
		return control_stats(r);
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (strcmp(vec[0], unsupported[i]) == 0)
			return -ENOSYS;
	return -EINVAL;
}
