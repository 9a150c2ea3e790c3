"""What the Python test clients share: their command line, their JSON lines and their exit codes.

slixmpp_client.py and aioxmpp_client.py take the same arguments and report the same way, so the
Go tests drive them alike (the other slixmpp scripts add options of their own); this module is
that contract, in one place, and the scripts' common start (run).
"""

import argparse
import asyncio
import json
import logging
import sys

EXIT_OK, EXIT_AUTH, EXIT_USAGE, EXIT_OTHER = 0, 1, 2, 3


def emit(**fields):
    """Print one outcome as a JSON object on its own line."""
    print(json.dumps(fields), flush=True)


def parse_args(description, library, plain=False, send=True, extra=()):
    """Parse the command line; library names the XMPP library --debug logs. plain adds --plain,
    for a client that can log in with its library's stock SASL PLAIN instead of X-TOKEN; send
    False leaves out --send-to and --body (then empty), for a client that sends nothing of its
    own; extra is (flag, add_argument keywords) pairs for one script's own options."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("addr", help="host:port of the server")
    p.add_argument("domain", help="the virtual host (stream 'to', TLS name)")
    p.add_argument("user", help="the localpart")
    p.add_argument("token", help="the X-TOKEN token")
    p.add_argument("--ca", required=True, help="PEM file of the certificate to trust")
    p.add_argument("--resource", default="", help="resource to ask for")
    if send:
        p.add_argument("--send-to", default="", help="send a presence and a message to this JID")
        p.add_argument("--body", default="hello", help="the message body")
    p.add_argument("--expect-from", default="", help="wait for a message from this JID (bare: any resource)")
    p.add_argument("--timeout", type=float, default=20, help="overall limit, seconds")
    p.add_argument("--debug", action="store_true", help="log %s to stderr" % library)
    if plain:
        p.add_argument("--plain", action="store_true",
                       help="no X-TOKEN: the library's own mechanisms, the token as the password")
    for flag, kw in extra:
        p.add_argument(flag, **kw)
    args = p.parse_args()
    host, sep, port = args.addr.rpartition(":")
    if not sep or not port.isdigit():
        p.error("addr must be host:port")
    args.host, args.port = host, int(port)
    if not send:
        args.send_to, args.body = "", ""
    return args


def run(main, args):
    """Run the coroutine main(args) and exit with the code it returns: the scripts' __main__.
    --debug logs the library to stderr; an unexpected crash is still one JSON line and a clear
    exit code."""
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.CRITICAL, stream=sys.stderr)
    try:
        code = asyncio.run(main(args))
    except Exception as e:  # noqa: BLE001
        emit(event="error", error="%s: %s" % (type(e).__name__, e))
        code = EXIT_OTHER
    sys.exit(code)
