#!/usr/bin/env bash
# Runs every test of xtokend, installing first what the tests need (real XMPP clients, and what
# scripts/install-test-deps.sh lists), so that it passes on a new machine. Usage: scripts/test.sh
# It ends with the skipped tests (each with its reason), what could not be installed, and one
# count line: "tests: N passed, N failed, N skipped". In CI (CI=true) a test that needs a missing
# client fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Real clients for integration/ (Debian packages and npm lock files). Its warnings are kept for
# the summary at the end.
bash scripts/install-test-deps.sh 2>"$tmp/install.err" || { cat "$tmp/install.err" >&2; exit 1; }
cat "$tmp/install.err" >&2
grep -h 'install-test-deps: warning' "$tmp/install.err" >"$tmp/install-warnings" || true

go vet ./...
go build -o "$tmp/testsummary" ./scripts/testsummary

set +e
go test -race -count=1 -json ./... | "$tmp/testsummary" -warnings "$tmp/install-warnings"
status=("${PIPESTATUS[@]}")
set -e
if [ "${status[0]}" -ne 0 ] || [ "${status[1]}" -ne 0 ]; then
	exit 1
fi
