/*
 * config.h - pipelock.yaml as plain data.
 *
 * config_load() parses YAML (libyaml), fills defaults the way pipelock does
 * (fail-closed booleans, "<= 0 means default"), validates, and compiles
 * nothing: the scanner is built from cfg->scanner by policy.c.  No side
 * effects besides reading the file (and the secrets file, and resolving
 * agent user/group names), so `check`, reload and the daemon share it.
 *
 * Keys of the existing pipelock that this project does not implement are
 * accepted with a warning (cfg->warnings); unknown keys are errors with a
 * "did you mean".  Errors carry file:line:column and the key path.
 */
#ifndef PIPELOCK_CONFIG_H
#define PIPELOCK_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "scanner/scanner.h"

enum config_mode {
	MODE_BALANCED = 0,
	MODE_STRICT,
	MODE_AUDIT,
};

enum fw_dns_mode {
	FW_DNS_INSPECT = 0,
	FW_DNS_ALLOW,
	FW_DNS_BLOCK,
};

enum fw_quic_mode {
	FW_QUIC_BLOCK = 0,
	FW_QUIC_INSPECT,
};

enum fw_other_tcp {
	FW_OTHER_TCP_BLOCK = 0,
	FW_OTHER_TCP_ALLOW,
};

#define FW_DEFAULT_TPROXY_PORT	8890
#define FW_DEFAULT_MARK		0x00100000u	/* agent flows (ct mark + fwmark) */
#define FW_DEFAULT_ENGINE_MARK	0x00200000u	/* SO_MARK of the engine's upstream sockets */
#define FW_DEFAULT_ROUTE_TABLE	8890
#define FW_DEFAULT_RULE_PRIO	8890
#define FW_MAX_AGENTS		256
#define FW_MAX_LOOPBACK_PORTS	64

struct firewall_config {
	uid_t		agent_uids[FW_MAX_AGENTS];
	size_t		n_agent_uids;
	gid_t		agent_gids[FW_MAX_AGENTS];
	size_t		n_agent_gids;
	uint16_t	tproxy_port;
	uint16_t	queue_num;
	uint32_t	mark;		/* a bit mask; masked operations only */
	uint32_t	engine_mark;	/* SO_MARK on upstream sockets, accepted first */
	uint32_t	route_table;
	uint32_t	rule_priority;
	int		fail_closed;	/* fail_mode: closed (1) | open (0) */
	int		ipv6;
	enum fw_dns_mode dns;
	struct strlist	dns_servers;	/* IP literals */
	enum fw_quic_mode quic;
	enum fw_other_tcp other_tcp;
	uint16_t	loopback_ports[FW_MAX_LOOPBACK_PORTS];
	size_t		n_loopback_ports;
	int		loopback_all;
	struct strlist	allow_ip_cidrs;	/* TLS without SNI / raw IP allowed */
	struct strlist	upgrade_allow_hosts; /* HTTP CONNECT/Upgrade allowed to */
	unsigned	max_conns_per_agent;
	unsigned	max_conns_total;
	unsigned	idle_timeout_s;
	unsigned	connect_timeout_s;
	unsigned	first_bytes_timeout_ms;
};

struct config {
	char		*path;		/* NULL: built-in defaults */
	int		 version;
	enum config_mode mode;
	int		 enforce;
	int		 explain_blocks;
	struct scanner_config scanner;	/* lists, thresholds, DLP */

	/* dlp.* that the scanner does not see directly */
	int		 dlp_scan_env;
	char		*dlp_secrets_file;
	size_t		 dlp_min_env_secret_length;

	struct {
		char	*listen;		/* host:port */
		unsigned timeout_seconds;
		unsigned max_response_mb;
		char	*user_agent;
		unsigned max_requests_per_minute;
		uint64_t max_data_per_minute;
	} fetch_proxy;

	struct {
		int	 enabled;
		unsigned max_tunnel_seconds;
		unsigned idle_timeout_seconds;
		int	 sni_verification;
	} forward_proxy;

	struct {
		int	 enabled;
		char	*ca_cert;
		char	*ca_key;
		struct strlist passthrough_domains;
		unsigned cert_ttl_seconds;
		unsigned cert_cache_size;
		uint64_t max_response_bytes;
		char	*upstream_ca_file;	/* extra upstream trust anchors */
	} tls;

	struct {
		int	 enabled;
		int	 action_block;		/* action: block (else warn) */
		uint64_t max_body_bytes;
		int	 scan_headers;
		int	 header_mode_all;	/* header_mode: all (else sensitive) */
		struct strlist sensitive_headers;
		struct strlist ignore_headers;
	} request_body;

	struct {
		int	 enabled;
		char	*sentinel_file;
		char	*message;
		int	 health_exempt;
		int	 metrics_exempt;
		int	 api_exempt;
		char	*api_token;
		char	*api_listen;
		struct strlist allowlist_ips;
	} kill_switch;

	struct {
		int	 json;			/* format: json (else text) */
		int	 to_stdout;
		int	 to_file;
		char	*file;
		int	 include_allowed;
		int	 include_blocked;
	} logging;

	char		*metrics_listen;

	struct firewall_config fw;

	struct strlist	 warnings;	/* "key: not implemented by pipelock-fw, ignored" */

	/*
	 * Where each scanner.patterns[i]'s regex was written (1-based line and
	 * column; 0 when built in), so policy_new() can report a pattern that
	 * fails to compile as FILE:LINE:COL: dlp.patterns[i].regex: ...
	 */
	struct config_mark {
		unsigned line, col;
	}		*dlp_pattern_marks;
};

#define CONFIG_ERR_MAX	1024

/*
 * Load path (NULL: built-in defaults).  On success *out owns a config and 0
 * is returned; on error -1 with err holding
 * "FILE:LINE:COL: key.path: message".
 */
int config_load(const char *path, struct config **out, char *err,
    size_t errlen);
/* Same, from a buffer (fuzzers, tests); name is used in messages. */
int config_load_buffer(const char *name, const char *buf, size_t len,
    struct config **out, char *err, size_t errlen);
void config_free(struct config *cfg);

/* A uid (group 0) or gid (group 1) given as digits or a name: 0, or -1. */
int config_id_parse(const char *s, int group, uint32_t *out);
/*
 * Replace cfg's agent uids (when nusers > 0) and gids (when ngroups > 0)
 * with names or ids from a command line, by the config file's rules: names
 * resolved, 0 refused, duplicates dropped, at most FW_MAX_AGENTS.  0, or -1
 * with the reason in err.
 */
int config_agents_set(struct config *cfg, const char *const *users,
    size_t nusers, const char *const *groups, size_t ngroups, char *err,
    size_t errlen);

#endif
