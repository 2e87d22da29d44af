import type { Torrent, Wire } from 'webtorrent';

/** BEP 3's block (request) size, bytes: webtorrent's Piece.BLOCK_LENGTH. */
export const BLOCK_LENGTH = 16 * 1024;

/**
 * Seconds of a wire's measured rate kept in flight: refilled when below the low mark, up to the
 * high mark. webtorrent's PIPELINE_MIN_DURATION and PIPELINE_MAX_DURATION (libtorrent keeps
 * `request_queue_time` = 3 s; on a LAN 0.5–1 s covers the round trip many times over).
 */
export const PIPELINE_LOW_S = 0.5;
export const PIPELINE_HIGH_S = 1;

/** The fields of webtorrent's Piece (torrent-piece 3) that tell whether a block is left to request. */
interface PieceState {
  _flushed: boolean;
  _buffer: unknown[] | null;
  _reservations: number;
  _chunks: number;
  _cancellations: number[] | null;
}

/** Requests in flight a wire may have (blocks): `2 + rate × seconds / BLOCK_LENGTH`, at most the peer's `reqq` (BEP 10). */
export function pipelineLength(wire: Wire, seconds: number): number {
  const length = 2 + Math.ceil((seconds * wire.downloadSpeed()) / BLOCK_LENGTH);
  const reqq = wire.peerExtendedHandshake?.reqq;
  return typeof reqq === 'number' && reqq > 0 ? Math.min(length, reqq) : length;
}

/**
 * Plans one wire's requests, in place of webtorrent's `Torrent._updateWire`.
 *
 * webtorrent scans every selected piece from the start of its selection for each refill, twice
 * (the second pass tries to hot-swap each reserved piece): O(pieces in flight) per refill, and a
 * wire whose rate is still growing is refilled after nearly every block. Profiled with
 * bench/swarm (256 MB, N = 1, unshaped), that scan and its `_request` calls were 0.3 of the
 * node's 2.4 CPU-s. Here the in-order scan starts at a cursor: every piece before it is verified
 * or has every block requested. The cursor only moves forward between full plans; `reset()`
 * (at each full plan, every PLAN_INTERVAL_MS) puts it back to the start, since a choke, a closed
 * wire or a failed hash returns blocks behind it.
 *
 * A wire the scan left below its low mark has nothing left to request: it is not scanned again
 * (on each of its blocks) until it announces a piece we lack (`wake`) or the next full plan.
 *
 * Order: the rarest-first pieces (`rare`, chosen by the caller), then from `start` to the end and
 * from 0 to `start`. A wire that finds nothing free while below its low mark falls back to
 * webtorrent's own planner (its hot swap takes blocks reserved by a wire at less than half this
 * wire's rate), at most once per `fallbackMs` per wire, and only with more than one wire.
 */
export class RequestPlanner {
  /** pieces to request before the in-order ones (rarest first), re-chosen by the caller */
  rare: readonly number[] = [];
  private cursor = 0;
  /** plans since the start; a wire's entry in `starved` is the plan that found it nothing to request */
  private generation = 0;
  private readonly starved = new WeakMap<Wire, number>();
  private readonly lastFallback = new WeakMap<Wire, number>();

  constructor(
    private readonly torrent: Torrent,
    /** the first piece of the in-order walk */
    private readonly start: number,
    /** webtorrent's `_updateWire`, bound to the torrent */
    private readonly webtorrentPlan: (wire: Wire) => void,
    private readonly fallbackMs: number,
  ) {}

  /** The piece at position k of the in-order walk. */
  private at(k: number): number {
    const n = this.torrent.pieces.length;
    const i = this.start + k;
    return i < n ? i : i - n;
  }

  /** A block of piece i is left to request (not verified, not flushed, a block unreserved or cancelled). */
  private open(i: number): boolean {
    if (this.torrent.bitfield.get(i)) return false;
    const piece = this.torrent.pieces[i] as PieceState | null;
    if (!piece || piece._flushed) return false;
    if (!piece._buffer) return true;
    return piece._reservations < piece._chunks || (piece._cancellations?.length ?? 0) > 0;
  }

  /** The next plan scans from the first piece again, for every wire. */
  reset(): void {
    this.cursor = 0;
    this.generation += 1;
  }

  /** `wire` announced a piece we lack (HAVE): it may have something to request again. */
  wake(wire: Wire): void {
    this.starved.delete(wire);
  }

  /** Tops up `wire`'s requests to its high mark when it is below its low mark. */
  plan(wire: Wire): void {
    const t = this.torrent;
    if (wire.type === 'webSeed') return this.webtorrentPlan(wire);
    if (wire.destroyed || wire.peerChoking || t.done) return;
    // the rate, hence both marks, is the same for the whole plan (the meters' clock is per turn)
    const low = pipelineLength(wire, PIPELINE_LOW_S);
    if (wire.requests.length >= low) return;
    if (this.starved.get(wire) === this.generation) return;
    const high = pipelineLength(wire, PIPELINE_HIGH_S);
    /** requests the blocks of piece i (which the peer has) this wire can take; true when the wire is full */
    const fill = (i: number): boolean => {
      while (wire.requests.length < high && t._request(wire, i, false)) {
        // one block per call
      }
      return wire.requests.length >= high;
    };
    for (const i of this.rare) if (wire.peerPieces.get(i) && fill(i)) return;
    const n = t.pieces.length;
    while (this.cursor < n && !this.open(this.at(this.cursor))) this.cursor++;
    for (let k = this.cursor; k < n; k++) {
      const i = this.at(k);
      if (wire.peerPieces.get(i) && this.open(i) && fill(i)) return;
    }
    if (wire.requests.length >= low) return;
    this.starved.set(wire, this.generation);
    if (t.wires.length < 2) return;
    const now = performance.now();
    if (now - (this.lastFallback.get(wire) ?? -Infinity) < this.fallbackMs) return;
    this.lastFallback.set(wire, now);
    this.webtorrentPlan(wire);
  }
}
