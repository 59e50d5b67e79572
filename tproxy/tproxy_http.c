/*
 * tproxy_http.c - strict HTTP/1.x request parser (head, Content-Length and
 * chunked bodies, trailers) for the transparent path.
 *
 * The firewall sits in front of servers it does not know, so wherever RFC
 * 9112 lets a recipient choose between tolerating and rejecting something
 * that another parser could read differently, this parser rejects it: the
 * cost is a 400 for a broken client, the alternative is request smuggling
 * past the scanner.  See tproxy_http.h for the contract.
 */
#include <string.h>
#include <strings.h>

#include "tproxy/tproxy_http.h"

#define HTTP_MAX_BODY_STEP	(1u << 30)

enum {
	PHASE_REQUEST_LINE = 0,
	PHASE_FIELDS,
	PHASE_DONE,
};

enum {
	BODY_SIZE = 0,
	BODY_DATA,
	BODY_DATA_CRLF,
	BODY_TRAILER,
	BODY_DONE,
};

/* RFC 9110 tchar. */
static int
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

static unsigned
hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

static int
is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int
fail_req(struct http_request *req, size_t pos, int status, const char *reason)
{
	req->err_pos = pos;
	req->status = status;
	req->reason = reason;
	return -1;
}

static int
fail_body(struct http_body *b, size_t pos, const char *reason)
{
	b->err_pos = pos;
	b->status = 400;
	b->reason = reason;
	return -1;
}

/*
 * Look for the LF ending the line that starts at pos, at most max bytes in
 * (CRLF included).  *scan remembers how far a previous call searched, so a
 * head arriving byte by byte is not rescanned.  Returns 1 with *lf set, 0 when
 * more data may still complete the line, -1 when the line is longer than max.
 */
static int
find_lf(const char *buf, size_t len, size_t pos, size_t *scan, size_t max,
    size_t *lf)
{
	size_t avail = len - pos, end = avail < max ? avail : max;
	const char *p;

	if (*scan < end) {
		p = memchr(buf + pos + *scan, '\n', end - *scan);
		if (p != NULL) {
			*lf = (size_t)(p - buf);
			*scan = 0;
			return 1;
		}
		*scan = end;
	}
	return avail >= max ? -1 : 0;
}

/* Why a byte may not appear in a field value (NULL: it may). */
static const char *
field_byte_error(unsigned char c)
{
	if (c == '\t' || (c >= 0x20 && c != 0x7f))
		return NULL;
	if (c == '\0')
		return "NUL in header field";
	if (c == '\r')
		return "CR in header field";
	if (c == '\n')
		return "LF in header field";
	return "control character in header field";
}

/*
 * Validate one "name: value" line [s, e) (CRLF excluded).  Returns NULL or a
 * reason with *bad the offending offset; name and value spans are filled.
 */
static const char *
field_parse(const char *buf, size_t s, size_t e, struct http_field *f,
    size_t *bad)
{
	size_t i = s, vs, ve;
	const char *why;

	if (is_ows((unsigned char)buf[s])) {
		*bad = s;
		return "obsolete line folding";
	}
	while (i < e && is_tchar((unsigned char)buf[i]))
		i++;
	if (i == s || i == e || buf[i] != ':') {
		*bad = i;
		return "invalid header field name";
	}
	f->name.off = s;
	f->name.len = i - s;
	vs = i + 1;
	while (vs < e && is_ows((unsigned char)buf[vs]))
		vs++;
	ve = e;
	while (ve > vs && is_ows((unsigned char)buf[ve - 1]))
		ve--;
	for (i = vs; i < e; i++) {
		if ((why = field_byte_error((unsigned char)buf[i])) != NULL) {
			*bad = i;
			return why;
		}
	}
	f->value.off = vs;
	f->value.len = ve - vs;
	return NULL;
}

