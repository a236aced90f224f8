// Makes the two mistakes a user can make with wasm-bindgen's glue speak tether's language, and
// finishes the package's declarations:
//   - a class used before `await init()`: the glue's `wasm` starts as a stand-in whose every
//     property read throws a TetherError with code "not_initialized" (wasm-bindgen's own glue
//     throws `TypeError: Cannot read properties of undefined`);
//   - a method called on an object after its `free()`: a TetherError with code "closed_socket"
//     (the glue passes a null pointer and Rust throws "null pointer passed to rust"); methods
//     that return a promise return a rejected one instead of throwing; a second `free()` does
//     nothing;
//   - `isTetherError(value)`, the guard declared in src/api/types.rs, is exported (it is plain
//     JS so that it works before `init()` too);
//   - tether.d.ts: `InitOutput`, which lists the module's raw exports under their shortened
//     names (`"Xb": (a: number) => number`), becomes an opaque type with only `memory`.
// Each rewrite looks for the exact shape wasm-bindgen writes and fails the build when it is not
// there, so an upgrade of wasm-bindgen cannot drop one silently.
//
// Usage: node pkg-template/guard_glue.mjs <pkg dir> <out-name>
// Run on wasm-bindgen's unminified output, after minify_abi.mjs and before esbuild.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, name] = process.argv.slice(2);
if (!dir || !name) throw new Error('usage: guard_glue.mjs <pkg dir> <out-name>');
const jsPath = join(dir, `${name}.js`);
const dtsPath = join(dir, `${name}.d.ts`);
const fail = (msg) => { throw new Error(`guard_glue: ${msg} (did the wasm-bindgen version change? see pkg-template/guard_glue.mjs)`); };

let js = readFileSync(jsPath, 'utf8');
let dts = readFileSync(dtsPath, 'utf8');

/** Replaces every match of `pattern` (a global RegExp) and checks how many there were. */
function replaceCounted(text, pattern, replacement, expected, what) {
  const found = text.match(pattern)?.length ?? 0;
  if (found !== expected) fail(`expected ${expected} ${what}, found ${found}`);
  return text.replace(pattern, replacement);
}

// ---- before init(): `wasm` is a stand-in that throws -----------------------------------------
js = replaceCounted(js, /^let wasmModule, wasmInstance, wasm;$/gm,
  'let wasmModule, wasmInstance, wasm = __tether_not_ready;', 1, 'declaration `let wasmModule, wasmInstance, wasm;`');
js = replaceCounted(js, /\bif \(wasm !== undefined\) return wasm;/g,
  'if (wasm !== __tether_not_ready) return wasm;', 2, '`if (wasm !== undefined) return wasm;` (initSync and init)');
if (/\bwasm\s*[!=]==?\s*undefined|typeof wasm\b/.test(js)) fail('another test of `wasm` against undefined is left');
if (!/^\s*wasm = instance\.exports;$/m.test(js)) fail('`wasm = instance.exports;` not found');

