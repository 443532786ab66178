/* SPDX-License-Identifier: MIT */
/*
 * Watch dispatch on one libxenstore handle.
 *
 * libxenstore queues watch events in the handle (its reader thread) and
 * keeps xs_fileno() readable while the queue is non-empty; xs_check_watch()
 * pops one event without blocking.  We pop at most a budget of events per
 * call, fold identical ones, and run callbacks found through a private
 * registration table: the token on the wire only carries a number, which
 * is looked up, never trusted as a pointer or an index.
 *
 * Connection loss (libxenstore 4.17, tools/libs/store/xs.c): the reader
 * thread, started by the first xs_watch(), loops in read_message() until a
 * read fails (the server closed the socket: EOF, reported as EBADF), then
 * closes the socket, sets the handle's fd to -1 and wakes the threads
 * blocked in a request or in xs_read_watch().  It never writes the watch
 * pipe, so xs_fileno() stays quiet and a loop sleeping on it alone sleeps
 * forever.  From then on xs_check_watch() still hands out the events
 * queued before, then fails with EINVAL (empty queue, no connection)
 * instead of EAGAIN: that is how dispatch tells, for the price of one
 * uncontended lock, and why loops wake every XVIO_WATCH_CHECK_MS.  Only
 * a socket connection (xenstored's socket in dom0, the simulator) ends
 * this way; through /dev/xen/xenbus the kernel keeps the connection.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenbus.h"

#define TOKEN_PREFIX "xvio-"
#define TOKEN_MAX 24

struct reg {
	int id;
	xvio_watch_fn fn;
	void *arg;
	char *path;
};

struct xvio_watcher {
	struct xs_handle *xs;
	/* Sorted by id (ids only grow), so lookup is a binary search. */
	struct reg *regs;
	size_t nregs, cap;
	int next_id;
	struct xvio_watch_stats stats;
};

/* One popped event: the registration id and libxenstore's vector. */
struct event {
	int id;
	char **vec;
};

int xvio_watcher_new(struct xs_handle *h, struct xvio_watcher **out)
{
	struct xvio_watcher *w;

	if (!h || !out)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->xs = h;
	w->next_id = 1;
	/* Create libxenstore's notification pipe now, so the fd is stable. */
	if (xs_fileno(h) < 0) {
		free(w);
		return -EIO;
	}
	*out = w;
	return 0;
}

static void token_of(char *buf, int id)
{
	snprintf(buf, TOKEN_MAX, TOKEN_PREFIX "%d", id);
}

void xvio_watcher_free(struct xvio_watcher *w)
{
	char token[TOKEN_MAX];

	if (!w)
		return;
	for (size_t i = 0; i < w->nregs; i++) {
		token_of(token, w->regs[i].id);
		xs_unwatch(w->xs, w->regs[i].path, token);
		free(w->regs[i].path);
	}
	free(w->regs);
	free(w);
}

int xvio_watcher_fd(struct xvio_watcher *w)
{
	if (!w)
		return -EINVAL;
	return xs_fileno(w->xs);
}

