/* SPDX-License-Identifier: MIT */
/*
 * xvio-bench blk, the guest side ("blk-side", internal; bench_blk.c runs
 * it in the guest domain, possibly under valgrind):
 *
 *   front   blkfront's asynchronous API (blkfront.h) on one disk: zero-copy
 *           transport buffers (xvio_blk_buf_alloc), one request per buffer,
 *           each resubmitted from its completion callback so the queue
 *           stays full; timed (prints requests/s) or counted under
 *           callgrind (collection switched on around the counted requests,
 *           in step with the orchestrator, which handles the backend);
 *   uring   a minimal liburing read loop on the image, counted the same
 *           way: the floor for an application reading with io_uring.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liburing.h>
#include <valgrind/callgrind.h>

#include "bench.h"
#include "bench_blk.h"
#include "blkfront.h"

const struct workload g_blk_wl[WL_N] = {
	[WL_RAND4K] = { "4 KiB random read, depth 32", "randread", 4096, 32, false, true },
	[WL_SEQREAD] = { "1 MiB sequential read, depth 8", "read", 1u << 20, 8, false, false },
	[WL_SEQWRITE] = { "1 MiB sequential write, depth 8", "write", 1u << 20, 8, true, false },
};


/* ====================================================================
 * The guest side: blkfront's asynchronous API
 * ==================================================================== */

struct bq {
	struct xvio_blk_req r;
	struct xvio_xport_buf buf;
};

static struct {
	struct xvio_xport_ctx *ctx;
	struct xvio_blkfront *f;
	struct xvio_blk *b;
	unsigned devid;
	const struct workload *w;
	uint64_t blocks;        /* of w->bs in the disk */
	uint64_t next;          /* sequential: next block */
	uint64_t rng;
	bool connected;
	/* the current phase */
	bool running;
	uint64_t target;        /* > 0: stop issuing after this many */
	double until;           /* else: stop issuing at this time */
	uint64_t issued, done, inflight, errors;
	double t1;
	struct bq q[BLK_MAX_DEPTH];
} gf;

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: cheap and good enough to spread offsets */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void gf_done(struct xvio_blk_req *r);

static void gf_issue(struct bq *q)
{
	uint64_t blk;
	int rc;

	if (gf.w->random) {
		blk = rng_next(&gf.rng) % gf.blocks;
	} else {
		blk = gf.next;
		gf.next = gf.next + 1 == gf.blocks ? 0 : gf.next + 1;
	}
	/* The rest of the request was filled once (gf_init); blkfront resets
	 * its private part on submit. */
	q->r.offset = blk * gf.w->bs;
	gf.inflight++;
	gf.issued++;
	rc = xvio_blk_submit(gf.b, &q->r);
	if (rc < 0)
		die("submit", -rc);
}

static bool gf_more(void)
{
	if (!gf.running)
		return false;
	if (gf.target) {
		if (gf.issued >= gf.target)
			gf.running = false;
	} else if ((gf.done & 15) == 0 && now() >= gf.until) {
		gf.running = false;
	}
	return gf.running;
}

static void gf_done(struct xvio_blk_req *r)
{
	gf.inflight--;
	if (r->status != 0)
		gf.errors++;
	gf.done++;
	if (gf_more())
		gf_issue(r->cookie);
	if (gf.inflight == 0)
		gf.t1 = now();
}

static void gf_connected(struct xvio_blk *b)
{
	if (xvio_blk_devid(b) == gf.devid) {
		gf.b = b;
		gf.connected = true;
	}
}

static const struct xvio_blkfront_ops gf_ops = { .connected = gf_connected };

static void gf_turn(struct pollfd *pfd)
{
	int t = xvio_xport_ctx_timeout(gf.ctx), rc;

	if (t != 0 && poll(pfd, XVIO_XPORT_CTX_NFDS, t) < 0 && errno != EINTR)
		die("poll", errno);
	rc = xvio_xport_ctx_dispatch(gf.ctx);
	if (rc < 0)
		die("dispatch", -rc);
}

