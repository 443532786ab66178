/* SPDX-License-Identifier: MIT */
/*
 * xvio-bench ring: requests through the transport (xport.h) between a
 * frontend in a domU process and a backend in a dom0 process, on a private
 * simulator, with the xvio_test device (tests/xport/testdev.h) and the
 * smallest useful request: 64 readable and 64 writable bytes in the data
 * area, posted as two direct descriptors.  The device's work is a 64-byte
 * transform, so the figures are the transport's.
 *
 * Two configurations, each a fresh backend and frontend on a fresh device:
 *   spin     both sides poll their rings (spin window --spin-us, default
 *            the transport's), EVENT_IDX suppresses notifications meanwhile;
 *   nospin   spin_us = 0: both sides sleep on their event channels and
 *            EVENT_IDX decides every notification.
 * Each measures the round trip with one request in flight and requests
 * per second with 64 in flight, beside raw limits measured in the same
 * run: a busy-polled shared-memory ping-pong and an eventfd ping-pong for
 * the latency, busy-polled shared-memory rings with 64 in flight for the
 * throughput.
 *
 * --callgrind runs each side under `valgrind --tool=callgrind` instead and
 * counts instructions (and system calls) per request over a fixed number
 * of requests, beside the same for the raw busy-polled rings.  The sides
 * are this program re-executed ("ring-side", internal), which switches
 * collection on and off around the measured requests (a marker request
 * tells the backend), so start-up and handshake are not counted.
 *
 * --breakdown (bench_breakdown.c) time-stamps each request of a spinning
 * depth-1 run on both sides instead, beside the raw ring's.
 */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <valgrind/callgrind.h>
#include <xenstore.h>

#include "../../tests/xport/testdev.h"
#include "bench.h"
#include "bench_breakdown.h"
#include "bench_paired.h"
#include "bench_ring.h"
#include "stamp.h"
#include "xport.h"

#define REQ_BYTES BENCH_REQ_BYTES
#define MAX_DEPTH 64u
#define QUEUE_SIZE 256u
#define AREA_PAGES 16u
/* R[8..16) of a marker request: the backend toggles callgrind collection. */
#define MARKER 0x4d41524b45524d4bull
/* Time a configuration may take before the bench gives up (seconds). */
#define SIDE_TIMEOUT 900

/* ====================================================================
 * The frontend side
 * ==================================================================== */

struct rreq {
	struct xvio_xport_freq fr;
	struct xvio_xport_sg sg[2];
	struct xvio_xport_buf out, in;
	uint64_t seq;
};

static struct {
	struct xvio_xport_ctx *ctx;
	struct xvio_xport_fdev *dev;
	uint32_t seed;          /* the device's config/seed */
	struct rreq reqs[MAX_DEPTH];
	unsigned devid;         /* the device to drive */
	bool connected;
	/* the current phase */
	bool running;           /* may issue */
	bool marker;            /* the next request issued is a marker */
	unsigned inflight;
	uint64_t issued, done, target;
	double t0, t1, until;
	uint64_t seq, errors;
	uint64_t turns, sleeps;  /* loop turns, and those that slept in poll */
	uint64_t busy;           /* loop turns that completed requests */
} rf;

static void rf_issue(struct rreq *q)
{
	int rc;

	if (__builtin_expect(xvio_stamp_on, 0))
		bd_front_issue(rf.seq + 1);
	q->seq = ++rf.seq;
	bench_fill_req(q->out.ptr, q->seq);
	if (rf.marker) {
		uint64_t m = MARKER;

		memcpy((char *)q->out.ptr + 8, &m, 8);
		rf.marker = false;
	}
	rf.inflight++;
	rf.issued++;
	rc = xvio_xport_submit(rf.dev, 0, &q->fr);
	if (rc < 0)
		die("submit", -rc);
}

/* Should a completion in this phase be followed by a new request? */
static bool rf_more(void)
{
	if (!rf.running)
		return false;
	if (rf.target) {
		if (rf.issued >= rf.target)
			rf.running = false;
	} else if ((rf.done & 15) == 0 && now() >= rf.until) {
		rf.running = false;
	}
	return rf.running;
}

static void rf_complete(struct xvio_xport_fdev *d, struct xvio_xport_freq *r)
{
	struct rreq *q = r->cookie;

	if (__builtin_expect(xvio_stamp_on, 0))
		bd_front_complete(q->seq);
	rf.inflight--;
	if (r->status != 0)
		die("request", -r->status);
	/* The whole answer, as the raw rings check theirs: R[0..8) is the
	 * sequence number, so an answer to the wrong request fails. */
	if (r->len != REQ_BYTES || !bench_check_resp(rf.seed, q->out.ptr, q->in.ptr))
		rf.errors++;
	rf.done++;
	if (rf_more())
		rf_issue(q);
	if (rf.inflight == 0)
		rf.t1 = now();
}

static int rf_setup(struct xvio_xport_fdev *d, xs_transaction_t t, const char *be,
                    struct xvio_err *err)
{
	uint32_t seed;
	int rc = xvio_xs_read_u32(xvio_xport_ctx_xs(rf.ctx), t, be, "config/seed", 0, UINT32_MAX,
	                          &seed, err);

