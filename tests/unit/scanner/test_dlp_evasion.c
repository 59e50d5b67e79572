/*
 * test_dlp_evasion.c - the text pipeline against evasions (base64, hex,
 * base32, single and double %-encoding, zero-width characters, homoglyphs,
 * chained encodings, dotted splits), known secrets in every encoded form,
 * BIP-39 seed phrases, and the committed benign corpus (zero findings).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "scanner/dlp.h"

#define KEY	"sk-ant-api03-Zx9Qw7Er5Ty3Ui1Op"	/* Anthropic format */
#define SECRET	"Hunter2-Corp-Vault-Passphrase!"	/* a known secret */

static void
cfg_init(struct scanner_config *cfg)
{
	static char *secrets[] = { SECRET, "short" };

	memset(cfg, 0, sizeof(*cfg));
	cfg->dlp_include_defaults = 1;
	cfg->seed_enabled = 1;
	cfg->seed_min_words = 12;
	cfg->seed_verify_checksum = 1;
	cfg->min_secret_length = 16;
	cfg->known_secrets.v = secrets;
	cfg->known_secrets.n = 2;
}

static int
has(const struct scan_result *r, const char *pattern, const char *reason)
{
	unsigned i;

	for (i = 0; i < r->nfindings; i++) {
		if (pattern && (!r->findings[i].pattern ||
		    strcmp(r->findings[i].pattern, pattern)))
			continue;
		if (reason && strcmp(r->findings[i].reason, reason))
			continue;
		return 1;
	}
	return 0;
}

static void
scan(const struct dlp *d, const char *s, size_t len, struct scan_result *r)
{
	scan_result_reset(r);
	dlp_scan_text(d, s, len, SCAN_WHERE_BODY, NULL, 0, r);
}

static void
expect(const struct dlp *d, const char *what, const char *s,
    const char *pattern, const char *reason)
{
	struct scan_result r;

	scan(d, s, strlen(s), &r);
	if (!ok(r.blocked && has(&r, pattern, reason), "%s", what))
		diag("input \"%s\": %u findings, first: %s", s, r.nfindings,
		    r.nfindings ? r.findings[0].reason : "-");
}

static void
b64(const char *in, char *out, int url, int pad)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t len = strlen(in), i, n = 0;
	unsigned v;
	const unsigned char *s = (const unsigned char *)in;

	for (i = 0; i < len; i += 3) {
		v = s[i] << 16 | (i + 1 < len ? s[i + 1] << 8 : 0) |
		    (i + 2 < len ? s[i + 2] : 0);
		out[n++] = a[v >> 18 & 63];
		out[n++] = a[v >> 12 & 63];
		out[n++] = i + 1 < len ? a[v >> 6 & 63] : '=';
		out[n++] = i + 2 < len ? a[v & 63] : '=';
	}
	out[n] = '\0';
	for (i = 0; url && i < n; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	while (!pad && n && out[n - 1] == '=')
		out[--n] = '\0';
}

/* Hex of in with a per-byte prefix and separator, lower or upper case. */
static void
hexf(const char *in, char *out, const char *pre, const char *sep, int upper)
{
	const char *dig = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t i, n = 0;

	for (i = 0; in[i]; i++) {
		if (i)
			n += (size_t)sprintf(out + n, "%s", sep);
		n += (size_t)sprintf(out + n, "%s%c%c", pre,
		    dig[(unsigned char)in[i] >> 4], dig[in[i] & 15]);
	}
	out[n] = '\0';
}

static void
b32(const char *in, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned long long acc = 0;
	int bits = 0;
	size_t n = 0;

	for (; *in; in++) {
		acc = acc << 8 | (unsigned char)*in;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[n++] = a[acc >> bits & 31];
		}
	}
	if (bits)
		out[n++] = a[acc << (5 - bits) & 31];
	out[n] = '\0';
}

