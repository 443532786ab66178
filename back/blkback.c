/* SPDX-License-Identifier: MIT */
/*
 * xvio-blkback: the dom0 daemon serving every virtio_disk of this host
 * (docs/protocol.md §11).  One process, one thread, one io_uring: the
 * transport (xport.h) finds the devices in backend/virtio_disk (rescanning
 * at start, so a restarted daemon takes over and libxl's 10 s InitWait
 * wait is met), hands requests over as iovecs; blk_req.c validates them,
 * blk_io.c performs them.
 *
 * Per session (ops->setup) the image named by `params` is opened again,
 * so a replaced or resized image is picked up by the next session; a
 * failure writes the error node and closes only that device.
 *
 * Disconnect: the transport unmaps a session's buffers right after
 * ops->disconnect returns, so bk_disconnect waits until the kernel holds
 * none of the device's requests (blk_io_drain: cancel what has not
 * started, wait for the rest).  Those requests are not answered; the
 * frontend resubmits them in the next session (protocol §7).
 *
 * Exit (SIGTERM, SIGINT): every session is torn down the same way and
 * xenstore is left as it is, so the next start takes the devices over.
 *
 * Logs go to stderr, one line per notable event, prefixed with the
 * device: "xvio-blkback: <domid>/<devid>: ...".  Never per request: the
 * first I/O error of a session is logged, later ones are counted.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "blk.h"

#define KIND "virtio_disk"


struct disk {
	struct xvio_xport_bdev *d;
	char name[32];          /* "<domid>/<devid>" */
	struct blk_image img;
	struct blk_owner owner;
	struct dreq *free;
	unsigned long long ioerrs;
};

/* A request as we hold it. */
struct dreq {
	struct blk_ioreq io;
	struct xvio_xport_breq *r;
	struct disk *disk;
	struct dreq *next;      /* free list */
	unsigned cap;           /* iov entries */
	struct iovec *iov;
	struct virtio_blk_discard_write_zeroes *ranges;
};

static struct {
	struct blk_opts o;
	struct blk_io *io;
	struct xvio_xport_ctx *ctx;
} g = {
	.o = { .spin_us = XVIO_XPORT_SPIN_DEFAULT, .max_queues = 4, .queue_depth = 256 },
};

static void logd(const struct disk *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logd(const struct disk *k, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "xvio-blkback: %s: %s\n", k->name, msg);
}

/* ---- requests ---- */

static struct dreq *dreq_get(struct disk *k, unsigned niov)
{
	struct dreq *q = k->free;

	if (q)
		k->free = q->next;
	else if (!(q = calloc(1, sizeof(*q))))
		return NULL;
	if (q->cap < niov) {
		unsigned cap = niov < 16 ? 16 : niov;
		struct iovec *v = realloc(q->iov, cap * sizeof(*v));

		if (!v) {
			q->next = k->free;
			k->free = q;
			return NULL;
		}
		q->iov = v;
		q->cap = cap;
	}
	q->disk = k;
	return q;
}

static void dreq_put(struct dreq *q)
{
	struct disk *k = q->disk;

	q->next = k->free;
	k->free = q;
}

static void answer(struct dreq *q, unsigned status)
{
	*q->io.p.status_ptr = (uint8_t)status;
	/* The status is the last writable byte, so the used length covers
	 * every writable byte (protocol §4, §11.3). */
	xvio_xport_breq_complete(q->r, q->r->in_bytes);
	dreq_put(q);
}

static void io_done(struct blk_ioreq *io, unsigned status)
{
	struct dreq *q = (struct dreq *)io;
	struct disk *k = q->disk;

	if (status == BLK_ABANDONED) { /* the session ended: not answered */
		dreq_put(q);
		return;
	}
	if (status == VIRTIO_BLK_S_IOERR && k->ioerrs++ == 0)
		logd(k, "%s: I/O error (type %u, sector %llu); later errors are counted, not "
		     "logged", k->img.path, io->p.type, (unsigned long long)io->p.sector);
	answer(q, status);
}

