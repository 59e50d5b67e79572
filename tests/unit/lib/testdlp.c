/*
 * testdlp.c - unit-test helper: the prefiltered and the PCRE2-only DLP
 * scanners that the differential tests compare.
 */
#include <stdio.h>

#include "scanner/dlp.h"
#include "testdlp.h"

int
testdlp_pair_new(struct dlp **fast, struct dlp **ref)
{
	struct scanner_config cfg;
	char err[256] = "";

	scanner_config_defaults(&cfg);
	*fast = dlp_new(&cfg, err, sizeof(err));
	*ref = *fast != NULL ? dlp_new(&cfg, err, sizeof(err)) : NULL;
	/* The compiled sets keep what they need: the config can go now. */
	scanner_config_clear(&cfg);
	if (*fast == NULL || *ref == NULL) {
		printf("# dlp_new: %s\n", err);
		dlp_free(*fast);
		*fast = *ref = NULL;
		return -1;
	}
	dlp_set_prefilter(*ref, 0);
	return 0;
}
