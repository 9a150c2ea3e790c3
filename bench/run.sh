#!/usr/bin/env bash
# The whole side-by-side comparison in one command: xtokend against Prosody and ejabberd (Debian's
# packages, installed if absent), on this machine, loopback only, measured by the same load
# tool (cmd/xtokend-bench) in the same run, and BENCHMARKS.md, bench/results.jsonl and the plots
# bench/logins.svg, bench/rss.svg and bench/growth.svg written from the results.
#
#   bench/run.sh                 # full run: about 25 minutes on 2 quiet cores (at most 35 on a busy
#                                # machine); every phase below with its defaults
#   QUICK=1 bench/run.sh         # a short smoke run (1 s per point, 200 and 500 idle sessions): 7 to
#                                # 10 minutes, most of it starting servers, seeding and the Go benchmarks
#   LOAD_PHASES=ws IDLE_PHASES=ws REPEAT=3 KEEP_RESULTS=1 bench/run.sh
#                                # the WebSocket rows only, three runs of each point, the other
#                                # rows carried over from bench/results.jsonl
#
# The estimate: the points are 70 login points (7 concurrencies × 3 servers × 3 phases, and xtokend's
# SASL2+Bind2 series), 18 message points, 9 roster-login points, 6 resumption points at DURATION + WARMUP each (~9 min
# at 5 s + 1 s), 18 growth points at GROWTH_DURATION + WARMUP (~1.5 min); opening the idle sessions
# (15,000 plaintext and STARTTLS, 10,000 WebSocket, 5,000 with stream management, on each server:
# Prosody opens about 400 a second, 220 with STARTTLS) ~6 min; offline messages, presence broadcast
# and seeding ~2 min; starting servers, settling and the Go benchmarks ~5 min (what a QUICK=1 run
# mostly is). Measured beside other work (load average 3 to 10): the plaintext idle phase with its
# growth points, 15,000 sessions on each server, took 5 minutes, a QUICK=1 run 10. Each log line
# carries the time (UTC), so a run's phases can be timed from its output.
#
# Knobs (environment): LOGIN_LEVELS="1 2 4 8 16 32 128", MSG_PAIRS="1 32", DURATION=5s, WARMUP=1s,
# IDLE_COUNTS="1000 5000 15000", IDLE_PER_PROC=5000, PEERS="prosody ejabberd", OUT=BENCHMARKS.md, KEEP=1 (keep the
# work folder), BUILD_FROM=head (build the last commit, not the working tree), LOAD_PHASES="plain tls ws" and
# IDLE_PHASES="plain tls ws sm" (empty: skip; sm is plaintext TCP with stream management enabled on each
# idle session), PROFILE=1 (also take CPU and heap profiles of xtokend: bench/profile.sh),
# WS_IDLE_COUNTS="1000 10000" and SM_IDLE_COUNTS="1000 5000" (the idle counts of the ws and sm phases),
# REPEAT=1 (runs of each point, the servers taking turns; the report gives the means), KEEP_RESULTS=1
# (carry over from bench/results.jsonl the rows of the phases this run does not measure), SVG_DIR=bench
# (where the plots go), PORT_BASE (the first port tried for the servers; by default a random one
# from 20000 to 24980, so that two runs on one machine keep apart).
#
# Growth (GROWTH=1, the default; empty: skip): in the plaintext idle phase, once each count's RSS
# is read, the counts are visited again from the largest down and, with that many idle sessions
# held, logins at c=GROWTH_C=8 and messages at GROWTH_PAIRS=32 pairs run for GROWTH_DURATION=3s each.
#
# SASL2 (SASL2=1, the default; empty: skip): in the plaintext load phase, xtokend's logins again with
# `xtokend-bench logins -sasl2` (X-TOKEN in SASL2 with Bind2), as the server xtokend-sasl2; skipped
# with a log line when the built tool has no -sasl2.
#
# The floor (FLOOR=1, the default; empty: skip): in the plaintext load phase, `xtokend-bench floor`,
# a stand-in answering the login from canned bytes, takes its turn at each login level as the server
# floor: the ceiling of any server written with Go's net package under this tool on these cores.
# Skipped with a log line when the built tool has no floor mode.
#
# Presence broadcast (FANOUT_PHASES=plain, the default; empty: skip): every server restarted with
# storage, r0's roster holding FANOUT_SUBSCRIBERS=1000 subscriptions to users kept online, then
# `xtokend-bench fanout`; skipped with a log line when the built tool has no fanout mode.
# FANOUT_SEED_FLAGS and FANOUT_FLAGS override the flags given to `seed` and `fanout`.
#
# Reconnecting by stream-management resumption (RESUME_PHASES=plain, the default; "plain tls" for
# STARTTLS too; empty: skip): every server restarted with stream management (as in the sm idle
# phase), then `xtokend-bench resume` at RESUME_LEVELS="1 8": each worker drops its connection,
# reconnects, authenticates again and resumes its session (XEP-0198); skipped with a log line when
# the built tool has no resume mode.
#
# The stored phase (STORED_PHASES=plain, the default; empty: skip): logins with a roster and
# offline messages, every server with its rosters seeded (xtokend through its admin API into
# SQLite, Prosody's internal storage files, ejabberd's mnesia from a XEP-0227 import) and real
# accounts. Knobs: ROSTER_LEVELS="1 8 32", ROSTER_USERS=100, ROSTER_ONLINE=20,
# ROSTER_CONTACTS=100, OFFLINE_PAIRS=8, OFFLINE_MESSAGES=500.
#
# The phases: plain is TCP without TLS, tls is STARTTLS, ws is XMPP over WebSocket (RFC 7395) on plaintext
# ws:// (xtokend's [websocket] listener, Prosody's mod_websocket, ejabberd's ejabberd_http_ws).
#
# Each point runs the peers (Prosody, ejabberd) and then xtokend right after them, so all see
# the same background load. Both servers serve plaintext PLAIN/X-TOKEN and STARTTLS with the same certificate
# (ECDSA P-256); each phase (plaintext, STARTTLS, idle) starts both servers fresh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