/* Keep `depth` in flight until `count` were issued (count > 0) or for
 * `seconds`; returns the seconds until the last completion. */
static double gf_phase(struct pollfd *pfd, uint64_t count, double seconds)
{
	double t0;

	gf.issued = gf.done = 0;
	gf.target = count;
	gf.running = true;
	t0 = now();
	gf.until = t0 + seconds;
	for (unsigned i = 0; i < gf.w->depth && gf_more(); i++)
		gf_issue(&gf.q[i]);
	while (gf.inflight > 0)
		gf_turn(pfd);
	return gf.t1 - t0;
}

static void gf_init(unsigned spin_us, unsigned queues, unsigned devid, const struct workload *w,
                    struct pollfd *pfd)
{
	struct xvio_xport_ctx_params cp = { .spin_us = spin_us };
	struct xvio_blkfront_params fp = { .mode = XVIO_XPORT_DATA_AREA, .num_queues = queues,
	                                   .ops = &gf_ops };
	struct xvio_err err = { 0 };
	struct xvio_blk_info info;
	int fds[XVIO_XPORT_CTX_NFDS];
	double deadline = now() + 30;

	gf.devid = devid;
	gf.w = w;
	gf.rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	if (xvio_xport_ctx_new(&cp, &gf.ctx, &err) < 0 ||
	    xvio_blkfront_new(gf.ctx, &fp, &gf.f, &err) < 0) {
		fprintf(stderr, "xvio-bench: blkfront: %s\n", err.msg);
		exit(1);
	}
	xvio_xport_ctx_fds(gf.ctx, fds);
	for (int i = 0; i < XVIO_XPORT_CTX_NFDS; i++)
		pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	while (!gf.connected) {
		if (now() > deadline)
			die("blkfront: the disk did not connect", ETIMEDOUT);
		gf_turn(pfd);
	}
	if (!xvio_blk_info(gf.b, &info) || info.size < w->bs)
		die("blkfront: disk too small", EINVAL);
	gf.blocks = info.size / w->bs;
	for (unsigned i = 0; i < w->depth; i++) {
		if (xvio_blk_buf_alloc(gf.b, w->bs, &gf.q[i].buf) < 0)
			die("blkfront: transport buffers", ENOMEM);
		/* Written data that is not all zeroes, as fio's. */
		memset(gf.q[i].buf.ptr, 0x5a + (int)i, w->bs);
		gf.q[i].r = (struct xvio_blk_req){
			.op = w->write ? XVIO_BLK_WRITE : XVIO_BLK_READ, .len = w->bs,
			.buf = &gf.q[i].buf, .done = gf_done, .cookie = &gf.q[i],
		};
	}
}

static void gf_fini(void)
{
	for (unsigned i = 0; i < gf.w->depth; i++)
		xvio_blk_buf_free(gf.b, &gf.q[i].buf);
	xvio_blkfront_free(gf.f);
	xvio_xport_ctx_free(gf.ctx);
}

/* Timed: prints "<requests/s> <errors>" on stdout. */
static int front_timed(unsigned spin_us, unsigned queues, unsigned devid, const struct workload *w)
{
	struct pollfd pfd[XVIO_XPORT_CTX_NFDS];
	double secs;

	gf_init(spin_us, queues, devid, w, pfd);
	gf_phase(pfd, 0, bench_warm_seconds());
	secs = gf_phase(pfd, 0, g_seconds);
	printf("%.3f %llu\n", (double)gf.done / secs, (unsigned long long)gf.errors);
	fflush(stdout);
	gf_fini();
	return 0;
}

/* A line to the orchestrator, then wait for its go-ahead (one byte). */
static void handshake(const char *line)
{
	char c;

	if (write(1, line, strlen(line)) != (ssize_t)strlen(line) || read(0, &c, 1) != 1)
		die("orchestrator went away", EPIPE);
}

/* Under callgrind: warm up, then "ready" (the orchestrator zeroes the
 * backend's counters), `count` requests counted, then "done" (it dumps
 * them). */
