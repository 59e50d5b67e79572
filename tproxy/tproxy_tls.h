/*
 * tproxy_tls.h - TLS ClientHello parser: SNI, ALPN, ECH presence.
 *
 * A pure function over the bytes a client has sent so far (no I/O, no
 * logging, no allocation).  It reassembles the handshake message across TLS
 * records itself, so callers only keep appending what they read to one
 * buffer and call it again: a hello split over many TCP segments or many
 * records (legal, and common since post-quantum key shares made ~1.6 KB
 * hellos the norm) parses the same as one in a single segment.
 */
#ifndef PIPELOCK_TPROXY_TLS_H
#define PIPELOCK_TPROXY_TLS_H

#include <stddef.h>
#include <stdint.h>

#define TLS_RECORD_HEADER	5
#define TLS_RECORD_MAX		16384	/* plaintext fragment limit, RFC 8446 5.1 */
#define TLS_HELLO_MAX		16384	/* largest ClientHello body we accept */
/* Bytes on the wire (hello + record headers) we are ready to buffer. */
#define TLS_HELLO_WIRE_MAX	(TLS_HELLO_MAX + 4 + 64 * TLS_RECORD_HEADER)
#define TLS_SNI_MAX		255	/* RFC 6066 HostName length */
#define TLS_ALPN_MAX		128	/* joined list kept for the audit line */

#define TLS_EXT_SERVER_NAME	0x0000
#define TLS_EXT_ALPN		0x0010
#define TLS_EXT_ECH		0xfe0d

struct tls_hello {
	/* results, valid when tls_hello_parse() returned > 0 */
	int		has_sni;
	char		sni[TLS_SNI_MAX + 1];	/* lower case, no trailing dot */
	int		has_alpn;
	char		alpn[TLS_ALPN_MAX + 1];	/* "h2,http/1.1"; truncated */
	int		has_ech;		/* 0xfe0d present (GREASE too) */
	uint16_t	legacy_version;
	unsigned	nrecords;		/* records the hello spanned */
	/* on error */
	const char	*err;			/* static text */
	size_t		err_pos;		/* offset in buf */
};

/*
 * Quick classification of a stream's first bytes: 1 if they can only be a
 * TLS handshake record, 0 if they cannot be, -1 if more bytes are needed to
 * tell (only when len < 3).
 */
int tls_hello_probe(const uint8_t *buf, size_t len);

/*
 * Parse the ClientHello at the start of buf (everything the client sent so
 * far).  Returns >0 (the offset just past the hello's last byte) when it is
 * complete, 0 when more bytes are needed, -1 on a malformed or oversized
 * hello (st->err, st->err_pos).  Resets *st on every call.
 */
int tls_hello_parse(const uint8_t *buf, size_t len, struct tls_hello *st);

#endif
