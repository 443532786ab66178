/* SPDX-License-Identifier: MIT */
/*
 * blktest-front: a request-level virtio-blk frontend for testing backends
 * (a test tool, built on the transport's frontend API).  It drives one
 * virtio_disk of its domain and runs commands read from stdin, one at a
 * time, printing one result line each:
 *
 *   read SECTOR LEN FILE      IN: LEN bytes into FILE
 *   write SECTOR FILE         OUT: the bytes of FILE
 *   flush                     FLUSH
 *   getid                     GET_ID (20 bytes): prints id=<hex>
 *   discard S N F [S N F...]  DISCARD ranges (sector, sectors, flags)
 *   wzeroes S N F [S N F...]  WRITE_ZEROES ranges
 *   raw TYPE SECTOR OUT IN    header of TYPE, then OUT readable zero bytes
 *                             and IN writable bytes (the last is the
 *                             status; IN = 0 or OUT < 16 make a chain a
 *                             device cannot answer)
 *   layout sep|shared|frag    how later chains are cut into segments: header,
 *                             data and status apart (as Linux does); header
 *                             sharing the first data segment and status the
 *                             last; or data in 512-byte segments
 *   queue Q                   submit later requests on queue Q
 *   stream N SECTORS MODEL    N random reads and writes (up to 16 sectors,
 *                             on logical blocks) over the first SECTORS
 *                             sectors, at most one request per 64-sector
 *                             slot in flight, all slots busy; writes put
 *                             bt_pattern(sector, gen) and reads check it.
 *                             At the end the per-sector generations go to
 *                             MODEL (u32 each, native order).
 *   quit
 *
 * Results: "status=<S> len=<L>" (S: the status byte, or "cancelled"),
 * with " id=<hex>" for getid, or "stream completed=<n> errors=<e>".
 * Prints "connected <session> features=<hex> capacity=<n> blk-size=<n>
 * queues=<n>" when a session starts and "disconnected" when it ends.
 *
 * Options: --mode data-area|grant, --devid N, --queues N, --queue-size N,
 * --block N (logical block for stream, default from config/blk-size).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <endian.h>

#include <linux/virtio_blk.h>

#include "blktest.h"
#include "xport.h"
#include "rng.h"

#define KIND "virtio_disk"
#define MAX_SEGS 200u
#define SLOT 64u     /* sectors per stream slot */
#define MAX_IO 16u   /* sectors per stream request */

enum layout { L_SEP, L_SHARED, L_FRAG };

struct op {
	struct xvio_xport_freq fr;
	struct xvio_xport_sg sg[MAX_SEGS];
	struct xvio_xport_buf buf[MAX_SEGS];
	unsigned nbuf;
	uint32_t out_len, in_len;  /* the chain's readable and writable bytes */
	/* stream */
	bool stream, write;
	uint64_t sector;
	uint32_t nsect;
	unsigned slot;
	uint32_t gen;              /* a write's generation */
};

static struct {
	enum xvio_xport_mode mode;
	long devid;
	unsigned queues, qsize;
} opt = { .devid = -1, .queues = 1, .qsize = 256 };

static struct {
	struct xvio_xport_ctx *ctx;
	struct xvio_xport_fdev *dev;
	enum layout layout;
	unsigned queue;
	uint64_t capacity;
	uint32_t blk;
	bool busy, quit;
	/* the command in flight */
	struct op cmd;
	char file[4096];
	bool is_read, is_getid;
	/* the stream */
	uint64_t s_total, s_issued, s_done, s_errors, s_sectors;
	uint32_t *gen, next_gen;
	struct op *s_ops;
	unsigned s_nops;
	bool *slot_busy;
	char model[4096];
	uint64_t rs;
} fs;

static uint64_t rnd(void)
{
	return test_rng(&fs.rs);
}

/* ---- chains ---- */

static void op_free(struct op *o)
{
	for (unsigned i = 0; i < o->nbuf; i++)
		xvio_xport_buf_free(fs.dev, &o->buf[i]);
	o->nbuf = 0;
}

