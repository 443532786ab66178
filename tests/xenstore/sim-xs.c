/* SPDX-License-Identifier: MIT */
/*
 * xvio-sim's xenstore server as the drivers meet it: the real daemon
 * (simtest.h), domains made by `xvio-sim create`, libxenstore in processes
 * of those domains, and hostile raw clients.  One case per argv[1].
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xenstore.h>

#include "check.h"
#include "simtest.h"

static struct simtest S;

static const char guest_cfg[] = "name = \"guest\"\nmemory = 32\n";

static struct xs_handle *open_as(int domid)
{
	struct xs_handle *h;

	simtest_enter(&S, domid);
	h = xs_open(0);
	CHECK(h != NULL);
	return h;
}

static char *read_str(struct xs_handle *h, const char *path)
{
	return xs_read(h, XBT_NULL, path, NULL);
}

static bool event(struct xs_handle *h, int timeout_ms, char *path, size_t len)
{
	struct pollfd p = { .fd = xs_fileno(h), .events = POLLIN };
	char **ev;

	while (!(ev = xs_check_watch(h))) {
		CHECK(errno == EAGAIN);
		if (poll(&p, 1, timeout_ms) != 1)
			return false;
	}
	if (path)
		snprintf(path, len, "%s", ev[XS_WATCH_PATH]);
	free(ev);
	return true;
}

static void check_store(struct xs_handle *d0)
{
	char *r = xs_control_command(d0, "check", NULL, 0);

	CHECK_STR(r, "OK");
	free(r);
}

/* ---- every operation as domain 0 ---------------------------------------- */

static void case_dom0_ops(void)
{
	struct xs_handle *h = open_as(0);
	struct xs_permissions p[2] = {
		{ .id = 0, .perms = XS_PERM_NONE }, { .id = 0, .perms = XS_PERM_READ },
	};
	struct xs_permissions *got;
	xs_transaction_t t;
	unsigned n;
	char **l, *v, path[64];
	int domid;

	CHECK(xs_write(h, XBT_NULL, "/ops/a", "1", 1));
	v = read_str(h, "/ops/a");
	CHECK_STR(v, "1");
	free(v);
	CHECK(xs_mkdir(h, XBT_NULL, "/ops/dir"));
	l = xs_directory(h, XBT_NULL, "/ops", &n);
	CHECK(l && n == 2 && !strcmp(l[0], "a") && !strcmp(l[1], "dir"));
	free(l);
	CHECK(xs_set_permissions(h, XBT_NULL, "/ops/a", p, 2));
	got = xs_get_permissions(h, XBT_NULL, "/ops/a", &n);
	CHECK(got && n == 2 && got[1].perms == XS_PERM_READ);
	free(got);
	CHECK(xs_watch(h, "/ops", "w"));
	CHECK(event(h, 5000, path, sizeof(path)));
	CHECK_STR(path, "/ops");
	t = xs_transaction_start(h);
	CHECK(t != XBT_NULL);
	CHECK(xs_write(h, t, "/ops/b", "2", 1));
	CHECK(xs_transaction_end(h, t, false));
	CHECK(event(h, 5000, path, sizeof(path)));
	CHECK_STR(path, "/ops/b");
	CHECK(xs_unwatch(h, "/ops", "w"));
	CHECK(xs_rm(h, XBT_NULL, "/ops"));
	CHECK_ERRNO(read_str(h, "/ops/a"), ENOENT);
	v = xs_get_domain_path(h, 3);
	CHECK_STR(v, "/local/domain/3");
	free(v);
	domid = simtest_create(&S, guest_cfg);
	/* The toolstack introduced it; a second INTRODUCE is harmless. */
	CHECK(xs_is_domain_introduced(h, (unsigned)domid));
	CHECK(xs_introduce_domain(h, (unsigned)domid, 1, 1));
	CHECK(xs_resume_domain(h, (unsigned)domid));
	check_store(h);
	xs_close(h);
}

/* ---- a guest and domain 0 ----------------------------------------------- */

