/*
 * test_domain.c - pipelock's domain matching table, subdomain entropy and
 * the DNS tunnelling heuristic.
 */
#include <string.h>

#include "scanner/domain.h"
#include "scanner/scanner.h"
#include "tap.h"

struct match_case {
	const char	*host;
	const char	*pattern;
	int		 want;
};

static const struct match_case match_cases[] = {
	{ "example.com", "example.com", 1 },
	{ "EXAMPLE.com", "example.COM", 1 },
	{ "example.com.", "example.com", 1 },
	{ "example.com", "example.com.", 1 },
	{ "example.com..", "example.com", 0 },		/* one dot only */
	{ "www.example.com", "example.com", 0 },	/* exact is exact */
	{ "example.com", "*.example.com", 1 },		/* apex */
	{ "a.example.com", "*.example.com", 1 },
	{ "a.b.c.example.com", "*.example.com", 1 },	/* any depth */
	{ "A.Example.Com.", "*.EXAMPLE.com", 1 },
	{ "evilexample.com", "*.example.com", 0 },	/* label boundary */
	{ "example.com.evil.net", "*.example.com", 0 },
	{ "xexample.com", "example.com", 0 },
	{ "pastebin.com", "*.pastebin.com", 1 },
	{ "192.168.1.1", "192.168.1.1", 1 },
	{ "192.168.1.1", "*.168.1.1", 0 },		/* no wildcard on IPs */
	{ "10.0.0.1", "*.0.0.1", 0 },
	{ "::1", "::1", 1 },
	{ "", "", 0 },
	{ "example.com", "", 0 },
	{ "", "*.example.com", 0 },
	{ "com", "*.com", 1 },
	{ "x.com", "*", 0 },
};

static void
test_match(void)
{
	size_t i;

	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const struct match_case *c = &match_cases[i];

		is_int(scanner_domain_match(c->host, c->pattern), c->want,
		    "match(\"%s\", \"%s\")", c->host, c->pattern);
	}
	ok(!scanner_domain_match(NULL, "x"), "NULL host");
	ok(!scanner_domain_match("x", NULL), "NULL pattern");
	/* domain_match is length-bounded on the host. */
	ok(domain_match("example.com/path", 11, "example.com"),
	    "domain_match honours hlen");
}

static void
test_lists(void)
{
	static char p1[] = "*.pastebin.com", p2[] = "api.example.com";
	char *v[] = { p1, p2 };
	struct strlist l = { v, 2 };
	char out[16];

	ok(domain_list_find(&l, "raw.pastebin.com", 16) == p1, "list: wildcard");
	ok(domain_list_find(&l, "api.example.com", 15) == p2, "list: exact");
	ok(domain_list_find(&l, "example.com", 11) == NULL, "list: miss");
	is_int(domain_normalize("WWW.Example.COM.", 16, out, sizeof(out)), 15,
	    "normalize length");
	is_str(out, "www.example.com", "normalize lowercases, drops dot");
	is_int(domain_normalize("0123456789abcdef", 16, out, sizeof(out)),
	    (size_t)-1, "normalize refuses what does not fit");
	ok(domain_is_ip("10.1.2.3", 8), "dotted quad is an IP");
	ok(domain_is_ip("fe80::1", 7), "IPv6 is an IP");
	ok(!domain_is_ip("fe80::1%eth0", 12), "zone id: not for ParseIP");
	ok(!domain_is_ip("0x7f.1", 6), "alt notation: not for ParseIP");
	ok(!domain_is_ip("example.com", 11), "name is not an IP");
	is_int(domain_join_labels("a.bc.d", 6, '\0', out), 4, "join no dots");
	ok(memcmp(out, "abcd", 4) == 0, "joined bytes");
	is_int(domain_join_labels("a.bc.d", 6, ' ', out), 6, "join spaces");
	ok(memcmp(out, "a bc d", 6) == 0, "spaced bytes");
}

static int
entropy_of(const char *host, size_t *off, size_t *len, double *h)
{
	return domain_entropy_label(host, strlen(host), 4.0, off, len, h);
}

