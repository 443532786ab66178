/* SPDX-License-Identifier: MIT */
/*
 * Integration: the XenbusState machine through xenstore, with a frontend
 * process in a guest and a backend process in dom0 (each an event loop on
 * its own xvio_watcher and xvio_xb_dev), or the test playing one side by
 * writing raw nodes.
 *
 * The toy protocol: the backend's setup publishes "sectors"; the
 * frontend's setup publishes "ring-ref" (a number new for every session);
 * the backend's connect reads ring-ref and records it as
 * "connected-ring-ref" and counts connects in "connect-count"; the
 * frontend's connect reads sectors.  "Connected on the live session" means
 * both states are 4 and connected-ring-ref equals the current ring-ref.
 *
 * connect            both processes reach Connected on one session
 * spurious           rewriting unchanged nodes causes no reconnect
 * backend-restart    backend killed and started again: new session
 * frontend-restart   frontend killed and started again: new session
 * removal            libxl's online=0 + Closing: both close, then release
 *                    when the toolstack removes the directories
 * skip-initialised   a frontend jumping Initialising -> Connected
 * skip-initwait      a backend seen straight at Connected by the frontend
 * fail-setup         backend setup fails: error node, Closing, Closed,
 *                    and it stays closed (sticky)
 * peer-bad-key       frontend key "12x": error node naming node and value,
 *                    Closing; cleared when a new session starts
 * peer-bad-state     frontend state "9": EPROTO error, Closing/Closed
 * frontend-error     backend's key missing: the frontend reports under its
 *                    own domain and goes to Closing; recovers later
 * open-errors        device directories a toolstack got wrong are refused
 * own-junk           junk in the own state node: error, Closing at once
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "simtest.h"
#include "xbtest.h"
#include "xenbus.h"

#define TIMEOUT_MS 10000
#define BE_ERR "/local/domain/0/error/backend/" XB_KIND "/1/51712/error"
#define FE_ERR "/local/domain/1/error/device/" XB_KIND "/51712/error"

static struct simtest st;
static struct xb_dev_paths dp;

/* ---- the peer processes ---- */

struct peer {
	enum xvio_xb_role role;
	const char *path;
	bool fail_setup;
	bool released;
	unsigned sessions;
};

static int fe_setup(struct xvio_xb_dev *d, xs_transaction_t t, void *arg,
                    struct xvio_err *err)
{
	struct peer *p = arg;

	p->sessions++;
	return xvio_xs_printf(xvio_xb_dev_xs(d), t, p->path, "ring-ref", err, "%u",
	                      (unsigned)(getpid() % 100000) * 1000 + p->sessions);
}

static int fe_connect(struct xvio_xb_dev *d, xs_transaction_t t, void *arg,
                      struct xvio_err *err)
{
	uint64_t sectors;

	return xvio_xs_read_u64(xvio_xb_dev_xs(d), t, xvio_xb_dev_peer_path(d), "sectors", 0,
	                        1, 1ull << 40, &sectors, err);
}

static int be_setup(struct xvio_xb_dev *d, xs_transaction_t t, void *arg,
                    struct xvio_err *err)
{
	struct peer *p = arg;

	if (p->fail_setup)
		return xvio_err_set(err, EIO, "cannot open /nonexistent/disk.img");
	return xvio_xs_write(xvio_xb_dev_xs(d), t, p->path, "sectors", "2048", err);
}

static int be_connect(struct xvio_xb_dev *d, xs_transaction_t t, void *arg,
                      struct xvio_err *err)
{
	struct xs_handle *xs = xvio_xb_dev_xs(d);
	struct peer *p = arg;
	uint32_t ref;
	uint64_t n = 0;
	int rc;

