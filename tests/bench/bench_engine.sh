#!/usr/bin/env bash
# bench_engine.sh - what pipelock-fw costs an agent, next to a direct
# connection and to the transparent proxies Debian ships, in one run.
#
#   sudo PIPELOCK_FW=$PWD/build/pipelock-fw tests/bench/bench_engine.sh
#   (or `make bench`; knobs below as environment variables)
#
# Two network namespaces (engine/lib.sh): agents run wrk or curl against
# nginx behind a veth.  Every variant runs for the whole bench, each
# reached by its own agent uid (engine/variants.sh), and is first checked:
# its agent's traffic really goes through it and gets the right bytes over
# http and https.  Then each repetition runs every test on every variant in
# turn (the order rotates per repetition), so that load bursts of a shared
# machine hit all variants alike:
#   pipelock   uid 1000: `pipelock-fw run --apply --remove-on-exit` (its own
#              nft table and routes), strict mode allowing bench.test, DLP
#              defaults; 443 is SNI-peeked and spliced (passthrough)
#   direct     uid 1001: no interception, the ceiling every ratio divides by
#   haproxy    transparent L4 relay (inspects nothing)
#   squid      transparent HTTP proxy; 443 ssl_bump peek + splice
#   mitmproxy, sslsplit   full MITM; very slow, only if asked for
# Tests (NAME = scheme-body-[close-]cCONNS):
#   http-1k-c{1,16,128}   keep-alive, 1 KiB body
#   https-1k-c{1,16,128}  the same over TLS (wrk sends SNI)
#   http-1k-close-c16, https-1k-close-c16   a new connection per request
#   http-1m-c4            1 MiB bodies (throughput = req/s x 1 MiB)
#   http-1k-seq100        100 sequential curl fetches, 1 s limit each:
#                         stalled connections, which wrk hides, are errors
# Proxy RSS = peak of the process tree's summed VmRSS sampled every 0.25 s
# during the test (and VmHWM after the measured runs); CPU = its
# utime+stime over the test's wall time (100 = one core), and per request
# (CPU time / requests: barely moved by other load on the machine, unlike
# req/s).
#
# Knobs (defaults): BENCH_DURATION (2) seconds per wrk run, BENCH_REPS (5:
# on a shared machine many short paired runs beat a few long ones),
# BENCH_TESTS (all of the above), BENCH_PEERS ("haproxy squid"; add
# mitmproxy sslsplit), BENCH_VARIANTS (overrides direct+pipelock+peers),
# BENCH_OUT (dir of PIPELOCK_FW/bench), BENCH_TAG (UTC time),
# BENCH_WRK_THREADS (1), BENCH_PLFW_MODE (strict | balanced), BENCH_PLFW_ARGS
# (more `run` arguments, e.g. "--workers 1"),
# BENCH_PERF ("" | test names: after the measured runs, `perf record` the
# engine during one extra run of each and keep the report; BENCH_PERF_HZ
# (1999), BENCH_PERF_CG (fp | dwarf)), BENCH_KEEP=1
# (keep configs and logs), BENCH_IDLE ("1000 10000": after the measured
# runs, for each count, a freshly started interceptor's RSS growth while
# its agent holds that many idle, already relayed keep-alive connections;
# 0: skip).  The idle test needs a file descriptor per connection in the
# agent and 1 (squid, which drops idle server connections) to 4
# (pipelock-fw: 2 sockets and a pipe) in the interceptor: every variant is
# configured for the largest count, and what the RLIMIT_NOFILE hard limit
# of the machine does not allow shows as connections not held.
# Output in BENCH_OUT: engine-TAG.md (printed), raw-TAG.csv, peaks-TAG.csv, idle-TAG.csv,
# env-TAG.txt, perf-TAG-TEST.txt; engine-latest.md is the last run.
# Exit: 0 measured (targets are reported, not asserted), 77 skipped
# (not root, no wrk), 1 the bench itself failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=engine/lib.sh
. "$HERE/engine/lib.sh"
# shellcheck source=engine/variants.sh
. "$HERE/engine/variants.sh"

