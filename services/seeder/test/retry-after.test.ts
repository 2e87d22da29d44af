import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RETRY_AFTER_MAX_S, RETRY_AFTER_MIN_S, RETRY_AFTER_UNKNOWN_S, retryAfterSeconds } from '../src/domain/retry-after.js';

test('Retry-After is the time the download still needs at its rate, rounded up', () => {
  assert.equal(retryAfterSeconds(10_000_000, 1_000_000), 10);
  assert.equal(retryAfterSeconds(10_000_001, 1_000_000), 11, 'whole seconds, never early');
});

test('Retry-After stays within its bounds', () => {
  assert.equal(retryAfterSeconds(0, 1_000_000), RETRY_AFTER_MIN_S, 'an image about to be done: come back in a second, not at once');
  assert.equal(retryAfterSeconds(-5, 1_000_000), RETRY_AFTER_MIN_S);
  assert.equal(retryAfterSeconds(100e9, 1_000_000), RETRY_AFTER_MAX_S, 'a long download: come back within a minute (another replica may serve it by then)');
});

test('without a rate the wait is the fixed guess', () => {
  assert.equal(retryAfterSeconds(10_000_000, 0), RETRY_AFTER_UNKNOWN_S);
  assert.equal(retryAfterSeconds(10_000_000, Number.NaN), RETRY_AFTER_UNKNOWN_S);
  assert.equal(retryAfterSeconds(Number.POSITIVE_INFINITY, 1000), RETRY_AFTER_UNKNOWN_S);
});
