/*
 * sockdiag.c - socket owners and closing sockets through NETLINK_SOCK_DIAG.
 *
 * inet_diag answers "which socket has this 4-tuple" with the owner's uid and
 * the socket inode; /proc maps an inode to a pid (slow, callers cache).
 * SOCK_DESTROY lets `firewall apply` close connections an agent opened
 * before the rules existed, so they cannot keep talking unexamined.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "core/sockdiag.h"

#define TCPF_ALL_BUT_LISTEN	(0xfff & ~(1u << TCP_LISTEN))

static void
sockaddr_to_diag(const struct sockaddr *sa, __be16 *port, __be32 addr[4])
{
	memset(addr, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		*port = in->sin_port;
		memcpy(addr, &in->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		*port = in6->sin6_port;
		memcpy(addr, &in6->sin6_addr, 16);
	}
}

static void
diag_to_sockaddr(int family, __be16 port, const __be32 addr[4],
    struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = port;
		memcpy(&in->sin_addr, addr, 4);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = port;
		memcpy(&in6->sin6_addr, addr, 16);
	}
}

int
sockdiag_nl_talk(int bus, const struct nlmsghdr *req, mnl_cb_t cb,
    void *arg)
{
	struct mnl_socket *nl;
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];
	uint32_t portid;
	ssize_t n;
	int ret = -EIO, r;

	if ((nl = mnl_socket_open(bus)) == NULL)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1 ||
	    mnl_socket_sendto(nl, req, req->nlmsg_len) == -1) {
		ret = -errno;
		goto cleanup;
	}
	portid = mnl_socket_get_portid(nl);
	while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		if ((r = mnl_cb_run(buf, (size_t)n, req->nlmsg_seq, portid, cb,
		    arg)) == -1) {
			ret = -errno;
			goto cleanup;
		}
		if (r == MNL_CB_STOP)
			break;
	}
	if (n == -1) {
		ret = -errno;
		goto cleanup;
	}
	ret = 0;
cleanup:
	mnl_socket_close(nl);
	return ret;
}

/* One inet_diag request; every reply through cb.  0, or -errno. */
static int
diag_talk(uint16_t type, uint16_t flags, const struct inet_diag_req_v2 *req,
    mnl_cb_t cb, void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct inet_diag_req_v2 *r;

	memset(buf, 0, sizeof(buf));	/* no uninitialised bytes reach the kernel */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
	*r = *req;
	return sockdiag_nl_talk(NETLINK_SOCK_DIAG, nlh, cb, arg);
}

struct walk {
	int	 family;
	int	 proto;
	int	(*fn)(const struct sockdiag_sock *, void *);
	void	*arg;
	int	 found;
};

static int
diag_cb(const struct nlmsghdr *nlh, void *data)
{
	struct walk *w = data;
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct sockdiag_sock s;

	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY)
		return MNL_CB_OK;
	memset(&s, 0, sizeof(s));
	s.family = m->idiag_family;
	s.proto = w->proto;
	s.state = m->idiag_state;
	s.uid = m->idiag_uid;
	s.inode = m->idiag_inode;
	s.cookie[0] = m->id.idiag_cookie[0];
	s.cookie[1] = m->id.idiag_cookie[1];
	diag_to_sockaddr(s.family, m->id.idiag_sport, m->id.idiag_src, &s.src);
	diag_to_sockaddr(s.family, m->id.idiag_dport, m->id.idiag_dst, &s.dst);
	w->found = 1;
	if (w->fn != NULL && w->fn(&s, w->arg) == -1)
		return MNL_CB_STOP;
	return MNL_CB_OK;
}

/*
 * The owner lookup runs for every intercepted connection: opening, binding
 * and closing a netlink socket each time was ~6 % of the engine's CPU on a
 * connection-per-request load.  Each thread keeps one socket instead and
 * asks without NLM_F_ACK: an exact-match request is answered by exactly
 * one message (the socket, or NLMSG_ERROR), queued before send() returns.
 */
#define OWNER_RCVTIMEO_MS	1000	/* a lost answer: fail, never hang */
#define OWNER_REPLY_MAX		8192	/* inet_diag_msg + the attributes the
					   kernel adds unasked (< 1 KiB) */

static __thread int owner_fd = -1;
static __thread uint32_t owner_seq;

static int owner_socket(void);

