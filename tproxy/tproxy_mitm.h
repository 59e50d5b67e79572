/*
 * tproxy_mitm.h - TLS interception: leaf certificates minted per SNI by
 * the interception CA (bounded LRU cache), and one intercepted connection
 * as a state machine over memory BIOs, so it runs inside the engine's
 * non-blocking loop (and in unit tests without any socket).
 *
 *   client --TLS(leaf for SNI, ALPN http/1.1 only)--> session
 *          --plaintext--> inspector (Host must equal SNI)
 *          --TLS(full verification: system store + upstream_ca_file,
 *                SNI set, hostname checked)--> upstream
 *
 * A request the inspector refuses gets its 4xx as a real HTTP response
 * over the client's TLS session; an upstream whose certificate does not
 * verify gets the client a 502 naming the reason.  Leaf keys live only in
 * memory: one EC P-256 key per engine start serves every leaf.
 *
 * Byte interface (the engine's socket glue is mitm_session_io()):
 *   mitm_session_input(s, MITM_CLIENT|MITM_UPSTREAM, buf, len)  ciphertext in
 *   mitm_session_eof(s, side)                                   a socket EOF
 *   mitm_session_run(s)                                         advance
 *   mitm_session_output(s, side, &p) / mitm_session_consume()   ciphertext out
 *   mitm_session_finished(s)      the client side is over: flush it, close
 */
#ifndef PIPELOCK_TPROXY_MITM_H
#define PIPELOCK_TPROXY_MITM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

struct inspect_config;
struct inspect_audit;
struct mitm;
struct mitm_session;

#define MITM_REASON_MAX		512
#define MITM_OUT_MAX		(256u << 10)	/* ciphertext queued per side */
#define MITM_LEAF_BACKDATE	3600		/* notBefore: clock skew */

enum mitm_side {
	MITM_CLIENT = 0,
	MITM_UPSTREAM,
};

struct mitm_config {
	const char	*ca_cert;	/* PEM paths */
	const char	*ca_key;
	const char	*upstream_ca_file; /* extra trust anchors or NULL */
	unsigned	 cert_ttl;	/* seconds, > 0 */
	unsigned	 cache_size;	/* leaves kept, > 0 */
};

/*
 * Load the CA, make the leaf key and both TLS contexts.  NULL with err set.
 * Thread-safe to share between workers (the cache is locked).
 */
struct mitm *mitm_new(const struct mitm_config *mc, char *err, size_t errlen);
void mitm_free(struct mitm *m);

struct config;

/* mitm_new() from tls_interception.*; NULL with err set. */
struct mitm *mitm_from_config(const struct config *cfg, char *err,
    size_t errlen);
/*
 * Whether a flow with this SNI is intercepted: m exists (interception was
 * on at engine start), still enabled in cfg, an SNI was sent and it is not
 * in tls_interception.passthrough_domains (those are spliced as they are).
 */
int mitm_wanted(const struct mitm *m, const struct config *cfg,
    const char *sni);

/*
 * The leaf for sni (a DNS name or an IP literal), from the cache or freshly
 * minted.  Returns a new reference (X509_free it) or NULL.
 */
X509 *mitm_leaf_get(struct mitm *m, const char *sni);
/* Leaves in the cache now. */
size_t mitm_cache_count(struct mitm *m);
/* The shared leaf key (borrowed) and CA certificate (borrowed). */
EVP_PKEY *mitm_leaf_key(struct mitm *m);
X509 *mitm_ca_cert(struct mitm *m);

/*
 * One intercepted connection.  hello: the client's bytes already read
 * (its ClientHello), fed to the TLS server first.  ic: the inspector's
 * configuration (copied; its pointers borrowed).  audit(actx, a) is
 * called for every completed request.  NULL on allocation failure.
 */
struct mitm_session *mitm_session_new(struct mitm *m, const char *sni,
    const struct inspect_config *ic, const struct sockaddr *dst,
    socklen_t dstlen, const void *hello, size_t hello_len,
    void (*audit)(void *actx, const struct inspect_audit *a), void *actx);
void mitm_session_free(struct mitm_session *s);

/* Ciphertext read from a side's socket.  -1 on allocation failure. */
int mitm_session_input(struct mitm_session *s, enum mitm_side side,
    const void *buf, size_t len);
/* That side's socket reached EOF. */
void mitm_session_eof(struct mitm_session *s, enum mitm_side side);
/*
 * Advance both TLS machines and the inspector as far as the buffered bytes
 * allow.  -1: abort the connection (allocation failure); 0 otherwise.
 */
int mitm_session_run(struct mitm_session *s);
/* Ciphertext waiting for a side's socket: its length, *p set. */
size_t mitm_session_output(struct mitm_session *s, enum mitm_side side,
    const uint8_t **p);
void mitm_session_consume(struct mitm_session *s, enum mitm_side side,
    size_t n);
/* Whether more ciphertext from that side is welcome (backpressure). */
int mitm_session_want_input(const struct mitm_session *s, enum mitm_side side);
/* Whether the upstream write side is over (send FIN once output is out). */
int mitm_session_upstream_done(const struct mitm_session *s);
/* The client side is over (answer sent or connection ended): flush, close. */
int mitm_session_finished(const struct mitm_session *s);
/* Why it ended early ("" if it did not): block or upstream failure. */
const char *mitm_session_reason(const struct mitm_session *s);
/* 1 if the session blocked (403/502 answer), else 0. */
int mitm_session_blocked(const struct mitm_session *s);
/* Decrypted bytes so far: client->upstream and upstream->client. */
void mitm_session_bytes(const struct mitm_session *s, unsigned long long *up,
    unsigned long long *down);

/*
 * Socket glue for the engine: read what the sockets have (ufd -1: not
 * connected yet), run, write what is queued, and say which events to wait
 * for.  Returns -1 abort (socket error), 0 keep going, 1 finished: the
 * client's last bytes are out, close gracefully.
 */
int mitm_session_io(struct mitm_session *s, int cfd, int ufd, int *cmask,
    int *umask);

#endif
