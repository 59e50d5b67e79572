/*
 * tproxy_inspect.h - per-connection HTTP/1.x inspection for the transparent
 * path: each request an agent sends is parsed strictly (tproxy_http) and
 * judged by the scanner before a byte of it may reach upstream.
 *
 * Integration note for the engine (H5):
 *
 *   - One struct inspect per client connection that speaks HTTP (plain, or
 *     decrypted TLS with tls = 1), made by inspect_new() from an
 *     inspect_config (inspect_config_from_policy() fills one from the
 *     connection's policy reference; the policy must outlive the inspector)
 *     and the original destination (getsockname() of the accepted socket);
 *     for intercepted TLS pass the ClientHello's SNI.
 *
 *   - The engine keeps the client's unforwarded bytes in its own buffer and,
 *     after each read, calls inspect_feed(in, buf, len, &act) with ALL of
 *     them (buf[0] = first byte not yet forwarded; bytes are only appended
 *     between calls, the buffer may move).  Then, by act.kind:
 *       NEED_MORE  keep reading.  The buffer must be able to grow to
 *                  inspect_hold_limit() bytes; the inspector itself refuses
 *                  a request before it would need more (413/431/400).
 *       FORWARD    write buf[0..act.len) upstream, drop those bytes from the
 *                  buffer, and call inspect_feed() again on the rest (a
 *                  pipelined request may be waiting) before reading more.
 *                  act.audit is set when a request is complete.
 *       CONTINUE   write act.resp (an "HTTP/1.1 100 Continue" interim
 *                  response) to the client, then call inspect_feed() again.
 *       BLOCK      nothing more goes upstream: write act.resp (the 400/403/
 *                  413/431/501 response, "Connection: close") to the client
 *                  and close.  If earlier requests on this connection were
 *                  forwarded (act.after_forward), their responses may still
 *                  be in flight: shutdown(upstream, SHUT_WR), keep relaying
 *                  upstream->client until upstream EOF (bounded by the idle
 *                  timeout), then write act.resp and close.
 *       TUNNEL     an allowed CONNECT/Upgrade: forward buf[0..act.len), then
 *                  relay both directions uninspected (splice) until close.
 *       WAIT       strict mode, host_matches answered -2 (lookup queued):
 *                  stop feeding; once the answer is in, call inspect_feed()
 *                  again with the same bytes (the head is judged again).
 *     After the last request of a "Connection: close" exchange, further
 *     client bytes are refused (BLOCK 400), stray CRLFs excepted.
 *   - Verdicts: parse errors 400/431/501/505 (reason from tproxy_http);
 *     CONNECT/Upgrade not allow-listed, Host not the destination (IP
 *     literal always, name in strict mode via host_matches), Host not the
 *     SNI, URL findings, header/body DLP, compressed bodies, trailers: 403;
 *     body over max_body_bytes: 413 (from Content-Length at once, chunked
 *     once the de-chunked size passes it); ratelimit findings: 429.
 *     Header/body DLP blocks under action: block, and critical findings
 *     always (enforce on); enforce off turns findings into WARN, except the
 *     unscannable cases (parse errors, CONNECT/Upgrade, size, compression,
 *     trailers) which always block.
 *   - Responses are not parsed here; relay them as they come.
 *   - inspect_feed() returns -1 only when memory runs out: abort that
 *     connection (fail closed), never the process.
 *   - Audit: act.audit (valid until the next inspect_* call) carries method,
 *     Host, the URL with secrets redacted, verdict, reason, scanner, pattern
 *     and request size; the engine adds uid/pid/src/dst/response bytes and
 *     writes the line (core/audit.h).
 */
#ifndef PIPELOCK_TPROXY_INSPECT_H
#define PIPELOCK_TPROXY_INSPECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "scanner/scanner.h"
#include "tproxy/tproxy_http.h"

struct policy;
struct inspect;

#define INSPECT_URL_MAX		2048	/* audit URL, truncated beyond */
#define INSPECT_HOST_MAX	262	/* name + ":port" */
#define INSPECT_RESP_MAX	1024	/* a block response */
#define INSPECT_PATTERN_MAX	96

