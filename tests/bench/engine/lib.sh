# shellcheck shell=bash
# engine/lib.sh - topology and process plumbing of the engine benchmark
# (sourced by tests/bench/bench_engine.sh, never executed).
#
#   BH_NS (plfwb-h-PID) "agent host"                 BN_NS (plfwb-n-PID) "internet"
#   agents: wrk/curl, one uid per variant (setpriv)  nginx 198.18.1.2:80/:443
#   interceptors: pipelock-fw run --apply, peers           [fd00:be::2]:80/:443
#   198.18.1.1/24 fd00:be::1/64  ===== veth =====   files /1k /1m
#   bench.test -> 198.18.1.2 (/etc/netns/BH_NS/hosts)
#
# RFC 2544 benchmarking space and ULA only; the namespaces have no link to
# the root namespace.  Names carry the PID so a bench can run beside the
# integration tests.  Everything started here is tracked by PID; bench_down
# (the EXIT trap of bench_engine.sh) stops it, kills whatever is still
# inside our namespaces and deletes them, also after Ctrl-C.
# shellcheck disable=SC2034  # settings are used by the sourcing scripts

BH_NS=plfwb-h-$$
BN_NS=plfwb-n-$$
BH_IF=pbh$$			# veth ends (<= 15 chars)
BN_IF=pbn$$
BH_V4=198.18.1.1
BN_V4=198.18.1.2
BH_V6=fd00:be::1
BN_V6=fd00:be::2
BENCH_HOST=bench.test
# Interceptors listen below this range, agents' ephemeral ports come from it.
EPHEMERAL_RANGE="20000 65000"
NGINX_WORKERS=${BENCH_NGINX_WORKERS:-1}

BENCH_TMP=""			# certs, files, configs, logs (mktemp)
BENCH_PIDS=""			# every background process we started
_BENCH_UP=0

blog() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
bdie() { blog "ERROR: $*"; exit 1; }

in_bh() { ip netns exec "$BH_NS" "$@"; }
in_bn() { ip netns exec "$BN_NS" "$@"; }
# as_uid UID CMD... -- CMD in BH_NS as UID (group UID, no supplementary groups).
as_uid() {
	local uid=$1
	shift
	ip netns exec "$BH_NS" setpriv --reuid="$uid" --regid="$uid" --clear-groups -- "$@"
}

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }
ns_exists() { ip netns list | awk '{print $1}' | grep -qx -- "$1"; }

# wait_for SECONDS CMD... -- poll CMD every 50 ms; 1 on timeout.
wait_for() {
	local secs=$1 end
	shift
	end=$(($(date +%s%N) + secs * 1000000000))
	until "$@"; do
		(($(date +%s%N) < end)) || return 1
		sleep 0.05
	done
}

# listening NS PORT -- something listens on tcp PORT in NS.
listening() { ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q .; }

# bg_run NS LOG CMD... -- CMD in NS in the background (it must not
# daemonize), tracked for cleanup; its PID in BG_PID (`ip netns exec`
# execs CMD, so that is CMD's own PID).
bg_run() {
	local ns=$1 out=$2
	shift 2
	ip netns exec "$ns" "$@" >"$out" 2>&1 </dev/null &
	BG_PID=$!
	BENCH_PIDS="$BENCH_PIDS $BG_PID"
}

# descendants PID... -- every descendant PID, one per line.
descendants() {
	local p c
	for p in "$@"; do
		# shellcheck disable=SC2013  # children files hold space-separated PIDs
		for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
			echo "$c"
			descendants "$c"
		done
	done
}

# pid_stop PID -- TERM PID, wait up to 5 s, then KILL it and what it left.
pid_stop() {
	local pid=$1 kids p
	pid_alive "$pid" || return 0
	kids=$(descendants "$pid")
	kill -TERM "$pid" 2>/dev/null || true
	wait_for 5 eval "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
	for p in $kids; do
		pid_alive "$p" && kill -KILL "$p" 2>/dev/null
	done
	wait "$pid" 2>/dev/null || true
}

