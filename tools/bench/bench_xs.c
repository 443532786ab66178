/* SPDX-License-Identifier: MIT */
/* xvio-bench xenstore: libxenstore operations through xvio-sim. */
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

/* ---- xenstore ---- */

typedef bool xs_op(struct xs_handle *h, long i);

static bool op_read(struct xs_handle *h, long i)
{
	unsigned len;
	char *v = xs_read(h, XBT_NULL, "/bench/key", &len);

	(void)i;
	free(v);
	return v != NULL;
}

static bool op_write(struct xs_handle *h, long i)
{
	char v[32];

	snprintf(v, sizeof(v), "%ld", i);
	return xs_write(h, XBT_NULL, "/bench/key", v, (unsigned)strlen(v));
}

static bool op_txn(struct xs_handle *h, long i)
{
	xs_transaction_t t = xs_transaction_start(h);
	char v[32];

	if (t == XBT_NULL)
		return false;
	snprintf(v, sizeof(v), "%ld", i);
	if (!xs_write(h, t, "/bench/key", v, (unsigned)strlen(v))) {
		xs_transaction_end(h, t, true);
		return false;
	}
	return xs_transaction_end(h, t, false) || errno == EAGAIN;
}

static double xs_rate(xs_op *op)
{
	struct xs_handle *h = xs_open(0);
	double t0, t;
	long n = 0;

	if (!h)
		die("xs_open", errno);
	if (!xs_write(h, XBT_NULL, "/bench/key", "0", 1))
		die("xs_write", errno);
	t0 = now();
	do {
		if (!op(h, n))
			die("xenstore operation", errno);
		n++;
	} while ((t = now() - t0) < g_seconds);
	xs_close(h);
	return (double)n / t;
}

int bench_xenstore(void)
{
	struct sim s;
	double efd, sock, r, w, tx;

	sim_start(&s);
	sim_enter(&s, 0);
	efd = baseline_eventfd();
	sock = baseline_socket();
	r = xs_rate(op_read);
	w = xs_rate(op_write);
	tx = xs_rate(op_txn);
	sim_stop(&s);
	printf("xenstore through xvio-sim, one client, %.1f s per figure\n", g_seconds);
	printf("%-36s %12s %10s %10s\n", "operation", "ops/s", "/eventfd", "/socket");
	printf("%-36s %12.0f %10s %10s\n", "baseline: eventfd ping-pong", efd, "1.00", "");
	printf("%-36s %12.0f %10s %10s\n", "baseline: unix socket ping-pong", sock, "", "1.00");
	printf("%-36s %12.0f %10.2f %10.2f\n", "xs_read", r, r / efd, r / sock);
	printf("%-36s %12.0f %10.2f %10.2f\n", "xs_write", w, w / efd, w / sock);
	printf("%-36s %12.0f %10.2f %10.2f\n", "transaction (start+write+commit)", tx, tx / efd,
	       tx / sock);
	return 0;
}

