import type { AddressInfo } from 'node:net';
import { Server, type TrackerAnnounceParams } from 'bittorrent-tracker';
import { Counter, Gauge } from 'prom-client';
import { SwarmbootError, isSwarmbootError } from '@swarmboot/contracts';
import type { Logger, Registry } from '@swarmboot/kit';
import { InfoHashAdmission, type InfoHashLookup } from './domain/admission.js';

/** One announce as every transport sees it (BEP 3 "Trackers"; BEP 15 carries the same fields). */
export interface AnnounceRequest {
  transport: 'http' | 'udp' | 'ws';
  /** 40 hex digits */
  infoHash: string;
  /** 40 hex digits (20 bytes) */
  peerId: string;
  /** `started`, `completed`, `stopped`, `update` (no event), … */
  event: string;
  /** peer address `ip:port` as the tracker will hand it out */
  addr: string;
}

/** BEP 3 `event` values (absent or `empty`: a regular update); anything else is `invalid` (bounded metric labels). */
const EVENTS = new Set(['started', 'completed', 'stopped', 'paused']);
function announceEvent(event: string | undefined): string {
  if (event === undefined || event === '' || event === 'empty' || event === 'update') return 'update';
  return EVENTS.has(event) ? event : 'invalid';
}

/** The decision on an announce; `reason` is sent to the client as BEP 3 `failure reason`. */
export type AnnounceVerdict = { ok: true; image: string } | { ok: false; code: 'TRACKER_UNKNOWN_INFOHASH' | 'TRACKER_UNAVAILABLE'; reason: string };

export interface TrackerDeps {
  log: Logger;
  /** infohash → image name; production passes `ImageCatalog.nameByInfoHash` */
  lookup: InfoHashLookup;
  registry: Registry;
  config: {
    /** re-announce interval told to clients (s) */
    intervalSeconds: number;
    /** most peers kept per swarm */
    peersPerSwarm: number;
    /** how long a registered infohash is trusted without asking Redis again (ms); default 60 s */
    admissionTtlMs?: number;
  };
  /** called when a listener fails after start (main passes `Lifecycle.fail`) */
  onError?: (err: Error) => void;
}

export interface Tracker {
  /** Listens for HTTP announces on host:port (0 picks a free port); resolves with the bound address. */
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
  /** The one announce handler of every transport: admission, logging, metrics. Never rejects. */
  handleAnnounce(req: AnnounceRequest): Promise<AnnounceVerdict>;
}

/**
 * The tracker: bittorrent-tracker's `Server` (HTTP only for now; UDP BEP 15 and shared Redis
 * swarms come later) whose `filter` hook routes every announce through `handleAnnounce`, so a
 * second transport reuses the same admission, logging and counting.
 */
export function buildTracker(deps: TrackerDeps): Tracker {
  const log = deps.log.child({ component: 'tracker' });
  const admission = new InfoHashAdmission(deps.lookup, deps.config.admissionTtlMs === undefined ? {} : { ttlMs: deps.config.admissionTtlMs });
  const registers = [deps.registry];
  const announces = new Counter({
    name: 'swarmboot_tracker_announces_total',
    help: 'announces received, by transport, event and result (accepted, unknown_infohash, unavailable)',
    labelNames: ['transport', 'event', 'result'] as const,
    registers,
  });
  const malformed = new Counter({
    name: 'swarmboot_tracker_requests_malformed_total',
    help: 'tracker requests that could not be parsed (bad info_hash, peer_id, port, action or event)',
    registers,
  });

  async function handleAnnounce(req: AnnounceRequest): Promise<AnnounceVerdict> {
    const alog = log.child({ infoHash: req.infoHash, peerId: req.peerId });
    let image: string | undefined;
    try {
      image = await admission.admit(req.infoHash);
    } catch (err) {
      announces.inc({ transport: req.transport, event: req.event, result: 'unavailable' });
      alog.warn({ err }, 'announce refused: image catalog unavailable');
      return { ok: false, code: 'TRACKER_UNAVAILABLE', reason: 'tracker unavailable, retry later' };
    }
    if (image === undefined) {
      announces.inc({ transport: req.transport, event: req.event, result: 'unknown_infohash' });
      alog.debug({ event: req.event, addr: req.addr }, 'announce refused: unknown infohash');
      return { ok: false, code: 'TRACKER_UNKNOWN_INFOHASH', reason: 'unknown infohash' };
    }
    announces.inc({ transport: req.transport, event: req.event, result: 'accepted' });
    alog.debug({ event: req.event, addr: req.addr, image }, 'announce');
    return { ok: true, image };
  }

  // The intervals of the library are in ms; BEP 3 `interval` goes out in seconds (it divides).
  const intervalMs = deps.config.intervalSeconds * 1000;
  const server = new Server({
    http: true,
    udp: false,
    ws: false,
    // /stats would be a second, unauthenticated view of the swarms; /metrics on the ops port has the numbers
    stats: false,
    interval: intervalMs,
    // The default keeps 1000 peers per swarm; here a swarm is the whole cluster being installed.
    peersCacheLength: deps.config.peersPerSwarm,
    // A peer silent for three intervals is gone (a node rebooted into its installed OS without a `stopped`).
    peersCacheTtl: 3 * intervalMs,
    filter: (infoHash: string, params: TrackerAnnounceParams, cb: (err?: Error | null) => void) => {
      const req: AnnounceRequest = { transport: params.type, infoHash, peerId: params.peer_id, event: announceEvent(params.event), addr: params.addr };
      void handleAnnounce(req).then((verdict) => cb(verdict.ok ? null : new SwarmbootError(verdict.code, verdict.reason)));
    },
  });

  server.on('warning', (err: unknown) => {
    // refusals were counted and logged by handleAnnounce; everything else is a request we could not parse
    if (isSwarmbootError(err) && err.code.startsWith('TRACKER_')) return;
    malformed.inc();
    log.warn({ reason: err instanceof Error ? err.message : String(err) }, 'malformed tracker request');
  });

  let listening = false;
  server.on('error', (err: Error) => {
    if (!listening) return; // reported by listen()
    log.error({ err }, 'tracker listener failed');
    deps.onError?.(err);
  });

  new Gauge({
    name: 'swarmboot_tracker_peers',
    help: 'peers in the swarms of this tracker, by state (seeding: left=0)',
    labelNames: ['state'] as const,
    registers,
    collect() {
      let seeding = 0;
      let leeching = 0;
      for (const swarm of Object.values(server.torrents)) {
        seeding += swarm.complete;
        leeching += swarm.incomplete;
      }
      this.set({ state: 'seeding' }, seeding);
      this.set({ state: 'leeching' }, leeching);
    },
  });

  return {
    handleAnnounce,
    async listen(host, port) {
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => reject(new SwarmbootError('TRACKER_LISTEN_FAILED', `tracker cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          resolve();
        });
      });
      listening = true;
      const addr = server.http?.address() as AddressInfo;
      log.info({ host: addr.address, port: addr.port }, 'tracker listening (HTTP /announce)');
      return { host: addr.address, port: addr.port };
    },
    async close() {
      listening = false;
      const http = server.http;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // clients keep announce connections alive; without this close() waits for their idle timeout
        http?.closeAllConnections();
      });
    },
  };
}
