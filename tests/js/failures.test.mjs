// Failures speak, in a real page on the release build: a dead server, an upgrade refused with
// 403 (what Phoenix answers a bad token), a token the demo server refuses (it accepts the upgrade
// and closes with 4401), a notification store whose join is refused, and calls after
// `socket.free()`. Each reaches the app as an Error with a code, the attempt, the close code and
// when the next attempt is due.
//
// Needs `./pkg-template/build` and `cargo build -p tether-demo` first (./tests/run does both).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { pageSitePerFile } from './lib/page_site.mjs';

const PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module">
import init, { Socket } from './pkg/tether.js';
await init();
window.Socket = Socket;
// A socket that records what it tells the app.
window.watch = (url, options) => {
  const socket = new Socket(url, options);
  const log = { errors: [], telemetry: [], states: [] };
  socket.onError((e) => log.errors.push({ code: e.code, message: e.message, attempt: e.attempt,
    closeCode: e.closeCode, closeReason: e.closeReason, retryInMs: e.retryInMs, topic: e.topic,
    response: e.response }));
  socket.onTelemetry((t) => log.telemetry.push(t));
  socket.onState((s) => log.states.push(s.state));
  return { socket, log };
};
window.ready = true;
</script>`;

const site = pageSitePerFile({ 'p.html': PAGE }, { exposeGc: true });

async function openPage() {
  const page = await site.browser.newPage();
  await page.goto(`${site.server.url}/p.html`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 10_000 });
  return page;
}

async function signIn(name) {
  const res = await fetch(`${site.server.url}/api/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }),
    signal: AbortSignal.timeout(3000),
  });
  assert.equal(res.status, 200);
  return res.json();
}

/** A loopback port nothing listens on (bound, then closed). */
async function deadPort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

test('a dead server: every failed attempt reaches onError with its number, close code and delay', { timeout: 20_000 }, async () => {
  const port = await deadPort();
  const page = await openPage();
  await page.evaluate((url) => {
    window.w = window.watch(url, { reconnect: { minMs: 100, maxMs: 400, jitter: 0 } });
    window.w.socket.connect();
  }, `ws://127.0.0.1:${port}/socket`);
  await page.waitForFunction(() => window.w.log.errors.length >= 4, null, { timeout: 10_000 });
  const log = await page.evaluate(() => { window.w.socket.disconnect(); return window.w.log; });
  const errors = log.errors.slice(0, 4);
  assert.deepEqual(errors.map((e) => e.code), Array(4).fill('connect_failed'));
  assert.deepEqual(errors.map((e) => e.attempt), [1, 2, 3, 4]);
  assert.deepEqual(errors.map((e) => e.closeCode), [1006, 1006, 1006, 1006]);
  assert.deepEqual(errors.map((e) => e.retryInMs), [100, 200, 400, 400]);
  assert.match(errors[0].message, /^connect attempt 1 failed: .*check that the server is up.*retrying in 100 ms$/);
  // Telemetry calls them failed connects, not disconnects.
  const events = log.telemetry.map((t) => t.event);
  assert.ok(events.includes('connect_failed'), events.join());
  assert.ok(!events.includes('disconnect') || events.indexOf('disconnect') > events.lastIndexOf('connect_failed'),
    'no disconnect for an attempt that never opened');
  assert.ok(!log.states.includes('open'));
  await page.close();
});

