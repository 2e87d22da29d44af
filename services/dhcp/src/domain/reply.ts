import type { DhcpMessage } from '../protocol/codec.js';
import { BootOp, DhcpOption, MessageType } from '../protocol/constants.js';
import { bootfileOption, getRequestedIp, getServerId, ipListOption, ipOption, textOption, u32Option, u8Option } from '../protocol/options.js';
import type { Subnet } from './subnets.js';

/**
 * What a client is doing when it sends DHCPREQUEST (RFC 2131 §4.3.2), told apart by which of
 * server identifier (54), requested IP (50) and ciaddr it filled in:
 * - `selecting`: 54 and 50 set, ciaddr 0 — answering our (or another server's) OFFER;
 * - `init-reboot`: 50 set, no 54, ciaddr 0 — verifying a remembered address after a reboot;
 * - `renewing`: ciaddr set, no 54 and no 50 — RENEWING or REBINDING (the same for a server
 *   that answers both: unicast vs broadcast is all that differs).
 * `ip` is the address the client wants.
 */
export type RequestIntent = { state: 'selecting'; ip: string; serverId: string } | { state: 'init-reboot'; ip: string } | { state: 'renewing'; ip: string };

/** Classifies a DHCPREQUEST; undefined when the fields fit none of the three states. */
export function classifyRequest(req: DhcpMessage): RequestIntent | undefined {
  const serverId = getServerId(req);
  const requested = getRequestedIp(req);
  const ciaddrSet = req.ciaddr !== '0.0.0.0';
  if (serverId !== undefined) return requested !== undefined && !ciaddrSet ? { state: 'selecting', ip: requested, serverId } : undefined;
  if (requested !== undefined) return ciaddrSet ? undefined : { state: 'init-reboot', ip: requested };
  return ciaddrSet ? { state: 'renewing', ip: req.ciaddr } : undefined;
}

/** What goes into an OFFER or ACK besides the request's own fields. */
export interface GrantParams {
  type: typeof MessageType.offer | typeof MessageType.ack;
  serverId: string;
  yiaddr: string;
  subnet: Subnet;
  /**
   * option 51 (seconds); T1 = 1/2 and T2 = 7/8 of it (RFC 2131 §4.4.5). Absent for an ACK to
   * DHCPINFORM (RFC 2131 §4.3.5: no lease time) and for proxyDHCP replies.
   */
  leaseSeconds?: number;
  bootFile?: string;
  hostname?: string;
  /**
   * option 60 sent back: "PXEClient" for proxyDHCP (PXE spec 2.1 §2.2.1: a proxy offer MUST
   * carry it) and "HTTPClient" for UEFI HTTP boot (UEFI 2.x §24.7.2: the offer MUST carry it).
   */
  vendorClass?: string;
  /**
   * proxyDHCP: option 43 with PXE_DISCOVERY_CONTROL (sub-option 6) = 8, "boot file in this
   * reply, skip boot server discovery" (PXE spec 2.1 Table 2-1), as dnsmasq does.
   */
  pxeDiscoveryControl?: boolean;
  /** DHCPINFORM / proxyDHCP: no subnet configuration besides the boot parameters */
  bootOnly?: boolean;
}

/*
 * Option values that only depend on configuration, encoded once: a boot storm encodes the same
 * mask, router and server id thousands of times a second. Values are never mutated (the encoder
 * copies them into the datagram), so sharing one Buffer is safe.
 */
const ipCache = new Map<string, Buffer>();
function ipValue(ip: string): Buffer {
  let v = ipCache.get(ip);
  if (v === undefined) {
    v = ipOption(ip);
    if (ipCache.size < 4096) ipCache.set(ip, v);
  }
  return v;
}
const timesCache = new Map<number, [Buffer, Buffer, Buffer]>();
function leaseValues(seconds: number): [Buffer, Buffer, Buffer] {
  let v = timesCache.get(seconds);
  if (v === undefined) {
    v = [u32Option(seconds), u32Option(Math.floor(seconds / 2)), u32Option(Math.floor((seconds * 7) / 8))];
    if (timesCache.size < 64) timesCache.set(seconds, v);
  }
  return v;
}
const dnsCache = new WeakMap<readonly string[], Buffer>();

