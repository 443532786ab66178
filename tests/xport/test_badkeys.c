/* SPDX-License-Identifier: MIT */
/*
 * Integration: a frontend writing invalid §2.2 keys (protocol §3, §10).
 * The test plays the frontend of device A in one guest: a process of that
 * guest grants real ring pages and allocates a real port, then writes a
 * full set of keys with one class of mistake, and Initialised, in one
 * transaction.  The backend must write its error node naming the key,
 * go to Closing, hold no mapping or port of A, and keep serving device B
 * (a real xvio-testfront streaming in another guest) meanwhile.  When A's
 * frontend closes, the backend returns to InitWait and clears the node.
 *
 * One case per class: size, pow2, queues, feature, version, mode, refs,
 * port, dir-refs, junk (a number with a leading zero).  Two more cases
 * connect with good keys and then break the ring (protocol §10): ring-idx
 * (avail.idx jumps past the queue size, found by vq) and ring-addr (a
 * descriptor that is not a grant address in grant mode, found by the
 * transport's translation).
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "plat.h"
#include "vq.h"
#include "xptest.h"

static struct simtest st;
static int sock[2];

struct bad {
	const char *name;
	const char *key;      /* what the error message must name */
};

/* Write device A's keys for class `b`, then Initialised. */
static void write_keys(struct xs_handle *xs, const char *fe, const char *cls,
                       const xvio_gref_t *refs, unsigned port)
{
	char ref0[16], ref1[16], ev[16];
	const char *features = "4294967296", *nq = "1", *mode = "grant", *size = "2";
	const char *r0 = ref0, *evp = ev;

	snprintf(ref0, sizeof(ref0), "%u", refs[0]);
	snprintf(ref1, sizeof(ref1), "%u", refs[1]);
	snprintf(ev, sizeof(ev), "%u", port);
	if (!strcmp(cls, "size"))
		size = "2048";
	else if (!strcmp(cls, "pow2"))
		size = "48";
	else if (!strcmp(cls, "queues"))
		nq = "5";
	else if (!strcmp(cls, "feature"))
		features = "4294967328"; /* + bit 5, never offered */
	else if (!strcmp(cls, "version"))
		features = "268435456";  /* INDIRECT_DESC alone */
	else if (!strcmp(cls, "mode"))
		mode = "dma";
	else if (!strcmp(cls, "refs"))
		r0 = "30000";            /* never granted */
	else if (!strcmp(cls, "port"))
		evp = "1000";            /* no such unbound port */
	else if (!strcmp(cls, "dir-refs"))
		mode = "data-area";      /* 2048 pages need two directory pages */
	else if (!strcmp(cls, "junk"))
		nq = "01";
	for (;;) {
		xs_transaction_t t = xs_transaction_start(xs);
		char path[300];

		CHECK(t != XBT_NULL);
#define W(k, v)                                                                   \
	do {                                                                      \
		snprintf(path, sizeof(path), "%s/%s", fe, k);                    \
		CHECK(xs_write(xs, t, path, v, (unsigned)strlen(v)));            \
	} while (0)
		W("virtio-features", features);
		W("num-queues", nq);
		W("buffer-mode", mode);
		if (!strcmp(mode, "data-area")) {
			W("data-area-pages", "2048");
			W("data-area-dir-ref0", ref1);
		}
		W("queue-0/size", size);
		W("queue-0/ring-ref0", r0);
		W("queue-0/ring-ref1", ref1);
		W("queue-0/event-channel", evp);
		W("state", "3");
#undef W
		if (xs_transaction_end(xs, t, false))
			return;
		CHECK(errno == EAGAIN);
	}
}

static void wait_node(struct xs_handle *xs, const char *path, const char *want)
{
	for (long long end = xp_now_ms() + XP_TIMEOUT_MS; xp_now_ms() < end; usleep(2000)) {
		unsigned int len;
		char *v = xs_read(xs, XBT_NULL, path, &len);
		bool ok = v && len == strlen(want) && memcmp(v, want, len) == 0;

		free(v);
		if (ok)
			return;
	}
	CHECK_FAIL("%s never became %s", path, want);
}

