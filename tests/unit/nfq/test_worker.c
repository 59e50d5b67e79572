/*
 * test_worker.c - the NFQUEUE worker against the real kernel.
 *
 * Needs root (skipped otherwise, with no assertions).  In a private network
 * namespace: the project's ruleset with NFQUEUE on (rules_apply, the xt or
 * native form the kernel has), a UDP "resolver" on 127.0.0.1:53 run by this
 * process, a dummy link for non-local destinations, the worker bound to the
 * queue, and a child process as agent uid 1000 sending real datagrams.
 * Checks what reached the resolver, what the agent saw, and that every
 * queued packet got exactly one verdict.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "core/config.h"
#include "core/policy.h"
#include "nfq/nfq.h"
#include "nfq/nfq_quic.h"
#include "rules/rules.h"

#define AGENT_UID	1000
#define QUEUE		7
#define WAIT_MS		700	/* agent's wait for an answer */
#define TEST_MAX_MS	30000	/* whole exchange */

static const char yaml[] =
    "version: 1\n"
    "fetch_proxy:\n"
    "  monitoring:\n"
    "    blocklist: [\"*.blocked.test\"]\n"
    "firewall:\n"
    "  agent_users: [\"1000\"]\n"
    "  queue_num: 7\n"
    "  fail_mode: closed\n"
    "  dns_servers: [\"127.0.0.1\"]\n"
    "  quic: inspect\n"
    "  allow_ip_cidrs: [\"198.18.77.9/32\"]\n";

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t
dns_query(uint8_t *b, const char *name, int extra_answer)
{
	size_t n = 12;
	const char *s = name;

	memset(b, 0, 12);
	b[0] = 0x42;
	b[2] = 0x01;
	b[5] = 1;
	b[7] = extra_answer ? 1 : 0;
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);

		b[n++] = (uint8_t)l;
		memcpy(b + n, s, l);
		n += l;
		s += l + (dot ? 1 : 0);
	}
	b[n++] = 0;
	b[n++] = 0;
	b[n++] = 1;
	b[n++] = 0;
	b[n++] = 1;
	return n;
}

static size_t
quic_initial(uint8_t *out, size_t outmax, const char *sni)
{
	static const uint8_t dcid[8] = { 0xaa, 1, 2, 3, 4, 5, 6, 7 };
	uint8_t ch[512], fr[600];
	size_t n = nfq_quic_make_hello(sni, 0, ch, sizeof(ch));

	n = nfq_quic_crypto_frame(ch, 0, n, fr, sizeof(fr));
	return (size_t)nfq_quic_seal_initial(dcid, 8, NULL, 0, 0, fr, n,
	    QUIC_INITIAL_MIN, out, outmax);
}

/*
 * A ClientHello for sni padded with pad bytes, its CRYPTO data cut at cut
 * and sealed into two Initial datagrams, d1 (packet 0) and d2 (packet 1).
 */
static void
quic_split(const char *sni, size_t pad, size_t cut, uint8_t *d1, size_t *n1,
    uint8_t *d2, size_t *n2)
{
	static const uint8_t dcid[8] = { 0xbb, 1, 2, 3, 4, 5, 6, 7 };
	uint8_t ch[2048], fr[2100];
	size_t n = nfq_quic_make_hello(sni, pad, ch, sizeof(ch)), f;

	f = nfq_quic_crypto_frame(ch, 0, cut, fr, sizeof(fr));
	*n1 = (size_t)nfq_quic_seal_initial(dcid, 8, NULL, 0, 0, fr, f,
	    QUIC_INITIAL_MIN, d1, 1500);
	f = nfq_quic_crypto_frame(ch, cut, n - cut, fr, sizeof(fr));
	*n2 = (size_t)nfq_quic_seal_initial(dcid, 8, NULL, 0, 1, fr, f,
	    QUIC_INITIAL_MIN, d2, 1500);
}

/*
 * Agent side: each case writes "name R MS" to fd: R = A (answer), E (error:
 * the firewall refused), T (nothing within WAIT_MS).
 */
static int ack_fd = -1;	/* agent side: the parent's go-ahead */

/*
 * Report a case and wait until the parent has read it (and the link
 * counters), so what left the host is attributed to the right case.
 */
