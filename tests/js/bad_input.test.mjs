// The bad-input table of issue 8, in a real page: the release build (demo/static/pkg) in Debian
// Chromium talks to a tiny Phoenix-speaking `ws` server in this process (127.0.0.1, port 0, the
// same node:http server that serves the page), which sends each bad input on command. For each:
// the expected error event (with its code) where one is expected, no page error, and the client
// keeps working — a good broadcast still arrives, a push still gets its reply, heartbeats are
// still answered (no reconnect in the whole run).
//
// Needs `./pkg-template/build` first. Run: `cd tests && node --test js/bad_input.test.mjs`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { launchBrowser } from './lib/browser.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
// TETHER_PKG_DIR: test another build of the package (default: the one pkg-template/build made).
const builtPkg = process.env.TETHER_PKG_DIR || join(repo, 'demo', 'static', 'pkg');
let pkgDir; // a private copy, so a concurrent rebuild cannot change it under the page
const MAX_FRAME = 1048576;
const ROOM = 'room:bad';
const PRES = 'room:presence';

const PAGE = `<!doctype html><meta charset="utf-8"><title>bad input</title>
<script type="module">
import init, { Socket } from './pkg/tether.js';
await init();
const protoNames = Object.getOwnPropertyNames(Object.prototype).sort().join(',');
const log = { errors: [], good: [], bins: [], syncs: 0, states: [] };
window.log = log;
const socket = new Socket('/socket', { maxFrameBytes: ${MAX_FRAME}, heartbeatMs: 2000,
  reconnect: { minMs: 100, maxMs: 200 } });
socket.onError((e) => log.errors.push({ code: e.code, message: String(e.message) }));
socket.onState((s) => log.states.push(s.state));
const room = socket.channel('${ROOM}', {});
room.on('good', (p) => log.good.push(p.i));
room.on('bin', (p) => log.bins.push(p));
const pres = socket.channel('${PRES}', {});
const presence = pres.presence();
presence.onSync(() => { log.syncs += 1; });
socket.connect();
await room.join();
await pres.join();
window.t = {
  room, presence,
  keys: () => presence.list((key) => key),
  protoIntact: () => Object.getOwnPropertyNames(Object.prototype).sort().join(',') === protoNames
    && ({}).metas === undefined && ({}).phx_ref === undefined && ({}).polluted === undefined,
};
window.ready = true;
</script>`;

const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };

let http;
let wss;
let browser;
let page;
let base;
const pageErrors = [];
const server = {
  ws: null,
  connections: 0,
  joinRefs: {},
  held: [], // frames of "slow" pushes, never answered in time
  heartbeats: 0,
};

function send(data) {
  assert.ok(server.ws, 'no socket');
  server.ws.send(data);
}

function reply(frame, status, response) {
  send(JSON.stringify([frame[0], frame[1], frame[2], 'phx_reply', { status, response }]));
}

