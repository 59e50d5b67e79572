/*
 * main.c - pipelock-fw's command table.  Everything else lives in the
 * modules: this file only dispatches, by exact name (no abbreviations).
 */
#include <stdio.h>
#include <string.h>

#include "core/cli.h"


struct command {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*description;
};

static const struct command commands[] = {
	{ "run", run_main, "run the engine (transparent listeners, proxy)" },
	{ "firewall", firewall_main, "apply, remove or show the nftables ruleset" },
	{ "check", check_main, "would a URL, body or DNS name be blocked?" },
	{ "generate", generate_main, "print deployment files (nftables, ...)" },
	{ "verify", verify_main, "run the isolation checks as an agent user" },
	{ "tls", tls_main, "create or install the TLS interception CA" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: %s COMMAND [ARGS]...\n\nCommands:\n", progname);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name,
		    commands[i].description);
	fprintf(f, "  %-10s %s\n", "help", "help COMMAND: a command's usage");
	fprintf(f, "  %-10s %s\n", "version", "print the version");
	fprintf(f, "\nExit status: 0 ok/allowed, 1 blocked or failure, "
	    "2 usage or config error, 3 not installed (firewall status).\n");
}

static const struct command *
command_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct command *cmd;
	char *help_argv[] = { NULL, "--help", NULL };

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return EXIT_ALLOWED;
	}
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("pipelock-fw %s\n", PIPELOCK_FW_VERSION);
		return EXIT_ALLOWED;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return EXIT_ALLOWED;
		}
		if ((cmd = command_find(argv[2])) == NULL) {
			fprintf(stderr, "%s: unknown command '%s'\n", progname,
			    argv[2]);
			return EXIT_USAGE;
		}
		help_argv[0] = argv[2];
		return cmd->fn(2, help_argv);
	}
	if ((cmd = command_find(argv[1])) == NULL) {
		fprintf(stderr, "%s: unknown command '%s'\n\n", progname,
		    argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	return cmd->fn(argc - 1, argv + 1);
}
