import { SwarmbootError, type ErrorCode } from '@swarmboot/contracts';
import { DhcpOption, FIXED_HEADER_LENGTH, MAGIC_COOKIE, MIN_BOOTP_LENGTH } from './constants.js';

/**
 * A DHCPv4 message: the fixed BOOTP header of RFC 2131 §2 (Figure 1) plus the options of
 * RFC 2132. Addresses are dotted quads, `chaddr` holds the first `hlen` octets of the 16-octet
 * field, `sname`/`file` are the NUL-terminated strings of their fields ('' when the field is
 * used for options, RFC 2132 §9.3). `options` maps a code to its value; an option that occurred
 * several times is concatenated (RFC 3396 §5). PAD and END are not kept.
 */
export interface DhcpMessage {
  /** 1 BOOTREQUEST, 2 BOOTREPLY */
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  /** transaction id, unsigned 32 bit */
  xid: number;
  /** seconds since the client began acquiring or renewing */
  secs: number;
  /** bit 15 is the broadcast flag (RFC 2131 §2, RFC 1542 §3.1.1) */
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  chaddr: Buffer;
  sname: string;
  file: string;
  options: Map<number, Buffer>;
}

/** Error code of every decode failure: the packet is dropped, never answered. */
export const DHCP_MALFORMED = 'DHCP_MALFORMED' satisfies ErrorCode;

export function malformed(message: string, context: Record<string, unknown> = {}): SwarmbootError {
  return new SwarmbootError(DHCP_MALFORMED, message, { context });
}

function ipAt(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

function cString(field: Buffer): string {
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? field.length : nul).toString('utf8');
}

/**
 * Parses one option area (RFC 2132 §2: code, length, value; PAD and END have no length) into
 * `into`, concatenating repeated codes (RFC 3396). `requireEnd`: the `options` field must end
 * with END (RFC 2131 §4.1), which is also what makes a truncated datagram detectable.
 */
function parseOptionArea(area: Buffer, where: string, into: Map<number, Buffer>, requireEnd: boolean): void {
  let i = 0;
  while (i < area.length) {
    const code = area[i]!;
    if (code === DhcpOption.pad) {
      i += 1;
      continue;
    }
    if (code === DhcpOption.end) return;
    if (i + 1 >= area.length) throw malformed(`option ${code} in ${where} has no length octet`, { code, offset: i });
    const len = area[i + 1]!;
    const start = i + 2;
    if (start + len > area.length) throw malformed(`option ${code} in ${where} runs past the end (length ${len}, ${area.length - start} octets left)`, { code, offset: i });
    const value = area.subarray(start, start + len);
    const seen = into.get(code);
    into.set(code, seen === undefined ? Buffer.from(value) : Buffer.concat([seen, value]));
    i = start + len;
  }
  if (requireEnd) throw malformed(`${where} has no END option (truncated?)`);
}

/**
 * Decodes a DHCPv4 datagram (the UDP payload). Handles PAD/END, repeated options (RFC 3396) and
 * option overload (option 52: options continued in `file`, then `sname`, RFC 2131 §4.1).
 * Throws SwarmbootError `DHCP_MALFORMED` when the datagram is shorter than header + cookie, the
 * cookie is not 99.130.83.99, `op` is not 1 or 2, `hlen` > 16, an option runs past its area or END is missing.
 */
export function decodeDhcp(buf: Buffer): DhcpMessage {
  if (buf.length < FIXED_HEADER_LENGTH + 4) throw malformed(`datagram of ${buf.length} octets is shorter than the BOOTP header and magic cookie (240)`, { length: buf.length });
  const cookie = buf.readUInt32BE(FIXED_HEADER_LENGTH);
  if (cookie !== MAGIC_COOKIE) throw malformed(`bad magic cookie 0x${cookie.toString(16).padStart(8, '0')}`, { cookie });
  const op = buf[0]!;
  if (op !== 1 && op !== 2) throw malformed(`op ${op} is neither BOOTREQUEST (1) nor BOOTREPLY (2)`, { op });
  const hlen = buf[2]!;
  if (hlen > 16) throw malformed(`hlen ${hlen} exceeds the 16-octet chaddr field`, { hlen });

  const options = new Map<number, Buffer>();
  parseOptionArea(buf.subarray(FIXED_HEADER_LENGTH + 4), 'options', options, true);

  const snameField = buf.subarray(44, 108);
  const fileField = buf.subarray(108, 236);
  let sname = cString(snameField);
  let file = cString(fileField);
  const overload = options.get(DhcpOption.overload);
  if (overload !== undefined && overload.length === 1 && overload[0]! >= 1 && overload[0]! <= 3) {
    // RFC 2131 §4.1: options, then `file`, then `sname`. A malformed value of option 52 is ignored.
    options.delete(DhcpOption.overload);
    if (overload[0]! & 1) {
      parseOptionArea(fileField, 'file (overloaded)', options, false);
      file = '';
    }
    if (overload[0]! & 2) {
      parseOptionArea(snameField, 'sname (overloaded)', options, false);
      sname = '';
    }
  }

  return {
    op,
    htype: buf[1]!,
    hlen,
    hops: buf[3]!,
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: ipAt(buf, 12),
    yiaddr: ipAt(buf, 16),
    siaddr: ipAt(buf, 20),
    giaddr: ipAt(buf, 24),
    chaddr: Buffer.from(buf.subarray(28, 28 + hlen)),
    sname,
    file,
    options,
  };
}

