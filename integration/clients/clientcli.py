"""What the Python test clients share: their command line, their JSON lines and their exit codes.

slixmpp_client.py and aioxmpp_client.py take the same arguments and report the same way, so the
Go tests drive them alike; this module is that contract, in one place.
"""

import argparse
import json

EXIT_OK, EXIT_AUTH, EXIT_USAGE, EXIT_OTHER = 0, 1, 2, 3


def emit(**fields):
    """Print one outcome as a JSON object on its own line."""
    print(json.dumps(fields), flush=True)


def parse_args(description, library, plain=False, extra=()):
    """Parse the command line; library names the XMPP library --debug logs. plain adds --plain,
    for a client that can log in with its library's stock SASL PLAIN instead of X-TOKEN; extra
    is (flag, add_argument keywords) pairs for one script's own options."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("addr", help="host:port of the server")
    p.add_argument("domain", help="the virtual host (stream 'to', TLS name)")
    p.add_argument("user", help="the localpart")
    p.add_argument("token", help="the X-TOKEN token")
    p.add_argument("--ca", required=True, help="PEM file of the certificate to trust")
    p.add_argument("--resource", default="", help="resource to ask for")
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
    return args
