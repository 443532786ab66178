/* SPDX-License-Identifier: MIT */
/*
 * A hostile client on a guest's hypervisor socket: malformed datagrams get
 * the connection closed, well-formed requests with bad values get an
 * error, the files it is handed cannot be shrunk, and the daemon keeps serving everyone else (a well-behaved client
 * in another domain works throughout; simtest_stop checks the daemon ends
 * with status 0, so sanitizer reports count).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hyptest.h"

static struct simtest st;
static int dom_a, dom_b;
static struct ht_reply r;

/* Is the connection closed by the daemon (EOF within 10 s)? */
static bool closed_by_daemon(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[64];

	CHECK_INT(poll(&pfd, 1, 10000), ==, 1);
	return recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == 0;
}

/* Send raw bytes on a fresh connection; expect it closed. */
static void expect_drop(const void *buf, size_t len, const char *what)
{
	int fd = ht_raw_connect(&st, dom_a);

	fprintf(stderr, "hostile: %s\n", what);
	CHECK_INT(send(fd, buf, len, MSG_NOSIGNAL), ==, (ssize_t)len);
	if (!closed_by_daemon(fd))
		CHECK_FAIL("%s: connection not closed", what);
	close(fd);
}

static void expect_drop_req(struct xvio_sim_req req, const void *payload, size_t plen,
                            const char *what)
{
	static unsigned char buf[sizeof(req) + 70000];

	memcpy(buf, &req, sizeof(req));
	if (plen)
		memcpy(buf + sizeof(req), payload, plen);
	expect_drop(buf, sizeof(req) + plen, what);
}

/* A good client in B: hello, share, end.  Run between attacks. */
static void good_client(void)
{
	int fd = ht_raw_connect(&st, dom_b);
	struct xvio_sim_req req = { .op = XVIO_SIM_OP_HELLO };
	struct xvio_sim_hello h;

	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), 0);
	CHECK_INT(r.len, ==, sizeof(h));
	memcpy(&h, r.payload, sizeof(h));
	CHECK_INT(h.version, ==, XVIO_SIM_PROTO_VERSION);
	CHECK_INT(h.domid, ==, dom_b);
	CHECK_INT(h.privileged, ==, 0);
	req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_SHARE, .count = 2, .domid = 0 };
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), 0);
	CHECK_INT(r.nfds, ==, 1);
	ht_reply_close(&r);
	req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_SHARE_END, .arg = r.rep.val };
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), 0);
	close(fd);
	simtest_check_alive(&st);
}

/* The files the daemon hands out cannot be shrunk under a mapping: a
 * guest that truncated its RAM, or a channel's line page, would make
 * every process mapping it (a backend) die of SIGBUS.  Scribbling on
 * the line words is allowed and only confuses that channel. */
static void sealed_files(void)
{
	int fd = ht_raw_connect(&st, dom_a);
	struct xvio_sim_req req = { .op = XVIO_SIM_OP_GNT_SHARE, .count = 1, .domid = 0 };

	fprintf(stderr, "hostile: truncating handed-out files\n");
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), 0);
	CHECK_INT(r.nfds, ==, 1);
	CHECK_INT(ftruncate(r.fds[0], 0), ==, -1);
	CHECK_INT(errno, ==, EPERM);
	CHECK_INT(fcntl(r.fds[0], F_ADD_SEALS, F_SEAL_GROW), ==, -1);
	ht_reply_close(&r);
	req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_EVTCHN_ALLOC_UNBOUND, .domid = dom_b };
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), 0);
	CHECK_INT(r.nfds, ==, 4);
	for (unsigned i = 2; i < 4; i++) {
		uint32_t *w = mmap(NULL, XVIO_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		                   r.fds[i], 0);

		CHECK(w != MAP_FAILED);
		CHECK_INT(ftruncate(r.fds[i], 0), ==, -1);
		CHECK_INT(errno, ==, EPERM);
		w[0] = w[1] = 0xffffffffu;
		munmap(w, XVIO_PAGE_SIZE);
	}
	ht_reply_close(&r);
	close(fd);      /* the daemon closes the port, raising nobody */
	simtest_check_alive(&st);
}

