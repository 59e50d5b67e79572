/*
 * scanner.c - the scanner object and its URL, domain and address checks.
 *
 * A URL goes through pipelock's layers in pipelock's order (reference
 * section 4), first blocking layer wins: parser, scheme, crlf_injection,
 * path_traversal, allowlist (strict), blocklist, core_ssrf (IP literals,
 * only when `internal` is empty), core_dlp/dlp over the decoded targets
 * (url.c), split-secret combinations, seed phrases, known secrets, entropy,
 * subdomain_entropy, ssrf (IP literals), length.  Rate limits and data
 * budgets are stateful and live in the engine; so does DNS-based SSRF,
 * which the engine asks for with scanner_check_addr() once it resolved a
 * name: the scanner itself does no I/O.
 *
 * Bounded work: URLs up to URL_INLINE_MAX bytes are checked with stack
 * scratch only (no malloc); longer ones up to URL_SCAN_MAX take one
 * allocation; longer ones still are blocked ("length") before any
 * decoding, as no server accepts such a request line anyway.  Decoding is
 * bounded by URL_DECODE_ROUNDS, split-secret search by URL_COMBO_VALUES.
 *
 * enforce: false computes the same verdict and records its finding as
 * warn_only (res->blocked stays 0), as pipelock logs an anomaly and
 * forwards.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "scanner/cidr.h"
#include "scanner/dlp.h"
#include "scanner/domain.h"
#include "scanner/normalize.h"
#include "scanner/scanner.h"
#include "scanner/url.h"

/* URLs up to this length are checked with stack scratch only. */
#define URL_INLINE_MAX		2048
/* Longer URLs are blocked as "length" before any decoding. */
#define URL_SCAN_MAX		65536
/* Buffer for a normalised SNI / DNS name (far above DOMAIN_NAME_MAX). */
#define DOMAIN_BUF		1024
/* Bytes of a query key quoted in an entropy reason. */
#define REASON_QUOTE_MAX	64

/* Built-in defaults (pipelock Defaults(), reference 2.1 / 2.2). */
static const char *const default_allowlist[] = {
	"*.anthropic.com", "*.openai.com", "api.telegram.org",
	"*.discord.com", "gateway.discord.gg", "*.slack.com", "github.com",
	"*.github.com", "*.githubusercontent.com", "registry.npmjs.org",
};
static const char *const default_blocklist[] = {
	"*.pastebin.com", "*.hastebin.com", "*.paste.ee", "*.transfer.sh",
	"*.file.io", "*.requestbin.com",
};
static const char *const default_internal[] = {
	"0.0.0.0/8", "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12",
	"192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10", "224.0.0.0/4",
	"::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
};
/* The immutable SSRF floor: the default list minus the multicast ranges. */
static const char *const core_internal[] = {
	"0.0.0.0/8", "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12",
	"192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10",
	"::1/128", "fc00::/7", "fe80::/10",
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

struct scanner {
	int		 strict;
	int		 enforce;
	struct strlist	 allowlist;
	struct strlist	 blocklist;
	struct strlist	 trusted;
	struct strlist	 sub_excl;
	struct cidr_set	 core;		/* core SSRF floor */
	struct cidr_set	 ssrf;		/* core + internal; empty: internal [] */
	struct cidr_set	 ip_allow;	/* ssrf.ip_allowlist */
	size_t		 max_url_length;
	double		 entropy_threshold;
	double		 subdomain_entropy_threshold;
	int		 seed_enabled;
	int		 seed_min_words;
	struct dlp	*dlp;
};

/* What a target walk runs on each target (struct url_target_cb ctx). */
enum walk_kind {
	WALK_DLP = 0,
	WALK_SEED,
	WALK_SECRETS,
};

/* Targets batched into one DLP pass (see walk_target). */
#define WALK_BATCH	4096
#define WALK_SEGS	128

struct walk_seg {
	size_t		off;
	size_t		len;
	enum scan_where	where;
};

struct walk {
	const struct scanner	*sc;
	struct scan_result	*res;
	const char		*host;	/* for exempt_domains */
	char			*norm;	/* holds the longest target */
	enum walk_kind		 kind;
	char			 batch[WALK_BATCH];
	size_t			 blen;
	struct walk_seg		 seg[WALK_SEGS];
	unsigned		 nseg;
};

static void
strlist_free(struct strlist *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
strlist_copy(struct strlist *dst, const char *const *v, size_t n)
{
	size_t i;

	dst->n = 0;
	dst->v = n ? calloc(n, sizeof(*dst->v)) : NULL;
	if (n && dst->v == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] == NULL)
			continue;
		if ((dst->v[dst->n] = strdup(v[i])) == NULL)
			return -1;
		dst->n++;
	}
	return 0;
}

