/*
 * sockdiag.h - who owns a TCP/UDP socket, and closing agents' sockets,
 * through NETLINK_SOCK_DIAG (inet_diag).
 *
 * Used by the engine (the uid and inode behind an intercepted connection, for
 * per-agent limits and audit) and by `firewall apply` (connections an agent
 * opened before the rules existed).
 */
#ifndef PIPELOCK_SOCKDIAG_H
#define PIPELOCK_SOCKDIAG_H

#include <stddef.h>
#include <sys/socket.h>
#include <stdint.h>
#include <sys/types.h>

struct sockdiag_owner {
	uid_t		uid;
	unsigned long	inode;
};

/*
 * Find the socket whose local address is src and remote address is dst
 * (both AF_INET or both AF_INET6; proto IPPROTO_TCP or IPPROTO_UDP) in the
 * caller's network namespace.  0 and *out filled when found, -1 otherwise.
 * Called once per intercepted connection, so the netlink socket is kept
 * open per thread (in the namespace of the thread's first call): a thread
 * that changes namespace calls sockdiag_thread_free() first.
 */
int sockdiag_owner_find(const struct sockaddr *src, const struct sockaddr *dst,
    int proto, struct sockdiag_owner *out);

/*
 * Open this thread's sockdiag_owner_find() socket now rather than at the
 * first lookup (a worker's start: its fd count stays flat from then on).
 * 0, or -1 (errno set; the first lookup tries again).
 */
int sockdiag_thread_init(void);
/* Close this thread's sockdiag_owner_find() socket (a thread's exit). */
void sockdiag_thread_free(void);

/*
 * Look up pid and executable path of the process holding socket inode
 * (scans /proc; slow: call lazily and cache).  The process of the
 * thread's last answer is looked at first.  0 on success.
 */
int sockdiag_inode_process(unsigned long inode, pid_t *pid, char *exe,
    size_t exelen);

/* One socket of a dump (sockdiag_foreach). */
struct sockdiag_sock {
	int		family;		/* AF_INET | AF_INET6 */
	int		proto;		/* IPPROTO_TCP | IPPROTO_UDP */
	int		state;		/* TCP_* state */
	struct sockaddr_storage src;	/* local */
	struct sockaddr_storage dst;	/* remote */
	uid_t		uid;
	unsigned long	inode;
	uint32_t	cookie[2];
};

/*
 * Call fn for every socket of family/proto in the caller's network
 * namespace (TCP: all states but LISTEN).  fn returning -1 stops the walk.
 * 0 on success, -1 on error (errno set).
 */
int sockdiag_foreach(int family, int proto,
    int (*fn)(const struct sockdiag_sock *, void *), void *arg);

/*
 * Close a socket from the outside (SOCK_DESTROY; needs CONFIG_INET_DIAG_
 * DESTROY and CAP_NET_ADMIN).  0, or -errno: -EOPNOTSUPP when the kernel
 * cannot, -ENOENT when the socket is gone.
 */
int sockdiag_destroy(const struct sockdiag_sock *s);

/* 1 if this kernel supports SOCK_DESTROY for TCP, 0 if not. */
int sockdiag_destroy_supported(void);

struct nlmsghdr;

/*
 * The netlink request/reply loop sock_diag and rules/ share: send req on a
 * fresh socket of bus (NETLINK_SOCK_DIAG, NETLINK_ROUTE, NETLINK_NETFILTER)
 * and feed every reply to cb (may be NULL: only wait for the ACK) until the
 * dump ends, the ACK arrives or cb returns MNL_CB_STOP (cb is a libmnl
 * mnl_cb_t).  0, or -errno (the kernel's error for the request).
 */
int sockdiag_nl_talk(int bus, const struct nlmsghdr *req,
    int (*cb)(const struct nlmsghdr *, void *), void *arg);

#endif