ALL_TESTS="http-1k-c1 http-1k-c16 http-1k-c128 https-1k-c1 https-1k-c16 https-1k-c128 \
http-1k-close-c16 https-1k-close-c16 http-1m-c4 http-1k-seq100"
PIPELOCK_FW=${PIPELOCK_FW:-$BENCH_ROOT/build/pipelock-fw}
DURATION=${BENCH_DURATION:-2}
REPS=${BENCH_REPS:-5}
TESTS=$(tr -s ' \n' '  ' <<<"${BENCH_TESTS:-$ALL_TESTS}")
TESTS=${TESTS% }
PEERS=${BENCH_PEERS:-haproxy squid}
WRK_THREADS=${BENCH_WRK_THREADS:-1}
TAG=${BENCH_TAG:-$(date -u +%Y%m%d-%H%M%S)}
PERF_TESTS=${BENCH_PERF:-}
IDLE_LIST=${BENCH_IDLE-1000 10000}
IDLE_MAX=0			# the largest count: peers' limits are set for it
for _n in $IDLE_LIST; do
	[[ $_n =~ ^[0-9]+$ ]] || { echo "BENCH_IDLE: '$_n' is not a count" >&2 && exit 1; }
	((_n > IDLE_MAX)) && IDLE_MAX=$_n
done
IDLE_LIST=$(tr -s ' ' '\n' <<<"$IDLE_LIST" | awk '$1 > 0' | sort -un | tr '\n' ' ')
IDLE_LIST=${IDLE_LIST% }
# nginx behind them must take as many (engine/lib.sh)
# shellcheck disable=SC2034  # read by engine/lib.sh
BENCH_NGINX_CONNS=$((IDLE_MAX + 1024 > 8192 ? IDLE_MAX + 1024 : 8192))
PERF_HZ=${BENCH_PERF_HZ:-1999}
PERF_CG=${BENCH_PERF_CG:-fp}		# fp (kernel stacks) | dwarf (user stacks too, large files)
CLK_TCK=$(getconf CLK_TCK)
SEQ_TIMEOUT=1			# seq tests: a fetch slower than this is a stall
WRK_TIMEOUT=5			# wrk --timeout: a reply slower than this is an error

SAMPLER_PID=""
PERF_PID=""

skip() { blog "SKIP: $*"; exit 77; }

on_exit() {
	local rc=$?
	trap - EXIT
	trap '' INT TERM	# a second Ctrl-C must not cut the cleanup short
	set +e
	pid_alive "$SAMPLER_PID" && kill "$SAMPLER_PID" 2>/dev/null
	pid_alive "$PERF_PID" && kill -INT "$PERF_PID" 2>/dev/null
	for v in "${!V_PID[@]}"; do variant_stop "$v"; done
	steer_remove
	bench_down
	exit "$rc"
}

# rss_sampler PID FILE -- keep the peak summed VmRSS of PID's tree in FILE.
rss_sampler() {
	local pid=$1 out=$2 r max=0
	while pid_alive "$pid"; do
		r=$(rss_kb "$pid")
		if ((r > max)); then max=$r && echo "$max" >"$out"; fi
		sleep 0.25
	done
}

# mem_kb PID -- "VmHWM,RssAnon,RssFile" (KiB) summed over PID's tree:
# peak RSS over its lifetime, then what the RSS is made of now.
mem_kb() {
	local p
	for p in "$1" $(descendants "$1"); do cat "/proc/$p/status" 2>/dev/null; done |
		awk '/^VmHWM:/ {h += $2} /^RssAnon:/ {a += $2} /^RssFile:/ {f += $2}
			END {printf "%d,%d,%d\n", h, a, f}'
}

