/* SPDX-License-Identifier: MIT */
/*
 * Integration: a hostile frontend's xenstore values at Initialised time
 * (protocol §2.2, §3, §10), beyond tests/xport/test_badkeys.c: numbers
 * too big for 64 bits, negative, in hex or with blanks, embedded NULs,
 * strings of nearly 2 KiB, keys missing or present where they must not
 * be, refs and ports that cannot be used, and a state node that is not a
 * state.  The real backend must refuse the session with an error node
 * naming the key (errno as given), go to Closing, map nothing of the
 * guest, and keep serving another guest; afterwards the device serves an
 * honest session again (hx_scene_end).
 *
 * Two more cases race the backend: `vanish` removes a key right after
 * writing Initialised (the backend reads all keys in one transaction, so
 * it either connects or reports that key missing), and `flap` / `flap-junk`
 * switch the frontend's state 1-3-6-3 (and through junk values) hundreds
 * of times without waiting; the backend must settle, leaking nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostile.h"

static struct hx_scene sc;

struct kcase {
	const char *name;
	const char *key;     /* the key to change */
	const char *val;     /* its value (NULL: remove it) */
	size_t len;          /* bytes of val (0: strlen) */
	int err;             /* expected errno, 0: any */
	const char *expect;  /* in the error node */
	struct hf_opts o;
};

static char longstr[1901];

static void set_key(struct hf *h, xs_transaction_t t, void *arg)
{
	const struct kcase *c = arg;

	if (!c->key)
		return;
	if (!c->val)
		hf_rm(h, t, c->key);
	else
		hf_put(h, t, c->key, c->val, c->len ? c->len : strlen(c->val));
}

#define TWO_Q { .nq = 2 }

static const struct kcase kcases[] = {
	{ "nq-huge", "num-queues", "99999999999999999999999", 0, ERANGE, "num-queues", { 0 } },
	{ "nq-negative", "num-queues", "-1", 0, EINVAL, "num-queues", { 0 } },
	{ "nq-zero", "num-queues", "0", 0, ERANGE, "num-queues", { 0 } },
	{ "nq-blank", "num-queues", " 1", 0, EINVAL, "num-queues", { 0 } },
	{ "nq-nul", "num-queues", "1\0", 2, EINVAL, "num-queues", { 0 } },
	{ "size-negative", "queue-0/size", "-16", 0, EINVAL, "queue-0/size", { 0 } },
	{ "size-huge", "queue-0/size", "18446744073709551632", 0, ERANGE, "queue-0/size", { 0 } },
	{ "size-missing", "queue-0/size", NULL, 0, ENOENT, "queue-0/size", { 0 } },
	{ "features-huge", "virtio-features", "18446744073709551616", 0, ERANGE,
	  "virtio-features", { 0 } },
	{ "features-negative", "virtio-features", "-4294967296", 0, EINVAL, "virtio-features",
	  { 0 } },
	{ "features-hex", "virtio-features", "0x100000000", 0, EINVAL, "virtio-features", { 0 } },
	{ "features-float", "virtio-features", "4.294967296e9", 0, EINVAL, "virtio-features",
	  { 0 } },
	{ "features-long", "virtio-features", longstr, 0, 0, "virtio-features", { 0 } },
	{ "mode-nul", "buffer-mode", "data-area\0grant", 15, EINVAL, "buffer-mode", { 0 } },
	{ "mode-long", "buffer-mode", longstr, 0, 0, "buffer-mode", { 0 } },
	{ "mode-case", "buffer-mode", "Grant", 0, EINVAL, "buffer-mode", { 0 } },
	{ "mode-empty", "buffer-mode", "", 0, EINVAL, "buffer-mode", { 0 } },
	{ "port-zero", "queue-0/event-channel", "0", 0, ERANGE, "queue-0/event-channel", { 0 } },
	{ "port-huge", "queue-0/event-channel", "131072", 0, ERANGE, "queue-0/event-channel",
	  { 0 } },
	{ "port-missing", "queue-0/event-channel", NULL, 0, ENOENT, "queue-0/event-channel",
	  { 0 } },
	{ "ref-huge", "queue-0/ring-ref0", "4294967296", 0, ERANGE, "queue-0/ring-ref0", { 0 } },
	{ "ref-missing", "queue-0/ring-ref1", NULL, 0, ENOENT, "queue-0/ring-ref1", { 0 } },
	{ "pages-zero", "data-area-pages", "0", 0, ERANGE, "data-area-pages", { 0 } },
	{ "pages-over", "data-area-pages", "4097", 0, ERANGE, "data-area-pages", { 0 } },
	{ "dir-missing", "data-area-dir-ref0", NULL, 0, ENOENT, "data-area-dir-ref0", { 0 } },
	{ "dir-extra", "data-area-dir-ref1", "8", 0, EINVAL, "data-area-dir-ref1", { 0 } },
	/* §2.2: a backend MUST reject dir-ref<k>, k >= ceil(P/1024), and
	 * queue-<i>/... for i >= num-queues (stale keys of another session). */
	{ "dir-extra-far", "data-area-dir-ref3", "8", 0, EINVAL, "data-area-dir-ref3", { 0 } },
	{ "queue-extra", "queue-1/size", "16", 0, EINVAL, "queue-1", { 0 } },
	{ "queue-extra-far", "queue-15/event-channel", "7", 0, EINVAL, "queue-15", { 0 } },
	{ "ring-ro", NULL, NULL, 0, EACCES, "queue-0/ring-ref0..1", { .ring_ro = true } },
	{ "area-ro", NULL, NULL, 0, EACCES, "data pages 0..15", { .area_ro = true } },
};

