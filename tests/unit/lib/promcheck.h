/*
 * promcheck.h - a strict checker of the Prometheus text exposition format
 * 0.0.4, for tests.
 *
 * Stricter than Prometheus itself where a well-behaved exporter has no
 * reason to differ: every sample needs a TYPE line that comes before it,
 * a family's samples are contiguous, no series appears twice, and each
 * histogram label set has strictly increasing le bounds ending in +Inf,
 * non-decreasing cumulative counts, and +Inf == _count; _sum is present.
 */
#ifndef PIPELOCK_PROMCHECK_H
#define PIPELOCK_PROMCHECK_H

#include <stddef.h>

/*
 * Check text[0..len).  Returns the number of samples, or -1 with
 * "line N: what" in err.
 */
long promcheck(const char *text, size_t len, char *err, size_t errlen);

/* Whether a family named name has a TYPE line in text. */
int promcheck_has_family(const char *text, const char *name);

/*
 * The value of the first sample whose line starts with series (e.g.
 * "pipelock_requests_total{result=\"allowed\"" or "pipelock_info{"), or
 * -1 when there is none.
 */
double promcheck_value(const char *text, const char *series);

#endif
