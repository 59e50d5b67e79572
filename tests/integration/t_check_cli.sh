#!/usr/bin/env bash
# t_check_cli.sh - `pipelock-fw check` from the command line: exit codes
# (0 allowed / 1 blocked / 2 usage or config error), human and JSON output,
# error positions, --list-patterns against the 48 built-in names and
# severities of the reference, --file (and stdin) streaming, and every real
# pipelock config in ../shared/reference/pipelock-configs loading with exit
# 0 or 1, never 2.  No network: check only scans.
set -eu
. tests/integration/lib.sh

REF=${PIPELOCK_REF:-../shared/reference}
[[ -r $REF/pipelock-config.md ]] || fail "reference not found at $REF"
T=$(mktemp -d /tmp/plfw-check.XXXXXX)
trap 'rm -rf "$T"' EXIT

# run_check WANT_RC ARGS...: stdout in $T/out, stderr in $T/err
run_check() {
	local want=$1 rc=0
	shift
	"$PLFW" check "$@" >"$T/out" 2>"$T/err" || rc=$?
	if ((rc != want)); then
		log "stdout:"; cat "$T/out" >&2
		log "stderr:"; cat "$T/err" >&2
		fail "check $* exited $rc, want $want"
	fi
}

# Secrets built at run time so the repository holds no live-looking token.
AWS_ID="AKIA$(printf 'Q%.0s' {1..4})7EXAMPLE2ABCD"
GH_TOKEN="ghp_$(printf 'aB3dE6gH9j%.0s' {1..4})"

# 1. usage
run_check 0 --help
grep -q '^Usage: pipelock-fw check' "$T/out" || fail "--help: no usage line"
"$PLFW" help check >"$T/out" 2>&1 || fail "help check failed"
grep -q -- '--list-patterns' "$T/out" || fail "help check: options missing"
run_check 2 --no-such-option
grep -q 'unknown option' "$T/err" || fail "unknown option not reported"
run_check 2 --url
run_check 2 stray-argument

# 2. only a config: the full load path, "configuration OK"
run_check 0 --config scripts/pipelock-fw.example.yaml
[[ $(cat "$T/out") == "configuration OK" ]] || fail "example config: $(cat "$T/out")"
run_check 0
[[ $(cat "$T/out") == "configuration OK" ]] || fail "defaults: $(cat "$T/out")"

# 3. config errors: exit 2, FILE:LINE:COL: key.path: message on stderr
printf 'fetch_proxy:\n  monitring:\n    max_url_length: 1\n' >"$T/typo.yaml"
run_check 2 --config "$T/typo.yaml" --url https://example.com/
grep -qx "error: $T/typo.yaml:2:3: fetch_proxy.monitring: unknown key 'monitring' (did you mean 'monitoring'?)" "$T/err" ||
	fail "typo: $(cat "$T/err")"
printf 'dlp:\n  patterns:\n    - name: ok\n      regex: a+\n    - name: bad\n      regex: "ab(c"\n' >"$T/regex.yaml"
run_check 2 --config "$T/regex.yaml"
grep -q "^error: $T/regex.yaml:6:7: dlp.patterns\[1\].regex: .*offset" "$T/err" ||
	fail "bad regex: $(cat "$T/err")"
printf 'firewall:\n  agent_users: [root]\n' >"$T/root.yaml"
run_check 2 --config "$T/root.yaml"
grep -q "^error: $T/root.yaml:2:17: firewall.agent_users\[0\]: 'root' is uid 0" "$T/err" ||
	fail "uid 0: $(cat "$T/err")"
run_check 2 --config "$T/does-not-exist.yaml"
run_check 2 --config "$T/typo.yaml" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["configuration"]=="error", d' "$T/out" ||
	fail "--json config error is not JSON"

# 4. warnings for unimplemented sections go to stderr, still OK
printf 'sentry:\n  enabled: true\n' >"$T/warn.yaml"
run_check 0 --config "$T/warn.yaml"
grep -qx 'warning: sentry: not implemented by pipelock-fw, ignored' "$T/err" || fail "warning: $(cat "$T/err")"