/* ---- cases that need more than a key ---- */

static void run_key(const struct kcase *c)
{
	struct hf_opts o = c->o;

	memset(longstr, '7', sizeof(longstr) - 1);
	o.mutate = set_key;
	o.arg = (void *)c;
	hx_scene_start(&sc);
	hf_share(&sc.h, &o);
	hf_initialise(&sc.h);
	hx_scene_violation(&sc, c->err, c->expect);
	hx_scene_end(&sc);
}

/* Queue 1 names queue 0's port: the second bind fails. */
static void port_dup(struct hf *h, xs_transaction_t t, void *arg)
{
	char v[16];

	snprintf(v, sizeof(v), "%d", h->q[0].port);
	hf_put(h, t, "queue-1/event-channel", v, strlen(v));
}

/* A port offered to another guest, not to the backend. */
static void port_other(struct hf *h, xs_transaction_t t, void *arg)
{
	int port = xvio_evtchn_alloc_unbound(h->ev, (xvio_domid_t)sc.domb);
	char v[16];

	CHECK(port > 0);
	snprintf(v, sizeof(v), "%d", port);
	hf_put(h, t, "queue-0/event-channel", v, strlen(v));
}

/* A port number with a newline after it. */
static void port_newline(struct hf *h, xs_transaction_t t, void *arg)
{
	char v[16];

	snprintf(v, sizeof(v), "%d\n", h->q[0].port);
	hf_put(h, t, "queue-0/event-channel", v, strlen(v));
}

/* The directory lists a ref never granted for page 3. */
static void dir_bad_ref(struct hf *h, xs_transaction_t t, void *arg)
{
	uint32_t le = htole32(30000);

	memcpy(h->dir_mem + 12, &le, 4);
}

static void run_mutate(void (*fn)(struct hf *, xs_transaction_t, void *), unsigned nq, int err,
                       const char *expect)
{
	struct hf_opts o = { .nq = nq, .mutate = fn };

	hx_scene_start(&sc);
	hf_share(&sc.h, &o);
	hf_initialise(&sc.h);
	hx_scene_violation(&sc, err, expect);
	hx_scene_end(&sc);
}

static void test_port_dup(void)
{
	run_mutate(port_dup, 2, 0, "queue-1/event-channel");
}

static void test_port_other(void)
{
	run_mutate(port_other, 1, 0, "queue-0/event-channel");
}

static void test_port_newline(void)
{
	run_mutate(port_newline, 1, EINVAL, "queue-0/event-channel");
}

