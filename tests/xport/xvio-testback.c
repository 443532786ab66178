/* SPDX-License-Identifier: MIT */
/*
 * xvio-testback: the xvio_test device's backend (a test tool).  Serves
 * every xvio_test device of this domain's backend directory: writes
 * config/seed at each session and answers each request with the
 * transform of testdev.h.  Runs until SIGTERM or SIGINT, then frees
 * everything (the sanitizers check it) and exits 0.
 *
 * Options: --spin-us N, --max-queues N, --max-queue-size N,
 * --max-area-pages N.  Prints "ready" once the devices present at start
 * were taken over (InitWait written), "served N" at exit.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testdev.h"
#include "xport.h"

static unsigned long long served;

static int tb_setup(struct xvio_xport_bdev *d, xs_transaction_t t, struct xvio_err *err)
{
	uint32_t seed = xt_seed(xvio_xport_bdev_frontend_id(d), xvio_xport_bdev_devid(d));

	return xvio_xs_printf(xvio_xport_ctx_xs(xvio_xport_bdev_ctx(d)), t,
	                      xvio_xport_bdev_path(d), "config/seed", err, "%u", seed);
}

static void tb_request(struct xvio_xport_bdev *d, struct xvio_xport_breq *r)
{
	uint32_t seed = xt_seed(xvio_xport_bdev_frontend_id(d), xvio_xport_bdev_devid(d));

	xt_xform(seed, r->iov, r->nout, r->niov, r->in_bytes, false);
	served++;
	xvio_xport_breq_complete(r, r->in_bytes);
}

static const struct xvio_xport_back_ops tb_ops = {
	.setup = tb_setup,
	.request = tb_request,
};

static unsigned num(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v > 1000000000ul) {
		fprintf(stderr, "xvio-testback: bad number \"%s\"\n", s);
		exit(2);
	}
	return (unsigned)v;
}

static struct xvio_xport_ctx *g_ctx;

static void on_signal(int sig)
{
	xvio_xport_ctx_stop(g_ctx);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "spin-us", required_argument, NULL, 's' },
		{ "max-queues", required_argument, NULL, 'q' },
		{ "max-queue-size", required_argument, NULL, 'n' },
		{ "max-area-pages", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct xvio_xport_ctx_params cp = { .spin_us = XVIO_XPORT_SPIN_DEFAULT };
	struct xvio_xport_back_params bp = {
		.kind = XT_KIND, .virtio_id = XT_VIRTIO_ID, .max_queues = 4,
		.max_queue_size = 1024, .max_area_pages = 4096, .ops = &tb_ops,
	};
	struct sigaction sa = { .sa_handler = on_signal };
	struct xvio_err err = { 0 };
	struct xvio_xport_ctx *c;
	struct xvio_xport_back *b;
	sigset_t set, wait_mask;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': cp.spin_us = num(optarg); break;
		case 'q': bp.max_queues = num(optarg); break;
		case 'n': bp.max_queue_size = num(optarg); break;
		case 'p': bp.max_area_pages = num(optarg); break;
		default: return 2;
		}
	}
	/* Signals arrive only while the run loop waits (see xport.h). */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (xvio_xport_ctx_new(&cp, &c, &err) < 0) {
		fprintf(stderr, "xvio-testback: %s\n", err.err ? err.msg : strerror(errno));
		return 1;
	}
	if (xvio_xport_back_new(c, &bp, &b, &err) < 0) {
		fprintf(stderr, "xvio-testback: %s\n", err.msg);
		return 1;
	}
	printf("ready\n");
	g_ctx = c;
	rc = xvio_xport_ctx_run(c, &wait_mask);
	xvio_xport_back_free(b);
	xvio_xport_ctx_free(c);
	printf("served %llu\n", served);
	if (rc < 0) {
		fprintf(stderr, "xvio-testback: event loop: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}
