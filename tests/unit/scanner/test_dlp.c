/*
 * test_dlp.c - every built-in DLP pattern: a real-format positive and a
 * near-miss (or checksum-failing) negative, through the full text pipeline;
 * the pattern table against pipelock's names and severities; the core floor;
 * include_defaults merge/replace by name; user pattern errors; ReDoS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include "tap.h"
#include "scanner/dlp.h"
#include "scanner/dlp_patterns.h"

struct vec {
	const char *name;
	const char *pos;
	const char *neg;
};

static const struct vec vecs[] = {
	{ "Anthropic API Key",
	    "key sk-ant-api03-dkryFMT07elszGNU18fm",
	    "key sk-ant-dkryFMT07" },
	{ "OpenAI API Key",
	    "sk-proj-dkryFMT07elszGNU18fmtAHOV29gnu",
	    "sk-proj-dkryFMT07" },
	{ "OpenAI Service Key",
	    "sk-svcacct-dkryFMT07elszGNU18fmtAHOV29gnu",
	    "sk-svcacct-dkryFMT07" },
	{ "Fireworks API Key",
	    "fw_dkryFMT07elszGNU18fmtAHO",
	    "fw_dkryFMT07elszGNU18fmtAH" },
	{ "Google API Key",
	    "AIzadkryFMT07elszGNU18fmtAHOV29gnuBIPW3",
	    "AIzadkryFMT07elszGNU18fmtAHOV29gnu" },
	{ "Google OAuth Client Secret",
	    "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",
	    "GOCSPX-dkryFMT07elszGNU18fmtAHOV29" },
	{ "Stripe Key",
	    "sk_live_dkryFMT07elszGNU18fmtAHO",
	    "sk_live_dkryFMT07elszGNU18f" },
	{ "Stripe Webhook Secret",
	    "whsec_dkryFMT07elszGNU18fmtAHOV29gnuBI",
	    "whsec_dkryFMT07elszGNU18f" },
	{ "GitHub Token",
	    "ghp_dkryFMT07elszGNU18fmtAHOV29gnuBIPW3a",
	    "ghp_dkryFMT07elszGNU18fmtAHOV29gnuBIPW3" },
	{ "GitHub Fine-Grained PAT",
	    "github_pat_dkryFMT07elszGNU18fmtAHOV29gnuBIPW3ahovC",
	    "github_pat_dkryFMT07elszGNU18fmtAHOV29gnuBIPW3" },
	{ "GitLab PAT",
	    "glpat-dkryFMT07elszGNU18fm",
	    "glpat-dkryFMT07elszGNU18f" },
	{ "AWS Access ID",
	    "AKIAIOSFODNN7EXAMPLE",
	    "AKIAIOSFODNN7" },
	{ "AWS Secret Key",
	    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLE" },
	{ "Google OAuth Token",
	    "ya29.dkryFMT07elszGNU18fmtAHOV29gnuBIPW3ahovC",
	    "ya29.dkryFMT07elszGNU18f" },
	{ "Slack Token",
	    "xoxb-123456789012-dkryFMT07elszGNU18fmtAHO",
	    "xoxb-12345678" },
	{ "Slack App Token",
	    "xapp-1-A0123456789-1234567890123-abcdef0123456789",
	    "xapp-1-A0123456789" },
	{ "Discord Bot Token",
	    "MdkryFMT07elszGNU18fmtAH.dkryFM.dkryFMT07elszGNU18fmtAHOV29",
	    "MdkryFMT07elszGNU18fmtAH.dkryF.dkryFMT07elszGNU18fmtAHOV29" },
	{ "Twilio API Key",
	    "SK3a18f6d4b2907e5c3a18f6d4b2907e5c",
	    "SK3a18f6d4b2907e5c3a18f6d4b2907e5" },
	{ "SendGrid API Key",
	    "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",
	    "SG.dkryFMT07elszGNU18fmt.dkryFMT07elszGNU18fmtAHOV29gnuBIPW3ahovCJQX" },
	{ "Mailgun API Key",
	    "key-dkryFMT07elszGNU18fmtAHOV29gnuBI",
	    "key-dkryFMT07elszGNU18fmtAHOV29gnuB" },
	{ "New Relic API Key",
	    "NRAK-DKRY5CJQX4BIPW3AHOV29GNU18F",
	    "NRAK-DKRY5CJQX4BIPW3AHOV29GNU18" },
	{ "Hugging Face Token",
	    "hf_dkryFMT07elszGNU18fmtAHOV29gnuBIPW",
	    "hf_dkryFMT07elszGNU18f" },
	{ "Databricks Token",
	    "dapi3a18f6d4b2907e5c3a18f6d4b2907e5c",
	    "dapi3a18f6d4b2907e5c3a18f6d4b2907" },
	{ "Replicate API Token",
	    "r8_dkryFMT07elszGNU18fmtAHOV29gnuBIPW3ah",
	    "r8_dkryFMT07elszGNU18f" },
	{ "Together AI Key",
	    "tok_dkry5cjqx4bipw3ahov29gnu18fmt07elsz6dkry",
	    "tok_dkry5cjqx4bipw3ahov29gnu18fmt07elsz6dkr" },
	{ "Pinecone API Key",
	    "pcsk_dkryFMT07elszGNU18fmtAHOV29gnuBIPW3ahovC",
	    "pcsk_dkryFMT07elszGNU18fmtAHOV29gnuBIPW3" },
	{ "Groq API Key",
	    "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",
	    "gsk_dkryFMT07elszGNU18fmtAHOV29gnuBIPW3ahovCJQX4bip" },
	{ "xAI API Key",
	    "xai-dkryFMT07elszGNU18fmtAHOV29gnuBIPW3ahovCJQX4bipwDKRY5cjqxELSZ6dkryFMT07elszGNU18",
	    "xai-dkryFMT07elszGNU18fmtAHOV29gnuBIPW3ahovCJQX4bipwDKRY5cjqxELSZ6dkryFMT07elszGNU1" },
	{ "DigitalOcean Token",
	    "dop_v1_3a18f6d4b2907e5c3a18f6d4b2907e5c3a18f6d4b2907e5c3a18f6d4b2907e5c",
	    "dop_v1_3a18f6d4b2907e5c3a18f6d4b2907e5c3a18f6d4b2907e5c3a18f6d4b2907e5" },
	{ "HashiCorp Vault Token",
	    "hvs.dkryFMT07elszGNU18fmtAHO",
	    "hvs.dkryFMT07elszGNU18fmtA" },
	{ "Vercel Token",
	    "vercel_dkryFMT07elszGNU18fmtAHO",
	    "vercel_dkryFMT07elszGNU18fmtAH" },
	{ "Supabase Service Key",
	    "sb_secret_dkryFMT07elszGNU18fmtAHO",
	    "sb_secret_dkryFMT07elszGNU18f" },
	{ "npm Token",
	    "npm_dkryFMT07elszGNU18fmtAHOV29gnuBIPW3a",
	    "npm_dkryFMT07elszGNU18fmtAHOV29gnuBIPW3" },
	{ "PyPI Token",
	    "pypi-AgEIcHlwaS5vcmcdkryFMT07elszGNU18fm",
	    "pypi-dkryFMT07elszGN" },
	{ "Linear API Key",
	    "lin_api_dkryFMT07elszGNU18fmtAHOV29gnuBIPW3ahovC",
	    "lin_api_dkryFMT07elszGNU18fmtAHOV29gnuBIPW3ahov" },
	{ "Notion API Key",
	    "ntn_dkryFMT07elszGNU18fmtAHOV29gnuBIPW3ahovC",
	    "ntn_dkryFMT07elszGNU18fmtAHOV29gnuBIPW3ahov" },
	{ "Sentry Auth Token",
	    "sntrys_dkryFMT07elszGNU18fmtAHOV29gnuBIPW3ahovC",
	    "sntrys_dkryFMT07elszGNU18fmtAHOV29gnuBIPW3ahov" },
	{ "Private Key Header",
	    "-----BEGIN RSA PRIVATE KEY-----",
	    "-----BEGIN PUBLIC KEY-----" },
	{ "JWT Token",
	    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
	    "eyJhbGciOiJ.eyJzdWIi.dozjgNryP4J3" },
	{ "Bitcoin WIF Private Key",
	    "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ",
	    "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTK" },
	{ "Extended Private Key",
	    "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi",
	    "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yu" },
	{ "Ethereum Private Key",
	    "0x3a18f6d4b2907e5c3a18f6d4b2907e5c3a18f6d4b2907e5c3a18f6d4b2907e5c",
	    "0x3a18f6d4b2907e5c3a18f6d4b2907e5c3a18f6d4b2907e5c3a18f6d4b2907e5" },
	{ "Social Security Number",
	    "ssn 123-45-6789 on file",
	    "ssn 123-45-678 on file" },
	{ "Google OAuth Client ID",
	    "123456789012-dkry5cjqx4bipw3ahov29gnu18fmt07e.apps.googleusercontent.com",
	    "123456789012-dkry5cjqx4bipw3ahov29gnu18fmt07.apps.googleusercontent.com" },
	{ "Credential in URL",
	    "https://x.test/?user=a&password=hunter22",
	    "https://x.test/?user=a&password=abc" },
	{ "Environment Variable Secret",
	    "DB_PASSWORD=hunter2hunter2",
	    "DB_PASSWORD=hunter2" },
	{ "Credit Card Number",
	    "card 4111 1111 1111 1111 exp",
	    "card 4111 1111 1111 1112 exp" },
	{ "IBAN",
	    "iban GB82WEST12345698765432 ok",
	    "iban GB82WEST12345698765433 ok" },
};

static void
cfg_init(struct scanner_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->dlp_include_defaults = 1;
	cfg->seed_enabled = 1;
	cfg->seed_min_words = 12;
	cfg->seed_verify_checksum = 1;
	cfg->min_secret_length = 16;
}

static const struct scan_finding *
find_pattern(const struct scan_result *r, const char *name)
{
	unsigned i;

	for (i = 0; i < r->nfindings; i++)
		if (r->findings[i].pattern &&
		    strcmp(r->findings[i].pattern, name) == 0)
			return &r->findings[i];
	return NULL;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
test_builtins(const struct dlp *d)
{
	struct scan_result r;
	const struct scan_finding *f;
	size_t i;
	char buf[512];

	is_int(sizeof(vecs) / sizeof(vecs[0]), 48, "48 vectors");
	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		scan_result_reset(&r);
		snprintf(buf, sizeof(buf), "payload: %s\n", vecs[i].pos);
		dlp_scan_text(d, buf, strlen(buf), SCAN_WHERE_BODY, NULL, 0, &r);
		f = find_pattern(&r, vecs[i].name);
		ok(f != NULL && r.blocked, "positive: %s", vecs[i].name);
		if (f) {
			ok(strstr(f->reason, vecs[i].name) != NULL &&
			    strncmp(f->reason, "DLP match: ", 11) == 0,
			    "reason names %s: %s", vecs[i].name, f->reason);
			ok(strstr(f->redacted, vecs[i].pos + 4) == NULL ||
			    strlen(vecs[i].pos) < 8,
			    "redacted, secret not copied (%s)", f->redacted);
		}
		scan_result_reset(&r);
		snprintf(buf, sizeof(buf), "payload: %s\n", vecs[i].neg);
		dlp_scan_text(d, buf, strlen(buf), SCAN_WHERE_BODY, NULL, 0, &r);
		f = find_pattern(&r, vecs[i].name);
		ok(f == NULL, "negative: %s%s%s", vecs[i].name,
		    f ? " fired: " : "", f ? f->reason : "");
	}
}

static void
test_table(const struct dlp *d)
{
	const char *name, *sev;
	size_t i;
	int same = 1;

	is_int(dlp_pattern_count(d), 48, "48 configurable patterns");
	for (i = 0; i < dlp_pattern_count(d) && i < dlp_nbuiltins; i++) {
		dlp_pattern_info(d, i, &name, &sev);
		if (strcmp(name, dlp_builtins[i].name) ||
		    strcmp(sev, dlp_builtins[i].severity))
			same = 0;
	}
	ok(same, "pattern order and severities follow the built-in table");
	dlp_pattern_info(d, 4, &name, &sev);
	is_str(name, "Google API Key", "pattern 5 name");
	is_str(sev, "high", "Google API Key is high in code");
	dlp_pattern_info(d, 42, &name, &sev);
	is_str(sev, "low", "SSN severity low");
	ok(dlp_pattern_info(d, 48, &name, &sev) == -1, "index 48 out of range");
}

static void
test_core_floor(void)
{
	struct scanner_config cfg;
	struct dlp *d;
	struct scan_result r;
	char err[256];
	const char *gcp = "{\"type\": \"service_account\", \"project_id\": \"x\"}";
	const char *ghp = "token=ghp_aB3dE5fG7hJ9kL2mN4pQ6rS8tU1vW0xYz123";

	cfg_init(&cfg);
	cfg.dlp_include_defaults = 0;
	d = dlp_new(&cfg, err, sizeof(err));
	ok(d != NULL, "include_defaults false compiles");
	is_int(dlp_pattern_count(d), 0, "no configurable patterns");
	scan_result_reset(&r);
	dlp_scan_text(d, gcp, strlen(gcp), SCAN_WHERE_BODY, NULL, 0, &r);
	ok(r.blocked && r.nfindings && strcmp(r.findings[0].scanner,
	    "core_dlp") == 0, "core floor: GCP Service Account Key");
	is_str(r.nfindings ? r.findings[0].pattern : NULL,
	    "GCP Service Account Key", "core pattern name");
	scan_result_reset(&r);
	dlp_scan_text(d, ghp, strlen(ghp), SCAN_WHERE_BODY, NULL, 0, &r);
	ok(r.blocked && strcmp(r.findings[0].scanner, "core_dlp") == 0,
	    "core floor: GitHub Token with include_defaults false");
	scan_result_reset(&r);
	dlp_scan_text(d, "sk-ant-api03-aaaaaaaaaaaaaaaa", 29, SCAN_WHERE_BODY,
	    NULL, 0, &r);
	ok(!r.blocked, "non-core built-in off with include_defaults false");
	dlp_free(d);

	/* With defaults on, a core format reports once, as core_dlp, first. */
	cfg_init(&cfg);
	d = dlp_new(&cfg, err, sizeof(err));
	scan_result_reset(&r);
	dlp_scan_text(d, ghp, strlen(ghp), SCAN_WHERE_BODY, NULL, 0, &r);
	{
		unsigned i, n = 0;

		for (i = 0; i < r.nfindings; i++)
			n += r.findings[i].pattern &&
			    strcmp(r.findings[i].pattern, "GitHub Token") == 0;
		is_int(n, 1, "GitHub token reported once");
	}
	is_str(r.findings[0].scanner, "core_dlp", "label core_dlp, first");
	dlp_free(d);
}

