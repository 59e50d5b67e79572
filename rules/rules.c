/*
 * rules.c - apply/remove/render of the firewall: probe, policy routes,
 * nft batch, then the agents' connections that predate the rules.
 *
 * Order matters for fail-closed: routes exist before anything is marked
 * (apply), and marking stops before routes go (remove).  The record of
 * what was applied lives in the table's comment, so remove works in any
 * network namespace, after a crash and after the config changed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "core/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "core/sockdiag.h"
#include "rules/rules.h"
#include "rules/rules_nft.h"
#include "rules/rules_route.h"
#include "rules/rules_set.h"

#define CAP_NET_ADMIN_BIT	12
#define IPV6_LO_DISABLE	"/proc/sys/net/ipv6/conf/lo/disable_ipv6"

static int
ipv6_usable(void)
{
	FILE *f;
	int v = 1;

	if ((f = fopen(IPV6_LO_DISABLE, "r")) == NULL)
		return 0;	/* no IPv6 stack at all */
	if (fscanf(f, "%d", &v) != 1)
		v = 1;
	fclose(f);
	return v == 0;
}

/* Refuse, naming the feature, before anything is installed. */
static int
probe_kernel(struct rules_params *p)
{
	static const enum rules_probe required[] = { RULES_PROBE_TABLES,
	    RULES_PROBE_ROUTE_CHAIN, RULES_PROBE_TPROXY, RULES_PROBE_REJECT };
	size_t i;
	int r;

	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if ((r = rules_nft_probe(required[i])) == 0)
			continue;
		if (r == -EPERM)
			log_warnx("firewall: not permitted to change nftables "
			    "(needs root or CAP_NET_ADMIN)");
		else
			log_warnx("firewall: this kernel lacks %s: %s; nothing "
			    "was installed", rules_probe_name(required[i]),
			    strerror(-r));
		return -1;
	}
	if (p->flags & RULES_F_NO_NFQUEUE) {
		p->nfq = RULES_NFQ_NONE;
		return 0;
	}
	if (!(p->flags & RULES_F_NFQ_XT) &&
	    (r = rules_nft_probe(RULES_PROBE_QUEUE)) == 0) {
		p->nfq = RULES_NFQ_NATIVE;
		return 0;
	}
	if (p->flags & RULES_F_NFQ_NATIVE) {
		log_warnx("firewall: this kernel lacks %s: %s; nothing was "
		    "installed", rules_probe_name(RULES_PROBE_QUEUE),
		    strerror(-r));
		return -1;
	}
	if ((r = rules_nft_probe(RULES_PROBE_XT_NFQUEUE)) == 0) {
		p->nfq = RULES_NFQ_XT;
		return 0;
	}
	log_warnx("firewall: this kernel has neither %s nor %s (%s); nothing "
	    "was installed", rules_probe_name(RULES_PROBE_QUEUE),
	    rules_probe_name(RULES_PROBE_XT_NFQUEUE), strerror(-r));
	return -1;
}

/* Each of these lets an agent get around any host firewall. */
static void
warn_privileged_agents(const struct config *cfg)
{
	static const char *groups[] = { "docker", "sudo", "wheel", "adm" };
	const struct firewall_config *fw = &cfg->fw;
	struct passwd *pw;
	struct group *gr;
	gid_t gl[256];
	int ng, j;
	size_t i, k;

	for (i = 0; i < fw->n_agent_uids; i++) {
		if ((pw = getpwuid(fw->agent_uids[i])) == NULL)
			continue;
		ng = (int)(sizeof(gl) / sizeof(gl[0]));
		if (getgrouplist(pw->pw_name, pw->pw_gid, gl, &ng) == -1)
			continue;
		for (j = 0; j < ng; j++) {
			if ((gr = getgrgid(gl[j])) == NULL)
				continue;
			for (k = 0; k < sizeof(groups) / sizeof(groups[0]);
			    k++)
				if (strcmp(gr->gr_name, groups[k]) == 0 &&
				    strcmp(groups[k], "adm") != 0)
					log_warnx("firewall: warning: agent %s "
					    "is in group %s, which can get "
					    "around any host firewall",
					    pw->pw_name, groups[k]);
		}
	}
}

