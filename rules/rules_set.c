/*
 * rules_set.c - the `inet pipelock` ruleset as data, and its nft text.
 *
 * Shape (kernel-notes.md explains each choice):
 *   output (route, mangle): engine SO_MARK accepted first; packets of flows
 *     whose ct mark carries M get the packet mark (replies and socketless
 *     TIME_WAIT packets have no uid, so the flow's mark is matched first);
 *     then agents are selected *positively* by skuid/skgid sets.
 *   agent: DNS only to the resolvers (and inspected before the loopback
 *     exception), loopback only to loopback_ports, internal ranges refused
 *     unless allowlisted, then capture.
 *   capture: TCP -> ct mark | M, meta mark | M (policy routing sends it back
 *     in through lo); UDP -> NFQUEUE; the rest refused.
 *   NFQUEUE (nfq/nfq.h has the verdict contract): agent UDP, DNS first
 *     (before the loopback exception, so a local stub resolver's clients
 *     are judged too), is queued with the mark NFQ_MARK_QUEUED.  A verdict
 *     NF_REPEAT re-runs the output chain, whose first rules act on the
 *     verdict's mark: NFQ_MARK_REJECT -> ICMP port unreachable (the agent's
 *     resolver fails at once); NFQ_MARK_ALLOW -> saved in the ct mark and
 *     accepted, and later packets of such a flow (ct mark) skip the queue.
 *     These come before "agent-flow", whose ct mark M only TCP flows get:
 *     UDP is never steered into the TPROXY route.
 *   Fail fast with a dead engine: the queue rule always carries `bypass`.
 *     With no queue listener the kernel then *accepts* the packet for the
 *     output chain (bypass does not fall through to the next rule), so for
 *     fail_mode closed a later base chain on the same hook ("nfq-guard")
 *     rejects packets marked QUEUED that the engine did not accept
 *     (neither NFQ_MARK_ACCEPTED nor NFQ_MARK_ALLOW): an ICMP error at once
 *     instead of a timeout, never a leak.  fail_mode open has no guard:
 *     bypass lets agent UDP through unjudged, and the worker binds with
 *     NFQA_CFG_F_FAIL_OPEN (queue overflow accepts).  With the engine alive
 *     and fail_mode closed, an overflowing queue drops.
 *   firewall.dns: block rejects agent DNS (UDP and TCP) in the rules; allow
 *     still queues UDP DNS (the worker then checks only the resolver and the
 *     query's shape) and sends TCP DNS through TPROXY.
 *   refuse: TCP reset / icmpx admin-prohibited, so the sending call fails
 *     at once instead of timing out.
 *   prerouting: original-direction marked packets -> tproxy, and when no
 *     engine listens, the very next rule resets them (dead engine = fast
 *     refusal, never direct traffic).
 *   input/postrouting: the tproxy port and marked packets only via lo; a
 *     marked packet leaving by another interface (route lost) is dropped.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "rules/rules.h"
#include "rules/rules_set.h"
#include "nfq/nfq.h"

#define RESOLV_CONF	"/etc/resolv.conf"
#define DNS_PORT	53

static const struct rules_chain rules_chains[] = {
	{ "output", "route", NF_INET_LOCAL_OUT, -150 },
	{ "agent", NULL, 0, 0 },
	{ "capture", NULL, 0, 0 },
	{ "refuse", NULL, 0, 0 },
	{ "prerouting", "filter", NF_INET_PRE_ROUTING, -150 },
	{ "input", "filter", NF_INET_LOCAL_IN, 0 },
	{ "postrouting", "filter", NF_INET_POST_ROUTING, 0 },
	/* after "output" on the same hook: sees what bypass accepted there */
	{ "nfq-guard", "filter", NF_INET_LOCAL_OUT, -140 },
};

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int
rules_params_from_config(const struct config *cfg, int flags,
    struct rules_params *p, char *err, size_t errlen)
{
	const struct firewall_config *fw = &cfg->fw;
	size_t i;

	memset(p, 0, sizeof(*p));
	p->mark = fw->mark;
	p->engine_mark = fw->engine_mark;
	p->route_table = fw->route_table;
	p->rule_priority = fw->rule_priority;
	p->tproxy_port = fw->tproxy_port;
	p->queue_num = fw->queue_num;
	p->queue_total = RULES_QUEUES_OF(flags) ? RULES_QUEUES_OF(flags) : 1;
	p->ipv6 = fw->ipv6;
	p->fail_open = !fw->fail_closed;
	p->flags = flags;
	if (flags & RULES_F_NO_NFQUEUE)
		p->nfq = RULES_NFQ_NONE;
	else if (flags & RULES_F_NFQ_NATIVE)
		p->nfq = RULES_NFQ_NATIVE;
	else
		p->nfq = RULES_NFQ_XT;

