import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSwarmbootError } from '@swarmboot/contracts';
import { bytes, decodeOrReject, mutated, type FuzzSuite } from '@swarmboot/testkit';
import { MAX_NETCONSOLE_MESSAGE_BYTES, NetconsoleReassembler, decodeNetconsole, extendedLine, type NetconsoleHeader } from '../../src/index.js';

/*
 * Fuzzing of the netconsole codec (decodeNetconsole, extendedLine) and of the fragment
 * reassembly behind it, as the log sink's netconsole transport chains them.
 */

const malformed = (err: unknown): boolean => isSwarmbootError(err, 'NETCONSOLE_MALFORMED');
const MAX_BYTES = 64 * 1024;

/** What the transport does with one datagram: decode, then a whole record's line or the fragment into the reassembler. */
function receive(buf: Buffer, reassembler: NetconsoleReassembler, now: number): void {
  const d = decodeOrReject(decodeNetconsole, buf, malformed);
  if (d?.kind !== 'extended') return;
  if (d.header.fragment === undefined) {
    extendedLine(d.header, d.body);
    return;
  }
  const r = reassembler.add('10.0.0.1', d.header.seq, d.header.fragment, d.body, now);
  if (r.outcome.kind === 'complete') {
    assert.equal(r.outcome.body.length, d.header.fragment.total);
    extendedLine(d.header, r.outcome.body);
  }
  assert.ok(reassembler.bytes <= MAX_BYTES, `reassembler holds ${reassembler.bytes} bytes`);
}

/** printk's escaping of a record's text and dictionary values (msg_print_ext_body): control bytes, DEL and up, and '\' as \xNN. */
function kmsgEscape(text: string): Buffer {
  return Buffer.from([...Buffer.from(text, 'utf8')].map((b) => (b < 0x20 || b >= 0x7f || b === 0x5c ? `\\x${b.toString(16).padStart(2, '0')}` : String.fromCharCode(b))).join(''), 'latin1');
}

type Header = Omit<NetconsoleHeader, 'fragment' | 'facility' | 'severity'> & { level: number };
const header: fc.Arbitrary<Header> = fc.record(
  {
    level: fc.integer({ min: 0, max: 191 }),
    seq: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    bootTimeUs: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    contflag: fc.constantFrom('-' as const, 'c' as const, '+' as const),
    release: fc.string({ unit: fc.constantFrom(...'0123456789.-abcrt+'.split('')), minLength: 1, maxLength: 24 }).filter((r) => !/^\d+$/.test(r)),
  },
  { requiredKeys: ['level', 'seq', 'bootTimeUs', 'contflag'] },
);
const headerText = (h: Header, extra = ''): string => `${h.release === undefined ? '' : `${h.release},`}${h.level},${h.seq},${h.bootTimeUs},${h.contflag}${extra};`;

const text = fc.string({ unit: 'binary', maxLength: 120 }).filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s && !/[\r\0]$/.test(s));
/** dictionary keys: the kernel's (SUBSYSTEM, DEVICE) and netconsole userdata keys, which are configfs names the node's admin picks */
const dictionary = fc
  .uniqueArray(fc.tuple(fc.oneof(fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789'.split('')), minLength: 1, maxLength: 12 }), fc.constantFrom('__proto__', 'constructor')), text), { selector: ([k]) => k, maxLength: 4 })
  .map((entries) => Object.fromEntries(entries));

/** A whole extended record: header, escaped text, `\n KEY=value` dictionary lines. */
const record = fc.record({ header, message: text, fields: dictionary });
const recordBody = (r: { message: string; fields: Record<string, string> }): Buffer =>
  Buffer.concat([kmsgEscape(r.message), ...Object.entries(r.fields).map(([k, v]) => Buffer.concat([Buffer.from(`\n ${k}=`), kmsgEscape(v)]))]);
const recordDatagram = record.map((r) => Buffer.concat([Buffer.from(headerText(r.header), 'latin1'), recordBody(r)]));

/** A record's body cut into ncfrag fragments (each ≤ `size` bytes), in a shuffled order. */
const fragmented = fc.record({ header, body: bytes(3000).filter((b) => b.length > 0), size: fc.integer({ min: 1, max: 1000 }), order: fc.array(fc.nat(), { maxLength: 8 }) }).map(({ header: h, body, size, order }) => {
  const datagrams: Buffer[] = [];
  for (let off = 0; off < body.length; off += size) datagrams.push(Buffer.concat([Buffer.from(headerText(h, `,ncfrag=${off}/${body.length}`), 'latin1'), body.subarray(off, off + size)]));
  order.forEach((k, i) => {
    const j = k % datagrams.length;
    const a = i % datagrams.length;
    [datagrams[a], datagrams[j]] = [datagrams[j]!, datagrams[a]!];
  });
  return { header: h, body, datagrams };
});

export const netconsoleFuzz: FuzzSuite = {
  codec: 'netconsole',
  open: () =>
    Promise.resolve({
      properties: [
        {
          name: 'arbitrary datagrams decode or throw NETCONSOLE_MALFORMED; fragments reassemble within bounds',
          property: fc.property(fc.array(fc.oneof(bytes(1200), fragmented.map((f) => f.datagrams[0]!)), { minLength: 1, maxLength: 8 }), (datagrams) => {
            const r = new NetconsoleReassembler({ maxBytes: MAX_BYTES, maxPerSender: 4 });
            datagrams.forEach((d, i) => receive(d, r, i * 500));
          }),
        },
        {
          name: 'an extended record gives back its header, text and dictionary',
          property: fc.property(record, (r) => {
            const d = decodeNetconsole(Buffer.concat([Buffer.from(headerText(r.header), 'latin1'), recordBody(r)]));
            assert.equal(d.kind, 'extended');
            if (d.kind !== 'extended') return;
            const { level, ...rest } = r.header;
            assert.deepEqual({ ...d.header }, { facility: level >> 3, severity: level & 7, ...rest });
            const line = extendedLine(d.header, d.body);
            assert.equal(line.message, r.message);
            assert.deepEqual({ ...line.fields }, { ...r.fields });
          }),
        },
        {
          name: 'ncfrag fragments in any order reassemble to the body',
          property: fc.property(fragmented, (f) => {
            const r = new NetconsoleReassembler();
            const outcomes = f.datagrams.map((dg) => {
              const d = decodeNetconsole(dg);
              assert.ok(d.kind === 'extended' && d.header.fragment !== undefined);
              return r.add('10.0.0.1', d.header.seq, d.header.fragment, d.body, 0).outcome;
            });
            const done = outcomes.filter((o) => o.kind === 'complete');
            assert.equal(done.length, 1);
            assert.deepEqual(done[0]?.kind === 'complete' && done[0].body.toString('hex'), f.body.toString('hex'));
            assert.ok(f.body.length <= MAX_NETCONSOLE_MESSAGE_BYTES);
          }),
        },
        {
          name: 'mutated records and fragments decode or throw NETCONSOLE_MALFORMED',
          property: fc.property(mutated(fc.oneof(recordDatagram, fragmented.map((f) => f.datagrams[0]!))), (dg) => receive(dg, new NetconsoleReassembler(), 0)),
        },
      ],
    }),
};
