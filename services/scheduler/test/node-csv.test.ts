import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import { parseNodeCsv } from '../src/protocol/node-csv.js';
import { normalizeNodes } from '../src/domain/inventory.js';

function importError(fn: () => unknown, line: number, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isSwarmbootError(err, 'IMPORT_INVALID'), String(err));
    assert.match(err.message, new RegExp(`^line ${line}: `));
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

test('parses the header, rows, optional hostname and labels', () => {
  const csv = 'id,mac,hostname,labels\nn-001,52:54:00:00:00:01,rack1-n1,rack=r1;role=worker\nn-002,52-54-00-00-00-02,,\nn-003,52:54:00:00:00:03\n';
  const { nodes, lines } = parseNodeCsv(csv);
  assert.deepEqual(nodes, [
    { id: 'n-001', mac: '52:54:00:00:00:01', hostname: 'rack1-n1', labels: { rack: 'r1', role: 'worker' } },
    { id: 'n-002', mac: '52-54-00-00-00-02' },
    { id: 'n-003', mac: '52:54:00:00:00:03' },
  ]);
  assert.deepEqual(lines, [2, 3, 4]);
});

test('three-column header, CRLF, BOM, blank lines, spaces around fields', () => {
  const csv = '\uFEFFID, MAC ,Hostname\r\n\r\n a , 52:54:00:00:00:0a , host-a \r\n\r\nb,52:54:00:00:00:0b,\r\n';
  const { nodes, lines } = parseNodeCsv(csv);
  assert.deepEqual(nodes, [
    { id: 'a', mac: '52:54:00:00:00:0a', hostname: 'host-a' },
    { id: 'b', mac: '52:54:00:00:00:0b' },
  ]);
  assert.deepEqual(lines, [3, 5]);
});

test('RFC 4180 quoted fields, with "" for a quote', () => {
  const { nodes } = parseNodeCsv('id,mac,hostname,labels\n"n1","52:54:00:00:00:01","h1","note=a ""b"", c;x=1"\n');
  assert.deepEqual(nodes[0]?.labels, { note: 'a "b", c', x: '1' });
});

test('fuzz regression: a label named __proto__ (input "n1,m,,__proto__=x") is kept, and given twice is refused', () => {
  const { nodes } = parseNodeCsv('id,mac,hostname,labels\nn1,52:54:00:00:00:01,,__proto__=x;constructor=y\n');
  assert.deepEqual(Object.entries(nodes[0]?.labels ?? {}), [
    ['__proto__', 'x'],
    ['constructor', 'y'],
  ]);
  importError(() => parseNodeCsv('id,mac,hostname,labels\nn1,52:54:00:00:00:01,,__proto__=x;__proto__=y\n'), 2, /twice/);
});

test('errors name the line', () => {
  importError(() => parseNodeCsv(''), 1, /empty file/);
  importError(() => parseNodeCsv('\n\n'), 1, /empty file/);
  importError(() => parseNodeCsv('mac,id,hostname\n'), 1, /header/);
  importError(() => parseNodeCsv('id,mac\n'), 1, /header/);
  importError(() => parseNodeCsv('id,mac,hostname,labels,extra\n'), 1, /header/);
  importError(() => parseNodeCsv('id,mac,hostname\nn1,52:54:00:00:00:01,h,extra\n'), 2, /expected 3 fields/);
  importError(() => parseNodeCsv('id,mac,hostname\nn1\n'), 2, /fields/);
  importError(() => parseNodeCsv('id,mac,hostname\nn1,52:54:00:00:00:01,h\n,52:54:00:00:00:02,h2\n'), 3, /id is empty/);
  importError(() => parseNodeCsv('id,mac,hostname\nn1, ,h\n'), 2, /mac is empty/);
  importError(() => parseNodeCsv('id,mac,hostname,labels\n\nn1,52:54:00:00:00:01,h,rack\n'), 3, /bad label/);
  importError(() => parseNodeCsv('id,mac,hostname,labels\nn1,52:54:00:00:00:01,h,=v\n'), 2, /bad label/);
  importError(() => parseNodeCsv('id,mac,hostname,labels\nn1,52:54:00:00:00:01,h,a=1;a=2\n'), 2, /twice/);
  importError(() => parseNodeCsv('id,mac,hostname\n"n1,52:54:00:00:00:01,h\n'), 2, /unterminated/);
  importError(() => parseNodeCsv('id,mac,hostname\n"n1"x,52:54:00:00:00:01,h\n'), 2, /after a quoted field/);
});

test('normalizeNodes: MAC lower-case colon form, hostname defaults to the id', () => {
  const regs = normalizeNodes([{ id: 'n1', mac: 'AA-BB-CC-DD-EE-0F' }, { id: 'n2', mac: '52:54:00:00:00:02', hostname: 'h2', labels: { r: '1' } }], 'IMPORT_INVALID', (i) => `line ${i + 2}`);
  assert.deepEqual(regs, [
    { id: 'n1', mac: 'aa:bb:cc:dd:ee:0f', hostname: 'n1', labels: {} },
    { id: 'n2', mac: '52:54:00:00:00:02', hostname: 'h2', labels: { r: '1' } },
  ]);
});

test('normalizeNodes: bad values and duplicates inside the batch name the entry', () => {
  const where = (i: number): string => `line ${i + 2}`;
  importError(() => normalizeNodes([{ id: 'n1', mac: '52:54:00:00:00:01' }, { id: 'n2', mac: '52:54:00:00:00' }], 'IMPORT_INVALID', where), 3, /bad MAC/);
  importError(() => normalizeNodes([{ id: 'n1', mac: '52:54:00:00:00:01' }, { id: 'n2', mac: 'zz:54:00:00:00:01' }], 'IMPORT_INVALID', where), 3, /bad MAC/);
  importError(() => normalizeNodes([{ id: 'n.1', mac: '52:54:00:00:00:01' }], 'IMPORT_INVALID', where), 2, /bad node id/);
  importError(() => normalizeNodes([{ id: 'n1', mac: '52:54:00:00:00:01' }, { id: 'n1', mac: '52:54:00:00:00:02' }], 'IMPORT_INVALID', where), 3, /id n1 also given at line 2/);
  importError(() => normalizeNodes([{ id: 'n1', mac: '52:54:00:00:00:01' }, { id: 'n2', mac: '52-54-00-00-00-01' }], 'IMPORT_INVALID', where), 3, /MAC 52:54:00:00:00:01 also given at line 2/);
  importError(() => normalizeNodes([{ id: 'n1', mac: '52:54:00:00:00:01', hostname: 'h' }, { id: 'n2', mac: '52:54:00:00:00:02', hostname: 'h' }], 'IMPORT_INVALID', where), 3, /hostname h also given/);
  // the id of one node is the default hostname of the other
  importError(() => normalizeNodes([{ id: 'n1', mac: '52:54:00:00:00:01' }, { id: 'n2', mac: '52:54:00:00:00:02', hostname: 'n1' }], 'IMPORT_INVALID', where), 3, /hostname n1/);
});
