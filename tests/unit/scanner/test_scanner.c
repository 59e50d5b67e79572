/*
 * test_scanner.c - the scanner object end to end: pipelock's URL layers in
 * order with their labels, reasons and scores, each with a benign near
 * miss; the canonical smoke tests; URL/DNS evasions; SNI / DNS name checks;
 * resolved-address SSRF checks; enforce: false; benign URL corpora.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scanner/scanner.h"
#include "tap.h"

#define AKEY	"sk-ant-api03-fake1234567890"

static struct scan_result res;

static int name(const struct scanner *sc, const char *n, enum scan_where w);

static void
push(struct strlist *l, const char *s)
{
	l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = strdup(s);
}

static void
clear_list(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static struct scanner *
build(const struct scanner_config *cfg)
{
	char err[256] = "";
	struct scanner *sc = scanner_new(cfg, err, sizeof(err));

	if (sc == NULL)
		diag("scanner_new: %s", err);
	return sc;
}

static int
url(const struct scanner *sc, const char *u)
{
	return scanner_check_url(sc, u, strlen(u), &res);
}

/* The first finding's label, or "" when none. */
static const char *
label(void)
{
	return res.nfindings > 0 ? res.findings[0].scanner : "";
}

static const char *
reason(void)
{
	return res.nfindings > 0 ? res.findings[0].reason : "";
}

static void
blocks(const struct scanner *sc, const char *u, const char *want_label)
{
	int rc = url(sc, u);

	ok(rc == 1 && res.blocked && strcmp(label(), want_label) == 0,
	    "%s blocked by %s", u, want_label);
	if (rc != 1 || strcmp(label(), want_label) != 0)
		diag("  rc %d label \"%s\" reason \"%s\"", rc, label(),
		    reason());
}

static void
allows(const struct scanner *sc, const char *u)
{
	int rc = url(sc, u);

	ok(rc == 0 && !res.blocked && res.nfindings == 0, "%s allowed", u);
	if (rc != 0 || res.nfindings != 0)
		diag("  rc %d label \"%s\" reason \"%s\"", rc, label(),
		    reason());
}

static void
test_config(void)
{
	struct scanner_config cfg;

	scanner_config_defaults(&cfg);
	ok(cfg.enforce == 1 && cfg.strict == 0, "defaults: enforce, balanced");
	is_int(cfg.api_allowlist.n, 10, "default api_allowlist");
	is_int(cfg.blocklist.n, 6, "default blocklist");
	is_str(cfg.blocklist.v[0], "*.pastebin.com", "blocklist[0]");
	is_int(cfg.internal.n, 12, "default internal CIDRs");
	is_str(cfg.internal.v[11], "ff00::/8", "internal[11]");
	is_int(cfg.max_url_length, 2048, "max_url_length");
	ok(cfg.entropy_threshold == 4.5 &&
	    cfg.subdomain_entropy_threshold == 4.0, "entropy thresholds");
	ok(cfg.dlp_include_defaults && cfg.seed_enabled &&
	    cfg.seed_min_words == 12 && cfg.seed_verify_checksum,
	    "DLP defaults");
	is_int(cfg.min_secret_length, 16, "min_secret_length");
	push(&cfg.known_secrets, "a-known-secret-value");
	cfg.patterns = calloc(1, sizeof(*cfg.patterns));
	cfg.npatterns = 1;
	cfg.patterns[0].name = strdup("x");
	cfg.patterns[0].regex = strdup("x");
	push(&cfg.patterns[0].exempt_domains, "a.example");
	scanner_config_clear(&cfg);
	ok(cfg.api_allowlist.v == NULL && cfg.patterns == NULL &&
	    cfg.known_secrets.n == 0 && cfg.max_url_length == 0,
	    "clear frees and zeroes");
	scanner_config_clear(&cfg);
	scanner_config_clear(NULL);

	scanner_config_defaults(&cfg);
	push(&cfg.internal, "10.0.0.0/33");
	ok(build(&cfg) == NULL, "bad internal CIDR refused");
	clear_list(&cfg.internal);
	push(&cfg.ssrf_ip_allowlist, "not-a-cidr");
	ok(build(&cfg) == NULL, "bad ssrf.ip_allowlist refused");
	scanner_config_clear(&cfg);
}

