/*
 * tproxy_conn.c - one intercepted TCP connection, as an explicit state
 * machine:
 *
 *   ACCEPTED   original destination (getsockname), owner uid (sock_diag),
 *              connection limits; refused here with an RST
 *   SNIFF      first bytes, bounded in size and time: TLS ClientHello,
 *              HTTP request head, anything else, or silence
 *   HTTP       plain HTTP: the inspector (tproxy_inspect) judges the first
 *              request, held in full, before anything is dialled
 *   DECIDE     domain policy + DLP on the SNI/Host, allow_ip_cidrs for
 *              name-less flows, firewall.other_tcp; in strict mode waits for
 *              the engine's own resolution of the name (anti-spoofing)
 *   CONNECTING non-blocking connect to the original destination, SO_MARK
 *   RELAY      the buffered first bytes, then splice() through one pipe per
 *              direction, half-close, idle/total timeouts; plain HTTP
 *              keeps the request direction in userspace (below)
 *   CLOSING    a block answer (TLS alert, HTTP 403) was sent; lingering for
 *              the client's FIN so the answer is not destroyed by an RST
 *
 * Plain HTTP: every request on the connection goes through the inspector
 * and only the bytes it releases (FORWARD) are written upstream, so a
 * request reaches upstream only once its head and body passed (bodies up
 * to request_body_scanning.max_body_bytes are held).  The client buffer is
 * bounded by inspect_hold_limit() whatever the body; responses stay on
 * splice().  An Expect: 100-continue is answered by the engine once the
 * head passed, but only between responses (never inside one: if response
 * bytes are in flight the client just sends its body after its own wait).
 * A refused request after earlier ones went: their approved bytes still
 * go, then the upstream gets a FIN, its responses are relayed until it
 * closes (or the idle timeout), and only then the 4xx answer follows and
 * the connection closes - the answer never lands inside a response.  An
 * allowed CONNECT/Upgrade (firewall.upgrade_allow_hosts) switches the
 * connection to the raw splice relay, uninspected.  In strict mode each
 * request's Host must resolve to the original destination; a lookup that
 * is not cached parks the request (hwait) while the loop runs on.  Each
 * request gets an "http" audit line; an allowed one is written when the
 * next request completes or the connection closes, with the response bytes
 * that came down in between (exact for clients that wait for each response;
 * pipelined responses blur together).
 *
 * DNS over TCP (original destination port 53, see tproxy_dns.h): not
 * sniffed; the connection uses the plain-HTTP buffer and states (CONN_HTTP
 * until the first query passed, then RELAY through conn_http_relay) with
 * tproxy_dns judging each length-prefixed frame instead of the inspector:
 * allowed frames go upstream in order, the first refused query is answered
 * REFUSED (same ID and question; after the responses still owed) and the
 * connection closes, a malformed frame closes it at once.  Responses are
 * spliced.  Each refusal gets a "dns" audit line.
 *
 * Strict mode (api_allowlist) and SNI spoofing: a name on the allowlist
 * proves nothing about the address the agent dialled, so the engine
 * resolves the SNI/Host itself (resolver threads, answers cached
 * RESOLVE_TTL_MS) and refuses with scanner "sni_mismatch" unless the
 * original destination is among the answers; a name that does not resolve,
 * or a lookup that outlives connect_timeout_seconds, is refused the same
 * way (fail closed).  Limits: a CDN that hands the agent and the engine
 * different address sets can cause a false refusal; the connection-level
 * checks (SSRF on the destination, allow_ip_cidrs) use the first request's
 * Host, later requests are judged by the inspector.
 *
 * conn_close() only marks a connection and stops its events; conn_free() -
 * the one teardown - runs from conn_reap() after the loop iteration, so no
 * connection is freed inside its own callback.  Allocation failures abort
 * the connection, never the engine.
 */
#include "tproxy/engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>		/* splice */
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/audit.h"
#include "core/config.h"
#include "core/killswitch.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/policy.h"
#include "core/sockdiag.h"
#include "scanner/cidr.h"
#include "scanner/scanner.h"
#include "tproxy/tproxy_dns.h"
#include "tproxy/tproxy_http.h"
#include "tproxy/tproxy_inspect.h"
#include "tproxy/tproxy_mitm.h"
#include "tproxy/tproxy_pipe.h"
#include "tproxy/tproxy_tls.h"

/* first bytes we buffer: a request head, or a hello (TLS_HELLO_WIRE_MAX) */
#define SNIFF_MAX		HTTP_MAX_HEADERS_BYTES
#define SNIFF_INITIAL		2048
#define CLOSING_LINGER_MS	1000
#define ACCEPT_BATCH		64	/* accepts per readiness event */
#define CONN_EXE_MAX		256
#define HTTP_BUF_INITIAL	16384
#define HTTP_READS_PER_EVENT	16	/* fairness between connections */
#define RELAY_DRAIN		2	/* relay_dir.can_in: off the loop, drain */
#define RELAY_COPY_MAX		16384	/* smaller reads are copied, not spliced */

/* fatal access_denied (49) alert, TLS 1.2 record version */
static const uint8_t tls_alert_access_denied[] = {
	0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x31
};

enum conn_state {
	CONN_ACCEPTED = 0,
	CONN_SNIFF,
	CONN_HTTP,		/* plain HTTP: judging the first request */
	CONN_DECIDE,
	CONN_CONNECTING,
	CONN_RELAY,
	CONN_CLOSING,
	CONN_MITM,		/* TLS interception (tproxy_mitm) */
};

enum conn_proto {
	CONN_PROTO_NONE = 0,	/* not classified yet */
	CONN_PROTO_TLS,
	CONN_PROTO_HTTP,
	CONN_PROTO_OTHER,	/* first bytes neither TLS nor HTTP */
	CONN_PROTO_SILENT,	/* no bytes within first_bytes_timeout_ms */
	CONN_PROTO_DNS,		/* DNS over TCP (port 53): judged frame by frame */
};

struct relay_dir {
	int		from, to;
	int		pipe[2];
	size_t		inpipe;
	size_t		cap;
	int		eof;		/* read side saw FIN */
	int		shut;		/* FIN passed on */
	int		in_blocked;	/* splice in hit EAGAIN with data queued */
	int		can_in;		/* from reported readable, not drained since;
					   RELAY_DRAIN: read to EAGAIN/EOF */
	int		bulk;		/* a read filled RELAY_COPY_MAX: splice
					   from then on */
	int		hold_fin;	/* do not pass the FIN on (yet) */
	unsigned long long bytes;
};

struct conn {
	LIST_ENTRY(conn)	 entry;		/* worker's conns or dead */
	struct worker		*w;
	uint64_t		 id;
	enum conn_state		 state;
	enum conn_proto		 proto;
	int			 cfd, ufd;
	struct sockaddr_storage	 src, dst;
	char			 src_s[64], dst_s[64];
	uid_t			 uid;
	int			 uid_known;
	unsigned long		 inode;
	int			 has_slot;
	struct policy		*pol;

	uint8_t			*buf;		/* first bytes, relayed first */
	struct http_request	*http;		/* HTTP head parse, while sniffing */
	size_t			 blen, bcap, bsent;

	/*
	 * Plain HTTP (insp != NULL) and DNS over TCP (proto CONN_PROTO_DNS,
	 * judged by tproxy_dns): buf[bsent..bjudged) passed the inspector
	 * and waits for the upstream, buf[bjudged..blen) is not judged yet;
	 * blen - bsent never exceeds hold (the inspector's hold limit).
	 */
	struct inspect		*insp;
	size_t			 bjudged, hold;
	int			 host_bad;	/* first Host unusable as a name */
	int			 hwait;		/* Host lookup in flight */
	uint64_t		 t_hwait;
	char			*hname;		/* the last Host looked up, */
	int			 hans;		/* its answer for dst (1/0/-1) */
	int			 htunnel;	/* allowed CONNECT/Upgrade: raw relay */
	int			 hblock;	/* block answer after in-flight responses */
	char			*resp;		/* interim/block answer, queued */
	size_t			 resp_len, resp_off;
	/* the last forwarded request, written once its response went by */
	struct inspect_audit	*hlast;		/* inspect_audit_dup() */
	unsigned long long	 hlast_down;

	char			 host[TLS_SNI_MAX + 1];
	char			 alpn[TLS_ALPN_MAX + 1];
	int			 ech;
	struct resolve_req	*rreq;
	struct mitm_session	*mitm;		/* TLS interception */

	struct relay_dir	 up, down;	/* client->upstream, back */
	uint64_t		 t_start, t_state, t_last;

	/* the decision, for the audit lines */
	const char		*verdict;	/* "allow" | "block" | "warn" */
	char			 reason[SCAN_REASON_MAX];
	const char		*scanner;
	char			 pattern[64];
	char			 redacted[SCAN_REDACTED_MAX];
	int			 relayed;	/* reached RELAY: write a close line */
	int			 proc_done;	/* pid/exe looked up (lazily, once) */
	long long		 pid, gid;
	char			 exe[CONN_EXE_MAX];

	int			 hup_c, hup_u;	/* fd fully shut, off the loop */
	int			 dead;
	int			 rst;		/* abort with RST at teardown */
};

static void conn_io(struct loop *l, int fd, int ready, void *ctx);
static void conn_decide(struct conn *c);
static void conn_finish_decision(struct conn *c);
static void conn_http_start(struct conn *c);
static void conn_http_audit_flush(struct conn *c);
static void conn_http_relay(struct conn *c);
static void conn_http_resolved(struct conn *c, struct resolve_req *req);
static void conn_http_resolve_timeout(struct conn *c);
static void conn_http_pre(struct conn *c);
static int conn_mitm_start(struct conn *c);
static void conn_mitm_io(struct conn *c, int fd, int ready);

static const char *
conn_proto_name(enum conn_proto p)
{
	switch (p) {
	case CONN_PROTO_TLS:
		return "tls";
	case CONN_PROTO_HTTP:
		return "http";
	case CONN_PROTO_DNS:
		return "dns";
	default:
		return "tcp";
	}
}

/* --- metrics (core/metrics.h): the agent label is its uid --------------------- */

