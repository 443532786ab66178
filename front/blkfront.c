/* SPDX-License-Identifier: MIT */
/*
 * blkfront, asynchronous layer (blkfront.h): virtio-blk requests over the
 * xvio transport's frontend role.
 *
 * A caller's request is cut into parts, each one virtio request carried by
 * a slot: a private record plus 64 bytes of device memory (header at 0,
 * discard/write-zeroes range at 16, status byte at 32).  Slots come from
 * one buffer allocated at the first connect, so they never fragment the
 * area.  Requests wait in a FIFO until a slot (and, when copying, a
 * transport buffer) is free; only the head can be partly issued, which
 * keeps the parts of one request in order and lets big requests through.
 */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_blk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blkfront.h"

#define SLOT_STRIDE 64u
#define HDR_RANGE 16u
#define HDR_STATUS 32u
#define MAX_SLOTS 1024u
#define STATUS_UNSET 0xffu
/* Longest chain posted without an indirect table (direct_ok). */
#define DIRECT_MAX_DESC 4u

struct slot {
	struct xvio_xport_freq fr;       /* first: the transport hands it back */
	struct xvio_blk_req *req;        /* NULL when free */
	struct slot *next_free;
	uint32_t hdr_off;                /* in b->hdrbuf */
	struct xvio_xport_buf bounce;    /* bounce.ptr NULL when none */
	uint64_t data_off;               /* offset of this part in the request */
	uint32_t len;                    /* data bytes of this part */
	struct xvio_xport_sg *sg;        /* XVIO_BLK_MAX_SEGS + 2, made on first use */
};

struct xvio_blk {
	struct xvio_blkfront *f;
	struct xvio_xport_fdev *d;
	struct xvio_blk *next;
	struct xvio_blk_info info, pending;
	bool have_info, connected, removed;
	struct xvio_xport_buf hdrbuf;
	struct slot *slots;
	unsigned nslots, busy;
	struct slot *free;
	struct xvio_blk_req *wait_head, *wait_tail;
	unsigned rr;
	void *user;
};

struct xvio_blkfront {
	struct xvio_xport_ctx *ctx;
	struct xvio_blkfront_params p;
	struct xvio_xport_front *xf;
	struct xvio_blk *disks;
};

/* ---- vdev names ---- */

int xvio_blk_vdev_name(unsigned devid, char *buf, size_t size)
{
	unsigned disk, part;
	char letters[8];
	int n = 0;

	if (devid >= 51712 && devid < 51712 + 256) {
		disk = (devid - 51712) >> 4;
		part = devid & 15;
	} else if ((devid >> 28) == 1) {
		disk = (devid >> 8) & 0xfffff;
		part = devid & 255;
		if (disk < 16 && part < 16)
			return -EINVAL; /* libxl writes those compactly */
	} else {
		return -EINVAL;
	}
	/* bijective base 26, least significant letter last */
	for (unsigned v = disk + 1; v > 0; v = (v - 1) / 26)
		letters[n++] = (char)('a' + (v - 1) % 26);
	char name[24];
	int len = snprintf(name, sizeof(name), "xvd");
	while (n > 0)
		name[len++] = letters[--n];
	name[len] = '\0';
	if (part)
		len += snprintf(name + len, sizeof(name) - (size_t)len, "%u", part);
	if ((size_t)len >= size)
		return -ENAMETOOLONG;
	memcpy(buf, name, (size_t)len + 1);
	return len;
}

int xvio_blk_vdev_parse(const char *name, unsigned *devid)
{
	unsigned long disk = 0, part = 0;
	const char *p = name;

	if (strncmp(p, "xvd", 3) != 0)
		return -EINVAL;
	p += 3;
	if (*p < 'a' || *p > 'z')
		return -EINVAL;
	for (; *p >= 'a' && *p <= 'z'; p++) {
		disk = disk * 26 + (unsigned long)(*p - 'a' + 1);
		if (disk > 0xfffff + 1)
			return -EINVAL;
	}
	disk--;
	if (*p) {
		if (*p == '0')
			return -EINVAL; /* no leading zeros, no partition 0 */
		for (; *p >= '0' && *p <= '9'; p++) {
			part = part * 10 + (unsigned long)(*p - '0');
			if (part > 255)
				return -EINVAL;
		}
		if (*p)
			return -EINVAL;
	}
	if (disk < 16 && part < 16)
		*devid = (unsigned)(51712 + (disk << 4) + part);
	else
		*devid = (unsigned)(1u << 28 | disk << 8 | part);
	return 0;
}

