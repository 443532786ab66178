/* SPDX-License-Identifier: MIT */
/*
 * Permissions across domains, through libxenstore connected as domain 0
 * and as guests 5 and 7 of a private xenstore server.  One case per
 * argv[1].
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "xstest.h"

static struct xstest T;
static struct xs_handle *D0, *G5, *G7;

static bool put(struct xs_handle *h, const char *path, const char *val)
{
	return xs_write(h, XBT_NULL, path, val, (unsigned)strlen(val));
}

/* Can h read path?  (The value is freed.) */
static bool can_read(struct xs_handle *h, const char *path)
{
	char *v = xs_read(h, XBT_NULL, path, NULL);

	free(v);
	return v != NULL;
}

static void set_perms(struct xs_handle *h, const char *path, const char *spec)
{
	/* spec: "n5 r7 ..." */
	struct xs_permissions p[8];
	unsigned n = 0;
	char buf[128], *save, *tok;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		CHECK(n < 8);
		p[n].id = (unsigned)atoi(tok + 1);
		p[n].perms = tok[0] == 'r' ? XS_PERM_READ :
		             tok[0] == 'w' ? XS_PERM_WRITE :
		             tok[0] == 'b' ? XS_PERM_READ | XS_PERM_WRITE : XS_PERM_NONE;
		n++;
	}
	CHECK(xs_set_permissions(h, XBT_NULL, path, p, n));
}

static void expect_perms(const char *path, const char *spec)
{
	struct xs_permissions *p;
	unsigned n;
	char got[128] = "";

	p = xs_get_permissions(D0, XBT_NULL, path, &n);
	CHECK(p != NULL);
	for (unsigned i = 0; i < n; i++) {
		char one[16];
		char c = p[i].perms == XS_PERM_READ ? 'r' :
		         p[i].perms == XS_PERM_WRITE ? 'w' :
		         p[i].perms == (XS_PERM_READ | XS_PERM_WRITE) ? 'b' : 'n';

		snprintf(one, sizeof(one), "%s%c%u", i ? " " : "", c, p[i].id);
		strncat(got, one, sizeof(got) - strlen(got) - 1);
	}
	free(p);
	CHECK_STR(got, spec);
}

/* Give guest 5 its home directory as the toolstack does. */
static void make_home(unsigned domid)
{
	char path[64], spec[16];

	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	snprintf(spec, sizeof(spec), "n%u", domid);
	CHECK(xs_mkdir(D0, XBT_NULL, path));
	set_perms(D0, path, spec);
}

static void case_guest_cannot_read_dom0(void)
{
	CHECK(put(D0, "/secret", "s"));
	CHECK_ERRNO(xs_read(G5, XBT_NULL, "/secret", NULL), EACCES);
	CHECK_ERRNO(put(G5, "/secret", "x"), EACCES);
	CHECK_ERRNO(put(G5, "/newnode", "x"), EACCES);
	CHECK_ERRNO(xs_rm(G5, XBT_NULL, "/secret"), EACCES);
	CHECK_ERRNO(xs_directory(G5, XBT_NULL, "/", NULL), EACCES);
	CHECK_ERRNO(xs_get_permissions(G5, XBT_NULL, "/secret", NULL), EACCES);
	CHECK_ERRNO(xs_mkdir(G5, XBT_NULL, "/secret"), EACCES);
}

static void case_no_existence_leak(void)
{
	/* A missing node under an unreadable parent answers EACCES, the
	 * same as an existing unreadable one. */
	CHECK(put(D0, "/hidden/there", "x"));
	CHECK_ERRNO(xs_read(G5, XBT_NULL, "/hidden/there", NULL), EACCES);
	CHECK_ERRNO(xs_read(G5, XBT_NULL, "/hidden/not-there", NULL), EACCES);
	/* Under a readable parent, a missing node is ENOENT. */
	set_perms(D0, "/hidden", "r0");
	CHECK_ERRNO(xs_read(G5, XBT_NULL, "/hidden/not-there", NULL), ENOENT);
	/* The nearest existing ancestor decides: /hidden/there is not
	 * readable (it kept the root's permissions). */
	CHECK_ERRNO(xs_read(G5, XBT_NULL, "/hidden/there/deeper", NULL), EACCES);
}

