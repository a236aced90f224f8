// Mistakes at the call (issue 19), in a real page on the release build against the demo server:
// each row makes one mistake a user can make with the API and asserts that it is a TetherError
// thrown at the call (or, for a call that returns a promise, a promise rejected at once) with
// the row's code and a message that says what is wrong. Rows that must be accepted are checked
// too, and the page's socket still works after every mistake.
//
// Needs `./pkg-template/build` and `cargo build -p tether-demo` first (./tests/run does both).
// Run: `cd tests && node --test js/api_errors.test.mjs`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageSitePerFile } from './lib/page_site.mjs';

// `attempt(body)` runs `body` (a function body over `ctx`) and says how it ended: a throw, a
// returned promise that rejected or resolved (waited for at most 3 s: a row that hangs says
// so), or a plain return.
const ATTEMPT = `
const describe = (e) => ({ isError: e instanceof Error, name: e?.name, code: e?.code, message: String(e?.message ?? e) });
window.attempt = async (body) => {
  let value;
  try {
    value = new Function('ctx', body)(window.ctx);
  } catch (e) {
    return { how: 'threw', ...describe(e) };
  }
  if (!value || typeof value.then !== 'function') return { how: 'returned' };
  let timer;
  const late = new Promise((r) => { timer = setTimeout(() => r({ how: 'pending after 3 s' }), 3000); });
  try {
    return await Promise.race([value.then(() => ({ how: 'resolved' }), (e) => ({ how: 'rejected', ...describe(e) })), late]);
  } finally {
    clearTimeout(timer);
  }
};`;

const PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module">
import init, { Socket } from './pkg/tether.js';
await init();
${ATTEMPT}
const socket = new Socket('/socket', { reconnect: { minMs: 100, maxMs: 500 } });
const errors = [];
socket.onError((e) => errors.push(e.code));
socket.connect();
const room = socket.channel('room:api-errors', { name: 'api-errors' });
await room.join();
const presence = room.presence();
const store = socket.notifications('nobody');
window.ctx = { Socket, socket, room, presence, store, errors };
window.ready = true;
</script>`;

// The same helpers, with the package imported but `init()` never called.
const NO_INIT_PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module">
import init, { Socket } from './pkg/tether.js';
${ATTEMPT}
window.ctx = { Socket };
window.ready = true;
</script>`;

const site = pageSitePerFile({ 'p.html': PAGE, 'no_init.html': NO_INIT_PAGE });

// A 10,000-deep object, built in the page.
const DEEP = 'let o = {}; for (let i = 0; i < 10000; i++) o = { o };';

