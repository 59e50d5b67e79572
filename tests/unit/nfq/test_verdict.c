/*
 * test_verdict.c - the UDP decision table under a real policy (config +
 * compiled scanner): DNS resolver/shape/scanner/budget, QUIC block and
 * inspect, other UDP.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "core/config.h"
#include "core/policy.h"
#include "nfq/nfq_quic.h"
#include "nfq/nfq_verdict.h"

static const char yaml_fmt[] =
    "version: 1\n"
    "enforce: %s\n"
    "fetch_proxy:\n"
    "  monitoring:\n"
    "    blocklist: [\"*.blocked.test\"]\n"
    "firewall:\n"
    "  dns: %s\n"
    "  dns_servers: [\"198.18.0.53\", \"fd00::53\"]\n"
    "  quic: %s\n"
    "  allow_ip_cidrs: [\"198.18.5.0/24\"]\n";

static struct policy *
make_policy(const char *enforce, const char *dns, const char *quic)
{
	char y[1024], err[CONFIG_ERR_MAX];
	struct config *cfg = NULL;
	struct policy *p;

	snprintf(y, sizeof(y), yaml_fmt, enforce, dns, quic);
	if (config_load_buffer("test.yaml", y, strlen(y), &cfg, err,
	    sizeof(err)) == -1) {
		diag("config: %s", err);
		return NULL;
	}
	if ((p = policy_new(cfg, err, sizeof(err))) == NULL)
		diag("policy: %s", err);
	return p;
}

static void
set_addr(struct sockaddr_storage *ss, const char *ip, unsigned port)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
		s6->sin6_port = htons((uint16_t)port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		inet_pton(AF_INET, ip, &s4->sin_addr);
		s4->sin_port = htons((uint16_t)port);
	}
}

static uint8_t qbuf[600];

/* A DNS query for name; extra: 1 = an answer count, 2 = a trailing byte. */
static size_t
dns_query(const char *name, unsigned qtype, int extra)
{
	size_t n = 0;
	const char *s = name;

	memset(qbuf, 0, 12);
	qbuf[0] = 0xab;
	qbuf[2] = 0x01;
	qbuf[5] = 1;
	if (extra == 1)
		qbuf[7] = 1;
	n = 12;
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);

		qbuf[n++] = (uint8_t)l;
		memcpy(qbuf + n, s, l);
		n += l;
		s += l + (dot ? 1 : 0);
	}
	qbuf[n++] = 0;
	qbuf[n++] = (uint8_t)(qtype >> 8);
	qbuf[n++] = (uint8_t)qtype;
	qbuf[n++] = 0;
	qbuf[n++] = 1;
	if (extra == 2)
		qbuf[n++] = 0;
	return n;
}

static uint64_t now = 100000;

static void
decide(struct nfq_verdict_state *st, struct policy *p, const char *dst,
    unsigned port, long long uid, const uint8_t *buf, size_t len,
    struct nfq_decision *d)
{
	struct nfq_packet pkt;

	memset(&pkt, 0, sizeof(pkt));
	set_addr(&pkt.src, strchr(dst, ':') ? "fd00::10" : "198.18.0.10",
	    40000);
	set_addr(&pkt.dst, dst, port);
	pkt.uid = uid;
	pkt.gid = uid;
	pkt.payload = buf;
	pkt.len = len;
	pkt.now_ms = now;
	nfq_verdict_decide(st, p, &pkt, d);
}

/* One client Initial carrying a minimal ClientHello for sni. */
static size_t
quic_initial(const char *sni, uint8_t *out, size_t outmax)
{
	static const uint8_t dcid[8] = { 7, 7, 7, 7, 1, 2, 3, 4 };
	uint8_t ch[512], fr[600];
	size_t n = nfq_quic_make_hello(sni, 0, ch, sizeof(ch));

	n = nfq_quic_crypto_frame(ch, 0, n, fr, sizeof(fr));
	return (size_t)nfq_quic_seal_initial(dcid, 8, NULL, 0, 0, fr, n,
	    QUIC_INITIAL_MIN, out, outmax);
}

