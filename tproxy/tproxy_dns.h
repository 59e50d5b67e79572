/*
 * tproxy_dns.h - DNS over TCP (port 53) on the transparent path.
 *
 * The ruleset steers agent TCP 53 to the engine ("dns-tcp"); a connection
 * whose original destination port is 53 is not sniffed but judged as a
 * DNS stream: each length-prefixed message gets the same verdict as a UDP
 * query (nfq_verdict: resolver in firewall.dns_servers, firewall.dns mode,
 * query shape, domain policy and DLP on the name, per-agent budget), and
 * only allowed frames go upstream, in order.  tproxy_conn.c owns the
 * sockets and the buffer; this module judges one frame at a time and
 * builds the answer to a refused query.
 *
 * Verdict state (the DNS budget, parsed address lists) is per worker
 * thread, created on first use: the budget of an agent whose connections
 * land on several workers is counted per worker (coarser, never looser
 * than one worker's count per connection), and separate from the UDP
 * workers' budget.
 */
#ifndef PIPELOCK_TPROXY_DNS_H
#define PIPELOCK_TPROXY_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "nfq/nfq_dns.h"
#include "nfq/nfq_verdict.h"

struct policy;

#define TPROXY_DNS_PORT		53
/* client bytes held (judged or not, not yet sent): two maximal frames */
#define TPROXY_DNS_HOLD		(2 * NFQ_DNS_TCP_HOLD_MAX)
/* a REFUSED answer: length prefix, header, the question echoed */
#define TPROXY_DNS_RESP_MAX	(DNS_TCP_LEN_SIZE + DNS_HDR_LEN + \
				 DNS_NAME_WIRE_MAX + 4)
#define TPROXY_DNS_RCODE_REFUSED	5

/* One frame's verdict. */
struct tproxy_dns_verdict {
	struct nfq_decision	d;	/* why; d.audit: write an audit line */
	uint8_t			resp[TPROXY_DNS_RESP_MAX];
	size_t			resp_len;	/* 0: no answer, just close */
};

/* 1 if a connection to dst (its original destination) is DNS over TCP. */
int tproxy_dns_is_dns(const struct sockaddr_storage *dst);

/*
 * Judge the frame at the start of buf (len bytes held, not yet judged) of
 * a connection from src to dst by uid (-1: unknown) under policy p.
 * Returns the frame's length (> 0) when it is allowed (v->d.audit set for
 * a policy finding in warn mode), 0 when it is incomplete (read more;
 * hold TPROXY_DNS_HOLD bytes), or -1 when it is refused: v->d says why and
 * v->resp holds a framed REFUSED answer with the query's ID and question
 * (resp_len 0 when the frame is malformed or verdict state cannot be
 * allocated: close without an answer).  Nothing of a refused frame may be
 * forwarded.  Uses this thread's verdict state.
 */
int tproxy_dns_judge(const struct policy *p, const struct sockaddr_storage *src,
    const struct sockaddr_storage *dst, long long uid, const uint8_t *buf,
    size_t len, uint64_t now_ms, struct tproxy_dns_verdict *v);

/*
 * Build into out (outlen bytes) the framed answer with RCODE rcode to the
 * DNS query msg (msglen bytes, without the length prefix): same ID, opcode
 * and RD, QR set, the question echoed, no records.  Returns the answer's
 * length, or -1 when msg is not a well-formed query or out is too small.
 * Pure.
 */
int tproxy_dns_answer_build(const uint8_t *msg, size_t msglen, unsigned rcode,
    uint8_t *out, size_t outlen);

/* Free this thread's verdict state (worker exit); safe to call twice. */
void tproxy_dns_thread_free(void);

#endif
