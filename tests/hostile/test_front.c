/* SPDX-License-Identifier: MIT */
/*
 * Integration: a hostile backend against the real frontend
 * (xvio-testfront, built on the transport, in a guest).  The test plays
 * the backend in dom0 by hand (hostile.h, hb): it offers good keys, maps
 * the frontend's rings and area, serves a few requests honestly, then
 * misbehaves.  The frontend must
 *   - for a violation: mark the queue broken, write its error node naming
 *     the problem (errno EPROTO), go to Closing and keep every request it
 *     has not seen completed validly;
 *   - for odd but allowed behaviour: carry on correctly;
 *   - never crash (sanitizer builds fail on any finding; guard pages
 *     around every mapping turn an overrun into SIGSEGV), never hang.
 * Then the hostile backend leaves (unmaps, Closed) and the real
 * xvio-testback takes the device over: the frontend must reconnect and
 * finish its whole stream with every request answered exactly once and
 * every byte right (it checks both), and the guest must end up holding
 * exactly one session's grants, mappings and ports (nothing leaked,
 * nothing abandoned for good).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostile.h"

#define REQUESTS "300"
#define PAGES 64u
#define QSIZE 16u
#define INFLIGHT 4u

static struct simtest st;
static struct xs_handle *xs0;
static struct xp_dev dev;
static struct hb b;
static struct hx_victim fe;

/* ---- violations ---- */

/* Hold one request (so something is in flight), then answer with `fn`. */
static void hold_one(struct hb_req *r)
{
	if (!hb_pop(&b, r, HX_WAIT_MS))
		CHECK_FAIL("the frontend posted nothing");
}

static void id_range(void)
{
	struct hb_req r;

	hold_one(&r);
	hb_used(&b, QSIZE, 0);
	hb_publish(&b);
}

/* An id no chain in flight uses: every request is held by us. */
static void id_free(void)
{
	static struct hb_req r[INFLIGHT];
	bool used[QSIZE] = { false };
	unsigned n = hb_hold(&b, r, INFLIGHT, 300), id = 0;

	CHECK_INT(n, ==, INFLIGHT);
	for (unsigned k = 0; k < n; k++) {
		for (unsigned i = 0; i < r[k].ndesc; i++)
			used[r[k].ids[i]] = true;
	}
	while (used[id])
		id++;
	hb_used(&b, id, 0);
	hb_publish(&b);
}

/* The second descriptor of a direct chain (--indirect off). */
static void id_body(void)
{
	struct hb_req r;

	for (unsigned tries = 0;; tries++) {
		CHECK(tries < 500);
		hold_one(&r);
		if (r.ndesc >= 2)
			break;
		hb_complete(&b, &r);
	}
	hb_used(&b, r.ids[1], 0);
	hb_publish(&b);
}

/* A valid completion, then the same id again in the same batch. */
static void id_repeat(void)
{
	struct hb_req r;

	hold_one(&r);
	hb_answer(&b, &r);
	hb_release(&b, &r);
	hb_used(&b, r.head, r.in_bytes);
	hb_used(&b, r.head, r.in_bytes);
	hb_publish(&b);
}

static void len_over(void)
{
	struct hb_req r;

	hold_one(&r);
	hb_answer(&b, &r);
	hb_release(&b, &r);
	hb_used(&b, r.head, r.in_bytes + 1);
	hb_publish(&b);
}

static void idx_jump(void)
{
	struct hb_req r;

	hold_one(&r);
	hx_used_idx(&b.r, (uint16_t)(b.used_idx + QSIZE + 1));
	CHECK_INT(xvio_evtchn_notify(b.ev, (xvio_port_t)b.lport), ==, 0);
}

/* Back by one is only visible once the frontend has consumed every
 * completion we published (else it reads as a smaller, valid index):
 * holding all INFLIGHT requests proves that, since it posts a new one
 * only after consuming a completion. */
static void idx_back(void)
{
	static struct hb_req r[INFLIGHT];

	CHECK_INT(hb_hold(&b, r, INFLIGHT, 300), ==, INFLIGHT);
	hx_used_idx(&b.r, (uint16_t)(b.used_idx - 1));
	CHECK_INT(xvio_evtchn_notify(b.ev, (xvio_port_t)b.lport), ==, 0);
}

static void state_junk(void)
{
	hb_state(&b, "abc");
}

/* ---- odd but allowed ---- */

/* The driver's half of the ring is the backend's to read only; junk
 * written there must not matter to the frontend, which keeps its own
 * copy of everything.  Done while we hold every request, so nothing
 * published is lost; then we answer from our copies and go on. */
static void scribble(void)
{
	static struct hb_req r[INFLIGHT];
	unsigned n = hb_hold(&b, r, INFLIGHT, 300);

	CHECK_INT(n, ==, INFLIGHT);
	for (unsigned i = 0; i < QSIZE; i++) {
		hx_desc(&b.r, i, 0xdeadbeefcafe0000ull + i, 0xffffffffu - i, 0xffff, 0xffff);
		hx_avail_ent(&b.r, i, (uint16_t)(0xf00d + i));
	}
	hx_avail_flags(&b.r, 0xffff);
	hx_used_event(&b.r, 0x7777);
	/* Stale, so our own reader waits for the driver's next publish. */
	hx_avail_idx(&b.r, (uint16_t)(b.last_avail - 1));
	for (unsigned k = 0; k < n; k++)
		hb_complete(&b, &r[k]);
	hb_serve(&b, 40);
}

