/*
 * engine.c - `pipelock-fw run`: the transparent TCP engine's process.
 *
 * The main thread loads the policy, optionally applies the firewall, binds
 * one pair of IP_TRANSPARENT listeners per worker (127.0.0.1 and ::1 with
 * SO_REUSEPORT: TPROXY hands redirected flows to loopback listeners, so
 * nothing off-box can reach them), starts the workers and the resolver
 * pool, then runs the control loop (core/loop.h): signals (signalfd), the
 * rules watcher, the kill switch's sentinel watch, the admin servers
 * (kill_switch.api_listen, metrics_listen) and the audit log's summaries.
 * Workers run tproxy_conn.c's state machine in their own epoll loops.
 * With --user, everything privileged happens before the first thread
 * starts, then the process becomes that user with only the capabilities
 * engine_caps_kept() names (capabilities are per thread; threads inherit).
 *
 * SIGTERM/SIGINT: stop accepting, close every connection, exit 0; the
 * firewall stays (agents stay blocked) unless --remove-on-exit.  SIGHUP:
 * reload the config; a bad one keeps the old policy.  SIGUSR1: toggle the
 * kill switch (as pipelock).  SIGUSR2: reopen logging.file (logrotate).
 * The kill switch is checked by the workers (one atomic load) and the
 * NFQUEUE verdicts; the control loop logs its transitions and cuts the
 * UDP flows the kernel fast-paths (engine_ct_flush_allowed()).
 */
#include "tproxy/engine.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <libmnl/libmnl.h>
#include <linux/capability.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/audit.h"
#include "core/cli.h"
#include "core/config.h"
#include "core/killswitch.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/policy.h"
#include "core/sockdiag.h"
#include "nfq/nfq.h"
#include "nfq/nfq_verdict.h"
#include "rules/rules.h"
#include "scanner/scanner.h"
#include "tproxy/tproxy_admin.h"
#include "tproxy/tproxy_proxy.h"
#include "tproxy/tproxy_mitm.h"

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
	const char	*user;		/* --user: drop to it after setup */
	const char	*listen;	/* --listen: overrides fetch_proxy.listen */
	int		 apply;
	int		 remove_on_exit;
	int		 workers;
	int		 verbose;
	/* --agent-user/--agent-group: replace the config's lists, also on reload */
	const char	*agents[FW_MAX_AGENTS];
	size_t		 nagents;
	const char	*agent_groups[FW_MAX_AGENTS];
	size_t		 nagent_groups;
};

/* The command line's agent overrides, applied by every policy_load(). */
static const struct run_opts *run_agent_opts;

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
	struct nfq_stats	 seen;		/* counters already in metrics */
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
	memset(&q->seen, 0, sizeof(q->seen));	/* a new worker counts from 0 */
}

