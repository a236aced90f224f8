// Presence benchmark page: tether and phoenix.js side by side in one page, fed the same text
// frames through each client's own inbound path (tether: Socket._receiver(), the WebSocket
// onmessage path; phoenix.js: socket.onConnMessage). Exposes window.bench.
import init, { Socket as TetherSocket } from './pkg/tether.js';
import { Socket as PhoenixSocket, Presence as PhoenixPresence } from './phoenix.mjs';

await init();
const TOPIC = 'room:bench-presence';

const tSocket = new TetherSocket('/socket', { maxFrameBytes: 256 * 1024 * 1024 });
tSocket.connect();
const tChannel = tSocket.channel(TOPIC, { name: 'bench-tether' });
const tPresence = tChannel.presence({});
await tChannel.join();

const pSocket = new PhoenixSocket('/socket', {});
pSocket.connect();
const pChannel = pSocket.channel(TOPIC, { name: 'bench-phoenix' });
const pPresence = new PhoenixPresence(pChannel);
await new Promise((resolve, reject) => pChannel.join().receive('ok', resolve).receive('error', reject));
// Let the server's own presence frames for both joins arrive before measuring.
await new Promise((r) => setTimeout(r, 300));

const tJoinRef = () => tChannel.joinRef;
const pJoinRef = () => pChannel.joinRef();

function meta(i, gen) {
  return { phx_ref: `r${gen}-${i}`, name: `user ${i}`, online_at: 1763900000000 + i, device: i % 3 ? 'web' : 'phone' };
}

/** A presence_state of n keys; keys with i % 100 == 0 (1 %) carry generation `gen` refs. */
function stateText(joinRef, n, gen) {
  const state = {};
  for (let i = 0; i < n; i++) state[`user:${i}`] = { metas: [meta(i, i % 100 === 0 ? gen : 0)] };
  return JSON.stringify([joinRef, null, TOPIC, 'presence_state', state]);
}

function diffText(k, join) {
  const p = { [`extra:${k}`]: { metas: [meta(1_000_000 + k, 0)] } };
  return JSON.stringify([null, null, TOPIC, 'presence_diff', join ? { joins: p, leaves: {} } : { joins: {}, leaves: p }]);
}

const tReceive = tSocket._receiver();
const clients = {
  tether: { feed: (t) => tReceive(t), joinRef: tJoinRef, list: () => tPresence.list(), size: () => tPresence.list().length },
  phoenix: { feed: (t) => pSocket.onConnMessage({ data: t }), joinRef: pJoinRef, list: () => pPresence.list(), size: () => pPresence.list().length },
};

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

window.bench = {
  /**
   * Feeds a presence_state of n keys, generation `gen` (see stateText), and reads the list once,
   * as an app renders after a sync (tether's list mirror then holds the state); not timed.
   */
  state(name, n, gen) {
    const c = clients[name];
    c.feed(stateText(c.joinRef(), n, gen));
    if (c.size() !== n) throw new Error(`${name}: expected ${n} keys after the state`);
  },
  /**
   * ms to reconcile a presence_state of n keys with 1 % of metas changed (one sample per run).
   * Each figure below first feeds the room's state (with `fed`, the caller already did: `state`).
   */
  rejoin(name, n, runs, fed = false) {
    const c = clients[name];
    const frames = [1, 2].map((g) => stateText(c.joinRef(), n, g));
    if (!fed) c.feed(stateText(c.joinRef(), n, 2)); // the room exists, at generation 2
    const times = [];
    for (let r = 0; r < runs; r++) {
      const text = frames[r % 2];
      const t0 = performance.now();
      c.feed(text);
      times.push(performance.now() - t0);
    }
    if (c.size() !== n) throw new Error(`${name}: expected ${n} keys, got ${c.size()}`);
    return times;
  },
  /** µs per single-key diff, over `count` diffs on an n-key room (one sample per run). */
  diffs(name, n, count, runs, fed = false) {
    const c = clients[name];
    if (!fed) c.feed(stateText(c.joinRef(), n, 1));
    const texts = [];
    for (let k = 0; k < count; k++) texts.push(diffText(k >> 1, k % 2 === 0));
    const times = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      for (const t of texts) c.feed(t);
      times.push(((performance.now() - t0) * 1000) / count);
    }
    if (c.size() !== n) throw new Error(`${name}: expected ${n} keys after diffs, got ${c.size()}`);
    return times;
  },
  /**
   * µs per single-key diff with a subscriber that receives the fresh list each time — what a
   * rendering app does: tether's `presence.subscribe(cb)` (Svelte's `$presence`), phoenix.js's
   * `onSync(() => presence.list())`. One sample per run of `count` diffs.
   */
  rendered(name, n, count, runs, fed = false) {
    const c = clients[name];
    if (!fed) c.feed(stateText(c.joinRef(), n, 1));
    const texts = [];
    for (let k = 0; k < count; k++) texts.push(diffText(k >> 1, k % 2 === 0));
    let seen = 0;
    let stop;
    if (name === 'tether') {
      stop = tPresence.subscribe((list) => { seen = list.length; });
    } else {
      pPresence.onSync(() => { seen = pPresence.list().length; });
      stop = () => pPresence.onSync(() => {});
    }
    const times = [];
    try {
      for (let r = 0; r < runs; r++) {
        const t0 = performance.now();
        for (const t of texts) c.feed(t);
        times.push(((performance.now() - t0) * 1000) / count);
      }
    } finally {
      stop();
    }
    if (seen !== n) throw new Error(`${name}: the subscriber last saw ${seen} keys, expected ${n}`);
    return times;
  },
  /** ms per list() of an n-key room right after a change (one sample per run, 20 calls). */
  list(name, n, runs, fed = false) {
    const c = clients[name];
    if (!fed) c.feed(stateText(c.joinRef(), n, 1));
    const times = [];
    for (let r = 0; r < runs; r++) {
      let total = 0;
      for (let i = 0; i < 20; i++) {
        // A one-key change before each call, so no client can answer from a stale copy.
        c.feed(diffText(5_000_000 + r * 20 + i, true));
        c.feed(diffText(5_000_000 + r * 20 + i, false));
        const t0 = performance.now();
        const l = c.list();
        total += performance.now() - t0;
        if (l.length !== n) throw new Error(`${name}: list() gave ${l.length}`);
      }
      times.push(total / 20);
    }
    return times;
  },
  median,
};
window.benchReady = true;
