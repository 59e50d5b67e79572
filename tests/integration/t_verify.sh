#!/usr/bin/env bash
# t_verify.sh - `pipelock-fw verify --as 1000`: every check passes in a
# namespace with the firewall applied and the engine running (direct TCP
# intercepted, the GET relayed, the fake key refused with 403, DNS to a
# non-resolver that answers (dnsmasq on 198.18.0.3) refused); once the rules
# are removed the same command fails (non-zero) and names the failed checks,
# also through --proxy when that proxy does not inspect.  Warnings: a
# program with file capabilities in --path, a user who is not an agent.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh

need_cmd dnsmasq
tproxy_up "dns_servers: [\"$V4_UP\"]"
bg_start "$TEST_TMP/dnsmasq.err" ip netns exec "$NET_NS" dnsmasq --keep-in-foreground \
	--no-resolv --no-hosts --bind-interfaces --listen-address="$V4_UP2" --port=53 \
	--user=root --group=root --address=/#/"$V4_UP" --pid-file="$TEST_TMP/dnsmasq.pid"
wait_until 10 eval "in_net ss -Hlun 'sport = :53' | grep -q ." || fail "dnsmasq did not start"

verify() {
	in_host "$PLFW" verify --as "$AGENT_UID" --config "$PLFW_CONFIG" --timeout 3 \
		--target allowed.test:80 --udp-probe "$V4_UP2:53" "$@"
}

rc=0
out=$(verify 2>&1) || rc=$?
printf '%s\n' "$out" >&2
((rc == 0)) || fail "verify failed (rc=$rc) with the firewall applied"
for pat in 'direct TCP to \S+ +PASS +intercepted' \
	'request through the engine +PASS +HTTP 200' \
	'request with a fake API key +PASS +HTTP 403' \
	"direct UDP/DNS to $V4_UP2:53 +PASS +refused" 'verify: PASS'; do
	grep -Eq "$pat" <<<"$out" || fail "verify output lacks /$pat/"
done
# the fake key was refused by the engine, never seen upstream
upstream_saw "sk-ant-api03-" && fail "the fake key reached the upstream"
grep -q '"verdict":"block"' "$TEST_TMP/audit.log" || fail "no block line in the audit log"

# ways around the firewall: a program with file capabilities in the agent's
# PATH (the checks still pass: a warning), and a user who is no agent at all
need_cmd setcap
mkdir "$TEST_TMP/capbin"
cp /bin/true "$TEST_TMP/capbin/netadmin-true"
setcap cap_net_admin+ep "$TEST_TMP/capbin/netadmin-true"
out=$(verify --path "$TEST_TMP/capbin" 2>&1) || fail "verify --path: $out"
grep -q "warning: $TEST_TMP/capbin/netadmin-true has file capabilities cap_net_admin" <<<"$out" ||
	fail "file capability not reported: $out"
rc=0
out=$(in_host "$PLFW" verify --as "$OTHER_UID" --config "$PLFW_CONFIG" --timeout 3 \
	--target allowed.test:80 --udp-probe "$V4_UP2:53" 2>&1) || rc=$?
((rc == 1)) || fail "verify --as a non-agent: rc=$rc, want 1"
grep -q "warning: uid $OTHER_UID .* is not an agent of the installed table" <<<"$out" ||
	fail "non-agent not reported: $out"

# an explicit engine target that is blocked by policy: check 2 must fail
rc=0
out=$(verify --probe allowed.test:80 --target blocked.test:80 2>&1) || rc=$?
((rc == 1)) || fail "verify with a blocked target: rc=$rc, want 1"
grep -Eq 'request through the engine +FAIL +blocked' <<<"$out" || fail "blocked target not reported: $out"

# rules gone: the agent talks to the internet directly
fw_remove >/dev/null
rc=0
out=$(verify 2>&1) || rc=$?
printf '%s\n' "$out" >&2
((rc == 1)) || fail "verify without rules: rc=$rc, want 1"
for pat in 'direct TCP to \S+ +FAIL +connected straight' \
	'request with a fake API key +FAIL +HTTP 200' \
	"direct UDP/DNS to $V4_UP2:53 +FAIL +answered" 'verify: FAIL'; do
	grep -Eq "$pat" <<<"$out" || fail "verify output (no rules) lacks /$pat/"
done

# --proxy pointed at something that relays without inspecting (here the
# upstream itself answers absolute-form requests): the key check must fail
rc=0
out=$(verify --proxy "$V4_UP:80" 2>&1) || rc=$?
((rc == 1)) || fail "verify --proxy (no inspection): rc=$rc, want 1"
grep -Eq 'request through the engine +PASS +HTTP 200' <<<"$out" || fail "proxy request not relayed: $out"
grep -Eq 'request with a fake API key +FAIL +HTTP 200' <<<"$out" || fail "uninspected proxy not caught: $out"

# usage errors
rc=0; in_host "$PLFW" verify --as 0 >/dev/null 2>&1 || rc=$?
((rc == 2)) || fail "verify --as 0: rc=$rc, want 2"
rc=0; in_host "$PLFW" verify >/dev/null 2>&1 || rc=$?
((rc == 2)) || fail "verify without --as: rc=$rc, want 2"
log "PASS t_verify"
