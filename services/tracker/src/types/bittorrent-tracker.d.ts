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
    listening: boolean;
    listen(port: number, hostname?: string, onListening?: () => void): void;
    close(cb?: (err?: Error | null) => void): void;
  }

  export default Server;
}
