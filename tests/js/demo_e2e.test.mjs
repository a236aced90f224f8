// The demo page end to end: two users (two Chromium instances, playwright-core) on the page the
// demo server serves from demo/static (with the release SDK in demo/static/pkg).
//
// 1. They sign in, chat, and see each other in "Online" (with tab counts).
// 2. A notification sent to one shows the badge and a toast; mark all read clears it, and it stays
//    cleared after a reload (the server agrees).
// 3. The server process is SIGKILLed and restarted on the same port and data dir: both pages show
//    "reconnecting", then "open", and resync (presence and badge equal the server's view).
// 4. Offline emulation: the pill says offline and no WebSocket is created until the network is
//    back, then one is created at once.
//
// Screenshots go to tests/artifacts/ (gitignored). Needs `pkg-template/build` and
// `cargo build -p tether-demo` first; run with `cd tests && node --test js/demo_e2e.test.mjs`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemoServer, stopAll } from './lib/demo_server.mjs';
import { launchBrowser } from './lib/browser.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const staticDir = join(repo, 'demo', 'static');
const artifacts = join(repo, 'tests', 'artifacts');
const STEP_MS = 10_000;
const TEST_OPTS = { timeout: 60_000 };

const sel = (id, extra = '') => `[data-testid="${id}"]${extra}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let server;
let dataDir;
const users = {}; // name → {browser, page, id, wsCount, errors}

// ---------------------------------------------------------------- helpers

async function api(path, body) {
  const res = await fetch(`${server.url}${path}`, body === undefined ? {} : {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  assert.equal(res.status, 200, `${path}: ${JSON.stringify(json)}`);
  return json;
}

const serverUnread = async (user) => (await api(`/api/notifications/${user.id}`)).unread_count;
const serverPresence = () => api(`/api/presence/${encodeURIComponent('room:lobby')}`);

/** Polls `check` until it returns something truthy; fails naming `what` (a string or function). */
async function eventually(check, what, ms = STEP_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${typeof what === 'function' ? await what() : what}`);
    await sleep(50);
  }
}

async function shot(page, name) {
  await page.bringToFront(); // headless Chromium only animates the front tab of a window
  await sleep(350);           // let entry animations finish
  await page.screenshot({ path: join(artifacts, `demo-${name}.png`) });
}

const pillState = (page) => page.getAttribute(sel('connection-pill'), 'data-state');
const waitPill = (page, state, ms = STEP_MS) =>
  page.waitForSelector(sel('connection-pill', `[data-state="${state}"]`), { timeout: ms });
const badge = (page) => page.evaluate(() => {
  const b = document.querySelector('[data-testid="bell-badge"]');
  return b.hidden ? '' : b.textContent;
});

/** What the "Online" panel shows: {name: tabs}. */
const onlineList = (page) => page.$$eval(sel('online-item'), (items) =>
  Object.fromEntries(items.map((i) => [i.dataset.name, Number(i.dataset.tabs)])));

/** Equal {name: tabs} maps, whatever their key order. */
const same = (a, b) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

/** The server's presence as {name: tabs}. */
async function serverOnline() {
  const state = await serverPresence();
  return Object.fromEntries(Object.entries(state).map(([k, v]) => [k, v.metas.length]));
}

async function openUser(name) {
  const browser = await launchBrowser();
  const page = browser.context.pages()[0] ?? await browser.newPage();
  const user = { name, browser, page, errors: [], wsCount: 0 };
  page.on('pageerror', (e) => user.errors.push(String(e)));
  page.on('websocket', () => { user.wsCount += 1; });
  await page.goto(server.url);
  await page.waitForSelector(sel('name-form'), { timeout: STEP_MS });
  await page.fill(sel('name-input'), name);
  await page.press(sel('name-input'), 'Enter');
  await waitPill(page, 'open');
  // The pill's tooltip shows the round trip measured with socket.ping().
  await page.waitForFunction((s) => /^Round trip \d+ ms$/.test(document.querySelector(s).title),
    sel('connection-pill'), { timeout: STEP_MS });
  await page.waitForSelector(`${sel('message-input')}:not([disabled])`, { timeout: STEP_MS });
  const session = await page.evaluate(() => JSON.parse(localStorage.getItem('tether-demo:session')));
  assert.equal(session.name, name);
  user.id = session.user_id;
  users[name] = user;
  return user;
}

