/*
 * test_loop.c - the event loop and the resolver pool: readiness dispatch,
 * interest changes, an event fetched for an fd that an earlier callback of
 * the same batch closed and reused is not delivered to the new owner, and a
 * name resolved off-loop comes back through the worker's sink and cache.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "core/loop.h"
#include "tproxy/tproxy_resolve.h"

struct pair {
	int	fds[2];
	int	calls;
	int	ready;
	int	reused;		/* fd of the new owner */
	struct pair *victim;	/* closed and replaced by this callback */
};

static struct pair *new_owner;

static void
cb(struct loop *l, int fd, int ready, void *ctx)
{
	struct pair *p = ctx;
	int nf[2];

	p->calls++;
	p->ready = ready;
	if (p->victim != NULL) {
		/* close the victim's read end and reuse its number at once */
		int vfd = p->victim->fds[0];

		loop_del(l, vfd);
		close(vfd);
		if (pipe(nf) == 0) {
			if (nf[0] != vfd) {
				dup2(nf[0], vfd);
				close(nf[0]);
			}
			(void)!write(nf[1], "y", 1);	/* the new owner is readable too */
			new_owner->fds[0] = vfd;
			new_owner->fds[1] = nf[1];
			loop_add(l, vfd, LOOP_READ, cb, new_owner);
		}
		p->victim = NULL;
	}
}

static void
test_loop(void)
{
	struct loop *l = loop_new();
	struct pair a, b, c;
	uint64_t t0;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	new_owner = &c;
	ok(l != NULL, "loop_new");
	ok(pipe(a.fds) == 0 && pipe(b.fds) == 0, "pipes");
	is_int(loop_add(l, a.fds[0], LOOP_READ, cb, &a), 0, "add a");
	is_int(loop_add(l, b.fds[0], LOOP_READ, cb, &b), 0, "add b");
	t0 = loop_now_ms();
	is_int(loop_once(l, 50), 0, "nothing ready: timeout");
	ok(loop_now_ms() - t0 >= 40, "waited ~50 ms");

	(void)!write(a.fds[1], "x", 1);
	is_int(loop_once(l, 1000), 1, "one event");
	is_int(a.calls, 1, "a called");
	ok(a.ready & LOOP_READ, "with LOOP_READ");
	is_int(loop_set(l, a.fds[0], 0), 0, "interest cleared");
	is_int(loop_once(l, 20), 0, "no event without interest");
	is_int(loop_set(l, a.fds[0], LOOP_READ), 0, "interest back");

	/* both ready in one batch; whichever runs first kills the other */
	(void)!write(b.fds[1], "x", 1);
	a.calls = b.calls = 0;
	a.victim = &b;
	b.victim = &a;
	loop_once(l, 1000);
	is_int(a.calls + b.calls, 1, "the closed fd's stale event was dropped");
	is_int(c.calls, 0, "the new owner of the fd number got no stale event");
	loop_once(l, 1000);
	is_int(c.calls, 1, "the new owner gets its own event next time");
	loop_free(l);
}

static void
test_resolver(void)
{
	struct resolver *r = resolver_new(2);
	struct resolve_sink sink;
	struct resolve_req *req, *done = NULL;
	struct sockaddr_in sin;
	struct pollfd pfd;

	ok(r != NULL, "resolver_new");
	is_int(resolve_sink_init(&sink), 0, "sink");
	req = calloc(1, sizeof(*req));
	strcpy(req->name, "localhost");
	is_int(resolver_cached(r, req), 0, "cold cache: miss");
	req->owner = &sink;
	is_int(resolver_submit(r, req, &sink), 0, "submitted");
	pfd.fd = sink.efd;
	pfd.events = POLLIN;
	ok(poll(&pfd, 1, 5000) == 1, "sink eventfd became readable");
	done = resolve_sink_take(&sink);
	ok(done == req && done->next == NULL, "the request came back");
	ok(done != NULL && !done->failed && done->naddrs > 0, "localhost resolved");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok(done != NULL && resolve_req_has(done, (struct sockaddr *)&sin), "127.0.0.1 among the answers");
	sin.sin_addr.s_addr = htonl(0xc6120002);
	ok(done != NULL && !resolve_req_has(done, (struct sockaddr *)&sin), "198.18.0.2 is not");
	free(done);
	req = calloc(1, sizeof(*req));
	strcpy(req->name, "localhost");
	is_int(resolver_cached(r, req), 1, "warm cache: hit");
	ok(req->naddrs > 0, "cached answers");
	free(req);
	resolver_free(r);
	resolve_sink_clear(&sink);
}

int
main(void)
{
	test_loop();
	test_resolver();
	return tap_done();
}
