/*
 * url.c - URL parsing (Go net/url semantics, which is what pipelock's
 * scanner sees), the CRLF and path traversal layers, and the enumeration of
 * pipelock's DLP / seed / known-secret / entropy targets of a URL.
 *
 * Nothing here allocates: targets are produced one at a time into the
 * caller's scratch buffers and handed to a callback, which may stop the
 * walk as soon as one of them blocks.  Every buffer holds at most the raw
 * URL's length (+ URL_SCRATCH_SLACK), because every transformation here
 * (decoding, concatenating distinct parts, dropping characters) shrinks.
 *
 * Deliberate differences from Go, all in the direction of finding more:
 * a stray '%' does not stop %-decoding of the rest (Go's QueryUnescape
 * gives up on the whole string, an easy way to hide a secret), query pairs
 * with an empty key or a ';' are still scanned, and the query is walked in
 * URL order rather than Go's random map order.
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "scanner/normalize.h"
#include "scanner/url.h"

#define DECODE_FAIL	((size_t)-1)

struct span {
	const char	*p;
	size_t		 n;
};

static inline char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static inline int
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
hexval(char c)
{
	if (is_digit(c))
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A valid "%XX" at s[i]? */
static int
pct_ok(const char *s, size_t n, size_t i)
{
	return i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0;
}

/* Go's unescape() for path, fragment and userinfo: every '%' is "%XX". */
static int
escapes_ok(const char *s, size_t n)
{
	const char *p = s, *end = s + n;

	while ((p = memchr(p, '%', end - p)) != NULL) {
		if (!pct_ok(s, n, p - s))
			return 0;
		p += 3;
	}
	return 1;
}

/* Go shouldEscape(c, encodeHost) == false, for ASCII c. */
static int
host_char_ok(unsigned char c)
{
	if (c >= 0x80 || is_alpha(c) || is_digit(c))
		return 1;
	switch (c) {
	case '-': case '_': case '.': case '~':
	case '!': case '$': case '&': case '\'': case '(': case ')':
	case '*': case '+': case ',': case ';': case '=': case ':':
	case '[': case ']': case '<': case '>': case '"':
		return 1;
	}
	return 0;
}

/*
 * Go unescape(s, encodeHost or encodeZone), lowercasing, appended to out.
 * In a host only "%25" and non-ASCII bytes may be escaped.
 */
static int
host_unescape(const char *s, size_t n, int zone, char *out, size_t cap,
    size_t *o)
{
	size_t i;

	for (i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];

		if (*o + 1 >= cap)
			return -1;
		if (c == '%') {
			int v;

			if (!pct_ok(s, n, i))
				return -1;
			v = hexval(s[i + 1]) << 4 | hexval(s[i + 2]);
			if (!zone && v < 0x80 && v != '%')
				return -1;
			if (zone && v < 0x80 && v != '%' && v != ' ' &&
			    !host_char_ok(v))
				return -1;
			out[(*o)++] = lower((char)v);
			i += 3;
			continue;
		}
		if (!host_char_ok(c))
			return -1;
		out[(*o)++] = lower((char)c);
		i++;
	}
	return 0;
}

/* Go validOptionalPort: "" or ':' followed by digits. */
static int
port_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 1;
	if (s[0] != ':')
		return 0;
	for (i = 1; i < n; i++)
		if (!is_digit(s[i]))
			return 0;
	return 1;
}

static int
userinfo_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (is_alpha(c) || is_digit(c))
			continue;
		if (strchr("-._:~!$&'()*+,;=%@", c) == NULL || c == '\0')
			return 0;
	}
	return escapes_ok(s, n);
}