void
scanner_config_defaults(struct scanner_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->strict = 0;
	cfg->enforce = 1;
	/*
	 * A default list cut short by a failed allocation would be fail-open
	 * (a missing blocklist entry); defaults are built at startup or
	 * config load, where stopping is the safe answer.
	 */
	if (strlist_copy(&cfg->api_allowlist, default_allowlist,
	    NELEM(default_allowlist)) == -1 ||
	    strlist_copy(&cfg->blocklist, default_blocklist,
	    NELEM(default_blocklist)) == -1 ||
	    strlist_copy(&cfg->internal, default_internal,
	    NELEM(default_internal)) == -1)
		abort();
	cfg->max_url_length = 2048;
	cfg->entropy_threshold = 4.5;
	cfg->subdomain_entropy_threshold = 4.0;
	cfg->dlp_include_defaults = 1;
	cfg->seed_enabled = 1;
	cfg->seed_min_words = 12;
	cfg->seed_verify_checksum = 1;
	cfg->min_secret_length = 16;
}

void
scanner_config_clear(struct scanner_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	strlist_free(&cfg->api_allowlist);
	strlist_free(&cfg->blocklist);
	strlist_free(&cfg->internal);
	strlist_free(&cfg->ssrf_ip_allowlist);
	strlist_free(&cfg->trusted_domains);
	strlist_free(&cfg->subdomain_entropy_exclusions);
	for (i = 0; cfg->patterns != NULL && i < cfg->npatterns; i++) {
		struct scanner_pattern *p = &cfg->patterns[i];

		free(p->name);
		free(p->regex);
		free(p->severity);
		strlist_free(&p->exempt_domains);
	}
	free(cfg->patterns);
	for (i = 0; i < cfg->known_secrets.n; i++)
		if (cfg->known_secrets.v[i] != NULL)
			explicit_bzero(cfg->known_secrets.v[i],
			    strlen(cfg->known_secrets.v[i]));
	strlist_free(&cfg->known_secrets);
	memset(cfg, 0, sizeof(*cfg));
}

static int
cidr_set_add_strings(struct cidr_set *set, const char *const *v, size_t n,
    const char *what, char *err, size_t errlen)
{
	struct strlist l = { (char **)(uintptr_t)v, n };

	return cidr_set_add_list(set, &l, what, err, errlen);
}

