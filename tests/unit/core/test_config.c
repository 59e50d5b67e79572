/*
 * test_config.c - config_load: defaults, every error kind with its exact
 * message and position, the firewall section, secrets_file rules, and
 * every real pipelock config in ../shared/reference/pipelock-configs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/policy.h"
#include "tap.h"

static char err[CONFIG_ERR_MAX];

static struct config *
load(const char *yaml)
{
	struct config *cfg = NULL;

	err[0] = '\0';
	if (config_load_buffer("t.yaml", yaml, strlen(yaml), &cfg, err,
	    sizeof(err)) == -1)
		return NULL;
	return cfg;
}

/* The load must fail with exactly this message. */
static void
load_err(const char *yaml, const char *want, const char *what)
{
	struct config *cfg = load(yaml);

	ok(cfg == NULL, "%s: rejected", what);
	is_str(err, want, "%s: message", what);
	config_free(cfg);
}

static int
has_warning(const struct config *cfg, const char *w)
{
	size_t i;

	for (i = 0; i < cfg->warnings.n; i++)
		if (strcmp(cfg->warnings.v[i], w) == 0)
			return 1;
	return 0;
}

static int
sl_contains(const struct strlist *sl, const char *s)
{
	size_t i;

	for (i = 0; i < sl->n; i++)
		if (strcmp(sl->v[i], s) == 0)
			return 1;
	return 0;
}

static void
test_defaults(void)
{
	struct config *cfg = NULL;
	const struct firewall_config *fw;

	ok(config_load(NULL, &cfg, err, sizeof(err)) == 0,
	    "no file: built-in defaults load");
	if (cfg == NULL)
		return;
	fw = &cfg->fw;
	ok(cfg->path == NULL, "defaults: no path");
	is_int(cfg->mode, MODE_BALANCED, "defaults: mode balanced");
	is_int(cfg->enforce, 1, "defaults: enforce");
	is_int(cfg->scanner.enforce, 1, "defaults: scanner enforce");
	ok(cfg->scanner.api_allowlist.n > 0,
	    "defaults: api_allowlist only without a file");
	ok(cfg->scanner.blocklist.n > 0, "defaults: blocklist without a file");
	ok(cfg->scanner.internal.n > 0, "defaults: SSRF internal ranges on");
	is_int(cfg->scanner.dlp_include_defaults, 1, "defaults: built-in DLP");
	is_int(cfg->dlp_scan_env, 1, "defaults: scan_env");
	is_int(cfg->dlp_min_env_secret_length, 16, "defaults: min env secret");
	is_str(cfg->fetch_proxy.listen, "127.0.0.1:8888", "defaults: listen");
	is_int(cfg->fetch_proxy.timeout_seconds, 30, "defaults: timeout");
	is_int(cfg->fetch_proxy.max_requests_per_minute, 60, "defaults: rpm");
	is_int(cfg->forward_proxy.sni_verification, 1, "defaults: sni check");
	is_int(cfg->request_body.enabled, 1, "defaults: body scanning on");
	is_int(cfg->request_body.scan_headers, 1, "defaults: header scan on");
	is_int(cfg->request_body.sensitive_headers.n, 6,
	    "defaults: sensitive headers");
	is_int(cfg->logging.include_allowed, 1, "defaults: include_allowed");
	is_int(cfg->logging.json, 1, "defaults: json logs");
	is_str(cfg->kill_switch.message, "Emergency deny-all active",
	    "defaults: kill switch message");
	is_int(cfg->tls.cert_ttl_seconds, 86400, "defaults: cert_ttl 24h");
	is_int(fw->tproxy_port, 8890, "defaults: tproxy_port");
	is_int(fw->queue_num, 0, "defaults: queue_num");
	is_int(fw->mark, FW_DEFAULT_MARK, "defaults: mark");
	is_int(fw->engine_mark, FW_DEFAULT_ENGINE_MARK, "defaults: engine_mark");
	is_int(fw->fail_closed, 1, "defaults: fail closed");
	is_int(fw->ipv6, 1, "defaults: ipv6");
	is_int(fw->dns, FW_DNS_INSPECT, "defaults: dns inspect");
	is_int(fw->quic, FW_QUIC_BLOCK, "defaults: quic block");
	is_int(fw->other_tcp, FW_OTHER_TCP_BLOCK, "defaults: other tcp block");
	is_int(fw->n_loopback_ports, 2, "defaults: two loopback ports");
	ok(fw->loopback_ports[0] == 8888 && fw->loopback_ports[1] == 53,
	    "defaults: loopback = proxy port + 53");
	is_int(fw->loopback_all, 0, "defaults: not all loopback");
	is_int(fw->max_conns_per_agent, 512, "defaults: per-agent conns");
	is_int(fw->max_conns_total, 8192, "defaults: total conns");
	is_int(fw->idle_timeout_s, 300, "defaults: idle timeout");
	is_int(fw->connect_timeout_s, 10, "defaults: connect timeout");
	is_int(fw->first_bytes_timeout_ms, 5000, "defaults: first bytes");
	is_int(cfg->warnings.n, 0, "defaults: no warnings");
	config_free(cfg);
}

