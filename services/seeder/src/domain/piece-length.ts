/** Smallest piece: 16 KiB, the block size peers request (BEP 3 "request"); a smaller piece is all overhead. */
export const MIN_PIECE_LENGTH = 16 * 1024;
/** Largest piece: 4 MiB, as create-torrent's own cap; bounds the memory per piece in flight and the bytes re-fetched after a failed hash. */
export const MAX_PIECE_LENGTH = 4 * 1024 * 1024;
/** Most pieces aimed for; with a power-of-two length the count lands in (1000, 2000]. */
export const TARGET_MAX_PIECES = 2000;

/**
 * Piece length (bytes, a power of two between 16 KiB and 4 MiB) for an image of `sizeBytes`:
 * the smallest that keeps the piece count at or under 2,000, so between 1,000 and 2,000 pieces
 * when the bounds do not bite (200 MiB → 128 KiB, 1,600 pieces; 4 GiB → 4 MiB, 1,024 pieces).
 *
 * Why that many: a piece is the unit a peer verifies (SHA-1, BEP 3) and can pass on. Few, large
 * pieces make every node wait for a whole piece before it can upload anything, so early in an
 * install the swarm degenerates into everyone pulling from the seeder; many small pieces grow
 * the .torrent (20 bytes of hash per piece), the bitfield and the HAVE traffic every peer sends
 * to every other (pieces × peers messages). ~1,000–2,000 is the usual middle (create-torrent's
 * `piece-length` aims at ~1,000; mktorrent and libtorrent's defaults are of the same order).
 * Throws RangeError for a negative or non-integer size.
 */
export function pieceLengthFor(sizeBytes: number): number {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) throw new RangeError(`image size must be a non-negative integer (got ${sizeBytes})`);
  let length = MIN_PIECE_LENGTH;
  while (length < MAX_PIECE_LENGTH && sizeBytes > TARGET_MAX_PIECES * length) length *= 2;
  return length;
}
