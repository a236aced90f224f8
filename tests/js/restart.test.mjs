// The release build of the SDK in a real page (Debian Chromium via playwright-core) rides out a
// demo-server restart: it reports "waiting", reconnects within its schedule once the server is
// back, rejoins by itself (onJoin with rejoin: true) and its channel works again.
// Loading the release build in a page also catches a wasm-opt that silently breaks the module.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemoServer, stopAll } from './lib/demo_server.mjs';
import { launchBrowser } from './lib/browser.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAX_RETRY_MS = 1000;

const PAGE = `<!doctype html><meta charset="utf-8"><title>restart</title>
<script type="module">
import init, { Socket } from './pkg/tether.js';
await init();
const log = { states: [], joins: [], errors: [] };
window.log = log;
const socket = new Socket('/socket', { reconnect: { minMs: 100, maxMs: ${MAX_RETRY_MS}, jitter: 1 } });
socket.onState((s) => log.states.push({ ...s, t: Date.now() }));
socket.onError((e) => log.errors.push(e.code));
const channel = socket.channel('room:lobby', { name: 'restart-test' });
channel.onJoin((j) => log.joins.push({ rejoin: j.rejoin, t: Date.now() }));
socket.connect();
await channel.join();
window.tether = { socket, channel };
window.ready = true;
</script>`;

let dir;
let browser;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tether-restart-'));
  cpSync(join(repo, 'demo', 'static', 'pkg'), join(dir, 'pkg'), { recursive: true });
  writeFileSync(join(dir, 'restart.html'), PAGE);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

async function restartAndRejoin(page, server, how) {
  const joinsBefore = await page.evaluate(() => log.joins.length);
  if (how === 'kill') {
    process.kill(server.pid, 'SIGKILL');
  }
  await server.stop(); // SIGTERM (a graceful 1012 close) unless already killed
  await page.waitForFunction(() => log.states.at(-1).state === 'waiting' || log.states.at(-1).state === 'connecting', null, { timeout: 5000 });
  const next = await startDemoServer({ port: server.port, staticDir: dir });
  const backAt = Date.now();
  await page.waitForFunction((n) => log.joins.length > n, joinsBefore, { timeout: 10_000 });
  const { join, states } = await page.evaluate(() => ({ join: log.joins.at(-1), states: log.states }));
  assert.equal(join.rejoin, true, 'the join after a restart is reported as a rejoin');
  // Back within the schedule: at most the largest retry delay plus a generous margin for the
  // round trips on a loaded CI machine.
  assert.ok(join.t - backAt <= MAX_RETRY_MS + 1500, `rejoined ${join.t - backAt} ms after the server returned`);
  assert.ok(states.some((s) => s.state === 'waiting' && s.retryInMs <= MAX_RETRY_MS), 'a waiting state within the schedule was reported');
  assert.equal(states.at(-1).state, 'open');
  const reply = await page.evaluate(() => window.tether.channel.push('echo', { after: 'restart' }));
  assert.deepEqual(reply, { after: 'restart' });
  return next;
}

test('a page on the release build reconnects and rejoins after the server is killed and after a graceful restart', async () => {
  let server = await startDemoServer({ staticDir: dir });
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(`${server.url}/restart.html`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 10_000 });
  assert.equal(await page.evaluate(() => window.tether.channel.state), 'joined');

  server = await restartAndRejoin(page, server, 'kill');
  server = await restartAndRejoin(page, server, 'term');

  const errors = await page.evaluate(() => log.errors);
  assert.ok(!errors.includes('malformed_frame'), `no malformed frames: ${errors}`);
  assert.deepEqual(pageErrors, []);
  await page.close();
  await server.stop();
});
