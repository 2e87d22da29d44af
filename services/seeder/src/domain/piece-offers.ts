/**
 * Super-seeding's piece choice (BEP 16, "initial seeding"): the seeder hides its bitfield and
 * offers each peer a few pieces at a time with HAVE, cycling through the pieces so every piece
 * is offered once before any is offered twice. The seeder's upload — the scarcest link in a
 * cluster install — then carries distinct pieces, and peers fetch the rest from each other.
 */
export class PieceOffers {
  private cursor = 0;
  /** times each piece was offered (to any peer) */
  readonly offered: Uint32Array;

  constructor(readonly pieces: number) {
    this.offered = new Uint32Array(pieces);
  }

  /**
   * The next piece to offer a peer: the first, from the cursor, that the peer neither has nor
   * was offered; -1 when there is none. O(1) amortised while peers lack most pieces.
   */
  next(peerHas: (index: number) => boolean, alreadyOffered: ReadonlySet<number>): number {
    for (let k = 0; k < this.pieces; k++) {
      const i = (this.cursor + k) % this.pieces;
      if (peerHas(i) || alreadyOffered.has(i)) continue;
      this.cursor = (i + 1) % this.pieces;
      this.offered[i] = (this.offered[i] ?? 0) + 1;
      return i;
    }
    return -1;
  }
}