void
sockdiag_thread_free(void)
{
	if (owner_fd != -1)
		close(owner_fd);
	owner_fd = -1;
}

int
sockdiag_thread_init(void)
{
	return owner_socket() == -1 ? -1 : 0;
}

static int
owner_socket(void)
{
	struct timeval tv = { 0, OWNER_RCVTIMEO_MS * 1000 };

	if (owner_fd != -1)
		return owner_fd;
	owner_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG);
	if (owner_fd != -1)
		(void)setsockopt(owner_fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
		    sizeof(tv));
	return owner_fd;
}

/* Whether reply m is the socket the request asked for. */
static int
owner_matches(const struct inet_diag_msg *m, const struct inet_diag_req_v2 *r)
{
	size_t alen = r->sdiag_family == AF_INET ? 4 : 16;

	return m->idiag_family == r->sdiag_family &&
	    m->id.idiag_sport == r->id.idiag_sport &&
	    m->id.idiag_dport == r->id.idiag_dport &&
	    memcmp(m->id.idiag_src, r->id.idiag_src, alen) == 0 &&
	    memcmp(m->id.idiag_dst, r->id.idiag_dst, alen) == 0;
}

/*
 * Send the request and read until the reply with its sequence number:
 * 1 found (*out set), 0 no such socket, -1 socket error (the caller drops
 * the socket).  Replies with other numbers are leftovers of a request
 * whose answer came after its timeout.
 */
