#!/usr/bin/env bash
# Installs the real XMPP clients that integration/ drives, so that `scripts/test.sh` runs them for
# real on a fresh Debian 12 machine (as root, or as a user with sudo):
#   - Debian: python3-slixmpp, python3-aioxmpp (for /usr/bin/python3), sendxmpp (Perl)
#   - Debian: postgresql, whose binaries the storage tests run as throwaway servers
#   - npm:    @xmpp/client 0.14.0, pinned by integration/package-lock.json (`npm ci`); needs
#             Node >= 20.10, which Debian 12's own nodejs (18) is not: it is not installed here.
#   - the browser test: Debian chromium; puppeteer-core and Converse.js 14, pinned by the lock
#             files in integration/browser/ and examples/webapp/ (`npm ci`).
# Idempotent: it installs only what is missing and re-runs `npm ci` only when the lock changed.
# A client it cannot install is reported and left out: the integration tests then skip it with
# a message naming it, or fail when CI=true, while every other test still runs.
set -uo pipefail
cd "$(dirname "$0")/.."

problems=()

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then sudo="sudo"; fi
fi

need=()
for pkg in python3-slixmpp python3-aioxmpp sendxmpp; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	if ! command -v apt-get >/dev/null; then
		problems+=("no apt-get: install ${need[*]} by hand")
	elif [ "$(id -u)" -ne 0 ] && [ -z "$sudo" ]; then
		problems+=("not root and no sudo: cannot install ${need[*]}")
	else
		echo "install-test-deps: apt-get install ${need[*]}"
		if ! { $sudo apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null; }; then
			problems+=("apt-get install ${need[*]} failed")
		fi
	fi
fi

# PostgreSQL for the storage tests, which start throwaway servers of their own
# (internal/pgtest): only the binaries are needed. Debian's package also creates
# and starts a system-wide cluster; the tests never use it.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	if ! command -v apt-get >/dev/null; then
		problems+=("no apt-get: install PostgreSQL (Debian package postgresql) by hand")
	elif [ "$(id -u)" -ne 0 ] && [ -z "$sudo" ]; then
		problems+=("not root and no sudo: cannot install postgresql")
	else
		echo "install-test-deps: apt-get install postgresql"
		if ! { $sudo apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null; }; then
			problems+=("apt-get install postgresql failed")
		fi
	fi
fi

node_ok() { # Node >= 20.10, what @xmpp/client 0.14 needs
	command -v node >/dev/null && command -v npm >/dev/null &&
		node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 10) ? 0 : 1)'
}
lock=integration/package-lock.json
installed=integration/node_modules/.package-lock.json # npm writes it on every install
if ! node_ok; then
	problems+=("Node >= 20.10 with npm not found ($(node --version 2>/dev/null || echo 'no node')): xmpp.js tests cannot run")
elif [ -f "$installed" ] && [ "$installed" -nt "$lock" ]; then
	: # node_modules is up to date with the lock file
else
	echo "install-test-deps: npm ci in integration/"
	if ! (cd integration && npm ci --no-audit --no-fund --loglevel=error); then
		problems+=("npm ci in integration/ failed")
	fi
fi

# The browser test (integration/browser_test.go): Debian's chromium, puppeteer-core (locked in
# integration/browser/) and Converse.js 14 (locked in examples/webapp/, which serves it).
if [ -x /usr/bin/chromium ] && dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
	: # installed
elif ! command -v apt-get >/dev/null; then
	problems+=("no apt-get: install chromium by hand (the browser test needs /usr/bin/chromium)")
elif [ "$(id -u)" -ne 0 ] && [ -z "$sudo" ]; then
	problems+=("not root and no sudo: cannot install chromium")
else
	echo "install-test-deps: apt-get install chromium (about 480 MB)"
	if ! { $sudo apt-get -o DPkg::Lock::Timeout=300 update -qq &&
		DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq chromium >/dev/null; }; then
		problems+=("apt-get install chromium failed")
	fi
fi
for dir in integration/browser examples/webapp; do
	if ! command -v npm >/dev/null; then
		problems+=("no npm: cannot npm ci in $dir")
	elif [ -f "$dir/node_modules/.package-lock.json" ] && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
		: # node_modules is up to date with the lock file
	else
		echo "install-test-deps: npm ci in $dir/"
		if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); then
			problems+=("npm ci in $dir/ failed")
		fi
	fi
done

if [ ${#problems[@]} -gt 0 ]; then
	printf 'install-test-deps: warning: %s\n' "${problems[@]}" >&2
fi
exit 0