static void
test_smoke(const struct scanner *sc)
{
	blocks(sc, "https://example.com/?key=" AKEY, "dlp");
	is_str(reason(), "DLP match: Anthropic API Key (critical)",
	    "smoke: dlp reason");
	ok(res.findings[0].score == 1.0 &&
	    strcmp(res.findings[0].severity, "critical") == 0,
	    "smoke: score and severity");
	ok(strstr(res.findings[0].redacted, "fake1234567890") == NULL &&
	    strstr(res.findings[0].reason, "fake1234567890") == NULL,
	    "smoke: the secret is not in the finding");
	blocks(sc, "https://pastebin.com/raw/abc123", "blocklist");
	is_str(reason(), "domain blocked: pastebin.com matches *.pastebin.com",
	    "smoke: blocklist reason (wildcard matches apex)");
	allows(sc, "https://docs.python.org/3/");
}

static void
test_layers(const struct scanner *sc)
{
	char *long_url;
	size_t i;

	blocks(sc, "http://exa mple.com/", "parser");
	is_str(reason(), "invalid URL", "parser reason");
	allows(sc, "http://example.com/a b");

	blocks(sc, "ftp://example.com/file", "scheme");
	is_str(reason(), "scheme \"ftp\" not allowed: only http and https",
	    "scheme reason");
	blocks(sc, "FILE:///etc/passwd", "scheme");
	is_str(reason(), "scheme \"file\" not allowed: only http and https",
	    "scheme lowercased in reason");
	blocks(sc, "example.com/path", "scheme");
	allows(sc, "HTTPS://Example.com/");

	blocks(sc, "https://example.com/a%0d%0aSet-Cookie:%20x=1", "crlf_injection");
	ok(res.findings[0].score == 0.9, "crlf score 0.9");
	allows(sc, "https://example.com/a%0b%0c");

	blocks(sc, "https://example.com/static/../../etc/passwd",
	    "path_traversal");
	ok(res.findings[0].score == 0.7 &&
	    strcmp(reason(), "path traversal sequence in URL") == 0,
	    "traversal score and reason");
	blocks(sc, "https://example.com/a/%252e%252e/b", "path_traversal");
	is_str(reason(), "double-encoded path traversal in URL",
	    "double-encoded traversal reason");
	allows(sc, "https://example.com/a/...b/node-1.2.3.tgz");

	blocks(sc, "https://raw.paste.ee/r/abc", "blocklist");
	allows(sc, "https://notpastebin.com/raw/abc");
	allows(sc, "https://pastebin.com.example.org/");

	blocks(sc, "https://example.com/" "ghp_" "abcdefghijklmnopqrstuvwxyz0123456789",
	    "core_dlp");
	allows(sc, "https://example.com/?key=sk-ant-short");

	blocks(sc, "https://example.com/aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5z",
	    "entropy");
	is_str(reason(), "high entropy path segment (4.79 > 4.50 threshold)",
	    "entropy reason");
	ok(res.findings[0].score > 0.598 && res.findings[0].score < 0.600,
	    "entropy score = H/8");
	blocks(sc, "https://example.com/?id=aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5z",
	    "entropy");
	is_str(reason(), "high entropy query param \"id\" (4.79 > 4.50 "
	    "threshold)", "query entropy reason names the key");
	/* "token=<value>" is a credential before it is high-entropy. */
	blocks(sc, "https://example.com/?token=aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5z",
	    "dlp");
	allows(sc, "https://example.com/commit/0123456789abcdef0123456789abcdef01234567");

	blocks(sc, "https://abcdefghijklmnopqrst.example.com/",
	    "subdomain_entropy");
	ok(strncmp(reason(), "high entropy subdomain label \"abcd", 34) == 0 &&
	    strstr(reason(), "(4.32 > 4.00 threshold)") != NULL,
	    "subdomain reason, label redacted: %s", reason());
	allows(sc, "https://documentation.example.com/");

	blocks(sc, "http://10.1.2.3/", "ssrf");
	is_str(reason(), "SSRF blocked: 10.1.2.3 resolves to internal IP 10.1.2.3",
	    "ssrf reason");
	blocks(sc, "http://224.0.0.1/", "ssrf");
	blocks(sc, "http://169.254.169.254/latest/meta-data/", "ssrf");
	blocks(sc, "http://[fc00::1]:8080/", "ssrf");
	allows(sc, "http://198.18.0.1/");
	allows(sc, "http://[2001:db8::1]/");

	long_url = malloc(3000);
	strcpy(long_url, "https://example.com/");
	for (i = strlen(long_url); i < 2048; i++)
		long_url[i] = "abcd/"[i % 5];
	long_url[2048] = '\0';
	allows(sc, long_url);
	strcat(long_url, "x");
	blocks(sc, long_url, "length");
	is_str(reason(), "URL length 2049 exceeds maximum 2048", "length reason");
	ok(res.findings[0].score == 0.8, "length score 0.8");
	free(long_url);
	long_url = malloc(70000);
	memset(long_url, 'a', 70000);
	memcpy(long_url, "https://example.com/", 20);
	ok(scanner_check_url(sc, long_url, 70000, &res) == 1 &&
	    strcmp(label(), "length") == 0, "huge URL blocked before decoding");
	free(long_url);
}

