# shellcheck shell=bash
# engine/variants.sh - the things the bench measures, all running at once
# in BH_NS, each reached by its own agent uid (sourced after engine/lib.sh).
#
#   uid 1000  pipelock   `run --apply --remove-on-exit`: the engine installs
#                        and removes its own nft table, ip rules and routes
#                        for its agent, uid 1000 (mode "external")
#   uid 1001  direct     nothing between the agent and nginx (the ceiling)
#   uid 1002+ peers      in the order given; steered the way their
#                        documentation describes (mode "tproxy": nft tproxy +
#                        policy routing, the verdict kept in the conntrack
#                        mark so that packets of TIME_WAIT/orphaned sockets,
#                        which have no uid, follow it; mode "redirect": nft
#                        nat redirect + SO_ORIGINAL_DST, for mitmproxy)
# Keeping every variant up lets the bench take turns test by test, so a
# burst of load from elsewhere on a shared machine hits all of them alike.
# pipelock-fw's ruleset is loaded throughout: its cost for uids it does not
# select (a set lookup per packet) is inside every baseline.
#
# A variant NAME is v_NAME_start (starts it, sets VAR_MODE VAR_PID
# VAR_HTTP_PORT VAR_HTTPS_PORT VAR_NOTE, returns once it listens) and
# v_NAME_version (one line).  Peer listen ports stay below EPHEMERAL_RANGE.
# shellcheck disable=SC2034  # V_* are read by bench_engine.sh

declare -A V_UID=() V_PID=() V_MODE=() V_NOTE=() V_PORTS=() V_MARK=()
VAR_MODE=none VAR_PID="" VAR_HTTP_PORT="" VAR_HTTPS_PORT="" VAR_NOTE=""
STEER_TABLE=plfwb_steer
STEER_RT=100
PLFW_PORT=${BENCH_PLFW_PORT:-8890}
PLFW_MODE=${BENCH_PLFW_MODE:-strict}	# strict: api_allowlist enforced
# The idle-connection test (bench_engine.sh) holds up to IDLE_MAX
# connections through one variant: each is configured to take them, and
# to use as many file descriptors as that needs, up to the hard limit.
idle_room() { echo $((${IDLE_MAX:-1000} + 64)); }
# fds for that many relayed connections at 2 each (client + server
# socket), and some for listeners, logs and resolvers
peer_fds() { echo $((2 * $(idle_room) + 1024)); }

variant_known() { declare -F "v_${1}_start" >/dev/null; }
variant_dir() { printf '%s/variants/%s' "$BENCH_TMP" "$1"; }

# _wait_ports NAME PORT... -- VAR_PID alive and listening on every PORT.
_wait_ports() {
	local name=$1 port
	shift
	for port in "$@"; do
		[[ -n $port ]] || continue
		wait_for 30 eval "! kill -0 $VAR_PID 2>/dev/null || listening $BH_NS $port" || true
		if ! pid_alive "$VAR_PID" || ! listening "$BH_NS" "$port"; then
			blog "$name: not listening on :$port; log tail:"
			tail -n 20 "$BENCH_TMP/logs/$name.log" >&2
			return 1
		fi
	done
}

# variant_start NAME UID -- start NAME for agent UID (its steering is
# steer_install's job).
variant_start() {
	local name=$1
	VAR_MODE=none VAR_PID="" VAR_HTTP_PORT="" VAR_HTTPS_PORT="" VAR_NOTE=""
	mkdir -p "$(variant_dir "$name")"
	V_UID[$name]=$2
	"v_${name}_start" || { V_PID[$name]=$VAR_PID && return 1; }
	V_PID[$name]=$VAR_PID V_MODE[$name]=$VAR_MODE V_NOTE[$name]=$VAR_NOTE
	V_PORTS[$name]="$VAR_HTTP_PORT $VAR_HTTPS_PORT"
}

# variant_stop NAME -- TERM (then KILL) its process; steering stays.
variant_stop() {
	pid_stop "${V_PID[$1]:-}"
	V_PID[$1]=""
}