test('an upgrade refused with 403 (as Phoenix refuses a bad token) is a failed connect', { timeout: 20_000 }, async () => {
  let upgrades = 0;
  const server = createServer((req, res) => { res.writeHead(404).end(); });
  server.on('upgrade', (req, socket) => {
    upgrades += 1;
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const page = await openPage();
  try {
    await page.evaluate((url) => {
      window.w = window.watch(url, { reconnect: { minMs: 100, maxMs: 100, jitter: 0 } });
      window.w.socket.connect();
    }, `ws://127.0.0.1:${server.address().port}/socket`);
    await page.waitForFunction(() => window.w.log.errors.length >= 2, null, { timeout: 10_000 });
    const log = await page.evaluate(() => { window.w.socket.disconnect(); return window.w.log; });
    assert.deepEqual(log.errors.slice(0, 2).map((e) => [e.code, e.attempt, e.closeCode]),
      [['connect_failed', 1, 1006], ['connect_failed', 2, 1006]]);
    assert.ok(upgrades >= 2, 'the server saw the attempts');
  } finally {
    await page.close();
    await new Promise((r) => server.close(r));
  }
});

test('a refused token: closed with 4401, reported as unauthorized, retried at maxMs with a fresh token', { timeout: 25_000 }, async () => {
  const { user_id: user, token } = await signIn('refused token');
  const page = await openPage();
  await page.evaluate(({ user, token }) => {
    window.calls = 0;
    window.w = window.watch('/socket', {
      // The first token is forged; the app's token function is asked again at every attempt.
      authToken: () => (++window.calls === 1 ? 'forged.token.value' : token),
      reconnect: { minMs: 100, maxMs: 1500, jitter: 0 },
    });
    window.store = window.w.socket.notifications(user);
    window.w.socket.connect();
  }, { user, token });
  await page.waitForFunction(() => window.store.getSnapshot().status === 'live', null, { timeout: 15_000 });
  const { log, calls } = await page.evaluate(() => ({ log: window.w.log, calls: window.calls }));
  const refused = log.errors.filter((e) => e.code === 'unauthorized');
  assert.equal(refused.length, 1, JSON.stringify(log.errors));
  assert.equal(refused[0].closeCode, 4401);
  assert.match(refused[0].closeReason, /unauthorized/);
  assert.equal(refused[0].retryInMs, 1500, 'only at the slowest step');
  assert.match(refused[0].message, /refused the connection as unauthorized.*retrying in 1500 ms/);
  assert.equal(calls, 2, 'the token function was asked again');
  await page.evaluate(() => window.w.socket.disconnect());
  await page.close();
});

test('reconnect.onClose can stop reconnecting after a refusal', { timeout: 20_000 }, async () => {
  const page = await openPage();
  let sockets = 0;
  page.on('websocket', () => { sockets += 1; });
  await page.evaluate(() => {
    window.seen = [];
    window.w = window.watch('/socket', {
      authToken: 'forged.token.value',
      reconnect: { minMs: 50, maxMs: 50, jitter: 0,
        onClose: (code, reason) => { window.seen.push([code, reason]); return code === 4401 ? 'stop' : undefined; } },
    });
    window.w.socket.connect();
  });
  await page.waitForFunction(() => window.w.log.states.at(-1) === 'closed', null, { timeout: 10_000 });
  await new Promise((r) => setTimeout(r, 500));
  const { seen, log, state } = await page.evaluate(() => ({ seen: window.seen, log: window.w.log, state: window.w.socket.state.state }));
  assert.equal(state, 'closed');
  assert.equal(seen.length, 1);
  assert.equal(seen[0][0], 4401);
  assert.equal(sockets, 1, 'no attempt after the stop');
  const last = log.errors.at(-1);
  assert.equal(last.code, 'unauthorized');
  assert.equal(last.retryInMs, undefined);
  assert.match(last.message, /not retrying/);
  await page.close();
});

test('a notification store whose join is refused shows it and asks again on the rejoin schedule', { timeout: 20_000 }, async () => {
  const page = await openPage();
  let joins = 0;
  page.on('websocket', (ws) => ws.on('framesent', (f) => {
    if (typeof f.payload === 'string' && f.payload.includes('"phx_join"') && f.payload.includes(':notifications"')) joins += 1;
  }));
  await page.evaluate(() => {
    // No token: the user's private topic refuses the join.
    window.w = window.watch('/socket', { rejoin: { minMs: 200, maxMs: 200, jitter: 0 } });
    window.store = window.w.socket.notifications('someone-else');
    window.w.socket.connect();
  });
  await page.waitForFunction(() => window.store.getSnapshot().status === 'refused', null, { timeout: 10_000 });
  const snapshot = await page.evaluate(() => window.store.getSnapshot());
  assert.equal(snapshot.status, 'refused');
  assert.ok(typeof snapshot.refusedReason === 'string' && snapshot.refusedReason.length > 0);
  await page.waitForFunction(() => window.w.log.errors.filter((e) => e.code === 'join_refused').length >= 2, null, { timeout: 10_000 });
  const errors = await page.evaluate(() => window.w.log.errors.filter((e) => e.code === 'join_refused'));
  assert.equal(errors[0].topic, 'user:someone-else:notifications');
  assert.equal(errors[0].response.reason, snapshot.refusedReason);
  assert.equal(errors[0].retryInMs, 200);
  assert.match(errors[0].message, /refused the join of 'user:someone-else:notifications'.*rejoining in 200 ms/);
  assert.ok(joins >= 2, `asked again: ${joins} joins`);
  await page.evaluate(() => window.w.socket.disconnect());
  await page.close();
});

test('after socket.free(), a pending join rejects and every channel call is refused with closed_socket', { timeout: 20_000 }, async () => {
  const page = await openPage();
  const result = await page.evaluate(async () => {
    const socket = new window.Socket('/socket');
    const room = socket.channel('room:freed');
    const pending = room.join().then(() => 'resolved', (e) => [e.name, e.code, e.message]);
    socket.free();
    const join = await pending;
    const push = await room.push('x', {}).then(() => 'resolved', (e) => [e.code, e.message]);
    const again = await room.join().then(() => 'resolved', (e) => e.code);
    return { join, push, again };
  });
  assert.deepEqual(result.join.slice(0, 2), ['TetherError', 'closed_socket']);
  assert.match(result.join[2], /create a new Socket/);
  assert.equal(result.push[0], 'closed_socket');
  assert.equal(result.again, 'closed_socket');
  await page.close();
});

test('a Socket the app no longer references is not closed by the garbage collector: its channels stay live', { timeout: 20_000 }, async () => {
  const page = await openPage();
  const echoed = await page.evaluate(async () => {
    // Only the channel is kept; the Socket object becomes unreachable.
    window.room = (() => {
      const socket = new window.Socket('/socket');
      socket.connect();
      return socket.channel('room:gc', {});
    })();
    await window.room.join();
    for (let i = 0; i < 5; i += 1) {
      window.gc();
      await new Promise((r) => setTimeout(r, 50)); // finalizers run between tasks
    }
    return window.room.push('echo', { still: 'here' });
  });
  assert.deepEqual(echoed, { still: 'here' });
  assert.equal(await page.evaluate(() => window.room.state), 'joined');
  await page.close();
});
