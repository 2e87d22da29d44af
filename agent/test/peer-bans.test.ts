import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PieceBlame } from '../src/peer-bans.js';

test('the only sender of a failed piece is banned at once; a verified piece blames nobody', () => {
  const b = new PieceBlame<string>();
  b.received(1, 'good');
  b.verified(1);
  b.received(2, 'evil');
  b.received(2, 'evil');
  assert.deepEqual(b.failed(2), ['evil']);
  assert.equal(b.isBanned('evil'), true);
  assert.equal(b.isBanned('good'), false);
  // a piece it had contributed to before the ban does not ban it twice
  b.received(3, 'evil');
  assert.deepEqual(b.failed(3), []);
  assert.equal(b.banned, 1);
});

test('peers sharing failed pieces lose trust and are banned at the fourth; a peer whose other pieces pass is not', () => {
  const b = new PieceBlame<string>();
  // the seeder has sent good pieces before
  for (let i = 100; i < 110; i++) {
    b.received(i, 'seeder');
    b.verified(i);
  }
  const banned: string[][] = [];
  for (let i = 1; i <= 4; i++) {
    b.received(i, 'evil');
    b.received(i, 'seeder');
    banned.push(b.failed(i));
  }
  assert.deepEqual(banned, [[], [], [], ['evil']]);
  assert.equal(b.isBanned('seeder'), false);
  // an honest peer with no history that shared one failed piece survives it
  b.received(5, 'fresh');
  b.received(5, 'seeder');
  assert.deepEqual(b.failed(5), []);
});

test('property: a peer that never sent a block of a failed piece is never banned', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ piece: fc.nat(20), peers: fc.subarray(['a', 'b', 'c', 'd'], { minLength: 1 }), ok: fc.boolean() }), { maxLength: 60 }),
      (events) => {
        const b = new PieceBlame<string>();
        const blamed = new Set<string>();
        for (const e of events) {
          for (const p of e.peers) b.received(e.piece, p);
          if (e.ok) b.verified(e.piece);
          else {
            // everyone who sent a block of this piece since its last verdict may be blamed
            for (const p of e.peers) blamed.add(p);
            b.failed(e.piece);
          }
        }
        for (const p of ['a', 'b', 'c', 'd']) if (b.isBanned(p)) assert.ok(blamed.has(p), `${p} banned without sending a failed piece`);
      },
    ),
    { numRuns: 2000 },
  );
});
