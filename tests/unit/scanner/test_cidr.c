/*
 * test_cidr.c - IP literal forms (incl. the inet_aton alternatives the
 * resolver accepts), CIDR parsing, containment and sets.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "scanner/cidr.h"
#include "tap.h"

struct ip_case {
	const char	*in;
	enum ip_form	 form;
	const char	*canon;		/* formatted, when form != NONE */
};

static const struct ip_case ip_cases[] = {
	{ "127.0.0.1", IP_FORM_V4, "127.0.0.1" },
	{ "0.0.0.0", IP_FORM_V4, "0.0.0.0" },
	{ "255.255.255.255", IP_FORM_V4, "255.255.255.255" },
	{ "0x7f.1", IP_FORM_V4_ALT, "127.0.0.1" },
	{ "0X7F.0.0.1", IP_FORM_V4_ALT, "127.0.0.1" },
	{ "2130706433", IP_FORM_V4_ALT, "127.0.0.1" },
	{ "0x7f000001", IP_FORM_V4_ALT, "127.0.0.1" },
	{ "017700000001", IP_FORM_V4_ALT, "127.0.0.1" },
	{ "0177.0.0.1", IP_FORM_V4_ALT, "127.0.0.1" },
	{ "127.1", IP_FORM_V4_ALT, "127.0.0.1" },
	{ "127.0.1", IP_FORM_V4_ALT, "127.0.0.1" },
	{ "10.0.0.010", IP_FORM_V4_ALT, "10.0.0.8" },
	{ "169.254.43518", IP_FORM_V4_ALT, "169.254.169.254" },
	{ "4294967295", IP_FORM_V4_ALT, "255.255.255.255" },
	{ "4294967296", IP_FORM_NONE, NULL },
	{ "256.1.1.1", IP_FORM_NONE, NULL },
	{ "1.2.3.4.5", IP_FORM_NONE, NULL },
	{ "1.2.3.4.", IP_FORM_NONE, NULL },
	{ ".1.2.3", IP_FORM_NONE, NULL },
	{ "1..2", IP_FORM_NONE, NULL },
	{ "08.1.1.1", IP_FORM_NONE, NULL },	/* 8 is no octal digit */
	{ "0x", IP_FORM_NONE, NULL },
	{ "0xg1", IP_FORM_NONE, NULL },
	{ "1.256.1", IP_FORM_NONE, NULL },
	{ "example.com", IP_FORM_NONE, NULL },
	{ "1.2.3.com", IP_FORM_NONE, NULL },
	{ "", IP_FORM_NONE, NULL },
	{ "::1", IP_FORM_V6, "::1" },
	{ "fe80::1%eth0", IP_FORM_V6, "fe80::1" },
	{ "::ffff:127.0.0.1", IP_FORM_V6, "127.0.0.1" },
	{ "2001:db8::1", IP_FORM_V6, "2001:db8::1" },
	{ "2001:db8:::1", IP_FORM_NONE, NULL },
	{ "a:b", IP_FORM_NONE, NULL },
};

static void
test_ip_parse(void)
{
	char buf[IP_STR_MAX];
	struct ipaddr ip;
	size_t i;

	for (i = 0; i < sizeof(ip_cases) / sizeof(ip_cases[0]); i++) {
		const struct ip_case *c = &ip_cases[i];
		enum ip_form f = ip_parse(c->in, strlen(c->in), &ip);

		is_int(f, c->form, "ip_parse(\"%s\") form", c->in);
		if (c->canon != NULL && f == c->form)
			is_str(ip_format(&ip, buf, sizeof(buf)), c->canon,
			    "ip_parse(\"%s\") -> %s", c->in, c->canon);
	}
	ip_parse("::ffff:10.1.2.3", 15, &ip);
	ok(ip_is_v4(&ip), "v4-mapped IPv6 is IPv4");
	ip_parse("::1", 3, &ip);
	ok(!ip_is_v4(&ip), "::1 is not IPv4");
	/* Length-bounded: the bytes after len are not part of the literal. */
	is_int(ip_parse("127.0.0.1xyz", 9, &ip), IP_FORM_V4,
	    "ip_parse honours len");
}