static void
agent_report(int fd, const char *name, char res, uint64_t ms)
{
	char line[160], c;

	snprintf(line, sizeof(line), "%s %c %llu\n", name, res,
	    (unsigned long long)ms);
	if (write(fd, line, strlen(line)) == -1 || read(ack_fd, &c, 1) != 1)
		_exit(3);
}

/* Send on the connected socket s, wait for an answer or an error. */
static void
agent_send_on(int fd, const char *name, int s, const uint8_t *buf,
    size_t len)
{
	struct pollfd pfd;
	uint8_t rb[2048];
	uint64_t t0 = now_ms();
	char res = 'T';
	ssize_t n;

	if (send(s, buf, len, 0) == -1) {
		res = 'E';
	} else {
		pfd.fd = s;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, WAIT_MS) == 1) {
			n = recv(s, rb, sizeof(rb), 0);
			/* V: a QUIC Version Negotiation (long header, version 0) */
			res = n == -1 ? 'E' : n >= 5 && (rb[0] & 0x80) &&
			    rb[1] == 0 && rb[2] == 0 && rb[3] == 0 && rb[4] == 0 ?
			    'V' : 'A';
		}
	}
	agent_report(fd, name, res, now_ms() - t0);
}

static void
agent_send(int fd, const char *name, const char *ip, unsigned port,
    const uint8_t *buf, size_t len)
{
	struct sockaddr_in sin;
	int s;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ip, &sin.sin_addr);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s == -1 || connect(s, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		agent_report(fd, name, 'E', 0);
	else
		agent_send_on(fd, name, s, buf, len);
	if (s != -1)
		close(s);
}

static void
agent_main(int fd)
{
	uint8_t b[1500];
	size_t n;

	if (setgroups(0, NULL) == -1 || setgid(AGENT_UID) == -1 ||
	    setuid(AGENT_UID) == -1)
		_exit(2);
	n = dns_query(b, "allowed.test", 0);
	agent_send(fd, "dns_allowed", "127.0.0.1", 53, b, n);
	n = dns_query(b, "akia2e3r4t.5y6u7i8o9p.exfil.test", 0);
	agent_send(fd, "dns_secret", "127.0.0.1", 53, b, n);
	n = dns_query(b, "x.blocked.test", 0);
	agent_send(fd, "dns_blocklisted", "127.0.0.1", 53, b, n);
	n = dns_query(b, "malformed.test", 1);
	agent_send(fd, "dns_malformed", "127.0.0.1", 53, b, n);
	n = dns_query(b, "again.test", 0);
	agent_send(fd, "dns_after", "127.0.0.1", 53, b, n);
	n = quic_initial(b, sizeof(b), "allowed.test");
	agent_send(fd, "quic_allowed", "198.18.77.2", 443, b, n);
	n = quic_initial(b, sizeof(b), "evil.blocked.test");
	agent_send(fd, "quic_blocked", "198.18.77.2", 443, b, n);
	{
		/* one socket, two datagrams, the SNI cut in two */
		uint8_t d1[1500], d2[1500];
		size_t n1, n2;
		struct sockaddr_in sin;
		int s;

		quic_split("split.allowed.test", 1200, 60, d1, &n1, d2, &n2);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(443);
		inet_pton(AF_INET, "198.18.77.2", &sin.sin_addr);
		s = socket(AF_INET, SOCK_DGRAM, 0);
		if (s != -1 && connect(s, (struct sockaddr *)&sin,
		    sizeof(sin)) == 0 && send(s, d1, n1, 0) != -1) {
			usleep(100000);	/* the worker holds d1 meanwhile */
			agent_send_on(fd, "quic_split", s, d2, n2);
		} else {
			agent_report(fd, "quic_split", 'E', 0);
		}
		close(s);
	}
	memset(b, 'u', 40);	/* not QUIC: plain UDP */
	agent_send(fd, "udp_other", "198.18.77.2", 9999, b, 40);
	agent_send(fd, "udp_allowed", "198.18.77.9", 9999, b, 40);
	_exit(0);
}

struct outcome {
	char	name[32];
	char	res;
	unsigned ms;
	unsigned long rx;	/* packets that left through the veth so far */
};

/* RX packets of plfwq1 from /proc/net/dev (per network namespace). */
static unsigned long
veth_rx(void)
{
	FILE *f = fopen("/proc/net/dev", "r");
	char line[512];
	unsigned long bytes, n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *c = strstr(line, "plfwq1:");

		if (c != NULL && sscanf(c + 7, "%lu %lu", &bytes, &n) == 2)
			break;
	}
	fclose(f);
	return n;
}

