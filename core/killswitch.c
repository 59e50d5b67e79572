/*
 * killswitch.c - kill switch state, sentinel watch, JSON bodies (see
 * killswitch.h).
 *
 * The inotify fd lives as long as the object, so the loop registers it
 * once; a reload only moves the watch.  The watch is on the directory, not
 * the file: a file that does not exist yet cannot be watched, and "rm" of a
 * watched file only reports IN_ATTRIB/IN_DELETE_SELF to the file's watch
 * once its last link goes, after which the watch is gone.  Every relevant
 * event leads to one stat() of the path rather than trusting the event
 * type, so a create/delete race always ends in the file system's state.
 */
#include "core/killswitch.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/audit.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"

#define KS_WATCH_MASK	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | \
			 IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | \
			 IN_ONLYDIR)
#define KS_EVENT_BUF	4096

struct killswitch {
	_Atomic unsigned bits;		/* 1 << enum ks_source */
	pthread_mutex_t	 lock;		/* everything below */
	char		 message[KS_MESSAGE_MAX];
	char		*sentinel;	/* NULL: no sentinel source */
	char		*dir;		/* directory of sentinel */
	char		*base;		/* its last component */
	int		 ifd;		/* inotify, for the object's life */
	int		 wd;		/* -1: not watching */
};

static const char *const ks_names[KS_SOURCE_COUNT] = {
	"config", "api", "signal", "sentinel",
};

static void
ks_set(struct killswitch *ks, enum ks_source s, int on)
{
	if (on)
		atomic_fetch_or(&ks->bits, 1u << s);
	else
		atomic_fetch_and(&ks->bits, ~(1u << s));
}

/* stat() the sentinel: present, or any error but ENOENT (fail closed). */
static void
ks_stat_locked(struct killswitch *ks)
{
	struct stat st;
	int on = 0;

	if (ks->sentinel != NULL && stat(ks->sentinel, &st) == -1) {
		on = errno != ENOENT;
		if (on)
			log_warn("kill switch sentinel %s", ks->sentinel);
	} else if (ks->sentinel != NULL)
		on = 1;
	ks_set(ks, KS_SOURCE_SENTINEL, on);
}

static void
ks_unwatch_locked(struct killswitch *ks)
{
	if (ks->wd != -1)
		inotify_rm_watch(ks->ifd, ks->wd);
	ks->wd = -1;
}

/* Place the directory watch if there is a sentinel and none is placed. */
static int
ks_watch_locked(struct killswitch *ks)
{
	if (ks->sentinel == NULL || ks->wd != -1)
		return 0;
	if (ks->ifd == -1) {
		errno = ENOSYS;
		return -1;
	}
	ks->wd = inotify_add_watch(ks->ifd, ks->dir, KS_WATCH_MASK);
	return ks->wd == -1 ? -1 : 0;
}

/* Split path into dir and base ("f" -> "." and "f"; "/f" -> "/" and "f"). */
static int
ks_split(const char *path, char **dir, char **base)
{
	const char *slash = strrchr(path, '/');

	*dir = *base = NULL;
	if (slash == NULL) {
		*dir = strdup(".");
		*base = strdup(path);
	} else {
		*dir = slash == path ? strdup("/") :
		    strndup(path, (size_t)(slash - path));
		*base = strdup(slash + 1);
	}
	if (*dir == NULL || *base == NULL) {
		free(*dir);
		free(*base);
		*dir = *base = NULL;
		return -1;
	}
	return 0;
}

