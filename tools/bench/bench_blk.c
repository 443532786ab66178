/* SPDX-License-Identifier: MIT */
/*
 * xvio-bench blk: block I/O on a tmpfs image, three workloads, four paths,
 * all in one run and interleaved (per workload: a, b, c, d, b0, c0, a'), so
 * a change in the machine's speed shows in every column:
 *
 *   (a)  fio --ioengine=io_uring on the image file directly (the baseline);
 *   (a') the same with --force_async=1: every request goes to io_uring's
 *        worker threads, which spread the page copies over the CPUs
 *        (blkback's requests into shared memory often take that path too);
 *   (b)  blkfront's asynchronous C API in a guest process (this program,
 *        "blk-side front") -> xvio-blkback in dom0, zero-copy transport
 *        buffers, the queue kept full from the completion callback; both
 *        sides spinning (the transport's window, --spin-us);
 *   (b0) the same with spin_us = 0 on both sides (event channels only);
 *   (c)  fio --ioengine=nbd in the guest -> nbdkit + the xvioblk plugin ->
 *        xvio-blkback, both spinning (--spin-us);
 *   (c0) the same with spin-us=0 for the plugin and blkback;
 *   (d)  fio --ioengine=nbd -> qemu-nbd serving the same file (raw,
 *        --cache=writeback --aio=io_uring: buffered I/O through io_uring,
 *        what blkback does for an image without direct-io-safe).
 *
 * Every (b) and (c) figure gets a fresh xvio-blkback and a fresh disk
 * (a new devid, removed afterwards), as every (d) gets a fresh qemu-nbd.
 * fio runs with the same options in every column (fio_args).  --rounds N
 * repeats the whole sequence and prints medians.
 *
 * --callgrind instead counts instructions per 4 KiB random read at depth
 * 32: blkback and the guest side each under `valgrind --tool=callgrind`,
 * the guest side switching collection on and off around the counted
 * requests, blkback's counters zeroed and dumped around the same window
 * with callgrind_control (vgdb); beside fio under callgrind (the
 * difference of an N and a 2N request run, so start-up cancels) and a
 * minimal liburing read loop in this program (collection switched around
 * the counted requests).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <valgrind/callgrind.h>
#include <xenstore.h>

#include "bench.h"
#include "bench_blk.h"
#include "blkfront.h"

/* xvdb..xvdp, then the extended numbering (blkfront.h vdev names). */
#define DEVID(n) ((n) < 15u ? 51728u + 16u * (n) : (1u << 28) | ((n) + 1u) << 8)

/* ====================================================================
 * The orchestration: processes
 * ==================================================================== */

struct blk_opts {
	unsigned spin_us, queues, rounds;
	uint64_t size;          /* image bytes */
	bool callgrind, keep;
	uint64_t count;         /* --callgrind requests */
	char self[PATH_MAX], back_bin[PATH_MAX], plugin[PATH_MAX];
	char dir[64];           /* on tmpfs: the image and sockets */
	char image[128];
	char cgdir[64];
	struct sim sim;
	struct xs_handle *xs;
	int guest;
	unsigned ndev;          /* devices made so far */
};

/* What to undo if the bench fails half-way (die() exits): servers still
 * running, the simulator, the image. */
static struct {
	struct blk_opts *o;
	pid_t kids[8];
	bool scene, done;
} g_run;

static void track(pid_t pid)
{
	for (unsigned i = 0; i < 8; i++) {
		if (!g_run.kids[i]) {
			g_run.kids[i] = pid;
			return;
		}
	}
}

static void untrack(pid_t pid)
{
	for (unsigned i = 0; i < 8; i++)
		if (g_run.kids[i] == pid)
			g_run.kids[i] = 0;
}

static void log_path(const struct blk_opts *o, char *buf, size_t len)
{
	snprintf(buf, len, "%s/servers.log", o->dir);
}

static void teardown_scene(struct blk_opts *o);

/* At exit after a failure: show the servers' log, stop everything. */
static void cleanup(void)
{
	char path[160], line[512];
	FILE *f;

	if (g_run.done || !g_run.o)
		return;
	for (unsigned i = 0; i < 8; i++) {
		if (g_run.kids[i] > 0) {
			kill(g_run.kids[i], SIGKILL);
			waitpid(g_run.kids[i], NULL, 0);
		}
	}
	log_path(g_run.o, path, sizeof(path));
	if ((f = fopen(path, "r"))) {
		fprintf(stderr, "---- the servers' stderr (%s) ----\n", path);
		while (fgets(line, sizeof(line), f))
			fputs(line, stderr);
		fclose(f);
	}
	if (g_run.scene)
		teardown_scene(g_run.o);
}

/* A child: argv with stdin/stdout redirected when in/out >= 0 (else
 * inherited; stdout may be /dev/null with out == -2; in == -2 marks a
 * server, whose stderr goes to the log, in == -3 a quiet child, whose
 * stderr goes to /dev/null). */
