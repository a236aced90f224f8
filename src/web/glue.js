// All of tether's hand-written JavaScript, in one module: a page (or a bundler) loads one
// snippet file rather than five. Each module file is one more request at start-up, and
// several at once are also what makes the wasm-bindgen test runner's HTTP server stall
// (its thread pool can leave a new connection unserved while the others stay open).
//
// 1. The inbound path (`inbound`, `listen`, the routes mirror), used by src/web/websocket.rs
//    and src/web/routes.rs.
// 2. Small helpers of the JS surface: the socket URL (src/web/driver.rs), the presence mirror
//    (src/web/presence_mirror.rs), presence lists (src/api/presence.rs), the bound notification
//    store (src/api/notifications.rs) and unsubscribe functions (src/api/subscription.rs).

// ---- 1. The inbound path --------------------------------------------------------------------
//
// The WebSocket's inbound path. A text frame is parsed here by the browser's own JSON.parse and,
// when it is a plain message, handed to the channel listeners straight from `routes` — the
// driver's mirror of the core's routing (rebuilt whenever a channel or listener changes), so the
// hot path never enters wasm. Whatever the core must read itself (replies, closes, errors,
// presence, notification events, binary frames, anything malformed or too large) goes to
// the core whole, before any parsing here when the envelope already shows it.

// Whether the envelope already shows an event the core reads (`"phx_…`, `"presence_…`,
// `"notification:…`), so such frames (presence diffs and states, replies) skip a parse here
// that would be thrown away. Only a shortcut: a miss is caught by `coreReads` after parsing,
// and a plain frame taken for a control one is still handled correctly by the core.
// By character codes: `startsWith` and a multi-character `indexOf` cost tens of nanoseconds each
// in V8 where a character read is a load, and this runs on every plain frame.
const codes = (s) => Array.from(s, (c) => c.charCodeAt(0));
const PHX = codes('phx_');
const PRESENCE = codes('presence_');
const NOTIFICATION = codes('notification:');
function wordAt(data, i, word) {
  for (let k = 0; k < word.length; k++) if (data.charCodeAt(i + k) !== word[k]) return false;
  return true;
}
function controlAt(data, i) {
  const c = data.charCodeAt(i);
  if (c === 112) return wordAt(data, i, PHX) || wordAt(data, i, PRESENCE); // p
  return c === 110 && wordAt(data, i, NOTIFICATION); // n
}
// `","` at i.
const sepAt = (data, i) => data.charCodeAt(i) === 34 && data.charCodeAt(i + 1) === 44 && data.charCodeAt(i + 2) === 34;
function looksLikeControl(data) {
  // A broadcast, `[null,null,"topic","event",…`: the event follows the topic's closing quote
  // (unless the topic escapes one). Only the prefix's last quote and comma are checked.
  if (data.charCodeAt(11) === 34 && data.charCodeAt(10) === 44) {
    const q = data.indexOf('"', 12);
    if (q > 0 && data.charCodeAt(q - 1) !== 92 && sepAt(data, q)) return controlAt(data, q + 3);
  }
  // Otherwise: right after one of the first `","` boundaries (between refs, topic and event).
  let from = 0;
  for (let n = 0; n < 3; n++) {
    const i = data.indexOf('","', from);
    if (i < 0 || i > 1024) return false;
    from = i + 3;
    if (controlAt(data, from)) return true;
  }
  return false;
}

const isRef = (v) => v === null || typeof v === 'string';
// Whether the core reads an event itself: built once from the core's rule (`CORE_READS` in
// src/core/client/routing.rs, given to `newRoutes` as space-separated words; a word ending in
// `*` is a prefix).
let coreReads = null;
function coreReadsRule(words) {
  const prefixes = [];
  const events = [];
  for (const w of words.split(' ')) {
    if (w.endsWith('*')) prefixes.push(w.slice(0, -1));
    else events.push(w);
  }
  return (e) => {
    for (let i = 0; i < prefixes.length; i++) if (e.startsWith(prefixes[i])) return true;
    for (let i = 0; i < events.length; i++) if (e === events[i]) return true;
    return false;
  };
}
// A topic or event with a lone surrogate is malformed; the core reports it. Checked only for
// a frame that reached no listener: anything a route matched equals a string the core holds.
const wellFormed = String.prototype.isWellFormed
  ? (s) => s.isWellFormed()
  : (s) => !/[\uD800-\uDFFF]/.test(s);
