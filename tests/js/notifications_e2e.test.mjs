// The notification store end to end: the release build in a real Chromium page against the demo
// server (SQLite), driven through its HTTP API (`POST /api/session`, `POST /api/notify`,
// `GET /api/notifications/<user>`).
//
// The test page is served by a small static server in Node (127.0.0.1, its own port), not by
// the demo server, so that a page can be (re)loaded while the demo server is down; its Socket
// points at the demo server's ws URL. Page parameters come in the query: ws, token, user.
//
// Needs `pkg-template/build` and `cargo build -p tether-demo` first;
// run with `cd tests && node --test js/notifications_e2e.test.mjs`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemoServer, stopAll } from './lib/demo_server.mjs';
import { launchBrowser } from './lib/browser.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STEP_MS = 10_000;
const TEST_OPTS = { timeout: 45_000 };

const PAGE = `<!doctype html><meta charset="utf-8"><title>notifications</title><link rel="icon" href="data:,">
<script type="module">
import init, { Socket } from './pkg/tether.js';
await init();
const q = new URLSearchParams(location.search);
const user = q.get('user');
window.errors = [];
window.pushed = [];
window.snapshots = 0;
const socket = new Socket(q.get('ws'), {
  authToken: q.get('token'),
  reconnect: { minMs: 100, maxMs: 500, jitter: 1 },
  timeoutMs: 5000,
});
socket.onError((e) => window.errors.push({ code: e.code, message: e.message }));
window.socket = socket;
socket.connect();
const store = socket.notifications(user);
window.store = store;
store.onNotification((n) => window.pushed.push(n));
store.subscribe(() => { window.snapshots += 1; });
window.view = () => {
  const s = store.getSnapshot();
  return {
    ids: s.items.map((n) => n.id),
    unread: s.unreadCount,
    badge: s.badge,
    status: s.status,
    readIds: s.items.filter((n) => n.read_at !== null).map((n) => n.id),
    kinds: s.items.map((n) => n.kind),
  };
};
window.socketStates = [];
socket.onState((s) => window.socketStates.push(s.state));
window.pending = () => localStorage.getItem('tether:notifications:' + user);
window.ready = true;
</script>`;

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.ts': 'text/plain; charset=utf-8',
};

let dir;
let browser;
let statik; // {server, url}

/** A static file server for `root` on 127.0.0.1, port 0. */
async function startStatic(root) {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = join(root, path);
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    let body;
    try {
      body = readFileSync(file);
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
    });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tether-notif-e2e-'));
  cpSync(join(repo, 'demo', 'static', 'pkg'), join(dir, 'pkg'), { recursive: true });
  writeFileSync(join(dir, 'notif.html'), PAGE);
  statik = await startStatic(dir);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopAll();
  if (statik) {
    statik.server.closeAllConnections?.();
    await new Promise((r) => statik.server.close(r));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` (async, returns truthy when done) until it holds; fails naming `what`. */
async function eventually(check, what, ms = STEP_MS) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${typeof what === 'function' ? await what() : what}`);
    await sleep(50);
  }
}

async function postJson(server, path, body) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  assert.equal(res.status, 200, `${path}: ${JSON.stringify(json)}`);
  return json;
}

/** `POST /api/session` → `{user_id, name, token, topic}`. */
const signIn = (server, name) => postJson(server, '/api/session', { name });

/** `POST /api/notify` → `{notification, delivered}`. */
const notify = (server, user, kind, title, body) =>
  postJson(server, '/api/notify', { user, kind, title, ...(body ? { body } : {}) });

/** `GET /api/notifications/<user>` → `{unread_count, total, items}` (newest first). */
async function serverState(server, user) {
  const res = await fetch(`${server.url}/api/notifications/${user}`);
  assert.equal(res.status, 200);
  return res.json();
}

function pageUrl(server, session) {
  const q = new URLSearchParams({ ws: server.wsUrl, token: session.token, user: session.user_id });
  return `${statik.url}/notif.html?${q}`;
}

