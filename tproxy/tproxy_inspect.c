/*
 * tproxy_inspect.c - judge each HTTP/1.x request of one agent connection
 * before any of it goes upstream.
 *
 * Per request, in this order: strict parsing (tproxy_http), CONNECT and
 * Upgrade refused unless allow-listed, Host against the original
 * destination, the URL checks + DLP on the full URL as pipelock's forward
 * proxy sees it, header DLP, then the body: refused when compressed or
 * larger than request_body_scanning.max_body_bytes, otherwise streamed
 * through the scanner while the raw bytes are held back, and released in one
 * FORWARD only when the whole request passed.  Keep-alive requests are
 * judged one by one; a block closes the connection.  The engine owns the
 * sockets and the buffer (see the integration note in tproxy_inspect.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/policy.h"
#include "tproxy/tproxy_inspect.h"

/* Room for scheme://host + request target. */
#define INSPECT_URL_BUF	(HTTP_MAX_REQUEST_LINE + HTTP_MAX_HEADER_LINE + 16)

enum inspect_state {
	S_HEAD = 0,		/* waiting for / parsing a request head */
	S_BODY,			/* head passed; parsing and scanning the body */
	S_CLOSED,		/* the last request asked to close */
	S_TUNNEL,		/* allowed CONNECT/Upgrade: no more inspection */
	S_BLOCKED,		/* refused; the engine closes */
};

/* What a scan was about: decides the label, reason and action. */
enum judge_what {
	JUDGE_URL = 0,
	JUDGE_HEADER,
	JUDGE_BODY,
};

/*
 * One request's parse and audit state: allocated at the request's first
 * byte, released on the next feed after it completed, so an idle keep-alive
 * connection holds none of it (~6 KiB, mostly the header field table).
 */
struct inspect_req {
	struct http_request	 req;
	struct http_body	 body;
	struct inspect_audit	 audit;		/* url last: see inspect_audit_dup */
};

struct inspect {
	struct inspect_config	 cfg;
	struct sockaddr_storage	 dst;
	int			 tls;
	char			 sni[INSPECT_HOST_MAX];	/* lowercase, no trailing dot */
	enum inspect_state	 state;

	struct inspect_req	*r;		/* NULL between requests */
	struct scan_stream	*stream;
	size_t			 pos;		/* parsed bytes of this request */
	uint64_t		 raw_bytes;	/* bytes of the current request so far */
	int			 stream_body;	/* body not scanned: forward as parsed */
	int			 continue_sent;
	int			 accept_json;
	int			 tunnel_after;
	int			 need_reset;	/* the last request completed */
	unsigned long		 nforwarded;

	char			*resp;		/* the block answer, once blocked */
	size_t			 resp_len;
	int			 resp_status;
};

/*
 * Scan results are read right after each check, within one inspect_feed()
 * call: one per thread (worker) instead of 2.9 KiB per connection.
 */
static __thread struct scan_result inspect_res;

/* When no memory is left for the block answer: still refuse, and close. */
static const char inspect_resp_oom[] =
    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
    "Connection: close\r\n\r\n";

void
inspect_config_from_policy(struct inspect_config *ic, const struct policy *p)
{
	const struct config *cfg = p->cfg;

	memset(ic, 0, sizeof(*ic));
	ic->scanner = p->scanner;
	ic->enforce = cfg->enforce;
	ic->strict = cfg->mode == MODE_STRICT;
	ic->body_enabled = cfg->request_body.enabled;
	ic->body_action_block = cfg->request_body.action_block;
	ic->max_body_bytes = cfg->request_body.max_body_bytes;
	ic->scan_headers = cfg->request_body.scan_headers;
	ic->header_mode_all = cfg->request_body.header_mode_all;
	ic->sensitive_headers = &cfg->request_body.sensitive_headers;
	ic->ignore_headers = &cfg->request_body.ignore_headers;
	if (cfg->fw.upgrade_allow_hosts.n > 0)
		ic->tunnel_allow = &cfg->fw.upgrade_allow_hosts;
}

