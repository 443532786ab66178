/* SPDX-License-Identifier: MIT */
/*
 * The client (xenbus/plat_sim.c) against a fake daemon that performs an
 * allocation (a share, a map, a port) and then sends a reply the client
 * must refuse: the client fails with -EPROTO and, before returning,
 * releases the object in the daemon (abandon, unmap, unbind), so nothing
 * stays allocated until the handle closes.  It leaks no descriptor, sends
 * no undo when the daemon answered an error, and never unbinds a port it
 * already holds when a reply names that port again.
 *
 * The fake daemon is a child process serving a socket named by
 * $XVIO_SIM_HYP (a process, so that its descriptors do not count as the
 * client's); it records every request it gets in shared memory.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include "hyptest.h"

enum mode {
	M_GOOD,
	M_ERR,            /* an error answer: nothing was done */
	M_NFDS_MISMATCH,  /* header's nfds differs from the fds attached */
	M_TOO_MANY_FDS,   /* more fds than any reply may carry */
	M_TRUNC,          /* more payload than the client asked for */
	M_BAD_COUNT,      /* the header's page count is not what was asked */
	M_ONE_FD,         /* a port with one eventfd instead of four fds */
	M_SHORT_LINE,     /* a port whose line page is empty and unsealed */
};

struct seen {
	uint32_t op;
	uint64_t arg;
};

/* Shared between the test and the fake daemon. */
struct shared {
	_Atomic int mode;
	_Atomic uint64_t next_val;    /* handle or port of the next reply */
	_Atomic unsigned nseen;
	struct seen seen[256];
};

static struct shared *sh;
static unsigned mark;

/* ---- the fake daemon ---- */

static void reply(int fd, struct xvio_sim_rep rep, const void *payload, size_t plen,
                  const int *fds, unsigned nfds)
{
	struct iovec iov[2] = {
		{ .iov_base = &rep, .iov_len = sizeof(rep) },
		{ .iov_base = (void *)payload, .iov_len = plen },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * 32)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = plen ? 2 : 1 };

	if (nfds) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	CHECK(sendmsg(fd, &mh, MSG_NOSIGNAL) >= 0);
}

/* Share and map replies: `count` pages of one memfd, shaped by the mode. */
static void reply_pages(int fd, const struct xvio_sim_req *req, enum mode md)
{
	static struct xvio_sim_page pg[XVIO_SIM_MAX_BATCH + 1];
	struct xvio_sim_rep rep = { .count = req->count, .val = atomic_load(&sh->next_val) };
	unsigned n = req->count, nfds = 1;
	int fds[32];

	for (unsigned i = 0; i <= n; i++)
		pg[i] = (struct xvio_sim_page){ .ref = 8 + i, .fd = 0, .gfn = i };
	fds[0] = memfd_create("fake-ram", MFD_CLOEXEC);
	CHECK(fds[0] >= 0);
	CHECK(ftruncate(fds[0], (off_t)(n + 1) * XVIO_PAGE_SIZE) == 0);
	if (md == M_TOO_MANY_FDS) {
		nfds = XVIO_SIM_MAX_MAP_DOMAINS + 1;
		for (unsigned i = 1; i < nfds; i++)
			fds[i] = fds[0];
	}
	rep.nfds = md == M_NFDS_MISMATCH ? nfds + 1 : nfds;
	if (md == M_TRUNC) {
		n++;
		rep.count = n;
	}
	if (md == M_BAD_COUNT)
		rep.count = req->count + 7;
	reply(fd, rep, pg, n * sizeof(pg[0]), fds, nfds);
	close(fds[0]);
}

/* A line page as the daemon makes it (sealed at a page), or, for
 * M_SHORT_LINE, an empty file anyone could resize. */
static int line_fd(enum mode md)
{
	int fd = memfd_create("fake-line", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	CHECK(fd >= 0);
	if (md == M_SHORT_LINE)
		return fd;
	CHECK(ftruncate(fd, XVIO_PAGE_SIZE) == 0);
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0);
	return fd;
}