static struct reg *find_reg(struct xvio_watcher *w, int id)
{
	size_t lo = 0, hi = w->nregs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (w->regs[mid].id == id)
			return &w->regs[mid];
		if (w->regs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int xvio_watch_add(struct xvio_watcher *w, const char *path, xvio_watch_fn fn,
                   void *arg, struct xvio_err *err)
{
	char token[TOKEN_MAX];
	struct reg *r;
	int id, e;

	if (!w || !path || !fn)
		return xvio_err_set(err, EINVAL, "watch: invalid argument");
	if (strlen(path) > XENSTORE_ABS_PATH_MAX)
		return xvio_err_set(err, ENAMETOOLONG, "watch: path too long");
	if (w->next_id == INT32_MAX)
		return xvio_err_set(err, ENOSPC, "%s: out of watch ids", path);
	if (w->nregs == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 8;
		struct reg *n = realloc(w->regs, cap * sizeof(*n));

		if (!n)
			return xvio_err_set(err, ENOMEM, "%s: out of memory", path);
		w->regs = n;
		w->cap = cap;
	}
	r = &w->regs[w->nregs];
	r->path = strdup(path);
	if (!r->path)
		return xvio_err_set(err, ENOMEM, "%s: out of memory", path);
	id = w->next_id++;
	r->id = id;
	r->fn = fn;
	r->arg = arg;
	/* Registered before xs_watch, whose initial event may be queued at once. */
	w->nregs++;
	token_of(token, id);
	errno = 0;
	if (!xs_watch(w->xs, path, token)) {
		e = errno ? errno : EIO;
		w->nregs--;
		free(w->regs[w->nregs].path);
		return xvio_err_set(err, e, "%s: watch failed: %s", path, strerror(e));
	}
	return id;
}

int xvio_watch_remove(struct xvio_watcher *w, int id)
{
	char token[TOKEN_MAX];
	struct reg *r;
	size_t i;

	if (!w)
		return -EINVAL;
	r = find_reg(w, id);
	if (!r)
		return -ENOENT;
	token_of(token, id);
	/*
	 * A failed unwatch (connection gone) changes nothing for us: events
	 * still queued for this token are dropped by the lookup.
	 */
	xs_unwatch(w->xs, r->path, token);
	free(r->path);
	i = (size_t)(r - w->regs);
	memmove(&w->regs[i], &w->regs[i + 1], (w->nregs - i - 1) * sizeof(*r));
	w->nregs--;
	return 0;
}

/* "xvio-<id>", id 1..INT32_MAX in canonical decimal, else 0. */
static int parse_token(const char *tok)
{
	uint64_t id;
	const char *digits;

	if (strncmp(tok, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) != 0)
		return 0;
	digits = tok + strlen(TOKEN_PREFIX);
	if (xvio_parse_u64("token", digits, strnlen(digits, TOKEN_MAX), 0, 1,
	                   INT32_MAX, &id, NULL) < 0)
		return 0;
	return (int)id;
}

static bool same_event(const struct event *a, const struct event *b)
{
	return a->id == b->id &&
	       strcmp(a->vec[XS_WATCH_PATH], b->vec[XS_WATCH_PATH]) == 0;
}

/* Pop up to budget events; returns how many, or -errno. */
static int collect(struct xvio_watcher *w, struct event *ev, unsigned budget,
                   unsigned *nev, unsigned *taken)
{
	*nev = 0;
	for (*taken = 0; *taken < budget; (*taken)++) {
		char **vec;
		int id;

		errno = 0;
		vec = xs_check_watch(w->xs);
		if (!vec) {
			if (errno == EAGAIN)
				return 0;
			/* EINVAL: the queue is empty and the reader thread has
			 * closed the connection (see the top of the file). */
			if (errno == EINVAL)
				return -ENOTCONN;
			return -(errno ? errno : EIO);
		}
		w->stats.events++;
		id = parse_token(vec[XS_WATCH_TOKEN]);
		if (id == 0 || !find_reg(w, id)) {
			w->stats.dropped++;
			free(vec);
			continue;
		}
		ev[*nev].id = id;
		ev[*nev].vec = vec;
		/* Fold into an identical earlier event of this batch. */
		bool dup = false;
		for (unsigned j = 0; j < *nev && !dup; j++)
			dup = same_event(&ev[j], &ev[*nev]);
		if (dup) {
			w->stats.coalesced++;
			free(vec);
			continue;
		}
		(*nev)++;
	}
	return 0;
}

int xvio_watcher_dispatch(struct xvio_watcher *w, unsigned budget)
{
	struct event ev[XVIO_WATCH_BATCH_MAX];
	unsigned nev, taken;
	int rc;

	if (!w || budget == 0 || budget > XVIO_WATCH_BATCH_MAX)
		return -EINVAL;
	rc = collect(w, ev, budget, &nev, &taken);
	for (unsigned i = 0; i < nev; i++) {
		/* Look up again: an earlier callback may have removed it. */
		struct reg *r = find_reg(w, ev[i].id);

		if (r) {
			xvio_watch_fn fn = r->fn;
			void *arg = r->arg;

			w->stats.delivered++;
			fn(w, ev[i].id, ev[i].vec[XS_WATCH_PATH], arg);
		} else {
			w->stats.dropped++;
		}
		free(ev[i].vec);
	}
	if (rc < 0 && taken == 0)
		return rc;
	return (int)taken;
}

void xvio_watcher_stats(const struct xvio_watcher *w, struct xvio_watch_stats *out)
{
	if (w && out)
		*out = w->stats;
}