# steer_install NAME... -- one table steering each tproxy/redirect variant's
# uid to it (ct mark = its index), and an ip rule per mark.  The rules
# match the low byte only: pipelock-fw refuses to install next to a rule
# that matches its own mark bits (0x100000 and up).
steer_install() {
	local name i=0 out="" pre="" nat="" hp sp
	for name in "$@"; do
		i=$((i + 1))
		read -r hp sp <<<"${V_PORTS[$name]}"
		case ${V_MODE[$name]} in
		tproxy)
			V_MARK[$name]=$i
			out+="meta skuid ${V_UID[$name]} tcp dport { 80, 443 } counter ct mark set $i comment \"$name\""$'\n'
			pre+="meta mark $i tcp dport 80 counter tproxy to :$hp"$'\n'
			pre+="meta mark $i tcp dport 443 counter tproxy to :$sp"$'\n'
			in_bh ip rule add fwmark "$i/0xff" lookup "$STEER_RT"
			in_bh ip -6 rule add fwmark "$i/0xff" lookup "$STEER_RT"
			;;
		redirect)
			nat+="meta skuid ${V_UID[$name]} tcp dport 80 counter redirect to :$hp comment \"$name\""$'\n'
			nat+="meta skuid ${V_UID[$name]} tcp dport 443 counter redirect to :$sp comment \"$name\""$'\n'
			;;
		esac
	done
	in_bh ip route add local 0.0.0.0/0 dev lo table "$STEER_RT"
	in_bh ip -6 route add local ::/0 dev lo table "$STEER_RT"
	# every packet of a steered flow follows the conntrack verdict (our marks
	# are small numbers; pipelock-fw's are high bits of its own)
	printf '%s\n' "table inet $STEER_TABLE {" \
		"chain output { type route hook output priority mangle; policy accept;" \
		"$out" "ct direction original ct mark != 0 ct mark < 256 meta mark set ct mark" "}" \
		"chain prerouting { type filter hook prerouting priority mangle; policy accept;" \
		"$pre" "}" \
		"chain nat_output { type nat hook output priority -100; policy accept;" \
		"$nat" "}" "}" | in_bh nft -f -
}

steer_remove() {
	local m
	in_bh nft delete table inet "$STEER_TABLE" 2>/dev/null || true
	for m in "${V_MARK[@]}"; do
		while in_bh ip rule del fwmark "$m/0xff" lookup "$STEER_RT" 2>/dev/null; do :; done
		while in_bh ip -6 rule del fwmark "$m/0xff" lookup "$STEER_RT" 2>/dev/null; do :; done
	done
	in_bh ip route flush table "$STEER_RT" 2>/dev/null || true
	in_bh ip -6 route flush table "$STEER_RT" 2>/dev/null || true
}

# steer_packets NAME -- packets the rules commented NAME matched so far.
steer_packets() {
	in_bh nft list table inet "$STEER_TABLE" 2>/dev/null | grep -F "comment \"$1\"" |
		awk '{for (i = 1; i < NF; i++) if ($i == "packets") s += $(i + 1)} END {print s + 0}'
}

# variant_check NAME -- NAME's agent really goes through it and gets the
# right bytes over http and https.
variant_check() {
	local name=$1 uid=${V_UID[$1]} before scheme
	before=$(steer_packets "$name")
	for scheme in http https; do
		fetch_ok "$uid" "$scheme" /1m || fetch_ok "$uid" "$scheme" /1m ||
			{ blog "$name: $scheme content check failed"; return 1; }
	done
	case ${V_MODE[$name]} in
	tproxy | redirect)
		(($(steer_packets "$name") > before)) || { blog "$name: its agent's traffic was not steered"; return 1; }
		;;
	external)
		# the engine's audit names the checks' connections: it relayed them
		grep -q "$BENCH_HOST" "$BENCH_TMP/logs/$name.log" ||
			{ blog "$name: no audit line for $BENCH_HOST: not intercepted"; return 1; }
		;;
	esac
}

# --- direct ------------------------------------------------------------------
v_direct_start() { VAR_MODE=none VAR_NOTE="no interception"; }
v_direct_version() { echo "nginx $(nginx -v 2>&1 | awk -F/ '{print $2}')"; }