static void
test_merge(void)
{
	struct scanner_config cfg;
	struct scanner_pattern up[3];
	struct dlp *d;
	struct scan_result r;
	char err[256];
	const char *name, *sev;
	const char *txt = "id ACME-123456 and sk-ant-api03-aaaaaaaaaaaaaaaa";

	memset(up, 0, sizeof(up));
	up[0].name = "Anthropic API Key";
	up[0].regex = "sk-ant-zzz[a-z]{10,}";
	up[0].severity = "low";
	up[1].name = "Acme ID";
	up[1].regex = "(?-i:ACME)-[0-9]{6}";
	up[1].severity = "medium";
	cfg_init(&cfg);
	cfg.patterns = up;
	cfg.npatterns = 2;
	d = dlp_new(&cfg, err, sizeof(err));
	ok(d != NULL, "user patterns compile: %s", d ? "" : err);
	is_int(dlp_pattern_count(d), 49, "48 built-ins + 1 appended");
	dlp_pattern_info(d, 0, &name, &sev);
	ok(strcmp(name, "Anthropic API Key") == 0 && strcmp(sev, "low") == 0,
	    "same-name user pattern replaces the built-in in place");
	dlp_pattern_info(d, 48, &name, &sev);
	is_str(name, "Acme ID", "new user pattern appended last");
	scan_result_reset(&r);
	dlp_scan_text(d, txt, strlen(txt), SCAN_WHERE_BODY, NULL, 0, &r);
	ok(find_pattern(&r, "Acme ID") != NULL, "user pattern fires");
	ok(find_pattern(&r, "Anthropic API Key") == NULL,
	    "replaced built-in regex no longer used");
	scan_result_reset(&r);
	dlp_scan_text(d, "id acme-123456", 14, SCAN_WHERE_BODY, NULL, 0, &r);
	ok(find_pattern(&r, "Acme ID") == NULL, "(?-i:...) stays case-sensitive");
	dlp_free(d);

	/* include_defaults false: user list only. */
	cfg.dlp_include_defaults = 0;
	d = dlp_new(&cfg, err, sizeof(err));
	is_int(dlp_pattern_count(d), 2, "include_defaults false: user list only");
	dlp_free(d);

	/* warn action and exempt domains. */
	memset(up, 0, sizeof(up));
	char *ex[] = { "*.example.com" };
	up[0].name = "Warn Thing";
	up[0].regex = "warnme[0-9]{4}";
	up[0].severity = "low";
	up[0].warn_only = 1;
	up[1].name = "Exempt Thing";
	up[1].regex = "exemptme[0-9]{4}";
	up[1].severity = "high";
	up[1].exempt_domains.v = ex;
	up[1].exempt_domains.n = 1;
	cfg_init(&cfg);
	cfg.dlp_include_defaults = 0;
	cfg.patterns = up;
	cfg.npatterns = 2;
	d = dlp_new(&cfg, err, sizeof(err));
	scan_result_reset(&r);
	dlp_scan(d, "x warnme1234 y", 14, SCAN_WHERE_QUERY, NULL, 0, &r);
	ok(r.nfindings == 1 && r.findings[0].warn_only && !r.blocked,
	    "warn pattern recorded, not blocking");
	scan_result_reset(&r);
	dlp_scan(d, "exemptme1234", 12, SCAN_WHERE_QUERY, "api.example.com", 0,
	    &r);
	ok(r.nfindings == 0, "exempt domain skips pattern");
	scan_result_reset(&r);
	dlp_scan(d, "exemptme1234", 12, SCAN_WHERE_QUERY, "evil.test", 0, &r);
	ok(r.blocked, "other host still blocked");
	dlp_free(d);

	/* Compile errors name the pattern and the offset in the user regex. */
	memset(up, 0, sizeof(up));
	up[0].name = "Broken";
	up[0].regex = "abc(def";
	up[0].severity = "high";
	cfg.patterns = up;
	cfg.npatterns = 1;
	d = dlp_new(&cfg, err, sizeof(err));
	ok(d == NULL, "bad regex refused");
	ok(strstr(err, "dlp pattern 'Broken': PCRE2 error at offset 7") != NULL,
	    "error names pattern and offset: %s", err);
	dlp_free(d);
}

