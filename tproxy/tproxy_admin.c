/*
 * tproxy_admin.c - /health, /metrics and the kill switch API (see
 * tproxy_admin.h).
 *
 * Connection states: READ (buffer, parse head, then body) -> WRITE (send the
 * one response) -> DRAIN (our side shut down; read and discard until the
 * peer closes, so unread request bytes never turn our close into a RST that
 * destroys the response in flight) -> DEAD (reaped by tproxy_admin_tick(),
 * never freed inside its own callback).
 */
#include "tproxy/tproxy_admin.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/config.h"
#include "core/killswitch.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "tproxy/tproxy_http.h"

#define ADMIN_BACKLOG		64
#define ADMIN_HEAD_ROOM		2048	/* buffer kept free for the body */
#define ADMIN_DIGEST		32	/* SHA-256 */
#define ADMIN_MODE_MAX		16

enum admin_state {
	ADMIN_READ = 0,
	ADMIN_WRITE,
	ADMIN_DRAIN,
	ADMIN_DEAD,
};

struct admin_conn {
	struct admin_conn	*next, *prev;
	struct tproxy_admin	*adm;
	int			 fd;
	enum admin_state	 state;
	uint64_t		 last;		/* loop_now_ms() of progress */
	char			 in[ADMIN_MAX_REQUEST];
	size_t			 inlen;
	struct http_request	 req;
	size_t			 head_len;	/* 0: head not complete */
	size_t			 pos;		/* next unparsed body byte */
	struct http_body	 body;
	char			 bodybuf[ADMIN_MAX_BODY];
	size_t			 blen;
	int			 sent_continue;
	char			*out;
	size_t			 outlen, outoff;
};

struct tproxy_admin {
	struct loop		*loop;
	int			 lfd;
	uint16_t		 port;
	struct tproxy_admin_config conf;	/* listen: NULL (not kept) */
	uint64_t		 started;	/* loop_now_ms() */
	struct admin_conn	*conns;
	unsigned		 nconns;
	int			 dead;		/* some conn awaits reaping */

	pthread_mutex_t		 lock;		/* below: set by reload */
	int			 have_token;
	unsigned char		 token_digest[ADMIN_DIGEST];
	char			 mode[ADMIN_MODE_MAX];
	unsigned		 dlp_patterns;
	int			 forward_proxy, tls_interception, body_scan;

	uint64_t		 window_start;	/* toggle rate limit */
	unsigned		 window_count;
};

/* ---- responses ---- */

static const char *
admin_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 503: return "Service Unavailable";
	}
	return http_status_text(status);
}

/*
 * A complete response.  extra is more header lines, each ending in CRLF.
 * head_only leaves the body out (HEAD) but keeps its Content-Length.
 */
static char *
admin_reply(int status, const char *ctype, const char *extra,
    const char *body, size_t blen, size_t *lenp)
{
	char head[512];
	char *out;
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n"
	    "Connection: close\r\n%s\r\n", status, admin_status_text(status),
	    ctype, blen, extra ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return NULL;
	if ((out = malloc((size_t)n + blen + 1)) == NULL)
		return NULL;
	memcpy(out, head, (size_t)n);
	memcpy(out + n, body, blen);
	out[n + blen] = '\0';
	*lenp = (size_t)n + blen;
	return out;
}

/* Go's http.Error: text/plain, the message and a newline. */
static char *
admin_error(int status, const char *extra, const char *msg, size_t *lenp)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "%s\n", msg);

	return admin_reply(status, "text/plain; charset=utf-8", extra, body,
	    n < 0 ? 0 : (size_t)n < sizeof(body) ? (size_t)n : sizeof(body) - 1,
	    lenp);
}

static char *
admin_json(int status, const char *extra, const char *body, size_t *lenp)
{
	return admin_reply(status, "application/json", extra, body,
	    strlen(body), lenp);
}

/* ---- token ---- */

/* SHA-256 of s; -1 if the digest could not be computed. */
static int
admin_digest(const char *s, size_t len, unsigned char md[ADMIN_DIGEST])
{
	unsigned int mdlen = ADMIN_DIGEST;

	return EVP_Digest(s, len, md, &mdlen, EVP_sha256(), NULL) == 1 &&
	    mdlen == ADMIN_DIGEST ? 0 : -1;
}