static int front_counted(unsigned spin_us, unsigned queues, unsigned devid,
                         const struct workload *w, uint64_t count)
{
	struct pollfd pfd[XVIO_XPORT_CTX_NFDS];

	gf_init(spin_us, queues, devid, w, pfd);
	gf_phase(pfd, count / 4 + 1, 0);
	handshake("ready\n");
	CALLGRIND_TOGGLE_COLLECT;
	gf_phase(pfd, count, 0);
	CALLGRIND_TOGGLE_COLLECT;
	handshake("done\n");
	gf_fini();
	return gf.errors ? 1 : 0;
}

/* ====================================================================
 * A minimal io_uring read loop (callgrind floor for (a))
 * ==================================================================== */

static int uring_counted(const char *path, const struct workload *w, uint64_t count)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct stat st;
	uint64_t rng = 0x9e3779b97f4a7c15ull, blocks, issued = 0, done = 0, total;
	char *bufs;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0 || fstat(fd, &st) < 0)
		die(path, errno);
	blocks = (uint64_t)st.st_size / w->bs;
	if (blocks == 0 || (rc = io_uring_queue_init(w->depth, &ring, 0)) < 0)
		die("io_uring", blocks ? -rc : EINVAL);
	bufs = aligned_alloc(4096, (size_t)w->depth * w->bs);
	if (!bufs)
		die("buffers", ENOMEM);
	total = count / 4 + 1 + count;
	for (uintptr_t i = 0; i < w->depth && issued < total; i++, issued++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		io_uring_prep_read(sqe, fd, bufs + i * w->bs, w->bs,
		                   (rng_next(&rng) % blocks) * w->bs);
		io_uring_sqe_set_data(sqe, (void *)i);
	}
	while (done < total) {
		rc = io_uring_submit_and_wait(&ring, 1);
		if (rc < 0 && rc != -EINTR)
			die("io_uring_submit_and_wait", -rc);
		while (io_uring_peek_cqe(&ring, &cqe) == 0) {
			uintptr_t i = (uintptr_t)io_uring_cqe_get_data(cqe);

			if (cqe->res != (int)w->bs)
				die("read", cqe->res < 0 ? -cqe->res : EIO);
			io_uring_cqe_seen(&ring, cqe);
			if (++done == count / 4 + 1 || done == total)
				CALLGRIND_TOGGLE_COLLECT;
			if (issued < total) {
				struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

				io_uring_prep_read(sqe, fd, bufs + i * w->bs, w->bs,
				                   (rng_next(&rng) % blocks) * w->bs);
				io_uring_sqe_set_data(sqe, (void *)i);
				issued++;
			}
		}
	}
	io_uring_queue_exit(&ring);
	free(bufs);
	close(fd);
	return 0;
}

/*
 *   blk-side front SPIN_US QUEUES DEVID WORKLOAD [COUNT]
 *   blk-side uring FILE COUNT
 */
int bench_blk_side(int argc, char **argv)
{
	alarm(BLK_SIDE_TIMEOUT);
	if ((argc == 5 || argc == 6) && strcmp(argv[0], "front") == 0) {
		unsigned spin = (unsigned)bench_arg_num(argv[1]), queues = (unsigned)bench_arg_num(argv[2]);
		unsigned devid = (unsigned)bench_arg_num(argv[3]), wl = (unsigned)bench_arg_num(argv[4]);

		if (wl >= WL_N)
			return 2;
		if (argc == 6)
			return front_counted(spin, queues, devid, &g_blk_wl[wl], bench_arg_num(argv[5]));
		return front_timed(spin, queues, devid, &g_blk_wl[wl]);
	}
	if (argc == 3 && strcmp(argv[0], "uring") == 0)
		return uring_counted(argv[1], &g_blk_wl[WL_RAND4K], bench_arg_num(argv[2]));
	fprintf(stderr, "xvio-bench: blk-side: bad arguments\n");
	return 2;
}
