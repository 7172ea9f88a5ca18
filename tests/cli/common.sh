# Sourced by the CLI tests: a scratch directory removed on exit, and fail().
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