int
main(void)
{
	char err[CONFIG_ERR_MAX], buf[4096], seen[2048] = "";
	struct config *cfg = NULL, *cfg_rules = NULL;
	struct policy *p = NULL;
	struct nfq_worker *w = NULL;
	struct nfq_stats st;
	struct outcome out[16];
	struct sockaddr_in sin;
	struct pollfd pfd[3];
	size_t nout = 0, blen = 0, i;
	uint64_t t_end;
	int pipefd[2], ackpipe[2], res_fd = -1, status, has_reject_rule = 0, one = 1;
	pid_t pid;
	FILE *mf;
	char *render = NULL;
	size_t render_len = 0;

	if (geteuid() != 0) {
		diag("skipped: needs root for a network namespace");
		return tap_done();
	}
	if (unshare(CLONE_NEWNET) == -1) {
		diag("skipped: unshare(CLONE_NEWNET): %s", strerror(errno));
		return tap_done();
	}
	/* A veth with static neighbours: non-local destinations that vanish. */
	if (system("ip link set lo up && "
	    "ip link add plfwq0 type veth peer name plfwq1 && "
	    "sysctl -qw net.ipv6.conf.plfwq0.disable_ipv6=1 && "
	    "sysctl -qw net.ipv6.conf.plfwq1.disable_ipv6=1 && "
	    "ip link set plfwq0 up && ip link set plfwq1 up && "
	    "ip addr add 198.18.77.1/24 dev plfwq0 && "
	    "ip neigh add 198.18.77.2 lladdr 02:00:00:00:77:02 dev plfwq0 && "
	    "ip neigh add 198.18.77.9 lladdr 02:00:00:00:77:09 dev plfwq0")
	    != 0) {
		ok(0, "namespace links");
		return tap_done();
	}
	if (!ok(config_load_buffer("worker.yaml", yaml, strlen(yaml), &cfg, err,
	    sizeof(err)) == 0 && config_load_buffer("worker.yaml", yaml,
	    strlen(yaml), &cfg_rules, err, sizeof(err)) == 0, "config loads"))
		diag("%s", err);
	if (cfg == NULL || cfg_rules == NULL)
		return tap_done();
	if ((mf = open_memstream(&render, &render_len)) != NULL) {
		rules_render(cfg_rules, RULES_F_NFQUEUE, mf);
		fclose(mf);
		has_reject_rule = render != NULL &&
		    strstr(render, "0x00400000") != NULL;
		free(render);
	}
	if (!ok(rules_apply(cfg_rules, RULES_F_NFQUEUE | RULES_F_QUIET |
	    RULES_F_NO_DESTROY) == 0, "ruleset with NFQUEUE applied"))
		return tap_done();
	w = nfq_worker_new(cfg, QUEUE, err, sizeof(err));
	if (!ok(w != NULL, "worker bound to queue %d", QUEUE)) {
		diag("%s", err);
		return tap_done();
	}
	if ((p = policy_new(cfg, err, sizeof(err))) == NULL) {
		ok(0, "policy: %s", err);
		return tap_done();
	}

	res_fd = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(res_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(53);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!ok(bind(res_fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "resolver on 127.0.0.1:53"))
		return tap_done();

	if (pipe(pipefd) == -1 || pipe(ackpipe) == -1 || (pid = fork()) == -1)
		return tap_done();
	if (pid == 0) {
		close(pipefd[0]);
		close(ackpipe[1]);
		ack_fd = ackpipe[0];
		nfq_worker_free(NULL);
		agent_main(pipefd[1]);
	}
	close(pipefd[1]);
	close(ackpipe[0]);

	pfd[0].fd = nfq_worker_fd(w);
	pfd[1].fd = res_fd;
	pfd[2].fd = pipefd[0];
	for (i = 0; i < 3; i++)
		pfd[i].events = POLLIN;
	t_end = now_ms() + TEST_MAX_MS;
	while (pfd[2].fd != -1 && now_ms() < t_end) {
		if (poll(pfd, 3, 200) <= 0)
			continue;
		if (pfd[0].revents & POLLIN)
			nfq_worker_handle(w, p);
		if (pfd[1].revents & POLLIN) {
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			uint8_t q[1500];
			ssize_t n = recvfrom(res_fd, q, sizeof(q), 0,
			    (struct sockaddr *)&from, &fl);

			if (n > 13) {
				/* record the first label, answer (QR=1) */
				size_t l = q[12] < 40 ? q[12] : 40;
				size_t sl = strlen(seen);

				if (sl + l + 2 < sizeof(seen)) {
					memcpy(seen + sl, q + 13, l);
					seen[sl + l] = ' ';
					seen[sl + l + 1] = '\0';
				}
				q[2] |= 0x80;
				sendto(res_fd, q, (size_t)n, 0,
				    (struct sockaddr *)&from, fl);
			}
		}
		if (pfd[2].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(pipefd[0], buf + blen,
			    sizeof(buf) - 1 - blen);

			if (n <= 0) {
				pfd[2].fd = -1;
			} else {
				char *nl, *s = buf;

				blen += (size_t)n;
				buf[blen] = '\0';
				while ((nl = strchr(s, '\n')) != NULL &&
				    nout < 16) {
					*nl = '\0';
					if (sscanf(s, "%31s %c %u", out[nout].name,
					    &out[nout].res, &out[nout].ms) == 3) {
						out[nout].rx = veth_rx();
						nout++;
					}
					if (write(ackpipe[1], "k", 1) != 1)
						diag("ack: %s", strerror(errno));
					s = nl + 1;
				}
				blen = strlen(s);
				memmove(buf, s, blen);
			}
		}
	}
	close(ackpipe[1]);
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "agent ran as uid %d",
	    AGENT_UID);
	is_int(nout, 10, "agent reported every case");
	for (i = 0; i < nout; i++) {
		const struct outcome *o = &out[i];

		diag("%s: %c in %u ms rx %lu", o->name, o->res, o->ms, o->rx);
		if (strcmp(o->name, "dns_allowed") == 0 ||
		    strcmp(o->name, "dns_after") == 0) {
			ok(o->res == 'A', "%s answered", o->name);
		} else if (strcmp(o->name, "dns_malformed") == 0) {
			ok(o->res == 'T', "%s silently dropped", o->name);
		} else if (strcmp(o->name, "quic_allowed") == 0 ||
		    strcmp(o->name, "udp_allowed") == 0 ||
		    strcmp(o->name, "quic_split") == 0) {
			/* into the veth: no answer, but no error */
			ok(o->res == 'T', "%s passed (no refusal)", o->name);
			is_int(o->rx - (i > 0 ? out[i - 1].rx : 0),
			    strcmp(o->name, "quic_split") == 0 ? 2 : 1,
			    "%s: its datagrams left the host", o->name);
		} else if (strcmp(o->name, "quic_blocked") == 0) {
			/* the worker's forged Version Negotiation comes first */
			ok((o->res == 'V' || o->res == 'E') && o->ms < 1000,
			    "%s refused fast (version negotiation)", o->name);
		} else if (has_reject_rule) {
			ok(o->res == 'E' && o->ms < 1000, "%s refused fast",
			    o->name);
		} else {
			ok(o->res != 'A', "%s not answered", o->name);
		}
	}
	if (!has_reject_rule)
		diag("the ruleset has no NFQ_MARK_REJECT rule yet: blocked "
		    "packets are dropped, fast refusal not tested");
	ok(strstr(seen, "allowed ") != NULL && strstr(seen, "again ") != NULL,
	    "resolver saw the allowed queries (%s)", seen);
	ok(strstr(seen, "akia") == NULL, "resolver never saw the secret");
	ok(strstr(seen, "x ") == NULL, "resolver never saw the blocklisted");
	ok(strstr(seen, "malformed") == NULL, "resolver never saw the "
	    "malformed query");
	nfq_worker_stats(w, &st);
	diag("stats: packets %lu accepted %lu dropped %lu rejected %lu "
	    "enobufs %lu errors %lu", st.packets, st.accepted, st.dropped,
	    st.rejected, st.enobufs, st.errors);
	is_int(st.packets, st.accepted + st.dropped + st.rejected,
	    "one verdict per queued packet");
	is_int(st.held, 0, "no packet left held");
	ok(st.accepted >= 4, "accepted: 2 DNS, QUIC, allowed UDP");
	is_int(st.errors, 0, "no netlink errors");

	nfq_worker_free(w);
	rules_remove();
	policy_unref(p);
	config_free(cfg_rules);
	close(res_fd);
	return tap_done();
}
