import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PieceOffers } from '../src/domain/piece-offers.js';

test('every piece is offered once before any is offered twice', () => {
  const offers = new PieceOffers(10);
  const got: number[] = [];
  // 3 peers, 2 offers each, then each peer again: 12 offers over 10 pieces
  for (let round = 0; round < 2; round++) {
    for (let p = 0; p < 3; p++) {
      const mine = new Set<number>(got.filter((_, k) => Math.floor(k / 2) % 3 === p));
      for (let j = 0; j < 2; j++) {
        const i = offers.next(() => false, mine);
        mine.add(i);
        got.push(i);
      }
    }
  }
  assert.deepEqual(got.slice(0, 10).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(Math.max(...offers.offered), 2);
});

test('skips what the peer has or was offered; -1 when nothing is left', () => {
  const offers = new PieceOffers(4);
  const has = (i: number): boolean => i === 0 || i === 2;
  const mine = new Set<number>([1]);
  assert.equal(offers.next(has, mine), 3);
  mine.add(3);
  assert.equal(offers.next(has, mine), -1);
  assert.deepEqual([...offers.offered], [0, 0, 0, 1]);
});

test('once every piece is out, the next offer is the piece held by the fewest peers', () => {
  const offers = new PieceOffers(4);
  for (let k = 0; k < 4; k++) assert.equal(offers.next(() => false, new Set()), k);
  // pieces 0, 1 and 3 were passed on (HAVEs from 3, 2 and 5 peers); piece 2 is still in transit
  for (const [i, times] of [[0, 3], [1, 2], [3, 5]] as const) for (let t = 0; t < times; t++) offers.noteHave(i);
  assert.equal(offers.next(() => false, new Set()), 2);
  assert.equal(offers.next(() => false, new Set([2])), 1);
  assert.equal(offers.next((i) => i === 1, new Set([2])), 0);
  offers.noteHave(99); // ignored
  assert.deepEqual([...offers.offered], [2, 2, 2, 1]);
});

test('no pieces: nothing to offer', () => {
  assert.equal(new PieceOffers(0).next(() => false, new Set()), -1);
});
