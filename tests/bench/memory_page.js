// Memory benchmark page (P5): tether's wasm memory and the page's JS heap across many inbound
// frames and many reconnect cycles. Served by the runner's small Node server (memory.mjs), whose
// WebSocket endpoints are `/stay/websocket` (answers joins and heartbeats, stays open) and
// `/cycle/websocket` (answers the join, sends a presence_state and a broadcast, then closes).
// Exposes window.bench.
import init, { Socket } from './pkg/tether.js';

const wasm = await init();
/** The wasm module's memory (wasm-bindgen's `init()` resolves to the instance's exports). */
window.wasmMemory = wasm.memory;
const TOPIC = 'room:bench-memory';

// ---- socket 1: joined, fed frames through _receiver() -----------------------------------------

let messages = 0;
let touched = 0;
let syncs = 0;
const socket = new Socket('/stay', { heartbeatMs: 30000 });
socket.connect();
const channel = socket.channel(TOPIC, { name: 'bench-memory' });
channel.on('new_msg', (p) => { messages += 1; touched += p.seq; });
const presence = channel.presence({});
presence.onJoin(() => {});
presence.onLeave(() => {});
presence.onSync(() => { syncs += 1; });
await channel.join();
// The server's presence_state for this join arrives right after the reply.
await new Promise((r) => setTimeout(r, 100));
const receive = socket._receiver();

const WORDS = 'the quick brown fox jumps over lazy dog héllo 世界 🎉 deploy merged review build'.split(' ');
/** 1,000 broadcast texts (200 B – 1.5 KB) and 2,000 diffs cycling through 2,000 keys, 500 present. */
const broadcasts = [];
for (let i = 0; i < 1000; i++) {
  const payload = {
    id: `msg_${i}`, seq: i + 1, user: { id: i % 97, name: WORDS[i % WORDS.length] },
    body: Array.from({ length: 10 + (i % 60) }, (_, k) => WORDS[(i * 7 + k) % WORDS.length]).join(' '),
    tags: Array.from({ length: i % 8 }, (_, k) => ({ k, v: WORDS[k % WORDS.length] })),
  };
  broadcasts.push(JSON.stringify([null, null, TOPIC, 'new_msg', payload]));
}
const KEYS = 2000;
const PRESENT = 500;
const meta = (k) => ({ phx_ref: `m${k}`, name: `user ${k}`, online_at: 1763900000000 + k, device: k % 3 ? 'web' : 'phone' });
const diffs = [];
for (let j = 0; j < KEYS; j++) {
  const gone = (j - PRESENT + KEYS) % KEYS;
  const payload = { joins: { [`u:${j}`]: { metas: [meta(j)] } }, leaves: { [`u:${gone}`]: { metas: [meta(gone)] } } };
  diffs.push(JSON.stringify([null, null, TOPIC, 'presence_diff', payload]));
}

let fed = 0;
/** Feeds `n` frames, alternately a broadcast and a presence diff, yielding every 10k frames. */
async function frames(n) {
  const before = messages;
  for (let i = 0; i < n; i++, fed++) {
    receive(fed % 2 ? diffs[(fed >> 1) % KEYS] : broadcasts[(fed >> 1) % broadcasts.length]);
    if (i % 10_000 === 9_999) await new Promise((r) => setTimeout(r, 0));
  }
  if (messages - before < Math.floor(n / 2)) throw new Error(`only ${messages - before} broadcasts of ${n / 2} delivered`);
  return { fed, presenceKeys: presence.list().length, syncs };
}

// ---- socket 2: reconnect cycles against /cycle -----------------------------------------------

let joins = 0;
let cycleMessages = 0;
const cycler = new Socket('/cycle', { reconnect: { minMs: 1, maxMs: 5, jitter: 0 }, heartbeatMs: 30000 });
const room = cycler.channel(TOPIC, { name: 'bench-cycler' });
room.on('new_msg', () => { cycleMessages += 1; });
const roomPresence = room.presence({});
roomPresence.onSync(() => {});
room.onJoin(() => { joins += 1; });
room.join().catch(() => {});

/** Runs `n` connect → open → join → server close cycles; returns when the n-th join is done. */
async function cycles(n) {
  const target = joins + n;
  const t0 = performance.now();
  cycler.connect();
  while (joins < target) {
    await new Promise((r) => setTimeout(r, 5));
    if (performance.now() - t0 > 120_000) throw new Error(`only ${joins - target + n} of ${n} cycles in 120 s`);
  }
  cycler.disconnect();
  await new Promise((r) => setTimeout(r, 20));
  return { joins, ms: performance.now() - t0, cycleMessages };
}

window.bench = {
  frames,
  cycles,
  wasmBytes: () => window.wasmMemory.buffer.byteLength,
};
window.benchReady = true;
