/*
 * config.c - pipelock.yaml (libyaml document API) into struct config.
 *
 * The schema is a set of tables, one per YAML mapping, each row naming a
 * key, its type, where it lands in struct config and its bounds.  Every key
 * of the existing pipelock is in a table: the ones pipelock-fw implements
 * are parsed and validated, the others are accepted with one warning per
 * key or section (KT_IGNORED) so real configs load.  A key in no table is an
 * error with a "did you mean", because a typo in a security config must not
 * silently turn a protection off.
 *
 * Loading follows pipelock's order: built-in defaults first (fail-closed
 * booleans, default lists), then the document overwrites what it names
 * (null keeps the default, "<= 0" keeps the default for pipelock's numeric
 * knobs), then cross-key validation.  Errors read
 * "FILE:LINE:COL: key.path: message" from libyaml's marks; the first error
 * aborts the load.  Nothing here compiles a regex: policy_new() does.
 *
 * OOM policy: allocation failures in config code exit through fatalx()
 * (the CLI and the reload path are not per-connection code).
 */
#include "core/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "core/log.h"
#include "scanner/dlp_patterns.h"

#define CONFIG_FILE_MAX		(4u << 20)	/* a config is a few KiB */
#define CONFIG_PATH_MAX		256		/* key path in messages */
#define CONFIG_QUOTE_MAX	64		/* quoted bad values */
#define SECRETS_FILE_MAX	(8u << 20)
#define SECRETS_MAX_ENTRIES	1000		/* as pipelock */
#define SECRETS_MAX_LINE	4096		/* longer lines are skipped */
#define RESOLV_CONF		"/etc/resolv.conf"
#define LOCAL_DNS_PORT		53

enum key_type {
	KT_BOOL = 0,	/* int field */
	KT_INT,		/* integer field of .size bytes, [.min, .max] */
	KT_FLOAT,	/* double */
	KT_STR,		/* char *, owned */
	KT_PATH,	/* char *, relative to the config file's directory */
	KT_HOSTPORT,	/* char *, "host:port" */
	KT_ENUM,	/* int-sized field: index of the value in .words */
	KT_STRLIST,	/* struct strlist */
	KT_DOMAINS,	/* struct strlist of host patterns, normalised */
	KT_CIDRS,	/* struct strlist of CIDRs */
	KT_DURATION,	/* unsigned seconds from a Go duration ("24h") */
	KT_SECTION,	/* nested mapping described by .child */
	KT_IGNORED,	/* pipelock key pipelock-fw does not implement */
	KT_CUSTOM,	/* .parse */
};

/* Flags. */
#define F_DEF0		0x01	/* <= 0 keeps the default (pipelock ApplyDefaults) */
#define F_NONEMPTY	0x02	/* list entries must not be empty */
#define F_STRICT_CIDR	0x04	/* no /0, no host bits set */
#define F_EMPTY_OK	0x08	/* "" allowed (host:port: off) */

/* Keys whose position later validation needs. */
enum mark_id {
	MK_NONE = 0,
	MK_MODE,
	MK_API_ALLOWLIST,
	MK_FETCH_LISTEN,
	MK_METRICS_LISTEN,
	MK_KS_API_LISTEN,
	MK_LOG_OUTPUT,
	MK_TLS_ENABLED,
	MK_SECRETS_FILE,
	MK_FW_MARK,
	MK_ROUTE_TABLE,
	MK_ENGINE_MARK,
	MK_TPROXY_PORT,
	MK_MAX,
};

struct loader;
struct key_spec;

typedef int (*key_parse_fn)(struct loader *, const struct key_spec *,
    yaml_node_t *, yaml_node_t *, const char *);

struct key_spec {
	const char		*name;
	enum key_type		 type;
	size_t			 off;
	size_t			 size;
	long long		 min, max;
	unsigned		 flags;
	const char *const	*words;
	const struct key_spec	*child;
	key_parse_fn		 parse;
	enum mark_id		 mark;	/* MK_NONE or the marks[] slot */
};

struct loader {
	const char	*name;		/* file name in messages */
	char		*dir;		/* for relative paths */
	yaml_document_t	*doc;
	struct config	*cfg;
	char		*err;
	size_t		 errlen;
	int		 loopback_set;
	yaml_mark_t	 marks[MK_MAX];
	int		 have_mark[MK_MAX];
	yaml_mark_t	*action_marks;	/* dlp.patterns[i].action, if given */
};

#define FLD(m)	.off = offsetof(struct config, m), \
		.size = sizeof(((struct config *)0)->m)

static void *
xcalloc(size_t n, size_t sz)
{
	void *p;

	if ((p = calloc(n ? n : 1, sz ? sz : 1)) == NULL)
		fatalx("config: out of memory");
	return p;
}

static void *
xreallocarray(void *p, size_t n, size_t sz)
{
	if ((p = reallocarray(p, n ? n : 1, sz)) == NULL)
		fatalx("config: out of memory");
	return p;
}

static char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		fatalx("config: out of memory");
	return p;
}

static void
sl_add(struct strlist *sl, const char *s)
{
	sl->v = xreallocarray(sl->v, sl->n + 1, sizeof(*sl->v));
	sl->v[sl->n++] = xstrdup(s);
}

static void
sl_clear(struct strlist *sl)
{
	size_t i;

	for (i = 0; i < sl->n; i++)
		free(sl->v[i]);
	free(sl->v);
	sl->v = NULL;
	sl->n = 0;
}

static void
sl_set(struct strlist *sl, const char *const *words)
{
	sl_clear(sl);
	for (; *words != NULL; words++)
		sl_add(sl, *words);
}

static int
sl_has(const struct strlist *sl, const char *s)
{
	size_t i;

	for (i = 0; i < sl->n; i++)
		if (strcmp(sl->v[i], s) == 0)
			return 1;
	return 0;
}

static void
str_set(char **dst, const char *s)
{
	free(*dst);
	*dst = s ? xstrdup(s) : NULL;
}

/* ---- messages ---------------------------------------------------------- */

static int __attribute__((format(printf, 4, 5)))
lerr(struct loader *l, const yaml_mark_t *m, const char *path,
    const char *fmt, ...)
{
	char msg[CONFIG_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (m != NULL)
		snprintf(l->err, l->errlen, "%s:%zu:%zu: %s%s%s", l->name,
		    m->line + 1, m->column + 1, path, *path ? ": " : "", msg);
	else
		snprintf(l->err, l->errlen, "%s: %s%s%s", l->name, path,
		    *path ? ": " : "", msg);
	return -1;
}

static void __attribute__((format(printf, 2, 3)))
lwarn(struct loader *l, const char *fmt, ...)
{
	char msg[CONFIG_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!sl_has(&l->cfg->warnings, msg))
		sl_add(&l->cfg->warnings, msg);
}

/* A bad value as it appears in messages: quoted, bounded, printable. */
static const char *
quote(yaml_node_t *n, char *buf, size_t len)
{
	const unsigned char *s;
	size_t i, o = 0, slen;

	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	s = n->data.scalar.value;
	slen = n->data.scalar.length;
	buf[o++] = '\'';
	for (i = 0; i < slen && o + 8 < len && i < CONFIG_QUOTE_MAX; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			buf[o++] = s[i];
		else
			o += snprintf(buf + o, len - o, "\\x%02x", s[i]);
	}
	if (i < slen)
		o += snprintf(buf + o, len - o, "...");
	snprintf(buf + o, len - o, "'");
	return buf;
}

#define Q(n)	quote((n), qbuf, sizeof(qbuf))

/* Key paths are bounded: a deeper or longer one is cut (messages only). */
static void
path_join(char *dst, size_t len, const char *path, const char *key)
{
	if (snprintf(dst, len, "%s%s%s", path, *path ? "." : "", key) < 0)
		dst[0] = '\0';
}

static void
path_index(char *dst, size_t len, const char *path, size_t i)
{
	if (snprintf(dst, len, "%s[%zu]", path, i) < 0)
		dst[0] = '\0';
}

/* Levenshtein distance, bounded inputs (keys are short). */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[64], prev, tmp;

	if (la >= 63 || lb >= 63)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (tmp + 1 < row[j])
				row[j] = tmp + 1;
			prev = tmp;
		}
	}
	return row[lb];
}

static int
unknown_key(struct loader *l, const struct key_spec *specs, yaml_node_t *k,
    const char *path, const char *key)
{
	const char *best = NULL;
	size_t d, bestd = SIZE_MAX, limit;
	char qbuf[CONFIG_QUOTE_MAX * 4 + 16];

	for (; specs->name != NULL; specs++) {
		d = edit_distance(key, specs->name);
		if (d < bestd) {
			bestd = d;
			best = specs->name;
		}
	}
	limit = strlen(key) / 3 > 2 ? strlen(key) / 3 : 2;
	if (best != NULL && bestd <= limit)
		return lerr(l, &k->start_mark, path,
		    "unknown key %s (did you mean '%s'?)", Q(k), best);
	return lerr(l, &k->start_mark, path, "unknown key %s", Q(k));
}

