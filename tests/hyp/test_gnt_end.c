/* SPDX-License-Identifier: MIT */
/*
 * Ending grants, as on Xen (and Linux's deferred end):
 *   end-busy          share_end while mapped: -EBUSY, nothing changes;
 *                     after the unmap it succeeds;
 *   abandon-deferred  abandon while mapped: the entries stay until the
 *                     peer unmaps, then go; no new map of them meanwhile;
 *   granter-dies      the granting process exits: its shares behave as
 *                     abandoned;
 *   mapper-dies       the mapping process exits: its maps are released,
 *                     so the granter can end.
 * Counts come from the daemon (grants_active, maps_active through dom0).
 */
#include <unistd.h>

#include "hyptest.h"

static struct simtest st;
static int dom_a, dom_b;

static bool grants_are(int err, const struct xvio_sim_dominfo *i, long n)
{
	return err == 0 && i->grants_active == (uint32_t)n;
}

static bool maps_are(int err, const struct xvio_sim_dominfo *i, long n)
{
	return err == 0 && i->maps_active == (uint32_t)n;
}

/* Mapper in B: map `count` refs received on fd, report 1, wait for a
 * command: 1 = check the byte then unmap, 2 = exit without unmapping. */
static int mapper(void *arg)
{
	struct ht_pipe *pp = arg;
	int fd = ht_pipe_side(pp, 1);
	struct xvio_plat *p = ht_open();
	xvio_gref_t refs[2];
	struct xvio_gnt_map *m;
	unsigned char *addr;
	void *a;
	int cmd;

	ht_get(fd, refs, sizeof(refs));
	CHECK_RET(xvio_gnt_map_domain(p, (xvio_domid_t)dom_a, 2, refs, true, &a, &m), 0);
	addr = a;
	ht_put_int(fd, 1);
	while ((cmd = ht_get_int(fd)) == 3) {
		/* 3: report the first byte (the granter's writes are seen) */
		ht_put_int(fd, addr[0]);
	}
	if (cmd == 2)
		_exit(0);   /* dies holding the mapping */
	CHECK_RET(xvio_gnt_unmap(m), 0);
	ht_put_int(fd, 1);
	xvio_plat_close(p);
	return 0;
}

static int case_end_busy(void *arg)
{
	struct ht_pipe *pp = arg;
	int fd = ht_pipe_side(pp, 0);
	struct xvio_plat *p = ht_open();
	struct xvio_gnt_share *s;
	xvio_gref_t refs[2];
	unsigned char *addr;
	void *a;

	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_b, 2, true, refs, &a, &s), 0);
	addr = a;
	ht_put(fd, refs, sizeof(refs));
	CHECK_INT(ht_get_int(fd), ==, 1);
	CHECK(ht_wait_info(&st, dom_a, maps_are, 2));
	CHECK_RET(xvio_gnt_share_end(s), -EBUSY);
	CHECK_RET(xvio_gnt_share_end(s), -EBUSY);
	/* Nothing changed: our mapping works and the peer still sees it. */
	addr[0] = 0x33;
	ht_put_int(fd, 3);
	CHECK_INT(ht_get_int(fd), ==, 0x33);
	CHECK(ht_wait_info(&st, dom_a, grants_are, 2));
	ht_put_int(fd, 1);
	CHECK_INT(ht_get_int(fd), ==, 1);
	CHECK_RET(xvio_gnt_share_end(s), 0);
	CHECK(ht_wait_info(&st, dom_a, grants_are, 0));
	xvio_plat_close(p);
	return 0;
}

