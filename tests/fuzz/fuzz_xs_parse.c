/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the xenstore value parsers of xenbus.h on arbitrary bytes: a peer
 * writes whatever it likes into its nodes.  Numbers are checked against a
 * reference parser written from the header's rules (differential), every
 * other parser against its one-line contract, and every error message
 * must be a NUL-terminated line of printable text.
 *
 * Input:
 *   u8   which parser (u64, i64, bool, enum, str) and u8 flags
 *   u64  min, u64 max (numbers), or the limit (strings)
 *   u8   size of xvio_quote's output buffer (8..263)
 *   the value: the rest of the input, not NUL-terminated
 */
#include <errno.h>
#include <stdbool.h>

#include "fuzz.h"
#include "xenbus.h"

struct ref {
	int rc;
	bool neg;
	uint64_t mag;
};

static bool blank(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/*
 * The header's rules, independently: optional blanks (SPACE), a sign
 * ('-' for signed, '+' with PLUS), digits only, no leading zero unless
 * ZEROS, magnitude within u64 (junk after an overflow is still junk).
 */
static struct ref ref_parse(const uint8_t *v, size_t len, unsigned flags, bool is_signed)
{
	struct ref r = { 0, false, 0 };
	size_t b = 0, e = len;
	bool over = false;

	if (memchr(v, 0, len))
		return (struct ref){ -EINVAL, false, 0 };
	if (flags & XVIO_NUM_SPACE) {
		while (b < e && blank(v[b]))
			b++;
		while (e > b && blank(v[e - 1]))
			e--;
	}
	if (b < e && v[b] == '-' && is_signed) {
		r.neg = true;
		b++;
	} else if (b < e && v[b] == '+' && (flags & XVIO_NUM_PLUS)) {
		b++;
	}
	if (b == e || (v[b] == '0' && e - b > 1 && !(flags & XVIO_NUM_ZEROS)))
		return (struct ref){ -EINVAL, false, 0 };
	for (size_t i = b; i < e; i++) {
		if (v[i] < '0' || v[i] > '9')
			return (struct ref){ -EINVAL, false, 0 };
		if (r.mag > (UINT64_MAX - (v[i] - '0')) / 10)
			over = true;
		r.mag = r.mag * 10 + (uint64_t)(v[i] - '0');
	}
	if (over)
		r.rc = -ERANGE;
	return r;
}

static void check_err(int rc, const struct xvio_err *e)
{
	size_t n = strnlen(e->msg, sizeof(e->msg));

	FUZZ_CHECK(n < sizeof(e->msg));
	FUZZ_CHECK(e->err == -rc);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(e->msg[i] >= 0x20 && e->msg[i] < 0x7f);
}

static void fuzz_u64(const char *v, size_t len, unsigned flags, uint64_t lo, uint64_t hi)
{
	struct ref r = ref_parse((const uint8_t *)v, len, flags, false);
	struct xvio_err e = { 0 };
	uint64_t out = 0;
	int rc = xvio_parse_u64("fuzz", v, len, flags, lo, hi, &out, &e);

	if (r.rc == 0 && (r.mag < lo || r.mag > hi))
		r.rc = -ERANGE;
	FUZZ_CHECK(rc == r.rc);
	if (rc == 0)
		FUZZ_CHECK(out == r.mag && out >= lo && out <= hi);
	else
		check_err(rc, &e);
}

static void fuzz_i64(const char *v, size_t len, unsigned flags, int64_t lo, int64_t hi)
{
	struct ref r = ref_parse((const uint8_t *)v, len, flags, true);
	struct xvio_err e = { 0 };
	int64_t out = 0, want = 0;
	int rc = xvio_parse_i64("fuzz", v, len, flags, lo, hi, &out, &e);

	if (r.rc == 0) {
		if (r.mag > (uint64_t)INT64_MAX + r.neg)
			r.rc = -ERANGE;
		else
			want = r.neg ? (int64_t)(0 - r.mag) : (int64_t)r.mag;
	}
	if (r.rc == 0 && (want < lo || want > hi))
		r.rc = -ERANGE;
	FUZZ_CHECK(rc == r.rc);
	if (rc == 0)
		FUZZ_CHECK(out == want && out >= lo && out <= hi);
	else
		check_err(rc, &e);
}

static void fuzz_bool(const char *v, size_t len)
{
	struct xvio_err e = { 0 };
	bool out = false;
	int rc = xvio_parse_bool("fuzz", v, len, &out, &e);
	bool ok = len == 1 && (v[0] == '0' || v[0] == '1');

	FUZZ_CHECK(rc == (ok ? 0 : -EINVAL));
	if (ok)
		FUZZ_CHECK(out == (v[0] == '1'));
	else
		check_err(rc, &e);
}

static void fuzz_enum(const char *v, size_t len)
{
	static const struct xvio_enum tab[] = {
		{ "data-area", 1 }, { "grant", 2 }, { "", 3 }, { "grant2", 4 }, { NULL, 0 },
	};
	struct xvio_err e = { 0 };
	int out = 0, want = 0;
	int rc = xvio_parse_enum("fuzz", v, len, tab, &out, &e);

	for (const struct xvio_enum *t = tab; t->name; t++)
		if (strlen(t->name) == len && memcmp(t->name, v, len) == 0)
			want = t->value;
	FUZZ_CHECK(rc == (want ? 0 : -EINVAL));
	if (want)
		FUZZ_CHECK(out == want);
	else
		check_err(rc, &e);
}

static void fuzz_str(const char *v, size_t len, size_t max)
{
	struct xvio_err e = { 0 };
	int rc = xvio_check_str("fuzz", v, len, max, &e);

	if (memchr(v, 0, len))
		FUZZ_CHECK(rc == -EINVAL);
	else if (len > max)
		FUZZ_CHECK(rc == -E2BIG);
	else
		FUZZ_CHECK(rc == (int)len);
	if (rc < 0)
		check_err(rc, &e);
}

/* Quoting: bounded, terminated, printable, and a prefix-faithful copy. */
static void fuzz_quote(const char *v, size_t len, size_t size)
{
	char *out = malloc(size);
	size_t n;

	FUZZ_CHECK(out);
	FUZZ_CHECK(xvio_quote(out, size, v, len) == out);
	n = strnlen(out, size);
	FUZZ_CHECK(n < size);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(out[i] >= 0x20 && out[i] < 0x7f);
	if (len > 0 && v[0] >= 0x20 && v[0] < 0x7f && v[0] != '"' && v[0] != '\\')
		FUZZ_CHECK(out[0] == v[0]);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin f = { .p = data, .n = size };
	uint8_t which = fin_u8(&f);
	unsigned flags = fin_u8(&f) & 7;
	uint64_t lo = fin_u64(&f), hi = fin_u64(&f);
	size_t qsize = 8 + (size_t)fin_u8(&f);
	/* A private, exactly sized copy: ASan sees any read past the value. */
	char *v = malloc(f.n ? f.n : 1);

	FUZZ_CHECK(v);
	if (f.n)
		memcpy(v, f.p, f.n);
	switch (which % 5) {
	case 0: fuzz_u64(v, f.n, flags, lo, hi); break;
	case 1: fuzz_i64(v, f.n, flags, (int64_t)lo, (int64_t)hi); break;
	case 2: fuzz_bool(v, f.n); break;
	case 3: fuzz_enum(v, f.n); break;
	default: fuzz_str(v, f.n, (size_t)(lo % 4096)); break;
	}
	fuzz_quote(v, f.n, qsize);
	free(v);
	return 0;
}
