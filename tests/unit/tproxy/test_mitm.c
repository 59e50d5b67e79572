/*
 * test_mitm.c - TLS interception without sockets: `tls init` files and
 * modes, minted leaves (issuer, SAN, validity, verification), the bounded
 * leaf cache, and whole client <-> intercept <-> upstream exchanges over
 * memory BIOs: the decrypted request reaches the inspector and, if it
 * passes, the upstream; blocks come back as HTTP over the client's TLS.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tap.h"
#include "core/tlsca.h"
#include "scanner/scanner.h"
#include "tproxy/tproxy_inspect.h"
#include "tproxy/tproxy_mitm.h"

#define BIG	65536

static char tmpdir[] = "/tmp/test_mitm.XXXXXX";
static char ca1[256], ca2[256];		/* intercept CA, upstream CA dirs */
static struct scanner *sc;
static struct strlist sensitive, ignore;
static struct sockaddr_in dst4;
static char secret[64];

static void
path_of(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void
test_tls_init(void)
{
	char kpath[512], cpath[512], err[512];
	unsigned char k1[512], k2[512];
	struct stat st;
	FILE *f;
	size_t n1, n2;

	snprintf(ca1, sizeof(ca1), "%s/ca1", tmpdir);
	snprintf(ca2, sizeof(ca2), "%s/ca2", tmpdir);
	path_of(kpath, sizeof(kpath), ca1, TLSCA_KEY_NAME);
	path_of(cpath, sizeof(cpath), ca1, TLSCA_CERT_NAME);
	ok(tlsca_create(ca1, 0, NULL, err, sizeof(err)) == 0, "tls init creates a CA");
	ok(stat(kpath, &st) == 0 && (st.st_mode & 07777) == 0600,
	    "key has mode 0600");
	ok(stat(cpath, &st) == 0 && (st.st_mode & 07777) == 0644,
	    "certificate has mode 0644");
	f = fopen(kpath, "r");
	n1 = f != NULL ? fread(k1, 1, sizeof(k1), f) : 0;
	if (f != NULL)
		fclose(f);
	ok(tlsca_create(ca1, 0, NULL, err, sizeof(err)) == -1, "second init fails");
	ok(strstr(err, "--force") != NULL, "and says --force: %s", err);
	ok(tlsca_create(ca1, 1, NULL, err, sizeof(err)) == 0, "--force replaces");
	f = fopen(kpath, "r");
	n2 = f != NULL ? fread(k2, 1, sizeof(k2), f) : 0;
	if (f != NULL)
		fclose(f);
	ok(n1 > 0 && n2 > 0 && (n1 != n2 || memcmp(k1, k2, n1) != 0),
	    "with a new key");
	ok(stat(kpath, &st) == 0 && (st.st_mode & 07777) == 0600,
	    "still mode 0600");
	ok(tlsca_create(ca2, 0, NULL, err, sizeof(err)) == 0, "a second CA");
}

static struct mitm *
mitm_for(const char *dir, const char *upstream_ca, unsigned ttl,
    unsigned cache)
{
	char c[512], k[512], err[512];
	struct mitm_config mc = { c, k, upstream_ca, ttl, cache };
	struct mitm *m;

	path_of(c, sizeof(c), dir, TLSCA_CERT_NAME);
	path_of(k, sizeof(k), dir, TLSCA_KEY_NAME);
	if ((m = mitm_new(&mc, err, sizeof(err))) == NULL)
		diag("mitm_new: %s", err);
	return m;
}

static int
verify_leaf(X509 *ca, X509 *leaf, const char *host)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int r;

	X509_STORE_add_cert(st, ca);
	X509_STORE_CTX_init(ctx, st, leaf, NULL);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host, 0);
	r = X509_verify_cert(ctx);
	if (r != 1)
		diag("verify: %s", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return r;
}

