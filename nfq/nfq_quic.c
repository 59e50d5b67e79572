/*
 * nfq_quic.c - QUIC v1 client Initial decoding for SNI policy.
 *
 * Steps (RFC 9001 5.2-5.4): initial_secret = HKDF-Extract(v1 salt, DCID);
 * client secret = HKDF-Expand-Label(initial_secret, "client in"); key, iv
 * and hp from it; remove header protection with AES-128-ECB over a sample
 * of the ciphertext; open the payload with AES-128-GCM (nonce = iv ^ packet
 * number, AAD = the unprotected header).  The CRYPTO frames then carry the
 * TLS ClientHello as a bare handshake message; it is wrapped into TLS
 * records and read by the TCP path's parser (tproxy/tproxy_tls.h) so SNI
 * policy is the same code for TLS and QUIC.
 *
 * OOM policy: a failed allocation refuses the datagram being decoded.
 */
#include <stdlib.h>
#include <sys/uio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "nfq/nfq_quic.h"

#define QUIC_LONG_FORM		0x80
#define QUIC_FIXED_BIT		0x40
#define QUIC_SHA256_LEN		32
#define QUIC_VARINT_MAX_LEN	8
#define QUIC_LABEL_MAX		64	/* HkdfLabel buffer */

/* Frame types allowed in Initial packets (RFC 9000 12.4, table 3). */
#define QUIC_FRAME_PADDING	0x00
#define QUIC_FRAME_PING		0x01
#define QUIC_FRAME_ACK		0x02
#define QUIC_FRAME_ACK_ECN	0x03
#define QUIC_FRAME_CRYPTO	0x06
#define QUIC_FRAME_CLOSE	0x1c

#define TLS_HS_CLIENT_HELLO	1
#define TLS_HS_HEADER		4

static const uint8_t quic_v1_salt[] = {
	0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
	0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
};