struct inspect *
inspect_new(const struct inspect_config *ic, const struct sockaddr *orig_dst,
    socklen_t dstlen, const char *sni)
{
	struct inspect *in;
	size_t i;

	if (ic->scanner == NULL)
		return NULL;
	if ((in = calloc(1, sizeof(*in))) == NULL)
		return NULL;
	in->cfg = *ic;
	if (in->cfg.max_body_bytes == 0)
		in->cfg.max_body_bytes = 5u << 20;	/* pipelock's default */
	if (orig_dst != NULL && dstlen <= sizeof(in->dst))
		memcpy(&in->dst, orig_dst, dstlen);
	if (sni != NULL) {
		in->tls = 1;
		for (i = 0; sni[i] != '\0' && i + 1 < sizeof(in->sni); i++)
			in->sni[i] = sni[i] >= 'A' && sni[i] <= 'Z' ?
			    sni[i] - 'A' + 'a' : sni[i];
		in->sni[i] = '\0';
		if (i > 0 && in->sni[i - 1] == '.')
			in->sni[i - 1] = '\0';
	}
	return in;
}

/* Drop the per-request state (it may hold a redacted match and the URL). */
static void
request_release(struct inspect *in)
{
	if (in->r == NULL)
		return;
	explicit_bzero(in->r, sizeof(*in->r));
	free(in->r);
	in->r = NULL;
}

/* The per-request state, made at a request's first byte; -1: no memory. */
static int
request_get(struct inspect *in)
{
	if (in->r != NULL)
		return 0;
	if ((in->r = calloc(1, sizeof(*in->r))) == NULL)
		return -1;
	http_request_init(&in->r->req);
	return 0;
}

void
inspect_free(struct inspect *in)
{
	if (in == NULL)
		return;
	scan_stream_free(in->stream);
	request_release(in);
	if (in->resp != NULL) {
		explicit_bzero(in->resp, INSPECT_RESP_MAX);
		free(in->resp);
	}
	explicit_bzero(in, sizeof(*in));
	free(in);
}

struct inspect_audit *
inspect_audit_dup(const struct inspect_audit *a)
{
	size_t n = offsetof(struct inspect_audit, url) + strlen(a->url) + 1;
	struct inspect_audit *d;

	if ((d = malloc(n)) == NULL)
		return NULL;
	memcpy(d, a, n);
	return d;
}

void
inspect_audit_free(struct inspect_audit *a)
{
	if (a == NULL)
		return;
	explicit_bzero(a, offsetof(struct inspect_audit, url) +
	    strlen(a->url) + 1);
	free(a);
}

size_t
inspect_hold_limit(const struct inspect *in)
{
	size_t lim = HTTP_MAX_HEADERS_BYTES + HTTP_MAX_TRAILERS_BYTES +
	    HTTP_MAX_CHUNK_LINE + HTTP_MAX_CHUNK_OVERHEAD;

	if (in->cfg.body_enabled)
		lim += in->cfg.max_body_bytes + in->cfg.max_body_bytes / 2;
	return lim;
}

const char *
inspect_verdict_name(enum inspect_verdict v)
{
	switch (v) {
	case INSPECT_ALLOW: return "allow";
	case INSPECT_WARN: return "warn";
	case INSPECT_DENY: return "block";
	}
	return "block";
}

/* Copy a span into a bounded C string, lowercased if asked. */
static void
span_copy(char *dst, size_t size, const char *buf, struct http_span s,
    int lower)
{
	size_t n = s.len < size - 1 ? s.len : size - 1, i;

	for (i = 0; i < n; i++) {
		char c = buf[s.off + i];

		dst[i] = lower && c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
	}
	dst[n] = '\0';
}

/* Case-insensitive search of needle in buf[s]. */
static int
span_contains(const char *buf, struct http_span s, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; i + n <= s.len; i++)
		if (strncasecmp(buf + s.off + i, needle, n) == 0)
			return 1;
	return 0;
}

static int
strlist_has_span(const struct strlist *l, const char *buf, struct http_span s)
{
	size_t i;

	if (l == NULL)
		return 0;
	for (i = 0; i < l->n; i++)
		if (l->v[i] != NULL && http_span_eq(buf, s, l->v[i]))
			return 1;
	return 0;
}

/* Printable ASCII only: reasons can quote client and config strings. */
static void
sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

