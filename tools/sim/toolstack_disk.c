/* SPDX-License-Identifier: MIT */
/*
 * The toolstack's disks: xl's disk= lines, parsed by libxlutil as xl does,
 * become virtio_disk devices with the xenstore nodes libxl 4.17 writes
 * (device_disk_add + libxl__device_generic_add), and are torn down the way
 * libxl's domain destroy does (libxl__devices_destroy with force).  The
 * guest's side of the disks, the blkfront nbdkit plugin, is started here
 * as a process of the domain.
 *
 * Only raw standalone virtio disks are served: this simulator has no
 * blkback, qdisk or tapdisk.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"
#include "toolstack.h"

#define KIND "virtio_disk"
#define DESTROY_TIMEOUT_MS 10000 /* LIBXL_DESTROY_TIMEOUT */
#define XENBUS_INITIALISING 1
#define XENBUS_CLOSING 5
#define XENBUS_CLOSED 6

/* ---- vdev -> device id (libxl__device_disk_dev_number) ---- */

/*
 * PREFIX, then drive letters read as a bijective base-26 number (a = 0,
 * z = 25, aa = 26 ...), then an optional partition without leading zero.
 * libxl also takes a bare prefix ("xvd") as drive -1 and computes a
 * nonsense id from it; that is refused here.
 */
static bool vdev_match(const char *s, const char *prefix, long max_disk, long max_part,
                       long *disk, long *part)
{
	size_t n = strlen(prefix);
	long d = -1, p = 0;

	if (strncmp(s, prefix, n) != 0)
		return false;
	s += n;
	if (*s < 'a' || *s > 'z')
		return false;
	for (; *s >= 'a' && *s <= 'z'; s++) {
		d = (d + 1) * 26 + (*s - 'a');
		if (d > max_disk)
			return false;
	}
	if (*s) {
		if (*s < '1' || *s > '9')
			return false;
		for (; *s; s++) {
			if (*s < '0' || *s > '9')
				return false;
			p = p * 10 + (*s - '0');
			if (p > max_part)
				return false;
		}
	}
	*disk = d;
	*part = p;
	return true;
}

/* A non-negative number as sscanf's %i reads it (decimal, 0x hex, 0 octal);
 * signs and spaces, which %i would also take, are refused. */
static bool num_prefix(const char **s, long max, long *out)
{
	char *end;
	long v;

	if (**s < '0' || **s > '9')
		return false;
	errno = 0;
	v = strtol(*s, &end, 0);
	if (errno || v > max)
		return false;
	*s = end;
	*out = v;
	return true;
}

/* d<disk>p<partition> */
static bool vdev_dp(const char *s, long *disk, long *part)
{
	if (*s++ != 'd' || !num_prefix(&s, (1 << 20) - 1, disk) || *s++ != 'p' ||
	    !num_prefix(&s, 255, part))
		return false;
	return *s == '\0';
}

int sim_disk_devid(const char *vdev)
{
	long disk, part;
	const char *s = vdev;

	if (vdev_dp(vdev, &disk, &part) ||
	    vdev_match(vdev, "xvd", (1 << 20) - 1, 255, &disk, &part)) {
		if (disk <= 15 && part <= 15)
			return (202 << 8) | (int)(disk << 4) | (int)part;
		return (1 << 28) | (int)(disk << 8) | (int)part;
	}
	if (num_prefix(&s, INT_MAX, &disk) && *s == '\0')
		return (int)disk;
	if (vdev_match(vdev, "hd", 3, 63, &disk, &part))
		return ((disk < 2 ? 3 : 22) << 8) | (int)((disk & 1) << 6) | (int)part;
	if (vdev_match(vdev, "sd", 15, 15, &disk, &part))
		return (8 << 8) | (int)(disk << 4) | (int)part;
	return -1;
}

/* ---- disk= parsing ---- */

static int refuse(char *err, size_t errlen, unsigned i, const char *spec, const char *why)
{
	return errf(err, errlen, -EINVAL,
	            "disk entry %u ('%s'): %s; this simulator only serves raw virtio disks "
	            "(backendtype=standalone, specification=virtio)", i, spec, why);
}

