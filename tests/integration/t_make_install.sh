#!/bin/bash
# `make install DESTDIR=... PREFIX=...` puts the binary, both man pages and
# the example config where they belong, and the installed binary runs.
set -eu
bin=${PIPELOCK_FW:-$PWD/build/pipelock-fw}
build=$(dirname "$bin")
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
make -s --no-print-directory install BUILD="$build" DESTDIR="$dest" PREFIX=/usr >/dev/null
for f in usr/sbin/pipelock-fw usr/share/man/man8/pipelock-fw.8 \
    usr/share/man/man5/pipelock-fw.yaml.5 etc/pipelock-fw/pipelock.yaml.example \
    lib/systemd/system/pipelock-fw.service etc/logrotate.d/pipelock-fw; do
	[ -f "$dest/$f" ] || { echo "missing after install: $f"; exit 1; }
done
"$dest/usr/sbin/pipelock-fw" --version | grep -q '^pipelock-fw ' || { echo "installed binary does not run"; exit 1; }
"$dest/usr/sbin/pipelock-fw" check --config "$dest/etc/pipelock-fw/pipelock.yaml.example" >/dev/null 2>&1 \
    || { echo "installed example config does not load"; exit 1; }
grep -q "^ExecStart=/usr/sbin/pipelock-fw run" "$dest/lib/systemd/system/pipelock-fw.service" \
    || { echo "unit does not name the installed binary"; exit 1; }
echo "install layout ok"
