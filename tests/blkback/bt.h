/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the blkback tests: virtio_disk nodes written as libxl 4.17
 * writes them, images filled with bt_pattern, and the daemon and the test
 * frontend as processes of a domain (stdin for commands, stdout read line
 * by line).  Like simtest.h, every function fails the test on error.
 */
#ifndef XVIO_TEST_BT_H
#define XVIO_TEST_BT_H

#include <stdbool.h>
#include <stdint.h>

#include "blktest.h"
#include "xptest.h"

struct bt_disk {
	int domid;
	unsigned devid;
	const char *params;
	const char *mode;          /* "w" when NULL */
	const char *device_type;   /* "disk" when NULL */
	int discard;               /* -1: key absent */
	bool direct;               /* direct-io-safe = 1 */
	char be[256], fe[256];     /* filled by bt_make_disk */
};

void bt_make_disk(struct xs_handle *xs0, struct bt_disk *d);
/* The backend's error node for d ("" when absent). */
void bt_error_node(struct xs_handle *xs0, const struct bt_disk *d, char *buf, size_t size);

/* A fresh directory for images (in $XVIO_BLKTEST_DIR, default /tmp);
 * removed by bt_rmdir. */
void bt_mkdir(char *dir, size_t size);
void bt_rmdir(const char *dir);
/* An image of `sectors` sectors of bt_pattern(s, 0) plus `extra` bytes. */
void bt_image(const char *path, uint64_t sectors, unsigned extra);
/* Does sector s of the file hold bt_pattern(s, gen)? */
bool bt_sector_is(int fd, uint64_t s, uint32_t gen);

struct bt_proc {
	struct xp_proc p;
	int in;                    /* its stdin */
};

/* Start the daemon (extra args NULL-ended) in dom0 and wait for "ready".
 * drop_dac: without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH. */
void bt_start_back(struct bt_proc *b, const struct simtest *st, bool drop_dac, ...);
/* Start blktest-front in domain domid (args NULL-ended). */
void bt_start_front(struct bt_proc *f, const struct simtest *st, int domid, ...);
/* The next "connected" line (fails after the timeout). */
void bt_connected(struct bt_proc *f, char *line, size_t size);
/* Send a command, return the next line starting with `prefix` (an
 * "error" line fails the test). */
void bt_cmd(struct bt_proc *f, const char *prefix, char *line, size_t size, const char *fmt,
            ...) __attribute__((format(printf, 5, 6)));
/* Send a command and return its status byte (-1: cancelled). */
int bt_status(struct bt_proc *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Close stdin and wait for a clean exit. */
void bt_quit(struct bt_proc *f);
/* SIGTERM and expect exit status 0. */
void bt_term(struct bt_proc *b);

/* The flags (octal in /proc/<pid>/fdinfo) of the fd of pid open on path;
 * -1 when none is. */
long bt_fd_flags(pid_t pid, const char *path);

#endif
