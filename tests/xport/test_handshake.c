/* SPDX-License-Identifier: MIT */
/*
 * Integration: the handshake of protocol §2-§3 between xvio-testback (dom0)
 * and xvio-testfront (a guest), checked from outside with libxenstore and
 * the simulated hypervisor's counters.
 *
 * data-area   every §2.1 and §2.2 key as the protocol says, data-area mode:
 *             values, ranges, the ring and directory ref counts, no stray
 *             keys, no error node; grants and mappings counted exactly
 * grant       the same in grant mode (no data-area keys; only the rings
 *             stay mapped while idle: per-request grants are unmapped)
 * idle        a connected, idle pair uses no CPU (no busy loop, no timer)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testdev.h"
#include "xport.h"
#include "xptest.h"

#define OFFERED (XVIO_XPORT_F_VERSION_1 | XVIO_XPORT_F_INDIRECT | XVIO_XPORT_F_EVENT_IDX)

static struct xp_scene sc;

static void expect(struct xs_handle *xs, const char *dir, const char *key, const char *want)
{
	char buf[256];

	xp_read(xs, dir, key, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		CHECK_FAIL("%s/%s is \"%s\", want \"%s\"", dir, key, buf, want);
}

static void expect_absent(struct xs_handle *xs, const char *dir, const char *key)
{
	char buf[256];

	if (xp_read(xs, dir, key, buf, sizeof(buf)))
		CHECK_FAIL("%s/%s exists (\"%s\")", dir, key, buf);
}

static unsigned long long read_num(struct xs_handle *xs, const char *dir, const char *key)
{
	char buf[64], *end;
	unsigned long long v;

	if (!xp_read(xs, dir, key, buf, sizeof(buf)))
		CHECK_FAIL("%s/%s is missing", dir, key);
	v = strtoull(buf, &end, 10);
	if (!buf[0] || *end || (buf[0] == '0' && buf[1]))
		CHECK_FAIL("%s/%s: \"%s\" is not a strict number", dir, key, buf);
	return v;
}

static void check_backend_keys(struct xs_handle *xs, const struct xp_dev *d)
{
	char buf[32];

	expect(xs, d->be, "virtio-device", "65520");
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)OFFERED);
	expect(xs, d->be, "virtio-features", buf);
	expect(xs, d->be, "max-queues", "4");
	expect(xs, d->be, "max-queue-size", "1024");
	expect(xs, d->be, "buffer-modes", "data-area grant");
	expect(xs, d->be, "max-data-area-pages", "4096");
	snprintf(buf, sizeof(buf), "%u", xt_seed((unsigned)d->domid, d->devid));
	expect(xs, d->be, "config/seed", buf);
}

/* The frontend asked for 2 queues of 256 and 1024 area pages. */
static void check_frontend_keys(struct xs_handle *xs, const struct xp_dev *d, bool grant)
{
	unsigned long long f = read_num(xs, d->fe, "virtio-features");
	char key[64];

	CHECK((f & XVIO_XPORT_F_VERSION_1) && !(f & ~OFFERED));
	CHECK_INT(f, ==, OFFERED); /* it asked for both ring features */
	expect(xs, d->fe, "num-queues", "2");
	expect(xs, d->fe, "buffer-mode", grant ? "grant" : "data-area");
	if (grant) {
		expect_absent(xs, d->fe, "data-area-pages");
		expect_absent(xs, d->fe, "data-area-dir-ref0");
	} else {
		expect(xs, d->fe, "data-area-pages", "1024");
		read_num(xs, d->fe, "data-area-dir-ref0");
		expect_absent(xs, d->fe, "data-area-dir-ref1");
	}
	for (unsigned i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "queue-%u/size", i);
		if (i == 2) {
			expect_absent(xs, d->fe, key);
			break;
		}
		expect(xs, d->fe, key, "256");
		/* N = 256: 3 ring pages (§4). */
		for (unsigned k = 0; k < 3; k++) {
			snprintf(key, sizeof(key), "queue-%u/ring-ref%u", i, k);
			read_num(xs, d->fe, key);
		}
		snprintf(key, sizeof(key), "queue-%u/ring-ref3", i);
		expect_absent(xs, d->fe, key);
		snprintf(key, sizeof(key), "queue-%u/event-channel", i);
		CHECK(read_num(xs, d->fe, key) > 0);
	}
}

/* No error node for the device on either side (libxl makes the error
 * directories themselves). */
static void check_no_errors(struct xs_handle *xs0, int domid)
{
	char dir[64];

	expect_absent(xs0, "/local/domain/0/error", "backend/xvio_test");
	snprintf(dir, sizeof(dir), "/local/domain/%d/error", domid);
	expect_absent(xs0, dir, "device/xvio_test");
}

static void handshake(bool grant)
{
	struct xvio_sim_dominfo info;
	struct xp_proc fe;
	char line[512];

	xp_scene_start(&sc, 5, NULL);
	/* The device was there at start: InitWait, offer written. */
	expect(sc.xs0, sc.d.be, "state", "2");
	check_backend_keys(sc.xs0, &sc.d);
	xp_start(&fe, &sc.st, sc.dom, "xvio-testfront", "--mode", grant ? "grant" : "data-area",
	         "--queues", "2", "--queue-size", "256", "--area-pages", "1024",
	         "--requests", "3000", "--linger", NULL);
	xp_expect(&fe, "done", line, sizeof(line), XP_TIMEOUT_MS);
	CHECK_INT(xp_field(line, "completed"), ==, 3000);
	CHECK_INT(xp_field(line, "errors"), ==, 0);
	xp_wait_connected(sc.xs0, &sc.d);
	check_frontend_keys(sc.xs0, &sc.d, grant);
	check_no_errors(sc.xs0, sc.dom);
	/* Grants: the area (+1 directory page) and 2 rings of 3 pages.
	 * Mapped by the backend: the rings, and the data pages in
	 * data-area mode (the directory was unmapped after copying). */
	CHECK_INT(xp_dominfo(&sc.st, sc.dom, &info), ==, 0);
	CHECK_INT(info.grants_active, ==, 1024 + (grant ? 0 : 1) + 6);
	CHECK_INT(info.maps_active, ==, (grant ? 0 : 1024) + 6);
	CHECK_INT(info.ports_bound, ==, 2);
	CHECK_INT(xp_term(&fe), ==, 0);
	xp_scene_stop(&sc);
}

static void test_data_area(void)
{
	handshake(false);
}

static void test_grant(void)
{
	handshake(true);
}

static void test_idle(void)
{
	struct xp_proc fe;
	long be0, fe0;

	xp_scene_start(&sc, 1, "--spin-us", "1000", NULL);
	xp_start(&fe, &sc.st, sc.dom, "xvio-testfront", "--spin-us", "1000", "--requests", "2000",
	         "--linger", NULL);
	xp_expect(&fe, "done", NULL, 0, XP_TIMEOUT_MS);
	usleep(100000); /* past every spin window */
	be0 = xp_cpu_ms(sc.be.pid);
	fe0 = xp_cpu_ms(fe.pid);
	sleep(1);
	/* A polling loop would burn ~1000 ms; allow scheduler noise. */
	CHECK_INT(xp_cpu_ms(sc.be.pid) - be0, <=, 20);
	CHECK_INT(xp_cpu_ms(fe.pid) - fe0, <=, 20);
	CHECK_INT(xp_term(&fe), ==, 0);
	xp_scene_stop(&sc);
}

int main(int argc, char **argv)
{
	static const struct check_case cases[] = {
		{ "data-area", test_data_area },
		{ "grant", test_grant },
		{ "idle", test_idle },
	};

	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