static void
test_file_defaults(void)
{
	struct config *cfg;

	cfg = load("version: 1\n");
	ok(cfg != NULL, "minimal file loads: %s", err);
	if (cfg != NULL) {
		is_int(cfg->scanner.api_allowlist.n, 0,
		    "file: api_allowlist empty when omitted");
		is_int(cfg->scanner.blocklist.n, 0,
		    "file: blocklist empty when omitted");
		ok(cfg->scanner.internal.n > 0, "file: internal omitted => "
		    "default ranges");
		is_str(cfg->path, "t.yaml", "file: path kept");
	}
	config_free(cfg);

	cfg = load("");
	ok(cfg != NULL, "empty file loads");
	config_free(cfg);

	cfg = load("internal: []\n");
	ok(cfg != NULL && cfg->scanner.internal.n == 0, "internal: [] => empty");
	config_free(cfg);
	cfg = load("internal:\n");
	ok(cfg != NULL && cfg->scanner.internal.n > 0,
	    "internal: null => default ranges");
	config_free(cfg);
	cfg = load("internal: [10.0.0.0/8]\n");
	ok(cfg != NULL && cfg->scanner.internal.n == 1 &&
	    strcmp(cfg->scanner.internal.v[0], "10.0.0.0/8") == 0,
	    "internal: replaced");
	config_free(cfg);

	cfg = load("request_body_scanning:\n  enabled:\n  scan_headers: ~\n"
	    "dlp:\n  scan_env: null\n");
	ok(cfg != NULL && cfg->request_body.enabled == 1 &&
	    cfg->request_body.scan_headers == 1 && cfg->dlp_scan_env == 1,
	    "omitted/null booleans stay true (fail closed)");
	config_free(cfg);

	cfg = load("enforce: false\nrequest_body_scanning:\n  enabled: false\n");
	ok(cfg != NULL && cfg->enforce == 0 && cfg->scanner.enforce == 0 &&
	    cfg->request_body.enabled == 0, "explicit false honoured");
	config_free(cfg);

	cfg = load("fetch_proxy:\n  timeout_seconds: 0\n  max_response_mb: -3\n"
	    "  monitoring:\n    max_requests_per_minute: 0\n"
	    "    entropy_threshold: 0\n");
	ok(cfg != NULL && cfg->fetch_proxy.timeout_seconds == 30 &&
	    cfg->fetch_proxy.max_response_mb == 10 &&
	    cfg->fetch_proxy.max_requests_per_minute == 60 &&
	    cfg->scanner.entropy_threshold > 0, "<= 0 numbers => default");
	config_free(cfg);

	cfg = load("fetch_proxy:\n  listen: 127.0.0.1:9999\n"
	    "  monitoring:\n    max_url_length: 100\n"
	    "    entropy_threshold: 3.5\n    blocklist: ['*.evil.test']\n"
	    "mode: strict\napi_allowlist: [github.com]\n"
	    "trusted_domains: ['LOCALHOST.']\n"
	    "tls_interception:\n  cert_ttl: 1h30m\n");
	ok(cfg != NULL, "values load: %s", err);
	if (cfg != NULL) {
		is_int(cfg->scanner.max_url_length, 100, "max_url_length");
		ok(cfg->scanner.entropy_threshold == 3.5, "entropy_threshold");
		is_int(cfg->scanner.strict, 1, "strict mode -> scanner.strict");
		is_int(cfg->scanner.blocklist.n, 1, "blocklist set");
		is_str(cfg->scanner.trusted_domains.v[0], "localhost",
		    "trusted_domains normalised");
		is_int(cfg->tls.cert_ttl_seconds, 5400, "cert_ttl 1h30m");
		ok(cfg->fw.loopback_ports[0] == 9999,
		    "loopback default follows fetch_proxy.listen");
	}
	config_free(cfg);
}

