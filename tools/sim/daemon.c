/* SPDX-License-Identifier: MIT */
/*
 * The xvio-sim daemon: one process, one thread, one event loop holding the
 * xenstore server (xs_server.h), the hypervisor (hyp.h) and the control
 * socket the toolstack CLI talks to.  This file is the glue: it owns the
 * domain table as the toolstack sees it (sockets, processes) and turns
 * control requests into calls on the two halves.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hyp.h"
#include "listener.h"
#include "loop.h"
#include "reap.h"
#include "sim.h"
#include "xs_server.h"

/* A process started by `xvio-sim exec` in a domain; killed on destroy. */
struct proc {
	struct proc *next;
	int pidfd;
	pid_t pid;
	bool group;          /* pid leads its own process group */
	struct loop_src *src;
	struct dom *dom;
	struct daemon *d;
};

struct dom {
	struct dom *next;
	uint16_t domid;
	struct proc *procs;
};

/* Control clients are the toolstack; a handful at a time is plenty. */
#define CTL_MAX_CONNS 64
/* Domains per `list` reply; the client asks again from the last id. */
#define CTL_LIST_MAX 128

struct ctl_conn {
	struct ctl_conn *next;
	int fd;
	pid_t peer;          /* SO_PEERCRED at accept */
	struct loop_src *src;
	struct daemon *d;
};

struct daemon {
	const char *dir;
	struct loop *loop;
	struct xss *xss;
	struct hyp *hyp;
	struct dom *doms;
	struct ctl_conn *conns;
	unsigned n_conns;
	struct sim_acceptor *ctl_acc;
	struct sim_listener *ctl_ls;
	int sig_fd;
	struct loop_src *sig_src;
};

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	va_list ap;

	fputs("xvio-sim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static struct dom *dom_find(struct daemon *d, unsigned domid)
{
	for (struct dom *x = d->doms; x; x = x->next)
		if (x->domid == domid)
			return x;
	return NULL;
}

/* ---- processes ---- */

static void proc_free(struct daemon *d, struct proc *p)
{
	struct proc **pp = &p->dom->procs;

	while (*pp != p)
		pp = &(*pp)->next;
	*pp = p->next;
	loop_del(d->loop, p->src);
	close(p->pidfd);
	free(p);
}

/* The pidfd turned readable: the process exited by itself. */
static void proc_exited_cb(void *arg, uint32_t events)
{
	struct proc *p = arg;

	proc_free(p->d, p);
}

static int proc_add(struct daemon *d, struct dom *dom, pid_t pid)
{
	struct proc *p;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0)
		return -errno;
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	p->pidfd = fd;
	p->pid = pid;
	p->group = getpgid(pid) == pid;
	p->dom = dom;
	p->d = d;
	p->src = loop_add(d->loop, fd, EPOLLIN, proc_exited_cb, p);
	if (!p->src) {
		int err = -errno;

		close(fd);
		free(p);
		return err;
	}
	p->next = dom->procs;
	dom->procs = p;
	return 0;
}

/*
 * Like destroying a domain's vCPUs: everything running in it stops, and is
 * gone before the hypervisor forgets the domain's mappings.  Registered
 * processes and their groups are killed, and so is every process that
 * inherited the domain's environment (children that left the group).
 */
static void procs_kill(struct daemon *d, struct dom *dom)
{
	int fds[64];
	pid_t groups[64];
	size_t nf = 0, ng = 0;
	char marker[PATH_MAX + 16];
	int alive;

	for (struct proc *p = dom->procs; p && nf < 64; p = p->next) {
		fds[nf++] = p->pidfd;
		if (p->group)
			groups[ng++] = p->pid;
	}
	strcpy(marker, "XVIO_SIM_HYP=");
	if (sim_dom_sock(marker + 13, sizeof(marker) - 13, d->dir, dom->domid, "hyp") < 0)
		marker[0] = '\0';
	alive = sim_reap(fds, nf, groups, ng, marker, 3000);
	if (alive)
		logmsg("domain %u: %d process(es) survived SIGKILL for 3 s", dom->domid, alive);
	while (dom->procs)
		proc_free(d, dom->procs);
}

