/*
 * nfq_worker.c - one NFQUEUE queue: netlink setup, packet parsing, verdicts.
 *
 * Setup follows libnetfilter_queue's examples/nf-queue.c with the
 * libmnl-based nfq_nlmsg_* API: bind the queue, copy whole packets
 * (NFQ_COPY_RANGE), ask for GSO skbs unsegmented, uid/gid and conntrack
 * info, fail-open only when the config says so, set the queue length; every
 * config message is acknowledged so a queue another process holds is an
 * error at start, not silence.
 *
 * NETLINK_NO_ENOBUFS is left off on purpose: when our receive buffer
 * overflows the kernel drops the packet (fail-closed queue) or accepts it
 * (fail-open), and ENOBUFS on the next recv is the only way we learn that
 * it happened.  It is counted and logged, and the socket is kept: the
 * messages after the error are intact.  A large SO_RCVBUF makes it rare.
 *
 * Exactly one verdict per packet id: every NFQNL_MSG_PACKET that carries a
 * packet header gets one, including packets we cannot parse (NF_DROP).
 * The verdicts for one recv are sent together in one sendto.
 *
 * GSO: with NFQA_CFG_F_GSO a UDP GSO train arrives as one packet whose
 * payload is the concatenated segments.  QUIC Initials fill their segment
 * exactly (Length field), so the QUIC decoder steps through the train like
 * coalesced packets; DNS is never sent with GSO and a GSO DNS packet is
 * refused as malformed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/types.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "core/audit.h"
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/policy.h"
#include "nfq/nfq.h"
#include "nfq/nfq_quic.h"
#include "nfq/nfq_verdict.h"

/* Largest packet payload plus netlink overhead (nf-queue.c). */
#define NFQ_RECV_BUF		(0xffff + MNL_SOCKET_BUFFER_SIZE / 2)
/* Room for the verdicts of one recv: each is < 64 bytes. */
#define NFQ_SEND_BUF		(MNL_SOCKET_BUFFER_SIZE * 4)
#define NFQ_VERDICT_MSG_MAX	128
/* Kernel socket buffer: the whole queue of small datagrams. */
#define NFQ_RCVBUF		(8 * 1024 * 1024)
/* recv calls per nfq_worker_handle(), so one busy queue cannot starve. */
#define NFQ_RECV_BURST		64
#define NFQ_ENOBUFS_LOG_MS	10000	/* at most one warning per interval */
#define NFQ_HOLD_CONNS		64	/* QUIC connections with held packets */
#define NFQ_HOLD_PKTS		4	/* held packets per connection */
#define NFQ_HOLD_MS		1000	/* then dropped: the client retransmits */

/*
 * Initial datagrams whose ClientHello continues in a later datagram: their
 * packet ids wait here, without a verdict, until the hello is complete and
 * decided (then they get the same verdict), or NFQ_HOLD_MS passed (dropped).
 */
struct nfq_hold {
	uint8_t		dcid[QUIC_CID_MAX];
	uint8_t		dcid_len;
	unsigned	n;		/* 0: slot free */
	uint32_t	ids[NFQ_HOLD_PKTS];
	uint32_t	marks[NFQ_HOLD_PKTS];
	uint64_t	since_ms;
};

struct nfq_worker {
	struct mnl_socket	*nl;
	unsigned		 portid;
	unsigned		 queue_num;
	char			*rbuf;
	char			*sbuf;
	size_t			 slen;		/* pending verdict bytes */
	struct nfq_verdict_state *vs;
	struct policy		*policy;	/* borrowed during handle() */
	struct nfq_stats	 stats;
	uint64_t		 enobufs_logged_ms;
	int			 warned_no_rule;
	struct nfq_hold		 holds[NFQ_HOLD_CONNS];
};

/* Flush the pending verdicts. */
static int
nfq_flush(struct nfq_worker *w)
{
	int ret = 0;

	if (w->slen == 0)
		return 0;
	if (mnl_socket_sendto(w->nl, w->sbuf, w->slen) == -1) {
		/* The packets stay queued until the queue is unbound. */
		log_warn("nfq %u: sending verdicts", w->queue_num);
		w->stats.errors++;
		ret = -1;
	}
	w->slen = 0;
	return ret;
}