static void case_guest_home(void)
{
	struct xs_permissions *p;
	unsigned n, len;
	char *v;

	make_home(5);
	/* Relative paths resolve under /local/domain/5. */
	CHECK(put(G5, "data/x", "1"));
	v = xs_read(G5, XBT_NULL, "/local/domain/5/data/x", &len);
	CHECK(v && len == 1 && v[0] == '1');
	free(v);
	/* What the guest creates is owned by the guest. */
	p = xs_get_permissions(G5, XBT_NULL, "data/x", &n);
	CHECK(p && n == 1 && p[0].id == 5 && p[0].perms == XS_PERM_NONE);
	free(p);
	/* Another guest sees nothing of it. */
	CHECK_ERRNO(xs_read(G7, XBT_NULL, "/local/domain/5/data/x", NULL), EACCES);
	CHECK_ERRNO(xs_read(G7, XBT_NULL, "/local/domain/5/nothing", NULL), EACCES);
	CHECK_ERRNO(put(G7, "/local/domain/5/data/x", "7"), EACCES);
	CHECK_ERRNO(xs_directory(G7, XBT_NULL, "/local/domain/5", NULL), EACCES);
	/* Domain 0 sees everything. */
	v = xs_read(D0, XBT_NULL, "/local/domain/5/data/x", NULL);
	CHECK_STR(v, "1");
	free(v);
	CHECK(xs_rm(G5, XBT_NULL, "data"));
}

static void case_grant_read(void)
{
	char *v;

	make_home(5);
	CHECK(put(G5, "shared", "hello"));
	set_perms(G5, "/local/domain/5/shared", "n5 r7");
	v = xs_read(G7, XBT_NULL, "/local/domain/5/shared", NULL);
	CHECK_STR(v, "hello");
	free(v);
	CHECK_ERRNO(put(G7, "/local/domain/5/shared", "no"), EACCES);
	/* Readable parent: a missing child is plainly ENOENT. */
	CHECK_ERRNO(xs_read(G7, XBT_NULL, "/local/domain/5/shared/x", NULL), ENOENT);
	/* Domain 3 is not named: the default (first entry) applies. */
	{
		struct xs_handle *g3 = xstest_open(&T, 3);

		CHECK_ERRNO(xs_read(g3, XBT_NULL, "/local/domain/5/shared", NULL),
		            EACCES);
		xs_close(g3);
	}
}

static void case_grant_write(void)
{
	make_home(5);
	CHECK(put(G5, "inbox", ""));
	set_perms(G5, "/local/domain/5/inbox", "n5 w7");
	CHECK(put(G7, "/local/domain/5/inbox", "msg"));
	CHECK_ERRNO(xs_read(G7, XBT_NULL, "/local/domain/5/inbox", NULL), EACCES);
	/* A child created by 7 inherits the parent's entries, owned by 7. */
	CHECK(put(G7, "/local/domain/5/inbox/from7", "x"));
	expect_perms("/local/domain/5/inbox/from7", "n7 w7");
	CHECK_ERRNO(xs_read(G5, XBT_NULL, "inbox/from7", NULL), EACCES);
}

static void case_default_read(void)
{
	make_home(5);
	CHECK(put(G5, "pub", "p"));
	set_perms(G5, "/local/domain/5/pub", "r5");
	CHECK(can_read(G7, "/local/domain/5/pub"));
	CHECK_ERRNO(put(G7, "/local/domain/5/pub", "x"), EACCES);
}

static void case_dom0_creates_for_guest(void)
{
	/* Domain 0 creating under a guest's node: the node inherits the
	 * owner (C xenstored only re-owns for unprivileged creators). */
	make_home(5);
	CHECK(put(D0, "/local/domain/5/device/vbd", ""));
	expect_perms("/local/domain/5/device/vbd", "n5");
	CHECK(put(G5, "device/vbd", "ok"));
}

