/* SPDX-License-Identifier: MIT */
/* xvio-bench ring --paired (bench_paired.c): the spinning depth-1 round
 * trip and its busy-polled baselines in short slices back to back, ratios
 * taken within each triple of slices. */
#ifndef XVIO_BENCH_PAIRED_H
#define XVIO_BENCH_PAIRED_H

/* Runs rounds x 10 triples of -s / 10 seconds per slice; 0 or exits. */
int bench_paired(unsigned spin_us, unsigned rounds);

#endif