/** A page signed in as `session`, its store live; records console errors and sent frames. */
async function openPage(server, session) {
  const page = await browser.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`console: ${m.text()}`); });
  // Every frame the page sends, over every WebSocket it opens (reloads included).
  page.sent = [];
  page.on('websocket', (ws) => {
    ws.on('framesent', ({ payload }) => {
      try { page.sent.push(JSON.parse(String(payload))); } catch { /* not JSON */ }
    });
  });
  await page.goto(pageUrl(server, session));
  await waitReady(page);
  await waitLive(page);
  return page;
}

async function waitReady(page) {
  await page.waitForFunction(() => window.ready === true, null, { timeout: STEP_MS });
}

async function waitLive(page) {
  await page.waitForFunction(() => window.view().status === 'live', null, { timeout: STEP_MS });
}

/** The store noticed the connection is gone. */
async function waitNotLive(page) {
  await eventually(async () => (await view(page)).status !== 'live', async () =>
    `store still live: ${JSON.stringify(await page.evaluate(() => ({ view: window.view(), states: window.socketStates, socket: window.socket.state })))}`);
}

const view = (page) => page.evaluate(() => window.view());

/** The page's count equals the server's (polled: pushes and replies may be in flight). */
async function countsAgree(page, server, user) {
  let pv;
  let sv;
  await eventually(async () => {
    pv = await view(page);
    sv = await serverState(server, user);
    return pv.status === 'live' && pv.unread === sv.unread_count;
  }, () => `page count ${pv?.unread} (${pv?.status}) vs server ${sv?.unread_count}`);
  return { pv, sv };
}

/** The ids of `mark_read` frames the page sent (V2 JSON: [join_ref, ref, topic, event, payload]). */
function markReadsSent(page) {
  return page.sent.filter((f) => Array.isArray(f) && f[3] === 'mark_read').flatMap((f) => f[4]?.ids ?? []);
}

function assertUnique(ids, what) {
  assert.equal(new Set(ids).size, ids.length, `${what}: duplicate ids in ${JSON.stringify(ids)}`);
}

/** Chromium logs each failed WebSocket connect while the server is down. */
const WS_REFUSED = /WebSocket connection to .* failed/;

// ---------------------------------------------------------------- tests

test('120 notifications: 50 held, count 120, badge 99+; markAllRead → 0 across a reload', TEST_OPTS, async () => {
  const server = await startDemoServer();
  const me = await signIn(server, 'many');
  // Half before the page loads (pulled by sync), half while it is live (pushed).
  for (let i = 0; i < 60; i++) await notify(server, me.user_id, 'activity', `before ${i}`);
  const page = await openPage(server, me);
  for (let i = 0; i < 60; i++) await notify(server, me.user_id, 'activity', `live ${i}`);

  const sv = await serverState(server, me.user_id);
  assert.equal(sv.unread_count, 120);
  assert.equal(sv.total, 120);
  await eventually(async () => (await view(page)).unread === 120, 'page count reaches 120');
  let v = await view(page);
  assert.equal(v.ids.length, 50, 'the store holds 50');
  assert.deepEqual(v.ids, sv.items.slice(0, 50).map((n) => n.id), 'the 50 newest, newest first');
  assertUnique(v.ids, 'store');
  assert.equal(v.unread, 120);
  assert.equal(v.badge, '99+');
  // Store contract: subscribe calls at once; getSnapshot is the same object until a change.
  const contract = await page.evaluate(() => {
    let calls = 0;
    const off = window.store.subscribe(() => { calls += 1; });
    off();
    return { calls, same: window.store.getSnapshot() === window.store.getSnapshot(), offIsFn: typeof off === 'function' };
  });
  assert.deepEqual(contract, { calls: 1, same: true, offIsFn: true });

  await page.evaluate(() => window.store.markAllRead());
  v = await view(page);
  assert.equal(v.unread, 0, 'applied at once');
  assert.equal(v.badge, '');
  assert.equal(v.readIds.length, 50, 'every held item shows read at once');
  await eventually(async () => (await serverState(server, me.user_id)).unread_count === 0, 'server count reaches 0');
  await countsAgree(page, server, me.user_id);

  await page.reload();
  await waitReady(page);
  await waitLive(page);
  v = await view(page);
  assert.equal(v.unread, 0, 'still 0 after a reload');
  assert.equal(v.badge, '');
  assert.equal(v.ids.length, 50);
  assert.equal(v.readIds.length, 50, 'every held item is read');
  const after = await serverState(server, me.user_id);
  assert.equal(after.unread_count, 0, 'the server agrees');
  assert.ok(after.items.every((n) => n.read_at !== null), 'every stored notification is read');
  assert.deepEqual(page.problems, []);
  await page.close();
  await server.stop();
});

