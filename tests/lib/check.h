/* SPDX-License-Identifier: MIT */
/*
 * Assertions for test programs.  A failed check prints where and why and
 * exits with status 1; meson counts it as a failure.  There is no skip:
 * a test missing a component fails loudly instead.
 */
#ifndef XVIO_TEST_CHECK_H
#define XVIO_TEST_CHECK_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_FAIL(...)                                                       \
	do {                                                                  \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);               \
		fprintf(stderr, __VA_ARGS__);                                 \
		fputc('\n', stderr);                                          \
		exit(1);                                                      \
	} while (0)

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (!(cond))                                                  \
			CHECK_FAIL("check failed: %s (errno %d: %s)", #cond,  \
			           errno, strerror(errno));                   \
	} while (0)

#define CHECK_INT(a, op, b)                                                   \
	do {                                                                  \
		long long _a = (long long)(a), _b = (long long)(b);           \
		if (!(_a op _b))                                              \
			CHECK_FAIL("check failed: %s %s %s (%lld vs %lld)",   \
			           #a, #op, #b, _a, _b);                      \
	} while (0)

#define CHECK_STR(a, b)                                                       \
	do {                                                                  \
		const char *_a = (a), *_b = (b);                              \
		if (!_a || !_b || strcmp(_a, _b) != 0)                        \
			CHECK_FAIL("check failed: %s == %s (\"%s\" vs \"%s\")", \
			           #a, #b, _a ? _a : "(null)",                \
			           _b ? _b : "(null)");                       \
	} while (0)

/* A libxenstore-style call that must fail with a given errno. */
#define CHECK_ERRNO(call, err)                                                \
	do {                                                                  \
		errno = 0;                                                    \
		if (call)                                                     \
			CHECK_FAIL("expected %s to fail with %s", #call, #err); \
		if (errno != (err))                                           \
			CHECK_FAIL("%s: errno %d (%s), expected %s", #call,   \
			           errno, strerror(errno), #err);             \
	} while (0)

#endif
