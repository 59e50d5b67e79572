/*
 * tproxy_dns.c - DNS over TCP frames judged like UDP queries (see
 * tproxy_dns.h).
 *
 * One frame per call, so every refused or warned query gets its own
 * decision (and audit line) and the caller can forward the allowed frames
 * before it.  A refused query that parses is answered REFUSED with its ID
 * and question, so the agent's resolver fails at once instead of waiting
 * for a timeout and retrying elsewhere; a malformed frame gets no answer
 * (a real resolver library never sends one) and the connection closes.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "nfq/nfq_dns.h"
#include "nfq/nfq_verdict.h"
#include "tproxy/tproxy_dns.h"

#define DNS_FLAG_QR		0x8000
#define DNS_FLAG_OPCODE		0x7800
#define DNS_FLAG_RD		0x0100
#define DNS_FLAG_RA		0x0080
#define DNS_FLAG_RCODE		0x000f
#define DNS_Q_FIXED_LEN		4	/* qtype, qclass */

/* This worker thread's verdict state (budget), created on first use. */
static __thread struct nfq_verdict_state *tproxy_dns_state;

int
tproxy_dns_is_dns(const struct sockaddr_storage *dst)
{
	if (dst->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)dst)->sin_port) ==
		    TPROXY_DNS_PORT;
	if (dst->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)dst)->sin6_port) ==
		    TPROXY_DNS_PORT;
	return 0;
}

int
tproxy_dns_answer_build(const uint8_t *msg, size_t msglen, unsigned rcode,
    uint8_t *out, size_t outlen)
{
	struct dns_query q;
	size_t p = DNS_HDR_LEN, qlen, n;
	uint16_t flags;

	if (nfq_dns_parse_query(msg, msglen, &q) == -1)
		return -1;
	/* the question's extent: plain labels (the parser refuses pointers) */
	while (p < msglen && msg[p] != 0)
		p += 1 + (size_t)msg[p];
	p += 1 + DNS_Q_FIXED_LEN;
	if (p > msglen)
		return -1;
	qlen = p - DNS_HDR_LEN;
	n = DNS_HDR_LEN + qlen;
	if (outlen < DNS_TCP_LEN_SIZE + n)
		return -1;
	flags = (uint16_t)(DNS_FLAG_QR | DNS_FLAG_RA |
	    (q.flags & (DNS_FLAG_OPCODE | DNS_FLAG_RD)) | (rcode & DNS_FLAG_RCODE));
	memset(out, 0, DNS_TCP_LEN_SIZE + DNS_HDR_LEN);
	out[0] = (uint8_t)(n >> 8);
	out[1] = (uint8_t)n;
	out[2] = msg[0];		/* ID */
	out[3] = msg[1];
	out[4] = (uint8_t)(flags >> 8);
	out[5] = (uint8_t)flags;
	out[7] = 1;			/* QDCOUNT */
	memcpy(out + DNS_TCP_LEN_SIZE + DNS_HDR_LEN, msg + DNS_HDR_LEN, qlen);
	return (int)(DNS_TCP_LEN_SIZE + n);
}

int
tproxy_dns_judge(const struct policy *p, const struct sockaddr_storage *src,
    const struct sockaddr_storage *dst, long long uid, const uint8_t *buf,
    size_t len, uint64_t now_ms, struct tproxy_dns_verdict *v)
{
	struct nfq_packet pkt;
	size_t msglen = 0, flen = len;
	int n, r, a;

	memset(v, 0, sizeof(*v));
	if ((n = nfq_dns_tcp_frame(buf, len, &msglen)) == 0)
		return 0;
	if (n > 0)
		flen = (size_t)n;	/* judge this frame alone */
	if (tproxy_dns_state == NULL &&
	    (tproxy_dns_state = nfq_verdict_new()) == NULL) {
		v->d.event = "dns";
		v->d.verdict = NFQ_DROP;
		v->d.verdict_name = "block";
		v->d.audit = 1;
		snprintf(v->d.reason, sizeof(v->d.reason), "out of memory for "
		    "the DNS verdict state");
		return -1;
	}
	memset(&pkt, 0, sizeof(pkt));
	pkt.src = *src;
	pkt.dst = *dst;
	pkt.uid = uid;
	pkt.gid = -1;
	pkt.now_ms = now_ms;
	r = nfq_verdict_dns_tcp(tproxy_dns_state, p, &pkt, buf, flen, &v->d);
	if (r != -1)
		return r;	/* flen: the whole frame passed */
	if (n > 0 && v->d.verdict != NFQ_DROP &&
	    (a = tproxy_dns_answer_build(buf + DNS_TCP_LEN_SIZE, msglen,
	    TPROXY_DNS_RCODE_REFUSED, v->resp, sizeof(v->resp))) > 0)
		v->resp_len = (size_t)a;
	return -1;
}

void
tproxy_dns_thread_free(void)
{
	nfq_verdict_free(tproxy_dns_state);
	tproxy_dns_state = NULL;
}