/* Add a segment of `len` bytes (copied from src if not NULL). */
static int seg(struct op *o, const uint8_t *src, uint32_t len)
{
	struct xvio_xport_buf *b = &o->buf[o->nbuf];
	int rc;

	if (o->nbuf == MAX_SEGS)
		return -E2BIG;
	rc = xvio_xport_buf_alloc(fs.dev, len, b);
	if (rc < 0)
		return rc;
	if (src)
		memcpy(b->ptr, src, len);
	else
		memset(b->ptr, 0, len);
	o->sg[o->nbuf] = (struct xvio_xport_sg){ b, 0, len };
	o->nbuf++;
	return 0;
}

/* Cut `len` bytes of src into segments (`first` bytes alone first, then
 * pieces of `piece`). */
static int cut(struct op *o, const uint8_t *src, uint32_t len, uint32_t first, uint32_t piece)
{
	uint32_t done = 0;
	int rc = 0;

	while (rc == 0 && done < len) {
		uint32_t n = done == 0 && first ? first : piece;

		if (n > len - done)
			n = len - done;
		rc = seg(o, src ? src + done : NULL, n);
		done += n;
	}
	return rc;
}

/*
 * A chain: readable = rd (rd_len bytes: header and data), writable =
 * wr_len bytes (data and status).  hdr_len: the header's share of rd.
 */
static int build(struct op *o, const uint8_t *rd, uint32_t rd_len, uint32_t hdr_len,
                 uint32_t wr_len, enum layout l)
{
	uint32_t big = XVIO_XPORT_MAX_BUF;
	int rc = 0;

	o->nbuf = 0;
	o->out_len = rd_len;
	o->in_len = wr_len;
	switch (l) {
	case L_SEP:
		rc = cut(o, rd, rd_len, hdr_len, big);
		if (rc == 0 && wr_len > 1)
			rc = cut(o, NULL, wr_len - 1, 0, big);
		if (rc == 0 && wr_len)
			rc = seg(o, NULL, 1);
		break;
	case L_SHARED:
		rc = cut(o, rd, rd_len, 0, big);
		if (rc == 0)
			rc = cut(o, NULL, wr_len, 0, big);
		break;
	case L_FRAG:
		rc = cut(o, rd, rd_len, hdr_len, 512);
		if (rc == 0 && wr_len > 1)
			rc = cut(o, NULL, wr_len - 1, 0, 512);
		if (rc == 0 && wr_len)
			rc = seg(o, NULL, 1);
		break;
	}
	if (rc < 0) {
		op_free(o);
		return rc;
	}
	o->fr.sg = o->sg;
	o->fr.nout = 0;
	for (uint32_t n = 0; n < rd_len; o->fr.nout++)
		n += o->sg[o->fr.nout].len;
	o->fr.nin = o->nbuf - o->fr.nout;
	o->fr.flags = 0;
	o->fr.cookie = o;
	return 0;
}

/* The writable bytes of a completed chain, gathered. */
static void gather(const struct op *o, uint8_t *out)
{
	uint32_t n = 0;

	for (unsigned i = o->fr.nout; i < o->nbuf; i++) {
		memcpy(out + n, o->buf[i].ptr, o->sg[i].len);
		n += o->sg[i].len;
	}
}

static void put_hdr(uint8_t *h, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr hdr = { .type = htole32(type), .ioprio = 0,
	                                 .sector = htole64(sector) };

	memcpy(h, &hdr, sizeof(hdr));
}

/* ---- commands ---- */

static int submit_cmd(const uint8_t *rd, uint32_t rd_len, uint32_t wr_len)
{
	int rc = build(&fs.cmd, rd, rd_len, 16, wr_len, fs.layout);

	if (rc == 0) {
		rc = xvio_xport_submit(fs.dev, fs.queue, &fs.cmd.fr);
		if (rc < 0)
			op_free(&fs.cmd);
	}
	if (rc < 0) {
		printf("error %s\n", strerror(-rc));
		return rc;
	}
	fs.busy = true;
	return 0;
}

