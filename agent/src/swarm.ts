import { mkdir } from 'node:fs/promises';
import WebTorrent, { type Torrent, type Wire } from 'webtorrent';
import type { Logger } from '@swarmboot/kit';
import { UNCHOKE_ALL, type TransferStats } from '@swarmboot/contracts';
import { rateMeter } from './rate-meter.js';
import { RequestPlanner } from './request-planner.js';
import { PieceBlame } from './peer-bans.js';
import { installLeanWirePath, servePiecesFromMemory, type ServedPieces } from './wire-path.js';

/** ASCII prefix of the seeder's peer id (services/seeder SEEDER_PEER_ID_PREFIX), hex-encoded as wires report it. */
const SEEDER_PREFIX_HEX = Buffer.from('-SB0001-SEEDER', 'ascii').toString('hex');

/** Where a wire's bytes come from: the key of {@link TransferStats} they are counted under. */
type Source = 'bytesFromSeeder' | 'bytesFromPeers' | 'bytesFromWebSeed';

function sourceOf(wire: Wire): Source {
  if (wire.type === 'webSeed') return 'bytesFromWebSeed';
  return wire.peerId?.startsWith(SEEDER_PREFIX_HEX) ? 'bytesFromSeeder' : 'bytesFromPeers';
}

/**
 * Least time between two plans of every wire (ms). The planner keeps 0.5–1 s of a wire's measured
 * rate in flight (PIPELINE_LOW_S / PIPELINE_HIGH_S in request-planner.ts), but a wire that just
 * started, or one offered a few pieces at a time, drains faster than that: {@link keepPipelineFull}
 * refills such a wire at once.
 */
export const PLAN_INTERVAL_MS = 100;

/**
 * webtorrent 3.0 re-plans the requests of every wire (Torrent._update: a scan of the selected
 * pieces per wire) after every 16 KiB block received and every HAVE, synchronously in Node (its
 * idle-callback path exists only in browsers): O(blocks × wires × pieces) per node. Profiled with
 * bench/swarm at N = 8 (60 MB, 128 KiB pieces, 64 Mbit/s): the planner was 28 % of the nodes'
 * CPU; at N = 32 and 4 Mbit/s the 32 nodes kept both cores busy at a third of the link rate.
 * Here plans run at most once per PLAN_INTERVAL_MS, each covering every block and HAVE since the
 * last one; the first after a quiet spell runs at once (setImmediate, after the turn's reads).
 */
function coalesceUpdates(t: Torrent, beforePlan: () => void): void {
  const update = t._update.bind(t);
  let queued = false;
  let last = -Infinity;
  const run = (): void => {
    queued = false;
    last = performance.now();
    beforePlan();
    update();
  };
  t._update = () => {
    if (queued) return;
    queued = true;
    const wait = last + PLAN_INTERVAL_MS - performance.now();
    if (wait <= 0) setImmediate(run);
    else setTimeout(run, wait);
  };
}

/**
 * No HAVE (BEP 3) to a peer that already has the piece: it would never request it from us, and
 * every HAVE wakes the peer's process (libtorrent's `send_redundant_have = false`). Not for the
 * seeder, whose super-seeding (BEP 16) learns from HAVEs which offered pieces have spread.
 */
function skipRedundantHaves(wire: Wire): void {
  const have = wire.have.bind(wire);
  wire.have = (index: number) => {
    if (!wire.peerPieces.get(index)) have(index);
  };
}

/**
 * Keeps one wire's request pipeline full between plans. webtorrent refills a wire only inside
 * `_update`, which {@link coalesceUpdates} runs at most every PLAN_INTERVAL_MS: a wire whose
 * pipeline drains faster than that, or that announces a piece while its pipeline is empty, idles
 * until the next plan. That capped a wire at a pipeline per interval: measured with bench/swarm
 * at 1000 Mbit/s, a lone node got 1.3 MB/s from the super-seeding seeder, which offers 4 pieces
 * and the next only after our HAVE — 4 pieces per 100 ms plan. So on every block received and
 * every HAVE of a piece we lack, this one wire is planned at once ({@link RequestPlanner.plan}:
 * nothing happens above its low mark).
 */
function keepPipelineFull(t: Torrent, wire: Wire, planner: () => RequestPlanner | undefined): void {
  const refill = (): void => {
    if (!t.destroyed && !t.done) t._updateWire(wire);
  };
  wire.on('download', refill);
  // only a piece we lack can refill; HAVEs of pieces we hold (most of them, late on) cost nothing
  wire.on('have', (index: number) => {
    if (t.bitfield.get(index)) return;
    planner()?.wake(wire);
    refill();
  });
}

