/* SPDX-License-Identifier: MIT */
/*
 * nbdkit-xvioblk-plugin: every virtio_disk of this (guest) domain as an
 * NBD export, named by its vdev ("xvdb"; "disk<devid>" for numbers that
 * are not xvd ones).  The default export is the lowest devid.
 *
 *   nbdkit --unix /run/xvio/nbd.sock nbdkit-xvioblk-plugin.so [params]
 *
 * Parameters (all optional):
 *   mode=data-area|grant   buffer addressing (default data-area)
 *   queues=N               virtio queues (default: online CPUs; the
 *                          backend's num-queues caps it)
 *   queue-size=N           ring size (power of two, default 256)
 *   area-pages=N           device memory per disk in pages (default 4096)
 *   spin-us=N              adaptive polling window of the I/O thread
 *   wait=S                 seconds .open waits for a disk to connect (30)
 *
 * Threading: NBDKIT_THREAD_MODEL_PARALLEL.  The xvio context runs on one
 * private thread (blkfront.h, xvio_blkt_*) started in .after_fork, i.e.
 * after nbdkit daemonised; worker threads hand it requests and sleep
 * until they complete.  During a backend restart requests wait and are
 * resubmitted by the transport, so clients see no error.
 */
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blkfront.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
#define MAX_DISKS 256

static struct {
	enum xvio_xport_mode mode;
	unsigned queues, qsize, pages, spin_us, wait_s;
} cfg = { .spin_us = XVIO_XPORT_SPIN_DEFAULT, .wait_s = 30 };

static struct xvio_blkt *blkt;

struct handle {
	unsigned devid;
	struct xvio_blk_info info;
};

/* ---- configuration ---- */

static int xb_config(const char *key, const char *value)
{
	unsigned *slot = NULL;

	if (strcmp(key, "mode") == 0) {
		if (strcmp(value, "data-area") == 0) {
			cfg.mode = XVIO_XPORT_DATA_AREA;
		} else if (strcmp(value, "grant") == 0) {
			cfg.mode = XVIO_XPORT_GRANT;
		} else {
			nbdkit_error("mode: \"%s\" is neither data-area nor grant", value);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "queues") == 0)
		slot = &cfg.queues;
	else if (strcmp(key, "queue-size") == 0)
		slot = &cfg.qsize;
	else if (strcmp(key, "area-pages") == 0)
		slot = &cfg.pages;
	else if (strcmp(key, "spin-us") == 0)
		slot = &cfg.spin_us;
	else if (strcmp(key, "wait") == 0)
		slot = &cfg.wait_s;
	if (!slot) {
		nbdkit_error("unknown parameter \"%s\"", key);
		return -1;
	}
	return nbdkit_parse_unsigned(key, value, slot);
}

static int xb_config_complete(void)
{
	if (cfg.queues > XVIO_XPORT_MAX_QUEUES) {
		nbdkit_error("queues: at most %u", XVIO_XPORT_MAX_QUEUES);
		return -1;
	}
	if (cfg.qsize && (cfg.qsize < 2 || cfg.qsize > 1024 || (cfg.qsize & (cfg.qsize - 1)))) {
		nbdkit_error("queue-size: a power of two 2..1024");
		return -1;
	}
	if (cfg.pages && (cfg.pages < 512 || cfg.pages > XVIO_XPORT_MAX_AREA_PAGES)) {
		nbdkit_error("area-pages: 512..%u", XVIO_XPORT_MAX_AREA_PAGES);
		return -1;
	}
	if (cfg.wait_s > 3600) {
		nbdkit_error("wait: at most 3600 seconds");
		return -1;
	}
	return 0;
}

#define xb_config_help \
	"mode=data-area|grant   Buffer addressing (default data-area).\n" \
	"queues=N               Virtio queues (default: online CPUs).\n" \
	"queue-size=N           Ring size, power of two (default 256).\n" \
	"area-pages=N           Device memory per disk, pages (default 4096).\n" \
	"spin-us=N              Polling window of the I/O thread.\n" \
	"wait=S                 Seconds to wait for a disk to connect (30)."

/* ---- lifetime: the I/O thread starts after nbdkit forked ---- */