/* Host (reg-name, IPv4, [IPv6]) with an optional port; port required if asked. */
static int
host_valid(const char *s, size_t n, int need_port)
{
	size_t i = 0, hend, digits;
	unsigned long port;

	if (n == 0)
		return 0;
	if (s[0] == '[') {
		for (i = 1; i < n && s[i] != ']'; i++)
			if (!is_hex((unsigned char)s[i]) && s[i] != ':' &&
			    s[i] != '.' && s[i] != '%')
				return 0;
		if (i == n || i == 1)
			return 0;
		hend = ++i;
	} else {
		for (; i < n && s[i] != ':'; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c == '%') {
				if (i + 2 >= n || !is_hex((unsigned char)s[i + 1]) ||
				    !is_hex((unsigned char)s[i + 2]))
					return 0;
				continue;
			}
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || strchr("-._~!$&'()*+,;=", c)))
				return 0;
		}
		if (i == 0)
			return 0;
		hend = i;
	}
	if (hend == n)
		return !need_port;
	if (s[hend] != ':')
		return 0;
	digits = n - hend - 1;
	if (digits == 0 || digits > 5)
		return 0;
	port = 0;
	for (i = hend + 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		port = port * 10 + (unsigned long)(s[i] - '0');
	}
	return port > 0 && port <= 65535;
}

/* Target bytes: visible ASCII, and every % followed by two hex digits. */
static const char *
target_chars(const char *s, size_t n, size_t *bad)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f) {
			*bad = i;
			return "invalid character in request target";
		}
		if (c == '%' && (i + 2 >= n || !is_hex((unsigned char)s[i + 1]) ||
		    !is_hex((unsigned char)s[i + 2]))) {
			*bad = i;
			return "invalid percent-encoding in request target";
		}
	}
	return NULL;
}

static const struct {
	const char	 *name;
	enum http_method  code;
} methods[] = {
	{ "GET", HTTP_METHOD_GET },
	{ "HEAD", HTTP_METHOD_HEAD },
	{ "POST", HTTP_METHOD_POST },
	{ "PUT", HTTP_METHOD_PUT },
	{ "DELETE", HTTP_METHOD_DELETE },
	{ "CONNECT", HTTP_METHOD_CONNECT },
	{ "OPTIONS", HTTP_METHOD_OPTIONS },
	{ "TRACE", HTTP_METHOD_TRACE },
	{ "PATCH", HTTP_METHOD_PATCH },
};

static int
parse_target(struct http_request *req, const char *buf)
{
	const char *t = buf + req->target.off, *why;
	size_t n = req->target.len, bad = 0, skip, i;

	if ((why = target_chars(t, n, &bad)) != NULL)
		return fail_req(req, req->target.off + bad, 400, why);
	if (req->method_code == HTTP_METHOD_CONNECT) {
		/* CONNECT takes host:port and nothing else. */
		if (!host_valid(t, n, 1))
			return fail_req(req, req->target.off, 400,
			    "invalid CONNECT target");
		req->form = HTTP_TARGET_AUTHORITY;
		req->target_host = req->target;
		return 0;
	}
	if (t[0] == '/') {
		req->form = HTTP_TARGET_ORIGIN;
		return 0;
	}
	if (n == 1 && t[0] == '*') {
		if (req->method_code != HTTP_METHOD_OPTIONS)
			return fail_req(req, req->target.off, 400,
			    "asterisk target without OPTIONS");
		req->form = HTTP_TARGET_ASTERISK;
		return 0;
	}
	if (n > 7 && strncasecmp(t, "http://", 7) == 0)
		skip = 7;
	else if (n > 8 && strncasecmp(t, "https://", 8) == 0)
		skip = 8;
	else
		return fail_req(req, req->target.off, 400,
		    "invalid request target");
	for (i = skip; i < n && t[i] != '/' && t[i] != '?' && t[i] != '#'; i++)
		if (t[i] == '@')
			return fail_req(req, req->target.off + i, 400,
			    "userinfo in request target");
	if (!host_valid(t + skip, i - skip, 0))
		return fail_req(req, req->target.off + skip, 400,
		    "invalid host in request target");
	req->form = HTTP_TARGET_ABSOLUTE;
	req->target_host.off = req->target.off + skip;
	req->target_host.len = i - skip;
	req->target_path.off = req->target.off + i;
	req->target_path.len = n - i;
	return 0;
}