static void
test_order(const struct scanner *sc)
{
	/* Earlier layers win (pipelock short-circuits on the first). */
	blocks(sc, "ftp://pastebin.com/?k=" AKEY, "scheme");
	blocks(sc, "https://pastebin.com/a%0a?k=" AKEY, "crlf_injection");
	blocks(sc, "https://pastebin.com/../?k=" AKEY, "path_traversal");
	blocks(sc, "https://pastebin.com/?k=" AKEY, "blocklist");
	blocks(sc, "http://10.0.0.1/?k=" AKEY, "dlp");	/* ssrf comes later */
	is_int(res.nfindings, 1, "one finding per verdict");
}

static void
test_evasions(const struct scanner *sc)
{
	size_t i;
	int seedpos = 0;

	/* "sk-ant-api03-fake1234567890" in various encodings. */
	blocks(sc, "https://e.com/?key=%73%6b%2d%61%6e%74-api03-fake1234567890",
	    "dlp");
	blocks(sc, "https://e.com/?key=%2573%256b%252dant-api03-fake1234567890",
	    "dlp");
	blocks(sc, "https://e.com/%73k-ant-api03-fake1234567890/x", "dlp");
	blocks(sc, "https://e.com/?v=c2stYW50LWFwaTAzLWZha2UxMjM0NTY3ODkw",
	    "dlp");				/* base64 value */
	ok(res.findings[0].where == SCAN_WHERE_QUERY,
	    "finding placed in the query (batched targets mapped back)");
	blocks(sc, "https://e.com/c2stYW50LWFwaTAzLWZha2UxMjM0NTY3ODkw/",
	    "dlp");				/* base64 segment */
	ok(res.findings[0].where == SCAN_WHERE_PATH, "finding placed in the path");
	blocks(sc, "https://e.com/736b2d616e742d61706930332d66616b65313233343536"
	    "373839302d/", "dlp");		/* hex segment */
	blocks(sc, "https://e.com/?h=73:6b:2d:61:6e:74:2d:61:70:69:30:33:2d:66:"
	    "61:6b:65:31:32:33:34:35:36:37:38:39:30", "dlp");	/* hex, ':' */
	blocks(sc, "https://e.com/?a=sk-ant-&b=api03-fake1234567890", "dlp");
	blocks(sc, "https://e.com/?a=sk-ant-&x=1&b=api03-&y=2&c=fake1234567890",
	    "dlp");				/* split with junk between */
	blocks(sc, "https://e.com/?k=sk-ant-%E2%80%8Bapi03-fake1234567890",
	    "dlp");				/* zero-width space */
	blocks(sc, "https://e.com/?k=sk-ant-\xe2\x80\x8d" "api03-fake1234567890",
	    "dlp");				/* raw zero-width joiner */
	blocks(sc, "https://e.com/s.k.-.a.n.t.-.a.p.i.0.3.-.f.a.k.e.1.2.3.4.5."
	    "6.7.8.9.0", "dlp");		/* dots stripped */
	blocks(sc, "https://sk-ant-api03-.fake1234567890.evil.com/", "dlp");
	blocks(sc, "https://akiaiosf.odnn7example.evil.com/", "core_dlp");
	/* '+' as space: a BIP-39 phrase spread over a query value. */
	blocks(sc, "https://e.com/?m=abandon+abandon+abandon+abandon+abandon+"
	    "abandon+abandon+abandon+abandon+abandon+abandon+about", "dlp");
	is_str(reason(), "DLP match: BIP-39 Seed Phrase (critical)",
	    "seed phrase reason");
	allows(sc, "https://e.com/?m=abandon+abandon+abandon");
	/*
	 * Three-letter words (the shortest) at every alignment of the
	 * seed-word prefilter's 16-byte steps, in the path and the query.
	 */
	for (i = 0; i < 18; i++) {
		char u[256];

		snprintf(u, sizeof(u), "https://e.com/%.*s/zoo/zoo/zoo/zoo/zoo/"
		    "zoo/zoo/zoo/zoo/zoo/zoo/wrong", (int)i, "123456789012345678");
		seedpos += url(sc, u) == 1 && strcmp(label(), "dlp") == 0;
		snprintf(u, sizeof(u), "https://e.com/?p=%.*s&m=zoo-zoo-zoo-zoo-"
		    "zoo-zoo-zoo-zoo-zoo-zoo-zoo-wrong", (int)i,
		    "123456789012345678");
		seedpos += url(sc, u) == 1 && strcmp(label(), "dlp") == 0;
	}
	is_int(seedpos, 36, "3-letter seed words found at every alignment");
	allows(sc, "https://e.com/zoo/zoo/zoo/zoo/zoo/zoo/zoo/zoo/zoo/zoo/zoo/"
	    "ab");

	blocks(sc, "http://0x7f.1/", "ssrf");
	is_str(reason(), "SSRF blocked: 127.0.0.1 resolves to internal IP "
	    "127.0.0.1", "alt notation canonicalised in reason");
	blocks(sc, "http://2130706433/", "ssrf");
	blocks(sc, "http://0177.0.0.1/", "ssrf");
	blocks(sc, "http://0x7f000001:8080/", "ssrf");
	blocks(sc, "http://0xA9.0xFE.0xA9.0xFE/", "ssrf");
	blocks(sc, "http://[::1]/", "ssrf");
	blocks(sc, "http://[::ffff:127.0.0.1]/", "ssrf");
	blocks(sc, "http://[fe80::1%25eth0]/", "ssrf");
	blocks(sc, "http://LOCALHOST.pastebin.com/", "blocklist");
	allows(sc, "http://0x08080808/");	/* 8.8.8.8 */
}