static void get_id(struct dreq *q)
{
	const struct blk_parsed *p = &q->io.p;
	size_t n = p->len < BLK_SERIAL_LEN ? (size_t)p->len : BLK_SERIAL_LEN;

	/* The serial, NUL-padded; the rest of the buffer zeroed (the used
	 * length says we wrote all of it). */
	blk_iov_write(p->iov, p->niov, 0, q->disk->img.serial, n);
	blk_iov_zero(p->iov, p->niov, n, (size_t)p->len - n);
	answer(q, VIRTIO_BLK_S_OK);
}

static void bk_request(struct xvio_xport_bdev *d, struct xvio_xport_breq *r)
{
	struct disk *k = xvio_xport_bdev_priv(d);
	struct dreq *q = dreq_get(k, r->niov);

	if (!q) {
		logd(k, "out of memory for a request");
		xvio_xport_bdev_fail(d, ENOMEM, "out of memory");
		return;
	}
	q->r = r;
	q->io.p.iov = q->iov;
	if (blk_parse_head(r, &q->io.p) < 0) {
		logd(k, "queue %u: a request without room for the header and the status "
		     "(%u readable, %u writable bytes)", r->queue, r->out_bytes, r->in_bytes);
		xvio_xport_bdev_fail(d, EPROTO, "queue %u: request of %u readable and %u "
		                     "writable bytes has no room for the header and the status",
		                     r->queue, r->out_bytes, r->in_bytes);
		dreq_put(q);
		return;
	}
	if ((q->io.p.type == VIRTIO_BLK_T_DISCARD || q->io.p.type == VIRTIO_BLK_T_WRITE_ZEROES) &&
	    !q->ranges && !(q->ranges = malloc(BLK_MAX_DISCARD_SEG * sizeof(*q->ranges)))) {
		answer(q, VIRTIO_BLK_S_IOERR);
		return;
	}
	q->io.p.ranges = q->ranges;
	blk_parse_body(&k->img, r, &q->io.p);
	if (q->io.p.status != VIRTIO_BLK_S_OK) {
		answer(q, q->io.p.status);
		return;
	}
	if (q->io.p.type == VIRTIO_BLK_T_GET_ID) {
		get_id(q);
		return;
	}
	q->io.owner = &k->owner;
	q->io.img = &k->img;
	q->io.done = io_done;
	blk_io_start(g.io, &q->io);
}

/* ---- devices ---- */

static int bk_add(struct xvio_xport_bdev *d, void **priv, struct xvio_err *err)
{
	struct disk *k = calloc(1, sizeof(*k));

	if (!k)
		return xvio_err_set(err, ENOMEM, "out of memory");
	k->d = d;
	k->img.fd = -1;
	snprintf(k->name, sizeof(k->name), "%u/%u", (unsigned)xvio_xport_bdev_frontend_id(d),
	         xvio_xport_bdev_devid(d));
	*priv = k;
	return 0;
}

/* A new session: open the image (again) and publish what it offers. */
static int bk_setup(struct xvio_xport_bdev *d, xs_transaction_t t, struct xvio_err *err)
{
	struct disk *k = xvio_xport_bdev_priv(d);
	struct xs_handle *xs = xvio_xport_ctx_xs(g.ctx);
	int rc;

	/* The last session's requests were drained at its disconnect. */
	blk_io_file_del(g.io, k->img.reg);
	rc = blk_image_open(&k->img, xs, t, xvio_xport_bdev_path(d), &g.o, err);
	if (rc == 0)
		k->img.reg = blk_io_file_add(g.io, k->img.fd);
	/* RO, DISCARD and WRITE_ZEROES depend on the image. */
	if (rc == 0)
		xvio_xport_bdev_set_features(d, k->img.features);
	if (rc == 0)
		rc = blk_image_publish(&k->img, xs, t, xvio_xport_bdev_path(d), g.o.max_queues,
		                       err);
	/* A failed commit replays setup: only a real failure is news. */
	if (rc < 0 && rc != -EAGAIN)
		logd(k, "%s", err->msg);
	return rc;
}