static void
test_entropy(void)
{
	size_t off = 0, len = 0;
	double h = 0;

	/* 20 distinct characters: log2(20) = 4.32 bits > 4.0. */
	ok(entropy_of("abcdefghijklmnopqrst.evil.com", &off, &len, &h),
	    "high-entropy subdomain label found");
	ok(off == 0 && len == 20 && h > 4.3 && h < 4.33, "label and entropy");
	ok(entropy_of("www.a1b2c3d4e5f6g7h8i9j0kx.evil.com", &off, &len, &h)
	    && off == 4 && len == 22, "second label found");
	ok(!entropy_of("abcdefghijklmnopqrst.com", &off, &len, &h),
	    "two labels: never (last two skipped)");
	ok(!entropy_of("abcdefg.evil.com", &off, &len, &h),
	    "short label skipped");
	/* 16 distinct characters: exactly 4.0, not > 4.0. */
	ok(!entropy_of("0123456789abcdef.evil.com", &off, &len, &h),
	    "hex label (4.0 bits) under threshold");
	ok(!entropy_of("documentation.python.org", &off, &len, &h),
	    "normal label under threshold");
	ok(!entropy_of("evil.com", &off, &len, &h), "apex");
	ok(!entropy_of("", &off, &len, &h), "empty");
}

static int
tunnel(const char *name, enum dns_tunnel_rule want)
{
	struct dns_tunnel_hit hit;
	int r = domain_tunnel(name, strlen(name), &hit);

	return want == DNS_TUNNEL_NONE ? r == 0 : (r == 1 && hit.rule == want);
}

static void
test_tunnel(void)
{
	char longname[300];

	memset(longname, 'a', sizeof(longname));
	memcpy(longname + 254, ".example.com", 12);
	longname[266] = '\0';
	for (size_t i = 10; i < 254; i += 10)
		longname[i] = '.';
	ok(tunnel(longname, DNS_TUNNEL_NAME_LENGTH), "name > 253 chars");
	ok(tunnel("a.b.c.d.e.f.g.h.i.j.example.com",
	    DNS_TUNNEL_LABEL_COUNT), "12 labels");
	ok(tunnel("a.b.c.d.e.f.g.h.example.com", DNS_TUNNEL_NONE),
	    "10 labels are fine");
	ok(tunnel("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0."
	    "1.0.0.2.ip6.arpa", DNS_TUNNEL_NONE), "ip6.arpa PTR exempt");
	ok(tunnel("4.3.2.1.in-addr.arpa", DNS_TUNNEL_NONE), "in-addr.arpa");
	/* dnscat2-style: hex payload in a long label. */
	ok(tunnel("6b3f9a21c4e87d0512fa6e3b9c8d7a4f01e2d3c4b5a69788.t.evil.com",
	    DNS_TUNNEL_ENCODED_LABEL), "long hex label");
	/* iodine-style: base32 of a credential in one label. */
	ok(tunnel("iffusqkjj5jumt2ejzhdorkyifgvatcfo5fgc3dslbkxi3sgivgusl2l."
	    "t.evil.com", DNS_TUNNEL_ENCODED_LABEL), "long base32 label");
	ok(tunnel("mfzwizltoq2gk3tpmfzwizltoq2gk3tpmfzw.t.evil.com",
	    DNS_TUNNEL_ENCODED_LABEL), "repetitive base32 label (3.73 bits)");
	/* Six 10-char hex labels: 3.3 bits each, under the label bar. */
	ok(tunnel("a3f9c21e7b.4d8e6f0a1c.9b2e7d5f3a.c1e8f4b6d2.a7c3e9f1b5."
	    "d4f8a2c6e0.evil.com", DNS_TUNNEL_NONE), "short hex labels pass");
	ok(tunnel("a3f9c21e7b4d8e6f0a1c.9b2e7d5f3ac1e8f4b6d2.a7c3e9f1b5d4f8a2"
	    "c6e0.b1c2d3e4f5a6b7c8d9e0.f0e1d2c3b4a59687f0e1.evil.com",
	    DNS_TUNNEL_ENCODED_NAME), "100+ encoded chars in short labels");
	ok(tunnel("my-really-long-descriptive-bucket-name-for-backups-2024."
	    "s3.amazonaws.com", DNS_TUNNEL_NONE), "hyphenated long label");
	ok(tunnel("internal-my-load-balancer-1234567890.us-east-1.elb."
	    "amazonaws.com", DNS_TUNNEL_NONE), "ELB name");
	ok(tunnel("www.google.com", DNS_TUNNEL_NONE), "www.google.com");
	ok(tunnel("d1a2b3c4d5e6f7.cloudfront.net", DNS_TUNNEL_NONE),
	    "cloudfront");
	ok(tunnel("", DNS_TUNNEL_NONE), "root");
}

int
main(void)
{
	test_match();
	test_lists();
	test_entropy();
	test_tunnel();
	return tap_done();
}
