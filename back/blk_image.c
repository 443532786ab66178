/* SPDX-License-Identifier: MIT */
/*
 * The image behind a virtio_disk (protocol §11.1, §11.2): libxl's keys,
 * opening the raw file or block device, and what the device offers for it.
 *
 * Logical block size: a block device's own (BLKSSZGET); a regular file's
 * is 512 bytes unless --block-size forces 4096, or O_DIRECT needs it (the
 * file system's direct-I/O offset alignment, statx STATX_DIOALIGN, is
 * above 512).  Capacity is the size rounded down to that block.
 *
 * Serial (GET_ID): "xvio" and 16 hex digits hashed from the file's device
 * and inode numbers (a block device: its device number), so the same image
 * keeps its serial across backend restarts and guests see a stable
 * /dev/disk/by-id name.  A copied image gets a new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "blk.h"

static const struct xvio_enum mode_enum[] = {
	{ "r", 1 },
	{ "w", 0 },
	{ NULL, 0 },
};

static const struct xvio_enum type_enum[] = {
	{ "disk", 0 },
	{ "cdrom", 1 },
	{ NULL, 0 },
};

void blk_image_serial(uint64_t a, uint64_t b, char out[BLK_SERIAL_LEN + 1])
{
	/* FNV-1a over both numbers: stable, well spread, no secret needed. */
	uint64_t h = 0xcbf29ce484222325ull;

	for (unsigned i = 0; i < 16; i++) {
		uint64_t v = i < 8 ? a : b;

		h ^= (v >> (8 * (i % 8))) & 0xff;
		h *= 0x100000001b3ull;
	}
	snprintf(out, BLK_SERIAL_LEN + 1, "xvio%016llx", (unsigned long long)h);
}

/* An optional 0/1 key: absent is false. */
static int read_flag(struct xs_handle *xs, xs_transaction_t t, const char *be,
                     const char *key, bool *out, struct xvio_err *err)
{
	int rc = xvio_xs_read_bool(xs, t, be, key, out, err);

	if (rc == -ENOENT) {
		*out = false;
		xvio_err_clear(err);
		return 0;
	}
	return rc;
}

static int read_keys(struct blk_image *img, struct xs_handle *xs, xs_transaction_t t,
                     const char *be, struct xvio_err *err)
{
	int ro = 0, cdrom = 0, rc;
	char q[80];

	rc = xvio_xs_read_str(xs, t, be, "params", img->path, sizeof(img->path), err);
	if (rc >= 0 && img->path[0] != '/')
		rc = xvio_err_set(err, EINVAL, "params: \"%s\" is not an absolute path",
		                  xvio_quote(q, sizeof(q), img->path, strlen(img->path)));
	/* libxl always writes mode: a missing one is refused, not guessed. */
	if (rc >= 0)
		rc = xvio_xs_read_enum(xs, t, be, "mode", mode_enum, &ro, err);
	if (rc >= 0) {
		rc = xvio_xs_read_enum(xs, t, be, "device-type", type_enum, &cdrom, err);
		if (rc == -ENOENT) { /* not written by older toolstacks: a disk */
			cdrom = 0;
			xvio_err_clear(err);
			rc = 0;
		}
	}
	if (rc >= 0)
		rc = read_flag(xs, t, be, "discard-enable", &img->discard, err);
	if (rc >= 0)
		rc = read_flag(xs, t, be, "direct-io-safe", &img->direct, err);
	img->ro = ro || cdrom;
	return rc < 0 ? rc : 0;
}