static void malformed(void)
{
	static unsigned char big[70000];
	struct xvio_sim_map_ent ents[4] = { { 0 } };
	unsigned char garbage[24];
	int fd;

	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (unsigned char)(i * 37 + 11);
	expect_drop("\x01\x00", 2, "truncated header");
	expect_drop(garbage, sizeof(garbage), "garbage header");
	expect_drop(big, sizeof(big), "oversized datagram");
	memset(big, 0xff, sizeof(big));
	expect_drop(big, 4096, "4 KiB of 0xff");
	expect_drop_req((struct xvio_sim_req){ .op = XVIO_SIM_OP_HELLO, .pad = 1 }, NULL, 0,
	                "non-zero padding");
	expect_drop_req((struct xvio_sim_req){ .op = XVIO_SIM_OP_HELLO, .count = 1 }, NULL, 0,
	                "count on an op without payload");
	expect_drop_req((struct xvio_sim_req){ .op = XVIO_SIM_OP_HELLO }, ents, 8,
	                "payload on an op without one");
	expect_drop_req((struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_SHARE, .count = 0 }, NULL, 0,
	                "share of zero pages");
	expect_drop_req((struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_SHARE,
	                                       .count = XVIO_SIM_MAX_BATCH + 1 }, NULL, 0,
	                "share beyond the batch limit");
	expect_drop_req((struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_SHARE, .count = 1,
	                                       .flags = 0x80 }, NULL, 0, "unknown flag");
	expect_drop_req((struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_MAP, .count = 5 }, ents,
	                2 * sizeof(ents[0]), "map count larger than the payload");
	expect_drop_req((struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_MAP, .count = 1 }, ents,
	                2 * sizeof(ents[0]), "map count smaller than the payload");
	expect_drop_req((struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_MAP, .count = 0xffffffffu },
	                ents, sizeof(ents), "map count 2^32-1");
	expect_drop_req((struct xvio_sim_req){ .op = XVIO_SIM_OP_DOM_DECREASE, .count = 3 }, big,
	                3 * sizeof(uint64_t) + 1, "gfn payload not a whole number of entries");
	expect_drop_req((struct xvio_sim_req){ .op = XVIO_SIM_OP_DOM_DECREASE,
	                                       .count = XVIO_SIM_MAX_BATCH + 1 },
	                big, (XVIO_SIM_MAX_BATCH + 1) * 8, "decrease beyond the batch limit");

	/* Attaching fds is not allowed: dropped, and the daemon keeps none. */
	{
		struct xvio_sim_req req = { .op = XVIO_SIM_OP_HELLO };
		struct iovec iov = { .iov_base = &req, .iov_len = sizeof(req) };
		union {
			char buf[CMSG_SPACE(sizeof(int) * 3)];
			struct cmsghdr align;
		} ctl;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
		                     .msg_controllen = sizeof(ctl.buf) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		int fds[3] = { 0, 1, 2 };

		fprintf(stderr, "hostile: fds attached\n");
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(fds));
		memcpy(CMSG_DATA(cm), fds, sizeof(fds));
		fd = ht_raw_connect(&st, dom_a);
		CHECK(sendmsg(fd, &mh, MSG_NOSIGNAL) == sizeof(req));
		CHECK(closed_by_daemon(fd));
		close(fd);
	}
	/* An empty datagram reads as end of file. */
	fd = ht_raw_connect(&st, dom_a);
	CHECK_INT(send(fd, "", 0, MSG_NOSIGNAL), ==, 0);
	CHECK(closed_by_daemon(fd));
	close(fd);
}