static pid_t spawn_io(char *const *argv, int in, int out)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		if (in == -3) { /* quiet: stderr to /dev/null */
			int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

			if (fd >= 0)
				dup2(fd, 2);
			in = -1;
		}
		if (in == -2) { /* a server: its stderr to the log, shown on failure */
			char path[160];
			int fd;

			log_path(g_run.o, path, sizeof(path));
			fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
			if (fd >= 0)
				dup2(fd, 2);
			in = -1;
		}
		if (in >= 0)
			dup2(in, 0);
		if (out == -2)
			out = open("/dev/null", O_WRONLY);
		if (out >= 0)
			dup2(out, 1);
		execvp(argv[0], argv);
		fprintf(stderr, "xvio-bench: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

static void stop(pid_t pid, const char *what)
{
	int st;

	kill(pid, SIGTERM);
	if (waitpid(pid, &st, 0) < 0)
		die(what, errno);
	untrack(pid);
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) &&
	    !(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)) {
		fprintf(stderr, "xvio-bench: %s failed (status %#x)\n", what, st);
		exit(1);
	}
}

/* Read a child's stdout to the end (or `until` seen); returns the bytes. */
static size_t read_all(int fd, char *buf, size_t len, const char *until)
{
	size_t used = 0;

	while (used + 1 < len) {
		ssize_t n = read(fd, buf + used, len - 1 - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		buf[used] = '\0';
		if (until && strstr(buf, until))
			break;
	}
	buf[used] = '\0';
	return used;
}

static void find_bins(struct blk_opts *o)
{
	char dir[PATH_MAX];
	const char *env;
	ssize_t n = readlink("/proc/self/exe", o->self, sizeof(o->self) - 1);

	if (n <= 0)
		die("/proc/self/exe", errno);
	o->self[n] = '\0';
	snprintf(dir, sizeof(dir), "%s", o->self);
	*strrchr(dir, '/') = '\0';
	/* the build tree (<build>/tools/) or an installed bin/ next to sbin/ */
	if ((env = getenv("XVIO_BLKBACK")) && *env)
		snprintf(o->back_bin, sizeof(o->back_bin), "%s", env);
	else if (snprintf(o->back_bin, sizeof(o->back_bin), "%.4000s/../back/xvio-blkback", dir),
	         access(o->back_bin, X_OK) != 0)
		snprintf(o->back_bin, sizeof(o->back_bin), "%.4000s/../sbin/xvio-blkback", dir);
	if ((env = getenv("XVIO_NBDKIT_PLUGIN")) && *env)
		snprintf(o->plugin, sizeof(o->plugin), "%s", env);
	else if (snprintf(o->plugin, sizeof(o->plugin), "%.4000s/../front/nbdkit-xvioblk-plugin.so",
	                  dir), access(o->plugin, R_OK) != 0)
		snprintf(o->plugin, sizeof(o->plugin), "xvioblk"); /* nbdkit's plugin dir */
	if (access(o->back_bin, X_OK) != 0)
		die(o->back_bin, errno);
}

/* xvio-blkback in dom0 (under callgrind when cgout != NULL); returns once
 * it printed "ready". */
static pid_t start_back(struct blk_opts *o, unsigned spin_us, const char *cgout)
{
	char spin[32], queues[32], file[PATH_MAX + 32], buf[256];
	char *plain[] = { o->back_bin, spin, queues, NULL };
	/* Uncompressed names: callgrind_annotate reads a dump made by
	 * callgrind_control better so (--keep). */
	char *cg[] = { "valgrind", "-q", "--tool=callgrind", "--collect-systime=yes",
	               "--compress-strings=no", "--compress-pos=no", file, o->back_bin, spin,
	               queues, NULL };
	int p[2];
	pid_t pid;

	snprintf(spin, sizeof(spin), "--spin-us=%u", spin_us);
	snprintf(queues, sizeof(queues), "--max-queues=%u", o->queues);
	snprintf(file, sizeof(file), "--callgrind-out-file=%s", cgout ? cgout : "");
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe", errno);
	sim_enter(&o->sim, 0);
	pid = spawn_io(cgout ? cg : plain, -2, p[1]);
	track(pid);
	close(p[1]);
	read_all(p[0], buf, sizeof(buf), "ready\n");
	close(p[0]);
	if (!strstr(buf, "ready\n"))
		die("xvio-blkback did not start", EIO);
	return pid;
}

/* ====================================================================
 * The orchestration: the disk, as libxl writes a virtio_disk
 * ==================================================================== */

static void disk_paths(const struct blk_opts *o, unsigned devid, char *fe, char *be, size_t len)
{
	snprintf(fe, len, "/local/domain/%d/device/virtio_disk/%u", o->guest, devid);
	snprintf(be, len, "/local/domain/0/backend/virtio_disk/%d/%u", o->guest, devid);
}

static bool disk_txn(struct blk_opts *o, unsigned devid)
{
	struct xs_permissions fe_perms[2] = {
		{ .id = (unsigned)o->guest, .perms = XS_PERM_NONE },
		{ .id = 0, .perms = XS_PERM_READ },
	};
	struct xs_permissions be_perms[2] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = (unsigned)o->guest, .perms = XS_PERM_READ },
	};
	static const char *const be_fixed[][2] = {
		{ "online", "1" }, { "removable", "0" }, { "bootable", "1" }, { "state", "1" },
		{ "type", "standalone" }, { "mode", "w" }, { "device-type", "disk" },
		{ "discard-enable", "0" }, { "specification", "virtio" }, { "transport", "mmio" },
	};
	struct xs_handle *xs = o->xs;
	char fe[128], be[128], name[16];
	xs_transaction_t t = xs_transaction_start(xs);
	bool ok;

	if (t == XBT_NULL)
		die("transaction", errno);
	disk_paths(o, devid, fe, be, sizeof(fe));
	xvio_blk_vdev_name(devid, name, sizeof(name));
	ok = xs_mkdir(xs, t, fe) && xs_set_permissions(xs, t, fe, fe_perms, 2) &&
	     xvio_xs_printf(xs, t, fe, "backend", NULL, "%s", be) == 0 &&
	     xvio_xs_printf(xs, t, fe, "backend-id", NULL, "0") == 0 &&
	     xvio_xs_printf(xs, t, fe, "state", NULL, "1") == 0 &&
	     xvio_xs_printf(xs, t, fe, "virtual-device", NULL, "%u", devid) == 0 &&
	     xvio_xs_printf(xs, t, fe, "device-type", NULL, "disk") == 0 &&
	     xs_mkdir(xs, t, be) && xs_set_permissions(xs, t, be, be_perms, 2) &&
	     xvio_xs_printf(xs, t, be, "frontend", NULL, "%s", fe) == 0 &&
	     xvio_xs_printf(xs, t, be, "frontend-id", NULL, "%d", o->guest) == 0 &&
	     xvio_xs_printf(xs, t, be, "params", NULL, "%s", o->image) == 0 &&
	     xvio_xs_printf(xs, t, be, "dev", NULL, "%s", name) == 0;
	for (size_t i = 0; ok && i < sizeof(be_fixed) / sizeof(be_fixed[0]); i++)
		ok = xvio_xs_printf(xs, t, be, be_fixed[i][0], NULL, "%s", be_fixed[i][1]) == 0;
	if (!ok)
		die("disk nodes", errno ? errno : EIO);
	if (xs_transaction_end(xs, t, false))
		return true;
	if (errno != EAGAIN)
		die("disk transaction", errno);
	return false;
}

