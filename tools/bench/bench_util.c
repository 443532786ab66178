/* SPDX-License-Identifier: MIT */
/* Helpers shared by the benchmarks: time, errors, a private simulator. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

double g_seconds = 2.0;

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void die(const char *what, int err)
{
	fprintf(stderr, "xvio-bench: %s: %s\n", what, strerror(err));
	exit(1);
}

/* ---- a private simulator ---- */

static void find_sim(struct sim *s)
{
	const char *env = getenv("XVIO_SIM");
	char self[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(s->bin, sizeof(s->bin), "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		/* the build tree (tools/sim/) or an installed bin/ */
		snprintf(s->bin, sizeof(s->bin), "%.4000s/sim/xvio-sim", self);
		if (access(s->bin, X_OK) == 0)
			return;
		snprintf(s->bin, sizeof(s->bin), "%.4000s/xvio-sim", self);
		if (access(s->bin, X_OK) == 0)
			return;
	}
	snprintf(s->bin, sizeof(s->bin), "xvio-sim");
}

static int run(const char *const *argv, char *out, size_t outlen)
{
	int pfd[2], status;
	pid_t pid;
	size_t used = 0;

	if (pipe(pfd) < 0)
		die("pipe", errno);
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	for (ssize_t n; out && used + 1 < outlen &&
	     (n = read(pfd[0], out + used, outlen - 1 - used)) > 0;)
		used += (size_t)n;
	if (out)
		out[used] = '\0';
	close(pfd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

void sim_start(struct sim *s)
{
	find_sim(s);
	snprintf(s->dir, sizeof(s->dir), "/tmp/xvio-bench-XXXXXX");
	if (!mkdtemp(s->dir))
		die("mkdtemp", errno);
	{
		const char *argv[] = { s->bin, "start", "--state-dir", s->dir, NULL };

		if (run(argv, NULL, 0) != 0) {
			fprintf(stderr, "xvio-bench: cannot start %s\n", s->bin);
			exit(1);
		}
	}
}

int sim_create(struct sim *s, const char *name)
{
	char cfg[PATH_MAX], out[256];
	const char *argv[] = { s->bin, "--state-dir", s->dir, "create", cfg, NULL };
	FILE *f;
	char *p;
	int rc;

	snprintf(cfg, sizeof(cfg), "%s/%s.cfg", s->dir, name);
	f = fopen(cfg, "w");
	if (!f)
		die("config", errno);
	fprintf(f, "name = \"%s\"\nmemory = 64\n", name);
	fclose(f);
	rc = run(argv, out, sizeof(out));
	unlink(cfg); /* read by create; sim_stop removes the directory */
	if (rc != 0 || !(p = strstr(out, "(id "))) {
		fprintf(stderr, "xvio-bench: cannot create a domain\n");
		exit(1);
	}
	return atoi(p + 4);
}

void sim_enter(const struct sim *s, int domid)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s/dom%d/xenstored.sock", s->dir, domid);
	setenv("XENSTORED_PATH", buf, 1);
	snprintf(buf, sizeof(buf), "%s/dom%d/hyp.sock", s->dir, domid);
	setenv("XVIO_SIM_HYP", buf, 1);
	snprintf(buf, sizeof(buf), "%d", domid);
	setenv("XVIO_DOMID", buf, 1);
	setenv("XVIO_PLATFORM", "sim", 1);
}

void sim_stop(struct sim *s)
{
	const char *argv[] = { s->bin, "--state-dir", s->dir, "stop", NULL };
	char path[PATH_MAX];

	run(argv, NULL, 0);
	snprintf(path, sizeof(path), "%s/xvio-sim.log", s->dir);
	unlink(path);
	rmdir(s->dir);
}

void bench_wait_ok(pid_t pid, const char *what)
{
	int st;

	if (waitpid(pid, &st, 0) < 0)
		die(what, errno);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "xvio-bench: %s failed (status %#x)\n", what, st);
		exit(1);
	}
}

double bench_steal_seconds(void)
{
	unsigned long long f[8] = { 0 };
	FILE *fp = fopen("/proc/stat", "r");
	long hz = sysconf(_SC_CLK_TCK);
	int n;

	if (!fp)
		return -1;
	/* "cpu  user nice system idle iowait irq softirq steal ..." */
	n = fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1], &f[2], &f[3],
	           &f[4], &f[5], &f[6], &f[7]);
	fclose(fp);
	if (n < 4 || hz <= 0)
		return -1;
	return n < 8 ? 0 : (double)f[7] / (double)hz;
}

void bench_steal_mark(struct bench_steal *m)
{
	m->steal = bench_steal_seconds();
	m->t = now();
}

double bench_steal_share(const struct bench_steal *m)
{
	double s = bench_steal_seconds(), dt = now() - m->t;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (s < 0 || m->steal < 0 || dt <= 0 || ncpu <= 0)
		return 0;
	return (s - m->steal) / (dt * (double)ncpu);
}

double bench_median(double *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static cpu_set_t pin_all;
static int pin_cpu[2] = { -1, -1 };

/* The first two CPUs the program may use, found once (before any pin). */
static bool pin_init(void)
{
	static bool done;

	if (!done) {
		done = true;
		if (sched_getaffinity(0, sizeof(pin_all), &pin_all) == 0) {
			for (int c = 0, k = 0; c < CPU_SETSIZE && k < 2; c++)
				if (CPU_ISSET(c, &pin_all))
					pin_cpu[k++] = c;
		}
	}
	return pin_cpu[1] >= 0;
}

bool bench_pinned(void)
{
	return pin_init();
}

void bench_pin(unsigned side)
{
	cpu_set_t one;

	if (!pin_init() || side > 1)
		return;
	CPU_ZERO(&one);
	CPU_SET(pin_cpu[side], &one);
	if (sched_setaffinity(0, sizeof(one), &one) < 0)
		die("sched_setaffinity", errno);
}

void bench_unpin(void)
{
	if (pin_init() && sched_setaffinity(0, sizeof(pin_all), &pin_all) < 0)
		die("sched_setaffinity", errno);
}

unsigned long long bench_arg_num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-') {
		fprintf(stderr, "xvio-bench: bad number \"%s\"\n", s);
		exit(2);
	}
	return v;
}

double bench_warm_seconds(void)
{
	return g_seconds / 8 < 0.25 ? g_seconds / 8 : 0.25;
}