static void
test_errors(void)
{
	load_err("fetch_proxy:\n  monitring:\n    max_url_length: 1\n",
	    "t.yaml:2:3: fetch_proxy.monitring: unknown key 'monitring' "
	    "(did you mean 'monitoring'?)", "unknown key, did you mean");
	load_err("api_alowlist: [a.com]\n",
	    "t.yaml:1:1: api_alowlist: unknown key 'api_alowlist' "
	    "(did you mean 'api_allowlist'?)", "unknown top-level key");
	load_err("zzzzzz: 1\n", "t.yaml:1:1: zzzzzz: unknown key 'zzzzzz'",
	    "unknown key, nothing close");
	load_err("dlp:\n  patterns:\n    - name: x\n      regx: 'a'\n",
	    "t.yaml:4:7: dlp.patterns[0].regx: unknown key 'regx' "
	    "(did you mean 'regex'?)", "unknown pattern key");
	load_err("enforce: maybe\n",
	    "t.yaml:1:1: enforce: expected true or false, got 'maybe'",
	    "wrong type bool");
	load_err("fetch_proxy:\n  timeout_seconds: soon\n",
	    "t.yaml:2:3: fetch_proxy.timeout_seconds: expected an integer, "
	    "got 'soon'", "wrong type int");
	load_err("api_allowlist: github.com\n",
	    "t.yaml:1:1: api_allowlist: expected a list, got 'github.com'",
	    "wrong type list");
	load_err("logging: json\n",
	    "t.yaml:1:1: logging: expected a mapping, got 'json'",
	    "wrong type mapping");
	load_err("mode: permissive\n",
	    "t.yaml:1:1: mode: invalid value 'permissive' (expected one of: "
	    "balanced, strict, audit)", "bad enum");
	load_err("firewall:\n  dns: filter\n",
	    "t.yaml:2:3: firewall.dns: invalid value 'filter' (expected one "
	    "of: inspect, allow, block)", "bad firewall enum");
	load_err("internal:\n  - 10.0.0.0/8\n  - 10.0.0.0/33\n",
	    "t.yaml:3:5: internal[1]: '10.0.0.0/33': prefix length out of "
	    "range", "bad CIDR prefix");
	load_err("internal: [10.0.0.1]\n",
	    "t.yaml:1:12: internal[0]: '10.0.0.1': not a CIDR (want "
	    "ADDRESS/PREFIX, e.g. 10.0.0.0/8)", "CIDR without prefix");
	load_err("ssrf:\n  ip_allowlist: [10.0.0.5/24]\n",
	    "t.yaml:2:18: ssrf.ip_allowlist[0]: '10.0.0.5/24': host bits set "
	    "(use the network address)", "ssrf host bits");
	load_err("ssrf:\n  ip_allowlist: ['::/0']\n",
	    "t.yaml:2:18: ssrf.ip_allowlist[0]: '::/0': a /0 range is refused",
	    "ssrf /0");
	load_err("fetch_proxy:\n  listen: localhost\n",
	    "t.yaml:2:3: fetch_proxy.listen: 'localhost': not host:port",
	    "bad host:port");
	load_err("metrics_listen: '127.0.0.1:70000'\n",
	    "t.yaml:1:1: metrics_listen: '127.0.0.1:70000': port out of "
	    "range 1-65535", "port out of range");
	load_err("mode: strict\n",
	    "t.yaml:1:1: mode: strict mode requires a non-empty api_allowlist",
	    "strict without allowlist");
	load_err("dlp:\n  action: block\n",
	    "t.yaml:2:3: dlp.action: 'block': dlp.action is reserved by "
	    "pipelock and must be empty (set action per pattern)",
	    "dlp.action set");
	load_err("dlp:\n  patterns:\n    - name: x\n      regex: a\n"
	    "      action: block\n",
	    "t.yaml:5:7: dlp.patterns[0].action: invalid action 'block' (only "
	    "'warn' is allowed)", "pattern action");
	load_err("dlp:\n  patterns:\n    - name: GitHub Token\n"
	    "      regex: 'ghp_x'\n      action: warn\n",
	    "t.yaml:5:7: dlp.patterns[0].action: 'warn' is not allowed on "
	    "built-in pattern 'GitHub Token'", "warn on a built-in");
	load_err("dlp:\n  patterns:\n    - name: x\n",
	    "t.yaml:3:7: dlp.patterns[0]: missing required key 'regex'",
	    "pattern without regex");
	load_err("dlp:\n  patterns:\n    - regex: x\n      validator: crc\n",
	    "t.yaml:4:7: dlp.patterns[0].validator: invalid validator 'crc' "
	    "(expected one of: luhn, mod97, aba, wif)", "bad validator");
	load_err("version: 1\n---\nmode: strict\n",
	    "t.yaml:2:1: a second YAML document is not allowed (pipelock "
	    "reads exactly one)", "second YAML document");
	load_err("version: 1\n---\n",
	    "t.yaml:2:1: a second YAML document is not allowed (pipelock "
	    "reads exactly one)", "trailing document marker");
	load_err("mode: balanced\nmode: strict\n",
	    "t.yaml:2:1: mode: duplicate key (first at line 1)",
	    "duplicate key");
	load_err("mode: [\n",
	    "t.yaml:2:1: YAML syntax error: did not find expected node "
	    "content while parsing a flow node", "YAML syntax error");
	load_err("- a\n- b\n",
	    "t.yaml:1:1: the top level must be a mapping of keys",
	    "top level list");
	load_err("seed_phrase_detection:\n  min_words: 13\n",
	    "t.yaml:2:3: seed_phrase_detection.min_words: '13': must be 12, "
	    "15, 18, 21 or 24", "seed min_words");
	load_err("trusted_domains: ['*.com']\n",
	    "t.yaml:1:19: trusted_domains[0]: '*.com': a wildcard must name "
	    "more than a top-level domain", "trusted *.tld");
	load_err("logging:\n  output: file\n",
	    "t.yaml:2:3: logging.output: output to a file requires "
	    "logging.file", "log file required");
	load_err("kill_switch:\n  api_listen: '127.0.0.1:8888'\n"
	    "  api_token: x\n",
	    "t.yaml:2:3: kill_switch.api_listen: port 8888 is already used by "
	    "fetch_proxy.listen", "api_listen port clash");
	load_err("tls_interception:\n  cert_ttl: forever\n",
	    "t.yaml:2:3: tls_interception.cert_ttl: 'forever': not a duration "
	    "(e.g. 24h, 90m, 30s)", "bad duration");
}

