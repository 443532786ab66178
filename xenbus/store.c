/* SPDX-License-Identifier: MIT */
/*
 * Typed xenstore access: strict parsers, reads that validate what a peer
 * may have written, writes, and transactions with bounded retry.
 *
 * Every value is read once with xs_read() into a private buffer; the
 * length used is the one libxenstore got from the reply, checked against
 * the caller's limit before anything else, and the parser works on that
 * copy only.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenbus.h"

/* Longest value quoted in a message, before "...". */
#define QUOTE_MAX 48

/* ---- error detail ---- */

int xvio_err_set(struct xvio_err *e, int err, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		e->err = err;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return -err;
}

void xvio_err_clear(struct xvio_err *e)
{
	if (e) {
		e->err = 0;
		e->msg[0] = '\0';
	}
}

char *xvio_quote(char *out, size_t size, const char *val, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)val[i];
		bool plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
		size_t need = plain ? 1 : 4;

		/* Keep room for "..." and the NUL. */
		if (i >= QUOTE_MAX || o + need + 4 > size) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

/* ---- parsers ---- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* Common checks; on success [*b, *e) holds the trimmed text. */
static int check_text(const char *what, const char *val, size_t len, unsigned flags,
                      size_t *b, size_t *e, struct xvio_err *err)
{
	char q[QUOTE_MAX * 4 + 8];

	if (memchr(val, '\0', len))
		return xvio_err_set(err, EINVAL, "%s: \"%s\" contains a NUL byte", what,
		                    xvio_quote(q, sizeof(q), val, len));
	*b = 0;
	*e = len;
	if (flags & XVIO_NUM_SPACE) {
		while (*b < *e && is_blank(val[*b]))
			(*b)++;
		while (*e > *b && is_blank(val[*e - 1]))
			(*e)--;
	}
	return 0;
}

/*
 * Parse the magnitude of a decimal number in val[b, e).  Sign handling is
 * the caller's.  Returns -EINVAL for junk, -ERANGE on overflow of u64.
 */
