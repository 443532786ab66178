/* SPDX-License-Identifier: MIT */
/*
 * xvio-sim: a simulated Xen host.  This file is the command line, modelled
 * on xl: start/stop the simulator, create/destroy/list domains, run a
 * command as a process of a domain.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "sim.h"

/* ---- shared helpers (sim.h) ---- */

const char *sim_state_dir(const char *opt)
{
	static char buf[PATH_MAX];
	const char *env = getenv("XVIO_SIM_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (opt && *opt)
		return opt;
	if (env && *env)
		return env;
	if (geteuid() == 0)
		return "/run/xvio-sim";
	if (xdg && *xdg)
		snprintf(buf, sizeof(buf), "%s/xvio-sim", xdg);
	else
		snprintf(buf, sizeof(buf), "/tmp/xvio-sim-%u", (unsigned)geteuid());
	return buf;
}

int sim_dom_sock(char *buf, size_t len, const char *dir, unsigned domid, const char *kind)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
	int n = snprintf(buf, len, "%s/dom%u/%s.sock", dir, domid, kind);

	if (n < 0 || (size_t)n >= len || (size_t)n >= max)
		return -ENAMETOOLONG;
	return 0;
}

int sim_ctl(const char *dir, const char *req, char *reply, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[SIM_CTL_MAX + 1];
	ssize_t n;
	int fd, err;

	if (reply && len)
		*reply = '\0';
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock", dir) >=
	    sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A wedged daemon must not hang the toolstack forever. */
	{
		struct timeval tv = { .tv_sec = 30 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	n = recv(fd, buf, SIM_CTL_MAX, 0);
	err = n < 0 ? -errno : 0;
	close(fd);
	if (n <= 0)
		return err ? err : -ECONNRESET;
	buf[n] = '\0';
	if (strncmp(buf, "ok", 2) == 0) {
		if (reply && len)
			snprintf(reply, len, "%s", buf[2] == ' ' ? buf + 3 : buf + 2);
		return 0;
	}
	if (strncmp(buf, "err ", 4) == 0) {
		char *msg;
		long e = strtol(buf + 4, &msg, 10);

		if (reply && len)
			snprintf(reply, len, "%s", *msg == ' ' ? msg + 1 : msg);
		return e > 0 && e < 4096 ? (int)-e : -EPROTO;
	}
	return -EPROTO;
}

/* ---- commands ---- */

static const char *g_dir_opt;

static void usage_main(FILE *f)
{
	fputs("usage: xvio-sim [--state-dir DIR] COMMAND [ARGS]\n"
	      "\n"
	      "A simulated Xen host: xenstore, grant tables, event channels and\n"
	      "domains for processes on one Linux machine.\n"
	      "\n"
	      "commands:\n"
	      "  start      start the simulator\n"
	      "  stop       destroy every domain and stop the simulator\n"
	      "  create     create a domain from an xl config file\n"
	      "  destroy    destroy a domain\n"
	      "  shutdown   mark a domain shut down (fires @releaseDomain)\n"
	      "  list       list domains\n"
	      "  domid      print the id of a named domain\n"
	      "  exec       run a command as a process of a domain\n"
	      "\n"
	      "The state directory is --state-dir, else $XVIO_SIM_DIR, else\n"
	      "/run/xvio-sim (root) or $XDG_RUNTIME_DIR/xvio-sim.\n"
	      "`xvio-sim COMMAND --help` describes each command.\n",
	      f);
}

/* --help anywhere among the command's own arguments (for exec: before the
 * command to run, which may take a --help of its own). */
static bool want_help(int argc, char **argv)
{
	bool exec = strcmp(argv[0], "exec") == 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0 || (exec && i > 1))
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

/*
 * --help prints the usage on stdout; a wrong argument count prints it on
 * stderr.  Returns true when the command should stop there.
 */
static bool usage_if(int argc, char **argv, int min, int max, const char *usage)
{
	if (want_help(argc, argv)) {
		puts(usage);
		return true;
	}
	if (argc < min || argc > max) {
		fprintf(stderr, "%s\n", usage);
		return true;
	}
	return false;
}

static int fail(const char *what, int err, const char *msg)
{
	fprintf(stderr, "xvio-sim: %s: %s\n", what, msg && *msg ? msg : strerror(-err));
	return 1;
}

static int cmd_start(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'F' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "dom0-mem", required_argument, NULL, 'm' },
		{ 0 }
	};
	struct sim_start_opts o = { .dom0_mem_kib = SIM_DEFAULT_DOM0_MIB * 1024ull };
	const char *dir = g_dir_opt;
	int c;

	if (want_help(argc, argv)) {
		puts("usage: xvio-sim start [--foreground] [--state-dir DIR] [--dom0-mem MIB]\n"
		     "\n"
		     "Start the simulated host: xenstore server, hypervisor and dom0.\n"
		     "Returns once it serves; --foreground keeps it attached (logs on\n"
		     "stderr, stops on SIGTERM/SIGINT).  --dom0-mem sizes the RAM dom0\n"
		     "processes can grant from (default 64 MiB).");
		return 0;
	}
	while ((c = getopt_long(argc, argv, "Fd:m:", opts, NULL)) != -1) {
		char *end;
		unsigned long long v;

		switch (c) {
		case 'F':
			o.foreground = true;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'm':
			v = strtoull(optarg, &end, 10);
			if (*end || v == 0 || v > 65536)
				return fail("--dom0-mem", -EINVAL, "expects a size in MiB (1..65536)");
			o.dom0_mem_kib = v * 1024;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc)
		return fail("start", -EINVAL, "unexpected argument");
	o.dir = sim_state_dir(dir);
	return sim_daemon_start(&o);
}

/*
 * The daemon answers `stop` and then tears down (domains, their processes
 * and directories); its pid file goes last.  Return once it is gone, so
 * that a script can reuse the state directory at once.
 */
static int wait_stopped(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/pid", dir);
	for (int i = 0; i < 1000; i++) {
		if (access(path, F_OK) < 0 && errno == ENOENT)
			return 0;
		usleep(10000);
	}
	return fail("stop", -ETIMEDOUT, "the simulator did not finish stopping within 10 s");
}

static int cmd_stop(int argc, char **argv)
{
	char msg[256];
	int err;

	if (want_help(argc, argv)) {
		puts("usage: xvio-sim stop\n\nDestroy every domain (killing their processes) and stop the simulator.");
		return 0;
	}
	if (argc != 1)
		return fail("stop", -EINVAL, "takes no arguments");
	err = sim_ctl(sim_state_dir(g_dir_opt), "stop", msg, sizeof(msg));
	if (err < 0)
		return fail("stop", err, err == -ENOENT || err == -ECONNREFUSED ?
		            "no simulator runs there" : msg);
	return wait_stopped(sim_state_dir(g_dir_opt));
}

static int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "blkfront", required_argument, NULL, 'b' },
		{ "no-blkfront", no_argument, NULL, 'B' },
		{ 0 }
	};
	struct sim_create_opts o = { 0 };
	char msg[1024];
	int c, r;

	if (want_help(argc, argv)) {
		puts("usage: xvio-sim create [-n] [--blkfront PLUGIN | --no-blkfront] CONFIG [KEY=VALUE ...]\n"
		     "\n"
		     "Create a domain from an xl domain config (name, memory, maxmem, vcpus,\n"
		     "uuid, disk), writing the xenstore nodes libxl 4.17 writes.  KEY=VALUE\n"
		     "lines are appended to the config, as xl does.  -n parses and prints only.\n"
		     "\n"
		     "disk = [ 'vdev=xvdb, backendtype=standalone, specification=virtio,\n"
		     "          target=/srv/disk.img' ] adds virtio_disk devices (raw images\n"
		     "only; other disks are refused).  A backend (xvio-blkback) serves them\n"
		     "from dom0; the guest's blkfront starts inside the domain: nbdkit with\n"
		     "the xvioblk plugin, serving each disk as an NBD export named by its\n"
		     "vdev on DIR/dom<N>/nbd.sock (log: DIR/dom<N>/nbdkit.log).\n"
		     "\n"
		     "  --blkfront PLUGIN  the nbdkit plugin to run (default: $XVIO_BLKFRONT_PLUGIN,\n"
		     "                     else front/nbdkit-xvioblk-plugin.so of the build tree,\n"
		     "                     else lib/xvio/ of the installation)\n"
		     "  --no-blkfront      do not start the blkfront");
		return 0;
	}
	while ((c = getopt_long(argc, argv, "+n", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o.dry_run = true;
			break;
		case 'b':
			o.blkfront = optarg;
			break;
		case 'B':
			o.no_blkfront = true;
			break;
		default:
			return 2;
		}
	}
	if (o.blkfront && o.no_blkfront)
		return fail("create", -EINVAL, "--blkfront and --no-blkfront exclude each other");
	if (optind >= argc)
		return fail("create", -EINVAL, "which config file?");
	o.dir = sim_state_dir(g_dir_opt);
	o.config = argv[optind];
	o.overrides = argv + optind + 1;
	o.n_overrides = argc - optind - 1;
	r = sim_create(&o, msg, sizeof(msg));
	return r < 0 ? fail(o.config, r, msg) : 0;
}