static void
test_firewall(void)
{
	struct passwd *pw;
	struct group *gr;
	struct config *cfg;
	uid_t nobody_uid, daemon_uid;
	gid_t daemon_gid;

	/* getpw*() return static storage: keep the ids */
	ok((pw = getpwnam("nobody")) != NULL, "test user nobody exists");
	if (pw == NULL)
		return;
	nobody_uid = pw->pw_uid;
	ok((pw = getpwnam("daemon")) != NULL, "test user daemon exists");
	if (pw == NULL)
		return;
	daemon_uid = pw->pw_uid;
	ok((gr = getgrnam("daemon")) != NULL, "test group daemon exists");
	if (gr == NULL)
		return;
	daemon_gid = gr->gr_gid;
	cfg = load("firewall:\n"
	    "  agent_users: [nobody, daemon, 1000, '1001', nobody]\n"
	    "  agent_groups: [daemon]\n"
	    "  tproxy_port: 9000\n  queue_num: 7\n  mark: 0x4000\n"
	    "  engine_mark: 0x8000\n  route_table: 100\n"
	    "  rule_priority: 1000\n  fail_mode: open\n  ipv6: false\n"
	    "  dns: block\n  dns_servers: [192.0.2.53, '2001:db8::53']\n"
	    "  quic: inspect\n  other_tcp: allow\n"
	    "  loopback_ports: [8080, 8080, 5432]\n"
	    "  allow_ip_cidrs: [198.51.100.0/24]\n"
	    "  max_conns_per_agent: 10\n  max_conns_total: 20\n"
	    "  idle_timeout_seconds: 60\n  connect_timeout_seconds: 3\n"
	    "  first_bytes_timeout_ms: 750\n");
	ok(cfg != NULL, "firewall section loads: %s", err);
	if (cfg != NULL) {
		const struct firewall_config *fw = &cfg->fw;

		is_int(fw->n_agent_uids, 4, "agent_users: 4 distinct uids");
		is_int(fw->agent_uids[0], nobody_uid, "nobody -> uid");
		is_int(fw->agent_uids[1], daemon_uid, "daemon -> uid");
		is_int(fw->agent_uids[2], 1000, "numeric uid");
		is_int(fw->agent_uids[3], 1001, "quoted numeric uid");
		is_int(fw->n_agent_gids, 1, "agent_groups");
		is_int(fw->agent_gids[0], daemon_gid, "daemon -> gid");
		is_int(fw->tproxy_port, 9000, "tproxy_port");
		is_int(fw->queue_num, 7, "queue_num");
		is_int(fw->mark, 0x4000, "mark (hex)");
		is_int(fw->engine_mark, 0x8000, "engine_mark");
		is_int(fw->route_table, 100, "route_table");
		is_int(fw->rule_priority, 1000, "rule_priority");
		is_int(fw->fail_closed, 0, "fail_mode open");
		is_int(fw->ipv6, 0, "ipv6 false");
		is_int(fw->dns, FW_DNS_BLOCK, "dns block");
		is_int(fw->dns_servers.n, 2, "dns_servers");
		is_str(fw->dns_servers.v[1], "2001:db8::53", "dns_servers v6");
		is_int(fw->quic, FW_QUIC_INSPECT, "quic inspect");
		is_int(fw->other_tcp, FW_OTHER_TCP_ALLOW, "other_tcp allow");
		is_int(fw->n_loopback_ports, 2, "loopback_ports deduplicated");
		is_int(fw->loopback_ports[1], 5432, "loopback port");
		is_int(fw->allow_ip_cidrs.n, 1, "allow_ip_cidrs");
		is_int(fw->max_conns_per_agent, 10, "max_conns_per_agent");
		is_int(fw->max_conns_total, 20, "max_conns_total");
		is_int(fw->idle_timeout_s, 60, "idle_timeout_seconds");
		is_int(fw->connect_timeout_s, 3, "connect_timeout_seconds");
		is_int(fw->first_bytes_timeout_ms, 750, "first_bytes_timeout_ms");
	}
	config_free(cfg);

	cfg = load("firewall:\n  loopback_ports: all\n");
	ok(cfg != NULL && cfg->fw.loopback_all == 1 &&
	    cfg->fw.n_loopback_ports == 0, "loopback_ports: all");
	config_free(cfg);
	cfg = load("firewall:\n  loopback_ports: []\n");
	ok(cfg != NULL && cfg->fw.loopback_all == 0 &&
	    cfg->fw.n_loopback_ports == 0, "loopback_ports: [] => none");
	config_free(cfg);

	load_err("firewall:\n  agent_users: [nobody, root]\n",
	    "t.yaml:2:25: firewall.agent_users[1]: 'root' is uid 0 (root): "
	    "refused, the agent must not run as root", "uid 0 by name");
	load_err("firewall:\n  agent_users:\n    - 0\n",
	    "t.yaml:3:7: firewall.agent_users[0]: '0' is uid 0 (root): "
	    "refused, the agent must not run as root", "uid 0 by number");
	load_err("firewall:\n  agent_users: [no-such-user-h3]\n",
	    "t.yaml:2:17: firewall.agent_users[0]: unknown user "
	    "'no-such-user-h3'", "unknown user");
	load_err("firewall:\n  agent_groups: [no-such-group-h3]\n",
	    "t.yaml:2:18: firewall.agent_groups[0]: unknown group "
	    "'no-such-group-h3'", "unknown group");
	load_err("firewall:\n  mark: 0\n",
	    "t.yaml:2:3: firewall.mark: '0' out of range 1-4294967295",
	    "mark must be non-zero");
	load_err("firewall:\n  mark: 0x300000\n",
	    "t.yaml:2:3: firewall.engine_mark: 0x00200000 overlaps "
	    "firewall.mark 0x00300000", "engine_mark overlaps mark");
	load_err("firewall:\n  route_table: 254\n",
	    "t.yaml:2:3: firewall.route_table: 254 is a kernel table (253 "
	    "default, 254 main, 255 local)",
	    "route_table main refused");
	load_err("firewall:\n  tproxy_port: 0\n",
	    "t.yaml:2:3: firewall.tproxy_port: '0' out of range 1-65535",
	    "tproxy_port 0");
	load_err("firewall:\n  loopback_ports: some\n",
	    "t.yaml:2:3: firewall.loopback_ports: expected a list of ports or "
	    "'all', got 'some'", "loopback_ports bad word");
	load_err("firewall:\n  loopback_ports: [80, 99999]\n",
	    "t.yaml:2:24: firewall.loopback_ports[1]: '99999': not a port "
	    "(1-65535)", "loopback port range");
	load_err("firewall:\n  dns_servers: [resolver.local]\n",
	    "t.yaml:2:17: firewall.dns_servers[0]: 'resolver.local': not an "
	    "IP address", "dns_servers not an IP");
	load_err("firewall:\n  allow_ip_cidrs: [198.51.100.1/24]\n",
	    "t.yaml:2:20: firewall.allow_ip_cidrs[0]: '198.51.100.1/24': host "
	    "bits set (use the network address)", "allow_ip_cidrs host bits");
	load_err("firewall:\n  agent_user: [nobody]\n",
	    "t.yaml:2:3: firewall.agent_user: unknown key 'agent_user' (did you "
	    "mean 'agent_users'?)", "firewall typo");
}

