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

import asyncio

import slixmpp_client  # registers the X-TOKEN mechanism
from clientcli import EXIT_OK, emit, parse_args, run
from slixmpp_client import session


class RosterClient(slixmpp_client.Client):
    def __init__(self, args, done):
        super().__init__(args, done)
        self.peer = args.peer
        self.register_plugin("xep_0203")  # <delay/>
        self.add_event_handler("roster_update", self.on_roster_update)

    def on_session_start(self, _):
        self.announce_bound()
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


if __name__ == "__main__":
    run(lambda args: session(args, RosterClient), parse_args(__doc__.split("\n")[0], "slixmpp", send=False, extra=[
        ("--peer", dict(default="", help="wait until the roster has this JID with subscription both")),
        ("--subscribe", dict(action="store_true", help="ask for --peer's presence first")),
    ]))