int
nfq_quic_varint(const uint8_t *buf, size_t len, uint64_t *v)
{
	size_t n, i;
	uint64_t x;

	if (len == 0)
		return -1;
	n = (size_t)1 << (buf[0] >> 6);
	if (len < n)
		return -1;
	x = buf[0] & 0x3f;
	for (i = 1; i < n; i++)
		x = x << 8 | buf[i];
	*v = x;
	return (int)n;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int
hdr_fail(struct quic_hdr *h, const char *why, size_t pos)
{
	h->err = why;
	h->err_pos = pos;
	return -1;
}

int
nfq_quic_is_initial(const uint8_t *buf, size_t len)
{
	if (len < 5 || !(buf[0] & QUIC_LONG_FORM) || !(buf[0] & QUIC_FIXED_BIT))
		return 0;
	return get32(buf + 1) == QUIC_VERSION_1 &&
	    ((buf[0] >> 4) & 3) == QUIC_PKT_INITIAL;
}

int
nfq_quic_parse_long(const uint8_t *buf, size_t len, struct quic_hdr *h)
{
	size_t pos = 0;
	uint64_t v;
	int n;

	memset(h, 0, sizeof(*h));
	if (len < 7)
		return hdr_fail(h, "shorter than a long header", len);
	h->first = buf[0];
	if (!(h->first & QUIC_LONG_FORM))
		return hdr_fail(h, "not a long header", 0);
	h->version = get32(buf + 1);
	h->type = (h->first >> 4) & 3;
	pos = 5;
	h->dcid_len = buf[pos++];
	if (h->version == QUIC_VERSION_1 && h->dcid_len > QUIC_CID_MAX)
		return hdr_fail(h, "destination CID longer than 20", pos - 1);
	if (len - pos < (size_t)h->dcid_len + 1)
		return hdr_fail(h, "destination CID runs past the datagram", pos);
	if (h->dcid_len <= QUIC_CID_MAX)
		memcpy(h->dcid, buf + pos, h->dcid_len);
	pos += h->dcid_len;
	h->scid_len = buf[pos++];
	if (h->version == QUIC_VERSION_1 && h->scid_len > QUIC_CID_MAX)
		return hdr_fail(h, "source CID longer than 20", pos - 1);
	if (len - pos < h->scid_len)
		return hdr_fail(h, "source CID runs past the datagram", pos);
	if (h->scid_len <= QUIC_CID_MAX)
		memcpy(h->scid, buf + pos, h->scid_len);
	pos += h->scid_len;

	/* Unknown versions and Retry: nothing we can step over reliably. */
	if (h->version != QUIC_VERSION_1 || h->type == 3) {
		h->pkt_len = len;
		return (int)len;
	}
	if (!(h->first & QUIC_FIXED_BIT))
		return hdr_fail(h, "fixed bit clear", 0);
	if (h->type == QUIC_PKT_INITIAL) {
		if ((n = nfq_quic_varint(buf + pos, len - pos, &h->token_len)) == -1)
			return hdr_fail(h, "token length truncated", pos);
		pos += (size_t)n;
		if (h->token_len > len - pos)
			return hdr_fail(h, "token runs past the datagram", pos);
		pos += (size_t)h->token_len;
	}
	if ((n = nfq_quic_varint(buf + pos, len - pos, &v)) == -1)
		return hdr_fail(h, "length truncated", pos);
	pos += (size_t)n;
	if (v > len - pos)
		return hdr_fail(h, "packet runs past the datagram", pos);
	if (v < QUIC_PN_MAX_LEN + QUIC_SAMPLE_LEN)
		return hdr_fail(h, "packet too short to sample", pos);
	h->pn_off = pos;
	h->pkt_len = pos + (size_t)v;
	return (int)h->pkt_len;
}

/* HKDF-Expand-Label (RFC 8446 7.1) with an empty context, out <= 32 bytes. */
static int
hkdf_expand_label(const uint8_t *secret, const char *label, uint8_t *out,
    size_t outlen)
{
	uint8_t info[QUIC_LABEL_MAX + 1], t[QUIC_SHA256_LEN];
	size_t llen = strlen(label), n = 0;
	unsigned int tlen = 0;

	if (outlen > QUIC_SHA256_LEN || 6 + llen + 5 > QUIC_LABEL_MAX)
		return -1;
	info[n++] = (uint8_t)(outlen >> 8);
	info[n++] = (uint8_t)outlen;
	info[n++] = (uint8_t)(6 + llen);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, llen);
	n += llen;
	info[n++] = 0;		/* context length */
	info[n++] = 1;		/* HKDF-Expand block counter T(1) */
	if (HMAC(EVP_sha256(), secret, QUIC_SHA256_LEN, info, n, t, &tlen) ==
	    NULL || tlen != QUIC_SHA256_LEN)
		return -1;
	memcpy(out, t, outlen);
	OPENSSL_cleanse(t, sizeof(t));
	return 0;
}

int
nfq_quic_initial_keys(const uint8_t *dcid, size_t dcid_len, int server,
    struct quic_keys *k)
{
	uint8_t initial[QUIC_SHA256_LEN], secret[QUIC_SHA256_LEN];
	unsigned int ilen = 0;
	int ret = -1;

	/* HKDF-Extract(salt, IKM) is HMAC(key = salt, data = IKM). */
	if (HMAC(EVP_sha256(), quic_v1_salt, sizeof(quic_v1_salt), dcid,
	    dcid_len, initial, &ilen) == NULL || ilen != QUIC_SHA256_LEN)
		goto cleanup;
	if (hkdf_expand_label(initial, server ? "server in" : "client in",
	    secret, sizeof(secret)) == -1)
		goto cleanup;
	if (hkdf_expand_label(secret, "quic key", k->key, QUIC_KEY_LEN) == -1 ||
	    hkdf_expand_label(secret, "quic iv", k->iv, QUIC_IV_LEN) == -1 ||
	    hkdf_expand_label(secret, "quic hp", k->hp, QUIC_HP_LEN) == -1)
		goto cleanup;
	ret = 0;
cleanup:
	OPENSSL_cleanse(initial, sizeof(initial));
	OPENSSL_cleanse(secret, sizeof(secret));
	return ret;
}

/* mask = AES-128-ECB(hp, sample) (RFC 9001 5.4.3). */
static int
quic_hp_mask(const uint8_t *hp, const uint8_t *sample, uint8_t *mask)
{
	EVP_CIPHER_CTX *ctx;
	int n = 0, ret = -1;

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, hp, NULL) != 1)
		goto cleanup;
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	if (EVP_EncryptUpdate(ctx, mask, &n, sample, QUIC_SAMPLE_LEN) != 1 ||
	    n != QUIC_SAMPLE_LEN)
		goto cleanup;
	ret = 0;
