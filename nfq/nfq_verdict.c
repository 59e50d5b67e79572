/*
 * nfq_verdict.c - the decision table for agent UDP (see nfq_verdict.h).
 *
 * Order matters and is fail-closed: a datagram is blocked unless one branch
 * positively allows it.  Structural refusals (not a resolver, malformed
 * query, undecodable QUIC, QUIC in block mode, other UDP) are always
 * enforced; policy findings (scanner, DNS budget, SNI) follow the config's
 * enforce switch the way the TCP path does, and become "warn" in audit mode.
 *
 * DNS -> IP attribution: the place for it is nfq_decide_dns() after an
 * accept (remember qname per (uid, resolver, query id)); answers are not
 * queued today, so nothing is recorded yet.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/config.h"
#include "core/killswitch.h"
#include "core/policy.h"
#include "core/tlsca.h"
#include "nfq/nfq_quic.h"
#include "nfq/nfq_verdict.h"
#include "scanner/cidr.h"
#include "scanner/scanner.h"

#define NFQ_DNS_BUDGET_SETS	(NFQ_DNS_BUDGET_ENTRIES / NFQ_DNS_BUDGET_WAYS)
#define NFQ_FLOW_SETS		(NFQ_FLOWS_MAX / NFQ_FLOW_WAYS)

/* An allowed UDP flow: family, addresses and ports of the agent's side. */
struct flow_key {
	uint8_t		family;
	uint8_t		src[16], dst[16];
	uint16_t	sport, dport;
};

struct flow_entry {
	struct flow_key	key;
	uint64_t	used_ms;	/* 0: free */
};

struct budget_entry {
	uint64_t	key;		/* hash of (uid, registrable domain); 0 free */
	uint64_t	window_ms;	/* start of the current window */
	uint64_t	used_ms;	/* LRU stamp */
	unsigned	n;
	uint32_t	names[NFQ_DNS_BUDGET_NAMES];	/* hashes of distinct names */
};

struct nfq_verdict_state {
	struct budget_entry	*budget;	/* NFQ_DNS_BUDGET_ENTRIES */
	uint64_t		 seed;
	struct nfq_quic_table	*quic;
	struct flow_entry	*flows;		/* NFQ_FLOWS_MAX */
	/* Parsed address lists of the policy generation seen last. */
	unsigned long		 gen;
	const struct policy	*gen_policy;
	struct cidr_set		 resolvers;	/* firewall.dns_servers as /32, /128 */
	struct cidr_set		 allow_ips;	/* firewall.allow_ip_cidrs */
	int			 lists_ok;
};

/* Two-letter country TLDs commonly used with these generic second levels. */
static const char *const short_sld[] = {
	"co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", NULL
};

/* Multi-label public suffixes that the two-letter rule does not catch. */
static const char *const known_suffix[] = {
	"github.io", "gitlab.io", "herokuapp.com", "appspot.com",
	"blogspot.com", "cloudfront.net", "azurewebsites.net", "vercel.app",
	"netlify.app", "pages.dev", "workers.dev", "web.app", "firebaseapp.com",
	NULL
};

struct nfq_verdict_state *
nfq_verdict_new(void)
{
	struct nfq_verdict_state *st;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	st->budget = calloc(NFQ_DNS_BUDGET_ENTRIES, sizeof(*st->budget));
	st->quic = nfq_quic_table_new();
	st->flows = calloc(NFQ_FLOWS_MAX, sizeof(*st->flows));
	if (st->budget == NULL || st->quic == NULL || st->flows == NULL) {
		nfq_verdict_free(st);
		return NULL;
	}
	/* A fixed seed would let an agent pick names that evict each other. */
	if (getrandom(&st->seed, sizeof(st->seed), GRND_NONBLOCK) !=
	    sizeof(st->seed))
		st->seed = (uint64_t)(uintptr_t)st ^ 0x9e3779b97f4a7c15ull;
	return st;
}

void
nfq_verdict_free(struct nfq_verdict_state *st)
{
	if (st == NULL)
		return;
	free(st->budget);
	free(st->flows);
	nfq_quic_table_free(st->quic);
	cidr_set_free(&st->resolvers);
	cidr_set_free(&st->allow_ips);
	free(st);
}

