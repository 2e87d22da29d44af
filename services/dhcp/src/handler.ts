import { SwarmbootError, isSwarmbootError, type LeaseGranted } from '@swarmboot/contracts';
import { ipToInt, type Logger, type UdpPeer } from '@swarmboot/kit';
import { chooseBootFile, clientKind, type ClientKind } from './domain/boot.js';
import { replyDestination } from './domain/destination.js';
import type { LeaseStore, NodeDirectory, NodeInfo } from './domain/leases.js';
import type { DropReason, Outcome } from './domain/outcome.js';
import { buildGrant, buildNak, classifyRequest } from './domain/reply.js';
import { subnetContains, subnetFor, type Subnet } from './domain/subnets.js';
import { DHCP_MALFORMED, type DhcpMessage } from './protocol/codec.js';
import { BootOp, HTYPE_ETHERNET, MessageType, messageTypeName } from './protocol/constants.js';
import { formatMac, getClientArch, getClientId, getMessageType, getRequestedIp, getUserClasses, getVendorClass, hasRelaySourcePort } from './protocol/options.js';
import type { Reservation, ResolvedDhcpSettings } from './settings.js';

export interface DhcpHandlerDeps {
  settings: ResolvedDhcpSettings;
  log: Logger;
  leases: LeaseStore;
  /** node look-ups for option 12 and the lease event */
  nodes: NodeDirectory;
  /** an in-memory inventory: a hit answers without looking `nodes` up */
  cache?: { peek(mac: string): NodeInfo | undefined };
  /**
   * Counts a lease store operation until it settles (the receive queue's second gate); resolves
   * or rejects as the operation does.
   */
  trackStore: <T>(op: Promise<T>) => Promise<T>;
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

/** The request's logger, made on first use: a child logger costs more than the rest of a DISCOVER. */
type RequestLog = () => Logger;

const drop = (reason: DropReason, level: 'debug' | 'warn', detail: string): Outcome => ({ kind: 'drop', reason, level, detail });

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SwarmbootError('TIMEOUT', `${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** UEFI HTTP boot clients only accept an offer that names them (UEFI 2.x §24.7.2). */
const echoVendor = (c: ClientRequest) => (c.kind === 'http' ? { vendorClass: 'HTTPClient' } : {});

/**
 * The core DHCPv4 handler (RFC 2131), free of transport: one decoded request and its UDP source
 * → an {@link Outcome} (a reply and its destination, a lease change, or a drop with its reason);
 * the socket edge acts on it. Server mode: DISCOVER → OFFER, REQUEST → ACK/NAK, RELEASE, DECLINE,
 * INFORM, relayed (giaddr ≠ 0; pool of the subnet containing giaddr) or direct (the subnet of the
 * bound address, or the only subnet). Proxy mode: proxyDHCP for PXE clients.
 */
export class DhcpHandler {
  private readonly cfg: ResolvedDhcpSettings;
  private readonly log: Logger;
  private readonly reservations: ReadonlyMap<string, Reservation>;
  private readonly policy: { relayPort: number; clientPort: number };

  constructor(private readonly deps: DhcpHandlerDeps) {
    this.cfg = deps.settings;
    this.log = deps.log;
    this.reservations = new Map(this.cfg.reservations.map((r) => [r.mac, r]));
    this.policy = { relayPort: this.cfg.relayPort, clientPort: this.cfg.clientPort };
  }

  /**
   * Decides what to do with `req`, received from `from` on the `port` socket (`proxy`: the
   * proxyDHCP port). Lease store failures and timeouts become a `store_error` drop.
   * Throws DHCP_MALFORMED for malformed options.
   */
  async handle(req: DhcpMessage, from: UdpPeer, port: 'main' | 'proxy' = 'main'): Promise<Outcome> {
    const cfg = this.cfg;
    if (req.op !== BootOp.request) return drop('not_request', 'debug', `op ${req.op} is not BOOTREQUEST`);
    const type = getMessageType(req);
    if (type === undefined) return drop('no_message_type', 'debug', 'BOOTP request without option 53 (BOOTP is not served)');
    // Keys and the event use the Ethernet MAC; other hardware types come with a later issue.
    if (req.htype !== HTYPE_ETHERNET || req.hlen !== 6) return drop('unsupported_htype', 'debug', `htype ${req.htype} hlen ${req.hlen}`);
    const c = readRequest(req, type);
    let child: Logger | undefined;
    const rlog: RequestLog = () => (child ??= this.log.child({ chaddr: c.mac, xid: req.xid.toString(16).padStart(8, '0'), type: messageTypeName(type) }));
    if (cfg.mode === 'proxy') return this.proxy(req, c, from, port);
    if (type === MessageType.release || type === MessageType.decline) {
      try {
        return type === MessageType.release ? await this.release(req, c, rlog) : await this.decline(c, rlog);
      } catch (err) {
        rlog().error({ err }, 'lease store failed');
        return drop('store_error', 'warn', 'lease store failed');
      }
    }
    if (type !== MessageType.discover && type !== MessageType.request && type !== MessageType.inform) return drop('unsupported_type', 'debug', `${messageTypeName(type)} is not a client message`);
    const relayed = req.giaddr !== '0.0.0.0';
    const subnet = relayed ? subnetFor(cfg.subnets, req.giaddr) : this.directSubnet(req);
    if (subnet === undefined) return drop('no_subnet', relayed ? 'warn' : 'debug', relayed ? `no subnet contains giaddr ${req.giaddr}` : 'direct request and no subnet for it');
    if (type === MessageType.inform) return this.inform(req, c, subnet, from);
    try {
      return type === MessageType.discover ? await this.discover(req, c, subnet, from, rlog) : await this.request(req, c, subnet, from, rlog);
    } catch (err) {
      if (isSwarmbootError(err, DHCP_MALFORMED)) throw err;
      rlog().error({ err }, 'lease store failed; dropping the request');
      return drop('store_error', 'warn', 'lease store failed');
    }
  }

  private async discover(req: DhcpMessage, c: ClientRequest, subnet: Subnet, from: UdpPeer, rlog: RequestLog): Promise<Outcome> {
    const cfg = this.cfg;
    const dest = replyDestination(req, MessageType.offer, from, c.relaySourcePort, this.policy);
    if ('unroutable' in dest) return drop('unroutable', 'debug', dest.unroutable);
    const leaseSubnet = this.leaseSubnet(c, subnet);
    const offering = this.storeOp(
      this.deps.leases.offer({
        chaddr: c.key,
        subnet: leaseSubnet,
        ...(c.requestedIp === undefined ? {} : { requestedIp: c.requestedIp }),
        reserveSeconds: cfg.offerReserveSeconds,
        // a reserved address is nobody else's: its offers are not counted against the pool's bound
        ...(leaseSubnet === subnet ? { maxHeld: Math.max(1, Math.floor((subnet.poolEnd - subnet.poolStart + 1) * cfg.offerHoldShare)) } : {}),
      }),
      'lease offer',
    );
    const [offer, node] = await this.withNode(c.mac, offering, rlog);
    if (offer === undefined) return drop('pool_exhausted', 'warn', `no free address in ${subnet.cidr}`);
    const ip = offer.ip;
    const bootFile = this.bootFileFor(c);
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
    return { kind: 'reply', type: MessageType.offer, message, to: dest.to, ...(offer.held ? {} : { unheld: true }) };
  }

  private async request(req: DhcpMessage, c: ClientRequest, subnet: Subnet, from: UdpPeer, rlog: RequestLog): Promise<Outcome> {
    const cfg = this.cfg;
    const intent = classifyRequest(req);
    if (intent === undefined) return drop('invalid_request', 'warn', 'DHCPREQUEST fits none of SELECTING, INIT-REBOOT, RENEWING/REBINDING (RFC 2131 §4.3.2)');
    if (intent.state === 'selecting' && intent.serverId !== cfg.serverId) {
      // The client took another server's offer: free ours (RFC 2131 §4.3.2).
      await this.storeOp(this.deps.leases.releaseOffer({ chaddr: c.key, ip: intent.ip }), 'lease release');
      return drop('other_server', 'debug', `client selected server ${intent.serverId}`);
    }
    const nak = (why: string): Outcome => {
      const dest = replyDestination(req, MessageType.nak, from, c.relaySourcePort, this.policy);
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
    const dest = replyDestination(req, MessageType.ack, from, c.relaySourcePort, this.policy);
    if ('unroutable' in dest) return drop('unroutable', 'debug', dest.unroutable);

    const committing = this.storeOp(this.deps.leases.commit({ chaddr: c.key, ip: intent.ip, subnet: this.leaseSubnet(c, subnet), leaseSeconds: cfg.leaseSeconds }), 'lease commit');
    const [result, node] = await this.withNode(c.mac, committing, rlog);
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
    const bootFile = this.bootFileFor(c);
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
  private async release(req: DhcpMessage, c: ClientRequest, rlog: RequestLog): Promise<Outcome> {
    if (req.ciaddr === '0.0.0.0') return drop('invalid_request', 'debug', 'DHCPRELEASE without ciaddr');
    const freed = await this.storeOp(this.deps.leases.release({ chaddr: c.key, ip: req.ciaddr }), 'lease release');
    rlog().info({ ip: req.ciaddr, freed }, 'RELEASE');
    return { kind: 'done', change: freed ? 'released' : 'ignored' };
  }

  /** DHCPDECLINE (RFC 2131 §4.3.3): option 50 is in use by someone else; quarantined; no reply. */
  private async decline(c: ClientRequest, rlog: RequestLog): Promise<Outcome> {
    if (c.requestedIp === undefined) return drop('invalid_request', 'debug', 'DHCPDECLINE without option 50');
    const quarantineSeconds = this.cfg.declineQuarantineSeconds;
    const done = await this.storeOp(this.deps.leases.decline({ chaddr: c.key, ip: c.requestedIp, quarantineSeconds }), 'lease decline');
    rlog().warn({ ip: c.requestedIp, quarantineSeconds, done }, 'DECLINE: address in use on the network');
    return { kind: 'done', change: done ? 'declined' : 'ignored' };
  }

  /** DHCPINFORM (RFC 2131 §4.3.5): an ACK with local configuration, no lease, yiaddr 0, to ciaddr. */
  private inform(req: DhcpMessage, c: ClientRequest, subnet: Subnet, from: UdpPeer): Outcome {
    if (req.ciaddr === '0.0.0.0' && req.giaddr === '0.0.0.0') return drop('invalid_request', 'debug', 'DHCPINFORM without ciaddr');
    const dest = replyDestination(req, MessageType.ack, from, c.relaySourcePort, this.policy);
    if ('unroutable' in dest) return drop('unroutable', 'debug', dest.unroutable);
    const bootFile = this.bootFileFor(c);
    const message = buildGrant(req, { type: MessageType.ack, serverId: this.cfg.serverId, yiaddr: '0.0.0.0', subnet, ...echoVendor(c), ...(bootFile === undefined ? {} : { bootFile }) });
    return { kind: 'reply', type: MessageType.ack, message, to: dest.to };
  }

  /**
   * proxyDHCP (PXE spec 2.1 §2.2.1, §2.2.2): a DISCOVER on 67 from a PXE client gets an OFFER
   * without an address (yiaddr 0) naming the boot file, next server, option 60 "PXEClient" and
   * option 43 discovery control 8; a REQUEST (or DISCOVER) on the proxy port gets the same as
   * an ACK, unicast back to where it came from. The site's DHCP server does everything else.
   */
  private proxy(req: DhcpMessage, c: ClientRequest, from: UdpPeer, port: 'main' | 'proxy'): Outcome {
    const cfg = this.cfg;
    if (c.kind !== 'pxe' && c.kind !== 'ipxe') return drop('not_pxe', 'debug', `vendor class ${c.vendorClass ?? '(none)'} is not PXEClient`);
    const subnet = (req.giaddr !== '0.0.0.0' ? subnetFor(cfg.subnets, req.giaddr) : this.directSubnet(req)) ?? cfg.subnets[0];
    if (subnet === undefined) return drop('no_subnet', 'warn', 'no subnet configured');
    const bootFile = this.bootFileFor(c);
    let type: typeof MessageType.offer | typeof MessageType.ack;
    let to: UdpPeer;
    if (port === 'proxy' && (c.type === MessageType.request || c.type === MessageType.discover || c.type === MessageType.inform)) {
      type = MessageType.ack;
      to = from;
    } else if (port === 'main' && c.type === MessageType.discover) {
      type = MessageType.offer;
      const dest = replyDestination(req, type, from, c.relaySourcePort, this.policy);
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

  /** A lease store operation, counted until it settles, rejected with TIMEOUT past `storeTimeoutMs`. */
  private storeOp<T>(op: Promise<T>, what: string): Promise<T> {
    return withTimeout(this.deps.trackStore(op), this.cfg.storeTimeoutMs, what);
  }

  /** Direct (not relayed) clients: the subnet of ciaddr, of the bound address, or the only subnet. */
  private directSubnet(req: DhcpMessage): Subnet | undefined {
    const cfg = this.cfg;
    if (req.ciaddr !== '0.0.0.0') return subnetFor(cfg.subnets, req.ciaddr);
    if (cfg.listen.host !== '0.0.0.0') return subnetFor(cfg.subnets, cfg.listen.host);
    // Bound to 0.0.0.0 the server cannot tell the arrival interface (node's dgram does not report
    // it): with one subnet configured it is that one (one broadcast segment per server, see
    // README); with several, guessing would hand out addresses of the wrong network.
    return cfg.subnets.length === 1 ? cfg.subnets[0] : undefined;
  }

  /** The subnet as the lease store sees it: a reserved address is a pool of one. */
  private leaseSubnet(c: ClientRequest, subnet: Subnet): Subnet {
    const ip = this.reservations.get(c.mac)?.ip;
    if (ip === undefined) return subnet;
    const n = ipToInt(ip);
    return subnetContains(subnet, n) ? { ...subnet, poolStart: n, poolEnd: n } : subnet;
  }

  /**
   * Node info for option 12 and the event: a reservation's hostname, else the in-memory
   * inventory; on a miss a look-up runs beside the lease write and the reply waits for it at
   * most `lookupTimeoutMs` (default 100 ms) — a slow inventory costs the hostname, never the
   * lease. Unknown MACs are then remembered as misses (InventoryCache, 10 s).
   */
  private async withNode<T>(mac: string, write: Promise<T>, rlog: RequestLog): Promise<[T, NodeInfo | undefined]> {
    const reserved = this.reservations.get(mac)?.hostname;
    const cached = this.deps.cache?.peek(mac);
    if (cached !== undefined) {
      const v = await write;
      return [v, reserved === undefined ? cached : { ...cached, hostname: reserved }];
    }
    const lookup = withTimeout(this.deps.nodes.lookupByMac(mac), this.cfg.lookupTimeoutMs, 'inventory look-up').catch((err: unknown) => {
      rlog().debug({ err }, 'inventory look-up failed; replying without hostname');
      return undefined;
    });
    const [v, found] = await Promise.all([write, lookup]);
    const node: NodeInfo | undefined = found ?? (reserved === undefined ? undefined : { nodeId: '', hostname: reserved });
    return [v, reserved === undefined || node === undefined ? node : { ...node, hostname: reserved }];
  }

  private bootFileFor(c: ClientRequest): string | undefined {
    return chooseBootFile(
      {
        mac: c.mac,
        ...(c.arch === undefined ? {} : { arch: c.arch }),
        ...(c.userClasses === undefined ? {} : { userClasses: c.userClasses }),
        ...(c.vendorClass === undefined ? {} : { vendorClass: c.vendorClass }),
      },
      { bootScriptUrl: this.cfg.bootScriptUrl, files: this.cfg.bootFiles },
    );
  }
}

function readRequest(req: DhcpMessage, type: number): ClientRequest {
  const mac = formatMac(req.chaddr);
  const r: ClientRequest = {
    type,
    mac,
    key: mac,
    kind: 'other',
    relaySourcePort: hasRelaySourcePort(req),
    arch: getClientArch(req),
    userClasses: getUserClasses(req),
    vendorClass: getVendorClass(req),
    requestedIp: getRequestedIp(req),
  };
  r.kind = clientKind(r);
  // RFC 6842 / RFC 2132 §9.14: option 61 identifies the client when sent. Boot clients are the
  // exception: the PXE ROM sends 61 = 0x00+UUID or none, iPXE sends 0x01+MAC, the installed OS
  // something else again — keyed by option 61 one machine would hold two or three addresses
  // through one install; keyed by chaddr it holds one.
  const clientId = getClientId(req);
  if (clientId !== undefined && r.kind === 'other' && r.arch === undefined) r.key = `id:${clientId.toString('hex')}`;
  return r;
}
