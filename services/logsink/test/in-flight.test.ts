import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InFlight } from '../src/domain/in-flight.js';

/** Whether `p` has settled by the time queued callbacks have run. */
async function settled(p: Promise<void>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
}

test('drained waits for the last end(), and resolves at once when nothing is in flight', async () => {
  const f = new InFlight();
  assert.equal(await settled(f.drained(60_000)), true);
  f.begin();
  f.begin();
  const drained = f.drained(60_000);
  f.end();
  assert.equal(f.count, 1);
  assert.equal(await settled(drained), false);
  f.end();
  assert.equal(await settled(drained), true);
  f.end();
  assert.equal(f.count, 0, 'an extra end() does not go below zero');
});

test('drained gives up after its timeout; clear() forgets what will never end', async () => {
  const f = new InFlight();
  f.begin();
  const t0 = Date.now();
  await f.drained(50);
  assert.ok(Date.now() - t0 >= 45, 'waited for the timeout');
  assert.equal(f.count, 1);
  const drained = f.drained(60_000);
  f.clear();
  assert.equal(f.count, 0);
  assert.equal(await settled(drained), true);
});