LOGIN_LEVELS=${LOGIN_LEVELS:-1 2 4 8 16 32 128}
MSG_PAIRS=${MSG_PAIRS-1 32} # empty: no messages runs
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
IDLE_COUNTS=${IDLE_COUNTS:-1000 5000 15000}
IDLE_PER_PROC=${IDLE_PER_PROC:-5000}
WS_IDLE_COUNTS=${WS_IDLE_COUNTS:-1000 10000}
REPEAT=${REPEAT:-1}
LOAD_PHASES=${LOAD_PHASES-plain tls ws}
IDLE_PHASES=${IDLE_PHASES-plain tls ws sm}
SM_IDLE_COUNTS=${SM_IDLE_COUNTS:-1000 5000}
GROWTH=${GROWTH-1} # empty: no growth points
GROWTH_C=${GROWTH_C:-8}
GROWTH_PAIRS=${GROWTH_PAIRS:-32}
GROWTH_DURATION=${GROWTH_DURATION:-3s}
FANOUT_PHASES=${FANOUT_PHASES-plain}
FANOUT_SUBSCRIBERS=${FANOUT_SUBSCRIBERS:-1000}
RESUME_PHASES=${RESUME_PHASES-plain}
RESUME_LEVELS=${RESUME_LEVELS:-1 8}
SASL2=${SASL2-1}
FLOOR=${FLOOR-1}
STORED_PHASES=${STORED_PHASES-plain}
ROSTER_LEVELS=${ROSTER_LEVELS:-1 8 32}
ROSTER_USERS=${ROSTER_USERS:-100}
ROSTER_ONLINE=${ROSTER_ONLINE:-20}
ROSTER_CONTACTS=${ROSTER_CONTACTS:-100}
OFFLINE_PAIRS=${OFFLINE_PAIRS:-8}
OFFLINE_MESSAGES=${OFFLINE_MESSAGES:-500}
OUT=${OUT:-BENCHMARKS.md}
PEERS=${PEERS-prosody ejabberd} # peer servers; the issue's targets are against the first
if [ -n "${QUICK:-}" ]; then
	LOGIN_LEVELS=${QUICK_LEVELS:-1 8}
	MSG_PAIRS=1
	DURATION=1s
	WARMUP=0.3s
	IDLE_COUNTS=${QUICK_IDLE:-200 500}
	ROSTER_LEVELS=${QUICK_LEVELS:-1 8}
	WS_IDLE_COUNTS=$IDLE_COUNTS
	SM_IDLE_COUNTS=$IDLE_COUNTS
	GROWTH_DURATION=1s
	GROWTH_PAIRS=${QUICK_PAIRS:-8}
	FANOUT_SUBSCRIBERS=${QUICK_SUBSCRIBERS:-200}
fi
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

WORK=$(mktemp -d /tmp/xtokend-bench.XXXXXX)
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
PIDS=() # every background process this script started, stopped on exit

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	bash bench/prosody.sh stop "$WORK/prosody" 2>/dev/null || true
	bash bench/ejabberd.sh stop "$WORK/ejabberd" 2>/dev/null || true
	if [ -z "${KEEP:-}" ]; then
		rm -rf "$WORK"
	else
		echo "work folder kept: $WORK" >&2
	fi
}
trap cleanup EXIT

. bench/lib.sh

# ---- build ----
# BUILD_FROM=tree (default) builds the working tree; BUILD_FROM=head builds the last commit
# only (exported with git archive), leaving out anyone's uncommitted work.
SRC="$ROOT"
REV=$(git -C "$ROOT" rev-parse --short HEAD)
if [ "${BUILD_FROM:-tree}" = head ]; then
	SRC="$WORK/src"
	mkdir -p "$SRC"
	git -C "$ROOT" archive HEAD | tar -x -C "$SRC"
elif ! git -C "$ROOT" diff --quiet HEAD -- server sasl keystore cmd/xtokend 2>/dev/null ||
	[ -n "$(git -C "$ROOT" status --porcelain -- server sasl keystore cmd/xtokend)" ]; then
	REV="$REV with uncommitted changes"
fi
log "building xtokend and xtokend-bench ($REV)"
(cd "$SRC" && go build -o "$WORK/xtokend" ./cmd/xtokend && go build -o "$WORK/xtokend-bench" ./cmd/xtokend-bench)
BENCH="$WORK/xtokend-bench"
# Modes and flags other work adds to the load tool: a phase whose command the built tool lacks
# is skipped with a log line, so this script runs on older trees too.
if [ -n "$FANOUT_PHASES" ] && ! "$BENCH" fanout -h >/dev/null 2>&1; then
	log "this xtokend-bench has no fanout mode: skipping the presence broadcast phase"
	FANOUT_PHASES=""
fi
if [ -n "$RESUME_PHASES" ] && ! "$BENCH" resume -h >/dev/null 2>&1; then
	log "this xtokend-bench has no resume mode: skipping the resumption phase"
	RESUME_PHASES=""
