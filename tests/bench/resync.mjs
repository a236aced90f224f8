// Runs the reconnect → resynced benchmark (P4) and prints a Markdown table; with --write,
// replaces the resync section of BENCHMARKS.md.
// Usage: node tests/bench/resync.mjs [--quick] [--write]
//
// One Chromium page (release build, served by the demo server) signed in through
// `POST /api/session`, with presence on a room and the user's notification store, reconnect
// schedule {minMs: 200, maxMs: 1000, jitter: 0, resetAfterMs: 500} so every retry delay is
// known. The page logs, with Date.now(), every socket state (`waiting` carries `retryInMs`), every
// presence sync and store snapshot, and the `online` event. Each run:
//   restart: the demo server is stopped (graceful: it closes every socket) and started again on
//     the same port and data dir; a notification is created the moment it is back (the page must
//     sync it); measured from its "listening" line to the first page snapshot in which presence
//     (keys and phx_refs) and notifications (ids, unread count, live) equal the server's
//     (GET /api/presence/<topic>, GET /api/notifications/<user>).
//   online: the page goes offline (context.setOffline(true)), the server restarts and a
//     notification is created meanwhile, then the page comes back online; measured from the
//     page's `online` event to the same resynced snapshot.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { startDemoServer, stopAll } from '../js/lib/demo_server.mjs';
import { launchBrowser } from '../js/lib/browser.mjs';
import { writeSection } from './benchmarks_md.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const quick = process.argv.includes('--quick');
const write = process.argv.includes('--write');
const RUNS = quick ? 1 : Number(process.env.BENCH_RUNS || 7);
const ROOM = 'room:bench-resync';
const RECONNECT = { minMs: 200, maxMs: 1000, jitter: 0, resetAfterMs: 500 };

const PAGE = `<!doctype html><meta charset="utf-8"><title>resync</title><link rel="icon" href="data:,">
<script type="module">
import init, { Socket } from './pkg/tether.js';
const q = new URLSearchParams(location.search);
window.states = [];
window.timeline = [];
window.onlineAt = [];
window.telemetry = [];
// Registered before the Socket's own listener, so it runs first.
window.addEventListener('online', () => window.onlineAt.push(Date.now()));
await init();
const user = q.get('user');
const socket = new Socket('/socket', { authToken: q.get('token'), reconnect: ${JSON.stringify(RECONNECT)} });
socket.onState((s) => window.states.push({ t: Date.now(), ...s }));
socket.onTelemetry((e) => window.telemetry.push({ t: Date.now(), ...e }));
const channel = socket.channel('${ROOM}', { name: q.get('name') });
const presence = channel.presence({});
const store = socket.notifications(user);
const snapshot = () => {
  const s = store.getSnapshot();
  window.timeline.push({
    t: Date.now(),
    presence: presence.list((key, p) => [key, p.metas.map((m) => m.phx_ref).sort()]),
    ids: s.items.map((n) => n.id),
    unread: s.unreadCount,
    status: s.status,
  });
};
presence.onSync(snapshot);
store.subscribe(snapshot);
socket.connect();
await channel.join();
window.ready = true;
</script>`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function postJson(server, path, body) {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** The server's view, in the shape the page logs. */
async function serverView(server, user) {
  const p = await (await fetch(`${server.url}/api/presence/${encodeURIComponent(ROOM)}`)).json();
  const n = await (await fetch(`${server.url}/api/notifications/${user}`)).json();
  return {
    presence: Object.entries(p).map(([key, v]) => [key, v.metas.map((m) => m.phx_ref).sort()]),
    ids: n.items.slice(0, 50).map((x) => x.id),
    unread: n.unread_count,
  };
}

const same = (entry, view) => entry.status === 'live'
  && JSON.stringify(entry.presence) === JSON.stringify(view.presence)
  && JSON.stringify(entry.ids) === JSON.stringify(view.ids)
  && entry.unread === view.unread;

/** Waits until the page's latest snapshot equals the server's view; returns the first snapshot
 * logged since `from` that equals it (the moment the page became resynced). */
async function resynced(page, server, user, from) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const view = await serverView(server, user);
    const log = await page.evaluate((from) => window.timeline.slice(from), from);
    if (log.length && same(log.at(-1), view) && view.presence.length > 0) {
      // The first matching snapshot from which the page stayed equal.
      let i = log.length - 1;
      while (i > 0 && same(log[i - 1], view)) i--;
      return log[i];
    }
    if (Date.now() > deadline) throw new Error(`not resynced in 15 s: page ${JSON.stringify(log.at(-1))} vs server ${JSON.stringify(view)}`);
    await sleep(20);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'tether-bench-'));