test('markRead of several ids: one mark_read, read here at once and on the server', TEST_OPTS, async () => {
  const server = await startDemoServer();
  const me = await signIn(server, 'batch');
  for (let i = 0; i < 5; i++) await notify(server, me.user_id, 'activity', `n ${i}`);
  const page = await openPage(server, me);
  await eventually(async () => (await view(page)).unread === 5, 'page count reaches 5');
  const ids = (await view(page)).ids.slice(0, 3);
  await page.evaluate((xs) => window.store.markRead([...xs, xs[0], 'not-held']), ids);
  const v = await view(page);
  assert.equal(v.unread, 2, 'applied at once');
  assert.deepEqual(v.readIds.slice().sort(), ids.slice().sort());
  await countsAgree(page, server, me.user_id);
  const sv = await serverState(server, me.user_id);
  assert.deepEqual(sv.items.filter((n) => n.read_at !== null).map((n) => n.id).sort(), ids.slice().sort());
  const sent = page.sent.filter((f) => Array.isArray(f) && f[3] === 'mark_read');
  assert.equal(sent.length, 1, 'one push');
  assert.deepEqual(sent[0][4].ids, ids, 'the held, unread ids once each');
  // Anything but an id or an array of ids is refused, and nothing is sent.
  const refused = await page.evaluate(() => {
    try { window.store.markRead([1, 2]); return null; } catch (e) { return e.code; }
  });
  assert.equal(refused, 'invalid_payload');
  assert.deepEqual(page.problems, []);
  await page.close();
  await server.stop();
});

