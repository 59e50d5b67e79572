/*
 * rules_route.h - the policy routing half of the firewall, over rtnetlink:
 * `ip rule fwmark M/M lookup T priority P` and `local default dev lo` in
 * table T, for IPv4 and (when captured) IPv6.
 */
#ifndef PIPELOCK_RULES_ROUTE_H
#define PIPELOCK_RULES_ROUTE_H

#include <stddef.h>

#include "rules/rules_set.h"

/*
 * Refuse to share: an ip rule at priority P, one looking up T, or one
 * whose fwmark mask overlaps M that is not exactly ours (old = a previous
 * apply's params, may be NULL), or a route in table T other than our local
 * default.  0 clear, -1 with err saying what was found.
 */
int rules_route_check(const struct rules_params *p,
    const struct rules_params *old, char *err, size_t errlen);

/* Route first, then rule, per family (EEXIST is fine).  0 or -1 + err. */
int rules_route_add(const struct rules_params *p, int family, char *err,
    size_t errlen);

/*
 * Rule first, then route, for family (AF_UNSPEC: both; the record may
 * predate an IPv6 change); absent is fine.  0 or -1 + err.
 */
int rules_route_del(const struct rules_params *p, int family, char *err,
    size_t errlen);

/* 1 when rule and route are present for every family p captures, else 0. */
int rules_route_present(const struct rules_params *p);

#endif
