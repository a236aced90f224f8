// `./demo/run` rebuilds the SDK package only when something it is built from changed
// (demo/pkg-stamp). Checked on a copy of what the stamp reads (src/, pkg-template/, Cargo.toml,
// Cargo.lock, tests/package-lock.json, demo/static/pkg), so nothing here builds or touches the
// real tree: a recorded stamp holds until a source file, the lock file or the built package
// changes, and holds again once the change is undone.
//
// Run with `cd tests && node --test js/demo_run.test.mjs` (needs demo/static/pkg, from
// `pkg-template/build`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs demo/pkg-stamp in `root` with `args`; returns {status, stdout}. */
function stamp(root, ...args) {
  const r = spawnSync('bash', [join(root, 'demo', 'pkg-stamp'), ...args], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.error, undefined, String(r.error));
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
}

test('demo/run skips the SDK build exactly while its inputs and the built package are unchanged', { timeout: 60_000 }, (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tether-demo-run-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const path of ['src', 'pkg-template', 'Cargo.toml', 'Cargo.lock', 'tests/package-lock.json', 'demo/static/pkg', 'demo/pkg-stamp']) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    cpSync(join(repo, path), join(root, path), { recursive: true });
  }
  // demo/run asks the same script the same way.
  const run = readFileSync(join(repo, 'demo', 'run'), 'utf8');
  assert.match(run, /pkg-stamp" inputs\)/);
  assert.match(run, /pkg-stamp" check "\$want"/);
  assert.match(run, /pkg-stamp" record "\$want"/);

  const inputs = stamp(root, 'inputs');
  assert.equal(inputs.status, 0, inputs.stderr);
  assert.match(inputs.stdout, /^[0-9a-f]{64}$/);
  assert.equal(stamp(root, 'check', inputs.stdout).status, 1, 'no stamp yet: build');
  assert.equal(stamp(root, 'record', inputs.stdout).status, 0);
  assert.equal(stamp(root, 'check', inputs.stdout).status, 0, 'nothing changed: skip');
  assert.equal(stamp(root, 'inputs').stdout, inputs.stdout, 'the hash is stable');

  // Each input, changed and then restored: stale while changed, current again after.
  for (const file of ['src/lib.rs', 'Cargo.lock', 'pkg-template/build', 'tests/package-lock.json']) {
    const path = join(root, file);
    const before = readFileSync(path);
    appendFileSync(path, '\n');
    const changed = stamp(root, 'inputs').stdout;
    assert.notEqual(changed, inputs.stdout, `${file} is an input`);
    assert.equal(stamp(root, 'check', changed).status, 1, `${file} changed: build`);
    writeFileSync(path, before);
    assert.equal(stamp(root, 'inputs').stdout, inputs.stdout, `${file} restored`);
  }
  // A new source file counts too.
  writeFileSync(join(root, 'src', 'new_part.rs'), '// new\n');
  assert.notEqual(stamp(root, 'inputs').stdout, inputs.stdout, 'a new file in src/ is an input');
  rmSync(join(root, 'src', 'new_part.rs'));

  // The package replaced by another build (same sources): rebuilt.
  const wasm = join(root, 'demo', 'static', 'pkg', 'tether_bg.wasm');
  const built = readFileSync(wasm);
  appendFileSync(wasm, Buffer.from([0]));
  assert.equal(stamp(root, 'check', inputs.stdout).status, 1, 'a different package: build');
  rmSync(wasm);
  assert.equal(stamp(root, 'check', inputs.stdout).status, 1, 'no package: build');
  writeFileSync(wasm, built);
  assert.equal(stamp(root, 'check', inputs.stdout).status, 0, 'the recorded package is back: skip');

  assert.equal(stamp(root, 'check').status, 2, 'a usage error is not taken as "current"');
});