/* Go parseHost + Hostname() over raw[off..off+n). */
static int
url_parse_host(struct url *u, size_t off, size_t n)
{
	const char *h = u->raw + off;
	size_t o = 0;

	if (n > 0 && h[0] == '[') {
		const char *rb = NULL, *z;
		size_t i, inner;

		for (i = n; i > 0; i--)
			if (h[i - 1] == ']') {
				rb = h + i - 1;
				break;
			}
		if (rb == NULL || !port_ok(rb + 1, h + n - rb - 1))
			return -1;
		inner = rb - h - 1;
		u->host_off = off + 1;
		u->host_raw_len = inner;
		z = memmem(h + 1, inner, "%25", 3);
		if (z == NULL) {
			if (host_unescape(h + 1, inner, 0, u->host,
			    sizeof(u->host), &o) == -1)
				return -1;
		} else if (host_unescape(h + 1, z - h - 1, 0, u->host,
		    sizeof(u->host), &o) == -1 ||
		    host_unescape(z, rb - z, 1, u->host, sizeof(u->host),
		    &o) == -1)
			return -1;
	} else {
		size_t hn = n, i;

		for (i = n; i > 0; i--)
			if (h[i - 1] == ':') {
				if (!port_ok(h + i - 1, n - i + 1))
					return -1;
				hn = i - 1;
				break;
			}
		u->host_off = off;
		u->host_raw_len = hn;
		if (host_unescape(h, hn, 0, u->host, sizeof(u->host),
		    &o) == -1)
			return -1;
	}
	u->host[o] = '\0';
	u->hostlen = o;
	u->ipform = ip_parse(u->host, o, &u->ip);
	if (u->ipform == IP_FORM_V4_ALT) {
		/* Every later layer sees the address the dialer will use. */
		ip_format(&u->ip, u->host, sizeof(u->host));
		u->hostlen = strlen(u->host);
	}
	return 0;
}

int
url_parse(const char *raw, size_t len, struct url *u)
{
	const char *hash, *q;
	size_t i, rest, end;

	memset(u, 0, offsetof(struct url, host));
	u->raw = raw;
	u->len = len;
	u->host[0] = '\0';
	u->hostlen = 0;
	u->ipform = IP_FORM_NONE;
	u->path_off = u->path_len = 0;
	u->has_query = 0;
	u->query_off = u->query_len = 0;

	for (i = 0; i < len; i++)
		if ((unsigned char)raw[i] < 0x20 || raw[i] == 0x7f)
			return -1;

	/* Fragment first, as Go does: it never reaches the server. */
	hash = memchr(raw, '#', len);
	end = hash ? (size_t)(hash - raw) : len;
	if (hash && !escapes_ok(hash + 1, len - end - 1))
		return -1;

	/* getScheme */
	for (i = 0; i < end; i++) {
		char c = raw[i];

		if (is_alpha(c))
			continue;
		if (is_digit(c) || c == '+' || c == '-' || c == '.') {
			if (i == 0)
				break;
			continue;
		}
		if (c == ':') {
			if (i == 0)
				return -1;	/* missing protocol scheme */
			u->scheme_len = i;
		}
		break;
	}
	rest = u->scheme_len ? u->scheme_len + 1 : 0;

	q = memchr(raw + rest, '?', end - rest);
	if (q != NULL) {
		u->has_query = 1;
		u->query_off = q - raw + 1;
		u->query_len = end - u->query_off;
		end = q - raw;
	}

	if (rest == end || raw[rest] != '/') {
		if (u->scheme_len) {
			u->opaque = 1;
			return 0;
		}
		/* Relative: "first path segment in URL cannot contain colon". */
		for (i = rest; i < end && raw[i] != '/'; i++)
			if (raw[i] == ':')
				return -1;
	} else if (end - rest >= 2 && raw[rest + 1] == '/' &&
	    (u->scheme_len || end - rest < 3 || raw[rest + 2] != '/')) {
		size_t a = rest + 2, aend, at = 0;
		const char *slash = memchr(raw + a, '/', end - a);
		int has_at = 0;

		aend = slash ? (size_t)(slash - raw) : end;
		for (i = aend; i > a; i--)
			if (raw[i - 1] == '@') {
				at = i - 1;
				has_at = 1;
				break;
			}
		if (has_at) {
			if (!userinfo_ok(raw + a, at - a))
				return -1;
			a = at + 1;
		}
		if (url_parse_host(u, a, aend - a) == -1)
			return -1;
		rest = aend;
	}
	if (!escapes_ok(raw + rest, end - rest))
		return -1;
	u->path_off = rest;
	u->path_len = end - rest;
	return 0;
}

