// Shared pieces of the Node test files: one demo server per file, and bounded waits.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { startDemoServer, stopAll } from './demo_server.mjs';

/**
 * Starts one demo server before the file's tests and stops it after them, asserting a clean
 * exit on SIGTERM. Returns a holder whose `server` is set once started.
 */
export function demoServerPerFile(options = {}) {
  const holder = { server: undefined };
  before(async () => {
    holder.server = await startDemoServer(options);
  });
  after(async () => {
    const { code, signal } = await holder.server.stop();
    await stopAll();
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, 'clean exit on SIGTERM');
  });
  return holder;
}

/** Resolve with `promise`, or reject after `ms` naming `what`. */
export function within(promise, what, ms = 5_000) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
