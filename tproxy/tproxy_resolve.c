/*
 * tproxy_resolve.c - resolver thread pool and answer cache (see
 * tproxy_resolve.h).
 */
#include "tproxy/tproxy_resolve.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/loop.h"

#define RESOLVE_QUEUE_MAX	1024	/* pending lookups before we refuse */

struct resolve_cache_entry {
	char			 name[RESOLVE_NAME_MAX + 1];
	uint64_t		 expires;
	struct sockaddr_storage	 addrs[RESOLVE_MAX_ADDRS];
	int			 naddrs;
	int			 failed;
};

struct resolver {
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct resolve_req	*head, *tail;
	unsigned		 queued;
	int			 stop;
	pthread_t		*threads;
	int			 nthreads;
	struct resolve_cache_entry cache[RESOLVE_CACHE_SIZE];
};

static unsigned
name_hash(const char *s)
{
	unsigned h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

int
resolver_cached(struct resolver *r, struct resolve_req *req)
{
	struct resolve_cache_entry *e;
	int hit = 0;

	pthread_mutex_lock(&r->lock);
	e = &r->cache[name_hash(req->name) % RESOLVE_CACHE_SIZE];
	if (strcmp(e->name, req->name) == 0 && e->expires > loop_now_ms()) {
		memcpy(req->addrs, e->addrs, sizeof(req->addrs));
		req->naddrs = e->naddrs;
		req->failed = e->failed;
		hit = 1;
	}
	pthread_mutex_unlock(&r->lock);
	return hit;
}

static void
resolver_store(struct resolver *r, const struct resolve_req *req)
{
	struct resolve_cache_entry *e;

	pthread_mutex_lock(&r->lock);
	e = &r->cache[name_hash(req->name) % RESOLVE_CACHE_SIZE];
	memcpy(e->name, req->name, sizeof(e->name));
	memcpy(e->addrs, req->addrs, sizeof(e->addrs));
	e->naddrs = req->naddrs;
	e->failed = req->failed;
	e->expires = loop_now_ms() +
	    (req->failed ? RESOLVE_NEG_TTL_MS : RESOLVE_TTL_MS);
	pthread_mutex_unlock(&r->lock);
}

static void
resolve_run(struct resolve_req *req)
{
	struct addrinfo hints, *res = NULL, *ai;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	req->naddrs = 0;
	if (getaddrinfo(req->name, NULL, &hints, &res) == 0) {
		for (ai = res; ai != NULL && req->naddrs < RESOLVE_MAX_ADDRS;
		    ai = ai->ai_next) {
			if (ai->ai_addrlen > sizeof(req->addrs[0]))
				continue;
			memcpy(&req->addrs[req->naddrs++], ai->ai_addr,
			    ai->ai_addrlen);
		}
		freeaddrinfo(res);
	}
	req->failed = req->naddrs == 0;
}

static void
sink_put(struct resolve_sink *s, struct resolve_req *req)
{
	uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	req->next = s->done;
	s->done = req;
	pthread_mutex_unlock(&s->lock);
	(void)!write(s->efd, &one, sizeof(one));
}

static void *
resolver_thread(void *arg)
{
	struct resolver *r = arg;
	struct resolve_req *req;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		while (r->head == NULL && !r->stop)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->stop) {
			pthread_mutex_unlock(&r->lock);
			return NULL;
		}
		req = r->head;
		r->head = req->next;
		if (r->head == NULL)
			r->tail = NULL;
		r->queued--;
		pthread_mutex_unlock(&r->lock);

		resolve_run(req);
		resolver_store(r, req);
		sink_put(req->sink, req);
	}
}

struct resolver *
resolver_new(int nthreads)
{
	struct resolver *r;
	int i;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	if ((r->threads = calloc((size_t)nthreads, sizeof(*r->threads))) == NULL)
		goto fail;
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&r->threads[i], NULL, resolver_thread, r) != 0)
			goto fail;
		r->nthreads++;
	}
	return r;
fail:
	resolver_free(r);
	return NULL;
}

void
resolver_free(struct resolver *r)
{
	struct resolve_req *req;
	int i;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < r->nthreads; i++)
		pthread_join(r->threads[i], NULL);
	while ((req = r->head) != NULL) {
		r->head = req->next;
		free(req);
	}
	free(r->threads);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}

int
resolver_submit(struct resolver *r, struct resolve_req *req,
    struct resolve_sink *sink)
{
	int ret = -1;

	req->sink = sink;
	req->next = NULL;
	pthread_mutex_lock(&r->lock);
	if (r->queued >= RESOLVE_QUEUE_MAX || r->stop)
		goto out;
	if (r->tail != NULL)
		r->tail->next = req;
	else
		r->head = req;
	r->tail = req;
	r->queued++;
	pthread_cond_signal(&r->cond);
	ret = 0;
out:
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int
resolve_sink_init(struct resolve_sink *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return s->efd == -1 ? -1 : 0;
}

struct resolve_req *
resolve_sink_take(struct resolve_sink *s)
{
	struct resolve_req *list;
	uint64_t v;

	(void)!read(s->efd, &v, sizeof(v));
	pthread_mutex_lock(&s->lock);
	list = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->lock);
	return list;
}

void
resolve_sink_clear(struct resolve_sink *s)
{
	struct resolve_req *req;

	while ((req = resolve_sink_take(s)) != NULL) {
		while (req != NULL) {
			struct resolve_req *next = req->next;
			free(req);
			req = next;
		}
	}
	if (s->efd != -1)
		close(s->efd);
	s->efd = -1;
	pthread_mutex_destroy(&s->lock);
}

int
resolve_req_has(const struct resolve_req *req, const struct sockaddr *sa)
{
	const struct sockaddr_in *a4, *b4;
	const struct sockaddr_in6 *a6, *b6;
	int i;

	for (i = 0; i < req->naddrs; i++) {
		const struct sockaddr *r = (const struct sockaddr *)&req->addrs[i];

		if (r->sa_family != sa->sa_family)
			continue;
		if (sa->sa_family == AF_INET) {
			a4 = (const struct sockaddr_in *)sa;
			b4 = (const struct sockaddr_in *)r;
			if (a4->sin_addr.s_addr == b4->sin_addr.s_addr)
				return 1;
		} else if (sa->sa_family == AF_INET6) {
			a6 = (const struct sockaddr_in6 *)sa;
			b6 = (const struct sockaddr_in6 *)r;
			if (memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0)
				return 1;
		}
	}
	return 0;
}
