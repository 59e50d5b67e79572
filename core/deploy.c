/*
 * deploy.c - `pipelock-fw generate docker-compose|systemd|k8s`: the
 * deployment recipes as files.
 *
 *   docker-compose  the agent on an `internal: true` network only (no route
 *                   out); the engine on that network and an egress one, as
 *                   the agent's explicit proxy (HTTPS_PROXY/HTTP_PROXY).
 *                   Isolation comes from the network, not from nftables.
 *   systemd         scripts/pipelock-fw.service for a given config path
 *                   (the shipped file is this output for the default path;
 *                   t_deploy_generate.sh checks they are equal).
 *   k8s             a Pod whose init container applies the firewall in the
 *                   pod's network namespace, the engine as a (native)
 *                   sidecar, the agent as its own uid without capabilities:
 *                   enforced by the kernel, not merely pointed at a proxy.
 *
 * Every kind is plain text written here; only the config is loaded (to
 * validate it and to read the ports it sets).  `verify` is in
 * deploy_verify.c.
 */
#include "core/deploy.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/config.h"
#include "tproxy/engine.h"	/* ENGINE_FDS_PER_CONN: the unit's LimitNOFILE */

#define DEPLOY_DEFAULT_CONFIG	"/etc/pipelock-fw/pipelock.yaml"
#define DEPLOY_CONFIG_DIR	"/etc/pipelock-fw"
#define DEPLOY_DEFAULT_BINARY	"/usr/local/sbin/pipelock-fw"
#define DEPLOY_DEFAULT_UID	1000
#define DEPLOY_PROXY_PORT	8888	/* fetch_proxy.listen's default port */
#define DEPLOY_NAME_MAX		40	/* leaves room for "-egress" etc. in
					   a 63-character DNS label */
#define DEPLOY_CONFIG_MAX	(512u << 10)	/* k8s ConfigMap: 1 MiB max */
#define DEPLOY_NOFILE_MIN	65536ul	/* the unit's LimitNOFILE at least */

enum deploy_kind {
	DEPLOY_COMPOSE = 0,
	DEPLOY_SYSTEMD,
	DEPLOY_K8S,
};

static const struct {
	const char	*name;
	enum deploy_kind kind;
} deploy_kinds[] = {
	{ "docker-compose", DEPLOY_COMPOSE },
	{ "systemd", DEPLOY_SYSTEMD },
	{ "k8s", DEPLOY_K8S },
};

struct deploy_opts {
	enum deploy_kind kind;
	const char	*agent;		/* name of the agent service/container */
	const char	*output;	/* NULL: stdout */
	const char	*config;	/* local file, validated (NULL: none) */
	const char	*binary;	/* systemd: absolute path of the binary */
	const char	*agent_image;
	const char	*engine_image;
	unsigned long	 agent_uid;
};

/* What generation needs from a loaded config (or the defaults). */
struct deploy_info {
	char		 pod_config[PATH_MAX];	/* path inside the deployment */
	unsigned	 proxy_port;
	int		 forward_proxy;
	unsigned long	 nofile;	/* systemd LimitNOFILE= */
	char		*text;		/* the file itself (k8s ConfigMap) */
	size_t		 textlen;
};

int
deploy_generate_known(const char *kind)
{
	size_t i;

	for (i = 0; i < sizeof(deploy_kinds) / sizeof(deploy_kinds[0]); i++)
		if (strcmp(kind, deploy_kinds[i].name) == 0)
			return 1;
	return 0;
}

