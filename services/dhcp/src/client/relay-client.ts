import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:dgram';
import { SwarmbootError } from '@swarmboot/contracts';
import { bindUdp, normalizeMac } from '@swarmboot/kit';
import { decodeDhcp, encodeDhcp, type DhcpMessage } from '../protocol/codec.js';
import { BootOp, DhcpOption, HTYPE_ETHERNET, MessageType, RelayAgentSubOption } from '../protocol/constants.js';
import {
  encodeRelayAgentInfo,
  getBootfileName,
  getHostname,
  getLeaseTime,
  getMessageType,
  getRouter,
  getServerId,
  getSubnetMask,
  ipOption,
  macToChaddr,
  textOption,
  u16Option,
  u8Option,
} from '../protocol/options.js';

/** What the client got from DHCPACK. */
export interface DhcpLease {
  /** the leased address */
  yiaddr: string;
  /** next server (TFTP) */
  siaddr: string;
  /** option 54 of the ACK (or of the OFFER) */
  serverId: string;
  /** option 67 (without its NUL), else the `file` field; '' when the server gave none */
  bootFile: string;
  /** option 51 (seconds) */
  leaseSeconds: number;
  subnetMask?: string;
  router?: string;
  /** option 12 when the server knows the node */
  hostname?: string;
  /** transaction id of the exchange */
  xid: number;
}

export interface RelayLeaseOptions {
  /** the DHCP server */
  server: { host: string; port: number };
  /** the relay's address: the socket binds here (port 0) and giaddr carries it */
  giaddr: string;
  /** client MAC, `aa:bb:…` or `aa-bb-…` */
  chaddr: string;
  /** option 93 (RFC 4578): 0 BIOS, 7 UEFI x64, 11 arm64, … */
  arch?: number;
  /** option 77, sent as bare text like iPXE does ("iPXE") */
  userClass?: string;
  /** option 12 */
  hostname?: string;
  /** bound on the whole exchange (ms); default 30000 */
  timeoutMs?: number;
  /** retransmissions per message after the first send; default 4 */
  retries?: number;
}

/**
 * First retransmission timeout (ms). RFC 2131 §4.1 starts at 4 s, doubling to 64 s, for real
 * networks; on loopback and in the demo a lost datagram is rarer and waiting is costlier.
 */
const INITIAL_RTO_MS = 500;
const MAX_RTO_MS = 4000;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 4;
/** options asked for (RFC 2132 §9.8): mask, router, DNS, hostname, lease, server id, T1, T2, TFTP server, bootfile */
const PARAMETER_REQUEST_LIST = [1, 3, 6, 12, 51, 54, 58, 59, 66, 67];

/** RFC 2131 §4.1: randomize each delay (±1 s of 4 s there, ±25 % here). */
function backoff(attempt: number): number {
  const base = Math.min(INITIAL_RTO_MS * 2 ** attempt, MAX_RTO_MS);
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

interface Exchange {
  socket: Socket;
  server: { host: string; port: number };
  xid: number;
  chaddr: Buffer;
  deadline: number;
  retries: number;
}

/** Sends `build()` until a reply passes `accept` (retransmitting with backoff); throws DHCP_TIMEOUT. */
function exchange(ex: Exchange, phase: string, build: () => Buffer, accept: (m: DhcpMessage) => boolean): Promise<DhcpMessage> {
  return new Promise((resolve, reject) => {
    let attempt = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | undefined, m?: DhcpMessage): void => {
      clearTimeout(timer);
      ex.socket.off('message', onMessage);
      if (err) reject(err);
      else resolve(m!);
    };
    const onMessage = (buf: Buffer): void => {
      let m: DhcpMessage;
      try {
        m = decodeDhcp(buf);
      } catch {
        return; // not for us, or garbage: keep waiting
      }
      if (m.op !== BootOp.reply || m.xid !== ex.xid || !m.chaddr.equals(ex.chaddr)) return;
      let ok = false;
      try {
        ok = accept(m);
      } catch {
        ok = false; // a reply with malformed options is ignored like a lost one
      }
      if (ok) finish(undefined, m);
    };
    const fire = (): void => {
      const left = ex.deadline - Date.now();
      if (attempt > ex.retries || left <= 0) {
        finish(new SwarmbootError('DHCP_TIMEOUT', `no ${phase} reply from ${ex.server.host}:${ex.server.port} after ${attempt} transmissions`, { context: { phase, attempts: attempt, xid: ex.xid } }));
        return;
      }
      ex.socket.send(build(), ex.server.port, ex.server.host, (err) => {
        if (err) finish(new SwarmbootError('DHCP_SOCKET', `sending ${phase} failed: ${err.message}`, { cause: err }));
      });
      timer = setTimeout(fire, Math.min(backoff(attempt), left));
      attempt += 1;
    };
    ex.socket.on('message', onMessage);
    fire();
  });
}