/* method SP request-target SP HTTP-version, in [s, e). */
static int
parse_request_line(struct http_request *req, const char *buf, size_t s,
    size_t e)
{
	size_t i = s, sp1, sp2;
	unsigned m;

	while (i < e && is_tchar((unsigned char)buf[i]))
		i++;
	if (i == s || i == e || buf[i] != ' ')
		return fail_req(req, i, 400, "invalid method");
	if (i - s > HTTP_MAX_METHOD)
		return fail_req(req, s, 400, "method too long");
	sp1 = i;
	req->method.off = s;
	req->method.len = sp1 - s;
	req->method_code = HTTP_METHOD_OTHER;
	for (m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
		if (strlen(methods[m].name) == req->method.len &&
		    memcmp(buf + s, methods[m].name, req->method.len) == 0)
			req->method_code = methods[m].code;

	for (i = sp1 + 1; i < e && buf[i] != ' '; i++)
		;
	if (i == e || i == sp1 + 1)
		return fail_req(req, i, 400, "invalid request line");
	sp2 = i;
	req->target.off = sp1 + 1;
	req->target.len = sp2 - sp1 - 1;

	if (e - sp2 - 1 == 8 && memcmp(buf + sp2 + 1, "HTTP/1.", 7) == 0 &&
	    (buf[sp2 + 8] == '0' || buf[sp2 + 8] == '1')) {
		req->version_minor = buf[sp2 + 8] - '0';
	} else if (e - sp2 - 1 == 8 && memcmp(buf + sp2 + 1, "HTTP/", 5) == 0 &&
	    buf[sp2 + 6] >= '0' && buf[sp2 + 6] <= '9' && buf[sp2 + 7] == '.' &&
	    buf[sp2 + 8] >= '0' && buf[sp2 + 8] <= '9') {
		return fail_req(req, sp2 + 1, 505, "unsupported HTTP version");
	} else {
		return fail_req(req, sp2 + 1, 400, "invalid HTTP version");
	}
	return parse_target(req, buf);
}

/* Walk a comma-separated list value; cb gets each non-empty element. */
static int
list_each(const char *buf, struct http_span v,
    int (*cb)(void *ctx, const char *s, size_t n), void *ctx)
{
	size_t i = v.off, end = v.off + v.len, s, e;
	int r;

	while (i < end) {
		while (i < end && (is_ows((unsigned char)buf[i]) || buf[i] == ','))
			i++;
		s = i;
		while (i < end && buf[i] != ',')
			i++;
		e = i;
		while (e > s && is_ows((unsigned char)buf[e - 1]))
			e--;
		if (e > s && (r = cb(ctx, buf + s, e - s)) != 0)
			return r;
	}
	return 0;
}

static int
te_element(void *ctx, const char *s, size_t n)
{
	struct http_request *req = ctx;
	size_t i;

	req->nte++;
	if (req->te_chunked_last)
		req->te_bad = 1;	/* a coding after chunked */
	if (n == 7 && strncasecmp(s, "chunked", 7) == 0) {
		req->te_chunked_last = 1;
		return 0;
	}
	req->te_chunked_last = 0;
	for (i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]))
			req->te_bad = 1;	/* parameters, junk */
	req->te_unknown = 1;
	return 0;
}

static int
ce_element(void *ctx, const char *s, size_t n)
{
	struct http_request *req = ctx;

	if (!(n == 8 && strncasecmp(s, "identity", 8) == 0))
		req->content_encoding = 1;
	return 0;
}

struct list_find {
	const char *token;
};

static int
list_find_cb(void *ctx, const char *s, size_t n)
{
	struct list_find *lf = ctx;

	return strlen(lf->token) == n && strncasecmp(s, lf->token, n) == 0;
}

int
http_list_has(const char *buf, struct http_span value, const char *token)
{
	struct list_find lf = { token };

	return list_each(buf, value, list_find_cb, &lf) == 1;
}

