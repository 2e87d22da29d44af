import { SwarmbootError } from '@swarmboot/contracts';

/**
 * Pure syslog codec: RFC 5424 (the IETF format) and RFC 3164 (the BSD format, plus the lenient
 * forms busybox syslogd/klogd and the Debian installer actually send). No socket, NATS or Redis.
 *
 * Policy for a datagram without a valid PRI: DROPPED (SYSLOG_MALFORMED, reason `no_pri` /
 * `bad_pri`) rather than given the RFC 3164 §4.3.3 default PRI 13. Every sender we expect
 * (glibc/musl syslog(3) via busybox syslogd -R, klogd, rsyslog, systemd-netlogd, util-linux
 * logger, our agent) puts a PRI first; netconsole, which has none, gets its own transport. A
 * datagram on the syslog port without one is far more likely a scanner or a misdirected packet
 * than a log line, and storing it would let garbage fill the per-node streams.
 */

/** Largest datagram accepted (bytes). UDP/IPv4 cannot carry more than 65,507; RFC 6587 frames may. */
export const MAX_SYSLOG_BYTES = 64 * 1024;

/** RFC 5424 §6.2.1 table 2 (same values as RFC 3164 §4.1.1). */
export const SyslogSeverity = {
  emerg: 0,
  alert: 1,
  crit: 2,
  err: 3,
  warning: 4,
  notice: 5,
  info: 6,
  debug: 7,
} as const;
export type SyslogSeverity = (typeof SyslogSeverity)[keyof typeof SyslogSeverity];

/** The facilities senders of this project use (RFC 5424 §6.2.1 table 1). */
export const SyslogFacility = { kern: 0, user: 1, daemon: 3, local0: 16 } as const;

export type SyslogFormat = 'rfc5424' | 'rfc3164';

/** Why a datagram was refused; the `reason` label of `swarmboot_logsink_dropped_total`. */
export type SyslogMalformedReason =
  | 'empty' // zero bytes
  | 'oversized' // more than MAX_SYSLOG_BYTES
  | 'no_pri' // does not start with '<'
  | 'bad_pri' // '<' not followed by 1–3 digits, '>' and a value 0–191
  | 'truncated' // nothing after the PRI, or an RFC 5424 header / structured data cut short
  | 'bad_header' // an RFC 5424 header field that breaks §6 (characters, lengths, timestamp)
  | 'bad_structured_data'; // RFC 5424 §6.3 structured data that is not NILVALUE or [ID params]

/** One RFC 5424 §6.3 SD-ELEMENT. Params are a list: names may repeat (§6.3.3). */
export interface SdElement {
  id: string;
  params: { name: string; value: string }[];
}

/** A parsed syslog message. Absent fields (NILVALUE `-`, or not sent) are `undefined`. */
export interface ParsedSyslog {
  format: SyslogFormat;
  /** 0–23 (PRI >> 3) */
  facility: number;
  /** 0–7 (PRI & 7) */
  severity: number;
  /**
   * The message's own time, ISO 8601. RFC 5424: the TIMESTAMP as sent (RFC 3339, with offset).
   * RFC 3164: `YYYY-MM-DDThh:mm:ss` WITHOUT an offset — the BSD format has neither year nor zone;
   * the year is inferred from `now` (a date more than a month ahead is taken as last year).
   */
  timestamp?: string;
  hostname?: string;
  /** RFC 5424 APP-NAME, or the RFC 3164 TAG (`main-menu` of `main-menu[283]:`) */
  app?: string;
  /** RFC 5424 PROCID, or the pid of an RFC 3164 `TAG[pid]:` */
  procId?: string;
  /** RFC 5424 MSGID */
  msgId?: string;
  /** RFC 5424 structured data (empty for NILVALUE and for RFC 3164) */
  structuredData: SdElement[];
  /** MSG / CONTENT as UTF-8 (invalid bytes become U+FFFD), without a leading BOM or trailing CR/LF/NUL */
  message: string;
}

const LT = 0x3c;
const GT = 0x3e;
const SP = 0x20;
const DASH = 0x2d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const EQUALS = 0x3d;