/* ---- domains ---- */

static int dom_sockets(struct daemon *d, unsigned domid)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int err;

	if (snprintf(path, sizeof(path), "%s/dom%u", d->dir, domid) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	err = sim_dom_sock(path, sizeof(path), d->dir, domid, "xenstored");
	if (err < 0)
		return err;
	err = xss_listen(d->xss, (uint16_t)domid, path);
	if (err < 0)
		return err;
	err = sim_dom_sock(path, sizeof(path), d->dir, domid, "hyp");
	if (err < 0)
		return err;
	return hyp_listen(d->hyp, (uint16_t)domid, path);
}

static void dom_dir_remove(struct daemon *d, unsigned domid)
{
	char path[PATH_MAX];

	static const char *const guest_files[] = { "nbd.sock", "nbdkit.pid", "nbdkit.log" };
	char dir[PATH_MAX - 16];

	snprintf(dir, sizeof(dir), "%s/dom%u", d->dir, domid);
	/* The two servers unlinked their sockets; a guest blkfront (nbdkit,
	 * started by `create`) killed with the domain leaves its files. */
	for (size_t i = 0; i < sizeof(guest_files) / sizeof(guest_files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, guest_files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static int pick_domid(struct daemon *d)
{
	struct hyp_dominfo info;

	for (unsigned id = 1; id <= SIM_MAX_DOMID; id++)
		if (hyp_domain_info(d->hyp, (uint16_t)id, &info) == -ESRCH)
			return (int)id;
	return -ENOSPC;
}

static int do_destroy(struct daemon *d, unsigned domid);

static int do_create(struct daemon *d, unsigned domid, uint64_t mem, uint64_t maxmem)
{
	struct dom *dom;
	int err;

	if (domid == 0) {
		err = pick_domid(d);
		if (err < 0)
			return err;
		domid = (unsigned)err;
	} else if (domid > SIM_MAX_DOMID) {
		return -EINVAL;
	}
	if (mem == 0 || maxmem < mem)
		return -EINVAL;
	err = hyp_domain_create(d->hyp, (uint16_t)domid, mem, maxmem);
	if (err < 0)
		return err;
	dom = calloc(1, sizeof(*dom));
	if (!dom) {
		hyp_domain_destroy(d->hyp, (uint16_t)domid);
		return -ENOMEM;
	}
	dom->domid = (uint16_t)domid;
	dom->next = d->doms;
	d->doms = dom;
	err = dom_sockets(d, domid);
	if (err < 0) {
		logmsg("domain %u: cannot create its sockets: %s", domid, strerror(-err));
		do_destroy(d, domid);
		return err;
	}
	logmsg("domain %u created (%llu KiB)", domid, (unsigned long long)mem);
	return (int)domid;
}

static int do_destroy(struct daemon *d, unsigned domid)
{
	struct dom *dom = dom_find(d, domid), **pp;
	int err;

	if (domid == 0 || !dom)
		return -ESRCH;
	procs_kill(d, dom);
	err = hyp_domain_destroy(d->hyp, (uint16_t)domid);
	xss_domain_destroyed(d->xss, (uint16_t)domid);
	for (pp = &d->doms; *pp != dom; pp = &(*pp)->next)
		;
	*pp = dom->next;
	free(dom);
	dom_dir_remove(d, domid);
	logmsg("domain %u destroyed", domid);
	return err == -EBUSY ? 0 : err;
}

static void destroy_all(struct daemon *d)
{
	while (d->doms)
		do_destroy(d, d->doms->domid);
}

/* ---- control requests ---- */

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return (errno || *end) ? -EINVAL : 0;
}

static int format_info(const struct hyp_dominfo *i, char *out, size_t len)
{
	int n = snprintf(out, len, "%u %s%s %llu %llu", i->domid, i->dying ? "d" : "-",
	                 i->shutdown ? "s" : "-", (unsigned long long)i->tot_pages,
	                 (unsigned long long)i->max_pages);

	return n < 0 || (size_t)n >= len ? -E2BIG : n;
}

/* Up to CTL_LIST_MAX domains with ids above `after`, one per line. */
static int ctl_list(struct daemon *d, int after, char *out, size_t len)
{
	size_t used = 0;
	int count = 0;

	for (int id = hyp_domain_next(d->hyp, after); id >= 0 && count < CTL_LIST_MAX;
	     id = hyp_domain_next(d->hyp, id)) {
		struct hyp_dominfo i;
		int n;

		if (hyp_domain_info(d->hyp, (uint16_t)id, &i) < 0)
			continue;
		if (used + 1 >= len)
			return -E2BIG;
		out[used++] = '\n';
		n = format_info(&i, out + used, len - used);
		if (n < 0)
			return n;
		used += (size_t)n;
		count++;
	}
	out[used] = '\0';
	return 0;
}

/* Tokenise in place; returns the number of words. */
static int split(char *s, char **w, int max)
{
	int n = 0;

	for (char *t = strtok(s, " "); t && n < max; t = strtok(NULL, " "))
		w[n++] = t;
	return n;
}

static int ctl_dispatch(struct daemon *d, pid_t peer, char *req, char *out, size_t len,
                        bool *stop)
{
	char *w[8];
	int n = split(req, w, 8);
	uint64_t a = 0, b = 0, c = 0;

	*out = '\0';
	if (n == 1 && strcmp(w[0], "ping") == 0)
		return 0;
	if ((n == 1 || n == 2) && strcmp(w[0], "list") == 0) {
		if (n == 2 && (parse_u64(w[1], &a) || a > SIM_MAX_DOMID))
			return -EINVAL;
		return ctl_list(d, n == 2 ? (int)a : -1, out, len);
	}
	if (n == 2 && strcmp(w[0], "info") == 0) {
		struct hyp_dominfo i;
		int r;

		if (parse_u64(w[1], &a) || a > SIM_MAX_DOMID)
			return -EINVAL;
		r = hyp_domain_info(d->hyp, (uint16_t)a, &i);
		if (r < 0)
			return r;
		out[0] = ' ';
		return format_info(&i, out + 1, len - 1) < 0 ? -E2BIG : 0;
	}
	if (n == 1 && strcmp(w[0], "stop") == 0) {
		*stop = true;
		return 0;
	}
	if (n == 4 && strcmp(w[0], "create") == 0) {
		int r;

		if (parse_u64(w[1], &a) || parse_u64(w[2], &b) || parse_u64(w[3], &c) ||
		    a > SIM_MAX_DOMID)
			return -EINVAL;
		r = do_create(d, (unsigned)a, b, c);
		if (r < 0)
			return r;
		snprintf(out, len, " %d", r);
		return 0;
	}
	if (n == 2 && strcmp(w[0], "destroy") == 0) {
		if (parse_u64(w[1], &a) || a > SIM_MAX_DOMID)
			return -EINVAL;
		return do_destroy(d, (unsigned)a);
	}
	if (n == 3 && strcmp(w[0], "shutdown") == 0) {
		int r;

		if (parse_u64(w[1], &a) || parse_u64(w[2], &b) || a > SIM_MAX_DOMID || b > 255)
			return -EINVAL;
		r = hyp_domain_shutdown(d->hyp, (uint16_t)a, (unsigned)b);
		if (r == 0)
			xss_domain_shutdown(d->xss, (uint16_t)a);
		return r;
	}
	if (n == 3 && strcmp(w[0], "exec") == 0) {
		struct dom *dom;

		if (parse_u64(w[1], &a) || parse_u64(w[2], &b) || a > SIM_MAX_DOMID ||
		    b == 0 || b > INT32_MAX)
			return -EINVAL;
		/* Only a process may enrol itself: a pid named by someone
		 * else would be killed on destroy. */
		if ((pid_t)b != peer)
			return -EPERM;
		if (a == 0)
			return 0; /* dom0 processes are the host's; never killed */
		dom = dom_find(d, (unsigned)a);
		if (!dom)
			return -ESRCH;
		return proc_add(d, dom, (pid_t)b);
	}
	return -EINVAL;
}

static void ctl_conn_close(struct daemon *d, struct ctl_conn *c)
{
	struct ctl_conn **pp = &d->conns;

	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	d->n_conns--;
	loop_del(d->loop, c->src);
	close(c->fd);
	free(c);
}

static void ctl_conn_cb(void *arg, uint32_t events)
{
	struct ctl_conn *c = arg;
	struct daemon *d = c->d;
	char req[SIM_CTL_MAX + 1], body[SIM_CTL_MAX - 64], rep[SIM_CTL_MAX];
	bool stop = false;
	ssize_t n;
	int r;

	n = recv(c->fd, req, SIM_CTL_MAX, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ctl_conn_close(d, c);
		return;
	}
	req[n] = '\0';
	if (memchr(req, '\0', (size_t)n)) {
		r = -EINVAL;
		body[0] = '\0';
	} else {
		r = ctl_dispatch(d, c->peer, req, body, sizeof(body), &stop);
	}
	if (r < 0)
		snprintf(rep, sizeof(rep), "err %d %s", -r, strerror(-r));
	else
		snprintf(rep, sizeof(rep), "ok%s", body);
	send(c->fd, rep, strlen(rep), MSG_NOSIGNAL | MSG_DONTWAIT);
	if (stop) {
		destroy_all(d);
		loop_stop(d->loop);
	}
}

static void ctl_accepted(void *arg, int fd)
{
	struct daemon *d = arg;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct ctl_conn *c;

	if (d->n_conns >= CTL_MAX_CONNS ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
	    !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->peer = cred.pid;
	c->d = d;
	c->src = loop_add(d->loop, fd, EPOLLIN, ctl_conn_cb, c);
	if (!c->src) {
		close(fd);
		free(c);
		return;
	}
	c->next = d->conns;
	d->conns = c;
	d->n_conns++;
}

/* Once per burst: called again only after a connection was accepted. */
static void ctl_refusing(void *arg, int err)
{
	(void)arg;
	if (err == EMFILE || err == ENFILE)
		logmsg("out of file descriptors: refusing control connections");
	else
		logmsg("cannot accept control connections: %s", strerror(err));
}

static const struct sim_acceptor_ops ctl_acceptor_ops = {
	.accepted = ctl_accepted,
	.refusing = ctl_refusing,
};

static void signal_cb(void *arg, uint32_t events)
{
	struct daemon *d = arg;
	struct signalfd_siginfo si;

	if (read(d->sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	logmsg("signal %u: stopping", si.ssi_signo);
	destroy_all(d);
	loop_stop(d->loop);
}

/* ---- hooks ---- */

static bool hook_domain_exists(void *arg, uint16_t domid)
{
	struct daemon *d = arg;
	struct hyp_dominfo i;

	return hyp_domain_info(d->hyp, domid, &i) == 0 && !i.dying;
}

static void hook_domain_freed(void *arg, uint16_t domid)
{
	(void)arg;
	logmsg("domain %u: last mapping gone, memory freed", domid);
}

/* ---- setup ---- */

static int setup_signals(struct daemon *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	d->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d->sig_fd < 0)
		return -errno;
	d->sig_src = loop_add(d->loop, d->sig_fd, EPOLLIN, signal_cb, d);
	return d->sig_src ? 0 : -errno;
}

static int setup(struct daemon *d, const struct sim_start_opts *o)
{
	static const struct xss_hooks xh = { .domain_exists = hook_domain_exists };
	static const struct hyp_hooks hh = { .domain_freed = hook_domain_freed };
	struct xss_hooks xhooks = xh;
	struct hyp_hooks hhooks = hh;
	char path[PATH_MAX];
	int err;

	xhooks.arg = d;
	hhooks.arg = d;
	d->loop = loop_new();
	if (!d->loop)
		return -errno;
	err = setup_signals(d);
	if (err < 0)
		return err;
	d->xss = xss_new(d->loop, &xhooks, NULL);
	d->hyp = hyp_new(d->loop, &hhooks);
	if (!d->xss || !d->hyp)
		return -ENOMEM;
	err = hyp_domain_create(d->hyp, 0, o->dom0_mem_kib, o->dom0_mem_kib);
	if (err < 0)
		return err;
	err = dom_sockets(d, 0);
	if (err < 0)
		return err;
	/* What xen-init-dom0 writes at boot. */
	if ((err = xss_write(d->xss, "/local/domain/0/name", "Domain-0")) < 0 ||
	    (err = xss_write(d->xss, "/local/domain/0/domid", "0")) < 0)
		return err;
	xss_domain_introduce(d->xss, 0);
	d->ctl_acc = sim_acceptor_new(d->loop, &ctl_acceptor_ops);
	if (!d->ctl_acc)
		return -errno;
	snprintf(path, sizeof(path), "%s/control.sock", d->dir);
	d->ctl_ls = sim_listener_open(d->ctl_acc, path, SOCK_SEQPACKET, 64, d);
	return d->ctl_ls ? 0 : -errno;
}

static void dom_dirs_remove(struct daemon *d)
{
	DIR *dir = opendir(d->dir);
	struct dirent *e;

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		unsigned id;
		char end;

		if (sscanf(e->d_name, "dom%u%c", &id, &end) == 1 && id <= SIM_MAX_DOMID)
			dom_dir_remove(d, id);
	}
	closedir(dir);
}

static void teardown(struct daemon *d)
{
	char path[PATH_MAX];

	destroy_all(d);
	while (d->conns)
		ctl_conn_close(d, d->conns);
	/* Unlinks control.sock, only if this daemon made it. */
	sim_acceptor_free(d->ctl_acc);
	if (d->sig_src)
		loop_del(d->loop, d->sig_src);
	if (d->sig_fd > 0)
		close(d->sig_fd);
	if (d->xss) {
		xss_domain_destroyed(d->xss, 0);
		xss_free(d->xss);
	}
	if (d->hyp)
		hyp_free(d->hyp);
	/* A domain still dying at destroy_all kept its hyp socket until now. */
	dom_dirs_remove(d);
	snprintf(path, sizeof(path), "%s/pid", d->dir);
	unlink(path);
	loop_free(d->loop);
}

static int already_running(const char *dir)
{
	return sim_ctl(dir, "ping", NULL, 0) == 0;
}

static void write_pidfile(const char *dir)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/pid", dir);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
}

/* Background mode: the parent returns once the child serves (or failed). */
static int daemonize(const char *dir, int *ready_fd)
{
	int pfd[2];
	pid_t pid;
	char c;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 1 || c != '1') {
			fprintf(stderr, "xvio-sim: the daemon failed to start; see %s/xvio-sim.log\n", dir);
			exit(1);
		}
		exit(0);
	}
	close(pfd[0]);
	setsid();
	{
		char path[PATH_MAX];
		int fd, nul = open("/dev/null", O_RDWR);

		snprintf(path, sizeof(path), "%s/xvio-sim.log", dir);
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			close(nul);
		}
		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
	}
	*ready_fd = pfd[1];
	return 0;
}

