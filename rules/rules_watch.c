/*
 * rules_watch.c - notice our table, ip rules or routes disappearing
 * (`nft flush ruleset`, `ip rule flush`, systemd-networkd removing foreign
 * rules) and put them back.  Until then the guard keeps marked packets on
 * lo, so the gap fails closed; the watcher ends it.
 *
 * Two netlink sockets (rtnetlink rule/route groups, nfnetlink's nf_tables
 * group) behind one epoll fd, so the engine polls a single descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "core/config.h"
#include "core/log.h"
#include "rules/rules.h"
#include "rules/rules_nft.h"
#include "rules/rules_route.h"
#include "rules/rules_set.h"

struct rules_watch {
	const struct config *cfg;
	int		 flags;
	struct mnl_socket *rt;
	struct mnl_socket *nf;
	int		 epfd;
};

static struct mnl_socket *
watch_socket(int bus, const unsigned *groups, size_t n)
{
	struct mnl_socket *nl;
	size_t i;
	int one = 1;

	if ((nl = mnl_socket_open2(bus, SOCK_NONBLOCK | SOCK_CLOEXEC)) == NULL)
		return NULL;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1)
		goto fail;
	for (i = 0; i < n; i++)
		if (mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP,
		    (void *)&groups[i], sizeof(groups[i])) == -1)
			goto fail;
	/* an overrun only means "look again": handled by re-checking */
	mnl_socket_setsockopt(nl, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	return nl;
fail:
	mnl_socket_close(nl);
	return NULL;
}

struct rules_watch *
rules_watch_new(const struct config *cfg)
{
	static const unsigned rt_groups[] = { RTNLGRP_IPV4_RULE,
	    RTNLGRP_IPV6_RULE, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE };
	static const unsigned nf_groups[] = { NFNLGRP_NFTABLES };
	struct rules_watch *w;
	struct rules_params p;
	struct epoll_event ev;
	char rec[RULES_RECORD_MAX + 64];

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->cfg = cfg;
	w->epfd = -1;
	if (rules_nft_record(rec, sizeof(rec)) == 1 &&
	    rules_params_parse(rec, &p) == 0)
		w->flags = p.flags;
	if ((w->rt = watch_socket(NETLINK_ROUTE, rt_groups,
	    sizeof(rt_groups) / sizeof(rt_groups[0]))) == NULL ||
	    (w->nf = watch_socket(NETLINK_NETFILTER, nf_groups, 1)) == NULL ||
	    (w->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		goto fail;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, mnl_socket_get_fd(w->rt),
	    &ev) == -1 || epoll_ctl(w->epfd, EPOLL_CTL_ADD,
	    mnl_socket_get_fd(w->nf), &ev) == -1)
		goto fail;
	return w;
fail:
	log_warn("firewall: netlink watch");
	rules_watch_free(w);
	return NULL;
}

int
rules_watch_fd(const struct rules_watch *w)
{
	return w->epfd;
}

static void
drain(struct mnl_socket *nl)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int i;

	/* bounded: a flood of changes is re-checked on the next wakeup */
	for (i = 0; i < 1024; i++)
		if (mnl_socket_recvfrom(nl, buf, sizeof(buf)) == -1 &&
		    errno != ENOBUFS)
			break;
}

int
rules_watch_handle(struct rules_watch *w)
{
	struct rules_params p, want;
	struct rules_set *rs = NULL;
	struct rules_nft_rule *rl = NULL;
	char rec[RULES_RECORD_MAX + 64], err[256];
	int have_table, n, flags, ok;

	drain(w->rt);
	drain(w->nf);
	if (rules_params_from_config(w->cfg, w->flags, &want, err,
	    sizeof(err)) == -1)
		return -1;
	have_table = rules_nft_record(rec, sizeof(rec)) == 1 &&
	    rules_params_parse(rec, &p) == 0;
	ok = have_table && rules_route_present(&p);
	if (ok && (rs = rules_set_build(w->cfg, &p, err, sizeof(err))) !=
	    NULL) {
		/* someone deleting single rules counts as missing too */
		n = rules_nft_rules(&rl);
		ok = n < 0 || (size_t)n == rs->nrules;
		free(rl);
		rules_set_free(rs);
	}
	if (ok)
		return 0;
	/*
	 * Without the table, agent connections may have gone out directly in
	 * the gap: close them.  A lost route alone leaked nothing (guard).
	 */
	flags = w->flags | RULES_F_QUIET | (have_table ? RULES_F_NO_DESTROY : 0);
	log_warnx("firewall: %s missing, re-applying", have_table ?
	    "policy routes or rules" : "table inet " RULES_TABLE_NAME);
	if (rules_apply(w->cfg, flags) == -1)
		return -1;
	return 1;
}

void
rules_watch_free(struct rules_watch *w)
{
	if (w == NULL)
		return;
	if (w->rt != NULL)
		mnl_socket_close(w->rt);
	if (w->nf != NULL)
		mnl_socket_close(w->nf);
	if (w->epfd != -1)
		close(w->epfd);
	free(w);
}
