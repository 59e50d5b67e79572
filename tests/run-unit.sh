#!/bin/sh
# Run the unit test binaries (TAP) and add up their results.
# usage: run-unit.sh BUILD_DIR BIN...
build=$1; shift
passed=0 failed=0
# The scanner's tests run twice: as the CPU allows (SIMD trigger pass where
# the machine has it) and with PIPELOCK_FW_NO_SIMD=1 (the portable path).
runs=""
for t in "$@"; do
	runs="$runs $t"
	case $t in */scanner/test_*) runs="$runs nosimd:$t" ;; esac
done
for r in $runs; do
	case $r in
	nosimd:*) t=${r#nosimd:}; label="$(basename "$t") (no SIMD)"
		out=$(PIPELOCK_FW_NO_SIMD=1 "$t" 2>&1); rc=$? ;;
	*) t=$r; label=$(basename "$t"); out=$("$t" 2>&1); rc=$? ;;
	esac
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	f=$(printf '%s\n' "$out" | grep -c '^not ok ')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1	# crashed or exited non-zero without a failing assertion
		out="$out
not ok - $t exited with status $rc"
	fi
	if [ "$f" -gt 0 ]; then
		printf '%s\n' "$out" | grep -E '^(not ok|#)' | sed "s|^|  $label: |"
		echo "FAIL unit $label: $p passed, $f failed"
	else
		echo "ok   unit $label: $p passed"
	fi
	passed=$((passed + p)); failed=$((failed + f))
done
echo "unit: $passed passed, $failed failed"
[ -n "$RESULTS" ] && echo "$passed $failed 0" >"$RESULTS/unit.count"
[ "$failed" -eq 0 ]
