/*
 * tproxy_mitm.c - TLS interception (see tproxy_mitm.h): leaf minting with a
 * bounded LRU cache, and the per-connection TLS-in-TLS state machine over
 * memory BIOs.
 *
 * Minting: one EC P-256 leaf key per engine start signs nothing but is
 * certified by the CA for each SNI; a leaf is an X509 (SAN = the SNI,
 * notAfter = now + cert_ttl, random serial) signed with ECDSA P-256, a few
 * hundred microseconds, so it runs inline on the loop; the cache (hash +
 * LRU list, cert_cache_size entries, locked: workers share it) makes
 * repeat names free.  A cached leaf is re-minted once half its TTL passed,
 * so a client never receives a leaf about to expire.
 *
 * Session: the client side is an SSL server, the upstream side an SSL
 * client, each over a pair of memory BIOs the engine fills from and drains
 * to its sockets.  Plaintext from the client is held in one buffer bounded
 * by the inspector's hold limit and only bytes the inspector released
 * (FORWARD) are written into the upstream TLS, and only once the upstream
 * handshake verified.  Responses are relayed as they come (decrypted,
 * re-encrypted), bounded by MITM_OUT_MAX of queued ciphertext per side.
 */
#include "tproxy/tproxy_mitm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/config.h"
#include "core/loop.h"
#include "core/tlsca.h"
#include "tproxy/tproxy_inspect.h"
#include "tproxy/tproxy_tls.h"

#define MITM_PBUF_INITIAL	16384
#define MITM_IO_CHUNK		16384
#define MITM_READS_PER_EVENT	16	/* fairness between connections */
#define MITM_IO_ROUNDS		32	/* read/run/write rounds per event */

static const unsigned char alpn_http11[] = "\x08http/1.1";

struct mitm_leaf {
	struct mitm_leaf	*hnext;		/* hash chain */
	struct mitm_leaf	*prev, *next;	/* LRU: head = most recent */
	char			 sni[TLS_SNI_MAX + 1];
	time_t			 minted;
	X509			*crt;
};

struct mitm {
	X509		*ca;
	EVP_PKEY	*ca_key;
	EVP_PKEY	*leaf_key;
	SSL_CTX		*sctx;		/* towards the client */
	SSL_CTX		*uctx;		/* towards the upstream */
	unsigned	 ttl;
	size_t		 cache_max;
	pthread_mutex_t	 lock;
	struct mitm_leaf **buckets;
	size_t		 nbuckets;	/* a power of two */
	struct mitm_leaf *head, *tail;
	size_t		 n;
};

enum mitm_ustate {
	MITM_U_HANDSHAKE = 0,
	MITM_U_READY,
	MITM_U_FAILED,
};

struct mitm_session {
	struct mitm		*m;
	SSL			*cs, *us;
	BIO			*c_in, *c_out, *u_in, *u_out;
	struct inspect		*insp;
	char			 sni[TLS_SNI_MAX + 1];
	void			(*audit)(void *, const struct inspect_audit *);
	void			*actx;

	/* client plaintext: [psent, pjudged) approved, [pjudged, plen) not */
	uint8_t			*pbuf;
	size_t			 plen, pcap, psent, pjudged, hold;

	int			 c_hs;		/* client handshake done */
	enum mitm_ustate	 ustate;
	int			 c_sock_eof, u_sock_eof;
	int			 c_eof;		/* client plaintext over */
	int			 u_eof;		/* upstream plaintext over */
	int			 u_shut;	/* close_notify queued upstream */
	int			 tunnel;	/* allowed CONNECT/Upgrade */
	int			 blocked;
	int			 hblock;	/* 403 held until responses end */
	char			 held[INSPECT_RESP_MAX];
	size_t			 held_len;
	int			 finished;
	unsigned long long	 up_bytes, down_bytes;
	char			 reason[MITM_REASON_MAX];
};

/* --- CA, leaves and the cache ---------------------------------------------- */

