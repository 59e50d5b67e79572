/*
 * audit.h - the audit log: one JSON line per decision.
 *
 * Lines go to stdout and/or a file (logging.output), each written with one
 * write(2) under a lock, so workers can share the log.  Strings are escaped
 * for JSON with control characters (ANSI escapes included) stripped and
 * invalid UTF-8 replaced.  Callers pass the scanner's redacted form of a
 * match, never the match itself.
 *
 * Identical events (same event, verdict, reason, proto, uid, host, dst, url)
 * within AUDIT_WINDOW_MS are written once and then counted: audit_tick()
 * writes one "suppressed" line with the count when the window closes, so an
 * agent retrying in a loop cannot fill the disk.
 */
#ifndef PIPELOCK_AUDIT_H
#define PIPELOCK_AUDIT_H

#include <stdint.h>
#include <sys/types.h>

#define AUDIT_WINDOW_MS		1000
#define AUDIT_LINE_MAX		4096	/* longer lines are cut at a field */

/* Unset numeric fields are omitted: use AUDIT_UNSET. */
#define AUDIT_UNSET		(-1)

struct audit_event {
	const char	*event;		/* "tcp", "tcp_close", "limit", "rules", ... */
	const char	*verdict;	/* "allow" | "block" | "warn" | NULL */
	const char	*reason;
	const char	*proto;		/* "tls" | "http" | "tcp" | NULL */
	long long	 uid, gid, pid;	/* AUDIT_UNSET: unknown */
	const char	*exe;
	const char	*src, *dst;	/* "addr:port" / "[v6]:port" */
	const char	*host;		/* SNI or Host */
	const char	*alpn;
	int		 ech;		/* 1: ECH extension present */
	const char	*scanner, *pattern, *redacted;
	long long	 bytes_up, bytes_down, duration_ms;	/* AUDIT_UNSET */
	const char	*message;	/* free text (reload, rules events) */
	/* one HTTP request (event "http"); NULL / AUDIT_UNSET otherwise */
	const char	*method;
	const char	*url;		/* secrets redacted */
	long long	 status;	/* the block response's status */
};

/* Set every numeric field to AUDIT_UNSET and every pointer to NULL. */
void audit_event_init(struct audit_event *ev);

/*
 * Open the sinks: to_stdout, and path (NULL: none) opened append 0600.
 * include_allowed / include_blocked filter "allow" / "block" verdicts.
 * 0, or -1 (errno) if the file cannot be opened.
 */
int audit_open(int to_stdout, const char *path, int include_allowed,
    int include_blocked);
/* Flush pending summaries and close the file.  Safe to call twice. */
void audit_close(void);

/*
 * First step of writing ev: 1 if it should be written now, 0 if it is
 * filtered or suppressed as a repeat (then counted).  Lets callers skip
 * expensive fields (pid/exe from /proc) for lines that will not be written.
 */
int audit_admit(const struct audit_event *ev);
/* Write ev (after audit_admit() said 1; or directly for one-off events). */
void audit_emit(const struct audit_event *ev);
/* Write the summaries of closed windows; call a few times per second. */
void audit_tick(void);

/*
 * Render ev as one JSON line (with '\n') into buf; returns its length.  For
 * tests; audit_emit() uses it.  ts_ms is the wall-clock time in ms.
 */
size_t audit_format(const struct audit_event *ev, int64_t ts_ms, char *buf,
    size_t len);
/* JSON-escape src (stripping controls) into dst; returns bytes written. */
size_t audit_escape(const char *src, char *dst, size_t len);

#endif
