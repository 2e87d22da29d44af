/**
 * Which peers sent the data of a piece that failed its SHA-1 check (BEP 3: each piece's hash is in
 * the .torrent's `pieces`), and which of them to ban. The policy is libtorrent's trust points
 * (torrent::piece_passed / piece_failed, read as reference): a peer that alone sent a failed
 * piece is banned at once (it cannot be an innocent bystander); every peer that shared a failed
 * piece loses {@link TRUST_LOST_PER_FAILED_PIECE} points and is banned at {@link BAN_AT_TRUST};
 * each verified piece it sent gives it a point back, up to {@link MAX_TRUST}. So a corrupt peer
 * that slips one block into pieces the seeder fills is banned after 4 of them, while the seeder,
 * whose other pieces pass, is not.
 *
 * Peers are keys chosen by the caller (the peer id, BEP 3 handshake). Pure: no sockets.
 */
export const TRUST_LOST_PER_FAILED_PIECE = 2;
export const BAN_AT_TRUST = -7;
export const MAX_TRUST = 8;

export class PieceBlame<K> {
  /** piece index → the peers that sent blocks of it since it was last verified or failed */
  private readonly contributors = new Map<number, Set<K>>();
  private readonly trust = new Map<K, number>();
  private readonly bannedKeys = new Set<K>();

  /** `peer` delivered a block of piece `index`. */
  received(index: number, peer: K): void {
    let set = this.contributors.get(index);
    if (set === undefined) this.contributors.set(index, (set = new Set()));
    set.add(peer);
  }

  /** Piece `index` passed its hash check: each of its contributors gains a point of trust. */
  verified(index: number): void {
    for (const p of this.contributors.get(index) ?? []) this.trust.set(p, Math.min(MAX_TRUST, (this.trust.get(p) ?? 0) + 1));
    this.contributors.delete(index);
  }

  /**
   * Piece `index` failed its hash check. Returns the peers banned by this failure (not those
   * banned before); the piece starts over with no contributors.
   */
  failed(index: number): K[] {
    const peers = [...(this.contributors.get(index) ?? [])].filter((p) => !this.bannedKeys.has(p));
    this.contributors.delete(index);
    const banned: K[] = [];
    for (const p of peers) {
      const trust = (this.trust.get(p) ?? 0) - TRUST_LOST_PER_FAILED_PIECE;
      this.trust.set(p, trust);
      if (peers.length === 1 || trust <= BAN_AT_TRUST) {
        this.bannedKeys.add(p);
        banned.push(p);
      }
    }
    return banned;
  }

  isBanned(peer: K): boolean {
    return this.bannedKeys.has(peer);
  }

  /** Peers banned so far. */
  get banned(): number {
    return this.bannedKeys.size;
  }
}
