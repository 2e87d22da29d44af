import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSwarmbootError, type NodeInput } from '@swarmboot/contracts';
import { decodeOrReject, mutated, type FuzzSuite } from '@swarmboot/testkit';
import { parseNodeCsv } from '../../src/index.js';

/* Fuzzing of the node inventory CSV parser (`swarmboot nodes import FILE.csv`, POST /v1/nodes/import). */

const invalid = (err: unknown): boolean => isSwarmbootError(err, 'IMPORT_INVALID');
const parse = (text: string): unknown => decodeOrReject(parseNodeCsv, text, invalid);

/** A field value as the parser returns it: trimmed, non-empty, one line, without `excluded` characters. */
const value = (excluded: string, max = 24): fc.Arbitrary<string> =>
  fc
    .string({ unit: 'binary', minLength: 1, maxLength: max })
    .filter((s) => s === s.trim() && s !== '' && !/[\r\n]/.test(s) && ![...excluded].some((c) => s.includes(c)) && Buffer.from(s, 'utf8').toString('utf8') === s && !s.startsWith('\uFEFF'));

/** Labels: distinct keys without = and ;, values without ; (names JavaScript gives meaning to included) */
const labels = fc
  .uniqueArray(fc.tuple(fc.oneof(value('=;'), fc.constantFrom('__proto__', 'constructor', 'toString')), value(';')), { selector: ([k]) => k, minLength: 1, maxLength: 4 })
  .map((entries) => Object.fromEntries(entries));

const nodeInput: fc.Arbitrary<NodeInput> = fc.record({ id: value(''), mac: value(''), hostname: value(''), labels, rootDisk: value('') }, { requiredKeys: ['id', 'mac'] });

/** RFC 4180 §2: a field with a comma, a quote or surrounding a quote is quoted, quotes doubled. */
const field = (v: string | undefined): string => (v === undefined ? '' : /[",]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

interface Written {
  text: string;
  nodes: NodeInput[];
  lines: number[];
}

/** A CSV file of `nodes`: header in any letter case, LF or CRLF, optional BOM, blank lines between records. */
const csvFile: fc.Arbitrary<Written> = fc
  .record({ nodes: fc.array(nodeInput, { maxLength: 8 }), crlf: fc.boolean(), bom: fc.boolean(), blanks: fc.array(fc.boolean(), { maxLength: 8 }), upper: fc.array(fc.boolean(), { minLength: 29, maxLength: 29 }) })
  .map(({ nodes, crlf, bom, blanks, upper }) => {
    const header = [...'id,mac,hostname,labels,rootDisk'].map((c, i) => (upper[i] === true ? c.toUpperCase() : c.toLowerCase())).join('');
    const rows = [header];
    const lines: number[] = [];
    nodes.forEach((n, i) => {
      if (blanks[i] === true) rows.push('');
      rows.push([n.id, n.mac, n.hostname, n.labels && Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(';'), n.rootDisk].map(field).join(','));
      lines.push(rows.length);
    });
    return { text: (bom ? '\uFEFF' : '') + rows.join(crlf ? '\r\n' : '\n'), nodes, lines };
  });

/** Header then lines built from the characters the parser branches on. */
const syntaxSoup = fc
  .tuple(fc.constantFrom('id,mac,hostname\n', 'ID,MAC,HOSTNAME,LABELS,ROOTDISK\r\n', '\uFEFFid,mac,hostname,labels\n', ''), fc.array(fc.oneof(fc.constantFrom(',', '"', '""', '=', ';', '\n', '\r\n', ' ', '\uFEFF', '__proto__'), value(',";=')), { maxLength: 40 }))
  .map(([head, parts]) => head + parts.join(''));

export const nodeCsvFuzz: FuzzSuite = {
  codec: 'node-csv',
  open: () =>
    Promise.resolve({
      properties: [
        { name: 'arbitrary text parses or throws IMPORT_INVALID', property: fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => void parse(s)) },
        { name: 'a header then CSV syntax parses or throws IMPORT_INVALID', property: fc.property(syntaxSoup, (s) => void parse(s)) },
        {
          name: 'parseNodeCsv(written nodes) gives back every node and its line',
          property: fc.property(csvFile, (w) => {
            const got = parseNodeCsv(w.text);
            assert.deepEqual(got.nodes.map((n) => ({ ...n, ...(n.labels ? { labels: Object.entries(n.labels) } : {}) })), w.nodes.map((n) => ({ ...n, ...(n.labels ? { labels: Object.entries(n.labels) } : {}) })));
            assert.deepEqual(got.lines, w.lines);
          }),
        },
        { name: 'mutated valid files parse or throw IMPORT_INVALID', property: fc.property(mutated(csvFile.map((w) => Buffer.from(w.text, 'utf8'))), (b) => void parse(b.toString('utf8'))) },
      ],
    }),
};