static void
test_cidr(void)
{
	struct cidr c;
	struct ipaddr ip;

	ok(cidr_parse("10.0.0.0/8", &c) == 0, "10.0.0.0/8 parses");
	ip_parse("10.200.3.4", 10, &ip);
	ok(cidr_contains(&c, &ip), "10.0.0.0/8 contains 10.200.3.4");
	ip_parse("11.0.0.1", 8, &ip);
	ok(!cidr_contains(&c, &ip), "10.0.0.0/8 does not contain 11.0.0.1");
	ip_parse("::ffff:10.9.9.9", 15, &ip);
	ok(cidr_contains(&c, &ip), "10.0.0.0/8 contains ::ffff:10.9.9.9");
	ok(!cidr_host_bits(&c), "10.0.0.0/8 has no host bits");
	ok(cidr_parse("10.0.0.5/24", &c) == 0 && cidr_host_bits(&c),
	    "10.0.0.5/24 has host bits");
	ok(cidr_parse("172.16.0.0/12", &c) == 0, "172.16.0.0/12 parses");
	ip_parse("172.31.255.255", 14, &ip);
	ok(cidr_contains(&c, &ip), "/12 contains 172.31.255.255");
	ip_parse("172.32.0.0", 10, &ip);
	ok(!cidr_contains(&c, &ip), "/12 does not contain 172.32.0.0");

	ok(cidr_parse("fc00::/7", &c) == 0, "fc00::/7 parses");
	ip_parse("fd12:3456::1", 12, &ip);
	ok(cidr_contains(&c, &ip), "fc00::/7 contains fd12:3456::1");
	ip_parse("fe00::1", 7, &ip);
	ok(!cidr_contains(&c, &ip), "fc00::/7 does not contain fe00::1");
	ip_parse("10.0.0.1", 8, &ip);
	ok(!cidr_contains(&c, &ip), "an IPv6 CIDR never contains IPv4");
	ok(cidr_parse("::/0", &c) == 0, "::/0 parses");
	ok(!cidr_contains(&c, &ip), "::/0 does not contain IPv4 (Go)");
	ok(cidr_parse("::ffff:0:0/96", &c) == 0, "::ffff:0:0/96 parses");
	ok(cidr_contains(&c, &ip), "::ffff:0:0/96 contains IPv4");
	ok(cidr_parse("::1", &c) == 0 && c.bits == 128, "bare ::1 is /128");
	ok(cidr_parse("1.2.3.4", &c) == 0 && c.bits == 96 + 32,
	    "bare 1.2.3.4 is /32");

	ok(cidr_parse("10.0.0.0/33", &c) == -1, "/33 on IPv4 refused");
	ok(cidr_parse("::/129", &c) == -1, "/129 refused");
	ok(cidr_parse("10.0.0.0/", &c) == -1, "empty prefix refused");
	ok(cidr_parse("10.0.0.0/-1", &c) == -1, "negative prefix refused");
	ok(cidr_parse("10.0.0.0/8x", &c) == -1, "junk after prefix refused");
	ok(cidr_parse("0x0a.0.0.0/8", &c) == -1, "alt notation refused");
	ok(cidr_parse("fe80::1%eth0/64", &c) == -1, "zone id refused");
	ok(cidr_parse("example.com/8", &c) == -1, "name refused");
}

static void
test_sets(void)
{
	static char s1[] = "10.0.0.0/8", s2[] = "fe80::/10", bad[] = "nope";
	char *good[] = { s1, s2 }, *mixed[] = { s1, bad };
	struct strlist lg = { good, 2 }, lm = { mixed, 2 };
	struct cidr_set set = { NULL, 0 };
	struct cidr c;
	struct ipaddr ip;
	char err[128] = "";

	ok(cidr_set_add_list(&set, &lg, "internal", err, sizeof(err)) == 0,
	    "set from list");
	is_int(set.n, 2, "two entries");
	ip_parse("fe80::abcd", 10, &ip);
	ok(cidr_set_find(&set, &ip) == &set.v[1], "find fe80::abcd");
	ip_parse("8.8.8.8", 7, &ip);
	ok(cidr_set_find(&set, &ip) == NULL, "8.8.8.8 not found");
	ok(cidr_set_add_list(&set, &lm, "internal", err, sizeof(err)) == -1,
	    "bad entry refused");
	is_str(err, "internal 'nope' is not a valid CIDR", "error names it");
	cidr_set_free(&set);
	ok(set.v == NULL && set.n == 0, "freed");
	cidr_set_free(NULL);

	/* cidr_set_add clears host bits so the entry still matches its net. */
	cidr_parse("192.168.1.77/24", &c);
	cidr_set_add(&set, &c);
	ip_parse("192.168.1.200", 13, &ip);
	ok(cidr_set_find(&set, &ip) != NULL, "host bits cleared on add");
	cidr_set_free(&set);
}

static void
test_sockaddr(void)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_un sun;
	struct ipaddr ip;
	char buf[IP_STR_MAX];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "169.254.169.254", &sin.sin_addr);
	ok(ip_from_sockaddr((struct sockaddr *)&sin, &ip) == 0 &&
	    strcmp(ip_format(&ip, buf, sizeof(buf)), "169.254.169.254") == 0,
	    "sockaddr_in");
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:10.0.0.1", &sin6.sin6_addr);
	ok(ip_from_sockaddr((struct sockaddr *)&sin6, &ip) == 0 &&
	    ip_is_v4(&ip) &&
	    strcmp(ip_format(&ip, buf, sizeof(buf)), "10.0.0.1") == 0,
	    "v4-mapped sockaddr_in6 is IPv4");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ok(ip_from_sockaddr((struct sockaddr *)&sun, &ip) == -1,
	    "AF_UNIX refused");
	ok(ip_from_sockaddr(NULL, &ip) == -1, "NULL refused");
}

int
main(void)
{
	test_ip_parse();
	test_cidr();
	test_sets();
	test_sockaddr();
	return tap_done();
}
