import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from '../src/domain/rate-limit.js';

test('RateLimiter lets a burst through per window and reports what it held back', () => {
  let now = 1000;
  const limiter = new RateLimiter(3, 10_000, () => now);
  const first = Array.from({ length: 100 }, () => limiter.take());
  assert.deepEqual(
    first.map((g) => g.allowed).filter(Boolean).length,
    3,
    'a storm of 100 events yields 3 log lines',
  );
  assert.deepEqual(first.slice(0, 3), [
    { allowed: true, suppressedBefore: 0 },
    { allowed: true, suppressedBefore: 0 },
    { allowed: true, suppressedBefore: 0 },
  ]);
  now += 9_999;
  assert.equal(limiter.take().allowed, false, 'still inside the window');
  now += 1;
  assert.deepEqual(limiter.take(), { allowed: true, suppressedBefore: 98 }, 'next window: first event carries the count of the 97 + 1 held back');
  assert.deepEqual(limiter.take(), { allowed: true, suppressedBefore: 0 });
});
