/*
 * test_http.c - table-driven tests of the HTTP/1.x request parser: every
 * accepted form, every smuggling form, oversized heads (431), the same
 * verdict whatever the TCP segmentation (every split offset, byte by byte),
 * and pipelining.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tproxy/tproxy_http.h"
#include "tproxy/http_vectors.h"

struct msg_result {
	int		 ret;		/* -1, 0 need more, >0 message length */
	int		 status;
	size_t		 head_len;
	char		 payload[4096];
	size_t		 payload_len;
};

struct msg_parser {
	struct http_request	req;
	struct http_body	body;
	int			in_body;
	size_t			pos;		/* bytes consumed (head + body) */
	struct msg_result	res;
};

static void
msg_init(struct msg_parser *m)
{
	memset(m, 0, sizeof(*m));
	http_request_init(&m->req);
}

/* Feed the whole buffer seen so far (it only grows); returns like the parser. */
static int
msg_feed(struct msg_parser *m, const char *buf, size_t len)
{
	struct http_span d;
	int r;

	if (!m->in_body) {
		r = http_request_parse(&m->req, buf, len);
		if (r <= 0) {
			m->res.status = r < 0 ? m->req.status : 0;
			return m->res.ret = r;
		}
		m->res.head_len = (size_t)r;
		m->pos = (size_t)r;
		http_body_init(&m->body, &m->req);
		m->in_body = 1;
	}
	while (!m->body.done) {
		r = http_body_parse(&m->body, buf + m->pos, len - m->pos, &d);
		if (r < 0) {
			m->res.status = m->body.status;
			return m->res.ret = -1;
		}
		if (r == 0)
			return m->res.ret = 0;
		if (d.len > 0 && m->res.payload_len + d.len <
		    sizeof(m->res.payload)) {
			memcpy(m->res.payload + m->res.payload_len,
			    buf + m->pos + d.off, d.len);
			m->res.payload_len += d.len;
		}
		m->pos += (size_t)r;
	}
	m->res.payload[m->res.payload_len] = '\0';
	return m->res.ret = (int)m->pos;
}

static struct msg_result
msg_oneshot(const char *buf, size_t len)
{
	struct msg_parser m;

	msg_init(&m);
	msg_feed(&m, buf, len);
	return m.res;
}

static int
res_same(const struct msg_result *a, const struct msg_result *b)
{
	return a->ret == b->ret && a->status == b->status &&
	    a->payload_len == b->payload_len &&
	    memcmp(a->payload, b->payload, a->payload_len) == 0;
}

static void
test_vectors(void)
{
	size_t i;

	for (i = 0; i < HTTP_NVECTORS; i++) {
		const struct http_vector *v = &http_vectors[i];
		struct msg_result r = msg_oneshot(v->in, v->len);

		switch (v->verdict) {
		case 'A':
			ok(r.ret == (int)v->len && strcmp(r.payload, v->expect) == 0,
			    "accept: %s", v->name);
			if (r.ret != (int)v->len)
				diag("ret %d status %d", r.ret, r.status);
			break;
		case 'E':
			ok(r.ret == -1 && r.status == v->status,
			    "reject %d: %s", v->status, v->name);
			if (r.ret != -1 || r.status != v->status)
				diag("ret %d status %d", r.ret, r.status);
			break;
		case 'M':
			is_int(r.ret, 0, "need more: %s", v->name);
			break;
		}
	}
}

/*
 * The verdict must not depend on how TCP cut the bytes: feed every vector
 * in two pieces at every offset, and byte by byte.
 */
static void
test_splits(void)
{
	size_t i, k, n;
	int bad_split, bad_bytes;

	for (i = 0; i < HTTP_NVECTORS; i++) {
		const struct http_vector *v = &http_vectors[i];
		struct msg_result whole = msg_oneshot(v->in, v->len);
		struct msg_parser m;

		bad_split = bad_bytes = 0;
		for (k = 0; k <= v->len; k++) {
			msg_init(&m);
			if (msg_feed(&m, v->in, k) == 0 || k == v->len)
				msg_feed(&m, v->in, v->len);
			else if (m.res.ret == -1 && whole.ret == -1) {
				/* An error seen early must be the same one. */
				if (m.res.status != whole.status)
					bad_split++;
				continue;
			}
			if (!res_same(&m.res, &whole))
				bad_split++;
		}
		msg_init(&m);
		for (n = 1; n <= v->len; n++)
			if (msg_feed(&m, v->in, n) != 0)
				break;
		if (!res_same(&m.res, &whole))
			bad_bytes++;
		ok(bad_split == 0 && bad_bytes == 0,
		    "same verdict at every split: %s", v->name);
	}
}