/* Well-formed requests with hostile values: errors, connection kept. */
static void bad_values(void)
{
	int fd = ht_raw_connect(&st, dom_a);
	struct xvio_sim_map_ent ent;
	uint64_t gfns[XVIO_SIM_MAX_BATCH];
	struct xvio_sim_req req;

	fprintf(stderr, "hostile: bad values\n");
	req = (struct xvio_sim_req){ .op = 0 };
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), -ENOSYS);
	req = (struct xvio_sim_req){ .op = 999 };
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), -ENOSYS);
	req = (struct xvio_sim_req){ .op = 0xffffffffu, .count = 7 };
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), -ENOSYS);
	/* Handles that were never issued (or belong to someone else). */
	for (uint64_t h = 0; h < 40; h++) {
		uint64_t id = h * 0x9e3779b97f4a7c15ull;

		req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_SHARE_END, .arg = id };
		CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), -EINVAL);
		req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_SHARE_ABANDON, .arg = id };
		CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), -EINVAL);
		req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_UNMAP, .arg = id };
		CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), -EINVAL);
	}
	/* A handle is per connection: another connection's is unknown. */
	{
		int fd2 = ht_raw_connect(&st, dom_a);
		uint64_t h;

		req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_SHARE, .count = 1, .domid = 0 };
		CHECK_RET(ht_raw_call(fd2, &req, NULL, 0, &r), 0);
		ht_reply_close(&r);
		h = r.rep.val;
		req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_SHARE_END, .arg = h };
		CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), -EINVAL);
		/* A used-up handle is stale. */
		CHECK_RET(ht_raw_call(fd2, &req, NULL, 0, &r), 0);
		CHECK_RET(ht_raw_call(fd2, &req, NULL, 0, &r), -EINVAL);
		close(fd2);
	}
	/* Map entries. */
	req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_MAP, .count = 1 };
	ent = (struct xvio_sim_map_ent){ .domid = 0, .pad = 7, .ref = 8 };
	CHECK_RET(ht_raw_call(fd, &req, &ent, sizeof(ent), &r), -EINVAL);
	ent = (struct xvio_sim_map_ent){ .domid = 0xffff, .ref = 8 };
	CHECK_RET(ht_raw_call(fd, &req, &ent, sizeof(ent), &r), -ESRCH);
	ent = (struct xvio_sim_map_ent){ .domid = 0, .ref = 0xffffffffu };
	CHECK_RET(ht_raw_call(fd, &req, &ent, sizeof(ent), &r), -EINVAL);
	/* A full batch of nonsense. */
	{
		static struct xvio_sim_map_ent many[XVIO_SIM_MAX_BATCH];

		for (unsigned i = 0; i < XVIO_SIM_MAX_BATCH; i++)
			many[i] = (struct xvio_sim_map_ent){ .domid = (uint16_t)(i % 3), .ref = i * 7919 };
		req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_MAP, .count = XVIO_SIM_MAX_BATCH };
		CHECK(ht_raw_call(fd, &req, many, sizeof(many), &r) < 0);
	}
	/* Shares to impossible grantees. */
	req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_SHARE, .count = 1, .domid = 0x7ff0 };
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), -EINVAL);
	req.domid = 0xffff;
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), -EINVAL);
	/* More pages than the domain has. */
	req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_GNT_SHARE, .count = XVIO_SIM_MAX_BATCH };
	for (int i = 0; i < 4; i++) {
		CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), 0);   /* 4 x 4 MiB of 16 */
		ht_reply_close(&r);
	}
	req.count = 1;
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), -ENOMEM);
	/* Ports. */
	req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_EVTCHN_BIND, .domid = 0, .arg = 1ull << 40 };
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), -EINVAL);
	req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_EVTCHN_UNBIND, .arg = 1ull << 40 };
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), -EINVAL);
	req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_EVTCHN_STATUS, .arg = 1ull << 40 };
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), 0);
	CHECK_INT(r.len, ==, sizeof(struct xvio_sim_evtchn_status));
	/* Running out of ports: -ENOSPC, nothing broken. */
	{
		int n = 0, err;

		req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_EVTCHN_ALLOC_UNBOUND, .domid = 0 };
		while ((err = ht_raw_call(fd, &req, NULL, 0, &r)) == 0) {
			ht_reply_close(&r);
			n++;
		}
		CHECK_RET(err, -ENOSPC);
		CHECK_INT(n, ==, XVIO_SIM_MAX_PORTS - 1);
	}
	/* Memory ops with nonsense gfns, and from a guest on others. */
	for (unsigned i = 0; i < XVIO_SIM_MAX_BATCH; i++)
		gfns[i] = ~(uint64_t)i;
	req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_DOM_DECREASE, .count = XVIO_SIM_MAX_BATCH,
	                             .domid = (uint16_t)dom_a };
	CHECK_RET(ht_raw_call(fd, &req, gfns, sizeof(gfns), &r), -EINVAL);
	req.op = XVIO_SIM_OP_DOM_POPULATE;
	CHECK_RET(ht_raw_call(fd, &req, gfns, sizeof(gfns), &r), -EINVAL);
	req.domid = 0;
	CHECK_RET(ht_raw_call(fd, &req, gfns, sizeof(gfns), &r), -EPERM);
	req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_DOM_SET_MAXMEM, .domid = (uint16_t)dom_a,
	                             .arg = UINT64_MAX };
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), -EPERM);
	req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_DOM_INFO, .domid = 0xffff };
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), -EPERM);
	/* Still a working connection. */
	req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_HELLO };
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), 0);
	close(fd);   /* releases the shares and ports above */
}