static void
test_evasions(const struct dlp *d)
{
	char enc[512], buf[1024], tmp[512];
	const char *ak = "Anthropic API Key";

	snprintf(buf, sizeof(buf), "plain %s end", KEY);
	expect(d, "plain key", buf, ak, NULL);
	b64(KEY, enc, 0, 1);
	snprintf(buf, sizeof(buf), "{\"data\": \"%s\"}", enc);
	expect(d, "base64 std padded", buf, ak, NULL);
	b64(KEY, enc, 1, 0);
	snprintf(buf, sizeof(buf), "v=%s;", enc);
	expect(d, "base64url unpadded", buf, ak, NULL);
	hexf(KEY, enc, "", "", 0);
	snprintf(buf, sizeof(buf), "hex %s", enc);
	expect(d, "hex lower", buf, ak, NULL);
	hexf(KEY, enc, "", "", 1);
	expect(d, "hex upper", enc, ak, NULL);
	hexf(KEY, enc, "", ":", 0);
	expect(d, "hex colon-separated", enc, ak, NULL);
	hexf(KEY, enc, "\\x", "", 0);
	expect(d, "hex \\x-prefixed", enc, ak, NULL);
	hexf(KEY, enc, "0x", " ", 0);
	expect(d, "hex 0x-prefixed spaced", enc, ak, NULL);
	b32(KEY, enc);
	snprintf(buf, sizeof(buf), "b32 %s end", enc);
	expect(d, "base32", buf, ak, NULL);
	hexf(KEY, enc, "%", "", 1);
	expect(d, "fully %-encoded", enc, ak, NULL);
	expect(d, "partly %-encoded", "q=sk%2Dant%2Dapi03%2DZx9Qw7Er5Ty3Ui1Op",
	    ak, NULL);
	expect(d, "double %-encoded",
	    "q=sk%252Dant%252Dapi03%252DZx9Qw7Er5Ty3Ui1Op", ak, NULL);
	expect(d, "zero-width inserted",
	    "sk-\xe2\x80\x8b" "ant-\xe2\x80\x8c" "api03-Zx9Qw\xef\xbb\xbf" "7Er5Ty3Ui1Op",
	    ak, NULL);
	expect(d, "Cyrillic confusables",
	    "\xd1\x95k-\xd0\xb0nt-api03-Zx9Qw7Er5Ty3Ui1Op", ak, NULL);
	expect(d, "fullwidth letters",
	    "\xef\xbd\x93\xef\xbd\x8b-ant-api03-Zx9Qw7Er5Ty3Ui1Op", ak, NULL);
	expect(d, "combining marks",
	    "sk-a\xcc\x81nt-api03-Zx9Qw7Er5Ty3Ui1Op", ak, NULL);
	expect(d, "soft hyphen and tag characters",
	    "sk-an\xc2\xadt-api03-Zx9\xf3\xa0\x80\x81Qw7Er5Ty3Ui1Op", ak, NULL);
	/* Chained: base64 of the hex of the key. */
	hexf(KEY, tmp, "", "", 0);
	b64(tmp, enc, 0, 1);
	expect(d, "base64(hex(key))", enc, ak, NULL);
	/* base64 of a %-encoded key. */
	b64("token: sk%2Dant%2Dapi03%2DZx9Qw7Er5Ty3Ui1Op", enc, 0, 0);
	expect(d, "base64(%-encoded key)", enc, ak, NULL);
	expect(d, "dotted split", "sk-ant-api03.Zx9Qw.7Er5Ty3Ui1Op", ak, NULL);
	expect(d, "private key header with newline",
	    "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIE", "Private Key Header",
	    NULL);
	expect(d, "SSN at line start keeps its word boundary",
	    "name: J\n078-05-1120\n", "Social Security Number", NULL);
}

static void
test_secrets(const struct dlp *d)
{
	char enc[512], buf[1024];

	snprintf(buf, sizeof(buf), "pw=%s&x=1", SECRET);
	expect(d, "known secret literal", buf, NULL,
	    "known secret leak detected");
	b64(SECRET, enc, 0, 1);
	expect(d, "known secret base64 std padded", enc, NULL,
	    "known secret leak detected (base64-encoded)");
	b64(SECRET, enc, 0, 0);
	snprintf(buf, sizeof(buf), "[%s]", enc);
	expect(d, "known secret base64 std unpadded", buf, NULL,
	    "known secret leak detected (base64-encoded)");
	b64(SECRET, enc, 1, 1);
	expect(d, "known secret base64url padded", enc, NULL,
	    "known secret leak detected (base64-encoded)");
	b64(SECRET, enc, 1, 0);
	expect(d, "known secret base64url unpadded", enc, NULL,
	    "known secret leak detected (base64-encoded)");
	hexf(SECRET, enc, "", "", 0);
	expect(d, "known secret hex lower", enc, NULL,
	    "known secret leak detected (hex-encoded)");
	hexf(SECRET, enc, "", "", 1);
	expect(d, "known secret hex upper", enc, NULL,
	    "known secret leak detected (hex-encoded)");
	hexf(SECRET, enc, "", "-", 0);
	expect(d, "known secret hex dash-separated", enc, NULL,
	    "known secret leak detected (hex-encoded)");
	hexf(SECRET, enc, "\\x", "", 0);
	expect(d, "known secret hex \\x", enc, NULL,
	    "known secret leak detected (hex-encoded)");
	b32(SECRET, enc);
	expect(d, "known secret base32", enc, NULL,
	    "known secret leak detected (base32-encoded)");
	hexf(SECRET, enc, "%", "", 0);
	expect(d, "known secret fully %-encoded", enc, NULL,
	    "known secret leak detected (url-encoded)");
	expect(d, "known secret partly %-encoded (decoded layer)",
	    "p=Hunter2-Corp-Vault-Passphrase%21", NULL,
	    "known secret leak detected");
	expect(d, "known secret split by zero-width",
	    "Hunter2-Corp-\xe2\x80\x8bVault-Passphrase!", NULL,
	    "known secret leak detected");
	{
		struct scan_result r;
		const char *s = "short short short";

		scan(d, s, strlen(s), &r);
		ok(!r.blocked, "secret below min_secret_length ignored");
	}
}

