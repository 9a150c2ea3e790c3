#!/usr/bin/python3
"""An XMPP client on aioxmpp that logs in with SASL X-TOKEN, for xtokend's integration tests.

Run it with Debian's interpreter (/usr/bin/python3), which sees the python3-aioxmpp package.
aioxmpp shares no code with slixmpp: its SASL comes from aiosasl and its TLS from pyOpenSSL.
The arguments, the JSON lines on stdout and the exit codes are those of slixmpp_client.py:

  aioxmpp_client.py ADDR DOMAIN USER TOKEN --ca CERT.pem [--resource R]
                    [--send-to JID --body TEXT] [--expect-from JID] [--timeout SECONDS]

Exit codes: 0 done, 1 authentication failed, 2 bad usage, 3 any other failure.
"""

import asyncio
import sys

# dnspython, which aioxmpp imports, tries httpx at import time (for DNS over HTTPS, unused here),
# and that costs twice as long as the rest: this script never resolves a name (see no_discovery).
sys.modules.setdefault("httpx", None)

import aiosasl  # noqa: E402
import aioxmpp  # noqa: E402
import aioxmpp.connector  # noqa: E402
import aioxmpp.dispatcher  # noqa: E402
import aioxmpp.errors  # noqa: E402
import aioxmpp.node  # noqa: E402
import aioxmpp.sasl  # noqa: E402
import aioxmpp.security_layer  # noqa: E402
import OpenSSL.SSL  # noqa: E402

from clientcli import EXIT_AUTH, EXIT_OK, EXIT_OTHER, EXIT_USAGE, emit, parse_args, run  # noqa: E402


class XToken(aiosasl.SASLMechanism):
    """X-TOKEN: PLAIN's layout (authzid NUL username NUL token), one client-first step."""

    def __init__(self, username, token):
        super().__init__()
        self._username = username
        self._token = token

    @classmethod
    def any_supported(cls, mechanisms):
        return "X-TOKEN" if "X-TOKEN" in mechanisms else None

    async def authenticate(self, sm, mechanism):
        payload = b"\0" + self._username.encode() + b"\0" + self._token.encode()
        state, _ = await sm.initiate(mechanism="X-TOKEN", payload=payload)
        if state != aiosasl.SASLState.SUCCESS:
            raise aiosasl.SASLFailure(None, text="X-TOKEN: server did not answer success")


class XTokenProvider(aioxmpp.security_layer.SASLProvider):
    """Offers X-TOKEN, and only on a TLS stream: a token never travels in clear."""

    def __init__(self, token):
        self._token = token

    async def execute(self, client_jid, features, xmlstream, tls_transport):
        if tls_transport is None:
            raise aiosasl.AuthenticationFailure("plaintext-refused", text="X-TOKEN without TLS")
        mechanism_class, token = self._find_supported(features, [XToken])
        if mechanism_class is None:
            return False
        intf = aioxmpp.sasl.SASLXMPPInterface(xmlstream)
        return await self._execute(intf, XToken(client_jid.localpart, self._token), token)


def ssl_context_factory(cafile):
    def factory():
        ctx = aioxmpp.security_layer.default_ssl_context()
        ctx.load_verify_locations(cafile)
        return ctx
    return factory


async def no_discovery(domain, loop=None, logger=None):
    return []


# --addr is where the server is. Without this, aioxmpp falls back to DNS (SRV, then A records)
# for the domain once --addr has failed, and reports both failures: the test domains do not
# resolve, and a machine without DNS would wait for the resolver's timeout.
aioxmpp.node.discover_connectors = no_discovery


def failure_event(exc):
    """The JSON line and exit code for an exception that ended the connection."""
    if isinstance(exc, aioxmpp.errors.MultiOSError) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]  # one address tried: its own error says what happened
    if isinstance(exc, aiosasl.AuthenticationFailure):
        return EXIT_AUTH, dict(event="auth_failed", condition=exc.opaque_error or "unknown")
    if isinstance(exc, aiosasl.SASLFailure):
        return EXIT_AUTH, dict(event="auth_failed", condition=exc.opaque_error or str(exc))
    if isinstance(exc, aioxmpp.errors.StreamError):
        cond = getattr(exc.condition, "value", exc.condition)  # (namespace, name) in aioxmpp 0.13
        return EXIT_OTHER, dict(event="stream_error", condition=cond[1] if isinstance(cond, tuple) else str(cond))
    return EXIT_OTHER, dict(event="error", error="%s: %s" % (type(exc).__name__, exc))