// A listener that throws is reported (window 'error'), and the others still run. The driver
// reports the exceptions of the callbacks it calls the same way.
export const report = typeof reportError === 'function' ? reportError : (e) => setTimeout(() => { throw e; });

// A string-keyed table for the inbound path. With few keys a lookup compares strings: a topic or
// event fresh from JSON.parse has no hash yet, and computing it costs more than a few compares.
// With many keys, a Map.
const SCAN = 8;
function newTable() {
  return { keys: [], values: [], map: new Map() };
}
function tableGet(t, key) {
  const keys = t.keys;
  if (keys.length > SCAN) return t.map.get(key);
  for (let i = 0; i < keys.length; i++) if (keys[i] === key) return t.values[i];
  return undefined;
}
function tableAdd(t, key, value) {
  t.keys.push(key);
  t.values.push(value);
  t.map.set(key, value);
}

/** topic → [{ joinRef, handlers: event → [listener] }], in the core's delivery order. */
export function newRoutes(coreReadsWords) {
  if (coreReads === null) coreReads = coreReadsRule(coreReadsWords);
  return { table: newTable() };
}

export function clearRoutes(routes) {
  routes.table = newTable();
}

/** Adds a channel to `routes`; returns its (empty) event → listeners table. */
export function addRoute(routes, topic, joinRef) {
  const handlers = newTable();
  const list = tableGet(routes.table, topic);
  if (list === undefined) tableAdd(routes.table, topic, [{ joinRef, handlers }]);
  else list.push({ joinRef, handlers });
  return handlers;
}

export function addHandler(handlers, event, listener) {
  const list = tableGet(handlers, event);
  if (list === undefined) tableAdd(handlers, event, [listener]);
  else list.push(listener);
}

// A text frame at least this long reaches the core as UTF-8 written straight into wasm memory
// by `TextEncoder.encodeInto` (native code), instead of through wasm-bindgen's string copy,
// which walks the string one character at a time in JS while it is ASCII.
const LARGE_UNITS = 16384;
const encoder = new TextEncoder();

/**
 * The socket's `receive(data)`; `routes` null sends everything to the core (other dialects).
 * The core takes a text frame as `slowText(string)`, a binary one as `slowBinary(arrayBuffer)`,
 * or a large text frame as its UTF-8 bytes: `reserve(n)` gives a Uint8Array of n bytes inside
 * wasm memory, `slowUtf8(written)` hands the first `written` of them over.
 */
export function inbound(routes, slowText, slowBinary, maxUnits, reserve, slowUtf8) {
  // A frame of at most `maxUnits` UTF-16 units is at most `maxBytes` of UTF-8, the core's limit.
  const maxBytes = maxUnits * 3;
  const toCore = (data) => {
    if (typeof data !== 'string') {
      slowBinary(data);
      return;
    }
    if (data.length < LARGE_UNITS || data.length > maxBytes) {
      slowText(data);
      return;
    }
    // ASCII fills exactly `length` bytes; anything else takes up to 3 per UTF-16 unit, but
    // never more than the limit: a frame that does not fit is over it, and the core says so.
    let done = encoder.encodeInto(data, reserve(data.length));
    if (done.read < data.length) {
      done = encoder.encodeInto(data, reserve(Math.min(data.length * 3, maxBytes)));
    }
    if (done.read < data.length) {
      reserve(0); // frees the buffer
      slowText(data);
    } else {
      slowUtf8(done.written);
    }
  };
  return (data) => {
    if (routes !== null && typeof data === 'string' && data.length <= maxUnits && !looksLikeControl(data)) {
      let frame;
      try {
        frame = JSON.parse(data);
      } catch (_) {
        frame = null;
      }
      if (Array.isArray(frame) && frame.length === 5) {
        const joinRef = frame[0];
        const topic = frame[2];
        const event = frame[3];
        const payload = frame[4];
        if (isRef(joinRef) && isRef(frame[1]) && typeof topic === 'string' && typeof event === 'string' &&
            payload !== null && typeof payload === 'object' && !Array.isArray(payload) &&
            !coreReads(event)) {
          // A topic or event that matched a route is well-formed (it equals one the core
          // holds), so only a frame that reached no listener is checked, for the core to report.
          if (deliver(tableGet(routes.table, topic), joinRef, event, payload) || (wellFormed(topic) && wellFormed(event))) return;
        }
      }
    }
    toCore(data);
  };
}

