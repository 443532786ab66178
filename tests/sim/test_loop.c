/* SPDX-License-Identifier: MIT */
/*
 * The event loop's one-shot timers (tools/sim/loop.h), one case per run:
 *   test-sim-loop CASE
 *   order       timers run by deadline, ties in the order they were armed,
 *               never before their time
 *   rearm       arming an armed timer moves its deadline; it runs once
 *   disarm      a timer disarmed or freed, even by a callback running in
 *               the same round, is never called (ASan sees any use after
 *               free)
 */
#include <stdbool.h>
#include <time.h>

#include "check.h"
#include "loop.h"

static struct loop *L;
static char order[16];
static unsigned nfired;
static long long t0;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Records its name (a char cast to the arg) and when it ran. */
struct mark {
	char name;
	long long at;
};

static void mark_cb(void *arg)
{
	struct mark *m = arg;

	m->at = now_ms() - t0;
	if (nfired < sizeof(order) - 1)
		order[nfired] = m->name;
	nfired++;
}

static void stop_cb(void *arg)
{
	(void)arg;
	loop_stop(L);
}

/* Run the loop until a timer armed for `ms` stops it. */
static void run_for(unsigned ms)
{
	struct loop_timer *stop = loop_timer_new(L, stop_cb, NULL);

	CHECK(stop != NULL);
	loop_timer_arm(stop, ms);
	CHECK_INT(loop_run(L), ==, 0);
	loop_timer_free(stop);
}

static struct loop_timer *timer(struct mark *m)
{
	struct loop_timer *t = loop_timer_new(L, mark_cb, m);

	CHECK(t != NULL);
	return t;
}

static void case_order(void)
{
	struct mark a = { 'a', -1 }, b = { 'b', -1 }, c = { 'c', -1 };
	struct loop_timer *ta = timer(&a), *tb = timer(&b), *tc = timer(&c);

	t0 = now_ms();
	loop_timer_arm(ta, 60);
	loop_timer_arm(tb, 20);
	loop_timer_arm(tc, 20);
	run_for(150);
	CHECK_STR(order, "bca");
	CHECK_INT(b.at, >=, 20);
	CHECK_INT(c.at, >=, 20);
	CHECK_INT(a.at, >=, 60);
	loop_timer_free(ta);
	loop_timer_free(tb);
	loop_timer_free(tc);
}

static void case_rearm(void)
{
	struct mark a = { 'a', -1 };
	struct loop_timer *ta = timer(&a);

	t0 = now_ms();
	loop_timer_arm(ta, 10);
	loop_timer_arm(ta, 80);
	run_for(40);
	CHECK_INT(nfired, ==, 0);
	run_for(100);
	CHECK_STR(order, "a");
	CHECK_INT(a.at, >=, 80);
	loop_timer_free(ta);
}

/* Due in the same round as its victims, and armed first, so it runs
 * first: disarms one, frees another, and frees itself. */
static struct loop_timer *victim_disarmed, *victim_freed, *killer;
static bool killer_ran;

static void killer_cb(void *arg)
{
	(void)arg;
	loop_timer_disarm(victim_disarmed);
	loop_timer_free(victim_freed);
	victim_freed = NULL;
	loop_timer_free(killer);
	killer = NULL;
	killer_ran = true;
}

static void case_disarm(void)
{
	struct mark a = { 'a', -1 }, b = { 'b', -1 }, c = { 'c', -1 };
	struct loop_timer *early = timer(&a), *kept = timer(&c);

	killer = loop_timer_new(L, killer_cb, NULL);
	victim_disarmed = timer(&b);
	victim_freed = timer(&b);
	CHECK(killer != NULL);
	/* Armed then disarmed before the loop runs. */
	loop_timer_arm(early, 10);
	loop_timer_disarm(early);
	/* The same deadline (0 ms) for all: one round, in arming order. */
	loop_timer_arm(killer, 0);
	loop_timer_arm(victim_disarmed, 0);
	loop_timer_arm(victim_freed, 0);
	loop_timer_arm(kept, 0);
	run_for(50);
	CHECK(killer_ran);
	CHECK_STR(order, "c");
	CHECK(killer == NULL && victim_freed == NULL);
	loop_timer_free(early);
	loop_timer_free(victim_disarmed);
	loop_timer_free(kept);
}

static void setup(void)
{
	L = loop_new();
	CHECK(L != NULL);
}

static void teardown(void)
{
	loop_free(L);
}

int main(int argc, char **argv)
{
	static const struct check_case cases[] = {
		{ "order", case_order },
		{ "rearm", case_rearm },
		{ "disarm", case_disarm },
	};

	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), setup, teardown);
}
