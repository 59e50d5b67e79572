/*
 * test_admin.c - tproxy_admin over real sockets on 127.0.0.1: /health,
 * /metrics (strict format check), the kill switch API (auth, methods, body
 * validation, rate limit, agent peers), bounds (connections, idle, head and
 * body size), and the router alone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/config.h"
#include "core/killswitch.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "lib/promcheck.h"
#include "tap.h"
#include "tproxy/tproxy_admin.h"
#include "tproxy/tproxy_http.h"

#define TEST_TOKEN	"s3cret-token"
#define RESP_MAX	(1 << 20)
#define WAIT_MS		3000	/* fail-fast bound for one exchange */

static struct loop *lp;
static struct killswitch *ks;
static struct tproxy_admin *adm;
static int agent_peer;		/* what the peer_is_agent hook answers */
static int hook_calls;
static char resp[RESP_MAX];
static size_t resp_len;

static int
fw_installed(void *ctx)
{
	return 1;
}

static int
peer_is_agent(void *ctx, int fd)
{
	hook_calls++;
	return agent_peer;
}

static void
setup(void)
{
	struct tproxy_admin_config ac = {
		.listen = "127.0.0.1:0",
		.routes = ADMIN_ROUTE_ALL,
		.firewall_installed = fw_installed,
		.peer_is_agent = peer_is_agent,
	};
	char err[256];

	lp = loop_new();
	ks = killswitch_new(NULL);
	ac.ks = ks;
	adm = tproxy_admin_new(lp, &ac, err, sizeof(err));
	if (adm == NULL)
		diag("admin: %s", err);
	agent_peer = 0;
}

static void
teardown(void)
{
	tproxy_admin_free(adm);
	killswitch_free(ks);
	loop_free(lp);
	adm = NULL;
	ks = NULL;
	lp = NULL;
}

static int
connect_admin(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons(tproxy_admin_port(adm)) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sin, sizeof(sin))
	    == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/* Run the loop until fd has the whole response (EOF); NUL-terminated. */
static int
collect(int fd)
{
	uint64_t end = loop_now_ms() + WAIT_MS;
	ssize_t n;

	resp_len = 0;
	resp[0] = '\0';
	while (loop_now_ms() < end) {
		loop_once(lp, 20);
		tproxy_admin_tick(adm, loop_now_ms());
		for (;;) {
			n = recv(fd, resp + resp_len, RESP_MAX - 1 - resp_len,
			    MSG_DONTWAIT);
			if (n > 0) {
				resp_len += (size_t)n;
				resp[resp_len] = '\0';
				continue;
			}
			if (n == 0) {
				close(fd);
				return 0;
			}
			break;
		}
	}
	close(fd);
	return -1;
}

/* Send raw, return the status code (0: no response). */
static int
exchange(const char *raw, size_t len)
{
	int fd = connect_admin();

	if (fd == -1 || send(fd, raw, len, MSG_NOSIGNAL) != (ssize_t)len) {
		if (fd != -1)
			close(fd);
		return 0;
	}
	if (collect(fd) == -1 || strncmp(resp, "HTTP/1.1 ", 9) != 0)
		return 0;
	return atoi(resp + 9);
}

static int
req(const char *method, const char *path, const char *auth,
    const char *body)
{
	char raw[8192];
	int n;

	n = snprintf(raw, sizeof(raw), "%s %s HTTP/1.1\r\nHost: localhost\r\n"
	    "%s%s%s%s%s\r\n%s", method, path,
	    auth ? "Authorization: " : "", auth ? auth : "", auth ? "\r\n" : "",
	    body ? "Content-Type: application/json\r\n" : "",
	    "", body ? body : "");
	if (body != NULL) {
		/* add Content-Length: rebuild with it */
		n = snprintf(raw, sizeof(raw), "%s %s HTTP/1.1\r\n"
		    "Host: localhost\r\n%s%s%sContent-Length: %zu\r\n\r\n%s",
		    method, path, auth ? "Authorization: " : "",
		    auth ? auth : "", auth ? "\r\n" : "", strlen(body), body);
	}
	return exchange(raw, (size_t)n);
}

static const char *
resp_body(void)
{
	const char *p = strstr(resp, "\r\n\r\n");

	return p ? p + 4 : "";
}

