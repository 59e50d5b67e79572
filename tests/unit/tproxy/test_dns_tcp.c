/*
 * test_dns_tcp.c - DNS over TCP on the transparent path (tproxy_dns): one
 * frame judged per call under a real policy, the REFUSED answer's bytes,
 * malformed frames without an answer, warn mode.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "core/policy.h"
#include "lib/testpolicy.h"
#include "tproxy/tproxy_dns.h"

static const char yaml_fmt[] =
    "version: 1\n"
    "enforce: %s\n"
    "fetch_proxy:\n"
    "  monitoring:\n"
    "    blocklist: [\"*.blocked.test\"]\n"
    "firewall:\n"
    "  dns: %s\n"
    "  dns_servers: [\"198.18.0.53\", \"fd00::53\"]\n";

static struct policy *
make_policy(const char *enforce, const char *dns)
{
	char y[1024];

	snprintf(y, sizeof(y), yaml_fmt, enforce, dns);
	return testpolicy_new(y);
}

/* A framed query (ID 0xab12, RD, optional EDNS OPT) for name at s + off. */
static size_t
frame_put(uint8_t *s, size_t off, const char *name, unsigned qtype, int edns)
{
	uint8_t *q = s + off + 2;
	const char *p = name;
	size_t n;

	memset(q, 0, 12);
	q[0] = 0xab;
	q[1] = 0x12;
	q[2] = 0x01;		/* RD */
	q[5] = 1;
	q[11] = edns ? 1 : 0;
	n = 12;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		q[n++] = (uint8_t)l;
		memcpy(q + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	q[n++] = 0;
	q[n++] = (uint8_t)(qtype >> 8);
	q[n++] = (uint8_t)qtype;
	q[n++] = 0;
	q[n++] = 1;
	if (edns) {
		static const uint8_t opt[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0,
		    0, 0, 0 };

		memcpy(q + n, opt, sizeof(opt));
		n += sizeof(opt);
	}
	s[off] = (uint8_t)(n >> 8);
	s[off + 1] = (uint8_t)n;
	return off + 2 + n;
}

static struct sockaddr_storage src, dst;
static uint64_t now = 500000;

static int
judge(const struct policy *p, const uint8_t *b, size_t len,
    struct tproxy_dns_verdict *v)
{
	return tproxy_dns_judge(p, &src, &dst, 1000, b, len, now, v);
}

/* The REFUSED answer to the query framed at s: bytes checked one by one. */
static void
check_refused(const uint8_t *s, const struct tproxy_dns_verdict *v,
    const char *what)
{
	size_t qlen = ((size_t)s[0] << 8 | s[1]);
	size_t question = qlen - 12;

	if (s[2 + 11] == 1)
		question -= 11;		/* the OPT record is not echoed */
	is_int((int)v->resp_len, (int)(2 + 12 + question), "%s: answer size",
	    what);
	if (v->resp_len != 2 + 12 + question)
		return;
	ok(v->resp[0] == (uint8_t)((12 + question) >> 8) &&
	    v->resp[1] == (uint8_t)(12 + question), "%s: length prefix", what);
	ok(v->resp[2] == 0xab && v->resp[3] == 0x12, "%s: same ID", what);
	ok((v->resp[4] & 0x80) && (v->resp[4] & 0x01), "%s: QR and RD set",
	    what);
	is_int(v->resp[5] & 0x0f, TPROXY_DNS_RCODE_REFUSED, "%s: RCODE REFUSED",
	    what);
	ok(v->resp[6] == 0 && v->resp[7] == 1 && v->resp[8] == 0 &&
	    v->resp[9] == 0 && v->resp[10] == 0 && v->resp[11] == 0 &&
	    v->resp[12] == 0 && v->resp[13] == 0, "%s: one question, no records",
	    what);
	ok(memcmp(v->resp + 14, s + 14, question) == 0, "%s: question echoed",
	    what);
}

int
main(void)
{
	struct policy *p, *pw, *pa;
	struct tproxy_dns_verdict v;
	uint8_t s[4096], ans[TPROXY_DNS_RESP_MAX];
	size_t a, b;
	int i, refused;

	p = make_policy("true", "inspect");
	pw = make_policy("false", "inspect");
	pa = make_policy("true", "allow");
	ok(p != NULL && pw != NULL && pa != NULL, "policies built");
	if (p == NULL || pw == NULL || pa == NULL)
		return tap_done();
	testpolicy_addr_set(&src, "198.18.0.10", 40001);
	testpolicy_addr_set(&dst, "198.18.0.53", 53);

	ok(tproxy_dns_is_dns(&dst), "port 53 is DNS over TCP");
	testpolicy_addr_set(&dst, "fd00::53", 53);
	ok(tproxy_dns_is_dns(&dst), "[v6]:53 is DNS over TCP");
	testpolicy_addr_set(&dst, "198.18.0.53", 853);
	ok(!tproxy_dns_is_dns(&dst), "port 853 is not");
	testpolicy_addr_set(&dst, "198.18.0.53", 53);

	/* two frames: judged one at a time */
	a = frame_put(s, 0, "one.example.com", 1, 0);
	b = frame_put(s, a, "two.example.com", 28, 1);
	is_int(judge(p, s, b, &v), (int)a, "first of two frames alone");
	is_int(judge(p, s + a, b - a, &v), (int)(b - a),
	    "second frame (with EDNS) allowed");
	ok(!v.d.audit, "allowed query: no audit line");
	is_int(judge(p, s, 1, &v), 0, "one byte of a prefix: need more");
	is_int(judge(p, s, a - 1, &v), 0, "frame less a byte: need more");

	/* a secret split over labels: refused, answered REFUSED */
	b = frame_put(s, 0, "akia2e3r4t.5y6u7i8o9p.exfil.example.com", 16, 0);
	is_int(judge(p, s, b, &v), -1, "secret in labels refused");
	ok(v.d.verdict == NFQ_REJECT && v.d.audit && v.d.scanner != NULL,
	    "refusal audited with its scanner (%s)",
	    v.d.scanner ? v.d.scanner : "none");
	check_refused(s, &v, "secret");
	/* blocklisted, with EDNS: the answer echoes the question only */
	b = frame_put(s, 0, "x.blocked.test", 1, 1);
	is_int(judge(p, s, b, &v), -1, "blocklisted name refused");
	check_refused(s, &v, "blocklisted+EDNS");
	/* not a configured resolver: refused, answered */
	testpolicy_addr_set(&dst, "198.18.0.99", 53);
	b = frame_put(s, 0, "fine.example.com", 1, 0);
	is_int(judge(p, s, b, &v), -1, "to a non-resolver refused");
	check_refused(s, &v, "non-resolver");
	testpolicy_addr_set(&dst, "198.18.0.53", 53);

	/* malformed: no answer */
	b = frame_put(s, 0, "shape.example.com", 1, 0);
	s[2 + 7] = 1;		/* ANCOUNT 1 */
	is_int(judge(p, s, b, &v), -1, "query with an answer record refused");
	ok(v.d.verdict == NFQ_DROP && v.resp_len == 0,
	    "malformed: no answer, close");
	s[0] = 0;
	s[1] = 3;
	is_int(judge(p, s, 5, &v), -1, "length prefix below a header refused");
	ok(v.resp_len == 0, "impossible prefix: no answer");
	memset(s, 0xff, 300);
	s[0] = 0;
	s[1] = 200;
	is_int(judge(p, s, 202, &v), -1, "garbage frame refused");
	ok(v.resp_len == 0, "garbage: no answer");

	/* warn mode: a finding passes, audited as warn */
	b = frame_put(s, 0, "akiaq2w3e4r5t.6y7u8i9o0p.exfil.example.com", 1, 0);
	is_int(judge(pw, s, b, &v), (int)b, "warn mode: secret passes");
	ok(v.d.audit && v.d.verdict_name != NULL &&
	    strcmp(v.d.verdict_name, "warn") == 0, "warn mode: audited as warn");
	/* dns: allow: shape only */
	is_int(judge(pa, s, b, &v), (int)b, "dns: allow: secret not checked");
	s[2 + 7] = 1;
	is_int(judge(pa, s, b, &v), -1, "dns: allow: shape still checked");

	/* the budget: distinct names under one domain, counted per thread */
	refused = 0;
	for (i = 0; i < NFQ_DNS_BUDGET_NAMES + 2; i++) {
		char name[64];

		snprintf(name, sizeof(name), "n%d.budget.example.org", i);
		b = frame_put(s, 0, name, 16, 0);
		if (judge(p, s, b, &v) == -1)
			refused++;
	}
	is_int(refused, 2, "budget: names past %d refused",
	    NFQ_DNS_BUDGET_NAMES);
	ok(v.d.scanner != NULL && strcmp(v.d.scanner, "dns_budget") == 0 &&
	    v.resp_len > 0, "budget refusal answered REFUSED");

	/* the answer builder alone */
	b = frame_put(s, 0, "a.example.com", 1, 0);
	ok(tproxy_dns_answer_build(s + 2, b - 2, 5, ans, 10) == -1,
	    "answer: too small an output refused");
	ok(tproxy_dns_answer_build(s + 2, 11, 5, ans, sizeof(ans)) == -1,
	    "answer: short message refused");
	is_int(tproxy_dns_answer_build(s + 2, b - 2, 5, ans, sizeof(ans)),
	    (int)b, "answer to a plain query: as long as the query");

	tproxy_dns_thread_free();
	tproxy_dns_thread_free();
	ok(1, "thread state freed twice");
	policy_unref(p);
	policy_unref(pw);
	policy_unref(pa);
	return tap_done();
}