/* Publish what q's worker counted since the last call (metrics.h). */
static void
engine_nfq_metrics(struct engine_nfq *q)
{
	struct metric *v = metrics_get(M_NFQUEUE_VERDICTS);
	struct nfq_stats s;

	nfq_worker_stats(q->nw, &s);
	metric_add(v, METRIC_LV("accept"), s.accepted - q->seen.accepted);
	metric_add(v, METRIC_LV("drop"), s.dropped - q->seen.dropped);
	metric_add(v, METRIC_LV("reject"), s.rejected - q->seen.rejected);
	metric_add(metrics_get(M_NFQUEUE_DROPS), NULL,
	    s.enobufs - q->seen.enobufs);
	q->seen = s;
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
	int r = nfq_worker_handle(q->nw, p);

	engine_nfq_metrics(q);
	if (r == -1 && p != NULL) {
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

/* The explicit proxy port (tproxy_proxy.h): one object per worker. */
static struct tproxy_proxy	*engine_proxies[ENGINE_MAX_WORKERS];

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t now;

	/* the owner lookup's netlink socket, kept for every connection */
	if (sockdiag_thread_init() == -1)
		log_warn("worker %d: sock_diag socket", w->id);
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
			/* re-arm listeners an fd shortage paused (no-op if not) */
			(void)loop_set(w->loop, w->lfd4, LOOP_READ);
			if (w->lfd6 != -1)
				(void)loop_set(w->loop, w->lfd6, LOOP_READ);
		}
		conn_reap(w);
		tproxy_proxy_tick(engine_proxies[w->id], now);
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

/* fs.nr_open: no RLIMIT_NOFILE may exceed it, not even root's; 0 unknown. */
static rlim_t
rlimit_nr_open(void)
{
	unsigned long long v = 0;
	FILE *f;

	if ((f = fopen("/proc/sys/fs/nr_open", "re")) == NULL)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return (rlim_t)v;
}

/*
 * Make room for firewall.max_conns_total relayed connections of
 * ENGINE_FDS_PER_CONN descriptors each before any is accepted: raise the
 * soft RLIMIT_NOFILE and, if the hard one is lower and the process may
 * (CAP_SYS_RESOURCE: run_main calls this before dropping privileges), the
 * hard one too, never above fs.nr_open.  What it cannot get is said once,
 * with the connections the limit leaves room for (beyond them accept()
 * backs off on EMFILE); a raise is reported on one start-up line.
 */
static void
rlimit_raise(const struct config *cfg)
{
	struct rlimit rl, old;
	rlim_t want, nr_open;
	unsigned long long room;

	want = (rlim_t)cfg->fw.max_conns_total * ENGINE_FDS_PER_CONN +
	    ENGINE_FD_RESERVE;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit RLIMIT_NOFILE");
		return;
	}
	if (rl.rlim_cur >= want)
		return;
	old = rl;
	nr_open = rlimit_nr_open();
	if (nr_open != 0 && want > nr_open) {
		log_warnx("firewall.max_conns_total %u needs %llu file "
		    "descriptors, more than fs.nr_open %llu allows",
		    cfg->fw.max_conns_total, (unsigned long long)want,
		    (unsigned long long)nr_open);
		want = nr_open;
	}
	if (rl.rlim_max < want) {
		rl.rlim_max = rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			rl = old;
			room = rl.rlim_max > ENGINE_FD_RESERVE ?
			    (rl.rlim_max - ENGINE_FD_RESERVE) /
			    ENGINE_FDS_PER_CONN : 0;
			log_warnx("RLIMIT_NOFILE hard limit %llu is below the "
			    "%llu that firewall.max_conns_total %u needs and "
			    "cannot be raised (%s): room for %llu connections; "
			    "raise it (systemd LimitNOFILE=, ulimit -Hn) or "
			    "lower max_conns_total",
			    (unsigned long long)rl.rlim_max,
			    (unsigned long long)want, cfg->fw.max_conns_total,
			    strerror(errno), room);
			want = rl.rlim_max;
		}
	}
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			log_warn("setrlimit RLIMIT_NOFILE");
			return;
		}
	}
	if (rl.rlim_cur == old.rlim_cur)
		return;
	room = rl.rlim_cur > ENGINE_FD_RESERVE ?
	    (rl.rlim_cur - ENGINE_FD_RESERVE) / ENGINE_FDS_PER_CONN : 0;
	log_info("RLIMIT_NOFILE raised from %llu/%llu to %llu/%llu "
	    "(soft/hard): room for %llu relayed connections",
	    (unsigned long long)old.rlim_cur, (unsigned long long)old.rlim_max,
	    (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
	    room);
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

/* Load and compile path; NULL with the error in err (also on stderr). */
static struct policy *
policy_load(const char *path, char *err, size_t errlen)
{
	struct config *cfg = NULL;
	struct policy *p;
	size_t i;

	if (config_load(path, &cfg, err, errlen) == -1) {
		log_warnx("%s", err);
		return NULL;
	}
	if (run_agent_opts != NULL && config_agents_set(cfg,
	    run_agent_opts->agents, run_agent_opts->nagents,
	    run_agent_opts->agent_groups, run_agent_opts->nagent_groups, err,
	    errlen) == -1) {
		log_warnx("%s", err);
		config_free(cfg);
		return NULL;
	}
	for (i = 0; i < cfg->warnings.n; i++)
		log_warnx("%s", cfg->warnings.v[i]);
	if ((p = policy_new(cfg, err, errlen)) == NULL)
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
	struct loop		*loop;
	int			 rw_fd;		/* rw's fd as registered in loop */
	int			 stop;
	struct killswitch	*ks;
	unsigned		 ks_last;	/* sources at the last tick */
	int			 ks_flushes;	/* conntrack flushes still to do */
	struct tproxy_admin	*api;		/* kill_switch.api_listen */
	struct tproxy_admin	*mon;		/* metrics_listen */
};

static void control_watch_set(struct control *ctl, struct rules_watch *rw);

/* Two optional strings are equal (NULL and "" alike). */
static int
str_same(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/* The admin servers follow the held policy (health fields, API token). */
static void
control_admin_reconfigure(struct control *ctl)
{
	unsigned n = (unsigned)scanner_pattern_count(ctl->held->scanner);

	if (ctl->api != NULL)
		tproxy_admin_reconfigure(ctl->api, ctl->held->cfg, n);
	if (ctl->mon != NULL)
		tproxy_admin_reconfigure(ctl->mon, ctl->held->cfg, n);
}

/*
 * SIGHUP: load and swap a new policy; a bad config keeps the old one.  With
 * --apply the firewall follows the new config (agents, ports), replaced
 * atomically and without closing existing connections.
 */
static void
engine_reload(struct control *ctl)
{
	struct policy *p;
	char msg[CONFIG_ERR_MAX + 64];

	if ((p = policy_load(ctl->o->config, msg, sizeof(msg))) == NULL) {
		/* the error is on stderr; the audit line carries it too */
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
		    "; old policy kept");
		audit_note("config_reload", "error", msg);
		metric_add(metrics_get(M_CONFIG_RELOADS), METRIC_LV("error"), 1);
		return;
	}
	if (ctl->o->apply) {
		if (rules_apply(p->cfg, RULES_F_NO_DESTROY |
		    RULES_F_QUEUES(engine_worker_count(ctl->o))) == -1) {
			log_warnx("reload: firewall apply failed; old policy kept");
			audit_note("config_reload", "error", "firewall apply failed; "
			    "old policy kept");
			metric_add(metrics_get(M_CONFIG_RELOADS),
			    METRIC_LV("error"), 1);
			policy_unref(p);
			return;
		}
		control_watch_set(ctl, rules_watch_new(p->cfg));
		if (ctl->rw == NULL)
			log_warnx("cannot watch the firewall rules; they will not "
			    "be restored if removed");
	}
	snprintf(msg, sizeof(msg), "policy generation %lu loaded", p->generation);
	if (!str_same(p->cfg->kill_switch.api_listen,
	    ctl->held->cfg->kill_switch.api_listen) ||
	    !str_same(p->cfg->metrics_listen, ctl->held->cfg->metrics_listen))
		log_warnx("reload: kill_switch.api_listen / metrics_listen "
		    "changes take effect at the next start");
	/* audit sinks follow the new logging section (and reopen: rotation) */
	(void)audit_setup(p->cfg);
	policy_unref(ctl->held);
	ctl->held = policy_ref(p);
	policy_swap(p);
	/* api and signal sources, and open admin connections, carry over */
	if (killswitch_reconfigure(ctl->ks, ctl->held->cfg) == -1)
		log_warn("kill switch sentinel watch");
	control_admin_reconfigure(ctl);
	log_info("configuration reloaded");
	audit_note("config_reload", "ok", msg);
	metric_add(metrics_get(M_CONFIG_RELOADS), METRIC_LV("success"), 1);
}

static void
usage(FILE *f)
{
	fprintf(f, "Usage: %s run [--config FILE] [--agent-user USER]... "
	    "[--agent-group GROUP]...\n"
	    "           [--apply] [--remove-on-exit] [--workers N] "
	    "[--user NAME] [--listen ADDR] [-v]\n", progname);
}

static int
parse_args(int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "apply", no_argument, NULL, 'a' },
		{ "remove-on-exit", no_argument, NULL, 'r' },
		{ "workers", required_argument, NULL, 'w' },
		{ "user", required_argument, NULL, 'u' },
		{ "listen", required_argument, NULL, 'l' },
		{ "agent-user", required_argument, NULL, 'A' },
		{ "agent-group", required_argument, NULL, 'G' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long n;
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:w:u:l:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 'A':
		case 'G':
			/* config_agents_set() resolves and checks them. */
			if ((ch == 'A' ? o->nagents : o->nagent_groups) >=
			    FW_MAX_AGENTS) {
				fprintf(stderr, "%s run: at most %d agents\n",
				    progname, FW_MAX_AGENTS);
				return -1;
			}
			if (ch == 'A')
				o->agents[o->nagents++] = optarg;
			else
				o->agent_groups[o->nagent_groups++] = optarg;
			break;
		case 'a':
			o->apply = 1;
			break;
		case 'r':
			o->remove_on_exit = 1;
			break;
		case 'w':
			if (cli_parse_long(optarg, 1, ENGINE_MAX_WORKERS,
			    &n) == -1) {
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

/* --- control thread ------------------------------------------------------- */

static void
control_rules_cb(struct loop *l, int fd, int ready, void *ctx)
{
	struct control *ctl = ctx;
	int r;

	r = rules_watch_handle(ctl->rw);
	if (r == 1) {
		log_warnx("firewall rules or routes were removed; re-applied");
		audit_note("rules", "reapplied", "firewall rules or routes were "
		    "removed; re-applied");
		metric_inc(metrics_get(M_FIREWALL_RESTORES));
	} else if (r == -1) {
		log_warnx("firewall rules were removed and could not be "
		    "re-applied");
		audit_note("rules", "error", "firewall rules were removed and "
		    "could not be re-applied");
	}
}

/* Replace the rules watcher (NULL: none) and its loop registration. */
static void
control_watch_set(struct control *ctl, struct rules_watch *rw)
{
	if (ctl->rw_fd != -1 && ctl->loop != NULL)
		loop_del(ctl->loop, ctl->rw_fd);
	ctl->rw_fd = -1;
	if (rw != ctl->rw) {
		rules_watch_free(ctl->rw);
		ctl->rw = rw;
	}
	if (rw == NULL || ctl->loop == NULL)
		return;
	if (loop_add(ctl->loop, rules_watch_fd(rw), LOOP_READ, control_rules_cb,
	    ctl) == -1)
		log_warn("rules watch: epoll_ctl");
	else
		ctl->rw_fd = rules_watch_fd(rw);
}

/* SIGUSR2: reopen the audit file (after logrotate moved it). */
static void
control_reopen_logs(struct control *ctl)
{
	if (audit_setup(ctl->held->cfg) == -1)
		return;		/* the old file stays open */
	log_info("audit log reopened");
}

static void
control_signal_cb(struct loop *l, int fd, int ready, void *ctx)
{
	struct control *ctl = ctx;
	struct signalfd_siginfo si;

	while (!ctl->stop && read(fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			engine_reload(ctl);
			break;
		case SIGUSR1:
			killswitch_signal_toggle(ctl->ks);
			break;
		case SIGUSR2:
			control_reopen_logs(ctl);
			break;
		default:
			log_info("signal %d: stopping", (int)si.ssi_signo);
			ctl->stop = 1;
			break;
		}
	}
}

/*
 * The kill switch also cuts the UDP flows the kernel fast-paths: the
 * ruleset accepts later packets of an allowed QUIC flow by its conntrack
 * mark NFQ_MARK_ALLOW without queueing them.  Deleting exactly those
 * entries (a ctnetlink flush filtered by mark) makes each flow's next
 * packet new, so it goes through the queue again, where the verdict refuses
 * it while the switch is on.  Returns the kernel's error, 0 on success.
 */
static int
engine_ct_flush_allowed(int family)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = (uint8_t)family;
	nfg->version = NFNETLINK_V0;
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(NFQ_MARK_ALLOW));
	mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(NFQ_MARK_ALLOW));
	return sockdiag_nl_talk(NETLINK_NETFILTER, nlh, NULL, NULL);
}

