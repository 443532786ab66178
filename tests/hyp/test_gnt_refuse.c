/* SPDX-License-Identifier: MIT */
/*
 * Maps that must be refused, each changing nothing: a ref never granted,
 * a reserved ref, a ref granted to another domain, an ended ref, an
 * unknown domain; a batch with one bad entry maps nothing (all or
 * nothing); dom0's privilege does not let it map a grant meant for
 * someone else; the granter cannot map its own grant to another domain.
 */
#include <unistd.h>

#include "hyptest.h"

static struct simtest st;
static int dom_a, dom_b, dom_c;

struct refs {
	xvio_gref_t to_b, to_b2, to_c, ended;
};

static int granter(void *arg)
{
	struct ht_pipe *pp = arg;
	int fd = ht_pipe_side(pp, 0);
	struct xvio_plat *p = ht_open();
	struct xvio_gnt_share *sb, *sb2, *sc, *se;
	struct refs r;
	void *addr;

	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_b, 1, true, &r.to_b, &addr, &sb), 0);
	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_b, 1, true, &r.to_b2, &addr, &sb2), 0);
	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_c, 1, true, &r.to_c, &addr, &sc), 0);
	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_b, 1, true, &r.ended, &addr, &se), 0);
	CHECK_RET(xvio_gnt_share_end(se), 0);
	/* Refs are distinct and never the reserved ones. */
	CHECK(r.to_b >= XVIO_SIM_FIRST_REF && r.to_c >= XVIO_SIM_FIRST_REF);
	CHECK(r.to_b != r.to_b2 && r.to_b != r.to_c && r.to_b != r.ended);
	/* The granter itself is not the grantee. */
	{
		struct xvio_gnt_map *m;

		CHECK_RET(xvio_gnt_map_domain(p, (xvio_domid_t)dom_a, 1, &r.to_b, false, &addr, &m),
		          -EINVAL);
	}
	ht_put(fd, &r, sizeof(r));
	CHECK_INT(ht_get_int(fd), ==, 1);
	xvio_plat_close(p);
	return 0;
}

static bool maps_are(int err, const struct xvio_sim_dominfo *i, long n)
{
	return err == 0 && i->maps_active == (uint32_t)n;
}

static void refused(struct xvio_plat *p, xvio_domid_t dom, xvio_gref_t ref, bool writable,
                    int err)
{
	struct xvio_gnt_map *m = NULL;
	void *addr = NULL;
	int before = ht_count_maps();

	CHECK_RET(xvio_gnt_map_domain(p, dom, 1, &ref, writable, &addr, &m), err);
	CHECK(m == NULL && addr == NULL);
	CHECK_INT(ht_count_maps(), ==, before);
}

static int grantee_b(void *arg)
{
	const struct refs *r = arg;
	struct xvio_plat *p = ht_open();
	xvio_domid_t doms[3] = { (xvio_domid_t)dom_a, (xvio_domid_t)dom_a, (xvio_domid_t)dom_a };
	xvio_gref_t refs[3] = { r->to_b, r->to_b2, r->to_c };
	struct xvio_gnt_map *m = NULL;
	void *addr = NULL;

	refused(p, (xvio_domid_t)dom_a, 12345, false, -EINVAL);         /* never granted */
	refused(p, (xvio_domid_t)dom_a, 0, false, -EINVAL);             /* reserved */
	refused(p, (xvio_domid_t)dom_a, XVIO_SIM_MAX_GRANTS, false, -EINVAL);
	refused(p, (xvio_domid_t)dom_a, 0xffffffffu, false, -EINVAL);
	refused(p, (xvio_domid_t)dom_a, r->to_c, false, -EINVAL);       /* someone else's */
	refused(p, (xvio_domid_t)dom_a, r->ended, false, -EINVAL);      /* ended */
	refused(p, 4321, r->to_b, false, -ESRCH);                        /* no such domain */
	refused(p, 0x7ff0, r->to_b, false, -ESRCH);                      /* DOMID_SELF etc. */

	/* All or nothing: two good refs and one bad one map nothing. */
	CHECK_RET(xvio_gnt_map(p, 3, doms, refs, false, &addr, &m), -EINVAL);
	CHECK(m == NULL);
	{
		struct xvio_sim_dominfo i;

		CHECK_RET(ht_info(&st, dom_a, &i), 0);
		CHECK_INT(i.maps_active, ==, 0);
	}
	/* Unknown domain anywhere in the batch: -ESRCH, nothing mapped. */
	doms[2] = 4321;
	refs[2] = r->to_b;
	CHECK_RET(xvio_gnt_map(p, 3, doms, refs, false, &addr, &m), -ESRCH);
	CHECK(ht_wait_info(&st, dom_a, maps_are, 0));

	/* The good ones alone map, and count. */
	CHECK_RET(xvio_gnt_map(p, 2, doms, refs, false, &addr, &m), 0);
	CHECK(ht_wait_info(&st, dom_a, maps_are, 2));
	CHECK_RET(xvio_gnt_unmap(m), 0);
	CHECK(ht_wait_info(&st, dom_a, maps_are, 0));
	xvio_plat_close(p);
	return 0;
}

/* dom0 may do much, but not map a grant made out to B. */
static int dom0_mapper(void *arg)
{
	const struct refs *r = arg;
	struct xvio_plat *p = ht_open();

	refused(p, (xvio_domid_t)dom_a, r->to_b, false, -EINVAL);
	xvio_plat_close(p);
	return 0;
}

int main(void)
{
	struct ht_pipe pp;
	struct refs r;
	pid_t a;

	simtest_start(&st, NULL);
	dom_a = ht_domain(&st, 16, 0);
	dom_b = ht_domain(&st, 16, 0);
	dom_c = ht_domain(&st, 16, 0);
	ht_pipe_init(&pp);
	a = simtest_spawn(&st, dom_a, granter, &pp);
	ht_get(pp.fd[1], &r, sizeof(r));

	CHECK_INT(simtest_wait(simtest_spawn(&st, dom_b, grantee_b, &r), 30), ==, 0);
	CHECK_INT(simtest_wait(simtest_spawn(&st, 0, dom0_mapper, &r), 30), ==, 0);

	ht_put_int(pp.fd[1], 1);
	ht_pipe_close(&pp);
	CHECK_INT(simtest_wait(a, 30), ==, 0);
	simtest_stop(&st);
	return 0;
}