static int
owner_talk(int fd, struct nlmsghdr *nlh, const struct inet_diag_req_v2 *req,
    struct sockdiag_owner *out)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint32_t buf[OWNER_REPLY_MAX / sizeof(uint32_t)];	/* aligned */
	const struct nlmsghdr *m;
	const struct inet_diag_msg *d;
	ssize_t n;
	int len;

	if (sendto(fd, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&kernel,
	    sizeof(kernel)) == -1)
		return -1;
	for (;;) {
		if ((n = recv(fd, buf, sizeof(buf), 0)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		len = (int)n;
		for (m = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(m, len);
		    m = mnl_nlmsg_next(m, &len)) {
			if (m->nlmsg_seq != nlh->nlmsg_seq)
				continue;
			if (m->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    mnl_nlmsg_get_payload_len(m) < sizeof(*d))
				return 0;	/* NLMSG_ERROR: ENOENT */
			d = mnl_nlmsg_get_payload(m);
			if (!owner_matches(d, req))
				return 0;
			out->uid = d->idiag_uid;
			out->inode = d->idiag_inode;
			return 1;
		}
	}
}

int
sockdiag_owner_find(const struct sockaddr *src, const struct sockaddr *dst,
    int proto, struct sockdiag_owner *out)
{
	struct {
		struct nlmsghdr		nlh;
		struct inet_diag_req_v2	req;
	} msg;
	int fd, r;

	if (src->sa_family != dst->sa_family ||
	    (src->sa_family != AF_INET && src->sa_family != AF_INET6) ||
	    (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
		return -1;
	if ((fd = owner_socket()) == -1)
		return -1;
	memset(&msg, 0, sizeof(msg));	/* no uninitialised bytes reach the kernel */
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST;
	msg.nlh.nlmsg_seq = ++owner_seq;
	msg.req.sdiag_family = (__u8)src->sa_family;
	msg.req.sdiag_protocol = (__u8)proto;
	msg.req.idiag_states = ~0u;
	sockaddr_to_diag(src, &msg.req.id.idiag_sport, msg.req.id.idiag_src);
	sockaddr_to_diag(dst, &msg.req.id.idiag_dport, msg.req.id.idiag_dst);
	msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if ((r = owner_talk(fd, &msg.nlh, &msg.req, out)) == -1)
		sockdiag_thread_free();	/* a fresh socket next time */
	return r == 1 ? 0 : -1;
}

int
sockdiag_foreach(int family, int proto,
    int (*fn)(const struct sockdiag_sock *, void *), void *arg)
{
	struct inet_diag_req_v2 req;
	struct walk w = { family, proto, fn, arg, 0 };
	int r;

	memset(&req, 0, sizeof(req));
	req.sdiag_family = (__u8)family;
	req.sdiag_protocol = (__u8)proto;
	req.idiag_states = proto == IPPROTO_TCP ? TCPF_ALL_BUT_LISTEN : ~0u;
	if ((r = diag_talk(SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, diag_cb,
	    &w)) != 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

int
sockdiag_destroy(const struct sockdiag_sock *s)
{
	struct inet_diag_req_v2 req;

	memset(&req, 0, sizeof(req));
	req.sdiag_family = (__u8)s->family;
	req.sdiag_protocol = (__u8)s->proto;
	req.idiag_states = ~0u;
	sockaddr_to_diag((const struct sockaddr *)&s->src, &req.id.idiag_sport,
	    req.id.idiag_src);
	sockaddr_to_diag((const struct sockaddr *)&s->dst, &req.id.idiag_dport,
	    req.id.idiag_dst);
	req.id.idiag_cookie[0] = s->cookie[0];
	req.id.idiag_cookie[1] = s->cookie[1];
	return diag_talk(SOCK_DESTROY, NLM_F_ACK, &req, NULL, NULL);
}

int
sockdiag_destroy_supported(void)
{
	struct sockdiag_sock s;
	struct sockaddr_in *in;

	/*
	 * Destroying a socket that does not exist tells the two kernels
	 * apart: -ENOENT when SOCK_DESTROY is compiled in, -EOPNOTSUPP not.
	 */
	memset(&s, 0, sizeof(s));
	s.family = AF_INET;
	s.proto = IPPROTO_TCP;
	in = (struct sockaddr_in *)&s.src;
	in->sin_family = AF_INET;
	in->sin_port = htons(1);
	in = (struct sockaddr_in *)&s.dst;
	in->sin_family = AF_INET;
	in->sin_port = htons(1);
	s.cookie[0] = INET_DIAG_NOCOOKIE;
	s.cookie[1] = INET_DIAG_NOCOOKIE;
	return sockdiag_destroy(&s) != -EOPNOTSUPP;
}

/* "socket:[12345]" -> 12345, else 0 */
static unsigned long
link_inode(const char *path)
{
	char buf[64];
	ssize_t n;

	if ((n = readlink(path, buf, sizeof(buf) - 1)) == -1)
		return 0;
	buf[n] = '\0';
	if (strncmp(buf, "socket:[", 8) != 0)
		return 0;
	return strtoul(buf + 8, NULL, 10);
}

/*
 * Whether process name (a /proc entry) holds socket inode; if so *pid and
 * exe are set.  1 found, 0 not.
 */
static int
proc_holds(const char *name, unsigned long inode, pid_t *pid, char *exe,
    size_t exelen)
{
	DIR *fds;
	struct dirent *f;
	char path[600];	/* "/proc/" + two NAME_MAX names */
	ssize_t n;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%s/fd", name);
	if ((fds = opendir(path)) == NULL)
		return 0;	/* gone, or not ours to read */
	while ((f = readdir(fds)) != NULL) {
		if (f->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd/%s", name, f->d_name);
		if (link_inode(path) != inode)
			continue;
		*pid = (pid_t)strtol(name, NULL, 10);
		if (exe != NULL && exelen > 0) {
			snprintf(path, sizeof(path), "/proc/%s/exe", name);
			if ((n = readlink(path, exe, exelen - 1)) == -1)
				n = 0;
			exe[n] = '\0';
		}
		found = 1;
		break;
	}
	closedir(fds);
	return found;
}

/*
 * An agent opens many connections from one process, and a scan of all of
 * /proc costs a readlink per fd on the host (a busy host: thousands per
 * lookup), so the last answer's process is asked first.
 */
static __thread pid_t proc_hint;

int
sockdiag_inode_process(unsigned long inode, pid_t *pid, char *exe,
    size_t exelen)
{
	DIR *proc;
	struct dirent *p;
	char hint[16];

	if (inode == 0)
		return -1;
	if (proc_hint > 0) {
		snprintf(hint, sizeof(hint), "%d", (int)proc_hint);
		if (proc_holds(hint, inode, pid, exe, exelen))
			return 0;
	} else {
		hint[0] = '\0';
	}
	if ((proc = opendir("/proc")) == NULL)
		return -1;
	while ((p = readdir(proc)) != NULL) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9' ||
		    strcmp(p->d_name, hint) == 0)
			continue;
		if (proc_holds(p->d_name, inode, pid, exe, exelen)) {
			proc_hint = *pid;
			closedir(proc);
			return 0;
		}
	}
	closedir(proc);
	return -1;
}
