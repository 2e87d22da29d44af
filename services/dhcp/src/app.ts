import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';
import { Events, SwarmbootError, isSwarmbootError, type LeaseGranted } from '@swarmboot/contracts';
import { ipToInt, type EventBus, type Logger } from '@swarmboot/kit';
import { RedisLeaseStore, RedisNodeDirectory } from './adapters/redis-lease-store.js';
import { chooseBootFile } from './domain/boot.js';
import { replyDestination, type Peer } from './domain/destination.js';
import type { LeaseStore, NodeDirectory, NodeInfo } from './domain/leases.js';
import { buildGrant, buildNak, classifyRequest } from './domain/reply.js';
import { subnetContains, subnetFor, type Subnet } from './domain/subnets.js';
import { DHCP_MALFORMED, decodeDhcp, encodeDhcp, type DhcpMessage } from './protocol/codec.js';
import { BootOp, HTYPE_ETHERNET, MessageType, messageTypeName } from './protocol/constants.js';
import { formatMac, getClientArch, getMessageType, getRequestedIp, getUserClasses, getVendorClass, hasRelaySourcePort } from './protocol/options.js';

/** Resolved settings of the DHCP server (see config.ts for the variables behind them). */
export interface DhcpSettings {
  /** UDP address to bind */
  listen: { host: string; port: number };
  /** option 54 of every reply; replicas sharing one Redis share it too */
  serverId: string;
  /** option 51 (seconds) */
  leaseSeconds: number;
  /** boot script URL for iPXE, `${mac}` replaced by the chaddr */
  bootScriptUrl: string;
  /** port of relays that did not send the RFC 8357 sub-option (RFC 2131 §4.1: 67) */
  relayPort: number;
  subnets: readonly Subnet[];
  /** port of non-relayed clients (RFC 2131 §4.1: 68); default 68 */
  clientPort?: number;
  /** how long an OFFER reserves its address (seconds); default 60 */
  offerReserveSeconds?: number;
  /** bound on the inventory look-up for option 12 (ms); default 100 */
  lookupTimeoutMs?: number;
  /** bound on one lease store operation (ms); past it the request is dropped; default 2000 */
  storeTimeoutMs?: number;
}

export interface DhcpServerDeps {
  log: Logger;
  bus: Pick<EventBus, 'publish'>;
  redis: Redis;
  config: DhcpSettings;
  /** registry of `swarmboot_dhcp_*` metrics (one per server instance) */
  registry: Registry;
  /** defaults to {@link RedisLeaseStore} on `redis` */
  leases?: LeaseStore;
  /** defaults to {@link RedisNodeDirectory} on `redis` */
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
  /** a bug: the handler threw something other than DHCP_MALFORMED */
  | 'internal';

/** What the core handler decided for one request. */
export type Outcome =
  | { kind: 'reply'; type: number; message: DhcpMessage; to: Peer; lease?: LeaseGranted }
  | { kind: 'drop'; reason: DropReason; level: 'debug' | 'warn'; detail: string };

export interface DhcpServer {
  /** Binds the UDP socket; resolves with the bound address. */
  listen(): Promise<Peer>;
  /** Closes the socket; in-flight requests finish without sending. */
  close(): Promise<void>;
  /**
   * The core handler, free of transport: one decoded request and its UDP source → a reply and
   * its destination, or a drop with its reason. Throws DHCP_MALFORMED for malformed options.
   */
  handle(req: DhcpMessage, from: Peer): Promise<Outcome>;
}

const DEFAULT_CLIENT_PORT = 68;
/** long enough for a PXE ROM to collect offers and send its REQUEST (it waits ~4 s at most) */
const DEFAULT_OFFER_RESERVE_SECONDS = 60;
/** DESIGN.md: a server that looks things up slowly before answering overflows its backlog */
const DEFAULT_LOOKUP_TIMEOUT_MS = 100;
const DEFAULT_STORE_TIMEOUT_MS = 2000;

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
  arch?: number;
  userClasses?: string[];
  vendorClass?: string;
  requestedIp?: string;
  relaySourcePort: boolean;
}

/**
 * Builds the DHCPv4 server: DISCOVER → OFFER and REQUEST → ACK/NAK for relayed requests
 * (giaddr ≠ 0; pool of the subnet containing giaddr) and, where RFC 2131 §4.1 makes it
 * straightforward, for direct ones. Malformed datagrams are dropped, counted in
 * `swarmboot_dhcp_dropped_total{reason}` and logged at warn; replies are counted in
 * `swarmboot_dhcp_replies_total{type}`. Each ACK publishes `Events.leaseGranted` (not awaited).
 */