const dataDir = mkdtempSync(join(tmpdir(), 'tether-bench-data-'));
cpSync(join(repo, 'demo', 'static', 'pkg'), join(dir, 'pkg'), { recursive: true });
writeFileSync(join(dir, 'resync.html'), PAGE);

let server = await startDemoServer({ staticDir: dir, dataDir });
const browser = await launchBrowser();
const rows = { restart: [], online: [] };
let bare = [];
try {
  const me = await postJson(server, '/api/session', { name: 'bench' });
  await postJson(server, '/api/notify', { user: me.user_id, kind: 'activity', title: 'before' });
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  const q = new URLSearchParams({ token: me.token, user: me.user_id, name: 'bench' });
  await page.goto(`${server.url}/resync.html?${q}`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 15_000 });
  await resynced(page, server, me.user_id, 0);
  // The floor: a bare WebSocket (no client library) in the same page to the same server: open,
  // then one heartbeat and its reply. Whatever a client does, a resync costs at least this
  // connect and one round trip.
  const socketUrl = `${server.url.replace(/^http/, 'ws')}/socket/websocket?${new URLSearchParams({ vsn: '2.0.0', token: me.token })}`;
  bare = await page.evaluate(async ({ url, n }) => {
    const out = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const ws = new WebSocket(url);
      await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
      const t1 = performance.now();
      ws.send(JSON.stringify([null, String(i + 1), 'phoenix', 'heartbeat', {}]));
      await new Promise((resolve) => { ws.onmessage = resolve; });
      out.push({ connect: t1 - t0, rtt: performance.now() - t1 });
      ws.close();
      await new Promise((r) => setTimeout(r, 50));
    }
    return out;
  }, { url: socketUrl, n: quick ? 3 : 15 });
  const marks = () => page.evaluate(() => ({ s: window.states.length, l: window.timeline.length, e: window.telemetry.length }));

  for (let r = 0; r < RUNS; r++) {
    for (const mode of ['restart', 'online']) {
      await sleep(RECONNECT.resetAfterMs + 500); // up long enough for the attempt counter to reset
      const m = await marks();
      if (mode === 'online') {
        await page.context().setOffline(true);
        await page.waitForFunction(() => window.states.at(-1)?.state === 'offline', null, { timeout: 10_000 }).catch(() => {});
      }
      const stoppedAt = Date.now();
      await server.stop();
      server = await startDemoServer({ port: server.port, staticDir: dir, dataDir });
      const listeningAt = Date.now();
      await postJson(server, '/api/notify', { user: me.user_id, kind: 'activity', title: `${mode} ${r}` });
      let onlineAt = null;
      if (mode === 'online') {
        await sleep(300);
        await page.context().setOffline(false);
        await page.waitForFunction((n) => window.onlineAt.length > n, await page.evaluate(() => window.onlineAt.length - 1), { timeout: 5000 });
        onlineAt = await page.evaluate(() => window.onlineAt.at(-1));
      }
      const done = await resynced(page, server, me.user_id, m.l);
      const states = await page.evaluate((from) => window.states.slice(from), m.s);
      const telemetry = await page.evaluate((from) => window.telemetry.slice(from), m.e);
      // The retry that succeeded: the last `waiting` before the first `open` after the return.
      const openIdx = states.findIndex((s) => s.state === 'open' && s.t >= listeningAt);
      const waits = states.slice(0, openIdx < 0 ? states.length : openIdx).filter((s) => s.state === 'waiting');
      const lastWait = waits.at(-1);
      const joinEvents = telemetry.filter((e) => e.event === 'join' && e.t >= listeningAt);
      const joins = joinEvents.map((e) => e.durationMs);
      const connect = telemetry.find((e) => e.event === 'connect' && e.t >= listeningAt)?.durationMs;
      const ref = mode === 'online' ? onlineAt : listeningAt;
      const row = {
        measured: done.t - ref,
        downMs: listeningAt - stoppedAt,
        scheduled: lastWait?.retryInMs ?? null,
        due: lastWait ? lastWait.t + lastWait.retryInMs - ref : null,
        waits: waits.map((w) => w.retryInMs),
        joinRtt: joins.length ? Math.max(...joins) : null,
        connect: connect ?? null,
        joinsByTopic: joinEvents.map((e) => `${e.topic} ${e.durationMs}`).join(', '),
        states: states.map((s) => s.state + (s.retryInMs !== undefined ? `(${s.retryInMs})` : '')).join(' → '),
      };
      rows[mode].push(row);
      console.error(`${mode} run ${r + 1}: resynced ${row.measured} ms after ${mode === 'online' ? 'online' : 'listening'}; retry due at ${row.due} ms (scheduled ${row.scheduled} ms); joins ${row.joinsByTopic} ms, connect ${row.connect} ms; down ${row.downMs} ms; ${row.states}`);
    }
  }
} finally {
  await browser.close();
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
}

