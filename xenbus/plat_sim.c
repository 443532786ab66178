/* SPDX-License-Identifier: MIT */
/*
 * The `sim` platform: a client of xvio-sim's hypervisor socket
 * ($XVIO_SIM_HYP, protocol in sim_proto.h).
 *
 * Connections: a platform handle is one connection (it owns the shares and
 * maps made through it); each event-channel handle is another, so closing
 * either, or the process dying, releases exactly what it held.
 *
 * Memory: shares and maps are MAP_SHARED mappings of the granting domain's
 * RAM (an fd the daemon passes and we close at once), placed in a reserved
 * range with one PROT_NONE guard page on each side so an overrun faults.
 * Maps of read-only grants come from a read-only fd: the kernel refuses
 * PROT_WRITE on that mapping, mprotect included.  (That keeps an honest
 * process from writing by mistake; a process set on it could reopen the
 * fd read-write through /proc/self/fd while it holds it.)  All mappings
 * are MADV_DONTFORK, like gntdev's: a child does not inherit them.
 *
 * Event channels: each port has a receive and a transmit eventfd and a
 * line for each (pending bit and mask, sim_proto.h; see
 * tools/sim/hyp/hyp_evtchn.c).  The handle's fd is an epoll set of the
 * receive eventfds.  pending() finds a port by its line, masks it, clears
 * the bit and drains its eventfd: one read(2).  A notify sets the peer's
 * bit and writes its eventfd only on the 0 -> 1 edge of an unmasked port;
 * events meanwhile stay in the bit, so they are latched, not lost, and
 * unmask costs no call unless one is waiting.  A wake-up is then a poll,
 * a read and the answer's write, as with bare eventfds.
 *
 * Threading: as plat.h says, one thread at a time per handle and the
 * objects made from it.
 *
 * fork: as with libxengnttab and libxenevtchn, a child must not use a
 * handle inherited from its parent, nor touch its mappings (they are not
 * inherited).  It may close it: that closes the child's copies of the fds
 * only; the parent's connections are untouched.  Every fd is O_CLOEXEC.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "barrier.h"
#include "plat_impl.h"
#include "sim_proto.h"

struct sim_plat {
	struct xvio_plat base;
	int fd;
	pid_t pid;                /* opener; a forked child only closes fds */
	xvio_domid_t domid;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sim_gobj *objs;    /* shares and maps not yet released */
};

/* A share or a map: its handle in the daemon and its local mapping. */
struct sim_gobj {
	struct sim_gobj *next, *prev;
	struct sim_plat *p;
	uint64_t handle;
	char *base;               /* reservation, guard pages included */
	size_t len;
};

struct sim_share {
	struct xvio_gnt_share base;
	struct sim_gobj o;
};

struct sim_map {
	struct xvio_gnt_map base;
	struct sim_gobj o;
};

_Static_assert(offsetof(struct sim_share, o) == offsetof(struct sim_map, o),
               "sim_close frees both kinds through their sim_gobj");

struct sim_port {
	int rx, tx;               /* -1: not bound through this handle */
	struct xvio_sim_evtchn_line *rxl, *txl;  /* shared with the peer */
	bool masked;              /* ours; rxl->masked only mirrors it */
	uint16_t slot;            /* in sim_evtchn.bound */
};

struct sim_evtchn {
	struct xvio_evtchn base;
	int fd;                   /* connection to the daemon */
	int epfd;
	pid_t pid;                /* opener; a forked child only closes fds */
	unsigned nbound, cursor;  /* ports bound, and where the next scan starts */
	uint16_t bound[XVIO_SIM_MAX_PORTS];
	struct sim_port ports[XVIO_SIM_MAX_PORTS];
};

extern const struct xvio_plat_ops xvio_plat_sim_ops;

/* ---- transport ---- */

