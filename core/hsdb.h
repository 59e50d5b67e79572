/*
 * hsdb.h - compile the scanner's Vectorscan database in a short-lived child
 * process, so the compiler's code (~3.7 MiB of libhs text that
 * hs_compile_multi() pages in) and its heap never become resident in the
 * engine, which only deserializes the result.
 */
#ifndef PIPELOCK_HSDB_H
#define PIPELOCK_HSDB_H

#include <stddef.h>

/* Bounds on one compile in the child. */
#define HSDB_IMAGE_MAX		(64u << 20)	/* serialized database */
#define HSDB_TIMEOUT_MS		60000		/* child's whole run */

/*
 * A scanner_hs_compile_fn (scanner/scanner.h): fork()s, compiles in the
 * child, reads the serialized database back over a pipe, bounded by
 * HSDB_IMAGE_MAX bytes and HSDB_TIMEOUT_MS.  Vectorscan's own errors come
 * back as they would in-process (*bad names the rejected expression).  If
 * no child can be started (pipe/fork failure) it warns and compiles in this
 * process instead.  A child that dies, hangs or answers garbage is an error
 * ("dlp: Vectorscan: ..." once the scanner prefixes it).  Thread safe.
 */
int hsdb_compile(const char *const *exprs, const unsigned *flags,
    const unsigned *ids, unsigned n, char **db, size_t *dblen, int *bad,
    char *err, size_t errlen);

/* The same compile in this process (the fallback; also for tests). */
int hsdb_compile_here(const char *const *exprs, const unsigned *flags,
    const unsigned *ids, unsigned n, char **db, size_t *dblen, int *bad,
    char *err, size_t errlen);

#endif