before(async () => {
  assert.ok(existsSync(join(builtPkg, 'tether_bg.wasm')), 'demo/static/pkg missing: run pkg-template/build');
  pkgDir = join(mkdtempSync(join(tmpdir(), 'tether-bad-input-')), 'pkg');
  cpSync(builtPkg, pkgDir, { recursive: true });
  http = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    let file;
    if (path === '/bad.html') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      return;
    }
    if (path.startsWith('/pkg/')) file = join(pkgDir, path.slice('/pkg/'.length));
    if (!file || !file.startsWith(pkgDir)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  wss = new WebSocketServer({ server: http, path: '/socket/websocket', maxPayload: 64 * 1024 * 1024 });
  wss.on('connection', (ws) => {
    server.ws = ws;
    server.connections += 1;
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const frame = JSON.parse(String(data));
      const [joinRef, , topic, event, payload] = frame;
      if (event === 'phx_join') {
        server.joinRefs[topic] = joinRef;
        if (topic === PRES) {
          // A server that sends presence_diff before any join is confirmed (and before the
          // channel's presence_state).
          send(JSON.stringify([joinRef, null, PRES, 'presence_diff',
            { joins: { early: { metas: [{ phx_ref: 'E1' }] } }, leaves: {} }]));
        }
        reply(frame, 'ok', {});
      } else if (event === 'heartbeat') {
        server.heartbeats += 1;
        reply(frame, 'ok', {});
      } else if (event === 'slow') {
        server.held.push(frame);
      } else {
        reply(frame, 'ok', payload);
      }
    });
  });
  await new Promise((r) => http.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${http.address().port}`;
  browser = await launchBrowser();
  page = await browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('crash', () => pageErrors.push('page crashed'));
  page.on('console', (m) => { if (process.env.BAD_INPUT_DEBUG) console.log('[page]', m.text()); });
  await page.goto(`${base}/bad.html`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 15_000 }).catch(async (e) => {
    const state = await page.evaluate(() => JSON.stringify(window.log ?? null)).catch(() => '?');
    throw new Error(`the page did not get ready: ${e.message}; log ${state}; page errors ${pageErrors}; `
      + `server saw ${server.connections} connection(s), joins ${JSON.stringify(server.joinRefs)}`);
  });
});

after(async () => {
  await browser?.close();
  for (const c of wss?.clients ?? []) c.terminate();
  wss?.close();
  await new Promise((r) => (http ? http.close(r) : r()));
  if (pkgDir) rmSync(dirname(pkgDir), { recursive: true, force: true });
});

/** A Phoenix V2 binary frame (server → client). */
function binary(kind, fields, payload) {
  const enc = fields.map((f) => (Buffer.isBuffer(f) ? f : Buffer.from(f, 'utf8')));
  return Buffer.concat([Buffer.from([kind, ...enc.map((f) => f.length)]), ...enc, Buffer.from(payload)]);
}

let seq = 0;
/** The client still works: a broadcast arrives and a push gets its reply. */
async function stillWorks(what) {
  seq += 1;
  const i = seq;
  send(JSON.stringify([null, null, ROOM, 'good', { i }]));
  await page.waitForFunction((n) => log.good.includes(n), i, { timeout: 5_000 })
    .catch(() => assert.fail(`${what}: the good broadcast #${i} never arrived`));
  const echoed = await page.evaluate((n) => window.t.room.push('echo', { n }), i);
  assert.deepEqual(echoed, { n: i }, `${what}: push reply`);
}

const errorCount = () => page.evaluate(() => log.errors.length);

/** Sends `data`, then checks the error events it caused and that the client still works. */
async function badInput(what, data, expectedCode) {
  const before = await errorCount();
  send(data);
  if (expectedCode) {
    await page.waitForFunction((n) => log.errors.length > n, before, { timeout: 5_000 })
      .catch(() => assert.fail(`${what}: no error event (expected ${expectedCode})`));
  }
  await stillWorks(what);
  const errors = (await page.evaluate(() => log.errors)).slice(before);
  if (expectedCode) {
    assert.equal(errors.length, 1, `${what}: one error event, got ${JSON.stringify(errors)}`);
    assert.equal(errors[0].code, expectedCode, `${what}: ${JSON.stringify(errors)}`);
    assert.ok(errors[0].message.length > 0, `${what}: the error has a message`);
  } else {
    assert.deepEqual(errors, [], `${what}: no error event expected`);
  }
  assert.deepEqual(pageErrors, [], `${what}: page errors`);
  return errors;
}

