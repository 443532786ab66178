/* SPDX-License-Identifier: MIT */
/*
 * Notification decisions (protocol §6): kick suppression by the device
 * (VRING_USED_F_NO_NOTIFY or avail_event) and interrupt suppression by the
 * driver (VRING_AVAIL_F_NO_INTERRUPT or used_event), exact step by step;
 * then two threads that sleep on each other's notifications, which would
 * hang (and time out) on a lost wakeup.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vqtest.h"

static struct xvio_chain chain;

static void add(struct vqt *t, uintptr_t cookie)
{
	struct xvio_seg s = { .addr = cookie, .len = 512, .write = true };

	CHECK_INT(xvio_vqd_add(t->d, &s, 1, (void *)cookie, NULL), ==, 0);
}

static uint16_t pop(struct vqt *t)
{
	CHECK_INT(xvio_vqdev_pop(t->v, &t->xl, &chain), ==, 1);
	return chain.head;
}

static void pop_empty(struct vqt *t)
{
	CHECK_INT(xvio_vqdev_pop(t->v, &t->xl, &chain), ==, 0);
}

static void get(struct vqt *t)
{
	void *c;
	uint32_t n;

	CHECK_INT(xvio_vqd_get_used(t->d, &c, &n), ==, 1);
}

static void get_empty(struct vqt *t)
{
	void *c;
	uint32_t n;

	CHECK_INT(xvio_vqd_get_used(t->d, &c, &n), ==, 0);
}

static void t_kick_flags(void)
{
	struct vqt t;

	vqt_open(&t, 8, 0);
	add(&t, 1);
	CHECK(xvio_vqd_kick_prepare(t.d));
	CHECK(!xvio_vqd_kick_prepare(t.d));            /* nothing new */
	xvio_vqdev_disable_kick(t.v);
	CHECK(vqt_used_flags(&t) & VRING_USED_F_NO_NOTIFY);
	add(&t, 2);
	CHECK(!xvio_vqd_kick_prepare(t.d));            /* suppressed */
	CHECK(!xvio_vqdev_enable_kick(t.v));           /* 2 pending: poll again */
	CHECK(!(vqt_used_flags(&t) & VRING_USED_F_NO_NOTIFY));
	pop(&t);
	pop(&t);
	pop_empty(&t);
	CHECK(xvio_vqdev_enable_kick(t.v));            /* safe to sleep */
	add(&t, 3);
	CHECK(xvio_vqd_kick_prepare(t.d));
	vqt_close(&t);
}

static void t_kick_event_idx(void)
{
	struct vqt t;

	vqt_open(&t, 8, F_EVENT_IDX);
	add(&t, 1);
	CHECK(xvio_vqd_kick_prepare(t.d));             /* avail_event 0 crossed */
	add(&t, 2);
	CHECK(!xvio_vqd_kick_prepare(t.d));            /* device not idle yet */
	pop(&t);
	pop(&t);
	pop_empty(&t);                                 /* arms avail_event */
	CHECK_INT(vqt_avail_event(&t), ==, 2);
	CHECK_INT(vqt_used_flags(&t), ==, 0);          /* flags unused */
	add(&t, 3);
	add(&t, 4);
	CHECK(xvio_vqd_kick_prepare(t.d));
	add(&t, 5);
	CHECK(!xvio_vqd_kick_prepare(t.d));
	/* Polling: the event stays behind everything until re-enabled. */
	xvio_vqdev_disable_kick(t.v);
	CHECK_INT(vqt_avail_event(&t), ==, 1);
	pop(&t);
	pop(&t);
	pop(&t);
	pop_empty(&t);
	CHECK_INT(vqt_avail_event(&t), ==, 1);
	add(&t, 6);
	CHECK(!xvio_vqd_kick_prepare(t.d));
	CHECK(!xvio_vqdev_enable_kick(t.v));           /* 6 arrived meanwhile */
	CHECK_INT(vqt_avail_event(&t), ==, 5);
	pop(&t);
	pop_empty(&t);
	CHECK(xvio_vqdev_enable_kick(t.v));
	CHECK_INT(vqt_avail_event(&t), ==, 6);
	add(&t, 7);
	CHECK(xvio_vqd_kick_prepare(t.d));
	vqt_close(&t);
}

/* Push the chain popped k-th (heads are 0, 1, 2... for single descs). */
static void push(struct vqt *t, uint16_t head)
{
	CHECK_INT(xvio_vqdev_push(t->v, head, 0), ==, 0);
}

