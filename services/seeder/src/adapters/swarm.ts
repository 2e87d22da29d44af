import WebTorrent, { type Torrent } from 'webtorrent';
import { SwarmbootError, UNCHOKE_ALL } from '@swarmboot/contracts';
import type { Logger } from '@swarmboot/kit';
import { superSeed } from './super-seed.js';

export interface SwarmOptions {
  log: Logger;
  /** 20 bytes, see seederPeerId() */
  peerId: Buffer;
  /** BitTorrent TCP port; 0 picks a free one */
  torrentPort: number;
  /** bytes/s over all torrents; 0 for no limit */
  uploadLimit: number;
  /** super-seeding (BEP 16): pieces offered to each peer at a time; 0 advertises every piece (plain seeding) */
  superSeedPieces?: number;
  /** tracker announce URLs, used on top of those in each .torrent */
  announce: string[];
  /** called when the client fails after start (its listener died) */
  onError?: (err: Error) => void;
}

export interface SeedResult {
  /** 40 hex digits */
  infoHash: string;
  /** every piece on disk is there and verified (always true with skipVerify) */
  complete: boolean;
}

/** A download from the swarm (TorrentSwarm.download). */
export interface Download {
  /** bytes verified so far, the file's length (bytes; 0 until the torrent is ready) and the mean rate since the start (bytes/s) */
  progress(): { downloaded: number; length: number; bytesPerSecond: number };
  done: Promise<void>;
}

/**
 * The seeder's BitTorrent side: one webtorrent client seeding the stored image files in place.
 * Tuned for a cluster, not the internet: no DHT, LSD, uTP, UPnP/NAT-PMP (peers come from our
 * tracker), no protocol encryption (a cluster's own network; PE costs CPU per byte), no web seeds
 * (the seeder has every byte already, or fetches it from peers; its torrents' url-list points at
 * the seeders themselves).
 */
export class TorrentSwarm {
  private client: WebTorrent | undefined;
  private readonly log: Logger;

  constructor(private readonly opts: SwarmOptions) {
    this.log = opts.log.child({ component: 'swarm' });
  }

