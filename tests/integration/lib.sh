# shellcheck shell=bash
# lib.sh - shared plumbing of the integration tests (sourced, never executed).
#
#   HOST_NS (plfw-h-PID)                               NET_NS (plfw-n-PID)
#   agents uid 1000/1001, other uid 1002, engine       upstream.py: HTTP :80,
#   198.18.0.1/24 fd00:18::1/64   ==== veth ====       TLS :443, raw/UDP :9000 on
#                                                      198.18.0.2 .3, fd00:18::2 ::3
#
# The namespaces have no link to the root namespace: nothing leaves the box.
# Names carry the test's PID so tests (and helpers) can run in parallel.
# `topo_up` registers cleanup on EXIT/INT/TERM (topo_down): it kills every
# process the library started (by PID), anything still inside our
# namespaces, deletes the namespaces, /etc/netns entries and TEST_TMP, also
# when a test dies half way (KEEP_TMP=1 keeps TEST_TMP for a post-mortem).
# Tests: `. tests/integration/lib.sh` from the repo root, `set -eu`.
# shellcheck disable=SC2034  # variables are for the tests that source this

set -eu
# set -e exits silently; say which command ended the test (-E: in functions too)
set -E
trap 'log "command failed (rc=$?): ${BASH_SOURCE[0]:-$0}:$LINENO: $BASH_COMMAND"' ERR

PLFW=${PIPELOCK_FW:-$PWD/build/pipelock-fw}
INTEG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3	# the agent uid cannot run root's pyenv shims

HOST_NS=plfw-h-$$
NET_NS=plfw-n-$$
HOST_IF=plfwh$$		# veth end in HOST_NS (<= 15 chars)
NET_IF=plfwn$$		# veth end in NET_NS

V4_HOST=198.18.0.1
V6_HOST=fd00:18::1
V4_UP=198.18.0.2
V4_UP2=198.18.0.3
V6_UP=fd00:18::2
V6_UP2=fd00:18::3
AGENT_UID=1000
AGENT2_UID=1001
OTHER_UID=1002
TPROXY_PORT=${TPROXY_PORT:-8890}
export V4_HOST V6_HOST V4_UP V4_UP2 V6_UP V6_UP2 AGENT_UID AGENT2_UID OTHER_UID

LIB_PIDS=""		# background processes started through the lib
ENGINE_PID=""
ENGINE_RC=""
ENGINE_KILLED=0
CAPTURE_PID=""
CAPTURE_PCAP=""
TEST_TMP=""
AGENT_TMP=""
CA_DIR=""
UP_LOG=""
PLFW_CONFIG=""
_TOPO_UP=0

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
_SKIPPING=0
skip() { log "SKIP: $*"; echo "$*"; _SKIPPING=1; exit 77; }

# need_cmd NAME... -- a missing tool is a failure: scripts/deps.sh installs it.
need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || fail "missing command '$c' (run scripts/deps.sh)"
	done
}

# wait_until SECONDS CMD... -- run CMD every 50 ms until it succeeds; 1 on timeout.
wait_until() {
	local secs=$1 end
	shift
	end=$(($(date +%s%N) + secs * 1000000000))
	while :; do
		if "$@"; then return 0; fi
		(($(date +%s%N) < end)) || return 1
		sleep 0.05
	done
}

in_host() { ip netns exec "$HOST_NS" "$@"; }
in_net() { ip netns exec "$NET_NS" "$@"; }
as_uid() {
	local uid=$1
	shift
	ip netns exec "$HOST_NS" setpriv --reuid="$uid" --regid="$uid" --clear-groups -- "$@"
}
as_agent() { as_uid "$AGENT_UID" "$@"; }
as_agent2() { as_uid "$AGENT2_UID" "$@"; }
as_other() { as_uid "$OTHER_UID" "$@"; }

