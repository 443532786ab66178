/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#include "check.h"
#include "loop.h"
#include "listener.h" /* the spare descriptor, for "eat-fds 1" */
#include "xstest.h"

/* ---- the server child -------------------------------------------------------- */

struct child {
	struct loop *loop;
	struct xss *s;
	const char *dir;
	int ctl;
	unsigned char exists[65536 / 8];
	int *eaten;
	unsigned neaten;
};

static bool exists_hook(void *arg, uint16_t domid)
{
	struct child *c = arg;

	return c->exists[domid / 8] & (1u << (domid % 8));
}

static int child_listen(struct child *c, unsigned domid)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/dom%u", c->dir, domid);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/dom%u/xenstored.sock", c->dir, domid);
	c->exists[domid / 8] |= (unsigned char)(1u << (domid % 8));
	return xss_listen(c->s, (uint16_t)domid, path);
}

/* Take every free descriptor (the test lowers RLIMIT_NOFILE first). */
static int eat_fds(struct child *c, bool spare_too)
{
	if (spare_too)
		sim_listener_drop_spare();
	for (;;) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int *more;

		if (fd < 0)
			return errno == EMFILE ? (int)c->neaten : -errno;
		more = realloc(c->eaten, (c->neaten + 1) * sizeof(*more));
		if (!more) {
			close(fd);
			return -ENOMEM;
		}
		c->eaten = more;
		c->eaten[c->neaten++] = fd;
	}
}

static void free_fds(struct child *c)
{
	while (c->neaten)
		close(c->eaten[--c->neaten]);
	free(c->eaten);
	c->eaten = NULL;
}

static int child_run(struct child *c, char *line)
{
	char *arg = strchr(line, ' ');
	unsigned id;

	if (!arg)
		return -EINVAL;
	*arg++ = '\0';
	if (strcmp(line, "write") == 0) {
		char *val = strchr(arg, ' ');

		if (!val)
			return -EINVAL;
		*val++ = '\0';
		return xss_write(c->s, arg, val);
	}
	id = (unsigned)strtoul(arg, NULL, 10);
	if (strcmp(line, "create") == 0)
		return child_listen(c, id);
	if (strcmp(line, "eat-fds") == 0)
		return eat_fds(c, id != 0);
	if (strcmp(line, "free-fds") == 0) {
		free_fds(c);
		return 0;
	}
	if (strcmp(line, "introduce") == 0)
		xss_domain_introduce(c->s, (uint16_t)id);
	else if (strcmp(line, "shutdown") == 0)
		xss_domain_shutdown(c->s, (uint16_t)id);
	else if (strcmp(line, "destroy") == 0) {
		c->exists[id / 8] &= (unsigned char)~(1u << (id % 8));
		xss_domain_destroyed(c->s, (uint16_t)id);
	} else
		return -EINVAL;
	return 0;
}

static void child_ctl(void *arg, uint32_t events)
{
	struct child *c = arg;
	char line[4096];
	ssize_t n = recv(c->ctl, line, sizeof(line) - 1, 0);
	int r;

	(void)events;
	if (n <= 0) {
		loop_stop(c->loop);
		return;
	}
	line[n] = '\0';
	r = child_run(c, line);
	if (send(c->ctl, &r, sizeof(r), MSG_NOSIGNAL) < 0)
		loop_stop(c->loop);
}

static void child_setup(const char *dir, const struct xstest_opts *o)
{
	if (o->capture_log) {
		char path[PATH_MAX + 16];
		int fd;

		snprintf(path, sizeof(path), "%s/server.log", dir);
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0 || dup2(fd, 2) < 0)
			_exit(8);
		close(fd);
		setvbuf(stderr, NULL, _IONBF, 0);
	}
	if (o->nofile) {
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(9);
		rl.rlim_cur = o->nofile;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(9);
	}
}

