// A TCP proxy for chaos tests (node:net, 127.0.0.1 only), put between a browser and a server.
//
//   const proxy = await startTcpProxy({ targetPort });
//   proxy.port            // connect here instead of targetPort
//   proxy.cut()           // reset every open connection at once (both sides see a dead link)
//   proxy.blackhole(true) // half-open link: connections stay open, every byte is dropped both
//                         // ways, new ones are accepted and then ignored too
//   proxy.blackhole(false)// the link comes back: the blackholed connections are reset (as the
//                         // far end would answer a stale segment), new ones are forwarded again
//   proxy.setDelay(ms)    // each chunk is forwarded `ms` later, both ways; chunks always leave
//                         // in the order they came, across delay changes too
//   proxy.stats()         // {accepted, open, cut, blackholed, refused, bytesUp, bytesDown}
//   await proxy.close()
//
// The target may go away and come back (a server restart on the same port): a connection
// accepted while nothing listens there is closed as soon as the upstream connect fails.
import net from 'node:net';

const HOST = '127.0.0.1';

/** Abrupt close: RST where Node supports it, otherwise a plain destroy. */
function reset(socket) {
  if (socket.destroyed) return;
  if (typeof socket.resetAndDestroy === 'function' && socket.readyState !== 'opening') {
    try {
      socket.resetAndDestroy();
      return;
    } catch { /* fall through */ }
  }
  socket.destroy();
}

/**
 * @param {{targetPort: number, port?: number}} options
 */
export async function startTcpProxy({ targetPort, port = 0 }) {
  let target = targetPort;
  let blackholed = false;
  let delayMs = 0;
  const pairs = new Set();
  const counters = { accepted: 0, cut: 0, blackholed: 0, refused: 0, bytesUp: 0, bytesDown: 0 };

  /**
   * Forward `from` → `to`, honouring the blackhole and the delay; `count` tallies bytes.
   *
   * Delayed chunks wait in one queue per direction, drained by one timer, so they leave in the
   * order they came: separate timers per chunk can fire out of order (a late timer, or two of
   * different durations due in the same millisecond), and a chunk may not go straight through
   * while an earlier one still waits. TCP never reorders; a proxy that did would hand the
   * client frames in an order no server sent.
   */
  function forward(pair, from, to, count) {
    const lane = { queue: [], timer: null, lastDue: 0 };
    pair.lanes.push(lane);
    const drain = () => {
      lane.timer = null;
      while (lane.queue.length > 0 && lane.queue[0].due <= Date.now()) {
        const { chunk } = lane.queue.shift();
        if (!pair.blackholed && !to.destroyed) to.write(chunk);
      }
      if (lane.queue.length > 0) {
        lane.timer = setTimeout(drain, Math.max(0, lane.queue[0].due - Date.now()));
      }
    };
    from.on('data', (chunk) => {
      if (pair.blackholed) return;
      counters[count] += chunk.length;
      if (delayMs <= 0 && lane.queue.length === 0) {
        if (!to.destroyed && !to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
        return;
      }
      const due = Math.max(Date.now() + delayMs, lane.lastDue);
      lane.lastDue = due;
      lane.queue.push({ due, chunk });
      if (lane.timer === null) lane.timer = setTimeout(drain, Math.max(0, due - Date.now()));
    });
  }

  /** Drops every chunk still waiting in `pair`'s lanes. */
  function dropDelayed(pair) {
    for (const lane of pair.lanes) {
      if (lane.timer !== null) clearTimeout(lane.timer);
      lane.timer = null;
      lane.queue.length = 0;
    }
  }

  function closePair(pair, how) {
    if (pair.closed) return;
    pair.closed = true;
    pairs.delete(pair);
    dropDelayed(pair);
    how(pair.client);
    if (pair.upstream) how(pair.upstream);
  }

  const server = net.createServer({ pauseOnConnect: false }, (client) => {
    counters.accepted += 1;
    const pair = { client, upstream: null, blackholed, lanes: [], closed: false };
    pairs.add(pair);
    client.on('error', () => {});
    client.on('close', () => closePair(pair, (s) => s.destroy()));
    if (pair.blackholed) {
      // Accepted, and then nothing: no upstream, every byte dropped.
      counters.blackholed += 1;
      client.on('data', () => {});
      return;
    }
    const upstream = net.connect({ host: HOST, port: target });
    pair.upstream = upstream;
    upstream.on('error', (err) => {
      if (err.code === 'ECONNREFUSED') counters.refused += 1;
    });
    upstream.on('close', () => closePair(pair, (s) => s.destroy()));
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    forward(pair, client, upstream, 'bytesUp');
    forward(pair, upstream, client, 'bytesDown');
  });
  server.on('error', () => {});
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });

  return {
    port: server.address().port,
    url: `ws://${HOST}:${server.address().port}`,
    /** Point new connections at another port. */
    setTarget(p) { target = p; },
    /** Reset every open connection; returns how many there were. */
    cut() {
      const n = pairs.size;
      for (const pair of [...pairs]) closePair(pair, reset);
      counters.cut += n;
      return n;
    },
    /** Start (true) or end (false) a blackhole; ending it resets the blackholed connections. */
    blackhole(on) {
      if (on && !blackholed) {
        blackholed = true;
        for (const pair of pairs) {
          if (!pair.blackholed) {
            pair.blackholed = true;
            counters.blackholed += 1;
            dropDelayed(pair);
          }
        }
      } else if (!on && blackholed) {
        blackholed = false;
        for (const pair of [...pairs]) if (pair.blackholed) closePair(pair, reset);
      }
    },
    get blackholed() { return blackholed; },
    setDelay(ms) { delayMs = Math.max(0, ms | 0); },
    get delayMs() { return delayMs; },
    /** Open connections right now. */
    get open() { return pairs.size; },
    stats() { return { ...counters, open: pairs.size }; },
    async close() {
      for (const pair of [...pairs]) closePair(pair, (s) => s.destroy());
      await new Promise((r) => server.close(() => r()));
    },
  };
}
