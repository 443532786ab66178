/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets that keep working when the process runs out of file
 * descriptors.  The daemon's xenstore server, hypervisor and control
 * socket each own one acceptor and open their listeners through it.
 *
 * Out of descriptors, a pending connection keeps its listener readable
 * and level-triggered epoll would call us again at once: a spin.  So a
 * connection that cannot be accepted is accepted on a spare descriptor
 * (one per process, kept open for that) and closed at once: the client
 * sees EOF, the listener is drained.  If not even the spare is left,
 * every listener of the acceptor stops polling for SIM_LISTENER_PAUSE_MS
 * and the spare is reopened then; pending connections wait in the
 * backlog.  Any other accept failure pauses the same way.
 *
 * The acceptor does not log (it is shared by parts with their own log
 * style and limits): it counts, and tells its owner when a burst of
 * refusals starts.  Admission policy (how
 * many connections a domain may have) is the owner's: every accepted
 * descriptor is handed over.
 *
 * Single-threaded: every call from the thread that runs the loop.  A
 * forked child must not use its parent's acceptors.
 */
#ifndef SIM_LISTENER_H
#define SIM_LISTENER_H

struct loop;
struct sim_acceptor;
struct sim_listener;

/* How long listeners rest when they could neither accept nor shed. */
#define SIM_LISTENER_PAUSE_MS 100u

/* Callbacks of one owner.  `arg` is the one given to sim_listener_open
 * for the listener concerned.  None may free the acceptor or close a
 * listener of it. */
struct sim_acceptor_ops {
	/* A new connection: non-blocking, close-on-exec, the callee's. */
	void (*accepted)(void *arg, int fd);
	/* Optional: the first refusal of a burst, that is since the last
	 * accepted connection (or since the start), for a log line.  err is
	 * EMFILE or ENFILE when out of descriptors (connections are shed or
	 * wait), another errno when accept failed otherwise (they wait). */
	void (*refusing)(void *arg, int err);
};

/* Since sim_acceptor_new, over all the acceptor's listeners. */
struct sim_acceptor_stats {
	unsigned long shed;      /* accepted on the spare and closed at once */
	unsigned long pauses;    /* times the listeners stopped polling */
	unsigned long failures;  /* failed accepts (not "none pending") */
};

/* NULL with errno on failure.  `ops` must outlive the acceptor. */
struct sim_acceptor *sim_acceptor_new(struct loop *l, const struct sim_acceptor_ops *ops);
/* Close every listener left, then free. */
void sim_acceptor_free(struct sim_acceptor *a);
const struct sim_acceptor_stats *sim_acceptor_stats(const struct sim_acceptor *a);

/*
 * Listen on `path` (see sim_listen_unix for how the path is claimed) and
 * accept into a->ops->accepted(arg, fd).  Returns the listener, or NULL
 * with errno set (ENAMETOOLONG, EEXIST, ... as sim_listen_unix).
 */
struct sim_listener *sim_listener_open(struct sim_acceptor *a, const char *path, int type,
                                       int backlog, void *arg);
/* Stop accepting, close the socket and unlink its path.  NULL is fine. */
void sim_listener_close(struct sim_listener *ls);

/* Tests only: close the spare descriptor, as if it could not be reopened
 * after the last shed; it is reopened when a pause ends. */
void sim_listener_drop_spare(void);

#endif
