/* SPDX-License-Identifier: MIT */
/*
 * xvio-blkcheck: a test tool for the blkfront C API (front/blkfront.h),
 * run as a process of a guest.  Waits for one disk to connect, then:
 *
 *   info     prints "info size=.. blk=.. ro=.. flush=.. discard=.. wz=..
 *            max_io=.. queues=.. serial=.."
 *   verify   random reads and writes (sizes from one block to 3 MiB, so
 *            large ones are split) at queue depth --depth, half of them
 *            zero copy (transport buffers), half copied; every read is
 *            compared with a model of the disk (the disk starts as the
 *            --pattern image, see below).  Prints "done ops=.. errors=..".
 *   errors   misaligned offset/length and out-of-range requests give
 *            -EINVAL, a read-only disk refuses writes with -EROFS, GET_ID
 *            is stable, flush works.  Prints "errors ok" or the failures.
 *
 * Options: --devid N, --ops N, --depth N, --seed N, --mode grant,
 * --queues N, --max-len BYTES.  Exit 1 on any failure.
 *
 * The model assumes the disk's initial contents are the test pattern:
 * byte i of the disk is (i * 7 + i / 4096) & 0xff (bf_pattern()).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blkfront.h"
#include "rng.h"

static struct {
	long devid;
	unsigned long ops, depth, seed, queues, max_len;
	enum xvio_xport_mode mode;
	const char *what;
} opt = { .devid = -1, .ops = 2000, .depth = 16, .seed = 1, .max_len = 3u << 20 };

static struct {
	struct xvio_xport_ctx *ctx;
	struct xvio_blkfront *f;
	struct xvio_blk *b;
	struct xvio_blk_info info;
	bool started, stop;
	int rc;
	uint8_t *model;
	unsigned long issued, completed, errors;
	uint64_t rs;
} g;

struct lane {
	struct xvio_blk_req r;
	struct xvio_xport_buf buf;
	uint8_t *data;
	bool zc;
	uint64_t lo, hi; /* the lane's region */
};

static struct lane *lanes;

static uint64_t rnd(void)
{
	return test_rng(&g.rs);
}

static void fail(const char *what, int rc)
{
	fprintf(stderr, "xvio-blkcheck: %s: %s\n", what, strerror(-rc));
	g.errors++;
}

/* ---- verify ---- */

static void lane_start(struct lane *l);

static void lane_done(struct xvio_blk_req *r)
{
	struct lane *l = r->cookie;
	uint8_t *p = l->zc ? l->buf.ptr : l->data;

	if (r->status) {
		fail(r->op == XVIO_BLK_READ ? "read" : "write", r->status);
	} else if (r->op == XVIO_BLK_READ && memcmp(p, g.model + r->offset, r->len)) {
		uint64_t i = 0;

		while (p[i] == g.model[r->offset + i])
			i++;
		fprintf(stderr, "xvio-blkcheck: read %llu+%llu: wrong byte at %llu\n",
		        (unsigned long long)r->offset, (unsigned long long)r->len,
		        (unsigned long long)(r->offset + i));
		g.errors++;
	} else if (r->op == XVIO_BLK_WRITE) {
		memcpy(g.model + r->offset, p, r->len);
	}
	if (l->zc)
		xvio_blk_buf_free(g.b, &l->buf);
	g.completed++;
	if (g.completed == opt.ops)
		g.stop = true;
	else
		lane_start(l);
}

static void lane_start(struct lane *l)
{
	uint64_t blk = g.info.blk_size, span = (l->hi - l->lo) / blk, n, off;
	int rc;

	if (g.issued >= opt.ops)
		return;
	n = 1 + rnd() % (opt.max_len / blk < span ? opt.max_len / blk : span);
	if (rnd() % 4 == 0)
		n = 1 + rnd() % 8; /* many small ones too */
	off = l->lo + blk * (rnd() % (span - n + 1));
	l->r = (struct xvio_blk_req){
		.op = rnd() % 2 ? XVIO_BLK_WRITE : XVIO_BLK_READ,
		.offset = off, .len = n * blk, .done = lane_done, .cookie = l,
	};
	if (g.info.read_only)
		l->r.op = XVIO_BLK_READ;
	l->zc = rnd() % 2 && n * blk <= XVIO_XPORT_MAX_BUF &&
	        xvio_blk_buf_alloc(g.b, (uint32_t)(n * blk), &l->buf) == 0;
	uint8_t *p = l->zc ? l->buf.ptr : l->data;
	if (l->r.op == XVIO_BLK_WRITE) {
		uint64_t v = rnd();

		for (uint64_t i = 0; i < n * blk; i++)
			p[i] = (uint8_t)(v + i * 13 + (i >> 9));
	} else {
		memset(p, 0xa5, n * blk);
	}
	if (l->zc)
		l->r.buf = &l->buf;
	else
		l->r.data = l->data;
	g.issued++;
	rc = xvio_blk_submit(g.b, &l->r);
	if (rc < 0) {
		fail("submit", rc);
		g.stop = true;
	}
}

