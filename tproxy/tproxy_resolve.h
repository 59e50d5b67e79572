/*
 * tproxy_resolve.h - the engine's own name resolution, off the event loops.
 *
 * Strict mode checks that a connection's original destination is one of the
 * addresses its SNI/Host resolves to (an agent could otherwise present an
 * allowed name to any IP).  getaddrinfo() blocks, so a small pool of threads
 * runs it; results come back to the asking worker through a sink (a locked
 * list + an eventfd the worker polls).  Answers are cached for
 * RESOLVE_TTL_MS (getaddrinfo does not expose DNS TTLs), failures for
 * RESOLVE_NEG_TTL_MS.
 */
#ifndef PIPELOCK_TPROXY_RESOLVE_H
#define PIPELOCK_TPROXY_RESOLVE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#define RESOLVE_NAME_MAX	255
#define RESOLVE_MAX_ADDRS	16
#define RESOLVE_TTL_MS		30000
#define RESOLVE_NEG_TTL_MS	5000
#define RESOLVE_CACHE_SIZE	256
#define RESOLVE_THREADS		2

struct resolver;

/* Where finished requests go: owned by one worker. */
struct resolve_sink {
	pthread_mutex_t		 lock;
	struct resolve_req	*done;		/* finished, newest first */
	int			 efd;		/* eventfd, readable when done != NULL */
};

struct resolve_req {
	struct resolve_req	*next;
	char			 name[RESOLVE_NAME_MAX + 1];
	struct sockaddr_storage	 addrs[RESOLVE_MAX_ADDRS];
	int			 naddrs;
	int			 failed;	/* no address (or resolver error) */
	struct resolve_sink	*sink;
	void			*owner;		/* the sink owner's; NULL = abandoned */
};

/* Start nthreads resolver threads.  NULL on failure. */
struct resolver *resolver_new(int nthreads);
/* Stop the threads and free queued requests and the cache.  NULL ok. */
void resolver_free(struct resolver *r);

/*
 * Cached answer for name: 1 and req's addrs/naddrs/failed filled on a hit,
 * 0 on a miss.
 */
int resolver_cached(struct resolver *r, struct resolve_req *req);
/*
 * Queue req (name set) for resolution; it comes back through sink.  The
 * resolver owns req until then.  0, or -1 when the queue is full.
 */
int resolver_submit(struct resolver *r, struct resolve_req *req,
    struct resolve_sink *sink);

int resolve_sink_init(struct resolve_sink *s);
/* Take every finished request (caller frees them). */
struct resolve_req *resolve_sink_take(struct resolve_sink *s);
void resolve_sink_clear(struct resolve_sink *s);

/* 1 if sa's address (port ignored) is among req's answers. */
int resolve_req_has(const struct resolve_req *req, const struct sockaddr *sa);

#endif