	rc = xvio_xs_read_u32(xs, t, xvio_xb_dev_peer_path(d), "ring-ref", 1, UINT32_MAX,
	                      &ref, err);
	if (rc < 0)
		return rc;
	rc = xvio_xs_read_u64(xs, t, p->path, "connect-count", 0, 0, 1000000, &n, NULL);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	rc = xvio_xs_printf(xs, t, p->path, "connect-count", err, "%llu",
	                    (unsigned long long)n + 1);
	if (rc < 0)
		return rc;
	return xvio_xs_printf(xs, t, p->path, "connected-ring-ref", err, "%u", ref);
}

static void nop_teardown(struct xvio_xb_dev *d, void *arg)
{
}

static void on_released(struct xvio_xb_dev *d, void *arg)
{
	((struct peer *)arg)->released = true;
}

static const struct xvio_xb_ops fe_ops = {
	fe_setup, fe_connect, nop_teardown, on_released,
};
static const struct xvio_xb_ops be_ops = {
	be_setup, be_connect, nop_teardown, on_released,
};

/* The event loop of one side; exits 0 when released or told to stop. */
static int peer_main(void *arg)
{
	struct peer *p = arg;
	struct xvio_err err = { 0 };
	struct xvio_watcher *w;
	struct xvio_xb_dev *d;
	struct xs_handle *xs;
	char stop[300];

	xs = xs_open(0);
	CHECK(xs);
	CHECK_INT(xvio_watcher_new(xs, &w), ==, 0);
	if (xvio_xb_dev_open(xs, p->role, p->path,
	                     p->role == XVIO_XB_BACKEND ? &be_ops : &fe_ops, p, &d, &err) < 0)
		CHECK_FAIL("open %s: %s", p->path, err.msg);
	if (xvio_xb_dev_watch(d, w, &err) < 0)
		CHECK_FAIL("watch %s: %s", p->path, err.msg);
	snprintf(stop, sizeof(stop), "%s/test-stop", p->path);
	while (!p->released) {
		struct pollfd pfd = { .fd = xvio_watcher_fd(w), .events = POLLIN };

		CHECK(poll(&pfd, 1, 20) >= 0);
		CHECK_INT(xvio_watcher_dispatch(w, 64), >=, 0);
		if (xvio_xs_exists(xs, XBT_NULL, stop, NULL) == 1)
			break;
	}
	xvio_xb_dev_close(d);
	xvio_watcher_free(w);
	xs_close(xs);
	return 0;
}

static struct peer backend = { .role = XVIO_XB_BACKEND, .path = dp.be };
static struct peer frontend = { .role = XVIO_XB_FRONTEND, .path = dp.fe };

static pid_t start_backend(void)
{
	return simtest_spawn(&st, 0, peer_main, &backend);
}

static pid_t start_frontend(void)
{
	return simtest_spawn(&st, 1, peer_main, &frontend);
}

static void kill_peer(pid_t pid)
{
	int status;

	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(waitpid(pid, &status, 0) == pid);
}

static void stop_peer(struct xs_handle *xs0, pid_t pid, const char *dir)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/test-stop", dir);
	xb_write(xs0, path, "1");
	CHECK_INT(simtest_wait(pid, 10), ==, 0);
	xs_rm(xs0, XBT_NULL, path);
}

/* ---- observations ---- */

static void node(struct xs_handle *xs, const char *dir, const char *key, char *buf)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	xb_read(xs, path, buf, 64);
}

/* Both Connected on the live session, other than `old_ref`.  Returns the ref. */
static unsigned wait_connected(struct xs_handle *xs0, unsigned old_ref)
{
	char bs[64], fs[64], ref[64], cref[64];

	for (long long end = xb_now_ms() + TIMEOUT_MS;; usleep(2000)) {
		node(xs0, dp.be, "state", bs);
		node(xs0, dp.fe, "state", fs);
		node(xs0, dp.fe, "ring-ref", ref);
		node(xs0, dp.be, "connected-ring-ref", cref);
		if (strcmp(bs, "4") == 0 && strcmp(fs, "4") == 0 && *ref &&
		    strcmp(ref, cref) == 0 && (unsigned)atol(ref) != old_ref)
			return (unsigned)atol(ref);
		if (xb_now_ms() > end)
			CHECK_FAIL("not connected: backend %s, frontend %s, ring-ref %s, "
			           "backend uses %s (old %u)", bs, fs, ref, cref, old_ref);
	}
}