struct killswitch *
killswitch_new(const struct config *cfg)
{
	struct killswitch *ks;

	if ((ks = calloc(1, sizeof(*ks))) == NULL)
		return NULL;
	ks->wd = -1;
	/*
	 * Without inotify (instance limit reached) the sentinel still works,
	 * at the cost of a stat() per killswitch_tick().
	 */
	if ((ks->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		log_warn("kill switch: inotify_init1 (sentinel polled)");
	pthread_mutex_init(&ks->lock, NULL);
	snprintf(ks->message, sizeof(ks->message), "%s", KS_DEFAULT_MESSAGE);
	/* a directory missing now is watched later by killswitch_tick() */
	if (killswitch_reconfigure(ks, cfg) == -1 && errno == ENOMEM) {
		killswitch_free(ks);
		return NULL;
	}
	return ks;
}

void
killswitch_free(struct killswitch *ks)
{
	if (ks == NULL)
		return;
	if (ks->ifd != -1)
		close(ks->ifd);
	pthread_mutex_destroy(&ks->lock);
	free(ks->sentinel);
	free(ks->dir);
	free(ks->base);
	free(ks);
}

int
killswitch_reconfigure(struct killswitch *ks, const struct config *cfg)
{
	const char *path = NULL, *msg = KS_DEFAULT_MESSAGE;
	char *np = NULL, *nd = NULL, *nb = NULL;
	int ret = -1;

	if (cfg != NULL) {
		if (cfg->kill_switch.sentinel_file != NULL &&
		    cfg->kill_switch.sentinel_file[0] != '\0')
			path = cfg->kill_switch.sentinel_file;
		if (cfg->kill_switch.message != NULL &&
		    cfg->kill_switch.message[0] != '\0')
			msg = cfg->kill_switch.message;
	}
	if (path != NULL && ((np = strdup(path)) == NULL ||
	    ks_split(path, &nd, &nb) == -1)) {
		free(np);
		errno = ENOMEM;
		return -1;
	}
	pthread_mutex_lock(&ks->lock);
	snprintf(ks->message, sizeof(ks->message), "%s", msg);
	ks_set(ks, KS_SOURCE_CONFIG, cfg != NULL && cfg->kill_switch.enabled);
	if (path == NULL || ks->sentinel == NULL ||
	    strcmp(path, ks->sentinel) != 0) {
		ks_unwatch_locked(ks);
		free(ks->sentinel);
		free(ks->dir);
		free(ks->base);
		ks->sentinel = np;
		ks->dir = nd;
		ks->base = nb;
		np = nd = nb = NULL;
	}
	ret = ks_watch_locked(ks);
	if (ret == -1)
		ret = -errno;	/* keep errno across the stat below */
	ks_stat_locked(ks);
	pthread_mutex_unlock(&ks->lock);
	free(np);
	free(nd);
	free(nb);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return 0;
}

int
killswitch_active(const struct killswitch *ks)
{
	return atomic_load_explicit(&((struct killswitch *)ks)->bits,
	    memory_order_relaxed) != 0;
}

unsigned
killswitch_sources(const struct killswitch *ks)
{
	return atomic_load(&((struct killswitch *)ks)->bits);
}

const char *
killswitch_source_name(enum ks_source s)
{
	return (unsigned)s < KS_SOURCE_COUNT ? ks_names[s] : NULL;
}

const char *
killswitch_source(const struct killswitch *ks)
{
	unsigned bits = killswitch_sources(ks);
	int s;

	for (s = 0; s < KS_SOURCE_COUNT; s++)
		if (bits & (1u << s))
			return ks_names[s];
	return NULL;
}

void
killswitch_set_api(struct killswitch *ks, int on)
{
	ks_set(ks, KS_SOURCE_API, on);
}

void
killswitch_signal_toggle(struct killswitch *ks)
{
	atomic_fetch_xor(&ks->bits, 1u << KS_SOURCE_SIGNAL);
}

int
killswitch_fd(const struct killswitch *ks)
{
	return ks->ifd;
}

void
killswitch_read(struct killswitch *ks)
{
	char buf[KS_EVENT_BUF]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	size_t off;
	int restat = 0;

	if (ks->ifd == -1)
		return;
	pthread_mutex_lock(&ks->lock);
	for (;;) {
		n = read(ks->ifd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* EAGAIN: drained */
		for (off = 0; off + sizeof(*ev) <= (size_t)n;
		    off += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(buf + off);
			if (ev->mask & IN_Q_OVERFLOW) {
				restat = 1;
				continue;
			}
			if (ev->wd != ks->wd || ks->wd == -1)
				continue;	/* an old watch's late events */
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF |
			    IN_IGNORED)) {
				/* the directory went: tick re-places it */
				if (!(ev->mask & IN_IGNORED))
					inotify_rm_watch(ks->ifd, ks->wd);
				ks->wd = -1;
				restat = 1;
				continue;
			}
			if (ev->len > 0 && strcmp(ev->name, ks->base) == 0)
				restat = 1;
		}
	}
	if (restat)
		ks_stat_locked(ks);
	pthread_mutex_unlock(&ks->lock);
}

void
killswitch_loop_cb(struct loop *l, int fd, int mask, void *ctx)
{
	killswitch_read(ctx);
}

void
killswitch_tick(struct killswitch *ks)
{
	pthread_mutex_lock(&ks->lock);
	if (ks->sentinel != NULL && ks->wd == -1) {
		ks_watch_locked(ks);
		ks_stat_locked(ks);
	}
	pthread_mutex_unlock(&ks->lock);
}

void
killswitch_message(struct killswitch *ks, char *buf, size_t len)
{
	if (len == 0)
		return;
	pthread_mutex_lock(&ks->lock);
	snprintf(buf, len, "%s", ks->message);
	pthread_mutex_unlock(&ks->lock);
}

/* ,"message":"<escaped>" */
static int
ks_json_message(struct killswitch *ks, char *esc, size_t esclen)
{
	char msg[KS_MESSAGE_MAX];

	killswitch_message(ks, msg, sizeof(msg));
	audit_escape(msg, esc, esclen);
	return 0;
}

/* snprintf's length clamped to what was written. */
static size_t
ks_clamp(int n, size_t len)
{
	if (n < 0 || len == 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len - 1;
}

size_t
killswitch_status_json(struct killswitch *ks, char *buf, size_t len)
{
	char esc[KS_MESSAGE_MAX * 2];
	unsigned b = killswitch_sources(ks);
	int n;

	if (b)
		ks_json_message(ks, esc, sizeof(esc));
	n = snprintf(buf, len, "{\"active\":%s,\"sources\":{\"config\":%s,"
	    "\"api\":%s,\"signal\":%s,\"sentinel\":%s}%s%s%s}",
	    b ? "true" : "false",
	    b & (1u << KS_SOURCE_CONFIG) ? "true" : "false",
	    b & (1u << KS_SOURCE_API) ? "true" : "false",
	    b & (1u << KS_SOURCE_SIGNAL) ? "true" : "false",
	    b & (1u << KS_SOURCE_SENTINEL) ? "true" : "false",
	    b ? ",\"message\":\"" : "", b ? esc : "", b ? "\"" : "");
	return ks_clamp(n, len);
}

size_t
killswitch_toggle_json(struct killswitch *ks, int active, char *buf,
    size_t len)
{
	char esc[KS_MESSAGE_MAX * 2];
	int n;

	if (active)
		ks_json_message(ks, esc, sizeof(esc));
	n = snprintf(buf, len, "{\"active\":%s,\"source\":\"api\"%s%s%s}",
	    active ? "true" : "false", active ? ",\"message\":\"" : "",
	    active ? esc : "", active ? "\"" : "");
	return ks_clamp(n, len);
}

size_t
killswitch_denial_json(struct killswitch *ks, char *buf, size_t len)
{
	char esc[KS_MESSAGE_MAX * 2];

	ks_json_message(ks, esc, sizeof(esc));
	return ks_clamp(snprintf(buf, len, "{\"error\":\"kill_switch_active\","
	    "\"message\":\"%s\"}", esc), len);
}

void
killswitch_publish(struct killswitch *ks, struct metrics *r)
{
	struct metric *m;
	unsigned b = killswitch_sources(ks);
	int s;

	m = r ? metrics_find(r, "pipelock_kill_switch_active") :
	    metrics_get(M_KILL_SWITCH_ACTIVE);
	for (s = 0; s < KS_SOURCE_COUNT; s++)
		metric_gauge_set(m, METRIC_LV(ks_names[s]),
		    (b & (1u << s)) != 0);
}
