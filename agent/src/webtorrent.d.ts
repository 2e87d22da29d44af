// Minimal typings of the parts of webtorrent@3 the agent uses (the package ships none).
declare module 'webtorrent' {
  import type { EventEmitter } from 'node:events';
  export interface Wire extends EventEmitter {
    peerId: string | null;
    type: string;
    remoteAddress?: string;
    downloaded: number;
    uploaded: number;
    /** the peer's pieces (bitfield) as it announced them */
    peerPieces: { get(index: number): boolean };
    /** sends HAVE(index) (BEP 3) */
    have(index: number): void;
  }
  export interface Torrent extends EventEmitter {
    infoHash: string;
    length: number;
    downloaded: number;
    uploaded: number;
    received: number;
    progress: number;
    done: boolean;
    numPeers: number;
    wires: Wire[];
    pieces: unknown[];
    select(start: number, end: number, priority?: number): void;
    addWebSeed(url: string): void;
    destroy(opts?: unknown, cb?: (err?: Error) => void): void;
    destroyed: boolean;
    /** pieces verified so far */
    bitfield: { get(index: number): boolean };
    /** internal (webtorrent 3.0): re-plans every wire's requests; see coalesceUpdates in swarm.ts */
    _update(): void;
    /** internal (webtorrent 3.0): a selection; `isStreamSelection` ones are kept apart and removed exactly */
    _select(start: number, end: number, priority: number, notify: undefined, isStreamSelection: boolean): void;
    _deselect(start: number, end: number, isStreamSelection: boolean): void;
  }
  export interface TorrentOptions {
    path?: string;
    announce?: string[];
    strategy?: 'rarest' | 'sequential';
    skipVerify?: boolean;
    /** start with nothing selected (select() decides the order) */
    deselect?: boolean;
    maxWebConns?: number;
    private?: boolean;
    /** upload slots: peers unchoked at a time (webtorrent default 10) */
    uploads?: number;
  }
  export interface ClientOptions {
    dht?: boolean;
    lsd?: boolean;
    utp?: boolean;
    utPex?: boolean;
    natUpnp?: boolean;
    natPmp?: boolean;
    webSeeds?: boolean;
    tracker?: boolean | Record<string, unknown>;
    torrentPort?: number;
    maxConns?: number;
    peerId?: string | Uint8Array;
    secure?: number | boolean;
    uploadLimit?: number;
    downloadLimit?: number;
  }
  export default class WebTorrent extends EventEmitter {
    constructor(opts?: ClientOptions);
    peerId: string;
    add(torrentId: Uint8Array | string | object, opts?: TorrentOptions, onTorrent?: (t: Torrent) => void): Torrent;
    destroy(cb?: (err?: Error) => void): void;
  }
}