static void
test_head_details(void)
{
	static const char get[] = "GET http://Example.com:8080/a?b HTTP/1.1\r\n"
	    "Host: Example.com:8080\r\nConnection: close\r\n"
	    "Accept: application/json\r\n\r\n";
	static const char post10[] = "POST /x HTTP/1.0\r\nConnection: keep-alive\r\n"
	    "Content-Length: 3\r\nExpect: 100-continue\r\n"
	    "Content-Encoding: gzip\r\nUpgrade: h2c\r\n\r\nabc";
	struct http_request req;
	const struct http_field *f;

	http_request_init(&req);
	is_int(http_request_parse(&req, get, sizeof(get) - 1), sizeof(get) - 1,
	    "absolute-form head length");
	is_int(req.method_code, HTTP_METHOD_GET, "method GET");
	is_int(req.form, HTTP_TARGET_ABSOLUTE, "absolute form");
	ok(req.target_host.len == 16 &&
	    memcmp(get + req.target_host.off, "Example.com:8080", 16) == 0,
	    "target host");
	ok(req.target_path.len == 4 &&
	    memcmp(get + req.target_path.off, "/a?b", 4) == 0, "target path");
	ok(http_span_eq(get, req.host, "example.com:8080"), "host span");
	is_int(req.keep_alive, 0, "Connection: close");
	is_int(req.nfields, 3, "three fields");
	f = http_field_find(&req, get, "ACCEPT", NULL);
	ok(f && http_span_eq(get, f->value, "application/json"), "field lookup");
	is_int(req.framing, HTTP_FRAMING_NONE, "no body");

	http_request_init(&req);
	is_int(http_request_parse(&req, post10, sizeof(post10) - 1),
	    sizeof(post10) - 4, "HTTP/1.0 head");
	is_int(req.version_minor, 0, "HTTP/1.0");
	is_int(req.keep_alive, 1, "1.0 keep-alive");
	is_int(req.expect_continue, 1, "expect 100-continue");
	is_int(req.content_encoding, 1, "content-encoding gzip");
	is_int(req.upgrade, 1, "upgrade header");
	is_int(req.framing, HTTP_FRAMING_LENGTH, "CL framing");
	is_int(req.content_length, 3, "CL value");
	is_int(req.host.len, 0, "no Host in 1.0");

	http_request_init(&req);
	is_int(http_request_parse(&req, "GET / HTTP/1.0\r\n\r\n", 18), 18, "1.0");
	is_int(req.keep_alive, 0, "HTTP/1.0 defaults to close");

	ok(http_list_has("a, b ,c", (struct http_span){ 0, 7 }, "b"),
	    "list token lookup");
	ok(!http_list_has("ab, c", (struct http_span){ 0, 5 }, "a"),
	    "list token is not a prefix match");
}