static unsigned disk_add(struct blk_opts *o)
{
	unsigned devid = DEVID(o->ndev);

	o->ndev++;
	while (!disk_txn(o, devid))
		;
	return devid;
}

static void disk_remove(struct blk_opts *o, unsigned devid)
{
	char fe[128], be[128];

	disk_paths(o, devid, fe, be, sizeof(fe));
	xs_rm(o->xs, XBT_NULL, fe);
	xs_rm(o->xs, XBT_NULL, be);
}

/* Wait for `dir`/state to read `want` (the frontend of nbdkit connects
 * on its own time). */
static void wait_state(struct blk_opts *o, const char *dir, const char *want)
{
	char path[160];
	double deadline = now() + 30;

	snprintf(path, sizeof(path), "%s/state", dir);
	for (;;) {
		unsigned len;
		char *v = xs_read(o->xs, XBT_NULL, path, &len);
		bool ok = v && strcmp(v, want) == 0;

		free(v);
		if (ok)
			return;
		if (now() > deadline)
			die(path, ETIMEDOUT);
		usleep(2000);
	}
}

/* ====================================================================
 * The orchestration: the image and fio
 * ==================================================================== */

static void image_create(struct blk_opts *o)
{
	static char chunk[1 << 20];
	struct statvfs sv;
	int fd;

	snprintf(o->dir, sizeof(o->dir), "/dev/shm/xvio-bench-blk-XXXXXX");
	if (!mkdtemp(o->dir))
		die("mkdtemp /dev/shm", errno);
	/* At most a quarter of the free tmpfs (the machine is shared). */
	if (statvfs(o->dir, &sv) == 0 && o->size > (uint64_t)sv.f_bavail * sv.f_frsize / 4)
		o->size = ((uint64_t)sv.f_bavail * sv.f_frsize / 4) & ~((1ull << 20) - 1);
	if (o->size < (16u << 20))
		die("tmpfs too small for the image", ENOSPC);
	snprintf(o->image, sizeof(o->image), "%s/disk.img", o->dir);
	fd = open(o->image, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die(o->image, errno);
	/* Real data, not holes: a hole reads from the shared zero page. */
	for (uint64_t off = 0; off < o->size; off += sizeof(chunk)) {
		for (size_t i = 0; i < sizeof(chunk); i += 4096)
			memset(chunk + i, (int)((off + i) >> 12) | 1, 4096);
		if (write(fd, chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk))
			die(o->image, errno ? errno : ENOSPC);
	}
	close(fd);
}

static void image_remove(struct blk_opts *o)
{
	char path[160];

	static const char *const files[] = { "nbd.sock", "nbdkit.pid", "qemu.sock", "qemu.pid",
	                                     "servers.log" };

	unlink(o->image);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", o->dir, files[i]);
		unlink(path);
	}
	rmdir(o->dir);
}