// Rebuilding `routes` replaces its arrays and maps, never edits them: a listener that
// subscribes or unsubscribes during delivery changes the next frame's delivery, not this one's.
// Returns whether some channel had listeners for the event.
function deliver(channels, joinRef, event, payload) {
  if (channels === undefined) return false;
  let found = false;
  for (let i = 0; i < channels.length; i++) {
    const ch = channels[i];
    if (joinRef !== null && joinRef !== ch.joinRef) continue;
    const listeners = tableGet(ch.handlers, event);
    if (listeners === undefined) continue;
    found = true;
    for (let j = 0; j < listeners.length; j++) {
      const listener = listeners[j];
      try {
        listener(payload);
      } catch (e) {
        report(e);
      }
    }
  }
  return found;
}

export function listen(ws, receive) {
  ws.onmessage = (e) => receive(e.data);
}

const isThenable = (v) => v !== null && typeof v === 'object' && typeof v.then === 'function';
const messageOf = (e) => (e instanceof Error ? e.message : String(e));

/**
 * Calls a channel's params function and gives `supply(channel, request, ok, value)` its answer:
 * what it returned, or what a returned promise (any thenable) settles to; a throw or a rejection
 * as `ok` false with its message. The core ignores an answer that comes after its join attempt
 * ended.
 */
export function callParams(f, channel, request, supply) {
  const fail = (e) => supply(channel, request, false, messageOf(e));
  let value;
  try {
    value = f();
  } catch (e) {
    fail(e);
    return;
  }
  if (isThenable(value)) Promise.resolve(value).then((v) => supply(channel, request, true, v), fail);
  else supply(channel, request, true, value);
}

/**
 * The socket's params and token for one connect, each a value or what its function returns:
 * `answer(generation, true, params, token)` at once, or once both settle when either is a promise
 * (any thenable); `answer(generation, false, message)` when a function threw or a promise
 * rejected.
 */
export function connectArgs(params, token, generation, answer) {
  const fail = (e) => answer(generation, false, messageOf(e), undefined);
  let p;
  let t;
  try {
    p = typeof params === 'function' ? params() : params;
    t = typeof token === 'function' ? token() : token;
  } catch (e) {
    fail(e);
    return;
  }
  if (isThenable(p) || isThenable(t)) Promise.all([p, t]).then(([a, b]) => answer(generation, true, a, b), fail);
  else answer(generation, true, p, t);
}

// ---- 2. Helpers of the JS surface -----------------------------------------------------------

// The socket's URL (src/web/driver.rs `open_socket`): `http(s)://` endpoints become `ws(s)://`
// and a path-only one gets the page's scheme and host; Phoenix adds `/websocket`; then the
// params (strings as they are, numbers and booleans as JavaScript writes them, other objects
// as JSON; null, undefined and what JSON cannot write are left out) and the dialect's own query
// (`queryText`: JSON `[[key, value], …]`, which wins over a param of the same key), each
// encoded with encodeURIComponent.
export function socket_url(endpoint, params, phoenix, queryText) {
  let base = endpoint.replace(/\/+$/, '');
  if (base.startsWith('http://')) base = 'ws://' + base.slice(7);
  else if (base.startsWith('https://')) base = 'wss://' + base.slice(8);
  else if (base.startsWith('/') && typeof location !== 'undefined') {
    base = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + base;
  }
  if (phoenix && !base.endsWith('/websocket')) base += '/websocket';
  const own = JSON.parse(queryText);
  const pairs = [];
  if (params !== null && (typeof params === 'object' || typeof params === 'function')) {
    for (const [key, value] of Object.entries(params)) {
      const text = paramText(value);
      if (text !== undefined && !own.some((e) => e[0] === key)) pairs.push([key, text]);
    }
  }
  const query = pairs.concat(own).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
  if (query === '') return base;
  return base + (base.includes('?') ? '&' : '?') + query;
}

function paramText(value) {
  switch (typeof value) {
    case 'string': return value;
    case 'number': case 'boolean': return String(value);
    case 'undefined': return undefined;
    default:
      if (value === null) return undefined;
      try {
        return JSON.stringify(value);
      } catch (_) {
        return undefined; // a BigInt inside, or a cycle
      }
  }
}