# run_wrk UID CONNS URL [ARGS...] -- "requests seconds p50_ms p99_ms errors"
run_wrk() {
	local uid=$1 conns=$2 url=$3 threads=$WRK_THREADS out line
	shift 3
	((threads > conns)) && threads=$conns
	out=$(timeout $((DURATION + 30)) ip netns exec "$BH_NS" setpriv --reuid="$uid" \
		--regid="$uid" --clear-groups -- wrk -t"$threads" -c"$conns" -d"${DURATION}s" \
		--timeout "${WRK_TIMEOUT}s" -s "$HERE/engine/wrk-report.lua" "$@" "$url" 2>&1) || true
	line=$(grep '^BENCHRESULT' <<<"$out" || true)
	if [[ -z $line ]]; then
		blog "wrk gave no result for $url: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
		echo "0 $DURATION 0 0 -1"
		return
	fi
	awk '{
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		printf "%d %.3f %.3f %.3f %d\n", v["requests"], v["duration_us"] / 1e6,
			v["p50_us"] / 1e3, v["p99_us"] / 1e3,
			v["connect"] + v["read"] + v["write"] + v["status"] + v["timeout"]
	}' <<<"$line"
}

# run_seq UID N URL -- N sequential curl fetches, a new connection each,
# with a SEQ_TIMEOUT limit: "requests seconds p50_ms p99_ms errors"
run_seq() {
	local uid=$1
	shift
	# shellcheck disable=SC2016  # expanded by the agent's shell
	as_uid "$uid" bash -c 'for ((i = 0; i < $1; i++)); do
		curl -s -o /dev/null --max-time "$3" -w "%{http_code} %{time_total}\n" "$2" || echo "000 0"
	done' _ "$1" "$2" "$SEQ_TIMEOUT" | awk '
		$1 == 200 { n++; t[n] = $2; tot += $2; next } { err++ }
		END {
			if (n == 0) { printf "0 0 0 0 %d\n", err; exit }
			for (i = 2; i <= n; i++) { v = t[i]; for (j = i - 1; j > 0 && t[j] > v; j--) t[j + 1] = t[j]; t[j + 1] = v }
			k = int(n * 0.99 + 0.5); if (k < 1) k = 1
			printf "%d %.3f %.3f %.3f %d\n", n, tot, t[int((n + 1) / 2)] * 1e3, t[k] * 1e3, err + 0
		}'
}

# parse_test TEST -- URL, BODY (bytes), CONNS, EXTRA (wrk args) of a test name.
parse_test() {
	local t=$1 scheme=${1%%-*}
	case $t in
	*-1k-*) BODY=1024 && URL="$scheme://$BENCH_HOST/1k" ;;
	*-1m-*) BODY=$((1 << 20)) && URL="$scheme://$BENCH_HOST/1m" ;;
	*) bdie "test $t: unknown body size" ;;
	esac
	CONNS=${t##*-c}
	[[ $CONNS =~ ^[0-9]+$ ]] || CONNS=1
	EXTRA=()
	[[ $t == *-close-* ]] && EXTRA=(-H "Connection: close")
	return 0
}