/* Render the block response (403 etc.) and mark the connection refused. */
static void
build_response(struct inspect *in, int status, const char *reason)
{
	char body[SCAN_REASON_MAX + 128];
	size_t b = 0, i;
	int n;

	if (in->accept_json) {
		b = (size_t)snprintf(body, sizeof(body),
		    "{\"blocked\":true,\"reason\":\"");
		for (i = 0; reason[i] != '\0' && b + 8 < sizeof(body); i++) {
			if (reason[i] == '"' || reason[i] == '\\')
				body[b++] = '\\';
			body[b++] = reason[i];
		}
		b += (size_t)snprintf(body + b, sizeof(body) - b, "\"}\n");
	} else {
		n = snprintf(body, sizeof(body), "blocked by pipelock-fw: %s\n",
		    reason);
		b = n < 0 ? 0 : (size_t)n < sizeof(body) ? (size_t)n :
		    sizeof(body) - 1;
	}
	in->resp_status = status;
	if (in->resp == NULL && (in->resp = malloc(INSPECT_RESP_MAX)) == NULL) {
		in->resp_len = 0;
		return;
	}
	n = snprintf(in->resp, INSPECT_RESP_MAX,
	    "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%.*s",
	    status, http_status_text(status),
	    in->accept_json ? "application/json" : "text/plain; charset=utf-8",
	    b, (int)b, body);
	in->resp_len = n < 0 ? 0 : (size_t)n < INSPECT_RESP_MAX ? (size_t)n :
	    INSPECT_RESP_MAX - 1;
}

static int
act_block(struct inspect *in, struct inspect_action *act, int status,
    const char *scanner, const char *reason)
{
	if (in->state != S_BLOCKED) {
		in->r->audit.verdict = INSPECT_DENY;
		in->r->audit.status = status;
		if (scanner != NULL)
			in->r->audit.scanner = scanner;
		snprintf(in->r->audit.reason, sizeof(in->r->audit.reason), "%s",
		    reason);
		sanitize(in->r->audit.reason);
		in->r->audit.request_bytes = in->raw_bytes > in->pos ?
		    in->raw_bytes : in->pos;
		in->r->audit.body_bytes = in->r->body.payload;
		build_response(in, status, in->r->audit.reason);
		in->state = S_BLOCKED;
		scan_stream_free(in->stream);
		in->stream = NULL;
	}
	act->kind = INSPECT_BLOCK;
	if (in->resp != NULL && in->resp_len > 0) {
		act->resp = in->resp;
		act->resp_len = in->resp_len;
	} else {
		act->resp = inspect_resp_oom;
		act->resp_len = sizeof(inspect_resp_oom) - 1;
	}
	act->status = in->resp_status;
	act->after_forward = in->nforwarded > 0;
	act->audit = &in->r->audit;
	return act->kind;
}

/* The audit URL becomes scheme://host/[redacted] once a finding exists. */
static void
audit_redact_url(struct inspect *in)
{
	snprintf(in->r->audit.url, sizeof(in->r->audit.url), "%s://%s/[redacted]",
	    in->tls ? "https" : "http", in->r->audit.host);
}

static int
has_critical(const struct scan_result *res)
{
	unsigned i;

	for (i = 0; i < res->nfindings; i++)
		if (!res->findings[i].warn_only &&
		    res->findings[i].severity != NULL &&
		    strcasecmp(res->findings[i].severity, "critical") == 0)
			return 1;
	return 0;
}

/*
 * Decide on one scan.  URL findings block (when enforcing), as in pipelock;
 * header and body findings block under request_body_scanning.action: block,
 * and critical ones always when enforcing (pipelock hard-blocks critical
 * request DLP even in warn mode).  A scanner error blocks whatever the mode.
 * Returns 1 when blocked (act filled), 0 to go on (findings recorded).
 */
static int
judge(struct inspect *in, int ret, enum judge_what what, const char *header,
    struct inspect_action *act)
{
	const struct scan_result *res = &inspect_res;
	const struct scan_finding *f = NULL;
	char reason[sizeof(in->r->audit.reason)];
	const char *label;
	int block, status = 403;
	unsigned i;

