/*
 * engine.h - the transparent TCP engine's runtime objects, shared by
 * engine.c (process, listeners, workers, signals) and tproxy_conn.c (the
 * per-connection state machine and relay).
 *
 * One worker = one thread = one epoll loop with its own SO_REUSEPORT
 * listeners (IPv4 on 127.0.0.1, IPv6 on ::1; TPROXY delivers to them), its
 * own connections and its own resolver sink.  Workers share only the
 * policy (refcounted, swapped on SIGHUP), the connection counters (atomic
 * total, per-uid table under a lock), the resolver pool and the audit log.
 */
#ifndef PIPELOCK_TPROXY_ENGINE_H
#define PIPELOCK_TPROXY_ENGINE_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "tproxy/tproxy_resolve.h"

#define ENGINE_MAX_WORKERS	64
#define ENGINE_UID_SLOTS	512	/* per-uid counters, searched linearly */
#define ENGINE_SWEEP_MS		200	/* timeout sweep period */
#define ENGINE_FDS_PER_CONN	6	/* 2 sockets + 2 pipes */
#define ENGINE_FD_RESERVE	256	/* listeners, netlink, log, resolver */

struct loop;
struct conn;
struct policy;
struct resolver;
struct mitm;
struct killswitch;

struct uid_count {
	uid_t		uid;
	int		used;
	unsigned	n;
};

struct engine {
	uint16_t		 port;
	struct sockaddr_in	 lsn4;	/* listener addresses (self-connect check) */
	struct sockaddr_in6	 lsn6;
	int			 have6;
	volatile int		 stop;
	unsigned		 conns_total;	/* atomic */
	pthread_mutex_t		 uid_lock;
	struct uid_count	 uids[ENGINE_UID_SLOTS];
	struct resolver		*resolver;
	struct killswitch	*ks;		/* checked at decisions, relays */
	struct mitm		*mitm;		/* TLS interception or NULL */
	struct worker		*workers;
	int			 nworkers;
};

struct worker {
	int			 id;
	struct engine		*eng;
	struct loop		*loop;
	int			 lfd4, lfd6;
	int			 wake_fd;	/* eventfd: stop */
	struct resolve_sink	 sink;
	LIST_HEAD(, conn)	 conns;		/* live */
	LIST_HEAD(, conn)	 dead;		/* to reap after this iteration */
	unsigned		 nconns;
	uint64_t		 next_sweep;
	uint64_t		 next_id;
	pthread_t		 thread;
	int			 started;
};

/* tproxy_conn.c */

/* Accept every pending connection on listener lfd. */
void conn_accept_all(struct worker *w, int lfd);
/* Deliver finished resolver requests to their connections. */
void conn_resolved_all(struct worker *w);
/* Timeouts (idle, total, per state) by monotonic stamps. */
void conn_sweep(struct worker *w, uint64_t now);
/* Free the connections closed during this iteration. */
void conn_reap(struct worker *w);
/* Close every connection (shutdown). */
void conn_close_all(struct worker *w);
/*
 * Shared with tproxy_proxy.c: the lowercase host of "name[:port]" /
 * "[v6]:port" (no port, no trailing dot; -1 if not a plain name or
 * literal), and "addr:port" / "[v6]:port" of a socket address.
 */
int conn_host_from_authority(const char *v, size_t n, char *host,
    size_t hlen);
void conn_sockaddr_format(const struct sockaddr_storage *ss, char *out,
    size_t len);
/* The address length of ss for bind/connect (AF_INET6 or AF_INET). */
socklen_t conn_sockaddr_len(const struct sockaddr_storage *ss);
/*
 * Socket mechanics shared with tproxy_proxy.c.  conn_sock_error: the
 * pending error of fd (SO_ERROR), 0 for none, getsockopt's own errno if
 * it fails.  conn_drain_fin: discard what the peer still sends after an
 * answer of ours; 0 while waiting for more, 1 once its FIN (or an error)
 * came and fd can be closed.  conn_accept_next: accept4 one connection
 * from listener lfd (non-blocking, close-on-exec) into *peer; the fd, or
 * -errno: -EAGAIN when none is pending, -EMFILE/-ENFILE when out of fds
 * (lfd is then off the loop until the caller re-arms it); what names the
 * listener in the log.
 */
int conn_sock_error(int fd);
int conn_drain_fin(int fd);
int conn_accept_next(struct loop *l, int lfd, struct sockaddr_storage *peer,
    const char *what);
/*
 * A relayed tunnel ended (agent: its metrics label; t_start: its
 * loop_now_ms() at accept; up, down: bytes each way): active_tunnels,
 * tunnels_total, the duration and byte histograms.
 */
void conn_metrics_tunnel_end(const char *agent, uint64_t t_start,
    unsigned long long up, unsigned long long down);

/* Connection slots: 0 taken, -1 refused (reason set to the limit's name). */
int engine_slot_take(struct engine *e, uid_t uid, unsigned max_total,
    unsigned max_per_uid, const char **reason);
void engine_slot_put(struct engine *e, uid_t uid);

#endif
