// Presence can be taken at any time (issue 19): `channel.presence()` called before the join,
// right after `join()` resolves, and seconds later all show the room as the server has it.
// Real pages on the release build, the demo server (presence per room, keyed by the joiner's
// name): two other tabs join the room as "ada" and "bob"; one page then holds three sockets,
// each joining as its own name and taking its channel's presence at a different moment. Every
// view is compared with the server's own state (`GET /api/presence/<topic>`: each key with the
// phx_refs of its metas), then again after the room changes (a third tab joins, "bob" leaves).
//
// Needs `./pkg-template/build` and `cargo build -p tether-demo` first (./tests/run does both).
// Run: `cd tests && node --test js/presence_any_time.test.mjs`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageSitePerFile } from './lib/page_site.mjs';

// The views as `{key: [phx_ref, ...]}`, keys sorted (the order is checked by other tests).
const REFS = `
window.refs = (presence) => Object.fromEntries(
  presence.list((key, p) => [key, p.metas.map((m) => m.phx_ref)]).sort(([a], [b]) => (a < b ? -1 : 1)));`;

// A tab that joins `room` as `name` and stays.
const OTHER = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module">
import init, { Socket } from './pkg/tether.js';
await init();
const q = new URLSearchParams(location.search);
const socket = new Socket('/socket', {});
socket.connect();
await socket.channel(q.get('room'), { name: q.get('name') }).join();
window.ready = true;
</script>`;

// Three sockets in one page, each its own member of the room:
// "before" takes presence before joining, "after" right when join() resolves (and a second
// view later), "later" only `q.later` ms after its join resolved.
const ME = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module">
import init, { Socket } from './pkg/tether.js';
await init();
${REFS}
const q = new URLSearchParams(location.search);
const room = q.get('room');
const member = (name) => {
  const socket = new Socket('/socket', {});
  socket.connect();
  return socket.channel(room, { name });
};
const views = {};
window.views = views;
window.atCreation = {};

const before = member('me-before');
views.before = before.presence();
window.atCreation.before = refs(views.before);
await before.join();

const after = member('me-after');
await after.join();
views.after = after.presence();
window.atCreation.after = refs(views.after);

const later = member('me-later');
await later.join();
// Long after the join: the presence_state it brought has arrived, the diffs of the others too.
await new Promise((r) => setTimeout(r, Number(q.get('later'))));
views.later = later.presence();
window.atCreation.later = refs(views.later);
// A second view of an already taken presence sees the same.
views.afterAgain = after.presence();
window.ready = true;
</script>`;

const site = pageSitePerFile({ 'other.html': OTHER, 'me.html': ME });

async function serverView(topic) {
  const res = await fetch(`${site.server.url}/api/presence/${encodeURIComponent(topic)}`, {
    signal: AbortSignal.timeout(3000),
  });
  assert.equal(res.status, 200);
  const state = await res.json();
  return Object.fromEntries(Object.keys(state).sort().map((k) => [k, state[k].metas.map((m) => m.phx_ref)]));
}

async function openTab(path, timeout = 10_000) {
  const page = await site.browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${site.server.url}/${path}`);
  await page.waitForFunction(() => window.ready === true, null, { timeout });
  return { page, errors };
}

/** Every view of the page equals `expected`, waiting (at most 5 s) for frames on their way. */
async function viewsEqual(page, expected, label) {
  const read = () => page.evaluate(() => Object.fromEntries(Object.entries(window.views).map(([k, v]) => [k, window.refs(v)])));
  const until = Date.now() + 5000;
  let seen = await read();
  while (Object.values(seen).some((v) => JSON.stringify(v) !== JSON.stringify(expected)) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    seen = await read();
  }
  for (const [name, view] of Object.entries(seen)) assert.deepEqual(view, expected, `${label}: view "${name}"`);
}

test('presence taken before the join, right after it and seconds later matches the server', { timeout: 60_000 }, async () => {
  const room = `room:any-time-${process.pid}-${Date.now()}`;
  const q = (o) => new URLSearchParams({ room, ...o });
  const ada = await openTab(`other.html?${q({ name: 'ada' })}`);
  const bob = await openTab(`other.html?${q({ name: 'bob' })}`);
  const me = await openTab(`me.html?${q({ later: 2000 })}`, 20_000);

  let server = await serverView(room);
  assert.deepEqual(Object.keys(server), ['ada', 'bob', 'me-after', 'me-before', 'me-later']);
  // Taken seconds after the join: the whole room at once, not an empty list.
  assert.deepEqual(await me.page.evaluate(() => window.atCreation.later), server,
    'presence() seconds after the join starts from the current state');
  // Taken before the join: nothing yet (the state comes with the join).
  assert.deepEqual(await me.page.evaluate(() => window.atCreation.before), {});
  await viewsEqual(me.page, server, 'after the joins');

  // The room changes: every view follows.
  const cy = await openTab(`other.html?${q({ name: 'cy' })}`);
  await bob.page.close();
  const until = Date.now() + 5000;
  server = await serverView(room);
  while ((server.bob || !server.cy) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    server = await serverView(room);
  }
  assert.deepEqual(Object.keys(server), ['ada', 'cy', 'me-after', 'me-before', 'me-later']);
  await viewsEqual(me.page, server, 'after cy joined and bob left');

  for (const tab of [ada, cy, me]) assert.deepEqual(tab.errors, []);
  for (const tab of [ada, cy, me]) await tab.page.close();
});
