/*
 * test_policy.c - policy_new's dlp.scan_env: the environment of a real
 * process running as an agent user (nobody) becomes known secrets, minus
 * pipelock's non-secret names and low-entropy values; a process of another
 * user is not read.  Needs root (to start a process as another uid and to
 * read its environ); without root the test says so and reports a skip.
 */
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/policy.h"
#include "scanner/scanner.h"
#include "tap.h"

#define SECRET	"Zq8vN2xK7pL4mR9tW3yB6cF1hJ5dG0sA"	/* test value only */

static int
sl_contains(const struct strlist *sl, const char *s)
{
	size_t i;

	for (i = 0; i < sl->n; i++)
		if (strcmp(sl->v[i], s) == 0)
			return 1;
	return 0;
}

/* A `sleep` running as uid/gid with the given environment. */
static pid_t
spawn_as(uid_t uid, gid_t gid, char *const envp[])
{
	char path[64], buf[4096];
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	pid_t pid;
	FILE *f;
	size_t n;
	int i;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if (setgid(gid) == -1 || setuid(uid) == -1)
			_exit(127);
		execle("/bin/sleep", "sleep", "30", (char *)NULL, envp);
		_exit(127);
	}
	/* poll (bounded) until exec has replaced the environment */
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	for (i = 0; i < 500; i++) {
		if ((f = fopen(path, "r")) != NULL) {
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			if (n > 0 && memmem(buf, n, "PLFW_MARKER=1", 13) != NULL)
				return pid;
		}
		nanosleep(&ts, NULL);
	}
	return pid;
}

static void
reap(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

#define SWAP_READERS	2
#define SWAP_ROUNDS	10

static volatile int swap_done;

/* Readers take the current policy, scan with it, drop it: never a freed one. */
static void *
swap_reader(void *arg)
{
	struct scan_result res;
	struct policy *p;
	unsigned long last = 0, *bad = arg;

	while (!swap_done) {
		if ((p = policy_current()) == NULL)
			continue;
		if (p->generation < last)
			(*bad)++;	/* went back in time */
		last = p->generation;
		scanner_check_domain(p->scanner, "www.example.com",
		    SCAN_WHERE_SNI, &res);
		policy_unref(p);
	}
	return NULL;
}

static void
test_swap(void)
{
	pthread_t th[SWAP_READERS];
	unsigned long bad[SWAP_READERS] = { 0 };
	struct config *cfg;
	struct policy *p, *last = NULL;
	char err[CONFIG_ERR_MAX];
	int i, built = 0;

	swap_done = 0;
	for (i = 0; i < SWAP_READERS; i++)
		pthread_create(&th[i], NULL, swap_reader, &bad[i]);
	for (i = 0; i < SWAP_ROUNDS; i++) {
		cfg = NULL;
		if (config_load(NULL, &cfg, err, sizeof(err)) == -1 ||
		    (p = policy_new(cfg, err, sizeof(err))) == NULL)
			break;
		built++;
		last = p;
		policy_swap(p);
	}
	swap_done = 1;
	for (i = 0; i < SWAP_READERS; i++)
		pthread_join(th[i], NULL);
	is_int(built, SWAP_ROUNDS, "policies built and swapped under readers");
	ok(bad[0] + bad[1] == 0,
	    "readers never see an older policy after a newer one");
	p = policy_current();
	ok(p == last && p->refs == 2, "current policy is the last swapped in");
	policy_unref(p);
	policy_swap(NULL);
}

int
main(void)
{
	char *agent_env[] = { "PLFW_MARKER=1", "API_TOKEN=" SECRET,
	    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	    "LOW_ENTROPY_VALUE=aaaaaaaaaaaaaaaaaaaaaaaa", "SHORT=Xy7$", NULL };
	char *other_env[] = { "PLFW_MARKER=1",
	    "OTHER_TOKEN=Qw9eR8tY7uI6oP5aS4dF3gH2jK1lZ0x", NULL };
	const char *yaml = "firewall:\n  agent_users: [nobody]\n";
	struct scan_result res;
	struct config *cfg = NULL;
	struct policy *p = NULL;
	struct passwd *pw;
	char err[CONFIG_ERR_MAX];
	pid_t agent = -1, other = -1;

	test_swap();
	if (geteuid() != 0 || (pw = getpwnam("nobody")) == NULL) {
		ok(1, "SKIP: scan_env test needs root and user nobody");
		return tap_done();
	}
	agent = spawn_as(pw->pw_uid, pw->pw_gid, agent_env);
	other = spawn_as(1, 1, other_env);	/* daemon: not an agent */
	ok(agent > 0 && other > 0, "test processes started");

	ok(config_load_buffer("t.yaml", yaml, strlen(yaml), &cfg, err,
	    sizeof(err)) == 0, "config loads: %s", err);
	p = cfg ? policy_new(cfg, err, sizeof(err)) : NULL;
	ok(p != NULL, "policy built: %s", err);
	if (p != NULL) {
		const struct strlist *ks = &p->cfg->scanner.known_secrets;

		ok(sl_contains(ks, SECRET), "agent's secret env value known");
		ok(!sl_contains(ks, "/usr/local/sbin:/usr/local/bin:/usr/sbin:"
		    "/usr/bin:/sbin:/bin"), "PATH is not a secret");
		ok(!sl_contains(ks, "aaaaaaaaaaaaaaaaaaaaaaaa"),
		    "low-entropy value skipped");
		ok(!sl_contains(ks, "Xy7$"), "short value skipped");
		ok(!sl_contains(ks, "Qw9eR8tY7uI6oP5aS4dF3gH2jK1lZ0x"),
		    "another user's environment is not read");
		ok(scanner_check_text(p->scanner, "x=" SECRET "&y=1",
		    strlen("x=" SECRET "&y=1"), SCAN_WHERE_BODY, &res) == 1,
		    "the agent's secret in a body is blocked");
	}
	policy_unref(p);

	cfg = NULL;
	yaml = "firewall:\n  agent_users: [nobody]\ndlp:\n  scan_env: false\n";
	ok(config_load_buffer("t.yaml", yaml, strlen(yaml), &cfg, err,
	    sizeof(err)) == 0, "scan_env false loads");
	p = cfg ? policy_new(cfg, err, sizeof(err)) : NULL;
	ok(p != NULL && !sl_contains(&p->cfg->scanner.known_secrets, SECRET),
	    "scan_env: false reads no environment");
	policy_unref(p);
	reap(agent);
	reap(other);
	return tap_done();
}