static const char *
conn_agent_label(struct conn *c, char *buf, size_t len)
{
	if (!c->uid_known)
		return "unknown";
	snprintf(buf, len, "%u", (unsigned)c->uid);
	return buf;
}

/* A connection-level decision: requests, blocks, scanner hits, duration. */
static void
conn_metrics_decision(struct conn *c, int blocked)
{
	char ab[16];
	const char *agent = conn_agent_label(c, ab, sizeof(ab));

	metric_add(metrics_get(M_REQUESTS_TOTAL),
	    METRIC_LV(blocked ? "blocked" : "allowed", agent), 1);
	if (c->proto == CONN_PROTO_TLS)
		metric_add(metrics_get(M_SNI_TOTAL), METRIC_LV(c->host[0] ?
		    (blocked ? "blocked" : "allowed") : "missing", agent), 1);
	metric_observe(metrics_get(M_REQUEST_DURATION), NULL,
	    (double)(loop_now_ms() - c->t_start) / 1000.0);
	if (!blocked)
		return;
	metric_add(metrics_get(M_BLOCKS_TOTAL), METRIC_LV(c->scanner != NULL ?
	    c->scanner : "firewall", conn_proto_name(c->proto)), 1);
	if (c->scanner != NULL)
		metric_add(metrics_get(M_SCANNER_HITS),
		    METRIC_LV(c->scanner, agent), 1);
	if (!c->relayed)
		metric_add(metrics_get(M_TUNNELS_TOTAL),
		    METRIC_LV("blocked", agent), 1);
}

/* One HTTP request the inspector refused (a, its audit record, may be NULL). */
static void
conn_metrics_http_block(struct conn *c, const struct inspect_audit *a)
{
	const char *sc = a != NULL && a->scanner != NULL ? a->scanner : "http";
	char ab[16];
	const char *agent = conn_agent_label(c, ab, sizeof(ab));

	metric_add(metrics_get(M_REQUESTS_TOTAL), METRIC_LV("blocked", agent), 1);
	metric_add(metrics_get(M_BLOCKS_TOTAL), METRIC_LV(sc, "http"), 1);
	metric_add(metrics_get(M_SCANNER_HITS), METRIC_LV(sc, agent), 1);
	if (strcmp(sc, "header_dlp") == 0)
		metric_add(metrics_get(M_HEADER_DLP_HITS),
		    METRIC_LV("block", agent), 1);
	else if (strcmp(sc, "body_dlp") == 0)
		metric_add(metrics_get(M_BODY_DLP_HITS),
		    METRIC_LV("block", agent), 1);
	if (a != NULL && a->pattern[0] != '\0')
		metric_add(metrics_get(M_DLP_FINDINGS),
		    METRIC_LV(a->pattern, ""), 1);
}

void
conn_metrics_tunnel_end(const char *agent, uint64_t t_start,
    unsigned long long up, unsigned long long down)
{
	metric_gauge_add(metrics_get(M_ACTIVE_TUNNELS), NULL, -1);
	metric_add(metrics_get(M_TUNNELS_TOTAL), METRIC_LV("completed", agent),
	    1);
	metric_observe(metrics_get(M_TUNNEL_DURATION), NULL,
	    (double)(loop_now_ms() - t_start) / 1000.0);
	metric_add(metrics_get(M_TUNNEL_BYTES), NULL, up + down);
}

/* At teardown: the relay's gauges, bytes and duration. */
static void
conn_metrics_close(struct conn *c)
{
	char ab[16];

	metric_gauge_add(metrics_get(M_CONNECTIONS_OPEN), NULL, -1);
	if (!c->relayed)
		return;
	conn_metrics_tunnel_end(conn_agent_label(c, ab, sizeof(ab)),
	    c->t_start, c->up.bytes, c->down.bytes);
	metric_add(metrics_get(M_BYTES_TOTAL), METRIC_LV("up"), c->up.bytes);
	metric_add(metrics_get(M_BYTES_TOTAL), METRIC_LV("down"), c->down.bytes);
}

static void
sockaddr_format(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		snprintf(out, len, "?");
	}
}

socklen_t
conn_sockaddr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	    : sizeof(struct sockaddr_in);
}

/* pid, exe and gid of the agent's process: /proc scan, so once and lazily. */
static void
conn_proc_lookup(struct conn *c)
{
	char path[64];
	struct stat st;
	pid_t pid;

	if (c->proc_done)
		return;
	c->proc_done = 1;
	if (!c->uid_known || c->inode == 0)
		return;
	if (sockdiag_inode_process(c->inode, &pid, c->exe, sizeof(c->exe)) != 0) {
		c->exe[0] = '\0';
		return;
	}
	c->pid = pid;
	/* /proc/PID belongs to the process's effective uid and gid */
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (stat(path, &st) == 0)
		c->gid = st.st_gid;
}

/*
 * Write ev if the audit filter admits it; the process is looked up only
 * then, as reading /proc costs syscalls per line.
 */
static void
conn_audit_send(struct conn *c, struct audit_event *ev)
{
	if (!audit_admit(ev))
		return;
	conn_proc_lookup(c);
	ev->pid = c->pid;
	ev->gid = c->gid;
	ev->exe = c->exe[0] ? c->exe : NULL;
	audit_emit(ev);
}

static void
conn_audit(struct conn *c, const char *event, const char *verdict,
    const char *reason)
{
	struct audit_event ev;
	uint64_t now = loop_now_ms();

	audit_event_init(&ev);
	ev.event = event;
	ev.verdict = verdict;
	ev.reason = reason != NULL && reason[0] != '\0' ? reason : NULL;
	ev.proto = c->proto == CONN_PROTO_NONE ? NULL : conn_proto_name(c->proto);
	if (c->uid_known)
		ev.uid = c->uid;
	ev.src = c->src_s;
	ev.dst = c->dst_s;
	ev.host = c->host[0] ? c->host : NULL;
	ev.alpn = c->alpn[0] ? c->alpn : NULL;
	ev.ech = c->ech;
	ev.scanner = c->scanner;
	ev.pattern = c->pattern[0] ? c->pattern : NULL;
	ev.redacted = c->redacted[0] ? c->redacted : NULL;
	if (strcmp(event, "tcp_close") == 0) {
		ev.bytes_up = (long long)c->up.bytes;
		ev.bytes_down = (long long)c->down.bytes;
	}
	if (verdict != NULL && strcmp(verdict, "allow") != 0)
		ev.duration_ms = (long long)(now - c->t_start);
	if (strcmp(event, "tcp_close") == 0)
		ev.duration_ms = (long long)(now - c->t_start);
	conn_audit_send(c, &ev);
}

/* Mark c closed: no more events; conn_reap() frees it. */
static void
conn_close(struct conn *c, int rst)
{
	struct worker *w = c->w;

	if (c->dead)
		return;
	conn_http_audit_flush(c);
	c->dead = 1;
	c->rst |= rst;
	if (c->relayed)
		conn_audit(c, "tcp_close", c->verdict, c->reason);
	loop_del(w->loop, c->cfd);
	if (c->ufd != -1)
		loop_del(w->loop, c->ufd);
	LIST_REMOVE(c, entry);
	LIST_INSERT_HEAD(&w->dead, c, entry);
	w->nconns--;
}

static void
fd_close_rst(int fd, int rst)
{
	struct linger lg = { 1, 0 };

	if (fd == -1)
		return;
	if (rst)
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* The one teardown: tolerates any partially set-up connection. */
static void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	fd_close_rst(c->cfd, c->rst);
	fd_close_rst(c->ufd, c->rst);
	tproxy_pipe_put(c->up.pipe, c->up.cap);
	tproxy_pipe_put(c->down.pipe, c->down.cap);
	if (c->rreq != NULL)
		c->rreq->owner = NULL;	/* the worker frees it when it comes back */
	if (c->has_slot)
		engine_slot_put(c->w->eng, c->uid_known ? c->uid : (uid_t)-1);
	conn_metrics_close(c);
	inspect_free(c->insp);
	mitm_session_free(c->mitm);
	free(c->hname);
	inspect_audit_free(c->hlast);
	free(c->resp);
	policy_unref(c->pol);
	free(c->http);
	free(c->buf);
	free(c);
}

void
conn_reap(struct worker *w)
{
	struct conn *c;

	while ((c = LIST_FIRST(&w->dead)) != NULL) {
		LIST_REMOVE(c, entry);
		conn_free(c);
	}
}

void
conn_close_all(struct worker *w)
{
	while (!LIST_EMPTY(&w->conns))
		conn_close(LIST_FIRST(&w->conns), 1);
	conn_reap(w);
	tproxy_dns_thread_free();	/* this worker thread's DNS verdicts */
	tproxy_pipe_thread_free();
	sockdiag_thread_free();
}

static void
conn_set_state(struct conn *c, enum conn_state s)
{
	c->state = s;
	c->t_state = loop_now_ms();
}

#define CONN_KS_REASON	"kill_switch"

/* The kill switch's HTTP answer, pipelock's 503 JSON; malloc'd, NULL: OOM. */
static char *
conn_killswitch_answer(struct conn *c, size_t *lenp)
{
	static const char fmt[] =
	    "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s";
	char body[KS_JSON_MAX], *resp;
	size_t blen = killswitch_denial_json(c->w->eng->ks, body, sizeof(body));
	int n;

	if ((resp = malloc(sizeof(fmt) + 24 + blen)) == NULL)
		return NULL;
	n = sprintf(resp, fmt, blen, body);
	*lenp = n > 0 ? (size_t)n : 0;
	return resp;
}