/* FNV-1a with a seed mixed in; enough for table placement. */
static uint64_t
hash_str(uint64_t seed, long long uid, const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	size_t i;

	for (i = 0; i < sizeof(uid); i++) {
		h ^= (uint8_t)((unsigned long long)uid >> (8 * i));
		h *= 0x100000001b3ull;
	}
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ull;
	}
	h ^= h >> 29;
	return h ? h : 1;
}

const char *
nfq_verdict_regdomain(const char *name)
{
	const char *dots[3] = { NULL, NULL, NULL };	/* last, 2nd, 3rd last */
	const char *p, *tld, *sld;
	size_t i, sld_len;

	for (p = name; *p; p++) {
		if (*p == '.') {
			dots[2] = dots[1];
			dots[1] = dots[0];
			dots[0] = p;
		}
	}
	if (dots[1] == NULL)		/* one or two labels: the name itself */
		return name;
	for (i = 0; known_suffix[i] != NULL; i++)
		if (strcmp(dots[1] + 1, known_suffix[i]) == 0)
			return dots[2] ? dots[2] + 1 : name;
	tld = dots[0] + 1;
	sld = dots[1] + 1;
	sld_len = (size_t)(dots[0] - sld);
	if (strlen(tld) == 2) {
		for (i = 0; short_sld[i] != NULL; i++)
			if (strlen(short_sld[i]) == sld_len &&
			    strncmp(sld, short_sld[i], sld_len) == 0)
				return dots[2] ? dots[2] + 1 : name;
	}
	return dots[1] + 1;
}

/*
 * Count qname against its (uid, registrable domain) budget.  1 if this
 * name is over budget, 0 if allowed (new within the budget, or seen).
 */
static int
budget_charge(struct nfq_verdict_state *st, long long uid, const char *qname,
    uint64_t now)
{
	struct budget_entry *set, *e = NULL, *lru = NULL;
	uint64_t key = hash_str(st->seed, uid, nfq_verdict_regdomain(qname));
	uint32_t nh = (uint32_t)hash_str(st->seed, uid, qname);
	size_t i;

	set = st->budget + (key % NFQ_DNS_BUDGET_SETS) * NFQ_DNS_BUDGET_WAYS;
	for (i = 0; i < NFQ_DNS_BUDGET_WAYS; i++) {
		if (set[i].key == key) {
			e = &set[i];
			break;
		}
		if (lru == NULL || set[i].used_ms < lru->used_ms ||
		    set[i].key == 0)
			lru = &set[i];
	}
	if (e == NULL) {
		e = lru;
		memset(e, 0, sizeof(*e));
		e->key = key;
		e->window_ms = now;
	}
	e->used_ms = now;
	if (now - e->window_ms >= NFQ_DNS_BUDGET_WINDOW_MS) {
		e->window_ms = now;
		e->n = 0;
	}
	for (i = 0; i < e->n; i++)
		if (e->names[i] == nh)
			return 0;
	if (e->n >= NFQ_DNS_BUDGET_NAMES)
		return 1;
	e->names[e->n++] = nh;
	return 0;
}

/* Re-parse the policy's address lists when the policy changed. */
static void
lists_refresh(struct nfq_verdict_state *st, const struct policy *p)
{
	const struct firewall_config *fw = &p->cfg->fw;
	char err[256];
	size_t i;

	if (st->gen_policy == p && st->gen == p->generation)
		return;
	cidr_set_free(&st->resolvers);
	cidr_set_free(&st->allow_ips);
	memset(&st->resolvers, 0, sizeof(st->resolvers));
	memset(&st->allow_ips, 0, sizeof(st->allow_ips));
	st->lists_ok = 1;
	for (i = 0; i < fw->dns_servers.n; i++) {
		struct cidr c;

		if (cidr_parse(fw->dns_servers.v[i], &c) == -1 ||
		    cidr_set_add(&st->resolvers, &c) == -1)
			st->lists_ok = 0;
	}
	if (cidr_set_add_list(&st->allow_ips, &fw->allow_ip_cidrs,
	    "firewall.allow_ip_cidrs", err, sizeof(err)) == -1)
		st->lists_ok = 0;
	st->gen_policy = p;
	st->gen = p->generation;
}

