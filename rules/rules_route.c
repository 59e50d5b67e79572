/*
 * rules_route.c - policy routing for marked agent packets, over rtnetlink.
 *
 * Marked packets must come back in through lo for the prerouting tproxy
 * rule to see them: `fwmark M/M lookup T` + `local default dev lo table T`.
 * Other software (Docker, Tailscale, kube-proxy) also uses fwmark bits,
 * tables and rule priorities, so apply first checks that nothing foreign
 * uses ours and says what it found.  Our routes and rules carry protocol
 * RULES_PROTO_ID so `ip rule`/`ip route` show where they came from.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>

#include "core/sockdiag.h"
#include "rules/rules_route.h"

#define DEL_MAX	16	/* identical duplicates removed per call */

static int
rtnl_talk(const struct nlmsghdr *nlh)
{
	return sockdiag_nl_talk(NETLINK_ROUTE, nlh, NULL, NULL);
}

/* Dump rules or routes of family through cb.  0, or -1 with errno. */
static int
rtnl_dump(uint16_t type, int family, mnl_cb_t cb, void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int r;

	memset(buf, 0, sizeof(buf));	/* no uninitialised bytes reach the kernel */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	/* rtmsg and fib_rule_hdr both start with the family byte */
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)family;
	if ((r = sockdiag_nl_talk(NETLINK_ROUTE, nlh, cb, arg)) != 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- rules */

struct fib_rule {
	int		family;
	uint32_t	prio;
	uint32_t	mark;
	uint32_t	mask;
	uint32_t	table;
	uint8_t		action;
};

struct rule_walk {
	int	(*fn)(const struct fib_rule *, void *);
	void	*arg;
};

static int
rule_attr_cb(const struct nlattr *a, void *data)
{
	struct fib_rule *r = data;

	switch (mnl_attr_get_type(a)) {
	case FRA_PRIORITY:
		r->prio = mnl_attr_get_u32(a);
		break;
	case FRA_FWMARK:
		r->mark = mnl_attr_get_u32(a);
		break;
	case FRA_FWMASK:
		r->mask = mnl_attr_get_u32(a);
		break;
	case FRA_TABLE:
		r->table = mnl_attr_get_u32(a);
		break;
	}
	return MNL_CB_OK;
}

static int
rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rule_walk *w = data;
	struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	struct fib_rule r;

	memset(&r, 0, sizeof(r));
	r.family = frh->family;
	r.table = frh->table;
	r.action = frh->action;
	mnl_attr_parse(nlh, sizeof(*frh), rule_attr_cb, &r);
	if (r.mark != 0 && r.mask == 0)
		r.mask = 0xffffffffu;	/* fwmark without mask: all bits */
	return w->fn(&r, w->arg) == -1 ? MNL_CB_STOP : MNL_CB_OK;
}

static int
rule_is(const struct fib_rule *r, const struct rules_params *p)
{
	return p != NULL && r->action == FR_ACT_TO_TBL && r->mark == p->mark &&
	    r->mask == p->mark && r->table == p->route_table &&
	    r->prio == p->rule_priority;
}

struct check_ctx {
	const struct rules_params *p;
	const struct rules_params *old;
	char	*err;
	size_t	 errlen;
	int	 bad;
	int	 present;
};

static int
check_rule_fn(const struct fib_rule *r, void *arg)
{
	struct check_ctx *c = arg;
	const char *why = NULL;

	if (rule_is(r, c->p) || rule_is(r, c->old))
		return 0;
	if (r->prio == c->p->rule_priority)
		why = "uses our rule priority";
	else if (r->table == c->p->route_table && r->action == FR_ACT_TO_TBL)
		why = "looks up our routing table";
	else if (r->mark != 0 && (r->mask & c->p->mark) != 0)
		why = "matches fwmark bits we use";
	if (why == NULL)
		return 0;
	snprintf(c->err, c->errlen, "ip %srule `priority %" PRIu32 " fwmark 0x%"
	    PRIx32 "/0x%" PRIx32 " lookup %" PRIu32 "' %s (firewall.mark 0x%"
	    PRIx32 ", route_table %" PRIu32 ", rule_priority %" PRIu32 "): "
	    "choose other values", r->family == AF_INET6 ? "-6 " : "", r->prio,
	    r->mark, r->mask, r->table, why, c->p->mark, c->p->route_table,
	    c->p->rule_priority);
	c->bad = 1;
	return -1;
}

