#!/usr/bin/env bash
# t_tproxy_audit.sh - the engine's audit log: the line of a curl request made
# by the agent names uid/gid 1000, a pid and /usr/bin/curl, the SNI, src and
# dst, and its close line carries bytes and duration; an agent retrying a
# blocked name in a loop produces one line plus a counted summary, not one
# line per attempt; every line is one JSON object.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh

tproxy_up
audit=$TEST_TMP/audit.log

out=$(as_agent curl -4 -sS --max-time 10 --cacert "$CA_DIR/ca.pem" https://allowed.test/audit-me 2>&1) ||
	fail "agent curl: $out"
wait_until 5 grep -q '"event":"tcp_close".*"host":"allowed.test"' "$audit" || fail "no close line"

loops=40
for ((i = 0; i < loops; i++)); do
	as_agent curl -4 -s --max-time 5 --cacert "$CA_DIR/ca.pem" https://blocked.test/loop >/dev/null 2>&1 || true
done
# summaries are written when each 1 s window closes: poll until all counted
cat >"$TEST_TMP/check.py" <<'PYEOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]   # every line is JSON
loops = int(sys.argv[2])
allow = [l for l in lines if l.get("event") == "tcp" and l.get("host") == "allowed.test"]
assert len(allow) == 1, allow
a = allow[0]
assert a["verdict"] == "allow" and a["proto"] == "tls", a
assert a["exe"] == "/usr/bin/curl" and a["uid"] == 1000 and a["gid"] == 1000 and a["pid"] > 1, a
assert a["src"].startswith("198.18.0.1:") and a["dst"] == "198.18.0.2:443", a
assert a["time"].endswith("Z") and "T" in a["time"], a
close = [l for l in lines if l.get("event") == "tcp_close" and l.get("host") == "allowed.test"]
assert len(close) == 1 and close[0]["bytes_up"] > 200 and close[0]["bytes_down"] > 200, close
assert close[0]["duration_ms"] >= 0, close
blk = [l for l in lines if l.get("event") == "tcp" and l.get("host") == "blocked.test" and "summary" not in l]
summ = [l for l in lines if l.get("summary") == "suppressed" and l.get("host") == "blocked.test"]
written = len(blk)
repeats = sum(l["repeats"] for l in summ)
assert written + repeats == loops, (written, repeats, loops)
assert written <= loops // 4, "rate limiting wrote %d of %d lines" % (written, loops)
assert all(l["exe"] == "/usr/bin/curl" for l in blk), blk
PYEOF
wait_until 5 "$PY" "$TEST_TMP/check.py" "$audit" "$loops" 2>/dev/null ||
	"$PY" "$TEST_TMP/check.py" "$audit" "$loops" || fail "audit lines wrong: $(cat "$audit")"
log "PASS t_tproxy_audit"
