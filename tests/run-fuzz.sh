#!/bin/sh
# Run each libFuzzer target for a bounded time (seconds) from its seed corpus
# (tests/fuzz/corpus/NAME, copied so the run does not write to the tree).
secs=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0
for f in "$@"; do
	name=$(basename "$f")
	work=$(mktemp -d)
	[ -d "$here/fuzz/corpus/$name" ] && cp -r "$here/fuzz/corpus/$name/." "$work/"
	if "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=0 "$work" >"$work.log" 2>&1; then
		echo "ok   fuzz $name (${secs}s, $(grep -o 'stat::number_of_executed_units: [0-9]*' "$work.log" | awk '{print $2}')$(tail -n 1 "$work.log" | grep -o 'Done [0-9]* runs' ))"
		passed=$((passed + 1))
	else
		echo "FAIL fuzz $name; last lines:"
		tail -n 30 "$work.log" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
	rm -rf "$work" "$work.log"
done
echo "fuzz: $passed passed, $failed failed"
[ -n "$RESULTS" ] && echo "$passed $failed 0" >"$RESULTS/fuzz.count"
[ "$failed" -eq 0 ]
