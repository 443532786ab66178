/* SPDX-License-Identifier: MIT */
/*
 * Memory accounting and balloon operations: tot_pages and max_pages of a
 * new domain; decrease_reservation and populate_physmap by gfn, all or
 * nothing (unpopulated, out of range, duplicated or granted gfns:
 * -EINVAL; populating past max_pages: -ENOMEM); set_maxmem, including
 * below tot_pages; who may do what (dom0 on anyone; a guest on itself,
 * except set_maxmem; nobody on a missing domain).
 */
#include <unistd.h>

#include "hyptest.h"

static struct simtest st;
static int dom_a, dom_b;

#define MEM_PAGES (16u * 256)   /* memory = 16 MiB */
#define MAX_PAGES (32u * 256)   /* maxmem = 32 MiB */

static void info(struct xvio_plat *p, int domid, uint64_t tot, uint64_t max)
{
	struct xvio_dominfo i;

	CHECK_RET(xvio_dom_info(p, (xvio_domid_t)domid, &i), 0);
	CHECK_INT(i.domid, ==, domid);
	CHECK(!i.dying && !i.shutdown);
	CHECK_INT(i.tot_pages, ==, tot);
	CHECK_INT(i.max_pages, ==, max);
}

static int dec(struct xvio_plat *p, int domid, unsigned n, const uint64_t *g)
{
	return xvio_dom_decrease_reservation(p, (xvio_domid_t)domid, n, g);
}

static int pop(struct xvio_plat *p, int domid, unsigned n, const uint64_t *g)
{
	return xvio_dom_populate_physmap(p, (xvio_domid_t)domid, n, g);
}

/* dom0 acting on A. */
static int as_dom0(void *arg)
{
	uint64_t granted_gfn = *(uint64_t *)arg;
	struct xvio_plat *p = ht_open();
	uint64_t g[4];
	unsigned tot = MEM_PAGES;

	info(p, dom_a, MEM_PAGES, MAX_PAGES);

	g[0] = 100, g[1] = 101;
	CHECK_RET(dec(p, dom_a, 2, g), 0);
	info(p, dom_a, tot -= 2, MAX_PAGES);
	/* Each of these fails and changes nothing. */
	CHECK_RET(dec(p, dom_a, 1, g), -EINVAL);                 /* not populated */
	g[0] = 102, g[1] = 100;
	CHECK_RET(dec(p, dom_a, 2, g), -EINVAL);                 /* one bad in the batch */
	g[0] = 103, g[1] = 103;
	CHECK_RET(dec(p, dom_a, 2, g), -EINVAL);                 /* duplicate */
	g[0] = MAX_PAGES, g[1] = UINT64_MAX;
	CHECK_RET(dec(p, dom_a, 1, &g[0]), -EINVAL);             /* beyond the space */
	CHECK_RET(dec(p, dom_a, 1, &g[1]), -EINVAL);
	CHECK_RET(dec(p, dom_a, 1, &granted_gfn), -EINVAL);      /* granted */
	info(p, dom_a, tot, MAX_PAGES);
	g[0] = 102, g[1] = 103;
	CHECK_RET(dec(p, dom_a, 2, g), 0);                       /* they were untouched */
	info(p, dom_a, tot -= 2, MAX_PAGES);

	/* Populate back; again all or nothing. */
	g[0] = 100, g[1] = 5;
	CHECK_RET(pop(p, dom_a, 2, g), -EINVAL);                 /* 5 is populated */
	g[0] = 100, g[1] = 100;
	CHECK_RET(pop(p, dom_a, 2, g), -EINVAL);                 /* duplicate */
	g[0] = 100, g[1] = 101;
	CHECK_RET(pop(p, dom_a, 2, g), 0);
	info(p, dom_a, tot += 2, MAX_PAGES);
	/* Pages beyond `memory` but within maxmem can be populated. */
	g[0] = MEM_PAGES, g[1] = MAX_PAGES - 1;
	CHECK_RET(pop(p, dom_a, 2, g), 0);
	info(p, dom_a, tot += 2, MAX_PAGES);

	/* Ceiling: lower it to tot_pages, populate fails, raise it again. */
	CHECK_RET(xvio_dom_set_maxmem(p, (xvio_domid_t)dom_a, (uint64_t)tot * 4), 0);
	info(p, dom_a, tot, tot);
	g[0] = 102;
	CHECK_RET(pop(p, dom_a, 1, g), -ENOMEM);
	/* Below tot_pages is allowed (Xen ratchets down). */
	CHECK_RET(xvio_dom_set_maxmem(p, (xvio_domid_t)dom_a, (uint64_t)(tot - 10) * 4), 0);
	info(p, dom_a, tot, tot - 10);
	CHECK_RET(xvio_dom_set_maxmem(p, (xvio_domid_t)dom_a, (uint64_t)MAX_PAGES * 4), 0);
	CHECK_RET(pop(p, dom_a, 1, g), 0);
	info(p, dom_a, tot += 1, MAX_PAGES);
	/* Raising maxmem past the old space makes room for new gfns. */
	CHECK_RET(xvio_dom_set_maxmem(p, (xvio_domid_t)dom_a, (uint64_t)MAX_PAGES * 8), 0);
	g[0] = MAX_PAGES + 10;
	CHECK_RET(pop(p, dom_a, 1, g), 0);
	info(p, dom_a, tot += 1, MAX_PAGES * 2);
	CHECK_RET(dec(p, dom_a, 1, g), 0);
	CHECK_RET(xvio_dom_set_maxmem(p, (xvio_domid_t)dom_a, (uint64_t)MAX_PAGES * 4), 0);
	info(p, dom_a, tot -= 1, MAX_PAGES);

	/* Missing domains. */
	CHECK_RET(dec(p, 4321, 1, g), -ESRCH);
	CHECK_RET(pop(p, 4321, 1, g), -ESRCH);
	CHECK_RET(xvio_dom_set_maxmem(p, 4321, 1024), -ESRCH);
	{
		struct xvio_dominfo i;

		CHECK_RET(xvio_dom_info(p, 4321, &i), -ESRCH);
	}
	xvio_plat_close(p);
	return 0;
}