void
tproxy_admin_set_token(struct tproxy_admin *adm, const char *token)
{
	pthread_mutex_lock(&adm->lock);
	/* a digest failure leaves the API unconfigured (503), not open */
	adm->have_token = token != NULL && token[0] != '\0' &&
	    admin_digest(token, strlen(token), adm->token_digest) == 0;
	if (!adm->have_token)
		explicit_bzero(adm->token_digest, sizeof(adm->token_digest));
	pthread_mutex_unlock(&adm->lock);
}

int
tproxy_admin_token_ok(struct tproxy_admin *adm, const char *tok, size_t len)
{
	unsigned char md[ADMIN_DIGEST], want[ADMIN_DIGEST];
	int have;

	/*
	 * Comparing digests makes the time independent of where the first
	 * difference is and of both lengths (a plain memcmp of different
	 * lengths would reveal the configured token's length).
	 */
	if (admin_digest(tok, len, md) == -1)
		return 0;
	pthread_mutex_lock(&adm->lock);
	have = adm->have_token;
	memcpy(want, adm->token_digest, sizeof(want));
	pthread_mutex_unlock(&adm->lock);
	have = have && CRYPTO_memcmp(md, want, sizeof(md)) == 0;
	explicit_bzero(want, sizeof(want));
	return have;
}

static int
admin_has_token(struct tproxy_admin *adm)
{
	int have;

	pthread_mutex_lock(&adm->lock);
	have = adm->have_token;
	pthread_mutex_unlock(&adm->lock);
	return have;
}

void
tproxy_admin_reconfigure(struct tproxy_admin *adm, const struct config *cfg,
    unsigned dlp_patterns)
{
	static const char *const modes[] = { "balanced", "strict", "audit" };
	const char *env = getenv(ADMIN_TOKEN_ENV);

	pthread_mutex_lock(&adm->lock);
	adm->dlp_patterns = dlp_patterns;
	if (cfg != NULL) {
		snprintf(adm->mode, sizeof(adm->mode), "%s",
		    (unsigned)cfg->mode < 3 ? modes[cfg->mode] : "balanced");
		adm->forward_proxy = cfg->forward_proxy.enabled;
		adm->tls_interception = cfg->tls.enabled;
		adm->body_scan = cfg->request_body.enabled;
	}
	pthread_mutex_unlock(&adm->lock);
	if (env != NULL && env[0] != '\0')
		tproxy_admin_set_token(adm, env);
	else
		tproxy_admin_set_token(adm, cfg ? cfg->kill_switch.api_token :
		    NULL);
}

/* ---- routes ---- */

/* The path of an origin-form target (query cut), or len 0. */
static struct http_span
admin_path(const char *buf, const struct http_request *req)
{
	struct http_span p = { 0, 0 };
	const char *q;

	if (req->form != HTTP_TARGET_ORIGIN)
		return p;
	p = req->target;
	if ((q = memchr(buf + p.off, '?', p.len)) != NULL)
		p.len = (size_t)(q - (buf + p.off));
	return p;
}

static int
span_is(const char *buf, struct http_span s, const char *str)
{
	return s.len == strlen(str) && memcmp(buf + s.off, str, s.len) == 0;
}

enum admin_route {
	ROUTE_NONE = 0,
	ROUTE_HEALTH,
	ROUTE_METRICS,
	ROUTE_KS_TOGGLE,
	ROUTE_KS_STATUS,
};

static enum admin_route
admin_route_of(const struct tproxy_admin *adm, const char *buf,
    const struct http_request *req)
{
	struct http_span p = admin_path(buf, req);

	if ((adm->conf.routes & ADMIN_ROUTE_HEALTH) &&
	    span_is(buf, p, "/health"))
		return ROUTE_HEALTH;
	if ((adm->conf.routes & ADMIN_ROUTE_METRICS) &&
	    span_is(buf, p, "/metrics"))
		return ROUTE_METRICS;
	if ((adm->conf.routes & ADMIN_ROUTE_KILLSWITCH) &&
	    adm->conf.ks != NULL) {
		if (span_is(buf, p, "/api/v1/killswitch"))
			return ROUTE_KS_TOGGLE;
		if (span_is(buf, p, "/api/v1/killswitch/status"))
			return ROUTE_KS_STATUS;
	}
	return ROUTE_NONE;
}

