#!/usr/bin/env bash
# Profiles xtokend under the load of cmd/xtokend-bench: CPU and allocations of the login path
# (plaintext and STARTTLS), CPU of message routing, and the heap, stacks and goroutines of idle
# sessions. It builds a profiling xtokend by adding bench/pprof/pprof.go.in to cmd/xtokend with
# `go build -overlay` (the shipped binary has no pprof endpoint), and writes the top entries of
# each profile to bench/profiles/*.txt (the raw profiles stay in the work folder with KEEP=1).
#
#   bench/profile.sh               # about 2 minutes
#   IDLE=5000 SECONDS_=10 bench/profile.sh
#   ONLY=idle GCS=3 BUILD_FROM=head bench/profile.sh  # idle sessions only; GCS garbage collections before reading
#   ONLY=ws bench/profile.sh       # XMPP over WebSocket (ws://) only: logins and idle sessions
#   ONLY=login bench/profile.sh    # plaintext logins only (login-plain-*.txt)
#   ONLY=messages bench/profile.sh # messages at 16 pairs, plaintext and STARTTLS (messages-{plain,tls}-*.txt)
#   LOGIN_FLAGS="-sasl2" ...       # extra flags for the load tool's logins (-sasl2, -pipeline=false)
#   COMPARE=b582778 ROUNDS=2 bench/profile.sh  # this tree beside a build of b582778: CPU per plaintext
#       # login and idle KB per session (RSS growth / sessions), the two builds alternating, ROUNDS times;
#       # written to bench/profiles/compare.txt (no profiles are taken)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
IDLE=${IDLE:-5000}
SECS=${SECONDS_:-10}
OUTDIR=bench/profiles
mkdir -p "$OUTDIR"

WORK=$(mktemp -d /tmp/xtokend-profile.XXXXXX)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "work folder kept: $WORK" >&2; fi
}
trap cleanup EXIT
. bench/lib.sh

# BUILD_FROM=head profiles the last commit (git archive), not the working tree.
SRC="$ROOT"
if [ "${BUILD_FROM:-tree}" = head ]; then
	SRC="$WORK/src"
	mkdir -p "$SRC"
	git -C "$ROOT" archive HEAD | tar -x -C "$SRC"
