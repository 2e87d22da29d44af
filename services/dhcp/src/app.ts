import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import { Events, SwarmbootError, isSwarmbootError, type LeaseGranted } from '@swarmboot/contracts';
import { ipToInt, type EventBus, type Logger } from '@swarmboot/kit';
import { InventoryCache } from './adapters/inventory-cache.js';
import { RedisLeaseStore } from './adapters/redis-lease-store.js';
import { chooseBootFile, clientKind, type BootFileSet, type ClientKind } from './domain/boot.js';
import { replyDestination, type Peer } from './domain/destination.js';
import type { LeaseStore, NodeDirectory, NodeInfo } from './domain/leases.js';
import { buildGrant, buildNak, classifyRequest } from './domain/reply.js';
import { subnetContains, subnetFor, type Subnet } from './domain/subnets.js';
import { DHCP_MALFORMED, decodeDhcp, encodeDhcp, type DhcpMessage } from './protocol/codec.js';
import { BootOp, DhcpOption, HTYPE_ETHERNET, MessageType, messageTypeName } from './protocol/constants.js';
import { formatMac, getClientArch, getClientId, getMessageType, getRequestedIp, getUserClasses, getVendorClass, hasRelaySourcePort } from './protocol/options.js';

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

/** Resolved settings of the DHCP server (see config.ts for the variables behind them). */
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

export interface DhcpServerDeps {
  log: Logger;
  /** `subscribe` (optional) keeps the default inventory cache fresh */
  bus: Pick<EventBus, 'publish'> & Partial<Pick<EventBus, 'subscribe'>>;
  redis: Redis;
  config: DhcpSettings;
  /** registry of `swarmboot_dhcp_*` metrics (one per server instance) */
  registry: Registry;
  /** defaults to {@link RedisLeaseStore} on `redis` */
  leases?: LeaseStore;
  /** defaults to an {@link InventoryCache} on `redis`, started by `listen()` */
  nodes?: NodeDirectory;
  /** a socket error after bind (the listener died); main.ts takes the process down */
  onSocketError?: (err: Error) => void;
}

/** Why a request got no reply; the `reason` label of `swarmboot_dhcp_dropped_total`. */
export type DropReason =
  | 'malformed'
  | 'not_request'
  | 'no_message_type'
  | 'unsupported_htype'
  | 'unsupported_type'
  | 'invalid_request'
  | 'no_subnet'
  | 'unroutable'
  | 'pool_exhausted'
  | 'other_server'
  | 'unknown_client'
  | 'store_error'
  /** receive queue: full, a retransmission of a request still queued or in work, waited too long */
  | 'queue_full'
  | 'duplicate'
  | 'stale'
  /** proxy mode: not a PXE client, or a message the proxy leaves to the site's DHCP server */
  | 'not_pxe'
  | 'proxy_ignored'
  /** a bug: the handler threw something other than DHCP_MALFORMED */
  | 'internal';

/** What the core handler decided for one request. */
export type Outcome =
  | { kind: 'reply'; type: number; message: DhcpMessage; to: Peer; lease?: LeaseGranted }
  | { kind: 'done'; change: 'released' | 'declined' | 'ignored' }
  | { kind: 'drop'; reason: DropReason; level: 'debug' | 'warn'; detail: string };

export interface DhcpServer {
  /** Binds the UDP socket(s); resolves with the address of the main one. */
  listen(): Promise<Peer>;
  /** The proxyDHCP (4011) socket's address, when bound. */
  proxyAddress(): Peer | undefined;
  /** Closes the sockets; in-flight requests finish without sending. */
  close(): Promise<void>;
  /**
   * The core handler, free of transport: one decoded request and its UDP source → a reply and
   * its destination, or a drop with its reason. `port`: which socket it came in on.
   * Throws DHCP_MALFORMED for malformed options.
   */
  handle(req: DhcpMessage, from: Peer, port?: 'main' | 'proxy'): Promise<Outcome>;
}

