#!/usr/bin/python3
"""An XMPP client on slixmpp that logs in with SASL X-TOKEN, for xtokend's integration tests.

Run it with Debian's interpreter (/usr/bin/python3), which sees the python3-slixmpp package.
It connects to ADDR (host:port), upgrades with STARTTLS trusting only the certificate in --ca,
authenticates as USER@DOMAIN with X-TOKEN, binds a resource and then, depending on the flags:

  (no flag)            prints the bound JID and quits;
  --plain              stock slixmpp: no X-TOKEN mechanism, its own choice among those offered
                       (PLAIN, on xtokend with mod_auth_token's plain = true), the token as the
                       password; combines with the flags below;
  --send-to JID        sends a directed presence and then a message with --body to JID;
  --expect-from JID    waits for a message from JID (a bare JID matches any of its resources),
                       printing presences on the way.

Every outcome is one JSON object per line on stdout:

  {"event": "bound", "jid": "alice@example.org/r1", "secure": true}
  {"event": "presence", "from": "...", "type": "available"}
  {"event": "message", "from": "...", "body": "..."}
  {"event": "sent", "to": "..."}
  {"event": "auth_failed", "condition": "not-authorized"}
  {"event": "stream_error", "condition": "system-shutdown"}
  {"event": "error", "error": "..."}

Exit codes: 0 done, 1 authentication failed, 2 bad usage, 3 any other failure (TLS, stream
error, disconnection, the overall --timeout). It never waits longer than --timeout seconds.
"""

import asyncio
import ssl

import slixmpp
from slixmpp.util.sasl import Mech, SASLCancelled, sasl_mech
from slixmpp.util.sasl.client import MECH_SEC_SCORES, MECHANISMS

from clientcli import EXIT_AUTH, EXIT_OK, EXIT_OTHER, EXIT_USAGE, emit, parse_args, run


@sasl_mech(90)
class XToken(Mech):
    """X-TOKEN: PLAIN's layout (authzid NUL username NUL token), one step, TLS only."""

    name = "X-TOKEN"
    required_credentials = {"username", "token"}
    optional_credentials = {"authzid"}
    security = {"encrypted"}

    def setup(self, name):
        # slixmpp stores force_starttls but does not enforce it: refuse to send a token in clear.
        if not self.security_settings["encrypted"]:
            raise SASLCancelled("X-TOKEN without TLS")

    def process(self, challenge=b""):
        creds = self.credentials
        return creds["authzid"] + b"\x00" + creds["username"] + b"\x00" + creds["token"]


class Client(slixmpp.ClientXMPP):
    def __init__(self, args, done):
        jid = "%s@%s" % (args.user, args.domain)
        if args.resource:
            jid += "/" + args.resource
        plain = getattr(args, "plain", False)
        super().__init__(jid, args.token if plain else "")  # --plain: the token is the password
        self.args = args
        self.done = done
        self.bound = False
        self.exit_code = None  # set once we close the stream ourselves
        self.ca_certs = args.ca
        if not plain:
            self.credentials["token"] = args.token
            self["feature_mechanisms"].use_mech = "X-TOKEN"
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("failed_auth", self.on_failed_auth)
        self.add_event_handler("failed_all_auth", self.on_failed_all_auth)
        self.add_event_handler("stream_error", self.on_stream_error)
        self.add_event_handler("connection_failed", self.on_connection_failed)
        self.add_event_handler("ssl_invalid_chain", self.on_tls_failed)
        self.add_event_handler("disconnected", self.on_disconnected)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("presence", self.on_presence)

    async def get_dns_records(self, domain, port=None):
        # No DNS: the test's domains do not resolve. Connect to --addr, name the domain for TLS.
        return [(self.args.domain, self.args.host, self.args.port)]

    def finish(self, code, **event):
        if self.done.done():
            return
        if event:
            emit(**event)
        self.done.set_result(code)

    def announce_bound(self):
        """The first line of every session: the JID bound, and whether TLS protects it."""
        self.bound = True
        emit(event="bound", jid=str(self.boundjid), secure="starttls" in self.features)

    def on_session_start(self, _):
        self.announce_bound()
        if self.args.send_to:
            self.send_presence(pto=self.args.send_to)
            self.send_message(mto=self.args.send_to, mbody=self.args.body, mtype="chat")
            emit(event="sent", to=self.args.send_to)
            asyncio.ensure_future(self.quit(EXIT_OK))
        elif not self.args.expect_from:
            asyncio.ensure_future(self.quit(EXIT_OK))

    async def quit(self, code):
        # disconnect() flushes the send queue and closes the stream before the process exits.
        self.exit_code = code
        await self.disconnect(wait=5)
        self.finish(code)

    def on_failed_auth(self, failure):
        self.finish(EXIT_AUTH, event="auth_failed", condition=failure["condition"] or "unknown")

    def on_failed_all_auth(self, _):
        self.finish(EXIT_AUTH, event="auth_failed", condition="no-usable-mechanism")

    def on_stream_error(self, error):
        self.finish(EXIT_OTHER, event="stream_error", condition=error["condition"])

    def on_connection_failed(self, err):
        self.finish(EXIT_OTHER, event="error", error="connection failed: %s" % err)

    def on_tls_failed(self, err):
        self.finish(EXIT_OTHER, event="error", error="TLS: %s" % err)

    def on_disconnected(self, reason):
        if self.exit_code is not None:
            self.finish(self.exit_code)
            return
        self.finish(EXIT_OTHER, event="error", error="disconnected: %s" % (reason or "by peer"))

    def on_message(self, msg):
        if msg["type"] not in ("chat", "normal"):
            return
        emit(event="message", **{"from": str(msg["from"]), "body": msg["body"]})
        if self.args.expect_from in (str(msg["from"]), msg["from"].bare):
            asyncio.ensure_future(self.quit(EXIT_OK))

    def on_presence(self, pres):
        if pres["from"] == self.boundjid:
            return
        emit(event="presence", **{"from": str(pres["from"]), "type": pres["type"]})

    def progress(self):
        """How far it got, for the timeout's error line."""
        return "bound=%s" % self.bound


async def session(args, client_class):
    """Connect a client_class(args, done) and wait until it is done or --timeout passes: the
    main of every slixmpp script here."""
    try:
        ssl.create_default_context(cafile=args.ca)  # a bad --ca file fails here, not in a task
    except (OSError, ssl.SSLError) as e:
        emit(event="error", error="--ca %s: %s" % (args.ca, e))
        return EXIT_USAGE
    done = asyncio.get_running_loop().create_future()
    client = client_class(args, done)
    client.connect(address=(args.host, args.port), force_starttls=True)
    # connect() names the TLS peer after the address unless it is an IP, and then leaves it
    # empty, which turns the certificate's name check off: the name to check is the domain.
    client.default_domain = args.domain
    try:
        return await asyncio.wait_for(done, args.timeout)
    except asyncio.TimeoutError:
        emit(event="error", error="timeout after %gs (%s)" % (args.timeout, client.progress()))
        return EXIT_OTHER


if __name__ == "__main__":
    args = parse_args(__doc__.split("\n")[0], "slixmpp", plain=True)
    if args.plain:
        # Stock slixmpp: the X-TOKEN mechanism this module registered is taken out again.
        del MECHANISMS[XToken.name], MECH_SEC_SCORES[XToken.name]
    run(lambda args: session(args, Client), args)