static void
deploy_usage(FILE *f)
{
	fprintf(f, "Usage: %s generate docker-compose|systemd|k8s --agent NAME "
	    "[-o FILE] [--config FILE]\n"
	    "           [--agent-uid UID] [--agent-image IMAGE] "
	    "[--engine-image IMAGE] [--binary PATH]\n\n"
	    "Print a deployment file (standard output without -o).\n"
	    "  docker-compose  the agent on an internal-only network, the engine "
	    "on it and\n"
	    "                  on an egress network as the agent's HTTPS_PROXY "
	    "(port %d)\n"
	    "  systemd         the pipelock-fw.service unit (firewall applied "
	    "before the\n"
	    "                  network is up); --agent is then optional\n"
	    "  k8s             a Pod: init container `firewall apply` in the "
	    "pod's network\n"
	    "                  namespace, the engine as a sidecar, the agent "
	    "as uid UID\n"
	    "  --agent NAME        the agent's service/container name (a DNS "
	    "label)\n"
	    "  --config FILE       the config, validated; an absolute path is "
	    "also its path in\n"
	    "                      the deployment (default %s);\n"
	    "                      k8s: embedded in a ConfigMap\n"
	    "  --agent-uid UID     k8s/compose: the agent's uid (default %d)\n"
	    "  --agent-image IMG   the agent's image (default: NAME:latest)\n"
	    "  --engine-image IMG  an image holding pipelock-fw (default "
	    "pipelock-fw:latest)\n"
	    "  --binary PATH       systemd: the binary (default %s)\n",
	    progname, DEPLOY_PROXY_PORT, DEPLOY_DEFAULT_CONFIG,
	    DEPLOY_DEFAULT_UID, DEPLOY_DEFAULT_BINARY);
}

/* A DNS label (RFC 1123): it names compose services and k8s objects. */
static int
name_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > DEPLOY_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

/* Paths and images are written unquoted into YAML and unit files. */
static int
word_valid(const char *s)
{
	size_t i;

	if (*s == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    strchr("/._-:@+", s[i]) != NULL))
			return 0;
	return 1;
}

/* 0 parsed, 1 --help, -1 usage error (message printed). */
static int
opts_parse(int argc, char **argv, struct deploy_opts *o)
{
	static const struct option longopts[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "output", required_argument, NULL, 'o' },
		{ "config", required_argument, NULL, 'c' },
		{ "agent-uid", required_argument, NULL, 'u' },
		{ "agent-image", required_argument, NULL, 'i' },
		{ "engine-image", required_argument, NULL, 'e' },
		{ "binary", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	size_t i;
	long n;
	int ch;

	memset(o, 0, sizeof(*o));
	o->binary = DEPLOY_DEFAULT_BINARY;
	o->engine_image = "pipelock-fw:latest";
	o->agent_uid = DEPLOY_DEFAULT_UID;
	for (i = 0; i < sizeof(deploy_kinds) / sizeof(deploy_kinds[0]); i++)
		if (strcmp(argv[0], deploy_kinds[i].name) == 0)
			o->kind = deploy_kinds[i].kind;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "a:o:c:h", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'a':
			o->agent = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 'u':
			if (cli_parse_long(optarg, 1, (long)UINT32_MAX - 1,
			    &n) == -1) {
				fprintf(stderr, "%s generate: --agent-uid: a "
				    "numeric uid other than 0\n", progname);
				return -1;
			}
			o->agent_uid = (unsigned long)n;
			break;
		case 'i':
			o->agent_image = optarg;
			break;
		case 'e':
			o->engine_image = optarg;
			break;
		case 'b':
			o->binary = optarg;
			break;
		case 'h':
			return 1;
		default:
			return -1;
		}
	}
	if (optind != argc)
		return -1;
	if (o->agent == NULL && o->kind != DEPLOY_SYSTEMD) {
		fprintf(stderr, "%s generate %s: --agent NAME is required\n",
		    progname, argv[0]);
		return -1;
	}
	if (o->agent != NULL && (!name_valid(o->agent) ||
	    strcmp(o->agent, "pipelock-fw") == 0)) {
		fprintf(stderr, "%s generate: --agent `%s': lowercase letters, "
		    "digits and '-', at most %d, not `pipelock-fw'\n", progname,
		    o->agent, DEPLOY_NAME_MAX);
		return -1;
	}
	if ((o->agent_image != NULL && !word_valid(o->agent_image)) ||
	    !word_valid(o->engine_image) || !word_valid(o->binary) ||
	    o->binary[0] != '/' || (o->config != NULL &&
	    !word_valid(o->config))) {
		fprintf(stderr, "%s generate: images and paths may hold "
		    "letters, digits and /._-:@+ only (--binary: absolute)\n",
		    progname);
		return -1;
	}
	if (o->kind == DEPLOY_SYSTEMD && o->config != NULL &&
	    o->config[0] != '/') {
		fprintf(stderr, "%s generate systemd: --config must be an "
		    "absolute path\n", progname);
		return -1;
	}
	return 0;
}

