/* SPDX-License-Identifier: MIT */
/*
 * Integration: xvio-blkback (protocol §11) driven by blktest-front, a
 * request-level frontend, on a private simulator.  Each case checks what
 * the guest sees (status bytes, data, features, config keys) and what the
 * host sees (the image file itself: bytes, allocated blocks; the daemon's
 * open flags; error nodes).
 *
 *   read       a 2051.2-sector image (not a multiple of 4 KiB): capacity
 *              rounded down, config keys, reads byte for byte in three
 *              chain layouts, the last sector, out of range and odd
 *              lengths refused with IOERR
 *   write      writes land in the file (checked with pread), read back,
 *              flush, a write past the end refused and the file unchanged
 *   discard    DISCARD and WRITE_ZEROES (with and without UNMAP) seen in
 *              the file's allocated blocks and bytes; limits; reserved
 *              flags UNSUPP; out of range IOERR; too many ranges IOERR
 *   ro         mode=r and a cdrom: RO offered, no DISCARD; writes IOERR
 *              and the file unchanged; the image opened O_RDONLY
 *   unsupp     unknown types UNSUPP; malformed shapes IOERR; still serving
 *   blk4k      --block-size 4096: blk-size, capacity, alignment refusals
 *   getid      the serial, unchanged across a daemon restart
 *   badparams  missing file, directory, fifo, bad mode, relative path,
 *              permission denied (daemon without CAP_DAC_OVERRIDE): error
 *              nodes and Closing, while another disk works
 *   two-disks  one disk streams while the other gets an I/O error (its
 *              image shrank) and then a chain it cannot answer (fails);
 *              the first is unaffected, the daemon stays up
 *   restart    kill -9 of the daemon mid-stream, five times: every request
 *              completes once, reads check data, the file matches the
 *              frontend's model
 *   drain      sessions ending with O_DIRECT I/O in flight: SIGTERM of
 *              the daemon, kill -9 of the frontend; nothing lost
 *   grant      grant-mode buffers on 4 queues (MQ)
 *   direct     direct-io-safe: O_DIRECT (and --sync: O_SYNC) in the
 *              daemon's open flags, aligned and misaligned buffers
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/virtio_blk.h>

#include "bt.h"
#include "xenbus.h"

#define DEVID 51728u

static struct simtest st;
static struct xs_handle *xs0;
static int dom;
static char dir[256];

static void up(void)
{
	simtest_start(&st, NULL);
	dom = xp_guest(&st);
	xs0 = xp_xs(&st, 0);
	bt_mkdir(dir, sizeof(dir));
}

static void down(void)
{
	xs_close(xs0);
	simtest_stop(&st);
	bt_rmdir(dir);
}

static void img_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

static char devid_arg[16];

static const char *devid_str(unsigned devid)
{
	snprintf(devid_arg, sizeof(devid_arg), "%u", devid);
	return devid_arg;
}

/* A disk on a new image, the daemon (if b) and a frontend for it. */
static void one_disk(struct bt_disk *d, const char *name, uint64_t sectors, unsigned extra)
{
	static char path[512];

	img_path(path, sizeof(path), name);
	bt_image(path, sectors, extra);
	d->domid = dom;
	if (!d->devid)
		d->devid = DEVID;
	d->params = path;
	bt_make_disk(xs0, d);
}

static uint64_t features_of(const char *line)
{
	const char *s = strstr(line, "features=");

	CHECK(s != NULL);
	return strtoull(s + 9, NULL, 16);
}

#define BIT(b) (1ull << (b))

/* The device went to Closing (5), or already on to Closed (6): the
 * frontend was not using it. */
static void wait_closing(const struct bt_disk *d)
{
	long long end = xp_now_ms() + XP_TIMEOUT_MS;
	char v[16];

	for (;;) {
		xp_read(xs0, d->be, "state", v, sizeof(v));
		if (strcmp(v, "5") == 0 || strcmp(v, "6") == 0)
			return;
		if (xp_now_ms() > end)
			CHECK_FAIL("%s/state: \"%s\", want 5 or 6", d->be, v);
		usleep(2000);
	}
}

static void check_key(const struct bt_disk *d, const char *key, const char *want)
{
	char v[256];

	xp_read(xs0, d->be, key, v, sizeof(v));
	CHECK_STR(v, want);
}

/* Do `len` bytes of file at sector s equal those of the file `got`? */
static bool same_bytes(const char *image, uint64_t s, const char *got, size_t len)
{
	uint8_t *a = malloc(len), *b = malloc(len);
	int fa = open(image, O_RDONLY), fb = open(got, O_RDONLY);
	bool same;

	CHECK(a && b && fa >= 0 && fb >= 0);
	CHECK(pread(fa, a, len, (off_t)(s * 512)) == (ssize_t)len);
	CHECK(read(fb, b, len) == (ssize_t)len);
	same = memcmp(a, b, len) == 0;
	close(fa);
	close(fb);
	free(a);
	free(b);
	return same;
}

