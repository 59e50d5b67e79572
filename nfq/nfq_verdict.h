/*
 * nfq_verdict.h - what to do with one agent UDP datagram.
 *
 * Separated from the netlink worker so the whole decision table (DNS
 * shape, resolver, scanner, budget; QUIC mode and SNI; other UDP) runs in
 * unit tests without a kernel.  No I/O and no logging here: the worker
 * sends the verdict and writes the audit line from struct nfq_decision.
 *
 * Per-agent DNS budget: at most NFQ_DNS_BUDGET_NAMES distinct question
 * names under one registrable domain per NFQ_DNS_BUDGET_WINDOW_MS and agent
 * uid; repeats of a name already counted stay allowed.  The registrable
 * domain is approximated without the Public Suffix List: the last two
 * labels, or the last three when the last two look like a public suffix
 * (a known multi-label suffix such as co.uk or com.au, or a two-letter
 * country TLD under a short generic second level: co, com, net, org, gov,
 * edu, ac, or, ne, go).  Misses (e.g. names under cloud provider suffixes)
 * only make the budget coarser.  The table holds NFQ_DNS_BUDGET_ENTRIES
 * (uid, domain) entries, 4-way set associative with LRU per set, keyed
 * by a per-process random hash so an agent cannot aim evictions.
 *
 * Allowed QUIC flows (5-tuple) are also remembered here, NFQ_FLOWS_MAX of
 * them, idle for at most NFQ_FLOW_IDLE_MS, so their later packets pass even
 * when the ruleset's conntrack-mark exemption is missing or conntrack
 * dropped the flow.
 */
#ifndef PIPELOCK_NFQ_VERDICT_H
#define PIPELOCK_NFQ_VERDICT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "scanner/scanner.h"
#include "nfq/nfq_dns.h"
#include "nfq/nfq_quic.h"
#include "tproxy/tproxy_tls.h"

struct policy;

#define NFQ_DNS_PORT			53
#define NFQ_QUIC_PORT			443
#define NFQ_DNS_BUDGET_NAMES		64
#define NFQ_DNS_BUDGET_WINDOW_MS	60000
#define NFQ_DNS_BUDGET_ENTRIES		4096
#define NFQ_DNS_BUDGET_WAYS		4
#define NFQ_ADDR_STR_MAX		64	/* "[v6]:port" */
#define NFQ_IPV6_EXT_MAX		8	/* extension headers walked */
#define NFQ_FLOWS_MAX			1024	/* allowed QUIC flows remembered */
#define NFQ_FLOW_WAYS			4
#define NFQ_FLOW_IDLE_MS		60000

enum nfq_verdict {
	NFQ_ACCEPT = 0,		/* NF_ACCEPT */
	NFQ_ACCEPT_FLOW,	/* NF_REPEAT, mark |= NFQ_MARK_ALLOW (flow) */
	NFQ_DROP,		/* NF_DROP: silent (malformed, incomplete) */
	NFQ_REJECT,		/* NF_REPEAT, mark |= NFQ_MARK_REJECT */
	NFQ_HOLD,		/* no verdict yet: the ClientHello continues */
};

/* One datagram, as the worker parsed it from the queued packet. */
struct nfq_packet {
	struct sockaddr_storage	 src, dst;	/* family + address + port */
	long long		 uid, gid;	/* -1: unknown */
	const uint8_t		*payload;	/* UDP payload */
	size_t			 len;
	uint64_t		 now_ms;	/* monotonic */
};

struct nfq_decision {
	enum nfq_verdict	 verdict;
	int			 audit;		/* 1: write an audit line */
	int			 warn_only;	/* blocked by policy, not enforced */
	const char		*event;		/* "dns" | "quic" | "udp" */
	const char		*verdict_name;	/* "allow" | "block" | "warn" */
	char			 reason[SCAN_REASON_MAX];
	char			 host[TLS_SNI_MAX + 1];	/* qname or SNI */
	char			 qtype[16];
	const char		*scanner;	/* finding's scanner label */
	const char		*pattern;
	char			 redacted[SCAN_REDACTED_MAX];
	char			 alpn[TLS_ALPN_MAX + 1];
	int			 ech;
	/*
	 * A QUIC Initial: its connection's DCID, so the worker can give the
	 * packets it holds for that connection this decision too.
	 */
	uint8_t			 quic_dcid[QUIC_CID_MAX];
	uint8_t			 quic_dcid_len;
};

struct nfq_verdict_state;

/*
 * Fill pkt->src, dst and payload/len from a queued IPv4 or IPv6 packet
 * (pure).  Returns 0, or -1 when it is not one whole UDP datagram: not UDP,
 * a fragment, more than NFQ_IPV6_EXT_MAX extension headers, or IP/UDP
 * lengths that disagree with len.  gso: a GSO skb (NFQA_SKB_GSO) holding
 * several segments, whose length fields need not match len: not checked.
 */
int nfq_packet_parse(const uint8_t *p, size_t len, int gso,
    struct nfq_packet *pkt);

/*
 * The engine's kill switch: while it is active every datagram is refused
 * with reason kill_switch, allowed flows included.  Set once before the
 * workers start (NULL: none).
 */
struct killswitch;
void nfq_verdict_set_killswitch(const struct killswitch *ks);

/* Budget table + QUIC reassembly table; NULL on allocation failure. */
struct nfq_verdict_state *nfq_verdict_new(void);
void nfq_verdict_free(struct nfq_verdict_state *st);

/*
 * Decide pkt under policy p (borrowed).  Always fills d; never fails: an
 * internal error (out of memory, scanner error) blocks.
 */
void nfq_verdict_decide(struct nfq_verdict_state *st, const struct policy *p,
    const struct nfq_packet *pkt, struct nfq_decision *d);

/*
 * DNS over TCP (port 53, which the ruleset sends through the TPROXY path):
 * judge the agent's byte stream frame by frame, each message exactly like
 * a UDP query (nfq_verdict_decide: resolver, shape, scanner, budget).  buf
 * holds the client bytes not yet forwarded, starting at a frame; pkt gives
 * the connection's addresses, uid/gid and now_ms (its payload is ignored).
 * Returns the length of the whole, allowed frames at the start of buf
 * (> 0: forward them, then call again with the rest), 0 when the first
 * frame is incomplete (read more; the caller must be able to hold
 * NFQ_DNS_TCP_HOLD_MAX bytes), or -1 when the first frame is refused or
 * malformed: d says why, nothing of it may be forwarded, and the caller
 * ends the connection.  Pure apart from st (the budget).
 */
#define NFQ_DNS_TCP_HOLD_MAX		(2 + 65535)
int nfq_verdict_dns_tcp(struct nfq_verdict_state *st, const struct policy *p,
    const struct nfq_packet *pkt, const uint8_t *buf, size_t len,
    struct nfq_decision *d);

/*
 * The registrable domain of a lowercase dotted name (see above): a pointer
 * into name.  Exposed for tests.
 */
const char *nfq_verdict_regdomain(const char *name);

#endif
