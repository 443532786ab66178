/* SPDX-License-Identifier: MIT */
/*
 * The per-domain limit on grant mappings (Xen's maptrack table,
 * XVIO_SIM_MAX_MAPTRACK): a guest mapping one granted page over and over,
 * through as many connections as it likes, gets -ENOMEM once its domain
 * holds the limit, and can map again once it unmaps.  Another domain is
 * not affected.  Raw protocol only: the daemon's bookkeeping is what is
 * bounded, so nothing needs to be mmapped here.
 */
#include <unistd.h>

#include "hyptest.h"

#define PER_CONN (XVIO_SIM_MAX_CONN_MAPPED / XVIO_SIM_MAX_BATCH)   /* map calls */
#define NCONN (XVIO_SIM_MAX_MAPTRACK / XVIO_SIM_MAX_CONN_MAPPED)   /* to fill it */

_Static_assert(XVIO_SIM_MAX_MAPTRACK % XVIO_SIM_MAX_CONN_MAPPED == 0, "whole connections");
_Static_assert(XVIO_SIM_MAX_CONN_MAPPED % XVIO_SIM_MAX_BATCH == 0, "whole batches");

static struct simtest st;
static struct ht_reply r;
static struct xvio_sim_map_ent ents[XVIO_SIM_MAX_BATCH];

/* Share one page of `from` (connection fd) with domain `to`; the ref. */
static uint32_t share_one(int fd, int to)
{
	struct xvio_sim_req req = { .op = XVIO_SIM_OP_GNT_SHARE, .count = 1,
	                            .domid = (uint16_t)to };
	struct xvio_sim_page pg;

	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), 0);
	ht_reply_close(&r);
	CHECK_INT(r.len, ==, sizeof(pg));
	memcpy(&pg, r.payload, sizeof(pg));
	return pg.ref;
}

/* Map `count` times (domid, ref) on fd; the daemon's answer and, on
 * success, the map handle in *handle. */
static int map_n(int fd, int domid, uint32_t ref, unsigned count, uint64_t *handle)
{
	struct xvio_sim_req req = { .op = XVIO_SIM_OP_GNT_MAP, .count = count };
	int err;

	for (unsigned i = 0; i < count; i++)
		ents[i] = (struct xvio_sim_map_ent){ .domid = (uint16_t)domid, .ref = ref };
	err = ht_raw_call(fd, &req, ents, count * sizeof(ents[0]), &r);
	ht_reply_close(&r);
	if (err == 0 && handle)
		*handle = r.rep.val;
	return err;
}

static bool maps_are(int err, const struct xvio_sim_dominfo *i, long n)
{
	return err == 0 && i->maps_active == (uint32_t)n;
}

int main(void)
{
	int dom_a, dom_b, dom_c, fa, fc, fb[NCONN + 1];
	uint32_t ref_b, ref_c;
	uint64_t first = 0;
	struct xvio_sim_req req;

	simtest_start(&st, NULL);
	dom_a = ht_domain(&st, 4, 0);
	dom_b = ht_domain(&st, 4, 0);
	dom_c = ht_domain(&st, 4, 0);
	/* A grants one page to B and one to C, and keeps the shares. */
	fa = ht_raw_connect(&st, dom_a);
	ref_b = share_one(fa, dom_b);
	ref_c = share_one(fa, dom_c);

	/* B fills its maptrack: each connection up to its own limit. */
	for (unsigned c = 0; c < NCONN; c++) {
		fb[c] = ht_raw_connect(&st, dom_b);
		for (unsigned k = 0; k < PER_CONN; k++)
			CHECK_RET(map_n(fb[c], dom_a, ref_b, XVIO_SIM_MAX_BATCH,
			                c == 1 && k == 0 ? &first : NULL), 0);
	}
	CHECK(ht_wait_info(&st, dom_a, maps_are, XVIO_SIM_MAX_MAPTRACK));
	/* A fresh connection holds nothing, but the domain is full. */
	fb[NCONN] = ht_raw_connect(&st, dom_b);
	CHECK_RET(map_n(fb[NCONN], dom_a, ref_b, 1, NULL), -ENOMEM);
	CHECK_RET(map_n(fb[NCONN], dom_a, ref_b, XVIO_SIM_MAX_BATCH, NULL), -ENOMEM);

	/* Another domain maps as usual. */
	fc = ht_raw_connect(&st, dom_c);
	CHECK_RET(map_n(fc, dom_a, ref_c, 4, NULL), 0);
	close(fc);

	/* Unmapping one batch makes exactly that much room. */
	req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_UNMAP, .arg = first };
	CHECK_RET(ht_raw_call(fb[1], &req, NULL, 0, &r), 0);
	CHECK_RET(map_n(fb[NCONN], dom_a, ref_b, XVIO_SIM_MAX_BATCH, NULL), 0);
	CHECK_RET(map_n(fb[NCONN], dom_a, ref_b, 1, NULL), -ENOMEM);

	/* Closing a connection gives its mappings back (asynchronously). */
	close(fb[2]);
	for (int i = 0, err; (err = map_n(fb[NCONN], dom_a, ref_b, XVIO_SIM_MAX_BATCH, NULL));
	     i++) {
		CHECK_RET(err, -ENOMEM);
		CHECK_INT(i, <, 1000);
		usleep(10000);
	}

	for (unsigned c = 0; c <= NCONN; c++) {
		if (c != 2)
			close(fb[c]);
	}
	CHECK(ht_wait_info(&st, dom_a, maps_are, 0));
	close(fa);
	simtest_check_alive(&st);
	simtest_stop(&st);
	return 0;
}
