/*
 * domain.c - host-name matching and host-name heuristics (subdomain entropy,
 * DNS tunnelling) shared by the URL check and the SNI / DNS name checks.
 */
#include <string.h>
#include <strings.h>

#include "scanner/cidr.h"
#include "scanner/domain.h"
#include "scanner/normalize.h"

static inline char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

size_t
domain_normalize(const char *in, size_t len, char *out, size_t cap)
{
	size_t i;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len >= cap)
		return (size_t)-1;
	for (i = 0; i < len; i++)
		out[i] = lower(in[i]);
	out[len] = '\0';
	return len;
}

int
domain_is_ip(const char *host, size_t hlen)
{
	struct ipaddr ip;
	enum ip_form f;

	if (memchr(host, '%', hlen) != NULL)
		return 0;	/* Go's ParseIP rejects zone ids */
	f = ip_parse(host, hlen, &ip);
	return f == IP_FORM_V4 || f == IP_FORM_V6;
}

/* Case-insensitive equality of a (alen bytes) and b (blen bytes). */
static int
eq_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && strncasecmp(a, b, alen) == 0;
}

int
domain_match(const char *host, size_t hlen, const char *pattern)
{
	size_t plen = strlen(pattern);

	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	if (plen > 0 && pattern[plen - 1] == '.')
		plen--;
	if (hlen == 0 || plen == 0)
		return 0;
	/* Dots in an IP are not label separators: "*.168.1.1" is no wildcard. */
	if (domain_is_ip(host, hlen))
		return eq_nocase(host, hlen, pattern, plen);
	if (plen >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		const char *base = pattern + 2;
		size_t blen = plen - 2;

		if (eq_nocase(host, hlen, base, blen))
			return 1;
		/* Suffix ".base": the dot keeps "evilexample.com" out. */
		return hlen > blen + 1 && host[hlen - blen - 1] == '.' &&
		    eq_nocase(host + hlen - blen, blen, base, blen);
	}
	return eq_nocase(host, hlen, pattern, plen);
}

const char *
domain_list_find(const struct strlist *l, const char *host, size_t hlen)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i] != NULL && domain_match(host, hlen, l->v[i]))
			return l->v[i];
	return NULL;
}

/* Number of labels of name (dots + 1); 0 for the empty name. */
static size_t
label_count(const char *name, size_t len)
{
	size_t i, n = 1;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		n += name[i] == '.';
	return n;
}

/* Length of the name's subdomain part: all but the last two labels. */
static size_t
subdomain_len(const char *name, size_t len)
{
	size_t i, dots = 0;

	for (i = len; i > 0; i--) {
		if (name[i - 1] == '.' && ++dots == 2)
			return i - 1;
	}
	return 0;
}

int
domain_entropy_label(const char *host, size_t hlen, double threshold,
    size_t *off, size_t *len, double *entropy)
{
	size_t sub = subdomain_len(host, hlen), start = 0, i;

	/* Labels of the subdomain part, i.e. all but the last two. */
	for (i = 0; i <= sub; i++) {
		size_t llen;
		double h;

		if (i < sub && host[i] != '.')
			continue;
		llen = i - start;
		if (sub > 0 && llen >= DOMAIN_ENTROPY_MIN_LABEL) {
			h = norm_entropy(host + start, llen);
			if (h > threshold) {
				*off = start;
				*len = llen;
				*entropy = h;
				return 1;
			}
		}
		start = i + 1;
	}
	return 0;
}

static int
is_reverse_zone(const char *name, size_t len)
{
	return domain_match(name, len, "*.in-addr.arpa") ||
	    domain_match(name, len, "*.ip6.arpa");
}

int
domain_tunnel(const char *name, size_t len, struct dns_tunnel_hit *hit)
{
	size_t sub = subdomain_len(name, len), start = 0, i, encoded = 0;
	size_t nlabels = label_count(name, len);

	memset(hit, 0, sizeof(*hit));
	if (len > DOMAIN_NAME_MAX) {
		hit->rule = DNS_TUNNEL_NAME_LENGTH;
		hit->value = len;
		return 1;
	}
	if (nlabels > DNS_TUNNEL_MAX_LABELS && !is_reverse_zone(name, len)) {
		hit->rule = DNS_TUNNEL_LABEL_COUNT;
		hit->value = nlabels;
		return 1;
	}
	for (i = 0; i <= sub; i++) {
		size_t llen;
		double h;

		if (i < sub && name[i] != '.')
			continue;
		llen = i - start;
		/*
		 * Hyphens mark human-made names ("my-long-bucket-name"); the
		 * encoders tunnels use (hex, base32, base64url) emit labels
		 * without them at 3.7+ bits per character.
		 */
		if (sub > 0 && llen >= DOMAIN_ENTROPY_MIN_LABEL &&
		    memchr(name + start, '-', llen) == NULL &&
		    (h = norm_entropy(name + start, llen)) >
		    DNS_TUNNEL_LABEL_ENTROPY) {
			if (llen >= DNS_TUNNEL_LONG_LABEL) {
				hit->rule = DNS_TUNNEL_ENCODED_LABEL;
				hit->value = llen;
				hit->label_off = start;
				hit->label_len = llen;
				hit->entropy = h;
				return 1;
			}
			encoded += llen;
		}
		start = i + 1;
	}
	if (encoded >= DNS_TUNNEL_SUBDOMAIN_CHARS) {
		hit->rule = DNS_TUNNEL_ENCODED_NAME;
		hit->value = encoded;
		return 1;
	}
	return 0;
}

size_t
domain_join_labels(const char *name, size_t len, char sep, char *out)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (name[i] != '.')
			out[n++] = name[i];
		else if (sep != '\0')
			out[n++] = sep;
	}
	return n;
}
