/*
 * test_rules_render.c - the ruleset description rendered as nft text: the
 * exact dump for a fixed config (native NFQUEUE form, fail-closed), and what
 * each option changes (IPv6 off, NFQUEUE xt/off, fail-open, queue ranges,
 * dns: block, loopback_all), plus the refusals (uid 0, overlapping marks,
 * marks overlapping the NFQUEUE verdict bits, bad CIDR) and the apply
 * record round trip.
 * No kernel: rules_set.c is pure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "rules/rules.h"
#include "rules/rules_set.h"
#include "tap.h"

#include "nfq/nfq.h"

static char *internal[] = { "10.0.0.0/8", "fc00::/7" };
static char *allow[] = { "fd00:18::/64" };
static char *dns[] = { "198.18.0.53", "fd00::53" };

/* A config built by hand (no YAML): what config_load's defaults would be. */
static struct config *
cfg_new(void)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct firewall_config *fw = &cfg->fw;

	fw->agent_uids[0] = 1000;
	fw->agent_uids[1] = 1001;
	fw->n_agent_uids = 2;
	fw->agent_gids[0] = 2000;
	fw->n_agent_gids = 1;
	fw->tproxy_port = FW_DEFAULT_TPROXY_PORT;
	fw->queue_num = 0;
	fw->mark = FW_DEFAULT_MARK;
	fw->engine_mark = FW_DEFAULT_ENGINE_MARK;
	fw->route_table = FW_DEFAULT_ROUTE_TABLE;
	fw->rule_priority = FW_DEFAULT_RULE_PRIO;
	fw->fail_closed = 1;
	fw->ipv6 = 1;
	fw->dns_servers.v = dns;
	fw->dns_servers.n = 2;
	fw->loopback_ports[0] = 8080;
	fw->n_loopback_ports = 1;
	cfg->scanner.internal.v = internal;
	cfg->scanner.internal.n = 2;
	cfg->scanner.ssrf_ip_allowlist.v = allow;
	cfg->scanner.ssrf_ip_allowlist.n = 1;
	return cfg;
}

/* Render table + routes; NULL when the config is refused (err filled). */
static char *
render(const struct config *cfg, int flags, char *err, size_t errlen)
{
	struct rules_params p;
	struct rules_set *rs;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (rules_params_from_config(cfg, flags, &p, err, errlen) == -1 ||
	    (rs = rules_set_build(cfg, &p, err, errlen)) == NULL)
		return NULL;
	f = open_memstream(&buf, &len);
	rules_set_render(rs, f);
	rules_routes_render(&p, "", f);
	fclose(f);
	rules_set_free(rs);
	return buf;
}