static void
test_leaves(void)
{
	struct mitm *m = mitm_for(ca1, NULL, 3600, 16);
	X509 *leaf, *again, *ip;
	time_t lim;
	struct timespec t0, t1;
	char name[64];
	double us;
	int i;

	if (!ok(m != NULL, "mitm_new loads the CA"))
		return;
	leaf = mitm_leaf_get(m, "allowed.test");
	ok(leaf != NULL, "leaf minted");
	ok(X509_check_issued(mitm_ca_cert(m), leaf) == X509_V_OK,
	    "issuer is the CA");
	ok(X509_check_host(leaf, "allowed.test", 0, 0, NULL) == 1,
	    "SAN is the SNI");
	ok(X509_check_host(leaf, "other.test", 0, 0, NULL) != 1,
	    "and nothing else");
	lim = time(NULL) + 3600 + 1;
	ok(X509_cmp_time(X509_get0_notAfter(leaf), &lim) < 0,
	    "notAfter within cert_ttl");
	lim = time(NULL) + 3600 - 60;
	ok(X509_cmp_time(X509_get0_notAfter(leaf), &lim) > 0,
	    "notAfter about now + cert_ttl");
	ok(verify_leaf(mitm_ca_cert(m), leaf, "allowed.test") == 1,
	    "leaf verifies against the CA as a TLS server");
	again = mitm_leaf_get(m, "allowed.test");
	ok(again == leaf, "second get is a cache hit");
	X509_free(again);
	ip = mitm_leaf_get(m, "198.18.0.2");
	ok(ip != NULL && X509_check_ip_asc(ip, "198.18.0.2", 0) == 1,
	    "IP SNI gets an IP SAN");
	X509_free(ip);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 32; i++) {
		snprintf(name, sizeof(name), "host%d.example", i);
		X509_free(mitm_leaf_get(m, name));
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / 32;
	diag("mint: %.0f us per leaf", us);
	ok(us < 50000, "minting is fast (%.0f us per leaf)", us);
	ok(mitm_cache_count(m) == 16, "cache bounded at cert_cache_size "
	    "after 2x distinct SNIs (%zu)", mitm_cache_count(m));
	again = mitm_leaf_get(m, "allowed.test");
	ok(again != NULL && again != leaf, "evicted name is minted anew");
	X509_free(again);
	again = mitm_leaf_get(m, "host31.example");
	ok(mitm_cache_count(m) == 16, "a hit does not grow the cache");
	X509_free(again);
	X509_free(leaf);
	mitm_free(m);
}

static void
test_constraints(void)
{
	static char *ok_v[] = { "allowed.test", "*.example.com" };
	static char *bad_v[] = { "a*b.example.com" };
	struct strlist permit = { ok_v, 2 }, bad = { bad_v, 1 };
	char dir[300], err[512];
	struct mitm *m;
	X509 *leaf;

	snprintf(dir, sizeof(dir), "%s/ca3", tmpdir);
	ok(tlsca_create(dir, 0, &bad, err, sizeof(err)) == -1,
	    "a pattern a name constraint cannot express is refused: %s", err);
	if (!ok(tlsca_create(dir, 0, &permit, err, sizeof(err)) == 0,
	    "name-constrained CA (strict api_allowlist)"))
		return;
	if ((m = mitm_for(dir, NULL, 3600, 16)) == NULL)
		return;
	leaf = mitm_leaf_get(m, "allowed.test");
	ok(verify_leaf(mitm_ca_cert(m), leaf, "allowed.test") == 1,
	    "leaf for an allowlisted name verifies");
	X509_free(leaf);
	leaf = mitm_leaf_get(m, "api.example.com");
	ok(verify_leaf(mitm_ca_cert(m), leaf, "api.example.com") == 1,
	    "leaf under a *. pattern verifies");
	X509_free(leaf);
	leaf = mitm_leaf_get(m, "other.test");
	ok(verify_leaf(mitm_ca_cert(m), leaf, "other.test") != 1,
	    "leaf for any other name fails verification");
	X509_free(leaf);
	mitm_free(m);
}

/* --- in-memory exchanges ------------------------------------------------ */

struct world {
	SSL		*cli, *srv;
	BIO		*cli_in, *cli_out, *srv_in, *srv_out;
	struct mitm_session *s;
	char		 cgot[BIG], sgot[BIG];
	size_t		 clen, slen;
	int		 cli_failed, srv_failed;
	int		 srv_closed;	/* upstream got close_notify */
	int		 audits;
	struct inspect_audit last;
};

static void
on_audit(void *ctx, const struct inspect_audit *a)
{
	struct world *w = ctx;

	w->audits++;
	w->last = *a;
}

static BIO *
mbio(void)
{
	BIO *b = BIO_new(BIO_s_mem());

	BIO_set_mem_eof_return(b, -1);
	return b;
}

static void
move(BIO *from, struct mitm_session *s, enum mitm_side side)
{
	char buf[4096];
	int n;

	while ((n = BIO_read(from, buf, sizeof(buf))) > 0)
		mitm_session_input(s, side, buf, (size_t)n);
}

