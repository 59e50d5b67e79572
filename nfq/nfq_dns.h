/*
 * nfq_dns.h - DNS query parsing for the NFQUEUE (UDP) and TPROXY (TCP) paths.
 *
 * Only the shape of a real stub-resolver query is accepted: QR=0, opcode
 * QUERY, TC=0, RCODE 0, exactly one question, no answer or authority
 * records, at most one additional record which must be an EDNS OPT pseudo
 * record with the root name, and nothing after it.  Anything else is an
 * error: a query built to carry data in odd places is dropped, not parsed.
 *
 * Pure functions: no I/O, no logging, no allocation.
 */
#ifndef PIPELOCK_NFQ_DNS_H
#define PIPELOCK_NFQ_DNS_H

#include <stddef.h>
#include <stdint.h>

#define DNS_HDR_LEN		12
#define DNS_LABEL_MAX		63	/* RFC 1035 2.3.4 */
#define DNS_NAME_WIRE_MAX	255	/* RFC 1035 2.3.4, length octets included */
#define DNS_NAME_TEXT_MAX	253	/* dotted, no trailing dot */
#define DNS_MSG_MAX		65535
#define DNS_OPT_RDATA_MAX	512	/* EDNS options a stub sends: cookie, padding, ECS */
#define DNS_TCP_LEN_SIZE	2	/* RFC 1035 4.2.2 length prefix */

#define DNS_TYPE_A		1
#define DNS_TYPE_NULL		10
#define DNS_TYPE_TXT		16
#define DNS_TYPE_AAAA		28
#define DNS_TYPE_OPT		41
#define DNS_TYPE_ANY		255
#define DNS_CLASS_IN		1

struct dns_query {
	uint16_t	id;
	uint16_t	flags;
	uint16_t	qtype;
	uint16_t	qclass;
	char		qname[DNS_NAME_TEXT_MAX + 1];	/* lowercase, "." = root */
	unsigned	nlabels;
	unsigned	longest_label;
	int		has_edns;
	uint16_t	edns_udp_size;
	/* On error: what and where (byte offset in the message). */
	const char	*err;
	size_t		 err_pos;
};

/*
 * Parse one whole DNS query message (a UDP payload, or the message inside a
 * TCP frame).  Returns len (> 0, everything consumed) on success with q
 * filled, -1 on error with q->err (static string) and q->err_pos set.
 */
int nfq_dns_parse_query(const uint8_t *buf, size_t len, struct dns_query *q);

/*
 * DNS over TCP framing: buf holds the start of a stream.  Returns -1 when
 * the length prefix is impossible for a query (smaller than a header), 0
 * when more bytes are needed, else the size of the whole frame (prefix +
 * message) with the message at buf + DNS_TCP_LEN_SIZE, *msglen bytes.
 */
int nfq_dns_tcp_frame(const uint8_t *buf, size_t len, size_t *msglen);

/* Name of a query type for logs ("A", "TXT", "TYPE65"); buf >= 12 bytes. */
const char *nfq_dns_type_name(uint16_t qtype, char *buf, size_t buflen);

#endif
