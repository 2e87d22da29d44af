/**
 * The part of parse-torrent@11 the seeder and the agent use; the package ships no types.
 * Source: node_modules/parse-torrent/index.js. Feed it only bencode that kit's checkBencode
 * accepted (its bencode@4 decoder loops forever on some malformed input).
 */
declare module 'parse-torrent' {
  export interface ParsedTorrent {
    /** 40 hex digits */
    infoHash: string;
    name?: string;
    length?: number;
    pieceLength?: number;
    announce?: string[];
    urlList?: string[];
    files?: { path: string; name: string; length: number; offset: number }[];
  }
  export default function parseTorrent(torrentId: string | Uint8Array | object): Promise<ParsedTorrent>;
}