static void
unmove(struct mitm_session *s, enum mitm_side side, BIO *to)
{
	const uint8_t *p;
	size_t n;

	while ((n = mitm_session_output(s, side, &p)) > 0) {
		BIO_write(to, p, (int)n);
		mitm_session_consume(s, side, n);
	}
}

static void
drive(SSL *ssl, int *failed, char *got, size_t *len, int *closed)
{
	int r;

	if (*failed)
		return;
	if (!SSL_is_init_finished(ssl)) {
		r = SSL_do_handshake(ssl);
		if (r <= 0 && SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ) {
			*failed = 1;
			ERR_clear_error();
			return;
		}
		if (r <= 0)
			return;
	}
	while ((r = SSL_read(ssl, got + *len, (int)(BIG - 1 - *len))) > 0)
		*len += (size_t)r;
	if (closed != NULL && SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN)
		*closed = 1;
	got[*len] = '\0';
	ERR_clear_error();
}

static void
pump(struct world *w)
{
	int i;

	for (i = 0; i < 40; i++) {
		drive(w->cli, &w->cli_failed, w->cgot, &w->clen, NULL);
		if (w->srv != NULL)
			drive(w->srv, &w->srv_failed, w->sgot, &w->slen,
			    &w->srv_closed);
		move(w->cli_out, w->s, MITM_CLIENT);
		if (w->srv != NULL)
			move(w->srv_out, w->s, MITM_UPSTREAM);
		mitm_session_run(w->s);
		unmove(w->s, MITM_CLIENT, w->cli_in);
		if (w->srv != NULL)
			unmove(w->s, MITM_UPSTREAM, w->srv_in);
	}
}

static SSL_CTX *cli_ctx, *cli_ctx_h2, *srv_ctx;