/*
 * Every transition of the kill switch, whatever its source, is logged and
 * audited once, and its gauge published; the workers see the switch
 * itself (one atomic load) and tear their relays down on their sweep.
 */
static void
control_killswitch_note(struct control *ctl)
{
	unsigned now = killswitch_sources(ctl->ks);
	char msg[160];
	const char *src;
	int r4, r6;

	if (now != ctl->ks_last) {
		src = killswitch_source(ctl->ks);
		if (now != 0)
			snprintf(msg, sizeof(msg), "kill switch active (source "
			    "%s)", src != NULL ? src : "?");
		else
			snprintf(msg, sizeof(msg), "kill switch released");
		if ((now != 0) != (ctl->ks_last != 0)) {
			log_warnx("%s", msg);
			audit_note("kill_switch", now != 0 ? "block" : "allow",
			    msg);
		}
		/*
		 * Flush now and once more a tick later: a QUIC verdict already
		 * on its way when the switch flipped may mark its flow after
		 * the first flush.
		 */
		if (now != 0 && ctl->ks_last == 0)
			ctl->ks_flushes = 2;
		ctl->ks_last = now;
		killswitch_publish(ctl->ks, NULL);
	}
	if (now == 0 || ctl->ks_flushes == 0)
		return;
	ctl->ks_flushes--;
	r4 = engine_ct_flush_allowed(AF_INET);
	r6 = engine_ct_flush_allowed(AF_INET6);
	if ((r4 != 0 && r4 != -ENOENT) || (r6 != 0 && r6 != -ENOENT))
		log_warnx("kill switch: cannot cut allowed UDP flows (conntrack "
		    "flush: %s)", strerror(-(r4 != 0 && r4 != -ENOENT ? r4 : r6)));
}

