/*
 * test_inspect.c - the per-connection HTTP inspector with the real default
 * scanner, driven the way the engine drives it (a pending-bytes buffer,
 * FORWARD drops bytes, CONTINUE/BLOCK write a response).  Asserts on what
 * would have reached upstream: byte-exact for clean requests, nothing for
 * refused ones.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "scanner/scanner.h"
#include "tproxy/tproxy_inspect.h"

/* A GitHub token shape (critical), built so the source holds no token. */
static char secret[64];

struct sim {
	char		*pend;		/* client bytes not yet forwarded */
	size_t		 plen, pcap;
	char		*fwd;		/* what upstream received */
	size_t		 flen, fcap;
	size_t		 max_pending;
	int		 kind;		/* last action */
	int		 status;
	int		 after_forward;
	int		 continues;
	int		 requests;	/* completed requests (audits) */
	int		 close_after;
	char		 resp[INSPECT_RESP_MAX + 1];
	struct inspect_audit audit;	/* last completed request */
};

static void
grow(char **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return;
	*cap = need * 2;
	if ((*p = realloc(*p, *cap)) == NULL)
		abort();
}

/* Append client bytes and run the inspector as the engine would. */
static int
sim_push(struct inspect *in, struct sim *s, const char *data, size_t len)
{
	struct inspect_action act;
	int k;

	if (s->kind == INSPECT_BLOCK)
		return s->kind;
	grow(&s->pend, &s->pcap, s->plen + len + 1);
	memcpy(s->pend + s->plen, data, len);
	s->plen += len;
	if (s->plen > s->max_pending)
		s->max_pending = s->plen;
	for (;;) {
		k = inspect_feed(in, s->pend, s->plen, &act);
		s->kind = k;
		if (act.audit != NULL) {
			s->audit = *act.audit;
			s->requests++;
		}
		if (k == INSPECT_FORWARD || k == INSPECT_TUNNEL) {
			grow(&s->fwd, &s->fcap, s->flen + act.len + 1);
			memcpy(s->fwd + s->flen, s->pend, act.len);
			s->flen += act.len;
			memmove(s->pend, s->pend + act.len, s->plen - act.len);
			s->plen -= act.len;
			s->close_after = act.close_after;
			if (k == INSPECT_TUNNEL || s->plen == 0)
				return k;
			continue;
		}
		if (k == INSPECT_CONTINUE) {
			s->continues++;
			ok(act.resp_len == 25 &&
			    memcmp(act.resp, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0,
			    "100 Continue response");
			continue;
		}
		if (k == INSPECT_BLOCK) {
			s->status = act.status;
			s->after_forward = act.after_forward;
			memcpy(s->resp, act.resp, act.resp_len);
			s->resp[act.resp_len] = '\0';
		}
		return k;
	}
}

static void
sim_free(struct sim *s)
{
	free(s->pend);
	free(s->fwd);
	memset(s, 0, sizeof(*s));
}

static struct scanner *sc;
static struct strlist sensitive, ignore;
static struct sockaddr_in dst4;

static void
config_base(struct inspect_config *ic)
{
	memset(ic, 0, sizeof(*ic));
	ic->scanner = sc;
	ic->enforce = 1;
	ic->body_enabled = 1;
	ic->body_action_block = 0;	/* pipelock's default: warn */
	ic->max_body_bytes = 65536;
	ic->scan_headers = 1;
	ic->sensitive_headers = &sensitive;
	ic->ignore_headers = &ignore;
}

/* One connection: feed input in pieces of step bytes (0: at once). */
static void
run(const struct inspect_config *ic, const char *input, size_t len,
    size_t step, struct sim *s)
{
	struct inspect *in;
	size_t off;

	memset(s, 0, sizeof(*s));
	in = inspect_new(ic, (struct sockaddr *)&dst4, sizeof(dst4), NULL);
	if (in == NULL)
		abort();
	if (step == 0)
		step = len;
	for (off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;

		if (sim_push(in, s, input + off, n) == INSPECT_BLOCK)
			break;
	}
	inspect_free(in);
}

static int
fwd_is(const struct sim *s, const char *want, size_t len)
{
	return s->flen == len && memcmp(s->fwd, want, len) == 0;
}

static void
test_clean(void)
{
	struct inspect_config ic;
	struct sim s;
	static const char get[] = "GET /path?q=1 HTTP/1.1\r\nHost: example.com\r\n"
	    "User-Agent: curl/8\r\nAccept: */*\r\n\r\n";
	static const char post[] = "POST /api HTTP/1.1\r\nHost: example.com\r\n"
	    "Content-Type: application/json\r\nContent-Length: 17\r\n\r\n"
	    "{\"hello\":\"world\"}";
	static const char chunked[] = "POST /up HTTP/1.1\r\nHost: example.com\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "6\r\nhello \r\n5;ext=1\r\nworld\r\n0\r\n\r\n";
	size_t step;

	config_base(&ic);
	for (step = 0; step <= 7; step += 7) {
		run(&ic, get, sizeof(get) - 1, step, &s);
		ok(s.kind == INSPECT_FORWARD && fwd_is(&s, get, sizeof(get) - 1),
		    "clean GET forwarded byte-exact (step %zu)", step);
		is_str(s.audit.url, "http://example.com/path?q=1", "audit URL");
		is_str(s.audit.method, "GET", "audit method");
		is_str(s.audit.host, "example.com", "audit host");
		is_int(s.audit.verdict, INSPECT_ALLOW, "audit verdict allow");
		is_int(s.audit.request_bytes, sizeof(get) - 1, "audit size");
		sim_free(&s);

		run(&ic, post, sizeof(post) - 1, step, &s);
		ok(s.kind == INSPECT_FORWARD && fwd_is(&s, post, sizeof(post) - 1),
		    "clean POST forwarded byte-exact (step %zu)", step);
		is_int(s.audit.body_bytes, 17, "audit body size");
		sim_free(&s);

		run(&ic, chunked, sizeof(chunked) - 1, step, &s);
		ok(s.kind == INSPECT_FORWARD &&
		    fwd_is(&s, chunked, sizeof(chunked) - 1),
		    "clean chunked POST forwarded byte-exact (step %zu)", step);
		is_int(s.audit.body_bytes, 11, "de-chunked size");
		sim_free(&s);
	}
}

/* Each must be refused with 403 and forward nothing, however it is cut. */
static void
test_secrets(void)
{
	struct inspect_config ic;
	struct sim s;
	char req[2048], enc[256], b64[128];
	size_t i, n, half, step;
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct {
		const char	*name;
		char		 text[2048];
		size_t		 len;
	} cases[8];
	int nc = 0, c;

	/* base64 of the secret */
	n = strlen(secret);
	for (i = 0, half = 0; i < n; i += 3) {
		unsigned v = (unsigned char)secret[i] << 16 |
		    (i + 1 < n ? (unsigned char)secret[i + 1] << 8 : 0) |
		    (i + 2 < n ? (unsigned char)secret[i + 2] : 0);

		b64[half++] = tbl[v >> 18 & 63];
		b64[half++] = tbl[v >> 12 & 63];
		b64[half++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
		b64[half++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	b64[half] = '\0';
	for (i = 0; i < n; i++)
		snprintf(enc + 3 * i, 4, "%%%02X", (unsigned char)secret[i]);

#define CASE(label, ...) do {						\
	cases[nc].name = label;						\
	cases[nc].len = (size_t)snprintf(cases[nc].text,		\
	    sizeof(cases[nc].text), __VA_ARGS__);			\
	nc++;								\
} while (0)
	CASE("secret in query", "GET /x?token=%s HTTP/1.1\r\nHost: example.com\r\n\r\n",
	    secret);
	CASE("percent-encoded secret in query",
	    "GET /x?t=%s HTTP/1.1\r\nHost: example.com\r\n\r\n", enc);
	CASE("base64 secret in query",
	    "GET /x?d=%s HTTP/1.1\r\nHost: example.com\r\n\r\n", b64);
	CASE("secret in Authorization header",
	    "GET / HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer %s\r\n\r\n",
	    secret);
	CASE("secret in Content-Length body",
	    "POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: %zu\r\n\r\n"
	    "{\"k\":\"%s\"}", strlen(secret) + 8, secret);
	half = strlen(secret) / 2;
	CASE("secret split across chunks",
	    "POST /p HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "%zx\r\n%.*s\r\n%zx\r\n%s\r\n0\r\n\r\n", half, (int)half, secret,
	    strlen(secret) - half, secret + half);
	CASE("base64 secret in body",
	    "POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: %zu\r\n\r\n"
	    "{\"d\":\"%s\"}", strlen(b64) + 8, b64);
#undef CASE

	config_base(&ic);
	for (c = 0; c < nc; c++) {
		for (step = 0; step <= 1; step++) {
			run(&ic, cases[c].text, cases[c].len, step, &s);
			ok(s.kind == INSPECT_BLOCK && s.status == 403 && s.flen == 0,
			    "%s: 403, nothing forwarded (%s)", cases[c].name,
			    step ? "byte by byte" : "at once");
			if (s.kind != INSPECT_BLOCK)
				diag("kind %d flen %zu", s.kind, s.flen);
			ok(strstr(s.resp, "\r\n\r\nblocked by pipelock-fw: ") != NULL &&
			    strstr(s.resp, secret) == NULL,
			    "%s: text reason, secret not echoed", cases[c].name);
			ok(strstr(s.audit.url, "/[redacted]") != NULL &&
			    strstr(s.audit.url, secret) == NULL &&
			    s.audit.verdict == INSPECT_DENY,
			    "%s: audit URL redacted (%s)", cases[c].name,
			    s.audit.url);
			sim_free(&s);
		}
	}

	/* JSON block body when the client accepts JSON. */
	snprintf(req, sizeof(req), "GET /?k=%s HTTP/1.1\r\nHost: example.com\r\n"
	    "Accept: application/json, text/plain\r\n\r\n", secret);
	run(&ic, req, strlen(req), 0, &s);
	ok(s.kind == INSPECT_BLOCK &&
	    strstr(s.resp, "Content-Type: application/json\r\n") != NULL &&
	    strstr(s.resp, "\r\n\r\n{\"blocked\":true,\"reason\":\"") != NULL,
	    "JSON block response");
	sim_free(&s);

	/* enforce off: logged as a warning, forwarded. */
	ic.enforce = 0;
	snprintf(req, sizeof(req), "GET /?k=%s HTTP/1.1\r\nHost: example.com\r\n\r\n",
	    secret);
	run(&ic, req, strlen(req), 0, &s);
	ok(s.kind == INSPECT_FORWARD && fwd_is(&s, req, strlen(req)) &&
	    s.audit.verdict == INSPECT_WARN &&
	    strstr(s.audit.url, secret) == NULL,
	    "enforce off: forwarded with a warning, URL redacted");
	sim_free(&s);
}

static void
test_keepalive(void)
{
	struct inspect_config ic;
	struct sim s;
	struct inspect *in;
	char bad[512];
	static const char good[] = "GET /one HTTP/1.1\r\nHost: example.com\r\n\r\n";
	static const char three[] =
	    "GET /1 HTTP/1.1\r\nHost: example.com\r\n\r\n"
	    "POST /2 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2\r\n\r\nok"
	    "GET /3 HTTP/1.1\r\nHost: example.com\r\n\r\n";

	config_base(&ic);
	snprintf(bad, sizeof(bad), "GET /two?s=%s HTTP/1.1\r\nHost: example.com\r\n\r\n",
	    secret);
	memset(&s, 0, sizeof(s));
	in = inspect_new(&ic, (struct sockaddr *)&dst4, sizeof(dst4), NULL);
	sim_push(in, &s, good, sizeof(good) - 1);
	ok(s.kind == INSPECT_FORWARD && fwd_is(&s, good, sizeof(good) - 1),
	    "keep-alive: clean request forwarded");
	sim_push(in, &s, bad, strlen(bad));
	ok(s.kind == INSPECT_BLOCK && s.status == 403 && s.after_forward &&
	    fwd_is(&s, good, sizeof(good) - 1),
	    "keep-alive: second request with a secret blocked, only the first forwarded");
	inspect_free(in);
	sim_free(&s);

	/* Pipelined: the clean one passes, the one with the secret does not. */
	{
		char both[1024];
		size_t n = (size_t)snprintf(both, sizeof(both), "%s%s", good, bad);

		run(&ic, both, n, 0, &s);
		ok(s.kind == INSPECT_BLOCK && fwd_is(&s, good, sizeof(good) - 1),
		    "pipelined clean + secret: first forwarded, second blocked");
		sim_free(&s);
	}

	run(&ic, three, sizeof(three) - 1, 0, &s);
	ok(s.kind == INSPECT_FORWARD && s.requests == 3 &&
	    fwd_is(&s, three, sizeof(three) - 1),
	    "three pipelined requests judged and forwarded");
	is_str(s.audit.url, "http://example.com/3", "last audit is the third");
	sim_free(&s);
	run(&ic, three, sizeof(three) - 1, 1, &s);
	ok(s.kind == INSPECT_FORWARD && s.requests == 3 &&
	    fwd_is(&s, three, sizeof(three) - 1),
	    "three pipelined requests, byte by byte");
	sim_free(&s);

	/* Nothing may follow Connection: close. */
	{
		static const char cl[] = "GET / HTTP/1.1\r\nHost: example.com\r\n"
		    "Connection: close\r\n\r\nGET /again HTTP/1.1\r\nHost: example.com\r\n\r\n";

		run(&ic, cl, sizeof(cl) - 1, 0, &s);
		ok(s.kind == INSPECT_BLOCK && s.status == 400 && s.close_after &&
		    s.flen == (size_t)(strstr(cl, "GET /again") - cl),
		    "request after Connection: close refused");
		sim_free(&s);
	}
}

static void
test_continue(void)
{
	struct inspect_config ic;
	struct sim s;
	struct inspect *in;
	static const char head[] = "PUT /f HTTP/1.1\r\nHost: example.com\r\n"
	    "Expect: 100-continue\r\nContent-Length: 4\r\n\r\n";
	static const char big[] = "PUT /f HTTP/1.1\r\nHost: example.com\r\n"
	    "Expect: 100-continue\r\nContent-Length: 104857600\r\n\r\n";

	config_base(&ic);
	memset(&s, 0, sizeof(s));
	in = inspect_new(&ic, (struct sockaddr *)&dst4, sizeof(dst4), NULL);
	sim_push(in, &s, head, sizeof(head) - 1);
	ok(s.continues == 1 && s.kind == INSPECT_NEED_MORE && s.flen == 0,
	    "100-continue sent after the head passed, nothing forwarded yet");
	sim_push(in, &s, "data", 4);
	ok(s.kind == INSPECT_FORWARD && s.continues == 1 &&
	    s.flen == sizeof(head) - 1 + 4 &&
	    memcmp(s.fwd + sizeof(head) - 1, "data", 4) == 0,
	    "body after 100-continue forwarded with the head");
	inspect_free(in);
	sim_free(&s);

	run(&ic, big, sizeof(big) - 1, 0, &s);
	ok(s.kind == INSPECT_BLOCK && s.status == 413 && s.continues == 0 &&
	    s.flen == 0, "oversized Expect request refused without 100-continue");
	sim_free(&s);
}

static void
test_limits(void)
{
	struct inspect_config ic;
	struct sim s;
	struct inspect *in;
	static const char cl[] = "POST /big HTTP/1.1\r\nHost: example.com\r\n"
	    "Content-Length: 104857600\r\n\r\n";
	static const char gz[] = "POST /z HTTP/1.1\r\nHost: example.com\r\n"
	    "Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd";
	static const char trl[] = "POST /t HTTP/1.1\r\nHost: example.com\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Sig: v\r\n\r\n";
	static const char smug[] = "POST /s HTTP/1.1\r\nHost: example.com\r\n"
	    "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
	char *chunk;
	size_t total = 0, csz = 65536, hl;

	config_base(&ic);
	run(&ic, cl, sizeof(cl) - 1, 0, &s);
	ok(s.kind == INSPECT_BLOCK && s.status == 413 && s.flen == 0 &&
	    strstr(s.resp, "request body exceeds max_body_bytes (65536)"),
	    "100 MB Content-Length refused from the head (413)");
	sim_free(&s);

	/* A 100 MB chunked body: refused once over the limit, memory bounded. */
	ic.max_body_bytes = 1 << 20;
	memset(&s, 0, sizeof(s));
	in = inspect_new(&ic, (struct sockaddr *)&dst4, sizeof(dst4), NULL);
	hl = inspect_hold_limit(in);
	chunk = malloc(csz + 16);
	hl = hl > 0 ? hl : 1;
	sim_push(in, &s, "POST /big HTTP/1.1\r\nHost: example.com\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 69);
	while (s.kind != INSPECT_BLOCK && total < (100u << 20)) {
		int n = snprintf(chunk, 16, "%zx\r\n", csz);

		memset(chunk + n, 'a', csz);
		memcpy(chunk + n + csz, "\r\n", 2);
		sim_push(in, &s, chunk, (size_t)n + csz + 2);
		total += csz;
	}
	ok(s.kind == INSPECT_BLOCK && s.status == 413 && s.flen == 0 &&
	    total <= (2u << 20), "chunked 100 MB body refused after %zu bytes",
	    total);
	ok(s.max_pending <= hl, "held bytes %zu within the hold limit %zu",
	    s.max_pending, hl);
	free(chunk);
	inspect_free(in);
	sim_free(&s);
	ic.max_body_bytes = 65536;

	run(&ic, gz, sizeof(gz) - 1, 0, &s);
	ok(s.kind == INSPECT_BLOCK && s.status == 403 && s.flen == 0 &&
	    strstr(s.resp, "Content-Encoding") != NULL,
	    "compressed request body refused");
	sim_free(&s);

	run(&ic, trl, sizeof(trl) - 1, 0, &s);
	ok(s.kind == INSPECT_BLOCK && s.status == 403 && s.flen == 0,
	    "request trailers refused");
	sim_free(&s);

	run(&ic, smug, sizeof(smug) - 1, 0, &s);
	ok(s.kind == INSPECT_BLOCK && s.status == 400 && s.flen == 0 &&
	    strstr(s.resp, "Content-Length and Transfer-Encoding") != NULL,
	    "CL+TE smuggling refused with 400");
	sim_free(&s);

	/* Body scanning off: the body streams through unheld. */
	ic.body_enabled = 0;
	{
		static const char post[] = "POST /p HTTP/1.1\r\nHost: example.com\r\n"
		    "Content-Length: 10\r\n\r\n0123456789";

		run(&ic, post, sizeof(post) - 1, 4, &s);
		ok(s.kind == INSPECT_FORWARD && fwd_is(&s, post, sizeof(post) - 1) &&
		    s.requests == 1, "body scanning off: body streamed byte-exact");
		sim_free(&s);
	}
}

static int
fake_resolve(void *ctx, const char *host)
{
	return strcmp(host, (const char *)ctx) == 0;
}

/* ctx: an int, the answer (-2 pending, then 1/0/-1). */
static int
later_resolve(void *ctx, const char *host)
{
	(void)host;
	return *(int *)ctx;
}

static void
test_host_and_tunnels(void)
{
	struct inspect_config ic;
	struct sim s;
	struct strlist allow;
	char *allow_v[] = { "ws.example.com" };
	static const char ipok[] = "GET / HTTP/1.1\r\nHost: 198.18.0.10\r\n\r\n";
	static const char ipbad[] = "GET / HTTP/1.1\r\nHost: 198.18.0.99:80\r\n\r\n";
	static const char named[] = "GET / HTTP/1.1\r\nHost: Allowed.Example.\r\n\r\n";
	static const char conn[] = "CONNECT example.com:443 HTTP/1.1\r\n"
	    "Host: example.com:443\r\n\r\n";
	static const char ws[] = "GET /chat HTTP/1.1\r\nHost: ws.example.com\r\n"
	    "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
	static const char h10[] = "GET /old HTTP/1.0\r\n\r\n";

	config_base(&ic);
	run(&ic, ipok, sizeof(ipok) - 1, 0, &s);
	ok(s.kind == INSPECT_FORWARD, "Host equal to the destination IP");
	sim_free(&s);
	run(&ic, ipbad, sizeof(ipbad) - 1, 0, &s);
	ok(s.kind == INSPECT_BLOCK && s.status == 403 && s.flen == 0 &&
	    strcmp(s.audit.scanner, "host_mismatch") == 0,
	    "Host IP other than the destination refused");
	sim_free(&s);
	run(&ic, h10, sizeof(h10) - 1, 0, &s);
	ok(s.kind == INSPECT_FORWARD &&
	    strcmp(s.audit.url, "http://198.18.0.10/old") == 0,
	    "HTTP/1.0 without Host judged on the destination (%s)", s.audit.url);
	sim_free(&s);

	/* Names: only strict mode asks the engine. */
	run(&ic, named, sizeof(named) - 1, 0, &s);
	ok(s.kind == INSPECT_FORWARD, "balanced: a name is not resolved");
	sim_free(&s);
	ic.strict = 1;
	run(&ic, named, sizeof(named) - 1, 0, &s);
	ok(s.kind == INSPECT_BLOCK && s.status == 403,
	    "strict without a resolver: refused");
	sim_free(&s);
	ic.host_matches = fake_resolve;
	ic.host_ctx = "allowed.example";
	run(&ic, named, sizeof(named) - 1, 0, &s);
	ok(s.kind == INSPECT_FORWARD, "strict: name resolving to the destination");
	sim_free(&s);
	ic.host_ctx = "other.example";
	run(&ic, named, sizeof(named) - 1, 0, &s);
	ok(s.kind == INSPECT_BLOCK && s.status == 403 && s.flen == 0,
	    "strict: name resolving elsewhere refused");
	sim_free(&s);
	/* An asynchronous answer: WAIT, then the same head judged again. */
	{
		struct inspect *in;
		struct inspect_action act;
		int answer = -2;

		ic.host_matches = later_resolve;
		ic.host_ctx = &answer;
		in = inspect_new(&ic, (struct sockaddr *)&dst4, sizeof(dst4),
		    NULL);
		ok(inspect_feed(in, named, sizeof(named) - 1, &act) ==
		    INSPECT_WAIT && act.audit == NULL,
		    "strict: lookup pending -> WAIT, nothing forwarded");
		answer = 1;
		ok(inspect_feed(in, named, sizeof(named) - 1, &act) ==
		    INSPECT_FORWARD && act.len == sizeof(named) - 1,
		    "strict: answer in -> the held head passes");
		inspect_free(in);
		answer = -2;
		in = inspect_new(&ic, (struct sockaddr *)&dst4, sizeof(dst4),
		    NULL);
		(void)inspect_feed(in, named, sizeof(named) - 1, &act);
		answer = 0;
		ok(inspect_feed(in, named, sizeof(named) - 1, &act) ==
		    INSPECT_BLOCK && act.status == 403,
		    "strict: answer in, elsewhere -> refused");
		inspect_free(in);
	}
	config_base(&ic);

	/* Decrypted HTTPS: Host must be the SNI; URLs are https://. */
	{
		static const char tls_ok[] = "GET /s?q=1 HTTP/1.1\r\n"
		    "Host: API.example.com:443\r\n\r\n";
		static const char tls_bad[] = "GET / HTTP/1.1\r\n"
		    "Host: other.example.com\r\n\r\n";
		struct inspect *in;

		memset(&s, 0, sizeof(s));
		in = inspect_new(&ic, (struct sockaddr *)&dst4, sizeof(dst4),
		    "api.example.com.");
		sim_push(in, &s, tls_ok, sizeof(tls_ok) - 1);
		ok(s.kind == INSPECT_FORWARD &&
		    strcmp(s.audit.url, "https://api.example.com:443/s?q=1") == 0,
		    "TLS: Host equal to the SNI passes (%s)", s.audit.url);
		inspect_free(in);
		sim_free(&s);
		in = inspect_new(&ic, (struct sockaddr *)&dst4, sizeof(dst4),
		    "api.example.com");
		sim_push(in, &s, tls_bad, sizeof(tls_bad) - 1);
		ok(s.kind == INSPECT_BLOCK && s.status == 403 && s.flen == 0 &&
		    strstr(s.resp, "TLS server name") != NULL,
		    "TLS: Host other than the SNI refused");
		inspect_free(in);
		sim_free(&s);
	}

	run(&ic, conn, sizeof(conn) - 1, 0, &s);
	ok(s.kind == INSPECT_BLOCK && s.status == 403 && s.flen == 0 &&
	    strstr(s.resp, "CONNECT is not supported") != NULL,
	    "CONNECT refused with a reason");
	sim_free(&s);
	run(&ic, ws, sizeof(ws) - 1, 0, &s);
	ok(s.kind == INSPECT_BLOCK && s.status == 403 && s.flen == 0 &&
	    strstr(s.resp, "upgrade (websocket)") != NULL,
	    "WebSocket upgrade refused with a reason");
	sim_free(&s);
	allow.v = allow_v;
	allow.n = 1;
	ic.tunnel_allow = &allow;
	run(&ic, ws, sizeof(ws) - 1, 0, &s);
	ok(s.kind == INSPECT_TUNNEL && fwd_is(&s, ws, sizeof(ws) - 1),
	    "allow-listed upgrade: head forwarded, then tunnel");
	sim_free(&s);
}

int
main(void)
{
	struct scanner_config cfg;
	char err[512];
	static char *sens_v[] = { "Authorization", "Cookie", "X-Api-Key",
	    "X-Token", "Proxy-Authorization", "X-Goog-Api-Key" };
	static char *ign_v[] = { "Connection", "Host", "Content-Length" };

	/* "ghp_" + 36 characters */
	snprintf(secret, sizeof(secret), "%s%s%s", "gh", "p_",
	    "R7xQ2mVn8KpL4sTz9WcY3bHf6JdG1aEu5NoX");
	sensitive.v = sens_v;
	sensitive.n = 6;
	ignore.v = ign_v;
	ignore.n = 3;
	dst4.sin_family = AF_INET;
	dst4.sin_port = htons(80);
	inet_pton(AF_INET, "198.18.0.10", &dst4.sin_addr);

	scanner_config_defaults(&cfg);
	sc = scanner_new(&cfg, err, sizeof(err));
	if (!ok(sc != NULL, "default scanner builds")) {
		diag("%s", err);
		return tap_done();
	}
	test_clean();
	test_secrets();
	test_keepalive();
	test_continue();
	test_limits();
	test_host_and_tunnels();
	scanner_free(sc);
	scanner_config_clear(&cfg);
	return tap_done();
}