	if (ret == 0 && res->nfindings == 0)
		return 0;
	for (i = 0; i < res->nfindings; i++) {
		if (!res->findings[i].warn_only) {
			f = &res->findings[i];
			break;
		}
	}
	if (f == NULL && res->nfindings > 0)
		f = &res->findings[0];

	if (ret < 0)
		block = 1;
	else if (!res->blocked || !in->cfg.enforce)
		block = 0;
	else if (what == JUDGE_URL)
		block = 1;
	else
		block = in->cfg.body_action_block || has_critical(res);

	label = f != NULL ? f->scanner : "error";
	if (what == JUDGE_HEADER && ret >= 0)
		label = "header_dlp";
	else if (what == JUDGE_BODY && ret >= 0)
		label = "body_dlp";
	if (f != NULL && f->scanner != NULL && strcmp(f->scanner, "ratelimit") == 0)
		status = 429;

	switch (what) {
	case JUDGE_URL:
		snprintf(reason, sizeof(reason), "%s",
		    f != NULL ? f->reason : "URL scan failed");
		break;
	case JUDGE_HEADER:
		snprintf(reason, sizeof(reason), "request header %s: %s",
		    header, f != NULL ? f->reason : "scan failed");
		break;
	case JUDGE_BODY:
		snprintf(reason, sizeof(reason), "request body: %s",
		    f != NULL ? f->reason : "scan failed");
		break;
	}
	if (in->r->audit.scanner == NULL || block) {
		in->r->audit.scanner = label;
		snprintf(in->r->audit.pattern, sizeof(in->r->audit.pattern), "%s",
		    f != NULL && f->pattern != NULL ? f->pattern : "");
		snprintf(in->r->audit.redacted, sizeof(in->r->audit.redacted), "%s",
		    f != NULL ? f->redacted : "");
		snprintf(in->r->audit.reason, sizeof(in->r->audit.reason), "%s",
		    reason);
		sanitize(in->r->audit.reason);
	}
	audit_redact_url(in);
	if (!block) {
		in->r->audit.verdict = INSPECT_WARN;
		return 0;
	}
	act_block(in, act, status, label, reason);
	return 1;
}

/* Host without port, lowercased, trailing dot stripped. */
static void
host_name(const char *hostport, char *out, size_t size)
{
	const char *end;
	size_t n;

	if (hostport[0] == '[') {
		end = strchr(hostport, ']');
		n = end != NULL ? (size_t)(end - hostport - 1) : 0;
		hostport++;
	} else {
		end = strrchr(hostport, ':');
		n = end != NULL ? (size_t)(end - hostport) : strlen(hostport);
	}
	if (n >= size)
		n = size - 1;
	memcpy(out, hostport, n);
	out[n] = '\0';
	if (n > 0 && out[n - 1] == '.')
		out[n - 1] = '\0';
}

static void
dst_string(const struct inspect *in, char *out, size_t size, int with_port)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (in->dst.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)&in->dst;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		port = ntohs(s4->sin_port);
		snprintf(out, size, "%s", ip);
	} else if (in->dst.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&in->dst;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		port = ntohs(s6->sin6_port);
		snprintf(out, size, "[%s]", ip);
	} else {
		snprintf(out, size, "unknown");
	}
	if (with_port && port != 0 && port != (in->tls ? 443u : 80u)) {
		size_t n = strlen(out);

		snprintf(out + n, size - n, ":%u", port);
	}
}

/*
 * Compare an IP-literal Host with the original destination.  Returns 1 equal,
 * 0 different, -1 not an IP literal.  inet_aton() takes the same alternative
 * IPv4 spellings (0x7f.1, 2130706433) that the URL scanner canonicalizes.
 */
