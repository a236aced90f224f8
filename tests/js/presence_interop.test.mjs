// The official phoenix.js Presence against the tether-demo server's presence on room:*.
// Needs `cargo build -p tether-demo` first; run with `node --test js/presence_interop.test.mjs`.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Presence, Socket } from 'phoenix';
import WebSocket from 'ws';

import { demoServerPerFile, within as withinMs } from './lib/suite.mjs';

const STEP_MS = 5_000;
const LEAVE_MS = 1_000;
const TEST_OPTS = { timeout: 20_000 };

const demo = demoServerPerFile();

/** Bounded waits, STEP_MS unless said otherwise. */
const within = (promise, what, ms = STEP_MS) => withinMs(promise, what, ms);

/** A connected phoenix Socket; it is disconnected when the test ends (if still open). */
async function connect(t) {
  const socket = new Socket(demo.server.wsUrl, { transport: WebSocket, reconnectAfterMs: () => 60_000 });
  t.after(() => new Promise((resolve) => {
    const timer = setTimeout(resolve, 1_000); // disconnect of a closed socket may not call back
    socket.disconnect(() => { clearTimeout(timer); resolve(); });
  }));
  const opened = new Promise((resolve, reject) => {
    socket.onOpen(resolve);
    socket.onError((err) => reject(new Error(`socket error: ${err?.message ?? err}`)));
  });
  socket.connect();
  await within(opened, 'socket open');
  return socket;
}

/**
 * Join `topic` as `name` with a Presence attached; resolves once the join is ok.
 * `waitFor(pred, what)` resolves when the presence (after a sync) satisfies `pred`.
 */
async function joinWithPresence(t, topic, name) {
  const socket = await connect(t);
  const channel = socket.channel(topic, { name });
  const presence = new Presence(channel);
  const events = [];
  const watchers = new Set();
  const check = () => {
    for (const w of watchers) {
      if (w.pred(presence)) {
        watchers.delete(w);
        w.resolve();
      }
    }
  };
  presence.onJoin((key, current, joined) => events.push({ kind: 'join', key, current, joined, at: Date.now() }));
  presence.onLeave((key, remaining, left) => events.push({ kind: 'leave', key, remaining, left, at: Date.now() }));
  presence.onSync(check);
  const waitFor = (pred, what, ms = STEP_MS) => {
    if (pred(presence)) return Promise.resolve();
    return within(new Promise((resolve) => watchers.add({ pred, resolve })), `${name}: ${what}`, ms);
  };
  const joined = await within(new Promise((resolve) => {
    channel.join()
      .receive('ok', () => resolve('ok'))
      .receive('error', (r) => resolve(`error ${JSON.stringify(r)}`))
      .receive('timeout', () => resolve('timeout'));
  }), `${name} joins ${topic}`);
  assert.equal(joined, 'ok');
  return { socket, channel, presence, events, waitFor };
}

/** `[[key, metasCount], …]` in list order. */
function counts(presence) {
  return presence.list((key, { metas }) => [key, metas.length]);
}

async function serverView(topic) {
  const res = await within(fetch(`${demo.server.url}/api/presence/${topic}`), 'GET /api/presence');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  return res.json();
}

/** The client's state in the same shape as the server view, keys in list order. */
function clientView(presence) {
  return Object.fromEntries(presence.list((key, p) => [key, p]));
}

const sameCounts = (expected) => (p) => JSON.stringify(counts(p)) === JSON.stringify(expected);