/**
 * Bans peers whose data fails the pieces' SHA-1 check (BEP 3). webtorrent drops a failed piece and
 * asks for it again, but keeps the peer that sent it: a hostile or broken node would feed the
 * swarm corrupt blocks for ever, at the cost of every piece it touches. Blocks are attributed to
 * peers by each wire's `piece` event (the peer id of the BEP 3 handshake), verdicts come from
 * webtorrent's `verified` event and its `Piece N failed verification` warning, and
 * {@link PieceBlame} decides. A banned peer's connections are closed, its address is not dialled
 * again and a new connection from its peer id is closed after the handshake. Web seeds (BEP 19,
 * our seeder's HTTP) are not blamed: they have no peer id to ban.
 */
function banCorruptPeers(t: Torrent, log: Logger, stats: TransferStats): void {
  const blame = new PieceBlame<string>();
  /** `ip:port` of banned peers that we dialled (the tracker's), refused when offered again */
  const bannedAddrs = new Set<string>();
  const addrOf = new Map<Wire, string>();
  const ban = (peerId: string): void => {
    for (const wire of t.wires) {
      if (wire.peerId !== peerId) continue;
      const addr = addrOf.get(wire);
      if (addr !== undefined) bannedAddrs.add(addr);
      wire.destroy();
    }
    stats.peersBanned = blame.banned;
    log.warn({ peerId, addresses: [...bannedAddrs] }, 'peer banned: its data failed piece hash checks');
  };
  t.on('verified', (index: number) => blame.verified(index));
  t.on('warning', (err: Error) => {
    const m = /^Piece (\d+) failed verification$/.exec(err.message);
    if (m === null) return;
    stats.piecesFailed = (stats.piecesFailed ?? 0) + 1;
    for (const peerId of blame.failed(Number(m[1]))) ban(peerId);
  });
  const addPeer = t._addPeer.bind(t);
  t._addPeer = (peer, type, source) => (typeof peer === 'string' && bannedAddrs.has(peer) ? null : addPeer(peer, type, source));
  t.on('wire', (wire: Wire, addr?: string) => {
    const peerId = wire.peerId;
    if (wire.type === 'webSeed' || peerId === null) return;
    if (addr !== undefined) addrOf.set(wire, addr);
    wire.once('close', () => addrOf.delete(wire));
    if (blame.isBanned(peerId)) {
      // after webtorrent's own set-up of the wire, queued behind this event
      setImmediate(() => wire.destroy());
      return;
    }
    wire.on('piece', (index: number) => blame.received(index, peerId));
  });
}

/**
 * webtorrent's `_updateWireInterest` (BEP 3 INTERESTED / NOT INTERESTED) scans our pieces from 0 for
 * one the peer has and we lack, on every HAVE the peer sends: O(pieces) per HAVE once the first
 * pieces are in, and a node receives about N × pieces HAVEs. In a bench/swarm profile at N = 16
 * (docs/benchmarks.md, issue 12 second step), it and webtorrent's seed-status scan (a closure,
 * left as is) were 3 % of the node's CPU. Here the piece the
 * last scan found is checked first: while the peer has it and we lack it (the usual case), the
 * answer is the same without a scan. Same result as webtorrent's: interested while one exists.
 */
function rememberInterest(t: Torrent): void {
  const found = new WeakMap<Wire, number>();
  t._updateWireInterest = (wire: Wire) => {
    const pieces = t.pieces;
    const last = found.get(wire);
    if (last !== undefined && pieces[last] && wire.peerPieces.get(last)) return wire.interested();
    for (let i = 0; i < pieces.length; i++) {
      if (pieces[i] && wire.peerPieces.get(i)) {
        found.set(wire, i);
        return wire.interested();
      }
    }
    found.delete(wire);
    wire.uninterested();
  };
}

/** Pieces put ahead of the in-order selection at a time, and how often they are re-chosen (ms). */
export const RAREST_PIECES = 16;
export const RAREST_INTERVAL_MS = 500;

/**
 * Rarest first among what other nodes hold (BEP 3): every RAREST_INTERVAL_MS, the RAREST_PIECES
 * missing pieces held by the fewest connected nodes (at least one; the seeder and web seeds not
 * counted — the seeder's super-seeding offers decide what it serves) are the planner's `rare`
 * pieces, requested before the in-order ones, so a piece fresh from the seeder spreads from the node
 * that has it before everyone walks on in order. O(wires × pieces) per round, unlike
 * webtorrent's own 'rarest' picker (a rescan of every piece per candidate). Returns the timer.
 */
