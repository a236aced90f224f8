// Start and stop the tether-demo server binary for node tests.
//
// The binary is spawned directly (no shell, no cargo), so `pid` is the server's own PID.
// It must already be built: `cargo build -p tether-demo` (override the path with TETHER_DEMO_BIN).
// Set TETHER_DEMO_LOG=1 to copy the server's output to stderr.
//
// Each server keeps its notifications (SQLite) in a data directory: by default a fresh temp
// dir of its own, removed when it stops. Pass `dataDir` to choose one (it is left in place),
// e.g. to restart a server on the same data. The token secret is kept in the data directory
// too unless `secret` is given (passed as TETHER_DEMO_SECRET), so tokens survive such a restart.
// To restart with an empty store (the server "lost everything") while the page's token stays
// valid, start both servers with the same `secret` and give the second a fresh (or no) dataDir.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const START_TIMEOUT_MS = 15_000;
const KILL_AFTER_MS = 5_000;
const LISTENING = /^tether-demo listening on http:\/\/(\S+):(\d+)\s*$/;

const running = new Set();

export function demoBinaryPath() {
  return process.env.TETHER_DEMO_BIN || join(repoRoot, 'target', 'debug', 'tether-demo');
}

/**
 * Spawn tether-demo and wait for its "listening on" line.
 * @param {{port?: number, staticDir?: string, dataDir?: string, secret?: string}} [options]
 *   dataDir: where the server keeps its SQLite file; default a fresh temp dir, removed on stop.
 *   secret: the token signing key (TETHER_DEMO_SECRET); default the one kept in dataDir.
 * @returns {Promise<{port: number, url: string, wsUrl: string, pid: number, dataDir: string,
 *   output: () => string, stop: () => Promise<{code: number|null, signal: string|null}>}>}
 */
export async function startDemoServer({ port = 0, staticDir, dataDir, secret } = {}) {
  const bin = demoBinaryPath();
  if (!existsSync(bin)) {
    throw new Error(`tether-demo binary not found at ${bin}; run \`cargo build -p tether-demo\` first`);
  }
  const ownsDataDir = dataDir === undefined;
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'tether-demo-data-'));
  const removeDataDir = () => {
    if (ownsDataDir) rmSync(dir, { recursive: true, force: true });
  };
  const args = [
    '--host', '127.0.0.1',
    '--port', String(port),
    '--static-dir', staticDir ?? join(repoRoot, 'demo', 'static'),
    '--data-dir', dir,
  ];
  const env = { ...process.env };
  delete env.TETHER_DEMO_SECRET;
  if (secret !== undefined) env.TETHER_DEMO_SECRET = secret;
  const child = spawn(bin, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });

  // Keep the last lines of output for error messages; always drain both pipes so the server
  // never blocks on a full pipe while logging.
  const lines = [];
  const remember = (line) => {
    lines.push(line);
    if (lines.length > 200) lines.shift();
    if (process.env.TETHER_DEMO_LOG) process.stderr.write(`[demo ${child.pid}] ${line}\n`);
  };
  const stdout = createInterface({ input: child.stdout });
  const stderr = createInterface({ input: child.stderr });
  stderr.on('line', remember);

  const exited = new Promise((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit({ code, signal }));
  });
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;

  let server;
  const stop = async () => {
    if (!hasExited()) {
      child.kill('SIGTERM');
      let timer;
      const timedOut = await Promise.race([
        exited.then(() => false),
        new Promise((r) => { timer = setTimeout(() => r(true), KILL_AFTER_MS); }),
      ]);
      clearTimeout(timer);
      if (timedOut && !hasExited()) child.kill('SIGKILL');
    }
    const result = await exited;
    running.delete(server);
    removeDataDir();
    return result;
  };
  server = { stop, child, removeDataDir };
  running.add(server);

  const listening = new Promise((resolveListening, rejectListening) => {
    let timer;
    const fail = (err) => {
      clearTimeout(timer);
      rejectListening(err);
    };
    timer = setTimeout(() => {
      fail(new Error(`tether-demo did not report listening within ${START_TIMEOUT_MS} ms:\n${lines.join('\n')}`));
    }, START_TIMEOUT_MS);
    child.once('error', fail);
    exited.then(({ code, signal }) => {
      fail(new Error(`tether-demo exited before listening (code ${code}, signal ${signal}):\n${lines.join('\n')}`));
    });
    stdout.on('line', (line) => {
      remember(line);
      const m = LISTENING.exec(line);
      if (m) {
        clearTimeout(timer);
        resolveListening(Number(m[2]));
      }
    });
  });

  let actualPort;
  try {
    actualPort = await listening;
  } catch (err) {
    await stop();
    throw err;
  }
  const url = `http://127.0.0.1:${actualPort}`;
  return {
    port: actualPort,
    url,
    wsUrl: `ws://127.0.0.1:${actualPort}/socket`,
    pid: child.pid,
    dataDir: dir,
    output: () => lines.join('\n'),
    stop,
  };
}

/** Stop every server started by this module that is still running. */
export async function stopAll() {
  await Promise.all([...running].map((s) => s.stop()));
}

// Last resort: never leave a server behind when the test process exits.
process.once('exit', () => {
  for (const s of running) {
    try { s.child.kill('SIGKILL'); } catch { /* already gone */ }
    try { s.removeDataDir(); } catch { /* best effort */ }
  }
});
