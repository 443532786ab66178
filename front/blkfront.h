/* SPDX-License-Identifier: MIT */
/*
 * blkfront: the guest side of xvio block devices (docs/protocol.md §11),
 * kind `virtio_disk`, virtio-blk over the xvio transport (xport.h).
 *
 * Two layers:
 *
 *   asynchronous  xvio_blkfront_new() on an xport context: every
 *                 virtio_disk of this domain becomes a `struct xvio_blk`;
 *                 requests are submitted with a completion callback.  Runs
 *                 entirely on the context's thread (xport.h threading):
 *                 every call here, and every callback, belongs to the
 *                 thread that calls xvio_xport_ctx_dispatch().
 *   threaded      xvio_blkt_*: a context and a blkfront on a private
 *                 thread, with blocking I/O callable from any thread
 *                 (used by the nbdkit plugin).
 *
 * Requests.  A request names a byte range; offset and length must be
 * multiples of the disk's logical block size (-EINVAL otherwise) and lie
 * inside the disk (-EINVAL).  Reads and writes larger than one virtio
 * request carries (info.max_io, from size-max, seg-max and the mode) are
 * split into several virtio requests, issued in order on one queue and
 * possibly completing out of order; discard and write-zeroes are split by
 * their sector limits.  The request completes once, when every part did;
 * its status is the first error.  Data is either
 *
 *   zero copy   a transport buffer of the disk (xvio_blk_buf_alloc): the
 *               device reads or writes it in place; or
 *   copied      a plain pointer: each part goes through a transport buffer
 *               allocated for it (data copied in before a write is posted,
 *               out when a read completes).
 *
 * While the disk is disconnected (backend restart) requests wait; parts in
 * flight are resubmitted by the transport after the reconnect and complete
 * exactly once.  When the disk is removed every request still held
 * completes with -ECANCELED, and new ones are refused with -ENODEV.
 *
 * Errors (status and return values): -EINVAL (misaligned, out of range,
 * malformed), -EROFS (write, discard or write-zeroes on a read-only disk),
 * -EOPNOTSUPP (discard/write-zeroes not offered, or the device answered
 * UNSUPP), -EIO (the device answered IOERR, or an inconsistent answer),
 * -ENOMEM (a part can never get a transport buffer), -ECANCELED, -ENODEV.
 * The library never logs.
 */
#ifndef XVIO_BLKFRONT_H
#define XVIO_BLKFRONT_H

#include <stdbool.h>
#include <stdint.h>

#include "xport.h"

#define XVIO_BLK_KIND "virtio_disk"
#define XVIO_BLK_VIRTIO_ID 2u

/* Largest read or write part we put in one virtio request. */
#define XVIO_BLK_MAX_IO (1u << 20)
/* Data descriptors per virtio request we use at most (seg-max is clamped). */
#define XVIO_BLK_MAX_SEGS 128u

enum xvio_blk_op {
	XVIO_BLK_READ,
	XVIO_BLK_WRITE,
	XVIO_BLK_FLUSH,        /* no range; every completed write is durable after it */
	XVIO_BLK_DISCARD,
	XVIO_BLK_WRITE_ZEROES,
	XVIO_BLK_GET_ID,       /* len 1..20 bytes of the serial at data/buf, offset 0 */
};

/* Request flags. */
#define XVIO_BLK_REQ_UNMAP (1u << 0) /* write-zeroes: the device may punch a hole */

/* What the backend offered, for the current (or last) session. */
struct xvio_blk_info {
	unsigned devid;
	char name[16];              /* "xvdb" (xvio_blk_vdev_name), or "disk<devid>" */
	uint64_t size;              /* bytes (config/capacity * 512) */
	uint32_t blk_size;          /* logical block size (512 when not offered) */
	uint32_t size_max;          /* config/size-max, 0 when not offered */
	uint32_t seg_max;           /* config/seg-max, 0 when not offered */
	uint32_t max_io;            /* bytes of one read/write virtio request */
	bool read_only;
	bool flush;                 /* FLUSH offered (else writes are write-through) */
	bool discard, write_zeroes;
	bool zeroes_may_unmap;      /* config/write-zeroes-may-unmap */
	uint32_t max_discard_sectors, max_discard_seg, discard_alignment;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
	unsigned num_queues, queue_size;
	unsigned sessions;          /* sessions that reached Connected */
};

struct xvio_blkfront;
struct xvio_blk;

/*
 * A request, owned by the caller from submit until done() (embed it).
 * Fill the first group, submit, and do not touch it until done() runs.
 */
struct xvio_blk_req {
	enum xvio_blk_op op;
	unsigned flags;
	uint64_t offset, len;                /* bytes */
	/* Data for read, write and get-id: a transport buffer of this disk
	 * (buf != NULL: buf_off + len <= buf->len) or a plain pointer. */
	const struct xvio_xport_buf *buf;
	uint32_t buf_off;
	void *data;
	void (*done)(struct xvio_blk_req *r); /* on the context thread */
	void *cookie;
	int status;                          /* in done(): 0 or -errno */
	/* private */
	struct xvio_blk *b_;
	struct xvio_blk_req *next_;
	uint64_t issued_;
	unsigned outstanding_, queue_;
	bool failed_, waiting_;
};

