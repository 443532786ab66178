/* SPDX-License-Identifier: MIT */
/* xvio-bench ring internals shared with --breakdown (bench_breakdown.c):
 * the frontend's phases and the processes and device of one run. */
#ifndef XVIO_BENCH_RING_H
#define XVIO_BENCH_RING_H

#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

#include <xenstore.h>

#include "bench.h"
#include "xport.h"

/* What one phase does: keep `depth` in flight until `count` completed
 * (count > 0) or until `seconds` passed (count == 0). */
struct phase {
	unsigned depth;
	uint64_t count;
	double seconds;
};

/* The frontend (in the guest): connect to device `devid`, run phases
 * (returns each one's seconds), count wrong answers, disconnect. */
void rf_init(unsigned spin_us, unsigned devid, struct pollfd *pfd,
             struct xvio_xport_front **f);
double rf_phase(struct pollfd *pfd, const struct phase *ph);
/* Requests completed in the last phase. */
uint64_t rf_done(void);
/* Disconnect; 1 with a message naming `who` if any answer was wrong,
 * else 0 (the frontend process's exit status). */
int rf_fini(struct xvio_xport_front *f, const char *who);

/* A private simulator with one guest domain, this process in dom0 and
 * connected to its xenstore: what every ring mode runs in. */
struct ring_scene {
	struct sim sim;
	struct xs_handle *xs;
	int guest;
};
void ring_scene_start(struct ring_scene *rs);
void ring_scene_stop(struct ring_scene *rs);

struct ring_opts;
void make_device(struct xs_handle *xs, int guest, unsigned devid);
void remove_device(struct xs_handle *xs, int guest, unsigned devid);
/* A forked child running one side (0: frontend, 1: backend), pinned. */
pid_t fork_side(unsigned side);
/* The backend, forked (o and out NULL) or under callgrind. */
pid_t start_back(const struct ring_opts *o, unsigned spin_us, const char *out);
void stop_back(pid_t pid);

#endif
