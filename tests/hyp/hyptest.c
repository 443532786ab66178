/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hyptest.h"

int ht_domain(struct simtest *st, unsigned mem_mib, unsigned maxmem_mib)
{
	static int seq;
	char cfg[256];

	snprintf(cfg, sizeof(cfg), "name = \"hyp%d-%d\"\nmemory = %u\nmaxmem = %u\n",
	         (int)getpid(), seq++, mem_mib, maxmem_mib ? maxmem_mib : mem_mib);
	return simtest_create(st, cfg);
}

struct xvio_plat *ht_open(void)
{
	struct xvio_plat *p = NULL;
	int err = xvio_plat_open("sim", &p);

	if (err < 0)
		CHECK_FAIL("xvio_plat_open(sim): %s", strerror(-err));
	return p;
}

/* ---- message pipe ---- */

void ht_pipe_init(struct ht_pipe *p)
{
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p->fd) == 0);
}

int ht_pipe_side(struct ht_pipe *p, int side)
{
	close(p->fd[!side]);
	p->fd[!side] = -1;
	return p->fd[side];
}

void ht_pipe_close(struct ht_pipe *p)
{
	for (int i = 0; i < 2; i++) {
		if (p->fd[i] >= 0)
			close(p->fd[i]);
		p->fd[i] = -1;
	}
}

void ht_put(int fd, const void *buf, size_t len)
{
	CHECK_INT(send(fd, buf, len, MSG_NOSIGNAL), ==, (ssize_t)len);
}

void ht_get(int fd, void *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, 20000) != 1)
		CHECK_FAIL("no message from the other process within 20 s");
	n = recv(fd, buf, len, 0);
	if (n != (ssize_t)len)
		CHECK_FAIL("message of %zd bytes, expected %zu (peer died?)", n, len);
}

void ht_put_int(int fd, int v)
{
	ht_put(fd, &v, sizeof(v));
}

int ht_get_int(int fd)
{
	int v;

	ht_get(fd, &v, sizeof(v));
	return v;
}

/* ---- raw protocol ---- */

void ht_sock_path(const struct simtest *st, int domid, struct sockaddr_un *sa)
{
	char buf[sizeof(st->dir) + 32];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "%s/dom%d/hyp.sock", st->dir, domid);

	if (n >= sizeof(sa->sun_path))
		CHECK_FAIL("socket path too long: %s", buf);
	memcpy(sa->sun_path, buf, n + 1);
}

int ht_raw_connect(const struct simtest *st, int domid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	ht_sock_path(st, domid, &sa);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	return fd;
}

