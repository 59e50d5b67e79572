/*
 * tproxy_proxy.c - the explicit proxy port: forward HTTP, CONNECT tunnels,
 * /fetch, and the admin routes, for clients that set HTTP(S)_PROXY.
 *
 * One connection = one request, as an explicit state machine:
 *
 *   HEAD        the request head, parsed strictly (tproxy_http) and routed
 *   JUDGE       forward/CONNECT: tproxy_inspect judges the request exactly
 *               as on the transparent path; nothing is dialled before the
 *               whole request (body included) passed
 *   RESOLVE     the host's addresses from the engine's resolver threads
 *               (the loop never blocks on DNS), every one checked against
 *               the SSRF ranges: a name that resolves to an internal
 *               address is refused, whatever else it resolves to
 *   CONNECTING  non-blocking connect with the engine's SO_MARK (the ruleset
 *               accepts the engine's own traffic by it), next address on
 *               failure
 *   HELLO       CONNECT: "200 Connection Established" sent; the tunnelled
 *               ClientHello (5 s bound) is judged: SNI policy as on the
 *               transparent path, and forward_proxy.sni_verification (SNI
 *               must equal the CONNECT host: domain fronting)
 *   MITM        CONNECT to a name tls_interception covers: the tunnel is
 *               decrypted by a tproxy_mitm session (leaf for the SNI,
 *               verified upstream) and every request in it inspected as on
 *               the transparent path, Host == SNI enforced
 *   TLS         /fetch of https://: the engine's TLS client handshake
 *               (system trust store, host name verified)
 *   RELAY       forward: the request in origin-form, then the response
 *               back; tunnel: both ways; /fetch: the response collected
 *   ANSWER      an answer of ours (block, error, admin, /fetch JSON) is
 *               written, then a FIN
 *   LINGER      waiting for the client's FIN, so the answer is not lost to
 *               an RST
 *
 * Why the inspector is fed with the dial address unknown: the URL (and a
 * secret in the host name) must be judged before the name goes to DNS.  An
 * IP-literal host is its own destination; a name is dialled only at an
 * address it resolves to, so the inspector's strict-mode Host check holds
 * by construction (host_matches answers 1).
 *
 * px_close() marks and unregisters; px_free() - the one teardown - runs
 * from tproxy_proxy_tick() after the loop iteration.  Allocation failures
 * abort the connection, never the engine.
 */
#include "tproxy/tproxy_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/audit.h"
#include "core/config.h"
#include "core/killswitch.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/policy.h"
#include "core/sockdiag.h"
#include "scanner/scanner.h"
#include "tproxy/engine.h"
#include "tproxy/tproxy_admin.h"
#include "tproxy/tproxy_http.h"
#include "tproxy/tproxy_inspect.h"
#include "tproxy/tproxy_mitm.h"
#include "tproxy/tproxy_resolve.h"
#include "tproxy/tproxy_tls.h"

#define PX_BACKLOG		1024
#define PX_ACCEPT_BATCH		64
#define PX_AGENT_MAX		64	/* X-Pipelock-Agent bytes kept */
#define PX_FETCH_HEAD_MAX	65536	/* upstream response head for /fetch */
#define PX_READS_PER_EVENT	16
#define PX_ANSWER_IDLE_MS	10000	/* an answer the client does not read */

enum px_state {
	PX_HEAD = 0,
	PX_JUDGE,
	PX_RESOLVE,
	PX_CONNECTING,
	PX_HELLO,
	PX_TLS,			/* /fetch of https://: client handshake */
	PX_RELAY,
	PX_MITM,		/* CONNECT, intercepted: tproxy_mitm session */
	PX_ANSWER,
	PX_LINGER,
};

enum px_kind {
	PX_KIND_NONE = 0,
	PX_KIND_FORWARD,
	PX_KIND_CONNECT,
	PX_KIND_FETCH,
};

struct px_buf {
	char	*b;
	size_t	 len, off, cap;
};

struct px_conn {
	LIST_ENTRY(px_conn)	 entry;		/* proxy's conns or dead */
	struct tproxy_proxy	*px;
	enum px_state		 state;
	enum px_kind		 kind;
	int			 cfd, ufd;
	struct sockaddr_storage	 src, self, dst;
	char			 src_s[64], dst_s[64];
	long long		 uid;		/* AUDIT_UNSET: unknown */
	struct policy		*pol;

	char			*in;		/* client bytes: head, body, hello */
	size_t			 inlen, incap, judged, hold;
	struct http_request	 req;
	struct inspect		*insp;
	struct inspect_audit	 ia;		/* the judged request */
	int			 ia_set;

	char			 host[RESOLVE_NAME_MAX + 1];	/* no brackets */
	uint16_t		 port;
	int			 https;		/* /fetch of an https URL */
	char			*path;		/* forward: origin-form target */
	char			*tallow[1];	/* CONNECT: the inspector's */
	struct strlist		 tlist;		/* tunnel_allow (host only) */
	char			 agent[PX_AGENT_MAX + 1];
	struct resolve_req	*rreq;		/* in flight (resolver owns it) */
	struct resolve_req	*addrs;		/* the answer (owned) */
	int			 addr_i;

	struct px_buf		 up, down;	/* to the upstream, to the client */
	int			 c_eof, u_eof, up_shut, down_shut;
	int			 tunnel;	/* counted in active_tunnels */
	unsigned long long	 bytes_up, bytes_down;
	uint64_t		 t_start, t_state, t_last;
	int			 status;	/* of our answer, for the audit */
	SSL			*ssl;		/* /fetch of https:// */
	struct mitm_session	*mitm;		/* intercepted tunnel */
	int			 mitm_ended;	/* its early end audited */
	int			 dead;
};

struct tproxy_proxy {
	struct loop		*loop;
	int			 lfd;
	uint16_t		 port;
	struct resolver		*resolver;
	struct resolve_sink	 sink;
	struct tproxy_admin	*admin;
	unsigned		 admin_routes;
	struct killswitch	*ks;
	unsigned long		 admin_gen;	/* policy generation it reports */
	LIST_HEAD(, px_conn)	 conns, dead;
	SSL_CTX			*fetch_tls;	/* https /fetch: system trust store */
	struct mitm		*mitm;		/* the engine's, or NULL */
	unsigned		 nconns;
	uint64_t		 next_sweep;
};

static void px_io(struct loop *l, int fd, int ready, void *ctx);
static void px_relay(struct px_conn *c);
static void px_connect_next(struct px_conn *c);
static void px_mitm_io(struct px_conn *c, int fd, int ready);

/* --- small helpers --------------------------------------------------------- */

static void
px_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* An IP literal (no brackets) as a sockaddr: 1, or 0 for a name. */
static int
px_literal(const char *host, uint16_t port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		return 1;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		return 1;
	}
	return 0;
}

/*
 * "host[:port]" or "[v6][:port]" into a lowercase host without brackets or
 * trailing dot, and a port (def when absent).  -1 if malformed.
 */
static int
px_split_authority(const char *a, size_t n, uint16_t def, char *host,
    size_t hlen, uint16_t *port)
{
	const char *p = NULL, *end = a + n, *rb;
	unsigned long v = 0;

	if (n > 0 && a[0] == '[') {
		if ((rb = memchr(a, ']', n)) == NULL ||
		    (rb + 1 < end && rb[1] != ':'))
			return -1;
		if (rb + 1 < end)
			p = rb + 2;
	} else if ((rb = memchr(a, ':', n)) != NULL) {
		p = rb + 1;
	}
	*port = def;
	if (p != NULL) {
		if (p == end || end - p > 5)
			return -1;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			v = v * 10 + (unsigned long)(*p - '0');
		}
		if (v == 0 || v > 65535)
			return -1;
		*port = (uint16_t)v;
	}
	return conn_host_from_authority(a, n, host, hlen);
}

/* JSON string body of s[0..n) into b (grown); invalid UTF-8 -> U+FFFD. */
static int
px_json_str(struct px_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, need = b->len + n * 6 + 3, k;
	char *nb;

	if (need > b->cap) {
		if ((nb = realloc(b->b, need)) == NULL)
			return -1;
		b->b = nb;
		b->cap = need;
	}
	b->b[b->len++] = '"';
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			b->b[b->len++] = '\\';
			b->b[b->len++] = (char)ch;
		} else if (ch == '\n') {
			memcpy(b->b + b->len, "\\n", 2);
			b->len += 2;
		} else if (ch == '\r') {
			memcpy(b->b + b->len, "\\r", 2);
			b->len += 2;
		} else if (ch == '\t') {
			memcpy(b->b + b->len, "\\t", 2);
			b->len += 2;
		} else if (ch < 0x20 || ch == 0x7f) {
			memcpy(b->b + b->len, "\\u00", 4);
			b->b[b->len + 4] = hex[ch >> 4];
			b->b[b->len + 5] = hex[ch & 15];
			b->len += 6;
		} else if (ch < 0x80) {
			b->b[b->len++] = (char)ch;
		} else {
			/* one whole, valid UTF-8 sequence or U+FFFD */
			size_t want = ch >= 0xf0 && ch <= 0xf4 ? 4 :
			    ch >= 0xe0 ? 3 : ch >= 0xc2 && ch <= 0xdf ? 2 : 0;

			if (ch > 0xf4)
				want = 0;
			for (k = 1; want > 0 && k < want; k++)
				if (i + k >= n ||
				    ((unsigned char)s[i + k] & 0xc0) != 0x80)
					want = 0;
			if (want == 0) {
				memcpy(b->b + b->len, "\\ufffd", 6);
				b->len += 6;
				continue;
			}
			memcpy(b->b + b->len, s + i, want);
			b->len += want;
			i += want - 1;
		}
	}
	b->b[b->len++] = '"';
	return 0;
}