int
http_span_eq(const char *buf, struct http_span s, const char *str)
{
	return strlen(str) == s.len && strncasecmp(buf + s.off, str, s.len) == 0;
}

const struct http_field *
http_field_find(const struct http_request *req, const char *buf,
    const char *name, unsigned *from)
{
	unsigned i;

	for (i = from ? *from : 0; i < req->nfields; i++) {
		if (http_span_eq(buf, req->fields[i].name, name)) {
			if (from)
				*from = i + 1;
			return &req->fields[i];
		}
	}
	if (from)
		*from = req->nfields;
	return NULL;
}

/* Headers that decide framing, Host and connection handling. */
static int
field_apply(struct http_request *req, const char *buf,
    const struct http_field *f)
{
	const char *v = buf + f->value.off;
	size_t i;

	if (http_span_eq(buf, f->name, "host")) {
		if (++req->nhost > 1)
			return fail_req(req, f->name.off, 400,
			    "multiple Host headers");
		if (!host_valid(v, f->value.len, 0))
			return fail_req(req, f->value.off, 400,
			    "invalid Host header");
		req->host = f->value;
	} else if (http_span_eq(buf, f->name, "content-length")) {
		if (++req->ncl > 1)
			return fail_req(req, f->name.off, 400,
			    "duplicate Content-Length");
		if (f->value.len == 0 || f->value.len > 19)
			return fail_req(req, f->value.off, 400,
			    "invalid Content-Length");
		req->content_length = 0;
		for (i = 0; i < f->value.len; i++) {
			if (v[i] < '0' || v[i] > '9')
				return fail_req(req, f->value.off + i, 400,
				    "invalid Content-Length");
			/* 19 digits cannot overflow 64 bits. */
			req->content_length = req->content_length * 10 +
			    (uint64_t)(v[i] - '0');
		}
	} else if (http_span_eq(buf, f->name, "transfer-encoding")) {
		int before = req->nte;

		list_each(buf, f->value, te_element, req);
		if (req->nte == before)
			return fail_req(req, f->value.off, 400,
			    "empty Transfer-Encoding");
	} else if (http_span_eq(buf, f->name, "content-encoding")) {
		list_each(buf, f->value, ce_element, req);
	} else if (http_span_eq(buf, f->name, "expect")) {
		if (http_span_eq(buf, f->value, "100-continue"))
			req->expect_continue = 1;
	} else if (http_span_eq(buf, f->name, "upgrade")) {
		req->upgrade = 1;
	}
	return 0;
}

/* Rules that need the whole head. */
static int
head_finish(struct http_request *req, const char *buf)
{
	const struct http_field *f;
	int want_close = 0, keep = 0;
	unsigned from = 0;

	if (req->version_minor == 1 && req->nhost == 0)
		return fail_req(req, req->pos, 400, "missing Host header");
	if (req->form == HTTP_TARGET_ABSOLUTE ||
	    req->form == HTTP_TARGET_AUTHORITY) {
		/*
		 * RFC 9112 says to ignore Host for an absolute-form target;
		 * a server behind us may not, so a disagreement is refused.
		 */
		if (req->nhost == 0)
			req->host = req->target_host;
		else if (req->host.len != req->target_host.len ||
		    strncasecmp(buf + req->host.off, buf + req->target_host.off,
		    req->host.len) != 0)
			return fail_req(req, req->host.off, 400,
			    "Host header does not match request target");
	}
	if (req->nte > 0) {
		if (req->ncl > 0)
			return fail_req(req, req->pos, 400,
			    "both Content-Length and Transfer-Encoding");
		if (req->version_minor == 0)
			return fail_req(req, req->pos, 400,
			    "Transfer-Encoding in an HTTP/1.0 request");
		if (req->te_bad || !req->te_chunked_last)
			return fail_req(req, req->pos, 400,
			    "Transfer-Encoding does not end with chunked");
		if (req->te_unknown)
			return fail_req(req, req->pos, 501,
			    "unsupported Transfer-Encoding");
		req->framing = HTTP_FRAMING_CHUNKED;
	} else if (req->ncl > 0) {
		req->framing = HTTP_FRAMING_LENGTH;
	}
	while ((f = http_field_find(req, buf, "connection", &from)) != NULL) {
		want_close |= http_list_has(buf, f->value, "close");
		keep |= http_list_has(buf, f->value, "keep-alive");
	}
	req->keep_alive = req->version_minor == 1 ? !want_close :
	    keep && !want_close;
	return 0;
}

