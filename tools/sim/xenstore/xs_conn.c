/* SPDX-License-Identifier: MIT */
/*
 * Sockets: one listening socket per domain, connections acting as that
 * domain, message framing and output queues.
 *
 * Framing: a message is a struct xsd_sockmsg header and `len` payload
 * bytes.  A connection reads one message at a time into a fixed buffer, so
 * its input needs no allocation; a truncated message just waits for more
 * bytes.  A header announcing more than XENSTORE_PAYLOAD_MAX bytes cannot
 * be skipped safely, so (as C xenstored) that connection is closed; nothing
 * else closes a connection except its peer or the domain going away.
 *
 * Flow control: replies wait in the connection's queue until the socket
 * takes them.  Once the queue holds the connection's limit of replies (the
 * "outstanding" quota, or XSS_PRIV_OUTSTANDING for domain 0), the server
 * stops reading that socket until the client drains it; the client is not
 * failed.  Guests' sockets get the smallest send buffer, so a guest that
 * stops reading has a few KiB of replies in the kernel and then hits the
 * quota (C xenstored: the 1 KiB ring, then the quota).  Watch events are
 * queued up to XSS_EVENT_QUEUE_MAX; beyond that they are dropped and
 * counted (and identical pending events are merged, as C xenstored does).
 * So a client that never reads costs bounded memory and never blocks the
 * server: sockets are non-blocking and written only when epoll says so.
 *
 * Admission: a connection is accepted and closed at once if it would take
 * its domain past the "connections" quota (domain 0 is exempt), the guests
 * together past the global limit less XSS_DOM0_CONNS, or everyone past
 * the global limit (xs_conn_limit).  Out of descriptors, pending
 * connections are shed or the listeners pause (listener.h); that is
 * logged once per burst, and at most once per XSS_LOG_INTERVAL_MS.  Log
 * lines a client can cause again and again are rate-limited (xs_dom_log).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "listener.h"
#include "loop.h"
#include "xs_internal.h"

struct xs_out {
	struct xs_out *next;
	bool event;
	size_t len;
	char data[]; /* header and payload */
};

struct xs_listener {
	struct xs_listener *next;
	struct xss *s;
	uint16_t domid;
	struct sim_listener *ls;
};

#define HDR_LEN sizeof(struct xsd_sockmsg)
#define FLUSH_IOV 32

/* ---- output ----------------------------------------------------------------- */

unsigned xs_conn_reply_limit(const struct xs_conn *c)
{
	if (c->domid != 0 && c->s->quota.outstanding)
		return c->s->quota.outstanding;
	return XSS_PRIV_OUTSTANDING;
}

static bool may_read(const struct xs_conn *c)
{
	return c->n_replies < xs_conn_reply_limit(c);
}

static void update_mask(struct xs_conn *c)
{
	uint32_t want = 0;

	if (c->closing)
		return;
	if (may_read(c))
		want |= EPOLLIN;
	if (c->out_head)
		want |= EPOLLOUT;
	if (want != c->evmask && loop_mod(c->s->loop, c->src, want) == 0)
		c->evmask = want;
}

static void pop_out(struct xs_conn *c)
{
	struct xs_out *o = c->out_head;

	c->out_head = o->next;
	if (!c->out_head)
		c->out_tail = NULL;
	if (o->event)
		c->n_events--;
	else
		c->n_replies--;
	c->out_off = 0;
	free(o);
}

/* Write what the socket takes.  0, or -errno if the peer is gone. */
static int flush(struct xs_conn *c)
{
	while (c->out_head) {
		struct iovec iov[FLUSH_IOV];
		struct msghdr mh = { .msg_iov = iov };
		struct xs_out *o = c->out_head;
		ssize_t n;

		for (size_t off = c->out_off; o && mh.msg_iovlen < FLUSH_IOV;
		     o = o->next, off = 0) {
			iov[mh.msg_iovlen].iov_base = o->data + off;
			iov[mh.msg_iovlen].iov_len = o->len - off;
			mh.msg_iovlen++;
		}
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		if (n == 0)
			return 0; /* nothing taken: wait for EPOLLOUT */
		while (n > 0) {
			size_t left = c->out_head->len - c->out_off;

			if ((size_t)n < left) {
				c->out_off += (size_t)n;
				break;
			}
			n -= (ssize_t)left;
			pop_out(c);
		}
	}
	return 0;
}