static int
px_buf_add(struct px_buf *b, const char *s, size_t n)
{
	char *nb;
	size_t ncap;

	if (b->len + n > b->cap) {
		ncap = b->cap ? b->cap : 1024;
		while (ncap < b->len + n)
			ncap *= 2;
		if ((nb = realloc(b->b, ncap)) == NULL)
			return -1;
		b->b = nb;
		b->cap = ncap;
	}
	memcpy(b->b + b->len, s, n);
	b->len += n;
	return 0;
}

static int
px_buf_str(struct px_buf *b, const char *s)
{
	return px_buf_add(b, s, strlen(s));
}

static void
px_buf_free(struct px_buf *b)
{
	free(b->b);
	memset(b, 0, sizeof(*b));
}

static const char *
px_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	}
	return http_status_text(status);
}

static const char *
px_kind_event(const struct px_conn *c)
{
	switch (c->kind) {
	case PX_KIND_FORWARD: return "forward_http";
	case PX_KIND_CONNECT: return "connect";
	case PX_KIND_FETCH: return "fetch";
	default: return "proxy";
	}
}

static const char *
px_transport(const struct px_conn *c)
{
	switch (c->kind) {
	case PX_KIND_FORWARD: return "forward";
	case PX_KIND_CONNECT: return "connect";
	case PX_KIND_FETCH: return "fetch";
	default: return "proxy";
	}
}

/* --- audit and metrics ----------------------------------------------------- */

static void
px_audit(struct px_conn *c, const char *event, const char *verdict,
    const char *reason)
{
	struct audit_event ev;
	char hostport[RESOLVE_NAME_MAX + 16];

	audit_event_init(&ev);
	ev.event = event;
	ev.verdict = verdict;
	ev.proto = c->kind == PX_KIND_CONNECT || c->https ? "tls" : "http";
	ev.uid = c->uid;
	ev.src = c->src_s;
	ev.dst = c->dst_s[0] ? c->dst_s : NULL;
	if (c->host[0]) {
		snprintf(hostport, sizeof(hostport), strchr(c->host, ':') ?
		    "[%s]:%u" : "%s:%u", c->host, c->port);
		ev.host = hostport;
	}
	if (c->ia_set) {
		ev.method = c->ia.method[0] ? c->ia.method : NULL;
		ev.url = c->ia.url[0] ? c->ia.url : NULL;
		ev.scanner = c->ia.scanner;
		ev.pattern = c->ia.pattern[0] ? c->ia.pattern : NULL;
		ev.redacted = c->ia.redacted[0] ? c->ia.redacted : NULL;
		if (reason == NULL && c->ia.reason[0])
			reason = c->ia.reason;
	}
	ev.reason = reason != NULL && reason[0] ? reason : NULL;
	if (c->status > 0 && verdict != NULL && strcmp(verdict, "allow") != 0)
		ev.status = c->status;
	if (strcmp(event, "http") == 0) {
		/* one request inside an intercepted tunnel */
		ev.bytes_up = (long long)c->ia.request_bytes;
	} else if (strcmp(event, "tunnel_close") == 0 || c->bytes_up ||
	    c->bytes_down) {
		ev.bytes_up = (long long)c->bytes_up;
		ev.bytes_down = (long long)c->bytes_down;
		ev.duration_ms = (long long)(loop_now_ms() - c->t_start);
	}
	if (!audit_admit(&ev))
		return;
	audit_emit(&ev);
}

/* A request decided: requests_total, and for a block its reason. */
static void
px_count(struct px_conn *c, int blocked, const char *scanner)
{
	metric_add(metrics_get(M_REQUESTS_TOTAL),
	    METRIC_LV(blocked ? "blocked" : "allowed", c->agent), 1);
	if (!blocked)
		return;
	metric_add(metrics_get(M_BLOCKS_TOTAL),
	    METRIC_LV(scanner ? scanner : "proxy", px_transport(c)), 1);
	if (scanner != NULL)
		metric_add(metrics_get(M_SCANNER_HITS),
		    METRIC_LV(scanner, c->agent), 1);
	/* a request refused inside an intercepted tunnel: the tunnel went */
	if (c->kind == PX_KIND_CONNECT && c->mitm == NULL)
		metric_add(metrics_get(M_TUNNELS_TOTAL),
		    METRIC_LV("blocked", c->agent), 1);
}

/* --- lifecycle ------------------------------------------------------------- */

static void
px_close(struct px_conn *c)
{
	struct tproxy_proxy *px = c->px;

	if (c->dead)
		return;
	c->dead = 1;
	if (c->tunnel) {
		c->tunnel = 0;
		conn_metrics_tunnel_end(c->agent, c->t_start, c->bytes_up,
		    c->bytes_down);
		px_audit(c, "tunnel_close", "allow", NULL);
	}
	if (c->kind == PX_KIND_FORWARD || c->kind == PX_KIND_FETCH)
		metric_observe(metrics_get(M_REQUEST_DURATION), NULL,
		    (double)(loop_now_ms() - c->t_start) / 1000.0);
	metric_gauge_add(metrics_get(M_CONNECTIONS_OPEN), NULL, -1);
	metric_add(metrics_get(M_BYTES_TOTAL), METRIC_LV("up"), c->bytes_up);
	metric_add(metrics_get(M_BYTES_TOTAL), METRIC_LV("down"), c->bytes_down);
	loop_del(px->loop, c->cfd);
	if (c->ufd != -1)
		loop_del(px->loop, c->ufd);
	LIST_REMOVE(c, entry);
	LIST_INSERT_HEAD(&px->dead, c, entry);
	px->nconns--;
}

static void
px_free(struct px_conn *c)
{
	if (c == NULL)
		return;
	SSL_free(c->ssl);
	mitm_session_free(c->mitm);
	if (c->cfd != -1)
		close(c->cfd);
	if (c->ufd != -1)
		close(c->ufd);
	if (c->rreq != NULL)
		c->rreq->owner = NULL;	/* the sink frees it when it comes */
	free(c->addrs);
	inspect_free(c->insp);
	policy_unref(c->pol);
	if (c->in != NULL)
		explicit_bzero(c->in, c->incap);
	free(c->in);
	free(c->path);
	px_buf_free(&c->up);
	px_buf_free(&c->down);
	explicit_bzero(&c->ia, sizeof(c->ia));
	free(c);
}

static void
px_set_state(struct px_conn *c, enum px_state s)
{
	c->state = s;
	c->t_state = loop_now_ms();
}

static void
px_want(struct px_conn *c, int cmask, int umask)
{
	if (loop_set(c->px->loop, c->cfd, cmask) == -1 ||
	    (c->ufd != -1 && loop_set(c->px->loop, c->ufd, umask) == -1))
		px_close(c);
}

static void
px_drop_upstream(struct px_conn *c)
{
	SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->ufd == -1)
		return;
	loop_del(c->px->loop, c->ufd);
	close(c->ufd);
	c->ufd = -1;
}

/* Our last bytes are out: FIN, then wait for the client's (LINGER). */
static void
px_linger_start(struct px_conn *c)
{
	(void)shutdown(c->cfd, SHUT_WR);
	px_set_state(c, PX_LINGER);
	px_want(c, LOOP_READ, 0);
}

/* --- answers of our own ---------------------------------------------------- */

/* Write what is queued in c->down; then FIN and linger. */
static void
px_answer_write(struct px_conn *c)
{
	ssize_t n;

	while (c->down.off < c->down.len) {
		n = send(c->cfd, c->down.b + c->down.off, c->down.len - c->down.off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->down.off += (size_t)n;
			c->t_last = loop_now_ms();
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			px_want(c, LOOP_WRITE, 0);
			return;
		}
		px_close(c);
		return;
	}
	px_linger_start(c);
}

/* Queue a whole response (takes out, malloc'd) and send it. */
static void
px_answer_raw(struct px_conn *c, char *out, size_t len, int status)
{
	if (out == NULL) {
		px_close(c);
		return;
	}
	px_drop_upstream(c);
	px_buf_free(&c->down);
	c->down.b = out;
	c->down.len = c->down.cap = len;
	c->status = status;
	px_set_state(c, PX_ANSWER);
	px_answer_write(c);
}

static void
px_answer(struct px_conn *c, int status, const char *ctype, const char *body,
    size_t blen)
{
	char head[384];
	char *out;
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nX-Content-Type-Options: nosniff\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status,
	    px_status_text(status), ctype, blen);
	if (n < 0 || (size_t)n >= sizeof(head) ||
	    (out = malloc((size_t)n + blen)) == NULL) {
		px_close(c);
		return;
	}
	memcpy(out, head, (size_t)n);
	memcpy(out + n, body, blen);
	px_answer_raw(c, out, (size_t)n + blen, status);
}

/* Go's http.Error: text/plain, prefix + message and a newline. */
static void
px_answer_text(struct px_conn *c, int status, const char *prefix,
    const char *msg)
{
	char body[SCAN_REASON_MAX + 128];
	int n;

	n = snprintf(body, sizeof(body), "%s%s", prefix, msg);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(body) - 1)
		n = (int)sizeof(body) - 2;
	body[n++] = '\n';
	px_answer(c, status, "text/plain; charset=utf-8", body, (size_t)n);
}

static void
px_answer_json(struct px_conn *c, int status, struct px_buf *b)
{
	px_answer(c, status, "application/json", b->b ? b->b : "", b->len);
}

/* /fetch error: {"url":..,"error":..,"blocked":false} (url may be NULL). */
static void
px_fetch_error(struct px_conn *c, int status, const char *url,
    const char *err)
{
	struct px_buf b = { 0 };
	int bad = 0;

	bad |= px_buf_str(&b, "{");
	if (url != NULL) {
		bad |= px_buf_str(&b, "\"url\":");
		bad |= px_json_str(&b, url, strlen(url));
		bad |= px_buf_str(&b, ",");
	}
	bad |= px_buf_str(&b, "\"error\":");
	bad |= px_json_str(&b, err, strlen(err));
	bad |= px_buf_str(&b, ",\"blocked\":false}");
	if (bad)
		px_close(c);
	else
		px_answer_json(c, status, &b);
	px_buf_free(&b);
}

