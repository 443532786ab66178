/* SPDX-License-Identifier: MIT */
/*
 * A virtio-blk request's bytes (protocol §11.3).  The transport hands us
 * iovecs over guest memory, readable ones first; the header, the data and
 * the status are byte ranges over them, which may share descriptors.  The
 * header and the discard ranges are copied into private memory once and
 * only the copies are looked at (the guest may change its memory while we
 * read it); data is never interpreted.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "blk.h"

/* ---- iovec cursors ---- */

enum iov_op { IOV_READ, IOV_WRITE, IOV_ZERO };

/* One cursor walk for read, write and zero: `len` bytes from byte `off`. */
static size_t iov_walk(const struct iovec *iov, unsigned n, size_t off, void *dst,
                       const void *src, size_t len, enum iov_op op)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len, k;
		char *base;

		if (off >= l) {
			off -= l;
			continue;
		}
		base = (char *)iov[i].iov_base + off;
		k = l - off < len - done ? l - off : len - done;
		if (op == IOV_READ)
			memcpy((char *)dst + done, base, k);
		else if (op == IOV_WRITE)
			memcpy(base, (const char *)src + done, k);
		else
			memset(base, 0, k);
		done += k;
		off = 0;
	}
	return done;
}

size_t blk_iov_read(const struct iovec *iov, unsigned n, size_t off, void *dst, size_t len)
{
	return iov_walk(iov, n, off, dst, NULL, len, IOV_READ);
}

size_t blk_iov_write(const struct iovec *iov, unsigned n, size_t off, const void *src,
                     size_t len)
{
	return iov_walk(iov, n, off, NULL, src, len, IOV_WRITE);
}

size_t blk_iov_zero(const struct iovec *iov, unsigned n, size_t off, size_t len)
{
	return iov_walk(iov, n, off, NULL, NULL, len, IOV_ZERO);
}

unsigned blk_iov_slice(const struct iovec *src, unsigned nsrc, size_t off, size_t len,
                       struct iovec *dst)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nsrc && len > 0; i++) {
		size_t l = src[i].iov_len, k;

		if (off >= l) {
			off -= l;
			continue;
		}
		k = l - off < len ? l - off : len;
		dst[n].iov_base = (char *)src[i].iov_base + off;
		dst[n].iov_len = k;
		n++;
		len -= k;
		off = 0;
	}
	return n;
}

unsigned blk_iov_advance(struct iovec *iov, unsigned n, size_t done)
{
	unsigned i = 0;

	while (i < n && done >= iov[i].iov_len) {
		done -= iov[i].iov_len;
		i++;
	}
	if (i < n && done) {
		iov[i].iov_base = (char *)iov[i].iov_base + done;
		iov[i].iov_len -= done;
	}
	memmove(iov, iov + i, (n - i) * sizeof(*iov));
	return n - i;
}

/* ---- validation ---- */

/* [sector, sector + nsect) inside the disk and on logical blocks? */
static bool range_ok(const struct blk_image *img, uint64_t sector, uint64_t nsect)
{
	uint64_t per = img->blk_size / 512;

	return sector % per == 0 && nsect % per == 0 && sector <= img->capacity &&
	       nsect <= img->capacity - sector;
}