	if (rc == 0)
		rf.seed = seed;
	return rc;
}

static int rf_add(struct xvio_xport_fdev *d, void **priv, struct xvio_err *err)
{
	if (rf.dev || xvio_xport_fdev_devid(d) != rf.devid)
		return xvio_err_set(err, ENODEV, "not the bench's device");
	rf.dev = d;
	return 0;
}

static void rf_connected(struct xvio_xport_fdev *d)
{
	rf.connected = true;
}

static const struct xvio_xport_front_ops rf_ops = {
	.add = rf_add,
	.setup = rf_setup,
	.connected = rf_connected,
	.complete = rf_complete,
};

/* One turn of the event loop: poll only when the transport may sleep
 * (while it spins, dispatch looks at its fds itself, xport.h). */
static void rf_turn(struct pollfd *pfd)
{
	int t = xvio_xport_ctx_timeout(rf.ctx), rc;
	uint64_t done = rf.done;

	rf.turns++;
	rf.sleeps += t != 0;
	if (t != 0 && poll(pfd, XVIO_XPORT_CTX_NFDS, t) < 0 && errno != EINTR)
		die("poll", errno);
	rc = xvio_xport_ctx_dispatch(rf.ctx);
	if (rc < 0)
		die("dispatch", -rc);
	rf.busy += rf.done != done;
}

/* Run a phase to its end (nothing in flight); returns its seconds. */
double rf_phase(struct pollfd *pfd, const struct phase *ph)
{
	rf.issued = rf.done = 0;
	rf.turns = rf.sleeps = rf.busy = 0;
	rf.target = ph->count;
	rf.running = true;
	rf.t0 = now();
	rf.until = rf.t0 + ph->seconds;
	for (unsigned i = 0; i < ph->depth && rf_more(); i++)
		rf_issue(&rf.reqs[i]);
	while (rf.inflight > 0)
		rf_turn(pfd);
	return rf.t1 - rf.t0;
}

void rf_init(unsigned spin_us, unsigned devid, struct pollfd *pfd,
             struct xvio_xport_front **f)
{
	struct xvio_xport_ctx_params cp = { .spin_us = spin_us };
	struct xvio_xport_front_params fp = {
		.kind = XT_KIND, .virtio_id = XT_VIRTIO_ID, .ops = &rf_ops,
		.features = XVIO_XPORT_F_EVENT_IDX | XVIO_XPORT_F_INDIRECT,
		.mode = XVIO_XPORT_DATA_AREA, .num_queues = 1, .queue_size = QUEUE_SIZE,
		.area_pages = AREA_PAGES,
	};
	struct xvio_err err = { 0 };
	int fds[XVIO_XPORT_CTX_NFDS];
	double deadline;

	rf.devid = devid;
	if (xvio_xport_ctx_new(&cp, &rf.ctx, &err) < 0 ||
	    xvio_xport_front_new(rf.ctx, &fp, f, &err) < 0) {
		fprintf(stderr, "xvio-bench: frontend: %s\n", err.msg);
		exit(1);
	}
	if (!rf.dev)
		die("frontend: the bench device is missing", ENODEV);
	xvio_xport_ctx_fds(rf.ctx, fds);
	for (int i = 0; i < XVIO_XPORT_CTX_NFDS; i++)
		pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	deadline = now() + 20;
	while (!rf.connected) {
		if (now() > deadline)
			die("frontend: no connection", ETIMEDOUT);
		rf_turn(pfd);
	}
	/* All requests' buffers first, then all answers': a line we write
	 * next to one the backend writes would bounce between the CPUs
	 * (the adjacent-line prefetcher pairs 64-byte lines), and each
	 * side's lines in a row are what the hardware prefetchers follow. */
	for (unsigned i = 0; i < MAX_DEPTH; i++)
		if (xvio_xport_buf_alloc(rf.dev, REQ_BYTES, &rf.reqs[i].out) < 0)
			die("buffers", ENOMEM);
	for (unsigned i = 0; i < MAX_DEPTH; i++) {
		struct rreq *q = &rf.reqs[i];

		if (xvio_xport_buf_alloc(rf.dev, REQ_BYTES, &q->in) < 0)
			die("buffers", ENOMEM);
		q->sg[0] = (struct xvio_xport_sg){ &q->out, 0, REQ_BYTES };
		q->sg[1] = (struct xvio_xport_sg){ &q->in, 0, REQ_BYTES };
		/* Two descriptors: an indirect table would cost more than the
		 * ring slot it saves. */
		q->fr = (struct xvio_xport_freq){ .sg = q->sg, .nout = 1, .nin = 1,
		                                  .flags = XVIO_XPORT_REQ_DIRECT, .cookie = q };
	}
}

int rf_fini(struct xvio_xport_front *f, const char *who)
{
	xvio_xport_front_free(f);
	xvio_xport_ctx_free(rf.ctx);
	if (rf.errors) {
		fprintf(stderr, "xvio-bench: %s: %llu wrong answers\n", who,
		        (unsigned long long)rf.errors);
		return 1;
	}
	return 0;
}

uint64_t rf_done(void)
{
	return rf.done;
}