/* Decide the logical block size and O_DIRECT buffer alignment. */
static int pick_block(struct blk_image *img, const struct blk_opts *o, struct xvio_err *err)
{
	struct statx sx;
	int ssz = 512;

	img->mem_align = 1;
	if (img->bdev) {
		if (ioctl(img->fd, BLKSSZGET, &ssz) < 0)
			return xvio_err_set(err, errno, "params: %s: BLKSSZGET: %s", img->path,
			                    strerror(errno));
		img->blk_size = (uint32_t)ssz;
	} else {
		img->blk_size = o->block_size ? o->block_size : 512;
	}
	if (img->direct) {
		img->mem_align = 512;
		if (statx(img->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
		    (sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_offset_align) {
			if (!img->bdev && !o->block_size && sx.stx_dio_offset_align > 512)
				img->blk_size = 4096;
			if (sx.stx_dio_offset_align > img->blk_size)
				return xvio_err_set(err, EINVAL, "params: %s: direct I/O needs "
				                    "%u-byte alignment, more than a %u-byte block",
				                    img->path, sx.stx_dio_offset_align,
				                    img->blk_size);
			img->mem_align = sx.stx_dio_mem_align ? sx.stx_dio_mem_align : 512;
		}
	}
	if (img->blk_size != 512 && img->blk_size != 4096)
		return xvio_err_set(err, EINVAL, "params: %s: %u-byte logical blocks are not "
		                    "supported (512 or 4096)", img->path, img->blk_size);
	return 0;
}

/*
 * tmpfs and ramfs keep files in the page cache only and, on the kernels
 * here (6.x), take no non-blocking reads: io_uring hands every transfer
 * to a worker thread, one thread switch per request for what is a copy
 * that cannot wait on a disk.  blk_io.c copies small transfers of such an
 * image inline instead.
 */
static bool in_memory_fs(int fd)
{
	struct statfs sf;

	return fstatfs(fd, &sf) == 0 &&
	       ((unsigned long)sf.f_type == TMPFS_MAGIC || (unsigned long)sf.f_type == RAMFS_MAGIC);
}

static int open_file(struct blk_image *img, const struct blk_opts *o, struct xvio_err *err)
{
	/* O_NONBLOCK: a fifo must not hang us in open(); cleared below, or
	 * io_uring would answer EAGAIN instead of waiting for the disk. */
	int flags = (img->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
	struct stat st;
	uint64_t size;

	img->sync = o->sync && !img->ro;
	flags |= img->direct ? O_DIRECT : 0;
	flags |= img->sync ? O_SYNC : 0;
	img->fd = open(img->path, flags);
	if (img->fd < 0)
		return xvio_err_set(err, errno, "params: %s: %s", img->path, strerror(errno));
	if (fstat(img->fd, &st) < 0)
		return xvio_err_set(err, errno, "params: %s: %s", img->path, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return xvio_err_set(err, EINVAL, "params: %s: not a regular file or a block "
		                    "device", img->path);
	if (fcntl(img->fd, F_SETFL, img->direct ? O_DIRECT : 0) < 0)
		return xvio_err_set(err, errno, "params: %s: %s", img->path, strerror(errno));
	img->bdev = S_ISBLK(st.st_mode);
	img->in_memory = !img->bdev && !img->direct && in_memory_fs(img->fd);
	if (img->bdev) {
		if (ioctl(img->fd, BLKGETSIZE64, &size) < 0)
			return xvio_err_set(err, errno, "params: %s: BLKGETSIZE64: %s", img->path,
			                    strerror(errno));
		blk_image_serial(st.st_rdev, 0, img->serial);
	} else {
		size = (uint64_t)st.st_size;
		blk_image_serial(st.st_dev, st.st_ino, img->serial);
	}
	if (pick_block(img, o, err) < 0)
		return -err->err;
	img->capacity = size / img->blk_size * (img->blk_size / 512);
	/* Discard granularity: the file system's block when larger. */
	img->discard_align = img->blk_size / 512;
	if (st.st_blksize > 0 && (uint32_t)st.st_blksize > img->blk_size &&
	    st.st_blksize <= 1 << 20 && !(st.st_blksize & (st.st_blksize - 1)))
		img->discard_align = (uint32_t)st.st_blksize / 512;
	return 0;
}

int blk_image_open(struct blk_image *img, struct xs_handle *xs, xs_transaction_t t,
                   const char *be, const struct blk_opts *o, struct xvio_err *err)
{
	int rc;

	blk_image_close(img);
	memset(img, 0, sizeof(*img));
	img->fd = -1;
	rc = read_keys(img, xs, t, be, err);
	if (rc == 0)
		rc = open_file(img, o, err);
	if (rc < 0) {
		blk_image_close(img);
		return rc;
	}
	img->discard = img->discard && !img->ro;
	img->features = BLK_FEATURE(VIRTIO_BLK_F_SIZE_MAX) | BLK_FEATURE(VIRTIO_BLK_F_SEG_MAX) |
	                BLK_FEATURE(VIRTIO_BLK_F_BLK_SIZE) | BLK_FEATURE(VIRTIO_BLK_F_FLUSH) |
	                BLK_FEATURE(VIRTIO_BLK_F_MQ);
	if (img->ro)
		img->features |= BLK_FEATURE(VIRTIO_BLK_F_RO);
	if (img->discard)
		img->features |= BLK_FEATURE(VIRTIO_BLK_F_DISCARD) |
		                 BLK_FEATURE(VIRTIO_BLK_F_WRITE_ZEROES);
	return 0;
}

void blk_image_close(struct blk_image *img)
{
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
}

/* One config/<key> = number. */
static int put(struct xs_handle *xs, xs_transaction_t t, const char *be, const char *key,
               uint64_t v, struct xvio_err *err)
{
	char k[64];

	snprintf(k, sizeof(k), "config/%s", key);
	return xvio_xs_printf(xs, t, be, k, err, "%llu", (unsigned long long)v);
}

int blk_image_publish(const struct blk_image *img, struct xs_handle *xs, xs_transaction_t t,
                      const char *be, unsigned max_queues, struct xvio_err *err)
{
	int rc;

	/* A previous session may have offered more (discard): start clean. */
	rc = xvio_xs_rm(xs, t, be, "config", err);
	if (rc == 0)
		rc = put(xs, t, be, "capacity", img->capacity, err);
	if (rc == 0)
		rc = put(xs, t, be, "size-max", BLK_SIZE_MAX, err);
	if (rc == 0)
		rc = put(xs, t, be, "seg-max", BLK_SEG_MAX, err);
	if (rc == 0)
		rc = put(xs, t, be, "blk-size", img->blk_size, err);
	if (rc == 0)
		rc = put(xs, t, be, "num-queues", max_queues, err);
	if (rc == 0 && img->discard) {
		rc = put(xs, t, be, "max-discard-sectors", BLK_MAX_DISCARD_SECTORS, err);
		if (rc == 0)
			rc = put(xs, t, be, "max-discard-seg", BLK_MAX_DISCARD_SEG, err);
		if (rc == 0)
			rc = put(xs, t, be, "discard-sector-alignment", img->discard_align, err);
		if (rc == 0)
			rc = put(xs, t, be, "max-write-zeroes-sectors", BLK_MAX_DISCARD_SECTORS,
			         err);
		if (rc == 0)
			rc = put(xs, t, be, "max-write-zeroes-seg", BLK_MAX_DISCARD_SEG, err);
		if (rc == 0)
			rc = put(xs, t, be, "write-zeroes-may-unmap", 1, err);
	}
	return rc;
}