int
tproxy_admin_route(const struct tproxy_admin *adm, const char *buf,
    const struct http_request *req)
{
	return admin_route_of(adm, buf, req) != ROUTE_NONE;
}

static void
skip_ws(const char *s, size_t n, size_t *i)
{
	while (*i < n && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\r' ||
	    s[*i] == '\n'))
		(*i)++;
}

static int
lit(const char *s, size_t n, size_t *i, const char *w)
{
	size_t k = strlen(w);

	if (n - *i < k || memcmp(s + *i, w, k) != 0)
		return 0;
	*i += k;
	return 1;
}

/*
 * The toggle body: exactly one JSON object whose only member is "active"
 * (matched case-insensitively like Go's encoding/json) with true or false.
 * null leaves it unset, as a nil *bool in pipelock.  Returns 1/0, or -1
 * with *why set.
 */
static int
admin_parse_toggle(const char *s, size_t n, const char **why)
{
	size_t i = 0, ks;
	int val = -1;

	skip_ws(s, n, &i);
	if (!lit(s, n, &i, "{")) {
		*why = "invalid JSON body";
		return -1;
	}
	skip_ws(s, n, &i);
	if (!lit(s, n, &i, "}")) {
		for (;;) {
			if (!lit(s, n, &i, "\"")) {
				*why = "invalid JSON body";
				return -1;
			}
			ks = i;
			while (i < n && s[i] != '"' && s[i] != '\\' &&
			    (unsigned char)s[i] >= 0x20)
				i++;
			if (i >= n || s[i] != '"') {
				*why = "invalid JSON body";
				return -1;
			}
			if (i - ks != 6 || strncasecmp(s + ks, "active", 6)) {
				*why = "unknown field in JSON body";
				return -1;
			}
			i++;
			skip_ws(s, n, &i);
			if (!lit(s, n, &i, ":")) {
				*why = "invalid JSON body";
				return -1;
			}
			skip_ws(s, n, &i);
			if (lit(s, n, &i, "true"))
				val = 1;
			else if (lit(s, n, &i, "false"))
				val = 0;
			else if (lit(s, n, &i, "null"))
				val = -1;
			else {
				*why = "\"active\" must be true or false";
				return -1;
			}
			skip_ws(s, n, &i);
			if (lit(s, n, &i, "}"))
				break;
			if (!lit(s, n, &i, ",")) {
				*why = "invalid JSON body";
				return -1;
			}
			skip_ws(s, n, &i);
		}
	}
	skip_ws(s, n, &i);
	if (i != n) {
		*why = "body must be a single JSON object";
		return -1;
	}
	if (val == -1) {
		*why = "missing required field \"active\"";
		return -1;
	}
	return val;
}

/* 1 if the request carries "Authorization: Bearer <the token>". */
static int
admin_authorized(struct tproxy_admin *adm, const char *buf,
    const struct http_request *req)
{
	const struct http_field *f;
	unsigned from = 0;
	const char *v;

	if ((f = http_field_find(req, buf, "authorization", &from)) == NULL)
		return 0;
	/* a second Authorization header is ambiguous: refuse */
	if (http_field_find(req, buf, "authorization", &from) != NULL)
		return 0;
	v = buf + f->value.off;
	if (f->value.len < 7 || memcmp(v, "Bearer ", 7) != 0)
		return 0;
	return tproxy_admin_token_ok(adm, v + 7, f->value.len - 7);
}

