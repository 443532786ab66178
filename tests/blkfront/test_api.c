/* SPDX-License-Identifier: MIT */
/*
 * The blkfront C API against xvio-blkback: xvio-blkcheck in a guest drives
 * xvdb directly (no nbdkit).  Cases:
 *   info        size, block size, flags and a serial as the image implies
 *   errors      -EINVAL for misaligned/out-of-range I/O, GET_ID stable
 *   verify      random split, zero-copy and copied I/O, depth 16, checked
 *               against a model; the image file afterwards matches the model
 *   grant       the same in grant mode
 *   ro          a mode=r disk: reads work, writes -EROFS
 *   4k          blkback --block-size=4096: 512-byte I/O refused, 4 KiB works
 *   odd-size    an image whose size is not a multiple of 4 KiB
 *   bad-config  a config/ value the backend should never write is refused:
 *               the frontend writes its error node and closes
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bftest.h"

struct env {
	struct simtest st;
	struct xs_handle *xs0;
	int domid;
	struct bf_disk disk;
	struct xp_proc back;
	char img[512];
	uint64_t size;
};

static void setup_env(struct env *e, uint64_t size, const char *mode, const char *bs)
{
	memset(e, 0, sizeof(*e));
	e->size = size;
	simtest_start(&e->st, NULL);
	e->xs0 = xp_xs(&e->st, 0);
	e->domid = xp_guest(&e->st);
	bf_image(&e->st, "disk.img", size, e->img, sizeof(e->img));
	if (bs)
		bf_blkback(&e->back, &e->st, "--block-size", bs, NULL);
	else
		bf_blkback(&e->back, &e->st, NULL);
	bf_disk(e->xs0, e->domid, BF_XVDB, e->img, mode, true, &e->disk);
	xp_wait(e->xs0, e->disk.be, "state", "2");
}

static void stop_env(struct env *e)
{
	CHECK_INT(xp_term(&e->back), ==, 0);
	xs_close(e->xs0);
	simtest_stop(&e->st);
}

/* Run blkcheck with args to its end; returns the last line starting with
 * `want`. */
static void blkcheck(struct env *e, const char *want, char *line, size_t size,
                     const char *const *args)
{
	struct xp_proc p;

	bf_blkcheckv(&p, &e->st, e->domid, args);
	xp_expect(&p, want, line, size, 60000);
	CHECK_INT(xp_wait_exit(&p, 60), ==, 0);
}

static void t_info(void)
{
	struct env e;
	char line[512], want[128];

	setup_env(&e, 8u << 20, "w", NULL);
	blkcheck(&e, "info ", line, sizeof(line), (const char *[]){ "info", NULL });
	CHECK_INT(xp_field(line, "size"), ==, 8u << 20);
	CHECK_INT(xp_field(line, "blk"), ==, 512);
	CHECK_INT(xp_field(line, "ro"), ==, 0);
	CHECK_INT(xp_field(line, "flush"), ==, 1);
	CHECK_INT(xp_field(line, "discard"), ==, 1);
	CHECK_INT(xp_field(line, "wz"), ==, 1);
	CHECK(xp_field(line, "max_io") >= 4096);
	snprintf(want, sizeof(want), " serial=");
	CHECK(strstr(line, want) && strlen(strstr(line, want)) > strlen(want));
	stop_env(&e);
}

static void t_errors(void)
{
	struct env e;
	char line[512];

	setup_env(&e, 4u << 20, "w", NULL);
	blkcheck(&e, "errors ", line, sizeof(line), (const char *[]){ "errors", NULL });
	CHECK(strncmp(line, "errors ok", 9) == 0);
	stop_env(&e);
}

/* Random I/O checked against the model by reads during the run. */
static void verify(const char *mode, const char *bs, uint64_t size)
{
	struct env e;
	char line[512];

	setup_env(&e, size, "w", bs);
	blkcheck(&e, "done ", line, sizeof(line),
	         (const char *[]){ "--mode", mode, "--ops", "1500", "verify", NULL });
	CHECK_INT(xp_field(line, "errors"), ==, 0);
	CHECK_INT(xp_field(line, "ops"), ==, 1500);
	stop_env(&e);
}

static void t_verify(void)
{
	verify("data-area", NULL, 32u << 20);
}

static void t_grant(void)
{
	verify("grant", NULL, 32u << 20);
}

