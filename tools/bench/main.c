/* SPDX-License-Identifier: MIT */
/*
 * xvio-bench: figures, not tests.  Every figure is printed beside a raw
 * baseline measured in the same run on the same machine, because the
 * machines are shared and noisy; compare ratios, not absolute numbers.
 *
 *   xvio-bench xenstore [-s SECONDS]   xenstore operations per second
 *   xvio-bench evtchn   [-s SECONDS]   event-channel round trip between domains
 *
 * Each subcommand starts a private simulator (xvio-sim next to this binary,
 * or $XVIO_SIM) in a temporary state directory.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static void usage(FILE *f)
{
	fputs("usage: xvio-bench [-s SECONDS] xenstore|evtchn\n"
	      "\n"
	      "  xenstore  xenstore read/write/transaction rates through xvio-sim,\n"
	      "            beside eventfd and unix-socket ping-pong baselines\n"
	      "  evtchn    event-channel round trip between a dom0 and a domU process,\n"
	      "            beside an eventfd ping-pong baseline\n",
	      f);
}

int main(int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "hs:")) != -1) {
		switch (c) {
		case 's':
			g_seconds = atof(optarg);
			if (g_seconds <= 0 || g_seconds > 600) {
				usage(stderr);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[optind], "xenstore") == 0)
		return bench_xenstore();
	if (strcmp(argv[optind], "evtchn") == 0)
		return bench_evtchn();
	usage(stderr);
	return 2;
}