static void write_random(const char *path, size_t len, unsigned seed)
{
	uint8_t *buf = malloc(len);
	FILE *f = fopen(path, "wb");

	CHECK(buf && f);
	srand(seed);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)rand();
	CHECK(fwrite(buf, 1, len, f) == len);
	fclose(f);
	free(buf);
}

static bool all_zero(const char *image, uint64_t s, uint64_t n)
{
	int fd = open(image, O_RDONLY);
	uint8_t b[512];
	bool z = true;

	CHECK(fd >= 0);
	for (uint64_t i = 0; z && i < n; i++) {
		CHECK(pread(fd, b, 512, (off_t)((s + i) * 512)) == 512);
		for (unsigned k = 0; k < 512; k++)
			z = z && b[k] == 0;
	}
	close(fd);
	return z;
}

static long long blocks_of(const char *path)
{
	struct stat sb;

	CHECK(stat(path, &sb) == 0);
	return (long long)sb.st_blocks;
}

/* Is [s, s+n) one hole of the file (SEEK_HOLE / SEEK_DATA)? */
static bool is_hole(const char *image, uint64_t s, uint64_t n)
{
	int fd = open(image, O_RDONLY);
	off_t h, d;

	CHECK(fd >= 0);
	h = lseek(fd, (off_t)(s * 512), SEEK_HOLE);
	d = lseek(fd, (off_t)(s * 512), SEEK_DATA);
	close(fd);
	return h == (off_t)(s * 512) && (d < 0 || d >= (off_t)((s + n) * 512));
}

static bool pattern_range(const char *image, uint64_t s, uint64_t n, uint32_t gen)
{
	int fd = open(image, O_RDONLY);
	bool ok = true;

	CHECK(fd >= 0);
	for (uint64_t i = 0; ok && i < n; i++)
		ok = bt_sector_is(fd, s + i, gen);
	close(fd);
	return ok;
}

/* ---- cases ---- */