/* Port of "host:port" / "[v6]:port" / ":port"; 0 when there is none. */
static unsigned
port_of(const char *hostport)
{
	const char *colon;
	char *end;
	unsigned long v;

	if (hostport == NULL || (colon = strrchr(hostport, ':')) == NULL)
		return 0;
	v = strtoul(colon + 1, &end, 10);
	return *end == '\0' && v > 0 && v <= 65535 ? (unsigned)v : 0;
}

/*
 * The config's text, checked to be safe in a YAML block scalar (no CR, no
 * control characters but TAB and LF).
 */
static int
config_text_read(const char *path, struct deploy_info *di)
{
	FILE *f = NULL;
	size_t n, i;
	int ret = -1;

	if ((f = fopen(path, "r")) == NULL ||
	    (di->text = malloc(DEPLOY_CONFIG_MAX + 1)) == NULL) {
		fprintf(stderr, "%s generate: %s: %s\n", progname, path,
		    strerror(errno));
		goto cleanup;
	}
	n = fread(di->text, 1, DEPLOY_CONFIG_MAX + 1, f);
	if (n > DEPLOY_CONFIG_MAX) {
		fprintf(stderr, "%s generate: %s: larger than %u bytes\n",
		    progname, path, DEPLOY_CONFIG_MAX);
		goto cleanup;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)di->text[i] < 0x20 && di->text[i] != '\t' &&
		    di->text[i] != '\n') {
			fprintf(stderr, "%s generate: %s: control character "
			    "(CR?) at byte %zu; cannot embed it\n", progname,
			    path, i);
			goto cleanup;
		}
	di->text[n] = '\0';
	di->textlen = n;
	ret = 0;
cleanup:
	if (f != NULL)
		fclose(f);
	return ret;
}

