// A socket's token and params from async functions, in a real page on the release build: the
// connect waits for them (the notifications topic admits only the token's user, so a store that
// goes live shows the token arrived); one that rejects is reported as connect_failed, opens no
// WebSocket, and is retried after the backoff until it succeeds.
//
// Needs `./pkg-template/build` and `cargo build -p tether-demo` first (./tests/run does both).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageSitePerFile } from './lib/page_site.mjs';

const PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module">
import init, { Socket } from './pkg/tether.js';
await init();
const q = new URLSearchParams(location.search);
window.calls = 0;
window.failFirst = Number(q.get('failFirst'));
window.hangFirst = q.get('hangFirst') === '1';
window.errors = [];
let settleLate = null;
const socket = new Socket('/socket', {
  // A token fetched asynchronously, as from a refresh endpoint; the first attempts fail, or the
  // first one hangs (and settles long after its connect timed out).
  authToken: async () => {
    window.calls += 1;
    if (window.hangFirst && window.calls === 1) {
      return new Promise((r) => { settleLate = () => r(q.get('token')); });
    }
    await new Promise((r) => setTimeout(r, 30));
    if (window.calls <= window.failFirst) throw new Error('token service down');
    return q.get('token');
  },
  timeoutMs: 800,
  params: () => Promise.resolve({ client: 'async' }),
  reconnect: { minMs: 100, maxMs: 100, jitter: 0 },
});
socket.onError((e) => window.errors.push({ code: e.code, message: e.message }));
window.store = socket.notifications(q.get('user'));
window.settleLate = () => settleLate?.();
socket.connect();
window.ready = true;
</script>`;

const site = pageSitePerFile({ 'p.html': PAGE });

async function signIn(name) {
  const res = await fetch(`${site.server.url}/api/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }),
    signal: AbortSignal.timeout(3000),
  });
  assert.equal(res.status, 200);
  return res.json();
}

for (const failFirst of [0, 2]) {
  test(`an async token${failFirst ? ` that fails ${failFirst} times` : ''} is waited for and reaches the server`, { timeout: 20_000 }, async () => {
    const { user_id: user, token } = await signIn(`async ${failFirst}`);
    const page = await site.browser.newPage();
    let sockets = 0;
    page.on('websocket', () => { sockets += 1; });
    await page.goto(`${site.server.url}/p.html?${new URLSearchParams({ user, token, failFirst })}`);
    await page.waitForFunction(() => window.store?.getSnapshot().status === 'live', null, { timeout: 10_000 });
    const { calls, errors } = await page.evaluate(() => ({ calls: window.calls, errors: window.errors }));
    assert.equal(calls, failFirst + 1, 'one token call per connect attempt');
    assert.equal(sockets, 1, 'no WebSocket was opened while the token failed');
    assert.deepEqual(errors.map((e) => e.code), Array(failFirst).fill('connect_failed'));
    for (const e of errors) assert.match(e.message, /token service down/);
    await page.close();
  });
}

test('a token promise that never settles times out the connect; the next attempt asks again', { timeout: 20_000 }, async () => {
  const { user_id: user, token } = await signIn('async hang');
  const page = await site.browser.newPage();
  let sockets = 0;
  page.on('websocket', () => { sockets += 1; });
  await page.goto(`${site.server.url}/p.html?${new URLSearchParams({ user, token, failFirst: 0, hangFirst: 1 })}`);
  await page.waitForFunction(() => window.store?.getSnapshot().status === 'live', null, { timeout: 10_000 });
  let seen = await page.evaluate(() => ({ calls: window.calls, errors: window.errors.map((e) => e.code) }));
  assert.match(await page.evaluate(() => window.errors[0].message), /did not open in time/);
  assert.equal(seen.calls, 2, 'asked again after the connect timed out');
  assert.deepEqual(seen.errors, ['connect_failed']);
  assert.equal(sockets, 1);
  // The first answer, long late: no second socket, nothing changes.
  await page.evaluate(() => window.settleLate());
  await new Promise((r) => setTimeout(r, 300));
  seen = await page.evaluate(() => ({ status: window.store.getSnapshot().status, errors: window.errors.length }));
  assert.deepEqual(seen, { status: 'live', errors: 1 });
  assert.equal(sockets, 1, 'a stale answer opens nothing');
  await page.close();
});