struct scanner *
scanner_new(const struct scanner_config *cfg, char *err, size_t errlen)
{
	struct scanner *sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sc->strict = cfg->strict;
	sc->enforce = cfg->enforce;
	sc->max_url_length = cfg->max_url_length;
	sc->entropy_threshold = cfg->entropy_threshold;
	sc->subdomain_entropy_threshold = cfg->subdomain_entropy_threshold;
	sc->seed_enabled = cfg->seed_enabled;
	/* The smallest phrase BIP-39 knows; anything lower would be invalid. */
	sc->seed_min_words = cfg->seed_min_words >= 12 ? cfg->seed_min_words :
	    12;
	if (strlist_copy(&sc->allowlist, (const char *const *)
	    cfg->api_allowlist.v, cfg->api_allowlist.n) == -1 ||
	    strlist_copy(&sc->blocklist, (const char *const *)
	    cfg->blocklist.v, cfg->blocklist.n) == -1 ||
	    strlist_copy(&sc->trusted, (const char *const *)
	    cfg->trusted_domains.v, cfg->trusted_domains.n) == -1 ||
	    strlist_copy(&sc->sub_excl, (const char *const *)
	    cfg->subdomain_entropy_exclusions.v,
	    cfg->subdomain_entropy_exclusions.n) == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (cidr_set_add_strings(&sc->core, core_internal,
	    NELEM(core_internal), "core", err, errlen) == -1)
		goto fail;
	/* internal: [] switches the DNS SSRF check off; the floor stays. */
	if (cfg->internal.n > 0 &&
	    (cidr_set_add_strings(&sc->ssrf, core_internal,
	    NELEM(core_internal), "core", err, errlen) == -1 ||
	    cidr_set_add_list(&sc->ssrf, &cfg->internal, "internal", err,
	    errlen) == -1))
		goto fail;
	if (cidr_set_add_list(&sc->ip_allow, &cfg->ssrf_ip_allowlist,
	    "ssrf.ip_allowlist", err, errlen) == -1)
		goto fail;
	if ((sc->dlp = dlp_new(cfg, err, errlen)) == NULL)
		goto fail;
	return sc;
fail:
	scanner_free(sc);
	return NULL;
}

void
scanner_free(struct scanner *sc)
{
	if (sc == NULL)
		return;
	strlist_free(&sc->allowlist);
	strlist_free(&sc->blocklist);
	strlist_free(&sc->trusted);
	strlist_free(&sc->sub_excl);
	cidr_set_free(&sc->core);
	cidr_set_free(&sc->ssrf);
	cidr_set_free(&sc->ip_allow);
	dlp_free(sc->dlp);
	free(sc);
}

const struct dlp *
scanner_dlp(const struct scanner *sc)
{
	return sc->dlp;
}

size_t
scanner_pattern_count(const struct scanner *sc)
{
	return dlp_pattern_count(sc->dlp);
}

int
scanner_pattern_info(const struct scanner *sc, size_t i, const char **name,
    const char **severity)
{
	return dlp_pattern_info(sc->dlp, i, name, severity);
}

const char *
scan_where_name(enum scan_where where)
{
	static const char *const names[] = {
		[SCAN_WHERE_URL] = "url",
		[SCAN_WHERE_HOST] = "host",
		[SCAN_WHERE_PATH] = "path",
		[SCAN_WHERE_QUERY] = "query",
		[SCAN_WHERE_HEADER] = "header",
		[SCAN_WHERE_BODY] = "body",
		[SCAN_WHERE_DNS] = "dns",
		[SCAN_WHERE_SNI] = "sni",
	};

	if ((unsigned)where >= NELEM(names) || names[where] == NULL)
		return "unknown";
	return names[where];
}

int
scanner_domain_match(const char *host, const char *pattern)
{
	if (host == NULL || pattern == NULL)
		return 0;
	return domain_match(host, strlen(host), pattern);
}

/*
 * The end of every check: an internal error becomes a blocking "error"
 * finding; enforce: false turns every finding into a warning.
 */
static int
scanner_verdict(const struct scanner *sc, struct scan_result *res, int rc)
{
	unsigned i;

	if (rc == -1)
		scan_result_add(res, "error", NULL, NULL, SCAN_WHERE_URL, 0,
		    1.0, 0, NULL, 0, "internal scanner error");
	if (!sc->enforce) {
		for (i = 0; i < res->nfindings; i++)
			res->findings[i].warn_only = 1;
		res->blocked = 0;
	}
	return rc == -1 ? -1 : res->blocked;
}

static int
finding_same(const struct scan_finding *a, const struct scan_finding *b)
{
	if (strcmp(a->scanner, b->scanner) != 0 || a->warn_only != b->warn_only)
		return 0;
	if (a->pattern == NULL || b->pattern == NULL)
		return a->pattern == b->pattern;
	return strcmp(a->pattern, b->pattern) == 0;
}

/*
 * Many targets are views of the same bytes: keep one finding per pattern
 * (pipelock de-duplicates its warn matches by name the same way).
 */
static void
result_dedupe(struct scan_result *res, unsigned from)
{
	unsigned i, j, o = from;

	for (i = from; i < res->nfindings; i++) {
		for (j = 0; j < o; j++)
			if (finding_same(&res->findings[j], &res->findings[i]))
				break;
		if (j < o)
			continue;
		if (o != i)
			res->findings[o] = res->findings[i];
		o++;
	}
	res->nfindings = o;
}

/*
 * A seed phrase is at least min_words words, each a run of 3 or more
 * letters (bip39_find(): a token of 3..8 ASCII letters between separators;
 * bytes >= 0x80 count as letters too).  Counting such runs is a superset
 * of the word count, so skipping targets with fewer runs never misses a
 * phrase, and it spares a full DLP pass on nearly every URL target (a path
 * with its '/' is a single token; the short letter runs of a hash are not
 * words).
 */
#if defined(__SSE2__)
/*
 * Bits set in a 16-bit mask.  __builtin_popcount() is a libgcc call
 * without -mpopcnt, and this runs for every URL target.
 */
static inline unsigned
seed_bits16(unsigned x)
{
	x -= (x >> 1) & 0x5555;
	x = (x & 0x3333) + ((x >> 2) & 0x3333);
	x = (x + (x >> 4)) & 0x0f0f;
	return (x + (x >> 8)) & 0x1f;
}
#endif

static int
seed_words_possible(const char *s, size_t n, int min_words)
{
	size_t i = 0, runs = 0;
	int in = 0;

#if defined(__SSE2__)
	/*
	 * 16 bytes a step: letter mask, the third letter of each run counted
	 * by popcount (prev: the letter bits of the 3 bytes before).
	 */
	unsigned prev = 0, c;

	const __m128i b20 = _mm_set1_epi8(0x20), ba = _mm_set1_epi8('a');
	const __m128i bias = _mm_set1_epi8((char)0x80);
	const __m128i lim = _mm_set1_epi8((char)(0x80 + 26));
	const __m128i zero = _mm_setzero_si128();
	__m128i v, d;
	unsigned m;
	char tail[16];

	for (; i < n; i += 16) {
		if (n - i >= 16)
			v = _mm_loadu_si128((const __m128i *)(s + i));
		else {
			/* The last bytes, padded with NULs (not letters). */
			memset(tail, 0, sizeof(tail));
			memcpy(tail, s + i, n - i);
			v = _mm_loadu_si128((const __m128i *)tail);
		}
		/* (c | 0x20) - 'a' < 26 unsigned, or c >= 0x80. */
		d = _mm_xor_si128(_mm_sub_epi8(_mm_or_si128(v, b20), ba), bias);
		m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
		    _mm_cmplt_epi8(d, lim), _mm_cmplt_epi8(v, zero)));
		/* Bit k + 3 of c: byte k; bit k of the sum: its run's 3rd. */
		c = m << 3 | prev;
		runs += seed_bits16((c >> 3) & (c >> 2) & (c >> 1) & ~c &
		    0xffff);
		if (runs >= (size_t)min_words)
			return 1;
		prev = m >> 13 & 7;
	}