export function buildDhcpServer(deps: DhcpServerDeps): DhcpServer {
  const cfg = deps.config;
  const log = deps.log.child({ component: 'dhcp' });
  const leases = deps.leases ?? new RedisLeaseStore(deps.redis);
  const nodes = deps.nodes ?? new RedisNodeDirectory(deps.redis);
  const policy = { relayPort: cfg.relayPort, clientPort: cfg.clientPort ?? DEFAULT_CLIENT_PORT };
  const reserveSeconds = cfg.offerReserveSeconds ?? DEFAULT_OFFER_RESERVE_SECONDS;
  const lookupTimeoutMs = cfg.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS;
  const storeTimeoutMs = cfg.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;

  const dropped = new Counter({ name: 'swarmboot_dhcp_dropped_total', help: 'DHCP requests answered with silence, by reason', labelNames: ['reason'], registers: [deps.registry] });
  const replies = new Counter({ name: 'swarmboot_dhcp_replies_total', help: 'DHCP replies sent, by message type', labelNames: ['type'], registers: [deps.registry] });

  let socket: Socket | undefined;

  const drop = (reason: DropReason, level: 'debug' | 'warn', detail: string): Outcome => ({ kind: 'drop', reason, level, detail });

  function readRequest(req: DhcpMessage, type: number): ClientRequest {
    const r: ClientRequest = { type, mac: formatMac(req.chaddr), relaySourcePort: hasRelaySourcePort(req) };
    const arch = getClientArch(req);
    if (arch !== undefined) r.arch = arch;
    const userClasses = getUserClasses(req);
    if (userClasses !== undefined) r.userClasses = userClasses;
    const vendorClass = getVendorClass(req);
    if (vendorClass !== undefined) r.vendorClass = vendorClass;
    const requestedIp = getRequestedIp(req);
    if (requestedIp !== undefined) r.requestedIp = requestedIp;
    return r;
  }

  /** Direct (not relayed) clients: the subnet of ciaddr, else of the address the socket is bound to. */
  function directSubnet(req: DhcpMessage): Subnet | undefined {
    if (req.ciaddr !== '0.0.0.0') return subnetFor(cfg.subnets, req.ciaddr);
    // Bound to 0.0.0.0 the server cannot tell the arrival interface (node's dgram does not
    // report it), and guessing would hand out addresses of the wrong network.
    return cfg.listen.host === '0.0.0.0' ? undefined : subnetFor(cfg.subnets, cfg.listen.host);
  }

  async function lookupNode(mac: string, rlog: Logger): Promise<NodeInfo | undefined> {
    try {
      return await withTimeout(nodes.lookupByMac(mac), lookupTimeoutMs, 'inventory look-up');
    } catch (err) {
      rlog.debug({ err }, 'inventory look-up failed; replying without hostname');
      return undefined;
    }
  }

  function bootFileFor(c: ClientRequest): string | undefined {
    return chooseBootFile(
      {
        mac: c.mac,
        ...(c.arch === undefined ? {} : { arch: c.arch }),
        ...(c.userClasses === undefined ? {} : { userClasses: c.userClasses }),
        ...(c.vendorClass === undefined ? {} : { vendorClass: c.vendorClass }),
      },
      { bootScriptUrl: cfg.bootScriptUrl },
    );
  }

  async function discover(req: DhcpMessage, c: ClientRequest, subnet: Subnet, from: Peer, rlog: Logger): Promise<Outcome> {
    const dest = replyDestination(req, MessageType.offer, from, c.relaySourcePort, policy);
    if ('unroutable' in dest) return drop('unroutable', 'debug', dest.unroutable);
    const offering = withTimeout(leases.offer({ chaddr: c.mac, subnet, ...(c.requestedIp === undefined ? {} : { requestedIp: c.requestedIp }), reserveSeconds }), storeTimeoutMs, 'lease offer');
    const [ip, node] = await Promise.all([offering, lookupNode(c.mac, rlog)]);
    if (ip === undefined) return drop('pool_exhausted', 'warn', `no free address in ${subnet.cidr}`);
    const bootFile = bootFileFor(c);
    const message = buildGrant(req, {
      type: MessageType.offer,
      serverId: cfg.serverId,
      yiaddr: ip,
      subnet,
      leaseSeconds: cfg.leaseSeconds,
      ...(bootFile === undefined ? {} : { bootFile }),
      ...(node?.hostname === undefined ? {} : { hostname: node.hostname }),
    });
    return { kind: 'reply', type: MessageType.offer, message, to: dest.to };
  }

  async function request(req: DhcpMessage, c: ClientRequest, subnet: Subnet, from: Peer, rlog: Logger): Promise<Outcome> {
    const intent = classifyRequest(req);
    if (intent === undefined) return drop('invalid_request', 'warn', 'DHCPREQUEST fits none of SELECTING, INIT-REBOOT, RENEWING/REBINDING (RFC 2131 §4.3.2)');
    if (intent.state === 'selecting' && intent.serverId !== cfg.serverId) {
      // The client took another server's offer: free ours (RFC 2131 §4.3.2).
      await withTimeout(leases.releaseOffer({ chaddr: c.mac, ip: intent.ip }), storeTimeoutMs, 'lease release');
      return drop('other_server', 'debug', `client selected server ${intent.serverId}`);
    }
    const nak = (why: string): Outcome => {
      const dest = replyDestination(req, MessageType.nak, from, c.relaySourcePort, policy);
      if ('unroutable' in dest) return drop('unroutable', 'debug', dest.unroutable);
      rlog.info({ ip: intent.ip, why }, 'NAK');
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

    const committing = withTimeout(leases.commit({ chaddr: c.mac, ip: intent.ip, subnet, leaseSeconds: cfg.leaseSeconds }), storeTimeoutMs, 'lease commit');
    const [result, node] = await Promise.all([committing, lookupNode(c.mac, rlog)]);
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
        return drop('unknown_client', 'debug', `no lease record for ${c.mac}; staying silent`);
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
      ...(node === undefined ? {} : { nodeId: node.nodeId }),
      ...(c.arch === undefined ? {} : { arch: c.arch }),
      ...(c.userClasses === undefined ? {} : { userClass: c.userClasses.join(',') }),
      ...(bootFile === undefined ? {} : { bootFile }),
    };
    return { kind: 'reply', type: MessageType.ack, message, to: dest.to, lease };
  }

  async function handle(req: DhcpMessage, from: Peer): Promise<Outcome> {
    if (req.op !== BootOp.request) return drop('not_request', 'debug', `op ${req.op} is not BOOTREQUEST`);
    const type = getMessageType(req);
    if (type === undefined) return drop('no_message_type', 'debug', 'BOOTP request without option 53 (BOOTP is not served)');
    // Keys and the event use the Ethernet MAC; other hardware types come with a later issue.
    if (req.htype !== HTYPE_ETHERNET || req.hlen !== 6) return drop('unsupported_htype', 'debug', `htype ${req.htype} hlen ${req.hlen}`);
    const c = readRequest(req, type);
    const rlog = log.child({ chaddr: c.mac, xid: req.xid.toString(16).padStart(8, '0'), type: messageTypeName(type) });
    if (type !== MessageType.discover && type !== MessageType.request) return drop('unsupported_type', 'debug', `${messageTypeName(type)} is not served yet`);
    const relayed = req.giaddr !== '0.0.0.0';
    const subnet = relayed ? subnetFor(cfg.subnets, req.giaddr) : directSubnet(req);
    if (subnet === undefined) return drop('no_subnet', relayed ? 'warn' : 'debug', relayed ? `no subnet contains giaddr ${req.giaddr}` : 'direct request and no subnet for it');
    try {
      return type === MessageType.discover ? await discover(req, c, subnet, from, rlog) : await request(req, c, subnet, from, rlog);
    } catch (err) {
      if (isSwarmbootError(err, DHCP_MALFORMED)) throw err;
      rlog.error({ err }, 'lease store failed; dropping the request');
      return drop('store_error', 'warn', 'lease store failed');
    }
  }

  function publishLease(lease: LeaseGranted): void {
    deps.bus.publish(Events.leaseGranted, lease).catch((err: unknown) => {
      log.error({ err, chaddr: lease.chaddr, yiaddr: lease.yiaddr }, 'publishing lease.granted failed');
    });
  }

  async function onDatagram(buf: Buffer, rinfo: RemoteInfo): Promise<void> {
    const from = { address: rinfo.address, port: rinfo.port };
    let outcome: Outcome;
    try {
      outcome = await handle(decodeDhcp(buf), from);
    } catch (err) {
      if (isSwarmbootError(err, DHCP_MALFORMED)) {
        dropped.inc({ reason: 'malformed' });
        log.warn({ from: `${from.address}:${from.port}`, length: buf.length, error: err.message }, 'dropped a malformed DHCP datagram');
      } else {
        dropped.inc({ reason: 'internal' });
        log.error({ err, from: `${from.address}:${from.port}` }, 'DHCP request failed');
      }
      return;
    }
    if (outcome.kind === 'drop') {
      dropped.inc({ reason: outcome.reason });
      log[outcome.level]({ reason: outcome.reason, from: `${from.address}:${from.port}` }, `no reply: ${outcome.detail}`);
      return;
    }
    const s = socket;
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
      replies.inc({ type: messageTypeName(type) });
      log.debug({ to: `${to.address}:${to.port}`, type: messageTypeName(type), yiaddr: outcome.message.yiaddr }, 'replied');
      if (lease !== undefined) publishLease(lease);
    });
  }

  return {
    handle,
    async listen() {
      const s = createSocket({ type: 'udp4' });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(cfg.listen.port, cfg.listen.host, () => {
          s.off('error', reject);
          resolve();
        });
      });
      // direct clients may need a broadcast reply (RFC 2131 §4.1)
      s.setBroadcast(true);
      s.on('message', (buf, rinfo) => {
        // last line of defence: input must never take the process down
        onDatagram(buf, rinfo).catch((err: unknown) => log.error({ err }, 'DHCP datagram handling failed'));
      });
      s.on('error', (err) => {
        log.error({ err }, 'DHCP socket failed');
        deps.onSocketError?.(err);
      });
      socket = s;
      const addr = s.address();
      log.info({ address: addr.address, port: addr.port, subnets: cfg.subnets.map((n) => n.cidr) }, 'DHCP listening');
      return { address: addr.address, port: addr.port };
    },
    async close() {
      const s = socket;
      socket = undefined;
      if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
