/** bencode@4 (BEP 3 encoding) ships no types; the part the tests use. Byte strings decode to Uint8Array. */
declare module 'bencode' {
  const bencode: {
    encode(value: unknown): Uint8Array;
    decode(data: Uint8Array, start?: number, end?: number, encoding?: string): unknown;
  };
  export default bencode;
}
