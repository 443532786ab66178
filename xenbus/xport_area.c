/* SPDX-License-Identifier: MIT */
/*
 * The frontend's device-visible memory (protocol §5): pages granted to the
 * backend once and kept across sessions, and a buddy allocator over them.
 *
 * Why a buddy allocator: blocks are naturally aligned powers of two, so a
 * block never crosses a 4 MiB chunk (one share, one local mapping) and a
 * block of up to a page never crosses a page, which in grant mode keeps a
 * small buffer, and every indirect table, on one grant.  Allocation and
 * free are O(orders).  The bookkeeping is private: the backend may write
 * anywhere in the area.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xport_impl.h"

#define MIN_ORDER 6u                 /* 64-byte blocks */
#define MAX_ORDER XPORT_CHUNK_SHIFT  /* 4 MiB */
#define NONE UINT32_MAX

/* ---- grants ---- */

void xport_share_release(struct xvio_gnt_share *s, bool may_end)
{
	if (!s)
		return;
	/* -EBUSY: the backend still maps a page; the platform ends the grant
	 * once it lets go, and the page is never reused (§7). */
	if (!may_end || xvio_gnt_share_end(s) < 0)
		xvio_gnt_share_abandon(s);
}

/* ---- buddy allocator (units of 64 bytes) ---- */

static void list_add(struct xport_area *a, uint32_t u, unsigned order)
{
	uint32_t h = a->head[order];

	a->tag[u] = (uint8_t)(order + 1);
	a->fprev[u] = NONE;
	a->fnext[u] = h;
	if (h != NONE)
		a->fprev[h] = u;
	a->head[order] = u;
}

static void list_del(struct xport_area *a, uint32_t u, unsigned order)
{
	uint32_t n = a->fnext[u], p = a->fprev[u];

	a->tag[u] = 0;
	if (p != NONE)
		a->fnext[p] = n;
	else
		a->head[order] = n;
	if (n != NONE)
		a->fprev[n] = p;
}

int xport_buddy_init(struct xport_area *a, uint32_t bytes)
{
	uint32_t u = 0;

	a->units = bytes >> MIN_ORDER;
	a->tag = calloc(a->units, 1);
	a->fnext = malloc(a->units * sizeof(uint32_t));
	a->fprev = malloc(a->units * sizeof(uint32_t));
	if (!a->tag || !a->fnext || !a->fprev)
		return -ENOMEM;
	for (unsigned o = 0; o < 32; o++)
		a->head[o] = NONE;
	/* Cut [0, bytes) into the largest aligned blocks that fit. */
	while (u < a->units) {
		unsigned o = MAX_ORDER;

		while (o > MIN_ORDER && (((u << MIN_ORDER) & ((1u << o) - 1)) ||
		                         u + (1u << (o - MIN_ORDER)) > a->units))
			o--;
		list_add(a, u, o);
		u += 1u << (o - MIN_ORDER);
	}
	return 0;
}

void xport_buddy_fini(struct xport_area *a)
{
	free(a->tag);
	free(a->fnext);
	free(a->fprev);
	a->tag = NULL;
	a->fnext = a->fprev = NULL;
}

int xport_area_alloc(struct xport_area *a, uint32_t len, struct xvio_xport_buf *b)
{
	unsigned want = MIN_ORDER, o;
	uint32_t u;

	if (len == 0 || len > XVIO_XPORT_MAX_BUF)
		return -EINVAL;
	if (!a->tag)
		return -ENOTCONN;
	while ((1u << want) < len)
		want++;
	for (o = want; o <= MAX_ORDER && a->head[o] == NONE; o++)
		;
	if (o > MAX_ORDER)
		return -ENOMEM;
	u = a->head[o];
	list_del(a, u, o);
	/* Split: keep the lower half, free the upper halves. */
	while (o > want) {
		o--;
		list_add(a, u + (1u << (o - MIN_ORDER)), o);
	}
	b->off = u << MIN_ORDER;
	b->order = (uint8_t)want;
	b->len = len;
	b->ptr = xport_area_ptr(a, b->off);
	a->used_bytes += 1u << want;
	return 0;
}

