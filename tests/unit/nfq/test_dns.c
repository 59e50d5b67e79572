/*
 * test_dns.c - the DNS query parser: accepted shapes and each rejected one.
 */
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "nfq/nfq_dns.h"

struct msg {
	uint8_t	b[1024];
	size_t	n;
};

static void
put8(struct msg *m, unsigned v)
{
	m->b[m->n++] = (uint8_t)v;
}

static void
put16(struct msg *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v & 0xff);
}

static void
put_hdr(struct msg *m, unsigned flags, unsigned qd, unsigned an, unsigned ns,
    unsigned ar)
{
	m->n = 0;
	put16(m, 0x1234);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, ns);
	put16(m, ar);
}

/* Dotted name to wire labels. */
static void
put_name(struct msg *m, const char *name)
{
	const char *s = name, *dot;

	while (*s) {
		dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		put8(m, (unsigned)l);
		memcpy(m->b + m->n, s, l);
		m->n += l;
		s += l;
		if (*s == '.')
			s++;
	}
	put8(m, 0);
}

static void
put_question(struct msg *m, const char *name, unsigned type)
{
	put_name(m, name);
	put16(m, type);
	put16(m, DNS_CLASS_IN);
}

static void
put_opt(struct msg *m, unsigned rdlen)
{
	unsigned i;

	put8(m, 0);
	put16(m, DNS_TYPE_OPT);
	put16(m, 1232);
	put16(m, 0);
	put16(m, 0);
	put16(m, rdlen);
	if (rdlen >= 4) {	/* one padding option filling rdlen */
		put16(m, 12);
		put16(m, rdlen - 4);
		for (i = 0; i < rdlen - 4; i++)
			put8(m, 0);
	}
}

static int
parse(const struct msg *m, struct dns_query *q)
{
	return nfq_dns_parse_query(m->b, m->n, q);
}

static void
expect_err(const struct msg *m, const char *what, const char *errsub)
{
	struct dns_query q;
	int r = parse(m, &q);

	is_int(r, -1, "rejected: %s", what);
	if (r == -1 && errsub)
		ok(q.err && strstr(q.err, errsub), "reason for %s: %s", what,
		    q.err ? q.err : "(none)");
}

