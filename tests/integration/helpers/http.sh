# shellcheck shell=bash
# http.sh - what the t_http_*.sh scenarios share (sourced after lib.sh and
# helpers/tproxy.sh).
#
#   SECRET, SECRET2      fake keys the DLP patterns know (Anthropic, AWS)
#   req NAME FORMAT ARG..  printf FORMAT into $AGENT_TMP/NAME (a raw request
#                        the agent sends); prints the path
#   hc MODE HOST ARGS..  helpers/http_client.py as the agent (send | seq |
#                        stream), HOST an address (v6 without brackets)
#   up_requests STRING   how many requests the upstream parsed whose path
#                        contains STRING
#   up_body_sha PATH     the sha256 of the body the upstream got for PATH
#   audit_has STRING...  0 if one audit line contains every STRING

SECRET="sk-ant-api03-$(printf 'Xk9Qz7Lm2Rt5Vw8Yb3Nc6Hd1Jf4Gs0Pa7Eq2Ui9Oy')"
SECRET2="AKIA$(printf 'QZ7RT5VW8YB3NC6H')"
export SECRET SECRET2

req() {
	local name=$1 fmt=$2
	shift 2
	# shellcheck disable=SC2059  # the format is the request
	printf "$fmt" "$@" >"$AGENT_TMP/$name"
	chmod 0644 "$AGENT_TMP/$name"
	printf '%s\n' "$AGENT_TMP/$name"
}

hc() {
	local mode=$1 host=$2
	shift 2
	as_agent "$PY" "$INTEG_DIR/helpers/http_client.py" "$mode" "$host" 80 "$@"
}

up_requests() {
	"$PY" - "$UP_LOG" "$1" <<'PYEOF'
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("ev") == "http" and sys.argv[2] in e.get("path", ""):
        n += 1
print(n)
PYEOF
}

up_body_sha() {
	"$PY" - "$UP_LOG" "$1" <<'PYEOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("ev") == "http" and e.get("path") == sys.argv[2]:
        print(e["body_sha256"])
        break
PYEOF
}

audit_has() {
	local line s ok
	while IFS= read -r line; do
		ok=1
		for s in "$@"; do
			[[ $line == *"$s"* ]] || { ok=0; break; }
		done
		((ok)) && return 0
	done <"$TEST_TMP/audit.log"
	return 1
}
