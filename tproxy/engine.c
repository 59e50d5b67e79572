/*
 * engine.c - `pipelock-fw run`: the transparent TCP engine's process.
 *
 * The main thread loads the policy, optionally applies the firewall, binds
 * one pair of IP_TRANSPARENT listeners per worker (127.0.0.1 and ::1 with
 * SO_REUSEPORT: TPROXY hands redirected flows to loopback listeners, so
 * nothing off-box can reach them), starts the workers and the resolver
 * pool, then handles signals (signalfd), the rules watcher and the audit
 * log's summaries.  Workers run tproxy_conn.c's state machine in their own
 * epoll loops.
 *
 * SIGTERM/SIGINT: stop accepting, close every connection, exit 0; the
 * firewall stays (agents stay blocked) unless --remove-on-exit.  SIGHUP:
 * reload the config; a bad one keeps the old policy.
 */
#include "tproxy/engine.h"

#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/audit.h"
#include "core/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/policy.h"
#include "nfq/nfq.h"
#include "rules/rules.h"

#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT		19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT	75
#endif

#define ENGINE_BACKLOG		1024
#define ENGINE_TICK_MS		250	/* main thread: audit summaries, watcher */

struct run_opts {
	const char	*config;
	int		 apply;
	int		 remove_on_exit;
	int		 workers;
	int		 verbose;
};

/* --- connection slots ------------------------------------------------------ */

int
engine_slot_take(struct engine *e, uid_t uid, unsigned max_total,
    unsigned max_per_uid, const char **reason)
{
	struct uid_count *u = NULL, *s;
	unsigned total, i;
	int ret = -1;

	total = __atomic_add_fetch(&e->conns_total, 1, __ATOMIC_ACQ_REL);
	if (max_total > 0 && total > max_total) {
		__atomic_sub_fetch(&e->conns_total, 1, __ATOMIC_ACQ_REL);
		*reason = "firewall.max_conns_total";
		return -1;
	}
	/* a linear table: agents are few (FW_MAX_AGENTS uids + "unknown") */
	pthread_mutex_lock(&e->uid_lock);
	for (i = 0; i < ENGINE_UID_SLOTS; i++) {
		s = &e->uids[i];
		if (s->used && s->uid == uid) {
			u = s;
			break;
		}
		if (!s->used && u == NULL)
			u = s;
	}
	if (u == NULL) {
		*reason = "per-agent connection table";
		goto out;
	}
	if (!u->used) {
		u->used = 1;
		u->uid = uid;
		u->n = 0;
	}
	if (max_per_uid > 0 && u->n >= max_per_uid) {
		*reason = "firewall.max_conns_per_agent";
		goto out;
	}
	u->n++;
	ret = 0;
out:
	pthread_mutex_unlock(&e->uid_lock);
	if (ret == -1)
		__atomic_sub_fetch(&e->conns_total, 1, __ATOMIC_ACQ_REL);
	return ret;
}

void
engine_slot_put(struct engine *e, uid_t uid)
{
	unsigned i;

	__atomic_sub_fetch(&e->conns_total, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&e->uid_lock);
	for (i = 0; i < ENGINE_UID_SLOTS; i++) {
		struct uid_count *s = &e->uids[i];

		if (s->used && s->uid == uid) {
			if (--s->n == 0)
				s->used = 0;
			break;
		}
	}
	pthread_mutex_unlock(&e->uid_lock);
}

/* --- listeners ------------------------------------------------------------- */

static int
listener_open(int family, uint16_t port, struct sockaddr_storage *bound)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)bound;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)bound;
	socklen_t sl;
	int fd, one = 1;

	memset(bound, 0, sizeof(*bound));
	if ((fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    IPPROTO_TCP)) == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1)
		goto fail;
	if (family == AF_INET) {
		/* TPROXY only hands flows to transparent sockets */
		if (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) == -1)
			goto fail;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*s4);
	} else {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one,
		    sizeof(one)) == -1 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1)
			goto fail;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_addr = in6addr_loopback;
		sl = sizeof(*s6);
	}
	if (bind(fd, (struct sockaddr *)bound, sl) == -1 ||
	    listen(fd, ENGINE_BACKLOG) == -1)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* --- workers --------------------------------------------------------------- */

static void
worker_listen_cb(struct loop *l, int fd, int ready, void *ctx)
{
	conn_accept_all(ctx, fd);
}

static void
worker_resolved_cb(struct loop *l, int fd, int ready, void *ctx)
{
	conn_resolved_all(ctx);
}

