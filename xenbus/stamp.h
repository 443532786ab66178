/* SPDX-License-Identifier: MIT */
/*
 * Time stamps at the four points where a virtqueue index crosses between
 * the two sides, for `xvio-bench ring --breakdown` only (docs/performance.md,
 * "Where a depth-1 round trip goes").  A round trip of one request spends
 * most of its time on two cache-line transfers and on each side's work;
 * to tell them apart the bench needs the moment each index store is made
 * and the moment the peer first sees it, and only the vq layer knows
 * those.
 *
 * Off by default (xvio_stamp_on false): each point then costs one load
 * and a branch that is never taken.  When on, a point costs an lfence and
 * an rdtsc (tens of cycles), which the breakdown's figures include.
 *
 * Process-global and not thread-safe: each field holds the latest stamp
 * of any queue in the process.  The bench reads them from its request and
 * completion callbacks with one request in flight on one queue, where the
 * latest stamp is the one of that request.  Nothing else may rely on them.
 *
 * The points, each paired with the one on the other side it is
 * subtracted from:
 *   driver_pub   the driver is about to store avail.idx (release), a new
 *                chain in it; paired with device_seen.
 *   device_seen  the device read an avail.idx with chains it had not
 *                taken; paired with driver_pub.
 *   device_pub   the device has just stored used.idx (release); paired
 *                with driver_seen.
 *   driver_seen  the driver read a used.idx with completions it had not
 *                taken; paired with device_pub.
 *
 * The unit is whatever xvio_stamp_now() counts: TSC ticks on x86 (the
 * bench calibrates them against CLOCK_MONOTONIC and needs a TSC that is
 * constant and synchronized across CPUs, which it checks), nanoseconds
 * elsewhere.
 */
#ifndef XVIO_STAMP_H
#define XVIO_STAMP_H

#include <stdbool.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#else
#include <time.h>
#endif

struct xvio_stamps {
	uint64_t driver_pub;
	uint64_t driver_seen;
	uint64_t device_seen;
	uint64_t device_pub;
};

extern bool xvio_stamp_on;
extern struct xvio_stamps xvio_stamps;

static inline uint64_t xvio_stamp_now(void)
{
#if defined(__x86_64__) || defined(__i386__)
	/* rdtsc is not ordered: without the fence it may be executed
	 * before the loads and stores ahead of it are done, which would
	 * move the stamp earlier than the point it marks. */
	_mm_lfence();
	return __rdtsc();
#else
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

/* Stamp point `field` if stamping is on and `cond` holds.  The flag is
 * tested first so that, off, the point costs no more than that test. */
#define XVIO_STAMP_IF(cond, field)                                         \
	do {                                                               \
		if (__builtin_expect(xvio_stamp_on, 0) && (cond))          \
			xvio_stamps.field = xvio_stamp_now();              \
	} while (0)

#define XVIO_STAMP(field) XVIO_STAMP_IF(true, field)

#endif
