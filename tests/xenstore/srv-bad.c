/* SPDX-License-Identifier: MIT */
/*
 * Hostile clients over raw sockets: garbage, truncated and oversized
 * messages, clients that vanish mid-message or never read, and random
 * well-framed requests.  After each, another client must have been served
 * meanwhile and the server must be alive and consistent.  One case per
 * argv[1].
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "xstest.h"

static struct xstest T;
static struct xs_handle *D0;

/* Another client gets an answer right now. */
static void others_served(void)
{
	char *v;

	CHECK(xs_write(D0, XBT_NULL, "/alive", "yes", 3));
	v = xs_read(D0, XBT_NULL, "/alive", NULL);
	CHECK_STR(v, "yes");
	free(v);
}

static void healthy(void)
{
	char *r;

	xstest_check_alive(&T);
	others_served();
	r = xs_control_command(D0, "check", NULL, 0);
	CHECK_STR(r, "OK");
	free(r);
}

/* The server closed fd: recv sees EOF (after any pending replies). */
static void expect_closed(int fd)
{
	char buf[256];

	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, 5000) != 1)
			CHECK_FAIL("connection not closed by the server");
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0)
			return;
		if (n < 0) {
			CHECK(errno == ECONNRESET);
			return;
		}
	}
}

static void case_garbage(void)
{
	int fd = xstest_raw(&T, 0);
	char junk[512];

	memset(junk, 0xa5, sizeof(junk));
	CHECK(send(fd, junk, sizeof(junk), MSG_NOSIGNAL) == (ssize_t)sizeof(junk));
	expect_closed(fd);
	close(fd);
	healthy();
}

static void case_oversized(void)
{
	static const uint32_t lens[] = { XENSTORE_PAYLOAD_MAX + 1, 65536,
	                                 UINT32_MAX };

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		int fd = xstest_raw(&T, 0);
		struct xsd_sockmsg h = { .type = XS_WRITE, .req_id = 1,
		                         .len = lens[i] };

		/* Only the header: the server must not wait for the body. */
		CHECK(send(fd, &h, sizeof(h), MSG_NOSIGNAL) == (ssize_t)sizeof(h));
		expect_closed(fd);
		close(fd);
	}
	healthy();
}

static void case_max_payload_ok(void)
{
	/* Exactly XENSTORE_PAYLOAD_MAX is fine. */
	int fd = xstest_raw(&T, 0);
	char *p = malloc(XENSTORE_PAYLOAD_MAX);
	char buf[64];

	CHECK(p);
	memset(p, 'x', XENSTORE_PAYLOAD_MAX);
	memcpy(p, "/max", 5);
	xstest_send(fd, XS_WRITE, 9, 0, p, XENSTORE_PAYLOAD_MAX);
	CHECK_INT(xstest_recv(fd, NULL, buf, sizeof(buf), NULL, 5000), ==, XS_WRITE);
	CHECK_STR(buf, "OK");
	free(p);
	close(fd);
	healthy();
}

static void case_truncated(void)
{
	/* Header and payload trickle in; meanwhile others are served. */
	int fd = xstest_raw(&T, 0);
	struct xsd_sockmsg h = { .type = XS_READ, .req_id = 77, .len = 6 };
	const char *bytes = (const char *)&h;
	char buf[64];
	uint32_t id;

	CHECK(send(fd, bytes, 7, 0) == 7);
	others_served();
	CHECK(send(fd, bytes + 7, sizeof(h) - 7, 0) == (ssize_t)(sizeof(h) - 7));
	CHECK(send(fd, "/to", 3, 0) == 3);
	others_served();
	CHECK_INT(xstest_recv(fd, NULL, buf, sizeof(buf), NULL, 200), ==, -1);
	CHECK(send(fd, "ol", 3, 0) == 3);
	CHECK_INT(xstest_recv(fd, &id, buf, sizeof(buf), NULL, 5000), ==, XS_READ);
	CHECK_INT(id, ==, 77);
	close(fd);
	healthy();
}

