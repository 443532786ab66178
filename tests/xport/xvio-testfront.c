/* SPDX-License-Identifier: MIT */
/*
 * xvio-testfront: the xvio_test device's frontend (a test tool).  Drives
 * one xvio_test device of this domain with random requests and checks
 * every byte of every answer (testdev.h), and that each request is handed
 * back exactly once, across any number of backend restarts.
 *
 * Options:
 *   --mode data-area|grant   buffer addressing (default data-area)
 *   --devid N                the device to drive (default: the first)
 *   --requests N             requests to complete (default 1000)
 *   --inflight N             outstanding at most (default: queue size)
 *   --queues N --queue-size N --area-pages N
 *   --max-seg N              largest segment in bytes (default 65536)
 *   --max-segs N             most segments per request (default 16)
 *   --indirect on|off|mixed  (default mixed: half the requests direct)
 *   --no-event-idx
 *   --spin-us N              adaptive polling window (default 20)
 *   --rng N                  seed of the request generator
 *   --progress N             print "progress <completed>" every N
 *   --linger                 stay connected when done, until SIGTERM
 *
 * Prints "connected <session> fds=<n> maps=<n>" at every session (open
 * fds, shared mappings), "disconnected" when a session ends, "removed
 * ..." when the toolstack removed the device, and
 * at the end "done completed=<n> errors=<n> dups=<n> sessions=<n>
 * secs=<s> rps=<r>" (or "stopped ..." after SIGTERM).  Exit 1 when a
 * request came back wrong or twice, or the event loop failed; else 0.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "testdev.h"
#include "xport.h"
#include "rng.h"

#define MAX_SEGS 64u

struct treq {
	struct xvio_xport_freq fr;
	struct xvio_xport_sg sg[MAX_SEGS];
	struct xvio_xport_buf buf[MAX_SEGS];
	unsigned nbuf;
	uint64_t seq;
	uint64_t w;
	bool oversize;      /* built to be refused: more descriptors than the ring */
	struct treq *wnext; /* waiting for area space */
};

static struct {
	enum xvio_xport_mode mode;
	long devid;
	uint64_t total;
	unsigned inflight, queues, qsize, pages;
	uint32_t max_seg;
	unsigned max_segs;
	int indirect; /* 0 off, 1 on, 2 mixed */
	bool event_idx;
	unsigned spin_us;
	uint64_t rng;
	uint64_t progress;
	uint64_t oversize; /* every Nth request is refused (-E2BIG), 0: none */
	bool malformed;    /* first submit requests the transport must refuse */
	bool linger;
} opt = {
	.devid = -1, .total = 1000, .queues = 1, .qsize = 256, .pages = 1024,
	.max_seg = 65536, .max_segs = 16, .indirect = 2, .event_idx = true,
	.spin_us = XVIO_XPORT_SPIN_DEFAULT, .rng = 1,
};

static struct {
	struct xvio_xport_ctx *ctx;
	struct xvio_xport_fdev *dev;
	uint32_t seed;
	struct treq *reqs;
	unsigned nreq;
	struct treq *whead, *wtail;
	uint8_t *seen;
	uint64_t issued, completed, errors, dups, cancelled, refused, malformed;
	bool started, finished, stopping, removed;
	struct timespec t0, t1;
	uint64_t rs;
} tf;

/* ---- helpers ---- */

static uint64_t rnd(void)
{
	return test_rng(&tf.rs);
}

static unsigned count_dir(const char *path)
{
	DIR *d = opendir(path);
	unsigned n = 0;

	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 2;
}

/* Shared mappings (grants, rings): what a leak of a share would grow. */
static unsigned count_shared_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512], perms[8];
	unsigned n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %7s", perms) == 1 && perms[3] == 's')
			n++;
	}
	fclose(f);
	return n;
}

