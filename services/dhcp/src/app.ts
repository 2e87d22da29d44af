import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { Events, type LeaseGranted } from '@swarmboot/contracts';
import type { EventBus, Logger, UdpPeer } from '@swarmboot/kit';
import { InventoryCache } from './adapters/inventory-cache.js';
import { RedisLeaseStore } from './adapters/redis-lease-store.js';
import { UdpTransport } from './adapters/udp-transport.js';
import type { LeaseStore, NodeDirectory } from './domain/leases.js';
import type { Outcome } from './domain/outcome.js';
import { DhcpHandler } from './handler.js';
import { DhcpMetrics } from './metrics.js';
import type { DhcpMessage } from './protocol/codec.js';
import { resolveDhcpSettings, type DhcpSettings } from './settings.js';

export interface DhcpServerDeps {
  log: Logger;
  /** lease events out, node changes in (keeps the default inventory cache fresh); undefined: standalone, no events */
  bus: EventBus | undefined;
  redis: Redis;
  config: DhcpSettings;
  /** registry of `swarmboot_dhcp_*` metrics (one per server instance) */
  registry: Registry;
  /** defaults to {@link RedisLeaseStore} on `redis` */
  leases?: LeaseStore;
  /** defaults to an {@link InventoryCache} on `redis`, started by `listen()` */
  nodes?: NodeDirectory;
  /** a socket error after bind (the listener died): runService's fatal path */
  onFatal?: (err: Error) => void;
}

export interface DhcpServer {
  /** Binds the UDP socket(s); resolves with the address of the main one. */
  listen(): Promise<UdpPeer>;
  /** The proxyDHCP (4011) socket's address, when bound. */
  proxyAddress(): UdpPeer | undefined;
  /** Closes the sockets; in-flight requests finish without sending. */
  close(): Promise<void>;
  /**
   * The core handler, free of transport: one decoded request and its UDP source → a reply and
   * its destination, or a drop with its reason. `port`: which socket it came in on.
   * Throws DHCP_MALFORMED for malformed options.
   */
  handle(req: DhcpMessage, from: UdpPeer, port?: 'main' | 'proxy'): Promise<Outcome>;
}

/**
 * Builds the DHCPv4 server (RFC 2131): the {@link DhcpHandler} behind a {@link UdpTransport}.
 * DISCOVER → OFFER, REQUEST → ACK/NAK, RELEASE, DECLINE, INFORM, relayed or direct; in `proxy`
 * mode, proxyDHCP for PXE clients. Requests pass a bounded queue (duplicates of (chaddr, xid,
 * type) and stale ones dropped). Drops are counted in `swarmboot_dhcp_dropped_total{reason}`,
 * replies in `swarmboot_dhcp_replies_total{type}`. Each ACK sent publishes `Events.leaseGranted`
 * (not awaited).
 */
export function buildDhcpServer(deps: DhcpServerDeps): DhcpServer {
  const settings = resolveDhcpSettings(deps.config);
  const log = deps.log.child({ component: 'dhcp' });
  const ownCache = deps.nodes === undefined ? new InventoryCache(deps.redis, log) : undefined;

  const bus = deps.bus;
  const publishLease = (lease: LeaseGranted): void => {
    if (bus === undefined) return;
    bus.publish(Events.leaseGranted, lease).catch((err: unknown) => {
      log.error({ err, chaddr: lease.chaddr, yiaddr: lease.yiaddr }, 'publishing lease.granted failed');
    });
  };
  // The queue runs the handler, and the handler's lease store operations count against the
  // queue's second gate: the handler reaches the transport's queue through a closure.
  const transport: UdpTransport = new UdpTransport({
    settings,
    log,
    metrics: new DhcpMetrics(deps.registry),
    handle: (req, from, port) => handler.handle(req, from, port),
    onLeaseSent: publishLease,
    ...(deps.onFatal === undefined ? {} : { onFatal: deps.onFatal }),
  });
  const handler = new DhcpHandler({
    settings,
    log,
    leases: deps.leases ?? new RedisLeaseStore(deps.redis),
    nodes: deps.nodes ?? ownCache!,
    ...(ownCache === undefined ? {} : { cache: ownCache }),
    trackStore: (op) => transport.queue.track(op),
  });

  return {
    handle: (req, from, port) => handler.handle(req, from, port),
    async listen() {
      if (ownCache !== undefined) {
        await ownCache.start(bus);
      }
      await transport.listen();
      const addr = transport.address()!;
      log.info({ address: addr.address, port: addr.port, mode: settings.mode, proxyPort: transport.address('proxy')?.port, subnets: settings.subnets.map((n) => n.cidr), inventory: ownCache?.size }, 'DHCP listening');
      return addr;
    },
    proxyAddress: () => transport.address('proxy'),
    async close() {
      ownCache?.stop();
      await transport.close();
    },
  };
}
