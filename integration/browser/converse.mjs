// Drives Converse.js in headless Chromium for xtokend's browser integration test.
//
//   node converse.mjs --base http://127.0.0.1:PORT --ws ws://127.0.0.1:PORT/xmpp-websocket \
//        --user alice --jid alice@file.test --artifacts DIR [--peer bob@file.test --out TEXT --in TEXT]
//        [--contact bob@file.test [--expect TEXT]] [--reconnect --peer bob@file.test --expect TEXT]
//
// It starts Debian's chromium with a fresh profile, lets the page load only from 127.0.0.1 and
// localhost (any other request is aborted and reported), signs in to the example web application
// and waits until Converse opens a WebSocket to --ws (seen through the DevTools protocol). Without
// --peer it stops there. With it, it waits until the page shows the user online, opens a chat with
// --peer, types --out and sends it with Enter, then waits for a message --in from the peer.
// With --contact, once online it waits until the roster shows that contact online and, with
// --expect, opens the chat with it and waits for a message --expect from it (one that waited on
// the server while the page was closed).
// With --reconnect, once online it opens the chat with --peer and waits while the test cuts the
// WebSocket's connection under it: Converse must see it close, open a new WebSocket (fetching a
// fresh token from credentials_url) and resume its stream (XEP-0198) or log in anew; then the
// chat must show --expect, sent by the peer during the cut, once, and the WebSockets must have
// carried it once.
//
// Every step is one JSON line on stdout:
//   {"event":"signed_in"} {"event":"credentials","status":200,"jid":"..."}
//   {"event":"websocket","url":"..."} {"event":"online","jid":"alice@file.test/res"}
//   {"event":"auth","mechanism":"X-TOKEN","initial_response":"<base64>"}
//   {"event":"sent"} {"event":"received","body":"..."} {"event":"screenshot","path":"..."}
//   {"event":"contact","jid":"bob@file.test"}
//   {"event":"chat_open"} {"event":"ws_closed"} {"event":"reconnected","resumed":true}
//   {"event":"received","body":"...","shown":1,"frames":1}
//   {"event":"offsite","url":"..."} {"event":"failed_request","url":"...","error":"..."}
//   {"event":"error","error":"...","screenshot":"...","console":"..."}
// Exit codes: 0 done, 2 bad usage, 3 any failure (after a screenshot and the console log are
// saved in --artifacts).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';

const EXIT_OK = 0, EXIT_USAGE = 2, EXIT_FAILED = 3;

// The selectors of Converse 14's fullscreen view that the test reads.
const ONLINE = 'converse-user-profile .xmpp-status [data-value="online"]';
const CHAT_INPUT = 'converse-chat textarea.chat-textarea';
const MESSAGES = 'converse-chat .chat-msg__text';
const CONN_FEEDBACK = '.conn-feedback';
// A roster contact with a subscription, shown online.
const contactOnline = (jid) => `li.current-xmpp-contact[data-status="online"] a.open-chat[data-jid="${jid}"]`;

function emit(fields) {
    process.stdout.write(JSON.stringify(fields) + '\n');
}

let opts;
try {
    ({ values: opts } = parseArgs({
        options: {
            base: { type: 'string' },
            ws: { type: 'string' },
            user: { type: 'string' },
            jid: { type: 'string' },
            artifacts: { type: 'string' },
            peer: { type: 'string' },
            out: { type: 'string' },
            in: { type: 'string' },
            contact: { type: 'string' },
            expect: { type: 'string' },
            reconnect: { type: 'boolean', default: false },
            chromium: { type: 'string', default: '/usr/bin/chromium' },
            timeout: { type: 'string', default: '60' },
        },
    }));
    for (const k of ['base', 'ws', 'user', 'jid', 'artifacts']) {
        if (!opts[k]) throw new Error(`--${k} is required`);
    }
    if (opts.reconnect && (!opts.peer || !opts.expect)) throw new Error('--reconnect needs --peer and --expect');
    if (opts.peer && !opts.reconnect && (!opts.out || !opts.in)) throw new Error('--peer needs --out and --in');
} catch (e) {
    emit({ event: 'error', error: `usage: ${e.message}` });
    process.exit(EXIT_USAGE);
}
const timeout = Number(opts.timeout) * 1000;
const deadline = Date.now() + timeout;
const left = () => Math.max(1, deadline - Date.now());

mkdirSync(opts.artifacts, { recursive: true });
const consoleLog = [];
const note = (line) => consoleLog.push(`${new Date().toISOString()} ${line}`);

const isLocal = (u) => {
    try {
        const { protocol, hostname } = new URL(u);
        if (protocol === 'data:' || protocol === 'blob:') return true;
        return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
    } catch {
        return false;
    }
};