/* ---- reading the configuration (once per session, strictly) ---- */

static bool has(uint64_t features, unsigned bit)
{
	return features & (1ull << bit);
}

static int rd32(struct xvio_blk *b, xs_transaction_t t, const char *be, const char *key,
                uint32_t min, uint32_t max, uint32_t *out, struct xvio_err *err)
{
	return xvio_xs_read_u32(xvio_xport_ctx_xs(b->f->ctx), t, be, key, min, max, out, err);
}

static int bad(struct xvio_err *err, const char *be, const char *key, uint64_t v,
               const char *why)
{
	return xvio_err_set(err, EINVAL, "%s/%s: \"%llu\" %s", be, key, (unsigned long long)v,
	                    why);
}

static int read_discard(struct xvio_blk *b, xs_transaction_t t, const char *be,
                        struct xvio_blk_info *in, struct xvio_err *err)
{
	int rc = 0;

	if (in->discard) {
		rc = rd32(b, t, be, "config/max-discard-sectors", 1, UINT32_MAX,
		          &in->max_discard_sectors, err);
		if (rc == 0)
			rc = rd32(b, t, be, "config/max-discard-seg", 1, UINT32_MAX,
			          &in->max_discard_seg, err);
		if (rc == 0)
			rc = rd32(b, t, be, "config/discard-sector-alignment", 0, UINT32_MAX,
			          &in->discard_alignment, err);
		if (rc == 0 && (uint64_t)in->max_discard_sectors * 512 < in->blk_size)
			rc = bad(err, be, "config/max-discard-sectors", in->max_discard_sectors,
			         "is below one block");
	}
	if (rc == 0 && in->write_zeroes) {
		rc = rd32(b, t, be, "config/max-write-zeroes-sectors", 1, UINT32_MAX,
		          &in->max_write_zeroes_sectors, err);
		if (rc == 0)
			rc = rd32(b, t, be, "config/max-write-zeroes-seg", 1, UINT32_MAX,
			          &in->max_write_zeroes_seg, err);
		if (rc == 0)
			rc = xvio_xs_read_bool(xvio_xport_ctx_xs(b->f->ctx), t, be,
			                       "config/write-zeroes-may-unmap", &in->zeroes_may_unmap,
			                       err);
		if (rc == 0 && (uint64_t)in->max_write_zeroes_sectors * 512 < in->blk_size)
			rc = bad(err, be, "config/max-write-zeroes-sectors",
			         in->max_write_zeroes_sectors, "is below one block");
	}
	return rc;
}

/* Bytes of one read/write part: whole descriptors within seg-max (and the
 * ring without indirect), each at most size-max, or a page in grant mode
 * where a buffer may start anywhere in a page. */
static uint32_t compute_max_io(const struct xvio_blk *b, const struct xvio_blk_info *in)
{
	bool grant = b->f->p.mode == XVIO_XPORT_GRANT;
	uint64_t unit = in->size_max ? in->size_max : XVIO_XPORT_MAX_BUF;
	unsigned segs = in->seg_max ? in->seg_max : XVIO_BLK_MAX_SEGS;
	uint64_t io;

	if (segs > XVIO_BLK_MAX_SEGS)
		segs = XVIO_BLK_MAX_SEGS;
	if (!has(xvio_xport_fdev_features(b->d), 28) && segs + 2 > in->queue_size)
		segs = in->queue_size - 2;
	if (grant) {
		unit = unit < 4096 ? unit : 4096;
		segs = segs > 1 ? segs - 1 : 0;
	}
	io = unit * segs;
	if (io > XVIO_BLK_MAX_IO)
		io = XVIO_BLK_MAX_IO;
	return (uint32_t)(io - io % in->blk_size);
}

static int blk_setup(struct xvio_xport_fdev *d, xs_transaction_t t, const char *be,
                     struct xvio_err *err)
{
	struct xvio_blk *b = xvio_xport_fdev_priv(d);
	uint64_t feat = xvio_xport_fdev_features(d), cap;
	struct xvio_blk_info in = { .devid = b->info.devid };
	uint32_t nq;
	int rc;

