// Helpers for the tests of the npm package (target/npm/, made by pkg-template/build): where the
// package and its tarball are, a page directory that imports the built package by its npm name
// ("tether-realtime"),
// running a command with a time limit (stopped by PID), and signing in to the demo server.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const testsDir = join(repoRoot, 'tests');
export const npmDir = join(repoRoot, 'target', 'npm');
/** The ready-to-publish package folder. */
export const packageDir = join(npmDir, 'tether-realtime');
/** The npm name: what apps import. */
export const packageName = 'tether-realtime';

const BUILD_HINT = 'run `pkg-template/build` first (it makes target/npm/tether-realtime and its tarball)';

/** The one `npm pack` tarball in target/npm. */
export function packedTarball() {
  const found = existsSync(npmDir) ? readdirSync(npmDir).filter((f) => /^tether-realtime-.*\.tgz$/.test(f)) : [];
  if (found.length !== 1) {
    throw new Error(`expected exactly one tether-realtime-*.tgz in ${npmDir}, found ${JSON.stringify(found)}; ${BUILD_HINT}`);
  }
  return join(npmDir, found[0]);
}

/** The package folder's package.json. */
export function packageJson() {
  const file = join(packageDir, 'package.json');
  if (!existsSync(file)) throw new Error(`${file} is missing; ${BUILD_HINT}`);
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** The exact version of a dev dependency in tests/package.json. */
export function devDependencyVersion(name) {
  const v = JSON.parse(readFileSync(join(testsDir, 'package.json'), 'utf8')).devDependencies?.[name];
  if (!v) throw new Error(`tests/package.json has no devDependency ${name}`);
  return v;
}

/**
 * Fills `dir` for a page that imports the built package as "tether-realtime": `dir/pkg/` holds the
 * package's dist files, and `importMap()` is the `<script type="importmap">` that maps the bare
 * specifier to it (so example code keeps its `import … from "tether-realtime"`).
 */
export function preparePackagePage(dir) {
  mkdirSync(dir, { recursive: true });
  const dist = join(packageDir, 'dist');
  if (!existsSync(join(dist, 'tether.js'))) throw new Error(`${dist}/tether.js is missing; ${BUILD_HINT}`);
  cpSync(dist, join(dir, 'pkg'), { recursive: true });
  return {
    importMap: () => '<script type="importmap">{"imports":{"tether-realtime":"/pkg/tether.js"}}</script>',
    write: (name, text) => writeFileSync(join(dir, name), text),
  };
}

const children = new Set();

/**
 * Runs `cmd args` (no shell) in its own process group; resolves with its output, rejects when it
 * fails or outlives `timeoutMs` (then its whole group is killed by the child's PID).
 */
export function run(cmd, args, { cwd, env, timeoutMs = 60_000 } = {}) {
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => {
      killGroup(child);
      rejectRun(new Error(`${cmd} ${args.join(' ')} took over ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); children.delete(child); rejectRun(e); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (code === 0) resolveRun(out);
      else rejectRun(new Error(`${cmd} ${args.join(' ')} failed (code ${code}, signal ${signal}):\n${out}`));
    });
  });
}

function killGroup(child) {
  try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
}

process.once('exit', () => { for (const c of children) killGroup(c); });

/** `POST /api/session {name}` on the demo server → `{user_id, name, token, topic}`. */
export async function signIn(serverUrl, name) {
  const res = await fetch(`${serverUrl}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (!res.ok) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
  return res.json();
}

/** `POST /api/notify` on the demo server → `{notification, delivered}`. */
export async function notify(serverUrl, body) {
  const res = await fetch(`${serverUrl}/api/notify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`notify failed: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Removes comments from TypeScript declaration text, keeping line breaks (for line numbers). */
export function stripComments(text) {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '))
    .replace(/\/\/[^\n]*/g, '');
}
