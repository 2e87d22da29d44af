/**
 * The parts of webtorrent@3, create-torrent@6 and parse-torrent@11 the seeder (and its tests) use;
 * the packages ship no types. Sources: node_modules/webtorrent/index.js, lib/torrent.js,
 * node_modules/create-torrent/index.js, node_modules/parse-torrent/index.js.
 */
declare module 'webtorrent' {
  import { EventEmitter } from 'node:events';
  import type { AddressInfo } from 'node:net';

  export interface WebTorrentOptions {
    /** 20 bytes (or 40 hex digits) */
    peerId?: Uint8Array | string;
    /** BitTorrent TCP port; 0 picks a free one */
    torrentPort?: number;
    dht?: boolean;
    lsd?: boolean;
    utp?: boolean;
    utPex?: boolean;
    natUpnp?: boolean;
    natPmp?: boolean;
    /** options for bittorrent-tracker's client, or false for no trackers */
    tracker?: false | { announce?: string[] };
    /** BEP 8-ish protocol encryption: 0 off, 1 PE with plaintext fallback (default), 2 PE only */
    secure?: number;
    /** bytes/s, -1 for none */
    uploadLimit?: number;
    /** bytes/s, -1 for none */
    downloadLimit?: number;
    /** use BEP 19 web seeds (default true) */
    webSeeds?: boolean;
    maxConns?: number;
  }

  export interface TorrentOptions {
    /** directory holding (or receiving) the torrent's files */
    path?: string;
    /** extra tracker URLs */
    announce?: string[];
    /** assume the files on disk are complete and correct */
    skipVerify?: boolean;
    /** upload slots: peers unchoked at a time (webtorrent default 10) */
    uploads?: number;
    strategy?: 'sequential' | 'rarest';
  }

  export interface Wire {
    /** 40 hex digits */
    peerId: string;
    remoteAddress: string;
    remotePort: number;
    /** 'tcpIncoming', 'tcpOutgoing', 'webSeed', … */
    type: string;
    downloaded: number;
    uploaded: number;
  }

  export interface Torrent extends EventEmitter {
    readonly infoHash: string;
    readonly name: string;
    readonly length: number;
    readonly pieceLength: number;
    /** one entry per piece (null once verified) */
    readonly pieces: readonly unknown[];
    readonly ready: boolean;
    readonly done: boolean;
    readonly destroyed: boolean;
    /** 0..1 of verified bytes */
    readonly progress: number;
    readonly downloaded: number;
    readonly uploaded: number;
    readonly numPeers: number;
    readonly wires: Wire[];
    destroy(cb?: (err?: Error | null) => void): void;
  }

  export default class WebTorrent extends EventEmitter {
    constructor(opts?: WebTorrentOptions);
    /** 40 hex digits */
    readonly peerId: string;
    readonly torrentPort: number;
    readonly listening: boolean;
    readonly destroyed: boolean;
    readonly torrents: Torrent[];
    add(torrentId: string | Uint8Array | object, opts?: TorrentOptions, onTorrent?: (torrent: Torrent) => void): Torrent;
    get(torrentId: string | Uint8Array): Promise<Torrent | null>;
    address(): AddressInfo | null;
    throttleUpload(rate: number): void;
    destroy(cb?: (err?: Error | null) => void): void;
  }
}

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
