// Presence across a demo-server restart, in two real pages on the release build: both resync,
// list() equals the server's view, and with a leave grace window the keys that came back report
// neither a leave nor a fresh join (no flicker).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemoServer, stopAll } from './lib/demo_server.mjs';
import { launchBrowser } from './lib/browser.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ROOM = 'room:restart-presence';

const PAGE = `<!doctype html><meta charset="utf-8"><title>presence</title>
<script type="module">
import init, { Socket } from './pkg/tether.js';
await init();
const name = new URLSearchParams(location.search).get('name');
const log = { joins: [], leaves: [], syncs: 0 };
window.log = log;
const socket = new Socket('/socket', { reconnect: { minMs: 100, maxMs: 500, jitter: 1 } });
const channel = socket.channel('${ROOM}', { name });
const presence = channel.presence({ leaveGraceMs: 5000 });
presence.onJoin((key, current) => log.joins.push({ key, fresh: current === undefined }));
presence.onLeave((key, remaining) => log.leaves.push({ key, gone: remaining.metas.length === 0 }));
presence.onSync(() => { log.syncs += 1; });
socket.connect();
await channel.join();
window.view = () => presence.list((key, p) => [key, p.metas.length]);
window.ready = true;
</script>`;

let dir;
let browser;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tether-presence-'));
  cpSync(join(repo, 'demo', 'static', 'pkg'), join(dir, 'pkg'), { recursive: true });
  writeFileSync(join(dir, 'presence.html'), PAGE);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

async function serverView(server) {
  const res = await fetch(`${server.url}/api/presence/${encodeURIComponent(ROOM)}`);
  const state = await res.json();
  return Object.entries(state).map(([key, p]) => [key, p.metas.length]);
}

test('two pages resync presence after a restart without flicker', async () => {
  let server = await startDemoServer({ staticDir: dir });
  const pages = [];
  for (const name of ['ada', 'grace']) {
    const page = await browser.newPage();
    await page.goto(`${server.url}/presence.html?name=${name}`);
    await page.waitForFunction(() => window.ready === true, null, { timeout: 10_000 });
    pages.push(page);
  }
  for (const page of pages) {
    await page.waitForFunction(() => window.view().length === 2, null, { timeout: 5000 });
  }
  assert.deepEqual(await pages[0].evaluate(() => window.view()), await serverView(server));
  const marks = await Promise.all(pages.map((p) => p.evaluate(() => ({ j: log.joins.length, l: log.leaves.length }))));

  await server.stop(); // graceful: the server closes every socket with 1012
  server = await startDemoServer({ port: server.port, staticDir: dir });

  // Both pages come back; their lists match the server's (2 keys, 1 tab each).
  for (const page of pages) {
    await page.waitForFunction(async () => window.view().length === 2 && window.view().every(([, n]) => n === 1), null, { timeout: 10_000 });
  }
  let expected = await serverView(server);
  for (let i = 0; i < 50 && expected.length < 2; i++) {
    await new Promise((r) => setTimeout(r, 100));
    expected = await serverView(server);
  }
  assert.equal(expected.length, 2);
  for (const page of pages) {
    const view = await page.evaluate(() => window.view());
    assert.deepEqual([...view].sort(), [...expected].sort());
  }
  // No key vanished and reappeared: no leave that emptied a key, no join of an absent key.
  for (const [i, page] of pages.entries()) {
    const { joins, leaves } = await page.evaluate(() => log);
    const after = { joins: joins.slice(marks[i].j), leaves: leaves.slice(marks[i].l) };
    assert.deepEqual(after.leaves.filter((l) => l.gone), [], `page ${i}: no key left: ${JSON.stringify(after)}`);
    assert.deepEqual(after.joins.filter((j) => j.fresh), [], `page ${i}: no key joined afresh: ${JSON.stringify(after)}`);
  }
  for (const page of pages) await page.close();
  await server.stop();
});