static int case_abandon(void *arg)
{
	struct ht_pipe *pp = arg;
	int fd = ht_pipe_side(pp, 0);
	struct xvio_plat *p = ht_open();
	struct xvio_gnt_share *s;
	xvio_gref_t refs[2];
	unsigned char *addr;
	void *a;

	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_b, 2, true, refs, &a, &s), 0);
	addr = a;
	addr[0] = 0x44;
	ht_put(fd, refs, sizeof(refs));
	CHECK_INT(ht_get_int(fd), ==, 1);
	xvio_gnt_share_abandon(s);
	/* Still granted and mapped: the peer keeps its view. */
	CHECK(ht_wait_info(&st, dom_a, grants_are, 2));
	CHECK(ht_wait_info(&st, dom_a, maps_are, 2));
	ht_put_int(fd, 3);
	CHECK_INT(ht_get_int(fd), ==, 0x44);
	ht_put_int(fd, 1);
	CHECK_INT(ht_get_int(fd), ==, 1);
	/* The peer let go: the entries are ended now. */
	CHECK(ht_wait_info(&st, dom_a, grants_are, 0));
	xvio_plat_close(p);
	return 0;
}

/* A second grantee process tries to map an abandoned share. */
static int no_map_of_abandoned(void *arg)
{
	xvio_gref_t *refs = arg;
	struct xvio_plat *p = ht_open();
	struct xvio_gnt_map *m;
	void *a;

	CHECK_RET(xvio_gnt_map_domain(p, (xvio_domid_t)dom_a, 2, refs, false, &a, &m), -EINVAL);
	xvio_plat_close(p);
	return 0;
}

static int case_abandon_nomap(void *arg)
{
	struct ht_pipe *pp = arg;
	int fd = ht_pipe_side(pp, 0);
	struct xvio_plat *p = ht_open();
	struct xvio_gnt_share *s;
	xvio_gref_t refs[2];
	void *a;

	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_b, 2, true, refs, &a, &s), 0);
	ht_put(fd, refs, sizeof(refs));
	CHECK_INT(ht_get_int(fd), ==, 1);
	xvio_gnt_share_abandon(s);
	ht_put(fd, refs, sizeof(refs));    /* to the test, for the second grantee */
	CHECK_INT(ht_get_int(fd), ==, 9);  /* it tried */
	ht_put_int(fd, 1);
	CHECK_INT(ht_get_int(fd), ==, 1);
	CHECK(ht_wait_info(&st, dom_a, grants_are, 0));
	xvio_plat_close(p);
	return 0;
}

/* Granting process exits with its shares mapped. */
static int case_granter_dies(void *arg)
{
	struct ht_pipe *pp = arg;
	int fd = ht_pipe_side(pp, 0);
	struct xvio_plat *p = ht_open();
	struct xvio_gnt_share *s;
	xvio_gref_t refs[2];
	void *a;

	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_b, 2, true, refs, &a, &s), 0);
	memset(a, 0x55, 2 * XVIO_PAGE_SIZE);
	ht_put(fd, refs, sizeof(refs));
	CHECK_INT(ht_get_int(fd), ==, 1);
	_exit(0);
}

/* Mapping process exits holding its map; the granter then ends. */
static int case_mapper_dies(void *arg)
{
	struct ht_pipe *pp = arg;
	int fd = ht_pipe_side(pp, 0);
	struct xvio_plat *p = ht_open();
	struct xvio_gnt_share *s;
	xvio_gref_t refs[2];
	void *a;

	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_b, 2, true, refs, &a, &s), 0);
	ht_put(fd, refs, sizeof(refs));
	CHECK_INT(ht_get_int(fd), ==, 1);
	CHECK_RET(xvio_gnt_share_end(s), -EBUSY);
	ht_put_int(fd, 2);                  /* mapper: exit without unmapping */
	CHECK(ht_wait_info(&st, dom_a, maps_are, 0));
	CHECK_RET(xvio_gnt_share_end(s), 0);
	CHECK(ht_wait_info(&st, dom_a, grants_are, 0));
	xvio_plat_close(p);
	return 0;
}

