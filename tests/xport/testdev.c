/* SPDX-License-Identifier: MIT */
/* The xvio_test device's transform (testdev.h), eight bytes at a time. */
#include <string.h>

#include "testdev.h"

uint32_t xt_seed(unsigned frontend_id, unsigned devid)
{
	return (uint32_t)(frontend_id * 2654435761u) ^ (devid * 40503u) ^ 0x5eedu;
}

/* A cursor over a list of iovecs. */
struct cur {
	const struct iovec *iov;
	unsigned n, i;
	size_t off;
};

/* Bytes available at the cursor without crossing an iovec (0 at the end). */
static size_t cur_run(struct cur *c)
{
	while (c->i < c->n && c->off == c->iov[c->i].iov_len) {
		c->i++;
		c->off = 0;
	}
	return c->i < c->n ? c->iov[c->i].iov_len - c->off : 0;
}

static uint8_t *cur_ptr(const struct cur *c)
{
	return (uint8_t *)c->iov[c->i].iov_base + c->off;
}

/* The first up-to-8 bytes of R, zero padded, as a little-endian word. */
static uint64_t first8(const struct iovec *iov, unsigned nout)
{
	struct cur c = { iov, nout, 0, 0 };
	uint8_t b[8] = { 0 };
	size_t have = 0, run;

	while (have < 8 && (run = cur_run(&c)) > 0) {
		size_t k = run < 8 - have ? run : 8 - have;

		memcpy(b + have, cur_ptr(&c), k);
		have += k;
		c.off += k;
	}
	return (uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 |
	       (uint64_t)b[3] << 24 | (uint64_t)b[4] << 32 | (uint64_t)b[5] << 40 |
	       (uint64_t)b[6] << 48 | (uint64_t)b[7] << 56;
}

/* Key bytes starting at phase p (= position mod 8), as a word to XOR. */
static uint64_t key_at(uint64_t key, unsigned p)
{
	return p ? key >> (8 * p) | key << (64 - 8 * p) : key;
}

/* XOR n bytes of `in` with the key from phase p into `out`, or compare. */
static long xor_run(uint8_t *out, const uint8_t *in, size_t n, uint64_t key, unsigned p,
                    bool check)
{
	uint64_t k = key_at(key, p);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t a, b;

		memcpy(&a, in + i, 8);
		a ^= k;
		if (check) {
			memcpy(&b, out + i, 8);
			if (a != b)
				break;
		} else {
			memcpy(out + i, &a, 8);
		}
	}
	for (; i < n; i++) {
		uint8_t v = in[i] ^ (uint8_t)(key >> (8 * ((p + i) & 7)));

		if (check && out[i] != v)
			return (long)i;
		if (!check)
			out[i] = v;
	}
	return -1;
}

static const uint8_t zeros[4096];

long xt_xform(uint32_t seed, const struct iovec *iov, unsigned nout, unsigned niov,
              uint64_t w, bool check)
{
	uint64_t key = first8(iov, nout) ^ ((uint64_t)seed * 0x9E3779B97F4A7C15ull);
	struct cur in = { iov, nout, 0, 0 }, out = { iov + nout, niov - nout, 0, 0 };
	bool have_r = cur_run(&in) > 0;
	uint64_t pos = 0;

	while (pos < w) {
		size_t ro = cur_run(&out), ri, n;
		const uint8_t *src;
		long bad;

		if (ro == 0)
			break;
		if (have_r) {
			ri = cur_run(&in);
			if (ri == 0) { /* cycle over R */
				in.i = 0;
				in.off = 0;
				ri = cur_run(&in);
			}
			src = cur_ptr(&in);
		} else {
			ri = sizeof(zeros);
			src = zeros;
		}
		n = ro < ri ? ro : ri;
		if (n > w - pos)
			n = (size_t)(w - pos);
		bad = xor_run(cur_ptr(&out), src, n, key, (unsigned)(pos & 7), check);
		if (bad >= 0)
			return (long)pos + bad;
		if (have_r)
			in.off += n;
		out.off += n;
		pos += n;
	}
	return -1;
}
