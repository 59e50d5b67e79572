/*
 * fuzz_dns_answer.c - libFuzzer target for the REFUSED answer that the
 * DNS-over-TCP path builds from an agent's query (tproxy_dns).
 *
 * Besides "no crash", checks the contract: an answer exists exactly when
 * the query parses, it fits TPROXY_DNS_RESP_MAX and is never longer than
 * the framed query, its length prefix matches, it keeps the query's ID,
 * sets QR and the RCODE asked for, and carries one question and no records.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nfq/nfq_dns.h"
#include "tproxy/tproxy_dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[TPROXY_DNS_RESP_MAX];
	struct dns_query q;
	int parsed, r;
	size_t n;

	parsed = nfq_dns_parse_query(data, size, &q) != -1;
	r = tproxy_dns_answer_build(data, size, TPROXY_DNS_RCODE_REFUSED, out,
	    sizeof(out));
	if ((r > 0) != parsed)
		abort();
	if (r <= 0)
		return 0;
	n = (size_t)r;
	if (n > sizeof(out) || n > DNS_TCP_LEN_SIZE + size ||
	    n < DNS_TCP_LEN_SIZE + DNS_HDR_LEN + 5)
		abort();
	if (((size_t)out[0] << 8 | out[1]) != n - DNS_TCP_LEN_SIZE)
		abort();
	if (out[2] != data[0] || out[3] != data[1] || !(out[4] & 0x80) ||
	    (out[5] & 0x0f) != TPROXY_DNS_RCODE_REFUSED)
		abort();
	if (out[6] != 0 || out[7] != 1 || out[8] || out[9] || out[10] ||
	    out[11] || out[12] || out[13])
		abort();
	if (memcmp(out + DNS_TCP_LEN_SIZE + DNS_HDR_LEN, data + DNS_HDR_LEN,
	    n - DNS_TCP_LEN_SIZE - DNS_HDR_LEN) != 0)
		abort();
	return 0;
}
