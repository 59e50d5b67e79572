/*
 * tproxy_tls.c - ClientHello parser (see tproxy_tls.h).
 *
 * The handshake message is read through a cursor that walks the TLS records
 * as it goes, so a hello split over several records (each with its own
 * 5-byte header) reads exactly like one in a single record, without copying
 * it into a reassembly buffer.  Every call re-parses from the first byte:
 * the caller keeps the bytes anyway (they are relayed unchanged), hellos are
 * small, and a stateless parse cannot get out of step with the stream.
 */
#include "tproxy/tproxy_tls.h"

#include <stdint.h>
#include <string.h>

#define TLS_CONTENT_HANDSHAKE	0x16
#define TLS_HS_CLIENT_HELLO	0x01
#define TLS_HS_HEADER		4
#define TLS_RANDOM_LEN		32
#define TLS_SESSION_ID_MAX	32

enum cur_status {
	CUR_OK = 0,
	CUR_MORE,
	CUR_ERR,
};

struct tls_cur {
	const uint8_t	*buf;
	size_t		 len;
	size_t		 off;		/* next byte in buf */
	size_t		 rec_left;	/* payload bytes left in this record */
	size_t		 msg_left;	/* hello body bytes left */
	unsigned	 nrecords;
	enum cur_status	 status;
	const char	*err;
	size_t		 err_pos;
};

static int
cur_fail(struct tls_cur *c, const char *err)
{
	if (c->status == CUR_OK) {
		c->status = CUR_ERR;
		c->err = err;
		c->err_pos = c->off;
	}
	return -1;
}

/* Step over the next record header; the hello may only be in handshake records. */
static int
cur_record(struct tls_cur *c)
{
	const uint8_t *h;
	size_t rlen;

	if (c->len - c->off < TLS_RECORD_HEADER) {
		c->status = CUR_MORE;
		return -1;
	}
	h = c->buf + c->off;
	if (h[0] != TLS_CONTENT_HANDSHAKE)
		return cur_fail(c, "not a handshake record");
	if (h[1] != 3)
		return cur_fail(c, "bad record version");
	rlen = (size_t)h[3] << 8 | h[4];
	if (rlen == 0)
		return cur_fail(c, "empty handshake record");
	if (rlen > TLS_RECORD_MAX)
		return cur_fail(c, "record too long");
	if (c->off + TLS_RECORD_HEADER > TLS_HELLO_WIRE_MAX)
		return cur_fail(c, "hello spans too many bytes");
	c->off += TLS_RECORD_HEADER;
	c->rec_left = rlen;
	c->nrecords++;
	return 0;
}

/* Read n bytes of the handshake stream into dst (NULL: skip them). */
static int
cur_read(struct tls_cur *c, uint8_t *dst, size_t n)
{
	size_t avail;

	if (c->status != CUR_OK)
		return -1;
	if (n > c->msg_left)
		return cur_fail(c, "field overruns the hello");
	c->msg_left -= n;
	while (n > 0) {
		if (c->rec_left == 0 && cur_record(c) == -1)
			return -1;
		avail = c->len - c->off;
		if (avail == 0) {
			c->status = CUR_MORE;
			return -1;
		}
		if (avail > c->rec_left)
			avail = c->rec_left;
		if (avail > n)
			avail = n;
		if (dst != NULL) {
			memcpy(dst, c->buf + c->off, avail);
			dst += avail;
		}
		c->off += avail;
		c->rec_left -= avail;
		n -= avail;
	}
	return 0;
}

/* A big-endian integer of n (1..3) bytes. */
static int
cur_uint(struct tls_cur *c, size_t n, size_t *v)
{
	uint8_t b[3];
	size_t i;

	if (cur_read(c, b, n) == -1)
		return -1;
	for (*v = 0, i = 0; i < n; i++)
		*v = *v << 8 | b[i];
	return 0;
}

#define cur_u8(c, v)	cur_uint((c), 1, (v))
#define cur_u16(c, v)	cur_uint((c), 2, (v))
#define cur_u24(c, v)	cur_uint((c), 3, (v))

/*
 * A HostName is a DNS name (RFC 6066 3): refuse anything else rather than
 * hand control bytes or separators to the policy and the audit log.
 */
static int
sni_store(struct tls_hello *st, const uint8_t *name, size_t n)
{
	size_t i;
	uint8_t ch;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || name[0] == '.')
		return -1;
	for (i = 0; i < n; i++) {
		ch = name[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = ch - 'A' + 'a';
		else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '_' || ch == '.'))
			return -1;
		if (ch == '.' && i > 0 && st->sni[i - 1] == '.')
			return -1;
		st->sni[i] = (char)ch;
	}
	st->sni[n] = '\0';
	st->has_sni = 1;
	return 0;
}

static int
ext_server_name(struct tls_cur *c, struct tls_hello *st, size_t elen)
{
	uint8_t name[TLS_SNI_MAX];
	size_t list, type, nlen;

	if (cur_u16(c, &list) == -1)
		return -1;
	if (list + 2 != elen)
		return cur_fail(c, "server_name list length mismatch");
	while (list > 0) {
		if (list < 3)
			return cur_fail(c, "truncated server_name entry");
		if (cur_u8(c, &type) == -1 || cur_u16(c, &nlen) == -1)
			return -1;
		list -= 3;
		if (nlen > list)
			return cur_fail(c, "server_name entry overruns list");
		list -= nlen;
		if (type != 0 || st->has_sni) {
			/* Other name types are undefined; only the first host_name counts. */
			if (cur_read(c, NULL, nlen) == -1)
				return -1;
			continue;
		}
		if (nlen == 0 || nlen > TLS_SNI_MAX)
			return cur_fail(c, "bad server_name length");
		if (cur_read(c, name, nlen) == -1)
			return -1;
		if (sni_store(st, name, nlen) == -1)
			return cur_fail(c, "server_name is not a DNS name");
	}
	return 0;
}

