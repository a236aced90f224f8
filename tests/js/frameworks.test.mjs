// Framework fit of the built package (target/npm/tether-realtime), in Chromium against the demo server:
// - Svelte 5: a real component compiled with svelte/compiler uses `$store` on the notification
//   store and `$presence` on the presence view (itself a Svelte store), and on a `readable`
//   wrapping onSync + list (with keys, the pattern an app might write); svelte/store's `get` and
//   `derived` work on the store.
// - React 19: `useSyncExternalStore(x.subscribe, x.getSnapshot)` on the notification store and
//   on the presence view (methods passed detached: they are bound) renders once per change of
//   the snapshot, not once per frame: frames that leave a snapshot alone (heartbeats, traffic on
//   another channel, toast notifications, which are not stored) cause no render and no store
//   callback; each stored notification and each presence change causes exactly one.
// The page is bundled with esbuild (JSX, Svelte's runtime, React) with "tether-realtime" left external
// and mapped by an import map to the package's dist files, served by the demo server.
//
// Needs `pkg-template/build` and `cargo build -p tether-demo` first;
// run with `cd tests && node --test js/frameworks.test.mjs`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { compile } from 'svelte/compiler';
import { startDemoServer, stopAll } from './lib/demo_server.mjs';
import { launchBrowser } from './lib/browser.mjs';
import { notify, preparePackagePage, signIn, testsDir } from './lib/package.mjs';

const STEP_MS = 10_000;

const BELL_SVELTE = `<script>
  let { store, people, presence } = $props();
</script>
<p id="s-badge">{$store.badge}</p>
<p id="s-unread">{$store.unreadCount}</p>
<p id="s-status">{$store.status}</p>
<ul id="s-items">{#each $store.items as n (n.id)}<li>{n.title}</li>{/each}</ul>
<ul id="s-people">{#each $people as p (p.key)}<li>{p.key}:{p.tabs}</li>{/each}</ul>
<p id="s-tabs">{$presence.map((p) => p.metas.length).join(",")}</p>
`;

const ENTRY_JSX = `
import init, { Socket } from "tether-realtime";
import { mount } from "svelte";
import { get, derived, readable } from "svelte/store";
import { useSyncExternalStore } from "react";
import { createRoot } from "react-dom/client";
import Bell from "./Bell.svelte.js";

await init();
const q = new URLSearchParams(location.search);
const t = (window.t = { renders: 0, rendered: [], presenceRenders: 0, presenceRendered: [], storeCalls: 0, pushed: [], badges: [], errors: [], others: [] });
const socket = new Socket(q.get("ws"), { authToken: q.get("token"), heartbeatMs: 250, reconnect: { minMs: 100, maxMs: 500 } });
socket.onError((e) => t.errors.push(e.code));
socket.connect();
const store = socket.notifications(q.get("user"), { cap: 50 });
store.onNotification((n) => t.pushed.push(n.kind));
store.subscribe(() => { t.storeCalls += 1; });
const room = socket.channel(q.get("room"), { name: q.get("name") });
const presence = room.presence({});

// Svelte: the presence list as a readable store (onSync + list); the notification store as is.
const rows = () => presence.list((key, p) => ({ key, tabs: p.metas.length }));
const people = readable(rows(), (set) => presence.onSync(() => set(rows())));
mount(Bell, { target: document.getElementById("svelte"), props: { store, people, presence } });
derived(store, (s) => s.badge).subscribe((b) => t.badges.push(b));
t.svelteGet = () => { const s = get(store); return { unread: s.unreadCount, badge: s.badge, items: s.items.length, same: s === store.getSnapshot() }; };
t.peopleGet = () => get(people);

// React: one component on useSyncExternalStore; every render is counted.
function Badge() {
  const snap = useSyncExternalStore(store.subscribe, store.getSnapshot);
  t.renders += 1;
  t.rendered.push(snap.unreadCount);
  return <span id="r-badge">{snap.badge}</span>;
}
function People() {
  const list = useSyncExternalStore(presence.subscribe, presence.getSnapshot);
  t.presenceRenders += 1;
  t.presenceRendered.push(list.length);
  return <span id="r-people">{list.length}</span>;
}
createRoot(document.getElementById("react")).render(<><Badge /><People /></>);

// A second socket joining the same room: someone else in the presence list.
t.addPeer = async (name) => {
  const other = new Socket(q.get("ws"), {});
  other.connect();
  const ch = other.channel(q.get("room"), { name });
  await ch.join();
  t.others.push(other);
};
t.echo = (n) => Promise.all(Array.from({ length: n }, (_, i) => room.push("echo", { i }, { timeoutMs: 5000 })));
t.store = store;
await room.join();
t.ready = true;
`;

const PAGE = (importMap) => `<!doctype html><meta charset="utf-8"><title>frameworks</title><link rel="icon" href="data:,">
${importMap}
<div id="svelte"></div><div id="react"></div>
<script type="module" src="/app.js"></script>`;