static int start_verify(void)
{
	uint64_t lane_bytes;

	g.model = malloc(g.info.size);
	lanes = calloc(opt.depth, sizeof(*lanes));
	if (!g.model || !lanes)
		return -ENOMEM;
	for (uint64_t i = 0; i < g.info.size; i++)
		g.model[i] = (uint8_t)(i * 7 + i / 4096);
	lane_bytes = g.info.size / opt.depth / g.info.blk_size * g.info.blk_size;
	if (lane_bytes < g.info.blk_size)
		return -EINVAL;
	for (unsigned long i = 0; i < opt.depth; i++) {
		lanes[i].lo = i * lane_bytes;
		lanes[i].hi = lanes[i].lo + lane_bytes;
		lanes[i].data = malloc(opt.max_len > lane_bytes ? lane_bytes : opt.max_len);
		if (!lanes[i].data)
			return -ENOMEM;
	}
	for (unsigned long i = 0; i < opt.depth; i++)
		lane_start(&lanes[i]);
	return 0;
}

/* ---- errors ---- */

static int sync_io(enum xvio_blk_op op, void *data, uint64_t len, uint64_t off);

static void expect(const char *what, int got, int want)
{
	if (got != want) {
		fprintf(stderr, "xvio-blkcheck: %s: got %d (%s), want %d\n", what, got,
		        strerror(-got), want);
		g.errors++;
	}
}

static void run_errors(void)
{
	uint32_t blk = g.info.blk_size;
	uint8_t *buf = calloc(1, 2 * blk + 4096);
	char id1[21] = { 0 }, id2[21] = { 0 };
	int wr = g.info.read_only ? -EROFS : 0;

	expect("read misaligned offset", sync_io(XVIO_BLK_READ, buf, blk, blk / 2), -EINVAL);
	expect("read misaligned length", sync_io(XVIO_BLK_READ, buf, blk / 2, 0), -EINVAL);
	if (blk > 512)
		expect("read 512 bytes", sync_io(XVIO_BLK_READ, buf, 512, 0), -EINVAL);
	expect("read past the end", sync_io(XVIO_BLK_READ, buf, 2 * blk, g.info.size - blk),
	       -EINVAL);
	expect("read last block", sync_io(XVIO_BLK_READ, buf, blk, g.info.size - blk), 0);
	expect("read a block", sync_io(XVIO_BLK_READ, buf, blk, 0), 0);
	expect("write a block", sync_io(XVIO_BLK_WRITE, buf, blk, 0), wr);
	if (g.info.discard) {
		expect("discard", sync_io(XVIO_BLK_DISCARD, NULL, blk, blk), wr);
		/* put the pattern back, so a later verify run starts from it */
		for (uint32_t i = 0; i < blk; i++)
			buf[i] = (uint8_t)((blk + i) * 7 + (blk + i) / 4096);
		expect("rewrite", sync_io(XVIO_BLK_WRITE, buf, blk, blk), wr);
	}
	if (g.info.flush)
		expect("flush", sync_io(XVIO_BLK_FLUSH, NULL, 0, 0), 0);
	expect("get-id", sync_io(XVIO_BLK_GET_ID, id1, 20, 0), 0);
	expect("get-id again", sync_io(XVIO_BLK_GET_ID, id2, 20, 0), 0);
	if (!id1[0] || strcmp(id1, id2)) {
		fprintf(stderr, "xvio-blkcheck: serial \"%s\" then \"%s\"\n", id1, id2);
		g.errors++;
	}
	free(buf);
	printf("%s serial=%s\n", g.errors ? "errors failed" : "errors ok", id1);
}

/* ---- the loop ---- */

static int loop_once(void)
{
	struct pollfd pfd[XVIO_XPORT_CTX_NFDS];
	int fds[XVIO_XPORT_CTX_NFDS];

	xvio_xport_ctx_fds(g.ctx, fds);
	for (int i = 0; i < XVIO_XPORT_CTX_NFDS; i++)
		pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	if (poll(pfd, XVIO_XPORT_CTX_NFDS, xvio_xport_ctx_timeout(g.ctx)) < 0 && errno != EINTR)
		return -errno;
	return xvio_xport_ctx_dispatch(g.ctx);
}

struct sync_req {
	struct xvio_blk_req r;
	bool done;
};