static char *
admin_health(struct tproxy_admin *adm, size_t *lenp)
{
	char body[768];
	int fw = adm->conf.firewall_installed ?
	    adm->conf.firewall_installed(adm->conf.ctx) == 1 : 0;
	uint64_t up = loop_now_ms() - adm->started;

	pthread_mutex_lock(&adm->lock);
	snprintf(body, sizeof(body), "{\"status\":\"healthy\","
	    "\"version\":\"%s\","
	    "\"mode\":\"%s\",\"uptime_seconds\":%llu.%03u,"
	    "\"dlp_patterns\":%u,\"response_scan_enabled\":false,"
	    "\"forward_proxy_enabled\":%s,\"websocket_proxy_enabled\":false,"
	    "\"request_body_scan_enabled\":%s,"
	    "\"tls_interception_enabled\":%s,\"kill_switch_active\":%s,"
	    "\"firewall_installed\":%s}", PIPELOCK_FW_VERSION,
	    adm->mode[0] ? adm->mode : "balanced",
	    (unsigned long long)(up / 1000), (unsigned)(up % 1000),
	    adm->dlp_patterns, adm->forward_proxy ? "true" : "false",
	    adm->body_scan ? "true" : "false",
	    adm->tls_interception ? "true" : "false",
	    adm->conf.ks && killswitch_active(adm->conf.ks) ? "true" : "false",
	    fw ? "true" : "false");
	pthread_mutex_unlock(&adm->lock);
	return admin_json(200, NULL, body, lenp);
}

static char *
admin_metrics(struct tproxy_admin *adm, size_t *lenp, int *status)
{
	struct metrics *r = adm->conf.metrics ? adm->conf.metrics :
	    metrics_global();
	size_t len = 0;
	char *text, *out;

	if (adm->conf.ks != NULL)
		killswitch_publish(adm->conf.ks, adm->conf.metrics);
	if ((text = metrics_render_alloc(r, ADMIN_METRICS_MAX, &len)) == NULL) {
		*status = 500;
		return admin_error(500, NULL, "metrics unavailable", lenp);
	}
	out = admin_reply(200, "text/plain; version=0.0.4; charset=utf-8",
	    NULL, text, len, lenp);
	free(text);
	return out;
}

static char *
admin_killswitch(struct tproxy_admin *adm, enum admin_route route,
    const char *buf, const struct http_request *req, const char *body,
    size_t blen, size_t *lenp, int *status)
{
	char json[KS_JSON_MAX];
	const char *why = NULL;
	uint64_t now;
	int on;

	if (route == ROUTE_KS_TOGGLE && req->method_code != HTTP_METHOD_POST) {
		*status = 405;
		return admin_error(405, "Allow: POST\r\n", "method not allowed",
		    lenp);
	}
	if (route == ROUTE_KS_STATUS && req->method_code != HTTP_METHOD_GET) {
		*status = 405;
		return admin_error(405, "Allow: GET\r\n", "method not allowed",
		    lenp);
	}
	if (!admin_has_token(adm)) {
		*status = 503;
		return admin_error(503, NULL,
		    "kill switch API not configured (no api_token)", lenp);
	}
	if (!admin_authorized(adm, buf, req)) {
		*status = 401;
		return admin_error(401,
		    "WWW-Authenticate: Bearer realm=\"pipelock\"\r\n",
		    "unauthorized", lenp);
	}
	if (route == ROUTE_KS_STATUS) {
		killswitch_status_json(adm->conf.ks, json, sizeof(json));
		*status = 200;
		return admin_json(200, NULL, json, lenp);
	}
	now = loop_now_ms();
	if (adm->window_count == 0 ||
	    now - adm->window_start >= ADMIN_TOGGLE_WINDOW_MS) {
		adm->window_start = now;
		adm->window_count = 0;
	}
	if (adm->window_count >= ADMIN_TOGGLE_LIMIT) {
		*status = 429;
		return admin_error(429, "Retry-After: 60\r\n",
		    "rate limit exceeded", lenp);
	}
	adm->window_count++;
	if (blen > ADMIN_KS_BODY_MAX) {
		*status = 413;
		return admin_error(413, NULL, "request body too large", lenp);
	}
	if ((on = admin_parse_toggle(body, blen, &why)) == -1) {
		*status = 400;
		return admin_error(400, NULL, why, lenp);
	}
	killswitch_set_api(adm->conf.ks, on);
	log_info("kill switch api source %s", on ? "activated" : "deactivated");
	killswitch_toggle_json(adm->conf.ks, on, json, sizeof(json));
	*status = 200;
	return admin_json(200, NULL, json, lenp);
}

