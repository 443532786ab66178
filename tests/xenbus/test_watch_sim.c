/* SPDX-License-Identifier: MIT */
/*
 * Integration: watch dispatch against a real xvio-sim.
 *
 * first-event:    registering fires once; dispatch never blocks
 * spurious:       rewriting the same value fires again and is delivered
 * flood:          a guest writes 300 nodes, then one node 300 times: each
 *                 dispatch takes at most its budget, nothing is lost,
 *                 identical events of a batch fold
 * flood-fd:       the fd is readable exactly while events are queued
 * remove-in-cb:   a callback removing itself and another registration;
 *                 the other's queued events are dropped, not delivered
 * foreign-token:  events under tokens that are not ours, or name no live
 *                 registration, are dropped
 * stale:          an event queued before its watch was removed is dropped
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "simtest.h"
#include "xbtest.h"
#include "xenbus.h"

#define DIR "/local/domain/1/data/w"

static struct simtest st;

struct rec {
	int calls;
	int last_id;
	char last_path[256];
	/* For remove-in-cb: registrations to remove on the first call. */
	int remove[2];
};

static void record(struct xvio_watcher *w, int id, const char *path, void *arg)
{
	struct rec *r = arg;

	r->calls++;
	r->last_id = id;
	snprintf(r->last_path, sizeof(r->last_path), "%s", path);
	for (int i = 0; i < 2; i++) {
		if (r->remove[i] > 0) {
			CHECK_INT(xvio_watch_remove(w, r->remove[i]), ==, 0);
			r->remove[i] = 0;
		}
	}
}

/* Wait until the watcher's fd is readable (events queued). */
static void wait_readable(struct xvio_watcher *w, int timeout_ms)
{
	struct pollfd p = { .fd = xvio_watcher_fd(w), .events = POLLIN };

	CHECK(p.fd >= 0);
	if (poll(&p, 1, timeout_ms) != 1)
		CHECK_FAIL("no watch event within %d ms", timeout_ms);
}