static int
addr_in(const struct cidr_set *set, const struct sockaddr_storage *ss)
{
	struct ipaddr ip;

	if (ip_from_sockaddr((const struct sockaddr *)ss, &ip) == -1)
		return 0;
	return cidr_set_find(set, &ip) != NULL;
}

static uint16_t
addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

static void
flow_key_make(const struct nfq_packet *pkt, struct flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = (uint8_t)pkt->dst.ss_family;
	if (k->family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)&pkt->src;
		const struct sockaddr_in *d = (const struct sockaddr_in *)&pkt->dst;

		memcpy(k->src, &s->sin_addr, 4);
		memcpy(k->dst, &d->sin_addr, 4);
		k->sport = s->sin_port;
		k->dport = d->sin_port;
	} else {
		const struct sockaddr_in6 *s =
		    (const struct sockaddr_in6 *)&pkt->src;
		const struct sockaddr_in6 *d =
		    (const struct sockaddr_in6 *)&pkt->dst;

		memcpy(k->src, &s->sin6_addr, 16);
		memcpy(k->dst, &d->sin6_addr, 16);
		k->sport = s->sin6_port;
		k->dport = d->sin6_port;
	}
}

/*
 * The allowed-flow table: normally the ruleset's ct mark keeps an allowed
 * QUIC flow out of the queue, but if that rule is missing (or conntrack
 * forgot the flow) its later packets, which are not Initials, must still
 * pass.  Set associative with LRU per set; idle entries expire.
 */
