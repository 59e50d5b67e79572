/*
 * test_audit.c - audit lines: JSON escaping (quotes, backslashes, control
 * characters and ANSI escapes stripped, invalid UTF-8 replaced), field
 * rendering, the include_allowed/include_blocked filters, and repeat
 * suppression with its summary line, through a real file sink.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "core/audit.h"
#include "core/loop.h"

static char *
slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay++;
	}
	return n;
}

static void
test_escape(void)
{
	char out[256];

	audit_escape("a\"b\\c", out, sizeof(out));
	is_str(out, "a\\\"b\\\\c", "quotes and backslashes escaped");
	audit_escape("x\x1b[31mred\x1b[0m\r\ny\x7f", out, sizeof(out));
	is_str(out, "x[31mred[0my", "controls and ESC stripped");
	audit_escape("caf\xc3\xa9 \xff\xfe ok", out, sizeof(out));
	is_str(out, "caf\xc3\xa9 ?? ok", "valid UTF-8 kept, invalid replaced");
	audit_escape("\xe2\x82", out, sizeof(out));
	is_str(out, "??", "truncated UTF-8 sequence replaced");
	audit_escape("abcdefghij", out, 5);
	is_str(out, "abcd", "bounded by the output size");
}

static void
test_format(void)
{
	struct audit_event ev;
	char line[AUDIT_LINE_MAX];
	size_t n;

	audit_event_init(&ev);
	ev.event = "tcp";
	ev.verdict = "block";
	ev.reason = "dlp \"match\"";
	ev.uid = 1000;
	ev.pid = 42;
	ev.exe = "/usr/bin/curl";
	ev.host = "evil\n.example";
	ev.redacted = "sk-a\xe2\x80\xa6(40 chars)";
	ev.ech = 1;
	ev.bytes_up = 0;
	n = audit_format(&ev, 1700000000123LL, line, sizeof(line));
	ok(n > 0 && line[n - 1] == '\n' && line[n - 2] == '}', "one line, newline-terminated");
	ok(strncmp(line, "{\"time\":\"2023-11-14T22:13:20.123Z\"", 34) == 0,
	    "RFC 3339 UTC time with ms: %.40s", line);
	ok(strstr(line, "\"reason\":\"dlp \\\"match\\\"\"") != NULL, "reason escaped");
	ok(strstr(line, "\"host\":\"evil.example\"") != NULL, "newline stripped from host");
	ok(strstr(line, "\"uid\":1000") && strstr(line, "\"pid\":42"), "numbers");
	ok(strstr(line, "\"gid\"") == NULL && strstr(line, "\"bytes_down\"") == NULL,
	    "unset fields omitted");
	ok(strstr(line, "\"bytes_up\":0") != NULL, "zero is not unset");
	ok(strstr(line, "\"ech\":true") != NULL, "ech flag");
	ok(strstr(line, "\"match\":\"sk-a\xe2\x80\xa6(40 chars)\"") != NULL,
	    "redacted match as given");
}

static void
test_sink(void)
{
	char path[] = "/tmp/test_audit.XXXXXX";
	struct audit_event ev;
	uint64_t end;
	char *s;
	int fd, i, written = 0;

	fd = mkstemp(path);
	ok(fd != -1, "temp file");
	close(fd);
	ok(audit_open(0, path, 0, 1) == 0, "open file sink, allowed lines filtered");

	audit_event_init(&ev);
	ev.event = "tcp";
	ev.verdict = "allow";
	ev.host = "ok.example";
	is_int(audit_admit(&ev), 0, "allow filtered by include_allowed: false");

	ev.verdict = "block";
	ev.host = "loop.example";
	ev.dst = "198.18.0.2:443";
	for (i = 0; i < 50; i++) {
		if (audit_admit(&ev)) {
			audit_emit(&ev);
			written++;
		}
	}
	is_int(written, 1, "50 identical events in a window: one written");
	ev.dst = "198.18.0.3:443";
	is_int(audit_admit(&ev), 1, "a different destination is another event");
	audit_emit(&ev);

	/* the window closes after AUDIT_WINDOW_MS; poll for the summary */
	end = loop_now_ms() + 3000;
	do {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		audit_tick();
		s = slurp(path);
	} while (s != NULL && strstr(s, "\"repeats\":49") == NULL &&
	    loop_now_ms() < end);
	ok(s != NULL && strstr(s, "\"summary\":\"suppressed\",\"repeats\":49") != NULL,
	    "summary counts the 49 repeats");
	ok(s != NULL && strstr(s, "\"host\":\"loop.example\"") != NULL, "summary names the key");
	is_int(s ? count(s, "\n") : -1, 3, "three lines: 2 events + 1 summary");
	audit_close();
	unlink(path);
}

int
main(void)
{
	test_escape();
	test_format();
	test_sink();
	return tap_done();
}
