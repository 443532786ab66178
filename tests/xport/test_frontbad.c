/* SPDX-License-Identifier: MIT */
/*
 * Integration: a backend offering invalid §2.1 keys (protocol §3, §10).
 * The test plays the backend (writes its keys and InitWait as dom0); a
 * real xvio-testfront must write its error node naming the key, close
 * (Closing, then Closed), stay closed without retrying while the offer
 * stays the same (no loop, no CPU), and set up again once the backend
 * writes a good value, clearing the node.
 *
 * Cases: version (VERSION_1 missing), qsize (not a power of two), queues
 * (0), modes (the frontend's mode not offered), device (another virtio
 * id), config (config/seed, read by the driver's setup, missing).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "xptest.h"

static struct simtest st;

struct offer_key {
	const char *key, *good;
};

static const struct offer_key offer[] = {
	{ "virtio-device", "65520" },
	{ "virtio-features", "5100273664" },
	{ "max-queues", "4" },
	{ "max-queue-size", "256" },
	{ "buffer-modes", "data-area grant" },
	{ "max-data-area-pages", "4096" },
	{ "config/seed", "7" },
	{ NULL, NULL },
};

static void write_offer(struct xs_handle *xs0, const struct xp_dev *d, const char *bad_key,
                        const char *bad)
{
	for (const struct offer_key *k = offer; k->key; k++) {
		if (strcmp(k->key, bad_key) != 0)
			xp_write(xs0, d->be, k->key, k->good);
		else if (bad)
			xp_write(xs0, d->be, k->key, bad);
	}
	xp_write(xs0, d->be, "state", "2");
}

static void run(const char *key, const char *bad)
{
	struct xs_handle *xs0;
	struct xp_proc fe;
	struct xp_dev d;
	char err_dir[200], msg[512], state[16];
	long cpu;
	int dom;

	simtest_start(&st, NULL);
	dom = xp_guest(&st);
	xs0 = xp_xs(&st, 0);
	xp_make_device(xs0, dom, 1, &d);
	write_offer(xs0, &d, key, bad);
	xp_start(&fe, &st, dom, "xvio-testfront", "--linger", NULL);
	snprintf(err_dir, sizeof(err_dir), "/local/domain/%d/error/device/xvio_test/1", dom);
	xp_wait(xs0, d.fe, "state", "6");
	CHECK(xp_read(xs0, err_dir, "error", msg, sizeof(msg)));
	fprintf(stderr, "error node: %s\n", msg);
	if (!strstr(msg, key))
		CHECK_FAIL("error \"%s\" does not name %s", msg, key);
	/* Closed it stays while the offer does not change. */
	cpu = xp_cpu_ms(fe.pid);
	usleep(300000);
	CHECK(xp_read(xs0, d.fe, "state", state, sizeof(state)));
	CHECK_STR(state, "6");
	CHECK_INT(xp_cpu_ms(fe.pid) - cpu, <=, 20);
	/* A good value: a new attempt, which succeeds. */
	for (const struct offer_key *k = offer; k->key; k++) {
		if (strcmp(k->key, key) == 0)
			xp_write(xs0, d.be, k->key, k->good);
	}
	xp_wait(xs0, d.fe, "state", "3");
	xp_wait(xs0, err_dir, "error", NULL);
	CHECK_INT(xp_term(&fe), ==, 0);
	xs_close(xs0);
	simtest_stop(&st);
}

static void test_version(void)
{
	run("virtio-features", "805306368");
}

static void test_qsize(void)
{
	run("max-queue-size", "48");
}

static void test_queues(void)
{
	run("max-queues", "0");
}

static void test_modes(void)
{
	run("buffer-modes", "grant");
}

static void test_device(void)
{
	run("virtio-device", "2");
}

static void test_config(void)
{
	run("config/seed", NULL);
}

int main(int argc, char **argv)
{
	static const struct check_case cases[] = {
		{ "version", test_version }, { "qsize", test_qsize },
		{ "queues", test_queues },   { "modes", test_modes },
		{ "device", test_device },   { "config", test_config },
	};

	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