static void t_irq_flags(void)
{
	struct vqt t;

	vqt_open(&t, 8, 0);
	for (uintptr_t i = 1; i <= 5; i++)
		add(&t, i);
	(void)xvio_vqd_kick_prepare(t.d);
	for (int i = 0; i < 5; i++)
		pop(&t);
	CHECK(!xvio_vqdev_need_notify(t.v));           /* nothing pushed */
	push(&t, 0);
	CHECK(xvio_vqdev_need_notify(t.v));
	CHECK(!xvio_vqdev_need_notify(t.v));           /* nothing new */
	xvio_vqd_disable_cb(t.d);
	CHECK(vqt_avail_flags(&t) & VRING_AVAIL_F_NO_INTERRUPT);
	push(&t, 1);
	CHECK(!xvio_vqdev_need_notify(t.v));           /* suppressed */
	CHECK(!xvio_vqd_enable_cb(t.d));               /* 2 pending: poll again */
	CHECK(!(vqt_avail_flags(&t) & VRING_AVAIL_F_NO_INTERRUPT));
	get(&t);
	get(&t);
	get_empty(&t);
	CHECK(xvio_vqd_enable_cb(t.d));
	push(&t, 2);
	CHECK(xvio_vqdev_need_notify(t.v));
	vqt_close(&t);
}

static void t_irq_event_idx(void)
{
	struct vqt t;

	vqt_open(&t, 8, F_EVENT_IDX);
	for (uintptr_t i = 1; i <= 7; i++)
		add(&t, i);
	(void)xvio_vqd_kick_prepare(t.d);
	for (int i = 0; i < 7; i++)
		pop(&t);
	push(&t, 0);
	CHECK(xvio_vqdev_need_notify(t.v));            /* used_event 0 crossed */
	push(&t, 1);
	CHECK(!xvio_vqdev_need_notify(t.v));           /* driver not idle yet */
	get(&t);
	get(&t);
	get_empty(&t);                                 /* arms used_event */
	CHECK_INT(vqt_used_event(&t), ==, 2);
	CHECK_INT(vqt_avail_flags(&t), ==, 0);
	push(&t, 2);
	push(&t, 3);
	CHECK(xvio_vqdev_need_notify(t.v));
	push(&t, 4);
	CHECK(!xvio_vqdev_need_notify(t.v));
	xvio_vqd_disable_cb(t.d);
	CHECK_INT(vqt_used_event(&t), ==, 1);
	get(&t);
	get(&t);
	get(&t);
	get_empty(&t);
	CHECK_INT(vqt_used_event(&t), ==, 1);          /* polling: not armed */
	push(&t, 5);
	CHECK(!xvio_vqdev_need_notify(t.v));
	CHECK(!xvio_vqd_enable_cb(t.d));               /* 5 arrived meanwhile */
	CHECK_INT(vqt_used_event(&t), ==, 5);
	get(&t);
	get_empty(&t);
	CHECK(xvio_vqd_enable_cb(t.d));
	push(&t, 6);
	CHECK(xvio_vqdev_need_notify(t.v));
	vqt_close(&t);
}

/* ---- two threads, each sleeping until the other notifies ---- */

#define THREAD_REQS 60000u
#define WAIT_SECS 10

struct duo {
	struct vqt t;
	bool poll;            /* use disable/enable instead of plain sleeping */
	sem_t kick, irq;
	unsigned kicks, irqs;
	volatile bool stop;
	uint64_t completed;
};

/* Wait for a notification; a timeout means a lost wakeup. */
static void wait_sem(sem_t *s, const char *who)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_SECS;
	while (sem_timedwait(s, &ts) != 0) {
		if (errno != EINTR)
			CHECK_FAIL("%s: no notification for %d s: lost wakeup", who, WAIT_SECS);
	}
}

/* Pop everything, complete it, notify if asked; false when idle. */
static bool device_pass(struct duo *x)
{
	static struct xvio_chain c;
	bool any = false;
	int rc;

	while ((rc = xvio_vqdev_pop(x->t.v, &x->t.xl, &c)) == 1) {
		CHECK_INT(xvio_vqdev_push(x->t.v, c.head, c.in_bytes), ==, 0);
		any = true;
	}
	CHECK_INT(rc, ==, 0);
	if (xvio_vqdev_need_notify(x->t.v)) {
		x->irqs++;
		sem_post(&x->irq);
	}
	return any;
}

static void *device_thread(void *arg)
{
	struct duo *x = arg;

	while (!x->stop) {
		if (x->poll) {
			xvio_vqdev_disable_kick(x->t.v);
			while (device_pass(x))
				;
			if (!xvio_vqdev_enable_kick(x->t.v))
				continue;
		} else if (device_pass(x)) {
			continue;
		}
		wait_sem(&x->kick, "device");
	}
	return NULL;
}

static unsigned driver_reap(struct duo *x)
{
	unsigned n = 0;
	void *cookie;
	uint32_t len;
	int rc;

	while ((rc = xvio_vqd_get_used(x->t.d, &cookie, &len)) == 1) {
		CHECK(cookie == (void *)(uintptr_t)(x->completed + 1));
		CHECK_INT(len, ==, 256);
		x->completed++;
		n++;
	}
	CHECK_INT(rc, ==, 0);
	return n;
}