/* Refuse: audit, then an answer the client understands, then close. */
static void
conn_block(struct conn *c, const char *reason)
{
	static const char http_fmt[] =
	    "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s";
	char body[SCAN_REASON_MAX + 64], resp[SCAN_REASON_MAX + 256];
	const void *msg = NULL;
	size_t mlen = 0;
	int n;

	if (reason != NULL && reason != c->reason)
		snprintf(c->reason, sizeof(c->reason), "%s", reason);
	c->verdict = "block";
	inspect_audit_free(c->hlast);	/* a request that passed did not go */
	c->hlast = NULL;
	conn_metrics_decision(c, 1);
	conn_audit(c, "tcp", "block", c->reason);
	if (c->proto == CONN_PROTO_TLS) {
		msg = tls_alert_access_denied;
		mlen = sizeof(tls_alert_access_denied);
	} else if (c->proto == CONN_PROTO_HTTP &&
	    strcmp(c->reason, CONN_KS_REASON) == 0) {
		if ((msg = conn_killswitch_answer(c, &mlen)) == NULL)
			mlen = 0;
	} else if (c->proto == CONN_PROTO_HTTP) {
		n = snprintf(body, sizeof(body), "blocked by pipelock-fw: %s\n",
		    c->reason);
		if (n < 0 || (size_t)n >= sizeof(body))
			n = (int)strlen(body);
		n = snprintf(resp, sizeof(resp), http_fmt, (size_t)n, body);
		msg = resp;
		mlen = n > 0 && (size_t)n < sizeof(resp) ? (size_t)n : 0;
	}
	if (msg == NULL || mlen == 0) {
		conn_close(c, 1);
		return;
	}
	/* a fresh socket's send buffer takes this at once; if not, RST */
	n = (int)send(c->cfd, msg, mlen, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (msg != resp && msg != tls_alert_access_denied)
		free((void *)msg);
	if (n != (int)mlen) {
		conn_close(c, 1);
		return;
	}
	(void)shutdown(c->cfd, SHUT_WR);
	conn_set_state(c, CONN_CLOSING);
	if (loop_set(c->w->loop, c->cfd, LOOP_READ) == -1)
		conn_close(c, 1);
}

/* A decision that blocks unless enforce is off (then audited as "warn"). */
static void
conn_deny(struct conn *c, const char *scanner, const char *reason)
{
	const struct config *cfg = c->pol->cfg;

	c->scanner = scanner;
	if (reason != c->reason)
		snprintf(c->reason, sizeof(c->reason), "%s", reason);
	if (cfg->enforce) {
		conn_block(c, NULL);
		return;
	}
	c->verdict = "warn";
	conn_finish_decision(c);
}

/*
 * The kill switch refuses a new connection once its kind is known (TLS:
 * an alert; HTTP: pipelock's 503 JSON), always, even with enforce off.
 * 1 when it did.
 */
static int
conn_killswitch(struct conn *c)
{
	if (!killswitch_active(c->w->eng->ks))
		return 0;
	c->scanner = CONN_KS_REASON;
	metric_add(metrics_get(M_KILL_SWITCH_DENIALS),
	    METRIC_LV(conn_proto_name(c->proto), "transparent"), 1);
	conn_block(c, CONN_KS_REASON);
	return 1;
}

/* The kill switch cuts what is already flowing (worker sweep). */
static void
conn_killswitch_cut(struct conn *c)
{
	c->scanner = CONN_KS_REASON;
	snprintf(c->reason, sizeof(c->reason), "%s", CONN_KS_REASON);
	c->verdict = "block";
	metric_add(metrics_get(M_KILL_SWITCH_DENIALS),
	    METRIC_LV(conn_proto_name(c->proto), "relay"), 1);
	if (!c->relayed)
		conn_audit(c, "tcp", "block", c->reason);
	conn_close(c, 1);	/* relayed: its tcp_close line says kill_switch */
}

/* --- accept -------------------------------------------------------------- */

static int
engine_is_listener(const struct engine *e, const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		return a->sin_port == e->lsn4.sin_port &&
		    a->sin_addr.s_addr == e->lsn4.sin_addr.s_addr;
	}
	if (ss->ss_family == AF_INET6 && e->have6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		return a->sin6_port == e->lsn6.sin6_port &&
		    memcmp(&a->sin6_addr, &e->lsn6.sin6_addr, 16) == 0;
	}
	return 0;
}

static void
conn_new(struct worker *w, int fd, const struct sockaddr_storage *peer)
{
	struct engine *e = w->eng;
	struct sockdiag_owner own;
	const struct config *cfg;
	const char *limit = NULL;
	socklen_t sl = sizeof(struct sockaddr_storage);
	struct conn *c;
	int one = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("out of memory for a connection: refused");
		fd_close_rst(fd, 1);
		return;
	}
	c->w = w;
	c->id = ++w->next_id;
	metric_gauge_add(metrics_get(M_CONNECTIONS_OPEN), NULL, 1);
	c->cfd = fd;
	c->ufd = -1;
	c->up.pipe[0] = c->up.pipe[1] = c->down.pipe[0] = c->down.pipe[1] = -1;
	c->pid = c->gid = AUDIT_UNSET;
	c->t_start = c->t_last = loop_now_ms();
	conn_set_state(c, CONN_ACCEPTED);
	c->src = *peer;
	c->pol = policy_current();
	/* on the live list first: conn_close() unlinks from it */
	LIST_INSERT_HEAD(&w->conns, c, entry);
	w->nconns++;
	/*
	 * Read interest from the start (SNIFF and CONN_HTTP both read): no
	 * second epoll_ctl.  Nothing is dispatched before conn_new returns.
	 */
	if (loop_add(w->loop, fd, LOOP_READ, conn_io, c) == -1) {
		log_warn("epoll add");
		conn_close(c, 1);
		return;
	}
	if (getsockname(fd, (struct sockaddr *)&c->dst, &sl) == -1) {
		log_warn("getsockname");
		conn_close(c, 1);
		return;
	}
	sockaddr_format(&c->src, c->src_s, sizeof(c->src_s));
	sockaddr_format(&c->dst, c->dst_s, sizeof(c->dst_s));
	if (c->pol == NULL) {
		conn_close(c, 1);
		return;
	}
	cfg = c->pol->cfg;

	/* The agent's socket is in our namespace: its local end is our peer. */
	if (sockdiag_owner_find((struct sockaddr *)&c->src,
	    (struct sockaddr *)&c->dst, IPPROTO_TCP, &own) == 0) {
		c->uid = own.uid;
		c->inode = own.inode;
		c->uid_known = 1;
	}
	if (engine_is_listener(e, &c->dst)) {
		/* a direct connection to the listener: relaying it would loop */
		c->scanner = "firewall";
		conn_block(c, "destination is the engine's own listener");
		return;
	}
	if (engine_slot_take(e, c->uid_known ? c->uid : (uid_t)-1,
	    cfg->fw.max_conns_total, cfg->fw.max_conns_per_agent, &limit) == -1) {
		c->scanner = "limit";
		snprintf(c->reason, sizeof(c->reason), "%s reached", limit);
		c->verdict = "block";
		conn_audit(c, "limit", "block", c->reason);
		conn_close(c, 1);
		return;
	}
	c->has_slot = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (tproxy_dns_is_dns(&c->dst)) {
		/* DNS over TCP: not sniffed; every frame judged (conn_dns_judge) */
		c->proto = CONN_PROTO_DNS;
		c->hold = TPROXY_DNS_HOLD;
		conn_set_state(c, CONN_HTTP);
	} else {
		conn_set_state(c, CONN_SNIFF);
	}
}

void
conn_accept_all(struct worker *w, int lfd)
{
	struct sockaddr_storage peer;
	int i, fd;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		fd = conn_accept_next(w->loop, lfd, &peer, "accept");
		if (fd == -EMFILE || fd == -ENFILE)
			tproxy_pipe_thread_free();	/* spare fds */
		if (fd < 0)
			return;
		conn_new(w, fd, &peer);
	}
}

int
conn_accept_next(struct loop *l, int lfd, struct sockaddr_storage *peer,
    const char *what)
{
	socklen_t sl = sizeof(*peer);
	int fd, e;

	fd = accept4(lfd, (struct sockaddr *)peer, &sl,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd != -1)
		return fd;
	e = errno;
	if (e == EMFILE || e == ENFILE) {
		/*
		 * Out of fds: the listener stays readable, so back off (the
		 * owner re-arms it at its next sweep) instead of spinning on
		 * accept.
		 */
		log_warn("%s (paused)", what);
		(void)loop_set(l, lfd, 0);
	} else if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR &&
	    e != ECONNABORTED) {
		log_warn("%s", what);
	}
	return -e;
}

/* --- sniff ----------------------------------------------------------------- */

static const char *const http_methods[] = {
	"GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ",
	"CONNECT ", "TRACE ",
};

/*
 * 1 HTTP request line start, 0 not HTTP, -1 need more.  Besides the known
 * methods, any "token SP ... HTTP/1.x" line counts: an unknown or invalid
 * method must get the inspector's 400/501, not pass as other TCP.
 */
static int
http_probe(const uint8_t *buf, size_t len)
{
	static const char ver[] = " HTTP/1.";
	const uint8_t *lf;
	size_t i, n, ll;
	int maybe = 0;

	for (i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++) {
		n = strlen(http_methods[i]);
		if (len >= n && memcmp(buf, http_methods[i], n) == 0)
			return 1;
		if (len < n && memcmp(buf, http_methods[i], len) == 0)
			maybe = 1;
	}
	if (maybe)
		return -1;
	/*
	 * "WORD SP": an upper-case letter, then visible ASCII up to the first
	 * space (lower-case starts, like most text protocols, are not HTTP).
	 */
	if (buf[0] < 'A' || buf[0] > 'Z')
		return 0;
	for (i = 0; i < len && i <= HTTP_MAX_METHOD && buf[i] > 0x20 &&
	    buf[i] < 0x7f; i++)
		;
	if (i > HTTP_MAX_METHOD || (i < len && buf[i] != ' '))
		return 0;
	if ((lf = memchr(buf, '\n', len)) == NULL)
		return len < HTTP_MAX_REQUEST_LINE ? -1 : 0;
	ll = (size_t)(lf - buf);
	if (ll > 0 && buf[ll - 1] == '\r')
		ll--;
	return ll >= sizeof(ver) && memcmp(buf + ll - sizeof(ver), ver,
	    sizeof(ver) - 1) == 0 ? 1 : 0;
}

/*
 * The host of a Host value ("name", "name:port", "[v6]:port"): port and
 * one trailing dot dropped, lower case.  -1 if it is not a plain name or
 * address literal.
 */