/* ---- scalars ----------------------------------------------------------- */

static const char *
sval(yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static int
is_plain(yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE &&
	    n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static int
is_null(yaml_node_t *n)
{
	const char *s;

	if (!is_plain(n))
		return 0;
	s = sval(n);
	return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* A scalar with an embedded NUL cannot be a C string. */
static int
scalar_ok(struct loader *l, yaml_node_t *k, yaml_node_t *n, const char *path)
{
	if (n->type != YAML_SCALAR_NODE)
		return lerr(l, &k->start_mark, path,
		    "expected a scalar, got %s",
		    n->type == YAML_SEQUENCE_NODE ? "a list" : "a mapping");
	if (strlen(sval(n)) != n->data.scalar.length)
		return lerr(l, &k->start_mark, path,
		    "value contains a NUL character");
	return 0;
}

static int
parse_bool(yaml_node_t *n, int *out)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes",
	    "Yes", "YES", "on", "On", "ON", NULL };
	static const char *const no[] = { "false", "False", "FALSE", "no",
	    "No", "NO", "off", "Off", "OFF", NULL };
	size_t i;

	if (!is_plain(n))
		return -1;
	for (i = 0; yes[i] != NULL; i++)
		if (strcmp(sval(n), yes[i]) == 0)
			return *out = 1, 0;
	for (i = 0; no[i] != NULL; i++)
		if (strcmp(sval(n), no[i]) == 0)
			return *out = 0, 0;
	return -1;
}

/* YAML 1.2 integers: decimal, 0x, 0o, 0b; an optional sign. */
static int
parse_ll(const char *s, long long *out)
{
	int neg = 0, base = 10;
	unsigned long long v;
	char *end;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, s += 2;
	else if (s[0] == '0' && s[1] == 'o')
		base = 8, s += 2;
	else if (s[0] == '0' && s[1] == 'b')
		base = 2, s += 2;
	if (!isalnum((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno != 0 || *end != '\0' || v > (unsigned long long)LLONG_MAX)
		return -1;
	*out = neg ? -(long long)v : (long long)v;
	return 0;
}

static int
parse_int(yaml_node_t *n, long long *out)
{
	if (!is_plain(n))
		return -1;
	return parse_ll(sval(n), out);
}

static int
parse_float(yaml_node_t *n, double *out)
{
	char *end;
	double d;

	if (!is_plain(n) || *sval(n) == '\0')
		return -1;
	errno = 0;
	d = strtod(sval(n), &end);
	if (errno != 0 || *end != '\0' || !isfinite(d))
		return -1;
	*out = d;
	return 0;
}

static void
store_int(void *field, size_t size, long long v)
{
	switch (size) {
	case 1: *(uint8_t *)field = (uint8_t)v; break;
	case 2: *(uint16_t *)field = (uint16_t)v; break;
	case 4: *(uint32_t *)field = (uint32_t)v; break;
	default: *(uint64_t *)field = (uint64_t)v; break;
	}
}

/* ---- value validators -------------------------------------------------- */

/* "a.b.c.d/n" or "x::/n"; strict: no /0, no host bits (ssrf.ip_allowlist). */
static int
cidr_check(const char *s, int strict, const char **why)
{
	unsigned char addr[16];
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash;
	long long bits;
	int af, maxbits, i;

	*why = "not a CIDR (want ADDRESS/PREFIX, e.g. 10.0.0.0/8)";
	if ((slash = strchr(s, '/')) == NULL ||
	    (size_t)(slash - s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, slash - s);
	buf[slash - s] = '\0';
	af = strchr(buf, ':') ? AF_INET6 : AF_INET;
	maxbits = af == AF_INET6 ? 128 : 32;
	if (inet_pton(af, buf, addr) != 1)
		return -1;
	if (!isdigit((unsigned char)slash[1]) || parse_ll(slash + 1, &bits) ||
	    bits < 0 || bits > maxbits) {
		*why = "prefix length out of range";
		return -1;
	}
	if (!strict)
		return 0;
	if (bits == 0) {
		*why = "a /0 range is refused";
		return -1;
	}
	for (i = bits; i < maxbits; i++)
		if (addr[i / 8] & (0x80 >> (i % 8))) {
			*why = "host bits set (use the network address)";
			return -1;
		}
	return 0;
}

/* "host:port", "[v6]:port", ":port"; port 1-65535.  Returns the port. */
static int
hostport_check(const char *s, const char **why)
{
	const char *colon;
	long long port;

	*why = "not host:port";
	if (s[0] == '[') {
		if ((colon = strstr(s, "]:")) == NULL)
			return -1;
		colon++;
	} else if ((colon = strrchr(s, ':')) == NULL ||
	    memchr(s, ':', colon - s) != NULL)
		return -1;
	if (!isdigit((unsigned char)colon[1]) || parse_ll(colon + 1, &port) ||
	    port < 1 || port > 65535) {
		*why = "port out of range 1-65535";
		return -1;
	}
	return (int)port;
}

/*
 * pipelock's ValidateTrustedDomains: no scheme, path or port, no bare "*",
 * no "*.tld", wildcards only as a leading "*.".  Normalises in place.
 */
static int
domain_check(char *s, const char **why)
{
	size_t len, i;
	char *p;

	while (isspace((unsigned char)*s))
		memmove(s, s + 1, strlen(s));
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	if (len > 0 && s[len - 1] == '.')
		s[--len] = '\0';
	for (i = 0; i < len; i++)
		s[i] = tolower((unsigned char)s[i]);
	*why = "empty entry";
	if (len == 0)
		return -1;
	*why = "must be a host name (no scheme, path or port)";
	if (strstr(s, "://") || strchr(s, '/') || strchr(s, ':'))
		return -1;
	*why = "a bare '*' would match everything";
	if (strcmp(s, "*") == 0)
		return -1;
	p = strncmp(s, "*.", 2) == 0 ? s + 2 : s;
	*why = "wildcards are only allowed as a leading '*.'";
	if (strpbrk(p, "*?[]"))
		return -1;
	*why = "a wildcard must name more than a top-level domain";
	if (p != s && strchr(p, '.') == NULL)
		return -1;
	return 0;
}

/* ---- generic values ---------------------------------------------------- */

static int load_section(struct loader *, const struct key_spec *,
    yaml_node_t *, yaml_node_t *, const char *);

static yaml_node_t *
node(struct loader *l, int id)
{
	return yaml_document_get_node(l->doc, id);
}

static int
load_list(struct loader *l, const struct key_spec *sp, yaml_node_t *k,
    yaml_node_t *v, const char *path, struct strlist *out)
{
	char sub[CONFIG_PATH_MAX], qbuf[CONFIG_QUOTE_MAX * 4 + 16];
	struct strlist sl = { NULL, 0 };
	yaml_node_item_t *it;
	yaml_node_t *e;
	const char *why;
	char *s;
	size_t i = 0;

	if (v->type != YAML_SEQUENCE_NODE)
		return lerr(l, &k->start_mark, path, "expected a list, got %s",
		    Q(v));
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++, i++) {
		e = node(l, *it);
		path_index(sub, sizeof(sub), path, i);
		if (scalar_ok(l, e, e, sub) == -1)
			goto fail;
		s = xstrdup(sval(e));
		why = NULL;
		if (sp->type == KT_DOMAINS && domain_check(s, &why) == -1)
			;
		else if (sp->type == KT_CIDRS &&
		    cidr_check(s, sp->flags & F_STRICT_CIDR, &why) == -1)
			;
		else if ((sp->flags & F_NONEMPTY) && *s == '\0')
			why = "empty entry";
		else
			why = NULL;
		if (why != NULL) {
			free(s);
			lerr(l, &e->start_mark, sub, "%s: %s", Q(e), why);
			goto fail;
		}
		sl.v = xreallocarray(sl.v, sl.n + 1, sizeof(*sl.v));
		sl.v[sl.n++] = s;
	}
	sl_clear(out);
	*out = sl;
	return 0;
fail:
	sl_clear(&sl);
	return -1;
}

static char *
path_resolve(struct loader *l, const char *p)
{
	char *out;

	if (*p == '\0' || *p == '/' || l->dir == NULL)
		return xstrdup(p);
	if (asprintf(&out, "%s/%s", l->dir, p) == -1)
		fatalx("config: out of memory");
	return out;
}

static int
load_duration(struct loader *l, yaml_node_t *k, yaml_node_t *v,
    const char *path, unsigned *out)
{
	static const struct { const char *u; double secs; } units[] = {
		{ "ns", 1e-9 }, { "us", 1e-6 }, { "µs", 1e-6 }, { "ms", 1e-3 },
		{ "s", 1 }, { "m", 60 }, { "h", 3600 },
	};
	char qbuf[CONFIG_QUOTE_MAX * 4 + 16];
	const char *s = sval(v);
	double total = 0, num;
	char *end;
	size_t i, best, blen;

	if (*s == '\0')
		return 0;
	while (*s != '\0') {
		if (!isdigit((unsigned char)*s) && *s != '.')
			goto bad;
		num = strtod(s, &end);
		s = end;
		best = SIZE_MAX;
		blen = 0;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strncmp(s, units[i].u, strlen(units[i].u)) == 0 &&
			    strlen(units[i].u) > blen) {
				best = i;
				blen = strlen(units[i].u);
			}
		if (best == SIZE_MAX)
			goto bad;
		total += num * units[best].secs;
		s += blen;
	}
	if (total < 1 || total > UINT_MAX)
		return lerr(l, &k->start_mark, path,
		    "%s: must be at least 1s", Q(v));
	*out = (unsigned)total;
	return 0;
bad:
	return lerr(l, &k->start_mark, path,
	    "%s: not a duration (e.g. 24h, 90m, 30s)", Q(v));
}

static void
mark_key(struct loader *l, enum mark_id id, yaml_node_t *k)
{
	l->marks[id] = k->start_mark;
	l->have_mark[id] = 1;
}

/* Where key id was in the file, or NULL when it was not given. */
static const yaml_mark_t *
mark_of(const struct loader *l, enum mark_id id)
{
	return l->have_mark[id] ? &l->marks[id] : NULL;
}

static int
load_value(struct loader *l, const struct key_spec *sp, yaml_node_t *k,
    yaml_node_t *v, const char *path)
{
	char qbuf[CONFIG_QUOTE_MAX * 4 + 16], words[256];
	void *field = (char *)l->cfg + sp->off;
	const char *why;
	long long ll;
	double d;
	size_t i, o;
	int b;

	/* recorded even for null values: later checks point at the key */
	if (sp->mark != MK_NONE)
		mark_key(l, sp->mark, k);
	if (sp->type == KT_IGNORED) {
		lwarn(l, "%s: not implemented by pipelock-fw, ignored", path);
		return 0;
	}
	if (sp->type == KT_CUSTOM)
		return sp->parse(l, sp, k, v, path);
	if (sp->type == KT_SECTION)
		return load_section(l, sp->child, k, v, path);
	/* null (or an omitted value) keeps the default: fail-closed bools */
	if (is_null(v))
		return 0;
	switch (sp->type) {
	case KT_STRLIST:
	case KT_DOMAINS:
	case KT_CIDRS:
		return load_list(l, sp, k, v, path, field);
	default:
		break;
	}
	if (scalar_ok(l, k, v, path) == -1)
		return -1;
	switch (sp->type) {
	case KT_BOOL:
		if (parse_bool(v, &b) == -1)
			return lerr(l, &k->start_mark, path,
			    "expected true or false, got %s", Q(v));
		*(int *)field = b;
		return 0;
	case KT_INT:
		if (parse_int(v, &ll) == -1)
			return lerr(l, &k->start_mark, path,
			    "expected an integer, got %s", Q(v));
		if ((sp->flags & F_DEF0) && ll <= 0)
			return 0;
		if (ll < sp->min || ll > sp->max)
			return lerr(l, &k->start_mark, path,
			    "%s out of range %lld-%lld", Q(v), sp->min,
			    sp->max);
		store_int(field, sp->size, ll);
		return 0;
	case KT_FLOAT:
		if (parse_float(v, &d) == -1)
			return lerr(l, &k->start_mark, path,
			    "expected a number, got %s", Q(v));
		if ((sp->flags & F_DEF0) && d <= 0)
			return 0;
		*(double *)field = d;
		return 0;
	case KT_STR:
		/* pipelock's ApplyDefaults: "" takes the default */
		if (*sval(v) != '\0')
			str_set(field, sval(v));
		return 0;
	case KT_PATH:
		if (*sval(v) == '\0')
			return 0;
		free(*(char **)field);
		*(char **)field = path_resolve(l, sval(v));
		return 0;
	case KT_HOSTPORT:
		if (*sval(v) == '\0') {
			if (sp->flags & F_EMPTY_OK)
				str_set(field, NULL);
			return 0;
		}
		if (hostport_check(sval(v), &why) == -1)
			return lerr(l, &k->start_mark, path, "%s: %s", Q(v),
			    why);
		str_set(field, sval(v));
		return 0;
	case KT_ENUM:
		if (*sval(v) == '\0')
			return 0;
		for (i = 0; sp->words[i] != NULL; i++)
			if (strcmp(sval(v), sp->words[i]) == 0) {
				store_int(field, sp->size, (long long)i);
				return 0;
			}
		for (i = 0, o = 0; sp->words[i] != NULL && o < sizeof(words);
		    i++)
			o += snprintf(words + o, sizeof(words) - o, "%s%s",
			    i ? ", " : "", sp->words[i]);
		return lerr(l, &k->start_mark, path,
		    "invalid value %s (expected one of: %s)", Q(v), words);
	case KT_DURATION:
		return load_duration(l, k, v, path, field);
	default:
		return lerr(l, &k->start_mark, path, "internal: bad key type");
	}
}

static int
load_section(struct loader *l, const struct key_spec *specs, yaml_node_t *k,
    yaml_node_t *map, const char *path)
{
	char sub[CONFIG_PATH_MAX], qbuf[CONFIG_QUOTE_MAX * 4 + 16];
	yaml_node_pair_t *p, *q;
	const struct key_spec *sp;
	yaml_node_t *kn, *vn, *other;
	const char *key;

	if (is_null(map))
		return 0;
	if (map->type != YAML_MAPPING_NODE)
		return lerr(l, &k->start_mark, path,
		    "expected a mapping, got %s", Q(map));
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		kn = node(l, p->key);
		vn = node(l, p->value);
		if (kn->type != YAML_SCALAR_NODE ||
		    strlen(sval(kn)) != kn->data.scalar.length)
			return lerr(l, &kn->start_mark, path,
			    "keys must be strings");
		key = sval(kn);
		path_join(sub, sizeof(sub), path, key);
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			other = node(l, q->key);
			if (other->type == YAML_SCALAR_NODE &&
			    strcmp(sval(other), key) == 0)
				return lerr(l, &kn->start_mark, sub,
				    "duplicate key (first at line %zu)",
				    other->start_mark.line + 1);
		}
		for (sp = specs; sp->name != NULL; sp++)
			if (strcmp(sp->name, key) == 0)
				break;
		if (sp->name == NULL) {
			/* MCP sections come and go; none is a network knob */
			if (*path == '\0' && strncmp(key, "mcp_", 4) == 0) {
				lwarn(l, "%s: not implemented by pipelock-fw, "
				    "ignored", sub);
				continue;
			}
			return unknown_key(l, specs, kn, sub, key);
		}
		if (load_value(l, sp, kn, vn, sub) == -1)
			return -1;
	}
	return 0;
}