/* Load and validate o->config (if any); fill di.  -1 on a bad config. */
static int
info_load(const struct deploy_opts *o, struct deploy_info *di)
{
	struct config *cfg = NULL;
	struct passwd *pw;
	char err[CONFIG_ERR_MAX];
	const char *base;
	size_t i;
	int ret = -1, listed = 0;

	memset(di, 0, sizeof(*di));
	di->proxy_port = DEPLOY_PROXY_PORT;
	di->nofile = DEPLOY_NOFILE_MIN;
	snprintf(di->pod_config, sizeof(di->pod_config), "%s",
	    DEPLOY_DEFAULT_CONFIG);
	if (o->config == NULL)
		return 0;
	if (o->config[0] == '/')
		snprintf(di->pod_config, sizeof(di->pod_config), "%s",
		    o->config);
	/* a unit or compose file may be written for another machine */
	if (o->kind != DEPLOY_K8S && access(o->config, F_OK) == -1 &&
	    errno == ENOENT) {
		fprintf(stderr, "%s generate: note: %s does not exist here; "
		    "not validated\n", progname, o->config);
		return 0;
	}
	if (config_load(o->config, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err);
		return -1;
	}
	if (port_of(cfg->fetch_proxy.listen) != 0)
		di->proxy_port = port_of(cfg->fetch_proxy.listen);
	di->forward_proxy = cfg->forward_proxy.enabled;
	/*
	 * The unit gives no CAP_SYS_RESOURCE, so the engine cannot raise its
	 * hard RLIMIT_NOFILE itself: LimitNOFILE= has to cover every
	 * connection max_conns_total allows (what run's rlimit_raise wants).
	 */
	if ((unsigned long)cfg->fw.max_conns_total * ENGINE_FDS_PER_CONN +
	    ENGINE_FD_RESERVE > di->nofile)
		di->nofile = (unsigned long)cfg->fw.max_conns_total *
		    ENGINE_FDS_PER_CONN + ENGINE_FD_RESERVE;
	/* an absolute path is where the deployment has it too */
	if (o->config[0] != '/') {
		base = strrchr(o->config, '/');
		snprintf(di->pod_config, sizeof(di->pod_config), "%s/%s",
		    DEPLOY_CONFIG_DIR, base != NULL ? base + 1 : o->config);
	}
	if (o->kind == DEPLOY_SYSTEMD && o->agent != NULL) {
		/* the unit takes its agents from the config: say if absent */
		pw = getpwnam(o->agent);
		for (i = 0; pw != NULL && i < cfg->fw.n_agent_uids; i++)
			listed |= cfg->fw.agent_uids[i] == pw->pw_uid;
		if (!listed)
			fprintf(stderr, "%s generate systemd: warning: user %s "
			    "is not in firewall.agent_users of %s; the unit "
			    "confines the agents listed there\n", progname,
			    o->agent, o->config);
	}
	if (o->kind == DEPLOY_COMPOSE && !di->forward_proxy)
		fprintf(stderr, "%s generate docker-compose: warning: "
		    "forward_proxy.enabled is false in %s: the agent's HTTPS "
		    "(CONNECT) will be refused\n", progname, o->config);
	if (o->kind == DEPLOY_K8S && config_text_read(o->config, di) == -1)
		goto cleanup;
	ret = 0;
cleanup:
	config_free(cfg);
	return ret;
}

static void
emit_compose(FILE *f, const struct deploy_opts *o,
    const struct deploy_info *di)
{
	const char *a = o->agent;

	fprintf(f,
	    "# docker-compose.yml for agent `%s' behind pipelock-fw.\n"
	    "# Generated by: pipelock-fw generate docker-compose --agent %s\n"
	    "#\n"
	    "# The agent is attached to %s-internal only, a network with "
	    "`internal: true`:\n"
	    "# Docker gives it no route out, so a program that ignores "
	    "HTTPS_PROXY fails\n"
	    "# instead of leaving unseen.  The engine is on both networks "
	    "and is the\n"
	    "# agent's only way out, as its explicit proxy on port %u "
	    "(HTTP forward proxy\n"
	    "# and CONNECT, which needs forward_proxy.enabled: true in the "
	    "config).\n"
	    "#\n"
	    "# Verify (each must behave as commented):\n"
	    "#   docker compose exec %s curl -sS --max-time 5 --noproxy '*' "
	    "https://example.com/   # fails\n"
	    "#   docker compose exec %s curl -sS -o /dev/null -w '%%{http_code}\\n' "
	    "https://example.com/   # 200\n"
	    "#   docker compose exec %s curl -sS -o /dev/null -w '%%{http_code}\\n' \\\n"
	    "#       'http://example.com/?k=sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'   # 403\n"
	    "#   docker compose exec %s sh -c 'nslookup example.com 9.9.9.9'"
	    "   # fails\n"
	    "name: %s\n"
	    "services:\n"
	    "  pipelock-fw:\n"
	    "    image: %s\n"
	    "    command: [\"pipelock-fw\", \"run\", \"--config\", \"%s\", "
	    "\"--listen\", \"0.0.0.0:%u\"]\n"
	    "    volumes:\n"
	    "      - \"%s%s:%s:ro\"\n"
	    "    networks: [%s-internal, %s-egress]\n"
	    "    # no firewall inside: isolation is the internal network, so no "
	    "capability\n"
	    "    cap_drop: [ALL]\n"
	    "    security_opt: [\"no-new-privileges:true\"]\n"
	    "    read_only: true\n"
	    "    restart: unless-stopped\n"
	    "  %s:\n"
	    "    image: %s%s\n"
	    "    user: \"%lu:%lu\"\n"
	    "    environment:\n"
	    "      HTTPS_PROXY: \"http://pipelock-fw:%u\"\n"
	    "      HTTP_PROXY: \"http://pipelock-fw:%u\"\n"
	    "      https_proxy: \"http://pipelock-fw:%u\"\n"
	    "      http_proxy: \"http://pipelock-fw:%u\"\n"
	    "      NO_PROXY: \"\"\n"
	    "      no_proxy: \"\"\n"
	    "    networks: [%s-internal]\n"
	    "    depends_on: [pipelock-fw]\n"
	    "    cap_drop: [ALL]\n"
	    "    security_opt: [\"no-new-privileges:true\"]\n"
	    "networks:\n"
	    "  %s-internal:\n"
	    "    internal: true\n"
	    "  %s-egress: {}\n",
	    a, a, a, di->proxy_port, a, a, a, a, a,
	    o->engine_image, DEPLOY_DEFAULT_CONFIG, di->proxy_port,
	    o->config == NULL || o->config[0] == '/' ||
	    strncmp(o->config, "./", 2) == 0 ? "" : "./",
	    o->config != NULL ? o->config : "./pipelock.yaml",
	    DEPLOY_DEFAULT_CONFIG, a, a,
	    a, o->agent_image != NULL ? o->agent_image : a,
	    o->agent_image != NULL ? "" : ":latest",
	    o->agent_uid, o->agent_uid,
	    di->proxy_port, di->proxy_port, di->proxy_port, di->proxy_port,
	    a, a, a);
}