/** [what, body, how it must end, code, message pattern] */
const MISTAKES = [
  // push's event
  ['push(undefined, …)', 'return ctx.room.push(undefined, {})', 'rejected', 'invalid_event', /channel\.push\(event, payload\): event must be a non-empty string .*got undefined/],
  ['push(42, …)', 'return ctx.room.push(42, {})', 'rejected', 'invalid_event', /event must be a non-empty string .*got the number 42/],
  ['push("", …)', 'return ctx.room.push("", {})', 'rejected', 'invalid_event', /got the string ""/],
  ['on(42, callback)', 'return ctx.room.on(42, () => {})', 'threw', 'invalid_event', /channel\.on\(event, callback\): event must be a non-empty string .*got the number 42/],
  // callbacks
  ['channel.on("x", "not a function")', 'return ctx.room.on("x", "not a function")', 'threw', 'invalid_callback', /channel\.on\(event, callback\): callback must be a function, got the string "not a function"/],
  ['socket.onState(undefined)', 'return ctx.socket.onState(undefined)', 'threw', 'invalid_callback', /socket\.onState\(callback\): callback must be a function, got undefined/],
  ['socket.onError(null)', 'return ctx.socket.onError(null)', 'threw', 'invalid_callback', /socket\.onError\(callback\): callback must be a function, got null/],
  ['socket.onTelemetry({})', 'return ctx.socket.onTelemetry({})', 'threw', 'invalid_callback', /socket\.onTelemetry\(callback\): callback must be a function, got an object/],
  ['channel.onState(1)', 'return ctx.room.onState(1)', 'threw', 'invalid_callback', /channel\.onState\(callback\): callback must be a function, got the number 1/],
  ['channel.onJoin("f")', 'return ctx.room.onJoin("f")', 'threw', 'invalid_callback', /channel\.onJoin\(callback\): callback must be a function, got the string "f"/],
  ['presence.onJoin(undefined)', 'return ctx.presence.onJoin(undefined)', 'threw', 'invalid_callback', /presence\.onJoin\(callback\): callback must be a function, got undefined/],
  ['presence.onLeave(5)', 'return ctx.presence.onLeave(5)', 'threw', 'invalid_callback', /presence\.onLeave\(callback\): callback must be a function, got the number 5/],
  ['presence.onSync([])', 'return ctx.presence.onSync([])', 'threw', 'invalid_callback', /presence\.onSync\(callback\): callback must be a function, got an array/],
  ['presence.subscribe(null)', 'return ctx.presence.subscribe(null)', 'threw', 'invalid_callback', /presence\.subscribe\(callback\): callback must be a function, got null/],
  ['presence.list("name")', 'return ctx.presence.list("name")', 'threw', 'invalid_callback', /presence\.list\(chooser\): chooser must be a function, got the string "name"/],
  ['store.subscribe(undefined)', 'return ctx.store.subscribe(undefined)', 'threw', 'invalid_callback', /store\.subscribe\(callback\): callback must be a function, got undefined/],
  ['store.onNotification(true)', 'return ctx.store.onNotification(true)', 'threw', 'invalid_callback', /store\.onNotification\(callback\): callback must be a function, got the boolean true/],
  // option values
  ['reconnect minMs > maxMs', 'return new ctx.Socket("/socket", { reconnect: { minMs: 5000, maxMs: 100 } })', 'threw', 'invalid_option', /reconnect\.minMs \(5000\) must not be above reconnect\.maxMs \(100\)/],
  ['rejoin minMs above the default maxMs', 'return new ctx.Socket("/socket", { rejoin: { minMs: 60000 } })', 'threw', 'invalid_option', /rejoin\.minMs \(60000\) must not be above rejoin\.maxMs \(10000, the default\)/],
  ['heartbeatMs: 0', 'return new ctx.Socket("/socket", { heartbeatMs: 0 })', 'threw', 'invalid_option', /option heartbeatMs must be at least 1/],
  ['timeoutMs: 0', 'return new ctx.Socket("/socket", { timeoutMs: 0 })', 'threw', 'invalid_option', /option timeoutMs must be at least 1/],
  ['maxFrameBytes: 0', 'return new ctx.Socket("/socket", { maxFrameBytes: 0 })', 'threw', 'invalid_option', /option maxFrameBytes must be at least 1/],
  ['heartbeatMs: "30s"', 'return new ctx.Socket("/socket", { heartbeatMs: "30s" })', 'threw', 'invalid_option', /option heartbeatMs must be a non-negative number/],
  ['notifications cap: 0', 'return ctx.socket.notifications("u1", { cap: 0 })', 'threw', 'invalid_option', /option cap must be at least 1/],
  ['notifications persist: "no"', 'return ctx.socket.notifications("u1", { persist: "no" })', 'threw', 'invalid_option', /option persist must be true or false/],
  ['push timeoutMs: 0', 'return ctx.room.push("echo", {}, { timeoutMs: 0 })', 'rejected', 'invalid_option', /option timeoutMs must be at least 1/],
  ['reconnect.onClose not a function', 'return new ctx.Socket("/socket", { reconnect: { onClose: "stop" } })', 'threw', 'invalid_option', /option reconnect\.onClose must be a function \(code, reason\)/],
  ['sendBuffer: 5', 'return new ctx.Socket("/socket", { sendBuffer: 5 })', 'threw', 'invalid_option', /option sendBuffer must be an object/],
  // URLs
  ['new Socket("")', 'return new ctx.Socket("")', 'threw', 'invalid_url', /new Socket\(url\): the URL is empty; pass the endpoint as "wss:\/\/example\.com\/socket"/],
  ['new Socket("not a url")', 'return new ctx.Socket("not a url")', 'threw', 'invalid_url', /"not a url" is not a URL/],
  ['new Socket("socket")', 'return new ctx.Socket("socket")', 'threw', 'invalid_url', /"socket" is not a URL or a path starting with \//],
  ['new Socket("ftp://…")', 'return new ctx.Socket("ftp://example.com/socket")', 'threw', 'invalid_url', /has the scheme "ftp": a socket URL takes ws, wss, http or https/],
  ['new Socket("ws://")', 'return new ctx.Socket("ws:///socket")', 'threw', 'invalid_url', /"ws:\/\/\/socket" has no host/],
  ['new Socket(undefined)', 'return new ctx.Socket(undefined)', 'threw', 'invalid_url', /url must be a string, got undefined/],
  // unknown option names, at every level
  ['a typo: heartbeatIntervalMs', 'return new ctx.Socket("/socket", { heartbeatIntervalMs: 5000 })', 'threw', 'invalid_option', /new Socket\(url, options\): unknown option heartbeatIntervalMs \(did you mean heartbeatMs\?\); the known options are: protocol, params, authToken, reconnect, rejoin, heartbeatMs, timeoutMs, sendBuffer, maxFrameBytes$/],
  ['reconnect.minMS', 'return new ctx.Socket("/socket", { reconnect: { minMS: 100 } })', 'threw', 'invalid_option', /unknown option reconnect\.minMS \(did you mean reconnect\.minMs\?\); the known reconnect options are: minMs, maxMs, jitter, maxAttempts, resetAfterMs, schedule, onClose$/],
  ['rejoin.onClose', 'return new ctx.Socket("/socket", { rejoin: { onClose: () => "stop" } })', 'threw', 'invalid_option', /unknown option rejoin\.onClose; the known rejoin options are: minMs, maxMs, jitter, maxAttempts, resetAfterMs, schedule$/],
  ['sendBuffer.maxSize', 'return new ctx.Socket("/socket", { sendBuffer: { maxSize: 5 } })', 'threw', 'invalid_option', /unknown option sendBuffer\.maxSize \(did you mean sendBuffer\.max\?\); the known sendBuffer options are: max, ttlMs$/],
  ['store option capacity', 'return ctx.socket.notifications("u1", { capacity: 10 })', 'threw', 'invalid_option', /socket\.notifications\(userId, options\): unknown option capacity \(did you mean cap\?\); the known options are: cap, persist$/],
  ['presence option leaveGrace', 'return ctx.room.presence({ leaveGrace: 100 })', 'threw', 'invalid_option', /channel\.presence\(options\): unknown option leaveGrace \(did you mean leaveGraceMs\?\)/],
  ['a second presence() with another leaveGraceMs', 'return ctx.room.presence({ leaveGraceMs: 500 })', 'threw', 'invalid_option', /leaveGraceMs is 0, set by the first presence\(\) call of this channel/],
  ['push option timeout', 'return ctx.room.push("echo", {}, { timeout: 100 })', 'rejected', 'invalid_option', /channel\.push\(event, payload, options\): unknown option timeout \(did you mean timeoutMs\?\)/],
  // payloads
  ['a Map payload', 'return ctx.room.push("echo", new Map([["a", 1]]))', 'rejected', 'invalid_payload', /the payload is a Map, not a plain object .*convert it with Object\.fromEntries\(map\)/],
  ['a Set payload', 'return ctx.room.push("echo", new Set([1]))', 'rejected', 'invalid_payload', /the payload is a Set, not a plain object .*\[\.\.\.set\]/],
  ['a Date payload', 'return ctx.room.push("echo", new Date(0))', 'rejected', 'invalid_payload', /the payload is a Date, not a plain object .*toISOString/],
  ['a class instance payload', 'class Msg { constructor() { this.body = "hi"; } } return ctx.room.push("echo", new Msg())', 'rejected', 'invalid_payload', /the payload is a Msg, not a plain object .*\{\.\.\.value\}/],
  ['an array payload', 'return ctx.room.push("echo", [1, 2])', 'rejected', 'invalid_payload', /the payload is an array: a Phoenix payload is a plain object; wrap it/],
  ['a string payload', 'return ctx.room.push("echo", "hi")', 'rejected', 'invalid_payload', /the payload is the string "hi": a Phoenix payload is a plain object/],
  ['a 10,000-deep payload', `${DEEP} return ctx.room.push("echo", o)`, 'rejected', 'invalid_payload', /the payload is nested deeper than 127 levels of objects and arrays/],
  ['a BigInt inside', 'return ctx.room.push("echo", { n: 10n })', 'rejected', 'invalid_payload', /the payload cannot be written as JSON: .*BigInt/],
  ['a cycle', 'const a = {}; a.self = a; return ctx.room.push("echo", a)', 'rejected', 'invalid_payload', /the payload cannot be written as JSON: .*circular/i],
  ['a Map as channel params', 'return ctx.socket.channel("room:x", new Map())', 'threw', 'invalid_payload', /a Map, not a plain object/],
];

/** Calls that must be accepted: [what, body, how it must end]. */
const ACCEPTED = [
  ['a path URL', 'new ctx.Socket("/socket").free()', 'returned'],
  ['a ws URL with a port', 'new ctx.Socket("ws://127.0.0.1:4000/socket").free()', 'returned'],
  ['an https URL', 'new ctx.Socket("https://example.com/socket").free()', 'returned'],
  ['every known option', `new ctx.Socket("/socket", { protocol: "phoenix", params: {}, authToken: "t",
    reconnect: { minMs: 10, maxMs: 10, jitter: 0, maxAttempts: 3, resetAfterMs: 0, onClose: () => "retry" },
    rejoin: { schedule: () => 5 }, heartbeatMs: 1, timeoutMs: 1, sendBuffer: { max: 0, ttlMs: 0 }, maxFrameBytes: 1 }).free()`, 'returned'],
  ['a payload of Object.create(null)', 'const p = Object.create(null); p.a = 1; return ctx.room.push("echo", p)', 'resolved'],
  ['a payload nested 100 deep', 'let o = {}; for (let i = 0; i < 100; i++) o = { o }; return ctx.room.push("echo", o)', 'resolved'],
  ['a second presence() with the same leaveGraceMs', 'ctx.room.presence({ leaveGraceMs: 0 }); ctx.room.presence()', 'returned'],
  ['undefined options and payload', 'return ctx.room.push("echo", undefined, undefined)', 'resolved'],
];

// Rows for calls whose checks come with other branches of this round (expected to fail until
// those are merged): init() (not_initialized) and socket.free() (closed_socket).
const AFTER_FREE = [
  ['connect() after free()', 'const s = new ctx.Socket("/socket"); s.free(); return s.connect()', 'threw', 'closed_socket', /free/],
  ['a pending join() when free() is called',
    'const s = new ctx.Socket("/socket"); const c = s.channel("room:freed", {}); const p = c.join(); s.free(); return p',
    'rejected', 'closed_socket', /free/],
  ['push() on a channel of a freed socket',
    'const s = new ctx.Socket("/socket"); const c = s.channel("room:freed", {}); c.join().catch(() => {}); s.free(); return c.push("echo", {})',
    'rejected', 'closed_socket', /free/],
];

let page;
async function open(path) {
  const p = await site.browser.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  await p.goto(`${site.server.url}/${path}`);
  await p.waitForFunction(() => window.ready === true, null, { timeout: 10_000 });
  return { p, errors };
}

function check(result, [what, , how, code, message]) {
  assert.equal(result.how, how, `${what}: ${JSON.stringify(result)}`);
  assert.equal(result.isError, true, `${what}: an Error`);
  assert.equal(result.name, 'TetherError', `${what}: ${JSON.stringify(result)}`);
  assert.equal(result.code, code, `${what}: ${JSON.stringify(result)}`);
  assert.match(result.message, message, `${what}`);
}

test('every mistake is a coded TetherError at the call; the socket keeps working', { timeout: 60_000 }, async () => {
  const { p, errors } = await open('p.html');
  page = p;
  for (const row of MISTAKES) {
    check(await page.evaluate((body) => window.attempt(body), row[1]), row);
  }
  for (const [what, body, how] of ACCEPTED) {
    const result = await page.evaluate((b) => window.attempt(b), body);
    assert.equal(result.how, how, `${what}: ${JSON.stringify(result)}`);
  }
  // Still joined and answering after all of that.
  const echo = await page.evaluate(() => window.ctx.room.push('echo', { after: 'mistakes' }));
  assert.deepEqual(echo, { after: 'mistakes' });
  // The store of 'nobody' on this anonymous socket is refused by the server (join_refused, on
  // every rejoin); nothing else may reach onError.
  const events = await page.evaluate(() => window.ctx.errors);
  assert.deepEqual(events.filter((c) => c !== 'join_refused'), [], 'no error events: each mistake was thrown at its call');
  assert.deepEqual(errors, [], 'no page errors');
  await page.close();
});

test('Socket before init() is not_initialized, naming init()', { timeout: 20_000 }, async () => {
  const { p } = await open('no_init.html');
  check(await p.evaluate(() => window.attempt('return new ctx.Socket("/socket")')),
    ['new Socket before init()', '', 'threw', 'not_initialized', /init\(\)/]);
  await p.close();
});

for (const row of AFTER_FREE) {
  test(`${row[0]} is closed_socket`, { timeout: 20_000 }, async () => {
    const { p } = await open('p.html');
    check(await p.evaluate((body) => window.attempt(body), row[1]), row);
    await p.close();
  });
}