/* Timed: depth 1 latency and depth 64 rate, written to `fd`. */
struct ring_result {
	double lat1;    /* seconds per round trip, one in flight */
	double rate64;  /* requests per second, 64 in flight */
	double turns1, sleeps1, turns64, sleeps64; /* frontend loop turns per request */
	double batch64;  /* requests completed per loop turn that completed any */
	uint64_t errors;
};

static int front_timed(unsigned spin_us, unsigned devid, int fd)
{
	struct pollfd pfd[XVIO_XPORT_CTX_NFDS];
	struct xvio_xport_front *f;
	struct ring_result res = { 0 };
	double warm = bench_warm_seconds(), secs;
	struct phase ph;
	int rc;

	rf_init(spin_us, devid, pfd, &f);
	ph = (struct phase){ 1, 0, warm };
	rf_phase(pfd, &ph);
	ph.seconds = g_seconds;
	/* The phase first, then its count: in one expression the compiler
	 * may read rf.done before the call resets and advances it. */
	secs = rf_phase(pfd, &ph);
	res.lat1 = secs / (double)rf.done;
	res.turns1 = (double)rf.turns / (double)rf.done;
	res.sleeps1 = (double)rf.sleeps / (double)rf.done;
	ph = (struct phase){ MAX_DEPTH, 0, warm };
	rf_phase(pfd, &ph);
	ph.seconds = g_seconds;
	secs = rf_phase(pfd, &ph);
	res.rate64 = (double)rf.done / secs;
	res.turns64 = (double)rf.turns / (double)rf.done;
	res.sleeps64 = (double)rf.sleeps / (double)rf.done;
	res.batch64 = rf.busy ? (double)rf.done / (double)rf.busy : 0;
	res.errors = rf.errors;
	rc = rf_fini(f, "timed frontend");
	if (write(fd, &res, sizeof(res)) != (ssize_t)sizeof(res))
		die("result pipe", errno);
	return rc;
}

/*
 * Under callgrind: warm up, then a marker request alone (the backend
 * starts counting), then `count` requests at `depth` while we count, then
 * a marker alone (the backend stops).  Each side counts the requests in
 * between plus at most one marker's worth of work.
 */
static int front_counted(unsigned spin_us, unsigned devid, unsigned depth, uint64_t count)
{
	struct pollfd pfd[XVIO_XPORT_CTX_NFDS];
	struct xvio_xport_front *f;
	struct phase ph;

	rf_init(spin_us, devid, pfd, &f);
	ph = (struct phase){ depth, count / 4 + 1, 0 };
	rf_phase(pfd, &ph);
	rf.marker = true;
	ph = (struct phase){ 1, 1, 0 };
	rf_phase(pfd, &ph);
	CALLGRIND_TOGGLE_COLLECT;
	ph = (struct phase){ depth, count, 0 };
	rf_phase(pfd, &ph);
	CALLGRIND_TOGGLE_COLLECT;
	rf.marker = true;
	ph = (struct phase){ 1, 1, 0 };
	rf_phase(pfd, &ph);
	return rf_fini(f, "counted frontend");
}

/* ====================================================================
 * The backend side: the xvio_test device
 * ==================================================================== */

static bool rb_counting;   /* under callgrind: markers toggle collection */
static uint32_t rb_seed;   /* of the one device a bench backend serves */

static int rb_setup(struct xvio_xport_bdev *d, xs_transaction_t t, struct xvio_err *err)
{
	uint32_t seed = xt_seed(xvio_xport_bdev_frontend_id(d), xvio_xport_bdev_devid(d));

	rb_seed = seed;
	return xvio_xs_printf(xvio_xport_ctx_xs(xvio_xport_bdev_ctx(d)), t,
	                      xvio_xport_bdev_path(d), "config/seed", err, "%u", seed);
}

/* The device's work, as the raw rings' echo does it: the transform,
 * straight from and into the frontend's buffers. */
static void rb_request(struct xvio_xport_bdev *d, struct xvio_xport_breq *r)
{
	struct bd_back_row *row = NULL;

	if (__builtin_expect(bd_area != NULL, 0) && r->nout == 1)
		row = bd_back_enter(r->iov[0].iov_base, r->iov[0].iov_len);
	if (rb_counting && r->nout == 1 && r->iov[0].iov_len >= 16) {
		uint64_t m;

		memcpy(&m, (const char *)r->iov[0].iov_base + 8, 8);
		if (m == MARKER)
			CALLGRIND_TOGGLE_COLLECT;
	}
	xt_xform(rb_seed, r->iov, r->nout, r->niov, r->in_bytes, false);
	if (row)
		bd_back_done(row);
	xvio_xport_breq_complete(r, r->in_bytes);
	if (row)
		bd_back_pub(row);
}

static const struct xvio_xport_back_ops rb_ops = {
	.setup = rb_setup,
	.request = rb_request,
};

static struct xvio_xport_ctx *rb_ctx;

static void rb_stop(int sig)
{
	xvio_xport_ctx_stop(rb_ctx);
}