	memcpy(in.name, b->info.name, sizeof(in.name));
	in.read_only = has(feat, VIRTIO_BLK_F_RO);
	in.flush = has(feat, VIRTIO_BLK_F_FLUSH);
	in.discard = has(feat, VIRTIO_BLK_F_DISCARD);
	in.write_zeroes = has(feat, VIRTIO_BLK_F_WRITE_ZEROES);
	in.num_queues = xvio_xport_fdev_num_queues(d);
	in.queue_size = xvio_xport_fdev_queue_size(d);
	in.blk_size = 512;
	/* Sizes in bytes must fit an int64 (NBD, off_t). */
	rc = xvio_xs_read_u64(xvio_xport_ctx_xs(b->f->ctx), t, be, "config/capacity", 0, 0,
	                      INT64_MAX / 512, &cap, err);
	if (rc == 0 && has(feat, VIRTIO_BLK_F_BLK_SIZE)) {
		rc = rd32(b, t, be, "config/blk-size", 512, 65536, &in.blk_size, err);
		if (rc == 0 && (in.blk_size & (in.blk_size - 1)))
			rc = bad(err, be, "config/blk-size", in.blk_size, "is not a power of two");
	}
	if (rc == 0 && cap % (in.blk_size / 512))
		rc = bad(err, be, "config/capacity", cap, "is not a whole number of blocks");
	if (rc == 0 && has(feat, VIRTIO_BLK_F_SIZE_MAX))
		rc = rd32(b, t, be, "config/size-max", 512, UINT32_MAX, &in.size_max, err);
	if (rc == 0 && has(feat, VIRTIO_BLK_F_SEG_MAX))
		rc = rd32(b, t, be, "config/seg-max", 1, UINT32_MAX, &in.seg_max, err);
	if (rc == 0 && has(feat, VIRTIO_BLK_F_MQ)) {
		rc = rd32(b, t, be, "config/num-queues", 1, XVIO_XPORT_MAX_QUEUES, &nq, err);
		if (rc == 0 && nq < in.num_queues)
			rc = bad(err, be, "config/num-queues", nq, "is below max-queues");
	}
	if (rc == 0)
		rc = read_discard(b, t, be, &in, err);
	if (rc < 0)
		return rc;
	in.size = cap * 512;
	in.max_io = compute_max_io(b, &in);
	if (in.max_io < in.blk_size)
		return xvio_err_set(err, EINVAL, "%s/config: size-max %u and seg-max %u cannot "
		                    "carry one block of %u bytes", be, in.size_max, in.seg_max,
		                    in.blk_size);
	b->pending = in;
	/* Parts kept from the last session are posted again after this; a
	 * direct chain that no longer fits a smaller ring goes indirect. */
	for (unsigned i = 0; i < b->nslots; i++) {
		struct xvio_xport_freq *fr = &b->slots[i].fr;

		if (b->slots[i].req && fr->nout + fr->nin > in.queue_size)
			fr->flags &= ~XVIO_XPORT_REQ_DIRECT;
	}
	return 0;
}

/* ---- slots ---- */

static int make_slots(struct xvio_blk *b)
{
	unsigned n = b->info.num_queues * b->info.queue_size;
	int rc;

	if (b->slots)
		return 0;
	n = n > MAX_SLOTS ? MAX_SLOTS : n < 2 ? 2 : n;
	rc = xvio_xport_buf_alloc(b->d, n * SLOT_STRIDE, &b->hdrbuf);
	if (rc < 0)
		return rc;
	b->slots = calloc(n, sizeof(*b->slots));
	if (!b->slots) {
		xvio_xport_buf_free(b->d, &b->hdrbuf);
		return -ENOMEM;
	}
	b->nslots = n;
	for (unsigned i = n; i-- > 0;) {
		b->slots[i].hdr_off = i * SLOT_STRIDE;
		b->slots[i].next_free = b->free;
		b->free = &b->slots[i];
	}
	return 0;
}

static uint8_t *slot_hdr(const struct xvio_blk *b, const struct slot *s)
{
	return (uint8_t *)b->hdrbuf.ptr + s->hdr_off;
}

