#!/usr/bin/env node
// xmpp.js (@xmpp/client 0.14) logging in with SASL2 and Bind2, and then with FAST tokens, for
// xtokend's integration tests. Run it from integration/ after `npm ci`, with the server's
// certificate in NODE_EXTRA_CA_CERTS.
//
//   node clients/xmppjs_fast.mjs ADDR DOMAIN USER TOKEN [--service URL] [--resource R]
//        [--logins N] [--timeout SECONDS]
//
// The first login is X-TOKEN with TOKEN, over SASL2; xmpp.js asks for a FAST token in it (it does
// whenever the server offers FAST and it holds none). Each of the N-1 logins after it is a new
// client (as an application started again) that holds only the FAST token the last login got:
// its X-TOKEN credential throws, so a login that is not FAST fails. Over xmpp://ADDR with
// STARTTLS, or over --service (a ws:// URL). Events, one JSON object per line: bound (with the
// login's number in body and the mechanism in type), fast_token (a token was given: its expiry,
// never the token), auth_failed, error. Exit codes as xmppjs_client.mjs's.

import { parseArgs } from "node:util";
import { client, xml } from "@xmpp/client";
import { XToken } from "./xtoken_mech.mjs";

function emit(fields) {
  process.stdout.write(JSON.stringify(fields) + "\n");
}

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    service: { type: "string", default: "" },
    resource: { type: "string", default: "fast" },
    logins: { type: "string", default: "3" },
    timeout: { type: "string", default: "60" },
    ca: { type: "string", default: "" }, // accepted for the harness; NODE_EXTRA_CA_CERTS is what counts
  },
});
const [addr, domain, user, token] = positionals;
setTimeout(() => {
  emit({ event: "error", error: "timeout" });
  process.exit(3);
}, Number(opts.timeout) * 1000).unref();

// One user agent for every login: FAST tokens are bound to it.
const userAgent = xml("user-agent", { id: globalThis.crypto.randomUUID() }, xml("software", {}, "xtokend integration tests"));
let saved = null; // the FAST token the last login got, as an application would store it

async function login(n) {
  let mechanism = "";
  const xmpp = client({
    service: opts.service || `xmpp://${addr}`,
    domain,
    resource: opts.resource,
    userAgent,
    credentials: async (authenticate, mechanisms, fast) => {
      if (n === 1) {
        mechanism = "X-TOKEN";
        await authenticate({ username: user, xtoken: token }, "X-TOKEN", userAgent);
        return;
      }
      if (!fast || !saved) throw new Error("no FAST token to log in with");
      mechanism = saved.mechanism;
      // Not enumerable: xmpp.js copies the credentials with a spread, which would call it.
      const creds = Object.defineProperty({ username: user, token: saved }, "xtoken", {
        get() {
          throw new Error("the X-TOKEN credential was asked for on a FAST login");
        },
      });
      await authenticate(creds, "X-TOKEN", userAgent);
    },
  });
  xmpp.saslFactory.use(XToken);
  xmpp.reconnect.stop();
  xmpp.fast.saveToken = async (t) => {
    saved = t;
    emit({ event: "fast_token", body: String(n), type: t.mechanism, to: t.expiry });
  };
  xmpp.fast.fetchToken = async () => saved;
  xmpp.on("error", (err) => {
    if (err.name !== "SASLError") emit({ event: "error", error: `${err.name}: ${err.message}` });
  });
  const online = new Promise((resolve) => xmpp.once("online", resolve));
  try {
    await xmpp.start();
  } catch (err) {
    emit({ event: "auth_failed", body: String(n), condition: err.condition || err.message });
    process.exit(err.name === "SASLError" ? 1 : 3);
  }
  const jid = await online;
  emit({ event: "bound", jid: String(jid), body: String(n), type: mechanism, secure: xmpp.isSecure() });
  // A stanza round trip: the session works.
  await xmpp.iqCaller.request(xml("iq", { type: "get", to: domain }, xml("ping", "urn:xmpp:ping")));
  await Promise.race([xmpp.stop(), new Promise((r) => setTimeout(r, 2000))]);
}

try {
  for (let n = 1; n <= Number(opts.logins); n++) {
    await login(n);
  }
  process.exit(0);
} catch (err) {
  emit({ event: "error", error: `${err.name}: ${err.message}` });
  process.exit(3);
}
