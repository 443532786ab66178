/* SPDX-License-Identifier: MIT */
/*
 * The XenbusState machine as a pure function: (role, own state, peer
 * state, local flags) -> (actions, next own state).  No I/O, no memory, so
 * the unit tests drive it over every input and model-check the two roles
 * against each other (tests/xenbus/test_state_model.c).
 *
 * Why each rule exists:
 * - Watches coalesce, so a side may never see a peer's intermediate
 *   states.  Every rule therefore looks only at the current pair, and a
 *   side that restarts a session first goes through Closed and waits for
 *   the peer to answer (backend: frontend Closed or Initialising;
 *   frontend: backend InitWait).  Without that acknowledgement a fast
 *   4 -> 6 -> 1 -> 3 -> 4 cycle could look like "still 4" to the peer,
 *   which would keep serving the old rings.
 * - A state the node says we are in but this process never reached
 *   (Connected after a restart, Initialised without rings) is stale: the
 *   resources behind it died with the old process, so we go to Closed.
 * - FAILED, PEER_FAULT or not ONLINE: go to Closing (the Xen error
 *   convention), then Closed once the peer no longer uses the data path.
 *   From Closed, only PEER_FAULT allows a new session (see xenbus.h).
 * - The frontend breaks the Closing/Closing tie (it goes Closed), as
 *   Linux frontends do; the backend waits.
 * - Tolerated skips: backend in InitWait connects on frontend Initialised
 *   or Connected; a frontend that sees the backend already Connected sets
 *   up and connects in two steps.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xenbus.h"

#define S_UNKNOWN XenbusStateUnknown
#define S_INIT XenbusStateInitialising
#define S_WAIT XenbusStateInitWait
#define S_INITED XenbusStateInitialised
#define S_CONN XenbusStateConnected
#define S_CLOSING XenbusStateClosing
#define S_CLOSED XenbusStateClosed
#define S_RECONF XenbusStateReconfiguring
#define S_RECONFED XenbusStateReconfigured

#define BIT(s) (1u << (s))

struct in {
	enum xenbus_state own, peer;
	bool up;        /* ONLINE, not FAILED, not PEER_FAULT */
	bool renew;     /* ONLINE, not FAILED: a new session may start */
	bool online;
	bool ready;
	bool prepared;
	bool connected;
	unsigned td;    /* TEARDOWN if there is anything to tear down */
};

static bool peer_in(const struct in *in, unsigned set)
{
	return (BIT(in->peer) & set) != 0;
}

static void to(struct xvio_xb_step *out, unsigned actions, enum xenbus_state next)
{
	out->actions |= actions | XVIO_XB_ACT_SWITCH;
	out->next = next;
}

/* Not up: Closing, then Closed when the peer is out of the data path. */
static void closing(const struct in *in, unsigned peer_gone, struct xvio_xb_step *out)
{
	switch (in->own) {
	case S_CLOSING:
		out->actions |= in->td;
		if (peer_in(in, peer_gone))
			to(out, 0, S_CLOSED);
		break;
	case S_CLOSED:
		out->actions |= in->td;
		if (!in->online)
			out->actions |= XVIO_XB_ACT_RELEASE;
		break;
	default:
		to(out, in->td, S_CLOSING);
		break;
	}
}

static void backend(const struct in *in, struct xvio_xb_step *out)
{
	/* Frontend states in which it no longer uses our data path. */
	const unsigned fe_gone = BIT(S_UNKNOWN) | BIT(S_INIT) | BIT(S_WAIT) | BIT(S_CLOSED);

	if (!in->up && !(in->renew && in->own == S_CLOSED)) {
		closing(in, fe_gone, out);
		return;
	}
	switch (in->own) {
	case S_INIT:
		to(out, in->td | XVIO_XB_ACT_SETUP, S_WAIT);
		break;
	case S_WAIT:
		if (in->connected) {
			/* Someone rewrote our Connected: start clean. */
			out->actions |= XVIO_XB_ACT_TEARDOWN;
		} else if (in->peer == S_CLOSING) {
			to(out, in->td, S_CLOSING);
		} else {
			if (!in->prepared) /* stale InitWait of an earlier process */
				out->actions |= XVIO_XB_ACT_SETUP;
			if (peer_in(in, BIT(S_INITED) | BIT(S_CONN)) && in->ready)
				to(out, XVIO_XB_ACT_CONNECT, S_CONN);
		}
		break;
	case S_CONN:
		if (!in->connected)
			to(out, in->td, S_CLOSED); /* stale */
		else if (peer_in(in, BIT(S_INIT) | BIT(S_WAIT)))
			to(out, XVIO_XB_ACT_TEARDOWN | XVIO_XB_ACT_SETUP, S_WAIT);
		else if (in->peer == S_CLOSING)
			to(out, XVIO_XB_ACT_TEARDOWN, S_CLOSING);
		else if (peer_in(in, BIT(S_UNKNOWN) | BIT(S_CLOSED)))
			to(out, XVIO_XB_ACT_TEARDOWN, S_CLOSED);
		break;
	case S_CLOSING:
		out->actions |= in->td;
		if (peer_in(in, fe_gone))
			to(out, 0, S_CLOSED);
		break;
	case S_CLOSED:
		out->actions |= in->td;
		if (peer_in(in, BIT(S_INIT) | BIT(S_CLOSED)))
			to(out, XVIO_XB_ACT_SETUP, S_WAIT);
		break;
	default: /* Initialised, Reconfiguring, Reconfigured: not ours */
		to(out, in->td, S_CLOSED);
		break;
	}
}