function malformed(reason: SyslogMalformedReason, detail: string, bytes: number): SwarmbootError {
  return new SwarmbootError('SYSLOG_MALFORMED', `malformed syslog datagram (${reason}): ${detail}`, { context: { reason, bytes } });
}

/**
 * Parses one syslog message (one UDP datagram, or one RFC 6587 frame).
 *
 * - `<PRI>1 ` starts RFC 5424 (§6), parsed strictly: header fields, timestamp, structured data
 *   with `\"`, `\\`, `\]` escapes (§6.3.3), optional UTF-8 BOM before MSG (§6.4).
 * - any other `<PRI>` starts RFC 3164 (§4.1), parsed leniently: optional `Mmm dd hh:mm:ss` (or
 *   RFC 3339) timestamp, HOSTNAME only after a timestamp (§4.3.2) and only when the next token is
 *   not already a `TAG:` (glibc/musl syslog(3) forwarded raw by busybox syslogd omit it), TAG with
 *   optional `[pid]`, then the CONTENT.
 *
 * `now` (default: the current time) only serves the year of an RFC 3164 timestamp.
 * Throws SwarmbootError `SYSLOG_MALFORMED` (context `{ reason: SyslogMalformedReason, bytes }`)
 * and nothing else, for any input.
 */
export function parseSyslog(buf: Buffer, now: Date = new Date()): ParsedSyslog {
  const n = buf.length;
  if (n === 0) throw malformed('empty', 'zero bytes', n);
  if (n > MAX_SYSLOG_BYTES) throw malformed('oversized', `${n} bytes > ${MAX_SYSLOG_BYTES}`, n);
  if (buf[0] !== LT) throw malformed('no_pri', 'does not start with <PRI>', n);

  // PRI = "<" 1*3DIGIT ">" (RFC 5424 §6.2.1, RFC 3164 §4.1.1); leading zeros tolerated.
  let pos = 1;
  let pri = 0;
  while (pos < n && pos <= 3 && isDigit(buf[pos]!)) pri = pri * 10 + (buf[pos++]! - 0x30);
  if (pos === 1 || pos >= n || buf[pos] !== GT) throw malformed('bad_pri', 'PRI is not <0..191>', n);
  if (pri > 191) throw malformed('bad_pri', `PRI ${pri} > 191`, n);
  pos++;
  const facility = pri >> 3;
  const severity = pri & 7;

  const end = trimEnd(buf, pos);
  if (end === pos) throw malformed('truncated', 'nothing after PRI', n);

  // VERSION "1" followed by SP marks RFC 5424 (§6.2.2); a BSD message cannot start with "1 "
  // unless its content does, which we accept to misread rather than guess.
  if (buf[pos] === 0x31 && pos + 1 < n && buf[pos + 1] === SP) {
    return parse5424(buf, pos + 2, end, facility, severity);
  }
  return parse3164(buf, pos, end, facility, severity, now);
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

/** PRINTUSASCII = %d33-126 (RFC 5424 §6) */
function isPrintUsAscii(b: number): boolean {
  return b >= 33 && b <= 126;
}

/** End of the message without trailing LF, CR and NUL (busybox and stock syslogd append '\n'). */
function trimEnd(buf: Buffer, start: number): number {
  let end = buf.length;
  while (end > start && (buf[end - 1] === 0x0a || buf[end - 1] === 0x0d || buf[end - 1] === 0x00)) end--;
  return end;
}

/** UTF-8 decode of a byte range without a leading BOM (EF BB BF, RFC 5424 §6.4). */
function decodeMsg(buf: Buffer, start: number, end: number): string {
  if (end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
  return buf.toString('utf8', start, end);
}

// RFC 5424 §6.2.3: FULL-DATE "T" FULL-TIME, TIME-SECFRAC at most 6 digits, "Z" or ±hh:mm.
const RFC3339 = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

// Maximum lengths of the RFC 5424 §6 header fields, in order after TIMESTAMP.
const FIELD_MAX = { hostname: 255, app: 48, procId: 128, msgId: 32 } as const;

function parse5424(buf: Buffer, start: number, end: number, facility: number, severity: number): ParsedSyslog {
  const n = buf.length;
  let pos = start;

  /** One header field: PRINTUSASCII up to the next SP; NILVALUE → undefined. */
  const field = (name: string, max: number): string | undefined => {
    const from = pos;
    while (pos < end && buf[pos] !== SP) {
      if (!isPrintUsAscii(buf[pos]!)) throw malformed('bad_header', `${name}: byte 0x${buf[pos]!.toString(16)} is not PRINTUSASCII`, n);
      pos++;
    }
    if (pos >= end) throw malformed('truncated', `RFC 5424 header ends in ${name}`, n);
    if (pos === from) throw malformed('bad_header', `${name} is empty`, n);
    if (pos - from > max) throw malformed('bad_header', `${name} longer than ${max}`, n);
    const value = buf.toString('latin1', from, pos);
    pos++; // SP
    return value === '-' ? undefined : value;
  };

  const timestamp = field('TIMESTAMP', 32);
  if (timestamp !== undefined && (!RFC3339.test(timestamp) || Number.isNaN(Date.parse(timestamp)))) {
    throw malformed('bad_header', 'TIMESTAMP is not RFC 3339 (RFC 5424 §6.2.3)', n);
  }
  const hostname = field('HOSTNAME', FIELD_MAX.hostname);
  const app = field('APP-NAME', FIELD_MAX.app);
  const procId = field('PROCID', FIELD_MAX.procId);
  // MSGID is the last header field: the SD that follows is required, so a SP must follow too.
  const msgId = field('MSGID', FIELD_MAX.msgId);

  if (pos >= end) throw malformed('truncated', 'RFC 5424 message ends before STRUCTURED-DATA', n);
  const structuredData: SdElement[] = [];
  if (buf[pos] === DASH) {
    pos++;
  } else if (buf[pos] === LBRACKET) {
    while (pos < end && buf[pos] === LBRACKET) {
      const parsed = parseSdElement(buf, pos + 1, end);
      structuredData.push(parsed.element);
      pos = parsed.next;
    }
  } else {
    throw malformed('bad_structured_data', 'STRUCTURED-DATA is neither - nor [', n);
  }
  let message = '';
  if (pos < end) {
    if (buf[pos] !== SP) throw malformed('bad_structured_data', 'no SP after STRUCTURED-DATA', n);
    message = decodeMsg(buf, pos + 1, end);
  }
  return {
    format: 'rfc5424',
    facility,
    severity,
    structuredData,
    message,
    ...(timestamp === undefined ? {} : { timestamp }),
    ...(hostname === undefined ? {} : { hostname }),
    ...(app === undefined ? {} : { app }),
    ...(procId === undefined ? {} : { procId }),
    ...(msgId === undefined ? {} : { msgId }),
  };
}

/** SD-NAME = 1*32PRINTUSASCII except '=', SP, ']', '"' (RFC 5424 §6.3.2, §6.3.3). */
function readSdName(buf: Buffer, pos: number, end: number, what: string): { name: string; next: number } {
  const n = buf.length;
  const from = pos;
  while (pos < end) {
    const b = buf[pos]!;
    if (b === EQUALS || b === SP || b === RBRACKET || b === QUOTE) break;
    if (!isPrintUsAscii(b)) throw malformed('bad_structured_data', `${what}: byte 0x${b.toString(16)}`, n);
    pos++;
  }
  if (pos >= end) throw malformed('truncated', `structured data ends in ${what}`, n);
  if (pos === from || pos - from > 32) throw malformed('bad_structured_data', `${what} must be 1–32 characters`, n);
  return { name: buf.toString('latin1', from, pos), next: pos };
}

/** Parses `SD-ID *(SP SD-PARAM) "]"` from just after the '['. */
function parseSdElement(buf: Buffer, pos: number, end: number): { element: SdElement; next: number } {
  const n = buf.length;
  const id = readSdName(buf, pos, end, 'SD-ID');
  pos = id.next;
  const params: SdElement['params'] = [];
  for (;;) {
    if (pos >= end) throw malformed('truncated', 'structured data ends inside an element', n);
    const b = buf[pos]!;
    if (b === RBRACKET) return { element: { id: id.name, params }, next: pos + 1 };
    if (b !== SP) throw malformed('bad_structured_data', 'expected SP or ] after SD-ID / SD-PARAM', n);
    const name = readSdName(buf, pos + 1, end, 'PARAM-NAME');
    pos = name.next;
    if (buf[pos] !== EQUALS) throw malformed('bad_structured_data', 'PARAM-NAME without =', n);
    pos++;
    if (pos >= end) throw malformed('truncated', 'structured data ends before PARAM-VALUE', n);
    if (buf[pos] !== QUOTE) throw malformed('bad_structured_data', 'PARAM-VALUE is not quoted', n);
    pos++;
    // PARAM-VALUE: '"', '\' and ']' are escaped with '\'; a '\' before any other character is
    // kept as it is (§6.3.3). An unescaped ']' inside the quotes is tolerated (senders forget it).
    const chunks: Buffer[] = [];
    let from = pos;
    for (;;) {
      if (pos >= end) throw malformed('truncated', 'structured data ends inside PARAM-VALUE', n);
      const c = buf[pos]!;
      if (c === QUOTE) break;
      if (c === BACKSLASH && pos + 1 < end) {
        const next = buf[pos + 1]!;
        if (next === QUOTE || next === BACKSLASH || next === RBRACKET) {
          chunks.push(buf.subarray(from, pos));
          from = pos + 1; // keep the escaped character, drop the backslash
          pos += 2;
          continue;
        }
      }
      pos++;
    }
    chunks.push(buf.subarray(from, pos));
    params.push({ name: name.name, value: Buffer.concat(chunks).toString('utf8') });
    pos++; // closing quote
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

// RFC 3164 §4.1.2 "Mmm dd hh:mm:ss" (day space-padded; some senders zero-pad or use one space;
// rsyslog's high-precision forms add a fraction).
const BSD_TIME = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})? /;
// rsyslog RSYSLOG_ForwardFormat / -R with high precision puts an RFC 3339 stamp in the BSD slot.
const ISO_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})) /;
// TAG (RFC 3164 §4.1.3: alphanumerics, ≤ 32; in practice also '/', '.', '-', '_' as in the
// installer's `net/hw-detect.hotplug:`) with an optional [pid], ending in ':' or '[pid]' + SP.
const TAG = /^([^\s:[\]]{1,48})(?:\[([^\]\s]{0,128})\])?(?::(?: |$)|(?<=\]) )/;
// A token after the timestamp that is itself a tag: `kernel:` or `tag[12]:` — no HOSTNAME sent.
const LOOKS_LIKE_TAG = /^[^\s[\]]+(?:\[[^\]\s]*\])?:(?: |$)|^[^\s[\]]+\[[^\]\s]*\](?: |$)/;