	if (p->mark == 0 || p->engine_mark == 0) {
		seterr(err, errlen, "firewall.mark and engine_mark must be "
		    "non-zero bit masks");
		return -1;
	}
	if ((p->mark | p->engine_mark) & NFQ_MARK_ALL) {
		seterr(err, errlen, "firewall.mark 0x%" PRIx32 " or "
		    "engine_mark 0x%" PRIx32 " shares bits with the NFQUEUE "
		    "verdict marks 0x%08x", p->mark, p->engine_mark,
		    NFQ_MARK_ALL);
		return -1;
	}
	if ((unsigned)p->queue_num + p->queue_total > 65536) {
		seterr(err, errlen, "firewall.queue_num %u + %u queues is "
		    "beyond queue 65535", p->queue_num, p->queue_total);
		return -1;
	}
	if (p->mark & p->engine_mark) {
		seterr(err, errlen, "firewall.mark 0x%" PRIx32 " and "
		    "engine_mark 0x%" PRIx32 " share bits", p->mark,
		    p->engine_mark);
		return -1;
	}
	/* 0 = unspec, 253..255 = default/main/local: never ours to fill. */
	if (p->route_table == 0 || (p->route_table >= 253 &&
	    p->route_table <= 255)) {
		seterr(err, errlen, "firewall.route_table %" PRIu32 " is a "
		    "reserved routing table", p->route_table);
		return -1;
	}
	/* 0 is the local rule, 32766/32767 main/default. */
	if (p->rule_priority == 0 || p->rule_priority >= 32766) {
		seterr(err, errlen, "firewall.rule_priority %" PRIu32 " must "
		    "be in 1..32765 (before the main table's rule)",
		    p->rule_priority);
		return -1;
	}
	if (p->tproxy_port == 0) {
		seterr(err, errlen, "firewall.tproxy_port must be set");
		return -1;
	}
	for (i = 0; i < fw->n_agent_uids; i++)
		if (fw->agent_uids[i] == 0) {
			seterr(err, errlen, "uid 0 cannot be an agent: root "
			    "can remove any firewall");
			return -1;
		}
	for (i = 0; i < fw->n_agent_gids; i++)
		if (fw->agent_gids[i] == 0) {
			seterr(err, errlen, "gid 0 cannot be an agent group");
			return -1;
		}
	return 0;
}

/* ---------------------------------------------------------------- build */

static struct rules_rule *
rule_add(struct rules_set *rs, const char *chain, const char *comment)
{
	struct rules_rule *r, *nr;
	size_t ncap;

	if (rs->nrules == rs->cap) {
		ncap = rs->cap ? rs->cap * 2 : 32;
		if ((nr = realloc(rs->rules, ncap * sizeof(*nr))) == NULL)
			return NULL;
		rs->rules = nr;
		rs->cap = ncap;
	}
	r = &rs->rules[rs->nrules++];
	memset(r, 0, sizeof(*r));
	r->chain = chain;
	r->comment = comment;
	return r;
}

static struct rules_match *
match_add(struct rules_rule *r, enum rules_match_kind kind)
{
	struct rules_match *m = &r->m[r->nm++];

	memset(m, 0, sizeof(*m));
	m->kind = kind;
	return m;
}

static void
match_v(struct rules_rule *r, enum rules_match_kind kind, uint32_t v)
{
	match_add(r, kind)->v = v;
}

static void
verdict_jump(struct rules_rule *r, const char *target)
{
	r->verdict = RV_JUMP;
	r->target = target;
}

static void
match_l4(struct rules_rule *r, int proto)
{
	match_v(r, RM_L4PROTO, (uint32_t)proto);
}

static void
match_dport(struct rules_rule *r, int proto, uint16_t port)
{
	struct rules_match *m;

	match_l4(r, proto);
	m = match_add(r, RM_DPORT);
	m->proto = proto;
	m->v = port;
}

static void
match_ifname(struct rules_rule *r, enum rules_match_kind kind, int neg)
{
	match_add(r, kind)->neg = neg;
}

static void
match_daddr_set(struct rules_rule *r, int family, const char *set, int neg)
{
	struct rules_match *m;

	match_v(r, RM_NFPROTO, (uint32_t)family);
	m = match_add(r, RM_DADDR_SET);
	m->family = family;
	m->set = set;
	m->neg = neg;
}

