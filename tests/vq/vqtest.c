/* SPDX-License-Identifier: MIT */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "vqtest.h"

static int area_map(void *ctx, uint64_t addr, uint32_t len, bool write, void **ptr,
                    void **token)
{
	struct vqt_area *a = ctx;

	if (a->refuse)
		return -a->refuse;
	if (addr > a->len || len > a->len - addr)
		return -EFAULT;
	*ptr = a->mem + addr;
	*token = a;
	a->maps++;
	return 0;
}

static void area_unmap(void *ctx, void *token)
{
	struct vqt_area *a = ctx;

	CHECK(token == a);
	a->unmaps++;
}

/* Used ring offset per protocol §4, written out again on purpose. */
static size_t layout_used_off(unsigned n)
{
	size_t a = 16 * (size_t)n + 6 + 2 * (size_t)n;

	return (a + 4095) / 4096 * 4096;
}

void vqt_open(struct vqt *t, unsigned size, uint64_t feat)
{
	memset(t, 0, sizeof(*t));
	t->size = size;
	t->feat = feat;
	t->used_off = layout_used_off(size);
	t->bytes = xvio_vring_bytes(size);
	CHECK_INT(t->bytes, ==, t->used_off + 6 + 8 * (size_t)size);
	t->ring = calloc(1, t->bytes);
	CHECK(t->ring);
	t->area.len = VQT_AREA_BYTES;
	t->area.mem = calloc(1, t->area.len);
	CHECK(t->area.mem);
	t->xl = (struct xvio_vq_xlate){ .map = area_map, .unmap = area_unmap, .ctx = &t->area };
	CHECK_INT(xvio_vqd_new(t->ring, size, feat, &t->d), ==, 0);
	CHECK_INT(xvio_vqdev_new(t->ring, size, feat, &t->v), ==, 0);
}

void vqt_close(struct vqt *t)
{
	CHECK_INT(t->area.maps, ==, t->area.unmaps);
	xvio_vqd_free(t->d);
	xvio_vqdev_free(t->v);
	free(t->ring);
	free(t->area.mem);
}

uint64_t vqt_seed(uint64_t dflt)
{
	const char *s = getenv("VQT_SEED");
	uint64_t v = s ? strtoull(s, NULL, 0) : dflt;

	fprintf(stderr, "seed %llu (set VQT_SEED to replay)\n", (unsigned long long)v);
	return v ? v : 1;
}

uint64_t vqt_rand(uint64_t *s)
{
	return test_rng(s);
}

uint64_t vqt_range(uint64_t *s, uint64_t lo, uint64_t hi)
{
	return lo + vqt_rand(s) % (hi - lo + 1);
}

/* ---- raw access ---- */

static void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static uint8_t *avail(const struct vqt *t)
{
	return t->ring + 16 * (size_t)t->size;
}

static uint8_t *used(const struct vqt *t)
{
	return t->ring + t->used_off;
}

void vqt_put_desc(uint8_t *p, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	addr = htole64(addr);
	memcpy(p, &addr, 8);
	put32(p + 8, len);
	put16(p + 12, flags);
	put16(p + 14, next);
}

void vqt_desc(struct vqt *t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
              uint16_t next)
{
	CHECK(i < t->size);
	vqt_put_desc(t->ring + 16 * (size_t)i, addr, len, flags, next);
}

void vqt_post(struct vqt *t, uint16_t head)
{
	put16(avail(t) + 4 + 2 * (size_t)(t->raw_avail & (t->size - 1)), head);
	t->raw_avail++;
	put16(avail(t) + 2, t->raw_avail);
}

void vqt_set_avail_idx(struct vqt *t, uint16_t idx)
{
	put16(avail(t) + 2, idx);
}

uint16_t vqt_avail_idx(const struct vqt *t)
{
	return get16(avail(t) + 2);
}

uint16_t vqt_avail_flags(const struct vqt *t)
{
	return get16(avail(t));
}

uint16_t vqt_used_event(const struct vqt *t)
{
	return get16(avail(t) + 4 + 2 * (size_t)t->size);
}

uint16_t vqt_avail_head(const struct vqt *t, uint16_t pos)
{
	return get16(avail(t) + 4 + 2 * (size_t)(pos & (t->size - 1)));
}

void vqt_used(struct vqt *t, uint16_t pos, uint32_t id, uint32_t len)
{
	uint8_t *e = used(t) + 4 + 8 * (size_t)(pos & (t->size - 1));

	put32(e, id);
	put32(e + 4, len);
}

void vqt_set_used_idx(struct vqt *t, uint16_t idx)
{
	put16(used(t) + 2, idx);
}

uint16_t vqt_used_idx(const struct vqt *t)
{
	return get16(used(t) + 2);
}

uint16_t vqt_used_flags(const struct vqt *t)
{
	return get16(used(t));
}

uint16_t vqt_avail_event(const struct vqt *t)
{
	return get16(used(t) + 4 + 8 * (size_t)t->size);
}

/* ---- broken-queue expectations ---- */

static void check_msg(const char *msg, const char *want)
{
	CHECK(msg);
	fprintf(stderr, "message: %s\n", msg);
	if (!strstr(msg, want))
		CHECK_FAIL("message \"%s\" lacks \"%s\"", msg, want);
}

void vqt_expect_dev_broken(struct vqt *t, int rc, const char *want)
{
	static struct xvio_chain c;
	char first[256];

	CHECK_INT(rc, ==, -EPROTO);
	CHECK(xvio_vqdev_broken(t->v));
	check_msg(xvio_vqdev_error(t->v), want);
	snprintf(first, sizeof(first), "%s", xvio_vqdev_error(t->v));
	CHECK_INT(xvio_vqdev_pop(t->v, &t->xl, &c), ==, -EPROTO);
	CHECK_INT(xvio_vqdev_push(t->v, 0, 0), ==, -EPROTO);
	CHECK(!xvio_vqdev_need_notify(t->v));
	xvio_vqdev_fail(t->v, "a later failure");
	CHECK_STR(xvio_vqdev_error(t->v), first);
	CHECK_INT(t->area.maps, ==, t->area.unmaps);
}

void vqt_expect_drv_broken(struct vqt *t, int rc, const char *want)
{
	struct xvio_seg s = { .addr = 0, .len = 1, .write = true };
	void *cookie;
	uint32_t len;
	char first[256];

	CHECK_INT(rc, ==, -EPROTO);
	CHECK(xvio_vqd_broken(t->d));
	check_msg(xvio_vqd_error(t->d), want);
	snprintf(first, sizeof(first), "%s", xvio_vqd_error(t->d));
	CHECK_INT(xvio_vqd_get_used(t->d, &cookie, &len), ==, -EPROTO);
	CHECK_INT(xvio_vqd_add(t->d, &s, 1, NULL, NULL), ==, -EPROTO);
	CHECK(!xvio_vqd_kick_prepare(t->d));
	CHECK(!xvio_vqd_enable_cb(t->d));
	CHECK_STR(xvio_vqd_error(t->d), first);
}