static int connect_path(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* No socket, or a stale one: the simulator is not there. */
		err = errno == ECONNREFUSED ? -ENOENT : -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void close_fds(const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

/* Take the fds out of a received message; -EPROTO if more than maxfds. */
static int take_fds(struct msghdr *mh, int *fds, unsigned maxfds, unsigned *nfds)
{
	int err = 0;

	*nfds = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			if (*nfds < maxfds)
				fds[(*nfds)++] = fd;
			else {
				close(fd);
				err = -EPROTO;
			}
		}
	}
	return err;
}

struct call {
	struct xvio_sim_req req;
	const void *payload;
	size_t plen;
	/* reply */
	struct xvio_sim_rep rep;
	void *out;
	size_t outlen;            /* in: room; out: bytes received */
	int fds[XVIO_SIM_MAX_MAP_DOMAINS];
	unsigned nfds;
	/* The reply's header said 0: the daemon did the operation, even if
	 * the reply is then refused.  Whoever allocates undoes it then. */
	bool done;
};

/*
 * One request and its reply.  Returns the daemon's answer (0 or -errno) or
 * a transport error.  On success the caller owns call->fds; on failure
 * none are left open.  The daemon is trusted less than fully: the frame
 * and the fd count are checked here, the payload by the caller.
 */