fi
printf '{"Replace":{"%s":"%s"}}\n' "$SRC/cmd/xtokend/zz_bench_pprof.go" "$ROOT/bench/pprof/pprof.go.in" >"$WORK/overlay.json"
(cd "$SRC" && go build -overlay "$WORK/overlay.json" -o "$WORK/xtokend" ./cmd/xtokend && go build -o "$WORK/xtokend-bench" ./cmd/xtokend-bench)
BENCH="$WORK/xtokend-bench"
bench_secrets "$WORK"
XPORT=$(free_port 26222)
PPROF=127.0.0.1:$(free_port $((XPORT + 1)))
XWPORT=$(free_port $((${PPROF##*:} + 1))) # past the pprof port, which free_port may have moved
WSFLAG="" # the load tool's -ws flag in the WebSocket profiles

XPID=""
XBIN="$WORK/xtokend"
start() { # REQUIRE_STARTTLS [WSPORT]
	if [ -n "$XPID" ]; then
		kill "$XPID"
		while kill -0 "$XPID" 2>/dev/null; do sleep 0.1; done
	fi
	write_xtokend_config "$WORK" "$XPORT" "$1" "${2:-}"
	XTOKEND_PPROF=$PPROF "$XBIN" serve -config "$WORK/xtokend.toml" >>"$WORK/xtokend.log" 2>&1 &
	XPID=$!
	PIDS+=("$XPID")
	wait_port "$XPORT" "$XPID"
	if [ -n "${2:-}" ]; then wait_port "$2" "$XPID"; fi
}
# shellcheck disable=SC2086
flags() { echo -addr "127.0.0.1:$XPORT" $WSFLAG -server xtokend -secret-file "$WORK/access_secret" -seed-file "$WORK/otp_seed" -server-pid "$XPID"; }

top() { # NAME PROFILE [pprof flags]
	local name=$1 prof=$2
	shift 2
	{
		echo "# $name (go tool pprof -top $*)"
		go tool pprof -top -nodecount=40 "$@" "$WORK/xtokend" "$prof" 2>/dev/null | sed -n '1,60p'
	} >"$OUTDIR/$name.txt"
	log "wrote $OUTDIR/$name.txt"
}

load_and_profile() { # NAME TLSFLAG MODE
	local name=$1 tlsflag=$2 mode=$3 lp
	curl -s "http://$PPROF/debug/pprof/allocs" -o "$WORK/$name.allocs0.prof"
	if [ "$mode" = logins ]; then
		# shellcheck disable=SC2046,SC2086
		"$BENCH" logins $(flags) $tlsflag ${LOGIN_FLAGS:-} -c 8 -duration $((SECS + 3))s -warmup 1s >"$WORK/$name.load.txt" 2>&1 &
	else
		# shellcheck disable=SC2046
		"$BENCH" messages $(flags) $tlsflag -pairs 16 -duration $((SECS + 3))s -warmup 1s >"$WORK/$name.load.txt" 2>&1 &
	fi
	lp=$!
	PIDS+=("$lp")
	sleep 1.5
	curl -s "http://$PPROF/debug/pprof/profile?seconds=$SECS" -o "$WORK/$name.cpu.prof"
	wait "$lp" || true
	curl -s "http://$PPROF/debug/pprof/allocs" -o "$WORK/$name.allocs.prof"
	cat "$WORK/$name.load.txt" >&2
	top "$name-cpu" "$WORK/$name.cpu.prof"
	top "$name-alloc-space" "$WORK/$name.allocs.prof" -sample_index=alloc_space -diff_base "$WORK/$name.allocs0.prof"
	top "$name-alloc-objects" "$WORK/$name.allocs.prof" -sample_index=alloc_objects -diff_base "$WORK/$name.allocs0.prof"
	{ echo "# load during the profile"; cat "$WORK/$name.load.txt"; } >>"$OUTDIR/$name-cpu.txt"
}

idle_profile() { # NAME TLSFLAG
	local name=$1 tlsflag=$2 ip i
	# shellcheck disable=SC2046
	"$BENCH" idle $(flags) $tlsflag -user-prefix i -n "$IDLE" -c 32 >"$WORK/$name.idle.out" 2>&1 &
	ip=$!
	PIDS+=("$ip")
	for i in $(seq 1 1200); do
		grep -q '^READY' "$WORK/$name.idle.out" 2>/dev/null && break
		sleep 0.1
	done
	sleep 1
	for _ in $(seq 1 "${GCS:-1}"); do # each GC may halve the stacks of idle goroutines
		curl -s "http://$PPROF/debug/pprof/heap?gc=1" -o "$WORK/$name.heap.prof"
	done
	curl -s "http://$PPROF/debug/pprof/heap?debug=1" -o "$WORK/$name.heap.txt"
	curl -s "http://$PPROF/debug/pprof/goroutine?debug=1" -o "$WORK/$name.goroutines.txt"
	{
		echo "# $name: $(head -1 "$WORK/$name.idle.out")"
		echo "# VmRSS $(awk '/^VmRSS:/ {print $2, $3}' /proc/$XPID/status)"
		echo "# $(head -1 "$WORK/$name.goroutines.txt")"
		echo "# goroutines by where they wait (count, first frame of interest):"
		awk '/^[0-9]+ @/ {n=$1; getline; while ($0 ~ /^#/) { if ($0 !~ /runtime\.|internal\/poll|net\.\(\*|bufio|crypto\/tls|sync\./) { print n, $0; break } ; if (getline <= 0) break } }' "$WORK/$name.goroutines.txt" | sort -rn | head -12
		echo "# runtime.MemStats:"
		grep -E '^# (HeapAlloc|HeapInuse|HeapSys|Stack|Sys|NumGC) ' "$WORK/$name.heap.txt"
	} >"$OUTDIR/$name-summary.txt"
	top "$name-inuse" "$WORK/$name.heap.prof" -sample_index=inuse_space
	kill "$ip"
	wait "$ip" 2>/dev/null || true
	log "wrote $OUTDIR/$name-summary.txt"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$XPID/status"; }

# compare_one LABEL: one plaintext login load and one idle run against $XBIN.
compare_one() {
	local label=$1 cpu before after held ip i
	start false
	# shellcheck disable=SC2046,SC2086
	"$BENCH" logins $(flags) ${LOGIN_FLAGS:-} -c 8 -duration "${SECS}s" -warmup 1s >"$WORK/cmp.load.txt" 2>&1 || true
	cpu=$(sed -n 's/.*cpu\/op: tool [0-9]*us server \([0-9]*\)us.*/\1/p' "$WORK/cmp.load.txt" | tail -1)
	start false # a fresh process: the idle figure is the sessions' only
	sleep 1
	before=$(rss_kb)
	# shellcheck disable=SC2046
	"$BENCH" idle $(flags) -user-prefix i -n "$IDLE" -c 32 >"$WORK/cmp.idle.out" 2>&1 &
	ip=$!
	PIDS+=("$ip")
	for i in $(seq 1 1200); do
		grep -q '^READY' "$WORK/cmp.idle.out" 2>/dev/null && break
		sleep 0.1
	done
	sleep 2
	after=$(rss_kb)
	kill "$ip"
	wait "$ip" 2>/dev/null || true
	# Per session actually held: on a loaded machine the load tool may hold fewer than asked.
	held=$(awk '/^READY/ {print $2}' "$WORK/cmp.idle.out")
	printf '%-6s plaintext login server CPU %4s us/op   idle %d sessions: RSS %d -> %d kB, %.1f KB per session   (%s)\n' \
		"$label" "$cpu" "${held:-0}" "$before" "$after" "$(echo "($after - $before) / ${held:-1}" | bc -l)" "$(head -1 "$WORK/cmp.idle.out")" |
		tee -a "$OUTDIR/compare.txt"
}

if [ -n "${COMPARE:-}" ]; then
	BASE_SRC="$WORK/base-src"
	mkdir -p "$BASE_SRC"
	git -C "$ROOT" archive "$COMPARE" | tar -x -C "$BASE_SRC"
	printf '{"Replace":{"%s":"%s"}}\n' "$BASE_SRC/cmd/xtokend/zz_bench_pprof.go" "$ROOT/bench/pprof/pprof.go.in" >"$WORK/overlay-base.json"
	(cd "$BASE_SRC" && go build -overlay "$WORK/overlay-base.json" -o "$WORK/xtokend-base" ./cmd/xtokend)
	{
		echo "# bench/profile.sh COMPARE=$COMPARE: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo +) (tree) beside $COMPARE (base),"
		echo "# $(date -u +%FT%TZ), $(nproc) cores, logins -c 8 for ${SECS}s, $IDLE idle sessions"
	} >"$OUTDIR/compare.txt"
	for _ in $(seq 1 "${ROUNDS:-2}"); do
		XBIN="$WORK/xtokend" compare_one tree
		XBIN="$WORK/xtokend-base" compare_one base
	done
	exit 0
fi

if [ "${ONLY:-}" = ws ]; then
	log "WebSocket (ws://)"
	start false "$XWPORT"
	WSFLAG="-ws ws://127.0.0.1:$XWPORT/xmpp-websocket"
	load_and_profile login-ws "" logins
	idle_profile idle-ws ""
	exit 0
fi

if [ "${ONLY:-}" = messages ]; then
	log "messages, plaintext and STARTTLS"
	start false
	load_and_profile messages-plain "" messages
	start true
	load_and_profile messages-tls -tls messages
	exit 0
fi

if [ "${ONLY:-}" = login ]; then
	log "plaintext logins"
	start false
	load_and_profile login-plain "" logins
	exit 0
fi

log "plaintext"
start false
if [ "${ONLY:-}" != idle ]; then
	load_and_profile login-plain "" logins
	load_and_profile messages-plain "" messages
fi
idle_profile idle-plain ""
log "STARTTLS"
start true
[ "${ONLY:-}" != idle ] && load_and_profile login-tls -tls logins
idle_profile idle-tls -tls