int
url_scheme_ok(const struct url *u)
{
	return (u->scheme_len == 4 &&
	    strncasecmp(u->raw, "http", 4) == 0) ||
	    (u->scheme_len == 5 && strncasecmp(u->raw, "https", 5) == 0);
}

const char *
url_crlf(const char *raw, size_t len)
{
	const char *hash = memchr(raw, '#', len), *p, *end;
	int pair = 0, dpair = 0, single = 0, dsingle = 0;

	end = hash ? hash : raw + len;
	for (p = raw; (p = memchr(p, '%', end - p)) != NULL; p++) {
		size_t left = end - p;

		if (left >= 3 && p[1] == '0' &&
		    (lower(p[2]) == 'a' || lower(p[2]) == 'd')) {
			single = 1;
			if (left >= 6 && lower(p[2]) == 'd' &&
			    strncasecmp(p + 3, "%0a", 3) == 0)
				pair = 1;
		} else if (left >= 5 && p[1] == '2' && p[2] == '5' &&
		    p[3] == '0' && (lower(p[4]) == 'a' || lower(p[4]) == 'd')) {
			dsingle = 1;
			if (left >= 10 && lower(p[4]) == 'd' &&
			    strncasecmp(p + 5, "%250a", 5) == 0)
				dpair = 1;
		}
	}
	if (pair)
		return "CRLF injection sequence in URL";
	if (dpair)
		return "double-encoded CRLF injection sequence in URL";
	if (single)
		return "encoded CR or LF in URL";
	if (dsingle)
		return "double-encoded CR or LF in URL";
	if (memchr(raw, '\r', end - raw) || memchr(raw, '\n', end - raw))
		return "raw CRLF bytes in URL";
	return NULL;
}

/* Length of the token of toks[] matching s[i..] case-insensitively, or 0. */
static size_t
tok_at(const char *s, size_t n, size_t i, const char *const *toks)
{
	for (; *toks != NULL; toks++) {
		size_t tl = strlen(*toks);

		if (n - i >= tl && strncasecmp(s + i, *toks, tl) == 0)
			return tl;
	}
	return 0;
}

const char *
url_traversal(const struct url *u)
{
	static const char *const seps[] = { "/", "\\", "%2f", "%5c", NULL };
	static const char *const dots[] = {
		"..", "%2e.", ".%2e", "%2e%2e", NULL
	};
	const char *p = u->raw + u->path_off;
	size_t n = u->path_len, i, l, d;

	/* Every traversal form holds a '.' or an escape: most paths have none. */
	if (memchr(p, '.', n) == NULL && memchr(p, '%', n) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (p[i] != '/' && p[i] != '\\' && p[i] != '%')
			continue;
		if ((l = tok_at(p, n, i, seps)) == 0)
			continue;
		/* Every dot token starts with '.' or '%': skip the calls. */
		if (i + l >= n || (p[i + l] != '.' && p[i + l] != '%') ||
		    (d = tok_at(p, n, i + l, dots)) == 0)
			continue;
		if (i + l + d == n || tok_at(p, n, i + l + d, seps) != 0)
			return "path traversal sequence in URL";
	}
	for (i = 0; i < n; i++) {
		if (p[i] != '/' || n - i < 11 || p[i + 1] != '%' ||
		    strncasecmp(p + i + 1, "%252e%252e", 10) != 0)
			continue;
		if (i + 11 == n || p[i + 11] == '/' ||
		    (n - i - 11 >= 5 && strncasecmp(p + i + 11, "%252f", 5) == 0))
			return "double-encoded path traversal in URL";
	}
	return NULL;
}

