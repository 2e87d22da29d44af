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
 * cut out of the socket's reads without joining them ({@link MessageReader}: a message inside one
 * read is a view of it, only one that spans reads is copied), and each block is copied once into
 * its piece's buffer, allocated without zero-fill (`Buffer.allocUnsafe`) when its first block
 * arrives ({@link PieceAssembly}). Measured with bench/swarm: docs/benchmarks.md, "Issue 12, third
 * step". Piece buffers are reused once written ({@link PieceBufferPool}): "Issue 12, fourth step";
 * written pieces answer peers' requests from memory first ({@link ServedPieces}): "Issue 12, ninth
 * step".
 * Every peer socket reads into one shared buffer instead of a new one per read
 * ({@link readIntoSharedBuffer}): "Issue 12, sixth step".
 */

/**
 * Largest message assembled in a buffer of its announced length as its reads arrive (bytes): a
 * PIECE of a 16 KiB block (BEP 3) is 16,393. A longer message (a bitfield of more than 524,288
 * pieces, or a length a hostile peer announces) gets a buffer that grows with the bytes actually
 * received, so a 4-byte length never allocates more than this or twice what arrived, whichever is
 * larger.
 */
export const ASSEMBLE_MAX = 64 * 1024;

/** Where {@link MessageReader} sends messages: the wire's parser. */
export interface MessageSink {
  /** bytes of the next message the parser takes, or -1 while it takes none (MSE, destroyed) */
  want(): number;
  /**
   * One message of `want()` bytes. `view`: it is a view of the read being fed, valid only until
   * `feed` returns (the socket reads the next bytes into the same memory); otherwise it is this
   * message's own buffer.
   */
  deliver(msg: Uint8Array, view: boolean): void;
}

/**
 * Cuts a wire's messages out of socket reads that are valid only while they are fed: the agent's
 * sockets read into one buffer shared by every connection ({@link directPipes}), so nothing may
 * keep a view of a read. A message inside one read is delivered as a view of it (no copy); the
 * bytes of a message that spans reads are copied, once, into a buffer of the message's length,
 * which is delivered when full. Bytes fed while the sink takes none are held. Pure: no socket.
 */
export class MessageReader {
  /** bytes held: the start of the next message, or bytes fed while the sink took none */
  private pending: Uint8Array | null = null;
  private filled = 0;

  constructor(private readonly sink: MessageSink) {}

  /** bytes held */
  get size(): number {
    return this.filled;
  }

  /** Cuts and delivers every complete message of `data`; holds (copies) the rest. */
  feed(data: Uint8Array): void {
    let at = 0;
    let need: number;
    for (;;) {
      need = this.sink.want();
      if (need < 0) break;
      if (this.filled === 0) {
        if (data.length - at < need) break;
        const msg = data.subarray(at, at + need);
        at += need;
        this.sink.deliver(msg, true);
        continue;
      }
      if (this.filled < need) {
        const n = Math.min(need - this.filled, data.length - at);
        this.append(data.subarray(at, at + n), need);
        at += n;
        if (this.filled < need) return;
      }
      // this.filled ≥ need: the message is held
      const held = this.pending!;
      let msg: Uint8Array;
      if (this.filled === need) {
        msg = held.length === need ? held : held.subarray(0, need);
        this.pending = null;
        this.filled = 0;
      } else {
        msg = Buffer.from(held.subarray(0, need)); // a copy (Buffer's own slice would be a view)
        held.copyWithin(0, need, this.filled);
        this.filled -= need;
      }
      this.sink.deliver(msg, false);
    }
    // the start of the next message, in a buffer of its length; or bytes while the sink takes none
    if (at < data.length) this.append(data.subarray(at), need < 0 ? this.filled + data.length - at : need);
  }

  /** Every byte held, as a buffer of its own; the reader holds none after. */
  takeHeld(): Uint8Array {
    const held = this.pending === null ? new Uint8Array(0) : this.pending.subarray(0, this.filled);
    this.pending = null;
    this.filled = 0;
    return held;
  }