/* Hold everything and answer nothing: the frontend just waits. */
static void never(void)
{
	static struct hb_req r[INFLIGHT];
	char buf[256];

	CHECK_INT(hb_hold(&b, r, INFLIGHT, 300), ==, INFLIGHT);
	usleep(300000);
	hx_victim_check(&fe);
	CHECK(xp_read(xs0, dev.fe, "state", buf, sizeof(buf)));
	CHECK_STR(buf, "4");
	if (hx_error_node(xs0, dev.fe, buf, sizeof(buf)))
		CHECK_FAIL("a slow backend is no violation: %s", buf);
	for (unsigned k = 0; k < INFLIGHT; k++)
		hb_release(&b, &r[k]);
}

/* Back to InitWait mid-stream, with requests held and everything still
 * mapped: the frontend abandons the old rings, keeps the requests and
 * sets up a new session, which we then serve honestly. */
static void initwait(void)
{
	static struct hb_req r[2];
	char ref[32], old[32];

	CHECK_INT(hb_hold(&b, r, 2, 300), ==, 2);
	for (unsigned k = 0; k < 2; k++)
		hb_release(&b, &r[k]);
	snprintf(old, sizeof(old), "%u", b.ring_refs[0]);
	hb_state(&b, "2");
	hx_wait(xs0, dev.fe, "state", "3", HX_WAIT_MS);
	CHECK(xp_read(xs0, dev.fe, "queue-0/ring-ref0", ref, sizeof(ref)));
	if (strcmp(ref, old) == 0)
		CHECK_FAIL("the new session reuses ring ref %s the old backend still maps", ref);
	hb_disconnect(&b);
	hb_connect(&b);
	hb_serve(&b, 40);
}

/* Nonsense in every §2.1 key while connected: read once per session,
 * so the session goes on. */
static void keys_midsession(void)
{
	static const char *const junk[][2] = {
		{ "virtio-device", "2" }, { "virtio-features", "junk" }, { "max-queues", "0" },
		{ "max-queue-size", "3" }, { "buffer-modes", "none" },
		{ "max-data-area-pages", "-1" }, { "config/seed", "12345" },
		{ "config-generation", "99" }, { "queue-0/foo", "bar" },
	};
	char buf[256];

	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		xp_write(b.xs, dev.be, junk[i][0], junk[i][1]);
	hb_serve(&b, 40);
	CHECK(xp_read(xs0, dev.fe, "state", buf, sizeof(buf)));
	CHECK_STR(buf, "4");
	if (hx_error_node(xs0, dev.fe, buf, sizeof(buf)))
		CHECK_FAIL("keys outside a session's start reported: %s", buf);
}

/* Hundreds of state switches without waiting or mapping anything new. */
static void flap(void)
{
	static const char *const cycle[] = { "2", "4", "5", "6", "1", "4", "2", "6", NULL };

	for (unsigned i = 0; i < 200; i++) {
		for (const char *const *s = cycle; *s; s++)
			hb_state(&b, *s);
		if (i % 50 == 0)
			hx_victim_check(&fe);
	}
}

/* ---- keeping the old session mapped after Closing ---- */

struct scribbler {
	struct hx_ring r;
	atomic_bool stop;
	unsigned writes;
};

static void *scribble_old(void *arg)
{
	struct scribbler *s = arg;

	for (unsigned k = 0; !atomic_load(&s->stop); k++) {
		hx_used_ent(&s->r, k, k * 2654435761u, 0xfffffff0u);
		hx_used_idx(&s->r, (uint16_t)(k * 7));
		hx_desc(&s->r, k, 0, 0, 0xffff, 0xffff);
		s->writes++;
	}
	return NULL;
}

/*
 * Closing, then Closed and InitWait again, without unmapping the first
 * session, whose ring we keep scribbling on from another thread while we
 * serve a second session honestly: the frontend must never look at the
 * abandoned ring again.
 */
static void keep_mapping(void)
{
	struct scribbler s = { 0 };
	struct xvio_gnt_map *ring = b.rmap, *area[4];
	unsigned nmaps = b.nmaps;
	pthread_t th;

	hb_serve(&b, 10);
	hb_state(&b, "5");
	hx_wait(xs0, dev.fe, "state", "6", HX_WAIT_MS);
	s.r = b.r;
	CHECK(pthread_create(&th, NULL, scribble_old, &s) == 0);
	/* Forget the old session without unmapping it. */
	memcpy(area, b.amap, sizeof(area));
	CHECK_INT(xvio_evtchn_unbind(b.ev, (xvio_port_t)b.lport), ==, 0);
	b.up = false;
	b.nmaps = 0;
	hb_state(&b, "6");
	hb_state(&b, "2");
	hb_connect(&b);
	hb_serve(&b, 60);
	atomic_store(&s.stop, true);
	CHECK(pthread_join(th, NULL) == 0);
	fprintf(stderr, "%u writes to the abandoned ring\n", s.writes);
	CHECK_INT(xvio_gnt_unmap(ring), ==, 0);
	for (unsigned i = 0; i < nmaps; i++)
		CHECK_INT(xvio_gnt_unmap(area[i]), ==, 0);
}