static int
has_header(const char *line)
{
	const char *end = strstr(resp, "\r\n\r\n");
	const char *p = strstr(resp, line);

	return p != NULL && end != NULL && p < end;
}

static void
test_health_metrics(void)
{
	char err[512];
	long n;

	is_int(req("GET", "/health", NULL, NULL), 200, "GET /health 200");
	ok(has_header("Content-Type: application/json\r\n"), "health JSON");
	ok(strstr(resp_body(), "\"status\":\"healthy\"") != NULL &&
	    strstr(resp_body(), "\"kill_switch_active\":false") != NULL &&
	    strstr(resp_body(), "\"firewall_installed\":true") != NULL &&
	    strstr(resp_body(), "\"uptime_seconds\":") != NULL &&
	    strstr(resp_body(), "\"version\":\"") != NULL,
	    "health fields: %s", resp_body());
	ok(has_header("Connection: close\r\n"), "Connection: close");
	is_int(req("GET", "/health?x=1", NULL, NULL), 200, "query ignored");
	is_int(req("POST", "/health", NULL, "{}"), 405, "POST /health 405");
	ok(has_header("Allow: GET\r\n"), "405 has Allow");
	is_int(req("GET", "/nope", NULL, NULL), 404, "unknown path 404");

	metric_add(metrics_get(M_REQUESTS_TOTAL), METRIC_LV("blocked", "t"), 3);
	is_int(req("GET", "/metrics", NULL, NULL), 200, "GET /metrics 200");
	ok(has_header("Content-Type: text/plain; version=0.0.4; "
	    "charset=utf-8\r\n"), "metrics content type");
	n = promcheck(resp_body(), strlen(resp_body()), err, sizeof(err));
	if (!ok(n > 0, "/metrics passes the strict format check"))
		diag("%s", err);
	is_int(promcheck_value(resp_body(), "pipelock_requests_total{result="
	    "\"blocked\",agent=\"t\"}"), 3, "counter visible");
	killswitch_signal_toggle(ks);
	req("GET", "/metrics", NULL, NULL);
	is_int(promcheck_value(resp_body(), "pipelock_kill_switch_active{source="
	    "\"signal\"}"), 1, "kill switch gauge fresh at scrape");
	req("GET", "/health", NULL, NULL);
	ok(strstr(resp_body(), "\"kill_switch_active\":true") != NULL,
	    "health shows the kill switch");
	killswitch_signal_toggle(ks);
}

static void
test_auth(void)
{
	static const char *const bad[] = {
		"Bearer wrong", "Bearer s3cret-toke", "Bearer s3cret-tokenX",
		"bearer " TEST_TOKEN, "Bearer  " TEST_TOKEN, "Basic abc",
		"Bearer ", TEST_TOKEN,
	};
	size_t i;

	is_int(req("POST", "/api/v1/killswitch", "Bearer x",
	    "{\"active\":true}"), 503, "no token configured: 503");
	ok(strstr(resp_body(), "kill switch API not configured (no api_token)")
	    != NULL, "503 message");
	is_int(req("GET", "/api/v1/killswitch/status", NULL, NULL), 503,
	    "status without token configured: 503");

	tproxy_admin_set_token(adm, TEST_TOKEN);
	is_int(req("POST", "/api/v1/killswitch", NULL, "{\"active\":true}"),
	    401, "missing Authorization: 401");
	ok(has_header("WWW-Authenticate: Bearer realm=\"pipelock\"\r\n"),
	    "401 has WWW-Authenticate");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(req("POST", "/api/v1/killswitch", bad[i],
		    "{\"active\":true}"), 401, "401 for \"%s\"", bad[i]);
	ok(!killswitch_active(ks), "no bad request activated the switch");
	{
		const char *two = "POST /api/v1/killswitch HTTP/1.1\r\n"
		    "Host: x\r\nAuthorization: Bearer " TEST_TOKEN "\r\n"
		    "Authorization: Bearer " TEST_TOKEN "\r\n"
		    "Content-Length: 15\r\n\r\n{\"active\":true}";

		is_int(exchange(two, strlen(two)), 401,
		    "two Authorization headers: 401");
	}
	is_int(req("GET", "/api/v1/killswitch", "Bearer " TEST_TOKEN, NULL),
	    405, "GET toggle: 405");
	ok(has_header("Allow: POST\r\n"), "Allow: POST");
	is_int(req("POST", "/api/v1/killswitch/status", "Bearer " TEST_TOKEN,
	    "{}"), 405, "POST status: 405");
	ok(has_header("Allow: GET\r\n"), "Allow: GET");

	ok(tproxy_admin_token_ok(adm, TEST_TOKEN, strlen(TEST_TOKEN)),
	    "token_ok: equal");
	ok(!tproxy_admin_token_ok(adm, TEST_TOKEN, strlen(TEST_TOKEN) - 1),
	    "token_ok: prefix");
	ok(!tproxy_admin_token_ok(adm, "", 0), "token_ok: empty");
	tproxy_admin_set_token(adm, "");
	ok(!tproxy_admin_token_ok(adm, "", 0), "token_ok: none configured");
	tproxy_admin_set_token(adm, TEST_TOKEN);
}