static struct xs_out *out_new(uint32_t type, uint32_t req_id, uint32_t tx_id,
                              const void *p1, size_t l1, const void *p2, size_t l2)
{
	struct xs_out *o = malloc(sizeof(*o) + HDR_LEN + l1 + l2);
	struct xsd_sockmsg h = {
		.type = type, .req_id = req_id, .tx_id = tx_id,
		.len = (uint32_t)(l1 + l2),
	};

	if (!o)
		return NULL;
	o->next = NULL;
	o->event = false;
	o->len = HDR_LEN + l1 + l2;
	memcpy(o->data, &h, HDR_LEN);
	if (l1)
		memcpy(o->data + HDR_LEN, p1, l1);
	if (l2)
		memcpy(o->data + HDR_LEN + l1, p2, l2);
	return o;
}

static void append(struct xs_conn *c, struct xs_out *o)
{
	if (c->out_tail)
		c->out_tail->next = o;
	else
		c->out_head = o;
	c->out_tail = o;
	if (o->event)
		c->n_events++;
	else
		c->n_replies++;
}

void xs_conn_reply(struct xs_conn *c, const struct xsd_sockmsg *req,
                   uint32_t type, const void *data, size_t len)
{
	struct xs_out *o;

	if (c->closing)
		return;
	if (len > XENSTORE_PAYLOAD_MAX) {
		xs_conn_error(c, req, E2BIG);
		return;
	}
	o = out_new(type, req->req_id, req->tx_id, data, len, NULL, 0);
	if (!o) {
		/* Without its reply the client would wait forever: give up
		 * on it once the current request is done. */
		c->doomed = true;
		return;
	}
	append(c, o);
}

void xs_conn_error(struct xs_conn *c, const struct xsd_sockmsg *req, int err)
{
	const char *name = xs_errname(err);

	xs_conn_reply(c, req, XS_ERROR, name, strlen(name) + 1);
}

static bool queued_event(const struct xs_conn *c, const char *payload, size_t len)
{
	for (const struct xs_out *o = c->out_head; o; o = o->next) {
		/* The head may be half written: it is no longer "pending". */
		if (o == c->out_head && c->out_off)
			continue;
		if (o->event && o->len == HDR_LEN + len &&
		    memcmp(o->data + HDR_LEN, payload, len) == 0)
			return true;
	}
	return false;
}

void xs_conn_event(struct xs_conn *c, const char *path, const char *token)
{
	size_t lp = strlen(path) + 1, lt = strlen(token) + 1;
	struct xs_out *o;

	if (c->closing || lp + lt > XENSTORE_PAYLOAD_MAX)
		return;
	if (c->n_events >= XSS_EVENT_QUEUE_MAX) {
		c->dropped++;
		c->s->events_dropped++;
		if (!c->drop_logged)
			xs_dom_log(c->s, c->domid, XS_LOG_DROPPED,
			           "watch events not read, dropping");
		c->drop_logged = true;
		return;
	}
	o = out_new(XS_WATCH_EVENT, 0, 0, path, lp, token, lt);
	if (!o)
		return;
	o->event = true;
	if (path[0] != '@' && queued_event(c, o->data + HDR_LEN, lp + lt)) {
		free(o);
		return;
	}
	append(c, o);
	/* Written from the loop: firing must never close a connection while
	 * the watch code walks the connection list. */
	update_mask(c);
}

/* ---- connections ------------------------------------------------------------ */