static void reply_port(int fd, enum mode md)
{
	struct xvio_sim_rep rep = { .val = atomic_load(&sh->next_val) };
	int fds[4];
	unsigned nfds = md == M_ONE_FD ? 1 : md == M_NFDS_MISMATCH ? 3 : 4;

	for (unsigned i = 0; i < nfds; i++) {
		fds[i] = i < 2 ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : line_fd(md);
		CHECK(fds[i] >= 0);
	}
	rep.nfds = md == M_NFDS_MISMATCH ? 4 : nfds;
	reply(fd, rep, NULL, 0, fds, nfds);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
}

/* Serve one request; false when the client closed. */
static bool serve(int fd)
{
	static unsigned char buf[sizeof(struct xvio_sim_req) + XVIO_SIM_MAX_BATCH * 8];
	struct xvio_sim_req req;
	enum mode md = (enum mode)atomic_load(&sh->mode);
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	unsigned k;

	if (n <= 0)
		return false;
	CHECK((size_t)n >= sizeof(req));
	memcpy(&req, buf, sizeof(req));
	k = atomic_load(&sh->nseen);
	CHECK(k < sizeof(sh->seen) / sizeof(sh->seen[0]));
	sh->seen[k] = (struct seen){ .op = req.op, .arg = req.arg };
	atomic_store(&sh->nseen, k + 1);
	if (md == M_ERR && req.op != XVIO_SIM_OP_HELLO) {
		reply(fd, (struct xvio_sim_rep){ .err = -ENOSPC }, NULL, 0, NULL, 0);
		return true;
	}
	switch (req.op) {
	case XVIO_SIM_OP_HELLO: {
		struct xvio_sim_hello h = { .version = XVIO_SIM_PROTO_VERSION, .domid = 1,
		                            .max_ports = XVIO_SIM_MAX_PORTS,
		                            .max_grants = XVIO_SIM_MAX_GRANTS,
		                            .max_batch = XVIO_SIM_MAX_BATCH };

		reply(fd, (struct xvio_sim_rep){ 0 }, &h, sizeof(h), NULL, 0);
		break;
	}
	case XVIO_SIM_OP_GNT_SHARE:
	case XVIO_SIM_OP_GNT_MAP:
		reply_pages(fd, &req, md);
		break;
	case XVIO_SIM_OP_EVTCHN_ALLOC_UNBOUND:
	case XVIO_SIM_OP_EVTCHN_BIND:
		reply_port(fd, md);
		break;
	default:   /* the releases: unmap, unbind, end, abandon */
		reply(fd, (struct xvio_sim_rep){ 0 }, NULL, 0, NULL, 0);
		break;
	}
	return true;
}

/* Serve until the test closes its end of `stop`. */
static void fake_daemon(int lfd, int stop)
{
	struct pollfd pfd[8];
	unsigned n = 2;

	pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = stop, .events = POLLIN };
	for (;;) {
		CHECK(poll(pfd, n, -1) > 0);
		if (pfd[1].revents)
			break;
		if (pfd[0].revents) {
			int fd = accept4(pfd[0].fd, NULL, NULL, SOCK_CLOEXEC);

			CHECK(fd >= 0 && n < 8);
			pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
		}
		for (unsigned i = 2; i < n; i++) {
			if (pfd[i].revents && !serve(pfd[i].fd)) {
				close(pfd[i].fd);
				pfd[i--] = pfd[--n];
			}
		}
	}
	for (unsigned i = 2; i < n; i++)
		close(pfd[i].fd);
}

/* ---- checks ---- */

/* The requests since the last call were exactly `ops` (and the undo, if
 * any, named the value the fake daemon handed out). */
static void expect(const uint32_t *ops, unsigned n, const char *what)
{
	unsigned got = atomic_load(&sh->nseen) - mark;

	fprintf(stderr, "client undo: %s\n", what);
	if (got != n)
		CHECK_FAIL("%s: %u requests, expected %u", what, got, n);
	for (unsigned i = 0; i < n; i++) {
		CHECK_INT(sh->seen[mark + i].op, ==, ops[i]);
		if (i > 0)
			CHECK_INT(sh->seen[mark + i].arg, ==, atomic_load(&sh->next_val));
	}
	mark += n;
}

