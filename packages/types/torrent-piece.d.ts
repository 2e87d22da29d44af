/** torrent-piece@4 (webtorrent's piece of 16 KiB blocks) ships no types; the part agent/src/wire-path.ts patches. */
declare module 'torrent-piece' {
  export default class Piece {
    constructor(length: number);
    /** bytes */
    readonly length: number;
    /** bytes not received yet */
    readonly missing: number;
    /** the next block index to request, or -1 */
    reserve(): number;
    /** stores block i (data may span several blocks); true once every block is in */
    set(i: number, data: Uint8Array, source: unknown): boolean;
    /** the piece's bytes once every block is in (once), else null */
    flush(): Uint8Array | null;
    static BLOCK_LENGTH: number;
  }
}
