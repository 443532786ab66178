/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "reap.h"

#define MAX_VICTIMS 4096
#define ENVIRON_MAX (256 * 1024)

struct victims {
	int fds[MAX_VICTIMS];
	pid_t pids[MAX_VICTIMS];
	size_t n;
};

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void kill_fd(int fd)
{
	syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
}

static bool known(const struct victims *v, pid_t pid)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->pids[i] == pid)
			return true;
	return false;
}

/* Does /proc/<pid>/environ hold exactly `marker` as one entry? */
static bool has_marker(pid_t pid, const char *marker, char *buf)
{
	char path[64];
	size_t mlen = strlen(marker), used = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	while (used < ENVIRON_MAX && (n = read(fd, buf + used, ENVIRON_MAX - used)) > 0)
		used += (size_t)n;
	close(fd);
	for (size_t off = 0; off < used;) {
		const char *e = buf + off;
		size_t len = strnlen(e, used - off);

		if (len == mlen && memcmp(e, marker, mlen) == 0)
			return true;
		off += len + 1;
	}
	return false;
}

/* One pass over /proc; returns how many new processes it found. */
static size_t scan(struct victims *v, const char *marker, char *buf)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();
	size_t found = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) && v->n < MAX_VICTIMS) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		int fd;

		if (*end || pid <= 1 || pid == self || known(v, (pid_t)pid))
			continue;
		if (!has_marker((pid_t)pid, marker, buf))
			continue;
		fd = pidfd_open((pid_t)pid);
		if (fd < 0)
			continue;
		kill_fd(fd);
		v->fds[v->n] = fd;
		v->pids[v->n++] = (pid_t)pid;
		found++;
	}
	closedir(d);
	return found;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until every pidfd reports exit or the deadline passes. */
static int wait_all(const int *fds, size_t n, long long deadline)
{
	int alive = 0;

	for (size_t i = 0; i < n; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN };
		long long left;

		while ((left = deadline - now_ms()) > 0 && poll(&p, 1, (int)left) < 0 && errno == EINTR)
			;
		if (poll(&p, 1, 0) != 1)
			alive++;
	}
	return alive;
}

int sim_reap(const int *pidfds, size_t n_pidfds, const pid_t *groups, size_t n_groups,
             const char *marker, int timeout_ms)
{
	struct victims *v = calloc(1, sizeof(*v));
	char *buf = malloc(ENVIRON_MAX);
	long long deadline = now_ms() + timeout_ms;
	int alive;

	if (!v || !buf) {
		free(v);
		free(buf);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_groups; i++)
		if (groups[i] > 1)
			kill(-groups[i], SIGKILL);
	for (size_t i = 0; i < n_pidfds; i++)
		kill_fd(pidfds[i]);
	/* A process found by one pass may have forked before its SIGKILL
	 * landed; its child inherited the marker, so pass again. */
	for (int pass = 0; pass < 5 && scan(v, marker, buf) > 0; pass++)
		;
	alive = wait_all(pidfds, n_pidfds, deadline) + wait_all(v->fds, v->n, deadline);
	for (size_t i = 0; i < v->n; i++)
		close(v->fds[i]);
	free(v);
	free(buf);
	return alive;
}