static void
test_modes(void)
{
	struct scanner_config cfg;
	struct scanner *sc;

	scanner_config_defaults(&cfg);
	cfg.strict = 1;
	sc = build(&cfg);
	blocks(sc, "https://example.com/", "allowlist");
	is_str(reason(), "domain not in allowlist: example.com",
	    "allowlist reason");
	allows(sc, "https://api.openai.com/v1/models");
	allows(sc, "https://github.com/x/y");
	blocks(sc, "https://github.com.evil.net/", "allowlist");
	scanner_free(sc);

	cfg.strict = 0;
	cfg.enforce = 0;
	sc = build(&cfg);
	is_int(url(sc, "https://example.com/?key=" AKEY), 0,
	    "enforce: false never blocks");
	ok(!res.blocked && res.nfindings == 1 && res.findings[0].warn_only &&
	    strcmp(label(), "dlp") == 0, "enforce: false records a warning");
	is_int(scanner_check_domain(sc, "paste.ee", SCAN_WHERE_SNI, &res), 0,
	    "enforce: false on SNI");
	ok(res.nfindings == 1 && res.findings[0].warn_only, "SNI warning");
	scanner_free(sc);
	cfg.enforce = 1;

	/* internal: [] -> the core floor for literals only, no multicast. */
	clear_list(&cfg.internal);
	sc = build(&cfg);
	blocks(sc, "http://127.0.0.1/", "core_ssrf");
	is_str(reason(), "core SSRF: 127.0.0.1 is a private/internal IP address",
	    "core_ssrf reason");
	blocks(sc, "http://0x7f.1/", "core_ssrf");
	blocks(sc, "http://[::1]/", "core_ssrf");
	allows(sc, "http://224.0.0.1/");
	allows(sc, "http://8.8.8.8/");
	scanner_free(sc);

	push(&cfg.ssrf_ip_allowlist, "127.0.0.0/8");
	sc = build(&cfg);
	allows(sc, "http://127.0.0.1/");
	scanner_free(sc);
	scanner_config_clear(&cfg);

	scanner_config_defaults(&cfg);
	push(&cfg.ssrf_ip_allowlist, "10.9.0.0/16");
	push(&cfg.subdomain_entropy_exclusions, "*.runpod.example");
	cfg.entropy_threshold = 0;
	sc = build(&cfg);
	allows(sc, "http://10.9.1.1/");
	blocks(sc, "http://10.8.1.1/", "ssrf");
	allows(sc, "https://abcdefghijklmnopqrst.runpod.example/");
	allows(sc, "https://example.com/aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5z");
	blocks(sc, "https://abcdefghijklmnopqrst.example.com/",
	    "subdomain_entropy");
	scanner_free(sc);
	scanner_config_clear(&cfg);

	scanner_config_defaults(&cfg);
	cfg.max_url_length = 0;
	cfg.subdomain_entropy_threshold = 0;
	sc = build(&cfg);
	allows(sc, "https://abcdefghijklmnopqrst.example.com/");
	scanner_free(sc);
	scanner_config_clear(&cfg);
}

