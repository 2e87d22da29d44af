import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_PIECE_LENGTH, MIN_PIECE_LENGTH, pieceLengthFor } from '../src/index.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

test('small images get the 16 KiB minimum', () => {
  assert.equal(pieceLengthFor(0), 16 * KiB);
  assert.equal(pieceLengthFor(1), 16 * KiB);
  assert.equal(pieceLengthFor(2 * MiB), 16 * KiB);
  assert.equal(pieceLengthFor(2000 * 16 * KiB), 16 * KiB, 'exactly 2000 pieces still fits');
  assert.equal(pieceLengthFor(2000 * 16 * KiB + 1), 32 * KiB);
});

test('typical images land between 1,000 and 2,000 pieces', () => {
  assert.equal(pieceLengthFor(200 * MiB), 128 * KiB); // 1600 pieces
  assert.equal(pieceLengthFor(700 * MiB), 512 * KiB); // 1400 pieces
  for (let size = 40 * MiB; size <= 7 * GiB; size = Math.floor(size * 1.37)) {
    const p = pieceLengthFor(size);
    const pieces = Math.ceil(size / p);
    assert.ok(pieces > 1000 && pieces <= 2000, `${size} bytes → ${p} → ${pieces} pieces`);
  }
});

test('piece lengths are powers of two within [16 KiB, 4 MiB]', () => {
  for (const size of [0, 5, 123_456, 99 * MiB, 3 * GiB, 8 * GiB, 100 * GiB]) {
    const p = pieceLengthFor(size);
    assert.ok(p >= MIN_PIECE_LENGTH && p <= MAX_PIECE_LENGTH, `${p}`);
    assert.equal(p & (p - 1), 0, `${p} is a power of two`);
  }
  assert.equal(pieceLengthFor(100 * GiB), 4 * MiB, 'huge images stop at 4 MiB (more than 2000 pieces then)');
});

test('negative, fractional or non-finite sizes are refused', () => {
  for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => pieceLengthFor(bad), RangeError);
});