static int xb_after_fork(void)
{
	struct xvio_blkt_params p = {
		.front = { .mode = cfg.mode, .num_queues = cfg.queues, .queue_size = cfg.qsize,
		           .area_pages = cfg.pages },
		.spin_us = cfg.spin_us,
	};
	struct xvio_err err = { 0 };

	if (xvio_blkt_start(&p, &blkt, &err) < 0) {
		nbdkit_error("cannot start: %s", err.err ? err.msg : "unknown error");
		return -1;
	}
	return 0;
}

static void xb_cleanup(void)
{
	xvio_blkt_stop(blkt);
	blkt = NULL;
}

/* ---- exports ---- */

static void disk_name(unsigned devid, char *buf, size_t size)
{
	if (xvio_blk_vdev_name(devid, buf, size) < 0)
		snprintf(buf, size, "disk%u", devid);
}

static int name_to_devid(const char *name, unsigned *devid)
{
	char *end;
	unsigned long v;

	if (xvio_blk_vdev_parse(name, devid) == 0)
		return 0;
	if (strncmp(name, "disk", 4) != 0 || name[4] < '0' || name[4] > '9')
		return -1;
	v = strtoul(name + 4, &end, 10);
	if (*end || v > UINT32_MAX || (name[4] == '0' && name[5]))
		return -1;
	*devid = (unsigned)v;
	return 0;
}

static int xb_list_exports(int readonly, int is_tls, struct nbdkit_exports *exports)
{
	unsigned ids[MAX_DISKS];
	int n = xvio_blkt_list(blkt, ids, MAX_DISKS);

	if (n < 0) {
		nbdkit_error("listing disks: %s", strerror(-n));
		return -1;
	}
	for (int i = 0; i < n && i < MAX_DISKS; i++) {
		char name[32], desc[64];

		disk_name(ids[i], name, sizeof(name));
		snprintf(desc, sizeof(desc), "xvio virtio_disk %u", ids[i]);
		if (nbdkit_add_export(exports, name, desc) < 0)
			return -1;
	}
	return 0;
}

static const char *xb_default_export(int readonly, int is_tls)
{
	unsigned ids[1];
	char name[32];

	if (xvio_blkt_list(blkt, ids, 1) <= 0)
		return "";
	disk_name(ids[0], name, sizeof(name));
	return nbdkit_strdup_intern(name);
}

static void *xb_open(int readonly)
{
	const char *name = nbdkit_export_name();
	struct handle *h;
	unsigned devid;
	int rc;

	if (!name || !*name) {
		nbdkit_error("no xvio disk in this domain (device/virtio_disk is empty)");
		return NULL;
	}
	if (name_to_devid(name, &devid) < 0) {
		nbdkit_error("export \"%s\": not a disk name (xvdb, disk<devid>)", name);
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		nbdkit_error("out of memory");
		return NULL;
	}
	h->devid = devid;
	rc = xvio_blkt_wait(blkt, devid, (int)cfg.wait_s * 1000, &h->info);
	if (rc < 0) {
		if (rc == -ETIMEDOUT)
			nbdkit_error("export \"%s\": disk %u did not connect within %u s (is the "
			             "backend running?)", name, devid, cfg.wait_s);
		else
			nbdkit_error("export \"%s\": no such disk (device/virtio_disk/%u)", name,
			             devid);
		free(h);
		return NULL;
	}
	return h;
}

static void xb_close(void *handle)
{
	free(handle);
}

static const char *xb_export_description(void *handle)
{
	struct handle *h = handle;

	return nbdkit_printf_intern("xvio virtio_disk %u (%s)", h->devid, h->info.name);
}

/* ---- capabilities ---- */

static int64_t xb_get_size(void *handle)
{
	return (int64_t)((struct handle *)handle)->info.size;
}

static int xb_block_size(void *handle, uint32_t *minimum, uint32_t *preferred,
                         uint32_t *maximum)
{
	const struct handle *h = handle;

	*minimum = h->info.blk_size;
	*preferred = h->info.blk_size > 4096 ? h->info.blk_size : 4096;
	/* Larger requests are split, so the maximum is NBD's usual one
	 * rather than one virtio request's (info.max_io). */
	*maximum = 32u << 20;
	return 0;
}

static int xb_can_write(void *handle)
{
	return !((struct handle *)handle)->info.read_only;
}

static int xb_can_flush(void *handle)
{
	return ((struct handle *)handle)->info.flush;
}

static int xb_can_trim(void *handle)
{
	return ((struct handle *)handle)->info.discard;
}