static int
host_ip_equal(const struct inspect *in, const char *name)
{
	struct in_addr a4;
	struct in6_addr a6;
	char tmp[INET6_ADDRSTRLEN + 8], *pct;

	if (inet_aton(name, &a4) == 1) {
		if (in->dst.ss_family == AF_INET)
			return ((const struct sockaddr_in *)(const void *)
			    &in->dst)->sin_addr.s_addr == a4.s_addr;
		if (in->dst.ss_family == AF_INET6) {
			const struct in6_addr *d = &((const struct sockaddr_in6 *)
			    (const void *)&in->dst)->sin6_addr;

			return IN6_IS_ADDR_V4MAPPED(d) &&
			    memcmp(&d->s6_addr[12], &a4, 4) == 0;
		}
		return 0;
	}
	if (strlen(name) >= sizeof(tmp))
		return -1;
	memcpy(tmp, name, strlen(name) + 1);
	if ((pct = strchr(tmp, '%')) != NULL)
		*pct = '\0';		/* zone id */
	if (inet_pton(AF_INET6, tmp, &a6) != 1)
		return -1;
	if (in->dst.ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)
		    &in->dst)->sin6_addr, &a6, sizeof(a6)) == 0;
	if (in->dst.ss_family == AF_INET)
		return IN6_IS_ADDR_V4MAPPED(&a6) &&
		    memcmp(&a6.s6_addr[12], &((const struct sockaddr_in *)
		    (const void *)&in->dst)->sin_addr, 4) == 0;
	return 0;
}

/* Host header vs the address the agent actually dialled. */
static int
check_host(struct inspect *in, const char *name, struct inspect_action *act)
{
	char reason[SCAN_REASON_MAX], dst[INET6_ADDRSTRLEN + 8];
	int r;

	/*
	 * Decrypted HTTPS: the Host must name the server the TLS session was
	 * opened for (pipelock's intercepted-tunnel rule), else the SNI that
	 * policy judged is not the host the requests go to.
	 */
	if (in->sni[0] != '\0' && strcmp(name, in->sni) != 0) {
		snprintf(reason, sizeof(reason), "Host header %.100s does not "
		    "match the TLS server name %.100s", name, in->sni);
		act_block(in, act, 403, "host_mismatch", reason);
		return 1;
	}
	r = host_ip_equal(in, name);
	if (r == 1)
		return 0;
	if (r == 0) {
		/* An IP that is not the destination needs no resolver to judge. */
		dst_string(in, dst, sizeof(dst), 0);
		snprintf(reason, sizeof(reason),
		    "Host header %.100s does not match the destination %s", name,
		    dst);
	} else if (!in->cfg.strict) {
		return 0;
	} else {
		r = in->cfg.host_matches != NULL ?
		    in->cfg.host_matches(in->cfg.host_ctx, name) : -1;
		if (r == 1)
			return 0;
		if (r == -2) {
			/* Asked: the head is judged again once the answer is in. */
			act->kind = INSPECT_WAIT;
			return 1;
		}
		dst_string(in, dst, sizeof(dst), 0);
		if (r == 0)
			snprintf(reason, sizeof(reason), "Host header %.100s does "
			    "not resolve to the destination %s", name, dst);
		else
			snprintf(reason, sizeof(reason), "Host header %.100s could "
			    "not be verified against the destination %s",
			    name, dst);
	}
	if (!in->cfg.enforce) {
		in->r->audit.verdict = INSPECT_WARN;
		in->r->audit.scanner = "host_mismatch";
		snprintf(in->r->audit.reason, sizeof(in->r->audit.reason), "%s",
		    reason);
		sanitize(in->r->audit.reason);
		return 0;
	}
	act_block(in, act, 403, "host_mismatch", reason);
	return 1;
}

/* Header DLP: sensitive headers, or all minus the ignore list. */
static int
check_headers(struct inspect *in, const char *buf, struct inspect_action *act)
{
	char name[64];
	unsigned i;
	int ret;

	if (!in->cfg.body_enabled || !in->cfg.scan_headers)
		return 0;
	for (i = 0; i < in->r->req.nfields; i++) {
		const struct http_field *f = &in->r->req.fields[i];

		if (in->cfg.header_mode_all ?
		    strlist_has_span(in->cfg.ignore_headers, buf, f->name) :
		    !strlist_has_span(in->cfg.sensitive_headers, buf, f->name))
			continue;
		if (f->value.len == 0)
			continue;
		ret = scanner_check_text(in->cfg.scanner, buf + f->value.off,
		    f->value.len, SCAN_WHERE_HEADER, &inspect_res);
		span_copy(name, sizeof(name), buf, f->name, 0);
		if (judge(in, ret, JUDGE_HEADER, name, act))
			return 1;
	}
	return 0;
}