async function sendChat(user, text) {
  await user.page.fill(sel('message-input'), text);
  await user.page.click(sel('send-button'));
}

const messages = (page) => page.$$eval(sel('message'), (ms) => ms.map((m) => ({
  name: m.querySelector('.name')?.textContent,
  body: m.querySelector('.bubble')?.textContent,
  own: m.dataset.own === 'true',
  elements: m.querySelector('.bubble')?.children.length,
})));

/** Installs a recorder of every pill state the page shows (data-state and text). */
const recordPill = (page) => page.evaluate(() => {
  const pill = document.querySelector('[data-testid="connection-pill"]');
  window.pillLog = [{ state: pill.dataset.state, text: pill.textContent }];
  new MutationObserver(() => {
    const last = window.pillLog.at(-1);
    const now = { state: pill.dataset.state, text: pill.textContent };
    if (now.state !== last.state || now.text !== last.text) window.pillLog.push(now);
  }).observe(pill, { attributes: true, childList: true, subtree: true, characterData: true });
});

// ---------------------------------------------------------------- setup

before(async () => {
  assert.ok(existsSync(join(staticDir, 'pkg', 'tether_bg.wasm')), 'demo/static/pkg missing: run pkg-template/build first');
  mkdirSync(artifacts, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'tether-demo-e2e-'));
  server = await startDemoServer({ staticDir, dataDir });
});