/* Serve until SIGTERM; writes "ready\n" to ready_fd once InitWait is up. */
static int back_run(unsigned spin_us, int ready_fd)
{
	struct xvio_xport_ctx_params cp = { .spin_us = spin_us };
	struct xvio_xport_back_params bp = {
		.kind = XT_KIND, .virtio_id = XT_VIRTIO_ID, .max_queues = 1,
		.max_queue_size = QUEUE_SIZE, .max_area_pages = AREA_PAGES, .ops = &rb_ops,
	};
	struct sigaction sa = { .sa_handler = rb_stop };
	struct xvio_err err = { 0 };
	struct xvio_xport_back *b;
	sigset_t set, wait_mask;
	int rc;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigaction(SIGTERM, &sa, NULL);
	if (xvio_xport_ctx_new(&cp, &rb_ctx, &err) < 0 ||
	    xvio_xport_back_new(rb_ctx, &bp, &b, &err) < 0) {
		fprintf(stderr, "xvio-bench: backend: %s\n", err.msg);
		return 1;
	}
	if (write(ready_fd, "ready\n", 6) != 6)
		die("ready pipe", errno);
	close(ready_fd);
	rc = xvio_xport_ctx_run(rb_ctx, &wait_mask);
	xvio_xport_back_free(b);
	xvio_xport_ctx_free(rb_ctx);
	if (rc < 0)
		die("backend loop", -rc);
	return 0;
}

/* ====================================================================
 * The raw ring under callgrind
 * ==================================================================== */

static void toggle_collect(void)
{
	CALLGRIND_TOGGLE_COLLECT;
}

/* ====================================================================
 * Internal entry point: one side, possibly under valgrind
 * ==================================================================== */


/*
 *   ring-side back SPIN_US READY_FD [counting]
 *   ring-side front SPIN_US DEVID DEPTH COUNT
 *   ring-side raw DEPTH COUNT
 */
int bench_ring_side(int argc, char **argv)
{
	alarm(SIDE_TIMEOUT);
	if (argc >= 3 && strcmp(argv[0], "back") == 0) {
		rb_counting = argc >= 4;
		return back_run((unsigned)bench_arg_num(argv[1]), (int)bench_arg_num(argv[2]));
	}
	if (argc == 5 && strcmp(argv[0], "front") == 0)
		return front_counted((unsigned)bench_arg_num(argv[1]), (unsigned)bench_arg_num(argv[2]),
		                     (unsigned)bench_arg_num(argv[3]), bench_arg_num(argv[4]));
	if (argc == 3 && strcmp(argv[0], "raw") == 0) {
		uint64_t n = bench_arg_num(argv[2]);

		baseline_shm_ring_counted((unsigned)bench_arg_num(argv[1]), n / 4 + 1, n,
		                          toggle_collect);
		return 0;
	}
	fprintf(stderr, "xvio-bench: ring-side: bad arguments\n");
	return 2;
}

/* ====================================================================
 * The orchestration
 * ==================================================================== */

struct ring_opts {
	unsigned spin_us, rounds;
	bool callgrind, breakdown, paired;
	uint64_t count;
	char self[PATH_MAX];
	char tmp[64];
};

static void self_path(struct ring_opts *o)
{
	ssize_t n = readlink("/proc/self/exe", o->self, sizeof(o->self) - 1);

	if (n <= 0)
		die("/proc/self/exe", errno);
	o->self[n] = '\0';
}

/* A device made as a toolstack makes one (tests/xport/xptest.c). */
void ring_scene_start(struct ring_scene *rs)
{
	sim_start(&rs->sim);
	rs->guest = sim_create(&rs->sim, "bench-guest");
	sim_enter(&rs->sim, 0);
	rs->xs = xs_open(0);
	if (!rs->xs)
		die("xs_open", errno);
}

void ring_scene_stop(struct ring_scene *rs)
{
	xs_close(rs->xs);
	sim_stop(&rs->sim);
}

void make_device(struct xs_handle *xs, int guest, unsigned devid)
{
	struct xs_permissions fe_perms[2] = {
		{ .id = (unsigned)guest, .perms = XS_PERM_NONE },
		{ .id = 0, .perms = XS_PERM_READ },
	};
	struct xs_permissions be_perms[2] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = (unsigned)guest, .perms = XS_PERM_READ },
	};
	char fe[128], be[128], id[16];

	snprintf(fe, sizeof(fe), "/local/domain/%d/device/%s/%u", guest, XT_KIND, devid);
	snprintf(be, sizeof(be), "/local/domain/0/backend/%s/%d/%u", XT_KIND, guest, devid);
	snprintf(id, sizeof(id), "%d", guest);
	for (;;) {
		xs_transaction_t t = xs_transaction_start(xs);
		bool ok;

		if (t == XBT_NULL)
			die("transaction", errno);
		ok = xs_mkdir(xs, t, fe) && xs_set_permissions(xs, t, fe, fe_perms, 2) &&
		     xvio_xs_printf(xs, t, fe, "backend", NULL, "%s", be) == 0 &&
		     xvio_xs_printf(xs, t, fe, "backend-id", NULL, "0") == 0 &&
		     xvio_xs_printf(xs, t, fe, "state", NULL, "1") == 0 &&
		     xs_mkdir(xs, t, be) && xs_set_permissions(xs, t, be, be_perms, 2) &&
		     xvio_xs_printf(xs, t, be, "frontend", NULL, "%s", fe) == 0 &&
		     xvio_xs_printf(xs, t, be, "frontend-id", NULL, "%s", id) == 0 &&
		     xvio_xs_printf(xs, t, be, "online", NULL, "1") == 0 &&
		     xvio_xs_printf(xs, t, be, "state", NULL, "1") == 0;
		if (!ok)
			die("device nodes", errno ? errno : EIO);
		if (xs_transaction_end(xs, t, false))
			return;
		if (errno != EAGAIN)
			die("device transaction", errno);
	}
}