static void
ctx_setup(struct mitm *up)
{
	char c[512];
	X509 *leaf = mitm_leaf_get(up, "allowed.test");

	path_of(c, sizeof(c), ca1, TLSCA_CERT_NAME);
	cli_ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_locations(cli_ctx, c, NULL);
	SSL_CTX_set_verify(cli_ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_alpn_protos(cli_ctx,
	    (const unsigned char *)"\x02h2\x08http/1.1", 12);
	cli_ctx_h2 = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_locations(cli_ctx_h2, c, NULL);
	SSL_CTX_set_verify(cli_ctx_h2, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_alpn_protos(cli_ctx_h2, (const unsigned char *)"\x02h2", 3);
	/* the "real" upstream: a certificate for allowed.test by CA 2 */
	srv_ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(srv_ctx, leaf);
	SSL_CTX_use_PrivateKey(srv_ctx, mitm_leaf_key(up));
	X509_free(leaf);
}

static void
ic_base(struct inspect_config *ic)
{
	memset(ic, 0, sizeof(*ic));
	ic->scanner = sc;
	ic->enforce = 1;
	ic->body_enabled = 1;
	ic->body_action_block = 1;
	ic->max_body_bytes = 65536;
	ic->scan_headers = 1;
	ic->sensitive_headers = &sensitive;
	ic->ignore_headers = &ignore;
}

static struct world *
world_new(struct mitm *m, const char *sni, SSL_CTX *cctx, int with_srv)
{
	struct world *w = calloc(1, sizeof(*w));
	struct inspect_config ic;

	ic_base(&ic);
	w->cli = SSL_new(cctx);
	w->cli_in = mbio();
	w->cli_out = mbio();
	SSL_set_bio(w->cli, w->cli_in, w->cli_out);
	SSL_set_tlsext_host_name(w->cli, sni);
	SSL_set1_host(w->cli, sni);
	SSL_set_connect_state(w->cli);
	if (with_srv) {
		w->srv = SSL_new(srv_ctx);
		w->srv_in = mbio();
		w->srv_out = mbio();
		SSL_set_bio(w->srv, w->srv_in, w->srv_out);
		SSL_set_accept_state(w->srv);
	}
	w->s = mitm_session_new(m, sni, &ic, (struct sockaddr *)&dst4,
	    sizeof(dst4), NULL, 0, on_audit, w);
	return w;
}

static void
world_free(struct world *w)
{
	SSL_free(w->cli);
	SSL_free(w->srv);
	mitm_session_free(w->s);
	free(w);
}

static void
test_exchange(struct mitm *m)
{
	static const char req[] = "GET /ok HTTP/1.1\r\nHost: allowed.test\r\n"
	    "User-Agent: t\r\n\r\n";
	static const char req2[] = "POST /two HTTP/1.1\r\nHost: allowed.test\r\n"
	    "Content-Length: 5\r\n\r\nhello";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	char bad[512];
	struct world *w = world_new(m, "allowed.test", cli_ctx, 1);
	const unsigned char *alpn;
	unsigned alen;

	if (!ok(w->s != NULL, "session created"))
		return;
	pump(w);
	ok(SSL_is_init_finished(w->cli) && !w->cli_failed,
	    "client handshake with the minted leaf (verified, host checked)");
	ok(SSL_is_init_finished(w->srv), "upstream handshake verified");
	SSL_get0_alpn_selected(w->cli, &alpn, &alen);
	ok(alen == 8 && memcmp(alpn, "http/1.1", 8) == 0,
	    "client offering h2,http/1.1 gets http/1.1");
	SSL_write(w->cli, req, (int)strlen(req));
	pump(w);
	is_str(w->sgot, req, "upstream saw the exact request");
	ok(w->audits == 1 && w->last.verdict == INSPECT_ALLOW &&
	    strcmp(w->last.url, "https://allowed.test/ok") == 0,
	    "the inspector saw it (%s)", w->last.url);
	SSL_write(w->srv, resp, (int)strlen(resp));
	pump(w);
	is_str(w->cgot, resp, "client got the response");
	/* keep-alive: the next request is judged too */
	w->slen = w->clen = 0;
	SSL_write(w->cli, req2, (int)strlen(req2));
	pump(w);
	is_str(w->sgot, req2, "second request on the connection forwarded");
	ok(w->audits == 2, "and inspected");
	w->slen = 0;
	snprintf(bad, sizeof(bad), "GET /x HTTP/1.1\r\nHost: allowed.test\r\n"
	    "Authorization: Bearer %s\r\n\r\n", secret);
	w->clen = 0;
	SSL_write(w->cli, bad, (int)strlen(bad));
	pump(w);
	ok(w->clen == 0 && w->srv_closed, "third request with a secret "
	    "header: the upstream is closed first (responses may be in "
	    "flight), no answer yet");
	SSL_shutdown(w->srv);
	pump(w);
	ok(strncmp(w->cgot, "HTTP/1.1 403", 12) == 0,
	    "then its 403 over TLS");
	ok(w->slen == 0, "upstream saw nothing of it");
	ok(mitm_session_finished(w->s) && mitm_session_blocked(w->s),
	    "session finished, blocked: %s", mitm_session_reason(w->s));
	world_free(w);
}

static void
test_blocks(struct mitm *m)
{
	char bad[512];
	struct world *w;

	/* secret in the path */
	w = world_new(m, "allowed.test", cli_ctx, 1);
	pump(w);
	snprintf(bad, sizeof(bad), "GET /?k=%s HTTP/1.1\r\nHost: allowed.test"
	    "\r\n\r\n", secret);
	SSL_write(w->cli, bad, (int)strlen(bad));
	pump(w);
	ok(strncmp(w->cgot, "HTTP/1.1 403", 12) == 0 && w->slen == 0,
	    "secret in the URL: 403, upstream saw nothing");
	ok(strstr(w->cgot, "blocked") != NULL, "reason in the body");
	world_free(w);

	/* secret in a body */
	w = world_new(m, "allowed.test", cli_ctx, 1);
	pump(w);
	snprintf(bad, sizeof(bad), "POST / HTTP/1.1\r\nHost: allowed.test\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
	    strlen(secret), secret);
	SSL_write(w->cli, bad, (int)strlen(bad));
	pump(w);
	ok(strncmp(w->cgot, "HTTP/1.1 403", 12) == 0 && w->slen == 0,
	    "secret in the body: 403, upstream saw nothing");
	world_free(w);

	/* Host != SNI */
	w = world_new(m, "allowed.test", cli_ctx, 1);
	pump(w);
	SSL_write(w->cli, "GET / HTTP/1.1\r\nHost: other.test\r\n\r\n", 36);
	pump(w);
	ok(strncmp(w->cgot, "HTTP/1.1 403", 12) == 0 && w->slen == 0,
	    "Host != SNI: 403, upstream saw nothing");
	world_free(w);

	/* client offering only h2 */
	w = world_new(m, "allowed.test", cli_ctx_h2, 1);
	pump(w);
	ok(w->cli_failed && mitm_session_finished(w->s),
	    "client offering only h2: handshake refused (%s)",
	    mitm_session_reason(w->s));
	world_free(w);

	/* upstream certificate names another host */
	w = world_new(m, "wrong.example", cli_ctx, 1);
	pump(w);
	ok(strncmp(w->cgot, "HTTP/1.1 502", 12) == 0,
	    "upstream with a wrong-name certificate: 502");
	ok(strstr(w->cgot, "does not verify") != NULL, "with the reason: %s",
	    mitm_session_reason(w->s));
	world_free(w);
}

/* Strict mode: the SNI was verified by the engine; Host == SNI passes. */
static void
test_strict(struct mitm *m)
{
	static const char req[] = "GET /s HTTP/1.1\r\nHost: allowed.test\r\n\r\n";
	struct inspect_config ic;
	struct world *w = world_new(m, "allowed.test", cli_ctx, 1);

	ic_base(&ic);
	ic.strict = 1;
	mitm_session_free(w->s);
	w->s = mitm_session_new(m, "allowed.test", &ic, (struct sockaddr *)&dst4,
	    sizeof(dst4), NULL, 0, on_audit, w);
	pump(w);
	SSL_write(w->cli, req, (int)strlen(req));
	pump(w);
	is_str(w->sgot, req, "strict mode: Host == SNI forwarded without a lookup");
	world_free(w);
}

/* Handshake cost, in memory: client + intercept (both sides) + upstream. */
static void
test_handshake_rate(struct mitm *m)
{
	struct timespec t0, t1;
	struct world *w;
	double ms;
	int i, n = 50, done = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		w = world_new(m, "allowed.test", cli_ctx, 1);
		pump(w);
		done += SSL_is_init_finished(w->cli) && SSL_is_init_finished(w->srv);
		world_free(w);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) / n;
	diag("intercepted connection setup in memory: %.2f ms (all four "
	    "TLS endpoints on this thread)", ms);
	ok(done == n, "%d/%d intercepted handshakes completed", done, n);
}

static void
test_untrusted(void)
{
	struct mitm *m = mitm_for(ca1, NULL, 3600, 16);	/* no extra anchor */
	struct world *w;

	if (!ok(m != NULL, "intercept without upstream_ca_file"))
		return;
	w = world_new(m, "allowed.test", cli_ctx, 1);
	pump(w);
	ok(strncmp(w->cgot, "HTTP/1.1 502", 12) == 0 &&
	    strstr(w->cgot, "does not verify") != NULL,
	    "upstream from an untrusted CA: 502 (%s)", mitm_session_reason(w->s));
	world_free(w);
	mitm_free(m);
}

int
main(void)
{
	static char *sens_v[] = { "Authorization", "Cookie", "X-Api-Key" };
	static char *ign_v[] = { "Connection", "Host", "Content-Length" };
	struct scanner_config cfg;
	struct mitm *m, *up;
	char err[512], upca[512];

	snprintf(secret, sizeof(secret), "%s%s%s", "gh", "p_",
	    "R7xQ2mVn8KpL4sTz9WcY3bHf6JdG1aEu5NoX");
	sensitive.v = sens_v;
	sensitive.n = 3;
	ignore.v = ign_v;
	ignore.n = 3;
	dst4.sin_family = AF_INET;
	dst4.sin_port = htons(443);
	inet_pton(AF_INET, "198.18.0.2", &dst4.sin_addr);
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	scanner_config_defaults(&cfg);
	sc = scanner_new(&cfg, err, sizeof(err));
	if (!ok(sc != NULL, "default scanner builds"))
		return tap_done();

	test_tls_init();
	test_leaves();
	test_constraints();
	path_of(upca, sizeof(upca), ca2, TLSCA_CERT_NAME);
	up = mitm_for(ca2, NULL, 3600, 16);
	m = mitm_for(ca1, upca, 3600, 16);
	if (ok(up != NULL && m != NULL, "intercept and upstream CAs load")) {
		ctx_setup(up);
		test_exchange(m);
		test_blocks(m);
		test_strict(m);
		test_handshake_rate(m);
		test_untrusted();
		SSL_CTX_free(cli_ctx);
		SSL_CTX_free(cli_ctx_h2);
		SSL_CTX_free(srv_ctx);
	}
	mitm_free(m);
	mitm_free(up);
	scanner_free(sc);
	scanner_config_clear(&cfg);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		(void)!system(cmd);
	}
	return tap_done();
}