static struct nlmsghdr *
nfq_verdict_msg(struct nfq_worker *w)
{
	if (NFQ_SEND_BUF - w->slen < NFQ_VERDICT_MSG_MAX)
		nfq_flush(w);
	return nfq_nlmsg_put(w->sbuf + w->slen, NFQNL_MSG_VERDICT,
	    w->queue_num);
}

static void
nfq_verdict_send(struct nfq_worker *w, uint32_t id, enum nfq_verdict v,
    uint32_t mark)
{
	struct nlmsghdr *nlh = nfq_verdict_msg(w);

	switch (v) {
	case NFQ_ACCEPT:
		nfq_nlmsg_verdict_put(nlh, (int)id, NF_ACCEPT);
		nfq_nlmsg_verdict_put_mark(nlh, mark | NFQ_MARK_ACCEPTED);
		w->stats.accepted++;
		break;
	case NFQ_ACCEPT_FLOW:
		/* The ruleset saves the bit in ct mark: the flow skips us. */
		nfq_nlmsg_verdict_put(nlh, (int)id, NF_REPEAT);
		nfq_nlmsg_verdict_put_mark(nlh, mark | NFQ_MARK_ALLOW);
		w->stats.accepted++;
		break;
	case NFQ_REJECT:
		/* Re-run the chain with the reject bit: ICMP error at once. */
		nfq_nlmsg_verdict_put(nlh, (int)id, NF_REPEAT);
		nfq_nlmsg_verdict_put_mark(nlh, mark | NFQ_MARK_REJECT);
		w->stats.rejected++;
		break;
	case NFQ_DROP:
	default:
		nfq_nlmsg_verdict_put(nlh, (int)id, NF_DROP);
		w->stats.dropped++;
		break;
	}
	w->slen += nlh->nlmsg_len;
}

/* Give every packet held in h verdict v, and free the slot. */
static void
nfq_hold_release(struct nfq_worker *w, struct nfq_hold *h, enum nfq_verdict v)
{
	unsigned i;

	for (i = 0; i < h->n; i++)
		nfq_verdict_send(w, h->ids[i], v, h->marks[i]);
	w->stats.held -= h->n;
	h->n = 0;
}

static struct nfq_hold *
nfq_hold_find(struct nfq_worker *w, const uint8_t *dcid, size_t dcid_len)
{
	size_t i;

	for (i = 0; i < NFQ_HOLD_CONNS; i++)
		if (w->holds[i].n > 0 && w->holds[i].dcid_len == dcid_len &&
		    memcmp(w->holds[i].dcid, dcid, dcid_len) == 0)
			return &w->holds[i];
	return NULL;
}

/* Keep packet id for its connection; a full table drops the oldest. */
static void
nfq_hold_add(struct nfq_worker *w, const struct nfq_decision *d, uint32_t id,
    uint32_t mark, uint64_t now)
{
	struct nfq_hold *h = nfq_hold_find(w, d->quic_dcid, d->quic_dcid_len);
	size_t i;

	if (h == NULL) {
		for (i = 0; i < NFQ_HOLD_CONNS; i++) {
			if (w->holds[i].n == 0) {
				h = &w->holds[i];
				break;
			}
			if (h == NULL || w->holds[i].since_ms < h->since_ms)
				h = &w->holds[i];
		}
		nfq_hold_release(w, h, NFQ_DROP);
		memcpy(h->dcid, d->quic_dcid, d->quic_dcid_len);
		h->dcid_len = d->quic_dcid_len;
		h->since_ms = now;
	}
	if (h->n == NFQ_HOLD_PKTS) {
		nfq_verdict_send(w, id, NFQ_DROP, mark);
		return;
	}
	h->ids[h->n] = id;
	h->marks[h->n] = mark;
	h->n++;
	w->stats.held++;
}