# 5. URLs: allowed 0, blocked 1, findings named, secret never printed
run_check 0 --url https://docs.python.org/3/library/index.html
grep -q 'ALLOWED' "$T/out" || fail "benign URL: $(cat "$T/out")"
run_check 1 --url "https://example.com/upload?key=$AWS_ID"
grep -q 'BLOCKED' "$T/out" || fail "secret URL not blocked"
grep -q 'AWS Access ID' "$T/out" || fail "pattern not named: $(cat "$T/out")"
grep -q 'severity: critical' "$T/out" || fail "severity missing: $(cat "$T/out")"
grep -q 'where: ' "$T/out" || fail "where missing"
! grep -q "$AWS_ID" "$T/out" "$T/err" || fail "secret printed in full"
run_check 1 --url 'https://paste.pastebin.com/x'
grep -q BLOCKED "$T/out" || fail "default blocklist not applied without a config"

# 6. --text, --dns, --file, stdin; JSON
run_check 1 --text "token=$GH_TOKEN"
grep -q 'GitHub Token' "$T/out" || fail "--text: $(cat "$T/out")"
! grep -q "$GH_TOKEN" "$T/out" || fail "--text printed the secret"
run_check 0 --text 'hello world, nothing to see'
run_check 0 --dns www.debian.org
printf 'x%.0s' {1..70000} >"$T/body"
printf ' %s ' "$GH_TOKEN" >>"$T/body"
printf 'y%.0s' {1..70000} >>"$T/body"
run_check 1 --file "$T/body"
grep -q 'body offset 700' "$T/out" || fail "--file: offset: $(cat "$T/out")"
rc=0
"$PLFW" check --file - <"$T/body" >"$T/out" 2>&1 || rc=$?
((rc == 1)) || fail "--file - (stdin) exited $rc"
run_check 2 --file "$T/no-such-body"
run_check 1 --json --url "https://example.com/?k=$AWS_ID" --dns www.debian.org
python3 - "$T/out" "$AWS_ID" <<'PY' || fail "--json output: $(cat "$T/out")"
import json, sys
raw = open(sys.argv[1]).read()
assert sys.argv[2] not in raw, "secret in JSON"
d = json.loads(raw)
assert d["blocked"] is True
r = d["results"]
assert [x["kind"] for x in r] == ["url", "dns"]
assert r[0]["verdict"] == "blocked" and r[1]["verdict"] == "allowed"
f = r[0]["findings"][0]
assert f["pattern"] == "AWS Access ID" and f["severity"] == "critical", f
assert f["scanner"] and f["reason"] and f["match"]
PY

# 7. --list-patterns against the reference's 48 names and severities
sed -n 's/^[0-9][0-9]*\. \(.*\)$/\1/p' "$REF/pipelock-config.md" |
	awk -F ' :: ' 'NF >= 3 { split($NF, s, " "); print $1 "\t" s[1] }' |
	head -n 48 | sort >"$T/want"
[[ $(wc -l <"$T/want") -eq 48 ]] || fail "reference list parse: $(wc -l <"$T/want") lines"
run_check 0 --list-patterns
sort "$T/out" >"$T/got"
diff -u "$T/want" "$T/got" || fail "--list-patterns differs from the reference"

# 8. every real pipelock config: exit 0 or 1, never 2
n=0
for f in "$REF"/pipelock-configs/*.yaml; do
	rc=0
	"$PLFW" check --config "$f" --url https://example.com/ >"$T/out" 2>"$T/err" || rc=$?
	((rc == 0 || rc == 1)) || { cat "$T/err" >&2; fail "$f: exit $rc"; }
	! grep -q '^error:' "$T/err" || fail "$f: $(cat "$T/err")"
	rc=0
	"$PLFW" check --config "$f" >"$T/out" 2>"$T/err" || rc=$?
	((rc == 0)) || fail "$f: config check exit $rc: $(cat "$T/err")"
	n=$((n + 1))
done
((n >= 9)) || fail "only $n reference configs"
log "t_check_cli: ok ($n reference configs)"