static void frontend(const struct in *in, struct xvio_xb_step *out)
{
	/* Backend states in which it no longer uses our rings. */
	const unsigned be_gone = BIT(S_UNKNOWN) | BIT(S_INIT) | BIT(S_WAIT) |
	                         BIT(S_CLOSING) | BIT(S_CLOSED);

	if (!in->up && !(in->renew && in->own == S_CLOSED)) {
		closing(in, be_gone, out);
		return;
	}
	switch (in->own) {
	case S_INIT:
		if (peer_in(in, BIT(S_WAIT) | BIT(S_CONN)))
			to(out, in->td | XVIO_XB_ACT_SETUP, S_INITED);
		else if (in->peer == S_CLOSING)
			to(out, in->td, S_CLOSED);
		else
			out->actions |= in->td;
		break;
	case S_INITED:
		if (!in->prepared || in->connected)
			to(out, in->td, S_CLOSED); /* stale, or rewritten */
		else if (in->peer == S_CONN)
			to(out, XVIO_XB_ACT_CONNECT, S_CONN);
		else if (peer_in(in, BIT(S_UNKNOWN) | BIT(S_CLOSING) | BIT(S_CLOSED)))
			to(out, XVIO_XB_ACT_TEARDOWN, S_CLOSED);
		break;
	case S_CONN:
		if (!in->prepared || !in->connected)
			to(out, in->td, S_CLOSED); /* stale */
		else if (peer_in(in, be_gone))
			to(out, XVIO_XB_ACT_TEARDOWN, S_CLOSED);
		break;
	case S_CLOSING:
		out->actions |= in->td;
		if (peer_in(in, be_gone))
			to(out, 0, S_CLOSED);
		break;
	case S_CLOSED:
		out->actions |= in->td;
		if (in->peer == S_WAIT)
			to(out, XVIO_XB_ACT_SETUP, S_INITED);
		break;
	default: /* InitWait, Reconfiguring, Reconfigured: not ours */
		to(out, in->td, S_CLOSED);
		break;
	}
}

int xvio_xb_step(enum xvio_xb_role role, enum xenbus_state own,
                 enum xenbus_state peer, unsigned flags, struct xvio_xb_step *out)
{
	struct in in;

	if (!out || (role != XVIO_XB_FRONTEND && role != XVIO_XB_BACKEND) ||
	    (unsigned)own > XVIO_XB_STATE_MAX || (unsigned)peer > XVIO_XB_STATE_MAX ||
	    (flags & ~XVIO_XB_FLAGS_ALL))
		return -EINVAL;
	in.own = own;
	in.peer = peer;
	in.online = flags & XVIO_XB_ONLINE;
	in.renew = in.online && !(flags & XVIO_XB_FAILED);
	in.up = in.renew && !(flags & XVIO_XB_PEER_FAULT);
	in.ready = flags & XVIO_XB_READY;
	in.prepared = flags & XVIO_XB_PREPARED;
	in.connected = flags & XVIO_XB_CONNECTED;
	in.td = (in.prepared || in.connected) ? XVIO_XB_ACT_TEARDOWN : 0;
	out->actions = 0;
	out->next = own;
	if (own == S_UNKNOWN) {
		/* Our node is gone: the toolstack removed the device. */
		out->actions = in.td | XVIO_XB_ACT_RELEASE;
		return 0;
	}
	if (role == XVIO_XB_BACKEND)
		backend(&in, out);
	else
		frontend(&in, out);
	return 0;
}

const char *xvio_xb_state_name(enum xenbus_state s)
{
	static const char *const names[] = {
		"Unknown", "Initialising", "InitWait", "Initialised", "Connected",
		"Closing", "Closed", "Reconfiguring", "Reconfigured",
	};

	if ((unsigned)s > XVIO_XB_STATE_MAX)
		return "invalid";
	return names[s];
}

int xvio_xb_parse_state(const char *what, const char *val, size_t len,
                        enum xenbus_state *out, struct xvio_err *err)
{
	char q[200];
	uint64_t v;

	if (xvio_parse_u64(what, val, len, 0, 0, XVIO_XB_STATE_MAX, &v, NULL) < 0)
		return xvio_err_set(err, EPROTO, "%s: \"%s\" is not a XenbusState", what,
		                    xvio_quote(q, sizeof(q), val, len));
	*out = (enum xenbus_state)v;
	return 0;
}
