import { mkdir } from 'node:fs/promises';
import WebTorrent, { type Torrent, type Wire } from 'webtorrent';
import type { Logger } from '@swarmboot/kit';
import type { TransferStats } from '@swarmboot/contracts';

/** ASCII prefix of the seeder's peer id (services/seeder SEEDER_PEER_ID_PREFIX), hex-encoded as wires report it. */
const SEEDER_PREFIX_HEX = Buffer.from('-SB0001-SEEDER', 'ascii').toString('hex');

/**
 * webtorrent 3.0 re-plans the requests of every wire (Torrent._update: a scan of the selected
 * pieces per wire) after every 16 KiB block received and every HAVE, synchronously in Node (its
 * idle-callback path exists only in browsers): O(blocks × wires × pieces) per node. Profiled at
 * N = 8 (60 MB, 128 KiB pieces, bench/swarm): the planner was 28 % of the nodes' CPU. Here one
 * plan runs per event-loop turn (setImmediate: after that turn's socket reads), covering every
 * block and HAVE the turn brought.
 */
function coalesceUpdates(t: Torrent): void {
  const update = t._update.bind(t);
  let queued = false;
  t._update = () => {
    if (queued) return;
    queued = true;
    setImmediate(() => {
      queued = false;
      update();
    });
  };
}

export interface SwarmOptions {
  /** the .torrent file's bytes */
  torrent: Buffer;
  /** directory the image file is written into while downloading */
  dir: string;
  /** BEP 19 web seed, added only when peers and seeder have delivered nothing for `webSeedAfterMs` */
  webSeedUrl?: string;
  /** ms without a received byte before the web seed is added (default 10 000) */
  webSeedAfterMs?: number;
  onProgress?: (bytes: number, total: number) => void;
  log: Logger;
}

export interface SwarmDownload {
  /** resolves when every piece is verified (each piece's SHA-1 is checked by webtorrent, BEP 3) */
  done: Promise<TransferStats>;
  /** bytes uploaded to other nodes so far */
  uploaded(): number;
  /** stops seeding and closes every connection */
  stop(): Promise<void>;
}

/**
 * Joins the image's swarm with LAN settings: no DHT, LSD, PEX-less, no NAT traversal, no
 * encryption, a random first piece then in order (see below), and more connections than ln N for
 * any N we target. The web seed is a
 * fallback, so the seeder's HTTP does not compete with peers. Bytes are counted per source: the
 * seeder (by its peer-id prefix), other nodes, the web seed.
 */
export function joinSwarm(opts: SwarmOptions): SwarmDownload {
  const client = new WebTorrent({ dht: false, lsd: false, webSeeds: false, utPex: false, utp: false, natUpnp: false, natPmp: false, secure: 0, maxConns: 60 });
  const stats: TransferStats = { bytesFromSeeder: 0, bytesFromPeers: 0, bytesFromWebSeed: 0, bytesUploaded: 0, downloadMs: 0 };
  const started = Date.now();
  let lastByteAt = Date.now();
  let torrent: Torrent | undefined;
  let fallbackTimer: NodeJS.Timeout | undefined;
  let progressTimer: NodeJS.Timeout | undefined;

  const done = new Promise<TransferStats>((resolve, reject) => {
    client.on('error', reject);
    void mkdir(opts.dir, { recursive: true }).then(() => {
      torrent = client.add(opts.torrent, { path: opts.dir, deselect: true });
      const t = torrent;
      coalesceUpdates(t);
      t.on('error', reject);
      t.once('ready', () => {
        // Random first piece, then in order, wrapping: nodes hold different regions early, so
        // they have something to give each other (BEP 3 recommends a random first piece).
        // Not webtorrent's 'rarest' strategy: its picker rescans every piece for every candidate
        // (quadratic in the piece count); measured here, one agent spun at 100 % CPU for
        // 10 minutes at 99 % of a 1,312-piece image.
        const n = t.pieces.length;
        const start = Math.floor(Math.random() * n);
        t.select(start, n - 1, 1);
        if (start > 0) t.select(0, start - 1, 0);
      });
      t.on('wire', (wire: Wire) => {
        const source = wire.type === 'webSeed' ? 'bytesFromWebSeed' : wire.peerId?.startsWith(SEEDER_PREFIX_HEX) ? 'bytesFromSeeder' : 'bytesFromPeers';
        wire.on('download', (n: number) => {
          stats[source] += n;
          lastByteAt = Date.now();
        });
      });
      if (opts.webSeedUrl) {
        const url = opts.webSeedUrl;
        const after = opts.webSeedAfterMs ?? 10_000;
        fallbackTimer = setInterval(() => {
          if (!t.done && Date.now() - lastByteAt > after) {
            opts.log.warn({ url, quietMs: Date.now() - lastByteAt }, 'no bytes from the swarm; adding the web seed');
            t.addWebSeed(url);
            clearInterval(fallbackTimer);
          }
        }, 1000);
      }
      progressTimer = setInterval(() => opts.onProgress?.(t.downloaded, t.length), 1000);
      t.on('done', () => {
        clearInterval(progressTimer);
        clearInterval(fallbackTimer);
        stats.downloadMs = Date.now() - started;
        opts.onProgress?.(t.length, t.length);
        resolve({ ...stats });
      });
    }, reject);
  });

  return {
    done,
    uploaded: () => torrent?.uploaded ?? 0,
    stop: () =>
      new Promise<void>((resolve) => {
        clearInterval(progressTimer);
        clearInterval(fallbackTimer);
        client.destroy(() => resolve());
      }),
  };
}
