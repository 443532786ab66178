/* SPDX-License-Identifier: MIT */
/*
 * Read-only grants are really read-only: the grantee reads them, a write
 * through its mapping kills it with SIGSEGV, a writable map is refused
 * with -EACCES, and mprotect cannot make the mapping writable.  A writable
 * grant mapped read-only is read-only too.
 */
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hyptest.h"

static struct simtest st;
static int dom_a, dom_b;
static xvio_gref_t ro_ref, rw_ref;

enum action { READ_ONLY, WRITE, MPROTECT, WRITE_RW_GRANT_RO_MAP };

/* Runs in a fresh child of domain B: map, check the content, then act. */
static void grantee(void *arg)
{
	enum action act = (enum action)(long)arg;
	xvio_gref_t ref = act == WRITE_RW_GRANT_RO_MAP ? rw_ref : ro_ref;
	struct xvio_gnt_map *m;
	struct xvio_plat *p;
	volatile unsigned char *page;
	void *addr;

	simtest_enter(&st, dom_b);
	p = ht_open();
	if (xvio_gnt_map_domain(p, (xvio_domid_t)dom_a, 1, &ref, false, &addr, &m) != 0)
		_exit(3);
	page = addr;
	if (page[0] != 0x5a || page[XVIO_PAGE_SIZE - 1] != 0x5a)
		_exit(4);
	switch (act) {
	case READ_ONLY:
		break;
	case WRITE:
	case WRITE_RW_GRANT_RO_MAP:
		page[100] = 1;
		break;
	case MPROTECT:
		/* The fd behind it is read-only: the kernel says no. */
		if (mprotect(addr, XVIO_PAGE_SIZE, PROT_READ | PROT_WRITE) == 0)
			_exit(5);
		if (errno != EACCES)
			_exit(6);
		break;
	}
	if (xvio_gnt_unmap(m) != 0)
		_exit(7);
	xvio_plat_close(p);
	_exit(0);
}

static int granter(void *arg)
{
	struct ht_pipe *pp = arg;
	int fd = ht_pipe_side(pp, 0);
	struct xvio_plat *p = ht_open();
	struct xvio_gnt_share *s_ro, *s_rw;
	void *a_ro, *a_rw;

	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_b, 1, false, &ro_ref, &a_ro, &s_ro), 0);
	CHECK_RET(xvio_gnt_share(p, (xvio_domid_t)dom_b, 1, true, &rw_ref, &a_rw, &s_rw), 0);
	/* The granter's own view is writable either way. */
	memset(a_ro, 0x5a, XVIO_PAGE_SIZE);
	memset(a_rw, 0x5a, XVIO_PAGE_SIZE);
	ht_put_int(fd, (int)ro_ref);
	ht_put_int(fd, (int)rw_ref);
	CHECK_INT(ht_get_int(fd), ==, 1);
	/* Nothing the grantee did changed the page. */
	CHECK_INT(((unsigned char *)a_ro)[100], ==, 0x5a);
	CHECK_INT(((unsigned char *)a_rw)[100], ==, 0x5a);
	CHECK_RET(xvio_gnt_share_end(s_ro), 0);
	CHECK_RET(xvio_gnt_share_end(s_rw), 0);
	xvio_plat_close(p);
	return 0;
}

static int writable_map_refused(void *arg)
{
	struct xvio_plat *p = ht_open();
	struct xvio_gnt_map *m = NULL;
	void *addr = NULL;

	CHECK_RET(xvio_gnt_map_domain(p, (xvio_domid_t)dom_a, 1, &ro_ref, true, &addr, &m), -EACCES);
	CHECK(m == NULL);
	/* The writable grant maps writable. */
	CHECK_RET(xvio_gnt_map_domain(p, (xvio_domid_t)dom_a, 1, &rw_ref, true, &addr, &m), 0);
	((unsigned char *)addr)[200] = 0x5a;
	CHECK_RET(xvio_gnt_unmap(m), 0);
	xvio_plat_close(p);
	return 0;
}

int main(void)
{
	struct ht_pipe pp;
	int status;
	pid_t a;

	simtest_start(&st, NULL);
	dom_a = ht_domain(&st, 16, 0);
	dom_b = ht_domain(&st, 16, 0);
	ht_pipe_init(&pp);
	a = simtest_spawn(&st, dom_a, granter, &pp);
	ro_ref = (xvio_gref_t)ht_get_int(pp.fd[1]);
	rw_ref = (xvio_gref_t)ht_get_int(pp.fd[1]);

	/* Control: mapping and reading works and exits cleanly. */
	CHECK_INT(ht_run_for_signal(grantee, (void *)(long)READ_ONLY, &status), ==, 0);
	CHECK_INT(status, ==, 0);
	/* A write through the read-only mapping faults. */
	CHECK_INT(ht_run_for_signal(grantee, (void *)(long)WRITE, &status), ==, SIGSEGV);
	CHECK_INT(ht_run_for_signal(grantee, (void *)(long)WRITE_RW_GRANT_RO_MAP, &status), ==,
	          SIGSEGV);
	CHECK_INT(ht_run_for_signal(grantee, (void *)(long)MPROTECT, &status), ==, 0);
	CHECK_INT(status, ==, 0);
	CHECK_INT(simtest_wait(simtest_spawn(&st, dom_b, writable_map_refused, NULL), 30), ==, 0);

	ht_put_int(pp.fd[1], 1);
	ht_pipe_close(&pp);
	CHECK_INT(simtest_wait(a, 30), ==, 0);
	simtest_stop(&st);
	return 0;
}