static void
test_warnings(void)
{
	struct config *cfg;

	cfg = load("sentry:\n  enabled: true\n  dsn: x\nmcp_future_thing:\n"
	    "  a: 1\nforward_proxy:\n  redirect_websocket_hosts: [a]\n"
	    "response_scanning:\n  enabled: true\n");
	ok(cfg != NULL, "unimplemented sections load: %s", err);
	if (cfg != NULL) {
		ok(has_warning(cfg, "sentry: not implemented by pipelock-fw, "
		    "ignored"), "warning names the section");
		ok(has_warning(cfg, "mcp_future_thing: not implemented by "
		    "pipelock-fw, ignored"), "any mcp_* section is accepted");
		ok(has_warning(cfg, "forward_proxy.redirect_websocket_hosts: "
		    "not implemented by pipelock-fw, ignored"),
		    "warning names a nested key");
		is_int(cfg->warnings.n, 4, "one warning per section or key");
	}
	config_free(cfg);
}

static void
test_patterns(void)
{
	struct config *cfg;

	cfg = load("dlp:\n  include_defaults: false\n  patterns:\n"
	    "    - name: Mine\n      regex: 'mine-[0-9]{8}'\n"
	    "      severity: high\n      validator: luhn\n"
	    "      exempt_domains: ['*.Example.com']\n"
	    "    - name: Warn\n      regex: 'w[0-9]+'\n      action: warn\n");
	ok(cfg != NULL, "patterns load: %s", err);
	if (cfg != NULL) {
		is_int(cfg->scanner.npatterns, 2, "two user patterns");
		is_int(cfg->scanner.dlp_include_defaults, 0, "include_defaults");
		is_str(cfg->scanner.patterns[0].name, "Mine", "pattern name");
		is_int(cfg->scanner.patterns[0].validator, SCAN_VALIDATE_LUHN,
		    "validator");
		is_str(cfg->scanner.patterns[0].exempt_domains.v[0],
		    "*.example.com", "exempt_domains normalised");
		is_int(cfg->scanner.patterns[1].warn_only, 1, "action warn");
		is_int(cfg->dlp_pattern_marks[1].line, 10, "regex mark line");
		is_int(cfg->dlp_pattern_marks[1].col, 7, "regex mark col");
	}
	config_free(cfg);
}

