import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Wire from 'bittorrent-protocol';
import Piece from 'torrent-piece';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { ASSEMBLE_MAX, MessageReader, PieceBufferPool, ServedPieces, installLeanWirePath, readIntoSharedBuffer, servePiecesFromMemory, type ChunkStore, type MessageSink } from '../src/wire-path.js';

const BLOCK = 16 * 1024;

/** A sink that takes messages of the sizes in `sizes`, in turn, and copies each as delivered. */
function recordingSink(sizes: number[]): { sink: MessageSink; got: Buffer[] } {
  const got: Buffer[] = [];
  return { got, sink: { want: () => sizes[got.length] ?? -1, deliver: (msg) => got.push(Buffer.from(msg)) } };
}

test('MessageReader: messages of any size over reads cut anywhere, each read overwritten after it is fed, come back intact', () => {
  const sizes = [0, 1, 4, 13, 100, 1000, 16393, 5, 2882];
  const bytes = randomBytes(sizes.reduce((a, b) => a + b, 0));
  for (const readSize of [1, 7, 333, 4096, 65536]) {
    const { sink, got } = recordingSink(sizes);
    const reader = new MessageReader(sink);
    const scratch = Buffer.alloc(readSize);
    for (let at = 0; at < bytes.length; at += readSize) {
      const n = bytes.copy(scratch, 0, at, at + readSize);
      reader.feed(scratch.subarray(0, n));
      scratch.fill(0xee); // the next read lands in the same memory
    }
    assert.equal(reader.size, 0);
    let at = 0;
    const want = sizes.map((n) => bytes.subarray(at, (at += n)));
    assert.deepEqual(got, want, `reads of ${readSize} bytes`);
  }
});

test('MessageReader: a message inside one read is a view of it, one across reads its own buffer of its length', () => {
  const read1 = randomBytes(100);
  const read2 = randomBytes(100);
  const delivered: { msg: Uint8Array; view: boolean }[] = [];
  const sizes = [60, 80];
  const reader = new MessageReader({ want: () => sizes[delivered.length] ?? -1, deliver: (msg, view) => delivered.push({ msg, view }) });
  reader.feed(read1);
  reader.feed(read2);
  const [inside, across] = delivered;
  assert.equal(inside!.view, true);
  assert.equal(inside!.msg.buffer, read1.buffer);
  assert.equal(across!.view, false);
  assert.equal(across!.msg.length, 80);
  assert.equal(across!.msg.buffer.byteLength >= 80 && across!.msg.buffer !== read2.buffer, true);
  assert.deepEqual(Buffer.from(across!.msg), Buffer.concat([read1.subarray(60), read2.subarray(0, 40)]));
  assert.equal(reader.size, 60, 'the rest of read2 is held');
  assert.deepEqual(Buffer.from(reader.takeHeld()), read2.subarray(40));
  assert.equal(reader.size, 0);
});

test('MessageReader: a hostile length allocates with the bytes received, not the length; bytes the sink refuses are held', () => {
  const { sink, got } = recordingSink([0xffffffff]);
  const reader = new MessageReader(sink);
  for (let i = 0; i < 3; i++) reader.feed(randomBytes(1000));
  assert.equal(got.length, 0);
  assert.equal(reader.size, 3000);
  const held = reader.takeHeld();
  assert.ok(held.buffer.byteLength <= 2 * ASSEMBLE_MAX, `${held.buffer.byteLength} bytes allocated for 3000 received`);

  const refusing = recordingSink([]);
  const r2 = new MessageReader(refusing.sink);
  const bytes = randomBytes(500);
  r2.feed(bytes);
  assert.equal(refusing.got.length, 0);
  assert.deepEqual(Buffer.from(r2.takeHeld()), bytes);
});

test('MessageReader: bytes held while the sink took none are cut into messages once it takes them again', () => {
  const bytes = randomBytes(300);
  let sizes: number[] = [];
  const got: Uint8Array[] = [];
  const reader = new MessageReader({ want: () => sizes[got.length] ?? -1, deliver: (msg) => got.push(msg) });
  reader.feed(bytes.subarray(0, 200));
  assert.equal(reader.size, 200);
  sizes = [50, 60, 150];
  reader.feed(bytes.subarray(200));
  assert.deepEqual(got.map((m) => Buffer.from(m)), [bytes.subarray(0, 50), bytes.subarray(50, 110), bytes.subarray(110, 260)]);
  assert.equal(reader.size, 40);
});

