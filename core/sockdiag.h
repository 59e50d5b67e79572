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
#include <sys/types.h>

struct sockdiag_owner {
	uid_t		uid;
	unsigned long	inode;
};

/*
 * Find the socket whose local address is src and remote address is dst
 * (both AF_INET or both AF_INET6; proto IPPROTO_TCP or IPPROTO_UDP) in the
 * caller's network namespace.  0 and *out filled when found, -1 otherwise.
 */
int sockdiag_owner_find(const struct sockaddr *src, const struct sockaddr *dst,
    int proto, struct sockdiag_owner *out);

/*
 * Look up pid and executable path of the process holding socket inode
 * (scans /proc; slow: call lazily and cache).  0 on success.
 */
int sockdiag_inode_process(unsigned long inode, pid_t *pid, char *exe,
    size_t exelen);

#endif