static struct rules_setdef *
set_add(struct rules_set *rs, const char *name, enum rules_key key)
{
	struct rules_setdef *s = &rs->sets[rs->nsets++];

	s->name = name;
	s->key = key;
	return s;
}

static int
set_elem_add(struct rules_setdef *s, const void *key, size_t len)
{
	uint8_t (*ne)[16];
	size_t i;

	for (i = 0; i < s->n; i++)
		if (memcmp(s->elems[i], key, len) == 0)
			return 0;	/* duplicates are an error for nft */
	if ((ne = realloc(s->elems, (s->n + 1) * sizeof(*ne))) == NULL)
		return -1;
	s->elems = ne;
	memset(s->elems[s->n], 0, sizeof(s->elems[s->n]));
	memcpy(s->elems[s->n], key, len);
	s->n++;
	return 0;
}

static int
set_elem_u32(struct rules_setdef *s, uint32_t v)
{
	return set_elem_add(s, &v, sizeof(v));
}

/*
 * Parse "a.b.c.d[/n]" or "x::y[/n]" (a scope "%if" is ignored).  Host bits
 * are cleared.  0 ok, -1 bad.
 */
static int
cidr_parse(const char *s, int *family, uint8_t addr[16], uint8_t *plen)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *pct, *end;
	unsigned long n;
	int maxlen, i;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash++ = '\0';
	if ((pct = strchr(buf, '%')) != NULL)
		*pct = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = NFPROTO_IPV4;
		maxlen = 32;
	} else if (inet_pton(AF_INET6, buf, addr) == 1) {
		*family = NFPROTO_IPV6;
		maxlen = 128;
	} else
		return -1;
	n = (unsigned long)maxlen;
	if (slash != NULL) {
		errno = 0;
		n = strtoul(slash, &end, 10);
		if (errno != 0 || *slash == '\0' || *end != '\0' ||
		    n > (unsigned long)maxlen)
			return -1;
	}
	*plen = (uint8_t)n;
	for (i = 0; i < maxlen / 8; i++) {
		int keep = (int)n - i * 8;

		if (keep >= 8)
			continue;
		addr[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
	}
	return 0;
}

/* Resolvers of /etc/resolv.conf (the namespace's, under ip netns exec). */
static int
resolv_conf_read(struct rules_setdef *dns4, struct rules_setdef *dns6)
{
	char line[512], word[64], addr[64];	/* a longer word is no address */
	uint8_t a[16], plen;
	int family;
	FILE *f;

	if ((f = fopen(RESOLV_CONF, "r")) == NULL)
		return 0;	/* no resolver: DNS refused everywhere */
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%63s %63s", word, addr) != 2 ||
		    strcmp(word, "nameserver") != 0)
			continue;
		if (cidr_parse(addr, &family, a, &plen) == -1 ||
		    plen != (family == NFPROTO_IPV4 ? 32 : 128))
			continue;
		if (set_elem_add(family == NFPROTO_IPV4 ? dns4 : dns6, a,
		    family == NFPROTO_IPV4 ? 4 : 16) == -1) {
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

static int
build_sets(struct rules_set *rs, const struct config *cfg, char *err,
    size_t errlen)
{
	const struct firewall_config *fw = &cfg->fw;
	struct rules_setdef *uids, *gids, *dns4, *dns6, *ports;
	uint8_t a[16], plen;
	int family;
	size_t i;

	uids = set_add(rs, "agent_uids", RULES_KEY_UID);
	gids = set_add(rs, "agent_gids", RULES_KEY_GID);
	dns4 = set_add(rs, "dns4", RULES_KEY_IPV4);
	dns6 = set_add(rs, "dns6", RULES_KEY_IPV6);
	ports = set_add(rs, "loopback_ports", RULES_KEY_PORT);
	for (i = 0; i < fw->n_agent_uids; i++)
		if (set_elem_u32(uids, (uint32_t)fw->agent_uids[i]) == -1)
			goto nomem;
	for (i = 0; i < fw->n_agent_gids; i++)
		if (set_elem_u32(gids, (uint32_t)fw->agent_gids[i]) == -1)
			goto nomem;
	for (i = 0; i < fw->dns_servers.n; i++) {
		if (cidr_parse(fw->dns_servers.v[i], &family, a, &plen) == -1 ||
		    plen != (family == NFPROTO_IPV4 ? 32 : 128)) {
			seterr(err, errlen, "firewall.dns_servers: `%s' is not "
			    "an IP address", fw->dns_servers.v[i]);
			return -1;
		}
		if (set_elem_add(family == NFPROTO_IPV4 ? dns4 : dns6, a,
		    family == NFPROTO_IPV4 ? 4 : 16) == -1)
			goto nomem;
	}
	if (fw->dns_servers.n == 0 && resolv_conf_read(dns4, dns6) == -1)
		goto nomem;
	for (i = 0; i < fw->n_loopback_ports; i++) {
		/* inet_service: network byte order in the key */
		uint16_t be = htons(fw->loopback_ports[i]);

		if (set_elem_add(ports, &be, sizeof(be)) == -1)
			goto nomem;
	}
	return 0;
nomem:
	seterr(err, errlen, "out of memory");
	return -1;
}

/* One rule per CIDR of a list, jumping to target. */
static int
build_cidr_rules(struct rules_set *rs, const struct strlist *l,
    const char *what, const char *target, const char *comment, char *err,
    size_t errlen)
{
	struct rules_rule *r;
	struct rules_match *m;
	uint8_t a[16], plen;
	int family;
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (cidr_parse(l->v[i], &family, a, &plen) == -1) {
			seterr(err, errlen, "%s: `%s' is not a CIDR", what,
			    l->v[i]);
			return -1;
		}
		if (family == NFPROTO_IPV6 && !rs->p.ipv6)
			continue;	/* all agent IPv6 is refused anyway */
		if ((r = rule_add(rs, "agent", comment)) == NULL)
			goto nomem;
		match_v(r, RM_NFPROTO, (uint32_t)family);
		m = match_add(r, RM_DADDR_PREFIX);
		m->family = family;
		memcpy(m->addr, a, sizeof(m->addr));
		m->plen = plen;
		verdict_jump(r, target);
	}
	return 0;
nomem:
	seterr(err, errlen, "out of memory");
	return -1;
}

