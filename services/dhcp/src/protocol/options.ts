import { SwarmbootError } from '@swarmboot/contracts';
import { malformed, type DhcpMessage } from './codec.js';
import { DhcpOption, RelayAgentSubOption } from './constants.js';

/*
 * Typed accessors for the options the server and the relay client read. Each returns undefined
 * when the option is absent and throws SwarmbootError `DHCP_MALFORMED` when it is present with a
 * length its RFC does not allow, so the caller drops the packet like any other malformed one.
 */

function exact(msg: DhcpMessage, code: number, len: number): Buffer | undefined {
  const v = msg.options.get(code);
  if (v === undefined) return undefined;
  if (v.length !== len) throw malformed(`option ${code} has length ${v.length}, expected ${len}`, { code, length: v.length });
  return v;
}

function atLeast(msg: DhcpMessage, code: number, min: number): Buffer | undefined {
  const v = msg.options.get(code);
  if (v === undefined) return undefined;
  if (v.length < min) throw malformed(`option ${code} has length ${v.length}, expected at least ${min}`, { code, length: v.length });
  return v;
}

/** `a.b.c.d` from 4 octets. */
export function ipFromBytes(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** Option 53 DHCP message type (RFC 2132 §9.6), 1 octet. */
export function getMessageType(msg: DhcpMessage): number | undefined {
  return exact(msg, DhcpOption.messageType, 1)?.[0];
}

/** Option 50 requested IP address (RFC 2132 §9.1), 4 octets. */
export function getRequestedIp(msg: DhcpMessage): string | undefined {
  const v = exact(msg, DhcpOption.requestedIp, 4);
  return v && ipFromBytes(v);
}

/** Option 54 server identifier (RFC 2132 §9.7), 4 octets. */
export function getServerId(msg: DhcpMessage): string | undefined {
  const v = exact(msg, DhcpOption.serverId, 4);
  return v && ipFromBytes(v);
}

/** Option 51 IP address lease time (RFC 2132 §9.2), seconds, unsigned 32 bit. */
export function getLeaseTime(msg: DhcpMessage): number | undefined {
  return exact(msg, DhcpOption.leaseTime, 4)?.readUInt32BE(0);
}

/** Option 1 subnet mask (RFC 2132 §3.3). */
export function getSubnetMask(msg: DhcpMessage): string | undefined {
  const v = exact(msg, DhcpOption.subnetMask, 4);
  return v && ipFromBytes(v);
}

/** Option 3 routers (RFC 2132 §3.5): the first of the list. */
export function getRouter(msg: DhcpMessage): string | undefined {
  const v = atLeast(msg, DhcpOption.router, 4);
  if (v && v.length % 4 !== 0) throw malformed(`option 3 length ${v.length} is not a multiple of 4`);
  return v && ipFromBytes(v);
}

/** Option 55 parameter request list (RFC 2132 §9.8): option codes, in the client's order. */
export function getParameterRequestList(msg: DhcpMessage): number[] | undefined {
  const v = msg.options.get(DhcpOption.parameterRequestList);
  return v && [...v];
}

/** Option 60 vendor class identifier (RFC 2132 §9.13), e.g. `PXEClient:Arch:00007:UNDI:003016`. */
export function getVendorClass(msg: DhcpMessage): string | undefined {
  return atLeast(msg, DhcpOption.vendorClass, 1)?.toString('latin1');
}

/** Option 61 client identifier (RFC 2132 §9.14): type octet + identifier, at least 2 octets. */
export function getClientId(msg: DhcpMessage): Buffer | undefined {
  return atLeast(msg, DhcpOption.clientId, 2);
}

/**
 * Option 77 user class (RFC 3004 §4): a list of length-prefixed opaque classes. iPXE (and some
 * other clients) send the bare text instead ("iPXE"); a value that is not a well-formed RFC 3004
 * list is taken as one class of raw text. Returns the classes as latin1 strings.
 */
export function getUserClasses(msg: DhcpMessage): string[] | undefined {
  const v = atLeast(msg, DhcpOption.userClass, 1);
  if (v === undefined) return undefined;
  const classes: string[] = [];
  let i = 0;
  while (i < v.length) {
    const len = v[i]!;
    // RFC 3004 §4: UC_Len_i is at least 1
    if (len === 0 || i + 1 + len > v.length) return [v.toString('latin1')];
    classes.push(v.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  return classes;
}

/** Encodes user classes as an RFC 3004 list (each class 1..255 octets). */
export function encodeUserClasses(classes: readonly string[]): Buffer {
  return Buffer.concat(
    classes.map((c) => {
      const b = Buffer.from(c, 'latin1');
      if (b.length < 1 || b.length > 255) throw new SwarmbootError('DHCP_ENCODE', `user class of ${b.length} octets (1..255)`);
      return Buffer.concat([Buffer.from([b.length]), b]);
    }),
  );
}

/** Option 93 client system architecture types (RFC 4578 §2.1): a list of 16-bit values. */
export function getClientArchs(msg: DhcpMessage): number[] | undefined {
  const v = atLeast(msg, DhcpOption.clientArch, 2);
  if (v === undefined) return undefined;
  if (v.length % 2 !== 0) throw malformed(`option 93 length ${v.length} is odd`);
  const archs: number[] = [];
  for (let i = 0; i < v.length; i += 2) archs.push(v.readUInt16BE(i));
  return archs;
}

/** The first (preferred) architecture of option 93 (RFC 4578 §2.1). */
export function getClientArch(msg: DhcpMessage): number | undefined {
  return getClientArchs(msg)?.[0];
}

/** Option 12 host name (RFC 2132 §3.14), at least 1 octet. */
export function getHostname(msg: DhcpMessage): string | undefined {
  return atLeast(msg, DhcpOption.hostname, 1)?.toString('utf8');
}

/** Option 67 bootfile name (RFC 2132 §9.5); a trailing NUL (sent for broken PXE ROMs) is cut. */
export function getBootfileName(msg: DhcpMessage): string | undefined {
  const v = atLeast(msg, DhcpOption.bootfileName, 1);
  if (v === undefined) return undefined;
  const nul = v.indexOf(0);
  return v.subarray(0, nul === -1 ? v.length : nul).toString('utf8');
}

/**
 * Sub-options of option 82 Relay Agent Information (RFC 3046 §2.0): code, length, value — no
 * PAD/END. Throws DHCP_MALFORMED when a sub-option runs past the option.
 */
export function decodeRelayAgentInfo(value: Buffer): Map<number, Buffer> {
  const subs = new Map<number, Buffer>();
  let i = 0;
  while (i < value.length) {
    if (i + 1 >= value.length) throw malformed(`option 82 sub-option ${value[i]} has no length octet`);
    const code = value[i]!;
    const len = value[i + 1]!;
    if (i + 2 + len > value.length) throw malformed(`option 82 sub-option ${code} runs past the option`, { code });
    const seen = subs.get(code);
    const v = value.subarray(i + 2, i + 2 + len);
    subs.set(code, seen === undefined ? Buffer.from(v) : Buffer.concat([seen, v]));
    i += 2 + len;
  }
  return subs;
}

/** Encodes option 82 sub-options in the given order. */
export function encodeRelayAgentInfo(subs: Iterable<readonly [number, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [code, v] of subs) {
    if (v.length > 255) throw new SwarmbootError('DHCP_ENCODE', `option 82 sub-option ${code} of ${v.length} octets`);
    parts.push(Buffer.from([code, v.length]), v);
  }
  return Buffer.concat(parts);
}

/** Option 82's sub-options, or undefined without option 82. */
export function getRelayAgentInfo(msg: DhcpMessage): Map<number, Buffer> | undefined {
  const v = msg.options.get(DhcpOption.relayAgentInfo);
  return v && decodeRelayAgentInfo(v);
}

/**
 * true when option 82 carries the Relay Source Port sub-option (RFC 8357 §5.1, code 19): the
 * server must then reply to giaddr at the UDP source port of the request (§5.2), not port 67.
 */
export function hasRelaySourcePort(msg: DhcpMessage): boolean {
  return getRelayAgentInfo(msg)?.has(RelayAgentSubOption.relaySourcePort) ?? false;
}

/* Value builders for encoding. */

export function ipOption(ip: string): Buffer {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new SwarmbootError('DHCP_ENCODE', `not an IPv4 address: ${ip}`);
  return Buffer.from(parts);
}

export function ipListOption(ips: readonly string[]): Buffer {
  return Buffer.concat(ips.map(ipOption));
}

export function u8Option(n: number): Buffer {
  return Buffer.from([n]);
}

export function u16Option(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u32Option(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export function textOption(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/**
 * Option 67 with a terminating NUL: RFC 2132 §9.5 strings carry no NUL, but several PXE ROMs
 * read the value as a C string and need one (ISC dhcpd and dnsmasq add it too).
 */
export function bootfileOption(name: string): Buffer {
  return Buffer.concat([Buffer.from(name, 'utf8'), Buffer.from([0])]);
}

/** `aa:bb:cc:dd:ee:ff` (lower case, colon separated) of chaddr's octets. */
export function formatMac(chaddr: Buffer): string {
  return [...chaddr].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** chaddr octets of a MAC `aa:bb:…` or `aa-bb-…`; throws DHCP_ENCODE otherwise. */
export function macToChaddr(mac: string): Buffer {
  const hex = mac.replace(/[:-]/g, '');
  if (!/^([0-9a-fA-F]{2}){1,16}$/.test(hex)) throw new SwarmbootError('DHCP_ENCODE', `not a hardware address: ${mac}`);
  return Buffer.from(hex, 'hex');
}
