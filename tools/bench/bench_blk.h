/* SPDX-License-Identifier: MIT */
/* xvio-bench blk internals: the workloads, shared by the orchestration
 * (bench_blk.c) and the guest side (bench_blk_side.c). */
#ifndef XVIO_BENCH_BLK_H
#define XVIO_BENCH_BLK_H

#include <stdbool.h>
#include <stdint.h>

/* Most requests in flight of a workload. */
#define BLK_MAX_DEPTH 64u
/* Time any one child may take before the bench gives up (seconds). */
#define BLK_SIDE_TIMEOUT 900

struct workload {
	const char *name;
	const char *fio_rw;     /* fio's --rw */
	uint32_t bs;            /* bytes per request */
	unsigned depth;         /* requests in flight */
	bool write, random;
};

enum { WL_RAND4K, WL_SEQREAD, WL_SEQWRITE, WL_N };

extern const struct workload g_blk_wl[WL_N];

#endif
