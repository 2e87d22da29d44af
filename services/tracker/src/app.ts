import type { Socket } from 'node:dgram';
import type { AddressInfo, Socket as TcpSocket } from 'node:net';
import type { Redis } from 'ioredis';
import { Server, type TrackerAnnounceParams, type TrackerPeer, type TrackerSwarmLike } from 'bittorrent-tracker';
import { Counter, Gauge } from 'prom-client';
import { SwarmbootError, isSwarmbootError } from '@swarmboot/contracts';
import { bindUdp, NodeInventory, type AddressAllowlist, type Logger, type Registry } from '@swarmboot/kit';
import { InfoHashAdmission, type InfoHashLookup } from './domain/admission.js';
import { selectPeers } from './domain/peer-selection.js';
import { RackResolver } from './adapters/rack-resolver.js';
import { RedisPeerStore } from './adapters/redis-swarm.js';

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
  /** where the swarms live (shared by every replica) and where node racks are looked up */
  redis: Redis;
  registry: Registry;
  config: {
    /** re-announce interval told to clients (s) */
    intervalSeconds: number;
    /** how long a registered infohash is trusted without asking Redis again (ms); default 60 s */
    admissionTtlMs?: number;
    /** the provisioning networks served (SWARMBOOT_TRACKER_ALLOWED_SUBNETS); default: anyone */
    allowed?: AddressAllowlist;
  };
  /** the fatal path: a listener failed after start (runService's `onFatal`) */
  onFatal?: (err: Error) => void;
}

export interface Tracker {
  /**
   * Listens for HTTP announces on host:port (0 picks a free port) and, when `udp` is given, for
   * BEP 15 UDP announces; resolves with the bound addresses.
   */
  listen(host: string, port: number, udp?: { host: string; port: number }): Promise<{ host: string; port: number; udpPort?: number }>;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
  /** The one announce handler of every transport: admission, logging, metrics. Never rejects. */
  handleAnnounce(req: AnnounceRequest): Promise<AnnounceVerdict>;
}