test('readIntoSharedBuffer: outgoing and accepted sockets read into one buffer and get every byte', async () => {
  const data = randomBytes(1 << 20);
  const received = { client: [] as Buffer[], peer: [] as Buffer[] };
  const buffers = new Set<ArrayBufferLike>();
  const reader = (into: Buffer[]) => (chunk: Uint8Array) => {
    buffers.add(chunk.buffer);
    into.push(Buffer.from(chunk));
  };
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const peer = await accepted;
  assert.equal(readIntoSharedBuffer(client, reader(received.client)), true, 'outgoing');
  assert.equal(readIntoSharedBuffer(peer, reader(received.peer)), true, 'accepted');
  const ended = Promise.all([once(client, 'end'), once(peer, 'end')]);
  peer.end(data);
  client.end(data);
  await ended;
  assert.equal(buffers.size, 1, 'every read is a view of the one shared buffer');
  assert.deepEqual(Buffer.concat(received.client), data);
  assert.deepEqual(Buffer.concat(received.peer), data);
  client.destroy();
  peer.destroy();
  server.close();
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
    seed.bitfield(new Uint8Array([0x40])); // piece 1 only: the leech keeps this message (its peerPieces)
    seed.unchoke();
  });
  seed.on('request', (_i, offset, length, respond) => respond(null, data.subarray(offset, offset + length)));
  // as the agent's sockets do (directPipes): what the seed sent in one turn is read in reads of
  // `readSize` bytes (a socket joins the writes), each straight into the wire's parser, in one
  // buffer that the next read overwrites
  const scratch = Buffer.alloc(readSize);
  const parse = (leech as unknown as { _write(data: Uint8Array, cb: () => void): void })._write;
  let sent: Uint8Array[] = [];
  seed.on('data', (chunk: Uint8Array) => {
    if (sent.push(chunk) > 1) return;
    setImmediate(() => {
      const bytes = Buffer.concat(sent);
      sent = [];
      for (let at = 0; at < bytes.length; at += readSize) {
        const n = bytes.copy(scratch, 0, at, at + readSize);
        parse.call(leech, scratch.subarray(0, n), () => undefined);
        scratch.fill(0xee);
      }
    });
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
  // kept past its read, which the reads after it overwrote (0xee would say piece 0 too)
  const { peerPieces } = leech as unknown as { peerPieces: { get(i: number): boolean } };
  assert.deepEqual([peerPieces.get(0), peerPieces.get(1)], [false, true], 'the BITFIELD as sent');
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

test('PieceBufferPool: a buffer given back while a view of it is pinned is reused only after the last unpin', () => {
  const pool = new PieceBufferPool(10 * 1000);
  const a = pool.take(1000);
  const v1 = a.subarray(0, 100);
  const v2 = a.subarray(100, 200);
  pool.pin(v1);
  pool.pin(v2);
  assert.ok(pool.pinned(a.subarray(500, 600)), 'any view of the same memory');
  assert.ok(!pool.pinned(Buffer.alloc(100)));
  pool.give(a);
  assert.equal(pool.held, 0, 'held back while pinned');
  assert.notEqual(pool.take(1000).buffer, a.buffer);
  pool.unpin(v1);
  assert.equal(pool.held, 0, 'one pin left');
  pool.unpin(v2);
  assert.equal(pool.held, 1000, 'reusable after the last unpin');
  assert.equal(pool.take(1000).buffer, a.buffer);
  pool.unpin(v2);
  assert.equal(pool.held, 0, 'an unpin too many changes nothing');
});

test('ServedPieces: blocks of kept pieces are views; the oldest leave over the bound, a served piece counts as new', () => {
  const pool = new PieceBufferPool(10 * 1000);
  const served = new ServedPieces(2 * 1000, pool);
  const pieces = [0, 1, 2].map(() => {
    const p = pool.take(1000);
    randomBytes(1000).copy(p);
    return p;
  });
  served.add(0, pieces[0]!);
  served.add(1, pieces[1]!);
  const v = served.view(0, 100, 50)!;
  assert.equal(v.buffer, pieces[0]!.buffer, 'a view, not a copy');
  assert.deepEqual(Buffer.from(v), pieces[0]!.subarray(100, 150));
  pool.unpin(v);
  served.add(2, pieces[2]!);
  assert.equal(served.held, 2000);
  assert.equal(served.view(1, 0, 10), undefined, 'piece 1 was the oldest (piece 0 was served after it)');
  assert.equal(pool.held, 1000, 'piece 1 went back to the pool');
  assert.equal(served.view(0, 990, 20), undefined, 'past the end of the piece');
  assert.deepEqual([served.hits, served.misses], [1, 2]);
  served.add(3, Buffer.alloc(1000));
  assert.equal(served.view(3, 0, 10), undefined, 'a buffer not from the pool is not kept');
  served.clear();
  assert.deepEqual([served.held, pool.held], [0, 3000]);
});

test('servePiecesFromMemory: a written piece answers gets of its blocks from memory; other gets and pieces not written go to the store', async () => {
  installLeanWirePath();
  const length = 2 * BLOCK;
  const files = new Map<number, Buffer>();
  let storeGets = 0;
  const store: ChunkStore = {
    put(index, buf, cb) {
      files.set(index, Buffer.from(buf));
      setImmediate(() => cb?.(null));
    },
    get(index, opts, cb) {
      storeGets++;
      const file = files.get(index);
      if (file === undefined) return queueMicrotask(() => cb(new Error(`no piece ${index}`)));
      const offset = opts?.offset ?? 0;
      queueMicrotask(() => cb(null, Buffer.from(file.subarray(offset, offset + (opts?.length ?? file.length - offset)))));
    },
  };
  const served = servePiecesFromMemory(store);
  const assemble = (bytes: Buffer): Uint8Array => {
    const p = new Piece(length);
    p.reserve();
    p.reserve();
    p.set(0, bytes.subarray(0, BLOCK), 'a');
    assert.equal(p.set(1, bytes.subarray(BLOCK), 'a'), true);
    return p.flush()!;
  };
  const get = (index: number, opts: { offset?: number; length?: number } | null) =>
    new Promise<Uint8Array>((resolve, reject) => store.get(index, opts, (err, buf) => (err ? reject(err) : resolve(buf!))));
  const bytes = randomBytes(length);
  const buf = assemble(bytes);
  await new Promise<void>((resolve) => store.put(7, buf, () => resolve()));
  const block = await get(7, { offset: BLOCK, length: BLOCK });
  assert.equal(block.buffer, buf.buffer, 'from memory');
  assert.deepEqual(Buffer.from(block), bytes.subarray(BLOCK));
  assert.equal(storeGets, 0);
  assert.deepEqual(Buffer.from(await get(7, null)), bytes, 'a whole-piece get goes to the store');
  await assert.rejects(get(8, { offset: 0, length: BLOCK }), /no piece 8/);
  assert.equal(storeGets, 2);
  assert.deepEqual([served.hits, served.misses], [1, 1]);
});
