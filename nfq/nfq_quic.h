/*
 * nfq_quic.h - QUIC v1 client Initial packets: parse, decrypt, reassemble
 * the ClientHello, read its SNI.
 *
 * RFC 9000 17.2 (long header), RFC 9001 5 (Initial keys from the client's
 * first Destination Connection ID, header protection, AES-128-GCM), RFC 9000
 * 19.6 (CRYPTO frames).  Only v1 is decoded; other versions are reported as
 * such so the caller can apply its "not inspectable" verdict.
 *
 * The per-packet functions are pure.  struct nfq_quic_table is the small
 * bounded state that joins the CRYPTO data of several Initial datagrams of
 * one connection (post-quantum key shares push a ClientHello past one
 * 1200-byte datagram).
 */
#ifndef PIPELOCK_NFQ_QUIC_H
#define PIPELOCK_NFQ_QUIC_H

#include <stddef.h>
#include <stdint.h>

#include "tproxy/tproxy_tls.h"

#define QUIC_VERSION_1		0x00000001u
#define QUIC_CID_MAX		20	/* RFC 9000 17.2 */
#define QUIC_KEY_LEN		16	/* AEAD_AES_128_GCM */
#define QUIC_IV_LEN		12
#define QUIC_HP_LEN		16
#define QUIC_TAG_LEN		16
#define QUIC_SAMPLE_LEN		16
#define QUIC_PN_MAX_LEN		4
#define QUIC_INITIAL_MIN	1200	/* RFC 9000 14.1: client Initial datagrams */
#define QUIC_CH_MAX		TLS_HELLO_MAX	/* reassembly bound (bytes of CRYPTO) */
#define QUIC_CONNS_MAX		64	/* connections being reassembled */
#define QUIC_CONN_TTL_MS	10000	/* forget an unfinished hello after this */
#define QUIC_DGRAM_MAX		65535

#define QUIC_PKT_INITIAL	0	/* v1 long header type bits */

struct quic_keys {
	uint8_t	key[QUIC_KEY_LEN];
	uint8_t	iv[QUIC_IV_LEN];
	uint8_t	hp[QUIC_HP_LEN];
};

/* One long-header packet as found in a datagram. */
struct quic_hdr {
	uint8_t		 first;		/* protected first byte */
	uint32_t	 version;
	uint8_t		 type;		/* (first >> 4) & 3 */
	uint8_t		 dcid_len;
	uint8_t		 scid_len;
	uint8_t		 dcid[QUIC_CID_MAX];
	uint8_t		 scid[QUIC_CID_MAX];
	uint64_t	 token_len;
	size_t		 pn_off;	/* offset of the packet number */
	size_t		 pkt_len;	/* whole packet, header included */
	const char	*err;
	size_t		 err_pos;
};

/* RFC 9000 16 variable-length integer; -1 short/bad, else bytes used. */
int nfq_quic_varint(const uint8_t *buf, size_t len, uint64_t *v);

/* 1 if the datagram starts with a QUIC v1 long-header Initial, else 0. */
int nfq_quic_is_initial(const uint8_t *buf, size_t len);

/*
 * Parse the long header at buf.  Returns -1 on error (h->err), else the
 * number of bytes of this packet (> 0), so a caller steps through the
 * packets coalesced in one datagram.  For versions other than v1 only the
 * version-independent part is parsed and pkt_len is the rest of the
 * datagram.
 */
int nfq_quic_parse_long(const uint8_t *buf, size_t len, struct quic_hdr *h);

/* Client (server = 0) or server Initial keys for a connection ID. 0 / -1. */
int nfq_quic_initial_keys(const uint8_t *dcid, size_t dcid_len, int server,
    struct quic_keys *k);

/*
 * Remove header protection and decrypt one Initial packet (pkt, h from
 * nfq_quic_parse_long).  The plaintext frames go to out (outmax >=
 * h->pkt_len); *outlen and *pn are set.  0 on success, -1 when the packet
 * is too short to sample or does not authenticate.
 */
int nfq_quic_open(const uint8_t *pkt, const struct quic_hdr *h,
    const struct quic_keys *k, uint8_t *out, size_t outmax, size_t *outlen,
    uint64_t *pn);