/**
 * The tracker: bittorrent-tracker's `Server` parses HTTP (BEP 3) and UDP (BEP 15) requests into
 * the same params and runs them through one path: its `filter` hook → `handleAnnounce`
 * (admission, logging, counting), then our swarm (`getSwarm`/`createSwarm` replaced) which keeps
 * the peers in Redis (RedisPeerStore) and picks the reply's peers rack-first (selectPeers).
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
    filter: (infoHash: string, params: TrackerAnnounceParams, cb: (err?: Error | null) => void) => {
      const req: AnnounceRequest = { transport: params.type, infoHash, peerId: params.peer_id, event: announceEvent(params.event), addr: params.addr };
      void handleAnnounce(req).then((verdict) => cb(verdict.ok ? null : new SwarmbootError(verdict.code, verdict.reason)));
    },
  });

  // Outside the provisioning networks: HTTP connections are closed as they open (no announce, no
  // scrape), UDP datagrams dropped unanswered, as a firewall would; counted, logged at debug.
  const allowed = deps.config.allowed;
  const refused = new Counter({
    name: 'swarmboot_tracker_refused_total',
    help: 'HTTP connections and UDP datagrams from addresses outside SWARMBOOT_TRACKER_ALLOWED_SUBNETS, dropped',
    labelNames: ['transport'] as const,
    registers,
  });
  const admits = (address: string | undefined, transport: 'http' | 'udp'): boolean => {
    if (allowed === undefined || allowed.any || (address !== undefined && allowed.allows(address))) return true;
    refused.inc({ transport });
    log.debug({ address, transport }, 'request from outside the allowed subnets dropped');
    return false;
  };
  server.http?.on('connection', (sock: TcpSocket) => {
    if (!admits(sock.remoteAddress, 'http')) sock.destroy();
  });

  // A peer silent for three intervals is gone (a node rebooted into its installed OS without a `stopped`).
  const store = new RedisPeerStore(deps.redis, 3 * intervalMs);
  const racks = new RackResolver(new NodeInventory(deps.redis));
  /** last seen counts per swarm, for the gauge (the truth is in Redis) */
  const counts = new Map<string, { complete: number; incomplete: number }>();
  const swarms = new Map<string, TrackerSwarmLike>();
  const swarmOf = (infoHash: string): TrackerSwarmLike => {
    let swarm = swarms.get(infoHash);
    if (!swarm) {
      swarm = {
        get complete() {
          return counts.get(infoHash)?.complete ?? 0;
        },
        get incomplete() {
          return counts.get(infoHash)?.incomplete ?? 0;
        },
        announce: (params, cb) => {
          announceToStore(infoHash, params).then(
            (res) => cb(null, res),
            (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))),
          );
        },
        scrape: (_params, cb) => {
          store.counts(infoHash).then(
            (c) => cb(null, c),
            (err: unknown) => cb(unavailable(err)),
          );
        },
      };
      // Kept only for swarms an announce was admitted to (counts are set then): scrapes (BEP 48)
      // do not pass the infohash admission, and caching theirs let any stream of made-up
      // infohashes grow this map without bound (found by the tracker fuzz suite).
      if (counts.has(infoHash)) swarms.set(infoHash, swarm);
    }
    return swarm;
  };
  const unavailable = (err: unknown): SwarmbootError =>
    new SwarmbootError('TRACKER_UNAVAILABLE', 'tracker unavailable, retry later', { cause: err });

  async function announceToStore(infoHash: string, params: TrackerAnnounceParams): Promise<{ complete: number; incomplete: number; peers: TrackerPeer[] }> {
    const event = params.event ?? 'update';
    if (!EVENTS.has(event) && event !== 'update') throw new Error('invalid event');
    let res;
    try {
      res = await store.announce(infoHash, { addr: params.addr, peerId: params.peer_id, left: params.left }, event === 'stopped');
    } catch (err) {
      log.warn({ err, infoHash }, 'announce failed: Redis unavailable');
      throw unavailable(err);
    }
    counts.set(infoHash, { complete: res.complete, incomplete: res.incomplete });
    if (event === 'stopped' || params.numwant <= 0) return { complete: res.complete, incomplete: res.incomplete, peers: [] };
    try {
      await racks.resolve([params.ip, ...res.others.map((a) => a.slice(0, a.lastIndexOf(':')))]);
    } catch (err) {
      // locality is an optimisation: without the inventory the reply is by /24
      log.debug({ err }, 'rack lookup failed');
    }
    const chosen = selectPeers({ ip: params.ip, rack: racks.cached(params.ip), candidates: res.others, rackOf: (ip) => racks.cached(ip), numwant: params.numwant });
    const ids = params.compact === 0 ? await store.peerIds(infoHash, chosen) : [];
    const peers = chosen.map((addr, i) => {
      const at = addr.lastIndexOf(':');
      return { ip: addr.slice(0, at), port: Number(addr.slice(at + 1)), peerId: ids[i] ?? '' };
    });
    return { complete: res.complete, incomplete: res.incomplete, peers };
  }

  // Replace the library's in-memory swarms (its documented extension point, lib/server/swarm.js).
  server.getSwarm = (infoHash, cb) => process.nextTick(() => cb(null, swarmOf(typeof infoHash === 'string' ? infoHash : Buffer.from(infoHash).toString('hex'))));
  server.createSwarm = server.getSwarm;
  server.torrents = {};

  server.on('warning', (err: unknown) => {
    // refusals were counted and logged by handleAnnounce; everything else is a request we could not parse
    if (isSwarmbootError(err) && err.code.startsWith('TRACKER_')) return;
    malformed.inc();
    log.warn({ reason: err instanceof Error ? err.message : String(err) }, 'malformed tracker request');
  });

  let listening = false;
  let udp: Socket | undefined;
  server.on('error', (err: Error) => {
    if (!listening) return; // reported by listen()
    log.error({ err }, 'tracker listener failed');
    deps.onFatal?.(err);
  });

  new Gauge({
    name: 'swarmboot_tracker_peers',
    help: 'peers in the swarms of this tracker, by state (seeding: left=0)',
    labelNames: ['state'] as const,
    registers,
    collect() {
      let seeding = 0;
      let leeching = 0;
      for (const c of counts.values()) {
        seeding += c.complete;
        leeching += c.incomplete;
      }
      this.set({ state: 'seeding' }, seeding);
      this.set({ state: 'leeching' }, leeching);
    },
  });

  return {
    handleAnnounce,
    async listen(host, port, udpAt) {
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => reject(new SwarmbootError('TRACKER_LISTEN_FAILED', `tracker cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          resolve();
        });
      });
      const addr = server.http?.address() as AddressInfo;
      log.info({ host: addr.address, port: addr.port }, 'tracker listening (HTTP /announce)');
      if (!udpAt) {
        listening = true;
        return { host: addr.address, port: addr.port };
      }
      // Our own IPv4 socket instead of the library's udp4+udp6 pair (which binds both to one
      // hostname and sets reuseAddr, so two replicas on one port would split the announces
      // silently); its datagrams go to the library's BEP 15 parser and the same _onRequest path.
      const sock = await bindUdp({ host: udpAt.host, port: udpAt.port, family: 'udp4' }).catch(async (err: unknown) => {
        await closeServer();
        throw new SwarmbootError('TRACKER_LISTEN_FAILED', `tracker cannot listen on udp ${udpAt.host}:${udpAt.port}: ${(err as Error).message}`, { cause: err });
      });
      sock.on('error', (err) => {
        log.error({ err }, 'UDP tracker socket failed');
        deps.onFatal?.(err);
      });
      sock.on('message', (msg, rinfo) => {
        if (admits(rinfo.address, 'udp')) server.onUdpRequest(withoutAnnouncedIp(msg), rinfo);
      });
      server.udp4 = sock;
      udp = sock;
      listening = true;
      const uaddr = sock.address();
      log.info({ host: uaddr.address, port: uaddr.port }, 'tracker listening (UDP, BEP 15)');
      return { host: addr.address, port: addr.port, udpPort: uaddr.port };
    },
    async close() {
      listening = false;
      await closeServer();
    },
  };

  /**
   * BEP 15 announce (action 1) with its optional IP field (offset 84) zeroed, so the peer is the
   * datagram's source address. bittorrent-tracker 11 turns a nonzero field into an empty address
   * (ip@2's toString wants a Buffer, gets a number), which put `:port` members into the swarm
   * (found by fuzzing); and a field taken as sent would let a peer announce another host.
   */
  function withoutAnnouncedIp(msg: Buffer): Buffer {
    if (msg.length < 88 || msg.readUInt32BE(8) !== 1 || msg.readUInt32BE(84) === 0) return msg;
    const copy = Buffer.from(msg);
    copy.writeUInt32BE(0, 84);
    return copy;
  }

  async function closeServer(): Promise<void> {
      if (udp) {
        const u = udp;
        udp = undefined;
        server.udp4 = null;
        await new Promise<void>((resolve) => u.close(() => resolve()));
      }
      const http = server.http;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // clients keep announce connections alive; without this close() waits for their idle timeout
        http?.closeAllConnections();
      });
  }
}
