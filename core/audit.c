/*
 * audit.c - JSON audit lines with repeat suppression (see audit.h).
 */
#include "core/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/loop.h"

#define AUDIT_SLOTS		1024	/* repeat-suppression table */
#define AUDIT_KEY_FIELDS	512	/* escaped key fields kept for the summary */
#define AUDIT_MAX_PER_SEC	500	/* lines per second, all keys together */

struct audit_slot {
	uint64_t	hash;
	uint64_t	start_ms;
	unsigned long	count;		/* suppressed repeats in this window */
	int		used;
	char		fields[AUDIT_KEY_FIELDS];
};

static pthread_mutex_t audit_lock = PTHREAD_MUTEX_INITIALIZER;
static int audit_stdout;
static int audit_fd = -1;
static int audit_allowed = 1, audit_blocked = 1;
static struct audit_slot audit_slots[AUDIT_SLOTS];
static uint64_t audit_sec_start;
/*
 * When the oldest suppression window ends (0: no slot in use).  The table is
 * swept only then, not on every event: a full sweep of AUDIT_SLOTS under the
 * lock per request was the engine's largest cost of its own in profiles.
 */
static uint64_t audit_sweep_due;
static unsigned audit_sec_lines;
static unsigned long audit_sec_dropped;

struct jbuf {
	char	*p;
	size_t	 len, cap;
};