#define ADD(chain, comment)						\
	do {								\
		if ((r = rule_add(rs, (chain), (comment))) == NULL)	\
			goto nomem;					\
	} while (0)

/* The port of kill_switch.api_listen ("host:port"), 0 when unset. */
static uint16_t
killswitch_api_port(const struct config *cfg)
{
	const char *c = cfg->kill_switch.api_listen;
	char *end;
	unsigned long v;

	if (c == NULL || (c = strrchr(c, ':')) == NULL)
		return 0;
	v = strtoul(c + 1, &end, 10);
	return *end == '\0' && v <= 65535 ? (uint16_t)v : 0;
}

struct rules_set *
rules_set_build(const struct config *cfg, const struct rules_params *p,
    char *err, size_t errlen)
{
	const struct firewall_config *fw = &cfg->fw;
	struct rules_set *rs;
	struct rules_rule *r;
	int fam, i;

	if ((rs = calloc(1, sizeof(*rs))) == NULL)
		goto nomem;
	rs->p = *p;
	rs->chains = rules_chains;
	rs->nchains = sizeof(rules_chains) / sizeof(rules_chains[0]);
	if (build_sets(rs, cfg, err, errlen) == -1)
		goto fail;

	/* output: engine first, then flows already ours, then agents */
	ADD("output", "engine");
	match_v(r, RM_MARK, p->engine_mark);
	r->verdict = RV_ACCEPT;
	if (p->nfq != RULES_NFQ_NONE) {
		/* verdicts re-run this chain (NF_REPEAT): act on their mark */
		ADD("output", "nfq-reject");
		match_v(r, RM_MARK, NFQ_MARK_REJECT);
		r->verdict = RV_REJECT_PORT;
		ADD("output", "nfq-allow");
		match_v(r, RM_MARK, NFQ_MARK_ALLOW);
		r->verdict = RV_CTMARK_ACCEPT;
		r->mark = NFQ_MARK_ALLOW;
		ADD("output", "nfq-flow");
		match_l4(r, IPPROTO_UDP);
		match_v(r, RM_CTMARK, NFQ_MARK_ALLOW);
		r->verdict = RV_ACCEPT;
	}
	ADD("output", "agent-flow");
	match_v(r, RM_CTMARK, p->mark);
	r->verdict = RV_MARK_ACCEPT;
	ADD("output", "agent-uid");
	match_add(r, RM_SKUID_SET)->set = "agent_uids";
	verdict_jump(r, "agent");
	ADD("output", "agent-gid");
	match_add(r, RM_SKGID_SET)->set = "agent_gids";
	verdict_jump(r, "agent");

	/* agent */
	if (!p->ipv6) {
		ADD("agent", "no-ipv6");
		match_v(r, RM_NFPROTO, NFPROTO_IPV6);
		verdict_jump(r, "refuse");
	}
	/* the kill switch API is never the agent's, even in loopback_ports */
	if (killswitch_api_port(cfg) != 0) {
		ADD("agent", "killswitch-api");
		match_ifname(r, RM_OIFNAME, 0);
		match_dport(r, IPPROTO_TCP, killswitch_api_port(cfg));
		verdict_jump(r, "refuse");
	}
	for (i = 0; fw->dns == FW_DNS_BLOCK && i < 2; i++) {
		ADD("agent", "dns-block");
		match_dport(r, i == 0 ? IPPROTO_TCP : IPPROTO_UDP, DNS_PORT);
		verdict_jump(r, "refuse");
	}
	for (fam = NFPROTO_IPV4; fw->dns != FW_DNS_BLOCK && fam <= NFPROTO_IPV6;
	    fam += NFPROTO_IPV6 - NFPROTO_IPV4) {
		int proto;

		if (fam == NFPROTO_IPV6 && !p->ipv6)
			break;
		for (proto = IPPROTO_TCP; proto <= IPPROTO_UDP; proto +=
		    IPPROTO_UDP - IPPROTO_TCP) {
			ADD("agent", "dns-not-resolver");
			match_dport(r, proto, DNS_PORT);
			match_daddr_set(r, fam, fam == NFPROTO_IPV4 ? "dns4" :
			    "dns6", 1);
			verdict_jump(r, "refuse");
		}
	}
	/* DNS before the loopback exception: a local stub is inspected too */
	if (fw->dns != FW_DNS_BLOCK) {
		ADD("agent", "dns-tcp");
		match_dport(r, IPPROTO_TCP, DNS_PORT);
		r->verdict = RV_CAPTURE;
	}
	if (p->nfq != RULES_NFQ_NONE && fw->dns != FW_DNS_BLOCK) {
		ADD("agent", "dns-udp");
		match_dport(r, IPPROTO_UDP, DNS_PORT);
		r->verdict = RV_QUEUE;
	}
	if (fw->loopback_all) {
		ADD("agent", "loopback");
		match_ifname(r, RM_OIFNAME, 0);
		r->verdict = RV_ACCEPT;
	} else if (fw->n_loopback_ports > 0) {
		for (i = 0; i < 2; i++) {
			int proto = i == 0 ? IPPROTO_TCP : IPPROTO_UDP;
			struct rules_match *m;

			ADD("agent", "loopback-port");
			match_ifname(r, RM_OIFNAME, 0);
			match_l4(r, proto);
			m = match_add(r, RM_DPORT_SET);
			m->set = "loopback_ports";
			m->proto = proto;
			r->verdict = RV_ACCEPT;
		}
	}
	ADD("agent", "loopback-other");
	match_ifname(r, RM_OIFNAME, 0);
	verdict_jump(r, "refuse");
	if (build_cidr_rules(rs, &cfg->scanner.ssrf_ip_allowlist,
	    "ssrf.ip_allowlist", "capture", "ssrf-allow", err, errlen) == -1 ||
	    build_cidr_rules(rs, &cfg->scanner.internal, "internal", "refuse",
	    "internal", err, errlen) == -1)
		goto fail;
	ADD("agent", "capture");
	verdict_jump(r, "capture");

	/* capture: every chain that jumps here ends here */
	ADD("capture", "tcp");
	match_l4(r, IPPROTO_TCP);
	r->verdict = RV_CAPTURE;
	if (p->nfq != RULES_NFQ_NONE) {
		ADD("capture", "udp");
		match_l4(r, IPPROTO_UDP);
		r->verdict = RV_QUEUE;
	}
	ADD("capture", "other");
	verdict_jump(r, "refuse");

	ADD("refuse", "refuse-tcp");
	match_l4(r, IPPROTO_TCP);
	r->verdict = RV_REJECT_TCP;
	ADD("refuse", "refuse");
	r->verdict = RV_REJECT_ICMPX;

	/* prerouting: hand marked flows to the engine, or reset them */
	for (i = 0; i < 2; i++) {
		ADD("prerouting", i == 0 ? "tproxy" : "engine-down");
		match_ifname(r, RM_IIFNAME, 0);
		match_l4(r, IPPROTO_TCP);
		match_add(r, RM_CTDIR_ORIG);
		match_v(r, RM_MARK, p->mark);
		r->verdict = i == 0 ? RV_TPROXY : RV_REJECT_TCP;
	}

	ADD("input", "port-lo-only");
	match_ifname(r, RM_IIFNAME, 1);
	match_dport(r, IPPROTO_TCP, p->tproxy_port);
	r->verdict = RV_DROP;
	ADD("input", "mark-lo-only");
	match_ifname(r, RM_IIFNAME, 1);
	match_v(r, RM_MARK, p->mark);
	r->verdict = RV_DROP;

	ADD("postrouting", "guard");
	match_ifname(r, RM_OIFNAME, 1);
	match_v(r, RM_MARK, p->mark);
	r->verdict = RV_DROP;

	/* fail-closed: what the queue's bypass accepted with no engine */
	if (p->nfq != RULES_NFQ_NONE && !p->fail_open) {
		ADD("nfq-guard", "engine-down-udp");
		match_v(r, RM_MARK, NFQ_MARK_QUEUED);
		match_add(r, RM_MARK)->v = NFQ_MARK_ACCEPTED | NFQ_MARK_ALLOW;
		r->m[r->nm - 1].neg = 1;
		r->verdict = RV_REJECT_PORT;
	}
	return rs;
nomem:
	seterr(err, errlen, "out of memory");
fail:
	rules_set_free(rs);
	return NULL;
}