/* dom0 is privileged, but its values are checked too. */
static void privileged_values(void)
{
	int fd = ht_raw_connect(&st, 0);
	struct xvio_sim_req req;

	fprintf(stderr, "hostile: dom0 values\n");
	req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_DOM_INFO, .domid = 0xffff };
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), -ESRCH);
	req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_DOM_SET_MAXMEM, .domid = 0xffff,
	                             .arg = 1024 };
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), -ESRCH);
	/* A huge ceiling is accepted (as on Xen) without huge cost. */
	req = (struct xvio_sim_req){ .op = XVIO_SIM_OP_DOM_SET_MAXMEM, .domid = (uint16_t)dom_b,
	                             .arg = UINT64_MAX };
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), 0);
	req.arg = 16 * 1024;
	CHECK_RET(ht_raw_call(fd, &req, NULL, 0, &r), 0);
	close(fd);
}

/* Requests without reading replies: the daemon must not block on us. */
static void flood(void)
{
	int fd = ht_raw_connect(&st, dom_a);
	struct xvio_sim_req req = { .op = XVIO_SIM_OP_HELLO };
	int sent = 0;

	fprintf(stderr, "hostile: flood\n");
	for (int i = 0; i < 200000; i++) {
		if (send(fd, &req, sizeof(req), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			CHECK(errno == EAGAIN || errno == EPIPE || errno == ECONNRESET);
			if (errno != EAGAIN)
				break;
			usleep(100);
			continue;
		}
		sent++;
	}
	CHECK(sent > 0);
	good_client();
	close(fd);
}

/* Connect and vanish at once, many times. */
static void hit_and_run(void)
{
	fprintf(stderr, "hostile: hit and run\n");
	for (int i = 0; i < 200; i++) {
		int fd = ht_raw_connect(&st, dom_a);
		struct xvio_sim_req req = { .op = XVIO_SIM_OP_GNT_SHARE, .count = 4 };

		if (i % 2)
			send(fd, &req, sizeof(req), MSG_NOSIGNAL);
		close(fd);
	}
}

static bool clean(int err, const struct xvio_sim_dominfo *i, long n)
{
	return err == 0 && i->grants_active == 0 && i->maps_active == 0 && i->ports_bound == 0 &&
	       i->tot_pages == (uint64_t)n;
}

int main(void)
{
	simtest_start(&st, NULL);
	dom_a = ht_domain(&st, 16, 0);
	dom_b = ht_domain(&st, 16, 0);

	good_client();
	malformed();
	good_client();
	bad_values();
	good_client();
	sealed_files();
	good_client();
	privileged_values();
	flood();
	hit_and_run();
	good_client();
	/* Everything the attacker held was released. */
	CHECK(ht_wait_info(&st, dom_a, clean, 16 * 256));
	CHECK(ht_wait_info(&st, dom_b, clean, 16 * 256));

	simtest_stop(&st);
	return 0;
}
