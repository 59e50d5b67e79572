/*
 * fuzz_quic.c - libFuzzer target for the QUIC Initial decoder.
 *
 * The first input byte picks the path: raw datagrams through
 * nfq_quic_feed() (header parsing, header protection, AEAD refusal), or
 * the rest of the input sealed as the frames of a real client Initial so
 * the frame walker, CRYPTO reassembly and ClientHello parser behind the
 * AEAD are reached too.  One table lives across inputs, as in the worker,
 * so reassembly across datagrams and eviction are exercised.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nfq/nfq_quic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct nfq_quic_table *table;
static uint64_t now_ms;
static uint8_t dgram[QUIC_DGRAM_MAX];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t dcid[8] = { 0xf0, 0x0d, 1, 2, 3, 4, 5, 6 };
	struct tls_hello th;
	struct quic_hdr h;
	const char *err = NULL;
	enum quic_result r;
	int n;

	if (table == NULL && (table = nfq_quic_table_new()) == NULL)
		abort();
	if (size < 1)
		return 0;
	now_ms += 100;
	if (data[0] & 1) {
		/* The rest as frames, sealed into a 1200-byte Initial. */
		n = nfq_quic_seal_initial(dcid, sizeof(dcid), NULL, 0,
		    data[0] >> 1, data + 1, size - 1, QUIC_INITIAL_MIN, dgram,
		    sizeof(dgram));
		if (n == -1)
			return 0;
		r = nfq_quic_feed(table, dgram, (size_t)n, now_ms, &th, &err);
	} else {
		if (nfq_quic_parse_long(data + 1, size - 1, &h) > (int)size)
			abort();
		r = nfq_quic_feed(table, data + 1, size - 1, now_ms, &th, &err);
	}
	if (r == QUIC_MALFORMED && err == NULL)
		abort();
	if (r == QUIC_HELLO && th.has_sni && strlen(th.sni) > TLS_SNI_MAX)
		abort();
	return 0;
}