test('offline while 10 are created: each held exactly once, count equals the server', TEST_OPTS, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tether-notif-data-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  t.after(() => browser.context.setOffline(false));
  let server = await startDemoServer({ dataDir });
  const me = await signIn(server, 'offline');
  await notify(server, me.user_id, 'activity', 'earlier');
  const page = await openPage(server, me);
  await eventually(async () => (await view(page)).unread === 1, 'first notification');
  const created = [];

  // Round 1: offline emulation alone. Chromium keeps the open WebSocket open (the server
  // still delivers to it) and holds its incoming frames until the page is back online.
  await browser.context.setOffline(true);
  await page.waitForFunction(() => navigator.onLine === false, null, { timeout: STEP_MS });
  for (let i = 0; i < 10; i++) {
    const { notification, delivered } = await notify(server, me.user_id, 'activity', `offline A${i}`);
    if (i === 0) t.diagnostic(`round 1: under offline emulation the server still delivers to ${delivered} connection(s)`);
    created.push(notification.id);
  }
  await sleep(300);
  let v = await view(page);
  assert.ok(created.every((id) => !v.ids.includes(id)), 'nothing reaches the page while it is offline');
  await browser.context.setOffline(false);
  await eventually(async () => {
    const pv = await view(page);
    return pv.status === 'live' && created.every((id) => pv.ids.includes(id));
  }, async () => `round 1: all 10 arrive: ${JSON.stringify(await view(page))}`);
  const agreed = await countsAgree(page, server, me.user_id);
  assertUnique(agreed.pv.ids, 'round 1');
  assert.equal(agreed.sv.unread_count, 11);

  // Round 2: offline, and the server drops the connection (restart on the same port and data
  // dir) so the 10 are missed and must come from the sync on rejoin. One more ("probe") is
  // delivered to the held socket before the restart, so it arrives twice: pushed, then synced.
  await browser.context.setOffline(true);
  await page.waitForFunction(() => navigator.onLine === false, null, { timeout: STEP_MS });
  const probe = await notify(server, me.user_id, 'activity', 'probe while offline');
  t.diagnostic(`round 2: the probe was delivered to ${probe.delivered} connection(s) before the restart`);
  created.push(probe.notification.id);
  await server.stop();
  server = await startDemoServer({ port: server.port, dataDir });
  for (let i = 0; i < 10; i++) {
    const { notification, delivered } = await notify(server, me.user_id, 'activity', `offline B${i}`);
    assert.equal(delivered, 0, 'the offline page is not connected to the new server');
    created.push(notification.id);
  }
  await sleep(300);
  v = await view(page);
  assert.ok(created.slice(10).every((id) => !v.ids.includes(id)), 'nothing new reaches the page while it is offline');

  await browser.context.setOffline(false);
  await eventually(async () => {
    const pv = await view(page);
    return pv.status === 'live' && created.every((id) => pv.ids.includes(id));
  }, async () => `round 2: all present after reconnect: ${JSON.stringify(await view(page))}`);
  const { pv, sv } = await countsAgree(page, server, me.user_id);
  assertUnique(pv.ids, 'store');
  assert.deepEqual(pv.ids, sv.items.map((n) => n.id), 'exactly the server\'s items, newest first');
  assert.equal(sv.unread_count, 22);
  assert.equal(pv.unread, 22);
  assert.equal(pv.badge, '22');
  const states = await page.evaluate(() => window.socketStates);
  assert.ok(states.filter((s) => s === 'open').length >= 2, `reconnected: ${states}`);
  assert.deepEqual(page.problems.filter((p) => !WS_REFUSED.test(p)), []);
  await page.close();
  await server.stop();
});

test('server restarts (SIGTERM, then SIGKILL): nothing lost, the client agrees', TEST_OPTS, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tether-notif-data-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  let server = await startDemoServer({ dataDir });
  const me = await signIn(server, 'restart');
  const page = await openPage(server, me);
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await notify(server, me.user_id, 'alert', `alert ${i}`)).notification.id);
  await eventually(async () => (await view(page)).unread === 5, 'five alerts');
  await page.evaluate((id) => window.store.markRead(id), ids[0]);
  await eventually(async () => (await serverState(server, me.user_id)).unread_count === 4, 'read confirmed');
  const before = await serverState(server, me.user_id);

  for (const how of ['SIGTERM', 'SIGKILL']) {
    if (how === 'SIGKILL') process.kill(server.pid, 'SIGKILL');
    const exit = await server.stop();
    assert.deepEqual(exit, how === 'SIGKILL' ? { code: null, signal: 'SIGKILL' } : { code: 0, signal: null }, how);
    await waitNotLive(page);
    server = await startDemoServer({ port: server.port, dataDir });
    const back = await serverState(server, me.user_id);
    assert.deepEqual(
      back.items.map((n) => [n.id, n.read_at !== null]),
      before.items.map((n) => [n.id, n.read_at !== null]),
      `${how}: every notification and read survives`,
    );
    await waitLive(page);
    // One more after the restart: pushed to the rejoined page.
    const n = (await notify(server, me.user_id, 'activity', `after ${how}`)).notification;
    ids.push(n.id);
    const { pv, sv } = await countsAgree(page, server, me.user_id);
    await eventually(async () => (await view(page)).ids[0] === n.id, `${how}: pushed after restart`);
    assertUnique(pv.ids, how);
    assert.deepEqual((await view(page)).ids, sv.items.map((x) => x.id), `${how}: the page holds the server's items`);
    before.items = sv.items;
  }
  // A read made while the server is down (no reload): sent once after it returns.
  await server.stop();
  await waitNotLive(page);
  await page.evaluate((id) => window.store.markRead(id), ids[1]);
  assert.equal((await view(page)).unread, 5, 'applied at once');
  server = await startDemoServer({ port: server.port, dataDir });
  await waitLive(page);
  await eventually(async () => (await serverState(server, me.user_id)).items.find((n) => n.id === ids[1])?.read_at != null,
    'the read made while down reaches the server');
  const final = (await countsAgree(page, server, me.user_id)).sv;
  assert.equal(final.total, 7);
  assert.equal(final.unread_count, 5);
  assert.equal((await view(page)).unread, 5);
  await sleep(200);
  assert.deepEqual(markReadsSent(page).filter((id) => id === ids[1]), [ids[1]], 'sent exactly once');
  assert.deepEqual(page.problems.filter((p) => !WS_REFUSED.test(p)), []);
  await page.close();
  await server.stop();
});