#undef ADD

void
rules_set_free(struct rules_set *rs)
{
	size_t i;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->nsets; i++)
		free(rs->sets[i].elems);
	free(rs->rules);
	free(rs);
}

/* --------------------------------------------------------------- render */

struct sbuf {
	char	*p;
	size_t	 len;
	size_t	 off;
};

static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->off >= b->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->off, b->len - b->off, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->off += (size_t)n;
	if (b->off >= b->len)
		b->off = b->len - 1;
}

static const char *
proto_name(int proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" :
	    "th";
}

static const char *
family_name(int family)
{
	return family == NFPROTO_IPV6 ? "ip6" : "ip";
}

static void
match_render(const struct rules_match *m, struct sbuf *b)
{
	char a[INET6_ADDRSTRLEN];
	const char *ne = m->neg ? "!= " : "";

	switch (m->kind) {
	case RM_NFPROTO:
		sb_printf(b, "meta nfproto %s", m->v == NFPROTO_IPV6 ?
		    "ipv6" : "ipv4");
		break;
	case RM_L4PROTO:
		sb_printf(b, "meta l4proto %s", proto_name((int)m->v));
		break;
	case RM_DPORT:
		sb_printf(b, "%s dport %s%" PRIu32, proto_name(m->proto), ne,
		    m->v);
		break;
	case RM_DPORT_SET:
		sb_printf(b, "%s dport %s@%s", proto_name(m->proto), ne,
		    m->set);
		break;
	case RM_MARK:
	case RM_CTMARK:
		sb_printf(b, "%s mark & 0x%08" PRIx32 " == 0x%08" PRIx32,
		    m->kind == RM_MARK ? "meta" : "ct", m->v, m->neg ? 0 : m->v);
		break;
	case RM_CTDIR_ORIG:
		sb_printf(b, "ct direction original");
		break;
	case RM_IIFNAME:
		sb_printf(b, "iifname %s\"lo\"", ne);
		break;
	case RM_OIFNAME:
		sb_printf(b, "oifname %s\"lo\"", ne);
		break;
	case RM_SKUID_SET:
		sb_printf(b, "meta skuid %s@%s", ne, m->set);
		break;
	case RM_SKGID_SET:
		sb_printf(b, "meta skgid %s@%s", ne, m->set);
		break;
	case RM_DADDR_SET:
		sb_printf(b, "%s daddr %s@%s", family_name(m->family), ne,
		    m->set);
		break;
	case RM_DADDR_PREFIX:
		inet_ntop(m->family == NFPROTO_IPV6 ? AF_INET6 : AF_INET,
		    m->addr, a, sizeof(a));
		sb_printf(b, "%s daddr %s%s/%u", family_name(m->family), ne, a,
		    m->plen);
		break;
	}
}

