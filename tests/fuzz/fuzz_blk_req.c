/* SPDX-License-Identifier: MIT */
/*
 * Fuzz xvio-blkback's request parser (back/blk_req.c) on hostile request
 * bytes cut into hostile iovec layouts: the guest chooses the header, the
 * ranges, the data lengths and how descriptors split them.  Checked on
 * every input:
 *   - a chain without room for the header or the status is refused
 *     (-EPROTO), every other one parses;
 *   - the status byte is the last writable byte;
 *   - the status is OK, IOERR or UNSUPP, and OK only for a request a
 *     reference model written from docs/protocol.md §11.3 accepts (and the
 *     model accepts only what the parser does);
 *   - an accepted read or write's data iovecs cover exactly its data
 *     bytes, inside the request's own buffers and in the right direction;
 *   - nothing is read or written outside the buffers (ASan).
 *
 * Input:
 *   u8  image flags: bit 0 read-only, bit 1 discard offered, bit 2 4 KiB
 *       blocks;  u16 capacity in blocks
 *   u8  readable iovec count (0..8), u8 writable count (0..8), then a u16
 *       length for each (0 allowed)
 *   the readable bytes (header, data, ranges): the rest of the input
 */
#include <endian.h>
#include <errno.h>

#include "blk.h"
#include "fuzz.h"

#define MAX_IOV 8u

static bool range_ok(const struct blk_image *img, uint64_t sector, uint64_t n)
{
	uint64_t per = img->blk_size / 512;

	return sector % per == 0 && n % per == 0 && sector <= img->capacity &&
	       n <= img->capacity - sector;
}

/* The status §11.3 gives a request, from the bytes alone. */
static uint8_t model(const struct blk_image *img, const uint8_t *out, uint64_t out_bytes,
                     uint64_t in_bytes)
{
	struct virtio_blk_outhdr h;
	uint64_t od = out_bytes - sizeof(h), id = in_bytes - 1;
	uint32_t type;

	memcpy(&h, out, sizeof(h));
	type = le32toh(h.type);
	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		uint64_t len = type == VIRTIO_BLK_T_IN ? id : od;

		if ((type == VIRTIO_BLK_T_IN ? od : id) != 0)
			return VIRTIO_BLK_S_IOERR;
		if (type == VIRTIO_BLK_T_OUT && img->ro)
			return VIRTIO_BLK_S_IOERR;
		if (len % 512 || !range_ok(img, le64toh(h.sector), len / 512))
			return VIRTIO_BLK_S_IOERR;
		return VIRTIO_BLK_S_OK;
	}
	case VIRTIO_BLK_T_FLUSH:
		return od || id ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		return od || id == 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		uint32_t allowed = type == VIRTIO_BLK_T_WRITE_ZEROES
		                   ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
		uint8_t st = VIRTIO_BLK_S_OK;

		if (!img->discard)
			return VIRTIO_BLK_S_UNSUPP;
		if (id || img->ro || od == 0 || od % 16 || od / 16 > BLK_MAX_DISCARD_SEG)
			return VIRTIO_BLK_S_IOERR;
		for (uint64_t i = 0; i < od / 16; i++) {
			struct virtio_blk_discard_write_zeroes g;

			memcpy(&g, out + sizeof(h) + i * 16, 16);
			if (le32toh(g.flags) & ~allowed)
				return VIRTIO_BLK_S_UNSUPP;
			if (le32toh(g.num_sectors) > BLK_MAX_DISCARD_SECTORS ||
			    !range_ok(img, le64toh(g.sector), le32toh(g.num_sectors)))
				st = VIRTIO_BLK_S_IOERR;
		}
		return st;
	}
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* Do the iovecs [iov, iov+n) lie inside [base, base+len) and sum to want? */
static bool covers(const struct iovec *iov, unsigned n, const uint8_t *base, size_t len,
                   uint64_t want)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;

		if (p < base || p + iov[i].iov_len > base + len)
			return false;
		sum += iov[i].iov_len;
	}
	return sum == want;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin f = { data, size };
	uint8_t fl = fin_u8(&f);
	struct blk_image img = {
		.ro = fl & 1, .discard = (fl & 2) != 0, .blk_size = (fl & 4) ? 4096 : 512,
	};
	unsigned nout = fin_u8(&f) % (MAX_IOV + 1), nin = fin_u8(&f) % (MAX_IOV + 1);
	struct iovec iov[2 * MAX_IOV], piov[2 * MAX_IOV];
	static struct virtio_blk_discard_write_zeroes ranges[BLK_MAX_DISCARD_SEG];
	struct xvio_xport_breq r = { .iov = iov, .nout = nout, .niov = nout + nin };
	struct blk_parsed p = { .iov = piov, .ranges = ranges };
	uint8_t *out, *in;
	size_t out_len = 0, in_len = 0, o = 0, w = 0;
	uint8_t want;
	int rc;

	img.capacity = (uint64_t)fin_u16(&f) * (img.blk_size / 512);
	for (unsigned i = 0; i < nout + nin; i++) {
		iov[i].iov_len = fin_u16(&f) % 8192u;
		*(i < nout ? &out_len : &in_len) += iov[i].iov_len;
	}
	/* Exact-size allocations: ASan sees any byte beyond them. */
	out = malloc(out_len ? out_len : 1);
	in = malloc(in_len ? in_len : 1);
	FUZZ_CHECK(out && in);
	fin_take(&f, out, out_len);
	memset(in, 0xa5, in_len);
	for (unsigned i = 0; i < nout + nin; i++) {
		iov[i].iov_base = i < nout ? out + o : in + w;
		*(i < nout ? &o : &w) += iov[i].iov_len;
	}
	r.out_bytes = (uint32_t)out_len;
	r.in_bytes = (uint32_t)in_len;

	rc = blk_parse_head(&r, &p);
	if (out_len < sizeof(struct virtio_blk_outhdr) || in_len < 1) {
		FUZZ_CHECK(rc == -EPROTO);
		goto done;
	}
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(p.status_ptr == in + in_len - 1);
	blk_parse_body(&img, &r, &p);
	want = model(&img, out, out_len, in_len);
	if (fuzz_verbose())
		fprintf(stderr, "type %u status %u model %u\n", p.type, p.status, want);
	FUZZ_CHECK(p.status == want);
	if (p.status == VIRTIO_BLK_S_OK && p.type == VIRTIO_BLK_T_IN)
		FUZZ_CHECK(covers(p.iov, p.niov, in, in_len - 1, p.len) && p.len == in_len - 1);
	if (p.status == VIRTIO_BLK_S_OK && p.type == VIRTIO_BLK_T_OUT)
		FUZZ_CHECK(covers(p.iov, p.niov, out + 16, out_len - 16, p.len) &&
		           p.len == out_len - 16);
	if (p.status == VIRTIO_BLK_S_OK && p.type == VIRTIO_BLK_T_GET_ID)
		FUZZ_CHECK(covers(p.iov, p.niov, in, in_len - 1, in_len - 1));
	if (p.status == VIRTIO_BLK_S_OK &&
	    (p.type == VIRTIO_BLK_T_DISCARD || p.type == VIRTIO_BLK_T_WRITE_ZEROES)) {
		FUZZ_CHECK(p.nranges == (out_len - 16) / 16);
		for (unsigned i = 0; i < p.nranges; i++)
			FUZZ_CHECK(range_ok(&img, ranges[i].sector, ranges[i].num_sectors));
	}
done:
	free(out);
	free(in);
	return 0;
}