/* ---- custom keys ------------------------------------------------------- */

static int
dlp_action(struct loader *l, const struct key_spec *sp, yaml_node_t *k,
    yaml_node_t *v, const char *path)
{
	char qbuf[CONFIG_QUOTE_MAX * 4 + 16];

	if (is_null(v) || (v->type == YAML_SCALAR_NODE && *sval(v) == '\0'))
		return 0;
	return lerr(l, &k->start_mark, path,
	    "%s: dlp.action is reserved by pipelock and must be empty "
	    "(set action per pattern)", Q(v));
}

static const char *const validator_words[] = { "", "luhn", "mod97", "aba",
    "wif", NULL };

static int
dlp_pattern(struct loader *l, yaml_node_t *item, const char *path,
    struct scanner_pattern *pat, struct config_mark *mark,
    yaml_mark_t *action_mark)
{
	static const struct key_spec pkeys[] = {
		{ .name = "name" }, { .name = "regex" }, { .name = "severity" },
		{ .name = "validator" }, { .name = "exempt_domains" },
		{ .name = "action" }, { .name = NULL },
	};
	static const struct key_spec domains = { .type = KT_DOMAINS };
	char sub[CONFIG_PATH_MAX], qbuf[CONFIG_QUOTE_MAX * 4 + 16];
	yaml_node_pair_t *p, *q;
	yaml_node_t *kn, *vn;
	const char *key;
	size_t i;

	if (item->type != YAML_MAPPING_NODE)
		return lerr(l, &item->start_mark, path,
		    "expected a mapping with name and regex, got %s", Q(item));
	for (p = item->data.mapping.pairs.start;
	    p < item->data.mapping.pairs.top; p++) {
		kn = node(l, p->key);
		vn = node(l, p->value);
		if (kn->type != YAML_SCALAR_NODE)
			return lerr(l, &kn->start_mark, path,
			    "keys must be strings");
		key = sval(kn);
		path_join(sub, sizeof(sub), path, key);
		for (q = item->data.mapping.pairs.start; q < p; q++)
			if (node(l, q->key)->type == YAML_SCALAR_NODE &&
			    strcmp(sval(node(l, q->key)), key) == 0)
				return lerr(l, &kn->start_mark, sub,
				    "duplicate key");
		for (i = 0; pkeys[i].name != NULL; i++)
			if (strcmp(pkeys[i].name, key) == 0)
				break;
		if (pkeys[i].name == NULL)
			return unknown_key(l, pkeys, kn, sub, key);
		if (strcmp(key, "exempt_domains") == 0) {
			if (is_null(vn))
				continue;
			if (load_list(l, &domains, kn, vn, sub,
			    &pat->exempt_domains) == -1)
				return -1;
			continue;
		}
		if (is_null(vn))
			continue;
		if (scalar_ok(l, kn, vn, sub) == -1)
			return -1;
		if (strcmp(key, "name") == 0)
			str_set(&pat->name, sval(vn));
		else if (strcmp(key, "regex") == 0) {
			str_set(&pat->regex, sval(vn));
			mark->line = kn->start_mark.line + 1;
			mark->col = kn->start_mark.column + 1;
		} else if (strcmp(key, "severity") == 0)
			str_set(&pat->severity, sval(vn));
		else if (strcmp(key, "validator") == 0) {
			for (i = 0; validator_words[i] != NULL; i++)
				if (strcmp(sval(vn), validator_words[i]) == 0)
					break;
			if (validator_words[i] == NULL)
				return lerr(l, &kn->start_mark, sub,
				    "invalid validator %s (expected one of: "
				    "luhn, mod97, aba, wif)", Q(vn));
			pat->validator = (enum scan_validator)i;
		} else if (strcmp(key, "action") == 0) {
			*action_mark = kn->start_mark;
			if (strcmp(sval(vn), "warn") == 0)
				pat->warn_only = 1;
			else if (*sval(vn) != '\0')
				return lerr(l, &kn->start_mark, sub,
				    "invalid action %s (only 'warn' is "
				    "allowed)", Q(vn));
		}
	}
	if (pat->name == NULL || *pat->name == '\0')
		return lerr(l, &item->start_mark, path,
		    "missing required key 'name'");
	if (pat->regex == NULL || *pat->regex == '\0')
		return lerr(l, &item->start_mark, path,
		    "missing required key 'regex'");
	if (pat->severity == NULL)
		pat->severity = xstrdup("");
	return 0;
}

