/* SPDX-License-Identifier: MIT */
/*
 * The xvio_test device (kind `xvio_test`, virtio id 65520): a test tool
 * for the transport, never used in production.
 *
 * A request is some readable segments R (r bytes in all, in order) and
 * some writable segments W (w bytes).  With the device's seed s (its
 * config key `config/seed`, decimal u32), let S be the 8 little-endian
 * bytes of s * 0x9E3779B97F4A7C15 (mod 2^64) and
 *
 *   K[j] = R[j] ^ S[j]         for j < 8 (R[j] = 0 when j >= r)
 *   W[i] = R[i mod r] ^ K[i mod 8]   (R[...] = 0 when r = 0)
 *
 * The device writes all of W and completes with len = w.  The frontend
 * puts a 64-bit sequence number in R[0..8), so every request has its own
 * key and a completion delivered for the wrong request fails the check.
 */
#ifndef XVIO_TEST_TESTDEV_H
#define XVIO_TEST_TESTDEV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define XT_KIND "xvio_test"
#define XT_VIRTIO_ID 65520u

/*
 * Produce W into the `nout`.. iovecs of `iov` from R in the first `nout`
 * (check = false), or compare instead and return the offset of the first
 * wrong byte of W (check = true; -1 if all of the first w bytes match).
 * Returns -1 when producing.
 */
long xt_xform(uint32_t seed, const struct iovec *iov, unsigned nout, unsigned niov,
              uint64_t w, bool check);

/* The seed a backend gives a device: deterministic, so a restarted backend
 * keeps it. */
uint32_t xt_seed(unsigned frontend_id, unsigned devid);

#endif
