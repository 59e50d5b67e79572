/*
 * policy.c - a loaded config plus its compiled scanner, refcounted, and the
 * process-wide "current policy" that SIGHUP swaps.
 *
 * policy_new() is the only place patterns are compiled, so `check --config`,
 * the daemon's start and every reload go through the same code and report a
 * bad pattern the same way: FILE:LINE:COL: dlp.patterns[i].regex: ...
 * The Vectorscan database is compiled in a child process (core/hsdb.h).
 *
 * dlp.scan_env: pipelock snapshots its own environment, but this daemon's
 * environment holds none of the agents' secrets, so the snapshot is taken
 * from /proc/PID/environ of the agents' processes (by uid or gid) when the
 * policy is built.  Reading another user's environ needs CAP_SYS_PTRACE
 * (root has it); without it the policy still loads, with one warning.
 */
#include "core/policy.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/hsdb.h"
#include "core/log.h"
#include "scanner/normalize.h"
#include "scanner/scanner.h"

#define ENV_FILE_MAX		(1u << 20)	/* /proc/PID/environ read cap */
#define ENV_SECRETS_MAX		4096		/* known secrets from envs */
#define ENV_MIN_ENTROPY		3.0		/* pipelock: strictly above */

static pthread_mutex_t policy_lock = PTHREAD_MUTEX_INITIALIZER;
static struct policy *policy_cur;
static unsigned long policy_generation;
static int env_warned;

/* pipelock's list of environment names that never hold secrets. */
static const char *const env_not_secret[] = {
	"PWD", "OLDPWD", "HOME", "PATH", "TMPDIR", "TEMP", "TMP", "_", "USER",
	"LOGNAME", "USERNAME", "HOSTNAME", "HOST", "SHELL", "SHLVL", "TERM",
	"TERM_PROGRAM", "COLORTERM", "COLORFGBG", "LANG", "LANGUAGE",
	"DISPLAY", "WAYLAND_DISPLAY", "EDITOR", "VISUAL", "PAGER", "LESS",
	"LS_COLORS", "LSCOLORS", "DBUS_SESSION_BUS_ADDRESS", "SSH_AUTH_SOCK",
	"GOPATH", "GOROOT", "GOBIN", "PYTHONPATH", "PYTHONHOME", "NODE_PATH",
	"MANPATH", "INFOPATH", "PS1", "PS2", "PS3", "PS4", "APPDATA",
	"LOCALAPPDATA", "PROGRAMDATA", "PROGRAMFILES", "PROGRAMFILES(X86)",
	"COMMONPROGRAMFILES", "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR",
	"USERPROFILE", "HOMEDRIVE", "HOMEPATH", "COMSPEC", "PATHEXT", NULL
};

static int
env_name_is_secret(const char *name, size_t len)
{
	size_t i;

	if (len >= 3 && (strncasecmp(name, "LC_", 3) == 0 ||
	    (len >= 4 && strncasecmp(name, "XDG_", 4) == 0)))
		return 0;
	for (i = 0; env_not_secret[i] != NULL; i++)
		if (strlen(env_not_secret[i]) == len &&
		    strncasecmp(env_not_secret[i], name, len) == 0)
			return 0;
	return 1;
}

static int
known_secret_add(struct strlist *sl, const char *v, size_t len)
{
	char **nv;
	size_t i;

	for (i = 0; i < sl->n; i++)
		if (strlen(sl->v[i]) == len && memcmp(sl->v[i], v, len) == 0)
			return 0;
	if ((nv = reallocarray(sl->v, sl->n + 1, sizeof(*nv))) == NULL)
		return -1;
	sl->v = nv;
	if ((sl->v[sl->n] = strndup(v, len)) == NULL)
		return -1;
	sl->n++;
	return 0;
}

