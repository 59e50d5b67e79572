/*
 * domain.h - scanner-internal: host names as pipelock matches them, and the
 * pure host-name heuristics (subdomain entropy, DNS tunnelling).
 *
 * Matching rule (pipelock MatchDomain): lowercase, one trailing dot stripped
 * on both sides; "*.example.com" matches example.com itself and any depth of
 * subdomain; anything else is exact; an IP-literal host only matches exactly.
 */
#ifndef PIPELOCK_SCANNER_DOMAIN_H
#define PIPELOCK_SCANNER_DOMAIN_H

#include <stddef.h>

#include "scanner/scanner.h"

/* Longest DNS name in presentation form (RFC 1035 without trailing dot). */
#define DOMAIN_NAME_MAX			253
/* Subdomain entropy looks only at labels at least this long (pipelock). */
#define DOMAIN_ENTROPY_MIN_LABEL	8

/*
 * DNS tunnelling heuristic (DNS questions only).  Conservative on purpose:
 * real names stay far below these; iodine/dnscat2/dns2tcp style names
 * (long encoded labels, many labels) exceed them.  Reverse-lookup zones
 * (in-addr.arpa, ip6.arpa) are exempt from the label count: an ip6.arpa
 * PTR name has 34 labels.
 */
#define DNS_TUNNEL_MAX_LABELS		10
#define DNS_TUNNEL_LONG_LABEL		32	/* label length considered */
#define DNS_TUNNEL_LABEL_ENTROPY	3.5	/* bits/char above -> encoded */
#define DNS_TUNNEL_SUBDOMAIN_CHARS	100	/* encoded chars in all labels */

enum dns_tunnel_rule {
	DNS_TUNNEL_NONE = 0,
	DNS_TUNNEL_NAME_LENGTH,		/* name longer than DOMAIN_NAME_MAX */
	DNS_TUNNEL_LABEL_COUNT,		/* more than DNS_TUNNEL_MAX_LABELS */
	DNS_TUNNEL_ENCODED_LABEL,	/* one long hyphen-less high-entropy label */
	DNS_TUNNEL_ENCODED_NAME,	/* many mid-length encoded labels */
};

struct dns_tunnel_hit {
	enum dns_tunnel_rule	rule;
	size_t			value;		/* length, count or chars */
	size_t			label_off;	/* offending label, if any */
	size_t			label_len;
	double			entropy;
};

/*
 * Lowercase in (len bytes) into out and strip one trailing dot.  out gets a
 * NUL; returns the length, or (size_t)-1 if it does not fit in cap.
 */
size_t domain_normalize(const char *in, size_t len, char *out, size_t cap);

/* pipelock's MatchDomain over host (hlen bytes) and a NUL-terminated pattern. */
int domain_match(const char *host, size_t hlen, const char *pattern);

/* The first pattern of l matching host, or NULL. */
const char *domain_list_find(const struct strlist *l, const char *host,
    size_t hlen);

/* 1 if host (hlen bytes) is a dotted-decimal or IPv6 literal. */
int domain_is_ip(const char *host, size_t hlen);

/*
 * Subdomain entropy (pipelock checkSubdomainEntropy) on a normalised host:
 * every label except the last two, at least DOMAIN_ENTROPY_MIN_LABEL long,
 * with Shannon entropy > threshold.  Returns 1 and the first such label's
 * offset, length and entropy; 0 if none (or fewer than three labels).
 */
int domain_entropy_label(const char *host, size_t hlen, double threshold,
    size_t *off, size_t *len, double *entropy);

/*
 * DNS tunnelling heuristic over a normalised name; fills hit and returns 1
 * when a rule fires, else 0.
 */
int domain_tunnel(const char *name, size_t len, struct dns_tunnel_hit *hit);

/*
 * Copy name into out with every '.' removed (sep == 0) or replaced by sep.
 * out must hold len bytes; returns the output length.
 */
size_t domain_join_labels(const char *name, size_t len, char sep, char *out);

#endif