fi
PIPELINE_NOTE=""
if "$BENCH" logins -h 2>&1 | grep -q -- '-pipeline'; then
	PIPELINE_NOTE="
  The tool pipelines each login (\`-pipeline\`, its default, the same for every server): each stream's
  first element goes in the same write as its stream header, as clients that pipeline do."
fi
if [ -n "$FLOOR" ] && ! "$BENCH" floor -h >/dev/null 2>&1; then
	log "this xtokend-bench has no floor mode: skipping the floor's logins"
	FLOOR=""
fi
if [ -n "$SASL2" ] && ! "$BENCH" logins -h 2>&1 | grep -q -- '-sasl2'; then
	log "this xtokend-bench's logins have no -sasl2: skipping the SASL2+Bind2 series"
	SASL2=""
fi

# ---- keys and certificate ----
bench_secrets "$WORK"

# The servers' ports start from a base of this run's (PORT_BASE), so that two runs on one machine
# (or another program on the usual 25222) do not take each other's ports between two phases; they
# are picked again for every start, in case another program has taken one since.
PORT_BASE=${PORT_BASE:-$((20000 + RANDOM % 250 * 20))}
pick_ports() {
	XPORT=$(free_port "$PORT_BASE")
	PPORT=$(free_port $((XPORT + 1)))
	EPORT=$(free_port $((PPORT + 1)))
	# The WebSocket listeners (HTTP), one per server.
	XWPORT=$(free_port $((EPORT + 1)))
	PWPORT=$(free_port $((XWPORT + 1)))
	EWPORT=$(free_port $((PWPORT + 1)))
}
WS="" # set for the ws phase: the load tool speaks XMPP over WebSocket

XPID=""
PPID_=""
EPID=""
has_peer() { [[ " $PEERS " == *" $1 "* ]]; }
start_servers() { # REQUIRE_STARTTLS [ws]: with ws, every server also serves XMPP over WebSocket
	stop_servers
	pick_ports
	local xw="" pw="" ew=""
	if [ "${2:-}" = ws ]; then
		xw=$XWPORT pw=$PWPORT ew=$EWPORT
	fi
	write_xtokend_config "$WORK" "$XPORT" "$1" "$xw"
	"$WORK/xtokend" serve -config "$WORK/xtokend.toml" >>"$WORK/xtokend.log" 2>&1 &
	XPID=$!
	PIDS+=("$XPID")
	wait_port "$XPORT" "$XPID" || { cat "$WORK/xtokend.log" >&2; exit 1; }
	if [ -n "$xw" ]; then
		wait_port "$xw" "$XPID" || { cat "$WORK/xtokend.log" >&2; exit 1; }
	fi
	if has_peer prosody; then
		rm -rf "$WORK/prosody"
		# shellcheck disable=SC2086
		PPID_=$(bash bench/prosody.sh start "$WORK/prosody" "$PPORT" "$WORK/cert.pem" "$WORK/key.pem" $pw)
		PIDS+=("$PPID_")
	fi
	if has_peer ejabberd; then
		rm -rf "$WORK/ejabberd"
		# shellcheck disable=SC2086
		EPID=$(bash bench/ejabberd.sh start "$WORK/ejabberd" "$EPORT" "$WORK/cert.pem" "$WORK/key.pem" $ew)
		PIDS+=("$EPID")
	fi
}

stop_server() { # WHO
	case $1 in
	xtokend)
		if [ -n "$XPID" ]; then
			kill "$XPID" 2>/dev/null || true
			wait_exit "$XPID"
			XPID=""
		fi
		;;
	prosody)
		if [ -n "$PPID_" ]; then
			bash bench/prosody.sh stop "$WORK/prosody"
			PPID_=""
		fi
		;;
	ejabberd)
		if [ -n "$EPID" ]; then
			bash bench/ejabberd.sh stop "$WORK/ejabberd"
			EPID=""
		fi
		;;
	esac
}

stop_servers() {
	stop_floor
	stop_server xtokend
	stop_server prosody
	stop_server ejabberd
}

start_phase() { # plain|tls|ws|sm: starts every server fresh for the phase and sets tlsflag and WS
	WS=""
	if [ "$1" = plain ]; then
		start_servers false
		tlsflag=""
	elif [ "$1" = sm ] || [ "$1" = sm-tls ]; then
		# Stream management: xtokend has it on for every host; Prosody's mod_smacks and
		# ejabberd's mod_stream_mgmt are loaded for this phase only (sm-tls: with STARTTLS).
		tlsflag=""
		[ "$1" = sm-tls ] && tlsflag="-tls"
		PROSODY_SM=1 EJABBERD_SM=1 start_servers "$([ -n "$tlsflag" ] && echo true || echo false)"
	elif [ "$1" = ws ]; then
		# Plaintext ws://: SASL is offered as on plaintext TCP (require_starttls = false).
		start_servers false ws
		tlsflag=""
		WS=1
	else
		# xtokend offers STARTTLS only when it requires it; Prosody offers it either way.
		start_servers true
		tlsflag="-tls"
	fi
}

ws_flag() { # PORT: -ws URL in the ws phase
	[ -n "$WS" ] && echo -ws "ws://127.0.0.1:$1/xmpp-websocket"
	return 0
}
xtokend_flags() { echo -addr "127.0.0.1:$XPORT" $(ws_flag "$XWPORT") -server xtokend -mech X-TOKEN -secret-file "$WORK/access_secret" -seed-file "$WORK/otp_seed" -server-pid "$XPID"; }
prosody_flags() { echo -addr "127.0.0.1:$PPORT" $(ws_flag "$PWPORT") -server prosody -mech PLAIN -password bench -server-pid "$PPID_"; }
ejabberd_flags() { echo -addr "127.0.0.1:$EPORT" $(ws_flag "$EWPORT") -server ejabberd -mech PLAIN -password bench -server-pid "$EPID"; }
# The SASL2 series: xtokend again, X-TOKEN inside SASL2 with Bind2 (plaintext TCP only).
sasl2_flags() { echo $(xtokend_flags) -server xtokend-sasl2 -sasl2; }

FPID=""
FPORT=""
start_floor() { # the floor's stand-in server, for the plaintext logins
	FPORT=$(free_port $((EWPORT + 1)))
	"$BENCH" floor -addr "127.0.0.1:$FPORT" >>"$WORK/floor.log" 2>&1 &
	FPID=$!
	PIDS+=("$FPID")
	wait_port "$FPORT" "$FPID" || { cat "$WORK/floor.log" >&2; exit 1; }
}
stop_floor() {
	if [ -n "$FPID" ]; then
		kill "$FPID" 2>/dev/null || true
		wait_exit "$FPID"
		FPID=""
	fi
}
floor_flags() { echo -addr "127.0.0.1:$FPORT" -server floor -mech X-TOKEN -secret-file "$WORK/access_secret" -seed-file "$WORK/otp_seed" -server-pid "$FPID"; }

# ---- logins and messages: plaintext, STARTTLS, WebSocket ----
# With REPEAT > 1 each point runs REPEAT times, the servers taking turns each time.
for phase in $LOAD_PHASES; do
	start_phase "$phase"
	extra=""
	[ "$phase" = plain ] && [ -n "$SASL2" ] && extra=sasl2
	if [ "$phase" = plain ] && [ -n "$FLOOR" ]; then
		start_floor
		extra="$extra floor"
	fi
	for c in $LOGIN_LEVELS; do
		for rep in $(seq 1 "$REPEAT"); do
			for who in $PEERS xtokend $extra; do
				log "logins $phase c=$c $who (run $rep of $REPEAT)"
				# shellcheck disable=SC2046
				"$BENCH" logins $(${who}_flags) $tlsflag -c "$c" -duration "$DURATION" -warmup "$WARMUP" -json "$RESULTS" >&2
			done
		done
	done
	for p in $MSG_PAIRS; do
		for rep in $(seq 1 "$REPEAT"); do
			for who in $PEERS xtokend; do
				log "messages $phase pairs=$p $who (run $rep of $REPEAT)"
				# shellcheck disable=SC2046
				"$BENCH" messages $(${who}_flags) $tlsflag -pairs "$p" -duration "$DURATION" -warmup "$WARMUP" -json "$RESULTS" >&2
			done
		done
	done
done

# ---- stored: logins with a roster, offline messages (plaintext TCP) ----
# Each server starts fresh with its rosters seeded; the logins' users r0.. have ROSTER_CONTACTS
# items each, ROSTER_ONLINE of them kept online by the load tool (k0..), the rest offline (o0..).
start_seeded() { # PROSODY_ACCOUNTS OFFLINE_PAIRS SEED_FLAGS...: every server fresh, with storage, the
	# rosters of `xtokend-bench seed SEED_FLAGS` written into each
	local accounts=$1 pairs=$2
	shift 2
	stop_servers
	rm -f "$WORK/xtokend.db" "$WORK/xtokend.db-wal" "$WORK/xtokend.db-shm"
	PROSODY_STORED=1 EJABBERD_STORED=1 PROSODY_USERS="$accounts" start_servers false
	log "seeding rosters: $*"
	"$BENCH" seed -format xtokend -admin-socket "$WORK/xtokend.sock" "$@"
	if has_peer prosody; then
		"$BENCH" seed -format prosody -dir "$WORK/prosody/data/localhost" "$@"
	fi
	if has_peer ejabberd; then
		"$BENCH" seed -format ejabberd -o "$WORK/ejabberd-seed.xml" -pairs "$pairs" "$@"
		bash bench/ejabberd.sh ctl "$WORK/ejabberd" import_piefxis "$WORK/ejabberd-seed.xml" >&2
	fi
}
start_stored() {
	start_seeded "r:$ROSTER_USERS k:$ROSTER_ONLINE o:$((ROSTER_CONTACTS - ROSTER_ONLINE)) s:$OFFLINE_PAIRS d:$OFFLINE_PAIRS" "$OFFLINE_PAIRS" \
		-users "$ROSTER_USERS" -online "$ROSTER_ONLINE" -contacts "$ROSTER_CONTACTS"
}
for phase in $STORED_PHASES; do
	[ "$phase" = plain ] || { log "stored phases are plaintext TCP only; skipping $phase"; continue; }
	start_stored
	WS="" tlsflag=""
	for c in $ROSTER_LEVELS; do
		for rep in $(seq 1 "$REPEAT"); do
			for who in $PEERS xtokend; do
				log "roster logins c=$c $who (run $rep of $REPEAT)"
				# shellcheck disable=SC2046
				"$BENCH" rosters $(${who}_flags) -users "$ROSTER_USERS" -online "$ROSTER_ONLINE" -contacts "$ROSTER_CONTACTS" \
					-c "$c" -duration "$DURATION" -warmup "$WARMUP" -json "$RESULTS" >&2
			done
		done
	done
	for rep in $(seq 1 "$REPEAT"); do
		for who in $PEERS xtokend; do
			log "offline messages $who (run $rep of $REPEAT)"
			# shellcheck disable=SC2046
			"$BENCH" offline $(${who}_flags) -pairs "$OFFLINE_PAIRS" -messages "$OFFLINE_MESSAGES" -json "$RESULTS" >&2
		done
	done
done

# ---- presence broadcast: one user's presence to FANOUT_SUBSCRIBERS online subscribers ----
# The seeded rosters: r0 with FANOUT_SUBSCRIBERS mutual subscriptions, all to users the tool keeps
# online (k0..), the roster plan of `xtokend-bench seed`. FANOUT_SEED_FLAGS and FANOUT_FLAGS
# override the seed's and the fanout mode's flags.
for phase in $FANOUT_PHASES; do
	[ "$phase" = plain ] || { log "the fanout phase is plaintext TCP only; skipping $phase"; continue; }
	plan="-users 1 -online $FANOUT_SUBSCRIBERS -contacts $FANOUT_SUBSCRIBERS"
	# `xtokend-bench fanout -subscribers N` (its -broadcasts and -warmup count presence changes).
	fflags=${FANOUT_FLAGS:--subscribers $FANOUT_SUBSCRIBERS}
	# shellcheck disable=SC2086
	start_seeded "r:1 k:$FANOUT_SUBSCRIBERS" 0 ${FANOUT_SEED_FLAGS:-$plan}
	WS="" tlsflag=""
	for rep in $(seq 1 "$REPEAT"); do
		for who in $PEERS xtokend; do
			log "presence broadcast to $FANOUT_SUBSCRIBERS subscribers $who (run $rep of $REPEAT)"
			# shellcheck disable=SC2046,SC2086
			"$BENCH" fanout $(${who}_flags) $fflags -json "$RESULTS" >&2 ||
				log "fanout $who failed (exit $?): its row is missing"
		done
	done
done

# ---- reconnecting by stream-management resumption ----
for phase in $RESUME_PHASES; do
	case $phase in
	plain) start_phase sm ;;
	tls) start_phase sm-tls ;;
	*) log "resumption phases are plain or tls; skipping $phase"; continue ;;
	esac
	for c in $RESUME_LEVELS; do
		for rep in $(seq 1 "$REPEAT"); do
			for who in $PEERS xtokend; do
				log "resume $phase c=$c $who (run $rep of $REPEAT)"
				# shellcheck disable=SC2046
				"$BENCH" resume $(${who}_flags) $tlsflag -c "$c" -duration "$DURATION" -warmup "$WARMUP" -json "$RESULTS" >&2 ||
					log "resume $who failed (exit $?): its row is missing"
			done
		done
	done
done
stop_servers

# ---- idle sessions: RSS of each server at growing counts ----
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# growth_point WHO HELD BASE: with HELD idle sessions open, a short point of logins and one of
# messages, recorded as held-logins and held-messages rows (sessions = HELD). Their connections
# come from 127.0.0.2 (-from): the held sessions take 15,000 of 127.0.0.1's 28,232 ephemeral
# ports, and the kernel's search for a free one in connect() then cost the tool about 1.6 ms
# per login (6x fewer logins/s on every server, none of it the server's).
growth_point() {
	local who=$1 held=$2 base=$3 tmp="$WORK/held.jsonl"
	: >"$tmp"
	log "growth: $who with $held idle sessions held: logins c=$GROWTH_C, messages pairs=$GROWTH_PAIRS"
	# shellcheck disable=SC2046
	"$BENCH" logins $(${who}_flags) -from 127.0.0.2 -c "$GROWTH_C" -duration "$GROWTH_DURATION" -warmup "$WARMUP" -json "$tmp" >&2
	# shellcheck disable=SC2046
	"$BENCH" messages $(${who}_flags) -from 127.0.0.2 -pairs "$GROWTH_PAIRS" -duration "$GROWTH_DURATION" -warmup "$WARMUP" -json "$tmp" >&2
	sed -E "s/\"mode\":\"(logins|messages)\"/\"mode\":\"held-\1\",\"sessions\":$held,\"base_rss_kb\":$base/" "$tmp" >>"$RESULTS"
}

idle_run() { # WHO PID TLSFLAG COUNTS [MODE [GROWTH]]: MODE idle (default) or idle-sm (stream management
	# enabled on each session); with GROWTH, the growth points at each count, from the largest down
	local who=$1 pid=$2 tlsflag=$3 counts=$4 mode=${5:-idle} growth=${6:-} held=0 errors=0 target procs=() out i base n
	local smflag="" levels=() marks=() k
	[ "$mode" = idle-sm ] && smflag=-sm
	# The baseline: the fresh server after a few logins, so its code paths are warm.
	# shellcheck disable=SC2046
	"$BENCH" logins $(${who}_flags) $tlsflag -c 1 -duration 0.3s -warmup 0s >/dev/null
	sleep 0.5
	base=$(rss "$pid")
	for target in $counts; do
		while [ "$held" -lt "$target" ]; do
			n=$((target - held))
			[ "$n" -gt "$IDLE_PER_PROC" ] && n=$IDLE_PER_PROC
			local try
			for try in 1 2; do
				out="$WORK/idle-$who-$mode${tlsflag}${WS:+-ws}-$held-$try.out"
				# shellcheck disable=SC2046
				"$BENCH" idle $(${who}_flags) $tlsflag $smflag -user-prefix i -offset "$held" -n "$n" -c 32 >"$out" 2>&1 &
				procs+=($!)
				PIDS+=($!)
				for i in $(seq 1 3000); do
					grep -q '^READY' "$out" 2>/dev/null && break
					kill -0 "${procs[-1]}" 2>/dev/null || break
					sleep 0.1
				done
				got=$(awk '/^READY/ {print $2}' "$out")
				if [ -z "$got" ]; then # the tool ended, or is still opening sessions after 5 minutes
					log "idle $who: no READY from the load tool; its last lines:"
					tail -5 "$out" >&2
				fi
				# A tool stopped by a signal from outside (seen on a shared machine: its dials
				# "canceled" within a second of its start) is run once more.
				if [ "${got:-0}" -ge "$n" ] || [ "$try" = 2 ] || { [ -n "$got" ] && ! grep -q 'operation was canceled' "$out"; }; then
					break
				fi
				log "idle $who: the load tool opened ${got:-0} of $n sessions and was stopped; running it again"
				kill "${procs[-1]}" 2>/dev/null || true
				wait "${procs[-1]}" 2>/dev/null || true
				unset 'procs[-1]'
				sleep 1
			done
			[ -z "$got" ] && { kill "${procs[-1]}" 2>/dev/null || true; } # its sessions must not count in the next RSS
			grep -h "first error" "$out" >&2 || true
			errors=$((errors + n - ${got:-0}))
			held=$((held + n))
		done
		sleep 1 # let the server settle (its GC, Lua's collector)
		local now
		now=$(rss "$pid")
		log "$mode $who ${tlsflag:-plain}${WS:+ websocket} $held sessions ($errors failed): RSS $now KB (fresh: $base KB)"
		printf '{"server":"%s","mode":"%s","transport":"%s","tls":%s,"concurrency":%d,"sessions":%d,"ops":%d,"errors":%d,"rss_kb":%d,"base_rss_kb":%d}\n' \
			"$who" "$mode" "$([ -n "$WS" ] && echo websocket || echo tcp)" "$([ -n "$tlsflag" ] && echo true || echo false)" "$held" "$((held - errors))" "$((held - errors))" "$errors" "$now" "$base" >>"$RESULTS"
		levels+=("$held")
		marks+=("${#procs[@]}")
	done
	# The growth points run after every count's RSS is read (so that their garbage is not in
	# it), from the largest count down: the tool processes above each count are stopped first.
	if [ -n "$growth" ]; then
		for ((k = ${#levels[@]} - 1; k >= 0; k--)); do
			while [ "${#procs[@]}" -gt "${marks[k]}" ]; do
				kill "${procs[-1]}" 2>/dev/null || true
				wait "${procs[-1]}" 2>/dev/null || true
				unset 'procs[-1]'
			done
			sleep 1
			growth_point "$who" "${levels[k]}" "$base"
		done
	fi
	for i in "${procs[@]}"; do
		kill "$i" 2>/dev/null || true
	done
	for i in "${procs[@]}"; do
		wait "$i" 2>/dev/null || true
	done
}

for phase in $IDLE_PHASES; do
	counts=$IDLE_COUNTS mode=idle growth=""
	[ "$phase" = ws ] && counts=$WS_IDLE_COUNTS
	[ "$phase" = sm ] && counts=$SM_IDLE_COUNTS mode=idle-sm
	[ "$phase" = plain ] && growth=$GROWTH
	for rep in $(seq 1 "$REPEAT"); do
		start_phase "$phase"
		# Each server is stopped after its run, so that closing its 15,000 sessions is over before
		# the next one is measured.
		for who in $PEERS; do
			pid=$PPID_
			[ "$who" = ejabberd ] && pid=$EPID
			idle_run "$who" "$pid" "$tlsflag" "$counts" "$mode" "$growth"
			stop_server "$who"
		done
		idle_run xtokend "$XPID" "$tlsflag" "$counts" "$mode" "$growth"
	done
done
stop_servers

if [ -n "${PROFILE:-}" ]; then
	bash bench/profile.sh
fi

# ---- token verification against its bare cryptography (sasl's own benchmarks) ----
log "sasl: BenchmarkVerify against BenchmarkCryptoFloor"
VERIFY=$(cd "$SRC" && go test -run '^$' -bench 'Verify|CryptoFloor' -benchmem -benchtime "${VERIFY_TIME:-1s}" ./sasl 2>&1 | grep -E '^Benchmark' || echo "(sasl benchmarks failed)")

# ---- a roster get of 1,000 items (storage's and the server's benchmarks), with the stored phase ----
ROSTERGET_MD=""
if [ -n "$STORED_PHASES" ]; then
	log "roster get of 1,000 items: BenchmarkRosterGet1000, BenchmarkRosterGetWire1000"
	ROSTERGET=$(cd "$SRC" && go test -run '^$' -bench 'RosterGet(Wire)?1000' -benchtime "${ROSTERGET_TIME:-2000x}" ./storage ./server 2>&1 | grep -E '^Benchmark' || echo "(roster get benchmarks failed)")
	ROSTERGET_MD="
### A roster get of 1,000 items

\`go test -run '^\$' -bench 'RosterGet(Wire)?1000' -benchtime ${ROSTERGET_TIME:-2000x} ./storage ./server\`: the storage call
(\`BenchmarkRosterGet1000\`: one statement, the items aggregated into one text) and the whole get as a
client sees it (\`BenchmarkRosterGetWire1000\`: the request written, the answer's last byte read) on
SQLite and PostgreSQL (a throwaway server of its own), with p50 and p99 over every get. Issue 15's
target: p99 under 5 ms on SQLite.

\`\`\`
$ROSTERGET
\`\`\`
"
elif [ -n "${KEEP_RESULTS:-}" ] && [ -f "$OUT" ]; then
	# Not measured this time: the section stays as the last run wrote it (its header to its
	# closing fence).
	ROSTERGET_MD=$(printf '\n'; awk '/^### A roster get of 1,000 items/ {on = 1} on {print} on && /^```$/ && ++fences == 2 {exit}' "$OUT")
fi

# ---- the report ----
# phase_of LINE: the phase a result line belongs to (ws, tls or plain), and whether it is idle.
phase_of() {
	case $1 in
	*'"transport":"websocket"'*) echo -n ws ;;
	*'"tls":true'*) echo -n tls ;;
	*) echo -n plain ;;
	esac
	case $1 in
	*'"mode":"idle-sm"'*) echo -n ' sm' ;; # the sm phase is plaintext TCP with stream management
	esac
	case $1 in
	*'"mode":"idle"'* | *'"mode":"idle-sm"'* | *'"mode":"held-'*) echo " idle" ;;
	*'"mode":"roster-logins"'* | *'"mode":"offline-'*) echo " stored" ;;
	*'"mode":"fanout"'*) echo " fanout" ;;
	*'"mode":"resume"'*) echo " resume" ;;
	*) echo " load" ;;
	esac
}
CARRIED="" CARRY_NOTE=""
if [ -n "${KEEP_RESULTS:-}" ] && [ -f bench/results.jsonl ]; then
	: >"$WORK/carried.jsonl"
	while IFS= read -r line; do
		read -r ph sm kind <<<"$(phase_of "$line")"
		[ -z "$kind" ] && kind=$sm || ph=sm
		ran=$LOAD_PHASES
		[ "$kind" = idle ] && ran=$IDLE_PHASES
		[ "$kind" = stored ] && ran=$STORED_PHASES
		[ "$kind" = fanout ] && ran=$FANOUT_PHASES
		[ "$kind" = resume ] && ran=$RESUME_PHASES
		[[ " $ran " == *" $ph "* ]] || echo "$line" >>"$WORK/carried.jsonl"
	done <bench/results.jsonl
	if [ -s "$WORK/carried.jsonl" ]; then
		CARRIED="$WORK/carried.jsonl"
		CARRY_NOTE="