/*
 * The reverse, for tests and corpus generators: build one protected v1
 * Initial packet from the plaintext frames (padded with PADDING frames to
 * pad_to bytes when pad_to is larger), packet number length 4.  Returns the
 * packet length, or -1 if out is too small.
 */
int nfq_quic_seal_initial(const uint8_t *dcid, size_t dcid_len,
    const uint8_t *scid, size_t scid_len, uint64_t pn,
    const uint8_t *frames, size_t frames_len, size_t pad_to,
    uint8_t *out, size_t outmax);

/*
 * Also for tests and generators: a minimal TLS 1.3 ClientHello handshake
 * message (no record header) with SNI sni and a padding extension of pad
 * bytes (standing in for a post-quantum key share), and a CRYPTO frame
 * carrying data[off..off+len).  Each returns the bytes written, or 0 if out
 * (outmax bytes) is too small.
 */
size_t nfq_quic_make_hello(const char *sni, size_t pad, uint8_t *out,
    size_t outmax);
size_t nfq_quic_crypto_frame(const uint8_t *data, size_t off, size_t len,
    uint8_t *out, size_t outmax);

/* CRYPTO stream bytes 0..QUIC_CH_MAX-1 and which of them arrived. */
struct quic_crypto {
	uint8_t		data[QUIC_CH_MAX];
	uint8_t		have[QUIC_CH_MAX / 8];
	size_t		contiguous;	/* bytes 0..contiguous-1 all present */
};

/*
 * Walk the frames of a decrypted Initial: PADDING, PING, ACK, CRYPTO and
 * CONNECTION_CLOSE are legal there (RFC 9000 12.4); CRYPTO data is stored in
 * c by offset.  -1 on a frame that is malformed, not allowed in an Initial,
 * or reaches past QUIC_CH_MAX; else 0.
 */
int nfq_quic_frames(const uint8_t *buf, size_t len, struct quic_crypto *c,
    const char **err);

/*
 * The ClientHello in c: 0 while incomplete, -1 if malformed, else > 0 with
 * th filled (SNI, ALPN, ECH) by the TLS parser of tproxy/tproxy_tls.h.
 */
int nfq_quic_client_hello(const struct quic_crypto *c, struct tls_hello *th);

enum quic_result {
	QUIC_NOT_INITIAL = 0,	/* not a v1 client Initial */
	QUIC_MALFORMED,		/* looked like one, but does not decode */
	QUIC_NEED_MORE,		/* ClientHello continues in a later datagram */
	QUIC_HELLO,		/* ClientHello complete: see th */
};

struct nfq_quic_table;

struct nfq_quic_table *nfq_quic_table_new(void);
void nfq_quic_table_free(struct nfq_quic_table *t);

/*
 * Feed one UDP payload.  Every Initial coalesced in it is decrypted and its
 * CRYPTO data joined with earlier datagrams of the same connection (keyed
 * by the Destination Connection ID).  Returns the state of that
 * connection's ClientHello; with QUIC_HELLO the entry is forgotten and th
 * holds the result; *err says why with QUIC_MALFORMED.  now_ms is a
 * monotonic clock used to expire stale entries.  Allocation failure is
 * reported as QUIC_MALFORMED ("out of memory"): the datagram is refused.
 */
enum quic_result nfq_quic_feed(struct nfq_quic_table *t, const uint8_t *buf,
    size_t len, uint64_t now_ms, struct tls_hello *th, const char **err);

/* The only version a refusal's Version Negotiation lists (RFC 9000 15). */
#define QUIC_VERSION_REFUSE	0x0a0a0a0au
#define QUIC_VN_MAX		(7 + 2 * QUIC_CID_MAX + 4)

/*
 * A Version Negotiation packet answering the client long header h (as the
 * server would: connection IDs swapped) and listing only
 * QUIC_VERSION_REFUSE, a reserved version no client speaks: RFC 9000 6.2
 * makes the client abandon the attempt at once (and a browser fall back to
 * TCP).  Returns its length, or -1 when out (outmax bytes) is too small or
 * h is itself a Version Negotiation packet (version 0).
 */
int nfq_quic_vn_build(const struct quic_hdr *h, uint8_t *out, size_t outmax);

#endif