static void
jb_raw(struct jbuf *b, const char *s, size_t n)
{
	if (b->len + n + 2 > b->cap)	/* room for "}\n" */
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* Length of a valid UTF-8 sequence at s (1..4), 0 if invalid. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

size_t
audit_escape(const char *src, char *dst, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0, n;

	if (len == 0)
		return 0;
	while (*s != '\0') {
		if (*s < 0x20 || *s == 0x7f) {
			s++;	/* controls (ANSI escapes too) are stripped */
			continue;
		}
		if (*s == '"' || *s == '\\') {
			if (o + 2 >= len)
				break;
			dst[o++] = '\\';
			dst[o++] = (char)*s++;
			continue;
		}
		n = utf8_len(s);
		if (n == 0) {
			if (o + 1 >= len)
				break;
			dst[o++] = '?';
			s++;
			continue;
		}
		if (o + n >= len)
			break;
		memcpy(dst + o, s, n);
		o += n;
		s += n;
	}
	dst[o] = '\0';
	return o;
}

static void
jb_str(struct jbuf *b, const char *key, const char *val)
{
	char esc[1024];
	size_t n;

	if (val == NULL)
		return;
	n = audit_escape(val, esc, sizeof(esc));
	jb_raw(b, ",\"", 2);
	jb_raw(b, key, strlen(key));
	jb_raw(b, "\":\"", 3);
	jb_raw(b, esc, n);
	jb_raw(b, "\"", 1);
}

static void
jb_num(struct jbuf *b, const char *key, long long v)
{
	char tmp[64];
	int n;

	if (v == AUDIT_UNSET)
		return;
	n = snprintf(tmp, sizeof(tmp), ",\"%s\":%lld", key, v);
	if (n > 0 && (size_t)n < sizeof(tmp))
		jb_raw(b, tmp, (size_t)n);
}

static void
jb_time(struct jbuf *b, int64_t ts_ms)
{
	char tmp[64];
	struct tm tm;
	time_t t = (time_t)(ts_ms / 1000);
	int n;

	gmtime_r(&t, &tm);
	n = snprintf(tmp, sizeof(tmp),
	    "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ts_ms % 1000));
	if (n > 0 && (size_t)n < sizeof(tmp))
		jb_raw(b, tmp, (size_t)n);
}

void
audit_event_init(struct audit_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->uid = ev->gid = ev->pid = AUDIT_UNSET;
	ev->bytes_up = ev->bytes_down = ev->duration_ms = AUDIT_UNSET;
	ev->status = AUDIT_UNSET;
}

/* The fields that make two events "identical", escaped, without braces. */
static void
audit_key_fields(const struct audit_event *ev, struct jbuf *b)
{
	jb_str(b, "event", ev->event);
	jb_str(b, "verdict", ev->verdict);
	jb_str(b, "reason", ev->reason);
	jb_str(b, "proto", ev->proto);
	jb_num(b, "uid", ev->uid);
	jb_str(b, "host", ev->host);
	jb_str(b, "dst", ev->dst);
	jb_str(b, "url", ev->url);
}

size_t
audit_format(const struct audit_event *ev, int64_t ts_ms, char *buf,
    size_t len)
{
	struct jbuf b = { buf, 0, len };

	if (len < 64)
		return 0;
	jb_time(&b, ts_ms);
	jb_str(&b, "event", ev->event);
	jb_str(&b, "verdict", ev->verdict);
	jb_str(&b, "reason", ev->reason);
	jb_str(&b, "proto", ev->proto);
	jb_num(&b, "uid", ev->uid);
	jb_num(&b, "gid", ev->gid);
	jb_num(&b, "pid", ev->pid);
	jb_str(&b, "exe", ev->exe);
	jb_str(&b, "src", ev->src);
	jb_str(&b, "dst", ev->dst);
	jb_str(&b, "host", ev->host);
	jb_str(&b, "alpn", ev->alpn);
	jb_str(&b, "method", ev->method);
	jb_str(&b, "url", ev->url);
	jb_num(&b, "status", ev->status);
	if (ev->ech)
		jb_raw(&b, ",\"ech\":true", 11);
	jb_str(&b, "scanner", ev->scanner);
	jb_str(&b, "pattern", ev->pattern);
	jb_str(&b, "match", ev->redacted);
	jb_num(&b, "bytes_up", ev->bytes_up);
	jb_num(&b, "bytes_down", ev->bytes_down);
	jb_num(&b, "duration_ms", ev->duration_ms);
	jb_str(&b, "message", ev->message);
	/* jb_raw always keeps room for these two */
	buf[b.len++] = '}';
	buf[b.len++] = '\n';
	return b.len;
}

static int64_t
audit_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
audit_write_locked(const char *line, size_t n)
{
	size_t off;
	ssize_t w;
	int fds[2] = { audit_stdout ? STDOUT_FILENO : -1, audit_fd }, i;

	for (i = 0; i < 2; i++) {
		if (fds[i] == -1)
			continue;
		for (off = 0; off < n; off += (size_t)w) {
			w = write(fds[i], line + off, n - off);
			if (w == -1 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0)
				break;	/* a full disk must not stop the engine */
		}
	}
}

int
audit_open(int to_stdout, const char *path, int include_allowed,
    int include_blocked)
{
	int fd = -1;

	if (path != NULL &&
	    (fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return -1;
	pthread_mutex_lock(&audit_lock);
	if (audit_fd != -1)
		close(audit_fd);
	audit_fd = fd;
	audit_stdout = to_stdout;
	audit_allowed = include_allowed;
	audit_blocked = include_blocked;
	pthread_mutex_unlock(&audit_lock);
	return 0;
}

static void
audit_summary_locked(struct audit_slot *s)
{
	char line[AUDIT_LINE_MAX];
	struct jbuf b = { line, 0, sizeof(line) };
	char tmp[96];
	int n;

	jb_time(&b, audit_wall_ms());
	n = snprintf(tmp, sizeof(tmp), ",\"summary\":\"suppressed\",\"repeats\":%lu,"
	    "\"window_ms\":%d", s->count, AUDIT_WINDOW_MS);
	jb_raw(&b, tmp, (size_t)n);
	jb_raw(&b, s->fields, strlen(s->fields));
	line[b.len++] = '}';
	line[b.len++] = '\n';
	audit_write_locked(line, b.len);
	s->count = 0;
}

static void
audit_tick_locked(uint64_t now)
{
	char line[256];
	struct jbuf b = { line, 0, sizeof(line) };
	char tmp[128];
	uint64_t due = 0;
	size_t i;
	int n;

	if (audit_sweep_due != 0 && now >= audit_sweep_due) {
		for (i = 0; i < AUDIT_SLOTS; i++) {
			struct audit_slot *s = &audit_slots[i];

			if (!s->used)
				continue;
			if (now - s->start_ms < AUDIT_WINDOW_MS) {
				if (due == 0 ||
				    s->start_ms + AUDIT_WINDOW_MS < due)
					due = s->start_ms + AUDIT_WINDOW_MS;
				continue;
			}
			if (s->count > 0)
				audit_summary_locked(s);
			s->used = 0;
		}
		audit_sweep_due = due;
	}
	if (now - audit_sec_start >= 1000) {
		if (audit_sec_dropped > 0) {
			jb_time(&b, audit_wall_ms());
			n = snprintf(tmp, sizeof(tmp), ",\"summary\":\"rate_limited\","
			    "\"dropped\":%lu,\"max_per_sec\":%d", audit_sec_dropped,
			    AUDIT_MAX_PER_SEC);
			jb_raw(&b, tmp, (size_t)n);
			line[b.len++] = '}';
			line[b.len++] = '\n';
			audit_write_locked(line, b.len);
		}
		audit_sec_start = now;
		audit_sec_lines = 0;
		audit_sec_dropped = 0;
	}
}

void
audit_tick(void)
{
	pthread_mutex_lock(&audit_lock);
	audit_tick_locked(loop_now_ms());
	pthread_mutex_unlock(&audit_lock);
}

static uint64_t
fnv1a(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

int
audit_admit(const struct audit_event *ev)
{
	char fields[AUDIT_KEY_FIELDS];
	struct jbuf b = { fields, 0, sizeof(fields) };
	struct audit_slot *s;
	uint64_t h, now = loop_now_ms();
	int ret = 0;

	if (ev->verdict != NULL && strcmp(ev->verdict, "allow") == 0 &&
	    !audit_allowed)
		return 0;
	if (ev->verdict != NULL && strcmp(ev->verdict, "block") == 0 &&
	    !audit_blocked)
		return 0;
	audit_key_fields(ev, &b);
	fields[b.len] = '\0';
	h = fnv1a(fields, b.len);

	pthread_mutex_lock(&audit_lock);
	audit_tick_locked(now);
	s = &audit_slots[h % AUDIT_SLOTS];
	if (s->used && s->hash == h && now - s->start_ms < AUDIT_WINDOW_MS) {
		s->count++;
		goto out;
	}
	if (s->used && s->count > 0)
		audit_summary_locked(s);	/* evicted by another key */
	if (audit_sec_lines >= AUDIT_MAX_PER_SEC) {
		audit_sec_dropped++;
		goto out;
	}
	s->used = 1;
	s->hash = h;
	s->start_ms = now;
	if (audit_sweep_due == 0 || now + AUDIT_WINDOW_MS < audit_sweep_due)
		audit_sweep_due = now + AUDIT_WINDOW_MS;
	s->count = 0;
	memcpy(s->fields, fields, b.len + 1);
	audit_sec_lines++;
	ret = 1;
out:
	pthread_mutex_unlock(&audit_lock);
	return ret;
}

void
audit_emit(const struct audit_event *ev)
{
	char line[AUDIT_LINE_MAX];
	size_t n;

	n = audit_format(ev, audit_wall_ms(), line, sizeof(line));
	pthread_mutex_lock(&audit_lock);
	audit_write_locked(line, n);
	pthread_mutex_unlock(&audit_lock);
}

void
audit_close(void)
{
	size_t i;

	pthread_mutex_lock(&audit_lock);
	for (i = 0; i < AUDIT_SLOTS; i++) {
		if (audit_slots[i].used && audit_slots[i].count > 0)
			audit_summary_locked(&audit_slots[i]);
		audit_slots[i].used = 0;
	}
	audit_sweep_due = 0;
	if (audit_fd != -1)
		close(audit_fd);
	audit_fd = -1;
	pthread_mutex_unlock(&audit_lock);
}
