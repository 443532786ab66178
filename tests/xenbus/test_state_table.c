/* SPDX-License-Identifier: MIT */
/*
 * Unit: xvio_xb_step() over every (role, own, peer, flags) input, checking
 * invariants of each step and of the fixed point a caller reaches with the
 * peer standing still; then the named cases of the protocol (first
 * connect, skipped states, spurious events, reconnects, failure, removal).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "xenbus.h"

#define ONLINE XVIO_XB_ONLINE
#define FAILED XVIO_XB_FAILED
#define READY XVIO_XB_READY
#define PREP XVIO_XB_PREPARED
#define CONN XVIO_XB_CONNECTED
#define PF XVIO_XB_PEER_FAULT
#define UP (ONLINE | READY)

#define TD XVIO_XB_ACT_TEARDOWN
#define SETUP XVIO_XB_ACT_SETUP
#define CONNECT XVIO_XB_ACT_CONNECT
#define SW XVIO_XB_ACT_SWITCH
#define REL XVIO_XB_ACT_RELEASE

static const char *role_name(enum xvio_xb_role r)
{
	return r == XVIO_XB_BACKEND ? "backend" : "frontend";
}

#define CTX_FMT "%s own=%s peer=%s flags=%#x"
#define CTX(r, o, p, f) role_name(r), xvio_xb_state_name(o), xvio_xb_state_name(p), (f)

static struct xvio_xb_step step(enum xvio_xb_role r, int own, int peer, unsigned flags)
{
	struct xvio_xb_step st;

	if (xvio_xb_step(r, (enum xenbus_state)own, (enum xenbus_state)peer, flags, &st) != 0)
		CHECK_FAIL("step refused " CTX_FMT, CTX(r, own, peer, flags));
	return st;
}

/* What the binding does to its flags after performing the actions. */
static unsigned apply_flags(unsigned flags, unsigned actions)
{
	if (actions & TD)
		flags &= ~(PREP | CONN);
	if (actions & SETUP)
		flags = (flags | PREP) & ~PF; /* a new session */
	if (actions & CONNECT)
		flags |= CONN;
	return flags;
}

struct fixed {
	int own;
	unsigned flags;
	int steps;
	bool released;
};

/* Step with the peer standing still until nothing is left to do. */
static struct fixed run(enum xvio_xb_role r, int own, int peer, unsigned flags)
{
	struct fixed f = { own, flags, 0, false };

	for (;;) {
		struct xvio_xb_step st = step(r, f.own, peer, f.flags);

		if (st.actions == 0)
			return f;
		if (++f.steps > XVIO_XB_MAX_STEPS)
			CHECK_FAIL("no fixed point within %d steps " CTX_FMT,
			           XVIO_XB_MAX_STEPS, CTX(r, own, peer, flags));
		f.flags = apply_flags(f.flags, st.actions);
		f.own = (int)st.next;
		if (st.actions & REL) {
			f.released = true;
			return f;
		}
	}
}