static int
host_from_authority(const char *v, size_t n, char *host, size_t hlen)
{
	const char *e = v + n, *p;
	size_t i;

	if (n > 0 && *v == '[') {
		if ((p = memchr(v, ']', n)) == NULL)
			return -1;
		v++;
		e = p;
	} else if ((p = memchr(v, ':', n)) != NULL) {
		e = p;
	}
	n = (size_t)(e - v);
	if (n > 0 && v[n - 1] == '.')
		n--;
	if (n == 0 || n >= hlen)
		return -1;
	for (i = 0; i < n; i++) {
		char ch = v[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == ':'))
			return -1;
		host[i] = ch;
	}
	host[n] = '\0';
	return 0;
}

/* For the explicit proxy port (tproxy_proxy.c), declared in engine.h. */
int
conn_host_from_authority(const char *v, size_t n, char *host, size_t hlen)
{
	return host_from_authority(v, n, host, hlen);
}

void
conn_sockaddr_format(const struct sockaddr_storage *ss, char *out, size_t len)
{
	sockaddr_format(ss, out, len);
}

/*
 * Act on a first-bytes parser's return (-1 error with c->reason set, 0 need
 * more, >0 complete): 1 to go on deciding, 0 when the connection was
 * refused or must wait for more bytes (refused if no more can come).
 */
static int
conn_sniff_result(struct conn *c, int r, int eof, const char *scanner,
    const char *what)
{
	if (r > 0)
		return 1;
	if (r == 0 && !eof && c->blen < SNIFF_MAX)
		return 0;
	c->scanner = scanner;
	if (r == 0)
		snprintf(c->reason, sizeof(c->reason), eof ?
		    "connection closed inside the %s" : "%s too large", what);
	conn_block(c, NULL);
	return 0;
}

/*
 * HTTP: the first request head, parsed once here only for the connection's
 * Host (the connection-level decision and its audit line); then the
 * inspector judges every request, this one included, so a head the parser
 * refuses still gets its 400/431 from the inspector.
 */
static void
conn_sniff_http(struct conn *c, int eof)
{
	const char *buf = (const char *)c->buf;
	int r;

	if (c->http == NULL) {
		if ((c->http = malloc(sizeof(*c->http))) == NULL) {
			conn_close(c, 1);
			return;
		}
		http_request_init(c->http);
	}
	r = http_request_parse(c->http, buf, c->blen);
	if (r == 0 && !eof && c->blen < SNIFF_MAX)
		return;
	if (r > 0 && c->http->host.len > 0 &&
	    host_from_authority(buf + c->http->host.off, c->http->host.len,
	    c->host, sizeof(c->host)) == -1) {
		c->host[0] = '\0';
		c->host_bad = 1;
	}
	c->t_last = loop_now_ms();
	conn_http_start(c);
}

/* Classify what has arrived; decide or wait. */
static void
conn_sniff_classify(struct conn *c, int eof)
{
	struct tls_hello hello;
	int r;

	r = tls_hello_probe(c->buf, c->blen);
	if (r == 1) {
		c->proto = CONN_PROTO_TLS;
		r = tls_hello_parse(c->buf, c->blen, &hello);
		if (r == -1)
			snprintf(c->reason, sizeof(c->reason),
			    "malformed ClientHello: %s at byte %zu", hello.err,
			    hello.err_pos);
		if (!conn_sniff_result(c, r, eof, "tls", "ClientHello"))
			return;
		if (hello.has_sni)
			snprintf(c->host, sizeof(c->host), "%s", hello.sni);
		snprintf(c->alpn, sizeof(c->alpn), "%s", hello.alpn);
		c->ech = hello.has_ech;
		conn_decide(c);
		return;
	}
	if (r == -1 && !eof)
		return;
	r = http_probe(c->buf, c->blen);
	if (r == -1 && !eof)
		return;
	if (r == 1) {
		c->proto = CONN_PROTO_HTTP;
		conn_sniff_http(c, eof);
		return;
	}
	c->proto = CONN_PROTO_OTHER;
	conn_decide(c);
}

static void
conn_sniff_read(struct conn *c)
{
	uint8_t *nb;
	size_t ncap, want;
	ssize_t n;

	for (;;) {
		if (c->blen == c->bcap) {
			if (c->bcap >= SNIFF_MAX) {
				conn_sniff_classify(c, 0);
				return;
			}
			ncap = c->bcap ? c->bcap * 2 : SNIFF_INITIAL;
			if (ncap > SNIFF_MAX)
				ncap = SNIFF_MAX;
			if ((nb = realloc(c->buf, ncap)) == NULL) {
				log_warnx("out of memory sniffing a connection");
				conn_close(c, 1);
				return;
			}
			c->buf = nb;
			c->bcap = ncap;
		}
		want = c->bcap - c->blen;
		n = recv(c->cfd, c->buf + c->blen, want, 0);
		if (n > 0) {
			c->blen += (size_t)n;
			c->up.bytes += (unsigned long long)n;
			if ((size_t)n < want)
				break;	/* drained: no recv just for EAGAIN */
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0 && c->blen > 0) {
			conn_sniff_classify(c, 1);
			return;
		}
		/* closed or reset before saying anything: nothing to decide */
		log_debug("%s -> %s: closed before the first bytes", c->src_s,
		    c->dst_s);
		conn_close(c, n == -1);
		return;
	}
	if (c->blen > 0)
		conn_sniff_classify(c, 0);
}

/* --- decide ------------------------------------------------------------------ */

static int
conn_dst_in_cidrs(const struct conn *c, const struct strlist *l)
{
	struct ipaddr ip;
	struct cidr cd;
	size_t i;

	if (ip_from_sockaddr((const struct sockaddr *)&c->dst, &ip) == -1)
		return 0;
	for (i = 0; i < l->n; i++)
		if (cidr_parse(l->v[i], &cd) == 0 && cidr_contains(&cd, &ip))
			return 1;
	return 0;
}

static int
conn_allowlisted(const struct config *cfg, const char *host)
{
	size_t i;

	for (i = 0; i < cfg->scanner.api_allowlist.n; i++)
		if (scanner_domain_match(host, cfg->scanner.api_allowlist.v[i]))
			return 1;
	return 0;
}

/* Copy the first blocking finding into c. */
static void
conn_take_finding(struct conn *c, const struct scan_result *res)
{
	const struct scan_finding *f = NULL;
	unsigned i;

	for (i = 0; i < res->nfindings; i++)
		if (!res->findings[i].warn_only) {
			f = &res->findings[i];
			break;
		}
	if (f == NULL && res->nfindings > 0)
		f = &res->findings[0];
	if (f == NULL) {
		c->scanner = "error";
		snprintf(c->reason, sizeof(c->reason), "scanner error");
		return;
	}
	c->scanner = f->scanner;
	if (f->pattern != NULL)
		metric_add(metrics_get(M_DLP_FINDINGS), METRIC_LV(f->pattern,
		    f->severity != NULL ? f->severity : ""), 1);
	snprintf(c->reason, sizeof(c->reason), "%s", f->reason);
	snprintf(c->pattern, sizeof(c->pattern), "%s", f->pattern ? f->pattern : "");
	snprintf(c->redacted, sizeof(c->redacted), "%s", f->redacted);
}

static void
conn_check_resolved(struct conn *c, const struct resolve_req *req)
{
	if (req->failed) {
		conn_deny(c, "sni_mismatch", "name does not resolve; cannot "
		    "verify the destination (strict mode)");
		return;
	}
	if (!resolve_req_has(req, (const struct sockaddr *)&c->dst)) {
		conn_deny(c, "sni_mismatch", "destination is not an address "
		    "of the requested name (strict mode)");
		return;
	}
	conn_finish_decision(c);
}

static void
conn_decide(struct conn *c)
{
	const struct config *cfg = c->pol->cfg;
	const struct scanner *sc = c->pol->scanner;
	struct scan_result res;
	struct resolve_req *req;
	int r;

	conn_set_state(c, CONN_DECIDE);
	free(c->http);		/* the head's bytes stay in c->buf */
	c->http = NULL;
	/*
	 * The client side keeps its read interest until the relay sets its
	 * masks: a client that sends nothing more while the decision and the
	 * connect run (the usual case) costs no epoll_ctl; one that does is
	 * switched off when it shows (conn_io).
	 */
	if (conn_killswitch(c))
		return;
	c->verdict = "allow";
	if (c->proto == CONN_PROTO_DNS) {
		/* its first query passed (each one has its own verdict) */
		snprintf(c->reason, sizeof(c->reason), "DNS over TCP: every "
		    "query judged");
		conn_finish_decision(c);
		return;
	}
	if (c->proto == CONN_PROTO_OTHER || c->proto == CONN_PROTO_SILENT) {
		if (cfg->fw.other_tcp == FW_OTHER_TCP_ALLOW) {
			snprintf(c->reason, sizeof(c->reason), "%s",
			    c->proto == CONN_PROTO_SILENT ? "silent client" :
			    "not TLS or HTTP");
			conn_finish_decision(c);
			return;
		}
		conn_deny(c, "firewall", c->proto == CONN_PROTO_SILENT ?
		    "client sent nothing (firewall.other_tcp: block)" :
		    "not TLS or HTTP (firewall.other_tcp: block)");
		return;
	}
	if (c->host[0] == '\0') {
		if (conn_dst_in_cidrs(c, &cfg->fw.allow_ip_cidrs)) {
			snprintf(c->reason, sizeof(c->reason),
			    "no %s; destination in firewall.allow_ip_cidrs",
			    c->proto == CONN_PROTO_TLS ? "SNI" : "Host");
			conn_finish_decision(c);
			return;
		}
		conn_deny(c, "firewall", c->proto == CONN_PROTO_TLS ?
		    "TLS without SNI to an address not in firewall.allow_ip_cidrs" :
		    "HTTP without Host to an address not in firewall.allow_ip_cidrs");
		return;
	}
	r = scanner_check_domain(sc, c->host, c->proto == CONN_PROTO_TLS ?
	    SCAN_WHERE_SNI : SCAN_WHERE_HOST, &res);
	if (r != 0) {
		conn_take_finding(c, &res);
		conn_deny(c, c->scanner, c->reason);
		return;
	}
	if (cfg->scanner.strict && !conn_allowlisted(cfg, c->host)) {
		conn_deny(c, "allowlist", "domain not in api_allowlist (strict mode)");
		return;
	}
	r = scanner_check_addr(sc, c->host, (const struct sockaddr *)&c->dst, &res);
	if (r != 0) {
		conn_take_finding(c, &res);
		conn_deny(c, c->scanner, c->reason);
		return;
	}
	if (!cfg->scanner.strict) {
		conn_finish_decision(c);
		return;
	}
	/* strict: the destination must be one the name resolves to */
	if ((req = calloc(1, sizeof(*req))) == NULL) {
		conn_close(c, 1);
		return;
	}
	snprintf(req->name, sizeof(req->name), "%s", c->host);
	if (resolver_cached(c->w->eng->resolver, req)) {
		conn_check_resolved(c, req);
		free(req);
		return;
	}
	req->owner = c;
	if (resolver_submit(c->w->eng->resolver, req, &c->w->sink) == -1) {
		free(req);
		conn_deny(c, "sni_mismatch", "resolver busy; cannot verify the "
		    "destination (strict mode)");
		return;
	}
	c->rreq = req;
}