test('two clients see each other; a second tab is one more meta; list() matches the server', TEST_OPTS, async (t) => {
  const topic = 'room:lobby';
  const ada = await joinWithPresence(t, topic, 'ada');
  await ada.waitFor(sameCounts([['ada', 1]]), 'sees itself');

  const bob = await joinWithPresence(t, topic, 'bob');
  await bob.waitFor(sameCounts([['ada', 1], ['bob', 1]]), 'sees ada and itself');
  await ada.waitFor(sameCounts([['ada', 1], ['bob', 1]]), 'sees bob');

  // A second tab of ada: still one key, now with two metas with distinct phx_refs.
  const ada2 = await joinWithPresence(t, topic, 'ada');
  const expected = [['ada', 2], ['bob', 1]];
  await ada2.waitFor(sameCounts(expected), 'second tab sees both');
  await ada.waitFor(sameCounts(expected), 'first tab sees its second tab');
  await bob.waitFor(sameCounts(expected), 'bob sees the second tab');
  const refs = ada.presence.list((key, { metas }) => metas.map((m) => m.phx_ref)).flat();
  assert.equal(new Set(refs).size, 3, `distinct phx_refs: ${refs}`);
  for (const client of [ada, bob, ada2]) {
    const [first] = client.presence.list((key, { metas }) => metas[0]);
    assert.equal(first.name, 'ada');
    assert.equal(typeof first.online_at, 'number');
    assert.equal(typeof first.phx_ref, 'string');
  }

  const view = await serverView(topic);
  assert.deepEqual(Object.keys(view), ['ada', 'bob'], 'server keys in join order');
  for (const client of [ada, bob, ada2]) {
    assert.deepEqual(clientView(client.presence), view);
    assert.deepEqual(Object.keys(clientView(client.presence)), Object.keys(view));
  }
  // Nobody saw a leave (no flicker), and ada saw a join for every meta. (phoenix.js reports
  // its own meta twice: from presence_state, then again from its own held presence_diff.)
  for (const client of [ada, bob, ada2]) {
    assert.deepEqual(client.events.filter((e) => e.kind === 'leave'), []);
  }
  const joinedRefs = new Set(ada.events.flatMap((e) => e.joined.metas.map((m) => m.phx_ref)));
  assert.deepEqual([...joinedRefs].sort(), [...refs].sort());
});

test('closing a client fires onLeave at the others within 1 s', TEST_OPTS, async (t) => {
  const topic = 'room:leaving';
  const ada = await joinWithPresence(t, topic, 'ada');
  const bob = await joinWithPresence(t, topic, 'bob');
  await ada.waitFor(sameCounts([['ada', 1], ['bob', 1]]), 'sees bob');
  await bob.waitFor(sameCounts([['ada', 1], ['bob', 1]]), 'sees ada');
  const bobRef = ada.presence.list((key, { metas }) => (key === 'bob' ? metas[0].phx_ref : null))
    .find((r) => r !== null);

  const left = new Promise((resolve) => {
    const prev = ada.presence.caller.onLeave;
    ada.presence.onLeave((key, remaining, leftPres) => {
      prev(key, remaining, leftPres);
      if (key === 'bob') resolve({ remaining, leftPres });
    });
  });
  const closedAt = Date.now();
  await within(new Promise((resolve) => bob.socket.disconnect(resolve)), 'bob disconnects');
  const { remaining, leftPres } = await within(left, 'onLeave for bob', LEAVE_MS);
  assert.ok(Date.now() - closedAt <= LEAVE_MS + 50, `onLeave after ${Date.now() - closedAt} ms`);
  assert.deepEqual(remaining.metas, []);
  assert.deepEqual(leftPres.metas.map((m) => m.phx_ref), [bobRef]);
  await ada.waitFor(sameCounts([['ada', 1]]), 'bob gone from list()', LEAVE_MS);
  assert.deepEqual(clientView(ada.presence), await serverView(topic));

  // One of two tabs leaving keeps the key with the remaining meta.
  const ada2 = await joinWithPresence(t, topic, 'ada');
  await ada.waitFor(sameCounts([['ada', 2]]), 'second tab');
  await within(new Promise((resolve) => {
    ada2.channel.leave().receive('ok', resolve);
  }), 'second tab leaves');
  await ada.waitFor(sameCounts([['ada', 1]]), 'back to one meta', LEAVE_MS);
  assert.deepEqual(clientView(ada.presence), await serverView(topic));
});

test('odd names are plain keys for phoenix.js too', TEST_OPTS, async (t) => {
  const topic = 'room:odd';
  const names = ['__proto__', 'émile 😀', 'constructor'];
  const clients = [];
  for (const name of names) clients.push(await joinWithPresence(t, topic, name));
  const expected = names.map((n) => [n, 1]);
  for (const c of clients) await c.waitFor(sameCounts(expected), 'sees every odd name');
  const view = await serverView(topic);
  assert.deepEqual(Object.keys(view), names);
  for (const c of clients) assert.deepEqual(clientView(c.presence), view);
});