int ht_raw_call(int fd, const struct xvio_sim_req *req, const void *payload, size_t plen,
                struct ht_reply *r)
{
	struct iovec siov[2] = {
		{ .iov_base = (void *)req, .iov_len = sizeof(*req) },
		{ .iov_base = (void *)payload, .iov_len = plen },
	};
	struct msghdr smh = { .msg_iov = siov, .msg_iovlen = plen ? 2 : 1 };
	struct iovec riov[2] = {
		{ .iov_base = &r->rep, .iov_len = sizeof(r->rep) },
		{ .iov_base = r->payload, .iov_len = sizeof(r->payload) },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * XVIO_SIM_MAX_MAP_DOMAINS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr rmh = { .msg_iov = riov, .msg_iovlen = 2,
	                      .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	memset(r, 0, sizeof(*r));
	if (sendmsg(fd, &smh, MSG_NOSIGNAL) < 0)
		return -ECONNRESET;
	if (poll(&pfd, 1, 20000) != 1)
		CHECK_FAIL("no reply from the daemon within 20 s");
	n = recvmsg(fd, &rmh, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return -ECONNRESET;
	CHECK((size_t)n >= sizeof(r->rep));
	r->len = (size_t)n - sizeof(r->rep);
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&rmh); cm; cm = CMSG_NXTHDR(&rmh, cm)) {
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		CHECK(cm->cmsg_type == SCM_RIGHTS && r->nfds + k <= XVIO_SIM_MAX_MAP_DOMAINS);
		memcpy(r->fds + r->nfds, CMSG_DATA(cm), k * sizeof(int));
		r->nfds += (unsigned)k;
	}
	CHECK_INT(r->nfds, ==, r->rep.nfds);
	return r->rep.err;
}

void ht_reply_close(struct ht_reply *r)
{
	for (unsigned i = 0; i < r->nfds; i++)
		close(r->fds[i]);
	r->nfds = 0;
}

int ht_info(const struct simtest *st, int domid, struct xvio_sim_dominfo *out)
{
	static struct ht_reply r;
	struct xvio_sim_req req = { .op = XVIO_SIM_OP_DOM_INFO, .domid = (uint16_t)domid };
	int fd = ht_raw_connect(st, 0);
	int err = ht_raw_call(fd, &req, NULL, 0, &r);

	close(fd);
	if (err == 0) {
		CHECK_INT(r.len, ==, sizeof(*out));
		memcpy(out, r.payload, sizeof(*out));
	}
	ht_reply_close(&r);
	return err;
}

bool ht_wait_info(const struct simtest *st, int domid,
                  bool (*cond)(int err, const struct xvio_sim_dominfo *i, long arg), long arg)
{
	for (int i = 0; i < 1000; i++) {
		struct xvio_sim_dominfo info;
		int err;

		memset(&info, 0, sizeof(info));
		err = ht_info(st, domid, &info);
		if (cond(err, &info, arg))
			return true;
		usleep(10000);
	}
	return false;
}

/* ---- the daemon as a process ---- */

/* A test that fails midway still shows the daemon's log. */
static char g_log[64];
static pid_t g_log_owner;

static void log_at_exit(void)
{
	if (g_log[0] && getpid() == g_log_owner)
		ht_log_finish(g_log);
}

void ht_start_logged(struct simtest *st, char *log, size_t len)
{
	int fd, saved;

	CHECK((size_t)snprintf(log, len, "/tmp/xvio-hyplog-XXXXXX") < len);
	fd = mkstemp(log);
	CHECK(fd >= 0);
	fflush(NULL);
	saved = dup(2);
	CHECK(saved >= 0);
	CHECK(dup2(fd, 2) == 2);
	close(fd);
	simtest_start(st, NULL);
	CHECK(dup2(saved, 2) == 2);
	close(saved);
	CHECK(strlen(log) < sizeof(g_log) && !g_log[0]);
	strcpy(g_log, log);
	g_log_owner = getpid();
	atexit(log_at_exit);
}

int ht_log_count(const char *log, const char *needle)
{
	FILE *f = fopen(log, "r");
	char line[4096];
	int n = 0;

	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f))
		n += !needle || strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

void ht_log_finish(const char *log)
{
	FILE *f = fopen(log, "r");
	char line[4096];

	CHECK(f != NULL);
	fprintf(stderr, "---- daemon log ----\n");
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fprintf(stderr, "---- end of daemon log ----\n");
	fclose(f);
	unlink(log);
	if (strcmp(log, g_log) == 0)
		g_log[0] = '\0';
}

long ht_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, stime;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	CHECK(f != NULL);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold anything; fields restart after ')'. */
	p = strrchr(buf, ')');
	CHECK(p != NULL);
	CHECK(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	             &ut, &stime) == 2);
	return (long)((ut + stime) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

/* ---- this process ---- */

int ht_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	CHECK(d != NULL);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;   /* the directory's own fd */
}

int ht_count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;

	CHECK(f != NULL);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

int ht_run_for_signal(void (*fn)(void *), void *arg, int *status)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		fn(arg);
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	if (status)
		*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

bool ht_readable(const void *addr, size_t len)
{
	char buf[256];
	struct iovec local, remote;

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		local = (struct iovec){ .iov_base = buf, .iov_len = n };
		remote = (struct iovec){ .iov_base = (void *)addr, .iov_len = n };
		if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)n)
			return false;
		addr = (const char *)addr + n;
		len -= n;
	}
	return true;
}
