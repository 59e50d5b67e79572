/*
 * scanner.h - pipelock-fw's detection library: DLP, URL and domain checks.
 *
 * Pure: no sockets, no files, no logging, no process-wide state that would
 * stop two scanners (two policies, during a hot reload) from living at once.
 * A scanner is built from a plain `struct scanner_config`, compiles every
 * pattern once in scanner_new(), and is immutable afterwards, so any number
 * of threads may scan with it at the same time.  Per-thread scratch space
 * (PCRE2 match data, Vectorscan scratch) is the scanner's own business.
 *
 * Every check fills a `struct scan_result`.  Findings carry pipelock's
 * scanner labels ("dlp", "blocklist", "entropy", ...) and reason strings, the
 * pattern name and severity, where the match was, and a redacted form of the
 * match: never the secret itself.
 */
#ifndef PIPELOCK_SCANNER_H
#define PIPELOCK_SCANNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A list of owned strings; v[n] is not required to be NULL. */
struct strlist {
	char	**v;
	size_t	  n;
};

enum scan_validator {
	SCAN_VALIDATE_NONE = 0,
	SCAN_VALIDATE_LUHN,
	SCAN_VALIDATE_MOD97,
	SCAN_VALIDATE_ABA,
	SCAN_VALIDATE_WIF,
};

/* One DLP pattern as configured (dlp.patterns[]); RE2 syntax, (?i) added. */
struct scanner_pattern {
	char			*name;
	char			*regex;
	char			*severity;	/* critical|high|medium|low */
	enum scan_validator	 validator;
	struct strlist		 exempt_domains;
	int			 warn_only;	/* action: warn */
};

/*
 * Who compiles the Vectorscan prefilter database (scanner_config.hs_compile).
 * The scanner calls it with the arguments of one hs_compile_multi() call
 * (HS_MODE_BLOCK, n > 0) and loads the answer with hs_deserialize_database().
 * It exists so a daemon can compile in a short-lived child process and keep
 * the compiler's code and heap out of its own resident memory (core/hsdb.h);
 * the scanner itself stays free of I/O.  Returns 0 with a malloc'd
 * hs_serialize_database() image in *db (the caller frees it) and its size in
 * *dblen; or -1 with Vectorscan's message in err and *bad set to the index of
 * the expression it rejected, or -1 when no one expression is at fault.
 */
typedef int scanner_hs_compile_fn(const char *const *exprs,
    const unsigned *flags, const unsigned *ids, unsigned n, char **db,
    size_t *dblen, int *bad, char *err, size_t errlen);

/*
 * Everything the scanner needs, as plain data.  core/config.c fills it from
 * pipelock.yaml (or built-in defaults); the scanner copies what it keeps.
 */
struct scanner_config {
	int		strict;			/* mode: strict -> allowlist */
	int		enforce;		/* 0: findings never block */
	struct strlist	api_allowlist;
	struct strlist	blocklist;		/* fetch_proxy.monitoring.blocklist */
	struct strlist	internal;		/* CIDRs (SSRF) */
	struct strlist	ssrf_ip_allowlist;	/* CIDRs exempt from SSRF */
	struct strlist	trusted_domains;
	struct strlist	subdomain_entropy_exclusions;
	size_t		max_url_length;		/* 0 = no limit */
	double		entropy_threshold;	/* <= 0: off */
	double		subdomain_entropy_threshold;
	int		dlp_include_defaults;	/* built-ins + user patterns */
	struct scanner_pattern *patterns;	/* user patterns */
	size_t		npatterns;
	int		seed_enabled;
	int		seed_min_words;		/* 12|15|18|21|24 */
	int		seed_verify_checksum;
	struct strlist	known_secrets;		/* literal values: env + secrets_file */
	size_t		min_secret_length;
	scanner_hs_compile_fn *hs_compile;	/* NULL: compile in-process */
};