static void check_step_invariants(enum xvio_xb_role r, int own, int peer, unsigned flags)
{
	struct xvio_xb_step st = step(r, own, peer, flags);
	unsigned a = st.actions;
	bool renew = (flags & ONLINE) && !(flags & FAILED);
	bool up = renew && !(flags & PF);

#define INV(cond)                                                                 \
	do {                                                                      \
		if (!(cond))                                                      \
			CHECK_FAIL("invariant %s broken: " CTX_FMT " -> actions %#x next %s", \
			           #cond, CTX(r, own, peer, flags), a,            \
			           xvio_xb_state_name(st.next));                  \
	} while (0)

	INV((unsigned)st.next <= XVIO_XB_STATE_MAX);
	INV(!(a & SW) || ((int)st.next != own && st.next != XenbusStateUnknown));
	INV((a & SW) || (int)st.next == own);
	INV(!(a & CONNECT) || up);
	INV(!(a & SETUP) || up || (renew && own == XenbusStateClosed));
	INV(!(a & TD) || (flags & (PREP | CONN)));
	/* Set up only from a clean slate; connect at most once. */
	INV(!(a & SETUP) || !(flags & (PREP | CONN)) || (a & TD));
	INV(!(a & CONNECT) || !(flags & CONN));
	INV(!(a & CONNECT) || ((a & SW) && st.next == XenbusStateConnected));
	INV(!(a & CONNECT) || (flags & PREP) || (a & SETUP));
	if (r == XVIO_XB_BACKEND)
		INV(!(a & CONNECT) || ((flags & READY) && (peer == XenbusStateInitialised ||
		                                            peer == XenbusStateConnected)));
	else
		INV(!(a & CONNECT) || peer == XenbusStateConnected);
	/* Connected is only written together with CONNECT. */
	INV(!(a & SW) || st.next != XenbusStateConnected || (a & CONNECT));
	INV(!(a & REL) || own == XenbusStateUnknown ||
	    (!(flags & ONLINE) && own == XenbusStateClosed));
	INV(!(a & REL) || !(a & SW));
	/* A failed or offline device never moves towards a connection. */
	if (!up && !(a & SETUP) && (a & SW))
		INV(st.next == XenbusStateClosing || st.next == XenbusStateClosed);
#undef INV
}

static void check_fixed_invariants(enum xvio_xb_role r, int own, int peer, unsigned flags)
{
	struct fixed f = run(r, own, peer, flags);
	bool up = (f.flags & ONLINE) && !(f.flags & (FAILED | PF));

	if (f.released) {
		if (f.flags & (PREP | CONN))
			CHECK_FAIL("released with resources " CTX_FMT, CTX(r, own, peer, flags));
		return;
	}
	/* Resting states must match what this process holds. */
	if (f.own == XenbusStateConnected && !(f.flags & CONN))
		CHECK_FAIL("rests Connected without a connection " CTX_FMT,
		           CTX(r, own, peer, flags));
	if ((f.flags & CONN) && f.own != XenbusStateConnected)
		CHECK_FAIL("rests connected in %s " CTX_FMT, xvio_xb_state_name(f.own),
		           CTX(r, own, peer, flags));
	if (r == XVIO_XB_FRONTEND && f.own == XenbusStateInitialised && !(f.flags & PREP))
		CHECK_FAIL("rests Initialised without rings " CTX_FMT, CTX(r, own, peer, flags));
	if (r == XVIO_XB_BACKEND && f.own == XenbusStateInitWait && !(f.flags & PREP))
		CHECK_FAIL("rests InitWait unprepared " CTX_FMT, CTX(r, own, peer, flags));
	if (!up) {
		if (f.flags & (PREP | CONN))
			CHECK_FAIL("down but holds resources " CTX_FMT, CTX(r, own, peer, flags));
		if (f.own != XenbusStateClosing && f.own != XenbusStateClosed)
			CHECK_FAIL("down but rests in %s " CTX_FMT, xvio_xb_state_name(f.own),
			           CTX(r, own, peer, flags));
	}
	/* Not our states to rest in. */
	if (f.own == XenbusStateReconfiguring || f.own == XenbusStateReconfigured ||
	    f.own == XenbusStateUnknown ||
	    (r == XVIO_XB_BACKEND && f.own == XenbusStateInitialised) ||
	    (r == XVIO_XB_FRONTEND && f.own == XenbusStateInitWait))
		CHECK_FAIL("rests in %s " CTX_FMT, xvio_xb_state_name(f.own),
		           CTX(r, own, peer, flags));
}

