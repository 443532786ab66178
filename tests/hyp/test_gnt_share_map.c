/* SPDX-License-Identifier: MIT */
/*
 * Grants between two processes in two domains: what one writes in a share
 * the other reads through its map, and back; pages keep their order; fresh
 * pages are zero; the mapping sits between guard pages; dom0 can share
 * too; one map may take refs of several domains.
 */
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hyptest.h"

#define PAGES 3

static struct simtest st;
static struct ht_pipe pp;
static int dom_a, dom_b;

struct grant_msg {
	xvio_domid_t domid;
	unsigned count;
	xvio_gref_t refs[PAGES];
};

static void fill(void *addr, unsigned pages, unsigned char seed)
{
	for (unsigned i = 0; i < pages; i++)
		memset((char *)addr + i * XVIO_PAGE_SIZE, seed + i, XVIO_PAGE_SIZE);
}

static bool filled(const void *addr, unsigned pages, unsigned char seed)
{
	for (unsigned i = 0; i < pages; i++) {
		const unsigned char *p = (const unsigned char *)addr + i * XVIO_PAGE_SIZE;

		for (unsigned j = 0; j < XVIO_PAGE_SIZE; j++) {
			if (p[j] != (unsigned char)(seed + i))
				return false;
		}
	}
	return true;
}

static bool zeroed(const void *addr, unsigned pages)
{
	const unsigned char *p = addr;

	for (size_t j = 0; j < (size_t)pages * XVIO_PAGE_SIZE; j++) {
		if (p[j])
			return false;
	}
	return true;
}

/* ---- case: rw share and map, writes visible both ways ---- */

static int granter_rw(void *arg)
{
	int fd = ht_pipe_side(&pp, 0);
	struct xvio_plat *p = ht_open();
	struct grant_msg msg = { .count = PAGES };
	struct xvio_gnt_share *s;
	void *addr;

	CHECK_RET(xvio_plat_self_domid(p, &msg.domid), 0);
	CHECK_INT(msg.domid, ==, dom_a);
	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_b, PAGES, true, msg.refs, &addr, &s), 0);
	CHECK(zeroed(addr, PAGES));             /* fresh pages are zero */
	fill(addr, PAGES, 0x10);
	ht_put(fd, &msg, sizeof(msg));
	CHECK_INT(ht_get_int(fd), ==, 1);       /* the mapper wrote its answer */
	CHECK(filled(addr, PAGES, 0x40));
	CHECK_INT(ht_get_int(fd), ==, 2);       /* the mapper unmapped */
	CHECK_RET(xvio_gnt_share_end(s), 0);
	xvio_plat_close(p);
	return 0;
}

static int mapper_rw(void *arg)
{
	int fd = ht_pipe_side(&pp, 1);
	struct xvio_plat *p = ht_open();
	struct grant_msg msg;
	struct xvio_gnt_map *m;
	void *addr;

	ht_get(fd, &msg, sizeof(msg));
	CHECK_RET(xvio_gnt_map_domain(p, msg.domid, msg.count, msg.refs, true, &addr, &m), 0);
	CHECK(filled(addr, PAGES, 0x10));       /* page order kept */
	/* Guard pages: one before, one after. */
	CHECK(ht_readable(addr, PAGES * XVIO_PAGE_SIZE));
	CHECK(!ht_readable((char *)addr - 1, 1));
	CHECK(!ht_readable((char *)addr + PAGES * XVIO_PAGE_SIZE, 1));
	fill(addr, PAGES, 0x40);
	ht_put_int(fd, 1);
	CHECK_RET(xvio_gnt_unmap(m), 0);
	ht_put_int(fd, 2);
	xvio_plat_close(p);
	return 0;
}

static void case_rw(void)
{
	pid_t a, b;

	ht_pipe_init(&pp);
	a = simtest_spawn(&st, dom_a, granter_rw, NULL);
	b = simtest_spawn(&st, dom_b, mapper_rw, NULL);
	ht_pipe_close(&pp);
	CHECK_INT(simtest_wait(a, 30), ==, 0);
	CHECK_INT(simtest_wait(b, 30), ==, 0);
}

/* ---- case: pages handed out again are zero ---- */

static int reuse_zero(void *arg)
{
	struct xvio_plat *p = ht_open();
	xvio_gref_t refs[8];
	struct xvio_gnt_share *s;
	void *addr;

	for (int round = 0; round < 3; round++) {
		CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_b, 8, true, refs, &addr, &s), 0);
		CHECK(zeroed(addr, 8));
		memset(addr, 0xa5, 8 * XVIO_PAGE_SIZE);
		CHECK_RET(xvio_gnt_share_end(s), 0);
	}
	xvio_plat_close(p);
	return 0;
}

/* ---- case: an overrun past the map faults ---- */

static xvio_gref_t overrun_ref;

static void overrun_child(void *arg)
{
	volatile char *addr;
	struct xvio_gnt_map *m;
	struct xvio_plat *p;
	void *a;

	simtest_enter(&st, dom_b);
	p = ht_open();
	if (xvio_gnt_map_domain(p, (xvio_domid_t)dom_a, 1, &overrun_ref, true, &a, &m) != 0)
		_exit(3);
	addr = a;
	addr[0] = 1;                    /* inside: fine */
	if (arg)
		addr[XVIO_PAGE_SIZE] = 1;   /* one byte past the end */
	_exit(0);
}