const char *
url_full(const struct url *u, char *out, size_t *n)
{
	size_t tail;

	if (u->ipform != IP_FORM_V4_ALT) {
		*n = u->len;
		return u->raw;
	}
	tail = u->len - u->host_off - u->host_raw_len;
	memcpy(out, u->raw, u->host_off);
	memcpy(out + u->host_off, u->host, u->hostlen);
	memcpy(out + u->host_off + u->hostlen,
	    u->raw + u->host_off + u->host_raw_len, tail);
	*n = u->host_off + u->hostlen + tail;
	return out;
}

const char *
url_unescape_iter(const char *in, size_t len, char *out, size_t *n)
{
	size_t cur, next;
	unsigned round;

	if (memchr(in, '%', len) == NULL && memchr(in, '+', len) == NULL) {
		*n = len;
		return in;
	}
	cur = norm_pct_decode(in, len, out, 1);
	/*
	 * A round that decodes nothing leaves the length alone; one that only
	 * turned a decoded '+' into ' ' also did, and nothing is left after it.
	 */
	for (round = 1; round < URL_DECODE_ROUNDS; round++) {
		if (memchr(out, '%', cur) == NULL &&
		    memchr(out, '+', cur) == NULL)
			break;
		next = norm_pct_decode(out, cur, out, 1);
		if (next == cur)
			break;
		cur = next;
	}
	*n = cur;
	return out;
}

/* Next "k=v" pair of a raw query (split on '&', cut at the first '='). */
static int
query_next(const struct url *u, size_t *pos, struct span *k, struct span *v)
{
	const char *q = u->raw + u->query_off, *amp, *eq;
	size_t start = *pos, end;

	if (!u->has_query || start > u->query_len)
		return 0;
	amp = memchr(q + start, '&', u->query_len - start);
	end = amp ? (size_t)(amp - q) : u->query_len;
	*pos = end + 1;
	eq = memchr(q + start, '=', end - start);
	k->p = q + start;
	k->n = eq ? (size_t)(eq - q) - start : end - start;
	v->p = eq ? eq + 1 : q + end;
	v->n = eq ? end - (size_t)(eq - q) - 1 : 0;
	return 1;
}

static int
has_amp(const struct url *u)
{
	return u->has_query &&
	    memchr(u->raw + u->query_off, '&', u->query_len) != NULL;
}

static inline int
emit(const struct url_target_cb *cb, const char *s, size_t n,
    enum scan_where where)
{
	return n > 0 ? cb->fn(cb->ctx, s, n, where) : 0;
}

/* pipelock decodeEncodings(): hex, base64 (std/url, padded or not), base32. */
static int
emit_decodings(const struct url_target_cb *cb, const char *s, size_t n,
    char *out, size_t cap, enum scan_where where)
{
	size_t m;
	int rc;

	if ((m = norm_hex_decode(s, n, out, cap)) != DECODE_FAIL &&
	    (rc = emit(cb, out, m, where)) != 0)
		return rc;
	if ((m = norm_b64_decode(s, n, out, cap)) != DECODE_FAIL &&
	    (rc = emit(cb, out, m, where)) != 0)
		return rc;
	if ((m = norm_b32_decode(s, n, out, cap)) != DECODE_FAIL &&
	    (rc = emit(cb, out, m, where)) != 0)
		return rc;
	return 0;
}

/* s, then its encodings decoded, then noise-stripped if that differs. */
static int
emit_item(const struct url_target_cb *cb, const char *s, size_t n,
    char *out, size_t cap, enum scan_where where)
{
	size_t m;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = emit(cb, s, n, where)) != 0)
		return rc;
	if ((rc = emit_decodings(cb, s, n, out, cap, where)) != 0)
		return rc;
	m = norm_noise_strip(s, n, out);
	if (m != n && (rc = emit(cb, out, m, where)) != 0)
		return rc;
	return 0;
}

