/* SPDX-License-Identifier: MIT */
/*
 * The tests' pseudo-random numbers: xorshift64*, reproducible from a seed
 * and plenty for request shapes and data patterns.  Header-only, so that
 * the test programs that do not link the test library (the test
 * frontends) share it too.
 */
#ifndef XVIO_TEST_RNG_H
#define XVIO_TEST_RNG_H

#include <stdint.h>

/* The next number of the sequence in *state (which must not be 0). */
static inline uint64_t test_rng(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

#endif
