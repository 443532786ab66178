/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the toolstack's files: toolstack.c (domains) and
 * toolstack_disk.c (xl disk= lines, virtio_disk devices, the guest's
 * blkfront).  Everything runs in the short-lived CLI process, single
 * threaded; functions return >= 0 or -errno with a message in err.
 */
#ifndef SIM_TOOLSTACK_H
#define SIM_TOOLSTACK_H

#include <stdbool.h>
#include <stddef.h>

#include <libxlutil.h>
#include <xenstore.h>

#include "xenbus.h"

#define SIM_MAX_DISKS 64     /* disk= entries per domain */

/* One xenstore transaction being filled: the first failure sticks. */
struct txn {
	struct xs_handle *h;
	xs_transaction_t t;
	bool ok;
};

void tx_write(struct txn *x, const char *val, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* libxl__xs_mknod: an empty node with explicit permissions. */
void tx_mknod(struct txn *x, struct xs_permissions *p, unsigned n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

int errf(char *err, size_t len, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- toolstack_disk.c ---- */

/* A disk= entry as libxl 4.17 would add it (after its defaults). */
struct sim_disk {
	char spec[256];          /* the entry as written, for messages */
	char vdev[32];
	char *params;            /* target=, owned */
	char *backend_name;      /* backend=, owned; NULL: dom0 */
	unsigned backend_domid;
	int devid;
	bool readwrite, cdrom, removable, direct_io_safe, discard, trusted;
};

struct sim_disks {
	struct sim_disk v[SIM_MAX_DISKS];
	unsigned n;
};

/*
 * libxl__device_disk_dev_number: the device id of a vdev (xvdb -> 51728,
 * hda, sda, d<N>p<M>, or a plain number), or -1 if libxl would refuse it.
 */
int sim_disk_devid(const char *vdev);

/* Parse every entry of cfg's disk= list; refuses anything but raw
 * standalone virtio disks.  Free with sim_disks_free. */
int sim_disks_parse(XLU_Config *cfg, struct sim_disks *out, char *err, size_t errlen);
void sim_disks_free(struct sim_disks *d);

/* Checks libxl makes once the backend domain is known (backend_domid set):
 * a dom0-served image must be a regular file or a block device. */
int sim_disk_check_target(const struct sim_disk *d, char *err, size_t errlen);

/* libxl__device_generic_add for one disk of domain `domid`, in one
 * transaction, with libxl's permissions. */
int sim_disk_add(struct xs_handle *h, unsigned domid, const struct sim_disk *d,
                 struct xvio_err *err);

/* libxl__devices_destroy with force: every device under /libxl/<domid>/device
 * is taken offline (online=0, state=5, frontend removed), its backend is
 * given up to 10 s to reach Closed (6), then its directories are removed. */
int sim_devices_destroy(struct xs_handle *h, unsigned domid, struct xvio_err *err);

/* Print one line per disk for `create -n`. */
void sim_disks_print(const struct sim_disks *d);

/* Locate the blkfront plugin (see `xvio-sim create --help`); NULL + err. */
char *sim_blkfront_plugin(const char *opt, char *err, size_t errlen);

/* Start nbdkit with `plugin` as a process of domain `domid`, detached.
 * Returns once nbdkit is exec'd (or failed to be). */
int sim_blkfront_start(const char *dir, unsigned domid, const char *plugin, char *err,
                       size_t errlen);

/* Remove what a killed blkfront left in DIR/dom<N>/. */
void sim_blkfront_cleanup(const char *dir, unsigned domid);

#endif