/* The full URL as pipelock's forward proxy would see it. */
static void
build_url(struct inspect *in, const char *buf, char *url, size_t size)
{
	const char *scheme = in->tls ? "https" : "http";
	const struct http_request *r = &in->r->req;

	switch (r->form) {
	case HTTP_TARGET_ORIGIN:
		snprintf(url, size, "%s://%s%.*s", scheme, in->r->audit.host,
		    (int)r->target.len, buf + r->target.off);
		break;
	case HTTP_TARGET_ABSOLUTE:
		snprintf(url, size, "%s://%s%.*s", scheme, in->r->audit.host,
		    (int)r->target_path.len, buf + r->target_path.off);
		break;
	case HTTP_TARGET_ASTERISK:
		snprintf(url, size, "%s://%s/", scheme, in->r->audit.host);
		break;
	case HTTP_TARGET_AUTHORITY: {
		char name[INSPECT_HOST_MAX];

		/* pipelock scans CONNECT as https://host/ without the port. */
		host_name(in->r->audit.host, name, sizeof(name));
		if (strchr(name, ':') != NULL)
			snprintf(url, size, "https://[%s]/", name);
		else
			snprintf(url, size, "https://%s/", name);
		break;
	}
	}
}

/* A CONNECT or Upgrade: refused unless the host is allow-listed. */
static int
check_tunnel(struct inspect *in, const char *buf, const char *name,
    struct inspect_action *act)
{
	char reason[SCAN_REASON_MAX], proto[33];
	const struct http_field *f;
	size_t i;

	if (in->r->req.method_code != HTTP_METHOD_CONNECT && !in->r->req.upgrade)
		return 0;
	if (in->cfg.tunnel_allow != NULL) {
		for (i = 0; i < in->cfg.tunnel_allow->n; i++) {
			if (scanner_domain_match(name,
			    in->cfg.tunnel_allow->v[i])) {
				in->tunnel_after = 1;
				return 0;
			}
		}
	}
	if (in->r->req.method_code == HTTP_METHOD_CONNECT) {
		snprintf(reason, sizeof(reason),
		    "CONNECT is not supported on the transparent path");
	} else {
		f = http_field_find(&in->r->req, buf, "upgrade", NULL);
		span_copy(proto, sizeof(proto), buf, f->value, 1);
		snprintf(reason, sizeof(reason),
		    "protocol upgrade (%s) is not supported on the transparent path",
		    proto);
	}
	act_block(in, act, 403, "upgrade", reason);
	return 1;
}

/*
 * Everything decided from the head.  Returns 1 when blocked (act filled),
 * 0 to go on to the body.
 */
static int
check_head(struct inspect *in, const char *buf, struct inspect_action *act)
{
	char url[INSPECT_URL_BUF], name[INSPECT_HOST_MAX], reason[128];
	const struct http_request *r = &in->r->req;
	unsigned from = 0;
	const struct http_field *f;
	int ret;

	span_copy(in->r->audit.method, sizeof(in->r->audit.method), buf, r->method, 0);
	while ((f = http_field_find(r, buf, "accept", &from)) != NULL)
		if (span_contains(buf, f->value, "application/json"))
			in->accept_json = 1;
	if (r->host.len > 0)
		span_copy(in->r->audit.host, sizeof(in->r->audit.host), buf, r->host, 1);
	else
		dst_string(in, in->r->audit.host, sizeof(in->r->audit.host), 1);
	host_name(in->r->audit.host, name, sizeof(name));

	if (check_tunnel(in, buf, name, act))
		return 1;
	if (r->host.len > 0 && check_host(in, name, act))
		return 1;

	build_url(in, buf, url, sizeof(url));
	if (strlen(url) < sizeof(in->r->audit.url)) {
		memcpy(in->r->audit.url, url, strlen(url) + 1);
	} else {
		memcpy(in->r->audit.url, url, sizeof(in->r->audit.url) - 4);
		memcpy(in->r->audit.url + sizeof(in->r->audit.url) - 4, "...", 4);
	}
	ret = scanner_check_url(in->cfg.scanner, url, strlen(url), &inspect_res);
	explicit_bzero(url, sizeof(url));
	if (judge(in, ret, JUDGE_URL, NULL, act))
		return 1;
	if (check_headers(in, buf, act))
		return 1;

	if (!in->cfg.body_enabled || r->framing == HTTP_FRAMING_NONE ||
	    (r->framing == HTTP_FRAMING_LENGTH && r->content_length == 0))
		return 0;
	/* Always refused, whatever the action: the body cannot be scanned. */
	if (r->content_encoding) {
		f = http_field_find(r, buf, "content-encoding", NULL);
		span_copy(name, sizeof(name), buf, f->value, 0);
		snprintf(url, sizeof(url),
		    "request body uses Content-Encoding \"%s\"; compressed "
		    "bodies cannot be scanned for secrets", name);
		act_block(in, act, 403, "body_dlp", url);
		return 1;
	}
	if (r->framing == HTTP_FRAMING_LENGTH &&
	    r->content_length > in->cfg.max_body_bytes) {
		snprintf(reason, sizeof(reason),
		    "request body exceeds max_body_bytes (%llu)",
		    (unsigned long long)in->cfg.max_body_bytes);
		act_block(in, act, 413, "body_dlp", reason);
		return 1;
	}
	return 0;
}