/* Where a finding was made. */
enum scan_where {
	SCAN_WHERE_URL = 0,
	SCAN_WHERE_HOST,
	SCAN_WHERE_PATH,
	SCAN_WHERE_QUERY,
	SCAN_WHERE_HEADER,
	SCAN_WHERE_BODY,
	SCAN_WHERE_DNS,
	SCAN_WHERE_SNI,
};

#define SCAN_REASON_MAX		256
#define SCAN_REDACTED_MAX	48
#define SCAN_MAX_FINDINGS	8

struct scan_finding {
	const char	*scanner;	/* pipelock label, static string */
	const char	*pattern;	/* pattern name or NULL; lives as long as the scanner */
	const char	*severity;	/* or NULL */
	enum scan_where	 where;
	size_t		 offset;	/* byte offset in the scanned input (body) */
	double		 score;
	int		 warn_only;	/* recorded, does not block */
	char		 reason[SCAN_REASON_MAX];	/* pipelock's reason text */
	char		 redacted[SCAN_REDACTED_MAX];	/* e.g. "sk-a…(40 chars)" */
};

struct scan_result {
	int			blocked;	/* any non-warn finding */
	unsigned		nfindings;	/* <= SCAN_MAX_FINDINGS kept */
	unsigned		ndropped;	/* findings beyond the array */
	struct scan_finding	findings[SCAN_MAX_FINDINGS];
};

struct scanner;
struct scan_stream;

/*
 * Compile a scanner.  Returns NULL on error with a message in err, naming the
 * pattern and the PCRE2 error offset ("dlp pattern 'x': PCRE2 error at
 * offset 7: missing closing parenthesis").  The caller keeps ownership of cfg.
 */
struct scanner *scanner_new(const struct scanner_config *cfg, char *err,
    size_t errlen);
void scanner_free(struct scanner *sc);

/* Fill cfg with pipelock's built-in defaults (no config file). */
void scanner_config_defaults(struct scanner_config *cfg);
void scanner_config_clear(struct scanner_config *cfg);

/* Number of DLP patterns in use, and the i-th one's name and severity. */
size_t scanner_pattern_count(const struct scanner *sc);
int scanner_pattern_info(const struct scanner *sc, size_t i,
    const char **name, const char **severity);

/*
 * Each check resets res, then fills it.  Returns 1 if the input is blocked,
 * 0 if allowed, -1 on an internal error (treated as blocked by callers: a
 * finding with scanner "error" is added).
 */
int scanner_check_url(const struct scanner *sc, const char *url, size_t len,
    struct scan_result *res);
/* A bare name: TLS SNI (where = SNI) or a DNS question (where = DNS). */
int scanner_check_domain(const struct scanner *sc, const char *name,
    enum scan_where where, struct scan_result *res);
/* A whole buffer (header value, small body): DLP + known secrets + seed. */
int scanner_check_text(const struct scanner *sc, const char *buf, size_t len,
    enum scan_where where, struct scan_result *res);
/* A resolved or literal address against internal/SSRF ranges. */
int scanner_check_addr(const struct scanner *sc, const char *host,
    const struct sockaddr *sa, struct scan_result *res);

/*
 * Streaming body scan: feed chunks in order; a secret split across chunks is
 * found.  Memory is bounded (SCAN_STREAM_OVERLAP) whatever the body size.
 * scan_stream_feed/finish return like the checks above; once blocked, later
 * feeds are no-ops returning 1.
 */
#define SCAN_STREAM_OVERLAP	4096
struct scan_stream *scan_stream_new(const struct scanner *sc,
    enum scan_where where);
int scan_stream_feed(struct scan_stream *st, const char *buf, size_t len,
    struct scan_result *res);
int scan_stream_finish(struct scan_stream *st, struct scan_result *res);
void scan_stream_free(struct scan_stream *st);

/* Domain list matching as pipelock does it (lowercase, trailing dot, *.x). */
int scanner_domain_match(const char *host, const char *pattern);

const char *scan_where_name(enum scan_where where);

#endif