const DEFAULT_CLIENT_PORT = 68;
const DEFAULT_PROXY_PORT = 4011;
/** long enough for a PXE ROM to collect offers and send its REQUEST (it waits ~4 s at most) */
const DEFAULT_OFFER_RESERVE_SECONDS = 60;
/** RFC 2131 §4.3.3 leaves it to the server; ISC dhcpd and Kea use about this */
const DEFAULT_DECLINE_QUARANTINE_SECONDS = 600;
/** DESIGN.md: a server that looks things up slowly before answering overflows its backlog */
const DEFAULT_LOOKUP_TIMEOUT_MS = 100;
const DEFAULT_STORE_TIMEOUT_MS = 2000;
const DEFAULT_QUEUE_MAX = 4096;
/** a PXE ROM retransmits after 4 s (PXE spec 2.1 §2.2.1): older work answers nobody */
const DEFAULT_QUEUE_MAX_AGE_MS = 4000;
const DEFAULT_CONCURRENCY = 256;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SwarmbootError('TIMEOUT', `${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The typed fields of a request, read once up front so malformed options fail before any work. */
interface ClientRequest {
  type: number;
  mac: string;
  /** the lease key: chaddr for boot clients, else option 61 as `id:<hex>` when sent (RFC 6842) */
  key: string;
  kind: ClientKind;
  arch?: number;
  userClasses?: string[];
  vendorClass?: string;
  requestedIp?: string;
  relaySourcePort: boolean;
}

/** One received datagram waiting in the queue. */
interface Job {
  req: DhcpMessage;
  from: Peer;
  port: 'main' | 'proxy';
  at: number;
  key: string;
}

/**
 * Builds the DHCPv4 server (RFC 2131): DISCOVER → OFFER, REQUEST → ACK/NAK, RELEASE, DECLINE,
 * INFORM, relayed (giaddr ≠ 0; pool of the subnet containing giaddr) or direct (the subnet of
 * the bound address, or the only subnet). In `proxy` mode, proxyDHCP for PXE clients. Requests
 * pass a bounded queue (duplicates of (chaddr, xid, type) and stale ones dropped). Drops are
 * counted in `swarmboot_dhcp_dropped_total{reason}`, replies in `swarmboot_dhcp_replies_total{type}`.
 * Each ACK publishes `Events.leaseGranted` (not awaited).
 */
export function buildDhcpServer(deps: DhcpServerDeps): DhcpServer {
  const cfg = deps.config;
  const mode = cfg.mode ?? 'server';
  const log = deps.log.child({ component: 'dhcp' });
  const leases = deps.leases ?? new RedisLeaseStore(deps.redis);
  const ownCache = deps.nodes === undefined ? new InventoryCache(deps.redis, log) : undefined;
  const nodes: NodeDirectory = deps.nodes ?? ownCache!;
  const policy = { relayPort: cfg.relayPort, clientPort: cfg.clientPort ?? DEFAULT_CLIENT_PORT };
  const reserveSeconds = cfg.offerReserveSeconds ?? DEFAULT_OFFER_RESERVE_SECONDS;
  const quarantineSeconds = cfg.declineQuarantineSeconds ?? DEFAULT_DECLINE_QUARANTINE_SECONDS;
  const lookupTimeoutMs = cfg.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS;
  const storeTimeoutMs = cfg.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
  const queueMax = cfg.queue?.max ?? DEFAULT_QUEUE_MAX;
  const queueMaxAgeMs = cfg.queue?.maxAgeMs ?? DEFAULT_QUEUE_MAX_AGE_MS;
  const concurrency = cfg.queue?.concurrency ?? DEFAULT_CONCURRENCY;
  const proxyPort = cfg.proxyPort ?? (mode === 'proxy' ? DEFAULT_PROXY_PORT : 0);
  const reservations = new Map((cfg.reservations ?? []).map((r) => [r.mac, r]));

  const dropped = new Counter({ name: 'swarmboot_dhcp_dropped_total', help: 'DHCP requests answered with silence, by reason', labelNames: ['reason'], registers: [deps.registry] });
  const replies = new Counter({ name: 'swarmboot_dhcp_replies_total', help: 'DHCP replies sent, by message type', labelNames: ['type'], registers: [deps.registry] });
  const changes = new Counter({ name: 'swarmboot_dhcp_lease_changes_total', help: 'RELEASE and DECLINE handled, by change', labelNames: ['change'], registers: [deps.registry] });
  const queueDepth = new Gauge({ name: 'swarmboot_dhcp_queue_depth', help: 'DHCP requests waiting in the receive queue', registers: [deps.registry] });

  // labelled children bound once: label lookup per increment shows in a storm's profile
  const replyCounters = new Map<number, ReturnType<typeof replies.labels>>();
  const replyCounter = (type: number) => replyCounters.get(type) ?? replyCounters.set(type, replies.labels(messageTypeName(type))).get(type)!;
  const dropCounters = new Map<DropReason, ReturnType<typeof dropped.labels>>();
  const dropCounter = (reason: DropReason) => dropCounters.get(reason) ?? dropCounters.set(reason, dropped.labels(reason)).get(reason)!;

  let socket: Socket | undefined;
  let proxySocket: Socket | undefined;

  const drop = (reason: DropReason, level: 'debug' | 'warn', detail: string): Outcome => ({ kind: 'drop', reason, level, detail });

  /*
   * Lease store operations still running in Redis, counted until they settle — not until their
   * request gave up on them. Bounding these (not just the requests) keeps an overloaded server
   * from piling timed-out scripts onto Redis until every request times out.
   */
  let storeInflight = 0;
  function storeOp<T>(p: Promise<T>, what: string): Promise<T> {
    storeInflight++;
    const settled = p.finally(() => {
      storeInflight--;
      pump();
    });
    settled.catch(() => undefined);
    return withTimeout(settled, storeTimeoutMs, what);
  }

  function readRequest(req: DhcpMessage, type: number): ClientRequest {
    const mac = formatMac(req.chaddr);
    const r: ClientRequest = { type, mac, key: mac, kind: 'other', relaySourcePort: hasRelaySourcePort(req) };
    const arch = getClientArch(req);
    if (arch !== undefined) r.arch = arch;
    const userClasses = getUserClasses(req);
    if (userClasses !== undefined) r.userClasses = userClasses;
    const vendorClass = getVendorClass(req);
    if (vendorClass !== undefined) r.vendorClass = vendorClass;
    const requestedIp = getRequestedIp(req);
    if (requestedIp !== undefined) r.requestedIp = requestedIp;
    r.kind = clientKind(r);
    // RFC 6842 / RFC 2132 §9.14: option 61 identifies the client when sent. Boot clients are the
    // exception: the PXE ROM sends 61 = 0x00+UUID or none, iPXE sends 0x01+MAC, the installed OS
    // something else again — keyed by option 61 one machine would hold two or three addresses
    // through one install; keyed by chaddr it holds one.
    const clientId = getClientId(req);
    if (clientId !== undefined && r.kind === 'other' && r.arch === undefined) r.key = `id:${clientId.toString('hex')}`;
    return r;
  }

  /** Direct (not relayed) clients: the subnet of ciaddr, of the bound address, or the only subnet. */
  function directSubnet(req: DhcpMessage): Subnet | undefined {
    if (req.ciaddr !== '0.0.0.0') return subnetFor(cfg.subnets, req.ciaddr);
    if (cfg.listen.host !== '0.0.0.0') return subnetFor(cfg.subnets, cfg.listen.host);
    // Bound to 0.0.0.0 the server cannot tell the arrival interface (node's dgram does not report
    // it): with one subnet configured it is that one (one broadcast segment per server, see
    // README); with several, guessing would hand out addresses of the wrong network.
    return cfg.subnets.length === 1 ? cfg.subnets[0] : undefined;
  }

  /** The subnet as the lease store sees it: a reserved address is a pool of one. */
  function leaseSubnet(c: ClientRequest, subnet: Subnet): Subnet {
    const ip = reservations.get(c.mac)?.ip;
    if (ip === undefined) return subnet;
    const n = ipToInt(ip);
    return subnetContains(subnet, n) ? { ...subnet, poolStart: n, poolEnd: n } : subnet;
  }

  /**
   * Node info for option 12 and the event: a reservation's hostname, else the in-memory
   * inventory; on a miss a Redis look-up runs beside the lease write and the reply waits for
   * it at most `lookupTimeoutMs` (default 100 ms) — a slow inventory costs the hostname, never
   * the lease. Unknown MACs are then remembered as misses (InventoryCache, 10 s).
   */
  async function withNode<T>(mac: string, write: Promise<T>, rlog: () => Logger): Promise<[T, NodeInfo | undefined]> {
    const reserved = reservations.get(mac)?.hostname;
    const cached = ownCache?.peek(mac);
    if (cached !== undefined) {
      const v = await write;
      return [v, reserved === undefined ? cached : { ...cached, hostname: reserved }];
    }
    const lookup = withTimeout(nodes.lookupByMac(mac), lookupTimeoutMs, 'inventory look-up').catch((err: unknown) => {
      rlog().debug({ err }, 'inventory look-up failed; replying without hostname');
      return undefined;
    });
    const [v, found] = await Promise.all([write, lookup]);
    const node: NodeInfo | undefined = found ?? (reserved === undefined ? undefined : { nodeId: '', hostname: reserved });
    return [v, reserved === undefined || node === undefined ? node : { ...node, hostname: reserved }];
  }

  function bootFileFor(c: ClientRequest): string | undefined {
    return chooseBootFile(
      {
        mac: c.mac,
        ...(c.arch === undefined ? {} : { arch: c.arch }),
        ...(c.userClasses === undefined ? {} : { userClasses: c.userClasses }),
        ...(c.vendorClass === undefined ? {} : { vendorClass: c.vendorClass }),
      },
      { bootScriptUrl: cfg.bootScriptUrl, ...(cfg.bootFiles === undefined ? {} : { files: cfg.bootFiles }) },
    );
  }

  /** UEFI HTTP boot clients only accept an offer that names them (UEFI 2.x §24.7.2). */
  const echoVendor = (c: ClientRequest) => (c.kind === 'http' ? { vendorClass: 'HTTPClient' } : {});

  async function discover(req: DhcpMessage, c: ClientRequest, subnet: Subnet, from: Peer, rlog: () => Logger): Promise<Outcome> {
    const dest = replyDestination(req, MessageType.offer, from, c.relaySourcePort, policy);
    if ('unroutable' in dest) return drop('unroutable', 'debug', dest.unroutable);
    const offering = storeOp(leases.offer({ chaddr: c.key, subnet: leaseSubnet(c, subnet), ...(c.requestedIp === undefined ? {} : { requestedIp: c.requestedIp }), reserveSeconds }), 'lease offer');
    const [ip, node] = await withNode(c.mac, offering, rlog);
    if (ip === undefined) return drop('pool_exhausted', 'warn', `no free address in ${subnet.cidr}`);
    const bootFile = bootFileFor(c);
    const message = buildGrant(req, {
      type: MessageType.offer,
      serverId: cfg.serverId,
      yiaddr: ip,
      subnet,
      leaseSeconds: cfg.leaseSeconds,
      ...echoVendor(c),
      ...(bootFile === undefined ? {} : { bootFile }),
      ...(node?.hostname === undefined ? {} : { hostname: node.hostname }),
    });
    return { kind: 'reply', type: MessageType.offer, message, to: dest.to };
  }

  async function request(req: DhcpMessage, c: ClientRequest, subnet: Subnet, from: Peer, rlog: () => Logger): Promise<Outcome> {
    const intent = classifyRequest(req);
    if (intent === undefined) return drop('invalid_request', 'warn', 'DHCPREQUEST fits none of SELECTING, INIT-REBOOT, RENEWING/REBINDING (RFC 2131 §4.3.2)');
    if (intent.state === 'selecting' && intent.serverId !== cfg.serverId) {
      // The client took another server's offer: free ours (RFC 2131 §4.3.2).
      await storeOp(leases.releaseOffer({ chaddr: c.key, ip: intent.ip }), 'lease release');
      return drop('other_server', 'debug', `client selected server ${intent.serverId}`);
    }
    const nak = (why: string): Outcome => {
      const dest = replyDestination(req, MessageType.nak, from, c.relaySourcePort, policy);
      if ('unroutable' in dest) return drop('unroutable', 'debug', dest.unroutable);
      rlog().info({ ip: intent.ip, why }, 'NAK');
      return { kind: 'reply', type: MessageType.nak, message: buildNak(req, cfg.serverId, why), to: dest.to };
    };
    let ipInt: number;
    try {
      ipInt = ipToInt(intent.ip);
    } catch {
      return nak('requested address is not an IPv4 address');
    }
    // RFC 2131 §4.3.2: an address on the wrong network gets a NAK.
    if (!subnetContains(subnet, ipInt)) return nak(`address ${intent.ip} is not on network ${subnet.cidr}`);
    const dest = replyDestination(req, MessageType.ack, from, c.relaySourcePort, policy);
    if ('unroutable' in dest) return drop('unroutable', 'debug', dest.unroutable);

    const committing = storeOp(leases.commit({ chaddr: c.key, ip: intent.ip, subnet: leaseSubnet(c, subnet), leaseSeconds: cfg.leaseSeconds }), 'lease commit');
    const [result, node] = await withNode(c.mac, committing, rlog);
    switch (result) {
      case 'taken':
        return nak(`address ${intent.ip} is leased to another client`);
      case 'out_of_pool':
        return nak(`address ${intent.ip} is not in the pool of ${subnet.cidr}`);
      case 'mismatch':
        return nak(`address ${intent.ip} is not the one leased to this client`);
      case 'unknown':
        // SELECTING our offer with nothing on record (the record is gone): a NAK restarts the client at once.
        if (intent.state === 'selecting') return nak(`no offer of ${intent.ip} on record`);
        // INIT-REBOOT/RENEWING from a client we have no record of: "MUST remain silent" (RFC 2131 §4.3.2)
        return drop('unknown_client', 'debug', `no lease record for ${c.key}; staying silent`);
      case 'bound':
        break;
    }
    const bootFile = bootFileFor(c);
    const message = buildGrant(req, {
      type: MessageType.ack,
      serverId: cfg.serverId,
      yiaddr: intent.ip,
      subnet,
      leaseSeconds: cfg.leaseSeconds,
      ...echoVendor(c),
      ...(bootFile === undefined ? {} : { bootFile }),
      ...(node?.hostname === undefined ? {} : { hostname: node.hostname }),
    });
    const lease: LeaseGranted = {
      chaddr: c.mac,
      yiaddr: intent.ip,
      giaddr: req.giaddr,
      xid: req.xid,
      leaseSeconds: cfg.leaseSeconds,
      ...(node?.hostname === undefined ? {} : { hostname: node.hostname }),
      ...(node === undefined || node.nodeId === '' ? {} : { nodeId: node.nodeId }),
      ...(c.arch === undefined ? {} : { arch: c.arch }),
      ...(c.userClasses === undefined ? {} : { userClass: c.userClasses.join(',') }),
      ...(bootFile === undefined ? {} : { bootFile }),
    };
    return { kind: 'reply', type: MessageType.ack, message, to: dest.to, lease };
  }

  /** DHCPRELEASE (RFC 2131 §4.3.4): ciaddr is freed; no reply. */
  async function release(req: DhcpMessage, c: ClientRequest, rlog: () => Logger): Promise<Outcome> {
    if (req.ciaddr === '0.0.0.0') return drop('invalid_request', 'debug', 'DHCPRELEASE without ciaddr');
    const freed = await storeOp(leases.release({ chaddr: c.key, ip: req.ciaddr }), 'lease release');
    rlog().info({ ip: req.ciaddr, freed }, 'RELEASE');
    return { kind: 'done', change: freed ? 'released' : 'ignored' };
  }

  /** DHCPDECLINE (RFC 2131 §4.3.3): option 50 is in use by someone else; quarantined; no reply. */
  async function decline(c: ClientRequest, rlog: () => Logger): Promise<Outcome> {
    if (c.requestedIp === undefined) return drop('invalid_request', 'debug', 'DHCPDECLINE without option 50');
    const done = await storeOp(leases.decline({ chaddr: c.key, ip: c.requestedIp, quarantineSeconds }), 'lease decline');
    rlog().warn({ ip: c.requestedIp, quarantineSeconds, done }, 'DECLINE: address in use on the network');
    return { kind: 'done', change: done ? 'declined' : 'ignored' };
  }

  /** DHCPINFORM (RFC 2131 §4.3.5): an ACK with local configuration, no lease, yiaddr 0, to ciaddr. */
  function inform(req: DhcpMessage, c: ClientRequest, subnet: Subnet, from: Peer): Outcome {
    if (req.ciaddr === '0.0.0.0' && req.giaddr === '0.0.0.0') return drop('invalid_request', 'debug', 'DHCPINFORM without ciaddr');
    const dest = replyDestination(req, MessageType.ack, from, c.relaySourcePort, policy);
    if ('unroutable' in dest) return drop('unroutable', 'debug', dest.unroutable);
    const bootFile = bootFileFor(c);
    const message = buildGrant(req, { type: MessageType.ack, serverId: cfg.serverId, yiaddr: '0.0.0.0', subnet, ...echoVendor(c), ...(bootFile === undefined ? {} : { bootFile }) });
    return { kind: 'reply', type: MessageType.ack, message, to: dest.to };
  }

  /**
   * proxyDHCP (PXE spec 2.1 §2.2.1, §2.2.2): a DISCOVER on 67 from a PXE client gets an OFFER
   * without an address (yiaddr 0) naming the boot file, next server, option 60 "PXEClient" and
   * option 43 discovery control 8; a REQUEST (or DISCOVER) on the proxy port gets the same as
   * an ACK, unicast back to where it came from. The site's DHCP server does everything else.
   */
  function proxy(req: DhcpMessage, c: ClientRequest, from: Peer, port: 'main' | 'proxy'): Outcome {
    if (c.kind !== 'pxe' && c.kind !== 'ipxe') return drop('not_pxe', 'debug', `vendor class ${c.vendorClass ?? '(none)'} is not PXEClient`);
    const subnet = (req.giaddr !== '0.0.0.0' ? subnetFor(cfg.subnets, req.giaddr) : directSubnet(req)) ?? cfg.subnets[0];
    if (subnet === undefined) return drop('no_subnet', 'warn', 'no subnet configured');
    const bootFile = bootFileFor(c);
    let type: typeof MessageType.offer | typeof MessageType.ack;
    let to: Peer;
    if (port === 'proxy' && (c.type === MessageType.request || c.type === MessageType.discover || c.type === MessageType.inform)) {
      type = MessageType.ack;
      to = from;
    } else if (port === 'main' && c.type === MessageType.discover) {
      type = MessageType.offer;
      const dest = replyDestination(req, type, from, c.relaySourcePort, policy);
      if ('unroutable' in dest) return drop('unroutable', 'debug', dest.unroutable);
      to = dest.to;
    } else {
      return drop('proxy_ignored', 'debug', `${messageTypeName(c.type)} on the ${port} port is for the site's DHCP server`);
    }
    const message = buildGrant(req, {
      type,
      serverId: cfg.serverId,
      yiaddr: '0.0.0.0',
      subnet,
      bootOnly: true,
      vendorClass: 'PXEClient',
      pxeDiscoveryControl: true,
      ...(bootFile === undefined ? {} : { bootFile }),
    });
    if (type === MessageType.ack) message.ciaddr = req.ciaddr;
    return { kind: 'reply', type, message, to };
  }

  async function handle(req: DhcpMessage, from: Peer, port: 'main' | 'proxy' = 'main'): Promise<Outcome> {
    if (req.op !== BootOp.request) return drop('not_request', 'debug', `op ${req.op} is not BOOTREQUEST`);
    const type = getMessageType(req);
    if (type === undefined) return drop('no_message_type', 'debug', 'BOOTP request without option 53 (BOOTP is not served)');
    // Keys and the event use the Ethernet MAC; other hardware types come with a later issue.
    if (req.htype !== HTYPE_ETHERNET || req.hlen !== 6) return drop('unsupported_htype', 'debug', `htype ${req.htype} hlen ${req.hlen}`);
    const c = readRequest(req, type);
    // a child logger per request costs more than the rest of a DISCOVER: made on first use only
    let child: Logger | undefined;
    const rlog = () => (child ??= log.child({ chaddr: c.mac, xid: req.xid.toString(16).padStart(8, '0'), type: messageTypeName(type) }));
    if (mode === 'proxy') return proxy(req, c, from, port);
    if (type === MessageType.release || type === MessageType.decline) {
      try {
        return type === MessageType.release ? await release(req, c, rlog) : await decline(c, rlog);
      } catch (err) {
        rlog().error({ err }, 'lease store failed');
        return drop('store_error', 'warn', 'lease store failed');
      }
    }
    if (type !== MessageType.discover && type !== MessageType.request && type !== MessageType.inform) return drop('unsupported_type', 'debug', `${messageTypeName(type)} is not a client message`);
    const relayed = req.giaddr !== '0.0.0.0';
    const subnet = relayed ? subnetFor(cfg.subnets, req.giaddr) : directSubnet(req);
    if (subnet === undefined) return drop('no_subnet', relayed ? 'warn' : 'debug', relayed ? `no subnet contains giaddr ${req.giaddr}` : 'direct request and no subnet for it');
    if (type === MessageType.inform) return inform(req, c, subnet, from);
    try {
      return type === MessageType.discover ? await discover(req, c, subnet, from, rlog) : await request(req, c, subnet, from, rlog);
    } catch (err) {
      if (isSwarmbootError(err, DHCP_MALFORMED)) throw err;
      rlog().error({ err }, 'lease store failed; dropping the request');
      return drop('store_error', 'warn', 'lease store failed');
    }
  }

  function publishLease(lease: LeaseGranted): void {
    deps.bus.publish(Events.leaseGranted, lease).catch((err: unknown) => {
      log.error({ err, chaddr: lease.chaddr, yiaddr: lease.yiaddr }, 'publishing lease.granted failed');
    });
  }

  async function work(job: Job): Promise<void> {
    const { req, from } = job;
    let outcome: Outcome;
    try {
      outcome = await handle(req, from, job.port);
    } catch (err) {
      if (isSwarmbootError(err, DHCP_MALFORMED)) {
        dropped.inc({ reason: 'malformed' });
        log.warn({ from: `${from.address}:${from.port}`, error: err.message }, 'dropped a DHCP datagram with a malformed option');
      } else {
        dropped.inc({ reason: 'internal' });
        log.error({ err, from: `${from.address}:${from.port}` }, 'DHCP request failed');
      }
      return;
    }
    if (outcome.kind === 'done') {
      changes.inc({ change: outcome.change });
      return;
    }
    if (outcome.kind === 'drop') {
      dropCounter(outcome.reason).inc();
      if (log.isLevelEnabled(outcome.level)) log[outcome.level]({ reason: outcome.reason, from: `${from.address}:${from.port}` }, `no reply: ${outcome.detail}`);
      return;
    }
    const s = job.port === 'proxy' ? proxySocket : socket;
    if (s === undefined) return; // closed meanwhile
    const { to, type, lease } = outcome;
    let bytes: Buffer;
    try {
      bytes = encodeDhcp(outcome.message);
    } catch (err) {
      dropped.inc({ reason: 'internal' });
      log.error({ err, type: messageTypeName(type) }, 'encoding a DHCP reply failed');
      return;
    }
    s.send(bytes, to.port, to.address, (err) => {
      if (err) {
        log.warn({ err, to: `${to.address}:${to.port}` }, 'sending a DHCP reply failed');
        return;
      }
      replyCounter(type).inc();
      if (log.isLevelEnabled('debug')) log.debug({ to: `${to.address}:${to.port}`, type: messageTypeName(type), chaddr: formatMac(outcome.message.chaddr), yiaddr: outcome.message.yiaddr }, 'replied');
      if (lease !== undefined) publishLease(lease);
    });
  }

  /*
   * The receive queue. The kernel's socket buffer is the first queue; this one decides what is
   * worth an answer: a retransmission of a request already waiting or in work is dropped (its
   * answer is coming), a request older than queueMaxAgeMs is dropped (its client has given up
   * on that xid or retransmitted), and beyond queueMax new datagrams are dropped.
   */
  const queue: Job[] = [];
  let queueHead = 0;
  const pendingKeys = new Set<string>();
  let inflight = 0;

  function dropJob(reason: DropReason, from: Peer, detail: string): void {
    dropCounter(reason).inc();
    if (log.isLevelEnabled('debug')) log.debug({ reason, from: `${from.address}:${from.port}` }, `no reply: ${detail}`);
  }

  function pump(): void {
    while (inflight < concurrency && storeInflight < concurrency && queueHead < queue.length) {
      const job = queue[queueHead]!;
      queue[queueHead++] = undefined as unknown as Job;
      if (queueHead > 1024 && queueHead * 2 > queue.length) {
        queue.splice(0, queueHead);
        queueHead = 0;
      }
      if (Date.now() - job.at > queueMaxAgeMs) {
        pendingKeys.delete(job.key);
        dropJob('stale', job.from, `waited more than ${queueMaxAgeMs} ms`);
        continue;
      }
      inflight++;
      work(job)
        .catch((err: unknown) => log.error({ err }, 'DHCP datagram handling failed'))
        .finally(() => {
          inflight--;
          pendingKeys.delete(job.key);
          queueDepth.set(queue.length - queueHead);
          pump();
        });
    }
    queueDepth.set(queue.length - queueHead);
  }

  function onDatagram(buf: Buffer, rinfo: RemoteInfo, port: 'main' | 'proxy'): void {
    const from = { address: rinfo.address, port: rinfo.port };
    let req: DhcpMessage;
    try {
      req = decodeDhcp(buf);
    } catch (err) {
      dropped.inc({ reason: 'malformed' });
      log.warn({ from: `${from.address}:${from.port}`, length: buf.length, error: (err as Error).message }, 'dropped a malformed DHCP datagram');
      return;
    }
    const typeOpt = req.options.get(DhcpOption.messageType);
    const key = `${port}/${req.chaddr.toString('hex')}/${req.xid}/${typeOpt?.[0] ?? 0}`;
    if (pendingKeys.has(key)) return dropJob('duplicate', from, 'a retransmission of a request in work');
    if (queue.length - queueHead >= queueMax) return dropJob('queue_full', from, `${queueMax} requests waiting`);
    pendingKeys.add(key);
    queue.push({ req, from, port, at: Date.now(), key });
    pump();
  }

  async function bind(host: string, port: number, which: 'main' | 'proxy'): Promise<Socket> {
    const s = createSocket({ type: 'udp4', reuseAddr: cfg.reuseAddr === true });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, host, () => {
        s.off('error', reject);
        resolve();
      });
    });
    // direct clients may need a broadcast reply (RFC 2131 §4.1)
    s.setBroadcast(true);
    try {
      // a boot storm arrives faster than Redis answers: let the kernel hold a few thousand datagrams
      s.setRecvBufferSize(8 * 1024 * 1024);
    } catch {
      // capped by net.core.rmem_max: fine
    }
    s.on('message', (buf, rinfo) => onDatagram(buf, rinfo, which));
    s.on('error', (err) => {
      log.error({ err }, 'DHCP socket failed');
      deps.onSocketError?.(err);
    });
    return s;
  }

  return {
    handle,
    async listen() {
      if (ownCache !== undefined) {
        await ownCache.start(deps.bus.subscribe === undefined ? undefined : { subscribe: deps.bus.subscribe.bind(deps.bus) });
      }
      socket = await bind(cfg.listen.host, cfg.listen.port, 'main');
      if (proxyPort !== 0) proxySocket = await bind(cfg.listen.host, proxyPort, 'proxy');
      const addr = socket.address();
      log.info({ address: addr.address, port: addr.port, mode, proxyPort: proxySocket?.address().port, subnets: cfg.subnets.map((n) => n.cidr), inventory: ownCache?.size }, 'DHCP listening');
      return { address: addr.address, port: addr.port };
    },
    proxyAddress() {
      if (proxySocket === undefined) return undefined;
      const a = proxySocket.address();
      return { address: a.address, port: a.port };
    },
    async close() {
      ownCache?.stop();
      for (const s of [socket, proxySocket]) {
        if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
      }
      socket = undefined;
      proxySocket = undefined;
    },
  };
}
