/*
 * fuzz_tls_hello.c - libFuzzer target for the ClientHello parser.
 *
 * Besides "no crash", checks the parser's contract: a complete parse
 * consumes at most the input and parses the same from exactly the bytes it
 * consumed (the engine relies on that when the hello arrives in pieces), and
 * a reported SNI is a lower-case DNS name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tproxy/tproxy_tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_hello st, again;
	const char *p;
	int r;

	r = tls_hello_parse(data, size, &st);
	if (r < -1 || (r > 0 && (size_t)r > size))
		abort();
	if (r == -1 && st.err == NULL)
		abort();
	if (r > 0) {
		if (tls_hello_parse(data, (size_t)r, &again) != r ||
		    strcmp(again.sni, st.sni) != 0)
			abort();
		for (p = st.sni; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			    *p == '-' || *p == '_' || *p == '.'))
				abort();
		if (strlen(st.alpn) > TLS_ALPN_MAX)
			abort();
	}
	(void)tls_hello_probe(data, size);
	return 0;
}