/* The control loop: signals, rules watcher, kill switch, admin servers. */
static void
engine_control(struct control *ctl, int sfd)
{
	if (loop_add(ctl->loop, sfd, LOOP_READ, control_signal_cb, ctl) == -1) {
		log_warn("signalfd: epoll_ctl");
		return;
	}
	if (killswitch_fd(ctl->ks) != -1 && loop_add(ctl->loop,
	    killswitch_fd(ctl->ks), LOOP_READ, killswitch_loop_cb, ctl->ks) == -1)
		log_warn("kill switch sentinel: epoll_ctl (checked by polling)");
	control_watch_set(ctl, ctl->rw);	/* register it in the loop */
	while (!ctl->stop) {
		if (loop_once(ctl->loop, ENGINE_TICK_MS) == -1) {
			log_warn("control loop: epoll_wait");
			return;
		}
		audit_tick();
		killswitch_tick(ctl->ks);
		control_killswitch_note(ctl);
		if (ctl->api != NULL)
			tproxy_admin_tick(ctl->api, loop_now_ms());
		if (ctl->mon != NULL)
			tproxy_admin_tick(ctl->mon, loop_now_ms());
	}
}

/* --- admin servers ---------------------------------------------------------- */

static int
control_firewall_installed(void *ctx)
{
	return rules_installed() == 1;
}