static void put_slot(struct xvio_blk *b, struct slot *s)
{
	if (s->bounce.ptr)
		xvio_xport_buf_free(b->d, &s->bounce);
	s->bounce.ptr = NULL;
	s->req = NULL;
	s->next_free = b->free;
	b->free = s;
	b->busy--;
}

/* ---- issuing parts ---- */

static int check(const struct xvio_blk *b, const struct xvio_blk_req *r);

static uint32_t vtype(enum xvio_blk_op op)
{
	switch (op) {
	case XVIO_BLK_READ: return VIRTIO_BLK_T_IN;
	case XVIO_BLK_WRITE: return VIRTIO_BLK_T_OUT;
	case XVIO_BLK_FLUSH: return VIRTIO_BLK_T_FLUSH;
	case XVIO_BLK_DISCARD: return VIRTIO_BLK_T_DISCARD;
	case XVIO_BLK_WRITE_ZEROES: return VIRTIO_BLK_T_WRITE_ZEROES;
	case XVIO_BLK_GET_ID: return VIRTIO_BLK_T_GET_ID;
	}
	return VIRTIO_BLK_T_GET_ID;
}

static bool has_data(enum xvio_blk_op op)
{
	return op == XVIO_BLK_READ || op == XVIO_BLK_WRITE || op == XVIO_BLK_GET_ID;
}

/* Bytes of the next part of r. */
static uint64_t part_len(const struct xvio_blk *b, const struct xvio_blk_req *r)
{
	uint64_t left = r->len - r->issued_, max;

	switch (r->op) {
	case XVIO_BLK_READ:
	case XVIO_BLK_WRITE:
		max = b->info.max_io;
		break;
	case XVIO_BLK_DISCARD:
		max = (uint64_t)b->info.max_discard_sectors * 512;
		break;
	case XVIO_BLK_WRITE_ZEROES:
		max = (uint64_t)b->info.max_write_zeroes_sectors * 512;
		break;
	default:
		return left;
	}
	if (max > UINT32_MAX - 4095)
		max = UINT32_MAX - 4095;
	max -= max % b->info.blk_size;
	return left < max ? left : max;
}

/* Data segments of a part: at most size-max each, and within one page in
 * grant mode (so each is one descriptor). */
static unsigned data_sg(const struct xvio_blk *b, struct xvio_xport_sg *sg,
                        const struct xvio_xport_buf *buf, uint32_t off, uint32_t len)
{
	uint32_t unit = b->info.size_max ? b->info.size_max : XVIO_XPORT_MAX_BUF;
	bool grant = b->f->p.mode == XVIO_XPORT_GRANT;
	unsigned n = 0;

	while (len > 0) {
		uint32_t c = len < unit ? len : unit;

		if (grant) {
			uint32_t in_page = 4096 - (uint32_t)(((uintptr_t)buf->ptr + off) & 4095);

			c = c < in_page ? c : in_page;
		}
		sg[n++] = (struct xvio_xport_sg){ buf, off, c };
		off += c;
		len -= c;
	}
	return n;
}

static void fill_hdr(struct xvio_blk *b, struct slot *s, const struct xvio_blk_req *r,
                     uint64_t off, uint32_t len)
{
	uint8_t *h = slot_hdr(b, s);
	struct virtio_blk_outhdr oh = {
		.type = htole32(vtype(r->op)),
		.sector = htole64(r->op == XVIO_BLK_FLUSH || r->op == XVIO_BLK_GET_ID ? 0 : off / 512),
	};

	memcpy(h, &oh, sizeof(oh));
	if (r->op == XVIO_BLK_DISCARD || r->op == XVIO_BLK_WRITE_ZEROES) {
		struct virtio_blk_discard_write_zeroes range = {
			.sector = htole64(off / 512),
			.num_sectors = htole32(len / 512),
			.flags = htole32(r->op == XVIO_BLK_WRITE_ZEROES &&
			                 (r->flags & XVIO_BLK_REQ_UNMAP)
			                 ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0),
		};

		memcpy(h + HDR_RANGE, &range, sizeof(range));
	}
	h[HDR_STATUS] = STATUS_UNSET;
}