test('a read made while the server is down survives a reload and is applied once after it returns', TEST_OPTS, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tether-notif-data-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  let server = await startDemoServer({ dataDir });
  const me = await signIn(server, 'pending');
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await notify(server, me.user_id, 'activity', `n ${i}`)).notification.id);
  const page = await openPage(server, me);
  await eventually(async () => (await view(page)).unread === 3, 'three unread');
  const target = ids[1];

  await server.stop();
  await waitNotLive(page);
  await page.evaluate((id) => window.store.markRead(id), target);
  let v = await view(page);
  assert.equal(v.unread, 2, 'applied at once while the server is down');
  assert.ok(v.readIds.includes(target));
  const stored = await page.evaluate(() => window.pending());
  assert.ok(stored && stored.includes(target), `the pending read is in localStorage: ${stored}`);

  // Reload while the server is still down (the page itself comes from the static server).
  await page.reload();
  await waitReady(page);
  await sleep(300);
  const storedAfterReload = await page.evaluate(() => window.pending());
  assert.ok(storedAfterReload && storedAfterReload.includes(target), `still pending after the reload: ${storedAfterReload}`);
  assert.deepEqual(markReadsSent(page), [], 'nothing sent while the server was down');

  server = await startDemoServer({ port: server.port, dataDir });
  await waitLive(page);
  await eventually(async () => {
    const s = await serverState(server, me.user_id);
    return s.items.find((n) => n.id === target)?.read_at != null;
  }, 'the server applies the pending read');
  const { pv, sv } = await countsAgree(page, server, me.user_id);
  assert.equal(sv.unread_count, 2);
  assert.equal(pv.unread, 2);
  assert.deepEqual(sv.items.filter((n) => n.read_at !== null).map((n) => n.id), [target], 'only that one is read');
  assert.ok(pv.readIds.includes(target));
  await eventually(async () => (await page.evaluate(() => window.pending())) === null, 'the pending read is cleared once confirmed');
  const readAt = sv.items.find((n) => n.id === target).read_at;

  // Another reload: nothing is sent again, and the state holds.
  await page.reload();
  await waitReady(page);
  await waitLive(page);
  await sleep(300);
  assert.deepEqual(markReadsSent(page), [target], 'the read was sent exactly once, across both reloads');
  const again = await serverState(server, me.user_id);
  assert.equal(again.items.find((n) => n.id === target).read_at, readAt);
  assert.equal((await view(page)).unread, again.unread_count);
  assert.deepEqual(page.problems.filter((p) => !WS_REFUSED.test(p)), []);
  await page.close();
  await server.stop();
});

