#!/usr/bin/python3
"""The browser test's XMPP peer: slixmpp_client.py's client, made available and answering.

Same command line and JSON lines as clients/slixmpp_client.py (whose X-TOKEN mechanism, TLS and
exit codes it reuses), with two differences. Once bound, it sends an available presence (so that
the server routes messages for the bare JID to it, as to any chat client), waits for a message
from --expect-from, answers it with --body, addressed to the full JID the message came from, and
quits; or, with --send-to, sends --body there and quits as the original does. And with --plaintext it logs in on a stream without TLS, which the original refuses: a
server with tls.require_starttls = false (what a ws:// WebSocket needs) offers no STARTTLS.

  {"event": "bound", ...}  {"event": "message", "from": "...", "body": "..."}  {"event": "sent", "to": "..."}
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients"))

import slixmpp_client  # noqa: E402
from clientcli import EXIT_OK, emit, parse_args, run  # noqa: E402


class Peer(slixmpp_client.Client):
    def on_session_start(self, event):
        if self.args.send_to:
            return super().on_session_start(event)
        self.announce_bound()
        self.send_presence()

    def on_message(self, msg):
        if msg["type"] not in ("chat", "normal") or not msg["body"]:
            return  # chat states and receipts carry no body
        emit(event="message", **{"from": str(msg["from"]), "body": msg["body"]})
        if self.args.expect_from in (str(msg["from"]), msg["from"].bare):
            self.send_message(mto=msg["from"], mbody=self.args.body, mtype="chat")
            emit(event="sent", to=str(msg["from"]))
            asyncio.ensure_future(self.quit(EXIT_OK))


if __name__ == "__main__":
    plaintext = "--plaintext" in sys.argv
    if plaintext:
        sys.argv.remove("--plaintext")
        slixmpp_client.XToken.security = set()
        slixmpp_client.XToken.setup = lambda self, name: None
    args = parse_args(__doc__.split("\n")[0], "slixmpp")
    if not args.expect_from and not args.send_to:
        emit(event="error", error="--expect-from or --send-to is required")
        sys.exit(2)
    run(lambda args: slixmpp_client.session(args, Peer), args)