#endif
	for (; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		int letter = (ch | 0x20) >= 'a' && (ch | 0x20) <= 'z';

		letter |= ch >= 0x80;
		in = letter ? in + 1 : 0;
		if (in == 3 && (size_t)++runs >= (size_t)min_words)
			return 1;
	}
	return 0;
}

/*
 * Match the batch in one DLP pass and give each new finding the place of
 * the target it came from.
 */
static int
walk_flush(struct walk *w)
{
	unsigned before = w->res->nfindings, i, k;
	int rc;

	if (w->blen == 0)
		return 0;
	rc = dlp_scan(w->sc->dlp, w->batch, w->blen, SCAN_WHERE_URL, w->host,
	    0, w->res);
	for (i = before; i < w->res->nfindings; i++) {
		struct scan_finding *f = &w->res->findings[i];

		for (k = w->nseg; k > 0; k--)
			if (f->offset >= w->seg[k - 1].off)
				break;
		if (k > 0) {
			f->where = w->seg[k - 1].where;
			f->offset -= w->seg[k - 1].off;
		}
	}
	result_dedupe(w->res, before);
	w->blen = 0;
	w->nseg = 0;
	return rc;
}

/*
 * One DLP pass costs a fixed setup plus a per-byte cost, and a URL has a
 * dozen short targets (more with split-secret combinations), so targets
 * are normalised into one batch, one per line, and matched together.  A
 * newline is what "(?m)^" anchors on and ends every token class of the
 * built-in formats, so each target matches as it would alone; only the
 * formats spelling a separator with \s ("secret_access_key = <40>") could
 * join a target ending in the name to the next starting with the value,
 * an extra finding that is itself a leak.  "$" (end of text only) is the
 * one thing a user pattern loses: it matches at the batch's end.
 */
static int
walk_target(void *ctx, const char *s, size_t n, enum scan_where where)
{
	struct walk *w = ctx;
	unsigned before = w->res->nfindings;
	size_t m;
	int rc = 0;

	switch (w->kind) {
	case WALK_DLP:
		if (n >= WALK_BATCH / 2) {
			/* Too big to share a batch: matched on its own. */
			if ((rc = walk_flush(w)) != 0)
				return rc;
			m = norm_for_dlp(s, n, w->norm);
			rc = dlp_scan(w->sc->dlp, w->norm, m, where, w->host, 0,
			    w->res);
			break;
		}
		if ((w->blen + n + 1 > WALK_BATCH || w->nseg == WALK_SEGS) &&
		    (rc = walk_flush(w)) != 0)
			return rc;
		m = norm_for_dlp(s, n, w->batch + w->blen);
		w->seg[w->nseg].off = w->blen;
		w->seg[w->nseg].len = m;
		w->seg[w->nseg++].where = where;
		w->blen += m;
		w->batch[w->blen++] = '\n';
		return 0;
	case WALK_SEED:
		if (seed_words_possible(s, n, w->sc->seed_min_words))
			rc = dlp_scan_seed(w->sc->dlp, s, n, where, w->res);
		break;
	case WALK_SECRETS:
		rc = dlp_scan_secrets(w->sc->dlp, s, n, where, w->res);
		break;
	}
	result_dedupe(w->res, before);
	return rc;
}

/* Go's %q for a short ASCII item, truncated at REASON_QUOTE_MAX bytes. */
static const char *
reason_quote(char *dst, size_t cap, const char *s, size_t n)
{
	size_t i, o = 0;

	if (cap < 8)
		return "";
	dst[o++] = '"';
	for (i = 0; i < n && i < REASON_QUOTE_MAX && o + 6 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			o += snprintf(dst + o, cap - o, "\\x%02x", c);
		} else
			dst[o++] = (char)c;
	}
	if (i < n && o + 4 < cap) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return dst;
}

static double
entropy_score(double h)
{
	return h / 8.0 > 1.0 ? 1.0 : h / 8.0;
}

/* Host-level layers, shared by URL, SNI and DNS checks. */

static int
layer_allowlist(const struct scanner *sc, const char *host, size_t hlen,
    enum scan_where where, struct scan_result *res)
{
	if (!sc->strict || sc->allowlist.n == 0 ||
	    domain_list_find(&sc->allowlist, host, hlen) != NULL)
		return 0;
	scan_result_add(res, "allowlist", NULL, NULL, where, 0, 1.0, 0, NULL,
	    0, "domain not in allowlist: %s", host);
	return 1;
}