#define EXPECT(what, ...)                                                          \
	do {                                                                       \
		const uint32_t ops_[] = { __VA_ARGS__ };                           \
		expect(ops_, sizeof(ops_) / sizeof(ops_[0]), what);                \
	} while (0)

static void set(enum mode md, uint64_t val)
{
	atomic_store(&sh->mode, md);
	atomic_store(&sh->next_val, val);
}

static void shares(struct xvio_plat *p)
{
	struct xvio_gnt_share *s;
	xvio_gref_t refs[2];
	void *addr;
	int fds = ht_count_fds();

	set(M_NFDS_MISMATCH, 0x1111);
	CHECK_RET(xvio_gnt_share(p, 0, 2, true, refs, &addr, &s), -EPROTO);
	EXPECT("share, nfds mismatch", XVIO_SIM_OP_GNT_SHARE, XVIO_SIM_OP_GNT_SHARE_ABANDON);
	set(M_TOO_MANY_FDS, 0x2222);
	CHECK_RET(xvio_gnt_share(p, 0, 2, true, refs, &addr, &s), -EPROTO);
	EXPECT("share, too many fds", XVIO_SIM_OP_GNT_SHARE, XVIO_SIM_OP_GNT_SHARE_ABANDON);
	set(M_BAD_COUNT, 0x3333);
	CHECK_RET(xvio_gnt_share(p, 0, 2, true, refs, &addr, &s), -EPROTO);
	EXPECT("share, bad count", XVIO_SIM_OP_GNT_SHARE, XVIO_SIM_OP_GNT_SHARE_ABANDON);
	set(M_ERR, 0);
	CHECK_RET(xvio_gnt_share(p, 0, 2, true, refs, &addr, &s), -ENOSPC);
	EXPECT("share, error answer", XVIO_SIM_OP_GNT_SHARE);
	CHECK_INT(ht_count_fds(), ==, fds);

	/* The fake daemon's good replies are good: the client accepts them. */
	set(M_GOOD, 0x4444);
	CHECK_RET(xvio_gnt_share(p, 0, 2, true, refs, &addr, &s), 0);
	CHECK_INT(refs[1], ==, 9);
	CHECK_RET(xvio_gnt_share_end(s), 0);
	EXPECT("share, good", XVIO_SIM_OP_GNT_SHARE, XVIO_SIM_OP_GNT_SHARE_END);
	CHECK_INT(ht_count_fds(), ==, fds);
}

static void maps(struct xvio_plat *p)
{
	const xvio_gref_t refs[2] = { 8, 9 };
	struct xvio_gnt_map *m;
	void *addr;
	int fds = ht_count_fds();

	set(M_TRUNC, 0x5555);
	CHECK_RET(xvio_gnt_map_domain(p, 0, 2, refs, true, &addr, &m), -EPROTO);
	EXPECT("map, truncated", XVIO_SIM_OP_GNT_MAP, XVIO_SIM_OP_GNT_UNMAP);
	set(M_NFDS_MISMATCH, 0x6666);
	CHECK_RET(xvio_gnt_map_domain(p, 0, 2, refs, true, &addr, &m), -EPROTO);
	EXPECT("map, nfds mismatch", XVIO_SIM_OP_GNT_MAP, XVIO_SIM_OP_GNT_UNMAP);
	set(M_BAD_COUNT, 0x7777);
	CHECK_RET(xvio_gnt_map_domain(p, 0, 2, refs, true, &addr, &m), -EPROTO);
	EXPECT("map, bad count", XVIO_SIM_OP_GNT_MAP, XVIO_SIM_OP_GNT_UNMAP);
	set(M_ERR, 0);
	CHECK_RET(xvio_gnt_map_domain(p, 0, 2, refs, true, &addr, &m), -ENOSPC);
	EXPECT("map, error answer", XVIO_SIM_OP_GNT_MAP);
	CHECK_INT(ht_count_fds(), ==, fds);

	set(M_GOOD, 0x8888);
	CHECK_RET(xvio_gnt_map_domain(p, 0, 2, refs, true, &addr, &m), 0);
	CHECK_RET(xvio_gnt_unmap(m), 0);
	EXPECT("map, good", XVIO_SIM_OP_GNT_MAP, XVIO_SIM_OP_GNT_UNMAP);
	CHECK_INT(ht_count_fds(), ==, fds);
}