/* Oversized heads: 431 as soon as the bound is passed, not at the end. */
static void
test_oversize(void)
{
	size_t n = HTTP_MAX_HEADERS_BYTES + 4096, i, len;
	char *buf = malloc(n);
	struct http_request req;
	int r;

	/* A request line one byte over the bound, with no CRLF yet. */
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', n - 5);
	http_request_init(&req);
	is_int(http_request_parse(&req, buf, HTTP_MAX_REQUEST_LINE - 1), 0,
	    "request line below the bound: need more");
	r = http_request_parse(&req, buf, HTTP_MAX_REQUEST_LINE);
	ok(r == -1 && req.status == 431, "request line at the bound: 431");

	/* A long request line that fits. */
	len = (size_t)snprintf(buf, n, "GET /%0*d HTTP/1.1\r\nHost: a\r\n\r\n",
	    HTTP_MAX_REQUEST_LINE - 20, 0);
	http_request_init(&req);
	is_int(http_request_parse(&req, buf, len), len, "long request line fits");

	/* One header line over the bound. */
	len = (size_t)snprintf(buf, n, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
	memset(buf + len, 'b', HTTP_MAX_HEADER_LINE);
	http_request_init(&req);
	r = http_request_parse(&req, buf, len + HTTP_MAX_HEADER_LINE);
	ok(r == -1 && req.status == 431, "header line over the bound: 431");

	/* Too many fields. */
	len = (size_t)snprintf(buf, n, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 0; i < HTTP_MAX_HEADERS; i++)
		len += (size_t)snprintf(buf + len, n - len, "X-%zu: v\r\n", i);
	len += (size_t)snprintf(buf + len, n - len, "\r\n");
	http_request_init(&req);
	r = http_request_parse(&req, buf, len);
	ok(r == -1 && req.status == 431, "more than HTTP_MAX_HEADERS: 431");

	/* Many medium fields: the whole head over the bound. */
	len = (size_t)snprintf(buf, n, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 0; len + 1100 < n; i++) {
		len += (size_t)snprintf(buf + len, n - len, "X-%02zu: ", i % 90);
		memset(buf + len, 'c', 1000);
		len += 1000;
		memcpy(buf + len, "\r\n", 2);
		len += 2;
		if (i == 80)
			break;
	}
	http_request_init(&req);
	r = http_request_parse(&req, buf, len);
	ok(r == -1 && req.status == 431 && req.err_pos <= HTTP_MAX_HEADERS_BYTES,
	    "head over HTTP_MAX_HEADERS_BYTES: 431");

	/* A chunk-size line over its bound, and endless chunk framing. */
	{
		struct http_body b;
		struct http_request creq = { 0 };
		struct http_span d;
		size_t pos = 0, total = 0;

		creq.framing = HTTP_FRAMING_CHUNKED;
		http_body_init(&b, &creq);
		memcpy(buf, "1;", 2);
		memset(buf + 2, 'e', HTTP_MAX_CHUNK_LINE);
		r = http_body_parse(&b, buf, HTTP_MAX_CHUNK_LINE + 2, &d);
		ok(r == -1 && b.status == 400, "chunk line over the bound: 400");

		http_body_init(&b, &creq);
		len = 0;
		while (len + 1100 < n) {
			len += (size_t)snprintf(buf + len, n - len, "1;");
			memset(buf + len, 'e', 1000);
			len += 1000;
			len += (size_t)snprintf(buf + len, n - len, "\r\nx\r\n");
		}
		while ((r = http_body_parse(&b, buf + pos, len - pos, &d)) > 0) {
			pos += (size_t)r;
			total += d.len;
		}
		ok(r == -1 && b.status == 400 && total < 200,
		    "chunk framing overhead bounded (%zu payload bytes)", total);
	}
	free(buf);
}

/* Three pipelined requests in one buffer, parsed one after the other. */
static void
test_pipelining(void)
{
	static const char three[] =
	    "GET /one HTTP/1.1\r\nHost: a.test\r\n\r\n"
	    "POST /two HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabc"
	    "POST /three HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n"
	    "Connection: close\r\n\r\n2\r\nde\r\n0\r\n\r\n";
	static const char *want_target[] = { "/one", "/two", "/three" };
	static const char *want_body[] = { "", "abc", "de" };
	size_t off = 0, len = sizeof(three) - 1;
	int i;

	for (i = 0; i < 3; i++) {
		struct msg_parser m;
		int r;

		msg_init(&m);
		r = msg_feed(&m, three + off, len - off);
		ok(r > 0, "pipelined request %d parsed", i + 1);
		if (r <= 0)
			return;
		ok(m.req.target.len == strlen(want_target[i]) &&
		    memcmp(three + off + m.req.target.off, want_target[i],
		    m.req.target.len) == 0, "request %d target", i + 1);
		is_str(m.res.payload, want_body[i], "request %d body", i + 1);
		is_int(m.req.keep_alive, i < 2, "request %d keep-alive", i + 1);
		off += (size_t)r;
	}
	is_int(off, len, "all bytes consumed by three requests");
}

int
main(void)
{
	test_vectors();
	test_splits();
	test_head_details();
	test_oversize();
	test_pipelining();
	return tap_done();
}