static void
worker_wake_cb(struct loop *l, int fd, int ready, void *ctx)
{
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
}

/* --- NFQUEUE workers (nfq/nfq.h) ------------------------------------------ */

/*
 * One NFQUEUE worker per queue of the range the ruleset balances agent UDP
 * over (by address-pair hash), polled by engine worker thread (queue index
 * % nworkers).  Kept in this file's table so struct worker stays as
 * tproxy_conn.c knows it; each entry is only touched by its thread once the
 * threads run.
 */
struct engine_nfq {
	struct nfq_worker	*nw;		/* NULL: unbound, the sweep retries */
	struct loop		*loop;		/* the owning worker thread's */
	unsigned		 queue;
	int			 warned;
};
static struct engine_nfq	*engine_nfqs;
static unsigned			 engine_nnfq;

static void worker_nfq_cb(struct loop *l, int fd, int ready, void *ctx);

/* `run --workers N`, else one per CPU: also the number of queues applied. */
static int
engine_worker_count(const struct run_opts *o)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (o->workers > 0)
		return o->workers;
	return ncpu > 0 ? (ncpu > ENGINE_MAX_WORKERS ? ENGINE_MAX_WORKERS :
	    (int)ncpu) : 1;
}

/*
 * Bind q's queue and poll it.  A queue left unbound is fail-safe: the
 * ruleset's bypass + guard rejects its packets (fail_mode closed).
 */
static void
engine_nfq_open(struct engine_nfq *q, const struct config *cfg)
{
	char err[256];

	if ((q->nw = nfq_worker_new(cfg, q->queue, err, sizeof(err))) == NULL) {
		if (!q->warned)
			log_warnx("nfq %u: %s; agent UDP sent to it is %s until it "
			    "binds", q->queue, err, cfg->fw.fail_closed ?
			    "rejected" : "not inspected");
		q->warned = 1;
		return;
	}
	if (loop_add(q->loop, nfq_worker_fd(q->nw), LOOP_READ, worker_nfq_cb,
	    q) == -1) {
		log_warn("nfq %u: epoll_ctl", q->queue);
		nfq_worker_free(q->nw);
		q->nw = NULL;
		return;
	}
	q->warned = 0;
}

static void
engine_nfq_close(struct engine_nfq *q)
{
	if (q->nw == NULL)
		return;
	loop_del(q->loop, nfq_worker_fd(q->nw));
	nfq_worker_free(q->nw);
	q->nw = NULL;
}

static void
worker_nfq_cb(struct loop *l, int fd, int ready, void *ctx)
{
	struct engine_nfq *q = ctx;
	struct policy *p = policy_current();

	if (nfq_worker_handle(q->nw, p) == -1 && p != NULL) {
		/* the socket failed: rebind now (the sweep retries) */
		engine_nfq_close(q);
		engine_nfq_open(q, p->cfg);
	}
	policy_unref(p);
}

/* Rebind this thread's unbound queues (every sweep). */
static void
worker_nfq_sweep(struct worker *w)
{
	struct policy *p;
	unsigned i;

	for (i = 0; i < engine_nnfq; i++) {
		if (engine_nfqs[i].loop != w->loop || engine_nfqs[i].nw != NULL)
			continue;
		if ((p = policy_current()) == NULL)
			return;
		engine_nfq_open(&engine_nfqs[i], p->cfg);
		policy_unref(p);
	}
}

/*
 * While privileged, before the threads start: bind the installed table's
 * queue range (else firewall.queue_num alone).  -1 only when out of memory.
 */
static int
engine_nfq_start(struct engine *e, const struct config *cfg)
{
	unsigned i, first, total;

	if (rules_queue_range(&first, &total) != 1) {
		first = cfg->fw.queue_num;
		total = 1;
	}
	if ((engine_nfqs = calloc(total, sizeof(*engine_nfqs))) == NULL)
		return -1;
	engine_nnfq = total;
	for (i = 0; i < total; i++) {
		engine_nfqs[i].queue = first + i;
		engine_nfqs[i].loop = e->workers[i % (unsigned)e->nworkers].loop;
		engine_nfq_open(&engine_nfqs[i], cfg);
	}
	return 0;
}