static void child_main(const char *dir, int ctl, const struct xstest_opts *o,
                       const unsigned *domids, unsigned n)
{
	static struct child c; /* 8 KiB bitmap: not on the stack */
	struct xss_hooks hooks = { .arg = &c, .domain_exists = exists_hook };
	const struct xss_quota *q = o->quota;
	struct loop_src *src;

	signal(SIGPIPE, SIG_IGN);
	child_setup(dir, o);
	c.dir = dir;
	c.ctl = ctl;
	c.loop = loop_new();
	if (!c.loop)
		_exit(2);
	c.s = xss_new(c.loop, &hooks, q);
	if (!c.s || child_listen(&c, 0) < 0)
		_exit(3);
	for (unsigned i = 0; i < n; i++)
		if (child_listen(&c, domids[i]) < 0)
			_exit(4);
	src = loop_add(c.loop, ctl, EPOLLIN, child_ctl, &c);
	if (!src)
		_exit(5);
	/* Ready. */
	{
		int r = 0;

		if (send(ctl, &r, sizeof(r), 0) < 0)
			_exit(6);
	}
	if (loop_run(c.loop) < 0)
		_exit(7);
	loop_del(c.loop, src);
	free_fds(&c);
	xss_free(c.s);
	loop_free(c.loop);
	close(ctl);
	exit(0); /* exit, not _exit: sanitizers check for leaks here */
}

/* ---- the test side ------------------------------------------------------------- */

static int recv_result(struct xstest *t)
{
	struct pollfd p = { .fd = t->ctl, .events = POLLIN };
	int r;

	if (poll(&p, 1, 20000) != 1)
		CHECK_FAIL("xenstore server child did not answer");
	if (recv(t->ctl, &r, sizeof(r), 0) != (ssize_t)sizeof(r))
		CHECK_FAIL("xenstore server child died");
	return r;
}

void xstest_start(struct xstest *t, const struct xss_quota *quota,
                  const unsigned *domids, unsigned n)
{
	const struct xstest_opts o = { .quota = quota };

	xstest_start_opts(t, &o, domids, n);
}