static int sim_call(int fd, struct call *c)
{
	struct iovec siov[2] = {
		{ .iov_base = &c->req, .iov_len = sizeof(c->req) },
		{ .iov_base = (void *)c->payload, .iov_len = c->plen },
	};
	struct msghdr smh = { .msg_iov = siov, .msg_iovlen = c->plen ? 2 : 1 };
	struct iovec riov[2] = {
		{ .iov_base = &c->rep, .iov_len = sizeof(c->rep) },
		{ .iov_base = c->out, .iov_len = c->outlen },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * XVIO_SIM_MAX_MAP_DOMAINS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr rmh = { .msg_iov = riov, .msg_iovlen = c->outlen ? 2 : 1,
	                      .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	ssize_t n;
	int err;

	c->nfds = 0;
	c->done = false;
	do
		n = sendmsg(fd, &smh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	do
		n = recvmsg(fd, &rmh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;    /* the simulator went away */
	c->done = (size_t)n >= sizeof(c->rep) && c->rep.err == 0;
	err = take_fds(&rmh, c->fds, XVIO_SIM_MAX_MAP_DOMAINS, &c->nfds);
	if (!err && ((size_t)n < sizeof(c->rep) || (rmh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))))
		err = -EPROTO;
	if (!err && c->rep.err < 0)
		err = c->rep.err < -4095 ? -EPROTO : c->rep.err;
	if (!err && (c->rep.err > 0 || c->rep.nfds != c->nfds))
		err = -EPROTO;
	if (err) {
		close_fds(c->fds, c->nfds);
		c->nfds = 0;
		return err;
	}
	c->outlen = (size_t)n - sizeof(c->rep);
	return 0;
}

/* A call whose reply carries exactly `len` bytes of payload and no fds. */
static int sim_call_fixed(int fd, struct call *c, void *out, size_t len)
{
	int err;

	c->out = out;
	c->outlen = len;
	err = sim_call(fd, c);
	if (err == 0 && (c->outlen != len || c->nfds)) {
		close_fds(c->fds, c->nfds);
		err = -EPROTO;
	}
	return err;
}

/* ---- the platform handle ---- */

static int sim_open(struct xvio_plat **out)
{
	const char *path = getenv("XVIO_SIM_HYP");
	struct call c = { .req.op = XVIO_SIM_OP_HELLO };
	struct xvio_sim_hello hello;
	struct sim_plat *p;
	int err;

	if (!path || !*path)
		return -ENOENT;
	if (strlen(path) >= sizeof(p->path))
		return -ENAMETOOLONG;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->base.ops = &xvio_plat_sim_ops;
	p->pid = getpid();
	strcpy(p->path, path);
	p->fd = connect_path(path);
	if (p->fd < 0) {
		err = p->fd;
		free(p);
		return err;
	}
	err = sim_call_fixed(p->fd, &c, &hello, sizeof(hello));
	if (err == 0 && hello.version != XVIO_SIM_PROTO_VERSION)
		err = -EPROTONOSUPPORT;
	if (err < 0) {
		close(p->fd);
		free(p);
		return err;
	}
	p->domid = hello.domid;
	*out = &p->base;
	return 0;
}

static void gobj_link(struct sim_plat *p, struct sim_gobj *o)
{
	o->p = p;
	o->prev = NULL;
	o->next = p->objs;
	if (p->objs)
		p->objs->prev = o;
	p->objs = o;
}

static void gobj_unlink(struct sim_gobj *o)
{
	if (o->prev)
		o->prev->next = o->next;
	else
		o->p->objs = o->next;
	if (o->next)
		o->next->prev = o->prev;
}

static void sim_close(struct xvio_plat *xp)
{
	struct sim_plat *p = (struct sim_plat *)xp;
	bool owner = getpid() == p->pid;

	/* Unmap before the daemon hears we are gone: once it releases the
	 * pages they may be reused.  A forked child has no mappings (they
	 * are MADV_DONTFORK) and its address space may reuse the ranges. */
	while (p->objs) {
		struct sim_gobj *o = p->objs;

		if (owner)
			munmap(o->base, o->len);
		gobj_unlink(o);
		/* o is the first member after base in both object kinds. */
		free((char *)o - offsetof(struct sim_share, o));
	}
	close(p->fd);
	free(p);
}

static int sim_self_domid(struct xvio_plat *xp, xvio_domid_t *out)
{
	*out = ((struct sim_plat *)xp)->domid;
	return 0;
}

/* ---- mappings ---- */

/*
 * Map `count` pages into a fresh range between two guard pages, merging
 * runs of consecutive gfns of one fd into one mmap.  Returns 0 with the
 * reservation in *base (length (count + 2) pages), or -errno.
 */
static int map_pages(const int *fds, const struct xvio_sim_page *pg, unsigned count, int prot,
                     char **base)
{
	size_t len = ((size_t)count + 2) * XVIO_PAGE_SIZE;
	char *b = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	unsigned i = 0;

	if (b == MAP_FAILED)
		return -errno;
	while (i < count) {
		unsigned j = i + 1;

		while (j < count && pg[j].fd == pg[i].fd && pg[j].gfn == pg[j - 1].gfn + 1)
			j++;
		if (mmap(b + ((size_t)i + 1) * XVIO_PAGE_SIZE, (size_t)(j - i) * XVIO_PAGE_SIZE,
		         prot, MAP_SHARED | MAP_FIXED, fds[pg[i].fd],
		         (off_t)(pg[i].gfn << XVIO_PAGE_SHIFT)) == MAP_FAILED) {
			int err = -errno;

			munmap(b, len);
			return err;
		}
		i = j;
	}
	madvise(b, len, MADV_DONTFORK);
	*base = b;
	return 0;
}

/* Check a reply's page list against what was asked. */
static bool pages_ok(const struct call *c, unsigned count, const struct xvio_sim_page *pg)
{
	if (c->rep.count != count || c->outlen != (size_t)count * sizeof(*pg) || c->nfds == 0)
		return false;
	for (unsigned i = 0; i < count; i++) {
		if (pg[i].fd >= c->nfds || pg[i].gfn >= XVIO_SIM_MAX_DOM_PAGES)
			return false;
	}
	return true;
}

/* Tell the daemon to drop a handle (best effort: on a dead connection
 * everything is dropped anyway). */
static int drop_handle(struct sim_plat *p, uint32_t op, uint64_t handle)
{
	struct call c = { .req.op = op, .req.arg = handle };

	return sim_call_fixed(p->fd, &c, NULL, 0);
}

/* ---- grants, granting side ---- */

static int sim_gnt_share(struct xvio_plat *xp, xvio_domid_t grantee, unsigned count,
                         bool writable, xvio_gref_t *refs, void **addr,
                         struct xvio_gnt_share **out)
{
	struct sim_plat *p = (struct sim_plat *)xp;
	struct call c = { .req = { .op = XVIO_SIM_OP_GNT_SHARE, .count = count, .domid = grantee,
	                           .flags = writable ? XVIO_SIM_F_WRITABLE : 0 } };
	struct xvio_sim_page *pg = calloc(count, sizeof(*pg));
	struct sim_share *s = calloc(1, sizeof(*s));
	int err = -ENOMEM;

	if (!pg || !s)
		goto out;
	c.out = pg;
	c.outlen = count * sizeof(*pg);
	err = sim_call(p->fd, &c);
	if (err == 0) {
		err = pages_ok(&c, count, pg) && c.nfds == 1 ? 0 : -EPROTO;
		if (err == 0)
			err = map_pages(c.fds, pg, count, PROT_READ | PROT_WRITE, &s->o.base);
		close_fds(c.fds, c.nfds);
	}
	if (err < 0) {
		/* Made but unusable.  Abandon, not end: a peer may already have
		 * mapped a ref. */
		if (c.done)
			drop_handle(p, XVIO_SIM_OP_GNT_SHARE_ABANDON, c.rep.val);
		goto out;
	}
	s->o.handle = c.rep.val;
	for (unsigned i = 0; i < count; i++)
		refs[i] = pg[i].ref;
	s->base.ops = &xvio_plat_sim_ops;
	s->o.len = ((size_t)count + 2) * XVIO_PAGE_SIZE;
	gobj_link(p, &s->o);
	*addr = s->o.base + XVIO_PAGE_SIZE;
	*out = &s->base;
	s = NULL;
out:
	free(s);
	free(pg);
	return err;
}

static int sim_gnt_share_end(struct xvio_gnt_share *xs)
{
	struct sim_share *s = (struct sim_share *)xs;
	int err = drop_handle(s->o.p, XVIO_SIM_OP_GNT_SHARE_END, s->o.handle);

	/* -EBUSY: still mapped by the peer, nothing changed. */
	if (err < 0)
		return err;
	munmap(s->o.base, s->o.len);
	gobj_unlink(&s->o);
	free(s);
	return 0;
}

static void sim_gnt_share_abandon(struct xvio_gnt_share *xs)
{
	struct sim_share *s = (struct sim_share *)xs;

	munmap(s->o.base, s->o.len);
	drop_handle(s->o.p, XVIO_SIM_OP_GNT_SHARE_ABANDON, s->o.handle);
	gobj_unlink(&s->o);
	free(s);
}

/* ---- grants, mapping side ---- */

static int sim_gnt_map(struct xvio_plat *xp, unsigned count, const xvio_domid_t *domids,
                       const xvio_gref_t *refs, bool writable, void **addr,
                       struct xvio_gnt_map **out)
{
	struct sim_plat *p = (struct sim_plat *)xp;
	struct call c = { .req = { .op = XVIO_SIM_OP_GNT_MAP, .count = count,
	                           .flags = writable ? XVIO_SIM_F_WRITABLE : 0 } };
	struct xvio_sim_map_ent *ents = calloc(count, sizeof(*ents));
	struct xvio_sim_page *pg = calloc(count, sizeof(*pg));
	struct sim_map *m = calloc(1, sizeof(*m));
	int err = -ENOMEM;

	if (!ents || !pg || !m)
		goto out;
	for (unsigned i = 0; i < count; i++)
		ents[i] = (struct xvio_sim_map_ent){ .domid = domids[i], .ref = refs[i] };
	c.payload = ents;
	c.plen = count * sizeof(*ents);
	c.out = pg;
	c.outlen = count * sizeof(*pg);
	err = sim_call(p->fd, &c);
	if (err == 0) {
		err = pages_ok(&c, count, pg) ? 0 : -EPROTO;
		if (err == 0)
			err = map_pages(c.fds, pg, count,
			                writable ? PROT_READ | PROT_WRITE : PROT_READ, &m->o.base);
		close_fds(c.fds, c.nfds);
	}
	if (err < 0) {
		if (c.done)
			drop_handle(p, XVIO_SIM_OP_GNT_UNMAP, c.rep.val);
		goto out;
	}
	m->o.handle = c.rep.val;
	m->base.ops = &xvio_plat_sim_ops;
	m->o.len = ((size_t)count + 2) * XVIO_PAGE_SIZE;
	gobj_link(p, &m->o);
	*addr = m->o.base + XVIO_PAGE_SIZE;
	*out = &m->base;
	m = NULL;
out:
	free(m);
	free(pg);
	free(ents);
	return err;
}

static int sim_gnt_unmap(struct xvio_gnt_map *xm)
{
	struct sim_map *m = (struct sim_map *)xm;
	int err;

	/* Unmap first: once the daemon hears of it, the granter may end the
	 * grant and the pages may be reused. */
	munmap(m->o.base, m->o.len);
	err = drop_handle(m->o.p, XVIO_SIM_OP_GNT_UNMAP, m->o.handle);
	gobj_unlink(&m->o);
	free(m);
	return err;
}

/* ---- event channels ---- */

static int sim_evtchn_open(struct xvio_plat *xp, struct xvio_evtchn **out)
{
	struct sim_plat *p = (struct sim_plat *)xp;
	struct sim_evtchn *e = malloc(sizeof(*e));
	int err;

	if (!e)
		return -ENOMEM;
	e->base.ops = &xvio_plat_sim_ops;
	for (unsigned i = 0; i < XVIO_SIM_MAX_PORTS; i++)
		e->ports[i] = (struct sim_port){ .rx = -1, .tx = -1 };
	e->nbound = e->cursor = 0;
	e->pid = getpid();
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0) {
		err = -errno;
		free(e);
		return err;
	}
	e->fd = connect_path(p->path);
	if (e->fd < 0) {
		err = e->fd;
		close(e->epfd);
		free(e);
		return err;
	}
	*out = &e->base;
	return 0;
}

/* Close a port's fds and, where this process has them, its line maps. */
static void port_drop(struct sim_port *sp, bool unmap)
{
	close(sp->rx);
	close(sp->tx);
	if (unmap) {
		munmap(sp->rxl, XVIO_PAGE_SIZE);
		munmap(sp->txl, XVIO_PAGE_SIZE);
	}
	*sp = (struct sim_port){ .rx = -1, .tx = -1 };
}

static void port_forget(struct sim_evtchn *e, xvio_port_t port)
{
	struct sim_port *sp = &e->ports[port];
	uint16_t last = e->bound[--e->nbound];

	e->bound[sp->slot] = last;
	e->ports[last].slot = sp->slot;
	epoll_ctl(e->epfd, EPOLL_CTL_DEL, sp->rx, NULL);
	port_drop(sp, true);
}

static void sim_evtchn_close(struct xvio_evtchn *xe)
{
	struct sim_evtchn *e = (struct sim_evtchn *)xe;

	/* Closing the connection makes the daemon close every port.  No
	 * epoll_ctl here: a forked child shares the parent's epoll set, and
	 * has no line maps (MADV_DONTFORK). */
	close(e->fd);
	for (unsigned i = 0; i < e->nbound; i++)
		port_drop(&e->ports[e->bound[i]], getpid() == e->pid);
	close(e->epfd);
	free(e);
}

static int sim_evtchn_fd(struct xvio_evtchn *xe)
{
	return ((struct sim_evtchn *)xe)->epfd;
}

static bool port_ours(const struct sim_evtchn *e, xvio_port_t port)
{
	return port < XVIO_SIM_MAX_PORTS && e->ports[port].rx >= 0;
}

/* Our eventfd's count: one more wake-up, for a port whose bit is set. */
static int self_kick(const struct sim_port *sp)
{
	uint64_t one = 1;

	return write(sp->rx, &one, sizeof(one)) < 0 && errno != EAGAIN ? -errno : 0;
}

/* Unmask: mirror the mask, then look at the bit.  The fence pairs with the
 * sender's exchange (notify): either it sees the mask cleared and writes
 * the eventfd, or we see its bit here and raise ourselves. */
static int line_unmask(struct sim_port *sp)
{
	sp->masked = false;
	xvio_store32(&sp->rxl->masked, 0);
	xvio_mb();
	return xvio_load32(&sp->rxl->pending) != 0 ? self_kick(sp) : 0;
}

/* Map a line page the daemon sent: a whole page, sealed against
 * shrinking, so a peer holding the same file cannot make us fault. */
static struct xvio_sim_evtchn_line *line_map(int fd)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0 || st.st_size < (off_t)XVIO_PAGE_SIZE ||
	    !(fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK))
		return NULL;
	p = mmap(NULL, XVIO_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, XVIO_PAGE_SIZE, MADV_DONTFORK);
	return p;
}