/* Drop what was held too long (checked on every nfq_worker_handle()). */
static void
nfq_hold_expire(struct nfq_worker *w, uint64_t now)
{
	size_t i;

	for (i = 0; i < NFQ_HOLD_CONNS; i++)
		if (w->holds[i].n > 0 &&
		    now - w->holds[i].since_ms >= NFQ_HOLD_MS)
			nfq_hold_release(w, &w->holds[i], NFQ_DROP);
}

static void
fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	}
}

static void
nfq_audit(const struct nfq_packet *pkt, const struct nfq_decision *d)
{
	struct audit_event ev;
	char src[NFQ_ADDR_STR_MAX], dst[NFQ_ADDR_STR_MAX], msg[64];

	fmt_addr(&pkt->src, src, sizeof(src));
	fmt_addr(&pkt->dst, dst, sizeof(dst));
	if (!d->audit) {
		log_debug("nfq: %s allow %s %s uid %lld -> %s", d->event,
		    d->qtype, d->host, pkt->uid, dst);
		return;
	}
	audit_event_init(&ev);
	ev.event = d->event;
	ev.verdict = d->verdict_name;
	ev.reason = d->reason;
	ev.proto = d->event;
	ev.uid = pkt->uid;
	ev.gid = pkt->gid;
	ev.src = src;
	ev.dst = dst;
	ev.host = d->host[0] ? d->host : NULL;
	ev.alpn = d->alpn[0] ? d->alpn : NULL;
	ev.ech = d->ech;
	ev.scanner = d->scanner;
	ev.pattern = d->pattern;
	ev.redacted = d->redacted[0] ? d->redacted : NULL;
	if (d->qtype[0]) {
		snprintf(msg, sizeof(msg), "qtype %s", d->qtype);
		ev.message = msg;
	}
	if (audit_admit(&ev))
		audit_emit(&ev);
}

/*
 * A refused QUIC connection attempt: besides the ruleset's ICMP error, answer
 * with a Version Negotiation packet as from the server (nfq_quic_vn_build).
 * The ICMP error only reaches clients on connected sockets; QUIC stacks
 * often use unconnected ones and would retry until their handshake
 * timeout, where this makes them give up at once (browsers: fall back to
 * TCP, which the TPROXY path inspects).  Sent from a transparent socket
 * bound to the server's address and marked with firewall.engine_mark, so
 * the ruleset passes it like the engine's own traffic; its destination is
 * the agent's local address, so it never leaves the host.  Best effort: on
 * any failure the ICMP error stands alone.
 */
static void
nfq_quic_refuse(struct nfq_worker *w, const struct nfq_packet *pkt)
{
	uint8_t vn[QUIC_VN_MAX];
	struct quic_hdr h;
	socklen_t sl;
	uint32_t mark = w->policy->cfg->fw.engine_mark;
	int fd, n, one = 1, v4 = pkt->dst.ss_family == AF_INET;

	if (nfq_quic_parse_long(pkt->payload, pkt->len, &h) <= 0 ||
	    (n = nfq_quic_vn_build(&h, vn, sizeof(vn))) == -1)
		return;
	sl = v4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	if ((fd = socket(pkt->dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC,
	    IPPROTO_UDP)) == -1)
		goto fail;
	if ((v4 ? setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) :
	    setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one,
	    sizeof(one))) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == -1 ||
	    bind(fd, (const struct sockaddr *)&pkt->dst, sl) == -1 ||
	    sendto(fd, vn, (size_t)n, 0, (const struct sockaddr *)&pkt->src,
	    sl) == -1)
		goto fail;
	close(fd);
	return;
fail:
	log_debug("nfq %u: QUIC version negotiation refusal not sent: %s",
	    w->queue_num, strerror(errno));
	if (fd != -1)
		close(fd);
}

