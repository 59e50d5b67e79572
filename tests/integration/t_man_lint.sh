#!/bin/bash
# The man pages lint clean (mandoc -Tlint at warning level).
set -eu
command -v mandoc >/dev/null || { echo "mandoc missing: run scripts/deps.sh" >&2; exit 1; }
mandoc -Tlint -Wwarning man/pipelock-fw.8 man/pipelock-fw.yaml.5
echo "man pages lint clean"
