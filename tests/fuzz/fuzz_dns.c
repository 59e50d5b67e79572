/*
 * fuzz_dns.c - libFuzzer target for the DNS query parser and TCP framing.
 *
 * Besides "no crash", checks the contract: success consumes exactly the
 * input, the name is lower case printable text within DNS_NAME_TEXT_MAX,
 * an error always carries a reason and a position inside the input, and
 * the TCP frame helper never reports more than it was given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nfq/nfq_dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_query q;
	size_t msglen = 0, i, n;
	int r;

	r = nfq_dns_parse_query(data, size, &q);
	if (r == -1) {
		if (q.err == NULL || q.err_pos > size)
			abort();
	} else {
		if ((size_t)r != size)
			abort();
		n = strlen(q.qname);
		if (n == 0 || n > DNS_NAME_TEXT_MAX)
			abort();
		for (i = 0; i < n; i++)
			if (q.qname[i] <= 0x20 || q.qname[i] >= 0x7f ||
			    (q.qname[i] >= 'A' && q.qname[i] <= 'Z'))
				abort();
		if (q.longest_label > DNS_LABEL_MAX)
			abort();
	}
	r = nfq_dns_tcp_frame(data, size, &msglen);
	if (r < -1 || (r > 0 && ((size_t)r > size ||
	    (size_t)r != DNS_TCP_LEN_SIZE + msglen)))
		abort();
	if (r > 0)
		(void)nfq_dns_parse_query(data + DNS_TCP_LEN_SIZE, msglen, &q);
	return 0;
}