static int
nfq_packet_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nfq_worker *w = data;
	struct nlattr *attr[NFQA_MAX + 1] = { NULL };
	struct nfqnl_msg_packet_hdr *ph;
	struct nfq_packet pkt;
	struct nfq_decision d;
	uint32_t id, mark = 0, skbinfo = 0, caplen;
	uint16_t plen;
	const uint8_t *payload;
	int gso;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL) {
		/* No packet id: nothing we could give a verdict to. */
		w->stats.errors++;
		return MNL_CB_OK;
	}
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	id = ntohl(ph->packet_id);
	w->stats.packets++;
	if (attr[NFQA_PAYLOAD] == NULL || w->policy == NULL) {
		nfq_verdict_send(w, id, NFQ_DROP, 0);
		return MNL_CB_OK;
	}
	payload = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
	plen = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	if (attr[NFQA_MARK])
		mark = ntohl(mnl_attr_get_u32(attr[NFQA_MARK]));
	if (attr[NFQA_SKB_INFO])
		skbinfo = ntohl(mnl_attr_get_u32(attr[NFQA_SKB_INFO]));
	gso = (skbinfo & NFQA_SKB_GSO) != 0;
	if (mark & (NFQ_MARK_REJECT | NFQ_MARK_ALLOW)) {
		/*
		 * Our NF_REPEAT came back: the ruleset lacks the rule for
		 * the mark.  Settle it here rather than loop: a reject
		 * becomes a (slower, still closed) drop.
		 */
		if (!w->warned_no_rule) {
			log_warnx("nfq %u: the ruleset does not act on packet "
			    "mark 0x%08x; deciding here instead", w->queue_num,
			    mark & (NFQ_MARK_REJECT | NFQ_MARK_ALLOW));
			w->warned_no_rule = 1;
		}
		nfq_verdict_send(w, id, (mark & NFQ_MARK_REJECT) ? NFQ_DROP :
		    NFQ_ACCEPT, mark);
		return MNL_CB_OK;
	}
	if (attr[NFQA_CAP_LEN]) {
		caplen = ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN]));
		if (caplen != plen) {
			/* Cut by the copy range: we cannot see it all. */
			log_warnx("nfq %u: packet of %u bytes truncated to %u, "
			    "rejected", w->queue_num, caplen, plen);
			nfq_verdict_send(w, id, NFQ_REJECT, mark);
			return MNL_CB_OK;
		}
	}
	memset(&pkt, 0, sizeof(pkt));
	pkt.uid = attr[NFQA_UID] ? (long long)ntohl(mnl_attr_get_u32(
	    attr[NFQA_UID])) : -1;
	pkt.gid = attr[NFQA_GID] ? (long long)ntohl(mnl_attr_get_u32(
	    attr[NFQA_GID])) : -1;
	pkt.now_ms = loop_now_ms();
	if (nfq_packet_parse(payload, plen, gso, &pkt) == -1) {
		log_debug("nfq %u: packet %u is not a whole UDP datagram, "
		    "dropped", w->queue_num, id);
		nfq_verdict_send(w, id, NFQ_DROP, mark);
		return MNL_CB_OK;
	}
	nfq_verdict_decide(w->vs, w->policy, &pkt, &d);
	if (d.verdict == NFQ_HOLD) {
		if (d.quic_dcid_len == 0)	/* cannot be joined later */
			d.verdict = NFQ_DROP;
		else {
			nfq_hold_add(w, &d, id, mark, pkt.now_ms);
			log_debug("nfq %u: packet %u held: %s", w->queue_num, id,
			    d.reason);
			return MNL_CB_OK;
		}
	}
	if (d.quic_dcid_len > 0) {
		struct nfq_hold *h = nfq_hold_find(w, d.quic_dcid,
		    d.quic_dcid_len);

		/* The earlier datagrams of this hello share its verdict. */
		if (h != NULL)
			nfq_hold_release(w, h, d.verdict == NFQ_ACCEPT_FLOW ||
			    d.verdict == NFQ_REJECT ? d.verdict : NFQ_DROP);
	}
	if (gso && strcmp(d.event, "dns") == 0 && d.verdict != NFQ_REJECT) {
		d.verdict = NFQ_DROP;
		d.audit = 1;
		d.verdict_name = "block";
		snprintf(d.reason, sizeof(d.reason), "DNS in a GSO packet");
	}
	nfq_verdict_send(w, id, d.verdict, mark);
	if (d.verdict == NFQ_REJECT && strcmp(d.event, "quic") == 0)
		nfq_quic_refuse(w, &pkt);
	nfq_audit(&pkt, &d);
	return MNL_CB_OK;
}

