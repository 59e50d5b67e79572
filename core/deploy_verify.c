/*
 * deploy_verify.c - `pipelock-fw verify --as USER`: does this deployment
 * confine USER as the recipes promise?
 *
 * A child process becomes USER (setgroups/setgid/setuid: what an agent
 * started as USER has) and tries, from USER's side:
 *
 *   direct TCP       connect to --probe (default: the target).  It must fail,
 *                    or be intercepted: the peer of the connected socket is
 *                    a socket in this network namespace (the engine's
 *                    TPROXY-accepted socket, whose local address is the
 *                    original destination), found with sock_diag, which
 *                    needs no privilege.  A peer elsewhere = a direct path.
 *   through engine   an HTTP GET to --target (transparently, or through
 *                    --proxy) gets an answer that is not a pipelock block;
 *                    transparently it must also have been intercepted.
 *   fake key         the same GET carrying `?k=sk-ant-api03-...` gets 403.
 *   direct UDP/DNS   a DNS query to --udp-probe, a public resolver not in
 *                    firewall.dns_servers (one that would answer), must fail
 *                    or go unanswered.
 *
 * The parent (root) resolves names first (so the checks do not depend on
 * USER's DNS), then looks for ways around any host firewall: groups that
 * lead to root or to containers, file capabilities on programs in PATH,
 * resolvers reachable over IPC (their queries leave under their own uid),
 * and whether USER is an agent of the installed table at all.
 *
 * Exit: 0 every check passed, 1 one failed, 2 usage or config error.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/config.h"
#include "core/sockdiag.h"
#include "rules/rules.h"
#include "rules/rules_nft.h"

#define VERIFY_DEFAULT_TARGET	"example.com:80"
#define VERIFY_DEFAULT_TIMEOUT	5	/* seconds, per network check */
#define VERIFY_UDP_WAIT_MAX	3	/* seconds to wait for a DNS answer */
#define VERIFY_PEER_WAIT_MS	1000	/* for the intercepting socket */
#define VERIFY_RESP_MAX		4096	/* bytes of an HTTP answer kept */
#define VERIFY_MAX_GROUPS	256
#define VERIFY_MAX_DIRS		32
#define VERIFY_DEFAULT_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:" \
				"/usr/bin:/sbin:/bin"
#define VERIFY_MAX_IDS		4096
/* "sk-ant-api03-" + 40 characters: the recipes' fake Anthropic key */
#define VERIFY_FAKE_KEY		"sk-ant-api03-pipelockfwVerifyFakeKey0123456789abcdefg"

/* Public resolvers that answer anyone: the direct-DNS exfil channel. */
static const char *const udp_candidates[] = { "9.9.9.9", "1.1.1.1",
    "8.8.8.8" };

/* Groups whose members can get around any host firewall. */
static const struct {
	const char	*name;
	const char	*why;
} risky_groups[] = {
	{ "docker", "can start privileged containers outside the firewall" },
	{ "lxd", "can start privileged containers outside the firewall" },
	{ "incus-admin", "can start privileged containers outside the "
	    "firewall" },
	{ "libvirt", "can start VMs with their own network" },
	{ "sudo", "can become root" },
	{ "wheel", "can become root" },
	{ "admin", "can become root" },
	{ "disk", "can write raw disks (and so any file)" },
};

/* File capabilities that open a way around the firewall. */
static const struct {
	cap_value_t	 cap;
	const char	*name;
} risky_caps[] = {
	{ CAP_NET_ADMIN, "cap_net_admin" },
	{ CAP_SYS_ADMIN, "cap_sys_admin" },
	{ CAP_SETUID, "cap_setuid" },
	{ CAP_SETGID, "cap_setgid" },
	{ CAP_SETPCAP, "cap_setpcap" },
	{ CAP_DAC_OVERRIDE, "cap_dac_override" },
	{ CAP_SYS_PTRACE, "cap_sys_ptrace" },
	{ CAP_SYS_MODULE, "cap_sys_module" },
	{ CAP_CHOWN, "cap_chown" },
	{ CAP_FOWNER, "cap_fowner" },
	{ CAP_SYS_RAWIO, "cap_sys_rawio" },
};