/*
 * IPv4 (v6 = 0) or IPv6 + a proto header around plen payload bytes; ext:
 * -1 for none, else one 8-byte IPv6 extension header of that type first.
 */
static size_t
ip_udp(uint8_t *b, int v6, int ext, uint8_t proto, size_t plen)
{
	size_t h = v6 ? 40 : 20, off, ulen = 8 + plen;

	memset(b, 0, 128 + plen);
	if (!v6) {
		b[0] = 0x45;
		b[2] = (uint8_t)((h + ulen) >> 8);
		b[3] = (uint8_t)(h + ulen);
		b[9] = proto;
		memcpy(b + 12, "\xc6\x12\x00\x0a", 4);
		memcpy(b + 16, "\xc6\x12\x00\x35", 4);
		off = h;
	} else {
		b[0] = 0x60;
		b[6] = ext >= 0 ? (uint8_t)ext : proto;
		b[8] = 0xfd;
		b[23] = 0x10;
		b[24] = 0xfd;
		b[39] = 0x53;
		off = h;
		if (ext >= 0) {
			b[off] = proto;	/* next header */
			b[off + 1] = 0;	/* 8 bytes */
			off += 8;
		}
		b[4] = (uint8_t)((off - 40 + ulen) >> 8);
		b[5] = (uint8_t)(off - 40 + ulen);
	}
	b[off] = 0x9c;		/* sport 40000 */
	b[off + 1] = 0x40;
	b[off + 3] = 53;
	b[off + 4] = (uint8_t)(ulen >> 8);
	b[off + 5] = (uint8_t)ulen;
	return off + ulen;
}

static void
test_packet_parse(void)
{
	uint8_t b[256];
	struct nfq_packet pk;
	size_t n;

	n = ip_udp(b, 0, -1, IPPROTO_UDP, 30);
	is_int(nfq_packet_parse(b, n, 0, &pk), 0, "ipv4 udp parsed");
	is_int(pk.len, 30, "ipv4 payload length");
	is_int(ntohs(((struct sockaddr_in *)&pk.dst)->sin_port), 53,
	    "ipv4 dst port");
	is_int(nfq_packet_parse(b, n - 1, 0, &pk), -1, "ipv4 short: refused");
	is_int(nfq_packet_parse(b, n - 1, 1, &pk), 0, "ipv4 GSO: lengths "
	    "not checked");
	b[6] = 0x20;	/* MF */
	is_int(nfq_packet_parse(b, n, 0, &pk), -1, "ipv4 fragment refused");
	n = ip_udp(b, 0, -1, IPPROTO_TCP, 30);
	is_int(nfq_packet_parse(b, n, 0, &pk), -1, "ipv4 tcp refused");
	n = ip_udp(b, 1, -1, IPPROTO_UDP, 30);
	is_int(nfq_packet_parse(b, n, 0, &pk), 0, "ipv6 udp parsed");
	is_int(pk.dst.ss_family, AF_INET6, "ipv6 family");
	n = ip_udp(b, 1, IPPROTO_HOPOPTS, IPPROTO_UDP, 30);
	is_int(nfq_packet_parse(b, n, 0, &pk), 0, "ipv6 with hop-by-hop");
	is_int(pk.len, 30, "ipv6 ext: payload length");
	n = ip_udp(b, 1, IPPROTO_FRAGMENT, IPPROTO_UDP, 30);
	is_int(nfq_packet_parse(b, n, 0, &pk), -1, "ipv6 fragment refused");
	is_int(nfq_packet_parse(b, 30, 0, &pk), -1, "truncated ipv6 refused");
	b[0] = 0x50;
	is_int(nfq_packet_parse(b, n, 0, &pk), -1, "IP version 5 refused");
}