/* The figure of a fio JSON report: "iops" of its read or write part. */
static double fio_iops(const char *json, bool write)
{
	const char *p = strstr(json, write ? "\"write\" : {" : "\"read\" : {");

	p = p ? strstr(p, "\"iops\" :") : NULL;
	if (!p)
		return -1;
	return atof(p + 8);
}

/* fio's common arguments for workload w; `target` is "--filename=..." or
 * "--uri=...".  Same options in every column. */
static void fio_args(const struct workload *w, const char *engine, const char *extra,
                     const char *target, char (*bufs)[128], char **argv)
{
	unsigned n = 0, k = 0;

#define ARG(...) (snprintf(bufs[k], 128, __VA_ARGS__), argv[n++] = bufs[k++])
	argv[n++] = "fio";
	argv[n++] = "--name=bench";
	ARG("--ioengine=%s", engine);
	argv[n++] = (char *)target;
	if (extra)
		argv[n++] = (char *)extra;
	ARG("--rw=%s", w->fio_rw);
	ARG("--bs=%u", w->bs);
	ARG("--iodepth=%u", w->depth);
	argv[n++] = "--direct=0";
	argv[n++] = "--norandommap";
	argv[n++] = "--randrepeat=0";
	argv[n++] = "--time_based";
	ARG("--runtime=%.3f", g_seconds);
	ARG("--ramp_time=%.3f", bench_warm_seconds());
	argv[n++] = "--output-format=json";
	argv[n] = NULL;
#undef ARG
}

static double run_fio(struct blk_opts *o, const struct workload *w, const char *engine,
                      const char *extra, const char *target, int domid)
{
	static char out[1 << 18];
	char bufs[16][128], *argv[32];
	int p[2];
	pid_t pid;
	double iops;

	fio_args(w, engine, extra, target, bufs, argv);
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe", errno);
	sim_enter(&o->sim, domid);
	pid = spawn_io(argv, -1, p[1]);
	sim_enter(&o->sim, 0);
	close(p[1]);
	read_all(p[0], out, sizeof(out), NULL);
	close(p[0]);
	bench_wait_ok(pid, "fio");
	iops = fio_iops(out, w->write);
	if (iops <= 0) {
		fprintf(stderr, "xvio-bench: no figure in fio's output:\n%s\n", out);
		exit(1);
	}
	return iops;
}

/* Wait for an NBD server's pid file: both servers write it once they
 * listen. */
static void wait_pidfile(const char *path, pid_t server)
{
	double deadline = now() + 30;
	int st;

	while (access(path, F_OK) != 0) {
		if (waitpid(server, &st, WNOHANG) == server) {
			untrack(server);
			die("the NBD server exited", EIO);
		}
		if (now() > deadline)
			die(path, ETIMEDOUT);
		usleep(2000);
	}
}

/* ====================================================================
 * The figures
 * ==================================================================== */

/* (a), or (a') with every request sent to io_uring's workers. */
static double fig_a(struct blk_opts *o, const struct workload *w, bool async)
{
	char target[192];

	snprintf(target, sizeof(target), "--filename=%s", o->image);
	return run_fio(o, w, "io_uring", async ? "--force_async=1" : NULL, target, 0);
}

static double fig_b(struct blk_opts *o, unsigned wl, unsigned spin_us)
{
	char spin[16], queues[16], id[16], w[16], buf[256];
	char secs[32], *sargv[] = { o->self, "-s", secs, "blk-side", "front", spin, queues, id, w,
	                            NULL };
	unsigned devid = disk_add(o);
	double iops;
	unsigned long long errors;
	pid_t back, front;
	int p[2];

	back = start_back(o, spin_us, NULL);
	snprintf(secs, sizeof(secs), "%.6f", g_seconds);
	snprintf(spin, sizeof(spin), "%u", spin_us);
	snprintf(queues, sizeof(queues), "%u", o->queues);
	snprintf(id, sizeof(id), "%u", devid);
	snprintf(w, sizeof(w), "%u", wl);
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe", errno);
	sim_enter(&o->sim, o->guest);
	front = spawn_io(sargv, -1, p[1]);
	sim_enter(&o->sim, 0);
	close(p[1]);
	read_all(p[0], buf, sizeof(buf), NULL);
	close(p[0]);
	bench_wait_ok(front, "blkfront side");
	stop(back, "xvio-blkback");
	disk_remove(o, devid);
	if (sscanf(buf, "%lf %llu", &iops, &errors) != 2 || iops <= 0)
		die("blkfront side: no figure", EIO);
	if (errors)
		die("blkfront side: failed requests", EIO);
	return iops;
}

