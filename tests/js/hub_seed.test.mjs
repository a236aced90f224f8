// The MemoriesDB hub dialect of the demo server in real Chromium pages (issue 19, "The seed's hub
// example works"):
// 1. the seed's own client code — `new WebSocket('ws://…/ws?c=updates&c=notifications')` and its
//    `publish(channel, content)` — in two pages: what one publishes on `updates` the other gets;
// 2. the README's hub example (the ```js block of "### Other wire dialects", run as written but
//    for the host) against the demo server, seen by a seed-style socket on `updates`;
// 3. what a browser sees of a refusal: a close code and a reason it can read (4403 for a user's
//    private topic, 4400 for too many channels, 4401 for a bad token on /socket).
//
// Needs `pkg-template/build` and `cargo build -p tether-demo` first;
// run with `cd tests && node --test js/hub_seed.test.mjs`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemoServer, stopAll } from './lib/demo_server.mjs';
import { launchBrowser } from './lib/browser.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STEP_MS = 10_000;
const TEST_OPTS = { timeout: 30_000 };

// The seed's client, as its docs write it (only the host differs, and the messages are kept).
const SEED_PAGE = `<!doctype html><meta charset="utf-8"><title>seed</title><link rel="icon" href="data:,">
<script>
window.received = [];
window.opened = false;
const ws = new WebSocket('ws://' + location.host + '/ws?c=updates&c=notifications');
ws.onopen = () => { window.opened = true; };
ws.onmessage = (event) => {
    const data = JSON.parse(event.data);
    window.received.push(data);
};
function publish(channel, content) {
    ws.send(JSON.stringify({
        method: 'pub',
        params: {
            channel: channel,
            content: content
        }
    }));
}
window.publish = publish;
</script>`;

/** Opens `url` with a plain WebSocket in the page; resolves with how it ended. */
const CLOSE_PAGE = `<!doctype html><meta charset="utf-8"><title>close</title><link rel="icon" href="data:,">
<script>
window.closeOf = (url) => new Promise((resolve) => {
  const ws = new WebSocket(url);
  let opened = false;
  const frames = [];
  ws.onopen = () => { opened = true; };
  ws.onmessage = (e) => frames.push(String(e.data));
  ws.onclose = (e) => resolve({ opened, code: e.code, reason: e.reason, frames });
});
</script>`;

/** The first ```js block after the heading "### Other wire dialects". */
function readmeHubExample() {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const start = readme.search(/^### Other wire dialects\s*$/m);
  assert.ok(start >= 0, 'README.md has an "Other wire dialects" section');
  const m = /^```js\n([\s\S]*?)^```/m.exec(readme.slice(start));
  assert.ok(m, 'the section has a ```js block');
  return m[1];
}

let dir;
let browser;
let server;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tether-hub-seed-'));
  cpSync(join(repo, 'demo', 'static', 'pkg'), join(dir, 'pkg'), { recursive: true });
  writeFileSync(join(dir, 'seed.html'), SEED_PAGE);
  writeFileSync(join(dir, 'close.html'), CLOSE_PAGE);
  server = await startDemoServer({ staticDir: dir });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function seedPage() {
  const page = await browser.newPage();
  await page.goto(`${server.url}/seed.html`);
  await page.waitForFunction(() => window.opened, null, { timeout: STEP_MS });
  return page;
}

const received = (page) => page.evaluate(() => window.received);

test("the seed's client: subscribe with ?c=updates&c=notifications, publish, receive", TEST_OPTS, async () => {
  const a = await seedPage();
  const b = await seedPage();
  await a.evaluate(() => window.publish('updates', { status: 'saved', id: 7 }));
  // Two publishers' frames have no order between them on the server: b publishes once a's
  // message has reached both pages.
  for (const page of [a, b]) {
    await page.waitForFunction(() => window.received.length >= 1, null, { timeout: STEP_MS });
  }
  await b.evaluate(() => window.publish('notifications', 'ping'));
  const expected = [
    { channel: 'updates', content: { status: 'saved', id: 7 } },
    { channel: 'notifications', content: 'ping' },
  ];
  for (const page of [a, b]) {
    await page.waitForFunction(() => window.received.length >= 2, null, { timeout: STEP_MS });
    assert.deepEqual(await received(page), expected);
  }
  await a.close();
  await b.close();
});

test("the README's hub example runs against the demo server", TEST_OPTS, async () => {
  const example = readmeHubExample();
  assert.match(example, /hub\.channel\("updates"\)/, 'the example uses the seed-style channel "updates"');
  const code = example.replaceAll('ws://host/', `ws://127.0.0.1:${server.port}/`);
  assert.ok(!code.includes('ws://host'), 'every URL points at the demo server');
  writeFileSync(join(dir, 'readme_hub.html'), `<!doctype html><meta charset="utf-8"><title>hub</title><link rel="icon" href="data:,">
<script>
  window.__hub = { done: false, errors: [] };
  addEventListener('error', (e) => window.__hub.errors.push(String(e.error ?? e.message)));
  addEventListener('unhandledrejection', (e) => window.__hub.errors.push('unhandled rejection: ' + (e.reason?.code ?? '') + ' ' + String(e.reason)));
</script>
<script type="module">
import init, { Socket } from './pkg/tether.js';
await init();
${code}
window.__hub.done = true;
</script>`);
  const watcher = await seedPage();
  const page = await browser.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e}`));
  await page.goto(`${server.url}/readme_hub.html`);
  await page.waitForFunction(() => window.__hub.done || window.__hub.errors.length > 0, null, { timeout: 15_000 })
    .catch(() => assert.fail(`the example did not finish in 15 s; console:\n${logs.join('\n')}`));
  assert.deepEqual(await page.evaluate(() => window.__hub.errors), [], `console:\n${logs.join('\n')}`);
  // Its push reached a seed-style subscriber of "updates", content as pushed.
  await watcher.waitForFunction(() => window.received.some((m) => m.channel === 'updates'), null, { timeout: STEP_MS });
  assert.deepEqual((await received(watcher)).filter((m) => m.channel === 'updates'),
    [{ channel: 'updates', content: { text: 'hi' } }]);
  await page.close();
  await watcher.close();
});

test('a browser reads why it was refused: 4403, 4400 and 4401 with their reasons', TEST_OPTS, async () => {
  const page = await browser.newPage();
  await page.goto(`${server.url}/close.html`);
  const ws = `ws://127.0.0.1:${server.port}`;
  const many = Array.from({ length: 33 }, (_, i) => `c=ch${i}`).join('&');
  const cases = [
    [`${ws}/ws?c=updates&c=user:u1:notifications`, 4403, 'forbidden: channel "user:u1:notifications" is a private user topic'],
    [`${ws}/ws?${many}`, 4400, 'bad request: at most 32 channels per socket'],
    [`${ws}/socket/websocket?vsn=2.0.0&token=forged.token`, 4401, 'unauthorized: '],
  ];
  for (const [url, code, reason] of cases) {
    const closed = await page.evaluate((u) => window.closeOf(u), url);
    assert.equal(closed.code, code, `${url}: ${JSON.stringify(closed)}`);
    assert.ok(closed.reason.startsWith(reason), `${url}: ${JSON.stringify(closed)}`);
    assert.deepEqual(closed.frames, [], 'nothing is delivered before the close');
  }
  await page.close();
});