/* Connected with good keys, break the ring and kick (protocol §10). */
static void break_ring(struct xs_handle *xs, const char *fe, const char *cls, void *ring,
                       struct xvio_evtchn *e, unsigned port)
{
	char path[300], be[256];
	unsigned int len;
	char *v;

	snprintf(path, sizeof(path), "%s/backend", fe);
	v = xs_read(xs, XBT_NULL, path, &len);
	CHECK(v != NULL);
	snprintf(be, sizeof(be), "%.*s/state", (int)len, v);
	free(v);
	wait_node(xs, be, "4");
	snprintf(path, sizeof(path), "%s/state", fe);
	CHECK(xs_write(xs, XBT_NULL, path, "4", 1));
	if (!strcmp(cls, "ring-idx")) {
		/* avail.idx of a 2-entry ring: 16 * 2 bytes of descriptors, then
		 * avail.flags, then avail.idx. */
		uint16_t idx = htole16(100);

		memcpy((char *)ring + 34, &idx, 2);
	} else {
		struct xvio_seg seg = { .addr = 0x1000, .len = 16, .write = false };
		struct xvio_vqd *q;

		CHECK_INT(xvio_vqd_new(ring, 2, 1ull << 32, &q), ==, 0);
		CHECK_INT(xvio_vqd_add(q, &seg, 1, NULL, NULL), ==, 0);
		xvio_vqd_kick_prepare(q);
		xvio_vqd_free(q);
	}
	CHECK_INT(xvio_evtchn_notify(e, port), ==, 0);
}

/* Device A's frontend, a process of guest A: real grants, a real port. */
static int raw_front(void *arg)
{
	const char *cls = arg;
	struct xvio_gnt_share *s;
	struct xvio_evtchn *e;
	struct xvio_plat *p;
	struct xs_handle *xs;
	xvio_gref_t refs[2];
	void *ring;
	char fe[256], c;
	int port;

	close(sock[0]);
	CHECK(xvio_vring_pages(2) == 2);
	CHECK_INT(xvio_plat_open(NULL, &p), ==, 0);
	CHECK_INT(xvio_gnt_share(p, 0, 2, true, refs, &ring, &s), ==, 0);
	CHECK_INT(xvio_evtchn_open(p, &e), ==, 0);
	port = xvio_evtchn_alloc_unbound(e, 0);
	CHECK(port > 0);
	xs = xs_open(0);
	CHECK(xs != NULL);
	CHECK(read(sock[1], fe, sizeof(fe)) > 0);
	write_keys(xs, fe, cls, refs, (unsigned)port);
	if (!strncmp(cls, "ring-", 5))
		break_ring(xs, fe, cls, ring, e, (unsigned)port);
	CHECK(write(sock[1], "k", 1) == 1);
	/* Then close, as a frontend giving up would. */
	CHECK(read(sock[1], &c, 1) == 1);
	snprintf(fe + strlen(fe), sizeof(fe) - strlen(fe), "/state");
	CHECK(xs_write(xs, XBT_NULL, fe, "6", 1));
	CHECK(read(sock[1], &c, 1) == 0);
	xs_close(xs);
	xvio_evtchn_close(e);
	xvio_gnt_share_end(s);
	xvio_plat_close(p);
	return 0;
}

static void expect_error(struct xs_handle *xs0, const struct xp_dev *a, const char *key)
{
	char dir[300], msg[512], *end;
	long err;

	snprintf(dir, sizeof(dir), "/local/domain/0/error/backend/xvio_test/%d/%u", a->domid,
	         a->devid);
	xp_wait(xs0, a->be, "state", "5");
	CHECK(xp_read(xs0, dir, "error", msg, sizeof(msg)));
	fprintf(stderr, "error node: %s\n", msg);
	err = strtol(msg, &end, 10);
	CHECK(err > 0 && *end == ' ');
	if (!strstr(msg, key))
		CHECK_FAIL("error \"%s\" does not name %s", msg, key);
}

