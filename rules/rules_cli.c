/*
 * rules_cli.c - `pipelock-fw firewall apply|remove|status` and
 * `pipelock-fw generate nftables`.
 *
 * Each subcommand parses its own options and prints its own usage; the
 * work is done by rules.c so the engine (`run --apply`) shares it.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/config.h"
#include "core/deploy.h"
#include "core/log.h"
#include "rules/rules.h"
#include "rules/rules_nft.h"
#include "rules/rules_route.h"
#include "rules/rules_set.h"

#define MAX_UIDS_SHOWN	64

struct apply_opts {
	const char	*config;
	const char	*users[FW_MAX_AGENTS];
	size_t		 nusers;
	const char	*groups[FW_MAX_AGENTS];
	size_t		 ngroups;
	int		 dry_run;
	int		 flags;
};

static void
apply_usage(FILE *f)
{
	fprintf(f, "Usage: %s firewall apply [--config FILE] [--agent-user "
	    "USER]... [--agent-group GROUP]...\n"
	    "                            [--dry-run] [--no-close] "
	    "[--nfqueue=native|xt|off] [--queues N]\n\n"
	    "Install (or atomically replace) table inet %s and its policy "
	    "routes.\n"
	    "  --config FILE      pipelock.yaml (default: built-in defaults)\n"
	    "  --agent-user USER  agent uid or name (repeatable; replaces "
	    "firewall.agent_users)\n"
	    "  --agent-group GRP  agent gid or name (repeatable; replaces "
	    "firewall.agent_groups)\n"
	    "  --dry-run          print the ruleset and routes; change "
	    "nothing\n"
	    "  --no-close         keep agents' existing connections open\n"
	    "  --nfqueue=FORM     agent UDP goes to NFQUEUE in the form the "
	    "kernel has (native\n"
	    "                     nft queue, else xt NFQUEUE); force native|"
	    "xt, or off: reject it\n"
	    "  --queues N         queues firewall.queue_num.. +N-1, one per "
	    "engine worker\n"
	    "                     (`run --workers N`; default 1)\n"
	    "  --close-via=auto|conntrack  internal: how existing agent "
	    "connections are closed\n",
	    progname, RULES_TABLE_NAME);
}

/* Load the config (NULL path: built-in defaults), then the flags. */
static struct config *
load_config(const struct apply_opts *o)
{
	struct config *cfg = NULL;
	char err[CONFIG_ERR_MAX];

	if (config_load(o->config, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err);
		return NULL;
	}
	if (config_agents_set(cfg, o->users, o->nusers, o->groups, o->ngroups,
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err);
		goto fail;
	}
	return cfg;
fail:
	config_free(cfg);
	return NULL;
}

/* Which options a subcommand takes (opts_parse). */
enum opt_set {
	OPT_CONFIG = 1 << 0,	/* --config, --agent-user, --agent-group */
	OPT_APPLY = 1 << 1,	/* --dry-run, --no-close, --close-via */
	OPT_NFQ = 1 << 2,	/* --nfqueue[=native|xt|off], --queues */
};

/*
 * Parse argv (argv[0] the subcommand) into o, accepting the options in
 * set.  0 parsed, 1 --help asked, -1 usage error.
 */
