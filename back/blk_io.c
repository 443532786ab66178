/* SPDX-License-Identifier: MIT */
/*
 * Performing requests with io_uring: one ring per daemon, reads and writes
 * straight into the request's iovecs (they are the guest's mapped pages,
 * no copy), fdatasync for FLUSH, fallocate for DISCARD and WRITE_ZEROES.
 *
 * Each request has at most one operation in the kernel at a time: a short
 * transfer is resubmitted for the rest, a multi-range discard issues its
 * ranges one after the other.  At most cq_entries requests are in the
 * kernel (the completion ring can never overflow); the others wait in
 * arrival order.  A request completes only from the completion of its
 * last operation, i.e. once the data is where the open mode puts it (page
 * cache, the device with O_DIRECT, stable storage with O_SYNC or after an
 * fdatasync).
 *
 * Except on a memory-backed image (tmpfs, ramfs): io_uring would hand each
 * transfer to a worker thread there (no non-blocking reads), so transfers
 * up to INLINE_MAX are copied in this thread with preadv/pwritev and their
 * result delivered like a completion (transfer_inline).
 *
 * Fallbacks, each decided once per image on the first refusal:
 *   - WRITE_ZEROES: FALLOC_FL_ZERO_RANGE; refused (tmpfs) -> punch a hole
 *     and allocate the range again; punching refused -> write zeroes;
 *   - DISCARD: punching refused -> nothing (a discard is a hint);
 *   - O_DIRECT with guest buffers the file system cannot use directly
 *     (misaligned address or length), or more than IOV_MAX segments ->
 *     one aligned bounce buffer for the request;
 *   - a ring without IORING_OP_FALLOCATE (kernel < 5.6) -> fallocate(2)
 *     in the loop (the result is delivered like a completion).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "blk.h"

/* Zeroes for the last write-zeroes fallback (aligned for O_DIRECT). */
#define ZCHUNK (64u * 1024u)
#define ZIOV 16u /* = struct blk_ioreq's ziov */
static char zeroes[ZCHUNK] __attribute__((aligned(4096)));

struct blk_io {
	struct io_uring ring;
	int efd;
	bool efd_on;            /* completions signal efd (blk_io_arm) */
	unsigned nfiles;        /* registered file table slots (0: none) */
	uint8_t *file_used;     /* per slot */
	unsigned cap;           /* requests allowed in the kernel */
	unsigned in_kernel;
	bool async_falloc;
	struct blk_ioreq *wait_head, *wait_tail; /* waiting for room */
	struct blk_ioreq *sync_head;             /* sync results to deliver */
};

/* user_data of operations nobody waits for (cancellations). */
#define UD_IGNORE 0

/*
 * The ring is only ever used by the thread that made it, so the kernel
 * need not interrupt it to run completion work (COOP_TASKRUN: that work
 * runs when the thread next enters the kernel; TASKRUN_FLAG tells
 * liburing when to enter for it) and may skip the locking for several
 * submitters (SINGLE_ISSUER).  Older kernels refuse unknown flags with
 * -EINVAL: then the plain ring.
 */
static int ring_init(struct blk_io *io, unsigned entries)
{
	static const unsigned extra[] = {
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SINGLE_ISSUER,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		0,
	};
	int rc = -EINVAL;

	for (unsigned i = 0; i < sizeof(extra) / sizeof(extra[0]) && rc == -EINVAL; i++) {
		struct io_uring_params prm = { 0 };

		prm.flags = IORING_SETUP_CQSIZE | extra[i];
		prm.cq_entries = entries * 2;
		rc = io_uring_queue_init_params(entries, &io->ring, &prm);
		if (rc == 0)
			io->cap = prm.cq_entries;
	}
	return rc;
}