cleanup:
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

static void
quic_nonce(const uint8_t *iv, uint64_t pn, uint8_t *nonce)
{
	int i;

	memcpy(nonce, iv, QUIC_IV_LEN);
	for (i = 0; i < 8; i++)
		nonce[QUIC_IV_LEN - 1 - i] ^= (uint8_t)(pn >> (8 * i));
}

/* AES-128-GCM seal (enc = 1) or open (enc = 0); tag is read or written. */
static int
quic_aead(int enc, const struct quic_keys *k, uint64_t pn,
    const struct iovec *aad, size_t naad, const uint8_t *in, size_t inlen,
    uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx;
	uint8_t nonce[QUIC_IV_LEN];
	size_t i;
	int n = 0, ret = -1;

	quic_nonce(k->iv, pn, nonce);
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	if (EVP_CipherInit_ex(ctx, EVP_aes_128_gcm(), NULL, k->key, nonce,
	    enc) != 1)
		goto cleanup;
	for (i = 0; i < naad; i++)
		if (EVP_CipherUpdate(ctx, NULL, &n, aad[i].iov_base,
		    (int)aad[i].iov_len) != 1)
			goto cleanup;
	if (inlen > 0 && (EVP_CipherUpdate(ctx, out, &n, in, (int)inlen) != 1 ||
	    (size_t)n != inlen))
		goto cleanup;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, QUIC_TAG_LEN,
	    tag) != 1)
		goto cleanup;
	if (EVP_CipherFinal_ex(ctx, out + inlen, &n) != 1)
		goto cleanup;	/* open: authentication failed */
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, QUIC_TAG_LEN,
	    tag) != 1)
		goto cleanup;
	ret = 0;
cleanup:
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

int
nfq_quic_open(const uint8_t *pkt, const struct quic_hdr *h,
    const struct quic_keys *k, uint8_t *out, size_t outmax, size_t *outlen,
    uint64_t *pn)
{
	uint8_t mask[QUIC_SAMPLE_LEN], first, pnb[QUIC_PN_MAX_LEN];
	uint8_t tag[QUIC_TAG_LEN];
	struct iovec aad[3];
	size_t pn_len, hlen, clen, i;
	uint64_t v = 0;

	if (h->pn_off < 1 ||
	    h->pkt_len < h->pn_off + QUIC_PN_MAX_LEN + QUIC_SAMPLE_LEN)
		return -1;
	if (quic_hp_mask(k->hp, pkt + h->pn_off + QUIC_PN_MAX_LEN, mask) == -1)
		return -1;
	first = (uint8_t)(pkt[0] ^ (mask[0] & 0x0f));
	pn_len = (size_t)(first & 3) + 1;
	hlen = h->pn_off + pn_len;
	if (h->pkt_len < hlen + QUIC_TAG_LEN)
		return -1;
	for (i = 0; i < pn_len; i++) {
		pnb[i] = pkt[h->pn_off + i] ^ mask[1 + i];
		v = v << 8 | pnb[i];
	}
	clen = h->pkt_len - hlen - QUIC_TAG_LEN;
	if (clen > outmax)
		return -1;
	memcpy(tag, pkt + hlen + clen, QUIC_TAG_LEN);
	/* AAD is the unprotected header: fixed first byte and packet number. */
	aad[0].iov_base = &first;
	aad[0].iov_len = 1;
	aad[1].iov_base = (void *)(uintptr_t)(pkt + 1);
	aad[1].iov_len = h->pn_off - 1;
	aad[2].iov_base = pnb;
	aad[2].iov_len = pn_len;
	if (quic_aead(0, k, v, aad, 3, pkt + hlen, clen, out, tag) == -1)
		return -1;
	/* RFC 9000 17.2: reserved bits non-zero after removal is a violation. */
	if (first & 0x0c)
		return -1;
	*outlen = clen;
	*pn = v;
	return 0;
}