/*
 * The unit.  scripts/pipelock-fw.service is exactly this for the default
 * config and binary: edit here, then regenerate the file.
 */
static void
emit_systemd(FILE *f, const struct deploy_opts *o,
    const struct deploy_info *di)
{
	fprintf(f,
	    "# pipelock-fw.service - the pipelock-fw egress firewall and its "
	    "engine.\n"
	    "# `pipelock-fw generate systemd --config FILE` prints this unit "
	    "for another\n"
	    "# config path.\n"
	    "#\n"
	    "# Boot order: ExecStartPre= installs the firewall before "
	    "network-pre.target, so\n"
	    "# no interface comes up while agents are unconfined (golden "
	    "images fail closed\n"
	    "# at boot).  Should the engine then fail, the rules stay and "
	    "agent connections\n"
	    "# are refused, never let through.  `run --apply` takes the rules "
	    "over: one\n"
	    "# NFQUEUE per worker, and they are re-applied if a firewall "
	    "reload flushes them.\n"
	    "# Agent users come from firewall.agent_users of the config; use "
	    "numeric uids\n"
	    "# when users come from a network directory (not up this early), "
	    "and set\n"
	    "# firewall.dns_servers: DHCP may not have written resolv.conf "
	    "yet.\n"
	    "[Unit]\n"
	    "Description=pipelock-fw egress firewall for AI agents\n"
	    "Documentation=man:pipelock-fw(8) man:pipelock-fw.yaml(5)\n"
	    "DefaultDependencies=no\n"
	    "After=local-fs.target systemd-sysusers.service "
	    "systemd-tmpfiles-setup.service\n"
	    "Wants=network-pre.target\n"
	    "Before=network-pre.target shutdown.target\n"
	    "Conflicts=shutdown.target\n"
	    "\n"
	    "[Service]\n"
	    "Type=exec\n"
	    "ExecStartPre=%s firewall apply --config %s\n"
	    "ExecStart=%s run --apply --config %s\n"
	    "ExecReload=/bin/kill -HUP $MAINPID\n"
	    "Restart=on-failure\n"
	    "RestartSec=1s\n"
	    "# The audit log file (logging.file) is reopened on SIGUSR2 (see "
	    "the logrotate\n"
	    "# snippet); SIGUSR1 toggles the kill switch.\n"
	    "StateDirectory=pipelock-fw\n"
	    "StateDirectoryMode=0700\n"
	    "ConfigurationDirectory=pipelock-fw\n"
	    "LogsDirectory=pipelock-fw\n"
	    "LogsDirectoryMode=0750\n"
	    "UMask=0077\n"
	    "# firewall.max_conns_total (default 8192) x 6 descriptors per "
	    "relayed connection\n"
	    "# (2 sockets, 2 pipes) + 256, at least 65536: without "
	    "CAP_SYS_RESOURCE the engine\n"
	    "# cannot raise this hard limit itself (it warns at start if it "
	    "falls short).\n"
	    "LimitNOFILE=%lu\n"
	    "#\n"
	    "# Capabilities, the minimum:\n"
	    "#   CAP_NET_ADMIN        nftables, ip rules and routes, "
	    "IP_TRANSPARENT listeners,\n"
	    "#                        NFQUEUE, SO_MARK on upstream sockets, "
	    "SOCK_DESTROY\n"
	    "#   CAP_SYS_PTRACE       naming the process behind a connection "
	    "(/proc/PID/fd links)\n"
	    "#                        and dlp.scan_env (/proc/PID/environ of "
	    "agent processes)\n"
	    "#   CAP_DAC_READ_SEARCH  the same: /proc/PID/fd of another user "
	    "is mode 0500\n"
	    "# Drop the last two if audit lines need no process names and "
	    "dlp.scan_env is off.\n"
	    "# Not CAP_NET_BIND_SERVICE (all listeners are on ports >= 1024) "
	    "nor CAP_NET_RAW.\n"
	    "CapabilityBoundingSet=CAP_NET_ADMIN CAP_SYS_PTRACE "
	    "CAP_DAC_READ_SEARCH\n"
	    "NoNewPrivileges=yes\n"
	    "ProtectSystem=strict\n"
	    "ProtectHome=yes\n"
	    "PrivateTmp=yes\n"
	    "PrivateDevices=yes\n"
	    "ProtectKernelTunables=yes\n"
	    "ProtectKernelModules=yes\n"
	    "ProtectKernelLogs=yes\n"
	    "ProtectControlGroups=yes\n"
	    "ProtectClock=yes\n"
	    "ProtectHostname=yes\n"
	    "RestrictNamespaces=yes\n"
	    "RestrictRealtime=yes\n"
	    "RestrictSUIDSGID=yes\n"
	    "LockPersonality=yes\n"
	    "SystemCallArchitectures=native\n"
	    "SystemCallFilter=@system-service\n"
	    "SystemCallErrorNumber=EPERM\n"
	    "RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK AF_UNIX\n"
	    "# Not MemoryDenyWriteExecute=yes: PCRE2's JIT compiles the DLP "
	    "patterns into\n"
	    "# writable+executable memory and would fail.  Not "
	    "ProtectProc=invisible: the\n"
	    "# engine reads agents' /proc/PID (see CAP_SYS_PTRACE above).  No "
	    "PrivateNetwork=:\n"
	    "# the firewall belongs to the host's network namespace.\n"
	    "\n"
	    "[Install]\n"
	    "WantedBy=multi-user.target\n",
	    o->binary, di->pod_config, o->binary, di->pod_config, di->nofile);
}