/* The full load path: the regex error names the pattern's position. */
static void
test_bad_regex(void)
{
	const char *yaml = "dlp:\n  patterns:\n    - name: ok\n"
	    "      regex: 'fine[0-9]+'\n    - name: broken\n"
	    "      regex: 'abc(def'\n";
	struct config *cfg = load(yaml);
	struct policy *p;
	const char *want = "t.yaml:6:7: dlp.patterns[1].regex: ";

	ok(cfg != NULL, "bad regex: config_load does not compile");
	if (cfg == NULL)
		return;
	p = policy_new(cfg, err, sizeof(err));
	ok(p == NULL, "bad regex: policy_new fails");
	ok(strncmp(err, want, strlen(want)) == 0, "bad regex: position and "
	    "key path: %s", err);
	ok(strstr(err, "offset") != NULL, "bad regex: PCRE2 offset given");
	policy_unref(p);

	cfg = load("dlp:\n  patterns:\n    - name: ok\n      regex: 'a+b'\n");
	p = cfg ? policy_new(cfg, err, sizeof(err)) : NULL;
	ok(p != NULL && p->refs == 1, "good pattern: policy built: %s", err);
	policy_swap(policy_ref(p));
	ok(policy_current() == p && p->refs == 3, "policy_current takes a ref");
	policy_unref(p);
	policy_swap(NULL);
	is_int(p->refs, 1, "policy_swap drops the old reference");
	policy_unref(p);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		diag("write %s: %s", path, strerror(errno));
	if (fd != -1) {
		fchmod(fd, mode);
		close(fd);
	}
}

