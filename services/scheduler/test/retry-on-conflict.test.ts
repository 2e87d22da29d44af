import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SwarmbootError, isSwarmbootError } from '@swarmboot/contracts';
import { Conflict, retryOnConflict } from '../src/domain/retry-on-conflict.js';

test('an attempt after lost races resolves with its value; each attempt is numbered', async () => {
  const seen: number[] = [];
  const value = await retryOnConflict(5, async (n) => {
    seen.push(n);
    return n < 3 ? new Conflict(`lost race ${n}`) : `won on ${n}`;
  });
  assert.equal(value, 'won on 3');
  assert.deepEqual(seen, [1, 2, 3]);
});

test('undefined is a value, not a conflict', async () => {
  let calls = 0;
  const value = await retryOnConflict(5, async () => {
    calls++;
    return undefined;
  });
  assert.equal(value, undefined);
  assert.equal(calls, 1);
});

test('every attempt lost: CONFLICT with the last conflict message and context, after exactly `attempts` tries', async () => {
  let calls = 0;
  await assert.rejects(
    retryOnConflict(4, async (n) => {
      calls++;
      return new Conflict(`node n1 changed (try ${n})`, { nodeId: 'n1', try: n });
    }),
    (err: unknown) => {
      assert.ok(isSwarmbootError(err, 'CONFLICT'));
      assert.equal(err.message, 'node n1 changed (try 4)');
      assert.deepEqual(err.context, { nodeId: 'n1', try: 4 });
      return true;
    },
  );
  assert.equal(calls, 4);
});

test('an error thrown by an attempt is not retried', async () => {
  let calls = 0;
  await assert.rejects(
    retryOnConflict(5, async () => {
      calls++;
      throw new SwarmbootError('NODE_NOT_FOUND', 'no node n1');
    }),
    (err: unknown) => isSwarmbootError(err, 'NODE_NOT_FOUND'),
  );
  assert.equal(calls, 1);
});