void
conn_resolved_all(struct worker *w)
{
	struct resolve_req *req, *next;
	struct conn *c;

	for (req = resolve_sink_take(&w->sink); req != NULL; req = next) {
		next = req->next;
		if ((c = req->owner) != NULL && !c->dead) {
			c->rreq = NULL;
			if (c->hwait) {
				conn_http_resolved(c, req);	/* keeps req */
				continue;
			}
			conn_check_resolved(c, req);
		}
		free(req);
	}
}

/* --- connect and relay ---------------------------------------------------- */

static void
conn_connect(struct conn *c)
{
	const struct config *cfg = c->pol->cfg;
	int fd, one = 1;
	uint32_t mark = cfg->fw.engine_mark;

	fd = socket(c->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    IPPROTO_TCP);
	if (fd == -1) {
		log_warn("upstream socket");
		conn_close(c, 1);
		return;
	}
	c->ufd = fd;
	/* the ruleset accepts the engine's own traffic by this mark */
	if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == -1) {
		log_warn("SO_MARK");
		conn_close(c, 1);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (loop_add(c->w->loop, fd, LOOP_WRITE, conn_io, c) == -1) {
		conn_close(c, 1);
		return;
	}
	conn_set_state(c, CONN_CONNECTING);
	if (connect(fd, (struct sockaddr *)&c->dst,
	    conn_sockaddr_len(&c->dst)) == -1 && errno != EINPROGRESS) {
		snprintf(c->reason, sizeof(c->reason), "upstream connect: %s",
		    strerror(errno));
		conn_audit(c, "upstream_error", "error", c->reason);
		conn_close(c, 1);
	}
}

static void
conn_finish_decision(struct conn *c)
{
	conn_metrics_decision(c, 0);
	conn_audit(c, "tcp", c->verdict, c->reason);
	if (c->proto == CONN_PROTO_TLS && conn_mitm_start(c) == -1)
		return;
	conn_connect(c);
}

/*
 * The pipe comes with the first splice (relay_pump): a plain-HTTP request
 * direction never splices, and most connections find one in the pool.
 * Until then cap is the size asked for, so the direction wants to read.
 */
static void
relay_dir_setup(struct relay_dir *d, int from, int to)
{
	d->from = from;
	d->to = to;
	d->cap = TPROXY_PIPE_SIZE;
	d->can_in = 0;		/* epoll says when (see relay_pump) */
}

/*
 * Small reads are copied (recv into the stack, send on) instead of spliced:
 * for a few KiB, such as a 1 KiB HTTP response, splice's per-page pipe
 * bookkeeping costs more CPU than the copy, and an empty pipe is not even
 * needed.  A read that fills RELAY_COPY_MAX switches the direction to
 * splice for good (bulk): switching back after each short splice measured
 * 20-40 % more CPU per MiB on 1 MiB bodies.  What the receiver does not
 * take at once goes into the pipe, ahead of anything read later.
 * 1 progress, 0 none, -1 error.
 */
static int
relay_copy(struct conn *c, struct relay_dir *d)
{
	char buf[RELAY_COPY_MAX];
	ssize_t n, s;

	n = recv(d->from, buf, sizeof(buf), 0);
	if (n == 0) {
		d->eof = 1;
		return 1;
	}
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			d->can_in = 0;
			return 0;
		}
		return errno == EINTR ? 0 : -1;
	}
	d->bytes += (unsigned long long)n;
	c->t_last = loop_now_ms();
	if ((size_t)n == sizeof(buf))
		d->bulk = 1;
	else if (d->can_in != RELAY_DRAIN)
		d->can_in = 0;		/* drained, as in relay_pump */
	s = send(d->to, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (s == -1 && errno != EAGAIN && errno != EINTR)
		return -1;
	if (s == -1)
		s = 0;
	if (s == n)
		return 1;
	if (d->pipe[0] == -1 && tproxy_pipe_get(d->pipe, &d->cap) == -1) {
		log_warn("pipe");
		return -1;
	}
	/* the pipe is empty here and holds more than RELAY_COPY_MAX */
	if (write(d->pipe[1], buf + s, (size_t)(n - s)) != n - s)
		return -1;
	d->inpipe = (size_t)(n - s);
	return 1;
}

/*
 * Move what can move in one direction.  -1 on a socket error (the caller
 * aborts the connection).  The buffered first bytes go before anything
 * spliced from the client.  The read side is tried only while can_in: set
 * when epoll reports it readable, cleared when a splice finds it empty or
 * moves less than it asked for (the socket was drained; a pipe out of
 * slots also stops short, and then level-triggered epoll reports the
 * socket again at once).  That saves the splice that would only say
 * EAGAIN on every response of a keep-alive connection.
 */
static int
relay_pump(struct conn *c, struct relay_dir *d, int first_bytes)
{
	size_t want;
	ssize_t n;
	int progress, r;

	do {
		progress = 0;
		if (first_bytes && c->bsent < c->blen) {
			n = send(d->to, c->buf + c->bsent, c->blen - c->bsent,
			    MSG_NOSIGNAL);
			if (n > 0) {
				c->bsent += (size_t)n;
				progress = 1;
				if (c->bsent == c->blen) {
					free(c->buf);
					c->buf = NULL;
					c->blen = c->bcap = c->bsent = 0;
				}
				continue;
			}
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			return -1;
		}
		if (d->inpipe > 0) {
			n = splice(d->pipe[0], NULL, d->to, NULL, d->inpipe,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				d->inpipe -= (size_t)n;
				d->in_blocked = 0;
				progress = 1;
			} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
				return -1;
			}
		}
		if (d->can_in && !d->eof && d->inpipe == 0 && !d->bulk) {
			if ((r = relay_copy(c, d)) == -1)
				return -1;
			progress |= r;
		} else if (d->can_in && !d->eof && !d->in_blocked &&
		    d->inpipe < d->cap) {
			if (d->pipe[0] == -1 &&
			    tproxy_pipe_get(d->pipe, &d->cap) == -1) {
				log_warn("pipe");
				return -1;
			}
			want = d->cap - d->inpipe;
			n = splice(d->from, NULL, d->pipe[1], NULL, want,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0 && (size_t)n < want && d->can_in != RELAY_DRAIN)
				d->can_in = 0;
			if (n > 0) {
				d->inpipe += (size_t)n;
				d->bytes += (unsigned long long)n;
				c->t_last = loop_now_ms();
				progress = 1;
			} else if (n == 0) {
				d->eof = 1;
				progress = 1;
			} else if (errno == EAGAIN) {
				/* socket empty, or pipe out of slots with data queued */
				if (d->inpipe > 0)
					d->in_blocked = 1;
				else
					d->can_in = 0;
			} else if (errno != EINTR) {
				return -1;
			}
		}
	} while (progress);
	if (d->eof && d->inpipe == 0 && !(first_bytes && c->bsent < c->blen) &&
	    !d->shut && !d->hold_fin) {
		(void)shutdown(d->to, SHUT_WR);
		d->shut = 1;
	}
	return 0;
}

static void
conn_relay(struct conn *c, int ready)
{
	struct loop *l = c->w->loop;
	int cmask = 0, umask = 0, pending;

	if ((c->insp != NULL || c->proto == CONN_PROTO_DNS) && !c->htunnel) {
		conn_http_relay(c);
		return;
	}
	if (relay_pump(c, &c->up, 1) == -1 || relay_pump(c, &c->down, 0) == -1) {
		conn_close(c, 1);
		return;
	}
	if (c->up.shut && c->down.shut) {
		conn_close(c, 0);
		return;
	}
	pending = c->bsent < c->blen;
	if (!c->up.eof && !c->up.in_blocked && c->up.inpipe < c->up.cap)
		cmask |= LOOP_READ;
	if (c->down.inpipe > 0)
		cmask |= LOOP_WRITE;
	if (!c->down.eof && !c->down.in_blocked && c->down.inpipe < c->down.cap)
		umask |= LOOP_READ;
	if (c->up.inpipe > 0 || pending)
		umask |= LOOP_WRITE;
	if ((!c->hup_c && loop_set(l, c->cfd, cmask) == -1) ||
	    (!c->hup_u && loop_set(l, c->ufd, umask) == -1))
		conn_close(c, 1);
}

/*
 * EPOLLERR/EPOLLHUP on a relayed socket.  A socket error (RST) aborts.  A
 * plain HUP (FIN both ways) is reported on every wait whatever the
 * interest, so after a last pump the fd leaves the loop; the other side
 * may still be owed data.
 */
static void
conn_relay_hup(struct conn *c, int fd)
{
	if (conn_sock_error(fd) != 0) {
		conn_close(c, 1);
		return;
	}
	/* the fd leaves the loop: read what is left up to the FIN now */
	c->up.can_in = c->down.can_in = RELAY_DRAIN;
	conn_relay(c, LOOP_READ | LOOP_WRITE);
	if (c->dead)
		return;
	loop_del(c->w->loop, fd);
	if (fd == c->cfd)
		c->hup_c = 1;
	else
		c->hup_u = 1;
	if (c->hup_c && c->hup_u)
		conn_close(c, 0);
}

