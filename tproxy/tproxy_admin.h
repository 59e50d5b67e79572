/*
 * tproxy_admin.h - the operator's HTTP endpoints: /health, /metrics and the
 * kill switch API, as a small HTTP/1.1 server on a core/loop.h loop.
 *
 * One object = one listening socket (kill_switch.api_listen, metrics_listen,
 * or a test's 127.0.0.1:0) serving the routes enabled in its config.  Each
 * connection carries one request (parsed by tproxy_http.h) and gets one
 * response with "Connection: close"; buffers, body size, connection count
 * and idle time are bounded.  tproxy_admin_respond() is the same router
 * without the socket, for the engine's explicit proxy port.
 *
 * Kill switch API (pipelock internal/killswitch/api.go): POST
 * /api/v1/killswitch with "Authorization: Bearer <token>" and the body
 * exactly {"active": true|false}; GET /api/v1/killswitch/status.  Checks in
 * pipelock's order: method (405 + Allow), token configured (503), bearer
 * token (401 + WWW-Authenticate; compared as SHA-256 digests with
 * CRYPTO_memcmp, so neither content nor length leaks through timing),
 * toggle rate limit (10 per fixed minute, 429 + Retry-After: 60), body
 * (400; over ADMIN_KS_BODY_MAX 413).  API routes from a peer the
 * peer_is_agent hook names are refused with 403.
 *
 * Threading: the object belongs to one loop's thread; set_token and
 * reconfigure may be called from another thread (reload).
 */
#ifndef PIPELOCK_TPROXY_ADMIN_H
#define PIPELOCK_TPROXY_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#define ADMIN_MAX_CONNS		32	/* more are answered 503 and closed */
#define ADMIN_MAX_REQUEST	16384	/* head + body bytes buffered */
#define ADMIN_MAX_BODY		4096	/* de-chunked body bytes kept */
#define ADMIN_KS_BODY_MAX	1024	/* kill switch toggle body */
#define ADMIN_IDLE_MS		10000	/* no progress: closed */
#define ADMIN_TOGGLE_LIMIT	10	/* toggles per window */
#define ADMIN_TOGGLE_WINDOW_MS	60000
#define ADMIN_METRICS_MAX	(8u << 20)	/* bound of /metrics text */
#define ADMIN_TOKEN_ENV		"PIPELOCK_KILLSWITCH_API_TOKEN"

#define ADMIN_ROUTE_HEALTH	0x1
#define ADMIN_ROUTE_METRICS	0x2
#define ADMIN_ROUTE_KILLSWITCH	0x4	/* /api/v1/killswitch[/status] */
#define ADMIN_ROUTE_ALL		0x7

struct config;
struct http_request;
struct killswitch;
struct loop;
struct metrics;
struct tproxy_admin;

struct tproxy_admin_config {
	const char	*listen;	/* "host:port", "[v6]:port", ":port";
					   port 0 picks one; NULL: no socket */
	unsigned	 routes;	/* ADMIN_ROUTE_* */
	struct killswitch *ks;		/* required for KILLSWITCH routes */
	struct metrics	*metrics;	/* NULL: metrics_global() */
	/* /health: 1 when the firewall table is installed (NULL: false) */
	int		(*firewall_installed)(void *ctx);
	/* 1 when the peer of fd is an agent uid: API routes refused */
	int		(*peer_is_agent)(void *ctx, int fd);
	void		*ctx;
};

/*
 * Bind cfg->listen, register it in l, and serve.  Health fields and the
 * token start empty: call tproxy_admin_reconfigure().  NULL on error with a
 * message in err.
 */
struct tproxy_admin *tproxy_admin_new(struct loop *l,
    const struct tproxy_admin_config *cfg, char *err, size_t errlen);
/* Unregister and close the listener and every connection; free.  NULL ok. */
void tproxy_admin_free(struct tproxy_admin *adm);

/* The bound port (host order), 0 without a socket. */
uint16_t tproxy_admin_port(const struct tproxy_admin *adm);

/*
 * Take what /health reports and the API token from a (re)loaded config:
 * mode, feature flags, kill_switch.api_token (the environment's
 * PIPELOCK_KILLSWITCH_API_TOKEN wins when set).  dlp_patterns is the
 * compiled pattern count.  The config is not kept.
 */
void tproxy_admin_reconfigure(struct tproxy_admin *adm,
    const struct config *cfg, unsigned dlp_patterns);
/* Set the bearer token (NULL or "": the API answers 503). */
void tproxy_admin_set_token(struct tproxy_admin *adm, const char *token);

/*
 * After each loop_once(): free the connections closed during it, close
 * those idle for ADMIN_IDLE_MS (now from loop_now_ms()).
 */
void tproxy_admin_tick(struct tproxy_admin *adm, uint64_t now);
/* Connections open now (tests). */
unsigned tproxy_admin_nconns(const struct tproxy_admin *adm);

/*
 * The router alone, for a request another server parsed (the explicit
 * proxy port): whether the request's origin-form path is one of adm's
 * routes, and the full response (status line, headers with Connection:
 * close, body) as a malloc'd buffer the caller frees, *lenp its length,
 * *status the code.  body is the de-chunked body (at most ADMIN_MAX_BODY
 * bytes; the caller answers 413 beyond).  peer_fd is passed to the
 * peer_is_agent hook.  NULL on ENOMEM.
 */
int tproxy_admin_route(const struct tproxy_admin *adm, const char *buf,
    const struct http_request *req);
char *tproxy_admin_respond(struct tproxy_admin *adm, const char *buf,
    const struct http_request *req, const char *body, size_t blen,
    int peer_fd, size_t *lenp, int *status);

/*
 * Compare a presented bearer token with the configured one in constant
 * time, independent of both lengths: 1 equal, 0 not (or none configured).
 */
int tproxy_admin_token_ok(struct tproxy_admin *adm, const char *tok,
    size_t len);

#endif
