#!/usr/bin/python3
"""slixmpp with a roster, for xtokend's roster and offline-message tests.

Logs in as slixmpp_client.py does (X-TOKEN over STARTTLS, same arguments), asks for the roster,
sends available presence and then:

  --peer JID [--subscribe]  (--subscribe: asks for JID's presence first) waits until the roster
                            has JID with subscription "both", answering JID's requests as
                            slixmpp does by default (auto_authorize, auto_subscribe); prints
                            each roster push about JID;
  --expect-from JID         waits for a message from JID (any resource) and prints it, with
                            type "delayed" when it carries a XEP-0203 <delay/>.

Outcomes are JSON lines, as slixmpp_client.py prints them, plus:

  {"event": "roster", "jid": "bob@example.org", "type": "to"}
  {"event": "message", "from": "...", "body": "...", "type": "delayed"}
"""

import argparse
import asyncio
import logging
import ssl
import sys

import slixmpp_client  # registers the X-TOKEN mechanism
from clientcli import EXIT_OK, EXIT_OTHER, EXIT_USAGE, emit


class RosterClient(slixmpp_client.Client):
    def __init__(self, args, done):
        super().__init__(args, done)
        self.peer = args.peer
        self.register_plugin("xep_0203")  # <delay/>
        self.add_event_handler("roster_update", self.on_roster_update)

    def on_session_start(self, _):
        self.bound = True
        emit(event="bound", jid=str(self.boundjid), secure="starttls" in self.features)
        asyncio.ensure_future(self.begin())

    async def begin(self):
        await self.get_roster()
        self.send_presence()
        if self.peer and self.args.subscribe:
            self.send_presence(pto=self.peer, ptype="subscribe")
        self.check_done()

    def on_roster_update(self, iq):
        for jid, item in iq["roster"]["items"].items():
            if self.peer and jid.bare == self.peer:
                emit(event="roster", jid=jid.bare, type=item["subscription"])
        self.check_done()

    def check_done(self):
        if not self.peer or self.exit_code is not None:
            return
        if self.client_roster.has_jid(self.peer) and self.client_roster[self.peer]["subscription"] == "both":
            asyncio.ensure_future(self.quit(EXIT_OK))

    def on_message(self, msg):
        if msg["type"] not in ("chat", "normal"):
            return
        delayed = msg["delay"]["stamp"] is not None
        emit(event="message", **{"from": str(msg["from"]), "body": msg["body"],
                                 "type": "delayed" if delayed else msg["type"]})
        if self.args.expect_from and self.args.expect_from == msg["from"].bare:
            asyncio.ensure_future(self.quit(EXIT_OK))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("addr")
    p.add_argument("domain")
    p.add_argument("user")
    p.add_argument("token")
    p.add_argument("--ca", required=True)
    p.add_argument("--resource", default="")
    p.add_argument("--peer", default="")
    p.add_argument("--subscribe", action="store_true")
    p.add_argument("--expect-from", default="")
    p.add_argument("--timeout", type=float, default=20)
    p.add_argument("--debug", action="store_true")
    args = p.parse_args()
    host, sep, port = args.addr.rpartition(":")
    if not sep or not port.isdigit():
        p.error("addr must be host:port")
    args.host, args.port = host, int(port)
    args.send_to, args.body = "", ""
    return args


async def main(args):
    try:
        ssl.create_default_context(cafile=args.ca)
    except (OSError, ssl.SSLError) as e:
        emit(event="error", error="--ca %s: %s" % (args.ca, e))
        return EXIT_USAGE
    done = asyncio.get_running_loop().create_future()
    client = RosterClient(args, done)
    client.connect(address=(args.host, args.port), force_starttls=True)
    client.default_domain = args.domain
    try:
        return await asyncio.wait_for(done, args.timeout)
    except asyncio.TimeoutError:
        emit(event="error", error="timeout after %gs (bound=%s)" % (args.timeout, client.bound))
        return EXIT_OTHER


if __name__ == "__main__":
    args = parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.CRITICAL, stream=sys.stderr)
    try:
        code = asyncio.run(main(args))
    except Exception as e:
        emit(event="error", error="%s: %s" % (type(e).__name__, e))
        code = EXIT_OTHER
    sys.exit(code)