int
nfq_quic_seal_initial(const uint8_t *dcid, size_t dcid_len,
    const uint8_t *scid, size_t scid_len, uint64_t pn,
    const uint8_t *frames, size_t frames_len, size_t pad_to,
    uint8_t *out, size_t outmax)
{
	struct quic_keys k;
	struct iovec aad;
	uint8_t mask[QUIC_SAMPLE_LEN];
	size_t pos = 0, pn_off, payload_len, total, i;
	uint64_t plen;

	if (dcid_len > QUIC_CID_MAX || scid_len > QUIC_CID_MAX)
		return -1;
	if (nfq_quic_initial_keys(dcid, dcid_len, 0, &k) == -1)
		return -1;
	payload_len = frames_len;
	/* header: 1 + 4 + 1 + dcid + 1 + scid + token(1) + length(2) + pn(4) */
	total = 7 + dcid_len + scid_len + 1 + 2 + QUIC_PN_MAX_LEN + payload_len +
	    QUIC_TAG_LEN;
	if (total < pad_to) {
		payload_len += pad_to - total;
		total = pad_to;
	}
	plen = QUIC_PN_MAX_LEN + payload_len + QUIC_TAG_LEN;
	if (total > outmax || plen > 0x3fff)
		return -1;
	out[pos++] = 0xc0 | (QUIC_PN_MAX_LEN - 1);
	out[pos++] = 0;
	out[pos++] = 0;
	out[pos++] = 0;
	out[pos++] = 1;
	out[pos++] = (uint8_t)dcid_len;
	memcpy(out + pos, dcid, dcid_len);
	pos += dcid_len;
	out[pos++] = (uint8_t)scid_len;
	if (scid_len > 0)
		memcpy(out + pos, scid, scid_len);
	pos += scid_len;
	out[pos++] = 0;				/* token length */
	out[pos++] = (uint8_t)(0x40 | plen >> 8);	/* 2-byte varint */
	out[pos++] = (uint8_t)plen;
	pn_off = pos;
	for (i = 0; i < QUIC_PN_MAX_LEN; i++)
		out[pos++] = (uint8_t)(pn >> (8 * (QUIC_PN_MAX_LEN - 1 - i)));
	/* Plaintext in place, then encrypt in place (GCM is a stream mode). */
	memcpy(out + pos, frames, frames_len);
	memset(out + pos + frames_len, QUIC_FRAME_PADDING,
	    payload_len - frames_len);
	aad.iov_base = out;
	aad.iov_len = pos;
	if (quic_aead(1, &k, pn, &aad, 1, out + pos, payload_len, out + pos,
	    out + pos + payload_len) == -1)
		return -1;
	if (quic_hp_mask(k.hp, out + pn_off + QUIC_PN_MAX_LEN, mask) == -1)
		return -1;
	out[0] ^= mask[0] & 0x0f;
	for (i = 0; i < QUIC_PN_MAX_LEN; i++)
		out[pn_off + i] ^= mask[1 + i];
	return (int)total;
}

static size_t
put16(uint8_t *b, size_t n, size_t v)
{
	b[n] = (uint8_t)(v >> 8);
	b[n + 1] = (uint8_t)v;
	return n + 2;
}

size_t
nfq_quic_make_hello(const char *sni, size_t pad, uint8_t *out,
    size_t outmax)
{
	static const uint8_t fixed[] = {
		0x03, 0x03,			/* legacy_version */
		/* random: 32 bytes follow */
	};
	static const uint8_t tail[] = {
		0x00,				/* session id */
		0x00, 0x02, 0x13, 0x01,		/* TLS_AES_128_GCM_SHA256 */
		0x01, 0x00,			/* compression: null */
	};
	static const uint8_t versions[] = {
		0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04,	/* TLS 1.3 */
	};
	size_t sl = strlen(sni), n = 4, ext;

	ext = 9 + sl + sizeof(versions) + 4 + pad;
	if (sl > TLS_SNI_MAX || 4 + sizeof(fixed) + 32 + sizeof(tail) + 2 +
	    ext > outmax)
		return 0;
	memcpy(out + n, fixed, sizeof(fixed));
	n += sizeof(fixed);
	memset(out + n, 0x5a, 32);
	n += 32;
	memcpy(out + n, tail, sizeof(tail));
	n += sizeof(tail);
	n = put16(out, n, ext);
	n = put16(out, n, TLS_EXT_SERVER_NAME);
	n = put16(out, n, sl + 5);
	n = put16(out, n, sl + 3);
	out[n++] = 0;			/* host_name */
	n = put16(out, n, sl);
	memcpy(out + n, sni, sl);
	n += sl;
	memcpy(out + n, versions, sizeof(versions));
	n += sizeof(versions);
	n = put16(out, n, 21);		/* padding (RFC 7685) */
	n = put16(out, n, pad);
	memset(out + n, 0, pad);
	n += pad;
	out[0] = TLS_HS_CLIENT_HELLO;
	out[1] = (uint8_t)((n - 4) >> 16);
	put16(out, 2, n - 4);
	return n;
}