/* ---------------------------------------------------------------- routes */

struct route {
	int		family;
	uint32_t	table;
	uint8_t		type;
	uint8_t		dst_len;
	uint32_t	oif;
};

static int
route_attr_cb(const struct nlattr *a, void *data)
{
	struct route *r = data;

	switch (mnl_attr_get_type(a)) {
	case RTA_TABLE:
		r->table = mnl_attr_get_u32(a);
		break;
	case RTA_OIF:
		r->oif = mnl_attr_get_u32(a);
		break;
	}
	return MNL_CB_OK;
}

static int
route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct check_ctx *c = data;
	struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct route r;

	memset(&r, 0, sizeof(r));
	r.family = rtm->rtm_family;
	r.table = rtm->rtm_table;
	r.type = rtm->rtm_type;
	r.dst_len = rtm->rtm_dst_len;
	mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, &r);
	if (r.table != c->p->route_table || c->bad)
		return MNL_CB_OK;
	if (r.type == RTN_LOCAL && r.dst_len == 0 &&
	    r.oif == if_nametoindex("lo")) {
		c->present |= r.family == AF_INET6 ? 2 : 1;
		return MNL_CB_OK;
	}
	snprintf(c->err, c->errlen, "routing table %" PRIu32 " (firewall."
	    "route_table) already holds a foreign %s route (type %u, /%u): "
	    "choose another table", r.table, r.family == AF_INET6 ? "IPv6" :
	    "IPv4", r.type, r.dst_len);
	c->bad = 1;
	return MNL_CB_OK;
}

int
rules_route_check(const struct rules_params *p, const struct rules_params *old,
    char *err, size_t errlen)
{
	struct check_ctx c = { p, old, err, errlen, 0, 0 };
	struct rule_walk w = { check_rule_fn, &c };
	int fam;

	for (fam = 0; fam < 2; fam++) {
		int family = fam ? AF_INET6 : AF_INET;

		if (fam && !p->ipv6)
			break;
		if (rtnl_dump(RTM_GETRULE, family, rule_cb, &w) == -1 &&
		    !(fam && errno == EAFNOSUPPORT)) {
			snprintf(err, errlen, "cannot list ip rules: %s",
			    strerror(errno));
			return -1;
		}
		if (c.bad)
			return -1;
		if (rtnl_dump(RTM_GETROUTE, family, route_cb, &c) == -1 &&
		    !(fam && errno == EAFNOSUPPORT)) {
			snprintf(err, errlen, "cannot list routes: %s",
			    strerror(errno));
			return -1;
		}
		if (c.bad)
			return -1;
	}
	return 0;
}

static struct nlmsghdr *
route_msg(char *buf, uint16_t type, uint16_t flags, int family,
    const struct rules_params *p)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)family;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = p->route_table < 256 ? (unsigned char)p->route_table :
	    RT_TABLE_UNSPEC;
	rtm->rtm_protocol = RULES_PROTO_ID;
	rtm->rtm_scope = RT_SCOPE_HOST;
	rtm->rtm_type = RTN_LOCAL;
	mnl_attr_put_u32(nlh, RTA_TABLE, p->route_table);
	mnl_attr_put_u32(nlh, RTA_OIF, if_nametoindex("lo"));
	return nlh;
}

static struct nlmsghdr *
rule_msg(char *buf, uint16_t type, uint16_t flags, int family,
    const struct rules_params *p)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = (uint8_t)family;
	frh->action = FR_ACT_TO_TBL;
	frh->table = p->route_table < 256 ? (uint8_t)p->route_table :
	    RT_TABLE_UNSPEC;
	mnl_attr_put_u32(nlh, FRA_PRIORITY, p->rule_priority);
	mnl_attr_put_u32(nlh, FRA_FWMARK, p->mark);
	mnl_attr_put_u32(nlh, FRA_FWMASK, p->mark);
	mnl_attr_put_u32(nlh, FRA_TABLE, p->route_table);
	/* on delete too: the kernel then removes only rules we made */
	mnl_attr_put_u8(nlh, FRA_PROTOCOL, RULES_PROTO_ID);
	return nlh;
}

