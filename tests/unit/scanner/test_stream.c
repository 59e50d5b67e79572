/*
 * test_stream.c - streaming body scan: secrets split at every boundary,
 * 1-byte chunks, slices inside one large feed (scanned in place), absolute offsets, no
 * duplicate findings from the overlap, benign corpus streamed clean.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "scanner/scanner.h"

#define KEY	"sk-ant-api03-Zx9Qw7Er5Ty3Ui1Op"

/* Feed buf in chunks of `step` bytes; first blocking feed's finding. */
static int
stream_chunks(const struct scanner *sc, const char *buf, size_t len,
    size_t step, struct scan_result *out, unsigned *nfind)
{
	struct scan_stream *st = scan_stream_new(sc, SCAN_WHERE_BODY);
	struct scan_result r;
	size_t i, n;
	int rc = 0, blocked = 0;

	*nfind = 0;
	for (i = 0; i < len; i += n) {
		n = len - i < step ? len - i : step;
		rc = scan_stream_feed(st, buf + i, n, &r);
		if (rc == 1 && !blocked) {
			*out = r;
			blocked = 1;
		}
		if (!blocked)
			*nfind += r.nfindings;
	}
	rc = scan_stream_finish(st, &r);
	if (!blocked)
		*out = r;
	scan_stream_free(st);
	return blocked ? 1 : rc;
}

static void
test_split(const struct scanner *sc)
{
	char buf[256];
	size_t len, cut, bad = 0, badoff = 0;
	struct scan_stream *st;
	struct scan_result r;
	int rc1, rc2;

	len = (size_t)snprintf(buf, sizeof(buf), "{\"note\": \"hello\", \"k\": \"%s\"}",
	    KEY);
	for (cut = 1; cut < len; cut++) {
		st = scan_stream_new(sc, SCAN_WHERE_BODY);
		rc1 = scan_stream_feed(st, buf, cut, &r);
		rc2 = rc1 == 1 ? 1 : scan_stream_feed(st, buf + cut, len - cut,
		    &r);
		if (rc2 != 1)
			bad++;
		else if (rc1 != 1 && (r.nfindings == 0 ||
		    r.findings[0].offset != 24))
			badoff++;
		scan_stream_free(st);
	}
	is_int(bad, 0, "key found at every one of %zu split points", len - 1);
	is_int(badoff, 0, "absolute offset 24 at every split point");
}

static void
test_one_byte(const struct scanner *sc)
{
	size_t pre = 10000, len;
	char *buf = malloc(pre + 200);
	struct scan_result r;
	unsigned n;

	memset(buf, 'x', pre);
	for (size_t i = 79; i < pre; i += 80)
		buf[i] = '\n';
	len = pre + (size_t)sprintf(buf + pre, " %s tail", KEY);
	ok(stream_chunks(sc, buf, len, 1, &r, &n) == 1,
	    "1-byte chunks: key after 10000 bytes found");
	ok(r.nfindings && r.findings[0].offset == pre + 1,
	    "1-byte chunks: absolute offset %zu",
	    r.nfindings ? r.findings[0].offset : (size_t)-1);
	/* Zero-width joiner cut in the middle of its UTF-8 bytes. */
	len = (size_t)sprintf(buf, "sk-\xe2\x80\x8b" "ant-api03-Zx9Qw7Er5Ty3Ui1Op");
	ok(stream_chunks(sc, buf, len, 1, &r, &n) == 1,
	    "1-byte chunks: zero-width split inside UTF-8");
	/* base64 form split byte by byte. */
	len = (size_t)sprintf(buf, "data: c2stYW50LWFwaTAzLVp4OVF3N0VyNVR5M1VpMU9w;");
	ok(stream_chunks(sc, buf, len, 1, &r, &n) == 1,
	    "1-byte chunks: base64-encoded key");
	ok(stream_chunks(sc, buf, len, 7, &r, &n) == 1,
	    "7-byte chunks: base64-encoded key");
	free(buf);
}

static void
test_large(const struct scanner *sc)
{
	size_t len = 3 * 1024 * 1024, at = 65536 - 10, i;
	char *buf = malloc(len);
	struct scan_result r;
	unsigned n;

	for (i = 0; i < len; i++)
		buf[i] = "lorem ipsum dolor sit amet\n"[i % 27];
	memcpy(buf + at, KEY, strlen(KEY));
	ok(stream_chunks(sc, buf, len, len, &r, &n) == 1,
	    "one 3 MiB feed: key across the internal slice boundary");
	ok(r.nfindings && r.findings[0].offset == at, "offset %zu",
	    r.nfindings ? r.findings[0].offset : (size_t)-1);
	memcpy(buf + at, "lorem ipsum dolor sit amet\nlorem", strlen(KEY));
	at = len - 100000;
	memcpy(buf + at, KEY, strlen(KEY));
	ok(stream_chunks(sc, buf, len, 16384, &r, &n) == 1 &&
	    r.findings[0].offset == at, "16 KiB chunks: key near the end");
	free(buf);
}

/*
 * A feed longer than one internal slice is scanned in windows that lie in
 * the caller's buffer (the overlap is its own preceding bytes); only a
 * slice after an overlap kept from an earlier feed is copied.  Plant the
 * key across every slice boundary at every offset, after first feeds of
 * several sizes, so both kinds of window see it split.
 */