static int
opts_parse(int argc, char **argv, unsigned set, struct apply_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "agent-user", required_argument, NULL, 'u' },
		{ "agent-group", required_argument, NULL, 'g' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "no-close", no_argument, NULL, 'k' },
		{ "close-via", required_argument, NULL, 'x' },
		{ "nfqueue", optional_argument, NULL, 'q' },
		{ "queues", required_argument, NULL, 'Q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long n;
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:u:g:nh", longopts, NULL)) !=
	    -1) {
		if (ch == 'h')
			return 1;
		if ((strchr("cug", ch) != NULL && !(set & OPT_CONFIG)) ||
		    (strchr("nkx", ch) != NULL && !(set & OPT_APPLY)) ||
		    ((ch == 'q' || ch == 'Q') && !(set & OPT_NFQ)))
			return -1;
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'u':
			if (o->nusers == FW_MAX_AGENTS)
				return -1;
			o->users[o->nusers++] = optarg;
			break;
		case 'g':
			if (o->ngroups == FW_MAX_AGENTS)
				return -1;
			o->groups[o->ngroups++] = optarg;
			break;
		case 'n':
			o->dry_run = 1;
			break;
		case 'k':
			o->flags |= RULES_F_NO_DESTROY;
			break;
		case 'x':
			if (strcmp(optarg, "conntrack") == 0)
				o->flags |= RULES_F_CLOSE_CONNTRACK;
			else if (strcmp(optarg, "auto") != 0)
				return -1;
			break;
		case 'q':
			o->flags |= RULES_F_NFQUEUE;
			if (optarg != NULL && strcmp(optarg, "native") == 0)
				o->flags |= RULES_F_NFQ_NATIVE;
			else if (optarg != NULL && strcmp(optarg, "xt") == 0)
				o->flags |= RULES_F_NFQ_XT;
			else if (optarg != NULL && strcmp(optarg, "off") == 0)
				o->flags |= RULES_F_NO_NFQUEUE;
			else if (optarg != NULL)
				return -1;
			break;
		case 'Q':
			if (cli_parse_long(optarg, 1, RULES_F_QUEUES_MAX,
			    &n) == -1)
				return -1;
			o->flags |= RULES_F_QUEUES(n);
			break;
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

static int
apply_main(int argc, char **argv)
{
	struct apply_opts o;
	struct config *cfg;
	char err[256];
	struct rules_params p;
	int r, ret = EXIT_BLOCKED;

	if ((r = opts_parse(argc, argv, OPT_CONFIG | OPT_APPLY | OPT_NFQ,
	    &o)) != 0) {
		apply_usage(r == 1 ? stdout : stderr);
		return r == 1 ? EXIT_ALLOWED : EXIT_USAGE;
	}
	if ((cfg = load_config(&o)) == NULL)
		return EXIT_USAGE;
	if (rules_params_from_config(cfg, o.flags, &p, err, sizeof(err)) ==
	    -1) {
		fprintf(stderr, "%s: %s\n", progname, err);
		config_free(cfg);
		return EXIT_USAGE;
	}
	if (cfg->fw.n_agent_uids == 0 && cfg->fw.n_agent_gids == 0)
		log_warnx("firewall: no agent users or groups: the ruleset "
		    "captures nothing");
	if (o.dry_run) {
		printf("# --dry-run: nothing was changed.  `firewall apply` "
		    "would install:\n");
		ret = rules_render(cfg, o.flags, stdout) == 0 ? EXIT_ALLOWED :
		    EXIT_USAGE;
		if (ret == EXIT_ALLOWED && !(o.flags & RULES_F_NO_DESTROY))
			printf("# and close the agents' existing connections "
			    "(sock_diag SOCK_DESTROY,\n# or deletion of their "
			    "conntrack entries where the kernel cannot)\n");
	} else
		ret = rules_apply(cfg, o.flags) == 0 ? EXIT_ALLOWED :
		    EXIT_BLOCKED;
	config_free(cfg);
	return ret;
}

static int
remove_main(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		printf("Usage: %s firewall remove\n\nRemove table inet %s and "
		    "the policy routes it recorded (idempotent).\n", progname,
		    RULES_TABLE_NAME);
		return EXIT_ALLOWED;
	}
	if (argc != 1) {
		fprintf(stderr, "Usage: %s firewall remove\n", progname);
		return EXIT_USAGE;
	}
	if (rules_remove() == -1)
		return EXIT_BLOCKED;
	return EXIT_ALLOWED;
}