test('user A cannot join user B\'s topic; a toast reaches onNotification but is not stored', TEST_OPTS, async () => {
  const server = await startDemoServer();
  const a = await signIn(server, 'alice');
  const b = await signIn(server, 'bob');
  const page = await openPage(server, a);

  const refused = await page.evaluate(async (topic) => {
    const channel = window.socket.channel(topic);
    try {
      const reply = await channel.join();
      return { joined: reply };
    } catch (err) {
      return { isError: err instanceof Error, code: err.code, status: err.status, response: err.response };
    } finally {
      channel.leave().catch(() => {});
    }
  }, `user:${b.user_id}:notifications`);
  assert.equal(refused.joined, undefined, `joined B's topic: ${JSON.stringify(refused)}`);
  assert.equal(refused.isError, true);
  assert.equal(refused.code, 'error');
  assert.equal(refused.response?.reason, 'unauthorized');

  // B's notifications never reach A.
  await notify(server, b.user_id, 'activity', 'for bob');
  // A toast: to listeners only.
  const toast = (await notify(server, a.user_id, 'toast', 'hello toast', 'body')).notification;
  await eventually(async () => (await page.evaluate(() => window.pushed.length)) >= 1, 'the toast reaches onNotification');
  const pushed = await page.evaluate(() => window.pushed);
  assert.deepEqual(pushed.map((n) => [n.id, n.kind, n.title]), [[toast.id, 'toast', 'hello toast']]);
  const alert = (await notify(server, a.user_id, 'alert', 'an alert')).notification;
  await eventually(async () => (await view(page)).ids.includes(alert.id), 'the alert is stored');
  const v = await view(page);
  assert.deepEqual(v.ids, [alert.id], 'the toast is not stored');
  assert.equal(v.unread, 1, 'nor counted');
  assert.equal((await serverState(server, a.user_id)).unread_count, 1);
  // transient: like a toast; system: stored but not counted.
  const transient = (await notify(server, a.user_id, 'transient', 'typing')).notification;
  const system = (await notify(server, a.user_id, 'system', 'maintenance')).notification;
  await eventually(async () => (await view(page)).ids.includes(system.id), 'the system notification is stored');
  const kinds = await page.evaluate(() => window.pushed.map((n) => n.kind));
  assert.deepEqual(kinds, ['toast', 'alert', 'transient', 'system'], 'every pushed kind reaches onNotification');
  const w = await view(page);
  assert.deepEqual(w.ids, [system.id, alert.id], `transient ${transient.id} not stored`);
  assert.equal(w.unread, 1, 'system is not counted');
  assert.equal(w.badge, '1');
  assert.equal((await serverState(server, a.user_id)).unread_count, 1);
  assert.deepEqual(page.problems, []);
  await page.close();
  await server.stop();
});

test('markAllRead while the server is down leaves what arrives meanwhile unread, with and without a reload', TEST_OPTS, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tether-notif-data-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  t.after(() => browser.context.setOffline(false));
  let server = await startDemoServer({ dataDir });
  const results = {};
  for (const reload of [false, true]) {
    const me = await signIn(server, reload ? 'allread-reload' : 'allread');
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push((await notify(server, me.user_id, 'activity', `seen ${i}`)).notification.id);
    const page = await openPage(server, me);
    await eventually(async () => (await view(page)).unread === 3, 'three unread');

    await server.stop();
    await waitNotLive(page);
    await page.evaluate(() => window.store.markAllRead());
    assert.equal((await view(page)).unread, 0, 'applied at once');
    assert.ok(await page.evaluate(() => window.pending()), 'the pending markAllRead is persisted');
    if (reload) {
      await page.reload();
      await waitReady(page);
      assert.ok(await page.evaluate(() => window.pending()), 'still pending after the reload');
    }
    // The page stays away (offline) while the server returns and creates one it never saw.
    await browser.context.setOffline(true);
    await page.waitForFunction(() => navigator.onLine === false, null, { timeout: STEP_MS });
    server = await startDemoServer({ port: server.port, dataDir });
    const unseen = (await notify(server, me.user_id, 'activity', 'created after markAllRead')).notification;
    await browser.context.setOffline(false);
    await waitLive(page);
    await eventually(async () => (await page.evaluate(() => window.pending())) === null, 'the markAllRead is confirmed');
    const { pv, sv } = await countsAgree(page, server, me.user_id);
    const readOnServer = sv.items.filter((n) => n.read_at !== null).map((n) => n.id).sort();
    results[reload ? 'reload' : 'no reload'] = {
      seenRead: seen.every((id) => readOnServer.includes(id)),
      unseenUnread: !readOnServer.includes(unseen.id),
      serverUnread: sv.unread_count,
      pageUnread: pv.unread,
      sent: page.sent.filter((f) => Array.isArray(f) && f[3] === 'mark_all_read').map((f) => f[4]),
    };
    await page.close();
  }
  await server.stop();
  t.diagnostic(`markAllRead sent: ${JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.sent])))}`);
  // The one created after markAllRead was never seen: it stays unread (docs/notifications.md: `until`, "the
  // newest id the user saw; newer ones stay unread"), also when the read was carried across a
  // reload in localStorage.
  for (const [k, r] of Object.entries(results)) {
    assert.deepEqual(
      { seenRead: r.seenRead, unseenUnread: r.unseenUnread, serverUnread: r.serverUnread, pageUnread: r.pageUnread },
      { seenRead: true, unseenUnread: true, serverUnread: 1, pageUnread: 1 },
      `${k}: ${JSON.stringify(r)}`,
    );
  }
});