function writeIp(buf: Buffer, offset: number, ip: string, field: string): void {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new SwarmbootError('DHCP_ENCODE', `${field} is not an IPv4 address: ${JSON.stringify(ip)}`);
  }
  parts.forEach((p, k) => (buf[offset + k] = Number(p)));
}

function writeString(buf: Buffer, offset: number, size: number, value: string, field: string): void {
  const bytes = Buffer.from(value, 'utf8');
  // keep one octet for the terminating NUL
  if (bytes.length > size - 1) throw new SwarmbootError('DHCP_ENCODE', `${field} is ${bytes.length} octets; the field holds ${size - 1} plus NUL`);
  bytes.copy(buf, offset);
}

/** Writes one option, split into several instances when longer than 255 octets (RFC 3396 §6). */
function optionBytes(code: number, value: Buffer): Buffer[] {
  if (code === DhcpOption.pad || code === DhcpOption.end) throw new SwarmbootError('DHCP_ENCODE', `option ${code} (PAD/END) cannot carry a value`);
  if (!Number.isInteger(code) || code < 0 || code > 255) throw new SwarmbootError('DHCP_ENCODE', `option code ${code} is not an octet`);
  const out: Buffer[] = [];
  let rest = value;
  do {
    const chunk = rest.subarray(0, 255);
    out.push(Buffer.from([code, chunk.length]), chunk);
    rest = rest.subarray(chunk.length);
  } while (rest.length > 0);
  return out;
}

/**
 * Encodes a DHCPv4 message. Option order: 53 (message type) first, then the map's insertion
 * order, then 82 (Relay Agent Information) last, as RFC 3046 §2.1 asks, then END; the datagram is
 * padded to 300 octets (RFC 1542 §2.1). Options are never overloaded into `sname`/`file`.
 * Throws SwarmbootError `DHCP_ENCODE` for an address that is not a dotted quad, a `chaddr`
 * longer than 16 octets, or an `sname`/`file` that does not fit its field.
 */
export function encodeDhcp(msg: DhcpMessage): Buffer {
  if (msg.chaddr.length > 16) throw new SwarmbootError('DHCP_ENCODE', `chaddr of ${msg.chaddr.length} octets exceeds 16`);
  const header = Buffer.alloc(FIXED_HEADER_LENGTH + 4);
  header[0] = msg.op;
  header[1] = msg.htype;
  header[2] = msg.hlen;
  header[3] = msg.hops;
  header.writeUInt32BE(msg.xid >>> 0, 4);
  header.writeUInt16BE(msg.secs, 8);
  header.writeUInt16BE(msg.flags, 10);
  writeIp(header, 12, msg.ciaddr, 'ciaddr');
  writeIp(header, 16, msg.yiaddr, 'yiaddr');
  writeIp(header, 20, msg.siaddr, 'siaddr');
  writeIp(header, 24, msg.giaddr, 'giaddr');
  msg.chaddr.copy(header, 28);
  writeString(header, 44, 64, msg.sname, 'sname');
  writeString(header, 108, 128, msg.file, 'file');
  header.writeUInt32BE(MAGIC_COOKIE, FIXED_HEADER_LENGTH);

  const parts: Buffer[] = [header];
  const type = msg.options.get(DhcpOption.messageType);
  if (type !== undefined) parts.push(...optionBytes(DhcpOption.messageType, type));
  for (const [code, value] of msg.options) {
    if (code !== DhcpOption.messageType && code !== DhcpOption.relayAgentInfo) parts.push(...optionBytes(code, value));
  }
  const relay = msg.options.get(DhcpOption.relayAgentInfo);
  if (relay !== undefined) parts.push(...optionBytes(DhcpOption.relayAgentInfo, relay));
  parts.push(Buffer.from([DhcpOption.end]));
  const length = parts.reduce((n, p) => n + p.length, 0);
  if (length < MIN_BOOTP_LENGTH) parts.push(Buffer.alloc(MIN_BOOTP_LENGTH - length));
  return Buffer.concat(parts);
}
