import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Torrent, Wire } from 'webtorrent';
import { BLOCK_LENGTH, pipelineLength, RequestPlanner } from '../src/request-planner.js';

// The planner against the shapes it reads from webtorrent: pieces of 4 blocks (torrent-piece's
// reservation counters), a bitfield, and `_request` reserving one block of a piece per call.
const BLOCKS = 4;

function swarm(pieces: number, rate: number, peerHas: (i: number) => boolean = () => true) {
  const verified = new Set<number>();
  const state = Array.from({ length: pieces }, () => ({ _flushed: false, _buffer: null as unknown[] | null, _reservations: 0, _chunks: BLOCKS, _cancellations: [] as number[] }));
  const requests: { piece: number }[] = [];
  const wire = { type: 'tcpOutgoing', destroyed: false, peerChoking: false, requests, peerPieces: { get: peerHas }, downloadSpeed: () => rate } as unknown as Wire;
  const fallbacks: Wire[] = [];
  const torrent = {
    done: false,
    pieces: state,
    wires: [wire],
    bitfield: { get: (i: number) => verified.has(i) },
    _request(w: Wire, i: number): boolean {
      const p = state[i]!;
      if (p._reservations >= p._chunks) return false;
      p._buffer ??= [];
      p._reservations += 1;
      (w.requests as { piece: number }[]).push({ piece: i });
      return true;
    },
  } as unknown as Torrent;
  return { torrent, wire, requests, state, verified, fallbacks, fallback: (w: Wire) => void fallbacks.push(w) };
}

test('pipeline length follows the rate: 2 + rate × seconds / 16 KiB blocks, at most the peer\'s reqq', () => {
  const wire = { downloadSpeed: () => 10 * BLOCK_LENGTH } as unknown as Wire;
  assert.equal(pipelineLength(wire, 0.5), 7);
  assert.equal(pipelineLength(wire, 1), 12);
  const capped = { downloadSpeed: () => 1000 * BLOCK_LENGTH, peerExtendedHandshake: { reqq: 250 } } as unknown as Wire;
  assert.equal(pipelineLength(capped, 1), 250);
});

test('rarest pieces first, then in order from the start piece, wrapping; filled to the high mark', () => {
  // 20 blocks/s: low mark 2 + 10 = 12 blocks, high mark 2 + 20 = 22
  const s = swarm(10, 20 * BLOCK_LENGTH);
  const planner = new RequestPlanner(s.torrent, 7, s.fallback, 100);
  planner.rare = [2];
  planner.plan(s.wire);
  const order = [...new Set(s.requests.map((r) => r.piece))];
  assert.deepEqual(order, [2, 7, 8, 9, 0, 1]);
  assert.equal(s.requests.length, pipelineLength(s.wire, 1));
  // above the low mark: nothing more
  planner.plan(s.wire);
  assert.equal(s.requests.length, pipelineLength(s.wire, 1));
});

test('verified and fully requested pieces are skipped; cancelled blocks are requested again after a reset', () => {
  const s = swarm(6, 20 * BLOCK_LENGTH);
  s.verified.add(0);
  s.verified.add(1);
  const planner = new RequestPlanner(s.torrent, 0, s.fallback, 100);
  planner.plan(s.wire);
  assert.deepEqual([...new Set(s.requests.map((r) => r.piece))], [2, 3, 4, 5]);
  // the peer answered everything; piece 2 lost a block (a choke returned it)
  s.requests.length = 0;
  s.state[2]!._cancellations.push(3);
  s.state[2]!._reservations -= 1;
  planner.reset();
  planner.plan(s.wire);
  assert.deepEqual(s.requests.map((r) => r.piece), [2]);
});

test('a wire with nothing to request is not scanned again until it announces a piece or the next full plan', () => {
  const has = new Set([3]);
  const s = swarm(8, 40 * BLOCK_LENGTH, (i) => has.has(i));
  const planner = new RequestPlanner(s.torrent, 0, s.fallback, 100);
  planner.plan(s.wire);
  assert.equal(s.requests.length, BLOCKS);
  has.add(5);
  planner.plan(s.wire); // starved: not scanned, piece 5 not seen yet
  assert.equal(s.requests.length, BLOCKS);
  planner.wake(s.wire); // its HAVE of piece 5
  planner.plan(s.wire);
  assert.deepEqual(s.requests.map((r) => r.piece), [3, 3, 3, 3, 5, 5, 5, 5]);
  assert.equal(s.fallbacks.length, 0, 'a lone wire has nobody to hot-swap from');
});