test('two tabs of one user: reads reach the other tab; markAllRead up to what one tab saw leaves a newer one unread in both', TEST_OPTS, async () => {
  const server = await startDemoServer();
  const me = await signIn(server, 'two tabs');
  const seen = [];
  for (let i = 0; i < 3; i++) seen.push((await notify(server, me.user_id, 'activity', `seen ${i}`)).notification.id);
  const a = await openPage(server, me);
  const b = await openPage(server, me);
  for (const p of [a, b]) await eventually(async () => (await view(p)).unread === 3, 'three unread in each tab');

  // One read in tab A shows in tab B (the server's notification:read).
  await a.evaluate((id) => window.store.markRead(id), seen[0]);
  await eventually(async () => {
    const v = await view(b);
    return v.unread === 2 && v.readIds.includes(seen[0]);
  }, async () => `tab B: ${JSON.stringify(await view(b))}`);

  // Tab A presses "mark all read" while disconnected: it has seen three. Meanwhile a fourth is
  // created, which tab B receives. When tab A returns, the server marks up to the third only,
  // and tells tab B so (notification:all_read with `until`).
  await a.evaluate(() => window.socket.disconnect());
  await waitNotLive(a);
  await a.evaluate(() => window.store.markAllRead());
  const newer = (await notify(server, me.user_id, 'alert', 'newer than what tab A saw')).notification;
  await eventually(async () => (await view(b)).ids.includes(newer.id), 'tab B receives the newer one');
  await a.evaluate(() => window.socket.connect());
  await waitLive(a);
  await eventually(async () => (await a.evaluate(() => window.pending())) === null, 'tab A\'s markAllRead is confirmed');
  const sent = a.sent.filter((f) => Array.isArray(f) && f[3] === 'mark_all_read').map((f) => f[4]);
  assert.deepEqual(sent, [{ until: seen[2] }], 'until: the newest tab A had seen');

  const sv = await serverState(server, me.user_id);
  assert.equal(sv.unread_count, 1);
  assert.deepEqual(sv.items.filter((n) => n.read_at === null).map((n) => n.id), [newer.id]);
  for (const [name, p] of [['A', a], ['B', b]]) {
    await eventually(async () => {
      const v = await view(p);
      return v.unread === 1 && v.ids.length === 4 && v.readIds.length === 3;
    }, async () => `tab ${name}: ${JSON.stringify(await view(p))}`);
    const v = await view(p);
    assert.deepEqual(v.readIds.sort(), [...seen].sort(), `tab ${name}: the three seen are read`);
    assert.ok(!v.readIds.includes(newer.id), `tab ${name}: the newer one stays unread`);
    assert.deepEqual(p.problems, [], `tab ${name}: no page errors`);
  }
  await a.close();
  await b.close();
  await server.stop();
});