static void
test_toggle(void)
{
	const char *auth = "Bearer " TEST_TOKEN;

	tproxy_admin_set_token(adm, TEST_TOKEN);
	is_int(req("POST", "/api/v1/killswitch", auth, "{\"active\": true}"),
	    200, "toggle on: 200");
	is_str(resp_body(), "{\"active\":true,\"source\":\"api\",\"message\":"
	    "\"" KS_DEFAULT_MESSAGE "\"}", "toggle on body");
	ok(killswitch_active(ks), "switch active");
	is_int(req("GET", "/api/v1/killswitch/status", auth, NULL), 200,
	    "status 200");
	is_str(resp_body(), "{\"active\":true,\"sources\":{\"config\":false,"
	    "\"api\":true,\"signal\":false,\"sentinel\":false},\"message\":"
	    "\"" KS_DEFAULT_MESSAGE "\"}", "status body");
	is_int(req("POST", "/api/v1/killswitch", auth,
	    " {\n\"Active\" : false }\n"), 200, "toggle off (Go's key match)");
	is_str(resp_body(), "{\"active\":false,\"source\":\"api\"}",
	    "toggle off body");
	ok(!killswitch_active(ks), "switch inactive");
}

static void
test_bodies(void)
{
	const char *auth = "Bearer " TEST_TOKEN;

	tproxy_admin_set_token(adm, TEST_TOKEN);
	{
		static const char *const bodies[] = {
			"{\"active\":true,\"x\":1}", "{}", "{\"active\":null}",
			"{\"active\":\"true\"}", "{\"active\":1}",
			"{\"active\":true}x", "{\"active\":true}{}", "",
			"[true]", "{\"act\\u0069ve\":true}",
		};
		size_t i;

		for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
			is_int(req("POST", "/api/v1/killswitch", auth,
			    bodies[i]), 400, "bad body 400: %s", bodies[i]);
	}
	ok(!killswitch_active(ks), "no bad body activated the switch");
}

static void
test_rate_limit(void)
{
	const char *auth = "Bearer " TEST_TOKEN;
	int i, okc = 0;

	tproxy_admin_set_token(adm, TEST_TOKEN);
	for (i = 0; i < ADMIN_TOGGLE_LIMIT; i++)
		okc += req("POST", "/api/v1/killswitch", auth,
		    i % 2 ? "{\"active\":false}" : "{\"active\":true}") == 200;
	is_int(okc, ADMIN_TOGGLE_LIMIT, "10 toggles in a minute allowed");
	is_int(req("POST", "/api/v1/killswitch", auth, "{\"active\":true}"),
	    429, "11th: 429");
	ok(has_header("Retry-After: 60\r\n"), "Retry-After: 60");
	ok(!killswitch_active(ks), "rate-limited toggle not applied");
	is_int(req("GET", "/api/v1/killswitch/status", auth, NULL), 200,
	    "status not rate limited");
	is_int(req("POST", "/api/v1/killswitch", "Bearer bad",
	    "{\"active\":true}"), 401, "auth checked before the rate limit");
}

