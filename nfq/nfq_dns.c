/*
 * nfq_dns.c - DNS query parser (see nfq_dns.h for the accepted shape).
 *
 * Datagrams arrive whole, so the query parser returns error or "all
 * consumed"; only the TCP framing helper has a "need more" state.  Every
 * read is checked against len before it happens; names are bounded by
 * DNS_LABEL_MAX / DNS_NAME_WIRE_MAX.  Compression pointers are refused in
 * the question: a query's one name directly follows the header, so a real
 * stub never compresses it, and refusing them removes pointer loops.
 */
#include <stdio.h>
#include <string.h>

#include "nfq/nfq_dns.h"

#define DNS_FLAG_QR		0x8000
#define DNS_FLAG_OPCODE		0x7800
#define DNS_FLAG_TC		0x0200
#define DNS_FLAG_RCODE		0x000f
#define DNS_LABEL_PTR		0xc0	/* top bits 11: compression pointer */
#define DNS_RR_FIXED_LEN	10	/* type, class, ttl, rdlength */
#define DNS_Q_FIXED_LEN		4	/* qtype, qclass */
#define DNS_OPT_HDR_LEN		4	/* option code, option length */

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static int
fail(struct dns_query *q, const char *why, size_t pos)
{
	q->err = why;
	q->err_pos = pos;
	return -1;
}

/*
 * Read the question name at *pos into q->qname.  Labels must be printable
 * ASCII without '.' (hostnames, service labels with '_'): a byte that cannot
 * be shown in a dotted name has no business in an agent's lookup and would
 * let two different wire names map to one text name.
 */
static int
dns_read_qname(const uint8_t *buf, size_t len, size_t *pos,
    struct dns_query *q)
{
	size_t p = *pos, wire = 0, out = 0;
	unsigned lab_len, i;

	q->nlabels = 0;
	q->longest_label = 0;
	for (;;) {
		if (p >= len)
			return fail(q, "name runs past the message", p);
		lab_len = buf[p];
		if ((lab_len & DNS_LABEL_PTR) == DNS_LABEL_PTR)
			return fail(q, "compression pointer in question", p);
		if (lab_len > DNS_LABEL_MAX)
			return fail(q, "label longer than 63", p);
		wire += 1 + lab_len;
		if (wire > DNS_NAME_WIRE_MAX)
			return fail(q, "name longer than 255", p);
		p++;
		if (lab_len == 0)
			break;
		if (len - p < lab_len)
			return fail(q, "label runs past the message", p);
		if (out > 0)
			q->qname[out++] = '.';
		for (i = 0; i < lab_len; i++) {
			uint8_t c = buf[p + i];

			if (c <= 0x20 || c >= 0x7f || c == '.')
				return fail(q, "label byte not printable", p + i);
			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c - 'A' + 'a');
			q->qname[out++] = (char)c;
		}
		p += lab_len;
		q->nlabels++;
		if (lab_len > q->longest_label)
			q->longest_label = lab_len;
	}
	/* wire <= 255 bounds out to 253 (+ root): qname never overflows. */
	if (out == 0)
		q->qname[out++] = '.';
	q->qname[out] = '\0';
	*pos = p;
	return 0;
}

/* The EDNS OPT record (RFC 6891 6.1.2): root name, then TLV options. */
static int
dns_read_opt(const uint8_t *buf, size_t len, size_t *pos,
    struct dns_query *q)
{
	size_t p = *pos, end;
	uint16_t rdlen, olen;

	if (p >= len)
		return fail(q, "additional record missing", p);
	if (buf[p] != 0)
		return fail(q, "additional record is not EDNS OPT (name)", p);
	p++;
	if (len - p < DNS_RR_FIXED_LEN)
		return fail(q, "additional record truncated", p);
	if (get16(buf + p) != DNS_TYPE_OPT)
		return fail(q, "additional record is not EDNS OPT (type)", p);
	q->edns_udp_size = get16(buf + p + 2);
	rdlen = get16(buf + p + 8);
	p += DNS_RR_FIXED_LEN;
	if (rdlen > DNS_OPT_RDATA_MAX)
		return fail(q, "EDNS options too long", p);
	if (len - p < rdlen)
		return fail(q, "EDNS options run past the message", p);
	end = p + rdlen;
	while (p < end) {
		if (end - p < DNS_OPT_HDR_LEN)
			return fail(q, "EDNS option header truncated", p);
		olen = get16(buf + p + 2);
		p += DNS_OPT_HDR_LEN;
		if (end - p < olen)
			return fail(q, "EDNS option runs past the record", p);
		p += olen;
	}
	q->has_edns = 1;
	*pos = p;
	return 0;
}

