/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "unixsock.h"

int sim_listen_unix(const char *path, int type, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	bool bound;
	int fd, err;

	/* Checked first: a truncated name would bind somewhere else. */
	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	/* A socket survives its daemon; any other file is not ours to remove. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (unlink(path) < 0)
			return -errno;
	}
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	bound = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (!bound || listen(fd, backlog) < 0) {
		err = -errno;
		if (bound)
			unlink(path);
		close(fd);
		return err;
	}
	return fd;
}

int sim_spare_open(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int sim_accept(int lfd, int *spare)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd >= 0)
		return fd;
	if ((errno != EMFILE && errno != ENFILE) || !spare || *spare < 0)
		return -errno;
	close(*spare);
	fd = accept(lfd, NULL, NULL);
	if (fd >= 0)
		close(fd);
	*spare = sim_spare_open();
	return -EMFILE;
}
