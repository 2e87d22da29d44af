/**
 * The part of create-torrent@6 the seeder (and its tests) use; the package ships no types.
 * Source: node_modules/create-torrent/index.js. webtorrent's and parse-torrent's are in
 * packages/types/, shared with the agent.
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
