// The back-forward cache, for real: a page on the release build goes to another page and comes
// back. Chromium restores it from the cache (its JS state intact); the client closed its
// connection cleanly on `pagehide` (state "closed", not a lost connection waiting to retry) and
// connects again at once on `pageshow`, and its channel rejoins.
//
// Needs `./pkg-template/build` and `cargo build -p tether-demo` first (./tests/run does both).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageSitePerFile } from './lib/page_site.mjs';

const PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module">
import init, { Socket } from './pkg/tether.js';
await init();
window.marker = crypto.randomUUID();
window.log = [];
const socket = new Socket('/socket', { reconnect: { minMs: 2000, maxMs: 2000, jitter: 0 } });
socket.onState((s) => window.log.push({ state: s.state, t: performance.now() }));
window.channel = socket.channel('room:bfcache', { name: 'cached' });
addEventListener('pageshow', (e) => { window.shownAt = performance.now(); window.persisted = e.persisted; });
socket.connect();
await window.channel.join();
window.ready = true;
</script>`;

const site = pageSitePerFile({ 'a.html': PAGE, 'b.html': '<!doctype html><meta charset="utf-8"><title>elsewhere</title>elsewhere' }, { backForwardCache: true });

test('a page restored from the back-forward cache reconnects at once and rejoins', { timeout: 30_000 }, async () => {
  const page = await site.browser.newPage();
  await page.goto(`${site.server.url}/a.html`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 10_000 });
  const marker = await page.evaluate(() => window.marker);

  await page.goto(`${site.server.url}/b.html`);
  // While the page is away, the server no longer lists it.
  const listed = async () => Object.keys(await (await fetch(`${site.server.url}/api/presence/room:bfcache`)).json());
  for (let i = 0; i < 50 && (await listed()).length > 0; i += 1) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await listed(), [], 'the page left the room as it went away');

  // Back: restored from the cache (no `load`), so wait for the commit only.
  await page.goBack({ waitUntil: 'commit' });
  await page.waitForFunction(() => window.channel?.state === 'joined' && window.persisted === true, null, { timeout: 10_000 });
  const after = await page.evaluate(() => ({ marker: window.marker, log: window.log, shownAt: window.shownAt }));
  assert.equal(after.marker, marker, 'restored from the back-forward cache, not reloaded');
  const states = after.log.map((e) => e.state);
  assert.deepEqual(states, ['connecting', 'open', 'closed', 'connecting', 'open'],
    'closed on purpose when the page went away (not lost and waiting to retry), then connected again');
  // At once on pageshow, not after the 2 s reconnect delay.
  const reconnecting = after.log[3];
  assert.ok(reconnecting.t - after.shownAt < 500, `connecting ${Math.round(reconnecting.t - after.shownAt)} ms after pageshow`);
  assert.deepEqual(await listed(), ['cached'], 'back in the room');
  await page.close();
});
