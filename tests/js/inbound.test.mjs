// The socket's inbound path (`inbound` in src/web/glue.js, the function every WebSocket message
// goes through), tested on the function itself: which frames are delivered from the routes
// mirror, which go to the core, and that frames the core reads are not parsed in JavaScript
// first (a 10k-key `presence_state` would otherwise be parsed twice).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { addHandler, addRoute, clearRoutes, inbound, newRoutes as newRoutesWith } from '../../src/web/glue.js';

// The core's rule for the events it reads itself, as the driver hands it to `newRoutes`: read
// from its one statement (`CORE_READS` in src/core/client/routing.rs), not restated here.
const rust = readFileSync(new URL('../../src/core/client/routing.rs', import.meta.url), 'utf8');
const CORE_READS = rust.match(/pub const CORE_READS: \[&str; \d+\] =\s*\[([^\]]*)\]/)[1]
  .match(/"[^"]*"/g).map((w) => JSON.parse(w)).join(' ');
const newRoutes = () => newRoutesWith(CORE_READS);

const TOPIC = 'room:lobby';

/** The inbound function over `routes`, and the text frames it passed to the core. */
function receiverOver(routes) {
  const core = [];
  const refuse = () => { throw new Error('not a text frame'); };
  const receive = inbound(routes, (text) => core.push(text), refuse, 1 << 20, refuse, refuse);
  return { receive, core };
}

/** An inbound function over one joined channel (join ref "1") listening to `new_msg`. */
function setup() {
  const delivered = [];
  const routes = newRoutes();
  addHandler(addRoute(routes, TOPIC, '1'), 'new_msg', (payload) => delivered.push(payload));
  return { ...receiverOver(routes), delivered };
}

/** Runs `f` and returns how many times it called JSON.parse. */
function parsesIn(f) {
  const parse = JSON.parse;
  let calls = 0;
  JSON.parse = (...args) => {
    calls += 1;
    return parse(...args);
  };
  try {
    f();
  } finally {
    JSON.parse = parse;
  }
  return calls;
}

test('a plain broadcast is parsed once and delivered from the mirror, not sent to the core', () => {
  const { receive, delivered, core } = setup();
  const n = parsesIn(() => {
    receive(`[null,null,"${TOPIC}","new_msg",{"body":"hi","n":1}]`);
    receive(`["1","7","${TOPIC}","new_msg",{"body":"yo"}]`);
  });
  assert.equal(n, 2);
  assert.deepEqual(delivered, [{ body: 'hi', n: 1 }, { body: 'yo' }]);
  assert.deepEqual(core, []);
});

test('frames the core reads go to it whole, without a parse here', () => {
  const frames = [
    `[null,null,"${TOPIC}","presence_diff",{"joins":{},"leaves":{}}]`,
    `["1",null,"${TOPIC}","presence_state",{"ada":{"metas":[{"phx_ref":"a"}]}}]`,
    `["1","2","${TOPIC}","phx_reply",{"status":"ok","response":{}}]`,
    `[null,"3","phoenix","phx_reply",{"status":"ok","response":{}}]`,
    `["1",null,"${TOPIC}","phx_close",{}]`,
    `[null,null,"user:1:notifications","notification:new",{"id":"n1"}]`,
    // A topic with an escaped quote: the event is still found after the `","` boundary.
    `[null,null,"room:\\"q\\"","presence_diff",{"joins":{},"leaves":{}}]`,
  ];
  for (const frame of frames) {
    const { receive, delivered, core } = setup();
    assert.equal(parsesIn(() => receive(frame)), 0, frame);
    assert.deepEqual(core, [frame]);
    assert.deepEqual(delivered, []);
  }
});