static uint8_t *read_file(const char *path, uint32_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 16);
	if (buf && fread(buf + 16, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (uint32_t)n;
	return buf;
}

static int cmd_ranges(uint32_t type, char *args)
{
	uint8_t *rd = calloc(1, 16 + 300 * 16);
	uint32_t n = 0;
	char *save = NULL;
	int rc;

	for (char *tok = strtok_r(args, " ", &save); tok && n < 300;
	     tok = strtok_r(NULL, " ", &save)) {
		unsigned long long s = strtoull(tok, NULL, 10);
		char *t2 = strtok_r(NULL, " ", &save), *t3 = strtok_r(NULL, " ", &save);
		struct virtio_blk_discard_write_zeroes r;

		if (!t2 || !t3)
			break;
		r.sector = htole64(s);
		r.num_sectors = htole32((uint32_t)strtoul(t2, NULL, 10));
		r.flags = htole32((uint32_t)strtoul(t3, NULL, 10));
		memcpy(rd + 16 + 16 * n, &r, 16);
		n++;
	}
	put_hdr(rd, type, 0);
	rc = submit_cmd(rd, 16 + 16 * n, 1);
	free(rd);
	return rc;
}

static void start_stream(void);

static void command(char *line)
{
	char *nl = strchr(line, '\n'), file[4096];
	unsigned long long a, b, c, d;

	if (nl)
		*nl = '\0';
	fs.is_read = fs.is_getid = false;
	if (strncmp(line, "read ", 5) == 0 &&
	    sscanf(line + 5, "%llu %llu %4095s", &a, &b, file) == 3) {
		uint8_t h[16];

		put_hdr(h, VIRTIO_BLK_T_IN, a);
		snprintf(fs.file, sizeof(fs.file), "%s", file);
		fs.is_read = true;
		submit_cmd(h, 16, (uint32_t)b + 1);
	} else if (strncmp(line, "write ", 6) == 0 &&
	           sscanf(line + 6, "%llu %4095s", &a, file) == 2) {
		uint32_t len;
		uint8_t *buf = read_file(file, &len);

		if (!buf) {
			printf("error %s: %s\n", file, strerror(errno));
			return;
		}
		put_hdr(buf, VIRTIO_BLK_T_OUT, a);
		submit_cmd(buf, 16 + len, 1);
		free(buf);
	} else if (strcmp(line, "flush") == 0) {
		uint8_t h[16];

		put_hdr(h, VIRTIO_BLK_T_FLUSH, 0);
		submit_cmd(h, 16, 1);
	} else if (strcmp(line, "getid") == 0) {
		uint8_t h[16];

		put_hdr(h, VIRTIO_BLK_T_GET_ID, 0);
		fs.is_getid = true;
		submit_cmd(h, 16, VIRTIO_BLK_ID_BYTES + 1);
	} else if (strncmp(line, "discard ", 8) == 0) {
		cmd_ranges(VIRTIO_BLK_T_DISCARD, line + 8);
	} else if (strncmp(line, "wzeroes ", 8) == 0) {
		cmd_ranges(VIRTIO_BLK_T_WRITE_ZEROES, line + 8);
	} else if (strncmp(line, "raw ", 4) == 0 &&
	           sscanf(line + 4, "%llu %llu %llu %llu", &a, &b, &c, &d) == 4) {
		uint8_t *rd = calloc(1, (size_t)c + 16);

		put_hdr(rd, (uint32_t)a, b);
		submit_cmd(rd, (uint32_t)c, (uint32_t)d);
		free(rd);
	} else if (strncmp(line, "layout ", 7) == 0) {
		fs.layout = strcmp(line + 7, "shared") == 0 ? L_SHARED
		          : strcmp(line + 7, "frag") == 0 ? L_FRAG : L_SEP;
		printf("ok\n");
	} else if (strncmp(line, "queue ", 6) == 0) {
		fs.queue = (unsigned)strtoul(line + 6, NULL, 10);
		printf("ok\n");
	} else if (strncmp(line, "stream ", 7) == 0 &&
	           sscanf(line + 7, "%llu %llu %4095s", &a, &b, fs.model) == 3) {
		fs.s_total = a;
		fs.s_sectors = b;
		start_stream();
	} else if (strcmp(line, "quit") == 0) {
		fs.quit = true;
	} else {
		printf("error unknown command \"%s\"\n", line);
	}
}

static void cmd_done(const struct xvio_xport_freq *r)
{
	struct op *o = &fs.cmd;
	uint8_t *w = malloc(o->in_len + 1);
	unsigned st;

	fs.busy = false;
	if (r->status) {
		printf("status=cancelled len=0\n");
		op_free(o);
		free(w);
		return;
	}
	gather(o, w);
	st = o->in_len ? w[o->in_len - 1] : 255;
	if (fs.is_read && st == 0) {
		FILE *f = fopen(fs.file, "wb");

		if (!f || fwrite(w, 1, o->in_len - 1, f) != o->in_len - 1)
			printf("error %s: %s\n", fs.file, strerror(errno));
		if (f)
			fclose(f);
	}
	printf("status=%u len=%u", st, r->len);
	if (fs.is_getid) {
		printf(" id=");
		for (unsigned i = 0; i + 1 < o->in_len; i++)
			printf("%02x", w[i]);
	}
	printf("\n");
	op_free(o);
	free(w);
}

/* ---- the stream ---- */

static bool stream_issue(struct op *o)
{
	unsigned nslots = (unsigned)(fs.s_sectors / SLOT), per = fs.blk / 512, s;
	uint32_t maxb = MAX_IO / per, nb, off;
	uint8_t *rd;
	int rc;

	if (fs.s_issued >= fs.s_total)
		return false;
	s = (unsigned)(rnd() % nslots);
	while (fs.slot_busy[s])
		s = (s + 1) % nslots;
	nb = 1 + (uint32_t)(rnd() % maxb);
	off = (uint32_t)(rnd() % ((SLOT / per) - nb + 1)) * per;
	o->stream = true;
	o->slot = s;
	o->sector = (uint64_t)s * SLOT + off;
	o->nsect = nb * per;
	o->write = rnd() & 1;
	rd = malloc(16 + (size_t)o->nsect * 512);
	if (o->write) {
		o->gen = ++fs.next_gen;
		put_hdr(rd, VIRTIO_BLK_T_OUT, o->sector);
		for (uint32_t i = 0; i < o->nsect; i++)
			bt_pattern(o->sector + i, o->gen, rd + 16 + 512 * i);
		rc = build(o, rd, 16 + o->nsect * 512, 16, 1, (enum layout)(rnd() % 3));
	} else {
		put_hdr(rd, VIRTIO_BLK_T_IN, o->sector);
		rc = build(o, rd, 16, 16, o->nsect * 512 + 1, (enum layout)(rnd() % 3));
	}
	free(rd);
	if (rc == 0)
		rc = xvio_xport_submit(fs.dev, (unsigned)(fs.s_issued % xvio_xport_fdev_num_queues(fs.dev)),
		                       &o->fr);
	if (rc < 0) {
		fprintf(stderr, "blktest-front: stream request: %s\n", strerror(-rc));
		fs.s_errors++;
		op_free(o);
		return false;
	}
	fs.slot_busy[s] = true;
	fs.s_issued++;
	return true;
}

static void stream_finish(void)
{
	FILE *f = fopen(fs.model, "wb");

	if (!f || fwrite(fs.gen, sizeof(*fs.gen), fs.s_sectors, f) != fs.s_sectors)
		fs.s_errors++;
	if (f)
		fclose(f);
	printf("stream completed=%llu errors=%llu\n", (unsigned long long)fs.s_done,
	       (unsigned long long)fs.s_errors);
	free(fs.s_ops);
	free(fs.slot_busy);
	free(fs.gen);
	fs.s_ops = NULL;
	fs.slot_busy = NULL;
	fs.gen = NULL;
	fs.busy = false;
}

static void stream_done(struct op *o, const struct xvio_xport_freq *r)
{
	uint8_t *w = malloc(o->in_len);
	uint8_t want[512];
	bool ok;

	gather(o, w);
	ok = r->status == 0 && o->in_len && w[o->in_len - 1] == VIRTIO_BLK_S_OK &&
	     r->len == o->in_len;
	if (!ok) {
		fprintf(stderr, "blktest-front: stream %s at %llu: status %d byte %u len %u/%u\n",
		        o->write ? "write" : "read", (unsigned long long)o->sector, r->status,
		        o->in_len ? w[o->in_len - 1] : 255, r->len, o->in_len);
	} else if (o->write) {
		for (uint32_t i = 0; i < o->nsect; i++)
			fs.gen[o->sector + i] = o->gen;
	} else {
		for (uint32_t i = 0; ok && i < o->nsect; i++) {
			bt_pattern(o->sector + i, fs.gen[o->sector + i], want);
			if (memcmp(w + 512 * i, want, 512) != 0) {
				fprintf(stderr, "blktest-front: stream read: sector %llu is wrong\n",
				        (unsigned long long)(o->sector + i));
				ok = false;
			}
		}
	}
	free(w);
	fs.s_errors += !ok;
	fs.slot_busy[o->slot] = false;
	op_free(o);
	fs.s_done++;
	if (fs.s_done % 500 == 0)
		printf("progress %llu\n", (unsigned long long)fs.s_done);
	if (fs.s_done == fs.s_total)
		stream_finish();
	else
		stream_issue(o);
}

static void start_stream(void)
{
	unsigned nslots = (unsigned)(fs.s_sectors / SLOT);

	fs.s_issued = fs.s_done = fs.s_errors = 0;
	fs.s_nops = nslots < 64 ? nslots : 64;
	if (fs.s_nops == 0 || fs.s_sectors > fs.capacity || fs.s_total == 0) {
		printf("error bad stream\n");
		return;
	}
	fs.gen = calloc(fs.s_sectors, sizeof(*fs.gen));
	fs.slot_busy = calloc(nslots, sizeof(bool));
	fs.s_ops = calloc(fs.s_nops, sizeof(*fs.s_ops));
	fs.busy = true;
	for (unsigned i = 0; i < fs.s_nops; i++)
		stream_issue(&fs.s_ops[i]);
}

/* ---- transport callbacks ---- */

static int f_add(struct xvio_xport_fdev *d, void **priv, struct xvio_err *err)
{
	if (fs.dev || (opt.devid >= 0 && xvio_xport_fdev_devid(d) != (unsigned)opt.devid))
		return xvio_err_set(err, ENODEV, "not the device this test drives");
	fs.dev = d;
	return 0;
}

static int f_setup(struct xvio_xport_fdev *d, xs_transaction_t t, const char *be,
                   struct xvio_err *err)
{
	struct xs_handle *xs = xvio_xport_ctx_xs(fs.ctx);
	uint32_t blk = 512;
	int rc;

	rc = xvio_xs_read_u64(xs, t, be, "config/capacity", 0, 0, UINT64_MAX, &fs.capacity, err);
	if (rc < 0)
		return rc;
	rc = xvio_xs_read_u32(xs, t, be, "config/blk-size", 512, 4096, &blk, err);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	fs.blk = blk;
	return 0;
}

static void f_connected(struct xvio_xport_fdev *d)
{
	printf("connected %u features=%llx capacity=%llu blk-size=%u queues=%u\n",
	       xvio_xport_fdev_sessions(d), (unsigned long long)xvio_xport_fdev_features(d),
	       (unsigned long long)fs.capacity, fs.blk, xvio_xport_fdev_num_queues(d));
}

static void f_disconnected(struct xvio_xport_fdev *d)
{
	printf("disconnected\n");
}

static void f_complete(struct xvio_xport_fdev *d, struct xvio_xport_freq *r)
{
	struct op *o = r->cookie;

	if (o == &fs.cmd)
		cmd_done(r);
	else
		stream_done(o, r);
}

static void f_remove(struct xvio_xport_fdev *d)
{
	fs.dev = NULL;
	printf("removed\n");
}

static const struct xvio_xport_front_ops f_ops = {
	.add = f_add,
	.setup = f_setup,
	.connected = f_connected,
	.disconnected = f_disconnected,
	.complete = f_complete,
	.remove = f_remove,
};

/* ---- main ---- */

static void parse(int argc, char **argv)
{
	static const struct option o[] = {
		{ "mode", 1, NULL, 'm' }, { "devid", 1, NULL, 'd' },
		{ "queues", 1, NULL, 'q' }, { "queue-size", 1, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (c) {
		case 'm': opt.mode = strcmp(optarg, "grant") == 0 ? XVIO_XPORT_GRANT
		                                                  : XVIO_XPORT_DATA_AREA; break;
		case 'd': opt.devid = strtol(optarg, NULL, 10); break;
		case 'q': opt.queues = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': opt.qsize = (unsigned)strtoul(optarg, NULL, 10); break;
		default: exit(2);
		}
	}
}

/* Read stdin; run complete lines while idle. */
static int pump_stdin(char *buf, size_t *len, size_t size, bool readable)
{
	if (readable) {
		ssize_t n = read(0, buf + *len, size - 1 - *len);

		if (n <= 0)
			return -1;
		*len += (size_t)n;
	}
	while (!fs.busy && !fs.quit && fs.dev && xvio_xport_fdev_sessions(fs.dev) > 0) {
		char *nl = memchr(buf, '\n', *len);
		size_t n;

		if (!nl)
			break;
		*nl = '\0';
		n = (size_t)(nl - buf) + 1;
		command(buf);
		fflush(stdout);
		memmove(buf, buf + n, *len - n);
		*len -= n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct xvio_xport_front_params fp = {
		.kind = KIND, .virtio_id = 2, .ops = &f_ops,
		.features = XVIO_XPORT_F_INDIRECT | XVIO_XPORT_F_EVENT_IDX |
		            XVIO_XPORT_F_DEVICE_MASK,
	};
	struct xvio_xport_ctx_params cp = { .spin_us = XVIO_XPORT_SPIN_DEFAULT };
	struct pollfd pfd[XVIO_XPORT_CTX_NFDS + 1];
	int fds[XVIO_XPORT_CTX_NFDS];
	struct xvio_err err = { 0 };
	struct xvio_xport_front *f;
	static char line[65536];
	size_t len = 0;
	bool eof = false;

	parse(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	fs.rs = 0x1234567;
	fs.blk = 512;
	fp.mode = opt.mode;
	fp.num_queues = opt.queues;
	fp.queue_size = opt.qsize;
	fp.area_pages = 4096;
	if (xvio_xport_ctx_new(&cp, &fs.ctx, &err) < 0 ||
	    xvio_xport_front_new(fs.ctx, &fp, &f, &err) < 0) {
		fprintf(stderr, "blktest-front: %s\n", err.msg);
		return 1;
	}
	if (!fs.dev) {
		fprintf(stderr, "blktest-front: no virtio_disk device\n");
		return 1;
	}
	xvio_xport_ctx_fds(fs.ctx, fds);
	for (int i = 0; i < XVIO_XPORT_CTX_NFDS; i++)
		pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	pfd[XVIO_XPORT_CTX_NFDS] = (struct pollfd){ .fd = 0, .events = POLLIN };
	while (!fs.quit && !(eof && !fs.busy) && fs.dev) {
		int rc;

		pfd[XVIO_XPORT_CTX_NFDS].fd = eof ? -1 : 0;
		rc = poll(pfd, XVIO_XPORT_CTX_NFDS + 1, xvio_xport_ctx_timeout(fs.ctx));
		if (rc < 0 && errno != EINTR)
			break;
		if (xvio_xport_ctx_dispatch(fs.ctx) < 0)
			break;
		if (!eof && pump_stdin(line, &len, sizeof(line),
		                       rc > 0 && pfd[XVIO_XPORT_CTX_NFDS].revents) < 0)
			eof = true;
	}
	xvio_xport_front_free(f);
	xvio_xport_ctx_free(fs.ctx);
	return 0;
}
