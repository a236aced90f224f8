// The server lost everything: a page's notification store holds 5 items, 2 of them unread; the
// demo server is SIGKILLed and restarted on the same port with an empty store (a fresh data
// directory, the same token secret, so the page's token stays valid). After the rejoin's `sync`
// (whose reply says `complete: true`) the store holds exactly the server's items — none — and
// its unread count is 0, with no item drawn as unread under an empty badge (issue 23).
//
// The page is served by the demo server itself; it is never reloaded, so it lives through the
// restart. Needs `pkg-template/build` and `cargo build -p tether-demo` first;
// run with `cd tests && node --test js/notifications_wipe.test.mjs`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemoServer, stopAll } from './lib/demo_server.mjs';
import { launchBrowser } from './lib/browser.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STEP_MS = 10_000;
const TEST_OPTS = { timeout: 45_000 };
const SECRET = 'the same key on both sides of the restart';

const PAGE = `<!doctype html><meta charset="utf-8"><title>wipe</title><link rel="icon" href="data:,">
<script type="module">
import init, { Socket } from './pkg/tether.js';
await init();
const q = new URLSearchParams(location.search);
const socket = new Socket('/socket', {
  authToken: q.get('token'),
  reconnect: { minMs: 100, maxMs: 500, jitter: 1 },
  timeoutMs: 5000,
});
socket.connect();
const store = socket.notifications(q.get('user'));
window.store = store;
window.view = () => {
  const s = store.getSnapshot();
  return {
    ids: s.items.map((n) => n.id),
    unreadIds: s.items.filter((n) => n.read_at === null).map((n) => n.id),
    unread: s.unreadCount,
    badge: s.badge,
    status: s.status,
  };
};
window.ready = true;
</script>`;

let dir;
let browser;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tether-wipe-'));
  cpSync(join(repo, 'demo', 'static', 'pkg'), join(dir, 'pkg'), { recursive: true });
  writeFileSync(join(dir, 'wipe.html'), PAGE);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function eventually(check, what, ms = STEP_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
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

async function serverState(server, user) {
  const res = await fetch(`${server.url}/api/notifications/${user}`);
  assert.equal(res.status, 200);
  return res.json();
}

test('the server restarts with an empty store: after the sync the page holds nothing and counts 0', TEST_OPTS, async (t) => {
  const dataA = mkdtempSync(join(tmpdir(), 'tether-wipe-a-'));
  const dataB = mkdtempSync(join(tmpdir(), 'tether-wipe-b-'));
  t.after(() => {
    rmSync(dataA, { recursive: true, force: true });
    rmSync(dataB, { recursive: true, force: true });
  });
  let server = await startDemoServer({ staticDir: dir, dataDir: dataA, secret: SECRET });
  const me = await postJson(server, '/api/session', { name: 'wiped' });
  for (let i = 0; i < 5; i++) {
    await postJson(server, '/api/notify', { user: me.user_id, kind: 'activity', title: `n ${i}` });
  }

  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  // The `sync` replies the page receives, to check what the server said.
  const syncRefs = new Set();
  const syncReplies = [];
  page.on('websocket', (ws) => {
    ws.on('framesent', ({ payload }) => {
      try {
        const f = JSON.parse(String(payload));
        if (Array.isArray(f) && f[3] === 'sync') syncRefs.add(f[1]);
      } catch { /* not JSON */ }
    });
    ws.on('framereceived', ({ payload }) => {
      try {
        const f = JSON.parse(String(payload));
        if (Array.isArray(f) && f[3] === 'phx_reply' && syncRefs.has(f[1])) syncReplies.push(f[4]);
      } catch { /* not JSON */ }
    });
  });
  const q = new URLSearchParams({ token: me.token, user: me.user_id });
  await page.goto(`${server.url}/wipe.html?${q}`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: STEP_MS });
  const view = () => page.evaluate(() => window.view());
  await eventually(async () => {
    const v = await view();
    return v.status === 'live' && v.ids.length === 5 && v.unread === 5;
  }, async () => `five held: ${JSON.stringify(await view())}`);
  // Three read: the store holds 5, 2 of them unread, and the server agrees.
  await page.evaluate(() => window.store.markRead(window.view().ids.slice(2)));
  await eventually(async () => (await serverState(server, me.user_id)).unread_count === 2, 'server count 2');
  let v = await view();
  assert.deepEqual({ held: v.ids.length, unread: v.unread, unreadIds: v.unreadIds.length }, { held: 5, unread: 2, unreadIds: 2 });

  // Killed, and back with an empty store (same port, same secret, a fresh data directory).
  process.kill(server.pid, 'SIGKILL');
  await server.stop();
  await eventually(async () => (await view()).status !== 'live', 'the store notices the server is gone');
  const repliesBefore = syncReplies.length;
  server = await startDemoServer({ port: server.port, staticDir: dir, dataDir: dataB, secret: SECRET });
  const empty = await serverState(server, me.user_id);
  assert.deepEqual({ total: empty.total, unread: empty.unread_count }, { total: 0, unread: 0 });

  await eventually(async () => syncReplies.length > repliesBefore && (await view()).status === 'live',
    async () => `rejoined and synced: ${JSON.stringify(await view())}`);
  const reply = syncReplies.at(-1);
  assert.equal(reply.status, 'ok', JSON.stringify(reply));
  assert.deepEqual(reply.response.recent, []);
  assert.equal(reply.response.complete, true, 'the server says the reply is everything it has');
  await eventually(async () => (await view()).ids.length === 0,
    async () => `the store holds exactly the server's items (none): ${JSON.stringify(await view())}`, 2_000);
  v = await view();
  assert.deepEqual(v, { ids: [], unreadIds: [], unread: 0, badge: '', status: 'live' });
  assert.deepEqual(problems, []);
  await page.close();
  await server.stop();
});