test('every bad input yields its error event and the client keeps working', { timeout: 120_000 }, async () => {
  const jr = server.joinRefs[ROOM];
  const pjr = server.joinRefs[PRES];
  assert.ok(jr && pjr, 'both channels joined');
  await stillWorks('baseline');
  const table = [
    ['not JSON', 'this is not json', 'malformed_frame'],
    ['empty text frame', '', 'malformed_frame'],
    ['wrong arity (4)', JSON.stringify([null, null, ROOM, 'x']), 'malformed_frame'],
    ['wrong arity (6)', JSON.stringify([null, null, ROOM, 'x', {}, {}]), 'malformed_frame'],
    ['not an array', JSON.stringify({ topic: ROOM }), 'malformed_frame'],
    ['payload an array', JSON.stringify([null, null, ROOM, 'good', [1, 2]]), 'malformed_frame'],
    ['payload a string', JSON.stringify([null, null, ROOM, 'good', 'x']), 'malformed_frame'],
    ['payload null', JSON.stringify([null, null, ROOM, 'good', null]), 'malformed_frame'],
    ['ref a number', JSON.stringify([null, 7, ROOM, 'good', {}]), 'malformed_frame'],
    ['topic a number', JSON.stringify([null, null, 7, 'good', {}]), 'malformed_frame'],
    ['16 MB text frame (maxFrameBytes 1 MiB)',
      JSON.stringify([null, null, ROOM, 'good', { big: 'x'.repeat(16 * 1024 * 1024) }]), 'frame_too_large'],
    ['2 MB binary frame', binary(2, [ROOM, 'bin'], Buffer.alloc(2 * 1024 * 1024)), 'frame_too_large'],
    // Under the limit in UTF-16 units, over it in UTF-8: the core's check still applies.
    ['600k-unit frame of "é" (1.2 MB of UTF-8; maxFrameBytes 1 MiB)',
      JSON.stringify([null, null, ROOM, 'good', { big: 'é'.repeat(600_000) }]), 'frame_too_large'],
    ['deep nesting (100k [)', '['.repeat(100_000), 'malformed_frame'],
    // A broadcast's payload is parsed by the browser (as phoenix.js does) and handed on as it is.
    ['deep nesting in a broadcast payload',
      `[null,null,"${ROOM}","deep",${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}]`, null],
    ['lone surrogate', `[null,null,"${ROOM}\\ud800","good",{}]`, 'malformed_frame'],
    // The topic is a joined channel's: the inbound path finds it, then no listener for the event.
    ['lone surrogate in the event', `[null,null,"${ROOM}","good\\ud800",{}]`, 'malformed_frame'],
    ['invalid UTF-8 in a binary topic', binary(2, [Buffer.from([0xff, 0xfe, 0x41]), 'bin'], [1, 2, 3]), 'malformed_frame'],
    ['invalid UTF-8 in a binary reply status', binary(1, [jr, '5', ROOM, Buffer.from([0xc0, 0x80])], []), 'malformed_frame'],
    ['truncated binary frame', binary(2, [ROOM, 'bin'], []).subarray(0, 5), 'malformed_frame'],
    ['binary frame of unknown kind', Buffer.from([9, 0, 0]), 'malformed_frame'],
    ['empty binary frame', Buffer.alloc(0), 'malformed_frame'],
    ['unknown event', JSON.stringify([null, null, ROOM, 'no_such_event', { a: 1 }]), null],
    ['unknown topic', JSON.stringify([null, null, 'nowhere:at_all', 'good', {}]), null],
    ['message for a stale join_ref', JSON.stringify(['stale', null, ROOM, 'good', { i: -1 }]), null],
    ['reply with a null ref', JSON.stringify([jr, null, ROOM, 'phx_reply', { status: 'ok', response: {} }]), 'malformed_frame'],
    ['reply with an unknown ref', JSON.stringify([jr, '987654', ROOM, 'phx_reply', { status: 'ok', response: {} }]), 'stale_reply'],
    ['__proto__ keys in a payload',
      `[null,null,"${ROOM}","proto",{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}]`, null],
    ['presence_diff for a channel never joined',
      JSON.stringify(['99', null, 'room:never', 'presence_diff', { joins: { x: { metas: [{ phx_ref: 'X' }] } }, leaves: {} }]), null],
  ];
  const summary = [];
  for (const [what, data, code] of table) {
    await badInput(what, data, code);
    summary.push(`${what} → ${code ?? 'no error'}`);
  }
  assert.equal(await page.evaluate(() => log.good.includes(-1)), false, 'a stale join_ref is dropped');
  assert.equal(await page.evaluate(() => window.t.protoIntact()), true, 'Object.prototype untouched');
  console.log(`bad inputs: ${summary.length}\n  ${summary.join('\n  ')}`);
});

test('a binary broadcast and a binary reply are delivered as {byteLength, base64}', async () => {
  send(binary(2, [ROOM, 'bin'], [0, 1, 2, 253, 254, 255]));
  await page.waitForFunction(() => log.bins.length === 1, null, { timeout: 5_000 });
  assert.deepEqual(await page.evaluate(() => log.bins[0]), { byteLength: 6, base64: 'AAEC/f7/' });
  // A binary reply to a push: the response is the bytes.
  const pending = page.evaluate(() => window.t.room.push('slow', {}));
  await waitFor(() => server.held.length === 1, 'the slow push');
  const frame = server.held.pop();
  send(binary(1, [frame[0], frame[1], ROOM, 'ok'], Buffer.from('hi')));
  assert.deepEqual(await pending, { byteLength: 2, base64: 'aGk=' });
  await stillWorks('after binary frames');
  assert.deepEqual(pageErrors, []);
});

