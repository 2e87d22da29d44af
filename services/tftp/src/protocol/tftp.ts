import { SwarmbootError } from '@swarmboot/contracts';

/**
 * Pure TFTP codec: RFC 1350 §5 packets (RRQ, WRQ, DATA, ACK, ERROR) and the RFC 2347 option
 * extension (options appended to RRQ/WRQ, OACK). No sockets here.
 */

/** Opcodes, RFC 1350 §5 and RFC 2347 (OACK). */
export const Opcode = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Error codes, RFC 1350 Appendix ("Error Codes") and RFC 2347 (8: option negotiation refused). */
export const TftpErrorCode = {
  notDefined: 0,
  fileNotFound: 1,
  accessViolation: 2,
  diskFull: 3,
  illegalOperation: 4,
  unknownTransferId: 5,
  fileExists: 6,
  noSuchUser: 7,
  optionsRefused: 8,
} as const;
export type TftpErrorCode = (typeof TftpErrorCode)[keyof typeof TftpErrorCode];

/** Transfer modes, RFC 1350 §5 (case-insensitive on the wire; "mail" is obsolete but defined). */
export type TftpMode = 'netascii' | 'octet' | 'mail';
const MODES: readonly TftpMode[] = ['netascii', 'octet', 'mail'];

/**
 * RFC 2347 options: lower-cased names (option names are case-insensitive) → value as sent,
 * in the order they appeared. A Map, so a name such as `__proto__` is just a name.
 */
export type TftpOptions = ReadonlyMap<string, string>;

export interface TftpRequest {
  readonly kind: 'RRQ' | 'WRQ';
  readonly filename: string;
  readonly mode: TftpMode;
  readonly options: TftpOptions;
}
export interface TftpData {
  readonly kind: 'DATA';
  /** 16-bit block number on the wire (0..65535; rolls over) */
  readonly block: number;
  readonly data: Buffer;
}
export interface TftpAck {
  readonly kind: 'ACK';
  readonly block: number;
}
export interface TftpError {
  readonly kind: 'ERROR';
  readonly code: number;
  readonly message: string;
}
export interface TftpOack {
  readonly kind: 'OACK';
  readonly options: TftpOptions;
}
export type TftpPacket = TftpRequest | TftpData | TftpAck | TftpError | TftpOack;

/** Thrown by the codec for anything that is not a well-formed TFTP packet. */
function malformed(message: string, context: Record<string, unknown> = {}): SwarmbootError {
  return new SwarmbootError('TFTP_MALFORMED', message, { context });
}

/** Reads a NUL-terminated string at `offset`; returns it and the offset after the NUL. */
function readString(buf: Buffer, offset: number, what: string): [string, number] {
  const end = buf.indexOf(0, offset);
  if (end < 0) throw malformed(`${what}: missing NUL terminator`, { offset });
  return [buf.toString('utf8', offset, end), end + 1];
}

/** Option pairs (RFC 2347 §"Packet Formats"): name NUL value NUL, repeated to the end. */
function readOptions(buf: Buffer, offset: number): Map<string, string> {
  const options = new Map<string, string>();
  let at = offset;
  while (at < buf.length) {
    if (buf[at] === 0) {
      // Some PXE ROMs pad their request with NULs after the last option; padding is not an option.
      if (buf.subarray(at).every((b) => b === 0)) break;
      throw malformed('empty option name', { offset: at });
    }
    const [rawName, afterName] = readString(buf, at, 'option name');
    const [value, afterValue] = readString(buf, afterName, `option ${rawName} value`);
    const name = rawName.toLowerCase();
    // RFC 2347 does not allow an option twice; which value would win is undefined, so refuse.
    if (options.has(name)) throw malformed(`duplicate option ${name}`, { option: name });
    options.set(name, value);
    at = afterValue;
  }
  return options;
}

/**
 * Decodes one TFTP datagram. Throws SwarmbootError `TFTP_MALFORMED` (context: offset, opcode,
 * option) for truncated packets, unknown opcodes, missing NUL terminators, unknown modes, empty
 * filenames and duplicate options.
 */
