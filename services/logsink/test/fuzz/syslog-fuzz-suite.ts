import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSwarmbootError } from '@swarmboot/contracts';
import { bytes, decodeOrReject, mutated, type FuzzSuite } from '@swarmboot/testkit';
import { MAX_SYSLOG_BYTES, SyslogFrameDecoder, formatRfc5424, parseSyslog, type SdElement } from '../../src/index.js';

/*
 * Fuzzing of the syslog codec: parseSyslog (RFC 5424, RFC 3164), formatRfc5424 and the RFC 6587
 * TCP framing (SyslogFrameDecoder).
 */

const malformed = (err: unknown): boolean => isSwarmbootError(err, 'SYSLOG_MALFORMED');
const NOW = new Date('2026-06-15T12:00:00Z');
const parse = (buf: Buffer): unknown => decodeOrReject((b: Buffer) => parseSyslog(b, NOW), buf, malformed);

/** PRINTUSASCII (RFC 5424 §6) strings of 1..max characters */
const printUsAscii = (max: number, except = ''): fc.Arbitrary<string> =>
  fc.string({ unit: fc.integer({ min: 33, max: 126 }).map((c) => String.fromCharCode(c)).filter((c) => !except.includes(c)), minLength: 1, maxLength: max });
/** text that survives UTF-8 (no lone surrogates) */
const text = (max: number): fc.Arbitrary<string> => fc.string({ unit: 'binary', maxLength: max }).filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s);

/** SD-ELEMENTs (RFC 5424 §6.3): SD-NAMEs of PRINTUSASCII but = SP ] ", values any UTF-8 text */
const sdName = printUsAscii(32, '= ]"');
const sdElements: fc.Arbitrary<SdElement[]> = fc.array(fc.record({ id: sdName, params: fc.array(fc.record({ name: sdName, value: text(40) }), { maxLength: 4 }) }), { maxLength: 3 });

