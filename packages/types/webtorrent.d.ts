/**
 * The parts of webtorrent@3 that the agent and the seeder (and their tests) use; the package ships
 * no types. One file for both projects (each lists it in its tsconfig "include"), because an
 * ambient module is not carried across project references. Sources: node_modules/webtorrent/
 * index.js and lib/torrent.js at 3.0.21 (the version package-lock pins); the `_`-prefixed members
 * are internals the agent relies on, so a webtorrent upgrade must re-check them.
 */
declare module 'webtorrent' {
  import type { EventEmitter } from 'node:events';
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
    tracker?: boolean | { announce?: string[] };
    /** protocol encryption: 0 or false off, 1 PE with plaintext fallback (default), 2 PE only */
    secure?: number | boolean;
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
    /** start with nothing selected (select() decides the order) */
    deselect?: boolean;
    /** upload slots: peers unchoked at a time (webtorrent default 10) */
    uploads?: number;
    strategy?: 'sequential' | 'rarest';
    maxWebConns?: number;
    private?: boolean;
  }

  export interface Wire extends EventEmitter {
    /** 40 hex digits; null before the handshake */
    peerId: string | null;
    remoteAddress?: string;
    remotePort?: number;
    /** 'tcpIncoming', 'tcpOutgoing', 'webSeed', … */
    type: string;
    /** bytes */
    downloaded: number;
    /** bytes */
    uploaded: number;
    /** the peer's pieces (bitfield) as it announced them */
    peerPieces: { get(index: number): boolean };
    /** sends HAVE(index) (BEP 3) */
    have(index: number): void;
    /** sends INTERESTED (BEP 3) unless already sent */
    interested(): void;
    /** sends NOT INTERESTED (BEP 3) unless already sent */
    uninterested(): void;
    /** our requests to the peer not yet answered (BEP 3 REQUEST) */
    readonly requests: readonly unknown[];
    /** the peer chokes us: requests would be refused */
    readonly peerChoking: boolean;
    readonly destroyed: boolean;
    /** closes the connection (webtorrent then forgets the peer) */
    destroy(): void;
    /** the peer's BEP 10 extended handshake (`reqq`: the most requests it queues) */
    readonly peerExtendedHandshake?: { reqq?: number };
    /** bytes/s received from the peer; called with a byte count per block received (bittorrent-protocol's `throughput` meter, replaceable) */
    downloadSpeed: (delta?: number) => number;
    /** bytes/s sent to the peer; called with a byte count per block sent */
    uploadSpeed: (delta?: number) => number;
  }

  export interface Torrent extends EventEmitter {
    readonly infoHash: string;
    readonly name: string;
    /** bytes */
    readonly length: number;
    /** bytes */
    readonly pieceLength: number;
    /** one entry per piece (null once verified) */
    readonly pieces: readonly unknown[];
    /** pieces verified so far */
    readonly bitfield: { get(index: number): boolean };
    readonly ready: boolean;
    readonly done: boolean;
    readonly destroyed: boolean;
    /** 0..1 of verified bytes */
    readonly progress: number;
    /** bytes verified */
    readonly downloaded: number;
    /** bytes */
    readonly uploaded: number;
    /** bytes received, verified or not */
    readonly received: number;
    readonly numPeers: number;
    readonly wires: Wire[];
    /** internal: the torrent's chunk store (abstract-chunk-store: ImmediateChunkStore over the cache and the files), set with the metadata; the agent wraps `put` and `get` (servePiecesFromMemory in agent/src/wire-path.ts) */
    readonly store: {
      put(index: number, buf: Uint8Array, cb?: (err: Error | null) => void): void;
      get(index: number, opts: { offset?: number; length?: number } | null | undefined, cb: (err: Error | null, buf?: Uint8Array) => void): void;
    } | null;
    select(start: number, end: number, priority?: number): void;
    addWebSeed(url: string): void;
    destroy(cb?: (err?: Error | null) => void): void;
    /** internal: re-plans every wire's requests; see coalesceUpdates in agent/src/swarm.ts */
    _update(): void;
    /** internal: the torrent's rate meters (bytes/s), called per block */
    _downloadSpeed: (delta?: number) => number;
    _uploadSpeed: (delta?: number) => number;
    /** internal: plans one wire's requests up to its pipeline length; the agent replaces it with RequestPlanner.plan (agent/src/request-planner.ts) and keeps it as the hot-swap fallback */
    _updateWire(wire: Wire): void;
    /**
     * internal: adds a peer (`ip:port` from the tracker, or an incoming connection's Peer object)
     * unless it is known, invalid or blocked; null when refused. The agent wraps it to refuse
     * banned addresses (banCorruptPeers in agent/src/swarm.ts).
     */
    _addPeer(peer: unknown, type: string, source?: string): unknown;
    /** internal: sends INTERESTED to `wire` when it has a piece we lack (pieces[i] not null), else NOT INTERESTED; called on each of its HAVEs */
    _updateWireInterest(wire: Wire): void;
    /** internal: requests one block of piece `index` from `wire`; false when none is left to reserve or the wire's pipeline is full */
    _request(wire: Wire, index: number, hotswap: boolean): boolean;
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
    /** internal: the client's rate meters (bytes/s), called per block of every torrent */
    _downloadSpeed: (delta?: number) => number;
    _uploadSpeed: (delta?: number) => number;
  }
}

/**
 * webtorrent 3.0.21's lib/peer.js (not exported by its index; the package has no `exports` map):
 * the part agent/src/wire-path.ts replaces. `setThrottlePipes` joins a connected peer's socket and
 * its bittorrent-protocol Wire, both ways, through speed-limiter's throttles and a Transform that
 * emits `download` / `upload` (bytes) on the Peer.
 */
declare module 'webtorrent/lib/peer.js' {
  import type { EventEmitter } from 'node:events';
  import type { Duplex } from 'node:stream';

  export interface PeerInternals extends EventEmitter {
    readonly destroyed: boolean;
    /** the socket (net.Socket for TCP peers) */
    readonly conn: Duplex | null;
    /** bittorrent-protocol's Wire (a streamx Duplex) */
    readonly wire: Duplex | null;
    setThrottlePipes(): void;
  }

  const Peer: { prototype: PeerInternals };
  export default Peer;
}