/* After the threads stopped: unbind (queued packets are dropped). */
static void
engine_nfq_stop(void)
{
	unsigned i;

	for (i = 0; i < engine_nnfq; i++)
		engine_nfq_close(&engine_nfqs[i]);
	free(engine_nfqs);
	engine_nfqs = NULL;
	engine_nnfq = 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t now;

	while (!__atomic_load_n(&w->eng->stop, __ATOMIC_ACQUIRE)) {
		if (loop_once(w->loop, ENGINE_SWEEP_MS) == -1) {
			log_warn("worker %d: epoll_wait", w->id);
			break;
		}
		now = loop_now_ms();
		if (now >= w->next_sweep) {
			conn_sweep(w, now);
			worker_nfq_sweep(w);
			w->next_sweep = now + ENGINE_SWEEP_MS;
		}
		conn_reap(w);
	}
	/* stop accepting first, then close what is open */
	if (w->lfd4 != -1) {
		loop_del(w->loop, w->lfd4);
		close(w->lfd4);
		w->lfd4 = -1;
	}
	if (w->lfd6 != -1) {
		loop_del(w->loop, w->lfd6);
		close(w->lfd6);
		w->lfd6 = -1;
	}
	conn_close_all(w);
	return NULL;
}

static void
worker_free(struct worker *w)
{
	if (w->lfd4 != -1)
		close(w->lfd4);
	if (w->lfd6 != -1)
		close(w->lfd6);
	if (w->wake_fd != -1)
		close(w->wake_fd);
	if (w->sink.efd != -1)
		resolve_sink_clear(&w->sink);
	loop_free(w->loop);
	w->loop = NULL;
	w->lfd4 = w->lfd6 = w->wake_fd = -1;
}