static void free_conn(struct xs_conn *c)
{
	while (c->out_head)
		pop_out(c);
	xs_watch_del_all(c);
	while (c->txs) {
		struct xs_tx *tx = c->txs;

		c->txs = tx->next;
		xs_tx_free(tx);
	}
	free(c);
}

void xs_conn_close(struct xs_conn *c, const char *why)
{
	struct xss *s = c->s;
	struct xs_dom *d = xs_dom_find(s, c->domid);

	if (why)
		xs_dom_log(s, c->domid, XS_LOG_CLOSED, "closing connection: %s", why);
	if (d && d->conns)
		d->conns--;
	if (c->domid == 0)
		s->nconns_dom0--;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	c->closing = true;
	loop_del(s->loop, c->src);
	close(c->fd);
	free_conn(c);
}

void xs_conn_close_dom(struct xss *s, uint16_t domid)
{
	struct xs_conn *c = s->conns;

	while (c) {
		struct xs_conn *next = c->next;

		if (c->domid == domid)
			xs_conn_close(c, NULL);
		c = next;
	}
}

void xs_conn_close_all(struct xss *s)
{
	while (s->conns)
		xs_conn_close(s->conns, NULL);
}

/* Read what is available of the current message.  Returns 1 when a message
 * is complete, 0 when the socket has no more for now, -1 if c was closed. */
static int read_part(struct xs_conn *c)
{
	char *dst;
	size_t want;
	ssize_t n;

	if (c->in_have < HDR_LEN) {
		dst = (char *)&c->in_hdr + c->in_have;
		want = HDR_LEN - c->in_have;
	} else {
		dst = c->in_buf + (c->in_have - HDR_LEN);
		want = HDR_LEN + c->in_hdr.len - c->in_have;
	}
	do
		n = read(c->fd, dst, want);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		/* Peer gone (possibly mid-message): just clean up. */
		xs_conn_close(c, NULL);
		return -1;
	}
	c->in_have += (size_t)n;
	if (c->in_have == HDR_LEN && c->in_hdr.len > XENSTORE_PAYLOAD_MAX) {
		xs_conn_close(c, "payload length over XENSTORE_PAYLOAD_MAX");
		return -1;
	}
	return c->in_have >= HDR_LEN && c->in_have == HDR_LEN + c->in_hdr.len;
}

static void on_conn(void *arg, uint32_t events)
{
	struct xs_conn *c = arg;
	unsigned handled = 0;

	if (events & EPOLLERR) {
		xs_conn_close(c, NULL);
		return;
	}
	while ((events & (EPOLLIN | EPOLLHUP)) && handled < XSS_BATCH &&
	       may_read(c)) {
		int r = read_part(c);

		if (r < 0)
			return;
		if (r == 0)
			break;
		c->in_buf[c->in_hdr.len] = '\0';
		c->in_have = 0;
		xs_ops_handle(c, &c->in_hdr);
		if (c->doomed) {
			xs_conn_close(c, "out of memory for a reply");
			return;
		}
		handled++;
	}
	if (flush(c) < 0) {
		xs_conn_close(c, NULL);
		return;
	}
	update_mask(c);
}

static void new_conn(struct xs_listener *l, struct xs_dom *d, int fd)
{
	struct xss *s = l->s;
	struct xs_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return;
	}
	c->s = s;
	c->fd = fd;
	c->domid = l->domid;
	if (c->domid != 0) {
		/* The kernel's minimum: a guest that stops reading leaves only
		 * a few replies in the socket, the rest wait in our queue
		 * where the outstanding quota counts them. */
		int small = 4096;

		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	}
	c->next_txid = 1;
	c->evmask = EPOLLIN;
	c->src = loop_add(s->loop, fd, EPOLLIN, on_conn, c);
	if (!c->src) {
		close(fd);
		free(c);
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	d->conns++;
	if (c->domid == 0)
		s->nconns_dom0++;
}