static int xb_can_zero(void *handle)
{
	/* false: nbdkit still offers zero and writes zeroes itself */
	return ((struct handle *)handle)->info.write_zeroes;
}

static int xb_can_fast_zero(void *handle)
{
	return 0;
}

static int xb_can_fua(void *handle)
{
	/* Without FLUSH the disk is write-through: every write is durable. */
	return ((struct handle *)handle)->info.flush ? NBDKIT_FUA_EMULATE : NBDKIT_FUA_NATIVE;
}

static int xb_can_multi_conn(void *handle)
{
	return 1; /* one device, one cache: a flush covers every connection */
}

static int xb_is_rotational(void *handle)
{
	return 0;
}

/* ---- I/O ---- */

static int io(void *handle, enum xvio_blk_op op, unsigned flags, void *buf, uint32_t count,
              uint64_t offset)
{
	const struct handle *h = handle;
	int rc = xvio_blkt_io(blkt, h->devid, op, flags, buf, count, offset);

	if (rc == 0)
		return 0;
	switch (rc) {
	case -EINVAL: case -EROFS: case -ENOMEM: case -ENOSPC:
		nbdkit_set_error(-rc);
		break;
	case -EOPNOTSUPP:
		nbdkit_set_error(EOPNOTSUPP);
		break;
	default: /* -EIO, and -ECANCELED / -ENODEV: the disk went away */
		nbdkit_set_error(EIO);
		break;
	}
	if (rc != -EOPNOTSUPP)
		nbdkit_error("%s: %s at %llu+%u: %s", h->info.name,
		             op == XVIO_BLK_READ ? "read" : op == XVIO_BLK_WRITE ? "write"
		             : op == XVIO_BLK_FLUSH ? "flush" : op == XVIO_BLK_DISCARD ? "trim"
		             : "zero", (unsigned long long)offset, count, strerror(-rc));
	return -1;
}

static int xb_pread(void *handle, void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
	return io(handle, XVIO_BLK_READ, 0, buf, count, offset);
}

static int xb_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
                     uint32_t flags)
{
	/* FUA is emulated by nbdkit (a flush after the write). */
	return io(handle, XVIO_BLK_WRITE, 0, (void *)buf, count, offset);
}

static int xb_flush(void *handle, uint32_t flags)
{
	return io(handle, XVIO_BLK_FLUSH, 0, NULL, 0, 0);
}

static int xb_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
	return io(handle, XVIO_BLK_DISCARD, 0, NULL, count, offset);
}

static int xb_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
	const struct handle *h = handle;
	unsigned f = (flags & NBDKIT_FLAG_MAY_TRIM) && h->info.zeroes_may_unmap
	             ? XVIO_BLK_REQ_UNMAP : 0;

	return io(handle, XVIO_BLK_WRITE_ZEROES, f, NULL, count, offset);
}

static void xb_dump_plugin(void)
{
	printf("xvioblk_kind=%s\n", XVIO_BLK_KIND);
	printf("xvioblk_virtio_id=%u\n", XVIO_BLK_VIRTIO_ID);
}

static struct nbdkit_plugin plugin = {
	.name = "xvioblk",
	.longname = "xvio virtio_disk frontend",
	.version = "0.1.0",
	.description = "Exports the xvio virtio disks of this Xen domain over NBD",
	.config = xb_config,
	.config_complete = xb_config_complete,
	.config_help = xb_config_help,
	.after_fork = xb_after_fork,
	.cleanup = xb_cleanup,
	.list_exports = xb_list_exports,
	.default_export = xb_default_export,
	.open = xb_open,
	.close = xb_close,
	.export_description = xb_export_description,
	.get_size = xb_get_size,
	.block_size = xb_block_size,
	.can_write = xb_can_write,
	.can_flush = xb_can_flush,
	.can_trim = xb_can_trim,
	.can_zero = xb_can_zero,
	.can_fast_zero = xb_can_fast_zero,
	.can_fua = xb_can_fua,
	.can_multi_conn = xb_can_multi_conn,
	.is_rotational = xb_is_rotational,
	.pread = xb_pread,
	.pwrite = xb_pwrite,
	.flush = xb_flush,
	.trim = xb_trim,
	.zero = xb_zero,
	.dump_plugin = xb_dump_plugin,
	.errno_is_preserved = 0,
};

NBDKIT_REGISTER_PLUGIN(plugin)