/*
 * Whether a chain of n descriptors goes straight into the ring.  An
 * indirect table costs an area allocation per request on this side and a
 * mapping on the backend's; a short chain is cheaper posted directly, as
 * long as the ring keeps room for the depth: direct chains are used only
 * while the parts in flight per queue (b->busy spread over the queues,
 * this one included) would fill at most half the ring with them.  Longer
 * chains, and deeper queues, keep the indirect table, which takes one
 * ring descriptor.  In grant mode each sg is one descriptor (data_sg
 * keeps segments inside a page; header and status share the slot page).
 */
static bool direct_ok(const struct xvio_blk *b, unsigned n)
{
	unsigned nq = b->info.num_queues ? b->info.num_queues : 1;
	unsigned per_q = (b->busy + nq - 1) / nq;

	return n <= DIRECT_MAX_DESC && per_q * n <= b->info.queue_size / 2;
}

/* Build slot s's chain for `len` bytes of r at data offset `doff`. */
static void build(struct xvio_blk *b, struct slot *s, struct xvio_blk_req *r, uint32_t len)
{
	struct xvio_xport_sg *sg = s->sg;
	unsigned n = 0, nout;

	if (r->op == XVIO_BLK_DISCARD || r->op == XVIO_BLK_WRITE_ZEROES)
		sg[n++] = (struct xvio_xport_sg){ &b->hdrbuf, s->hdr_off, HDR_RANGE + 16 };
	else
		sg[n++] = (struct xvio_xport_sg){ &b->hdrbuf, s->hdr_off, HDR_RANGE };
	if (has_data(r->op) && len > 0) {
		if (s->bounce.ptr)
			n += data_sg(b, sg + n, &s->bounce, 0, len);
		else
			n += data_sg(b, sg + n, r->buf, r->buf_off + (uint32_t)s->data_off, len);
	}
	nout = r->op == XVIO_BLK_WRITE ? n : 1;
	sg[n++] = (struct xvio_xport_sg){ &b->hdrbuf, s->hdr_off + HDR_STATUS, 1 };
	s->fr = (struct xvio_xport_freq){ .sg = sg, .nout = nout, .nin = n - nout };
	s->fr.cookie = s;
	if (direct_ok(b, n))
		s->fr.flags = XVIO_XPORT_REQ_DIRECT;
}

static void finish(struct xvio_blk_req *r)
{
	r->b_ = NULL;
	r->done(r);
}

static void req_fail(struct xvio_blk_req *r, int status)
{
	if (!r->status)
		r->status = status;
	r->failed_ = true;
}

static void wait_pop(struct xvio_blk *b)
{
	struct xvio_blk_req *r = b->wait_head;

	b->wait_head = r->next_;
	if (!b->wait_head)
		b->wait_tail = NULL;
	r->next_ = NULL;
	r->waiting_ = false;
}

/*
 * Issue one part of the head request into a free slot.  Returns 1 when a
 * part went out, 0 when it must wait (no transport buffer yet), or -errno
 * for a permanent failure of the request.
 */
static int issue_part(struct xvio_blk *b, struct xvio_blk_req *r)
{
	struct slot *s = b->free;
	uint64_t len = part_len(b, r);
	int rc;

	if (!s->sg) {
		s->sg = calloc(XVIO_BLK_MAX_SEGS + 2, sizeof(*s->sg));
		if (!s->sg)
			return b->busy ? 0 : -ENOMEM;
	}
	s->bounce.ptr = NULL;
	if (has_data(r->op) && !r->buf && len > 0) {
		rc = xvio_xport_buf_alloc(b->d, (uint32_t)len, &s->bounce);
		if (rc < 0) {
			s->bounce.ptr = NULL;
			/* Space comes back with completions; with none pending it
			 * never will. */
			return rc == -ENOMEM && b->busy ? 0 : rc;
		}
		if (r->op == XVIO_BLK_WRITE)
			memcpy(s->bounce.ptr, (uint8_t *)r->data + r->issued_, (size_t)len);
		else if (r->op == XVIO_BLK_GET_ID)
			memset(s->bounce.ptr, 0, (size_t)len); /* the serial may be short */
	}
	b->free = s->next_free;
	b->busy++;
	s->req = r;
	s->data_off = r->issued_;
	s->len = (uint32_t)len;
	fill_hdr(b, s, r, r->offset + r->issued_, (uint32_t)len);
	build(b, s, r, (uint32_t)len);
	rc = xvio_xport_submit(b->d, r->queue_ % (b->info.num_queues ? b->info.num_queues : 1),
	                       &s->fr);
	if (rc < 0) {
		put_slot(b, s);
		return rc;
	}
	r->issued_ += len;
	r->outstanding_++;
	if (r->issued_ == r->len)
		wait_pop(b);
	return 1;
}

