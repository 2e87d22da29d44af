import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectPeers, subnet24 } from '../src/domain/peer-selection.js';

const peers = (net: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${net}.${i + 1}:6881`);
const netOf = (addr: string): string => addr.split('.').slice(0, 3).join('.');

test('subnet24 keeps the first three octets', () => {
  assert.equal(subnet24('10.1.2.3'), '10.1.2');
  assert.equal(subnet24('::1'), '::1');
});

test('all candidates when they fit in numwant', () => {
  const candidates = [...peers('10.0.1', 3), ...peers('10.0.2', 2)];
  const got = selectPeers({ ip: '10.0.1.200', rack: undefined, candidates, rackOf: () => undefined, numwant: 50 });
  assert.deepEqual([...got].sort(), [...candidates].sort());
});

test('same /24 first with a few remote peers when there is no rack label', () => {
  const candidates = [...peers('10.0.1', 100), ...peers('10.0.2', 100), ...peers('10.0.3', 100)];
  const got = selectPeers({ ip: '10.0.1.250', rack: undefined, candidates, rackOf: () => undefined, numwant: 50 });
  assert.equal(got.length, 50);
  assert.equal(new Set(got).size, 50);
  const local = got.filter((a) => netOf(a) === '10.0.1').length;
  assert.equal(local, 40, '80 % local');
  assert.equal(got.length - local, 10, 'ceil(20 %) remote for spread');
});

test('the rack label wins over the subnet, and free local slots go to remote peers', () => {
  const rackOf = (ip: string): string | undefined => (ip.startsWith('10.0.2.') || ip === '10.0.1.7' ? 'r2' : 'r1');
  const candidates = [...peers('10.0.1', 60), ...peers('10.0.2', 5)];
  const got = selectPeers({ ip: '10.0.1.250', rack: 'r2', candidates, rackOf, numwant: 30 });
  assert.equal(got.length, 30);
  const inRack = got.filter((a) => rackOf(a.split(':')[0] ?? '') === 'r2');
  assert.equal(inRack.length, 6, 'every peer of the rack: 5 on 10.0.2 and 10.0.1.7');
});

test('numwant 0 or no candidates: nothing', () => {
  assert.deepEqual(selectPeers({ ip: '10.0.1.1', rack: undefined, candidates: peers('10.0.1', 5), rackOf: () => undefined, numwant: 0 }), []);
  assert.deepEqual(selectPeers({ ip: '10.0.1.1', rack: undefined, candidates: [], rackOf: () => undefined, numwant: 10 }), []);
});
