/* SPDX-License-Identifier: MIT */
/*
 * Unit: blk_req.c, the parsing and validation of virtio-blk requests over
 * iovecs (protocol §11.3), without a transport.
 *
 *   layout     header split over two iovecs and sharing one with data;
 *              status sharing the last data iovec; data iovecs exact
 *   noroom     no room for the header or the status: -EPROTO
 *   checks     range, alignment (4096-byte blocks), read-only, shapes,
 *              types, discard ranges and flags, in the documented order
 *   iov        slice / advance / read / write helpers at the edges
 *   serial     stable for the same numbers, different for others
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "blk.h"
#include "check.h"

static struct iovec iov[16];
static struct xvio_xport_breq req;
static struct iovec data[32];
static struct virtio_blk_discard_write_zeroes ranges[BLK_MAX_DISCARD_SEG];

static struct blk_image disk(uint64_t cap, uint32_t blk, bool ro, bool discard)
{
	struct blk_image img = { .fd = -1, .capacity = cap, .blk_size = blk, .ro = ro,
	                         .discard = discard };

	return img;
}

static void hdr(uint8_t *p, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { htole32(type), 0, htole64(sector) };

	memcpy(p, &h, sizeof(h));
}

/* readable bytes rd (split at cuts_r), writable wr_len bytes (cut at cuts_w) */
static void make(uint8_t *rd, uint32_t rd_len, const uint32_t *cr, uint8_t *wr, uint32_t wr_len,
                 const uint32_t *cw)
{
	unsigned n = 0;
	uint32_t at = 0;

	for (; cr && *cr; cr++) {
		iov[n++] = (struct iovec){ rd + at, *cr };
		at += *cr;
	}
	if (at < rd_len)
		iov[n++] = (struct iovec){ rd + at, rd_len - at };
	req.nout = n;
	at = 0;
	for (; cw && *cw; cw++) {
		iov[n++] = (struct iovec){ wr + at, *cw };
		at += *cw;
	}
	if (at < wr_len)
		iov[n++] = (struct iovec){ wr + at, wr_len - at };
	req.niov = n;
	req.iov = iov;
	req.out_bytes = rd_len;
	req.in_bytes = wr_len;
}

static uint8_t parse(const struct blk_image *img, struct blk_parsed *p)
{
	memset(p, 0, sizeof(*p));
	p->iov = data;
	p->ranges = ranges;
	CHECK_INT(blk_parse_head(&req, p), ==, 0);
	blk_parse_body(img, &req, p);
	return p->status;
}

static void test_layout(void)
{
	struct blk_image img = disk(100, 512, false, false);
	uint8_t rd[16 + 1024], wr[1024 + 1];
	static const uint32_t cr[] = { 8, 100, 0 }, cw[] = { 700, 0 };
	struct blk_parsed p;

	/* OUT: header in 8 + 8 bytes, the second iovec carrying data too. */
	hdr(rd, VIRTIO_BLK_T_OUT, 7);
	make(rd, 16 + 1024, cr, wr, 1, NULL);
	CHECK_INT(parse(&img, &p), ==, VIRTIO_BLK_S_OK);
	CHECK_INT(p.type, ==, VIRTIO_BLK_T_OUT);
	CHECK_INT(p.sector, ==, 7);
	CHECK_INT(p.len, ==, 1024);
	CHECK_INT(p.niov, ==, 2);
	CHECK(p.iov[0].iov_base == rd + 16 && p.iov[0].iov_len == 92);
	CHECK(p.iov[1].iov_base == rd + 108 && p.iov[1].iov_len == 932);
	CHECK(p.status_ptr == wr);
	/* IN: status shares the last data iovec. */
	hdr(rd, VIRTIO_BLK_T_IN, 1);
	make(rd, 16, NULL, wr, 1025, cw);
	CHECK_INT(parse(&img, &p), ==, VIRTIO_BLK_S_OK);
	CHECK_INT(p.len, ==, 1024);
	CHECK_INT(p.niov, ==, 2);
	CHECK(p.iov[0].iov_base == wr && p.iov[0].iov_len == 700);
	CHECK(p.iov[1].iov_base == wr + 700 && p.iov[1].iov_len == 324);
	CHECK(p.status_ptr == wr + 1024);
	/* The header is copied: changing the guest's bytes later changes
	 * nothing already parsed. */
	hdr(rd, VIRTIO_BLK_T_IN, 99);
	CHECK_INT(p.sector, ==, 1);
}

