#!/bin/sh
# Run the netns integration tests: tests/integration/t_*.sh (and, with LONG=1,
# tests/integration/long/t_*.sh).  Each is one scenario in namespaces it
# creates and removes itself; exit 0 = pass, 77 = skip (counted, with its
# reason), anything else = fail.  Needs root; PIPELOCK_FW names the binary.
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0 skipped=0
logdir=${RESULTS:-/tmp}/integration-logs
mkdir -p "$logdir"
tests=$(ls "$here"/integration/t_*.sh 2>/dev/null)
[ "${LONG:-0}" = 1 ] && tests="$tests $(ls "$here"/integration/long/t_*.sh 2>/dev/null)"
per_test_timeout=${TEST_TIMEOUT:-300}
for t in $tests; do
	name=$(basename "$t" .sh)
	if [ "$(id -u)" -ne 0 ]; then
		echo "skip integ $name: needs root"
		skipped=$((skipped + 1)); continue
	fi
	start=$(date +%s)
	timeout -k 10 "$per_test_timeout" sh -c "cd '$here/..' && exec bash '$t'" >"$logdir/$name.log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0) echo "ok   integ $name (${secs}s)"; passed=$((passed + 1)) ;;
	77) echo "skip integ $name: $(tail -n 1 "$logdir/$name.log")"; skipped=$((skipped + 1)) ;;
	*) echo "FAIL integ $name (rc=$rc, ${secs}s); last lines of $logdir/$name.log:"
	   tail -n 25 "$logdir/$name.log" | sed 's/^/    /'
	   failed=$((failed + 1)) ;;
	esac
done
echo "integration: $passed passed, $failed failed, $skipped skipped"
[ -n "$RESULTS" ] && echo "$passed $failed $skipped" >"$RESULTS/integration.count"
[ "$failed" -eq 0 ]