/* Go's Path: the raw path %-decoded once ('+' stays). */
static size_t
url_path(const struct url *u, char *out)
{
	return norm_pct_decode(u->raw + u->path_off, u->path_len, out, 0);
}

/*
 * Iteratively decoded non-empty values in URL order, back to back into
 * out, spans into vals (at most max).  Returns the number of values.
 */
static size_t
query_values(const struct url *u, char *out, struct span *vals, size_t max,
    char sep)
{
	struct span k, v;
	size_t pos = 0, nv = 0, o = 0, dn;
	const char *d;

	while (query_next(u, &pos, &k, &v)) {
		if (v.n == 0)
			continue;
		if (sep != '\0' && o > 0)
			out[o++] = sep;
		d = url_unescape_iter(v.p, v.n, out + o, &dn);
		if (d != out + o)
			memcpy(out + o, d, dn);
		if (vals != NULL && nv < max) {
			vals[nv].p = out + o;
			vals[nv].n = dn;
		}
		nv++;
		o += dn;
		if (vals != NULL && nv == max)
			break;
	}
	if (vals == NULL)
		return o;	/* caller wants the joined length */
	return nv;
}

/*
 * The decoded path (into s->buf[3], its length in *plen), then the
 * iteratively decoded query if there is one (s->buf[0]): in this order in
 * both the DLP and the seed-phrase target lists.
 */
static int
emit_path_query(const struct url *u, const struct url_scratch *s,
    const struct url_target_cb *cb, size_t *plen)
{
	const char *t;
	size_t n;
	int rc;

	*plen = url_path(u, s->buf[3]);
	if ((rc = emit(cb, s->buf[3], *plen, SCAN_WHERE_PATH)) != 0)
		return rc;
	if (!u->has_query)
		return 0;
	t = url_unescape_iter(u->raw + u->query_off, u->query_len, s->buf[0],
	    &n);
	return emit(cb, t, n, SCAN_WHERE_QUERY);
}

/*
 * pipelock checkDLP / checkCoreDLP targets, in order: the full URL, the
 * decoded path, the iteratively decoded query, each key and value (+ its
 * hex/base64/base32 decodings + noise-stripped form), the iteratively
 * decoded raw path, decodings of path segments >= URL_SEGMENT_DECODE_MIN,
 * the hostname without dots, the noise-stripped path, and for queries with
 * '&' all values concatenated in order (+ noise-stripped).
 */
int
url_dlp_targets(const struct url *u, const struct url_scratch *s,
    const struct url_target_cb *cb)
{
	char *b0 = s->buf[0], *b1 = s->buf[1], *b2 = s->buf[2];
	char *path = s->buf[3];
	const char *t;
	size_t n, plen, pos = 0, i, start;
	struct span k, v;
	int rc;

	t = url_full(u, s->buf[4], &n);
	if ((rc = emit(cb, t, n, SCAN_WHERE_URL)) != 0 ||
	    (rc = emit_path_query(u, s, cb, &plen)) != 0)
		return rc;
	while (query_next(u, &pos, &k, &v)) {
		t = url_unescape_iter(k.p, k.n, b1, &n);
		if ((rc = emit_item(cb, t, n, b2, s->cap,
		    SCAN_WHERE_QUERY)) != 0)
			return rc;
		t = url_unescape_iter(v.p, v.n, b1, &n);
		if ((rc = emit_item(cb, t, n, b2, s->cap,
		    SCAN_WHERE_QUERY)) != 0)
			return rc;
	}
	if (memchr(u->raw + u->path_off, '%', u->path_len) != NULL) {
		t = url_unescape_iter(u->raw + u->path_off, u->path_len, b0,
		    &n);
		if ((n != plen || memcmp(t, path, n) != 0) &&
		    (rc = emit(cb, t, n, SCAN_WHERE_PATH)) != 0)
			return rc;
	}
	for (i = 0, start = 0; i <= plen; i++) {
		if (i < plen && path[i] != '/')
			continue;
		if (i - start >= URL_SEGMENT_DECODE_MIN &&
		    (rc = emit_decodings(cb, path + start, i - start, b2,
		    s->cap, SCAN_WHERE_PATH)) != 0)
			return rc;
		start = i + 1;
	}
	if (memchr(u->host, '.', u->hostlen) != NULL) {
		n = 0;
		for (i = 0; i < u->hostlen; i++)
			if (u->host[i] != '.')
				b2[n++] = u->host[i];
		if ((rc = emit(cb, b2, n, SCAN_WHERE_HOST)) != 0)
			return rc;
	}
	n = norm_noise_strip(path, plen, b2);
	if (n != plen && (rc = emit(cb, b2, n, SCAN_WHERE_PATH)) != 0)
		return rc;
	if (has_amp(u)) {
		size_t cn = query_values(u, b0, NULL, 0, '\0');

		if ((rc = emit(cb, b0, cn, SCAN_WHERE_QUERY)) != 0)
			return rc;
		n = norm_noise_strip(b0, cn, b2);
		if (n != cn && (rc = emit(cb, b2, n, SCAN_WHERE_QUERY)) != 0)
			return rc;
	}
	return 0;
}

