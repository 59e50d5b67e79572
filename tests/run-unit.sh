#!/bin/sh
# Run the unit test binaries (TAP) and add up their results.
# usage: run-unit.sh BUILD_DIR BIN...
build=$1; shift
passed=0 failed=0
for t in "$@"; do
	out=$("$t" 2>&1); rc=$?
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	f=$(printf '%s\n' "$out" | grep -c '^not ok ')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1	# crashed or exited non-zero without a failing assertion
		out="$out
not ok - $t exited with status $rc"
	fi
	if [ "$f" -gt 0 ]; then
		printf '%s\n' "$out" | grep -E '^(not ok|#)' | sed "s|^|  $(basename "$t"): |"
		echo "FAIL unit $(basename "$t"): $p passed, $f failed"
	else
		echo "ok   unit $(basename "$t"): $p passed"
	fi
	passed=$((passed + p)); failed=$((failed + f))
done
echo "unit: $passed passed, $failed failed"
[ -n "$RESULTS" ] && echo "$passed $failed 0" >"$RESULTS/unit.count"
[ "$failed" -eq 0 ]
