/**
 * bencode@4 (BEP 3 encoding) ships no types; the part the tracker's and the seeder's tests use.
 * One file for both projects (each lists it in its tsconfig "include"), as webtorrent.d.ts. Byte
 * strings decode to Uint8Array.
 */
declare module 'bencode' {
  const bencode: {
    encode(value: unknown): Uint8Array;
    decode(data: Uint8Array, start?: number, end?: number, encoding?: string): unknown;
  };
  export default bencode;
}