static void wait_state(struct xs_handle *xs, const char *dir, const char *want)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/state", dir);
	xb_wait_value(xs, path, want, TIMEOUT_MS);
}

static void expect_node(struct xs_handle *xs, const char *dir, const char *key,
                        const char *want)
{
	char buf[64];

	node(xs, dir, key, buf);
	if (strcmp(buf, want) != 0)
		CHECK_FAIL("%s/%s is \"%s\", want \"%s\"", dir, key, buf, want);
}

/* ---- cases ---- */

static void test_connect(struct xs_handle *xs0)
{
	pid_t be = start_backend(), fe = start_frontend();

	wait_connected(xs0, 0);
	expect_node(xs0, dp.be, "connect-count", "1");
	stop_peer(xs0, fe, dp.fe);
	stop_peer(xs0, be, dp.be);
	/* Stopping leaves xenstore as it was, for a restarted process. */
	expect_node(xs0, dp.be, "state", "4");
}

static void test_spurious(struct xs_handle *xs0)
{
	pid_t be = start_backend(), fe = start_frontend();
	char path[300];
	unsigned ref = wait_connected(xs0, 0);

	for (int i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/state", dp.fe);
		xb_write(xs0, path, "4");
		snprintf(path, sizeof(path), "%s/state", dp.be);
		xb_write(xs0, path, "4");
		snprintf(path, sizeof(path), "%s/online", dp.be);
		xb_write(xs0, path, "1");
	}
	usleep(300000);
	CHECK_INT(wait_connected(xs0, 0), ==, ref);
	expect_node(xs0, dp.be, "connect-count", "1");
	stop_peer(xs0, fe, dp.fe);
	stop_peer(xs0, be, dp.be);
}

static void test_backend_restart(struct xs_handle *xs0)
{
	pid_t be = start_backend(), fe = start_frontend();
	unsigned ref = wait_connected(xs0, 0);

	kill_peer(be);
	be = start_backend();
	/* A new session: the frontend set up fresh rings, the backend uses them. */
	wait_connected(xs0, ref);
	expect_node(xs0, dp.be, "connect-count", "2");
	stop_peer(xs0, fe, dp.fe);
	stop_peer(xs0, be, dp.be);
}

static void test_frontend_restart(struct xs_handle *xs0)
{
	pid_t be = start_backend(), fe = start_frontend();
	unsigned ref = wait_connected(xs0, 0);

	kill_peer(fe);
	fe = start_frontend();
	ref = wait_connected(xs0, ref);
	expect_node(xs0, dp.be, "connect-count", "2");
	/* And once more the other way round, with the new frontend. */
	kill_peer(be);
	be = start_backend();
	wait_connected(xs0, ref);
	stop_peer(xs0, fe, dp.fe);
	stop_peer(xs0, be, dp.be);
}

static void test_removal(struct xs_handle *xs0)
{
	pid_t be = start_backend(), fe = start_frontend();
	xs_transaction_t t;
	char path[300];

	wait_connected(xs0, 0);
	/* libxl: online=0 and state=5 in one transaction, wait for 6. */
	do {
		t = xs_transaction_start(xs0);
		CHECK(t != XBT_NULL);
		snprintf(path, sizeof(path), "%s/online", dp.be);
		CHECK(xs_write(xs0, t, path, "0", 1));
		snprintf(path, sizeof(path), "%s/state", dp.be);
		CHECK(xs_write(xs0, t, path, "5", 1));
	} while (!xs_transaction_end(xs0, t, false) && errno == EAGAIN);
	wait_state(xs0, dp.be, "6");
	wait_state(xs0, dp.fe, "6");
	/* Then it removes both directories; both sides release and exit. */
	CHECK(xs_rm(xs0, XBT_NULL, dp.fe));
	CHECK(xs_rm(xs0, XBT_NULL, dp.be));
	CHECK_INT(simtest_wait(fe, 10), ==, 0);
	CHECK_INT(simtest_wait(be, 10), ==, 0);
	/* Nobody recreated a directory by writing a state. */
	CHECK(!xb_read(xs0, dp.be, path, sizeof(path)));
	CHECK(!xb_read(xs0, dp.fe, path, sizeof(path)));
}