/*
 * One of the pod's two pipelock-fw containers: root with CAP_NET_ADMIN only
 * (Kubernetes gives added capabilities to uid 0 alone), in the pod's network
 * namespace.  sidecar: restartPolicy Always (a native sidecar).  uid != 0:
 * passed as --agent-user.
 */
static void
emit_k8s_privileged(FILE *f, const char *name, const char *image,
    int sidecar, const char *args, const char *config, unsigned long uid,
    const char *dir)
{
	fprintf(f,
	    "    - name: %s\n"
	    "      image: %s\n"
	    "%s"
	    "      command: [\"pipelock-fw\", %s, \"--config\", \"%s\"",
	    name, image, sidecar ? "      restartPolicy: Always\n" : "", args,
	    config);
	if (uid != 0)
		fprintf(f, ", \"--agent-user\", \"%lu\"", uid);
	fprintf(f, "]\n"
	    "      volumeMounts:\n"
	    "        - { name: pipelock-fw-config, mountPath: \"%s\", "
	    "readOnly: true }\n"
	    "      securityContext:\n"
	    "        runAsUser: 0\n"
	    "        allowPrivilegeEscalation: false\n"
	    "        readOnlyRootFilesystem: true\n"
	    "        capabilities:\n"
	    "          drop: [ALL]\n"
	    "          add: [NET_ADMIN]\n", dir);
}

