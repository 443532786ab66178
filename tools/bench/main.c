/* SPDX-License-Identifier: MIT */
/*
 * xvio-bench: figures, not tests.  Every figure is printed beside a raw
 * baseline measured in the same run on the same machine, because the
 * machines are shared and noisy; compare ratios, not absolute numbers.
 *
 *   xvio-bench xenstore [-s SECONDS]   xenstore operations per second
 *   xvio-bench evtchn   [-s SECONDS]   event-channel round trip between domains
 *   xvio-bench [-s SECONDS] ring [--spin-us N] [--rounds N]
 *                                      transport request latency and rate
 *   xvio-bench ring --callgrind [--requests N] [--spin-us N] [--keep]
 *                                      instructions per request (valgrind)
 *   xvio-bench [-s SECONDS] ring --breakdown [--spin-us N] [--rounds N]
 *                                      where a depth-1 round trip goes
 *   xvio-bench [-s SECONDS] ring --paired [--spin-us N] [--rounds N]
 *                                      depth-1 spin and baselines in short
 *                                      slices, ratios within each triple
 *   xvio-bench [-s SECONDS] blk [--spin-us N] [--queues N] [--size MiB] [--rounds N]
 *   xvio-bench blk --callgrind [--requests N] [--keep]
 *                                      block I/O against fio / qemu-nbd
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
	fputs("usage: xvio-bench [-s SECONDS] xenstore|evtchn|ring|blk [OPTIONS]\n"
	      "\n"
	      "  xenstore  xenstore read/write/transaction rates through xvio-sim,\n"
	      "            beside eventfd and unix-socket ping-pong baselines\n"
	      "  evtchn    event-channel round trip between a dom0 and a domU process,\n"
	      "            beside an eventfd ping-pong baseline\n"
	      "  ring      transport requests between a dom0 and a domU process: round\n"
	      "            trip at depth 1 and requests/s at depth 64, spinning and not,\n"
	      "            beside busy-polled shared-memory and eventfd baselines\n"
	      "            [--spin-us N]  spin window of the spinning runs\n"
	      "            [--rounds N]   repeat N times, print medians\n"
	      "            [--callgrind [--requests N] [--keep]]  instructions and system\n"
	      "            calls per request under valgrind instead of times (--keep:\n"
	      "            leave the callgrind files for callgrind_annotate)\n"
	      "            [--breakdown]  one depth-1 round trip segment by segment\n"
	      "            (time stamps on both sides), xvio spin beside the shm ring\n"
	      "            [--paired]  depth-1 spin, shm ping-pong and shm ring in\n"
	      "            slices of -s/10 seconds back to back, ratios per triple\n"
	      "  blk       block I/O on a tmpfs image: fio io_uring on the file, blkfront's\n"
	      "            C API -> xvio-blkback, fio nbd -> nbdkit xvioblk, fio nbd ->\n"
	      "            qemu-nbd (4 KiB random read, 1 MiB sequential read and write)\n"
	      "            [--spin-us N] [--queues N] [--size MiB] [--rounds N]\n"
	      "            [--callgrind [--requests N] [--keep]]  instructions per 4 KiB\n"
	      "            read of blkfront + blkback beside fio's, under valgrind\n",
	      f);
}

int main(int argc, char **argv)
{
	int c;

	/* "+": options after the subcommand are the subcommand's. */
	while ((c = getopt(argc, argv, "+hs:")) != -1) {
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
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[optind], "ring") == 0)
		return bench_ring(argc - optind, argv + optind);
	/* Internal: one side of `ring`, re-executed under valgrind. */
	if (strcmp(argv[optind], "ring-side") == 0)
		return bench_ring_side(argc - optind - 1, argv + optind + 1);
	if (strcmp(argv[optind], "blk") == 0)
		return bench_blk(argc - optind, argv + optind);
	/* Internal: the guest side of `blk` (blkfront), possibly under valgrind. */
	if (strcmp(argv[optind], "blk-side") == 0)
		return bench_blk_side(argc - optind - 1, argv + optind + 1);
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[optind], "xenstore") == 0)
		return bench_xenstore();
	if (strcmp(argv[optind], "evtchn") == 0)
		return bench_evtchn();
	usage(stderr);
	return 2;
}