// ---- freed objects: each exported class's methods and getters check the pointer ---------------
const classes = [...js.matchAll(/^export class (\w+) \{$/gm)].map((m) => m[1]);
for (const cls of ['Socket', 'Channel', 'Presence']) {
  if (!classes.includes(cls)) fail(`no \`export class ${cls}\` in the glue`);
}
if (!/^\s*__closeForGood\(\) \{$/m.test(js.slice(js.indexOf('export class Socket {')))) {
  fail('Socket has no __closeForGood() (src/api/socket.rs), which free() calls');
}
for (const cls of classes) {
  // free() zeroes the pointer the methods pass to Rust: that is what the check reads.
  const body = js.slice(js.indexOf(`export class ${cls} {`));
  const end = body.search(/^\}$/m);
  if (!/this\.__wbg_ptr = 0;/.test(body.slice(0, end))) fail(`class ${cls}: free() does not set this.__wbg_ptr = 0`);
}

// The methods that return a promise (their calls on a freed object reject rather than throw),
// read from the declarations: the generated classes and the interfaces merged into them.
const promiseMethods = {};
for (const cls of classes) {
  const names = new Set();
  for (const m of dts.matchAll(new RegExp(`^export (?:declare )?(?:class|interface) ${cls} \\{$([\\s\\S]*?)^\\}$`, 'gm'))) {
    for (const sig of m[1].matchAll(/^[ \t]+(\w+)(?:<[^>(]*>)?\([^;]*?\):\s*Promise</gm)) names.add(sig[1]);
  }
  if (names.size) promiseMethods[cls] = [...names].sort();
}
for (const [cls, method] of [['Socket', 'ping'], ['Channel', 'join'], ['Channel', 'push'], ['Channel', 'leave']]) {
  if (!promiseMethods[cls]?.includes(method)) fail(`${cls}.${method} is not declared as returning a Promise`);
}

// ---- isTetherError, the guard src/api/types.rs declares --------------------------------------
if (!/^export function isTetherError\(value: unknown\): value is TetherError;$/m.test(dts)) {
  fail('tether.d.ts does not declare isTetherError (src/api/types.rs)');
}
if (/\bisTetherError\b/.test(js)) fail('the glue already has an isTetherError');

js = `// ---- tether: errors for a use before init() and after free() (pkg-template/guard_glue.mjs) ----
function __tether_error(code, message) {
  const e = new Error(message);
  e.name = 'TetherError';
  e.code = code;
  return e;
}
const __tether_not_ready = new Proxy({}, {
  get() {
    throw __tether_error('not_initialized', 'tether is not initialized: call \`await init()\` (the default export) before using Socket');
  },
});
/** Whether \`value\` is an error made by tether. */
export function isTetherError(value) {
  return value instanceof Error && value.name === 'TetherError' && typeof value.code === 'string';
}
${js}
// ---- tether: calls on a freed object (pkg-template/guard_glue.mjs) ----
function __tether_guard(cls, name, promiseMethods) {
  // (\`name\`, not cls.name: the minifier renames the classes, and exports them by name.)
  const proto = cls.prototype;
  const freed = (member) => __tether_error('closed_socket',
    \`this \${name} was freed (free() was called); create a new one (\${name}.\${member} called after free)\`);
  for (const key of Object.getOwnPropertyNames(proto)) {
    if (key === 'constructor' || key.startsWith('__')) continue;
    const d = Object.getOwnPropertyDescriptor(proto, key);
    if (key === 'free') {
      // A second free() does nothing (wasm-bindgen's would pass Rust a null pointer). A Socket's
      // explicit free() closes it for good first (its channels and stores refuse from then on);
      // the garbage collector's finalizer does not (an app may keep only its channels).
      const f = d.value;
      const closeForGood = proto.__closeForGood;
      d.value = function free() {
        if (this.__wbg_ptr === 0) return;
        if (closeForGood) closeForGood.call(this);
        f.call(this);
      };
    } else if (typeof d.value === 'function') {
      const f = d.value;
      const async = promiseMethods.includes(key);
      d.value = { [key](...args) {
        if (this.__wbg_ptr === 0) {
          if (async) return Promise.reject(freed(key));
          throw freed(key);
        }
        return f.apply(this, args);
      } }[key];
    } else if (typeof d.get === 'function') {
      const g = d.get;
      d.get = function () {
        if (this.__wbg_ptr === 0) throw freed(key);
        return g.call(this);
      };
    } else {
      continue;
    }
    Object.defineProperty(proto, key, d);
  }
}
${classes.map((c) => `__tether_guard(${c}, ${JSON.stringify(c)}, ${JSON.stringify(promiseMethods[c] ?? [])});`).join('\n')}
`;

// ---- InitOutput: opaque ----------------------------------------------------------------------
dts = replaceCounted(dts, /^export interface InitOutput \{\n[\s\S]*?^\}\n/gm, `/**
 * What \`init()\` and \`initSync()\` resolve to: the instantiated module. Its \`memory\` is there
 * for tools that read it; the other exports are tether's internals, called by its own glue.
 */
export interface InitOutput {
  readonly memory: WebAssembly.Memory;
}
`, 1, '`export interface InitOutput { … }` block in the declarations');

writeFileSync(jsPath, js);
writeFileSync(dtsPath, dts);
console.log(`[build] glue guarded: not_initialized before init(), closed_socket after free() on ${classes.join(', ')}; InitOutput made opaque`);