/* libxl's checks and defaults (disk_try_backend, device_disk_setdefault). */
static int disk_from_parsed(struct sim_disk *d, libxl_device_disk *dd, unsigned i,
                            char *err, size_t errlen)
{
	char why[128];

	if (dd->specification != LIBXL_DISK_SPECIFICATION_VIRTIO) {
		snprintf(why, sizeof(why), "specification=%s",
		         dd->specification == LIBXL_DISK_SPECIFICATION_UNKNOWN ? "xen (the default)"
		         : libxl_disk_specification_to_string(dd->specification));
		return refuse(err, errlen, i, d->spec, why);
	}
	if (dd->backend != LIBXL_DISK_BACKEND_UNKNOWN &&
	    dd->backend != LIBXL_DISK_BACKEND_STANDALONE) {
		snprintf(why, sizeof(why), "backendtype=%s",
		         libxl_disk_backend_to_string(dd->backend));
		return refuse(err, errlen, i, d->spec, why);
	}
	if (dd->format == LIBXL_DISK_FORMAT_EMPTY)
		return refuse(err, errlen, i, d->spec, "no target= (an empty cdrom)");
	if (dd->format != LIBXL_DISK_FORMAT_RAW) {
		snprintf(why, sizeof(why), "format=%s", libxl_disk_format_to_string(dd->format));
		return refuse(err, errlen, i, d->spec, why);
	}
	if (dd->script)
		return refuse(err, errlen, i, d->spec, "script= needs a hotplug-driven backend");
	if (!dd->pdev_path || !*dd->pdev_path || strlen(dd->pdev_path) >= PATH_MAX)
		return refuse(err, errlen, i, d->spec, "no usable target=");
	if (!dd->vdev || strlen(dd->vdev) >= sizeof(d->vdev) || (d->devid = sim_disk_devid(dd->vdev)) < 0)
		return errf(err, errlen, -EINVAL,
		            "disk entry %u ('%s'): vdev=%s is not a virtual disk identifier "
		            "libxl accepts (xvd<letters>[<n>], hd, sd, d<n>p<n> or a number)",
		            i, d->spec, dd->vdev ? dd->vdev : "(none)");
	snprintf(d->vdev, sizeof(d->vdev), "%s", dd->vdev);
	d->params = strdup(dd->pdev_path);
	if (dd->backend_domname)
		d->backend_name = strdup(dd->backend_domname);
	if (!d->params || (dd->backend_domname && !d->backend_name))
		return -ENOMEM;
	d->readwrite = dd->readwrite;
	d->cdrom = dd->is_cdrom;
	d->removable = dd->removable;
	d->direct_io_safe = dd->direct_io_safe;
	/* libxl_defbool_setdefault(&discard_enable, readwrite) */
	d->discard = libxl_defbool_is_default(dd->discard_enable) ? dd->readwrite
	             : libxl_defbool_val(dd->discard_enable);
	d->trusted = libxl_defbool_is_default(dd->trusted) || libxl_defbool_val(dd->trusted);
	return 0;
}

int sim_disks_parse(XLU_Config *cfg, struct sim_disks *out, char *err, size_t errlen)
{
	XLU_ConfigList *list;
	const char *spec;
	int n = 0, r;

	memset(out, 0, sizeof(*out));
	r = xlu_cfg_get_list(cfg, "disk", &list, &n, 0);
	if (r == ESRCH)
		return 0;
	if (r)
		return errf(err, errlen, -EINVAL, "disk= must be a list of strings");
	if (n > SIM_MAX_DISKS)
		return errf(err, errlen, -E2BIG, "%d disks: at most %d per domain", n, SIM_MAX_DISKS);
	for (int i = 0; i < n; i++) {
		struct sim_disk *d = &out->v[out->n++];
		libxl_device_disk dd;

		spec = xlu_cfg_get_listitem(list, i);
		if (!spec) {
			sim_disks_free(out);
			return errf(err, errlen, -EINVAL, "disk entry %d is not a string", i);
		}

		snprintf(d->spec, sizeof(d->spec), "%s", spec);
		libxl_device_disk_init(&dd);
		r = xlu_disk_parse(cfg, 1, &spec, &dd);
		if (r)
			r = errf(err, errlen, -EINVAL, "disk entry %d ('%s') does not parse (see above)",
			         i, d->spec);
		else
			r = disk_from_parsed(d, &dd, (unsigned)i, err, errlen);
		libxl_device_disk_dispose(&dd);
		for (unsigned j = 0; r == 0 && j + 1 < out->n; j++)
			if (out->v[j].devid == d->devid)
				r = errf(err, errlen, -EEXIST,
				         "disk entry %d ('%s'): vdev=%s is device %d, already used by "
				         "entry %u", i, d->spec, d->vdev, d->devid, j);
		if (r < 0) {
			sim_disks_free(out);
			return r;
		}
	}
	return 0;
}