static void
emit_k8s(FILE *f, const struct deploy_opts *o, const struct deploy_info *di)
{
	const char *a = o->agent, *p, *nl, *base, *dir_end;
	char dir[PATH_MAX];

	base = strrchr(di->pod_config, '/');
	dir_end = base != NULL && base != di->pod_config ? base : NULL;
	snprintf(dir, sizeof(dir), "%.*s", dir_end != NULL ?
	    (int)(dir_end - di->pod_config) : 1, di->pod_config);
	base = base != NULL ? base + 1 : di->pod_config;

	fprintf(f,
	    "# A Pod running agent `%s' confined by pipelock-fw.\n"
	    "# Generated by: pipelock-fw generate k8s --agent %s\n"
	    "#\n"
	    "# The init container `pipelock-fw-firewall' applies the "
	    "firewall in the pod's\n"
	    "# network namespace (shared by all its containers) with "
	    "CAP_NET_ADMIN; the\n"
	    "# engine runs beside the agent as a native sidecar (an init "
	    "container with\n"
	    "# restartPolicy: Always, Kubernetes >= 1.29).  The agent runs as "
	    "uid %lu with no\n"
	    "# capabilities, so every connection it opens is steered into "
	    "the engine by the\n"
	    "# kernel: no HTTPS_PROXY needed, none to ignore.  Until the "
	    "engine listens, the\n"
	    "# agent's connections are refused (fail closed).  The node "
	    "needs nf_tables with\n"
	    "# nft_tproxy (modules load on the node, not in the pod).\n"
	    "#\n"
	    "# Verify from inside the pod (the engine image carries "
	    "pipelock-fw):\n"
	    "#   kubectl exec %s -c pipelock-fw -- pipelock-fw firewall status\n"
	    "#   kubectl exec %s -c %s -- curl -sS -o /dev/null -w "
	    "'%%{http_code}\\n' \\\n"
	    "#       'http://example.com/?k=sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'   # 403\n"
	    "# or run `pipelock-fw verify --as %lu --config %s` in a debug "
	    "container\n"
	    "# (kubectl debug --profile=netadmin) that shares the pod's "
	    "network.\n"
	    "apiVersion: v1\n"
	    "kind: ConfigMap\n"
	    "metadata:\n"
	    "  name: %s-pipelock-fw\n"
	    "data:\n"
	    "  %s: |2\n",
	    a, a, o->agent_uid, a, a, a, o->agent_uid, di->pod_config, a,
	    base);
	if (di->text != NULL) {
		for (p = di->text; *p != '\0'; p = nl + 1) {
			if ((nl = strchr(p, '\n')) == NULL)
				nl = p + strlen(p);
			if (nl > p)
				fprintf(f, "    %.*s\n", (int)(nl - p), p);
			else
				fprintf(f, "\n");
			if (*nl == '\0')
				break;
		}
	} else
		fprintf(f,
		    "    # built-in defaults, the agent's uid as the agent user\n"
		    "    version: 1\n"
		    "    mode: balanced\n"
		    "    firewall:\n"
		    "      agent_users: [%lu]\n", o->agent_uid);
	fprintf(f,
	    "---\n"
	    "apiVersion: v1\n"
	    "kind: Pod\n"
	    "metadata:\n"
	    "  name: %s\n"
	    "  labels:\n"
	    "    app.kubernetes.io/name: %s\n"
	    "spec:\n"
	    "  # the agent gets no Kubernetes API credentials\n"
	    "  automountServiceAccountToken: false\n"
	    "  hostNetwork: false\n"
	    "  securityContext:\n"
	    "    seccompProfile:\n"
	    "      type: RuntimeDefault\n"
	    "  volumes:\n"
	    "    - name: pipelock-fw-config\n"
	    "      configMap:\n"
	    "        name: %s-pipelock-fw\n"
	    "  initContainers:\n",
	    a, a, a);
	/* the firewall first: the engine and the agent start confined */
	emit_k8s_privileged(f, "pipelock-fw-firewall", o->engine_image, 0,
	    "\"firewall\", \"apply\"", di->pod_config, o->agent_uid, dir);
	emit_k8s_privileged(f, "pipelock-fw", o->engine_image, 1, "\"run\"",
	    di->pod_config, 0, dir);
	fprintf(f,
	    "  containers:\n"
	    "    - name: %s\n"
	    "      image: %s%s\n"
	    "      securityContext:\n"
	    "        runAsUser: %lu\n"
	    "        runAsGroup: %lu\n"
	    "        runAsNonRoot: true\n"
	    "        allowPrivilegeEscalation: false\n"
	    "        capabilities:\n"
	    "          drop: [ALL]\n",
	    a, o->agent_image != NULL ? o->agent_image : a,
	    o->agent_image != NULL ? "" : ":latest",
	    o->agent_uid, o->agent_uid);
}

