// The official phoenix.js client against the tether-demo server.
// Needs `cargo build -p tether-demo` first; run with `node --test js/phoenix_interop.test.mjs`.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Socket } from 'phoenix';
import WebSocket from 'ws';
import { startDemoServer } from './lib/demo_server.mjs';
import { demoServerPerFile, within as withinMs } from './lib/suite.mjs';

const STEP_MS = 5_000;
const TEST_OPTS = { timeout: 15_000 };

const demo = demoServerPerFile();

/** Bounded waits, STEP_MS unless said otherwise. */
const within = (promise, what, ms = STEP_MS) => withinMs(promise, what, ms);

/** A connected phoenix Socket; it is disconnected when the test ends. */
async function connect(t, opts = {}) {
  const socket = new Socket(demo.server.wsUrl, { transport: WebSocket, ...opts });
  t.after(() => new Promise((resolve) => {
    socket.disconnect(resolve);
    setTimeout(resolve, 1_000); // disconnect of a never-opened socket may not call back
  }));
  const opened = new Promise((resolve, reject) => {
    socket.onOpen(resolve);
    socket.onError((err) => reject(new Error(`socket error: ${err?.message ?? err}`)));
  });
  socket.connect();
  await within(opened, 'socket open');
  return socket;
}

/** Push (or join) and resolve with `{status, response}` from its reply. */
function reply(push, what) {
  return within(new Promise((resolve) => {
    push
      .receive('ok', (response) => resolve({ status: 'ok', response }))
      .receive('error', (response) => resolve({ status: 'error', response }))
      .receive('timeout', () => resolve({ status: 'timeout' }));
  }), what);
}

test('join room:lobby is ok', TEST_OPTS, async (t) => {
  const socket = await connect(t);
  const channel = socket.channel('room:lobby', { name: 'ada' });
  assert.deepEqual(await reply(channel.join(), 'join'), { status: 'ok', response: {} });
  assert.equal(channel.state, 'joined');
});

test('push echo gets an ok reply with its payload', TEST_OPTS, async (t) => {
  const socket = await connect(t);
  const channel = socket.channel('room:lobby', {});
  await reply(channel.join(), 'join');
  const payload = { n: 42, s: 'héllo', list: [1, 'two', null], nested: { ok: true } };
  assert.deepEqual(await reply(channel.push('echo', payload), 'echo'), {
    status: 'ok',
    response: payload,
  });
});

test('an ArrayBuffer push goes as a binary frame and binary_echo answers with the same bytes', TEST_OPTS, async (t) => {
  // phoenix.js's own binary encoding is the reference tether's binary pushes are held to (the
  // same server answers both; tests/browser.rs sends tether's).
  const socket = await connect(t);
  const channel = socket.channel('room:bytes', { name: 'ada' });
  await reply(channel.join(), 'join');
  const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);
  const echoed = await reply(channel.push('binary_echo', bytes.buffer), 'binary_echo');
  assert.equal(echoed.status, 'ok');
  assert.ok(echoed.response instanceof ArrayBuffer, 'a binary reply reaches phoenix.js as an ArrayBuffer');
  assert.deepEqual(new Uint8Array(echoed.response), bytes);
  assert.deepEqual(await reply(channel.push('upload', new ArrayBuffer(2)), 'upload'), {
    status: 'error',
    response: { reason: 'unknown event' },
  });
});

test('new_msg is broadcast to a second client with the sender name', TEST_OPTS, async (t) => {
  const ada = await connect(t);
  const bob = await connect(t);
  const adaRoom = ada.channel('room:interop', { name: 'ada' });
  const bobRoom = bob.channel('room:interop', { name: 'bob' });
  await reply(adaRoom.join(), 'ada join');
  await reply(bobRoom.join(), 'bob join');

  const received = new Promise((resolve) => bobRoom.on('new_msg', resolve));
  const before = Date.now();
  assert.equal((await reply(adaRoom.push('new_msg', { body: 'hello bob' }), 'new_msg')).status, 'ok');
  const msg = await within(received, 'broadcast at bob');
  assert.equal(msg.body, 'hello bob');
  assert.equal(msg.name, 'ada');
  assert.equal(typeof msg.at, 'number');
  assert.ok(msg.at >= before - 60_000 && msg.at <= Date.now() + 60_000, `at=${msg.at}`);

  assert.deepEqual(await reply(adaRoom.push('new_msg', { body: 42 }), 'bad body'), {
    status: 'error',
    response: { reason: 'invalid body' },
  });
});

