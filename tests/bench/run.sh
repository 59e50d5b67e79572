#!/bin/sh
# run.sh - `make bench`: every tests/bench/bench_*.sh, one after the other.
# PIPELOCK_FW names the binary (the Makefile passes $(BUILD)/pipelock-fw);
# the BENCH_* knobs of each script pass through.  A script exiting 77 was
# skipped (says why); any other non-zero status makes the run fail, but the
# remaining scripts still run.  The scanner's C benchmark is `make
# bench-scanner` (a dependency of `make bench`).
here=$(cd "$(dirname "$0")" && pwd)
failed=0
for b in "$here"/bench_*.sh; do
	[ -e "$b" ] || continue
	name=$(basename "$b" .sh)
	echo "=== $name"
	bash "$b"
	rc=$?
	case $rc in
	0) ;;
	77) echo "=== $name: skipped" ;;
	*) echo "=== $name: FAILED (rc=$rc)"; failed=1 ;;
	esac
done
exit $failed