static void
test_user_patterns(void)
{
	struct scanner_config cfg;
	struct scanner *sc;

	scanner_config_defaults(&cfg);
	cfg.patterns = calloc(2, sizeof(*cfg.patterns));
	cfg.npatterns = 2;
	cfg.patterns[0].name = strdup("Internal Ticket");
	cfg.patterns[0].regex = strdup("TICKET-[0-9]{6}");
	cfg.patterns[0].severity = strdup("low");
	cfg.patterns[0].warn_only = 1;
	cfg.patterns[1].name = strdup("Corp Key");
	cfg.patterns[1].regex = strdup("corpkey_[a-z0-9]{12}");
	cfg.patterns[1].severity = strdup("high");
	push(&cfg.patterns[1].exempt_domains, "*.corp.example");
	sc = build(&cfg);
	if (sc == NULL) {
		ok(0, "scanner with user patterns");
		scanner_config_clear(&cfg);
		return;
	}
	is_int(url(sc, "https://example.com/?t=TICKET-123456&u=ticket-654321"),
	    0, "warn pattern does not block");
	ok(res.nfindings == 1 && res.findings[0].warn_only &&
	    strcmp(res.findings[0].pattern, "Internal Ticket") == 0,
	    "warn pattern recorded once");
	blocks(sc, "https://example.com/?k=corpkey_abcdef123456", "dlp");
	allows(sc, "https://git.corp.example/?k=corpkey_abcdef123456");
	scanner_free(sc);
	scanner_config_clear(&cfg);
}

