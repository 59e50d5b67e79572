/*
 * test_verdict_killswitch.c - the engine's kill switch in the UDP decision
 * (nfq_verdict_set_killswitch): while it is active every datagram, an
 * allowed DNS query and a packet of a remembered allowed flow included, is
 * refused with reason kill_switch; released, the same datagrams pass again.
 */
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "lib/testpolicy.h"
#include "core/killswitch.h"
#include "core/policy.h"
#include "nfq/nfq_verdict.h"

static const char yaml[] =
    "version: 1\n"
    "firewall:\n"
    "  dns_servers: [\"198.18.0.53\"]\n"
    "  allow_ip_cidrs: [\"198.18.5.0/24\"]\n";

/* A well-formed query for "allowed.test", type A. */
static const uint8_t query[] = {
	0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	7, 'a', 'l', 'l', 'o', 'w', 'e', 'd', 4, 't', 'e', 's', 't', 0,
	0x00, 0x01, 0x00, 0x01,
};

static void
decide(struct nfq_verdict_state *st, struct policy *p, const char *dst,
    unsigned port, const uint8_t *payload, size_t len, struct nfq_decision *d)
{
	struct nfq_packet pkt;

	memset(&pkt, 0, sizeof(pkt));
	testpolicy_addr_set(&pkt.src, "198.18.0.1", 40000);
	testpolicy_addr_set(&pkt.dst, dst, port);
	pkt.uid = pkt.gid = 1000;
	pkt.payload = payload;
	pkt.len = len;
	pkt.now_ms = 1000;
	nfq_verdict_decide(st, p, &pkt, d);
}

int
main(void)
{
	static const uint8_t data[] = "plain udp";
	struct nfq_verdict_state *st = nfq_verdict_new();
	struct policy *p = testpolicy_new(yaml);
	struct killswitch *ks = killswitch_new(NULL);
	struct nfq_decision d;

	if (st == NULL || p == NULL || ks == NULL) {
		ok(0, "setup");
		return tap_done();
	}
	nfq_verdict_set_killswitch(ks);

	decide(st, p, "198.18.0.53", 53, query, sizeof(query), &d);
	is_int(d.verdict, NFQ_ACCEPT, "switch off: the DNS query is accepted");
	decide(st, p, "198.18.5.9", 9000, data, sizeof(data), &d);
	is_int(d.verdict, NFQ_ACCEPT, "switch off: UDP to allow_ip_cidrs accepted");

	killswitch_signal_toggle(ks);
	ok(killswitch_active(ks), "SIGUSR1 source on");
	decide(st, p, "198.18.0.53", 53, query, sizeof(query), &d);
	is_int(d.verdict, NFQ_REJECT, "switch on: the DNS query is refused");
	is_str(d.reason, "kill_switch", "reason kill_switch");
	is_str(d.event, "dns", "audited as dns");
	ok(d.audit, "audited");
	decide(st, p, "198.18.5.9", 9000, data, sizeof(data), &d);
	is_int(d.verdict, NFQ_REJECT, "switch on: UDP to allow_ip_cidrs refused");
	is_str(d.scanner, "kill_switch", "scanner kill_switch");

	killswitch_signal_toggle(ks);
	decide(st, p, "198.18.0.53", 53, query, sizeof(query), &d);
	is_int(d.verdict, NFQ_ACCEPT, "released: the DNS query passes again");

	nfq_verdict_set_killswitch(NULL);
	killswitch_signal_toggle(ks);
	decide(st, p, "198.18.0.53", 53, query, sizeof(query), &d);
	is_int(d.verdict, NFQ_ACCEPT, "no switch set: not consulted");

	killswitch_free(ks);
	policy_unref(p);
	nfq_verdict_free(st);
	return tap_done();
}
