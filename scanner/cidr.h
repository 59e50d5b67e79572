/*
 * cidr.h - scanner-internal: IP literals and CIDR sets for the SSRF checks.
 *
 * Every address is held in one 16-byte form: IPv4 as the v4-mapped IPv6
 * address ::ffff:a.b.c.d, so a v4-mapped IPv6 literal and the IPv4 literal
 * it maps are the same address (pipelock's To4() normalisation).  An IPv4
 * CIDR only ever contains IPv4 (mapped) addresses and an IPv6 CIDR only
 * IPv6 ones, as Go's net.IPNet.Contains behaves.
 *
 * Pure: no allocation except in cidr_set_add(), no I/O.
 */
#ifndef PIPELOCK_SCANNER_CIDR_H
#define PIPELOCK_SCANNER_CIDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "scanner/scanner.h"

/* Longest textual IP we format: full IPv6 with embedded IPv4 + NUL. */
#define IP_STR_MAX	48
/* Longest IP literal we try to parse (zone ids included). */
#define IP_PARSE_MAX	80

struct ipaddr {
	uint8_t	a[16];
};

struct cidr {
	struct ipaddr	net;		/* host bits cleared */
	unsigned	bits;		/* prefix length in the 128-bit space */
	int		v4;		/* written as an IPv4 CIDR */
};

struct cidr_set {
	struct cidr	*v;
	size_t		 n;
};

enum ip_form {
	IP_FORM_NONE = 0,	/* not an IP literal */
	IP_FORM_V4,		/* dotted decimal, 4 parts, no leading zeros */
	IP_FORM_V4_ALT,		/* inet_aton form: hex/octal parts, 1-3 parts */
	IP_FORM_V6,		/* IPv6 (zone id stripped) */
};

/*
 * Parse an IP literal of len bytes (not NUL-terminated).  Accepts dotted
 * decimal, every inet_aton(3) form the resolver would also accept (1-4
 * parts, each decimal, 0-prefixed octal or 0x hex: "0x7f.1", "2130706433",
 * "0177.0.0.1"), and IPv6 with an optional "%zone" (stripped).  Returns the
 * form, IP_FORM_NONE when s is not an IP literal.
 */
enum ip_form ip_parse(const char *s, size_t len, struct ipaddr *ip);

/* 1 if ip is an IPv4 (v4-mapped) address. */
int ip_is_v4(const struct ipaddr *ip);

/* Format ip (dotted decimal for IPv4) into buf; returns buf. */
char *ip_format(const struct ipaddr *ip, char *buf, size_t len);

/* AF_INET/AF_INET6 sockaddr -> ipaddr; -1 for any other family. */
int ip_from_sockaddr(const struct sockaddr *sa, struct ipaddr *ip);

/*
 * Parse "addr/len" or a bare address (a /32 or /128) in the strict forms
 * (dotted decimal or IPv6, no zone).  Host bits are kept in *c so that
 * cidr_host_bits() can report them, and cleared by cidr_set_add().
 * Returns 0, or -1 if s is not a CIDR.
 */
int cidr_parse(const char *s, struct cidr *c);
/* 1 if c has bits set beyond its prefix ("10.0.0.5/24"). */
int cidr_host_bits(const struct cidr *c);
int cidr_contains(const struct cidr *c, const struct ipaddr *ip);

/* Append c to set (host bits cleared).  0, or -1 on allocation failure. */
int cidr_set_add(struct cidr_set *set, const struct cidr *c);
/*
 * Parse every entry of l into set.  On error returns -1 with the bad entry
 * in err ("what 'x' is not a valid CIDR").  what names the list.
 */
int cidr_set_add_list(struct cidr_set *set, const struct strlist *l,
    const char *what, char *err, size_t errlen);
/* The first CIDR of set containing ip, or NULL. */
const struct cidr *cidr_set_find(const struct cidr_set *set,
    const struct ipaddr *ip);
void cidr_set_free(struct cidr_set *set);

#endif
