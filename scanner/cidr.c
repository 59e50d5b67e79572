/*
 * cidr.c - IP literal parsing (including the alternative IPv4 notations the
 * resolver accepts) and CIDR sets for the SSRF checks.
 *
 * The alternative notations matter because the engine resolves names with
 * getaddrinfo(), which hands "0x7f.1" or "2130706433" to inet_aton() and
 * connects to 127.0.0.1: the scanner must see the same address the dialer
 * will, so it accepts exactly inet_aton's grammar and canonicalises.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scanner/cidr.h"

/* inet_aton accepts at most four dotted parts. */
#define IPV4_MAX_PARTS	4
/* Longest digit run of one part we bother with: 0x + 8 hex, or 11 octal. */
#define IPV4_PART_MAX	32

static const uint8_t v4mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

static void
ip_set_v4(struct ipaddr *ip, uint32_t v)
{
	memcpy(ip->a, v4mapped_prefix, sizeof(v4mapped_prefix));
	ip->a[12] = v >> 24;
	ip->a[13] = v >> 16;
	ip->a[14] = v >> 8;
	ip->a[15] = v;
}

int
ip_is_v4(const struct ipaddr *ip)
{
	return memcmp(ip->a, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0;
}

/*
 * One inet_aton part: decimal, 0-prefixed octal or 0x hex.  Sets *plain
 * when the part is in the form dotted decimal uses (no radix prefix, no
 * leading zero).  Returns bytes consumed, 0 if not a number.
 */
static size_t
ipv4_part(const char *s, size_t len, uint64_t *val, int *plain)
{
	size_t i = 0, start;
	unsigned base = 10;
	uint64_t v = 0;

	*plain = 1;
	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
		*plain = 0;
	} else if (len >= 2 && s[0] == '0' && s[1] >= '0' && s[1] <= '9') {
		base = 8;
		i = 1;
		*plain = 0;
	}
	start = i;
	for (; i < len && s[i] != '.'; i++) {
		unsigned d;
		char c = s[i];

		if (i - start >= IPV4_PART_MAX)
			return 0;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return 0;
		if (d >= base)
			return 0;
		v = v * base + d;
		if (v > 0xffffffffULL)
			return 0;
	}
	if (i == start)
		return 0;
	*val = v;
	return i;
}

static enum ip_form
ipv4_parse(const char *s, size_t len, struct ipaddr *ip)
{
	uint64_t parts[IPV4_MAX_PARTS];
	size_t n = 0, off = 0;
	int all_plain = 1;
	uint32_t v;

	for (;;) {
		int plain;
		size_t used;

		if (n == IPV4_MAX_PARTS)
			return IP_FORM_NONE;
		used = ipv4_part(s + off, len - off, &parts[n], &plain);
		if (used == 0)
			return IP_FORM_NONE;
		all_plain &= plain;
		n++;
		off += used;
		if (off == len)
			break;
		off++;		/* the '.' */
		if (off == len)
			return IP_FORM_NONE;	/* trailing dot */
	}
	switch (n) {
	case 1:
		v = (uint32_t)parts[0];
		break;
	case 2:
		if (parts[0] > 0xff || parts[1] > 0xffffff)
			return IP_FORM_NONE;
		v = (uint32_t)(parts[0] << 24 | parts[1]);
		break;
	case 3:
		if (parts[0] > 0xff || parts[1] > 0xff || parts[2] > 0xffff)
			return IP_FORM_NONE;
		v = (uint32_t)(parts[0] << 24 | parts[1] << 16 | parts[2]);
		break;
	default:
		if (parts[0] > 0xff || parts[1] > 0xff || parts[2] > 0xff ||
		    parts[3] > 0xff)
			return IP_FORM_NONE;
		v = (uint32_t)(parts[0] << 24 | parts[1] << 16 |
		    parts[2] << 8 | parts[3]);
		break;
	}
	ip_set_v4(ip, v);
	return n == IPV4_MAX_PARTS && all_plain ? IP_FORM_V4 : IP_FORM_V4_ALT;
}

