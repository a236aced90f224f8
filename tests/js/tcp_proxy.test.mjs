// The chaos tests' TCP proxy (lib/tcp_proxy.mjs) must keep a byte stream in order whatever its
// delay does, as TCP does: a proxy that reordered chunks would hand the client frames in an
// order no server sent, and the client would be blamed for what follows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTcpProxy } from './lib/tcp_proxy.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Keeps the event loop busy for `ms`, so the proxy's timers fire late. */
function busy(ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* spin */ }
}

test('the proxy keeps chunks in order across delay changes while its timers fire late', { timeout: 30_000 }, async () => {
  let received = '';
  let ended;
  const done = new Promise((r) => { ended = r; });
  const sink = net.createServer((s) => {
    s.setEncoding('utf8');
    s.on('data', (d) => { received += d; });
    s.on('end', () => ended());
  });
  await new Promise((r) => sink.listen(0, '127.0.0.1', r));
  const proxy = await startTcpProxy({ targetPort: sink.address().port });
  try {
    const client = net.connect({ host: '127.0.0.1', port: proxy.port });
    client.setNoDelay(true);
    await new Promise((r) => client.once('connect', r));
    // A seeded sequence of delays (0 included) and stalls; a chunk every few milliseconds.
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let sent = '';
    for (let i = 0; i < 600; i += 1) {
      if (i % 20 === 0) proxy.setDelay(random() < 0.5 ? 0 : 1 + Math.floor(random() * 15));
      const line = `${i};`;
      sent += line;
      client.write(line);
      if (random() < 0.3) busy(Math.floor(random() * 6));
      await sleep(random() < 0.5 ? 0 : 1 + Math.floor(random() * 3));
    }
    proxy.setDelay(0);
    await sleep(100);
    client.end();
    await Promise.race([done, sleep(5000)]);
    assert.equal(received.length, sent.length, 'every byte arrived');
    const firstWrong = [...sent].findIndex((ch, i) => received[i] !== ch);
    assert.equal(firstWrong, -1, `in order; first difference at byte ${firstWrong}: `
      + `sent …${sent.slice(Math.max(0, firstWrong - 20), firstWrong + 20)}…, `
      + `received …${received.slice(Math.max(0, firstWrong - 20), firstWrong + 20)}…`);
  } finally {
    await proxy.close();
    await new Promise((r) => sink.close(r));
  }
});