# run_test VARIANT REP TEST -- one measurement, appended to RAW.
run_test() {
	local v=$1 rep=$2 t=$3 res rssf t0=0 t1 start end rss=0 cpu=0 cpu_ms=0
	local n secs p50 p99 errs pid=${V_PID[$1]:-} uid=${V_UID[$1]}
	parse_test "$t"
	rssf=$BENCH_TMP/rss.peak
	echo 0 >"$rssf"
	if pid_alive "$pid"; then
		t0=$(cpu_ticks "$pid")
		rss_sampler "$pid" "$rssf" &
		SAMPLER_PID=$!
	fi
	start=$(date +%s.%N)
	if [[ $t == *-seq* ]]; then
		res=$(run_seq "$uid" "${t##*-seq}" "$URL")
	else
		res=$(run_wrk "$uid" "$CONNS" "$URL" "${EXTRA[@]}")
	fi
	end=$(date +%s.%N)
	if [[ -n $SAMPLER_PID ]]; then
		kill "$SAMPLER_PID" 2>/dev/null || true
		wait "$SAMPLER_PID" 2>/dev/null || true
		SAMPLER_PID=""
	fi
	if pid_alive "$pid"; then
		t1=$(cpu_ticks "$pid")
		rss=$(rss_kb "$pid")
		(($(cat "$rssf") > rss)) && rss=$(cat "$rssf")
		cpu=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v s="$start" -v e="$end" \
			'BEGIN {printf "%.0f", 100 * d / hz / (e - s)}')
		cpu_ms=$(((t1 - t0) * 1000 / CLK_TCK))
	elif [[ $v != direct ]]; then
		blog "$v DIED during $t: $(tail -n 5 "$BENCH_TMP/logs/$v.log" | tr '\n' ' ')"
		DIED[$v]+="rep$rep $t; "
	fi
	read -r n secs p50 p99 errs <<<"$res"
	awk -v OFS=, -v v="$v" -v rep="$rep" -v t="$t" -v c="$CONNS" -v n="$n" -v d="$secs" \
		-v p50="$p50" -v p99="$p99" -v e="$errs" -v body="$BODY" -v rss="$rss" -v cpu="$cpu" \
		-v cms="$cpu_ms" 'BEGIN {
		rps = d > 0 ? n / d : 0
		printf "%s,%d,%s,%d,%.3f,%d,%.1f,%.3f,%.3f,%.2f,%d,%d,%d,%d\n",
			v, rep, t, c, d, n, rps, p50, p99, rps * body / 1048576, e, rss, cpu, cms }' >>"$RAW"
	blog "  $v rep$rep $t: $(tail -n 1 "$RAW" | cut -d, -f6-)"
}

# upstream_conns -- established connections nginx serves on :80.
upstream_conns() { in_bn ss -Htn state established "( sport = :80 )" | wc -l; }

# nofile PID -- PID's RLIMIT_NOFILE soft limit.
nofile() { awk '/^Max open files/ {print $4}' "/proc/$1/limits" 2>/dev/null || echo 0; }

# idle_test VARIANT N -- RSS of VARIANT's processes (freshly started)
# while its agent holds N idle keep-alive connections that each fetched
# /1k, against before.  Bounded: idle_conns.py gives up 20 s + 6 ms per
# connection after its start; the RSS is sampled for 1 s once it holds them.
idle_test() {
	local v=$1 n=$2 pid=${V_PID[$1]} before held=0 r i ready ipid limit
	local out=$BENCH_TMP/idle-$1-$2.out ok=0 failed=0 secs=0 why="no result" bound fds=0 pipes=0 up=0 up0
	pid_alive "$pid" || return 0
	bound=$((20 + n * 6 / 1000 + 10))
	limit=$(nofile "$pid")
	before=$(rss_kb "$pid")
	up0=$(upstream_conns)
	ip netns exec "$BH_NS" timeout $((bound + 30)) setpriv --reuid="${V_UID[$v]}" \
		--regid="${V_UID[$v]}" --clear-groups -- /usr/bin/python3 "$BENCH_TMP/idle_conns.py" \
		"$n" "$BENCH_HOST" /1k 60 >"$out" 2>&1 &
	ipid=$!
	if wait_for "$bound" grep -q '^READY' "$out"; then
		for ((i = 0; i < 4; i++)); do
			sleep 0.25
			r=$(rss_kb "$pid")
			((r > held)) && held=$r
		done
		# what holding them costs in descriptors, and whether the
		# interceptor kept its upstream connections (squid may pool them)
		fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
		pipes=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 -lname 'pipe:*' 2>/dev/null | wc -l)
		up=$(($(upstream_conns) - up0))
	fi
	ready=$(grep -m1 '^READY' "$out" || true)
	[[ -n $ready ]] && read -r _ ok failed secs why <<<"$ready"
	kill "$ipid" 2>/dev/null || true
	wait "$ipid" 2>/dev/null || true
	[[ -n $ready ]] || blog "$v: idle connections: $(tail -n 3 "$out" | tr '\n' ' ')"
	((held > 0)) || held=$before
	why=${why//,/;}
	echo "$v,$n,$ok,$before,$held,$failed,$secs,$limit,$fds,$up,$why" >>"$IDLE_CSV"
	blog "  $v idle: $ok/$n connections held in ${secs} s ($why; $fds fds of $limit, $pipes of them pipe ends; $up upstream), RSS ${before} -> ${held} KiB"
}

