/* SPDX-License-Identifier: MIT */
/*
 * xvio-sim internals shared by the CLI (main.c), the daemon (daemon.c) and
 * the toolstack (toolstack.c).  Functions return >= 0 or -errno; the CLI
 * prints messages, the daemon logs, nothing else does.
 *
 * State directory layout (all paths below DIR):
 *   control.sock           the toolstack's control socket (this file's protocol)
 *   pid                    the daemon's pid
 *   xvio-sim.log           the daemon's stderr when not in the foreground
 *   dom<N>/xenstored.sock  xenstore as domain N (dom0: privileged)
 *   dom<N>/hyp.sock        hypervisor calls as domain N (xenbus/sim_proto.h)
 *   dom<N>/nbd.sock        the guest's blkfront (nbdkit), when it has disks;
 *                          with nbdkit.pid and nbdkit.log beside it
 */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_CTL_MAX 4096          /* one control request or reply */
#define SIM_DEFAULT_DOM0_MIB 64   /* dom0 RAM available for grants */
#define SIM_MAX_DOMID 0x7fef      /* DOMID_FIRST_RESERVED - 1 */

/* Resolve the state directory: option, $XVIO_SIM_DIR, /run/xvio-sim (root),
 * $XDG_RUNTIME_DIR/xvio-sim, /tmp/xvio-sim-<uid>.  Result is static. */
const char *sim_state_dir(const char *opt);

/* Socket path of a domain: kind is "xenstored" or "hyp". */
int sim_dom_sock(char *buf, size_t len, const char *dir, unsigned domid, const char *kind);

/* ---- daemon.c ---- */

struct sim_start_opts {
	const char *dir;
	bool foreground;
	uint64_t dom0_mem_kib;
};

/* Run the daemon; in the background unless foreground.  Returns the exit
 * status for the CLI (0: stopped cleanly / daemon started). */
int sim_daemon_start(const struct sim_start_opts *o);

/* ---- control protocol client (main.c) ----
 *
 * One SOCK_SEQPACKET datagram per request and reply, plain text:
 *   ping                               -> ok
 *   create <domid|0> <mem_kib> <maxmem_kib> -> ok <domid>
 *   destroy <domid>                    -> ok
 *   shutdown <domid> <reason>          -> ok
 *   list [after]                       -> ok\n<domid> <flags> <tot_pages> <max_pages>...
 *                                         (at most 128 domains with ids above
 *                                         `after`; ask again from the last id)
 *   info <domid>                       -> ok <domid> <flags> <tot_pages> <max_pages>
 *   exec <domid> <pid>                 -> ok  (pid must be the caller's own;
 *                                         it is killed on destroy)
 *   stop                               -> ok  (destroys every domain, exits)
 * Errors: "err <errno> <message>".
 */

/* Send a request; on "ok" copies the rest of the reply into reply (may be
 * NULL) and returns 0; on "err N msg" copies msg and returns -N. */
int sim_ctl(const char *dir, const char *req, char *reply, size_t len);

/* ---- toolstack.c, toolstack_disk.c (the libxl stand-in, runs in the CLI
 * process) ---- */

struct sim_create_opts {
	const char *dir;
	const char *config;        /* xl config file */
	char *const *overrides;    /* "key=value" lines appended, as xl does */
	int n_overrides;
	bool dry_run;              /* parse and print, create nothing */
	const char *blkfront;      /* --blkfront PLUGIN, or NULL: look it up */
	bool no_blkfront;          /* do not start the guest's blkfront */
};

/* Create a domain from an xl config.  Returns the domid or -errno, with a
 * message for the user in err. */
int sim_create(const struct sim_create_opts *o, char *err, size_t errlen);

/* Destroy a domain (name or id) and remove its toolstack nodes. */
int sim_destroy(const char *dir, const char *dom, char *err, size_t errlen);

/* Name or number -> domid; -ESRCH if none. */
int sim_resolve(const char *dir, const char *dom, char *err, size_t errlen);

/* Print `xl list`-style output to stdout. */
int sim_list(const char *dir, char *err, size_t errlen);

#endif
