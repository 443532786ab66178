/* SPDX-License-Identifier: MIT */
/*
 * The scene every backend attack plays in (hostile.h): one backend
 * process, an attacked device and a healthy one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hostile.h"

/* The healthy guest: small, steady traffic; its progress lines show the
 * backend still serves it. */
static const char *const healthy_args[] = {
	"--requests", "1000000000", "--progress", "300", "--max-seg", "4096", "--inflight", "4",
	"--queue-size", "16", "--spin-us", "0", NULL,
};

void hx_scene_start(struct hx_scene *s)
{
	simtest_start(&s->st, NULL);
	s->doma = xp_guest(&s->st);
	s->domb = xp_guest(&s->st);
	s->xs0 = xp_xs(&s->st, 0);
	xp_make_device(s->xs0, s->doma, 1, &s->a);
	xp_make_device(s->xs0, s->domb, 1, &s->b);
	hx_victim_start(&s->be, &s->st, 0, "xvio-testback", NULL);
	hx_expect(&s->be, "ready", NULL, 0, HX_WAIT_MS);
	hx_victim_start(&s->healthy, &s->st, s->domb, "xvio-testfront", healthy_args);
	hx_expect(&s->healthy, "progress", NULL, 0, HX_WAIT_MS);
	hx_wait(s->xs0, s->a.be, "state", "2", HX_WAIT_MS);
	s->be_fds = (unsigned long)xp_fds(s->be.p.pid);
	hf_open(&s->h, &s->st, &s->a);
}

void hx_scene_violation(struct hx_scene *s, int err, const char *what)
{
	/* Closing; or already Closed when the frontend looks gone (its
	 * state node is junk). */
	hx_wait_any(s->xs0, s->a.be, "state", (const char *const[]){ "5", "6", NULL },
	            HX_WAIT_MS);
	hx_expect_error(s->xs0, s->a.be, err, what);
	/* Torn down before Closing was written: nothing of A is mapped. */
	hx_wait_counts(&s->st, s->doma, -1, 0, -1);
}

void hx_scene_benign(struct hx_scene *s)
{
	char buf[512];

	hf_traffic(&s->h, 0, 20, 3);
	CHECK(xp_read(s->xs0, s->a.be, "state", buf, sizeof(buf)));
	CHECK_STR(buf, "4");
	if (hx_error_node(s->xs0, s->a.be, buf, sizeof(buf)))
		CHECK_FAIL("benign behaviour reported as an error: %s", buf);
}

void hx_scene_end(struct hx_scene *s)
{
	hx_expect(&s->healthy, "progress", NULL, 0, HX_WAIT_MS);
	hx_expect(&s->healthy, "progress", NULL, 0, HX_WAIT_MS);
	if (s->h.shared)
		hf_close(&s->h);
	/* The device is usable again: an honest session, then close. */
	hf_connect(&s->h, NULL);
	hf_traffic(&s->h, 0, 12, 3);
	hf_close(&s->h);
	hx_wait_counts(&s->st, s->doma, -1, 0, -1);
	CHECK_INT(xp_fds(s->be.p.pid), ==, s->be_fds);
	hx_expect(&s->healthy, "progress", NULL, 0, HX_WAIT_MS);
	hx_victim_stop(&s->healthy);
	hx_victim_stop(&s->be);
	hf_free(&s->h);
	xs_close(s->xs0);
	simtest_stop(&s->st);
}
