/* SPDX-License-Identifier: MIT */
/*
 * Unit: the `xen` platform on a machine without Xen fails cleanly.
 *
 * absent:    no /dev/xen -> xvio_plat_open("xen") returns -ENOENT, leaves
 *            the out pointer alone, prints nothing.
 * empty-dev: /dev/xen exists but holds no devices (an empty tmpfs in a
 *            private mount namespace) -> open succeeds (libraries are
 *            opened lazily), then every call that needs a library fails
 *            with a negative errno, and none of Xen's libraries prints a
 *            word to stdout or stderr (they get a silent logger).
 *
 * On a real Xen host /dev/xen is hidden the same way, so the test means
 * the same everywhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "plat.h"

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);

	CHECK(fd >= 0);
	CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
	close(fd);
}

/* A private mount namespace (a user namespace too when not root). */
static void private_mounts(void)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();

	if (uid != 0) {
		char map[64];

		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
			CHECK_FAIL("unshare(user+mount namespace): %s", strerror(errno));
		write_file("/proc/self/setgroups", "deny");
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		write_file("/proc/self/uid_map", map);
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
		write_file("/proc/self/gid_map", map);
	} else if (unshare(CLONE_NEWNS) != 0) {
		CHECK_FAIL("unshare(mount namespace): %s", strerror(errno));
	}
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
}

/* Replace /dev (and /proc/xen, the other place libraries look) with
 * empty tmpfs, optionally with an empty /dev/xen directory. */
static void fake_dev(bool with_xen_dir)
{
	struct stat sb;

	private_mounts();
	CHECK(mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755") == 0);
	if (stat("/proc/xen", &sb) == 0)
		CHECK(mount("tmpfs", "/proc/xen", "tmpfs", 0, "mode=0755") == 0);
	if (with_xen_dir)
		CHECK(mkdir("/dev/xen", 0755) == 0);
}

/* Send stdout and stderr to files in dir; returns the saved fds. */
static void redirect(const char *dir, int saved[2])
{
	char path[256];

	fflush(NULL);
	for (int fd = 1; fd <= 2; fd++) {
		int f;

		snprintf(path, sizeof(path), "%s/fd%d", dir, fd);
		f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		CHECK(f >= 0);
		saved[fd - 1] = dup(fd);
		CHECK(saved[fd - 1] >= 0);
		CHECK(dup2(f, fd) == fd);
		close(f);
	}
}

static void restore(int saved[2])
{
	fflush(NULL);
	for (int fd = 1; fd <= 2; fd++) {
		CHECK(dup2(saved[fd - 1], fd) == fd);
		close(saved[fd - 1]);
	}
}

static void check_silent(const char *dir)
{
	char path[256];
	struct stat sb;

	for (int fd = 1; fd <= 2; fd++) {
		snprintf(path, sizeof(path), "%s/fd%d", dir, fd);
		CHECK(stat(path, &sb) == 0);
		if (sb.st_size != 0)
			CHECK_FAIL("%s got %lld bytes of output", fd == 1 ? "stdout" : "stderr",
			           (long long)sb.st_size);
		unlink(path);
	}
	rmdir(dir);
}

static void absent(const char *dir)
{
	struct xvio_plat *p = (struct xvio_plat *)&p; /* a sentinel */
	int saved[2], rc;

	if (access("/dev/xen", F_OK) == 0)
		fake_dev(false);
	CHECK(access("/dev/xen", F_OK) != 0);
	redirect(dir, saved);
	rc = xvio_plat_open("xen", &p);
	restore(saved);
	CHECK_INT(rc, ==, -ENOENT);
	CHECK(p == (struct xvio_plat *)&p);
}

/* Every call needing a library must fail with a negative errno. */
static int empty_dev_child(void)
{
	struct xvio_plat *p = NULL;
	struct xvio_evtchn *e = NULL;
	struct xvio_gnt_share *s = NULL;
	struct xvio_gnt_map *m = NULL;
	struct xvio_dominfo info;
	xvio_gref_t refs[2] = { 8, 9 };
	xvio_domid_t domid = 0;
	uint64_t gfns[1] = { 0x1000 };
	void *addr = NULL;

	fake_dev(true);
	/* No xenstore either: neither a daemon socket nor /dev/xen/xenbus. */
	setenv("XENSTORED_PATH", "/nonexistent/xvio-test/socket", 1);
	CHECK_INT(xvio_plat_open("xen", &p), ==, 0);
	CHECK_STR(xvio_plat_name(p), "xen");
	CHECK_INT(xvio_plat_self_domid(p, &domid), <, 0);
	CHECK_INT(xvio_evtchn_open(p, &e), <, 0);
	CHECK(e == NULL);
	CHECK_INT(xvio_gnt_share(p, 1, 2, true, refs, &addr, &s), <, 0);
	CHECK(s == NULL && addr == NULL);
	CHECK_INT(xvio_gnt_map_domain(p, 1, 2, refs, true, &addr, &m), <, 0);
	CHECK(m == NULL && addr == NULL);
	CHECK_INT(xvio_dom_info(p, 0, &info), <, 0);
	CHECK_INT(xvio_dom_decrease_reservation(p, 1, 1, gfns), <, 0);
	CHECK_INT(xvio_dom_populate_physmap(p, 1, 1, gfns), <, 0);
	CHECK_INT(xvio_dom_set_maxmem(p, 1, 1024), <, 0);
	/* A second try opens again and fails again, still silently. */
	CHECK_INT(xvio_evtchn_open(p, &e), <, 0);
	CHECK_INT(xvio_dom_info(p, 0, &info), <, 0);
	xvio_plat_close(p);
	return 0;
}

static void empty_dev(const char *dir)
{
	int saved[2], status;
	pid_t pid;

	redirect(dir, saved);
	pid = fork();
	if (pid == 0)
		_exit(empty_dev_child());
	restore(saved);
	CHECK(pid > 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "cat %s/fd2 >&2", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "(no child output)\n");
		CHECK_FAIL("child failed (status %#x)", status);
	}
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/xvio-platxen-XXXXXX";

	if (argc != 2)
		CHECK_FAIL("usage: %s absent|empty-dev", argv[0]);
	CHECK(mkdtemp(dir) != NULL);
	if (strcmp(argv[1], "absent") == 0)
		absent(dir);
	else if (strcmp(argv[1], "empty-dev") == 0)
		empty_dev(dir);
	else
		CHECK_FAIL("unknown case %s", argv[1]);
	check_silent(dir);
	return 0;
}
