/* SPDX-License-Identifier: MIT */
/*
 * The daemon-side interface (tools/sim/hyp.h) on its own, without a
 * simulator: domain records, accounting, iteration, shutdown, destroy and
 * the domain_freed hook, listening sockets, and their error codes.
 */
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdint.h>
#include <xen/xen.h>
#include <xen/sched.h>

#include "check.h"
#include "hyp.h"
#include "loop.h"

static int freed[8], nfreed;

static void on_freed(void *arg, uint16_t domid)
{
	CHECK(arg == (void *)freed);
	CHECK(nfreed < 8);
	freed[nfreed++] = domid;
}

static void expect_info(struct hyp *h, uint16_t domid, uint64_t tot, uint64_t max)
{
	struct hyp_dominfo i;

	CHECK_INT(hyp_domain_info(h, domid, &i), ==, 0);
	CHECK_INT(i.domid, ==, domid);
	CHECK(!i.dying);
	CHECK_INT(i.tot_pages, ==, tot);
	CHECK_INT(i.max_pages, ==, max);
	CHECK_INT(i.grants_active, ==, 0);
	CHECK_INT(i.maps_active, ==, 0);
	CHECK_INT(i.ports_bound, ==, 0);
}

static bool exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

int main(void)
{
	struct hyp_hooks hooks = { .arg = freed, .domain_freed = on_freed };
	char dir[] = "/tmp/xvio-hypapi-XXXXXX", path[PATH_MAX], longpath[200];
	struct loop *l = loop_new();
	struct hyp_dominfo i;
	struct hyp *h;

	CHECK(l != NULL);
	CHECK(mkdtemp(dir) != NULL);
	h = hyp_new(l, &hooks);
	CHECK(h != NULL);

	/* dom0 exists from the start, without RAM. */
	expect_info(h, 0, 0, 0);
	CHECK_INT(hyp_domain_next(h, -1), ==, 0);
	CHECK_INT(hyp_domain_next(h, 0), ==, -ESRCH);
	CHECK_INT(hyp_domain_create(h, 0, 8192, 8192), ==, 0);
	expect_info(h, 0, 2048, 2048);
	CHECK_INT(hyp_domain_create(h, 0, 8192, 8192), ==, -EEXIST);

	/* Guests: memory and maxmem in KiB, pages of 4 KiB. */
	CHECK_INT(hyp_domain_create(h, 5, 16384, 32768), ==, 0);
	expect_info(h, 5, 4096, 8192);
	CHECK_INT(hyp_domain_create(h, 5, 16384, 16384), ==, -EEXIST);
	CHECK_INT(hyp_domain_create(h, 7, 4096, 0), ==, 0);   /* maxmem < memory: memory */
	expect_info(h, 7, 1024, 1024);
	CHECK_INT(hyp_domain_create(h, 0x7ff0, 4096, 4096), ==, -EINVAL);
	CHECK_INT(hyp_domain_create(h, 9, 1ull << 40, 1ull << 40), ==, -EINVAL);
	CHECK_INT(hyp_domain_info(h, 9, &i), ==, -ESRCH);

	CHECK_INT(hyp_domain_next(h, -1), ==, 0);
	CHECK_INT(hyp_domain_next(h, 0), ==, 5);
	CHECK_INT(hyp_domain_next(h, 5), ==, 7);
	CHECK_INT(hyp_domain_next(h, 7), ==, -ESRCH);
	CHECK_INT(hyp_domain_next(h, -100), ==, 0);
	CHECK_INT(hyp_domain_next(h, INT_MAX), ==, -ESRCH);

	CHECK_INT(hyp_domain_shutdown(h, 5, SHUTDOWN_reboot), ==, 0);
	CHECK_INT(hyp_domain_info(h, 5, &i), ==, 0);
	CHECK(i.shutdown);
	CHECK_INT(i.shutdown_reason, ==, SHUTDOWN_reboot);
	CHECK_INT(hyp_domain_shutdown(h, 6, SHUTDOWN_poweroff), ==, -ESRCH);

	/* Sockets. */
	snprintf(path, sizeof(path), "%s/dom7.sock", dir);
	CHECK_INT(hyp_listen(h, 7, path), ==, 0);
	CHECK(exists(path));
	CHECK_INT(hyp_listen(h, 7, path), ==, -EBUSY);
	CHECK_INT(hyp_listen(h, 6, path), ==, -ESRCH);
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	CHECK_INT(hyp_listen(h, 5, longpath), ==, -ENAMETOOLONG);

	/* Destroy with nothing mapped: freed at once, hook called. */
	CHECK_INT(hyp_domain_destroy(h, 7), ==, 0);
	CHECK_INT(nfreed, ==, 1);
	CHECK_INT(freed[0], ==, 7);
	CHECK(!exists(path));
	CHECK_INT(hyp_domain_info(h, 7, &i), ==, -ESRCH);
	CHECK_INT(hyp_domain_destroy(h, 7), ==, -ESRCH);
	CHECK_INT(hyp_domain_destroy(h, 0), ==, -EPERM);
	CHECK_INT(hyp_domain_destroy(h, 0x7ff0), ==, -ESRCH);
	/* The domid can be used again. */
	CHECK_INT(hyp_domain_create(h, 7, 4096, 4096), ==, 0);
	expect_info(h, 7, 1024, 1024);
	CHECK_INT(hyp_listen(h, 7, path), ==, 0);

	/* Tearing down with domains and sockets left: no leak, no hook. */
	hyp_free(h);
	CHECK_INT(nfreed, ==, 1);
	loop_free(l);
	unlink(path);
	CHECK(rmdir(dir) == 0);
	return 0;
}
