// A channel's params function as the driver calls it (`callParams` in src/web/glue.js), tested
// on the function itself: a value, a throw, a promise (or any thenable) resolved or rejected,
// each answered once with the channel and request it was asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { callParams } from '../../src/web/glue.js';

/** Calls `f` and resolves with every answer `supply` got, once the microtasks have run. */
async function answers(f) {
  const got = [];
  callParams(f, 7, 42, (...args) => got.push(args));
  await new Promise((r) => setTimeout(r, 10));
  return got;
}

test('a value is answered at once; a throw as a failure with its message', async () => {
  const got = [];
  callParams(() => ({ token: 't' }), 7, 42, (...args) => got.push(args));
  assert.deepEqual(got, [[7, 42, true, { token: 't' }]], 'synchronously, before any microtask');
  assert.deepEqual(await answers(() => { throw new Error('no token yet'); }), [[7, 42, false, 'no token yet']]);
  assert.deepEqual(await answers(() => { throw 'plain'; }), [[7, 42, false, 'plain']]);
  assert.deepEqual(await answers(() => 5), [[7, 42, true, 5]], 'not an object: the core refuses it');
});

test('a promise or thenable is answered when it settles', async () => {
  assert.deepEqual(await answers(async () => ({ since: 3 })), [[7, 42, true, { since: 3 }]]);
  assert.deepEqual(await answers(() => Promise.reject(new Error('token service down'))),
    [[7, 42, false, 'token service down']]);
  const thenable = { then: (ok) => ok({ from: 'thenable' }) };
  assert.deepEqual(await answers(() => thenable), [[7, 42, true, { from: 'thenable' }]]);
});
