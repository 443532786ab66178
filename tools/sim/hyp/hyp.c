/* SPDX-License-Identifier: MIT */
/*
 * The hypervisor's sockets: one listening SOCK_SEQPACKET socket per
 * domain, one connection per client handle, one request and one reply at a
 * time.  Every datagram is validated here (size, padding, counts, no
 * ancillary data) before a handler in another file sees it; handlers then
 * validate the values.  A malformed datagram closes that connection only.
 *
 * The log is for operators, so a hostile client must not be able to fill
 * it: drops are logged once per domain per HYP_LOG_INTERVAL_MS (the rest
 * counted and summed up in the next line, or when the domain goes), and
 * running out of file descriptors once per burst (listener.h sheds or
 * pauses; a burst ends when a connection is accepted again).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hyp_impl.h"
#include "listener.h"
#include "loop.h"

/* Room for any request; a bigger one is truncated and refused. */
#define REQ_MAX (sizeof(struct xvio_sim_req) + XVIO_SIM_MAX_BATCH * sizeof(uint64_t))

/* At most one "dropping client" line per domain this often. */
#define HYP_LOG_INTERVAL_MS 5000u

typedef int op_fn(struct hyp_conn *c, struct hyp_msg *m);

struct op_desc {
	op_fn *fn;
	size_t ent_size;    /* payload entry size; 0: no payload */
	uint32_t min, max;  /* allowed count */
	uint32_t flags;     /* allowed flags */
};

static int op_hello(struct hyp_conn *c, struct hyp_msg *m)
{
	struct xvio_sim_hello *o = m->out;

	memset(o, 0, sizeof(*o));
	o->version = XVIO_SIM_PROTO_VERSION;
	o->domid = c->dom->domid;
	o->privileged = hyp_privileged(c);
	o->max_ports = XVIO_SIM_MAX_PORTS;
	o->max_grants = XVIO_SIM_MAX_GRANTS;
	o->max_batch = XVIO_SIM_MAX_BATCH;
	m->outlen = sizeof(*o);
	return 0;
}

static const struct op_desc ops[] = {
	[XVIO_SIM_OP_HELLO] = { op_hello, 0, 0, 0, 0 },
	[XVIO_SIM_OP_GNT_SHARE] = { hyp_op_gnt_share, 0, 1, XVIO_SIM_MAX_BATCH,
	                            XVIO_SIM_F_WRITABLE },
	[XVIO_SIM_OP_GNT_SHARE_END] = { hyp_op_gnt_share_end, 0, 0, 0, 0 },
	[XVIO_SIM_OP_GNT_SHARE_ABANDON] = { hyp_op_gnt_share_abandon, 0, 0, 0, 0 },
	[XVIO_SIM_OP_GNT_MAP] = { hyp_op_gnt_map, sizeof(struct xvio_sim_map_ent), 1,
	                          XVIO_SIM_MAX_BATCH, XVIO_SIM_F_WRITABLE },
	[XVIO_SIM_OP_GNT_UNMAP] = { hyp_op_gnt_unmap, 0, 0, 0, 0 },
	[XVIO_SIM_OP_EVTCHN_ALLOC_UNBOUND] = { hyp_op_evtchn_alloc_unbound, 0, 0, 0, 0 },
	[XVIO_SIM_OP_EVTCHN_BIND] = { hyp_op_evtchn_bind, 0, 0, 0, 0 },
	[XVIO_SIM_OP_EVTCHN_UNBIND] = { hyp_op_evtchn_unbind, 0, 0, 0, 0 },
	[XVIO_SIM_OP_EVTCHN_STATUS] = { hyp_op_evtchn_status, 0, 0, 0, 0 },
	[XVIO_SIM_OP_DOM_INFO] = { hyp_op_dom_info, 0, 0, 0, 0 },
	[XVIO_SIM_OP_DOM_DECREASE] = { hyp_op_dom_decrease, sizeof(uint64_t), 1,
	                               XVIO_SIM_MAX_BATCH, 0 },
	[XVIO_SIM_OP_DOM_POPULATE] = { hyp_op_dom_populate, sizeof(uint64_t), 1,
	                               XVIO_SIM_MAX_BATCH, 0 },
	[XVIO_SIM_OP_DOM_SET_MAXMEM] = { hyp_op_dom_set_maxmem, 0, 0, 0, 0 },
};