static int parse_digits(const char *val, size_t b, size_t e, unsigned flags,
                        uint64_t *out)
{
	uint64_t v = 0;

	if (b == e)
		return -EINVAL;
	/* "007" is not canonical; "0" is. */
	if (val[b] == '0' && e - b > 1 && !(flags & XVIO_NUM_ZEROS))
		return -EINVAL;
	for (size_t i = b; i < e; i++) {
		unsigned d;

		if (val[i] < '0' || val[i] > '9')
			return -EINVAL;
		d = (unsigned)(val[i] - '0');
		if (v > (UINT64_MAX - d) / 10) {
			/* Keep scanning: junk after an overflow is still junk. */
			for (; i < e; i++)
				if (val[i] < '0' || val[i] > '9')
					return -EINVAL;
			return -ERANGE;
		}
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int number_error(const char *what, const char *val, size_t len, int rc,
                        const char *range, struct xvio_err *err)
{
	char q[QUOTE_MAX * 4 + 8];

	xvio_quote(q, sizeof(q), val, len);
	if (rc == -ERANGE)
		return xvio_err_set(err, ERANGE, "%s: \"%s\" is out of range %s", what, q,
		                    range);
	return xvio_err_set(err, EINVAL, "%s: \"%s\" is not a number", what, q);
}

int xvio_parse_u64(const char *what, const char *val, size_t len, unsigned flags,
                   uint64_t min, uint64_t max, uint64_t *out, struct xvio_err *err)
{
	char range[48];
	size_t b, e;
	uint64_t v = 0;
	int rc;

	rc = check_text(what, val, len, flags, &b, &e, err);
	if (rc < 0)
		return rc;
	snprintf(range, sizeof(range), "[%llu, %llu]", (unsigned long long)min,
	         (unsigned long long)max);
	if (b < e && val[b] == '+' && (flags & XVIO_NUM_PLUS))
		b++;
	rc = parse_digits(val, b, e, flags, &v);
	if (rc == 0 && (v < min || v > max))
		rc = -ERANGE;
	if (rc < 0)
		return number_error(what, val, len, rc, range, err);
	*out = v;
	return 0;
}

int xvio_parse_i64(const char *what, const char *val, size_t len, unsigned flags,
                   int64_t min, int64_t max, int64_t *out, struct xvio_err *err)
{
	char range[48];
	size_t b, e;
	uint64_t mag = 0;
	bool neg = false;
	int64_t v = 0;
	int rc;

	rc = check_text(what, val, len, flags, &b, &e, err);
	if (rc < 0)
		return rc;
	snprintf(range, sizeof(range), "[%lld, %lld]", (long long)min, (long long)max);
	if (b < e && val[b] == '-') {
		neg = true;
		b++;
	} else if (b < e && val[b] == '+' && (flags & XVIO_NUM_PLUS)) {
		b++;
	}
	rc = parse_digits(val, b, e, flags, &mag);
	if (rc == 0) {
		if (!neg && mag > (uint64_t)INT64_MAX)
			rc = -ERANGE;
		else if (neg && mag > (uint64_t)INT64_MAX + 1)
			rc = -ERANGE;
		else if (neg)
			v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
		else
			v = (int64_t)mag;
	}
	if (rc == 0 && (v < min || v > max))
		rc = -ERANGE;
	if (rc < 0)
		return number_error(what, val, len, rc, range, err);
	*out = v;
	return 0;
}

int xvio_parse_bool(const char *what, const char *val, size_t len, bool *out,
                    struct xvio_err *err)
{
	char q[QUOTE_MAX * 4 + 8];

	if (len == 1 && (val[0] == '0' || val[0] == '1')) {
		*out = val[0] == '1';
		return 0;
	}
	return xvio_err_set(err, EINVAL, "%s: \"%s\" is not a boolean (0 or 1)", what,
	                    xvio_quote(q, sizeof(q), val, len));
}

int xvio_parse_enum(const char *what, const char *val, size_t len,
                    const struct xvio_enum *table, int *out, struct xvio_err *err)
{
	char q[QUOTE_MAX * 4 + 8], names[128];
	size_t n = 0;

	if (!memchr(val, '\0', len)) {
		for (const struct xvio_enum *t = table; t->name; t++) {
			if (strlen(t->name) == len && memcmp(t->name, val, len) == 0) {
				*out = t->value;
				return 0;
			}
		}
	}
	names[0] = '\0';
	for (const struct xvio_enum *t = table; t->name && n < sizeof(names); t++) {
		int w = snprintf(names + n, sizeof(names) - n, "%s%s",
		                 t == table ? "" : ", ", t->name);
		if (w < 0)
			break;
		n += (size_t)w;
	}
	return xvio_err_set(err, EINVAL, "%s: \"%s\" is not one of %s", what,
	                    xvio_quote(q, sizeof(q), val, len), names);
}

int xvio_check_str(const char *what, const char *val, size_t len, size_t max,
                   struct xvio_err *err)
{
	char q[QUOTE_MAX * 4 + 8];

	if (memchr(val, '\0', len))
		return xvio_err_set(err, EINVAL, "%s: \"%s\" contains a NUL byte", what,
		                    xvio_quote(q, sizeof(q), val, len));
	if (len > max)
		return xvio_err_set(err, E2BIG, "%s: value is %zu bytes, longer than %zu",
		                    what, len, max);
	if (len > INT_MAX)
		return xvio_err_set(err, E2BIG, "%s: value too long", what);
	return (int)len;
}

/* ---- paths and raw reads ---- */

int xvio_xs_path(char *buf, size_t size, const char *dir, const char *key)
{
	int n;

	if (!dir || size == 0)
		return -EINVAL;
	if (key)
		n = snprintf(buf, size, "%s/%s", dir, key);
	else
		n = snprintf(buf, size, "%s", dir);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size || n > XENSTORE_ABS_PATH_MAX)
		return -ENAMETOOLONG;
	return n;
}

/* Room for the longest path libxenstore accepts, plus NUL. */
#define PATH_BUF (XENSTORE_ABS_PATH_MAX + 1)

static int make_path(char *buf, const char *dir, const char *key, struct xvio_err *err)
{
	int n = xvio_xs_path(buf, PATH_BUF, dir, key);

	if (n == -ENAMETOOLONG)
		return xvio_err_set(err, ENAMETOOLONG, "%.64s...: path too long",
		                    dir ? dir : "");
	if (n < 0)
		return xvio_err_set(err, -n, "invalid path");
	return n;
}

/*
 * Read one node into a malloc'ed buffer.  *len is the length libxenstore
 * reports for the reply; the buffer has one more byte, a NUL it added.
 */
static int read_raw(struct xs_handle *h, xs_transaction_t t, const char *path,
                    char **val, size_t *len, struct xvio_err *err)
{
	unsigned int n = 0;
	char *v;

	errno = 0;
	v = xs_read(h, t, path, &n);
	if (!v) {
		int e = errno ? errno : EIO;

		if (e == ENOENT)
			return xvio_err_set(err, ENOENT, "%s: missing", path);
		return xvio_err_set(err, e, "%s: read failed: %s", path, strerror(e));
	}
	*val = v;
	*len = n;
	return 0;
}

static int read_node(struct xs_handle *h, xs_transaction_t t, const char *dir,
                     const char *key, char *path, char **val, size_t *len,
                     struct xvio_err *err)
{
	int rc = make_path(path, dir, key, err);

	if (rc < 0)
		return rc;
	return read_raw(h, t, path, val, len, err);
}

/* ---- typed reads ---- */

int xvio_xs_read_str(struct xs_handle *h, xs_transaction_t t, const char *dir,
                     const char *key, char *buf, size_t size, struct xvio_err *err)
{
	char path[PATH_BUF];
	char *v;
	size_t len;
	int rc;

	if (!buf || size == 0)
		return xvio_err_set(err, EINVAL, "no buffer");
	rc = read_node(h, t, dir, key, path, &v, &len, err);
	if (rc < 0)
		return rc;
	rc = xvio_check_str(path, v, len, size - 1, err);
	if (rc >= 0) {
		memcpy(buf, v, len);
		buf[len] = '\0';
	}
	free(v);
	return rc;
}

int xvio_xs_read_strdup(struct xs_handle *h, xs_transaction_t t, const char *dir,
                        const char *key, size_t max, char **out, struct xvio_err *err)
{
	char path[PATH_BUF];
	char *v;
	size_t len;
	int rc;

	rc = read_node(h, t, dir, key, path, &v, &len, err);
	if (rc < 0)
		return rc;
	rc = xvio_check_str(path, v, len, max, err);
	if (rc < 0) {
		free(v);
		return rc;
	}
	/* xs_read NUL-terminates at v[len]; with no NUL inside, v is the string. */
	*out = v;
	return rc;
}

int xvio_xs_read_u64(struct xs_handle *h, xs_transaction_t t, const char *dir,
                     const char *key, unsigned flags, uint64_t min, uint64_t max,
                     uint64_t *out, struct xvio_err *err)
{
	char path[PATH_BUF];
	char *v;
	size_t len;
	int rc;

	rc = read_node(h, t, dir, key, path, &v, &len, err);
	if (rc < 0)
		return rc;
	rc = xvio_parse_u64(path, v, len, flags, min, max, out, err);
	free(v);
	return rc;
}

int xvio_xs_read_i64(struct xs_handle *h, xs_transaction_t t, const char *dir,
                     const char *key, unsigned flags, int64_t min, int64_t max,
                     int64_t *out, struct xvio_err *err)
{
	char path[PATH_BUF];
	char *v;
	size_t len;
	int rc;

	rc = read_node(h, t, dir, key, path, &v, &len, err);
	if (rc < 0)
		return rc;
	rc = xvio_parse_i64(path, v, len, flags, min, max, out, err);
	free(v);
	return rc;
}

int xvio_xs_read_u32(struct xs_handle *h, xs_transaction_t t, const char *dir,
                     const char *key, uint32_t min, uint32_t max, uint32_t *out,
                     struct xvio_err *err)
{
	uint64_t v;
	int rc = xvio_xs_read_u64(h, t, dir, key, 0, min, max, &v, err);

	if (rc == 0)
		*out = (uint32_t)v;
	return rc;
}

int xvio_xs_read_bool(struct xs_handle *h, xs_transaction_t t, const char *dir,
                      const char *key, bool *out, struct xvio_err *err)
{
	char path[PATH_BUF];
	char *v;
	size_t len;
	int rc;

	rc = read_node(h, t, dir, key, path, &v, &len, err);
	if (rc < 0)
		return rc;
	rc = xvio_parse_bool(path, v, len, out, err);
	free(v);
	return rc;
}

int xvio_xs_read_enum(struct xs_handle *h, xs_transaction_t t, const char *dir,
                      const char *key, const struct xvio_enum *table, int *out,
                      struct xvio_err *err)
{
	char path[PATH_BUF];
	char *v;
	size_t len;
	int rc;

	rc = read_node(h, t, dir, key, path, &v, &len, err);
	if (rc < 0)
		return rc;
	rc = xvio_parse_enum(path, v, len, table, out, err);
	free(v);
	return rc;
}

int xvio_xs_exists(struct xs_handle *h, xs_transaction_t t, const char *dir,
                   const char *key)
{
	char path[PATH_BUF];
	char *v;
	size_t len;
	int rc;

	rc = read_node(h, t, dir, key, path, &v, &len, NULL);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	free(v);
	return 1;
}

/* ---- writes ---- */

static int write_raw(struct xs_handle *h, xs_transaction_t t, const char *path,
                     const char *val, size_t len, struct xvio_err *err)
{
	if (len > XENSTORE_PAYLOAD_MAX)
		return xvio_err_set(err, E2BIG, "%s: value of %zu bytes is too long", path,
		                    len);
	errno = 0;
	if (!xs_write(h, t, path, val, (unsigned int)len)) {
		int e = errno ? errno : EIO;

		return xvio_err_set(err, e, "%s: write failed: %s", path, strerror(e));
	}
	return 0;
}

int xvio_xs_write(struct xs_handle *h, xs_transaction_t t, const char *dir,
                  const char *key, const char *val, struct xvio_err *err)
{
	char path[PATH_BUF];
	int rc = make_path(path, dir, key, err);

	if (rc < 0)
		return rc;
	return write_raw(h, t, path, val, strlen(val), err);
}

int xvio_xs_vprintf(struct xs_handle *h, xs_transaction_t t, const char *dir,
                    const char *key, struct xvio_err *err, const char *fmt, va_list ap)
{
	char path[PATH_BUF];
	char *val = NULL;
	int n, rc;

	rc = make_path(path, dir, key, err);
	if (rc < 0)
		return rc;
	n = vasprintf(&val, fmt, ap);
	if (n < 0)
		return xvio_err_set(err, ENOMEM, "%s: out of memory", path);
	rc = write_raw(h, t, path, val, (size_t)n, err);
	free(val);
	return rc;
}

int xvio_xs_printf(struct xs_handle *h, xs_transaction_t t, const char *dir,
                   const char *key, struct xvio_err *err, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = xvio_xs_vprintf(h, t, dir, key, err, fmt, ap);
	va_end(ap);
	return rc;
}

int xvio_xs_rm(struct xs_handle *h, xs_transaction_t t, const char *dir,
               const char *key, struct xvio_err *err)
{
	char path[PATH_BUF];
	int rc = make_path(path, dir, key, err);

	if (rc < 0)
		return rc;
	errno = 0;
	if (!xs_rm(h, t, path)) {
		int e = errno ? errno : EIO;

		if (e == ENOENT)
			return 0;
		return xvio_err_set(err, e, "%s: remove failed: %s", path, strerror(e));
	}
	return 0;
}

/* ---- transactions ---- */

int xvio_xs_transaction(struct xs_handle *h, xvio_xs_txn_fn fn, void *arg,
                        struct xvio_err *err)
{
	for (int tries = 0; tries < XVIO_XS_TXN_TRIES; tries++) {
		xs_transaction_t t;
		int rc, e;

		xvio_err_clear(err);
		errno = 0;
		t = xs_transaction_start(h);
		if (t == XBT_NULL) {
			e = errno ? errno : EIO;
			return xvio_err_set(err, e, "transaction start failed: %s", strerror(e));
		}
		rc = fn(h, t, arg, err);
		if (rc < 0) {
			/* Abort; the outcome of the abort itself changes nothing. */
			xs_transaction_end(h, t, true);
			if (rc == -EAGAIN)
				continue;
			if (err && err->err == 0)
				xvio_err_set(err, -rc, "transaction: %s", strerror(-rc));
			return rc;
		}
		errno = 0;
		if (xs_transaction_end(h, t, false))
			return rc;
		e = errno ? errno : EIO;
		if (e != EAGAIN)
			return xvio_err_set(err, e, "transaction commit failed: %s",
			                    strerror(e));
	}
	return xvio_err_set(err, EAGAIN, "transaction: still conflicting after %d tries",
	                    XVIO_XS_TXN_TRIES);
}
