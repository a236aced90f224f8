// The official phoenix.js client on two tether-demo nodes sharing rooms through Redis
// (`--pubsub redis://…`): presence lists show the users of both nodes, a message said on one
// node reaches the other, and a node that stops takes its users out of everyone's presence.
// Needs `cargo build -p tether-demo` and Debian's redis-server (installed by tests/setup).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { Presence, Socket } from 'phoenix';
import WebSocket from 'ws';
import { demoBinaryPath } from './lib/demo_server.mjs';

const REDIS_SERVER = '/usr/bin/redis-server';
const STEP_MS = 5_000;
const LOBBY = 'room:lobby';

const children = new Set();
let dir;
let redis;
let nodeA;
let nodeB;

/** Resolve with `promise`, or reject after `ms` naming `what`. */
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

/** Stop a child by its PID and wait for it. */
async function stopChild(child, signal = 'SIGTERM') {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  await within(exited(child), `pid ${child.pid} to exit`);
  children.delete(child);
}

async function redisAnswers(port) {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    let data = '';
    const done = (ok) => { s.destroy(); resolve(ok); };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      data += d;
      if (data.includes('\r\n')) done(data.startsWith('+PONG'));
    });
  });
}

async function startRedis(port) {
  assert.ok(existsSync(REDIS_SERVER), `${REDIS_SERVER} is missing: run ./tests/setup (it installs redis-server)`);
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  children.add(child);
  const deadline = Date.now() + STEP_MS;
  while (!(await redisAnswers(port))) {
    assert.ok(Date.now() < deadline, 'redis-server did not start');
    await new Promise((r) => setTimeout(r, 30));
  }
  return child;
}

async function startNode(id, redisPort) {
  const bin = demoBinaryPath();
  assert.ok(existsSync(bin), `tether-demo binary not found at ${bin}; run \`cargo build -p tether-demo\``);
  const child = spawn(bin, [
    '--port', '0', '--static-dir', 'static-dir-that-does-not-exist', '--data-dir', join(dir, 'data'),
    '--node-id', id, '--pubsub', `redis://127.0.0.1:${redisPort}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const lines = [];
  createInterface({ input: child.stderr }).on('line', (l) => lines.push(l));
  const port = await within(new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${id} exited (${code}):\n${lines.join('\n')}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (m) resolve(Number(m[1]));
    });
  }), `${id} listening`);
  return { id, child, port, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/socket` };
}

async function health(node) {
  return (await fetch(`${node.url}/api/health`)).json();
}

async function eventually(pred, what, ms = STEP_MS) {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A phoenix Socket to `node`, joined to the lobby as `name` with a Presence attached. */
async function joinLobby(t, node, name) {
  const socket = new Socket(node.wsUrl, { transport: WebSocket, reconnectAfterMs: () => 60_000 });
  t.after(() => socket.disconnect());
  socket.connect();
  const channel = socket.channel(LOBBY, { name });
  const presence = new Presence(channel);
  const messages = [];
  channel.on('new_msg', (m) => messages.push(m));
  const status = await within(new Promise((resolve) => {
    channel.join().receive('ok', () => resolve('ok')).receive('error', () => resolve('error'))
      .receive('timeout', () => resolve('timeout'));
  }), `${name} joins`);
  assert.equal(status, 'ok');
  const names = () => presence.list((key) => key).sort();
  return { socket, channel, presence, messages, names };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tether-cluster-'));
  const redisPort = await freePort();
  redis = await startRedis(redisPort);
  nodeA = await startNode('node-a', redisPort);
  nodeB = await startNode('node-b', redisPort);
  await eventually(async () => {
    const [a, b] = await Promise.all([health(nodeA), health(nodeB)]);
    return a.redis === 'connected' && b.redis === 'connected'
      && a.peers.includes('node-b') && b.peers.includes('node-a');
  }, 'both nodes connected to Redis and peered');
});

after(async () => {
  for (const child of [...children]) await stopChild(child, 'SIGKILL').catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('phoenix.js clients on two nodes share presence and messages', { timeout: 30_000 }, async (t) => {
  const ada = await joinLobby(t, nodeA, 'ada');
  const bob = await joinLobby(t, nodeB, 'bob');
  await eventually(() => ada.names().join() === 'ada,bob', 'ada (node A) sees bob (node B)');
  await eventually(() => bob.names().join() === 'ada,bob', 'bob (node B) sees ada (node A)');

  bob.channel.push('new_msg', { body: 'hi from B' });
  await eventually(() => ada.messages.some((m) => m.body === 'hi from B' && m.name === 'bob'), 'message from B on A');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(ada.messages.filter((m) => m.body === 'hi from B').length, 1, 'delivered once');

  // Node B stops (SIGTERM): it says goodbye, so bob leaves ada's presence at once.
  const stopped = Date.now();
  await stopChild(nodeB.child);
  await eventually(() => ada.names().join() === 'ada', 'bob leaves when node B stops');
  assert.ok(Date.now() - stopped < 3_000, `leave took ${Date.now() - stopped} ms`);
  const h = await health(nodeA);
  assert.deepEqual(h.peers, []);
  await stopChild(nodeA.child);
  await stopChild(redis);
});