static int guest_side(void *arg)
{
	int domid = *(int *)arg;
	struct xs_handle *h = xs_open(0);
	char path[128], *v;

	if (!h)
		return 10;
	/* Relative paths are its own. */
	v = read_str(h, "name");
	if (!v || strcmp(v, "guest") != 0)
		return 11;
	free(v);
	snprintf(path, sizeof(path), "/local/domain/%d", domid);
	v = xs_get_domain_path(h, (unsigned)domid);
	if (!v || strcmp(v, path) != 0)
		return 12;
	free(v);
	/* Domain 0's nodes are not readable, nor writable. */
	errno = 0;
	if (read_str(h, "/local/domain/0/name") || errno != EACCES)
		return 13;
	if (xs_write(h, XBT_NULL, "/local/domain/0/x", "1", 1) || errno != EACCES)
		return 14;
	/* Its data directory is. */
	if (!xs_watch(h, "data", "rel") || !event(h, 5000, path, sizeof(path)) ||
	    strcmp(path, "data") != 0)
		return 15;
	if (!xs_write(h, XBT_NULL, "data/x", "hello", 5))
		return 16;
	if (!event(h, 5000, path, sizeof(path)) || strcmp(path, "data/x") != 0)
		return 17;
	/* Domain 0 answers through the store. */
	if (!xs_write(h, XBT_NULL, "data/ping", "1", 1))
		return 18;
	for (int i = 0; i < 10; i++) {
		if (!event(h, 5000, path, sizeof(path)))
			return 19;
		if (strcmp(path, "data/pong") == 0)
			break;
	}
	v = read_str(h, "data/pong");
	if (!v || strcmp(v, "2") != 0)
		return 20;
	free(v);
	xs_close(h);
	return 0;
}

static void case_guest(void)
{
	struct xs_handle *d0;
	char path[128], *v;
	int domid;
	pid_t pid;

	domid = simtest_create(&S, guest_cfg);
	/* Spawned before this process has libxenstore threads to copy. */
	pid = simtest_spawn(&S, domid, guest_side, &domid);
	d0 = open_as(0);
	snprintf(path, sizeof(path), "/local/domain/%d/data/ping", domid);
	CHECK(xs_watch(d0, path, "d0"));
	for (;;) {
		CHECK(event(d0, 10000, NULL, 0));
		v = read_str(d0, path);
		free(v);
		if (v)
			break;
	}
	snprintf(path, sizeof(path), "/local/domain/%d/data/pong", domid);
	CHECK(xs_write(d0, XBT_NULL, path, "2", 1));
	CHECK_INT(simtest_wait(pid, 30), ==, 0);
	snprintf(path, sizeof(path), "/local/domain/%d/data/x", domid);
	v = read_str(d0, path);
	CHECK_STR(v, "hello");
	free(v);
	check_store(d0);
	xs_close(d0);
}

static void case_two_guests(void)
{
	int a = simtest_create(&S, "name = \"a\"\nmemory = 32\n");
	int b = simtest_create(&S, "name = \"b\"\nmemory = 32\n");
	struct xs_handle *ga, *gb;
	char path[128];

	ga = open_as(a);
	gb = open_as(b);
	CHECK(xs_write(ga, XBT_NULL, "data/secret", "s", 1));
	snprintf(path, sizeof(path), "/local/domain/%d/data/secret", a);
	CHECK_ERRNO(read_str(gb, path), EACCES);
	CHECK_ERRNO(xs_write(gb, XBT_NULL, path, "x", 1), EACCES);
	snprintf(path, sizeof(path), "/local/domain/%d/name", a);
	CHECK_ERRNO(read_str(gb, path), EACCES);
	xs_close(gb);
	xs_close(ga);
}

static void case_special_watches(void)
{
	struct xs_handle *d0 = open_as(0);
	char path[64];
	int domid;

	CHECK(xs_watch(d0, "@introduceDomain", "in"));
	CHECK(event(d0, 5000, NULL, 0));
	CHECK(xs_watch(d0, "@releaseDomain", "out"));
	CHECK(event(d0, 5000, NULL, 0));
	domid = simtest_create(&S, guest_cfg);
	CHECK(event(d0, 5000, path, sizeof(path)));
	CHECK_STR(path, "@introduceDomain");
	simtest_destroy(&S, domid);
	CHECK(event(d0, 5000, path, sizeof(path)));
	CHECK_STR(path, "@releaseDomain");
	/* The domain's nodes went with it. */
	snprintf(path, sizeof(path), "/local/domain/%d", domid);
	CHECK_ERRNO(read_str(d0, path), ENOENT);
	CHECK(!xs_is_domain_introduced(d0, (unsigned)domid));
	check_store(d0);
	xs_close(d0);
}

/* ---- quotas with the default numbers ------------------------------------- */

static unsigned guest_nodes(struct xs_handle *d0, int domid)
{
	char id[16], *r;
	unsigned n;

	snprintf(id, sizeof(id), "%d", domid);
	r = xs_control_command(d0, "quota", id, (unsigned)strlen(id) + 1);
	CHECK(r && strstr(r, "nodes ") && sscanf(strstr(r, "nodes ") + 6, "%u", &n) == 1);
	free(r);
	return n;
}