async def session(args):
    try:
        ssl_context_factory(args.ca)()  # a bad --ca file fails here, before connecting
    except (OSError, OpenSSL.SSL.Error) as e:
        emit(event="error", error="--ca %s: %s" % (args.ca, e))
        return EXIT_USAGE

    jid = aioxmpp.JID(args.user, args.domain, args.resource or None)
    layer = aioxmpp.security_layer.SecurityLayer(
        ssl_context_factory=ssl_context_factory(args.ca),
        certificate_verifier_factory=aioxmpp.security_layer.PKIXCertificateVerifier,
        tls_required=True,
        sasl_providers=[XTokenProvider(args.token)],
    )
    client = aioxmpp.Client(
        jid, layer,
        override_peer=[(args.host, args.port, aioxmpp.connector.STARTTLSConnector())],
        max_initial_attempts=1,  # one try: a refused login is the answer, not a reason to retry
    )
    got_message = asyncio.get_running_loop().create_future()

    def on_message(msg):
        if msg.type_ not in (aioxmpp.MessageType.CHAT, aioxmpp.MessageType.NORMAL):
            return
        body = msg.body.any() if msg.body else None
        emit(event="message", **{"from": str(msg.from_), "body": body})
        if args.expect_from in (str(msg.from_), str(msg.from_.bare())) and not got_message.done():
            got_message.set_result(True)

    def on_presence(pres):
        if pres.from_ == client.local_jid:
            return
        emit(event="presence", **{"from": str(pres.from_), "type": pres.type_.value or "available"})

    messages = client.summon(aioxmpp.dispatcher.SimpleMessageDispatcher)
    messages.register_callback(None, None, on_message)
    presences = client.summon(aioxmpp.dispatcher.SimplePresenceDispatcher)
    for ptype in aioxmpp.PresenceType:
        presences.register_callback(ptype, None, on_presence)

    try:
        async with client.connected() as stream:
            emit(event="bound", jid=str(client.local_jid), secure=True)
            if args.send_to:
                to = aioxmpp.JID.fromstr(args.send_to)
                await stream.send(aioxmpp.Presence(type_=aioxmpp.PresenceType.AVAILABLE, to=to))
                msg = aioxmpp.Message(type_=aioxmpp.MessageType.CHAT, to=to)
                msg.body[None] = args.body
                await stream.send(msg)
                emit(event="sent", to=args.send_to)
            elif args.expect_from:
                # The stream's end while waiting is a failure, reported by the except below.
                stopped = asyncio.get_running_loop().create_future()
                # aioxmpp reconnects after a stream ends; on_stream_suspended gives the reason.
                def lost(reason=None):
                    if not stopped.done():
                        if isinstance(reason, BaseException):
                            stopped.set_exception(reason)
                        else:
                            stopped.set_result(None)
                client.on_stream_suspended.connect(lost)
                client.on_stopped.connect(lambda *a: lost())
                client.on_failure.connect(lost)
                done, _ = await asyncio.wait([got_message, stopped], return_when=asyncio.FIRST_COMPLETED)
                if stopped in done:
                    stopped.result()
                    emit(event="error", error="disconnected")
                    return EXIT_OTHER
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 (every failure becomes one JSON line)
        code, event = failure_event(exc)
        emit(**event)
        return code


async def main(args):
    try:
        return await asyncio.wait_for(session(args), args.timeout)
    except asyncio.TimeoutError:
        emit(event="error", error="timeout after %gs" % args.timeout)
        return EXIT_OTHER


if __name__ == "__main__":
    run(main, parse_args(__doc__.split("\n")[0], "aioxmpp"))
