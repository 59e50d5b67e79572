/*
 * fuzz_url.c - libFuzzer target for the URL and name checks: Go-style URL
 * parsing, CRLF / traversal layers, iterative decoding, DLP target
 * enumeration and split-secret combinations, entropy, IP literal forms,
 * and scanner_check_domain() on the same bytes as an SNI and a DNS name.
 *
 * Besides "no crash, no leak, no UB", checks that every finding is
 * well-formed, that a blocking finding implies res.blocked, and that a
 * check is deterministic (the scanner is immutable).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scanner/scanner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NAME_MAX	1100	/* a bit over the domain check's buffer */

static struct scanner *fuzz_sc;

static void
fuzz_check(const struct scan_result *r, int rc)
{
	unsigned i;
	int blocking = 0;

	if (r->nfindings > SCAN_MAX_FINDINGS || rc < -1 || rc > 1)
		abort();
	for (i = 0; i < r->nfindings; i++) {
		const struct scan_finding *f = &r->findings[i];

		if (f->scanner == NULL || f->reason[0] == '\0' ||
		    memchr(f->reason, '\0', sizeof(f->reason)) == NULL ||
		    memchr(f->redacted, '\0', sizeof(f->redacted)) == NULL ||
		    f->score < 0 || f->score > 1)
			abort();
		blocking |= !f->warn_only;
	}
	if (blocking != r->blocked || (rc == 1) != r->blocked)
		if (rc != -1)
			abort();
}

static void
fuzz_init(void)
{
	struct scanner_config cfg;
	static char secret[] = "Hunter2-Corp-Vault-Passphrase!";
	static char *secrets[] = { secret };
	char err[256];

	scanner_config_defaults(&cfg);
	cfg.known_secrets.v = secrets;
	cfg.known_secrets.n = 1;
	fuzz_sc = scanner_new(&cfg, err, sizeof(err));
	cfg.known_secrets.v = NULL;
	cfg.known_secrets.n = 0;
	scanner_config_clear(&cfg);
	if (fuzz_sc == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan_result a, b;
	char name[FUZZ_NAME_MAX + 1];
	size_t n;
	int rc;

	if (fuzz_sc == NULL)
		fuzz_init();

	rc = scanner_check_url(fuzz_sc, (const char *)data, size, &a);
	fuzz_check(&a, rc);
	if (scanner_check_url(fuzz_sc, (const char *)data, size, &b) != rc ||
	    a.nfindings != b.nfindings ||
	    (a.nfindings > 0 && (strcmp(a.findings[0].reason,
	    b.findings[0].reason) != 0)))
		abort();

	/* The same bytes as a name, up to the first NUL. */
	n = size < FUZZ_NAME_MAX ? size : FUZZ_NAME_MAX;
	memcpy(name, data, n);
	name[n] = '\0';
	rc = scanner_check_domain(fuzz_sc, name, SCAN_WHERE_SNI, &a);
	fuzz_check(&a, rc);
	rc = scanner_check_domain(fuzz_sc, name, SCAN_WHERE_DNS, &a);
	fuzz_check(&a, rc);
	return 0;
}