// A channel's presence list as a Map kept in list order (see presence_mirror.rs).
export function mirror_new(pairs) { return new Map(pairs); }
export function mirror_set(m, key, value, fresh) { if (fresh) m.delete(key); m.set(key, value); }
export function mirror_delete(m, key) { m.delete(key); }
export function mirror_values(m) { return Array.from(m.values()); }
export function mirror_map(m, chooser) { const out = []; for (const [k, v] of m) out.push(chooser(k, v)); return out; }

// `presence.list(chooser?)` over `[[key, presence], ...]`.
export function presence_list(pairs, chooser) { return chooser ? pairs.map((e) => chooser(e[0], e[1])) : pairs.slice(); }
export function presence_values(pairs) { return Object.freeze(pairs.map((e) => e[1])); }
export function pair_of() { return (k, v) => [k, v]; }

// Every method of a class instance as an own property bound to it, so a method can be passed
// on alone (React's `useSyncExternalStore(presence.subscribe, presence.getSnapshot)`).
export function bind_methods(obj) {
  const proto = Object.getPrototypeOf(obj);
  for (const name of Object.getOwnPropertyNames(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (name !== 'constructor' && typeof d.value === 'function') obj[name] = d.value.bind(obj);
  }
  return obj;
}

// The notification store as users see it: plain functions bound to the wasm handle.
export function bound_store(h) {
  return Object.freeze({
    subscribe: (fn) => h.subscribe(fn),
    getSnapshot: () => h.getSnapshot(),
    markRead: (id) => h.markRead(id),
    markAllRead: () => h.markAllRead(),
    refresh: () => h.refresh(),
    onNotification: (fn) => h.onNotification(fn),
  });
}

// An unsubscribe function: the first call removes the listener and frees its handle; later
// calls do nothing.
export function unsubscriber(sub) {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      sub.unsubscribe();
      sub.free();
    }
  };
}

// ---- 3. Argument messages -------------------------------------------------------------------
//
// The text of the argument errors src/api/validate.rs throws (codes and checks stay there):
// building it in JS keeps string formatting, the Levenshtein suggestion and value descriptions
// out of the wasm, where they cost ~4 KB gzip.

// A short description of a value: `undefined`, `null`, `the number 42`, `the string "x"`,
// `an array`, `a Map`, `an object`, `a function`….
export function describe_value(v) {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  const kind = typeof v;
  if (kind === 'string') return `the string ${quote(v)}`;
  if (kind === 'function') return 'a function';
  if (kind === 'object') {
    if (Array.isArray(v)) return 'an array';
    const name = className(v);
    return !name || name === 'Object' ? 'an object' : `${article(name)} ${name}`;
  }
  let text;
  try {
    text = JSON.stringify(v);
  } catch {}
  if (typeof text === 'string' && (kind === 'number' || kind === 'boolean')) {
    // JSON writes NaN and infinities as null: name those by their type only.
    return text === 'null' ? `a ${kind} that is not finite` : `the ${kind} ${text}`;
  }
  return `${article(kind)} ${kind}`;
}

const article = (word) => (/^[aeiou]/i.test(word) ? 'an' : 'a');

// `"text"`, cut to 40 characters.
function quote(text) {
  const chars = Array.from(text);
  return `"${chars.slice(0, 40).join('')}${chars.length > 40 ? '…' : ''}"`;
}

// The name of `v`'s constructor, if it has one.
function className(v) {
  let ctor;
  try {
    ctor = v.constructor;
  } catch {
    return undefined;
  }
  const name = typeof ctor === 'function' ? ctor.name : undefined;
  return typeof name === 'string' && name ? name : undefined;
}

// The message for the first key of option object `obj` not among `known` (names joined by
// commas), or undefined: the option with its `path` (`"reconnect."`), the closest known name
// when one is close, and every known name.
export function unknown_option(obj, call, path, known) {
  if (obj === null || typeof obj !== 'object') return undefined;
  const names = known.split(',');
  for (const key of Object.keys(obj)) {
    if (names.includes(key)) continue;
    let message = `${call}: unknown option ${path}${key}`;
    const near = closest(key, names);
    if (near !== undefined) message += ` (did you mean ${path}${near}?)`;
    const scope = path.replace(/\.+$/, '');
    return `${message}; the known ${scope}${scope ? ' ' : ''}options are: ${names.join(', ')}`;
  }
  return undefined;
}

