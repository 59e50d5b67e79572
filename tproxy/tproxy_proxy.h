/*
 * tproxy_proxy.h - the explicit proxy port (fetch_proxy.listen, default
 * 127.0.0.1:8888; `run --listen ADDR`), for clients that set HTTP(S)_PROXY.
 *
 * Routing follows pipelock's main listener (proxy.go buildHandler):
 *   kill switch active    503 JSON (admin routes still answer)
 *   CONNECT host:port     forward_proxy.enabled: URL layers on https://host/
 *                         + header DLP (the inspector), SSRF-safe dial,
 *                         "200 Connection Established", the tunnelled
 *                         ClientHello's SNI judged as on the transparent
 *                         path (+ forward_proxy.sni_verification), then a
 *                         relay bounded by idle_timeout_seconds and
 *                         max_tunnel_seconds.  Disabled: 405.
 *   absolute-form         forward_proxy.enabled: the request is judged by
 *                         tproxy_inspect exactly like transparent HTTP (URL,
 *                         header and streamed body DLP) and held until it
 *                         passed; then the engine resolves the host (off the
 *                         loop), refuses internal addresses (SSRF), dials
 *                         with SO_MARK, sends the request in origin-form
 *                         without hop-by-hop / proxy / forwarding headers
 *                         and relays the response.  Disabled: 405.
 *   GET /fetch?url=U      fetched on the caller's behalf after the URL
 *                         checks (https:// over TLS verified against the
 *                         system trust store, SNI + host name checked);
 *                         JSON answer.
 *   /health, /metrics     a socket-less tproxy_admin router (the routes
 *                         the engine gives: metrics_listen / api_listen
 *                         move them); kill switch API routes from an agent
 *                         uid (sock_diag of the loopback peer) are 403.
 * One request per client connection (the upstream gets Connection: close;
 * so does the client).  Every object belongs to one worker's loop; one per
 * worker, the listeners share the port with SO_REUSEPORT.
 */
#ifndef PIPELOCK_TPROXY_PROXY_H
#define PIPELOCK_TPROXY_PROXY_H

#include <stddef.h>
#include <stdint.h>

#define PROXY_HEAD_TIMEOUT_MS	10000	/* whole head; then idle, body */
#define PROXY_HELLO_TIMEOUT_MS	5000	/* ClientHello after 200 (pipelock) */
#define PROXY_LINGER_MS		1000	/* after our answer, for the client's FIN */
#define PROXY_RELAY_BUF		16384	/* per direction */
#define PROXY_MAX_CONNS		1024	/* per object; pipelock: 1024 tunnels */
#define PROXY_SWEEP_MS		200

struct killswitch;
struct loop;
struct mitm;
struct resolver;
struct tproxy_proxy;

struct tproxy_proxy_config {
	const char	*listen;	/* "host:port", "[v6]:port", ":port" */
	struct resolver	*resolver;	/* required */
	unsigned	 admin_routes;	/* ADMIN_ROUTE_* served here (0: none) */
	struct killswitch *ks;		/* NULL: no kill switch checks (and no
					   ADMIN_ROUTE_KILLSWITCH) */
	/* /health: 1 when the firewall table is installed (NULL: false) */
	int		(*firewall_installed)(void *ctx);
	void		*ctx;
	/* TLS interception (the engine's, shared; NULL: off): CONNECT
	   tunnels to intercepted names are decrypted and inspected */
	struct mitm	*mitm;
};

/*
 * Bind pc->listen (SO_REUSEADDR + SO_REUSEPORT, so each worker binds its
 * own) and serve on l.  NULL with a message in err.
 */
struct tproxy_proxy *tproxy_proxy_new(struct loop *l,
    const struct tproxy_proxy_config *pc, char *err, size_t errlen);
/* Close the listener and every connection (their slots, tunnels); free. */
void tproxy_proxy_free(struct tproxy_proxy *px);

/*
 * After each loop_once() of the owning thread: free what was closed in
 * it, and every PROXY_SWEEP_MS apply the timeouts.  NULL ok.
 */
void tproxy_proxy_tick(struct tproxy_proxy *px, uint64_t now);

/* The bound port (host order). */
uint16_t tproxy_proxy_port(const struct tproxy_proxy *px);
/* Connections open now (tests). */
unsigned tproxy_proxy_nconns(const struct tproxy_proxy *px);

#endif