static void
patterns_clear(struct scanner_config *sc)
{
	size_t i;

	for (i = 0; i < sc->npatterns; i++) {
		free(sc->patterns[i].name);
		free(sc->patterns[i].regex);
		free(sc->patterns[i].severity);
		sl_clear(&sc->patterns[i].exempt_domains);
	}
	free(sc->patterns);
	sc->patterns = NULL;
	sc->npatterns = 0;
}

static int
dlp_patterns(struct loader *l, const struct key_spec *sp, yaml_node_t *k,
    yaml_node_t *v, const char *path)
{
	struct scanner_config *sc = &l->cfg->scanner;
	char sub[CONFIG_PATH_MAX], qbuf[CONFIG_QUOTE_MAX * 4 + 16];
	yaml_node_item_t *it;
	size_t n, i;

	if (is_null(v))
		return 0;
	if (v->type != YAML_SEQUENCE_NODE)
		return lerr(l, &k->start_mark, path, "expected a list, got %s",
		    Q(v));
	patterns_clear(sc);
	free(l->cfg->dlp_pattern_marks);
	free(l->action_marks);
	n = v->data.sequence.items.top - v->data.sequence.items.start;
	sc->patterns = xcalloc(n, sizeof(*sc->patterns));
	l->cfg->dlp_pattern_marks = xcalloc(n, sizeof(struct config_mark));
	l->action_marks = xcalloc(n, sizeof(*l->action_marks));
	for (it = v->data.sequence.items.start, i = 0;
	    it < v->data.sequence.items.top; it++, i++) {
		path_index(sub, sizeof(sub), path, i);
		sc->npatterns = i + 1;
		if (dlp_pattern(l, node(l, *it), sub, &sc->patterns[i],
		    &l->cfg->dlp_pattern_marks[i], &l->action_marks[i]) == -1)
			return -1;
	}
	return 0;
}

static int
seed_min_words(struct loader *l, const struct key_spec *sp, yaml_node_t *k,
    yaml_node_t *v, const char *path)
{
	char qbuf[CONFIG_QUOTE_MAX * 4 + 16];
	long long n;

	if (is_null(v))
		return 0;
	if (scalar_ok(l, k, v, path) == -1)
		return -1;
	if (parse_int(v, &n) == -1)
		return lerr(l, &k->start_mark, path,
		    "expected an integer, got %s", Q(v));
	if (n <= 0)
		return 0;
	if (n != 12 && n != 15 && n != 18 && n != 21 && n != 24)
		return lerr(l, &k->start_mark, path,
		    "%s: must be 12, 15, 18, 21 or 24", Q(v));
	l->cfg->scanner.seed_min_words = (int)n;
	return 0;
}

static int
logging_output(struct loader *l, const struct key_spec *sp, yaml_node_t *k,
    yaml_node_t *v, const char *path)
{
	char qbuf[CONFIG_QUOTE_MAX * 4 + 16];
	const char *s;

	if (is_null(v))
		return 0;
	if (scalar_ok(l, k, v, path) == -1)
		return -1;
	s = sval(v);
	if (*s == '\0' || strcmp(s, "stdout") == 0) {
		l->cfg->logging.to_stdout = 1;
		l->cfg->logging.to_file = 0;
	} else if (strcmp(s, "file") == 0) {
		l->cfg->logging.to_stdout = 0;
		l->cfg->logging.to_file = 1;
	} else if (strcmp(s, "both") == 0) {
		l->cfg->logging.to_stdout = 1;
		l->cfg->logging.to_file = 1;
	} else
		return lerr(l, &k->start_mark, path,
		    "invalid value %s (expected one of: stdout, file, both)",
		    Q(v));
	return 0;
}

/* firewall.agent_users / agent_groups: names or numeric ids. */
static int
agent_ids(struct loader *l, const struct key_spec *sp, yaml_node_t *k,
    yaml_node_t *v, const char *path)
{
	struct firewall_config *fw = &l->cfg->fw;
	int groups = strcmp(sp->name, "agent_groups") == 0;
	char sub[CONFIG_PATH_MAX], qbuf[CONFIG_QUOTE_MAX * 4 + 16];
	yaml_node_item_t *it;
	yaml_node_t *e;
	long long id;
	uint32_t id32;
	size_t i, j, *n = groups ? &fw->n_agent_gids : &fw->n_agent_uids;

	if (is_null(v))
		return 0;
	if (v->type != YAML_SEQUENCE_NODE)
		return lerr(l, &k->start_mark, path,
		    "expected a list of %s names or ids, got %s",
		    groups ? "group" : "user", Q(v));
	*n = 0;
	for (it = v->data.sequence.items.start, i = 0;
	    it < v->data.sequence.items.top; it++, i++) {
		e = node(l, *it);
		path_index(sub, sizeof(sub), path, i);
		if (scalar_ok(l, e, e, sub) == -1)
			return -1;
		if (*sval(e) == '\0')
			return lerr(l, &e->start_mark, sub, "empty entry");
		if (config_id_parse(sval(e), groups, &id32) == -1) {
			if (parse_ll(sval(e), &id) == 0)
				return lerr(l, &e->start_mark, sub,
				    "%s: id out of range", Q(e));
			return lerr(l, &e->start_mark, sub, "unknown %s %s",
			    groups ? "group" : "user", Q(e));
		}
		id = id32;
		/*
		 * Root can remove the firewall, and the engine itself runs
		 * as root:root: steering uid or gid 0 would trap the engine's
		 * own upstream connections.
		 */
		if (id == 0)
			return lerr(l, &e->start_mark, sub,
			    "%s is %s 0 (root): refused, the agent must not "
			    "run as root", Q(e), groups ? "gid" : "uid");
		for (j = 0; j < *n; j++)
			if ((groups ? fw->agent_gids[j] :
			    fw->agent_uids[j]) == (id_t)id)
				break;
		if (j < *n)
			continue;
		if (*n >= FW_MAX_AGENTS)
			return lerr(l, &e->start_mark, sub,
			    "too many entries (at most %d)", FW_MAX_AGENTS);
		if (groups)
			fw->agent_gids[(*n)++] = (gid_t)id;
		else
			fw->agent_uids[(*n)++] = (uid_t)id;
	}
	return 0;
}