/* Whether uid is one of cfg's agents, by uid or by its primary group. */
static int
engine_uid_is_agent(const struct config *cfg, uid_t uid)
{
	struct passwd *pw;
	size_t i;

	for (i = 0; i < cfg->fw.n_agent_uids; i++)
		if (cfg->fw.agent_uids[i] == uid)
			return 1;
	if (cfg->fw.n_agent_gids == 0 || (pw = getpwuid(uid)) == NULL)
		return 0;
	for (i = 0; i < cfg->fw.n_agent_gids; i++)
		if (cfg->fw.agent_gids[i] == pw->pw_gid)
			return 1;
	return 0;
}

/*
 * The admin servers' peer_is_agent hook: the peer's socket is in this
 * namespace when it is local, so sock_diag names its uid.  1 agent, 0 not,
 * -1 unknown (a local peer whose owner cannot be found: refused).  A peer
 * on another host is no local uid.
 */
static int
control_peer_is_agent(void *ctx, int fd)
{
	struct control *ctl = ctx;
	struct sockaddr_storage local, peer;
	socklen_t ll = sizeof(local), pl = sizeof(peer);
	struct sockdiag_owner own;

	if (getsockname(fd, (struct sockaddr *)&local, &ll) == -1 ||
	    getpeername(fd, (struct sockaddr *)&peer, &pl) == -1)
		return -1;
	if (sockdiag_owner_find((struct sockaddr *)&peer,
	    (struct sockaddr *)&local, IPPROTO_TCP, &own) == 0)
		return engine_uid_is_agent(ctl->held->cfg, own.uid);
	if (peer.ss_family == AF_INET)
		return ntohl(((struct sockaddr_in *)&peer)->sin_addr.s_addr) >>
		    24 == 127 ? -1 : 0;
	if (peer.ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&peer)->
		    sin6_addr) ? -1 : 0;
	return -1;
}

