import { BootFiles, type BootFileSet } from './domain/boot.js';
import type { Subnet } from './domain/subnets.js';

/** A fixed assignment from the config file: MAC → address (outside the pool) and/or hostname. */
export interface Reservation {
  /** lower-case colon MAC */
  mac: string;
  /** an address inside a subnet but outside its dynamic pool */
  ip?: string;
  /** option 12; wins over the inventory's hostname */
  hostname?: string;
}

/** Bounds of the receive queue (see README "Boot storms"). */
export interface QueueSettings {
  /** datagrams waiting; beyond it new ones are dropped (`queue_full`); default 4096 */
  max?: number;
  /** a request waiting longer is dropped (`stale`): its client has retransmitted by then; default 4000 ms */
  maxAgeMs?: number;
  /** requests handled at once (each waits on one Redis script); default 256 */
  concurrency?: number;
}

/** Settings of the DHCP server (see config.ts for the variables behind them); optional ones have defaults. */
export interface DhcpSettings {
  /**
   * `server` (default): leases addresses. `proxy`: proxyDHCP (PXE spec 2.1 §2.2.1) for sites
   * that keep their own DHCP server: answers PXE clients only, with boot parameters and no address.
   */
  mode?: 'server' | 'proxy';
  /** UDP address to bind */
  listen: { host: string; port: number };
  /** proxyDHCP: the PXE boot server port (4011) bound next to `listen`; 0 disables; default 4011 in proxy mode */
  proxyPort?: number;
  /** option 54 of every reply; replicas sharing one Redis share it too */
  serverId: string;
  /** option 51 (seconds) */
  leaseSeconds: number;
  /** boot script URL for iPXE, `${mac}` replaced by the chaddr */
  bootScriptUrl: string;
  /** boot files per architecture; default {@link BootFiles} */
  bootFiles?: Readonly<BootFileSet>;
  /** port of relays that did not send the RFC 8357 sub-option (RFC 2131 §4.1: 67) */
  relayPort: number;
  subnets: readonly Subnet[];
  /** fixed assignments by MAC */
  reservations?: readonly Reservation[];
  /** port of non-relayed clients (RFC 2131 §4.1: 68); default 68 */
  clientPort?: number;
  /** how long an OFFER reserves its address (seconds); default 60 */
  offerReserveSeconds?: number;
  /**
   * Share of each subnet's pool (0 < x ≤ 1) that offers not yet answered by a REQUEST may hold at
   * once; past it an OFFER reserves nothing (see LeaseStore.offer). Default 0.25.
   */
  offerHoldShare?: number;
  /** how long a DECLINEd address is kept out of the pool (seconds); default 600 */
  declineQuarantineSeconds?: number;
  /** bound on the inventory look-up for option 12 (ms); default 100 */
  lookupTimeoutMs?: number;
  /** bound on one lease store operation (ms); past it the request is dropped; default 2000 */
  storeTimeoutMs?: number;
  queue?: QueueSettings;
  /**
   * SO_REUSEADDR on the sockets, so that a replica bound to a specific address and one bound to
   * 0.0.0.0 share a netns (Linux delivers unicast to the more specific bind). Default false: two
   * servers on the same address and port should fail loudly.
   */
  reuseAddr?: boolean;
}

/** {@link DhcpSettings} with every default applied (see {@link resolveDhcpSettings}). */
export type ResolvedDhcpSettings = Readonly<Required<Omit<DhcpSettings, 'queue'>>> & { readonly queue: Readonly<Required<QueueSettings>> };

/** The defaults {@link resolveDhcpSettings} applies, each with its reason. */
const DEFAULTS = {
  /** RFC 2131 §4.1: clients listen on 68 */
  clientPort: 68,
  /** PXE spec 2.1 §2.2.1: the PXE boot server (proxyDHCP) port, bound in proxy mode */
  proxyPort: 4011,
  /** long enough for a PXE ROM to collect offers and send its REQUEST (it waits ~4 s at most) */
  offerReserveSeconds: 60,
  /**
   * A flood of DISCOVERs from random chaddrs held all 101 addresses of a pool for the 60 s hold
   * (docs/benchmarks.md, "DHCP starvation"); with a quarter held at most, three quarters stay free
   * for clients that REQUEST. A legitimate boot storm is not slowed: its offers past the bound are
   * made all the same, on distinct addresses, and bound by their REQUESTs.
   */
  offerHoldShare: 0.25,
  /** RFC 2131 §4.3.3 leaves it to the server; ISC dhcpd and Kea use about this */
  declineQuarantineSeconds: 600,
  /** DESIGN.md: a server that looks things up slowly before answering overflows its backlog */
  lookupTimeoutMs: 100,
  storeTimeoutMs: 2000,
  queue: {
    max: 4096,
    /** a PXE ROM retransmits after 4 s (PXE spec 2.1 §2.2.1): older work answers nobody */
    maxAgeMs: 4000,
    concurrency: 256,
  },
} as const;

/** Applies the defaults documented on {@link DhcpSettings}; returns a frozen object. */
export function resolveDhcpSettings(s: DhcpSettings): ResolvedDhcpSettings {
  const mode = s.mode ?? 'server';
  return Object.freeze({
    ...s,
    mode,
    proxyPort: s.proxyPort ?? (mode === 'proxy' ? DEFAULTS.proxyPort : 0),
    bootFiles: s.bootFiles ?? BootFiles,
    reservations: s.reservations ?? [],
    clientPort: s.clientPort ?? DEFAULTS.clientPort,
    offerReserveSeconds: s.offerReserveSeconds ?? DEFAULTS.offerReserveSeconds,
    offerHoldShare: s.offerHoldShare ?? DEFAULTS.offerHoldShare,
    declineQuarantineSeconds: s.declineQuarantineSeconds ?? DEFAULTS.declineQuarantineSeconds,
    lookupTimeoutMs: s.lookupTimeoutMs ?? DEFAULTS.lookupTimeoutMs,
    storeTimeoutMs: s.storeTimeoutMs ?? DEFAULTS.storeTimeoutMs,
    queue: Object.freeze({
      max: s.queue?.max ?? DEFAULTS.queue.max,
      maxAgeMs: s.queue?.maxAgeMs ?? DEFAULTS.queue.maxAgeMs,
      concurrency: s.queue?.concurrency ?? DEFAULTS.queue.concurrency,
    }),
    reuseAddr: s.reuseAddr === true,
  });
}
