/* SPDX-License-Identifier: MIT */
/*
 * xvio-bench ring --paired: the spinning depth-1 round trip and its two
 * busy-polled baselines in short slices, back to back.
 *
 * Why: on a shared VM the cost of moving a cache line between the two
 * vCPUs changes with where the host runs them, by 3x and more within a
 * minute (a shm ping-pong of 0.3 µs in one round, 1.2 µs in the next).
 * The timed mode measures each figure for -s seconds, one after the
 * other, so a round's ratio can compare a figure taken on a slow placement
 * with a baseline taken on a fast one.  Here each triple - ping-pong, shm
 * ring, xvio - lasts a few tenths of a second in all, and every ratio
 * compares figures of one triple; the medians over many triples are what
 * the run reports.  Within a triple the order rotates, so no figure always
 * comes first after the others ran.
 *
 * The xvio frontend stays connected for the whole run, idle between its
 * slices (blocked on a pipe; its queue and the backend's stop polling
 * after the spin window and sleep), and runs a short warm-up before each
 * measured slice so that both sides poll again when it starts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "bench_paired.h"
#include "bench_ring.h"

/* Slices per --rounds unit; each slice lasts -s / PR_SLICES seconds. */
#define PR_SLICES 10u
#define PR_MAX (PR_SLICES * BENCH_MAX_ROUNDS)
/* Round trips before each xvio slice: both sides spin again (the backend
 * slept while the baselines ran) and the caches are warm. */
#define PR_REWARM_SECONDS 0.01

enum { P_PP, P_RING, P_XVIO, P_N };
/* A triple counts as undisturbed when the hypervisor took less than this
 * share of the two CPUs' time during it (steal, /proc/stat). */
#define PR_CLEAN_STEAL 0.01
/* Fewer undisturbed triples than this: their medians are not printed. */
#define PR_MIN_CLEAN 5u

static const char *const pr_names[P_N] = {
	"baseline: shm ping-pong", "baseline: shm ring, same requests", "xvio spin",
};

/* The frontend (forked, in the guest): one slice per number read from
 * `cmd` (its seconds; 0 ends), one round trip in seconds written to
 * `res` per slice. */
static int pr_front(unsigned spin_us, unsigned devid, int cmd, int res)
{
	struct pollfd pfd[XVIO_XPORT_CTX_NFDS];
	struct xvio_xport_front *f;
	struct phase ph = { 1, 0, bench_warm_seconds() };
	double secs;

	rf_init(spin_us, devid, pfd, &f);
	rf_phase(pfd, &ph);
	while (read(cmd, &secs, sizeof(secs)) == (ssize_t)sizeof(secs) && secs > 0) {
		struct phase warm = { 1, 0, PR_REWARM_SECONDS }, run = { 1, 0, secs };
		double t, rtt;

		rf_phase(pfd, &warm);
		t = rf_phase(pfd, &run);
		rtt = t / (double)rf_done();
		if (write(res, &rtt, sizeof(rtt)) != (ssize_t)sizeof(rtt))
			die("paired: result pipe", errno);
	}
	return rf_fini(f, "paired frontend");
}

struct pr_front_proc {
	pid_t pid;
	int cmd, res;
};

static void pr_front_start(struct pr_front_proc *p, const struct sim *s, int guest,
                           unsigned spin_us, unsigned devid)
{
	int c[2], r[2];

	if (pipe(c) < 0 || pipe(r) < 0)
		die("pipe", errno);
	p->pid = fork_side(0);
	if (p->pid == 0) {
		close(c[1]);
		close(r[0]);
		sim_enter(s, guest);
		_exit(pr_front(spin_us, devid, c[0], r[1]));
	}
	close(c[0]);
	close(r[1]);
	p->cmd = c[1];
	p->res = r[0];
}

/* Seconds per round trip of one xvio slice. */
static double pr_front_slice(const struct pr_front_proc *p, double secs)
{
	double rtt;

	if (write(p->cmd, &secs, sizeof(secs)) != (ssize_t)sizeof(secs) ||
	    read(p->res, &rtt, sizeof(rtt)) != (ssize_t)sizeof(rtt))
		die("paired: frontend failed", EIO);
	return rtt;
}

static void pr_front_stop(struct pr_front_proc *p)
{
	double zero = 0;

	if (write(p->cmd, &zero, sizeof(zero)) != (ssize_t)sizeof(zero))
		die("paired: command pipe", errno);
	close(p->cmd);
	close(p->res);
	bench_wait_ok(p->pid, "paired frontend");
}

/* One slice of figure `which`, in seconds per round trip.  The
 * baselines measure for g_seconds: set to the slice for the call. */