struct proc_info {
	const char	*pid;		/* /proc entry name */
	unsigned	 uid;		/* effective */
	unsigned	 fsgid;		/* what nft's skgid sees on new sockets */
	unsigned long long capeff;
};

/* Call fn for every process in /proc whose status can be read. */
static void
proc_scan(void (*fn)(const struct proc_info *, void *), void *arg)
{
	char path[300], line[256];
	struct proc_info pi;
	struct dirent *d;
	DIR *proc;
	FILE *f;
	int have;

	if ((proc = opendir("/proc")) == NULL)
		return;
	while ((d = readdir(proc)) != NULL) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", d->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;	/* gone meanwhile */
		memset(&pi, 0, sizeof(pi));
		pi.pid = d->d_name;
		have = 0;
		while (fgets(line, sizeof(line), f) != NULL) {
			if (sscanf(line, "Uid: %*u %u", &pi.uid) == 1)
				have |= 1;
			else if (sscanf(line, "Gid: %*u %*u %*u %u",
			    &pi.fsgid) == 1)
				have |= 2;
			else if (sscanf(line, "CapEff: %llx", &pi.capeff) == 1)
				have |= 4;
		}
		fclose(f);
		if (have == 7)
			fn(&pi, arg);
	}
	closedir(proc);
}

static int
is_agent_uid(const struct config *cfg, uid_t uid)
{
	size_t i;

	for (i = 0; i < cfg->fw.n_agent_uids; i++)
		if (cfg->fw.agent_uids[i] == uid)
			return 1;
	return 0;
}

static int
is_agent_gid(const struct config *cfg, gid_t gid)
{
	size_t i;

	for (i = 0; i < cfg->fw.n_agent_gids; i++)
		if (cfg->fw.agent_gids[i] == gid)
			return 1;
	return 0;
}

static void
capable_fn(const struct proc_info *pi, void *arg)
{
	const struct config *cfg = arg;

	if ((is_agent_uid(cfg, pi->uid) || is_agent_gid(cfg, pi->fsgid)) &&
	    (pi->capeff & (1ull << CAP_NET_ADMIN_BIT)))
		log_warnx("firewall: warning: agent process %s (uid %u) holds "
		    "CAP_NET_ADMIN and can change the firewall", pi->pid,
		    pi->uid);
}

/* Running agent processes holding CAP_NET_ADMIN (e.g. via file caps). */
static void
warn_capable_agents(const struct config *cfg)
{
	proc_scan(capable_fn, (void *)cfg);
}

/* ------------------------------------------- connections before apply */

struct preexisting {
	const struct config *cfg;
	int	 destroy;	/* SOCK_DESTROY available */
	int	 closed;
	int	 failed;
	unsigned long *inodes;	/* sockets of agent-group processes */
	size_t	 ninodes;
	size_t	 cap;
};

/* Socket inodes held by processes of an agent group (skgid agents). */
static void
group_sockets_fn(const struct proc_info *pi, void *arg)
{
	struct preexisting *c = arg;
	char path[300], link[64];
	struct dirent *d;
	unsigned long ino, *ni;
	ssize_t n;
	DIR *fds;

	if (!is_agent_gid(c->cfg, pi->fsgid))
		return;
	snprintf(path, sizeof(path), "/proc/%s/fd", pi->pid);
	if ((fds = opendir(path)) == NULL)
		return;
	while ((d = readdir(fds)) != NULL) {
		snprintf(path, sizeof(path), "/proc/%s/fd/%s", pi->pid,
		    d->d_name);
		if ((n = readlink(path, link, sizeof(link) - 1)) == -1)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%lu]", &ino) != 1)
			continue;
		if (c->ninodes == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 64;
			if ((ni = realloc(c->inodes, c->cap *
			    sizeof(*ni))) == NULL)
				break;	/* best effort: uid matching still runs */
			c->inodes = ni;
		}
		c->inodes[c->ninodes++] = ino;
	}
	closedir(fds);
}