export function decodeTftp(buf: Buffer): TftpPacket {
  if (buf.length < 2) throw malformed('shorter than an opcode', { length: buf.length });
  const opcode = buf.readUInt16BE(0);
  switch (opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ: {
      const [filename, afterName] = readString(buf, 2, 'filename');
      if (filename === '') throw malformed('empty filename');
      const [rawMode, afterMode] = readString(buf, afterName, 'mode');
      const mode = rawMode.toLowerCase() as TftpMode;
      if (!MODES.includes(mode)) throw malformed(`unknown mode ${JSON.stringify(rawMode.slice(0, 32))}`);
      return { kind: opcode === Opcode.RRQ ? 'RRQ' : 'WRQ', filename, mode, options: readOptions(buf, afterMode) };
    }
    case Opcode.DATA:
      if (buf.length < 4) throw malformed('DATA shorter than 4 bytes', { length: buf.length });
      // copy: the datagram buffer may be reused by the caller
      return { kind: 'DATA', block: buf.readUInt16BE(2), data: Buffer.from(buf.subarray(4)) };
    case Opcode.ACK:
      // RFC 1350 §5: an ACK is exactly 4 bytes; trailing bytes are tolerated (and ignored) as
      // tftp-hpa does, since they carry no meaning.
      if (buf.length < 4) throw malformed('ACK shorter than 4 bytes', { length: buf.length });
      return { kind: 'ACK', block: buf.readUInt16BE(2) };
    case Opcode.ERROR: {
      if (buf.length < 4) throw malformed('ERROR shorter than 4 bytes', { length: buf.length });
      const [message] = readString(buf, 4, 'error message');
      return { kind: 'ERROR', code: buf.readUInt16BE(2), message };
    }
    case Opcode.OACK: {
      const options = readOptions(buf, 2);
      if (options.size === 0) throw malformed('OACK without options');
      return { kind: 'OACK', options };
    }
    default:
      throw malformed(`unknown opcode ${opcode}`, { opcode });
  }
}

function cString(s: string, what: string): Buffer {
  if (s.includes('\0')) throw malformed(`${what} contains NUL`);
  return Buffer.from(`${s}\0`, 'utf8');
}

function u16(n: number, what: string): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw malformed(`${what} ${n} is not a 16-bit unsigned integer`);
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}

function encodeOptions(options: TftpOptions): Buffer[] {
  const parts: Buffer[] = [];
  const seen = new Set<string>();
  for (const [name, value] of options) {
    if (name === '') throw malformed('empty option name');
    const lower = name.toLowerCase();
    if (seen.has(lower)) throw malformed(`duplicate option ${lower}`, { option: lower });
    seen.add(lower);
    parts.push(cString(name, 'option name'), cString(value, `option ${name} value`));
  }
  return parts;
}

/** Encodes one TFTP packet. Throws `TFTP_MALFORMED` for values that cannot be sent (NUL in a string, block > 65535, …). */
export function encodeTftp(packet: TftpPacket): Buffer {
  switch (packet.kind) {
    case 'RRQ':
    case 'WRQ':
      if (packet.filename === '') throw malformed('empty filename');
      return Buffer.concat([u16(packet.kind === 'RRQ' ? Opcode.RRQ : Opcode.WRQ, 'opcode'), cString(packet.filename, 'filename'), cString(packet.mode, 'mode'), ...encodeOptions(packet.options)]);
    case 'DATA':
      return Buffer.concat([u16(Opcode.DATA, 'opcode'), u16(packet.block, 'block'), packet.data]);
    case 'ACK':
      return Buffer.concat([u16(Opcode.ACK, 'opcode'), u16(packet.block, 'block')]);
    case 'ERROR':
      return Buffer.concat([u16(Opcode.ERROR, 'opcode'), u16(packet.code, 'error code'), cString(packet.message, 'error message')]);
    case 'OACK':
      if (packet.options.size === 0) throw malformed('OACK without options');
      return Buffer.concat([u16(Opcode.OACK, 'opcode'), ...encodeOptions(packet.options)]);
  }
}

/**
 * Converts octets to netascii (RFC 1350 §5 → RFC 764): LF becomes CR LF, a bare CR becomes CR NUL.
 * The server applies it to files requested in mode "netascii".
 */
export function toNetascii(data: Buffer): Buffer {
  let extra = 0;
  for (const b of data) if (b === 0x0a || b === 0x0d) extra++;
  if (extra === 0) return data;
  const out = Buffer.alloc(data.length + extra);
  let o = 0;
  for (const b of data) {
    if (b === 0x0a) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
    } else if (b === 0x0d) {
      out[o++] = 0x0d;
      out[o++] = 0x00;
    } else out[o++] = b;
  }
  return out;
}