static void test_exhaustive(void)
{
	unsigned n = 0;

	for (int r = XVIO_XB_FRONTEND; r <= XVIO_XB_BACKEND; r++)
		for (int own = 0; own <= XVIO_XB_STATE_MAX; own++)
			for (int peer = 0; peer <= XVIO_XB_STATE_MAX; peer++)
				for (unsigned fl = 0; fl <= XVIO_XB_FLAGS_ALL; fl++) {
					check_step_invariants((enum xvio_xb_role)r, own, peer, fl);
					check_fixed_invariants((enum xvio_xb_role)r, own, peer, fl);
					n++;
				}
	CHECK_INT(n, ==, 2 * 9 * 9 * 64);
}

static void test_bad_input(void)
{
	struct xvio_xb_step st;

	CHECK_INT(xvio_xb_step(XVIO_XB_BACKEND, 9, 1, UP, &st), ==, -EINVAL);
	CHECK_INT(xvio_xb_step(XVIO_XB_BACKEND, 1, 9, UP, &st), ==, -EINVAL);
	CHECK_INT(xvio_xb_step(XVIO_XB_BACKEND, 1, 1, 0x100, &st), ==, -EINVAL);
	CHECK_INT(xvio_xb_step((enum xvio_xb_role)7, 1, 1, UP, &st), ==, -EINVAL);
	CHECK_INT(xvio_xb_step(XVIO_XB_BACKEND, 1, 1, UP, NULL), ==, -EINVAL);
	CHECK_STR(xvio_xb_state_name((enum xenbus_state)9), "invalid");
	CHECK_STR(xvio_xb_state_name(XenbusStateInitWait), "InitWait");
}

#define EXPECT(r, own, peer, flags, acts, nxt)                                        \
	do {                                                                          \
		struct xvio_xb_step _s = step(r, own, peer, flags);                   \
		if (_s.actions != (acts) || (int)_s.next != (nxt))                    \
			CHECK_FAIL(CTX_FMT ": got actions %#x next %s, want %#x %s",  \
			           CTX(r, own, peer, flags), _s.actions,              \
			           xvio_xb_state_name(_s.next), (unsigned)(acts),     \
			           xvio_xb_state_name(nxt));                          \
	} while (0)

#define BE XVIO_XB_BACKEND
#define FE XVIO_XB_FRONTEND
#define UNK 0
#define INIT 1
#define WAIT 2
#define INITED 3
#define CONNd 4
#define CLOSING 5
#define CLOSED 6
#define RECONF 7
#define RECONFED 8

static void test_first_connect(void)
{
	/* Toolstack wrote both states 1; backend prepares and waits. */
	EXPECT(BE, INIT, INIT, UP, SETUP | SW, WAIT);
	EXPECT(BE, WAIT, INIT, UP | PREP, 0, WAIT);
	/* Frontend sets up on InitWait and announces Initialised. */
	EXPECT(FE, INIT, INIT, UP, 0, INIT);
	EXPECT(FE, INIT, WAIT, UP, SETUP | SW, INITED);
	/* Backend connects, frontend follows. */
	EXPECT(BE, WAIT, INITED, UP | PREP, CONNECT | SW, CONNd);
	EXPECT(FE, INITED, WAIT, UP | PREP, 0, INITED);
	EXPECT(FE, INITED, CONNd, UP | PREP, CONNECT | SW, CONNd);
}

static void test_skipped_states(void)
{
	/* Frontend jumped Initialising -> Connected (netfront style). */
	EXPECT(BE, WAIT, CONNd, UP | PREP, CONNECT | SW, CONNd);
	/* Backend seen straight at Connected: set up, then connect. */
	struct fixed f = run(FE, INIT, CONNd, UP);
	CHECK_INT(f.own, ==, CONNd);
	CHECK_INT(f.steps, ==, 2);
	CHECK(f.flags & CONN);
	/* Backend seen at Connected from Closed: wait for it to close first. */
	EXPECT(FE, CLOSED, CONNd, UP, 0, CLOSED);
	/* Backend not ready (hotplug pending) waits, then connects. */
	EXPECT(BE, WAIT, INITED, ONLINE | PREP, 0, WAIT);
	EXPECT(BE, WAIT, INITED, ONLINE | READY | PREP, CONNECT | SW, CONNd);
}