const stats = (xs) => {
  const s = xs.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  if (!s.length) return null;
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s.at(-1) };
};
const f1 = (st) => (st ? `${st.median.toFixed(1)} ms (${st.min.toFixed(1)}–${st.max.toFixed(1)})` : '—');
const f = (st, unit = ' ms') => (st ? `${Math.round(st.median)}${unit} (${Math.round(st.min)}–${Math.round(st.max)})` : '—');
const line = (mode, label, target) => {
  const rs = rows[mode];
  const excess = stats(rs.map((r) => r.measured - Math.max(r.due ?? 0, 0)));
  // Target: resynced within the retry still due at the reference instant (0 after `online`) plus
  // two round trips (join, then the store's sync), using each run's slowest join round trip.
  const met = rs.filter((r) => r.joinRtt !== null && r.measured <= Math.max(r.due ?? 0, 0) + 2 * r.joinRtt).length;
  return `| ${label} | ${f(stats(rs.map((r) => r.measured)))} | ${[...new Set(rs.map((r) => (r.waits.length ? r.waits.join(', ') : 'none')))].join('; ')} | ${f(stats(rs.map((r) => r.due)))} | ${f(excess)} | ${f(stats(rs.map((r) => r.joinRtt)))} | ${target}: met in ${met} of ${rs.length} runs |`;
};
const chromium = (() => { try { return execFileSync('/usr/bin/chromium', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(); } catch { return 'chromium'; } })();
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${chromium}, ${new Date().toISOString().slice(0, 10)}`;
const table = [
  `Machine: ${machine}. ${RUNS} runs per case; median (min–max). Reconnect schedule ${JSON.stringify(RECONNECT)}. Server down for ${f(stats(rows.restart.map((r) => r.downMs)))} (stop + start of ${process.env.TETHER_DEMO_BIN ? `\`${process.env.TETHER_DEMO_BIN}\`` : 'the debug demo binary'}). No phoenix.js column: phoenix.js has no presence-and-notifications resync to compare with.`,
  '',
  '| case | resynced after | retries scheduled (`waiting` retryInMs) | the successful retry was due after | resynced after the retry fired (or the `online` event) | join round trip (slowest channel) | target |',
  '|---|---|---|---|---|---|---|',
  line('restart', 'server restart, from its "listening" line', '≤ retry due + 2 round trips'),
  line('online', 'offline during the restart, from the `online` event', 'immediate (≈ 2 round trips)'),
  '',
  `The floor, measured in the same page against the same server before the runs: a bare WebSocket (no client library) opens in ${f1(stats(bare.map((b) => b.connect)))} and gets a heartbeat's reply ${f1(stats(bare.map((b) => b.rtt)))} later (${bare.length} connects). A resync cannot be quicker than that connect plus one round trip.`,
].join('\n');
console.log(table);

if (write && !quick) {
  writeSection('resync', table);
}