/* Send one config message and wait for its acknowledgement. */
static int
nfq_config_send(struct nfq_worker *w, struct nlmsghdr *nlh, const char *what,
    char *err, size_t errlen)
{
	uint32_t seq = (uint32_t)time(NULL) ^ (uint32_t)w->queue_num;
	int n, e;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(w->nl, nlh, nlh->nlmsg_len) == -1) {
		e = errno;
		snprintf(err, errlen, "NFQUEUE %u: %s: %s", w->queue_num, what,
		    strerror(e));
		errno = e;
		return -1;
	}
	/*
	 * Packets may already arrive (bind comes first); without a policy
	 * the callback drops them, which is what a fail-closed queue with no
	 * listener did a moment ago.
	 */
	for (;;) {
		n = (int)mnl_socket_recvfrom(w->nl, w->rbuf, NFQ_RECV_BUF);
		if (n == -1) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			e = errno;
			snprintf(err, errlen, "NFQUEUE %u: %s: %s", w->queue_num,
			    what, strerror(e));
			errno = e;
			return -1;
		}
		n = mnl_cb_run(w->rbuf, (size_t)n, seq, w->portid,
		    nfq_packet_cb, w);
		nfq_flush(w);
		if (n == -1) {
			if (errno == ESRCH)	/* a packet message: other seq */
				continue;
			e = errno;
			snprintf(err, errlen, "NFQUEUE %u: %s: %s%s",
			    w->queue_num, what, strerror(e),
			    e == EBUSY ? " (queue bound by another process)"
			    : e == EPERM ? " (needs CAP_NET_ADMIN)" : "");
			errno = e;
			return -1;
		}
		if (n == MNL_CB_STOP)
			return 0;
	}
}

/* Copy mode, queue length and flags (all four flags in the mask). */
static int
nfq_config_params(struct nfq_worker *w, uint32_t flags, char *err,
    size_t errlen)
{
	char cbuf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	memset(cbuf, 0, sizeof(cbuf));	/* no uninitialised bytes reach the kernel */
	nlh = nfq_nlmsg_put(cbuf, NFQNL_MSG_CONFIG, w->queue_num);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, NFQ_COPY_RANGE);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, NFQ_DEFAULT_MAXLEN);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO |
	    NFQA_CFG_F_UID_GID | NFQA_CFG_F_CONNTRACK | NFQA_CFG_F_FAIL_OPEN));
	return nfq_config_send(w, nlh, "params", err, errlen);
}

