/* SPDX-License-Identifier: MIT */
/*
 * hf, the hostile frontend (hostile.h): everything a frontend does, by
 * hand, so that a test can do it wrong.  Honest traffic is checked byte by
 * byte with the xvio_test transform (tests/xport/testdev.h).
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostile.h"

#define CHUNK_PAGES 1024u
#define CHUNK_SHIFT 22

void hf_open(struct hf *h, const struct simtest *st, const struct xp_dev *dev)
{
	memset(h, 0, sizeof(*h));
	h->st = st;
	h->dev = *dev;
	h->xs0 = xp_xs(st, 0);
	simtest_enter(st, dev->domid);
	h->xs = xp_xs(st, dev->domid);
	CHECK_INT(xvio_plat_open(NULL, &h->p), ==, 0);
	CHECK_INT(xvio_evtchn_open(h->p, &h->ev), ==, 0);
}

void hf_free(struct hf *h)
{
	xvio_evtchn_close(h->ev);
	xvio_plat_close(h->p);
	xs_close(h->xs);
	xs_close(h->xs0);
	free(h->refs);
	memset(h, 0, sizeof(*h));
}

/* ---- sharing ---- */

static void share_area(struct hf *h)
{
	unsigned pages = h->o.pages;

	h->refs = calloc(pages, sizeof(*h->refs));
	CHECK(h->refs != NULL);
	for (unsigned done = 0; done < pages; h->nchunks++) {
		unsigned n = pages - done < CHUNK_PAGES ? pages - done : CHUNK_PAGES;
		void *addr;

		CHECK(h->nchunks < 4);
		CHECK_INT(xvio_gnt_share(h->p, 0, n, !h->o.area_ro, h->refs + done, &addr,
		                         &h->chunk[h->nchunks]), ==, 0);
		h->base[h->nchunks] = addr;
		done += n;
	}
	if (h->o.grant)
		return;
	/* The directory (§5.1): granted read-only, our mapping is writable. */
	h->ndir = (pages + CHUNK_PAGES - 1) / CHUNK_PAGES;
	CHECK_INT(xvio_gnt_share(h->p, 0, h->ndir, false, h->dir_refs, (void **)&h->dir_mem,
	                         &h->dir), ==, 0);
	for (unsigned i = 0; i < pages; i++) {
		uint32_t le = htole32(h->refs[i]);

		memcpy(h->dir_mem + 4u * i, &le, 4);
	}
}

void hf_share(struct hf *h, const struct hf_opts *o)
{
	CHECK(!h->shared);
	h->o = o ? *o : (struct hf_opts){ 0 };
	h->o.qsize = h->o.qsize ? h->o.qsize : 16;
	h->o.nq = h->o.nq ? h->o.nq : 1;
	h->o.pages = h->o.pages ? h->o.pages : 16;
	h->o.features = h->o.features ? h->o.features : HX_F_ALL;
	CHECK(h->o.nq <= HF_MAX_Q && h->o.pages <= 4096);
	for (unsigned i = 0; i < h->o.nq; i++) {
		struct hf_q *q = &h->q[i];
		void *mem;

		memset(q, 0, sizeof(*q));
		q->npages = xvio_vring_pages(h->o.qsize);
		CHECK(q->npages > 0 && q->npages <= 8);
		CHECK_INT(xvio_gnt_share(h->p, 0, q->npages, !h->o.ring_ro, q->refs, &mem,
		                         &q->share), ==, 0);
		hx_ring_init(&q->r, mem, h->o.qsize);
		q->port = xvio_evtchn_alloc_unbound(h->ev, 0);
		CHECK(q->port > 0);
	}
	share_area(h);
	h->shared = true;
}

/* ---- keys ---- */

void hf_put(struct hf *h, xs_transaction_t t, const char *key, const char *val, size_t len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", h->dev.fe, key);
	if (!xs_write(h->xs, t, path, val, (unsigned)len))
		CHECK_FAIL("write %s: %s", path, strerror(errno));
}