static void
test_seed(const struct dlp *d)
{
	struct scan_result r;
	const char *good = "my wallet: legal winner thank year wave sausage "
	    "worth useful legal winner thank yellow";
	const char *bad = "legal winner thank year wave sausage worth useful "
	    "legal winner thank year";
	const char *zw = "legal winner thank year wave sau\xe2\x80\x8bsage "
	    "worth useful legal winner thank yellow";

	expect(d, "BIP-39 seed phrase", good, "BIP-39 Seed Phrase",
	    "DLP match: BIP-39 Seed Phrase (critical)");
	expect(d, "BIP-39 seed with zero-width inside a word", zw,
	    "BIP-39 Seed Phrase", NULL);
	scan(d, bad, strlen(bad), &r);
	ok(!r.blocked, "seed words with a bad checksum not blocked");
	expect(d, "BIP-39 seed phrase base64-encoded",
	    "bGVnYWwgd2lubmVyIHRoYW5rIHllYXIgd2F2ZSBzYXVzYWdlIHdvcnRoIHVzZWZ1"
	    "bCBsZWdhbCB3aW5uZXIgdGhhbmsgeWVsbG93", "BIP-39 Seed Phrase", NULL);
}

static void
test_offsets(const struct dlp *d)
{
	struct scan_result r;
	const char *s = "ab\xe2\x80\x8b\xe2\x80\x8b" "cd " KEY;

	scan(d, s, strlen(s), &r);
	ok(r.nfindings >= 1 && r.findings[0].offset == 11,
	    "offset maps back through normalisation (got %zu)",
	    r.nfindings ? r.findings[0].offset : (size_t)-1);
	scan_result_reset(&r);
	dlp_scan_text(d, KEY, strlen(KEY), SCAN_WHERE_BODY, NULL, 1000, &r);
	ok(r.nfindings && r.findings[0].offset == 1000, "base offset added");
	ok(strstr(r.findings[0].redacted, "Zx9Qw") == NULL &&
	    strncmp(r.findings[0].redacted, "sk-a", 4) == 0,
	    "redacted: %s", r.findings[0].redacted);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	*len = fread(buf, 1, (size_t)n, f);
	fclose(f);
	return buf;
}

static void
test_benign(const struct dlp *d)
{
	static const char *files[] = {
		"tests/bench/corpus/benign.txt", "tests/bench/corpus/urls.txt",
	};
	static const char *inline_benign[] = {
		"https://docs.python.org/3/library/os.html#os.environ",
		"550e8400-e29b-41d4-a716-446655440000",
		"commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
		"https://registry.npmjs.org/@types/node/-/node-20.11.5.tgz",
		"{\"id\": 12345, \"name\": \"widget\", \"price\": 19.99}",
		"Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
		"The quick brown fox jumps over the lazy dog again and again.",
		"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"phone +1 (555) 010-9999, order 2024-01-15 12:30:00",
	};
	struct scan_result r;
	size_t i, len = 0, j, lines;
	char *buf;

	for (i = 0; i < sizeof(inline_benign) / sizeof(inline_benign[0]); i++) {
		scan(d, inline_benign[i], strlen(inline_benign[i]), &r);
		ok(r.nfindings == 0, "benign: %s%s%s", inline_benign[i],
		    r.nfindings ? " -> " : "",
		    r.nfindings ? r.findings[0].reason : "");
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (!ok((buf = slurp(files[i], &len)) != NULL, "read %s",
		    files[i]))
			continue;
		scan(d, buf, len, &r);
		ok(r.nfindings == 0, "benign corpus %s (%zu bytes): %u findings%s%s",
		    files[i], len, r.nfindings, r.nfindings ? ": " : "",
		    r.nfindings ? r.findings[0].reason : "");
		/* Line by line too: small inputs take other code paths. */
		for (j = 0, lines = 0; j < len; lines++) {
			char *nl = memchr(buf + j, '\n', len - j);
			size_t e = nl ? (size_t)(nl - buf) : len;

			scan(d, buf + j, e - j, &r);
			if (r.nfindings) {
				diag("line %zu: %s", lines, r.findings[0].reason);
				break;
			}
			j = e + 1;
		}
		ok(j >= len, "benign corpus %s line by line (%zu lines)",
		    files[i], lines);
		free(buf);
	}
}

int
main(void)
{
	struct scanner_config cfg;
	struct dlp *d;
	char err[256];

	cfg_init(&cfg);
	d = dlp_new(&cfg, err, sizeof(err));
	if (!ok(d != NULL, "dlp_new: %s", d ? "ok" : err))
		return tap_done();
	test_evasions(d);
	test_secrets(d);
	test_seed(d);
	test_offsets(d);
	test_benign(d);
	/* The same through PCRE2 alone: the prefilter changes speed only. */
	dlp_set_prefilter(d, 0);
	test_evasions(d);
	test_secrets(d);
	test_seed(d);
	dlp_free(d);
	return tap_done();
}