const profile = mkdtempSync(join(tmpdir(), 'xtokend-chromium-'));
let browser, page;
const problems = []; // off-site requests and failed requests: the page must have none

async function main() {
    browser = await puppeteer.launch({
        executablePath: opts.chromium,
        headless: true,
        userDataDir: profile,
        // As root Chromium's sandbox refuses to start; the rest keeps it off the network.
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync',
            '--disable-dev-shm-usage'],
        protocolTimeout: timeout,
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    page.setDefaultTimeout(timeout);
    page.on('console', (m) => note(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => note(`pageerror: ${e.message}`));

    await page.setRequestInterception(true);
    page.on('request', (req) => {
        if (isLocal(req.url())) {
            req.continue();
            return;
        }
        problems.push({ event: 'offsite', url: req.url() });
        emit({ event: 'offsite', url: req.url() });
        req.abort('blockedbyclient');
    });
    page.on('requestfailed', (req) => {
        if (!isLocal(req.url())) return; // reported as offsite
        const p = { event: 'failed_request', url: req.url(), error: req.failure()?.errorText };
        problems.push(p);
        emit(p);
    });
    page.on('response', async (resp) => {
        const url = new URL(resp.url());
        if (resp.status() >= 400 && url.pathname !== '/credentials') {
            const p = { event: 'failed_request', url: resp.url(), error: `HTTP ${resp.status()}` };
            problems.push(p);
            emit(p);
        }
        if (url.pathname === '/credentials') {
            let jid = '';
            try {
                jid = (await resp.json()).jid ?? '';
            } catch {}
            emit({ event: 'credentials', status: resp.status(), jid }); // never the token
        }
    });

    // WebSocket traffic is visible through the DevTools protocol only.
    const cdp = await page.createCDPSession();
    await cdp.send('Network.enable');
    // Each WebSocket the page opens, and each one that ended (closed or failed).
    const created = signals(), ended = signals();
    const websocket = created.next();
    let boundJID;
    const bound = new Promise((resolve) => (boundJID = resolve));
    cdp.on('Network.webSocketCreated', (e) => {
        note(`websocket created: ${e.url}`);
        created.fire(e.url);
    });
    cdp.on('Network.webSocketClosed', () => {
        note('websocket closed');
        ended.fire();
    });
    cdp.on('Network.webSocketFrameError', (e) => {
        note(`websocket frame error: ${e.errorMessage}`);
        ended.fire();
    });
    // How the stream after a reconnection began: <resumed/> or a new resource bound.
    let restarted;
    const restart = new Promise((resolve) => (restarted = resolve));
    let framesWith = 0; // received frames that hold --expect
    cdp.on('Network.webSocketFrameSent', (e) => {
        // The SASL <auth/>: which mechanism Converse chose, and its initial response, for the
        // test to check that no log holds the token.
        const m = /<auth [^>]*mechanism=["']([^"']+)["'][^>]*>([^<]*)<\/auth>/.exec(e.response.payloadData);
        if (m) emit({ event: 'auth', mechanism: m[1], initial_response: m[2] });
        else if (opts.reconnect) note(`sent: ${e.response.payloadData}`); // never the <auth/> with its token
    });
    cdp.on('Network.webSocketFrameReceived', (e) => {
        const data = e.response.payloadData;
        const m = /<jid>([^<]+)<\/jid>/.exec(data);
        if (m) boundJID(m[1]);
        if (created.count > 1 && /<resumed[ >\/]/.test(data)) restarted(true);
        if (created.count > 1 && m) restarted(false);
        if (opts.expect && data.includes(opts.expect)) framesWith++;
    });

    await page.goto(opts.base + '/', { waitUntil: 'domcontentloaded' });
    await page.type('#username', opts.user);
    await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('#signin button[type=submit]')]);
    if (!(await page.$('#xtokend-config'))) throw new Error('sign-in did not lead to the chat page');
    emit({ event: 'signed_in' });

    const url = await within(websocket, 'Converse to open a WebSocket');
    emit({ event: 'websocket', url });
    if (url !== opts.ws) throw new Error(`WebSocket to ${url}, want ${opts.ws}`);
    if (!opts.peer && !opts.contact) {
        await settle();
        return;
    }

    await page.waitForSelector(ONLINE, { timeout: left() });
    const jid = await within(bound, 'the bound JID in a WebSocket frame');
    emit({ event: 'online', jid });
    if (!jid.startsWith(opts.jid + '/')) throw new Error(`bound as ${jid}, want ${opts.jid}/<resource>`);

    if (opts.reconnect) {
        await page.evaluate((peer) => { location.hash = `#converse/chat?jid=${peer}`; }, opts.peer);
        await page.waitForSelector(CHAT_INPUT, { visible: true, timeout: left() });
        const wsEnded = ended.next();
        const second = created.next();
        emit({ event: 'chat_open' });
        await within(wsEnded, 'the WebSocket to end (the test cuts it)');
        emit({ event: 'ws_closed' });
        const url2 = await within(second, 'Converse to open a new WebSocket');
        if (url2 !== opts.ws) throw new Error(`reconnected to ${url2}, want ${opts.ws}`);
        const resumed = await within(restart, 'the new stream to resume or bind');
        emit({ event: 'reconnected', resumed });
        await page.waitForSelector(ONLINE, { timeout: left() });
        await waitForMessage(opts.expect);
        // A copy sent twice would come right behind the first: let the traffic settle.
        await page.waitForNetworkIdle({ idleTime: 1000, timeout: left() }).catch(() => {});
        const shown = await page.$$eval(MESSAGES, (els, text) => els.filter((el) => el.textContent.trim() === text).length, opts.expect);
        emit({ event: 'received', body: opts.expect, shown, frames: framesWith });
        await settle();
        return;
    }

    if (opts.contact) {
        await page.waitForSelector(contactOnline(opts.contact), { timeout: left() });
        emit({ event: 'contact', jid: opts.contact });
        if (opts.expect) {
            await page.evaluate((peer) => { location.hash = `#converse/chat?jid=${peer}`; }, opts.contact);
            await page.waitForSelector(CHAT_INPUT, { visible: true, timeout: left() });
            await waitForMessage(opts.expect);
            emit({ event: 'received', body: opts.expect });
        }
        if (!opts.peer) {
            await settle();
            return;
        }
    }

    // Converse's own URL route for a chat with someone (not in the roster: xtokend keeps none).
    await page.evaluate((peer) => { location.hash = `#converse/chat?jid=${peer}`; }, opts.peer);
    await page.waitForSelector(CHAT_INPUT, { visible: true, timeout: left() });
    await page.type(CHAT_INPUT, opts.out);
    await page.keyboard.press('Enter');
    await waitForMessage(opts.out);
    emit({ event: 'sent' });

    await waitForMessage(opts.in);
    emit({ event: 'received', body: opts.in });
    await settle();
}

