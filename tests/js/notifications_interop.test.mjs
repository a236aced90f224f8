// The official phoenix.js client against the demo server's notifications: sign-in tokens,
// `user:{id}:notifications`, `POST /api/notify`, sync / mark_all_read, and refusals.
// Needs `cargo build -p tether-demo` first; run with `node --test js/notifications_interop.test.mjs`.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Socket } from 'phoenix';
import WebSocket from 'ws';

import { demoServerPerFile, within as withinMs } from './lib/suite.mjs';

const STEP_MS = 5_000;
const TEST_OPTS = { timeout: 20_000 };

const demo = demoServerPerFile();

/** Bounded waits, STEP_MS unless said otherwise. */
const within = (promise, what, ms = STEP_MS) => withinMs(promise, what, ms);

async function postJson(path, body) {
  const res = await fetch(`${demo.server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** `POST /api/session` → `{user_id, name, token, topic}`. */
async function signIn(name) {
  const { status, body } = await postJson('/api/session', { name });
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

/** A connected phoenix Socket; it is disconnected when the test ends. */
async function connect(t, opts = {}) {
  const socket = new Socket(demo.server.wsUrl, { transport: WebSocket, ...opts });
  t.after(() => new Promise((resolve) => {
    socket.disconnect(resolve);
    setTimeout(resolve, 1_000);
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

/** Resolve with the payload of the next `event` on `channel`. */
function nextEvent(channel, event) {
  return within(new Promise((resolve) => {
    const ref = channel.on(event, (payload) => {
      channel.off(event, ref);
      resolve(payload);
    });
  }), event);
}

test('sign in, join own topic, receive a notification, sync, mark all read', TEST_OPTS, async (t) => {
  const me = await signIn('Ada Interop');
  assert.match(me.user_id, /^[a-z0-9_-]+$/);
  assert.equal(me.topic, `user:${me.user_id}:notifications`);
  assert.equal((await signIn('Ada Interop')).user_id, me.user_id, 'same name, same user');

  const socket = await connect(t, { params: { token: me.token } });
  const channel = socket.channel(me.topic, {});
  assert.deepEqual(await reply(channel.join(), 'join own topic'), { status: 'ok', response: {} });

  const pushed = nextEvent(channel, 'notification:new');
  const created = await postJson('/api/notify', {
    user: me.user_id, kind: 'activity', title: 'New message in #design', body: 'hi', data: { room: 'design' },
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const { notification } = created.body;
  assert.deepEqual(await pushed, { notification });
  assert.equal(notification.kind, 'activity');
  assert.equal(notification.read_at, null);
  assert.match(notification.inserted_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.deepEqual(notification.data, { room: 'design' });

  // A system notification is stored but not counted; a toast is pushed only.
  for (const kind of ['system', 'toast']) {
    const next = nextEvent(channel, 'notification:new');
    assert.equal((await postJson('/api/notify', { user: me.user_id, kind, title: kind })).status, 200);
    assert.equal((await next).notification.kind, kind);
  }

  const synced = await reply(channel.push('sync', {}), 'sync');
  assert.equal(synced.status, 'ok');
  assert.equal(synced.response.unread_count, 1);
  assert.deepEqual(synced.response.recent.map((n) => n.kind), ['system', 'activity']);
  assert.deepEqual(synced.response.recent[1], notification);
  assert.equal(synced.response.cursor, synced.response.recent[0].id);

  const allRead = nextEvent(channel, 'notification:all_read');
  assert.deepEqual(await reply(channel.push('mark_all_read', {}), 'mark_all_read'), {
    status: 'ok',
    response: { unread_count: 0 },
  });
  assert.deepEqual(await allRead, { unread_count: 0, until: null });

  const res = await fetch(`${demo.server.url}/api/notifications/${me.user_id}`);
  const stored = await res.json();
  assert.equal(stored.unread_count, 0);
  assert.equal(stored.total, 2);
  assert.ok(stored.items.every((n) => typeof n.read_at === 'string'));
});

test('mark_read replies and is broadcast to every tab of the user', TEST_OPTS, async (t) => {
  const me = await signIn('Two Tabs');
  // One tab passes the token as a param, the other as phoenix.js authToken (a subprotocol).
  const a = (await connect(t, { params: { token: me.token } })).channel(me.topic, {});
  const b = (await connect(t, { authToken: me.token })).channel(me.topic, {});
  assert.equal((await reply(a.join(), 'join a')).status, 'ok');
  assert.equal((await reply(b.join(), 'join b')).status, 'ok');

  const ids = [];
  for (const title of ['one', 'two']) {
    const seen = Promise.all([nextEvent(a, 'notification:new'), nextEvent(b, 'notification:new')]);
    ids.push((await postJson('/api/notify', { user: me.user_id, kind: 'alert', title })).body.notification.id);
    await seen;
  }
  // The pushing tab sees the broadcast before its reply, as from a Phoenix channel that calls
  // broadcast! and then returns {:reply, …}.
  const order = [];
  const readA = nextEvent(a, 'notification:read').then((p) => { order.push('notification:read'); return p; });
  const readB = nextEvent(b, 'notification:read');
  const replied = reply(a.push('mark_read', { ids: [ids[0]] }), 'mark_read').then((r) => { order.push('reply'); return r; });
  assert.deepEqual(await replied, {
    status: 'ok',
    response: { unread_count: 1 },
  });
  assert.deepEqual(await readA, { ids: [ids[0]], unread_count: 1 });
  assert.deepEqual(await readB, { ids: [ids[0]], unread_count: 1 });
  assert.deepEqual(order, ['notification:read', 'reply']);

  const allA = nextEvent(a, 'notification:all_read').then(() => order.push('notification:all_read'));
  const allReplied = reply(a.push('mark_all_read', {}), 'mark_all_read').then(() => order.push('reply'));
  await Promise.all([allA, allReplied, nextEvent(b, 'notification:all_read')]);
  assert.deepEqual(order.slice(2), ['notification:all_read', 'reply']);
});

test("joining another user's topic is refused as unauthorized", TEST_OPTS, async (t) => {
  const me = await signIn('Mallory');
  const other = await signIn('Victim');
  const socket = await connect(t, { params: { token: me.token } });
  for (const topic of [
    other.topic,
    me.topic.toUpperCase(),
    `${me.topic}:extra`,
    `user::${me.user_id}:notifications`,
  ]) {
    const channel = socket.channel(topic, {});
    assert.deepEqual(await reply(channel.join(), `join ${topic}`), {
      status: 'error',
      response: { reason: 'unauthorized' },
    }, topic);
    channel.leave();
  }
  // Anonymous connections may not join any user topic either, but rooms still work.
  const anon = await connect(t);
  const refused = anon.channel(other.topic, {});
  assert.deepEqual(await reply(refused.join(), 'anonymous join'), {
    status: 'error',
    response: { reason: 'unauthorized' },
  });
  refused.leave();
  assert.equal((await reply(anon.channel('room:lobby', {}).join(), 'room join')).status, 'ok');
});

test('a bad token: the socket opens and is closed at once with 4401 and a reason', TEST_OPTS, async () => {
  const me = await signIn('Tamper');
  const [payload, sig] = me.token.split('.');
  for (const [token, why] of [
    ['nope', 'unauthorized: malformed token'],
    [`${payload}x.${sig}`, 'unauthorized: token not signed by this server'],
    [`${payload}.${sig.slice(1)}`, 'unauthorized: '],
  ]) {
    const closed = await within(new Promise((resolve, reject) => {
      const ws = new WebSocket(`${demo.server.wsUrl}/websocket?vsn=2.0.0&token=${encodeURIComponent(token)}`);
      let opened = false;
      ws.on('unexpected-response', (_req, res) => {
        ws.terminate();
        reject(new Error(`upgrade refused with ${res.statusCode}; expected an open and a 4401 close`));
      });
      ws.on('open', () => { opened = true; });
      ws.on('message', (data) => reject(new Error(`token ${token}: a frame came before the close: ${data}`)));
      ws.on('close', (code, reason) => resolve({ opened, code, reason: reason.toString() }));
      ws.on('error', () => {});
    }), `upgrade with ${token}`);
    assert.equal(closed.opened, true, token);
    assert.equal(closed.code, 4401, token);
    assert.ok(closed.reason.startsWith(why), `${token}: ${closed.reason}`);
  }
});

test('notify validates its input', TEST_OPTS, async () => {
  const me = await signIn('Validator');
  for (const bad of [
    { user: me.user_id, kind: 'shout', title: 't' },
    { user: me.user_id, kind: 'alert', title: 'x'.repeat(201) },
    { user: me.user_id, kind: 'alert', title: 't', body: 'x'.repeat(2001) },
    { user: 'Not A User', kind: 'alert', title: 't' },
  ]) {
    const { status, body } = await postJson('/api/notify', bad);
    assert.equal(status, 400, JSON.stringify(bad));
    assert.equal(typeof body.error, 'string');
  }
});