/* Issue parts while slots are free; finished requests are collected in
 * `done` (completed by the caller, after the state is consistent). */
static void pump(struct xvio_blk *b, struct xvio_blk_req **done)
{
	while (b->wait_head && b->free) {
		struct xvio_blk_req *r = b->wait_head;
		int rc;

		/* Requests submitted before the first session are checked
		 * against the limits once those are known. */
		rc = r->issued_ == 0 && r->outstanding_ == 0 ? check(b, r) : 0;
		if (rc < 0)
			req_fail(r, rc);
		if (r->failed_) {
			wait_pop(b);
		} else {
			rc = issue_part(b, r);
			/* The device went away after the request was accepted. */
			if (rc == -ENODEV)
				rc = -ECANCELED;
			if (rc == 0)
				break;
			if (rc > 0)
				continue;
			wait_pop(b);
			req_fail(r, rc);
		}
		if (r->outstanding_ == 0) {
			r->next_ = *done;
			*done = r;
		}
	}
}

static void finish_list(struct xvio_blk_req *done)
{
	while (done) {
		struct xvio_blk_req *r = done;

		done = r->next_;
		r->next_ = NULL;
		finish(r);
	}
}

/* ---- completions ---- */

/* The status of a completed part (the device's byte read once). */
static int part_status(struct xvio_blk *b, struct slot *s, const struct xvio_xport_freq *fr)
{
	const struct xvio_blk_req *r = s->req;
	uint8_t st = ((volatile uint8_t *)slot_hdr(b, s))[HDR_STATUS];
	uint32_t want = 1 + (r->op == XVIO_BLK_READ ? s->len : 0);

	if (fr->status < 0)
		return fr->status;
	if (st == VIRTIO_BLK_S_UNSUPP)
		return -EOPNOTSUPP;
	if (st != VIRTIO_BLK_S_OK)
		return -EIO;
	/* GET_ID may write fewer bytes than asked; reads must fill it all. */
	if (r->op == XVIO_BLK_GET_ID ? fr->len < 1 : fr->len != want)
		return -EIO;
	return 0;
}

static void blk_complete(struct xvio_xport_fdev *d, struct xvio_xport_freq *fr)
{
	struct xvio_blk *b = xvio_xport_fdev_priv(d);
	struct slot *s = fr->cookie;
	struct xvio_blk_req *r = s->req, *done = NULL;
	int st;

	/* Handed back without running: a new session with fewer queues, or
	 * the device is going (then submit says -ENODEV). */
	if (fr->status == -ECANCELED && xvio_xport_submit(d, 0, fr) == 0)
		return;
	st = part_status(b, s, fr);
	if (st == 0 && s->bounce.ptr && r->op != XVIO_BLK_WRITE)
		memcpy((uint8_t *)r->data + s->data_off, s->bounce.ptr,
		       r->op == XVIO_BLK_GET_ID ? r->len : s->len);
	put_slot(b, s);
	r->outstanding_--;
	if (st < 0) {
		req_fail(r, st);
		if (r->waiting_ && b->wait_head == r)
			wait_pop(b);
	}
	if (r->outstanding_ == 0 && !r->waiting_) {
		r->next_ = done;
		done = r;
	}
	pump(b, &done);
	finish_list(done);
}

/* ---- transport callbacks ---- */

static int blk_add(struct xvio_xport_fdev *d, void **priv, struct xvio_err *err)
{
	struct xvio_blkfront *f = xvio_xport_fdev_arg(d);
	struct xvio_blk *b = calloc(1, sizeof(*b));

	if (!b)
		return xvio_err_set(err, ENOMEM, "out of memory");
	b->f = f;
	b->d = d;
	b->info.devid = xvio_xport_fdev_devid(d);
	if (xvio_blk_vdev_name(b->info.devid, b->info.name, sizeof(b->info.name)) < 0)
		snprintf(b->info.name, sizeof(b->info.name), "disk%u", b->info.devid);
	b->next = f->disks;
	f->disks = b;
	*priv = b;
	if (f->p.ops && f->p.ops->added)
		f->p.ops->added(b);
	return 0;
}

