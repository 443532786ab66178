/* SPDX-License-Identifier: MIT */
/*
 * Integration: the watcher when the xenstore connection goes away.
 *
 * queued-then-lost  an event queued before the simulator stopped is still
 *                   delivered; after that, and on every later call,
 *                   dispatch returns -ENOTCONN (within a few seconds: the
 *                   loss is noticed by libxenstore's reader thread), and
 *                   freeing the watcher does not hang
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "simtest.h"
#include "xbtest.h"
#include "xenbus.h"

#define DIR "/local/domain/0/xsloss"
/* The reader thread sees EOF as soon as the simulator is gone. */
#define LOSS_TIMEOUT_MS 5000

static struct simtest st;

static void count(struct xvio_watcher *w, int id, const char *path, void *arg)
{
	(void)w;
	(void)id;
	(void)path;
	(*(int *)arg)++;
}

static bool readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1;
}

static void test_queued_then_lost(void)
{
	struct xs_handle *xs, *other;
	struct xvio_watcher *w;
	int calls = 0, rc;
	long long end;

	simtest_start(&st, NULL);
	xs = xb_open_as(&st, 0);
	CHECK_INT(xvio_watcher_new(xs, &w), ==, 0);
	CHECK(xvio_watch_add(w, DIR, count, &calls, NULL) > 0);
	CHECK(readable(xvio_watcher_fd(w), 5000));
	CHECK_INT(xvio_watcher_dispatch(w, 8), ==, 1); /* the registration's */
	CHECK_INT(calls, ==, 1);

	/* One event queued, not yet taken, when the connection goes. */
	other = xb_open_as(&st, 0);
	xb_write(other, DIR "/k", "1");
	xs_close(other);
	CHECK(readable(xvio_watcher_fd(w), 5000));
	simtest_stop(&st);

	/* The queued event first, whether or not the loss was seen yet. */
	CHECK_INT(xvio_watcher_dispatch(w, 8), ==, 1);
	CHECK_INT(calls, ==, 2);
	end = xb_now_ms() + LOSS_TIMEOUT_MS;
	while ((rc = xvio_watcher_dispatch(w, 8)) == 0) {
		if (xb_now_ms() > end)
			CHECK_FAIL("dispatch did not report the loss within %d ms",
			           LOSS_TIMEOUT_MS);
		usleep(10000);
	}
	CHECK_INT(rc, ==, -ENOTCONN);
	CHECK_INT(xvio_watcher_dispatch(w, 8), ==, -ENOTCONN);
	CHECK_INT(calls, ==, 2);
	/* Why loops must not sleep on the fd alone (libxenstore 4.17). */
	fprintf(stderr, "watch fd readable after the loss: %s\n",
	        readable(xvio_watcher_fd(w), 0) ? "yes" : "no");
	xvio_watcher_free(w); /* its unwatch requests fail at once */
	xs_close(xs);
}

int main(int argc, char **argv)
{
	static const struct check_case cases[] = {
		{ "queued-then-lost", test_queued_then_lost },
	};

	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