static double pr_slice(unsigned which, const struct pr_front_proc *fe, double secs)
{
	double saved = g_seconds, v;

	if (which == P_XVIO)
		return pr_front_slice(fe, secs);
	g_seconds = secs;
	v = which == P_PP ? baseline_shm_rtt() : 1.0 / baseline_shm_ring(1);
	g_seconds = saved;
	return v;
}

/* Median and quartiles of v[0..n) (sorted by bench_median). */
static void pr_row(const char *name, double *v, unsigned n, double scale, const char *aim)
{
	double med = bench_median(v, n);
	double p25 = v[(n - 1) / 4], p75 = v[n - 1 - (n - 1) / 4];

	printf("%-44s %9.3f %9.3f %9.3f %7s\n", name, med * scale, p25 * scale, p75 * scale, aim);
}

/* The figures and ratios of the triples fig[0..n). */
static void pr_table(double (*fig)[P_N], unsigned n)
{
	double v[PR_MAX];
	unsigned met = 0;

	printf("%-44s %9s %9s %9s %7s\n", "depth 1: round trip (usec)", "median", "p25", "p75", "");
	for (unsigned w = 0; w < P_N; w++) {
		for (unsigned k = 0; k < n; k++)
			v[k] = fig[k][w];
		pr_row(pr_names[w], v, n, 1e6, "");
	}
	printf("%-44s %9s %9s %9s %7s\n", "ratios within a triple", "median", "p25", "p75", "aim");
	for (unsigned k = 0; k < n; k++) {
		v[k] = fig[k][P_XVIO] / fig[k][P_PP];
		met += v[k] <= 2.0;
	}
	pr_row("xvio spin / shm ping-pong", v, n, 1, "<= 2");
	for (unsigned k = 0; k < n; k++)
		v[k] = fig[k][P_XVIO] / fig[k][P_RING];
	pr_row("xvio spin / shm ring", v, n, 1, "");
	for (unsigned k = 0; k < n; k++)
		v[k] = fig[k][P_RING] / fig[k][P_PP];
	pr_row("shm ring / shm ping-pong", v, n, 1, "");
	printf("triples with xvio spin within 2x of the ping-pong: %u of %u\n", met, n);
}

static void pr_print(double (*fig)[P_N], const double *steal, unsigned n, double secs,
                     double steal_all, unsigned spin_us)
{
	static double clean[PR_MAX][P_N];
	unsigned nc = 0;

	for (unsigned k = 0; k < n; k++)
		if (steal[k] < PR_CLEAN_STEAL)
			memcpy(clean[nc++], fig[k], sizeof(fig[k]));
	printf("paired slices: %u triples of shm ping-pong, shm ring and xvio spin, one\n"
	       "request in flight, %.2f s each, back to back (order rotating); ratios are\n"
	       "taken within each triple, then the median and quartiles over the triples\n",
	       n, secs);
	printf("time the hypervisor took from the CPUs (steal) during the run: %.1f%%\n",
	       steal_all * 100);
	printf("all %u triples:\n", n);
	pr_table(fig, n);
	if (nc >= PR_MIN_CLEAN) {
		printf("the %u triples with under %.0f%% steal:\n", nc, PR_CLEAN_STEAL * 100);
		pr_table(clean, nc);
	} else {
		printf("only %u triples had under %.0f%% steal: the host is busy, figures are "
		       "unreliable\n", nc, PR_CLEAN_STEAL * 100);
	}
	printf("(spin window %u us; %s)\n", spin_us,
	       bench_pinned() ? "the two sides of every figure pinned to two CPUs"
	                      : "one CPU: sides not pinned");
}

int bench_paired(unsigned spin_us, unsigned rounds)
{
	static double fig[PR_MAX][P_N], steal[PR_MAX];
	unsigned n = rounds * PR_SLICES;
	struct bench_steal all;
	double steal_all;
	double secs = g_seconds / PR_SLICES;
	struct pr_front_proc fe;
	struct ring_scene rs;
	pid_t back;

	ring_scene_start(&rs);
	make_device(rs.xs, rs.guest, 1);
	back = start_back(NULL, spin_us, NULL);
	pr_front_start(&fe, &rs.sim, rs.guest, spin_us, 1);
	bench_steal_mark(&all);
	for (unsigned k = 0; k < n; k++) {
		struct bench_steal one;

		bench_steal_mark(&one);
		for (unsigned i = 0; i < P_N; i++) {
			unsigned w = (i + k) % P_N;

			fig[k][w] = pr_slice(w, &fe, secs);
		}
		steal[k] = bench_steal_share(&one);
	}
	steal_all = bench_steal_share(&all);
	pr_front_stop(&fe);
	stop_back(back);
	remove_device(rs.xs, rs.guest, 1);
	ring_scene_stop(&rs);
	pr_print(fig, steal, n, secs, steal_all, spin_us);
	return 0;
}
