// A socket's token and params from async functions, in a real page on the release build: the
// connect waits for them (the notifications topic admits only the token's user, so a store that
// goes live shows the token arrived); one that rejects is reported as connect_failed, opens no
// WebSocket, and is retried after the backoff until it succeeds.
//
// Needs `./pkg-template/build` and `cargo build -p tether-demo` first (./tests/run does both).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPageSite } from './lib/page_site.mjs';

const PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module">
import init, { Socket } from './pkg/tether.js';
await init();
const q = new URLSearchParams(location.search);
window.calls = 0;
window.failFirst = Number(q.get('failFirst'));
window.errors = [];
const socket = new Socket('/socket', {
  // A token fetched asynchronously, as from a refresh endpoint; the first attempts fail.
  authToken: async () => {
    window.calls += 1;
    await new Promise((r) => setTimeout(r, 30));
    if (window.calls <= window.failFirst) throw new Error('token service down');
    return q.get('token');
  },
  params: () => Promise.resolve({ client: 'async' }),
  reconnect: { minMs: 100, maxMs: 100, jitter: 0 },
});
socket.onError((e) => window.errors.push({ code: e.code, message: e.message }));
window.store = socket.notifications(q.get('user'));
socket.connect();
window.ready = true;
</script>`;

let site;
let server;
let browser;

before(async () => {
  site = await openPageSite({ 'p.html': PAGE }, {});
  ({ server, browser } = site);
});

after(async () => {
  await site?.close();
});

async function signIn(name) {
  const res = await fetch(`${server.url}/api/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }),
    signal: AbortSignal.timeout(3000),
  });
  assert.equal(res.status, 200);
  return res.json();
}

for (const failFirst of [0, 2]) {
  test(`an async token${failFirst ? ` that fails ${failFirst} times` : ''} is waited for and reaches the server`, { timeout: 20_000 }, async () => {
    const { user_id: user, token } = await signIn(`async ${failFirst}`);
    const page = await browser.newPage();
    let sockets = 0;
    page.on('websocket', () => { sockets += 1; });
    await page.goto(`${server.url}/p.html?${new URLSearchParams({ user, token, failFirst })}`);
    await page.waitForFunction(() => window.store?.getSnapshot().status === 'live', null, { timeout: 10_000 });
    const { calls, errors } = await page.evaluate(() => ({ calls: window.calls, errors: window.errors }));
    assert.equal(calls, failFirst + 1, 'one token call per connect attempt');
    assert.equal(sockets, 1, 'no WebSocket was opened while the token failed');
    assert.deepEqual(errors.map((e) => e.code), Array(failFirst).fill('connect_failed'));
    for (const e of errors) assert.match(e.message, /token service down/);
    await page.close();
  });
}
