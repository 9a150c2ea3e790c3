#!/usr/bin/python3
"""slixmpp with its XEP-0198 plugin: stream management across a lost connection.

Run it with Debian's interpreter (/usr/bin/python3). It logs in as slixmpp_client.py does (same
arguments; X-TOKEN with TOKEN), enables stream management with resumption, and reports:

  {"event": "bound", "jid": "...", "secure": true}
  {"event": "sm_enabled", "jid": "..."}        the server answered <enabled resume='true'/>
  {"event": "cut"}                             the connection was lost; reconnecting with --token2
  {"event": "resumed", "jid": "..."}           the server answered <resumed/>
  {"event": "session_start", "jid": "..."}     a new session instead (resumption failed)
  {"event": "message", "from": "...", "body": "..."}

Once a message with --body arrives after the resumption, it waits --linger seconds more (a
duplicate would show up then) and quits. Exit codes as clientcli.py says.
"""

import asyncio

from clientcli import EXIT_OK, EXIT_OTHER, emit, parse_args, run
from slixmpp_client import Client, session  # registers the X-TOKEN mechanism too


class SMClient(Client):
    def __init__(self, args, done):
        super().__init__(args, done)
        self.register_plugin("xep_0198")
        self.resumed = False
        self.started = False  # slixmpp's own self.bound is reset on every stream
        self.reconnecting = False
        self.add_event_handler("sm_enabled", self.on_sm_enabled)
        self.add_event_handler("session_resumed", self.on_resumed)

    def on_session_start(self, _):
        if self.started:
            emit(event="session_start", jid=str(self.boundjid))  # not resumed: a new session
            return
        self.started = True
        self.announce_bound()
        self.send_presence()

    def on_sm_enabled(self, stanza):
        if stanza["id"]:
            emit(event="sm_enabled", jid=str(self.boundjid))

    def on_resumed(self, _):
        self.resumed = True
        emit(event="resumed", jid=str(self.boundjid))

    def on_disconnected(self, reason):
        if self.exit_code is not None:
            self.finish(self.exit_code)
            return
        if self.reconnecting:
            self.finish(EXIT_OTHER, event="error", error="disconnected again: %s" % reason)
            return
        # The connection was lost: a new token (each works once) and the same stream
        # management state, which the plugin keeps across the disconnection.
        self.reconnecting = True
        emit(event="cut")
        self.credentials["token"] = self.args.token2
        self.connect(address=(self.args.host, self.args.port), force_starttls=True)

    def on_message(self, msg):
        if msg["type"] not in ("chat", "normal"):
            return
        emit(event="message", **{"from": str(msg["from"]), "body": msg["body"]})
        if self.resumed and msg["body"] == self.args.body:
            asyncio.ensure_future(self.linger_quit())

    async def linger_quit(self):
        await asyncio.sleep(self.args.linger)
        await self.quit(EXIT_OK)

    def progress(self):
        return "resumed=%s" % self.resumed


if __name__ == "__main__":
    run(lambda args: session(args, SMClient), parse_args(__doc__.split("\n")[0], "slixmpp", extra=[
        ("--token2", dict(required=True, help="the X-TOKEN token for the reconnection")),
        ("--linger", dict(type=float, default=1.5, help="seconds to wait for duplicates")),
    ]))