void remove_device(struct xs_handle *xs, int guest, unsigned devid)
{
	char path[128];

	snprintf(path, sizeof(path), "/local/domain/%d/device/%s/%u", guest, XT_KIND, devid);
	xs_rm(xs, XBT_NULL, path);
	snprintf(path, sizeof(path), "/local/domain/0/backend/%s/%d/%u", XT_KIND, guest, devid);
	xs_rm(xs, XBT_NULL, path);
}

/* Exec argv in a child with this process's environment; returns its pid. */
static pid_t spawn(char *const *argv)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "xvio-bench: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* A child that runs one side of a timed figure (0: frontend, 1: backend),
 * pinned, and killed by SIDE_TIMEOUT if it hangs; returns as fork(). */
pid_t fork_side(unsigned side)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		alarm(SIDE_TIMEOUT);
		bench_pin(side);
	}
	return pid;
}

/* The backend: forked (timed) or re-executed under callgrind (out != NULL). */
pid_t start_back(const struct ring_opts *o, unsigned spin_us, const char *out)
{
	int p[2];
	char buf[8];
	pid_t pid;

	if (pipe(p) < 0)
		die("pipe", errno);
	if (!out) {
		pid = fork_side(1);
		if (pid == 0) {
			close(p[0]);
			_exit(back_run(spin_us, p[1]));
		}
	} else {
		char spin[16], fd[16], file[PATH_MAX + 32];
		char *argv[] = { "valgrind", "-q", "--tool=callgrind", "--collect-atstart=no",
		                 "--collect-systime=yes", file, (char *)o->self, "ring-side", "back",
		                 spin, fd, "counting", NULL };

		snprintf(spin, sizeof(spin), "%u", spin_us);
		snprintf(fd, sizeof(fd), "%d", p[1]);
		snprintf(file, sizeof(file), "--callgrind-out-file=%s", out);
		pid = spawn(argv);
	}
	close(p[1]);
	if (read(p[0], buf, 6) != 6)
		die("backend did not start", EIO);
	close(p[0]);
	return pid;
}

void stop_back(pid_t pid)
{
	kill(pid, SIGTERM);
	bench_wait_ok(pid, "backend");
}

/* Timed figures of one configuration. */
static struct ring_result run_timed(struct sim *s, struct xs_handle *xs, int guest,
                                    unsigned devid, unsigned spin_us)
{
	struct ring_result res;
	int p[2];
	pid_t back, front;

	make_device(xs, guest, devid);
	back = start_back(NULL, spin_us, NULL);
	if (pipe(p) < 0)
		die("pipe", errno);
	front = fork_side(0);
	if (front == 0) {
		close(p[0]);
		sim_enter(s, guest);
		_exit(front_timed(spin_us, devid, p[1]));
	}
	close(p[1]);
	if (read(p[0], &res, sizeof(res)) != (ssize_t)sizeof(res))
		die("frontend failed", EIO);
	close(p[0]);
	bench_wait_ok(front, "frontend");
	stop_back(back);
	remove_device(xs, guest, devid);
	if (res.errors)
		die("wrong answers", EPROTO);
	return res;
}

/* ---- callgrind ---- */

struct cg_count {
	double ir;      /* instructions */
	double sys;     /* system calls */
};

/* Keep the callgrind output files (--keep) for callgrind_annotate. */
static bool cg_keep;

/* The totals of a callgrind output file (events Ir sysCount ...), which
 * is then removed, or kept as `keep_as` with --keep. */
static struct cg_count cg_read(const char *path, const char *keep_as)
{
	char line[512], events[512] = "";
	struct cg_count c = { 0, 0 };
	FILE *f = fopen(path, "r");
	bool found = false;

	if (!f)
		die(path, errno);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "events:", 7) == 0)
			snprintf(events, sizeof(events), "%s", line + 7);
		if (strncmp(line, "summary:", 8) == 0 || strncmp(line, "totals:", 7) == 0) {
			char *v = strchr(line, ':') + 1, *e = events, *save1, *save2;
			char *name = strtok_r(e, " \n", &save1);
			char *num = strtok_r(v, " \n", &save2);

			for (; name && num; name = strtok_r(NULL, " \n", &save1),
			                    num = strtok_r(NULL, " \n", &save2)) {
				if (strcmp(name, "Ir") == 0)
					c.ir = atof(num);
				else if (strcmp(name, "sysCount") == 0)
					c.sys = atof(num);
			}
			found = true;
			break;
		}
	}
	fclose(f);
	if (!found)
		die("no totals in the callgrind output", EINVAL);
	if (!cg_keep)
		unlink(path);
	else if (rename(path, keep_as) < 0)
		die(keep_as, errno);
	return c;
}

struct cg_row {
	struct cg_count front, back;   /* per request */
};

