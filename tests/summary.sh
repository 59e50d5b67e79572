#!/bin/sh
# Add up the stage counts and print the closing line CI reads.
dir=$1
passed=0 failed=0 skipped=0
for stage in unit integration fuzz; do
	if [ ! -s "$dir/$stage.count" ]; then
		echo "summary: stage $stage produced no result (counted as a failure)"
		failed=$((failed + 1)); continue
	fi
	read -r p f s <"$dir/$stage.count"
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
done
[ "$skipped" -gt 0 ] && echo "summary: $skipped skipped (see 'skip' lines above)"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
