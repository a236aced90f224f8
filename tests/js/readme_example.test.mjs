// The README's example code runs, so it cannot rot: the first ```js block of the "Using it"
// section is taken from README.md and run as a module in a Chromium page against the demo
// server, with the built package (target/npm/tether-realtime) behind its bare specifier (an
// import map, so the import line stays as written). Only what must differ is changed: the
// socket URL becomes the demo server's, and the helpers the example leaves to the app
// (`currentToken`, `refetchWhatWeMissed`) are stubs — `currentToken()` returns a real token of
// the demo server, which refuses a connection whose token is invalid.
//
// Needs `pkg-template/build` and `cargo build -p tether-demo` first;
// run with `cd tests && node --test js/readme_example.test.mjs`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoServer, stopAll } from './lib/demo_server.mjs';
import { launchBrowser } from './lib/browser.mjs';
import { preparePackagePage, repoRoot, signIn } from './lib/package.mjs';

/** The first ```js block after the heading "## Using it" (before the next "## " heading). */
function readmeExample(readme) {
  const start = readme.search(/^## Using it\s*$/m);
  assert.ok(start >= 0, 'README.md has a "## Using it" section');
  const rest = readme.slice(start);
  const next = rest.slice(3).search(/^## /m);
  const section = next >= 0 ? rest.slice(0, next + 3) : rest;
  const m = /^```js\n([\s\S]*?)^```/m.exec(section);
  assert.ok(m, 'the "Using it" section has a ```js block');
  return m[1];
}

let dir;
let browser;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tether-readme-'));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("the README's example runs against the demo server", { timeout: 30_000 }, async () => {
  const example = readmeExample(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
  const server = await startDemoServer({ staticDir: dir });
  const { token } = await signIn(server.url, 'readme');

  const urls = [...example.matchAll(/new Socket\("([^"]+)"/g)].map((m) => m[1]);
  assert.equal(urls.length, 1, 'the example makes one Socket with a literal URL');
  const code = example.replace(`new Socket("${urls[0]}"`, `new Socket(${JSON.stringify(server.wsUrl)}`);
  const stubs = [
    `const currentToken = () => ${JSON.stringify(token)};`,
    'const refetchWhatWeMissed = () => { window.__readme.refetches += 1; };',
  ];
  const undefinedHelpers = ['currentToken', 'refetchWhatWeMissed'].filter((f) => !new RegExp(`\\b${f}\\(`).test(example));
  assert.deepEqual(undefinedHelpers, [], 'the example still calls the helpers this test stubs');

  const page = preparePackagePage(dir);
  page.write('readme.html', `<!doctype html><meta charset="utf-8"><title>readme</title><link rel="icon" href="data:,">
${page.importMap()}
<script>
  window.__readme = { done: false, errors: [], logs: [], refetches: 0 };
  addEventListener('error', (e) => window.__readme.errors.push(String(e.error ?? e.message)));
  addEventListener('unhandledrejection', (e) => window.__readme.errors.push('unhandled rejection: ' + (e.reason?.code ?? '') + ' ' + String(e.reason)));
</script>
<script type="module">
${stubs.join('\n')}
${code}
window.__readme.done = true;
</script>`);

  const tab = await browser.newPage();
  const logs = [];
  tab.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  tab.on('pageerror', (e) => logs.push(`pageerror: ${e}`));
  await tab.goto(`${server.url}/readme.html`);
  await tab.waitForFunction(() => window.__readme.done || window.__readme.errors.length > 0, null, { timeout: 15_000 })
    .catch(() => assert.fail(`the example did not finish in 15 s; console:\n${logs.join('\n')}`));
  const result = await tab.evaluate(() => window.__readme);
  if (process.env.TETHER_TEST_VERBOSE) console.log(logs.join('\n'));
  assert.deepEqual(result.errors, [], `console:\n${logs.join('\n')}`);
  assert.equal(result.done, true);
  // The example reports error events with console.warn: a clean run has none.
  assert.ok(!logs.some((l) => /^(pageerror|error|warning)/.test(l)), `console:\n${logs.join('\n')}`);
  // What the example logs: socket states (connecting, open, closed after disconnect()).
  assert.ok(logs.some((l) => /^log: open\b/.test(l)), `the socket opened; console:\n${logs.join('\n')}`);
  await tab.close();
  await server.stop();
});
