/*
 * dlp_patterns.h - scanner-internal: pipelock's built-in DLP pattern table
 * (48 entries) and its core floor (8 entries), as plain data.
 */
#ifndef PIPELOCK_SCANNER_DLP_PATTERNS_H
#define PIPELOCK_SCANNER_DLP_PATTERNS_H

#include <stddef.h>

#include "scanner/scanner.h"

enum dlp_shape {
	DLP_SHAPE_NONE = 0,
	DLP_SHAPE_IBAN,
	DLP_SHAPE_WIF,
	DLP_SHAPE_DISCORD,
	DLP_SHAPE_CARD,
	DLP_SHAPE_SSN,
	DLP_SHAPE_COUNT,
};

struct dlp_builtin {
	const char		*name;
	const char		*regex;		/* RE2, without the (?i) */
	const char		*severity;
	enum scan_validator	 validator;
	/* Found by dlp.c's shape pass instead of Vectorscan. */
	enum dlp_shape		 shape;
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
