/*
 * fuzz_body.c - libFuzzer target for the body scanner: the text pipeline
 * (normalisation, decoders, recursive layers, Vectorscan + PCRE2, seed
 * phrases, known secrets) and the streaming API.
 *
 * The first input byte picks where the body is split into two chunks.
 * Besides "no crash, no leak, no UB", checks two contracts: every finding
 * is well-formed with an offset inside the body, and for bodies no longer
 * than SCAN_STREAM_OVERLAP the stream blocks whenever scanner_check_text()
 * on the whole body blocks (the overlap window is the whole body then).
 * A third: the Vectorscan prefilter and shape pass find every pattern that
 * PCRE2 alone finds (differential against a PCRE2-only DLP set).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scanner/dlp.h"
#include "scanner/scanner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct scanner *fuzz_sc;
static struct dlp *fuzz_plain;	/* PCRE2 only */

/* Every "DLP match" pattern of b is also in a. */
static void
fuzz_same(const struct scan_result *a, const struct scan_result *b)
{
	unsigned i, k;

	for (i = 0; i < b->nfindings; i++) {
		if (b->findings[i].pattern == NULL ||
		    strncmp(b->findings[i].reason, "DLP match", 9) != 0)
			continue;
		for (k = 0; k < a->nfindings; k++)
			if (a->findings[k].pattern != NULL &&
			    strcmp(a->findings[k].pattern,
			    b->findings[i].pattern) == 0)
				break;
		if (k == a->nfindings && a->ndropped == 0)
			abort();
	}
}

static void
fuzz_check(const struct scan_result *r, size_t len)
{
	unsigned i;

	if (r->nfindings > SCAN_MAX_FINDINGS)
		abort();
	for (i = 0; i < r->nfindings; i++) {
		const struct scan_finding *f = &r->findings[i];

		if (f->scanner == NULL || f->reason[0] == '\0' ||
		    (f->offset > len && len > 0) ||
		    memchr(f->redacted, '\0', sizeof(f->redacted)) == NULL)
			abort();
		if (!f->warn_only && !r->blocked)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan_stream *st;
	struct scan_result whole, part;
	const char *body;
	size_t len, cut;
	int rc_whole, rc = 0;
	char err[256];

	if (fuzz_sc == NULL) {
		struct scanner_config cfg;
		static char *secrets[] = { "Hunter2-Corp-Vault-Passphrase!" };

		scanner_config_defaults(&cfg);
		cfg.known_secrets.v = secrets;
		cfg.known_secrets.n = 1;
		fuzz_sc = scanner_new(&cfg, err, sizeof(err));
		fuzz_plain = dlp_new(&cfg, err, sizeof(err));
		if (fuzz_plain == NULL)
			abort();
		dlp_set_prefilter(fuzz_plain, 0);
		cfg.known_secrets.v = NULL;
		cfg.known_secrets.n = 0;
		scanner_config_clear(&cfg);
		if (fuzz_sc == NULL)
			abort();
	}
	if (size == 0)
		return 0;
	cut = data[0];
	body = (const char *)data + 1;
	len = size - 1;
	cut = len ? cut * len / 255 : 0;

	rc_whole = scanner_check_text(fuzz_sc, body, len, SCAN_WHERE_BODY,
	    &whole);
	fuzz_check(&whole, len);
	if (len <= 2048) {
		struct scan_result a, b;

		scan_result_reset(&a);
		scan_result_reset(&b);
		dlp_scan_text(scanner_dlp(fuzz_sc), body, len, SCAN_WHERE_BODY,
		    NULL, 0, &a);
		dlp_scan_text(fuzz_plain, body, len, SCAN_WHERE_BODY, NULL, 0,
		    &b);
		fuzz_same(&a, &b);
		fuzz_same(&b, &a);
	}

	if ((st = scan_stream_new(fuzz_sc, SCAN_WHERE_BODY)) == NULL)
		return 0;
	rc = scan_stream_feed(st, body, cut, &part);
	fuzz_check(&part, len);
	if (rc != 1) {
		rc = scan_stream_feed(st, body + cut, len - cut, &part);
		fuzz_check(&part, len);
	}
	if (rc != 1)
		rc = scan_stream_finish(st, &part);
	scan_stream_free(st);
	if (rc_whole == 1 && rc != 1 && len <= SCAN_STREAM_OVERLAP)
		abort();
	return 0;
}