static void ports(struct xvio_plat *p)
{
	struct xvio_evtchn *e;
	int fds;

	CHECK_RET(xvio_evtchn_open(p, &e), 0);
	fds = ht_count_fds();
	set(M_ONE_FD, 5);
	CHECK_RET(xvio_evtchn_alloc_unbound(e, 0), -EPROTO);
	EXPECT("alloc, one fd", XVIO_SIM_OP_EVTCHN_ALLOC_UNBOUND, XVIO_SIM_OP_EVTCHN_UNBIND);
	set(M_NFDS_MISMATCH, 6);
	CHECK_RET(xvio_evtchn_bind_interdomain(e, 0, 33), -EPROTO);
	EXPECT("bind, nfds mismatch", XVIO_SIM_OP_EVTCHN_BIND, XVIO_SIM_OP_EVTCHN_UNBIND);
	set(M_SHORT_LINE, 9);
	CHECK_RET(xvio_evtchn_bind_interdomain(e, 0, 34), -EPROTO);
	EXPECT("bind, short line page", XVIO_SIM_OP_EVTCHN_BIND, XVIO_SIM_OP_EVTCHN_UNBIND);
	set(M_ERR, 0);
	CHECK_RET(xvio_evtchn_alloc_unbound(e, 0), -ENOSPC);
	EXPECT("alloc, error answer", XVIO_SIM_OP_EVTCHN_ALLOC_UNBOUND);
	CHECK_INT(ht_count_fds(), ==, fds);

	set(M_GOOD, 7);
	CHECK_RET(xvio_evtchn_alloc_unbound(e, 0), 7);
	EXPECT("alloc, good", XVIO_SIM_OP_EVTCHN_ALLOC_UNBOUND);
	/* A reply naming a port we hold: refused, and ours is not unbound. */
	CHECK_RET(xvio_evtchn_alloc_unbound(e, 0), -EPROTO);
	EXPECT("alloc, a port we hold", XVIO_SIM_OP_EVTCHN_ALLOC_UNBOUND);
	CHECK_RET(xvio_evtchn_notify(e, 7), 0);
	CHECK_RET(xvio_evtchn_unbind(e, 7), 0);
	EXPECT("unbind", XVIO_SIM_OP_EVTCHN_UNBIND);
	CHECK_INT(sh->seen[mark - 1].arg, ==, 7);
	CHECK_INT(ht_count_fds(), ==, fds);
	xvio_evtchn_close(e);
}

static char dir[] = "/tmp/xvio-fakehyp-XXXXXX", path[128];
static pid_t owner;

/* Leave nothing in /tmp, even when a check fails. */
static void cleanup(void)
{
	if (getpid() != owner)
		return;
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct xvio_plat *p;
	int lfd, stop[2], status;
	pid_t pid;

	CHECK(mkdtemp(dir) != NULL);
	owner = getpid();
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/hyp.sock", dir);
	strcpy(sa.sun_path, path);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	CHECK(lfd >= 0);
	CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(lfd, 8) == 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED);
	CHECK(pipe2(stop, O_CLOEXEC) == 0);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(stop[1]);
		fake_daemon(lfd, stop[0]);
		_exit(0);
	}
	close(stop[0]);
	close(lfd);
	CHECK(setenv("XVIO_SIM_HYP", path, 1) == 0);

	p = ht_open();
	EXPECT("hello", XVIO_SIM_OP_HELLO);
	shares(p);
	maps(p);
	ports(p);
	xvio_plat_close(p);

	close(stop[1]);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK_INT(status, ==, 0);   /* the fake daemon's own checks held */
	return 0;
}
