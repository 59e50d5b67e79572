/*
 * check.c - `pipelock-fw check`: would a URL, a body or a DNS name be
 * blocked, and is a configuration valid?
 *
 * It goes through the daemon's own load path (config_load + policy_new,
 * which compiles every pattern, and the nftables ruleset rendered without
 * touching the kernel) and the scanner calls the engine makes, so its
 * answer is the engine's answer.  Output never repeats the input (a URL
 * or body may hold the secret): findings carry the scanner's redacted
 * match only.
 *
 * Exit: 0 allowed (or configuration OK), 1 blocked, 2 usage/config error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/config.h"
#include "core/policy.h"
#include "rules/rules.h"
#include "scanner/scanner.h"

#define CHECK_CHUNK		(64u << 10)	/* --file read size */
#define CHECK_MAX_SUBJECTS	64

enum subject_kind {
	SUBJ_URL = 0,
	SUBJ_TEXT,
	SUBJ_FILE,
	SUBJ_DNS,
};

static const char *const subject_names[] = { "url", "text", "file", "dns" };

struct subject {
	enum subject_kind	 kind;
	const char		*arg;
	int			 verdict;	/* 1 blocked, 0 allowed, -1 error */
	int			 unreadable;	/* --file: usage error, exit 2 */
	char			 error[256];
	struct scan_result	 res;
};

static void
check_usage(FILE *f)
{
	fprintf(f,
	    "Usage: %s check [--config FILE] [--url URL] [--text STRING]\n"
	    "           [--file PATH|-] [--dns NAME] [--list-patterns] [--json]\n"
	    "\n"
	    "Load the configuration the way `run` does (every pattern compiled)\n"
	    "and scan what is given with the engine's scanner.  Without --config\n"
	    "the built-in defaults are used; with only --config the file is\n"
	    "validated and \"configuration OK\" printed.\n"
	    "\n"
	    "  -c, --config FILE   pipelock.yaml to load\n"
	    "  -u, --url URL       check a URL (scheme, lists, SSRF, entropy, DLP)\n"
	    "  -t, --text STRING   scan a string as a request body\n"
	    "  -f, --file PATH     scan a file as a request body ('-': stdin),\n"
	    "                      streamed in chunks\n"
	    "  -d, --dns NAME      check a DNS question / TLS SNI name\n"
	    "  -l, --list-patterns print \"name<TAB>severity\" for every DLP\n"
	    "                      pattern in use\n"
	    "  -j, --json          one JSON object on stdout\n"
	    "  -h, --help          this help\n"
	    "\n"
	    "The options --url, --text, --file and --dns may be repeated.\n"
	    "Exit status: 0 allowed or configuration OK, 1 blocked,\n"
	    "2 usage or configuration error.\n", progname);
}

/* ---- scanning ---------------------------------------------------------- */

static int
finding_same(const struct scan_finding *a, const struct scan_finding *b)
{
	return a->where == b->where && a->offset == b->offset &&
	    strcmp(a->scanner, b->scanner) == 0 &&
	    ((a->pattern == NULL && b->pattern == NULL) ||
	    (a->pattern && b->pattern && strcmp(a->pattern, b->pattern) == 0));
}

/* Stream results arrive per feed: collect them without repeats. */
static void
result_merge(struct scan_result *into, const struct scan_result *from)
{
	unsigned i, j;

	into->blocked |= from->blocked;
	into->ndropped += from->ndropped;
	for (i = 0; i < from->nfindings; i++) {
		for (j = 0; j < into->nfindings; j++)
			if (finding_same(&into->findings[j], &from->findings[i]))
				break;
		if (j < into->nfindings)
			continue;
		if (into->nfindings < SCAN_MAX_FINDINGS)
			into->findings[into->nfindings++] = from->findings[i];
		else
			into->ndropped++;
	}
}