static void sync_done(struct xvio_blk_req *r)
{
	((struct sync_req *)r->cookie)->done = true;
}

static int sync_io(enum xvio_blk_op op, void *data, uint64_t len, uint64_t off)
{
	struct sync_req s = { .r = { .op = op, .data = data, .len = len, .offset = off,
	                             .done = sync_done, .cookie = &s } };
	int rc = xvio_blk_submit(g.b, &s.r);

	while (rc == 0 && !s.done)
		rc = loop_once();
	return rc < 0 ? rc : s.r.status;
}

static void on_connected(struct xvio_blk *b)
{
	if (g.b || (opt.devid >= 0 && xvio_blk_devid(b) != (unsigned)opt.devid))
		return;
	g.b = b;
	xvio_blk_info(b, &g.info);
	printf("connected %s sessions=%u\n", g.info.name, g.info.sessions);
}

static void on_removed(struct xvio_blk *b)
{
	if (b == g.b) {
		g.b = NULL;
		g.stop = true;
		printf("removed\n");
	}
}

static const struct xvio_blkfront_ops ops = {
	.connected = on_connected,
	.removed = on_removed,
};

static void parse(int argc, char **argv)
{
	static const struct option o[] = {
		{ "devid", 1, NULL, 'd' }, { "ops", 1, NULL, 'o' }, { "depth", 1, NULL, 'D' },
		{ "seed", 1, NULL, 's' }, { "mode", 1, NULL, 'm' }, { "queues", 1, NULL, 'q' },
		{ "max-len", 1, NULL, 'L' }, { NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (c) {
		case 'd': opt.devid = strtol(optarg, NULL, 10); break;
		case 'o': opt.ops = strtoul(optarg, NULL, 10); break;
		case 'D': opt.depth = strtoul(optarg, NULL, 10); break;
		case 's': opt.seed = strtoul(optarg, NULL, 10); break;
		case 'm': opt.mode = strcmp(optarg, "grant") == 0 ? XVIO_XPORT_GRANT
		                                                  : XVIO_XPORT_DATA_AREA; break;
		case 'q': opt.queues = strtoul(optarg, NULL, 10); break;
		case 'L': opt.max_len = strtoul(optarg, NULL, 10); break;
		default: exit(2);
		}
	}
	if (optind != argc - 1 || opt.depth == 0 || opt.max_len < 4096) {
		fprintf(stderr, "usage: xvio-blkcheck [options] info|verify|errors\n");
		exit(2);
	}
	opt.what = argv[optind];
}

int main(int argc, char **argv)
{
	struct xvio_blkfront_params p = { .ops = &ops };
	struct xvio_err err = { 0 };
	int rc = 0;

	parse(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	g.rs = opt.seed * 0x9E3779B97F4A7C15ull + 1;
	p.mode = opt.mode;
	p.num_queues = (unsigned)opt.queues;
	if (xvio_xport_ctx_new(NULL, &g.ctx, &err) < 0 ||
	    xvio_blkfront_new(g.ctx, &p, &g.f, &err) < 0) {
		fprintf(stderr, "xvio-blkcheck: %s\n", err.msg);
		return 1;
	}
	while (rc >= 0 && !g.b)
		rc = loop_once();
	if (rc >= 0 && strcmp(opt.what, "info") == 0) {
		char id[21] = { 0 };

		if (sync_io(XVIO_BLK_GET_ID, id, 20, 0) < 0)
			g.errors++;
		printf("info size=%llu blk=%u ro=%d flush=%d discard=%d wz=%d max_io=%u "
		       "queues=%u serial=%s\n", (unsigned long long)g.info.size, g.info.blk_size,
		       g.info.read_only, g.info.flush, g.info.discard, g.info.write_zeroes,
		       g.info.max_io, g.info.num_queues, id);
	} else if (rc >= 0 && strcmp(opt.what, "errors") == 0) {
		run_errors();
	} else if (rc >= 0 && strcmp(opt.what, "verify") == 0) {
		rc = start_verify();
		while (rc >= 0 && !g.stop)
			rc = loop_once();
		/* let the lanes still in flight finish */
		while (rc >= 0 && g.b && g.completed < g.issued)
			rc = loop_once();
		printf("done ops=%lu errors=%lu\n", g.completed, g.errors);
	}
	if (rc < 0)
		fprintf(stderr, "xvio-blkcheck: loop: %s\n", strerror(-rc));
	xvio_blkfront_free(g.f);
	xvio_xport_ctx_free(g.ctx);
	for (unsigned long i = 0; lanes && i < opt.depth; i++)
		free(lanes[i].data);
	free(lanes);
	free(g.model);
	return rc < 0 || g.errors ? 1 : 0;
}