# perf_profile TEST -- `perf record` the engine during one extra run of TEST.
perf_profile() {
	local t=$1 data
	data=$OUT/perf-$TAG-$t.data
	parse_test "$t"
	perf record -F "$PERF_HZ" --call-graph "$PERF_CG" -p "${V_PID[pipelock]}" -o "$data" -- sleep "$DURATION" \
		>"$BENCH_TMP/logs/perf.log" 2>&1 &
	PERF_PID=$!
	run_wrk "${V_UID[pipelock]}" "$CONNS" "$URL" "${EXTRA[@]}" >/dev/null
	wait "$PERF_PID" || true
	PERF_PID=""
	{
		echo "# perf record -F $PERF_HZ --call-graph $PERF_CG -p <pipelock-fw> during $t (${DURATION}s)"
		echo "# share of the engine's samples by object, then by symbol"
		perf report -i "$data" --stdio --no-children --sort dso -g none 2>/dev/null | grep -v '^#' | grep .
		perf report -i "$data" --stdio --no-children --sort dso,sym --percent-limit 0.5 -g none \
			2>/dev/null | grep -v '^#' | grep .
		echo "# pipelock-fw's own code"
		perf report -i "$data" --stdio --no-children --dso pipelock-fw --sort sym --percent-limit 0.1 \
			-g none 2>/dev/null | grep -v '^#' | grep .
	} >"$OUT/perf-$TAG-$t.txt" 2>&1 || true
	blog "perf profile of pipelock during $t: $OUT/perf-$TAG-$t.txt"
}

write_env() {
	local v
	{
		echo "tag: $TAG"
		echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
		echo "kernel: $(uname -r)  cpus: $(nproc)  model: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
		echo "memory: $(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
		echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
		echo "reps: $REPS  duration: ${DURATION}s  wrk threads: $WRK_THREADS  nginx workers: $NGINX_WORKERS"
		echo "tests: $TESTS"
		echo "wrk: $(dpkg-query -W -f='${Version}' wrk 2>/dev/null)  curl: $(curl -V | awk 'NR == 1 {print $2}')  openssl: $(openssl version | awk '{print $2}')  nft: $(nft -v | awk '{print $2}')"
		for v in "${VARIANTS[@]}"; do
			echo "variant $v: $("v_${v}_version" 2>/dev/null || echo '?')"
		done
		echo "command: $REPRO"
	} >"$OUT/env-$TAG.txt"
}