after(async () => {
  await Promise.allSettled(Object.values(users).map((u) => u.browser.close()));
  await stopAll();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- tests

test('two users chat and see each other in presence', TEST_OPTS, async () => {
  const ada = await openUser('Ada');
  const grace = await openUser('Grace');

  const evil = 'hello <img src=x onerror="window.pwned=1"> <b>Grace</b>';
  await sendChat(ada, evil);
  await eventually(async () => (await messages(grace.page)).some((m) => m.body === evil), 'Grace sees Ada\'s message');
  await sendChat(grace, 'Hi Ada! 👋');
  await eventually(async () => (await messages(ada.page)).some((m) => m.body === 'Hi Ada! 👋'), 'Ada sees Grace\'s reply');

  const seenByGrace = await messages(grace.page);
  const fromAda = seenByGrace.find((m) => m.body === evil);
  assert.deepEqual({ name: fromAda.name, own: fromAda.own, elements: fromAda.elements }, { name: 'Ada', own: false, elements: 0 },
    'user text is rendered as text, not HTML');
  assert.equal(await grace.page.evaluate(() => window.pwned), undefined);
  assert.ok((await messages(ada.page)).find((m) => m.body === evil).own, 'own messages are marked');

  for (const user of [ada, grace]) {
    await eventually(async () => {
      const list = await onlineList(user.page);
      return list.Ada === 1 && list.Grace === 1 && Object.keys(list).length === 2;
    }, async () => `${user.name}'s online list: ${JSON.stringify(await onlineList(user.page))}`);
    const me = await user.page.textContent(sel('online-item', `[data-name="${user.name}"]`));
    assert.match(me, /\(you\)/, 'you are marked');
    assert.match(me, /1 tab\b/);
  }
  assert.deepEqual(await serverOnline(), { Ada: 1, Grace: 1 });

  // A second tab of Ada's (same browser profile, same session): one name, "2 tabs".
  const second = await ada.browser.newPage();
  await second.goto(server.url);
  await waitPill(second, 'open');
  await eventually(async () => (await onlineList(grace.page)).Ada === 2, 'Grace sees Ada with 2 tabs');
  assert.match(await grace.page.textContent(sel('online-item', '[data-name="Ada"]')), /2 tabs/);
  await shot(grace.page, '1-chat-grace');
  await second.close();
  await eventually(async () => (await onlineList(grace.page)).Ada === 1, 'Ada back to 1 tab');
  await shot(ada.page, '1-chat-ada');
});

test('a notification shows the badge and a toast; mark all read clears it across a reload', TEST_OPTS, async () => {
  const { Ada: ada, Grace: grace } = users;
  const page = ada.page;
  assert.equal(await badge(page), '');

  // The page's own "Send me a notification" menu (kind toast: a toast, nothing in the bell).
  await page.click(sel('send-notification'));
  await page.click(sel('send-notification-option', '[data-kind="toast"]'));
  await page.waitForSelector(sel('toast', '[data-kind="toast"]'), { timeout: STEP_MS });
  assert.equal(await badge(page), '', 'a toast is not counted');

  await api('/api/notify', { user: ada.id, kind: 'activity', title: 'Grace mentioned you', body: 'in #lobby: <i>look at this</i>' });
  await eventually(async () => (await badge(page)) === '1', async () => `badge "${await badge(page)}"`);
  const toast = await page.waitForSelector(sel('toast', '[data-kind="activity"]'), { timeout: STEP_MS });
  assert.match(await toast.textContent(), /Grace mentioned you/);
  assert.match(await toast.textContent(), /in #lobby: <i>look at this<\/i>/, 'the body is shown as text');
  await shot(page, '2-toast-ada');
  assert.equal(await badge(grace.page), '', 'the other user gets nothing');

  await page.click(sel('bell'));
  const item = await page.waitForSelector(sel('notification-item'), { timeout: STEP_MS });
  assert.equal(await item.getAttribute('data-read'), 'false');
  assert.match(await item.textContent(), /Grace mentioned you/);
  await shot(page, '3-bell-open-ada');

  await page.click(sel('mark-all-read'));
  await eventually(async () => (await badge(page)) === '', 'badge hidden after mark all read');
  assert.equal(await page.getAttribute(sel('notification-item'), 'data-read'), 'true');
  await eventually(async () => (await serverUnread(ada)) === 0, 'server unread_count 0');

  await page.reload();
  await waitPill(page, 'open');
  await page.waitForFunction(() => window.tetherDemo?.notifications.getSnapshot().status === 'live', null, { timeout: STEP_MS });
  assert.equal(await badge(page), '', 'still cleared after a reload');
  await page.click(sel('bell'));
  assert.equal(await page.getAttribute(sel('notification-item'), 'data-read'), 'true');
  assert.equal(await serverUnread(ada), 0);

  // Two more; a click on one marks just that one read. One stays unread for the restart test.
  await api('/api/notify', { user: ada.id, kind: 'alert', title: 'Unusual sign-in' });
  await api('/api/notify', { user: ada.id, kind: 'activity', title: 'New follower' });
  await eventually(async () => (await badge(page)) === '2', async () => `badge "${await badge(page)}"`);
  await page.click(sel('notification-item', ':has-text("New follower")'));
  await eventually(async () => (await badge(page)) === '1', async () => `badge "${await badge(page)}"`);
  await eventually(async () => (await serverUnread(ada)) === 1, 'server unread_count 1');
  await page.keyboard.press('Escape');
  await page.waitForSelector(sel('bell-panel'), { state: 'hidden', timeout: STEP_MS });
});

test('the server is killed and restarted: both pages reconnect and resync', TEST_OPTS, async () => {
  const all = [users.Ada, users.Grace];
  for (const u of all) await recordPill(u.page);

  process.kill(server.pid, 'SIGKILL');
  await server.stop(); // reaps it; the data dir is ours, so it stays
  for (const u of all) await waitPill(u.page, 'waiting');
  await shot(users.Grace.page, '4-reconnecting-grace');
  await sleep(1000); // down for a while: a few failed attempts

  server = await startDemoServer({ port: server.port, staticDir, dataDir });
  for (const u of all) await waitPill(u.page, 'open', 15_000);

  for (const u of all) {
    const log = await u.page.evaluate(() => window.pillLog);
    assert.ok(log.some((s) => s.state === 'waiting' && /^Reconnecting/.test(s.text)), `${u.name} showed reconnecting: ${JSON.stringify(log)}`);
    assert.equal(log.at(-1).state, 'open');
    await eventually(async () => {
      const [mine, theirs] = [await onlineList(u.page), await serverOnline()];
      return same(mine, { Ada: 1, Grace: 1 }) && same(mine, theirs);
    }, async () => `${u.name}: page ${JSON.stringify(await onlineList(u.page))}, server ${JSON.stringify(await serverOnline())}`);
    await eventually(async () => {
      const n = await serverUnread(u);
      return (await badge(u.page)) === (n ? String(n) : '');
    }, async () => `${u.name}: badge "${await badge(u.page)}", server unread ${await serverUnread(u)}`);
  }
  assert.equal(await badge(users.Ada.page), '1');
  // The telemetry log shows the disconnect, the scheduled retries and the new connect.
  const events = await users.Ada.page.$$eval('[data-testid="telemetry-item"]', (items) => items.map((i) => i.dataset.event));
  for (const e of ['disconnect', 'reconnect_scheduled', 'connect', 'join']) {
    assert.ok(events.includes(e), `telemetry log shows ${e}: ${events}`);
  }

  await sendChat(users.Grace, 'back again');
  await eventually(async () => (await messages(users.Ada.page)).some((m) => m.body === 'back again'), 'chat works after the restart');
  await shot(users.Ada.page, '5-resynced-ada');
});

test('telemetry calls an attempt that never opened a failed connect, not a disconnect', TEST_OPTS, async () => {
  // The restart above left attempts that never opened in Ada's log (the server was down).
  const items = await users.Ada.page.$$eval(sel('telemetry-item'), (els) => els.map((i) => ({
    event: i.dataset.event, text: i.title, color: getComputedStyle(i).color,
  })));
  const failed = items.filter((i) => i.event === 'connect_failed');
  assert.ok(failed.length > 0, `a failed connect is logged: ${JSON.stringify(items.map((i) => i.text))}`);
  for (const f of failed) assert.match(f.text, /^connect failed\b.*\battempt \d+/, f.text);
  const plain = items.find((i) => i.event === 'join');
  assert.notEqual(failed[0].color, plain.color, 'a failed connect stands out from the rest');
});

test('the page fits a 390 px phone, and the telemetry log never cuts an event', TEST_OPTS, async () => {
  const { Ada: ada, Grace: grace } = users;
  // Both users online: Grace's phone shows both rows of "Online" whole, "1 tab" included.
  await grace.page.setViewportSize({ width: 390, height: 844 });
  await eventually(async () => Object.keys(await onlineList(grace.page)).length === 2, 'two online');
  const phone = await grace.page.evaluate(() => {
    const list = document.querySelector('[data-testid="online-list"]');
    const box = list.getBoundingClientRect();
    const inside = (r) => r.left >= box.left - 0.5 && r.right <= box.right + 0.5
      && r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5;
    return {
      pageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
      rows: [...list.querySelectorAll('[data-testid="online-item"]')].map((item) => {
        const tabs = item.querySelector('.who-tabs');
        return {
          name: item.dataset.name,
          tabs: tabs.textContent,
          itemShown: inside(item.getBoundingClientRect()),
          tabsShown: inside(tabs.getBoundingClientRect()) && tabs.scrollWidth <= tabs.clientWidth,
        };
      }),
    };
  });
  await shot(grace.page, '7-phone-390-grace');
  assert.equal(phone.pageOverflow, 0, 'no sideways scrolling');
  assert.equal(phone.rows.length, 2);
  for (const row of phone.rows) {
    assert.deepEqual(row, { name: row.name, tabs: '1 tab', itemShown: true, tabsShown: true }, JSON.stringify(phone));
  }
  await grace.page.setViewportSize({ width: 1280, height: 720 });

  // Ada's log (desktop) holds more events than it shows: none straddles its bottom edge,
  // scrolled to the top or to the end, and the panel ends inside the window.
  const page = ada.page;
  await page.setViewportSize({ width: 1280, height: 720 });
  const edges = () => page.evaluate(() => {
    const list = document.querySelector('[data-testid="telemetry-log"]');
    const box = list.getBoundingClientRect();
    const cut = [...list.children].filter((li) => {
      const r = li.getBoundingClientRect();
      return r.top < box.bottom - 0.5 && r.bottom > box.bottom + 0.5;
    }).map((li) => li.title);
    const last = list.lastElementChild.getBoundingClientRect();
    return {
      scrolls: list.scrollHeight > list.clientHeight,
      cut,
      lastShownAtEnd: list.scrollTop + list.clientHeight >= list.scrollHeight - 0.5 ? last.bottom <= box.bottom + 0.5 : null,
      panelInWindow: list.closest('.panel').getBoundingClientRect().bottom <= innerHeight,
    };
  });
  const top = await edges();
  assert.deepEqual({ scrolls: top.scrolls, cut: top.cut, panelInWindow: top.panelInWindow },
    { scrolls: true, cut: [], panelInWindow: true }, JSON.stringify(top));
  await page.$eval(sel('telemetry-log'), (list) => { list.scrollTop = list.scrollHeight; });
  const end = await edges();
  assert.deepEqual({ cut: end.cut, lastShownAtEnd: end.lastShownAtEnd }, { cut: [], lastShownAtEnd: true }, JSON.stringify(end));
  await shot(page, '8-telemetry-ada');
});

test('offline: no connection attempts until the network is back, then one at once', TEST_OPTS, async () => {
  const { Ada: ada, Grace: grace } = users;
  const page = ada.page;
  await waitPill(page, 'open');

  await ada.browser.context.setOffline(true);
  await waitPill(page, 'offline', 5000);
  assert.equal(await page.textContent(sel('connection-pill')), 'Offline');
  const before = ada.wsCount;
  await sleep(3000);
  assert.equal(ada.wsCount, before, 'no WebSocket was created while offline');
  assert.equal(await pillState(page), 'offline');
  await shot(page, '6-offline-ada');
  assert.equal(await pillState(grace.page), 'open', 'the other user is unaffected');

  const back = Date.now();
  await ada.browser.context.setOffline(false);
  await eventually(() => ada.wsCount > before, 'a WebSocket after going back online', 5000);
  const after = Date.now() - back;
  assert.ok(after < 1500, `reconnected ${after} ms after the network returned`);
  await waitPill(page, 'open');
  await eventually(async () => (await badge(page)) === String(await serverUnread(ada)), 'badge resynced');

  for (const u of [ada, grace]) assert.deepEqual(u.errors, [], `${u.name}: no page errors`);
});

test('a session the server no longer accepts (its data was reset): back to sign-in, saying why', TEST_OPTS, async (t) => {
  const { Ada: ada } = users;
  await waitPill(ada.page, 'open');
  // A fresh data directory: a new token secret, so the page's token is no longer this server's.
  const fresh = mkdtempSync(join(tmpdir(), 'tether-demo-e2e-reset-'));
  t.after(() => rmSync(fresh, { recursive: true, force: true }));
  await server.stop();
  server = await startDemoServer({ port: server.port, staticDir, dataDir: fresh });
  // The server closes the socket with 4401; the SDK reports `unauthorized`; the page signs out.
  await ada.page.waitForSelector(sel('name-form'), { state: 'visible', timeout: 15_000 });
  const said = await ada.page.textContent(sel('signin-error'));
  assert.match(said, /unauthorized/, said);
  assert.equal(await ada.page.evaluate(() => localStorage.getItem('tether-demo:session')), null, 'the dead session is forgotten');
  await shot(ada.page, '9-session-ended-ada');
  // Signing in again works at once.
  await ada.page.fill(sel('name-input'), 'Ada');
  await ada.page.press(sel('name-input'), 'Enter');
  await waitPill(ada.page, 'open');
  assert.deepEqual(ada.errors, [], 'no page errors');
});
