/* SPDX-License-Identifier: MIT */
/*
 * The nbdkit plugin against xvio-blkback, with standard NBD clients run in
 * the guest (nbdinfo, nbdcopy, qemu-img, qemu-io, fio's nbd engine).
 *   size      nbdinfo and qemu-img see the size (not a multiple of 4 KiB)
 *             and a writable disk; the export list names xvdb
 *   copy      nbdcopy of the disk out compares byte for byte; nbdcopy of
 *             another image in lands in the backing file
 *   ro        mode=r: read-only export, writes refused, image unchanged
 *   ops       flush, trim and zero seen on the backing file
 *   4k        blkback --block-size=4096: minimum block size 4096, fio 4 KiB
 *   fio       fio verify=crc32c, 512 B..1 MiB, depth 16, 4 jobs in regions;
 *             depth 1; a 40/60 random read/write mix at depth 64
 *   no-disk   an unknown export fails at once with a clear message
 *   activation
 *             nbdkit started as front/xvio-blkfront.service starts it:
 *             socket activation (systemd-socket-activate stands for the
 *             .socket unit), the plugin taking over from another nbdkit:
 *             size and a byte-for-byte copy through the activated one
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bftest.h"

#define NOARGS ((const char *const[]){ NULL })

static void t_size(void)
{
	struct bf_scene s;
	char out[16384];
	uint64_t size = (8u << 20) + 3 * 512;

	bf_scene_start(&s, size, "w", false, NOARGS, NOARGS);
	bf_sh(&s.st, s.domid, 0, out, sizeof(out), "nbdinfo --size '%s'", s.uri);
	CHECK_INT(strtoull(out, NULL, 10), ==, size);
	bf_sh(&s.st, s.domid, 2, out, sizeof(out), "nbdinfo --is read-only '%s'", s.uri);
	bf_sh(&s.st, s.domid, 2, out, sizeof(out), "nbdinfo --can trim '%s'", s.uri);
	bf_sh(&s.st, s.domid, 0, out, sizeof(out), "nbdinfo --can flush '%s'", s.uri);
	bf_sh(&s.st, s.domid, 0, out, sizeof(out), "nbdinfo --can multi-conn '%s'", s.uri);
	bf_sh(&s.st, s.domid, 0, out, sizeof(out), "qemu-img info --output=json '%s'", s.uri);
	CHECK(strstr(out, "\"virtual-size\": 8390144") != NULL);
	bf_sh(&s.st, s.domid, 0, out, sizeof(out), "nbdinfo --list '%s'", s.uri);
	CHECK(strstr(out, "export=\"xvdb\"") || strstr(out, "export: xvdb") ||
	      strstr(out, "xvdb"));
	/* The default export is the lowest devid: xvdb here. */
	bf_sh(&s.st, s.domid, 0, out, sizeof(out),
	      "nbdinfo --size 'nbd+unix:///?socket=%s/dom%d/nbd.sock'", s.st.dir, s.domid);
	CHECK_INT(strtoull(out, NULL, 10), ==, size);
	bf_scene_stop(&s);
}

static void t_copy(void)
{
	struct bf_scene s;
	char out[4096], other[512];
	uint64_t size = 24u << 20;

	bf_scene_start(&s, size, "w", false, NOARGS, NOARGS);
	bf_sh(&s.st, s.domid, 0, out, sizeof(out), "nbdcopy '%s' %s/out.img && cmp %s %s/out.img",
	      s.uri, s.st.dir, s.disk.image, s.st.dir);
	/* Another image in: random data, then compare the backing file. */
	snprintf(other, sizeof(other), "%s/other.img", s.st.dir);
	bf_sh(&s.st, s.domid, 0, out, sizeof(out),
	      "head -c %llu /dev/urandom > %s && nbdcopy --flush %s '%s' && cmp %s %s", 
	      (unsigned long long)size, other, other, s.uri, other, s.disk.image);
	bf_scene_stop(&s);
}

static void t_ro(void)
{
	struct bf_scene s;
	char out[16384];
	uint64_t size = 4u << 20;

	bf_scene_start(&s, size, "r", false, NOARGS, NOARGS);
	bf_sh(&s.st, s.domid, 0, out, sizeof(out), "nbdinfo --is read-only '%s'", s.uri);
	bf_sh(&s.st, s.domid, 0, out, sizeof(out),
	      "head -c 1048576 /dev/zero > %s/z.img; nbdcopy %s/z.img '%s'; test $? -ne 0",
	      s.st.dir, s.st.dir, s.uri);
	bf_sh(&s.st, s.domid, 0, out, sizeof(out), "nbdcopy '%s' %s/out.img && cmp %s %s/out.img",
	      s.uri, s.st.dir, s.disk.image, s.st.dir);
	CHECK_INT(bf_check_pattern(s.disk.image, size), ==, -1);
	bf_scene_stop(&s);
}