static void test_read(void)
{
	static const char *const layouts[] = { "sep", "shared", "frag" };
	struct bt_disk d = { .discard = -1 };
	struct bt_proc be, fe;
	char line[512], out[512];
	uint64_t f;

	up();
	one_disk(&d, "odd.img", 2051, 100);
	bt_start_back(&be, &st, false, NULL);
	bt_start_front(&fe, &st, dom, "--devid", devid_str(DEVID), NULL);
	bt_connected(&fe, line, sizeof(line));
	CHECK(strstr(line, " capacity=2051 ") != NULL);
	CHECK(strstr(line, " blk-size=512 ") != NULL);
	f = features_of(line);
	CHECK((f & (BIT(VIRTIO_BLK_F_SIZE_MAX) | BIT(VIRTIO_BLK_F_SEG_MAX) |
	            BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_FLUSH) | BIT(VIRTIO_BLK_F_MQ))) ==
	      (BIT(VIRTIO_BLK_F_SIZE_MAX) | BIT(VIRTIO_BLK_F_SEG_MAX) |
	       BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_FLUSH) | BIT(VIRTIO_BLK_F_MQ)));
	CHECK(!(f & (BIT(VIRTIO_BLK_F_RO) | BIT(VIRTIO_BLK_F_DISCARD) |
	             BIT(VIRTIO_BLK_F_WRITE_ZEROES))));
	check_key(&d, "config/capacity", "2051");
	check_key(&d, "config/blk-size", "512");
	check_key(&d, "config/seg-max", "254");
	check_key(&d, "config/size-max", "4194304");
	check_key(&d, "config/num-queues", "4");
	check_key(&d, "virtio-device", "2");
	CHECK_INT(xvio_xs_exists(xs0, XBT_NULL, d.be, "config/max-discard-sectors"), ==, 0);
	img_path(out, sizeof(out), "out");
	for (unsigned i = 0; i < 3; i++) {
		bt_cmd(&fe, "ok", NULL, 0, "layout %s", layouts[i]);
		CHECK_INT(bt_status(&fe, "read 3 8192 %s", out), ==, VIRTIO_BLK_S_OK);
		CHECK(same_bytes(d.params, 3, out, 8192));
		CHECK_INT(bt_status(&fe, "read 2050 512 %s", out), ==, VIRTIO_BLK_S_OK);
		CHECK(same_bytes(d.params, 2050, out, 512));
		if (i == 2) /* 512-byte segments: a chain holds at most 200 */
			continue;
		CHECK_INT(bt_status(&fe, "read 0 %u %s", 2051 * 512, out), ==, VIRTIO_BLK_S_OK);
		CHECK(same_bytes(d.params, 0, out, 2051 * 512));
	}
	CHECK_INT(bt_status(&fe, "read 2051 512 %s", out), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(bt_status(&fe, "read 2048 2048 %s", out), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(bt_status(&fe, "read 18446744073709551615 512 %s", out), ==,
	          VIRTIO_BLK_S_IOERR);
	CHECK_INT(bt_status(&fe, "read 0 600 %s", out), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(bt_status(&fe, "read 7 512 %s", out), ==, VIRTIO_BLK_S_OK);
	CHECK(same_bytes(d.params, 7, out, 512));
	bt_quit(&fe);
	bt_term(&be);
	down();
}

static void test_write(void)
{
	static const char *const layouts[] = { "sep", "shared", "frag" };
	struct bt_disk d = { .discard = -1 };
	struct bt_proc be, fe;
	char line[512], src[512], out[512];

	up();
	one_disk(&d, "w.img", 1024, 0);
	bt_start_back(&be, &st, false, NULL);
	bt_start_front(&fe, &st, dom, NULL);
	bt_connected(&fe, line, sizeof(line));
	img_path(src, sizeof(src), "src");
	img_path(out, sizeof(out), "out");
	for (unsigned i = 0; i < 3; i++) {
		static const unsigned len[] = { 1536, 1536 + 65536, 1536 + 32768 };
		uint64_t s = 10 + 200 * i;

		write_random(src, len[i], i + 1);
		bt_cmd(&fe, "ok", NULL, 0, "layout %s", layouts[i]);
		CHECK_INT(bt_status(&fe, "write %llu %s", (unsigned long long)s, src), ==, 0);
		CHECK(same_bytes(d.params, s, src, len[i]));
		CHECK(pattern_range(d.params, s - 1, 1, 0)); /* neighbours untouched */
		CHECK(pattern_range(d.params, s + len[i] / 512, 1, 0));
		CHECK_INT(bt_status(&fe, "read %llu %u %s", (unsigned long long)s, len[i], out),
		          ==, 0);
		CHECK(same_bytes(d.params, s, out, len[i]));
		CHECK_INT(bt_status(&fe, "flush"), ==, 0);
	}
	write_random(src, 1024, 9);
	CHECK_INT(bt_status(&fe, "write 1023 %s", src), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(bt_status(&fe, "write 1024 %s", src), ==, VIRTIO_BLK_S_IOERR);
	CHECK(pattern_range(d.params, 1023, 1, 0));
	{
		struct stat sb;

		CHECK(stat(d.params, &sb) == 0);
		CHECK_INT(sb.st_size, ==, 1024 * 512);
	}
	write_random(src, 512, 10);
	CHECK_INT(bt_status(&fe, "write 1023 %s", src), ==, 0);
	CHECK(same_bytes(d.params, 1023, src, 512));
	bt_quit(&fe);
	bt_term(&be);
	down();
}

static void test_discard(void)
{
	struct bt_disk d = { .discard = 1 };
	struct bt_proc be, fe;
	char line[512], many[8192];
	long long b0, b1;
	size_t n = 0;

	up();
	one_disk(&d, "d.img", 2048, 0);
	bt_start_back(&be, &st, false, NULL);
	bt_start_front(&fe, &st, dom, NULL);
	bt_connected(&fe, line, sizeof(line));
	CHECK((features_of(line) & (BIT(VIRTIO_BLK_F_DISCARD) | BIT(VIRTIO_BLK_F_WRITE_ZEROES))) ==
	      (BIT(VIRTIO_BLK_F_DISCARD) | BIT(VIRTIO_BLK_F_WRITE_ZEROES)));
	check_key(&d, "config/max-discard-sectors", "4194304");
	check_key(&d, "config/max-discard-seg", "256");
	check_key(&d, "config/max-write-zeroes-sectors", "4194304");
	check_key(&d, "config/max-write-zeroes-seg", "256");
	check_key(&d, "config/write-zeroes-may-unmap", "1");
	xp_read(xs0, d.be, "config/discard-sector-alignment", line, sizeof(line));
	CHECK(strcmp(line, "1") == 0 || strcmp(line, "8") == 0);

	/* DISCARD punches: fewer blocks, zeroes (our choice: a hole). */
	b0 = blocks_of(d.params);
	CHECK_INT(bt_status(&fe, "discard 256 128 0"), ==, 0);
	b1 = blocks_of(d.params);
	CHECK_INT(b1, <=, b0 - 64); /* the file system may add an extent block */
	CHECK(is_hole(d.params, 256, 128));
	CHECK(all_zero(d.params, 256, 128));
	CHECK(pattern_range(d.params, 255, 1, 0) && pattern_range(d.params, 384, 1, 0));
	/* WRITE_ZEROES without UNMAP: zeroes, blocks stay allocated. */
	CHECK_INT(bt_status(&fe, "wzeroes 512 128 0"), ==, 0);
	CHECK(all_zero(d.params, 512, 128));
	CHECK_INT(blocks_of(d.params), >=, b1);
	CHECK(pattern_range(d.params, 511, 1, 0) && pattern_range(d.params, 640, 1, 0));
	/* WRITE_ZEROES with UNMAP: zeroes and a hole. */
	b1 = blocks_of(d.params);
	CHECK_INT(bt_status(&fe, "wzeroes 768 128 1"), ==, 0);
	CHECK(all_zero(d.params, 768, 128));
	CHECK_INT(blocks_of(d.params), <=, b1 - 64);
	CHECK(is_hole(d.params, 768, 128));
	/* Several ranges in one request. */
	CHECK_INT(bt_status(&fe, "wzeroes 1024 8 0 1100 16 1 1200 0 0"), ==, 0);
	CHECK(all_zero(d.params, 1024, 8) && all_zero(d.params, 1100, 16));
	CHECK(pattern_range(d.params, 1032, 1, 0) && pattern_range(d.params, 1200, 1, 0));
	/* Refusals: reserved flags UNSUPP; ranges out of the disk IOERR. */
	CHECK_INT(bt_status(&fe, "discard 1300 8 1"), ==, VIRTIO_BLK_S_UNSUPP);
	CHECK_INT(bt_status(&fe, "wzeroes 1300 8 2"), ==, VIRTIO_BLK_S_UNSUPP);
	CHECK_INT(bt_status(&fe, "discard 2040 16 0"), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(bt_status(&fe, "wzeroes 1300 8 0 2047 2 0"), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(bt_status(&fe, "discard 1300 4194305 0"), ==, VIRTIO_BLK_S_IOERR);
	CHECK(pattern_range(d.params, 1300, 8, 0) && pattern_range(d.params, 2040, 8, 0));
	for (unsigned i = 0; i < 257; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, " %u 1 0", 1400 + i);
	CHECK_INT(bt_status(&fe, "discard%s", many), ==, VIRTIO_BLK_S_IOERR);
	CHECK(pattern_range(d.params, 1400, 257, 0));
	CHECK_INT(bt_status(&fe, "flush"), ==, 0);
	bt_quit(&fe);
	bt_term(&be);
	down();
}

static void test_ro(void)
{
	struct bt_disk d = { .discard = 1, .mode = "r" };
	struct bt_disk c = { .discard = 1, .device_type = "cdrom", .devid = 51744 };
	struct bt_proc be, fe, fc;
	char line[512], src[512], out[512];
	long fl;

	up();
	one_disk(&d, "ro.img", 256, 0);
	one_disk(&c, "cd.img", 256, 0);
	bt_start_back(&be, &st, false, NULL);
	bt_start_front(&fe, &st, dom, "--devid", devid_str(DEVID), NULL);
	bt_connected(&fe, line, sizeof(line));
	CHECK(features_of(line) & BIT(VIRTIO_BLK_F_RO));
	CHECK(!(features_of(line) & (BIT(VIRTIO_BLK_F_DISCARD) | BIT(VIRTIO_BLK_F_WRITE_ZEROES))));
	bt_start_front(&fc, &st, dom, "--devid", devid_str(51744), NULL);
	bt_connected(&fc, line, sizeof(line));
	CHECK(features_of(line) & BIT(VIRTIO_BLK_F_RO));
	img_path(src, sizeof(src), "src");
	img_path(out, sizeof(out), "out");
	write_random(src, 4096, 3);
	CHECK_INT(bt_status(&fe, "write 8 %s", src), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(bt_status(&fc, "write 8 %s", src), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(bt_status(&fe, "discard 8 8 0"), ==, VIRTIO_BLK_S_UNSUPP);
	CHECK_INT(bt_status(&fe, "wzeroes 8 8 0"), ==, VIRTIO_BLK_S_UNSUPP);
	CHECK(pattern_range(d.params, 0, 256, 0));
	CHECK(pattern_range(c.params, 0, 256, 0));
	CHECK_INT(bt_status(&fe, "read 8 4096 %s", out), ==, 0);
	CHECK(same_bytes(d.params, 8, out, 4096));
	CHECK_INT(bt_status(&fc, "read 0 512 %s", out), ==, 0);
	CHECK_INT(bt_status(&fe, "flush"), ==, 0);
	/* The image is not even writable through the daemon's descriptor. */
	fl = bt_fd_flags(be.p.pid, d.params);
	CHECK(fl >= 0 && (fl & O_ACCMODE) == O_RDONLY);
	fl = bt_fd_flags(be.p.pid, c.params);
	CHECK(fl >= 0 && (fl & O_ACCMODE) == O_RDONLY);
	bt_quit(&fe);
	bt_quit(&fc);
	bt_term(&be);
	down();
}

static void test_unsupp(void)
{
	struct bt_disk d = { .discard = 0 };
	struct bt_proc be, fe;
	char line[512], out[512];

	up();
	one_disk(&d, "u.img", 256, 0);
	bt_start_back(&be, &st, false, NULL);
	bt_start_front(&fe, &st, dom, NULL);
	bt_connected(&fe, line, sizeof(line));
	img_path(out, sizeof(out), "out");
	CHECK_INT(bt_status(&fe, "raw 2 0 16 1"), ==, VIRTIO_BLK_S_UNSUPP);   /* SCSI */
	CHECK_INT(bt_status(&fe, "raw 14 0 32 1"), ==, VIRTIO_BLK_S_UNSUPP);  /* SECURE_ERASE */
	CHECK_INT(bt_status(&fe, "raw 10 0 16 49"), ==, VIRTIO_BLK_S_UNSUPP); /* GET_LIFETIME */
	CHECK_INT(bt_status(&fe, "raw 99 0 16 1"), ==, VIRTIO_BLK_S_UNSUPP);
	CHECK_INT(bt_status(&fe, "raw 2147483649 0 528 1"), ==, VIRTIO_BLK_S_UNSUPP);
	CHECK_INT(bt_status(&fe, "raw 11 0 32 1"), ==, VIRTIO_BLK_S_UNSUPP); /* not offered */
	CHECK_INT(bt_status(&fe, "raw 13 0 32 1"), ==, VIRTIO_BLK_S_UNSUPP);
	/* Shapes that cannot be right: IOERR. */
	CHECK_INT(bt_status(&fe, "raw 0 0 528 513"), ==, VIRTIO_BLK_S_IOERR); /* IN + out data */
	CHECK_INT(bt_status(&fe, "raw 1 0 528 2"), ==, VIRTIO_BLK_S_IOERR);   /* OUT + in data */
	CHECK_INT(bt_status(&fe, "raw 1 0 16 1"), ==, VIRTIO_BLK_S_OK);       /* empty write */
	CHECK_INT(bt_status(&fe, "raw 1 0 100 1"), ==, VIRTIO_BLK_S_IOERR);   /* 84 bytes */
	CHECK_INT(bt_status(&fe, "raw 4 0 528 1"), ==, VIRTIO_BLK_S_IOERR);   /* FLUSH + data */
	CHECK_INT(bt_status(&fe, "raw 8 0 16 1"), ==, VIRTIO_BLK_S_IOERR);    /* GET_ID, no room */
	CHECK(pattern_range(d.params, 0, 256, 0));
	/* ... and the device still serves. */
	CHECK_INT(bt_status(&fe, "read 0 512 %s", out), ==, 0);
	CHECK(same_bytes(d.params, 0, out, 512));
	bt_quit(&fe);
	bt_term(&be);
	down();
}

static void test_blk4k(void)
{
	struct bt_disk d = { .discard = 1 };
	struct bt_proc be, fe;
	char line[512], src[512], out[512];

	up();
	one_disk(&d, "4k.img", 2051, 100);
	bt_start_back(&be, &st, false, "--block-size", "4096", NULL);
	bt_start_front(&fe, &st, dom, NULL);
	bt_connected(&fe, line, sizeof(line));
	CHECK(strstr(line, " capacity=2048 ") != NULL);
	CHECK(strstr(line, " blk-size=4096 ") != NULL);
	check_key(&d, "config/blk-size", "4096");
	check_key(&d, "config/discard-sector-alignment", "8");
	img_path(src, sizeof(src), "src");
	img_path(out, sizeof(out), "out");
	CHECK_INT(bt_status(&fe, "read 8 8192 %s", out), ==, 0);
	CHECK(same_bytes(d.params, 8, out, 8192));
	CHECK_INT(bt_status(&fe, "read 1 4096 %s", out), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(bt_status(&fe, "read 8 512 %s", out), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(bt_status(&fe, "read 2048 4096 %s", out), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(bt_status(&fe, "read 2040 4096 %s", out), ==, 0);
	write_random(src, 4096, 4);
	CHECK_INT(bt_status(&fe, "write 4 %s", src), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(bt_status(&fe, "write 16 %s", src), ==, 0);
	CHECK(same_bytes(d.params, 16, src, 4096));
	CHECK_INT(bt_status(&fe, "discard 32 4 0"), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(bt_status(&fe, "discard 36 8 0"), ==, VIRTIO_BLK_S_IOERR);
	CHECK(pattern_range(d.params, 32, 16, 0));
	CHECK_INT(bt_status(&fe, "wzeroes 32 8 0"), ==, 0);
	CHECK(all_zero(d.params, 32, 8));
	bt_quit(&fe);
	bt_term(&be);
	down();
}

static void test_getid(void)
{
	struct bt_disk d = { .discard = -1 };
	struct bt_proc be, fe;
	char line[512], id1[128], id2[128];
	const char *s;

	up();
	one_disk(&d, "id.img", 64, 0);
	bt_start_back(&be, &st, false, NULL);
	bt_start_front(&fe, &st, dom, NULL);
	bt_connected(&fe, line, sizeof(line));
	bt_cmd(&fe, "status=", line, sizeof(line), "getid");
	CHECK(strncmp(line, "status=0 ", 9) == 0);
	s = strstr(line, "id=");
	CHECK(s != NULL);
	snprintf(id1, sizeof(id1), "%s", s + 3);
	/* 20 ASCII bytes, "xvio" + hex digits ("7876696f" is "xvio"). */
	CHECK_INT(strlen(id1), ==, 40);
	CHECK(strncmp(id1, "7876696f", 8) == 0);
	bt_term(&be);
	bt_start_back(&be, &st, false, NULL);
	xp_expect(&fe.p, "connected 2", NULL, 0, XP_TIMEOUT_MS);
	bt_cmd(&fe, "status=", line, sizeof(line), "getid");
	s = strstr(line, "id=");
	CHECK(s != NULL);
	snprintf(id2, sizeof(id2), "%s", s + 3);
	CHECK_STR(id1, id2);
	bt_quit(&fe);
	bt_term(&be);
	down();
}

struct bad {
	const char *what;
	unsigned devid;
	int err;          /* expected errno in the node */
	const char *mode;
};

static void test_badparams(void)
{
	static const struct bad bads[] = {
		{ "missing", 51744, ENOENT, NULL },
		{ "dir", 51760, EISDIR, NULL },
		{ "fifo", 51776, EINVAL, NULL },
		{ "mode", 51792, EINVAL, "rw" },
		{ "relative", 51808, EINVAL, NULL },
		{ "denied", 51824, EACCES, NULL },
	};
	struct bt_disk good = { .discard = -1, .devid = 51712 };
	struct bt_disk d[6];
	char paths[6][512], line[512], out[512], status[512];
	struct bt_proc be, fe;
	FILE *f;
	unsigned long long cap = ~0ull;

	up();
	one_disk(&good, "good.img", 128, 0);
	img_path(paths[0], sizeof(paths[0]), "no-such.img");
	img_path(paths[1], sizeof(paths[1]), "a-dir");
	CHECK(mkdir(paths[1], 0700) == 0);
	img_path(paths[2], sizeof(paths[2]), "a-fifo");
	CHECK(mkfifo(paths[2], 0600) == 0);
	img_path(paths[3], sizeof(paths[3]), "mode.img");
	bt_image(paths[3], 8, 0);
	snprintf(paths[4], sizeof(paths[4]), "relative.img");
	img_path(paths[5], sizeof(paths[5]), "denied.img");
	bt_image(paths[5], 8, 0);
	CHECK(chmod(paths[5], 0) == 0);
	for (unsigned i = 0; i < 6; i++) {
		d[i] = (struct bt_disk){ .domid = dom, .devid = bads[i].devid, .params = paths[i],
		                         .mode = bads[i].mode, .discard = -1 };
		bt_make_disk(xs0, &d[i]);
	}
	bt_start_back(&be, &st, true, NULL);
	/* The daemon really runs without DAC override. */
	snprintf(line, sizeof(line), "/proc/%d/status", (int)be.p.pid);
	f = fopen(line, "r");
	CHECK(f != NULL);
	while (fgets(status, sizeof(status), f))
		if (sscanf(status, "CapEff: %llx", &cap) == 1)
			break;
	fclose(f);
	CHECK_INT(cap & (1ull << CAP_DAC_OVERRIDE | 1ull << CAP_DAC_READ_SEARCH), ==, 0);
	for (unsigned i = 0; i < 6; i++) {
		char want[16], node[512];

		wait_closing(&d[i]);
		bt_error_node(xs0, &d[i], node, sizeof(node));
		snprintf(want, sizeof(want), "%d ", bads[i].err);
		if (strncmp(node, want, strlen(want)) != 0)
			CHECK_FAIL("%s: error node \"%s\", want errno %d", bads[i].what, node,
			           bads[i].err);
		CHECK(strstr(node, i == 3 ? "mode" : "params") != NULL);
		CHECK(strstr(node, i == 3 ? "rw" : paths[i]) != NULL);
	}
	/* The good disk works beside them. */
	bt_start_front(&fe, &st, dom, "--devid", "51712", NULL);
	bt_connected(&fe, line, sizeof(line));
	img_path(out, sizeof(out), "out");
	CHECK_INT(bt_status(&fe, "read 0 4096 %s", out), ==, 0);
	CHECK(same_bytes(good.params, 0, out, 4096));
	CHECK_INT(kill(be.p.pid, 0), ==, 0);
	bt_quit(&fe);
	bt_term(&be);
	down();
}

static void test_two_disks(void)
{
	struct bt_disk a = { .discard = -1, .devid = 51712 }, b = { .discard = -1, .devid = 51728 };
	struct bt_proc be, fa, fb;
	char line[512], out[512], node[512], model[512];

	up();
	one_disk(&a, "a.img", 2048, 0);
	one_disk(&b, "b.img", 2048, 0);
	bt_start_back(&be, &st, false, NULL);
	bt_start_front(&fa, &st, dom, "--devid", "51712", NULL);
	bt_start_front(&fb, &st, dom, "--devid", "51728", NULL);
	bt_connected(&fa, line, sizeof(line));
	bt_connected(&fb, line, sizeof(line));
	img_path(out, sizeof(out), "out");
	img_path(model, sizeof(model), "model");
	CHECK(write(fa.in, "stream 6000 2048 ", 17) == 17);
	CHECK(write(fa.in, model, strlen(model)) == (ssize_t)strlen(model));
	CHECK(write(fa.in, "\n", 1) == 1);
	xp_expect(&fa.p, "progress", NULL, 0, XP_TIMEOUT_MS);
	/* b's image shrinks under the daemon: an I/O error, not a failure. */
	CHECK(truncate(b.params, 512) == 0);
	CHECK_INT(bt_status(&fb, "read 100 512 %s", out), ==, VIRTIO_BLK_S_IOERR);
	CHECK_INT(bt_status(&fb, "read 0 512 %s", out), ==, 0);
	/* Then a chain the device cannot answer: b fails, alone. */
	CHECK(write(fb.in, "raw 0 0 8 1\n", 12) == 12);
	wait_closing(&b);
	bt_error_node(xs0, &b, node, sizeof(node));
	CHECK(strncmp(node, "71 ", 3) == 0); /* EPROTO */
	xp_expect(&fa.p, "stream", line, sizeof(line), 60000);
	CHECK_INT(xp_field(line, "completed"), ==, 6000);
	CHECK_INT(xp_field(line, "errors"), ==, 0);
	check_key(&a, "state", "4");
	CHECK_INT(kill(be.p.pid, 0), ==, 0);
	bt_quit(&fa);
	xp_kill(&fb.p);
	bt_term(&be);
	down();
}

/* The image holds what the frontend's model says, sector by sector. */
static void check_model(const char *image, const char *model, uint64_t sectors)
{
	uint32_t *gen = calloc(sectors, sizeof(*gen));
	FILE *f = fopen(model, "rb");
	int fd = open(image, O_RDONLY);
	uint64_t written = 0;

	CHECK(gen && f && fd >= 0);
	CHECK(fread(gen, sizeof(*gen), sectors, f) == sectors);
	for (uint64_t s = 0; s < sectors; s++) {
		if (!bt_sector_is(fd, s, gen[s]))
			CHECK_FAIL("sector %llu: not generation %u", (unsigned long long)s, gen[s]);
		written += gen[s] != 0;
	}
	CHECK_INT(written, >, sectors / 2); /* the stream did write */
	fclose(f);
	close(fd);
	free(gen);
}

static void stream(struct bt_proc *fe, unsigned n, unsigned sectors, const char *model)
{
	char cmd[700];
	int len = snprintf(cmd, sizeof(cmd), "stream %u %u %s\n", n, sectors, model);

	CHECK(write(fe->in, cmd, (size_t)len) == len);
}

static void test_restart(void)
{
	struct bt_disk d = { .discard = -1 };
	struct bt_proc be, fe;
	char line[512], model[512];

	up();
	one_disk(&d, "r.img", 4096, 0);
	bt_start_back(&be, &st, false, NULL);
	bt_start_front(&fe, &st, dom, "--queues", "2", NULL);
	bt_connected(&fe, line, sizeof(line));
	img_path(model, sizeof(model), "model");
	stream(&fe, 30000, 4096, model);
	for (unsigned i = 2; i <= 6; i++) {
		char want[32];

		xp_expect(&fe.p, "progress", NULL, 0, XP_TIMEOUT_MS);
		xp_kill(&be.p);
		close(be.in);
		bt_start_back(&be, &st, false, NULL);
		snprintf(want, sizeof(want), "connected %u ", i);
		xp_expect(&fe.p, want, NULL, 0, XP_TIMEOUT_MS);
	}
	xp_expect(&fe.p, "stream", line, sizeof(line), 120000);
	fprintf(stderr, "%s\n", line);
	CHECK_INT(xp_field(line, "completed"), ==, 30000);
	CHECK_INT(xp_field(line, "errors"), ==, 0);
	check_model(d.params, model, 4096);
	bt_quit(&fe);
	bt_term(&be);
	down();
}

/*
 * Sessions ending with I/O in flight (O_DIRECT, so reads and writes really
 * wait for the disk): the daemon stopped by SIGTERM mid-stream (every
 * session torn down, exit 0, the sanitizers see no use after unmap or
 * leak) and restarted; then the frontend killed mid-stream and a new one
 * started (the daemon tears the old session down first).  The streams
 * finish without an error and the file matches the model.
 */
static void test_drain(void)
{
	struct bt_disk d = { .discard = -1, .direct = true };
	struct bt_proc be, fe;
	char line[512], model[512];

	up();
	one_disk(&d, "drain.img", 4096, 0);
	bt_start_back(&be, &st, false, NULL);
	bt_start_front(&fe, &st, dom, "--queues", "2", NULL);
	bt_connected(&fe, line, sizeof(line));
	img_path(model, sizeof(model), "model");
	stream(&fe, 20000, 4096, model);
	for (unsigned i = 2; i <= 3; i++) {
		char want[32];

		xp_expect(&fe.p, "progress", NULL, 0, XP_TIMEOUT_MS);
		bt_term(&be);
		bt_start_back(&be, &st, false, NULL);
		snprintf(want, sizeof(want), "connected %u ", i);
		xp_expect(&fe.p, want, NULL, 0, XP_TIMEOUT_MS);
	}
	xp_expect(&fe.p, "progress", NULL, 0, XP_TIMEOUT_MS);
	xp_kill(&fe.p);
	close(fe.in);
	bt_start_front(&fe, &st, dom, "--queues", "2", NULL);
	bt_connected(&fe, line, sizeof(line));
	bt_image(d.params, 4096, 0); /* the dead frontend's model is gone */
	stream(&fe, 10000, 4096, model);
	xp_expect(&fe.p, "stream", line, sizeof(line), 120000);
	CHECK_INT(xp_field(line, "completed"), ==, 10000);
	CHECK_INT(xp_field(line, "errors"), ==, 0);
	check_model(d.params, model, 4096);
	bt_quit(&fe);
	bt_term(&be);
	down();
}

static void test_grant(void)
{
	struct bt_disk d = { .discard = -1 };
	struct bt_proc be, fe;
	char line[512], model[512];

	up();
	one_disk(&d, "g.img", 2048, 0);
	bt_start_back(&be, &st, false, NULL);
	bt_start_front(&fe, &st, dom, "--mode", "grant", "--queues", "8", NULL);
	bt_connected(&fe, line, sizeof(line));
	CHECK(strstr(line, " queues=4") != NULL); /* min(wanted, offered) */
	img_path(model, sizeof(model), "model");
	stream(&fe, 8000, 2048, model);
	xp_expect(&fe.p, "stream", line, sizeof(line), 60000);
	CHECK_INT(xp_field(line, "completed"), ==, 8000);
	CHECK_INT(xp_field(line, "errors"), ==, 0);
	check_model(d.params, model, 2048);
	for (unsigned q = 0; q < 4; q++) {
		bt_cmd(&fe, "ok", NULL, 0, "queue %u", q);
		CHECK_INT(bt_status(&fe, "flush"), ==, 0);
	}
	bt_quit(&fe);
	bt_term(&be);
	down();
}

static void test_direct(void)
{
	static const char *const layouts[] = { "sep", "shared", "frag" };
	struct bt_disk d = { .discard = -1, .direct = true };
	struct bt_proc be, fe;
	char line[512], src[512], out[512], model[512];
	long fl;

	up();
	one_disk(&d, "direct.img", 2048, 0);
	bt_start_back(&be, &st, false, "--sync", NULL);
	bt_start_front(&fe, &st, dom, NULL);
	bt_connected(&fe, line, sizeof(line));
	fl = bt_fd_flags(be.p.pid, d.params);
	CHECK(fl >= 0);
	CHECK(fl & O_DIRECT);
	CHECK((fl & O_SYNC) == O_SYNC);
	CHECK((fl & O_ACCMODE) == O_RDWR);
	img_path(src, sizeof(src), "src");
	img_path(out, sizeof(out), "out");
	for (unsigned i = 0; i < 3; i++) {
		uint64_t s = 64 + 64 * i;

		write_random(src, 8192, 20 + i);
		bt_cmd(&fe, "ok", NULL, 0, "layout %s", layouts[i]);
		CHECK_INT(bt_status(&fe, "write %llu %s", (unsigned long long)s, src), ==, 0);
		CHECK(same_bytes(d.params, s, src, 8192));
		CHECK_INT(bt_status(&fe, "read %llu 8192 %s", (unsigned long long)s, out), ==, 0);
		CHECK(same_bytes(d.params, s, out, 8192));
	}
	bt_cmd(&fe, "ok", NULL, 0, "layout sep");
	img_path(model, sizeof(model), "model");
	bt_image(d.params, 2048, 0); /* back to generation 0 for the model */
	stream(&fe, 3000, 2048, model);
	xp_expect(&fe.p, "stream", line, sizeof(line), 60000);
	CHECK_INT(xp_field(line, "errors"), ==, 0);
	check_model(d.params, model, 2048);
	bt_quit(&fe);
	bt_term(&be);
	down();
}

/*
 * The same cases with the images on tmpfs: blkback copies small transfers
 * of a memory-backed image inline instead of through io_uring (blk_io.c
 * transfer_inline), larger ones still through io_uring, and tmpfs takes
 * the write-zeroes fallbacks.
 */
static void on_tmpfs(void (*test)(void))
{
	struct statfs sf;

	CHECK(statfs("/dev/shm", &sf) == 0);
	CHECK((unsigned long)sf.f_type == TMPFS_MAGIC);
	CHECK(setenv("XVIO_BLKTEST_DIR", "/dev/shm", 1) == 0);
	test();
}

static void test_tmpfs_read(void)
{
	on_tmpfs(test_read);
}

static void test_tmpfs_write(void)
{
	on_tmpfs(test_write);
}

static void test_tmpfs_discard(void)
{
	on_tmpfs(test_discard);
}

int main(int argc, char **argv)
{
	static const struct check_case cases[] = {
		{ "read", test_read },
		{ "write", test_write },
		{ "discard", test_discard },
		{ "ro", test_ro },
		{ "unsupp", test_unsupp },
		{ "blk4k", test_blk4k },
		{ "getid", test_getid },
		{ "badparams", test_badparams },
		{ "two-disks", test_two_disks },
		{ "restart", test_restart },
		{ "drain", test_drain },
		{ "grant", test_grant },
		{ "direct", test_direct },
		{ "tmpfs-read", test_tmpfs_read },
		{ "tmpfs-write", test_tmpfs_write },
		{ "tmpfs-discard", test_tmpfs_discard },
	};

	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