static void case_guest_quotas(void)
{
	int domid = simtest_create(&S, guest_cfg);
	struct xs_handle *d0 = open_as(0), *g = open_as(domid);
	struct xs_permissions p[6] = { { .id = (unsigned)domid } };
	char path[64], val[2048];
	int i;

	/* nodes: 1000 per domain, counting what the toolstack gave it;
	 * spread over directories to stay below the node-size quota. */
	for (i = 0; i < 2000; i++) {
		snprintf(path, sizeof(path), "data/q/d%d/n%d", i / 30, i % 30);
		if (!xs_write(g, XBT_NULL, path, "", 0))
			break;
	}
	CHECK_INT(errno, ==, ENOSPC);
	/* The last write may have needed two nodes: fill up one by one. */
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "data/q/d0/extra%d", i);
		if (!xs_write(g, XBT_NULL, path, "", 0))
			break;
	}
	CHECK_INT(errno, ==, ENOSPC);
	CHECK_INT(guest_nodes(d0, domid), ==, 1000);
	CHECK(xs_rm(g, XBT_NULL, "data/q"));
	/* node size 2048 (record header 24 + 8 per permission) */
	memset(val, 'v', sizeof(val));
	CHECK(xs_write(g, XBT_NULL, "data/v", val, 2048 - 24 - 8 - 1));
	CHECK_ERRNO(xs_write(g, XBT_NULL, "data/v", val, 2048 - 24 - 8), ENOSPC);
	/* permissions per node: 5 */
	CHECK(xs_set_permissions(g, XBT_NULL, "data", p, 5));
	CHECK_ERRNO(xs_set_permissions(g, XBT_NULL, "data", p, 6), ENOSPC);
	/* watches: 128 */
	for (i = 0; i < 200; i++) {
		snprintf(path, sizeof(path), "t%d", i);
		if (!xs_watch(g, "data", path))
			break;
	}
	CHECK_INT(errno, ==, E2BIG);
	CHECK_INT(i, ==, 128);
	/* transactions: 10 per connection */
	for (i = 0; i < 20; i++)
		if (xs_transaction_start(g) == XBT_NULL)
			break;
	CHECK_INT(errno, ==, ENOSPC);
	CHECK_INT(i, ==, 10);
	check_store(d0);
	xs_close(g);
	xs_close(d0);
}

/* ---- hostile clients ------------------------------------------------------ */

static int raw(int domid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	simtest_xs_path(&S, domid, sa.sun_path, sizeof(sa.sun_path));
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	return fd;
}

static void served(struct xs_handle *h)
{
	char *v;

	CHECK(xs_write(h, XBT_NULL, "/served", "1", 1));
	v = read_str(h, "/served");
	CHECK_STR(v, "1");
	free(v);
}

static bool closed_by_server(int fd)
{
	char buf[512];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 5000) != 1)
			return false;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return true;
	}
}

static void case_bad_input(void)
{
	int domid = simtest_create(&S, guest_cfg);
	struct xs_handle *d0 = open_as(0);
	struct xsd_sockmsg big = { .type = XS_WRITE, .len = XENSTORE_PAYLOAD_MAX + 1 };
	char junk[300];
	int idle, part, flood;

	/* Garbage from a guest and from domain 0: each loses its socket. */
	memset(junk, 0xee, sizeof(junk));
	for (int d = 0; d < 2; d++) {
		int fd = raw(d ? domid : 0);

		CHECK(send(fd, junk, sizeof(junk), MSG_NOSIGNAL) > 0);
		CHECK(closed_by_server(fd));
		close(fd);
		served(d0);
	}
	/* Oversized header. */
	{
		int fd = raw(domid);

		CHECK(send(fd, &big, sizeof(big), MSG_NOSIGNAL) == (ssize_t)sizeof(big));
		CHECK(closed_by_server(fd));
		close(fd);
	}
	/* A truncated message just waits; a client that never reads and
	 * floods requests is throttled; both while others are served. */
	part = raw(domid);
	CHECK(send(part, &big, 9, MSG_NOSIGNAL) == 9);
	idle = raw(0);
	CHECK(send(idle, "\x0b\0\0\0", 4, MSG_NOSIGNAL) == 4); /* half a header */
	flood = raw(domid);
	{
		const size_t one = sizeof(struct xsd_sockmsg) + 2;
		char *reqs = calloc(2000, one);

		CHECK(reqs);
		for (unsigned i = 0; i < 2000; i++) {
			struct xsd_sockmsg h = { .type = XS_GET_DOMAIN_PATH,
			                         .req_id = i, .len = 2 };

			memcpy(reqs + i * one, &h, sizeof(h));
			memcpy(reqs + i * one + sizeof(h), "1", 2);
		}
		CHECK(send(flood, reqs, 2000 * one, MSG_DONTWAIT) > 0);
		free(reqs);
	}
	for (int i = 0; i < 20; i++)
		served(d0);
	close(part); /* disconnect mid-message */
	close(flood);
	close(idle);
	simtest_check_alive(&S);
	served(d0);
	check_store(d0);
	xs_close(d0);
}

