/*
 * dlp_patterns.h - scanner-internal: pipelock's built-in DLP pattern table
 * (48 entries) and its core floor (8 entries), as plain data.
 */
#ifndef PIPELOCK_SCANNER_DLP_PATTERNS_H
#define PIPELOCK_SCANNER_DLP_PATTERNS_H

#include <stddef.h>

#include "scanner/scanner.h"

struct dlp_builtin {
	const char		*name;
	const char		*regex;		/* RE2, without the (?i) */
	const char		*severity;
	enum scan_validator	 validator;
	/*
	 * Vectorscan prefilter: a cheaper regex matching a superset of the
	 * pattern's matches (NULL: the pattern itself).  PCRE2 confirms.
	 */
	const char		*prefilter;
	/*
	 * Longest possible match, when bounded (0: unbounded).  Lets Vectorscan
	 * report every end offset so PCRE2 confirms only near the hits.
	 */
	size_t			 maxw;
};

extern const struct dlp_builtin dlp_builtins[];
extern const size_t dlp_nbuiltins;
extern const struct dlp_builtin dlp_core[];
extern const size_t dlp_ncore;

#endif
