/*
 * tproxy_http.h - a strict, pure HTTP/1.x request parser for the transparent
 * path.
 *
 * Pure: no I/O, no logging, no allocation.  The caller owns the bytes; the
 * parser returns offsets into them.  Both entry points follow the project's
 * parser contract (STYLE.md item 10):
 *
 *	-1	error: err_pos, status (400, 431, 501, 505) and reason are set;
 *		the request must not be forwarded and the connection is closed
 *	 0	need more data (every bound has already been checked against
 *		what is buffered, so "need more" never means "unbounded")
 *	>0	bytes consumed
 *
 * Anything a front-end and a back-end could frame differently is an error
 * (request smuggling): Content-Length together with Transfer-Encoding,
 * duplicate or malformed Content-Length, a Transfer-Encoding other than a
 * final "chunked", bad chunk sizes, obs-fold, bare CR or LF, NUL or other
 * controls in fields, whitespace before the colon.  Oversized request lines,
 * header lines or heads are 431 - like Go's net/http, which pipelock runs on
 * (414 would be more precise for a long target; one status for "the head is
 * too big" is simpler for clients and tests).
 *
 * Usage: http_request_init(), then http_request_parse() on the same buffer
 * each time it grows (it resumes where it stopped; the buffer may move, the
 * offsets are relative to its start) until it returns the head length.  Then
 * http_body_init() and http_body_parse() over the bytes after the head, in
 * steps, until body.done.  The next pipelined request starts right after.
 */
#ifndef PIPELOCK_TPROXY_HTTP_H
#define PIPELOCK_TPROXY_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_METHOD		32	/* longest method token */
#define HTTP_MAX_REQUEST_LINE	8192	/* incl. CRLF */
#define HTTP_MAX_HEADER_LINE	8192	/* one field line incl. CRLF */
#define HTTP_MAX_HEADERS_BYTES	65536	/* request line + fields + CRLF */
#define HTTP_MAX_HEADERS	100	/* field lines */
#define HTTP_MAX_CHUNK_LINE	1024	/* chunk-size + extensions + CRLF */
#define HTTP_MAX_CHUNK_DIGITS	16	/* hex digits of a chunk size */
#define HTTP_MAX_TRAILERS_BYTES	8192	/* all trailer lines incl. final CRLF */
#define HTTP_MAX_TRAILERS	32	/* trailer field lines */
/* Chunk framing (size lines, CRLFs) allowed beyond half the payload. */
#define HTTP_MAX_CHUNK_OVERHEAD	65536

enum http_method {
	HTTP_METHOD_OTHER = 0,		/* a valid token we do not know */
	HTTP_METHOD_GET,
	HTTP_METHOD_HEAD,
	HTTP_METHOD_POST,
	HTTP_METHOD_PUT,
	HTTP_METHOD_DELETE,
	HTTP_METHOD_CONNECT,
	HTTP_METHOD_OPTIONS,
	HTTP_METHOD_TRACE,
	HTTP_METHOD_PATCH,
};

enum http_target_form {
	HTTP_TARGET_ORIGIN = 0,		/* /path?query */
	HTTP_TARGET_ABSOLUTE,		/* http://host/path (proxy style) */
	HTTP_TARGET_AUTHORITY,		/* host:port (CONNECT only) */
	HTTP_TARGET_ASTERISK,		/* * (OPTIONS only) */
};

enum http_framing {
	HTTP_FRAMING_NONE = 0,		/* no body */
	HTTP_FRAMING_LENGTH,		/* Content-Length */
	HTTP_FRAMING_CHUNKED,		/* Transfer-Encoding: chunked */
};

/* A byte range of the caller's buffer. */
struct http_span {
	size_t	off;
	size_t	len;
};

struct http_field {
	struct http_span name;
	struct http_span value;		/* OWS trimmed */
};

struct http_request {
	/* Parse progress: private. */
	size_t	pos;			/* start of the next line */
	size_t	scan;			/* bytes of that line searched for LF */
	int	phase;
	int	nte;			/* Transfer-Encoding codings seen */
	int	te_bad;			/* a coding after chunked, or unknown */
	int	te_chunked_last;
	int	te_unknown;

	/* The head, valid once parse returned > 0. */
	size_t			head_len;
	struct http_span	method;
	enum http_method	method_code;
	struct http_span	target;
	enum http_target_form	form;
	struct http_span	target_host;	/* absolute/authority form: host[:port] */
	struct http_span	target_path;	/* absolute form: path?query (may be empty) */
	int			version_minor;	/* HTTP/1.<minor>, 0 or 1 */
	struct http_field	fields[HTTP_MAX_HEADERS];
	unsigned		nfields;
	struct http_span	host;		/* Host header value (len 0: none) */
	enum http_framing	framing;
	uint64_t		content_length;
	int			keep_alive;	/* another request may follow */
	int			expect_continue;
	int			upgrade;	/* an Upgrade header is present */
	int			content_encoding; /* a non-identity Content-Encoding */
	int			nhost;
	int			ncl;

	/* Set on error. */
	size_t		err_pos;
	int		status;
	const char	*reason;	/* static string */
};

struct http_body {
	enum http_framing framing;
	int		phase;		/* private */
	uint64_t	remaining;	/* of the current chunk / of the body */
	uint64_t	payload;	/* de-chunked bytes so far */
	uint64_t	framing_bytes;	/* chunk framing bytes so far */
	size_t		trailer_bytes;
	unsigned	ntrailers;	/* trailer fields seen */
	int		done;

	size_t		err_pos;	/* relative to the buf of the failing call */
	int		status;
	const char	*reason;
};

void http_request_init(struct http_request *req);

/*
 * Parse a request head from buf[0..len).  Resumes where the previous call on
 * the same req stopped, so buf must start with the same bytes each time.
 * Returns -1 (req->status, req->reason, req->err_pos), 0 need more, or the
 * head length (request line + fields + empty line).  Spans in req point into
 * buf.  Enforces HTTP/1.1's Host rules (exactly one, valid; absolute-form
 * authority equal to Host) and the framing rules above.
 */
int http_request_parse(struct http_request *req, const char *buf, size_t len);

/* Set up the body parser for the head req describes. */
void http_body_init(struct http_body *b, const struct http_request *req);

/*
 * Parse the next piece of a body from buf[0..len) (the bytes right after what
 * was consumed before).  Returns -1 on error (b->status/reason/err_pos), 0 when
 * more data is needed or the body is done (b->done), or the bytes consumed;
 * data receives the payload span within them (data->len 0 for framing only:
 * a chunk-size line, a CRLF, a trailer line).  Call again while it returns >0.
 */
int http_body_parse(struct http_body *b, const char *buf, size_t len,
    struct http_span *data);

/* Case-insensitive comparison of a span with a NUL-terminated string. */
int http_span_eq(const char *buf, struct http_span s, const char *str);

/* Find the first field named name (case-insensitive) from index *from on. */
const struct http_field *http_field_find(const struct http_request *req,
    const char *buf, const char *name, unsigned *from);

/* Whether a comma-separated field value lists token (case-insensitive). */
int http_list_has(const char *buf, struct http_span value, const char *token);

/* Reason phrase of the statuses the parser and the inspector produce. */
const char *http_status_text(int status);

#endif
