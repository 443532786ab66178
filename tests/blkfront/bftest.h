/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the blkfront tests: a virtio_disk made exactly as libxl 4.17
 * makes one (docs/protocol.md §1, design.md §3), xvio-blkback in dom0,
 * nbdkit with the xvioblk plugin (or xvio-blkcheck) in a guest, and the
 * test pattern images.  Built on tests/xport/xptest.h (processes, output
 * lines, xenstore, counters); like it, every function fails the test
 * instead of returning an error.
 */
#ifndef XVIO_TEST_BFTEST_H
#define XVIO_TEST_BFTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "xptest.h"

#define BF_XVDB 51728u

struct bf_disk {
	int domid;
	unsigned devid;
	char be[256];
	char fe[256];
	char image[512];
};

/* A test image of `size` bytes holding the pattern byte i = (i * 7 + i /
 * 4096) & 0xff, in the simulator's state directory. */
void bf_image(const struct simtest *st, const char *name, uint64_t size, char *path,
              size_t len);
uint8_t bf_pattern(uint64_t i);

/* libxl's virtio_disk nodes for `image`: mode "w" or "r", discard-enable. */
void bf_disk(struct xs_handle *xs0, int domid, unsigned devid, const char *image,
             const char *mode, bool discard, struct bf_disk *d);

/* xvio-blkback in dom0 with extra arguments (NULL-ended). */
void bf_blkback(struct xp_proc *p, const struct simtest *st, ...);
/* nbdkit --foreground with the plugin in domain `domid`, serving
 * DIR/dom<N>/nbd.sock, plugin parameters (NULL-ended); returns once the
 * socket exists. */
void bf_nbdkit(struct xp_proc *p, const struct simtest *st, int domid, ...);
/* Path of the stderr log of the last nbdkit started. */
const char *bf_nbdkit_log(void);
/* tests/blkfront/xvio-blkcheck in domain `domid` (arguments NULL-ended). */
void bf_blkcheck(struct xp_proc *p, const struct simtest *st, int domid, ...);
void bf_blkcheckv(struct xp_proc *p, const struct simtest *st, int domid,
                  const char *const *args);

/* "nbd+unix:///<export>?socket=DIR/dom<N>/nbd.sock" */
const char *bf_uri(const struct simtest *st, int domid, const char *export_name, char *buf,
                   size_t len);

/* Run a shell command in domain `domid`; fail unless it exits with
 * `want`.  Output (stdout) goes to out if non-NULL. */
void bf_sh(const struct simtest *st, int domid, int want, char *out, size_t outlen,
           const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Compare a file with the pattern (first `size` bytes); -1 when equal,
 * else the offset of the first difference. */
long long bf_check_pattern(const char *path, uint64_t size);

/* The common scene: simulator, guest, image (pattern), disk xvdb, blkback
 * (extra args), both sides connected with nbdkit in the guest. */
struct bf_scene {
	struct simtest st;
	struct xs_handle *xs0;
	int domid;
	struct bf_disk disk;
	struct xp_proc back, front;
	char uri[512];
};
void bf_scene_start(struct bf_scene *s, uint64_t size, const char *mode, bool discard,
                    const char *const *back_args, const char *const *plugin_args);
void bf_scene_stop(struct bf_scene *s);

#endif