static void test_skip_initialised(struct xs_handle *xs0, struct xs_handle *xs1)
{
	pid_t be = start_backend();
	char path[300];

	wait_state(xs0, dp.be, "2");
	snprintf(path, sizeof(path), "%s/ring-ref", dp.fe);
	xb_write(xs1, path, "77");
	snprintf(path, sizeof(path), "%s/state", dp.fe);
	xb_write(xs1, path, "4");
	wait_state(xs0, dp.be, "4");
	expect_node(xs0, dp.be, "connected-ring-ref", "77");
	stop_peer(xs0, be, dp.be);
}

static void test_skip_initwait(struct xs_handle *xs0)
{
	pid_t fe = start_frontend();
	char path[300], ref[64];

	/* The backend is seen at Connected while the frontend is Initialising. */
	snprintf(path, sizeof(path), "%s/sectors", dp.be);
	xb_write(xs0, path, "2048");
	snprintf(path, sizeof(path), "%s/state", dp.be);
	xb_write(xs0, path, "4");
	wait_state(xs0, dp.fe, "4");
	node(xs0, dp.fe, "ring-ref", ref);
	CHECK(*ref != '\0');
	stop_peer(xs0, fe, dp.fe);
}

static void test_fail_setup(struct xs_handle *xs0)
{
	pid_t be, fe;

	backend.fail_setup = true;
	be = start_backend();
	/* Frontend still Initialising: Closing, then Closed at once. */
	wait_state(xs0, dp.be, "6");
	xb_wait_value(xs0, BE_ERR, "5 cannot open /nonexistent/disk.img", TIMEOUT_MS);
	/* A local failure is sticky: a frontend coming up does not restart it. */
	fe = start_frontend();
	usleep(300000);
	expect_node(xs0, dp.be, "state", "6");
	expect_node(xs0, dp.fe, "state", "1");
	xb_wait_value(xs0, BE_ERR, "5 cannot open /nonexistent/disk.img", 0);
	stop_peer(xs0, fe, dp.fe);
	stop_peer(xs0, be, dp.be);
}

static void test_peer_bad_key(struct xs_handle *xs0, struct xs_handle *xs1)
{
	pid_t be = start_backend();
	char path[300];

	wait_state(xs0, dp.be, "2");
	snprintf(path, sizeof(path), "%s/ring-ref", dp.fe);
	xb_write(xs1, path, "12x");
	snprintf(path, sizeof(path), "%s/state", dp.fe);
	xb_write(xs1, path, "3");
	wait_state(xs0, dp.be, "5");
	xb_wait_value(xs0, BE_ERR,
	              "22 /local/domain/1/device/" XB_KIND "/51712/ring-ref: \"12x\" is not a number",
	              0);
	/* The frontend closes: a new session may start, and clears the error. */
	xb_write(xs1, path, "6");
	wait_state(xs0, dp.be, "2");
	xb_wait_value(xs0, BE_ERR, NULL, 0);
	stop_peer(xs0, be, dp.be);
}

static void test_peer_bad_state(struct xs_handle *xs0, struct xs_handle *xs1)
{
	pid_t be = start_backend();
	char path[300], want[300];

	wait_state(xs0, dp.be, "2");
	snprintf(path, sizeof(path), "%s/state", dp.fe);
	xb_write(xs1, path, "9");
	/* The garbage counts as no frontend: Closing, then Closed. */
	wait_state(xs0, dp.be, "6");
	snprintf(want, sizeof(want), "%d %s/state: \"9\" is not a XenbusState", EPROTO, dp.fe);
	xb_wait_value(xs0, BE_ERR, want, 0);
	/* A frontend starting over brings the backend back. */
	xb_write(xs1, path, "1");
	wait_state(xs0, dp.be, "2");
	stop_peer(xs0, be, dp.be);
}

