/*
 * tap.h - a header-only TAP producer for the unit tests.
 *
 * Each test binary prints "ok N - what" / "not ok N - what # file:line" and
 * ends with the plan "1..N"; tests/run-unit.sh adds the counts up.  A binary
 * that crashes or exits non-zero counts as one more failure.
 */
#ifndef PIPELOCK_TAP_H
#define PIPELOCK_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

__attribute__((format(printf, 4, 5), unused)) static int
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	printf("%sok %d - ", pass ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!pass) {
		tap_failed++;
		printf(" # at %s:%d", file, line);
	}
	printf("\n");
	fflush(stdout);
	return pass;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, ...) do {					\
	long long tap_g_ = (long long)(got), tap_w_ = (long long)(want);	\
	if (!ok(tap_g_ == tap_w_, __VA_ARGS__))				\
		printf("#   got %lld, want %lld\n", tap_g_, tap_w_);	\
} while (0)

#define is_str(got, want, ...) do {					\
	const char *tap_g_ = (got), *tap_w_ = (want);			\
	int tap_p_ = (tap_g_ && tap_w_) ? strcmp(tap_g_, tap_w_) == 0	\
	    : tap_g_ == tap_w_;						\
	if (!ok(tap_p_, __VA_ARGS__))					\
		printf("#   got \"%s\", want \"%s\"\n",			\
		    tap_g_ ? tap_g_ : "(null)", tap_w_ ? tap_w_ : "(null)");	\
} while (0)

#define diag(...) do { printf("# "); printf(__VA_ARGS__); printf("\n"); } while (0)

__attribute__((unused)) static int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