static struct cg_row cg_xport(struct sim *s, struct xs_handle *xs, int guest, unsigned devid,
                              const struct ring_opts *o, unsigned spin_us, unsigned depth)
{
	char fout[128], bout[128], file[160];
	char spin[16], id[16], dep[16], cnt[32];
	char *argv[] = { "valgrind", "-q", "--tool=callgrind", "--collect-atstart=no",
	                 "--collect-systime=yes", file, (char *)o->self, "ring-side", "front",
	                 spin, id, dep, cnt, NULL };
	struct cg_row row;
	pid_t back, front;
	double n = (double)o->count;

	snprintf(fout, sizeof(fout), "%s/front.out", o->tmp);
	snprintf(bout, sizeof(bout), "%s/back.out", o->tmp);
	snprintf(file, sizeof(file), "--callgrind-out-file=%s", fout);
	snprintf(spin, sizeof(spin), "%u", spin_us);
	snprintf(id, sizeof(id), "%u", devid);
	snprintf(dep, sizeof(dep), "%u", depth);
	snprintf(cnt, sizeof(cnt), "%llu", (unsigned long long)o->count);
	make_device(xs, guest, devid);
	back = start_back(o, spin_us, bout);
	sim_enter(s, guest);
	front = spawn(argv);
	sim_enter(s, 0);
	bench_wait_ok(front, "frontend under callgrind");
	stop_back(back);
	remove_device(xs, guest, devid);
	snprintf(file, sizeof(file), "%s/%s-front.d%u.cg", o->tmp, spin_us ? "spin" : "nospin",
	         depth);
	row.front = cg_read(fout, file);
	snprintf(file, sizeof(file), "%s/%s-back.d%u.cg", o->tmp, spin_us ? "spin" : "nospin",
	         depth);
	row.back = cg_read(bout, file);
	row.front.ir /= n;
	row.front.sys /= n;
	row.back.ir /= n;
	row.back.sys /= n;
	return row;
}

static struct cg_row cg_raw(const struct ring_opts *o, unsigned depth)
{
	char out[128], file[160], dep[16], cnt[32], keep[160];
	char *argv[] = { "valgrind", "-q", "--tool=callgrind", "--collect-atstart=no",
	                 "--collect-systime=yes", file, (char *)o->self, "ring-side", "raw",
	                 dep, cnt, NULL };
	struct cg_row row;
	char front[128], back[PATH_MAX];
	pid_t pid;
	double n = (double)o->count;

	/* The forked echo inherits valgrind and writes its own file (%p). */
	snprintf(out, sizeof(out), "%s/raw.%%p.out", o->tmp);
	snprintf(file, sizeof(file), "--callgrind-out-file=%s", out);
	snprintf(dep, sizeof(dep), "%u", depth);
	snprintf(cnt, sizeof(cnt), "%llu", (unsigned long long)o->count);
	pid = spawn(argv);
	bench_wait_ok(pid, "raw ring under callgrind");
	/* The requester is the process we started; the echo is its child. */
	snprintf(front, sizeof(front), "%s/raw.%d.out", o->tmp, (int)pid);
	snprintf(keep, sizeof(keep), "%s/raw-front.d%u.cg", o->tmp, depth);
	row.front = cg_read(front, keep);
	{
		char pat[128];
		glob_t g;

		snprintf(pat, sizeof(pat), "%s/raw.*.out", o->tmp);
		if (glob(pat, 0, NULL, &g) != 0 || g.gl_pathc != 1)
			die("the raw echo's callgrind output", ENOENT);
		snprintf(back, sizeof(back), "%s", g.gl_pathv[0]);
		globfree(&g);
	}
	snprintf(keep, sizeof(keep), "%s/raw-back.d%u.cg", o->tmp, depth);
	row.back = cg_read(back, keep);
	row.front.ir /= n;
	row.front.sys /= n;
	row.back.ir /= n;
	row.back.sys /= n;
	return row;
}

static void cg_print(const char *name, const struct cg_row *r, double raw_total)
{
	double total = r->front.ir + r->back.ir;

	printf("%-30s %10.0f %10.0f %10.0f %8.2f %8.2f %8.2f\n", name, r->front.ir, r->back.ir,
	       total, raw_total > 0 ? total / raw_total : 1.0, r->front.sys, r->back.sys);
}