static void
test_known_secrets(void)
{
	struct scanner_config cfg;
	struct scanner *sc;

	scanner_config_defaults(&cfg);
	push(&cfg.known_secrets, "Hunter2-Corp-Vault-Passphrase!");
	push(&cfg.known_secrets, "Xq7Vw2Lp9Rt4Zk8M");
	sc = build(&cfg);
	if (!ok(sc != NULL, "scanner with a known secret")) {
		scanner_config_clear(&cfg);
		return;
	}
	blocks(sc, "https://e.com/?p=Hunter2-Corp-Vault-Passphrase%21", "dlp");
	ok(strncmp(reason(), "known secret leak detected", 26) == 0,
	    "known secret reason: %s", reason());
	/* base64("Hunter2-Corp-Vault-Passphrase!") in the path. */
	blocks(sc, "https://e.com/SHVudGVyMi1Db3JwLVZhdWx0LVBhc3NwaHJhc2Uh/",
	    "dlp");
	ok(strstr(reason(), "base64") != NULL, "encoded form named: %s",
	    reason());
	ok(name(sc, "Xq7Vw2Lp9Rt4Zk8M.evil.com", SCAN_WHERE_DNS) == 1 &&
	    strcmp(label(), "dlp") == 0, "known secret in a DNS label");
	ok(name(sc, "xq7vw2lp9rt4zk8m.evil.com", SCAN_WHERE_DNS) == 0,
	    "known secrets are exact: another case is another value");
	allows(sc, "https://e.com/?p=Hunter2-Corp");
	scanner_free(sc);
	scanner_config_clear(&cfg);
}

static int
name(const struct scanner *sc, const char *n, enum scan_where w)
{
	return scanner_check_domain(sc, n, w, &res);
}