static void test_spurious(void)
{
	/* Re-reading an unchanged pair does nothing, on every resting pair. */
	EXPECT(BE, CONNd, CONNd, UP | PREP | CONN, 0, CONNd);
	EXPECT(FE, CONNd, CONNd, UP | PREP | CONN, 0, CONNd);
	EXPECT(BE, CONNd, INITED, UP | PREP | CONN, 0, CONNd);
	EXPECT(BE, WAIT, INIT, UP | PREP, 0, WAIT);
	EXPECT(FE, INITED, WAIT, UP | PREP, 0, INITED);
	EXPECT(BE, CLOSED, CONNd, UP, 0, CLOSED);
	EXPECT(BE, CONNd, RECONF, UP | PREP | CONN, 0, CONNd);
	EXPECT(FE, CONNd, RECONFED, UP | PREP | CONN, 0, CONNd);
}

static void test_stale_after_restart(void)
{
	/* A new process finds Connected in xenstore but holds nothing. */
	EXPECT(BE, CONNd, CONNd, UP, SW, CLOSED);
	EXPECT(FE, CONNd, CONNd, UP, SW, CLOSED);
	EXPECT(FE, INITED, WAIT, UP, SW, CLOSED);
	/* A stale InitWait only needs preparing again. */
	EXPECT(BE, WAIT, INITED, UP, SETUP | CONNECT | SW, CONNd);
	EXPECT(BE, WAIT, INIT, UP, SETUP, WAIT);
}

static void test_backend_reconnect(void)
{
	const unsigned c = UP | PREP | CONN;

	/* Frontend closed: disconnect, acknowledge, offer a new session. */
	EXPECT(BE, CONNd, CLOSED, c, TD | SW, CLOSED);
	EXPECT(BE, CLOSED, CLOSED, UP, SETUP | SW, WAIT);
	/* Frontend went back to Initialising: straight to InitWait. */
	EXPECT(BE, CONNd, INIT, c, TD | SETUP | SW, WAIT);
	/* Frontend closing: follow it, close when it is Closed. */
	EXPECT(BE, CONNd, CLOSING, c, TD | SW, CLOSING);
	EXPECT(BE, CLOSING, CLOSING, UP, 0, CLOSING);
	EXPECT(BE, CLOSING, CLOSED, UP, SW, CLOSED);
	/* Frontend domain gone (node missing). */
	EXPECT(BE, CONNd, UNK, c, TD | SW, CLOSED);
	EXPECT(BE, CLOSED, UNK, UP, 0, CLOSED);
}

static void test_frontend_reconnect(void)
{
	const unsigned c = UP | PREP | CONN;

	/* Backend closed or restarted: tear down, start over on InitWait. */
	EXPECT(FE, CONNd, CLOSED, c, TD | SW, CLOSED);
	EXPECT(FE, CONNd, WAIT, c, TD | SW, CLOSED);
	EXPECT(FE, CONNd, INIT, c, TD | SW, CLOSED);
	EXPECT(FE, CLOSED, CLOSED, UP, 0, CLOSED);
	EXPECT(FE, CLOSED, WAIT, UP, SETUP | SW, INITED);
	/* Backend closing: the frontend breaks the tie by closing. */
	EXPECT(FE, CONNd, CLOSING, c, TD | SW, CLOSED);
	EXPECT(FE, INIT, CLOSING, UP, SW, CLOSED);
	/* Initialised but the backend vanished. */
	EXPECT(FE, INITED, UNK, UP | PREP, TD | SW, CLOSED);
}

