// The socket URL rules (`socket_url` in src/web/glue.js, which the driver calls on every
// connect), tested on the function itself: scheme and host, `/websocket`, params, the
// dialect's own query.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { socket_url as socketUrl } from '../../src/web/glue.js';

const none = '[]';

test('http(s) endpoints become ws(s), trailing slashes go, Phoenix adds /websocket once', () => {
  assert.equal(socketUrl('http://h:4000/socket/', null, true, none), 'ws://h:4000/socket/websocket');
  assert.equal(socketUrl('https://h/socket', null, true, none), 'wss://h/socket/websocket');
  assert.equal(socketUrl('ws://h/socket/websocket', null, true, none), 'ws://h/socket/websocket');
  assert.equal(socketUrl('wss://h/hub//', null, false, none), 'wss://h/hub');
});

test('a path-only endpoint takes the page scheme and host', () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'location');
  try {
    for (const [protocol, scheme] of [['https:', 'wss'], ['http:', 'ws']]) {
      Object.defineProperty(globalThis, 'location', { value: { protocol, host: 'app.test:8443' }, configurable: true });
      assert.equal(socketUrl('/socket', null, true, none), `${scheme}://app.test:8443/socket/websocket`);
    }
  } finally {
    if (saved) Object.defineProperty(globalThis, 'location', saved);
    else delete globalThis.location;
  }
});

test('params: strings as they are, numbers and booleans as JavaScript writes them, objects as JSON, encoded', () => {
  const params = { token: 'a b&c=d', n: 1.5, big: 1e21, yes: true, obj: { k: [1] }, nul: null, undef: undefined, fn: () => 1, ü: 'é' };
  assert.equal(
    socketUrl('ws://h/socket', params, true, none),
    'ws://h/socket/websocket?token=a%20b%26c%3Dd&n=1.5&big=1e%2B21&yes=true&obj=%7B%22k%22%3A%5B1%5D%7D&%C3%BC=%C3%A9',
  );
  assert.equal(socketUrl('ws://h/socket', { bad: { n: 1n } }, true, none), 'ws://h/socket/websocket');
});

test("the dialect's query comes last and wins over a param of the same key; an endpoint's own query is kept", () => {
  const query = JSON.stringify([['c', 'room:1'], ['vsn', '2.0.0']]);
  assert.equal(socketUrl('ws://h/hub', { c: 'mine', user: 'u1' }, false, query), 'ws://h/hub?user=u1&c=room%3A1&vsn=2.0.0');
  assert.equal(socketUrl('ws://h/hub?x=1', {}, false, query), 'ws://h/hub?x=1&c=room%3A1&vsn=2.0.0');
});