static void test_dir_bad_ref(void)
{
	run_mutate(dir_bad_ref, 1, 0, "cannot be mapped");
}

/* A connected frontend's state node turns into junk. */
static void state_junk(const char *val)
{
	hx_scene_start(&sc);
	hf_connect(&sc.h, NULL);
	hf_traffic(&sc.h, 0, 5, 3);
	xp_write(sc.h.xs, sc.a.fe, "state", val);
	hx_scene_violation(&sc, EPROTO, "is not a XenbusState");
	hx_scene_end(&sc);
}

static void test_state_nine(void)
{
	state_junk("9");
}

static void test_state_text(void)
{
	state_junk("connected");
}

/* A key disappears right after Initialised, 30 times. */
static void test_vanish(void)
{
	static const char *const settled[] = { "4", "5", NULL };
	unsigned connected = 0, refused = 0;

	hx_scene_start(&sc);
	for (unsigned i = 0; i < 30; i++) {
		char path[300];

		hf_share(&sc.h, NULL);
		hf_initialise(&sc.h);
		snprintf(path, sizeof(path), "%s/queue-0/event-channel", sc.a.fe);
		/* Sooner or later than the backend's read: both must work. */
		usleep((i % 10) * 150);
		CHECK(xs_rm(sc.h.xs, XBT_NULL, path));
		if (hx_wait_any(sc.xs0, sc.a.be, "state", settled, HX_WAIT_MS) == 0) {
			connected++;
		} else {
			hx_expect_error(sc.xs0, sc.a.be, ENOENT, "queue-0/event-channel");
			hx_wait_counts(&sc.st, sc.doma, -1, 0, -1);
			refused++;
		}
		hf_close(&sc.h);
	}
	fprintf(stderr, "connected %u times, refused %u times\n", connected, refused);
	hx_scene_end(&sc);
}

/* Initialised with good keys, then the state jumps around without
 * waiting; finally Closed, and the backend must settle in InitWait
 * having unmapped and unbound everything (hf_close ends the grants). */
static void flap(const char *const *cycle)
{
	char path[300];

	hx_scene_start(&sc);
	hf_share(&sc.h, NULL);
	hf_initialise(&sc.h);
	snprintf(path, sizeof(path), "%s/state", sc.a.fe);
	for (unsigned i = 0; i < 300; i++) {
		for (const char *const *s = cycle; *s; s++)
			CHECK(xs_write(sc.h.xs, XBT_NULL, path, *s, (unsigned)strlen(*s)));
		if (i % 50 == 0)
			hx_victims_check();
	}
	hf_close(&sc.h);
	hx_wait_counts(&sc.st, sc.doma, -1, 0, -1);
	hx_scene_end(&sc);
}

static void test_flap(void)
{
	static const char *const cycle[] = { "1", "3", "6", "3", NULL };

	flap(cycle);
}

static void test_flap_junk(void)
{
	static const char *const cycle[] = { "1", "3", "7", "6", "3", "99", "4", "x", "3", NULL };

	flap(cycle);
}

static const struct check_case special[] = {
	{ "port-dup", test_port_dup },
	{ "port-other", test_port_other },
	{ "port-newline", test_port_newline },
	{ "dir-bad-ref", test_dir_bad_ref },
	{ "state-nine", test_state_nine },
	{ "state-text", test_state_text },
	{ "vanish", test_vanish },
	{ "flap", test_flap },
	{ "flap-junk", test_flap_junk },
};

int main(int argc, char **argv)
{
	if (argc == 2) {
		for (size_t i = 0; i < sizeof(kcases) / sizeof(kcases[0]); i++) {
			if (strcmp(argv[1], kcases[i].name) == 0) {
				run_key(&kcases[i]);
				return 0;
			}
		}
	}
	for (size_t i = 0; i < sizeof(kcases) / sizeof(kcases[0]); i++)
		if (argc != 2)
			fprintf(stderr, "known case: %s\n", kcases[i].name);
	return check_run_case(argc, argv, special, CHECK_NCASES(special), NULL, NULL);
}
