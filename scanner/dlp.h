/*
 * dlp.h - scanner-internal: the compiled DLP pattern set, known secrets and
 * BIP-39 seed phrases.  Used by scanner.c/url.c/domain.c; not installed.
 */
#ifndef PIPELOCK_SCANNER_DLP_H
#define PIPELOCK_SCANNER_DLP_H

#include <stddef.h>

#include "scanner/scanner.h"

struct dlp;

/* Compile built-ins (per include_defaults) + user patterns + core floor. */
struct dlp *dlp_new(const struct scanner_config *cfg, char *err,
    size_t errlen);
void dlp_free(struct dlp *d);

size_t dlp_pattern_count(const struct dlp *d);
int dlp_pattern_info(const struct dlp *d, size_t i, const char **name,
    const char **severity);

/*
 * Match the pattern set (core floor first, then configured patterns) over
 * buf as given: callers normalise/decode first (normalize.h).  host, when
 * not NULL, is checked against each pattern's exempt_domains.  Findings are
 * appended to res with scanner label "core_dlp" or "dlp", offset relative to
 * buf plus base_offset.  Returns 1 if a blocking finding was added, else 0.
 */
int dlp_scan(const struct dlp *d, const char *buf, size_t len,
    enum scan_where where, const char *host, size_t base_offset,
    struct scan_result *res);

/* Known secrets (env/secrets_file) in literal, base64, hex, base32, %-forms. */
int dlp_scan_secrets(const struct dlp *d, const char *buf, size_t len,
    enum scan_where where, struct scan_result *res);

/* BIP-39 seed phrases: tokens split on [-\s,|;:]. */
int dlp_scan_seed(const struct dlp *d, const char *buf, size_t len,
    enum scan_where where, struct scan_result *res);

/*
 * Full text pipeline used for bodies and header values: normalise, DLP,
 * decoded layers (base64/hex/base32, %-decoding, depth-bounded), known
 * secrets, seed phrases.
 */
int dlp_scan_text(const struct dlp *d, const char *buf, size_t len,
    enum scan_where where, const char *host, size_t base_offset,
    struct scan_result *res);

/*
 * Tests and benchmarks: 0 turns the Vectorscan prefilter off so every
 * pattern runs through PCRE2 (the comparison the README reports).
 */
void dlp_set_prefilter(struct dlp *d, int on);

/* The compiled DLP set of a scanner (scanner.c); lives as long as sc. */
const struct dlp *scanner_dlp(const struct scanner *sc);

/*
 * Result helpers shared by the scanner's modules.  scan_result_add() copies
 * a redacted form of match (first 4 bytes + length), never the match itself.
 */
void scan_result_reset(struct scan_result *res);
struct scan_finding *scan_result_add(struct scan_result *res,
    const char *scanner, const char *pattern, const char *severity,
    enum scan_where where, size_t offset, double score, int warn_only,
    const char *match, size_t matchlen, const char *reason_fmt, ...)
    __attribute__((format(printf, 11, 12)));

#endif