struct endpoint {
	char			 host[256];
	uint16_t		 port;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			 shown[INET6_ADDRSTRLEN + 16]; /* addr:port */
};

struct verify_opts {
	const char	*as;
	const char	*config;
	const char	*target;
	const char	*probe;
	const char	*udp_probe;
	const char	*proxy;
	const char	*path;		/* the agent's PATH, colon-separated */
	unsigned	 timeout_s;
};

struct verify_ctx {
	struct verify_opts o;
	uid_t		 uid;
	gid_t		 gid;
	char		 user[64];
	int		 have_pw;
	struct endpoint	 target, probe, udp, proxy;
	int		 use_proxy;
	int		 passed, failed, warnings;
};

static void
verify_usage(FILE *f)
{
	fprintf(f, "Usage: %s verify --as USER [--config FILE] [--target "
	    "HOST:PORT] [--probe HOST:PORT]\n"
	    "                 [--udp-probe HOST:PORT] [--proxy HOST:PORT] "
	    "[--timeout SECONDS] [--path DIRS]\n\n"
	    "Run the isolation checks as USER (an agent) and print a pass/fail "
	    "table;\nexit 0 only if every check passes.  Needs root (to become "
	    "USER).\n"
	    "  --target HOST:PORT     an HTTP server the engine allows "
	    "(default %s)\n"
	    "  --probe HOST:PORT      direct TCP must fail or be intercepted "
	    "(default: target)\n"
	    "  --udp-probe HOST:PORT  a DNS server that is not a configured "
	    "resolver\n"
	    "                         (default: the first of 9.9.9.9, "
	    "1.1.1.1, 8.8.8.8 that is\n"
	    "                         not in firewall.dns_servers, port 53)\n"
	    "  --proxy HOST:PORT      send the HTTP checks through this "
	    "explicit proxy\n"
	    "                         (docker-compose recipe) instead of "
	    "transparently\n"
	    "  --path DIRS            the agent's PATH, searched for programs "
	    "with file\n"
	    "                         capabilities (default %s,\n"
	    "                         plus ~/.local/bin and ~/bin)\n"
	    "  --timeout SECONDS      per network check (default %d)\n",
	    progname, VERIFY_DEFAULT_TARGET, VERIFY_DEFAULT_PATH,
	    VERIFY_DEFAULT_TIMEOUT);
}

/* --- endpoints -------------------------------------------------------------- */

/* Split "host:port" / "[v6]:port" and resolve (first address).  -1 + msg. */
static int
endpoint_resolve(const char *spec, int socktype, struct endpoint *ep)
{
	struct addrinfo hints, *res = NULL;
	const char *colon, *h = spec;
	char port[8], a[INET6_ADDRSTRLEN];
	size_t hl;
	char *end;
	unsigned long p;
	int r;

	memset(ep, 0, sizeof(*ep));
	if ((colon = strrchr(spec, ':')) == NULL)
		goto bad;
	hl = (size_t)(colon - spec);
	if (spec[0] == '[') {
		if (hl < 2 || spec[hl - 1] != ']')
			goto bad;
		h = spec + 1;
		hl -= 2;
	}
	p = strtoul(colon + 1, &end, 10);
	if (hl == 0 || hl >= sizeof(ep->host) || *end != '\0' || p == 0 ||
	    p > 65535)
		goto bad;
	memcpy(ep->host, h, hl);
	ep->host[hl] = '\0';
	ep->port = (uint16_t)p;
	snprintf(port, sizeof(port), "%u", ep->port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = socktype;
	if ((r = getaddrinfo(ep->host, port, &hints, &res)) != 0) {
		fprintf(stderr, "%s verify: %s: %s\n", progname, ep->host,
		    gai_strerror(r));
		return -1;
	}
	memcpy(&ep->addr, res->ai_addr, res->ai_addrlen);
	ep->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	if (ep->addr.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ep->addr)->
		    sin6_addr, a, sizeof(a));
		snprintf(ep->shown, sizeof(ep->shown), "[%s]:%u", a, ep->port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ep->addr)->sin_addr,
		    a, sizeof(a));
		snprintf(ep->shown, sizeof(ep->shown), "%s:%u", a, ep->port);
	}
	return 0;