static void
alpn_append(struct tls_hello *st, const uint8_t *p, size_t n)
{
	size_t have = strlen(st->alpn), i;

	if (have > 0 && have < TLS_ALPN_MAX)
		st->alpn[have++] = ',';
	for (i = 0; i < n && have < TLS_ALPN_MAX; i++)
		st->alpn[have++] = (p[i] >= 0x21 && p[i] < 0x7f && p[i] != ',')
		    ? (char)p[i] : '?';
	st->alpn[have] = '\0';
}

static int
ext_alpn(struct tls_cur *c, struct tls_hello *st, size_t elen)
{
	uint8_t proto[255];
	size_t list, plen;

	if (cur_u16(c, &list) == -1)
		return -1;
	if (list + 2 != elen || list < 2)
		return cur_fail(c, "alpn list length mismatch");
	while (list > 0) {
		if (cur_u8(c, &plen) == -1)
			return -1;
		list--;
		if (plen == 0 || plen > list)
			return cur_fail(c, "bad alpn protocol length");
		if (cur_read(c, proto, plen) == -1)
			return -1;
		list -= plen;
		alpn_append(st, proto, plen);
	}
	st->has_alpn = 1;
	return 0;
}

static int
hello_extensions(struct tls_cur *c, struct tls_hello *st)
{
	size_t total, type, elen, before;

	if (c->msg_left == 0)
		return 0;	/* TLS 1.0-style hello without extensions */
	if (cur_u16(c, &total) == -1)
		return -1;
	if (total != c->msg_left)
		return cur_fail(c, "extensions length mismatch");
	while (c->msg_left > 0) {
		if (cur_u16(c, &type) == -1 || cur_u16(c, &elen) == -1)
			return -1;
		if (elen > c->msg_left)
			return cur_fail(c, "extension overruns the hello");
		before = c->msg_left;
		switch (type) {
		case TLS_EXT_SERVER_NAME:
			if (st->has_sni)
				return cur_fail(c, "duplicate server_name");
			if (ext_server_name(c, st, elen) == -1)
				return -1;
			break;
		case TLS_EXT_ALPN:
			if (st->has_alpn)
				return cur_fail(c, "duplicate alpn");
			if (ext_alpn(c, st, elen) == -1)
				return -1;
			break;
		case TLS_EXT_ECH:
			/* Judged by the outer SNI; GREASE ECH is in every Chrome hello. */
			st->has_ech = 1;
			/* FALLTHROUGH */
		default:
			if (cur_read(c, NULL, elen) == -1)
				return -1;
			break;
		}
		if (before - c->msg_left != elen)
			return cur_fail(c, "extension length mismatch");
	}
	return 0;
}

int
tls_hello_probe(const uint8_t *buf, size_t len)
{
	if (len == 0)
		return -1;
	if (buf[0] != TLS_CONTENT_HANDSHAKE)
		return 0;
	if (len >= 2 && buf[1] != 3)
		return 0;
	if (len >= 3 && buf[2] > 4)
		return 0;
	return len >= 3 ? 1 : -1;
}

int
tls_hello_parse(const uint8_t *buf, size_t len, struct tls_hello *st)
{
	struct tls_cur c;
	size_t type, hlen, v, n;

	memset(st, 0, sizeof(*st));
	memset(&c, 0, sizeof(c));
	c.buf = buf;
	c.len = len;
	c.msg_left = TLS_HS_HEADER;

	if (cur_u8(&c, &type) == -1 || cur_u24(&c, &hlen) == -1)
		goto out;
	if (type != TLS_HS_CLIENT_HELLO) {
		cur_fail(&c, "not a ClientHello");
		goto out;
	}
	if (hlen > TLS_HELLO_MAX) {
		cur_fail(&c, "ClientHello too long");
		goto out;
	}
	c.msg_left = hlen;
	if (cur_u16(&c, &v) == -1)
		goto out;
	st->legacy_version = (uint16_t)v;
	if ((v >> 8) != 3) {
		cur_fail(&c, "bad client_version");
		goto out;
	}
	if (cur_read(&c, NULL, TLS_RANDOM_LEN) == -1 || cur_u8(&c, &n) == -1)
		goto out;
	if (n > TLS_SESSION_ID_MAX) {
		cur_fail(&c, "session_id too long");
		goto out;
	}
	if (cur_read(&c, NULL, n) == -1 || cur_u16(&c, &n) == -1)
		goto out;
	if (n < 2 || n % 2 != 0) {
		cur_fail(&c, "bad cipher_suites length");
		goto out;
	}
	if (cur_read(&c, NULL, n) == -1 || cur_u8(&c, &n) == -1)
		goto out;
	if (n < 1) {
		cur_fail(&c, "empty compression_methods");
		goto out;
	}
	if (cur_read(&c, NULL, n) == -1)
		goto out;
	hello_extensions(&c, st);
out:
	st->nrecords = c.nrecords;
	switch (c.status) {
	case CUR_OK:
		return (int)c.off;
	case CUR_MORE:
		return 0;
	default:
		st->err = c.err;
		st->err_pos = c.err_pos;
		st->has_sni = 0;
		st->sni[0] = '\0';
		return -1;
	}
}
