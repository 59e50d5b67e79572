/*
 * fuzz_http.c - libFuzzer target for the HTTP/1.x request parser and the
 * per-connection inspector.
 *
 * Oracles besides ASan/UBSan: the parser must reach the same verdict when
 * the input arrives in one piece and byte by byte (need-more correctness),
 * consumed counts never exceed the input, and the inspector (default
 * scanner) never forwards more than it was given nor blocks without a
 * response.  Seed corpus: tests/fuzz/corpus/fuzz_http/ (the unit vectors).
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scanner/scanner.h"
#include "tproxy/tproxy_http.h"
#include "tproxy/tproxy_inspect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	int		ret;
	int		status;
	size_t		payload;
};

/*
 * Parse pipelined messages from buf as a client would send them: the
 * visible part grows by step bytes whenever the parser asks for more.
 */
static struct run
parse_all(const char *buf, size_t len, size_t step)
{
	struct run out = { 0, 0, 0 };
	size_t base = 0, vis = 0, pos;
	struct http_request req;
	struct http_body body;
	struct http_span d;
	int r, n;

	for (n = 0; n < 64 && base < len; n++) {
		http_request_init(&req);
		for (;;) {
			r = http_request_parse(&req, buf + base, vis);
			if (r != 0 || vis == len - base)
				break;
			vis = vis + step > len - base ? len - base : vis + step;
		}
		if (r <= 0) {
			out.ret = r;
			out.status = r < 0 ? req.status : 0;
			return out;
		}
		if ((size_t)r > vis)
			abort();
		pos = (size_t)r;
		http_body_init(&body, &req);
		while (!body.done) {
			r = http_body_parse(&body, buf + base + pos, vis - pos, &d);
			if (r < 0) {
				out.ret = -1;
				out.status = body.status;
				return out;
			}
			if (r == 0) {
				if (vis == len - base)
					break;
				vis = vis + step > len - base ? len - base :
				    vis + step;
				continue;
			}
			if ((size_t)r > vis - pos || d.off + d.len > (size_t)r)
				abort();
			out.payload += d.len;
			pos += (size_t)r;
		}
		if (!body.done) {
			out.ret = 0;
			return out;
		}
		base += pos;
		vis -= pos;
		out.ret = (int)base;
	}
	return out;
}

static struct scanner *fuzz_scanner;

static void
inspect_all(const char *buf, size_t len, size_t step)
{
	struct sockaddr_in dst;
	struct inspect_config ic;
	struct inspect_action act;
	struct inspect *in;
	static struct strlist sens, ign;
	static char *sens_v[] = { "Authorization", "Cookie", "X-Api-Key" };
	size_t start = 0, end = 0;
	int k, guard;

	if (fuzz_scanner == NULL) {
		struct scanner_config cfg;
		char err[256];

		scanner_config_defaults(&cfg);
		fuzz_scanner = scanner_new(&cfg, err, sizeof(err));
		scanner_config_clear(&cfg);
		if (fuzz_scanner == NULL)
			abort();
		sens.v = sens_v;
		sens.n = 3;
	}
	memset(&ic, 0, sizeof(ic));
	ic.scanner = fuzz_scanner;
	ic.enforce = 1;
	ic.body_enabled = 1;
	ic.body_action_block = step & 1;
	ic.max_body_bytes = 4096;
	ic.scan_headers = 1;
	ic.header_mode_all = (step & 2) != 0;
	ic.sensitive_headers = &sens;
	ic.ignore_headers = &ign;
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons(80);
	dst.sin_addr.s_addr = htonl(0xc6120001);
	if ((in = inspect_new(&ic, (struct sockaddr *)&dst, sizeof(dst),
	    step & 4 ? "example.com" : NULL)) == NULL)
		abort();
	for (guard = 0; guard < 100000 && start <= len; guard++) {
		end = end + step > len ? len : end + step;
		k = inspect_feed(in, buf + start, end - start, &act);
		if (k == -1)
			abort();
		while (k == INSPECT_FORWARD || k == INSPECT_CONTINUE) {
			if (k == INSPECT_FORWARD) {
				if (act.len == 0 || act.len > end - start)
					abort();
				start += act.len;
			} else if (act.resp_len == 0) {
				abort();
			}
			k = inspect_feed(in, buf + start, end - start, &act);
		}
		if (k == INSPECT_BLOCK) {
			if (act.resp_len == 0 || act.resp == NULL)
				abort();
			break;
		}
		if (k == INSPECT_TUNNEL || end == len)
			break;
	}
	inspect_free(in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct run whole, bytes;

	whole = parse_all(buf, size, size ? size : 1);
	if (size <= 4096) {
		bytes = parse_all(buf, size, 1);
		if (whole.ret != bytes.ret || whole.status != bytes.status ||
		    whole.payload != bytes.payload)
			abort();
	}
	inspect_all(buf, size, size > 0 ? (size_t)data[0] % 7 + 1 : 1);
	inspect_all(buf, size, size ? size : 1);
	return 0;
}