static int
scan_file(const struct scanner *sc, struct subject *s)
{
	struct scan_stream *st = NULL;
	struct scan_result part;
	char *buf = NULL;
	ssize_t n;
	int fd = -1, r = 0, ret = -1;

	memset(&s->res, 0, sizeof(s->res));
	if (strcmp(s->arg, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(s->arg, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(s->error, sizeof(s->error), "%s: %s", s->arg,
		    strerror(errno));
		s->unreadable = 1;
		goto cleanup;
	}
	if ((buf = malloc(CHECK_CHUNK)) == NULL ||
	    (st = scan_stream_new(sc, SCAN_WHERE_BODY)) == NULL) {
		snprintf(s->error, sizeof(s->error), "out of memory");
		goto cleanup;
	}
	for (;;) {
		n = read(fd, buf, CHECK_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(s->error, sizeof(s->error), "%s: %s", s->arg,
			    strerror(errno));
			s->unreadable = 1;
			goto cleanup;
		}
		if (n == 0)
			break;
		memset(&part, 0, sizeof(part));
		r = scan_stream_feed(st, buf, (size_t)n, &part);
		result_merge(&s->res, &part);
		if (r != 0)
			break;
	}
	if (r == 0) {
		memset(&part, 0, sizeof(part));
		r = scan_stream_finish(st, &part);
		result_merge(&s->res, &part);
	}
	ret = r;
cleanup:
	scan_stream_free(st);
	free(buf);
	if (fd != -1 && fd != STDIN_FILENO)
		close(fd);
	return ret;
}

static void
subject_scan(const struct scanner *sc, struct subject *s)
{
	switch (s->kind) {
	case SUBJ_URL:
		s->verdict = scanner_check_url(sc, s->arg, strlen(s->arg),
		    &s->res);
		break;
	case SUBJ_TEXT:
		s->verdict = scanner_check_text(sc, s->arg, strlen(s->arg),
		    SCAN_WHERE_BODY, &s->res);
		break;
	case SUBJ_DNS:
		s->verdict = scanner_check_domain(sc, s->arg, SCAN_WHERE_DNS,
		    &s->res);
		break;
	case SUBJ_FILE:
		s->verdict = scan_file(sc, s);
		break;
	}
	if (s->verdict == -1 && s->error[0] == '\0')
		snprintf(s->error, sizeof(s->error), "internal scanner error");
}

/* ---- output ------------------------------------------------------------ */

static void
json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static const char *
verdict_name(int v)
{
	return v == 1 ? "blocked" : v == 0 ? "allowed" : "error";
}

/* What the subject was, without repeating a possibly secret input. */
static void
subject_label(const struct subject *s, char *buf, size_t len)
{
	if (s->kind == SUBJ_FILE)
		snprintf(buf, len, "file %s", strcmp(s->arg, "-") == 0 ?
		    "(stdin)" : s->arg);
	else
		snprintf(buf, len, "%s (%zu bytes)", subject_names[s->kind],
		    strlen(s->arg));
}

static void
print_human(const struct subject *s, int enforce)
{
	const struct scan_finding *fd;
	char label[300];
	unsigned i;

	subject_label(s, label, sizeof(label));
	printf("%s: %s\n", label, s->verdict == 1 ? "BLOCKED" :
	    s->verdict == 0 ? "ALLOWED" : "ERROR (treated as blocked)");
	if (s->error[0] != '\0')
		printf("  error:    %s\n", s->error);
	for (i = 0; i < s->res.nfindings; i++) {
		fd = &s->res.findings[i];
		printf("  finding %u: %s%s\n", i + 1, fd->scanner,
		    fd->warn_only ? " (warn only, not blocking)" : "");
		printf("    reason:   %s\n", fd->reason);
		if (fd->pattern != NULL)
			printf("    pattern:  %s\n", fd->pattern);
		if (fd->severity != NULL && *fd->severity != '\0')
			printf("    severity: %s\n", fd->severity);
		if (fd->where == SCAN_WHERE_BODY)
			printf("    where:    body offset %zu\n", fd->offset);
		else
			printf("    where:    %s\n", scan_where_name(fd->where));
		if (fd->redacted[0] != '\0')
			printf("    match:    %s\n", fd->redacted);
		if (fd->score != 0)
			printf("    score:    %.2f\n", fd->score);
	}
	if (s->res.ndropped)
		printf("  (%u more finding(s) not shown)\n", s->res.ndropped);
	if (s->verdict == 0 && s->res.nfindings > 0 && !enforce)
		printf("  (enforce: false: findings are logged, not blocked)\n");
}

static void
print_json_subject(const struct subject *s)
{
	const struct scan_finding *fd;
	unsigned i;

	printf("{\"kind\":\"%s\",", subject_names[s->kind]);
	if (s->kind == SUBJ_FILE) {
		printf("\"file\":");
		json_str(stdout, s->arg);
		printf(",");
	} else
		printf("\"length\":%zu,", strlen(s->arg));
	printf("\"verdict\":\"%s\",", verdict_name(s->verdict));
	if (s->error[0] != '\0') {
		printf("\"error\":");
		json_str(stdout, s->error);
		printf(",");
	}
	printf("\"findings\":[");
	for (i = 0; i < s->res.nfindings; i++) {
		fd = &s->res.findings[i];
		printf("%s{\"scanner\":", i ? "," : "");
		json_str(stdout, fd->scanner);
		printf(",\"reason\":");
		json_str(stdout, fd->reason);
		printf(",\"pattern\":");
		json_str(stdout, fd->pattern);
		printf(",\"severity\":");
		json_str(stdout, fd->severity);
		printf(",\"where\":\"%s\",\"offset\":%zu,\"score\":%.4f,"
		    "\"warn_only\":%s,\"match\":", scan_where_name(fd->where),
		    fd->offset, fd->score, fd->warn_only ? "true" : "false");
		json_str(stdout, fd->redacted);
		printf("}");
	}
	printf("],\"dropped\":%u}", s->res.ndropped);
}

static void
print_json(const struct config *cfg, const struct scanner *sc,
    const struct subject *subj, size_t nsubj, int list, int blocked)
{
	const char *name, *sev;
	size_t i, n;

	printf("{\"config\":");
	json_str(stdout, cfg->path);
	printf(",\"configuration\":\"ok\",\"warnings\":[");
	for (i = 0; i < cfg->warnings.n; i++) {
		printf("%s", i ? "," : "");
		json_str(stdout, cfg->warnings.v[i]);
	}
	printf("]");
	if (list) {
		printf(",\"patterns\":[");
		n = scanner_pattern_count(sc);
		for (i = 0; i < n; i++) {
			if (scanner_pattern_info(sc, i, &name, &sev) == -1)
				continue;
			printf("%s{\"name\":", i ? "," : "");
			json_str(stdout, name);
			printf(",\"severity\":");
			json_str(stdout, sev);
			printf("}");
		}
		printf("]");
	}
	if (nsubj > 0) {
		printf(",\"results\":[");
		for (i = 0; i < nsubj; i++) {
			printf("%s", i ? "," : "");
			print_json_subject(&subj[i]);
		}
		printf("],\"blocked\":%s", blocked ? "true" : "false");
	}
	printf("}\n");
}

static void
print_json_error(const char *err)
{
	printf("{\"configuration\":\"error\",\"error\":");
	json_str(stdout, err);
	printf("}\n");
}

/* ---- main -------------------------------------------------------------- */

/* Render the ruleset `firewall apply` would install, and throw it away. */
static int
ruleset_check(const struct config *cfg)
{
	FILE *f;
	int r;

	if ((f = fopen("/dev/null", "we")) == NULL)
		return -1;
	r = rules_render(cfg, RULES_F_QUIET, f);
	fclose(f);
	return r;
}

int
check_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "url", required_argument, NULL, 'u' },
		{ "text", required_argument, NULL, 't' },
		{ "file", required_argument, NULL, 'f' },
		{ "dns", required_argument, NULL, 'd' },
		{ "list-patterns", no_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct subject *subj = NULL;
	struct policy *pol = NULL;
	struct config *cfg = NULL;
	const char *config_path = NULL, *name, *sev;
	char err[CONFIG_ERR_MAX];
	size_t nsubj = 0, i, n;
	int c, json = 0, list = 0, blocked = 0, ret = EXIT_USAGE;
	enum subject_kind kind;

	if ((subj = calloc(CHECK_MAX_SUBJECTS, sizeof(*subj))) == NULL) {
		fprintf(stderr, "%s: out of memory\n", progname);
		return EXIT_USAGE;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:u:t:f:d:ljh", opts, NULL)) !=
	    -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			continue;
		case 'l':
			list = 1;
			continue;
		case 'j':
			json = 1;
			continue;
		case 'h':
			check_usage(stdout);
			ret = EXIT_ALLOWED;
			goto cleanup;
		case 'u': kind = SUBJ_URL; break;
		case 't': kind = SUBJ_TEXT; break;
		case 'f': kind = SUBJ_FILE; break;
		case 'd': kind = SUBJ_DNS; break;
		default:
			if (optopt != 0 && strchr("cutfd", optopt))
				fprintf(stderr, "%s check: option requires an "
				    "argument: %s\n", progname, argv[optind - 1]);
			else
				fprintf(stderr, "%s check: unknown option: "
				    "%s\n", progname, argv[optind - 1]);
			check_usage(stderr);
			goto cleanup;
		}
		if (nsubj >= CHECK_MAX_SUBJECTS) {
			fprintf(stderr, "%s check: at most %d inputs\n",
			    progname, CHECK_MAX_SUBJECTS);
			goto cleanup;
		}
		subj[nsubj].kind = kind;
		subj[nsubj++].arg = optarg;
	}
	if (optind < argc) {
		fprintf(stderr, "%s check: unexpected argument: %s\n",
		    progname, argv[optind]);
		check_usage(stderr);
		goto cleanup;
	}

	if (config_load(config_path, &cfg, err, sizeof(err)) == -1 ||
	    (pol = policy_new(cfg, err, sizeof(err))) == NULL) {
		/* policy_new owns cfg, also on error */
		fprintf(stderr, "error: %s\n", err);
		if (json)
			print_json_error(err);
		goto cleanup;
	}
	cfg = pol->cfg;
	for (i = 0; i < cfg->warnings.n; i++)
		fprintf(stderr, "warning: %s\n", cfg->warnings.v[i]);
	if (ruleset_check(cfg) == -1) {
		snprintf(err, sizeof(err), "%s: the firewall ruleset cannot be "
		    "built from this configuration", cfg->path ? cfg->path :
		    "(defaults)");
		fprintf(stderr, "error: %s\n", err);
		if (json)
			print_json_error(err);
		goto cleanup;
	}

	for (i = 0; i < nsubj; i++) {
		subject_scan(pol->scanner, &subj[i]);
		if (subj[i].unreadable) {
			/* nothing was scanned: a usage error, not a verdict */
			fprintf(stderr, "error: %s\n", subj[i].error);
			goto cleanup;
		}
		if (subj[i].verdict != 0)
			blocked = 1;
	}
	if (json)
		print_json(cfg, pol->scanner, subj, nsubj, list, blocked);
	else {
		if (list) {
			n = scanner_pattern_count(pol->scanner);
			for (i = 0; i < n; i++)
				if (scanner_pattern_info(pol->scanner, i, &name,
				    &sev) == 0)
					printf("%s\t%s\n", name, sev ? sev : "");
		}
		for (i = 0; i < nsubj; i++)
			print_human(&subj[i], cfg->enforce);
		if (nsubj == 0 && !list)
			printf("configuration OK\n");
	}
	ret = blocked ? EXIT_BLOCKED : EXIT_ALLOWED;
cleanup:
	if (fflush(stdout) == EOF && ret != EXIT_USAGE)
		ret = EXIT_USAGE;
	policy_unref(pol);
	free(subj);
	return ret;
}