/* One process's environment: NAME=VALUE\0... */
static int
env_read_one(const char *pid, struct config *cfg, size_t *added)
{
	char path[288], *buf = NULL, *p, *end, *eq, *next;
	size_t len = 0, vlen;
	ssize_t r;
	int fd, ret = -1;

	snprintf(path, sizeof(path), "/proc/%s/environ", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT || errno == ESRCH ? 0 : -1;
	if ((buf = malloc(ENV_FILE_MAX)) == NULL)
		goto cleanup;
	while (len < ENV_FILE_MAX) {
		r = read(fd, buf + len, ENV_FILE_MAX - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			/* exited while we read: not a failure */
			ret = errno == ESRCH ? 0 : -1;
			goto cleanup;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	for (p = buf, end = buf + len; p < end; p = next) {
		next = memchr(p, '\0', end - p);
		next = next ? next + 1 : end;
		if ((eq = memchr(p, '=', next - p)) == NULL)
			continue;
		vlen = (size_t)(next - eq - 1);
		if (vlen > 0 && eq[vlen] == '\0')
			vlen--;
		if (vlen < cfg->dlp_min_env_secret_length ||
		    !env_name_is_secret(p, (size_t)(eq - p)) ||
		    norm_entropy(eq + 1, vlen) <= ENV_MIN_ENTROPY)
			continue;
		if (cfg->scanner.known_secrets.n >= ENV_SECRETS_MAX)
			break;
		if (known_secret_add(&cfg->scanner.known_secrets, eq + 1,
		    vlen) == -1)
			goto cleanup;
		(*added)++;
	}
	ret = 0;
cleanup:
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	return ret;
}

static int
agent_owns(const struct config *cfg, const struct stat *st)
{
	size_t i;

	for (i = 0; i < cfg->fw.n_agent_uids; i++)
		if (cfg->fw.agent_uids[i] == st->st_uid)
			return 1;
	for (i = 0; i < cfg->fw.n_agent_gids; i++)
		if (cfg->fw.agent_gids[i] == st->st_gid)
			return 1;
	return 0;
}

/*
 * Add the secrets found in the agents' environments to known_secrets.
 * /proc/PID is owned by the process's effective uid/gid.  Failures only
 * warn (once per process): secrets_file is the dependable way.
 */
static void
env_secrets_collect(struct config *cfg)
{
	char path[288];
	struct dirent *de;
	struct stat st;
	size_t added = 0, failed = 0;
	int saved = 0;
	DIR *d;

	if (cfg->fw.n_agent_uids == 0 && cfg->fw.n_agent_gids == 0)
		return;
	if ((d = opendir("/proc")) == NULL) {
		saved = errno;
		failed++;
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s", de->d_name);
		if (stat(path, &st) == -1 || !agent_owns(cfg, &st))
			continue;
		if (env_read_one(de->d_name, cfg, &added) == -1) {
			saved = errno;
			failed++;
		}
	}
	closedir(d);
out:
	if (failed && !env_warned) {
		env_warned = 1;
		errno = saved;
		log_warn("dlp.scan_env: cannot read the environment of %zu "
		    "agent process(es) (CAP_SYS_PTRACE needed); use "
		    "dlp.secrets_file", failed);
	}
	if (added)
		log_debug("dlp.scan_env: %zu secret value(s) from agent "
		    "environments", added);
}

/*
 * scanner_new() names the pattern but not where it was written: find the
 * user pattern that fails on its own and prefix the message with its mark.
 */
static void
pattern_error(const struct config *cfg, const char *scerr, char *err,
    size_t errlen)
{
	const char *file = cfg->path ? cfg->path : "(defaults)";
	const struct config_mark *m;
	struct scanner_config one;
	struct scanner *sc;
	char e[CONFIG_ERR_MAX];
	const char *msg;
	size_t i, nlen;

	for (i = 0; i < cfg->scanner.npatterns; i++) {
		one = cfg->scanner;
		one.hs_compile = hsdb_compile;
		one.patterns = &cfg->scanner.patterns[i];
		one.npatterns = 1;
		one.dlp_include_defaults = 0;
		one.known_secrets.n = 0;
		if ((sc = scanner_new(&one, e, sizeof(e))) != NULL) {
			scanner_free(sc);
			continue;
		}
		msg = e;
		nlen = strlen(one.patterns->name);
		if (strncmp(msg, "dlp pattern '", 13) == 0 &&
		    strncmp(msg + 13, one.patterns->name, nlen) == 0 &&
		    strncmp(msg + 13 + nlen, "': ", 3) == 0)
			msg += 13 + nlen + 3;
		m = cfg->dlp_pattern_marks ? &cfg->dlp_pattern_marks[i] : NULL;
		if (m != NULL && m->line > 0)
			snprintf(err, errlen, "%s:%u:%u: dlp.patterns[%zu]."
			    "regex: %s", file, m->line, m->col, i, msg);
		else
			snprintf(err, errlen, "%s: dlp.patterns[%zu].regex: "
			    "%s", file, i, msg);
		return;
	}
	snprintf(err, errlen, "%s: %s", file, scerr);
}

struct policy *
policy_new(struct config *cfg, char *err, size_t errlen)
{
	struct policy *p = NULL;
	struct scanner_config sc;
	char e[CONFIG_ERR_MAX];

	if (cfg == NULL) {
		snprintf(err, errlen, "no configuration");
		return NULL;
	}
	if (cfg->dlp_scan_env)
		env_secrets_collect(cfg);
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* a long-lived process must not keep the compiler resident */
	sc = cfg->scanner;
	sc.hs_compile = hsdb_compile;
	if ((p->scanner = scanner_new(&sc, e, sizeof(e))) == NULL) {
		pattern_error(cfg, e, err, errlen);
		goto fail;
	}
	p->cfg = cfg;
	__atomic_store_n(&p->refs, 1, __ATOMIC_RELEASE);
	p->generation = __atomic_add_fetch(&policy_generation, 1,
	    __ATOMIC_RELAXED);
	return p;
fail:
	free(p);
	config_free(cfg);
	return NULL;
}

struct policy *
policy_ref(struct policy *p)
{
	if (p != NULL)
		__atomic_fetch_add(&p->refs, 1, __ATOMIC_RELAXED);
	return p;
}

void
policy_unref(struct policy *p)
{
	if (p == NULL)
		return;
	/* acq_rel: the last owner must see every other owner's writes */
	if (__atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	scanner_free(p->scanner);
	config_free(p->cfg);
	free(p);
}

/*
 * A short mutex rather than a lock-free pointer: a reader must not load the
 * pointer, be preempted, and take its reference after a swap freed it.
 */
struct policy *
policy_current(void)
{
	struct policy *p;

	pthread_mutex_lock(&policy_lock);
	p = policy_ref(policy_cur);
	pthread_mutex_unlock(&policy_lock);
	return p;
}

/* Takes over the caller's reference to p (may be NULL: clear). */
void
policy_swap(struct policy *p)
{
	struct policy *old;

	pthread_mutex_lock(&policy_lock);
	old = policy_cur;
	policy_cur = p;
	pthread_mutex_unlock(&policy_lock);
	policy_unref(old);
}