/* A guest on itself and on others. */
static int as_guest(void *arg)
{
	struct xvio_plat *p = ht_open();
	struct xvio_dominfo i;
	uint64_t g = 200;

	CHECK_RET(xvio_dom_info(p, (xvio_domid_t)dom_b, &i), 0);
	CHECK_INT(i.tot_pages, ==, MEM_PAGES);
	CHECK_RET(dec(p, dom_b, 1, &g), 0);                 /* itself: allowed */
	CHECK_RET(xvio_dom_info(p, (xvio_domid_t)dom_b, &i), 0);
	CHECK_INT(i.tot_pages, ==, MEM_PAGES - 1);
	CHECK_RET(pop(p, dom_b, 1, &g), 0);
	CHECK_RET(dec(p, 0x7ff0 /* DOMID_SELF */, 1, &g), 0);
	CHECK_RET(pop(p, 0x7ff0, 1, &g), 0);
	CHECK_RET(xvio_dom_info(p, (xvio_domid_t)dom_b, &i), 0);
	CHECK_INT(i.tot_pages, ==, MEM_PAGES);
	/* Not on others, and no set_maxmem at all (a domctl on Xen). */
	CHECK_RET(dec(p, dom_a, 1, &g), -EPERM);
	CHECK_RET(pop(p, dom_a, 1, &g), -EPERM);
	CHECK_RET(dec(p, 0, 1, &g), -EPERM);
	CHECK_RET(xvio_dom_info(p, (xvio_domid_t)dom_a, &i), -EPERM);
	CHECK_RET(xvio_dom_info(p, 0, &i), -EPERM);
	CHECK_RET(xvio_dom_set_maxmem(p, (xvio_domid_t)dom_b, 1u << 20), -EPERM);
	CHECK_RET(xvio_dom_set_maxmem(p, (xvio_domid_t)dom_a, 1u << 20), -EPERM);
	xvio_plat_close(p);
	return 0;
}

/* A's pages in use cannot be ballooned out: grant one (through the raw
 * protocol, to learn its gfn) and keep it while dom0 tries. */
static int granter(void *arg)
{
	struct ht_pipe *pp = arg;
	int fd = ht_pipe_side(pp, 0);
	int hfd = ht_raw_connect(&st, dom_a);
	struct xvio_sim_req req = { .op = XVIO_SIM_OP_GNT_SHARE, .count = 1,
	                            .domid = (uint16_t)dom_b };
	static struct ht_reply r;
	struct xvio_sim_page pg;

	CHECK_RET(ht_raw_call(hfd, &req, NULL, 0, &r), 0);
	CHECK_INT(r.len, ==, sizeof(pg));
	memcpy(&pg, r.payload, sizeof(pg));
	ht_reply_close(&r);
	ht_put(fd, &pg.gfn, sizeof(pg.gfn));
	CHECK_INT(ht_get_int(fd), ==, 1);
	close(hfd);
	return 0;
}

int main(void)
{
	struct ht_pipe pp;
	uint64_t gfn;
	pid_t a;

	simtest_start(&st, NULL);
	dom_a = ht_domain(&st, 16, 32);
	dom_b = ht_domain(&st, 16, 0);
	ht_pipe_init(&pp);
	a = simtest_spawn(&st, dom_a, granter, &pp);
	ht_get(pp.fd[1], &gfn, sizeof(gfn));

	CHECK_INT(simtest_wait(simtest_spawn(&st, 0, as_dom0, &gfn), 30), ==, 0);
	CHECK_INT(simtest_wait(simtest_spawn(&st, dom_b, as_guest, NULL), 30), ==, 0);

	ht_put_int(pp.fd[1], 1);
	ht_pipe_close(&pp);
	CHECK_INT(simtest_wait(a, 30), ==, 0);
	simtest_stop(&st);
	return 0;
}