/* One admin server on listen serving routes; NULL listen: none. */
static int
control_admin_open(struct control *ctl, const char *listen, unsigned routes,
    struct tproxy_admin **out)
{
	struct tproxy_admin_config ac;
	char err[256];

	*out = NULL;
	if (listen == NULL || listen[0] == '\0')
		return 0;
	memset(&ac, 0, sizeof(ac));
	ac.listen = listen;
	ac.routes = routes;
	ac.ks = ctl->ks;
	ac.firewall_installed = control_firewall_installed;
	ac.peer_is_agent = control_peer_is_agent;
	ac.ctx = ctl;
	if ((*out = tproxy_admin_new(ctl->loop, &ac, err, sizeof(err))) == NULL) {
		log_warnx("%s: %s", listen, err);
		return -1;
	}
	return 0;
}

/* The port of a "host:port" / "[v6]:port" / ":port" listen string, or 0. */
static unsigned
listen_port(const char *listen)
{
	const char *c;
	char *end;
	unsigned long v;

	if (listen == NULL || (c = strrchr(listen, ':')) == NULL)
		return 0;
	v = strtoul(c + 1, &end, 10);
	return *end == '\0' && v <= 65535 ? (unsigned)v : 0;
}

/*
 * With rules applied the firewall rejects agent traffic to the API port, so
 * that port must be the API's alone (config.c already keeps it apart from
 * fetch_proxy.listen and metrics_listen).
 */
static int
control_api_separate(const struct config *cfg)
{
	unsigned port = listen_port(cfg->kill_switch.api_listen);

	return port != 0 && port != cfg->fw.tproxy_port;
}

/* --- privileges ------------------------------------------------------------- */

/*
 * The capabilities kept after --user: CAP_NET_ADMIN always (SO_MARK and
 * IP_TRANSPARENT on new sockets, NFQUEUE verdicts and rebinds, rules
 * re-applies, the kill switch's conntrack flush); CAP_SYS_PTRACE and
 * CAP_DAC_READ_SEARCH only when the engine reads other users' /proc
 * entries: the audit lines name the process behind a connection (any of
 * include_allowed/include_blocked: /proc/PID/fd is 0500 for its owner, so
 * listing it needs the DAC override, and resolving its links and
 * /proc/PID/exe a ptrace read check) or dlp.scan_env reads agents'
 * /proc/PID/environ (0400, and a ptrace read check).
 */
static uint64_t
engine_caps_kept(const struct config *cfg)
{
	uint64_t caps = 1ULL << CAP_NET_ADMIN;

	if (cfg->dlp_scan_env || cfg->logging.include_allowed ||
	    cfg->logging.include_blocked)
		caps |= 1ULL << CAP_SYS_PTRACE | 1ULL << CAP_DAC_READ_SEARCH;
	return caps;
}

static int
engine_capset(uint64_t caps)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = (uint32_t)caps;
	data[1].effective = data[1].permitted = (uint32_t)(caps >> 32);
	return (int)syscall(SYS_capset, &hdr, data);
}

/*
 * --user's account: uid and primary gid, or -1 (logged) when it does not
 * exist, is root, or is an agent (the engine's own uid must never be one
 * the firewall intercepts).  Checked at start, before anything is applied.
 */
static int
engine_user_check(const char *user, const struct config *cfg, uid_t *uid,
    gid_t *gid)
{
	struct passwd *pw;

	if ((pw = getpwnam(user)) == NULL) {
		log_warnx("--user %s: no such user", user);
		return -1;
	}
	*uid = pw->pw_uid;	/* copied: engine_uid_is_agent() calls getpwuid */
	*gid = pw->pw_gid;
	if (*uid == 0) {
		log_warnx("--user %s: that is root", user);
		return -1;
	}
	if (engine_uid_is_agent(cfg, *uid)) {
		log_warnx("--user %s: is an agent user (firewall.agent_users/"
		    "agent_groups): refusing to run as it", user);
		return -1;
	}
	return 0;
}