static void
verdict_render(const struct rules_set *rs, const struct rules_rule *r,
    struct sbuf *b)
{
	const struct rules_params *p = &rs->p;
	char q[32];

	if (p->queue_total > 1)
		snprintf(q, sizeof(q), "%u-%u", p->queue_num,
		    p->queue_num + p->queue_total - 1);
	else
		snprintf(q, sizeof(q), "%u", p->queue_num);
	switch (r->verdict) {
	case RV_ACCEPT:
		sb_printf(b, "accept");
		break;
	case RV_DROP:
		sb_printf(b, "drop");
		break;
	case RV_JUMP:
		sb_printf(b, "jump %s", r->target);
		break;
	case RV_REJECT_TCP:
		sb_printf(b, "reject with tcp reset");
		break;
	case RV_REJECT_ICMPX:
		sb_printf(b, "reject with icmpx admin-prohibited");
		break;
	case RV_CAPTURE:
		sb_printf(b, "ct mark set ct mark | 0x%08" PRIx32 " meta mark "
		    "set meta mark | 0x%08" PRIx32 " accept", p->mark, p->mark);
		break;
	case RV_MARK_ACCEPT:
		sb_printf(b, "meta mark set meta mark | 0x%08" PRIx32
		    " accept", p->mark);
		break;
	case RV_TPROXY:
		sb_printf(b, "tproxy to :%u meta mark set meta mark | 0x%08"
		    PRIx32 " accept", p->tproxy_port, p->mark);
		break;
	case RV_QUEUE:
		/*
		 * A range: the kernel hashes the address pair (no fanout),
		 * so one QUIC handshake stays with one worker.
		 */
		sb_printf(b, "meta mark set meta mark | 0x%08x queue num %s "
		    "bypass", NFQ_MARK_QUEUED, q);
		break;
	case RV_REJECT_PORT:
		sb_printf(b, "reject with icmpx port-unreachable");
		break;
	case RV_CTMARK_ACCEPT:
		sb_printf(b, "ct mark set ct mark | 0x%08" PRIx32 " accept",
		    r->mark);
		break;
	}
}