static bool readable(struct xvio_watcher *w)
{
	struct pollfd p = { .fd = xvio_watcher_fd(w), .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* Dispatch until n callbacks ran (events may arrive in pieces). */
static void dispatch_until(struct xvio_watcher *w, struct rec *r, int n)
{
	long long end = xb_now_ms() + 5000;

	while (r->calls < n) {
		if (xb_now_ms() > end)
			CHECK_FAIL("only %d of %d callbacks", r->calls, n);
		wait_readable(w, 5000);
		CHECK_INT(xvio_watcher_dispatch(w, 16), >=, 0);
	}
}

static void test_first_event(struct xs_handle *xs0, struct xvio_watcher *w)
{
	struct rec r = { 0 };
	long long t0;
	int id;

	xb_write(xs0, DIR "/state", "1");
	id = xvio_watch_add(w, DIR "/state", record, &r, NULL);
	CHECK_INT(id, >, 0);
	dispatch_until(w, &r, 1);
	CHECK_INT(r.last_id, ==, id);
	CHECK_STR(r.last_path, DIR "/state");
	/* Nothing queued: returns at once with 0. */
	t0 = xb_now_ms();
	CHECK_INT(xvio_watcher_dispatch(w, 16), ==, 0);
	CHECK(xb_now_ms() - t0 < 500);
	CHECK_INT(r.calls, ==, 1);
	CHECK(!readable(w));
	/* Bad budgets are refused. */
	CHECK_INT(xvio_watcher_dispatch(w, 0), ==, -EINVAL);
	CHECK_INT(xvio_watcher_dispatch(w, XVIO_WATCH_BATCH_MAX + 1), ==, -EINVAL);
}

static void test_spurious(struct xs_handle *xs0, struct xvio_watcher *w)
{
	struct rec r = { 0 };

	xb_write(xs0, DIR "/state", "4");
	CHECK_INT(xvio_watch_add(w, DIR "/state", record, &r, NULL), >, 0);
	dispatch_until(w, &r, 1);
	/* Same value again: xenstore fires anyway, and so do we. */
	xb_write(xs0, DIR "/state", "4");
	dispatch_until(w, &r, 2);
	/* A child node and the removal fire the parent's watch too. */
	xb_write(xs0, DIR "/state/child", "x");
	dispatch_until(w, &r, 3);
	CHECK_STR(r.last_path, DIR "/state/child");
	CHECK(xs_rm(xs0, XBT_NULL, DIR "/state"));
	dispatch_until(w, &r, 4);
}

#define FLOOD 300 /* below the guest's node quota */

/*
 * A request on the watcher's own connection is answered after every event
 * the server queued on it before; libxenstore's reader thread handles the
 * stream in order, so when this returns those events are in the handle.
 */
static void barrier(struct xs_handle *xs_w)
{
	char buf[8];

	xb_read(xs_w, "/local/domain/0/name", buf, sizeof(buf));
}

static void test_flood(struct xs_handle *xs_w, struct xs_handle *xs1, struct xvio_watcher *w)
{
	struct xvio_watch_stats s;
	struct rec r = { 0 };
	char path[256];
	int taken = 0, rc;

	xb_write(xs1, DIR "/q", "");
	CHECK_INT(xvio_watch_add(w, DIR "/q", record, &r, NULL), >, 0);
	dispatch_until(w, &r, 1);
	/* The guest floods: distinct nodes, then one node many times. */
	for (int i = 0; i < FLOOD; i++) {
		snprintf(path, sizeof(path), DIR "/q/n%d", i);
		xb_write(xs1, path, "v");
	}
	for (int i = 0; i < FLOOD; i++)
		xb_write(xs1, DIR "/q/same", "v");
	barrier(xs_w);
	/* Every call takes exactly its budget until the queue runs dry. */
	while ((rc = xvio_watcher_dispatch(w, 8)) == 8)
		taken += 8;
	CHECK_INT(rc, >=, 0);
	taken += rc;
	/*
	 * Every distinct node fires; the repeats of one node may reach us as
	 * fewer events, because a server may merge identical events still
	 * queued for a slow reader (xvio-sim does, under load).
	 */
	CHECK_INT(taken, >=, FLOOD + 1);
	CHECK_INT(taken, <=, 2 * FLOOD);
	CHECK_INT(xvio_watcher_dispatch(w, 8), ==, 0);
	xvio_watcher_stats(w, &s);
	/* Nothing lost on our side: the initial event and every event taken. */
	CHECK_INT(s.events, ==, 1 + taken);
	CHECK_INT(s.dropped, ==, 0);
	CHECK_INT(s.delivered + s.coalesced, ==, s.events);
	CHECK_INT(s.delivered, ==, (uint64_t)r.calls);
	/* Distinct nodes are delivered one by one; the repeats of one node
	 * fold to one callback per batch of 8. */
	uint64_t fold = 0;
	for (int b = 0; b < taken; b += 8) {
		int same = 0;
		for (int e = b; e < b + 8 && e < taken; e++)
			same += e >= FLOOD;
		fold += same ? (uint64_t)same - 1 : 0;
	}
	CHECK_INT(s.coalesced, ==, fold);
	CHECK_STR(r.last_path, DIR "/q/same");
}

/* The fd is level-triggered: readable exactly while events are queued. */
static void test_flood_fd(struct xs_handle *xs_w, struct xs_handle *xs1,
                          struct xvio_watcher *w)
{
	struct rec r = { 0 };
	char path[256];

	xb_write(xs1, DIR "/f", "");
	CHECK_INT(xvio_watch_add(w, DIR "/f", record, &r, NULL), >, 0);
	dispatch_until(w, &r, 1);
	for (int i = 0; i < 40; i++) {
		snprintf(path, sizeof(path), DIR "/f/n%d", i);
		xb_write(xs1, path, "v");
	}
	barrier(xs_w);
	for (int i = 0; i < 40; i++) {
		CHECK(readable(w));
		CHECK_INT(xvio_watcher_dispatch(w, 1), ==, 1);
	}
	CHECK(!readable(w));
	CHECK_INT(r.calls, ==, 41);
}

static void test_remove_in_cb(struct xs_handle *xs0, struct xvio_watcher *w)
{
	struct rec a = { 0 }, b = { 0 };
	struct xvio_watch_stats s0, s1;
	int ida, idb, idc;

	xb_write(xs0, DIR "/a", "");
	xb_write(xs0, DIR "/b", "");
	ida = xvio_watch_add(w, DIR "/a", record, &a, NULL);
	idb = xvio_watch_add(w, DIR "/b", record, &b, NULL);
	CHECK_INT(ida, >, 0);
	CHECK_INT(idb, >, ida);
	dispatch_until(w, &b, 1);
	dispatch_until(w, &a, 1);
	xvio_watcher_stats(w, &s0);
	/* a's next callback removes b and a itself. */
	a.remove[0] = idb;
	a.remove[1] = ida;
	xb_write(xs0, DIR "/a", "x");   /* delivered to a */
	xb_write(xs0, DIR "/b", "y");   /* b is gone by then: dropped */
	xb_write(xs0, DIR "/a/k", "z"); /* a is gone too: dropped */
	for (long long end = xb_now_ms() + 5000;;) {
		xvio_watcher_stats(w, &s1);
		if (s1.events - s0.events >= 3)
			break;
		if (xb_now_ms() > end)
			CHECK_FAIL("events did not arrive");
		wait_readable(w, 5000);
		CHECK_INT(xvio_watcher_dispatch(w, 64), >=, 0);
	}
	CHECK_INT(a.calls, ==, 2);
	CHECK_INT(b.calls, ==, 1);
	CHECK_INT(s1.dropped - s0.dropped, ==, 2);
	CHECK_INT(xvio_watch_remove(w, ida), ==, -ENOENT);
	/* Ids are never reused. */
	idc = xvio_watch_add(w, DIR "/a", record, &b, NULL);
	CHECK_INT(idc, >, idb);
}

static void test_foreign_token(struct xs_handle *xs_w, struct xs_handle *xs0,
                               struct xvio_watcher *w)
{
	static const char *const tokens[] = {
		"foo", "xvio-", "xvio-999", "xvio-01", "xvio-1x", "xvio--1", "xvio-2147483648",
	};
	struct xvio_watch_stats s;
	struct rec r = { 0 };
	int id;

	xb_write(xs0, DIR "/ft", "");
	/* Someone else's watches on the watcher's own handle. */
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		CHECK(xs_watch(xs_w, DIR "/ft", tokens[i]));
	id = xvio_watch_add(w, DIR "/ft", record, &r, NULL);
	CHECK_INT(id, ==, 1);
	/* Our one event arrives after the seven foreign initial events. */
	dispatch_until(w, &r, 1);
	for (long long end = xb_now_ms() + 5000;;) {
		xvio_watcher_stats(w, &s);
		if (s.events >= 8)
			break;
		if (xb_now_ms() > end)
			CHECK_FAIL("foreign events did not arrive");
		wait_readable(w, 5000);
		CHECK_INT(xvio_watcher_dispatch(w, 64), >=, 0);
	}
	CHECK_INT(s.dropped, ==, 7);
	CHECK_INT(r.calls, ==, 1);
	CHECK_INT(s.delivered, ==, 1);
}

static void test_stale(struct xs_handle *xs0, struct xvio_watcher *w)
{
	struct xvio_watch_stats s;
	struct rec r = { 0 };
	int id;

	xb_write(xs0, DIR "/st", "");
	id = xvio_watch_add(w, DIR "/st", record, &r, NULL);
	dispatch_until(w, &r, 1);
	xb_write(xs0, DIR "/st", "1");
	wait_readable(w, 5000); /* the event is in the handle's queue */
	CHECK_INT(xvio_watch_remove(w, id), ==, 0);
	CHECK_INT(xvio_watcher_dispatch(w, 16), ==, 1);
	xvio_watcher_stats(w, &s);
	CHECK_INT(s.dropped, ==, 1);
	CHECK_INT(r.calls, ==, 1);
}

int main(int argc, char **argv)
{
	struct xs_handle *xs0, *xs1, *xs_w;
	struct xvio_watcher *w;
	const char *c = argc == 2 ? argv[1] : "";

	simtest_start(&st, NULL);
	CHECK_INT(simtest_create(&st, "name = \"g\"\nmemory = 64\n"), ==, 1);
	xs0 = xb_open_as(&st, 0);
	xs1 = xb_open_as(&st, 1);
	xs_w = xb_open_as(&st, 0); /* the watcher's own connection */
	CHECK_INT(xvio_watcher_new(xs_w, &w), ==, 0);
	if (strcmp(c, "first-event") == 0)
		test_first_event(xs0, w);
	else if (strcmp(c, "spurious") == 0)
		test_spurious(xs0, w);
	else if (strcmp(c, "flood") == 0)
		test_flood(xs_w, xs1, w);
	else if (strcmp(c, "flood-fd") == 0)
		test_flood_fd(xs_w, xs1, w);
	else if (strcmp(c, "remove-in-cb") == 0)
		test_remove_in_cb(xs0, w);
	else if (strcmp(c, "foreign-token") == 0)
		test_foreign_token(xs_w, xs0, w);
	else if (strcmp(c, "stale") == 0)
		test_stale(xs0, w);
	else
		CHECK_FAIL("usage: %s first-event|spurious|flood|flood-fd|remove-in-cb|"
		           "foreign-token|stale", argv[0]);
	xvio_watcher_free(w);
	xs_close(xs_w);
	xs_close(xs1);
	xs_close(xs0);
	simtest_stop(&st);
	return 0;
}