// waitForMessage waits until the open chat shows a message with exactly this text.
async function waitForMessage(text) {
    await page.waitForFunction(
        (sel, text) => [...document.querySelectorAll(sel)].some((el) => el.textContent.trim() === text),
        { timeout: left(), polling: 100 },
        MESSAGES, text);
}

// signals counts events of one kind; next() is a promise of the next one after the call.
function signals() {
    const waiting = [];
    return {
        count: 0,
        fire(v) {
            this.count++;
            for (const resolve of waiting.splice(0)) resolve(v);
        },
        next() {
            return new Promise((resolve) => waiting.push(resolve));
        },
    };
}

// within waits for p, failing after what is left of --timeout.
function within(p, what) {
    let timer;
    return Promise.race([p, new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), left());
    })]).finally(() => clearTimeout(timer));
}

// settle lets late requests (fonts, emoji) show up before the problems are counted.
async function settle() {
    await page.waitForNetworkIdle({ idleTime: 300, timeout: left() }).catch(() => {});
    if (problems.length) throw new Error(`the page made ${problems.length} bad request(s): ${JSON.stringify(problems)}`);
}

async function saveArtifacts(name) {
    const out = {};
    if (page) {
        out.screenshot = join(opts.artifacts, `${name}.png`);
        try {
            await page.screenshot({ path: out.screenshot, fullPage: true });
        } catch (e) {
            note(`screenshot failed: ${e.message}`);
            delete out.screenshot;
        }
        try {
            const feedback = await page.$eval(CONN_FEEDBACK, (el) => el.textContent.trim());
            if (feedback) note(`Converse's connection feedback: ${feedback}`);
        } catch {}
    }
    out.console = join(opts.artifacts, `${name}-console.log`);
    writeFileSync(out.console, consoleLog.join('\n') + '\n');
    return out;
}

let code = EXIT_OK;
try {
    await main();
    const { screenshot } = await saveArtifacts(opts.peer || opts.contact ? 'chat' : 'load');
    emit({ event: 'screenshot', path: screenshot });
} catch (e) {
    const saved = await saveArtifacts('failure');
    emit({ event: 'error', error: e.message, ...saved });
    code = EXIT_FAILED;
} finally {
    await browser?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