static int
worker_init(struct engine *e, struct worker *w, int id, int want6)
{
	struct sockaddr_storage bound;

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->eng = e;
	w->lfd4 = w->lfd6 = w->wake_fd = w->sink.efd = -1;
	if ((w->loop = loop_new()) == NULL) {
		log_warn("epoll");
		return -1;
	}
	if (resolve_sink_init(&w->sink) == -1 ||
	    (w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		log_warn("eventfd");
		return -1;
	}
	if ((w->lfd4 = listener_open(AF_INET, e->port, &bound)) == -1) {
		log_warn("transparent listener 127.0.0.1:%u", e->port);
		return -1;
	}
	memcpy(&e->lsn4, &bound, sizeof(e->lsn4));
	if (want6) {
		w->lfd6 = listener_open(AF_INET6, e->port, &bound);
		if (w->lfd6 == -1 && (errno == EAFNOSUPPORT ||
		    errno == EADDRNOTAVAIL)) {
			/* no IPv6 here: the firewall rejects agents' IPv6 instead */
			if (id == 0)
				log_warnx("IPv6 unavailable (%s): listening on "
				    "IPv4 only", strerror(errno));
		} else if (w->lfd6 == -1) {
			log_warn("transparent listener [::1]:%u", e->port);
			return -1;
		} else {
			memcpy(&e->lsn6, &bound, sizeof(e->lsn6));
			e->have6 = 1;
		}
	}
	if (loop_add(w->loop, w->lfd4, LOOP_READ, worker_listen_cb, w) == -1 ||
	    (w->lfd6 != -1 &&
	    loop_add(w->loop, w->lfd6, LOOP_READ, worker_listen_cb, w) == -1) ||
	    loop_add(w->loop, w->sink.efd, LOOP_READ, worker_resolved_cb, w) == -1 ||
	    loop_add(w->loop, w->wake_fd, LOOP_READ, worker_wake_cb, w) == -1) {
		log_warn("epoll_ctl");
		return -1;
	}
	return 0;
}

/* --- process --------------------------------------------------------------- */

static void
rlimit_raise(const struct config *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->fw.max_conns_total * ENGINE_FDS_PER_CONN +
	    ENGINE_FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max < want) {
		rl.rlim_max = want;	/* root may raise the hard limit */
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			return;
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
			return;
		log_warnx("RLIMIT_NOFILE hard limit %llu is below the %llu that "
		    "firewall.max_conns_total needs",
		    (unsigned long long)rl.rlim_max, (unsigned long long)want);
		want = rl.rlim_max;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit RLIMIT_NOFILE");
}

static int
audit_setup(const struct config *cfg)
{
	if (audit_open(cfg->logging.to_stdout,
	    cfg->logging.to_file ? cfg->logging.file : NULL,
	    cfg->logging.include_allowed, cfg->logging.include_blocked) == -1) {
		log_warn("audit log %s", cfg->logging.file);
		return -1;
	}
	return 0;
}

static void
audit_note(const char *event, const char *verdict, const char *msg)
{
	struct audit_event ev;

	audit_event_init(&ev);
	ev.event = event;
	ev.verdict = verdict;
	ev.message = msg;
	audit_emit(&ev);
}

static struct policy *
policy_load(const char *path)
{
	char err[CONFIG_ERR_MAX];
	struct config *cfg = NULL;
	struct policy *p;
	size_t i;

	if (config_load(path, &cfg, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return NULL;
	}
	for (i = 0; i < cfg->warnings.n; i++)
		log_warnx("%s", cfg->warnings.v[i]);
	if ((p = policy_new(cfg, err, sizeof(err))) == NULL)
		log_warnx("%s", err);
	return p;
}

/*
 * The control thread's state: the policy whose config the rules watcher
 * reads (held, so the config outlives the watcher across reloads).
 */
struct control {
	const struct run_opts	*o;
	struct policy		*held;
	struct rules_watch	*rw;
};

/*
 * SIGHUP: load and swap a new policy; a bad config keeps the old one.  With
 * --apply the firewall follows the new config (agents, ports), replaced
 * atomically and without closing existing connections.
 */
static void
engine_reload(struct control *ctl)
{
	struct policy *p;
	char msg[128];

	if ((p = policy_load(ctl->o->config)) == NULL) {
		audit_note("config_reload", "error", "reload failed; old policy kept");
		return;
	}
	if (ctl->o->apply) {
		if (rules_apply(p->cfg, RULES_F_NO_DESTROY |
		    RULES_F_QUEUES(engine_worker_count(ctl->o))) == -1) {
			log_warnx("reload: firewall apply failed; old policy kept");
			audit_note("config_reload", "error", "firewall apply failed; "
			    "old policy kept");
			policy_unref(p);
			return;
		}
		rules_watch_free(ctl->rw);
		if ((ctl->rw = rules_watch_new(p->cfg)) == NULL)
			log_warnx("cannot watch the firewall rules; they will not "
			    "be restored if removed");
	}
	snprintf(msg, sizeof(msg), "policy generation %lu loaded", p->generation);
	/* audit sinks follow the new logging section (and reopen: rotation) */
	(void)audit_setup(p->cfg);
	policy_unref(ctl->held);
	ctl->held = policy_ref(p);
	policy_swap(p);
	log_info("configuration reloaded");
	audit_note("config_reload", "ok", msg);
}

static void
usage(FILE *f)
{
	fprintf(f, "Usage: %s run [--config FILE] [--apply] [--remove-on-exit] "
	    "[--workers N] [-v]\n", progname);
}

static int
parse_args(int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "apply", no_argument, NULL, 'a' },
		{ "remove-on-exit", no_argument, NULL, 'r' },
		{ "workers", required_argument, NULL, 'w' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long n;
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:w:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'a':
			o->apply = 1;
			break;
		case 'r':
			o->remove_on_exit = 1;
			break;
		case 'w':
			n = strtol(optarg, &end, 10);
			if (*end != '\0' || n < 1 || n > ENGINE_MAX_WORKERS) {
				fprintf(stderr, "%s run: --workers: 1..%d\n",
				    progname, ENGINE_MAX_WORKERS);
				return -1;
			}
			o->workers = (int)n;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

/* The control loop: signals, rules watcher, audit summaries. */
static void
engine_control(struct control *ctl, int sfd)
{
	struct pollfd pfd[2];
	struct signalfd_siginfo si;
	int n, r;

	for (;;) {
		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = ctl->rw != NULL ? rules_watch_fd(ctl->rw) : -1;
		pfd[1].events = POLLIN;
		n = poll(pfd, 2, ENGINE_TICK_MS);
		audit_tick();
		if (n == -1 && errno != EINTR) {
			log_warn("poll");
			return;
		}
		if (n > 0 && (pfd[1].revents & POLLIN)) {
			r = rules_watch_handle(ctl->rw);
			if (r == 1) {
				log_warnx("firewall rules or routes were removed; "
				    "re-applied");
				audit_note("rules", "reapplied", "firewall rules or "
				    "routes were removed; re-applied");
			} else if (r == -1) {
				log_warnx("firewall rules were removed and could "
				    "not be re-applied");
				audit_note("rules", "error", "firewall rules were "
				    "removed and could not be re-applied");
			}
		}
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				engine_reload(ctl);
				continue;
			}
			log_info("signal %d: stopping", (int)si.ssi_signo);
			return;
		}
	}
}

int
run_main(int argc, char **argv)
{
	struct run_opts o;
	struct engine *e = NULL;
	struct policy *pol = NULL, *cur;
	struct control ctl = { &o, NULL, NULL };
	sigset_t mask;
	uint64_t one = 1;
	int i, r, sfd = -1, ret = EXIT_BLOCKED, applied = 0;

	if ((r = parse_args(argc, argv, &o)) != 0)
		return r == 1 ? EXIT_ALLOWED : EXIT_USAGE;
	log_init(LOG_TO_STDERR, o.verbose);
	if ((pol = policy_load(o.config)) == NULL)
		return EXIT_USAGE;
	if (audit_setup(pol->cfg) == -1) {
		policy_unref(pol);
		return EXIT_USAGE;
	}
	ctl.held = pol;		/* pol: the first policy, for the setup below */
	policy_swap(policy_ref(pol));

	/* signals: handled by the control loop only */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0 ||
	    (sfd = signalfd(-1, &mask, SFD_CLOEXEC)) == -1) {
		log_warn("signalfd");
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	rlimit_raise(pol->cfg);

	/* rules first: once the listeners accept, the engine is fully up */
	if (o.apply) {
		/* one NFQUEUE per worker thread, balanced by address-pair hash */
		if (rules_apply(pol->cfg,
		    RULES_F_QUEUES(engine_worker_count(&o))) == -1) {
			log_warnx("firewall apply failed");
			goto out;
		}
		applied = 1;
		if ((ctl.rw = rules_watch_new(pol->cfg)) == NULL)
			log_warnx("cannot watch the firewall rules; they will not "
			    "be restored if removed");
	}

	if ((e = calloc(1, sizeof(*e))) == NULL) {
		log_warnx("out of memory");
		goto out;
	}
	pthread_mutex_init(&e->uid_lock, NULL);
	e->port = pol->cfg->fw.tproxy_port;
	e->nworkers = engine_worker_count(&o);
	if ((e->workers = calloc((size_t)e->nworkers, sizeof(*e->workers))) == NULL)
		goto out;
	for (i = 0; i < e->nworkers; i++)
		e->workers[i].lfd4 = e->workers[i].lfd6 = e->workers[i].wake_fd =
		    e->workers[i].sink.efd = -1;
	for (i = 0; i < e->nworkers; i++)
		if (worker_init(e, &e->workers[i], i, pol->cfg->fw.ipv6) == -1)
			goto out;
	if (engine_nfq_start(e, pol->cfg) == -1) {
		log_warnx("out of memory");
		goto out;
	}
	if ((e->resolver = resolver_new(RESOLVE_THREADS)) == NULL) {
		log_warnx("cannot start the resolver threads");
		goto out;
	}

	for (i = 0; i < e->nworkers; i++) {
		if (pthread_create(&e->workers[i].thread, NULL, worker_main,
		    &e->workers[i]) != 0) {
			log_warnx("cannot start worker %d", i);
			goto stop;
		}
		e->workers[i].started = 1;
	}
	log_info("listening on 127.0.0.1:%u%s with %d worker%s", e->port,
	    e->have6 ? " and [::1]" : "", e->nworkers, e->nworkers == 1 ? "" : "s");
	audit_note("engine", "start", "engine started");

	engine_control(&ctl, sfd);
	ret = EXIT_ALLOWED;
stop:
	__atomic_store_n(&e->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < e->nworkers; i++)
		(void)!write(e->workers[i].wake_fd, &one, sizeof(one));
	for (i = 0; i < e->nworkers; i++)
		if (e->workers[i].started)
			pthread_join(e->workers[i].thread, NULL);
	audit_note("engine", "stop", o.remove_on_exit && applied ?
	    "engine stopped; removing the firewall (--remove-on-exit)" :
	    "engine stopped; firewall left in place");
out:
	rules_watch_free(ctl.rw);
	if (applied && o.remove_on_exit && rules_remove() == -1) {
		log_warnx("firewall remove failed");
		ret = EXIT_BLOCKED;
	}
	if (e != NULL) {
		/* resolver threads first: they may still post to worker sinks */
		resolver_free(e->resolver);
		engine_nfq_stop();	/* before the loops go */
		for (i = 0; e->workers != NULL && i < e->nworkers; i++)
			worker_free(&e->workers[i]);
		free(e->workers);
		pthread_mutex_destroy(&e->uid_lock);
		free(e);
	}
	if (sfd != -1)
		close(sfd);
	cur = policy_current();
	policy_swap(NULL);
	policy_unref(cur);
	policy_unref(ctl.held);
	audit_close();
	return ret;
}