void
http_request_init(struct http_request *req)
{
	memset(req, 0, sizeof(*req));
}

int
http_request_parse(struct http_request *req, const char *buf, size_t len)
{
	size_t lf, max, lim;
	int r, clamped;

	if (req->phase == PHASE_DONE)
		return (int)req->head_len;
	if (req->status != 0)
		return -1;
	for (;;) {
		if (req->phase == PHASE_REQUEST_LINE) {
			/* RFC 9112 2.2: empty lines before a request are ignored. */
			while (req->pos + 1 < len && buf[req->pos] == '\r' &&
			    buf[req->pos + 1] == '\n' &&
			    req->pos + 2 < HTTP_MAX_REQUEST_LINE) {
				req->pos += 2;
				req->scan = 0;
			}
			max = HTTP_MAX_REQUEST_LINE;
		} else {
			max = HTTP_MAX_HEADER_LINE;
		}
		lim = HTTP_MAX_HEADERS_BYTES - req->pos;
		clamped = lim < max;
		if (clamped)
			max = lim;
		r = find_lf(buf, len, req->pos, &req->scan, max, &lf);
		if (r == 0)
			return 0;
		if (r < 0)
			return fail_req(req, req->pos, 431,
			    clamped ? "request head too large" :
			    req->phase == PHASE_REQUEST_LINE ?
			    "request line too long" : "header line too long");
		if (lf == req->pos || buf[lf - 1] != '\r')
			return fail_req(req, lf, 400, "bare LF in request head");

		if (req->phase == PHASE_REQUEST_LINE) {
			if (parse_request_line(req, buf, req->pos, lf - 1) == -1)
				return -1;
			req->phase = PHASE_FIELDS;
		} else if (lf - 1 == req->pos) {
			req->pos = lf + 1;
			if (head_finish(req, buf) == -1)
				return -1;
			req->head_len = req->pos;
			req->phase = PHASE_DONE;
			return (int)req->head_len;
		} else {
			struct http_field *f;
			const char *why;
			size_t bad = 0;

			if (req->nfields == HTTP_MAX_HEADERS)
				return fail_req(req, req->pos, 431,
				    "too many header fields");
			f = &req->fields[req->nfields];
			if ((why = field_parse(buf, req->pos, lf - 1, f,
			    &bad)) != NULL)
				return fail_req(req, bad, 400, why);
			req->nfields++;
			if (field_apply(req, buf, f) == -1)
				return -1;
		}
		req->pos = lf + 1;
	}
}

void
http_body_init(struct http_body *b, const struct http_request *req)
{
	memset(b, 0, sizeof(*b));
	b->framing = req->framing;
	switch (req->framing) {
	case HTTP_FRAMING_NONE:
		b->phase = BODY_DONE;
		b->done = 1;
		break;
	case HTTP_FRAMING_LENGTH:
		b->remaining = req->content_length;
		b->phase = BODY_DATA;
		if (b->remaining == 0) {
			b->phase = BODY_DONE;
			b->done = 1;
		}
		break;
	case HTTP_FRAMING_CHUNKED:
		b->phase = BODY_SIZE;
		break;
	}
}