/* ALPN: only HTTP/1.1 can be inspected, so nothing else is accepted. */
static int
mitm_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel;

	if (SSL_select_next_proto(&sel, outlen, alpn_http11,
	    sizeof(alpn_http11) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;	/* e.g. h2 only */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static size_t
mitm_hash(const char *s)
{
	size_t h = 5381;

	while (*s != '\0')
		h = h * 33 ^ (unsigned char)*s++;
	return h;
}

struct mitm *
mitm_new(const struct mitm_config *mc, char *err, size_t errlen)
{
	struct mitm *m;
	char e[256];

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->ttl = mc->cert_ttl > 0 ? mc->cert_ttl : 86400;
	m->cache_max = mc->cache_size > 0 ? mc->cache_size : 1;
	for (m->nbuckets = 64; m->nbuckets < m->cache_max; m->nbuckets <<= 1)
		;
	if ((m->buckets = calloc(m->nbuckets, sizeof(*m->buckets))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (tlsca_load(mc->ca_cert, mc->ca_key, &m->ca, &m->ca_key, err,
	    errlen) == -1)
		goto fail;
	if ((m->leaf_key = EVP_EC_gen("P-256")) == NULL)
		goto sslfail;

	if ((m->sctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    !SSL_CTX_set_min_proto_version(m->sctx, TLS1_2_VERSION))
		goto sslfail;
	SSL_CTX_set_alpn_select_cb(m->sctx, mitm_alpn_select, NULL);
	/* no session tickets or cache: nothing to resume into a new leaf */
	SSL_CTX_set_options(m->sctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(m->sctx, 0);
	SSL_CTX_set_session_cache_mode(m->sctx, SSL_SESS_CACHE_OFF);

	if ((m->uctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    !SSL_CTX_set_min_proto_version(m->uctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_default_verify_paths(m->uctx))
		goto sslfail;
	if (mc->upstream_ca_file != NULL && *mc->upstream_ca_file != '\0' &&
	    !SSL_CTX_load_verify_locations(m->uctx, mc->upstream_ca_file,
	    NULL)) {
		tlsca_ssl_error(e, sizeof(e));
		snprintf(err, errlen, "tls_interception.upstream_ca_file '%s': %s",
		    mc->upstream_ca_file, e);
		goto fail;
	}
	SSL_CTX_set_verify(m->uctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_set_alpn_protos(m->uctx, alpn_http11,
	    sizeof(alpn_http11) - 1) != 0)
		goto sslfail;
	return m;
sslfail:
	tlsca_ssl_error(e, sizeof(e));
	snprintf(err, errlen, "TLS interception setup: %s", e);
fail:
	mitm_free(m);
	return NULL;
}

struct mitm *
mitm_from_config(const struct config *cfg, char *err, size_t errlen)
{
	struct mitm_config mc = {
		.ca_cert = cfg->tls.ca_cert,
		.ca_key = cfg->tls.ca_key,
		.upstream_ca_file = cfg->tls.upstream_ca_file,
		.cert_ttl = cfg->tls.cert_ttl_seconds,
		.cache_size = cfg->tls.cert_cache_size,
	};

	if (mc.ca_cert == NULL || mc.ca_key == NULL) {
		snprintf(err, errlen, "tls_interception: ca_cert and ca_key "
		    "are required");
		return NULL;
	}
	return mitm_new(&mc, err, errlen);
}

int
mitm_wanted(const struct mitm *m, const struct config *cfg, const char *sni)
{
	return m != NULL && tlsca_intercepts(cfg, sni);
}

void
mitm_free(struct mitm *m)
{
	struct mitm_leaf *l, *next;

	if (m == NULL)
		return;
	for (l = m->head; l != NULL; l = next) {
		next = l->next;
		X509_free(l->crt);
		free(l);
	}
	free(m->buckets);
	SSL_CTX_free(m->sctx);
	SSL_CTX_free(m->uctx);
	EVP_PKEY_free(m->leaf_key);
	EVP_PKEY_free(m->ca_key);
	X509_free(m->ca);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* A new leaf for sni, valid from now - backdate to now + ttl. */
static X509 *
mitm_mint(struct mitm *m, const char *sni, time_t now)
{
	unsigned char ab[16];
	char san[TLS_SNI_MAX + 8];
	X509 *crt;
	int is_ip;

	if ((crt = X509_new()) == NULL)
		return NULL;
	is_ip = inet_pton(AF_INET, sni, ab) == 1 ||
	    inet_pton(AF_INET6, sni, ab) == 1;
	snprintf(san, sizeof(san), "%s:%s", is_ip ? "IP" : "DNS", sni);
	if (tlsca_serial_random(crt) == -1 || !X509_set_version(crt, 2) ||
	    X509_time_adj_ex(X509_getm_notBefore(crt), 0, -MITM_LEAF_BACKDATE,
	    &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(crt), 0, (long)m->ttl,
	    &now) == NULL ||
	    !X509_set_issuer_name(crt, X509_get_subject_name(m->ca)) ||
	    !X509_set_pubkey(crt, m->leaf_key))
		goto fail;
	/* CN: 64 characters at most (RFC 5280 ub-common-name); SAN is what counts */
	if (strlen(sni) <= 64 && !X509_NAME_add_entry_by_txt(
	    X509_get_subject_name(crt), "CN", MBSTRING_ASC,
	    (const unsigned char *)sni, -1, -1, 0))
		goto fail;
	if (tlsca_add_ext(crt, m->ca, NID_subject_alt_name, san) ||
	    tlsca_add_ext(crt, m->ca, NID_basic_constraints,
	    "critical,CA:FALSE") ||
	    tlsca_add_ext(crt, m->ca, NID_key_usage,
	    "critical,digitalSignature") ||
	    tlsca_add_ext(crt, m->ca, NID_ext_key_usage, "serverAuth") ||
	    tlsca_add_ext(crt, m->ca, NID_authority_key_identifier,
	    "keyid:always"))
		goto fail;
	if (!X509_sign(crt, m->ca_key, EVP_sha256()))
		goto fail;
	return crt;
fail:
	ERR_clear_error();
	X509_free(crt);
	return NULL;
}

static void
lru_unlink(struct mitm *m, struct mitm_leaf *l)
{
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		m->head = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	else
		m->tail = l->prev;
	l->prev = l->next = NULL;
}

static void
lru_push(struct mitm *m, struct mitm_leaf *l)
{
	l->prev = NULL;
	l->next = m->head;
	if (m->head != NULL)
		m->head->prev = l;
	m->head = l;
	if (m->tail == NULL)
		m->tail = l;
}

static void
hash_del(struct mitm *m, struct mitm_leaf *l)
{
	struct mitm_leaf **pp = &m->buckets[mitm_hash(l->sni) & (m->nbuckets - 1)];

	for (; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == l) {
			*pp = l->hnext;
			return;
		}
}

X509 *
mitm_leaf_get(struct mitm *m, const char *sni)
{
	struct mitm_leaf *l, *old;
	size_t b;
	time_t now = time(NULL);
	X509 *crt;

	if (strlen(sni) > TLS_SNI_MAX || *sni == '\0')
		return NULL;
	b = mitm_hash(sni) & (m->nbuckets - 1);
	pthread_mutex_lock(&m->lock);
	for (l = m->buckets[b]; l != NULL; l = l->hnext)
		if (strcmp(l->sni, sni) == 0)
			break;
	if (l != NULL && now - l->minted < (time_t)(m->ttl / 2)) {
		lru_unlink(m, l);
		lru_push(m, l);
		X509_up_ref(l->crt);
		crt = l->crt;
		pthread_mutex_unlock(&m->lock);
		return crt;
	}
	/* minting under the lock: a few hundred µs, and no duplicate mints */
	if ((crt = mitm_mint(m, sni, now)) == NULL) {
		pthread_mutex_unlock(&m->lock);
		return NULL;
	}
	if (l != NULL) {			/* half its TTL gone: replace */
		X509_free(l->crt);
		l->crt = crt;
		l->minted = now;
		lru_unlink(m, l);
		lru_push(m, l);
	} else if ((l = calloc(1, sizeof(*l))) != NULL) {
		snprintf(l->sni, sizeof(l->sni), "%s", sni);
		l->crt = crt;
		l->minted = now;
		l->hnext = m->buckets[b];
		m->buckets[b] = l;
		lru_push(m, l);
		m->n++;
		while (m->n > m->cache_max && (old = m->tail) != NULL) {
			lru_unlink(m, old);
			hash_del(m, old);
			X509_free(old->crt);
			free(old);
			m->n--;
		}
	} else {
		pthread_mutex_unlock(&m->lock);
		return crt;			/* uncached, still usable */
	}
	X509_up_ref(crt);
	pthread_mutex_unlock(&m->lock);
	return crt;
}

size_t
mitm_cache_count(struct mitm *m)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->n;
	pthread_mutex_unlock(&m->lock);
	return n;
}

EVP_PKEY *
mitm_leaf_key(struct mitm *m)
{
	return m->leaf_key;
}

X509 *
mitm_ca_cert(struct mitm *m)
{
	return m->ca;
}

/* --- session ---------------------------------------------------------------- */

/*
 * The inspector's Host hook in strict mode: the engine already verified
 * that the SNI resolves to the original destination, and the inspector
 * requires Host == SNI on intercepted connections, so only the SNI passes.
 */
static int
mitm_host_matches(void *ctx, const char *host)
{
	struct mitm_session *s = ctx;

	return strcmp(host, s->sni) == 0;
}

static BIO *
mem_bio(void)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (b != NULL)
		BIO_set_mem_eof_return(b, -1);	/* empty = retry, not EOF */
	return b;
}

void
mitm_session_free(struct mitm_session *s)
{
	if (s == NULL)
		return;
	SSL_free(s->cs);	/* frees its BIOs */
	SSL_free(s->us);
	inspect_free(s->insp);
	if (s->pbuf != NULL) {
		explicit_bzero(s->pbuf, s->pcap);
		free(s->pbuf);
	}
	free(s);
}

struct mitm_session *
mitm_session_new(struct mitm *m, const char *sni,
    const struct inspect_config *ic, const struct sockaddr *dst,
    socklen_t dstlen, const void *hello, size_t hello_len,
    void (*audit)(void *, const struct inspect_audit *), void *actx)
{
	struct mitm_session *s;
	struct inspect_config icc = *ic;
	X509 *leaf = NULL;
	X509_VERIFY_PARAM *vp;
	unsigned char ab[16];
	int is_ip;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->m = m;
	s->audit = audit;
	s->actx = actx;
	snprintf(s->sni, sizeof(s->sni), "%s", sni);
	icc.host_matches = mitm_host_matches;
	icc.host_ctx = s;
	if ((s->insp = inspect_new(&icc, dst, dstlen, s->sni)) == NULL)
		goto fail;
	s->hold = inspect_hold_limit(s->insp);

	/* client side: our leaf for the SNI */
	if ((leaf = mitm_leaf_get(m, s->sni)) == NULL ||
	    (s->cs = SSL_new(m->sctx)) == NULL ||
	    (s->c_in = mem_bio()) == NULL || (s->c_out = mem_bio()) == NULL)
		goto fail;
	SSL_set_bio(s->cs, s->c_in, s->c_out);
	if (!SSL_use_certificate(s->cs, leaf) ||
	    !SSL_use_PrivateKey(s->cs, m->leaf_key))
		goto fail;
	X509_free(leaf);
	leaf = NULL;
	SSL_set_accept_state(s->cs);
	if (hello_len > 0 && BIO_write(s->c_in, hello, (int)hello_len) !=
	    (int)hello_len)
		goto fail;

	/* upstream side: verified against the system store (+ extra CAs) */
	if ((s->us = SSL_new(m->uctx)) == NULL ||
	    (s->u_in = mem_bio()) == NULL || (s->u_out = mem_bio()) == NULL)
		goto fail;
	SSL_set_bio(s->us, s->u_in, s->u_out);
	vp = SSL_get0_param(s->us);
	is_ip = inet_pton(AF_INET, s->sni, ab) == 1 ||
	    inet_pton(AF_INET6, s->sni, ab) == 1;
	if (is_ip) {
		if (!X509_VERIFY_PARAM_set1_ip_asc(vp, s->sni))
			goto fail;
	} else {
		X509_VERIFY_PARAM_set_hostflags(vp,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (!X509_VERIFY_PARAM_set1_host(vp, s->sni, 0) ||
		    !SSL_set_tlsext_host_name(s->us, s->sni))
			goto fail;
	}
	SSL_set_connect_state(s->us);
	return s;
fail:
	ERR_clear_error();
	X509_free(leaf);
	/* BIOs not yet handed to an SSL are ours */
	if (s->cs == NULL || SSL_get_rbio(s->cs) != s->c_in) {
		BIO_free(s->c_in);
		BIO_free(s->c_out);
	}
	if (s->us == NULL || SSL_get_rbio(s->us) != s->u_in) {
		BIO_free(s->u_in);
		BIO_free(s->u_out);
	}
	mitm_session_free(s);
	return NULL;
}

int
mitm_session_input(struct mitm_session *s, enum mitm_side side,
    const void *buf, size_t len)
{
	BIO *b = side == MITM_CLIENT ? s->c_in : s->u_in;

	if (len == 0)
		return 0;
	return BIO_write(b, buf, (int)len) == (int)len ? 0 : -1;
}

void
mitm_session_eof(struct mitm_session *s, enum mitm_side side)
{
	if (side == MITM_CLIENT)
		s->c_sock_eof = 1;
	else
		s->u_sock_eof = 1;
}

size_t
mitm_session_output(struct mitm_session *s, enum mitm_side side,
    const uint8_t **p)
{
	char *d;
	long n = BIO_get_mem_data(side == MITM_CLIENT ? s->c_out : s->u_out, &d);

	*p = (const uint8_t *)d;
	return n > 0 ? (size_t)n : 0;
}

void
mitm_session_consume(struct mitm_session *s, enum mitm_side side, size_t n)
{
	BIO *b = side == MITM_CLIENT ? s->c_out : s->u_out;
	char sink[MITM_IO_CHUNK];
	int r;

	while (n > 0) {
		r = BIO_read(b, sink, (int)(n < sizeof(sink) ? n : sizeof(sink)));
		if (r <= 0)
			break;
		n -= (size_t)r;
	}
}

int
mitm_session_want_input(const struct mitm_session *s, enum mitm_side side)
{
	if (s->finished)
		return side == MITM_CLIENT;	/* drain until its FIN */
	if (side == MITM_CLIENT)
		return !s->c_sock_eof && !s->c_eof &&
		    (!s->c_hs || s->ustate == MITM_U_READY) &&
		    BIO_ctrl_pending(s->u_out) < MITM_OUT_MAX &&
		    s->plen - s->psent < s->hold;
	return !s->u_sock_eof && s->ustate != MITM_U_FAILED &&
	    BIO_ctrl_pending(s->c_out) < MITM_OUT_MAX;
}

int
mitm_session_upstream_done(const struct mitm_session *s)
{
	return s->u_shut || s->finished;
}

int
mitm_session_finished(const struct mitm_session *s)
{
	return s->finished;
}

const char *
mitm_session_reason(const struct mitm_session *s)
{
	return s->reason;
}

int
mitm_session_blocked(const struct mitm_session *s)
{
	return s->blocked;
}

void
mitm_session_bytes(const struct mitm_session *s, unsigned long long *up,
    unsigned long long *down)
{
	*up = s->up_bytes;
	*down = s->down_bytes;
}

/* Plaintext to the client; the session ends after it (answer + close). */
static void
mitm_answer(struct mitm_session *s, const char *resp, size_t len)
{
	if (len > 0)
		(void)SSL_write(s->cs, resp, (int)len);
	(void)SSL_shutdown(s->cs);
	s->blocked = 1;
	s->finished = 1;
	ERR_clear_error();
}

/* The upstream failed before the first byte: a 502 naming why. */
static void
mitm_answer_502(struct mitm_session *s)
{
	char body[MITM_REASON_MAX + 64], resp[MITM_REASON_MAX + 256];
	int n;

	n = snprintf(body, sizeof(body), "blocked by pipelock-fw: %s\n",
	    s->reason);
	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)strlen(body);
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 502 Bad Gateway\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %d\r\n"
	    "Connection: close\r\n\r\n%s", n, body);
	if (n < 0 || (size_t)n >= sizeof(resp))
		n = (int)strlen(resp);
	mitm_answer(s, resp, (size_t)n);
}

static void
mitm_upstream_handshake(struct mitm_session *s)
{
	long vr;
	int r, e;
	char t[200];

	r = SSL_do_handshake(s->us);
	if (r == 1) {
		s->ustate = MITM_U_READY;
		return;
	}
	e = SSL_get_error(s->us, r);
	if (e == SSL_ERROR_WANT_READ && !s->u_sock_eof)
		return;
	s->ustate = MITM_U_FAILED;
	vr = SSL_get_verify_result(s->us);
	if (vr != X509_V_OK) {
		snprintf(s->reason, sizeof(s->reason),
		    "upstream certificate for %s does not verify: %s", s->sni,
		    X509_verify_cert_error_string(vr));
	} else if (e == SSL_ERROR_WANT_READ) {
		snprintf(s->reason, sizeof(s->reason),
		    "upstream closed during the TLS handshake");
	} else {
		tlsca_ssl_error(t, sizeof(t));
		snprintf(s->reason, sizeof(s->reason),
		    "upstream TLS handshake failed: %s", t);
	}
	ERR_clear_error();
}

/* Make room for n more plaintext bytes (bounded by hold).  -1: no memory. */
static int
pbuf_reserve(struct mitm_session *s, size_t n)
{
	uint8_t *nb;
	size_t ncap;

	if (s->psent > 0 && s->plen + n > s->pcap) {
		memmove(s->pbuf, s->pbuf + s->psent, s->plen - s->psent);
		s->plen -= s->psent;
		s->pjudged -= s->psent;
		s->psent = 0;
	}
	if (s->plen + n <= s->pcap)
		return 0;
	ncap = s->pcap < MITM_PBUF_INITIAL ? MITM_PBUF_INITIAL : s->pcap * 2;
	while (ncap < s->plen + n)
		ncap *= 2;
	if ((nb = realloc(s->pbuf, ncap)) == NULL)
		return -1;
	s->pbuf = nb;
	s->pcap = ncap;
	return 0;
}

/* Decrypt what the client sent, as far as the hold limit allows. */
static int
mitm_client_read(struct mitm_session *s)
{
	size_t room;
	int r, e;

	while (!s->c_eof && !s->finished) {
		if (s->plen - s->psent >= s->hold && !s->tunnel)
			return 0;
		room = MITM_IO_CHUNK;
		if (pbuf_reserve(s, room) == -1)
			return -1;
		r = SSL_read(s->cs, s->pbuf + s->plen, (int)room);
		if (r > 0) {
			s->plen += (size_t)r;
			s->up_bytes += (unsigned long long)r;
			continue;
		}
		e = SSL_get_error(s->cs, r);
		if (e == SSL_ERROR_WANT_READ && !s->c_sock_eof)
			return 0;
		/* close_notify, a socket EOF, or a TLS error: no more requests */
		s->c_eof = 1;
		ERR_clear_error();
	}
	return 0;
}

/* Run the inspector over the undecided plaintext. */
static void
mitm_judge(struct mitm_session *s)
{
	struct inspect_action act;
	int r;

	while (!s->finished && !s->hblock && s->pjudged < s->plen) {
		if (s->tunnel) {
			s->pjudged = s->plen;
			return;
		}
		r = inspect_feed(s->insp, (const char *)s->pbuf + s->pjudged,
		    s->plen - s->pjudged, &act);
		if (r == -1) {
			snprintf(s->reason, sizeof(s->reason), "out of memory");
			mitm_answer(s, NULL, 0);
			return;
		}
		if (act.audit != NULL && s->audit != NULL)
			s->audit(s->actx, act.audit);
		switch (act.kind) {
		case INSPECT_NEED_MORE:
			return;
		case INSPECT_WAIT:
			/* mitm_host_matches never defers: cannot happen */
			snprintf(s->reason, sizeof(s->reason), "host lookup");
			mitm_answer(s, NULL, 0);
			return;
		case INSPECT_CONTINUE:
			(void)SSL_write(s->cs, act.resp, (int)act.resp_len);
			continue;
		case INSPECT_BLOCK:
			snprintf(s->reason, sizeof(s->reason), "%.*s",
			    (int)sizeof(s->reason) - 1,
			    act.audit != NULL ? act.audit->reason :
			    "request refused");
			if (act.after_forward && s->ustate == MITM_U_READY) {
				/*
				 * Responses to earlier requests may be in
				 * flight: the upstream gets close_notify once
				 * the approved bytes went, its responses are
				 * relayed until it closes, then the answer.
				 */
				s->held_len = act.resp_len < sizeof(s->held) ?
				    act.resp_len : sizeof(s->held);
				memcpy(s->held, act.resp, s->held_len);
				s->hblock = 1;
				s->c_eof = 1;
				return;
			}
			mitm_answer(s, act.resp, act.resp_len);
			return;
		case INSPECT_TUNNEL:
			s->tunnel = 1;
			s->pjudged += act.len;
			break;
		case INSPECT_FORWARD:
			if (act.len == 0 || act.len > s->plen - s->pjudged) {
				snprintf(s->reason, sizeof(s->reason),
				    "inspector error");
				mitm_answer(s, NULL, 0);
				return;
			}
			s->pjudged += act.len;
			break;
		}
	}
}

/* Approved plaintext into the upstream TLS. */
static void
mitm_upstream_write(struct mitm_session *s)
{
	int r;

	while (s->psent < s->pjudged &&
	    BIO_ctrl_pending(s->u_out) < MITM_OUT_MAX) {
		r = SSL_write(s->us, s->pbuf + s->psent,
		    (int)(s->pjudged - s->psent));
		if (r <= 0) {
			ERR_clear_error();
			return;
		}
		s->psent += (size_t)r;
	}
	if (s->psent == s->plen)
		s->plen = s->psent = s->pjudged = 0;
	if (s->c_eof && s->psent == s->pjudged && !s->u_shut) {
		(void)SSL_shutdown(s->us);
		s->u_shut = 1;
		ERR_clear_error();
	}
}

/* Responses: decrypt from upstream, re-encrypt to the client. */
static void
mitm_upstream_read(struct mitm_session *s)
{
	char buf[MITM_IO_CHUNK];
	int r, e, w;

	while (!s->u_eof && !s->finished &&
	    BIO_ctrl_pending(s->c_out) < MITM_OUT_MAX) {
		r = SSL_read(s->us, buf, sizeof(buf));
		if (r > 0) {
			s->down_bytes += (unsigned long long)r;
			w = SSL_write(s->cs, buf, r);	/* memory BIO: whole */
			if (w != r) {
				ERR_clear_error();
				s->u_eof = 1;
				break;
			}
			continue;
		}
		e = SSL_get_error(s->us, r);
		if (e == SSL_ERROR_WANT_READ && !s->u_sock_eof)
			return;
		s->u_eof = 1;
		ERR_clear_error();
	}
	if (s->u_eof && !s->finished && s->hblock) {
		mitm_answer(s, s->held, s->held_len);
	} else if (s->u_eof && !s->finished) {
		/* the upstream is done: so is the client's session */
		(void)SSL_shutdown(s->cs);
		ERR_clear_error();
		s->finished = 1;
	}
}

int
mitm_session_run(struct mitm_session *s)
{
	int r, e;
	char t[200];

	if (s->finished)
		return 0;
	if (!s->c_hs) {
		r = SSL_do_handshake(s->cs);
		if (r == 1) {
			s->c_hs = 1;
		} else {
			e = SSL_get_error(s->cs, r);
			if (e != SSL_ERROR_WANT_READ || s->c_sock_eof) {
				tlsca_ssl_error(t, sizeof(t));
				snprintf(s->reason, sizeof(s->reason),
				    "client TLS handshake failed: %s", t);
				s->finished = 1;	/* the alert is queued */
				return 0;
			}
		}
	}
	if (s->ustate == MITM_U_HANDSHAKE)
		mitm_upstream_handshake(s);
	if (s->ustate == MITM_U_FAILED) {
		if (s->c_hs)
			mitm_answer_502(s);
		return 0;
	}
	/*
	 * Requests are read and judged only once they can go on: an upstream
	 * that fails its handshake gets none of them judged as "allowed".
	 */
	if (!s->c_hs || s->ustate != MITM_U_READY)
		return 0;
	if (mitm_client_read(s) == -1)
		return -1;
	mitm_judge(s);
	if (s->finished)
		return 0;
	mitm_upstream_write(s);
	mitm_upstream_read(s);
	return 0;
}

/* --- socket glue ------------------------------------------------------------ */

/* Read a socket into the session; *moved += bytes.  -1 on an error. */
static int
io_read(struct mitm_session *s, enum mitm_side side, int fd, size_t *moved)
{
	char buf[MITM_IO_CHUNK];
	ssize_t n;
	int i;

	for (i = 0; i < MITM_READS_PER_EVENT &&
	    mitm_session_want_input(s, side); i++) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			*moved += (size_t)n;
			/* after our answer the client's bytes are discarded */
			if (!(s->finished && side == MITM_CLIENT) &&
			    mitm_session_input(s, side, buf, (size_t)n) == -1)
				return -1;
			continue;
		}
		if (n == 0) {
			mitm_session_eof(s, side);
			*moved += 1;
			return 0;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* Write a side's queued ciphertext; *moved += bytes.  -1 on an error. */
static int
io_write(struct mitm_session *s, enum mitm_side side, int fd, size_t *moved)
{
	const uint8_t *p;
	size_t len;
	ssize_t n;

	while ((len = mitm_session_output(s, side, &p)) > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			*moved += (size_t)n;
			mitm_session_consume(s, side, (size_t)n);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return -1;
	}
	return 0;
}

int
mitm_session_io(struct mitm_session *s, int cfd, int ufd, int *cmask,
    int *umask)
{
	const uint8_t *p;
	unsigned long long plain;
	size_t moved = 1;
	int i;

	/*
	 * Until nothing moves: ciphertext already buffered (a whole response
	 * read before the client's socket filled up) must be worked off
	 * without waiting for an event on the sockets, which may never come.
	 */
	for (i = 0; i < MITM_IO_ROUNDS && moved > 0; i++) {
		moved = 0;
		plain = s->up_bytes + s->down_bytes;
		if (io_read(s, MITM_CLIENT, cfd, &moved) == -1)
			return -1;
		if (ufd != -1 && !s->finished &&
		    io_read(s, MITM_UPSTREAM, ufd, &moved) == -1)
			return -1;
		if (mitm_session_run(s) == -1)
			return -1;
		if (io_write(s, MITM_CLIENT, cfd, &moved) == -1)
			return -1;
		if (ufd != -1 && !s->finished &&
		    io_write(s, MITM_UPSTREAM, ufd, &moved) == -1)
			return -1;
		moved += (size_t)(s->up_bytes + s->down_bytes - plain);
	}
	*cmask = *umask = 0;
	if (mitm_session_output(s, MITM_CLIENT, &p) > 0)
		*cmask |= LOOP_WRITE;
	if (s->finished)
		return *cmask == 0 ? 1 : 0;
	/* rounds used up with work left: the writable client wakes us again */
	if (moved > 0)
		*cmask |= LOOP_WRITE;
	if (mitm_session_want_input(s, MITM_CLIENT))
		*cmask |= LOOP_READ;
	if (ufd != -1) {
		if (mitm_session_output(s, MITM_UPSTREAM, &p) > 0)
			*umask |= LOOP_WRITE;
		else if (s->u_shut)
			(void)shutdown(ufd, SHUT_WR);
		if (mitm_session_want_input(s, MITM_UPSTREAM))
			*umask |= LOOP_READ;
	}
	return 0;
}