void sim_disks_free(struct sim_disks *d)
{
	for (unsigned i = 0; i < d->n; i++) {
		free(d->v[i].params);
		free(d->v[i].backend_name);
		d->v[i].params = d->v[i].backend_name = NULL;
	}
	d->n = 0;
}

int sim_disk_check_target(const struct sim_disk *d, char *err, size_t errlen)
{
	struct stat st;

	/* libxl only looks at images its own domain serves. */
	if (d->backend_domid != 0)
		return 0;
	if (stat(d->params, &st) < 0)
		return errf(err, errlen, -errno, "disk vdev=%s: target %s: %s", d->vdev, d->params,
		            strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return errf(err, errlen, -EINVAL,
		            "disk vdev=%s: target %s is neither a regular file nor a block device",
		            d->vdev, d->params);
	return 0;
}

void sim_disks_print(const struct sim_disks *ds)
{
	for (unsigned i = 0; i < ds->n; i++) {
		const struct sim_disk *d = &ds->v[i];

		printf("disk=%s devid=%d backend=%s mode=%s device-type=%s discard-enable=%d "
		       "direct-io-safe=%d params=%s\n", d->vdev, d->devid,
		       d->backend_name ? d->backend_name : "0", d->readwrite ? "w" : "r",
		       d->cdrom ? "cdrom" : "disk", d->discard, d->direct_io_safe, d->params);
	}
}

/* ---- nodes (libxl__device_generic_add) ---- */

struct add_args {
	unsigned domid;
	const struct sim_disk *d;
};

static void write_backend_keys(struct txn *x, const char *dir, unsigned domid,
                               const struct sim_disk *d)
{
	char num[16];

	tx_write(x, d->params, "%s/params", dir);
	snprintf(num, sizeof(num), "%u", domid);
	tx_write(x, num, "%s/frontend-id", dir);
	tx_write(x, "1", "%s/online", dir);
	tx_write(x, d->removable ? "1" : "0", "%s/removable", dir);
	tx_write(x, "1", "%s/bootable", dir);
	tx_write(x, "1", "%s/state", dir);
	tx_write(x, d->vdev, "%s/dev", dir);
	tx_write(x, "standalone", "%s/type", dir);
	tx_write(x, d->readwrite ? "w" : "r", "%s/mode", dir);
	tx_write(x, d->cdrom ? "cdrom" : "disk", "%s/device-type", dir);
	if (d->direct_io_safe)
		tx_write(x, "1", "%s/direct-io-safe", dir);
	tx_write(x, d->discard ? "1" : "0", "%s/discard-enable", dir);
	tx_write(x, "virtio", "%s/specification", dir);
	tx_write(x, "mmio", "%s/transport", dir);
	/* libxl allocates MMIO windows on Arm only; x86 keeps the zeroes. */
	tx_write(x, "0", "%s/base", dir);
	tx_write(x, "0", "%s/irq", dir);
}

/* libxl__xs_writev_perms: each frontend key carries the directory's perms. */
static void fe_key(struct txn *x, struct xs_permissions *p, const char *dir, const char *key,
                   const char *val)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	if (x->ok && (!xs_write(x->h, x->t, path, val, (unsigned)strlen(val)) ||
	              !xs_set_permissions(x->h, x->t, path, p, 2)))
		x->ok = false;
}