/*
 * Start a new request on the connection.  keep: the same head is parsed
 * again (WAIT), so keep its memory; else release it until bytes come.
 */
static void
request_reset(struct inspect *in, int keep)
{
	scan_stream_free(in->stream);
	in->stream = NULL;
	if (keep && in->r != NULL) {
		http_request_init(&in->r->req);
		memset(&in->r->body, 0, sizeof(in->r->body));
		memset(&in->r->audit, 0, sizeof(in->r->audit));
	} else {
		request_release(in);
	}
	in->pos = 0;
	in->raw_bytes = 0;
	in->stream_body = 0;
	in->continue_sent = 0;
	in->accept_json = 0;
	in->tunnel_after = 0;
}

/* The request is complete and passed: release it. */
static int
act_complete(struct inspect *in, struct inspect_action *act)
{
	char reason[64];

	if (in->cfg.body_enabled && in->r->body.ntrailers > 0) {
		snprintf(reason, sizeof(reason),
		    "request trailers cannot be scanned for secrets");
		return act_block(in, act, 403, "body_dlp", reason);
	}
	act->kind = in->tunnel_after ? INSPECT_TUNNEL : INSPECT_FORWARD;
	act->len = in->pos;
	act->close_after = !in->r->req.keep_alive;
	in->r->audit.request_bytes = in->raw_bytes;
	in->r->audit.body_bytes = in->r->body.payload;
	act->audit = &in->r->audit;
	in->nforwarded++;
	in->need_reset = 1;
	in->state = in->tunnel_after ? S_TUNNEL :
	    in->r->req.keep_alive ? S_HEAD : S_CLOSED;
	/* The caller reads the audit record before the next feed resets it. */
	scan_stream_free(in->stream);
	in->stream = NULL;
	in->pos = 0;
	return act->kind;
}

/*
 * A finding that did not block (warn) stops a stream scanner for good; start
 * a fresh one so a later, blocking secret in the same body is still seen.
 */
static int
rearm_stream(struct inspect *in)
{
	scan_stream_free(in->stream);
	in->stream = scan_stream_new(in->cfg.scanner, SCAN_WHERE_BODY);
	return in->stream == NULL ? -1 : 0;
}

static int
feed_body(struct inspect *in, const char *buf, size_t len,
    struct inspect_action *act)
{
	struct http_span d;
	char reason[96];
	int r, ret;