void xport_area_free(struct xport_area *a, struct xvio_xport_buf *b)
{
	uint32_t u = b->off >> MIN_ORDER;
	unsigned o = b->order;

	if (!a->tag || !b->ptr)
		return;
	a->used_bytes -= 1u << o;
	/* Merge with the buddy while it is a free block of the same order. */
	while (o < MAX_ORDER) {
		uint32_t bud = u ^ (1u << (o - MIN_ORDER));

		if (bud >= a->units || a->tag[bud] != o + 1)
			break;
		list_del(a, bud, o);
		u &= ~(1u << (o - MIN_ORDER));
		o++;
	}
	list_add(a, u, o);
	b->ptr = NULL;
	b->len = 0;
}

/* ---- creation ---- */

/* The directory (§5.1): refs of data pages as little-endian u32, 1024 a
 * page, the tail zero.  Granted read-only; our mapping is writable. */
static int make_dir(struct xport_area *a, struct xvio_plat *p, xvio_domid_t be,
                    struct xvio_err *err)
{
	uint8_t *dir;
	void *addr;
	int rc;

	a->ndir = (a->pages + XPORT_REFS_PER_DIR - 1) / XPORT_REFS_PER_DIR;
	rc = xvio_gnt_share(p, be, a->ndir, false, a->dir_refs, &addr, &a->dir_share);
	if (rc < 0) {
		xvio_err_set(err, -rc, "cannot grant %u data-area directory pages: %s", a->ndir,
		             strerror(-rc));
		a->ndir = 0;
		return rc;
	}
	dir = addr;
	for (unsigned i = 0; i < a->pages; i++) {
		uint32_t le = htole32(a->refs[i]);

		memcpy(dir + (size_t)i * 4, &le, 4);
	}
	return 0;
}

int xport_area_create(struct xport_area *a, struct xvio_plat *p, xvio_domid_t be,
                      unsigned pages, bool dir, struct xvio_err *err)
{
	int rc;

	memset(a, 0, sizeof(*a));
	if (pages == 0 || pages > XVIO_XPORT_MAX_AREA_PAGES)
		return xvio_err_set(err, EINVAL, "area of %u pages", pages);
	a->pages = pages;
	a->refs = calloc(pages, sizeof(*a->refs));
	if (!a->refs) {
		rc = xvio_err_set(err, ENOMEM, "area: out of memory");
		goto fail;
	}
	for (unsigned done = 0; done < pages; a->nchunks++) {
		unsigned n = pages - done < XPORT_CHUNK_PAGES ? pages - done : XPORT_CHUNK_PAGES;
		void *addr;

		rc = xvio_gnt_share(p, be, n, true, a->refs + done, &addr,
		                    &a->share[a->nchunks]);
		if (rc < 0) {
			xvio_err_set(err, -rc, "cannot grant %u area pages: %s", n, strerror(-rc));
			goto fail;
		}
		a->base[a->nchunks] = addr;
		done += n;
	}
	rc = dir ? make_dir(a, p, be, err) : 0;
	if (rc < 0)
		goto fail;
	rc = xport_buddy_init(a, pages * XVIO_PAGE_SIZE);
	if (rc < 0) {
		xvio_err_set(err, ENOMEM, "area allocator: out of memory");
		goto fail;
	}
	return 0;
fail:
	/* Never published: nobody maps these yet. */
	xport_area_destroy(a, true);
	return rc;
}

void xport_area_destroy(struct xport_area *a, bool may_end)
{
	for (unsigned i = 0; i < a->nchunks; i++)
		xport_share_release(a->share[i], may_end);
	xport_share_release(a->dir_share, may_end);
	xport_buddy_fini(a);
	free(a->refs);
	memset(a, 0, sizeof(*a));
}