static int add_txn(struct xs_handle *h, xs_transaction_t t, void *arg, struct xvio_err *err)
{
	struct add_args *a = arg;
	const struct sim_disk *d = a->d;
	struct txn x = { .h = h, .t = t, .ok = true };
	struct xs_permissions fe_perms[2] = { { a->domid, XS_PERM_NONE },
	                                      { d->backend_domid, XS_PERM_READ } };
	struct xs_permissions be_perms[2] = { { d->backend_domid, XS_PERM_NONE },
	                                      { a->domid, XS_PERM_READ } };
	char fe[128], be[128], lx[128], num[16];

	snprintf(fe, sizeof(fe), "/local/domain/%u/device/" KIND "/%d", a->domid, d->devid);
	snprintf(be, sizeof(be), "/local/domain/%u/backend/" KIND "/%u/%d", d->backend_domid,
	         a->domid, d->devid);
	snprintf(lx, sizeof(lx), "/libxl/%u/device/" KIND "/%d", a->domid, d->devid);
	/* libxl__device_exists: the libxl copy marks a device as present. */
	{
		unsigned len;
		char *old = xs_read(h, t, lx, &len);

		if (old) {
			free(old);
			return xvio_err_set(err, EEXIST, "%s: the device already exists", lx);
		}
	}
	tx_write(&x, fe, "%s/frontend", lx);
	tx_write(&x, be, "%s/backend", lx);

	xs_rm(h, t, fe);
	if (x.ok && (!xs_mkdir(h, t, fe) || !xs_set_permissions(h, t, fe, fe_perms, 2)))
		x.ok = false;
	tx_write(&x, be, "%s/backend", fe);
	snprintf(num, sizeof(num), "%u", d->backend_domid);
	fe_key(&x, fe_perms, fe, "backend-id", num);
	fe_key(&x, fe_perms, fe, "state", "1");
	snprintf(num, sizeof(num), "%d", d->devid);
	fe_key(&x, fe_perms, fe, "virtual-device", num);
	fe_key(&x, fe_perms, fe, "device-type", d->cdrom ? "cdrom" : "disk");
	fe_key(&x, fe_perms, fe, "trusted", d->trusted ? "1" : "0");
	/* libxl writes the guest's native ABI for PV guests (the simulator's
	 * guests are 64-bit PV: /libxl/<id>/type = pv). */
	fe_key(&x, fe_perms, fe, "protocol", "x86_64-abi");

	xs_rm(h, t, be);
	if (x.ok && (!xs_mkdir(h, t, be) || !xs_set_permissions(h, t, be, be_perms, 2)))
		x.ok = false;
	tx_write(&x, fe, "%s/frontend", be);
	write_backend_keys(&x, be, a->domid, d);
	/* libxl keeps a copy of the backend keys it can trust. */
	write_backend_keys(&x, lx, a->domid, d);
	return x.ok ? 0 : xvio_err_set(err, errno ? errno : EIO, "writing %s", be);
}

int sim_disk_add(struct xs_handle *h, unsigned domid, const struct sim_disk *d,
                 struct xvio_err *err)
{
	struct add_args a = { domid, d };

	return xvio_xs_transaction(h, add_txn, &a, err);
}

/* ---- removal (libxl__initiate_device_generic_remove, force on) ---- */

/* libxl__xs_path_cleanup: remove path, then each parent that is left
 * empty (no value, no children), up to the first one that is not. */
static void path_cleanup(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	char p[256];
	char *slash;

	snprintf(p, sizeof(p), "%s", path);
	if (!xs_rm(h, t, p))
		return;
	while ((slash = strrchr(p, '/')) && slash != p) {
		unsigned len = 0, n = 0;
		char *val, **kids;
		bool empty;

		*slash = '\0';
		val = xs_read(h, t, p, &len);
		kids = val && len == 0 ? xs_directory(h, t, p, &n) : NULL;
		empty = val && len == 0 && kids && n == 0;
		free(val);
		free(kids);
		if (!empty || !xs_rm(h, t, p))
			break;
	}
}

struct dev {
	char fe[128], be[160], lx[128];
	int state;                /* backend state before removal; -1: none */
};

/* The device's paths, from libxl's own copy; the backend path must be
 * one libxl could have written for this domain. */
static bool dev_paths(struct xs_handle *h, unsigned domid, const char *kind, const char *id,
                      struct dev *v)
{
	char path[256], kbuf[64];
	unsigned len, bdom, fdom;
	int n = 0;
	char *be;

