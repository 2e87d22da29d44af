import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadTransfer, type TransferStep } from '../src/domain/read-transfer.js';
import type { TftpPacket } from '../src/protocol/tftp.js';

function data(step: TransferStep): { block: number; length: number } {
  assert.equal(step.send?.kind, 'DATA', `expected DATA, got ${JSON.stringify(step)}`);
  const p = step.send as Extract<TftpPacket, { kind: 'DATA' }>;
  return { block: p.block, length: p.data.length };
}

/** Runs a whole lock-step transfer, acknowledging every block; returns the DATA blocks seen. */
function runToEnd(t: ReadTransfer, first: TransferStep): { block: number; length: number }[] {
  const seen: { block: number; length: number }[] = [];
  let step = first;
  while (!step.end) {
    const d = data(step);
    seen.push(d);
    step = t.onPacket({ kind: 'ACK', block: d.block });
  }
  assert.deepEqual(step.end, { kind: 'completed' });
  return seen;
}

test('a file of an exact multiple of blksize ends with an empty DATA block', () => {
  const t = new ReadTransfer({ data: Buffer.alloc(1024), blksize: 512, oack: undefined, maxRetries: 3 });
  const blocks = runToEnd(t, t.start());
  assert.deepEqual(blocks, [
    { block: 1, length: 512 },
    { block: 2, length: 512 },
    { block: 3, length: 0 },
  ]);
  assert.equal(t.bytesSent, 1024);
});

test('an empty file is one empty DATA block', () => {
  const t = new ReadTransfer({ data: Buffer.alloc(0), blksize: 512, oack: undefined, maxRetries: 3 });
  assert.deepEqual(runToEnd(t, t.start()), [{ block: 1, length: 0 }]);
});

test('block numbers roll over from 65535 to 0', () => {
  const blksize = 8;
  const size = 65537 * blksize + 3; // blocks 1..65538; 65536, 65537, 65538 go out as 0, 1, 2
  const t = new ReadTransfer({ data: Buffer.alloc(size), blksize, oack: undefined, maxRetries: 3 });
  const blocks = runToEnd(t, t.start());
  assert.equal(blocks.length, 65538);
  assert.deepEqual(
    blocks.slice(65533).map((b) => b.block),
    [65534, 65535, 0, 1, 2],
  );
  assert.equal(blocks.at(-1)?.length, 3);
  assert.equal(t.bytesSent, size);
});

test('OACK first, then DATA 1 after ACK 0', () => {
  const oack = new Map([['tsize', '5']]);
  const t = new ReadTransfer({ data: Buffer.from('hello'), blksize: 512, oack, maxRetries: 3 });
  const first = t.start();
  assert.deepEqual(first.send, { kind: 'OACK', options: oack });
  assert.deepEqual(runToEnd(t, t.onPacket({ kind: 'ACK', block: 0 })), [{ block: 1, length: 5 }]);
});

test('a duplicate ACK is ignored, never answered with a resend (RFC 1123 §4.2.3.1)', () => {
  const t = new ReadTransfer({ data: Buffer.alloc(2000), blksize: 512, oack: undefined, maxRetries: 3 });
  data(t.start());
  assert.equal(data(t.onPacket({ kind: 'ACK', block: 1 })).block, 2);
  const dup = t.onPacket({ kind: 'ACK', block: 1 });
  assert.equal(dup.send, undefined);
  assert.equal(dup.ignored, 'duplicate_ack');
  assert.equal(data(t.onPacket({ kind: 'ACK', block: 2 })).block, 3);
});

test('a timeout resends the last DATA; too many timeouts in a row fail the transfer', () => {
  const t = new ReadTransfer({ data: Buffer.alloc(2000), blksize: 512, oack: undefined, maxRetries: 2 });
  data(t.start());
  const next = t.onPacket({ kind: 'ACK', block: 1 });
  const r1 = t.onTimeout();
  assert.equal(r1.retransmit, true);
  assert.equal(r1.send, next.send);
  // an ACK in between resets the count of consecutive timeouts
  data(t.onPacket({ kind: 'ACK', block: 2 }));
  assert.equal(t.onTimeout().retransmit, true);
  assert.equal(t.onTimeout().retransmit, true);
  const last = t.onTimeout();
  assert.equal(last.end?.kind, 'failed');
  assert.deepEqual(last.send, { kind: 'ERROR', code: 0, message: 'transfer timed out' });
  assert.equal(t.retransmissions, 3);
  assert.equal(t.done, true);
  assert.deepEqual(t.onPacket({ kind: 'ACK', block: 3 }), {});
});

test('ERROR 8 after the OACK ends quietly (UEFI tsize probe); other client errors fail', () => {
  const probe = new ReadTransfer({ data: Buffer.alloc(10), blksize: 512, oack: new Map([['tsize', '10']]), maxRetries: 3 });
  probe.start();
  assert.equal(probe.onPacket({ kind: 'ERROR', code: 8, message: 'tsize only' }).end?.kind, 'aborted');

  const mid = new ReadTransfer({ data: Buffer.alloc(1000), blksize: 512, oack: undefined, maxRetries: 3 });
  mid.start();
  const end = mid.onPacket({ kind: 'ERROR', code: 8, message: 'late' }).end;
  assert.equal(end?.kind, 'failed');
});

test('packets that make no sense on a read transfer are ignored', () => {
  const t = new ReadTransfer({ data: Buffer.alloc(1000), blksize: 512, oack: undefined, maxRetries: 3 });
  t.start();
  assert.deepEqual(t.onPacket({ kind: 'DATA', block: 1, data: Buffer.alloc(0) }), { ignored: 'unexpected_opcode' });
});