test('events that merely start like a control event are delivered as messages', () => {
  const routes = newRoutes();
  const handlers = addRoute(routes, TOPIC, '1');
  const events = ['phx', 'presence', 'notification', 'ph_x', 'pres', 'notify:new', 'Phx_x'];
  const got = [];
  for (const event of events) addHandler(handlers, event, (payload) => got.push([event, payload.n]));
  const { receive, core } = receiverOver(routes);
  events.forEach((event, n) => receive(`[null,null,"${TOPIC}","${event}",{"n":${n}}]`));
  assert.deepEqual(got, events.map((event, n) => [event, n]));
  assert.deepEqual(core, []);
});

test('malformed, mis-shaped and unrouted frames go to the core, which reports them', () => {
  const frames = [
    'not json',
    '',
    '[]',
    '[null,null,"room:lobby","new_msg"]',
    '[null,null,"room:lobby","new_msg",[1,2]]',
    '[null,null,"room:lobby","new_msg",null]',
    '[1,null,"room:lobby","new_msg",{}]',
    '[null,null,"room:lobby","new_\\ud800",{}]',
    '{"topic":"room:lobby"}',
  ];
  for (const frame of frames) {
    const { receive, delivered, core } = setup();
    receive(frame);
    assert.deepEqual(core, [frame], frame);
    assert.deepEqual(delivered, []);
  }
  // Well-formed, but for a topic nobody joined or a stale join ref: nothing is delivered.
  const { receive, delivered } = setup();
  receive('[null,null,"room:other","new_msg",{"n":1}]');
  receive(`["0",null,"${TOPIC}","new_msg",{"n":2}]`);
  assert.deepEqual(delivered, []);
});

test('routes find every channel and event, with few of them (compared) and many (hashed)', () => {
  for (const count of [3, 20]) {
    const routes = newRoutes();
    const got = [];
    const events = Array.from({ length: count }, (_, e) => `ev_${e}`);
    for (let t = 0; t < count; t++) {
      // Topic 0 has a second channel (another join ref): a frame without one reaches both.
      for (const joinRef of t === 0 ? ['1', '2'] : ['1']) {
        const handlers = addRoute(routes, `room:${t}`, joinRef);
        for (const event of events) addHandler(handlers, event, (p) => got.push(`${joinRef}/${p.t}/${event}`));
      }
    }
    const { receive, core } = receiverOver(routes);
    const expected = [];
    for (let t = 0; t < count; t++) {
      for (const event of events) {
        receive(`[null,null,"room:${t}","${event}",{"t":${t}}]`);
        expected.push(`1/${t}/${event}`);
        if (t === 0) expected.push(`2/${t}/${event}`);
      }
    }
    receive(`["2",null,"room:0","ev_0",{"t":0}]`);
    expected.push('2/0/ev_0');
    receive(`[null,null,"room:${count}","ev_0",{"t":-1}]`);
    receive(`[null,null,"room:1","ev_${count}",{"t":-1}]`);
    assert.deepEqual(got, expected, `${count} topics and events`);
    // A topic or event with a lone surrogate matches nothing and goes to the core.
    receive('[null,null,"room:1\\ud800","ev_0",{}]');
    receive('[null,null,"room:1","ev_0\\ud800",{}]');
    assert.equal(core.length, 2, `${count}: the malformed frames reach the core`);
    assert.equal(got.length, expected.length);
  }
});

test('a rebuild during delivery changes the next frame\'s delivery, not this one\'s', () => {
  const routes = newRoutes();
  const got = [];
  const build = (tag) => {
    clearRoutes(routes);
    const handlers = addRoute(routes, TOPIC, '1');
    addHandler(handlers, 'new_msg', () => {
      got.push(`${tag}a`);
      if (tag === 'old') build('new');
    });
    addHandler(handlers, 'new_msg', () => got.push(`${tag}b`));
  };
  build('old');
  const { receive } = receiverOver(routes);
  receive(`[null,null,"${TOPIC}","new_msg",{}]`);
  receive(`[null,null,"${TOPIC}","new_msg",{}]`);
  assert.deepEqual(got, ['olda', 'oldb', 'newa', 'newb']);
});
