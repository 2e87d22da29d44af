import Wire from 'bittorrent-protocol';
import Piece from 'torrent-piece';
import Peer, { type PeerInternals } from 'webtorrent/lib/peer.js';

/**
 * The node's receive path for PIECE messages (BEP 3), made to copy each byte once between the
 * socket and the piece that is hashed and written.
 *
 * webtorrent 3 (bittorrent-protocol 5, torrent-piece 4) copied every received byte twice and
 * zero-filled twice: the wire joined its leftover bytes with every socket read (`concat` of the
 * whole 64 KiB read into a zero-filled buffer) before cutting messages out of it, and a piece joined
 * its 16 KiB blocks (`concat` again, into a zero-filled buffer) once all were in. Here messages are
 * cut out of the socket's reads without joining them ({@link ChunkQueue}: a message inside one read
 * is a view of it, only one that spans two reads is copied), and each block is copied once into
 * its piece's buffer, allocated without zero-fill (`Buffer.allocUnsafe`) when its first block
 * arrives ({@link PieceAssembly}). Measured with bench/swarm: docs/benchmarks.md, "Issue 12, third
 * step". Piece buffers are reused once written ({@link PieceBufferPool}): "Issue 12, fourth step".
 */

/**
 * Bytes received and not yet parsed, as the socket's reads (views, never joined). `take(n)` returns
 * the next n bytes: a view of the first read when it holds them all, else a copy into a new buffer
 * of n bytes (a message that spans reads). Pure: no socket.
 */
export class ChunkQueue {
  private chunks: Uint8Array[] = [];
  /** bytes held, over every chunk */
  size = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** The next `n` bytes (0 ≤ n ≤ size), removed from the queue. Throws RangeError beyond `size`. */
  take(n: number): Uint8Array {
    if (n > this.size) throw new RangeError(`take(${n}) with ${this.size} bytes queued`);
    this.size -= n;
    const first = this.chunks[0];
    if (n === 0 || first === undefined) return new Uint8Array(0);
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const want = n - at;
      if (c.length <= want) {
        out.set(c, at);
        at += c.length;
        this.chunks.shift();
      } else {
        out.set(c.subarray(0, want), at);
        this.chunks[0] = c.subarray(want);
        at = n;
      }
    }
    return out;
  }

  /** Every byte held, as one buffer (joined when more than one read is held); the queue keeps them. */
  peekAll(): Uint8Array {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0] ?? new Uint8Array(0);
  }

  /** Replaces the queue's bytes with `bytes` (the original wire's own buffer handling, see below). */
  reset(bytes: Uint8Array[]): void {
    this.chunks = bytes.filter((b) => b.length > 0);
    this.size = this.chunks.reduce((s, b) => s + b.length, 0);
  }
}

/** The fields of bittorrent-protocol 5's Wire that its parser keeps its state in (index.js). */
interface WireParserState {
  _parserSize: number;
  _parser: ((buffer: Uint8Array) => void) | null;
  /** bytes not parsed yet: the original `_write` keeps them as one joined buffer */
  _buffer: Uint8Array[];
  _bufferSize: number;
  /** protocol encryption (MSE) state: when set, the original path runs */
  _encryptor: unknown;
  _cryptoSyncPattern: Uint8Array | null;
  _pePending: boolean;
  _write(data: Uint8Array, cb: (err: Error | null) => void): void;
}

/** A Wire's unparsed bytes, kept beside its own `_buffer` (which stays empty on this path). */
const queues = new WeakMap<WireParserState, ChunkQueue>();

function leanWrite(original: WireParserState['_write']): WireParserState['_write'] {
  return function write(this: WireParserState, data, cb) {
    // Message stream encryption (MSE/PE) decrypts and resynchronises on the joined buffer: the
    // original path, with whatever this path still holds handed back to it. The agent runs with
    // encryption off (swarm.ts: `secure: 0`); this keeps a peer that starts MSE working.
    let q = queues.get(this);
    if (this._encryptor !== null || this._cryptoSyncPattern !== null) {
      if (q !== undefined && q.size > 0) {
        this._buffer = [q.peekAll()];
        this._bufferSize = q.size;
        q.reset([]);
      }
      original.call(this, data, cb);
      return;
    }
    if (q === undefined) {
      q = new ChunkQueue();
      q.reset(this._buffer);
      this._buffer = [];
      this._bufferSize = 0;
      queues.set(this, q);
    }
    q.push(data);
    // as bittorrent-protocol's _processBuffer: `_parser` sets the next `_parserSize`
    while (this._parser !== null && q.size >= this._parserSize && !this._pePending && this._cryptoSyncPattern === null) {
      this._parser(q.take(this._parserSize));
    }
    if (this._encryptor !== null || this._cryptoSyncPattern !== null) {
      // a parser started MSE: its bytes go back to the original path's buffer
      this._buffer = q.size > 0 ? [q.peekAll()] : [];
      this._bufferSize = q.size;
      q.reset([]);
    }
    cb(null);
  };
}