size_t
nfq_quic_crypto_frame(const uint8_t *data, size_t off, size_t len,
    uint8_t *out, size_t outmax)
{
	/* 2-byte varints: offsets and lengths below 16384 (QUIC_CH_MAX). */
	if (off > 0x3fff || len > 0x3fff || outmax < 5 + len)
		return 0;
	out[0] = QUIC_FRAME_CRYPTO;
	put16(out, 1, 0x4000 | off);
	put16(out, 3, 0x4000 | len);
	memcpy(out + 5, data + off, len);
	return 5 + len;
}

/* Store CRYPTO bytes by offset; overlaps must repeat the same bytes. */
static int
quic_crypto_add(struct quic_crypto *c, uint64_t off, const uint8_t *data,
    size_t len, const char **err)
{
	size_t i, o;

	if (off > QUIC_CH_MAX || len > QUIC_CH_MAX - off) {
		*err = "CRYPTO data beyond the ClientHello bound";
		return -1;
	}
	for (i = 0; i < len; i++) {
		o = (size_t)off + i;
		if (c->have[o / 8] & (1u << (o % 8))) {
			/* Two versions of one byte: an evasion attempt. */
			if (c->data[o] != data[i]) {
				*err = "conflicting CRYPTO data";
				return -1;
			}
			continue;
		}
		c->data[o] = data[i];
		c->have[o / 8] |= (uint8_t)(1u << (o % 8));
	}
	while (c->contiguous < QUIC_CH_MAX &&
	    (c->have[c->contiguous / 8] & (1u << (c->contiguous % 8))))
		c->contiguous++;
	return 0;
}

/* Skip n varints. */
static int
skip_varints(const uint8_t *buf, size_t len, size_t *pos, unsigned n)
{
	uint64_t v;
	int r;

	while (n-- > 0) {
		if ((r = nfq_quic_varint(buf + *pos, len - *pos, &v)) == -1)
			return -1;
		*pos += (size_t)r;
	}
	return 0;
}

int
nfq_quic_frames(const uint8_t *buf, size_t len, struct quic_crypto *c,
    const char **err)
{
	size_t pos = 0;
	uint64_t type, off, flen, count, i;
	int r;

	while (pos < len) {
		if ((r = nfq_quic_varint(buf + pos, len - pos, &type)) == -1)
			goto truncated;
		pos += (size_t)r;
		switch (type) {
		case QUIC_FRAME_PADDING:
		case QUIC_FRAME_PING:
			break;
		case QUIC_FRAME_ACK:
		case QUIC_FRAME_ACK_ECN:
			/* largest, delay, range count, first range */
			if (skip_varints(buf, len, &pos, 2) == -1 ||
			    (r = nfq_quic_varint(buf + pos, len - pos, &count)) == -1)
				goto truncated;
			pos += (size_t)r;
			if (count > len - pos)	/* each range is >= 2 bytes */
				goto truncated;
			if (skip_varints(buf, len, &pos, 1) == -1)
				goto truncated;
			for (i = 0; i < count; i++)
				if (skip_varints(buf, len, &pos, 2) == -1)
					goto truncated;
			if (type == QUIC_FRAME_ACK_ECN &&
			    skip_varints(buf, len, &pos, 3) == -1)
				goto truncated;
			break;
		case QUIC_FRAME_CRYPTO:
			if ((r = nfq_quic_varint(buf + pos, len - pos, &off)) == -1)
				goto truncated;
			pos += (size_t)r;
			if ((r = nfq_quic_varint(buf + pos, len - pos, &flen)) == -1)
				goto truncated;
			pos += (size_t)r;
			if (flen > len - pos)
				goto truncated;
			if (quic_crypto_add(c, off, buf + pos, (size_t)flen, err) == -1)
				return -1;
			pos += (size_t)flen;
			break;
		case QUIC_FRAME_CLOSE:
			/* error code, frame type, reason length + reason */
			if (skip_varints(buf, len, &pos, 2) == -1 ||
			    (r = nfq_quic_varint(buf + pos, len - pos, &flen)) == -1)
				goto truncated;
			pos += (size_t)r;
			if (flen > len - pos)
				goto truncated;
			pos += (size_t)flen;
			break;
		default:
			*err = "frame type not allowed in an Initial";
			return -1;
		}
	}
	return 0;
truncated:
	*err = "truncated frame";
	return -1;
}

