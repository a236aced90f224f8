// Inbound dispatch benchmark page (P2): tether and phoenix.js side by side in one page, each
// joined to the same room on the demo server with one `channel.on(event, cb)`. Both are fed the
// same pre-built broadcast text frames through their own inbound path (tether: Socket._receiver(),
// the function its WebSocket onmessage calls; phoenix.js: socket.onConnMessage) and timed from the
// text frame to the callback holding the parsed payload. Exposes window.bench.
import init, { Socket as TetherSocket } from './pkg/tether.js';
import { Socket as PhoenixSocket } from './phoenix.mjs';

await init();
const TOPIC = 'room:bench-dispatch';
const EVENT = 'new_msg';

// ---- deterministic realistic payloads, 200 B – 2 KB of JSON each ---------------------------

let seed = 0x2545f491;
function rand() {
  // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const WORDS = 'the quick brown fox jumps over lazy dog deploy merged review build failed green ship it tomorrow meeting lunch coffee please thanks ok sounds good looks fine will check later'.split(' ');
const UNI = ['héllo', 'naïve', 'café', 'Grüße', 'Ωμέγα', 'Привет', 'мир', 'こんにちは', '世界', '你好', '안녕하세요', 'مرحبا', 'שלום', '🎉', '👍🏽', '🚀', '❤️', '😂', '🇫🇷', 'ñandú', 'smörgåsbord', 'Ελλάδα'];
const NAMES = ['ada', 'grace', 'linus', 'margaret', 'dennis', 'barbara', 'ken', 'frances', 'edsger', 'radia'];
const sentence = (n, words = WORDS) => Array.from({ length: n }, () => pick(words)).join(' ');
const iso = (i) => new Date(1763900000000 + i * 1337).toISOString();

function chat(i) {
  const who = pick(NAMES);
  return {
    id: `msg_${i}`, seq: i, room: TOPIC,
    user: { id: int(1, 99999), name: who, avatar: `https://cdn.example.com/a/${who}.png` },
    body: sentence(int(8, 50)), sent_at: iso(i), edited: rand() < 0.1,
    reactions: Array.from({ length: int(0, 4) }, () => ({ emoji: pick(['+1', 'heart', 'tada', 'eyes']), count: int(1, 9) })),
  };
}
function unicodeChat(i) {
  return {
    id: `msg_${i}`, seq: i, room: TOPIC, user: { id: int(1, 99999), name: pick(UNI) },
    body: sentence(int(10, 60), UNI.concat(WORDS)), sent_at: iso(i), lang: pick(['fr', 'de', 'ja', 'zh', 'ru', 'ar', 'he', 'el']),
    mentions: Array.from({ length: int(0, 3) }, () => `@${pick(UNI)}`),
  };
}
function nested(i) {
  const items = Array.from({ length: int(1, 8) }, (_, k) => ({
    sku: `SKU-${int(10000, 99999)}`, name: sentence(int(2, 5)), qty: int(1, 5),
    price: { amount: int(100, 99999) / 100, currency: pick(['EUR', 'USD', 'GBP']) },
    tags: [pick(WORDS), pick(WORDS)], position: k,
  }));
  return {
    id: `evt_${i}`, seq: i, type: pick(['order.updated', 'order.created', 'cart.changed']),
    data: {
      order: {
        id: int(1, 1e9), status: pick(['pending', 'paid', 'shipped']), items,
        customer: { id: int(1, 1e6), name: pick(NAMES), email: `${pick(NAMES)}@example.com`, vip: rand() < 0.2 },
        shipping: { method: pick(['standard', 'express']), address: { line1: `${int(1, 300)} ${pick(WORDS)} street`, city: pick(['Paris', 'Berlin', 'Zürich', 'Kraków']), zip: String(int(10000, 99999)), country: pick(['FR', 'DE', 'CH', 'PL']) } },
      },
    },
    meta: { at: iso(i), source: 'checkout', version: 3, trace: { id: (i * 2654435761 >>> 0).toString(16), sampled: rand() < 0.5 } },
  };
}
function series(i) {
  return {
    id: `pts_${i}`, seq: i, metric: pick(['cpu', 'mem', 'latency_ms', 'rps']), host: `web-${int(1, 40)}`,
    points: Array.from({ length: int(10, 90) }, (_, k) => [1763900000 + k * 10, Math.round(rand() * 1e6) / 1e3]),
    labels: { region: pick(['eu-west', 'us-east']), env: 'prod' },
  };
}
const KINDS = [chat, chat, unicodeChat, nested, series];

/** `n` broadcast frames, each between 200 B and 2 KB of UTF-8 payload; and their total bytes. */
function makeFrames(n) {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const frames = [];
  let bytes = 0;
  let minPayload = Infinity;
  let maxPayload = 0;
  for (let i = 0; i < n; i++) {
    let payload = KINDS[i % KINDS.length](i);
    let text = JSON.stringify(payload);
    let size = enc.encode(text).length;
    // Keep every payload within 200 B – 2 KB.
    while (size > 2048) {
      payload = KINDS[i % KINDS.length](i);
      text = JSON.stringify(payload);
      size = enc.encode(text).length;
    }
    if (size < 200) {
      payload.note = sentence(Math.ceil((200 - size) / 4) + 2);
      text = JSON.stringify(payload);
      size = enc.encode(text).length;
    }
    minPayload = Math.min(minPayload, size);
    maxPayload = Math.max(maxPayload, size);
    // Each frame is the UTF-8 decoding of its bytes, as a WebSocket's `e.data` is: one flat
    // string. (A template literal is a rope that whoever reads it first must flatten.)
    const utf8 = enc.encode(`[null,null,${JSON.stringify(TOPIC)},${JSON.stringify(EVENT)},${text}]`);
    bytes += utf8.length;
    frames.push(dec.decode(utf8));
  }
  return { frames, bytes, minPayload, maxPayload };
}

// ---- the two clients -------------------------------------------------------------------------

let received = 0;
let touched = 0;
// Touch a field so the payload is really there (JSON.parse materializes it either way).
const onMsg = (p) => { received += 1; touched += p.seq; };

const tSocket = new TetherSocket('/socket', {});
tSocket.connect();
const tChannel = tSocket.channel(TOPIC, { name: 'bench-tether' });
tChannel.on(EVENT, onMsg);
await tChannel.join();

const pSocket = new PhoenixSocket('/socket', {});
pSocket.connect();
const pChannel = pSocket.channel(TOPIC, { name: 'bench-phoenix' });
pChannel.on(EVENT, onMsg);
await new Promise((resolve, reject) => pChannel.join().receive('ok', resolve).receive('error', reject));
// Let the server's own presence frames for both joins arrive before measuring.
await new Promise((r) => setTimeout(r, 300));

const tReceive = tSocket._receiver();
const clients = {
  tether: (t) => tReceive(t),
  phoenix: (t) => pSocket.onConnMessage({ data: t }),
};

let set = null;
window.bench = {
  /** Builds the frames once; returns their count, total bytes and payload size range. */
  prepare(n) {
    set = makeFrames(n);
    return { count: set.frames.length, bytes: set.bytes, minPayload: set.minPayload, maxPayload: set.maxPayload };
  },
  /** ms to deliver every prepared frame (or the first `limit`) to the callback (one sample). */
  async run(name, limit) {
    const feed = clients[name];
    const frames = limit ? set.frames.slice(0, limit) : set.frames;
    const expect = frames.length;
    received = 0;
    touched = 0;
    const t0 = performance.now();
    for (let i = 0; i < frames.length; i++) feed(frames[i]);
    // Both dispatch synchronously; should either defer, wait for it (and count the wait).
    while (received < expect) {
      await new Promise((r) => setTimeout(r, 0));
      if (performance.now() - t0 > 60_000) throw new Error(`${name}: ${received}/${expect} delivered`);
    }
    const ms = performance.now() - t0;
    if (received !== expect || touched <= 0) throw new Error(`${name}: ${received}/${expect} delivered`);
    return ms;
  },
};
window.benchReady = true;
