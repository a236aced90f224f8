// Params and tokens from the app's functions as the driver calls them (`callParams` for a
// channel's join, `connectArgs` for a socket's connect, in src/web/glue.js), tested on the
// functions themselves: a value, a throw, a promise (or any thenable) resolved or rejected,
// each answered once with the request it was asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { callParams, connectArgs } from '../../src/web/glue.js';

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

test('a connect gets its params and token at once, or once both settle', async () => {
  const got = [];
  const answer = (...args) => got.push(args);
  connectArgs({ a: 1 }, 'tok', 3, answer);
  connectArgs(() => ({ a: 2 }), () => 'fn', 4, answer);
  connectArgs(undefined, undefined, 5, answer);
  assert.deepEqual(got, [[3, true, { a: 1 }, 'tok'], [4, true, { a: 2 }, 'fn'], [5, true, undefined, undefined]],
    'values and plain functions: synchronously');
  got.length = 0;
  connectArgs(async () => ({ a: 3 }), () => 'sync', 6, answer);
  connectArgs({ a: 4 }, async () => 'later', 7, answer);
  assert.deepEqual(got, [], 'a promise is waited for');
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(got, [[6, true, { a: 3 }, 'sync'], [7, true, { a: 4 }, 'later']]);
});

test('a connect whose params or token throw or reject fails with the message', async () => {
  const got = [];
  const answer = (...args) => got.push(args);
  connectArgs(() => { throw new Error('no params'); }, 'tok', 8, answer);
  connectArgs({}, async () => { throw new Error('token service down'); }, 9, answer);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(got, [[8, false, 'no params', undefined], [9, false, 'token service down', undefined]]);
});