let dir;
let browser;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tether-frameworks-'));
  const page = preparePackagePage(dir);
  page.write('index.html', PAGE(page.importMap()));
  // Svelte component → JS in Node; then one esbuild bundle of the page (tether stays external).
  const { js, warnings } = compile(BELL_SVELTE, { filename: 'Bell.svelte', generate: 'client' });
  assert.deepEqual(warnings.map((w) => w.message), []);
  writeFileSync(join(dir, 'Bell.svelte.js'), js.code);
  writeFileSync(join(dir, 'entry.jsx'), ENTRY_JSX);
  await build({
    entryPoints: [join(dir, 'entry.jsx')],
    outfile: join(dir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    external: ['tether-realtime'],
    nodePaths: [join(testsDir, 'node_modules')],
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const text = (page, sel) => page.$eval(sel, (e) => e.textContent);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('Svelte $store and React useSyncExternalStore on the notification store and presence list', { timeout: 50_000 }, async () => {
  const server = await startDemoServer({ staticDir: dir });
  const ada = await signIn(server.url, 'ada');
  const room = `room:frameworks-${process.pid}`;
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
  const q = new URLSearchParams({ ws: server.wsUrl, token: ada.token, user: ada.user_id, name: 'ada', room });
  await page.goto(`${server.url}/index.html?${q}`);
  await page.waitForFunction(() => window.t?.ready === true && window.t.store.getSnapshot().status === 'live', null, { timeout: STEP_MS });

  // Svelte: the compiled component reads both stores with `$`.
  await page.waitForFunction(() => document.querySelector('#s-people')?.textContent.includes('ada:1'), null, { timeout: STEP_MS });
  assert.equal(await text(page, '#s-status'), 'live');
  assert.equal(await text(page, '#s-badge'), '');
  assert.equal(await text(page, '#r-badge'), '');
  await page.evaluate(() => window.t.addPeer('bob'));
  await page.waitForFunction(() => document.querySelector('#s-people').textContent.includes('bob:1'), null, { timeout: STEP_MS });
  assert.deepEqual(await page.evaluate(() => window.t.peopleGet()), [{ key: 'ada', tabs: 1 }, { key: 'bob', tabs: 1 }]);
  await page.waitForFunction(() => document.querySelector('#s-tabs').textContent === '1,1'
    && document.querySelector('#r-people').textContent === '2', null, { timeout: STEP_MS });

  // Frames that leave the snapshot alone: no render, no store callback.
  await sleep(300);
  const before = await page.evaluate(() => ({ renders: window.t.renders, storeCalls: window.t.storeCalls }));
  const presenceBefore = await page.evaluate(() => window.t.presenceRenders);
  await page.evaluate(() => window.t.echo(10));
  for (let i = 0; i < 3; i++) await notify(server.url, { user: ada.user_id, kind: 'toast', title: `toast ${i}` });
  await page.waitForFunction(() => window.t.pushed.filter((k) => k === 'toast').length === 3, null, { timeout: STEP_MS });
  await sleep(800); // a few heartbeats (every 250 ms) and their replies
  const quiet = await page.evaluate(() => ({ renders: window.t.renders, storeCalls: window.t.storeCalls }));
  assert.deepEqual(quiet, before, 'echo replies, heartbeats and toasts (not stored) change nothing');
  assert.equal(await page.evaluate(() => window.t.presenceRenders), presenceBefore, 'nor the presence list');

  // Each stored notification is one change: one store callback, one React render.
  for (let i = 1; i <= 3; i++) {
    await notify(server.url, { user: ada.user_id, kind: 'activity', title: `activity ${i}` });
    await page.waitForFunction((n) => document.querySelector('#r-badge').textContent === String(n), i, { timeout: STEP_MS });
    await sleep(150); // room for a second, redundant render to show up
  }
  const after3 = await page.evaluate(() => ({ renders: window.t.renders, storeCalls: window.t.storeCalls, rendered: window.t.rendered }));
  assert.equal(after3.renders - before.renders, 3, `renders per change: ${JSON.stringify(after3.rendered)}`);
  assert.equal(after3.storeCalls - before.storeCalls, 3, 'one store callback per change');
  assert.deepEqual(after3.rendered.slice(-3), [1, 2, 3]);

  // Svelte saw the same changes; svelte/store get and derived work on the store.
  assert.equal(await text(page, '#s-badge'), '3');
  assert.equal(await text(page, '#s-unread'), '3');
  assert.equal(await page.$$eval('#s-items li', (li) => li.map((e) => e.textContent).join('|')), 'activity 3|activity 2|activity 1');
  assert.deepEqual(await page.evaluate(() => window.t.svelteGet()), { unread: 3, badge: '3', items: 3, same: true });
  const badges = await page.evaluate(() => window.t.badges);
  assert.deepEqual(badges.slice(-4), ['', '1', '2', '3'], 'derived(store, s => s.badge) follows every change');

  // The methods are bound: called detached, markAllRead clears both views.
  await page.evaluate(() => { const { markAllRead } = window.t.store; markAllRead(); });
  await page.waitForFunction(() => document.querySelector('#r-badge').textContent === '' && document.querySelector('#s-badge').textContent === '', null, { timeout: STEP_MS });
  assert.equal(await page.evaluate(() => window.t.svelteGet().unread), 0);

  assert.equal(await page.evaluate(() => window.t.presenceRenders), presenceBefore, 'notifications leave the presence list alone');

  // A presence change (bob leaves) is one React render and reaches Svelte's $presence.
  await page.evaluate(() => window.t.others.forEach((s) => s.disconnect()));
  await page.waitForFunction(() => document.querySelector('#s-tabs').textContent === '1'
    && document.querySelector('#r-people').textContent === '1', null, { timeout: STEP_MS });
  await sleep(300);
  const presenceAfter = await page.evaluate(() => window.t.presenceRendered.slice(-2));
  assert.equal(await page.evaluate(() => window.t.presenceRenders), presenceBefore + 1, `one render for the leave: ${presenceAfter}`);
  assert.deepEqual(presenceAfter, [2, 1]);

  assert.deepEqual(pageErrors, []);
  assert.deepEqual(await page.evaluate(() => window.t.errors), []);
  await page.close();
  await server.stop();
});