struct xvio_blkfront_ops {
	/* Optional: a disk directory was found (info not yet valid). */
	void (*added)(struct xvio_blk *b);
	/* Optional: a session is up; xvio_blk_info() is current. */
	void (*connected)(struct xvio_blk *b);
	/* Optional: the session went down; requests wait for the next. */
	void (*disconnected)(struct xvio_blk *b);
	/* Optional: the disk is gone.  Every request was completed
	 * (-ECANCELED); transport buffers of the disk are invalid (do not
	 * free them).  The handle is freed when this returns. */
	void (*removed)(struct xvio_blk *b);
};

struct xvio_blkfront_params {
	enum xvio_xport_mode mode;   /* buffer addressing (default data-area) */
	unsigned num_queues;         /* 0 = online CPUs (clamped by the backend) */
	unsigned queue_size;         /* 0 = 256 */
	unsigned area_pages;         /* 0 = 4096 (16 MiB) */
	const struct xvio_blkfront_ops *ops; /* may be NULL */
	void *arg;                   /* xvio_blkfront_arg() */
};

/*
 * Drive every virtio_disk of this domain through context `c`.  Free with
 * xvio_blkfront_free() before the context: sessions close, requests still
 * held complete with -ECANCELED, `removed` runs for every disk.
 */
int xvio_blkfront_new(struct xvio_xport_ctx *c, const struct xvio_blkfront_params *p,
                      struct xvio_blkfront **out, struct xvio_err *err);
void xvio_blkfront_free(struct xvio_blkfront *f);
void *xvio_blkfront_arg(const struct xvio_blkfront *f);

/* Iterate the disks (in no particular order); find one by devid. */
struct xvio_blk *xvio_blkfront_first(struct xvio_blkfront *f);
struct xvio_blk *xvio_blk_next(struct xvio_blk *b);
struct xvio_blk *xvio_blkfront_find(struct xvio_blkfront *f, unsigned devid);

struct xvio_blkfront *xvio_blk_front(const struct xvio_blk *b);
unsigned xvio_blk_devid(const struct xvio_blk *b);
bool xvio_blk_connected(const struct xvio_blk *b);
/* Valid once the disk connected at least once; false before. */
bool xvio_blk_info(const struct xvio_blk *b, struct xvio_blk_info *out);
/* Caller's pointer per disk. */
void xvio_blk_set_user(struct xvio_blk *b, void *user);
void *xvio_blk_user(const struct xvio_blk *b);

/*
 * Submit.  Returns 0 (done() will run later, never from inside this
 * call) or -errno (done() will not run): -EINVAL, -EROFS, -EOPNOTSUPP as
 * above, -ENODEV after removal.  Before the first session requests wait.
 */
int xvio_blk_submit(struct xvio_blk *b, struct xvio_blk_req *r);

/* Zero-copy buffers in the disk's device memory (xport.h rules: -ENOTCONN
 * before the first session, -ENOMEM when full, at most 4 MiB). */
int xvio_blk_buf_alloc(struct xvio_blk *b, uint32_t len, struct xvio_xport_buf *buf);
void xvio_blk_buf_free(struct xvio_blk *b, struct xvio_xport_buf *buf);

/* The transport device (for counters: pending, sessions). */
struct xvio_xport_fdev *xvio_blk_fdev(struct xvio_blk *b);

/* ---- vdev names (libxl's numbering, the inverse of its xvd parser) ----
 * xvd<letters><partition>: disk n < 16 and partition < 16 is 51712 + 16n
 * + p; otherwise (1 << 28) | n << 8 | p with p < 256.  Letters are
 * bijective base 26: a..z, aa..zz, ...  Returns the name length, or
 * -EINVAL for a devid that is not an xvd number (or name). */
int xvio_blk_vdev_name(unsigned devid, char *buf, size_t size);
int xvio_blk_vdev_parse(const char *name, unsigned *devid);

/* ======================================================================
 * Threaded layer
 * ====================================================================== */

struct xvio_blkt;

struct xvio_blkt_params {
	struct xvio_blkfront_params front; /* ops and arg are ignored */
	unsigned spin_us;                  /* context spin window */
	const char *platform;              /* NULL: default */
};

/*
 * Start a thread that owns a context and a blkfront.  Returns once the
 * first scan of device/virtio_disk is done (or failed).  Stop with
 * xvio_blkt_stop() (from any thread but the private one): it frees
 * everything; blocked callers get -ECANCELED.  All other functions are
 * thread-safe and may block.
 */
int xvio_blkt_start(const struct xvio_blkt_params *p, struct xvio_blkt **out,
                    struct xvio_err *err);
void xvio_blkt_stop(struct xvio_blkt *t);

/* Disks known now (present, connected or not), sorted by devid: fills up
 * to max entries of devids and returns how many there are. */
int xvio_blkt_list(struct xvio_blkt *t, unsigned *devids, unsigned max);

/* Wait up to timeout_ms for disk devid to be connected; fills *info.
 * -ENODEV at once for a disk that is not present (or the thread died),
 * -ETIMEDOUT for one that did not connect in time. */
int xvio_blkt_wait(struct xvio_blkt *t, unsigned devid, int timeout_ms,
                   struct xvio_blk_info *info);

/* Blocking I/O with a plain pointer (copied): as xvio_blk_submit plus the
 * completion status.  A disk that is not present answers -ENODEV; one
 * that is disconnected makes the call wait for the reconnect. */
int xvio_blkt_io(struct xvio_blkt *t, unsigned devid, enum xvio_blk_op op, unsigned flags,
                 void *data, uint64_t len, uint64_t offset);

#endif /* XVIO_BLKFRONT_H */
