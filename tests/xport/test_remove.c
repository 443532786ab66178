/* SPDX-License-Identifier: MIT */
/*
 * Integration: the device or its frontend domain going away mid-I/O
 * (protocol §7).
 *
 * online0        libxl's removal (online=0 and backend state 5 in one
 *                transaction) while requests flow: both sides reach Closed,
 *                the backend holds nothing of the session any more (fds,
 *                shared mappings, the guest's pages); when the toolstack
 *                removes the directories the frontend hands its requests
 *                back and ends every grant; the backend serves a new device
 *                afterwards.
 * domain-death   the frontend's domain is destroyed mid-I/O: the backend
 *                ends with no mapping, fd or port of it, the domain is
 *                freed (nothing maps its pages), the backend lives on.
 * domid-reuse    destroy the guest and, once it is freed, re-create it
 *                (the simulator reuses the domid) with the same device,
 *                repeatedly: the backend serves every new incarnation.  The
 *                backend once kept a dead device's object when the removal
 *                and the re-creation reached it as one watch event, hiding
 *                the new device; that window is narrow here (this test did
 *                not catch it), blkfront-life-destroy-100 hit it about once
 *                in 50 rounds.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xptest.h"

static struct simtest st;

static void start_back(struct xp_proc *be)
{
	xp_start(be, &st, 0, "xvio-testback", NULL);
	xp_expect(be, "ready", NULL, 0, XP_TIMEOUT_MS);
}

static void start_front(struct xp_proc *fe, int dom, const char *devid)
{
	xp_start(fe, &st, dom, "xvio-testfront", "--devid", devid, "--requests", "1000000000",
	         "--progress", "2000", "--max-seg", "65536", "--linger", NULL);
	xp_expect(fe, "connected 1 ", NULL, 0, XP_TIMEOUT_MS);
	xp_expect(fe, "progress", NULL, 0, XP_TIMEOUT_MS);
}

static void test_online0(void)
{
	struct xvio_sim_dominfo info;
	struct xs_handle *xs0;
	struct xp_proc be, fe;
	struct xp_dev d, d2;
	char line[512];
	int dom, fds0, maps0;

	simtest_start(&st, NULL);
	dom = xp_guest(&st);
	xs0 = xp_xs(&st, 0);
	xp_make_device(xs0, dom, 1, &d);
	start_back(&be);
	fds0 = xp_fds(be.pid); /* the device in InitWait, no session */
	maps0 = xp_maps(be.pid);
	start_front(&fe, dom, "1");
	xp_remove_device(xs0, &d);
	xp_wait(xs0, d.be, "state", "6");
	xp_wait(xs0, d.fe, "state", "6");
	xp_expect(&fe, "disconnected", NULL, 0, XP_TIMEOUT_MS);
	CHECK_INT(xp_fds(be.pid), ==, fds0);
	CHECK_INT(xp_maps(be.pid), ==, maps0);
	CHECK_INT(xp_dominfo(&st, dom, &info), ==, 0);
	CHECK_INT(info.maps_active, ==, 0);
	/* The toolstack removes the directories: the frontend lets go. */
	CHECK(xs_rm(xs0, XBT_NULL, d.fe));
	CHECK(xs_rm(xs0, XBT_NULL, d.be));
	xp_expect(&fe, "removed", line, sizeof(line), XP_TIMEOUT_MS);
	CHECK_INT(xp_field(line, "errors"), ==, 0);
	CHECK_INT(xp_field(line, "dups"), ==, 0);
	CHECK_INT(xp_dominfo(&st, dom, &info), ==, 0);
	CHECK_INT(info.grants_active, ==, 0); /* while the frontend still runs */
	CHECK_INT(info.ports_bound, ==, 0);
	CHECK_INT(xp_term(&fe), ==, 0);
	/* The backend goes on with a new device. */
	xp_make_device(xs0, dom, 2, &d2);
	start_front(&fe, dom, "2");
	CHECK_INT(xp_term(&fe), ==, 0);
	CHECK_INT(xp_term(&be), ==, 0);
	xs_close(xs0);
	simtest_stop(&st);
}

static void test_domain_death(void)
{
	struct xvio_sim_dominfo info, d0;
	struct xs_handle *xs0;
	struct xp_proc be, fe;
	struct xp_dev d;
	int dom, fds0, maps0, status;

	simtest_start(&st, NULL);
	dom = xp_guest(&st);
	xs0 = xp_xs(&st, 0);
	xp_make_device(xs0, dom, 1, &d);
	start_back(&be);
	fds0 = xp_fds(be.pid);
	maps0 = xp_maps(be.pid);
	CHECK_INT(xp_dominfo(&st, 0, &d0), ==, 0);
	start_front(&fe, dom, "1");
	simtest_destroy(&st, dom);
	/* The simulator killed the frontend with its domain. */
	CHECK(waitpid(fe.pid, &status, 0) == fe.pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(fe.out);
	for (long long end = xp_now_ms() + XP_TIMEOUT_MS;; usleep(5000)) {
		bool freed = xp_dominfo(&st, dom, &info) == -ESRCH;
		struct xvio_sim_dominfo i0;

		CHECK_INT(xp_dominfo(&st, 0, &i0), ==, 0);
		if (freed && xp_fds(be.pid) == fds0 && xp_maps(be.pid) == maps0 &&
		    i0.ports_bound == d0.ports_bound)
			break;
		if (xp_now_ms() > end)
			CHECK_FAIL("backend still holds the dead domain: freed %d, fds %d/%d, "
			           "maps %d/%d, dom0 ports %u/%u", freed, xp_fds(be.pid), fds0,
			           xp_maps(be.pid), maps0, i0.ports_bound, d0.ports_bound);
	}
	CHECK_INT(xp_term(&be), ==, 0);
	xs_close(xs0);
	simtest_stop(&st);
}

static void test_domid_reuse(void)
{
	struct xs_handle *xs0;
	struct xp_proc be, fe;
	struct xp_dev d;
	int dom, first = -1;

	simtest_start(&st, NULL);
	xs0 = xp_xs(&st, 0);
	start_back(&be);
	for (int round = 0; round < 15; round++) {
		int status;

		dom = xp_guest(&st);
		if (first < 0)
			first = dom;
		CHECK_INT(dom, ==, first); /* else this tests nothing */
		xp_make_device(xs0, dom, 1, &d);
		start_front(&fe, dom, "1");
		simtest_destroy(&st, dom);
		CHECK(waitpid(fe.pid, &status, 0) == fe.pid);
		close(fe.out);
		/* The domid is reused once the backend unmapped the old pages. */
		for (long long end = xp_now_ms() + XP_TIMEOUT_MS;; usleep(2000)) {
			struct xvio_sim_dominfo info;

			if (xp_dominfo(&st, dom, &info) == -ESRCH)
				break;
			if (xp_now_ms() > end)
				CHECK_FAIL("domain %d never freed", dom);
		}
	}
	CHECK_INT(xp_term(&be), ==, 0);
	xs_close(xs0);
	simtest_stop(&st);
}

int main(int argc, char **argv)
{
	static const struct check_case cases[] = {
		{ "online0", test_online0 },
		{ "domain-death", test_domain_death },
		{ "domid-reuse", test_domid_reuse },
	};

	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
