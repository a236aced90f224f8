// The npm package as a user gets it: the tarball made by pkg-template/build is installed into a
// fresh Vite app (vite at the version in tests/package.json, from the npm cache when it can),
// imported with no wasm plugin, built with `vite build`, and the built page — served by the demo
// server — connects and joins room:lobby in Chromium. The typed usage sample (tests/types) is
// compiled with `tsc --noEmit` against the installed package, and its declarations hold no `any`.
//
// Needs `pkg-template/build` and `cargo build -p tether-demo` first;
// run with `cd tests && node --test js/packaging.test.mjs`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoServer, stopAll } from './lib/demo_server.mjs';
import { launchBrowser } from './lib/browser.mjs';
import { devDependencyVersion, packageJson, packedTarball, repoRoot, run, stripComments, testsDir } from './lib/package.mjs';

const TEST_OPTS = { timeout: 60_000 };

const INDEX_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>loading</title></head>
<body><p id="state">loading</p><script type="module" src="/src/main.js"></script></body></html>
`;

// What an app writes: the README's init, a Socket at this page's own /socket, a channel join.
const MAIN_JS = `import init, { Socket } from "tether";

const show = (state) => { document.title = state; document.getElementById("state").textContent = state; };
try {
  await init();
  const url = new URLSearchParams(location.search).get("ws") ?? \`\${location.protocol === "https:" ? "wss" : "ws"}://\${location.host}/socket\`;
  const socket = new Socket(url, {
    reconnect: { minMs: 100, maxMs: 1000, jitter: 1 },
  });
  const states = [];
  socket.onState((s) => states.push(s.state));
  socket.connect();
  const room = socket.channel("room:lobby", { name: "vite-app" });
  await room.join();
  const echo = await room.push("echo", { from: "vite" }, { timeoutMs: 5000 });
  window.result = { states, channel: room.state, echo, socket: socket.state.state };
  show("joined");
} catch (e) {
  window.result = { error: String(e), code: e && e.code };
  show("failed");
}
`;

let app;
let browser;

before(async () => {
  app = mkdtempSync(join(tmpdir(), 'tether-vite-app-'));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopAll();
  if (app) rmSync(app, { recursive: true, force: true });
});

test('the package folder and tarball are what is published', () => {
  const pkg = packageJson();
  const cargoVersion = /\[package\][^[]*?^version\s*=\s*"([^"]+)"/ms.exec(readFileSync(join(repoRoot, 'Cargo.toml'), 'utf8'))[1];
  assert.equal(pkg.name, 'tether');
  assert.equal(pkg.version, cargoVersion, 'version comes from Cargo.toml');
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.license, 'MIT');
  assert.ok(pkg.sideEffects !== undefined, 'sideEffects is declared');
  assert.deepEqual(Object.keys(pkg.exports['.'])[0], 'types', 'types is the first condition');
  for (const cond of ['import', 'browser', 'default']) assert.ok(pkg.exports['.'][cond], `exports has "${cond}"`);
  const tarball = packedTarball();
  assert.ok(tarball.endsWith(`tether-${pkg.version}.tgz`));
  const listed = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n').sort();
  for (const f of ['package/package.json', 'package/README.md', 'package/LICENSE', 'package/dist/tether.js', 'package/dist/tether.d.ts', 'package/dist/tether_bg.wasm']) {
    assert.ok(listed.includes(f), `${f} is in the tarball`);
  }
  assert.ok(!listed.some((f) => f.endsWith('.gitignore')), 'no .gitignore in the tarball');
  assert.match(readFileSync(join(repoRoot, 'target', 'npm', 'tether', 'LICENSE'), 'utf8'), /Copyright \(c\) 2026 the tether authors/);
});

