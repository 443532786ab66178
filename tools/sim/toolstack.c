/* SPDX-License-Identifier: MIT */
/*
 * The simulator's toolstack: what xl and libxl do on a Xen host, reduced to
 * what the drivers can observe.  It runs in the CLI process: it parses the
 * xl config with libxlutil (xl's own parser), asks the daemon for a domain,
 * writes the xenstore nodes libxl 4.17 writes, through the real libxenstore
 * as dom0, and introduces the domain.  Destroy reverses it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"
#include "toolstack.h"

#define DEFAULT_MEM_MIB 32   /* libxl's default when memory= is absent */
#define MAX_VCPUS 128
#define MAX_MEM_MIB 65536    /* the simulator's largest domain (64 GiB of gfns) */

struct domcfg {
	char name[128];
	long memory_mib, maxmem_mib, vcpus;
	char uuid[40];
	struct sim_disks disks;
};

int errf(char *err, size_t len, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return code;
}

/* ---- config parsing ---- */

static char *read_config(const char *path, char *const *ov, int n_ov, int *len_out)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (!nb)
				goto fail;
			buf = nb;
			cap += 65536;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);

		len += n;
		if (n == 0)
			break;
		if (len > (1u << 20)) {
			errno = EFBIG;
			goto fail;
		}
	}
	fclose(f);
	/* xl appends command-line KEY=VALUE settings as extra lines. */
	for (int i = 0; i < n_ov; i++) {
		size_t add = strlen(ov[i]) + 2;
		char *nb = realloc(buf, len + add + 1);

		if (!nb) {
			free(buf);
			return NULL;
		}
		buf = nb;
		len += (size_t)snprintf(buf + len, add + 1, "\n%s", ov[i]);
	}
	buf[len] = '\0';
	*len_out = (int)len;
	return buf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

