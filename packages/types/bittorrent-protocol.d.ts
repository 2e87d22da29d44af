/** bittorrent-protocol@5 (BEP 3 wire, webtorrent's) ships no types; the part the hostile-peer test and agent/src/wire-path.ts use. */
declare module 'bittorrent-protocol' {
  import { Duplex } from 'node:stream';
  export default class Wire extends Duplex {
    constructor();
    /** BEP 3 handshake; infoHash and peerId as 40 hex digits */
    handshake(infoHash: string, peerId: string, extensions?: Record<string, boolean>): void;
    /** BEP 3 BITFIELD: one bit per piece, the high bit of the first byte is piece 0 */
    bitfield(bitfield: Uint8Array): void;
    unchoke(): void;
    /** BEP 3 REQUEST of `length` bytes at `offset` of piece `index`; `cb` gets the PIECE message's block */
    request(index: number, offset: number, length: number, cb: (err: Error | null, block: Uint8Array | null) => void): void;
    on(event: 'handshake', listener: (infoHash: string, peerId: string) => void): this;
    on(event: 'request', listener: (index: number, offset: number, length: number, respond: (err: Error | null, block?: Buffer) => void) => void): this;
    on(event: 'data', listener: (chunk: Buffer) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }
}