static void case_set_perms_rules(void)
{
	make_home(5);
	CHECK(put(G5, "node", ""));
	/* The owner may change the entries... */
	set_perms(G5, "/local/domain/5/node", "n5 r7");
	expect_perms("/local/domain/5/node", "n5 r7");
	/* ...but not the owner (EPERM). */
	{
		struct xs_permissions p = { .id = 7, .perms = XS_PERM_NONE };

		CHECK_ERRNO(xs_set_permissions(G5, XBT_NULL, "node", &p, 1), EPERM);
	}
	/* A reader is not the owner: EACCES. */
	{
		struct xs_permissions p = { .id = 5, .perms = XS_PERM_READ };

		CHECK_ERRNO(xs_set_permissions(G7, XBT_NULL,
		                               "/local/domain/5/node", &p, 1), EACCES);
	}
	/* Even with write access (b), only the owner sets permissions. */
	set_perms(G5, "/local/domain/5/node", "n5 b7");
	{
		struct xs_permissions p = { .id = 5, .perms = XS_PERM_READ };

		CHECK_ERRNO(xs_set_permissions(G7, XBT_NULL,
		                               "/local/domain/5/node", &p, 1), EACCES);
	}
	/* Domain 0 may change the owner. */
	set_perms(D0, "/local/domain/5/node", "n7");
	expect_perms("/local/domain/5/node", "n7");
	CHECK(put(G7, "/local/domain/5/node", "mine"));
}

static void case_special_perms(void)
{
	struct xs_permissions *p;
	unsigned n;
	struct xs_permissions r5[] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = 5, .perms = XS_PERM_READ },
	};

	p = xs_get_permissions(D0, XBT_NULL, "@releaseDomain", &n);
	CHECK(p && n == 1 && p[0].id == 0);
	free(p);
	CHECK_ERRNO(xs_set_permissions(G5, XBT_NULL, "@releaseDomain", r5, 2),
	            EACCES);
	CHECK(xs_set_permissions(D0, XBT_NULL, "@releaseDomain", r5, 2));
	p = xs_get_permissions(D0, XBT_NULL, "@releaseDomain", &n);
	CHECK(p && n == 2 && p[1].id == 5);
	free(p);
	CHECK_ERRNO(xs_set_permissions(D0, XBT_NULL, "@other", r5, 2), ENOENT);
	CHECK_ERRNO(xs_get_permissions(D0, XBT_NULL, "@other", &n), ENOENT);
}

static void case_privileged_only(void)
{
	CHECK_ERRNO(xs_introduce_domain(G5, 7, 1, 1), EACCES);
	CHECK_ERRNO(xs_release_domain(G5, 7), EACCES);
	CHECK_ERRNO(xs_resume_domain(G5, 7), EACCES);
	CHECK_ERRNO(xs_set_target(G5, 5, 7), EACCES);
	CHECK_ERRNO(xs_control_command(G5, "check", NULL, 0), EACCES);
	/* libxenstore maps the error to "not introduced". */
	CHECK(!xs_is_domain_introduced(G5, 0));
	/* GET_DOMAIN_PATH is for everyone. */
	{
		char *p = xs_get_domain_path(G5, 5);

		CHECK_STR(p, "/local/domain/5");
		free(p);
	}
}

static void case_target(void)
{
	/* A domain targeting another acts as that domain (stub domains). */
	make_home(7);
	CHECK(put(G7, "private", "p"));
	CHECK_ERRNO(xs_read(G5, XBT_NULL, "/local/domain/7/private", NULL), EACCES);
	CHECK(xs_introduce_domain(D0, 5, 1, 1));
	CHECK(xs_introduce_domain(D0, 7, 1, 1));
	CHECK(xs_set_target(D0, 5, 7));
	CHECK(can_read(G5, "/local/domain/7/private"));
}

static const struct check_case cases[] = {
	{ "guest-cannot-read-dom0", case_guest_cannot_read_dom0 },
	{ "no-existence-leak", case_no_existence_leak },
	{ "guest-home", case_guest_home },
	{ "grant-read", case_grant_read },
	{ "grant-write", case_grant_write },
	{ "default-read", case_default_read },
	{ "dom0-creates-for-guest", case_dom0_creates_for_guest },
	{ "set-perms-rules", case_set_perms_rules },
	{ "special-perms", case_special_perms },
	{ "privileged-only", case_privileged_only },
	{ "target", case_target },
};

int main(int argc, char **argv)
{
	static const unsigned doms[] = { 3, 5, 7 };
	static const struct xstest_conn conns[] = { { 0, &D0 }, { 5, &G5 }, { 7, &G7 } };
	static const struct xstest_fixture f = { &T, doms, 3, conns, 3 };

	return xstest_run_case(argc, argv, cases, CHECK_NCASES(cases), &f);
}