  /** Starts the client; resolves with the BitTorrent port once it listens. Throws SEEDER_TORRENT_LISTEN_FAILED. */
  async start(): Promise<number> {
    const client = new WebTorrent({
      peerId: this.opts.peerId,
      torrentPort: this.opts.torrentPort,
      dht: false,
      lsd: false,
      utp: false,
      natUpnp: false,
      natPmp: false,
      secure: 0,
      webSeeds: false,
      tracker: { announce: this.opts.announce },
      uploadLimit: this.opts.uploadLimit > 0 ? this.opts.uploadLimit : -1,
    });
    this.client = client;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new SwarmbootError('SEEDER_TORRENT_LISTEN_FAILED', `BitTorrent client cannot listen on port ${this.opts.torrentPort}: ${err.message}`, { cause: err }));
      client.once('error', onError);
      const onListening = (): void => {
        client.off('error', onError);
        resolve();
      };
      if (client.listening) onListening();
      else client.once('listening', onListening);
    });
    client.on('error', (err: Error) => {
      // torrents have their own handlers: this is the client itself (its TCP listener)
      this.log.error({ err }, 'BitTorrent client failed');
      this.opts.onError?.(err);
    });
    const port = client.address()?.port ?? this.opts.torrentPort;
    this.log.info({ port, peerId: Buffer.from(client.peerId, 'hex').toString('latin1') }, 'BitTorrent client listening');
    return port;
  }

  /**
   * Seeds a .torrent whose single file already sits in `dir` (no copy). With `skipVerify` the
   * file is trusted (the caller hashed it, or its size and mtime are unchanged since); otherwise
   * every piece is hashed first and `complete` says whether the file matched.
   * Throws SwarmbootError SEEDER_SEED_FAILED.
   */
  async seed(torrentFile: Uint8Array, dir: string, opts: { skipVerify: boolean; name: string }): Promise<SeedResult> {
    const client = this.requireClient();
    const log = this.log.child({ image: opts.name });
    const torrent = client.add(Buffer.from(torrentFile), { path: dir, skipVerify: opts.skipVerify, announce: this.opts.announce, uploads: UNCHOKE_ALL });
    // before any wire: the policy replaces each wire's opening bitfield
    if ((this.opts.superSeedPieces ?? 0) > 0) superSeed(torrent, this.opts.superSeedPieces ?? 0);
    torrent.on('warning', (err: Error) => log.warn({ infoHash: torrent.infoHash, reason: err.message }, 'torrent warning'));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new SwarmbootError('SEEDER_SEED_FAILED', `cannot seed ${opts.name}: ${err.message}`, { cause: err }));
      torrent.once('error', onError);
      torrent.once('ready', () => {
        torrent.off('error', onError);
        torrent.on('error', (err: Error) => log.error({ err, infoHash: torrent.infoHash }, 'torrent failed'));
        resolve();
      });
    });
    const complete = torrent.progress === 1;
    if (!complete) await this.destroyTorrent(torrent);
    else log.info({ infoHash: torrent.infoHash, length: torrent.length, pieceLength: torrent.pieceLength, verified: !opts.skipVerify }, 'seeding');
    return { infoHash: torrent.infoHash, complete };
  }

  /**
   * Downloads a .torrent's single file into `dir` from the swarm, as a plain peer (no
   * super-seeding: it has only some pieces), serving the pieces it has to others meanwhile.
   * Peers come from the tracker; no web seed (the client has them off: the torrent's url-list is
   * the seeders' Service, which may be this very replica). Every piece is checked against its
   * SHA-1 (BEP 3) as it arrives. `done` resolves once every piece is verified and the torrent is
   * closed (files flushed, so the caller may move them); it rejects with `signal.reason` when
   * aborted, with SEEDER_SEED_FAILED when the torrent fails. A download without peers waits for
   * them (webtorrent announces again at the tracker's interval).
   */
  download(torrentFile: Uint8Array, dir: string, opts: { name: string; signal: AbortSignal }): Download {
    const client = this.requireClient();
    const log = this.log.child({ image: opts.name });
    const started = Date.now();
    const torrent = client.add(Buffer.from(torrentFile), { path: dir, announce: this.opts.announce, uploads: UNCHOKE_ALL });
    const done = new Promise<void>((resolve, reject) => {
      const settle = (err?: Error): void => {
        opts.signal.removeEventListener('abort', onAbort);
        void this.destroyTorrent(torrent).then(() => (err ? reject(err) : resolve()));
      };
      const onAbort = (): void => settle(opts.signal.reason instanceof Error ? opts.signal.reason : new Error('aborted'));
      if (opts.signal.aborted) return onAbort();
      opts.signal.addEventListener('abort', onAbort, { once: true });
      torrent.once('done', () => settle());
      torrent.once('error', (err: Error) => settle(new SwarmbootError('SEEDER_SEED_FAILED', `cannot download ${opts.name}: ${err.message}`, { cause: err })));
      torrent.on('warning', (err: Error) => log.warn({ infoHash: torrent.infoHash, reason: err.message }, 'torrent warning'));
    });
    return {
      done,
      progress: () => {
        const seconds = (Date.now() - started) / 1000;
        return { downloaded: torrent.downloaded, length: torrent.length, bytesPerSecond: seconds > 0 ? torrent.downloaded / seconds : 0 };
      },
    };
  }

  /** Stops seeding `infoHash` (a tracker `stopped` announce goes out); the files stay. */
  async stop(infoHash: string): Promise<void> {
    const torrent = this.client?.torrents.find((t) => t.infoHash === infoHash);
    if (torrent) await this.destroyTorrent(torrent);
  }

  /** Numbers for /metrics. */
  stats(): { torrents: number; peers: number; uploadedBytes: number } {
    const torrents = this.client?.torrents ?? [];
    return {
      torrents: torrents.length,
      peers: torrents.reduce((n, t) => n + t.numPeers, 0),
      uploadedBytes: torrents.reduce((n, t) => n + t.uploaded, 0),
    };
  }

  async destroy(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client || client.destroyed) return;
    await new Promise<void>((resolve) => client.destroy(() => resolve()));
  }

  private requireClient(): WebTorrent {
    if (!this.client) throw new SwarmbootError('SEEDER_NOT_STARTED', 'the BitTorrent client is not running');
    return this.client;
  }

  private destroyTorrent(torrent: Torrent): Promise<void> {
    if (torrent.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => torrent.destroy(() => resolve()));
  }
}