test('a fresh Vite app installs the tarball, builds with no wasm plugin, and its page joins room:lobby', TEST_OPTS, async () => {
  const vite = devDependencyVersion('vite');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'tether-vite-app', private: true, type: 'module' }, null, 2));
  writeFileSync(join(app, 'index.html'), INDEX_HTML);
  mkdirSync(join(app, 'src'));
  writeFileSync(join(app, 'src', 'main.js'), MAIN_JS);
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error',
    packedTarball(), `vite@${vite}`], { cwd: app, timeoutMs: 30_000 });
  assert.ok(existsSync(join(app, 'node_modules', 'tether', 'dist', 'tether_bg.wasm')), 'the tarball is installed');
  assert.ok(!readdirSync(join(app, 'node_modules')).some((d) => /wasm/i.test(d) && d !== 'tether'), 'no wasm plugin installed');

  await run(process.execPath, [join(app, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], { cwd: app, timeoutMs: 30_000 });
  const assets = readdirSync(join(app, 'dist', 'assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `vite emitted the wasm as an asset: ${assets}`);

  const server = await startDemoServer({ staticDir: join(app, 'dist') });
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const wasmLoads = [];
  page.on('response', (r) => { if (r.url().endsWith('.wasm')) wasmLoads.push(`${r.status()} ${r.headers()['content-type']}`); });
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: 15_000 });
  const result = await page.evaluate(() => window.result);
  assert.deepEqual(errors, []);
  assert.equal(result.error, undefined, `the page failed: ${JSON.stringify(result)}`);
  assert.equal(await page.title(), 'joined');
  assert.equal(result.channel, 'joined');
  assert.equal(result.socket, 'open');
  assert.deepEqual(result.echo, { from: 'vite' });
  assert.ok(result.states.includes('open'));
  assert.deepEqual(wasmLoads, ['200 application/wasm'], 'the wasm asset loads once, as application/wasm');
  await page.close();
  await server.stop();
});

test('the same app works on the Vite dev server (no optimizeDeps or wasm config)', TEST_OPTS, async () => {
  assert.ok(existsSync(join(app, 'node_modules', 'tether')), 'needs the Vite app test first');
  const server = await startDemoServer({ staticDir: join(app, 'dist') });
  const port = await freePort();
  const dev = spawn(process.execPath, [join(app, 'node_modules', 'vite', 'bin', 'vite.js'), '--host', '127.0.0.1', '--port', String(port), '--strictPort'],
    { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  dev.stdout.on('data', (d) => { out += d; });
  dev.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((r) => dev.once('exit', r));
  try {
    const deadline = Date.now() + 15_000;
    while (!/Local:/.test(out.replace(/\x1b\[[0-9;]*m/g, ''))) {
      if (Date.now() > deadline || dev.exitCode !== null) assert.fail(`vite dev did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${port}/?ws=${encodeURIComponent(server.wsUrl)}`);
    await page.waitForFunction(() => window.result !== undefined, null, { timeout: 20_000 })
      .catch(() => assert.fail(`the dev page did not finish; vite said:\n${out}`));
    const result = await page.evaluate(() => window.result);
    assert.equal(result.error, undefined, `the dev page failed: ${JSON.stringify(result)}\n${out}`);
    assert.equal(result.channel, 'joined');
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    if (dev.exitCode === null) dev.kill('SIGTERM');
    const timer = setTimeout(() => { if (dev.exitCode === null) dev.kill('SIGKILL'); }, 3000);
    await exited;
    clearTimeout(timer);
    await server.stop();
  }
});

function freePort() {
  return new Promise((resolvePort, rejectPort) => {
    const srv = createServer();
    srv.once('error', rejectPort);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolvePort(port)); });
  });
}

test('the typed usage sample compiles against the installed package (tsc --noEmit)', TEST_OPTS, async () => {
  assert.ok(existsSync(join(app, 'node_modules', 'tether')), 'needs the Vite app test first');
  // The sample and its compiler options, minus the `paths` that point at target/npm: here
  // "tether" resolves through node_modules and the package's exports map ("types" condition).
  const { compilerOptions } = JSON.parse(readFileSync(join(testsDir, 'types', 'tsconfig.json'), 'utf8'));
  delete compilerOptions.paths;
  mkdirSync(join(app, 'types'));
  copyFileSync(join(testsDir, 'types', 'usage.ts'), join(app, 'types', 'usage.ts'));
  writeFileSync(join(app, 'types', 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['usage.ts'] }, null, 2));
  const tsc = join(testsDir, 'node_modules', 'typescript', 'bin', 'tsc');
  const out = await run(process.execPath, [tsc, '-p', join(app, 'types'), '--listFiles'], { cwd: app, timeoutMs: 30_000 })
    .catch((e) => assert.fail(`tsc --noEmit failed:\n${e.message}`));
  assert.match(out, /node_modules\/tether\/dist\/tether\.d\.ts$/m, 'tether resolves to the installed package through its exports map');
});

test('the public declarations contain no `any`', () => {
  const installed = join(app, 'node_modules', 'tether');
  assert.ok(existsSync(installed), 'needs the Vite app test first');
  const offending = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.d.ts')) {
        const original = readFileSync(p, 'utf8').split('\n');
        stripComments(readFileSync(p, 'utf8')).split('\n').forEach((line, i) => {
          if (/\bany\b/.test(line)) offending.push(`${p.slice(installed.length + 1)}:${i + 1}: ${original[i].trim()}`);
        });
      }
    }
  };
  walk(installed);
  assert.deepEqual(offending, [], `\`any\` in the public declarations:\n${offending.join('\n')}`);
});
