/*
 * tlsca.h - the interception CA: `pipelock-fw tls init|install-ca`, and
 * loading the CA for the engine.
 *
 * The CA is an EC P-256 key and a self-signed certificate (CA:TRUE
 * critical, keyCertSign|cRLSign, 10 years), written as DIR/ca.pem (0644)
 * and DIR/ca-key.pem (created 0600 with O_EXCL: never a window in which it
 * is readable by others, never overwritten without --force).
 */
#ifndef PIPELOCK_TLSCA_H
#define PIPELOCK_TLSCA_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define TLSCA_DEFAULT_DIR	"/etc/pipelock-fw/tls"
#define TLSCA_CERT_NAME		"ca.pem"
#define TLSCA_KEY_NAME		"ca-key.pem"
#define TLSCA_VALID_DAYS	3650
#define TLSCA_TRUST_PATH	"/usr/local/share/ca-certificates/pipelock-fw.crt"

struct strlist;

/*
 * Create a new CA in dir (created 0755 if missing).  force: replace an
 * existing pair.  permitted: domain patterns ("x.com", "*.x.com") the CA
 * may certify (a critical nameConstraints extension), or NULL / empty for
 * none.  0 on success; -1 with err set (an existing file without force is
 * an error too, and so is a pattern a DNS name constraint cannot express).
 */
int tlsca_create(const char *dir, int force, const struct strlist *permitted,
    char *err, size_t errlen);

/*
 * Load a CA certificate and its key (PEM).  On success *cert and *key are
 * owned by the caller and 0 is returned; -1 with err set, also when the key
 * does not match the certificate or the certificate is not a CA.
 */
int tlsca_load(const char *cert_path, const char *key_path, X509 **cert,
    EVP_PKEY **key, char *err, size_t errlen);

struct config;

/*
 * The patterns a CA for cfg should be limited to: api_allowlist in strict
 * mode, else NULL (an unrestricted configuration: no constraints).
 */
const struct strlist *tlsca_permitted(const struct config *cfg);

/* Shared by the CA and leaf minting (tproxy_mitm.c). */

/* Add extension nid=value (OpenSSL config syntax) to crt; 0 or -1. */
int tlsca_add_ext(X509 *crt, X509 *issuer, int nid, const char *value);
/* Give crt a random positive 128-bit serial; 0 or -1. */
int tlsca_serial_random(X509 *crt);
/* The oldest queued OpenSSL error as text into out; clears the queue. */
void tlsca_ssl_error(char *out, size_t len);

/*
 * Whether TLS to sni is intercepted by the configuration: interception
 * enabled, a non-empty SNI, not in tls_interception.passthrough_domains.
 * (QUIC to such names is refused: it would bypass the inspection.)
 */
int tlsca_intercepts(const struct config *cfg, const char *sni);

#endif