/* An IPv4 or IPv6 TCP listener on port in this namespace (/proc/net). */
static int
tcp_listening(uint16_t port)
{
	static const char *files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	char line[512];
	unsigned lport, st;
	size_t i;
	FILE *f;

	for (i = 0; i < 2; i++) {
		if ((f = fopen(files[i], "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			/* "  0: 0100007F:22BA 00000000:0000 0A ..." */
			if (sscanf(line, " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x "
			    "%x", &lport, &st) == 2 && lport == port &&
			    st == 0x0A) {
				fclose(f);
				return 1;
			}
		}
		fclose(f);
	}
	return 0;
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
print_ids(const char *label, const char *set)
{
	uint32_t ids[MAX_UIDS_SHOWN];
	int n, i;

	n = rules_nft_set_u32(set, ids, MAX_UIDS_SHOWN);
	if (n > 1)
		qsort(ids, (size_t)n, sizeof(ids[0]), u32_cmp);
	printf("  %-12s", label);
	if (n <= 0)
		printf(n == 0 ? "none" : "(unreadable)");
	for (i = 0; i < n; i++)
		printf("%s%" PRIu32, i ? ", " : "", ids[i]);
	printf("\n");
}

static int
status_main(int argc, char **argv)
{
	struct rules_nft_rule *rl = NULL;
	struct rules_params p;
	char rec[RULES_RECORD_MAX + 64];
	int r, n, i;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		printf("Usage: %s firewall status\n\nShow whether table inet "
		    "%s is installed, its agents, counters, NFQUEUE form,\nroutes"
		    " and whether the engine listens.  Exit 0 installed, 3 not."
		    "\n", progname, RULES_TABLE_NAME);
		return EXIT_ALLOWED;
	}
	if (argc != 1) {
		fprintf(stderr, "Usage: %s firewall status\n", progname);
		return EXIT_USAGE;
	}
	if ((r = rules_nft_record(rec, sizeof(rec))) == -1) {
		fprintf(stderr, "%s: cannot read nftables (root or "
		    "CAP_NET_ADMIN needed)\n", progname);
		return EXIT_BLOCKED;
	}
	if (r == 0) {
		printf("firewall: not installed (no table inet %s)\n",
		    RULES_TABLE_NAME);
		return EXIT_NOT_INSTALLED;
	}
	printf("firewall: installed (table inet %s)\n", RULES_TABLE_NAME);
	if (rules_params_parse(rec, &p) == -1) {
		printf("  record: `%s' is not a pipelock-fw record\n", rec);
		return EXIT_ALLOWED;
	}
	printf("  %-12s%s\n", "record", rec);
	print_ids("agent uids", "agent_uids");
	print_ids("agent gids", "agent_gids");
	printf("  %-12s%s\n", "nfqueue", p.nfq == RULES_NFQ_XT ?
	    "xt NFQUEUE target via nft_compat (`nft list` prints it as "
	    "`queue` with a\n              warning that the table is managed by "
	    "iptables-nft: cosmetic)" : p.nfq == RULES_NFQ_NATIVE ?
	    "native nft queue" : "off (agent UDP is rejected)");
	if (p.nfq != RULES_NFQ_NONE) {
		printf("  %-12s%u", "queues", p.queue_num);
		if (p.queue_total > 1)
			printf("-%u (balanced by address-pair hash)", p.queue_num +
			    p.queue_total - 1);
		printf(", %s\n", p.fail_open ? "fail-open (no engine: agent "
		    "UDP passes unjudged)" : "fail-closed (no engine: agent "
		    "UDP rejected at once)");
	}
	printf("  %-12s%s on tproxy port %u%s\n", "engine",
	    tcp_listening(p.tproxy_port) ? "listening" : "NOT listening",
	    p.tproxy_port, tcp_listening(p.tproxy_port) ? "" :
	    " (agent TCP is refused)");
	printf("  %-12s%s\n", "routes", rules_route_present(&p) ?
	    "ip rule + local route present" : "MISSING (the guard drops "
	    "agent traffic; `firewall apply` restores them)");
	printf("  %-12s%s\n", "ipv6", p.ipv6 ? "captured" : "agent IPv6 "
	    "rejected");
	if ((n = rules_nft_rules(&rl)) >= 0) {
		printf("  counters:\n");
		for (i = 0; i < n; i++)
			printf("    %-12s %-18s %10" PRIu64 " packets %12" PRIu64
			    " bytes%s\n", rl[i].chain, rl[i].comment,
			    rl[i].packets, rl[i].bytes, rl[i].xt_target ?
			    "  (xt target)" : "");
	}
	free(rl);
	return EXIT_ALLOWED;
}

static volatile sig_atomic_t watch_stop;

static void
watch_signal(int sig)
{
	watch_stop = sig;
}

/*
 * `firewall watch`: what `run` does besides the engine, in the foreground:
 * put our table, ip rules and routes back when something removes them.
 */
static int
watch_main(int argc, char **argv)
{
	struct apply_opts o;
	struct rules_watch *w = NULL;
	struct config *cfg = NULL;
	struct sigaction sa;
	struct pollfd pfd;
	int r, ret = EXIT_BLOCKED;

	if ((r = opts_parse(argc, argv, OPT_CONFIG, &o)) != 0) {
		fprintf(r == 1 ? stdout : stderr, "Usage: %s firewall watch "
		    "[--config FILE] [--agent-user USER]... [--agent-group "
		    "GROUP]...\n", progname);
		if (r == 1)
			printf("\nStay in the foreground and re-apply the "
			    "firewall whenever its table, ip rules\nor routes "
			    "disappear (the engine does this itself).  Stop with "
			    "SIGTERM.\n");
		return r == 1 ? EXIT_ALLOWED : EXIT_USAGE;
	}
	if ((cfg = load_config(&o)) == NULL)
		return EXIT_USAGE;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watch_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if ((w = rules_watch_new(cfg)) == NULL)
		goto cleanup;
	/* the state may have changed before we subscribed */
	if (rules_watch_handle(w) == -1)
		goto cleanup;
	log_info("firewall: watching table inet %s and its routes",
	    RULES_TABLE_NAME);
	pfd.fd = rules_watch_fd(w);
	pfd.events = POLLIN;
	while (!watch_stop) {
		if (poll(&pfd, 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("firewall: poll");
			goto cleanup;
		}
		if ((r = rules_watch_handle(w)) == 1)
			log_info("firewall: restored");
		else if (r == -1)
			log_warnx("firewall: restoring failed; retrying on the "
			    "next change");
	}
	ret = EXIT_ALLOWED;
cleanup:
	rules_watch_free(w);
	config_free(cfg);
	return ret;
}

struct subcommand {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*description;
};

static const struct subcommand firewall_cmds[] = {
	{ "apply", apply_main, "install or replace the ruleset and routes" },
	{ "remove", remove_main, "remove what apply installed" },
	{ "status", status_main, "show the installed ruleset (exit 3: none)" },
	{ "watch", watch_main, "re-apply whenever the rules or routes vanish" },
};

static void
firewall_usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: %s firewall COMMAND [ARGS]...\n\nCommands:\n",
	    progname);
	for (i = 0; i < sizeof(firewall_cmds) / sizeof(firewall_cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", firewall_cmds[i].name,
		    firewall_cmds[i].description);
	fprintf(f, "\n`%s firewall COMMAND --help` shows a command's "
	    "options.\n", progname);
}

int
firewall_main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		firewall_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		firewall_usage(stdout);
		return EXIT_ALLOWED;
	}
	for (i = 0; i < sizeof(firewall_cmds) / sizeof(firewall_cmds[0]); i++)
		if (strcmp(argv[1], firewall_cmds[i].name) == 0)
			return firewall_cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "%s firewall: unknown command `%s'\n\n", progname,
	    argv[1]);
	firewall_usage(stderr);
	return EXIT_USAGE;
}