unsigned xs_conn_limit(const struct xss *s)
{
	struct rlimit rl;
	unsigned limit = XSS_MAX_CONNS;

	/* Read each time: the daemon may raise it after xss_new(). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 2 < limit)
		limit = (unsigned)(rl.rlim_cur / 2);
	(void)s;
	return limit;
}

/* Why a new connection of domain d may not stay, or NULL. */
static const char *refusal(struct xss *s, const struct xs_dom *d,
                           unsigned limit)
{
	unsigned guests = s->nconns - s->nconns_dom0;

	if (s->nconns >= limit)
		return "connection limit reached";
	if (d->domid == 0)
		return NULL;
	if (guests + XSS_DOM0_CONNS >= limit)
		return "connections left are kept for domain 0";
	if (s->quota.connections && d->conns >= s->quota.connections)
		return "connection quota reached";
	return NULL;
}

static void admit(struct xs_listener *l, int fd, unsigned limit)
{
	struct xss *s = l->s;
	struct xs_dom *d = xs_dom_get(s, l->domid);
	const char *why = d ? refusal(s, d, limit) : "out of memory";

	if (why) {
		close(fd);
		if (d)
			d->refused++;
		xs_dom_log(s, l->domid, XS_LOG_REFUSED, "refused a connection: %s",
		           why);
		return;
	}
	new_conn(l, d, fd);
}

/* Accepting works again: say how many refusal lines were left out (at
 * most once per interval, like the lines themselves). */
static void fd_recovered(struct xss *s)
{
	unsigned long held;

	if (s->fd_log.held && xs_ratelog_due(&s->fd_log, &held))
		xs_log("accepting connections again (%lu refusals not logged)",
		       held);
}

static void on_accepted(void *arg, int fd)
{
	struct xs_listener *l = arg;

	fd_recovered(l->s);
	admit(l, fd, xs_conn_limit(l->s));
}

/* A burst of refusals starts (listener.h sheds or pauses). */
static void on_refusing(void *arg, int err)
{
	struct xs_listener *l = arg;
	unsigned long held;
	char what[128];

	if (!xs_ratelog_allow(&l->s->fd_log, &held))
		return;
	if (err == EMFILE || err == ENFILE)
		snprintf(what, sizeof(what), "out of file descriptors, refusing connections");
	else
		snprintf(what, sizeof(what), "cannot accept connections (%s), pausing accepts",
		         strerror(err));
	if (held)
		xs_log("%s (%lu more not logged)", what, held);
	else
		xs_log("%s", what);
}

static const struct sim_acceptor_ops acceptor_ops = {
	.accepted = on_accepted,
	.refusing = on_refusing,
};

int xs_conn_init(struct xss *s)
{
	s->acc = sim_acceptor_new(s->loop, &acceptor_ops);
	return s->acc ? 0 : -errno;
}

void xs_conn_fini(struct xss *s)
{
	sim_acceptor_free(s->acc);
	s->acc = NULL;
}

/* ---- listeners -------------------------------------------------------------- */

int xs_listen_add(struct xss *s, uint16_t domid, const char *path)
{
	struct xs_listener *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->s = s;
	l->domid = domid;
	l->ls = sim_listener_open(s->acc, path, SOCK_STREAM, 128, l);
	if (!l->ls) {
		int err = -errno;

		free(l);
		return err;
	}
	l->next = s->listeners;
	s->listeners = l;
	return 0;
}

static void listener_close(struct xs_listener *l)
{
	sim_listener_close(l->ls);
	free(l);
}

void xs_listen_close_dom(struct xss *s, uint16_t domid)
{
	struct xs_listener **pp = &s->listeners;

	while (*pp) {
		struct xs_listener *l = *pp;

		if (l->domid == domid) {
			*pp = l->next;
			listener_close(l);
		} else {
			pp = &l->next;
		}
	}
}

void xs_listen_close_all(struct xss *s)
{
	while (s->listeners) {
		struct xs_listener *l = s->listeners;

		s->listeners = l->next;
		listener_close(l);
	}
}