/* Append a DNS-over-TCP frame (length prefix + query) at s + off. */
static size_t
frame_put(uint8_t *s, size_t off, const char *name, unsigned qtype,
    int extra)
{
	size_t n = dns_query(name, qtype, extra);

	s[off] = (uint8_t)(n >> 8);
	s[off + 1] = (uint8_t)n;
	memcpy(s + off + 2, qbuf, n);
	return off + n + 2;
}

/* DNS over TCP: frames decided one by one, allowed prefix forwarded. */
static void
test_dns_tcp(struct nfq_verdict_state *st, struct policy *p)
{
	struct nfq_packet pkt;
	struct nfq_decision d;
	uint8_t s[2048];
	size_t n, a, b;

	memset(&pkt, 0, sizeof(pkt));
	set_addr(&pkt.src, "198.18.0.10", 40001);
	set_addr(&pkt.dst, "198.18.0.53", 53);
	pkt.uid = pkt.gid = 1000;
	pkt.now_ms = now;

	/* two allowed frames and half of a third */
	a = frame_put(s, 0, "tcp-one.example.com", 1, 0);
	b = frame_put(s, a, "tcp-two.example.com", 28, 0);
	memcpy(s + b, s, 7);
	is_int(nfq_verdict_dns_tcp(st, p, &pkt, s, b + 7, &d), (int)b,
	    "dns/tcp: two whole allowed frames forwarded, partial kept");
	is_int(nfq_verdict_dns_tcp(st, p, &pkt, s, 1, &d), 0,
	    "dns/tcp: one byte of a prefix: need more");

	/* allowed, then a secret: the first goes, the second refuses */
	b = frame_put(s, a, "akia2e3r4t.5y6u7i8o9p.exfil.example.com", 16, 0);
	is_int(nfq_verdict_dns_tcp(st, p, &pkt, s, b, &d), (int)a,
	    "dns/tcp: allowed frame before a refused one forwarded");
	is_int(nfq_verdict_dns_tcp(st, p, &pkt, s + a, b - a, &d), -1,
	    "dns/tcp: secret-carrying name refused");
	ok(d.verdict == NFQ_REJECT && d.audit, "dns/tcp: refusal audited");

	/* shape: an answer record in the query -> refused */
	n = frame_put(s, 0, "shape.example.com", 1, 1);
	is_int(nfq_verdict_dns_tcp(st, p, &pkt, s, n, &d), -1,
	    "dns/tcp: query with an answer record refused");
	/* an impossible length prefix */
	s[0] = 0;
	s[1] = 3;
	is_int(nfq_verdict_dns_tcp(st, p, &pkt, s, 5, &d), -1,
	    "dns/tcp: length prefix below a header refused");
	/* not a configured resolver */
	set_addr(&pkt.dst, "198.18.0.99", 53);
	n = frame_put(s, 0, "fine.example.com", 1, 0);
	is_int(nfq_verdict_dns_tcp(st, p, &pkt, s, n, &d), -1,
	    "dns/tcp: to a non-resolver refused");
}