static void test_frontend_error(struct xs_handle *xs0)
{
	pid_t fe = start_frontend();
	char path[300], ref1[64], ref2[64];

	/* The test plays the backend, forgetting "sectors". */
	snprintf(path, sizeof(path), "%s/state", dp.be);
	xb_write(xs0, path, "2");
	wait_state(xs0, dp.fe, "3");
	node(xs0, dp.fe, "ring-ref", ref1);
	xb_write(xs0, path, "4");
	wait_state(xs0, dp.fe, "5");
	xb_wait_value(xs0, FE_ERR,
	              "2 /local/domain/0/backend/" XB_KIND "/1/51712/sectors: missing", 0);
	/* It stays Closing while the backend claims Connected... */
	usleep(200000);
	expect_node(xs0, dp.fe, "state", "5");
	/* ...closes once the backend does, and starts over on InitWait. */
	xb_write(xs0, path, "6");
	wait_state(xs0, dp.fe, "6");
	snprintf(path, sizeof(path), "%s/sectors", dp.be);
	xb_write(xs0, path, "2048");
	snprintf(path, sizeof(path), "%s/state", dp.be);
	xb_write(xs0, path, "2");
	wait_state(xs0, dp.fe, "3");
	xb_wait_value(xs0, FE_ERR, NULL, 0);
	node(xs0, dp.fe, "ring-ref", ref2);
	CHECK(strcmp(ref1, ref2) != 0);
	xb_write(xs0, path, "4");
	wait_state(xs0, dp.fe, "4");
	stop_peer(xs0, fe, dp.fe);
}

/* Open must fail with err, naming what is wrong. */
static void expect_open_fails(struct xs_handle *xs, enum xvio_xb_role role, const char *path,
                              int err, const char *msg_part)
{
	struct xvio_err e = { 0 };
	struct xvio_xb_dev *d = NULL;
	int rc = xvio_xb_dev_open(xs, role, path, role == XVIO_XB_BACKEND ? &be_ops : &fe_ops,
	                          NULL, &d, &e);

	if (rc != -err || !strstr(e.msg, msg_part))
		CHECK_FAIL("open %s: rc %d \"%s\", want %d with \"%s\"", path, rc, e.msg, -err,
		           msg_part);
	CHECK(d == NULL);
}