# --- pipelock-fw: the real way, its own rules --------------------------------
v_pipelock_start() {
	local d cfg room
	d=$(variant_dir pipelock)
	room=$(idle_room)
	cfg=$d/pipelock.yaml
	{
		echo "version: 1"
		echo "mode: $PLFW_MODE"
		echo "api_allowlist: [\"$BENCH_HOST\"]"
		echo "firewall:"
		echo "  tproxy_port: $PLFW_PORT"
		echo "  agent_users: [${V_UID[pipelock]}]"
		# defaults 512 and 8192: the idle-connection test holds IDLE_MAX at
		# once; the engine raises RLIMIT_NOFILE for max_conns_total as far
		# as it may (and says so at start)
		echo "  max_conns_per_agent: $((room > 512 ? room : 512))"
		echo "  max_conns_total: $((room > 8192 ? room : 8192))"
	} >"$cfg"
	chmod 0644 "$cfg"
	VAR_MODE=external VAR_HTTP_PORT=$PLFW_PORT VAR_HTTPS_PORT=$PLFW_PORT
	VAR_NOTE="run --apply --remove-on-exit; mode $PLFW_MODE, api_allowlist [$BENCH_HOST], DLP defaults, max_conns_per_agent/_total raised for the idle test; 443: SNI passthrough"
	# audit lines (stdout) and diagnostics share the variant log
	local extra=()
	read -r -a extra <<<"${BENCH_PLFW_ARGS:-}"	# e.g. "--workers 1"
	bg_run "$BH_NS" "$BENCH_TMP/logs/pipelock.log" "$PIPELOCK_FW" run --config "$cfg" \
		--apply --remove-on-exit "${extra[@]}"
	VAR_PID=$BG_PID
	_wait_ports pipelock "$PLFW_PORT" || return 1
	# listening comes before the rules: wait until `firewall status` says installed
	wait_for 10 in_bh "$PIPELOCK_FW" firewall status >/dev/null 2>&1 ||
		{ blog "pipelock: rules not installed"; tail -n 20 "$BENCH_TMP/logs/pipelock.log" >&2; return 1; }
}
v_pipelock_version() {
	local rev
	rev=$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
	git -C "$BENCH_ROOT" diff --quiet HEAD -- 2>/dev/null || rev="$rev+dirty"
	echo "$("$PIPELOCK_FW" --version 2>&1 | head -1) (git $rev)"
}

# --- haproxy: transparent L4 relay, inspects nothing --------------------------
HAPROXY_PORT=15001
v_haproxy_start() {
	local cfg fds
	fds=$(peer_fds)
	cfg=$(variant_dir haproxy)/haproxy.cfg
	# No global maxconn: haproxy then derives it from the file descriptors
	# it may use (configuration.txt, "maxconn", "fd-hard-limit"), and
	# fd-hard-limit keeps that near what the idle test needs on machines
	# whose hard limit is huge.  Frontends default to the global maxconn.
	cat >"$cfg" <<EOF
global
    fd-hard-limit $fds
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend intercept
    bind 0.0.0.0:$HAPROXY_PORT transparent
    bind :::$HAPROXY_PORT transparent v6only
    default_backend original_dst
backend original_dst
    # 0.0.0.0:0: connect to the intercepted connection's own destination
    server orig 0.0.0.0:0
EOF
	VAR_MODE=tproxy VAR_HTTP_PORT=$HAPROXY_PORT VAR_HTTPS_PORT=$HAPROXY_PORT
	VAR_NOTE="tproxy, L4 relay (no HTTP/SNI inspection); maxconn derived from fd-hard-limit $fds (capped by the hard RLIMIT_NOFILE)"
	bg_run "$BH_NS" "$BENCH_TMP/logs/haproxy.log" haproxy -db -f "$cfg"
	VAR_PID=$BG_PID
	_wait_ports haproxy "$HAPROXY_PORT"
}
v_haproxy_version() { echo "haproxy $(haproxy -v | awk 'NR == 1 {print $3}')"; }