static int
dns_servers_key(struct loader *l, const struct key_spec *sp, yaml_node_t *k,
    yaml_node_t *v, const char *path)
{
	char sub[CONFIG_PATH_MAX], qbuf[CONFIG_QUOTE_MAX * 4 + 16];
	unsigned char addr[16];
	struct strlist sl = { NULL, 0 };
	yaml_node_item_t *it;
	yaml_node_t *e;
	size_t i;

	if (is_null(v))
		return 0;
	if (v->type != YAML_SEQUENCE_NODE)
		return lerr(l, &k->start_mark, path, "expected a list, got %s",
		    Q(v));
	for (it = v->data.sequence.items.start, i = 0;
	    it < v->data.sequence.items.top; it++, i++) {
		e = node(l, *it);
		path_index(sub, sizeof(sub), path, i);
		if (scalar_ok(l, e, e, sub) == -1)
			goto fail;
		if (inet_pton(AF_INET, sval(e), addr) != 1 &&
		    inet_pton(AF_INET6, sval(e), addr) != 1) {
			lerr(l, &e->start_mark, sub,
			    "%s: not an IP address", Q(e));
			goto fail;
		}
		sl_add(&sl, sval(e));
	}
	sl_clear(&l->cfg->fw.dns_servers);
	l->cfg->fw.dns_servers = sl;
	return 0;
fail:
	sl_clear(&sl);
	return -1;
}

static int
loopback_ports_key(struct loader *l, const struct key_spec *sp,
    yaml_node_t *k, yaml_node_t *v, const char *path)
{
	struct firewall_config *fw = &l->cfg->fw;
	char sub[CONFIG_PATH_MAX], qbuf[CONFIG_QUOTE_MAX * 4 + 16];
	yaml_node_item_t *it;
	yaml_node_t *e;
	long long port;
	size_t i, j;

	if (is_null(v))
		return 0;
	l->loopback_set = 1;
	fw->n_loopback_ports = 0;
	fw->loopback_all = 0;
	if (v->type == YAML_SCALAR_NODE && strcmp(sval(v), "all") == 0) {
		fw->loopback_all = 1;
		return 0;
	}
	if (v->type != YAML_SEQUENCE_NODE)
		return lerr(l, &k->start_mark, path,
		    "expected a list of ports or 'all', got %s", Q(v));
	for (it = v->data.sequence.items.start, i = 0;
	    it < v->data.sequence.items.top; it++, i++) {
		e = node(l, *it);
		path_index(sub, sizeof(sub), path, i);
		if (scalar_ok(l, e, e, sub) == -1)
			return -1;
		if (parse_int(e, &port) == -1 || port < 1 || port > 65535)
			return lerr(l, &e->start_mark, sub,
			    "%s: not a port (1-65535)", Q(e));
		for (j = 0; j < fw->n_loopback_ports; j++)
			if (fw->loopback_ports[j] == port)
				break;
		if (j < fw->n_loopback_ports)
			continue;
		if (fw->n_loopback_ports >= FW_MAX_LOOPBACK_PORTS)
			return lerr(l, &e->start_mark, sub,
			    "too many ports (at most %d; use 'all')",
			    FW_MAX_LOOPBACK_PORTS);
		fw->loopback_ports[fw->n_loopback_ports++] = (uint16_t)port;
	}
	return 0;
}

/* ---- the schema -------------------------------------------------------- */

static const char *const words_warn_block[] = { "warn", "block", NULL };
static const char *const words_mode[] = { "balanced", "strict", "audit",
    NULL };
static const char *const words_header_mode[] = { "sensitive", "all", NULL };
static const char *const words_log_format[] = { "text", "json", NULL };
static const char *const words_fail_mode[] = { "open", "closed", NULL };
static const char *const words_dns[] = { "inspect", "allow", "block", NULL };
static const char *const words_quic[] = { "block", "inspect", NULL };
static const char *const words_other_tcp[] = { "block", "allow", NULL };

#define K_IGN(n)	{ .name = (n), .type = KT_IGNORED }
#define K_CUST(n, fn)	{ .name = (n), .type = KT_CUSTOM, .parse = (fn) }
#define K_BOOL(n, m)	{ .name = (n), .type = KT_BOOL, FLD(m) }
#define K_DEF0(n, m)	{ .name = (n), .type = KT_INT, FLD(m), .min = 1, \
			  .max = INT_MAX, .flags = F_DEF0 }
#define K_INT(n, m, lo, hi) { .name = (n), .type = KT_INT, FLD(m), \
			  .min = (lo), .max = (hi) }
#define K_ENUM(n, m, w)	{ .name = (n), .type = KT_ENUM, FLD(m), .words = (w) }
#define K_STR(n, m)	{ .name = (n), .type = KT_STR, FLD(m) }
#define K_PATH(n, m)	{ .name = (n), .type = KT_PATH, FLD(m) }
#define K_LIST(n, m, t, f) { .name = (n), .type = (t), FLD(m), .flags = (f) }
#define K_SECT(n, c)	{ .name = (n), .type = KT_SECTION, .child = (c) }
#define K_END		{ .name = NULL }

static const struct key_spec monitoring_keys[] = {
	{ .name = "max_url_length", .type = KT_INT,
	  FLD(scanner.max_url_length), .min = 1, .max = INT_MAX,
	  .flags = F_DEF0 },
	{ .name = "entropy_threshold", .type = KT_FLOAT,
	  FLD(scanner.entropy_threshold), .flags = F_DEF0 },
	{ .name = "subdomain_entropy_threshold", .type = KT_FLOAT,
	  FLD(scanner.subdomain_entropy_threshold), .flags = F_DEF0 },
	K_DEF0("max_requests_per_minute", fetch_proxy.max_requests_per_minute),
	K_INT("max_data_per_minute", fetch_proxy.max_data_per_minute, 0,
	    LLONG_MAX),
	K_LIST("blocklist", scanner.blocklist, KT_STRLIST, F_NONEMPTY),
	K_LIST("subdomain_entropy_exclusions",
	    scanner.subdomain_entropy_exclusions, KT_STRLIST, F_NONEMPTY),
	K_END
};

static const struct key_spec fetch_proxy_keys[] = {
	{ .name = "listen", .type = KT_HOSTPORT, FLD(fetch_proxy.listen),
	  .mark = MK_FETCH_LISTEN },
	K_DEF0("timeout_seconds", fetch_proxy.timeout_seconds),
	K_DEF0("max_response_mb", fetch_proxy.max_response_mb),
	K_STR("user_agent", fetch_proxy.user_agent),
	K_SECT("monitoring", monitoring_keys),
	K_END
};

static const struct key_spec forward_proxy_keys[] = {
	K_BOOL("enabled", forward_proxy.enabled),
	K_DEF0("max_tunnel_seconds", forward_proxy.max_tunnel_seconds),
	K_DEF0("idle_timeout_seconds", forward_proxy.idle_timeout_seconds),
	K_BOOL("sni_verification", forward_proxy.sni_verification),
	K_IGN("redirect_websocket_hosts"),
	K_END
};

static const struct key_spec tls_keys[] = {
	{ .name = "enabled", .type = KT_BOOL, FLD(tls.enabled),
	  .mark = MK_TLS_ENABLED },
	K_PATH("ca_cert", tls.ca_cert),
	K_PATH("ca_key", tls.ca_key),
	K_PATH("upstream_ca_file", tls.upstream_ca_file),
	K_LIST("passthrough_domains", tls.passthrough_domains, KT_STRLIST,
	    F_NONEMPTY),
	{ .name = "cert_ttl", .type = KT_DURATION,
	  FLD(tls.cert_ttl_seconds) },
	K_DEF0("cert_cache_size", tls.cert_cache_size),
	{ .name = "max_response_bytes", .type = KT_INT,
	  FLD(tls.max_response_bytes), .min = 1, .max = LLONG_MAX,
	  .flags = F_DEF0 },
	K_END
};

static const struct key_spec request_body_keys[] = {
	K_BOOL("enabled", request_body.enabled),
	K_ENUM("action", request_body.action_block, words_warn_block),
	{ .name = "max_body_bytes", .type = KT_INT,
	  FLD(request_body.max_body_bytes), .min = 1, .max = LLONG_MAX,
	  .flags = F_DEF0 },
	K_BOOL("scan_headers", request_body.scan_headers),
	K_ENUM("header_mode", request_body.header_mode_all, words_header_mode),
	K_LIST("sensitive_headers", request_body.sensitive_headers, KT_STRLIST,
	    F_NONEMPTY),
	K_LIST("ignore_headers", request_body.ignore_headers, KT_STRLIST,
	    F_NONEMPTY),
	K_END
};

