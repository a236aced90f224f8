// The reference for tether's presence merge: the official phoenix.js `Presence`, driven through a
// stub channel. Used by tests/core/presence_differential.rs, which runs it once per batch:
//
//   node tests/js/presence_oracle.mjs <input.json>        (or the JSON on stdin)
//
// Input:  {"sequences": [[event, ...], ...]} with events
//           {"t": "state", "p": <presence_state payload>}
//           {"t": "diff",  "p": <presence_diff payload>}
//           {"t": "rejoin"}       (the channel's join ref changes: a reconnect and rejoin)
// Output: one line of JSON, an array with per sequence either
//           {"log": [...], "list": [[key, presence], ...]}   or   {"error": "<message>"}
//         where log is every callback in order, its arguments serialized when it was called:
//           ["join", key, current | null, joined], ["leave", key, remaining, left], ["sync"]
//
// The stub channel is `{on(event, cb), joinRef()}`; events are emitted by calling the registered
// callbacks with the payload as JSON.parse made it (as phoenix.js's socket would deliver it, so
// `__proto__` is an own property). Each sequence starts with a joined channel (join ref "1") and
// a fresh `Presence`; a rejoin moves the join ref on, so diffs are held until the next state.
//
// Keys that are Object.prototype property names (`__proto__`, `constructor`, `toString`, ...):
// older phoenix.js indexed presences with plain objects, where `state[key]` is truthy for those
// names, and crashed (TypeError) or merged wrongly. phoenix 1.8.16 (the pinned version) keeps its
// state in null-prototype objects and handles them. At start-up the oracle probes the installed
// phoenix.js with such keys: if it handles them, keys are passed through untouched (the strongest
// comparison). Only if the probe fails does the oracle map each such key to a unique placeholder
// that is not array-index-like ("\u0000proto:<name>", so it keeps its insertion-order position)
// before calling phoenix.js, and map it back in the output; the mode is reported on stderr.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const { Presence } = await import(join(here, "..", "node_modules", "phoenix", "priv", "static", "phoenix.mjs"));

const PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype);
const PLACEHOLDER = "\u0000proto:";

function snapshot(v) {
  return v === undefined ? null : JSON.parse(JSON.stringify(v));
}

function run(events, mapKey, unmapKey) {
  const callbacks = Object.create(null);
  let joinRef = 1;
  const channel = {
    on(event, cb) { callbacks[event] = cb; },
    joinRef() { return String(joinRef); },
  };
  const presence = new Presence(channel);
  const log = [];
  presence.onJoin((key, current, joined) => log.push(["join", unmapKey(key), snapshot(current), snapshot(joined)]));
  presence.onLeave((key, remaining, left) => log.push(["leave", unmapKey(key), snapshot(remaining), snapshot(left)]));
  presence.onSync(() => log.push(["sync"]));
  for (const ev of events) {
    if (ev.t === "rejoin") {
      joinRef += 1;
    } else if (ev.t === "state") {
      callbacks.presence_state(mapMap(ev.p, mapKey));
    } else if (ev.t === "diff") {
      const p = ev.p;
      const diff = {};
      for (const k of Object.getOwnPropertyNames(p)) {
        diff[k] = (k === "joins" || k === "leaves") ? mapMap(p[k], mapKey) : p[k];
      }
      callbacks.presence_diff(diff);
    } else {
      throw new Error(`unknown event ${JSON.stringify(ev)}`);
    }
  }
  const list = presence.list((key, p) => [unmapKey(key), snapshot(p)]);
  return { log, list };
}

/// The same object with its keys mapped (the identity when no mapping is needed).
function mapMap(obj, mapKey) {
  if (mapKey === identity || obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    return obj;
  }
  const out = {};
  for (const k of Object.getOwnPropertyNames(obj)) {
    out[mapKey(k)] = obj[k];
  }
  return out;
}

function identity(k) { return k; }
const mapProto = (k) => (PROTO_NAMES.includes(k) ? PLACEHOLDER + k : k);
const unmapProto = (k) => (k.startsWith(PLACEHOLDER) ? k.slice(PLACEHOLDER.length) : k);

/// True when phoenix.js merges Object.prototype names as ordinary keys.
function handlesPrototypeNames() {
  try {
    for (const name of PROTO_NAMES) {
      const k = JSON.stringify(name);
      const events = [
        { t: "diff", p: JSON.parse(`{"joins": {${k}: {"metas": [{"phx_ref": "b"}]}}, "leaves": {}}`) },
        { t: "state", p: JSON.parse(`{${k}: {"metas": [{"phx_ref": "a"}]}}`) },
        { t: "diff", p: JSON.parse(`{"joins": {}, "leaves": {${k}: {"metas": [{"phx_ref": "a"}]}}}`) },
      ];
      const { log, list } = run(events, identity, identity);
      const want = JSON.stringify({
        log: [
          ["join", name, null, { metas: [{ phx_ref: "a" }] }],
          ["join", name, { metas: [{ phx_ref: "a" }] }, { metas: [{ phx_ref: "b" }] }],
          ["sync"],
          ["leave", name, { metas: [{ phx_ref: "b" }] }, { metas: [{ phx_ref: "a" }] }],
          ["sync"],
        ],
        list: [[name, { metas: [{ phx_ref: "b" }] }]],
      });
      if (JSON.stringify({ log, list }) !== want) { return false; }
    }
    return true;
  } catch {
    return false;
  }
}

const input = JSON.parse(readFileSync(process.argv[2] ?? 0, "utf8"));
const raw = handlesPrototypeNames();
process.stderr.write(`presence_oracle: prototype-name keys ${raw ? "passed through" : "mapped to placeholders"}\n`);
const [mapKey, unmapKey] = raw ? [identity, identity] : [mapProto, unmapProto];
const results = input.sequences.map((events) => {
  try {
    return run(events, mapKey, unmapKey);
  } catch (e) {
    return { error: String(e && e.stack ? e.stack : e) };
  }
});
process.stdout.write(JSON.stringify(results) + "\n");
