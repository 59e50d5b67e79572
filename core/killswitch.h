/*
 * killswitch.h - the kill switch: four OR-composed sources, one atomic word.
 *
 * Sources, in the precedence that only decides the *reported* source
 * (pipelock's internal/killswitch): config (kill_switch.enabled) > api
 * (POST /api/v1/killswitch) > signal (SIGUSR1 toggles) > sentinel (the file
 * kill_switch.sentinel_file exists).  Any one active makes the switch
 * active.  The state is a bit per source in one atomic word, so the check
 * every connection, request, relay read and DNS query makes is one load.
 *
 * The sentinel is not stat()ed per request as in pipelock: an inotify watch
 * on its directory (create, delete, move of any name there, the directory's
 * own removal) triggers one stat() of the path, and the loop polls that fd.
 * A stat error other than ENOENT counts as present (fail closed, as
 * pipelock).  The path is also stat()ed at setup, on IN_Q_OVERFLOW, and by
 * killswitch_tick() while no watch could be placed (directory missing).
 *
 * api and signal persist across killswitch_reconfigure(); config, the
 * sentinel path and the message are replaced.  killswitch_signal_toggle()
 * is async-signal-safe (one atomic xor) for a plain signal handler; with
 * signalfd call it from the loop.  Everything else is thread safe.
 */
#ifndef PIPELOCK_KILLSWITCH_H
#define PIPELOCK_KILLSWITCH_H

#include <stddef.h>

enum ks_source {
	KS_SOURCE_CONFIG = 0,
	KS_SOURCE_API,
	KS_SOURCE_SIGNAL,
	KS_SOURCE_SENTINEL,
	KS_SOURCE_COUNT
};

#define KS_MESSAGE_MAX		512	/* bytes kept of kill_switch.message */
#define KS_DEFAULT_MESSAGE	"Emergency deny-all active"
#define KS_JSON_MAX		(KS_MESSAGE_MAX * 6 + 256)	/* escaped */

struct config;
struct loop;
struct metrics;
struct killswitch;

/*
 * A kill switch configured from cfg->kill_switch (NULL cfg: all off,
 * default message), its sentinel watched.  NULL on ENOMEM.  A missing
 * sentinel directory is not an error, nor is inotify being unavailable
 * (then killswitch_fd() is -1 and killswitch_tick() stat()s the path).
 */
struct killswitch *killswitch_new(const struct config *cfg);
/* Close the inotify fd and free.  NULL ok. */
void killswitch_free(struct killswitch *ks);

/*
 * Apply a reloaded config: the config source, message and sentinel path
 * (re-watched and re-stat()ed if it changed).  api and signal are kept.
 * 0, or -1 (errno) if the new watch could not be set up: the switch then
 * falls back to stat()ing in killswitch_tick(), so it still works.
 */
int killswitch_reconfigure(struct killswitch *ks, const struct config *cfg);

/* Whether any source is active: one relaxed atomic load. */
int killswitch_active(const struct killswitch *ks);
/* Bit (1 << enum ks_source) per active source. */
unsigned killswitch_sources(const struct killswitch *ks);
/* The highest-precedence active source's name ("config", ...), or NULL. */
const char *killswitch_source(const struct killswitch *ks);
const char *killswitch_source_name(enum ks_source s);

/* The api source (the API's POST). */
void killswitch_set_api(struct killswitch *ks, int on);
/* SIGUSR1: flip the signal source.  Async-signal-safe. */
void killswitch_signal_toggle(struct killswitch *ks);

/*
 * The inotify fd to poll for LOOP_READ, the same for the object's life (-1
 * only when inotify is unavailable), and its handler: drains
 * the events and re-stat()s the sentinel if its name was involved.
 */
int killswitch_fd(const struct killswitch *ks);
void killswitch_read(struct killswitch *ks);
/* A loop callback wrapping killswitch_read(); ctx is the killswitch. */
void killswitch_loop_cb(struct loop *l, int fd, int mask, void *ctx);
/*
 * Periodic work (a few times per second is plenty): while no watch is
 * placed (directory missing), retry it and stat() the sentinel.
 */
void killswitch_tick(struct killswitch *ks);

/* Copy the message into buf (always NUL-terminated). */
void killswitch_message(struct killswitch *ks, char *buf, size_t len);

/*
 * JSON bodies, as pipelock's API writes them; each returns the length
 * written to buf (cut at len - 1, use KS_JSON_MAX).
 *   status: {"active":b,"sources":{"config":b,"api":b,"signal":b,
 *            "sentinel":b}[,"message":m when active]}
 *   toggle: {"active":b,"source":"api"[,"message":m when active]}
 *   denial: {"error":"kill_switch_active","message":m}
 */
size_t killswitch_status_json(struct killswitch *ks, char *buf, size_t len);
size_t killswitch_toggle_json(struct killswitch *ks, int active, char *buf,
    size_t len);
size_t killswitch_denial_json(struct killswitch *ks, char *buf, size_t len);

/*
 * Set pipelock_kill_switch_active{source} in r (NULL: the global registry)
 * from the current state; the metrics endpoint calls it before rendering.
 */
void killswitch_publish(struct killswitch *ks, struct metrics *r);

#endif