static int
is_agent_socket(const struct preexisting *c, const struct sockdiag_sock *s)
{
	size_t i;

	if (is_agent_uid(c->cfg, s->uid))
		return 1;
	for (i = 0; i < c->ninodes; i++)
		if (c->inodes[i] == s->inode)
			return 1;
	return 0;
}

static void
put_tuple(struct nlmsghdr *nlh, const struct sockdiag_sock *s)
{
	struct nlattr *tup, *ip, *proto;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&s->src;
	const struct sockaddr_in *d4 = (const struct sockaddr_in *)&s->dst;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&s->src;
	const struct sockaddr_in6 *d6 = (const struct sockaddr_in6 *)&s->dst;

	tup = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
	ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	if (s->family == AF_INET) {
		mnl_attr_put(nlh, CTA_IP_V4_SRC, 4, &s4->sin_addr);
		mnl_attr_put(nlh, CTA_IP_V4_DST, 4, &d4->sin_addr);
	} else {
		mnl_attr_put(nlh, CTA_IP_V6_SRC, 16, &s6->sin6_addr);
		mnl_attr_put(nlh, CTA_IP_V6_DST, 16, &d6->sin6_addr);
	}
	mnl_attr_nest_end(nlh, ip);
	proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, (uint8_t)s->proto);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, s->family == AF_INET ?
	    s4->sin_port : s6->sin6_port);
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, s->family == AF_INET ?
	    d4->sin_port : d6->sin6_port);
	mnl_attr_nest_end(nlh, proto);
	mnl_attr_nest_end(nlh, tup);
}

/*
 * Delete exactly the conntrack entry of this socket's flow (never a
 * flush): its next packet is then a new flow that the rules see.
 * 1 deleted, 0 no such entry, -1 error.
 */
static int
conntrack_delete(const struct sockdiag_sock *s)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	int r;

	memset(buf, 0, sizeof(buf));	/* no uninitialised bytes reach the kernel */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = (uint8_t)s->family;
	nfg->version = NFNETLINK_V0;
	put_tuple(nlh, s);
	r = sockdiag_nl_talk(NETLINK_NETFILTER, nlh, NULL, NULL);
	if (r == -ENOENT)
		return 0;	/* no entry: nothing to close */
	return r == 0 ? 1 : -1;
}

static int
preexisting_fn(const struct sockdiag_sock *s, void *arg)
{
	struct preexisting *c = arg;
	int r;

	if (!is_agent_socket(c, s))
		return 0;
	if (c->destroy) {
		r = sockdiag_destroy(s);
		if (r == 0 || r == -ENOENT)
			c->closed++;
		else
			c->failed++;
		return 0;
	}
	if ((r = conntrack_delete(s)) == 1)
		c->closed++;
	else if (r == -1)
		c->failed++;
	return 0;
}

static void
close_preexisting(const struct config *cfg, int quiet, int force_ct)
{
	struct preexisting c;
	static const int fams[] = { AF_INET, AF_INET6 };
	static const int protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	size_t i, j;

	if (cfg->fw.n_agent_uids == 0 && cfg->fw.n_agent_gids == 0)
		return;
	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.destroy = !force_ct && sockdiag_destroy_supported();
	if (cfg->fw.n_agent_gids > 0)
		proc_scan(group_sockets_fn, &c);
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++)
			if (sockdiag_foreach(fams[i], protos[j], preexisting_fn,
			    &c) == -1 && errno != EAFNOSUPPORT &&
			    errno != ENOENT)
				log_warn("firewall: listing agent sockets");
	if (c.failed > 0)
		log_warnx("firewall: %d existing agent connection(s) could "
		    "not be closed (%s)", c.failed, c.destroy ?
		    "sock_diag SOCK_DESTROY" : "conntrack delete");
	if (!quiet || c.closed > 0)
		log_info("firewall: existing agent connections: %d closed via "
		    "%s", c.closed, c.destroy ? "sock_diag SOCK_DESTROY" :
		    force_ct ? "deletion of their conntrack entries" :
		    "deletion of their conntrack entries (SOCK_DESTROY "
		    "unavailable)");
	free(c.inodes);
}