static void test_noroom(void)
{
	uint8_t rd[32] = { 0 }, wr[4];
	struct blk_parsed p = { .iov = data, .ranges = ranges };

	make(rd, 15, NULL, wr, 1, NULL);
	CHECK_INT(blk_parse_head(&req, &p), ==, -EPROTO);
	make(rd, 16, NULL, wr, 0, NULL);
	CHECK_INT(blk_parse_head(&req, &p), ==, -EPROTO);
	make(rd, 16, NULL, wr, 1, NULL);
	CHECK_INT(blk_parse_head(&req, &p), ==, 0);
}

static uint8_t one(const struct blk_image *img, uint32_t type, uint64_t sector, uint32_t out,
                   uint32_t in)
{
	static uint8_t rd[16 + 8192], wr[8192 + 1];
	struct blk_parsed p;

	hdr(rd, type, sector);
	make(rd, 16 + out, NULL, wr, in + 1, NULL);
	return parse(img, &p);
}

static uint8_t ranges_req(const struct blk_image *img, uint32_t type, unsigned n,
                          uint64_t sector, uint32_t nsect, uint32_t flags)
{
	static uint8_t rd[16 + 16 * 300], wr[1];
	struct blk_parsed p;

	hdr(rd, type, 0);
	for (unsigned i = 0; i < n; i++) {
		struct virtio_blk_discard_write_zeroes r = { htole64(sector + i * nsect),
		                                            htole32(nsect), htole32(flags) };

		memcpy(rd + 16 + 16 * i, &r, 16);
	}
	make(rd, 16 + 16 * n, NULL, wr, 1, NULL);
	return parse(img, &p);
}

