/* SPDX-License-Identifier: MIT */
/*
 * xvio-blkback internals (docs/protocol.md §11): one file per role.
 *
 *   blk_req.c    a request's bytes: parse the virtio-blk header, find the
 *                status byte, cut the data out of the iovecs, validate
 *                against the image (pure functions, unit-tested);
 *   blk_image.c  open the image named by libxl's keys and decide what the
 *                device offers (block size, capacity, features, limits,
 *                serial), write config/ keys;
 *   blk_io.c     io_uring: perform validated requests, resubmit short
 *                transfers, wait for a device's I/O at disconnect;
 *   blkback.c    the daemon: options, the transport glue, the event loop.
 *
 * Threading: everything runs on the daemon's one event-loop thread.
 * Error convention: -errno (docs/architecture.md §3); only blkback.c logs.
 */
#ifndef XVIO_BLK_H
#define XVIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_blk.h>

#include "xport.h"

/* ---- limits the device advertises (protocol §11.2) ---- */

/* Data segments per request: the transport's 256-descriptor chain bound
 * (§9) minus the header and the status; longer chains never get here. */
#define BLK_SEG_MAX 254u
/* Largest data segment: the transport's largest buffer (4 MiB). */
#define BLK_SIZE_MAX XVIO_XPORT_MAX_BUF
/* Discard / write-zeroes: sectors per range (2 GiB) and ranges per
 * request (one 4 KiB page of 16-byte ranges). */
#define BLK_MAX_DISCARD_SECTORS (1u << 22)
#define BLK_MAX_DISCARD_SEG 256u
/* Longest serial (virtio: 20 bytes, NUL-padded). */
#define BLK_SERIAL_LEN VIRTIO_BLK_ID_BYTES

#define BLK_FEATURE(bit) (1ull << (bit))
/* Every device bit this daemon may offer (some only per image). */
#define BLK_FEATURES_ALL                                                              \
	(BLK_FEATURE(VIRTIO_BLK_F_SIZE_MAX) | BLK_FEATURE(VIRTIO_BLK_F_SEG_MAX) |     \
	 BLK_FEATURE(VIRTIO_BLK_F_BLK_SIZE) | BLK_FEATURE(VIRTIO_BLK_F_FLUSH) |       \
	 BLK_FEATURE(VIRTIO_BLK_F_MQ) | BLK_FEATURE(VIRTIO_BLK_F_RO) |                \
	 BLK_FEATURE(VIRTIO_BLK_F_DISCARD) | BLK_FEATURE(VIRTIO_BLK_F_WRITE_ZEROES))

/* ---- daemon options ---- */

struct blk_opts {
	unsigned spin_us;
	unsigned max_queues;  /* 1..16 */
	unsigned block_size;  /* 0: automatic; 512 or 4096: every regular file */
	unsigned queue_depth; /* io_uring submission entries */
	bool sync;            /* O_SYNC for every writable image */
};

/* ---- an open image (blk_image.c) ---- */

struct blk_image {
	int fd;
	char path[4096];
	bool ro;              /* mode=r or cdrom: opened O_RDONLY */
	bool direct;          /* O_DIRECT (direct-io-safe=1) */
	bool sync;            /* O_SYNC */
	bool discard;         /* DISCARD and WRITE_ZEROES offered */
	bool bdev;            /* a block device, else a regular file */
	bool in_memory;       /* tmpfs/ramfs, buffered: small transfers inline */
	uint32_t blk_size;    /* logical block: 512 or 4096 */
	uint32_t mem_align;   /* O_DIRECT buffer alignment (1 when buffered) */
	uint64_t capacity;    /* 512-byte sectors, a multiple of blk_size */
	uint32_t discard_align; /* sectors */
	uint64_t features;    /* device bits offered for this image */
	char serial[BLK_SERIAL_LEN + 1];
	/* What the file system refused once (then a fallback is used). */
	bool no_zero_range, no_punch;
	/* blk_io_file_add's slot for fd (0: none, use fd); the owner of the
	 * blk_io registers and unregisters it (blk_image_open clears it). */
	unsigned reg;
};

/*
 * Read libxl's keys of backend directory `be` through `t` and open the
 * image.  On failure *err names the key and quotes the value or the path
 * (the message goes to the error node).  `img->fd` is -1 when closed.
 */
int blk_image_open(struct blk_image *img, struct xs_handle *xs, xs_transaction_t t,
                   const char *be, const struct blk_opts *o, struct xvio_err *err);
void blk_image_close(struct blk_image *img);
/* Write config/ into the InitWait transaction (protocol §2.1, §11.2). */
int blk_image_publish(const struct blk_image *img, struct xs_handle *xs, xs_transaction_t t,
                      const char *be, unsigned max_queues, struct xvio_err *err);
/* A stable serial for an image: "xvio" + 16 hex digits. */
void blk_image_serial(uint64_t a, uint64_t b, char out[BLK_SERIAL_LEN + 1]);

/* ---- a request's bytes (blk_req.c) ---- */

struct blk_parsed {
	uint32_t type;
	uint64_t sector;
	uint8_t status;       /* VIRTIO_BLK_S_OK: perform it; else answer this */
	uint8_t *status_ptr;  /* the last writable byte */
	uint64_t len;         /* data bytes (IN/OUT/GET_ID) or range bytes */
	unsigned niov;        /* data iovecs in iov */
	struct iovec *iov;    /* caller's array: at least breq niov entries */
	unsigned nranges;     /* DISCARD / WRITE_ZEROES */
	struct virtio_blk_discard_write_zeroes *ranges; /* caller's, BLK_MAX_DISCARD_SEG */
};