static void
test_redos(void)
{
	struct scanner_config cfg;
	struct scanner_pattern up[1];
	struct dlp *d;
	struct scan_result r;
	char err[256], *buf;
	size_t n = 20000;
	double t0;

	memset(up, 0, sizeof(up));
	up[0].name = "Evil";
	up[0].regex = "(a+)+$";
	up[0].severity = "low";
	cfg_init(&cfg);
	cfg.dlp_include_defaults = 0;
	cfg.patterns = up;
	cfg.npatterns = 1;
	d = dlp_new(&cfg, err, sizeof(err));
	ok(d != NULL, "ReDoS pattern compiles");
	buf = malloc(n + 1);
	memset(buf, 'a', n);
	buf[n - 1] = '!';
	/* Linear-time prefilter proves there is no match: fast, no finding. */
	t0 = now();
	scan_result_reset(&r);
	dlp_scan(d, buf, n, SCAN_WHERE_BODY, NULL, 0, &r);
	ok(now() - t0 < 1.0 && r.nfindings == 0,
	    "prefilter: (a+)+$ on 20000 bytes done in %.3f s, no finding",
	    now() - t0);
	/* PCRE2 alone backtracks: the limit stops it and blocks. */
	dlp_set_prefilter(d, 0);
	t0 = now();
	scan_result_reset(&r);
	dlp_scan(d, buf, n, SCAN_WHERE_BODY, NULL, 0, &r);
	ok(now() - t0 < 1.0, "PCRE2-only: bounded, %.3f s", now() - t0);
	ok(r.blocked && r.nfindings == 1 &&
	    strcmp(r.findings[0].reason, "DLP scan limit hit: Evil") == 0 &&
	    strcmp(r.findings[0].scanner, "dlp") == 0,
	    "limit reported as blocking finding: %s",
	    r.nfindings ? r.findings[0].reason : "none");
	free(buf);
	dlp_free(d);
}