static void test_checks(void)
{
	struct blk_image rw = disk(64, 512, false, true), ro = disk(64, 512, true, false);
	struct blk_image k4 = disk(64, 4096, false, true);

	CHECK_INT(one(&rw, VIRTIO_BLK_T_IN, 63, 0, 512), ==, VIRTIO_BLK_S_OK);
	CHECK_INT(one(&rw, VIRTIO_BLK_T_IN, 64, 0, 512), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(one(&rw, VIRTIO_BLK_T_IN, 63, 0, 1024), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(one(&rw, VIRTIO_BLK_T_IN, UINT64_MAX, 0, 512), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(one(&rw, VIRTIO_BLK_T_IN, 0, 0, 100), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(one(&rw, VIRTIO_BLK_T_IN, 0, 512, 512), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(one(&rw, VIRTIO_BLK_T_OUT, 0, 512, 0), ==, VIRTIO_BLK_S_OK);
	CHECK_INT(one(&rw, VIRTIO_BLK_T_OUT, 0, 512, 512), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(one(&ro, VIRTIO_BLK_T_OUT, 0, 512, 0), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(one(&ro, VIRTIO_BLK_T_IN, 0, 0, 512), ==, VIRTIO_BLK_S_OK);
	CHECK_INT(one(&k4, VIRTIO_BLK_T_IN, 8, 0, 4096), ==, VIRTIO_BLK_S_OK);
	CHECK_INT(one(&k4, VIRTIO_BLK_T_IN, 4, 0, 4096), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(one(&k4, VIRTIO_BLK_T_IN, 8, 0, 512), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(one(&rw, VIRTIO_BLK_T_FLUSH, 0, 0, 0), ==, VIRTIO_BLK_S_OK);
	CHECK_INT(one(&rw, VIRTIO_BLK_T_FLUSH, 0, 0, 1), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(one(&rw, VIRTIO_BLK_T_GET_ID, 0, 0, 20), ==, VIRTIO_BLK_S_OK);
	CHECK_INT(one(&rw, VIRTIO_BLK_T_GET_ID, 0, 0, 0), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(one(&rw, 2, 0, 0, 0), ==, VIRTIO_BLK_S_UNSUPP);
	CHECK_INT(one(&rw, 14, 0, 16, 0), ==, VIRTIO_BLK_S_UNSUPP);
	CHECK_INT(one(&rw, 0x80000001u, 0, 512, 0), ==, VIRTIO_BLK_S_UNSUPP);
	/* Discard / write zeroes. */
	CHECK_INT(ranges_req(&rw, VIRTIO_BLK_T_DISCARD, 1, 0, 64, 0), ==, VIRTIO_BLK_S_OK);
	CHECK_INT(ranges_req(&rw, VIRTIO_BLK_T_DISCARD, 1, 0, 65, 0), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(ranges_req(&rw, VIRTIO_BLK_T_DISCARD, 1, 0, 8, 1), ==, VIRTIO_BLK_S_UNSUPP);
	CHECK_INT(ranges_req(&rw, VIRTIO_BLK_T_WRITE_ZEROES, 1, 0, 8, 1), ==, VIRTIO_BLK_S_OK);
	CHECK_INT(ranges_req(&rw, VIRTIO_BLK_T_WRITE_ZEROES, 1, 0, 8, 4), ==,
	          VIRTIO_BLK_S_UNSUPP);
	CHECK_INT(ranges_req(&rw, VIRTIO_BLK_T_WRITE_ZEROES, 256, 0, 0, 0), ==, VIRTIO_BLK_S_OK);
	CHECK_INT(ranges_req(&rw, VIRTIO_BLK_T_WRITE_ZEROES, 257, 0, 0, 0), ==,
	          VIRTIO_BLK_S_IOERR);
	CHECK_INT(ranges_req(&rw, VIRTIO_BLK_T_DISCARD, 0, 0, 0, 0), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(ranges_req(&k4, VIRTIO_BLK_T_DISCARD, 1, 8, 4, 0), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(ranges_req(&k4, VIRTIO_BLK_T_DISCARD, 1, 8, 8, 0), ==, VIRTIO_BLK_S_OK);
	CHECK_INT(ranges_req(&ro, VIRTIO_BLK_T_DISCARD, 1, 0, 8, 0), ==, VIRTIO_BLK_S_UNSUPP);
	{
		struct blk_image big = disk(1ull << 40, 512, false, true);

		CHECK_INT(ranges_req(&big, VIRTIO_BLK_T_DISCARD, 1, 0, BLK_MAX_DISCARD_SECTORS, 0),
		          ==, VIRTIO_BLK_S_OK);
		CHECK_INT(ranges_req(&big, VIRTIO_BLK_T_DISCARD, 1, 0,
		                     BLK_MAX_DISCARD_SECTORS + 1, 0), ==, VIRTIO_BLK_S_IOERR);
	}
}

static void test_iov(void)
{
	char a[10] = "0123456789", b[5] = "abcde", out[16];
	struct iovec v[2] = { { a, 10 }, { b, 5 } }, s[2];

	CHECK_INT(blk_iov_slice(v, 2, 8, 4, s), ==, 2);
	CHECK(s[0].iov_base == a + 8 && s[0].iov_len == 2 && s[1].iov_base == b &&
	      s[1].iov_len == 2);
	CHECK_INT(blk_iov_slice(v, 2, 15, 4, s), ==, 0);
	CHECK_INT(blk_iov_read(v, 2, 9, out, 16), ==, 6);
	CHECK(memcmp(out, "9abcde", 6) == 0);
	CHECK_INT(blk_iov_write(v, 2, 10, "XY", 2), ==, 2);
	CHECK(b[0] == 'X' && b[1] == 'Y');
	CHECK_INT(blk_iov_zero(v, 2, 14, 5), ==, 1);
	CHECK(b[4] == 0);
	CHECK_INT(blk_iov_advance(v, 2, 12), ==, 1);
	CHECK(v[0].iov_base == b + 2 && v[0].iov_len == 3);
	CHECK_INT(blk_iov_advance(v, 1, 3), ==, 0);
}

static void test_serial(void)
{
	char a[BLK_SERIAL_LEN + 1], b[BLK_SERIAL_LEN + 1], c[BLK_SERIAL_LEN + 1];

	blk_image_serial(2049, 131, a);
	blk_image_serial(2049, 131, b);
	blk_image_serial(2049, 132, c);
	CHECK_STR(a, b);
	CHECK(strcmp(a, c) != 0);
	CHECK_INT(strlen(a), ==, BLK_SERIAL_LEN);
	CHECK(strncmp(a, "xvio", 4) == 0);
}

int main(int argc, char **argv)
{
	static const struct check_case cases[] = {
		{ "layout", test_layout },
		{ "noroom", test_noroom },
		{ "checks", test_checks },
		{ "iov", test_iov },
		{ "serial", test_serial },
	};

	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