/**
 * A piece's blocks copied into one buffer of the piece's length as they arrive, in place of
 * torrent-piece's array of blocks joined at `flush`. Same contract as torrent-piece 4's `set` and
 * `flush` (index.js): `set(i, data)` stores block i (data longer than a block fills the blocks after
 * it, as a web seed's range does; a block already set is kept), true once every block is in;
 * `flush()` returns the piece's bytes once, then null.
 */
interface PieceFields {
  length: number;
  missing: number;
  sources: unknown[] | null;
  _chunks: number;
  _buffered: number;
  _buffer: (Uint8Array | undefined)[] | null;
  _cancellations: number[] | null;
  _flushed: boolean;
  /** ours: the piece's bytes, allocated at the first block */
  _bytes?: Buffer | null;
  init(): boolean;
}

/**
 * Piece buffers kept for reuse: a piece's buffer goes back here once the store has written it
 * ({@link recyclePieceBuffers}), and the next piece of the same length takes it instead of a new
 * allocation. A new buffer of 256 KiB per piece is memory outside V8's heap, and V8 answers its
 * growth with garbage collections ("external memory pressure"). Measured with bench/swarm
 * (256 MB, unshaped): 4–12 % less node CPU at N = 1 than the base run beside it in 5 alternated
 * rounds, 0–15 % at N = 4, the difference off the JavaScript thread (docs/benchmarks.md, "Issue
 * 12, fourth step"). Only
 * buffers taken here are given back, each once; at most `maxBytes` are kept (the rest are left to
 * the GC). Not zero-filled: every byte of a piece is written by its blocks before `flush` hands
 * it out.
 */
export class PieceBufferPool {
  private readonly free = new Map<number, Buffer[]>();
  /** buffers handed out by `take` and not given back yet */
  private readonly out = new WeakSet<Uint8Array>();
  /** bytes held in `free` */
  held = 0;

  constructor(private readonly maxBytes: number) {}

  /** A buffer of `length` bytes (contents unspecified): a kept one, else a new one. */
  take(length: number): Buffer {
    let buf = this.free.get(length)?.pop();
    if (buf === undefined) buf = Buffer.allocUnsafe(length);
    else this.held -= length;
    this.out.add(buf);
    return buf;
  }

  /** Gives back a buffer from `take` that nothing reads any more; anything else is ignored. */
  give(buf: Uint8Array): void {
    if (!this.out.has(buf)) return;
    this.out.delete(buf);
    if (this.held + buf.length > this.maxBytes) return;
    const list = this.free.get(buf.length) ?? [];
    list.push(buf as Buffer);
    this.free.set(buf.length, list);
    this.held += buf.length;
  }
}

/**
 * 16 MiB (64 pieces of 256 KiB): a bound, not a measured need. What the pool holds is at most
 * the pieces that were being assembled or written at once; a buffer given back beyond the bound
 * is left to the GC, as without the pool.
 */
const pieceBuffers = new PieceBufferPool(16 * 1024 * 1024);

/** BEP 3 block length, torrent-piece's BLOCK_LENGTH. */
const BLOCK = 16 * 1024;

export const PieceAssembly = {
  set(this: PieceFields, i: number, data: Uint8Array, source: unknown): boolean {
    if (!this.init()) return false;
    const bytes = (this._bytes ??= pieceBuffers.take(this.length));
    const blocks = this._buffer!;
    const n = Math.ceil(data.length / BLOCK);
    for (let j = 0; j < n; j++) {
      const k = i + j;
      if (k >= this._chunks) break;
      if (blocks[k] !== undefined) continue;
      const offset = k * BLOCK;
      const part = data.subarray(j * BLOCK, Math.min((j + 1) * BLOCK, data.length, this.length - offset + j * BLOCK));
      bytes.set(part, offset);
      blocks[k] = bytes.subarray(offset, offset + part.length);
      this._buffered++;
      this.missing -= part.length;
      if (!this.sources!.includes(source)) this.sources!.push(source);
    }
    return this._buffered === this._chunks;
  },
  flush(this: PieceFields): Buffer | null {
    if (!this._buffer || this._chunks !== this._buffered) return null;
    const bytes = this._bytes ?? Buffer.alloc(0);
    this._bytes = null;
    this._buffer = null;
    this._cancellations = null;
    this.sources = null;
    this._flushed = true;
    return bytes;
  },
};