/*
 * Write to o->output through a temporary file renamed over it, so a
 * reader never sees half a file.
 */
static int
generate_write(const struct deploy_opts *o, const struct deploy_info *di)
{
	char tmp[PATH_MAX];
	FILE *f = stdout;
	int ret = -1;

	tmp[0] = '\0';
	if (o->output != NULL) {
		if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", o->output,
		    (long)getpid()) >= (int)sizeof(tmp) ||
		    (f = fopen(tmp, "w")) == NULL) {
			fprintf(stderr, "%s generate: %s: %s\n", progname,
			    o->output, strerror(errno));
			tmp[0] = '\0';
			goto cleanup;
		}
	}
	switch (o->kind) {
	case DEPLOY_COMPOSE:
		emit_compose(f, o, di);
		break;
	case DEPLOY_SYSTEMD:
		emit_systemd(f, o, di);
		break;
	case DEPLOY_K8S:
		emit_k8s(f, o, di);
		break;
	}
	if (fflush(f) == EOF || ferror(f)) {
		fprintf(stderr, "%s generate: write: %s\n", progname,
		    strerror(errno));
		goto cleanup;
	}
	if (f != stdout) {
		if (fclose(f) == EOF) {
			f = stdout;
			goto cleanup;
		}
		f = stdout;
		if (rename(tmp, o->output) == -1) {
			fprintf(stderr, "%s generate: %s: %s\n", progname,
			    o->output, strerror(errno));
			goto cleanup;
		}
		tmp[0] = '\0';
	}
	ret = 0;
cleanup:
	if (f != stdout)
		fclose(f);
	if (tmp[0] != '\0')
		unlink(tmp);
	return ret;
}

int
deploy_generate_main(int argc, char **argv)
{
	struct deploy_opts o;
	struct deploy_info di;
	int r, ret;

	if ((r = opts_parse(argc, argv, &o)) != 0) {
		deploy_usage(r == 1 ? stdout : stderr);
		return r == 1 ? EXIT_ALLOWED : EXIT_USAGE;
	}
	if (info_load(&o, &di) == -1) {
		free(di.text);
		return EXIT_USAGE;
	}
	ret = generate_write(&o, &di) == 0 ? EXIT_ALLOWED : EXIT_BLOCKED;
	free(di.text);
	return ret;
}