  /** Copies `bytes` after the held ones, in a buffer sized for a message of `need` bytes. */
  private append(bytes: Uint8Array, need: number): void {
    const total = this.filled + bytes.length;
    const capacity = this.pending?.length ?? 0;
    if (total > capacity) {
      // need ≥ total: a message's bytes never exceed its length, and bytes held unasked pass their own total
      const grown = Buffer.allocUnsafe(need <= ASSEMBLE_MAX ? need : Math.min(need, Math.max(ASSEMBLE_MAX, 2 * total)));
      if (this.pending !== null) grown.set(this.pending.subarray(0, this.filled));
      this.pending = grown;
    }
    this.pending!.set(bytes, this.filled);
    this.filled = total;
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
  _onMessage(buffer: Uint8Array): void;
  _write(data: Uint8Array, cb: (err: Error | null) => void): void;
}

/** BEP 3 message id of PIECE. */
const MSG_PIECE = 7;

/**
 * The wire's parser as a {@link MessageSink}. A PIECE reaches it as a view of the read:
 * bittorrent-protocol hands the block to the request's callback and the `piece` event, and
 * webtorrent copies it into its piece (`Piece.set`, {@link PieceAssembly}) before either returns.
 * Every other message is small and may be kept (a BITFIELD becomes the peer's bitfield), so a view
 * of one is copied first.
 */
function wireSink(wire: WireParserState): MessageSink {
  const onMessage = wire._onMessage;
  return {
    want: () => (wire._parser !== null && !wire._pePending && wire._cryptoSyncPattern === null ? wire._parserSize : -1),
    deliver: (msg, view) => {
      const parser = wire._parser!;
      parser.call(wire, view && !(parser === onMessage && msg[0] === MSG_PIECE) ? Buffer.from(msg) : msg);
    },
  };
}

/** A Wire's unparsed bytes, kept beside its own `_buffer` (which stays empty on this path). */
const readers = new WeakMap<WireParserState, MessageReader>();

/** `wire`'s held bytes back into its own `_buffer`, for the original path. */
function handBack(wire: WireParserState, reader: MessageReader | undefined): void {
  if (reader === undefined || reader.size === 0) return;
  const held = reader.takeHeld();
  wire._buffer = [...wire._buffer, held];
  wire._bufferSize += held.length;
}

/**
 * bittorrent-protocol's `_write`, fed reads that are valid only during the call (a shared read
 * buffer): messages are cut by a {@link MessageReader}. `_parser` sets the next `_parserSize`, as
 * in bittorrent-protocol's `_processBuffer`.
 */
function leanWrite(original: WireParserState['_write']): WireParserState['_write'] {
  return function write(this: WireParserState, data, cb) {
    // Message stream encryption (MSE/PE) decrypts and resynchronises on the joined buffer: the
    // original path, with whatever this path still holds handed back to it, and the read copied
    // (the original keeps it). The agent runs with encryption off (swarm.ts: `secure: 0`); this
    // keeps a peer that starts MSE working.
    let reader = readers.get(this);
    if (this._encryptor !== null || this._cryptoSyncPattern !== null) {
      handBack(this, reader);
      original.call(this, Buffer.from(data), cb);
      return;
    }
    if (reader === undefined) {
      reader = new MessageReader(wireSink(this));
      readers.set(this, reader);
      const before = this._buffer;
      this._buffer = [];
      this._bufferSize = 0;
      for (const b of before) reader.feed(b);
    }
    reader.feed(data);
    // a parser started MSE: the bytes after it go back to the original path's buffer
    if (this._encryptor !== null || this._cryptoSyncPattern !== null) handBack(this, reader);
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
 * Piece buffers kept for reuse: a piece's buffer goes back here once nothing reads it any more
 * ({@link ServedPieces}), and the next piece of the same length takes it instead of a new
 * allocation. A new buffer of 256 KiB per piece is memory outside V8's heap, and V8 answers its
 * growth with garbage collections ("external memory pressure"). Measured with bench/swarm
 * (256 MB, unshaped): 4–12 % less node CPU at N = 1 than the base run beside it in 5 alternated
 * rounds, 0–15 % at N = 4, the difference off the JavaScript thread (docs/benchmarks.md, "Issue
 * 12, fourth step"). Only buffers taken here are given back, each once; at most `maxBytes` are
 * kept (the rest are left to the GC). Not zero-filled: every byte of a piece is written by its
 * blocks before `flush` hands it out.
 *
 * A view of a buffer being written to a socket is `pin`ned until the write is done: a buffer
 * given back while pinned is kept out of reuse until its last pin is released, so a piece's
 * memory is never overwritten under a write still queued in libuv. A pin never released (a wire
 * destroyed with the view in its queue) leaves the buffer to the GC.
 */
export class PieceBufferPool {
  private readonly free = new Map<number, Buffer[]>();
  /** buffers handed out by `take` and not given back yet */
  private readonly out = new WeakSet<Uint8Array>();
  /** views being written, per buffer memory (each buffer from `take` has its own ArrayBuffer) */
  private readonly pins = new WeakMap<ArrayBufferLike, number>();
  /** buffers given back while pinned, by their memory: reused once the last pin is released */
  private readonly givenWhilePinned = new WeakMap<ArrayBufferLike, Buffer>();
  /** bytes held in `free` */
  held = 0;

  constructor(private readonly maxBytes: number) {}

  /** A buffer of `length` bytes (contents unspecified) with an ArrayBuffer of its own: a kept one, else a new one. */
  take(length: number): Buffer {
    let buf = this.free.get(length)?.pop();
    if (buf === undefined) buf = Buffer.allocUnsafeSlow(length);
    else this.held -= length;
    this.out.add(buf);
    return buf;
  }

  /** Whether `buf` came from `take` and was not given back. */
  owns(buf: Uint8Array): boolean {
    return this.out.has(buf);
  }

  /** Gives back a buffer from `take` that nothing reads any more; anything else is ignored. */
  give(buf: Uint8Array): void {
    if (!this.out.has(buf)) return;
    if (this.pins.has(buf.buffer)) {
      this.givenWhilePinned.set(buf.buffer, buf as Buffer);
      return;
    }
    this.out.delete(buf);
    if (this.held + buf.length > this.maxBytes) return;
    const list = this.free.get(buf.length) ?? [];
    list.push(buf as Buffer);
    this.free.set(buf.length, list);
    this.held += buf.length;
  }

  /** `view` (of a buffer from `take`) is about to be written: its buffer is not reused until `unpin`. */
  pin(view: Uint8Array): void {
    this.pins.set(view.buffer, (this.pins.get(view.buffer) ?? 0) + 1);
  }

  /** Whether `chunk` is a view of a pinned buffer. */
  pinned(chunk: Uint8Array): boolean {
    return this.pins.has(chunk.buffer);
  }

  /** The write of a pinned `view` is done (or will never happen); the last one frees its buffer for reuse. */
  unpin(view: Uint8Array): void {
    const memory = view.buffer;
    const n = this.pins.get(memory);
    if (n === undefined) return;
    if (n > 1) {
      this.pins.set(memory, n - 1);
      return;
    }
    this.pins.delete(memory);
    const given = this.givenWhilePinned.get(memory);
    if (given === undefined) return;
    this.givenWhilePinned.delete(memory);
    this.give(given);
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
 * One read buffer for every peer socket of the process (bytes): 64 KiB, what libuv asks of Node's
 * allocator per read otherwise. Shared: Node runs one read's callback to its end before the next
 * read, and nothing keeps a view of it ({@link MessageReader}).
 */
const SHARED_READ_BYTES = 64 * 1024;
let sharedRead: Buffer | undefined;

/** The socket fields behind Node's `onread` option (lib/net.js, internal/stream_base_commons `onStreamRead`). */
const ONREAD_FIELDS = ['kBuffer', 'kBufferCb', 'kBufferGen'] as const;

/** The parts of a net.Socket that {@link readIntoSharedBuffer} reads and sets. */
interface OnreadSocket {
  _handle?: { useUserBuffer?: (buffer: Uint8Array) => void } | null;
  readableLength: number;
}

/**
 * Makes `conn` read into {@link SHARED_READ_BYTES} and hand each read to `onRead` directly, as
 * `net.connect({ onread })` does, instead of a new 64 KiB buffer per read pushed through a
 * Readable stream ('data'). webtorrent makes the sockets (outgoing and accepted) without `onread`,
 * so this sets the same fields on a socket that exists: Node 20's `useUserBuffer` on the handle
 * and the `kBuffer`/`kBufferCb`/`kBufferGen` symbols `onStreamRead` reads. Returns false, and
 * changes nothing, where those are not found (another Node, a uTP socket) or the socket already
 * buffered a read; the caller then listens for 'data'. Measured with bench/swarm (N = 1, unshaped):
 * docs/benchmarks.md, "Issue 12, sixth step".
 */
export function readIntoSharedBuffer(conn: unknown, onRead: (chunk: Uint8Array) => void): boolean {
  const socket = conn as OnreadSocket & Record<symbol, unknown>;
  const handle = socket._handle;
  if (typeof handle?.useUserBuffer !== 'function' || socket.readableLength !== 0) return false;
  const own = Object.getOwnPropertySymbols(socket);
  const [kBuffer, kBufferCb, kBufferGen] = ONREAD_FIELDS.map((name) => own.find((sym) => sym.description === name));
  if (kBuffer === undefined || kBufferCb === undefined || kBufferGen === undefined) return false;
  const buffer = (sharedRead ??= Buffer.allocUnsafe(SHARED_READ_BYTES));
  socket[kBuffer] = buffer;
  socket[kBufferCb] = (n: number, buf: Uint8Array) => {
    // a plain Uint8Array view: its subarrays are V8's, not Buffer's (a JavaScript constructor per cut)
    onRead(new Uint8Array(buf.buffer, buf.byteOffset, n));
  };
  socket[kBufferGen] = null;
  handle.useUserBuffer(buffer);
  return true;
}

/**
 * A connected peer's socket and Wire joined directly, both ways, in place of webtorrent's
 * `setThrottlePipes` (lib/peer.js): there every socket read and every message the wire sends (a
 * PIECE is two: its 13-byte header, then the block) went through three streams (speed-limiter's
 * Throttle, a Transform that counts bytes, then the wire or the socket), each with its own
 * buffering and callbacks. The agent sets no rate limit (swarm.ts: no `downloadLimit` or
 * `uploadLimit`, so the throttles pass everything through), so only the counting is kept: the
 * Peer's `download` and `upload` events (bytes), which webtorrent's torrent sums. A socket read
 * (into the shared buffer where {@link readIntoSharedBuffer} can) goes to the wire's parser at
 * once (its `_write` is synchronous and never refuses bytes, so nothing is buffered); what the
 * wire sends goes to `socket.write`, and a full socket pauses the wire until `drain`. Ends and
 * errors need nothing here: webtorrent's Peer destroys itself, its socket and its wire on either
 * side's end, close, finish or error (lib/peer.js onConnect).
 */
function directPipes(this: PeerInternals): void {
  const conn = this.conn;
  const wire = this.wire;
  if (conn === null || wire === null) return;
  const parse = (wire as unknown as WireParserState)._write;
  const parsed = (): void => undefined;
  const onRead = (chunk: Uint8Array): void => {
    this.emit('download', chunk.length);
    if (this.destroyed || wire.destroyed) return;
    parse.call(wire as unknown as WireParserState, chunk, parsed);
  };
  if (!readIntoSharedBuffer(conn, onRead)) conn.on('data', onRead);
  wire.on('data', (chunk: Uint8Array) => {
    this.emit('upload', chunk.length);
    // a block served from memory (ServedPieces): its piece is not reused until the socket took it
    const pinned = pieceBuffers.pinned(chunk);
    if (this.destroyed) {
      if (pinned) pieceBuffers.unpin(chunk);
      return;
    }
    const ok = pinned ? conn.write(chunk, () => pieceBuffers.unpin(chunk)) : conn.write(chunk);
    if (!ok) {
      wire.pause();
      conn.once('drain', () => wire.resume());
    }
  });
}

/** The part of an abstract-chunk-store (webtorrent's torrent.store) that {@link servePiecesFromMemory} wraps. */
export interface ChunkStore {
  put(index: number, buf: Uint8Array, cb?: (err: Error | null) => void): void;
  get(index: number, opts: { offset?: number; length?: number } | null | undefined, cb: (err: Error | null, buf?: Uint8Array) => void): void;
}

/**
 * Verified pieces kept in memory after the store wrote them, the most recently written or served
 * last, up to `maxBytes`: a peer's REQUEST (BEP 3) for a block of one is answered with a view of
 * it, pinned in {@link pieceBuffers} until the socket has taken it. Without them each piece
 * served was read back from the file (webtorrent's CacheChunkStore over FSChunkStore: a 256 KiB
 * read on libuv's pool joined into a new zero-filled buffer) and each block copied out of that
 * into another new zero-filled buffer (`Uint8Array.prototype.slice`). A piece leaving goes back
 * to {@link pieceBuffers} (reused once its last view is written). Counts `hits` and `misses`.
 */
export class ServedPieces {
  /** oldest first: a piece served moves last */
  private readonly pieces = new Map<number, Buffer>();
  /** bytes held */
  held = 0;
  /** blocks answered from memory, and requests passed on to the store */
  hits = 0;
  misses = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly pool: PieceBufferPool = pieceBuffers,
  ) {}

  /** Keeps written piece `index` (a buffer from the pool; any other is given back at once). */
  add(index: number, piece: Uint8Array): void {
    this.drop(index);
    if (!this.pool.owns(piece) || piece.length > this.maxBytes) return this.pool.give(piece);
    this.pieces.set(index, piece as Buffer);
    this.held += piece.length;
    for (const oldest of this.pieces.keys()) {
      if (this.held <= this.maxBytes) break;
      this.drop(oldest);
    }
  }

  /**
   * `length` bytes at `offset` of piece `index` as a view, pinned: the caller writes it to a
   * socket and unpins it (directPipes), or unpins it when it will not. Undefined when the piece is
   * not kept or the range is outside it.
   */
  view(index: number, offset: number, length: number): Uint8Array | undefined {
    const piece = this.pieces.get(index);
    if (piece === undefined || offset < 0 || length < 0 || offset + length > piece.length) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.pieces.delete(index);
    this.pieces.set(index, piece);
    const view = piece.subarray(offset, offset + length);
    this.pool.pin(view);
    return view;
  }

  /** Gives every kept piece back to the pool (the torrent is done with them). */
  clear(): void {
    for (const index of [...this.pieces.keys()]) this.drop(index);
  }

  private drop(index: number): void {
    const piece = this.pieces.get(index);
    if (piece === undefined) return;
    this.pieces.delete(index);
    this.held -= piece.length;
    this.pool.give(piece);
  }
}

/**
 * 32 MiB (128 pieces of 256 KiB) of written pieces kept to serve peers. A bound, chosen against
 * the install environment's memory (a server's RAM, GiBs); what fraction of REQUESTs it answers
 * is measured by bench/swarm (docs/benchmarks.md, "Issue 12, ninth step").
 */
export const SERVED_PIECES_BYTES = 32 * 1024 * 1024;

/**
 * Wraps the torrent's `store` (webtorrent's outermost, ImmediateChunkStore, which keeps a piece's
 * buffer until the put's callback): a piece written is kept in a {@link ServedPieces} once its
 * callback has run (webtorrent marks the piece verified and sends its HAVEs there, lib/torrent.js
 * `_request`), and a `get` of a block of a kept piece is answered from it (in a microtask, as
 * CacheChunkStore answers); any other `get` goes to the store. Nothing else reads a piece's
 * buffer after the put: it is hashed before. Returns the ServedPieces (its counts; `clear` when the
 * torrent is destroyed).
 */
export function servePiecesFromMemory(store: ChunkStore, maxBytes = SERVED_PIECES_BYTES): ServedPieces {
  const served = new ServedPieces(maxBytes);
  const put = store.put.bind(store);
  const get = store.get.bind(store);
  store.put = (index, buf, cb) =>
    put(index, buf, (err) => {
      cb?.(err);
      if (err === null || err === undefined) served.add(index, buf);
      else pieceBuffers.give(buf);
    });
  store.get = (index, opts, cb) => {
    const view = opts?.offset !== undefined && opts.length !== undefined ? served.view(index, opts.offset, opts.length) : undefined;
    if (view === undefined) return get(index, opts, cb);
    queueMicrotask(() => cb(null, view));
  };
  return served;
}

let installed = false;

/**
 * Installs the lean receive path into bittorrent-protocol's Wire, torrent-piece's Piece and
 * webtorrent's Peer, for every wire, piece and peer of this process (idempotent). Only what
 * webtorrent 3.0.21 / bittorrent-protocol 5.0.9 / torrent-piece 4.0.1 do with them is relied on; an
 * upgrade must re-check `Wire._write` and `_processBuffer`, `Piece.set` and `flush`,
 * `Peer.setThrottlePipes` and `onConnect`, what the torrent does with a piece's buffer around
 * `store.put` (`Torrent._request`), and that a REQUEST's answer goes from `store.get`'s callback
 * to the wire unchanged (`Torrent._onWire` 'request', `Wire._onRequest`), for
 * {@link servePiecesFromMemory}.
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