/* ---- connections ---- */

void hyp_conn_close(struct hyp_conn *c)
{
	struct hyp_dom *d = c->dom;

	loop_del(d->h->loop, c->src);
	close(c->fd);
	/* Maps first: releasing them may end shares of other domains. */
	hyp_grant_conn_close(c);
	hyp_evtchn_conn_close(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	d->nconns--;
	free(c);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Sum up the drops that were not logged. */
static void drops_report(struct hyp_dom *d)
{
	if (!d->drops_quiet)
		return;
	fprintf(stderr, "xvio-sim: hyp: dom%u: dropped %u more clients (bad requests)\n",
	        (unsigned)d->domid, (unsigned)d->drops_quiet);
	d->drops_quiet = 0;
}

static void conn_drop(struct hyp_conn *c, const char *why)
{
	struct hyp_dom *d = c->dom;
	uint64_t now = now_ms();

	if (d->drop_logged && now - d->drop_log_ms < HYP_LOG_INTERVAL_MS) {
		d->drops_quiet++;
	} else {
		drops_report(d);
		fprintf(stderr, "xvio-sim: hyp: dom%u: dropping client: %s\n",
		        (unsigned)d->domid, why);
		d->drop_logged = true;
		d->drop_log_ms = now;
	}
	hyp_conn_close(c);
}

/* Close fds a client attached (it must not) so the daemon leaks nothing. */
static bool close_passed_fds(struct msghdr *mh)
{
	bool any = false;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		any = true;
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int fd;

			for (size_t i = 0; i < n; i++) {
				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
				close(fd);
			}
		}
	}
	return any;
}

/* Validate the datagram's frame against the op table; NULL if malformed.
 * Sets *unknown for a well-framed request with an op we do not know. */
static const struct op_desc *check_frame(const struct xvio_sim_req *req, size_t len,
                                         bool *unknown)
{
	const struct op_desc *od;

	*unknown = false;
	if (len < sizeof(*req) || req->pad != 0)
		return NULL;
	if (req->op >= sizeof(ops) / sizeof(ops[0]) || !ops[req->op].fn) {
		*unknown = true;
		return NULL;
	}
	od = &ops[req->op];
	if (req->count < od->min || req->count > od->max || (req->flags & ~od->flags))
		return NULL;
	if (len != sizeof(*req) + (size_t)req->count * od->ent_size)
		return NULL;
	return od;
}

static int send_reply(struct hyp_conn *c, struct hyp_msg *m)
{
	struct iovec iov[2] = {
		{ .iov_base = m->rep, .iov_len = sizeof(*m->rep) },
		{ .iov_base = m->out, .iov_len = m->outlen },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * XVIO_SIM_MAX_MAP_DOMAINS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = m->outlen ? 2 : 1 };
	ssize_t n;

	if (m->nfds) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * m->nfds);
		memcpy(CMSG_DATA(cm), m->fds, sizeof(int) * m->nfds);
	}
	do
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

/*
 * Serve one request.  Returns false if the connection was closed.  One
 * datagram per wakeup keeps a flooding client from starving the others.
 */
static bool conn_serve(struct hyp_conn *c)
{
	/* Static: the daemon is single-threaded and the buffers are big. */
	static uint64_t inbuf[(REQ_MAX + 7) / 8];
	static uint64_t outbuf[(XVIO_SIM_MAX_MSG + 7) / 8];
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = inbuf, .iov_len = sizeof(inbuf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	                     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct xvio_sim_req req;
	struct xvio_sim_rep rep;
	struct hyp_msg m = { .req = &req, .rep = &rep, .out = outbuf };
	const struct op_desc *od;
	bool unknown;
	ssize_t n;

	n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0) {
		hyp_conn_close(c);   /* EOF (or an empty datagram) or error */
		return false;
	}
	if (close_passed_fds(&mh) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		conn_drop(c, "oversized datagram or ancillary data");
		return false;
	}
	memset(&req, 0, sizeof(req));
	memcpy(&req, inbuf, (size_t)n < sizeof(req) ? (size_t)n : sizeof(req));
	memset(&rep, 0, sizeof(rep));
	od = check_frame(&req, (size_t)n, &unknown);
	if (od) {
		m.payload = (const char *)inbuf + sizeof(req);
		rep.err = od->fn(c, &m);
		if (rep.err < 0) {
			/* Error replies are bare, whatever a handler left. */
			m.outlen = 0;
			m.nfds = 0;
			rep.count = 0;
			rep.val = 0;
		}
		rep.nfds = m.nfds;
	} else if (unknown) {
		rep.err = -ENOSYS;
	} else {
		conn_drop(c, "malformed request");
		return false;
	}
	n = send_reply(c, &m);
	if (n == -EAGAIN) {
		conn_drop(c, "reply does not fit (client not reading)");
		return false;
	}
	if (n < 0) {
		hyp_conn_close(c);   /* the client is gone */
		return false;
	}
	return true;
}

