/* SPDX-License-Identifier: MIT */
/*
 * Domains and their memory.
 *
 * A domain's RAM is one memfd; gfn g is page g of it.  The gfn space is
 * max(memory, maxmem) pages (it grows when set_maxmem raises the ceiling).
 * Each gfn is unpopulated, free (populated, not handed out) or used (the
 * daemon gave it to a share).  Pages are punched out of the memfd whenever
 * they change hands, so a fresh page is always zero and a ballooned-out
 * page costs no host memory.
 *
 * A destroyed domain loses its connections at once but its record, and
 * the memfd, stay while any page of it is mapped ("dying"); the last unmap
 * frees it and tells the daemon through hooks->domain_freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hyp_impl.h"

/* ---- records ---- */

static struct hyp_dom *dom_any(struct hyp *h, uint32_t domid)
{
	return domid < HYP_NDOMS ? h->doms[domid] : NULL;
}

struct hyp_dom *hyp_dom_get(struct hyp *h, uint32_t domid)
{
	struct hyp_dom *d = dom_any(h, domid);

	return d && !d->dying ? d : NULL;
}

struct hyp_dom *hyp_dom_alloc(struct hyp *h, uint16_t domid)
{
	struct hyp_dom *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->h = h;
	d->domid = domid;
	d->memfd = d->rofd = -1;
	h->doms[domid] = d;
	return d;
}

void hyp_dom_free(struct hyp_dom *d)
{
	hyp_dom_unlisten(d);
	hyp_grant_dom_fini(d);
	if (d->memfd >= 0)
		close(d->memfd);
	if (d->rofd >= 0)
		close(d->rofd);
	d->h->doms[d->domid] = NULL;
	free(d->pages);
	free(d);
}

void hyp_dom_maybe_free(struct hyp_dom *d)
{
	struct hyp *h = d->h;
	uint16_t domid = d->domid;

	if (!d->dying || d->maps_active)
		return;
	hyp_dom_free(d);
	/* The daemon logs it, if it wants to, from the hook. */
	if (h->hooks.domain_freed)
		h->hooks.domain_freed(h->hooks.arg, domid);
}

/* ---- RAM ---- */

/* Extend the gfn space (new gfns unpopulated), creating the memfd and its
 * read-only twin on first use. */