int sim_daemon_start(const struct sim_start_opts *o)
{
	struct daemon d = { .dir = o->dir, .sig_fd = -1 };
	int ready_fd = -1, err;

	if (mkdir(o->dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "xvio-sim: cannot create state directory %s: %s\n", o->dir,
		        strerror(errno));
		return 1;
	}
	if (already_running(o->dir)) {
		fprintf(stderr, "xvio-sim: a simulator already runs in %s\n", o->dir);
		return 1;
	}
	if (!o->foreground && daemonize(o->dir, &ready_fd) < 0) {
		perror("xvio-sim: fork");
		return 1;
	}
	err = setup(&d, o);
	if (err < 0) {
		logmsg("cannot start in %s: %s", o->dir, strerror(-err));
		teardown(&d);
		return 1;
	}
	write_pidfile(o->dir);
	logmsg("serving in %s (pid %d)", o->dir, (int)getpid());
	if (ready_fd >= 0) {
		if (write(ready_fd, "1", 1) != 1)
			logmsg("cannot signal readiness");
		close(ready_fd);
	}
	err = loop_run(d.loop);
	if (err < 0)
		logmsg("event loop failed: %s", strerror(-err));
	teardown(&d);
	logmsg("stopped");
	return err < 0 ? 1 : 0;
}