static void
test_domains(const struct scanner *sc)
{
	char buf[400];

	ok(name(sc, "paste.ee", SCAN_WHERE_SNI) == 1 &&
	    strcmp(label(), "blocklist") == 0 &&
	    res.findings[0].where == SCAN_WHERE_SNI, "SNI blocklist");
	ok(name(sc, "RAW.PasteBin.com.", SCAN_WHERE_DNS) == 1 &&
	    strcmp(reason(), "domain blocked: raw.pastebin.com matches "
	    "*.pastebin.com") == 0, "DNS name lowercased, trailing dot");
	ok(name(sc, "www.google.com", SCAN_WHERE_DNS) == 0 &&
	    res.nfindings == 0, "benign DNS name");
	ok(name(sc, "api.github.com", SCAN_WHERE_SNI) == 0, "benign SNI");
	ok(name(sc, "AKIAIOSF.ODNN7EXAMPLE.evil.com", SCAN_WHERE_DNS) == 1 &&
	    strcmp(label(), "core_dlp") == 0, "AWS key split across labels");
	ok(name(sc, "sk-ant-api03-fake1234567890.evil.com", SCAN_WHERE_DNS) ==
	    1 && strcmp(label(), "dlp") == 0, "key in one label");
	/* hex("AKIAIOSFODNN7EXAMPLE") in a label. */
	ok(name(sc, "414b4941494f53464f444e4e374558414d504c45.evil.com",
	    SCAN_WHERE_DNS) == 1 && strcmp(label(), "core_dlp") == 0,
	    "hex-encoded key in a label");
	ok(name(sc, "abcdefghijklmnopqrst.evil.com", SCAN_WHERE_SNI) == 1 &&
	    strcmp(label(), "subdomain_entropy") == 0, "SNI subdomain entropy");
	ok(name(sc, "6b3f9a21c4e87d0512fa6e3b9c8d7a4f01e2d3c4b5a69788.t.evil.com",
	    SCAN_WHERE_DNS) == 1 && strcmp(label(), "dns_tunnel") == 0,
	    "DNS: encoded label");
	ok(name(sc, "6b3f9a21c4e87d0512fa6e3b9c8d7a4f01e2d3c4b5a69788.t.evil.com",
	    SCAN_WHERE_SNI) == 0, "tunnel heuristic is DNS-only");
	ok(name(sc, "a.b.c.d.e.f.g.h.i.j.evil.com", SCAN_WHERE_DNS) == 1 &&
	    strcmp(reason(), "DNS tunnelling suspected: 12 labels exceed 10") ==
	    0, "DNS: label count");
	memset(buf, 'a', sizeof(buf));
	for (size_t i = 50; i < 300; i += 50)
		buf[i] = '.';
	strcpy(buf + 300, ".evil.com");
	ok(name(sc, buf, SCAN_WHERE_DNS) == 1 &&
	    strcmp(label(), "dns_tunnel") == 0, "DNS: name > 253");
	ok(name(sc, "127.0.0.1", SCAN_WHERE_SNI) == 1 &&
	    strcmp(label(), "ssrf") == 0, "IP-literal SNI is checked as an IP");
	ok(name(sc, "0x7f.1", SCAN_WHERE_SNI) == 1 &&
	    strcmp(reason(), "SSRF blocked: 127.0.0.1 resolves to internal IP "
	    "127.0.0.1") == 0, "alt-notation SNI canonicalised");
	ok(name(sc, "93.184.216.34", SCAN_WHERE_SNI) == 0, "public IP SNI");
	ok(name(sc, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1."
	    "0.0.2.ip6.arpa", SCAN_WHERE_DNS) == 0, "ip6.arpa PTR query");
	ok(name(sc, "", SCAN_WHERE_DNS) == 0, "root name");
	is_int(scanner_check_domain(sc, NULL, SCAN_WHERE_DNS, &res), -1,
	    "NULL name is an error");
	ok(res.blocked && strcmp(label(), "error") == 0, "error finding");
}

static void
test_addr(void)
{
	struct scanner_config cfg;
	struct scanner *sc;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;

	scanner_config_defaults(&cfg);
	push(&cfg.trusted_domains, "*.corp.example");
	push(&cfg.ssrf_ip_allowlist, "10.99.0.0/16");
	sc = build(&cfg);

	inet_pton(AF_INET, "10.1.2.3", &sin.sin_addr);
	is_int(scanner_check_addr(sc, "Example.COM.", (struct sockaddr *)&sin,
	    &res), 1, "name resolving to 10.1.2.3 blocked");
	is_str(reason(), "SSRF blocked: example.com resolves to internal IP "
	    "10.1.2.3", "addr reason");
	is_str(label(), "ssrf", "addr label");
	is_int(scanner_check_addr(sc, "db.corp.example", (struct sockaddr *)&sin,
	    &res), 0, "trusted domain exempt");
	is_int(scanner_check_addr(sc, "corp.example", (struct sockaddr *)&sin,
	    &res), 0, "trusted apex exempt");
	is_int(scanner_check_addr(sc, "10.1.2.3", (struct sockaddr *)&sin, &res),
	    1, "IP literal host blocked");
	is_int(scanner_check_addr(sc, NULL, (struct sockaddr *)&sin, &res), 1,
	    "no host blocked");
	is_str(reason(), "SSRF blocked: 10.1.2.3 resolves to internal IP 10.1.2.3",
	    "no host: the IP is named");
	inet_pton(AF_INET, "10.99.1.1", &sin.sin_addr);
	is_int(scanner_check_addr(sc, "x.example", (struct sockaddr *)&sin,
	    &res), 0, "ssrf.ip_allowlist exempt");
	inet_pton(AF_INET, "93.184.216.34", &sin.sin_addr);
	is_int(scanner_check_addr(sc, "example.com", (struct sockaddr *)&sin,
	    &res), 0, "public address allowed");
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr);
	is_int(scanner_check_addr(sc, "evil.example", (struct sockaddr *)&sin6,
	    &res), 1, "v4-mapped loopback blocked");
	is_str(reason(), "SSRF blocked: evil.example resolves to internal IP "
	    "127.0.0.1", "v4-mapped shown as IPv4");
	inet_pton(AF_INET6, "ff02::1", &sin6.sin6_addr);
	is_int(scanner_check_addr(sc, "m.example", (struct sockaddr *)&sin6,
	    &res), 1, "configured ff00::/8 blocked");
	is_int(scanner_check_addr(sc, "x", NULL, &res), -1, "NULL address");
	scanner_free(sc);

	clear_list(&cfg.internal);
	sc = build(&cfg);
	inet_pton(AF_INET, "10.1.2.3", &sin.sin_addr);
	is_int(scanner_check_addr(sc, "example.com", (struct sockaddr *)&sin,
	    &res), 0, "internal []: names are not checked");
	is_int(scanner_check_addr(sc, NULL, (struct sockaddr *)&sin, &res), 1,
	    "internal []: literal still hits the floor");
	is_str(label(), "core_ssrf", "floor label");
	inet_pton(AF_INET, "224.0.0.1", &sin.sin_addr);
	is_int(scanner_check_addr(sc, NULL, (struct sockaddr *)&sin, &res), 0,
	    "multicast is not in the floor");
	scanner_free(sc);
	scanner_config_clear(&cfg);
}