test('a reply for a push that already timed out is a stale_reply error', async () => {
  const outcome = page.evaluate(() => window.t.room.push('slow', { late: true }, { timeoutMs: 200 })
    .then(() => 'ok', (e) => e.code));
  await waitFor(() => server.held.length === 1, 'the slow push');
  assert.equal(await outcome, 'timeout');
  const frame = server.held.pop();
  await badInput('reply after the push timed out',
    JSON.stringify([frame[0], frame[1], ROOM, 'phx_reply', { status: 'ok', response: {} }]), 'stale_reply');
});

test('presence: __proto__ keys are ordinary keys, a diff before the join is harmless', async () => {
  const pjr = server.joinRefs[PRES];
  const syncs = await page.evaluate(() => log.syncs);
  await badInput('__proto__ keys in a presence_state', `["${pjr}",null,"${PRES}","presence_state",`
    + '{"__proto__":{"metas":[{"phx_ref":"P1","polluted":true}]},'
    + '"constructor":{"metas":[{"phx_ref":"C1"}]},"ada":{"metas":[{"phx_ref":"A1"}]}}]', null);
  await page.waitForFunction((n) => log.syncs > n, syncs, { timeout: 5_000 });
  const keys = await page.evaluate(() => window.t.keys());
  for (const k of ['__proto__', 'constructor', 'ada']) assert.ok(keys.includes(k), `presence key ${k} in ${keys}`);
  assert.equal(await page.evaluate(() => window.t.protoIntact()), true, 'Object.prototype untouched');
  await badInput('presence_diff with a __proto__ leave', JSON.stringify([pjr, null, PRES, 'presence_diff',
    { joins: {}, leaves: JSON.parse('{"__proto__":{"metas":[{"phx_ref":"P1"}]}}') }]), null);
  assert.equal(await page.evaluate(() => window.t.protoIntact()), true, 'Object.prototype untouched');
});

test('a large frame reaches the core as UTF-8 intact (a 3,000-key presence_state with non-ASCII keys and names)', async () => {
  const pjr = server.joinRefs[PRES];
  const state = {};
  for (let i = 0; i < 3000; i++) state[`ü${i}`] = { metas: [{ phx_ref: `r${i}`, name: `Zoë ${i} 🎉 名前` }] };
  const text = JSON.stringify([pjr, null, PRES, 'presence_state', state]);
  assert.ok(text.length > 16384 * 4, `a frame of ${text.length} units takes the large-frame path`);
  await badInput('large non-ASCII presence_state', text, null);
  await page.waitForFunction(() => window.t.keys().length === 3000, null, { timeout: 5_000 });
  const firstLast = await page.evaluate(() => {
    const names = window.t.presence.list((key, p) => `${key}=${p.metas[0].name}`);
    return [names[0], names[names.length - 1]];
  });
  assert.deepEqual(firstLast, ['ü0=Zoë 0 🎉 名前', 'ü2999=Zoë 2999 🎉 名前']);
  // The same state again: nothing changes, nothing is reported.
  const syncs = await page.evaluate(() => log.syncs);
  await badInput('the same large state again', text, null);
  await page.waitForFunction((n) => log.syncs > n, syncs, { timeout: 5_000 });
  assert.equal(await page.evaluate(() => window.t.keys().length), 3000);
});

test('parsed in the page: join refs are honoured, a throwing listener is reported and the others run, listeners added or removed in delivery count from the next frame', async () => {
  const errorsBefore = await errorCount();
  await page.evaluate(() => {
    const { room } = window.t;
    window.fast = [];
    window.t.offA = room.on('fast', (p) => {
      if (p.n === 1) throw new Error('listener boom');
      window.fast.push(`A${p.n}`);
    });
    window.t.offB = room.on('fast', (p) => {
      window.fast.push(`B${p.n}`);
      if (p.n === 1) window.t.offC = room.on('fast', (q) => window.fast.push(`C${q.n}`));
      if (p.n === 4) window.t.offC();
    });
  });
  const got = (n) => page.waitForFunction((k) => window.fast.length >= k, n, { timeout: 5_000 })
    .then(() => page.evaluate(() => window.fast.splice(0)));
  send(JSON.stringify([null, null, ROOM, 'fast', { n: 1 }]));
  assert.deepEqual(await got(1), ['B1'], 'A threw; B ran; C, added during delivery, not yet');
  await waitFor(() => pageErrors.some((e) => e.includes('listener boom')), 'the throw is reported');
  pageErrors.splice(0);
  // The current join ref is accepted, a stale one is not.
  send(JSON.stringify([server.joinRefs[ROOM], null, ROOM, 'fast', { n: 2 }]));
  assert.deepEqual(await got(3), ['A2', 'B2', 'C2']);
  send(JSON.stringify(['stale', null, ROOM, 'fast', { n: 3 }]));
  send(JSON.stringify([null, null, ROOM, 'fast', { n: 4 }]));
  assert.deepEqual(await got(3), ['A4', 'B4', 'C4'], 'stale ref dropped; C removed during 4 still had 4');
  send(JSON.stringify([null, null, ROOM, 'fast', { n: 5 }]));
  assert.deepEqual(await got(2), ['A5', 'B5']);
  await page.evaluate(() => { window.t.offA(); window.t.offB(); });
  send(JSON.stringify([null, null, ROOM, 'fast', { n: 6 }]));
  await stillWorks('after the fast-path listeners');
  assert.deepEqual(await page.evaluate(() => window.fast), [], 'no listener left');
  assert.equal(await errorCount(), errorsBefore, 'no error event');
});

