/*
 * nfq.h - the NFQUEUE worker: a verdict for every UDP datagram of an agent.
 *
 * The ruleset (rules/) sends agent UDP to NFQUEUE firewall.queue_num (or a
 * range of queues, one worker per queue).  A worker owns one netlink socket
 * bound to one queue; the engine (tproxy/engine.c) polls its fd and calls
 * nfq_worker_handle() when it is readable.  Every queued packet gets exactly
 * one verdict:
 *
 *   DNS (UDP 53) to a firewall.dns_servers address, well formed, name passes
 *   the scanner and the per-agent budget     -> NF_ACCEPT
 *   QUIC Initial, quic: inspect, SNI allowed -> NF_REPEAT with the packet
 *                                               mark |= NFQ_MARK_ALLOW
 *   QUIC Initial whose ClientHello continues in a later datagram
 *                                            -> held (no verdict yet) until
 *                                               the hello completes: then
 *                                               the hello's verdict; after
 *                                               1 s NF_DROP (the client
 *                                               retransmits)
 *   malformed DNS                            -> NF_DROP (silent)
 *   anything else blocked                    -> NF_REPEAT with the packet
 *                                               mark |= NFQ_MARK_REJECT
 *
 * Contract with the ruleset (rules/ must implement it), in the chain that
 * holds the queue rule, before it (NF_REPEAT re-runs that base chain):
 *  - `meta mark & NFQ_MARK_REJECT != 0` -> reject (ICMP/ICMPv6 port
 *    unreachable or admin prohibited), so a block is a fast error;
 *  - `meta mark & NFQ_MARK_ALLOW != 0` -> `ct mark set ct mark |
 *    NFQ_MARK_ALLOW`, accept;
 *  - `ct mark & NFQ_MARK_ALLOW != 0` -> accept, so the later packets of an
 *    allowed QUIC flow skip the queue;
 *  - neither bit may be used for anything else (nor overlap firewall.mark
 *    or firewall.engine_mark);
 *  - for a fast fail-closed with a dead engine: every NF_ACCEPT verdict
 *    also sets NFQ_MARK_ACCEPTED, so a ruleset may queue with `bypass`
 *    (with no listener bound the kernel then *accepts* the packet for that
 *    base chain: bypass does not fall through to the next rule) after
 *    setting NFQ_MARK_QUEUED, and reject, in a later base chain of the same
 *    hook, packets carrying NFQ_MARK_QUEUED but neither NFQ_MARK_ACCEPTED
 *    nor NFQ_MARK_ALLOW (no listener -> bypass -> ICMP error at once instead
 *    of a client timeout).  rules/ does exactly that for fail_mode closed.
 * The flow mark goes through the packet mark and the ruleset, not through
 * the verdict's NFQA_CT attribute, because kernels without
 * CONFIG_NETFILTER_NETLINK_GLUE_CT (this project's CI kernel) cannot set a
 * conntrack mark from a verdict.  If a marked packet comes back to the
 * queue, the rule is missing: the worker then drops (reject) or accepts
 * (allow) it instead of looping, and warns once.
 *
 * Use (engine): while still privileged, one nfq_worker_new(cfg,
 * fw.queue_num + i) per queue of the range the ruleset balances over; add
 * nfq_worker_fd() to that worker thread's loop for reading; on readiness
 * take policy_current(), call nfq_worker_handle(), drop the reference; on
 * -1 free and recreate the worker; nfq_worker_free() at exit.  DNS over
 * TCP (port 53 through TPROXY) uses the same decision: frame with
 * nfq_dns_tcp_frame() and decide each message with nfq_verdict_decide()
 * (nfq/nfq_verdict.h) from a per-thread struct nfq_verdict_state.
 */
#ifndef PIPELOCK_NFQ_H
#define PIPELOCK_NFQ_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct policy;
struct nfq_worker;

/* Packet mark bit set on blocked packets before NF_REPEAT. */
#define NFQ_MARK_REJECT		0x00400000u
/* Packet mark bit set on allowed QUIC flows; the ruleset saves it in ct mark. */
#define NFQ_MARK_ALLOW		0x00800000u

/* Packet mark bit set on every packet the worker accepts. */
#define NFQ_MARK_ACCEPTED	0x01000000u
/* Packet mark bit the ruleset sets on every packet it queues. */
#define NFQ_MARK_QUEUED		0x02000000u
/* All of the above: firewall.mark and engine_mark must not overlap them. */
#define NFQ_MARK_ALL		(NFQ_MARK_REJECT | NFQ_MARK_ALLOW | \
				 NFQ_MARK_ACCEPTED | NFQ_MARK_QUEUED)

/* Bytes of each packet copied to userspace: whole DNS/QUIC datagrams. */
#define NFQ_COPY_RANGE		0xffff
/* Kernel queue length when the config gives none. */
#define NFQ_DEFAULT_MAXLEN	4096u

struct nfq_stats {
	unsigned long	packets;
	unsigned long	accepted;
	unsigned long	dropped;	/* malformed, incomplete */
	unsigned long	rejected;	/* NF_REPEAT + NFQ_MARK_REJECT */
	unsigned long	held;		/* waiting now for the rest of a hello */
	unsigned long	enobufs;	/* kernel lost messages to us */
	unsigned long	errors;		/* netlink send/parse failures */
};

/*
 * Open a netlink socket, bind NFQUEUE queue_num (copy mode NFQ_COPY_RANGE,
 * flags GSO, UID_GID, CONNTRACK, and FAIL_OPEN only when cfg says fail_mode
 * open), size the receive buffer.  cfg is only read here (queue length, fail
 * mode); the policy comes with each nfq_worker_handle() call.  Returns NULL
 * with a message in err when the queue cannot be bound (another process owns
 * it, no CAP_NET_ADMIN, no nfnetlink_queue).
 */
struct nfq_worker *nfq_worker_new(const struct config *cfg,
    unsigned queue_num, char *err, size_t errlen);

/* The socket to poll for reading (non-blocking). */
int nfq_worker_fd(const struct nfq_worker *w);

/*
 * Read every message pending on the socket and send one verdict per packet
 * id, decided under policy p (the caller keeps its reference).  Returns 0
 * when the socket is drained (EAGAIN), -1 on a fatal socket error (the
 * caller should recreate the worker).  ENOBUFS is counted and logged, not
 * fatal.
 */
int nfq_worker_handle(struct nfq_worker *w, struct policy *p);

/* Counters since nfq_worker_new(). */
void nfq_worker_stats(const struct nfq_worker *w, struct nfq_stats *out);

/* Unbind the queue, close the socket, free.  NULL is fine. */
void nfq_worker_free(struct nfq_worker *w);

#endif