/* (c): the plugin and blkback both with spin window spin_us. */
static double fig_c(struct blk_opts *o, const struct workload *w, unsigned spin_us)
{
	char sock[160], pidf[160], target[256], fe[128], be[128], name[16], spin[32];
	char *argv[] = { "nbdkit", "--foreground", "--exit-with-parent", "--unix", sock,
	                 "--pidfile", pidf, o->plugin, spin, NULL };
	unsigned devid = disk_add(o);
	pid_t back, kit;
	double iops;

	snprintf(spin, sizeof(spin), "spin-us=%u", spin_us);
	back = start_back(o, spin_us, NULL);
	snprintf(sock, sizeof(sock), "%s/nbd.sock", o->dir);
	snprintf(pidf, sizeof(pidf), "%s/nbdkit.pid", o->dir);
	unlink(sock);
	unlink(pidf);
	sim_enter(&o->sim, o->guest);
	kit = spawn_io(argv, -2, -1);
	track(kit);
	sim_enter(&o->sim, 0);
	wait_pidfile(pidf, kit);
	disk_paths(o, devid, fe, be, sizeof(fe));
	wait_state(o, be, "4");
	xvio_blk_vdev_name(devid, name, sizeof(name));
	snprintf(target, sizeof(target), "--uri=nbd+unix:///%s?socket=%s", name, sock);
	iops = run_fio(o, w, "nbd", NULL, target, o->guest);
	stop(kit, "nbdkit");
	stop(back, "xvio-blkback");
	disk_remove(o, devid);
	unlink(pidf);
	return iops;
}

static double fig_d(struct blk_opts *o, const struct workload *w)
{
	char sock[160], pidf[160], pidopt[176], target[256];
	char *argv[] = { "qemu-nbd", "-f", "raw", "-k", sock, "-x", "disk", "-t", pidopt,
	                 "--cache=writeback", "--aio=io_uring", o->image, NULL };
	pid_t q;
	double iops;

	snprintf(sock, sizeof(sock), "%s/qemu.sock", o->dir);
	snprintf(pidf, sizeof(pidf), "%s/qemu.pid", o->dir);
	snprintf(pidopt, sizeof(pidopt), "--pid-file=%s", pidf);
	unlink(sock);
	unlink(pidf);
	q = spawn_io(argv, -2, -1);
	track(q);
	wait_pidfile(pidf, q);
	snprintf(target, sizeof(target), "--uri=nbd+unix:///disk?socket=%s", sock);
	iops = run_fio(o, w, "nbd", NULL, target, 0);
	stop(q, "qemu-nbd");
	unlink(sock);
	unlink(pidf);
	return iops;
}

/* ---- the timed table ---- */

static const char *loadavg(void)
{
	static char buf[64];
	FILE *f = fopen("/proc/loadavg", "r");

	buf[0] = '\0';
	if (f) {
		if (fscanf(f, "%63s", buf) != 1)
			buf[0] = '\0';
		fclose(f);
	}
	return buf[0] ? buf : "?";
}

/* Requests/s as IOPS or MiB/s, as fits the block size. */
static void cell(double iops, uint32_t bs)
{
	if (bs >= (1u << 20))
		printf(" %7.0f", iops * bs / (1 << 20));
	else
		printf(" %7.1f", iops / 1000);
}

static void setup_scene(struct blk_opts *o)
{
	image_create(o);
	g_run.o = o;
	atexit(cleanup);
	sim_start(&o->sim);
	g_run.scene = true;
	o->guest = sim_create(&o->sim, "bench-guest");
	sim_enter(&o->sim, 0);
	o->xs = xs_open(0);
	if (!o->xs)
		die("xs_open", errno);
}

static void teardown_scene(struct blk_opts *o)
{
	g_run.scene = false;
	g_run.done = true;
	if (o->xs)
		xs_close(o->xs);
	o->xs = NULL;
	sim_stop(&o->sim);
	image_remove(o);
}

/* The columns, in the order measured within a workload. */
enum { COL_A, COL_B, COL_C, COL_D, COL_B0, COL_C0, COL_A2, COL_N };

/* The median over the rounds of fig[x] / fig[y] (of each round's pair). */
static double ratio(double (*fig)[COL_N], unsigned rounds, unsigned x, unsigned y)
{
	double r[BENCH_MAX_ROUNDS];

	for (unsigned k = 0; k < rounds; k++)
		r[k] = fig[k][x] / fig[k][y];
	return bench_median(r, rounds);
}

