#!/usr/bin/env bash
# t_demo.sh - scripts/demo.sh (`sudo make demo`) runs non-interactively:
# the allowed requests pass, the fake key, pastebin.com (by DNS and by SNI)
# and both DNS exfil attempts are blocked, with their audit lines, `verify`
# passes, and afterwards no namespace, /etc/netns entry, temporary
# directory or process of the demo is left; a Ctrl-C (SIGINT to the demo's
# process group) half way cleans up the same way.
set -eu
. tests/integration/lib.sh

[[ $(id -u) -eq 0 ]] || skip "needs root"
need_cmd ip setpriv openssl dnsmasq curl ss "$PY" timeout
OUT=$(mktemp /tmp/.plfw-demo-test.XXXXXX)
trap 'rm -f "$OUT"' EXIT

# left_behind OUTPUT_FILE -- fail if anything the demo created still exists
left_behind() {
	local a i tmp pid
	read -r _ a i < <(grep -m1 '^namespaces: ' "$1") || fail "demo did not print its namespaces"
	for ns in "$a" "$i"; do
		ns_exists "$ns" && fail "namespace $ns left behind"
		[[ -e /etc/netns/$ns ]] && fail "/etc/netns/$ns left behind"
	done
	tmp=$(grep -o '/tmp/pipelock-fw-demo\.[A-Za-z0-9]*' "$1" | head -n1 || true)
	[[ -z $tmp || ! -e $tmp ]] || fail "$tmp left behind"
	pid=$(sed -n 's/^engine running (pid \([0-9]*\)).*/\1/p' "$1")
	[[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null || fail "engine $pid left running"
	return 0
}

rc=0
timeout 180 bash scripts/demo.sh "$PLFW" >"$OUT" 2>&1 </dev/null || rc=$?
cat "$OUT" >&2
((rc == 0)) || fail "demo exited $rc"
n=$(grep -c '=> ALLOWED$' "$OUT" || true)
((n == 2)) || fail "$n allowed results, want 2"
n=$(grep -c '=> BLOCKED$' "$OUT" || true)
((n == 5)) || fail "$n blocked results, want 5"
grep -q 'expected' <(grep '=>' "$OUT") && fail "a request did not behave as expected"
for pat in 'hello from example.com/' \
	'audit: .*"verdict":"allow".*"host":"example.com"' \
	'audit: .*"verdict":"block","reason":"DLP match: Anthropic API Key' \
	'audit: .*"event":"dns","verdict":"block","reason":"domain blocked: pastebin.com' \
	'audit: .*"proto":"tls".*"verdict":"block"|audit: .*"verdict":"block".*"proto":"tls".*pastebin' \
	'refused: \[Errno 1\] Operation not permitted' \
	'audit: .*"event":"dns","verdict":"block","reason":"DLP match: AWS' \
	'never received either exfil query' 'verify: PASS' \
	'demo: every request behaved as expected' 'demo: cleaned up'; do
	grep -Eq "$pat" "$OUT" || fail "demo output lacks /$pat/"
done
left_behind "$OUT"

# Ctrl-C half way: SIGINT to the demo's whole process group, as a terminal does
set -m
timeout 180 bash scripts/demo.sh "$PLFW" >"$OUT" 2>&1 </dev/null &
demo=$!
set +m
wait_until 60 grep -q '^engine running' "$OUT" || fail "demo did not get to the engine"
kill -INT -- "-$demo"
wait_until 30 eval "! kill -0 $demo 2>/dev/null" || fail "demo did not stop on SIGINT"
rc=0
wait "$demo" || rc=$?
cat "$OUT" >&2
((rc != 0)) || fail "demo interrupted but exited 0"
grep -q 'demo: cleaned up' "$OUT" || fail "no cleanup message after SIGINT"
left_behind "$OUT"
log "PASS t_demo"