/**
 * A connected peer's socket and Wire joined directly, both ways, in place of webtorrent's
 * `setThrottlePipes` (lib/peer.js): there every socket read and every message the wire sends (a
 * PIECE is two: its 13-byte header, then the block) went through three streams (speed-limiter's
 * Throttle, a Transform that counts bytes, then the wire or the socket), each with its own
 * buffering and callbacks. The agent sets no rate limit (swarm.ts: no `downloadLimit` or
 * `uploadLimit`, so the throttles pass everything through), so only the counting is kept: the
 * Peer's `download` and `upload` events (bytes), which webtorrent's torrent sums. A socket read
 * goes to the wire's parser at once (its `_write` is synchronous and never refuses bytes, so
 * nothing is buffered); what the wire sends goes to `socket.write`, and a full socket pauses the
 * wire until `drain`. Ends and errors need nothing here: webtorrent's Peer destroys itself, its
 * socket and its wire on either side's end, close, finish or error (lib/peer.js onConnect).
 */
function directPipes(this: PeerInternals): void {
  const conn = this.conn;
  const wire = this.wire;
  if (conn === null || wire === null) return;
  const parse = (wire as unknown as WireParserState)._write;
  const parsed = (): void => undefined;
  conn.on('data', (chunk: Uint8Array) => {
    this.emit('download', chunk.length);
    if (this.destroyed || wire.destroyed) return;
    parse.call(wire as unknown as WireParserState, chunk, parsed);
  });
  wire.on('data', (chunk: Uint8Array) => {
    this.emit('upload', chunk.length);
    if (this.destroyed) return;
    if (!conn.write(chunk)) {
      wire.pause();
      conn.once('drain', () => wire.resume());
    }
  });
}

/** The part of an abstract-chunk-store (webtorrent's torrent.store) that {@link recyclePieceBuffers} wraps. */
export interface ChunkStorePut {
  put(index: number, buf: Uint8Array, cb?: (err: Error | null) => void): void;
}

/**
 * Gives each piece buffer back to the pool once `store` has written it and its callback has run
 * (webtorrent's torrent marks the piece verified and sends its HAVEs there, lib/torrent.js
 * `_request`). Nothing reads the buffer after that: the piece is hashed before the put, and a
 * block of it is served only once the piece is verified, read back from the store (its cache
 * reads its own copy). `store` is the torrent's outermost store (webtorrent's ImmediateChunkStore,
 * which keeps the buffer until the same callback).
 */
export function recyclePieceBuffers(store: ChunkStorePut): void {
  const put = store.put.bind(store);
  store.put = (index, buf, cb) =>
    put(index, buf, (err) => {
      cb?.(err);
      pieceBuffers.give(buf);
    });
}

let installed = false;

/**
 * Installs the lean receive path into bittorrent-protocol's Wire, torrent-piece's Piece and
 * webtorrent's Peer, for every wire, piece and peer of this process (idempotent). Only what
 * webtorrent 3.0.21 / bittorrent-protocol 5.0.9 / torrent-piece 4.0.1 do with them is relied on; an
 * upgrade must re-check `Wire._write` and `_processBuffer`, `Piece.set` and `flush`,
 * `Peer.setThrottlePipes` and `onConnect`, and what the torrent does with a piece's buffer around
 * `store.put` (`Torrent._request`, for {@link recyclePieceBuffers}).
 */
export function installLeanWirePath(): void {
  if (installed) return;
  installed = true;
  const wire = Wire.prototype as unknown as WireParserState;
  wire._write = leanWrite(wire._write);
  const piece = Piece.prototype as unknown as Record<'set' | 'flush', unknown>;
  piece.set = PieceAssembly.set;
  piece.flush = PieceAssembly.flush;
  Peer.prototype.setThrottlePipes = directPipes;
}