static void conn_cb(void *arg, uint32_t events)
{
	struct hyp_conn *c = arg;

	if (events & EPOLLIN) {
		if (!conn_serve(c))
			return;
	} else if (events & (EPOLLHUP | EPOLLERR)) {
		hyp_conn_close(c);
	}
}

/* A new connection for domain d (a sim_acceptor_ops callback). */
static void accepted(void *arg, int fd)
{
	struct hyp_dom *d = arg;
	struct hyp_conn *c;

	if (d->nconns >= (d->domid == 0 ? XVIO_SIM_MAX_CONNS_DOM0 : XVIO_SIM_MAX_CONNS)) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->dom = d;
	c->fd = fd;
	c->src = loop_add(d->h->loop, fd, EPOLLIN, conn_cb, c);
	if (!c->src) {
		close(fd);
		free(c);
		return;
	}
	c->next = d->conns;
	if (d->conns)
		d->conns->prev = c;
	d->conns = c;
	d->nconns++;
}

/* Once per burst: the acceptor calls this again only after a connection
 * was accepted in between. */
static void refusing(void *arg, int err)
{
	struct hyp_dom *d = arg;

	if (err == EMFILE || err == ENFILE)
		fprintf(stderr, "xvio-sim: hyp: dom%u: out of file descriptors, "
		        "refusing connections\n", (unsigned)d->domid);
	else
		fprintf(stderr, "xvio-sim: hyp: dom%u: cannot accept connections: %s\n",
		        (unsigned)d->domid, strerror(err));
}

static const struct sim_acceptor_ops acceptor_ops = {
	.accepted = accepted,
	.refusing = refusing,
};

int hyp_listen(struct hyp *h, uint16_t domid, const char *path)
{
	struct hyp_dom *d = hyp_dom_get(h, domid);

	if (!d)
		return -ESRCH;
	if (d->ls)
		return -EBUSY;
	d->ls = sim_listener_open(h->acc, path, SOCK_SEQPACKET, 64, d);
	return d->ls ? 0 : -errno;
}

/* Stop serving a domain: no new connections, none left. */
void hyp_dom_unlisten(struct hyp_dom *d)
{
	while (d->conns)
		hyp_conn_close(d->conns);
	sim_listener_close(d->ls);
	d->ls = NULL;
	drops_report(d);
}

/* ---- the hypervisor ---- */

/* Each port holds up to two eventfds in the daemon: let it have as many
 * descriptors as the hard limit allows. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

struct hyp *hyp_new(struct loop *l, const struct hyp_hooks *hooks)
{
	struct hyp *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->loop = l;
	if (hooks)
		h->hooks = *hooks;
	raise_fd_limit();
	h->acc = sim_acceptor_new(l, &acceptor_ops);
	if (!h->acc || !hyp_dom_alloc(h, 0)) {
		hyp_free(h);
		return NULL;
	}
	return h;
}

void hyp_free(struct hyp *h)
{
	if (!h)
		return;
	/* The daemon is going away: tell it nothing more. */
	h->hooks.domain_freed = NULL;
	/* Close every connection first: that releases all maps, so every
	 * abandoned share ends and every domain can go. */
	for (unsigned i = 0; i < HYP_NDOMS; i++) {
		if (h->doms[i])
			hyp_dom_unlisten(h->doms[i]);
	}
	for (unsigned i = 0; i < HYP_NDOMS; i++) {
		if (h->doms[i])
			hyp_dom_free(h->doms[i]);
	}
	sim_acceptor_free(h->acc);
	free(h);
}
