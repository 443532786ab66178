/* SPDX-License-Identifier: MIT */
/*
 * Listening AF_UNIX sockets for the simulator's daemon, xenstore server
 * and hypervisor: one place decides how a socket path is claimed.
 * Accepting on them is listener.h's.
 */
#ifndef SIM_UNIXSOCK_H
#define SIM_UNIXSOCK_H

/*
 * Bind and listen on `path` with a socket of `type` (SOCK_STREAM or
 * SOCK_SEQPACKET), close-on-exec and non-blocking.  A socket already at
 * `path` is taken to be left by a previous run and replaced; any other
 * file there is kept and the call fails with -EEXIST.  Returns the
 * listening fd, or -ENAMETOOLONG when `path` does not fit sun_path, or
 * another -errno.  On failure nothing is left at `path` by this call.
 * The caller owns the fd and unlinks `path` when it stops listening.
 */
int sim_listen_unix(const char *path, int type, int backlog);

#endif