static int
layer_blocklist(const struct scanner *sc, const char *host, size_t hlen,
    enum scan_where where, struct scan_result *res)
{
	const char *p = domain_list_find(&sc->blocklist, host, hlen);

	if (p == NULL)
		return 0;
	scan_result_add(res, "blocklist", NULL, NULL, where, 0, 1.0, 0, NULL,
	    0, "domain blocked: %s matches %s", host, p);
	return 1;
}

/* The literal-IP SSRF floor when the configured check is off. */
static int
layer_core_ssrf(const struct scanner *sc, const char *host,
    enum ip_form form, const struct ipaddr *ip, enum scan_where where,
    struct scan_result *res)
{
	if (sc->ssrf.n > 0 || form == IP_FORM_NONE ||
	    cidr_set_find(&sc->core, ip) == NULL ||
	    cidr_set_find(&sc->ip_allow, ip) != NULL)
		return 0;
	scan_result_add(res, "core_ssrf", NULL, NULL, where, 0, 1.0, 0, NULL,
	    0, "core SSRF: %s is a private/internal IP address", host);
	return 1;
}

static int
layer_ssrf_literal(const struct scanner *sc, const char *host,
    enum ip_form form, const struct ipaddr *ip, enum scan_where where,
    struct scan_result *res)
{
	char ipbuf[IP_STR_MAX];

	if (sc->ssrf.n == 0 || form == IP_FORM_NONE ||
	    cidr_set_find(&sc->ssrf, ip) == NULL ||
	    cidr_set_find(&sc->ip_allow, ip) != NULL)
		return 0;
	scan_result_add(res, "ssrf", NULL, NULL, where, 0, 1.0, 0, NULL, 0,
	    "SSRF blocked: %s resolves to internal IP %s", host,
	    ip_format(ip, ipbuf, sizeof(ipbuf)));
	return 1;
}

static int
layer_subdomain_entropy(const struct scanner *sc, const char *host,
    size_t hlen, enum ip_form form, enum scan_where where,
    struct scan_result *res)
{
	struct scan_finding *f;
	size_t off, len;
	double h;

	if (sc->subdomain_entropy_threshold <= 0 || form != IP_FORM_NONE ||
	    domain_list_find(&sc->sub_excl, host, hlen) != NULL ||
	    !domain_entropy_label(host, hlen, sc->subdomain_entropy_threshold,
	    &off, &len, &h))
		return 0;
	/* The label may be the exfiltrated data: only its redacted form. */
	f = scan_result_add(res, "subdomain_entropy", NULL, NULL, where, off,
	    entropy_score(h), 0, host + off, len, "high entropy subdomain");
	if (f != NULL)
		snprintf(f->reason, sizeof(f->reason),
		    "high entropy subdomain label \"%s\" (%.2f > %.2f threshold)",
		    f->redacted, h, sc->subdomain_entropy_threshold);
	return 1;
}

/* pre-DNS host layers in pipelock order: allowlist, blocklist, core SSRF. */
static int
host_policy(const struct scanner *sc, const char *host, size_t hlen,
    enum ip_form form, const struct ipaddr *ip, enum scan_where where,
    struct scan_result *res)
{
	return layer_allowlist(sc, host, hlen, where, res) ||
	    layer_blocklist(sc, host, hlen, where, res) ||
	    layer_core_ssrf(sc, host, form, ip, where, res);
}

static void
walk_init(struct walk *w, const struct scanner *sc, struct scan_result *res,
    const char *host, char *norm)
{
	w->sc = sc;
	w->res = res;
	w->host = host;
	w->norm = norm;
	w->kind = WALK_DLP;
	w->blen = 0;
	w->nseg = 0;
}

static int
url_layer_dlp(const struct scanner *sc, const struct url *u,
    const struct url_scratch *s, char *norm, struct scan_result *res)
{
	struct walk w;
	struct url_target_cb cb = { walk_target, &w };
	int rc;

	walk_init(&w, sc, res, u->host, norm);
	if ((rc = url_dlp_targets(u, s, &cb)) != 0 ||
	    (rc = walk_flush(&w)) != 0 ||
	    (rc = url_query_combos(u, s, &cb)) != 0 ||
	    (rc = walk_flush(&w)) != 0)
		return rc;
	if (sc->seed_enabled) {
		w.kind = WALK_SEED;
		if ((rc = url_seed_targets(u, s, &cb)) != 0)
			return rc;
	}
	w.kind = WALK_SECRETS;
	return url_secret_targets(u, s, &cb);
}

