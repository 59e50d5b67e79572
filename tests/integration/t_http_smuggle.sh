#!/usr/bin/env bash
# t_http_smuggle.sh - anything two HTTP parsers could frame differently is
# refused with 400 and never forwarded: Content-Length with
# Transfer-Encoding, duplicate (conflicting) Content-Length, a bad chunk
# size, obs-fold, NUL in a header, an invalid method; each after a clean
# request on the same connection too (the clean one is relayed, the bad one
# is not).  A 100 MB body, announced or chunked, streamed by a bounded
# client, is refused (413) and the engine's resident memory stays bounded.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh
. tests/integration/helpers/http.sh

tproxy_up

H="Host: $V4_UP"
declare -A bad=(
	[clte]="POST /sm-clte HTTP/1.1\r\n$H\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	[dupcl]="POST /sm-dupcl HTTP/1.1\r\n$H\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"
	[chunk]="POST /sm-chunk HTTP/1.1\r\n$H\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
	[obsfold]="GET /sm-obsfold HTTP/1.1\r\n$H\r\nX-A: one\r\n two\r\n\r\n"
	[nul]="GET /sm-nul HTTP/1.1\r\n$H\r\nX-A: a\0b\r\n\r\n"
	[method]="G(T /sm-method HTTP/1.1\r\n$H\r\n\r\n"
)
clean=$(req clean 'GET /sm-clean HTTP/1.1\r\nHost: %s\r\n\r\n' "$V4_UP")
for k in "${!bad[@]}"; do
	f=$(req "bad-$k" "${bad[$k]}")
	out=$(hc send "$V4_UP" "$f")
	[[ $out == "STATUS 400 "* ]] || fail "$k: want 400, got '$out'"
	out=$(hc send "$V4_UP" "$clean" "$f")
	[[ $out == $'STATUS 200 ok GET /sm-clean\nSTATUS 400 '* ]] || fail "clean then $k: got '$out'"
done
n=$(up_requests /sm-)
[[ $n == "${#bad[@]}" ]] || fail "upstream parsed $n requests, want only the ${#bad[@]} clean ones"
! upstream_saw "sm-clte" || fail "the upstream saw bytes of a smuggling request"
for k in "${!bad[@]}"; do
	! upstream_saw "/sm-$k" || fail "the upstream saw bytes of the $k request"
done
wait_until 5 audit_has '"event":"http"' '"verdict":"block"' '"status":400' '"scanner":"http"' ||
	fail "no audit line for a 400"

# 100 MB bodies: refused, memory bounded (VmRSS sampled while they stream)
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$ENGINE_PID/status"; }
rss_max=0
stream_watch() { # OUTFILE HEADFILE ARGS... -> the client's output in OUTFILE
	local out=$1 r
	shift
	bg_start "$out" as_agent "$PY" "$INTEG_DIR/helpers/http_client.py" stream "$V4_UP" 80 "$@"
	while pid_alive "$BG_PID"; do
		r=$(rss_kb)
		((r > rss_max)) && rss_max=$r
		sleep 0.05
	done
	wait "$BG_PID" || true
}
rss0=$(rss_kb)
big=$((100 * 1024 * 1024))
f=$(req big-cl 'POST /sm-big-cl HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n' "$V4_UP" "$big")
stream_watch "$TEST_TMP/big-cl.out" "$f" --total "$big"
out=$(cat "$TEST_TMP/big-cl.out")
[[ $out == "STATUS 413 "* ]] || fail "100 MB Content-Length body: '$out'"
f=$(req big-ch 'POST /sm-big-ch HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n' "$V4_UP")
stream_watch "$TEST_TMP/big-ch.out" "$f" --total "$big" --chunked
out=$(cat "$TEST_TMP/big-ch.out")
[[ $out == "STATUS 413 "* ]] || fail "100 MB chunked body: '$out'"
sent=$(sed -n 's/^SENT //p' <<<"$out")
((sent < 50 * 1024 * 1024)) || fail "the client could send $sent body bytes before the refusal"
log "engine VmRSS ${rss0} kB at rest, at most ${rss_max} kB while 100 MB bodies streamed"
# growth is what a body could cause; the absolute bound only without ASan
# (its shadow memory alone is larger)
((rss_max - rss0 < 40 * 1024)) || fail "engine VmRSS grew by $((rss_max - rss0)) kB"
if ! grep -q __asan_init "$PLFW"; then
	((rss_max < 64 * 1024)) || fail "engine VmRSS ${rss_max} kB >= 64 MiB"
fi
[[ $(up_requests /sm-big) == 0 ]] || fail "a 100 MB request reached the upstream"
((n = $(upstream_bytes 80))) || true
((n < 1024 * 1024)) || fail "the upstream received $n bytes"
log "PASS t_http_smuggle"