/*
 * --user: become that user, keeping only engine_caps_kept().  Runs after
 * every privileged setup (listeners bound, rules applied, queues bound,
 * secrets read) and before any thread starts: capabilities are per thread
 * and threads inherit the creator's.
 */
static int
engine_drop_privileges(const char *user, const struct config *cfg)
{
	uint64_t keep = engine_caps_kept(cfg);
	uid_t uid;
	gid_t gid;
	int c;

	if (engine_user_check(user, cfg, &uid, &gid) == -1)
		return -1;
	/* the bounding set first, while CAP_SETPCAP is still ours */
	for (c = 0; c <= CAP_LAST_CAP; c++)
		if (!(keep & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == -1 &&
		    errno != EINVAL) {
			log_warn("PR_CAPBSET_DROP %d", c);
			return -1;
		}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1 ||
	    setgroups(1, &gid) == -1 ||
	    setgid(gid) == -1 || setuid(uid) == -1) {
		log_warn("--user %s: cannot switch to uid %u", user,
		    (unsigned)uid);
		return -1;
	}
	if (engine_capset(keep) == -1 ||
	    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == -1 ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1) {
		log_warn("--user %s: capabilities", user);
		return -1;
	}
	if (setuid(0) != -1) {		/* must be impossible now */
		log_warnx("--user %s: could regain root", user);
		return -1;
	}
	log_info("running as %s (uid %u), keeping CAP_NET_ADMIN%s", user,
	    (unsigned)uid, keep & (1ULL << CAP_SYS_PTRACE) ?
	    ", CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH" : "");
	return 0;
}

/*
 * The explicit proxy port on every worker's loop (SO_REUSEPORT), with
 * /health, and /metrics and the kill switch API unless metrics_listen /
 * kill_switch.api_listen move them.  Changing the address needs a restart.
 */
static int
engine_proxy_start(struct engine *e, const struct run_opts *o,
    const struct config *cfg, struct killswitch *ks)
{
	struct tproxy_proxy_config pc;
	char err[256];
	int i;

	memset(&pc, 0, sizeof(pc));
	pc.listen = o->listen != NULL ? o->listen : cfg->fetch_proxy.listen;
	if (pc.listen == NULL || pc.listen[0] == '\0')
		return 0;
	pc.resolver = e->resolver;
	pc.ks = ks;
	pc.mitm = e->mitm;
	pc.firewall_installed = control_firewall_installed;
	pc.admin_routes = ADMIN_ROUTE_HEALTH;
	if (cfg->metrics_listen == NULL || cfg->metrics_listen[0] == '\0')
		pc.admin_routes |= ADMIN_ROUTE_METRICS;
	if (cfg->kill_switch.api_listen == NULL ||
	    cfg->kill_switch.api_listen[0] == '\0')
		pc.admin_routes |= ADMIN_ROUTE_KILLSWITCH;
	for (i = 0; i < e->nworkers; i++) {
		engine_proxies[i] = tproxy_proxy_new(e->workers[i].loop, &pc, err,
		    sizeof(err));
		if (engine_proxies[i] == NULL) {
			log_warnx("explicit proxy listener %s", err);
			return -1;
		}
	}
	log_info("explicit proxy on %s (forward proxy %s)", pc.listen,
	    cfg->forward_proxy.enabled ? "enabled" : "disabled");
	return 0;
}

/* After the workers stopped and the resolver is gone (it posts to sinks). */
static void
engine_proxy_stop(void)
{
	int i;

	for (i = 0; i < ENGINE_MAX_WORKERS; i++) {
		tproxy_proxy_free(engine_proxies[i]);
		engine_proxies[i] = NULL;
	}
}