static int
url_layer_entropy(const struct scanner *sc, const struct url *u,
    const struct url_scratch *s, struct scan_result *res)
{
	struct url_entropy_hit hit;
	struct scan_finding *f;
	char q[REASON_QUOTE_MAX * 4 + 8];
	double thr = sc->entropy_threshold;
	int skip_path;

	if (thr <= 0)
		return 0;
	skip_path = domain_list_find(&sc->sub_excl, u->host, u->hostlen) !=
	    NULL;
	if (!url_entropy(u, s, thr, skip_path, &hit))
		return 0;
	switch (hit.kind) {
	case URL_ENTROPY_PATH:
		scan_result_add(res, "entropy", NULL, NULL, SCAN_WHERE_PATH, 0,
		    entropy_score(hit.entropy), 0, hit.item, hit.item_len,
		    "high entropy path segment (%.2f > %.2f threshold)",
		    hit.entropy, thr);
		break;
	case URL_ENTROPY_QUERY_KEY:
		f = scan_result_add(res, "entropy", NULL, NULL,
		    SCAN_WHERE_QUERY, 0, entropy_score(hit.entropy), 0,
		    hit.item, hit.item_len, "high entropy query key");
		if (f != NULL)
			snprintf(f->reason, sizeof(f->reason),
			    "high entropy query key \"%s\" (%.2f > %.2f threshold)",
			    f->redacted, hit.entropy, thr);
		break;
	default:
		scan_result_add(res, "entropy", NULL, NULL, SCAN_WHERE_QUERY, 0,
		    entropy_score(hit.entropy), 0, hit.item, hit.item_len,
		    "high entropy query param %s (%.2f > %.2f threshold)",
		    reason_quote(q, sizeof(q), hit.key, hit.key_len),
		    hit.entropy, thr);
		break;
	}
	return 1;
}

/* Layers after parsing; 1 when one blocked, -1 on error. */
static int
url_layers(const struct scanner *sc, const struct url *u,
    const struct url_scratch *s, char *norm, struct scan_result *res)
{
	char q[64];
	const char *r;
	int rc;

	if (!url_scheme_ok(u)) {
		size_t i, n = u->scheme_len < 32 ? u->scheme_len : 32;

		/* Go lowercases the scheme; it holds only [a-z0-9+.-]. */
		q[0] = '"';
		for (i = 0; i < n; i++)
			q[i + 1] = u->raw[i] >= 'A' && u->raw[i] <= 'Z' ?
			    u->raw[i] + ('a' - 'A') : u->raw[i];
		q[n + 1] = '"';
		q[n + 2] = '\0';
		scan_result_add(res, "scheme", NULL, NULL, SCAN_WHERE_URL, 0,
		    1.0, 0, NULL, 0, "scheme %s not allowed: only http and https",
		    q);
		return 1;
	}
	if ((r = url_crlf(u->raw, u->len)) != NULL) {
		scan_result_add(res, "crlf_injection", NULL, NULL,
		    SCAN_WHERE_URL, 0, 0.9, 0, NULL, 0, "%s", r);
		return 1;
	}
	if ((r = url_traversal(u)) != NULL) {
		scan_result_add(res, "path_traversal", NULL, NULL,
		    SCAN_WHERE_PATH, 0, 0.7, 0, NULL, 0, "%s", r);
		return 1;
	}
	if (host_policy(sc, u->host, u->hostlen, u->ipform, &u->ip,
	    SCAN_WHERE_HOST, res))
		return 1;
	if ((rc = url_layer_dlp(sc, u, s, norm, res)) != 0)
		return rc;
	if (url_layer_entropy(sc, u, s, res) ||
	    layer_subdomain_entropy(sc, u->host, u->hostlen, u->ipform,
	    SCAN_WHERE_HOST, res) ||
	    layer_ssrf_literal(sc, u->host, u->ipform, &u->ip,
	    SCAN_WHERE_HOST, res))
		return 1;
	if (sc->max_url_length > 0 && u->len > sc->max_url_length) {
		scan_result_add(res, "length", NULL, NULL, SCAN_WHERE_URL, 0,
		    0.8, 0, NULL, 0, "URL length %zu exceeds maximum %zu",
		    u->len, sc->max_url_length);
		return 1;
	}
	return 0;
}

int
scanner_check_url(const struct scanner *sc, const char *url, size_t len,
    struct scan_result *res)
{
	char stack[(URL_SCRATCH_BUFS + 1) * url_scratch_cap(URL_INLINE_MAX)];
	struct url_scratch s;
	struct url u;
	char *mem = stack, *norm;
	size_t i;
	int rc;