int blk_io_new(unsigned entries, struct blk_io **out)
{
	struct io_uring_probe *probe;
	struct blk_io *io = calloc(1, sizeof(*io));
	int rc;

	if (!io)
		return -ENOMEM;
	io->efd = -1;
	rc = ring_init(io, entries);
	if (rc < 0) {
		free(io);
		return rc;
	}
	io->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (io->efd < 0 || (rc = io_uring_register_eventfd(&io->ring, io->efd)) < 0) {
		rc = io->efd < 0 ? -errno : rc;
		blk_io_free(io);
		return rc;
	}
	io->efd_on = true;
	/* Registered files save a file lookup and reference per operation;
	 * without them (old kernel, no memory) requests use the plain fd. */
	io->file_used = calloc(BLK_IO_FILES, 1);
	if (io->file_used && io_uring_register_files_sparse(&io->ring, BLK_IO_FILES) == 0)
		io->nfiles = BLK_IO_FILES;
	probe = io_uring_get_probe_ring(&io->ring);
	io->async_falloc = probe && io_uring_opcode_supported(probe, IORING_OP_FALLOCATE);
	if (probe)
		io_uring_free_probe(probe);
	*out = io;
	return 0;
}

void blk_io_free(struct blk_io *io)
{
	if (!io)
		return;
	io_uring_queue_exit(&io->ring);
	if (io->efd >= 0)
		close(io->efd);
	free(io->file_used);
	free(io);
}

unsigned blk_io_file_add(struct blk_io *io, int fd)
{
	for (unsigned i = 0; i < io->nfiles; i++) {
		if (io->file_used[i])
			continue;
		if (io_uring_register_files_update(&io->ring, i, &fd, 1) != 1)
			return 0;
		io->file_used[i] = 1;
		return i + 1;
	}
	return 0;
}

void blk_io_file_del(struct blk_io *io, unsigned reg)
{
	int none = -1;

	if (reg == 0 || reg > io->nfiles || !io->file_used[reg - 1])
		return;
	/* The kernel keeps its own reference while operations use it. */
	if (io_uring_register_files_update(&io->ring, reg - 1, &none, 1) == 1)
		io->file_used[reg - 1] = 0;
}

bool blk_io_arm(struct blk_io *io)
{
	if (!io->efd_on) {
		io_uring_cq_eventfd_toggle(&io->ring, true);
		io->efd_on = true;
	}
	/* What completed while it was off signalled nothing. */
	return blk_io_busy(io);
}

void blk_io_disarm(struct blk_io *io)
{
	if (io->efd_on) {
		io_uring_cq_eventfd_toggle(&io->ring, false);
		io->efd_on = false;
	}
}

int blk_io_fd(const struct blk_io *io)
{
	return io->efd;
}

bool blk_io_async_fallocate(const struct blk_io *io)
{
	return io->async_falloc;
}

/* ---- one request's operations ---- */

static struct io_uring_sqe *get_sqe(struct blk_io *io)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);

	while (!sqe) { /* the submission ring is full: hand it over */
		io_uring_submit(&io->ring);
		sqe = io_uring_get_sqe(&io->ring);
	}
	return sqe;
}

static uint64_t range_off(const struct blk_ioreq *q)
{
	return q->p.ranges[q->range].sector * 512;
}

static uint64_t range_len(const struct blk_ioreq *q)
{
	return (uint64_t)q->p.ranges[q->range].num_sectors * 512;
}

/* The fallocate mode of the current discard/write-zeroes step; -1: write
 * zeroes instead; -2: nothing to do (a discard the file cannot punch). */
static int falloc_mode(const struct blk_ioreq *q)
{
	const struct blk_image *img = q->img;
	bool unmap = q->p.ranges[q->range].flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;

	if (q->p.type == VIRTIO_BLK_T_DISCARD)
		return img->no_punch ? -2 : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	if (!unmap && !img->no_zero_range)
		return FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	if (img->no_punch)
		return -1;
	/* Punched (UNMAP: may-unmap is 1), then for a plain write-zeroes
	 * allocated again (step 1) so later writes do not fail for space. */
	return q->step == 0 ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : FALLOC_FL_KEEP_SIZE;
}

/* A result produced without the ring: delivered by the next blk_io_run,
 * so completion callbacks never run from blk_io_start. */
static void deliver_sync(struct blk_io *io, struct blk_ioreq *q, int res)
{
	q->sync_res = res;
	q->next = io->sync_head;
	io->sync_head = q;
}

/* The operation of the current discard/write-zeroes step; NULL when the
 * result was produced synchronously. */
