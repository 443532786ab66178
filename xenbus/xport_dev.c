/* SPDX-License-Identifier: MIT */
/*
 * What the two roles' device objects (xport_back.c, xport_front.c) do the
 * same way: where a role looks for its devices, which directories become
 * device objects, and how an accepted device starts.  The objects and
 * their sessions differ (a backend maps and validates, a frontend grants
 * and negotiates), so only these steps are shared.
 */
#include <errno.h>
#include <stdio.h>

#include "xport_impl.h"

void xport_scan_init(struct xport_scan *s, struct xvio_xport_ctx *c, enum xvio_xb_role role,
                     const char *kind, void (*found)(struct xport_scan *s, const char *path))
{
	bool back = role == XVIO_XB_BACKEND;

	s->ctx = c;
	/* Backends: <base>/<frontend domid>/<devid>; frontends: <base>/<devid>. */
	s->depth = back ? 2 : 1;
	s->found = found;
	snprintf(s->base, sizeof(s->base), "/local/domain/%u/%s/%s",
	         (unsigned)xvio_xport_ctx_domid(c), back ? "backend" : "device", kind);
}

bool xport_dev_wanted(struct xvio_xport_ctx *c, const char *path, unsigned *id)
{
	/* No state node yet: the toolstack is still writing the directory
	 * (its transaction's watch event comes later). */
	return xport_path_id(path, UINT32_MAX, id) == 0 &&
	       xvio_xs_exists(xvio_xport_ctx_xs(c), XBT_NULL, path, "state") == 1;
}

int xport_dev_watch(struct xvio_xb_dev *xb, struct xvio_xport_ctx *c, struct xvio_err *err)
{
	int rc = xvio_xb_dev_watch(xb, xvio_xport_ctx_watcher(c), err);

	if (rc < 0)
		return rc;
	if (xvio_xb_dev_process(xb) == XVIO_XB_RELEASED)
		return -ENODEV;
	return 0;
}
