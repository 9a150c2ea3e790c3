#!/usr/bin/env bash
# Runs every test of xtokend, installing first what the tests need (real XMPP clients),
# so that it passes on a new machine. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Real clients for integration/ (Debian packages and an npm lock file).
bash scripts/install-test-deps.sh

go vet ./...
go test -race -count=1 ./...
