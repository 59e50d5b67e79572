/*
 * rules_set.h - the ruleset as data: chains, sets and a list of small rule
 * descriptions (matches + one verdict), built once from the config and
 * rendered both as nft text (rules_set_render) and as libnftnl expressions
 * (rules_nft.c).  Keeping one description is what makes --dry-run, status
 * and `generate nftables` show exactly what apply installs.
 */
#ifndef PIPELOCK_RULES_SET_H
#define PIPELOCK_RULES_SET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct config;

#define RULES_MAX_MATCH		6
#define RULES_MAX_SETS		8
#define RULES_RECORD_MAX	128	/* nft text: comments <= 128 bytes */
#define RULES_PROTO_ID		0x50	/* rtm_protocol/FRA_PROTOCOL of our routes */

enum rules_nfq {
	RULES_NFQ_NONE = 0,	/* agent UDP rejected */
	RULES_NFQ_NATIVE,	/* nft `queue` expression (nft_queue) */
	RULES_NFQ_XT,		/* xt NFQUEUE v3 target through nft_compat */
};

/* What one apply installed; also serialised into the table comment. */
struct rules_params {
	uint32_t	mark;
	uint32_t	engine_mark;
	uint32_t	route_table;
	uint32_t	rule_priority;
	uint16_t	tproxy_port;
	uint16_t	queue_num;
	uint16_t	queue_total;
	int		ipv6;		/* IPv6 captured (else agent IPv6 rejected) */
	enum rules_nfq	nfq;
	int		fail_open;	/* fail_mode open: no guard chain,
					   FAIL_OPEN queue */
	int		flags;		/* enum rules_flags of the apply */
};

enum rules_key {
	RULES_KEY_UID = 0,
	RULES_KEY_GID,
	RULES_KEY_IPV4,
	RULES_KEY_IPV6,
	RULES_KEY_PORT,
};

struct rules_setdef {
	const char	*name;
	enum rules_key	 key;
	uint8_t		(*elems)[16];	/* key bytes as the kernel compares them */
	size_t		 n;
};

enum rules_match_kind {
	RM_NFPROTO = 0,		/* v: NFPROTO_IPV4 | NFPROTO_IPV6 */
	RM_L4PROTO,		/* v: IPPROTO_* */
	RM_DPORT,		/* v: port; proto: IPPROTO_* for the text */
	RM_DPORT_SET,		/* set; proto */
	RM_MARK,		/* meta mark & v == v (neg: == 0) */
	RM_CTMARK,		/* ct mark & v == v (neg: == 0) */
	RM_CTDIR_ORIG,		/* ct direction original */
	RM_IIFNAME,		/* iifname [!=] "lo" */
	RM_OIFNAME,		/* oifname [!=] "lo" */
	RM_SKUID_SET,
	RM_SKGID_SET,
	RM_DADDR_SET,		/* family + set */
	RM_DADDR_PREFIX,	/* family + addr/plen */
};

struct rules_match {
	enum rules_match_kind kind;
	int		 neg;
	uint32_t	 v;
	int		 proto;
	int		 family;	/* NFPROTO_IPV4 | NFPROTO_IPV6 */
	const char	*set;
	uint8_t		 addr[16];
	uint8_t		 plen;
};

enum rules_verdict {
	RV_ACCEPT = 0,
	RV_DROP,
	RV_JUMP,		/* target */
	RV_REJECT_TCP,		/* reject with tcp reset */
	RV_REJECT_ICMPX,	/* reject with icmpx admin-prohibited */
	RV_CAPTURE,		/* ct mark |= M, meta mark |= M, accept */
	RV_MARK_ACCEPT,		/* meta mark |= M, accept */
	RV_TPROXY,		/* tproxy to :port, meta mark |= M, accept */
	RV_QUEUE,		/* meta mark |= NFQ_MARK_QUEUED, NFQUEUE in the
				   form params.nfq says, always `bypass` */
	RV_REJECT_PORT,		/* reject with icmpx port-unreachable */
	RV_CTMARK_ACCEPT,	/* ct mark |= rule.mark, accept */
};

struct rules_rule {
	const char	*chain;
	struct rules_match m[RULES_MAX_MATCH];
	size_t		 nm;
	enum rules_verdict verdict;
	const char	*target;	/* RV_JUMP */
	uint32_t	 mark;		/* RV_CTMARK_ACCEPT */
	const char	*comment;	/* stable id, shown by status */
};

struct rules_chain {
	const char	*name;
	const char	*type;		/* NULL: regular chain */
	int		 hook;		/* NF_INET_* */
	int		 prio;
};

struct rules_set {
	struct rules_params p;
	const struct rules_chain *chains;
	size_t		 nchains;
	struct rules_setdef sets[RULES_MAX_SETS];
	size_t		 nsets;
	struct rules_rule *rules;
	size_t		 nrules;
	size_t		 cap;
};

/*
 * Fill params from cfg and flags (no kernel access; nfq is the form the
 * flags force, xt when none is forced, none with RULES_F_NO_NFQUEUE).  0,
 * or -1 with err set when the config cannot be expressed (uid 0 as agent,
 * bad CIDR, marks overlapping the NFQUEUE verdict bits).
 */
int rules_params_from_config(const struct config *cfg, int flags,
    struct rules_params *p, char *err, size_t errlen);

/*
 * Build the ruleset for cfg under params p.  Returns a new set (free with
 * rules_set_free) or NULL with err set.
 */
struct rules_set *rules_set_build(const struct config *cfg,
    const struct rules_params *p, char *err, size_t errlen);
void rules_set_free(struct rules_set *rs);

/* The table as an nft script (`nft -f` loadable unless the xt form). */
void rules_set_render(const struct rules_set *rs, FILE *out);
/* One rule's nft text (no chain, no newline) into buf. */
void rules_rule_render(const struct rules_set *rs, const struct rules_rule *r,
    char *buf, size_t len);

/* The policy routing, as `ip` commands each preceded by prefix. */
void rules_routes_render(const struct rules_params *p, const char *prefix,
    FILE *out);

/* The table comment recording params, and its parser (0 ok, -1 not ours). */
void rules_params_record(const struct rules_params *p, char *buf, size_t len);
int rules_params_parse(const char *rec, struct rules_params *p);

#endif