/** The `file` field holds 127 octets plus NUL; a longer boot file name is sent in option 67 only. */
const FILE_FIELD_MAX = 127;

function base(req: DhcpMessage): DhcpMessage {
  // RFC 2131 §4.3.1 Table 3: htype, hlen, xid, flags, giaddr and chaddr come from the request;
  // hops and secs are 0.
  return {
    op: BootOp.reply,
    htype: req.htype,
    hlen: req.hlen,
    hops: 0,
    xid: req.xid,
    secs: 0,
    flags: req.flags,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: req.giaddr,
    chaddr: req.chaddr,
    sname: '',
    file: '',
    options: new Map(),
  };
}

/** Options every reply carries at its end: 61 echoed (RFC 6842 §3), then 82 echoed unchanged (RFC 3046 §2.2). */
function echoTail(req: DhcpMessage, reply: DhcpMessage): void {
  const clientId = req.options.get(DhcpOption.clientId);
  if (clientId !== undefined) reply.options.set(DhcpOption.clientId, clientId);
  const relay = req.options.get(DhcpOption.relayAgentInfo);
  if (relay !== undefined) reply.options.set(DhcpOption.relayAgentInfo, relay);
}

/**
 * DHCPOFFER / DHCPACK for `req` (RFC 2131 §4.3.1 Table 3): yiaddr, siaddr = the subnet's next
 * server, boot file in `file` and option 67, options 53, 54, 51, 58, 59, 1, 3, 6, 12, 67, 61, 82.
 * ACK keeps the request's ciaddr (RENEWING clients send theirs).
 */
export function buildGrant(req: DhcpMessage, p: GrantParams): DhcpMessage {
  const reply = base(req);
  if (p.type === MessageType.ack) reply.ciaddr = req.ciaddr;
  reply.yiaddr = p.yiaddr;
  reply.siaddr = p.subnet.nextServer;
  const o = reply.options;
  o.set(DhcpOption.messageType, u8Option(p.type));
  o.set(DhcpOption.serverId, ipValue(p.serverId));
  if (p.leaseSeconds !== undefined) {
    const [lease, t1, t2] = leaseValues(p.leaseSeconds);
    o.set(DhcpOption.leaseTime, lease);
    o.set(DhcpOption.renewalTime, t1);
    o.set(DhcpOption.rebindingTime, t2);
  }
  if (p.bootOnly !== true) {
    o.set(DhcpOption.subnetMask, ipValue(p.subnet.mask));
    if (p.subnet.router !== undefined) o.set(DhcpOption.router, ipValue(p.subnet.router));
    if (p.subnet.dns.length > 0) {
      let dns = dnsCache.get(p.subnet.dns);
      if (dns === undefined) dnsCache.set(p.subnet.dns, (dns = ipListOption(p.subnet.dns)));
      o.set(DhcpOption.dns, dns);
    }
  }
  if (p.hostname !== undefined && p.hostname !== '') o.set(DhcpOption.hostname, textOption(p.hostname));
  if (p.vendorClass !== undefined) o.set(DhcpOption.vendorClass, textOption(p.vendorClass));
  if (p.pxeDiscoveryControl === true) o.set(DhcpOption.vendorOptions, Buffer.from([6, 1, 8, 255]));
  if (p.bootFile !== undefined) {
    o.set(DhcpOption.bootfileName, bootfileOption(p.bootFile));
    if (Buffer.byteLength(p.bootFile, 'utf8') <= FILE_FIELD_MAX) reply.file = p.bootFile;
  }
  echoTail(req, reply);
  return reply;
}

/**
 * DHCPNAK for `req` (RFC 2131 §4.3.2, Table 3): yiaddr, siaddr, ciaddr 0; options 53, 54, 56
 * (a reason for the client's log), 61 and 82 echoed; nothing else.
 */
export function buildNak(req: DhcpMessage, serverId: string, message: string): DhcpMessage {
  const reply = base(req);
  reply.options.set(DhcpOption.messageType, u8Option(MessageType.nak));
  reply.options.set(DhcpOption.serverId, ipValue(serverId));
  reply.options.set(DhcpOption.message, textOption(message));
  echoTail(req, reply);
  return reply;
}