/* Install a port the daemon just gave us, unmasked. */
static int port_install(struct sim_evtchn *e, struct call *c)
{
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t port = c->rep.val;
	struct sim_port *sp;

	if (c->nfds != 4 || c->outlen != 0 || port == 0 || port >= XVIO_SIM_MAX_PORTS ||
	    port_ours(e, (xvio_port_t)port)) {
		close_fds(c->fds, c->nfds);
		return -EPROTO;
	}
	sp = &e->ports[port];
	sp->rxl = line_map(c->fds[2]);
	sp->txl = sp->rxl ? line_map(c->fds[3]) : NULL;
	ev.data.u32 = (uint32_t)port;
	if (!sp->txl || epoll_ctl(e->epfd, EPOLL_CTL_ADD, c->fds[0], &ev) < 0) {
		int err = sp->txl ? -errno : -EPROTO;

		if (sp->rxl)
			munmap(sp->rxl, XVIO_PAGE_SIZE);
		if (sp->txl)
			munmap(sp->txl, XVIO_PAGE_SIZE);
		*sp = (struct sim_port){ .rx = -1, .tx = -1 };
		close_fds(c->fds, c->nfds);
		return err;
	}
	close(c->fds[2]);
	close(c->fds[3]);
	sp->rx = c->fds[0];
	sp->tx = c->fds[1];
	sp->slot = (uint16_t)e->nbound;
	e->bound[e->nbound++] = (uint16_t)port;
	/* Unmasked (sp->masked is false): the daemon cleared the line's mask
	 * when it made or bound the port, before raising it. */
	return (int)port;
}

