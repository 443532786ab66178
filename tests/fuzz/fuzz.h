/* SPDX-License-Identifier: MIT */
/*
 * Shared by the fuzz targets: the libFuzzer entry point, an invariant
 * check that crashes (so libFuzzer and the replay test both see it), and
 * a reader that turns the input into values, yielding zeros once the
 * input is used up (every input is valid, short ones included).
 */
#ifndef XVIO_FUZZ_H
#define XVIO_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",      \
			        __FILE__, __LINE__, #cond);                   \
			abort();                                              \
		}                                                             \
	} while (0)

/* $XVIO_FUZZ_VERBOSE set: targets say what each input did (replay only). */
static inline int fuzz_verbose(void)
{
	static int v = -1;

	if (v < 0)
		v = getenv("XVIO_FUZZ_VERBOSE") != NULL;
	return v;
}

struct fin {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fin_u8(struct fin *f)
{
	if (f->n == 0)
		return 0;
	f->n--;
	return *f->p++;
}

static inline uint16_t fin_u16(struct fin *f)
{
	uint16_t lo = fin_u8(f);

	return (uint16_t)(lo | fin_u8(f) << 8);
}

static inline uint32_t fin_u32(struct fin *f)
{
	uint32_t lo = fin_u16(f);

	return lo | (uint32_t)fin_u16(f) << 16;
}

static inline uint64_t fin_u64(struct fin *f)
{
	uint64_t lo = fin_u32(f);

	return lo | (uint64_t)fin_u32(f) << 32;
}

/* Copy up to len bytes into dst; the rest of dst is zeroed. */
static inline void fin_take(struct fin *f, void *dst, size_t len)
{
	size_t k = len < f->n ? len : f->n;

	if (k)
		memcpy(dst, f->p, k);
	memset((uint8_t *)dst + k, 0, len - k);
	f->p += k;
	f->n -= k;
}

#endif