- This run measured the load phases \"$LOAD_PHASES\" and the idle phases \"$IDLE_PHASES\" only; the other
  rows are carried over from the previous run's \`bench/results.jsonl\` (measured the same way, an
  earlier day: its figures and the machine's load may differ)."
	fi
fi
GOV=$(go version | awk '{print $3}')
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
cat >"$WORK/preamble.md" <<EOF
# Benchmarks: xtokend against Prosody and ejabberd

Written by \`bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'). Run it again with:

\`\`\`sh
bench/run.sh        # installs Prosody and ejabberd from Debian if absent; about 25 minutes on 2 quiet cores
\`\`\`

## The machine

| | |
|---|---|
| CPUs | $(nproc) × $CPU |
| memory | $(free -g | awk '/^Mem:/ {print $2}') GiB |
| kernel | $(uname -r) |
| Go | $GOV |
| xtokend | $REV (built ${BUILD_FROM:-tree}) |
| Prosody | $(bash bench/prosody.sh version) (Debian), network_backend = "epoll", Nagle off, authentication = "${PROSODY_AUTH:-internal_plain}", storage memory (accounts: internal) |
| ejabberd | $(bash bench/ejabberd.sh version) (Debian)$(has_peer ejabberd || echo " (not run)"), anonymous login_anon (PLAIN with any password, no account lookup), mnesia |
| load | the load tool runs on the same $(nproc) cores, as do the servers; the load average (1, 5, 15 min) was $LOAD_START at the start of the run and $(cut -d' ' -f1-3 /proc/loadavg) at its end |

## How it is measured

- The load tool, \`cmd/xtokend-bench\`, speaks XMPP over TCP on 127.0.0.1. A **login** is the whole
  exchange a client does: connect, stream header, features, (STARTTLS, TLS 1.3 handshake with X25519,
  new stream,) SASL with an initial response, new stream, resource binding; then the stream is closed.
  Latency is from connect to the bind result. xtokend logs in with **X-TOKEN**: the tool mints a
  fresh token per login from the host's key files (a new 32-digit nonce each time, so replay
  protection is on and passes); Prosody with **PLAIN** against its users (\`internal_plain\`);
  ejabberd with **PLAIN** in its anonymous \`login_anon\` mode (no account lookup: its cheapest login).
  The tool closes each session politely (its stream end, then the server's) beside the next login.$PIPELINE_NOTE
- **WebSocket** rows: the same login over XMPP over WebSocket (RFC 7395) on plaintext
  \`ws://127.0.0.1:PORT/xmpp-websocket\`: the HTTP upgrade with the subprotocol \`xmpp\` (the tool's
  client is its own lean one: a prepared upgrade request and RFC 6455 framing), then \`<open/>\`, SASL, a new \`<open/>\`, bind,
  \`<close/>\`, each element one text message; a login's latency includes the upgrade. The servers:
  xtokend's \`[websocket]\` listener, Prosody's \`mod_websocket\` (built into 0.12, on its \`http_ports\`,
  \`consider_websocket_secure = true\`), ejabberd's \`ejabberd_http_ws\` on an \`ejabberd_http\` listener;
  SASL and accounts as over TCP.
- Each point runs for $DURATION after $WARMUP of warm-up, the peers first ($PEERS) and xtokend right
  after them$([ "$REPEAT" -gt 1 ] && echo ", $REPEAT times in turn (the tables give the means; the idle phase restarts the servers for each run)").$CARRY_NOTE
- **CPU µs/op** is the server process's user+system CPU time over the measured time divided by the
  operations done: less sensitive to the other load on a shared machine than the rate.
- **Messages**: pairs of bound sessions; in each pair one message bounces back and forth (each side
  answers every message with a new one to the other's full JID). Latency is send to receipt.
- **Logins with a roster** (the stored phase, plaintext TCP): each server restarted with
  $ROSTER_USERS users (r0..) whose rosters hold $ROSTER_CONTACTS mutual subscriptions, $ROSTER_ONLINE of them to
  contacts the tool keeps online (k0.., each with its initial presence sent) and the rest to offline
  users. A login is connect, SASL, bind, the roster get (all $ROSTER_CONTACTS items checked), initial
  presence, and the wait for the available presence of all $ROSTER_ONLINE online contacts; its time ends there.
  Storage: xtokend's SQLite (\`[storage]\` default, WAL, \`synchronous=FULL\`), seeded through its admin API;
  Prosody's internal storage (\`default_storage = "internal"\`: files), seeded as its roster files;
  ejabberd's mnesia with \`auth_method: internal\` (real accounts: \`login_anon\` would drop an anonymous
  user's roster at logout), seeded with \`ejabberdctl import_piefxis\` (XEP-0227). Prosody and ejabberd
  log in with PLAIN, xtokend with X-TOKEN. Commands: \`xtokend-bench seed -format xtokend|prosody|ejabberd\`,
  \`xtokend-bench rosters ... -users $ROSTER_USERS -online $ROSTER_ONLINE -contacts $ROSTER_CONTACTS -c N\`.
- **Offline messages** (same servers): $OFFLINE_PAIRS senders (s0..) each send $OFFLINE_MESSAGES chat messages to
  their own offline receiver (d0..), then a ping; the store rate is all messages over the time until the
  last sender's ping is answered (xtokend commits each message to disk first, \`synchronous=FULL\`;
  Prosody's file storage and ejabberd's mnesia do not sync each one, and ejabberd may answer the ping
  before its offline store has finished). Then every receiver logs in and sends initial presence; the
  deliver rate is all messages over the time until the last receiver has all of its own.
  \`xtokend-bench offline ... -pairs $OFFLINE_PAIRS -messages $OFFLINE_MESSAGES\`; mod_offline for Prosody, mod_offline
  (mnesia, no cap) for ejabberd. Latencies in these two tables are the pairs' times.
- **Idle sessions**: bound sessions held open by several tool processes (at most $IDLE_PER_PROC each:
  the open-file limit is 20,000 per process); the server's VmRSS is read once the count is reached.
  With **stream management** (the sm phase, plaintext TCP): each session also sends
  \`<enable resume='true'/>\` and waits for \`<enabled/>\` (\`xtokend-bench idle -sm\`), as a phone's
  client does; xtokend has stream management on for every host, Prosody loads \`mod_smacks\` and ejabberd
  \`mod_stream_mgmt\` for that phase.
- **Growth** (the plaintext idle phase$([ -n "$GROWTH" ] || echo ", not run this time")): once every count's RSS is read, the
  counts are visited again from the largest down (the tool processes above each count stopped first),
  and with that many idle sessions held the server runs $GROWTH_DURATION of logins at c=$GROWTH_C and
  $GROWTH_DURATION of messages at $GROWTH_PAIRS pairs (after $WARMUP of warm-up each): the CPU per operation as the server fills up.
- **Presence broadcast** (the fanout phase$([ -n "$FANOUT_PHASES" ] || echo ", not run this time")): every server restarted with
  storage as for the rosters, user r0's roster holding $FANOUT_SUBSCRIBERS mutual subscriptions to users the tool
  keeps online (k0..); \`xtokend-bench fanout -subscribers $FANOUT_SUBSCRIBERS\` has r0 change its presence, one
  change at a time (after a few unmeasured ones), each one ending when every subscriber has it; the
  latencies are of every delivery (\`xtokend-bench seed ... -users 1 -online $FANOUT_SUBSCRIBERS -contacts $FANOUT_SUBSCRIBERS\`).
- **Reconnecting by stream-management resumption** (the resume phase$([ -n "$RESUME_PHASES" ] || echo ", not run this time")): every server
  restarted with stream management as in the sm phase; each of N workers (\`xtokend-bench resume ... -c N\`)
  holds one resumable session and, again and again, closes its TCP connection without a stream end,
  connects anew, authenticates again (XEP-0198 resumes only for the session's user: X-TOKEN for xtokend,
  PLAIN for the peers) and sends \`<resume previd h/>\` in place of a bind; the latency is from the connect to
  \`<resumed/>\`. The servers see the old connection closed at once (a FIN) and none waits for it: each
  takes the session over from an old connection still open (seen with the old one left open: Prosody's
  mod_smacks closes it without a word, ejabberd's mod_stream_mgmt and xtokend with a \`<conflict/>\` stream error). A \`<failed/>\` is an error (ejabberd has been seen to answer a rare
  \`item-not-found\`, "Previous session not found", at c=8); the worker then starts a new session.
- **SASL2** series$([ -n "$SASL2" ] || echo " (not run this time)"): xtokend's plaintext logins again with X-TOKEN inside SASL2's
  \`<authenticate/>\` and a Bind2 request (\`xtokend-bench logins -sasl2\`): one round trip fewer.
- **The floor**$([ -n "$FLOOR" ] || echo " (not run this time)"): \`xtokend-bench floor\`, a stand-in server in Go that answers the
  tool's plaintext login from canned bytes (no parsing, no token check, no session; its stream's end
  goes with the FIN, as xtokend's), takes its turn at every plaintext login level. What it costs is
  the loopback TCP, Go's poller and scheduler: the ceiling, under this tool on these cores, of any
  server written with Go's net package, against which xtokend's logins and the targets are set below.
- **Where ejabberd has no row**: the token verification and the 1,000-item roster get below are Go
  benchmarks of xtokend's own code (X-TOKEN is xtokend's mechanism; ejabberd's and Prosody's whole
  logins, and logins with a roster, are in the tables); ejabberd 23.01 (Debian) has no SASL2, Bind2 or
  FAST, so the SASL2 series and the FAST reconnect section have no ejabberd row (Prosody 0.12 has none
  either); the soak (\`bench/soak.sh\`) drives xtokend alone. A reconnect by stream management's
  resumption, which all three servers do, has its own table.
- Commands, as run by the script (\$WORK is a temporary folder with the generated configs and keys):
  \`xtokend-bench logins -addr 127.0.0.1:PORT -mech X-TOKEN -secret-file \$WORK/access_secret -seed-file \$WORK/otp_seed [-tls] -c N -duration $DURATION\`,
  the same with \`-mech PLAIN -password bench\` for Prosody, \`xtokend-bench messages ... -pairs N\`,
  \`xtokend-bench idle ... -n N -offset K\`; over WebSocket each with \`-ws ws://127.0.0.1:PORT/xmpp-websocket\`.

### Token verification

\`go test -run '^\$' -bench 'Verify|CryptoFloor' -benchmem ./sasl\`: a whole X-TOKEN check
(\`BenchmarkVerify\`: parse, TOTP window, HMAC-SHA256, constant-time compare, replay cache) beside the
bare HMAC-SHA1 and HMAC-SHA256 it must compute (\`BenchmarkCryptoFloor\`):

\`\`\`
$VERIFY
\`\`\`

$ROSTERGET_MD
Where xtokend's time and memory go, with the proposed fixes: [bench/PROFILE.md](bench/PROFILE.md)
(\`bench/profile.sh\` takes the profiles).

## Results
EOF
# The soak's sections (bench/soak.sh appends them) are not this script's to drop: carry them over.
# With KEEP_RESULTS=1 so are the rows of the phases this run did not measure.
SOAK_PART=""
[ -f "$OUT" ] && SOAK_PART=$(sed -n '/^## Soak/,$p' "$OUT")
"$BENCH" report -peer "$(echo $PEERS | tr ' ' ,)" -o "$OUT" -svg "${SVG_DIR:-bench}/logins.svg" -rss-svg "${SVG_DIR:-bench}/rss.svg" \
	-growth-svg "${SVG_DIR:-bench}/growth.svg" -svg-link bench/logins.svg -preamble "$WORK/preamble.md" "$RESULTS" $CARRIED
[ -n "$SOAK_PART" ] && printf '\n%s\n' "$SOAK_PART" >>"$OUT"
cat $CARRIED "$RESULTS" >"$WORK/all.jsonl"
cp "$WORK/all.jsonl" bench/results.jsonl
log "wrote $OUT, ${SVG_DIR:-bench}/{logins,rss,growth}.svg and bench/results.jsonl"
