/*
 * test_dlp_trig.c - the SIMD trigger pass (dlp.c) must not lose a finding.
 *
 * The trigger pass decides, 64 bytes at a time, where the shape pass and
 * the encoded-run finder run at all, and each then starts from a
 * synchronisation point before the trigger.  Its masks carry state from
 * one 64-byte block to the next, so every real-format positive (plain,
 * hex with separators, \x- and 0x-prefixed, base64, %-encoded, a seed
 * phrase) is planted at every offset across two block boundaries of
 * benign-looking text, and the full text pipeline must report it both with
 * the prefilter (trigger pass on) and with PCRE2 alone (every byte
 * scanned), with the same findings.
 *
 * The trigger pass is also the first look at a body: it tells plain text
 * (used as is) from text to normalise, stopping at the first byte that is
 * not plain, and whether a '%' needs decoding.  So a zero-width character
 * inside a secret, a control byte and a %-encoded secret are each placed at
 * offsets across several 512-byte groups of that pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "lib/testdlp.h"
#include "scanner/dlp.h"

struct plant {
	const char *want;	/* pattern name that must be found */
	const char *text;
};

#define ANT	"sk-ant-api03-dkryFMT07elszGNU18fmtAHOV29"
/* Words of 3..8 letters that are not list words: a seed-like stretch. */
#define LOREM	"lorem dolor amet tempor dolore labore nostrud commodo "
#define ABANDON8 "abandon abandon abandon abandon abandon abandon abandon " \
	"abandon "

static const struct plant plants[] = {
	{ "Credit Card Number", "card 4111 1111 1111 1111 exp" },
	{ "Credit Card Number", "4111-1111-1111-1111" },
	{ "Social Security Number", "ssn 123-45-6789 on file" },
	{ "IBAN", "iban GB82WEST12345698765432 ok" },
	{ "Bitcoin WIF Private Key",
	    "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ" },
	{ "Discord Bot Token",
	    "MdkryFMT07elszGNU18fmtAH.dkryFM.dkryFMT07elszGNU18fmtAHOV29" },
	{ "BIP-39 Seed Phrase",
	    "abandon abandon abandon abandon abandon abandon abandon abandon "
	    "abandon abandon abandon about" },
	/*
	 * The seed triggers' quick look (dlp_seed_none()): 3-letter words at
	 * the end of a long stretch of other words, and a stretch longer than
	 * it looks at.
	 */
	{ "BIP-39 Seed Phrase", LOREM LOREM LOREM
	    "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong" },
	{ "BIP-39 Seed Phrase", ABANDON8 ABANDON8 ABANDON8 ABANDON8 ABANDON8
	    ABANDON8 ABANDON8 ABANDON8 ABANDON8
	    "abandon abandon abandon abandon abandon abandon abandon abandon "
	    "abandon abandon abandon about" },
	{ "Anthropic API Key", ANT },
	/* ANT hex-encoded with separators, prefixes, and base64. */
	{ "Anthropic API Key",
	    "73:6b:2d:61:6e:74:2d:61:70:69:30:33:2d:64:6b:72:79:46:4d:54:30:"
	    "37:65:6c:73:7a:47:4e:55:31:38:66:6d:74:41:48:4f:56:32:39" },
	{ "Anthropic API Key",
	    "73 6b 2d 61 6e 74 2d 61 70 69 30 33 2d 64 6b 72 79 46 4d 54 30 "
	    "37 65 6c 73 7a 47 4e 55 31 38 66 6d 74 41 48 4f 56 32 39" },
	{ "Anthropic API Key",
	    "\\x73\\x6b\\x2d\\x61\\x6e\\x74\\x2d\\x61\\x70\\x69\\x30\\x33\\x2d"
	    "\\x64\\x6b\\x72\\x79\\x46\\x4d\\x54\\x30\\x37\\x65\\x6c\\x73\\x7a"
	    "\\x47\\x4e\\x55\\x31\\x38\\x66\\x6d\\x74\\x41\\x48\\x4f\\x56\\x32"
	    "\\x39" },
	{ "Anthropic API Key",
	    "0x73 0x6b 0x2d 0x61 0x6e 0x74 0x2d 0x61 0x70 0x69 0x30 0x33 0x2d "
	    "0x64 0x6b 0x72 0x79 0x46 0x4d 0x54 0x30 0x37 0x65 0x6c 0x73 0x7a "
	    "0x47 0x4e 0x55 0x31 0x38 0x66 0x6d 0x74 0x41 0x48 0x4f 0x56 0x32 "
	    "0x39" },
	{ "Anthropic API Key",
	    "736b2d616e742d6170693033" "2d646b7279464d5430376" "56c737a474e5531"
	    "38666d7441484f563239" },
	{ "Anthropic API Key",
	    "c2stYW50LWFwaTAzLWRrcnlGTVQwN2Vsc3pHTlUxOGZtdEFIT1YyOQ==" },
	{ "Anthropic API Key",
	    "%73%6b%2d%61%6e%74%2d%61%70%69%30%33%2d%64%6b%72%79%46%4d%54%30"
	    "%37%65%6c%73%7a%47%4e%55%31%38%66%6d%74%41%48%4f%56%32%39" },
	{ "GitHub Token", "ghp_dkryFMT07elszGNU18fmtAHOV29dkryFMT07e" },
};