static void
test_agent_peer(void)
{
	hook_calls = 0;
	agent_peer = 1;
	tproxy_admin_set_token(adm, TEST_TOKEN);
	is_int(req("POST", "/api/v1/killswitch", "Bearer " TEST_TOKEN,
	    "{\"active\":false}"), 403, "agent peer: API refused");
	is_int(req("GET", "/api/v1/killswitch/status", "Bearer " TEST_TOKEN,
	    NULL), 403, "agent peer: status refused");
	agent_peer = -1;
	is_int(req("GET", "/api/v1/killswitch/status", "Bearer " TEST_TOKEN,
	    NULL), 403, "unknown peer: refused (fail closed)");
	is_int(req("GET", "/health", NULL, NULL), 200, "agent peer: health ok");
	ok(hook_calls == 3, "hook consulted for API routes only");
	agent_peer = 0;
}

static void
test_framing(void)
{
	const char *auth = "Bearer " TEST_TOKEN;
	char raw[8192], big[2100];
	int n;

	tproxy_admin_set_token(adm, TEST_TOKEN);
	n = snprintf(raw, sizeof(raw), "POST /api/v1/killswitch HTTP/1.1\r\n"
	    "Host: x\r\nAuthorization: %s\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n8\r\n{\"active\r\n8\r\n\": true}\r\n0\r\n\r\n", auth);
	is_int(exchange(raw, (size_t)n), 200, "chunked body accepted");
	ok(killswitch_active(ks), "chunked toggle applied");
	killswitch_set_api(ks, 0);

	memset(big, ' ', sizeof(big));
	memcpy(big + sizeof(big) - 17, "{\"active\":true}", 16);
	big[sizeof(big) - 1] = '\0';
	is_int(req("POST", "/api/v1/killswitch", auth, big), 413,
	    "body over 1024 bytes: 413");
	n = snprintf(raw, sizeof(raw), "POST /api/v1/killswitch HTTP/1.1\r\n"
	    "Host: x\r\nContent-Length: 99999\r\n\r\n");
	is_int(exchange(raw, (size_t)n), 413, "declared huge body: 413");
	{
		const char *two = "GET /health HTTP/1.1\r\nHost: a\r\n"
		    "Host: b\r\n\r\n";

		is_int(exchange(two, strlen(two)), 400,
		    "parser error answered with its status");
	}
	{
		static char huge[ADMIN_MAX_REQUEST + 64];
		size_t k;

		k = (size_t)snprintf(huge, sizeof(huge), "GET /health HTTP/1.1"
		    "\r\nHost: x\r\n");
		while (k + 40 < sizeof(huge))
			k += (size_t)snprintf(huge + k, sizeof(huge) - k,
			    "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
		is_int(exchange(huge, k), 431, "head over the buffer: 431");
	}
	n = snprintf(raw, sizeof(raw), "POST /api/v1/killswitch HTTP/1.1\r\n"
	    "Host: x\r\nAuthorization: %s\r\nContent-Length: 16\r\n"
	    "Expect: 100-continue\r\n\r\n", auth);
	{
		int fd = connect_admin();
		uint64_t end = loop_now_ms() + WAIT_MS;
		char got[64] = "";
		ssize_t r = -1;

		send(fd, raw, (size_t)n, MSG_NOSIGNAL);
		while (loop_now_ms() < end && r <= 0) {
			loop_once(lp, 20);
			r = recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT);
		}
		if (r > 0)
			got[r] = '\0';
		ok(strncmp(got, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0,
		    "Expect: 100-continue answered");
		send(fd, "{\"active\":false}", 16, MSG_NOSIGNAL);
		collect(fd);
		ok(strncmp(resp, "HTTP/1.1 200 ", 13) == 0,
		    "then the final response");
	}
}

static void
test_bounds(void)
{
	int fds[ADMIN_MAX_CONNS + 1], i, st;
	uint64_t end = loop_now_ms() + WAIT_MS;

	/* earlier exchanges' server sides finish draining */
	while (tproxy_admin_nconns(adm) > 0 && loop_now_ms() < end) {
		loop_once(lp, 20);
		tproxy_admin_tick(adm, loop_now_ms());
	}
	is_int(tproxy_admin_nconns(adm), 0, "finished connections reaped");
	for (i = 0; i < ADMIN_MAX_CONNS; i++)
		fds[i] = connect_admin();
	for (i = 0; i < 10; i++)
		loop_once(lp, 10);
	is_int(tproxy_admin_nconns(adm), ADMIN_MAX_CONNS, "32 idle conns held");
	fds[ADMIN_MAX_CONNS] = connect_admin();
	st = collect(fds[ADMIN_MAX_CONNS]);
	ok(st == 0 && strncmp(resp, "HTTP/1.1 503 ", 13) == 0,
	    "33rd connection: 503 and closed");
	tproxy_admin_tick(adm, loop_now_ms() + ADMIN_IDLE_MS + 1);
	is_int(tproxy_admin_nconns(adm), 0, "idle connections closed");
	for (i = 0; i < ADMIN_MAX_CONNS; i++) {
		char c;

		ssize_t r = recv(fds[i], &c, 1, 0);

		if (!ok(r == 0, "idle conn %d sees EOF", i))
			diag("recv %zd: %s", r, strerror(errno));
		close(fds[i]);
	}
	is_int(req("GET", "/health", NULL, NULL), 200, "serves after the burst");
}

static void
test_router_and_config(void)
{
	struct tproxy_admin_config ac = { .routes = ADMIN_ROUTE_HEALTH };
	struct http_request r;
	struct tproxy_admin *a;
	struct config *cfg = NULL;
	const char *yaml = "mode: audit\nkill_switch:\n  api_token: fromcfg\n";
	const char *h1 = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
	const char *h2 = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	char err[CONFIG_ERR_MAX], *out;
	size_t len;
	int st;

	a = tproxy_admin_new(lp, &ac, err, sizeof(err));
	ok(a != NULL && tproxy_admin_port(a) == 0, "router without a socket");
	http_request_init(&r);
	http_request_parse(&r, h1, strlen(h1));
	ok(tproxy_admin_route(a, h1, &r), "/health routed");
	out = tproxy_admin_respond(a, h1, &r, NULL, 0, -1, &len, &st);
	ok(out && st == 200 && strstr(out, "\"mode\":\"balanced\""),
	    "respond() builds the health reply");
	free(out);
	http_request_init(&r);
	http_request_parse(&r, h2, strlen(h2));
	ok(!tproxy_admin_route(a, h2, &r), "/metrics not enabled there");

	if (!ok(config_load_buffer("t.yaml", yaml, strlen(yaml), &cfg, err,
	    sizeof(err)) == 0, "config loads"))
		diag("%s", err);
	unsetenv(ADMIN_TOKEN_ENV);
	tproxy_admin_reconfigure(a, cfg, 48);
	ok(tproxy_admin_token_ok(a, "fromcfg", 7), "token from config");
	setenv(ADMIN_TOKEN_ENV, "fromenv", 1);
	tproxy_admin_reconfigure(a, cfg, 48);
	ok(tproxy_admin_token_ok(a, "fromenv", 7) &&
	    !tproxy_admin_token_ok(a, "fromcfg", 7), "environment token wins");
	unsetenv(ADMIN_TOKEN_ENV);
	http_request_init(&r);
	http_request_parse(&r, h1, strlen(h1));
	out = tproxy_admin_respond(a, h1, &r, NULL, 0, -1, &len, &st);
	ok(out && strstr(out, "\"mode\":\"audit\"") &&
	    strstr(out, "\"dlp_patterns\":48"), "health follows the config");
	free(out);
	config_free(cfg);
	tproxy_admin_free(a);

	ac.listen = "127.0.0.1";
	ok(tproxy_admin_new(lp, &ac, err, sizeof(err)) == NULL,
	    "listen without a port refused: %s", err);
	ac.listen = "[::1]:0";
	a = tproxy_admin_new(lp, &ac, err, sizeof(err));
	ok(a == NULL || tproxy_admin_port(a) != 0, "IPv6 listen (or no v6)");
	tproxy_admin_free(a);
}

int
main(void)
{
	setup();
	if (!ok(adm != NULL && tproxy_admin_port(adm) != 0,
	    "admin bound to 127.0.0.1, port %u", tproxy_admin_port(adm)))
		return tap_done();
	test_health_metrics();
	test_auth();
	test_toggle();
	teardown();
	setup();
	test_bodies();
	teardown();
	setup();
	test_rate_limit();
	teardown();
	setup();
	test_agent_peer();
	test_framing();
	test_bounds();
	test_router_and_config();
	teardown();
	return tap_done();
}
