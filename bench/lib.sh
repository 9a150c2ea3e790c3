# shellcheck shell=bash
# What the bench scripts share. Source it: . "$(dirname "$0")/lib.sh"

log() { echo "== $*" >&2; }

free_port() { # FROM: the first port from FROM to FROM+100 that nobody listens on
	local p
	for p in $(seq "$1" $(($1 + 100))); do
		if ! ss -ltn "sport = :$p" | grep -q LISTEN; then
			echo "$p"
			return 0
		fi
	done
	echo "no free port from $1" >&2
	return 1
}

wait_port() { # PORT PID: until PORT listens (15 s at most); fails at once if PID has exited
	local i
	for i in $(seq 1 300); do
		ss -ltn "sport = :$1" | grep -q LISTEN && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

wait_exit() { # PID: until it has exited; SIGKILL after 15 s
	local i
	for i in $(seq 1 150); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null || true
}

stop_pid() { # PID: SIGTERM, then wait_exit
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null || return 0
	wait_exit "$1"
}

apt_install() { # PACKAGE [apt-get options]: installs PACKAGE from Debian when it is absent
	local pkg=$1 sudo=""
	shift
	dpkg -s "$pkg" >/dev/null 2>&1 && return 0
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" "$pkg" >/dev/null
}
