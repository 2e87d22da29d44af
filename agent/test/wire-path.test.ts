import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Wire from 'bittorrent-protocol';
import Piece from 'torrent-piece';
import { ChunkQueue, PieceBufferPool, installLeanWirePath, recyclePieceBuffers, type ChunkStorePut } from '../src/wire-path.js';

const BLOCK = 16 * 1024;

/** `bytes` cut at `cuts` (sorted offsets). */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(bytes.subarray(at, c));
    at = c;
  }
  return out;
}

test('ChunkQueue: takes of any size over reads cut anywhere give the bytes back in order', () => {
  const bytes = randomBytes(5000);
  for (const readSize of [1, 7, 333, 4096, 5000]) {
    const q = new ChunkQueue();
    const cuts: number[] = [];
    for (let c = readSize; c < bytes.length; c += readSize) cuts.push(c);
    for (const chunk of split(bytes, cuts)) q.push(chunk);
    assert.equal(q.size, bytes.length);
    const got: Uint8Array[] = [];
    for (const n of [0, 1, 4, 13, 100, 1000, 2882]) got.push(q.take(n));
    got.push(q.take(q.size));
    assert.equal(q.size, 0);
    assert.deepEqual(Buffer.concat(got), bytes, `reads of ${readSize} bytes`);
  }
});

test('ChunkQueue: a message inside one read is a view of it; one across reads is a copy; too much throws', () => {
  const read1 = randomBytes(100);
  const read2 = randomBytes(100);
  const q = new ChunkQueue();
  q.push(read1);
  q.push(read2);
  const inside = q.take(60);
  assert.equal(inside.buffer, read1.buffer);
  assert.equal(inside.byteOffset, read1.byteOffset);
  const across = q.take(80);
  assert.notEqual(across.buffer, read1.buffer);
  assert.deepEqual(Buffer.from(across), Buffer.concat([read1.subarray(60), read2.subarray(0, 40)]));
  assert.throws(() => q.take(61), RangeError);
  assert.deepEqual(Buffer.from(q.take(60)), read2.subarray(40));
});

test('a piece assembled block by block, out of order, and from a multi-block range, is the bytes sent', () => {
  installLeanWirePath();
  const length = 2 * BLOCK + 1000;
  const bytes = randomBytes(length);
  const blocks = [bytes.subarray(0, BLOCK), bytes.subarray(BLOCK, 2 * BLOCK), bytes.subarray(2 * BLOCK)];

  const p = new Piece(length);
  for (let k = 0; k < 3; k++) assert.equal(p.reserve(), k);
  assert.equal(p.set(2, blocks[2]!, 'a'), false);
  assert.equal(p.flush(), null, 'not every block is in');
  assert.equal(p.set(0, blocks[0]!, 'a'), false);
  // a block already stored is kept (torrent-piece's contract)
  assert.equal(p.set(0, randomBytes(BLOCK), 'b'), false);
  assert.equal(p.missing, BLOCK);
  assert.equal(p.set(1, blocks[1]!, 'a'), true);
  assert.deepEqual(Buffer.from(p.flush()!), bytes);
  assert.equal(p.flush(), null, 'flushed once');

  // a web seed's range (BEP 19): blocks 1..2 in one call
  const w = new Piece(length);
  w.set(1, bytes.subarray(BLOCK), 'web');
  assert.equal(w.missing, BLOCK);
  assert.equal(w.set(0, blocks[0]!, 'web'), true);
  assert.deepEqual(Buffer.from(w.flush()!), bytes);
});

/**
 * Two bittorrent-protocol wires: `seed` answers REQUESTs with `data`; what it sends reaches `leech`
 * in reads of `readSize` bytes (a message split across reads, many messages in one read).
 */
async function fetchOverWire(data: Buffer, readSize: number, requests: { offset: number; length: number }[]): Promise<Buffer[]> {
  const seed = new Wire();
  const leech = new Wire();
  const infoHash = randomBytes(20).toString('hex');
  seed.on('handshake', () => {
    seed.handshake(infoHash, randomBytes(20).toString('hex'));
    seed.bitfield(new Uint8Array([0x80]));
    seed.unchoke();
  });
  seed.on('request', (_i, offset, length, respond) => respond(null, data.subarray(offset, offset + length)));
  seed.on('data', (chunk: Buffer) => {
    for (let at = 0; at < chunk.length; at += readSize) leech.write(chunk.subarray(at, at + readSize));
  });
  leech.on('data', (chunk: Buffer) => seed.write(chunk));
  const unchoked = new Promise<void>((resolve) => leech.once('unchoke', () => resolve()));
  leech.handshake(infoHash, randomBytes(20).toString('hex'));
  await unchoked;
  const blocks = await Promise.all(
    requests.map(
      (r) =>
        new Promise<Buffer>((resolve, reject) =>
          leech.request(0, r.offset, r.length, (err, block) => (err ? reject(err) : resolve(Buffer.from(block!)))),
        ),
    ),
  );
  seed.destroy();
  leech.destroy();
  return blocks;
}

test('PIECE messages cut at any byte by the socket reach the request callbacks intact (bittorrent-protocol wires)', async () => {
  installLeanWirePath();
  const data = randomBytes(4 * BLOCK);
  const requests = [0, 1, 2, 3].map((k) => ({ offset: k * BLOCK, length: BLOCK }));
  for (const readSize of [1, 13, 4096, BLOCK + 13, 65536]) {
    const blocks = await fetchOverWire(data, readSize, requests);
    assert.deepEqual(Buffer.concat(blocks), data, `reads of ${readSize} bytes`);
  }
});

test('PieceBufferPool: a buffer given back is taken again; foreign, repeated and over-bound gives are ignored', () => {
  const pool = new PieceBufferPool(2 * 1000);
  const a = pool.take(1000);
  const b = pool.take(1000);
  const c = pool.take(1000);
  assert.equal(a.length, 1000);
  pool.give(a);
  pool.give(a);
  pool.give(Buffer.alloc(1000));
  assert.equal(pool.held, 1000, 'a once; the foreign buffer not kept');
  pool.give(b);
  pool.give(c);
  assert.equal(pool.held, 2000, 'c is over the bound');
  const taken = [pool.take(1000), pool.take(1000), pool.take(1000)];
  assert.equal(pool.held, 0);
  assert.ok(taken.includes(a) && taken.includes(b) && !taken.includes(c));
  assert.notEqual(pool.take(999).length, 1000, 'kept per length');
});

test('a piece buffer written by the store is reused by the next piece, which holds its own bytes', async () => {
  installLeanWirePath();
  const length = 2 * BLOCK;
  const written: Buffer[] = [];
  const store: ChunkStorePut = {
    put(_index, buf, cb) {
      written.push(Buffer.from(buf));
      setImmediate(() => cb?.(null));
    },
  };
  recyclePieceBuffers(store);
  const assemble = (bytes: Buffer): Uint8Array => {
    const p = new Piece(length);
    p.reserve();
    p.reserve();
    p.set(0, bytes.subarray(0, BLOCK), 'a');
    assert.equal(p.set(1, bytes.subarray(BLOCK), 'a'), true);
    return p.flush()!;
  };
  const first = randomBytes(length);
  const buf1 = assemble(first);
  await new Promise<void>((resolve) => store.put(0, buf1, () => resolve()));
  const second = randomBytes(length);
  const buf2 = assemble(second);
  assert.equal(buf2.buffer, buf1.buffer, 'the same memory');
  assert.deepEqual(Buffer.from(buf2), second);
  assert.deepEqual(written[0], first);
});