	scan_result_reset(res);
	if (url == NULL)
		return scanner_verdict(sc, res, -1);
	if (len > URL_SCAN_MAX) {
		scan_result_add(res, "length", NULL, NULL, SCAN_WHERE_URL, 0,
		    0.8, 0, NULL, 0, "URL length %zu exceeds maximum %d", len,
		    URL_SCAN_MAX);
		return scanner_verdict(sc, res, 1);
	}
	if (url_parse(url, len, &u) == -1) {
		scan_result_add(res, "parser", NULL, NULL, SCAN_WHERE_URL, 0,
		    1.0, 0, NULL, 0, "invalid URL");
		return scanner_verdict(sc, res, 1);
	}
	s.cap = url_scratch_cap(len > URL_INLINE_MAX ? len : URL_INLINE_MAX);
	if (len > URL_INLINE_MAX &&
	    (mem = malloc((URL_SCRATCH_BUFS + 1) * s.cap)) == NULL)
		return scanner_verdict(sc, res, -1);
	for (i = 0; i < URL_SCRATCH_BUFS; i++)
		s.buf[i] = mem + i * s.cap;
	norm = mem + URL_SCRATCH_BUFS * s.cap;
	rc = url_layers(sc, &u, &s, norm, res);
	if (mem != stack)
		free(mem);
	return scanner_verdict(sc, res, rc);
}

/* DLP over a bare name: as given, labels joined, label decodings. */
static int
domain_layer_dlp(const struct scanner *sc, const char *name, size_t len,
    enum scan_where where, struct scan_result *res)
{
	char norm[DOMAIN_BUF], joined[DOMAIN_BUF], dec[DOMAIN_BUF];
	struct walk w;
	size_t jn, i, start, m;
	int rc;

	walk_init(&w, sc, res, name, norm);

	jn = domain_join_labels(name, len, '\0', joined);
	if ((rc = walk_target(&w, name, len, where)) != 0 ||
	    (jn != len && (rc = walk_target(&w, joined, jn, where)) != 0))
		return rc;
	/*
	 * Tunnels carry data hex- or base32-encoded in labels; a label long
	 * enough to hold a key is decoded and matched too.
	 */
	for (i = 0, start = 0; i <= len; i++) {
		if (i < len && name[i] != '.')
			continue;
		if (i - start >= URL_SEGMENT_DECODE_MIN) {
			if (((m = norm_hex_decode(name + start, i - start, dec,
			    sizeof(dec))) != (size_t)-1 &&
			    (rc = walk_target(&w, dec, m, where)) != 0) ||
			    ((m = norm_b32_decode(name + start, i - start,
			    dec, sizeof(dec))) != (size_t)-1 &&
			    (rc = walk_target(&w, dec, m, where)) != 0))
				return rc;
		}
		start = i + 1;
	}
	if ((rc = walk_flush(&w)) != 0)
		return rc;
	if (sc->seed_enabled) {
		w.kind = WALK_SEED;
		m = domain_join_labels(name, len, ' ', joined);
		if ((rc = walk_target(&w, joined, m, where)) != 0)
			return rc;
	}
	w.kind = WALK_SECRETS;
	if ((rc = walk_target(&w, name, len, where)) != 0)
		return rc;
	jn = domain_join_labels(name, len, '\0', joined);
	return jn != len ? walk_target(&w, joined, jn, where) : 0;
}

static int
domain_layer_tunnel(const char *name, size_t len, struct scan_result *res)
{
	struct dns_tunnel_hit hit;
	struct scan_finding *f;

	if (!domain_tunnel(name, len, &hit))
		return 0;
	switch (hit.rule) {
	case DNS_TUNNEL_NAME_LENGTH:
		scan_result_add(res, "dns_tunnel", NULL, NULL, SCAN_WHERE_DNS,
		    0, 0.9, 0, NULL, 0,
		    "DNS tunnelling suspected: name length %zu exceeds %d",
		    hit.value, DOMAIN_NAME_MAX);
		break;
	case DNS_TUNNEL_LABEL_COUNT:
		scan_result_add(res, "dns_tunnel", NULL, NULL, SCAN_WHERE_DNS,
		    0, 0.9, 0, NULL, 0,
		    "DNS tunnelling suspected: %zu labels exceed %d",
		    hit.value, DNS_TUNNEL_MAX_LABELS);
		break;
	case DNS_TUNNEL_ENCODED_LABEL:
		f = scan_result_add(res, "dns_tunnel", NULL, NULL,
		    SCAN_WHERE_DNS, hit.label_off, 0.9, 0,
		    name + hit.label_off, hit.label_len,
		    "DNS tunnelling suspected");
		if (f != NULL)
			snprintf(f->reason, sizeof(f->reason),
			    "DNS tunnelling suspected: encoded label \"%s\" "
			    "(entropy %.2f > %.2f)", f->redacted, hit.entropy,
			    DNS_TUNNEL_LABEL_ENTROPY);
		break;
	default:
		scan_result_add(res, "dns_tunnel", NULL, NULL, SCAN_WHERE_DNS,
		    0, 0.9, 0, NULL, 0,
		    "DNS tunnelling suspected: %zu encoded characters in "
		    "subdomain labels", hit.value);
		break;
	}
	return 1;
}