/* Run granter fn in A and the mapper in B, connected by a pipe. */
static void run_pair(int (*fn)(void *), const char *name)
{
	struct ht_pipe pp;
	pid_t a, b;

	fprintf(stderr, "case %s\n", name);
	ht_pipe_init(&pp);
	a = simtest_spawn(&st, dom_a, fn, &pp);
	b = simtest_spawn(&st, dom_b, mapper, &pp);
	ht_pipe_close(&pp);
	CHECK_INT(simtest_wait(a, 30), ==, 0);
	CHECK_INT(simtest_wait(b, 30), ==, 0);
	CHECK(ht_wait_info(&st, dom_a, grants_are, 0));
	CHECK(ht_wait_info(&st, dom_a, maps_are, 0));
}

static void run_granter_dies(void)
{
	struct ht_pipe pp, pm;
	xvio_gref_t refs[2];
	pid_t a, b;

	fprintf(stderr, "case granter-dies\n");
	ht_pipe_init(&pp);
	ht_pipe_init(&pm);
	a = simtest_spawn(&st, dom_a, case_granter_dies, &pp);
	b = simtest_spawn(&st, dom_b, mapper, &pm);
	ht_get(pp.fd[1], refs, sizeof(refs));
	ht_put(pm.fd[0], refs, sizeof(refs));
	CHECK_INT(ht_get_int(pm.fd[0]), ==, 1);     /* mapped */
	ht_put_int(pp.fd[1], 1);
	CHECK_INT(simtest_wait(a, 30), ==, 0);      /* the granter is gone */
	CHECK(ht_wait_info(&st, dom_a, maps_are, 2));
	CHECK(ht_wait_info(&st, dom_a, grants_are, 2));
	ht_put_int(pm.fd[0], 3);
	CHECK_INT(ht_get_int(pm.fd[0]), ==, 0x55); /* still the same memory */
	ht_put_int(pm.fd[0], 1);
	CHECK_INT(ht_get_int(pm.fd[0]), ==, 1);
	CHECK(ht_wait_info(&st, dom_a, grants_are, 0));
	ht_pipe_close(&pp);
	ht_pipe_close(&pm);
	CHECK_INT(simtest_wait(b, 30), ==, 0);
}

static void run_abandon_nomap(void)
{
	struct ht_pipe pp, pm;
	xvio_gref_t refs[2];
	pid_t a, b;

	fprintf(stderr, "case abandon-no-new-map\n");
	ht_pipe_init(&pp);
	ht_pipe_init(&pm);
	a = simtest_spawn(&st, dom_a, case_abandon_nomap, &pp);
	b = simtest_spawn(&st, dom_b, mapper, &pm);
	ht_get(pp.fd[1], refs, sizeof(refs));
	ht_put(pm.fd[0], refs, sizeof(refs));
	CHECK_INT(ht_get_int(pm.fd[0]), ==, 1);
	ht_put_int(pp.fd[1], 1);
	ht_get(pp.fd[1], refs, sizeof(refs));
	CHECK_INT(simtest_wait(simtest_spawn(&st, dom_b, no_map_of_abandoned, refs), 30), ==, 0);
	ht_put_int(pp.fd[1], 9);
	CHECK_INT(ht_get_int(pp.fd[1]), ==, 1);
	ht_put_int(pm.fd[0], 1);                    /* mapper unmaps */
	CHECK_INT(ht_get_int(pm.fd[0]), ==, 1);
	ht_put_int(pp.fd[1], 1);
	CHECK_INT(simtest_wait(a, 30), ==, 0);
	ht_pipe_close(&pp);
	ht_pipe_close(&pm);
	CHECK_INT(simtest_wait(b, 30), ==, 0);
}

int main(void)
{
	simtest_start(&st, NULL);
	dom_a = ht_domain(&st, 16, 0);
	dom_b = ht_domain(&st, 16, 0);

	run_pair(case_end_busy, "end-busy");
	run_pair(case_abandon, "abandon-deferred");
	run_abandon_nomap();
	run_granter_dies();
	run_pair(case_mapper_dies, "mapper-dies");

	simtest_stop(&st);
	return 0;
}