/* chunk-size [ BWS ";" chunk-ext ] in [0, e). */
static int
chunk_size_line(struct http_body *b, const char *buf, size_t e)
{
	size_t i = 0;
	uint64_t size = 0;

	while (i < e && is_hex((unsigned char)buf[i])) {
		if (i == HTTP_MAX_CHUNK_DIGITS)
			return fail_body(b, i, "chunk size too large");
		size = size << 4 | hex_val((unsigned char)buf[i]);
		i++;
	}
	if (i == 0)
		return fail_body(b, 0, "invalid chunk size");
	if (i < e) {
		while (i < e && is_ows((unsigned char)buf[i]))
			i++;
		if (i == e || buf[i] != ';')
			return fail_body(b, i, "invalid chunk size");
		for (; i < e; i++) {
			unsigned char c = (unsigned char)buf[i];

			if (c != '\t' && (c < 0x20 || c == 0x7f))
				return fail_body(b, i,
				    "invalid chunk extension");
		}
	}
	b->remaining = size;
	b->phase = size == 0 ? BODY_TRAILER : BODY_DATA;
	return 0;
}

/* A CRLF-terminated body line of at most max bytes: 1 (*lf set), 0, -1. */
static int
body_line(struct http_body *b, const char *buf, size_t len, size_t max,
    const char *too_long, size_t *lf)
{
	size_t scan = 0;
	int r;

	r = find_lf(buf, len, 0, &scan, max, lf);
	if (r < 0)
		return fail_body(b, 0, too_long);
	if (r > 0 && (*lf == 0 || buf[*lf - 1] != '\r'))
		return fail_body(b, *lf, "bare LF in chunked body");
	return r;
}

int
http_body_parse(struct http_body *b, const char *buf, size_t len,
    struct http_span *data)
{
	size_t lf = 0, n, max;
	struct http_field f;
	const char *why;
	int r;

	data->off = 0;
	data->len = 0;
	if (b->status != 0)
		return -1;
	switch (b->phase) {
	case BODY_DONE:
		return 0;
	case BODY_DATA:
		n = len < b->remaining ? len : (size_t)b->remaining;
		if (n > HTTP_MAX_BODY_STEP)
			n = HTTP_MAX_BODY_STEP;	/* the return value is an int */
		if (n == 0)
			return 0;
		data->len = n;
		b->remaining -= n;
		b->payload += n;
		if (b->remaining == 0) {
			if (b->framing == HTTP_FRAMING_CHUNKED) {
				b->phase = BODY_DATA_CRLF;
			} else {
				b->phase = BODY_DONE;
				b->done = 1;
			}
		}
		return (int)n;
	case BODY_DATA_CRLF:
		if (len >= 1 && buf[0] != '\r')
			return fail_body(b, 0, "missing CRLF after chunk data");
		if (len < 2)
			return 0;
		if (buf[1] != '\n')
			return fail_body(b, 1, "missing CRLF after chunk data");
		b->framing_bytes += 2;
		b->phase = BODY_SIZE;
		return 2;
	case BODY_SIZE:
		if ((r = body_line(b, buf, len, HTTP_MAX_CHUNK_LINE,
		    "chunk size line too long", &lf)) <= 0)
			return r;
		if (chunk_size_line(b, buf, lf - 1) == -1)
			return -1;
		b->framing_bytes += lf + 1;
		/*
		 * Bound the raw bytes held per payload byte: tiny chunks with
		 * long extensions would otherwise let framing grow without
		 * the payload limit ever being reached.
		 */
		if (b->framing_bytes > HTTP_MAX_CHUNK_OVERHEAD + b->payload / 2)
			return fail_body(b, 0, "too much chunk framing");
		return (int)(lf + 1);
	case BODY_TRAILER:
		max = HTTP_MAX_TRAILERS_BYTES - b->trailer_bytes;
		if ((r = body_line(b, buf, len, max,
		    "trailer section too large", &lf)) <= 0)
			return r;
		b->trailer_bytes += lf + 1;
		b->framing_bytes += lf + 1;
		if (lf == 1) {
			b->phase = BODY_DONE;
			b->done = 1;
			return 2;
		}
		if (++b->ntrailers > HTTP_MAX_TRAILERS)
			return fail_body(b, 0, "too many trailer fields");
		n = 0;
		if ((why = field_parse(buf, 0, lf - 1, &f, &n)) != NULL)
			return fail_body(b, n, why);
		return (int)(lf + 1);
	}
	return fail_body(b, 0, "internal parser state");
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	}
	return "Error";
}