int
nfq_quic_client_hello(const struct quic_crypto *c, struct tls_hello *th)
{
	uint8_t wire[TLS_HELLO_WIRE_MAX];
	size_t mlen, off = 0, w = 0, n;
	int r;

	if (c->contiguous < TLS_HS_HEADER)
		return 0;
	if (c->data[0] != TLS_HS_CLIENT_HELLO) {
		memset(th, 0, sizeof(*th));
		th->err = "CRYPTO stream does not start with a ClientHello";
		return -1;
	}
	mlen = TLS_HS_HEADER + ((size_t)c->data[1] << 16 |
	    (size_t)c->data[2] << 8 | c->data[3]);
	if (mlen > QUIC_CH_MAX) {
		memset(th, 0, sizeof(*th));
		th->err = "ClientHello too long";
		return -1;
	}
	if (c->contiguous < mlen)
		return 0;
	/* Wrap as TLS handshake records so the TCP path's parser reads it. */
	while (off < mlen) {
		n = mlen - off;
		if (n > TLS_RECORD_MAX)
			n = TLS_RECORD_MAX;
		wire[w++] = 0x16;
		wire[w++] = 0x03;
		wire[w++] = 0x01;
		wire[w++] = (uint8_t)(n >> 8);
		wire[w++] = (uint8_t)n;
		memcpy(wire + w, c->data + off, n);
		w += n;
		off += n;
	}
	r = tls_hello_parse(wire, w, th);
	if (r == 0) {		/* complete by length, so "more" means bad */
		th->err = "ClientHello shorter than its length";
		return -1;
	}
	return r > 0 ? (int)mlen : -1;
}

struct quic_conn {
	uint8_t			 dcid[QUIC_CID_MAX];
	uint8_t			 dcid_len;
	uint64_t		 last_ms;
	struct quic_crypto	*crypto;	/* NULL: slot free */
};

struct nfq_quic_table {
	struct quic_conn	conns[QUIC_CONNS_MAX];
	uint8_t			plain[QUIC_DGRAM_MAX];
};

struct nfq_quic_table *
nfq_quic_table_new(void)
{
	return calloc(1, sizeof(struct nfq_quic_table));
}

static void
quic_conn_clear(struct quic_conn *qc)
{
	free(qc->crypto);
	memset(qc, 0, sizeof(*qc));
}

void
nfq_quic_table_free(struct nfq_quic_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < QUIC_CONNS_MAX; i++)
		quic_conn_clear(&t->conns[i]);
	free(t);
}

/*
 * The entry for dcid, else a fresh one: a free or expired slot, else the
 * least recently used (an agent opening many half-finished handshakes only
 * delays its own connections).  NULL on allocation failure.
 */
static struct quic_conn *
quic_conn_get(struct nfq_quic_table *t, const uint8_t *dcid, size_t dcid_len,
    uint64_t now_ms)
{
	struct quic_conn *qc, *free_slot = NULL, *lru = NULL, *victim;
	size_t i;

	for (i = 0; i < QUIC_CONNS_MAX; i++) {
		qc = &t->conns[i];
		if (qc->crypto != NULL && now_ms - qc->last_ms > QUIC_CONN_TTL_MS)
			quic_conn_clear(qc);
		if (qc->crypto == NULL) {
			if (free_slot == NULL)
				free_slot = qc;
			continue;
		}
		if (qc->dcid_len == dcid_len &&
		    memcmp(qc->dcid, dcid, dcid_len) == 0) {
			qc->last_ms = now_ms;
			return qc;
		}
		if (lru == NULL || qc->last_ms < lru->last_ms)
			lru = qc;
	}
	victim = free_slot != NULL ? free_slot : lru;
	quic_conn_clear(victim);
	if ((victim->crypto = calloc(1, sizeof(*victim->crypto))) == NULL)
		return NULL;
	memcpy(victim->dcid, dcid, dcid_len);
	victim->dcid_len = (uint8_t)dcid_len;
	victim->last_ms = now_ms;
	return victim;
}

