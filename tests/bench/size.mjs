// P3: the shipped size of tether (gzip -9 of the release wasm + its JS glue, as pkg-template/build
// makes them in target/pkg-web) next to phoenix.js's minified bundle from the same npm install,
// and prints a Markdown table; with --write, replaces the size section of BENCHMARKS.md.
// Usage: node tests/bench/size.mjs [--write]   (after pkg-template/build)
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSection } from './benchmarks_md.mjs';
import { shippedFiles } from './shipped.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const write = process.argv.includes('--write');
// The budget pkg-template/build fails above (its `budget=` line).
const BUDGET = Number(readFileSync(join(repo, 'pkg-template', 'build'), 'utf8').match(/^budget=(\d+)$/m)?.[1]);
if (!BUDGET) throw new Error('no `budget=N` line in pkg-template/build');

const { wasm, glue, snippets } = shippedFiles(repo);

/** gzip -9 size of the files concatenated (the build's own measure). */
const gz = (files) => execFileSync('sh', ['-c', 'cat "$@" | gzip -9c | wc -c', 'sh', ...files]).toString().trim() * 1;
const raw = (files) => files.reduce((n, f) => n + statSync(f).size, 0);

const phoenix = [join(repo, 'tests', 'node_modules', 'phoenix', 'priv', 'static', 'phoenix.min.js')];
const phoenixVersion = JSON.parse(readFileSync(join(repo, 'tests', 'node_modules', 'phoenix', 'package.json'), 'utf8')).version;
const total = gz(wasm) + gz(glue);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const table = [
  `Measured ${new Date().toISOString().slice(0, 10)} on the release build (\`pkg-template/build\`: opt-level z, LTO, codegen-units 1, wasm-opt -Oz). KB = 1024 B.`,
  '',
  '| file | raw | gzip -9 |',
  '|---|---|---|',
  `| tether_bg.wasm | ${kb(raw(wasm))} | ${kb(gz(wasm))} |`,
  `| JS glue, minified (tether.js + ${snippets} snippet${snippets === 1 ? "" : "s"}) | ${kb(raw(glue))} | ${kb(gz(glue))} |`,
  `| **tether, wasm + glue** | ${kb(raw(wasm) + raw(glue))} | **${kb(total)}** (budget ${kb(BUDGET)}, the build fails above it: ${total <= BUDGET ? `${kb(BUDGET - total)} to spare` : `${kb(total - BUDGET)} over`}) |`,
  `| phoenix.js ${phoenixVersion} (phoenix.min.js), for scale | ${kb(raw(phoenix))} | ${kb(gz(phoenix))} |`,
].join('\n');
console.log(table);

if (write) {
  writeSection('size', table);
}