bad:
	fprintf(stderr, "%s verify: `%s': want HOST:PORT or [V6]:PORT\n",
	    progname, spec);
	return -1;
}

/* The first candidate public resolver that is not a configured one. */
static const char *
udp_default(const struct config *cfg)
{
	size_t i, j;
	int listed;

	for (i = 0; i < sizeof(udp_candidates) / sizeof(udp_candidates[0]);
	    i++) {
		listed = 0;
		for (j = 0; j < cfg->fw.dns_servers.n; j++)
			listed |= strcmp(cfg->fw.dns_servers.v[j],
			    udp_candidates[i]) == 0;
		if (!listed)
			return udp_candidates[i];
	}
	return "198.51.100.53";	/* TEST-NET-2: nothing answers there */
}

/* --- the checks (run as USER) ----------------------------------------------- */

static void
row(struct verify_ctx *v, const char *check, int pass, const char *detail)
{
	printf("  %-34s %-6s %s\n", check, pass ? "PASS" : "FAIL", detail);
	fflush(stdout);
	if (pass)
		v->passed++;
	else
		v->failed++;
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Non-blocking connect with a deadline.  Returns the fd, or -1 with *err
 * the errno (ETIMEDOUT when nothing answered).
 */
static int
tcp_connect(const struct endpoint *ep, unsigned timeout_s, int *err)
{
	struct pollfd pfd;
	socklen_t sl = sizeof(*err);
	int fd, r;

	*err = 0;
	if ((fd = socket(ep->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		*err = errno;
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&ep->addr, ep->addrlen) ==
	    -1 && errno != EINPROGRESS) {
		*err = errno;
		goto fail;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do
		r = poll(&pfd, 1, (int)timeout_s * 1000);
	while (r == -1 && errno == EINTR);
	if (r <= 0) {
		*err = r == 0 ? ETIMEDOUT : errno;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &sl) == -1)
		*err = errno;
	if (*err != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/*
 * 1 if the peer of connected fd is a socket in this network namespace
 * whose local address is dst (what TPROXY hands the engine), 0 if not.
 * The engine's socket may still be in its accept queue: poll briefly.
 */
static int
intercepted(int fd, const struct endpoint *dst, uid_t *owner)
{
	struct sockaddr_storage local;
	struct sockdiag_owner own;
	socklen_t sl = sizeof(local);
	long end = now_ms() + VERIFY_PEER_WAIT_MS;
	struct timespec pause = { 0, 20 * 1000 * 1000 };

	if (getsockname(fd, (struct sockaddr *)&local, &sl) == -1)
		return 0;
	for (;;) {
		if (sockdiag_owner_find((const struct sockaddr *)&dst->addr,
		    (const struct sockaddr *)&local, IPPROTO_TCP, &own) == 0) {
			*owner = own.uid;
			return 1;
		}
		if (now_ms() >= end)
			return 0;
		nanosleep(&pause, NULL);
	}
}

static void
check_direct(struct verify_ctx *v)
{
	char name[96], detail[256];
	uid_t owner;
	int fd, err;

	snprintf(name, sizeof(name), "direct TCP to %s", v->probe.shown);
	if ((fd = tcp_connect(&v->probe, v->o.timeout_s, &err)) == -1) {
		if (err == ETIMEDOUT)
			snprintf(detail, sizeof(detail), "no answer in %us "
			    "(dropped)", v->o.timeout_s);
		else
			snprintf(detail, sizeof(detail), "refused: %s",
			    strerror(err));
		row(v, name, 1, detail);
		return;
	}
	if (intercepted(fd, &v->probe, &owner)) {
		snprintf(detail, sizeof(detail), "intercepted: the peer is a "
		    "local socket of uid %u (the engine)", (unsigned)owner);
		row(v, name, 1, detail);
	} else
		row(v, name, 0, "connected straight to the destination: "
		    "nothing intercepts it");
	close(fd);
}

/*
 * GET path from the target, directly (the firewall may intercept) or
 * through the proxy.  Returns the status (>0), or -1 with detail set.
 * *via_engine: 1 if the connection was intercepted or went to the proxy.
 */
static int
http_get(struct verify_ctx *v, const char *path, int *via_engine,
    char *body, size_t bodylen, char *detail, size_t dlen)
{
	const struct endpoint *ep = v->use_proxy ? &v->proxy : &v->target;
	char req[1024], resp[VERIFY_RESP_MAX + 1], hostport[300];
	const char *b, *nl;
	struct pollfd pfd;
	size_t got = 0;
	ssize_t n;
	long end;
	uid_t owner;
	int fd, err, status = -1, r;

	*via_engine = 0;
	body[0] = '\0';
	snprintf(hostport, sizeof(hostport), strchr(v->target.host, ':') ?
	    "[%s]:%u" : "%s:%u", v->target.host, v->target.port);
	if ((fd = tcp_connect(ep, v->o.timeout_s, &err)) == -1) {
		snprintf(detail, dlen, "connect %s: %s", ep->shown,
		    strerror(err));
		return -1;
	}
	*via_engine = v->use_proxy || intercepted(fd, ep, &owner);
	if (v->use_proxy)
		snprintf(req, sizeof(req), "GET http://%s%s HTTP/1.1\r\n"
		    "Host: %s\r\nUser-Agent: pipelock-fw-verify\r\n"
		    "Connection: close\r\n\r\n", hostport, path, hostport);
	else
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n"
		    "User-Agent: pipelock-fw-verify\r\nConnection: close\r\n\r\n",
		    path, v->target.port == 80 ? v->target.host : hostport);
	/* a small request on a fresh socket: one send fits the buffer */
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		snprintf(detail, dlen, "send: %s", strerror(errno));
		goto cleanup;
	}
	end = now_ms() + (long)v->o.timeout_s * 1000;
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (got < VERIFY_RESP_MAX && now_ms() < end) {
		r = poll(&pfd, 1, (int)(end - now_ms()));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n = recv(fd, resp + got, VERIFY_RESP_MAX - got, 0);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			if (n == -1 && got == 0) {
				snprintf(detail, dlen, "no answer: %s",
				    strerror(errno));
				goto cleanup;
			}
			break;
		}
		got += (size_t)n;
		resp[got] = '\0';
		/* the status line and the start of the body are enough */
		if ((b = strstr(resp, "\r\n\r\n")) != NULL &&
		    strchr(b + 4, '\n') != NULL)
			break;
	}
	resp[got] = '\0';
	if (got == 0 || sscanf(resp, "HTTP/%*d.%*d %d", &status) != 1 ||
	    status < 100 || status > 999) {
		snprintf(detail, dlen, got == 0 ? "closed without an answer" :
		    "not an HTTP answer");
		status = -1;
		goto cleanup;
	}
	if ((b = strstr(resp, "\r\n\r\n")) != NULL) {
		b += 4;
		nl = strchr(b, '\n');
		snprintf(body, bodylen, "%.*s", (int)(nl != NULL ? nl - b :
		    (long)strlen(b)), b);
	}
	snprintf(detail, dlen, "HTTP %d", status);
cleanup:
	close(fd);
	return status;
}

static int
pipelock_block(int status, const char *body)
{
	/* the transparent engine's answer; the proxy's may be JSON */
	return status == 403 && (strstr(body, "pipelock") != NULL ||
	    strstr(body, "\"blocked\"") != NULL);
}

static void
check_engine(struct verify_ctx *v)
{
	char body[256], detail[512], d[128];
	int status, via;

	status = http_get(v, "/", &via, body, sizeof(body), d, sizeof(d));
	if (status == -1)
		snprintf(detail, sizeof(detail), "%s", d);
	else if (pipelock_block(status, body))
		snprintf(detail, sizeof(detail), "blocked (%s): choose a target "
		    "the policy allows", body);
	else if (!via)
		snprintf(detail, sizeof(detail), "HTTP %d, but straight from "
		    "the server, not through the engine", status);
	else
		snprintf(detail, sizeof(detail), "HTTP %d from %s:%u", status,
		    v->target.host, v->target.port);
	row(v, "request through the engine", status != -1 && via &&
	    !pipelock_block(status, body), detail);
}

static void
check_fake_key(struct verify_ctx *v)
{
	char body[256], detail[512], d[128];
	int status, via;

	status = http_get(v, "/?k=" VERIFY_FAKE_KEY, &via, body, sizeof(body),
	    d, sizeof(d));
	if (status == 403)
		snprintf(detail, sizeof(detail), "HTTP 403%s%s", body[0] ?
		    ": " : "", body);
	else if (status == -1)
		snprintf(detail, sizeof(detail), "%s", d);
	else
		snprintf(detail, sizeof(detail), "HTTP %d: the key went "
		    "through uninspected", status);
	row(v, "request with a fake API key", status == 403, detail);
}

/* A DNS query for verify.pipelock-fw.example, type A; its length. */
static size_t
dns_query(unsigned char *q, size_t max)
{
	static const char *const labels[] = { "verify", "pipelock-fw",
	    "example" };
	size_t n = 12, i, l;

	memset(q, 0, 12);
	q[0] = 0x51;		/* id */
	q[1] = 0x7f;
	q[2] = 0x01;		/* RD */
	q[5] = 1;		/* QDCOUNT */
	for (i = 0; i < 3; i++) {
		l = strlen(labels[i]);
		if (n + l + 6 > max)
			return 0;
		q[n++] = (unsigned char)l;
		memcpy(q + n, labels[i], l);
		n += l;
	}
	q[n++] = 0;
	q[n++] = 0;
	q[n++] = 1;		/* QTYPE A */
	q[n++] = 0;
	q[n++] = 1;		/* QCLASS IN */
	return n;
}

static void
check_udp(struct verify_ctx *v)
{
	unsigned char q[128], a[512];
	char name[96], detail[256];
	struct pollfd pfd;
	unsigned wait_s;
	size_t qlen;
	ssize_t n;
	int fd, r;

	snprintf(name, sizeof(name), "direct UDP/DNS to %s", v->udp.shown);
	qlen = dns_query(q, sizeof(q));
	if ((fd = socket(v->udp.addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC,
	    0)) == -1) {
		snprintf(detail, sizeof(detail), "socket: %s", strerror(errno));
		row(v, name, 1, detail);
		return;
	}
	if (connect(fd, (const struct sockaddr *)&v->udp.addr,
	    v->udp.addrlen) == -1 || send(fd, q, qlen, 0) == -1) {
		snprintf(detail, sizeof(detail), "refused: %s",
		    strerror(errno));
		row(v, name, 1, detail);
		close(fd);
		return;
	}
	wait_s = v->o.timeout_s < VERIFY_UDP_WAIT_MAX ? v->o.timeout_s :
	    VERIFY_UDP_WAIT_MAX;
	pfd.fd = fd;
	pfd.events = POLLIN;
	do
		r = poll(&pfd, 1, (int)wait_s * 1000);
	while (r == -1 && errno == EINTR);
	if (r <= 0) {
		snprintf(detail, sizeof(detail), "no answer in %us (dropped)",
		    wait_s);
		row(v, name, 1, detail);
	} else if ((n = recv(fd, a, sizeof(a), 0)) >= 0) {
		snprintf(detail, sizeof(detail), "answered (%zd bytes): DNS "
		    "leaves directly", n);
		row(v, name, 0, detail);
	} else if (errno == EPERM || errno == EACCES) {
		snprintf(detail, sizeof(detail), "refused: %s",
		    strerror(errno));
		row(v, name, 1, detail);
	} else {
		/* e.g. ECONNREFUSED: an ICMP error came back from the probe */
		snprintf(detail, sizeof(detail), "the datagram left (%s came "
		    "back)", strerror(errno));
		row(v, name, 0, detail);
	}
	close(fd);
}

/* Become USER for good: groups, gid, uid (clears every capability). */
static int
become(const struct verify_ctx *v)
{
	if (v->have_pw ? initgroups(v->user, v->gid) == -1 :
	    setgroups(0, NULL) == -1)
		return -1;
	if (setgid(v->gid) == -1 || setuid(v->uid) == -1)
		return -1;
	if (setuid(0) != -1)	/* must be impossible now */
		return -1;
	return 0;
}

/* The child: run the four checks as USER; exit 0 when all pass. */
static void
run_checks(struct verify_ctx *v)
{
	if (become(v) == -1) {
		fprintf(stderr, "%s verify: cannot become uid %u: %s\n",
		    progname, (unsigned)v->uid, strerror(errno));
		_exit(EXIT_USAGE);
	}
	check_direct(v);
	check_engine(v);
	check_fake_key(v);
	check_udp(v);
	fflush(stdout);
	_exit(v->failed == 0 ? EXIT_ALLOWED : EXIT_BLOCKED);
}

/* --- warnings (as root) ----------------------------------------------------- */

static void warn(struct verify_ctx *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
warn(struct verify_ctx *v, const char *fmt, ...)
{
	va_list ap;

	printf("  warning: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	v->warnings++;
}

static void
warn_groups(struct verify_ctx *v)
{
	gid_t groups[VERIFY_MAX_GROUPS];
	int n = VERIFY_MAX_GROUPS, i;
	struct group *gr;
	size_t k;

	if (!v->have_pw)
		return;
	if (getgrouplist(v->user, v->gid, groups, &n) == -1)
		n = VERIFY_MAX_GROUPS;
	for (i = 0; i < n; i++) {
		if ((gr = getgrgid(groups[i])) == NULL)
			continue;
		for (k = 0; k < sizeof(risky_groups) / sizeof(risky_groups[0]);
		    k++)
			if (strcmp(gr->gr_name, risky_groups[k].name) == 0)
				warn(v, "in group %s: %s", gr->gr_name,
				    risky_groups[k].why);
	}
}

/* Programs in dir with a risky capability in their permitted set. */
static void
warn_caps_dir(struct verify_ctx *v, const char *dir)
{
	char path[PATH_MAX], list[256];
	struct dirent *de;
	cap_flag_value_t fv;
	struct stat st;
	size_t k, l;
	DIR *d;
	cap_t caps;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		/* symlinks: their targets are in PATH too, or not programs */
		if (lstat(path, &st) == -1 || !S_ISREG(st.st_mode))
			continue;
		if ((caps = cap_get_file(path)) == NULL)
			continue;
		list[0] = '\0';
		for (k = 0; k < sizeof(risky_caps) / sizeof(risky_caps[0]);
		    k++) {
			if (cap_get_flag(caps, risky_caps[k].cap, CAP_PERMITTED,
			    &fv) == 0 && fv == CAP_SET) {
				l = strlen(list);
				snprintf(list + l, sizeof(list) - l, "%s%s",
				    l ? "," : "", risky_caps[k].name);
			}
		}
		cap_free(caps);
		if (list[0] != '\0')
			warn(v, "%s has file capabilities %s: a way around "
			    "the firewall", path, list);
	}
	closedir(d);
}

static void
warn_caps(struct verify_ctx *v, const char *home)
{
	struct { dev_t dev; ino_t ino; } seen[VERIFY_MAX_DIRS];
	char extra[2][PATH_MAX], *dirs = NULL, *d, *save = NULL;
	const char *list[VERIFY_MAX_DIRS];
	size_t n = 0, nseen = 0, i, j;
	struct stat st;
	int dup;

	if ((dirs = strdup(v->o.path)) == NULL)
		return;
	for (d = strtok_r(dirs, ":", &save); d != NULL && n + 2 <
	    VERIFY_MAX_DIRS; d = strtok_r(NULL, ":", &save))
		list[n++] = d;
	if (home != NULL) {
		snprintf(extra[0], sizeof(extra[0]), "%.4000s/.local/bin", home);
		snprintf(extra[1], sizeof(extra[1]), "%.4000s/bin", home);
		list[n++] = extra[0];
		list[n++] = extra[1];
	}
	/* merged /usr: /bin is /usr/bin; scan each directory once */
	for (i = 0; i < n; i++) {
		if (stat(list[i], &st) == -1)
			continue;
		for (dup = 0, j = 0; j < nseen; j++)
			dup |= seen[j].dev == st.st_dev && seen[j].ino ==
			    st.st_ino;
		if (dup)
			continue;
		seen[nseen].dev = st.st_dev;
		seen[nseen++].ino = st.st_ino;
		warn_caps_dir(v, list[i]);
	}
	free(dirs);
}

/* Resolvers reachable over IPC send their queries under their own uid. */
static void
warn_resolvers(struct verify_ctx *v)
{
	char line[256], ns[64];
	FILE *f;

	if (access("/run/systemd/resolve/io.systemd.Resolve", F_OK) == 0)
		warn(v, "systemd-resolved's varlink socket %s (and its D-Bus "
		    "API) resolve names for %s; the queries leave as "
		    "systemd-resolve's uid, outside the firewall",
		    "/run/systemd/resolve/io.systemd.Resolve", v->user);
	if ((f = fopen("/etc/resolv.conf", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, " nameserver %63s", ns) == 1 &&
			    strncmp(ns, "127.", 4) == 0) {
				warn(v, "/etc/resolv.conf points at the local "
				    "resolver %s: its upstream queries are not "
				    "the agent's and are not inspected as "
				    "such", ns);
				break;
			}
		fclose(f);
	}
	if (access("/run/nscd/socket", F_OK) == 0)
		warn(v, "nscd (%s) resolves host names for %s under its own "
		    "uid", "/run/nscd/socket", v->user);
}

static int
id_listed(const uint32_t *ids, int n, uint32_t id)
{
	int i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* Is USER an agent of the table installed in this namespace? */
static void
warn_table(struct verify_ctx *v)
{
	static uint32_t uids[VERIFY_MAX_IDS], gids[VERIFY_MAX_IDS];
	int r, nu, ng;

	if ((r = rules_installed()) != 1) {
		printf("  note: %s\n", r == 0 ? "no table inet " RULES_TABLE_NAME
		    " in this network namespace: isolation must come from the "
		    "network (explicit proxy recipe)" : "cannot read nftables");
		return;
	}
	nu = rules_nft_set_u32("agent_uids", uids, VERIFY_MAX_IDS);
	ng = rules_nft_set_u32("agent_gids", gids, VERIFY_MAX_IDS);
	if (nu == -1 && ng == -1) {
		printf("  note: cannot read the agent sets of table inet "
		    RULES_TABLE_NAME "\n");
		return;
	}
	if (!id_listed(uids, nu, v->uid) && !id_listed(gids, ng, v->gid)) {
		warn(v, "uid %u (%s) is not an agent of the installed table: "
		    "the firewall does not confine it", (unsigned)v->uid,
		    v->user);
	}
}

/* --- main ------------------------------------------------------------------- */

static int
opts_parse(int argc, char **argv, struct verify_opts *o)
{
	static const struct option longopts[] = {
		{ "as", required_argument, NULL, 'a' },
		{ "config", required_argument, NULL, 'c' },
		{ "target", required_argument, NULL, 't' },
		{ "probe", required_argument, NULL, 'p' },
		{ "udp-probe", required_argument, NULL, 'u' },
		{ "proxy", required_argument, NULL, 'x' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "path", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long n;
	int ch;

	memset(o, 0, sizeof(*o));
	o->target = VERIFY_DEFAULT_TARGET;
	o->timeout_s = VERIFY_DEFAULT_TIMEOUT;
	o->path = VERIFY_DEFAULT_PATH;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			o->as = optarg;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 't':
			o->target = optarg;
			break;
		case 'p':
			o->probe = optarg;
			break;
		case 'u':
			o->udp_probe = optarg;
			break;
		case 'x':
			o->proxy = optarg;
			break;
		case 'P':
			o->path = optarg;
			break;
		case 'T':
			if (cli_parse_long(optarg, 1, 60, &n) == -1)
				return -1;
			o->timeout_s = (unsigned)n;
			break;
		case 'h':
			return 1;
		default:
			return -1;
		}
	}
	return optind == argc && o->as != NULL ? 0 : -1;
}

/* USER as a name or a numeric uid (which need not have a passwd entry). */
static int
user_resolve(struct verify_ctx *v, const char **home)
{
	struct passwd *pw;
	unsigned long id;
	char *end;

	*home = NULL;
	errno = 0;
	id = strtoul(v->o.as, &end, 10);
	if (*v->o.as != '\0' && *end == '\0' && errno == 0 &&
	    id < UINT32_MAX)
		pw = getpwuid((uid_t)id);
	else if ((pw = getpwnam(v->o.as)) == NULL) {
		fprintf(stderr, "%s verify: --as: no such user `%s'\n",
		    progname, v->o.as);
		return -1;
	} else
		id = pw->pw_uid;
	v->uid = (uid_t)id;
	v->gid = pw != NULL ? pw->pw_gid : (gid_t)id;
	v->have_pw = pw != NULL;
	snprintf(v->user, sizeof(v->user), "%s", pw != NULL ? pw->pw_name :
	    v->o.as);
	if (pw != NULL)
		*home = pw->pw_dir;
	if (v->uid == 0) {
		fprintf(stderr, "%s verify: --as root proves nothing: root is "
		    "never an agent\n", progname);
		return -1;
	}
	return 0;
}

int
verify_main(int argc, char **argv)
{
	struct verify_ctx v;
	struct config *cfg = NULL;
	char err[CONFIG_ERR_MAX], udp[300], home[PATH_MAX];
	const char *h;
	pid_t pid;
	int r, status, ret = EXIT_USAGE;

	memset(&v, 0, sizeof(v));
	if ((r = opts_parse(argc, argv, &v.o)) != 0) {
		verify_usage(r == 1 ? stdout : stderr);
		return r == 1 ? EXIT_ALLOWED : EXIT_USAGE;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "%s verify: run as root (it becomes USER for "
		    "the checks)\n", progname);
		return EXIT_USAGE;
	}
	if (user_resolve(&v, &h) == -1)
		return EXIT_USAGE;
	snprintf(home, sizeof(home), "%s", h != NULL ? h : "");
	if (config_load(v.o.config, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err);
		return EXIT_USAGE;
	}
	snprintf(udp, sizeof(udp), "%s:53", udp_default(cfg));
	if (endpoint_resolve(v.o.target, SOCK_STREAM, &v.target) == -1 ||
	    endpoint_resolve(v.o.probe != NULL ? v.o.probe : v.o.target,
	    SOCK_STREAM, &v.probe) == -1 ||
	    endpoint_resolve(v.o.udp_probe != NULL ? v.o.udp_probe : udp,
	    SOCK_DGRAM, &v.udp) == -1 ||
	    (v.o.proxy != NULL && endpoint_resolve(v.o.proxy, SOCK_STREAM,
	    &v.proxy) == -1))
		goto cleanup;
	v.use_proxy = v.o.proxy != NULL;

	printf("pipelock-fw verify: as %s (uid %u, gid %u), target %s:%u "
	    "(%s), %s\n", v.user, (unsigned)v.uid, (unsigned)v.gid,
	    v.target.host, v.target.port, v.target.shown, v.use_proxy ?
	    v.proxy.shown : "transparent");
	printf("  %-34s %-6s %s\n", "CHECK", "RESULT", "DETAIL");
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		fprintf(stderr, "%s verify: fork: %s\n", progname,
		    strerror(errno));
		ret = EXIT_BLOCKED;
		goto cleanup;
	}
	if (pid == 0)
		run_checks(&v);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			status = EXIT_BLOCKED << 8;
			break;
		}

	printf("ways around the firewall:\n");
	warn_table(&v);
	warn_groups(&v);
	warn_caps(&v, home[0] != '\0' ? home : NULL);
	warn_resolvers(&v);
	if (v.warnings == 0)
		printf("  none found\n");
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_ALLOWED) {
		printf("verify: PASS (all checks passed; %d warning%s)\n",
		    v.warnings, v.warnings == 1 ? "" : "s");
		ret = EXIT_ALLOWED;
	} else {
		printf("verify: FAIL\n");
		ret = WIFEXITED(status) && WEXITSTATUS(status) == EXIT_USAGE ?
		    EXIT_USAGE : EXIT_BLOCKED;
	}
cleanup:
	config_free(cfg);
	return ret;
}