int
main(void)
{
	struct policy *p, *pq, *pw, *pb;
	struct nfq_verdict_state *st;
	struct nfq_decision d;
	uint8_t pkt[1500];
	char name[128];
	size_t n;
	int i, blocked_at = -1;

	is_str(nfq_verdict_regdomain("a.b.example.com"), "example.com",
	    "regdomain: last two labels");
	is_str(nfq_verdict_regdomain("x.shop.example.co.uk"), "example.co.uk",
	    "regdomain: co.uk keeps three");
	is_str(nfq_verdict_regdomain("cdn.example.com.au"), "example.com.au",
	    "regdomain: com.au keeps three");
	is_str(nfq_verdict_regdomain("user.github.io"), "user.github.io",
	    "regdomain: known multi-label suffix");
	is_str(nfq_verdict_regdomain("example.com"), "example.com",
	    "regdomain: two labels");
	is_str(nfq_verdict_regdomain("localhost"), "localhost",
	    "regdomain: one label");

	test_packet_parse();
	p = make_policy("true", "inspect", "block");
	pq = make_policy("true", "inspect", "inspect");
	pw = make_policy("false", "inspect", "inspect");
	pb = make_policy("true", "block", "block");
	st = nfq_verdict_new();
	if (!ok(p && pq && pw && pb && st, "policies and state built"))
		return tap_done();

	/* DNS */
	n = dns_query("allowed.test", 1, 0);
	decide(st, p, "198.18.0.53", 53, 1000, qbuf, n, &d);
	is_int(d.verdict, NFQ_ACCEPT, "normal query accepted");
	is_int(d.audit, 0, "normal query: no audit line");
	is_str(d.host, "allowed.test", "normal query: host recorded");

	decide(st, p, "fd00::53", 53, 1000, qbuf, n, &d);
	is_int(d.verdict, NFQ_ACCEPT, "IPv6 resolver accepted");

	decide(st, p, "198.18.0.99", 53, 1000, qbuf, n, &d);
	is_int(d.verdict, NFQ_REJECT, "DNS to a non-resolver rejected");
	ok(strstr(d.reason, "dns_servers") != NULL, "reason names dns_servers");

	n = dns_query("x.blocked.test", 1, 0);
	decide(st, p, "198.18.0.53", 53, 1000, qbuf, n, &d);
	is_int(d.verdict, NFQ_REJECT, "blocklisted name rejected");
	is_int(d.audit, 1, "blocklisted name audited");
	diag("blocklist reason: %s (%s)", d.reason, d.scanner ? d.scanner : "");

	n = dns_query("akia2e3r4t.5y6u7i8o9p.exfil.test", 16, 0);
	decide(st, p, "198.18.0.53", 53, 1000, qbuf, n, &d);
	is_int(d.verdict, NFQ_REJECT, "AKIA key split across labels rejected");
	diag("secret reason: %s (%s)", d.reason, d.scanner ? d.scanner : "");
	ok(strstr(d.redacted, "5y6u7i8o9p") == NULL &&
	    strstr(d.reason, "5y6u7i8o9p") == NULL &&
	    strstr(d.host, "5y6u7i8o9p") == NULL,
	    "the secret is not repeated in the decision");
	is_str(d.host, "(redacted).exfil.test", "host keeps the domain only");

	n = dns_query("allowed.test", 1, 1);
	decide(st, p, "198.18.0.53", 53, 1000, qbuf, n, &d);
	is_int(d.verdict, NFQ_DROP, "query with an answer record dropped");
	n = dns_query("allowed.test", 1, 2);
	decide(st, p, "198.18.0.53", 53, 1000, qbuf, n, &d);
	is_int(d.verdict, NFQ_DROP, "query with trailing bytes dropped");
	ok(strstr(d.reason, "trailing") != NULL, "reason: trailing bytes");

	n = dns_query("allowed.test", 1, 0);
	decide(st, pb, "198.18.0.53", 53, 1000, qbuf, n, &d);
	is_int(d.verdict, NFQ_REJECT, "dns: block rejects every query");

	n = dns_query("x.blocked.test", 1, 0);
	decide(st, pw, "198.18.0.53", 53, 1000, qbuf, n, &d);
	is_int(d.verdict, NFQ_ACCEPT, "enforce: false lets a finding pass");
	is_str(d.verdict_name, "warn", "enforce: false audits a warning");

	/* budget: distinct names under one registrable domain per minute */
	for (i = 0; i < NFQ_DNS_BUDGET_NAMES + 5; i++) {
		snprintf(name, sizeof(name), "host%d.budget.test", i);
		n = dns_query(name, 1, 0);
		decide(st, p, "198.18.0.53", 53, 1001, qbuf, n, &d);
		if (d.verdict != NFQ_ACCEPT) {
			blocked_at = i;
			break;
		}
	}
	is_int(blocked_at, NFQ_DNS_BUDGET_NAMES, "budget: name 65 rejected");
	is_str(d.scanner, "dns_budget", "budget: finding label");
	n = dns_query("host3.budget.test", 1, 0);
	decide(st, p, "198.18.0.53", 53, 1001, qbuf, n, &d);
	is_int(d.verdict, NFQ_ACCEPT, "budget: a name already seen still ok");
	n = dns_query("new.budget.test", 1, 0);
	decide(st, p, "198.18.0.53", 53, 1002, qbuf, n, &d);
	is_int(d.verdict, NFQ_ACCEPT, "budget: another uid has its own");
	n = dns_query("other.budget2.test", 1, 0);
	decide(st, p, "198.18.0.53", 53, 1001, qbuf, n, &d);
	is_int(d.verdict, NFQ_ACCEPT, "budget: another domain has its own");
	now += NFQ_DNS_BUDGET_WINDOW_MS;
	n = dns_query("later.budget.test", 1, 0);
	decide(st, p, "198.18.0.53", 53, 1001, qbuf, n, &d);
	is_int(d.verdict, NFQ_ACCEPT, "budget: next minute is a new window");

	/* QUIC */
	n = quic_initial("allowed.test", pkt, sizeof(pkt));
	ok(n == QUIC_INITIAL_MIN, "QUIC Initial built");
	decide(st, p, "198.18.1.1", 443, 1000, pkt, n, &d);
	is_int(d.verdict, NFQ_REJECT, "quic: block rejects an Initial");
	is_str(d.event, "quic", "quic: event");
	decide(st, pq, "198.18.1.1", 443, 1000, pkt, n, &d);
	is_int(d.verdict, NFQ_ACCEPT_FLOW, "quic: inspect allows a good SNI");
	is_str(d.host, "allowed.test", "quic: SNI recorded");
	decide(st, pq, "198.18.1.1", 8443, 1000, pkt, n, &d);
	is_int(d.verdict, NFQ_ACCEPT_FLOW, "quic: found on another port too");
	n = quic_initial("evil.blocked.test", pkt, sizeof(pkt));
	decide(st, pq, "198.18.1.2", 443, 1000, pkt, n, &d);
	is_int(d.verdict, NFQ_REJECT, "quic: inspect rejects a blocked SNI");
	pkt[700] ^= 0x55;
	decide(st, pq, "198.18.1.2", 443, 1000, pkt, n, &d);
	is_int(d.verdict, NFQ_REJECT, "quic: undecodable Initial rejected");
	pkt[0] = 0x40;
	decide(st, pq, "198.18.1.2", 443, 1000, pkt, n, &d);
	is_int(d.verdict, NFQ_REJECT, "quic: short header without a flow "
	    "rejected");
	decide(st, pq, "198.18.1.1", 443, 1000, pkt, n, &d);
	is_int(d.verdict, NFQ_ACCEPT, "quic: later packet of an allowed flow "
	    "accepted");
	now += NFQ_FLOW_IDLE_MS + 1;
	decide(st, pq, "198.18.1.1", 443, 1000, pkt, n, &d);
	is_int(d.verdict, NFQ_REJECT, "quic: the flow expires when idle");

	/* other UDP */
	decide(st, p, "198.18.9.9", 123, 1000, qbuf, 48, &d);
	is_int(d.verdict, NFQ_REJECT, "UDP to another port rejected");
	is_str(d.event, "udp", "other UDP: event");
	decide(st, p, "198.18.5.5", 123, 1000, qbuf, 48, &d);
	is_int(d.verdict, NFQ_ACCEPT, "UDP to allow_ip_cidrs accepted");

	test_dns_tcp(st, p);
	nfq_verdict_free(st);
	policy_unref(p);
	policy_unref(pq);
	policy_unref(pw);
	policy_unref(pb);
	return tap_done();
}