static int overrun_granter(void *arg)
{
	int fd = ht_pipe_side(&pp, 0);
	struct xvio_plat *p = ht_open();
	struct xvio_gnt_share *s;
	xvio_gref_t ref;
	void *addr;

	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_b, 1, true, &ref, &addr, &s), 0);
	ht_put_int(fd, (int)ref);
	CHECK_INT(ht_get_int(fd), ==, 1);
	xvio_plat_close(p);
	return 0;
}

static void case_overrun(void)
{
	int status;
	pid_t a;

	ht_pipe_init(&pp);
	a = simtest_spawn(&st, dom_a, overrun_granter, NULL);
	overrun_ref = (xvio_gref_t)ht_get_int(pp.fd[1]);
	/* Control: the same child without the overrun exits cleanly. */
	CHECK_INT(ht_run_for_signal(overrun_child, NULL, &status), ==, 0);
	CHECK_INT(status, ==, 0);
	CHECK_INT(ht_run_for_signal(overrun_child, (void *)1, &status), ==, SIGSEGV);
	ht_put_int(pp.fd[1], 1);
	ht_pipe_close(&pp);
	CHECK_INT(simtest_wait(a, 30), ==, 0);
}

/* ---- case: dom0 shares, a guest maps; one map over two domains ---- */

static int dom0_granter(void *arg)
{
	int fd = ht_pipe_side(&pp, 0);
	struct xvio_plat *p = ht_open();
	struct grant_msg msg = { .domid = 0, .count = 1 };
	struct xvio_gnt_share *s;
	void *addr;

	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_b, 1, false, msg.refs, &addr, &s), 0);
	fill(addr, 1, 0x70);
	ht_put(fd, &msg, sizeof(msg));
	CHECK_INT(ht_get_int(fd), ==, 1);
	CHECK_RET(xvio_gnt_share_end(s), 0);
	xvio_plat_close(p);
	return 0;
}

static int domA_granter(void *arg)
{
	int fd = ht_pipe_side(&pp, 0);
	struct xvio_plat *p = ht_open();
	struct grant_msg msg = { .domid = (xvio_domid_t)dom_a, .count = 2 };
	struct xvio_gnt_share *s;
	void *addr;

	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_b, 2, false, msg.refs, &addr, &s), 0);
	fill(addr, 2, 0x80);
	ht_put(fd, &msg, sizeof(msg));
	CHECK_INT(ht_get_int(fd), ==, 1);
	CHECK_RET(xvio_gnt_share_end(s), 0);
	xvio_plat_close(p);
	return 0;
}

static int mixed_mapper(void *arg)
{
	int *fds = arg;
	struct xvio_plat *p = ht_open();
	struct grant_msg m0, ma;
	xvio_domid_t domids[3];
	xvio_gref_t refs[3];
	struct xvio_gnt_map *m;
	unsigned char *addr;
	void *a;

	ht_get(fds[0], &m0, sizeof(m0));
	ht_get(fds[1], &ma, sizeof(ma));
	/* dom A page 1, dom0 page 0, dom A page 0 */
	domids[0] = ma.domid, refs[0] = ma.refs[1];
	domids[1] = m0.domid, refs[1] = m0.refs[0];
	domids[2] = ma.domid, refs[2] = ma.refs[0];
	CHECK_RET(xvio_gnt_map(p, 3, domids, refs, false, &a, &m), 0);
	addr = a;
	CHECK_INT(addr[0], ==, 0x81);
	CHECK_INT(addr[XVIO_PAGE_SIZE + 17], ==, 0x70);
	CHECK_INT(addr[2 * XVIO_PAGE_SIZE + 4095], ==, 0x80);
	CHECK_RET(xvio_gnt_unmap(m), 0);
	ht_put_int(fds[0], 1);
	ht_put_int(fds[1], 1);
	xvio_plat_close(p);
	return 0;
}

static void case_mixed(void)
{
	struct ht_pipe p0, pa;
	int fds[2];
	pid_t g0, ga, mb;

	ht_pipe_init(&p0);
	ht_pipe_init(&pa);
	pp = p0;
	g0 = simtest_spawn(&st, 0, dom0_granter, NULL);
	pp = pa;
	ga = simtest_spawn(&st, dom_a, domA_granter, NULL);
	fds[0] = p0.fd[1];
	fds[1] = pa.fd[1];
	mb = simtest_spawn(&st, dom_b, mixed_mapper, fds);
	ht_pipe_close(&p0);
	ht_pipe_close(&pa);
	CHECK_INT(simtest_wait(g0, 30), ==, 0);
	CHECK_INT(simtest_wait(ga, 30), ==, 0);
	CHECK_INT(simtest_wait(mb, 30), ==, 0);
}

int main(void)
{
	simtest_start(&st, NULL);
	dom_a = ht_domain(&st, 16, 0);
	dom_b = ht_domain(&st, 16, 0);

	case_rw();
	CHECK_INT(simtest_wait(simtest_spawn(&st, dom_a, reuse_zero, NULL), 30), ==, 0);
	case_overrun();
	case_mixed();

	simtest_stop(&st);
	return 0;
}