# --- squid: tproxy; http parsed; https ssl_bump peek (SNI) + splice ----------
SQUID_HTTP_PORT=3129
SQUID_HTTPS_PORT=3130
v_squid_start() {
	local d cfg fds hard
	# squid.conf.documented: max_filedescriptors may go "up to the hard limit"
	hard=$(ulimit -Hn)
	fds=$(peer_fds)
	[[ $hard != unlimited ]] && ((hard < fds)) && fds=$hard
	d=$(variant_dir squid)
	cfg=$d/squid.conf
	mkdir -p "$d/logs"
	chown proxy:proxy "$d" "$d/logs"
	cat >"$cfg" <<EOF
http_port 127.0.0.1:3128
http_port $SQUID_HTTP_PORT tproxy
https_port $SQUID_HTTPS_PORT tproxy ssl-bump tls-cert=$BENCH_TMP/certs/ca.crt tls-key=$BENCH_TMP/certs/ca.key generate-host-certificates=off
acl step1 at_step SslBump1
ssl_bump peek step1
ssl_bump splice all
http_access allow all
cache deny all
cache_mem 16 MB
workers 1
max_filedescriptors $fds
visible_hostname plfwb-host
dns_nameservers 127.0.0.1
pid_filename $d/squid.pid
coredump_dir $d
cache_log $d/logs/cache.log
access_log none
cache_store_log none
logfile_rotate 0
shutdown_lifetime 1 seconds
EOF
	VAR_MODE=tproxy VAR_HTTP_PORT=$SQUID_HTTP_PORT VAR_HTTPS_PORT=$SQUID_HTTPS_PORT
	VAR_NOTE="tproxy; http: proxy; https: ssl_bump peek step1 + splice (SNI only); max_filedescriptors $fds"
	bg_run "$BH_NS" "$BENCH_TMP/logs/squid.log" squid -N -d 1 -f "$cfg"
	VAR_PID=$BG_PID
	_wait_ports squid "$SQUID_HTTP_PORT" "$SQUID_HTTPS_PORT"
}
v_squid_version() { echo "squid $(squid -v | awk 'NR == 1 {print $4}')"; }

# --- optional, slow: full-MITM peers ------------------------------------------
MITM_PORT=18080
v_mitmproxy_start() {
	local d
	d=$(variant_dir mitmproxy)
	cp "$BENCH_TMP/certs/ca.pem" "$d/mitmproxy-ca.pem"
	VAR_MODE=redirect VAR_HTTP_PORT=$MITM_PORT VAR_HTTPS_PORT=$MITM_PORT
	VAR_NOTE="nat redirect (no IP_TRANSPARENT listener); https decrypted (MITM)"
	bg_run "$BH_NS" "$BENCH_TMP/logs/mitmproxy.log" mitmdump --mode transparent \
		--listen-port "$MITM_PORT" -q --ssl-insecure --set confdir="$d" \
		--set block_global=false --set stream_large_bodies=1m
	VAR_PID=$BG_PID
	_wait_ports mitmproxy "$MITM_PORT"
}
v_mitmproxy_version() { echo "mitmproxy $(mitmdump --version 2>/dev/null | awk '/^Mitmproxy/ {print $2}')"; }

SSLSPLIT_HTTP_PORT=19080
SSLSPLIT_HTTPS_PORT=19443
v_sslsplit_start() {
	VAR_MODE=tproxy VAR_HTTP_PORT=$SSLSPLIT_HTTP_PORT VAR_HTTPS_PORT=$SSLSPLIT_HTTPS_PORT
	VAR_NOTE="tproxy; https decrypted (MITM); forces Connection: close"
	bg_run "$BH_NS" "$BENCH_TMP/logs/sslsplit.log" sslsplit -e tproxy \
		-k "$BENCH_TMP/certs/ca.key" -c "$BENCH_TMP/certs/ca.crt" \
		http :: "$SSLSPLIT_HTTP_PORT" https :: "$SSLSPLIT_HTTPS_PORT"
	VAR_PID=$BG_PID
	_wait_ports sslsplit "$SSLSPLIT_HTTP_PORT" "$SSLSPLIT_HTTPS_PORT"
}
v_sslsplit_version() { echo "sslsplit $(sslsplit -V 2>&1 | awk 'NR == 1 {print $2}')"; }

# variant_binary NAME -- the program a peer needs (empty: none).
variant_binary() {
	case $1 in
	haproxy) echo haproxy ;;
	squid) echo squid ;;
	mitmproxy) echo mitmdump ;;
	sslsplit) echo sslsplit ;;
	esac
}
