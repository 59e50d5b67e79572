/*
 * result.c - filling a struct scan_result.
 *
 * The one place a finding is built, so the one place that decides what of
 * a matched secret may leave the scanner: its first 4 bytes (printable
 * ASCII only) and its length.  Logs, JSON output and metrics all read the
 * finding, never the match.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "scanner/dlp.h"

#define RESULT_SHOWN	4	/* leading bytes of a match shown */

void
scan_result_reset(struct scan_result *res)
{
	res->blocked = 0;
	res->nfindings = 0;
	res->ndropped = 0;
}

/* "sk-a…(40 chars)": non-printable leading bytes shown as '?'. */
static void
result_redact(char *dst, size_t cap, const char *match, size_t len)
{
	char head[RESULT_SHOWN + 1];
	size_t i, n = len < RESULT_SHOWN ? len : RESULT_SHOWN;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)match[i];
		head[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	head[n] = '\0';
	snprintf(dst, cap, "%s\xe2\x80\xa6(%zu chars)", head, len);
}

struct scan_finding *
scan_result_add(struct scan_result *res, const char *scanner,
    const char *pattern, const char *severity, enum scan_where where,
    size_t offset, double score, int warn_only, const char *match,
    size_t matchlen, const char *reason_fmt, ...)
{
	struct scan_finding *f;
	va_list ap;

	if (!warn_only)
		res->blocked = 1;
	if (res->nfindings >= SCAN_MAX_FINDINGS) {
		res->ndropped++;
		return NULL;
	}
	f = &res->findings[res->nfindings++];
	memset(f, 0, sizeof(*f));
	f->scanner = scanner;
	f->pattern = pattern;
	f->severity = severity;
	f->where = where;
	f->offset = offset;
	f->score = score;
	f->warn_only = warn_only;
	va_start(ap, reason_fmt);
	vsnprintf(f->reason, sizeof(f->reason), reason_fmt, ap);
	va_end(ap);
	if (match != NULL)
		result_redact(f->redacted, sizeof(f->redacted), match,
		    matchlen);
	return f;
}