static void
test_slice_windows(const struct scanner *sc)
{
	static const size_t firsts[] = { 0, 1, 100, 4095, 4096, 5000 };
	size_t len = 2 * 65536 + 9000, klen = strlen(KEY), f, b, at, i;
	size_t tries = 0, bad = 0;
	char *buf = malloc(len);
	struct scan_stream *st;
	struct scan_result r;
	int rc;

	for (i = 0; i < len; i++)
		buf[i] = "lorem ipsum dolor sit amet\n"[i % 27];
	for (f = 0; f < sizeof(firsts) / sizeof(firsts[0]); f++) {
		for (b = 1; b <= 2; b++) {
			for (at = firsts[f] + b * 65536 - klen + 1;
			    at < firsts[f] + b * 65536; at++) {
				memcpy(buf + at, KEY, klen);
				st = scan_stream_new(sc, SCAN_WHERE_BODY);
				rc = firsts[f] == 0 ? 0 : scan_stream_feed(st,
				    buf, firsts[f], &r);
				if (rc == 0)
					rc = scan_stream_feed(st, buf + firsts[f],
					    len - firsts[f], &r);
				if (rc != 1 || r.nfindings == 0 ||
				    r.findings[0].offset != at)
					bad++;
				tries++;
				scan_stream_free(st);
				for (i = at; i < at + klen; i++)
					buf[i] = "lorem ipsum dolor sit amet\n"[i % 27];
			}
		}
	}
	is_int(bad, 0, "key across in-place and copied slice windows: "
	    "%zu placements found at their offset", tries);
	free(buf);
}

static void
test_blocked_sticky(const struct scanner *sc)
{
	struct scan_stream *st = scan_stream_new(sc, SCAN_WHERE_BODY);
	struct scan_result r;

	ok(scan_stream_feed(st, KEY, strlen(KEY), &r) == 1, "blocked");
	ok(scan_stream_feed(st, "more", 4, &r) == 1 && r.blocked,
	    "later feeds are no-ops returning 1");
	ok(scan_stream_finish(st, &r) == 1, "finish after block returns 1");
	scan_stream_free(st);
	scan_stream_free(NULL);
	ok(scan_stream_new(NULL, SCAN_WHERE_BODY) == NULL, "no scanner, no stream");
	st = scan_stream_new(sc, SCAN_WHERE_BODY);
	ok(scan_stream_feed(st, NULL, 0, &r) == 0, "empty feed allowed");
	ok(scan_stream_feed(st, NULL, 5, &r) == -1 && r.blocked &&
	    strcmp(r.findings[0].scanner, "error") == 0,
	    "NULL buffer with a length: error, blocked");
	ok(scan_stream_feed(st, "x", 1, &r) == 1, "and stays blocked");
	scan_stream_free(st);
}

static void
test_no_duplicates(void)
{
	struct scanner_config cfg;
	struct scanner_pattern up;
	struct scanner *sc;
	struct scan_result r;
	char err[256], buf[9000];
	unsigned n;
	size_t len;

	scanner_config_defaults(&cfg);
	memset(&up, 0, sizeof(up));
	up.name = "Warn Thing";
	up.regex = "warnme[0-9]{4}";
	up.severity = "low";
	up.warn_only = 1;
	cfg.patterns = &up;
	cfg.npatterns = 1;
	sc = scanner_new(&cfg, err, sizeof(err));
	if (!ok(sc != NULL, "scanner with a warn pattern: %s", sc ? "" : err))
		return;
	memset(buf, '.', sizeof(buf));
	len = (size_t)sprintf(buf + 100, "warnme1234") + 100;
	buf[len] = '.';
	len = sizeof(buf);
	ok(stream_chunks(sc, buf, len, 1, &r, &n) == 0, "warn only: allowed");
	is_int(n, 1, "warn finding reported once over 9000 1-byte feeds");
	ok(stream_chunks(sc, buf, len, 3000, &r, &n) == 0 && n == 1,
	    "reported once with 3000-byte chunks (in overlap twice)");
	cfg.patterns = NULL;
	cfg.npatterns = 0;
	scanner_config_clear(&cfg);
	scanner_free(sc);
}

static void
test_benign(const struct scanner *sc)
{
	FILE *f = fopen("tests/bench/corpus/benign.txt", "rb");
	static char buf[1 << 20];
	struct scan_result r;
	size_t len, steps[] = { 1 << 20, 65536, 4097, 333 };
	unsigned n, i;

	if (!ok(f != NULL, "open benign corpus"))
		return;
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		ok(stream_chunks(sc, buf, len, steps[i], &r, &n) == 0 && n == 0,
		    "benign corpus streamed in %zu-byte chunks: clean",
		    steps[i]);
}

int
main(void)
{
	struct scanner_config cfg;
	struct scanner *sc;
	char err[256];

	scanner_config_defaults(&cfg);
	sc = scanner_new(&cfg, err, sizeof(err));
	if (!ok(sc != NULL, "scanner_new: %s", sc ? "ok" : err))
		return tap_done();
	test_split(sc);
	test_one_byte(sc);
	test_large(sc);
	test_slice_windows(sc);
	test_blocked_sticky(sc);
	test_no_duplicates();
	test_benign(sc);
	scanner_free(sc);
	scanner_config_clear(&cfg);
	return tap_done();
}