static void test_open_errors(struct xs_handle *xs0)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/frontend", dp.be);
	/* The peer path must lie in the peer's domain, and be clean. */
	xb_write(xs0, path, "/local/domain/0/backend/" XB_KIND "/1/51712");
	expect_open_fails(xs0, XVIO_XB_BACKEND, dp.be, EPROTO, "is not below /local/domain/1/");
	xb_write(xs0, path, "/local/domain/1/device//x");
	expect_open_fails(xs0, XVIO_XB_BACKEND, dp.be, EPROTO, "is not a clean path");
	xb_write(xs0, path, "/local/domain/1/device/x/");
	expect_open_fails(xs0, XVIO_XB_BACKEND, dp.be, EPROTO, "is not a clean path");
	xb_write(xs0, path, "/local/domain/1/");
	expect_open_fails(xs0, XVIO_XB_BACKEND, dp.be, EPROTO, "is not below");
	xb_write(xs0, path, dp.fe);
	snprintf(path, sizeof(path), "%s/frontend-id", dp.be);
	xb_write(xs0, path, "1x");
	expect_open_fails(xs0, XVIO_XB_BACKEND, dp.be, EINVAL, "frontend-id: \"1x\" is not a number");
	xb_write(xs0, path, "32752"); /* DOMID_FIRST_RESERVED */
	expect_open_fails(xs0, XVIO_XB_BACKEND, dp.be, ERANGE, "out of range");
	CHECK(xs_rm(xs0, XBT_NULL, path));
	expect_open_fails(xs0, XVIO_XB_BACKEND, dp.be, ENOENT, "frontend-id: missing");
	/* Our own path must be a device directory. */
	expect_open_fails(xs0, XVIO_XB_FRONTEND, "/vm/x", EINVAL, "not below /local/domain");
	expect_open_fails(xs0, XVIO_XB_FRONTEND, "device/x/", EINVAL, "trailing");
	expect_open_fails(xs0, XVIO_XB_FRONTEND, "", EINVAL, "empty");
	/* And a good one opens. */
	struct xvio_xb_dev *d = NULL;
	struct xvio_err e = { 0 };
	if (xvio_xb_dev_open(xs0, XVIO_XB_FRONTEND, dp.fe, &fe_ops, NULL, &d, &e) < 0)
		CHECK_FAIL("open %s: %s", dp.fe, e.msg);
	CHECK_STR(xvio_xb_dev_peer_path(d), dp.be);
	CHECK_INT(xvio_xb_dev_peer_id(d), ==, 0);
	CHECK_INT(xvio_xb_dev_flags(d), ==, XVIO_XB_READY);
	xvio_xb_dev_close(d);
}

static void test_own_junk(struct xs_handle *xs0)
{
	pid_t be = start_backend();
	char path[300], want[300];

	wait_state(xs0, dp.be, "2");
	snprintf(path, sizeof(path), "%s/state", dp.be);
	xb_write(xs0, path, "junk");
	/* The frontend is still Initialising, yet Closing replaces the junk
	 * first (then Closed, as the frontend is not using the device). */
	snprintf(want, sizeof(want), "%d %s/state: \"junk\" is not a XenbusState", EPROTO,
	         dp.be);
	xb_wait_value(xs0, BE_ERR, want, TIMEOUT_MS);
	wait_state(xs0, dp.be, "6");
	stop_peer(xs0, be, dp.be);
}

int main(int argc, char **argv)
{
	struct xs_handle *xs0, *xs1;
	const char *c = argc == 2 ? argv[1] : "";

	simtest_start(&st, NULL);
	CHECK_INT(simtest_create(&st, "name = \"g\"\nmemory = 64\n"), ==, 1);
	xs0 = xb_open_as(&st, 0);
	xs1 = xb_open_as(&st, 1);
	xb_make_device(xs0, 1, &dp);
	if (strcmp(c, "connect") == 0)
		test_connect(xs0);
	else if (strcmp(c, "spurious") == 0)
		test_spurious(xs0);
	else if (strcmp(c, "backend-restart") == 0)
		test_backend_restart(xs0);
	else if (strcmp(c, "frontend-restart") == 0)
		test_frontend_restart(xs0);
	else if (strcmp(c, "removal") == 0)
		test_removal(xs0);
	else if (strcmp(c, "skip-initialised") == 0)
		test_skip_initialised(xs0, xs1);
	else if (strcmp(c, "skip-initwait") == 0)
		test_skip_initwait(xs0);
	else if (strcmp(c, "fail-setup") == 0)
		test_fail_setup(xs0);
	else if (strcmp(c, "peer-bad-key") == 0)
		test_peer_bad_key(xs0, xs1);
	else if (strcmp(c, "peer-bad-state") == 0)
		test_peer_bad_state(xs0, xs1);
	else if (strcmp(c, "frontend-error") == 0)
		test_frontend_error(xs0);
	else if (strcmp(c, "open-errors") == 0)
		test_open_errors(xs0);
	else if (strcmp(c, "own-junk") == 0)
		test_own_junk(xs0);
	else
		CHECK_FAIL("unknown case \"%s\"", c);
	xs_close(xs1);
	xs_close(xs0);
	simtest_stop(&st);
	return 0;
}
