import { cpSync, mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemoServer, stopAll } from '../js/lib/demo_server.mjs';
import { launchBrowser } from '../js/lib/browser.mjs';
const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'tether-prof-'));
cpSync(process.env.PKG || join(repo, 'demo', 'static', 'pkg'), join(dir, 'pkg'), { recursive: true });
copyFileSync(join(repo, 'tests', 'node_modules', 'phoenix', 'priv', 'static', 'phoenix.mjs'), join(dir, 'phoenix.mjs'));
copyFileSync(join(here, 'presence_page.js'), join(dir, 'presence_page.js'));
writeFileSync(join(dir, 'p.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="./presence_page.js"></script>');
const server = await startDemoServer({ staticDir: dir });
const browser = await launchBrowser();
const what = process.argv[2] || 'diffs';
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}/p.html`);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 30_000 });
  const cdp = await page.context().newCDPSession(page);
  const call = (name) => what === 'diffs' ? page.evaluate((n) => window.bench.diffs(n, 10000, 1000, 40), name) : page.evaluate((n) => window.bench.rejoin(n, 10000, 6), name);
  await page.evaluate(() => window.bench.rejoin('tether', 10000, 2));
  console.log('tether', await call('tether'));
  console.log('phoenix', await call('phoenix'));
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 50 });
  await cdp.send('Profiler.start');
  await call('tether');
  const { profile } = await cdp.send('Profiler.stop');
  const self = new Map(); const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map(); for (const s of profile.samples) counts.set(s, (counts.get(s) || 0) + 1);
  let total = 0;
  for (const [id, c] of counts) { const n = byId.get(id); const k = n.callFrame.functionName + ' ' + (n.callFrame.url.split('/').pop()) + ':' + n.callFrame.lineNumber; self.set(k, (self.get(k) || 0) + c); total += c; }
  for (const [k, c] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log((100 * c / total).toFixed(1).padStart(5), k);
} finally { await browser.close(); await stopAll(); }