static uint8_t check_rw(const struct blk_image *img, struct blk_parsed *p, uint32_t extra)
{
	if (extra)
		return VIRTIO_BLK_S_IOERR; /* data in the wrong direction */
	if (p->type == VIRTIO_BLK_T_OUT && img->ro)
		return VIRTIO_BLK_S_IOERR;
	if (p->len % 512 || !range_ok(img, p->sector, p->len / 512))
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

/* Copy, decode and check the ranges of a DISCARD or WRITE_ZEROES. */
static uint8_t check_ranges(const struct blk_image *img, const struct xvio_xport_breq *r,
                            struct blk_parsed *p)
{
	uint32_t allowed = p->type == VIRTIO_BLK_T_WRITE_ZEROES
	                   ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
	uint8_t st = VIRTIO_BLK_S_OK;

	if (img->ro)
		return VIRTIO_BLK_S_IOERR;
	if (p->len == 0 || p->len % sizeof(p->ranges[0]) ||
	    p->len / sizeof(p->ranges[0]) > BLK_MAX_DISCARD_SEG)
		return VIRTIO_BLK_S_IOERR;
	p->nranges = (unsigned)(p->len / sizeof(p->ranges[0]));
	blk_iov_read(r->iov, r->nout, sizeof(struct virtio_blk_outhdr), p->ranges, p->len);
	for (unsigned i = 0; i < p->nranges; i++) {
		struct virtio_blk_discard_write_zeroes *g = &p->ranges[i];

		g->sector = le64toh(g->sector);
		g->num_sectors = le32toh(g->num_sectors);
		g->flags = le32toh(g->flags);
		/* Reserved flags win over range errors: the request is of a
		 * kind we do not know at all. */
		if (g->flags & ~allowed)
			return VIRTIO_BLK_S_UNSUPP;
		if (g->num_sectors > BLK_MAX_DISCARD_SECTORS ||
		    !range_ok(img, g->sector, g->num_sectors))
			st = VIRTIO_BLK_S_IOERR;
	}
	return st;
}

int blk_parse_head(const struct xvio_xport_breq *r, struct blk_parsed *p)
{
	const struct iovec *win = r->iov + r->nout;
	unsigned nwin = r->niov - r->nout, i = 0;
	struct virtio_blk_outhdr h;
	size_t off;

	p->status = VIRTIO_BLK_S_OK;
	p->niov = 0;
	p->nranges = 0;
	p->len = 0;
	if (r->out_bytes < sizeof(h) || r->in_bytes < 1)
		return -EPROTO;
	/* The last writable byte.  The iovecs' lengths are the transport's
	 * private copies, so this lookup cannot be steered by the guest. */
	off = r->in_bytes - 1u;
	while (i + 1 < nwin && off >= win[i].iov_len) {
		off -= win[i].iov_len;
		i++;
	}
	p->status_ptr = (uint8_t *)win[i].iov_base + off;
	/* The header is read once; only this copy is looked at. */
	blk_iov_read(r->iov, r->nout, 0, &h, sizeof(h));
	p->type = le32toh(h.type);
	p->sector = le64toh(h.sector);
	return 0;
}

void blk_parse_body(const struct blk_image *img, const struct xvio_xport_breq *r,
                    struct blk_parsed *p)
{
	const struct iovec *win = r->iov + r->nout;
	unsigned nwin = r->niov - r->nout;
	uint64_t out_data = r->out_bytes - sizeof(struct virtio_blk_outhdr);
	uint64_t in_data = r->in_bytes - 1u;

	switch (p->type) {
	case VIRTIO_BLK_T_IN:
		p->len = in_data;
		p->status = check_rw(img, p, (uint32_t)out_data);
		if (p->status == VIRTIO_BLK_S_OK)
			p->niov = blk_iov_slice(win, nwin, 0, in_data, p->iov);
		break;
	case VIRTIO_BLK_T_OUT:
		p->len = out_data;
		p->status = check_rw(img, p, (uint32_t)in_data);
		if (p->status == VIRTIO_BLK_S_OK)
			p->niov = blk_iov_slice(r->iov, r->nout, sizeof(struct virtio_blk_outhdr),
			                        out_data, p->iov);
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (out_data || in_data)
			p->status = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID:
		p->len = in_data;
		if (out_data || in_data == 0)
			p->status = VIRTIO_BLK_S_IOERR;
		else
			p->niov = blk_iov_slice(win, nwin, 0, in_data, p->iov);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		p->len = out_data;
		if (!img->discard)
			p->status = VIRTIO_BLK_S_UNSUPP; /* not offered */
		else if (in_data)
			p->status = VIRTIO_BLK_S_IOERR;
		else
			p->status = check_ranges(img, r, p);
		break;
	default:
		p->status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
}