# bg_start LOGFILE CMD... -- CMD in the background, tracked for cleanup; sets BG_PID.
bg_start() {
	local out=$1
	shift
	"$@" >"$out" 2>&1 </dev/null &
	BG_PID=$!
	LIB_PIDS="$LIB_PIDS $BG_PID"
}

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# pid_stop PID [SIGNAL] -- signal PID (TERM), wait up to 5 s, then KILL; reaps it.
pid_stop() {
	local pid=$1 sig=${2:-TERM}
	pid_alive "$pid" || return 0
	kill "-$sig" "$pid" 2>/dev/null || true
	wait_until 5 eval "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

ns_exists() { ip netns list | awk '{print $1}' | grep -qx -- "$1"; }

make_ca() {
	local d=$CA_DIR
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -sha256 \
		-keyout "$d/ca.key" -out "$d/ca.pem" -subj "/CN=pipelock-fw test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$d/openssl.err" ||
		fail "openssl (CA): $(cat "$d/openssl.err")"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -keyout "$d/server.key" \
		-out "$d/server.csr" -subj "/CN=allowed.test" 2>"$d/openssl.err" ||
		fail "openssl (server key): $(cat "$d/openssl.err")"
	printf '%s\n' \
		"subjectAltName=DNS:allowed.test,DNS:blocked.test,DNS:other.test,DNS:spoof.test,DNS:*.test,IP:$V4_UP,IP:$V4_UP2,IP:$V6_UP,IP:$V6_UP2" \
		"basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" >"$d/server.ext"
	openssl x509 -req -days 2 -sha256 -in "$d/server.csr" -CA "$d/ca.pem" \
		-CAkey "$d/ca.key" -CAcreateserial -extfile "$d/server.ext" \
		-out "$d/server.pem" 2>"$d/openssl.err" || fail "openssl (sign): $(cat "$d/openssl.err")"
	chmod 0644 "$d/ca.pem" "$d/server.pem"
	chmod 0600 "$d/ca.key" "$d/server.key"
}

_links_up() {
	in_host ip -o link show dev "$HOST_IF" | grep -q 'state UP' &&
		in_net ip -o link show dev "$NET_IF" | grep -q 'state UP'
}

# topo_up -- namespaces, veth, addresses, routes, names, CA, cleanup trap.
topo_up() {
	local ns
	[[ $(id -u) -eq 0 ]] || skip "needs root"
	need_cmd ip openssl setpriv ss curl "$PY"
	_TOPO_UP=1
	trap _topo_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	# hidden: something on the shared test machine deletes /tmp/plfw-test.*
	TEST_TMP=$(mktemp -d /tmp/.plfw-test.XXXXXX)
	chmod 0755 "$TEST_TMP"	# the agent uids read the CA and helper files
	CA_DIR=$TEST_TMP/ca
	mkdir -m 0755 "$CA_DIR"
	AGENT_TMP=$TEST_TMP/agent	# writable by the agent uids (sticky)
	mkdir -m 1777 "$AGENT_TMP"
	UP_LOG=$TEST_TMP/upstream.jsonl
	export TEST_TMP CA_DIR UP_LOG AGENT_TMP
	make_ca

	ip netns add "$HOST_NS"
	ip netns add "$NET_NS"
	# no DAD anywhere (link-local included): IPv6 is usable at once
	for ns in "$HOST_NS" "$NET_NS"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	done
	in_host ip link add "$HOST_IF" type veth peer name "$NET_IF" netns "$NET_NS"
	in_host ip link set lo up
	in_net ip link set lo up
	in_host ip addr add "$V4_HOST/24" dev "$HOST_IF"
	in_host ip -6 addr add "$V6_HOST/64" dev "$HOST_IF" nodad
	in_net ip addr add "$V4_UP/24" dev "$NET_IF"
	in_net ip addr add "$V4_UP2/24" dev "$NET_IF"
	in_net ip -6 addr add "$V6_UP/64" dev "$NET_IF" nodad
	in_net ip -6 addr add "$V6_UP2/64" dev "$NET_IF" nodad
	in_host ip link set "$HOST_IF" up
	in_net ip link set "$NET_IF" up
	# linkwatch sets the veth's carrier (and its real qdisc) up to 1 s
	# later; until then packets are dropped, so wait for it.
	wait_until 5 _links_up || fail "veth $HOST_IF/$NET_IF did not come up"
	in_host ip route add default via "$V4_UP" dev "$HOST_IF"
	in_host ip -6 route add default via "$V6_UP" dev "$HOST_IF"
	in_host sysctl -qw net.ipv4.ping_group_range="0 2147483647"
	# Connection: close loops need ports; keep them above the engine's ports.
	in_host sysctl -qw net.ipv4.ip_local_port_range="20000 65000"

	# (a parallel test's topo_down may rmdir an empty /etc/netns in between)
	mkdir -p "/etc/netns/$HOST_NS" || mkdir -p "/etc/netns/$HOST_NS"
	cat >"/etc/netns/$HOST_NS/hosts" <<EOF
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
$V4_UP allowed.test blocked.test other.test
$V6_UP allowed.test blocked.test other.test
$V4_UP2 spoof.test
$V6_UP2 spoof.test
EOF
	printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$V4_UP" >"/etc/netns/$HOST_NS/resolv.conf"
	chmod 0644 "/etc/netns/$HOST_NS/hosts" "/etc/netns/$HOST_NS/resolv.conf"
	log "topology up: $HOST_NS <-> $NET_NS (tmp $TEST_TMP)"
}

# _topo_exit -- the EXIT trap: cleanup, then exit with the test's status.
_topo_exit() {
	local rc=$?
	trap - EXIT ERR
	trap '' INT TERM	# a second signal must not cut the cleanup short
	set +e
	# 77 means skip only from skip(): a command's own 77 (curl's "bad CA
	# file") ending the test through set -e is a failure
	if ((rc == 77 && _SKIPPING == 0)); then rc=1; fi
	topo_down "$rc"
	exit "$rc"
}

# topo_down [RC] -- idempotent cleanup of everything topo_up and the lib
# started; with RC != 0 it first shows the engine's stderr and audit tail.
topo_down() {
	local rc=${1:-0} p ns opts=$-
	set +e
	[[ $_TOPO_UP == 1 ]] || return 0
	_TOPO_UP=0
	if ((rc != 0)) && [[ -n $TEST_TMP ]]; then
		for p in engine.err audit.log; do
			[[ -s $TEST_TMP/$p ]] && { log "--- tail of $p"; tail -n 30 "$TEST_TMP/$p" >&2; }
		done
	fi
	# (stderr off: bash reports each killed job as "Killed")
	{
		for p in $ENGINE_PID $CAPTURE_PID $LIB_PIDS; do
			pid_alive "$p" && kill -KILL "$p"
		done
		# anything else still running inside our own namespaces (agents' children)
		for ns in "$HOST_NS" "$NET_NS"; do
			ns_exists "$ns" || continue
			for p in $(ip netns pids "$ns"); do
				kill -KILL "$p"
			done
		done
		for p in $ENGINE_PID $CAPTURE_PID $LIB_PIDS; do
			wait "$p"
		done
	} 2>/dev/null
	for ns in "$HOST_NS" "$NET_NS"; do
		ns_exists "$ns" && ip netns del "$ns"
	done
	rm -rf "/etc/netns/$HOST_NS"
	rmdir /etc/netns 2>/dev/null	# only if empty
	if [[ -n $TEST_TMP && -d $TEST_TMP ]]; then
		if [[ -n ${KEEP_TMP:-} ]]; then log "kept $TEST_TMP"; else rm -rf "$TEST_TMP"; fi
	fi
	[[ $opts == *e* ]] && set -e
	return 0
}

# --- upstream ----------------------------------------------------------------

_upstream_listening() {
	local n
	n=$(in_net ss -Hltn '( sport = :80 or sport = :443 or sport = :9000 )' | wc -l)
	((n >= 12))
}

# upstream_start -- upstream.py on all four addresses; waits until it listens.
upstream_start() {
	: >"$UP_LOG"
	bg_start "$TEST_TMP/upstream.err" ip netns exec "$NET_NS" "$PY" "$INTEG_DIR/upstream.py" serve \
		--log "$UP_LOG" --cert "$CA_DIR/server.pem" --key "$CA_DIR/server.key" \
		--addr "$V4_UP" --addr "$V4_UP2" --addr "$V6_UP" --addr "$V6_UP2"
	UPSTREAM_PID=$BG_PID
	wait_until 10 _upstream_listening || {
		cat "$TEST_TMP/upstream.err" >&2
		fail "upstream did not start"
	}
}

upstream_log() { cat "$UP_LOG"; }
# upstream_count_conns [PORT] [LOCALADDR] -- accepted TCP connections.
upstream_count_conns() {
	"$PY" "$INTEG_DIR/upstream.py" count --log "$UP_LOG" --port "${1:-0}" --local "${2:-}"
}
# upstream_count_udp [PORT] [LOCALADDR] -- UDP datagrams received.
upstream_count_udp() {
	"$PY" "$INTEG_DIR/upstream.py" count --proto udp --log "$UP_LOG" --port "${1:-0}" --local "${2:-}"
}
# upstream_bytes [PORT] [AFTER] -- total TCP bytes received (TLS: decrypted),
# only those read after epoch time AFTER (`date +%s.%N`) if given.
upstream_bytes() {
	"$PY" "$INTEG_DIR/upstream.py" bytes --log "$UP_LOG" --port "${1:-0}" --after "${2:-0}"
}
# upstream_saw STRING -- 0 if any bytes received (TCP per connection, UDP) contain it.
upstream_saw() { "$PY" "$INTEG_DIR/upstream.py" saw --log "$UP_LOG" "$1"; }
# upstream_peers -- "peer pport local lport" for every accepted connection.
upstream_peers() { "$PY" "$INTEG_DIR/upstream.py" peers --log "$UP_LOG"; }

# --- engine and firewall --------------------------------------------------------

_engine_listening() {
	in_host ss -Hltn "sport = :$TPROXY_PORT" | grep -q . || return 1
}

# engine_start [ARGS...] -- `$PLFW run ARGS` in HOST_NS; audit (stdout) to
# $TEST_TMP/audit.log (appended across restarts), stderr to engine.err.
engine_start() {
	pid_alive "$ENGINE_PID" && fail "engine_start: engine already running ($ENGINE_PID)"
	ip netns exec "$HOST_NS" "$PLFW" run "$@" >>"$TEST_TMP/audit.log" 2>>"$TEST_TMP/engine.err" </dev/null &
	ENGINE_PID=$!
	ENGINE_RC=""
	if ! wait_until 10 eval "! kill -0 $ENGINE_PID 2>/dev/null || _engine_listening"; then
		fail "engine did not listen on :$TPROXY_PORT within 10 s"
	fi
	if ! pid_alive "$ENGINE_PID"; then
		wait "$ENGINE_PID" 2>/dev/null || ENGINE_RC=$?
		ENGINE_PID=""
		fail "engine exited at start (rc=${ENGINE_RC:-0})"	# topo_down shows engine.err
	fi
}

# engine_stop -- SIGTERM and wait (KILL after 5 s: ENGINE_KILLED=1); exit
# status in ENGINE_RC.
engine_stop() { _engine_end TERM; }
# engine_kill9 -- SIGKILL and reap.
engine_kill9() { _engine_end KILL; }
_engine_end() {
	local pid=$ENGINE_PID
	ENGINE_RC=""
	ENGINE_KILLED=0
	[[ -n $pid ]] || return 0
	ENGINE_PID=""
	kill "-$1" "$pid" 2>/dev/null || true
	if ! wait_until 5 eval "! kill -0 $pid 2>/dev/null"; then
		kill -KILL "$pid" 2>/dev/null || true
		ENGINE_KILLED=1
		log "engine did not exit within 5 s of SIG$1; killed"
	fi
	wait "$pid" 2>/dev/null && ENGINE_RC=0 || ENGINE_RC=$?
}

# make_config [FIREWALL_LINE]... -- a test config in $TEST_TMP/pipelock.yaml
# (PLFW_CONFIG): blocked.test on the blocklist, our fd00:18::/64 upstreams
# exempt from the SSRF list (fc00::/7 is internal by default), agents 1000
# and 1001 on TPROXY_PORT; each argument is one more `firewall:` line, e.g.
# "other_tcp: allow".  Append top-level keys with `cat >>"$PLFW_CONFIG"`.
make_config() {
	local l
	PLFW_CONFIG=$TEST_TMP/pipelock.yaml
	cat >"$PLFW_CONFIG" <<EOF
version: 1
mode: balanced
fetch_proxy:
  monitoring:
    blocklist: ["blocked.test"]
ssrf:
  ip_allowlist: ["fd00:18::/64"]
firewall:
  tproxy_port: $TPROXY_PORT
  agent_users: [$AGENT_UID, $AGENT2_UID]
EOF
	for l in "$@"; do printf '  %s\n' "$l" >>"$PLFW_CONFIG"; done
	chmod 0644 "$PLFW_CONFIG"
}

fw_apply() { in_host "$PLFW" firewall apply --agent-user "$AGENT_UID" --agent-user "$AGENT2_UID" "$@"; }
fw_remove() { in_host "$PLFW" firewall remove "$@"; }

# plfw_ready -- the subcommands the firewall/engine tests need are built.
plfw_ready() {
	[[ -x $PLFW ]] || return 1
	"$PLFW" firewall apply --help >/dev/null 2>&1 || return 1
	"$PLFW" run --help >/dev/null 2>&1 || return 1
}

# --- packet capture and leak checks ------------------------------------------

# capture_start [FILTER...] -- tcpdump on NET_NS's veth (what reached the
# "internet"), to $TEST_TMP/capture.pcap; returns once it listens.
capture_start() {
	need_cmd tcpdump
	CAPTURE_PCAP=$TEST_TMP/capture.pcap
	ip netns exec "$NET_NS" tcpdump -i "$NET_IF" -n -U --immediate-mode -s 128 -w "$CAPTURE_PCAP" "$@" \
		>"$TEST_TMP/tcpdump.err" 2>&1 </dev/null &
	CAPTURE_PID=$!
	wait_until 10 grep -qs "listening on" "$TEST_TMP/tcpdump.err" ||
		fail "tcpdump did not start: $(cat "$TEST_TMP/tcpdump.err" 2>&1)"
}

# capture_stop -- stop tcpdump and wait for it (the file is complete).
capture_stop() {
	local pid=$CAPTURE_PID
	[[ -n $pid ]] || return 0
	CAPTURE_PID=""
	kill -INT "$pid" 2>/dev/null || true
	wait_until 5 eval "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# assert_no_leak [PCAP] [AGENT_SOCKETS_FILE] -- fail unless every TCP/UDP
# packet of the host in PCAP belongs to a connection the upstream accepted
# (the engine's; see helpers/leakcheck.py), and no accepted connection is an
# agent socket's own (AGENT_SOCKETS_FILE: written by `agent_load.py http
# --ports-out`, one "laddr lport raddr rport t_start t_end" per socket).
assert_no_leak() {
	local pcap=${1:-$CAPTURE_PCAP} ports=${2:-}
	"$PY" "$INTEG_DIR/helpers/leakcheck.py" --pcap "$pcap" --uplog "$UP_LOG" \
		${ports:+--agent-ports "$ports"} || fail "leak: packets the engine did not send reached the upstream"
}