/* ---- the runner ---- */

struct fcase {
	const char *name;
	void (*attack)(void);
	const char *expect;       /* violation: in the error node; NULL: benign */
	bool grant;
	const char *indirect;     /* xvio-testfront --indirect */
};

static const struct fcase cases[] = {
	{ "id-range", id_range, "id 16 out of range", false, "mixed" },
	{ "id-free", id_free, "is not in flight", false, "on" },
	{ "id-body", id_body, "is not a chain head", false, "off" },
	/* The repeat finds the id free, or already taken again by a new
	 * request that is not published yet: a violation either way. */
	{ "id-repeat", id_repeat, "is not in flight|was not made available yet", false,
	  "mixed" },
	{ "len-over", len_over, "writable bytes posted", false, "mixed" },
	{ "idx-jump", idx_jump, "used.idx jumped", false, "mixed" },
	{ "idx-back", idx_back, "used.idx jumped", false, "mixed" },
	{ "state-junk", state_junk, "is not a XenbusState", false, "mixed" },
	{ "grant-len-over", len_over, "writable bytes posted", true, "mixed" },
	{ "grant-id-repeat", id_repeat, "is not in flight|was not made available yet", true,
	  "mixed" },
	{ "scribble", scribble, NULL, false, "mixed" },
	{ "never", never, NULL, false, "mixed" },
	{ "initwait", initwait, NULL, false, "mixed" },
	{ "grant-initwait", initwait, NULL, true, "mixed" },
	{ "keys-midsession", keys_midsession, NULL, false, "mixed" },
	{ "flap", flap, NULL, false, "mixed" },
	{ "keep-mapping", keep_mapping, NULL, false, "mixed" },
};

static void run(const struct fcase *c)
{
	const char *args[] = {
		"--requests", REQUESTS, "--queue-size", "16", "--area-pages", "64", "--max-seg",
		"2048", "--max-segs", "4", "--inflight", "4", "--spin-us", "0", "--linger",
		"--mode", c->grant ? "grant" : "data-area", "--indirect", c->indirect,
		NULL,
	};
	static const char *const closed[] = { "5", "6", NULL };
	struct hx_victim be;
	char line[512];
	int dom;

	simtest_start(&st, NULL);
	dom = xp_guest(&st);
	xs0 = xp_xs(&st, 0);
	xp_make_device(xs0, dom, 1, &dev);
	hb_open(&b, &st, &dev);
	hb_offer(&b);
	hx_victim_start(&fe, &st, dom, "xvio-testfront", args);
	hb_connect(&b);
	hb_serve(&b, 20);

	c->attack();
	if (c->expect) {
		hx_wait_any(xs0, dev.fe, "state", closed, HX_WAIT_MS);
		hx_expect_error(xs0, dev.fe, EPROTO, c->expect);
	}
	hx_victim_check(&fe);

	/* The hostile backend leaves; the real one takes over. */
	hb_disconnect(&b);
	hb_state(&b, "6");
	hx_victim_start(&be, &st, 0, "xvio-testback", NULL);
	hx_expect(&fe, "done", line, sizeof(line), HX_WAIT_MS);
	fprintf(stderr, "%s\n", line);
	CHECK_INT(xp_field(line, "completed"), ==, atoi(REQUESTS));
	CHECK_INT(xp_field(line, "errors"), ==, 0);
	CHECK_INT(xp_field(line, "dups"), ==, 0);
	CHECK_INT(xp_field(line, "sessions"), >=, 2);
	if (hx_error_node(xs0, dev.fe, line, sizeof(line)))
		CHECK_FAIL("the error node outlived the session: %s", line);
	/* One session's worth: area (+ directory) and ring grants, the
	 * backend's mappings of them, one port. */
	hx_wait_counts(&st, dom, (int)(PAGES + (c->grant ? 0 : 1) + xvio_vring_pages(QSIZE)),
	               (int)((c->grant ? 0 : PAGES) + xvio_vring_pages(QSIZE)), 1);
	hx_victim_stop(&fe);
	hx_victim_stop(&be);
	hb_free(&b);
	xs_close(xs0);
	simtest_stop(&st);
}

int main(int argc, char **argv)
{
	size_t n = sizeof(cases) / sizeof(cases[0]);

	if (argc == 2) {
		for (size_t i = 0; i < n; i++) {
			if (strcmp(argv[1], cases[i].name) == 0) {
				run(&cases[i]);
				return 0;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "known case: %s\n", cases[i].name);
	CHECK_FAIL("unknown case %s", argc == 2 ? argv[1] : "(none)");
}