function parse3164(buf: Buffer, start: number, end: number, facility: number, severity: number, now: Date): ParsedSyslog {
  let rest = decodeMsg(buf, start, end);
  const out: ParsedSyslog = { format: 'rfc3164', facility, severity, structuredData: [], message: '' };

  let sawTimestamp = false;
  const bsd = BSD_TIME.exec(rest);
  const iso = bsd ? null : ISO_TIME.exec(rest);
  if (bsd) {
    const ts = bsdTimestamp(bsd, now);
    if (ts !== undefined) {
      out.timestamp = ts;
      rest = rest.slice(bsd[0].length);
      sawTimestamp = true;
    }
  } else if (iso?.[1] !== undefined && !Number.isNaN(Date.parse(iso[1]))) {
    out.timestamp = iso[1];
    rest = rest.slice(iso[0].length);
    sawTimestamp = true;
  }

  // §4.3.2: without a valid TIMESTAMP everything is CONTENT, so there is no HOSTNAME to take.
  if (sawTimestamp && !LOOKS_LIKE_TAG.test(rest)) {
    const sp = rest.indexOf(' ');
    const host = sp === -1 ? rest : rest.slice(0, sp);
    if (host !== '' && host !== '-') out.hostname = host;
    rest = sp === -1 ? '' : rest.slice(sp + 1);
  }

  const tag = TAG.exec(rest);
  if (tag?.[1] !== undefined) {
    out.app = tag[1];
    if (tag[2] !== undefined && tag[2] !== '') out.procId = tag[2];
    rest = rest.slice(tag[0].length);
  }
  out.message = rest;
  return out;
}

