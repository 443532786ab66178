/* SPDX-License-Identifier: MIT */
/*
 * Integration and slow: many requests of random shapes between
 * xvio-testfront (a guest) and xvio-testback (dom0), every byte of every
 * answer checked by the frontend, each request handed back exactly once.
 * Shapes: 1..16 readable and 0..16 writable segments, 1 byte .. 4 MiB
 * each (mostly small), indirect tables on for half the requests, two
 * queues, spinning on.
 *
 * data-area      100k requests, data-area mode
 * grant          100k requests, grant mode
 * no-event-idx   50k requests without EVENT_IDX and without spinning: flag
 *                based suppression and sleeping on every request
 * refused        20k requests on queues of 16, one in ten a direct chain of
 *                17 descriptors: each is handed back once with -E2BIG
 *                (whether it went to the ring at once or waited in the
 *                backlog) and the rest complete as usual
 * malformed     11 requests each malformed in one way, submitted at
 *                connect: each refused at once with -EINVAL, none left
 *                pending, then 2000 good ones complete as usual
 * long (slow)    8M requests in data-area mode, then 2M in grant mode
 *                (a fifth of each under ASan, see test_long),
 *                on two devices of one backend (the figures go to the log)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xptest.h"

static struct xp_scene sc;

/* Run one frontend to completion on `devid`; returns its done line. */
static void run_front(int dom, unsigned devid, const char *mode, const char *requests,
                      const char *const *extra, int timeout_s, char *line, size_t size)
{
	const char *argv[24] = {
		"--devid", NULL, "--mode", mode, "--requests", requests, "--queues", "2",
		"--queue-size", "256", "--area-pages", "4096", "--max-seg", "4194304",
		"--max-segs", "32",
	};
	char id[16];
	struct xp_proc fe;
	int n = 16;

	snprintf(id, sizeof(id), "%u", devid);
	argv[1] = id;
	for (; extra && *extra && n < 22; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	xp_startv(&fe, &sc.st, dom, "xvio-testfront", argv);
	xp_expect(&fe, "done", line, size, timeout_s * 1000);
	fprintf(stderr, "%s: %s\n", mode, line);
	CHECK_INT(xp_field(line, "completed"), ==, strtoull(requests, NULL, 10));
	CHECK_INT(xp_field(line, "errors"), ==, 0);
	CHECK_INT(xp_field(line, "dups"), ==, 0);
	CHECK_INT(xp_field(line, "sessions"), ==, 1);
	CHECK_INT(xp_wait_exit(&fe, 30), ==, 0);
}

/* One frontend on a fresh scene; with `field`, its done line must also
 * carry field=want. */
static void stream_field(const char *mode, const char *requests, const char *const *extra,
                         const char *be_spin, int timeout_s, const char *field, long long want)
{
	char line[512];

	xp_scene_start(&sc, 1, "--spin-us", be_spin, NULL);
	run_front(sc.dom, 1, mode, requests, extra, timeout_s, line, sizeof(line));
	if (field)
		CHECK_INT(xp_field(line, field), ==, want);
	xp_scene_stop(&sc);
}

static void stream(const char *mode, const char *requests, const char *const *extra,
                   const char *be_spin, int timeout_s)
{
	stream_field(mode, requests, extra, be_spin, timeout_s, NULL, 0);
}

static void test_data_area(void)
{
	stream("data-area", "100000", NULL, "50", 60);
}

static void test_grant(void)
{
	stream("grant", "100000", NULL, "50", 60);
}

static void test_refused(void)
{
	static const char *const extra[] = { "--queue-size", "16", "--oversize", "10", NULL };

	stream_field("data-area", "20000", extra, "50", 60, "refused", 2000);
}

static void test_malformed(void)
{
	static const char *const extra[] = { "--malformed", NULL };

	stream_field("data-area", "2000", extra, "50", 60, "malformed", 11);
}

static void test_no_event_idx(void)
{
	static const char *const extra[] = { "--no-event-idx", "--spin-us", "0", NULL };

	stream("data-area", "50000", extra, "0", 60);
}

/*
 * 10M requests in the normal build (the figure).  Under ASan and
 * UBSan every request costs ~5x and the slow suite runs beside the rest
 * of CI on 2 shared CPUs: a fifth, 2M, which still crosses every index
 * wrap many times (16-bit indices wrap every 65536).
 */
#if defined(__SANITIZE_ADDRESS__)
#define LONG_DATA_AREA "1600000"
#define LONG_GRANT "400000"
#else
#define LONG_DATA_AREA "8000000"
#define LONG_GRANT "2000000"
#endif

static void test_long(void)
{
	static const char *const spin[] = { "--spin-us", "50", NULL };
	struct xp_dev d2;
	char line[512];

	xp_scene_start(&sc, 1, "--spin-us", "50", NULL);
	/* Device 2 arrives while the backend runs (found by its watch). */
	xp_make_device(sc.xs0, sc.dom, 2, &d2);
	run_front(sc.dom, 1, "data-area", LONG_DATA_AREA, spin, 700, line, sizeof(line));
	run_front(sc.dom, 2, "grant", LONG_GRANT, spin, 700, line, sizeof(line));
	xp_scene_stop(&sc);
}

int main(int argc, char **argv)
{
	static const struct check_case cases[] = {
		{ "data-area", test_data_area },
		{ "grant", test_grant },
		{ "no-event-idx", test_no_event_idx },
		{ "refused", test_refused },
		{ "malformed", test_malformed },
		{ "long", test_long },
	};

	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