static int blk_timed(struct blk_opts *o)
{
	static double fig[WL_N][BENCH_MAX_ROUNDS][COL_N];
	static const char *const aim_b[WL_N] = { ">=.8", ">=.9", ">=.9" };
	static const char *const head[COL_N] = { "(a)", "(b)", "(c)", "(d)", "(b0)", "(c0)",
	                                         "(a')" };
	static const unsigned order[COL_N] = { COL_A, COL_A2, COL_B, COL_B0, COL_C, COL_C0, COL_D };

	setup_scene(o);
	for (unsigned k = 0; k < o->rounds; k++) {
		for (unsigned i = 0; i < WL_N; i++) {
			const struct workload *w = &g_blk_wl[i];
			double *f = fig[i][k];

			f[COL_A] = fig_a(o, w, false);
			f[COL_B] = fig_b(o, i, o->spin_us);
			f[COL_C] = fig_c(o, w, o->spin_us);
			f[COL_D] = fig_d(o, w);
			f[COL_B0] = fig_b(o, i, 0);
			f[COL_C0] = fig_c(o, w, 0);
			f[COL_A2] = fig_a(o, w, true);
		}
	}
	teardown_scene(o);

	printf("Block I/O on a %llu MiB tmpfs image, %.1f s per figure after %.2f s warm-up,\n"
	       "buffered (the page cache is tmpfs).  4 KiB: thousands of requests/s; 1 MiB: MiB/s.\n",
	       (unsigned long long)(o->size >> 20), g_seconds, bench_warm_seconds());
	printf("  (a)  fio io_uring on the file (fio's defaults: reads and writes inline in\n"
	       "       io_uring_enter where the page cache allows)\n"
	       "  (a') the same with --force_async=1 (every request to io_uring's workers)\n"
	       "  (b)  blkfront C API -> xvio-blkback, zero copy, spin %u us, %u queue%s\n"
	       "  (b0) (b) with spin 0 on both sides (event channels only)\n"
	       "  (c)  fio nbd -> nbdkit + xvioblk plugin -> xvio-blkback, both spinning\n"
	       "  (c0) (c) with spin-us=0 for the plugin and blkback\n"
	       "  (d)  fio nbd -> qemu-nbd (raw, writeback, io_uring) on the same file\n",
	       o->spin_us, o->queues, o->queues == 1 ? "" : "s");
	if (o->rounds > 1)
		printf("%u rounds: figures and ratios are medians (ratios of the same round)\n",
		       o->rounds);
	printf("%-31s", "workload");
	for (unsigned c = 0; c < COL_N; c++)
		printf(" %7s", head[order[c]]);
	printf(" %5s %5s %5s %5s %5s %5s %5s\n", "b/a", "aim", "b/a'", "b0/a", "c/d", "c0/d",
	       "aim");
	for (unsigned i = 0; i < WL_N; i++) {
		printf("%-31s", g_blk_wl[i].name);
		for (unsigned c = 0; c < COL_N; c++) {
			double v[BENCH_MAX_ROUNDS];

			for (unsigned k = 0; k < o->rounds; k++)
				v[k] = fig[i][k][order[c]];
			cell(bench_median(v, o->rounds), g_blk_wl[i].bs);
		}
		printf(" %5.2f %5s %5.2f %5.2f %5.2f %5.2f %5s\n",
		       ratio(fig[i], o->rounds, COL_B, COL_A), aim_b[i],
		       ratio(fig[i], o->rounds, COL_B, COL_A2), ratio(fig[i], o->rounds, COL_B0, COL_A),
		       ratio(fig[i], o->rounds, COL_C, COL_D), ratio(fig[i], o->rounds, COL_C0, COL_D),
		       ">=1.5");
	}
	printf("(%u CPUs online; load average %s)\n", (unsigned)sysconf(_SC_NPROCESSORS_ONLN),
	       loadavg());
	return 0;
}

/* ====================================================================
 * --callgrind
 * ==================================================================== */

struct cg_count {
	double ir, sys;
};

/* The totals of a callgrind output file (events: Ir sysCount ...); the
 * file is removed unless --keep. */
static struct cg_count cg_read(const struct blk_opts *o, const char *path)
{
	char line[1024], events[1024] = "";
	struct cg_count c = { -1, 0 };
	FILE *f = fopen(path, "r");

	if (!f)
		die(path, errno);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "events:", 7) == 0)
			snprintf(events, sizeof(events), "%s", line + 7);
		if (strncmp(line, "summary:", 8) == 0 || strncmp(line, "totals:", 7) == 0) {
			char *save1, *save2;
			char *name = strtok_r(events, " \n", &save1);
			char *num = strtok_r(strchr(line, ':') + 1, " \n", &save2);

			for (; name && num; name = strtok_r(NULL, " \n", &save1),
			                    num = strtok_r(NULL, " \n", &save2)) {
				if (strcmp(name, "Ir") == 0)
					c.ir = atof(num);
				else if (strcmp(name, "sysCount") == 0)
					c.sys = atof(num);
			}
			break;
		}
	}
	fclose(f);
	if (c.ir < 0)
		die("no totals in a callgrind output", EINVAL);
	if (!o->keep)
		unlink(path);
	return c;
}