static void
conn_connected(struct conn *c)
{
	int err = conn_sock_error(c->ufd);

	if (err == EINPROGRESS || err == EALREADY)
		return;
	if (err != 0) {
		snprintf(c->reason, sizeof(c->reason), "upstream connect: %s",
		    strerror(err));
		conn_audit(c, "upstream_error", "error", c->reason);
		conn_close(c, 1);
		return;
	}
	relay_dir_setup(&c->up, c->cfd, c->ufd);
	relay_dir_setup(&c->down, c->ufd, c->cfd);
	/* bytes read while sniffing count as client bytes already */
	if (c->insp == NULL && c->proto != CONN_PROTO_DNS)
		c->up.bytes = c->blen;
	c->relayed = 1;
	metric_gauge_add(metrics_get(M_ACTIVE_TUNNELS), NULL, 1);
	c->t_last = loop_now_ms();
	if (c->mitm != NULL) {
		conn_set_state(c, CONN_MITM);
		conn_mitm_io(c, c->ufd, 0);
		return;
	}
	conn_set_state(c, CONN_RELAY);
	conn_relay(c, 0);
}

int
conn_drain_fin(int fd)
{
	char sink[4096];
	ssize_t n;
	int i;

	/* a bounded batch per event: a client that keeps sending waits */
	for (i = 0; i < 16; i++) {
		n = recv(fd, sink, sizeof(sink), 0);
		if (n > 0)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return 1;
	}
	return 0;
}

int
conn_sock_error(int fd)
{
	int err = 0;
	socklen_t sl = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == -1)
		return errno;
	return err;
}

/* Discard what the client still sends after a block answer, until FIN. */
static void
conn_closing_read(struct conn *c)
{
	if (conn_drain_fin(c->cfd))
		conn_close(c, 0);
}

/* --- plain HTTP: every request through the inspector ---------------------- */

/*
 * Keep only a lookup's name and its answer for this connection's
 * destination (the whole answer is 2.3 KiB of addresses); frees req.
 * Without memory for the name nothing is kept: the next request asks the
 * resolver's cache again.
 */
static int
conn_host_keep(struct conn *c, struct resolve_req *req)
{
	int ans = req->failed ? -1 : resolve_req_has(req,
	    (const struct sockaddr *)&c->dst);

	free(c->hname);
	c->hname = strdup(req->name);
	c->hans = ans;
	free(req);
	return ans;
}

/*
 * The inspector's Host hook (strict mode): does host resolve to the
 * original destination?  Answers from the connection's last lookup or the
 * resolver's cache; otherwise a lookup is queued and -2 makes the inspector
 * return INSPECT_WAIT, so the event loop never blocks on DNS.
 */
static int
conn_host_matches(void *ctx, const char *host)
{
	struct conn *c = ctx;
	struct resolve_req *req;

	if (c->hname != NULL && strcmp(c->hname, host) == 0)
		return c->hans;
	if (c->rreq != NULL)
		return -1;		/* one lookup at a time: cannot happen */
	if ((req = calloc(1, sizeof(*req))) == NULL)
		return -1;
	snprintf(req->name, sizeof(req->name), "%s", host);
	if (resolver_cached(c->w->eng->resolver, req))
		return conn_host_keep(c, req);
	req->owner = c;
	if (resolver_submit(c->w->eng->resolver, req, &c->w->sink) == -1) {
		free(req);
		return -1;		/* resolver busy: not verified, refused */
	}
	c->rreq = req;
	c->hwait = 1;
	c->t_hwait = loop_now_ms();
	return -2;
}

/* One request's audit line ("http"); down: its response bytes or -1. */
static void
conn_http_audit_emit(struct conn *c, const struct inspect_audit *a,
    long long down)
{
	struct audit_event ev;

	audit_event_init(&ev);
	ev.event = "http";
	ev.verdict = inspect_verdict_name(a->verdict);
	ev.reason = a->reason[0] ? a->reason : NULL;
	ev.proto = "http";
	if (c->uid_known)
		ev.uid = c->uid;
	ev.src = c->src_s;
	ev.dst = c->dst_s;
	ev.host = a->host[0] ? a->host : NULL;
	ev.method = a->method[0] ? a->method : NULL;
	ev.url = a->url[0] ? a->url : NULL;
	ev.scanner = a->scanner;
	ev.pattern = a->pattern[0] ? a->pattern : NULL;
	ev.redacted = a->redacted[0] ? a->redacted : NULL;
	if (a->verdict == INSPECT_DENY && a->status > 0)
		ev.status = a->status;
	ev.bytes_up = (long long)a->request_bytes;
	ev.bytes_down = down;
	conn_audit_send(c, &ev);
}

/*
 * Write the held line of the last forwarded request: its response size is
 * what came down since it was forwarded (exact for clients that wait for a
 * response before the next request; pipelined responses blur together).
 */
static void
conn_http_audit_flush(struct conn *c)
{
	if (c->hlast == NULL)
		return;
	conn_http_audit_emit(c, c->hlast,
	    (long long)(c->down.bytes - c->hlast_down));
	inspect_audit_free(c->hlast);
	c->hlast = NULL;
}

/* A request completed in the inspector: hold allowed lines, write others. */
static void
conn_http_audit(struct conn *c, const struct inspect_audit *a)
{
	conn_http_audit_flush(c);
	if (a->verdict == INSPECT_DENY) {
		conn_http_audit_emit(c, a, AUDIT_UNSET);
		return;
	}
	if ((c->hlast = inspect_audit_dup(a)) == NULL) {
		/* no memory to hold it: the line goes now, without a size */
		conn_http_audit_emit(c, a, AUDIT_UNSET);
		return;
	}
	c->hlast_down = c->down.bytes;
	if (c->relayed) {
		char ab[16];

		/* (the first request is counted with the connection's decision) */
		metric_add(metrics_get(M_REQUESTS_TOTAL), METRIC_LV("allowed",
		    conn_agent_label(c, ab, sizeof(ab))), 1);
	}
}

/*
 * Queue a short answer (100 Continue, a block) for the client, in memory
 * held only until it is sent.  -1 when out of memory: abort c.
 */
static int
conn_http_queue(struct conn *c, const char *resp, size_t len)
{
	char *p;

	if (len > INSPECT_RESP_MAX)
		len = INSPECT_RESP_MAX;
	if ((p = malloc(len > 0 ? len : 1)) == NULL)
		return -1;
	memcpy(p, resp, len);
	free(c->resp);
	c->resp = p;
	c->resp_len = len;
	c->resp_off = 0;
	return 0;
}

/*
 * Send buf[*off..end) without blocking, advancing *off by what went:
 * 1 all sent, 0 try again later, -1 socket error.
 */