/* Text like the benign corpus: prose, JSON, UUIDs, SHAs, URLs, digits. */
static const char filler[] =
	"lorem ipsum dolor sit amet {\"id\": \"d5a93145-99ba-4ba5-b78d-"
	"83875c3981a8\", \"created\": 1708852299, \"sha\": \"e0ec0deafc434d6e"
	"6054aa24dbc01b3d2ea2038c\", \"url\": \"https://github.com/rust-lang/"
	"rust/commit/ca6cd66c78e8b5bcefb73578f78e1ffad9cf7a0c\"} labore et "
	"dolore magna aliqua 2024-01-15 10:30:00 ut enim ad minim veniam\n";

static const struct scan_finding *
trig_find(const struct scan_result *r, const char *scanner,
    const char *pattern, const char *reason)
{
	unsigned i;

	for (i = 0; i < r->nfindings; i++) {
		const struct scan_finding *f = &r->findings[i];

		if (strcmp(f->scanner, scanner) != 0)
			continue;
		if (pattern != NULL ? f->pattern != NULL &&
		    strcmp(f->pattern, pattern) == 0 :
		    f->pattern == NULL && strcmp(f->reason, reason) == 0)
			return f;
	}
	return NULL;
}

/* Every finding of a is in b. */
static int
trig_subset(const struct scan_result *a, const struct scan_result *b)
{
	unsigned i;

	for (i = 0; i < a->nfindings; i++)
		if (trig_find(b, a->findings[i].scanner, a->findings[i].pattern,
		    a->findings[i].reason) == NULL)
			return 0;
	return 1;
}

/*
 * Scan buf both ways: -1 if the modes differ, else 1 if want is found, 0
 * if not.
 */
static int
trig_both(struct dlp *fast, struct dlp *ref, const char *buf, size_t len,
    const char *want)
{
	struct scan_result rf, rr;

	scan_result_reset(&rf);
	scan_result_reset(&rr);
	dlp_scan_text(fast, buf, len, SCAN_WHERE_BODY, NULL, 0, &rf);
	dlp_scan_text(ref, buf, len, SCAN_WHERE_BODY, NULL, 0, &rr);
	if (!trig_subset(&rf, &rr) || !trig_subset(&rr, &rf))
		return -1;
	return trig_find(&rf, "dlp", want, NULL) != NULL ||
	    trig_find(&rf, "core_dlp", want, NULL) != NULL;
}

/* Insert ins at off into 3 fillers (buf: room for them and ins). */
static size_t
trig_build(char *buf, size_t off, const char *ins, size_t il)
{
	size_t fl = strlen(filler), len = 0, k;

	for (k = 0; k < 3; k++) {
		memcpy(buf + len, filler, fl);
		len += fl;
	}
	memmove(buf + off + il, buf + off, len - off);
	memcpy(buf + off, ins, il);
	return len + il;
}

