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

/* One named case of a test program; meson passes the name as argv[1]. */
struct check_case {
	const char *name;
	void (*fn)(void);
};

#define CHECK_NCASES(cases) (sizeof(cases) / sizeof((cases)[0]))

/*
 * Run the case named by argv[1] between setup() and teardown() (either may
 * be NULL) and return main()'s status.  A missing or unknown name fails:
 * a misspelt case in meson.build must not pass as a test that ran nothing.
 */
static inline int check_run_case(int argc, char **argv, const struct check_case *cases,
                                 size_t n, void (*setup)(void), void (*teardown)(void))
{
	if (argc != 2)
		CHECK_FAIL("usage: %s CASE", argv[0]);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[1], cases[i].name) != 0)
			continue;
		if (setup)
			setup();
		cases[i].fn();
		if (teardown)
			teardown();
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "known case: %s\n", cases[i].name);
	CHECK_FAIL("unknown case %s", argv[1]);
}

#endif