# rss_kb PID -- summed VmRSS (KiB) of PID and its descendants.
rss_kb() {
	local total=0 p v
	for p in "$1" $(descendants "$1"); do
		v=$(awk '/^VmRSS:/ {print $2}' /proc/"$p"/status 2>/dev/null || true)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

# cpu_ticks PID -- utime+stime (clock ticks) of PID (all threads) and its descendants.
cpu_ticks() {
	local total=0 p v
	for p in "$1" $(descendants "$1"); do
		v=$(awk '{print $14 + $15}' /proc/"$p"/stat 2>/dev/null || true)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

_make_certs() {
	local d=$BENCH_TMP/certs
	mkdir -m 0755 "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -sha256 \
		-keyout "$d/ca.key" -out "$d/ca.crt" -subj "/CN=pipelock-fw bench CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$d/err" || bdie "openssl: $(cat "$d/err")"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
		-keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=$BENCH_HOST" 2>"$d/err" ||
		bdie "openssl: $(cat "$d/err")"
	printf '%s\n' "subjectAltName=DNS:$BENCH_HOST,IP:$BN_V4,IP:$BN_V6" \
		"basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" >"$d/server.ext"
	openssl x509 -req -days 2 -sha256 -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
		-CAcreateserial -extfile "$d/server.ext" -out "$d/server.crt" 2>"$d/err" ||
		bdie "openssl: $(cat "$d/err")"
	cat "$d/ca.crt" "$d/ca.key" >"$d/ca.pem"	# for the MITM peers
	chmod 0644 "$d"/*.crt
	chmod 0640 "$d"/*.key "$d/ca.pem"
}

_write_nginx_conf() {
	local p=$BENCH_TMP/nginx
	mkdir -p "$p/logs" "$p/tmp"
	cat >"$p/nginx.conf" <<EOF
# pipelock-fw bench upstream (generated)
worker_processes $NGINX_WORKERS;
pid $p/nginx.pid;
error_log $p/logs/error.log warn;
# BENCH_NGINX_CONNS: bench_engine.sh's idle test holds that many at once
worker_rlimit_nofile $((${BENCH_NGINX_CONNS:-8192} + 1024));
events { worker_connections ${BENCH_NGINX_CONNS:-8192}; }
http {
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 100000000;
    client_body_temp_path $p/tmp/body;
    proxy_temp_path $p/tmp/proxy;
    fastcgi_temp_path $p/tmp/fastcgi;
    uwsgi_temp_path $p/tmp/uwsgi;
    scgi_temp_path $p/tmp/scgi;
    ssl_certificate $BENCH_TMP/certs/server.crt;
    ssl_certificate_key $BENCH_TMP/certs/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:4m;
    server {
        listen $BN_V4:80 backlog=4096;
        listen [$BN_V6]:80 backlog=4096;
        listen $BN_V4:443 ssl backlog=4096;
        listen [$BN_V6]:443 ssl backlog=4096;
        server_name $BENCH_HOST;
        root $BENCH_TMP/www;
        location / { }
    }
}
EOF
}

_links_up() {
	in_bh ip -o link show dev "$BH_IF" | grep -q 'state UP' &&
		in_bn ip -o link show dev "$BN_IF" | grep -q 'state UP'
}

# bench_up -- namespaces, veth, names, certificates, files, nginx.  The
# caller installs the EXIT/INT/TERM trap that calls bench_down first.
bench_up() {
	local ns
	_BENCH_UP=1
	BENCH_TMP=$(mktemp -d /tmp/.plfw-bench.XXXXXX)
	chmod 0755 "$BENCH_TMP"	# nginx's worker and the agent read files here
	mkdir -m 0755 "$BENCH_TMP/www" "$BENCH_TMP/logs" "$BENCH_TMP/variants"
	_make_certs
	head -c 1024 /dev/urandom >"$BENCH_TMP/www/1k"
	head -c $((1 << 20)) /dev/urandom >"$BENCH_TMP/www/1m"
	chmod 0644 "$BENCH_TMP"/www/*
	_write_nginx_conf

	ip netns add "$BH_NS"
	ip netns add "$BN_NS"
	for ns in "$BH_NS" "$BN_NS"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
		ip netns exec "$ns" ip link set lo up
		ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1
	done
	in_bh ip link add "$BH_IF" type veth peer name "$BN_IF" netns "$BN_NS"
	in_bh ip addr add "$BH_V4/24" dev "$BH_IF"
	in_bh ip -6 addr add "$BH_V6/64" dev "$BH_IF" nodad
	in_bn ip addr add "$BN_V4/24" dev "$BN_IF"
	in_bn ip -6 addr add "$BN_V6/64" dev "$BN_IF" nodad
	in_bh ip link set "$BH_IF" up
	in_bn ip link set "$BN_IF" up
	wait_for 5 _links_up || bdie "veth $BH_IF/$BN_IF did not come up"
	# Connection: close runs need many ports; interceptors listen below them
	in_bh sysctl -qw net.ipv4.ip_local_port_range="$EPHEMERAL_RANGE"

	mkdir -p "/etc/netns/$BH_NS" || mkdir -p "/etc/netns/$BH_NS"
	cat >"/etc/netns/$BH_NS/hosts" <<EOF
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
$BN_V4 $BENCH_HOST
EOF
	# no DNS server anywhere: resolvers (squid's, the engine's) stay on loopback
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"/etc/netns/$BH_NS/resolv.conf"
	chmod 0644 "/etc/netns/$BH_NS/hosts" "/etc/netns/$BH_NS/resolv.conf"

	bg_run "$BN_NS" "$BENCH_TMP/logs/nginx.log" nginx -p "$BENCH_TMP/nginx" \
		-c "$BENCH_TMP/nginx/nginx.conf" -e "$BENCH_TMP/nginx/logs/error.log" -g 'daemon off;'
	NGINX_PID=$BG_PID
	wait_for 10 listening "$BN_NS" 443 || bdie "nginx did not start: $(cat "$BENCH_TMP/logs/nginx.log")"
	blog "bench topology up: $BH_NS <-> $BN_NS (tmp $BENCH_TMP)"
}

# bench_down -- idempotent: stop every process we started, anything left in
# our namespaces, delete the namespaces, /etc/netns entries and BENCH_TMP
# (BENCH_KEEP=1 keeps BENCH_TMP: configs and logs of every variant).
bench_down() {
	local p ns
	[[ $_BENCH_UP == 1 ]] || return 0
	_BENCH_UP=0
	{
		# interceptors first, by PID (pipelock-fw removes its rules on TERM)
		for p in $BENCH_PIDS; do
			[[ $p == "${NGINX_PID:-}" ]] || pid_stop "$p"
		done
		pid_stop "${NGINX_PID:-}"
		for ns in "$BH_NS" "$BN_NS"; do
			ns_exists "$ns" || continue
			for p in $(ip netns pids "$ns"); do
				kill -KILL "$p"
			done
		done
	} 2>/dev/null
	for ns in "$BH_NS" "$BN_NS"; do
		ns_exists "$ns" && ip netns del "$ns"
	done
	rm -rf "/etc/netns/$BH_NS"
	rmdir /etc/netns 2>/dev/null || true	# only if empty
	if [[ -n $BENCH_TMP && -d $BENCH_TMP ]]; then
		if [[ ${BENCH_KEEP:-0} == 1 ]]; then blog "kept $BENCH_TMP"; else rm -rf "$BENCH_TMP"; fi
	fi
	return 0
}

# fetch_ok UID SCHEME PATH -- as UID, PATH over SCHEME has the served
# file's content (sha256).
fetch_ok() {
	local want got
	want=$(sha256sum <"$BENCH_TMP/www/${3#/}" | awk '{print $1}')
	got=$(as_uid "$1" curl -fsS -k --max-time 15 "$2://$BENCH_HOST$3" 2>/dev/null | sha256sum | awk '{print $1}')
	[[ $got == "$want" ]]
}