static const struct key_spec dlp_keys[] = {
	K_BOOL("scan_env", dlp_scan_env),
	{ .name = "secrets_file", .type = KT_PATH, FLD(dlp_secrets_file),
	  .mark = MK_SECRETS_FILE },
	{ .name = "min_env_secret_length", .type = KT_INT,
	  FLD(dlp_min_env_secret_length), .min = 1, .max = SECRETS_MAX_LINE,
	  .flags = F_DEF0 },
	K_BOOL("include_defaults", scanner.dlp_include_defaults),
	K_CUST("patterns", dlp_patterns),
	K_CUST("action", dlp_action),
	K_END
};

static const struct key_spec seed_keys[] = {
	K_BOOL("enabled", scanner.seed_enabled),
	K_CUST("min_words", seed_min_words),
	K_BOOL("verify_checksum", scanner.seed_verify_checksum),
	K_END
};

static const struct key_spec kill_switch_keys[] = {
	K_BOOL("enabled", kill_switch.enabled),
	K_STR("sentinel_file", kill_switch.sentinel_file),
	K_STR("message", kill_switch.message),
	K_BOOL("health_exempt", kill_switch.health_exempt),
	K_BOOL("metrics_exempt", kill_switch.metrics_exempt),
	K_BOOL("api_exempt", kill_switch.api_exempt),
	K_STR("api_token", kill_switch.api_token),
	{ .name = "api_listen", .type = KT_HOSTPORT,
	  FLD(kill_switch.api_listen), .flags = F_EMPTY_OK,
	  .mark = MK_KS_API_LISTEN },
	K_LIST("allowlist_ips", kill_switch.allowlist_ips, KT_CIDRS, 0),
	K_END
};

static const struct key_spec logging_keys[] = {
	K_ENUM("format", logging.json, words_log_format),
	{ .name = "output", .type = KT_CUSTOM, .parse = logging_output,
	  .mark = MK_LOG_OUTPUT },
	K_STR("file", logging.file),
	K_BOOL("include_allowed", logging.include_allowed),
	K_BOOL("include_blocked", logging.include_blocked),
	K_END
};

static const struct key_spec ssrf_keys[] = {
	K_LIST("ip_allowlist", scanner.ssrf_ip_allowlist, KT_CIDRS,
	    F_STRICT_CIDR),
	K_END
};

static const struct key_spec firewall_keys[] = {
	K_CUST("agent_users", agent_ids),
	K_CUST("agent_groups", agent_ids),
	{ .name = "tproxy_port", .type = KT_INT, FLD(fw.tproxy_port),
	  .min = 1, .max = 65535, .mark = MK_TPROXY_PORT },
	K_INT("queue_num", fw.queue_num, 0, 65535),
	{ .name = "mark", .type = KT_INT, FLD(fw.mark), .min = 1,
	  .max = UINT32_MAX, .mark = MK_FW_MARK },
	{ .name = "engine_mark", .type = KT_INT, FLD(fw.engine_mark),
	  .min = 1, .max = UINT32_MAX, .mark = MK_ENGINE_MARK },
	{ .name = "route_table", .type = KT_INT, FLD(fw.route_table),
	  .min = 1, .max = UINT32_MAX, .mark = MK_ROUTE_TABLE },
	K_INT("rule_priority", fw.rule_priority, 1, 32765),
	K_ENUM("fail_mode", fw.fail_closed, words_fail_mode),
	K_BOOL("ipv6", fw.ipv6),
	K_ENUM("dns", fw.dns, words_dns),
	K_CUST("dns_servers", dns_servers_key),
	K_ENUM("quic", fw.quic, words_quic),
	K_ENUM("other_tcp", fw.other_tcp, words_other_tcp),
	K_CUST("loopback_ports", loopback_ports_key),
	K_LIST("allow_ip_cidrs", fw.allow_ip_cidrs, KT_CIDRS, F_STRICT_CIDR),
	K_LIST("upgrade_allow_hosts", fw.upgrade_allow_hosts, KT_DOMAINS, 0),
	K_INT("max_conns_per_agent", fw.max_conns_per_agent, 1, 1000000),
	K_INT("max_conns_total", fw.max_conns_total, 1, 1000000),
	K_INT("idle_timeout_seconds", fw.idle_timeout_s, 1, 86400 * 7),
	K_INT("connect_timeout_seconds", fw.connect_timeout_s, 1, 3600),
	K_INT("first_bytes_timeout_ms", fw.first_bytes_timeout_ms, 1,
	    3600000),
	K_END
};

/*
 * Top level: pipelock's Config struct, every key.  KT_IGNORED rows are
 * pipelock features outside a transparent network firewall (MCP, agents,
 * receipts, response injection scanning, ...).
 */
static const struct key_spec top_keys[] = {
	K_DEF0("version", version),
	{ .name = "mode", .type = KT_ENUM, FLD(mode), .words = words_mode,
	  .mark = MK_MODE },
	K_BOOL("enforce", enforce),
	K_BOOL("explain_blocks", explain_blocks),
	{ .name = "api_allowlist", .type = KT_STRLIST,
	  FLD(scanner.api_allowlist), .flags = F_NONEMPTY,
	  .mark = MK_API_ALLOWLIST },
	K_LIST("internal", scanner.internal, KT_CIDRS, 0),
	K_LIST("trusted_domains", scanner.trusted_domains, KT_DOMAINS, 0),
	K_SECT("ssrf", ssrf_keys),
	{ .name = "metrics_listen", .type = KT_HOSTPORT, FLD(metrics_listen),
	  .flags = F_EMPTY_OK, .mark = MK_METRICS_LISTEN },
	K_SECT("fetch_proxy", fetch_proxy_keys),
	K_SECT("forward_proxy", forward_proxy_keys),
	K_SECT("tls_interception", tls_keys),
	K_SECT("request_body_scanning", request_body_keys),
	K_SECT("dlp", dlp_keys),
	K_SECT("seed_phrase_detection", seed_keys),
	K_SECT("kill_switch", kill_switch_keys),
	K_SECT("logging", logging_keys),
	K_SECT("firewall", firewall_keys),
	K_IGN("suppress"),
	K_IGN("websocket_proxy"),
	K_IGN("canary_tokens"),
	K_IGN("response_scanning"),
	K_IGN("mcp_input_scanning"),
	K_IGN("mcp_tool_scanning"),
	K_IGN("mcp_tool_policy"),
	K_IGN("mcp_session_binding"),
	K_IGN("mcp_ws_listener"),
	K_IGN("mcp_binary_integrity"),
	K_IGN("mcp_tool_provenance"),
	K_IGN("git_protection"),
	K_IGN("session_profiling"),
	K_IGN("adaptive_enforcement"),
	K_IGN("health_watchdog"),
	K_IGN("sentry"),
	K_IGN("emit"),
	K_IGN("tool_chain_detection"),
	K_IGN("cross_request_detection"),
	K_IGN("reverse_proxy"),
	K_IGN("scan_api"),
	K_IGN("address_protection"),
	K_IGN("rules"),
	K_IGN("file_sentry"),
	K_IGN("sandbox"),
	K_IGN("flight_recorder"),
	K_IGN("behavioral_baseline"),
	K_IGN("airlock"),
	K_IGN("browser_shield"),
	K_IGN("media_policy"),
	K_IGN("a2a_scanning"),
	K_IGN("taint"),
	K_IGN("mediation_envelope"),
	K_IGN("redaction"),
	K_IGN("learn"),
	K_IGN("learn_lock"),
	K_IGN("agents"),
	K_IGN("default_agent_identity"),
	K_IGN("bind_default_agent_identity"),
	K_IGN("license_key"),
	K_IGN("license_file"),
	K_IGN("license_public_key"),
	K_END
};

/* ---- defaults ---------------------------------------------------------- */

static const char *const default_sensitive_headers[] = { "Authorization",
    "Cookie", "X-Api-Key", "X-Token", "Proxy-Authorization",
    "X-Goog-Api-Key", NULL };
static const char *const default_ignore_headers[] = { "Connection",
    "Keep-Alive", "Proxy-Authenticate", "Te", "Trailer", "Transfer-Encoding",
    "Upgrade", "Host", "Content-Length", "Content-Type", "Accept",
    "Accept-Encoding", "User-Agent", NULL };

