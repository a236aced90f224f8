// Runs the presence benchmark (tether vs phoenix.js in one Chromium page) and prints a Markdown
// table; with --write, replaces the presence section of BENCHMARKS.md.
// Usage: node tests/bench/presence.mjs [--quick] [--write]
import { cpSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { startDemoServer, stopAll } from '../js/lib/demo_server.mjs';
import { launchBrowser } from '../js/lib/browser.mjs';
import { writeSection } from './benchmarks_md.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const quick = process.argv.includes('--quick');
const write = process.argv.includes('--write');
const RUNS = quick ? 1 : Number(process.env.BENCH_RUNS || 11);
// Untimed samples per client before each figure's timed ones (see `measure`).
const WARM = quick ? 1 : Number(process.env.BENCH_WARM || 16);
// BENCH_TRACE=1 prints every sample, warm-up included, in the order taken.
const trace = process.env.BENCH_TRACE === '1';

const dir = mkdtempSync(join(tmpdir(), 'tether-bench-'));
cpSync(join(repo, 'demo', 'static', 'pkg'), join(dir, 'pkg'), { recursive: true });
copyFileSync(join(repo, 'tests', 'node_modules', 'phoenix', 'priv', 'static', 'phoenix.mjs'), join(dir, 'phoenix.mjs'));
copyFileSync(join(here, 'presence_page.js'), join(dir, 'presence_page.js'));
writeFileSync(join(dir, 'presence.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="./presence_page.js"></script>');

const server = await startDemoServer({ staticDir: dir });
const browser = await launchBrowser();
const rows = [];
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(`${server.url}/presence.html`);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 30_000 });
  // Each figure: WARM untimed samples per client, then RUNS timed samples each, alternating
  // who goes first. Before each sample the room's state is fed and its list read, untimed
  // (`gen` is the state's generation). (The last of `args` is the run count; each call here
  // takes one sample, with `fed` set.) The figures are steady-state ones, so the warm-up is
  // long: V8 runs wasm first as baseline (Liftoff) code and compiles a function with its
  // optimizing compiler only once it has run enough, in the background, as it does
  // JavaScript; from a cold page both clients took some 15 samples of 1,000 diffs (tether
  // 10 → 3 µs per diff, phoenix.js 15 → 4) before their times settled, and one warm-up sample
  // left most of the 11 timed ones in that climb (BENCHMARKS.md, P1). No garbage collection
  // is forced between samples: a forced full collection (CDP HeapProfiler.collectGarbage) made
  // phoenix.js's next diffs about twice as slow and would tilt the figures (BENCHMARKS.md, P1).
  const measure = async (label, fn, args, unit, gen = 1) => {
    const n = args[0];
    const one = [...args.slice(0, -1), 1, true];
    const sample = async (name) => {
      await page.evaluate(({ name, n, gen }) => window.bench.state(name, n, gen), { name, n, gen });
      return (await page.evaluate(({ fn, name, args }) => window.bench[fn](name, ...args), { fn, name, args: one }))[0];
    };
    const warm = { tether: [], phoenix: [] };
    for (let r = 0; r < WARM; r++) {
      for (const name of r % 2 ? ['phoenix', 'tether'] : ['tether', 'phoenix']) warm[name].push(await sample(name));
    }
    const samples = { tether: [], phoenix: [] };
    for (let r = 0; r < args.at(-1); r++) {
      for (const name of r % 2 ? ['phoenix', 'tether'] : ['tether', 'phoenix']) samples[name].push(await sample(name));
    }
    if (trace) {
      for (const name of ['tether', 'phoenix']) {
        const f = (xs) => xs.map((x) => x.toPrecision(3)).join(' ');
        console.error(`  ${name}: warm-up ${f(warm[name])} | timed ${f(samples[name])}`);
      }
    }
    const out = {};
    for (const name of ['tether', 'phoenix']) {
      const s = [...samples[name]].sort((a, b) => a - b);
      out[name] = { median: s[Math.floor(s.length / 2)], min: s[0], max: s.at(-1) };
    }
    // Each round's two samples are taken back to back, so their ratio moves less with the
    // machine than either sample does (both clients ran ×1.5–2 slower together for stretches).
    const paired = samples.tether.map((t, i) => samples.phoenix[i] / t).sort((a, b) => a - b);
    const row = { label, unit, ...out, ratio: out.phoenix.median / out.tether.median, paired: paired[Math.floor(paired.length / 2)] };
    rows.push(row);
    console.error(`${label}: tether ${row.tether.median.toFixed(3)} ${unit}, phoenix ${row.phoenix.median.toFixed(3)} ${unit}, ×${row.ratio.toFixed(2)} (paired ×${row.paired.toFixed(2)})`);
  };
  const sizes = quick ? [1000] : [1000, 10_000, 100_000];
  for (const n of sizes) await measure(`rejoin presence_state, ${n.toLocaleString('en')} keys, 1 % changed`, 'rejoin', [n, RUNS], 'ms', 2);
  for (const n of quick ? [1000] : [1000, 10_000, 100_000]) await measure(`single-key diff on a ${n.toLocaleString('en')}-key room (1,000 diffs)`, 'diffs', [n, 1000, RUNS], 'µs/diff');
  await measure(`single-key diff, then the fresh list to a subscriber, ${(quick ? 1000 : 10_000).toLocaleString('en')}-key room (200 diffs)`, 'rendered', [quick ? 1000 : 10_000, 200, RUNS], 'µs/diff');
  await measure(`list() of a ${(quick ? 1000 : 10_000).toLocaleString('en')}-key room, right after a change`, 'list', [quick ? 1000 : 10_000, RUNS], 'ms');
} finally {
  await browser.close();
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}

const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const chromium = (() => { try { return execFileSync('/usr/bin/chromium', ['--version']).toString().trim(); } catch { return 'chromium'; } })();
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${chromium}, ${new Date().toISOString().slice(0, 10)}`;
const table = [
  `Machine: ${machine}. ${RUNS} timed runs per figure after ${WARM} untimed ones per client (list: each run the mean of 20 calls); median (min–max). Ratio = phoenix.js ÷ tether (above 1: tether faster): of the two medians, and the median of each round\'s own ratio (the two clients sampled back to back).`,
  '',
  '| figure | tether | phoenix.js | ratio | each round\'s own ratio (median) |',
  '|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.label} | ${fmt(r.tether.median)} ${r.unit} (${fmt(r.tether.min)}–${fmt(r.tether.max)}) | ${fmt(r.phoenix.median)} ${r.unit} (${fmt(r.phoenix.min)}–${fmt(r.phoenix.max)}) | ×${r.ratio.toFixed(2)} | ×${r.paired.toFixed(2)} |`),
].join('\n');
console.log(table);

if (write && !quick) {
  writeSection('presence', table);
}