/*
 * A refused request: audit, metrics and the answer of its kind (forward:
 * "blocked: R", CONNECT: "CONNECT blocked: R", /fetch: JSON).
 */
static void
px_block(struct px_conn *c, int status, const char *scanner,
    const char *reason)
{
	struct px_buf b = { 0 };
	const char *url;
	int bad = 0;

	c->status = status;
	px_count(c, 1, scanner);
	px_audit(c, px_kind_event(c), "block", reason);
	switch (c->kind) {
	case PX_KIND_CONNECT:
		px_answer_text(c, status, "CONNECT blocked: ", reason);
		return;
	case PX_KIND_FETCH:
		url = c->ia_set && c->ia.url[0] ? c->ia.url : "";
		bad |= px_buf_str(&b, "{\"url\":");
		bad |= px_json_str(&b, url, strlen(url));
		bad |= px_buf_str(&b, ",\"agent\":");
		bad |= px_json_str(&b, c->agent, strlen(c->agent));
		bad |= px_buf_str(&b, ",\"blocked\":true,\"block_reason\":");
		bad |= px_json_str(&b, reason, strlen(reason));
		bad |= px_buf_str(&b, "}");
		if (bad)
			px_close(c);
		else
			px_answer_json(c, status, &b);
		px_buf_free(&b);
		return;
	default:
		px_answer_text(c, status, "blocked: ", reason);
		return;
	}
}

/* The upstream could not be reached (or failed). */
static void
px_upstream_failed(struct px_conn *c, const char *why)
{
	char msg[256];

	c->status = 502;
	px_audit(c, "upstream_error", "error", why);
	switch (c->kind) {
	case PX_KIND_CONNECT:
		px_answer_text(c, 502, "", "tunnel dial failed");
		break;
	case PX_KIND_FETCH:
		snprintf(msg, sizeof(msg), "fetch failed: %s", why);
		px_fetch_error(c, 502, NULL, msg);
		break;
	default:
		px_answer_text(c, 502, "", "forward proxy fetch failed");
		break;
	}
}

/* --- reading the client ---------------------------------------------------- */