/* ------------------------------------------------------------------ API */

static int
read_record(struct rules_params *old)
{
	char rec[RULES_RECORD_MAX + 64];
	int r;

	if ((r = rules_nft_record(rec, sizeof(rec))) == -1)
		log_warnx("firewall: cannot read nftables (needs root or "
		    "CAP_NET_ADMIN)");
	if (r != 1)
		return r;
	if (rules_params_parse(rec, old) == -1) {
		log_warnx("firewall: table inet %s exists but its comment is "
		    "not a pipelock-fw record: `%s'", RULES_TABLE_NAME, rec);
		return -1;
	}
	return 1;
}

static int
same_routing(const struct rules_params *a, const struct rules_params *b)
{
	return a->mark == b->mark && a->route_table == b->route_table &&
	    a->rule_priority == b->rule_priority;
}

int
rules_apply(const struct config *cfg, int flags)
{
	struct rules_params p, old;
	struct rules_set *rs = NULL;
	char err[512];
	int had_old, ret = -1, routes_added = 0;

	if (rules_params_from_config(cfg, flags, &p, err, sizeof(err)) == -1) {
		log_warnx("firewall: %s", err);
		return -1;
	}
	if (probe_kernel(&p) == -1)
		return -1;
	if (p.ipv6 && !ipv6_usable()) {
		log_warnx("firewall: IPv6 capture unavailable (no IPv6 on lo): "
		    "agent IPv6 is rejected instead");
		p.ipv6 = 0;
	}
	if ((had_old = read_record(&old)) == -1)
		return -1;
	if (rules_route_check(&p, had_old ? &old : NULL, err,
	    sizeof(err)) == -1) {
		log_warnx("firewall: %s; nothing was installed", err);
		return -1;
	}
	if (rules_route_add(&p, AF_INET, err, sizeof(err)) == -1) {
		log_warnx("firewall: %s; nothing was installed", err);
		goto cleanup;
	}
	routes_added = 1;
	if (p.ipv6 && rules_route_add(&p, AF_INET6, err, sizeof(err)) == -1) {
		log_warnx("firewall: IPv6 capture unavailable (%s): agent IPv6 "
		    "is rejected instead", err);
		p.ipv6 = 0;
	}
	if ((rs = rules_set_build(cfg, &p, err, sizeof(err))) == NULL) {
		log_warnx("firewall: %s", err);
		goto cleanup;
	}
	if (rules_nft_apply(rs, err, sizeof(err)) == -1) {
		log_warnx("firewall: %s; nothing was installed", err);
		goto cleanup;
	}
	if (had_old && (!same_routing(&old, &p) || (old.ipv6 && !p.ipv6)) &&
	    rules_route_del(&old, same_routing(&old, &p) ? AF_INET6 :
	    AF_UNSPEC, err, sizeof(err)) == -1)
		log_warnx("firewall: removing the previous apply's routes: %s",
		    err);
	if (!(flags & RULES_F_QUIET)) {
		log_info("firewall: installed table inet %s (%zu rules, "
		    "NFQUEUE: %s%s, IPv6: %s)", RULES_TABLE_NAME, rs->nrules,
		    p.nfq == RULES_NFQ_XT ? "xt target" :
		    p.nfq == RULES_NFQ_NATIVE ? "native" : "off, UDP rejected",
		    p.nfq == RULES_NFQ_NONE ? "" : p.fail_open ?
		    ", fail-open" : ", fail-closed",
		    p.ipv6 ? "captured" : "rejected");
		warn_privileged_agents(cfg);
		warn_capable_agents(cfg);
	}
	if (!(flags & RULES_F_NO_DESTROY))
		close_preexisting(cfg, flags & RULES_F_QUIET,
		    flags & RULES_F_CLOSE_CONNTRACK);
	ret = 0;
cleanup:
	/* a failed first apply leaves no routes behind */
	if (ret == -1 && routes_added && !(had_old && same_routing(&old, &p)))
		rules_route_del(&p, AF_UNSPEC, err, sizeof(err));
	rules_set_free(rs);
	return ret;
}