struct inspect_config {
	const struct scanner	*scanner;	/* required */
	int			 enforce;	/* 0: findings never block */
	int			 strict;	/* mode: strict (Host anti-spoofing) */
	int			 body_enabled;	/* request_body_scanning.enabled */
	int			 body_action_block; /* action: block (else warn) */
	uint64_t		 max_body_bytes;
	int			 scan_headers;
	int			 header_mode_all;
	const struct strlist	*sensitive_headers;
	const struct strlist	*ignore_headers;
	/* Hosts (domain patterns) allowed to CONNECT or Upgrade; NULL: none. */
	const struct strlist	*tunnel_allow;
	/*
	 * Host lookup hook: does host (a lowercase name, no port, no
	 * trailing dot) resolve to the connection's original destination?
	 * 1 yes, 0 no, -1 unknown (resolver error), -2 not known yet: the
	 * engine started an asynchronous lookup; inspect_feed() then returns
	 * INSPECT_WAIT and judges the same head again on the next call (the
	 * engine calls once the answer is in, and must then answer 1/0/-1).
	 * Only called in strict mode; the engine owns resolution and its
	 * cache.  NULL: strict mode refuses every Host that is a name.
	 */
	int			(*host_matches)(void *ctx, const char *host);
	void			*host_ctx;
};

enum inspect_kind {
	INSPECT_NEED_MORE = 0,
	INSPECT_FORWARD,
	INSPECT_CONTINUE,
	INSPECT_BLOCK,
	INSPECT_TUNNEL,
	INSPECT_WAIT,		/* host_matches said -2: feed again later */
};

enum inspect_verdict {
	INSPECT_ALLOW = 0,
	INSPECT_WARN,		/* findings that did not block (warn/enforce off) */
	INSPECT_DENY,
};

/* One request's audit record. */
struct inspect_audit {
	char			 method[HTTP_MAX_METHOD + 1];
	char			 host[INSPECT_HOST_MAX];
	enum inspect_verdict	 verdict;
	int			 status;	/* response status when blocked */
	const char		*scanner;	/* label (static) or NULL */
	char			 pattern[INSPECT_PATTERN_MAX];
	char			 redacted[SCAN_REDACTED_MAX];
	char			 reason[SCAN_REASON_MAX + 64];
	uint64_t		 request_bytes;	/* head + raw body */
	uint64_t		 body_bytes;	/* de-chunked */
	/*
	 * The full URL, or scheme://host/[redacted] once a finding exists.
	 * Last, so inspect_audit_dup() can stop after its terminator.
	 */
	char			 url[INSPECT_URL_MAX];
};

struct inspect_action {
	enum inspect_kind	 kind;
	size_t			 len;		/* FORWARD / TUNNEL */
	const char		*resp;		/* CONTINUE / BLOCK */
	size_t			 resp_len;
	int			 status;	/* BLOCK */
	int			 close_after;	/* FORWARD: last request */
	int			 after_forward;	/* BLOCK: earlier ones went */
	const struct inspect_audit *audit;	/* a request completed */
};

/* Fill ic from a policy (borrowed pointers: keep the policy referenced). */
/* (tunnel_allow comes from firewall.upgrade_allow_hosts.) */
void inspect_config_from_policy(struct inspect_config *ic,
    const struct policy *p);

/*
 * New inspector for one connection.  orig_dst is the address the agent
 * dialled (copied).  sni NULL: plain HTTP; non-NULL: decrypted HTTPS whose
 * ClientHello named sni ("" when it had none): URLs are then https:// and
 * each Host must equal a non-empty sni.  NULL on allocation failure or
 * without a scanner.
 */
struct inspect *inspect_new(const struct inspect_config *ic,
    const struct sockaddr *orig_dst, socklen_t dstlen, const char *sni);
void inspect_free(struct inspect *in);

/*
 * Judge the client bytes buf[0..len) (see the note above).  Fills act and
 * returns act->kind, or -1 when out of memory (abort the connection).
 */
int inspect_feed(struct inspect *in, const char *buf, size_t len,
    struct inspect_action *act);

/*
 * A copy of a to hold while the request's response goes by, allocated only
 * up to the end of a->url (typically ~0.8 KiB instead of 2.8): read it,
 * never write to it or copy it by value.  NULL when out of memory.  Free it
 * with inspect_audit_free() (NULL-tolerant; zeroes it first).
 */
struct inspect_audit *inspect_audit_dup(const struct inspect_audit *a);
void inspect_audit_free(struct inspect_audit *a);

/* The largest client buffer one request can need (see NEED_MORE). */
size_t inspect_hold_limit(const struct inspect *in);

const char *inspect_verdict_name(enum inspect_verdict v);

#endif