static bool name_ok(const char *s)
{
	if (!*s || strlen(s) >= 128)
		return false;
	for (; *s; s++)
		if (*s == '/' || *s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

/* An optional number: absent leaves *out alone; malformed or out of range
 * is an error (libxlutil prints which). */
static bool cfg_long(XLU_Config *cfg, const char *key, long min, long max, long *out)
{
	long v;
	int r = xlu_cfg_get_bounded_long(cfg, key, min, max, &v, 0);

	if (r == ESRCH)
		return true;
	if (r)
		return false;
	*out = v;
	return true;
}

static int parse_config(const struct sim_create_opts *o, struct domcfg *dc, char *err,
                        size_t errlen)
{
	XLU_Config *cfg;
	const char *s;
	char *data;
	int len, r;

	memset(dc, 0, sizeof(*dc));
	data = read_config(o->config, o->overrides, o->n_overrides, &len);
	if (!data)
		return errf(err, errlen, -errno, "cannot read config: %s", strerror(errno));
	cfg = xlu_cfg_init(stderr, o->config);
	if (!cfg) {
		free(data);
		return -ENOMEM;
	}
	r = xlu_cfg_readdata(cfg, data, len);
	free(data);
	if (r) {
		xlu_cfg_destroy(cfg);
		return errf(err, errlen, -EINVAL, "config parse error (see above)");
	}
	r = -EINVAL;
	if (xlu_cfg_get_string(cfg, "name", &s, 0) || !name_ok(s)) {
		errf(err, errlen, r, "config needs a name (printable, no '/', < 128 bytes)");
		goto out;
	}
	snprintf(dc->name, sizeof(dc->name), "%s", s);
	dc->memory_mib = DEFAULT_MEM_MIB;
	if (!cfg_long(cfg, "memory", 1, MAX_MEM_MIB, &dc->memory_mib) ||
	    !cfg_long(cfg, "maxmem", 1, MAX_MEM_MIB, &dc->maxmem_mib)) {
		errf(err, errlen, r, "memory and maxmem are sizes in MiB (1..%d)", MAX_MEM_MIB);
		goto out;
	}
	if (dc->maxmem_mib == 0)
		dc->maxmem_mib = dc->memory_mib;
	if (dc->maxmem_mib < dc->memory_mib) {
		errf(err, errlen, r, "maxmem (%ld) is below memory (%ld)", dc->maxmem_mib,
		     dc->memory_mib);
		goto out;
	}
	dc->vcpus = 1;
	if (!cfg_long(cfg, "vcpus", 1, MAX_VCPUS, &dc->vcpus)) {
		errf(err, errlen, r, "vcpus must be 1..%d", MAX_VCPUS);
		goto out;
	}
	if (xlu_cfg_get_string(cfg, "uuid", &s, 1) == 0) {
		libxl_uuid u;

		if (libxl_uuid_from_string(&u, s)) {
			errf(err, errlen, r, "uuid '%s' is not a UUID", s);
			goto out;
		}
		snprintf(dc->uuid, sizeof(dc->uuid), LIBXL_UUID_FMT, LIBXL__UUID_BYTES(libxl_uuid_bytearray(&u)));
	} else {
		libxl_uuid u;

		libxl_uuid_generate(&u);
		snprintf(dc->uuid, sizeof(dc->uuid), LIBXL_UUID_FMT, LIBXL__UUID_BYTES(libxl_uuid_bytearray(&u)));
	}
	for (const char *const *k = (const char *const[]){ "vif", "pci", NULL }; *k; k++) {
		if (xlu_cfg_get_list(cfg, *k, NULL, NULL, 1) != ESRCH) {
			errf(err, errlen, r, "%s= devices are not supported by this xvio-sim yet", *k);
			goto out;
		}
	}
	r = sim_disks_parse(cfg, &dc->disks, err, errlen);
out:
	xlu_cfg_destroy(cfg);
	return r;
}

/* ---- xenstore as the toolstack ---- */

static struct xs_handle *xs_dom0(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct xs_handle *h;

	if (sim_dom_sock(path, sizeof(path), dir, 0, "xenstored") < 0 ||
	    setenv("XENSTORED_PATH", path, 1) < 0) {
		errf(err, errlen, 0, "state directory path too long");
		return NULL;
	}
	h = xs_open(0);
	if (!h)
		errf(err, errlen, 0, "cannot reach the simulator's xenstore at %s: %s", path,
		     strerror(errno));
	return h;
}

void tx_write(struct txn *x, const char *val, const char *fmt, ...)
{
	char path[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (x->ok && !xs_write(x->h, x->t, path, val, (unsigned)strlen(val)))
		x->ok = false;
}

void tx_mknod(struct txn *x, struct xs_permissions *p, unsigned n, const char *fmt, ...)
{
	char path[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (x->ok && (!xs_write(x->h, x->t, path, "", 0) ||
	              !xs_set_permissions(x->h, x->t, path, p, n)))
		x->ok = false;
}

/*
 * The nodes libxl__domain_make and libxl__build_post write for a PV guest,
 * with their permissions (checked against xl create on Xen 4.17).  Left
 * out: the console device (no xenconsoled here) and /vm/<uuid>/image
 * (no kernel is booted).
 */
static void write_domain(struct txn *x, unsigned id, const struct domcfg *dc)
{
	struct xs_permissions ro[2] = { { 0, XS_PERM_NONE }, { id, XS_PERM_READ } };
	struct xs_permissions rw[1] = { { id, XS_PERM_NONE } };
	struct xs_permissions none[1] = { { 0, XS_PERM_NONE } };
	const char *rw_nodes[] = {
		"device/suspend/event-channel", "control/shutdown",
		"control/feature-poweroff", "control/feature-reboot", "control/feature-suspend",
		"control/sysrq", "data", "drivers", "feature", "attr", "error",
	};
	char d[64], v[128], num[32];

	snprintf(d, sizeof(d), "/local/domain/%u", id);
	snprintf(v, sizeof(v), "/vm/%s", dc->uuid);
	xs_rm(x->h, x->t, d);
	tx_mknod(x, ro, 2, "%s", d);
	xs_rm(x->h, x->t, v);
	tx_mknod(x, ro, 2, "%s", v);
	tx_mknod(x, none, 1, "/libxl/%u", id);
	tx_mknod(x, none, 1, "/libxl/%u/device", id);
	tx_write(x, v, "%s/vm", d);
	tx_write(x, dc->name, "%s/name", d);
	tx_mknod(x, ro, 2, "%s/device", d);
	tx_mknod(x, ro, 2, "%s/control", d);
	for (size_t i = 0; i < sizeof(rw_nodes) / sizeof(rw_nodes[0]); i++)
		tx_mknod(x, rw, 1, "%s/%s", d, rw_nodes[i]);
	tx_write(x, dc->uuid, "%s/uuid", v);
	tx_write(x, dc->name, "%s/name", v);
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(num, sizeof(num), "%lld.%02ld", (long long)ts.tv_sec, ts.tv_nsec / 10000000);
		tx_write(x, num, "%s/start_time", v);
	}
	tx_write(x, "1", "%s/control/platform-feature-multiprocessor-suspend", d);
	tx_write(x, "1", "%s/control/platform-feature-xs_reset_watches", d);
	tx_write(x, "pv", "/libxl/%u/type", id);
	tx_write(x, "qemu_xen", "/libxl/%u/dm-version", id);
	/* libxl__build_post */
	snprintf(num, sizeof(num), "%ld", dc->maxmem_mib * 1024);
	tx_write(x, num, "%s/memory/static-max", d);
	snprintf(num, sizeof(num), "%ld", dc->memory_mib * 1024);
	tx_write(x, num, "%s/memory/target", d);
	tx_write(x, "0", "%s/memory/videoram", d);
	snprintf(num, sizeof(num), "%u", id);
	tx_write(x, num, "%s/domid", d);
	/* Nominal: the simulator serves xenstore over a socket, not a ring;
	 * these match what create passes to INTRODUCE. */
	tx_write(x, "1", "%s/store/port", d);
	tx_write(x, "0", "%s/store/ring-ref", d);
	for (long c = 0; c < dc->vcpus; c++)
		tx_write(x, "online", "%s/cpu/%ld/availability", d, c);
}

struct create_args {
	unsigned id;
	const struct domcfg *dc;
};

static int create_txn(struct xs_handle *h, xs_transaction_t t, void *arg, struct xvio_err *err)
{
	struct create_args *a = arg;
	struct txn x = { .h = h, .t = t, .ok = true };

	write_domain(&x, a->id, a->dc);
	return x.ok ? 0 : xvio_err_set(err, errno, "writing /local/domain/%u", a->id);
}

static int commit(struct xs_handle *h, unsigned id, const struct domcfg *dc)
{
	struct create_args a = { id, dc };

	return xvio_xs_transaction(h, create_txn, &a, NULL);
}

static int find_name(struct xs_handle *h, const char *name)
{
	unsigned n = 0;
	char **ids = xs_directory(h, XBT_NULL, "/local/domain", &n);
	int found = -ESRCH;

	for (unsigned i = 0; ids && i < n && found < 0; i++) {
		char path[64];
		unsigned len;
		char *v;

		snprintf(path, sizeof(path), "/local/domain/%.20s/name", ids[i]);
		v = xs_read(h, XBT_NULL, path, &len);
		if (v && strcmp(v, name) == 0)
			found = atoi(ids[i]);
		free(v);
	}
	free(ids);
	return found;
}

static int rm_backends(struct xs_handle *h, unsigned id, struct xvio_err *err);

/*
 * Destroy domain `id` in the hypervisor, then remove what libxl wrote.
 * Every removal is attempted; the first failure is returned (with its
 * message in err), so a half-removed domain is reported, not hidden.
 */
static int remove_domain(struct xs_handle *h, const char *dir, int id, struct xvio_err *err)
{
	char path[64], req[64], rep[256];
	char *vm = NULL;
	int r, first;

	snprintf(path, sizeof(path), "/local/domain/%d", id);
	r = xvio_xs_read_strdup(h, XBT_NULL, path, "vm", 128, &vm, err);
	if (r < 0 && r != -ENOENT)
		return r;
	snprintf(req, sizeof(req), "destroy %d", id);
	r = sim_ctl(dir, req, rep, sizeof(rep));
	if (r < 0) {
		free(vm);
		return xvio_err_set(err, -r, "cannot destroy domain %d: %s", id, rep);
	}
	/* libxl closes and removes the devices it added, then the rest. */
	first = sim_devices_destroy(h, (unsigned)id, err);
	r = rm_backends(h, (unsigned)id, first < 0 ? NULL : err);
	first = first < 0 ? first : r;
	r = xvio_xs_rm(h, XBT_NULL, path, NULL, first < 0 ? NULL : err);
	first = first < 0 ? first : r;
	if (vm && strncmp(vm, "/vm/", 4) == 0) {
		r = xvio_xs_rm(h, XBT_NULL, vm, NULL, first < 0 ? NULL : err);
		first = first < 0 ? first : r;
	}
	snprintf(path, sizeof(path), "/libxl/%d", id);
	r = xvio_xs_rm(h, XBT_NULL, path, NULL, first < 0 ? NULL : err);
	free(vm);
	sim_blkfront_cleanup(dir, (unsigned)id);
	return first < 0 ? first : r;
}

static void print_dry_run(const struct domcfg *dc)
{
	printf("name=%s\nmemory=%ld\nmaxmem=%ld\nvcpus=%ld\nuuid=%s\n", dc->name,
	       dc->memory_mib, dc->maxmem_mib, dc->vcpus, dc->uuid);
	sim_disks_print(&dc->disks);
}

static bool is_number(const char *s);
static bool dom_known(const char *dir, int id);

/* libxl__resolve_domid for backend=, then libxl's checks of the image. */
static int resolve_disks(struct xs_handle *h, const char *dir, struct sim_disks *ds, char *err,
                         size_t errlen)
{
	for (unsigned i = 0; i < ds->n; i++) {
		struct sim_disk *d = &ds->v[i];
		const char *b = d->backend_name;
		int id = 0, r;

		if (b && is_number(b))
			id = strlen(b) < 6 && dom_known(dir, atoi(b)) ? atoi(b) : -1;
		else if (b)
			id = find_name(h, b);
		if (id < 0)
			return errf(err, errlen, -ESRCH, "disk vdev=%s: no backend domain %s", d->vdev, b);
		d->backend_domid = (unsigned)id;
		r = sim_disk_check_target(d, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

/* libxl__add_disks, after the domain is built and introduced. */
static int add_disks(struct xs_handle *h, unsigned id, const struct sim_disks *ds, char *err,
                     size_t errlen)
{
	for (unsigned i = 0; i < ds->n; i++) {
		struct xvio_err xe = { 0 };
		int r = sim_disk_add(h, id, &ds->v[i], &xe);

		if (r < 0)
			return errf(err, errlen, r, "disk vdev=%s: %s", ds->v[i].vdev, xe.msg);
	}
	return 0;
}

/* Everything that can be refused is, before the domain exists. */
static int create_checks(const struct sim_create_opts *o, struct domcfg *dc,
                         struct xs_handle **hp, char **plugin, char *err, size_t errlen)
{
	int r;

	if (dc->disks.n && !o->no_blkfront) {
		*plugin = sim_blkfront_plugin(o->blkfront, err, errlen);
		if (!*plugin)
			return -ENOENT;
	}
	*hp = xs_dom0(o->dir, err, errlen);
	if (!*hp)
		return -ENOENT;
	if (find_name(*hp, dc->name) >= 0)
		return errf(err, errlen, -EEXIST, "domain with name %s already exists", dc->name);
	r = resolve_disks(*hp, o->dir, &dc->disks, err, errlen);
	return r < 0 ? r : 0;
}

static int create_domain(const struct sim_create_opts *o, struct domcfg *dc,
                         struct xs_handle *h, const char *plugin, char *err, size_t errlen)
{
	char req[128], rep[128];
	int r, id;

	snprintf(req, sizeof(req), "create 0 %ld %ld", dc->memory_mib * 1024, dc->maxmem_mib * 1024);
	r = sim_ctl(o->dir, req, rep, sizeof(rep));
	if (r < 0)
		return errf(err, errlen, r, "cannot create the domain: %s", rep);
	id = atoi(rep);
	r = commit(h, (unsigned)id, dc);
	/*
	 * libxl passes the xenstore ring's gfn and event channel; the
	 * simulator serves domains over sockets, so both are nominal.
	 */
	if (r == 0 && !xs_introduce_domain(h, (unsigned)id, 0, 1))
		r = -errno;
	if (r < 0)
		errf(err, errlen, r, "writing the domain's xenstore nodes: %s", strerror(-r));
	if (r == 0)
		r = add_disks(h, (unsigned)id, &dc->disks, err, errlen);
	if (r == 0 && plugin)
		r = sim_blkfront_start(o->dir, (unsigned)id, plugin, err, errlen);
	if (r < 0) {
		remove_domain(h, o->dir, id, NULL);
		return r;
	}
	return id;
}

int sim_create(const struct sim_create_opts *o, char *err, size_t errlen)
{
	struct domcfg dc;
	struct xs_handle *h = NULL;
	char *plugin = NULL;
	int r;

	*err = '\0';
	fprintf(stderr, "Parsing config from %s\n", o->config);
	r = parse_config(o, &dc, err, errlen);
	if (r < 0)
		return r;
	if (o->dry_run) {
		print_dry_run(&dc);
		sim_disks_free(&dc.disks);
		return 0;
	}
	r = create_checks(o, &dc, &h, &plugin, err, errlen);
	if (r == 0)
		r = create_domain(o, &dc, h, plugin, err, errlen);
	if (h)
		xs_close(h);
	if (r >= 0) {
		printf("Created domain %s (id %d)\n", dc.name, r);
		if (plugin)
			printf("Blkfront: nbdkit serves its %u disk(s) on %s/dom%d/nbd.sock "
			       "(log: %s/dom%d/nbdkit.log)\n", dc.disks.n, o->dir, r, o->dir, r);
	}
	free(plugin);
	sim_disks_free(&dc.disks);
	return r;
}

/* ---- resolve, list, destroy ---- */

static bool is_number(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Does the hypervisor know domain `id`? */
static bool dom_known(const char *dir, int id)
{
	char req[32];

	snprintf(req, sizeof(req), "info %d", id);
	return sim_ctl(dir, req, NULL, 0) == 0;
}

int sim_resolve(const char *dir, const char *dom, char *err, size_t errlen)
{
	struct xs_handle *h;
	int id;

	*err = '\0';
	if (is_number(dom)) {
		id = strlen(dom) < 6 ? atoi(dom) : -1;
		if (id < 0 || id > SIM_MAX_DOMID || !dom_known(dir, id))
			return errf(err, errlen, -ESRCH, "no domain with id %s", dom);
		return id;
	}
	h = xs_dom0(dir, err, errlen);
	if (!h)
		return -ENOENT;
	id = find_name(h, dom);
	xs_close(h);
	if (id < 0)
		return errf(err, errlen, -ESRCH, "no domain called %s", dom);
	return id;
}

static void list_lines(struct xs_handle *h, char *rep, int *last)
{
	for (char *l = strtok(rep, "\n"); l; l = strtok(NULL, "\n")) {
		unsigned id;
		char flags[8], path[64];
		unsigned long long tot, max;
		unsigned len;
		char *name;

		if (sscanf(l, "%u %7s %llu %llu", &id, flags, &tot, &max) != 4)
			continue;
		snprintf(path, sizeof(path), "/local/domain/%u/name", id);
		name = xs_read(h, XBT_NULL, path, &len);
		printf("%-32s %5u %9llu %5s\n", name ? name : "(null)", id, tot * 4 / 1024, flags);
		free(name);
		*last = (int)id;
	}
}

int sim_list(const char *dir, char *err, size_t errlen)
{
	char rep[SIM_CTL_MAX], req[32];
	struct xs_handle *h = xs_dom0(dir, err, errlen);
	int last = -1, prev;

	if (!h)
		return -ENOENT;
	printf("%-32s %5s %9s %5s\n", "Name", "ID", "Mem(MiB)", "State");
	/* The daemon answers a page of domains at a time. */
	do {
		int r;

		prev = last;
		if (last < 0)
			snprintf(req, sizeof(req), "list");
		else
			snprintf(req, sizeof(req), "list %d", last);
		r = sim_ctl(dir, req, rep, sizeof(rep));
		if (r < 0) {
			xs_close(h);
			return errf(err, errlen, r, "%s", rep);
		}
		list_lines(h, rep, &last);
	} while (last != prev);
	xs_close(h);
	return 0;
}

/* libxl removes a dead domain's backends; do the same for every kind. */
static int rm_backends(struct xs_handle *h, unsigned id, struct xvio_err *err)
{
	unsigned nb = 0;
	char **bes = xs_directory(h, XBT_NULL, "/local/domain", &nb);
	int first = 0;

	if (!bes)
		return xvio_err_set(err, errno, "/local/domain: cannot list domains");
	for (unsigned i = 0; i < nb; i++) {
		char path[256];
		unsigned nk = 0;
		char **kinds;

		snprintf(path, sizeof(path), "/local/domain/%.20s/backend", bes[i]);
		kinds = xs_directory(h, XBT_NULL, path, &nk);
		for (unsigned k = 0; kinds && k < nk; k++) {
			int r;

			snprintf(path, sizeof(path), "/local/domain/%.20s/backend/%.64s/%u", bes[i],
			         kinds[k], id);
			r = xvio_xs_rm(h, XBT_NULL, path, NULL, first < 0 ? NULL : err);
			first = first < 0 ? first : r;
		}
		free(kinds);
	}
	free(bes);
	return first;
}

int sim_destroy(const char *dir, const char *dom, char *err, size_t errlen)
{
	struct xvio_err xe = { 0 };
	struct xs_handle *h;
	int id, r;

	id = sim_resolve(dir, dom, err, errlen);
	if (id < 0)
		return id;
	if (id == 0)
		return errf(err, errlen, -EINVAL, "domain 0 cannot be destroyed");
	h = xs_dom0(dir, err, errlen);
	if (!h)
		return -ENOENT;
	r = remove_domain(h, dir, id, &xe);
	xs_close(h);
	return r < 0 ? errf(err, errlen, r, "destroying domain %d: %s", id, xe.msg) : 0;
}
