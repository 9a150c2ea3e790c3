#!/usr/bin/env node
// xmpp.js (@xmpp/client 0.14) with its stream management across a lost connection, for
// xtokend's integration tests. Run it from integration/ after `npm ci`, with the server's
// certificate in NODE_EXTRA_CA_CERTS.
//
//   node clients/xmppjs_sm.mjs ADDR DOMAIN USER TOKEN --token2 TOKEN2 --body TEXT
//        [--resource R] [--service URL] [--timeout SECONDS] [--linger SECONDS]
//
// It logs in with X-TOKEN as xmppjs_client.mjs does (over xmpp://ADDR with STARTTLS, or over
// --service, a ws:// URL), and xmpp.js enables stream management with resumption. When the
// connection is lost, xmpp.js's reconnect module connects again; the second login uses TOKEN2
// (a token works once) and resumes. Once a message with --body arrives after the cut it
// waits --linger seconds (a duplicate would show up then) and quits. Events, one JSON object per
// line: bound, sm_enabled, cut, resumed, session_start (a new session instead of the resumed one),
// message, error. Exit codes as xmppjs_client.mjs's.

import { parseArgs } from "node:util";
import { client } from "@xmpp/client";
import { XToken } from "./xtoken_mech.mjs";

function emit(fields) {
  process.stdout.write(JSON.stringify(fields) + "\n");
}

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    resource: { type: "string", default: "" },
    body: { type: "string", default: "" },
    token2: { type: "string", default: "" },
    service: { type: "string", default: "" },
    timeout: { type: "string", default: "60" },
    linger: { type: "string", default: "1.5" },
    ca: { type: "string", default: "" }, // accepted for the harness; NODE_EXTRA_CA_CERTS is what counts
  },
});
const [addr, domain, user, token] = positionals;
const tokens = [token, opts.token2];
let logins = 0;

const xmpp = client({
  service: opts.service || `xmpp://${addr}`,
  domain,
  resource: opts.resource || undefined,
  credentials: async (authenticate) => {
    const t = tokens[logins++];
    if (!t) throw new Error("no token left for another login");
    await authenticate({ username: user, xtoken: t }, "X-TOKEN");
  },
});
xmpp.saslFactory.use(XToken);

// Over TCP with STARTTLS, RFC 6120's SASL, not SASL2: xmpp.js 0.14 keeps listening to the
// connection it lost (its STARTTLS leaves the TCP socket's listeners attached, a reconnect leaves
// the old parser's), and a SASL2 resumption, done in the login's one round trip, completes before
// that old connection's last events arrive: xmpp.js then breaks the resumed stream (bad-format)
// and reconnects once more. With the stream restart of RFC 6120's SASL in between it does not.
// Over WebSocket SASL2 resumes (XEP-0198 inline), as xmpp.js does by default.
if (!opts.service) {
  xmpp.prependListener("element", (el) => {
    if (el.is("features", "http://etherx.jabber.org/streams")) {
      el.children = el.children.filter((c) => typeof c === "string" || !c.is("authentication", "urn:xmpp:sasl:2"));
    }
  });
}

let resumed = false;
let smEnabled = false;
let started = false;
let cut = false;
function finish(code, event) {
  if (event) emit(event);
  Promise.race([xmpp.stop(), new Promise((r) => setTimeout(r, 2000))]).finally(() => process.exit(code));
}
setTimeout(() => finish(3, { event: "error", error: `timeout (resumed=${resumed})` }), Number(opts.timeout) * 1000).unref();

xmpp.on("error", (err) => emit({ event: "error", error: `${err.name}: ${err.message}` }));
xmpp.on("disconnect", () => {
  if (started && !cut) {
    cut = true;
    emit({ event: "cut" });
  }
});
xmpp.streamManagement.on("resumed", () => {
  resumed = true;
  emit({ event: "resumed", jid: String(xmpp.jid) });
});
// On a resumption xmpp.js sets the status without an "online" event.
xmpp.on("online", (jid) => {
  if (started) {
    emit({ event: "session_start", jid: String(jid) });
    return;
  }
  started = true;
  emit({ event: "bound", jid: String(jid), secure: xmpp.isSecure() });
  // Enabled inside a Bind2 <bound/> (SASL2 login): xmpp.js handles it after "online".
  setTimeout(() => {
    const sm = xmpp.streamManagement;
    if (sm.enabled && sm.id && !smEnabled) {
      smEnabled = true;
      emit({ event: "sm_enabled", jid: String(xmpp.jid) });
    }
  }, 0);
});
xmpp.on("nonza", (el) => {
  if (el.is("enabled", "urn:xmpp:sm:3") && el.attrs.resume && !smEnabled) {
    smEnabled = true;
    emit({ event: "sm_enabled", jid: String(xmpp.jid) });
  }
});
xmpp.on("stanza", (stanza) => {
  if (stanza.is("message") && ["chat", "normal", undefined].includes(stanza.attrs.type)) {
    const body = stanza.getChildText("body");
    emit({ event: "message", from: stanza.attrs.from || "", body });
    // After the cut (xmpp.js handles what <resumed/> brought before it says "resumed").
    if (cut && body === opts.body) {
      setTimeout(() => finish(0), Number(opts.linger) * 1000);
    }
  }
});

try {
  await xmpp.start();
} catch (err) {
  finish(3, { event: "error", error: `${err.name}: ${err.message}` });
}