static void blk_connected(struct xvio_xport_fdev *d)
{
	struct xvio_blk *b = xvio_xport_fdev_priv(d);
	struct xvio_blk_req *done = NULL;
	int rc;

	b->info = b->pending;
	b->info.sessions = xvio_xport_fdev_sessions(d);
	b->have_info = true;
	b->connected = true;
	rc = make_slots(b);
	if (rc < 0) {
		/* Nothing can be issued: fail what waits rather than hang. */
		while (b->wait_head) {
			struct xvio_blk_req *r = b->wait_head;

			wait_pop(b);
			req_fail(r, rc);
			r->next_ = done;
			done = r;
		}
	}
	pump(b, &done);
	finish_list(done);
	if (b->f->p.ops && b->f->p.ops->connected)
		b->f->p.ops->connected(b);
}

static void blk_disconnected(struct xvio_xport_fdev *d)
{
	struct xvio_blk *b = xvio_xport_fdev_priv(d);

	b->connected = false;
	if (b->f->p.ops && b->f->p.ops->disconnected)
		b->f->p.ops->disconnected(b);
}

static void blk_remove(struct xvio_xport_fdev *d)
{
	struct xvio_blk *b = xvio_xport_fdev_priv(d);
	struct xvio_blk **pp = &b->f->disks;
	struct xvio_blk_req *done = NULL;

	b->removed = true;
	b->connected = false;
	/* Every part was handed back already; what waits never started. */
	while (b->wait_head) {
		struct xvio_blk_req *r = b->wait_head;

		wait_pop(b);
		req_fail(r, -ECANCELED);
		if (r->outstanding_ == 0) {
			r->next_ = done;
			done = r;
		}
	}
	finish_list(done);
	if (b->f->p.ops && b->f->p.ops->removed)
		b->f->p.ops->removed(b);
	while (*pp && *pp != b)
		pp = &(*pp)->next;
	if (*pp)
		*pp = b->next;
	for (unsigned i = 0; i < b->nslots; i++)
		free(b->slots[i].sg);
	free(b->slots);
	free(b);
}

static const struct xvio_xport_front_ops blk_ops = {
	.add = blk_add,
	.setup = blk_setup,
	.connected = blk_connected,
	.complete = blk_complete,
	.disconnected = blk_disconnected,
	.remove = blk_remove,
};

/* ---- the caller's API ---- */

int xvio_blkfront_new(struct xvio_xport_ctx *c, const struct xvio_blkfront_params *p,
                      struct xvio_blkfront **out, struct xvio_err *err)
{
	struct xvio_blkfront *f = calloc(1, sizeof(*f));
	struct xvio_xport_front_params fp = {
		.kind = XVIO_BLK_KIND, .virtio_id = XVIO_BLK_VIRTIO_ID, .ops = &blk_ops,
	};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int rc;

	if (!f)
		return xvio_err_set(err, ENOMEM, "out of memory");
	if (p)
		f->p = *p;
	f->ctx = c;
	fp.features = 1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_SEG_MAX |
	              1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH |
	              1ull << VIRTIO_BLK_F_MQ | 1ull << VIRTIO_BLK_F_RO |
	              1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES |
	              XVIO_XPORT_F_INDIRECT | XVIO_XPORT_F_EVENT_IDX;
	fp.mode = f->p.mode;
	fp.num_queues = f->p.num_queues ? f->p.num_queues
	                : cpus < 1 ? 1 : cpus > (long)XVIO_XPORT_MAX_QUEUES
	                ? XVIO_XPORT_MAX_QUEUES : (unsigned)cpus;
	fp.queue_size = f->p.queue_size;
	fp.area_pages = f->p.area_pages ? f->p.area_pages : XVIO_XPORT_MAX_AREA_PAGES;
	fp.arg = f;
	rc = xvio_xport_front_new(c, &fp, &f->xf, err);
	if (rc < 0) {
		free(f);
		return rc;
	}
	*out = f;
	return 0;
}

void xvio_blkfront_free(struct xvio_blkfront *f)
{
	if (!f)
		return;
	xvio_xport_front_free(f->xf);
	free(f);
}

void *xvio_blkfront_arg(const struct xvio_blkfront *f)
{
	return f->p.arg;
}

