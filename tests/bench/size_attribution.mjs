// P3: what each part of tether costs in the shipped size, measured by taking it out. The release
// wasm is built with its function names kept, then, per group of functions (by Rust path), every
// function of the group has its body replaced by `unreachable` and wasm-opt -Oz runs again: it
// removes whatever only those functions reached. The gzip -9 size of what is left, beside the
// same pipeline with nothing taken out, says what the group costs (its code, and code only it
// needed; static data stays, since wasm-opt cannot tell whose it is). Not a build anyone
// ships: a stubbed module traps when the group runs.
// Usage: node tests/bench/size_attribution.mjs [--quick] [--write]   (after pkg-template/build)
//   --quick   the baseline and one group only (what ./tests/run does, so the tool cannot rot)
//   --write   replaces the attribution section of BENCHMARKS.md
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { writeSection } from './benchmarks_md.mjs';
import { shippedFiles } from './shipped.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const quick = process.argv.includes('--quick');
const write = process.argv.includes('--write');
const bin = (name) => join(repo, 'tests', 'node_modules', '.bin', name);
// The same wasm features as the release build's wasm-opt (Cargo.toml, wasm-pack metadata).
const FEATURES = ['bulk-memory', 'nontrapping-float-to-int', 'reference-types', 'sign-ext', 'multivalue', 'mutable-globals']
  .map((f) => `--enable-${f}`);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28 });
const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;

const PRESENCE = ['tether::core::presence', 'tether::core::client::presence_routing', 'tether::api::presence', 'tether::web::presence_mirror'];
const NOTIFICATIONS = ['tether::core::notifications', 'tether::core::client::notification_routing', 'tether::api::notifications', 'tether::web::stores'];
const OTHER_WIRES = ['tether::core::dialect::hub', 'tether::core::dialect::nova', 'tether::core::dialect::binary', 'tether::core::client::binary_routing'];
/** [label, Rust path prefixes whose functions are taken out]. */
const GROUPS = [
  ['presence (core, JS surface, list mirror)', PRESENCE],
  ['notifications (store, routing, JS surface, snapshots)', NOTIFICATIONS],
  ['the hub and nova dialects, binary frames', OTHER_WIRES],
  ['the JSON reader and values (and all that only parsing reaches)', ['tether::core::json']],
  ['presence, notifications and the other wires: a Phoenix socket and channels only', [...PRESENCE, ...NOTIFICATIONS, ...OTHER_WIRES]],
  ['all of `tether::core` (left: the JS surface, the driver, the allocator, wasm-bindgen, and core code inlined into them)', ['tether::core::']],
];

// 1. The release wasm with names: the package's build (pkg-template/build, no `std`), run
//    through wasm-bindgen keeping its names and wasm-opt -Oz -g.
run('cargo', ['build', '--quiet', '--release', '--target', 'wasm32-unknown-unknown', '--no-default-features', '--lib']);
const dir = mkdtempSync(join(tmpdir(), 'tether-size-'));
try {
  run('wasm-bindgen', ['--keep-debug', '--target', 'web', '--out-dir', dir, '--out-name', 'tether',
    join(repo, 'target', 'wasm32-unknown-unknown', 'release', 'tether.wasm')]);
  const named = join(dir, 'named.wasm');
  run(bin('wasm-opt'), ['-Oz', '-g', ...FEATURES, join(dir, 'tether_bg.wasm'), '-o', named]);
  run(bin('wasm-dis'), [named, '-o', join(dir, 'named.wat')]);
  const lines = readFileSync(join(dir, 'named.wat'), 'utf8').split('\n');

  /** gzip -9 of the module with `prefixes`' functions taken out, optimized and stripped. */
  const measure = (prefixes) => {
    const { text, count } = stub(lines, prefixes);
    const wat = join(dir, 'stub.wat');
    writeFileSync(wat, text);
    run(bin('wasm-as'), [...FEATURES, wat, '-o', join(dir, 'stub.wasm')]);
    run(bin('wasm-opt'), ['-Oz', '--strip-debug', '--strip-producers', ...FEATURES, join(dir, 'stub.wasm'), '-o', join(dir, 'out.wasm')]);
    return { size: gz(readFileSync(join(dir, 'out.wasm'))), count };
  };

  const glue = glueGzip();
  const base = measure([]);
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  const rows = [];
  for (const [label, prefixes] of quick ? GROUPS.slice(0, 1) : GROUPS) {
    const { size, count } = measure(prefixes);
    if (count === 0) throw new Error(`no function matches ${label}: the Rust paths have moved`);
    rows.push(`| ${label} | ${count} | ${kb(base.size - size)} | ${kb(size)} | ${kb(size + glue)} |`);
  }
  const table = [
    `Measured ${new Date().toISOString().slice(0, 10)} (\`node tests/bench/size_attribution.mjs\`): the release wasm (no ABI minify) with each group of functions taken out; KB = 1024 B, gzip -9. Left + glue adds the shipped glue as it is (${kb(glue)}).`,
    '',
    '| taken out | functions | saves (wasm gzip) | wasm left | left + glue |',
    '|---|---|---|---|---|',
    `| nothing (this pipeline's baseline) | 0 | — | ${kb(base.size)} | ${kb(base.size + glue)} |`,
    ...rows,
  ].join('\n');
  console.log(table);
  if (write) writeSection('attribution', table);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The module's text with the body of every function whose name starts with one of `prefixes`
 * replaced by `unreachable` (its signature kept, so callers still validate). wasm-dis writes a
 * function as ` (func $name (param …) (result …)`, its locals on the next lines, and ` )` alone
 * on its last line. A name starts after `$`, quoted when it has spaces (`$"<impl …>::f"`), and
 * a trait method's name starts with `<`, so prefixes are looked for after any of those.
 */
function stub(lines, prefixes) {
  const out = [];
  let count = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line.startsWith(' (func ')) {
      out.push(line);
      continue;
    }
    let end = i;
    while (end < lines.length && lines[end] !== ' )') end++;
    const name = line.slice(7).split(' (')[0].replace(/^\$"?<*/, '');
    if (prefixes.length > 0 && prefixes.some((p) => name.startsWith(p))) {
      out.push(line, '  (unreachable)', ' )');
      count++;
    } else {
      out.push(...lines.slice(i, end + 1));
    }
    i = end;
  }
  return { text: out.join('\n'), count };
}

/** gzip -9 of the shipped JS glue, concatenated (as tests/bench/size.mjs measures it). */
function glueGzip() {
  return gz(Buffer.concat(shippedFiles(repo).glue.map((f) => readFileSync(f))));
}