enum quic_result
nfq_quic_feed(struct nfq_quic_table *t, const uint8_t *buf, size_t len,
    uint64_t now_ms, struct tls_hello *th, const char **err)
{
	struct quic_hdr h, first;
	struct quic_keys k;
	struct quic_conn *qc = NULL;
	size_t pos = 0, plen;
	uint64_t pn;
	int n, r;

	*err = NULL;
	if (!nfq_quic_is_initial(buf, len))
		return QUIC_NOT_INITIAL;
	if (nfq_quic_parse_long(buf, len, &first) == -1) {
		*err = first.err;
		return QUIC_MALFORMED;
	}
	if (nfq_quic_initial_keys(first.dcid, first.dcid_len, 0, &k) == -1) {
		*err = "key derivation failed";
		return QUIC_MALFORMED;
	}
	if ((qc = quic_conn_get(t, first.dcid, first.dcid_len, now_ms)) == NULL) {
		*err = "out of memory";
		return QUIC_MALFORMED;
	}
	while (pos < len) {
		/* Bytes that are not a long header end the coalesced run. */
		if (!(buf[pos] & QUIC_LONG_FORM))
			break;
		if ((n = nfq_quic_parse_long(buf + pos, len - pos, &h)) == -1) {
			*err = h.err;
			goto malformed;
		}
		if (h.version != QUIC_VERSION_1) {
			*err = "coalesced packet of another version";
			goto malformed;
		}
		if (h.type == QUIC_PKT_INITIAL) {
			/* RFC 9000 12.2: coalesced packets share the DCID. */
			if (h.dcid_len != first.dcid_len ||
			    memcmp(h.dcid, first.dcid, h.dcid_len) != 0) {
				*err = "coalesced Initial with another DCID";
				goto malformed;
			}
			if (nfq_quic_open(buf + pos, &h, &k, t->plain,
			    sizeof(t->plain), &plen, &pn) == -1) {
				*err = "Initial does not decrypt";
				goto malformed;
			}
			if (nfq_quic_frames(t->plain, plen, qc->crypto, err) == -1)
				goto malformed;
		}
		/* 0-RTT and Handshake packets: not ours to read, stepped over. */
		pos += (size_t)n;
	}
	r = nfq_quic_client_hello(qc->crypto, th);
	if (r == 0)
		return QUIC_NEED_MORE;
	quic_conn_clear(qc);
	if (r == -1) {
		*err = th->err ? th->err : "bad ClientHello";
		return QUIC_MALFORMED;
	}
	return QUIC_HELLO;
malformed:
	quic_conn_clear(qc);
	return QUIC_MALFORMED;
}

int
nfq_quic_vn_build(const struct quic_hdr *h, uint8_t *out, size_t outmax)
{
	size_t n = 0;

	if (h->version == 0 || h->dcid_len > QUIC_CID_MAX ||
	    h->scid_len > QUIC_CID_MAX ||
	    outmax < (size_t)7 + h->dcid_len + h->scid_len + 4)
		return -1;
	/* long header form; the other seven bits are unused (any value) */
	out[n++] = 0x80 | (h->first & 0x7f);
	memset(out + n, 0, 4);			/* version 0: negotiation */
	n += 4;
	out[n++] = h->scid_len;			/* to the client's own ID */
	memcpy(out + n, h->scid, h->scid_len);
	n += h->scid_len;
	out[n++] = h->dcid_len;			/* from the ID it chose */
	memcpy(out + n, h->dcid, h->dcid_len);
	n += h->dcid_len;
	out[n++] = (uint8_t)(QUIC_VERSION_REFUSE >> 24);
	out[n++] = (uint8_t)(QUIC_VERSION_REFUSE >> 16);
	out[n++] = (uint8_t)(QUIC_VERSION_REFUSE >> 8);
	out[n++] = (uint8_t)QUIC_VERSION_REFUSE;
	return (int)n;
}