/** `Mmm dd hh:mm:ss` → `YYYY-MM-DDThh:mm:ss` (no offset: BSD syslog carries no zone), or undefined. */
function bsdTimestamp(m: RegExpExecArray, now: Date): string | undefined {
  const month = MONTHS.indexOf(m[1] as (typeof MONTHS)[number]);
  const day = Number(m[2]);
  const [hh, mm, ss] = [Number(m[3]), Number(m[4]), Number(m[5])];
  if (month < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return undefined; // 60: leap second
  // No year on the wire: take the receiver's; a date over a month ahead was last year (a line
  // stamped Dec 31 that arrives on Jan 1).
  let year = now.getUTCFullYear();
  if (Date.UTC(year, month, day) - now.getTime() > 31 * 24 * 3600 * 1000) year--;
  const pad = (v: number): string => String(v).padStart(2, '0');
  return `${String(year).padStart(4, '0')}-${pad(month + 1)}-${pad(day)}T${pad(hh)}:${pad(mm)}:${pad(ss)}`;
}

/** Fields of an RFC 5424 message to send. `procId`/`msgId` default to NILVALUE. */
export interface Rfc5424Fields {
  facility: number;
  severity: number;
  timestamp: Date;
  hostname: string;
  app: string;
  procId?: string;
  msgId?: string;
  message: string;
}

/** RFC 5426 §3.2: every receiver SHOULD take 2048 octets; beyond that IP fragmentation starts to bite. */
export const SEND_MAX_BYTES = 2048;

/**
 * Encodes an RFC 5424 message without structured data: `<PRI>1 TIMESTAMP HOSTNAME APP PROCID MSGID - MSG`.
 * Header fields are reduced to PRINTUSASCII and cut to their §6 maximum (empty → `-`); a MSG with
 * non-ASCII characters gets the UTF-8 BOM (§6.4). The whole datagram is cut to `maxBytes`
 * (default SEND_MAX_BYTES) on a character boundary. Throws SYSLOG_INVALID for facility/severity
 * out of range.
 */
export function formatRfc5424(f: Rfc5424Fields, maxBytes = SEND_MAX_BYTES): Buffer {
  if (!Number.isInteger(f.facility) || f.facility < 0 || f.facility > 23) throw new SwarmbootError('SYSLOG_INVALID', `facility ${f.facility} is not 0..23`);
  if (!Number.isInteger(f.severity) || f.severity < 0 || f.severity > 7) throw new SwarmbootError('SYSLOG_INVALID', `severity ${f.severity} is not 0..7`);
  const header =
    `<${f.facility * 8 + f.severity}>1 ${f.timestamp.toISOString()} ${headerField(f.hostname, FIELD_MAX.hostname)} ` +
    `${headerField(f.app, FIELD_MAX.app)} ${headerField(f.procId, FIELD_MAX.procId)} ${headerField(f.msgId, FIELD_MAX.msgId)} -`;
  if (f.message === '') return Buffer.from(header, 'latin1');
  const ascii = Buffer.byteLength(f.message, 'utf8') === f.message.length; // every UTF-16 unit < 0x80
  const head = Buffer.from(header + ' ', 'latin1');
  const bom = ascii ? Buffer.alloc(0) : Buffer.from([0xef, 0xbb, 0xbf]);
  const room = Math.max(0, maxBytes - head.length - bom.length);
  return Buffer.concat([head, bom, utf8Prefix(f.message, room)]);
}

function headerField(value: string | undefined, max: number): string {
  const clean = (value ?? '').replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return clean === '' ? '-' : clean;
}

/** The longest UTF-8 encoding of a prefix of `s` that fits in `max` bytes (no split character). */
function utf8Prefix(s: string, max: number): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= max) return b;
  let cut = max;
  while (cut > 0 && (b[cut]! & 0xc0) === 0x80) cut--; // back off continuation bytes
  return b.subarray(0, cut);
}
