import { SwarmbootError } from '@swarmboot/contracts';
import { MAX_SYSLOG_BYTES } from './syslog.js';

/**
 * Pure netconsole codec (Linux Documentation/networking/netconsole.rst). No socket, NATS or Redis.
 *
 * A datagram is one of two forms, told apart by its first bytes:
 *
 * - **plain** (the default, `netconsole=@/,6666@ip/`): console text — one or more lines, no PRI,
 *   no header. The level is unknown (severity 6, info) unless a line starts with a `<N>` level
 *   prefix; the facility is kern (0).
 * - **extended** ("Extended console", `netconsole=+…`): `<level>,<sequnum>,<timestamp>,<contflag>;
 *   <message text>` — the /dev/kmsg record format (Documentation/ABI/testing/dev-kmsg), `level`
 *   being the syslog prefix `facility << 3 | level`, `timestamp` µs since boot. Non-printable
 *   bytes of the text come escaped as `\xNN`; dictionary entries follow on their own lines
 *   (`\n KEY=value`, "If the message contains optional dictionary, verbatim newline is used as
 *   the delimiter"). A message longer than one datagram (1000 bytes) is split and every fragment
 *   carries `ncfrag=<byte-offset>/<total-bytes>` in its header; the fragments' bodies, put at
 *   their offsets, make the whole body. Kernels with the `r` option put the release first
 *   (`6.13.0,13,468,514729715,-;…`, "Release prepend").
 */

/** Whole extended message (all fragments) accepted at most (bytes): twice the kernel's CONSOLE_EXT_LOG_MAX (8 KiB, include/linux/printk.h), for the userdata newer kernels append. */
export const MAX_NETCONSOLE_MESSAGE_BYTES = 16 * 1024;

/** Why a datagram was refused; the `reason` label of `swarmboot_logsink_dropped_total`. */
export type NetconsoleMalformedReason =
  | 'empty' // zero bytes, or nothing but line ends
  | 'oversized' // more than MAX_SYSLOG_BYTES in one datagram
  | 'bad_header' // an extended header with a level above 191
  | 'bad_fragment'; // ncfrag offset/total out of range, or total above MAX_NETCONSOLE_MESSAGE_BYTES

/** The extended header of one datagram (netconsole.rst "Extended console"). */
export interface NetconsoleHeader {
  /** 0–23 (`level >> 3`; 0, kern, for the kernel's own messages) */
  facility: number;
  /** 0–7 (`level & 7`) */
  severity: number;
  /** printk's record sequence number; it starts at 0 at boot and counts every record */
  seq: number;
  /** µs since boot */
  bootTimeUs: number;
  /** `-` (a whole record), `c` (first part of a continued line), `+` (its continuation) */
  contflag: '-' | 'c' | '+';
  /** the kernel release, when netconsole was asked to prepend it (`r`) */
  release?: string;
  /** ncfrag: where this datagram's body goes in the whole message (bytes) */
  fragment?: { offset: number; total: number };
}

/** A decoded datagram: console text, or an extended record (maybe one fragment of one). */
export type NetconsoleDatagram = { kind: 'plain'; lines: NetconsoleLine[] } | { kind: 'extended'; header: NetconsoleHeader; body: Buffer };

/** One line as it is stored (the `ReceivedLine` of the `netconsole` format). */
export interface NetconsoleLine {
  format: 'netconsole';
  facility: number;
  severity: number;
  message: string;
  seq?: number;
  bootTimeUs?: number;
  /** the extended record's dictionary (`SUBSYSTEM`, `DEVICE`, netconsole userdata) */
  fields?: Record<string, string>;
}

/** A header is ASCII before the first ';' and this short: release (≤ 64) + four numbers + ncfrag. */
const MAX_HEADER_BYTES = 200;
const SEMI = 0x3b;
const LF = 0x0a;
const DEFAULT_SEVERITY = 6;
const HEADER = /^(?:([^,;\s]+),)?(\d{1,4}),(\d{1,20}),(\d{1,20}),([-c+])((?:,[^,;]*)*)$/;
const NCFRAG = /^ncfrag=(\d{1,6})\/(\d{1,6})$/;
const LEVEL_PREFIX = /^<(\d{1,3})>/;

function malformed(reason: NetconsoleMalformedReason, detail: string, bytes: number): SwarmbootError {
  return new SwarmbootError('NETCONSOLE_MALFORMED', `malformed netconsole datagram (${reason}): ${detail}`, { context: { reason, bytes } });
}

/**
 * Decodes one netconsole datagram. Plain text is split into its non-empty lines (CR, NUL and
 * trailing blanks removed; bytes that are not UTF-8 become U+FFFD). An extended datagram is
 * returned with its header and raw body: a fragment goes to the reassembler, a whole record to
 * {@link extendedLine}. Throws SwarmbootError `NETCONSOLE_MALFORMED` (context
 * `{ reason: NetconsoleMalformedReason, bytes }`) and nothing else.
 */