static struct flow_entry *
flow_find(struct nfq_verdict_state *st, const struct flow_key *k,
    uint64_t now, int add)
{
	struct flow_entry *set, *lru = NULL;
	size_t i;
	uint64_t h = 0xcbf29ce484222325ull ^ st->seed;
	const uint8_t *b = (const uint8_t *)k;

	for (i = 0; i < sizeof(*k); i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	set = st->flows + (h % NFQ_FLOW_SETS) * NFQ_FLOW_WAYS;
	for (i = 0; i < NFQ_FLOW_WAYS; i++) {
		if (set[i].used_ms != 0 &&
		    now - set[i].used_ms > NFQ_FLOW_IDLE_MS)
			set[i].used_ms = 0;
		if (set[i].used_ms != 0 &&
		    memcmp(&set[i].key, k, sizeof(*k)) == 0) {
			set[i].used_ms = now;
			return &set[i];
		}
		if (lru == NULL || set[i].used_ms < lru->used_ms)
			lru = &set[i];
	}
	if (!add)
		return NULL;
	lru->key = *k;
	lru->used_ms = now ? now : 1;
	return lru;
}

/* The engine's kill switch (nfq_verdict_set_killswitch), NULL: none. */
static const struct killswitch *nfq_killswitch;

void
nfq_verdict_set_killswitch(const struct killswitch *ks)
{
	nfq_killswitch = ks;
}

static void
set_block(struct nfq_decision *d, enum nfq_verdict v, const char *why)
{
	d->verdict = v;
	d->audit = 1;
	d->verdict_name = "block";
	snprintf(d->reason, sizeof(d->reason), "%s", why);
}

/* A policy finding: reject when enforcing, else record a warning. */
static void
set_policy_block(struct nfq_decision *d, int enforce)
{
	d->audit = 1;
	if (enforce) {
		d->verdict = NFQ_REJECT;
		d->verdict_name = "block";
	} else {
		d->warn_only = 1;
		d->verdict_name = "warn";
	}
}

/* Apply a scanner result: block (or warn when not enforcing). */
static void
apply_scan(struct nfq_decision *d, const struct scan_result *res, int r,
    int enforce, enum nfq_verdict allow)
{
	const struct scan_finding *f = res->nfindings > 0 ? &res->findings[0] :
	    NULL;

	d->verdict = allow;
	if (r == 0 && (f == NULL || !f->warn_only))
		return;
	d->audit = 1;
	if (f != NULL) {
		d->scanner = f->scanner;
		d->pattern = f->pattern;
		snprintf(d->reason, sizeof(d->reason), "%s", f->reason);
		snprintf(d->redacted, sizeof(d->redacted), "%s", f->redacted);
		/*
		 * A DNS or SNI name that carries a secret must not reach the
		 * audit log whole: keep only its registrable domain.
		 */
		if (f->redacted[0] != '\0' && d->host[0] != '\0') {
			static const char pfx[] = "(redacted).";
			const char *tail = nfq_verdict_regdomain(d->host);
			size_t tl = strlen(tail);

			if (tl > sizeof(d->host) - sizeof(pfx))
				tl = sizeof(d->host) - sizeof(pfx);
			memmove(d->host + sizeof(pfx) - 1, tail, tl);
			memcpy(d->host, pfx, sizeof(pfx) - 1);
			d->host[sizeof(pfx) - 1 + tl] = '\0';
		}
	} else {
		snprintf(d->reason, sizeof(d->reason), "scanner error");
		d->scanner = "error";
	}
	if (r != 0)
		set_policy_block(d, enforce);
	else
		set_policy_block(d, 0);
}

static void
nfq_decide_dns(struct nfq_verdict_state *st, const struct policy *p,
    const struct nfq_packet *pkt, struct nfq_decision *d)
{
	const struct config *cfg = p->cfg;
	struct dns_query q;
	struct scan_result res;
	int r;

	d->event = "dns";
	if (!st->lists_ok || !addr_in(&st->resolvers, &pkt->dst)) {
		set_block(d, NFQ_REJECT, "DNS to an address that is not a "
		    "configured resolver (firewall.dns_servers)");
		return;
	}
	if (cfg->fw.dns == FW_DNS_BLOCK) {
		set_block(d, NFQ_REJECT, "DNS blocked by firewall.dns: block");
		return;
	}
	if (nfq_dns_parse_query(pkt->payload, pkt->len, &q) == -1) {
		char why[SCAN_REASON_MAX];

		snprintf(why, sizeof(why), "malformed DNS query: %s at byte %zu",
		    q.err, q.err_pos);
		/* Silent drop: a real resolver library never sends this. */
		set_block(d, NFQ_DROP, why);
		return;
	}
	snprintf(d->host, sizeof(d->host), "%s", q.qname);
	nfq_dns_type_name(q.qtype, d->qtype, sizeof(d->qtype));
	if (cfg->fw.dns == FW_DNS_ALLOW)
		return;
	r = scanner_check_domain(p->scanner, q.qname, SCAN_WHERE_DNS, &res);
	apply_scan(d, &res, r, cfg->enforce, NFQ_ACCEPT);
	if (d->verdict != NFQ_ACCEPT)
		return;
	if (strcmp(q.qname, ".") != 0 &&
	    budget_charge(st, pkt->uid, q.qname, pkt->now_ms)) {
		d->audit = 1;
		d->scanner = "dns_budget";
		snprintf(d->reason, sizeof(d->reason), "more than %u distinct "
		    "names under %s in %u s", NFQ_DNS_BUDGET_NAMES,
		    nfq_verdict_regdomain(q.qname),
		    NFQ_DNS_BUDGET_WINDOW_MS / 1000);
		set_policy_block(d, cfg->enforce);
	}
}

static void
nfq_decide_quic(struct nfq_verdict_state *st, const struct policy *p,
    const struct nfq_packet *pkt, struct nfq_decision *d)
{
	const struct config *cfg = p->cfg;
	struct tls_hello th;
	struct scan_result res;
	struct quic_hdr h;
	const char *err = NULL;
	int r;

	d->event = "quic";
	if (nfq_quic_parse_long(pkt->payload, pkt->len, &h) > 0) {
		memcpy(d->quic_dcid, h.dcid, h.dcid_len);
		d->quic_dcid_len = h.dcid_len;
	}
	if (cfg->fw.quic == FW_QUIC_BLOCK) {
		set_block(d, NFQ_REJECT, "QUIC blocked (firewall.quic: block); "
		    "clients fall back to TCP");
		return;
	}
	switch (nfq_quic_feed(st->quic, pkt->payload, pkt->len, pkt->now_ms,
	    &th, &err)) {
	case QUIC_NEED_MORE:
		/* The worker keeps the packet until the hello completes. */
		d->verdict = NFQ_HOLD;
		d->verdict_name = "hold";
		snprintf(d->reason, sizeof(d->reason), "ClientHello continues "
		    "in a later datagram");
		return;
	case QUIC_HELLO:
		break;
	case QUIC_NOT_INITIAL:	/* the caller checked: cannot happen */
	case QUIC_MALFORMED:
	default:
		set_block(d, NFQ_REJECT, "");
		snprintf(d->reason, sizeof(d->reason), "undecodable QUIC "
		    "Initial: %s", err ? err : "not a v1 Initial");
		return;
	}
	d->ech = th.has_ech;
	if (th.has_alpn)
		snprintf(d->alpn, sizeof(d->alpn), "%s", th.alpn);
	if (!th.has_sni) {
		if (addr_in(&st->allow_ips, &pkt->dst)) {
			d->verdict = NFQ_ACCEPT_FLOW;
			d->audit = 1;
			d->verdict_name = "allow";
			snprintf(d->reason, sizeof(d->reason), "no SNI, "
			    "destination in firewall.allow_ip_cidrs");
			return;
		}
		set_block(d, NFQ_REJECT, "QUIC ClientHello without SNI");
		return;
	}
	snprintf(d->host, sizeof(d->host), "%s", th.sni);
	if (tlsca_intercepts(cfg, th.sni)) {	/* HTTP/3 would skip the MITM */
		set_block(d, NFQ_REJECT, "QUIC to an intercepted name "
		    "(tls_interception); clients fall back to TCP");
		return;
	}
	r = scanner_check_domain(p->scanner, th.sni, SCAN_WHERE_SNI, &res);
	apply_scan(d, &res, r, cfg->enforce, NFQ_ACCEPT_FLOW);
	if (d->verdict == NFQ_ACCEPT_FLOW) {
		/* One line per allowed connection, as for TCP. */
		d->audit = 1;
		if (d->verdict_name == NULL)
			d->verdict_name = "allow";
	}
}

int
nfq_packet_parse(const uint8_t *p, size_t len, int gso,
    struct nfq_packet *pkt)
{
	size_t off, ulen;
	uint16_t sport, dport;
	uint8_t nh;
	unsigned i;

	memset(&pkt->src, 0, sizeof(pkt->src));
	memset(&pkt->dst, 0, sizeof(pkt->dst));
	if (len < 1)
		return -1;
	if ((p[0] >> 4) == 4) {
		struct sockaddr_in *s = (struct sockaddr_in *)&pkt->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&pkt->dst;
		size_t ihl = (size_t)(p[0] & 0x0f) * 4, tot;

		if (len < sizeof(struct ip) || ihl < sizeof(struct ip) ||
		    ihl > len || p[9] != IPPROTO_UDP)
			return -1;
		/* MF set or an offset: a fragment carries no whole datagram. */
		if ((p[6] & 0x3f) != 0 || p[7] != 0)
			return -1;
		tot = (size_t)p[2] << 8 | p[3];
		if (!gso && tot != len)
			return -1;
		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, p + 12, 4);
		memcpy(&d->sin_addr, p + 16, 4);
		off = ihl;
	} else if ((p[0] >> 4) == 6) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&pkt->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&pkt->dst;

		if (len < sizeof(struct ip6_hdr))
			return -1;
		if (!gso && ((size_t)p[4] << 8 | p[5]) + sizeof(struct ip6_hdr)
		    != len)
			return -1;
		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, p + 8, 16);
		memcpy(&d->sin6_addr, p + 24, 16);
		nh = p[6];
		off = sizeof(struct ip6_hdr);
		for (i = 0; nh != IPPROTO_UDP; i++) {
			if (i >= NFQ_IPV6_EXT_MAX)
				return -1;
			if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING &&
			    nh != IPPROTO_DSTOPTS)
				return -1;	/* fragment, ESP, ... */
			if (len - off < 8)
				return -1;
			nh = p[off];
			off += ((size_t)p[off + 1] + 1) * 8;
			if (off > len)
				return -1;
		}
	} else {
		return -1;
	}
	if (len - off < sizeof(struct udphdr))
		return -1;
	sport = (uint16_t)(p[off] << 8 | p[off + 1]);
	dport = (uint16_t)(p[off + 2] << 8 | p[off + 3]);
	ulen = (size_t)p[off + 4] << 8 | p[off + 5];
	if (!gso && ulen != len - off)
		return -1;
	if (pkt->src.ss_family == AF_INET) {
		((struct sockaddr_in *)&pkt->src)->sin_port = htons(sport);
		((struct sockaddr_in *)&pkt->dst)->sin_port = htons(dport);
	} else {
		((struct sockaddr_in6 *)&pkt->src)->sin6_port = htons(sport);
		((struct sockaddr_in6 *)&pkt->dst)->sin6_port = htons(dport);
	}
	pkt->payload = p + off + sizeof(struct udphdr);
	pkt->len = len - off - sizeof(struct udphdr);
	return 0;
}