function rarestFirst(t: Torrent, planner: RequestPlanner): NodeJS.Timeout {
  return setInterval(() => {
    if (t.done || t.destroyed) return;
    const n = t.pieces.length;
    const holders = new Uint16Array(n);
    for (const wire of t.wires) {
      if (sourceOf(wire) !== 'bytesFromPeers') continue;
      for (let i = 0; i < n; i++) if (wire.peerPieces.get(i)) holders[i]! += 1;
    }
    const candidates: number[] = [];
    for (let i = 0; i < n; i++) if (holders[i]! > 0 && !t.bitfield.get(i)) candidates.push(i);
    // random order first, so that equally rare pieces are spread over the nodes
    for (let i = candidates.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
    }
    planner.rare = candidates.sort((a, b) => holders[a]! - holders[b]!).slice(0, RAREST_PIECES);
  }, RAREST_INTERVAL_MS);
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
  /** the swarm delivered nothing for `quietMs` and the web seed is added (once per download) */
  onStall?: (quietMs: number) => void;
  log: Logger;
}

export interface SwarmDownload {
  /** resolves when every piece is verified (each piece's SHA-1 is checked by webtorrent, BEP 3) */
  done: Promise<TransferStats>;
  /** bytes uploaded to other nodes so far */
  uploaded(): number;
  /** blocks requested by peers so far: answered from written pieces kept in memory, and read from the store */
  servedFromMemory(): { hits: number; misses: number };
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
  installLeanWirePath();
  const client = new WebTorrent({ dht: false, lsd: false, webSeeds: false, utPex: false, utp: false, natUpnp: false, natPmp: false, secure: 0, maxConns: 60 });
  client._downloadSpeed = rateMeter(5000);
  client._uploadSpeed = rateMeter(5000);
  const stats: TransferStats = { bytesFromSeeder: 0, bytesFromPeers: 0, bytesFromWebSeed: 0, bytesUploaded: 0, downloadMs: 0 };
  const started = Date.now();
  let lastByteAt = Date.now();
  let torrent: Torrent | undefined;
  let served: ServedPieces | undefined;
  let fallbackTimer: NodeJS.Timeout | undefined;
  let progressTimer: NodeJS.Timeout | undefined;
  let rarestTimer: NodeJS.Timeout | undefined;

  const done = new Promise<TransferStats>((resolve, reject) => {
    client.on('error', reject);
    void mkdir(opts.dir, { recursive: true }).then(() => {
      torrent = client.add(opts.torrent, { path: opts.dir, deselect: true, uploads: UNCHOKE_ALL });
      const t = torrent;
      let planner: RequestPlanner | undefined;
      coalesceUpdates(t, () => planner?.reset());
      // cheaper meters than webtorrent's (see rate-meter.ts), as for the client and each wire
      t._downloadSpeed = rateMeter(5000);
      t._uploadSpeed = rateMeter(5000);
      t.on('error', reject);
      banCorruptPeers(t, opts.log, stats);
      rememberInterest(t);
      t.once('ready', () => {
        // Random first piece, then in order, wrapping: nodes hold different regions early, so
        // they have something to give each other (BEP 3 recommends a random first piece).
        // Not webtorrent's 'rarest' strategy: its picker rescans every piece for every candidate
        // (quadratic in the piece count); measured here, one agent spun at 100 % CPU for
        // 10 minutes at 99 % of a 1,312-piece image.
        if (t.store !== null) served = servePiecesFromMemory(t.store);
        const n = t.pieces.length;
        const start = Math.floor(Math.random() * n);
        t.select(start, n - 1, 1);
        if (start > 0) t.select(0, start - 1, 0);
        const p = new RequestPlanner(t, start, t._updateWire.bind(t), PLAN_INTERVAL_MS);
        planner = p;
        t._updateWire = (wire) => p.plan(wire);
        rarestTimer = rarestFirst(t, p);
      });
      t.on('wire', (wire: Wire) => {
        const source = sourceOf(wire);
        // 1 s, not 5: the pipeline length follows the rate the wire has now
        wire.downloadSpeed = rateMeter(1000);
        wire.uploadSpeed = rateMeter(1000);
        if (source === 'bytesFromPeers') skipRedundantHaves(wire);
        if (source !== 'bytesFromWebSeed') keepPipelineFull(t, wire, () => planner);
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
            const quietMs = Date.now() - lastByteAt;
            opts.log.warn({ url, quietMs }, 'no bytes from the swarm; adding the web seed');
            opts.onStall?.(quietMs);
            t.addWebSeed(url);
            clearInterval(fallbackTimer);
          }
        }, 1000);
      }
      progressTimer = setInterval(() => opts.onProgress?.(t.downloaded, t.length), 1000);
      t.on('done', () => {
        clearInterval(rarestTimer);
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
    servedFromMemory: () => ({ hits: served?.hits ?? 0, misses: served?.misses ?? 0 }),
    stop: () =>
      new Promise<void>((resolve) => {
        clearInterval(rarestTimer);
        clearInterval(progressTimer);
        clearInterval(fallbackTimer);
        client.destroy(() => {
          served?.clear();
          resolve();
        });
      }),
  };
}
