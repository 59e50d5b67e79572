/*
 * test_url.c - URL parsing with Go net/url's rules, the CRLF and path
 * traversal layers, iterative decoding and the DLP target enumeration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scanner/url.h"
#include "tap.h"

#define MAXT	8192

struct collect {
	char		*t[MAXT];
	size_t		 n[MAXT];
	enum scan_where	 w[MAXT];
	size_t		 count;
	size_t		 stop_at;	/* 1-based target index to stop on */
};

static int
collect_fn(void *ctx, const char *s, size_t n, enum scan_where where)
{
	struct collect *c = ctx;

	if (c->count < MAXT) {
		c->t[c->count] = malloc(n + 1);
		memcpy(c->t[c->count], s, n);
		c->t[c->count][n] = '\0';
		c->n[c->count] = n;
		c->w[c->count] = where;
	}
	c->count++;
	return c->stop_at != 0 && c->count == c->stop_at;
}

static void
collect_free(struct collect *c)
{
	size_t i;

	for (i = 0; i < c->count && i < MAXT; i++)
		free(c->t[i]);
	memset(c, 0, sizeof(*c));
}

static int
has(const struct collect *c, const char *s, enum scan_where w)
{
	size_t i;

	for (i = 0; i < c->count && i < MAXT; i++)
		if (c->n[i] == strlen(s) && memcmp(c->t[i], s, c->n[i]) == 0 &&
		    c->w[i] == w)
			return 1;
	return 0;
}

static struct url u;
static char bufs[URL_SCRATCH_BUFS][4096];
static struct url_scratch scr;
static struct collect col;

/* A test name without raw control bytes (they would break TAP lines). */
static const char *
esc(const char *s)
{
	static char b[4][256];
	static int k;
	char *o = b[k++ % 4];
	size_t i = 0;

	for (; *s != '\0' && i < sizeof(b[0]) - 5; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			i += snprintf(o + i, 5, "\\x%02x", (unsigned char)*s);
		else
			o[i++] = *s;
	}
	o[i] = '\0';
	return o;
}

static int
parse(const char *s)
{
	return url_parse(s, strlen(s), &u);
}

struct parse_case {
	const char	*url;
	int		 ok;
	const char	*host;		/* Hostname(), when ok */
};

static const struct parse_case parse_cases[] = {
	{ "https://example.com/", 1, "example.com" },
	{ "HTTPS://Example.COM:443/a?b#c", 1, "example.com" },
	{ "http://user:pw@host.example:8080/x", 1, "host.example" },
	{ "http://a@b@host/", 1, "host" },		/* last '@' */
	{ "http://[::1]/", 1, "::1" },
	{ "http://[::1]:8080/", 1, "::1" },
	{ "http://[fe80::1%25eth0]/", 1, "fe80::1%eth0" },
	{ "http://0x7f.1/", 1, "127.0.0.1" },
	{ "http://2130706433:80/", 1, "127.0.0.1" },
	{ "http://0177.0.0.1/", 1, "127.0.0.1" },
	{ "http://h%C3%A9.example/", 1, "h\xc3\xa9.example" },
	{ "http://example.com", 1, "example.com" },
	{ "http://example.com?q=1", 1, "example.com" },
	{ "http:opaque", 1, "" },
	{ "//example.com/x", 1, "example.com" },
	{ "/relative/path", 1, "" },
	{ "", 1, "" },
	{ "http://example.com/a b", 1, "example.com" },	/* Go allows */
	{ "http://example.com/?q=%zz", 1, "example.com" },	/* query unchecked */
	{ "http://example.com/%zz", 0, NULL },		/* bad path escape */
	{ "http://example.com/#%z", 0, NULL },		/* bad fragment escape */
	{ "http://exa mple.com/", 0, NULL },		/* space in host */
	{ "http://exa{mple.com/", 0, NULL },
	{ "http://%41.example.com/", 0, NULL },		/* ASCII escaped in host */
	{ "http://example.com:80a/", 0, NULL },		/* bad port */
	{ "http://[::1/", 0, NULL },			/* missing ']' */
	{ "http://[::1]x/", 0, NULL },
	{ "http://a\nb/", 0, NULL },			/* control byte */
	{ "http://a/\r\n", 0, NULL },
	{ "http://a/\x7f", 0, NULL },
	{ "://x", 0, NULL },				/* missing scheme */
	{ "a:b/c", 1, "" },				/* scheme "a", opaque */
	{ "1a:b", 0, NULL },		/* no scheme, colon in first segment */
	{ "http://us er@host/", 0, NULL },		/* bad userinfo */
};