static int ring_callgrind(struct ring_opts *o)
{
	static const unsigned depths[2] = { 1, MAX_DEPTH };
	struct cg_row raw[2], spin[2], nospin[2];
	struct ring_scene rs;

	snprintf(o->tmp, sizeof(o->tmp), "/tmp/xvio-bench-cg-XXXXXX");
	if (!mkdtemp(o->tmp))
		die("mkdtemp", errno);
	for (int i = 0; i < 2; i++)
		raw[i] = cg_raw(o, depths[i]);
	ring_scene_start(&rs);
	for (int i = 0; i < 2; i++) {
		spin[i] = cg_xport(&rs.sim, rs.xs, rs.guest, 1 + (unsigned)i, o, o->spin_us,
		                   depths[i]);
		nospin[i] = cg_xport(&rs.sim, rs.xs, rs.guest, 3 + (unsigned)i, o, 0, depths[i]);
	}
	ring_scene_stop(&rs);
	if (cg_keep)
		printf("callgrind files kept in %s\n", o->tmp);
	else
		rmdir(o->tmp);
	printf("instructions per request (callgrind, %llu requests per row, user space only),"
	       " spin window %u us\n", (unsigned long long)o->count, o->spin_us);
	printf("%-30s %10s %10s %10s %8s %8s %8s\n", "path", "front", "back", "total", "/raw",
	       "sys:fe", "sys:be");
	for (int i = 0; i < 2; i++) {
		char name[64];
		double rt = raw[i].front.ir + raw[i].back.ir;

		snprintf(name, sizeof(name), "raw busy-polled ring, depth %u", depths[i]);
		cg_print(name, &raw[i], rt);
		snprintf(name, sizeof(name), "xvio spin, depth %u", depths[i]);
		cg_print(name, &spin[i], rt);
		snprintf(name, sizeof(name), "xvio no spin, depth %u", depths[i]);
		cg_print(name, &nospin[i], rt);
	}
	return 0;
}

/* ---- timed ---- */

/* The first figure of /proc/loadavg: a busy machine makes busy-polled
 * figures meaningless (the two pollers need a CPU each). */
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

/* A figure, its ratio to `base` and the aim: `prec` decimals. */

/* The figures of one round, measured interleaved. */
enum { F_PP, F_RING1, F_SPIN1, F_EFD, F_NOSPIN1, F_RING64, F_SPIN64, F_NOSPIN64,
       F_SLEEP1, F_SLEEP64, F_STEAL, F_N };

static void round_timed(struct sim *s, struct xs_handle *xs, int guest, unsigned k,
                        const struct ring_opts *o, double *fig, struct ring_result *spin,
                        struct ring_result *nospin)
{
	struct bench_steal st;

	bench_steal_mark(&st);
	/* Baselines and figures interleaved, so a change in the machine's
	 * speed during the run shows in both. */
	fig[F_PP] = baseline_shm_rtt();
	fig[F_RING1] = 1.0 / baseline_shm_ring(1);
	*spin = run_timed(s, xs, guest, 1 + 2 * k, o->spin_us);
	fig[F_SPIN1] = spin->lat1;
	fig[F_EFD] = 1.0 / baseline_eventfd();
	*nospin = run_timed(s, xs, guest, 2 + 2 * k, 0);
	fig[F_NOSPIN1] = nospin->lat1;
	fig[F_RING64] = baseline_shm_ring(MAX_DEPTH);
	fig[F_SPIN64] = spin->rate64;
	fig[F_NOSPIN64] = nospin->rate64;
	fig[F_SLEEP1] = spin->sleeps1;
	fig[F_SLEEP64] = spin->sleeps64;
	fig[F_STEAL] = bench_steal_share(&st);
}

/* Median over the rounds of figure x, and of each round's x / y. */
static double fmed(double (*fig)[F_N], unsigned rounds, unsigned x)
{
	double v[BENCH_MAX_ROUNDS];

	for (unsigned k = 0; k < rounds; k++)
		v[k] = fig[k][x];
	return bench_median(v, rounds);
}

static double rmed(double (*fig)[F_N], unsigned rounds, unsigned x, unsigned y)
{
	double v[BENCH_MAX_ROUNDS];

	for (unsigned k = 0; k < rounds; k++)
		v[k] = fig[k][x] / fig[k][y];
	return bench_median(v, rounds);
}

static void row(const char *name, int prec, double v, double ratio, const char *aim)
{
	printf("%-48s %12.*f %8.2f %8s\n", name, prec, v, ratio, aim);
}

static void print_rounds(double (*fig)[F_N], unsigned rounds)
{
	printf("each round: spin d1 / ping-pong, no spin d1 / eventfd, spin d64 / shm ring\n"
	       "  (and the spinning frontend's sleeps per request at depth 1 and 64; the\n"
	       "  share of CPU time the hypervisor took during the round)\n");
	for (unsigned k = 0; k < rounds; k++)
		printf("  round %u: %.2f  %.2f  %.2f  (%.4f, %.4f; steal %.1f%%)\n", k + 1,
		       fig[k][F_SPIN1] / fig[k][F_PP], fig[k][F_NOSPIN1] / fig[k][F_EFD],
		       fig[k][F_SPIN64] / fig[k][F_RING64], fig[k][F_SLEEP1], fig[k][F_SLEEP64],
		       fig[k][F_STEAL] * 100);
}

