/*
 * test_tls_hello.c - the ClientHello parser on real and rebuilt hellos:
 * whole, cut at every offset (TCP segments), re-framed over two records at
 * every split point and over one record per byte, and malformed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tls_hellos.h"
#include "tproxy/tproxy_tls.h"

/* Re-frame the handshake message of hello (one record) into records of at most chunk bytes, split first at first. */
static size_t
reframe(const unsigned char *hello, size_t len, size_t first, size_t chunk,
    unsigned char *out)
{
	const unsigned char *hs = hello + TLS_RECORD_HEADER;
	size_t hslen = len - TLS_RECORD_HEADER, off = 0, o = 0, n;

	while (off < hslen) {
		n = off == 0 && first ? first : chunk;
		if (n > hslen - off)
			n = hslen - off;
		out[o++] = 0x16;
		out[o++] = 0x03;
		out[o++] = 0x03;
		out[o++] = (unsigned char)(n >> 8);
		out[o++] = (unsigned char)n;
		memcpy(out + o, hs + off, n);
		o += n;
		off += n;
	}
	return o;
}

static int
prefixes_need_more(const unsigned char *buf, size_t len)
{
	struct tls_hello st;
	size_t k;

	for (k = 0; k < len; k++)
		if (tls_hello_parse(buf, k, &st) != 0)
			return 0;
	return 1;
}

static void
check_whole(const char *name, const unsigned char *buf, size_t len,
    const char *sni, const char *alpn, int ech)
{
	struct tls_hello st;

	is_int(tls_hello_parse(buf, len, &st), len, "%s: complete", name);
	if (sni) {
		ok(st.has_sni, "%s: has sni", name);
		is_str(st.sni, sni, "%s: sni", name);
	} else {
		ok(!st.has_sni && st.sni[0] == '\0', "%s: no sni", name);
	}
	if (alpn)
		is_str(st.alpn, alpn, "%s: alpn", name);
	else
		ok(!st.has_alpn, "%s: no alpn", name);
	is_int(st.has_ech, ech, "%s: ech flag", name);
	is_int(st.nrecords, 1, "%s: one record", name);
	ok(prefixes_need_more(buf, len), "%s: every prefix needs more", name);
}

static void
test_split_records(const char *name, const unsigned char *hello, size_t len,
    const char *sni)
{
	unsigned char *buf = malloc(TLS_HELLO_WIRE_MAX);
	size_t hslen = len - TLS_RECORD_HEADER, s, n;
	struct tls_hello st;
	int bad = 0, badpre = 0;

	for (s = 1; s < hslen; s++) {
		n = reframe(hello, len, s, TLS_RECORD_MAX, buf);
		if (tls_hello_parse(buf, n, &st) != (int)n || st.nrecords != 2 ||
		    (sni && strcmp(st.sni, sni) != 0))
			bad++;
		/* cut inside the second record header too */
		if (tls_hello_parse(buf, s + TLS_RECORD_HEADER + 2, &st) != 0)
			badpre++;
	}
	is_int(bad, 0, "%s: two records, every split point", name);
	is_int(badpre, 0, "%s: two records, cut in 2nd header", name);

	n = reframe(hello, len, 0, 1, buf);
	is_int(tls_hello_parse(buf, n, &st), n, "%s: one record per byte", name);
	is_int(st.nrecords, hslen, "%s: %zu records counted", name, hslen);
	if (sni)
		is_str(st.sni, sni, "%s: sni from 1-byte records", name);
	ok(prefixes_need_more(buf, n), "%s: 1-byte records, every prefix", name);
	free(buf);
}

/* Copy a hello and patch one byte. */
static int
parse_patched(const unsigned char *hello, size_t len, size_t pos, int val,
    struct tls_hello *st)
{
	unsigned char buf[4096];

	memcpy(buf, hello, len);
	buf[pos] = (unsigned char)val;
	return tls_hello_parse(buf, len, st);
}