static void
test_parse(void)
{
	size_t i;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		int r = parse(c->url);

		is_int(r, c->ok ? 0 : -1, "parse \"%s\"", esc(c->url));
		if (c->ok && r == 0)
			is_str(u.host, c->host, "host of \"%s\"", c->url);
	}
	parse("HTTPS://x/");
	ok(url_scheme_ok(&u), "HTTPS is https");
	parse("http://x/");
	ok(url_scheme_ok(&u), "http");
	parse("ftp://x/");
	ok(!url_scheme_ok(&u), "ftp is not");
	parse("httpx://x/");
	ok(!url_scheme_ok(&u), "httpx is not");
	parse("/x");
	ok(!url_scheme_ok(&u), "no scheme is not");

	parse("http://0x7f.1:8080/p?q");
	is_int(u.ipform, IP_FORM_V4_ALT, "alt IPv4 recognised");
	{
		size_t n;
		const char *f = url_full(&u, bufs[4], &n);

		ok(n == strlen("http://127.0.0.1:8080/p?q") &&
		    memcmp(f, "http://127.0.0.1:8080/p?q", n) == 0,
		    "full URL carries the canonical host");
	}
	parse("http://h/a/b?x=1&y=2#frag");
	ok(u.path_len == 4 && memcmp(u.raw + u.path_off, "/a/b", 4) == 0,
	    "raw path");
	ok(u.has_query && u.query_len == 7 &&
	    memcmp(u.raw + u.query_off, "x=1&y=2", 7) == 0, "raw query");
}

struct layer_case {
	const char	*url;
	const char	*reason;	/* NULL: clean */
};

static const struct layer_case crlf_cases[] = {
	{ "http://x/a%0d%0aSet-Cookie:x", "CRLF injection sequence in URL" },
	{ "http://x/a%0D%0Ab", "CRLF injection sequence in URL" },
	{ "http://x/a%250d%250ab", "double-encoded CRLF injection sequence in URL" },
	{ "http://x/?q=%0a", "encoded CR or LF in URL" },
	{ "http://x/?q=%0D", "encoded CR or LF in URL" },
	{ "http://x/?q=%250A", "double-encoded CR or LF in URL" },
	{ "http://x/a\r\nb", "raw CRLF bytes in URL" },
	{ "http://x/a#%0d%0a", NULL },		/* fragment never sent */
	{ "http://x/a%0b%0c%20", NULL },
	{ "http://x/%2525%0", NULL },
	{ "http://x/a%0", NULL },
};

static const struct layer_case trav_cases[] = {
	{ "http://x/a/../b", "path traversal sequence in URL" },
	{ "http://x/a/..", "path traversal sequence in URL" },
	{ "http://x/a/%2e%2e/b", "path traversal sequence in URL" },
	{ "http://x/a/%2E./b", "path traversal sequence in URL" },
	{ "http://x/a/.%2e%2fb", "path traversal sequence in URL" },
	{ "http://x/a%2f..%5cb", "path traversal sequence in URL" },
	{ "http://x/a\\..\\b", "path traversal sequence in URL" },
	{ "http://x/a/%252e%252e/b", "double-encoded path traversal in URL" },
	{ "http://x/a/%252E%252E%252fb", "double-encoded path traversal in URL" },
	{ "http://x/a/%252e%252e", "double-encoded path traversal in URL" },
	{ "http://x/a/...b/c", NULL },
	{ "http://x/a..b/c", NULL },
	{ "http://x/node-20.1.0.tgz", NULL },
	{ "http://x/a/?q=/../", NULL },		/* query is not the path */
	{ "http://x/a/%2e%2eb", NULL },
	{ "http://x/a/%252e%252eb", NULL },
};

