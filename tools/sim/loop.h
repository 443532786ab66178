/* SPDX-License-Identifier: MIT */
/*
 * The simulator's event loop: one thread, epoll, callbacks.
 *
 * A source removed with loop_del() is never called again, even if it is
 * already in the batch being dispatched; its record is freed after the
 * batch.  So a callback may tear down any connection, including its own.
 * Timers give the same guarantee: once disarmed or freed, never called.
 */
#ifndef SIM_LOOP_H
#define SIM_LOOP_H

#include <stdint.h>

struct loop;
struct loop_src;
struct loop_timer;

/* `events` are EPOLLIN/EPOLLOUT/EPOLLHUP/EPOLLERR as returned by epoll. */
typedef void loop_cb(void *arg, uint32_t events);
typedef void loop_timer_cb(void *arg);

struct loop *loop_new(void);
/* Call after every source is removed and every timer freed. */
void loop_free(struct loop *l);

/* Watch fd for `events`.  Returns the source or NULL with errno set. */
struct loop_src *loop_add(struct loop *l, int fd, uint32_t events, loop_cb *cb, void *arg);
int loop_mod(struct loop *l, struct loop_src *s, uint32_t events);
/* Stop watching; does not close the fd. */
void loop_del(struct loop *l, struct loop_src *s);

/*
 * One-shot timers, all multiplexed on one timerfd per loop, so a timer
 * costs no descriptor and arming one cannot fail: the code that needs a
 * timer most is the code that runs out of descriptors and memory.  A timer
 * is made once (NULL with errno on failure), then armed and disarmed at
 * will; it calls cb(arg) once, `ms` milliseconds after the last
 * loop_timer_arm(), unless disarmed or freed before.  Arming an armed
 * timer moves its deadline.  Timers due together run in the order their
 * deadlines were set.  A callback may arm, disarm or free any timer,
 * including its own.
 */
struct loop_timer *loop_timer_new(struct loop *l, loop_timer_cb *cb, void *arg);
void loop_timer_arm(struct loop_timer *t, unsigned ms);
void loop_timer_disarm(struct loop_timer *t);
void loop_timer_free(struct loop_timer *t);

/* Dispatch until loop_stop(); returns 0, or -errno if epoll fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