/* The resolvers the agents use today: nameserver lines of resolv.conf. */
static void
resolv_conf_read(struct strlist *out)
{
	unsigned char addr[16];
	char line[512], *p, *e;
	FILE *f;

	if ((f = fopen(RESOLV_CONF, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		p = line + strspn(line, " \t");
		if (strncmp(p, "nameserver", 10) != 0 ||
		    (p[10] != ' ' && p[10] != '\t'))
			continue;
		p += 10 + strspn(p + 10, " \t");
		e = p + strcspn(p, " \t\r\n#;%");
		*e = '\0';
		if ((inet_pton(AF_INET, p, addr) == 1 ||
		    inet_pton(AF_INET6, p, addr) == 1) && !sl_has(out, p))
			sl_add(out, p);
	}
	fclose(f);
}

static void
config_defaults(struct config *cfg, int have_file)
{
	struct firewall_config *fw = &cfg->fw;

	cfg->version = 1;
	cfg->mode = MODE_BALANCED;
	cfg->enforce = 1;
	cfg->explain_blocks = 0;
	scanner_config_defaults(&cfg->scanner);
	if (have_file) {
		/* pipelock: these defaults exist only without a file */
		sl_clear(&cfg->scanner.api_allowlist);
		sl_clear(&cfg->scanner.blocklist);
	}
	cfg->dlp_scan_env = 1;
	cfg->dlp_min_env_secret_length = 16;

	cfg->fetch_proxy.listen = xstrdup("127.0.0.1:8888");
	cfg->fetch_proxy.timeout_seconds = 30;
	cfg->fetch_proxy.max_response_mb = 10;
	cfg->fetch_proxy.user_agent = xstrdup("Pipelock Fetch/1.0");
	cfg->fetch_proxy.max_requests_per_minute = 60;
	cfg->fetch_proxy.max_data_per_minute = 0;

	cfg->forward_proxy.enabled = 0;
	cfg->forward_proxy.max_tunnel_seconds = 300;
	cfg->forward_proxy.idle_timeout_seconds = 120;
	cfg->forward_proxy.sni_verification = 1;

	cfg->tls.enabled = 0;
	cfg->tls.cert_ttl_seconds = 24 * 3600;
	cfg->tls.cert_cache_size = 10000;
	cfg->tls.max_response_bytes = 5242880;

	cfg->request_body.enabled = 1;
	cfg->request_body.action_block = 0;
	cfg->request_body.max_body_bytes = 5u << 20;
	cfg->request_body.scan_headers = 1;
	cfg->request_body.header_mode_all = 0;
	sl_set(&cfg->request_body.sensitive_headers,
	    default_sensitive_headers);
	sl_set(&cfg->request_body.ignore_headers, default_ignore_headers);

	cfg->kill_switch.enabled = 0;
	cfg->kill_switch.message = xstrdup("Emergency deny-all active");
	cfg->kill_switch.health_exempt = 1;
	cfg->kill_switch.metrics_exempt = 1;
	cfg->kill_switch.api_exempt = 1;

	cfg->logging.json = 1;
	cfg->logging.to_stdout = 1;
	cfg->logging.to_file = 0;
	cfg->logging.include_allowed = 1;
	cfg->logging.include_blocked = 1;

	fw->tproxy_port = FW_DEFAULT_TPROXY_PORT;
	fw->queue_num = 0;
	fw->mark = FW_DEFAULT_MARK;
	fw->engine_mark = FW_DEFAULT_ENGINE_MARK;
	fw->route_table = FW_DEFAULT_ROUTE_TABLE;
	fw->rule_priority = FW_DEFAULT_RULE_PRIO;
	fw->fail_closed = 1;
	fw->ipv6 = 1;
	fw->dns = FW_DNS_INSPECT;
	resolv_conf_read(&fw->dns_servers);
	fw->quic = FW_QUIC_BLOCK;
	fw->other_tcp = FW_OTHER_TCP_BLOCK;
	fw->max_conns_per_agent = 512;
	fw->max_conns_total = 8192;
	fw->idle_timeout_s = 300;
	fw->connect_timeout_s = 10;
	fw->first_bytes_timeout_ms = 5000;
}

static int
port_of(const char *hostport)
{
	const char *why;

	return hostport && *hostport ? hostport_check(hostport, &why) : -1;
}

/* Derived values that depend on several keys, or on no key at all. */
static void
config_finish(struct loader *l)
{
	struct config *cfg = l->cfg;
	struct firewall_config *fw = &cfg->fw;
	int port;

	cfg->scanner.strict = cfg->mode == MODE_STRICT;
	cfg->scanner.enforce = cfg->enforce;
	cfg->scanner.min_secret_length = cfg->dlp_min_env_secret_length;
	if (!l->loopback_set) {
		fw->n_loopback_ports = 0;
		if ((port = port_of(cfg->fetch_proxy.listen)) > 0)
			fw->loopback_ports[fw->n_loopback_ports++] =
			    (uint16_t)port;
		if (port != LOCAL_DNS_PORT)
			fw->loopback_ports[fw->n_loopback_ports++] =
			    LOCAL_DNS_PORT;
	}
}

/* ---- files ------------------------------------------------------------- */

static int
file_read(const char *path, size_t max, char **out, size_t *outlen,
    struct stat *st, const char **why)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t r;
	int fd, ret = -1;

	*why = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		goto cleanup;
	if (fstat(fd, st) == -1)
		goto cleanup;
	if (!S_ISREG(st->st_mode)) {
		*why = "not a regular file";
		goto cleanup;
	}
	if ((size_t)st->st_size > max) {
		*why = "file too large";
		goto cleanup;
	}
	buf = xcalloc(1, (size_t)st->st_size + 1);
	while (len < (size_t)st->st_size) {
		r = read(fd, buf + len, (size_t)st->st_size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto cleanup;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
	ret = 0;
cleanup:
	free(buf);
	if (fd != -1)
		close(fd);
	return ret;
}

/*
 * dlp.secrets_file: one secret per line (pipelock rules): BOM stripped,
 * trimmed, '#' comments and blank lines skipped, lines with a NUL or longer
 * than SECRETS_MAX_LINE skipped, shorter than min_env_secret_length
 * skipped, at most SECRETS_MAX_ENTRIES.  The file must not be accessible by
 * others nor writable by the group (no bits in 0037).
 */
static int
secrets_file_load(struct loader *l)
{
	struct config *cfg = l->cfg;
	const yaml_mark_t *m = mark_of(l, MK_SECRETS_FILE);
	char *buf = NULL, *line, *next, *end;
	size_t len, llen, n = 0, skipped = 0;
	const char *why;
	struct stat st;
	int ret = -1;

	if (cfg->dlp_secrets_file == NULL || *cfg->dlp_secrets_file == '\0')
		return 0;
	if (file_read(cfg->dlp_secrets_file, SECRETS_FILE_MAX, &buf, &len,
	    &st, &why) == -1)
		return lerr(l, m, "dlp.secrets_file", "'%s': %s",
		    cfg->dlp_secrets_file, why ? why : strerror(errno));
	if (st.st_mode & 037) {
		lerr(l, m, "dlp.secrets_file",
		    "'%s' has mode %04o: it must not be group-writable or "
		    "accessible by others (chmod 600)", cfg->dlp_secrets_file,
		    (unsigned)(st.st_mode & 07777));
		goto cleanup;
	}
	line = buf;
	if (len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
		line += 3;
	for (; line < buf + len; line = next) {
		end = memchr(line, '\n', buf + len - line);
		if (end == NULL)
			end = buf + len;
		next = end + 1;
		if (memchr(line, '\0', end - line) != NULL)
			continue;
		while (line < end && isspace((unsigned char)*line))
			line++;
		while (end > line && isspace((unsigned char)end[-1]))
			end--;
		llen = (size_t)(end - line);
		if (llen == 0 || *line == '#')
			continue;
		if (llen > SECRETS_MAX_LINE ||
		    llen < cfg->dlp_min_env_secret_length) {
			skipped++;
			continue;
		}
		if (n >= SECRETS_MAX_ENTRIES) {
			lwarn(l, "dlp.secrets_file: more than %d secrets, "
			    "the rest are ignored", SECRETS_MAX_ENTRIES);
			break;
		}
		*end = '\0';
		sl_add(&cfg->scanner.known_secrets, line);
		n++;
	}
	if (skipped)
		lwarn(l, "dlp.secrets_file: %zu line(s) shorter than %zu or "
		    "longer than %d bytes skipped", skipped,
		    cfg->dlp_min_env_secret_length, SECRETS_MAX_LINE);
	ret = 0;
cleanup:
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	return ret;
}

static int
tls_files_check(struct loader *l)
{
	struct config *cfg = l->cfg;
	const yaml_mark_t *m = mark_of(l, MK_TLS_ENABLED);
	const char *home = getenv("HOME");
	struct stat st;

	if (!cfg->tls.enabled)
		return 0;
	if (home == NULL || *home == '\0')
		home = "/root";
	if (cfg->tls.ca_cert == NULL || *cfg->tls.ca_cert == '\0') {
		free(cfg->tls.ca_cert);
		if (asprintf(&cfg->tls.ca_cert, "%s/.pipelock/ca.pem",
		    home) == -1)
			fatalx("config: out of memory");
	}
	if (cfg->tls.ca_key == NULL || *cfg->tls.ca_key == '\0') {
		free(cfg->tls.ca_key);
		if (asprintf(&cfg->tls.ca_key, "%s/.pipelock/ca-key.pem",
		    home) == -1)
			fatalx("config: out of memory");
	}
	if (stat(cfg->tls.ca_cert, &st) == -1)
		return lerr(l, m, "tls_interception.ca_cert", "'%s': %s",
		    cfg->tls.ca_cert, strerror(errno));
	if (stat(cfg->tls.ca_key, &st) == -1)
		return lerr(l, m, "tls_interception.ca_key", "'%s': %s",
		    cfg->tls.ca_key, strerror(errno));
	if (st.st_mode & 0137)
		return lerr(l, m, "tls_interception.ca_key",
		    "'%s' has mode %04o: a CA key must be 0600 or 0640",
		    cfg->tls.ca_key, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* Cross-key rules, after every key has been read. */
static int
config_validate(struct loader *l)
{
	struct config *cfg = l->cfg;
	struct firewall_config *fw = &cfg->fw;
	char path[CONFIG_PATH_MAX];
	int fport, mport, kport;
	size_t i, j;

	if (cfg->mode == MODE_STRICT && cfg->scanner.api_allowlist.n == 0)
		return lerr(l, mark_of(l, MK_MODE), "mode", "strict mode "
		    "requires a non-empty api_allowlist");
	fport = port_of(cfg->fetch_proxy.listen);
	mport = port_of(cfg->metrics_listen);
	kport = port_of(cfg->kill_switch.api_listen);
	if (mport > 0 && (mport == fport || mport == kport))
		return lerr(l, &l->marks[MK_METRICS_LISTEN], "metrics_listen",
		    "port %d is already used by %s", mport, mport == fport ?
		    "fetch_proxy.listen" : "kill_switch.api_listen");
	if (kport > 0 && kport == fport)
		return lerr(l, &l->marks[MK_KS_API_LISTEN],
		    "kill_switch.api_listen", "port %d is already used by "
		    "fetch_proxy.listen", kport);
	if (kport > 0 && (cfg->kill_switch.api_token == NULL ||
	    *cfg->kill_switch.api_token == '\0') &&
	    getenv("PIPELOCK_KILLSWITCH_API_TOKEN") == NULL)
		return lerr(l, &l->marks[MK_KS_API_LISTEN],
		    "kill_switch.api_listen", "requires kill_switch.api_token");
	if (cfg->logging.to_file && (cfg->logging.file == NULL ||
	    *cfg->logging.file == '\0'))
		return lerr(l, &l->marks[MK_LOG_OUTPUT], "logging.output",
		    "output to a file requires logging.file");
	if (fw->mark & fw->engine_mark)
		return lerr(l, l->have_mark[MK_ENGINE_MARK] ?
		    mark_of(l, MK_ENGINE_MARK) : mark_of(l, MK_FW_MARK),
		    "firewall.engine_mark",
		    "0x%08x overlaps firewall.mark 0x%08x", fw->engine_mark,
		    fw->mark);
	/* 253-255 are the kernel's default, main and local tables */
	if (fw->route_table >= 253 && fw->route_table <= 255)
		return lerr(l, mark_of(l, MK_ROUTE_TABLE), "firewall.route_table",
		    "%u is a kernel table (253 default, 254 main, 255 local)",
		    fw->route_table);
	for (i = 0; i < fw->n_loopback_ports && !fw->loopback_all; i++)
		if (fw->loopback_ports[i] == fw->tproxy_port)
			return lerr(l, mark_of(l, MK_TPROXY_PORT),
			    "firewall.tproxy_port", "%u is also listed in "
			    "firewall.loopback_ports", fw->tproxy_port);
	/*
	 * pipelock: a user pattern named like a built-in replaces it, and a
	 * built-in may not be downgraded to warn-only that way.
	 */
	for (i = 0; cfg->scanner.dlp_include_defaults &&
	    i < cfg->scanner.npatterns; i++) {
		if (!cfg->scanner.patterns[i].warn_only)
			continue;
		for (j = 0; j < dlp_nbuiltins; j++)
			if (strcmp(dlp_builtins[j].name,
			    cfg->scanner.patterns[i].name) == 0)
				break;
		if (j == dlp_nbuiltins)
			continue;
		snprintf(path, sizeof(path), "dlp.patterns[%zu].action", i);
		return lerr(l, &l->action_marks[i], path, "'warn' is not "
		    "allowed on built-in pattern '%s'",
		    cfg->scanner.patterns[i].name);
	}
	if (tls_files_check(l) == -1)
		return -1;
	return secrets_file_load(l);
}

/* ---- entry points ------------------------------------------------------ */

static int
config_parse(struct loader *l, const char *buf, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	yaml_node_t *root;
	int have_doc = 0, have_extra = 0, ret = -1;

	if (!yaml_parser_initialize(&parser))
		fatalx("config: out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc))
		goto syntax;
	have_doc = 1;
	if ((root = yaml_document_get_root_node(&doc)) == NULL) {
		ret = 0;	/* empty file: defaults */
		goto cleanup;
	}
	if (!yaml_parser_load(&parser, &extra))
		goto syntax;
	have_extra = 1;
	if (yaml_document_get_root_node(&extra) != NULL) {
		lerr(l, &extra.start_mark, "", "a second YAML document is not "
		    "allowed (pipelock reads exactly one)");
		goto cleanup;
	}
	l->doc = &doc;
	if (is_null(root)) {
		ret = 0;
		goto cleanup;
	}
	if (root->type != YAML_MAPPING_NODE) {
		lerr(l, &root->start_mark, "", "the top level must be a "
		    "mapping of keys");
		goto cleanup;
	}
	ret = load_section(l, top_keys, root, root, "");
	goto cleanup;
syntax:
	lerr(l, &parser.problem_mark, "", "YAML syntax error: %s%s%s",
	    parser.problem ? parser.problem : "unknown",
	    parser.context ? " " : "", parser.context ? parser.context : "");
cleanup:
	if (have_extra)
		yaml_document_delete(&extra);
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	l->doc = NULL;
	return ret;
}

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	d = xstrdup(path);
	d[slash - path] = '\0';
	return d;
}

static int
config_build(const char *name, const char *buf, size_t len,
    struct config **out, char *err, size_t errlen)
{
	struct loader l;
	struct config *cfg;
	int ret = -1;

	memset(&l, 0, sizeof(l));
	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	cfg = xcalloc(1, sizeof(*cfg));
	l.cfg = cfg;
	l.err = err;
	l.errlen = errlen;
	l.name = name ? name : "(defaults)";
	config_defaults(cfg, name != NULL);
	if (name != NULL) {
		cfg->path = xstrdup(name);
		l.dir = dir_of(name);
		if (config_parse(&l, buf, len) == -1)
			goto cleanup;
	}
	config_finish(&l);
	if (config_validate(&l) == -1)
		goto cleanup;
	*out = cfg;
	cfg = NULL;
	ret = 0;
cleanup:
	free(l.dir);
	free(l.action_marks);
	config_free(cfg);
	return ret;
}

int
config_load_buffer(const char *name, const char *buf, size_t len,
    struct config **out, char *err, size_t errlen)
{
	return config_build(name ? name : "(buffer)", buf, len, out, err,
	    errlen);
}

int
config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	const char *why;
	struct stat st;
	char *buf = NULL;
	size_t len;
	int ret;

	if (path == NULL)
		return config_build(NULL, NULL, 0, out, err, errlen);
	*out = NULL;
	if (file_read(path, CONFIG_FILE_MAX, &buf, &len, &st, &why) == -1) {
		snprintf(err, errlen, "%s: %s", path,
		    why ? why : strerror(errno));
		return -1;
	}
	ret = config_build(path, buf, len, out, err, errlen);
	free(buf);
	return ret;
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	scanner_config_clear(&cfg->scanner);
	free(cfg->dlp_secrets_file);
	free(cfg->fetch_proxy.listen);
	free(cfg->fetch_proxy.user_agent);
	free(cfg->tls.ca_cert);
	free(cfg->tls.ca_key);
	free(cfg->tls.upstream_ca_file);
	sl_clear(&cfg->tls.passthrough_domains);
	sl_clear(&cfg->request_body.sensitive_headers);
	sl_clear(&cfg->request_body.ignore_headers);
	free(cfg->kill_switch.sentinel_file);
	free(cfg->kill_switch.message);
	free(cfg->kill_switch.api_token);
	free(cfg->kill_switch.api_listen);
	sl_clear(&cfg->kill_switch.allowlist_ips);
	free(cfg->logging.file);
	free(cfg->metrics_listen);
	sl_clear(&cfg->fw.dns_servers);
	sl_clear(&cfg->fw.allow_ip_cidrs);
	sl_clear(&cfg->fw.upgrade_allow_hosts);
	sl_clear(&cfg->warnings);
	free(cfg->dlp_pattern_marks);
	free(cfg);
}
