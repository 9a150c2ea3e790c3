#!/usr/bin/env bash
# The soak of issue 19: xtokend holds 10,000 idle sessions while 1,000 logins/s run beside them
# for 10 minutes; the load tool (xtokend-bench soak) samples the server's memory, goroutines and
# descriptors, pings every idle session at the end, and the summary is appended to BENCHMARKS.md.
#
#   bench/soak.sh                                   # 10 minutes, 10,000 idle, 1,000 logins/s
#   IDLE=500 RATE=200 DURATION=30s OUT= bench/soak.sh   # a short try, appended nowhere
#
# Knobs (environment): IDLE=10000, RATE=1000, DURATION=10m, SAMPLE=30s, OUT=BENCHMARKS.md (empty:
# print only), BUILD_FROM=head (build the last commit, not the working tree), KEEP=1 (keep the work
# folder: config, server log, soak.json). Exit status: the load tool's (0 nothing lost or failed,
# 3 something was, 1 the tool could not run).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

IDLE=${IDLE:-10000}
RATE=${RATE:-1000}
DURATION=${DURATION:-10m}
SAMPLE=${SAMPLE:-30s}
OUT=${OUT-BENCHMARKS.md}

WORK=$(mktemp -d /tmp/xtokend-soak.XXXXXX)
XPID=""
cleanup() {
	stop_pid "$XPID"
	if [ -z "${KEEP:-}" ]; then
		rm -rf "$WORK"
	else
		echo "work folder kept: $WORK" >&2
	fi
}
trap cleanup EXIT

. bench/lib.sh

# ---- build ----
SRC="$ROOT"
REV=$(git -C "$ROOT" rev-parse --short HEAD)
if [ "${BUILD_FROM:-tree}" = head ]; then
	SRC="$WORK/src"
	mkdir -p "$SRC"
	git -C "$ROOT" archive HEAD | tar -x -C "$SRC"
elif [ -n "$(git -C "$ROOT" status --porcelain -- server sasl keystore cluster cmd 2>/dev/null)" ]; then
	REV="$REV with uncommitted changes"
fi
log "building xtokend and xtokend-bench ($REV)"
(cd "$SRC" && go build -o "$WORK/xtokend" ./cmd/xtokend && go build -o "$WORK/xtokend-bench" ./cmd/xtokend-bench)

# ---- the server: plaintext, metrics on, no per-address connection limit (all load is loopback) ----
bench_secrets "$WORK"
XPORT=$(free_port 26222)
MPORT=$(free_port $((XPORT + 1)))
write_xtokend_config "$WORK" "$XPORT" false
sed -i "/^\[general\]/a metrics_listen = \"127.0.0.1:$MPORT\"" "$WORK/xtokend.toml"
cat >>"$WORK/xtokend.toml" <<TOML

[limits]
connections_per_second = 0.0
TOML
"$WORK/xtokend" serve -config "$WORK/xtokend.toml" >>"$WORK/xtokend.log" 2>&1 &
XPID=$!
wait_port "$XPORT" "$XPID" || { cat "$WORK/xtokend.log" >&2; exit 1; }
wait_port "$MPORT" "$XPID" || { cat "$WORK/xtokend.log" >&2; exit 1; }

# ---- the soak ----
ARGS=(-addr "127.0.0.1:$XPORT" -server xtokend -mech X-TOKEN -secret-file "$WORK/access_secret" -seed-file "$WORK/otp_seed"
	-idle "$IDLE" -rate "$RATE" -duration "$DURATION" -sample "$SAMPLE"
	-pid "$XPID" -metrics "http://127.0.0.1:$MPORT/metrics" -json "$WORK/soak.json")
log "xtokend-bench soak ${ARGS[*]}"
rc=0
"$WORK/xtokend-bench" soak "${ARGS[@]}" >"$WORK/soak.txt" || rc=$?
cat "$WORK/soak.txt"
if ! kill -0 "$XPID" 2>/dev/null; then
	log "xtokend exited during the soak; its log:"
	tail -20 "$WORK/xtokend.log" >&2
fi

if [ -n "$OUT" ] && [ -s "$WORK/soak.txt" ]; then
	CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	{
		echo
		echo "## Soak: $IDLE idle sessions under $RATE logins/s for $DURATION"
		echo
		echo "Appended by \`bench/soak.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), xtokend $REV (built ${BUILD_FROM:-tree}),"
		echo "$(nproc) × $CPU shared by the server and the load tool, plaintext X-TOKEN logins on loopback,"
		echo "\`log_level = \"warn\"\`. Command (\$WORK is the script's temporary folder):"
		echo
		echo '```sh'
		echo "xtokend-bench soak ${ARGS[*]}" | sed "s|$WORK|\$WORK|g"
		echo '```'
		echo
		echo "Exit status $rc (0: nothing lost or failed)."
		echo
		sed 's/^soak of /Soak of /' "$WORK/soak.txt"
	} >>"$OUT"
	log "appended the summary to $OUT"
fi
exit "$rc"