/* Offset of needle (n bytes) in hay; 0 when absent. */
static size_t
find(const unsigned char *hay, size_t len, const char *needle, size_t n)
{
	size_t i;

	for (i = 0; i + n <= len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return i;
	return 0;
}

static void
test_malformed(void)
{
	struct tls_hello st;
	unsigned char buf[4096];
	size_t pos, i;
	int r, crash_free = 1;

	is_int(parse_patched(hello_curl, sizeof(hello_curl), 0, 0x17, &st), -1,
	    "application_data record refused");
	ok(st.err != NULL && st.err_pos == 0, "error text and position: %s",
	    st.err ? st.err : "(none)");
	is_int(parse_patched(hello_curl, sizeof(hello_curl), 5, 0x02, &st), -1,
	    "ServerHello type refused");
	/* record length 0 */
	memcpy(buf, hello_curl, 5);
	buf[3] = buf[4] = 0;
	is_int(tls_hello_parse(buf, 5, &st), -1, "empty record refused");
	/* handshake length beyond TLS_HELLO_MAX */
	is_int(parse_patched(hello_curl, sizeof(hello_curl), 6, 0x01, &st), -1,
	    "hello length > TLS_HELLO_MAX refused");
	/* handshake length shorter than its fields: extensions overrun */
	is_int(parse_patched(hello_curl, sizeof(hello_curl), 8, 0x40, &st), -1,
	    "hello length shorter than the fields");
	/* a bad byte in the server name */
	pos = find(hello_curl, sizeof(hello_curl), "api.example.com", 15);
	ok(pos > 0, "sni found in capture");
	is_int(parse_patched(hello_curl, sizeof(hello_curl), pos + 3, '\n', &st),
	    -1, "control char in sni refused");
	ok(!st.has_sni, "no sni reported on error");
	is_int(parse_patched(hello_curl, sizeof(hello_curl), pos + 4, '.', &st),
	    -1, "empty label in sni refused");
	/* server_name list length one too long */
	is_int(parse_patched(hello_curl, sizeof(hello_curl), pos - 4, 0x20, &st),
	    -1, "server_name list length mismatch refused");
	/* session id length 33 */
	is_int(parse_patched(hello_curl, sizeof(hello_curl), 43, 33, &st), -1,
	    "session_id > 32 refused");
	/* record version 2 */
	is_int(parse_patched(hello_curl, sizeof(hello_curl), 1, 2, &st), -1,
	    "record version 2.x refused");
	/* second record of another content type */
	r = (int)reframe(hello_curl, sizeof(hello_curl), 100, TLS_RECORD_MAX, buf);
	buf[100 + TLS_RECORD_HEADER] = 0x15;
	is_int(tls_hello_parse(buf, (size_t)r, &st), -1,
	    "alert record inside the hello refused");
	/* duplicate server_name: rename ALPN (0x0010) to 0x0000 */
	pos = find(hello_curl, sizeof(hello_curl), "\x00\x10\x00\x0e", 4);
	ok(pos > 0, "alpn extension found");
	is_int(parse_patched(hello_curl, sizeof(hello_curl), pos + 1, 0x00, &st),
	    -1, "duplicate server_name refused");

	/* Every byte patched to every interesting value: a verdict, never a crash. */
	for (pos = 0; pos < sizeof(hello_pq); pos++) {
		static const int vals[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };
		for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
			memcpy(buf, hello_pq, sizeof(hello_pq));
			buf[pos] = (unsigned char)vals[i];
			r = tls_hello_parse(buf, sizeof(hello_pq), &st);
			if (r < -1 || r > (int)sizeof(hello_pq) ||
			    (r == -1 && st.err == NULL))
				crash_free = 0;
		}
	}
	ok(crash_free, "all single-byte mutations of the pq hello give a verdict");
}

static void
test_probe(void)
{
	is_int(tls_hello_probe(hello_curl, 0), -1, "probe: empty needs more");
	is_int(tls_hello_probe(hello_curl, 1), -1, "probe: 0x16 needs more");
	is_int(tls_hello_probe(hello_curl, 3), 1, "probe: 16 03 01 is TLS");
	is_int(tls_hello_probe((const uint8_t *)"GET / HTTP/1.1", 14), 0,
	    "probe: HTTP is not TLS");
	is_int(tls_hello_probe((const uint8_t *)"\x16\x04", 2), 0,
	    "probe: 16 04 is not TLS");
	is_int(tls_hello_probe((const uint8_t *)"SSH-2.0-x", 9), 0,
	    "probe: SSH is not TLS");
}

int
main(void)
{
	unsigned char buf[4096];
	struct tls_hello st;
	size_t n;

	test_probe();
	check_whole("curl", hello_curl, sizeof(hello_curl), "api.example.com",
	    "h2,http/1.1", 0);
	check_whole("s_client", hello_ossl, sizeof(hello_ossl),
	    "upload.example.org", "http/1.1", 0);
	check_whole("s_client -noservername", hello_nosni, sizeof(hello_nosni),
	    NULL, NULL, 0);
	check_whole("pq+ech", hello_pq, sizeof(hello_pq), "api.example.com",
	    "h2,http/1.1", 1);
	ok(sizeof(hello_pq) > 1500, "pq hello is bigger than one MSS (%zu)",
	    sizeof(hello_pq));

	test_split_records("curl", hello_curl, sizeof(hello_curl),
	    "api.example.com");
	test_split_records("pq", hello_pq, sizeof(hello_pq), "api.example.com");
	test_split_records("nosni", hello_nosni, sizeof(hello_nosni), NULL);

	/* Bytes after the hello (early data, a pipelined record) are not ours. */
	memcpy(buf, hello_curl, sizeof(hello_curl));
	memcpy(buf + sizeof(hello_curl), "\x17\x03\x03\x00\x01X", 6);
	n = sizeof(hello_curl) + 6;
	is_int(tls_hello_parse(buf, n, &st), sizeof(hello_curl),
	    "trailing record not consumed");

	test_malformed();
	return tap_done();
}