static void test_failure(void)
{
	/* Error -> Closing, resources torn down; Closed once the peer let go. */
	EXPECT(BE, CONNd, CONNd, UP | PREP | CONN | FAILED, TD | SW, CLOSING);
	EXPECT(BE, CLOSING, CONNd, UP | FAILED, 0, CLOSING);
	EXPECT(BE, CLOSING, CLOSED, UP | FAILED, SW, CLOSED);
	/* Failed stays Closed: no new session until retry. */
	EXPECT(BE, CLOSED, CLOSED, UP | FAILED, 0, CLOSED);
	EXPECT(BE, CLOSED, INIT, UP | FAILED, 0, CLOSED);
	EXPECT(FE, CONNd, CONNd, UP | PREP | CONN | FAILED, TD | SW, CLOSING);
	EXPECT(FE, CLOSING, CLOSING, UP | FAILED, SW, CLOSED);
	EXPECT(FE, CLOSED, WAIT, UP | FAILED, 0, CLOSED);
	EXPECT(FE, INIT, INIT, UP | FAILED, SW, CLOSING);
}

static void test_peer_fault(void)
{
	/* The peer broke the session: close like a failure... */
	EXPECT(BE, CONNd, CONNd, UP | PREP | CONN | PF, TD | SW, CLOSING);
	EXPECT(BE, CLOSING, INITED, UP | PF, 0, CLOSING);
	EXPECT(BE, CLOSING, CLOSED, UP | PF, SW, CLOSED);
	/* ...but once it closed too, a new session may start. */
	EXPECT(BE, CLOSED, CLOSED, UP | PF, SETUP | SW, WAIT);
	EXPECT(BE, CLOSED, INIT, UP | PF, SETUP | SW, WAIT);
	EXPECT(BE, CLOSED, CONNd, UP | PF, 0, CLOSED);
	EXPECT(FE, CONNd, CONNd, UP | PREP | CONN | PF, TD | SW, CLOSING);
	EXPECT(FE, CLOSING, CLOSING, UP | PF, SW, CLOSED);
	EXPECT(FE, CLOSED, WAIT, UP | PF, SETUP | SW, INITED);
	/* Offline or a local failure still wins. */
	EXPECT(BE, CLOSED, CLOSED, UP | PF | FAILED, 0, CLOSED);
	EXPECT(FE, CLOSED, WAIT, READY | PF, REL, CLOSED);
	/* Never straight from a broken session to a new one. */
	EXPECT(BE, CONNd, INIT, UP | PREP | CONN | PF, TD | SW, CLOSING);
	EXPECT(FE, INITED, WAIT, UP | PREP | PF, TD | SW, CLOSING);
}

static void test_removal(void)
{
	/* libxl writes online=0 and state=5 to the backend. */
	EXPECT(BE, CLOSING, CONNd, READY | PREP | CONN, TD, CLOSING);
	EXPECT(BE, CLOSING, CONNd, READY, 0, CLOSING);
	EXPECT(BE, CLOSING, CLOSED, READY, SW, CLOSED);
	EXPECT(BE, CLOSED, CLOSED, READY, REL, CLOSED);
	/* Never connected frontend: close without waiting (libxl's 10 s). */
	EXPECT(BE, CLOSING, INIT, READY, SW, CLOSED);
	/* Device directory removed. */
	EXPECT(BE, UNK, CONNd, UP | PREP | CONN, TD | REL, UNK);
	EXPECT(FE, UNK, CONNd, UP, REL, UNK);
	/* Frontend unplugged by its own side. */
	EXPECT(FE, CONNd, CONNd, READY | PREP | CONN, TD | SW, CLOSING);
	EXPECT(FE, CLOSING, CLOSING, READY, SW, CLOSED);
	EXPECT(FE, CLOSED, CLOSING, READY, REL, CLOSED);
}

int main(void)
{
	test_exhaustive();
	test_bad_input();
	test_first_connect();
	test_skipped_states();
	test_spurious();
	test_stale_after_restart();
	test_backend_reconnect();
	test_frontend_reconnect();
	test_failure();
	test_peer_fault();
	test_removal();
	return 0;
}
