/* SPDX-License-Identifier: MIT */
/*
 * Killing a domain's processes, the simulator's stand-in for destroying a
 * domain's vCPUs: after sim_reap() returns, nothing that ran in the domain
 * runs any more (unless it hid), so nobody holds mappings the hypervisor
 * is about to forget.
 */
#ifndef SIM_REAP_H
#define SIM_REAP_H

#include <stddef.h>
#include <sys/types.h>

/*
 * SIGKILL the processes behind `pidfds`, the process groups `groups`, and
 * every process whose environment holds exactly the entry `marker`
 * (e.g. "XVIO_SIM_HYP=/run/xvio-sim/dom3/hyp.sock", which `xvio-sim exec`
 * sets and children inherit), then wait up to timeout_ms for all of them
 * to exit.  A process that changed both its environment and its process
 * group escapes; the simulator is not a security boundary.
 *
 * Returns the number of processes still alive at the deadline.
 */
int sim_reap(const int *pidfds, size_t n_pidfds, const pid_t *groups, size_t n_groups,
             const char *marker, int timeout_ms);

#endif
