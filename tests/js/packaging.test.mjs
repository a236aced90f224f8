// The npm package as a user gets it, under its npm name `tether-realtime`: the packed
// package.json (name, repository, homepage); the tarball made by pkg-template/build installed
// into a fresh Vite app (vite at the version in tests/package.json, from the npm cache when it
// can), imported with no wasm plugin, built with `vite build`, and the built page — served by the
// demo server — signs in through /api/session and joins room:lobby and its notification store in
// Chromium; the same app on the Vite dev server (another origin) reaching the demo server
// directly (CORS) and through Vite's proxy. The typed usage sample (tests/types) is compiled with
// `tsc --noEmit` against the installed package, and its declarations hold no `any` and no
// internal export names. A page checks the coded errors before `init()` and after `free()`.
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
import {
  devDependencyVersion, packageDir, packageJson, packageName, packedTarball, preparePackagePage, repoRoot, run,
  stripComments, testsDir,
} from './lib/package.mjs';

const TEST_OPTS = { timeout: 60_000 };

const INDEX_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>loading</title></head>
<body><p id="state">loading</p><script type="module" src="/src/main.js"></script></body></html>
`;

// What an app writes: the README's init, a session from the demo server's /api, a Socket with
// that token, a channel join and the user's notification store. Where the demo server is: this
// page's own origin (the built page is served by it; on the dev server, Vite's proxy forwards
// /api and /socket), or another origin named in the query (`api`, `ws`: CORS and the
// WebSocket's Origin check). Before init(), a Socket throws a coded error.
const MAIN_JS = `import init, { Socket, isTetherError } from "tether-realtime";

const show = (state) => { document.title = state; document.getElementById("state").textContent = state; };
const q = new URLSearchParams(location.search);
const api = q.get("api") ?? "";
const ws = q.get("ws") ?? \`\${location.protocol === "https:" ? "wss" : "ws"}://\${location.host}/socket\`;
try {
  let early = null;
  try { new Socket(ws); } catch (e) { early = { tether: isTetherError(e), code: e.code, message: e.message }; }
  await init();
  const spare = new Socket(ws);
  spare.free();
  let freed = null;
  try { spare.connect(); } catch (e) { freed = e.code; }
  const res = await fetch(\`\${api}/api/session\`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "vite-app" }),
  });
  if (!res.ok) throw new Error(\`sign-in answered \${res.status}\`);
  const session = await res.json();
  const socket = new Socket(ws, {
    params: () => ({ token: session.token }),
    reconnect: { minMs: 100, maxMs: 1000, jitter: 1 },
  });
  const states = [];
  const errors = [];
  socket.onState((s) => states.push(s.state));
  socket.onError((e) => errors.push(e.code));
  socket.connect();
  const store = socket.notifications(session.user_id);
  const room = socket.channel("room:lobby", { name: "vite-app" });
  await room.join();
  const echo = await room.push("echo", { from: "vite" }, { timeoutMs: 5000 });
  // The notification topic is the signed-in user's only: live means the token was accepted.
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the store never went live: " + store.getSnapshot().status)), 10000);
    store.subscribe((snap) => { if (snap.status === "live") { clearTimeout(timer); resolve(); } });
  });
  window.result = { early, freed, states, errors, channel: room.state, echo, socket: socket.state.state, user: session.user_id, store: store.getSnapshot().status };
  show("joined");
} catch (e) {
  window.result = { error: String(e), code: e && e.code };
  show("failed");
}
`;

/** Checks what MAIN_JS reports once it has joined. */
function assertJoined(result, context) {
  assert.equal(result.error, undefined, `the page failed: ${JSON.stringify(result)}${context}`);
  assert.equal(result.channel, 'joined');
  assert.equal(result.socket, 'open');
  assert.equal(result.store, 'live', 'the notification store joined with the session token');
  assert.match(result.user, /^vite-app/);
  assert.deepEqual(result.echo, { from: 'vite' });
  assert.ok(result.states.includes('open'));
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.early, {
    tether: true,
    code: 'not_initialized',
    message: 'tether is not initialized: call `await init()` (the default export) before using Socket',
  }, 'a Socket made before init() throws a coded error');
  assert.equal(result.freed, 'closed_socket', 'a call after free() throws a coded error (the bundler kept the guard)');
}

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