struct xvio_blk *xvio_blkfront_first(struct xvio_blkfront *f)
{
	return f->disks;
}

struct xvio_blk *xvio_blk_next(struct xvio_blk *b)
{
	return b->next;
}

struct xvio_blk *xvio_blkfront_find(struct xvio_blkfront *f, unsigned devid)
{
	for (struct xvio_blk *b = f->disks; b; b = b->next) {
		if (b->info.devid == devid)
			return b;
	}
	return NULL;
}

struct xvio_blkfront *xvio_blk_front(const struct xvio_blk *b)
{
	return b->f;
}

unsigned xvio_blk_devid(const struct xvio_blk *b)
{
	return b->info.devid;
}

bool xvio_blk_connected(const struct xvio_blk *b)
{
	return b->connected;
}

bool xvio_blk_info(const struct xvio_blk *b, struct xvio_blk_info *out)
{
	*out = b->info;
	return b->have_info;
}

void xvio_blk_set_user(struct xvio_blk *b, void *user)
{
	b->user = user;
}

void *xvio_blk_user(const struct xvio_blk *b)
{
	return b->user;
}

struct xvio_xport_fdev *xvio_blk_fdev(struct xvio_blk *b)
{
	return b->d;
}

int xvio_blk_buf_alloc(struct xvio_blk *b, uint32_t len, struct xvio_xport_buf *buf)
{
	return xvio_xport_buf_alloc(b->d, len, buf);
}

void xvio_blk_buf_free(struct xvio_blk *b, struct xvio_xport_buf *buf)
{
	xvio_xport_buf_free(b->d, buf);
}

static int check(const struct xvio_blk *b, const struct xvio_blk_req *r)
{
	const struct xvio_blk_info *in = &b->info;

	if (!r->done)
		return -EINVAL;
	if (r->op == XVIO_BLK_FLUSH)
		return in->flush ? 0 : -EOPNOTSUPP;
	if (r->op == XVIO_BLK_GET_ID)
		return r->len >= 1 && r->len <= VIRTIO_BLK_ID_BYTES && (r->buf || r->data) ? 0
		       : -EINVAL;
	if (r->op > XVIO_BLK_GET_ID || r->len == 0 || r->offset % in->blk_size ||
	    r->len % in->blk_size || r->offset > in->size || r->len > in->size - r->offset)
		return -EINVAL;
	if (r->op != XVIO_BLK_READ && in->read_only)
		return -EROFS;
	if ((r->op == XVIO_BLK_DISCARD && !in->discard) ||
	    (r->op == XVIO_BLK_WRITE_ZEROES && !in->write_zeroes))
		return -EOPNOTSUPP;
	if (has_data(r->op) && !r->buf && !r->data)
		return -EINVAL;
	if (r->buf && (r->buf_off > r->buf->len || r->len > r->buf->len - r->buf_off))
		return -EINVAL;
	return 0;
}

int xvio_blk_submit(struct xvio_blk *b, struct xvio_blk_req *r)
{
	struct xvio_blk_req *done = NULL;
	int rc;

	if (b->removed)
		return -ENODEV;
	/* Before the first session the limits are unknown: wait for them. */
	if (b->have_info) {
		rc = check(b, r);
		if (rc < 0)
			return rc;
	} else if (!r->done) {
		return -EINVAL;
	}
	if (!has_data(r->op))
		r->buf = NULL;
	if (r->op == XVIO_BLK_FLUSH)
		r->len = 0;
	r->b_ = b;
	r->status = 0;
	r->issued_ = 0;
	r->outstanding_ = 0;
	r->failed_ = false;
	r->queue_ = b->rr++;
	r->next_ = NULL;
	r->waiting_ = true;
	if (b->wait_tail)
		b->wait_tail->next_ = r;
	else
		b->wait_head = r;
	b->wait_tail = r;
	if (b->slots)
		pump(b, &done);
	/* A request never completes inside submit: defer what finished. */
	if (done) {
		/* Only failures finish here (nothing completed synchronously). */
		while (done) {
			struct xvio_blk_req *d = done;

			done = d->next_;
			if (d == r)
				return (r->b_ = NULL, r->status);
			d->next_ = NULL;
			finish(d);
		}
	}
	return 0;
}