static void bk_connect(struct xvio_xport_bdev *d)
{
	struct disk *k = xvio_xport_bdev_priv(d);

	k->ioerrs = 0;
	logd(k, "connected: %s, %llu sectors, %u-byte blocks, %s%s%s%s, %u queue%s",
	     k->img.path, (unsigned long long)k->img.capacity, k->img.blk_size,
	     k->img.ro ? "read-only" : "read-write", k->img.direct ? ", direct" : "",
	     k->img.sync ? ", sync" : "", k->img.discard ? ", discard" : "",
	     xvio_xport_bdev_num_queues(d), xvio_xport_bdev_num_queues(d) == 1 ? "" : "s");
}

static void bk_disconnect(struct xvio_xport_bdev *d)
{
	struct disk *k = xvio_xport_bdev_priv(d);
	/* The transport unmaps the requests' buffers when we return. */
	unsigned dropped = blk_io_drain(g.io, &k->owner, k->img.fd);

	if (k->ioerrs > 1)
		logd(k, "%llu I/O errors in the session", k->ioerrs);
	logd(k, "disconnected (%u request%s in flight dropped: the frontend resubmits them)",
	     dropped, dropped == 1 ? "" : "s");
}

static void bk_remove(struct xvio_xport_bdev *d)
{
	struct disk *k = xvio_xport_bdev_priv(d);

	blk_io_drain(g.io, &k->owner, k->img.fd); /* nothing is left: cheap */
	blk_io_file_del(g.io, k->img.reg);
	blk_image_close(&k->img);
	while (k->free) {
		struct dreq *q = k->free;

		k->free = q->next;
		free(q->iov);
		free(q->ranges);
		free(q);
	}
	free(k);
}

static const struct xvio_xport_back_ops bk_ops = {
	.add = bk_add,
	.setup = bk_setup,
	.connect = bk_connect,
	.request = bk_request,
	.disconnect = bk_disconnect,
	.remove = bk_remove,
};

/* ---- the daemon ---- */

/* systemd's readiness protocol (Type=notify), without libsystemd. */
static void sd_notify_msg(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return;
	len = strlen(path);
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: xvio-blkback [options]\n"
	        "Serve every virtio_disk of this domain's backend directory.\n\n"
	        "  --max-queues N   request queues offered per disk, 1..16 (default 4)\n"
	        "  --block-size N   logical block size of every regular-file image:\n"
	        "                   512 or 4096 (default: 512, or what O_DIRECT needs)\n"
	        "  --sync           open writable images with O_SYNC\n"
	        "  --queue-depth N  io_uring submission entries, 1..4096 (default 256)\n"
	        "  --spin-us N      poll a busy ring this long before sleeping (default %u)\n"
	        "  --help           this text\n", XVIO_XPORT_SPIN_DEFAULT);
}

static unsigned num(const char *opt, const char *s, unsigned lo, unsigned hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi || s[0] == '-' || s[0] == '+') {
		fprintf(stderr, "xvio-blkback: --%s: \"%s\" is not a number in %u..%u\n", opt, s,
		        lo, hi);
		exit(2);
	}
	return (unsigned)v;
}

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "spin-us", required_argument, NULL, 's' },
		{ "max-queues", required_argument, NULL, 'q' },
		{ "block-size", required_argument, NULL, 'b' },
		{ "sync", no_argument, NULL, 'S' },
		{ "queue-depth", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': g.o.spin_us = num("spin-us", optarg, 0, 1000000); break;
		case 'q': g.o.max_queues = num("max-queues", optarg, 1, XVIO_XPORT_MAX_QUEUES); break;
		case 'b':
			g.o.block_size = num("block-size", optarg, 512, 4096);
			if (g.o.block_size != 512 && g.o.block_size != 4096) {
				fprintf(stderr, "xvio-blkback: --block-size: 512 or 4096\n");
				exit(2);
			}
			break;
		case 'S': g.o.sync = true; break;
		case 'd': g.o.queue_depth = num("queue-depth", optarg, 1, 4096); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc) {
		usage(stderr);
		exit(2);
	}
}

/* Passes of a busy loop between looks at the signals. */
#define SIG_CHECK_PASSES 64u