/*
 * The end of an alloc or bind call: install the port, or, when the daemon
 * made one we cannot use, close it there (it would stay bound until the
 * handle closes).  A number we already hold is left alone: unbinding it
 * would close our own port.
 */
static int port_take(struct sim_evtchn *e, struct call *c, int err)
{
	uint64_t port = c->rep.val;

	if (err == 0)
		err = port_install(e, c);
	if (err < 0 && c->done && port != 0 && port < XVIO_SIM_MAX_PORTS &&
	    !port_ours(e, (xvio_port_t)port)) {
		struct call u = { .req = { .op = XVIO_SIM_OP_EVTCHN_UNBIND, .arg = port } };

		sim_call_fixed(e->fd, &u, NULL, 0);
	}
	return err;
}

static int sim_evtchn_alloc_unbound(struct xvio_evtchn *xe, xvio_domid_t remote)
{
	struct sim_evtchn *e = (struct sim_evtchn *)xe;
	struct call c = { .req = { .op = XVIO_SIM_OP_EVTCHN_ALLOC_UNBOUND, .domid = remote } };

	return port_take(e, &c, sim_call(e->fd, &c));
}

static int sim_evtchn_bind_interdomain(struct xvio_evtchn *xe, xvio_domid_t remote,
                                       xvio_port_t remote_port)
{
	struct sim_evtchn *e = (struct sim_evtchn *)xe;
	struct call c = { .req = { .op = XVIO_SIM_OP_EVTCHN_BIND, .domid = remote,
	                           .arg = remote_port } };

	return port_take(e, &c, sim_call(e->fd, &c));
}

