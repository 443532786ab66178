/* SPDX-License-Identifier: MIT */
/*
 * The client leaves nothing behind: after closing the handles, this
 * process has the same fds and mappings as before (counted in /proc/self),
 * whether everything was released explicitly or left to close; failed
 * calls leak nothing either; and the daemon's counters for the domain
 * return to zero.
 */
#include <stdlib.h>
#include <unistd.h>

#include "hyptest.h"

static struct simtest st;
static int dom_a;

/* Use every kind of object.  If `release`, free each explicitly. */
static void round_trip(bool release)
{
	struct xvio_plat *p = ht_open();
	struct xvio_evtchn *e, *e2;
	struct xvio_gnt_share *s1, *s2;
	struct xvio_gnt_map *m;
	xvio_gref_t r1[3], r2[2];
	void *a1, *a2, *am;
	int p1, p2, p3;

	CHECK_RET(xvio_evtchn_open(p, &e), 0);
	CHECK_RET(xvio_evtchn_open(p, &e2), 0);
	p1 = xvio_evtchn_alloc_unbound(e, (xvio_domid_t)dom_a);
	p2 = xvio_evtchn_alloc_unbound(e, 0);
	CHECK(p1 > 0 && p2 > 0);
	p3 = xvio_evtchn_bind_interdomain(e2, (xvio_domid_t)dom_a, (xvio_port_t)p1);
	CHECK(p3 > 0);
	CHECK_RET(xvio_evtchn_notify(e, (xvio_port_t)p1), 0);
	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_a, 3, true, r1, &a1, &s1), 0);
	CHECK_RET(xvio_gnt_share(p, 0, 2, false, r2, &a2, &s2), 0);
	CHECK_RET(xvio_gnt_map_domain(p, (xvio_domid_t)dom_a, 3, r1, true, &am, &m), 0);
	memset(a1, 0x11, 3 * XVIO_PAGE_SIZE);
	CHECK_INT(((unsigned char *)am)[2 * XVIO_PAGE_SIZE], ==, 0x11);
	if (release) {
		CHECK_RET(xvio_gnt_unmap(m), 0);
		CHECK_RET(xvio_gnt_share_end(s1), 0);
		xvio_gnt_share_abandon(s2);
		CHECK_RET(xvio_evtchn_unbind(e2, (xvio_port_t)p3), 0);
		CHECK_RET(xvio_evtchn_unbind(e, (xvio_port_t)p1), 0);
		CHECK_RET(xvio_evtchn_unbind(e, (xvio_port_t)p2), 0);
	}
	xvio_evtchn_close(e2);
	xvio_evtchn_close(e);
	xvio_plat_close(p);
}

/* Calls that fail must leave nothing either. */
static void failures(void)
{
	struct xvio_plat *p = ht_open();
	struct xvio_evtchn *e;
	struct xvio_gnt_share *s;
	struct xvio_gnt_map *m;
	xvio_gref_t ref = 12345, refs[1024];
	char *saved;
	void *a;

	CHECK_RET(xvio_gnt_map_domain(p, (xvio_domid_t)dom_a, 1, &ref, false, &a, &m), -EINVAL);
	CHECK_RET(xvio_gnt_map_domain(p, 4321, 1, &ref, false, &a, &m), -ESRCH);
	/* 16 MiB is 4096 pages: the fifth full batch does not fit. */
	{
		struct xvio_gnt_share *ss[4];

		for (int i = 0; i < 4; i++)
			CHECK_RET(xvio_gnt_share(p, 0, 1024, true, refs, &a, &ss[i]), 0);
		CHECK_RET(xvio_gnt_share(p, 0, 1, true, refs, &a, &s), -ENOMEM);
		for (int i = 0; i < 4; i++)
			CHECK_RET(xvio_gnt_share_end(ss[i]), 0);
	}
	CHECK_RET(xvio_evtchn_open(p, &e), 0);
	CHECK_RET(xvio_evtchn_alloc_unbound(e, 4321), -ESRCH);
	CHECK_RET(xvio_evtchn_bind_interdomain(e, 0, 1000), -EINVAL);
	xvio_evtchn_close(e);
	xvio_plat_close(p);

	/* No simulator at the path. */
	saved = strdup(getenv("XVIO_SIM_HYP"));
	CHECK(saved != NULL);
	setenv("XVIO_SIM_HYP", "/nonexistent/hyp.sock", 1);
	CHECK_RET(xvio_plat_open("sim", &p), -ENOENT);
	unsetenv("XVIO_SIM_HYP");
	CHECK_RET(xvio_plat_open("sim", &p), -ENOENT);
	setenv("XVIO_SIM_HYP", saved, 1);
	free(saved);
}

static int child(void *arg)
{
	int fds, maps;

	/* Warm up whatever libc and the sanitizers map once (allocator
	 * regions per size class, for instance). */
	round_trip(true);
	failures();
	fds = ht_count_fds();
	maps = ht_count_maps();

	round_trip(true);
	CHECK_INT(ht_count_fds(), ==, fds);
	CHECK_INT(ht_count_maps(), ==, maps);

	round_trip(false);
	CHECK_INT(ht_count_fds(), ==, fds);
	CHECK_INT(ht_count_maps(), ==, maps);

	failures();
	CHECK_INT(ht_count_fds(), ==, fds);
	CHECK_INT(ht_count_maps(), ==, maps);
	return 0;
}

static bool clean(int err, const struct xvio_sim_dominfo *i, long n)
{
	return err == 0 && i->grants_active == 0 && i->maps_active == 0 && i->ports_bound == 0;
}

int main(void)
{
	simtest_start(&st, NULL);
	dom_a = ht_domain(&st, 16, 0);
	CHECK_INT(simtest_wait(simtest_spawn(&st, dom_a, child, NULL), 60), ==, 0);
	CHECK(ht_wait_info(&st, dom_a, clean, 0));
	CHECK(ht_wait_info(&st, 0, clean, 0));
	simtest_stop(&st);
	return 0;
}