void xstest_start_opts(struct xstest *t, const struct xstest_opts *o,
                       const unsigned *domids, unsigned n)
{
	int sv[2];

	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/xvio-xstest-XXXXXX");
	CHECK(mkdtemp(t->dir) != NULL);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	fflush(NULL);
	t->pid = fork();
	CHECK(t->pid >= 0);
	if (t->pid == 0) {
		close(sv[0]);
		child_main(t->dir, sv[1], o, domids, n);
	}
	close(sv[1]);
	t->ctl = sv[0];
	CHECK_INT(recv_result(t), ==, 0);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void xstest_stop(struct xstest *t)
{
	int status;

	close(t->ctl);
	CHECK(waitpid(t->pid, &status, 0) == t->pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		CHECK_FAIL("xenstore server exited badly (status 0x%x)", status);
	nftw(t->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *xstest_log(const struct xstest *t)
{
	char path[PATH_MAX + 16], *buf = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/server.log", t->dir);
	f = fopen(path, "r");
	CHECK(f != NULL);
	CHECK(getdelim(&buf, &len, '\0', f) >= 0 || feof(f));
	fclose(f);
	if (!buf)
		buf = strdup("");
	CHECK(buf != NULL);
	return buf;
}

unsigned xstest_log_count(const struct xstest *t, const char *needle)
{
	char *log = xstest_log(t), *save = NULL;
	unsigned n = 0;

	for (char *line = strtok_r(log, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		n += strstr(line, needle) != NULL;
	free(log);
	return n;
}

unsigned long long xstest_control_num(struct xs_handle *h, const char *cmd,
                                      const char *arg, const char *what)
{
	char *r = xs_control_command(h, cmd, (char *)arg,
	                             arg ? (unsigned)strlen(arg) + 1 : 0);
	unsigned long long v;
	size_t wl = strlen(what);
	const char *line;

	CHECK(r != NULL);
	for (line = r; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (strncmp(line, what, wl) == 0 && line[wl] == ' ')
			break;
	if (!line || sscanf(line + wl + 1, "%llu", &v) != 1)
		CHECK_FAIL("no \"%s\" in CONTROL %s: %s", what, cmd, r);
	free(r);
	return v;
}

void xstest_check_alive(struct xstest *t)
{
	int status;

	if (waitpid(t->pid, &status, WNOHANG) != 0)
		CHECK_FAIL("xenstore server died (status 0x%x)", status);
	/* And it still answers its control channel. */
	CHECK_INT(xstest_cmd(t, "introduce 0"), ==, 0);
}

int xstest_cmd(struct xstest *t, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	CHECK(n > 0 && (size_t)n < sizeof(line));
	CHECK(send(t->ctl, line, (size_t)n, MSG_NOSIGNAL) == n);
	return recv_result(t);
}

const char *xstest_sock(const struct xstest *t, unsigned domid, char *buf,
                        size_t len)
{
	snprintf(buf, len, "%s/dom%u/xenstored.sock", t->dir, domid);
	return buf;
}

void xstest_enter(const struct xstest *t, unsigned domid)
{
	char path[PATH_MAX];

	CHECK(setenv("XENSTORED_PATH", xstest_sock(t, domid, path, sizeof(path)),
	             1) == 0);
}

struct xs_handle *xstest_open(const struct xstest *t, unsigned domid)
{
	struct xs_handle *h;

	xstest_enter(t, domid);
	h = xs_open(0);
	CHECK(h != NULL);
	return h;
}

int xstest_raw(const struct xstest *t, unsigned domid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	xstest_sock(t, domid, sa.sun_path, sizeof(sa.sun_path));
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	return fd;
}

void xstest_send(int fd, uint32_t type, uint32_t req_id, uint32_t tx_id,
                 const void *payload, size_t len)
{
	struct xsd_sockmsg h = {
		.type = type, .req_id = req_id, .tx_id = tx_id, .len = (uint32_t)len,
	};

	CHECK(send(fd, &h, sizeof(h), MSG_NOSIGNAL) == (ssize_t)sizeof(h));
	if (len)
		CHECK(send(fd, payload, len, MSG_NOSIGNAL) == (ssize_t)len);
}

static bool read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	char *p = buf;

	while (len) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, timeout_ms) != 1)
			return false;
		n = recv(fd, p, len, 0);
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

int xstest_recv(int fd, uint32_t *req_id, char *buf, size_t len, size_t *plen,
                int timeout_ms)
{
	struct xsd_sockmsg h;
	char body[XENSTORE_PAYLOAD_MAX];

	if (!read_full(fd, &h, sizeof(h), timeout_ms))
		return -1;
	CHECK(h.len <= XENSTORE_PAYLOAD_MAX);
	if (!read_full(fd, body, h.len, timeout_ms))
		return -1;
	if (req_id)
		*req_id = h.req_id;
	if (buf && len) {
		size_t keep = h.len < len - 1 ? h.len : len - 1;

		memcpy(buf, body, keep);
		buf[keep] = '\0';
	}
	if (plen)
		*plen = h.len;
	return (int)h.type;
}

bool xstest_event(struct xs_handle *h, int timeout_ms, char *path, size_t plen,
                  char *token, size_t tlen)
{
	struct pollfd p = { .fd = xs_fileno(h), .events = POLLIN };
	unsigned int num;
	char **ev;

	for (;;) {
		ev = xs_check_watch(h);
		if (ev)
			break;
		if (errno != EAGAIN)
			CHECK_FAIL("xs_check_watch failed");
		if (poll(&p, 1, timeout_ms) != 1)
			return false;
	}
	(void)num;
	if (path)
		snprintf(path, plen, "%s", ev[XS_WATCH_PATH]);
	if (token)
		snprintf(token, tlen, "%s", ev[XS_WATCH_TOKEN]);
	free(ev);
	return true;
}

bool xstest_no_event(struct xs_handle *h, int timeout_ms)
{
	char path[256];

	if (xstest_event(h, timeout_ms, path, sizeof(path), NULL, 0)) {
		fprintf(stderr, "unexpected watch event %s\n", path);
		return false;
	}
	return true;
}

void xstest_wait_ok(pid_t pid)
{
	int status;

	CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		CHECK_FAIL("child %d failed (status 0x%x)", (int)pid, status);
}

/* ---- case runner ------------------------------------------------------------- */

/* check_run_case() hooks take no arguments. */
static const struct xstest_fixture *fixture;

static void fixture_setup(void)
{
	const struct xstest_fixture *f = fixture;

	xstest_start(f->t, NULL, f->domids, f->ndoms);
	for (size_t i = 0; i < f->nconns; i++)
		*f->conns[i].h = xstest_open(f->t, f->conns[i].domid);
}

static void fixture_teardown(void)
{
	const struct xstest_fixture *f = fixture;

	for (size_t i = f->nconns; i-- > 0;)
		xs_close(*f->conns[i].h);
	xstest_stop(f->t);
}

int xstest_run_case(int argc, char **argv, const struct check_case *cases,
                    size_t ncases, const struct xstest_fixture *f)
{
	fixture = f;
	return check_run_case(argc, argv, cases, ncases, fixture_setup, fixture_teardown);
}
