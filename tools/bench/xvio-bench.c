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
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "plat.h"

static double g_seconds = 2.0;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "xvio-bench: %s: %s\n", what, strerror(err));
	exit(1);
}

/* ---- a private simulator ---- */

struct sim {
	char dir[128];
	char bin[PATH_MAX];
	pid_t pid;
};

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

static void sim_start(struct sim *s)
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

static int sim_create(struct sim *s, const char *name)
{
	char cfg[PATH_MAX], out[256];
	const char *argv[] = { s->bin, "--state-dir", s->dir, "create", cfg, NULL };
	FILE *f;
	char *p;

	snprintf(cfg, sizeof(cfg), "%s/%s.cfg", s->dir, name);
	f = fopen(cfg, "w");
	if (!f)
		die("config", errno);
	fprintf(f, "name = \"%s\"\nmemory = 64\n", name);
	fclose(f);
	if (run(argv, out, sizeof(out)) != 0 || !(p = strstr(out, "(id "))) {
		fprintf(stderr, "xvio-bench: cannot create a domain\n");
		exit(1);
	}
	return atoi(p + 4);
}

static void sim_enter(const struct sim *s, int domid)
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

static void sim_stop(struct sim *s)
{
	const char *argv[] = { s->bin, "--state-dir", s->dir, "stop", NULL };
	char path[PATH_MAX];

	run(argv, NULL, 0);
	snprintf(path, sizeof(path), "%s/xvio-sim.log", s->dir);
	unlink(path);
	rmdir(s->dir);
}

/* ---- baselines: two processes ping-ponging ---- */

/* Round trips per second over a pair of eventfds, each side blocking in poll. */
static double baseline_eventfd(void)
{
	int a = eventfd(0, EFD_CLOEXEC), b = eventfd(0, EFD_CLOEXEC);
	uint64_t v = 1;
	long n = 0;
	double t0, t;
	pid_t pid;

	if (a < 0 || b < 0)
		die("eventfd", errno);
	pid = fork();
	if (pid == 0) {
		for (;;) {
			struct pollfd p = { .fd = a, .events = POLLIN };

			poll(&p, 1, -1);
			if (read(a, &v, 8) != 8 || v == UINT64_MAX - 1)
				_exit(0);
			v = 1;
			if (write(b, &v, 8) != 8)
				_exit(1);
		}
	}
	t0 = now();
	do {
		struct pollfd p = { .fd = b, .events = POLLIN };

		v = 1;
		if (write(a, &v, 8) != 8)
			die("write", errno);
		poll(&p, 1, -1);
		if (read(b, &v, 8) != 8)
			die("read", errno);
		n++;
	} while ((t = now() - t0) < g_seconds);
	v = UINT64_MAX - 1;
	if (write(a, &v, 8) != 8)
		die("write", errno);
	waitpid(pid, NULL, 0);
	close(a);
	close(b);
	return (double)n / t;
}

/* Request/response round trips per second over a unix socket pair: the
 * same shape as a xenstore request without any xenstore work. */
static double baseline_socket(void)
{
	int sv[2];
	char buf[64] = "ping";
	long n = 0;
	double t0, t;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair", errno);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		while (read(sv[1], buf, 16 + 20) > 0)
			if (write(sv[1], buf, 16 + 8) < 0)
				break;
		_exit(0);
	}
	close(sv[1]);
	t0 = now();
	do {
		if (write(sv[0], buf, 16 + 20) < 0 || read(sv[0], buf, 16 + 8) <= 0)
			die("socket", errno);
		n++;
	} while ((t = now() - t0) < g_seconds);
	close(sv[0]);
	waitpid(pid, NULL, 0);
	return (double)n / t;
}

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

static int bench_xenstore(void)
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

static int bench_evtchn(void)
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
