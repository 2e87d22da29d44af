import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetconsoleReassembler, SequenceGaps } from '../src/domain/netconsole-reassembly.js';

const A = '10.0.0.7:6665';
const B = '10.0.0.8:6665';
const frag = (offset: number, total: number) => ({ offset, total });

test('fragments in any order make the whole body (netconsole.rst example: "the first chunk, the 2nd chunk.")', () => {
  const r = new NetconsoleReassembler();
  const whole = 'the first chunk, the 2nd chunk.';
  assert.deepEqual(r.add(A, 416, frag(16, 31), Buffer.from(whole.slice(16)), 0), { outcome: { kind: 'pending' }, evicted: 0 });
  assert.equal(r.size, 1);
  const done = r.add(A, 416, frag(0, 31), Buffer.from(whole.slice(0, 16)), 1);
  assert.equal(done.outcome.kind === 'complete' && done.outcome.body.toString(), whole);
  assert.deepEqual([r.size, r.bytes], [0, 0]);
});

test('duplicates and a changed total are refused; two senders with the same seq do not mix', () => {
  const r = new NetconsoleReassembler();
  r.add(A, 1, frag(0, 4), Buffer.from('ab'), 0);
  assert.equal(r.add(A, 1, frag(0, 4), Buffer.from('ab'), 0).outcome.kind, 'refused');
  assert.equal(r.add(A, 1, frag(2, 5), Buffer.from('cd'), 0).outcome.kind, 'refused');
  r.add(B, 1, frag(0, 4), Buffer.from('wx'), 0);
  const a = r.add(A, 1, frag(2, 4), Buffer.from('cd'), 0);
  const b = r.add(B, 1, frag(2, 4), Buffer.from('yz'), 0);
  assert.deepEqual([a.outcome.kind === 'complete' && a.outcome.body.toString(), b.outcome.kind === 'complete' && b.outcome.body.toString()], ['abcd', 'wxyz']);
});

test('incomplete messages expire after the timeout, oldest first', () => {
  const r = new NetconsoleReassembler({ timeoutMs: 2000 });
  r.add(A, 1, frag(0, 10), Buffer.from('a'), 0);
  r.add(A, 2, frag(0, 10), Buffer.from('a'), 1500);
  assert.equal(r.expire(1999), 0);
  assert.equal(r.expire(2000), 1);
  assert.equal(r.expire(3499), 0);
  assert.equal(r.expire(3500), 1);
  assert.deepEqual([r.size, r.bytes], [0, 0]);
});

test('a fragment bomb is bounded per sender and in all: the oldest are evicted', () => {
  const r = new NetconsoleReassembler({ maxPerSender: 4, maxBytes: 100_000 });
  let evicted = 0;
  for (let seq = 0; seq < 1000; seq++) evicted += r.add(A, seq, frag(0, 16_000), Buffer.from('x'), seq).evicted;
  assert.equal(r.size, 3, '100 000 bytes hold 3 messages of 2 × 16 000');
  assert.ok(r.bytes <= 100_000);
  assert.equal(evicted, 997);
  // Another sender still gets its message through while the bomb goes on.
  r.add(B, 7, frag(0, 3), Buffer.from('ab'), 1000);
  const done = r.add(B, 7, frag(2, 3), Buffer.from('c'), 1000);
  assert.equal(done.outcome.kind === 'complete' && done.outcome.body.toString(), 'abc');
  const perSender = new NetconsoleReassembler({ maxPerSender: 2 });
  for (let seq = 0; seq < 5; seq++) perSender.add(A, seq, frag(0, 10), Buffer.from('x'), seq);
  assert.equal(perSender.size, 2);
});

test('sequence gaps per sender: skipped numbers counted; repeats, late datagrams and reboots are not', () => {
  const g = new SequenceGaps({ rebootDistance: 100, maxSenders: 2 });
  assert.deepEqual([0, 1, 1, 2, 5, 4, 6].map((seq) => g.observe(A, seq)), [0, 0, 0, 0, 2, 0, 0]);
  assert.equal(g.observe(B, 50), 0, 'first record of a sender');
  assert.equal(g.observe(B, 53), 2);
  assert.equal(g.observe(A, 900), 893);
  assert.equal(g.observe(A, 0), 0, 'a reboot starts again at 0');
  assert.equal(g.observe(A, 2), 1);
  g.observe('c', 1); // a third sender: the least recently heard (B) is forgotten
  assert.equal(g.observe(B, 60), 0);
});