/** An RFC 5424 message as a sender writes it, with structured data (§6.3.3 escapes). */
function write5424(m: { pri: number; timestamp: string; hostname: string; app: string; procId: string; msgId: string; sd: SdElement[]; message: string }): Buffer {
  const escape = (v: string): string => v.replace(/["\\\]]/g, (c) => `\\${c}`);
  const sd = m.sd.length === 0 ? '-' : m.sd.map((e) => `[${e.id}${e.params.map((p) => ` ${p.name}="${escape(p.value)}"`).join('')}]`).join('');
  return Buffer.from(`<${m.pri}>1 ${m.timestamp} ${m.hostname} ${m.app} ${m.procId} ${m.msgId} ${sd}${m.message === '' ? '' : ` ${m.message}`}`, 'utf8');
}

const date = fc.date({ min: new Date('0000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true });
/** MSG without the trailing CR/LF/NUL the parser strips and without a leading BOM it would take for §6.4's */
const message = text(200).filter((s) => !/[\r\n\0]$/.test(s) && !s.startsWith('\uFEFF'));

const rfc5424 = fc.record({
  pri: fc.integer({ min: 0, max: 191 }),
  timestamp: date.map((d) => d.toISOString()),
  hostname: printUsAscii(255),
  app: printUsAscii(48),
  procId: printUsAscii(128),
  msgId: printUsAscii(32),
  sd: sdElements,
  message,
});

/** Byte soup from the characters the parsers branch on, behind a valid PRI (and sometimes VERSION 1). */
const syntaxSoup: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.constantFrom('<13>', '<0>', '<191>', '<13>1 ', '<165>1 ', '<34>1 2026-06-15T12:00:00Z ', '<4>Jun 15 12:00:00 '),
    fc.array(fc.oneof(fc.constantFrom(' ', '-', '[', ']', '"', '\\', '=', ':', '\n', '\0', 'x', '1', '\uFEFF', 'Jan', 'T', 'Z'), printUsAscii(8)), { maxLength: 60 }),
  )
  .map(([head, parts]) => Buffer.from(head + parts.join(''), 'utf8'));

/** Pushes `stream` cut at `cuts` into one decoder; returns the frames, or the framing error. */
function frame(stream: Buffer, cuts: number[]): { frames: Buffer[]; error?: unknown } {
  const d = new SyslogFrameDecoder();
  const frames: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts.map((x) => x % (stream.length + 1)).sort((a, b) => a - b), stream.length]) {
    const r = d.push(stream.subarray(at, c));
    frames.push(...r.frames.map((f) => Buffer.from(f)));
    at = c;
    if (r.error !== undefined) return { frames, error: r.error };
  }
  return { frames };
}

export const syslogFuzz: FuzzSuite = {
  codec: 'syslog',
  open: () =>
    Promise.resolve({
      properties: [
        { name: 'arbitrary bytes parse or throw SYSLOG_MALFORMED', property: fc.property(bytes(600), (b) => void parse(b)) },
        { name: 'PRI then syntax characters parse or throw SYSLOG_MALFORMED', property: fc.property(syntaxSoup, (b) => void parse(b)) },
        {
          name: 'parse(formatRfc5424(f)) keeps every field',
          property: fc.property(
            fc.record({ facility: fc.integer({ min: 0, max: 23 }), severity: fc.integer({ min: 0, max: 7 }), timestamp: date, hostname: text(300), app: text(60), procId: fc.option(text(140), { nil: undefined }), msgId: fc.option(text(40), { nil: undefined }), message }),
            (f) => {
              const p = parseSyslog(formatRfc5424(f, MAX_SYSLOG_BYTES), NOW);
              const header = (v: string | undefined, max: number): string | undefined => (v ?? '').replace(/[^\x21-\x7e]/g, '').slice(0, max) || undefined;
              // '-' alone is NILVALUE on the wire
              const nil = (v: string | undefined): string | undefined => (v === '-' ? undefined : v);
              assert.deepEqual(
                [p.format, p.facility, p.severity, p.timestamp, p.hostname, p.app, p.procId, p.msgId, p.message],
                ['rfc5424', f.facility, f.severity, f.timestamp.toISOString(), nil(header(f.hostname, 255)), nil(header(f.app, 48)), nil(header(f.procId, 128)), nil(header(f.msgId, 32)), f.message],
              );
            },
          ),
        },
        {
          name: 'RFC 5424 with structured data: every field and SD-PARAM parsed back',
          property: fc.property(rfc5424, (m) => {
            const p = parseSyslog(write5424(m), NOW);
            const nil = (v: string): string | undefined => (v === '-' ? undefined : v);
            assert.deepEqual(
              [p.facility * 8 + p.severity, p.timestamp, p.hostname, p.app, p.procId, p.msgId, p.structuredData.map((e) => ({ ...e, params: e.params.map((x) => ({ ...x })) })), p.message],
              [m.pri, m.timestamp, nil(m.hostname), nil(m.app), nil(m.procId), nil(m.msgId), m.sd.map((e) => ({ id: e.id, params: e.params.map((x) => ({ name: x.name, value: x.value })) })), m.message],
            );
          }),
        },
        { name: 'mutated valid RFC 5424 messages parse or throw SYSLOG_MALFORMED', property: fc.property(mutated(rfc5424.map(write5424)), (b) => void parse(b)) },
        {
          name: 'RFC 6587 framing: arbitrary streams in arbitrary chunks give frames or SYSLOG_FRAMING, never a throw',
          property: fc.property(fc.oneof(bytes(400), mutated(fc.array(rfc5424.map(write5424), { maxLength: 3 }).map((ms) => Buffer.concat(ms.map((b) => Buffer.concat([Buffer.from(`${b.length} `), b])))))), fc.array(fc.nat(), { maxLength: 6 }), (stream, cuts) => {
            const r = frame(stream, cuts);
            if (r.error !== undefined) assert.ok(isSwarmbootError(r.error, 'SYSLOG_FRAMING'), String(r.error));
            for (const f of r.frames) parse(f);
          }),
        },
        {
          name: 'RFC 6587 octet counting and LF framing give back the messages, however the stream is cut',
          property: fc.property(fc.array(rfc5424.map(write5424), { minLength: 1, maxLength: 4 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 6 }), (msgs, counted, cuts) => {
            // LF framing cannot carry a message with LF or NUL in it (§3.4.2); such messages are octet-counted only
            const sent = counted ? msgs : msgs.filter((b) => !b.includes(0x0a) && !b.includes(0x00));
            const stream = Buffer.concat(sent.map((b) => (counted ? Buffer.concat([Buffer.from(`${b.length} `), b]) : Buffer.concat([b, Buffer.from('\n')]))));
            const r = frame(stream, cuts);
            assert.equal(r.error, undefined);
            assert.deepEqual(r.frames.map((f) => f.toString('hex')), sent.map((b) => b.toString('hex')));
          }),
        },
      ],
    }),
};