static int ring_timed(const struct ring_opts *o)
{
	static double fig[BENCH_MAX_ROUNDS][F_N];
	struct ring_result spin = { 0 }, nospin = { 0 };
	struct ring_scene rs;
	unsigned n = o->rounds;

	ring_scene_start(&rs);
	for (unsigned k = 0; k < n; k++)
		round_timed(&rs.sim, rs.xs, rs.guest, k, o, fig[k], &spin, &nospin);
	ring_scene_stop(&rs);

	printf("xvio transport between a dom0 and a domU process (xvio_test device, one queue\n"
	       "of %u, data area, EVENT_IDX): each request %u bytes written by the frontend, "
	       "answered\nwith %u bytes by the device's transform, checked in full; "
	       "%.1f s per figure.\n", QUEUE_SIZE, REQ_BYTES, REQ_BYTES, g_seconds);
	printf("Baselines, two processes, no xvio code:\n"
	       "  shm ping-pong   one 8-byte word each way in shared memory, both busy-polling\n"
	       "  shm ring        request and completion rings in shared memory, busy-polled;\n"
	       "                  each request the same %u bytes in its slot, answered in place\n"
	       "                  by the same transform, checked in full: the transport's work\n"
	       "                  minus the transport\n"
	       "  eventfd         one eventfd each way, each side blocking in poll()\n", REQ_BYTES);
	if (n > 1)
		printf("%u rounds: figures are medians, ratios the medians of each round's ratio\n",
		       n);
	printf("%-48s %12s %8s %8s\n", "depth 1: round trip", "usec", "ratio", "aim");
	row("baseline: shm ping-pong", 3, fmed(fig, n, F_PP) * 1e6, 1, "");
	row("baseline: shm ring, same requests, depth 1", 3, fmed(fig, n, F_RING1) * 1e6,
	    rmed(fig, n, F_RING1, F_PP), "");
	row("xvio spin (both sides polling)", 3, fmed(fig, n, F_SPIN1) * 1e6,
	    rmed(fig, n, F_SPIN1, F_PP), "<= 2");
	row("  ... against the shm ring, depth 1", 3, fmed(fig, n, F_SPIN1) * 1e6,
	    rmed(fig, n, F_SPIN1, F_RING1), "");
	row("baseline: eventfd ping-pong", 3, fmed(fig, n, F_EFD) * 1e6, 1, "");
	row("xvio no spin (event channels)", 3, fmed(fig, n, F_NOSPIN1) * 1e6,
	    rmed(fig, n, F_NOSPIN1, F_EFD), "<= 1.5");
	printf("%-48s %12s %8s %8s\n", "depth 64: throughput", "req/s", "ratio", "aim");
	row("baseline: shm ring, same requests, depth 64", 0, fmed(fig, n, F_RING64), 1, "");
	row("xvio spin", 0, fmed(fig, n, F_SPIN64), rmed(fig, n, F_SPIN64, F_RING64), ">= 0.33");
	row("xvio no spin", 0, fmed(fig, n, F_NOSPIN64), rmed(fig, n, F_NOSPIN64, F_RING64), "");
	if (n > 1)
		print_rounds(fig, n);
	printf("last round, frontend loop turns (sleeps) per request: spin %.2f (%.2f) at "
	       "depth 1, %.3f (%.3f) at 64;\n  no spin %.2f (%.2f) at depth 1, %.3f (%.3f) at 64\n",
	       spin.turns1, spin.sleeps1, spin.turns64, spin.sleeps64, nospin.turns1,
	       nospin.sleeps1, nospin.turns64, nospin.sleeps64);
	printf("completions per frontend turn that had any, depth 64: spin %.1f, no spin %.1f\n",
	       spin.batch64, nospin.batch64);
	printf("(spin window %u us; load average %s; steal %.1f%% of CPU time%s; %s)\n",
	       o->spin_us, loadavg(), fmed(fig, n, F_STEAL) * 100, n > 1 ? ", median round" : "",
	       bench_pinned() ? "the two sides of every figure pinned to two CPUs"
	                      : "one CPU: sides not pinned");
	return 0;
}

/*
 * xvio-bench ring [--callgrind [--keep] | --breakdown | --paired] [--requests N] [--spin-us N]
 *                  [--rounds N]
 */
int bench_ring(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "callgrind", no_argument, NULL, 'c' },
		{ "breakdown", no_argument, NULL, 'b' },
		{ "paired", no_argument, NULL, 'p' },
		{ "keep", no_argument, NULL, 'k' },
		{ "requests", required_argument, NULL, 'n' },
		{ "spin-us", required_argument, NULL, 'S' },
		{ "rounds", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct ring_opts o = { .spin_us = XVIO_XPORT_SPIN_DEFAULT, .count = 20000, .rounds = 1 };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o.callgrind = true; break;
		case 'b': o.breakdown = true; break;
		case 'p': o.paired = true; break;
		case 'k': cg_keep = true; break;
		case 'n': o.count = bench_arg_num(optarg); break;
		case 'S': o.spin_us = (unsigned)bench_arg_num(optarg); break;
		case 'r': o.rounds = (unsigned)bench_arg_num(optarg); break;
		default: return 2;
		}
	}
	if (optind != argc || o.callgrind + o.breakdown + o.paired > 1 || o.count == 0 ||
	    o.spin_us == 0 || o.spin_us > 1000000 || o.rounds == 0 ||
	    o.rounds > BENCH_MAX_ROUNDS) {
		fprintf(stderr, "usage: xvio-bench ring [--callgrind [--keep] | --breakdown | "
		        "--paired] [--requests N] [--spin-us N (> 0)] [--rounds N (<= %u)]\n",
		        BENCH_MAX_ROUNDS);
		return 2;
	}
	if (o.breakdown)
		return bench_breakdown(o.spin_us, o.rounds);
	if (o.paired)
		return bench_paired(o.spin_us, o.rounds);
	self_path(&o);
	return o.callgrind ? ring_callgrind(&o) : ring_timed(&o);
}
