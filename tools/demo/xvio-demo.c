/* SPDX-License-Identifier: MIT */
/*
 * xvio-demo: the smallest split-driver conversation, to show the pieces
 * working between two domains.
 *
 *   xvio-demo guest DOM0ID    (run in the guest) shares a page holding a
 *       greeting, offers an event channel, publishes both in xenstore under
 *       data/xvio-demo, and waits for dom0's answer.
 *   xvio-demo dom0 GUESTID    (run in dom0) waits for the keys, maps the
 *       grant, reads the greeting, writes an answer into the same page,
 *       binds the event channel and notifies.
 *
 * Run them through `xvio-sim exec` so each talks as its domain.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenstore.h>

#include "plat.h"
#include "xenbus.h"

#define ANSWER_OFF 2048

static int die(const char *what, int err)
{
	fprintf(stderr, "xvio-demo: %s: %s\n", what, strerror(err));
	return 1;
}

/* Wait for an event on `port`, up to timeout_ms. */
static int wait_event(struct xvio_evtchn *e, int port, int timeout_ms)
{
	struct pollfd p = { .fd = xvio_evtchn_fd(e), .events = POLLIN };

	for (;;) {
		int got = xvio_evtchn_pending(e);

		if (got >= 0) {
			xvio_evtchn_unmask(e, (xvio_port_t)got);
			if (got == port)
				return 0;
			continue;
		}
		if (got != -EAGAIN)
			return got;
		if (poll(&p, 1, timeout_ms) == 0)
			return -ETIMEDOUT;
	}
}

static int guest(int backend)
{
	struct xvio_plat *p;
	struct xvio_evtchn *e;
	struct xvio_gnt_share *s;
	struct xs_handle *h = xs_open(0);
	xvio_gref_t ref;
	xvio_domid_t self;
	char *page;
	int port, err;

	if (!h)
		return die("xs_open", errno);
	if ((err = xvio_plat_open(NULL, &p)) < 0 || (err = xvio_plat_self_domid(p, &self)) < 0)
		return die("platform", -err);
	err = xvio_gnt_share(p, (xvio_domid_t)backend, 1, true, &ref, (void **)&page, &s);
	if (err < 0)
		return die("grant a page", -err);
	snprintf(page, ANSWER_OFF, "hello from domain %u, through grant ref %u", self, ref);
	if ((err = xvio_evtchn_open(p, &e)) < 0)
		return die("event channel", -err);
	port = xvio_evtchn_alloc_unbound(e, (xvio_domid_t)backend);
	if (port < 0)
		return die("alloc unbound port", -port);
	printf("guest %u: granted page ref %u and port %d to domain %d\n", self, ref, port, backend);
	fflush(stdout);
	if ((err = xvio_xs_printf(h, XBT_NULL, "data/xvio-demo", "ring-ref", NULL, "%u", ref)) < 0 ||
	    (err = xvio_xs_printf(h, XBT_NULL, "data/xvio-demo", "event-channel", NULL, "%d", port)) < 0)
		return die("xenstore write", -err);
	err = wait_event(e, port, 20000);
	if (err < 0)
		return die("waiting for dom0", -err);
	page[XVIO_PAGE_SIZE - 1] = '\0';
	printf("guest %u: event on port %d; dom0 wrote: \"%s\"\n", self, port, page + ANSWER_OFF);
	/* dom0 unmaps right after notifying; ending may need a moment. */
	for (int i = 0; (err = xvio_gnt_share_end(s)) == -EBUSY && i < 2000; i++)
		usleep(1000);
	if (err < 0)
		return die("end the grant", -err);
	printf("guest %u: grant ended, page freed\n", self);
	xvio_evtchn_close(e);
	xvio_plat_close(p);
	xs_close(h);
	return 0;
}

/* Wait for the guest's key (up to 20 s) and parse it strictly. */
static int read_key(struct xs_handle *h, int guest_id, const char *key, uint32_t *out,
                    struct xvio_err *err)
{
	char dir[96];
	int r = -ENOENT;

	snprintf(dir, sizeof(dir), "/local/domain/%d/data/xvio-demo", guest_id);
	for (int i = 0; i < 20000 && r == -ENOENT; i++) {
		r = xvio_xs_read_u32(h, XBT_NULL, dir, key, 0, UINT32_MAX, out, err);
		if (r == -ENOENT)
			usleep(1000);
	}
	return r;
}

static int dom0(int guest_id)
{
	struct xvio_plat *p;
	struct xvio_evtchn *e;
	struct xvio_gnt_map *m;
	struct xs_handle *h = xs_open(0);
	struct xvio_err xe;
	uint32_t ref, rport;
	char *page;
	int port, err;

	if (!h)
		return die("xs_open", errno);
	/* Peer-written values: the typed reader parses them strictly. */
	if (read_key(h, guest_id, "ring-ref", &ref, &xe) < 0 ||
	    read_key(h, guest_id, "event-channel", &rport, &xe) < 0) {
		fprintf(stderr, "xvio-demo: %s\n", xe.msg);
		return 1;
	}
	if ((err = xvio_plat_open(NULL, &p)) < 0)
		return die("platform", -err);
	err = xvio_gnt_map_domain(p, (xvio_domid_t)guest_id, 1, &ref,
	                          true, (void **)&page, &m);
	if (err < 0)
		return die("map the guest's grant", -err);
	printf("dom0: mapped ref %u of domain %d; it says: \"%.*s\"\n", ref, guest_id,
	       ANSWER_OFF - 1, page);
	snprintf(page + ANSWER_OFF, XVIO_PAGE_SIZE - ANSWER_OFF,
	         "hello domain %d, dom0 read your page", guest_id);
	if ((err = xvio_evtchn_open(p, &e)) < 0)
		return die("event channel", -err);
	port = xvio_evtchn_bind_interdomain(e, (xvio_domid_t)guest_id, (xvio_port_t)rport);
	if (port < 0)
		return die("bind the guest's port", -port);
	err = xvio_gnt_unmap(m);
	if (err < 0)
		return die("unmap", -err);
	err = xvio_evtchn_notify(e, (xvio_port_t)port);
	if (err < 0)
		return die("notify", -err);
	printf("dom0: bound port %d to guest port %u, answered, unmapped, notified\n", port, rport);
	xvio_evtchn_close(e);
	xvio_plat_close(p);
	xs_close(h);
	return 0;
}

int main(int argc, char **argv)
{
	char *end;
	long id;

	if (argc != 3 || (strcmp(argv[1], "guest") && strcmp(argv[1], "dom0"))) {
		fputs("usage: xvio-demo guest DOM0ID | xvio-demo dom0 GUESTID\n", stderr);
		return 2;
	}
	id = strtol(argv[2], &end, 10);
	if (*end || id < 0 || id > 0x7fef) {
		fputs("xvio-demo: bad domain id\n", stderr);
		return 2;
	}
	return strcmp(argv[1], "guest") == 0 ? guest((int)id) : dom0((int)id);
}