static struct io_uring_sqe *issue_falloc(struct blk_io *io, struct blk_ioreq *q)
{
	int fd = q->img->fd, mode = falloc_mode(q);
	off_t off = (off_t)range_off(q), len = (off_t)range_len(q);
	struct io_uring_sqe *sqe;

	if (mode == -2) {
		deliver_sync(io, q, 0);
		return NULL;
	}
	if (mode == -1) {
		uint64_t left = range_len(q) - q->done_bytes;
		unsigned n = 0;

		/* Write zeroes from a static buffer, 1 MiB per operation. */
		for (; n < ZIOV && left > 0; n++) {
			q->ziov[n] = (struct iovec){ zeroes, left < ZCHUNK ? (size_t)left : ZCHUNK };
			left -= q->ziov[n].iov_len;
		}
		sqe = get_sqe(io);
		io_uring_prep_writev(sqe, fd, q->ziov, n, off + (off_t)q->done_bytes);
		return sqe;
	}
	if (!io->async_falloc) {
		deliver_sync(io, q, fallocate(fd, mode, off, len) < 0 ? -errno : 0);
		return NULL;
	}
	sqe = get_sqe(io);
	io_uring_prep_fallocate(sqe, fd, mode, off, len);
	return sqe;
}

/* Use the image's registered slot (the sqe was prepared with its fd). */
static void set_file(struct io_uring_sqe *sqe, const struct blk_image *img)
{
	if (img->reg) {
		sqe->fd = (int)img->reg - 1;
		sqe->flags |= IOSQE_FIXED_FILE;
	}
}

/*
 * A memory-backed image (blk_image.c in_memory_fs): up to INLINE_MAX
 * bytes are copied here, with the result delivered like a completion;
 * larger transfers still go to io_uring, whose workers copy several at a
 * time on other CPUs.
 */
#define INLINE_MAX (64u * 1024u)

static bool transfer_inline(struct blk_io *io, struct blk_ioreq *q, const struct iovec *v,
                            unsigned n, off_t off)
{
	ssize_t res;

	if (!q->img->in_memory || q->p.len - q->done_bytes > INLINE_MAX)
		return false;
	if (q->p.type == VIRTIO_BLK_T_IN)
		res = preadv(q->img->fd, v, (int)n, off);
	else
		res = pwritev(q->img->fd, v, (int)n, off);
	deliver_sync(io, q, res < 0 ? -errno : (int)res);
	return true;
}

/* Put the request's next operation in the submission ring. */
static void issue(struct blk_io *io, struct blk_ioreq *q)
{
	struct io_uring_sqe *sqe = NULL;
	int fd = q->img->fd;
	off_t off = (off_t)(q->p.sector * 512 + q->done_bytes);

	io->in_kernel++;
	switch (q->p.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		const struct iovec *v = q->bounce ? &q->biov : q->p.iov;
		unsigned n = q->bounce ? 1 : q->p.niov;

		if (transfer_inline(io, q, v, n, off))
			break;
		sqe = get_sqe(io);
		if (q->p.type == VIRTIO_BLK_T_IN)
			io_uring_prep_readv(sqe, fd, v, n, off);
		else
			io_uring_prep_writev(sqe, fd, v, n, off);
		break;
	}
	case VIRTIO_BLK_T_FLUSH:
		sqe = get_sqe(io);
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	default: /* DISCARD, WRITE_ZEROES */
		sqe = issue_falloc(io, q);
		break;
	}
	if (sqe) {
		io_uring_sqe_set_data(sqe, q);
		set_file(sqe, q->img);
	}
}

/* Start q now if the kernel has room, else queue it in order. */
static void admit(struct blk_io *io, struct blk_ioreq *q)
{
	if (!io->wait_head && io->in_kernel < io->cap) {
		issue(io, q);
		return;
	}
	q->next = NULL;
	if (io->wait_tail)
		io->wait_tail->next = q;
	else
		io->wait_head = q;
	io->wait_tail = q;
}

static void admit_waiting(struct blk_io *io)
{
	while (io->wait_head && io->in_kernel < io->cap) {
		struct blk_ioreq *q = io->wait_head;

		io->wait_head = q->next;
		if (!io->wait_head)
			io->wait_tail = NULL;
		issue(io, q);
	}
}