int
rules_route_add(const struct rules_params *p, int family, char *err,
    size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const char *f = family == AF_INET6 ? "-6 " : "";
	int r;

	memset(buf, 0, sizeof(buf));	/* no uninitialised bytes reach the kernel */
	r = rtnl_talk(route_msg(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL,
	    family, p));
	if (r != 0 && r != -EEXIST) {
		snprintf(err, errlen, "ip %sroute add local default dev lo "
		    "table %" PRIu32 ": %s", f, p->route_table, strerror(-r));
		return -1;
	}
	r = rtnl_talk(rule_msg(buf, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL,
	    family, p));
	if (r != 0 && r != -EEXIST) {
		snprintf(err, errlen, "ip %srule add fwmark 0x%" PRIx32 "/0x%"
		    PRIx32 " lookup %" PRIu32 " priority %" PRIu32 ": %s", f,
		    p->mark, p->mark, p->route_table, p->rule_priority,
		    strerror(-r));
		return -1;
	}
	return 0;
}

int
rules_route_del(const struct rules_params *p, int only, char *err,
    size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int fam, i, r, ret = 0;

	memset(buf, 0, sizeof(buf));	/* no uninitialised bytes reach the kernel */
	for (fam = 0; fam < 2; fam++) {
		int family = fam ? AF_INET6 : AF_INET;

		if (only != AF_UNSPEC && only != family)
			continue;

		for (i = 0; i < DEL_MAX; i++) {
			r = rtnl_talk(rule_msg(buf, RTM_DELRULE, 0, family, p));
			if (r != 0)
				break;
		}
		if (r != 0 && r != -ENOENT && r != -EAFNOSUPPORT) {
			snprintf(err, errlen, "ip %srule del: %s", fam ? "-6 " :
			    "", strerror(-r));
			ret = -1;
		}
		for (i = 0; i < DEL_MAX; i++) {
			r = rtnl_talk(route_msg(buf, RTM_DELROUTE, 0, family,
			    p));
			if (r != 0)
				break;
		}
		if (r != 0 && r != -ESRCH && r != -ENOENT &&
		    r != -EAFNOSUPPORT) {
			snprintf(err, errlen, "ip %sroute del table %" PRIu32
			    ": %s", fam ? "-6 " : "", p->route_table,
			    strerror(-r));
			ret = -1;
		}
	}
	return ret;
}

struct present_ctx {
	const struct rules_params *p;
	int	 rules;
};

static int
present_rule_fn(const struct fib_rule *r, void *arg)
{
	struct present_ctx *c = arg;

	if (rule_is(r, c->p))
		c->rules |= r->family == AF_INET6 ? 2 : 1;
	return 0;
}

int
rules_route_present(const struct rules_params *p)
{
	struct present_ctx pc = { p, 0 };
	struct rule_walk w = { present_rule_fn, &pc };
	struct check_ctx c;
	char err[256];
	int want = p->ipv6 ? 3 : 1;

	memset(&c, 0, sizeof(c));
	c.p = p;
	c.err = err;
	c.errlen = sizeof(err);
	if (rtnl_dump(RTM_GETRULE, AF_INET, rule_cb, &w) == -1 ||
	    (p->ipv6 && rtnl_dump(RTM_GETRULE, AF_INET6, rule_cb, &w) == -1))
		return 0;
	if (rtnl_dump(RTM_GETROUTE, AF_INET, route_cb, &c) == -1 ||
	    (p->ipv6 && rtnl_dump(RTM_GETROUTE, AF_INET6, route_cb, &c) == -1))
		return 0;
	return (pc.rules & want) == want && (c.present & want) == want;
}
