import type { Torrent } from 'webtorrent';
import { PieceOffers } from '../domain/piece-offers.js';

/** The parts of a bittorrent-protocol wire the super-seeding wrapper touches. */
interface OfferWire {
  hasFast: boolean;
  destroyed?: boolean;
  peerPieces: { get(index: number): boolean };
  /** bytes/s we sent this peer (bittorrent-protocol's meter) */
  uploadSpeed(): number;
  bitfield(bf: unknown): void;
  haveAll(): void;
  haveNone(): void;
  have(index: number): void;
  on(event: 'have', fn: (index: number) => void): void;
  on(event: 'bitfield', fn: () => void): void;
  on(event: 'close', fn: () => void): void;
}

/**
 * How far ahead of a peer's measured rate from us its offers reach (s): the offer window is
 * `perPeer` + the pieces this peer takes from us in OFFER_AHEAD_S. A piece offered comes back as
 * the peer's HAVE after its transfer, its SHA-1 and a round trip; with only `perPeer` pieces
 * offered, a fast peer idles for that cycle: measured with bench/swarm at 1000 Mbit/s (64 MB,
 * perPeer 4) a lone node took 1.52 s where plain seeding took 1.06 s. Where the seeder's upload
 * is the bottleneck, the per-peer rate is its upload shared by the peers, so the window stays near
 * `perPeer` (rounded down: 4 Mbit/s shared by 32 peers is ~16 KB/s each, 4 KB per 0.25 s, no
 * extra piece; rounding up added one per peer and took N = 32 at 4 Mbit/s from 584 to 613 s,
 * seeder 1.22 → 1.31 F) and super-seeding holds as before;
 * where the link is faster than the demand (one peer, or 1 Gbit/s), the window grows with the
 * rate and super-seeding fades into plain seeding.
 */
export const OFFER_AHEAD_S = 0.25;

/**
 * Super-seeding (BEP 16) for a webtorrent torrent that has every piece. webtorrent has none, so
 * each new wire's opening BITFIELD / HAVE ALL is replaced by "nothing" (an empty bitfield, or
 * HAVE NONE with the fast extension, BEP 6) and the peer is offered `perPeer` pieces (more as
 * its rate from us grows: OFFER_AHEAD_S) by HAVE (PieceOffers decides which: the piece the swarm
 * holds least, counting the HAVEs and BITFIELDs every peer sends). When the peer announces one of
 * them (HAVE: it has the piece, from us or from another peer), the next is offered. Requests are
 * served as before: a peer can still ask for anything, it just learns of pieces one at a time.
 */
export function superSeed(torrent: Torrent, perPeer: number): void {
  let offers: PieceOffers | undefined;
  // created on the first wire: the torrent's piece count is known by then
  const piecesOffers = (): PieceOffers => (offers ??= new PieceOffers(torrent.pieces.length));
  torrent.on('wire', (raw: unknown) => {
    const wire = raw as OfferWire;
    const mine = new Set<number>();
    const originalBitfield = wire.bitfield.bind(wire);
    let started = false;
    const refill = (): void => {
      if (wire.destroyed) return;
      const window = perPeer + Math.floor((wire.uploadSpeed() * OFFER_AHEAD_S) / torrent.pieceLength);
      while (mine.size < window) {
        const i = piecesOffers().next((k) => wire.peerPieces.get(k), mine);
        if (i < 0) return; // the peer has, or was offered, every piece
        mine.add(i);
        wire.have(i);
      }
    };
    const start = (): void => {
      started = true;
      queueMicrotask(refill);
    };
    // webtorrent calls exactly one of these right after the handshake (_onWireWithMetadata)
    wire.bitfield = () => {
      originalBitfield(new Uint8Array(Math.ceil(torrent.pieces.length / 8)));
      start();
    };
    wire.haveAll = () => {
      wire.haveNone();
      start();
    };
    wire.on('have', (index) => {
      piecesOffers().noteHave(index);
      if (mine.delete(index) && started) refill();
    });
    wire.on('bitfield', () => {
      const o = piecesOffers();
      for (let i = 0; i < o.pieces; i++) if (wire.peerPieces.get(i)) o.noteHave(i);
      if (started) refill();
    });
    wire.on('close', () => mine.clear());
  });
}