static void
test_layers(void)
{
	size_t i;

	for (i = 0; i < sizeof(crlf_cases) / sizeof(crlf_cases[0]); i++) {
		const char *s = crlf_cases[i].url;

		is_str(url_crlf(s, strlen(s)), crlf_cases[i].reason,
		    "crlf \"%s\"", esc(s));
	}
	for (i = 0; i < sizeof(trav_cases) / sizeof(trav_cases[0]); i++) {
		const char *s = trav_cases[i].url;

		if (!ok(parse(s) == 0, "parse \"%s\"", s))
			continue;
		is_str(url_traversal(&u), trav_cases[i].reason,
		    "traversal \"%s\"", s);
	}
}

static void
test_decode(void)
{
	char out[256];
	const char *r;
	size_t n;
	const char *plain = "abc-def";

	r = url_unescape_iter(plain, strlen(plain), out, &n);
	ok(r == plain && n == 7, "nothing to decode: input returned");
	r = url_unescape_iter("a%2Bb+c", 7, out, &n);
	ok(n == 5 && memcmp(r, "a b c", 5) == 0,
	    "%%2B decodes to '+', then to ' ' (QueryUnescape until fixpoint)");
	r = url_unescape_iter("%25252541KIA", 12, out, &n);
	ok(n == 4 && memcmp(r, "AKIA", 4) == 0, "four layers decoded");
	r = url_unescape_iter("100%zz%41", 9, out, &n);
	ok(n == 7 && memcmp(r, "100%zzA", 7) == 0,
	    "a stray %% does not stop decoding the rest");
	{
		/* 600 layers: decoding stops at URL_DECODE_ROUNDS. */
		static char deep[3000], out2[3000];
		size_t k, len = 0;

		deep[len++] = '%';
		for (k = 0; k < 600; k++) {
			deep[len++] = '2';
			deep[len++] = '5';
		}
		memcpy(deep + len, "41", 2);
		len += 2;
		r = url_unescape_iter(deep, len, out2, &n);
		ok(n > 3 && n < len, "bounded rounds: %zu -> %zu bytes", len, n);
	}
}

static void
targets(const char *url, int (*fn)(const struct url *,
    const struct url_scratch *, const struct url_target_cb *))
{
	struct url_target_cb cb = { collect_fn, &col };

	collect_free(&col);
	if (parse(url) != 0) {
		ok(0, "parse \"%s\" for targets", url);
		return;
	}
	fn(&u, &scr, &cb);
}

