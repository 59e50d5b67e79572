/*
 * testdlp.h - unit-test helper: the two DLP scanners the differential
 * tests compare, one with the prefilter and one with PCRE2 alone.
 */
#ifndef PIPELOCK_TESTDLP_H
#define PIPELOCK_TESTDLP_H

struct dlp;

/*
 * Scanners of the default config (seed phrases on): *fast with
 * the Vectorscan prefilter and the SIMD passes, *ref with PCRE2 alone,
 * which scans every byte with the byte loops.  0, or -1 (a diag line
 * says why, neither is left allocated).  The caller frees both.
 */
int testdlp_pair_new(struct dlp **fast, struct dlp **ref);

#endif