void
rules_rule_render(const struct rules_set *rs, const struct rules_rule *r,
    char *buf, size_t len)
{
	struct sbuf b = { buf, len, 0 };
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < r->nm; i++) {
		match_render(&r->m[i], &b);
		sb_printf(&b, " ");
	}
	sb_printf(&b, "counter ");
	verdict_render(rs, r, &b);
	if (r->comment != NULL)
		sb_printf(&b, " comment \"%s\"", r->comment);
}

static const char *
key_type_name(enum rules_key k)
{
	switch (k) {
	case RULES_KEY_UID:
		return "uid";
	case RULES_KEY_GID:
		return "gid";
	case RULES_KEY_IPV4:
		return "ipv4_addr";
	case RULES_KEY_IPV6:
		return "ipv6_addr";
	case RULES_KEY_PORT:
		return "inet_service";
	}
	return "integer";
}

static void
elem_render(enum rules_key k, const uint8_t *e, FILE *out)
{
	char a[INET6_ADDRSTRLEN];
	uint32_t u;
	uint16_t port;

	switch (k) {
	case RULES_KEY_UID:
	case RULES_KEY_GID:
		memcpy(&u, e, sizeof(u));
		fprintf(out, "%" PRIu32, u);
		break;
	case RULES_KEY_IPV4:
	case RULES_KEY_IPV6:
		inet_ntop(k == RULES_KEY_IPV4 ? AF_INET : AF_INET6, e, a,
		    sizeof(a));
		fputs(a, out);
		break;
	case RULES_KEY_PORT:
		memcpy(&port, e, sizeof(port));
		fprintf(out, "%u", ntohs(port));
		break;
	}
}

static const char *
hook_name(int hook)
{
	switch (hook) {
	case NF_INET_PRE_ROUTING:
		return "prerouting";
	case NF_INET_LOCAL_IN:
		return "input";
	case NF_INET_FORWARD:
		return "forward";
	case NF_INET_LOCAL_OUT:
		return "output";
	default:
		return "postrouting";
	}
}