/* Does O_DIRECT need a bounce buffer for these iovecs? */
static bool needs_bounce(const struct blk_ioreq *q)
{
	uint32_t a = q->img->mem_align;

	if (q->p.niov > IOV_MAX)
		return true;
	if (!q->img->direct)
		return false;
	for (unsigned i = 0; i < q->p.niov; i++) {
		if ((uintptr_t)q->p.iov[i].iov_base % a || q->p.iov[i].iov_len % a)
			return true;
	}
	return false;
}

/* The next range of a discard/write-zeroes, skipping empty ones. */
static bool next_range(struct blk_ioreq *q)
{
	q->step = 0;
	q->done_bytes = 0;
	while (++q->range < q->p.nranges) {
		if (q->p.ranges[q->range].num_sectors)
			return true;
	}
	return false;
}

void blk_io_start(struct blk_io *io, struct blk_ioreq *q)
{
	q->done_bytes = 0;
	q->range = 0;
	q->step = 0;
	q->bounce = NULL;
	q->owner->inflight++;
	if ((q->p.type == VIRTIO_BLK_T_IN || q->p.type == VIRTIO_BLK_T_OUT) && q->p.len &&
	    needs_bounce(q)) {
		if (posix_memalign(&q->bounce, 4096, (size_t)q->p.len) != 0) {
			q->bounce = NULL;
			io->in_kernel++; /* deliver_sync's result is reaped as one */
			deliver_sync(io, q, -ENOMEM);
			return;
		}
		if (q->p.type == VIRTIO_BLK_T_OUT)
			blk_iov_read(q->p.iov, q->p.niov, 0, q->bounce, (size_t)q->p.len);
		q->biov = (struct iovec){ q->bounce, (size_t)q->p.len };
	}
	if (q->p.type == VIRTIO_BLK_T_DISCARD || q->p.type == VIRTIO_BLK_T_WRITE_ZEROES) {
		/* Start at the first non-empty range. */
		q->range = (unsigned)-1;
		if (!next_range(q))
			q->p.len = 0;
	}
	if (q->p.len == 0 && q->p.type != VIRTIO_BLK_T_FLUSH) {
		io->in_kernel++;
		deliver_sync(io, q, 0); /* nothing to transfer */
		return;
	}
	admit(io, q);
}

/* ---- results ---- */

static void finish(struct blk_io *io, struct blk_ioreq *q, unsigned status)
{
	if (status == VIRTIO_BLK_S_OK && q->bounce && q->p.type == VIRTIO_BLK_T_IN)
		blk_iov_write(q->p.iov, q->p.niov, 0, q->bounce, (size_t)q->p.len);
	free(q->bounce);
	q->bounce = NULL;
	q->owner->inflight--;
	q->done(q, status);
}

/* A transfer moved `res` bytes: continue with the rest. */
static bool transfer_more(struct blk_ioreq *q, unsigned res)
{
	q->done_bytes += res;
	if (q->done_bytes >= q->p.len)
		return false;
	if (q->bounce)
		q->biov = (struct iovec){ (char *)q->bounce + q->done_bytes,
		                          (size_t)(q->p.len - q->done_bytes) };
	else
		q->p.niov = blk_iov_advance(q->p.iov, q->p.niov, res);
	return true;
}

/* Discard/write-zeroes step result: true to issue again. */
static bool falloc_more(struct blk_ioreq *q, int res, unsigned *status)
{
	struct blk_image *img = q->img;
	int mode = falloc_mode(q);

	if (res == -EOPNOTSUPP || res == -ENOSYS) {
		if (mode == -1)
			goto fail;
		if (mode & FALLOC_FL_ZERO_RANGE) {
			img->no_zero_range = true;
		} else if (mode & FALLOC_FL_PUNCH_HOLE) {
			img->no_punch = true;
		} else {
			/* Allocating again is refused: the punched range
			 * reads as zeroes, which is all that was asked. */
			res = 0;
			goto next;
		}
		q->step = 0;
		return true;
	}
	if (res < 0)
		goto fail;
	if (mode == -1) {
		if (res == 0)
			goto fail;
		q->done_bytes += (unsigned)res;
		if (q->done_bytes < range_len(q))
			return true;
	} else if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) &&
	           q->p.type == VIRTIO_BLK_T_WRITE_ZEROES && q->step == 0 &&
	           !(q->p.ranges[q->range].flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)) {
		q->step = 1; /* allocate the punched range again */
		return true;
	}