static void
test_targets(void)
{
	struct url_target_cb cb = { collect_fn, &col };

	targets("https://Sub.Example.com/p%41th/x.y?k%31=v%2541&b=c+d#f",
	    url_dlp_targets);
	ok(has(&col, "https://Sub.Example.com/p%41th/x.y?k%31=v%2541&b=c+d#f",
	    SCAN_WHERE_URL), "full URL");
	ok(has(&col, "/pAth/x.y", SCAN_WHERE_PATH), "decoded path");
	ok(has(&col, "k1=vA&b=c d", SCAN_WHERE_QUERY), "iteratively decoded query");
	ok(has(&col, "k1", SCAN_WHERE_QUERY), "decoded key");
	ok(has(&col, "vA", SCAN_WHERE_QUERY), "iteratively decoded value");
	ok(has(&col, "c d", SCAN_WHERE_QUERY), "'+' as space");
	ok(has(&col, "cd", SCAN_WHERE_QUERY), "noise-stripped value");
	ok(has(&col, "subexamplecom", SCAN_WHERE_HOST), "host without dots");
	ok(has(&col, "pAthxy", SCAN_WHERE_PATH), "noise-stripped path");
	ok(has(&col, "vAc d", SCAN_WHERE_QUERY), "values concatenated");
	ok(has(&col, "vAcd", SCAN_WHERE_QUERY), "concatenation noise-stripped");

	targets("https://h/736b2d616e742d6170693033/?x=c2stYW50LWFwaTAz",
	    url_dlp_targets);
	ok(has(&col, "sk-ant-api03", SCAN_WHERE_PATH), "hex path segment decoded");
	ok(has(&col, "sk-ant-api03", SCAN_WHERE_QUERY), "base64 value decoded");
	targets("https://h/ONSWG4TFOQ======/", url_dlp_targets);
	ok(has(&col, "secret", SCAN_WHERE_PATH), "base32 path segment decoded");
	targets("https://h/a%252Fb/", url_dlp_targets);
	ok(has(&col, "/a%2Fb/", SCAN_WHERE_PATH) &&
	    has(&col, "/a/b/", SCAN_WHERE_PATH), "double-encoded raw path");

	/* Stop as soon as the callback asks. */
	collect_free(&col);
	col.stop_at = 2;
	parse("https://h/p?a=1&b=2");
	is_int(url_dlp_targets(&u, &scr, &cb), 1, "walk stops on 1");
	is_int(col.count, 2, "no target after the stop");
	col.stop_at = 0;

	targets("https://h/?a=1&b=2", url_query_combos);
	is_int(col.count, 0, "two values: no combinations");
	targets("https://h/?a=x&b=y&c=z", url_query_combos);
	is_int(col.count, 4, "three values: 3 pairs + 1 triple");
	ok(has(&col, "xz", SCAN_WHERE_QUERY) && has(&col, "xyz", SCAN_WHERE_QUERY),
	    "ordered combinations");
	{
		char url[512];
		size_t o = 0, i;

		o += snprintf(url + o, sizeof(url) - o, "https://h/?");
		for (i = 0; i < 25; i++)
			o += snprintf(url + o, sizeof(url) - o, "k%zu=%c&", i,
			    (char)('a' + i));
		targets(url, url_query_combos);
		/* C(20,2) + C(20,3) + C(20,4) of the first 20 values. */
		is_int(col.count, 190 + 1140 + 4845, "combinations bounded");
		ok(!has(&col, "ay", SCAN_WHERE_QUERY), "value 25 not combined");
	}

	targets("https://abandon.ability.example.com/a/b?w=x+y&v=z",
	    url_seed_targets);
	ok(has(&col, "abandon ability example com", SCAN_WHERE_HOST),
	    "seed: host labels as words");
	ok(has(&col, " a b", SCAN_WHERE_PATH), "seed: path as words");
	ok(has(&col, "x y z", SCAN_WHERE_QUERY), "seed: values space-joined");

	targets("https://h/a%2541b", url_secret_targets);
	ok(has(&col, "https://h/a%2541b", SCAN_WHERE_URL) &&
	    has(&col, "https://h/aAb", SCAN_WHERE_URL),
	    "secrets: full URL and its decode");
	collect_free(&col);
}

static void
test_entropy(void)
{
	struct url_entropy_hit hit;

	parse("https://h/aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5z/x");
	ok(url_entropy(&u, &scr, 4.5, 0, &hit) && hit.kind == URL_ENTROPY_PATH &&
	    hit.item_len == 37, "high-entropy path segment");
	ok(!url_entropy(&u, &scr, 4.5, 1, &hit), "path skipped when excluded");
	parse("https://h/?token=aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5z");
	ok(url_entropy(&u, &scr, 4.5, 1, &hit) &&
	    hit.kind == URL_ENTROPY_QUERY_VALUE && hit.key_len == 5 &&
	    memcmp(hit.key, "token", 5) == 0,
	    "query value checked even when path is excluded");
	parse("https://h/?aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5z=1");
	ok(url_entropy(&u, &scr, 4.5, 0, &hit) &&
	    hit.kind == URL_ENTROPY_QUERY_KEY, "high-entropy key");
	parse("https://h/0123456789abcdef0123456789abcdef01234567/"
	    "550e8400-e29b-41d4-a716-446655440000?id=6ba7b810-9dad-11d1-80b4-"
	    "00c04fd430c8");
	ok(!url_entropy(&u, &scr, 4.5, 0, &hit), "SHA and UUIDs pass");
	parse("https://h/short/aB3dE5fG7hI9jK1lM3n");
	ok(!url_entropy(&u, &scr, 4.5, 0, &hit), "19-byte segment not checked");
}

int
main(void)
{
	size_t i;

	scr.cap = sizeof(bufs[0]);
	for (i = 0; i < URL_SCRATCH_BUFS; i++)
		scr.buf[i] = bufs[i];
	test_parse();
	test_layers();
	test_decode();
	test_targets();
	test_entropy();
	return tap_done();
}