/*
 * Parse a request in two steps, so the caller can provide the ranges array
 * only for the types that need it (decided on the private copy):
 *
 * blk_parse_head: copy the header once, find the status byte.  Returns 0,
 * or -EPROTO when the chain has no room for the 16-byte header or the
 * status byte: it cannot be answered (the device fails).
 *
 * blk_parse_body: validate against `img`; sets p->status (VIRTIO_BLK_S_OK:
 * perform it, else answer this at once), the data iovecs (pointing into
 * the request's buffers; p->iov must have room for the request's niov) and,
 * for DISCARD / WRITE_ZEROES, p->ranges (BLK_MAX_DISCARD_SEG entries,
 * copied once and decoded from little-endian).
 */
int blk_parse_head(const struct xvio_xport_breq *r, struct blk_parsed *p);
void blk_parse_body(const struct blk_image *img, const struct xvio_xport_breq *r,
                    struct blk_parsed *p);

/* Bytes of iovecs, cursor style: copy `len` bytes at byte offset `off`
 * out of (into) the iovecs; returns the bytes copied. */
size_t blk_iov_read(const struct iovec *iov, unsigned n, size_t off, void *dst, size_t len);
size_t blk_iov_write(const struct iovec *iov, unsigned n, size_t off, const void *src,
                     size_t len);
/* Fill `len` bytes at `off` with zeroes. */
size_t blk_iov_zero(const struct iovec *iov, unsigned n, size_t off, size_t len);
/* Make dst cover [off, off+len) of src; returns the count (<= nsrc). */
unsigned blk_iov_slice(const struct iovec *src, unsigned nsrc, size_t off, size_t len,
                       struct iovec *dst);
/* Drop `done` bytes from the front of iov (in place); returns the new
 * count.  Used to resubmit the rest of a short transfer. */
unsigned blk_iov_advance(struct iovec *iov, unsigned n, size_t done);

/* ---- io_uring (blk_io.c) ---- */

struct blk_io;
struct blk_ioreq;

/* Who owns requests: one per device, for draining at disconnect. */
struct blk_owner {
	unsigned inflight;    /* requests in the engine (queued or submitted) */
	bool draining;        /* blk_io_drain runs: abandon what completes */
};

/* Called once when a request finished with a virtio status, or with
 * BLK_ABANDONED from blk_io_drain (then do not answer it: the session is
 * gone; just free it). */
#define BLK_ABANDONED 0xffu
typedef void (*blk_done_fn)(struct blk_ioreq *q, unsigned status);

struct blk_ioreq {
	/* filled by the caller */
	struct blk_owner *owner;
	struct blk_image *img;
	struct blk_parsed p;
	blk_done_fn done;
	/* private */
	struct blk_ioreq *next;
	uint64_t done_bytes;     /* IN/OUT: transferred so far */
	unsigned range;          /* DISCARD/WZ: the range in progress */
	unsigned step;           /* a multi-op fallback's step */
	bool submitted;
	bool abandoned;
	int sync_res;            /* a result made without the ring */
	void *bounce;            /* O_DIRECT, misaligned guest buffers */
	struct iovec biov;
	struct iovec ziov[16];   /* write-zeroes fallback: zero buffers */
};

/*
 * One ring for the daemon, `entries` submission entries (completion ring
 * twice that; at most that many requests are in the kernel at once, the
 * rest wait in order).  Returns -errno (e.g. -ENOSYS, -EPERM when
 * io_uring is disabled).
 */
int blk_io_new(unsigned entries, struct blk_io **out);
void blk_io_free(struct blk_io *io);
/* An eventfd readable when completions may be waiting. */
int blk_io_fd(const struct blk_io *io);
/*
 * Registered files (a sparse table of BLK_IO_FILES slots): returns a slot
 * + 1 for blk_image.reg, or 0 when fd cannot be registered (no table, all
 * slots taken): requests then use the plain fd.  Delete before closing
 * the fd; operations still in the kernel keep the file alive.
 */
#define BLK_IO_FILES 256u
unsigned blk_io_file_add(struct blk_io *io, int fd);
void blk_io_file_del(struct blk_io *io, unsigned reg);
/*
 * The eventfd is only needed while the loop sleeps: a loop that polls the
 * ring every pass (while the transport spins) calls blk_io_disarm() so the
 * kernel does not signal it on every completion, and blk_io_arm() before
 * it sleeps; arm returns true when completions (or completion work) may
 * be waiting, which no signal will announce: run before sleeping.
 */
bool blk_io_arm(struct blk_io *io);
void blk_io_disarm(struct blk_io *io);
/* Whether the ring can do fallocate (else it runs synchronously). */
bool blk_io_async_fallocate(const struct blk_io *io);
/* Start a validated request; q->done runs later (never from here). */
void blk_io_start(struct blk_io *io, struct blk_ioreq *q);
/* Submit what was queued; reap completions (running their callbacks).
 * Returns the number of requests finished. */
unsigned blk_io_run(struct blk_io *io);
/* Completions are waiting (blk_io_run stopped at its bound). */
bool blk_io_busy(struct blk_io *io);
/*
 * Wait until no request of `owner` is in the kernel: cancel what can be
 * cancelled, wait for the rest, and abandon them all (done runs with
 * BLK_ABANDONED).  Other owners' completions
 * reaped meanwhile are delivered normally.  After this the kernel will
 * never touch those requests' buffers.  Returns how many were abandoned.
 */
unsigned blk_io_drain(struct blk_io *io, struct blk_owner *owner, int fd);

#endif /* XVIO_BLK_H */