static int dom_grow(struct hyp_dom *d, uint64_t npages)
{
	uint8_t *pages;

	if (npages <= d->npages)
		return 0;
	if (npages > XVIO_SIM_MAX_DOM_PAGES)
		return -EINVAL;
	if (d->memfd < 0) {
		char name[32], path[64];

		snprintf(name, sizeof(name), "xvio-dom%u", (unsigned)d->domid);
		d->memfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (d->memfd < 0)
			return -errno;
		/* The guest gets this file to share its pages: it must not be
		 * able to shrink it under a backend's mapping (SIGBUS there).
		 * Growing stays ours; F_SEAL_SEAL keeps it so. */
		if (fcntl(d->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
			int err = -errno;

			close(d->memfd);
			d->memfd = -1;
			return err;
		}
		/* A new open of the same file, read-only: maps of read-only
		 * grants come from it, so PROT_WRITE (and mprotect to it) is
		 * refused on those mappings.  Not a barrier against the holder:
		 * it could reopen the file read-write via /proc/self/fd. */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", d->memfd);
		d->rofd = open(path, O_RDONLY | O_CLOEXEC);
		if (d->rofd < 0) {
			int err = -errno;

			close(d->memfd);
			d->memfd = -1;
			return err;
		}
	}
	if (ftruncate(d->memfd, (off_t)(npages << XVIO_PAGE_SHIFT)) < 0)
		return -errno;
	pages = realloc(d->pages, npages);
	if (!pages)
		return -ENOMEM;
	memset(pages + d->npages, PG_UNPOP, npages - d->npages);
	d->pages = pages;
	d->npages = npages;
	return 0;
}

/* Drop the contents of gfns [g, g + n): they read as zero afterwards. */
static void punch(struct hyp_dom *d, uint64_t g, uint64_t n)
{
	static const char zero[XVIO_PAGE_SIZE];

	if (fallocate(d->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	              (off_t)(g << XVIO_PAGE_SHIFT), (off_t)(n << XVIO_PAGE_SHIFT)) == 0)
		return;
	/* Cannot punch: zero by hand, fresh pages must never leak data. */
	for (uint64_t i = 0; i < n; i++) {
		if (pwrite(d->memfd, zero, sizeof(zero), (off_t)((g + i) << XVIO_PAGE_SHIFT)) < 0)
			break;
	}
}

static void punch_list(struct hyp_dom *d, unsigned count, const uint64_t *gfns)
{
	unsigned i = 0;

	while (i < count) {
		unsigned j = i + 1;

		while (j < count && gfns[j] == gfns[j - 1] + 1)
			j++;
		punch(d, gfns[i], j - i);
		i = j;
	}
}

/* First run of `count` free gfns at or after the hint (wrapping), or
 * UINT64_MAX.  Contiguous pages make one mapping, not one per page. */
static uint64_t find_run(const struct hyp_dom *d, unsigned count)
{
	uint64_t run = 0;

	for (uint64_t k = 0; k < d->npages; k++) {
		uint64_t g = (d->alloc_hint + k) % d->npages;

		if (g == 0)
			run = 0;   /* a run does not wrap */
		if (d->pages[g] != PG_FREE) {
			run = 0;
			continue;
		}
		if (++run == count)
			return g + 1 - count;
	}
	return UINT64_MAX;
}

int hyp_dom_alloc_pages(struct hyp_dom *d, unsigned count, uint64_t *gfns)
{
	uint64_t start;
	unsigned n = 0;

	if (d->nfree < count)
		return -ENOMEM;
	start = find_run(d, count);
	if (start != UINT64_MAX) {
		for (unsigned i = 0; i < count; i++)
			gfns[i] = start + i;
	} else {
		for (uint64_t g = 0; g < d->npages && n < count; g++) {
			if (d->pages[g] == PG_FREE)
				gfns[n++] = g;
		}
	}
	for (unsigned i = 0; i < count; i++)
		d->pages[gfns[i]] = PG_USED;
	d->nfree -= count;
	d->alloc_hint = (gfns[count - 1] + 1) % d->npages;
	punch_list(d, count, gfns);
	return 0;
}

void hyp_dom_free_pages(struct hyp_dom *d, unsigned count, const uint64_t *gfns)
{
	for (unsigned i = 0; i < count; i++)
		d->pages[gfns[i]] = PG_FREE;
	d->nfree += count;
	punch_list(d, count, gfns);
}

/* ---- the daemon's API (hyp.h) ---- */

int hyp_domain_create(struct hyp *h, uint16_t domid, uint64_t mem_kib, uint64_t maxmem_kib)
{
	uint64_t mem = mem_kib >> 2, max = maxmem_kib >> 2;
	struct hyp_dom *d;
	bool fresh = false;
	int err;

	if (domid >= HYP_NDOMS)
		return -EINVAL;
	if (max < mem)
		max = mem;
	if (max > XVIO_SIM_MAX_DOM_PAGES)
		return -EINVAL;
	d = h->doms[domid];
	if (d && (domid != 0 || d->npages || d->max_pages))
		return -EEXIST;
	if (!d) {
		d = hyp_dom_alloc(h, domid);
		if (!d)
			return -ENOMEM;
		fresh = true;
	}
	err = dom_grow(d, max);
	if (err < 0) {
		if (fresh)
			hyp_dom_free(d);
		return err;
	}
	memset(d->pages, PG_FREE, mem);
	d->tot_pages = d->nfree = mem;
	d->max_pages = max;
	return 0;
}

int hyp_domain_destroy(struct hyp *h, uint16_t domid)
{
	struct hyp_dom *d = dom_any(h, domid);

	if (domid == 0)
		return -EPERM;
	if (!d)
		return -ESRCH;
	if (d->dying)
		return -EBUSY;
	/* Closing the connections releases the domain's own maps, abandons
	 * its shares and closes its ports (peers see them unbound). */
	hyp_dom_unlisten(d);
	d->dying = true;
	if (d->maps_active)
		fprintf(stderr, "xvio-sim: hyp: dom%u dying, %u pages still mapped\n",
		        (unsigned)domid, d->maps_active);
	hyp_dom_maybe_free(d);
	return 0;
}

int hyp_domain_shutdown(struct hyp *h, uint16_t domid, unsigned reason)
{
	struct hyp_dom *d = hyp_dom_get(h, domid);

	if (!d)
		return -ESRCH;
	d->shutdown = true;
	d->shutdown_reason = reason;
	return 0;
}

int hyp_domain_info(struct hyp *h, uint16_t domid, struct hyp_dominfo *info)
{
	struct hyp_dom *d = dom_any(h, domid);

	if (!d)
		return -ESRCH;
	memset(info, 0, sizeof(*info));
	info->domid = domid;
	info->dying = d->dying;
	info->shutdown = d->shutdown;
	info->shutdown_reason = d->shutdown_reason;
	info->tot_pages = d->tot_pages;
	info->max_pages = d->max_pages;
	info->grants_active = d->gnt_used;
	info->maps_active = d->maps_active;
	info->ports_bound = d->ports_bound;
	return 0;
}

int hyp_domain_next(struct hyp *h, int after)
{
	for (long i = after < 0 ? 0 : (long)after + 1; i < HYP_NDOMS; i++) {
		if (h->doms[i])
			return (int)i;
	}
	return -ESRCH;
}

/* ---- requests ---- */

/*
 * The domain a memory op acts on.  As on Xen, a domain may act on itself
 * (DOMID_SELF or its own id); only dom0 on others.
 */
static int op_target(struct hyp_conn *c, uint16_t domid, bool allow_dying,
                     struct hyp_dom **out)
{
	struct hyp_dom *d;

	if (domid == DOMID_SELF)
		domid = c->dom->domid;
	if (domid != c->dom->domid && !hyp_privileged(c))
		return -EPERM;
	d = allow_dying ? dom_any(c->dom->h, domid) : hyp_dom_get(c->dom->h, domid);
	if (!d)
		return -ESRCH;
	*out = d;
	return 0;
}

int hyp_op_dom_info(struct hyp_conn *c, struct hyp_msg *m)
{
	struct xvio_sim_dominfo *o = m->out;
	struct hyp_dominfo info;
	struct hyp_dom *d;
	int err = op_target(c, m->req->domid, true, &d);

	if (err < 0)
		return err;
	hyp_domain_info(d->h, d->domid, &info);
	memset(o, 0, sizeof(*o));
	o->domid = info.domid;
	o->dying = info.dying;
	o->shutdown = info.shutdown;
	o->shutdown_reason = info.shutdown_reason;
	o->tot_pages = info.tot_pages;
	o->max_pages = info.max_pages;
	o->grants_active = info.grants_active;
	o->maps_active = info.maps_active;
	o->ports_bound = info.ports_bound;
	m->outlen = sizeof(*o);
	return 0;
}

static void set_gfns(struct hyp_dom *d, unsigned count, const uint64_t *gfns, uint8_t state)
{
	for (unsigned i = 0; i < count; i++)
		d->pages[gfns[i]] = state;
}

/*
 * Check that every gfn is in the space and in state `want`, marking each
 * so a duplicate in the batch fails too.  On failure the marks are undone
 * and nothing changed.
 */
static int mark_gfns(struct hyp_dom *d, unsigned count, const uint64_t *gfns, uint8_t want)
{
	for (unsigned i = 0; i < count; i++) {
		if (gfns[i] >= d->npages || d->pages[gfns[i]] != want) {
			set_gfns(d, i, gfns, want);
			return -EINVAL;
		}
		d->pages[gfns[i]] = PG_MARK;
	}
	return 0;
}

/* A balloon request: its target domain, with the batch of gfns marked as
 * above. */
static int mem_batch(struct hyp_conn *c, struct hyp_msg *m, uint8_t want, struct hyp_dom **d)
{
	int err = op_target(c, m->req->domid, false, d);

	return err < 0 ? err : mark_gfns(*d, m->req->count, m->payload, want);
}

int hyp_op_dom_decrease(struct hyp_conn *c, struct hyp_msg *m)
{
	const uint64_t *gfns = m->payload;
	unsigned count = m->req->count;
	struct hyp_dom *d;
	/* Only free pages: a used page is granted or about to be. */
	int err = mem_batch(c, m, PG_FREE, &d);

	if (err < 0)
		return err;
	for (unsigned i = 0; i < count; i++) {
		d->pages[gfns[i]] = PG_UNPOP;
		punch(d, gfns[i], 1);
	}
	d->tot_pages -= count;
	d->nfree -= count;
	return 0;
}

int hyp_op_dom_populate(struct hyp_conn *c, struct hyp_msg *m)
{
	const uint64_t *gfns = m->payload;
	unsigned count = m->req->count;
	struct hyp_dom *d;
	int err = mem_batch(c, m, PG_UNPOP, &d);

	if (err < 0)
		return err;
	if (d->tot_pages + count > d->max_pages) {
		set_gfns(d, count, gfns, PG_UNPOP);
		return -ENOMEM;
	}
	set_gfns(d, count, gfns, PG_FREE);
	d->tot_pages += count;
	d->nfree += count;
	return 0;
}

int hyp_op_dom_set_maxmem(struct hyp_conn *c, struct hyp_msg *m)
{
	uint64_t pages = m->req->arg >> 2;
	struct hyp_dom *d;
	int err;

	/* A domctl on Xen: dom0 only, even on itself. */
	if (!hyp_privileged(c))
		return -EPERM;
	err = op_target(c, m->req->domid, false, &d);
	if (err < 0)
		return err;
	err = dom_grow(d, pages < XVIO_SIM_MAX_DOM_PAGES ? pages : XVIO_SIM_MAX_DOM_PAGES);
	if (err < 0)
		return err;
	/* As on Xen, lowering below tot_pages is allowed: populate then fails
	 * until the domain has ballooned down. */
	d->max_pages = pages;
	return 0;
}
