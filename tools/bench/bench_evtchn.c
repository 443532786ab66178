/* SPDX-License-Identifier: MIT */
/* xvio-bench evtchn: event-channel round trips between two domains. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "bench.h"
#include "plat.h"

/* ---- event channels ---- */

static void wait_port(struct xvio_evtchn *e, int want)
{
	struct pollfd p = { .fd = xvio_evtchn_fd(e), .events = POLLIN };

	for (;;) {
		int port = xvio_evtchn_pending(e);

		if (port >= 0) {
			xvio_evtchn_unmask(e, (xvio_port_t)port);
			if (port == want)
				return;
			continue;
		}
		if (port != -EAGAIN)
			die("evtchn pending", -port);
		poll(&p, 1, -1);
	}
}

/* The platform and an event channel handle on it; exits on failure. */
static struct xvio_evtchn *open_evtchn(struct xvio_plat **p)
{
	struct xvio_evtchn *e;
	int err = xvio_plat_open(NULL, p);

	if (err < 0)
		die("platform", -err);
	err = xvio_evtchn_open(*p, &e);
	if (err < 0)
		die("evtchn open", -err);
	return e;
}

/* The guest side: offers a port through xenstore, then echoes every event. */
static int evtchn_guest(int backend_domid, long rounds)
{
	struct xvio_plat *p;
	struct xvio_evtchn *e;
	struct xs_handle *h = xs_open(0);
	char v[16];
	int port;

	if (!h)
		die("xs_open", errno);
	e = open_evtchn(&p);
	port = xvio_evtchn_alloc_unbound(e, (xvio_domid_t)backend_domid);
	if (port < 0)
		die("alloc_unbound", -port);
	snprintf(v, sizeof(v), "%d", port);
	if (!xs_write(h, XBT_NULL, "data/bench-port", v, (unsigned)strlen(v)))
		die("xs_write", errno);
	for (long i = 0; i < rounds; i++) {
		wait_port(e, port);
		xvio_evtchn_notify(e, (xvio_port_t)port);
	}
	xvio_evtchn_close(e);
	xvio_plat_close(p);
	xs_close(h);
	return 0;
}

static double bench_evtchn_rtt(struct sim *s, int guest, double *call_rtt)
{
	struct xvio_plat *p;
	struct xvio_evtchn *e;
	struct xs_handle *h;
	char path[64];
	char *v = NULL;
	unsigned len;
	long rounds = 0, calib;
	double t0, t;
	int port;
	pid_t pid;

	/* calibrate the number of rounds from the eventfd baseline */
	calib = (long)(baseline_eventfd() * g_seconds);
	pid = fork();
	if (pid == 0) {
		sim_enter(s, guest);
		_exit(evtchn_guest(0, calib + 1));
	}
	h = xs_open(0);
	if (!h)
		die("xs_open", errno);
	snprintf(path, sizeof(path), "/local/domain/%d/data/bench-port", guest);
	for (int i = 0; i < 5000 && !(v = xs_read(h, XBT_NULL, path, &len)); i++)
		usleep(1000);
	if (!v)
		die("guest port never appeared", ETIMEDOUT);
	e = open_evtchn(&p);
	port = xvio_evtchn_bind_interdomain(e, (xvio_domid_t)guest, (xvio_port_t)atoi(v));
	free(v);
	if (port < 0)
		die("bind_interdomain", -port);
	/* Xen raises the binder's port once at bind time: consume it. */
	wait_port(e, port);
	t0 = now();
	do {
		xvio_evtchn_notify(e, (xvio_port_t)port);
		wait_port(e, port);
		rounds++;
	} while (rounds < calib + 1);
	t = now() - t0;
	/* A spurious event may leave the echo one round behind; stop it. */
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	/* A hypercall-like round trip to the simulator: the status query. */
	{
		long calls = 0;
		double c0 = now(), ct;

		do {
			if (xvio_evtchn_status(e, (xvio_port_t)port) < 0)
				die("evtchn status", EIO);
			calls++;
		} while ((ct = now() - c0) < g_seconds);
		*call_rtt = ct / (double)calls;
	}
	xvio_evtchn_close(e);
	xvio_plat_close(p);
	xs_close(h);
	return t / (double)rounds;
}

int bench_evtchn(void)
{
	struct sim s;
	double efd, rtt, call;
	int guest;

	sim_start(&s);
	guest = sim_create(&s, "bench-guest");
	sim_enter(&s, 0);
	efd = 1.0 / baseline_eventfd();
	rtt = bench_evtchn_rtt(&s, guest, &call);
	sim_stop(&s);
	printf("event-channel round trip, dom0 <-> domU processes, poll-blocking, %.1f s\n",
	       g_seconds);
	printf("%-36s %12s %10s\n", "path", "usec/rtt", "/eventfd");
	printf("%-36s %12.2f %10s\n", "baseline: eventfd ping-pong", efd * 1e6, "1.00");
	printf("%-36s %12.2f %10.2f\n", "xvio evtchn notify+wake (sim)", rtt * 1e6, rtt / efd);
	printf("%-36s %12.2f %10.2f\n", "call into the simulator (status)", call * 1e6, call / efd);
	return 0;
}