static const char expected[] =
"table inet pipelock {\n"
"\tcomment \"pipelock-fw 1 mark=0x100000 emark=0x200000 table=8890 prio=8890 port=8890 q=0/1 nfq=native open=0 v6=1 flags=0x2\"\n"
"\n"
"\tset agent_uids {\n"
"\t\ttype uid\n"
"\t\telements = { 1000, 1001 }\n"
"\t}\n"
"\n"
"\tset agent_gids {\n"
"\t\ttype gid\n"
"\t\telements = { 2000 }\n"
"\t}\n"
"\n"
"\tset dns4 {\n"
"\t\ttype ipv4_addr\n"
"\t\telements = { 198.18.0.53 }\n"
"\t}\n"
"\n"
"\tset dns6 {\n"
"\t\ttype ipv6_addr\n"
"\t\telements = { fd00::53 }\n"
"\t}\n"
"\n"
"\tset loopback_ports {\n"
"\t\ttype inet_service\n"
"\t\telements = { 8080 }\n"
"\t}\n"
"\n"
"\tchain output {\n"
"\t\ttype route hook output priority -150; policy accept;\n"
"\t\tmeta mark & 0x00200000 == 0x00200000 counter accept comment \"engine\"\n"
"\t\tmeta mark & 0x00400000 == 0x00400000 counter reject with icmpx port-unreachable comment \"nfq-reject\"\n"
"\t\tmeta mark & 0x00800000 == 0x00800000 counter ct mark set ct mark | 0x00800000 accept comment \"nfq-allow\"\n"
"\t\tmeta l4proto udp ct mark & 0x00800000 == 0x00800000 counter accept comment \"nfq-flow\"\n"
"\t\tct mark & 0x00100000 == 0x00100000 counter meta mark set meta mark | 0x00100000 accept comment \"agent-flow\"\n"
"\t\tmeta skuid @agent_uids counter jump agent comment \"agent-uid\"\n"
"\t\tmeta skgid @agent_gids counter jump agent comment \"agent-gid\"\n"
"\t}\n"
"\n"
"\tchain agent {\n"
"\t\tmeta l4proto tcp tcp dport 53 meta nfproto ipv4 ip daddr != @dns4 counter jump refuse comment \"dns-not-resolver\"\n"
"\t\tmeta l4proto udp udp dport 53 meta nfproto ipv4 ip daddr != @dns4 counter jump refuse comment \"dns-not-resolver\"\n"
"\t\tmeta l4proto tcp tcp dport 53 meta nfproto ipv6 ip6 daddr != @dns6 counter jump refuse comment \"dns-not-resolver\"\n"
"\t\tmeta l4proto udp udp dport 53 meta nfproto ipv6 ip6 daddr != @dns6 counter jump refuse comment \"dns-not-resolver\"\n"
"\t\tmeta l4proto tcp tcp dport 53 counter ct mark set ct mark | 0x00100000 meta mark set meta mark | 0x00100000 accept comment \"dns-tcp\"\n"
"\t\tmeta l4proto udp udp dport 53 counter meta mark set meta mark | 0x02000000 queue num 0 bypass comment \"dns-udp\"\n"
"\t\toifname \"lo\" meta l4proto tcp tcp dport @loopback_ports counter accept comment \"loopback-port\"\n"
"\t\toifname \"lo\" meta l4proto udp udp dport @loopback_ports counter accept comment \"loopback-port\"\n"
"\t\toifname \"lo\" counter jump refuse comment \"loopback-other\"\n"
"\t\tmeta nfproto ipv6 ip6 daddr fd00:18::/64 counter jump capture comment \"ssrf-allow\"\n"
"\t\tmeta nfproto ipv4 ip daddr 10.0.0.0/8 counter jump refuse comment \"internal\"\n"
"\t\tmeta nfproto ipv6 ip6 daddr fc00::/7 counter jump refuse comment \"internal\"\n"
"\t\tcounter jump capture comment \"capture\"\n"
"\t}\n"
"\n"
"\tchain capture {\n"
"\t\tmeta l4proto tcp counter ct mark set ct mark | 0x00100000 meta mark set meta mark | 0x00100000 accept comment \"tcp\"\n"
"\t\tmeta l4proto udp counter meta mark set meta mark | 0x02000000 queue num 0 bypass comment \"udp\"\n"
"\t\tcounter jump refuse comment \"other\"\n"
"\t}\n"
"\n"
"\tchain refuse {\n"
"\t\tmeta l4proto tcp counter reject with tcp reset comment \"refuse-tcp\"\n"
"\t\tcounter reject with icmpx admin-prohibited comment \"refuse\"\n"
"\t}\n"
"\n"
"\tchain prerouting {\n"
"\t\ttype filter hook prerouting priority -150; policy accept;\n"
"\t\tiifname \"lo\" meta l4proto tcp ct direction original meta mark & 0x00100000 == 0x00100000 counter tproxy to :8890 meta mark set meta mark | 0x00100000 accept comment \"tproxy\"\n"
"\t\tiifname \"lo\" meta l4proto tcp ct direction original meta mark & 0x00100000 == 0x00100000 counter reject with tcp reset comment \"engine-down\"\n"
"\t}\n"
"\n"
"\tchain input {\n"
"\t\ttype filter hook input priority 0; policy accept;\n"
"\t\tiifname != \"lo\" meta l4proto tcp tcp dport 8890 counter drop comment \"port-lo-only\"\n"
"\t\tiifname != \"lo\" meta mark & 0x00100000 == 0x00100000 counter drop comment \"mark-lo-only\"\n"
"\t}\n"
"\n"
"\tchain postrouting {\n"
"\t\ttype filter hook postrouting priority 0; policy accept;\n"
"\t\toifname != \"lo\" meta mark & 0x00100000 == 0x00100000 counter drop comment \"guard\"\n"
"\t}\n"
"\n"
"\tchain nfq-guard {\n"
"\t\ttype filter hook output priority -140; policy accept;\n"
"\t\tmeta mark & 0x02000000 == 0x02000000 meta mark & 0x01800000 == 0x00000000 counter reject with icmpx port-unreachable comment \"engine-down-udp\"\n"
"\t}\n"
"}\n"
"ip route add local 0.0.0.0/0 dev lo table 8890 proto 80\n"
"ip rule add fwmark 0x100000/0x100000 lookup 8890 priority 8890 protocol 80\n"
"ip -6 route add local ::/0 dev lo table 8890 proto 80\n"
"ip -6 rule add fwmark 0x100000/0x100000 lookup 8890 priority 8890 protocol 80\n";

