import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rateMeter } from '../src/rate-meter.js';

test('rate over the time since the first call, then over the window; reading records nothing', () => {
  let t = 0;
  const meter = rateMeter(1000, () => t);
  assert.equal(meter(), 0);
  t = 50; // shorter than one bucket: counted over one bucket (100 ms)
  assert.equal(meter(10_000), 100_000);
  t = 500;
  assert.equal(meter(40_000), 100_000); // 50 000 bytes over 500 ms
  assert.equal(meter(), 100_000);
  t = 1000;
  // the window is the last 10 buckets: 100–1100 ms; the first bucket's 10 000 bytes left it
  assert.equal(meter(50_000), 90_000);
});

test('old buckets leave the window; a long pause empties it', () => {
  let t = 0;
  const meter = rateMeter(1000, () => t);
  for (t = 0; t < 1000; t += 100) meter(1000); // 10 000 bytes, 1 000 per bucket
  t = 1000;
  assert.equal(meter(), 9000); // the first bucket (0–100 ms) left the window
  t = 1550;
  assert.equal(meter(), 4000); // buckets 600–900 ms remain
  t = 60_000;
  assert.equal(meter(), 0);
  assert.equal(meter(2000), 2000);
});