char *
tproxy_admin_respond(struct tproxy_admin *adm, const char *buf,
    const struct http_request *req, const char *body, size_t blen,
    int peer_fd, size_t *lenp, int *status)
{
	enum admin_route route = admin_route_of(adm, buf, req);

	switch (route) {
	case ROUTE_NONE:
		*status = 404;
		return admin_error(404, NULL, "404 page not found", lenp);
	case ROUTE_HEALTH:
	case ROUTE_METRICS:
		if (req->method_code != HTTP_METHOD_GET) {
			*status = 405;
			return admin_error(405, "Allow: GET\r\n",
			    "method not allowed", lenp);
		}
		*status = 200;
		return route == ROUTE_HEALTH ? admin_health(adm, lenp) :
		    admin_metrics(adm, lenp, status);
	case ROUTE_KS_TOGGLE:
	case ROUTE_KS_STATUS:
		if (adm->conf.peer_is_agent != NULL &&
		    adm->conf.peer_is_agent(adm->conf.ctx, peer_fd) != 0) {
			/* unknown (-1) is refused too: fail closed */
			*status = 403;
			return admin_error(403, NULL, "admin operations are "
			    "not allowed from agent users", lenp);
		}
		return admin_killswitch(adm, route, buf, req, body, blen, lenp,
		    status);
	}
	return NULL;
}

/* ---- connections ---- */

static void admin_conn_cb(struct loop *l, int fd, int mask, void *ctx);

