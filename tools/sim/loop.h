/* SPDX-License-Identifier: MIT */
/*
 * The simulator's event loop: one thread, epoll, callbacks.
 *
 * A source removed with loop_del() is never called again, even if it is
 * already in the batch being dispatched; its record is freed after the
 * batch.  So a callback may tear down any connection, including its own.
 */
#ifndef SIM_LOOP_H
#define SIM_LOOP_H

#include <stdint.h>

struct loop;
struct loop_src;

/* `events` are EPOLLIN/EPOLLOUT/EPOLLHUP/EPOLLERR as returned by epoll. */
typedef void loop_cb(void *arg, uint32_t events);

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Watch fd for `events`.  Returns the source or NULL with errno set. */
struct loop_src *loop_add(struct loop *l, int fd, uint32_t events, loop_cb *cb, void *arg);
int loop_mod(struct loop *l, struct loop_src *s, uint32_t events);
/* Stop watching; does not close the fd. */
void loop_del(struct loop *l, struct loop_src *s);

/* Dispatch until loop_stop(); returns 0, or -errno if epoll fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