static int cmd_destroy(int argc, char **argv)
{
	char msg[512];
	int r;

	if (usage_if(argc, argv, 2, 2, "usage: xvio-sim destroy DOMAIN\n\n"
	             "Destroy a domain (name or id): its processes are killed, @releaseDomain\n"
	             "fires, and its xenstore nodes are removed."))
		return want_help(argc, argv) ? 0 : 2;
	r = sim_destroy(sim_state_dir(g_dir_opt), argv[1], msg, sizeof(msg));
	return r < 0 ? fail(argv[1], r, msg) : 0;
}

static int cmd_shutdown(int argc, char **argv)
{
	const char *dir = sim_state_dir(g_dir_opt);
	char msg[512], req[64];
	int id;

	if (usage_if(argc, argv, 2, 2, "usage: xvio-sim shutdown DOMAIN\n\n"
	             "Mark a domain shut down (poweroff); @releaseDomain fires.  The domain\n"
	             "and its processes stay until destroyed."))
		return want_help(argc, argv) ? 0 : 2;
	id = sim_resolve(dir, argv[1], msg, sizeof(msg));
	if (id < 0)
		return fail(argv[1], id, msg);
	snprintf(req, sizeof(req), "shutdown %d 0", id);
	id = sim_ctl(dir, req, msg, sizeof(msg));
	return id < 0 ? fail(argv[1], id, msg) : 0;
}