int
main(void)
{
	struct msg m;
	struct dns_query q;
	char tb[16], lab[80], name[400];
	size_t frame_msglen = 0;
	int i;

	/* valid, no EDNS; uppercase folded */
	put_hdr(&m, 0x0100, 1, 0, 0, 0);
	put_question(&m, "WWW.Example.COM", DNS_TYPE_A);
	is_int(parse(&m, &q), (int)m.n, "plain A query accepted, all consumed");
	is_str(q.qname, "www.example.com", "qname lowercase dotted");
	is_int(q.qtype, DNS_TYPE_A, "qtype A");
	is_int(q.qclass, DNS_CLASS_IN, "qclass IN");
	is_int(q.nlabels, 3, "three labels");
	is_int(q.has_edns, 0, "no EDNS");

	/* valid with EDNS, empty options and with a padding option */
	put_hdr(&m, 0x0120, 1, 0, 0, 1);
	put_question(&m, "allowed.test", DNS_TYPE_AAAA);
	put_opt(&m, 0);
	is_int(parse(&m, &q), (int)m.n, "AAAA query with EDNS accepted");
	ok(q.has_edns && q.edns_udp_size == 1232, "EDNS seen, udp size 1232");
	put_hdr(&m, 0x0100, 1, 0, 0, 1);
	put_question(&m, "allowed.test", DNS_TYPE_TXT);
	put_opt(&m, 16);
	is_int(parse(&m, &q), (int)m.n, "query with EDNS padding accepted");
	is_str(nfq_dns_type_name(q.qtype, tb, sizeof(tb)), "TXT", "type name");
	is_str(nfq_dns_type_name(4242, tb, sizeof(tb)), "TYPE4242",
	    "unknown type name");

	/* root query */
	put_hdr(&m, 0, 1, 0, 0, 0);
	put_question(&m, "", 2);
	is_int(parse(&m, &q), (int)m.n, "root NS query accepted");
	is_str(q.qname, ".", "root name is '.'");

	/* malformed shapes */
	put_hdr(&m, 0x0100, 1, 1, 0, 0);
	put_question(&m, "a.test", DNS_TYPE_A);
	expect_err(&m, "extra answer record", "answer");

	put_hdr(&m, 0x0100, 1, 0, 1, 0);
	put_question(&m, "a.test", DNS_TYPE_A);
	expect_err(&m, "authority record", "authority");

	put_hdr(&m, 0x0100, 1, 0, 0, 0);
	put_question(&m, "a.test", DNS_TYPE_A);
	put8(&m, 0x41);
	expect_err(&m, "trailing bytes", "trailing");

	put_hdr(&m, 0x0100, 2, 0, 0, 0);
	put_question(&m, "a.test", DNS_TYPE_A);
	put_question(&m, "b.test", DNS_TYPE_A);
	expect_err(&m, "two questions", "question count");

	put_hdr(&m, 0x0100, 0, 0, 0, 0);
	expect_err(&m, "no question", "question count");

	put_hdr(&m, 0x8180, 1, 0, 0, 0);
	put_question(&m, "a.test", DNS_TYPE_A);
	expect_err(&m, "QR=1 (a response)", "QR=1");

	put_hdr(&m, 0x2800, 1, 0, 0, 0);	/* opcode 5 UPDATE */
	put_question(&m, "a.test", DNS_TYPE_A);
	expect_err(&m, "opcode UPDATE", "opcode");

	put_hdr(&m, 0x0300, 1, 0, 0, 0);
	put_question(&m, "a.test", DNS_TYPE_A);
	expect_err(&m, "TC=1", "TC");

	memset(lab, 'a', 64);
	lab[64] = '\0';
	snprintf(name, sizeof(name), "%s.test", lab);
	put_hdr(&m, 0x0100, 1, 0, 0, 0);
	put_question(&m, name, DNS_TYPE_A);
	expect_err(&m, "label of 64 bytes", "63");

	memset(lab, 'a', 63);
	lab[63] = '\0';
	snprintf(name, sizeof(name), "%s.%s.%s.%s", lab, lab, lab, lab);
	put_hdr(&m, 0x0100, 1, 0, 0, 0);
	put_question(&m, name, DNS_TYPE_A);	/* 4*64+1 = 257 > 255 */
	expect_err(&m, "name of 257 wire bytes", "255");

	/* exactly 255 wire bytes: 3*64 + 62 (61-byte label) + 1 */
	lab[61] = '\0';
	{
		char l63[64];

		memset(l63, 'b', 63);
		l63[63] = '\0';
		snprintf(name, sizeof(name), "%s.%s.%s.%s", l63, l63, l63, lab);
	}
	put_hdr(&m, 0x0100, 1, 0, 0, 0);
	put_question(&m, name, DNS_TYPE_A);
	is_int(parse(&m, &q), (int)m.n, "name of exactly 255 wire bytes ok");
	is_int(strlen(q.qname), 253, "its text form is 253 bytes");

	/* pointer loop: question name is a pointer to itself */
	put_hdr(&m, 0x0100, 1, 0, 0, 0);
	put8(&m, 0xc0);
	put8(&m, 12);
	put16(&m, 1);
	put16(&m, 1);
	expect_err(&m, "pointer loop", "pointer");

	/* pointer after a label, pointing back at the label */
	put_hdr(&m, 0x0100, 1, 0, 0, 0);
	put8(&m, 1);
	put8(&m, 'a');
	put8(&m, 0xc0);
	put8(&m, 12);
	put16(&m, 1);
	put16(&m, 1);
	expect_err(&m, "pointer after a label", "pointer");

	put_hdr(&m, 0x0100, 1, 0, 0, 0);
	put8(&m, 3);
	put8(&m, 'a');
	put8(&m, 0);
	put8(&m, 'b');
	put8(&m, 0);
	put16(&m, 1);
	put16(&m, 1);
	expect_err(&m, "NUL byte in a label", "printable");

	put_hdr(&m, 0x0100, 1, 0, 0, 0);
	put8(&m, 5);
	put8(&m, 'a');
	expect_err(&m, "label past the end", "past");

	put_hdr(&m, 0x0100, 1, 0, 0, 0);
	put_name(&m, "a.test");
	put8(&m, 0);
	expect_err(&m, "question truncated", "truncated");

	put_hdr(&m, 0x0100, 1, 0, 0, 1);
	put_question(&m, "a.test", DNS_TYPE_A);
	put_name(&m, "x.test");
	put16(&m, DNS_TYPE_A);
	put16(&m, 1);
	put16(&m, 0);
	put16(&m, 0);
	put16(&m, 4);
	put16(&m, 0);
	put16(&m, 0);
	expect_err(&m, "additional A record instead of OPT", "OPT");

	put_hdr(&m, 0x0100, 1, 0, 0, 2);
	put_question(&m, "a.test", DNS_TYPE_A);
	put_opt(&m, 0);
	put_opt(&m, 0);
	expect_err(&m, "two additional records", "more than one");

	put_hdr(&m, 0x0100, 1, 0, 0, 1);
	put_question(&m, "a.test", DNS_TYPE_A);
	put_opt(&m, 8);
	m.b[m.n - 5] = 9;	/* option length beyond the record */
	expect_err(&m, "EDNS option past its record", "EDNS option");

	put_hdr(&m, 0x0100, 1, 0, 0, 1);
	put_question(&m, "a.test", DNS_TYPE_A);
	put_opt(&m, 8);
	put8(&m, 0);
	expect_err(&m, "trailing byte after OPT", "trailing");

	/* every truncation of a valid query is rejected, never read past */
	put_hdr(&m, 0x0100, 1, 0, 0, 1);
	put_question(&m, "trunc.example.com", DNS_TYPE_A);
	put_opt(&m, 8);
	for (i = 0; i < (int)m.n; i++)
		if (nfq_dns_parse_query(m.b, (size_t)i, &q) != -1)
			break;
	is_int(i, (int)m.n, "every proper prefix of a query is rejected");

	/* TCP framing */
	{
		uint8_t f[64] = { 0, 20 };

		is_int(nfq_dns_tcp_frame(f, 1, &frame_msglen), 0,
		    "tcp: 1 byte needs more");
		is_int(nfq_dns_tcp_frame(f, 10, &frame_msglen), 0,
		    "tcp: partial message needs more");
		is_int(nfq_dns_tcp_frame(f, 30, &frame_msglen), 22,
		    "tcp: whole frame consumed");
		is_int(frame_msglen, 20, "tcp: message length");
		f[1] = 3;
		is_int(nfq_dns_tcp_frame(f, 30, &frame_msglen), -1,
		    "tcp: length below a header is an error");
	}
	return tap_done();
}
