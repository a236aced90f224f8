// Where the time goes: runs one benchmark figure for one client under Chromium's sampling
// profiler (CDP) and prints the functions with the most self time. Not a benchmark (the
// profiler slows everything down); a tool for deciding what to change.
// Usage: node tests/bench/profile.mjs dispatch|diffs|rejoin [tether|phoenix]
// For Rust function names instead of wasm-function[N], build with names kept first:
//   wasm-pack build --profiling --target web --out-dir target/pkg-prof --out-name tether
//   TETHER_PKG_DIR=target/pkg-prof node tests/bench/profile.mjs diffs
import { cpSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemoServer, stopAll } from '../js/lib/demo_server.mjs';
import { launchBrowser } from '../js/lib/browser.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const [figure = 'dispatch', client = 'tether'] = process.argv.slice(2);
const pages = { dispatch: 'dispatch_page.js', diffs: 'presence_page.js', rejoin: 'presence_page.js' };
if (!pages[figure] || !['tether', 'phoenix'].includes(client)) {
  console.error('usage: node tests/bench/profile.mjs dispatch|diffs|rejoin [tether|phoenix]');
  process.exit(2);
}
const pkg = process.env.TETHER_PKG_DIR || join(repo, 'demo', 'static', 'pkg');
const dir = mkdtempSync(join(tmpdir(), 'tether-profile-'));
cpSync(pkg, join(dir, 'pkg'), { recursive: true });
copyFileSync(join(repo, 'tests', 'node_modules', 'phoenix', 'priv', 'static', 'phoenix.mjs'), join(dir, 'phoenix.mjs'));
copyFileSync(join(here, pages[figure]), join(dir, 'page.js'));
writeFileSync(join(dir, 'p.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="./page.js"></script>');

// One sample's work for the figure (the same calls the benchmarks make).
const work = {
  dispatch: (name) => window.bench.run(name),
  diffs: (name) => window.bench.diffs(name, 10_000, 1_000, 40),
  rejoin: (name) => window.bench.rejoin(name, 10_000, 20),
}[figure];

const server = await startDemoServer({ staticDir: dir });
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(`${server.url}/p.html`);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 30_000 });
  if (figure === 'dispatch') await page.evaluate(() => window.bench.prepare(20_000));
  await page.evaluate(work, client); // warm
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 50 });
  await cdp.send('Profiler.start');
  await page.evaluate(work, client);
  const { profile } = await cdp.send('Profiler.stop');
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  for (const id of profile.samples) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const name = `${functionName || '(anonymous)'} ${url.split('/').pop()}:${lineNumber}`;
    self.set(name, (self.get(name) || 0) + 1);
    total += 1;
  }
  console.log(`${figure}, ${client}: ${total} samples; self time by function`);
  for (const [name, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    console.log(`${((100 * n) / total).toFixed(1).padStart(5)} %  ${name}`);
  }
} finally {
  await browser.close();
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
