#!/usr/bin/env node
// An XMPP client on xmpp.js (@xmpp/client 0.14) that logs in with SASL X-TOKEN, for xtokend's
// integration tests. Run it from integration/ after `npm ci`, with the server's certificate in
// NODE_EXTRA_CA_CERTS (xmpp.js checks the certificate against the domain and has no CA option).
//
//   node clients/xmppjs_client.mjs ADDR DOMAIN USER TOKEN [--resource R]
//        [--send-to JID --body TEXT] [--expect-from JID] [--timeout SECONDS] [--plain]
//
// --plain is stock xmpp.js: X-TOKEN is not registered, and the token is the password of its own
// @xmpp/sasl-plain (offered by xtokend where mod_auth_token has plain = true).
//
// It connects to ADDR (host:port), upgrades with STARTTLS (xmpp.js does whenever it is offered;
// the mechanism refuses to run on a stream that is not secure), authenticates as USER@DOMAIN,
// binds, and then quits, sends a directed presence and a message (--send-to), or waits for a
// message from a JID (--expect-from; a bare JID matches any of its resources). Every outcome is
// one JSON object per line on stdout, as in slixmpp_client.py: bound, presence, message, sent,
// auth_failed, stream_error, error.
// Exit codes: 0 done, 1 authentication failed, 2 bad usage, 3 any other failure (TLS, stream
// error, disconnection, the overall --timeout).

import { parseArgs } from "node:util";
import { client, xml } from "@xmpp/client";
import { createHash } from "node:crypto";
import SASLError from "@xmpp/sasl/lib/SASLError.js";
import { XToken } from "./xtoken_mech.mjs";

const EXIT_OK = 0;
const EXIT_AUTH = 1;
const EXIT_USAGE = 2;
const EXIT_OTHER = 3;

function emit(fields) {
  process.stdout.write(JSON.stringify(fields) + "\n");
}

function usage(message) {
  process.stderr.write(`xmppjs_client: ${message}\n`);
  emit({ event: "error", error: message });
  process.exit(EXIT_USAGE);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      resource: { type: "string", default: "" },
      "send-to": { type: "string", default: "" },
      body: { type: "string", default: "hello" },
      "expect-from": { type: "string", default: "" },
      timeout: { type: "string", default: "20" },
      plain: { type: "boolean", default: false },
    },
  });
} catch (err) {
  usage(err.message);
}
if (parsed.positionals.length !== 4) {
  usage("want ADDR DOMAIN USER TOKEN");
}
const [addr, domain, user, token] = parsed.positionals;
const opts = parsed.values;
const m = /^(.+):(\d+)$/.exec(addr);
if (!m) usage("ADDR must be host:port");
const timeoutSeconds = Number(opts.timeout);
if (!(timeoutSeconds > 0)) usage("--timeout must be a positive number");

// With a resource, a user agent id derived from it: xtokend's Bind2 gives a user agent the same
// resource each time (XEP-0386), so two runs with one resource conflict as two binds of it do.
let userAgent;
if (opts.resource) {
  const h = createHash("sha256").update(`${user}@${domain}/${opts.resource}`).digest("hex");
  const id = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
  userAgent = xml("user-agent", { id }, xml("software", {}, "xtokend integration tests"));
}

const xmpp = client({
  service: `xmpp://${m[1]}:${m[2]}`,
  domain,
  resource: opts.resource || undefined,
  userAgent,
  // xmpp.js waits 2 s by default for each step it times (a stream header, a
  // STARTTLS answer, a close): too short on a loaded test machine, where a
  // step that would succeed failed with a bare TimeoutError.
  timeout: 10_000,
  credentials: async (authenticate, mechanisms) => {
    // xmpp.js has no switch to refuse plaintext: check here, before the token leaves.
    if (!xmpp.isSecure()) {
      throw Object.assign(new Error("a token without TLS"), { condition: "plaintext-refused" });
    }
    // SASL2 asks for credentials when only FAST is usable: that is xmpp.js finding no
    // mechanism it knows, as its RFC 6120 SASL reports it.
    if (mechanisms.length === 0) {
      throw new SASLError("SASL: No compatible mechanism available.");
    }
    const mechanism = opts.plain ? "PLAIN" : "X-TOKEN";
    if (!mechanisms.includes(mechanism)) {
      throw Object.assign(new Error(`${mechanism} not offered (${mechanisms})`), {
        condition: "no-usable-mechanism",
      });
    }
    if (opts.plain) {
      await authenticate({ username: user, password: token }, "PLAIN", userAgent);
    } else {
      await authenticate({ username: user, xtoken: token }, "X-TOKEN", userAgent);
    }
  },
});
if (!opts.plain) {
  xmpp.saslFactory.use(XToken);
}
xmpp.reconnect.stop(); // a refused login must end the run, not start it again

let finished = false;
let bound = false;
async function finish(code, event) {
  if (finished) return;
  finished = true;
  if (event) emit(event);
  try {
    await Promise.race([xmpp.stop(), new Promise((r) => setTimeout(r, 2000))]);
  } catch {
    // the stream may already be gone; the outcome is printed
  }
  process.exit(code);
}

const timer = setTimeout(() => {
  finish(EXIT_OTHER, {
    event: "error",
    error: `timeout after ${timeoutSeconds}s (bound=${bound})`,
  });
}, timeoutSeconds * 1000);
timer.unref();

xmpp.on("error", (err) => {
  if (err.name === "SASLError") return; // reported by start()'s rejection
  if (err.name === "StreamError") {
    finish(EXIT_OTHER, { event: "stream_error", condition: err.condition });
    return;
  }
  finish(EXIT_OTHER, { event: "error", error: `${err.name}: ${err.message}` });
});

xmpp.on("offline", () => {
  finish(EXIT_OTHER, { event: "error", error: "disconnected" });
});

xmpp.on("stanza", (stanza) => {
  const from = stanza.attrs.from || "";
  if (stanza.is("presence") && from !== String(xmpp.jid)) {
    emit({ event: "presence", from, type: stanza.attrs.type || "available" });
  } else if (stanza.is("message") && ["chat", "normal", undefined].includes(stanza.attrs.type)) {
    emit({ event: "message", from, body: stanza.getChildText("body") });
    const want = opts["expect-from"];
    if (want && (from === want || from.split("/")[0] === want)) {
      finish(EXIT_OK);
    }
  }
});

xmpp.on("online", async (jid) => {
  bound = true;
  emit({ event: "bound", jid: jid.toString(), secure: xmpp.isSecure() });
  const to = opts["send-to"];
  if (to) {
    await xmpp.send(xml("presence", { to }));
    await xmpp.send(xml("message", { to, type: "chat" }, xml("body", {}, opts.body)));
    emit({ event: "sent", to });
    finish(EXIT_OK);
  } else if (!opts["expect-from"]) {
    finish(EXIT_OK);
  }
});

try {
  await xmpp.start();
} catch (err) {
  if (err.name === "SASLError" || err.condition === "plaintext-refused" || err.condition === "no-usable-mechanism") {
    finish(EXIT_AUTH, { event: "auth_failed", condition: err.condition || err.message });
  } else {
    finish(EXIT_OTHER, { event: "error", error: `${err.name}: ${err.message}` });
  }
}