static void cg_control(const char *cmd, pid_t pid)
{
	char p[16];
	char *argv[] = { "callgrind_control", (char *)cmd, p, NULL };

	snprintf(p, sizeof(p), "%d", (int)pid);
	bench_wait_ok(spawn_io(argv, -3, -2), "callgrind_control");
}

struct cg_row {
	struct cg_count front, back;
};

static struct cg_row cg_b(struct blk_opts *o, unsigned spin_us)
{
	char fout[128], bout[128], bdump[160], file[160], spin[16], queues[16], id[16], cnt[32],
		buf[64];
	char *argv[] = { "valgrind", "-q", "--tool=callgrind", "--collect-atstart=no",
	                 "--collect-systime=yes", file, o->self, "blk-side", "front", spin, queues,
	                 id, "0", cnt, NULL };
	unsigned devid = disk_add(o);
	int in[2], out[2];
	struct cg_row row;
	pid_t back, front;

	snprintf(fout, sizeof(fout), "%s/front.%u.out", o->cgdir, spin_us);
	snprintf(bout, sizeof(bout), "%s/back.%u.out", o->cgdir, spin_us);
	snprintf(file, sizeof(file), "--callgrind-out-file=%s", fout);
	snprintf(spin, sizeof(spin), "%u", spin_us);
	snprintf(queues, sizeof(queues), "%u", o->queues);
	snprintf(id, sizeof(id), "%u", devid);
	snprintf(cnt, sizeof(cnt), "%llu", (unsigned long long)o->count);
	back = start_back(o, spin_us, bout);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		die("pipe", errno);
	sim_enter(&o->sim, o->guest);
	front = spawn_io(argv, in[0], out[1]);
	sim_enter(&o->sim, 0);
	close(in[0]);
	close(out[1]);
	/* The counted window: the backend's counters are zeroed before the
	 * first counted request and dumped after the last completed. */
	read_all(out[0], buf, sizeof(buf), "ready\n");
	if (!strstr(buf, "ready\n"))
		die("blkfront side under callgrind", EIO);
	cg_control("-z", back);
	if (write(in[1], "g", 1) != 1)
		die("go", errno);
	read_all(out[0], buf, sizeof(buf), "done\n");
	if (!strstr(buf, "done\n"))
		die("blkfront side under callgrind", EIO);
	cg_control("-d", back);
	if (write(in[1], "g", 1) != 1)
		die("go", errno);
	close(in[1]);
	close(out[0]);
	bench_wait_ok(front, "blkfront side under callgrind");
	stop(back, "xvio-blkback under callgrind");
	disk_remove(o, devid);
	row.front = cg_read(o, fout);
	snprintf(bdump, sizeof(bdump), "%s.1", bout);
	row.back = cg_read(o, bdump);
	if (!o->keep)
		unlink(bout);
	row.front.ir /= (double)o->count;
	row.front.sys /= (double)o->count;
	row.back.ir /= (double)o->count;
	row.back.sys /= (double)o->count;
	return row;
}

/* fio under callgrind for `n` requests: the whole run's totals. */
static struct cg_count cg_fio_run(struct blk_opts *o, uint64_t n)
{
	char out[128], file[160], nios[48], bufs[16][128], *argv[40], *fargv[32];
	char target[192];
	unsigned k = 0;

	snprintf(out, sizeof(out), "%s/fio.%llu.out", o->cgdir, (unsigned long long)n);
	snprintf(file, sizeof(file), "--callgrind-out-file=%s", out);
	snprintf(target, sizeof(target), "--filename=%s", o->image);
	fio_args(&g_blk_wl[WL_RAND4K], "io_uring", NULL, target, bufs, fargv);
	argv[k++] = "valgrind";
	argv[k++] = "-q";
	argv[k++] = "--tool=callgrind";
	argv[k++] = "--collect-systime=yes";
	argv[k++] = file;
	/* Not time-based: exactly n requests, the job as a thread of the one
	 * process, no progress output. */
	for (unsigned i = 0; fargv[i]; i++) {
		if (strncmp(fargv[i], "--time_based", 12) == 0 ||
		    strncmp(fargv[i], "--runtime", 9) == 0 || strncmp(fargv[i], "--ramp_time", 11) == 0)
			continue;
		argv[k++] = fargv[i];
	}
	snprintf(nios, sizeof(nios), "--number_ios=%llu", (unsigned long long)n);
	argv[k++] = nios;
	argv[k++] = "--thread";
	argv[k++] = "--eta=never";
	argv[k] = NULL;
	bench_wait_ok(spawn_io(argv, -1, -2), "fio under callgrind");
	return cg_read(o, out);
}

static struct cg_count cg_uring(struct blk_opts *o)
{
	char out[128], file[160], cnt[32];
	char *argv[] = { "valgrind", "-q", "--tool=callgrind", "--collect-atstart=no",
	                 "--collect-systime=yes", file, o->self, "blk-side", "uring", o->image, cnt,
	                 NULL };
	struct cg_count c;