static void case_disconnect_mid_message(void)
{
	for (int i = 0; i < 20; i++) {
		int fd = xstest_raw(&T, i % 2 ? 0 : 5);
		struct xsd_sockmsg h = { .type = XS_WRITE, .len = 100 };

		CHECK(send(fd, &h, (size_t)(i % 16) + 1, 0) > 0);
		if (i >= 16)
			CHECK(send(fd, "/partial", 8, MSG_NOSIGNAL) == 8);
		close(fd);
	}
	healthy();
}

static void case_disconnect_with_replies(void)
{
	/* A client that sends requests and leaves before reading. */
	for (int i = 0; i < 20; i++) {
		int fd = xstest_raw(&T, 5);

		for (int j = 0; j < 10; j++)
			xstest_send(fd, XS_GET_DOMAIN_PATH, (uint32_t)j, 0, "5", 2);
		close(fd);
	}
	healthy();
}

static void case_never_reads_events(void)
{
	/* A client with a watch that never reads: the writer is never
	 * blocked, events beyond the bound are dropped and counted. */
	int fd = xstest_raw(&T, 0);
	char buf[64];
	char *q;
	unsigned long dropped = 0;
	int got = 0;

	xstest_send(fd, XS_WATCH, 1, 0, "/flood\0tok", 11);
	for (int i = 0; i < 6000; i++) {
		char path[32];

		/* Distinct paths: identical pending events would merge. */
		snprintf(path, sizeof(path), "/flood/%d", i);
		CHECK(xs_write(D0, XBT_NULL, path, "x", 1));
	}
	q = xs_control_command(D0, "quota", "0", 2);
	CHECK(q && strstr(q, "watch-events-dropped "));
	sscanf(strstr(q, "watch-events-dropped ") + 21, "%lu", &dropped);
	free(q);
	CHECK(dropped > 0);
	healthy();
	/* What was kept can still be read, in order: reply, then events. */
	CHECK_INT(xstest_recv(fd, NULL, buf, sizeof(buf), NULL, 5000), ==, XS_WATCH);
	while (xstest_recv(fd, NULL, buf, sizeof(buf), NULL, 500) == XS_WATCH_EVENT)
		got++;
	CHECK(got > 0 && got < 6000);
	close(fd);
}

static void case_never_reads_replies(void)
{
	/* Domain 0 pipelining without reading: reading stops at a bound,
	 * others are served, everything arrives once it reads. */
	int fd = xstest_raw(&T, 0);
	const unsigned n = 3000;
	const size_t one = sizeof(struct xsd_sockmsg) + sizeof("/tool");
	char *reqs = malloc(n * one), buf[64];
	uint32_t id;

	CHECK(reqs);
	for (unsigned i = 0; i < n; i++) {
		struct xsd_sockmsg h = { .type = XS_READ, .req_id = i,
		                         .len = sizeof("/tool") };

		memcpy(reqs + i * one, &h, sizeof(h));
		memcpy(reqs + i * one + sizeof(h), "/tool", sizeof("/tool"));
	}
	/* Non-blocking: the server may stop taking our bytes. */
	{
		size_t off = 0;

		while (off < n * one) {
			ssize_t w = send(fd, reqs + off, n * one - off, MSG_DONTWAIT);

			if (w < 0 && errno == EAGAIN) {
				others_served();
				break; /* blocked by flow control, as intended */
			}
			CHECK(w > 0);
			off += (size_t)w;
		}
		others_served();
		/* Drain replies, then send the rest. */
		for (unsigned i = 0; i < n; i++) {
			if (off < n * one) {
				ssize_t w = send(fd, reqs + off, n * one - off, MSG_DONTWAIT);

				if (w > 0)
					off += (size_t)w;
			}
			CHECK_INT(xstest_recv(fd, &id, buf, sizeof(buf), NULL, 5000), ==,
			          XS_READ);
			CHECK_INT(id, ==, i);
		}
	}
	free(reqs);
	close(fd);
	healthy();
}