void
nfq_verdict_decide(struct nfq_verdict_state *st, const struct policy *p,
    const struct nfq_packet *pkt, struct nfq_decision *d)
{
	uint16_t dport = addr_port(&pkt->dst);

	struct flow_key fk;

	memset(d, 0, sizeof(*d));
	if (nfq_killswitch != NULL && killswitch_active(nfq_killswitch)) {
		/* before the remembered flows: the switch cuts them too */
		d->event = dport == NFQ_DNS_PORT ? "dns" : "udp";
		d->scanner = "kill_switch";
		set_block(d, NFQ_REJECT, "kill_switch");
		return;
	}
	d->verdict = NFQ_ACCEPT;
	d->verdict_name = NULL;
	lists_refresh(st, p);
	flow_key_make(pkt, &fk);
	if (dport != NFQ_DNS_PORT && flow_find(st, &fk, pkt->now_ms, 0)) {
		/* A later packet of a flow allowed before. */
		d->event = "udp";
		d->verdict_name = "allow";
		return;
	}
	if (dport == NFQ_DNS_PORT) {
		nfq_decide_dns(st, p, pkt, d);
	} else if (nfq_quic_is_initial(pkt->payload, pkt->len)) {
		/* Any port: QUIC on a port other than 443 is still QUIC. */
		nfq_decide_quic(st, p, pkt, d);
	} else if (st->lists_ok && addr_in(&st->allow_ips, &pkt->dst)) {
		d->event = "udp";
	} else if (dport == NFQ_QUIC_PORT && pkt->len > 0 &&
	    (pkt->payload[0] & 0x80)) {
		d->event = "quic";
		set_block(d, NFQ_REJECT, "QUIC long header that is not a v1 "
		    "Initial (another version, or a flow not allowed first)");
	} else {
		d->event = "udp";
		set_block(d, NFQ_REJECT, "UDP to a destination not in "
		    "firewall.allow_ip_cidrs");
	}
	if (d->verdict == NFQ_ACCEPT_FLOW)
		flow_find(st, &fk, pkt->now_ms, 1);
	if (d->verdict_name == NULL)
		d->verdict_name = "allow";
}

int
nfq_verdict_dns_tcp(struct nfq_verdict_state *st, const struct policy *p,
    const struct nfq_packet *pkt, const uint8_t *buf, size_t len,
    struct nfq_decision *d)
{
	struct nfq_packet m = *pkt;
	size_t off = 0, msglen;
	int n;

	memset(d, 0, sizeof(*d));
	d->verdict = NFQ_ACCEPT;
	while (off < len) {
		if ((n = nfq_dns_tcp_frame(buf + off, len - off, &msglen)) == 0)
			break;
		if (n == -1) {
			if (off > 0)
				break;	/* forward the good frames first */
			d->event = "dns";
			d->verdict = NFQ_DROP;
			d->verdict_name = "block";
			d->audit = 1;
			snprintf(d->reason, sizeof(d->reason), "malformed DNS "
			    "over TCP: impossible length prefix");
			return -1;
		}
		m.payload = buf + off + DNS_TCP_LEN_SIZE;
		m.len = msglen;
		nfq_verdict_decide(st, p, &m, d);
		if (d->verdict != NFQ_ACCEPT) {
			if (off > 0)
				break;	/* decided again on the next call */
			return -1;
		}
		off += (size_t)n;
	}
	return (int)off;
}