static int
conn_send_pending(int fd, const void *buf, size_t *off, size_t end)
{
	ssize_t n;

	while (*off < end) {
		n = send(fd, (const char *)buf + *off, end - *off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			*off += (size_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return -1;
	}
	return 1;
}

/* Send the queued answer: 1 all sent, 0 try again later, -1 error. */
static int
conn_http_flush(struct conn *c)
{
	int r;

	if ((r = conn_send_pending(c->cfd, c->resp, &c->resp_off,
	    c->resp_len)) != 1)
		return r;
	c->resp_len = c->resp_off = 0;
	free(c->resp);
	c->resp = NULL;
	return 1;
}

/* The block answer is out: FIN to the client, linger for its FIN. */
static void
conn_http_closing(struct conn *c)
{
	(void)shutdown(c->cfd, SHUT_WR);
	if (c->ufd != -1) {
		loop_del(c->w->loop, c->ufd);
		fd_close_rst(c->ufd, 0);
		c->ufd = -1;
	}
	conn_set_state(c, CONN_CLOSING);
	if (loop_set(c->w->loop, c->cfd, LOOP_READ) == -1)
		conn_close(c, 1);
}

/*
 * Read client bytes into buf, never holding more than c->hold.  Returns 1
 * if bytes came (or EOF), 0 if none, -1 on a socket or memory error.
 */
static int
conn_http_read(struct conn *c)
{
	uint8_t *nb;
	size_t ncap, want;
	ssize_t n;
	int i, got = 0;

	for (i = 0; i < HTTP_READS_PER_EVENT && !c->up.eof; i++) {
		/* drop what went upstream once it is worth a move */
		if (c->bsent > 0 && (c->blen == c->bcap ||
		    c->bsent >= c->bcap / 2)) {
			memmove(c->buf, c->buf + c->bsent, c->blen - c->bsent);
			c->blen -= c->bsent;
			c->bjudged -= c->bsent;
			c->bsent = 0;
		}
		if (c->blen - c->bsent >= c->hold)
			break;
		if (c->blen == c->bcap) {
			ncap = c->bcap < HTTP_BUF_INITIAL ? HTTP_BUF_INITIAL :
			    c->bcap * 2;
			if (ncap > c->hold)
				ncap = c->hold;
			if (ncap <= c->bcap)
				break;
			if ((nb = realloc(c->buf, ncap)) == NULL) {
				log_warnx("out of memory for an HTTP request: "
				    "connection aborted");
				return -1;
			}
			c->buf = nb;
			c->bcap = ncap;
		}
		want = c->bcap - c->blen;
		n = recv(c->cfd, c->buf + c->blen, want, 0);
		if (n > 0) {
			c->blen += (size_t)n;
			c->up.bytes += (unsigned long long)n;
			c->t_last = loop_now_ms();
			got = 1;
			if ((size_t)n < want && c->up.can_in != RELAY_DRAIN) {
				c->up.can_in = 0;	/* drained (relay_pump) */
				break;
			}
			continue;
		}
		if (n == 0) {
			c->up.eof = 1;
			return 1;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->up.can_in = 0;
			break;
		}
		if (errno != EINTR)
			return -1;
	}
	return got;
}

/* Whether the client side should be read now. */
static int
conn_http_want_read(const struct conn *c)
{
	return !c->up.eof && !c->hwait && !c->hblock && !c->htunnel &&
	    c->resp_len == 0 && c->blen - c->bsent < c->hold;
}

/*
 * A BLOCK from the inspector.  Nothing forwarded yet (no upstream): answer
 * now.  Otherwise earlier requests' responses may still be coming: their
 * approved bytes still go, then the upstream gets a FIN, its responses are
 * relayed until it closes, and only then the answer follows (so it never
 * lands inside a response).
 */
static void
conn_http_block(struct conn *c, const struct inspect_action *act)
{
	const char *why = act->audit != NULL ? act->audit->reason :
	    "request refused";
	size_t n = strnlen(why, sizeof(c->reason) - 1);

	memcpy(c->reason, why, n);	/* (the audit reason is longer) */
	c->reason[n] = '\0';
	c->verdict = "block";
	conn_metrics_http_block(c, act->audit);
	if (conn_http_queue(c, act->resp, act->resp_len) == -1) {
		conn_close(c, 1);
		return;
	}
	if (c->ufd == -1) {
		if (conn_http_flush(c) != 1) {
			conn_close(c, 1);	/* a fresh socket takes 1 KiB */
			return;
		}
		conn_http_closing(c);
		return;
	}
	c->hblock = 1;
}

/* --- DNS over TCP: every frame judged (tproxy_dns), the HTTP buffer ------- */

/* One query's "dns" audit line; allowed queries only at debug level. */
static void
conn_dns_audit(struct conn *c, const struct nfq_decision *d)
{
	snprintf(c->host, sizeof(c->host), "%s", d->host);
	if (!d->audit) {
		log_debug("%s -> %s: dns allow %s %s", c->src_s, c->dst_s,
		    d->qtype, d->host);
		return;
	}
	c->scanner = d->scanner;
	snprintf(c->reason, sizeof(c->reason), "%s", d->reason);
	snprintf(c->pattern, sizeof(c->pattern), "%s",
	    d->pattern != NULL ? d->pattern : "");
	snprintf(c->redacted, sizeof(c->redacted), "%s", d->redacted);
	conn_audit(c, "dns", d->verdict_name != NULL ? d->verdict_name :
	    "block", c->reason);
}

/*
 * Judge the buffered frames one at a time: allowed ones become sendable
 * (bjudged), in order.  The first refused one is answered REFUSED - at
 * once before any upstream exists, else after the responses still owed,
 * exactly like an HTTP block - and a malformed one closes the connection.
 * Returns 1 when the first frame passed before an upstream exists (the
 * caller decides and connects), 0 otherwise; c may be closed.
 */
static int
conn_dns_judge(struct conn *c)
{
	struct tproxy_dns_verdict v;
	int r;

	while (!c->dead && !c->hblock && c->resp_len == 0 &&
	    c->bjudged < c->blen) {
		r = tproxy_dns_judge(c->pol, &c->src, &c->dst, c->uid_known ?
		    (long long)c->uid : -1, c->buf + c->bjudged,
		    c->blen - c->bjudged, loop_now_ms(), &v);
		if (r == 0)
			return 0;	/* hold fits a whole frame: read on */
		conn_dns_audit(c, &v.d);
		if (r == -1) {
			c->verdict = "block";
			if (v.resp_len == 0) {
				conn_close(c, 1);	/* malformed: no answer */
				return 0;
			}
			if (conn_http_queue(c, (const char *)v.resp,
			    v.resp_len) == -1) {
				conn_close(c, 1);
				return 0;
			}
			if (c->ufd != -1) {
				c->hblock = 1;
				return 0;
			}
			if (conn_http_flush(c) != 1)
				conn_close(c, 1);
			else
				conn_http_closing(c);
			return 0;
		}
		c->bjudged += (size_t)r;
		if (c->ufd == -1)
			return 1;
	}
	return 0;
}

/*
 * Judge what is buffered until the inspector needs more or stops.  Returns
 * 1 when the connection's first request passed before an upstream exists
 * (the caller decides and connects), 0 otherwise; c may be closed.
 */
static int
conn_http_judge(struct conn *c)
{
	struct inspect_action act;
	int r;

	if (c->proto == CONN_PROTO_DNS)
		return conn_dns_judge(c);
	while (!c->dead && !c->hwait && !c->hblock && !c->htunnel &&
	    c->resp_len == 0) {
		r = inspect_feed(c->insp, (const char *)c->buf + c->bjudged,
		    c->blen - c->bjudged, &act);
		if (r == -1) {
			log_warnx("out of memory inspecting HTTP: connection "
			    "aborted");
			conn_close(c, 1);
			return 0;
		}
		if (act.audit != NULL)
			conn_http_audit(c, act.audit);
		switch (act.kind) {
		case INSPECT_NEED_MORE:
			if (c->blen - c->bjudged >= c->hold) {
				/* the inspector promised to refuse first */
				conn_close(c, 1);
			}
			return 0;
		case INSPECT_WAIT:
			return 0;	/* conn_host_matches set hwait */
		case INSPECT_CONTINUE:
			/* only between responses, never inside one */
			if (c->down.inpipe == 0 &&
			    conn_http_queue(c, act.resp, act.resp_len) == -1) {
				conn_close(c, 1);
				return 0;
			}
			continue;
		case INSPECT_BLOCK:
			conn_http_block(c, &act);
			return 0;
		case INSPECT_TUNNEL:
			/* an allowed CONNECT/Upgrade: the rest goes as it is */
			c->bjudged = c->blen;
			c->htunnel = 1;
			break;
		case INSPECT_FORWARD:
			if (act.len == 0 || act.len > c->blen - c->bjudged) {
				conn_close(c, 1);
				return 0;
			}
			c->bjudged += act.len;
			break;
		}
		if (c->ufd == -1)
			return 1;
	}
	return 0;
}

/*
 * CONN_HTTP: read and judge until the first request passed (no upstream
 * yet, so a 100 Continue can go at once).
 */
static void
conn_http_pre(struct conn *c)
{
	int r;

	/* read when epoll said so: the sniffing read drained the socket */
	if (conn_http_want_read(c) && c->up.can_in && conn_http_read(c) == -1) {
		conn_close(c, 1);
		return;
	}
	for (;;) {
		if (conn_http_judge(c) == 1) {
			if (c->host_bad) {
				c->scanner = "http";
				conn_block(c, "malformed Host header");
				return;
			}
			conn_decide(c);
			return;
		}
		if (c->dead || c->state != CONN_HTTP)
			return;
		if (c->resp_len == 0)
			break;
		if ((r = conn_http_flush(c)) == -1) {
			conn_close(c, 1);
			return;
		}
		if (r == 0)
			break;
	}
	if (c->up.eof && !c->hwait && c->resp_len == 0) {
		/* closed before a whole request passed: nothing to relay */
		conn_close(c, 0);
		return;
	}
	if (loop_set(c->w->loop, c->cfd, (conn_http_want_read(c) ? LOOP_READ :
	    0) | (c->resp_len > 0 ? LOOP_WRITE : 0)) == -1)
		conn_close(c, 1);
}

/* Send the approved bytes upstream.  -1 on a socket error. */
static int
conn_http_send(struct conn *c)
{
	int r;

	if ((r = conn_send_pending(c->ufd, c->buf, &c->bsent,
	    c->bjudged)) != 1)
		return r;
	if (c->bsent == c->blen && c->bsent > 0) {
		/*
		 * Empty: give the buffer back, so an idle keep-alive
		 * connection holds none (conn_http_read makes a new one).
		 */
		free(c->buf);
		c->buf = NULL;
		c->blen = c->bjudged = c->bsent = c->bcap = 0;
	}
	/*
	 * A block, or the client's FIN (unless a request still waits for its
	 * Host lookup): the upstream is told once the approved bytes went.
	 */
	if ((c->hblock || (c->up.eof && !c->hwait)) && !c->up.shut) {
		(void)shutdown(c->ufd, SHUT_WR);
		c->up.shut = 1;
	}
	return 0;
}

/*
 * Whether our queued answer may go now: never inside a response; a block
 * answer only after the upstream finished (FIN) and all of it was relayed.
 */
static int
conn_http_resp_ready(const struct conn *c)
{
	return c->resp_len > 0 && c->down.inpipe == 0 &&
	    (!c->hblock || (c->down.eof && c->up.shut));
}

/* RELAY of a plain-HTTP connection (until a tunnel takes over). */
static void
conn_http_relay(struct conn *c)
{
	struct loop *l = c->w->loop;
	int cmask = 0, umask = 0, r;

	/* the client is read when epoll said so (can_in, see relay_pump) */
	if (conn_http_want_read(c) && c->up.can_in && conn_http_read(c) == -1) {
		conn_close(c, 1);
		return;
	}
	conn_http_judge(c);
	if (c->dead)
		return;
	if (conn_http_send(c) == -1) {
		conn_close(c, 1);
		return;
	}
	if (c->htunnel && c->bsent == c->bjudged) {
		/* from here on both directions are spliced */
		c->bjudged = 0;
		conn_relay(c, 0);
		return;
	}
	if (c->hblock && c->hup_c) {
		conn_close(c, 0);	/* nobody left to tell */
		return;
	}
	/* an answer of ours goes only between responses */
	c->down.hold_fin = c->hblock;
	if (conn_http_resp_ready(c)) {
		if (c->down.shut) {
			conn_close(c, 0);	/* the client has our FIN already */
			return;
		}
		if ((r = conn_http_flush(c)) == -1) {
			conn_close(c, 1);
			return;
		}
		if (r == 1 && c->hblock) {
			conn_http_audit_flush(c);
			conn_http_closing(c);
			return;
		}
		if (r == 1)
			conn_http_judge(c);	/* the body may be waiting */
		if (c->dead)
			return;
		if (conn_http_send(c) == -1) {
			conn_close(c, 1);
			return;
		}
	}
	if ((c->resp_len == 0 || c->hblock) &&
	    relay_pump(c, &c->down, 0) == -1) {
		conn_close(c, 1);
		return;
	}
	if (c->up.shut && c->down.shut) {
		conn_close(c, 0);
		return;
	}
	if (conn_http_want_read(c))
		cmask |= LOOP_READ;
	if (c->down.inpipe > 0 || conn_http_resp_ready(c))
		cmask |= LOOP_WRITE;
	if ((c->resp_len == 0 || c->hblock) && !c->down.eof &&
	    !c->down.in_blocked &&
	    c->down.inpipe < c->down.cap)
		umask |= LOOP_READ;
	if (c->bsent < c->bjudged)
		umask |= LOOP_WRITE;
	if ((!c->hup_c && loop_set(l, c->cfd, cmask) == -1) ||
	    (!c->hup_u && loop_set(l, c->ufd, umask) == -1))
		conn_close(c, 1);
}

/* A Host lookup came back: judge the held head again. */
static void
conn_http_resolved(struct conn *c, struct resolve_req *req)
{
	conn_host_keep(c, req);
	c->hwait = 0;
	if (c->state == CONN_HTTP)
		conn_http_pre(c);
	else if (c->state == CONN_RELAY)
		conn_relay(c, 0);
}

/* The lookup outlived connect_timeout_seconds: an unverified Host. */
static void
conn_http_resolve_timeout(struct conn *c)
{
	struct resolve_req *req;

	if (c->rreq == NULL || (req = calloc(1, sizeof(*req))) == NULL) {
		conn_close(c, 1);
		return;
	}
	snprintf(req->name, sizeof(req->name), "%s", c->rreq->name);
	req->failed = 1;
	c->rreq->owner = NULL;	/* its answer, if it comes, is for nobody */
	c->rreq = NULL;
	conn_http_resolved(c, req);
}

/*
 * A plain-HTTP connection: an inspector judges every request before any of
 * it goes upstream; the upstream is dialled once the first request passed.
 */
static void
conn_http_start(struct conn *c)
{
	struct inspect_config ic;

	if (conn_killswitch(c))
		return;
	inspect_config_from_policy(&ic, c->pol);
	ic.host_matches = conn_host_matches;
	ic.host_ctx = c;
	c->insp = inspect_new(&ic, (const struct sockaddr *)&c->dst,
	    conn_sockaddr_len(&c->dst), NULL);
	if (c->insp == NULL) {
		log_warnx("out of memory for an HTTP inspector: refused");
		conn_close(c, 1);
		return;
	}
	c->hold = inspect_hold_limit(c->insp);
	c->bsent = c->bjudged = 0;
	free(c->http);
	c->http = NULL;
	conn_set_state(c, CONN_HTTP);
	conn_http_pre(c);
}

/* --- TLS interception (the state machine is tproxy_mitm's) --------------- */

static void
conn_mitm_audit(void *ctx, const struct inspect_audit *a)
{
	conn_http_audit_emit(ctx, a, AUDIT_UNSET);
}

/*
 * An allowed TLS flow: intercept it unless interception is off or the SNI
 * is a passthrough domain.  0: go on (connect); -1: c was closed.
 */
static int
conn_mitm_start(struct conn *c)
{
	struct inspect_config ic;
	int one = 1;

	if (!mitm_wanted(c->w->eng->mitm, c->pol->cfg, c->host))
		return 0;
	inspect_config_from_policy(&ic, c->pol);
	c->mitm = mitm_session_new(c->w->eng->mitm, c->host, &ic,
	    (const struct sockaddr *)&c->dst, conn_sockaddr_len(&c->dst), c->buf,
	    c->blen, conn_mitm_audit, c);
	if (c->mitm == NULL) {
		log_warnx("cannot start TLS interception for %s: refused",
		    c->host);
		conn_close(c, 1);
		return -1;
	}
	/*
	 * TLS records go out in several small writes (handshake flights,
	 * response, close_notify): without NODELAY Nagle holds each behind
	 * the peer's delayed ACK (40 ms per exchange).
	 */
	(void)setsockopt(c->cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* the ClientHello is the session's now: nothing raw goes upstream */
	free(c->buf);
	c->buf = NULL;
	c->blen = c->bcap = c->bsent = 0;
	return 0;
}

static void
conn_mitm_io(struct conn *c, int fd, int ready)
{
	int cmask, umask, r;

	/*
	 * HUP on the client: it reset (we never shut its write side here).
	 * HUP on the upstream: after our FIN its FIN came; read it to EOF.
	 */
	if ((ready & LOOP_ERROR) && (fd == c->cfd || conn_sock_error(fd) != 0)) {
		conn_close(c, 1);
		return;
	}
	c->t_last = loop_now_ms();
	r = mitm_session_io(c->mitm, c->cfd, c->ufd, &cmask, &umask);
	mitm_session_bytes(c->mitm, &c->up.bytes, &c->down.bytes);
	/* once, when the session ends early: block (403/502) or TLS error */
	if (mitm_session_finished(c->mitm) && strcmp(c->verdict, "block") != 0 &&
	    *mitm_session_reason(c->mitm) != '\0') {
		snprintf(c->reason, sizeof(c->reason), "%s",
		    mitm_session_reason(c->mitm));
		if (mitm_session_blocked(c->mitm)) {
			c->verdict = "block";
			if (strncmp(c->reason, "upstream", 8) == 0) {
				c->scanner = "tls";
				conn_audit(c, "upstream_error", "block",
				    c->reason);
			}
		}
	}
	if (r == -1) {
		conn_close(c, 1);
		return;
	}
	if (r == 1) {
		conn_http_closing(c);	/* linger for the client's FIN */
		return;
	}
	if (mitm_session_finished(c->mitm) && c->ufd != -1) {
		/* only our last bytes to the client are left */
		loop_del(c->w->loop, c->ufd);
		fd_close_rst(c->ufd, 0);
		c->ufd = -1;
	}
	if (loop_set(c->w->loop, c->cfd, cmask) == -1 ||
	    (c->ufd != -1 && loop_set(c->w->loop, c->ufd, umask) == -1))
		conn_close(c, 1);
}

static void
conn_io(struct loop *l, int fd, int ready, void *ctx)
{
	struct conn *c = ctx;

	if (c->dead)
		return;
	switch (c->state) {
	case CONN_SNIFF:
		conn_sniff_read(c);
		break;
	case CONN_HTTP:
		if (ready & LOOP_ERROR) {
			conn_close(c, 1);	/* reset before a request passed */
			break;
		}
		if (ready & LOOP_READ)
			c->up.can_in = 1;
		conn_http_pre(c);
		break;
	case CONN_CONNECTING:
		if (fd == c->ufd)
			conn_connected(c);
		else if (ready & LOOP_ERROR)
			conn_close(c, 1);
		else if (loop_set(l, fd, 0) == -1)	/* see conn_decide */
			conn_close(c, 1);
		break;
	case CONN_RELAY:
		if (ready & LOOP_ERROR) {
			conn_relay_hup(c, fd);
			break;
		}
		if (ready & LOOP_READ) {
			if (fd == c->cfd)
				c->up.can_in = 1;
			else
				c->down.can_in = 1;
		}
		conn_relay(c, ready);
		break;
	case CONN_CLOSING:
		conn_closing_read(c);
		break;
	case CONN_MITM:
		conn_mitm_io(c, fd, ready);
		break;
	case CONN_ACCEPTED:
	case CONN_DECIDE:
		/* not reading: only errors matter (see conn_decide) */
		if (ready & LOOP_ERROR)
			conn_close(c, 1);
		else if (loop_set(l, fd, 0) == -1)
			conn_close(c, 1);
		break;
	}
}

/* --- timeouts -------------------------------------------------------------- */

void
conn_sweep(struct worker *w, uint64_t now)
{
	struct conn *c, *next;
	const struct config *cfg;
	uint64_t connect_ms, idle_ms, total_ms;
	int ks = killswitch_active(w->eng->ks);

	for (c = LIST_FIRST(&w->conns); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		cfg = c->pol->cfg;
		/*
		 * What flows is cut; a first request or hello still being read
		 * gets the kill switch's answer at its decision.
		 */
		if (ks && c->state != CONN_SNIFF && c->state != CONN_CLOSING &&
		    c->state != CONN_ACCEPTED &&
		    (c->state != CONN_HTTP || c->relayed)) {
			conn_killswitch_cut(c);
			continue;
		}
		connect_ms = (uint64_t)cfg->fw.connect_timeout_s * 1000;
		idle_ms = (uint64_t)cfg->fw.idle_timeout_s * 1000;
		total_ms = (uint64_t)cfg->forward_proxy.max_tunnel_seconds * 1000;
		switch (c->state) {
		case CONN_SNIFF:
			if (now - c->t_state < cfg->fw.first_bytes_timeout_ms)
				break;
			if (c->blen == 0) {
				c->proto = CONN_PROTO_SILENT;
				conn_decide(c);
			} else {
				c->scanner = "firewall";
				conn_block(c, "first bytes incomplete after "
				    "firewall.first_bytes_timeout_ms");
			}
			break;
		case CONN_DECIDE:
			if (now - c->t_state < connect_ms)
				break;
			if (c->rreq != NULL) {
				/* its answer, if it ever comes, is for nobody */
				c->rreq->owner = NULL;
				c->rreq = NULL;
			}
			conn_deny(c, "sni_mismatch", "name resolution timed "
				    "out; cannot verify the destination (strict mode)");
			break;
		case CONN_CONNECTING:
			if (now - c->t_state >= connect_ms) {
				snprintf(c->reason, sizeof(c->reason),
				    "upstream connect: timed out");
				conn_audit(c, "upstream_error", "error", c->reason);
				conn_close(c, 1);
			}
			break;
		case CONN_HTTP:
		case CONN_RELAY:
		case CONN_MITM:
			if (c->hwait && now - c->t_hwait >= connect_ms) {
				conn_http_resolve_timeout(c);
			} else if (idle_ms > 0 && now - c->t_last >= idle_ms) {
				snprintf(c->reason, sizeof(c->reason), "idle timeout");
				conn_close(c, 0);
			} else if (total_ms > 0 && now - c->t_start >= total_ms) {
				snprintf(c->reason, sizeof(c->reason),
				    "forward_proxy.max_tunnel_seconds reached");
				conn_close(c, 0);
			}
			break;
		case CONN_CLOSING:
			if (now - c->t_state >= CLOSING_LINGER_MS)
				conn_close(c, 1);
			break;
		case CONN_ACCEPTED:
			break;
		}
	}
}