test('list() after thousands of unread diffs (past the mirror\'s backlog) equals phoenix.js Presence on the same frames', async () => {
  // tether keeps list() as a JavaScript Map brought up to date when read; unread, it catches up
  // every 1,024 changes. Reads at a few points, including none for 3,000 diffs.
  const { Presence } = await import(join(repo, 'tests', 'node_modules', 'phoenix', 'priv', 'static', 'phoenix.mjs'));
  const pjr = server.joinRefs[PRES];
  const handlers = {};
  const oracle = new Presence({ on: (event, cb) => { handlers[event] = cb; }, joinRef: () => pjr });
  let rnd = 7;
  const next = (n) => { rnd = (rnd * 1103515245 + 12345) % 2147483648; return rnd % n; };
  const held = new Map(); // key -> refs, what the server thinks is present
  const state = {};
  for (let i = 0; i < 100; i++) {
    state[`lazy:${i}`] = { metas: [{ phx_ref: `s${i}`, n: i }] };
    held.set(`lazy:${i}`, [`s${i}`]);
  }
  let syncs = await page.evaluate(() => log.syncs);
  const deliver = async (event, payload, compare) => {
    send(JSON.stringify([event === 'presence_state' ? pjr : null, null, PRES, event, payload]));
    handlers[event](payload);
    syncs += 1;
    if (!compare) return;
    await page.waitForFunction((n) => log.syncs >= n, syncs, { timeout: 10_000 });
    const got = await page.evaluate(() => [window.t.presence.list((k, p) => [k, p]),
      window.t.presence.getSnapshot().length]);
    const want = oracle.list((k, p) => [k, p]);
    assert.deepEqual(got[0], want, `list() after ${syncs} presence frames`);
    assert.equal(got[1], want.length, 'getSnapshot() has as many entries');
  };
  await deliver('presence_state', state, true);
  let refs = 0;
  for (let d = 1; d <= 3_000; d++) {
    const key = `lazy:${next(160)}`;
    const present = held.get(key) ?? [];
    const joins = {};
    const leaves = {};
    if (present.length > 0 && next(2) === 0) {
      const ref = present[next(present.length)];
      leaves[key] = { metas: [{ phx_ref: ref }] };
      const rest = present.filter((r) => r !== ref);
      if (rest.length) held.set(key, rest); else held.delete(key);
    } else {
      const ref = `d${refs++}`;
      joins[key] = { metas: [{ phx_ref: ref, n: d }] };
      held.set(key, [...present, ref]);
    }
    await deliver('presence_diff', { joins, leaves }, d === 1 || d === 40 || d === 3_000);
  }
  assert.deepEqual(pageErrors, []);
});

test('heartbeats were answered throughout: one connection, no heartbeat timeout', async () => {
  // Two more heartbeat round trips after every bad input (heartbeatMs 2000: a missed reply would
  // be a heartbeat_timeout and a reconnect).
  const after = server.heartbeats;
  await waitFor(() => server.heartbeats >= after + 2, 'two heartbeats', 10_000);
  await stillWorks('end');
  const errors = await page.evaluate(() => log.errors.map((e) => e.code));
  assert.ok(!errors.includes('heartbeat_timeout'), `errors: ${errors}`);
  assert.equal(server.connections, 1, 'the client never had to reconnect');
  assert.equal(await page.evaluate(() => window.t.room.state), 'joined');
  assert.deepEqual(pageErrors, []);
});

async function waitFor(cond, what, ms = 5_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