static void
generate_usage(FILE *f)
{
	fprintf(f, "Usage: %s generate nftables [--config FILE] "
	    "[--agent-user USER]... [--agent-group GROUP]...\n"
	    "                                [--nfqueue=native|xt|off] "
	    "[--queues N]\n\n"
	    "Print a self-contained nft script of table inet %s plus the ip "
	    "rule/route\ncommands (as comments).  The xt NFQUEUE form that "
	    "apply uses on kernels\nwithout nft_queue cannot be written in nft "
	    "text: the script then shows it\ncommented out.\n", progname,
	    RULES_TABLE_NAME);
}

int
generate_main(int argc, char **argv)
{
	struct apply_opts o;
	struct config *cfg;
	int r, ret;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		generate_usage(stdout);
		return EXIT_ALLOWED;
	}
	/* docker-compose, systemd, k8s: core/deploy.c */
	if (argc >= 2 && deploy_generate_known(argv[1]))
		return deploy_generate_main(argc - 1, argv + 1);
	if (argc < 2 || strcmp(argv[1], "nftables") != 0) {
		generate_usage(stderr);
		return EXIT_USAGE;
	}
	if ((r = opts_parse(argc - 1, argv + 1, OPT_CONFIG | OPT_NFQ,
	    &o)) != 0) {
		generate_usage(r == 1 ? stdout : stderr);
		return r == 1 ? EXIT_ALLOWED : EXIT_USAGE;
	}
	if ((cfg = load_config(&o)) == NULL)
		return EXIT_USAGE;
	ret = rules_render(cfg, o.flags, stdout) == 0 ? EXIT_ALLOWED :
	    EXIT_USAGE;
	config_free(cfg);
	return ret;
}