struct nfq_worker *
nfq_worker_new(const struct config *cfg, unsigned queue_num, char *err,
    size_t errlen)
{
	struct nfq_worker *w;
	struct nlmsghdr *nlh;
	char cbuf[MNL_SOCKET_BUFFER_SIZE];
	uint32_t flags;
	int fd, one = 1, rcv = NFQ_RCVBUF;

	memset(cbuf, 0, sizeof(cbuf));	/* no uninitialised bytes reach the kernel */
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->queue_num = queue_num;
	w->rbuf = malloc(NFQ_RECV_BUF);
	w->sbuf = malloc(NFQ_SEND_BUF);
	w->vs = nfq_verdict_new();
	if (w->rbuf == NULL || w->sbuf == NULL || w->vs == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((w->nl = mnl_socket_open(NETLINK_NETFILTER)) == NULL) {
		snprintf(err, errlen, "netlink socket: %s", strerror(errno));
		goto fail;
	}
	if (mnl_socket_bind(w->nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		snprintf(err, errlen, "netlink bind: %s", strerror(errno));
		goto fail;
	}
	w->portid = mnl_socket_get_portid(w->nl);
	fd = mnl_socket_get_fd(w->nl);
	/* FORCE needs CAP_NET_ADMIN (which binding a queue needs anyway). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) == -1)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	/* Report failed verdicts/config instead of losing them silently. */
	mnl_socket_setsockopt(w->nl, NETLINK_BROADCAST_ERROR, &one, sizeof(one));

	nlh = nfq_nlmsg_put(cbuf, NFQNL_MSG_CONFIG, queue_num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	if (nfq_config_send(w, nlh, "bind", err, errlen) == -1)
		goto fail;

	flags = NFQA_CFG_F_GSO | NFQA_CFG_F_UID_GID | NFQA_CFG_F_CONNTRACK;
	if (!cfg->fw.fail_closed)
		flags |= NFQA_CFG_F_FAIL_OPEN;
	if (nfq_config_params(w, flags, err, errlen) == -1) {
		/*
		 * Kernels without the conntrack glue refuse F_CONNTRACK with
		 * EOPNOTSUPP.  Conntrack info is only informational here (flow
		 * marks go through the ruleset), so carry on without it.
		 */
		if (errno != EOPNOTSUPP)
			goto fail;
		flags &= ~(uint32_t)NFQA_CFG_F_CONNTRACK;
		if (nfq_config_params(w, flags, err, errlen) == -1)
			goto fail;
		log_debug("nfq %u: no conntrack info in queued packets "
		    "(kernel without the netlink conntrack glue)", queue_num);
	}

	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
		snprintf(err, errlen, "netlink non-blocking: %s",
		    strerror(errno));
		goto fail;
	}
	log_info("nfq %u: queue bound (%s)", queue_num,
	    (flags & NFQA_CFG_F_FAIL_OPEN) ? "fail-open" : "fail-closed");
	return w;
fail:
	nfq_worker_free(w);
	return NULL;
}

int
nfq_worker_fd(const struct nfq_worker *w)
{
	return mnl_socket_get_fd(w->nl);
}

int
nfq_worker_handle(struct nfq_worker *w, struct policy *p)
{
	unsigned i;
	ssize_t n;
	int r, ret = 0;

	w->policy = p;
	nfq_hold_expire(w, loop_now_ms());
	for (i = 0; i < NFQ_RECV_BURST; i++) {
		n = mnl_socket_recvfrom(w->nl, w->rbuf, NFQ_RECV_BUF);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				uint64_t now = loop_now_ms();

				w->stats.enobufs++;
				if (now - w->enobufs_logged_ms >=
				    NFQ_ENOBUFS_LOG_MS) {
					log_warnx("nfq %u: receive buffer "
					    "overflowed, the kernel %s packets "
					    "(%lu times so far)", w->queue_num,
					    "dropped or bypassed",
					    w->stats.enobufs);
					w->enobufs_logged_ms = now;
				}
				continue;
			}
			log_warn("nfq %u: recv", w->queue_num);
			w->stats.errors++;
			ret = -1;
			break;
		}
		r = mnl_cb_run(w->rbuf, (size_t)n, 0, w->portid, nfq_packet_cb,
		    w);
		if (r == -1) {
			/* An error message for a verdict (expired id): go on. */
			log_warn("nfq %u: netlink message", w->queue_num);
			w->stats.errors++;
		}
		nfq_flush(w);
	}
	nfq_flush(w);
	w->policy = NULL;
	return ret;
}

void
nfq_worker_stats(const struct nfq_worker *w, struct nfq_stats *out)
{
	*out = w->stats;
}

void
nfq_worker_free(struct nfq_worker *w)
{
	char cbuf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	memset(cbuf, 0, sizeof(cbuf));	/* no uninitialised bytes reach the kernel */
	if (w == NULL)
		return;
	if (w->nl != NULL) {
		/* Queued packets get dropped (or bypassed) by the kernel. */
		nlh = nfq_nlmsg_put(cbuf, NFQNL_MSG_CONFIG, w->queue_num);
		nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
		mnl_socket_sendto(w->nl, nlh, nlh->nlmsg_len);
		mnl_socket_close(w->nl);
	}
	free(w->rbuf);
	free(w->sbuf);
	nfq_verdict_free(w->vs);
	free(w);
}
