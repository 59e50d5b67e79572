/*
 * log.h - diagnostics for the CLI and the daemon, in the OpenBSD shape.
 *
 * Messages go to stderr in the foreground; log_init(LOG_TO_SYSLOG) sends them
 * to syslog(3) instead.  log_warn() appends strerror(errno).  fatal()/fatalx()
 * exit with status 1 and belong only in main-level code: library code returns
 * errors instead.  Audit events (one JSON line per decision) are separate:
 * see audit.h.
 */
#ifndef PIPELOCK_LOG_H
#define PIPELOCK_LOG_H

#include <stdarg.h>

enum log_dest {
	LOG_TO_STDERR = 0,
	LOG_TO_SYSLOG,
};

void log_init(enum log_dest dest, int verbosity);
int log_verbosity(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