static int cmd_list(int argc, char **argv)
{
	char msg[512];
	int r;

	if (usage_if(argc, argv, 1, 1, "usage: xvio-sim list\n\n"
	             "List domains: name, id, memory (MiB), state (d: dying, s: shut down)."))
		return want_help(argc, argv) ? 0 : 2;
	r = sim_list(sim_state_dir(g_dir_opt), msg, sizeof(msg));
	return r < 0 ? fail("list", r, msg) : 0;
}

static int cmd_domid(int argc, char **argv)
{
	char msg[512];
	int r;

	if (usage_if(argc, argv, 2, 2, "usage: xvio-sim domid NAME\n\nPrint the id of the domain called NAME."))
		return want_help(argc, argv) ? 0 : 2;
	r = sim_resolve(sim_state_dir(g_dir_opt), argv[1], msg, sizeof(msg));
	if (r < 0)
		return fail(argv[1], r, msg);
	printf("%d\n", r);
	return 0;
}

static int set_domain_env(const char *dir, int domid)
{
	char buf[PATH_MAX];
	int err;

	err = sim_dom_sock(buf, sizeof(buf), dir, (unsigned)domid, "xenstored");
	if (err < 0 || setenv("XENSTORED_PATH", buf, 1) < 0)
		return err < 0 ? err : -errno;
	err = sim_dom_sock(buf, sizeof(buf), dir, (unsigned)domid, "hyp");
	if (err < 0 || setenv("XVIO_SIM_HYP", buf, 1) < 0)
		return err < 0 ? err : -errno;
	snprintf(buf, sizeof(buf), "%d", domid);
	if (setenv("XVIO_DOMID", buf, 1) < 0 || setenv("XVIO_PLATFORM", "sim", 1) < 0 ||
	    setenv("XVIO_SIM_DIR", dir, 1) < 0)
		return -errno;
	return 0;
}

static int cmd_exec(int argc, char **argv)
{
	const char *dir = sim_state_dir(g_dir_opt);
	char msg[512], req[64];
	int id, err, first = 2;

	if (usage_if(argc, argv, 3, INT_MAX, "usage: xvio-sim exec DOMAIN [--] COMMAND [ARGS...]\n\n"
	             "Run COMMAND as a process of DOMAIN (name or id; 0 is dom0): its\n"
	             "environment points libxenstore (XENSTORED_PATH) and the xvio platform\n"
	             "layer (XVIO_PLATFORM=sim, XVIO_SIM_HYP) at that domain.  Processes of\n"
	             "a domain are killed when it is destroyed."))
		return want_help(argc, argv) ? 0 : 2;
	if (strcmp(argv[2], "--") == 0)
		first = 3;
	if (first >= argc)
		return fail("exec", -EINVAL, "which command?");
	id = sim_resolve(dir, argv[1], msg, sizeof(msg));
	if (id < 0)
		return fail(argv[1], id, msg);
	/*
	 * Lead a process group of our own so that destroy reaches children
	 * too, unless we are an interactive terminal's foreground job (a
	 * background group could not read the terminal).
	 */
	if (!(isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp()))
		setpgid(0, 0);
	snprintf(req, sizeof(req), "exec %d %d", id, (int)getpid());
	err = sim_ctl(dir, req, msg, sizeof(msg));
	if (err < 0)
		return fail(argv[1], err, msg);
	err = set_domain_env(dir, id);
	if (err < 0)
		return fail("exec", err, NULL);
	execvp(argv[first], argv + first);
	fprintf(stderr, "xvio-sim: exec %s: %s\n", argv[first], strerror(errno));
	return 127;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "start", cmd_start },   { "stop", cmd_stop },       { "create", cmd_create },
	{ "destroy", cmd_destroy }, { "shutdown", cmd_shutdown }, { "list", cmd_list },
	{ "domid", cmd_domid },   { "exec", cmd_exec },
};

int main(int argc, char **argv)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage_main(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--state-dir") == 0 && i + 1 < argc) {
			g_dir_opt = argv[i + 1];
			i += 2;
			continue;
		}
		if (strncmp(argv[i], "--state-dir=", 12) == 0) {
			g_dir_opt = argv[i] + 12;
			i++;
			continue;
		}
		usage_main(stderr);
		return 2;
	}
	if (i >= argc) {
		usage_main(stderr);
		return 2;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(argv[i], commands[c].name) == 0) {
			optind = 1;
			return commands[c].fn(argc - i, argv + i);
		}
	}
	fprintf(stderr, "xvio-sim: unknown command '%s'\n", argv[i]);
	usage_main(stderr);
	return 2;
}
