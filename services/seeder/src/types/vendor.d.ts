/**
 * The parts of create-torrent@6 and parse-torrent@11 the seeder (and its tests) use; the packages
 * ship no types. Sources: node_modules/create-torrent/index.js, node_modules/parse-torrent/index.js.
 * webtorrent's are in packages/types/webtorrent.d.ts, shared with the agent.
 */
declare module 'create-torrent' {
  export interface CreateTorrentOptions {
    name?: string;
    creationDate?: Date;
    comment?: string;
    createdBy?: string;
    private?: boolean;
    /** bytes, a power of two */
    pieceLength?: number;
    announceList?: string[][];
    /** BEP 19 web seeds */
    urlList?: string[];
    /** drop .DS_Store, Thumbs.db, … (default true) */
    filterJunkFiles?: boolean;
  }
  export default function createTorrent(input: string | Uint8Array, opts: CreateTorrentOptions, cb: (err: Error | null, torrent: Uint8Array) => void): void;
}

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