void hf_rm(struct hf *h, xs_transaction_t t, const char *key)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", h->dev.fe, key);
	if (!xs_rm(h->xs, t, path) && errno != ENOENT)
		CHECK_FAIL("rm %s: %s", path, strerror(errno));
}

static void putf(struct hf *h, xs_transaction_t t, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void putf(struct hf *h, xs_transaction_t t, const char *key, const char *fmt, ...)
{
	char val[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	hf_put(h, t, key, val, strlen(val));
}

/* Remove an earlier session's keys, as a frontend must (§2.2). */
static void clear_keys(struct hf *h, xs_transaction_t t)
{
	unsigned n = 0;
	char **names = xs_directory(h->xs, t, h->dev.fe, &n);

	CHECK(names != NULL);
	for (unsigned i = 0; i < n; i++) {
		if (!strncmp(names[i], "queue-", 6) || !strncmp(names[i], "data-area-", 10))
			hf_rm(h, t, names[i]);
	}
	free(names);
}

static void write_keys(struct hf *h, xs_transaction_t t)
{
	char key[64];

	clear_keys(h, t);

	putf(h, t, "virtio-features", "%llu", (unsigned long long)h->o.features);
	putf(h, t, "num-queues", "%u", h->o.nq);
	putf(h, t, "buffer-mode", "%s", h->o.grant ? "grant" : "data-area");
	if (!h->o.grant) {
		putf(h, t, "data-area-pages", "%u", h->o.pages);
		for (unsigned k = 0; k < h->ndir; k++) {
			snprintf(key, sizeof(key), "data-area-dir-ref%u", k);
			putf(h, t, key, "%u", h->dir_refs[k]);
		}
	}
	for (unsigned i = 0; i < h->o.nq; i++) {
		const struct hf_q *q = &h->q[i];

		snprintf(key, sizeof(key), "queue-%u/size", i);
		putf(h, t, key, "%u", h->o.qsize);
		for (unsigned k = 0; k < q->npages; k++) {
			snprintf(key, sizeof(key), "queue-%u/ring-ref%u", i, k);
			putf(h, t, key, "%u", q->refs[k]);
		}
		snprintf(key, sizeof(key), "queue-%u/event-channel", i);
		putf(h, t, key, "%d", q->port);
	}
}

void hf_initialise(struct hf *h)
{
	char seed[32];

	CHECK(h->shared);
	/* The backend's config/seed, for checking answers. */
	hx_wait(h->xs, h->dev.be, "state", "2", HX_WAIT_MS);
	CHECK(xp_read(h->xs, h->dev.be, "config/seed", seed, sizeof(seed)));
	h->seed = (uint32_t)strtoul(seed, NULL, 10);
	for (;;) {
		xs_transaction_t t = xs_transaction_start(h->xs);

		CHECK(t != XBT_NULL);
		write_keys(h, t);
		if (h->o.mutate)
			h->o.mutate(h, t, h->o.arg);
		hf_put(h, t, "state", "3", 1);
		if (xs_transaction_end(h->xs, t, false))
			return;
		CHECK(errno == EAGAIN);
	}
}

void hf_connect(struct hf *h, const struct hf_opts *o)
{
	hf_share(h, o);
	hf_initialise(h);
	if (hx_wait_any(h->xs, h->dev.be, "state", (const char *const[]){ "4", "5", NULL },
	                HX_WAIT_MS) == 1) {
		char msg[512] = "";

		hx_error_node(h->xs0, h->dev.be, msg, sizeof(msg));
		CHECK_FAIL("the backend refused an honest session: %s", msg);
	}
	xp_write(h->xs, h->dev.fe, "state", "4");
}

/*
 * End a share: the backend must let go of every page.  Not necessarily by
 * the time it shows InitWait: after a flapping frontend it may show a
 * stale 2 while it still works through a connect it had started, so
 * -EBUSY is retried until the usual deadline.
 */
static void end_share(struct xvio_gnt_share *s, const char *what)
{
	long long end = xp_now_ms() + HX_WAIT_MS;
	int rc;

	if (!s)
		return;
	while ((rc = xvio_gnt_share_end(s)) == -EBUSY && xp_now_ms() < end)
		usleep(1000);
	if (rc < 0)
		CHECK_FAIL("cannot end the grants of the %s: %s (the backend still maps them?)",
		           what, strerror(-rc));
}

void hf_close(struct hf *h)
{
	char buf[512];

	CHECK(h->shared);
	xp_write(h->xs, h->dev.fe, "state", "6");
	hx_wait(h->xs, h->dev.be, "state", "2", HX_WAIT_MS);
	/* A new session clears the error node. */
	for (long long end = xp_now_ms() + HX_WAIT_MS; hx_error_node(h->xs0, h->dev.be, buf,
	                                                             sizeof(buf));) {
		if (xp_now_ms() > end)
			CHECK_FAIL("error node stays: %s", buf);
		usleep(1000);
	}
	for (unsigned i = 0; i < h->o.nq; i++) {
		end_share(h->q[i].share, "ring");
		CHECK_INT(xvio_evtchn_unbind(h->ev, (xvio_port_t)h->q[i].port), ==, 0);
		memset(&h->q[i], 0, sizeof(h->q[i]));
	}
	for (unsigned c = 0; c < h->nchunks; c++)
		end_share(h->chunk[c], "data area");
	end_share(h->dir, "directory");
	free(h->refs);
	h->refs = NULL;
	h->nchunks = h->ndir = 0;
	h->dir = NULL;
	h->shared = false;
}

/* ---- the area ---- */

uint8_t *hf_ptr(const struct hf *h, uint32_t off)
{
	CHECK(off < hf_area_bytes(h));
	return h->base[off >> CHUNK_SHIFT] + (off & ((1u << CHUNK_SHIFT) - 1));
}

uint64_t hf_addr(const struct hf *h, uint32_t off)
{
	if (!h->o.grant)
		return off;
	return XVIO_ADDR_GRANT | (uint64_t)h->refs[off >> 12] << 12 | (off & 4095u);
}

uint32_t hf_area_bytes(const struct hf *h)
{
	return h->o.pages * 4096u;
}

/* ---- ring ---- */

void hf_kick(struct hf *h, unsigned qi)
{
	CHECK_INT(xvio_evtchn_notify(h->ev, (xvio_port_t)h->q[qi].port), ==, 0);
}

void hf_publish(struct hf *h, unsigned qi)
{
	hx_avail_idx(&h->q[qi].r, h->q[qi].avail);
}

static void drain_events(struct hf *h, int wait_ms)
{
	struct pollfd pfd = { .fd = xvio_evtchn_fd(h->ev), .events = POLLIN };
	int port;

	poll(&pfd, 1, wait_ms);
	while ((port = xvio_evtchn_pending(h->ev)) >= 0)
		xvio_evtchn_unmask(h->ev, (xvio_port_t)port);
}

bool hf_wait_used(struct hf *h, unsigned qi, unsigned n, int timeout_ms)
{
	struct hf_q *q = &h->q[qi];
	long long end = xp_now_ms() + timeout_ms;
	unsigned spins = 0;

	for (;;) {
		uint16_t have = (uint16_t)(hx_used_idx_get(&q->r) - q->used);

		if (have >= n && have <= q->r.n)
			return true;
		if (xp_now_ms() > end)
			return false;
		/* Spin a little (the answer is usually quick), then sleep on
		 * the event channel in short slices. */
		if (++spins > 200)
			drain_events(h, 1);
	}
}

/* ---- honest traffic ---- */

struct slot {
	uint16_t head;
	unsigned nout, niov;
	struct iovec iov[3];
	uint32_t w;
	bool done;
};

static uint32_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x9E3779B97F4A7C15ull;
	return (uint32_t)(x >> 29);
}

/*
 * Request `seq` in slot s: page s of the area holds its readable buffer
 * (+0), two writable ones (+1024, +2048) and its indirect table (+3072);
 * descriptors 3s..3s+2.  Kinds: readable only, one writable, two
 * writable, two writable through an indirect table (when negotiated).
 */
static void build(struct hf *h, unsigned qi, unsigned s, struct slot *sl)
{
	struct hf_q *q = &h->q[qi];
	uint64_t seq = h->seq++;
	unsigned kind = (unsigned)(seq % 4), nin = kind == 0 ? 0 : kind == 1 ? 1 : 2;
	bool ind = kind == 3 && (h->o.features & HX_F_INDIRECT);
	uint32_t page = s * 4096u, len[3];
	uint8_t *rd = hf_ptr(h, page);

	len[0] = 8 + mix(seq) % 1000;
	len[1] = 1 + mix(seq + 1) % 1000;
	len[2] = 1 + mix(seq + 2) % 1000;
	memcpy(rd, &seq, 8);
	for (uint32_t i = 8; i < len[0]; i++)
		rd[i] = (uint8_t)mix(seq * 4096 + i);
	sl->head = (uint16_t)(3 * s);
	sl->nout = 1;
	sl->niov = 1 + nin;
	sl->w = 0;
	sl->done = false;
	for (unsigned k = 0; k <= nin; k++) {
		uint32_t off = page + 1024u * k;
		uint16_t flags = (k > 0 ? HX_WRITE : 0) | (k < nin ? HX_NEXT : 0);

		sl->iov[k] = (struct iovec){ hf_ptr(h, off), len[k] };
		if (k > 0) {
			memset(hf_ptr(h, off), 0xaa, len[k]);
			sl->w += len[k];
		}
		if (ind)
			hx_table_ent(hf_ptr(h, page + 3072), k, hf_addr(h, off), len[k], flags,
			             (uint16_t)(k + 1));
		else
			hx_desc(&q->r, 3 * s + k, hf_addr(h, off), len[k], flags,
			        (uint16_t)(3 * s + k + 1));
	}
	if (ind)
		hx_desc(&q->r, 3 * s, hf_addr(h, page + 3072), 16u * (nin + 1), HX_INDIRECT, 0);
	hx_avail_ent(&q->r, q->avail++, sl->head);
}

static void check_answer(struct hf *h, struct slot *sl, uint32_t len)
{
	long bad;

	CHECK(!sl->done);
	sl->done = true;
	if (len != sl->w)
		CHECK_FAIL("request at head %u: used len %u, want %u", sl->head, len, sl->w);
	bad = xt_xform(h->seed, sl->iov, sl->nout, sl->niov, sl->w, true);
	if (bad >= 0)
		CHECK_FAIL("request at head %u: wrong byte at %ld of %u", sl->head, bad, sl->w);
}

void hf_traffic(struct hf *h, unsigned qi, unsigned count, unsigned batch)
{
	struct hf_q *q = &h->q[qi];
	struct slot sl[64];
	unsigned max = q->r.n / 3 < h->o.pages ? q->r.n / 3 : h->o.pages;

	max = max < 64 ? max : 64;
	batch = batch < 1 ? 1 : batch > max ? max : batch;
	for (unsigned done = 0; done < count;) {
		unsigned n = count - done < batch ? count - done : batch;

		for (unsigned s = 0; s < n; s++)
			build(h, qi, s, &sl[s]);
		hf_publish(h, qi);
		hf_kick(h, qi);
		if (!hf_wait_used(h, qi, n, HX_WAIT_MS)) {
			hx_victims_check();
			CHECK_FAIL("the backend did not complete %u requests within %d ms", n,
			           HX_WAIT_MS);
		}
		for (unsigned k = 0; k < n; k++) {
			uint32_t id, len;
			unsigned s;

			hx_used_ent_get(&q->r, q->used++, &id, &len);
			CHECK(id % 3 == 0 && id / 3 < n);
			s = id / 3;
			check_answer(h, &sl[s], len);
		}
		done += n;
	}
}
