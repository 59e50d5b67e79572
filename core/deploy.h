/*
 * deploy.h - deployment files and the isolation check.
 *
 * `pipelock-fw generate docker-compose|systemd|k8s` print the deployment
 * recipes (the `nftables` kind stays in rules/rules_cli.c, which dispatches
 * the other kinds here); `pipelock-fw verify --as USER` runs, as that user,
 * the checks the recipes promise and warns about ways around the firewall.
 */
#ifndef PIPELOCK_DEPLOY_H
#define PIPELOCK_DEPLOY_H

/* 1 if kind is one of the kinds deploy_generate_main() writes, else 0. */
int deploy_generate_known(const char *kind);

/*
 * `generate KIND --agent NAME [-o FILE] [--config FILE] ...` with argv[0]
 * the KIND.  Writes to standard output, or to FILE (replaced atomically).
 * Returns an exit status (core/cli.h).
 */
int deploy_generate_main(int argc, char **argv);

#endif