	while (!in->r->body.done) {
		r = http_body_parse(&in->r->body, buf + in->pos, len - in->pos, &d);
		if (r < 0)
			return act_block(in, act, in->r->body.status, "http",
			    in->r->body.reason);
		if (r == 0)
			break;
		if (d.len > 0 && !in->stream_body) {
			if (in->r->body.payload > in->cfg.max_body_bytes) {
				snprintf(reason, sizeof(reason),
				    "request body exceeds max_body_bytes (%llu)",
				    (unsigned long long)in->cfg.max_body_bytes);
				return act_block(in, act, 413, "body_dlp",
				    reason);
			}
			ret = scan_stream_feed(in->stream,
			    buf + in->pos + d.off, d.len, &inspect_res);
			if (judge(in, ret, JUDGE_BODY, NULL, act))
				return act->kind;
			if (ret == 1 && rearm_stream(in) == -1)
				return -1;
		}
		in->pos += (size_t)r;
		in->raw_bytes += (uint64_t)r;
	}
	if (!in->r->body.done) {
		if (in->stream_body && in->pos > 0) {
			/* Scanning is off: pass the body on as it is framed. */
			act->kind = INSPECT_FORWARD;
			act->len = in->pos;
			in->pos = 0;
			return act->kind;
		}
		act->kind = INSPECT_NEED_MORE;
		return act->kind;
	}
	if (in->stream != NULL) {
		ret = scan_stream_finish(in->stream, &inspect_res);
		if (judge(in, ret, JUDGE_BODY, NULL, act))
			return act->kind;
	}
	return act_complete(in, act);
}

int
inspect_feed(struct inspect *in, const char *buf, size_t len,
    struct inspect_action *act)
{
	size_t i;
	int r;

	memset(act, 0, sizeof(*act));
	if (in->need_reset && in->state != S_BLOCKED) {
		request_reset(in, 0);
		in->need_reset = 0;
	}
	switch (in->state) {
	case S_BLOCKED:
		return act_block(in, act, in->resp_status, NULL, "");
	case S_TUNNEL:
		act->kind = len > 0 ? INSPECT_FORWARD : INSPECT_NEED_MORE;
		act->len = len;
		return act->kind;
	case S_CLOSED:
		if (len == 0)
			return act->kind = INSPECT_NEED_MORE;
		for (i = 0; i < len && (buf[i] == '\r' || buf[i] == '\n'); i++)
			;
		if (i == len) {
			/* Stray CRLF after a body (RFC 9112 2.2): harmless. */
			act->kind = INSPECT_FORWARD;
			act->len = len;
			return act->kind;
		}
		if (request_get(in) == -1)
			return -1;
		return act_block(in, act, 400, "http",
		    "request after Connection: close");
	case S_HEAD:
		if (len == 0)
			return act->kind = INSPECT_NEED_MORE;
		if (request_get(in) == -1)
			return -1;
		r = http_request_parse(&in->r->req, buf, len);
		if (r < 0)
			return act_block(in, act, in->r->req.status, "http",
			    in->r->req.reason);
		if (r == 0)
			return act->kind = INSPECT_NEED_MORE;
		in->pos = (size_t)r;
		in->raw_bytes = (uint64_t)r;
		if (check_head(in, buf, act)) {
			if (act->kind == INSPECT_WAIT)
				request_reset(in, 1);	/* parse again later */
			return act->kind;
		}
		if (in->r->audit.verdict != INSPECT_WARN)
			in->r->audit.verdict = INSPECT_ALLOW;
		http_body_init(&in->r->body, &in->r->req);
		in->state = S_BODY;
		if (!in->r->body.done && !in->cfg.body_enabled) {
			/* Nothing to hold for: the head goes now, the body follows. */
			in->stream_body = 1;
			act->kind = INSPECT_FORWARD;
			act->len = in->pos;
			in->pos = 0;
			return act->kind;
		}
		if (!in->r->body.done) {
			in->stream = scan_stream_new(in->cfg.scanner,
			    SCAN_WHERE_BODY);
			if (in->stream == NULL)
				return -1;
			if (in->r->req.expect_continue && !in->continue_sent) {
				/* The head passed: let the client send the body. */
				static const char cont[] =
				    "HTTP/1.1 100 Continue\r\n\r\n";

				in->continue_sent = 1;
				act->kind = INSPECT_CONTINUE;
				act->resp = cont;
				act->resp_len = sizeof(cont) - 1;
				return act->kind;
			}
		}
		/* FALLTHROUGH */
	case S_BODY:
		return feed_body(in, buf, len, act);
	}
	return act->kind;
}