/* ---- many clients ---------------------------------------------------------- */

#define PROCS 50
#define ROUNDS 4

static int worker(void *arg)
{
	unsigned idx = (unsigned)(uintptr_t)arg;
	struct xs_handle *h = xs_open(0);
	char mine[64], val[24];

	if (!h || !xs_watch(h, "/stress", "w"))
		return 10;
	snprintf(mine, sizeof(mine), "/stress/own/%u", idx);
	for (int r = 0; r < ROUNDS; r++) {
		for (;;) {
			xs_transaction_t t = xs_transaction_start(h);
			char *v;
			long n;

			if (t == XBT_NULL)
				return 11;
			v = xs_read(h, t, "/stress/counter", NULL);
			if (!v)
				return 12;
			n = strtol(v, NULL, 10);
			free(v);
			snprintf(val, sizeof(val), "%ld", n + 1);
			if (!xs_write(h, t, "/stress/counter", val, (unsigned)strlen(val)))
				return 13;
			snprintf(val, sizeof(val), "%d", r);
			if (!xs_write(h, t, mine, val, (unsigned)strlen(val)))
				return 14;
			if (xs_transaction_end(h, t, false))
				break;
			if (errno != EAGAIN)
				return 15;
		}
		while (event(h, 0, NULL, 0))
			;
	}
	xs_close(h);
	return 0;
}

static void case_many_clients(void)
{
	struct xs_handle *d0 = open_as(0);
	struct xs_permissions perm[2] = { { .id = 0 } };
	pid_t pids[PROCS];
	int domid = simtest_create(&S, guest_cfg);
	char path[64], *v;

	perm[1].id = (unsigned)domid;
	perm[1].perms = XS_PERM_READ | XS_PERM_WRITE;
	CHECK(xs_write(d0, XBT_NULL, "/stress/counter", "0", 1));
	for (unsigned i = 0; i < PROCS; i++) {
		snprintf(path, sizeof(path), "/stress/own/%u", i);
		CHECK(xs_write(d0, XBT_NULL, path, "-", 1));
		CHECK(xs_set_permissions(d0, XBT_NULL, path, perm, 2));
	}
	CHECK(xs_set_permissions(d0, XBT_NULL, "/stress", perm, 2));
	CHECK(xs_set_permissions(d0, XBT_NULL, "/stress/own", perm, 2));
	CHECK(xs_set_permissions(d0, XBT_NULL, "/stress/counter", perm, 2));
	for (unsigned i = 0; i < PROCS; i++)
		pids[i] = simtest_spawn(&S, i % 2 ? domid : 0, worker,
		                        (void *)(uintptr_t)i);
	for (unsigned i = 0; i < PROCS; i++)
		CHECK_INT(simtest_wait(pids[i], 60), ==, 0);
	v = read_str(d0, "/stress/counter");
	CHECK(v && atoi(v) == PROCS * ROUNDS);
	free(v);
	for (unsigned i = 0; i < PROCS; i++) {
		snprintf(path, sizeof(path), "/stress/own/%u", i);
		v = read_str(d0, path);
		CHECK(v && atoi(v) == ROUNDS - 1);
		free(v);
	}
	check_store(d0);
	xs_close(d0);
}

static const struct check_case cases[] = {
	{ "dom0-ops", case_dom0_ops },
	{ "guest", case_guest },
	{ "two-guests", case_two_guests },
	{ "special-watches", case_special_watches },
	{ "guest-quotas", case_guest_quotas },
	{ "bad-input", case_bad_input },
	{ "many-clients", case_many_clients },
};

static void setup(void)
{
	simtest_start(&S, NULL);
}

static void teardown(void)
{
	simtest_check_alive(&S);
	simtest_stop(&S);
}

int main(int argc, char **argv)
{
	return check_run_case(argc, argv, cases, CHECK_NCASES(cases), setup, teardown);
}
