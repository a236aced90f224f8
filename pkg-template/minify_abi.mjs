// Shortens the names the wasm module and its JS glue use to talk to each other.
//
// wasm-bindgen names every import after its JS function plus a 16-hex-digit hash
// (`__wbg_close_2a8b1ba07b9e0fee`), and every export after its Rust path
// (`notificationstorehandle_markAllRead`, `wasm_bindgen__convert__closures_____invoke__h…`).
// Both files carry each name once or more, and the hashes do not compress. This script renames
// them to one- or two-character names, every import from one module `a`:
//   - in the module, by rewriting its import and export sections (nothing else changes; the
//     `memory` export keeps its name, since apps read it from what `init()` resolves to);
//   - in the glue: `wasm.<export>` property reads; the keys of the import object built in
//     `__wbg_get_imports` and its return value (one module `a`, the snippet functions taken
//     from one namespace import of their file).
// (tether.d.ts's `InitOutput`, which lists the raw exports, is replaced by guard_glue.mjs.)
// It fails, and so fails the build, when an import the module needs has no function in the
// glue, or when an old export name survives in the glue.
//
// Usage: node pkg-template/minify_abi.mjs <pkg dir> <out-name>
// Run on wasm-bindgen's unminified output, before esbuild.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, name] = process.argv.slice(2);
if (!dir || !name) throw new Error('usage: minify_abi.mjs <pkg dir> <out-name>');
const wasmPath = join(dir, `${name}_bg.wasm`);
const jsPath = join(dir, `${name}.js`);
const MODULE = 'a'; // the one module every import comes from
const KEEP = new Set(['memory']); // read by apps from what `init()` resolves to

const fail = (msg) => { throw new Error(`minify_abi: ${msg}`); };

// ---- the module: rename in the import and export sections -----------------------------------
/** Short names: a, b, …, Z, $, _, then two characters, and so on. */
const ALPHA = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ$_';
const shortName = (n) => {
  let s = '';
  do { s += ALPHA[n % ALPHA.length]; n = Math.floor(n / ALPHA.length); } while (n > 0);
  return s;
};

const bytes = readFileSync(wasmPath);
let at = 0;
const u8 = () => { if (at >= bytes.length) fail('truncated module'); return bytes[at++]; };
const leb = () => {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    const b = u8();
    v |= BigInt(b & 0x7f) << shift;
    shift += 7n;
    if (b < 0x80) return v;
  }
};
const text = () => { const n = Number(leb()); const s = bytes.subarray(at, at + n).toString('utf8'); at += n; return s; };
const encLeb = (v) => {
  const out = [];
  let x = BigInt(v);
  do { let b = Number(x & 0x7fn); x >>= 7n; if (x) b |= 0x80; out.push(b); } while (x);
  return Buffer.from(out);
};
const encText = (s) => { const b = Buffer.from(s, 'utf8'); return Buffer.concat([encLeb(b.length), b]); };

if (bytes.readUInt32LE(0) !== 0x6d736100) fail('not a wasm module');
at = 8;
const parts = [bytes.subarray(0, 8)];
const map = { imports: [], exports: [] };
let counter = 0;
while (at < bytes.length) {
  const sectionStart = at;
  const id = u8();
  const size = Number(leb()); // possibly padded: other sections are copied byte for byte
  const bodyEnd = at + size;
  if (bodyEnd > bytes.length) fail('truncated section');
  if (id !== 2 && id !== 7) {
    parts.push(bytes.subarray(sectionStart, bodyEnd));
    at = bodyEnd;
    continue;
  }
  const count = Number(leb());
  const out = [encLeb(count)];
  for (let i = 0; i < count; i++) {
    if (id === 2) {
      const module = text();
      const field = text();
      const descStart = at;
      const kind = u8();
      if (kind === 0) leb(); // function: type index
      else if (kind === 1 || kind === 2) { // table (reftype, limits) or memory (limits)
        if (kind === 1) u8();
        const flags = u8();
        leb();
        if (flags & 1) leb();
      } else if (kind === 3) { u8(); u8(); } // global: value type, mutability
      else if (kind === 4) { u8(); leb(); } // tag: attribute, type index
      else fail(`import kind ${kind}`);
      const short = shortName(counter++);
      map.imports.push([module, field, short]);
      out.push(encText(MODULE), encText(short), bytes.subarray(descStart, at));
    } else {
      const field = text();
      const descStart = at;
      u8();
      leb();
      const short = KEEP.has(field) ? field : shortName(counter++);
      if (short !== field) map.exports.push([field, short]);
      out.push(encText(short), bytes.subarray(descStart, at));
    }
  }
  if (at !== bodyEnd) fail(`section ${id} not read to its end`);
  const body = Buffer.concat(out);
  parts.push(Buffer.from([id]), encLeb(body.length), body);
}
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
let js = readFileSync(jsPath, 'utf8');

// ---- exports: `wasm.old` → `wasm.new` -------------------------------------------------------
for (const [old, short] of map.exports) {
  js = js.replace(new RegExp(`\\bwasm\\.${escape(old)}(?![\\w$])`, 'g'), `wasm.${short}`);
}
for (const [old] of map.exports) {
  if (new RegExp(`\\bwasm\\.${escape(old)}(?![\\w$])`).test(js)) fail(`export ${old} still read by its old name`);
}

// ---- imports --------------------------------------------------------------------------------
// Namespace imports of snippet files: `import * as importN from "path"`; one is kept per path.
const namespaces = new Map();
js = js.replace(/^import \* as (import\d+) from "([^"]+)";?\n/gm, (line, alias, path) => {
  if (namespaces.has(path)) return '';
  namespaces.set(path, alias);
  return line;
});

// `function __wbg_get_imports() { const import0 = { …keys… }; return { "./tether_bg.js": import0,
// "<snippet path>": importN, … }; }` becomes `… const import0 = { …short keys… }; return { a: import0 }; }`.
const start = js.indexOf('function __wbg_get_imports()');
const ret = js.indexOf('\n    return {', start);
const END = '\n    };\n}';
const end = js.indexOf(END, ret);
if (start < 0 || ret < 0 || end < 0) fail('unexpected shape of __wbg_get_imports');
let body = js.slice(start, ret);
if (!/\n    };\s*$/.test(body)) fail('unexpected end of the import object');
for (const [module, old, short] of map.imports) {
  if (module !== './tether_bg.js') continue;
  const key = new RegExp(`^(        )${escape(old)}(: function)`, 'm');
  if (!key.test(body)) fail(`the module imports ${old}, which the glue does not define`);
  body = body.replace(key, `$1${JSON.stringify(short)}$2`);
}
const snippetKeys = map.imports.filter(([module]) => module !== './tether_bg.js').map(([module, old, short]) => {
  const alias = namespaces.get(module);
  if (!alias) fail(`the module imports ${old} from ${module}, which the glue does not import`);
  return `        ${JSON.stringify(short)}: ${alias}.${old},`;
});
body = body.replace(/\n    };\s*$/, `\n${snippetKeys.join('\n')}\n    };`);
js = `${js.slice(0, start)}${body}\n    return { __proto__: null, ${MODULE}: import0 };\n}${js.slice(end + END.length)}`;
if (/__wbg_[\w$]*_[0-9a-f]{16}\s*:/.test(js)) fail('an import key kept its old name');

writeFileSync(wasmPath, Buffer.concat(parts));
writeFileSync(jsPath, js);
console.log(`[build] wasm ABI names shortened: ${map.imports.length} imports, ${map.exports.length} exports`);
