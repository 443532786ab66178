/* SPDX-License-Identifier: MIT */
/*
 * fork, as libxengnttab and libxenevtchn document it: a child does not
 * inherit grant mappings (MADV_DONTFORK, like gntdev's), and closing the
 * inherited handles in the child leaves the parent's shares, maps and
 * ports working.
 */
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hyptest.h"

static struct simtest st;
static int dom_a;

static int parent(void *arg)
{
	struct xvio_plat *p = ht_open();
	struct xvio_evtchn *e1, *e2;
	struct xvio_gnt_share *s;
	struct xvio_gnt_map *m;
	struct pollfd pfd;
	xvio_gref_t refs[2];
	void *sa, *ma;
	int pa, pb, status;
	pid_t child;

	CHECK_RET(xvio_evtchn_open(p, &e1), 0);
	CHECK_RET(xvio_evtchn_open(p, &e2), 0);
	pa = xvio_evtchn_alloc_unbound(e1, (xvio_domid_t)dom_a);
	CHECK(pa > 0);
	pb = xvio_evtchn_bind_interdomain(e2, (xvio_domid_t)dom_a, (xvio_port_t)pa);
	CHECK(pb > 0);
	CHECK_INT(xvio_evtchn_pending(e2), ==, pb);
	CHECK_RET(xvio_evtchn_unmask(e2, (xvio_port_t)pb), 0);
	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_a, 2, true, refs, &sa, &s), 0);
	CHECK_RET(xvio_gnt_map_domain(p, (xvio_domid_t)dom_a, 2, refs, true, &ma, &m), 0);
	memset(sa, 0x21, 2 * XVIO_PAGE_SIZE);

	fflush(NULL);
	child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		/* Not inherited. */
		if (ht_readable(sa, 1) || ht_readable(ma, 1))
			_exit(2);
		/* Closing is the one thing a child may do. */
		xvio_evtchn_close(e2);
		xvio_evtchn_close(e1);
		xvio_plat_close(p);
		_exit(0);
	}
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* Everything still works in the parent. */
	CHECK_INT(((unsigned char *)ma)[XVIO_PAGE_SIZE + 9], ==, 0x21);
	CHECK_RET(xvio_evtchn_status(e1, (xvio_port_t)pa), XVIO_EVTCHN_INTERDOMAIN);
	CHECK_RET(xvio_evtchn_notify(e1, (xvio_port_t)pa), 0);
	pfd = (struct pollfd){ .fd = xvio_evtchn_fd(e2), .events = POLLIN };
	CHECK_INT(poll(&pfd, 1, 10000), ==, 1);
	CHECK_INT(xvio_evtchn_pending(e2), ==, pb);
	CHECK_RET(xvio_gnt_share_end(s), -EBUSY);
	CHECK_RET(xvio_gnt_unmap(m), 0);
	CHECK_RET(xvio_gnt_share_end(s), 0);
	xvio_evtchn_close(e2);
	xvio_evtchn_close(e1);
	xvio_plat_close(p);
	return 0;
}

int main(void)
{
	simtest_start(&st, NULL);
	dom_a = ht_domain(&st, 16, 0);
	CHECK_INT(simtest_wait(simtest_spawn(&st, dom_a, parent, NULL), 30), ==, 0);
	simtest_stop(&st);
	return 0;
}