// The known name closest to `name` (ASCII case aside), if one is close: a few letters apart, or
// one name inside the other with letters left out (`heartbeatIntervalMs` → `heartbeatMs`).
// Compared as UTF-8 bytes.
function closest(name, known) {
  const bytes = (s) => new TextEncoder().encode(s.replace(/[A-Z]/g, (c) => c.toLowerCase()));
  const n = bytes(name);
  let best;
  let bestDistance = Infinity;
  for (const k of known) {
    const low = bytes(k);
    const d = distance(n, low);
    const near = d <= Math.max(Math.floor(low.length / 3), 1) ||
      (Math.min(low.length, n.length) >= 3 && (subsequence(low, n) || subsequence(n, low)));
    if (near && d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

// Levenshtein distance of two byte arrays.
function distance(a, b) {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 0; i < a.length; i++) {
    const next = [i + 1];
    for (let j = 0; j < b.length; j++) {
      next.push(Math.min(row[j + 1] + 1, next[j] + 1, row[j] + (a[i] !== b[j] ? 1 : 0)));
    }
    row = next;
  }
  return row[b.length];
}

// Whether `short`'s bytes appear in `long` in order.
function subsequence(short, long) {
  let at = 0;
  for (const c of short) {
    while (at < long.length && long[at] !== c) at++;
    if (at === long.length) return false;
    at++;
  }
  return true;
}

// Why a payload is not a plain object (`{...}` or `Object.create(null)`), with how to send it,
// or undefined when it is one (or is undefined or null: those are sent as `{}`).
export function payload_problem(v) {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object') {
    return `the payload is ${describe_value(v)}: a Phoenix payload is a plain object, e.g. {value: …}`;
  }
  if (Array.isArray(v)) {
    return 'the payload is an array: a Phoenix payload is a plain object; wrap it, e.g. {items: [...]}';
  }
  const proto = Object.getPrototypeOf(v);
  // A plain object's prototype is null or a realm's Object.prototype (whose own is null).
  if (proto === null || Object.getPrototypeOf(proto) === null) return undefined;
  const hint = {
    Map: 'convert it with Object.fromEntries(map)',
    Set: 'send its values as an array, e.g. {items: [...set]}',
    Date: 'send the time in an object, e.g. {at: date.toISOString()}',
  }[className(v)] ?? 'copy its fields into a plain object, e.g. {...value}';
  return `the payload is ${describe_value(v)}, not a plain object (JSON would not carry it as it is): ${hint}`;
}

// What is wrong with the socket URL, or undefined: it takes `ws://`, `wss://`, `http://` or
// `https://` with a host, or a path starting with `/` (on the page's own host).
export function url_problem(url) {
  const takes = 'pass the endpoint as "wss://example.com/socket", "ws://localhost:4000/socket" ' +
    'or a path on this page\'s host ("/socket")';
  const bad = (why) => `new Socket(url): ${why}; ${takes}`;
  if (typeof url !== 'string') return `new Socket(url): url must be a string, got ${describe_value(url)}; ${takes}`;
  if (url === '') return bad('the URL is empty');
  const quoted = quote(url);
  const notUrl = bad(`${quoted} is not a URL or a path starting with /`);
  // Spaces and control characters (a URL has them percent-encoded), or `//host` without a
  // scheme: not a URL tether can open.
  if (/[\0- \x7f]/.test(url) || url.startsWith('//')) return notUrl;
  if (url.startsWith('/')) return undefined;
  const colon = url.indexOf(':');
  if (colon < 0 || url.slice(colon, colon + 3) !== '://') return notUrl;
  const scheme = url.slice(0, colon);
  if (!/^(wss?|https?)$/i.test(scheme)) {
    return bad(`${quoted} has the scheme "${scheme}": a socket URL takes ws, wss, http or https`);
  }
  // The host: after any `user@`, up to the path, query or fragment; it must not be empty.
  const host = url.slice(colon + 3).split(/[/?#]/)[0].split('@').pop();
  if (host === '' || host.startsWith(':')) return bad(`${quoted} has no host`);
  return undefined;
}