int
url_query_combos(const struct url *u, const struct url_scratch *s,
    const struct url_target_cb *cb)
{
	struct span vals[URL_COMBO_VALUES];
	size_t idx[URL_COMBO_MAX], nv, size, j, o;
	char *out = s->buf[1];
	int rc;

	if (!has_amp(u))
		return 0;
	nv = query_values(u, s->buf[0], vals, URL_COMBO_VALUES, '\0');
	if (nv < URL_COMBO_MIN_VALUES)
		return 0;
	if (nv > URL_COMBO_VALUES)
		nv = URL_COMBO_VALUES;
	for (size = URL_COMBO_MIN; size <= URL_COMBO_MAX && size <= nv;
	    size++) {
		for (j = 0; j < size; j++)
			idx[j] = j;
		for (;;) {
			/* The chosen values never overlap: their sum fits. */
			for (j = 0, o = 0; j < size; j++) {
				memcpy(out + o, vals[idx[j]].p, vals[idx[j]].n);
				o += vals[idx[j]].n;
			}
			if ((rc = emit(cb, out, o, SCAN_WHERE_QUERY)) != 0)
				return rc;
			/* Next combination in lexicographic order. */
			j = size;
			while (j > 0 && idx[j - 1] == nv - size + j - 1)
				j--;
			if (j == 0)
				break;
			idx[j - 1]++;
			for (; j < size; j++)
				idx[j] = idx[j - 1] + 1;
		}
	}
	return 0;
}

/*
 * pipelock's seed-phrase targets: path, decoded query, each value (+
 * decodings), values space-joined, decodings of long path segments, host
 * labels space-joined, path with '/' as spaces.
 */