export function decodeNetconsole(buf: Buffer): NetconsoleDatagram {
  if (buf.length === 0) throw malformed('empty', 'zero bytes', 0);
  if (buf.length > MAX_SYSLOG_BYTES) throw malformed('oversized', `${buf.length} bytes > ${MAX_SYSLOG_BYTES}`, buf.length);
  const header = extendedHeader(buf);
  if (header) return { kind: 'extended', header: header.header, body: buf.subarray(header.bodyStart) };
  const lines: NetconsoleLine[] = [];
  for (const raw of buf.toString('utf8').split('\n')) {
    const text = raw.replace(/[\r\0]+/g, '').trimEnd();
    if (text === '') continue;
    const level = LEVEL_PREFIX.exec(text);
    const value = level ? Number(level[1]) : undefined;
    if (value !== undefined && value <= 191) {
      lines.push({ format: 'netconsole', facility: value >> 3, severity: value & 7, message: text.slice(level![0].length) });
    } else {
      lines.push({ format: 'netconsole', facility: 0, severity: DEFAULT_SEVERITY, message: text });
    }
  }
  if (lines.length === 0) throw malformed('empty', 'no text', buf.length);
  return { kind: 'plain', lines };
}

/** The extended header, or undefined when the datagram does not start with one (plain text). */
function extendedHeader(buf: Buffer): { header: NetconsoleHeader; bodyStart: number } | undefined {
  const semi = buf.subarray(0, MAX_HEADER_BYTES).indexOf(SEMI);
  if (semi < 0) return undefined;
  const m = HEADER.exec(buf.toString('latin1', 0, semi));
  if (!m) return undefined;
  const level = Number(m[2]);
  if (level > 191) throw malformed('bad_header', `level ${level} > 191`, buf.length);
  const header: NetconsoleHeader = {
    facility: level >> 3,
    severity: level & 7,
    seq: Number(m[3]),
    bootTimeUs: Number(m[4]),
    contflag: m[5] as NetconsoleHeader['contflag'],
    ...(m[1] === undefined ? {} : { release: m[1] }),
  };
  // Fields after the flag: ncfrag, and whatever later kernels add (dev-kmsg: "further fields may be added").
  for (const field of (m[6] ?? '').split(',').slice(1)) {
    const f = NCFRAG.exec(field);
    if (!f) continue;
    const offset = Number(f[1]);
    const total = Number(f[2]);
    const bodyBytes = buf.length - semi - 1;
    if (total > MAX_NETCONSOLE_MESSAGE_BYTES) throw malformed('bad_fragment', `ncfrag total ${total} > ${MAX_NETCONSOLE_MESSAGE_BYTES}`, buf.length);
    if (bodyBytes === 0 || offset + bodyBytes > total) throw malformed('bad_fragment', `ncfrag=${offset}/${total} with ${bodyBytes} body bytes`, buf.length);
    header.fragment = { offset, total };
  }
  return { header, bodyStart: semi + 1 };
}

/**
 * The stored line of a whole extended record: the message text (first line of `body`, `\xNN`
 * escapes undone, then UTF-8 with U+FFFD for invalid bytes), the dictionary lines after it as
 * `fields` (one leading space dropped; lines without `=` ignored), and the header's level, seq
 * and timestamp. Never throws.
 */
export function extendedLine(header: NetconsoleHeader, body: Buffer): NetconsoleLine {
  const nl = body.indexOf(LF);
  const text = unescapeKmsg(nl < 0 ? body : body.subarray(0, nl)).replace(/[\r\0]+$/, '');
  // a Map, then own properties: `fields[key] = v` would drop a userdata key named __proto__ (found by fuzzing)
  const fields = new Map<string, string>();
  if (nl >= 0) {
    for (const raw of body.subarray(nl + 1).toString('utf8').split('\n')) {
      const entry = raw.startsWith(' ') ? raw.slice(1) : raw;
      const eq = entry.indexOf('=');
      if (eq > 0) fields.set(entry.slice(0, eq), unescapeKmsg(Buffer.from(entry.slice(eq + 1), 'utf8')));
    }
  }
  return {
    format: 'netconsole',
    facility: header.facility,
    severity: header.severity,
    message: text,
    seq: header.seq,
    bootTimeUs: header.bootTimeUs,
    ...(fields.size === 0 ? {} : { fields: Object.fromEntries(fields) }),
  };
}

/** Undoes the kernel's `\xNN` escaping of non-printable bytes (printk's msg_print_ext_body), then decodes UTF-8. */
function unescapeKmsg(raw: Buffer): string {
  if (raw.indexOf('\\x') < 0) return raw.toString('utf8');
  const out = Buffer.allocUnsafe(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === 0x5c && raw[i + 1] === 0x78 && isHex(raw[i + 2]) && isHex(raw[i + 3])) {
      out[n++] = parseInt(raw.toString('latin1', i + 2, i + 4), 16);
      i += 3;
    } else {
      out[n++] = b;
    }
  }
  return out.toString('utf8', 0, n);
}

function isHex(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));
}