static int
has(const char *s, const char *needle)
{
	return s != NULL && strstr(s, needle) != NULL;
}

int
main(void)
{
	struct config *cfg = cfg_new();
	struct rules_params p, q;
	char err[256], rec[RULES_RECORD_MAX];
	char *out;

	/* the exact dump */
	out = render(cfg, RULES_F_NFQ_NATIVE, err, sizeof(err));
	ok(out != NULL, "default config renders");
	is_str(out, expected, "dump matches the expected ruleset");
	free(out);
	out = render(cfg, 0, err, sizeof(err));
	ok(has(out, "nfq=xt") && has(out, "queue num 0 bypass"),
	    "NFQUEUE by default (xt form unless native is forced)");
	free(out);
	out = render(cfg, RULES_F_NO_NFQUEUE, err, sizeof(err));
	ok(!has(out, "queue") && !has(out, "nfq-reject") &&
	    !has(out, "engine-down-udp") && has(out, "nfq=none"),
	    "--nfqueue=off: no queue, no verdict-mark rules, UDP refused");
	free(out);

	/* IPv6 not captured: all agent IPv6 refused first, no v6 routes */
	cfg->fw.ipv6 = 0;
	out = render(cfg, 0, err, sizeof(err));
	ok(has(out, "\t\tmeta nfproto ipv6 counter jump refuse comment \"no-ipv6\"\n"),
	    "ipv6 off: agent IPv6 refused");
	ok(strstr(out, "\tchain agent {\n\t\tmeta nfproto ipv6 counter jump refuse") != NULL,
	    "ipv6 off: the refusal is the agent chain's first rule");
	ok(!has(out, "ip -6 rule"), "ipv6 off: no IPv6 policy routing");
	ok(!has(out, "fc00::/7"), "ipv6 off: no IPv6 CIDR rules");
	free(out);
	cfg->fw.ipv6 = 1;

	/* NFQUEUE: native rule, xt as a comment, guard only when fail-closed */
	out = render(cfg, RULES_F_NFQUEUE | RULES_F_NFQ_NATIVE, err, sizeof(err));
	ok(strstr(out, "dns-udp") < strstr(out, "loopback-port"),
	    "native: DNS queued before the loopback exception");
	ok(strstr(out, "nfq-reject") < strstr(out, "agent-flow") &&
	    strstr(out, "nfq-flow") < strstr(out, "agent-flow"),
	    "verdict marks acted on before the TPROXY ct mark");
	ok(has(out, "nfq=native"), "native: recorded");
	free(out);
	out = render(cfg, RULES_F_NFQUEUE | RULES_F_NFQ_XT, err, sizeof(err));
	ok(has(out, "\t\t# meta l4proto udp counter meta mark set meta mark | 0x02000000 queue num 0 bypass comment \"udp\"\n"),
	    "xt: shown commented out (not nft text)");
	ok(has(out, "xt NFQUEUE target (rev 3, nft_compat)"), "xt: explained");
	ok(has(out, "nfq=xt"), "xt: recorded");
	free(out);
	cfg->fw.fail_closed = 0;
	cfg->fw.queue_num = 4;
	out = render(cfg, RULES_F_NFQ_NATIVE | RULES_F_QUEUES(3), err,
	    sizeof(err));
	ok(has(out, "queue num 4-6 bypass comment \"udp\""),
	    "three queues: a range (address-pair hash, no fanout)");
	ok(!has(out, "engine-down-udp") && has(out, "open=1"),
	    "fail-open: no guard chain, recorded");
	free(out);
	cfg->fw.fail_closed = 1;
	cfg->fw.queue_num = 0;

	/* dns: block -> DNS refused in the rules, nothing queued for it */
	cfg->fw.dns = FW_DNS_BLOCK;
	out = render(cfg, RULES_F_NFQ_NATIVE, err, sizeof(err));
	ok(has(out, "\t\tmeta l4proto udp udp dport 53 counter jump refuse comment \"dns-block\"\n") &&
	    has(out, "\t\tmeta l4proto tcp tcp dport 53 counter jump refuse comment \"dns-block\"\n") &&
	    !has(out, "dns-udp") && !has(out, "dns-tcp"), "dns: block refuses DNS");
	free(out);
	cfg->fw.dns = FW_DNS_INSPECT;
	cfg->fw.mark = NFQ_MARK_ALLOW;
	out = render(cfg, 0, err, sizeof(err));
	ok(out == NULL && has(err, "NFQUEUE verdict marks"),
	    "firewall.mark overlapping the verdict marks refused");
	cfg->fw.mark = FW_DEFAULT_MARK;

	/* loopback_all */
	cfg->fw.loopback_all = 1;
	out = render(cfg, 0, err, sizeof(err));
	ok(has(out, "\t\toifname \"lo\" counter accept comment \"loopback\"\n"),
	    "loopback_all: all loopback accepted");
	free(out);
	cfg->fw.loopback_all = 0;

	/* refusals */
	cfg->fw.agent_uids[1] = 0;
	out = render(cfg, 0, err, sizeof(err));
	ok(out == NULL && has(err, "uid 0"), "uid 0 refused as an agent");
	cfg->fw.agent_uids[1] = 1001;
	cfg->fw.engine_mark = cfg->fw.mark | 1;
	out = render(cfg, 0, err, sizeof(err));
	ok(out == NULL && has(err, "share bits"), "overlapping marks refused");
	cfg->fw.engine_mark = FW_DEFAULT_ENGINE_MARK;
	cfg->fw.route_table = 254;
	out = render(cfg, 0, err, sizeof(err));
	ok(out == NULL && has(err, "reserved"), "main table refused");
	cfg->fw.route_table = FW_DEFAULT_ROUTE_TABLE;
	internal[0] = "10.0.0.0/33";
	out = render(cfg, 0, err, sizeof(err));
	ok(out == NULL && has(err, "10.0.0.0/33"), "bad CIDR refused, quoted");
	internal[0] = "10.1.2.3/8";
	out = render(cfg, 0, err, sizeof(err));
	ok(has(out, "ip daddr 10.0.0.0/8 "), "host bits cleared");
	free(out);
	internal[0] = "10.0.0.0/8";

	/* the record survives the round trip */
	ok(rules_params_from_config(cfg, RULES_F_NFQUEUE | RULES_F_NFQ_XT, &p,
	    err, sizeof(err)) == 0, "params");
	rules_params_record(&p, rec, sizeof(rec));
	ok(strlen(rec) < 128, "record fits nft's comment limit (%zu)", strlen(rec));
	ok(rules_params_parse(rec, &q) == 0, "record parses");
	ok(q.mark == p.mark && q.engine_mark == p.engine_mark &&
	    q.route_table == p.route_table && q.rule_priority == p.rule_priority &&
	    q.tproxy_port == p.tproxy_port && q.nfq == p.nfq &&
	    q.ipv6 == p.ipv6 && q.flags == p.flags, "record round trip");
	ok(rules_params_parse("someone else's table", &q) == -1,
	    "foreign comment is not a record");

	free(cfg);
	return tap_done();
}