/* Mark c for reaping: unregistered and closed now, freed in tick. */
static void
admin_conn_close(struct admin_conn *c)
{
	if (c->state == ADMIN_DEAD)
		return;
	loop_del(c->adm->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	c->state = ADMIN_DEAD;
	c->adm->dead = 1;
}

static void
admin_conn_free(struct admin_conn *c)
{
	struct tproxy_admin *adm = c->adm;

	admin_conn_close(c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		adm->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	adm->nconns--;
	free(c->out);
	free(c);
}

/* Queue out (NULL: the allocation failed; abort just this connection). */
static void
admin_conn_send(struct admin_conn *c, char *out, size_t len)
{
	if (out == NULL) {
		admin_conn_close(c);
		return;
	}
	c->out = out;
	c->outlen = len;
	c->outoff = 0;
	c->state = ADMIN_WRITE;
	loop_set(c->adm->loop, c->fd, LOOP_WRITE);
}

static void
admin_conn_error(struct admin_conn *c, int status, const char *msg)
{
	size_t len = 0;
	char *out = admin_error(status, NULL, msg, &len);

	admin_conn_send(c, out, len);
}

/* Parse what is buffered; respond once the request is complete. */
static void
admin_conn_parse(struct admin_conn *c)
{
	struct http_span data;
	size_t len = 0;
	int r, status;
	char *out;

	if (c->head_len == 0) {
		r = http_request_parse(&c->req, c->in, c->inlen);
		if (r == -1) {
			admin_conn_error(c, c->req.status, c->req.reason ?
			    c->req.reason : "bad request");
			return;
		}
		if (r == 0) {
			if (c->inlen == sizeof(c->in))
				admin_conn_error(c, 431,
				    "request header fields too large");
			return;
		}
		c->head_len = c->pos = (size_t)r;
		if (c->req.framing == HTTP_FRAMING_LENGTH &&
		    c->req.content_length > ADMIN_MAX_BODY) {
			admin_conn_error(c, 413, "request body too large");
			return;
		}
		if (c->req.framing != HTTP_FRAMING_NONE &&
		    c->head_len > sizeof(c->in) - ADMIN_HEAD_ROOM) {
			admin_conn_error(c, 431,
			    "request header fields too large");
			return;
		}
		http_body_init(&c->body, &c->req);
	}
	while (!c->body.done && c->req.framing != HTTP_FRAMING_NONE) {
		r = http_body_parse(&c->body, c->in + c->pos, c->inlen - c->pos,
		    &data);
		if (r == -1) {
			admin_conn_error(c, c->body.status ? c->body.status :
			    400, c->body.reason ? c->body.reason :
			    "bad request body");
			return;
		}
		if (r == 0)
			break;
		if (data.len > 0) {
			if (data.len > sizeof(c->bodybuf) - c->blen) {
				admin_conn_error(c, 413,
				    "request body too large");
				return;
			}
			memcpy(c->bodybuf + c->blen, c->in + c->pos + data.off,
			    data.len);
			c->blen += data.len;
		}
		c->pos += (size_t)r;
	}
	if (c->req.framing != HTTP_FRAMING_NONE && !c->body.done) {
		/* keep the head, drop the body bytes already copied */
		memmove(c->in + c->head_len, c->in + c->pos,
		    c->inlen - c->pos);
		c->inlen -= c->pos - c->head_len;
		c->pos = c->head_len;
		if (c->req.expect_continue && !c->sent_continue) {
			static const char cont[] =
			    "HTTP/1.1 100 Continue\r\n\r\n";

			c->sent_continue = 1;
			/* tiny, into an empty socket buffer: best effort */
			(void)send(c->fd, cont, sizeof(cont) - 1,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		return;
	}
	out = tproxy_admin_respond(c->adm, c->in, &c->req, c->bodybuf, c->blen,
	    c->fd, &len, &status);
	admin_conn_send(c, out, len);
}

static void
admin_conn_read(struct admin_conn *c)
{
	char sink[4096];
	ssize_t n;

	for (;;) {
		if (c->state == ADMIN_DRAIN) {
			n = recv(c->fd, sink, sizeof(sink), 0);
		} else {
			if (c->inlen == sizeof(c->in))
				return;	/* parse decides: 431 or wait */
			n = recv(c->fd, c->in + c->inlen,
			    sizeof(c->in) - c->inlen, 0);
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			admin_conn_close(c);	/* EOF or error */
			return;
		}
		c->last = loop_now_ms();
		if (c->state == ADMIN_DRAIN)
			continue;
		c->inlen += (size_t)n;
		admin_conn_parse(c);
		if (c->state != ADMIN_READ)
			return;
	}
}

static void
admin_conn_write(struct admin_conn *c)
{
	ssize_t n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == -1) {
			admin_conn_close(c);
			return;
		}
		c->outoff += (size_t)n;
		c->last = loop_now_ms();
	}
	free(c->out);
	c->out = NULL;
	shutdown(c->fd, SHUT_WR);
	c->state = ADMIN_DRAIN;
	loop_set(c->adm->loop, c->fd, LOOP_READ);
}

static void
admin_conn_cb(struct loop *l, int fd, int mask, void *ctx)
{
	struct admin_conn *c = ctx;

	if (c->state == ADMIN_WRITE && (mask & (LOOP_WRITE | LOOP_ERROR)))
		admin_conn_write(c);
	else if ((c->state == ADMIN_READ || c->state == ADMIN_DRAIN) &&
	    (mask & (LOOP_READ | LOOP_ERROR)))
		admin_conn_read(c);
}

static void
admin_accept_cb(struct loop *l, int lfd, int mask, void *ctx)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n"
	    "Connection: close\r\n\r\nbusy\n";
	struct tproxy_admin *adm = ctx;
	struct admin_conn *c;
	int fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("admin accept");
			return;
		}
		if (adm->nconns >= ADMIN_MAX_CONNS ||
		    (c = calloc(1, sizeof(*c))) == NULL) {
			(void)send(fd, busy, sizeof(busy) - 1,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		c->adm = adm;
		c->fd = fd;
		c->last = loop_now_ms();
		http_request_init(&c->req);
		if (loop_add(adm->loop, fd, LOOP_READ, admin_conn_cb, c)
		    == -1) {
			log_warn("admin: loop_add");
			close(fd);
			free(c);
			continue;
		}
		c->next = adm->conns;
		if (c->next != NULL)
			c->next->prev = c;
		adm->conns = c;
		adm->nconns++;
	}
}

void
tproxy_admin_tick(struct tproxy_admin *adm, uint64_t now)
{
	struct admin_conn *c, *next;

	if (adm == NULL)
		return;
	for (c = adm->conns; c != NULL; c = next) {
		next = c->next;
		if (c->state != ADMIN_DEAD && now - c->last >= ADMIN_IDLE_MS)
			admin_conn_close(c);
		if (c->state == ADMIN_DEAD)
			admin_conn_free(c);
	}
	adm->dead = 0;
}

unsigned
tproxy_admin_nconns(const struct tproxy_admin *adm)
{
	return adm ? adm->nconns : 0;
}

/* ---- listener ---- */

/* Split "host:port", "[v6]:port" or ":port" into host (NULL: any) and port. */
static int
admin_split(const char *addr, char *host, size_t hlen, char *port,
    size_t plen)
{
	const char *colon, *h = addr;
	size_t n;

	if (addr[0] == '[') {
		if ((colon = strstr(addr, "]:")) == NULL)
			return -1;
		h = addr + 1;
		n = (size_t)(colon - h);
		colon++;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL)
			return -1;
		n = (size_t)(colon - addr);
	}
	if (n >= hlen || strlen(colon + 1) >= plen || colon[1] == '\0')
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	snprintf(port, plen, "%s", colon + 1);
	return 0;
}