static double secs(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void report(const char *what)
{
	double s;

	clock_gettime(CLOCK_MONOTONIC, &tf.t1);
	s = tf.started ? secs(&tf.t0, &tf.t1) : 0;
	printf("%s completed=%llu errors=%llu dups=%llu cancelled=%llu refused=%llu malformed=%llu "
	       "sessions=%u secs=%.3f rps=%.0f\n", what, (unsigned long long)tf.completed,
	       (unsigned long long)tf.errors, (unsigned long long)tf.dups,
	       (unsigned long long)tf.cancelled, (unsigned long long)tf.refused,
	       (unsigned long long)tf.malformed,
	       tf.dev ? xvio_xport_fdev_sessions(tf.dev) : 0, s,
	       s > 0 ? (double)tf.completed / s : 0.0);
}

/* ---- request generation ---- */

/*
 * Mostly small (the per-request cost dominates), sometimes up to a page
 * or 64 KiB, and one in ten thousand up to max_seg: every size from 1
 * byte to the limit occurs in a long run without the bytes dominating.
 */
static uint32_t pick_size(void)
{
	uint64_t r = rnd();
	unsigned u = (unsigned)(r % 100000);
	uint32_t lo, hi;

	if (u < 90000) {
		lo = 1;
		hi = 1u << (1 + (r >> 17) % 9); /* up to 512 */
	} else if (u < 99000) {
		lo = 513;
		hi = 4096;
	} else if (u < 99990) {
		lo = 4097;
		hi = 65536;
	} else {
		lo = 65537;
		hi = opt.max_seg;
	}
	if (hi > opt.max_seg)
		hi = opt.max_seg;
	if (lo > hi)
		lo = hi;
	return lo + (uint32_t)((r >> 30) % (hi - lo + 1));
}

static unsigned pick_count(unsigned max)
{
	unsigned u = (unsigned)(rnd() % 100), n;

	if (u < 40)
		n = 0;
	else if (u < 70)
		n = 1;
	else if (u < 85)
		n = 2 + (unsigned)(rnd() % 2);
	else if (u < 95)
		n = 4 + (unsigned)(rnd() % 12);
	else
		n = (unsigned)(rnd() % (max + 1));
	return n > max ? max : n;
}

static void free_bufs(struct treq *t)
{
	for (unsigned i = 0; i < t->nbuf; i++)
		xvio_xport_buf_free(tf.dev, &t->buf[i]);
	t->nbuf = 0;
}

static void fill_random(uint8_t *p, uint32_t len)
{
	uint32_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t v = rnd();

		memcpy(p + i, &v, 8);
	}
	for (uint64_t v = rnd(); i < len; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/*
 * A request the transport must hand back with -E2BIG: direct (no indirect
 * table), one 64-byte segment more than the queue has descriptors.
 */
static int build_oversize(struct treq *t)
{
	unsigned n = xvio_xport_fdev_queue_size(tf.dev) + 1;

	t->w = 0;
	t->nbuf = 0;
	for (unsigned i = 0; i < n; i++) {
		if (xvio_xport_buf_alloc(tf.dev, 64, &t->buf[i]) < 0) {
			free_bufs(t);
			return -ENOMEM;
		}
		t->nbuf++;
		t->sg[i] = (struct xvio_xport_sg){ &t->buf[i], 0, 64 };
	}
	t->fr = (struct xvio_xport_freq){ .sg = t->sg, .nout = 1, .nin = n - 1,
	                                  .flags = XVIO_XPORT_REQ_DIRECT, .cookie = t };
	return 0;
}

/* Shape and buffers of a new request; -ENOMEM when the area is full. */
static int build(struct treq *t)
{
	unsigned half = opt.max_segs / 2;
	unsigned nout = 1 + pick_count(half - 1), nin = pick_count(half);
	unsigned n = nout + nin;

	/* A chain takes at most a quarter of the area (each segment at least
	 * a 64-byte block), so it fits once earlier requests completed. */
	uint64_t budget = (uint64_t)opt.pages * 4096 / 4;

	t->w = 0;
	t->nbuf = 0;
	for (unsigned i = 0; i < n; i++) {
		uint32_t len = pick_size(), block = 64;

		if (i == 0 && len < 8)
			len = 8; /* room for the sequence number */
		while (block < len)
			block *= 2;
		if (block + 64ull * (n - i - 1) > budget)
			len = block = 64;
		budget -= block;
		if (xvio_xport_buf_alloc(tf.dev, len, &t->buf[i]) < 0) {
			free_bufs(t);
			return -ENOMEM;
		}
		t->nbuf++;
		t->sg[i] = (struct xvio_xport_sg){ &t->buf[i], 0, len };
		if (i < nout)
			fill_random(t->buf[i].ptr, len);
		else
			t->w += len;
	}
	memcpy(t->buf[0].ptr, &t->seq, 8);
	t->fr.sg = t->sg;
	t->fr.nout = nout;
	t->fr.nin = nin;
	t->fr.flags = opt.indirect == 0 || (opt.indirect == 2 && (rnd() & 1))
	              ? XVIO_XPORT_REQ_DIRECT : 0;
	if (n > xvio_xport_fdev_queue_size(tf.dev) / 4)
		t->fr.flags = 0;
	t->fr.cookie = t;
	return 0;
}

static void wait_push(struct treq *t)
{
	t->wnext = NULL;
	if (tf.wtail)
		tf.wtail->wnext = t;
	else
		tf.whead = t;
	tf.wtail = t;
}

/* Start a request in slot t if any remain; false if the area is full. */
static bool start(struct treq *t)
{
	int rc;

	t->seq = tf.issued;
	t->oversize = opt.oversize && t->seq % opt.oversize == opt.oversize - 1;
	if ((t->oversize ? build_oversize(t) : build(t)) < 0)
		return false;
	tf.issued++;
	rc = xvio_xport_submit(tf.dev, (unsigned)(t->seq % xvio_xport_fdev_num_queues(tf.dev)),
	                       &t->fr);
	if (rc < 0) {
		fprintf(stderr, "xvio-testfront: submit: %s\n", strerror(-rc));
		tf.errors++;
		free_bufs(t);
	}
	return true;
}

/* Fill free slots; slots waiting for area space go first (no starvation
 * of large requests: nothing new starts while one waits). */
static void pump(struct treq *t)
{
	if (t) {
		if (tf.issued >= opt.total)
			return;
		wait_push(t);
	}
	while (tf.whead && tf.issued < opt.total) {
		struct treq *w = tf.whead;

		if (!start(w))
			break;
		tf.whead = w->wnext;
		if (!tf.whead)
			tf.wtail = NULL;
	}
}

/* ---- checking answers ---- */

static void check(struct treq *t, const struct xvio_xport_freq *r)
{
	struct iovec iov[MAX_SEGS];
	long bad;

	for (unsigned i = 0; i < t->nbuf; i++)
		iov[i] = (struct iovec){ t->buf[i].ptr, t->sg[i].len };
	if (r->len != t->w) {
		fprintf(stderr, "xvio-testfront: request %llu: len %u, want %llu\n",
		        (unsigned long long)t->seq, r->len, (unsigned long long)t->w);
		tf.errors++;
		return;
	}
	bad = xt_xform(tf.seed, iov, t->fr.nout, t->nbuf, t->w, true);
	if (bad >= 0) {
		fprintf(stderr, "xvio-testfront: request %llu: wrong byte at %ld of %llu\n",
		        (unsigned long long)t->seq, bad, (unsigned long long)t->w);
		tf.errors++;
	}
	if (tf.seen[t->seq / 8] & (1u << (t->seq % 8))) {
		fprintf(stderr, "xvio-testfront: request %llu completed twice\n",
		        (unsigned long long)t->seq);
		tf.dups++;
	}
	tf.seen[t->seq / 8] |= (uint8_t)(1u << (t->seq % 8));
}

static void finish(void)
{
	tf.finished = true;
	report("done");
	if (!opt.linger)
		xvio_xport_ctx_stop(tf.ctx);
}

/* ---- transport callbacks ---- */

/* The session went down (requests are kept for the next one). */
static void tf_disconnected(struct xvio_xport_fdev *d)
{
	printf("disconnected\n");
}

static int tf_add(struct xvio_xport_fdev *d, void **priv, struct xvio_err *err)
{
	if (tf.dev || (opt.devid >= 0 && xvio_xport_fdev_devid(d) != (unsigned)opt.devid))
		return xvio_err_set(err, ENODEV, "not the device this test drives");
	tf.dev = d;
	return 0;
}

static int tf_setup(struct xvio_xport_fdev *d, xs_transaction_t t, const char *be,
                    struct xvio_err *err)
{
	return xvio_xs_read_u32(xvio_xport_ctx_xs(tf.ctx), t, be, "config/seed", 0, UINT32_MAX,
	                        &tf.seed, err);
}

/*
 * Requests the transport must refuse on submit with -EINVAL, taking
 * nothing: each malformed in one way.  A forged buffer (a copy of a real
 * one claiming more bytes) reaches the protocol's length limits without
 * allocating them; refused requests are never read.  Counts refusals in
 * tf.malformed and anything else in tf.errors.
 */
static void submit_malformed(void)
{
	enum { N_SG = XVIO_VQ_MAX_CHAIN + 1 };
	static struct xvio_xport_sg sg[N_SG];
	struct xvio_xport_buf real, big, noptr = { .ptr = NULL, .len = 64 };
	struct xvio_xport_freq r;
	unsigned pending = xvio_xport_fdev_pending(tf.dev);
	int c;

	if (xvio_xport_buf_alloc(tf.dev, 64, &real) < 0) {
		fprintf(stderr, "xvio-testfront: malformed: no buffer\n");
		tf.errors++;
		return;
	}
	big = real;
	big.len = XVIO_VQ_MAX_SEG * 2;
	for (c = 0; c < 11; c++) {
		unsigned queue = 0;
		int rc;

		for (unsigned i = 0; i < N_SG; i++)
			sg[i] = (struct xvio_xport_sg){ &real, 0, 64 };
		r = (struct xvio_xport_freq){ .sg = sg, .nout = 1, .nin = 1, .cookie = NULL };
		switch (c) {
		case 0: r.sg = NULL; break;
		case 1: r.nout = r.nin = 0; break;
		case 2: r.nout = XVIO_VQ_MAX_CHAIN; break;       /* 257 entries */
		case 3: sg[1].buf = NULL; break;
		case 4: sg[1].len = 0; break;
		case 5: sg[1].off = 65; sg[1].len = 1; break;    /* starts past the end */
		case 6: sg[1].off = 1; break;                    /* ends past the end */
		case 7: sg[0].buf = &big; sg[0].len = XVIO_VQ_MAX_SEG + 1; break;
		case 8: /* 17 x 4 MiB = 68 MiB in all */
			r.nout = 17;
			r.nin = 0;
			for (unsigned i = 0; i < 17; i++)
				sg[i] = (struct xvio_xport_sg){ &big, 0, XVIO_VQ_MAX_SEG };
			break;
		case 9: queue = opt.queues; break;
		case 10: sg[0].buf = &noptr; break;
		}
		rc = xvio_xport_submit(tf.dev, queue, &r);
		if (rc == -EINVAL) {
			tf.malformed++;
		} else {
			fprintf(stderr, "xvio-testfront: malformed request %d: submit gave %d, "
			        "want %d\n", c, rc, -EINVAL);
			tf.errors++;
		}
	}
	if (xvio_xport_fdev_pending(tf.dev) != pending) {
		fprintf(stderr, "xvio-testfront: malformed requests left %u pending\n",
		        xvio_xport_fdev_pending(tf.dev) - pending);
		tf.errors++;
	}
	xvio_xport_buf_free(tf.dev, &real);
}

static void tf_connected(struct xvio_xport_fdev *d)
{
	printf("connected %u fds=%u maps=%u\n", xvio_xport_fdev_sessions(d),
	       count_dir("/proc/self/fd"), count_shared_maps());
	if (tf.started)
		return;
	tf.started = true;
	if (opt.malformed)
		submit_malformed();
	clock_gettime(CLOCK_MONOTONIC, &tf.t0);
	for (unsigned i = 0; i < tf.nreq; i++)
		pump(&tf.reqs[i]);
	if (opt.total == 0)
		finish();
}

static void tf_complete(struct xvio_xport_fdev *d, struct xvio_xport_freq *r)
{
	struct treq *t = r->cookie;

	if (tf.stopping) { /* handed back at exit: not a result */
		free_bufs(t);
		return;
	}
	if (r->status == -ECANCELED) {
		/* Only when the device goes away: not a result. */
		tf.cancelled++;
		free_bufs(t);
		return;
	}
	if (t->oversize) {
		if (r->status == -E2BIG) {
			tf.refused++;
		} else {
			fprintf(stderr, "xvio-testfront: request %llu (oversize): status %d, "
			        "want %d\n", (unsigned long long)t->seq, r->status, -E2BIG);
			tf.errors++;
		}
	} else if (r->status != 0) {
		fprintf(stderr, "xvio-testfront: request %llu: status %d\n",
		        (unsigned long long)t->seq, r->status);
		tf.errors++;
	} else {
		check(t, r);
	}
	free_bufs(t);
	tf.completed++;
	if (opt.progress && tf.completed % opt.progress == 0)
		printf("progress %llu\n", (unsigned long long)tf.completed);
	if (tf.completed == opt.total)
		finish();
	else
		pump(t);
}

static void tf_remove(struct xvio_xport_fdev *d)
{
	tf.dev = NULL;
	if (!tf.stopping) {
		tf.removed = true;
		report("removed");
	}
}

static const struct xvio_xport_front_ops tf_ops = {
	.add = tf_add,
	.setup = tf_setup,
	.connected = tf_connected,
	.disconnected = tf_disconnected,
	.complete = tf_complete,
	.remove = tf_remove,
};

/* ---- main ---- */

static uint64_t num(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (!*s || *end) {
		fprintf(stderr, "xvio-testfront: bad number \"%s\"\n", s);
		exit(2);
	}
	return v;
}

static void parse(int argc, char **argv)
{
	static const struct option o[] = {
		{ "mode", 1, NULL, 'm' }, { "devid", 1, NULL, 'd' },
		{ "requests", 1, NULL, 'r' }, { "inflight", 1, NULL, 'i' },
		{ "queues", 1, NULL, 'q' }, { "queue-size", 1, NULL, 'n' },
		{ "area-pages", 1, NULL, 'p' }, { "max-seg", 1, NULL, 'S' },
		{ "max-segs", 1, NULL, 'N' }, { "indirect", 1, NULL, 'I' },
		{ "no-event-idx", 0, NULL, 'E' }, { "spin-us", 1, NULL, 's' },
		{ "rng", 1, NULL, 'R' }, { "progress", 1, NULL, 'P' },
		{ "linger", 0, NULL, 'L' }, { "oversize", 1, NULL, 'O' },
		{ "malformed", 0, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (c) {
		case 'm': opt.mode = strcmp(optarg, "grant") == 0 ? XVIO_XPORT_GRANT
		                                                  : XVIO_XPORT_DATA_AREA; break;
		case 'd': opt.devid = (long)num(optarg); break;
		case 'r': opt.total = num(optarg); break;
		case 'i': opt.inflight = (unsigned)num(optarg); break;
		case 'q': opt.queues = (unsigned)num(optarg); break;
		case 'n': opt.qsize = (unsigned)num(optarg); break;
		case 'p': opt.pages = (unsigned)num(optarg); break;
		case 'S': opt.max_seg = (uint32_t)num(optarg); break;
		case 'N': opt.max_segs = (unsigned)num(optarg); break;
		case 'I': opt.indirect = strcmp(optarg, "off") == 0 ? 0
		                       : strcmp(optarg, "on") == 0 ? 1 : 2; break;
		case 'E': opt.event_idx = false; break;
		case 's': opt.spin_us = (unsigned)num(optarg); break;
		case 'R': opt.rng = num(optarg); break;
		case 'P': opt.progress = num(optarg); break;
		case 'L': opt.linger = true; break;
		case 'O': opt.oversize = num(optarg); break;
		case 'M': opt.malformed = true; break;
		default: exit(2);
		}
	}
	if (opt.oversize && opt.qsize + 1 > MAX_SEGS) {
		fprintf(stderr, "xvio-testfront: --oversize needs --queue-size < %u\n", MAX_SEGS);
		exit(2);
	}
	if (opt.max_segs < 2 || opt.max_segs > MAX_SEGS || opt.max_seg < 8 ||
	    opt.max_seg > XVIO_XPORT_MAX_BUF || opt.pages < 16) {
		fprintf(stderr, "xvio-testfront: --max-segs 2..%u, --max-seg 8..%u, "
		        "--area-pages >= 16\n", MAX_SEGS, XVIO_XPORT_MAX_BUF);
		exit(2);
	}
}

static int run(int sfd)
{
	struct pollfd pfd[XVIO_XPORT_CTX_NFDS + 1];
	int fds[XVIO_XPORT_CTX_NFDS];

	xvio_xport_ctx_fds(tf.ctx, fds);
	for (int i = 0; i < XVIO_XPORT_CTX_NFDS; i++)
		pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	pfd[XVIO_XPORT_CTX_NFDS] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	/* With --linger, stay until SIGTERM even after a removal, so the
	 * test can look at what the process still holds. */
	while (!(tf.finished && !opt.linger) && (tf.dev || opt.linger)) {
		int rc = poll(pfd, XVIO_XPORT_CTX_NFDS + 1, xvio_xport_ctx_timeout(tf.ctx));

		if (rc < 0 && errno != EINTR)
			return -errno;
		if (pfd[XVIO_XPORT_CTX_NFDS].revents)
			return 1;
		rc = xvio_xport_ctx_dispatch(tf.ctx);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct xvio_xport_ctx_params cp;
	struct xvio_xport_front_params fp = {
		.kind = XT_KIND, .virtio_id = XT_VIRTIO_ID, .ops = &tf_ops,
	};
	struct xvio_err err = { 0 };
	struct xvio_xport_front *f;
	sigset_t set;
	int sfd, rc;

	parse(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	tf.rs = opt.rng * 0x9E3779B97F4A7C15ull + 1;
	tf.nreq = opt.inflight ? opt.inflight : opt.qsize;
	tf.reqs = calloc(tf.nreq, sizeof(*tf.reqs));
	tf.seen = calloc(opt.total / 8 + 1, 1);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	cp = (struct xvio_xport_ctx_params){ .spin_us = opt.spin_us };
	fp.mode = opt.mode;
	fp.features = (opt.indirect ? XVIO_XPORT_F_INDIRECT : 0) |
	              (opt.event_idx ? XVIO_XPORT_F_EVENT_IDX : 0);
	fp.num_queues = opt.queues;
	fp.queue_size = opt.qsize;
	fp.area_pages = opt.pages;
	if (!tf.reqs || !tf.seen || sfd < 0 || xvio_xport_ctx_new(&cp, &tf.ctx, &err) < 0) {
		fprintf(stderr, "xvio-testfront: %s\n", err.err ? err.msg : strerror(errno));
		return 1;
	}
	if (xvio_xport_front_new(tf.ctx, &fp, &f, &err) < 0) {
		fprintf(stderr, "xvio-testfront: %s\n", err.msg);
		return 1;
	}
	if (!tf.dev) {
		fprintf(stderr, "xvio-testfront: no xvio_test device\n");
		return 1;
	}
	rc = run(sfd);
	if (rc != 0 || !tf.finished)
		report(rc == 1 ? "stopped" : "failed");
	tf.stopping = true;
	xvio_xport_front_free(f);
	xvio_xport_ctx_free(tf.ctx);
	close(sfd);
	free(tf.reqs);
	free(tf.seen);
	if (rc < 0)
		fprintf(stderr, "xvio-testfront: event loop: %s\n", strerror(-rc));
	/* Stopped by a signal, removed, or done: a failure only if a request
	 * came back wrong or twice, or the loop failed. */
	return tf.errors || tf.dups || rc < 0 ? 1 : 0;
}