int
nfq_dns_parse_query(const uint8_t *buf, size_t len, struct dns_query *q)
{
	size_t pos = DNS_HDR_LEN;
	uint16_t qd, an, ns, ar;

	memset(q, 0, sizeof(*q));
	if (len < DNS_HDR_LEN)
		return fail(q, "shorter than a DNS header", len);
	if (len > DNS_MSG_MAX)
		return fail(q, "longer than a DNS message", DNS_MSG_MAX);
	q->id = get16(buf);
	q->flags = get16(buf + 2);
	qd = get16(buf + 4);
	an = get16(buf + 6);
	ns = get16(buf + 8);
	ar = get16(buf + 10);
	if (q->flags & DNS_FLAG_QR)
		return fail(q, "not a query (QR=1)", 2);
	if (q->flags & DNS_FLAG_OPCODE)
		return fail(q, "opcode is not QUERY", 2);
	if (q->flags & DNS_FLAG_TC)
		return fail(q, "truncated query (TC=1)", 2);
	if (q->flags & DNS_FLAG_RCODE)
		return fail(q, "query with an RCODE", 3);
	if (qd != 1)
		return fail(q, "question count is not 1", 4);
	if (an != 0)
		return fail(q, "query carries answer records", 6);
	if (ns != 0)
		return fail(q, "query carries authority records", 8);
	if (ar > 1)
		return fail(q, "more than one additional record", 10);

	if (dns_read_qname(buf, len, &pos, q) == -1)
		return -1;
	if (len - pos < DNS_Q_FIXED_LEN)
		return fail(q, "question truncated", pos);
	q->qtype = get16(buf + pos);
	q->qclass = get16(buf + pos + 2);
	pos += DNS_Q_FIXED_LEN;
	if (q->qtype == DNS_TYPE_OPT)
		return fail(q, "question of type OPT", pos - DNS_Q_FIXED_LEN);

	if (ar == 1 && dns_read_opt(buf, len, &pos, q) == -1)
		return -1;
	if (pos != len)
		return fail(q, "trailing bytes after the query", pos);
	return (int)len;
}

int
nfq_dns_tcp_frame(const uint8_t *buf, size_t len, size_t *msglen)
{
	size_t n;

	if (len < DNS_TCP_LEN_SIZE)
		return 0;
	n = get16(buf);
	if (n < DNS_HDR_LEN)
		return -1;
	if (len - DNS_TCP_LEN_SIZE < n)
		return 0;
	*msglen = n;
	return (int)(DNS_TCP_LEN_SIZE + n);
}

const char *
nfq_dns_type_name(uint16_t qtype, char *buf, size_t buflen)
{
	static const struct {
		uint16_t	 type;
		const char	*name;
	} names[] = {
		{ DNS_TYPE_A, "A" }, { 2, "NS" }, { 5, "CNAME" }, { 6, "SOA" },
		{ DNS_TYPE_NULL, "NULL" }, { 12, "PTR" }, { 15, "MX" },
		{ DNS_TYPE_TXT, "TXT" }, { DNS_TYPE_AAAA, "AAAA" },
		{ 33, "SRV" }, { 64, "SVCB" }, { 65, "HTTPS" },
		{ DNS_TYPE_ANY, "ANY" },
	};
	size_t i;

	/* always into buf too: callers keep buf */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].type == qtype) {
			snprintf(buf, buflen, "%s", names[i].name);
			return buf;
		}
	snprintf(buf, buflen, "TYPE%u", qtype);
	return buf;
}