static void
test_secrets_file(void)
{
	char dir[] = "/tmp/h3cfgXXXXXX", cpath[256], spath[256], want[1200];
	struct config *cfg = NULL;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(cpath, sizeof(cpath), "%s/pipelock.yaml", dir);
	snprintf(spath, sizeof(spath), "%s/secrets.txt", dir);
	write_file(cpath, "dlp:\n  secrets_file: secrets.txt\n", 0644);
	write_file(spath, "\xef\xbb\xbfsupersecretvalue-0001\n# comment\n"
	    "\n   padded-secret-value-0002   \nshort\n"
	    "supersecretvalue-0001\n", 0600);
	ok(config_load(cpath, &cfg, err, sizeof(err)) == 0,
	    "secrets_file relative to the config: %s", err);
	if (cfg != NULL) {
		ok(cfg->dlp_secrets_file != NULL &&
		    strcmp(cfg->dlp_secrets_file, spath) == 0,
		    "secrets_file resolved against the config directory");
		ok(sl_contains(&cfg->scanner.known_secrets,
		    "supersecretvalue-0001"), "BOM stripped");
		ok(sl_contains(&cfg->scanner.known_secrets,
		    "padded-secret-value-0002"), "line trimmed");
		ok(!sl_contains(&cfg->scanner.known_secrets, "short"),
		    "line shorter than min_env_secret_length skipped");
		ok(!sl_contains(&cfg->scanner.known_secrets, "# comment"),
		    "comment skipped");
	}
	config_free(cfg);
	cfg = NULL;

	chmod(spath, 0644);
	ok(config_load(cpath, &cfg, err, sizeof(err)) == -1,
	    "world-readable secrets_file refused");
	snprintf(want, sizeof(want), "%s:2:3: dlp.secrets_file: '%s' has mode "
	    "0644: it must not be group-writable or accessible by others "
	    "(chmod 600)", cpath, spath);
	is_str(err, want, "secrets_file mode message");
	config_free(cfg);
	cfg = NULL;

	chmod(spath, 0640);
	ok(config_load(cpath, &cfg, err, sizeof(err)) == 0,
	    "0640 secrets_file accepted (no bits in 0037)");
	config_free(cfg);
	cfg = NULL;

	unlink(spath);
	ok(config_load(cpath, &cfg, err, sizeof(err)) == -1 &&
	    strstr(err, "No such file") != NULL, "missing secrets_file: %s",
	    err);
	config_free(cfg);
	unlink(cpath);
	rmdir(dir);
}

static const char *
ref_dir(void)
{
	const char *d = getenv("PIPELOCK_REF_CONFIGS");

	return d ? d : "../shared/reference/pipelock-configs";
}

/* Every real pipelock config loads and compiles, with warnings only. */
static void
test_reference_configs(void)
{
	char path[1024];
	struct dirent *de;
	struct config *cfg;
	struct policy *p;
	size_t n = 0, len;
	DIR *d;

	if ((d = opendir(ref_dir())) == NULL) {
		ok(0, "reference configs at %s: %s", ref_dir(), strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", ref_dir(), de->d_name);
		cfg = NULL;
		ok(config_load(path, &cfg, err, sizeof(err)) == 0,
		    "reference %s loads: %s", de->d_name, err);
		if (cfg == NULL)
			continue;
		p = policy_new(cfg, err, sizeof(err));
		ok(p != NULL, "reference %s compiles: %s", de->d_name, err);
		policy_unref(p);
		n++;
	}
	closedir(d);
	ok(n >= 9, "all %zu reference configs seen", n);
}

int
main(void)
{
	test_defaults();
	test_file_defaults();
	test_errors();
	test_firewall();
	test_warnings();
	test_patterns();
	test_secrets_file();
	test_bad_regex();
	test_reference_configs();
	return tap_done();
}