static void case_many_bad_clients(void)
{
	int fds[60];
	char junk[64];

	memset(junk, 0xff, sizeof(junk));
	for (int i = 0; i < 60; i++) {
		fds[i] = xstest_raw(&T, i % 3 ? 5 : 0);
		if (i % 2)
			CHECK(send(fds[i], junk, sizeof(junk), MSG_NOSIGNAL) > 0);
		else
			CHECK(send(fds[i], junk, 5, MSG_NOSIGNAL) == 5);
	}
	others_served();
	for (int i = 0; i < 60; i++)
		close(fds[i]);
	healthy();
}

/* xorshift: reproducible. */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static size_t random_payload(uint32_t *seed, char *p)
{
	static const char *const words[] = {
		"/", "/a", "/a/b", "/tool", "/local/domain/5", "x", "T", "F", "0",
		"5", "7", "b5", "r0", "n7", "@releaseDomain", "@introduceDomain",
		"check", "help", "quota", "-1", "99999999999", "/a//b", "", "tok",
	};
	size_t len = 0, n = rnd(seed) % 5;

	for (size_t i = 0; i < n; i++) {
		const char *w = words[rnd(seed) % (sizeof(words) / sizeof(words[0]))];

		memcpy(p + len, w, strlen(w) + 1);
		len += strlen(w) + 1;
	}
	if (rnd(seed) % 4 == 0) { /* binary tail, maybe without NUL */
		size_t extra = rnd(seed) % 64;

		for (size_t i = 0; i < extra; i++)
			p[len++] = (char)rnd(seed);
	}
	if (len && rnd(seed) % 8 == 0)
		len--; /* drop the final NUL */
	return len;
}

/* Random well-framed requests: each gets exactly one reply with its
 * req_id (watch events aside) and the store stays consistent. */
static void fuzz(unsigned domid, uint32_t seed)
{
	int fd = xstest_raw(&T, domid);
	char p[1024], buf[64];
	/* Another seed can be tried by hand; the suite uses the fixed one. */
	const char *env = getenv("XS_FUZZ_SEED");

	if (env && *env)
		seed = (uint32_t)strtoul(env, NULL, 0) | 1u;

	for (uint32_t i = 1; i <= 3000; i++) {
		uint32_t type = rnd(&seed) % (XS_TYPE_COUNT + 2);
		uint32_t tx = rnd(&seed) % 4 == 0 ? rnd(&seed) % 4 : 0;
		size_t len = random_payload(&seed, p);
		uint32_t id;
		int t;

		if (type == XS_RELEASE && domid == 0)
			continue; /* would close our own fuzzing peers' sockets */
		xstest_send(fd, type, i, tx, p, len);
		do
			t = xstest_recv(fd, &id, buf, sizeof(buf), NULL, 5000);
		while (t == XS_WATCH_EVENT);
		if (t < 0)
			CHECK_FAIL("no reply to request %u (type %u)", i, type);
		CHECK_INT(id, ==, i);
	}
	close(fd);
	healthy();
}

static void case_fuzz_guest(void)
{
	fuzz(5, 12345);
}

static void case_fuzz_dom0(void)
{
	fuzz(0, 777);
}

static const struct check_case cases[] = {
	{ "garbage", case_garbage },
	{ "oversized", case_oversized },
	{ "max-payload-ok", case_max_payload_ok },
	{ "truncated", case_truncated },
	{ "disconnect-mid-message", case_disconnect_mid_message },
	{ "disconnect-with-replies", case_disconnect_with_replies },
	{ "never-reads-events", case_never_reads_events },
	{ "never-reads-replies", case_never_reads_replies },
	{ "many-bad-clients", case_many_bad_clients },
	{ "fuzz-guest", case_fuzz_guest },
	{ "fuzz-dom0", case_fuzz_dom0 },
};

int main(int argc, char **argv)
{
	static const unsigned doms[] = { 5, 7 };
	static const struct xstest_conn conns[] = { { 0, &D0 } };
	static const struct xstest_fixture f = { &T, doms, 2, conns, 1 };

	return xstest_run_case(argc, argv, cases, CHECK_NCASES(cases), &f);
}
