// Runs the memory benchmark (P5): tether's wasm memory and the page's JS heap (after a forced GC)
// after warm-up, after many inbound frames and after many reconnect cycles. Prints a Markdown
// table; with --write, replaces the memory section of BENCHMARKS.md.
// Usage: node tests/bench/memory.mjs [--quick] [--write]
//
// The page and its two WebSocket endpoints are served by a small Node server on 127.0.0.1 (port
// 0): `/stay/websocket` answers joins and heartbeats and stays open; `/cycle/websocket` answers
// the join, sends a presence_state and one broadcast, then closes, so the page's second socket
// (reconnect 1–5 ms, no jitter) cycles connect → open → join → close as fast as it can.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { WebSocketServer } from 'ws';
import { launchBrowser } from '../js/lib/browser.mjs';
import { writeSection } from './benchmarks_md.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const quick = process.argv.includes('--quick');
const write = process.argv.includes('--write');
const WARM_FRAMES = quick ? 5_000 : 50_000;
const WARM_CYCLES = quick ? 5 : 20;
const FRAMES = quick ? 20_000 : 1_000_000;
const CYCLES = quick ? 20 : 1_000;

const dir = mkdtempSync(join(tmpdir(), 'tether-bench-'));
cpSync(join(repo, 'demo', 'static', 'pkg'), join(dir, 'pkg'), { recursive: true });
copyFileSync(join(here, 'memory_page.js'), join(dir, 'memory_page.js'));
writeFileSync(join(dir, 'memory.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="./memory_page.js"></script>');

// ---- the local server -------------------------------------------------------------------------

const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm' };
const http = createServer((req, res) => {
  const file = join(dir, normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)));
  if (!file.startsWith(dir)) return res.writeHead(403).end();
  let body;
  try { body = readFileSync(file); } catch { return res.writeHead(404).end(); }
  res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
  res.end(body);
});
const wss = new WebSocketServer({ noServer: true });
let connections = 0;
http.on('upgrade', (req, sock, head) => {
  const path = new URL(req.url, 'http://x').pathname;
  const mode = path === '/stay/websocket' ? 'stay' : path === '/cycle/websocket' ? 'cycle' : null;
  if (!mode) return sock.destroy();
  wss.handleUpgrade(req, sock, head, (ws) => {
    connections += 1;
    ws.on('message', (data) => {
      let frame;
      try { frame = JSON.parse(String(data)); } catch { return; }
      const [joinRef, ref, topic, event] = frame;
      const reply = (response = {}) => ws.send(JSON.stringify([joinRef, ref, topic, 'phx_reply', { status: 'ok', response }]));
      if (event === 'phx_join') {
        reply();
        const state = { 'u:server': { metas: [{ phx_ref: `s${connections}`, name: 'server' }] } };
        ws.send(JSON.stringify([joinRef, null, topic, 'presence_state', state]));
        if (mode === 'cycle') {
          ws.send(JSON.stringify([null, null, topic, 'new_msg', { id: `c${connections}`, seq: connections, body: 'hello again' }]));
          ws.close(1000);
        }
      } else if (event === 'phx_leave') {
        reply();
      } else {
        reply(); // heartbeats and pushes
      }
    });
  });
});
await new Promise((r) => http.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${http.address().port}`;

// ---- the run ----------------------------------------------------------------------------------

const browser = await launchBrowser();
const points = [];
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(`${url}/memory.html`);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 30_000 });
  const cdp = await page.context().newCDPSession(page);
  const measure = async (label, extra = '') => {
    // Two collections: the first may only schedule finalizers (wasm-bindgen's FinalizationRegistry).
    for (let i = 0; i < 2; i++) {
      await cdp.send('HeapProfiler.collectGarbage');
      await page.evaluate(() => new Promise((r) => setTimeout(r, 50)));
    }
    const heap = await cdp.send('Runtime.getHeapUsage');
    const wasmBytes = await page.evaluate(() => window.bench.wasmBytes());
    points.push({ label, extra, wasm: wasmBytes, heap: heap.usedSize });
    console.error(`${label}: wasm ${(wasmBytes / 1024).toFixed(0)} KiB, JS heap ${(heap.usedSize / 1e6).toFixed(2)} MB ${extra}`);
  };
  await measure('after load and join');
  const warm = await page.evaluate((n) => window.bench.frames(n), WARM_FRAMES);
  await page.evaluate((n) => window.bench.cycles(n), WARM_CYCLES);
  await measure(`warm-up: ${WARM_FRAMES.toLocaleString('en')} frames + ${WARM_CYCLES} reconnect cycles`, `room: ${warm.presenceKeys} keys`);
  // Five checkpoints per phase, so a trend shows (quick mode: two).
  const STEPS = quick ? 2 : 5;
  let fed = 0;
  let busy = 0; // ms spent feeding or cycling (not measuring)
  for (let i = 1; i <= STEPS; i++) {
    const n = Math.round((FRAMES * i) / STEPS) - Math.round((FRAMES * (i - 1)) / STEPS);
    const t0 = performance.now();
    const out = await page.evaluate((n) => window.bench.frames(n), n);
    busy += performance.now() - t0;
    fed += n;
    await measure(`+${fed.toLocaleString('en')} frames (½ broadcasts, ½ presence diffs)`, `room: ${out.presenceKeys} keys; ${((busy * 1000) / fed).toFixed(1)} µs/frame`);
  }
  let cycled = 0;
  let cyc;
  busy = 0;
  for (let i = 1; i <= STEPS; i++) {
    const n = Math.round((CYCLES * i) / STEPS) - Math.round((CYCLES * (i - 1)) / STEPS);
    const t0 = performance.now();
    cyc = await page.evaluate((n) => window.bench.cycles(n), n);
    busy += performance.now() - t0;
    cycled += n;
    await measure(`+${FRAMES.toLocaleString('en')} frames, then +${cycled.toLocaleString('en')} reconnect cycles`, `${(busy / cycled).toFixed(1)} ms/cycle`);
  }
  if (cyc.joins < WARM_CYCLES + CYCLES) throw new Error(`only ${cyc.joins} joins`);
} finally {
  await browser.close();
  for (const c of wss.clients) c.terminate();
  wss.close();
  http.closeAllConnections?.();
  await new Promise((r) => http.close(r));
  rmSync(dir, { recursive: true, force: true });
}

const base = points[1];
const pct = (x, b) => `${x >= b ? '+' : ''}${(((x - b) / b) * 100).toFixed(1)} %`;
const kib = (x) => `${(x / 1024).toLocaleString('en', { maximumFractionDigits: 0 })} KiB`;
const mb = (x) => `${(x / 1e6).toFixed(2)} MB`;
const chromium = (() => { try { return execFileSync('/usr/bin/chromium', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(); } catch { return 'chromium'; } })();
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${chromium}, ${new Date().toISOString().slice(0, 10)}`;
const table = [
  `Machine: ${machine}. One run, checkpoints along it (each figure is a state, not a timing); wasm memory = the module's \`memory.buffer.byteLength\`; JS heap = \`Runtime.getHeapUsage\` usedSize after two forced collections. Growth is against the warm-up row. No phoenix.js column: the figure is tether's own footprint.`,
  '',
  '| after | wasm memory | growth | JS heap (used) | growth | notes |',
  '|---|---|---|---|---|---|',
  ...points.map((p, i) => `| ${p.label} | ${kib(p.wasm)} | ${i < 1 ? '' : i === 1 ? 'baseline' : pct(p.wasm, base.wasm)} | ${mb(p.heap)} | ${i < 1 ? '' : i === 1 ? 'baseline' : pct(p.heap, base.heap)} | ${p.extra} |`),
].join('\n');
console.log(table);

if (write && !quick) {
  writeSection('memory', table);
}