test('the package folder and tarball are what is published, under its own npm name', () => {
  const pkg = packageJson();
  const cargoPackage = readFileSync(join(repoRoot, 'Cargo.toml'), 'utf8').split(/^\[/m).find((s) => s.startsWith('package]'));
  const cargoVersion = /^version\s*=\s*"([^"]+)"/m.exec(cargoPackage)[1];
  const cargoRepository = /^repository\s*=\s*"([^"]+)"/m.exec(cargoPackage)?.[1];
  assert.equal(pkg.version, cargoVersion, 'version comes from Cargo.toml');
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.license, 'MIT');
  assert.ok(pkg.sideEffects !== undefined, 'sideEffects is declared');
  assert.deepEqual(Object.keys(pkg.exports['.'])[0], 'types', 'types is the first condition');
  for (const cond of ['import', 'browser', 'default']) assert.ok(pkg.exports['.'][cond], `exports has "${cond}"`);
  const tarball = packedTarball();
  assert.ok(tarball.endsWith(`tether-realtime-${pkg.version}.tgz`), tarball);
  const listed = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n').sort();
  for (const f of ['package/package.json', 'package/README.md', 'package/LICENSE', 'package/dist/tether.js', 'package/dist/tether.d.ts', 'package/dist/tether_bg.wasm']) {
    assert.ok(listed.includes(f), `${f} is in the tarball`);
  }
  assert.ok(!listed.some((f) => f.endsWith('.gitignore')), 'no .gitignore in the tarball');
  assert.match(readFileSync(join(packageDir, 'LICENSE'), 'utf8'), /Copyright \(c\) 2026 the tether authors/);

  // What the registry would get: the package.json inside the tarball. `tether` on npm is another
  // project's package (a positioning library); this one is published as `tether-realtime`.
  const packed = JSON.parse(execFileSync('tar', ['xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }));
  assert.equal(packed.name, 'tether-realtime');
  assert.equal(packed.name, packageName);
  assert.deepEqual(packed.repository, { type: 'git', url: 'git+https://github.com/tether-realtime/tether.git' });
  assert.equal(packed.homepage, 'https://github.com/tether-realtime/tether#readme');
  assert.equal(packed.bugs, 'https://github.com/tether-realtime/tether/issues');
  const placeholder = /example\.(invalid|com|org)|localhost|TODO|@[A-Z]+@/;
  for (const field of [packed.repository.url, packed.homepage, packed.bugs, packed.description]) {
    assert.doesNotMatch(field, placeholder, `no placeholder in the published package.json: ${field}`);
  }
  assert.equal(cargoRepository, 'https://github.com/tether-realtime/tether', "Cargo.toml's repository is the same project");
  // The READMEs install and import it under that name, never as `tether`.
  for (const readme of [join(repoRoot, 'README.md'), join(packageDir, 'README.md')]) {
    const text = readFileSync(readme, 'utf8');
    assert.match(text, /from "tether-realtime"/, `${readme} imports tether-realtime`);
    assert.doesNotMatch(text, /from ["']tether["']|npm (install|i) tether(\s|$)/m, `${readme} never names the npm package tether`);
  }
  assert.match(readFileSync(join(packageDir, 'README.md'), 'utf8'), /npm install tether-realtime/);
});

test('a fresh Vite app installs the tarball, builds with no wasm plugin, and its page joins room:lobby', TEST_OPTS, async () => {
  const vite = devDependencyVersion('vite');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'tether-vite-app', private: true, type: 'module' }, null, 2));
  writeFileSync(join(app, 'index.html'), INDEX_HTML);
  mkdirSync(join(app, 'src'));
  writeFileSync(join(app, 'src', 'main.js'), MAIN_JS);
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error',
    packedTarball(), `vite@${vite}`], { cwd: app, timeoutMs: 30_000 });
  assert.ok(existsSync(join(app, 'node_modules', 'tether-realtime', 'dist', 'tether_bg.wasm')), 'the tarball is installed under its npm name');
  assert.ok(!readdirSync(join(app, 'node_modules')).some((d) => /wasm/i.test(d) && d !== 'tether-realtime'), 'no wasm plugin installed');

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
  assertJoined(result, '');
  assert.equal(await page.title(), 'joined');
  assert.deepEqual(wasmLoads, ['200 application/wasm'], 'the wasm asset loads once, as application/wasm');
  await page.close();
  await server.stop();
});