static void
corpus(const struct scanner *sc, const char *path)
{
	char line[8192];
	unsigned n = 0, bad = 0;
	FILE *f = fopen(path, "r");

	if (!ok(f != NULL, "open %s", path))
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strcspn(line, "\r\n");

		if (len == 0 || line[0] == '#')
			continue;
		line[len] = '\0';
		n++;
		if (scanner_check_url(sc, line, len, &res) != 0 ||
		    res.nfindings != 0) {
			bad++;
			diag("  %s: %s (%s)", line, label(), reason());
		}
	}
	fclose(f);
	ok(n > 100 && bad == 0, "%s: %u URLs, %u with findings", path, n, bad);
}

static void
test_misc(const struct scanner *sc)
{
	const char *pname = NULL, *psev = NULL;

	ok(scanner_check_text(sc, "my key is " AKEY, 37, SCAN_WHERE_BODY,
	    &res) == 1 && strcmp(label(), "dlp") == 0, "check_text delegates");
	ok(scanner_check_text(sc, "hello world", 11, SCAN_WHERE_BODY,
	    &res) == 0 && res.nfindings == 0, "benign text");
	ok(scanner_pattern_count(sc) >= 48, "at least the 48 built-ins");
	ok(scanner_pattern_info(sc, 0, &pname, &psev) == 0 && pname != NULL &&
	    psev != NULL, "pattern info");
	is_str(scan_where_name(SCAN_WHERE_QUERY), "query", "where name");
	is_str(scan_where_name(SCAN_WHERE_SNI), "sni", "where sni");
	is_str(scan_where_name((enum scan_where)99), "unknown", "where unknown");
	is_int(scanner_check_url(sc, NULL, 0, &res), -1, "NULL URL is an error");
}

int
main(void)
{
	struct scanner_config cfg;
	struct scanner *sc;

	test_config();
	scanner_config_defaults(&cfg);
	sc = build(&cfg);
	if (!ok(sc != NULL, "default scanner"))
		return tap_done();
	test_smoke(sc);
	test_layers(sc);
	test_order(sc);
	test_evasions(sc);
	test_domains(sc);
	test_misc(sc);
	corpus(sc, "tests/unit/scanner/urls_benign.txt");
	corpus(sc, "tests/bench/corpus/urls.txt");
	scanner_free(sc);
	scanner_config_clear(&cfg);
	test_modes();
	test_user_patterns();
	test_known_secrets();
	test_addr();
	return tap_done();
}
