/* SPDX-License-Identifier: MIT */
/*
 * Integration: protocol §7's restarts, mid-stream, repeated.
 *
 * backend    xvio-testback is killed (SIGKILL) and started again 20 times
 *            while xvio-testfront streams requests.  Every request is
 *            handed back exactly once with the right bytes (the frontend
 *            checks sequence numbers and data); after each reconnect the
 *            frontend holds as many fds and shared mappings as after the
 *            first, and at the end the guest has exactly the grants and
 *            mappings of one session and dom0 no extra port.
 * frontend   xvio-testfront is killed and started again 10 times; the
 *            backend tears each dead session down and serves the next one
 *            with the same number of fds and shared mappings, the guest's
 *            grants and mappings come back to one session's, and a last
 *            frontend runs a full stream cleanly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xptest.h"

static struct simtest st;

static const char *const fe_args[] = {
	"--queues", "2", "--progress", "2000", "--max-seg", "65536", "--linger", NULL,
};

static void start_front(struct xp_proc *fe, int dom, const char *requests)
{
	const char *args[16] = { "--requests", requests };
	unsigned n = 2;

	for (const char *const *a = fe_args; *a; a++)
		args[n++] = *a;
	args[n] = NULL;
	xp_startv(fe, &st, dom, "xvio-testfront", args);
}

static void start_back(struct xp_proc *be)
{
	xp_start(be, &st, 0, "xvio-testback", NULL);
	xp_expect(be, "ready", NULL, 0, XP_TIMEOUT_MS);
}

/* Wait for "connected <n>" and return its line. */
static void connected(struct xp_proc *fe, unsigned n, char *line, size_t size)
{
	char want[32];

	snprintf(want, sizeof(want), "connected %u ", n);
	xp_expect(fe, want, line, size, XP_TIMEOUT_MS);
}

/* The guest's grants and mappings settle at one session's (abandoned
 * grants end once the backend's mappings go, which is asynchronous). */
static void wait_counts(int dom, const struct xvio_sim_dominfo *want)
{
	struct xvio_sim_dominfo i;

	for (long long end = xp_now_ms() + XP_TIMEOUT_MS;; usleep(5000)) {
		CHECK_INT(xp_dominfo(&st, dom, &i), ==, 0);
		if (i.grants_active == want->grants_active && i.maps_active == want->maps_active &&
		    i.ports_bound == want->ports_bound)
			return;
		if (xp_now_ms() > end)
			CHECK_FAIL("dom%d: grants %u maps %u ports %u, want %u %u %u", dom,
			           i.grants_active, i.maps_active, i.ports_bound,
			           want->grants_active, want->maps_active, want->ports_bound);
	}
}

static void test_backend(void)
{
	struct xvio_sim_dominfo g1, d0, d0_end;
	struct xs_handle *xs0;
	struct xp_proc be, fe;
	struct xp_dev d;
	char line[512];
	unsigned long long fds1, maps1;
	int dom;

	simtest_start(&st, NULL);
	dom = xp_guest(&st);
	xs0 = xp_xs(&st, 0);
	xp_make_device(xs0, dom, 1, &d);
	start_back(&be);
	start_front(&fe, dom, "400000");
	connected(&fe, 1, line, sizeof(line));
	fds1 = xp_field(line, "fds");
	maps1 = xp_field(line, "maps");
	xp_expect(&fe, "progress", NULL, 0, XP_TIMEOUT_MS);
	CHECK_INT(xp_dominfo(&st, dom, &g1), ==, 0);
	CHECK_INT(xp_dominfo(&st, 0, &d0), ==, 0);
	for (unsigned i = 2; i <= 21; i++) {
		xp_expect(&fe, "progress", NULL, 0, XP_TIMEOUT_MS);
		xp_kill(&be);
		start_back(&be);
		connected(&fe, i, line, sizeof(line));
		CHECK_INT(xp_field(line, "fds"), ==, fds1);
		CHECK_INT(xp_field(line, "maps"), ==, maps1);
	}
	xp_expect(&fe, "done", line, sizeof(line), 120000);
	fprintf(stderr, "%s\n", line);
	CHECK_INT(xp_field(line, "completed"), ==, 400000);
	CHECK_INT(xp_field(line, "errors"), ==, 0);
	CHECK_INT(xp_field(line, "dups"), ==, 0);
	CHECK_INT(xp_field(line, "sessions"), ==, 21);
	xp_wait_connected(xs0, &d);
	wait_counts(dom, &g1);
	/* dom0: the live backend's two ports, as in the first session. */
	CHECK_INT(xp_dominfo(&st, 0, &d0_end), ==, 0);
	CHECK_INT(d0_end.ports_bound, ==, d0.ports_bound);
	CHECK_INT(xp_term(&fe), ==, 0);
	CHECK_INT(xp_term(&be), ==, 0);
	xs_close(xs0);
	simtest_stop(&st);
}

static void test_frontend(void)
{
	struct xvio_sim_dominfo g1;
	struct xs_handle *xs0;
	struct xp_proc be, fe;
	struct xp_dev d;
	char line[512];
	int fds1, maps1, dom;

	simtest_start(&st, NULL);
	dom = xp_guest(&st);
	xs0 = xp_xs(&st, 0);
	xp_make_device(xs0, dom, 1, &d);
	start_back(&be);
	start_front(&fe, dom, "1000000000");
	connected(&fe, 1, line, sizeof(line));
	xp_expect(&fe, "progress", NULL, 0, XP_TIMEOUT_MS);
	fds1 = xp_fds(be.pid);
	maps1 = xp_maps(be.pid);
	CHECK_INT(xp_dominfo(&st, dom, &g1), ==, 0);
	for (unsigned i = 0; i < 10; i++) {
		xp_kill(&fe);
		start_front(&fe, dom, i < 9 ? "1000000000" : "100000");
		connected(&fe, 1, line, sizeof(line));
		xp_expect(&fe, "progress", NULL, 0, XP_TIMEOUT_MS);
		/* The backend serves the new session with what it had for
		 * the first: the dead ones were unmapped and unbound. */
		CHECK_INT(xp_fds(be.pid), ==, fds1);
		CHECK_INT(xp_maps(be.pid), ==, maps1);
		wait_counts(dom, &g1);
	}
	xp_expect(&fe, "done", line, sizeof(line), 60000);
	CHECK_INT(xp_field(line, "completed"), ==, 100000);
	CHECK_INT(xp_field(line, "errors"), ==, 0);
	CHECK_INT(xp_field(line, "dups"), ==, 0);
	CHECK_INT(xp_term(&fe), ==, 0);
	CHECK_INT(xp_term(&be), ==, 0);
	xs_close(xs0);
	simtest_stop(&st);
}

int main(int argc, char **argv)
{
	static const struct check_case cases[] = {
		{ "backend", test_backend },
		{ "frontend", test_frontend },
	};

	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