static int
domain_layers(const struct scanner *sc, const char *raw, size_t rawlen,
    enum scan_where where, struct scan_result *res)
{
	char host[DOMAIN_BUF], orig[DOMAIN_BUF];
	struct ipaddr ip;
	enum ip_form form;
	size_t hlen;
	int rc;

	hlen = domain_normalize(raw, rawlen, host, sizeof(host));
	if (hlen == (size_t)-1) {
		if (where == SCAN_WHERE_DNS)
			scan_result_add(res, "dns_tunnel", NULL, NULL, where,
			    0, 0.9, 0, NULL, 0, "DNS tunnelling suspected: "
			    "name length %zu exceeds %d", rawlen,
			    DOMAIN_NAME_MAX);
		else
			scan_result_add(res, "parser", NULL, NULL, where, 0,
			    1.0, 0, NULL, 0, "invalid host name (%zu bytes)",
			    rawlen);
		return 1;
	}
	memset(&ip, 0, sizeof(ip));
	form = ip_parse(host, hlen, &ip);
	if (form == IP_FORM_V4_ALT)
		hlen = strlen(ip_format(&ip, host, sizeof(host)));
	if (host_policy(sc, host, hlen, form, &ip, where, res))
		return 1;
	/*
	 * Matching is on the name as sent: DNS ignores case, known secrets
	 * and case-sensitive pattern parts do not.
	 */
	if (form == IP_FORM_NONE) {
		/* Not an IP: hlen is the raw length less a trailing dot. */
		memcpy(orig, raw, hlen);
		orig[hlen] = '\0';
		if ((rc = domain_layer_dlp(sc, orig, hlen, where, res)) != 0)
			return rc;
	}
	if (layer_subdomain_entropy(sc, host, hlen, form, where, res))
		return 1;
	if (where == SCAN_WHERE_DNS && form == IP_FORM_NONE &&
	    domain_layer_tunnel(host, hlen, res))
		return 1;
	return layer_ssrf_literal(sc, host, form, &ip, where, res);
}

int
scanner_check_domain(const struct scanner *sc, const char *name,
    enum scan_where where, struct scan_result *res)
{
	scan_result_reset(res);
	if (name == NULL)
		return scanner_verdict(sc, res, -1);
	return scanner_verdict(sc, res,
	    domain_layers(sc, name, strnlen(name, DOMAIN_BUF), where, res));
}

int
scanner_check_text(const struct scanner *sc, const char *buf, size_t len,
    enum scan_where where, struct scan_result *res)
{
	scan_result_reset(res);
	if (buf == NULL && len > 0)
		return scanner_verdict(sc, res, -1);
	return scanner_verdict(sc, res,
	    dlp_scan_text(sc->dlp, buf, len, where, NULL, 0, res));
}

int
scanner_check_addr(const struct scanner *sc, const char *host,
    const struct sockaddr *sa, struct scan_result *res)
{
	char name[DOMAIN_BUF], ipbuf[IP_STR_MAX];
	struct ipaddr ip, hip;
	const char *shown;
	size_t hlen = 0;
	int literal = 1;

	scan_result_reset(res);
	if (ip_from_sockaddr(sa, &ip) == -1)
		return scanner_verdict(sc, res, -1);
	ip_format(&ip, ipbuf, sizeof(ipbuf));
	if (host != NULL && host[0] != '\0') {
		hlen = domain_normalize(host, strnlen(host, DOMAIN_BUF), name,
		    sizeof(name));
		if (hlen == (size_t)-1) {
			/* Too long to be a name we matched: never trusted. */
			hlen = 0;
			name[0] = '\0';
		}
		literal = ip_parse(name, hlen, &hip) != IP_FORM_NONE;
	}
	shown = hlen > 0 ? name : ipbuf;
	if (cidr_set_find(&sc->ip_allow, &ip) != NULL)
		return scanner_verdict(sc, res, 0);
	if (sc->ssrf.n == 0) {
		/* internal: []: only the literal-IP floor remains. */
		if (!literal || cidr_set_find(&sc->core, &ip) == NULL)
			return scanner_verdict(sc, res, 0);
		scan_result_add(res, "core_ssrf", NULL, NULL, SCAN_WHERE_HOST,
		    0, 1.0, 0, NULL, 0,
		    "core SSRF: %s is a private/internal IP address", shown);
		return scanner_verdict(sc, res, 1);
	}
	/* trusted_domains exempt names, never IP literals. */
	if (!literal && domain_list_find(&sc->trusted, name, hlen) != NULL)
		return scanner_verdict(sc, res, 0);
	if (cidr_set_find(&sc->ssrf, &ip) == NULL)
		return scanner_verdict(sc, res, 0);
	scan_result_add(res, "ssrf", NULL, NULL, SCAN_WHERE_HOST, 0, 1.0, 0,
	    NULL, 0, "SSRF blocked: %s resolves to internal IP %s", shown,
	    ipbuf);
	return scanner_verdict(sc, res, 1);
}
