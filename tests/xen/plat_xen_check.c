/* SPDX-License-Identifier: MIT */
/*
 * The platform layer against a real hypervisor, from dom0 alone: dom0 may
 * grant pages to itself and bind event channels to itself, so grants,
 * mappings and notifications can all be exercised without a domU.
 *
 * Not part of `meson test` (it needs Xen); tests/xen/run-on-xenvm.sh runs
 * it inside ../shared/xenvm's dom0.  Exit status 0 means every check held.
 */
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "plat.h"

static sigjmp_buf g_fault;

static void on_segv(int sig)
{
	siglongjmp(g_fault, sig);
}

static void check_platform(struct xvio_plat *p)
{
	xvio_domid_t self = 99;

	CHECK_STR(xvio_plat_name(p), "xen");
	CHECK_INT(xvio_plat_self_domid(p, &self), ==, 0);
	CHECK_INT(self, ==, 0);
	printf("ok: platform xen, self domid 0\n");
}

static void check_grants(struct xvio_plat *p)
{
	struct xvio_gnt_share *s;
	struct xvio_gnt_map *m, *ro;
	xvio_gref_t refs[3];
	unsigned char *src, *dst, *rodst;
	struct sigaction sa = { .sa_handler = on_segv };

	CHECK_INT(xvio_gnt_share(p, 0, 3, true, refs, (void **)&src, &s), ==, 0);
	for (unsigned i = 0; i < 3 * XVIO_PAGE_SIZE; i++)
		CHECK_INT(src[i], ==, 0);
	memset(src, 0xa5, 3 * XVIO_PAGE_SIZE);
	CHECK_INT(xvio_gnt_map_domain(p, 0, 3, refs, true, (void **)&dst, &m), ==, 0);
	CHECK(memcmp(src, dst, 3 * XVIO_PAGE_SIZE) == 0);
	dst[XVIO_PAGE_SIZE + 7] = 0x5a;
	CHECK_INT(src[XVIO_PAGE_SIZE + 7], ==, 0x5a);
	printf("ok: share 3 pages, map them, writes visible both ways\n");

	/* a grant that was never made */
	{
		xvio_gref_t bogus = refs[2] + 1000;
		void *a;
		struct xvio_gnt_map *x;

		CHECK_INT(xvio_gnt_map_domain(p, 0, 1, &bogus, false, &a, &x), <, 0);
	}
	printf("ok: mapping a ref never granted fails\n");

	/* read-only mapping of a writable grant faults on write */
	CHECK_INT(xvio_gnt_map_domain(p, 0, 1, refs, false, (void **)&rodst, &ro), ==, 0);
	CHECK_INT(rodst[0], ==, 0xa5);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	if (sigsetjmp(g_fault, 1) == 0) {
		((volatile unsigned char *)rodst)[0] = 1;
		CHECK_FAIL("write through a read-only mapping did not fault");
	}
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	CHECK_INT(xvio_gnt_unmap(ro), ==, 0);
	printf("ok: read-only mapping faults on write\n");

	CHECK_INT(xvio_gnt_unmap(m), ==, 0);
	CHECK_INT(xvio_gnt_share_end(s), ==, 0);
	printf("ok: unmap and end\n");
}

static int wait_port(struct xvio_evtchn *e, int want)
{
	struct pollfd pfd = { .fd = xvio_evtchn_fd(e), .events = POLLIN };

	for (int tries = 0; tries < 100; tries++) {
		int port = xvio_evtchn_pending(e);

		if (port >= 0) {
			CHECK_INT(xvio_evtchn_unmask(e, (xvio_port_t)port), ==, 0);
			if (port == want)
				return 0;
			continue;
		}
		CHECK_INT(port, ==, -EAGAIN);
		poll(&pfd, 1, 100);
	}
	return -ETIMEDOUT;
}

static void check_evtchn(struct xvio_plat *p)
{
	struct xvio_evtchn *a, *b;
	int pa, pb;

	CHECK_INT(xvio_evtchn_open(p, &a), ==, 0);
	CHECK_INT(xvio_evtchn_open(p, &b), ==, 0);
	pa = xvio_evtchn_alloc_unbound(a, 0);
	CHECK_INT(pa, >, 0);
	CHECK_INT(xvio_evtchn_status(a, (xvio_port_t)pa), ==, XVIO_EVTCHN_UNBOUND);
	pb = xvio_evtchn_bind_interdomain(b, 0, (xvio_port_t)pa);
	CHECK_INT(pb, >, 0);
	CHECK_INT(xvio_evtchn_status(a, (xvio_port_t)pa), ==, XVIO_EVTCHN_INTERDOMAIN);
	/* Xen raises the binder's port at bind time. */
	CHECK_INT(wait_port(b, pb), ==, 0);
	CHECK_INT(xvio_evtchn_notify(a, (xvio_port_t)pa), ==, 0);
	CHECK_INT(wait_port(b, pb), ==, 0);
	CHECK_INT(xvio_evtchn_notify(b, (xvio_port_t)pb), ==, 0);
	CHECK_INT(wait_port(a, pa), ==, 0);
	CHECK_INT(xvio_evtchn_notify(a, 4000), ==, -EINVAL);
	printf("ok: event channel alloc/bind/notify both ways, bad port refused\n");
	CHECK_INT(xvio_evtchn_unbind(b, (xvio_port_t)pb), ==, 0);
	CHECK_INT(xvio_evtchn_status(a, (xvio_port_t)pa), ==, XVIO_EVTCHN_UNBOUND);
	printf("ok: peer unbind turns our port unbound\n");
	xvio_evtchn_close(b);
	xvio_evtchn_close(a);
}

static void check_domains(struct xvio_plat *p)
{
	struct xvio_dominfo i;

	CHECK_INT(xvio_dom_info(p, 0, &i), ==, 0);
	CHECK(!i.dying && !i.shutdown);
	CHECK_INT(i.tot_pages, >, 0);
	CHECK_INT(xvio_dom_info(p, 0x7000, &i), ==, -ESRCH);
	printf("ok: dom_info of dom0 (%llu pages) and of a missing domain\n",
	       (unsigned long long)i.tot_pages);
}

int main(void)
{
	struct xvio_plat *p;

	setvbuf(stdout, NULL, _IOLBF, 0);
	CHECK_INT(xvio_plat_open("xen", &p), ==, 0);
	check_platform(p);
	check_grants(p);
	check_evtchn(p);
	check_domains(p);
	xvio_plat_close(p);
	printf("all checks passed\n");
	return 0;
}