	snprintf(out, sizeof(out), "%s/uring.out", o->cgdir);
	snprintf(file, sizeof(file), "--callgrind-out-file=%s", out);
	snprintf(cnt, sizeof(cnt), "%llu", (unsigned long long)o->count);
	bench_wait_ok(spawn_io(argv, -1, -2), "io_uring loop under callgrind");
	c = cg_read(o, out);
	c.ir /= (double)o->count;
	c.sys /= (double)o->count;
	return c;
}

static void cg_line(const char *name, double fe, double be, double base, double sfe, double sbe)
{
	printf("%-44s %9.0f %9.0f %9.0f %7.2f %7.2f %7.2f\n", name, fe, be, fe + be,
	       (fe + be) / base, sfe, sbe);
}

static int blk_callgrind(struct blk_opts *o)
{
	struct cg_row spin, nospin;
	struct cg_count f1, f2, fio, ur;

	snprintf(o->cgdir, sizeof(o->cgdir), "/tmp/xvio-bench-blkcg-XXXXXX");
	if (!mkdtemp(o->cgdir))
		die("mkdtemp", errno);
	setup_scene(o);
	f1 = cg_fio_run(o, o->count);
	f2 = cg_fio_run(o, 2 * o->count);
	fio.ir = (f2.ir - f1.ir) / (double)o->count;
	fio.sys = (f2.sys - f1.sys) / (double)o->count;
	ur = cg_uring(o);
	spin = cg_b(o, o->spin_us);
	nospin = cg_b(o, 0);
	teardown_scene(o);
	if (o->keep)
		printf("callgrind files kept in %s\n", o->cgdir);
	else
		rmdir(o->cgdir);
	printf("Instructions per 4 KiB random read at depth 32 (callgrind, user space only,\n"
	       "%llu counted requests; kernel work, e.g. the page copies, is not counted)\n",
	       (unsigned long long)o->count);
	printf("%-44s %9s %9s %9s %7s %7s %7s\n", "path", "front", "back", "total", "/(a)",
	       "sys:fe", "sys:be");
	cg_line("(a) fio io_uring (2N run - N run)", fio.ir, 0, fio.ir, fio.sys, 0);
	cg_line("    minimal liburing read loop", ur.ir, 0, fio.ir, ur.sys, 0);
	cg_line("(b) blkfront -> blkback, spin", spin.front.ir, spin.back.ir, fio.ir,
	        spin.front.sys, spin.back.sys);
	cg_line("(b0) blkfront -> blkback, no spin", nospin.front.ir, nospin.back.ir, fio.ir,
	        nospin.front.sys, nospin.back.sys);
	printf("(front = the application: fio, the loop, or blk-side with blkfront; back =\n"
	       " xvio-blkback; spin window %u us, %u queue%s)\n", o->spin_us, o->queues,
	       o->queues == 1 ? "" : "s");
	return 0;
}

/*
 * xvio-bench [-s SECONDS] blk [--spin-us N] [--queues N] [--size MiB] [--rounds N]
 *                             [--callgrind [--requests N] [--keep]]
 */
int bench_blk(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "callgrind", no_argument, NULL, 'c' },
		{ "keep", no_argument, NULL, 'k' },
		{ "requests", required_argument, NULL, 'n' },
		{ "spin-us", required_argument, NULL, 'S' },
		{ "queues", required_argument, NULL, 'q' },
		{ "size", required_argument, NULL, 'z' },
		{ "rounds", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	static struct blk_opts o = { .spin_us = XVIO_XPORT_SPIN_DEFAULT, .queues = 1,
	                             .size = 1ull << 30, .count = 20000, .rounds = 1 };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o.callgrind = true; break;
		case 'k': o.keep = true; break;
		case 'n': o.count = bench_arg_num(optarg); break;
		case 'S': o.spin_us = (unsigned)bench_arg_num(optarg); break;
		case 'q': o.queues = (unsigned)bench_arg_num(optarg); break;
		case 'z': o.size = bench_arg_num(optarg) << 20; break;
		case 'r': o.rounds = (unsigned)bench_arg_num(optarg); break;
		default: return 2;
		}
	}
	if (optind != argc || o.count == 0 || o.spin_us == 0 || o.spin_us > 1000000 ||
	    o.queues == 0 || o.queues > XVIO_XPORT_MAX_QUEUES || o.size < (16u << 20) ||
	    o.rounds == 0 || o.rounds > BENCH_MAX_ROUNDS ||
	    o.size > (64ull << 30)) {
		fprintf(stderr, "usage: xvio-bench [-s SECONDS] blk [--spin-us N (> 0)] "
		        "[--queues N] [--size MiB (>= 16)] [--rounds N (<= 16)]\n"
		        "                  [--callgrind [--requests N] [--keep]]\n");
		return 2;
	}
	find_bins(&o);
	return o.callgrind ? blk_callgrind(&o) : blk_timed(&o);
}