next:
	if (next_range(q))
		return true;
	*status = VIRTIO_BLK_S_OK;
	return false;
fail:
	*status = VIRTIO_BLK_S_IOERR;
	return false;
}

/* One operation of q finished with `res`. */
static void result(struct blk_io *io, struct blk_ioreq *q, int res)
{
	unsigned status = VIRTIO_BLK_S_IOERR;
	bool more = false;

	io->in_kernel--;
	if (q->owner->draining) {
		finish(io, q, BLK_ABANDONED);
		return;
	}
	if (res == -EAGAIN || res == -EINTR) {
		issue(io, q); /* nothing happened: the same operation again */
		return;
	}
	if (q->p.len == 0 && q->p.type != VIRTIO_BLK_T_FLUSH) {
		finish(io, q, VIRTIO_BLK_S_OK); /* nothing was to be done */
		return;
	}
	switch (q->p.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (res > 0 && !(more = transfer_more(q, (unsigned)res)))
			status = VIRTIO_BLK_S_OK;
		/* res == 0 with bytes left: the image shrank under us. */
		break;
	case VIRTIO_BLK_T_FLUSH:
		status = res < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		break;
	default:
		more = falloc_more(q, res, &status);
		break;
	}
	if (more)
		issue(io, q);
	else
		finish(io, q, status);
}

static unsigned reap(struct blk_io *io)
{
	struct io_uring_cqe *cqe;
	unsigned n = 0;

	while (io_uring_peek_cqe(&io->ring, &cqe) == 0) {
		struct blk_ioreq *q = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&io->ring, cqe);
		if (q) {
			result(io, q, res);
			n++;
		}
	}
	while (io->sync_head) {
		struct blk_ioreq *q = io->sync_head;

		io->sync_head = q->next;
		result(io, q, q->sync_res);
		n++;
	}
	return n;
}

bool blk_io_busy(struct blk_io *io)
{
	/* Entries still in the submission ring: the kernel refused them for
	 * now (EBUSY, EAGAIN); try again on the next turn.  TASKRUN:
	 * completion work waits for us to enter the kernel (reap does). */
	return io->sync_head || io_uring_cq_ready(&io->ring) > 0 ||
	       io_uring_sq_ready(&io->ring) > 0 ||
	       (IO_URING_READ_ONCE(*io->ring.sq.kflags) & IORING_SQ_TASKRUN);
}

unsigned blk_io_run(struct blk_io *io)
{
	unsigned n = 0, k;

	do {
		admit_waiting(io);
		io_uring_submit(&io->ring);
		k = reap(io);
		n += k;
	} while (k > 0 && n < 4096); /* bounded: other work waits too */
	admit_waiting(io);
	io_uring_submit(&io->ring);
	return n;
}

unsigned blk_io_drain(struct blk_io *io, struct blk_owner *owner, int fd)
{
	struct blk_ioreq **pp = &io->wait_head, *q;
	unsigned n = owner->inflight;

	owner->draining = true;
	/* Not yet in the kernel: abandon at once. */
	io->wait_tail = NULL;
	while ((q = *pp)) {
		if (q->owner == owner) {
			*pp = q->next;
			finish(io, q, BLK_ABANDONED);
		} else {
			io->wait_tail = q;
			pp = &q->next;
		}
	}
	if (owner->inflight && fd >= 0) {
		struct io_uring_sqe *sqe = get_sqe(io);

		/* What has not started yet needs no waiting; running
		 * operations finish (a disk read cannot be interrupted). */
		io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data(sqe, UD_IGNORE);
	}
	for (;;) {
		int rc;

		reap(io);
		if (!owner->inflight)
			break;
		rc = io_uring_submit_and_wait(&io->ring, 1);
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
			break; /* the ring itself failed: nothing will complete */
	}
	owner->draining = false;
	return n;
}
