/*
 * rules_nft.h - the ruleset rendered to libnftnl objects and sent as one
 * NETLINK_NETFILTER batch; kernel probes; reading our table back.
 */
#ifndef PIPELOCK_RULES_NFT_H
#define PIPELOCK_RULES_NFT_H

#include <stddef.h>
#include <stdint.h>

#include "rules/rules_set.h"

enum rules_probe {
	RULES_PROBE_TABLES = 0,	/* nf_tables at all, CAP_NET_ADMIN */
	RULES_PROBE_ROUTE_CHAIN,/* type route output chain */
	RULES_PROBE_TPROXY,	/* nft_tproxy */
	RULES_PROBE_QUEUE,	/* nft_queue (native) */
	RULES_PROBE_XT_NFQUEUE,	/* nft_compat + xt_NFQUEUE v3 */
	RULES_PROBE_REJECT,	/* nft_reject_inet */
};

/* Human name of a probed feature ("nft tproxy expression (nft_tproxy)"). */
const char *rules_probe_name(enum rules_probe what);

/*
 * Try the feature in a batch that creates and deletes a scratch table, so
 * nothing is left either way.  0 available, else -errno.
 */
int rules_nft_probe(enum rules_probe what);

/*
 * Replace our table with rs in one batch (add, delete, add: atomic, and
 * valid whether or not the table existed).  0, or -1 with err naming the
 * rule or object the kernel refused.
 */
int rules_nft_apply(const struct rules_set *rs, char *err, size_t errlen);

/* Delete our table; 0 also when there was none.  -1 with err. */
int rules_nft_remove(char *err, size_t errlen);

/*
 * Read our table's comment (the apply record) into rec.  1 found, 0 no
 * table, -1 error.
 */
int rules_nft_record(char *rec, size_t len);

struct rules_nft_rule {
	char		chain[32];
	char		comment[64];
	uint64_t	packets;
	uint64_t	bytes;
	int		xt_target;	/* rule holds an xt target */
};

/*
 * Our table's rules as installed, in chain order.  *out is malloc'ed (free
 * it); returns the count, -1 on error.
 */
int rules_nft_rules(struct rules_nft_rule **out);

/* The u32 elements (uids/gids) of one of our sets; count or -1. */
int rules_nft_set_u32(const char *set, uint32_t *out, size_t max);

#endif
