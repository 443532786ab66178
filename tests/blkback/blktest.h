/* SPDX-License-Identifier: MIT */
/*
 * Shared by the blkback tests and their test frontend (blktest-front): the
 * content a sector has after its g-th write (g = 0: the image as the test
 * made it), so anyone can check a disk image sector by sector.
 */
#ifndef XVIO_TEST_BLKTEST_H
#define XVIO_TEST_BLKTEST_H

#include <stdint.h>
#include <string.h>

#include "rng.h"

#define BT_SECTOR 512u

static inline void bt_pattern(uint64_t sector, uint32_t gen, uint8_t out[BT_SECTOR])
{
	uint64_t x = (sector + 1) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)gen << 32 | gen);

	for (unsigned i = 0; i < BT_SECTOR / 8; i++) {
		uint64_t v = test_rng(&x);

		memcpy(out + 8 * i, &v, 8);
	}
}

#endif