	snprintf(v->lx, sizeof(v->lx), "/libxl/%u/device/%.40s/%.20s", domid, kind, id);
	snprintf(v->fe, sizeof(v->fe), "/local/domain/%u/device/%.40s/%.20s", domid, kind, id);
	snprintf(path, sizeof(path), "%s/backend", v->lx);
	be = xs_read(h, XBT_NULL, path, &len);
	if (!be)
		return false;
	if (len >= sizeof(v->be) ||
	    sscanf(be, "/local/domain/%u/backend/%63[^/]/%u/%*d%n", &bdom, kbuf, &fdom, &n) != 3 ||
	    (size_t)n != len || fdom != domid) {
		free(be);
		return false;
	}
	memcpy(v->be, be, len + 1);
	free(be);
	return true;
}

static int read_state(struct xs_handle *h, xs_transaction_t t, const char *be)
{
	char path[192], *v;
	unsigned len;
	int s = -1;

	snprintf(path, sizeof(path), "%s/state", be);
	v = xs_read(h, t, path, &len);
	if (v)
		s = atoi(v);
	free(v);
	return s;
}

/* One transaction: the frontend goes (force), online=0, state=5 unless
 * already Closed. */
static int offline_txn(struct xs_handle *h, xs_transaction_t t, void *arg, struct xvio_err *err)
{
	struct dev *v = arg;
	struct txn x = { .h = h, .t = t, .ok = true };

	path_cleanup(h, t, v->fe);
	v->state = read_state(h, t, v->be);
	if (v->state < 0)
		return 0; /* backend already gone: frontend cleanup only */
	tx_write(&x, "0", "%s/online", v->be);
	if (v->state != XENBUS_CLOSED)
		tx_write(&x, "5", "%s/state", v->be);
	return x.ok ? 0 : xvio_err_set(err, errno, "%s: taking the device offline", v->be);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until the backend reports Closed (6) or its state node goes. */
static void wait_closed(struct xs_handle *h, const struct dev *v, long deadline)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/state", v->be);
	if (!xs_watch(h, path, "simdisk"))
		return;
	for (;;) {
		int s = read_state(h, XBT_NULL, v->be);
		long left = deadline - now_ms();
		struct pollfd pfd = { .fd = xs_fileno(h), .events = POLLIN };

		if (s < 0 || s == XENBUS_CLOSED || left <= 0)
			break;
		if (poll(&pfd, 1, (int)left) > 0) {
			unsigned n;

			free(xs_read_watch(h, &n));
		}
	}
	xs_unwatch(h, path, "simdisk");
}

/* libxl__device_destroy: frontend, libxl copy and backend directories. */
static int destroy_txn(struct xs_handle *h, xs_transaction_t t, void *arg, struct xvio_err *err)
{
	struct dev *v = arg;

	(void)err;
	path_cleanup(h, t, v->fe);
	path_cleanup(h, t, v->lx);
	path_cleanup(h, t, v->be);
	return 0;
}

