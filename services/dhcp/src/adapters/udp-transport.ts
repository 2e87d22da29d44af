import type { RemoteInfo, Socket } from 'node:dgram';
import { isSwarmbootError, type LeaseGranted } from '@swarmboot/contracts';
import { bindUdp, type Logger, type UdpPeer } from '@swarmboot/kit';
import type { Outcome } from '../domain/outcome.js';
import { ReceiveQueue } from '../domain/receive-queue.js';
import type { DhcpMetrics } from '../metrics.js';
import { DHCP_MALFORMED, decodeDhcp, encodeDhcp, type DhcpMessage } from '../protocol/codec.js';
import { DhcpOption, messageTypeName } from '../protocol/constants.js';
import { formatMac } from '../protocol/options.js';
import type { ResolvedDhcpSettings } from '../settings.js';

/** Which socket a datagram came in on: `listen`, or the proxyDHCP port. */
export type DhcpPort = 'main' | 'proxy';

export interface UdpTransportDeps {
  settings: Pick<ResolvedDhcpSettings, 'listen' | 'proxyPort' | 'reuseAddr' | 'queue'>;
  log: Logger;
  metrics: DhcpMetrics;
  /** the core handler; throws DHCP_MALFORMED for malformed options */
  handle: (req: DhcpMessage, from: UdpPeer, port: DhcpPort) => Promise<Outcome>;
  /** an ACK carrying `lease` was sent */
  onLeaseSent: (lease: LeaseGranted) => void;
  /** a socket error after bind (the listener died) */
  onFatal?: (err: Error) => void;
}

/** One received datagram, decoded, waiting in the queue. */
interface Datagram {
  req: DhcpMessage;
  from: UdpPeer;
  port: DhcpPort;
}

const show = (p: UdpPeer) => `${p.address}:${p.port}`;

/**
 * The UDP edge of the DHCP server: binds the main socket and (when `proxyPort` ≠ 0) the
 * proxyDHCP one, decodes each datagram (malformed ones are counted and dropped), passes it
 * through the {@link ReceiveQueue} to the handler, and does what the handler's {@link Outcome}
 * says: encodes and sends the reply, counts the drop or the lease change.
 */
export class UdpTransport {
  /** the receive queue; its `track` is the gate for the handler's lease store operations */
  readonly queue: ReceiveQueue<Datagram>;
  private socket: Socket | undefined;
  private proxySocket: Socket | undefined;
  private readonly log: Logger;
  private readonly metrics: DhcpMetrics;

  constructor(private readonly deps: UdpTransportDeps) {
    this.log = deps.log;
    this.metrics = deps.metrics;
    this.queue = new ReceiveQueue<Datagram>({
      ...deps.settings.queue,
      work: (d) => this.work(d),
      onDrop: (reason, d, detail) => {
        this.metrics.drop(reason);
        if (this.log.isLevelEnabled('debug')) this.log.debug({ reason, from: show(d.from) }, `no reply: ${detail}`);
      },
      onError: (err) => this.log.error({ err }, 'DHCP datagram handling failed'),
      onDepth: (depth) => this.metrics.setQueueDepth(depth),
    });
  }

  /** Binds the socket(s); rejects when a bind fails (e.g. EADDRINUSE, EACCES). */
  async listen(): Promise<void> {
    const { listen, proxyPort } = this.deps.settings;
    this.socket = await this.bind(listen.host, listen.port, 'main');
    if (proxyPort !== 0) this.proxySocket = await this.bind(listen.host, proxyPort, 'proxy');
  }

  /** The bound address of the main socket, or of the proxyDHCP one; undefined when not bound. */
  address(which: DhcpPort = 'main'): UdpPeer | undefined {
    const s = which === 'proxy' ? this.proxySocket : this.socket;
    if (s === undefined) return undefined;
    const a = s.address();
    return { address: a.address, port: a.port };
  }

  /** Closes the sockets; requests in work finish without sending. */
  async close(): Promise<void> {
    for (const s of [this.socket, this.proxySocket]) {
      if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    this.socket = undefined;
    this.proxySocket = undefined;
  }

  private onDatagram(buf: Buffer, rinfo: RemoteInfo, port: DhcpPort): void {
    const from = { address: rinfo.address, port: rinfo.port };
    let req: DhcpMessage;
    try {
      req = decodeDhcp(buf);
    } catch (err) {
      this.metrics.drop('malformed');
      this.log.warn({ from: show(from), length: buf.length, error: (err as Error).message }, 'dropped a malformed DHCP datagram');
      return;
    }
    const typeOpt = req.options.get(DhcpOption.messageType);
    this.queue.push(`${port}/${req.chaddr.toString('hex')}/${req.xid}/${typeOpt?.[0] ?? 0}`, { req, from, port });
  }

  private async work({ req, from, port }: Datagram): Promise<void> {
    const log = this.log;
    let outcome: Outcome;
    try {
      outcome = await this.deps.handle(req, from, port);
    } catch (err) {
      if (isSwarmbootError(err, DHCP_MALFORMED)) {
        this.metrics.drop('malformed');
        log.warn({ from: show(from), error: err.message }, 'dropped a DHCP datagram with a malformed option');
      } else {
        this.metrics.drop('internal');
        log.error({ err, from: show(from) }, 'DHCP request failed');
      }
      return;
    }
    if (outcome.kind === 'done') {
      this.metrics.change(outcome.change);
      return;
    }
    if (outcome.kind === 'drop') {
      this.metrics.drop(outcome.reason);
      if (log.isLevelEnabled(outcome.level)) log[outcome.level]({ reason: outcome.reason, from: show(from) }, `no reply: ${outcome.detail}`);
      return;
    }
    const s = port === 'proxy' ? this.proxySocket : this.socket;
    if (s === undefined) return; // closed meanwhile
    const { to, type, lease, message } = outcome;
    let bytes: Buffer;
    try {
      bytes = encodeDhcp(message);
    } catch (err) {
      this.metrics.drop('internal');
      log.error({ err, type: messageTypeName(type) }, 'encoding a DHCP reply failed');
      return;
    }
    s.send(bytes, to.port, to.address, (err) => {
      if (err) {
        log.warn({ err, to: show(to) }, 'sending a DHCP reply failed');
        return;
      }
      this.metrics.reply(type);
      if (outcome.unheld === true) this.metrics.unheldOffer();
      if (log.isLevelEnabled('debug')) log.debug({ to: show(to), type: messageTypeName(type), chaddr: formatMac(message.chaddr), yiaddr: message.yiaddr }, 'replied');
      if (lease !== undefined) this.deps.onLeaseSent(lease);
    });
  }

  private async bind(host: string, port: number, which: DhcpPort): Promise<Socket> {
    // direct clients may need a broadcast reply (RFC 2131 §4.1); a boot storm arrives faster
    // than Redis answers: let the kernel hold a few thousand datagrams
    const s = await bindUdp({ host, port, family: 'udp4', reuseAddr: this.deps.settings.reuseAddr, broadcast: true, recvBufferBytes: 8 * 1024 * 1024 });
    s.on('message', (buf, rinfo) => this.onDatagram(buf, rinfo, which));
    s.on('error', (err) => {
      this.log.error({ err }, 'DHCP socket failed');
      this.deps.onFatal?.(err);
    });
    return s;
  }
}