static void
test_prefilter_equivalence(const struct dlp *d0)
{
	struct scanner_config cfg;
	struct dlp *d;
	struct scan_result a, b;
	char err[256], buf[512];
	size_t i;
	int same = 1;

	cfg_init(&cfg);
	d = dlp_new(&cfg, err, sizeof(err));
	dlp_set_prefilter(d, 0);
	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		snprintf(buf, sizeof(buf), "%s %s", vecs[i].pos, vecs[i].neg);
		scan_result_reset(&a);
		scan_result_reset(&b);
		dlp_scan(d0, buf, strlen(buf), SCAN_WHERE_BODY, NULL, 0, &a);
		dlp_scan(d, buf, strlen(buf), SCAN_WHERE_BODY, NULL, 0, &b);
		if (a.nfindings != b.nfindings || a.blocked != b.blocked) {
			same = 0;
			diag("differs on %s: %u vs %u", vecs[i].name,
			    a.nfindings, b.nfindings);
		}
	}
	ok(same, "Vectorscan+PCRE2 finds what PCRE2 alone finds");
	dlp_free(d);
}

struct worker {
	const struct dlp	*d;
	int			 bad;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct scan_result r;
	size_t i;
	int round;

	for (round = 0; round < 20; round++)
		for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
			scan_result_reset(&r);
			dlp_scan_text(w->d, vecs[i].pos, strlen(vecs[i].pos),
			    SCAN_WHERE_BODY, NULL, 0, &r);
			if (find_pattern(&r, vecs[i].name) == NULL)
				w->bad++;
		}
	return NULL;
}