int
rules_remove(void)
{
	struct rules_params p;
	struct config *cfg = NULL;
	char err[512];
	int had, ret = -1;

	if ((had = read_record(&p)) == -1)
		return -1;
	if (!had) {
		/*
		 * No table: routes of a default apply may still be there
		 * (table flushed by someone else).  Deleting by exact identity
		 * including our protocol id touches nothing foreign.
		 */
		if (config_load(NULL, &cfg, err, sizeof(err)) == -1 ||
		    rules_params_from_config(cfg, 0, &p, err,
		    sizeof(err)) == -1) {
			config_free(cfg);
			return 0;
		}
		config_free(cfg);
	}
	if (had && rules_nft_remove(err, sizeof(err)) == -1) {
		log_warnx("firewall: %s", err);
		goto cleanup;
	}
	if (rules_route_del(&p, AF_UNSPEC, err, sizeof(err)) == -1) {
		log_warnx("firewall: %s", err);
		goto cleanup;
	}
	ret = 0;
cleanup:
	return ret;
}

int
rules_installed(void)
{
	char rec[RULES_RECORD_MAX + 64];

	return rules_nft_record(rec, sizeof(rec));
}

int
rules_queue_range(unsigned *first, unsigned *total)
{
	struct rules_params p;
	int r;

	if ((r = read_record(&p)) != 1)
		return r;
	if (p.nfq == RULES_NFQ_NONE)
		return 0;
	*first = p.queue_num;
	*total = p.queue_total > 0 ? p.queue_total : 1;
	return 1;
}

int
rules_render(const struct config *cfg, int flags, FILE *out)
{
	struct rules_params p;
	struct rules_set *rs;
	char err[512];

	if (rules_params_from_config(cfg, flags, &p, err, sizeof(err)) == -1 ||
	    (rs = rules_set_build(cfg, &p, err, sizeof(err))) == NULL) {
		log_warnx("firewall: %s", err);
		return -1;
	}
	fprintf(out, "#!/usr/sbin/nft -f\n"
	    "# pipelock-fw %s: table inet %s, applied by `pipelock-fw firewall "
	    "apply`\n# as ONE netlink batch.  Loading this file with nft -f "
	    "installs the same\n# table (the add+delete pair replaces it "
	    "atomically) but not the routes.\n", PIPELOCK_FW_VERSION,
	    RULES_TABLE_NAME);
	if (p.nfq == RULES_NFQ_XT)
		fprintf(out, "# The agent UDP rule is installed as the xt "
		    "NFQUEUE target (nft_compat),\n# which the nft language "
		    "cannot express: it appears commented out below.\n");
	else
		fprintf(out, "# On kernels without nft_queue, apply sends agent "
		    "UDP to the xt NFQUEUE target\n# (nft_compat), which the "
		    "nft language cannot express.\n");
	fprintf(out, "\ntable inet %s {}\ndelete table inet %s\n\n",
	    RULES_TABLE_NAME, RULES_TABLE_NAME);
	rules_set_render(rs, out);
	fprintf(out, "\n# Policy routing (rtnetlink; run these with the "
	    "script):\n");
	rules_routes_render(&p, "# ", out);
	rules_set_free(rs);
	return 0;
}
