// Runs the inbound dispatch benchmark (P2: tether vs phoenix.js in one Chromium page) and prints
// a Markdown table; with --write, replaces the dispatch section of BENCHMARKS.md.
// Usage: node tests/bench/dispatch.mjs [--quick] [--write]
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
// An even number: each client goes first in half of the runs (going first costs a little).
const RUNS = quick ? 2 : Number(process.env.BENCH_RUNS || 8);
const FRAMES = quick ? 10_000 : 100_000;

const dir = mkdtempSync(join(tmpdir(), 'tether-bench-'));
cpSync(join(repo, 'demo', 'static', 'pkg'), join(dir, 'pkg'), { recursive: true });
copyFileSync(join(repo, 'tests', 'node_modules', 'phoenix', 'priv', 'static', 'phoenix.mjs'), join(dir, 'phoenix.mjs'));
copyFileSync(join(here, 'dispatch_page.js'), join(dir, 'dispatch_page.js'));
writeFileSync(join(dir, 'dispatch.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="./dispatch_page.js"></script>');

const server = await startDemoServer({ staticDir: dir });
const browser = await launchBrowser();
const samples = { tether: [], phoenix: [] };
let info;
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(`${server.url}/dispatch.html`);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 30_000 });
  const cdp = await page.context().newCDPSession(page);
  info = await page.evaluate((n) => window.bench.prepare(n), FRAMES);
  console.error(`${info.count} frames, ${(info.bytes / 1e6).toFixed(1)} MB, payloads ${info.minPayload}–${info.maxPayload} B`);
  // Warm-up: one pass of a tenth of the frames each, not recorded.
  for (const name of ['tether', 'phoenix']) await page.evaluate(({ name, n }) => window.bench.run(name, n), { name, n: Math.ceil(FRAMES / 10) });
  for (let r = 0; r < RUNS; r++) {
    // Alternate who goes first; collect garbage before each sample so neither pays for the other.
    for (const name of r % 2 ? ['phoenix', 'tether'] : ['tether', 'phoenix']) {
      await cdp.send('HeapProfiler.collectGarbage');
      const ms = await page.evaluate((name) => window.bench.run(name), name);
      samples[name].push(ms);
    }
    console.error(`run ${r + 1}: tether ${samples.tether.at(-1).toFixed(1)} ms, phoenix ${samples.phoenix.at(-1).toFixed(1)} ms`);
  }
} finally {
  await browser.close();
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}

// Throughput per sample; median (min–max) of the throughputs.
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s.at(-1) };
};
const fps = {};
const mbs = {};
for (const name of ['tether', 'phoenix']) {
  fps[name] = stats(samples[name].map((ms) => (info.count * 1000) / ms));
  mbs[name] = stats(samples[name].map((ms) => info.bytes / 1e6 / (ms / 1000)));
}
const ratio = fps.tether.median / fps.phoenix.median;
// Each run's own ratio (the two clients measured back to back), less exposed to the machine's
// drift between runs than the ratio of the two medians.
const paired = stats(samples.tether.map((ms, i) => samples.phoenix[i] / ms));
const k = (x) => `${(x / 1000).toFixed(0)}k`;
const m = (x) => x.toFixed(1);

const chromium = (() => { try { return execFileSync('/usr/bin/chromium', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(); } catch { return 'chromium'; } })();
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${chromium}, ${new Date().toISOString().slice(0, 10)}`;
const label = `${info.count.toLocaleString('en')} broadcast frames (${(info.bytes / 1e6).toFixed(1)} MB, payloads ${info.minPayload}–${info.maxPayload} B)`;
const table = [
  `Machine: ${machine}. ${RUNS} runs (each: every frame once, garbage collected before it); median (min–max). Ratio = tether ÷ phoenix.js throughput (above 1: tether faster).`,
  '',
  '| figure | tether | phoenix.js | ratio |',
  '|---|---|---|---|',
  `| ${label}: frames/s | ${k(fps.tether.median)} (${k(fps.tether.min)}–${k(fps.tether.max)}) | ${k(fps.phoenix.median)} (${k(fps.phoenix.min)}–${k(fps.phoenix.max)}) | ×${ratio.toFixed(2)} |`,
  `| same, MB/s of frame text (UTF-8) | ${m(mbs.tether.median)} (${m(mbs.tether.min)}–${m(mbs.tether.max)}) | ${m(mbs.phoenix.median)} (${m(mbs.phoenix.min)}–${m(mbs.phoenix.max)}) | ×${(mbs.tether.median / mbs.phoenix.median).toFixed(2)} |`,
  `| same, µs per frame | ${(1e6 / fps.tether.median).toFixed(2)} | ${(1e6 / fps.phoenix.median).toFixed(2)} | |`,
  `| each run's own ratio (the two clients back to back): median (min–max) | | | ×${paired.median.toFixed(2)} (${paired.min.toFixed(2)}–${paired.max.toFixed(2)}) |`,
].join('\n');
console.log(table);

if (write && !quick) {
  writeSection('dispatch', table);
}