void
rules_set_render(const struct rules_set *rs, FILE *out)
{
	char rec[RULES_RECORD_MAX], line[1024];
	size_t c, i, j;

	rules_params_record(&rs->p, rec, sizeof(rec));
	fprintf(out, "table inet %s {\n\tcomment \"%s\"\n", RULES_TABLE_NAME,
	    rec);
	for (i = 0; i < rs->nsets; i++) {
		const struct rules_setdef *s = &rs->sets[i];

		fprintf(out, "\n\tset %s {\n\t\ttype %s\n", s->name,
		    key_type_name(s->key));
		if (s->n > 0) {
			fprintf(out, "\t\telements = { ");
			for (j = 0; j < s->n; j++) {
				if (j > 0)
					fprintf(out, ", ");
				elem_render(s->key, s->elems[j], out);
			}
			fprintf(out, " }\n");
		}
		fprintf(out, "\t}\n");
	}
	for (c = 0; c < rs->nchains; c++) {
		const struct rules_chain *ch = &rs->chains[c];

		fprintf(out, "\n\tchain %s {\n", ch->name);
		if (ch->type != NULL)
			fprintf(out, "\t\ttype %s hook %s priority %d; "
			    "policy accept;\n", ch->type, hook_name(ch->hook),
			    ch->prio);
		for (i = 0; i < rs->nrules; i++) {
			const struct rules_rule *r = &rs->rules[i];

			if (strcmp(r->chain, ch->name) != 0)
				continue;
			rules_rule_render(rs, r, line, sizeof(line));
			if (r->verdict == RV_QUEUE &&
			    rs->p.nfq == RULES_NFQ_XT) {
				/* nft's language has no xt target */
				fprintf(out, "\t\t# installed as the xt NFQUEUE"
				    " target (rev 3, nft_compat): not "
				    "expressible in nft text; native form:\n");
				fprintf(out, "\t\t# %s\n", line);
				continue;
			}
			fprintf(out, "\t\t%s\n", line);
		}
		fprintf(out, "\t}\n");
	}
	fprintf(out, "}\n");
}

void
rules_routes_render(const struct rules_params *p, const char *prefix,
    FILE *out)
{
	int v6;

	for (v6 = 0; v6 <= p->ipv6; v6++) {
		const char *f = v6 ? "-6 " : "";

		fprintf(out, "%sip %sroute add local %s dev lo table %" PRIu32
		    " proto %d\n", prefix, f, v6 ? "::/0" : "0.0.0.0/0",
		    p->route_table, RULES_PROTO_ID);
		fprintf(out, "%sip %srule add fwmark 0x%" PRIx32 "/0x%" PRIx32
		    " lookup %" PRIu32 " priority %" PRIu32 " protocol %d\n",
		    prefix, f,
		    p->mark, p->mark, p->route_table, p->rule_priority,
		    RULES_PROTO_ID);
	}
}

static const char *
nfq_name(enum rules_nfq n)
{
	return n == RULES_NFQ_NATIVE ? "native" : n == RULES_NFQ_XT ? "xt" :
	    "none";
}

void
rules_params_record(const struct rules_params *p, char *buf, size_t len)
{
	/* nft text caps comments at 128 bytes: keep the keys short */
	snprintf(buf, len, "pipelock-fw 1 mark=0x%" PRIx32 " emark=0x%" PRIx32
	    " table=%" PRIu32 " prio=%" PRIu32 " port=%u q=%u/%u nfq=%s "
	    "open=%d v6=%d flags=0x%x", p->mark, p->engine_mark,
	    p->route_table, p->rule_priority, p->tproxy_port, p->queue_num,
	    p->queue_total, nfq_name(p->nfq), p->fail_open, p->ipv6,
	    (unsigned)p->flags);
}

int
rules_params_parse(const char *rec, struct rules_params *p)
{
	char nfq[16], key[8];
	unsigned port, qn, qt, flags;
	int n;

	memset(p, 0, sizeof(*p));
	n = sscanf(rec, "pipelock-fw 1 mark=0x%" SCNx32 " emark=0x%" SCNx32
	    " table=%" SCNu32 " prio=%" SCNu32 " port=%u q=%u/%u nfq=%15s "
	    "%7[a-z]=%d v6=%d flags=0x%x", &p->mark, &p->engine_mark,
	    &p->route_table, &p->rule_priority, &port, &qn, &qt, nfq, key,
	    &p->fail_open, &p->ipv6, &flags);
	/* "bypass=": records of versions whose queue was bypass-iff-open */
	if (n != 12 || (strcmp(key, "open") != 0 && strcmp(key, "bypass") !=
	    0) || port > 65535 || qn > 65535 || qt > 65535)
		return -1;
	p->tproxy_port = (uint16_t)port;
	p->queue_num = (uint16_t)qn;
	p->queue_total = (uint16_t)qt;
	p->flags = (int)flags;
	p->nfq = strcmp(nfq, "native") == 0 ? RULES_NFQ_NATIVE :
	    strcmp(nfq, "xt") == 0 ? RULES_NFQ_XT : RULES_NFQ_NONE;
	return 0;
}