int
run_main(int argc, char **argv)
{
	struct run_opts o;
	struct engine *e = NULL;
	struct policy *pol = NULL, *cur;
	struct control ctl = { .o = &o, .rw_fd = -1 };
	char err[CONFIG_ERR_MAX];
	sigset_t mask;
	uint64_t one = 1;
	int i, r, sfd = -1, ret = EXIT_BLOCKED, applied = 0;

	if ((r = parse_args(argc, argv, &o)) != 0)
		return r == 1 ? EXIT_ALLOWED : EXIT_USAGE;
	log_init(LOG_TO_STDERR, o.verbose);
	run_agent_opts = &o;
	if ((pol = policy_load(o.config, err, sizeof(err))) == NULL)
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
	sigaddset(&mask, SIGUSR1);	/* kill switch toggle */
	sigaddset(&mask, SIGUSR2);	/* reopen the audit file */
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0 ||
	    (sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) == -1) {
		log_warn("signalfd");
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	rlimit_raise(pol->cfg);
	if (o.user != NULL) {
		uid_t uid;
		gid_t gid;

		if (engine_user_check(o.user, pol->cfg, &uid, &gid) == -1) {
			ret = EXIT_USAGE;
			goto out;
		}
	}
	if (pol->cfg->kill_switch.api_listen != NULL &&
	    (o.apply || rules_installed() == 1) &&
	    !control_api_separate(pol->cfg)) {
		log_warnx("kill_switch.api_listen must not be the transparent "
		    "port nor the explicit proxy port when rules are applied");
		goto out;
	}
	/* the kill switch and admin servers exist before any agent traffic */
	if ((ctl.ks = killswitch_new(pol->cfg)) == NULL ||
	    (ctl.loop = loop_new()) == NULL) {
		log_warn("kill switch / control loop");
		goto out;
	}
	if (control_admin_open(&ctl, pol->cfg->kill_switch.api_listen,
	    ADMIN_ROUTE_KILLSWITCH | ADMIN_ROUTE_HEALTH, &ctl.api) == -1 ||
	    control_admin_open(&ctl, pol->cfg->metrics_listen,
	    ADMIN_ROUTE_METRICS | ADMIN_ROUTE_HEALTH, &ctl.mon) == -1)
		goto out;
	control_admin_reconfigure(&ctl);
	ctl.ks_last = killswitch_sources(ctl.ks);
	killswitch_publish(ctl.ks, NULL);
	if (ctl.ks_last != 0) {
		log_warnx("kill switch active at start (source %s)",
		    killswitch_source(ctl.ks));
		ctl.ks_flushes = 2;	/* flows fast-pathed before the start */
	}

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
	e->ks = ctl.ks;
	nfq_verdict_set_killswitch(ctl.ks);	/* DNS and UDP too */
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
	/* the CA key is root-only: load it before dropping privileges */
	if (pol->cfg->tls.enabled &&
	    (e->mitm = mitm_from_config(pol->cfg, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		goto out;
	}
	/* everything privileged is done; no thread exists yet */
	if (o.user != NULL && engine_drop_privileges(o.user, pol->cfg) == -1)
		goto out;
	if ((e->resolver = resolver_new(RESOLVE_THREADS)) == NULL) {
		log_warnx("cannot start the resolver threads");
		goto out;
	}
	if (engine_proxy_start(e, &o, pol->cfg, ctl.ks) == -1)
		goto out;

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
	control_watch_set(&ctl, NULL);
	tproxy_admin_free(ctl.api);
	tproxy_admin_free(ctl.mon);
	loop_free(ctl.loop);
	if (applied && o.remove_on_exit && rules_remove() == -1) {
		log_warnx("firewall remove failed");
		ret = EXIT_BLOCKED;
	}
	if (e != NULL) {
		/* resolver threads first: they may still post to worker sinks */
		resolver_free(e->resolver);
		engine_proxy_stop();	/* before the loops go */
		engine_nfq_stop();
		for (i = 0; e->workers != NULL && i < e->nworkers; i++)
			worker_free(&e->workers[i]);
		free(e->workers);
		mitm_free(e->mitm);
		pthread_mutex_destroy(&e->uid_lock);
		free(e);
	}
	if (sfd != -1)
		close(sfd);
	killswitch_free(ctl.ks);
	cur = policy_current();
	policy_swap(NULL);
	policy_unref(cur);
	policy_unref(ctl.held);
	audit_close();
	return ret;
}
