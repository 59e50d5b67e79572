#!/usr/bin/env bash
# bench_dns.sh - DNS verdicts per second through NFQUEUE (the engine with
# one worker: one queue, one thread) against the direct query rate, in the
# integration tests' topology (tests/integration/lib.sh): dnsmasq in the
# "internet" namespace answers bench.test locally; a pipelined UDP load
# generator (python, one socket, BENCH_DNS_WINDOW queries in flight) asks
# BENCH_DNS_COUNT queries, bounded by BENCH_DNS_SECONDS, and counts answers.
#   direct   the same generator as a uid that is not an agent (not queued)
#   nfqueue  as the agent uid: every query is queued, parsed, checked
#            (resolver, shape, blocklist/DLP/entropy, budget) and accepted
# Prints one line of results.  Exit 0 measured, 77 skipped (not root, no
# dnsmasq), 1 failed (the check that the agent's queries really went through
# the queue, or no answers at all).
#
#   sudo PIPELOCK_FW=$PWD/build/pipelock-fw tests/bench/bench_dns.sh
#   (or `make bench`)
set -eu
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

COUNT=${BENCH_DNS_COUNT:-100000}
SECONDS_MAX=${BENCH_DNS_SECONDS:-10}
WINDOW=${BENCH_DNS_WINDOW:-32}

[[ $(id -u) -eq 0 ]] || skip "needs root"
command -v dnsmasq >/dev/null 2>&1 || skip "no dnsmasq (scripts/deps.sh)"
topo_up
plfw_ready || skip "pipelock-fw not built"

bg_start "$TEST_TMP/dnsmasq.err" ip netns exec "$NET_NS" dnsmasq --keep-in-foreground \
	--no-resolv --no-hosts --bind-interfaces --listen-address="$V4_UP" --port=53 \
	--user=root --group=root --address=/bench.test/"$V4_UP" --dns-forward-max=1000
wait_until 10 eval "in_net ss -Hlun 'sport = :53' | grep -q ." || fail "dnsmasq did not start"

cat >"$TEST_TMP/load.py" <<'EOF'
import select, socket, struct, sys, time
srv, count, secs, window = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
def query(i):
    return struct.pack(">HHHHHH", i & 0xffff, 0x0100, 1, 0, 0, 0) + \
        b"\x05bench\x04test\x00" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((srv, 53))
s.setblocking(False)
sent = answered = errors = 0
t0 = time.monotonic()
end = t0 + secs
def fill(n):
    global sent
    for _ in range(n):
        if sent >= count:
            return
        try:
            s.send(query(sent))
        except BlockingIOError:
            return
        sent += 1
fill(window)
while answered < count and time.monotonic() < end:
    r, _, _ = select.select([s], [], [], 0.2)
    if not r:
        fill(window)            # lost in flight: re-prime the window
        continue
    while True:
        try:
            s.recv(512)
        except BlockingIOError:
            break
        except OSError:
            errors += 1
            break
        answered += 1
        fill(1)
el = time.monotonic() - t0
print("%d %.3f %d" % (answered, el, errors))
EOF
chmod 0644 "$TEST_TMP/load.py"

# run UID -> "answered seconds errors"
run() { as_uid "$1" "$PY" "$TEST_TMP/load.py" "$V4_UP" "$COUNT" "$SECONDS_MAX" "$WINDOW"; }
rate() { awk '{ if ($2 > 0) printf "%d", $1 / $2; else print 0 }' <<<"$1"; }

make_config "dns_servers: [\"$V4_UP\"]"
engine_start --config "$PLFW_CONFIG" --apply --workers 1
wait_until 5 eval "in_host cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null | grep -q ." ||
	fail "the engine did not bind its queue"
queued0=$(in_host awk '$1 == 0 { print $8 }' /proc/net/netfilter/nfnetlink_queue)

direct=$(run "$OTHER_UID")
queued_mid=$(in_host awk '$1 == 0 { print $8 }' /proc/net/netfilter/nfnetlink_queue)
((queued_mid == queued0)) || fail "the non-agent's queries were queued"
nfq=$(run "$AGENT_UID")
queued1=$(in_host awk '$1 == 0 { print $8 }' /proc/net/netfilter/nfnetlink_queue)
read -r n_nfq _ _ <<<"$nfq"
((queued1 - queued_mid >= n_nfq)) || fail "only $((queued1 - queued_mid)) of $n_nfq agent queries went through the queue"
pid_alive "$ENGINE_PID" || fail "engine died under load"
engine_stop

rd=$(rate "$direct")
rq=$(rate "$nfq")
((rd > 0 && rq > 0)) || fail "no answers (direct: $direct, nfqueue: $nfq)"
printf 'bench_dns: direct %d q/s, through NFQUEUE (1 worker) %d verdicts/s = %d%% of direct (%s answered in %ss direct, %s in %ss queued; window %d, cap %d queries / %ds)\n' \
	"$rd" "$rq" $((rq * 100 / rd)) "$(cut -d' ' -f1 <<<"$direct")" "$(cut -d' ' -f2 <<<"$direct")" \
	"$(cut -d' ' -f1 <<<"$nfq")" "$(cut -d' ' -f2 <<<"$nfq")" "$WINDOW" "$COUNT" "$SECONDS_MAX"