/* Allocated bytes of a file and whether [off, off+len) is a hole. */
static bool is_hole(const char *path, off_t off, off_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t data;

	CHECK(fd >= 0);
	data = lseek(fd, off, SEEK_DATA);
	close(fd);
	return data < 0 || data >= off + len;
}

static void t_ops(void)
{
	struct bf_scene s;
	char out[16384];
	uint64_t size = 8u << 20;
	struct stat before, after;
	uint8_t buf[4096];
	int fd;

	bf_scene_start(&s, size, "w", true, NOARGS, NOARGS);
	bf_sh(&s.st, s.domid, 0, out, sizeof(out), "nbdinfo --can trim '%s'", s.uri);
	bf_sh(&s.st, s.domid, 0, out, sizeof(out), "nbdinfo --can zero '%s'", s.uri);
	bf_sh(&s.st, s.domid, 0, out, sizeof(out), "nbdinfo --can fua '%s'", s.uri);
	CHECK(stat(s.disk.image, &before) == 0);
	CHECK(!is_hole(s.disk.image, 1 << 20, 1 << 20));
	/* trim 1 MiB at 1 MiB, zero 1 MiB at 4 MiB (no hole allowed), write a
	 * pattern with FUA at 6 MiB, flush. */
	bf_sh(&s.st, s.domid, 0, out, sizeof(out),
	      "qemu-io -f raw -c 'discard 1M 1M' -c 'write -z 4M 1M' -c 'write -P 0x5a -f 6M 64k' "
	      "-c flush '%s'", s.uri);
	fprintf(stderr, "%s", out);
	CHECK(stat(s.disk.image, &after) == 0);
	CHECK(is_hole(s.disk.image, 1 << 20, 1 << 20));
	CHECK(after.st_blocks < before.st_blocks);
	fd = open(s.disk.image, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	for (off_t off = 1 << 20; off < 2 << 20; off += sizeof(buf)) {
		CHECK(pread(fd, buf, sizeof(buf), off) == (ssize_t)sizeof(buf));
		for (size_t i = 0; i < sizeof(buf); i++)
			CHECK(buf[i] == 0);
	}
	for (off_t off = 4 << 20; off < 5 << 20; off += sizeof(buf)) {
		CHECK(pread(fd, buf, sizeof(buf), off) == (ssize_t)sizeof(buf));
		for (size_t i = 0; i < sizeof(buf); i++)
			CHECK(buf[i] == 0);
	}
	CHECK(pread(fd, buf, sizeof(buf), 6 << 20) == (ssize_t)sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		CHECK(buf[i] == 0x5a);
	/* Around the ranges the pattern is intact. */
	CHECK(pread(fd, buf, 512, (1 << 20) - 512) == 512);
	for (size_t i = 0; i < 512; i++)
		CHECK(buf[i] == bf_pattern((1u << 20) - 512 + i));
	CHECK(pread(fd, buf, 512, 5 << 20) == 512);
	for (size_t i = 0; i < 512; i++)
		CHECK(buf[i] == bf_pattern((5u << 20) + i));
	close(fd);
	bf_scene_stop(&s);
}

static void fio(const struct bf_scene *s, const char *bs, int depth, int jobs, uint64_t region,
                const char *extra)
{
	char out[32768];

	/* JSON with group_reporting: one job entry whose read (the verify
	 * pass) and write both moved data. */
	bf_sh(&s->st, s->domid, 0, out, sizeof(out),
	      "fio --name=v --ioengine=nbd --uri='%s' --rw=randwrite --bsrange=%s "
	      "--iodepth=%d --numjobs=%d --size=%llu --offset_increment=%llu --verify=crc32c --verify_state_save=0 "
	      "--do_verify=1 --verify_fatal=1 --group_reporting --output-format=json %s "
	      "--output=%s/fio.json && grep -c '\"io_kbytes\" : [1-9]' %s/fio.json",
	      s->uri, bs, depth, jobs, (unsigned long long)region, (unsigned long long)region,
	      extra ? extra : "", s->st.dir, s->st.dir);
	CHECK_INT(atoi(out), ==, 2);
}

static void t_4k(void)
{
	struct bf_scene s;
	char out[16384];

	bf_scene_start(&s, 16u << 20, "w", true,
	               (const char *const[]){ "--block-size", "4096", NULL }, NOARGS);
	bf_sh(&s.st, s.domid, 0, out, sizeof(out), "nbdinfo --json '%s'", s.uri);
	CHECK(strstr(out, "\"block_size_minimum\": 4096") != NULL);
	fio(&s, "4k-256k", 8, 2, 8u << 20, NULL);
	bf_scene_stop(&s);
}

static void t_fio(void)
{
	struct bf_scene s;

	bf_scene_start(&s, 64u << 20, "w", false, NOARGS, NOARGS);
	fio(&s, "512-1m", 16, 4, 16u << 20, NULL);
	fio(&s, "512-64k", 1, 1, 8u << 20, NULL);
	/* A read/write mix at depth 64 (the later --rw wins; reads of
	 * blocks not yet written are not verified, the final pass is). */
	fio(&s, "512-1m", 64, 4, 16u << 20, "--rw=randrw --rwmixread=40");
	bf_scene_stop(&s);
}

static void t_no_disk(void)
{
	struct bf_scene s;
	char out[16384], uri[512];
	long long t0;

	bf_scene_start(&s, 1u << 20, "w", false, NOARGS, NOARGS);
	t0 = xp_now_ms();
	bf_sh(&s.st, s.domid, 1, out, sizeof(out), "nbdinfo '%s' 2>&1",
	      bf_uri(&s.st, s.domid, "xvdc", uri, sizeof(uri)));
	bf_sh(&s.st, s.domid, 1, out, sizeof(out), "nbdinfo '%s' 2>&1",
	      bf_uri(&s.st, s.domid, "sda", uri, sizeof(uri)));
	CHECK(xp_now_ms() - t0 < 10000);
	/* nbdkit says why in its log (clients see only a failed open). */
	bf_sh(&s.st, s.domid, 0, out, sizeof(out), "cat %s", bf_nbdkit_log());
	CHECK(strstr(out, "export \"xvdc\": no such disk") != NULL);
	CHECK(strstr(out, "export \"sda\": not a disk name") != NULL);
	bf_scene_stop(&s);
}

static void t_activation(void)
{
	struct bf_scene s;
	struct xp_proc act = { 0 };
	char out[4096], sock[512], plugin[PATH_MAX], uri[768];
	/* systemd-socket-activate passes on only the variables named: the
	 * simulator's (what /dev/xen is to a real guest) and the ASan
	 * runtime's. */
	const char *args[] = { "-l", sock, "-E", "XENSTORED_PATH", "-E", "XVIO_SIM_HYP",
	                       "-E", "XVIO_DOMID", "-E", "XVIO_PLATFORM", "-E", "XVIO_SIM_DIR",
	                       "-E", "LD_PRELOAD", "-E", "ASAN_OPTIONS", "-E", "UBSAN_OPTIONS",
	                       "/usr/bin/nbdkit", "--log=stderr", plugin, NULL };
	uint64_t size = 8u << 20;
	long long end;

	bf_scene_start(&s, size, "w", false, NOARGS, NOARGS);
	/* The disk's frontend moves to the activated nbdkit. */
	CHECK(xp_term(&s.front) == 0);
	xp_build_path(plugin, sizeof(plugin), "../front/nbdkit-xvioblk-plugin.so");
	snprintf(sock, sizeof(sock), "%s/dom%d/act.sock", s.st.dir, s.domid);
	xp_spawn(&act, &s.st, s.domid, "/usr/bin/systemd-socket-activate", args, -1,
	         getenv("BF_NBDKIT_PRELOAD"));
	for (end = xp_now_ms() + 10000; access(sock, F_OK) != 0; usleep(5000))
		if (xp_now_ms() > end)
			CHECK_FAIL("systemd-socket-activate did not listen on %s", sock);
	snprintf(uri, sizeof(uri), "nbd+unix:///xvdb?socket=%s", sock);
	bf_sh(&s.st, s.domid, 0, out, sizeof(out), "nbdinfo --size '%s'", uri);
	CHECK_INT(strtoull(out, NULL, 10), ==, size);
	bf_sh(&s.st, s.domid, 0, out, sizeof(out), "nbdcopy '%s' %s/act.img && cmp %s %s/act.img",
	      uri, s.st.dir, s.disk.image, s.st.dir);
	CHECK(xp_term(&act) == 0);
	bf_scene_stop(&s);
}

static const struct check_case cases[] = {
	{ "size", t_size }, { "copy", t_copy }, { "ro", t_ro }, { "ops", t_ops },
	{ "4k", t_4k }, { "fio", t_fio }, { "no-disk", t_no_disk },
	{ "activation", t_activation },
};

int main(int argc, char **argv)
{
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