enum ip_form
ip_parse(const char *s, size_t len, struct ipaddr *ip)
{
	char buf[IP_PARSE_MAX];
	const char *pct;

	if (len == 0 || len >= sizeof(buf))
		return IP_FORM_NONE;
	if (memchr(s, ':', len) == NULL)
		return ipv4_parse(s, len, ip);
	pct = memchr(s, '%', len);
	if (pct != NULL)
		len = pct - s;	/* zone ids never change the address */
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, ip->a) != 1)
		return IP_FORM_NONE;
	return IP_FORM_V6;
}

char *
ip_format(const struct ipaddr *ip, char *buf, size_t len)
{
	if (ip_is_v4(ip))
		snprintf(buf, len, "%u.%u.%u.%u", ip->a[12], ip->a[13],
		    ip->a[14], ip->a[15]);
	else if (inet_ntop(AF_INET6, ip->a, buf, len) == NULL && len > 0)
		buf[0] = '\0';
	return buf;
}

int
ip_from_sockaddr(const struct sockaddr *sa, struct ipaddr *ip)
{
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		ip_set_v4(ip, ntohl(sin->sin_addr.s_addr));
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)sa;

		memcpy(ip->a, &sin6->sin6_addr, sizeof(ip->a));
		return 0;
	}
	return -1;
}

int
cidr_parse(const char *s, struct cidr *c)
{
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	enum ip_form form;
	unsigned long bits, max;
	char *end;

	memset(c, 0, sizeof(*c));
	form = ip_parse(s, alen, &c->net);
	if (form != IP_FORM_V4 && form != IP_FORM_V6)
		return -1;
	if (form == IP_FORM_V6 && memchr(s, '%', alen) != NULL)
		return -1;
	c->v4 = form == IP_FORM_V4;
	max = c->v4 ? 32 : 128;
	if (slash == NULL) {
		bits = max;
	} else {
		if (slash[1] < '0' || slash[1] > '9')
			return -1;
		bits = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || bits > max)
			return -1;
	}
	c->bits = (unsigned)bits + (c->v4 ? 96 : 0);
	/* "::ffff:0:0/96" names IPv4 space: v4-mapped literals are IPv4 here. */
	if (!c->v4 && c->bits >= 96 && ip_is_v4(&c->net))
		c->v4 = 1;
	return 0;
}

static int
prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

int
cidr_host_bits(const struct cidr *c)
{
	unsigned i;

	for (i = c->bits; i < 128; i++)
		if (c->net.a[i / 8] & (0x80 >> (i % 8)))
			return 1;
	return 0;
}

int
cidr_contains(const struct cidr *c, const struct ipaddr *ip)
{
	if (c->v4 != ip_is_v4(ip))
		return 0;
	return prefix_equal(c->net.a, ip->a, c->bits);
}

int
cidr_set_add(struct cidr_set *set, const struct cidr *c)
{
	struct cidr *v, *nc;
	unsigned i;

	v = reallocarray(set->v, set->n + 1, sizeof(*v));
	if (v == NULL)
		return -1;
	set->v = v;
	nc = &v[set->n++];
	*nc = *c;
	for (i = nc->bits; i < 128; i++)
		nc->net.a[i / 8] &= ~(0x80 >> (i % 8));
	return 0;
}

int
cidr_set_add_list(struct cidr_set *set, const struct strlist *l,
    const char *what, char *err, size_t errlen)
{
	struct cidr c;
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (l->v[i] == NULL || cidr_parse(l->v[i], &c) == -1) {
			snprintf(err, errlen, "%s '%s' is not a valid CIDR",
			    what, l->v[i] ? l->v[i] : "");
			return -1;
		}
		if (cidr_set_add(set, &c) == -1) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

const struct cidr *
cidr_set_find(const struct cidr_set *set, const struct ipaddr *ip)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (cidr_contains(&set->v[i], ip))
			return &set->v[i];
	return NULL;
}

void
cidr_set_free(struct cidr_set *set)
{
	if (set == NULL)
		return;
	free(set->v);
	set->v = NULL;
	set->n = 0;
}