test('joining an unknown topic fails with "unmatched topic"', TEST_OPTS, async (t) => {
  const socket = await connect(t);
  const channel = socket.channel('nope:topic', {});
  assert.deepEqual(await reply(channel.join(), 'join'), {
    status: 'error',
    response: { reason: 'unmatched topic' },
  });
  channel.leave(); // stop phoenix.js from scheduling rejoins
});

test('heartbeats are answered and the socket stays connected', TEST_OPTS, async (t) => {
  let closes = 0;
  const socket = await connect(t, { heartbeatIntervalMs: 100 });
  socket.onClose(() => { closes += 1; });
  let replies = 0;
  const threeReplies = new Promise((resolve) => {
    socket.onMessage(({ topic, event, payload }) => {
      if (topic === 'phoenix' && event === 'phx_reply' && payload.status === 'ok') {
        replies += 1;
        if (replies >= 3) resolve();
      }
    });
  });
  await within(threeReplies, 'three heartbeat replies');
  // phoenix.js closes the socket when a heartbeat goes unanswered: give it a few more rounds.
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(replies >= 5, `only ${replies} heartbeat replies`);
  assert.equal(closes, 0);
  assert.equal(socket.isConnected(), true);
});

test('a noreply push times out on the client', TEST_OPTS, async (t) => {
  const socket = await connect(t);
  const channel = socket.channel('room:lobby', {});
  await reply(channel.join(), 'join');
  assert.deepEqual(await reply(channel.push('noreply', {}, 300), 'noreply'), { status: 'timeout' });
});

test('authToken is offered as a subprotocol and accepted', TEST_OPTS, async (t) => {
  // The server only accepts tokens it signed: sign in first.
  const res = await fetch(`${demo.server.url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'tok' }),
  });
  assert.equal(res.status, 200);
  const { token } = await res.json();
  const socket = await connect(t, { authToken: token });
  const channel = socket.channel('room:lobby', { name: 'ignored: the token names the user' });
  assert.equal((await reply(channel.join(), 'join')).status, 'ok');
  assert.equal(socket.conn.protocol, 'phoenix');
});

test('leave then rejoin on the same socket', TEST_OPTS, async (t) => {
  const socket = await connect(t);
  const first = socket.channel('room:again', {});
  await reply(first.join(), 'join');
  assert.equal((await reply(first.leave(), 'leave')).status, 'ok');
  const second = socket.channel('room:again', {});
  await reply(second.join(), 'rejoin');
  assert.deepEqual(await reply(second.push('echo', { x: 1 }), 'echo'), {
    status: 'ok',
    response: { x: 1 },
  });
});

test('stopping the server closes sockets with 1012 and exits 0', TEST_OPTS, async (t) => {
  const own = await startDemoServer();
  t.after(() => own.stop());
  const socket = new Socket(own.wsUrl, { transport: WebSocket, reconnectAfterMs: () => 60_000 });
  t.after(() => socket.disconnect());
  const opened = new Promise((resolve) => socket.onOpen(resolve));
  const closed = new Promise((resolve) => socket.onClose(resolve));
  socket.connect();
  await within(opened, 'socket open');
  const channel = socket.channel('room:bye', {});
  await reply(channel.join(), 'join');

  const started = Date.now();
  const exit = await within(own.stop(), 'server stop');
  const event = await within(closed, 'socket close');
  assert.equal(event.code, 1012);
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.ok(Date.now() - started < 2_000, `stop took ${Date.now() - started} ms`);
});