int
url_seed_targets(const struct url *u, const struct url_scratch *s,
    const struct url_target_cb *cb)
{
	char *b0 = s->buf[0], *b1 = s->buf[1], *b2 = s->buf[2];
	char *path = s->buf[3];
	size_t plen, n, pos = 0, i, start;
	struct span k, v;
	const char *t;
	int rc;

	if ((rc = emit_path_query(u, s, cb, &plen)) != 0)
		return rc;
	while (query_next(u, &pos, &k, &v)) {
		t = url_unescape_iter(v.p, v.n, b1, &n);
		if ((rc = emit(cb, t, n, SCAN_WHERE_QUERY)) != 0 ||
		    (rc = emit_decodings(cb, t, n, b2, s->cap,
		    SCAN_WHERE_QUERY)) != 0)
			return rc;
	}
	if (has_amp(u)) {
		n = query_values(u, b0, NULL, 0, ' ');
		if ((rc = emit(cb, b0, n, SCAN_WHERE_QUERY)) != 0)
			return rc;
	}
	for (i = 0, start = 0; i <= plen; i++) {
		if (i < plen && path[i] != '/')
			continue;
		if (i - start >= URL_SEED_SEGMENT_MIN) {
			t = url_unescape_iter(path + start, i - start, b1, &n);
			if ((rc = emit_decodings(cb, t, n, b2, s->cap,
			    SCAN_WHERE_PATH)) != 0)
				return rc;
		}
		start = i + 1;
	}
	if (memchr(u->host, '.', u->hostlen) != NULL) {
		for (i = 0; i < u->hostlen; i++)
			b2[i] = u->host[i] == '.' ? ' ' : u->host[i];
		if ((rc = emit(cb, b2, u->hostlen, SCAN_WHERE_HOST)) != 0)
			return rc;
	}
	if (memchr(path, '/', plen) != NULL) {
		for (i = 0; i < plen; i++)
			b2[i] = path[i] == '/' ? ' ' : path[i];
		if ((rc = emit(cb, b2, plen, SCAN_WHERE_PATH)) != 0)
			return rc;
	}
	return 0;
}

int
url_secret_targets(const struct url *u, const struct url_scratch *s,
    const struct url_target_cb *cb)
{
	const char *full, *t;
	size_t n, dn, i, o;
	int rc;

	full = url_full(u, s->buf[4], &n);
	if ((rc = emit(cb, full, n, SCAN_WHERE_URL)) != 0)
		return rc;
	t = url_unescape_iter(full, n, s->buf[0], &dn);
	if (t == full)
		return 0;
	/* Decoding may have produced control bytes: pipelock strips them. */
	for (i = 0, o = 0; i < dn; i++)
		if ((unsigned char)t[i] >= 0x20 && t[i] != 0x7f)
			s->buf[0][o++] = t[i];
	return emit(cb, s->buf[0], o, SCAN_WHERE_URL);
}

int
url_entropy(const struct url *u, const struct url_scratch *s,
    double threshold, int skip_path, struct url_entropy_hit *hit)
{
	char *path = s->buf[0], *kb = s->buf[1], *vb = s->buf[2];
	size_t plen, i, start, pos = 0, kn, vn;
	struct span k, v;
	double h;

	memset(hit, 0, sizeof(*hit));
	if (!skip_path) {
		plen = url_path(u, path);
		for (i = 0, start = 0; i <= plen; i++) {
			if (i < plen && path[i] != '/')
				continue;
			if (i - start >= URL_ENTROPY_MIN_LEN &&
			    (h = norm_entropy(path + start, i - start)) >
			    threshold) {
				hit->kind = URL_ENTROPY_PATH;
				hit->entropy = h;
				hit->item = path + start;
				hit->item_len = i - start;
				return 1;
			}
			start = i + 1;
		}
	}
	/* Go's url.Query(): keys and values decoded once, '+' as space. */
	while (query_next(u, &pos, &k, &v)) {
		kn = norm_pct_decode(k.p, k.n, kb, 1);
		hit->key = kb;
		hit->key_len = kn;
		if (kn >= URL_ENTROPY_MIN_LEN &&
		    (h = norm_entropy(kb, kn)) > threshold) {
			hit->kind = URL_ENTROPY_QUERY_KEY;
			hit->entropy = h;
			hit->item = kb;
			hit->item_len = kn;
			return 1;
		}
		vn = norm_pct_decode(v.p, v.n, vb, 1);
		if (vn >= URL_ENTROPY_MIN_LEN &&
		    (h = norm_entropy(vb, vn)) > threshold) {
			hit->kind = URL_ENTROPY_QUERY_VALUE;
			hit->entropy = h;
			hit->item = vb;
			hit->item_len = vn;
			return 1;
		}
	}
	hit->key = NULL;
	hit->key_len = 0;
	return 0;
}
