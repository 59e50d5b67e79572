/*
 * http_vectors.h - request vectors shared by the parser tests and the fuzz
 * corpus generator: input ; verdict ; expected.
 *
 * verdict 'A': accepted, expected = the de-chunked body;
 *         'E': rejected, status = the HTTP status the parser chose;
 *         'M': incomplete (the parser must ask for more).
 */
#ifndef PIPELOCK_TEST_HTTP_VECTORS_H
#define PIPELOCK_TEST_HTTP_VECTORS_H

struct http_vector {
	const char	*name;
	const char	*in;
	size_t		 len;
	char		 verdict;
	int		 status;
	const char	*expect;
};

#define H11 " HTTP/1.1\r\nHost: example.com\r\n"
#define V(name, in, verdict, status, expect) \
	{ name, in, sizeof(in) - 1, verdict, status, expect }

static const struct http_vector http_vectors[] = {
	/* Accepted forms. */
	V("GET origin-form", "GET /" H11 "\r\n", 'A', 0, ""),
	V("GET with query", "GET /a/b?x=1&y=%20z" H11 "User-Agent: t\r\n\r\n", 'A', 0, ""),
	V("HEAD", "HEAD /" H11 "\r\n", 'A', 0, ""),
	V("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", 'A', 0, ""),
	V("absolute-form", "GET http://example.com/x?q HTTP/1.1\r\nHost: example.com\r\n\r\n", 'A', 0, ""),
	V("absolute-form https", "GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", 'A', 0, ""),
	V("CONNECT authority-form", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 'A', 0, ""),
	V("OPTIONS asterisk", "OPTIONS *" H11 "\r\n", 'A', 0, ""),
	V("unknown method token", "PROPFIND /dav" H11 "\r\n", 'A', 0, ""),
	V("leading empty line", "\r\nGET /" H11 "\r\n", 'A', 0, ""),
	V("Host with port", "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", 'A', 0, ""),
	V("Host IPv6 literal", "GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n", 'A', 0, ""),
	V("Host IPv4", "GET / HTTP/1.1\r\nHost: 198.18.0.1\r\n\r\n", 'A', 0, ""),
	V("OWS around value", "GET /" H11 "X-A: \t v \t\r\n\r\n", 'A', 0, ""),
	V("empty value", "GET /" H11 "X-Empty:\r\n\r\n", 'A', 0, ""),
	V("obs-text in value", "GET /" H11 "X-U: caf\xc3\xa9\r\n\r\n", 'A', 0, ""),
	V("POST Content-Length", "POST /p" H11 "Content-Length: 5\r\n\r\nhello", 'A', 0, "hello"),
	V("POST Content-Length 0", "POST /p" H11 "Content-Length: 0\r\n\r\n", 'A', 0, ""),
	V("Content-Length leading zeros", "POST /p" H11 "Content-Length: 003\r\n\r\nabc", 'A', 0, "abc"),
	V("chunked", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 'A', 0, "hello world"),
	V("chunked upper hex", "POST /p" H11 "Transfer-Encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", 'A', 0, "0123456789"),
	V("chunked extension", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n3;name=val\r\nabc\r\n0;x\r\n\r\n", 'A', 0, "abc"),
	V("chunked ext with BWS", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n3 ;a\r\nabc\r\n0\r\n\r\n", 'A', 0, "abc"),
	V("chunked trailer", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-T: 1\r\n\r\n", 'A', 0, "x"),
	V("chunked leading zeros", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n0002\r\nab\r\n000\r\n\r\n", 'A', 0, "ab"),
	V("Expect 100-continue", "PUT /u" H11 "Expect: 100-continue\r\nContent-Length: 2\r\n\r\nok", 'A', 0, "ok"),
	V("Connection close", "GET /" H11 "Connection: close\r\n\r\n", 'A', 0, ""),
	V("Upgrade websocket", "GET /ws" H11 "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 'A', 0, ""),
	V("identity content-encoding", "POST /p" H11 "Content-Encoding: identity\r\nContent-Length: 1\r\n\r\nz", 'A', 0, "z"),

	/* Smuggling and framing errors. */
	V("CL and TE", "POST /p" H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 'E', 400, NULL),
	V("TE and CL", "POST /p" H11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 'E', 400, NULL),
	V("duplicate CL equal", "POST /p" H11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 'E', 400, NULL),
	V("conflicting CL", "POST /p" H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 'E', 400, NULL),
	V("CL list", "POST /p" H11 "Content-Length: 5, 5\r\n\r\n", 'E', 400, NULL),
	V("CL sign", "POST /p" H11 "Content-Length: +5\r\n\r\n", 'E', 400, NULL),
	V("CL hex", "POST /p" H11 "Content-Length: 0x5\r\n\r\n", 'E', 400, NULL),
	V("CL empty", "POST /p" H11 "Content-Length:\r\n\r\n", 'E', 400, NULL),
	V("CL overflow", "POST /p" H11 "Content-Length: 99999999999999999999\r\n\r\n", 'E', 400, NULL),
	V("TE gzip only", "POST /p" H11 "Transfer-Encoding: gzip\r\n\r\n", 'E', 400, NULL),
	V("TE gzip, chunked", "POST /p" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n", 'E', 501, NULL),
	V("TE chunked, gzip", "POST /p" H11 "Transfer-Encoding: chunked, gzip\r\n\r\n", 'E', 400, NULL),
	V("TE chunked twice", "POST /p" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 'E', 400, NULL),
	V("TE xchunked", "POST /p" H11 "Transfer-Encoding: xchunked\r\n\r\n", 'E', 400, NULL),
	V("TE chunked with param", "POST /p" H11 "Transfer-Encoding: chunked;q=1\r\n\r\n", 'E', 400, NULL),
	V("TE empty", "POST /p" H11 "Transfer-Encoding: \r\n\r\n", 'E', 400, NULL),
	V("TE in HTTP/1.0", "POST /p HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 'E', 400, NULL),
	V("TE space before colon", "POST /p" H11 "Transfer-Encoding : chunked\r\n\r\n", 'E', 400, NULL),
	V("obs-fold", "GET /" H11 "X-A: a\r\n b\r\n\r\n", 'E', 400, NULL),
	V("obs-fold tab", "GET /" H11 "X-A: a\r\n\tb\r\n\r\n", 'E', 400, NULL),
	V("first field folded", "GET / HTTP/1.1\r\n Host: example.com\r\n\r\n", 'E', 400, NULL),
	V("NUL in value", "GET /" H11 "X-A: a\0b\r\n\r\n", 'E', 400, NULL),
	V("CR in value", "GET /" H11 "X-A: a\rb\r\n\r\n", 'E', 400, NULL),
	V("bare LF line end", "GET /" H11 "X-A: a\n\r\n", 'E', 400, NULL),
	V("bare LF request line", "GET / HTTP/1.1\nHost: example.com\r\n\r\n", 'E', 400, NULL),
	V("control char in value", "GET /" H11 "X-A: a\x01\r\n\r\n", 'E', 400, NULL),
	V("DEL in value", "GET /" H11 "X-A: a\x7f\r\n\r\n", 'E', 400, NULL),
	V("NUL in name", "GET /" H11 "X\0A: a\r\n\r\n", 'E', 400, NULL),
	V("empty field name", "GET /" H11 ": a\r\n\r\n", 'E', 400, NULL),
	V("no colon", "GET /" H11 "X-A a\r\n\r\n", 'E', 400, NULL),
	V("bad chunk size", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\nzz\r\n", 'E', 400, NULL),
	V("negative chunk size", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n-1\r\n", 'E', 400, NULL),
	V("chunk size 0x prefix", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 'E', 400, NULL),
	V("chunk size too many digits", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", 'E', 400, NULL),
	V("chunk size trailing space", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", 'E', 400, NULL),
	V("chunk empty size", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n\r\n", 'E', 400, NULL),
	V("chunk data too long", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", 'E', 400, NULL),
	V("chunk size bare LF", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 'E', 400, NULL),
	V("chunk ext with LF", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n3;a\nb\r\nabc\r\n0\r\n\r\n", 'E', 400, NULL),
	V("chunk ext with CTL", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n3;a\x01\r\nabc\r\n0\r\n\r\n", 'E', 400, NULL),
	V("trailer obs-fold", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n", 'E', 400, NULL),
	V("trailer bad name", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nX Y: a\r\n\r\n", 'E', 400, NULL),
	V("lowercase version", "GET / http/1.1\r\nHost: example.com\r\n\r\n", 'E', 400, NULL),
	V("HTTP/2.0", "GET / HTTP/2.0\r\nHost: example.com\r\n\r\n", 'E', 505, NULL),
	V("h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 'E', 505, NULL),
	V("HTTP/1.2", "GET / HTTP/1.2\r\nHost: example.com\r\n\r\n", 'E', 505, NULL),
	V("HTTP/0.9", "GET /\r\n\r\n", 'E', 400, NULL),
	V("missing Host", "GET / HTTP/1.1\r\n\r\n", 'E', 400, NULL),
	V("two Host headers", "GET /" H11 "Host: evil.test\r\n\r\n", 'E', 400, NULL),
	V("empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 'E', 400, NULL),
	V("Host with userinfo", "GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 'E', 400, NULL),
	V("Host with path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 'E', 400, NULL),
	V("Host bad port", "GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", 'E', 400, NULL),
	V("absolute-form Host mismatch", "GET http://a.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n", 'E', 400, NULL),
	V("absolute-form userinfo", "GET http://u:p@a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", 'E', 400, NULL),
	V("ftp scheme", "GET ftp://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", 'E', 400, NULL),
	V("method with slash", "GE/T /" H11 "\r\n", 'E', 400, NULL),
	V("method with NUL", "G\0T /" H11 "\r\n", 'E', 400, NULL),
	V("empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 'E', 400, NULL),
	V("method too long", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA /" H11 "\r\n", 'E', 400, NULL),
	V("double space", "GET  /" H11 "\r\n", 'E', 400, NULL),
	V("target relative", "GET a/b" H11 "\r\n", 'E', 400, NULL),
	V("target with DEL", "GET /a\x7f" H11 "\r\n", 'E', 400, NULL),
	V("target non-ASCII", "GET /caf\xc3\xa9" H11 "\r\n", 'E', 400, NULL),
	V("target bad percent", "GET /a%zz" H11 "\r\n", 'E', 400, NULL),
	V("target short percent", "GET /a%2" H11 "\r\n", 'E', 400, NULL),
	V("asterisk with GET", "GET *" H11 "\r\n", 'E', 400, NULL),
	V("CONNECT without port", "CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", 'E', 400, NULL),
	V("CONNECT origin-form", "CONNECT / HTTP/1.1\r\nHost: example.com\r\n\r\n", 'E', 400, NULL),
	V("trailing space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 'E', 400, NULL),

	/* Incomplete. */
	V("head incomplete", "GET / HTTP/1.1\r\nHost: example.com\r\n", 'M', 0, NULL),
	V("CL body incomplete", "POST /p" H11 "Content-Length: 10\r\n\r\nhello", 'M', 0, NULL),
	V("chunked without last chunk", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 'M', 0, NULL),
	V("chunked without final CRLF", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\n", 'M', 0, NULL),
};

#define HTTP_NVECTORS (sizeof(http_vectors) / sizeof(http_vectors[0]))

#endif