/* Read client bytes into c->in (at most lim buffered).  -1 on error. */
static int
px_read_client(struct px_conn *c, size_t lim)
{
	char *nb;
	size_t ncap;
	ssize_t n;
	int i;

	for (i = 0; i < PX_READS_PER_EVENT && !c->c_eof && c->inlen < lim; i++) {
		if (c->inlen == c->incap) {
			ncap = c->incap ? c->incap * 2 : 4096;
			if (ncap > lim)
				ncap = lim;
			if ((nb = realloc(c->in, ncap)) == NULL)
				return -1;
			c->in = nb;
			c->incap = ncap;
		}
		n = recv(c->cfd, c->in + c->inlen, c->incap - c->inlen, 0);
		if (n > 0) {
			c->inlen += (size_t)n;
			c->bytes_up += (unsigned long long)n;
			c->t_last = loop_now_ms();
			continue;
		}
		if (n == 0) {
			c->c_eof = 1;
			break;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* --- dialling ---------------------------------------------------------------- */

static void
px_addrs_ready(struct px_conn *c, struct resolve_req *req)
{
	const struct config *cfg = c->pol->cfg;
	struct scan_result res;
	const struct scan_finding *f;
	int i, r;

	free(c->addrs);
	c->addrs = req;
	c->addr_i = 0;
	if (req->failed || req->naddrs == 0) {
		px_upstream_failed(c, "name does not resolve");
		return;
	}
	/* SSRF: every address; one internal answer is enough to refuse */
	for (i = 0; i < req->naddrs; i++) {
		px_set_port(&req->addrs[i], c->port);
		r = scanner_check_addr(c->pol->scanner, c->host,
		    (const struct sockaddr *)&req->addrs[i], &res);
		if (r == 0 || (r > 0 && !cfg->enforce))
			continue;
		f = res.nfindings > 0 ? &res.findings[0] : NULL;
		c->ia_set = 1;
		c->ia.scanner = f != NULL ? f->scanner : "ssrf";
		snprintf(c->ia.reason, sizeof(c->ia.reason), "%s",
		    f != NULL ? f->reason : "address check failed");
		conn_sockaddr_format(&req->addrs[i], c->dst_s, sizeof(c->dst_s));
		px_block(c, 403, c->ia.scanner, c->ia.reason);
		return;
	}
	px_connect_next(c);
}

/* The host's addresses: a literal at once, else cache or resolver threads. */
static void
px_dial(struct px_conn *c)
{
	struct resolve_req *req;

	px_set_state(c, PX_RESOLVE);
	px_want(c, 0, 0);
	if (c->dead)
		return;
	if ((req = calloc(1, sizeof(*req))) == NULL) {
		px_close(c);
		return;
	}
	snprintf(req->name, sizeof(req->name), "%s", c->host);
	if (px_literal(c->host, c->port, &req->addrs[0])) {
		req->naddrs = 1;
		px_addrs_ready(c, req);
		return;
	}
	if (resolver_cached(c->px->resolver, req)) {
		px_addrs_ready(c, req);
		return;
	}
	req->owner = c;
	if (resolver_submit(c->px->resolver, req, &c->px->sink) == -1) {
		free(req);
		px_upstream_failed(c, "resolver busy");
		return;
	}
	c->rreq = req;
}

static void
px_resolved_cb(struct loop *l, int fd, int ready, void *ctx)
{
	struct tproxy_proxy *px = ctx;
	struct resolve_req *req, *next;
	struct px_conn *c;

	for (req = resolve_sink_take(&px->sink); req != NULL; req = next) {
		next = req->next;
		req->next = NULL;
		if ((c = req->owner) != NULL && !c->dead &&
		    c->state == PX_RESOLVE) {
			c->rreq = NULL;
			px_addrs_ready(c, req);		/* keeps req */
			continue;
		}
		free(req);
	}
}

/* Connect to the next address of the answer; 502 when none is left. */
static void
px_connect_next(struct px_conn *c)
{
	uint32_t mark = c->pol->cfg->fw.engine_mark;
	int fd, one = 1;

	px_drop_upstream(c);
	while (c->addr_i < c->addrs->naddrs) {
		c->dst = c->addrs->addrs[c->addr_i++];
		conn_sockaddr_format(&c->dst, c->dst_s, sizeof(c->dst_s));
		fd = socket(c->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, IPPROTO_TCP);
		if (fd == -1)
			continue;
		/* the ruleset accepts the engine's own traffic by this mark */
		if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == -1) {
			log_warn("SO_MARK");
			close(fd);
			px_close(c);
			return;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, (struct sockaddr *)&c->dst,
		    conn_sockaddr_len(&c->dst)) == -1 && errno != EINPROGRESS) {
			close(fd);
			continue;
		}
		if (loop_add(c->px->loop, fd, LOOP_WRITE, px_io, c) == -1) {
			close(fd);
			px_close(c);
			return;
		}
		c->ufd = fd;
		px_set_state(c, PX_CONNECTING);
		return;
	}
	px_upstream_failed(c, "upstream connect failed");
}

/* --- forward HTTP: the request rewritten for the upstream ------------------ */

/* Headers that are the proxy's, the hop's, or identify the agent. */
static int
px_header_dropped(const char *buf, const struct http_field *f,
    const struct http_request *req)
{
	static const char *const drop[] = {
		"connection", "keep-alive", "proxy-connection",
		"proxy-authorization", "proxy-authenticate", "te", "trailer",
		"upgrade", "x-pipelock-agent", "forwarded", "via", "x-real-ip",
		"expect",	/* answered here; the body goes in one piece */
	};
	const struct http_field *cf;
	unsigned from = 0;
	size_t i;

	for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (http_span_eq(buf, f->name, drop[i]))
			return 1;
	if (f->name.len >= 12 && strncasecmp(buf + f->name.off,
	    "x-forwarded-", 12) == 0)
		return 1;
	/* and what Connection names as hop-by-hop */
	while ((cf = http_field_find(req, buf, "connection", &from)) != NULL) {
		char name[64];

		if (f->name.len >= sizeof(name))
			continue;
		memcpy(name, buf + f->name.off, f->name.len);
		name[f->name.len] = '\0';
		if (http_list_has(buf, cf->value, name))
			return 1;
	}
	return 0;
}

/* Origin-form head + the judged body bytes into c->up. */
static int
px_forward_build(struct px_conn *c)
{
	const struct http_request *r = &c->req;
	const char *buf = c->in;
	unsigned i;
	int bad = 0;

	bad |= px_buf_add(&c->up, buf + r->method.off, r->method.len);
	bad |= px_buf_str(&c->up, " ");
	bad |= px_buf_str(&c->up, c->path);
	bad |= px_buf_str(&c->up, r->version_minor == 0 ? " HTTP/1.0\r\n" :
	    " HTTP/1.1\r\n");
	for (i = 0; i < r->nfields; i++) {
		const struct http_field *f = &r->fields[i];

		if (px_header_dropped(buf, f, r))
			continue;
		bad |= px_buf_add(&c->up, buf + f->name.off, f->name.len);
		bad |= px_buf_str(&c->up, ": ");
		bad |= px_buf_add(&c->up, buf + f->value.off, f->value.len);
		bad |= px_buf_str(&c->up, "\r\n");
	}
	if (r->nhost == 0) {
		/* HTTP/1.0 without Host: the parser judged the target's */
		bad |= px_buf_str(&c->up, "Host: ");
		bad |= px_buf_add(&c->up, buf + r->target_host.off,
		    r->target_host.len);
		bad |= px_buf_str(&c->up, "\r\n");
	}
	bad |= px_buf_str(&c->up, "Connection: close\r\n\r\n");
	/* the body as framed (the inspector released exactly the request) */
	if (c->judged > r->head_len)
		bad |= px_buf_add(&c->up, buf + r->head_len,
		    c->judged - r->head_len);
	return bad ? -1 : 0;
}

/* /fetch: a plain GET for the upstream. */
static int
px_fetch_build(struct px_conn *c)
{
	const char *ua = c->pol->cfg->fetch_proxy.user_agent;
	char hp[RESOLVE_NAME_MAX + 16];
	int bad = 0;

	if (c->port == (c->https ? 443 : 80))
		snprintf(hp, sizeof(hp), strchr(c->host, ':') ? "[%s]" : "%s",
		    c->host);
	else
		snprintf(hp, sizeof(hp), strchr(c->host, ':') ? "[%s]:%u" :
		    "%s:%u", c->host, c->port);
	/* HTTP/1.0: no chunked response to undo */
	bad |= px_buf_str(&c->up, "GET ");
	bad |= px_buf_str(&c->up, c->path);
	bad |= px_buf_str(&c->up, " HTTP/1.0\r\nHost: ");
	bad |= px_buf_str(&c->up, hp);
	bad |= px_buf_str(&c->up, "\r\nUser-Agent: ");
	bad |= px_buf_str(&c->up, ua != NULL ? ua : "Pipelock Fetch/1.0");
	bad |= px_buf_str(&c->up, "\r\nAccept-Encoding: identity\r\n"
	    "Connection: close\r\n\r\n");
	return bad ? -1 : 0;
}

/* --- CONNECT: the tunnelled ClientHello ------------------------------------ */

static void
px_sni_metric(struct px_conn *c, const char *category)
{
	metric_add(metrics_get(M_SNI_TOTAL), METRIC_LV(category, c->agent), 1);
}

/* Refuse inside the tunnel: nothing to tell the client but a close. */
static void
px_tunnel_refuse(struct px_conn *c, const char *event, const char *scanner,
    const char *reason)
{
	c->ia.scanner = scanner;
	snprintf(c->ia.reason, sizeof(c->ia.reason), "%s", reason);
	px_count(c, 1, scanner);
	px_audit(c, event, "block", reason);
	px_close(c);
}

/* The tunnel is open (spliced or intercepted): metrics and audit. */
static void
px_tunnel_open(struct px_conn *c, const char *how)
{
	c->tunnel = 1;
	metric_gauge_add(metrics_get(M_ACTIVE_TUNNELS), NULL, 1);
	px_count(c, 0, NULL);
	px_audit(c, "tunnel_open", "allow", how);
}

/* --- CONNECT, intercepted (the state machine is tproxy_mitm's) ------------- */

/*
 * A request completed inside the tunnel: its own audit line and metrics.
 * c->ia stays the CONNECT's, which the tunnel's own lines describe.
 */
static void
px_mitm_audit(void *ctx, const struct inspect_audit *a)
{
	struct px_conn *c = ctx;
	struct inspect_audit connect_ia = c->ia;
	int deny = a->verdict == INSPECT_DENY, status = c->status;

	c->ia = *a;
	c->status = deny ? a->status : 0;
	px_count(c, deny, deny ? (a->scanner ? a->scanner : "http") : NULL);
	px_audit(c, "http", inspect_verdict_name(a->verdict), NULL);
	c->ia = connect_ia;
	c->status = status;
	explicit_bzero(&connect_ia, sizeof(connect_ia));
}

/*
 * Intercept the tunnel: the ClientHello bytes already read (hello, n) go
 * to the session, which terminates the client's TLS with a leaf for sni
 * and speaks verified TLS to the upstream already connected on c->ufd.
 */
static void
px_mitm_start(struct px_conn *c, const char *sni, const uint8_t *hello,
    size_t n)
{
	struct inspect_config ic;

	inspect_config_from_policy(&ic, c->pol);
	c->mitm = mitm_session_new(c->px->mitm, sni, &ic,
	    (const struct sockaddr *)&c->dst, conn_sockaddr_len(&c->dst), hello,
	    n, px_mitm_audit, c);
	if (c->mitm == NULL) {
		log_warnx("cannot start TLS interception for %s: refused", sni);
		px_close(c);
		return;
	}
	px_tunnel_open(c, "intercepted");
	px_set_state(c, PX_MITM);
	px_mitm_io(c, c->ufd, 0);
}

/* The session ended early (block, upstream failure): audit that once. */
static void
px_mitm_ended(struct px_conn *c)
{
	const char *why = mitm_session_reason(c->mitm);
	const char *scanner = c->ia.scanner;

	if (c->mitm_ended || *why == '\0')
		return;
	c->mitm_ended = 1;
	/* the inspector's refusals have their "http" line already */
	if (!mitm_session_blocked(c->mitm) || strncmp(why, "upstream", 8) != 0)
		return;
	c->ia.scanner = "tls";
	c->status = 502;
	px_audit(c, "upstream_error", "block", why);
	c->ia.scanner = scanner;
}

static void
px_mitm_io(struct px_conn *c, int fd, int ready)
{
	int cmask, umask, r;

	/*
	 * HUP on the client: it reset (we never shut its write side here).
	 * HUP on the upstream: after our FIN its FIN came; read it to EOF.
	 */
	if ((ready & LOOP_ERROR) && (fd == c->cfd || conn_sock_error(fd) != 0)) {
		px_close(c);
		return;
	}
	c->t_last = loop_now_ms();
	r = mitm_session_io(c->mitm, c->cfd, c->ufd, &cmask, &umask);
	mitm_session_bytes(c->mitm, &c->bytes_up, &c->bytes_down);
	if (mitm_session_finished(c->mitm))
		px_mitm_ended(c);
	if (r == -1) {
		px_close(c);
		return;
	}
	if (r == 1) {
		px_drop_upstream(c);
		px_linger_start(c);
		return;
	}
	/* only our last bytes to the client are left */
	if (mitm_session_finished(c->mitm))
		px_drop_upstream(c);
	px_want(c, cmask, umask);
}

/* HELLO: judge the first tunnelled bytes, then relay (or intercept). */
static void
px_hello(struct px_conn *c)
{
	const struct config *cfg = c->pol->cfg;
	const uint8_t *b = (const uint8_t *)c->in + c->judged;
	size_t n = c->inlen - c->judged, i;
	struct tls_hello hello;
	struct scan_result res;
	const struct scan_finding *f;
	char reason[SCAN_REASON_MAX + 64];
	const char *category = "not_tls";
	int r, ok, intercept = 0;

	if (n == 0 && !c->c_eof)
		return;
	r = n == 0 ? 0 : tls_hello_probe(b, n);
	if (r == -1 && !c->c_eof)
		return;
	if (r == 1) {
		r = tls_hello_parse(b, n, &hello);
		if (r == 0 && !c->c_eof && n < TLS_HELLO_WIRE_MAX)
			return;
		if (r <= 0) {
			px_sni_metric(c, "malformed_tls");
			snprintf(reason, sizeof(reason), "malformed ClientHello: "
			    "%s", r == 0 ? "truncated" : hello.err);
			px_tunnel_refuse(c, "connect", "tls", reason);
			return;
		}
		category = hello.has_sni ? "match" : "no_extension";
		if (hello.has_sni && cfg->forward_proxy.sni_verification &&
		    strcmp(hello.sni, c->host) != 0) {
			px_sni_metric(c, "mismatch");
			snprintf(reason, sizeof(reason), "TLS server name %.100s "
			    "does not match the CONNECT host %.100s", hello.sni,
			    c->host);
			px_tunnel_refuse(c, "sni_mismatch", "sni_mismatch", reason);
			return;
		}
		if (hello.has_sni) {
			/* the SNI policy of the transparent path */
			r = scanner_check_domain(c->pol->scanner, hello.sni,
			    SCAN_WHERE_SNI, &res);
			if (r < 0 || (r > 0 && cfg->enforce)) {
				f = res.nfindings > 0 ? &res.findings[0] : NULL;
				px_sni_metric(c, category);
				px_tunnel_refuse(c, "connect", f ? f->scanner :
				    "error", f ? f->reason : "scanner error");
				return;
			}
			if (cfg->scanner.strict && cfg->enforce) {
				for (i = 0, ok = 0; !ok &&
				    i < cfg->scanner.api_allowlist.n; i++)
					ok = scanner_domain_match(hello.sni,
					    cfg->scanner.api_allowlist.v[i]);
				if (!ok) {
					px_sni_metric(c, category);
					px_tunnel_refuse(c, "connect", "allowlist",
					    "TLS server name not in api_allowlist "
					    "(strict mode)");
					return;
				}
			}
			intercept = mitm_wanted(c->px->mitm, cfg, hello.sni);
		}
	}
	px_sni_metric(c, category);
	if (intercept) {
		px_mitm_start(c, hello.sni, b, n);
		return;
	}
	/* the first bytes go first, then both ways */
	px_buf_free(&c->up);
	if (n > 0 && px_buf_add(&c->up, (const char *)b, n) == -1) {
		px_close(c);
		return;
	}
	px_tunnel_open(c, category);
	px_set_state(c, PX_RELAY);
	px_relay(c);
}

/* --- /fetch of https:// : a verifying TLS client ------------------------------ */

/* The client context, made on first use: system trust store, TLS >= 1.2. */
static SSL_CTX *
px_tls_ctx(struct tproxy_proxy *px)
{
	if (px->fetch_tls != NULL)
		return px->fetch_tls;
	if ((px->fetch_tls = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	/* honours SSL_CERT_FILE / SSL_CERT_DIR like every OpenSSL client */
	if (SSL_CTX_set_default_verify_paths(px->fetch_tls) != 1 ||
	    SSL_CTX_set_min_proto_version(px->fetch_tls, TLS1_2_VERSION) != 1) {
		SSL_CTX_free(px->fetch_tls);
		px->fetch_tls = NULL;
		return NULL;
	}
	SSL_CTX_set_verify(px->fetch_tls, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(px->fetch_tls, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return px->fetch_tls;
}

/* Drive the handshake; on success the request goes (RELAY). */
static void
px_tls_step(struct px_conn *c)
{
	char why[200];
	long vr;
	int r, e;

	ERR_clear_error();
	r = SSL_connect(c->ssl);
	if (r == 1) {
		px_buf_free(&c->down);
		px_set_state(c, PX_RELAY);
		px_relay(c);
		return;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		px_want(c, 0, e == SSL_ERROR_WANT_READ ? LOOP_READ : LOOP_WRITE);
		return;
	}
	vr = SSL_get_verify_result(c->ssl);
	if (vr != X509_V_OK)
		snprintf(why, sizeof(why), "TLS certificate: %s",
		    X509_verify_cert_error_string(vr));
	else
		snprintf(why, sizeof(why), "TLS handshake failed");
	ERR_clear_error();
	px_upstream_failed(c, why);
}

static void
px_tls_start(struct px_conn *c)
{
	SSL_CTX *ctx = px_tls_ctx(c->px);
	struct sockaddr_storage lit;
	X509_VERIFY_PARAM *vp;
	int ok;

	if (ctx == NULL || (c->ssl = SSL_new(ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->ufd) != 1) {
		px_upstream_failed(c, "TLS setup failed");
		return;
	}
	vp = SSL_get0_param(c->ssl);
	if (px_literal(c->host, c->port, &lit)) {
		ok = X509_VERIFY_PARAM_set1_ip_asc(vp, c->host) == 1;
	} else {
		ok = SSL_set_tlsext_host_name(c->ssl, c->host) == 1 &&
		    X509_VERIFY_PARAM_set1_host(vp, c->host, 0) == 1;
	}
	if (!ok) {
		px_upstream_failed(c, "TLS setup failed");
		return;
	}
	px_set_state(c, PX_TLS);
	px_tls_step(c);
}

/* --- the connected upstream -------------------------------------------------- */

static void
px_connected(struct px_conn *c)
{
	static const char established[] =
	    "HTTP/1.1 200 Connection Established\r\n\r\n";
	int err = conn_sock_error(c->ufd);

	if (err == EINPROGRESS || err == EALREADY)
		return;
	if (err != 0) {
		px_connect_next(c);
		return;
	}
	c->t_last = loop_now_ms();
	switch (c->kind) {
	case PX_KIND_CONNECT:
		/* a fresh socket takes 39 bytes at once */
		if (send(c->cfd, established, sizeof(established) - 1,
		    MSG_NOSIGNAL | MSG_DONTWAIT) != sizeof(established) - 1) {
			px_close(c);
			return;
		}
		px_set_state(c, PX_HELLO);
		px_want(c, LOOP_READ, 0);
		if (!c->dead)
			px_hello(c);
		return;
	case PX_KIND_FORWARD:
		if (px_forward_build(c) == -1) {
			px_close(c);
			return;
		}
		px_count(c, 0, NULL);
		px_audit(c, "forward_http", c->ia.verdict == INSPECT_WARN ?
		    "warn" : "allow", NULL);
		break;
	case PX_KIND_FETCH:
		if (px_fetch_build(c) == -1) {
			px_close(c);
			return;
		}
		if (c->https) {
			px_tls_start(c);
			return;
		}
		break;
	default:
		px_close(c);
		return;
	}
	px_buf_free(&c->down);
	px_set_state(c, PX_RELAY);
	px_relay(c);
}

/* --- /fetch: the collected response as JSON ---------------------------------- */

/* A header's value in a response head (NUL-terminated), or NULL. */
static const char *
px_resp_header(const char *head, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *p = strstr(head, "\r\n"), *e;

	while (p != NULL && p[2] != '\r' && p[2] != '\0') {
		p += 2;
		e = strstr(p, "\r\n");
		if (e == NULL)
			return NULL;
		if ((size_t)(e - p) > nl && strncasecmp(p, name, nl) == 0 &&
		    p[nl] == ':') {
			p += nl + 1;
			while (p < e && (*p == ' ' || *p == '\t'))
				p++;
			*vlen = (size_t)(e - p);
			while (*vlen > 0 && (p[*vlen - 1] == ' ' ||
			    p[*vlen - 1] == '\t'))
				(*vlen)--;
			return p;
		}
		p = e;
	}
	return NULL;
}

static void
px_fetch_done(struct px_conn *c)
{
	struct px_buf b = { 0 };
	const char *d = c->down.b, *end, *ct, *ce;
	size_t hl, ctlen = 0, celen = 0;
	char num[32];
	int status = 0, bad = 0;

	px_drop_upstream(c);
	if (d == NULL || c->down.len < 12 || (end = memmem(d, c->down.len,
	    "\r\n\r\n", 4)) == NULL || strncmp(d, "HTTP/1.", 7) != 0 ||
	    sscanf(d + 8, " %3d", &status) != 1 || status < 100) {
		px_upstream_failed(c, "malformed upstream response");
		return;
	}
	hl = (size_t)(end - d) + 4;
	c->down.b[hl - 2] = '\0';	/* the head as a C string for lookups */
	ct = px_resp_header(d, "content-type", &ctlen);
	ce = px_resp_header(d, "content-encoding", &celen);
	if (ce != NULL && !(celen == 8 && strncasecmp(ce, "identity", 8) == 0)) {
		px_block(c, 403, "response_scan",
		    "compressed response cannot be scanned");
		return;
	}
	px_count(c, 0, NULL);
	px_audit(c, "fetch", "allow", NULL);
	bad |= px_buf_str(&b, "{\"url\":");
	bad |= px_json_str(&b, c->ia.url, strlen(c->ia.url));
	bad |= px_buf_str(&b, ",\"agent\":");
	bad |= px_json_str(&b, c->agent, strlen(c->agent));
	snprintf(num, sizeof(num), ",\"status_code\":%d", status);
	bad |= px_buf_str(&b, num);
	bad |= px_buf_str(&b, ",\"content_type\":");
	bad |= px_json_str(&b, ct != NULL ? ct : "", ct != NULL ? ctlen : 0);
	bad |= px_buf_str(&b, ",\"title\":\"\",\"content\":");
	bad |= px_json_str(&b, d + hl, c->down.len - hl);
	bad |= px_buf_str(&b, ",\"blocked\":false}");
	if (bad)
		px_close(c);
	else
		px_answer_json(c, 200, &b);
	px_buf_free(&b);
}

/* --- relay ------------------------------------------------------------------ */

/* Send what is queued in b to fd.  -1 on a socket error. */
static int
px_flush(struct px_conn *c, struct px_buf *b, int fd)
{
	ssize_t n;

	while (b->off < b->len) {
		if (c->ssl != NULL && fd == c->ufd) {
			ERR_clear_error();
			n = SSL_write(c->ssl, b->b + b->off,
			    (int)(b->len - b->off > INT32_MAX ? INT32_MAX :
			    b->len - b->off));
			if (n <= 0) {
				int e = SSL_get_error(c->ssl, (int)n);

				ERR_clear_error();
				return e == SSL_ERROR_WANT_READ ||
				    e == SSL_ERROR_WANT_WRITE ? 0 : -1;
			}
		} else {
			n = send(fd, b->b + b->off, b->len - b->off,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		if (n > 0) {
			b->off += (size_t)n;
			c->t_last = loop_now_ms();
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return -1;
	}
	b->off = b->len = 0;
	return 0;
}

/*
 * Read from fd into b (only when b is empty, or for /fetch appending up to
 * lim).  1 EOF, 0 ok, -1 error.
 */
static int
px_fill(struct px_conn *c, struct px_buf *b, int fd, size_t lim,
    unsigned long long *count)
{
	char *nb;
	ssize_t n;
	size_t want;

	if (b->cap < PROXY_RELAY_BUF) {
		if ((nb = realloc(b->b, PROXY_RELAY_BUF)) == NULL)
			return -1;
		b->b = nb;
		b->cap = PROXY_RELAY_BUF;
	}
	if (b->len == b->cap && b->len < lim) {
		want = b->cap * 2 < lim ? b->cap * 2 : lim;
		if ((nb = realloc(b->b, want)) == NULL)
			return -1;
		b->b = nb;
		b->cap = want;
	}
	if (b->len >= b->cap)
		return 0;
	if (c->ssl != NULL && fd == c->ufd) {
		ERR_clear_error();
		n = SSL_read(c->ssl, b->b + b->len, (int)(b->cap - b->len >
		    INT32_MAX ? INT32_MAX : b->cap - b->len));
		if (n <= 0) {
			int e = SSL_get_error(c->ssl, (int)n);

			ERR_clear_error();
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return 0;
			/*
			 * close_notify, or a plain FIN (servers often skip
			 * close_notify; the response is HTTP/1.0, delimited
			 * by the close): the end
			 */
			if (e == SSL_ERROR_ZERO_RETURN ||
			    (e == SSL_ERROR_SYSCALL && n == 0) ||
			    (e == SSL_ERROR_SSL && n == 0))
				return 1;
			return -1;
		}
	} else {
		n = recv(fd, b->b + b->len, b->cap - b->len, 0);
	}
	if (n > 0) {
		b->len += (size_t)n;
		*count += (unsigned long long)n;
		c->t_last = loop_now_ms();
		return 0;
	}
	if (n == 0)
		return 1;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	return -1;
}

static void
px_relay(struct px_conn *c)
{
	size_t lim;
	int r, cmask = 0, umask = 0, i;

	for (i = 0; i < PX_READS_PER_EVENT && !c->dead; i++) {
		size_t before_up = c->up.len, before_down = c->down.len;
		unsigned long long bu = c->bytes_up, bd = c->bytes_down;

		/* client -> upstream (a tunnel; forward/fetch: the request) */
		if (px_flush(c, &c->up, c->ufd) == -1) {
			px_close(c);
			return;
		}
		if (c->tunnel && c->up.len == 0 && !c->c_eof) {
			r = px_fill(c, &c->up, c->cfd, PROXY_RELAY_BUF,
			    &c->bytes_up);
			if (r == -1) {
				px_close(c);
				return;
			}
			c->c_eof = r == 1;
			if (px_flush(c, &c->up, c->ufd) == -1) {
				px_close(c);
				return;
			}
		}
		if (c->tunnel && c->c_eof && c->up.len == 0 && !c->up_shut) {
			(void)shutdown(c->ufd, SHUT_WR);
			c->up_shut = 1;
		}
		/* upstream -> client */
		if (c->kind == PX_KIND_FETCH) {
			lim = (size_t)c->pol->cfg->fetch_proxy.max_response_mb *
			    1048576u + PX_FETCH_HEAD_MAX;
			if (c->up.len == 0 && !c->u_eof) {
				r = px_fill(c, &c->down, c->ufd, lim,
				    &c->bytes_down);
				if (r == -1) {
					px_upstream_failed(c, "upstream read "
					    "failed");
					return;
				}
				c->u_eof = r == 1;
			}
			/* bounded by max_response_mb: the rest is cut */
			if (c->u_eof || c->down.len >= lim) {
				px_fetch_done(c);
				return;
			}
		} else {
			if (px_flush(c, &c->down, c->cfd) == -1) {
				px_close(c);
				return;
			}
			if (c->down.len == 0 && !c->u_eof) {
				r = px_fill(c, &c->down, c->ufd, PROXY_RELAY_BUF,
				    &c->bytes_down);
				if (r == -1) {
					px_close(c);
					return;
				}
				c->u_eof = r == 1;
				if (px_flush(c, &c->down, c->cfd) == -1) {
					px_close(c);
					return;
				}
			}
			if (c->u_eof && c->down.len == 0 && !c->down_shut) {
				(void)shutdown(c->cfd, SHUT_WR);
				c->down_shut = 1;
			}
			if (c->down_shut && !c->tunnel) {
				/* the response is out: linger for the FIN */
				px_drop_upstream(c);
				px_set_state(c, PX_LINGER);
				px_want(c, LOOP_READ, 0);
				return;
			}
			if (c->down_shut && c->up_shut) {
				px_close(c);
				return;
			}
		}
		if (c->up.len == before_up && c->down.len == before_down &&
		    bu == c->bytes_up && bd == c->bytes_down)
			break;
	}
	if (c->dead)
		return;
	if (c->tunnel && c->up.len == 0 && !c->c_eof)
		cmask |= LOOP_READ;
	if (c->kind != PX_KIND_FETCH && c->down.len > 0)
		cmask |= LOOP_WRITE;
	if (!c->u_eof && (c->kind == PX_KIND_FETCH ? c->up.len == 0 :
	    c->down.len == 0))
		umask |= LOOP_READ;
	if (c->up.len > 0)
		umask |= LOOP_WRITE;
	px_want(c, cmask, umask);
}

/* --- routing ------------------------------------------------------------------ */

/* X-Pipelock-Agent, else "anonymous" (pipelock's agent identity). */
static void
px_agent_name(struct px_conn *c)
{
	const struct http_field *f;
	size_t i, n = 0;

	f = http_field_find(&c->req, c->in, "x-pipelock-agent", NULL);
	if (f != NULL)
		for (i = 0; i < f->value.len && n < PX_AGENT_MAX; i++) {
			char ch = c->in[f->value.off + i];

			if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
			    ch == '.')
				c->agent[n++] = ch;
		}
	c->agent[n] = '\0';
	if (n == 0)
		snprintf(c->agent, sizeof(c->agent), "anonymous");
}

static int
px_host_matches(void *ctx, const char *host)
{
	/* only addresses the name resolves to are ever dialled */
	return 1;
}

/*
 * Hand the request to an inspector: tunnel_allow names the CONNECT host
 * itself, so the inspector's CONNECT refusal does not apply here while
 * every other check (URL on https://host/, header DLP) does.
 */
static void
px_judge(struct px_conn *c)
{
	struct inspect_action act;
	struct inspect_config ic;
	struct sockaddr_storage lit;
	int r, lit_ok;

	if (c->insp == NULL) {
		inspect_config_from_policy(&ic, c->pol);
		ic.host_matches = px_host_matches;
		ic.host_ctx = c;
		c->tallow[0] = c->host;
		c->tlist.v = c->tallow;
		c->tlist.n = 1;
		ic.tunnel_allow = c->kind == PX_KIND_CONNECT ? &c->tlist : NULL;
		lit_ok = px_literal(c->host, c->port, &lit);
		c->insp = inspect_new(&ic, lit_ok ? (struct sockaddr *)&lit :
		    NULL, lit_ok ? conn_sockaddr_len(&lit) : 0, NULL);
		if (c->insp == NULL) {
			px_close(c);
			return;
		}
		c->hold = inspect_hold_limit(c->insp);
		px_set_state(c, PX_JUDGE);
	}
	for (;;) {
		r = inspect_feed(c->insp, c->in + c->judged, c->inlen - c->judged,
		    &act);
		if (r == -1) {
			log_warnx("out of memory inspecting a proxy request");
			px_close(c);
			return;
		}
		if (act.audit != NULL) {
			c->ia = *act.audit;
			c->ia_set = 1;
		}
		switch (act.kind) {
		case INSPECT_NEED_MORE:
			if (c->c_eof) {
				px_close(c);
				return;
			}
			if (c->inlen >= c->hold) {
				/* only with body scanning off: nothing streams here */
				px_block(c, 413, "body_dlp", "request too large to "
				    "hold (request_body_scanning is off)");
				return;
			}
			px_want(c, LOOP_READ, 0);
			return;
		case INSPECT_CONTINUE:
			if (send(c->cfd, act.resp, act.resp_len, MSG_NOSIGNAL |
			    MSG_DONTWAIT) != (ssize_t)act.resp_len) {
				px_close(c);
				return;
			}
			continue;
		case INSPECT_FORWARD:
		case INSPECT_TUNNEL:
			c->judged += act.len;
			if (act.audit == NULL)
				continue;	/* head released, body follows */
			px_dial(c);
			return;
		case INSPECT_BLOCK:
			px_block(c, act.status, c->ia.scanner ? c->ia.scanner :
			    "http", c->ia.reason[0] ? c->ia.reason :
			    "request refused");
			return;
		case INSPECT_WAIT:
			px_close(c);	/* host_matches never defers */
			return;
		}
	}
}

static int
px_hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * Percent-decode s[0..n) into out (NUL-terminated), control characters
 * stripped as pipelock does before parsing; -1 if it does not fit.
 */
static int
px_unescape(const char *s, size_t n, char *out, size_t olen)
{
	size_t i, o = 0;
	char ch;

	for (i = 0; i < n; i++) {
		ch = s[i];
		if (ch == '%' && i + 2 < n &&
		    px_hexval(s[i + 1]) >= 0 && px_hexval(s[i + 2]) >= 0) {
			ch = (char)(px_hexval(s[i + 1]) * 16 + px_hexval(s[i + 2]));
			i += 2;
		} else if (ch == '+') {
			ch = ' ';
		}
		if ((unsigned char)ch < 0x20 || ch == 0x7f)
			continue;
		if (o + 1 >= olen)
			return -1;
		out[o++] = ch;
	}
	out[o] = '\0';
	return 0;
}

/* GET /fetch?url=U: parse, check, then dial like a forward request. */
static void
px_fetch(struct px_conn *c)
{
	const struct http_request *r = &c->req;
	const char *t = c->in + r->target.off, *q, *v, *e, *h, *p;
	char url[INSPECT_URL_MAX];
	struct scan_result res;
	const struct scan_finding *f = NULL;
	size_t tl = r->target.len, i;
	int ret;

	c->kind = PX_KIND_FETCH;
	if (r->method_code != HTTP_METHOD_GET) {
		px_fetch_error(c, 405, NULL, "only GET allowed");
		return;
	}
	q = memchr(t, '?', tl);
	v = NULL;
	for (p = q; p != NULL && p < t + tl; ) {
		p++;
		if ((size_t)(t + tl - p) >= 4 && strncmp(p, "url=", 4) == 0) {
			v = p + 4;
			break;
		}
		p = memchr(p, '&', (size_t)(t + tl - p));
	}
	if (v == NULL || v == t + tl) {
		px_fetch_error(c, 400, NULL, "missing url parameter");
		return;
	}
	/* the url= remainder, up to an "&agent=" (unencoded & tolerated) */
	e = t + tl;
	for (p = v; p + 7 <= t + tl; p++)
		if (strncmp(p, "&agent=", 7) == 0) {
			e = p;
			break;
		}
	if (px_unescape(v, (size_t)(e - v), url, sizeof(url)) == -1) {
		px_fetch_error(c, 400, NULL, "invalid URL: too long");
		return;
	}
	if (strncasecmp(url, "https://", 8) == 0) {
		c->https = 1;
	} else if (strncasecmp(url, "http://", 7) != 0) {
		px_fetch_error(c, 400, url, "invalid URL: must be http or https");
		return;
	}
	h = url + (c->https ? 8 : 7);
	for (i = 0; h[i] != '\0' && h[i] != '/' && h[i] != '?' && h[i] != '#';
	    i++)
		;
	if (memchr(h, '@', i) != NULL || px_split_authority(h, i, c->https ?
	    443 : 80, c->host, sizeof(c->host), &c->port) == -1) {
		px_fetch_error(c, 400, url, "invalid URL: bad host");
		return;
	}
	p = h + i;
	if ((c->path = malloc(strlen(p) + 2)) == NULL) {
		px_close(c);
		return;
	}
	snprintf(c->path, strlen(p) + 2, "%s%s", *p == '/' ? "" : "/", p);
	if ((e = strchr(c->path, '#')) != NULL)
		c->path[e - c->path] = '\0';
	/* the URL layers, as for any other request */
	c->ia_set = 1;
	snprintf(c->ia.method, sizeof(c->ia.method), "GET");
	snprintf(c->ia.url, sizeof(c->ia.url), "%s", url);
	ret = scanner_check_url(c->pol->scanner, url, strlen(url), &res);
	explicit_bzero(url, sizeof(url));
	if (ret != 0) {
		for (i = 0; i < res.nfindings && f == NULL; i++)
			if (!res.findings[i].warn_only)
				f = &res.findings[i];
		if (f == NULL && res.nfindings > 0)
			f = &res.findings[0];
		c->ia.scanner = f != NULL ? f->scanner : "error";
		snprintf(c->ia.reason, sizeof(c->ia.reason), "%s",
		    f != NULL ? f->reason : "scanner error");
		if (f != NULL) {
			snprintf(c->ia.pattern, sizeof(c->ia.pattern), "%s",
			    f->pattern ? f->pattern : "");
			snprintf(c->ia.redacted, sizeof(c->ia.redacted), "%s",
			    f->redacted);
			/* content scanners: the URL itself carries the secret */
			if (f->pattern != NULL || (f->scanner != NULL &&
			    strcmp(f->scanner, "dlp") == 0))
				snprintf(c->ia.url, sizeof(c->ia.url),
				    "%s://%s/[redacted]", c->https ? "https" :
				    "http", c->host);
		}
		if (ret < 0 || (res.blocked && c->pol->cfg->enforce)) {
			px_block(c, f != NULL && f->scanner != NULL &&
			    strcmp(f->scanner, "ratelimit") == 0 ? 429 : 403,
			    c->ia.scanner, c->ia.reason);
			return;
		}
		c->ia.verdict = INSPECT_WARN;
	}
	px_dial(c);
}

/* The de-chunked body of an admin request (small), or -1 / 0 need more. */
static int
px_admin_body(struct px_conn *c, char *out, size_t olen, size_t *blen)
{
	struct http_body b;
	struct http_span d;
	size_t pos = c->req.head_len;
	int r;

	*blen = 0;
	http_body_init(&b, &c->req);
	while (!b.done) {
		r = http_body_parse(&b, c->in + pos, c->inlen - pos, &d);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		if (d.len > 0) {
			if (*blen + d.len > olen)
				return -1;
			memcpy(out + *blen, c->in + pos + d.off, d.len);
			*blen += d.len;
		}
		pos += (size_t)r;
	}
	return b.done ? 1 : 0;
}

static void
px_admin(struct px_conn *c)
{
	char body[ADMIN_MAX_BODY];
	size_t blen = 0, len = 0;
	int status = 0, r;
	char *out;

	r = px_admin_body(c, body, sizeof(body), &blen);
	if (r == 0 && !c->c_eof) {
		px_want(c, LOOP_READ, 0);
		return;
	}
	if (r <= 0) {
		px_answer_text(c, r == 0 ? 400 : 413, "", r == 0 ?
		    "incomplete request body" : "request body too large");
		return;
	}
	out = tproxy_admin_respond(c->px->admin, c->in, &c->req, body, blen,
	    c->cfd, &len, &status);
	explicit_bzero(body, sizeof(body));
	px_answer_raw(c, out, len, status);
}

/* The head is in: route it (pipelock's buildHandler order). */
static void
px_route(struct px_conn *c)
{
	const struct config *cfg = c->pol->cfg;
	const struct http_request *r = &c->req;
	struct tproxy_proxy *px = c->px;
	char msg[KS_JSON_MAX];
	const char *t;
	size_t n;
	int admin;

	px_agent_name(c);
	admin = px->admin != NULL && tproxy_admin_route(px->admin, c->in, r);
	if (px->ks != NULL && killswitch_active(px->ks) && !admin) {
		n = killswitch_denial_json(px->ks, msg, sizeof(msg));
		metric_add(metrics_get(M_KILL_SWITCH_DENIALS),
		    METRIC_LV("proxy", r->form == HTTP_TARGET_ORIGIN ?
		    "proxy_path" : "forward"), 1);
		c->ia_set = 1;
		c->ia.scanner = "kill_switch";
		px_audit(c, "kill_switch_deny", "block", "kill_switch");
		px_answer(c, 503, "application/json", msg, n);
		return;
	}
	if (r->method_code == HTTP_METHOD_CONNECT) {
		if (!cfg->forward_proxy.enabled) {
			px_answer_text(c, 405, "", "CONNECT not supported");
			return;
		}
		c->kind = PX_KIND_CONNECT;
		if (px_split_authority(c->in + r->target.off, r->target.len, 443,
		    c->host, sizeof(c->host), &c->port) == -1) {
			px_answer_text(c, 400, "", "bad CONNECT target");
			return;
		}
		px_judge(c);
		return;
	}
	if (r->form == HTTP_TARGET_ABSOLUTE) {
		if (!cfg->forward_proxy.enabled) {
			px_answer_text(c, 405, "", "forward proxy not enabled");
			return;
		}
		c->kind = PX_KIND_FORWARD;
		t = c->in + r->target.off;
		if (r->target.len < 7 || strncasecmp(t, "http://", 7) != 0) {
			px_answer_text(c, 400, "", "only http:// URLs can be "
			    "forwarded; use CONNECT for https");
			return;
		}
		if (px_split_authority(c->in + r->target_host.off,
		    r->target_host.len, 80, c->host, sizeof(c->host),
		    &c->port) == -1) {
			px_answer_text(c, 400, "", "bad request target");
			return;
		}
		n = r->target_path.len;
		if ((c->path = malloc(n + 2)) == NULL) {
			px_close(c);
			return;
		}
		snprintf(c->path, n + 2, "%s%.*s", n == 0 ||
		    c->in[r->target_path.off] != '/' ? "/" : "", (int)n,
		    c->in + r->target_path.off);
		px_judge(c);
		return;
	}
	if (admin) {
		px_admin(c);
		return;
	}
	t = c->in + r->target.off;
	n = r->target.len;
	if (r->form == HTTP_TARGET_ORIGIN && n >= 6 &&
	    strncmp(t, "/fetch", 6) == 0 && (n == 6 || t[6] == '?')) {
		px_fetch(c);
		return;
	}
	px_answer_text(c, 404, "", "404 page not found");
}

/* HEAD/JUDGE: more client bytes. */
static void
px_head(struct px_conn *c)
{
	int r;

	if (px_read_client(c, c->state == PX_JUDGE ? c->hold :
	    HTTP_MAX_HEADERS_BYTES) == -1) {
		px_close(c);
		return;
	}
	if (c->state == PX_JUDGE) {
		px_judge(c);
		return;
	}
	if (c->kind == PX_KIND_NONE && c->req.head_len > 0) {
		px_admin(c);		/* an admin request's body */
		return;
	}
	r = http_request_parse(&c->req, c->in, c->inlen);
	if (r < 0) {
		px_answer_text(c, c->req.status, "", c->req.reason);
		return;
	}
	if (r == 0) {
		if (c->c_eof)
			px_close(c);
		else
			px_want(c, LOOP_READ, 0);
		return;
	}
	px_route(c);
}

/* LINGER: discard until the client's FIN. */
static void
px_linger(struct px_conn *c)
{
	if (conn_drain_fin(c->cfd))
		px_close(c);
}

static void
px_io(struct loop *l, int fd, int ready, void *ctx)
{
	struct px_conn *c = ctx;

	if (c->dead)
		return;
	switch (c->state) {
	case PX_HEAD:
	case PX_JUDGE:
		if (ready & LOOP_ERROR)
			px_close(c);
		else
			px_head(c);
		break;
	case PX_RESOLVE:
		if (ready & LOOP_ERROR)
			px_close(c);
		break;
	case PX_CONNECTING:
		if (fd == c->ufd)
			px_connected(c);
		else if (ready & LOOP_ERROR)
			px_close(c);
		break;
	case PX_HELLO:
		if (px_read_client(c, c->judged + TLS_HELLO_WIRE_MAX) == -1 ||
		    (ready & LOOP_ERROR && fd == c->ufd)) {
			px_close(c);
			return;
		}
		px_hello(c);
		break;
	case PX_TLS:
		if (fd == c->ufd)
			px_tls_step(c);
		else if (ready & LOOP_ERROR)
			px_close(c);
		break;
	case PX_RELAY:
		px_relay(c);
		break;
	case PX_MITM:
		px_mitm_io(c, fd, ready);
		break;
	case PX_ANSWER:
		px_answer_write(c);
		break;
	case PX_LINGER:
		px_linger(c);
		break;
	}
}

/* --- accept ------------------------------------------------------------------ */

static void
px_accept_one(struct tproxy_proxy *px, int fd,
    const struct sockaddr_storage *peer)
{
	struct sockdiag_owner own;
	struct px_conn *c;
	socklen_t sl = sizeof(struct sockaddr_storage);
	int one = 1;

	if (px->nconns >= PROXY_MAX_CONNS ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->px = px;
	c->cfd = fd;
	c->ufd = -1;
	c->uid = AUDIT_UNSET;
	c->src = *peer;
	c->t_start = c->t_last = loop_now_ms();
	px_set_state(c, PX_HEAD);
	http_request_init(&c->req);
	c->pol = policy_current();
	LIST_INSERT_HEAD(&px->conns, c, entry);
	px->nconns++;
	metric_gauge_add(metrics_get(M_CONNECTIONS_OPEN), NULL, 1);
	if (loop_add(px->loop, fd, LOOP_READ, px_io, c) == -1 ||
	    c->pol == NULL) {
		px_close(c);
		return;
	}
	snprintf(c->agent, sizeof(c->agent), "anonymous");
	conn_sockaddr_format(&c->src, c->src_s, sizeof(c->src_s));
	if (getsockname(fd, (struct sockaddr *)&c->self, &sl) == 0 &&
	    sockdiag_owner_find((struct sockaddr *)&c->src,
	    (struct sockaddr *)&c->self, IPPROTO_TCP, &own) == 0)
		c->uid = own.uid;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
px_accept_cb(struct loop *l, int lfd, int ready, void *ctx)
{
	struct sockaddr_storage peer;
	int i, fd;

	/* out of fds, the listener pauses: tproxy_proxy_tick re-arms it */
	for (i = 0; i < PX_ACCEPT_BATCH; i++) {
		if ((fd = conn_accept_next(l, lfd, &peer, "proxy accept")) < 0)
			return;
		px_accept_one(ctx, fd, &peer);
	}
}

/* --- object ------------------------------------------------------------------ */

/* Agent uids may not use admin operations (kill switch API) here. */
static int
px_peer_is_agent(void *ctx, int fd)
{
	struct sockaddr_storage peer, self;
	socklen_t pl = sizeof(peer), sl = sizeof(self);
	struct sockdiag_owner own;
	struct policy *p;
	size_t i;
	int ret = -1;

	if (getpeername(fd, (struct sockaddr *)&peer, &pl) == -1 ||
	    getsockname(fd, (struct sockaddr *)&self, &sl) == -1 ||
	    sockdiag_owner_find((struct sockaddr *)&peer,
	    (struct sockaddr *)&self, IPPROTO_TCP, &own) != 0)
		return -1;	/* unknown: refused (fail closed) */
	if ((p = policy_current()) == NULL)
		return -1;
	ret = 0;
	for (i = 0; i < p->cfg->fw.n_agent_uids; i++)
		if (p->cfg->fw.agent_uids[i] == own.uid)
			ret = 1;
	/* agent groups: by the uid's primary group (as the firewall's gid match) */
	if (ret == 0 && p->cfg->fw.n_agent_gids > 0) {
		struct passwd pw, *pwp = NULL;
		char pwbuf[4096];

		if (getpwuid_r(own.uid, &pw, pwbuf, sizeof(pwbuf), &pwp) != 0)
			ret = -1;
		for (i = 0; pwp != NULL && i < p->cfg->fw.n_agent_gids; i++)
			if (p->cfg->fw.agent_gids[i] == pwp->pw_gid)
				ret = 1;
	}
	policy_unref(p);
	return ret;
}

/* /health follows the current policy (mode, features) after reloads. */
static void
px_admin_refresh(struct tproxy_proxy *px)
{
	struct policy *p;

	if (px->admin == NULL || (p = policy_current()) == NULL)
		return;
	if (p->generation != px->admin_gen) {
		tproxy_admin_reconfigure(px->admin, p->cfg,
		    (unsigned)scanner_pattern_count(p->scanner));
		px->admin_gen = p->generation;
	}
	policy_unref(p);
}

static int
px_listen(struct tproxy_proxy *px, const char *addr, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST }, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[RESOLVE_NAME_MAX + 1] = "", port[8];
	const char *colon = strrchr(addr, ':');
	int one = 1, rc, ret = -1;
	size_t hl;

	if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) >= sizeof(port)) {
		snprintf(err, errlen, "%s: expected host:port", addr);
		return -1;
	}
	hl = (size_t)(colon - addr);
	if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
		addr++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		snprintf(err, errlen, "%s: expected host:port", addr);
		return -1;
	}
	memcpy(host, addr, hl);
	host[hl] = '\0';
	snprintf(port, sizeof(port), "%s", colon + 1);
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if ((rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", addr, gai_strerror(rc));
		return -1;
	}
	px->lfd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (px->lfd == -1 ||
	    setsockopt(px->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(px->lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(px->lfd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(px->lfd, PX_BACKLOG) == -1 ||
	    getsockname(px->lfd, (struct sockaddr *)&ss, &sl) == -1) {
		snprintf(err, errlen, "%s: %s", addr, strerror(errno));
		goto cleanup;
	}
	px->port = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	if (loop_add(px->loop, px->lfd, LOOP_READ, px_accept_cb, px) == -1) {
		snprintf(err, errlen, "%s: loop: %s", addr, strerror(errno));
		goto cleanup;
	}
	ret = 0;
cleanup:
	freeaddrinfo(res);
	if (ret == -1 && px->lfd != -1) {
		close(px->lfd);
		px->lfd = -1;
	}
	return ret;
}

struct tproxy_proxy *
tproxy_proxy_new(struct loop *l, const struct tproxy_proxy_config *pc,
    char *err, size_t errlen)
{
	struct tproxy_admin_config ac;
	struct tproxy_proxy *px;

	if ((px = calloc(1, sizeof(*px))) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	px->loop = l;
	px->lfd = -1;
	px->sink.efd = -1;
	px->resolver = pc->resolver;
	px->ks = pc->ks;
	px->mitm = pc->mitm;
	if (resolve_sink_init(&px->sink) == -1) {
		px->sink.efd = -1;
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if (loop_add(l, px->sink.efd, LOOP_READ, px_resolved_cb, px) == -1) {
		snprintf(err, errlen, "loop: %s", strerror(errno));
		goto fail;
	}
	if (pc->admin_routes != 0) {
		memset(&ac, 0, sizeof(ac));
		ac.routes = pc->admin_routes;
		ac.ks = pc->ks;
		ac.firewall_installed = pc->firewall_installed;
		ac.peer_is_agent = px_peer_is_agent;
		ac.ctx = pc->ctx;
		if ((px->admin = tproxy_admin_new(l, &ac, err, errlen)) == NULL)
			goto fail;
		/* px_peer_is_agent needs no context; firewall_installed does */
		px_admin_refresh(px);
	}
	if (px_listen(px, pc->listen, err, errlen) == -1)
		goto fail;
	return px;
fail:
	tproxy_proxy_free(px);
	return NULL;
}

void
tproxy_proxy_free(struct tproxy_proxy *px)
{
	if (px == NULL)
		return;
	while (!LIST_EMPTY(&px->conns))
		px_close(LIST_FIRST(&px->conns));
	tproxy_proxy_tick(px, 0);
	if (px->lfd != -1) {
		loop_del(px->loop, px->lfd);
		close(px->lfd);
	}
	if (px->sink.efd != -1) {
		loop_del(px->loop, px->sink.efd);
		resolve_sink_clear(&px->sink);
	}
	tproxy_admin_free(px->admin);
	SSL_CTX_free(px->fetch_tls);
	free(px);
}

/* Per-state time bounds. */
static void
px_sweep_one(struct px_conn *c, uint64_t now)
{
	const struct config *cfg = c->pol->cfg;
	uint64_t connect_ms = (uint64_t)cfg->fw.connect_timeout_s * 1000;
	uint64_t idle_ms = (uint64_t)cfg->forward_proxy.idle_timeout_seconds * 1000;
	uint64_t tunnel_ms = (uint64_t)cfg->forward_proxy.max_tunnel_seconds * 1000;
	uint64_t fetch_ms = (uint64_t)cfg->fetch_proxy.timeout_seconds * 1000;

	/* the kill switch also ends what is already flowing */
	if (c->px->ks != NULL && killswitch_active(c->px->ks) &&
	    c->kind != PX_KIND_NONE && c->state != PX_ANSWER &&
	    c->state != PX_LINGER) {
		c->ia_set = 1;
		c->ia.scanner = "kill_switch";
		px_audit(c, "kill_switch_deny", "block", "kill_switch");
		px_close(c);
		return;
	}
	switch (c->state) {
	case PX_HEAD:
		/* the whole head within the bound (slow-loris) */
		if (now - c->t_start >= PROXY_HEAD_TIMEOUT_MS)
			px_close(c);
		break;
	case PX_JUDGE:
		if (now - c->t_last >= PROXY_HEAD_TIMEOUT_MS)
			px_close(c);
		break;
	case PX_RESOLVE:
	case PX_CONNECTING:
	case PX_TLS:
		if (connect_ms > 0 && now - c->t_state >= connect_ms) {
			if (c->rreq != NULL) {
				c->rreq->owner = NULL;
				c->rreq = NULL;
			}
			px_upstream_failed(c, "upstream connect timed out");
		}
		break;
	case PX_HELLO:
		if (now - c->t_state >= PROXY_HELLO_TIMEOUT_MS) {
			px_sni_metric(c, "timeout");
			px_tunnel_refuse(c, "connect", "tls", "no ClientHello "
			    "within 5 s of the tunnel opening");
		}
		break;
	case PX_RELAY:
	case PX_MITM:
		if (c->tunnel) {
			if ((idle_ms > 0 && now - c->t_last >= idle_ms) ||
			    (tunnel_ms > 0 && now - c->t_start >= tunnel_ms))
				px_close(c);
		} else if (fetch_ms > 0 && now - c->t_last >= fetch_ms) {
			if (c->kind == PX_KIND_FETCH)
				px_upstream_failed(c, "upstream timed out");
			else
				px_close(c);
		}
		break;
	case PX_ANSWER:
		if (now - c->t_last >= PX_ANSWER_IDLE_MS)
			px_close(c);
		break;
	case PX_LINGER:
		if (now - c->t_state >= PROXY_LINGER_MS)
			px_close(c);
		break;
	}
}

void
tproxy_proxy_tick(struct tproxy_proxy *px, uint64_t now)
{
	struct px_conn *c, *next;

	if (px == NULL)
		return;
	if (now != 0 && now >= px->next_sweep) {
		for (c = LIST_FIRST(&px->conns); c != NULL; c = next) {
			next = LIST_NEXT(c, entry);
			px_sweep_one(c, now);
		}
		px_admin_refresh(px);
		px->next_sweep = now + PROXY_SWEEP_MS;
		/* an fd shortage may have paused accepting (no-op if not) */
		(void)loop_set(px->loop, px->lfd, LOOP_READ);
	}
	while ((c = LIST_FIRST(&px->dead)) != NULL) {
		LIST_REMOVE(c, entry);
		px_free(c);
	}
}

uint16_t
tproxy_proxy_port(const struct tproxy_proxy *px)
{
	return px != NULL ? px->port : 0;
}

unsigned
tproxy_proxy_nconns(const struct tproxy_proxy *px)
{
	return px != NULL ? px->nconns : 0;
}
