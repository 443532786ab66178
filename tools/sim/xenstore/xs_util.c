/* SPDX-License-Identifier: MIT */
/*
 * Pure helpers of the xenstore server: path syntax, permission strings,
 * numbers, error names, a small hash map with its keyed hash, and a log
 * rate limiter.  No server state here, so the unit tests link this file
 * alone.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "xs_internal.h"

static bool valid_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '/' || c == '_' ||
	       c == '@';
}

bool xs_path_valid(const char *path)
{
	size_t len = strlen(path);

	if (len == 0 || path[0] != '/' || len > XENSTORE_ABS_PATH_MAX)
		return false;
	if (len > 1 && path[len - 1] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!valid_char(path[i]))
			return false;
		if (path[i] == '/' && path[i + 1] == '/')
			return false;
	}
	return true;
}

void xs_domain_path(uint16_t domid, char *buf, size_t len)
{
	snprintf(buf, len, "/local/domain/%u", (unsigned)domid);
}

char *xs_canon(uint16_t domid, const char *path, int *err)
{
	char *out;

	if (path[0] == '@') {
		/* Special watch names are handled by their callers. */
		*err = -EINVAL;
		return NULL;
	}
	if (path[0] == '/') {
		out = strdup(path);
	} else {
		char base[32];
		size_t n = strlen(path);

		/* Checked before joining so an over-long relative path is
		 * refused by its own limit, not the absolute one. */
		if (n == 0 || n > XENSTORE_REL_PATH_MAX) {
			*err = -EINVAL;
			return NULL;
		}
		xs_domain_path(domid, base, sizeof(base));
		if (asprintf(&out, "%s/%s", base, path) < 0)
			out = NULL;
	}
	if (!out) {
		*err = -ENOMEM;
		return NULL;
	}
	if (!xs_path_valid(out)) {
		free(out);
		*err = -EINVAL;
		return NULL;
	}
	*err = 0;
	return out;
}

bool xs_is_child(const char *child, const char *parent)
{
	size_t n = strlen(parent);

	if (strcmp(parent, "/") == 0)
		return child[0] == '/';
	if (strncmp(child, parent, n) != 0)
		return false;
	return child[n] == '/' || child[n] == '\0';
}

unsigned xs_depth_below(const char *child, const char *parent)
{
	size_t n = strcmp(parent, "/") == 0 ? 0 : strlen(parent);
	unsigned d = 0;

	if (strcmp(child, parent) == 0)
		return 0;
	for (const char *p = child + n; *p; p++)
		if (*p == '/')
			d++;
	return d;
}

char *xs_parent(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash || slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

const char *xs_basename(const char *path)
{
	return strrchr(path, '/') + 1;
}

int xs_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (max - (unsigned long)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*out = v;
	return 0;
}

int xs_perm_parse(const char *s, struct xs_perm *out)
{
	unsigned long id;

	switch (s[0]) {
	case 'n': out->perm = XS_P_NONE; break;
	case 'r': out->perm = XS_P_READ; break;
	case 'w': out->perm = XS_P_WRITE; break;
	case 'b': out->perm = XS_P_READ | XS_P_WRITE; break;
	default: return -EINVAL;
	}
	if (xs_parse_uint(s + 1, XSS_DOMID_MAX, &id) < 0)
		return -EINVAL;
	out->id = (uint16_t)id;
	return 0;
}

int xs_perm_format(const struct xs_perm *p, char *buf, size_t len)
{
	static const char letters[4] = { 'n', 'r', 'w', 'b' };

	return snprintf(buf, len, "%c%u", letters[p->perm & 3u], (unsigned)p->id);
}

unsigned xs_perm_for(const struct xs_perm *p, unsigned n, uint16_t domid,
                     int target)
{
	const unsigned all = XS_P_READ | XS_P_WRITE | XS_P_OWNER;

	if (domid == 0 || p[0].id == domid || (target >= 0 && p[0].id == target))
		return all;
	/* The first entry naming the domain (or its target) wins. */
	for (unsigned i = 1; i < n; i++)
		if (p[i].id == domid || (target >= 0 && p[i].id == target))
			return p[i].perm;
	return p[0].perm;
}

const char *xs_errname(int err)
{
	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (xsd_errors[i].errnum == err)
			return xsd_errors[i].errstring;
	return "EINVAL";
}

unsigned xs_strings(const char *buf, size_t len, const char **vec, unsigned max)
{
	unsigned n = 0;
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\0')
			continue;
		if (n < max)
			vec[n] = buf + start;
		n++;
		start = i + 1;
	}
	return n;
}

/* ---- hashing ------------------------------------------------------------- */

/*
 * FNV-1a over 64 bits from a random offset basis drawn once per process,
 * folded to 32 bits through a mixer so that bucket indexes depend on every
 * bit.  Keyed, so colliding paths cannot be prepared offline; incremental,
 * so every prefix of a path is hashed in one pass (xs_prefixes).
 */
static uint64_t hash_basis;
static bool hash_seeded;
static unsigned long long key_bytes;

