#!/usr/bin/env bash
# sendxmpp (Debian package sendxmpp, Perl: Net::XMPP, XML::Stream, Authen::SASL) logging in with
# X-TOKEN through clients/perl/Authen/SASL/Perl/X_TOKEN.pm, for xtokend's integration tests.
#
#   sendxmpp_client.sh ADDR DOMAIN USER TOKEN --ca CERT.pem [--resource R]
#                      [--send-to JID] [--body TEXT] [--timeout SECONDS] [--plain]
#
# --plain runs stock sendxmpp: without X_TOKEN.pm on PERL5LIB, Authen::SASL picks PLAIN among the
# mechanisms offered (on xtokend with mod_auth_token's plain = true), the token as the password.
#
# sendxmpp only sends: it logs in over STARTTLS (-t), checking the server's certificate against
# CERT.pem, sends one message to --send-to (without it, to the user's own bare JID) and quits.
# It reports no bound JID, so the script prints one line of JSON, like the other clients:
#   {"event":"sent","to":...}  {"event":"auth_failed","condition":...}  {"event":"error","error":...}
# Exit codes: 0 sent, 1 authentication failed, 2 bad usage, 3 any other failure (TLS, timeout).
set -uo pipefail

emit_error() { # $1 exit code, $2 message
	printf '{"event":"error","error":"%s"}\n' "$(printf '%s' "$2" | tr -d '"\\' | tr '\n\t' '  ')"
	exit "$1"
}

[ $# -ge 4 ] || emit_error 2 "usage: ADDR DOMAIN USER TOKEN --ca CERT [--resource R] [--send-to JID] [--body TEXT] [--timeout S]"
addr=$1 domain=$2 user=$3 token=$4
shift 4
ca="" resource="sendxmpp" to="" body="hello" limit=20 plain=""
while [ $# -gt 0 ]; do
	case $1 in
	--plain)
		plain=1
		shift
		continue
		;;
	--ca) ca=$2 ;;
	--resource) resource=$2 ;;
	--send-to) to=$2 ;;
	--body) body=$2 ;;
	--timeout) limit=$2 ;;
	--expect-from) emit_error 2 "sendxmpp cannot receive" ;;
	*) emit_error 2 "unknown option $1" ;;
	esac
	shift 2 || emit_error 2 "option $1 wants a value"
done
[ -r "$ca" ] || emit_error 2 "--ca: cannot read '$ca'"
[ -n "$to" ] || to="$user@$domain"
command -v sendxmpp >/dev/null || emit_error 3 "sendxmpp is not installed"

here=$(cd "$(dirname "$0")" && pwd)
errfile=$(mktemp)
trap 'rm -f "$errfile"' EXIT
perl5lib="$here/perl${PERL5LIB:+:$PERL5LIB}"
[ -z "$plain" ] || perl5lib=${PERL5LIB:-} # stock: no X-TOKEN mechanism
# -o names the virtual host (stream 'to', and the name the certificate is checked against);
# -j is where to connect; -a is the only CA trusted.
printf '%s' "$body" | PERL5LIB="$perl5lib" timeout --kill-after=5 "$limit" \
	sendxmpp -t -a "$ca" -j "$addr" -o "$domain" -u "$user" -p "$token" -r "$resource" \
	--message-type chat "$to" 2>"$errfile"
rc=$?
if [ $rc -eq 0 ]; then
	printf '{"event":"sent","to":"%s"}\n' "$to"
	exit 0
fi
[ $rc -eq 124 ] || [ $rc -eq 137 ] && emit_error 3 "timeout after ${limit}s"
# sendxmpp prints "Error 'AuthSend': error: not-authorized[?]" when SASL fails.
errors=$(grep -v 'Use of uninitialized value' "$errfile")
if condition=$(printf '%s' "$errors" | grep -o "AuthSend': error: [a-z-]*" | head -1) && [ -n "$condition" ]; then
	printf '{"event":"auth_failed","condition":"%s"}\n' "${condition##* }"
	exit 1
fi
emit_error 3 "sendxmpp exit $rc: $(printf '%s' "$errors" | tail -3)"
