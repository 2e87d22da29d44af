import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Torrent } from 'webtorrent';
import { OFFER_AHEAD_S, superSeed } from '../src/adapters/super-seed.js';

const PIECES = 1000;
const PIECE_LENGTH = 128 * 1024;

/** A wire as the wrapper sees it: records the HAVEs it sends; `rate` is what it measures we send it (bytes/s). */
class FakeWire extends EventEmitter {
  hasFast = true;
  destroyed = false;
  readonly offered: number[] = [];
  constructor(public rate: number) {
    super();
  }
  readonly peerPieces = { get: (_i: number) => false };
  uploadSpeed(): number {
    return this.rate;
  }
  bitfield(): void {}
  haveAll(): void {}
  haveNone(): void {}
  have(index: number): void {
    this.offered.push(index);
  }
}

/** A torrent with every piece, emitting `wire` as webtorrent does after the handshake. */
function seedingTorrent(): Torrent & EventEmitter {
  return Object.assign(new EventEmitter(), { pieces: new Array<null>(PIECES).fill(null), pieceLength: PIECE_LENGTH }) as unknown as Torrent & EventEmitter;
}

async function connect(torrent: Torrent & EventEmitter, wire: FakeWire): Promise<void> {
  torrent.emit('wire', wire);
  wire.haveAll(); // webtorrent opens with HAVE ALL (fast extension): replaced by HAVE NONE + offers
  await new Promise((r) => queueMicrotask(() => r(undefined)));
}

test('a peer with no measured rate is offered perPeer pieces, distinct from another peer’s', async () => {
  const torrent = seedingTorrent();
  superSeed(torrent, 4);
  const a = new FakeWire(0);
  const b = new FakeWire(0);
  await connect(torrent, a);
  await connect(torrent, b);
  assert.equal(a.offered.length, 4);
  assert.equal(b.offered.length, 4);
  assert.equal(new Set([...a.offered, ...b.offered]).size, 8);
});

test('the window grows with the rate the peer gets from us, on its next HAVE', async () => {
  const torrent = seedingTorrent();
  superSeed(torrent, 4);
  const wire = new FakeWire(0);
  await connect(torrent, wire);
  // 100 MB/s: 0.25 s of it is 191 pieces of 128 KiB ahead, on top of the 4
  wire.rate = 100e6;
  const first = wire.offered[0]!;
  wire.emit('have', first);
  const expected = 4 + Math.floor((100e6 * OFFER_AHEAD_S) / PIECE_LENGTH);
  // offered so far minus the one the peer announced = the pieces offered and not yet announced
  assert.equal(wire.offered.length - 1, expected);
  // at 16 KB/s (4 Mbit/s shared by 32 peers) less than a piece per OFFER_AHEAD_S: perPeer, as without the window
  const slow = new FakeWire(16e3);
  await connect(torrent, slow);
  slow.emit('have', slow.offered[0]!);
  assert.equal(slow.offered.length - 1, 4);
});