/* The hot path: no daemon, and no call at all while the peer has the
 * port masked or has not yet taken the last event. */
static int sim_evtchn_notify(struct xvio_evtchn *xe, xvio_port_t port)
{
	struct sim_evtchn *e = (struct sim_evtchn *)xe;
	struct sim_port *sp;
	uint64_t one = 1;

	if (!port_ours(e, port))
		return -EINVAL;
	sp = &e->ports[port];
	/* The exchange is a full fence: what we wrote to the ring before is
	 * visible before the bit (the receiver clears it with an exchange
	 * before it looks at the ring), and the bit before we read the mask
	 * (pairs with the fence in the receiver's line_unmask()). */
	if (xvio_xchg32(&sp->txl->pending, 1) != 0 || xvio_load32(&sp->txl->masked) != 0)
		return 0;
	/* EAGAIN: the counter is saturated, the event is pending anyway.  A
	 * peer that closed leaves nobody reading: the event is dropped. */
	if (write(sp->tx, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static int sim_evtchn_unbind(struct xvio_evtchn *xe, xvio_port_t port)
{
	struct sim_evtchn *e = (struct sim_evtchn *)xe;
	struct call c = { .req = { .op = XVIO_SIM_OP_EVTCHN_UNBIND, .arg = port } };

	if (!port_ours(e, port))
		return -EINVAL;
	port_forget(e, port);
	return sim_call_fixed(e->fd, &c, NULL, 0);
}

/* The next unmasked port whose bit is set, round robin; -1 if none. */
static int scan_lines(struct sim_evtchn *e)
{
	for (unsigned i = 0; i < e->nbound; i++) {
		unsigned k = (e->cursor + i) % e->nbound;
		struct sim_port *sp = &e->ports[e->bound[k]];

		if (!sp->masked && xvio_load32(&sp->rxl->pending) != 0) {
			e->cursor = k + 1;
			return e->bound[k];
		}
	}
	return -1;
}

/* Report `port`: mask it, take its bit, drain its eventfd. */
static int take_port(struct sim_evtchn *e, int port)
{
	struct sim_port *sp = &e->ports[port];
	uint64_t cnt;

	sp->masked = true;
	xvio_store32(&sp->rxl->masked, 1);
	/* The exchange orders the mask before the bit is cleared (a sender
	 * that sets it again sees the mask and stays quiet) and the bit
	 * before our reads of the ring (pairs with the sender's exchange). */
	xvio_xchg32(&sp->rxl->pending, 0);
	if (read(sp->rx, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		return -errno;
	return port;
}

/*
 * Kicks with no bit behind them: a sender that found the port unmasked
 * writes the eventfd after setting the bit, so we may have taken the bit
 * before its write landed.  Drain what is counted, then look again: a
 * kick drained here was preceded by its bit, which the second scan sees.
 */
static int drain_stale(struct sim_evtchn *e)
{
	struct epoll_event ev[16];
	uint64_t cnt;
	int n;

	do
		n = epoll_wait(e->epfd, ev, 16, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		if (port_ours(e, ev[i].data.u32) &&
		    read(e->ports[ev[i].data.u32].rx, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
			return -errno;
	}
	return n;
}

static int sim_evtchn_pending(struct xvio_evtchn *xe)
{
	struct sim_evtchn *e = (struct sim_evtchn *)xe;
	int port = scan_lines(e), n;

	if (port >= 0)
		return take_port(e, port);
	n = drain_stale(e);
	if (n <= 0)
		return n < 0 ? n : -EAGAIN;
	port = scan_lines(e);
	return port >= 0 ? take_port(e, port) : -EAGAIN;
}

static int sim_evtchn_unmask(struct xvio_evtchn *xe, xvio_port_t port)
{
	struct sim_evtchn *e = (struct sim_evtchn *)xe;

	if (!port_ours(e, port))
		return -EINVAL;
	return e->ports[port].masked ? line_unmask(&e->ports[port]) : 0;
}

static int sim_evtchn_status(struct xvio_evtchn *xe, xvio_port_t port)
{
	struct sim_evtchn *e = (struct sim_evtchn *)xe;
	struct call c = { .req = { .op = XVIO_SIM_OP_EVTCHN_STATUS, .arg = port } };
	struct xvio_sim_evtchn_status st;
	int err = sim_call_fixed(e->fd, &c, &st, sizeof(st));

	if (err < 0)
		return err;
	if (st.state > XVIO_EVTCHN_INTERDOMAIN)
		return -EPROTO;
	return (int)st.state;
}

/* ---- domains ---- */

static int sim_dom_info(struct xvio_plat *xp, xvio_domid_t domid, struct xvio_dominfo *info)
{
	struct sim_plat *p = (struct sim_plat *)xp;
	struct call c = { .req = { .op = XVIO_SIM_OP_DOM_INFO, .domid = domid } };
	struct xvio_sim_dominfo di;
	int err = sim_call_fixed(p->fd, &c, &di, sizeof(di));

	if (err < 0)
		return err;
	memset(info, 0, sizeof(*info));
	info->domid = di.domid;
	info->dying = di.dying;
	info->shutdown = di.shutdown;
	info->shutdown_reason = di.shutdown_reason;
	info->tot_pages = di.tot_pages;
	info->max_pages = di.max_pages;
	return 0;
}

static int sim_dom_gfns(struct xvio_plat *xp, uint32_t op, xvio_domid_t domid, unsigned count,
                        const uint64_t *gfns)
{
	struct sim_plat *p = (struct sim_plat *)xp;
	struct call c = { .req = { .op = op, .domid = domid, .count = count },
	                  .payload = gfns, .plen = count * sizeof(*gfns) };

	return sim_call_fixed(p->fd, &c, NULL, 0);
}

static int sim_dom_decrease_reservation(struct xvio_plat *xp, xvio_domid_t domid,
                                        unsigned count, const uint64_t *gfns)
{
	return sim_dom_gfns(xp, XVIO_SIM_OP_DOM_DECREASE, domid, count, gfns);
}

static int sim_dom_populate_physmap(struct xvio_plat *xp, xvio_domid_t domid,
                                    unsigned count, const uint64_t *gfns)
{
	return sim_dom_gfns(xp, XVIO_SIM_OP_DOM_POPULATE, domid, count, gfns);
}

static int sim_dom_set_maxmem(struct xvio_plat *xp, xvio_domid_t domid, uint64_t max_kib)
{
	struct sim_plat *p = (struct sim_plat *)xp;
	struct call c = { .req = { .op = XVIO_SIM_OP_DOM_SET_MAXMEM, .domid = domid,
	                           .arg = max_kib } };

	return sim_call_fixed(p->fd, &c, NULL, 0);
}

const struct xvio_plat_ops xvio_plat_sim_ops = {
	.name = "sim",
	.open = sim_open,
	.close = sim_close,
	.self_domid = sim_self_domid,
	.evtchn_open = sim_evtchn_open,
	.evtchn_close = sim_evtchn_close,
	.evtchn_fd = sim_evtchn_fd,
	.evtchn_alloc_unbound = sim_evtchn_alloc_unbound,
	.evtchn_bind_interdomain = sim_evtchn_bind_interdomain,
	.evtchn_notify = sim_evtchn_notify,
	.evtchn_unbind = sim_evtchn_unbind,
	.evtchn_pending = sim_evtchn_pending,
	.evtchn_unmask = sim_evtchn_unmask,
	.evtchn_status = sim_evtchn_status,
	.gnt_share = sim_gnt_share,
	.gnt_share_end = sim_gnt_share_end,
	.gnt_share_abandon = sim_gnt_share_abandon,
	.gnt_map = sim_gnt_map,
	.gnt_unmap = sim_gnt_unmap,
	.dom_info = sim_dom_info,
	.dom_decrease_reservation = sim_dom_decrease_reservation,
	.dom_populate_physmap = sim_dom_populate_physmap,
	.dom_set_maxmem = sim_dom_set_maxmem,
};