static void t_ro(void)
{
	struct env e;
	char line[512];

	setup_env(&e, 4u << 20, "r", NULL);
	blkcheck(&e, "info ", line, sizeof(line), (const char *[]){ "info", NULL });
	CHECK_INT(xp_field(line, "ro"), ==, 1);
	CHECK_INT(xp_field(line, "discard"), ==, 0);
	blkcheck(&e, "errors ", line, sizeof(line), (const char *[]){ "errors", NULL });
	CHECK(strncmp(line, "errors ok", 9) == 0);
	blkcheck(&e, "done ", line, sizeof(line),
	         (const char *[]){ "--ops", "300", "verify", NULL });
	CHECK_INT(xp_field(line, "errors"), ==, 0);
	CHECK_INT(bf_check_pattern(e.img, e.size), ==, -1);
	stop_env(&e);
}

static void t_4k(void)
{
	struct env e;
	char line[512];

	setup_env(&e, 16u << 20, "w", "4096");
	blkcheck(&e, "info ", line, sizeof(line), (const char *[]){ "info", NULL });
	CHECK_INT(xp_field(line, "blk"), ==, 4096);
	blkcheck(&e, "errors ", line, sizeof(line), (const char *[]){ "errors", NULL });
	CHECK(strncmp(line, "errors ok", 9) == 0);
	blkcheck(&e, "done ", line, sizeof(line),
	         (const char *[]){ "--ops", "800", "verify", NULL });
	CHECK_INT(xp_field(line, "errors"), ==, 0);
	stop_env(&e);
}

static void t_odd_size(void)
{
	struct env e;
	char line[512];
	uint64_t size = (3u << 20) + 5 * 512 + 100; /* the last 100 bytes are not a sector */

	setup_env(&e, size, "w", NULL);
	blkcheck(&e, "info ", line, sizeof(line), (const char *[]){ "info", NULL });
	CHECK_INT(xp_field(line, "size"), ==, size - 100);
	blkcheck(&e, "done ", line, sizeof(line),
	         (const char *[]){ "--ops", "500", "--depth", "4", "verify", NULL });
	CHECK_INT(xp_field(line, "errors"), ==, 0);
	stop_env(&e);
}

static void t_bad_config(void)
{
	struct env e;
	struct xp_proc p;
	char err[512], path[512];

	char line[512];

	setup_env(&e, 4u << 20, "w", NULL);
	/* The backend is at InitWait with its config written; spoil one value
	 * (as dom0) before the frontend reads it.  The backend is stopped
	 * meanwhile: a running backend may see the frontend close and start
	 * a new session, writing its config again, and the frontend then
	 * reconnects and clears the error node before a poll sees it. */
	CHECK(kill(e.back.pid, SIGSTOP) == 0);
	xp_write(e.xs0, e.disk.be, "config/blk-size", "1000");
	bf_blkcheck(&p, &e.st, e.domid, "info", NULL);
	snprintf(path, sizeof(path), "/local/domain/%d/error/device/virtio_disk/%u", e.domid,
	         BF_XVDB);
	for (long long end = xp_now_ms() + XP_TIMEOUT_MS; !xp_read(e.xs0, path, "error", err,
	                                                              sizeof(err));) {
		if (xp_now_ms() > end)
			CHECK_FAIL("no error node at %s", path);
		usleep(5000);
	}
	fprintf(stderr, "error node: %s\n", err);
	CHECK(strstr(err, "config/blk-size") != NULL);
	CHECK(strstr(err, "1000") != NULL);
	xp_wait(e.xs0, e.disk.fe, "state", "6");
	/* Mended, the same frontend connects: it watches the backend's values
	 * after a refusal (xport_front.c retry_watch). */
	CHECK(kill(e.back.pid, SIGCONT) == 0);
	xp_write(e.xs0, e.disk.be, "config/blk-size", "512");
	xp_expect(&p, "info ", line, sizeof(line), XP_TIMEOUT_MS);
	CHECK_INT(xp_field(line, "blk"), ==, 512);
	CHECK_INT(xp_wait_exit(&p, 30), ==, 0);
	stop_env(&e);
}

static const struct check_case cases[] = {
	{ "info", t_info }, { "errors", t_errors }, { "verify", t_verify },
	{ "grant", t_grant }, { "ro", t_ro }, { "4k", t_4k }, { "odd-size", t_odd_size },
	{ "bad-config", t_bad_config },
};

int main(int argc, char **argv)
{
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), NULL, NULL);
}
