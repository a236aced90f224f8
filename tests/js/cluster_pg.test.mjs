// The official phoenix.js client on two tether-demo nodes that share nothing but PostgreSQL
// (`--store postgres://… --pubsub postgres://…`, separate data directories): a token signed on
// one node is accepted on the other, presence lists show the users of both nodes, a message
// said on one node reaches the other, a notification posted on one node reaches the user's
// channel on the other, and a node that is killed takes its users out of everyone's presence.
// Needs `cargo build -p tether-demo` and Debian's postgresql (installed by tests/setup): the test
// makes its own cluster with initdb in a temporary directory, runs it on a free loopback port
// (as the `postgres` user when run as root, through setpriv, so the PID held is the server's),
// and stops it by that PID.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { Presence, Socket } from 'phoenix';
import WebSocket from 'ws';
import { demoBinaryPath } from './lib/demo_server.mjs';

const STEP_MS = 5_000;
const LOBBY = 'room:lobby';

const children = new Set();
let dir;
let pg;
let pgUrl;
let nodeA;
let nodeB;

function within(promise, what, ms = STEP_MS) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', resolve));
}

async function stopChild(child, signal = 'SIGTERM') {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  await within(exited(child), `pid ${child.pid} to exit`, 2 * STEP_MS);
  children.delete(child);
}

async function eventually(pred, what, ms = STEP_MS) {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Debian's PostgreSQL binaries (the newest major version installed). */
function pgBin() {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))).sort((a, b) => Number(a) - Number(b))
    : [];
  assert.ok(versions.length > 0, `no PostgreSQL under ${root}: run ./tests/setup (it installs postgresql)`);
  return join(root, versions.at(-1), 'bin');
}

/** `program args`, as the postgres user when we are root (the server refuses root). */
function asPostgres(program, args) {
  return process.getuid?.() === 0
    ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', program, ...args]]
    : [program, args];
}

async function startPostgres() {
  const bin = pgBin();
  const pgDir = join(dir, 'pg');
  mkdirSync(pgDir);
  if (process.getuid?.() === 0) {
    const id = (flag) => Number(spawnSync('id', [flag, 'postgres']).stdout.toString().trim());
    chownSync(pgDir, id('-u'), id('-g'));
  }
  const [cmd, args] = asPostgres(join(bin, 'initdb'), ['-D', join(pgDir, 'data'), '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const init = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  assert.equal(init.status, 0, `initdb failed: ${init.stderr}`);
  const port = await freePort();
  const [pcmd, pargs] = asPostgres(join(bin, 'postgres'), [
    '-D', join(pgDir, 'data'), '-p', String(port), '-k', pgDir,
    '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off',
  ]);
  const child = spawn(pcmd, pargs, { stdio: 'ignore' });
  children.add(child);
  await eventually(() => spawnSync(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-t', '1']).status === 0,
    'postgres accepts connections', 4 * STEP_MS);
  pgUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return child;
}

async function startNode(id) {
  const bin = demoBinaryPath();
  assert.ok(existsSync(bin), `tether-demo binary not found at ${bin}; run \`cargo build -p tether-demo\``);
  const child = spawn(bin, [
    '--port', '0', '--static-dir', 'static-dir-that-does-not-exist', '--data-dir', join(dir, id),
    '--node-id', id, '--store', pgUrl, '--pubsub', pgUrl,
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TETHER_DEMO_SECRET: '' } });
  children.add(child);
  const lines = [];
  createInterface({ input: child.stderr }).on('line', (l) => lines.push(l));
  const port = await within(new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${id} exited (${code}):\n${lines.join('\n')}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (m) resolve(Number(m[1]));
    });
  }), `${id} listening`);
  return { id, child, port, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/socket` };
}

async function health(node) {
  return (await fetch(`${node.url}/api/health`)).json();
}

async function post(node, path, body) {
  const res = await fetch(`${node.url}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return res.json();
}

/** A phoenix Socket to `node` (with `token`), joined to `topic`; a Presence and the events
 * seen are attached before the join, so nothing is missed. */
async function join_(t, node, topic, params, token) {
  const socket = new Socket(node.wsUrl, {
    transport: WebSocket, reconnectAfterMs: () => 60_000, params: token ? { token } : {},
  });
  t.after(() => socket.disconnect());
  socket.connect();
  const channel = socket.channel(topic, params);
  const presence = new Presence(channel);
  const seen = [];
  channel.onMessage = (event, payload) => {
    seen.push({ event, payload });
    return payload;
  };
  const status = await within(new Promise((resolve) => {
    channel.join().receive('ok', () => resolve('ok')).receive('error', (e) => resolve(`error ${JSON.stringify(e)}`))
      .receive('timeout', () => resolve('timeout'));
  }), `join ${topic}`);
  assert.equal(status, 'ok');
  return { socket, channel, presence, seen };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tether-cluster-pg-'));
  chmodSync(dir, 0o755); // the postgres user must reach its directory inside
  pg = await startPostgres();
  nodeA = await startNode('node-a');
  nodeB = await startNode('node-b');
  await eventually(async () => {
    const [a, b] = await Promise.all([health(nodeA), health(nodeB)]);
    return a.pubsub === 'postgres' && b.pubsub === 'postgres'
      && a.peers.includes('node-b') && b.peers.includes('node-a');
  }, 'both nodes on PostgreSQL and peered', 4 * STEP_MS);
});

after(async () => {
  for (const child of [...children]) await stopChild(child, 'SIGKILL').catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('phoenix.js clients on two nodes that share only PostgreSQL', { timeout: 60_000 }, async (t) => {
  const ada = await join_(t, nodeA, LOBBY, { name: 'ada' });
  const adaPresence = ada.presence;
  const adaMessages = () => ada.seen.filter((m) => m.event === 'new_msg').map((m) => m.payload);
  const bob = await join_(t, nodeB, LOBBY, { name: 'bob' });
  const bobPresence = bob.presence;
  const names = (p) => p.list((key) => key).sort().join();
  await eventually(() => names(adaPresence) === 'ada,bob', 'ada (node A) sees bob (node B)');
  await eventually(() => names(bobPresence) === 'ada,bob', 'bob (node B) sees ada (node A)');

  bob.channel.push('new_msg', { body: 'hi from B' });
  await eventually(() => adaMessages().some((m) => m.body === 'hi from B' && m.name === 'bob'), 'message from B on A');

  // cy signs in on A; her token works on B (one secret, in PostgreSQL), and a notification
  // posted on A reaches her channel on B, stored once for both nodes.
  const cy = await post(nodeA, '/api/session', { name: 'cy' });
  const cyOnB = await join_(t, nodeB, cy.topic, {}, cy.token);
  const got = () => cyOnB.seen.filter((m) => m.event === 'notification:new').map((m) => m.payload.notification);
  const made = await post(nodeA, '/api/notify', { user: cy.user_id, kind: 'alert', title: 'from A' });
  await eventually(() => got().some((n) => n.id === made.notification.id), 'notification from A on B');
  const listed = await (await fetch(`${nodeB.url}/api/notifications/${cy.user_id}`)).json();
  assert.deepEqual(listed.items.map((n) => n.id), [made.notification.id]);

  // Node B killed (no goodbye): bob leaves ada's presence once B's row in PostgreSQL expires.
  await stopChild(nodeB.child, 'SIGKILL');
  await eventually(() => names(adaPresence) === 'ada', 'bob leaves when node B dies', 10_000);
  assert.deepEqual((await health(nodeA)).peers, []);
  await stopChild(nodeA.child);
  await stopChild(pg, 'SIGQUIT');
});