static void driver_loop(struct duo *x)
{
	uint64_t submitted = 0;

	while (x->completed < THREAD_REQS) {
		struct xvio_seg s = { .addr = 0, .len = 256, .write = true };
		unsigned batch = 0;

		while (submitted < THREAD_REQS && batch < 5 &&
		       xvio_vqd_add(x->t.d, &s, 1, (void *)(uintptr_t)(submitted + 1),
		                    NULL) == 0) {
			submitted++;
			batch++;
		}
		if (batch && xvio_vqd_kick_prepare(x->t.d)) {
			x->kicks++;
			sem_post(&x->kick);
		}
		if (x->poll)
			xvio_vqd_disable_cb(x->t.d);
		if (driver_reap(x))
			continue;
		if (x->poll && !xvio_vqd_enable_cb(x->t.d))
			continue;
		/* Submitting more is possible: do that instead of sleeping. */
		if (submitted < THREAD_REQS && xvio_vqd_free_descs(x->t.d))
			continue;
		if (x->completed < THREAD_REQS)
			wait_sem(&x->irq, "driver");
	}
}

static void duo_run(uint64_t feat, bool poll)
{
	static struct duo x;
	pthread_t th;

	memset(&x, 0, sizeof(x));
	vqt_open(&x.t, 16, feat);
	x.poll = poll;
	CHECK(sem_init(&x.kick, 0, 0) == 0);
	CHECK(sem_init(&x.irq, 0, 0) == 0);
	CHECK(pthread_create(&th, NULL, device_thread, &x) == 0);
	driver_loop(&x);
	x.stop = true;
	sem_post(&x.kick);
	CHECK(pthread_join(th, NULL) == 0);
	fprintf(stderr, "%u requests: %u kicks, %u interrupts\n", THREAD_REQS, x.kicks, x.irqs);
	CHECK_INT(x.completed, ==, THREAD_REQS);
	CHECK_INT(xvio_vqd_in_flight(x.t.d), ==, 0);
	sem_destroy(&x.kick);
	sem_destroy(&x.irq);
	vqt_close(&x.t);
}

static void t_threads(void)
{
	duo_run(0, false);
}

static void t_threads_event_idx(void)
{
	duo_run(F_EVENT_IDX, false);
}

static void t_threads_poll(void)
{
	duo_run(0, true);
}

static void t_threads_poll_event_idx(void)
{
	duo_run(F_EVENT_IDX, true);
}

/* Add chains with cookies 1..n and publish them. */
static void add_published(struct vqt *t, uintptr_t n)
{
	for (uintptr_t i = 1; i <= n; i++)
		add(t, i);
	xvio_vqd_kick_prepare(t->d);
}

/* push_defer: each completion of a lone request is visible at once. */
static void t_defer_alone(void)
{
	struct vqt t;

	vqt_open(&t, 8, 0);
	for (uint16_t i = 1; i <= 3; i++) {
		add_published(&t, 1);
		CHECK_INT(xvio_vqdev_push_defer(t.v, pop(&t), 0), ==, 0);
		CHECK_INT(vqt_used_idx(&t), ==, i);
		get(&t);
	}
	vqt_close(&t);
}

/* push_defer holds entries back while the batch can still grow: another
 * chain popped, or one seen waiting; the last of them publishes all. */
static void t_defer_batch(void)
{
	struct vqt t;
	uint16_t h[3];

	vqt_open(&t, 8, 0);
	add_published(&t, 3);
	h[0] = pop(&t);
	CHECK_INT(xvio_vqdev_push_defer(t.v, h[0], 0), ==, 0);
	CHECK_INT(vqt_used_idx(&t), ==, 0);             /* two seen waiting */
	h[1] = pop(&t);
	h[2] = pop(&t);
	CHECK_INT(xvio_vqdev_push_defer(t.v, h[1], 0), ==, 0);
	CHECK_INT(vqt_used_idx(&t), ==, 0);             /* h[2] still popped */
	CHECK_INT(xvio_vqdev_push_defer(t.v, h[2], 0), ==, 0);
	CHECK_INT(vqt_used_idx(&t), ==, 3);
	get(&t);
	get(&t);
	get(&t);
	get_empty(&t);
	vqt_close(&t);
}

/* A batch that keeps growing is published every 16 entries. */
static void t_defer_sixteen(void)
{
	struct vqt t;
	uint16_t h[20];

	vqt_open(&t, 32, 0);
	add_published(&t, 20);
	for (unsigned i = 0; i < 20; i++)
		h[i] = pop(&t);
	for (unsigned i = 0; i < 20; i++) {
		CHECK_INT(xvio_vqdev_push_defer(t.v, h[i], 0), ==, 0);
		CHECK_INT(vqt_used_idx(&t), ==, i < 15 ? 0 : i < 19 ? 16 : 20);
	}
	vqt_close(&t);
}

static const struct check_case cases[] = {
	{ "defer-alone", t_defer_alone },
	{ "defer-batch", t_defer_batch },
	{ "defer-sixteen", t_defer_sixteen },
	{ "kick-flags", t_kick_flags },
	{ "kick-event-idx", t_kick_event_idx },
	{ "irq-flags", t_irq_flags },
	{ "irq-event-idx", t_irq_event_idx },
	{ "threads", t_threads },
	{ "threads-event-idx", t_threads_event_idx },
	{ "threads-poll", t_threads_poll },
	{ "threads-poll-event-idx", t_threads_poll_event_idx },
};

int main(int argc, char **argv)
{
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