/**
 * Gets a lease the way a PXE client behind a relay does, acting as both: binds UDP `giaddr`:0,
 * sends DISCOVER (hops 1, giaddr set, option 82 with the RFC 8357 Relay Source Port sub-option so
 * the server answers at this socket's port), waits for OFFER, sends REQUEST (options 50 and 54,
 * same xid, RFC 2131 §4.4.1), waits for ACK. Retransmits with backoff from 500 ms.
 * Throws SwarmbootError `DHCP_TIMEOUT` (no answer within the retries or `timeoutMs`),
 * `DHCP_NAK` (the server refused the address; context.message holds option 56), `DHCP_SOCKET`,
 * or `DHCP_INVALID_ARGUMENT` for a chaddr that is not a MAC.
 */
export async function requestLeaseViaRelay(opts: RelayLeaseOptions): Promise<DhcpLease> {
  const mac = normalizeMac(opts.chaddr);
  if (mac === undefined) throw new SwarmbootError('DHCP_INVALID_ARGUMENT', `chaddr ${JSON.stringify(opts.chaddr)} is not a MAC address`);
  const chaddr = macToChaddr(mac);
  const socket = await bindUdp({ host: opts.giaddr, port: 0, family: 'udp4' }).catch((err: unknown) => {
    throw new SwarmbootError('DHCP_SOCKET', `cannot bind UDP ${opts.giaddr}:0: ${(err as Error).message}`, { cause: err });
  });
  // later errors surface through send callbacks; keep the socket from throwing unhandled
  socket.on('error', () => undefined);

  const started = Date.now();
  const ex: Exchange = {
    socket,
    server: opts.server,
    xid: randomBytes(4).readUInt32BE(0),
    chaddr,
    deadline: started + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    retries: opts.retries ?? DEFAULT_RETRIES,
  };

  const message = (type: number, extra: [number, Buffer][]): Buffer => {
    const options = new Map<number, Buffer>([[DhcpOption.messageType, u8Option(type)]]);
    // RFC 2132 §9.14: type 1 (Ethernet) + MAC, as iPXE and most PXE ROMs send
    options.set(DhcpOption.clientId, Buffer.concat([Buffer.from([HTYPE_ETHERNET]), chaddr]));
    for (const [code, value] of extra) options.set(code, value);
    options.set(DhcpOption.parameterRequestList, Buffer.from(PARAMETER_REQUEST_LIST));
    if (opts.arch !== undefined) {
      options.set(DhcpOption.clientArch, u16Option(opts.arch));
      // PXE 2.1 vendor class: PXEClient:Arch:xxxxx:UNDI:yyyzzz
      options.set(DhcpOption.vendorClass, textOption(`PXEClient:Arch:${String(opts.arch).padStart(5, '0')}:UNDI:003016`));
    }
    if (opts.userClass !== undefined) options.set(DhcpOption.userClass, Buffer.from(opts.userClass, 'latin1'));
    if (opts.hostname !== undefined) options.set(DhcpOption.hostname, textOption(opts.hostname));
    options.set(DhcpOption.relayAgentInfo, encodeRelayAgentInfo([[RelayAgentSubOption.relaySourcePort, Buffer.alloc(0)]]));
    return encodeDhcp({
      op: BootOp.request,
      htype: HTYPE_ETHERNET,
      hlen: 6,
      hops: 1, // RFC 1542 §4.1.1: the relay increments hops
      xid: ex.xid,
      secs: Math.min(0xffff, Math.floor((Date.now() - started) / 1000)),
      flags: 0,
      ciaddr: '0.0.0.0',
      yiaddr: '0.0.0.0',
      siaddr: '0.0.0.0',
      giaddr: opts.giaddr,
      chaddr,
      sname: '',
      file: '',
      options,
    });
  };

  try {
    const offer = await exchange(ex, 'OFFER', () => message(MessageType.discover, []), (m) => getMessageType(m) === MessageType.offer && getServerId(m) !== undefined && m.yiaddr !== '0.0.0.0');
    const offeredServerId = getServerId(offer)!;
    const request = message(MessageType.request, [
      [DhcpOption.requestedIp, ipOption(offer.yiaddr)],
      [DhcpOption.serverId, ipOption(offeredServerId)],
    ]);
    const reply = await exchange(
      ex,
      'ACK',
      () => request,
      (m) => {
        const t = getMessageType(m);
        return t === MessageType.nak || (t === MessageType.ack && getLeaseTime(m) !== undefined);
      },
    );
    if (getMessageType(reply) === MessageType.nak) {
      const why = reply.options.get(DhcpOption.message)?.toString('utf8') ?? '';
      throw new SwarmbootError('DHCP_NAK', `server ${offeredServerId} refused ${offer.yiaddr}${why ? `: ${why}` : ''}`, { context: { message: why, yiaddr: offer.yiaddr, xid: ex.xid } });
    }
    const lease: DhcpLease = {
      yiaddr: reply.yiaddr,
      siaddr: reply.siaddr,
      serverId: getServerId(reply) ?? offeredServerId,
      bootFile: getBootfileName(reply) ?? reply.file,
      leaseSeconds: getLeaseTime(reply)!,
      xid: ex.xid,
    };
    const subnetMask = getSubnetMask(reply);
    if (subnetMask !== undefined) lease.subnetMask = subnetMask;
    const router = getRouter(reply);
    if (router !== undefined) lease.router = router;
    const hostname = getHostname(reply);
    if (hostname !== undefined) lease.hostname = hostname;
    return lease;
  } finally {
    socket.close();
  }
}
