/* SPDX-License-Identifier: MIT */
/*
 * Destroying a granting domain, as on Xen: the grantee's mapping stays
 * valid (reads and writes) until it unmaps; the domain is reported dying
 * meanwhile and new maps of it fail with -ESRCH; the last unmap frees it.
 * Its processes lose their connections, its socket goes, and the peers of
 * its event channels see them turn unbound (with an event to wake them).
 */
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hyptest.h"

static struct simtest st;
static int dom_a, dom_b;

struct offer {
	xvio_gref_t refs[2];
	xvio_port_t port;
};

/* In A: grant two pages and offer a port to B, then wait for the end. */
static int granter(void *arg)
{
	struct ht_pipe *pp = arg;
	int fd = ht_pipe_side(pp, 0);
	struct xvio_plat *p = ht_open();
	struct xvio_dominfo info;
	struct xvio_gnt_share *s;
	struct xvio_evtchn *e;
	struct offer o;
	int port;
	void *a;

	CHECK_RET(xvio_evtchn_open(p, &e), 0);
	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_b, 2, true, o.refs, &a, &s), 0);
	memset(a, 0x66, 2 * XVIO_PAGE_SIZE);
	port = xvio_evtchn_alloc_unbound(e, (xvio_domid_t)dom_b);
	CHECK(port > 0);
	o.port = (xvio_port_t)port;
	ht_put(fd, &o, sizeof(o));
	CHECK_INT(ht_get_int(fd), ==, 1);      /* our domain was destroyed */
	/* Our connections were closed under us. */
	CHECK(xvio_dom_info(p, (xvio_domid_t)dom_a, &info) < 0);
	CHECK(xvio_evtchn_status(e, o.port) < 0);
	xvio_evtchn_close(e);
	xvio_plat_close(p);
	return 0;
}

/* In B: map the pages, bind the port, then obey the test. */
static int grantee(void *arg)
{
	struct ht_pipe *pp = arg;
	int fd = ht_pipe_side(pp, 1);
	struct xvio_plat *p = ht_open();
	struct pollfd pfd;
	struct xvio_gnt_map *m;
	struct xvio_evtchn *e;
	struct offer o;
	unsigned char *addr;
	int port;
	void *a;

	CHECK_RET(xvio_evtchn_open(p, &e), 0);
	ht_get(fd, &o, sizeof(o));
	CHECK_RET(xvio_gnt_map_domain(p, (xvio_domid_t)dom_a, 2, o.refs, true, &a, &m), 0);
	addr = a;
	port = xvio_evtchn_bind_interdomain(e, (xvio_domid_t)dom_a, o.port);
	CHECK(port > 0);
	/* Binding raises our port once (as Xen does); take that event. */
	CHECK_INT(xvio_evtchn_pending(e), ==, port);
	CHECK_RET(xvio_evtchn_unmask(e, (xvio_port_t)port), 0);
	CHECK_RET(xvio_evtchn_pending(e), -EAGAIN);
	ht_put_int(fd, 1);

	CHECK_INT(ht_get_int(fd), ==, 2);      /* A is destroyed now */
	/* The mapping still works both ways. */
	CHECK_INT(addr[5], ==, 0x66);
	CHECK_INT(addr[XVIO_PAGE_SIZE + 5], ==, 0x66);
	addr[7] = 0x77;
	CHECK_INT(addr[7], ==, 0x77);
	/* A's port is gone: ours is unbound, and we were woken. */
	pfd = (struct pollfd){ .fd = xvio_evtchn_fd(e), .events = POLLIN };
	CHECK_INT(poll(&pfd, 1, 10000), ==, 1);
	CHECK_INT(xvio_evtchn_pending(e), ==, port);
	CHECK_RET(xvio_evtchn_status(e, (xvio_port_t)port), XVIO_EVTCHN_UNBOUND);
	CHECK_RET(xvio_evtchn_notify(e, (xvio_port_t)port), 0);   /* dropped */
	/* No new maps of a dying domain. */
	{
		struct xvio_gnt_map *m2;
		void *a2;

		CHECK_RET(xvio_gnt_map_domain(p, (xvio_domid_t)dom_a, 2, o.refs, false, &a2, &m2),
		          -ESRCH);
	}
	CHECK_RET(xvio_evtchn_bind_interdomain(e, (xvio_domid_t)dom_a, o.port), -ESRCH);
	ht_put_int(fd, 3);

	CHECK_INT(ht_get_int(fd), ==, 4);
	CHECK_RET(xvio_gnt_unmap(m), 0);
	ht_put_int(fd, 5);
	xvio_evtchn_close(e);
	xvio_plat_close(p);
	return 0;
}

static bool dying_mapped(int err, const struct xvio_sim_dominfo *i, long n)
{
	return err == 0 && i->dying && i->maps_active == (uint32_t)n;
}

static bool gone(int err, const struct xvio_sim_dominfo *i, long n)
{
	return err == -ESRCH;
}

static bool socket_gone(int domid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool ok;

	ht_sock_path(&st, domid, &sa);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0;
	close(fd);
	return ok;
}

int main(void)
{
	struct ht_pipe pa, pb;
	struct offer o;
	pid_t a, b;

	simtest_start(&st, NULL);
	dom_a = ht_domain(&st, 16, 0);
	dom_b = ht_domain(&st, 16, 0);
	ht_pipe_init(&pa);
	ht_pipe_init(&pb);
	a = simtest_spawn(&st, dom_a, granter, &pa);
	b = simtest_spawn(&st, dom_b, grantee, &pb);
	ht_get(pa.fd[1], &o, sizeof(o));
	ht_put(pb.fd[0], &o, sizeof(o));
	CHECK_INT(ht_get_int(pb.fd[0]), ==, 1);

	simtest_destroy(&st, dom_a);
	CHECK(ht_wait_info(&st, dom_a, dying_mapped, 2));
	CHECK(socket_gone(dom_a));
	ht_put_int(pa.fd[1], 1);
	CHECK_INT(simtest_wait(a, 30), ==, 0);

	ht_put_int(pb.fd[0], 2);
	CHECK_INT(ht_get_int(pb.fd[0]), ==, 3);
	CHECK(ht_wait_info(&st, dom_a, dying_mapped, 2));   /* still held */
	ht_put_int(pb.fd[0], 4);
	CHECK_INT(ht_get_int(pb.fd[0]), ==, 5);
	CHECK(ht_wait_info(&st, dom_a, gone, 0));            /* freed */
	ht_pipe_close(&pa);
	ht_pipe_close(&pb);
	CHECK_INT(simtest_wait(b, 30), ==, 0);

	simtest_stop(&st);
	return 0;
}