test('on the Vite dev server (another origin) the app signs in through /api and connects: directly (CORS) and through Vite\'s proxy', TEST_OPTS, async () => {
  assert.ok(existsSync(join(app, 'node_modules', 'tether-realtime')), 'needs the Vite app test first');
  const server = await startDemoServer({ staticDir: join(app, 'dist') });
  // The README's proxy set-up: /api and /socket forwarded to the demo server.
  writeFileSync(join(app, 'vite.config.js'), `export default {
  server: {
    proxy: {
      "/api": ${JSON.stringify(server.url)},
      "/socket": { target: ${JSON.stringify(server.wsUrl.replace(/\/socket$/, ''))}, ws: true },
    },
  },
};
`);
  const port = await freePort();
  const dev = spawn(process.execPath, [join(app, 'node_modules', 'vite', 'bin', 'vite.js'), '--host', '127.0.0.1', '--port', String(port), '--strictPort'],
    { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  dev.stdout.on('data', (d) => { out += d; });
  dev.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((r) => dev.once('exit', r));
  const open = async (query) => {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const sessions = [];
    page.on('response', (r) => {
      if (r.request().method() === 'POST' && r.url().endsWith('/api/session')) sessions.push({ url: r.url(), allowOrigin: r.headers()['access-control-allow-origin'] });
    });
    await page.goto(`http://127.0.0.1:${port}/${query}`);
    await page.waitForFunction(() => window.result !== undefined, null, { timeout: 20_000 })
      .catch(() => assert.fail(`the dev page did not finish; vite said:\n${out}`));
    const result = await page.evaluate(() => window.result);
    assert.deepEqual(errors, []);
    await page.close();
    return { result, sessions };
  };
  try {
    const deadline = Date.now() + 15_000;
    while (!/Local:/.test(out.replace(/\x1b\[[0-9;]*m/g, ''))) {
      if (Date.now() > deadline || dev.exitCode !== null) assert.fail(`vite dev did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Directly: the page at 127.0.0.1:<vite> calls the demo server's origin.
    const direct = await open(`?${new URLSearchParams({ api: server.url, ws: server.wsUrl })}`);
    assertJoined(direct.result, `\n${out}`);
    assert.deepEqual(direct.sessions, [{ url: `${server.url}/api/session`, allowOrigin: `http://127.0.0.1:${port}` }],
      'the sign-in went to the demo server, which answered CORS for the Vite origin');
    // Through the proxy: same-origin paths.
    const proxied = await open('');
    assertJoined(proxied.result, `\n${out}`);
    assert.deepEqual(proxied.sessions.map((r) => r.url), [`http://127.0.0.1:${port}/api/session`], 'the sign-in went through the proxy');
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
  assert.ok(existsSync(join(app, 'node_modules', 'tether-realtime')), 'needs the Vite app test first');
  // The sample and its compiler options, minus the `paths` that point at target/npm: here
  // "tether-realtime" resolves through node_modules and the package's exports map ("types" condition).
  const { compilerOptions } = JSON.parse(readFileSync(join(testsDir, 'types', 'tsconfig.json'), 'utf8'));
  delete compilerOptions.paths;
  mkdirSync(join(app, 'types'));
  copyFileSync(join(testsDir, 'types', 'usage.ts'), join(app, 'types', 'usage.ts'));
  writeFileSync(join(app, 'types', 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['usage.ts'] }, null, 2));
  const tsc = join(testsDir, 'node_modules', 'typescript', 'bin', 'tsc');
  const out = await run(process.execPath, [tsc, '-p', join(app, 'types'), '--listFiles'], { cwd: app, timeoutMs: 30_000 })
    .catch((e) => assert.fail(`tsc --noEmit failed:\n${e.message}`));
  assert.match(out, /node_modules\/tether-realtime\/dist\/tether\.d\.ts$/m, 'tether-realtime resolves to the installed package through its exports map');
});

test('the public declarations contain no `any` and no internals', () => {
  const installed = join(app, 'node_modules', 'tether-realtime');
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
  // What init() resolves to shows no internals (the module's ~60 shortened export names).
  const dts = stripComments(readFileSync(join(installed, 'dist', 'tether.d.ts'), 'utf8'));
  const initOutput = /^export interface InitOutput \{([\s\S]*?)^\}/m.exec(dts);
  assert.ok(initOutput, 'InitOutput is declared');
  assert.deepEqual(initOutput[1].split('\n').map((l) => l.trim()).filter(Boolean), ['readonly memory: WebAssembly.Memory;']);
  assert.doesNotMatch(dts, /^\s*readonly "?[\w$]{1,2}"?: \(/m, 'no raw wasm export is declared anywhere');
});

// The release package in a plain page (an import map names it, as an app's bundler would): a
// use before `await init()` and calls on freed objects throw or reject with coded errors, not
// wasm-bindgen's TypeError ("reading 'Vc'") or "null pointer passed to rust".
const MISUSE_JS = `import init, { Socket, isTetherError } from "tether-realtime";
const q = new URLSearchParams(location.search);
const describe = (e) => ({ error: e instanceof Error, tether: isTetherError(e), name: e && e.name, code: e && e.code, message: e && e.message });
// What a call did: returned (a promise: what it settled to), or threw.
const attempt = async (f) => {
  let value;
  try { value = f(); } catch (e) { return { threw: describe(e) }; }
  if (value instanceof Promise) return value.then(() => ({ resolved: true }), (e) => ({ rejected: describe(e) }));
  return { returned: typeof value };
};
const out = (window.out = {});
out.guardOnPlainError = isTetherError(new Error("x"));
out.beforeInit = {
  construct: await attempt(() => new Socket(q.get("ws"))),
  guardWorks: isTetherError(Object.assign(new Error("x"), { name: "TetherError", code: "timeout" })),
};
await init();
const socket = new Socket(q.get("ws"), { reconnect: { minMs: 100, maxMs: 500 } });
const channel = socket.channel("room:misuse");
const presence = channel.presence();
socket.free();
out.socketAfterFree = {
  connect: await attempt(() => socket.connect()),
  disconnect: await attempt(() => socket.disconnect()),
  state: await attempt(() => socket.state),
  onError: await attempt(() => socket.onError(() => {})),
  channel: await attempt(() => socket.channel("room:other")),
  ping: await attempt(() => socket.ping()),
  freeAgain: await attempt(() => socket.free()),
};
channel.free();
presence.free();
out.channelAfterFree = {
  join: await attempt(() => channel.join()),
  push: await attempt(() => channel.push("echo", {})),
  on: await attempt(() => channel.on("x", () => {})),
  topic: await attempt(() => channel.topic),
};
out.presenceAfterFree = { list: await attempt(() => presence.list()) };
// A new Socket works as ever.
const fresh = new Socket(q.get("ws"), { reconnect: { minMs: 100, maxMs: 500 } });
fresh.connect();
const room = fresh.channel("room:misuse");
await room.join();
out.fresh = { channel: room.state, echo: await room.push("echo", { ok: 1 }, { timeoutMs: 5000 }) };
fresh.disconnect();
out.done = true;
`;

test('before init() and after free(): coded errors in a real page (release build)', TEST_OPTS, async () => {
  const dir = join(app, 'misuse-page');
  const site = preparePackagePage(dir);
  site.write('index.html', `<!doctype html><meta charset="utf-8"><title>misuse</title><link rel="icon" href="data:,">
${site.importMap()}<script type="module" src="/main.js"></script>`);
  site.write('main.js', MISUSE_JS);
  const server = await startDemoServer({ staticDir: dir });
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto(`${server.url}/index.html?ws=${encodeURIComponent(server.wsUrl)}`);
    await page.waitForFunction(() => window.out?.done === true, null, { timeout: 15_000 })
      .catch(async () => assert.fail(`the page did not finish: ${JSON.stringify(await page.evaluate(() => window.out))} ${errors}`));
    const out = await page.evaluate(() => window.out);
    assert.deepEqual(errors, []);
    assert.equal(out.guardOnPlainError, false);
    assert.equal(out.beforeInit.guardWorks, true, 'isTetherError works before init()');
    assert.deepEqual(out.beforeInit.construct, { threw: {
      error: true, tether: true, name: 'TetherError', code: 'not_initialized',
      message: 'tether is not initialized: call `await init()` (the default export) before using Socket',
    } });
    const freed = (cls, member) => ({
      error: true, tether: true, name: 'TetherError', code: 'closed_socket',
      message: `this ${cls} was freed (free() was called); create a new one (${cls}.${member} called after free)`,
    });
    assert.deepEqual(out.socketAfterFree, {
      connect: { threw: freed('Socket', 'connect') },
      disconnect: { threw: freed('Socket', 'disconnect') },
      state: { threw: freed('Socket', 'state') },
      onError: { threw: freed('Socket', 'onError') },
      channel: { threw: freed('Socket', 'channel') },
      ping: { rejected: freed('Socket', 'ping') },
      freeAgain: { returned: 'undefined' },
    });
    assert.deepEqual(out.channelAfterFree, {
      join: { rejected: freed('Channel', 'join') },
      push: { rejected: freed('Channel', 'push') },
      on: { threw: freed('Channel', 'on') },
      topic: { threw: freed('Channel', 'topic') },
    });
    assert.deepEqual(out.presenceAfterFree, { list: { threw: freed('Presence', 'list') } });
    assert.deepEqual(out.fresh, { channel: 'joined', echo: { ok: 1 } });
  } finally {
    await page.close();
    await server.stop();
  }
});