static void run_class(const struct bad *b)
{
	struct xvio_sim_dominfo a0, d0, i;
	struct xs_handle *xs0;
	struct xp_proc be, fe;
	struct xp_dev a, bdev;
	char dir[300], buf[64];
	int doma, domb, status;
	pid_t child;

	simtest_start(&st, NULL);
	doma = xp_guest(&st);
	domb = xp_guest(&st);
	xs0 = xp_xs(&st, 0);
	xp_make_device(xs0, doma, 1, &a);
	xp_make_device(xs0, domb, 1, &bdev);
	xp_start(&be, &st, 0, "xvio-testback", NULL);
	xp_expect(&be, "ready", NULL, 0, XP_TIMEOUT_MS);
	xp_start(&fe, &st, domb, "xvio-testfront", "--requests", "1000000000", "--progress",
	         "2000", "--max-seg", "4096", NULL);
	xp_expect(&fe, "progress", NULL, 0, XP_TIMEOUT_MS);
	xp_wait(xs0, a.be, "state", "2");
	CHECK_INT(xp_dominfo(&st, 0, &d0), ==, 0);

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) == 0);
	child = simtest_spawn(&st, doma, raw_front, (void *)b->name);
	close(sock[1]);
	CHECK(write(sock[0], a.fe, strlen(a.fe) + 1) > 0);
	CHECK(read(sock[0], buf, 1) == 1);
	CHECK_INT(xp_dominfo(&st, doma, &a0), ==, 0);
	expect_error(xs0, &a, b->key);
	/* Device B never noticed. */
	xp_expect(&fe, "progress", NULL, 0, XP_TIMEOUT_MS);
	xp_expect(&fe, "progress", NULL, 0, XP_TIMEOUT_MS);
	/* Nothing of A is held: no mapping of its pages, no port bound. */
	CHECK_INT(xp_dominfo(&st, doma, &i), ==, 0);
	CHECK_INT(i.maps_active, ==, 0);
	CHECK_INT(i.ports_bound, ==, 1);
	CHECK_INT(xp_dominfo(&st, 0, &i), ==, 0);
	CHECK_INT(i.ports_bound, ==, d0.ports_bound);

	/* A's frontend closes: a new session may start, the node goes. */
	CHECK(write(sock[0], "c", 1) == 1);
	xp_wait(xs0, a.be, "state", "2");
	snprintf(dir, sizeof(dir), "/local/domain/0/error/backend/xvio_test/%d/%u", doma, 1u);
	xp_wait(xs0, dir, "error", NULL);
	close(sock[0]);
	status = simtest_wait(child, 20);
	CHECK_INT(status, ==, 0);
	CHECK_INT(xp_term(&fe), ==, 0);
	CHECK_INT(xp_term(&be), ==, 0);
	xs_close(xs0);
	simtest_stop(&st);
}

#define CASE(n, k)                                          \
	static void test_##n(void)                          \
	{                                                   \
		static const struct bad b = { #n, k };      \
		run_class(&b);                              \
	}

CASE(size, "queue-0/size")
CASE(pow2, "queue-0/size")
CASE(queues, "num-queues")
CASE(feature, "virtio-features")
CASE(version, "virtio-features")
CASE(mode, "buffer-mode")
CASE(refs, "queue-0/ring-ref0")
CASE(port, "queue-0/event-channel")
CASE(junk, "num-queues")

static void test_ring_idx(void)
{
	static const struct bad b = { "ring-idx", "avail.idx" };

	run_class(&b);
}

static void test_ring_addr(void)
{
	static const struct bad b = { "ring-addr", "not a grant address" };

	run_class(&b);
}

static void test_dir_refs(void)
{
	static const struct bad b = { "dir-refs", "data-area-dir-ref1" };

	run_class(&b);
}

int main(int argc, char **argv)
{
	static const struct check_case cases[] = {
		{ "size", test_size },       { "pow2", test_pow2 },
		{ "queues", test_queues },   { "feature", test_feature },
		{ "version", test_version }, { "mode", test_mode },
		{ "refs", test_refs },       { "port", test_port },
		{ "dir-refs", test_dir_refs }, { "junk", test_junk },
		{ "ring-idx", test_ring_idx }, { "ring-addr", test_ring_addr },
	};

	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