/* Non-plain bytes and '%' at offsets across the plain-text check. */
static void
trig_plain(struct dlp *fast, struct dlp *ref)
{
	/* Found only once normalised; found only by the run finder. */
	static const char zw[] = "\nsk-\xe2\x80\x8b" "ant-api03-dkry"
	    "FMT07elszGNU18fmtAHOV29\n";
	static const char ctl[] = "\n\x01 c2stYW50LWFwaTAzLWRrcnlGTVQwN2Vsc3pH"
	    "TlUxOGZtdEFIT1YyOQ==\n";
	static const char pct[] = "\n%73%6b%2d%61%6e%74%2d%61%70%69%30%33%2d"
	    "%64%6b%72%79%46%4d%54%30%37%65%6c%73%7a%47%4e%55%31%38%66%6d%74"
	    "%41%48%4f%56%32%39\n";
	static const char *const ins[] = { zw, ctl, pct };
	char *buf = malloc(3 * strlen(filler) + 256);
	size_t off, k, len, bad = 0, runs = 0;

	for (k = 0; k < 3; k++)
		for (off = 0; off <= 3 * strlen(filler); off += 5) {
			len = trig_build(buf, off, ins[k], strlen(ins[k]));
			runs++;
			if (trig_both(fast, ref, buf, len,
			    "Anthropic API Key") != 1 && bad++ < 5)
				diag("insert %zu at offset %zu: missed or modes "
				    "differ", k, off);
		}
	/* The same text without the secret: nothing, both ways. */
	len = trig_build(buf, 700, "\x01%41\xe2\x80\x8b", 7);
	is_int(trig_both(fast, ref, buf, len, "Anthropic API Key"), 0,
	    "non-plain filler: no secret, modes agree");
	is_int(bad, 0, "%zu zero-width, control and %%-encoded plants found, "
	    "modes agree", runs);
	free(buf);
}

int
main(void)
{
	struct dlp *fast, *ref;
	struct scan_result rf, rr;
	char *buf;
	size_t i, off, fl = strlen(filler), pl, len;
	unsigned missed = 0, differ = 0, runs = 0;

	if (!ok(testdlp_pair_new(&fast, &ref) == 0,
	    "scanners with the prefilter and with PCRE2 alone"))
		return tap_done();
	buf = malloc(3 * fl + 1024);
	for (i = 0; i < sizeof(plants) / sizeof(plants[0]); i++) {
		pl = strlen(plants[i].text);
		/* Offsets across the first two 64-byte block boundaries. */
		for (off = 0; off <= 140; off++) {
			len = 0;
			memcpy(buf, filler, off);
			len = off;
			/* Newlines: a card next to digits would become longer. */
			buf[len++] = '\n';
			memcpy(buf + len, plants[i].text, pl);
			len += pl;
			buf[len++] = '\n';
			memcpy(buf + len, filler + off, fl - off);
			len += fl - off;
			scan_result_reset(&rf);
			scan_result_reset(&rr);
			dlp_scan_text(fast, buf, len, SCAN_WHERE_BODY, NULL, 0,
			    &rf);
			dlp_scan_text(ref, buf, len, SCAN_WHERE_BODY, NULL, 0,
			    &rr);
			runs++;
			if (trig_find(&rf, "dlp", plants[i].want, NULL) == NULL &&
			    trig_find(&rf, "core_dlp", plants[i].want, NULL) ==
			    NULL) {
				if (missed++ < 5)
					diag("missed %s at offset %zu (%u findings%s%s)",
					    plants[i].want, off, rf.nfindings,
					    rf.nfindings ? ": " : "",
					    rf.nfindings ? rf.findings[0].reason : "");
			}
			if (!trig_subset(&rf, &rr) || !trig_subset(&rr, &rf)) {
				if (differ++ < 5)
					diag("modes differ: plant %zu offset %zu "
					    "(%u vs %u findings)", i, off,
					    rf.nfindings, rr.nfindings);
			}
		}
	}
	is_int(missed, 0, "%u planted positives found with the trigger pass",
	    runs);
	is_int(differ, 0, "trigger pass and PCRE2 alone report the same");
	/* The filler alone is benign in both modes. */
	scan_result_reset(&rf);
	dlp_scan_text(fast, filler, fl, SCAN_WHERE_BODY, NULL, 0, &rf);
	is_int(rf.nfindings, 0, "filler has no findings");
	trig_plain(fast, ref);
	free(buf);
	dlp_free(fast);
	dlp_free(ref);
	return tap_done();
}
