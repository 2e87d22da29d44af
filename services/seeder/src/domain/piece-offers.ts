/**
 * Super-seeding's piece choice (BEP 16, "initial seeding"): the seeder hides its bitfield and
 * offers each peer a few pieces at a time with HAVE. The piece offered next is the one the
 * swarm holds least: the larger of (times offered, HAVEs seen from peers) — a piece in transit
 * and a piece one peer holds count the same — ties broken by a cursor that cycles through the
 * pieces. So every piece is offered once before any twice, and after that a piece is offered
 * again only while others have spread further: the seeder's upload, the scarcest link of a
 * cluster install, carries pieces the peers cannot get from each other.
 */
export class PieceOffers {
  private cursor = 0;
  /** times each piece was offered (to any peer) */
  readonly offered: Uint32Array;
  /** HAVEs seen for each piece (from any peer, ever): how far it has spread */
  readonly seen: Uint32Array;

  constructor(readonly pieces: number) {
    this.offered = new Uint32Array(pieces);
    this.seen = new Uint32Array(pieces);
  }

  /** A peer announced `index` (HAVE, or a bit of its BITFIELD). Out-of-range indices are ignored. */
  noteHave(index: number): void {
    if (index >= 0 && index < this.pieces) this.seen[index]! += 1;
  }

  /**
   * The next piece to offer a peer: of those the peer neither has nor was offered, the one with
   * the fewest max(offers, HAVEs seen), the first from the cursor on a tie; -1 when there is none.
   * O(pieces) per call.
   */
  next(peerHas: (index: number) => boolean, alreadyOffered: ReadonlySet<number>): number {
    let best = -1;
    let bestScore = Infinity;
    for (let k = 0; k < this.pieces; k++) {
      const i = (this.cursor + k) % this.pieces;
      const score = Math.max(this.offered[i]!, this.seen[i]!);
      if (score >= bestScore || peerHas(i) || alreadyOffered.has(i)) continue;
      best = i;
      bestScore = score;
      if (score === 0) break;
    }
    if (best < 0) return -1;
    this.cursor = (best + 1) % this.pieces;
    this.offered[best]! += 1;
    return best;
  }
}