static int
admin_listen(struct tproxy_admin *adm, const char *addr, char *err,
    size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], port[16];
	int one = 1, rc, ret = -1;

	if (admin_split(addr, host, sizeof(host), port, sizeof(port)) == -1) {
		snprintf(err, errlen, "%s: expected host:port", addr);
		return -1;
	}
	if ((rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res))
	    != 0) {
		snprintf(err, errlen, "%s: %s", addr, gai_strerror(rc));
		return -1;
	}
	adm->lfd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (adm->lfd == -1 ||
	    setsockopt(adm->lfd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1 ||
	    bind(adm->lfd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(adm->lfd, ADMIN_BACKLOG) == -1 ||
	    getsockname(adm->lfd, (struct sockaddr *)&ss, &sl) == -1) {
		snprintf(err, errlen, "%s: %s", addr, strerror(errno));
		goto cleanup;
	}
	adm->port = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	if (loop_add(adm->loop, adm->lfd, LOOP_READ, admin_accept_cb, adm)
	    == -1) {
		snprintf(err, errlen, "%s: loop: %s", addr, strerror(errno));
		goto cleanup;
	}
	ret = 0;
cleanup:
	freeaddrinfo(res);
	if (ret == -1 && adm->lfd != -1) {
		close(adm->lfd);
		adm->lfd = -1;
	}
	return ret;
}

struct tproxy_admin *
tproxy_admin_new(struct loop *l, const struct tproxy_admin_config *cfg,
    char *err, size_t errlen)
{
	struct tproxy_admin *adm;

	if ((cfg->routes & ADMIN_ROUTE_KILLSWITCH) && cfg->ks == NULL) {
		snprintf(err, errlen, "kill switch routes need a kill switch");
		return NULL;
	}
	if ((adm = calloc(1, sizeof(*adm))) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	adm->loop = l;
	adm->lfd = -1;
	adm->conf = *cfg;
	adm->conf.listen = NULL;
	adm->started = loop_now_ms();
	pthread_mutex_init(&adm->lock, NULL);
	if (cfg->listen != NULL && admin_listen(adm, cfg->listen, err, errlen)
	    == -1) {
		tproxy_admin_free(adm);
		return NULL;
	}
	return adm;
}

void
tproxy_admin_free(struct tproxy_admin *adm)
{
	if (adm == NULL)
		return;
	while (adm->conns != NULL)
		admin_conn_free(adm->conns);
	if (adm->lfd != -1) {
		loop_del(adm->loop, adm->lfd);
		close(adm->lfd);
	}
	explicit_bzero(adm->token_digest, sizeof(adm->token_digest));
	pthread_mutex_destroy(&adm->lock);
	free(adm);
}

uint16_t
tproxy_admin_port(const struct tproxy_admin *adm)
{
	return adm ? adm->port : 0;
}