static void hash_seed(void)
{
	uint64_t seed = 0;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
		struct timespec ts;

		/* No entropy yet (early boot): still differs per start. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
		       ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)&seed;
	}
	hash_basis = 14695981039346656037ull ^ seed;
	hash_seeded = true;
}

uint64_t xs_hash_start(void)
{
	if (!hash_seeded)
		hash_seed();
	return hash_basis;
}

uint64_t xs_hash_more(uint64_t st, const char *s, size_t n)
{
	key_bytes += n;
	for (size_t i = 0; i < n; i++)
		st = (st ^ (uint8_t)s[i]) * 1099511628211ull;
	return st;
}

uint32_t xs_hash_end(uint64_t st)
{
	uint32_t h = (uint32_t)(st ^ (st >> 32));

	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

unsigned long long xs_key_bytes(void)
{
	return key_bytes;
}

static uint32_t hash_str(const char *s)
{
	return xs_hash_end(xs_hash_more(xs_hash_start(), s, strlen(s)));
}

void xs_prefixes(struct xs_prefixes *px, const char *path)
{
	uint64_t st = xs_hash_start();
	size_t len = strlen(path), start = 1;

	/* "/" alone, then "/a", "/a/b", ... each extending the last. */
	px->end[0] = 1;
	px->hash[0] = xs_hash_end(xs_hash_more(st, "/", 1));
	px->n = 1;
	if (len <= 1)
		return;
	for (size_t i = 1; i <= len && px->n < XS_MAX_PREFIXES; i++) {
		if (i < len && path[i] != '/')
			continue;
		/* Component path[start-1 .. i): its leading '/' included. */
		st = xs_hash_more(st, path + start - 1, i - start + 1);
		px->end[px->n] = (uint16_t)i;
		px->hash[px->n] = xs_hash_end(st);
		px->n++;
		start = i + 1;
	}
}

/* ---- rate-limited log lines ---------------------------------------------- */

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000u +
	       (unsigned long long)ts.tv_nsec / 1000000u;
}

bool xs_ratelog_allow(struct xs_ratelog *rl, unsigned long *held)
{
	unsigned long long now = now_ms();

	if (rl->used && now - rl->last_ms < XSS_LOG_INTERVAL_MS) {
		rl->held++;
		return false;
	}
	*held = rl->held;
	rl->held = 0;
	rl->last_ms = now;
	rl->used = true;
	return true;
}

bool xs_ratelog_due(struct xs_ratelog *rl, unsigned long *held)
{
	if (!rl->held || now_ms() - rl->last_ms < XSS_LOG_INTERVAL_MS)
		return false;
	return xs_ratelog_allow(rl, held);
}

unsigned long xs_ratelog_take(struct xs_ratelog *rl)
{
	unsigned long held = rl->held;

	rl->held = 0;
	return held;
}

/* ---- hash map ------------------------------------------------------------ */

void xs_map_init(struct xs_map *m)
{
	m->b = NULL;
	m->nb = 0;
	m->n = 0;
}

void xs_map_fini(struct xs_map *m)
{
	for (size_t i = 0; i < m->nb; i++) {
		struct xs_mapent *e = m->b[i];

		while (e) {
			struct xs_mapent *next = e->next;

			free(e);
			e = next;
		}
	}
	free(m->b);
	xs_map_init(m);
}

/* The entry whose key is key[0..len) (key need not end there). */
static struct xs_mapent **find_slot(const struct xs_map *m, const char *key,
                                    size_t len, uint32_t h)
{
	struct xs_mapent **pp;

	if (!m->nb)
		return NULL;
	for (pp = &m->b[h & (m->nb - 1)]; *pp; pp = &(*pp)->next) {
		if ((*pp)->hash != h)
			continue;
		key_bytes += len;
		if (strncmp((*pp)->key, key, len) == 0 && (*pp)->key[len] == '\0')
			return pp;
	}
	return NULL;
}

void *xs_map_get(const struct xs_map *m, const char *key)
{
	struct xs_mapent **pp = find_slot(m, key, strlen(key), hash_str(key));

	return pp ? (*pp)->val : NULL;
}

void *xs_map_get_n(const struct xs_map *m, const char *key, size_t len,
                   uint32_t hash)
{
	struct xs_mapent **pp = find_slot(m, key, len, hash);

	return pp ? (*pp)->val : NULL;
}

static int grow(struct xs_map *m)
{
	size_t nb = m->nb ? m->nb * 2 : 64;
	struct xs_mapent **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->nb; i++) {
		struct xs_mapent *e = m->b[i];

		while (e) {
			struct xs_mapent *next = e->next;

			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
			e = next;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
	return 0;
}

int xs_map_put(struct xs_map *m, const char *key, void *val)
{
	uint32_t h = hash_str(key);
	struct xs_mapent **pp = find_slot(m, key, strlen(key), h);
	struct xs_mapent *e;

	if (pp) {
		(*pp)->key = key;
		(*pp)->val = val;
		return 0;
	}
	if (m->n >= m->nb && grow(m) < 0)
		return -ENOMEM;
	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->hash = h;
	e->key = key;
	e->val = val;
	e->next = m->b[h & (m->nb - 1)];
	m->b[h & (m->nb - 1)] = e;
	m->n++;
	return 0;
}

void *xs_map_del(struct xs_map *m, const char *key)
{
	struct xs_mapent **pp = find_slot(m, key, strlen(key), hash_str(key));
	struct xs_mapent *e;
	void *val;

	if (!pp)
		return NULL;
	e = *pp;
	*pp = e->next;
	val = e->val;
	free(e);
	m->n--;
	return val;
}

bool xs_map_next(const struct xs_map *m, size_t *pos, struct xs_mapent **e)
{
	if (*e && (*e)->next) {
		*e = (*e)->next;
		return true;
	}
	if (*e)
		(*pos)++;
	for (; *pos < m->nb; (*pos)++) {
		if (m->b[*pos]) {
			*e = m->b[*pos];
			return true;
		}
	}
	*e = NULL;
	return false;
}

void xs_log(const char *fmt, ...)
{
	va_list ap;

	fputs("xvio-sim: xenstore: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