/* Two compiled sets alive at once (hot reload), four threads scanning. */
static void
test_threads(void)
{
	struct scanner_config cfg;
	struct dlp *d1, *d2;
	struct worker w[4];
	pthread_t th[4];
	char err[256];
	int i, bad = 0;

	cfg_init(&cfg);
	d1 = dlp_new(&cfg, err, sizeof(err));
	d2 = dlp_new(&cfg, err, sizeof(err));
	for (i = 0; i < 4; i++) {
		w[i].d = i % 2 ? d2 : d1;
		w[i].bad = 0;
		pthread_create(&th[i], NULL, worker_run, &w[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		bad += w[i].bad;
	}
	is_int(bad, 0, "4 threads over 2 scanners: every positive found");
	dlp_free(d1);
	dlp_free(d2);
}

/* A set of two high-severity user patterns, built-ins on or off. */
static struct dlp *
two_patterns(const char *n1, const char *re1, const char *n2,
    const char *re2, int defaults)
{
	struct scanner_config cfg;
	struct scanner_pattern up[2];
	char err[256];
	struct dlp *d;

	memset(up, 0, sizeof(up));
	up[0].name = (char *)n1;
	up[0].regex = (char *)re1;
	up[0].severity = "high";
	up[1].name = (char *)n2;
	up[1].regex = (char *)re2;
	up[1].severity = "high";
	cfg_init(&cfg);
	cfg.dlp_include_defaults = defaults;
	cfg.patterns = up;
	cfg.npatterns = 2;
	if ((d = dlp_new(&cfg, err, sizeof(err))) == NULL)
		diag("dlp_new: %s", err);
	return d;
}

static void
test_ci_prefix(void)
{
	struct dlp *d;
	struct scan_result r;

	d = two_patterns("Already CI", "(?i)zq-[0-9]{4}", "Bare",
	    "xw-[0-9]{4}", 0);
	scan_result_reset(&r);
	dlp_scan(d, "ZQ-1234 XW-5678", 15, SCAN_WHERE_BODY, NULL, 0, &r);
	ok(find_pattern(&r, "Already CI") && find_pattern(&r, "Bare"),
	    "(?i) kept once or added: both case-insensitive");
	dlp_free(d);
}

/* PCRE2-only syntax Vectorscan refuses even as a prefilter still works. */
static void
test_unsupported(void)
{
	struct dlp *d;
	struct scan_result r;

	d = two_patterns("Recursive", "q(?R)?z", "Backref", "(ab[0-9])-\\1",
	    1);
	if (!ok(d != NULL, "recursion and backreference compile"))
		return;
	scan_result_reset(&r);
	dlp_scan(d, "xx qqzz ab7-ab7 yy", 18, SCAN_WHERE_BODY, NULL, 0, &r);
	ok(find_pattern(&r, "Recursive") != NULL, "recursive pattern matches");
	ok(find_pattern(&r, "Backref") != NULL, "backreference matches");
	scan_result_reset(&r);
	dlp_scan(d, "ab7-ab8", 7, SCAN_WHERE_BODY, NULL, 0, &r);
	ok(find_pattern(&r, "Backref") == NULL, "backreference mismatch");
	dlp_free(d);
}

/*
 * Differential: random text dense in digits, separators, letters and
 * fragments of real formats, matched with the Vectorscan prefilter and
 * shape pass, and with PCRE2 alone; both must find the same patterns.
 */
static void
test_differential(void)
{
	static const char *frag[] = {
		"4111", "1111", " ", "-", "0", "GB82", "WEST", "1234",
		"5698765432", "078", "05", "1120", "_", ".", "\n", "abandon",
		"about", "legal", "winner", "thank", "yellow", ",", "|", ":",
		"5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ",
		"MTk4NjIyNDgzNDcxOTI1MjQ4", "Ab9", "x", "DE89370400440532013000",
		"6011111111111117", "378282246310005", "Z", "ab_", "..",
		"KwdMAjGmerYanjeui5SHS7JkmpZvVipYvB2LJGU1ZxJwYvP98617",
	};
	struct scanner_config cfg;
	struct dlp *a, *b;
	struct scan_result ra, rb;
	char err[256], buf[600];
	unsigned seed = 12345, i, n, k, diff = 0, hits = 0;
	size_t len;

	cfg_init(&cfg);
	a = dlp_new(&cfg, err, sizeof(err));
	b = dlp_new(&cfg, err, sizeof(err));
	dlp_set_prefilter(b, 0);
	for (i = 0; i < 20000; i++) {
		len = 0;
		n = 1 + (seed = seed * 1103515245 + 12345) % 40;
		while (n-- > 0) {
			const char *f;

			seed = seed * 1103515245 + 12345;
			f = frag[(seed >> 8) % (sizeof(frag) / sizeof(frag[0]))];
			if (len + strlen(f) + 1 >= sizeof(buf))
				break;
			memcpy(buf + len, f, strlen(f));
			len += strlen(f);
			if ((seed >> 20) % 3 == 0)
				buf[len++] = ' ';
		}
		scan_result_reset(&ra);
		scan_result_reset(&rb);
		dlp_scan_text(a, buf, len, SCAN_WHERE_BODY, NULL, 0, &ra);
		dlp_scan_text(b, buf, len, SCAN_WHERE_BODY, NULL, 0, &rb);
		hits += ra.nfindings > 0;
		for (k = 0; k < rb.nfindings; k++)
			if (rb.findings[k].pattern &&
			    !find_pattern(&ra, rb.findings[k].pattern)) {
				if (diff++ < 5)
					diag("missed %s in \"%.*s\"",
					    rb.findings[k].pattern, (int)len,
					    buf);
			}
		for (k = 0; k < ra.nfindings; k++)
			if (ra.findings[k].pattern &&
			    !find_pattern(&rb, ra.findings[k].pattern))
				diff++;
	}
	is_int(diff, 0, "20000 random inputs (%u with findings): prefilter "
	    "and PCRE2 alone agree", hits);
	dlp_free(a);
	dlp_free(b);
}

int
main(void)
{
	struct scanner_config cfg;
	struct dlp *d;
	char err[256];

	cfg_init(&cfg);
	d = dlp_new(&cfg, err, sizeof(err));
	if (!ok(d != NULL, "dlp_new with defaults: %s", d ? "ok" : err))
		return tap_done();
	test_table(d);
	test_builtins(d);
	test_prefilter_equivalence(d);
	dlp_free(d);
	test_core_floor();
	test_merge();
	test_redos();
	test_threads();
	test_ci_prefix();
	test_unsupported();
	test_differential();
	return tap_done();
}
