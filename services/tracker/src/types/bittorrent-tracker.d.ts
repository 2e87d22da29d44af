/**
 * The part of bittorrent-tracker@11's server we use (the package ships no types).
 * Source: node_modules/bittorrent-tracker/server.js, lib/server/parse-http.js, lib/server/swarm.js.
 */
declare module 'bittorrent-tracker' {
  import { EventEmitter } from 'node:events';
  import type { Server as HttpServer } from 'node:http';

  /** Parsed announce parameters (parse-http.js / parse-udp.js): hex ids, numbers converted. */
  export interface TrackerAnnounceParams {
    type: 'http' | 'udp' | 'ws';
    action: number;
    /** 40 hex digits */
    info_hash: string;
    /** 40 hex digits */
    peer_id: string;
    ip: string;
    port: number;
    addr: string;
    left: number;
    numwant: number;
    compact: number;
    event?: string;
  }

  export interface TrackerSwarm {
    complete: number;
    incomplete: number;
  }

  /** A peer as a swarm returns it; the server encodes it (compact BEP 23 or a dict with `peer id`). */
  export interface TrackerPeer {
    ip: string;
    port: number;
    /** 40 hex digits */
    peerId: string;
  }

  /** The interface of lib/server/swarm.js the server calls ("override createSwarm()/getSwarm()"). */
  export interface TrackerSwarmLike extends TrackerSwarm {
    announce(params: TrackerAnnounceParams, cb: (err: Error | null, res?: { complete: number; incomplete: number; peers: TrackerPeer[] }) => void): void;
    scrape(params: unknown, cb: (err: Error | null, res?: { complete: number; incomplete: number }) => void): void;
  }

  export interface TrackerServerOptions {
    /** re-announce interval told to clients (ms) */
    interval?: number;
    trustProxy?: boolean;
    http?: boolean;
    udp?: boolean;
    ws?: boolean;
    stats?: boolean;
    /** most peers kept per swarm (default 1000) */
    peersCacheLength?: number;
    /** ms a silent peer stays in a swarm (default 20 min) */
    peersCacheTtl?: number;
    /** calling `cb(err)` refuses the announce; `err.message` becomes the failure reason */
    filter?: (infoHash: string, params: TrackerAnnounceParams, cb: (err?: Error | null) => void) => void;
  }

  export class Server extends EventEmitter {
    constructor(opts?: TrackerServerOptions);
    http: HttpServer | null;
    torrents: Record<string, TrackerSwarm>;
    udp4: import('node:dgram').Socket | null;
    getSwarm(infoHash: string | Uint8Array, cb: (err: Error | null, swarm?: TrackerSwarmLike) => void): void;
    createSwarm(infoHash: string | Uint8Array, cb: (err: Error | null, swarm?: TrackerSwarmLike) => void): void;
    /** parses a BEP 15 datagram and answers it through `udp4` */
    onUdpRequest(msg: Buffer, rinfo: import('node:dgram').RemoteInfo): void;
    listening: boolean;
    listen(port: number, hostname?: string, onListening?: () => void): void;
    close(cb?: (err?: Error | null) => void): void;
  }

  export default Server;
}