/* Every device libxl would know of: /libxl/<domid>/device/<kind>/<id>. */
static int list_devices(struct xs_handle *h, unsigned domid, struct dev **out, unsigned *nout)
{
	char path[128];
	unsigned nk = 0, cap = 0, n = 0;
	char **kinds;
	struct dev *v = NULL;

	snprintf(path, sizeof(path), "/libxl/%u/device", domid);
	kinds = xs_directory(h, XBT_NULL, path, &nk);
	for (unsigned k = 0; kinds && k < nk; k++) {
		unsigned ni = 0;
		char **ids;

		snprintf(path, sizeof(path), "/libxl/%u/device/%.40s", domid, kinds[k]);
		ids = xs_directory(h, XBT_NULL, path, &ni);
		for (unsigned i = 0; ids && i < ni; i++) {
			if (n == cap) {
				struct dev *nv = realloc(v, (cap = cap * 2 + 8) * sizeof(*v));

				if (!nv) {
					free(ids);
					free(kinds);
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			if (dev_paths(h, domid, kinds[k], ids[i], &v[n]))
				n++;
		}
		free(ids);
	}
	free(kinds);
	*out = v;
	*nout = n;
	return 0;
}

int sim_devices_destroy(struct xs_handle *h, unsigned domid, struct xvio_err *err)
{
	struct dev *v = NULL;
	unsigned n = 0;
	long deadline;
	int first, r;

	first = list_devices(h, domid, &v, &n);
	if (first < 0)
		return xvio_err_set(err, -first, "/libxl/%u/device: cannot list devices", domid);
	/* All devices close at once, as libxl's multidev does. */
	for (unsigned i = 0; i < n; i++) {
		r = xvio_xs_transaction(h, offline_txn, &v[i], first < 0 ? NULL : err);
		first = first < 0 ? first : r;
	}
	/*
	 * libxl gives each backend 10 s to reach Closed.  A backend still in
	 * Initialising never served the device (libxl would have failed the
	 * create), so nobody will answer for it: do not wait.
	 */
	deadline = now_ms() + DESTROY_TIMEOUT_MS;
	for (unsigned i = 0; i < n; i++)
		if (v[i].state > XENBUS_INITIALISING && v[i].state != XENBUS_CLOSED)
			wait_closed(h, &v[i], deadline);
	for (unsigned i = 0; i < n; i++) {
		r = xvio_xs_transaction(h, destroy_txn, &v[i], first < 0 ? NULL : err);
		first = first < 0 ? first : r;
	}
	free(v);
	return first < 0 ? first : 0;
}

/* ---- the guest's blkfront: nbdkit with the xvioblk plugin ---- */

#define PLUGIN_NAME "nbdkit-xvioblk-plugin.so"

static char *usable_file(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return NULL;
	return realpath(path, NULL);
}

static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	for (const char *s = path ? path : "/usr/bin:/bin"; *s;) {
		size_t len = strcspn(s, ":");

		if (len && (size_t)snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, s, prog) < sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return true;
		s += len;
		if (*s == ':')
			s++;
	}
	return false;
}

char *sim_blkfront_plugin(const char *opt, char *err, size_t errlen)
{
	const char *env = getenv("XVIO_BLKFRONT_PLUGIN");
	char self[PATH_MAX], build[PATH_MAX + 64], inst[PATH_MAX + 64];
	const char *given = opt ? opt : env && *env ? env : NULL;
	char *slash, *p;
	ssize_t n;

	if (!in_path("nbdkit")) {
		errf(err, errlen, 0, "nbdkit is not installed (not found in $PATH): the guest's "
		     "blkfront runs in it (or create with --no-blkfront)");
		return NULL;
	}
	if (given) {
		p = usable_file(given);
		if (!p)
			errf(err, errlen, 0, "blkfront plugin %s (%s): %s", given,
			     opt ? "--blkfront" : "$XVIO_BLKFRONT_PLUGIN",
			     errno == 0 ? "not a regular file" : strerror(errno));
		return p;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		errf(err, errlen, 0, "/proc/self/exe: %s", strerror(errno));
		return NULL;
	}
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(build, sizeof(build), "%s/../../front/" PLUGIN_NAME, self);
	snprintf(inst, sizeof(inst), "%s/../lib/xvio/" PLUGIN_NAME, self);
	p = usable_file(build);
	if (!p)
		p = usable_file(inst);
	if (!p)
		errf(err, errlen, 0,
		     "no blkfront plugin (looked for %s and %s): give --blkfront PLUGIN, set "
		     "$XVIO_BLKFRONT_PLUGIN, or create with --no-blkfront", build, inst);
	return p;
}

struct child_status {
	int err;          /* positive errno */
	char msg[256];
};

static void child_fail(int fd, int e, const char *what, const char *detail)
{
	struct child_status cs = { .err = e };

	snprintf(cs.msg, sizeof(cs.msg), "%s: %s", what, detail && *detail ? detail : strerror(e));
	if (write(fd, &cs, sizeof(cs)) < 0) {
		/* the parent learns from the exit status instead */
	}
	_exit(127);
}

/* The domain's environment, as `xvio-sim exec` sets it. */
static int domain_env(const char *dir, unsigned domid)
{
	char buf[PATH_MAX];
	int err;

	err = sim_dom_sock(buf, sizeof(buf), dir, domid, "xenstored");
	if (err < 0 || setenv("XENSTORED_PATH", buf, 1) < 0)
		return err < 0 ? -err : errno;
	err = sim_dom_sock(buf, sizeof(buf), dir, domid, "hyp");
	if (err < 0 || setenv("XVIO_SIM_HYP", buf, 1) < 0)
		return err < 0 ? -err : errno;
	snprintf(buf, sizeof(buf), "%u", domid);
	if (setenv("XVIO_DOMID", buf, 1) < 0 || setenv("XVIO_PLATFORM", "sim", 1) < 0 ||
	    setenv("XVIO_SIM_DIR", dir, 1) < 0)
		return errno;
	return 0;
}

/* In the child: become a process of the domain, detached, then nbdkit. */
static void blkfront_child(int fd, const char *dir, unsigned domid, const char *plugin,
                           const char *sock, const char *pidf, const char *log)
{
	char req[64], msg[256];
	int e, lfd, nfd;

	setsid();
	snprintf(req, sizeof(req), "exec %u %d", domid, (int)getpid());
	e = sim_ctl(dir, req, msg, sizeof(msg));
	if (e < 0)
		child_fail(fd, -e, "enrolling in the domain", msg);
	e = domain_env(dir, domid);
	if (e)
		child_fail(fd, e, "environment", NULL);
	/* a killed nbdkit leaves these behind */
	unlink(sock);
	unlink(pidf);
	lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (lfd < 0 || nfd < 0)
		child_fail(fd, errno, log, NULL);
	if (dup2(nfd, 0) < 0 || dup2(lfd, 1) < 0 || dup2(lfd, 2) < 0)
		child_fail(fd, errno, "dup2", NULL);
	/* Nothing of the toolstack (its xenstore connection) leaks into nbdkit. */
	close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
	execlp("nbdkit", "nbdkit", "--foreground", "--unix", sock, "--pidfile", pidf, plugin,
	       (char *)NULL);
	child_fail(fd, errno, "exec nbdkit", NULL);
}

int sim_blkfront_start(const char *dir, unsigned domid, const char *plugin, char *err,
                       size_t errlen)
{
	char sock[PATH_MAX], pidf[PATH_MAX], log[PATH_MAX];
	struct child_status cs;
	int fds[2], r;
	ssize_t n;
	pid_t pid;

	if (!in_path("nbdkit"))
		return errf(err, errlen, -ENOENT, "nbdkit is not installed (not found in $PATH); "
		            "the guest's blkfront runs in it (or create with --no-blkfront)");
	r = sim_dom_sock(sock, sizeof(sock), dir, domid, "nbd");
	if (r < 0)
		return errf(err, errlen, r, "state directory path too long for a socket");
	snprintf(pidf, sizeof(pidf), "%s/dom%u/nbdkit.pid", dir, domid);
	snprintf(log, sizeof(log), "%s/dom%u/nbdkit.log", dir, domid);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return errf(err, errlen, -errno, "pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(fds[0]);
		close(fds[1]);
		return errf(err, errlen, r, "fork: %s", strerror(-r));
	}
	if (pid == 0) {
		/*
		 * Fork twice, so that nbdkit is nobody's child: the toolstack
		 * exits at once, and a sanitizer's exit-time work (LeakSanitizer
		 * in ASan builds) was seen to take its direct children along.
		 */
		close(fds[0]);
		pid = fork();
		if (pid == 0)
			blkfront_child(fds[1], dir, domid, plugin, sock, pidf, log);
		if (pid < 0)
			child_fail(fds[1], errno, "fork", NULL);
		_exit(0);
	}
	close(fds[1]);
	waitpid(pid, NULL, 0);
	/* EOF: the exec succeeded (the pipe closes on exec). */
	do
		n = read(fds[0], &cs, sizeof(cs));
	while (n < 0 && errno == EINTR);
	close(fds[0]);
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(cs))
		return errf(err, errlen, -EIO, "starting nbdkit failed");
	cs.msg[sizeof(cs.msg) - 1] = '\0';
	return errf(err, errlen, cs.err > 0 && cs.err < 4096 ? -cs.err : -EIO,
	            "starting the blkfront (nbdkit) in domain %u: %s", domid, cs.msg);
}

void sim_blkfront_cleanup(const char *dir, unsigned domid)
{
	static const char *const files[] = { "nbd.sock", "nbdkit.pid", "nbdkit.log" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/dom%u/%s", dir, domid, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/dom%u", dir, domid);
	rmdir(path); /* the daemon could not while these were there */
}