/*
 * Poll the transport, the ring's eventfd and the signals until a signal.
 * While the transport spins (timeout 0) the loop reaps the ring on every
 * pass anyway: the ring's eventfd is off and poll(2) runs only every
 * SIG_CHECK_PASSES passes, for the signals (the context looks at its own
 * fds while it spins).  Before sleeping the eventfd is armed again.
 */
static int run(int sfd)
{
	struct pollfd pfd[XVIO_XPORT_CTX_NFDS + 2];
	int fds[XVIO_XPORT_CTX_NFDS];
	const unsigned ring = XVIO_XPORT_CTX_NFDS, sig = XVIO_XPORT_CTX_NFDS + 1;
	unsigned pass = 0;

	xvio_xport_ctx_fds(g.ctx, fds);
	for (unsigned i = 0; i < XVIO_XPORT_CTX_NFDS; i++)
		pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	pfd[ring] = (struct pollfd){ .fd = blk_io_fd(g.io), .events = POLLIN };
	pfd[sig] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (;;) {
		int timeout = blk_io_busy(g.io) ? 0 : xvio_xport_ctx_timeout(g.ctx);
		int rc = 0;

		if (timeout != 0 && blk_io_arm(g.io))
			timeout = 0;
		else if (timeout == 0)
			blk_io_disarm(g.io);
		if (timeout != 0 || ++pass % SIG_CHECK_PASSES == 0)
			rc = poll(pfd, sig + 1, timeout);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc > 0 && pfd[sig].revents)
			return 0;
		if (rc > 0 && pfd[ring].revents) {
			uint64_t v;

			/* Reset before reaping: a later completion sets it again. */
			if (read(pfd[ring].fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				return -errno;
		}
		/* Completions from the I/O ring are published together. */
		xvio_xport_ctx_batch_begin(g.ctx);
		blk_io_run(g.io);
		rc = xvio_xport_ctx_dispatch(g.ctx);
		if (rc == 0)
			blk_io_run(g.io); /* submit what the new requests asked for */
		xvio_xport_ctx_batch_end(g.ctx);
		if (rc < 0)
			return rc;
	}
}

int main(int argc, char **argv)
{
	struct xvio_xport_ctx_params cp;
	struct xvio_xport_back_params bp = {
		.kind = KIND, .virtio_id = VIRTIO_ID_BLOCK, .features = BLK_FEATURES_ALL,
		.max_queue_size = 1024, .max_area_pages = XVIO_XPORT_MAX_AREA_PAGES, .ops = &bk_ops,
	};
	struct xvio_err err = { 0 };
	struct xvio_xport_back *b;
	sigset_t set;
	int sfd, rc;

	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	setvbuf(stderr, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		fprintf(stderr, "xvio-blkback: signalfd: %s\n", strerror(errno));
		return 1;
	}
	rc = blk_io_new(g.o.queue_depth, &g.io);
	if (rc < 0) {
		fprintf(stderr, "xvio-blkback: io_uring: %s\n", strerror(-rc));
		return 1;
	}
	cp = (struct xvio_xport_ctx_params){ .spin_us = g.o.spin_us };
	if (xvio_xport_ctx_new(&cp, &g.ctx, &err) < 0) {
		fprintf(stderr, "xvio-blkback: %s\n", err.err ? err.msg : strerror(errno));
		return 1;
	}
	bp.max_queues = g.o.max_queues;
	/* Every device present now reaches InitWait before this returns. */
	if (xvio_xport_back_new(g.ctx, &bp, &b, &err) < 0) {
		fprintf(stderr, "xvio-blkback: %s\n", err.msg);
		return 1;
	}
	blk_io_run(g.io);
	printf("ready\n");
	sd_notify_msg("READY=1");
	rc = run(sfd);
	sd_notify_msg("STOPPING=1");
	xvio_xport_back_free(b);
	xvio_xport_ctx_free(g.ctx);
	blk_io_free(g.io);
	close(sfd);
	if (rc < 0) {
		fprintf(stderr, "xvio-blkback: event loop: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}
