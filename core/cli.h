/*
 * cli.h - subcommand entry points and exit statuses.
 *
 * Each subcommand is one `*_main(argc, argv)` with argv[0] the subcommand's
 * name; main.c dispatches from a table by exact match.
 */
#ifndef PIPELOCK_CLI_H
#define PIPELOCK_CLI_H

enum exit_status {
	EXIT_ALLOWED = 0,	/* success; check: allowed */
	EXIT_BLOCKED = 1,	/* check: blocked; other: runtime failure */
	EXIT_USAGE = 2,		/* usage or config error */
	EXIT_NOT_INSTALLED = 3,	/* firewall status: not installed */
};

#define PIPELOCK_FW_VERSION	"0.1.0"

extern const char *progname;

/*
 * A whole decimal number in [min, max] (an option's argument): 0 with *out
 * set, -1 if s is empty, has anything after the digits or is out of range.
 */
int cli_parse_long(const char *s, long min, long max, long *out);

int check_main(int argc, char **argv);		/* core/check.c */
int firewall_main(int argc, char **argv);	/* rules/rules_cli.c */
int run_main(int argc, char **argv);		/* tproxy/engine.c */
int generate_main(int argc, char **argv);	/* rules/rules_cli.c */
int verify_main(int argc, char **argv);		/* core/deploy_verify.c */
int tls_main(int argc, char **argv);		/* core/tlsca.c */

#endif
