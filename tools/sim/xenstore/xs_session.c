/* SPDX-License-Identifier: MIT */
/*
 * Requests about a connection's own state: its watches (WATCH, UNWATCH,
 * RESET_WATCHES) and its transactions (TRANSACTION_START/END).  Errors as
 * C xenstored 4.17: EEXIST for a duplicate watch, E2BIG past the watch
 * quota, ENOSPC past the transaction quota, EBUSY for a nested start,
 * ENOENT for an unknown transaction; a commit fails with EAGAIN on
 * conflict and ENOSPC if it would take the domain over its node quota.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xs_internal.h"

/* ---- watches ------------------------------------------------------------------ */

static int watch_path(struct xs_req *r, const char *arg, char **path,
                      bool *relative)
{
	int err;

	*relative = false;
	if (arg[0] == '@') {
		if (strlen(arg) > XENSTORE_REL_PATH_MAX)
			return -EINVAL;
		*path = strdup(arg);
		return *path ? 0 : -ENOMEM;
	}
	*relative = arg[0] != '/';
	*path = xs_canon(r->v.domid, arg, &err);
	return err;
}

int xs_op_watch(struct xs_req *r)
{
	const char *vec[3];
	unsigned n = xs_strings(r->p, r->len, vec, 3);
	unsigned long depth = 0;
	bool relative;
	char *path;
	int ret;

	if (n < 2)
		return -EINVAL;
	/* Optional depth (xenstore.txt); an empty string means none. */
	if (n >= 3 && vec[2][0] && xs_parse_uint(vec[2], 65535, &depth) < 0)
		return -EINVAL;
	ret = watch_path(r, vec[0], &path, &relative);
	if (ret < 0)
		return ret;
	ret = xs_watch_add(r->c, path, vec[1], relative,
	                   n >= 3 && vec[2][0] ? (int)depth : -1, &r->new_watch);
	free(path);
	return ret;
}

int xs_op_unwatch(struct xs_req *r)
{
	const char *vec[2];
	bool relative;
	char *path;
	int ret;

	if (xs_strings(r->p, r->len, vec, 2) < 2)
		return -EINVAL;
	ret = watch_path(r, vec[0], &path, &relative);
	if (ret < 0)
		return ret;
	ret = xs_watch_del(r->c, path, vec[1]);
	free(path);
	return ret;
}

int xs_op_reset_watches(struct xs_req *r)
{
	struct xs_conn *c = r->c;

	xs_watch_del_all(c);
	while (c->txs) {
		struct xs_tx *tx = c->txs;

		c->txs = tx->next;
		xs_tx_free(tx);
	}
	c->ntx = 0;
	return 0;
}

/* ---- transactions ---------------------------------------------------------------- */

struct xs_tx *xs_tx_find(struct xs_conn *c, uint32_t id)
{
	for (struct xs_tx *tx = c->txs; tx; tx = tx->next)
		if (tx->id == id)
			return tx;
	return NULL;
}

int xs_op_tx_start(struct xs_req *r)
{
	struct xs_conn *c = r->c;
	struct xs_tx *tx;
	char id[16];

	if (r->hdr->tx_id)
		return -EBUSY; /* no nested transactions */
	if (!xs_view_priv(&r->v) && r->v.s->quota.transactions &&
	    c->ntx >= r->v.s->quota.transactions)
		return -ENOSPC;
	tx = xs_tx_new(!xs_view_priv(&r->v));
	if (!tx)
		return -ENOMEM;
	do
		tx->id = c->next_txid++;
	while (tx->id == 0 || xs_tx_find(c, tx->id));
	snprintf(id, sizeof(id), "%u", tx->id);
	if (xs_req_reply_str(r, id) < 0) {
		xs_tx_free(tx);
		return -ENOMEM;
	}
	tx->next = c->txs;
	c->txs = tx;
	c->ntx++;
	return 0;
}

int xs_op_tx_end(struct xs_req *r)
{
	const char *arg = xs_req_onearg(r);
	struct xs_conn *c = r->c;
	struct xs_tx **pp, *tx;

	if (!arg || (strcmp(arg, "T") != 0 && strcmp(arg, "F") != 0))
		return -EINVAL;
	for (pp = &c->txs; *pp && (*pp)->id != r->hdr->tx_id; pp = &(*pp)->next)
		;
	if (!r->hdr->tx_id || !*pp)
		return -ENOENT;
	tx = *pp;
	*pp = tx->next;
	c->ntx--;
	if (arg[0] == 'F') {
		xs_tx_free(tx);
		return 0;
	}
	if (tx->failed) {
		xs_tx_free(tx);
		return -ENOMEM;
	}
	return xs_tx_commit(r->v.s, tx);
}