main() {
	local v rep t fails=0 done_notes=""
	local -A notes=()
	declare -gA DIED=()
	[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, nft)"
	command -v wrk >/dev/null || skip "wrk not installed (scripts/deps.sh all)"
	command -v nginx >/dev/null || skip "nginx not installed (scripts/deps.sh all)"
	[[ -x $PIPELOCK_FW ]] || bdie "PIPELOCK_FW=$PIPELOCK_FW is not an executable"
	for t in $TESTS; do
		[[ " $ALL_TESTS " == *" $t "* ]] || bdie "unknown test '$t' (have: $ALL_TESTS)"
	done
	if [[ -n ${BENCH_VARIANTS:-} ]]; then
		read -r -a VARIANTS <<<"$BENCH_VARIANTS"
	else
		VARIANTS=(direct pipelock)
		for v in $PEERS; do
			if command -v "$(variant_binary "$v")" >/dev/null; then
				VARIANTS+=("$v")
			else
				blog "peer $v: $(variant_binary "$v") not installed, left out (apt-get install it)"
			fi
		done
	fi
	for v in "${VARIANTS[@]}"; do variant_known "$v" || bdie "unknown variant '$v'"; done
	OUT=${BENCH_OUT:-$(cd "$(dirname "$PIPELOCK_FW")" && pwd)/bench}
	mkdir -p "$OUT"
	RAW=$OUT/raw-$TAG.csv
	PEAKS=$OUT/peaks-$TAG.csv
	IDLE_CSV=$OUT/idle-$TAG.csv
	# the command line that reproduces this run: the knobs that were set
	REPRO="sudo make bench"
	v=$(basename "$(dirname "$PIPELOCK_FW")")
	[[ $v == build ]] || REPRO="$REPRO BUILD=$v"
	[[ -n ${BENCH_DURATION:-} ]] && REPRO="$REPRO BENCH_DURATION=$DURATION"
	[[ -n ${BENCH_REPS:-} ]] && REPRO="$REPRO BENCH_REPS=$REPS"
	[[ -n ${BENCH_PEERS:-} ]] && REPRO="$REPRO BENCH_PEERS=\"$PEERS\""
	[[ -n ${BENCH_TESTS:-} ]] && REPRO="$REPRO BENCH_TESTS=\"$TESTS\""
	[[ -n ${BENCH_VARIANTS:-} ]] && REPRO="$REPRO BENCH_VARIANTS=\"${VARIANTS[*]}\""
	[[ -n ${BENCH_PLFW_MODE:-} ]] && REPRO="$REPRO BENCH_PLFW_MODE=$PLFW_MODE"
	[[ -n ${BENCH_IDLE+set} ]] && REPRO="$REPRO BENCH_IDLE=\"$IDLE_LIST\""

	trap on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	bench_up
	write_env
	echo "variant,rep,test,conns,duration_s,requests,rps,p50_ms,p99_ms,mib_s,errors,rss_kb,cpu_pct,cpu_ms" >"$RAW"
	echo "variant,vmhwm_kb,rss_anon_kb,rss_file_kb" >"$PEAKS"
	echo "variant,conns,ok,rss_before_kb,rss_held_kb,failed,seconds,nofile,fds,upstream,reason" >"$IDLE_CSV"
	cp "$HERE/engine/idle_conns.py" "$BENCH_TMP/"	# readable by the agent uids

	# uids: pipelock-fw's agent is 1000, direct 1001, peers 1002...
	local uid=1002 live=() order=()
	for v in "${VARIANTS[@]}"; do
		case $v in
		pipelock) V_UID[$v]=1000 ;;
		direct) V_UID[$v]=1001 ;;
		*) V_UID[$v]=$uid && uid=$((uid + 1)) ;;
		esac
		if variant_start "$v" "${V_UID[$v]}"; then
			live+=("$v")
		else
			notes[$v]+="did not start (see its log); not measured; "
			variant_stop "$v"
		fi
	done
	steer_install "${live[@]}"
	VARIANTS=()
	for v in "${live[@]}"; do
		if variant_check "$v"; then
			VARIANTS+=("$v")
		else
			notes[$v]+="failed its interception/content check; not measured; "
			fails=$((fails + 1))
		fi
	done
	((${#VARIANTS[@]})) || bdie "no variant passed its check"
	blog "bench: ${VARIANTS[*]} x $REPS reps x $(wc -w <<<"$TESTS") tests x ${DURATION}s -> $OUT"
	for ((rep = 1; rep <= REPS; rep++)); do
		# rotate the order so that no variant always follows the same one
		order=("${VARIANTS[@]:$(((rep - 1) % ${#VARIANTS[@]}))}" "${VARIANTS[@]:0:$(((rep - 1) % ${#VARIANTS[@]}))}")
		blog "rep $rep/$REPS (order: ${order[*]})"
		for t in $TESTS; do
			for v in "${order[@]}"; do
				if [[ ${V_MODE[$v]} != none ]] && ! pid_alive "${V_PID[$v]}"; then
					blog "$v is not running any more; restarting it"
					DIED[$v]+="found dead before rep$rep $t; "
					mv "$BENCH_TMP/logs/$v.log" "$BENCH_TMP/logs/$v.log.$rep.$t" 2>/dev/null || true
					variant_start "$v" "${V_UID[$v]}" || { variant_stop "$v" && continue; }
				fi
				run_test "$v" "$rep" "$t"
			done
		done
	done
	for v in "${VARIANTS[@]}"; do
		[[ ${V_MODE[$v]} == none ]] || echo "$v,$(mem_kb "${V_PID[$v]}")" >>"$PEAKS"
		# after all that load, the variant still relays the right bytes
		variant_check "$v" || notes[$v]+="FAILED its content check after the load; "
	done
	# last, each interceptor restarted: a fresh heap (after the load, freed
	# memory would be reused and hide the growth), and the heap it grows
	# would inflate the RSS of any test after it
	local n
	for n in $IDLE_LIST; do
		for v in "${VARIANTS[@]}"; do
			[[ ${V_MODE[$v]} != none ]] || continue
			variant_stop "$v"
			mv "$BENCH_TMP/logs/$v.log" "$BENCH_TMP/logs/$v.log.before-idle-$n" 2>/dev/null || true
			if variant_start "$v" "${V_UID[$v]}"; then
				idle_test "$v" "$n"
			else
				notes[$v]+="did not restart for the idle test ($n); "
			fi
		done
	done
	if [[ -n $PERF_TESTS ]]; then
		if ! command -v perf >/dev/null; then
			blog "BENCH_PERF: perf not installed (linux-perf)"
		elif [[ " ${VARIANTS[*]} " == *" pipelock "* ]]; then
			for t in $PERF_TESTS; do perf_profile "$t"; done
		fi
	fi
	for v in "${VARIANTS[@]}" "${!notes[@]}"; do
		[[ " ${done_notes:-} " == *" $v "* ]] && continue
		done_notes="${done_notes:-} $v"
		echo "note $v (uid ${V_UID[$v]}): ${V_NOTE[$v]:-}${notes[$v]:+; ${notes[$v]}}${DIED[$v]:+; ${DIED[$v]}}"
	done >>"$OUT/env-$TAG.txt"
	# what pipelock-fw said besides allow verdicts: diagnostics, blocks, errors
	if [[ -s $BENCH_TMP/logs/pipelock.log ]]; then
		cat "$BENCH_TMP"/logs/pipelock.log* | grep -v '"verdict":"allow"' |
			sed -E 's/"(time|src|pid|dst|duration_ms|bytes_up|bytes_down|url)":("[^"]*"|[0-9]+),?//g' |
			sort | uniq -c | sort -rn | head -n 25 | sed 's/^ */engine-log: /' >>"$OUT/env-$TAG.txt" || true
	fi
	python3 "$HERE/engine/summarize.py" --raw "$RAW" --peaks "$PEAKS" --idle "$IDLE_CSV" --env "$OUT/env-$TAG.txt" \
		--summary "$OUT/summary-$TAG.csv" >"$OUT/engine-$TAG.md"
	cp "$OUT/engine-$TAG.md" "$OUT/engine-latest.md"
	cat "$OUT/engine-$TAG.md"
	blog "results: $OUT/engine-$TAG.md (raw: $RAW)"
	((fails == 0)) || blog "$fails variant(s) failed their check; see the notes in the report"
}

main "$@"
