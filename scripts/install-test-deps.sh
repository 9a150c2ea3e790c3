#!/usr/bin/env bash
# Installs the real clients the integration tests drive: slixmpp and aioxmpp (Debian),
# and xmpp.js (npm, from integration/package-lock.json). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in python3-slixmpp python3-aioxmpp; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi
if [ -f integration/package-lock.json ]; then
	(cd integration && npm ci --no-audit --no-fund --loglevel=error)
fi
